#!/usr/bin/env bash
# Writes, for every capture in the nDPI corpus, the number of TCP
# connections tshark finds: the distinct tcp.stream values.
#   tshark -r F -T fields -e tcp.stream | sort -u | grep -c .
# Output (stdout): file<TAB>count, sorted by file name. Usage:
#   scripts/tshark-tcp-streams.sh [CORPUS_DIR] > testdata/oracle/ndpi-tcp-streams.tsv
set -euo pipefail
dir=${1:-../shared/corpus/ndpi}
count() {
    local n
    n=$(tshark -n -r "$1" -T fields -e tcp.stream 2>/dev/null | sort -u | grep -c . || true)
    printf '%s\t%s\n' "$(basename "$1")" "$n"
}
export -f count
find "$dir" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 |
    xargs -0 -n1 -P2 bash -c 'count "$0"' | sort
