#!/bin/sh
# test/config/run.sh - `mipha -n` against good and bad configurations.
#
# good/<case>/mipha.conf (and the shipped sample etc/mipha.conf) must be
# accepted: exit 0.  bad/<case>/mipha.conf must be refused with exit 1
# and exactly the lines of bad/<case>/stderr.ok on stderr.  mipha runs
# inside the case directory with `-f mipha.conf`, so the messages name
# the files as mipha.conf and tenants.d/NAME.conf wherever the tree is
# (VPATH builds included).  Usage errors must exit 2.
#
# Run by `make check`; alone: srcdir=SRC MIPHA=BUILD/ha/mipha run.sh
# To see what a new case prints: cd bad/CASE && mipha -n -f mipha.conf

srcdir=${srcdir:-.}
MIPHA=${MIPHA:-./ha/mipha}
case $MIPHA in
/*) ;;
*) MIPHA=$(pwd)/$MIPHA ;;
esac
if [ ! -x "$MIPHA" ]; then
	echo "no mipha binary at $MIPHA" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mipha-conftest.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $1"; }
notok() { fail=$((fail + 1)); echo "FAIL: $1"; }

# expect_rc NAME RC COMMAND...: exit status RC; stderr kept in $tmp/err.
expect_rc() {
	rc_name=$1 rc_want=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$rc_want" ]; then
		return 0
	fi
	notok "$rc_name: exit $rc, expected $rc_want"
	sed 's/^/	stderr: /' "$tmp/err"
	return 1
}

# The shipped sample, opened by its path as given.
if expect_rc "sample etc/mipha.conf" 0 "$MIPHA" -n -f "$srcdir/etc/mipha.conf"
then
	ok "sample etc/mipha.conf"
fi

for d in "$srcdir"/test/config/good/*/; do
	name=good/$(basename "$d")
	# shellcheck disable=SC2016 # $1 and $2 are for the inner sh
	if expect_rc "$name" 0 sh -c 'cd "$1" && exec "$2" -n -f mipha.conf' \
	    sh "$d" "$MIPHA"; then
		ok "$name"
	fi
done

for d in "$srcdir"/test/config/bad/*/; do
	name=bad/$(basename "$d")
	if [ ! -f "$d/stderr.ok" ]; then
		notok "$name: no stderr.ok"
		continue
	fi
	# shellcheck disable=SC2016 # $1 and $2 are for the inner sh
	expect_rc "$name" 1 sh -c 'cd "$1" && exec "$2" -n -f mipha.conf' \
	    sh "$d" "$MIPHA" || continue
	if diff -u "$d/stderr.ok" "$tmp/err" >"$tmp/diff"; then
		ok "$name"
	else
		notok "$name: stderr differs from stderr.ok"
		cat "$tmp/diff"
	fi
done

# A file that is not there: a configuration error, the path as given.
if expect_rc "missing file" 1 "$MIPHA" -n -f "$tmp/none/mipha.conf"; then
	if [ "$(cat "$tmp/err")" = \
	    "$tmp/none/mipha.conf: cannot open: No such file or directory" ]
	then
		ok "missing file"
	else
		notok "missing file: unexpected message"
		cat "$tmp/err"
	fi
fi

# Usage errors: exit 2 and the usage line, nothing parsed.
usage_case() {
	uname="usage error, $1"
	shift
	if expect_rc "$uname" 2 "$MIPHA" "$@"; then
		if grep -q '^usage: mipha \[-d\] \[-n\] \[-f FILE\] \[-p PIDFILE\] \[-v\]\.\.\.$' \
		    "$tmp/err"; then
			ok "$uname"
		else
			notok "$uname: no usage line"
			cat "$tmp/err"
		fi
	fi
}
usage_case "unknown option" -n -x -f "$srcdir/etc/mipha.conf"
usage_case "missing -f argument" -n -f
usage_case "missing -p argument" -p
usage_case "extra argument" -n -f "$srcdir/etc/mipha.conf" extra
usage_case "help" -h

# -d, -p and repeated -v are accepted with -n.
if expect_rc "all options" 0 "$MIPHA" -d -n -v -v -p "$tmp/pid" \
    -f "$srcdir/etc/mipha.conf"; then
	ok "all options"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
