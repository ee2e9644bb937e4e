//! `flow::Table::segment` with an analyzer that only counts bytes: many
//! short connections (curl-h2c.pcap's first connection, SYN to FIN, from
//! 4096 client addresses) and one long connection (the largest of
//! go-h2-concurrent-tls13.pcapng, its data phase played 64 times in order).

mod common;

use connreuse::decode::Segment;
use connreuse::flow::{Analyzer, Table};
use connreuse::ledger::Close;
use connreuse::{At, Side};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Counts what a connection delivers.
#[derive(Default)]
struct Count {
    bytes: u64,
    gaps: u64,
}

impl Analyzer for Count {
    fn on_data(&mut self, _: Side, data: &[u8], _: At) {
        self.bytes += data.len() as u64;
    }
    fn on_gap(&mut self, _: Side, _: u64, _: At) {
        self.gaps += 1;
    }
    fn on_close(&mut self, _: Option<(Side, Close)>, _: At) {}
}

/// Every segment through a new table; (connections, bytes, gaps).
fn run(segs: &[(Segment<'_>, At)]) -> (u64, u64, u64) {
    let mut table = Table::new(Count::default);
    for (s, at) in segs {
        table.segment(s, *at);
    }
    table.finish_all();
    table.take_finished().fold((0, 0, 0), |(n, b, g), f| {
        (n + 1, b + f.app.bytes, g + f.app.gaps)
    })
}

fn payload(segs: &[(Segment<'_>, At)]) -> u64 {
    segs.iter().map(|(s, _)| s.payload.len() as u64).sum()
}

fn table(c: &mut Criterion) {
    let short = common::frames(&common::read("testdata/captures/curl-h2c.pcap"));
    let short = common::segments(&short);
    let short = common::connections(&short).swap_remove(0);
    let (n, rounds) = (4096, 64);
    let many = common::many_connections(&short, n);
    let (one, bytes, gaps) = run(&short);
    assert_eq!((one, gaps), (1, 0));
    assert_eq!(run(&many), (u64::from(n), u64::from(n) * bytes, 0));

    let long = common::frames(&common::read(
        "testdata/captures/go-h2-concurrent-tls13.pcapng",
    ));
    let long = common::segments(&long);
    let long = common::largest(&long);
    let replayed = common::long_connection(&long, rounds);
    let (one, bytes, gaps) = run(&long);
    assert_eq!((one, gaps), (1, 0));
    let control = payload(
        &long
            .iter()
            .filter(|(s, _)| s.flags.syn || s.flags.fin || s.flags.rst)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let expected = bytes + u64::from(rounds - 1) * (bytes - control);
    assert_eq!(run(&replayed), (1, expected, 0));

    let mut g = c.benchmark_group("flow");
    for (name, segs) in [("short-connections", &many), ("long-connection", &replayed)] {
        g.throughput(Throughput::ElementsAndBytes {
            elements: segs.len() as u64,
            bytes: payload(segs),
        });
        g.bench_function(BenchmarkId::new(name, segs.len()), |b| {
            b.iter(|| run(black_box(segs)))
        });
    }
    g.finish();
}

criterion_group!(benches, table);
criterion_main!(benches);
