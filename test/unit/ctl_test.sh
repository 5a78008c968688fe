#!/bin/sh
# ctl_test.sh - miphactl against ctl_testd (ha/control.c with stub handlers):
# every exit status, malformed requests on the raw socket, a 100,000-row
# body arriving complete, JSON checked by a real parser, socket file
# handling (stale, in use, removed at exit).
set -u

top=$(pwd)
CTL="$top/ha/miphactl"
TESTD="$top/test/unit/ctl_testd"
PY=${PYTHON3:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
	echo "ctl_test: python3 not found, skipping"
	exit 77
fi

dir=$(mktemp -d /tmp/ctl_test.XXXXXX) || exit 99
sock="$dir/run/mipha.sock"
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() {	# check DESCRIPTION COMMAND...: pass when COMMAND succeeds
	d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# expect_exit STATUS DESCRIPTION miphactl-args...; output in $dir/out, $dir/err
expect_exit() {
	want=$1; d=$2; shift 2
	"$CTL" "$@" >"$dir/out" 2>"$dir/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$d (exit $got)"
	else
		not_ok "$d: exit $got, want $want"
		sed 's/^/#   stderr: /' "$dir/err"
	fi
}

json_ok() {	# json_ok FILE [PYTHON-EXPRESSION over d]
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
if len(sys.argv) > 2 and not eval(sys.argv[2]):
    sys.exit("assertion failed: " + sys.argv[2])
' "$@"
}

start_testd() {
	"$TESTD" "$@" "$sock" 2>"$dir/testd.err" &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		"$CTL" -s "$sock" show stats >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

raw() {		# raw PYTHON-BYTES: send them, print the reply
	"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode("latin-1"))
' "$sock" "$1"
}

# --- no daemon: usage errors come first, then exit 3 -------------------
expect_exit 2 "no command" -s "$sock"
grep -q "^usage: miphactl" "$dir/err" && ok "usage printed" || not_ok "usage printed"
expect_exit 2 "unknown command" -s "$sock" frobnicate
grep -q "unknown command 'frobnicate'" "$dir/err" && ok "names the command" || not_ok "names the command"
expect_exit 2 "show without what" -s "$sock" show
expect_exit 2 "extra argument" -s "$sock" show stats now
expect_exit 2 "bad HOA" -s "$sock" clear binding 198.18.10
expect_exit 2 "unknown option" -s "$sock" -x show stats
expect_exit 2 "-h" -h
expect_exit 2 "socket path too long" -s "$dir/$(printf '%0200d' 0)" show stats
expect_exit 3 "no daemon" -s "$sock" show stats
grep -q "cannot connect to $sock" "$dir/err" && ok "names the socket" || not_ok "names the socket: $(cat "$dir/err")"

# A stale socket file (daemon killed) is replaced.
check "testd starts, creates the directory" start_testd -t 1 -i 2
check "socket mode 0660" test "$(stat -c %a "$sock")" = 660
check "directory mode 0750" test "$(stat -c %a "$dir/run")" = 750
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
check "stale socket left behind" test -S "$sock"
expect_exit 3 "stale socket: no daemon" -s "$sock" show stats
check "testd replaces a stale socket" start_testd -t 1 -i 2

# A second daemon on a live socket refuses to start and leaves it alone.
"$TESTD" "$sock" 2>"$dir/err2"
check "second daemon refused (exit 3)" test $? -eq 3
check "... saying why" grep -q "another daemon is listening" "$dir/err2"
check "... socket still there" test -S "$sock"

# A regular file is never removed.
: >"$dir/file"
"$TESTD" "$dir/file" 2>"$dir/err2"
check "not a socket: refused" test $? -eq 3
check "... file kept" test -f "$dir/file"

# --- exit 0 ------------------------------------------------------------
expect_exit 0 "show bindings --json" -s "$sock" --json show bindings
check "bindings JSON parses, 3 elements, spec fields" json_ok "$dir/out" \
    'len(d) == 3 and d[1]["nai"] is None and d[0]["care_of_address"] == "198.51.100.20" and d[0]["reverse_tunnel"] is True and d[2]["remaining"] == 300 and set(d[0]) >= {"tenant","home_address","care_of_address","source_address","nai","lifetime","remaining","encapsulation","reverse_tunnel","via_fa"}'
expect_exit 0 "options after the command" -s "$sock" show bindings acme --json
check "tenant filter" json_ok "$dir/out" 'len(d) == 2 and all(b["tenant"] == "acme" for b in d)'
expect_exit 0 "show bindings (text)" -s "$sock" show bindings
check "text: header and 3 rows" test "$(wc -l <"$dir/out")" -eq 4
check "text: header" grep -q "^tenant  home_address  care_of_address  source_address  nai  *lifetime  remaining  encapsulation  reverse_tunnel  via_fa$" "$dir/out"
check "text: aligned" sh -c "awk '{ print index(\$0, \$5) }' '$dir/out' | sort -u | wc -l | grep -qx 1"
expect_exit 0 "show tenants --json" -s "$sock" --json show tenants
check "tenants JSON" json_ok "$dir/out" \
    'len(d) == 2 and d[0]["home_network"] == "198.18.10.0/24" and {"name","table","vpn_gateway","home_network","policy","bindings"} <= set(d[0])'
expect_exit 0 "show stats --json" -s "$sock" --json show stats
check "stats JSON" json_ok "$dir/out" \
    'd["registrations_denied"] == {"131": 4, "133": 1} and d["packets_dropped"]["no-binding"] == 7 and d["registrations_accepted"] == 15'
expect_exit 0 "show stats (text)" -s "$sock" show stats
check "stats text" grep -qx "registrations_denied.131: 4" "$dir/out"
expect_exit 0 "clear binding" -s "$sock" clear binding 198.18.10.5 acme
check "clear: empty body" test ! -s "$dir/out"

# Every byte value in a string: valid JSON that decodes as documented.
expect_exit 0 "strings with all bytes" -s "$sock" --json show bindings bytes
check "all-bytes JSON decodes" json_ok "$dir/out" \
    'd[0]["nai"] == bytes(range(1, 256)).decode("latin-1") and d[0]["tenant"] == "Z\u00fcrich \u2713 \U0001F600"'
expect_exit 0 "strings with all bytes (text)" -s "$sock" show bindings bytes
check "text has no control characters" "$PY" -c '
import sys
b = open(sys.argv[1], "rb").read()
sys.exit(any(c < 0x20 and c != 0x0a or c == 0x7f for c in b))
' "$dir/out"

# --- exit 1 ------------------------------------------------------------
expect_exit 1 "handler error" -s "$sock" show bindings nosuch
check "error message on stderr" grep -qx "miphactl: no such tenant 'nosuch'" "$dir/err"
check "... nothing on stdout" test ! -s "$dir/out"
expect_exit 1 "clear of a missing binding" -s "$sock" clear binding 198.18.10.6
check "... says so" grep -q "no binding for 198.18.10.6" "$dir/err"
expect_exit 1 "command without a handler" -s "$sock" reload
check "... says so" grep -q "'reload' is not available" "$dir/err"
expect_exit 1 "handler misusing the emitter" -s "$sock" --json show bindings bad
check "... says so" grep -q "unclosed" "$dir/err"

# --- large bodies ---------------------------------------------------------
expect_exit 0 "100,000 rows --json" -s "$sock" --json show bindings big
check "100,000 rows JSON complete" json_ok "$dir/out" \
    'len(d) == 100000 and d[-1]["home_address"] == "198.19.134.159" and d[99998]["nai"] == "mn99998@big.example" and d[99999]["nai"] is None'
expect_exit 0 "100,000 rows text" -s "$sock" show bindings big
check "100,000 rows text complete" test "$(wc -l <"$dir/out")" -eq 100001
check "last row" sh -c "tail -n 1 '$dir/out' | grep -q '^big  *198.19.134.159 '"

# Twelve clients at once (more than CONTROL_MAX_CLIENTS): all complete.
i=0; pids=
while [ $i -lt 12 ]; do
	"$CTL" -s "$sock" --json show bindings big >"$dir/par$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
wait_ok=0
for j in $pids; do wait "$j" || wait_ok=1; done
check "12 parallel clients exit 0" test $wait_ok -eq 0
i=0; par_ok=0
while [ $i -lt 12 ]; do json_ok "$dir/par$i" 'len(d) == 100000' || par_ok=1; i=$((i + 1)); done
check "12 parallel clients got all rows" test $par_ok -eq 0

# A client that stops reading a big reply is dropped (idle 2 s); the
# daemon keeps serving meanwhile.
"$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"MIPHA1 json show bindings mid\n")
time.sleep(5)
got = 0
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
except ConnectionResetError:
    pass
sys.exit(0 if 0 < got < 2000000 else "got %d bytes" % got)
' "$sock" &
slow=$!
sleep 0.5
expect_exit 0 "served while a client stalls" -s "$sock" show stats
wait $slow
check "stalled client cut off" test $? -eq 0

# --- malformed requests on the raw socket ----------------------------------
r=$(raw 'b"HELLO\n"');                      check "garbage: ERR" test "$r" = "ERR not a mipha control request"
r=$(raw 'b"MIPHA1 json show stats"');       check "no newline + EOF: ERR" test "$r" = "ERR incomplete request (no newline)"
r=$(raw 'b"MIPHA1 yaml show stats\n"');     check "bad format: ERR" test "$r" = "ERR unknown output format 'yaml'"
r=$(raw 'b"MIPHA1 json show\x00stats\n"');  check "NUL byte: ERR" test "$r" = "ERR request contains byte 0x00 at offset 16"
r=$(raw 'b"MIPHA1 json " + b"x" * 3000 + b"\n"'); check "overlong: ERR" test "$r" = "ERR request longer than 1024 bytes"
r=$(raw 'b"MIPHA1 text show stats\nMIPHA1 text reload\n"'); check "only the first request counts" sh -c "printf '%s\n' \"\$1\" | head -1 | grep -qx OK" - "$r"
r=$(raw 'b""');                             check "connect and leave: closed silently" test -z "$r"
# A client that sends part of a line and then nothing gets a timeout (1 s).
r=$("$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"MIPHA1 te")
sys.stdout.write(s.recv(4096).decode())
' "$sock")
check "request timeout: ERR" test "$r" = "ERR timeout waiting for the request"
expect_exit 0 "still alive after all that" -s "$sock" --json show stats
check "requests were counted" json_ok "$dir/out" 'd["control_requests"] > 20'

# --- clean shutdown ----------------------------------------------------------
kill -TERM "$pid"; wait "$pid"; st=$?; pid=
check "testd exits 0 on SIGTERM (no leaks under ASan)" test $st -eq 0
check "socket removed at exit" test ! -e "$sock"
test -s "$dir/testd.err" && sed 's/^/#   testd: /' "$dir/testd.err"

echo "1..$n"
[ $fails -eq 0 ]
