#!/bin/sh
# Cross-check the registration codec with scapy (Debian python3-scapy).
# Skips (77) only when scapy is not installed; CI installs it.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import scapy.layers.mobileip' 2>/dev/null; then
	echo "SKIP: python3-scapy not installed"
	exit 77
fi
srcdir=${srcdir:-$(dirname "$0")/../..}
exec "$PY" "$srcdir/test/unit/scapy_xcheck.py" "${MSGTOOL:-./test/unit/msgtool}"
