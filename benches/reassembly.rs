//! `flow::Reassembler` on one direction of a real connection (the server's
//! side of the largest connection of go-h2-concurrent-tls13.pcapng, its
//! segments repeated 64 times with sequence numbers shifted to continue the
//! stream): in order, each window of 16 segments reversed, and every
//! segment sent twice.

mod common;

use common::Piece;
use connreuse::Side;
use connreuse::flow::reassembly::Stats;
use connreuse::flow::{Event, GLOBAL_PENDING, Reassembler, Seq};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// One direction reassembled from `pieces`; the bytes delivered, and the
/// reassembler's counters.
fn run(isn: Seq, pieces: &[Piece<'_>]) -> (u64, Stats) {
    let mut r = Reassembler::default();
    r.start_after_syn(isn);
    let mut budget = GLOBAL_PENDING;
    let mut bytes = 0u64;
    let mut out = |e: Event<'_>| {
        if let Event::Data(d) = e {
            bytes += black_box(d).len() as u64;
        }
    };
    for &(seq, data, missing) in pieces {
        r.segment(seq, data, missing, &mut budget, &mut out);
    }
    r.flush(&mut budget, &mut out);
    (bytes, r.stats)
}

fn reassembly(c: &mut Criterion) {
    let frames = common::frames(&common::read(
        "testdata/captures/go-h2-concurrent-tls13.pcapng",
    ));
    let segs = common::segments(&frames);
    let conn = common::largest(&segs);
    let (isn, in_order) = common::one_direction(&conn, Side::Server, 64);
    let reversed: Vec<Piece<'_>> = in_order
        .chunks(16)
        .flat_map(|w| w.iter().rev().copied())
        .collect();
    let doubled: Vec<Piece<'_>> = in_order.iter().flat_map(|&p| [p, p]).collect();

    let (bytes, stats) = run(isn, &in_order);
    assert_eq!(stats.gaps, 0);
    assert_eq!(stats.out_of_order, 0);
    let (b, s) = run(isn, &reversed);
    assert_eq!((b, s.gaps), (bytes, 0));
    assert!(s.out_of_order > 0);
    let (b, s) = run(isn, &doubled);
    assert_eq!((b, s.gaps), (bytes, 0));
    assert_eq!(s.duplicates, stats.duplicates + in_order.len() as u64);

    let mut g = c.benchmark_group("reassembly");
    for (name, pieces) in [
        ("in-order", &in_order),
        ("reversed-16", &reversed),
        ("duplicated", &doubled),
    ] {
        // Segments taken, and the bytes of the stream delivered from them.
        g.throughput(Throughput::ElementsAndBytes {
            elements: pieces.len() as u64,
            bytes,
        });
        g.bench_function(name, |b| b.iter(|| run(isn, black_box(pieces))));
    }
    g.finish();
}

criterion_group!(benches, reassembly);
criterion_main!(benches);
