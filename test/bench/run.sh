#!/bin/sh
# run.sh - the registration benchmark ("make bench"; needs root, 2 CPUs).
#
# Setup, for each node count N in BENCH_NODES (default "1000 1000000"):
#   - gen_config.py writes a configuration with N mobile nodes; `mipha -n`
#     is timed on it (wall time, peak RSS);
#   - mipha -d starts in a network namespace of its own (198.51.100.0/24
#     only; every namespace is removed on exit), pinned to CPU 0, stderr to
#     a log file; regbench (CPU 1) waits until it answers; VmRSS is read
#     (every node configured, no binding: "rss0");
#   - regbench registers every node once ("fill": creates the N bindings);
#     VmRSS is read right after ("rss").
# Then one reflector (test/bench/reflector.c: the daemon's batched UDP I/O
# echoing every datagram) starts in a namespace of its own, also on CPU 0.
#
# Measurement: BENCH_ROUNDS rounds (3); in each, one after the other, every
# daemon and the reflector get the same load from regbench on CPU 1:
#   - "steady": renewals of random nodes, at most BENCH_WINDOW (4096)
#     requests in flight, BENCH_DURATION (5) s measured after 1 s of
#     warm-up - the saturated rate and its latency; the reflector gets this
#     load once per N (regbench -n N);
#   - "paced": the same at a fixed BENCH_RATE (50000) requests/s, daemons
#     only - latency below saturation, the same offered load for every N;
#     its window (262144) is large enough that a stall of the daemon does
#     not stop the sends: requests keep coming on schedule, as from
#     independent nodes, and queue (or overflow, "lost") in the socket.
# Interleaving the targets within each round and taking the median over
# the rounds keeps other work on the machine from landing on one target
# only. Idle servers cost nothing (libev waits in epoll).
#
# Bytes per binding = (rss - rss0) / N, from VmRSS in /proc/PID/status.
#
# Environment: BENCH_NODES, BENCH_ROUNDS, BENCH_DURATION, BENCH_WINDOW,
# BENCH_RATE (0 skips the paced runs), BENCH_DIR (work directory; default
# a new one under /var/tmp: it must be on a real disk, the journal's
# fdatasync is part of the figure), BENCH_KEEP=1 keeps it; MIPHA,
# MIPHACTL, REGBENCH, REFLECTOR (paths), PYTHON3.
# Called by make with top_builddir and srcdir set.
set -eu

top_builddir=${top_builddir:-.}
srcdir=${srcdir:-$(dirname "$0")/../..}
MIPHA=${MIPHA:-$top_builddir/ha/mipha}
MIPHACTL=${MIPHACTL:-$top_builddir/ha/miphactl}
REGBENCH=${REGBENCH:-$top_builddir/test/bench/regbench}
REFLECTOR=${REFLECTOR:-$top_builddir/test/bench/reflector}
GEN=$srcdir/test/bench/gen_config.py
PYTHON3=${PYTHON3:-python3}
NODES=${BENCH_NODES:-"1000 1000000"}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5}
WINDOW=${BENCH_WINDOW:-4096}
RATE=${BENCH_RATE:-50000}
HA=198.51.100.1
MN=198.51.100.2
NSP=mipha-bench-$$
SRV_CPU=0
GEN_CPU=1

die() { echo "run.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for p in "$MIPHA" "$REGBENCH" "$REFLECTOR"; do
	[ -x "$p" ] || die "$p not built"
done
[ "$(nproc)" -ge 2 ] ||
    die "needs 2 CPUs (servers on CPU $SRV_CPU, load on CPU $GEN_CPU)"
if ldd "$MIPHA" 2>/dev/null | grep -q 'libasan'; then
	echo "run.sh: warning: $MIPHA is built with sanitizers;" \
	    "configure without --enable-sanitizers for meaningful figures" >&2
fi

WORK=${BENCH_DIR:-}
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /var/tmp/mipha-bench.XXXXXX)
else
	mkdir -p "$WORK"
