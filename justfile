# Developer recipes. Nothing a user needs requires `just` (cargo install just).

# The full test suite, as CI runs it.
test:
    bash .ci/run

# The benchmark against cat and tshark (docs/PERFORMANCE.md); SIZE in MB.
bench size="1000":
    bench/run.sh {{size}} testdata/captures/go-h2-concurrent-tls12.pcap testdata/captures/go-h1-undrained.pcapng

# Criterion micro-benchmarks (benches/, docs/PERFORMANCE.md) in a release
# build: BENCH is one of capture, decode, flow, reassembly, parse (default:
# all); FILTER keeps the benchmarks whose name contains it.
microbench BENCH="capture decode flow reassembly parse" FILTER="":
    cargo bench --locked {{ prepend("--bench ", BENCH) }} -- --warm-up-time 1 --measurement-time 3 {{FILTER}}

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

# Needs `cargo install cargo-fuzz --locked`. Seeds are rebuilt from testdata/
# (and ../shared/corpus/ndpi when present) into fuzz/corpus, which git
# ignores; a crash stops the run and leaves its input in fuzz/artifacts.
# TARGETS: a space-separated subset. See docs/RELIABILITY.md.
# Fuzz every target (libFuzzer) for SECS seconds each.
fuzz SECS="60" TARGETS="capture pipeline tls http1 http2 hpack keylog decrypt":
    cd fuzz && cargo run -q --bin seeds -- corpus ../testdata/captures ../testdata/unit ../../shared/corpus/ndpi
    cd fuzz && for t in {{TARGETS}}; do \
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- \
            -max_total_time={{SECS}} -max_len=262144 -rss_limit_mb=4096 -timeout=30 \
            -print_final_stats=1 || exit 1; \
    done
