#!/bin/sh
# man/lint.sh - `mandoc -Tlint -W warning` on every manual page made from a
# man/*.in file (see man/man.am). Run from the build directory, as
# `make check` does; the pages must have been made (`make`). Fails when
# mandoc says anything at all, or a page is missing; skips (77) only when
# mandoc is not installed.
#
# MANDOC overrides the mandoc found in PATH.

case $0 in
*/*)	srcdir=${0%/*} ;;
*)	srcdir=. ;;
esac
builddir='man'

mandoc=${MANDOC:-$(command -v mandoc 2>/dev/null)}
if [ -z "$mandoc" ]; then
	echo "SKIP: mandoc is not installed"
	exit 77
fi

st=0
n=0
for src in "$srcdir"/*.in; do
	[ -e "$src" ] || continue
	page=${src##*/}
	page=$builddir/${page%.in}
	n=$((n + 1))
	if [ ! -f "$page" ]; then
		echo "FAIL: $page has not been made from $src (run make)"
		st=1
		continue
	fi
	out=$("$mandoc" -Tlint -W warning "$page" 2>&1)
	rc=$?
	if [ -n "$out" ] || [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out"
		echo "FAIL: $page (mandoc exit status $rc)"
		st=1
	else
		echo "ok: $page"
	fi
done
if [ "$n" -eq 0 ]; then
	echo "FAIL: no man/*.in files in $srcdir"
	st=1
fi
exit $st
