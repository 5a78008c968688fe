# test/net/lib.sh - network namespace helpers for mipha's end-to-end tests.
# Sourced by test/net/run.sh (bash).
#
# Builds, per run, five namespaces named with a unique prefix (mipt<PID>):
#
#   mn (198.19.0.2/24 + .3-.40)            fa (198.51.100.66-.69/26)
#        \ 198.19.0.1/24                  / 198.51.100.65/26
#         +-------------- r (router, ip_forward=1)
#        / 203.0.113.1/24                  \ 198.51.100.62/26
#   in (203.0.113.2/24, "internal")        ha (198.51.100.1/26): mipha
#
# Every veth pair is created inside the namespaces (ip -n A link add ...
# peer ... netns B), so the root namespace's network is never touched.
# Addresses come only from 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24.
# mipt_cleanup (trap on EXIT, INT, TERM) ends every process running in
# those namespaces (they are ours: the namespaces are) by pid, deletes the
# namespaces and the temporary directory.

MIPT_PREFIX=${MIPT_PREFIX:-mipt$$}
MIPT_NAMESPACES=""
MIPT_DIR=""
MIPT_CHILD=""

mipt_log() { printf '%s\n' "net: $*" >&2; }

# Exit 77 (skip) only when the tests cannot possibly run here.
mipt_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: the namespace tests need root"
		exit 77
	fi
	if ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: ip netns is unavailable"
		exit 77
	fi
	# Can we really create one? (containers without CAP_SYS_ADMIN)
	if ! ip netns add "${MIPT_PREFIX}probe" 2>/dev/null; then
		echo "SKIP: cannot create network namespaces"
		exit 77
	fi
	ip netns del "${MIPT_PREFIX}probe"
}

# Processes in namespace $1 (ours), ended by pid: TERM, then KILL.
mipt_kill_ns_procs() {
	local ns=$1 pids pid i
	pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
	[ -n "$pids" ] || return 0
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || return 0
		sleep 0.2
	done
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
	sleep 0.1
}

mipt_cleanup() {
	local rc=$? ns
	trap - EXIT INT TERM
	if [ -n "$MIPT_CHILD" ]; then
		kill -TERM "$MIPT_CHILD" 2>/dev/null
		wait "$MIPT_CHILD" 2>/dev/null
		MIPT_CHILD=""
	fi
	for ns in $MIPT_NAMESPACES; do
		mipt_kill_ns_procs "$ns"
	done
	for ns in $MIPT_NAMESPACES; do
		ip netns del "$ns" 2>/dev/null || mipt_log "could not delete $ns"
	done
	MIPT_NAMESPACES=""
	if [ -n "$MIPT_DIR" ] && [ -d "$MIPT_DIR" ]; then
		if [ -n "$MIPT_KEEP" ] ||
		    { [ "$rc" != 0 ] && [ -n "$MIPT_KEEP_ON_FAIL" ]; }; then
			mipt_log "kept $MIPT_DIR"
		else
			rm -rf "$MIPT_DIR"
		fi
	fi
	exit "$rc"
}

mipt_ns_add() {
	ip netns add "$1" || return 1
	MIPT_NAMESPACES="$MIPT_NAMESPACES $1"
	ip -n "$1" link set lo up
}

# veth NS_A IF_A NS_B IF_B: a veth pair made inside the two namespaces.
mipt_veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
	ip -n "$1" link set "$2" up &&
	ip -n "$3" link set "$4" up
}

mipt_setup() {
	trap mipt_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	MIPT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mipt.XXXXXX") || exit 99
	NS_HA=${MIPT_PREFIX}ha
	NS_R=${MIPT_PREFIX}r
	NS_MN=${MIPT_PREFIX}mn
	NS_FA=${MIPT_PREFIX}fa
	NS_IN=${MIPT_PREFIX}in
	local ns a
	for ns in "$NS_HA" "$NS_R" "$NS_MN" "$NS_FA" "$NS_IN"; do
		mipt_ns_add "$ns" || exit 99
	done
	mipt_veth "$NS_R" r-ha "$NS_HA" ha0 &&
	mipt_veth "$NS_R" r-mn "$NS_MN" mn0 &&
	mipt_veth "$NS_R" r-fa "$NS_FA" fa0 &&
	mipt_veth "$NS_R" r-in "$NS_IN" in0 || exit 99

	ip -n "$NS_R" addr add 198.51.100.62/26 dev r-ha
	ip -n "$NS_R" addr add 198.19.0.1/24 dev r-mn
	ip -n "$NS_R" addr add 198.51.100.65/26 dev r-fa
	ip -n "$NS_R" addr add 203.0.113.1/24 dev r-in
	ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1

	ip -n "$NS_HA" addr add 198.51.100.1/26 dev ha0
	ip -n "$NS_HA" route add default via 198.51.100.62

	ip -n "$NS_MN" addr add 198.19.0.2/24 dev mn0
	for a in $(seq 3 40); do
		ip -n "$NS_MN" addr add "198.19.0.$a/24" dev mn0
	done
	ip -n "$NS_MN" route add default via 198.19.0.1

	# .66: an FA with an FA-HA SA; .67: an FA without one; .68, .69 spare.
	for a in 66 67 68 69; do
		ip -n "$NS_FA" addr add "198.51.100.$a/26" dev fa0
	done
	ip -n "$NS_FA" route add default via 198.51.100.65

	ip -n "$NS_IN" addr add 203.0.113.2/24 dev in0
	ip -n "$NS_IN" route add default via 203.0.113.1

	# IPv4 addresses are usable at once; check the path end to end.
	if ! ip netns exec "$NS_MN" ping -c1 -W2 198.51.100.1 >/dev/null 2>&1; then
		mipt_log "warning: MN cannot ping the HA address (ping missing?)"
	fi

	export MIPT_DIR MIPT_PREFIX NS_HA NS_R NS_MN NS_FA NS_IN
	mipt_log "namespaces $MIPT_NAMESPACES, files in $MIPT_DIR"
}

# Where the built programs are: $MIPHA/$MIPHACTL, else the build tree
# (automake runs the tests in the top build directory), else $PATH.
mipt_find_programs() {
	local bd=${MIPT_BUILDDIR:-${abs_top_builddir:-$PWD}}
	MIPHA=${MIPHA:-$bd/ha/mipha}
	MIPHACTL=${MIPHACTL:-$bd/ha/miphactl}
	if [ ! -x "$MIPHA" ] || [ ! -x "$MIPHACTL" ]; then
		mipt_log "ha/mipha or ha/miphactl not built (looked in $bd)"
		exit 99
	fi
	export MIPHA MIPHACTL
}
