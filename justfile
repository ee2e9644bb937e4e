# Developer recipes. Nothing a user needs requires `just` (cargo install just).

# The full test suite, as CI runs it.
test:
    bash .ci/run

# The benchmark against cat and tshark (docs/PERFORMANCE.md); SIZE in MB.
bench size="1000":
    bench/run.sh {{size}} testdata/captures/go-h2-concurrent-tls12.pcap testdata/captures/go-h1-undrained.pcapng

# tshark's tcp.stream counts over the nDPI corpus (needs tshark).
oracle corpus="../shared/corpus/ndpi":
    scripts/tshark-tcp-streams.sh {{corpus}} > testdata/oracle/ndpi-tcp-streams.tsv

# connreuse against that oracle, file by file.
crosscheck corpus="../shared/corpus/ndpi":
    cargo build --release
    scripts/compare-tcp-streams.sh {{corpus}}

# Regenerate the real-client captures in testdata/captures and their expected
# figures (root on Debian 12; see testdata/README.md). NAME: one scenario only.
captures NAME="":
    bash testdata/make-captures.sh {{NAME}}

# Recompute testdata/expected/*.json from the committed captures with tshark.
expected NAME="":
    bash testdata/expected.sh {{NAME}}
