#!/bin/sh
# dp_run.sh - the data-plane benchmark ("make bench-dp"; needs root).
#
# One run, one namespace topology, the kernel's own IP forwarding of the
# same traffic as the ceiling and mipha's encapsulation (forward) and
# decapsulation (reverse tunnel) paths next to it:
#
#   MN 198.51.100.20 --- 198.51.100.1 HA 203.0.113.1 --- 203.0.113.10 GW
#   (co-located CoA)     (mipha, ip_forward=1)           (VPN gateway)
#
# mipha runs in HA with one tenant, home network 198.18.10.0/24,
# vpn_gateway GW; the MN registers home address 198.18.10.5 with its
# co-located care-of address and reverse tunnelling (D and T set).
# GW and MN also have plain routes to each other's link through HA: that
# traffic never touches mipha and is the kernel-forwarding ceiling.
#
# Small packets (60-octet frames; test/bench/dp_gen, self-throttling
# generator and recvmmsg sink, figures are what the sink counted):
#   kernel GW->MN   UDP 203.0.113.10 -> 198.51.100.20, routed by HA
#   mipha  encap    UDP 203.0.113.10 -> 198.18.10.5 (HoA): HA's TUN,
#                   mipha, IP-in-IP to the CoA; the MN's sink counts
#                   IP-in-IP on a raw protocol-4 socket
#   kernel MN->GW   UDP 198.51.100.20 -> 203.0.113.10, routed by HA
#   mipha  decap    IP-in-IP 198.51.100.20 -> 198.51.100.1 around UDP
#                   198.18.10.5 -> 203.0.113.10; GW's sink counts
# each under policy "open", then the same with ESP (protocol 50) under
# policy "vpn-only" (mipha restarted with that tenant policy).
# One TCP stream (iperf3): GW -> MN plain (ceiling) against GW -> HoA
# through mipha, and both reversed (-R); the iperf3 server listens on the
# HoA. The kernels here have no ipip module, so during the TCP runs only
# the MN ends the tunnel with tc programs on its veth m0
# (test/bench/mn_tunnel.bpf.c, kernel speed, GSO intact): egress
# encapsulates what the HoA (on lo) sends, CoA -> HA (the rule "from HoA"
# routes it via HA with route MTU 1480), ingress decapsulates IP-in-IP
# from HA around datagrams for the HoA. They are detached for the
# small-packet runs, whose sink counts IP-in-IP on a raw socket.
# DP_MNSTACK_USER=1 ends it in userspace instead, as before:
# test/bench/dp_mnstack (raw IP-in-IP socket <-> a TUN device holding the
# HoA), which caps TCP at 1-2 Gbit/s.
# A raw socket - mipha's userspace path, dp_mnstack - reads a veth packet
# as it was sent: TSO super-packets and unfinished (CHECKSUM_PARTIAL)
# checksums included. So for mipha's TCP runs only, the veth sending into
# such a reader has checksum offload (and with it TSO) turned off, and its
# kernel finishes and segments every packet: m0 when the tc endpoint
# talks to a mipha without its fast path, h0 (in HA) when dp_mnstack
# listens to a mipha with it. mipha's fast path and the tc endpoint take
# super-packets as the kernel does, so then all offloads stay, as in the
# kernel-forwarding runs.
# The MN side shares the CPUs, so a TCP figure with mipha's CPU well below
# 100% is limited by the test bed, not by mipha.
#
# CPUs: mipha on HA_CPU (0), generators and the iperf3 client on GEN_CPU
# (1), sinks on SINK_CPU (0), the iperf3 server (and dp_mnstack) on
# MN_CPU (1). Kernel and mipha are measured back to back in each of
# DP_ROUNDS rounds; the ratio judged against the goal is the median of the
# rounds' ratios, the rates shown are each path's best round; "mipha cpu"
# is the daemon's CPU time over the generator's run (warm-up included),
# median.
#
# With 2 CPUs the test bed shares them with the path under test: the
# sink on CPU 0 takes time from mipha, on CPU 1 from the generator (the
# kernel path's bottleneck): SINK_CPU=1 gave ratios of 0.8-1.2 where 0
# gave 0.5-0.6. The default, 0, is the placement least kind to mipha.
#
# Environment: DP_ROUNDS (3), DP_SECS (3, measured seconds per small-packet
# run), DP_WARM (1), DP_WINDOW (256 datagrams in flight: the tenant TUN
# queue holds 500, a larger window overruns it), DP_BATCH (32, sendmmsg
# batch), DP_TCP_SECS (5), DP_TCP=0 skips TCP, DP_SMALL=0 the small-packet
# runs, DP_VPN=0 the vpn-only runs; DP_FASTPATH=0 runs mipha without its
# tc fast path (mipha.conf fastpath = false: the userspace data plane);
# DP_MNSTACK_USER=1 ends the MN's tunnel in userspace (dp_mnstack);
# DP_PROFILE=1 records mipha with perf (cpu-clock) during extra runs of
# each path and prints where its time goes; DP_QUIET (10) and
# DP_QUIET_WAIT (40): before each measurement wait up to DP_QUIET_WAIT
# times ~0.8 s for the CPUs to be below DP_QUIET percent busy; DP_KEEP=1
# keeps the work directory; HA_CPU, GEN_CPU, SINK_CPU, MN_CPU ("any":
# unpinned); MIPHA, MIPHACTL, DP_GEN, DP_MNSTACK, DP_MNBPF
# (mn_tunnel.bpf.o), PYTHON3, IPERF3 (paths).
# Called by make with top_builddir and srcdir set.
set -eu

