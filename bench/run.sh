#!/usr/bin/env bash
# The benchmark: on the same files, in one run, times
#   cat FILE > /dev/null                       (the I/O floor)
#   connreuse --format json FILE > /dev/null   (the full report)
#   tshark answering the same question          (ClientHellos and HTTP requests per stream)
# with hyperfine (medians of repeated runs, file in page cache), and peak RSS
# with GNU time. Results go to bench/out/ and are summarised on stdout.
#
#   bench/run.sh [SIZE_MB] [INPUT...]
#   FILE=existing.pcap bench/run.sh        (benchmark a capture as it is)
#   bench/run.sh decrypt [SIZE_MB [SEGMENT [BODY_KB]]]
#       decryption: a TLS 1.3 AES-128-GCM capture of HTTP/1.1 downloads and its
#       key log made by examples/synth_tls13.rs; times cat, connreuse with
#       --keylog, connreuse without it, and tshark with -o tls.keylog_file
# Needs: hyperfine, tshark, GNU time (Debian: hyperfine tshark time).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"

if [ "${1:-}" = decrypt ]; then
    size=${2:-1000}
    segment=${3:-16384}
    body_kb=${4:-1024}
    cargo build --release --bin connreuse --example synth_tls13
    base=decrypt-${size}m-${segment}-${body_kb}k
    file=$out/$base.pcap
    keys=$out/$base.keys
    if [ ! -f "$file" ] || [ ! -f "$keys" ]; then
        target/release/examples/synth_tls13 "$file" "$keys" "$size" "$segment" "$body_kb"
    fi
    bytes=$(stat -L -c %s "$file")
    report=$(target/release/connreuse --format json -q --keylog "$keys" "$file")
    packets=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["packets"])' <<<"$report")
    echo "connreuse with keys: $(python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print({k: t[k] for k in ("requests", "connections_decrypted", "tcp_connections")})' <<<"$report")"
    cat "$file" >/dev/null
    hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$out/hyperfine-$base.json" \
        -n cat "cat $file > /dev/null" \
        -n connreuse-keys "target/release/connreuse --format json --keylog $keys $file > /dev/null" \
        -n connreuse-no-keys "target/release/connreuse --format json $file > /dev/null"
    if [ -z "${SKIP_TSHARK:-}" ]; then
        echo "tshark with the key log: $(tshark -n -r "$file" -o "tls.keylog_file:$keys" -Y http.request -T fields -e tcp.stream 2>/dev/null | wc -l) requests"
        hyperfine --runs "${TSHARK_RUNS:-1}" --export-json "$out/hyperfine-tshark-$base.json" \
            -n tshark-keys "tshark -n -r $file -o tls.keylog_file:$keys -Y 'tls.handshake.type == 1 || http.request || http2.headers.method' -T fields -e tcp.stream > /dev/null"
    fi
    rss=$( { /usr/bin/time -f %M target/release/connreuse --format json --keylog "$keys" "$file" > /dev/null; } 2>&1 | tail -1)
    cpu=$( { /usr/bin/time -f '%U %S' target/release/connreuse --format json --keylog "$keys" "$file" > /dev/null; } 2>&1 | tail -1)
    python3 bench/summary.py "$out" "$base" "$bytes" "$packets" "$rss" connreuse-keys tshark-keys "$cpu"
    exit 0
fi

size=${1:-1000}
shift || true
inputs=("$@")
cargo build --release --bin connreuse --example synth
file=${FILE:-$out/bench-${size}m.pcap}
if [ ! -f "$file" ]; then
    [ ${#inputs[@]} -gt 0 ] || { echo "no input captures" >&2; exit 2; }
    target/release/examples/synth "$file" "$size" "${inputs[@]}"
fi
bytes=$(stat -L -c %s "$file")
packets=$(target/release/connreuse --format json -q "$file" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["packets"])')
cat "$file" > /dev/null
runs=${RUNS:-5}
hyperfine --warmup 1 --runs "$runs" --export-json "$out/hyperfine-$(basename "$file" .pcap).json" \
    -n cat "cat $file > /dev/null" \
    -n connreuse "target/release/connreuse --format json $file > /dev/null"
if [ -z "${SKIP_TSHARK:-}" ]; then
    hyperfine --runs "${TSHARK_RUNS:-2}" --export-json "$out/hyperfine-tshark-$(basename "$file" .pcap).json" \
        -n tshark "tshark -n -r $file -Y 'tls.handshake.type == 1 || http.request || http2.headers.method' -T fields -e tcp.stream > /dev/null"
fi
rss=$( { /usr/bin/time -f %M target/release/connreuse --format json "$file" > /dev/null; } 2>&1 | tail -1)
python3 bench/summary.py "$out" "$(basename "$file" .pcap)" "$bytes" "$packets" "$rss" connreuse tshark
