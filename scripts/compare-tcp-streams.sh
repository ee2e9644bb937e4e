#!/usr/bin/env bash
# Compares connreuse's totals.tcp_connections with tshark's tcp.stream count
# (testdata/oracle/ndpi-tcp-streams.tsv) over the nDPI corpus. Prints the
# files that differ and the agreement over files that contain TCP.
#   scripts/compare-tcp-streams.sh [CORPUS_DIR] [BINARY]
set -euo pipefail
dir=${1:-../shared/corpus/ndpi}
bin=${2:-target/release/connreuse}
oracle=testdata/oracle/ndpi-tcp-streams.tsv
ours=$(mktemp)
for f in "$dir"/*.pcap "$dir"/*.pcapng "$dir"/*.cap; do
    n=$("$bin" --format json -q "$f" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["tcp_connections"])' 2>/dev/null || echo error)
    printf '%s\t%s\n' "$(basename "$f")" "$n"
done | sort > "$ours"
join -t $'\t' "$oracle" "$ours" | awk -F'\t' '
    $2 > 0 { files++; if ($2 == $3) same++; else printf "%s\ttshark %s\tconnreuse %s\n", $1, $2, $3 }
    END { printf "agreement: %d of %d captures with TCP (%.1f%%)\n", same, files, 100 * same / files }'
rm -f "$ours"
