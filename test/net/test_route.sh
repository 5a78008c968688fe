#!/bin/sh
# test_route.sh - ha/route.c and ha/tun.c against the real kernel, driven by
# test/unit/route_tool inside network namespaces this script creates (the
# root namespace is only read, to show it was left alone):
# the tenant's routing state exactly as interface.md lists it, protocol 213
# on every object; idempotent re-install; re-resolution and convergence on
# reload; collisions with foreign objects refused and rolled back; a crash
# (kill -9) removes the TUN device by itself; flush removes every leftover
# of ours and nothing else; proxy ARP and its sysctls; TUN error cases.
# Needs root and `ip netns` (else skips with 77).
set -u

if [ "$(id -u)" -ne 0 ]; then
	echo "test_route: not root, skipping"
	exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
	echo "test_route: no 'ip netns', skipping"
	exit 77
fi

top=$(pwd)
TOOL=${ROUTE_TOOL:-$top/test/unit/route_tool}
if [ ! -x "$TOOL" ]; then
	echo "test_route: $TOOL not built"
	exit 99
fi

HA=mrt-ha-$$
GW=mrt-gw-$$
P=213
dir=$(mktemp -d /tmp/test_route.XXXXXX) || exit 99
pids=

cleanup() {
	exec 4>&- 5>&- 6>&- 2>/dev/null
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$HA" 2>/dev/null
	ip netns del "$GW" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() {	# check DESCRIPTION COMMAND...: pass when COMMAND succeeds
	d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# same DESCRIPTION FILE EXPECTED: FILE holds exactly EXPECTED (a string)
same() {
	printf '%s\n' "$3" >"$dir/expected"
	if cmp -s "$dir/expected" "$2"; then
		ok "$1"
	else
		not_ok "$1"
		echo "# expected:"; sed 's/^/#   /' "$dir/expected"
		echo "# got:"; sed 's/^/#   /' "$2"
	fi
}

rt() { ip netns exec "$HA" "$TOOL" "$@"; }
# expect_fail DESCRIPTION PATTERN route_tool-args...: exit 1 and PATTERN
# in the message
expect_fail() {
	d=$1; pat=$2; shift 2
	rt "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$pat" "$dir/err"; then
		ok "$d"
	else
		not_ok "$d (exit $rc)"
		sed 's/^/#   /' "$dir/err"
	fi
}

# Our objects, as ip shows them (sorted; trailing blanks dropped).
own_routes() {
	ip -n "$HA" route show table all | grep -w "proto $P" |
	    sed 's/ *$//' | sort >"$dir/routes"
}
own_rules() {
	ip -n "$HA" rule show | grep -w "proto $P" | sed 's/ *$//' \
	    >"$dir/rules"
}
all_state() {	# everything, ours or not, for before/after comparisons
	{ ip -n "$HA" route show table all; ip -n "$HA" rule show;
	  ip -n "$HA" neigh show proxy; } >"$1"
}

# hold FD NAME route_tool-args...: run route_tool with stdin on a fifo kept
# open through FD, wait for "ready"; its pid goes to $dir/NAME.pid
hold() {
	fd=$1; name=$2; shift 2
	mkfifo "$dir/$name.in"
	ip netns exec "$HA" "$TOOL" "$@" <"$dir/$name.in" \
	    >"$dir/$name.out" 2>"$dir/$name.err" &
	echo $! >"$dir/$name.pid"
	pids="$pids $!"
	eval "exec $fd>\"$dir/$name.in\""
	i=0
	while [ $i -lt 50 ]; do
		grep -q ready "$dir/$name.out" 2>/dev/null && return 0
		kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	sed 's/^/#   /' "$dir/$name.err"
	return 1
}
# release FD NAME: close its stdin, return its exit status
release() {
	eval "exec $1>&-"
	wait "$(cat "$dir/$2.pid")"
}
no_link() { ! ip -n "$HA" link show "$1" >/dev/null 2>&1; }

# The root namespace, read only: must look the same at the end.
ip rule show >"$dir/root.before"
ip route show table all | grep -c -w "proto $P" >>"$dir/root.before"

# --- hosts ---------------------------------------------------------------
# HA reaches the VPN gateway 203.0.113.10 via the router 198.51.100.254.
ip netns add "$HA" || exit 99
ip netns add "$GW" || exit 99
ip -n "$HA" link add veth0 type veth peer name veth1 netns "$GW" || exit 99
ip -n "$HA" link set lo up
ip -n "$HA" addr add 198.51.100.1/24 dev veth0
ip -n "$HA" link set veth0 up
ip -n "$GW" link set lo up
ip -n "$GW" addr add 198.51.100.254/24 dev veth1
ip -n "$GW" addr add 198.51.100.253/24 dev veth1
ip -n "$GW" addr add 203.0.113.10/32 dev lo
ip -n "$GW" link set veth1 up
ip -n "$HA" route add 203.0.113.0/24 via 198.51.100.254 || exit 99

# --- resolve -------------------------------------------------------------
rt get 203.0.113.10 >"$dir/out" 2>&1
same "get: vpn_gateway resolved through main" "$dir/out" \
    "via 198.51.100.254 dev veth0"
expect_fail "get: no route is an error naming the address" \
    "route to 198.18.200.1" get 198.18.200.1

# --- install ---------------------------------------------------------------
check "install tenant a (table 101) holds mip-a" \
    hold 4 a install mip-a 198.18.10.0/24 101 203.0.113.10 1400
ip -n "$HA" -d link show mip-a >"$dir/link" 2>&1
check "mip-a is up" grep -q "[<,]UP[,>]" "$dir/link"
check "mip-a has the tunnel MTU" grep -q "mtu 1400 " "$dir/link"
check "mip-a is a non-persistent TUN without PI" \
    grep -q "tun type tun pi off vnet_hdr off persist off" "$dir/link"
own_routes
same "exactly the tenant's routes, protocol $P" "$dir/routes" \
"198.18.10.0/24 dev mip-a proto $P scope link
203.0.113.10 via 198.51.100.254 dev veth0 table 101 proto $P
unreachable default table 101 proto $P"
own_rules
same "exactly the tenant's rule, protocol $P" "$dir/rules" \
"10000:	from all iif mip-a lookup 101 proto $P"

all_state "$dir/state1"
check "install again (apply): succeeds" \
    rt apply mip-a 198.18.10.0/24 101 203.0.113.10 1400
check "and a third time" rt apply mip-a 198.18.10.0/24 101 203.0.113.10 1400
all_state "$dir/state2"
check "re-install creates no duplicates, changes nothing" \
    cmp -s "$dir/state1" "$dir/state2"

# a tenant table above 255 (RTA_TABLE / FRA_TABLE only)
check "install tenant b (table 70000) holds mip-b" \
    hold 5 b install mip-b 198.18.20.0/24 70000 203.0.113.10 1300
own_routes
same "tenant b's routes sit in table 70000" "$dir/routes" \
"198.18.10.0/24 dev mip-a proto $P scope link
198.18.20.0/24 dev mip-b proto $P scope link
203.0.113.10 via 198.51.100.254 dev veth0 table 101 proto $P
203.0.113.10 via 198.51.100.254 dev veth0 table 70000 proto $P
unreachable default table 101 proto $P
unreachable default table 70000 proto $P"
own_rules
check "tenant b's rule looks up table 70000" \
    grep -q "10000:	from all iif mip-b lookup 70000 proto $P" "$dir/rules"

# --- reload: re-resolution and convergence -------------------------------
ip -n "$HA" route replace 203.0.113.0/24 via 198.51.100.253
check "reload after the main route changed" \
    rt apply mip-a 198.18.10.0/24 101 203.0.113.10 1400
own_routes
check "host route re-resolved via the new next hop" grep -qx \
    "203.0.113.10 via 198.51.100.253 dev veth0 table 101 proto $P" \
    "$dir/routes"
ip -n "$HA" route replace 203.0.113.0/24 via 198.51.100.254
check "reload with another vpn_gateway" \
    rt apply mip-a 198.18.10.0/24 101 203.0.113.11 1400
own_routes
grep -w "table 101" "$dir/routes" >"$dir/t101"
same "the old host route is gone, no gap in table 101" "$dir/t101" \
"203.0.113.11 via 198.51.100.254 dev veth0 table 101 proto $P
unreachable default table 101 proto $P"
check "back to the first vpn_gateway" \
    rt apply mip-a 198.18.10.0/24 101 203.0.113.10 1400
all_state "$dir/state3"
check "state as after the first install" sh -c \
    "grep -v mip-b '$dir/state1' >'$dir/s1'; grep -v 'mip-b\|70000\|198.18.20' '$dir/state3' >'$dir/s3'; cmp -s '$dir/s1' '$dir/s3'"

# --- collisions with objects that are not ours ------------------------------
check "hold a bare TUN mip-c" hold 6 c tun mip-c
ip -n "$HA" route add unreachable default table 102 proto static
expect_fail "a foreign route in the way is refused, not replaced" \
    "protocol 4 (not mipha's $P) is in the way" \
    apply mip-c 198.18.30.0/24 102 203.0.113.10 1400
check "the foreign route is untouched" sh -c \
    "ip -n $HA route show table 102 | grep -qx 'unreachable default proto static *'"
own_routes; own_rules
check "rolled back: nothing of ours for table 102 or mip-c" sh -c \
    "! grep -q 'table 102\|mip-c\|198.18.30' '$dir/routes' '$dir/rules'"
ip -n "$HA" route del unreachable default table 102 proto static
ip -n "$HA" rule add iif mip-c lookup 103 pref 10000 proto static
expect_fail "a foreign identical rule is refused" \
    "exists with protocol 4" apply mip-c 198.18.30.0/24 103 203.0.113.10 1400
own_routes
check "rolled back: no routes of ours in table 103" \
    sh -c "! grep -q 'table 103\|198.18.30' '$dir/routes'"
ip -n "$HA" rule del iif mip-c lookup 103 pref 10000
check "without the foreign objects the install succeeds" \
    rt apply mip-c 198.18.30.0/24 103 203.0.113.10 1400
check "remove takes all of tenant c's state" \
    rt remove mip-c 198.18.30.0/24 103 203.0.113.10
own_routes; own_rules
check "nothing of tenant c remains" \
    sh -c "! grep -q 'table 103\|mip-c\|198.18.30' '$dir/routes' '$dir/rules'"
check "remove again is fine" rt remove mip-c 198.18.30.0/24 103 203.0.113.10
check "closing mip-c's descriptor" release 6 c
check "removes the device" no_link mip-c
all_state "$dir/state4"
ip -n "$HA" route add unreachable default table 104 proto static
expect_fail "a reload that fails (foreign route in the new table)" \
    "in the way" apply mip-a 198.18.10.0/24 104 203.0.113.10 1400
ip -n "$HA" route del unreachable default table 104 proto static
all_state "$dir/state5"
check "leaves the working tenant as it was" cmp -s "$dir/state4" "$dir/state5"
expect_fail "vpn_gateway routed into the tenant's own device is refused" \
    "home network" apply mip-a 198.18.10.0/24 101 198.18.10.77 1400
expect_fail "a reserved table is refused" "table 254 is reserved" \
    apply mip-a 198.18.10.0/24 254 203.0.113.10 1400

# --- crash ------------------------------------------------------------------
apid=$(cat "$dir/a.pid")
check "the holder is route_tool itself" \
    grep -q route_tool "/proc/$apid/comm"
kill -9 "$apid"
wait "$apid" 2>/dev/null
check "after kill -9 the TUN device is gone" no_link mip-a
own_routes
check "and the kernel took the main route with it" \
    sh -c "! grep -q 198.18.10.0/24 '$dir/routes'"
check "table 101 leftovers remain" grep -q "unreachable default table 101" \
    "$dir/routes"
own_rules
check "the rule remains, detached" grep -q "iif mip-a \[detached\] lookup 101" \
    "$dir/rules"

# --- flush ------------------------------------------------------------------
ip -n "$HA" route add 198.18.99.0/24 via 198.51.100.254 table 101 proto static
ip -n "$HA" route add 198.18.98.0/24 via 198.51.100.254 proto static
ip -n "$HA" route add 198.18.97.0/24 via 198.51.100.254 table 70000
ip -n "$HA" rule add iif foreign0 lookup 101 pref 10000 proto static
ip -n "$HA" neigh add proxy 198.18.10.6 dev veth0
check "proxy add" rt proxy add veth0 198.18.10.5
own_routes; own_rules
nown=$(($(wc -l <"$dir/routes") + $(wc -l <"$dir/rules") + 1))
all_state "$dir/before_flush"
rt flush >"$dir/out" 2>&1
same "flush removes every object of ours ($nown)" "$dir/out" "flushed $nown"
own_routes; own_rules
check "no route of protocol $P remains" test ! -s "$dir/routes"
check "no rule of protocol $P remains" test ! -s "$dir/rules"
ip -n "$HA" neigh show proxy >"$dir/proxy"
check "no proxy entry of ours remains" sh -c \
    "! grep -q 198.18.10.5 '$dir/proxy'"
all_state "$dir/after_flush"
grep -v -w "proto $P" "$dir/before_flush" >"$dir/foreign_before"
check "everything else survived, unchanged" \
    cmp -s "$dir/foreign_before" "$dir/after_flush"
check "foreign route in our table survived" grep -q \
    "198.18.99.0/24 via 198.51.100.254 dev veth0 table 101 proto static" \
    "$dir/after_flush"
check "foreign rule at our priority survived" grep -q \
    "10000:	from all iif foreign0 \[detached\] lookup 101 proto static" \
    "$dir/after_flush"
check "foreign proxy entry survived" grep -q "198.18.10.6 dev veth0 proxy" \
    "$dir/proxy"
rt flush >"$dir/out" 2>&1
same "a second flush finds nothing" "$dir/out" "flushed 0"
check "tenant b still holds its device after the flush" sh -c \
    "ip -n $HA link show mip-b >/dev/null"
check "tenant b's remove after a flush succeeds" release 5 b
check "and its device is gone" no_link mip-b

# --- proxy ARP and sysctls ----------------------------------------------------
check "proxy add" rt proxy add veth0 198.18.10.7
check "proxy add again" rt proxy add veth0 198.18.10.7
ip -n "$HA" neigh show proxy | grep 198.18.10.7 | sed 's/ *$//' >"$dir/proxy"
same "one proxy entry, protocol $P" "$dir/proxy" \
    "198.18.10.7 dev veth0 proxy proto $P"
check "proxy del" rt proxy del veth0 198.18.10.7
check "is gone" sh -c "! ip -n $HA neigh show proxy | grep -q 198.18.10.7"
check "proxy del again" rt proxy del veth0 198.18.10.7
expect_fail "proxy on a missing device names it" "link nosuch" \
    proxy add nosuch 198.18.10.7
ip netns exec "$HA" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/all/send_redirects'
check "proxy-delay" rt proxy-delay veth0
check "proxy_delay is 0" test "$(ip netns exec "$HA" \
    cat /proc/sys/net/ipv4/neigh/veth0/proxy_delay)" = 0
check "no-redirects" rt no-redirects veth0
check "send_redirects 0 on veth0 and all" test "$(ip netns exec "$HA" cat \
    /proc/sys/net/ipv4/conf/veth0/send_redirects \
    /proc/sys/net/ipv4/conf/all/send_redirects | tr -d '\n')" = 00
expect_fail "no-redirects rejects a path in the name" "interface" \
    no-redirects ../all

# --- links, routes, TUN errors ------------------------------------------------
check "link mtu" rt link veth0 keep 1280
check "shows" sh -c "ip -n $HA link show veth0 | grep -q 'mtu 1280 '"
check "link down" rt link veth0 down
check "shows" sh -c "! ip -n $HA link show veth0 | grep -q '[<,]UP[,>]'"
check "link up, mtu back" rt link veth0 up 1500
expect_fail "link on a missing device names it" "link nosuch" \
    link nosuch up
expect_fail "route with host bits set is refused" "host bits" \
    route add 70001 198.18.40.1/24 unreachable
check "route add dev" rt route add 70001 198.18.40.0/24 dev veth0
check "route add again" rt route add 70001 198.18.40.0/24 dev veth0
check "route replaced by another kind" rt route add 70001 198.18.40.0/24 \
    unreachable
own_routes
same "one route" "$dir/routes" "unreachable 198.18.40.0/24 table 70001 proto $P"
check "route del" rt route del 70001 198.18.40.0/24
check "route del again" rt route del 70001 198.18.40.0/24
check "rule add for a device that does not exist yet" rt rule add mip-z 70002
check "rule add again" rt rule add mip-z 70002
own_rules
check "one rule" test "$(wc -l <"$dir/rules")" -eq 1
check "rule del" rt rule del mip-z 70002
check "rule del again" rt rule del mip-z 70002
expect_fail "tun on a veth is refused" "not a matching TUN" tun veth0
expect_fail "tun with a too long name" "invalid device name" \
    tun mip-0123456789abcdef
check "hold mip-v with vnet header" hold 6 v tun mip-v vnet
check "mip-v has vnet_hdr on" sh -c \
    "ip -n $HA -d link show mip-v | grep -q 'vnet_hdr on'"
expect_fail "a TUN held by another process is refused" "held by another" \
    tun mip-v
check "release mip-v" release 6 v
check "mip-v is gone" no_link mip-v

# --- the root namespace -----------------------------------------------------
ip rule show >"$dir/root.after"
ip route show table all | grep -c -w "proto $P" >>"$dir/root.after"
check "the root namespace's rules are as before, no route of ours" \
    cmp -s "$dir/root.before" "$dir/root.after"

echo "1..$n"
[ "$fails" -eq 0 ]
