//! `capture::Reader` over in-memory captures: a legacy pcap and a pcapng
//! from testdata/captures, each replicated to about 8 MB so that reading,
//! not opening, dominates.

mod common;

use connreuse::capture::Reader;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;

const SIZE: usize = 8 << 20;

/// Frames and captured bytes in `capture`, read once.
fn count(capture: &Arc<[u8]>) -> (u64, u64) {
    let mut r = Reader::new(Box::new(Cursor::new(Arc::clone(capture)))).expect("a capture");
    let (mut frames, mut bytes) = (0, 0);
    while let Some(f) = r.next_frame().expect("a readable capture") {
        frames += 1;
        bytes += f.data.len() as u64;
    }
    assert_eq!(r.offset(), capture.len() as u64, "read to the end");
    (frames, bytes)
}

fn reading(c: &mut Criterion) {
    let inputs = [
        (
            "pcap",
            common::replicate_pcap(
                &common::read("testdata/captures/go-h2-concurrent-tls12.pcap"),
                SIZE,
            ),
        ),
        (
            "pcapng",
            common::replicate_pcapng(
                &common::read("testdata/captures/go-h2-concurrent-tls13.pcapng"),
                SIZE,
            ),
        ),
    ];
    let mut g = c.benchmark_group("capture");
    for (name, bytes) in inputs {
        let capture: Arc<[u8]> = Arc::from(bytes);
        let (frames, _) = count(&capture);
        // Bytes of the file (headers included), frames read from them.
        g.throughput(Throughput::ElementsAndBytes {
            elements: frames,
            bytes: capture.len() as u64,
        });
        g.bench_function(name, |b| {
            b.iter(|| {
                let src = Box::new(Cursor::new(Arc::clone(&capture)));
                let mut r = Reader::new(src).expect("a capture");
                let mut n = 0u64;
                while let Ok(Some(f)) = r.next_frame() {
                    n += black_box(f.data).len() as u64;
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, reading);
criterion_main!(benches);
