#!/bin/bash
# test/net/run.sh TEST.py [ARGS]: run one namespace test.
#
# Skips (77) only when not root or network namespaces are unavailable.
# Builds the namespaces of lib.sh, runs TEST.py with Debian's python3 (its
# environment names the namespaces, the programs and a scratch directory),
# and removes everything again on any exit (trap in lib.sh).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

test_py=$1
shift
case $test_py in
/*) ;;
*) [ -f "$test_py" ] || test_py=$here/$(basename "$test_py") ;;
esac

mipt_require
mipt_find_programs
mipt_setup
export MIPT_SRCDIR=$(cd "$here/../.." && pwd)
export PYTHONDONTWRITEBYTECODE=1
# In the background, so that a signal reaches our trap at once; the trap
# ends the test process too (MIPT_CHILD).
"$PY" "$test_py" "$@" &
MIPT_CHILD=$!
wait "$MIPT_CHILD"
rc=$?
MIPT_CHILD=""
exit "$rc"