fi
PIDS=
NSS=
cleanup() {
	for p in $PIDS; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	for ns in $NSS; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "run.sh: kept $WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mkns NAME: a namespace with HA and MN on a veth pair inside it.
mkns() {
	ip netns add "$1"
	NSS="$NSS $1"
	ip -n "$1" link set lo up
	ip -n "$1" link add bh0 type veth peer name bh1
	ip -n "$1" addr add $HA/24 dev bh0
	ip -n "$1" addr add $MN/24 dev bh1
	ip -n "$1" link set bh0 up
	ip -n "$1" link set bh1 up
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# field NAME FILE PHASE: a value from regbench's RESULT line of PHASE.
field() {
	sed -n "s/^RESULT phase=$3 .* $1=\([^ ]*\).*/\1/p" "$2" | tail -n 1
}

# start_server NS LOG CMD...: start a server pinned to SRV_CPU in NS, wait
# until it answers; sets SRV_PID and STARTUP (seconds).
start_server() {
	ns=$1
	log=$2
	shift 2
	t0=$(now)
	# Not through a shell function: $! must be the server (ip and taskset
	# exec it).
	ip netns exec "$ns" taskset -c $SRV_CPU "$@" 2>"$log" &
	SRV_PID=$!
	PIDS="$PIDS $SRV_PID"
	tries=0
	until ip netns exec "$ns" "$REGBENCH" -c $GEN_CPU -n 1 -P 1 -q \
	    >/dev/null; do
		tries=$((tries + 1))
		if ! kill -0 "$SRV_PID" 2>/dev/null || [ $tries -ge 900 ]; then
			cat "$log" >&2
			die "server did not answer: $*"
		fi
	done
	STARTUP=$(fsub "$(now)" "$t0")
}

# load NS N SERVER_PID OUT ARGS...: one regbench run on CPU GEN_CPU.
load() {
	ns=$1
	n=$2
	pid=$3
	out=$4
	shift 4
	ip netns exec "$ns" "$REGBENCH" -c $GEN_CPU -n "$n" -w "$WINDOW" \
	    -T "$pid" -q "$@" >"$out"
}

echo "mipha registration benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
    "$(nproc) CPUs, kernel $(uname -r)"
echo "work directory $WORK" \
    "($(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }'))"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS rounds; steady: window $WINDOW, $DURATION s after 1 s warm-up;" \
    "paced: $RATE requests/s"

# Setup: one daemon per N, filled.
for N in $NODES; do
	D=$WORK/n$N
	rm -rf "$D"
	"$PYTHON3" "$GEN" "$D" "$N"
	CONF_BYTES=$(wc -c <"$D/tenants.d/bench.conf")
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "%e %M" -o "$D/check.time" \
		    "$MIPHA" -n -f "$D/mipha.conf" >/dev/null 2>"$D/check.log" ||
		    die "mipha -n failed: $(cat "$D/check.log")"
		read -r CHECK_S CHECK_KB <"$D/check.time"
	else
		t0=$(now)
		"$MIPHA" -n -f "$D/mipha.conf" >/dev/null 2>"$D/check.log" ||
		    die "mipha -n failed: $(cat "$D/check.log")"
		CHECK_S=$(fsub "$(now)" "$t0")
		CHECK_KB=0
	fi
	mkns "$NSP-d$N"
	start_server "$NSP-d$N" "$D/mipha.log" "$MIPHA" -d -f "$D/mipha.conf" \
	    -p "$D/mipha.pid"
	RSS0=$(rss_kb "$SRV_PID")
	load "$NSP-d$N" "$N" "$SRV_PID" "$D/fill.out" -V 64 -f
	RSS1=$(field server_rss_kb "$D/fill.out" fill)
	echo "$N nodes: config $CONF_BYTES bytes, mipha -n ${CHECK_S} s" \
	    "(peak RSS $CHECK_KB kB); daemon pid $SRV_PID answered after" \
	    "${STARTUP} s with VmRSS $RSS0 kB; fill $(field rate "$D/fill.out" fill)/s" \
	    "(codes $(field codes "$D/fill.out" fill), bad auth" \
	    "$(field verify_fail "$D/fill.out" fill)), VmRSS then $RSS1 kB"
	{
		echo "n=$N pid=$SRV_PID conf_bytes=$CONF_BYTES check_s=$CHECK_S"
		echo "check_kb=$CHECK_KB startup=$STARTUP rss0=$RSS0 rss1=$RSS1"
		echo "fill_rate=$(field rate "$D/fill.out" fill)"
	} | tr '\n' ' ' >"$D/setup"
	eval "DPID_$N=$SRV_PID"
done
mkns "$NSP-r"
start_server "$NSP-r" "$WORK/reflector.log" "$REFLECTOR" -a $HA -p 434
RPID=$SRV_PID

# Measurement rounds.
r=1
while [ $r -le "$ROUNDS" ]; do
	for N in $NODES; do
		D=$WORK/n$N
		eval "pid=\$DPID_$N"
		load "$NSP-d$N" "$N" "$pid" "$D/steady.$r" -F -d "$DURATION" -V 64
		load "$NSP-r" "$N" "$RPID" "$D/refl.$r" -F -d "$DURATION"
		if [ "$RATE" != 0 ]; then
			load "$NSP-d$N" "$N" "$pid" "$D/paced.$r" -F \
			    -d "$DURATION" -r "$RATE" -w 262144
		fi
		printf "round %d, %d nodes: daemon %s/s (p99 %s us), reflector" \
		    "$r" "$N" "$(field rate "$D/steady.$r" steady)" \
		    "$(field p99_us "$D/steady.$r" steady)"
		printf " %s/s, paced p99 %s us; CPU wait daemon %s, generator %s\n" \
		    "$(field rate "$D/refl.$r" steady)" \
		    "$(field p99_us "$D/paced.$r" steady 2>/dev/null)" \
		    "$(field server_rq_wait "$D/steady.$r" steady)" \
		    "$(field gen_rq_wait "$D/steady.$r" steady)"
	done
	r=$((r + 1))
done

# Wrap up: final RSS, journal, stats, stop.
for N in $NODES; do
	D=$WORK/n$N
	eval "pid=\$DPID_$N"
	RSS2=$(rss_kb "$pid")
	JBYTES=$(stat -c %s "$D/state/journal" 2>/dev/null || echo 0)
	if [ -x "$MIPHACTL" ]; then
		ip netns exec "$NSP-d$N" "$MIPHACTL" -s "$D/mipha.sock" --json \
		    show stats >"$D/stats.json" 2>&1 || true
	fi
	t0=$(now)
	kill -TERM "$pid"
	wait "$pid" || echo "run.sh: mipha ($N nodes) exited with status $?" >&2
	printf " rss2=%s journal=%s stop=%s log_lines=%s\n" "$RSS2" "$JBYTES" \
	    "$(fsub "$(now)" "$t0")" "$(wc -l <"$D/mipha.log")" >>"$D/setup"
done
kill -TERM "$RPID"
wait "$RPID" || true
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/reflector.log"

# Report: medians over the rounds.
summary() {
	D=$WORK/n$1
	echo "$(cat "$D/setup")"
	for kind in steady refl paced; do
		for f in "$D/$kind".*; do
			[ -f "$f" ] || continue
			sed -n "s/^RESULT phase=steady /$kind /p" "$f"
		done
	done
}
for N in $NODES; do
	summary "$N"
done | awk -v nodes="$NODES" '
function num(x) { return x == "" || x == "-" || x == "nan" ? 0 : x + 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
# median of the values collected under key k
function med(k,    n, i, j, t, a) {
	n = cnt[k]
	if (n == 0)
		return 0
	for (i = 1; i <= n; i++)
		a[i] = val[k, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(k,    i, m) {
	m = val[k, 1]
	for (i = 2; i <= cnt[k]; i++) if (val[k, i] < m) m = val[k, i]
	return m
}
function hi(k,    i, m) {
	m = val[k, 1]
	for (i = 2; i <= cnt[k]; i++) if (val[k, i] > m) m = val[k, i]
	return m
}
{
	kind = $1
	for (i = 1; i <= NF; i++) {
		j = index($i, "=")
		if (j == 0)
			continue
		k = substr($i, 1, j - 1)
		v = substr($i, j + 1)
		if (k == "n" && kind !~ /^(steady|refl|paced)$/)
			cur = v
		if (kind ~ /^(steady|refl|paced)$/) {
			if (k == "nodes")
				continue
			key = cur SUBSEP kind SUBSEP k
			cnt[key]++
			val[key, cnt[key]] = (k == "codes" ? v : num(v))
			if (k == "codes" && kind == "steady")
				codes[cur] = codes[cur] (codes[cur] ? " " : "") v
		} else
			setup[cur, k] = v
	}
}
END {
	split(nodes, ns, " ")
	first = ns[1]
	p99_1 = med(first SUBSEP "steady" SUBSEP "p99_us")
	pp99_1 = med(first SUBSEP "paced" SUBSEP "p99_us")
	printf "\nmedians over the rounds (min-max of the rates in brackets)\n\n"
	printf "%-8s %20s %20s %6s %6s %6s %6s\n", "N", "daemon/s",
	    "reflector/s", "ratio", "us/reg", "us/rfl", "cpurat"
	for (x = 1; x in ns; x++) {
		n = ns[x]; s = n SUBSEP "steady" SUBSEP; f = n SUBSEP "refl" SUBSEP
		printf "%-8d %7.0f [%5.0f-%5.0f] %7.0f [%5.0f-%5.0f] %6.2f %6.2f %6.2f %6.2f\n",
		    n, med(s "rate"), lo(s "rate"), hi(s "rate"), med(f "rate"),
		    lo(f "rate"), hi(f "rate"),
		    div(med(s "rate"), med(f "rate")),
		    med(s "server_us_per_req"), med(f "server_us_per_req"),
		    div(med(f "server_us_per_req"), med(s "server_us_per_req"))
	}
	printf "\n%-8s %8s %8s %8s %7s %8s %8s %8s %7s %9s %6s\n", "N",
	    "sat_p50", "sat_p99", "sat_max", "p99/1st", "pac_p50", "pac_p99",
	    "pac_max", "p99/1st", "stall_max", "lost"
	for (x = 1; x in ns; x++) {
		n = ns[x]; s = n SUBSEP "steady" SUBSEP; p = n SUBSEP "paced" SUBSEP
		st = hi(s "stall_ms") > hi(p "stall_ms") ? hi(s "stall_ms") : \
		    hi(p "stall_ms")
		printf "%-8d %8.0f %8.0f %8.0f %7.2f %8.0f %8.0f %8.0f %7.2f %9.1f %6d\n",
		    n, med(s "p50_us"), med(s "p99_us"), med(s "max_us"),
		    div(med(s "p99_us"), p99_1), med(p "p50_us"), med(p "p99_us"),
		    hi(p "max_us"), div(med(p "p99_us"), pp99_1), st,
		    hi(p "lost") + hi(s "lost")
	}
	printf "\n%-8s %8s %8s %8s %7s %8s %8s %8s %7s %7s\n", "N", "rss0_MB",
	    "rss_MB", "rssE_MB", "B/bind", "journ_MB", "conf_MB", "chk_MB",
	    "chk_s", "start_s"
	for (x = 1; x in ns; x++) {
		n = ns[x]
		printf "%-8d %8.1f %8.1f %8.1f %7.0f %8.1f %8.1f %8.1f %7.1f %7.1f\n",
		    n, setup[n, "rss0"] / 1024, setup[n, "rss1"] / 1024,
		    setup[n, "rss2"] / 1024,
		    (setup[n, "rss1"] - setup[n, "rss0"]) * 1024 / n,
		    setup[n, "journal"] / 1048576, setup[n, "conf_bytes"] / 1048576,
		    setup[n, "check_kb"] / 1024, setup[n, "check_s"],
		    setup[n, "startup"]
	}
	printf "\n%-8s %8s %7s %7s %6s %6s %6s %6s %8s %7s  %s\n", "N", "fill/s",
	    "cpu_ha", "cpu_rf", "wf_ha", "wf_rf", "rqw_ha", "rqw_gn",
	    "stop_s", "badauth", "lost"
	for (x = 1; x in ns; x++) {
		n = ns[x]; s = n SUBSEP "steady" SUBSEP; f = n SUBSEP "refl" SUBSEP
		printf "%-8d %8.0f %7.2f %7.2f %6.2f %6.2f %6.2f %6.2f %8.2f %7d  %d\n",
		    n, setup[n, "fill_rate"], med(s "server_cpu") / 100,
		    med(f "server_cpu") / 100, med(s "wfull"), med(f "wfull"),
		    med(s "server_rq_wait"), med(s "gen_rq_wait"), setup[n, "stop"],
		    hi(s "verify_fail"), hi(s "lost")
	}
	print ""
	for (x = 1; x in ns; x++)
		printf "reply codes, %s nodes, steady rounds: %s\n", ns[x],
		    codes[ns[x]]
}'
cat <<EOF

daemon/s, reflector/s: replies per second, at most $WINDOW requests in
  flight; ratio = daemon/s / reflector/s. us/reg, us/rfl: server CPU time
  (utime+stime, /proc/PID/stat) per reply; cpurat = us/rfl / us/reg, the
  ratio by cost, less sensitive to other work and to a reflector limited by
  the generator (wf_rf near 0: the generator, not the reflector, was the
  bottleneck; the rate ratio is then an upper bound).
sat_*: latency (us) at saturation (medians of p50, p99, max), mostly
  queueing behind the window; pac_*: at $RATE requests/s, the same offered
  load for every N (pac_max: the worst round); p99/1st: p99 over the p99
  of the first N. stall_max: the longest time without any reply while
  requests were outstanding, worst run (journal compaction shows here);
  lost: requests never answered (socket overflow during a stall).
rss0: VmRSS once the daemon answers (all nodes configured, no binding);
  rss: right after the fill (N bindings); rssE: at the end;
  B/bind = (rss - rss0) / N. journ: state_dir/journal at the end;
  conf: tenant file; chk_MB, chk_s: peak RSS and time of 'mipha -n';
  start_s: start until the first answer.
cpu_*: server CPU share; wf_*: share of the time the generator waited for
  the server (window full); rqw_ha, rqw_gn: share of the time the daemon /
  the generator was runnable but waiting for its CPU (other work on the
  machine, /proc/PID/schedstat).
Targets: >= 100000 registrations/s, ratio >= 0.5, p99 at 1M <= 1.5 x p99
  at 1k, <= 256 B per binding.
EOF
