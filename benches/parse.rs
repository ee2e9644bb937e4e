//! Per-message protocol work on real bytes: a TLS ClientHello record read
//! by a `TlsSession` (record layer, tls-parser, the hello's facts, JA3 and
//! JA4), and HTTP/1 through `Http1`: one request head, and a whole
//! keep-alive connection.
//!
//! ClientHellos: curl 7.88.1/OpenSSL 3.0 (curl-tls13-aes256.pcap, frame 4)
//! and Go 1.19 (go-h2-concurrent-tls13.pcapng, frame 13). Seen again, a
//! client's fingerprints come from the per-thread memo; the `-new` cases
//! change the first cipher suite and the first signature algorithm on
//! every iteration (0x1000 + i % 2560, never GREASE) so that MD5 and both
//! SHA-256 hashes are computed each time, as examples/hello_cost.rs does.
//! HTTP/1: go-plain-keepalive.pcap, Go's client making 20 requests on one
//! connection to nginx.

mod common;

use connreuse::http1::Http1;
use connreuse::tls::TlsSession;
use connreuse::{At, Side};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// The first ClientHello record of a capture, sent whole in one segment.
fn client_hello(rel: &str) -> (Vec<u8>, At) {
    let frames = common::frames(&common::read(rel));
    let (seg, at) = common::segments(&frames)
        .into_iter()
        .find(|(s, _)| matches!(s.payload, [0x16, 0x03, _, _, _, 0x01, ..]))
        .expect("a ClientHello");
    let len = match seg.payload {
        [_, _, _, hi, lo, ..] => 5 + usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => 0,
    };
    let record = seg
        .payload
        .get(..len)
        .expect("the whole record in one segment");
    (record.to_vec(), at)
}

/// Offsets of the first cipher suite and of the first signature algorithm
/// in a ClientHello record (RFC 8446 section 4.1.2; 4.2.3 for
/// signature_algorithms, extension 13).
fn mutable_offsets(record: &[u8]) -> (usize, usize) {
    let byte = |i: usize| usize::from(record[i]);
    let u16_at = |i: usize| (byte(i) << 8) | byte(i + 1);
    // Record header, handshake header, legacy_version, random.
    let sid = 5 + 4 + 2 + 32;
    let ciphers = sid + 1 + byte(sid);
    let compression = ciphers + 2 + u16_at(ciphers);
    let mut ext = compression + 1 + byte(compression) + 2;
    while ext + 4 <= record.len() {
        if u16_at(ext) == 13 {
            return (ciphers + 2, ext + 4 + 2);
        }
        ext += 4 + u16_at(ext + 2);
    }
    panic!("no signature_algorithms extension");
}

fn tls(c: &mut Criterion) {
    // tshark 4.0.17's tls.handshake.ja3 of each hello.
    let hellos = [
        (
            "curl",
            "testdata/captures/curl-tls13-aes256.pcap",
            "de301c06164b09604c89663ffb6997d1",
        ),
        (
            "go",
            "testdata/captures/go-h2-concurrent-tls13.pcapng",
            "3fed133de60c35724739b913924b6c24",
        ),
    ];
    let mut g = c.benchmark_group("tls/client-hello");
    for (name, rel, ja3) in hellos {
        let (record, at) = client_hello(rel);
        let mut s = TlsSession::new();
        s.on_data(Side::Client, &record, at);
        let summary = s.summary();
        assert_eq!(summary.ja3.as_deref(), Some(ja3), "{rel}");
        assert!(summary.ja4.is_some(), "{rel}");
        assert_eq!(s.handshakes().len(), 1);

        g.throughput(Throughput::ElementsAndBytes {
            elements: 1,
            bytes: record.len() as u64,
        });
        g.bench_function(format!("{name}-seen"), |b| {
            b.iter_batched_ref(
                TlsSession::new,
                |s| s.on_data(Side::Client, black_box(&record), at),
                BatchSize::SmallInput,
            )
        });
        let (cipher, sig) = mutable_offsets(&record);
        let mut changed = record.clone();
        // A changed hello is still read whole, to other fingerprints.
        changed[cipher..cipher + 2].copy_from_slice(&[0x10, 0x00]);
        changed[sig..sig + 2].copy_from_slice(&[0x10, 0x00]);
        let mut s = TlsSession::new();
        s.on_data(Side::Client, &changed, at);
        let other = s.summary();
        assert!(other.ja3.is_some() && other.ja3 != summary.ja3, "{rel}");
        assert!(other.ja4.is_some() && other.ja4 != summary.ja4, "{rel}");
        assert!(s.anomalies().is_empty(), "{rel}");
        let mut i = 0u16;
        g.bench_function(format!("{name}-new"), |b| {
            b.iter_batched_ref(
                TlsSession::new,
                |s| {
                    i = (i + 1) % 2560;
                    let v = (0x1000 + i).to_be_bytes();
                    changed[cipher..cipher + 2].copy_from_slice(&v);
                    changed[sig..sig + 2].copy_from_slice(&v);
                    s.on_data(Side::Client, black_box(&changed), at)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn http1(c: &mut Criterion) {
    let frames = common::frames(&common::read("testdata/captures/go-plain-keepalive.pcap"));
    let segs = common::segments(&frames);
    let conn = common::connections(&segs).swap_remove(0);
    let stream = common::stream(&conn);
    let run = |stream: &[(Side, &[u8], At)]| {
        let mut h = Http1::new();
        for &(side, data, at) in stream {
            h.on_data(side, data, at);
        }
        let last = stream.last().map(|&(_, _, at)| at).unwrap_or_default();
        h.on_close(last);
        h.take_requests().count()
    };
    // testdata/expected/go-plain-keepalive.json: tshark counts 20 requests.
    assert_eq!(run(&stream), 20);
    let &(side, head, at) = stream.first().expect("a request");
    assert_eq!(side, Side::Client);
    assert!(head.starts_with(b"GET ") && head.ends_with(b"\r\n\r\n"));

    let mut g = c.benchmark_group("http1");
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: head.len() as u64,
    });
    g.bench_function("request-head", |b| {
        b.iter_batched_ref(
            Http1::new,
            |h| h.on_data(Side::Client, black_box(head), at),
            BatchSize::SmallInput,
        )
    });
    // Requests (with their responses) per second.
    g.throughput(Throughput::ElementsAndBytes {
        elements: 20,
        bytes: stream.iter().map(|(_, d, _)| d.len() as u64).sum(),
    });
    g.bench_function("keep-alive-connection", |b| {
        b.iter(|| run(black_box(&stream)))
    });
    g.finish();
}

criterion_group!(benches, tls, http1);
criterion_main!(benches);
