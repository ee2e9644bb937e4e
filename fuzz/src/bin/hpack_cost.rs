//! What HPACK decoding costs, in a release build: `cargo run --release
//! --bin hpack_cost` (in fuzz/). Two client streams through
//! `connreuse::http2::Http2`: 20 000 HEADERS frames each carrying RFC 7541's
//! example C.4.1 (three indexed fields and one Huffman-coded value), and 20
//! header blocks of 5000 fields whose name and value are one-symbol Huffman
//! strings. docs/RELIABILITY.md has the figures (Huffman strings are
//! decoded by loona-hpack).

use connreuse::http2::{Http2, PREFACE};
use connreuse::{At, Side};

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn main() {
    let c41 = [
        0x82u8, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90,
        0xf4, 0xff,
    ];
    // Literal without indexing, new name: H, length 1, 'a'; the same value.
    let tiny = [0x00u8, 0x81, 0x1f, 0x81, 0x1f].repeat(5000);
    for (name, block, n) in [("C.4.1", &c41[..], 20_000u32), ("tiny", &tiny[..], 20)] {
        let mut client = PREFACE.to_vec();
        for i in 0..n {
            client.extend(frame(1, 5, 1 + 2 * i, block));
        }
        let started = std::time::Instant::now();
        let mut h = Http2::new_prior_knowledge();
        h.on_data(Side::Client, &client, At::default());
        let took = started.elapsed();
        println!(
            "{name}: {n} blocks, {} bytes, {:.2} us a block, {:.1} MB/s",
            client.len(),
            took.as_secs_f64() * 1e6 / f64::from(n),
            client.len() as f64 / took.as_secs_f64() / 1e6
        );
    }
}
