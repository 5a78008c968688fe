#!/bin/bash
# demo.sh - mipha end to end, on the sample configuration in etc/.
#
# Builds a small network of namespaces (nothing outside them is touched):
#
#   mn  198.51.100.20 (Wi-Fi) / 198.51.100.21 (cellular)
#    |
#   ha  198.51.100.1 --- mipha --- 203.0.113.1
#                                    |
#   gw  203.0.113.10, the tenant's VPN gateway (left unmodified)
#
# The laptop registers its co-located care-of address, runs real ESP
# (scapy's SecurityAssociation, AES-CBC + HMAC-SHA1) from its home address
# through the Mobile IP tunnel to the gateway and back, moves to another
# care-of address without touching the VPN, and finally deregisters; a
# second node gets its home address by NAI. miphactl shows what the daemon
# knows at each step.
#
# Usage: demo.sh BUILDDIR SRCDIR   (make demo passes both; needs root)
set -eu

BUILD=$(cd "${1:-.}" && pwd)
SRC=$(cd "${2:-$(dirname "$0")/..}" && pwd)
PY=/usr/bin/python3		# Debian's python3, which has scapy
P=mipdemo$$
WORK=$(mktemp -d /tmp/mipha-demo.XXXXXX)
MIPHA=$BUILD/ha/mipha
CTL="$BUILD/ha/miphactl -s $WORK/mipha.sock"
NODE="$PY $SRC/contrib/mipnode.py"

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: needs root (network namespaces)" >&2
	exit 1
fi

