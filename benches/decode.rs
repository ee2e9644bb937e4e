//! `decode::decode` per frame: Ethernet/IPv4/TCP as captured (a mix of
//! handshakes, ACKs and full-size data), and the same four real frames
//! bare, in an 802.1Q VLAN tag and in QinQ (testdata/unit, made from nDPI's
//! 443-curl.pcap by testdata/unit/make.py), and IPv6/TCP from nDPI's
//! http_ipv6.pcap when ../shared/corpus is present.

mod common;

use common::Frame;
use connreuse::decode::{self, Decoded};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::IpAddr;

/// The frames of `capture` that decode to TCP (over IPv6 only, if `v6`).
fn tcp_frames(capture: &[u8], v6: bool) -> Vec<Frame> {
    common::frames(capture)
        .into_iter()
        .filter(|f| match decode::decode(f.linktype, &f.data) {
            Decoded::Tcp(s) => !v6 || matches!(s.src, IpAddr::V6(_)),
            _ => false,
        })
        .collect()
}

/// (sequence number, payload length) of each frame's segment.
fn summary(frames: &[Frame]) -> Vec<(u32, usize)> {
    frames
        .iter()
        .map(|f| match decode::decode(f.linktype, &f.data) {
            Decoded::Tcp(s) => (s.seq.0, s.payload.len()),
            other => panic!("not TCP: {other:?}"),
        })
        .collect()
}

fn decoding(c: &mut Criterion) {
    let unit = |name: &str| common::frames(&common::read(&format!("testdata/unit/{name}")));
    let bare = unit("eth-le-usec.pcap");
    let vlan = unit("vlan.pcap");
    let qinq = unit("qinq.pcap");
    // The tagged files hold the very segments of the bare one.
    assert_eq!(summary(&vlan), summary(&bare));
    assert_eq!(summary(&qinq), summary(&bare));
    let captured = common::read("testdata/captures/go-h2-concurrent-tls13.pcapng");
    let mut sets = vec![
        ("ethernet-ipv4-tcp/captured", tcp_frames(&captured, false)),
        ("ethernet-ipv4-tcp/443-curl", bare),
        ("vlan-ipv4-tcp/443-curl", vlan),
        ("qinq-ipv4-tcp/443-curl", qinq),
    ];
    if let Some(v6) = common::corpus("http_ipv6.pcap") {
        sets.push(("ethernet-ipv6-tcp/http_ipv6", tcp_frames(&v6, true)));
    }
    let mut g = c.benchmark_group("decode");
    for (name, frames) in &sets {
        assert!(!frames.is_empty(), "{name}: no frames");
        summary(frames);
        g.throughput(Throughput::ElementsAndBytes {
            elements: frames.len() as u64,
            bytes: frames.iter().map(|f| f.data.len() as u64).sum(),
        });
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for f in frames {
                    if let Decoded::Tcp(s) = decode::decode(f.linktype, black_box(&f.data)) {
                        n += black_box(s).payload.len();
                    }
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decoding);
criterion_main!(benches);
