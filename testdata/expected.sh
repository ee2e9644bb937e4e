#!/usr/bin/env bash
# Computes testdata/expected/NAME.json for every capture in testdata/captures/
# with tshark (the independent tool the crate's figures are checked against)
# and jq. Needs tshark and jq; not root.
#     bash testdata/expected.sh [NAME]         # or: just expected
#
# Each figure comes from one of the tshark commands below (also listed in
# testdata/README.md). All of them are run as
#     tshark -n -r CAPTURE $DECODE [-o tls.keylog_file:NAME.keys] ...
# with DECODE naming the test servers' ports, so that nothing depends on
# tshark's heuristics. A capture with an embedded Decryption Secrets Block gets
# no -o option: tshark reads the secrets from the file itself.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CAP=$HERE/captures
EXP=$HERE/expected
ONLY=${1:-}

# --table: print the figures table of testdata/README.md from expected/*.json.
if [ "$ONLY" = --table ]; then
	echo '| capture | bytes | format | conns | SYNs | CH | SH | keylog randoms | finished | resumed | h1 req | h2 req | conns w/ req |'
	echo '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
	for f in "$EXP"/*.json; do
		c=$(jq -r .capture "$f")
		case $c in
		*.pcap.gz) fmt="pcap, gzip" ;;
		*.pcapng) fmt=pcapng ;;
		*) fmt=pcap ;;
		esac
		if [ "$fmt" = pcap ] && [ "$(head -c 4 "$CAP/$c" | od -An -tx1 | tr -d ' ')" = 4d3cb2a1 ]; then
			fmt="pcap, ns"
		fi
		if [ "$(jq .keys_embedded "$f")" = true ]; then fmt="$fmt + DSB"; fi
		jq -r --arg sz "$(stat -c %s "$CAP/$c")" --arg fmt "$fmt" '.totals as $t |
			"| \(.capture) | \($sz) | \($fmt) | \($t.tcp_connections) | \($t.tcp_handshakes) | \($t.tls_client_hellos) | \($t.tls_server_hellos) | \($t.tls_completed_by_keylog // "-") | \($t.tls_handshakes_finished) | \($t.tls_resumed) | \($t.http1_requests) | \($t.http2_requests) | \($t.connections_with_requests) |"' "$f"
	done
	exit 0
fi

DECODE=(-d tcp.port==18442,tls -d tcp.port==18443,tls -d tcp.port==18444,tls -d tcp.port==18445,tls
	-d tcp.port==18080,http -d tcp.port==18082,http -d tcp.port==18081,http2)
SERVER_PORTS='["18442","18443","18444","18445","18080","18081","18082"]'
TSHARK_VERSION=$(tshark --version 2>/dev/null | head -1)

# Command 1, one JSON object per frame with these fields (every occurrence):
FIELDS=(frame.number tcp.stream ip.src ipv6.src tcp.srcport ip.dst ipv6.dst tcp.dstport
	tcp.flags.syn tcp.flags.ack tls.handshake.type tls.handshake.session_id
	tls.handshake.extensions_server_name tls.handshake.extensions_alpn_str
	tls.handshake.extensions.supported_version tls.handshake.version
	tls.handshake.ciphersuite tls.handshake.extensions.psk.identity.selected
	tls.handshake.random tls.handshake.extension.type tls.handshake.extension.len
	http.request.method http.response.code)

tshark_q() { # tshark with the warning about running as root filtered out
	tshark "$@" 2> >(grep -v '^Running as user' >&2)
}

# Distinct client randoms (second field) of an NSS key log read on stdin, as a
# JSON array.
client_randoms() { awk 'NF >= 3 && $1 !~ /^#/ { print tolower($2) }' | sort -u | jq -R . | jq -s -c .; }

# The TLS key log lines held in a pcapng file's Decryption Secrets Blocks
# (pcapng spec, block type 0x0000000A, secrets type 0x544c534b "TLSK").
dsb_keylog() {
	perl -e '
		local $/; open my $f, "<:raw", $ARGV[0] or die "$ARGV[0]: $!"; my $d = <$f>;
		my ($off, $e) = (0, "V");
		while ($off + 12 <= length $d) {
			my $type = unpack "V", substr $d, $off, 4;
			if ($type == 0x0A0D0D0A) {
				$e = (unpack("V", substr $d, $off + 8, 4) == 0x1A2B3C4D) ? "V" : "N";
			}
			$type = unpack $e, substr $d, $off, 4;
			my $len = unpack $e, substr $d, $off + 4, 4;
			last if $len < 12 || $off + $len > length $d;
			if ($type == 0x0A) {
				my ($st, $sl) = unpack "$e$e", substr $d, $off + 8, 8;
				print substr $d, $off + 16, $sl if $st == 0x544c534b;
			}
			$off += $len;
		}' "$1"
}

expected_for() {
	local file=$1 base name
	base=$(basename "$file")
	name=${base%.gz}
	name=${name%.pcap}
	name=${name%.pcapng}
	local keys=$CAP/$name.keys keyopt=() keylog=null embedded=false randoms=null
	if [ -f "$keys" ]; then
		keyopt=(-o "tls.keylog_file:$keys")
		keylog="\"$name.keys\""
		randoms=$(client_randoms <"$keys")
	fi
	local dsb
	dsb=$(case $base in *.pcapng) dsb_keylog "$file" ;; esac)
	if [ -n "$dsb" ]; then
		embedded=true
		randoms=$(client_randoms <<<"$dsb")
	fi
	local ts=(tshark_q -n -r "$file" "${DECODE[@]}" "${keyopt[@]}")

	# Command 1: per-frame fields.
	local e=() f
	for f in "${FIELDS[@]}"; do e+=(-e "$f"); done
	"${ts[@]}" -T json "${e[@]}" >"$TMP/frames.json"

	# Command 2: HTTP/2 HEADERS frames as trees, to pair each :method / :status
	# with the stream identifier of the frame that carries it. Field lists (-T
	# fields) cannot do that: when several HTTP/2 frames share one TCP segment,
	# http2.streamid and http2.headers.method come out as unaligned lists.
	"${ts[@]}" -Y 'http2.headers.method || http2.headers.status' \
		-T json --no-duplicate-keys -J 'tcp http2' >"$TMP/h2.json"

	jq -n --slurpfile frames "$TMP/frames.json" --slurpfile h2 "$TMP/h2.json" \
		--arg capture "$base" --argjson keylog "$keylog" --argjson embedded "$embedded" \
		--argjson randoms "$randoms" --arg tshark "$TSHARK_VERSION" \
		--argjson server_ports "$SERVER_PORTS" -f "$HERE/expected.jq" >"$TMP/figures.json"

	# The client's and nginx's own accounts of the run, which the tshark figures
	# must agree with (see cross_check in testdata/README.md).
	local server=null client=null
	if [ -f "$CAP/$name.server.txt" ]; then
		server=$(awk '{ n++; c[$2] = 1; if ($0 ~ / reused=r /) r[$2] = 1 }
			END { printf "{\"requests\":%d,\"connections\":%d,\"resumed_connections\":%d}\n",
				n, length(c), length(r) }' "$CAP/$name.server.txt")
	fi
	if [ -f "$CAP/$name.client.txt" ]; then
		case $(head -1 "$CAP/$name.client.txt") in
		'# goclient '*)
			client=$(grep -m1 '^{' "$CAP/$name.client.txt" | jq -c '{tool: "goclient", requests,
				tcp_handshakes: .dials, tls_handshakes_finished: .tls_handshakes, tls_resumed,
				connections_with_requests}') ;;
		'# curl_get '*)
			client=$(grep '^transfer ' "$CAP/$name.client.txt" | awk '{
				n++; split($5, a, "="); d += a[2]; split($6, b, "="); p[b[2]] = 1 }
				END { printf "{\"tool\":\"curl\",\"requests\":%d,\"tcp_handshakes\":%d,\"connections_with_requests\":%d}\n",
					n, d, length(p) }') ;;
		'# nghttp '*)
			client=$(printf '{"tool":"nghttp","requests":%d}' \
				"$(grep -c 'send HEADERS frame' "$CAP/$name.client.txt")") ;;
		'# openssl_0rtt '*)
			# s_client prints "New, TLSv1.3, ..." or "Reused, ..." once per connection
			# (not with -quiet: the first connection), and what became of its early data.
			client=$(awk '/^Reused, / { r++ }
				/^Early data was accepted/ { a++ } /^Early data was rejected/ { j++ }
				END { printf "{\"tool\":\"openssl\",\"tls_resumed\":%d,\"early_data_accepted\":%d,\"early_data_rejected\":%d}\n",
					r, a, j }' "$CAP/$name.client.txt") ;;
		esac
	fi
	jq --argjson server "$server" --argjson client "$client" -f "$HERE/cross-check.jq" \
		"$TMP/figures.json" >"$EXP/$name.json"
	echo "expected: $name.json $(jq -c .totals "$EXP/$name.json")" >&2
	if [ "$(jq .cross_check.agree "$EXP/$name.json")" != true ]; then
		echo "expected: $name: tshark disagrees with the client or server log:" >&2
		jq -c .cross_check "$EXP/$name.json" >&2
		FAILED=1
	fi
}

mkdir -p "$EXP"
FAILED=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
shopt -s nullglob
for file in "$CAP"/*.pcap "$CAP"/*.pcapng "$CAP"/*.pcap.gz; do
	n=$(basename "$file")
	n=${n%.gz}
	n=${n%.pcap}
	n=${n%.pcapng}
	[ -n "$ONLY" ] && [ "$ONLY" != "$n" ] && continue
	expected_for "$file"
done
exit "$FAILED"