cleanup() {
	set +e
	[ -f "$WORK/pid" ] && kill "$(cat "$WORK/pid")" 2>/dev/null && sleep 0.5
	for n in mn ha gw; do ip netns del $P-$n 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

say "network: mn, ha, gw namespaces"
for n in mn ha gw; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
ip -n $P-mn link add wlan0 type veth peer name ha-mn netns $P-ha
ip -n $P-gw link add eth0 type veth peer name ha-gw netns $P-ha
ip -n $P-mn addr add 198.51.100.20/24 dev wlan0
ip -n $P-mn addr add 198.51.100.21/24 dev wlan0
ip -n $P-mn link set wlan0 up
ip -n $P-ha addr add 198.51.100.1/24 dev ha-mn
ip -n $P-ha addr add 203.0.113.1/24 dev ha-gw
ip -n $P-ha link set ha-mn up
ip -n $P-ha link set ha-gw up
ip -n $P-gw addr add 203.0.113.10/24 dev eth0
ip -n $P-gw link set eth0 up
# The VPN gateway reaches the home addresses through the HA (scenario 2.4).
ip -n $P-gw route add 198.18.10.0/24 via 203.0.113.1
in_ns ha sysctl -qw net.ipv4.ip_forward=1

say "configuration: etc/mipha.conf and etc/tenants.d/example.conf"
mkdir -p "$WORK/tenants.d"
# The sample as shipped; only the state and socket paths move into $WORK.
sed -e "/^ha: {/a\\
	control_socket = \"$WORK/mipha.sock\";\\
	state_dir = \"$WORK/state\";" \
    "$SRC/etc/mipha.conf" >"$WORK/mipha.conf"
cp "$SRC/etc/tenants.d/example.conf" "$WORK/tenants.d/"
chmod 600 "$WORK/mipha.conf" "$WORK/tenants.d/example.conf"
"$MIPHA" -n -f "$WORK/mipha.conf" && echo "mipha -n: configuration valid"

say "start mipha in the ha namespace"
in_ns ha "$MIPHA" -d -f "$WORK/mipha.conf" -p "$WORK/pid" 2>"$WORK/mipha.log" &
for _ in $(seq 50); do [ -S "$WORK/mipha.sock" ] && break; sleep 0.1; done
in_ns ha $CTL show tenants
echo; echo "routing state mipha installed (protocol 213):"
ip -n $P-ha route show table all proto 213
ip -n $P-ha rule show | grep 'proto 213' || true

say "the laptop registers its Wi-Fi address as co-located care-of address (D, T)"
$NODE register --netns $P-mn --ha 198.51.100.1 --hoa 198.18.10.5 \
    --coa 198.51.100.20 --src 198.51.100.20 --spi 1000 \
    --key 0x00112233445566778899aabbccddeeff --flags DT --lifetime 600
in_ns ha $CTL show bindings

say "a second node asks for a home address by NAI (RFC 2794)"
$NODE register --netns $P-mn --ha 198.51.100.1 --hoa 0.0.0.0 \
    --nai bob@acme.example --src 198.51.100.21 --spi 1001 \
    --key 0x0f0e0d0c0b0a09080706050403020100 --flags DT --lifetime 300

# Real ESP between the home address and the gateway, and the captures.
cat >"$WORK/esp.py" <<'PY'
import sys, time
from scapy.all import (IP, UDP, ESP, SecurityAssociation, AsyncSniffer,
    conf, send, sniff, raw)
conf.verb = 0
role, coa = sys.argv[1], sys.argv[2]
mn2gw = SecurityAssociation(ESP, spi=0x1001, crypt_algo='AES-CBC',
    crypt_key=b'demo-aes-key-16b', auth_algo='HMAC-SHA1-96',
    auth_key=b'demo-hmac-sha1-key-20')
gw2mn = SecurityAssociation(ESP, spi=0x2002, crypt_algo='AES-CBC',
    crypt_key=b'demo-aes-key-16c', auth_algo='HMAC-SHA1-96',
    auth_key=b'demo-hmac-sha1-key-21')
if role == 'mn':
    inner = mn2gw.encrypt(IP(src='198.18.10.5', dst='203.0.113.10') /
        UDP(sport=40000, dport=5000) / b'hello from the road')
    # The tunnelled ESP reply (the gateway's kernel also sends an ICMP
    # protocol-unreachable for our ESP, which has no SA there: skip it).
    sniffer = AsyncSniffer(iface='wlan0', count=1, timeout=4,
        lfilter=lambda p: IP in p and p[IP].proto == 4 and
        p[IP].dst == coa and IP(raw(p[IP].payload)).proto == 50)
    sniffer.start()
    time.sleep(0.5)
    # IP-in-IP to the home agent (RFC 2003), reverse tunnel (RFC 3024).
    send(IP(src=coa, dst='198.51.100.1', proto=4) / inner)
    print('mn: sent ESP spi 0x1001 seq %d inside IP-in-IP from %s'
          % (inner[ESP].seq, coa))
    got = sniffer.join() or sniffer.results
    if not got:
        sys.exit('mn: no tunnelled reply arrived')
    esp = IP(raw(got[0][IP].payload))
    print('mn: tunnelled reply from %s: inner %s -> %s, ESP spi 0x%x'
          % (got[0][IP].src, esp.src, esp.dst, esp[ESP].spi))
    print('mn: decrypted:', bytes(gw2mn.decrypt(esp)[UDP].payload))
else:
    got = sniff(iface='eth0', timeout=4, count=1,
        lfilter=lambda p: IP in p and p[IP].proto == 50)
    if not got:
        sys.exit('gw: no ESP arrived')
    esp = got[0][IP]
    print('gw: ESP from %s (the home address), spi 0x%x - decrypted: %s'
          % (esp.src, esp[ESP].spi, bytes(mn2gw.decrypt(esp)[UDP].payload)))
    send(gw2mn.encrypt(IP(src='203.0.113.10', dst='198.18.10.5') /
        UDP(sport=5000, dport=40000) / b'hello back from the intranet'))
PY

run_esp() {
	in_ns gw $PY "$WORK/esp.py" gw - &
	local gw=$!
	sleep 1
	in_ns mn $PY "$WORK/esp.py" mn "$1"
	wait $gw
}

say "ESP from the home address through the tunnel to the VPN gateway, and back"
run_esp 198.51.100.20

say "the laptop moves to cellular: a new care-of address, the same home address"
$NODE register --netns $P-mn --ha 198.51.100.1 --hoa 198.18.10.5 \
    --coa 198.51.100.21 --src 198.51.100.21 --spi 1000 \
    --key 0x00112233445566778899aabbccddeeff --flags DT --lifetime 600
in_ns ha $CTL show bindings
say "the same VPN security associations keep working after the move"
run_esp 198.51.100.21

say "vpn-only policy: a plaintext ping from the home address is dropped"
in_ns mn $PY - <<'PY'
from scapy.all import IP, ICMP, conf, send
conf.verb = 0
send(IP(src='198.51.100.21', dst='198.51.100.1', proto=4) /
     IP(src='198.18.10.5', dst='203.0.113.10') / ICMP())
print('mn: sent an ICMP echo inside the tunnel')
PY
sleep 0.5
in_ns ha $CTL show stats

say "the laptop comes home: deregistration (lifetime 0, CoA = HoA)"
$NODE deregister --netns $P-mn --ha 198.51.100.1 --hoa 198.18.10.5 \
    --src 198.51.100.21 --spi 1000 --key 0x00112233445566778899aabbccddeeff
in_ns ha $CTL show bindings

say "mipha's log"
cat "$WORK/mipha.log"

say "shutdown: mipha removes its devices, routes and rules"
kill "$(cat "$WORK/pid")"
for _ in $(seq 50); do [ -e "$WORK/pid" ] || break; sleep 0.1; done
left=$(ip -n $P-ha route show table all proto 213; ip -n $P-ha rule show | grep 'proto 213' || true)
if [ -n "$left" ]; then
	echo "left behind:"; echo "$left"; exit 1
fi
echo "nothing of protocol 213 left; demo complete"
