//! Damaged captures: every capture of the nDPI corpus (when present) and the
//! unit fixtures, cut short at several offsets, with bits flipped in headers
//! and payloads, and with frames duplicated or dropped. Nothing may panic or
//! hang; a cut capture must report the records before the cut and say where
//! it was damaged.

use connreuse::analyze::{self, CaptureResult};
use connreuse::capture::Error;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("testdata/unit"),
        root.join("../shared/corpus/ndpi"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("pcap" | "pcapng" | "cap" | "gz")
                    )
                }),
        );
    }
    files.sort();
    files
}

/// A deterministic xorshift stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn run(name: &str, bytes: Vec<u8>) -> CaptureResult {
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| {
            analyze::reader(owned, Box::new(Cursor::new(bytes)), &Default::default())
        });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => panic!("{name}: panicked"),
        Err(_) => panic!("{name}: no result within 60 s"),
    }
}

/// Legacy pcap records (little-endian, microseconds): (header+data) spans.
fn pcap_records(bytes: &[u8]) -> Option<Vec<(usize, usize)>> {
    if bytes.get(..4)? != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    let mut at = 24;
    let mut spans = Vec::new();
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes.get(at + 8..at + 12)?.try_into().ok()?) as usize;
        let end = at.checked_add(16 + caplen)?;
        if end > bytes.len() {
            return None;
        }
        spans.push((at, end));
        at = end;
    }
    Some(spans)
}

#[test]
fn truncated_flipped_duplicated_and_dropped() {
    let files = inputs();
    assert!(!files.is_empty());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in &files {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).expect("readable");
        if bytes.len() > 4 << 20 {
            continue;
        }
        let whole = run(&name, bytes.clone());
        let compressed = bytes.starts_with(&[0x1f, 0x8b]);

        // Cut short: the packets before the cut survive, the error says where.
        for _ in 0..4 {
            let cut = rng.below(bytes.len());
            let r = run(&name, bytes[..cut].to_vec());
            assert!(r.info.packets <= whole.info.packets, "{name} cut at {cut}");
            if let Some(Error::Truncated { offset } | Error::Corrupt { offset, .. }) = &r.error
                && !compressed
            {
                assert!(
                    *offset <= cut as u64,
                    "{name} cut at {cut}: offset {offset}"
                );
            }
        }

        // Bits flipped: anywhere in the first 64 bytes (file and first
        // record headers) and anywhere at all.
        for round in 0..8 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + round {
                let at = if round % 2 == 0 {
                    rng.below(64.min(damaged.len()))
                } else {
                    rng.below(damaged.len())
                };
                damaged[at] ^= 1 << rng.below(8);
            }
            run(&name, damaged);
        }

        // Frames duplicated, dropped and swapped (legacy pcap only).
        if let Some(spans) = pcap_records(&bytes)
            && spans.len() > 2
        {
            let mut out = bytes[..24].to_vec();
            for (i, &(a, b)) in spans.iter().enumerate() {
                match rng.below(6) {
                    0 => {}
                    1 => {
                        out.extend_from_slice(&bytes[a..b]);
                        out.extend_from_slice(&bytes[a..b]);
                    }
                    2 if i + 1 < spans.len() => {
                        let (c, d) = spans[i + 1];
                        out.extend_from_slice(&bytes[c..d]);
                        out.extend_from_slice(&bytes[a..b]);
                    }
                    _ => out.extend_from_slice(&bytes[a..b]),
                }
            }
            let r = run(&name, out);
            assert!(
                r.error.is_none(),
                "{name}: reshuffled frames are still a valid capture"
            );
        }
    }
}
