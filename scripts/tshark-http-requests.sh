#!/usr/bin/env bash
# Writes, for every capture in the nDPI corpus, the cleartext HTTP requests over TCP
# tshark finds: HTTP/1.x request lines, and HTTP/2 streams whose HEADERS
# carry a :method (counted as distinct (tcp.stream, stream id) pairs, since
# one frame can hold several requests and tshark repeats fields per frame).
#   tshark -r F -Y "tcp && http.request" -T fields -e frame.number | wc -l
#   tshark -r F -Y http2.headers.method -T fields -e tcp.stream -e http2.streamid
# Output: file<TAB>http1<TAB>h2, sorted by file name. Usage:
#   scripts/tshark-http-requests.sh [CORPUS_DIR] > testdata/oracle/ndpi-http-requests.tsv
set -euo pipefail
dir=${1:-../shared/corpus/ndpi}
count() {
    local h1 h2
    h1=$(tshark -n -r "$1" -Y "tcp && http.request" -T fields -e frame.number 2>/dev/null | grep -c . || true)
    h2=$(tshark -n -r "$1" -Y http2.headers.method -T fields -e tcp.stream -e http2.streamid 2>/dev/null |
        awk -F'\t' '{ n = split($2, ids, ","); for (i = 1; i <= n; i++) print $1 "/" ids[i] }' | sort -u | grep -c . || true)
    printf '%s\t%s\t%s\n' "$(basename "$1")" "$h1" "$h2"
}
export -f count
find "$dir" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 |
    xargs -0 -n1 -P2 bash -c 'count "$0"' | sort
