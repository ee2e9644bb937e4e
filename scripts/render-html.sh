#!/usr/bin/env bash
# Renders the HTML report of one capture and takes a screenshot of it with
# headless Chromium, to check that the page renders without network access.
#
#   scripts/render-html.sh [CAPTURE [PNG]]
#
# CAPTURE defaults to testdata/captures/go-h2-concurrent-tls13.pcapng and PNG
# to docs/timeline.png. Needs Debian's chromium:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
# The page comes from `connreuse --format html` when the binary offers it,
# else from the library through tests/report_html.rs (CONNREUSE_HTML_OUT).
set -euo pipefail

cd "$(dirname "$0")/.."
capture=${1:-testdata/captures/go-h2-concurrent-tls13.pcapng}
png=${2:-docs/timeline.png}

command -v chromium >/dev/null || {
    echo "chromium is not installed: DEBIAN_FRONTEND=noninteractive apt-get install -y chromium" >&2
    exit 2
}
[ -f "$capture" ] || { echo "$capture: no such capture" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
html=$work/report.html

cargo build --quiet
if ./target/debug/connreuse --help | grep -q '^ *- html'; then
    ./target/debug/connreuse --quiet --format html "$capture" >"$html"
else
    case "$capture" in
        testdata/captures/*) ;;
        *) echo "$capture: without --format html only testdata/captures/ can be rendered" >&2; exit 2 ;;
    esac
    CONNREUSE_HTML_OUT=$html CONNREUSE_HTML_CAPTURE=${capture#testdata/captures/} \
        cargo test --quiet --test report_html page_file_is_written_atomically >/dev/null
fi
[ -s "$html" ] || { echo "no page was written" >&2; exit 1; }

mkdir -p "$(dirname "$png")"
# Nothing is fetched (the page's Content-Security-Policy forbids it) and the
# browser profile is thrown away with the temporary directory.
timeout 120 chromium --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --hide-scrollbars --user-data-dir="$work/profile" \
    --screenshot="$png" --window-size=1400,1000 "file://$html" 2>"$work/chromium.log" || {
    cat "$work/chromium.log" >&2
    exit 1
}
echo "$png: screenshot of the report of $capture ($(wc -c <"$html") bytes of HTML)"
