//! Time per HPACK header block through `http2::hpack::Decoder`, on the
//! header blocks of real connections replayed in their capture order.
//!
//!   tshark -r CAPTURE -o tls.keylog_file:KEYS -Y 'http2.type == 1' \
//!       -T fields -e tcp.stream -e tcp.srcport -e http2.headers > BLOCKS
//!   cargo build --release --example hpack_cost
//!   target/release/examples/hpack_cost BLOCKS [SECONDS]
//!
//! Each line of BLOCKS is one packet: its connection, its direction (any
//! token, here the source port) and the header blocks of its HEADERS
//! frames in hex, comma-separated (tshark's separator for repeated
//! fields). Only captures whose blocks fit in one HEADERS frame qualify
//! (no `http2.type == 9`): tshark's `http2.headers` is one frame's
//! fragment.
//!
//! One round gives every (connection, direction) a fresh decoder, as the
//! tool does, and decodes every block once; rounds repeat for SECONDS
//! (default 2). Both wall time and this thread's CPU time (Linux
//! `/proc/thread-self/schedstat`, which other processes sharing the cores
//! do not inflate) are given per block, decoder creation included.

use connreuse::http2::hpack::Decoder;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Nanoseconds this thread has run on a CPU, if the kernel says.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: hpack_cost BLOCKS [SECONDS]");
    let seconds: f64 = args.get(2).map_or(2.0, |s| s.parse().expect("SECONDS"));
    let text = std::fs::read_to_string(path).expect("BLOCKS readable");

    // (decoder slot, block) in capture order.
    let mut slots: HashMap<(String, String), usize> = HashMap::new();
    let mut blocks: Vec<(usize, Vec<u8>)> = Vec::new();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let (Some(conn), Some(dir), Some(hex)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let n = slots.len();
        let slot = *slots
            .entry((conn.to_string(), dir.to_string()))
            .or_insert(n);
        for b in hex.split(',').filter(|b| !b.is_empty()) {
            blocks.push((slot, unhex(b)));
        }
    }
    let bytes: usize = blocks.iter().map(|(_, b)| b.len()).sum();

    let round = || {
        let mut decoders: Vec<Decoder> = (0..slots.len()).map(|_| Decoder::default()).collect();
        let mut errors = 0usize;
        for (slot, block) in &blocks {
            match decoders[*slot].decode(block) {
                Ok(f) => {
                    black_box(f);
                }
                Err(_) => errors += 1,
            }
        }
        errors
    };

    let errors = round();
    let cpu_start = cpu_ns();
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        black_box(round());
        rounds += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_start
        .zip(cpu_ns())
        .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9);
    let n = rounds as f64 * blocks.len() as f64;
    println!(
        "{} blocks ({} bytes, {:.0} bytes each) in {} decoders, {} failed",
        blocks.len(),
        bytes,
        bytes as f64 / blocks.len() as f64,
        slots.len(),
        errors
    );
    println!(
        "{rounds} rounds in {elapsed:.2} s wall: {:.3} us per block, {:.1} MB/s of header blocks",
        elapsed / n * 1e6,
        bytes as f64 * rounds as f64 / elapsed / 1e6
    );
    if let Some(cpu) = cpu {
        println!(
            "{cpu:.2} s on CPU: {:.3} us per block, {:.1} MB/s of header blocks",
            cpu / n * 1e6,
            bytes as f64 * rounds as f64 / cpu / 1e6
        );
    }
}
