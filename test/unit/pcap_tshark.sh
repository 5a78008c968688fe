#!/bin/sh
# Our encoder's messages in a pcap, dissected by tshark: every expected field
# per frame (written by pcap_tshark next to the capture) must match, and
# nothing may be malformed or carry an expert error.  Skips (77) only when
# tshark is missing.
if ! command -v tshark >/dev/null 2>&1; then
	echo "SKIP: tshark not installed"
	exit 77
fi
tool=${PCAP_TSHARK:-./test/unit/pcap_tshark}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
pcap=$tmp/mip.pcap
"$tool" "$pcap" > "$tmp/expected" || { echo "FAIL: $tool"; exit 1; }
nframes=$(awk '$1 == "frames" { print $2 }' "$tmp/expected")

# One tshark run with every field that is expected somewhere.
set -- -e frame.number
# shellcheck disable=SC2013 # field names are single words
for f in $(awk '$1 ~ /^[0-9]+$/ { print $2 }' "$tmp/expected" | sort -u); do
	set -- "$@" -e "$f"
	echo "$f"
done > "$tmp/fields"
tshark -r "$pcap" -Y mip -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -T fields -E occurrence=a -E aggregator=, -E separator=/t "$@" \
    > "$tmp/got" 2> "$tmp/tshark.err" || { cat "$tmp/tshark.err"; exit 1; }

rc=0
got_frames=$(wc -l < "$tmp/got")
if [ "$got_frames" -ne "$nframes" ]; then
	echo "FAIL: tshark shows $got_frames mip frames, expected $nframes"
	rc=1
fi
awk -F '\t' -v fieldsfile="$tmp/fields" '
	BEGIN {
		n = 0
		while ((getline f < fieldsfile) > 0)
			col[f] = 2 + n++
	}
	# Booleans print as 1/0 or True/False depending on the tshark version.
	FNR == NR {
		for (f in col) {
			v = $(col[f])
			gsub(/True/, "1", v)
			gsub(/False/, "0", v)
			got[$1, f] = v
		}
		next
	}
	$1 ~ /^[0-9]+$/ {
		split($0, w, " ")
		frame = w[1]; field = w[2]
		want = substr($0, length(frame) + length(field) + 3)
		checks++
		if (got[frame, field] != want) {
			printf "FAIL: frame %s %s: tshark \"%s\", expected \"%s\"\n",
			    frame, field, got[frame, field], want
			bad++
		}
	}
	END {
		printf "%d checks, %d failures\n", checks, bad
		exit bad > 0
	}' "$tmp/got" FS=' ' "$tmp/expected" || rc=1

bad=$(tshark -r "$pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null)
if [ -n "$bad" ]; then
	echo "FAIL: malformed or expert warnings:"
	echo "$bad"
	rc=1
fi
exit $rc