top_builddir=${top_builddir:-.}
MIPHA=${MIPHA:-$top_builddir/ha/mipha}
MIPHACTL=${MIPHACTL:-$top_builddir/ha/miphactl}
DP_GEN=${DP_GEN:-$top_builddir/test/bench/dp_gen}
DP_MNSTACK=${DP_MNSTACK:-$top_builddir/test/bench/dp_mnstack}
DP_MNBPF=${DP_MNBPF:-$top_builddir/test/bench/mn_tunnel.bpf.o}
MNSTACK_USER=${DP_MNSTACK_USER:-0}
if [ "${DP_FASTPATH:-1}" = 0 ]; then FASTPATH_CONF=false
else FASTPATH_CONF=true; fi
PYTHON3=${PYTHON3:-python3}
IPERF3=${IPERF3:-iperf3}
ROUNDS=${DP_ROUNDS:-3}
SECS=${DP_SECS:-3}
WARM=${DP_WARM:-1}
WINDOW=${DP_WINDOW:-256}
BATCH=${DP_BATCH:-32}
TCP_SECS=${DP_TCP_SECS:-5}
HA_CPU=${HA_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
SINK_CPU=${SINK_CPU:-0}
MN_CPU=${MN_CPU:-1}
QUIET=${DP_QUIET:-10}
QUIET_WAIT=${DP_QUIET_WAIT:-40}
# taskset for the MN's processes ("any": let the scheduler place them)
if [ "$MN_CPU" = any ]; then MN_PIN=; else MN_PIN="taskset -c $MN_CPU"; fi

# MN, HA and HOA are compiled into mn_tunnel.bpf.c too.
MN=198.51.100.20
HA=198.51.100.1
HA2=203.0.113.1
GW=203.0.113.10
HOA=198.18.10.5
HOMENET=198.18.10.0/24
SPI=1000
KEY=00112233445566778899aabbccddeeff
P=mdp$$
NMN=$P-mn
NHA=$P-ha
NGW=$P-gw

die() { echo "dp_run.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for p in "$MIPHA" "$MIPHACTL" "$DP_GEN" "$DP_MNSTACK"; do
	[ -x "$p" ] || die "$p not built"
done
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (mipha on one, load on the other)"
command -v "$PYTHON3" >/dev/null || die "$PYTHON3 not found"
TCP=${DP_TCP:-1}
SMALL=${DP_SMALL:-1}
if [ "$TCP" = 1 ] && ! command -v "$IPERF3" >/dev/null; then
	echo "dp_run.sh: no $IPERF3: skipping TCP (apt-get install iperf3)" >&2
	TCP=0
fi
if [ "$TCP" = 1 ]; then
	command -v ethtool >/dev/null ||
	    die "ethtool not found (apt-get install ethtool)"
	if [ "$MNSTACK_USER" != 1 ]; then
		[ -r "$DP_MNBPF" ] || die "$DP_MNBPF not built"
		command -v tc >/dev/null || die "tc (iproute2) not found"
	fi
fi
PROFILE=${DP_PROFILE:-0}
if [ "$PROFILE" = 1 ] && ! perf record -e cpu-clock -o /dev/null true \
    >/dev/null 2>&1; then
	echo "dp_run.sh: perf record does not work here: no profile" >&2
	PROFILE=0
fi

WORK=$(mktemp -d /tmp/mipha-dp.XXXXXX)
MIPHA_PID=
MNSTACK_PID=
FASTPATH=0
BG_PIDS=
cleanup() {
	for pid in $BG_PIDS $MNSTACK_PID $MIPHA_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $BG_PIDS $MNSTACK_PID $MIPHA_PID; do
		wait "$pid" 2>/dev/null || true
	done
	for n in $NMN $NHA $NGW; do
		ip netns del "$n" 2>/dev/null || true
	done
	if [ "${DP_KEEP:-0}" = 1 ]; then
		echo "dp_run.sh: kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CMDS=$WORK/commands
: >"$CMDS"
# note CMD...: remember a command for the list printed at the end.
note() { echo "  $*" >>"$CMDS"; }
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- topology ----
for n in $NMN $NHA $NGW; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip -n $NMN link add m0 type veth peer name h0 netns $NHA
ip -n $NGW link add g0 type veth peer name h1 netns $NHA
ip -n $NMN addr add $MN/24 dev m0
ip -n $NHA addr add $HA/24 dev h0
ip -n $NHA addr add $HA2/24 dev h1
ip -n $NGW addr add $GW/24 dev g0
ip -n $NMN link set m0 up
ip -n $NHA link set h0 up
ip -n $NHA link set h1 up
ip -n $NGW link set g0 up
# The plain routes (ceiling) and the way to the home network.
ip -n $NGW route add 198.51.100.0/24 via $HA2
ip -n $NGW route add $HOMENET via $HA2
ip -n $NMN route add 203.0.113.0/24 via $HA
# RFC 5944 §4.6: away from home, the MN neither answers ARP for its home
# address nor sends its home address in ARP.
nsx $NMN sysctl -qw net.ipv4.conf.m0.arp_ignore=1 \
    net.ipv4.conf.m0.arp_announce=2
nsx $NHA sysctl -qw net.ipv4.ip_forward=1
for n in $NMN $NHA $NGW; do
	nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
	    net.ipv4.conf.default.rp_filter=0
done

# ---- mipha ----
# write_conf DIR POLICY
write_conf() {
	mkdir -p "$1/tenants.d"
	cat >"$1/mipha.conf" <<EOF
ha: {
	address = "$HA";
	control_socket = "$1/mipha.sock";
	state_dir = "$1/state";
	fastpath = $FASTPATH_CONF;
};
EOF
	cat >"$1/tenants.d/bench.conf" <<EOF
tenant: {
	name = "bench";
	table = 101;
	vpn_gateway = "$GW";
	home_network = "$HOMENET";
	policy = "$2";
	mobile_nodes = (
		{
			home_address = "$HOA";
			spi = $SPI;
			algorithm = "hmac-md5";
			key = "0x$KEY";
		}
	);
};
EOF
	chmod -R go-rwx "$1"
}

# The MN's registration: co-located CoA (D), reverse tunnel (T),
# MN-HA authentication with HMAC-MD5 (RFC 5944 §3.3, §3.5.2).
register() {
	nsx $NMN "$PYTHON3" - "$HOA" "$HA" "$MN" "$SPI" "$KEY" <<'EOF'
import hashlib, hmac, socket, struct, sys, time
hoa, ha, coa, spi, key = sys.argv[1:6]
t = time.time()
ident = (int(t) + 2208988800) << 32 | int((t % 1) * 2**32)
m = struct.pack('!BBH4s4s4sQ', 1, 0x22, 600, socket.inet_aton(hoa),
    socket.inet_aton(ha), socket.inet_aton(coa), ident)
m += struct.pack('!BBI', 32, 20, int(spi))
m += hmac.new(bytes.fromhex(key), m, hashlib.md5).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((coa, 0))
s.settimeout(1)
for _ in range(5):
    s.sendto(m, (ha, 434))
    try:
        r = s.recv(2048)
    except socket.timeout:
        continue
    sys.exit(0 if r[0] == 3 and r[1] in (0, 1) else
        'registration denied, code %d' % r[1])
sys.exit('no registration reply')
EOF
}

# start_mipha POLICY
start_mipha() {
	D=$WORK/$1
	write_conf "$D" "$1"
	ip netns exec $NHA taskset -c $HA_CPU "$MIPHA" -d -f "$D/mipha.conf" \
	    -p "$D/mipha.pid" 2>"$D/mipha.log" &
	MIPHA_PID=$!
	note "ip netns exec HA taskset -c $HA_CPU mipha -d -f $D/mipha.conf"
	i=0
	until ip -n $NHA link show mip-bench >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$D/mipha.log" >&2; die "mipha did not start"; }
		kill -0 $MIPHA_PID 2>/dev/null ||
		    { cat "$D/mipha.log" >&2; die "mipha exited"; }
		sleep 0.1
	done
	register || { cat "$D/mipha.log" >&2; die "registration failed"; }
	note "ip netns exec MN python3 (registration: HoA $HOA CoA $MN, D+T, HMAC-MD5)"
	nsx $NHA "$MIPHACTL" -s "$D/mipha.sock" show bindings | grep -q "$HOA" ||
	    die "no binding for $HOA"
	# Whether its tc fast path is attached (mipha.conf fastpath, and a
	# kernel that refuses it leaves everything to the userspace path).
	if nsx $NHA "$MIPHACTL" -s "$D/mipha.sock" show stats |
	    grep -Eq '^fastpath_interfaces: [1-9]'; then
		FASTPATH=1
	else
		FASTPATH=0
	fi
}

stop_mipha() {
	kill -TERM $MIPHA_PID
	wait $MIPHA_PID || echo "dp_run.sh: mipha exited with $?" >&2
	MIPHA_PID=
}

# Busy share of all CPUs over 0.3 s, in percent.
busy_pct() {
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 0.3
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	echo "$a $b" | awk '{ bu = $3 - $1; id = $4 - $2
	    printf "%d\n", (bu + id > 0 ? 100 * bu / (bu + id) : 0) }'
}

# Other work on the machine (tests, builds) halves figures: wait until
# the CPUs are idle (below DP_QUIET percent) before each measurement.
NOISY=0
wait_quiet() {
	i=0
	while [ "$(busy_pct)" -gt "$QUIET" ]; do
		i=$((i + 1))
		if [ $i -ge "$QUIET_WAIT" ]; then
			NOISY=$((NOISY + 1))
			break
		fi
		sleep 0.5
	done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---- one small-packet measurement ----
# pps NAME SINKNS "SINK ARGS" GENNS "GEN ARGS" [mipha]: sink and
# generator, the sink's rate goes to $WORK/r.NAME (and the daemon's CPU
# share to $WORK/c.NAME when mipha is in the path).
pps() {
	name=$1 sns=$2 sargs=$3 gns=$4 gargs=$5 m=${6:-}
	ctr=$WORK/ctr.$name.$$
	rm -f "$ctr"
	wait_quiet
	# shellcheck disable=SC2086
	ip netns exec "$sns" "$DP_GEN" sink -C "$ctr" -c $SINK_CPU $sargs \
	    2>>"$WORK/sink.log" &
	spid=$!
	BG_PIDS="$BG_PIDS $spid"
	i=0
	while [ ! -s "$ctr" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
	[ -n "$m" ] && c0=$(cpu_ticks $MIPHA_PID)
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	out=$(nsx "$gns" "$DP_GEN" gen -C "$ctr" -c $GEN_CPU -b $BATCH \
	    -W $WINDOW -w $WARM -t $SECS -q $gargs) || die "generator failed"
	if [ -n "$m" ]; then
		c1=$(cpu_ticks $MIPHA_PID)
		awk -v a=$c0 -v b=$c1 -v t0=$t0 -v t1="$(date +%s.%N)" \
		    -v hz="$(getconf CLK_TCK)" \
		    'BEGIN { printf "%.0f\n", 100 * (b - a) / hz / (t1 - t0) }' \
		    >>"$WORK/c.$name"
	fi
	wait $spid 2>/dev/null || true
	BG_PIDS=
	echo "$out" | sed -n 's/.* rx_pps=\([0-9]*\).*/\1/p' >>"$WORK/r.$name"
	echo "$out" | sed -n 's/.* lost=\([0-9]*\).*/\1/p' >>"$WORK/l.$name"
	printf '  %-14s %s\n' "$name" "$out"
	if ! grep -q "# $name\$" "$CMDS"; then
		note "ip netns exec $sns dp_gen sink -C CTR -c $SINK_CPU $sargs"
		note "ip netns exec $gns dp_gen gen -C CTR -c $GEN_CPU -b $BATCH" \
		    "-W $WINDOW -w $WARM -t $SECS $gargs    # $name"
	fi
}

# The four small-packet paths with L4 protocol $1 (udp or esp).
pps_round() {
	l4=$1 sfx=$2
	if [ "$l4" = udp ]; then
		ksink_mn="-m udp -a $MN -p 9"
		ksink_gw="-m udp -a $GW -p 9"
		msink_gw="-m udp -a $GW -p 9"
	else
		ksink_mn="-m raw -P 50 -a $GW"
		ksink_gw="-m raw -P 50 -a $MN"
		msink_gw="-m raw -P 50 -a $HOA"
	fi
	pps kfwd-gw-mn$sfx $NMN "$ksink_mn" $NGW "-P $l4 -s $GW -d $MN"
	pps encap$sfx $NMN "-m raw -P 4 -a $HA" $NGW "-P $l4 -s $GW -d $HOA" m
	pps kfwd-mn-gw$sfx $NGW "$ksink_gw" $NMN "-P $l4 -s $MN -d $GW"
	pps decap$sfx $NGW "$msink_gw" $NMN \
	    "-P $l4 -s $HOA -d $GW -e $MN,$HA" m
}

# ---- TCP ----
wait_listen() {
	i=0
	until nsx "$1" ss -ltn "sport = :$2" | grep -q LISTEN; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "iperf3 server on port $2 did not start"
		sleep 0.05
	done
}

# tcp NAME ADDR [-R] [mipha]
tcp() {
	name=$1 addr=$2 rev=$3 m=${4:-}
	port=5201
	wait_quiet
	# shellcheck disable=SC2086
	ip netns exec $NMN $MN_PIN "$IPERF3" -s -1 -B "$addr" -p $port \
	    >/dev/null 2>&1 &
	spid=$!
	BG_PIDS="$BG_PIDS $spid"
	wait_listen $NMN $port
	csum_off=
	[ -n "$m" ] && csum_off=$(raw_reader_link)
	# shellcheck disable=SC2086
	[ -z "$csum_off" ] || tx_csum $csum_off off
	[ -n "$m" ] && c0=$(cpu_ticks $MIPHA_PID)
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	nsx $NGW taskset -c $GEN_CPU "$IPERF3" -c "$addr" -p $port -t $TCP_SECS \
	    -O 1 -J $rev >"$WORK/iperf.$name.json" \
	    2>"$WORK/iperf.$name.err" || true
	if [ -n "$m" ]; then
		c1=$(cpu_ticks $MIPHA_PID)
		awk -v a=$c0 -v b=$c1 -v t0=$t0 -v t1="$(date +%s.%N)" \
		    -v hz="$(getconf CLK_TCK)" \
		    'BEGIN { printf "%.0f\n", 100 * (b - a) / hz / (t1 - t0) }' \
		    >>"$WORK/c.$name"
	fi
	wait $spid 2>/dev/null || true
	BG_PIDS=
	# shellcheck disable=SC2086
	[ -z "$csum_off" ] || tx_csum $csum_off on
	res=$("$PYTHON3" -c 'import json, sys
e = json.load(open(sys.argv[1]))["end"]
print("%.0f %d" % (e["sum_received"]["bits_per_second"],
    e["sum_sent"].get("retransmits", 0)))' "$WORK/iperf.$name.json") ||
	    { cat "$WORK/iperf.$name.json" >&2; die "iperf3 $name failed"; }
	echo "${res% *}" >>"$WORK/r.$name"
	echo "${res#* }" >>"$WORK/l.$name"
	printf '  %-14s %s bit/s, %s retransmits\n' "$name" \
	    "$(tail -n 1 "$WORK/r.$name")" "$(tail -n 1 "$WORK/l.$name")"
	if ! grep -q "# $name\$" "$CMDS"; then
		[ -z "$csum_off" ] || note "ip netns exec" \
		    "$(echo "${csum_off%% *}" | sed "s/^$P-//" | tr a-z A-Z)" \
		    "ethtool -K ${csum_off#* } tx off    # for the run below"
		note "ip netns exec MN $MN_PIN iperf3 -s -1 -B $addr -p $port"
		note "ip netns exec GW taskset -c $GEN_CPU iperf3 -c $addr -p $port" \
		    "-t $TCP_SECS -O 1 -J $rev    # $name"
	fi
}

start_mnstack() {
	# shellcheck disable=SC2086
	ip netns exec $NMN $MN_PIN "$DP_MNSTACK" -t hoa0 -a $HOA -H $HA -c $MN \
	    2>>"$WORK/mnstack.log" &
	MNSTACK_PID=$!
	i=0
	until ip -n $NMN link show hoa0 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "dp_mnstack did not start"
		sleep 0.05
	done
	# The HoA lives on the TUN; whatever it sends goes into the tunnel.
	ip -n $NMN addr add $HOA/32 dev hoa0
	nsx $NMN sysctl -qw net.ipv6.conf.hoa0.disable_ipv6=1 2>/dev/null || true
	ip -n $NMN link set hoa0 mtu 1480 up
	ip -n $NMN route add default dev hoa0 table 100
	ip -n $NMN rule add from $HOA lookup 100 pref 100
	grep -q dp_mnstack "$CMDS" ||
	    note "ip netns exec MN $MN_PIN dp_mnstack -t hoa0 -a $HOA -H $HA" \
	    "-c $MN (+ $HOA/32 on hoa0, mtu 1480; rule from $HOA lookup 100:" \
	    "default dev hoa0)"
}

# Only while TCP runs: its raw IP-in-IP socket would also take (and
# answer) the small-packet runs' tunnelled datagrams, on the generator's
# CPU.
stop_mnstack() {
	kill -TERM $MNSTACK_PID
	wait $MNSTACK_PID 2>/dev/null || true
	MNSTACK_PID=
	ip -n $NMN rule del from $HOA lookup 100 pref 100 2>/dev/null || true
}

# The tc endpoint (mn_tunnel.bpf.c): the HoA on lo; the reverse tunnel
# (RFC 3024) takes everything it sends, via HA with a route MTU that leaves
# room for the outer header (RFC 2003 §5.1).
start_mnbpf() {
	ip -n $NMN addr add $HOA/32 dev lo
	ip -n $NMN route add default via $HA dev m0 mtu 1480 table 100
	ip -n $NMN rule add from $HOA lookup 100 pref 100
	tc -n $NMN qdisc add dev m0 clsact
	tc -n $NMN filter add dev m0 egress bpf da obj "$DP_MNBPF" sec egress
	tc -n $NMN filter add dev m0 ingress bpf da obj "$DP_MNBPF" sec ingress
	grep -q mn_tunnel "$CMDS" ||
	    note "ip netns exec MN tc filter add dev m0 egress|ingress bpf da" \
	    "obj mn_tunnel.bpf.o sec egress|ingress (+ $HOA/32 on lo; rule" \
	    "from $HOA lookup 100: default via $HA dev m0 mtu 1480)"
}

# Gone for the small-packet runs: their sink reads IP-in-IP itself.
stop_mnbpf() {
	tc -n $NMN qdisc del dev m0 clsact
	ip -n $NMN rule del from $HOA lookup 100 pref 100
	ip -n $NMN route flush table 100
	ip -n $NMN addr del $HOA/32 dev lo
}

start_mn() {
	if [ "$MNSTACK_USER" = 1 ]; then start_mnstack; else start_mnbpf; fi
}

stop_mn() {
	if [ "$MNSTACK_USER" = 1 ]; then stop_mnstack; else stop_mnbpf; fi
}

# tx_csum NS DEV on|off: a veth's checksum offload. Without it the kernel
# also drops TSO, so it finishes and segments every packet itself.
tx_csum() {
	nsx "$1" ethtool -K "$2" tx "$3" >/dev/null
}

# The veth that sends into a raw-socket reader of the tunnel during
# mipha's TCP runs (see the top) as "NS DEV", or nothing.
raw_reader_link() {
	if [ "$MNSTACK_USER" = 1 ] && [ "$FASTPATH" = 1 ]; then
		echo "$NHA h0"
	elif [ "$MNSTACK_USER" != 1 ] && [ "$FASTPATH" = 0 ]; then
		echo "$NMN m0"
	fi
}

# ---- profile ----
# profile NAME CMD...: perf on mipha while CMD runs.
profile() {
	pdata=$WORK/perf.$1.data
	pname=$1
	shift
	perf record -q -e cpu-clock -F 4999 -g -p $MIPHA_PID -o "$pdata" \
	    >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.3
	"$@" >/dev/null
	kill -INT $perf_pid
	wait $perf_pid 2>/dev/null || true
	echo "-- perf: mipha during $pname: share of its samples under each" \
	    "function (children), top 30 --"
	perf report -i "$pdata" --children --sort sym --stdio -q -g none \
	    2>/dev/null | grep -v -e '^$' -e '0x' -e '0000000' | head -n 30
}

# ---- the run ----
echo "mipha data-plane benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
    "$(nproc) CPUs, kernel $(uname -r)"
echo "mipha on CPU $HA_CPU, generator/iperf3 client on CPU $GEN_CPU," \
    "sinks on CPU $SINK_CPU, MN stack/iperf3 server on CPU $MN_CPU;" \
    "$ROUNDS rounds, window $WINDOW, batch $BATCH"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" \
    "(other work on this machine skews every figure)"

start_mipha open
if [ "$TCP" = 1 ]; then
	if [ "$MNSTACK_USER" = 1 ]; then mn_end="userspace (dp_mnstack)"
	else mn_end="tc eBPF on m0 ($(basename "$DP_MNBPF"))"; fi
	fp=off
	[ "$FASTPATH" = 1 ] && fp=on
	off=$(raw_reader_link)
	echo "TCP: the MN ends the tunnel in $mn_end; mipha's fast path $fp;" \
	    "during mipha's runs no tx checksum offload on: ${off:-(none)}"
fi
r=1
while [ $r -le "$ROUNDS" ]; do
	echo "round $r, policy open"
	# Renew the binding (lifetime 600 s; waits for quiet can be long).
	[ $r = 1 ] || register || die "re-registration failed"
	[ "$SMALL" = 1 ] && pps_round udp ""
	if [ "$TCP" = 1 ]; then
		start_mn
		tcp tcp-kfwd-gw-mn $MN ""
		tcp tcp-mipha-gw-mn $HOA "" m
		tcp tcp-kfwd-mn-gw $MN -R
		tcp tcp-mipha-mn-gw $HOA -R m
		stop_mn
	fi
	r=$((r + 1))
done
STATS_OPEN=$WORK/stats.open
nsx $NHA "$MIPHACTL" -s "$WORK/open/mipha.sock" show stats >"$STATS_OPEN" \
    2>&1 || true
if [ "$PROFILE" = 1 ]; then
	register || die "re-registration failed"
fi
if [ "$PROFILE" = 1 ] && [ "$SMALL" = 1 ]; then
	profile encap sh -c "ip netns exec $NMN $DP_GEN sink -C $WORK/pc1 \
	    -c $SINK_CPU -m raw -P 4 -a $HA 2>/dev/null & sleep 0.3; \
	    ip netns exec $NGW $DP_GEN gen -C $WORK/pc1 -c $GEN_CPU -b $BATCH \
	    -W $WINDOW -w 0.5 -t $SECS -q -s $GW -d $HOA; wait"
	profile decap sh -c "ip netns exec $NGW $DP_GEN sink -C $WORK/pc2 \
	    -c $SINK_CPU -m udp -a $GW -p 9 2>/dev/null & sleep 0.3; \
	    ip netns exec $NMN $DP_GEN gen -C $WORK/pc2 -c $GEN_CPU -b $BATCH \
	    -W $WINDOW -w 0.5 -t $SECS -q -s $HOA -d $GW -e $MN,$HA; wait"
fi
if [ "$PROFILE" = 1 ] && [ "$TCP" = 1 ]; then
	start_mn
	profile tcp-gw-mn tcp tcp-prof-gw-mn $HOA "" m
	profile tcp-mn-gw tcp tcp-prof-mn-gw $HOA -R m
	stop_mn
fi
stop_mipha

if [ "${DP_VPN:-1}" = 1 ] && [ "$SMALL" = 1 ]; then
	start_mipha vpn-only
	r=1
	while [ $r -le "$ROUNDS" ]; do
		echo "round $r, policy vpn-only (ESP)"
		[ $r = 1 ] || register || die "re-registration failed"
		pps_round esp -esp
		r=$((r + 1))
	done
	nsx $NHA "$MIPHACTL" -s "$WORK/vpn-only/mipha.sock" show stats \
	    >"$WORK/stats.vpn-only" 2>&1 || true
	stop_mipha
fi

# ---- the table ----
# Kernel and mipha are measured back to back in each round, so the ratio
# of a round cancels slow drifts of the machine (other VMs, other work):
# the ratio judged against the goal is the median of the rounds' ratios.
# Noise only ever lowers a rate, so the rates shown are each path's best
# round (their quotient, "best/best", is given too).
best() {
	[ -s "$WORK/$1" ] || { echo "-"; return; }
	sort -n "$WORK/$1" | tail -n 1
}
med() {
	[ -s "$WORK/$1" ] || { echo "-"; return; }
	sort -n "$WORK/$1" | awk '{ v[NR] = $1 } END {
	    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# row LABEL KERNEL MIPHA UNIT SCALE GOAL
row() {
	k=$(best "r.$2") m=$(best "r.$3")
	[ "$k" != - ] && [ "$m" != - ] || return 0
	paste -d' ' "$WORK/r.$2" "$WORK/r.$3" |
	    awk '$1 > 0 && $2 != "" { printf "%.3f\n", $2 / $1 }' >"$WORK/q.$3"
	rr=$(awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }' "$WORK/q.$3")
	awk -v l="$1" -v k="$k" -v m="$m" -v u="$4" -v s="$5" -v g="$6" \
	    -v q="$(med "q.$3")" -v c="$(med "c.$3")" -v rr="$rr" 'BEGIN {
		printf "%-28s %7.3f %-6s %7.3f %-6s %6.2f %6.2f  %-4s %-4s %4.0f%%  %s\n",
		    l, k / s, u, m / s, u, q, (k > 0 ? m / k : 0), g,
		    (q >= g ? "met" : "NO"), c + 0, rr
	}'
}
echo
echo "== mipha data plane against kernel forwarding ($ROUNDS rounds) =="
printf '%-28s %-14s %-14s %6s %6s  %-9s %5s  %s\n' "" "kernel" "mipha" \
    "ratio" "best/" "goal" "mipha" ""
printf '%-28s %-14s %-14s %6s %6s  %-9s %5s  %s\n' "path" "(best)" "(best)" \
    "median" "best" "" "cpu" "ratio per round"
row "small UDP GW->MN (encap)" kfwd-gw-mn encap Mpps 1000000 0.5
row "small UDP MN->GW (decap)" kfwd-mn-gw decap Mpps 1000000 0.5
row "small ESP GW->MN vpn-only" kfwd-gw-mn-esp encap-esp Mpps 1000000 0.5
row "small ESP MN->GW vpn-only" kfwd-mn-gw-esp decap-esp Mpps 1000000 0.5
row "TCP 1 stream GW->MN (encap)" tcp-kfwd-gw-mn tcp-mipha-gw-mn Gbit/s \
    1000000000 0.3
row "TCP 1 stream MN->GW (decap)" tcp-kfwd-mn-gw tcp-mipha-mn-gw Gbit/s \
    1000000000 0.3
echo "(cpu: mipha's CPU use, median over its runs; small packets: 60-octet" \
    "frames as counted by the sink; TCP: iperf3 receiver, 1 stream)"
[ "$NOISY" = 0 ] || echo "warning: $NOISY measurement(s) started while" \
    "other work kept the CPUs busy (over $QUIET%): figures are low"
if [ "$TCP" = 1 ] && [ -s "$WORK/mnstack.log" ]; then
	echo "last TCP round's MN stand-in:"
	grep decapsulated "$WORK/mnstack.log" | tail -n 1 | sed 's/^/  /'
fi
echo "mipha counters (policy open):"
grep -E '^(packets_|icmp_|fastpath)' "$STATS_OPEN" | grep -v ': 0$' |
    sed 's/^/  /'
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commands (MN=$NMN HA=$NHA GW=$NGW, dp_gen/dp_mnstack from" \
    "$top_builddir/test/bench):"
cat "$CMDS"
