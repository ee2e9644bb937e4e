//! Builds a large benchmark capture from small real ones, deterministically:
//! the flows of the inputs are replayed again and again, each replica with
//! its own client address and port and its times shifted after the previous
//! one, until the output reaches the requested size.
//!
//!   cargo run --release --example synth -- OUT.pcap SIZE_MB INPUT...
//!
//! Inputs must be Ethernet/IPv4 captures (what tcpdump writes on lo). The
//! output is a legacy pcap with microsecond timestamps.

use connreuse::capture::Reader;
use std::io::{BufWriter, Write};
use std::path::Path;

struct Frame {
    ts_us: i64,
    data: Vec<u8>,
}

fn load(path: &Path) -> Vec<Frame> {
    let mut reader = Reader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames = Vec::new();
    while let Ok(Some(f)) = reader.next_frame() {
        if f.linktype.0 == 1 {
            frames.push(Frame {
                ts_us: f.ts.0 / 1000,
                data: f.data.to_vec(),
            });
        }
    }
    frames
}

/// Rewrites the IPv4 client side of a frame: the address whose last octet
/// and the port that are not the server's. The server keeps its address.
fn rewrite(data: &mut [u8], replica: u64, server_ports: &[u16]) {
    if data.len() < 14 + 20 || data[12..14] != [0x08, 0x00] {
        return;
    }
    let ihl = usize::from(data[14] & 0x0f) * 4;
    if data[14 + 9] != 6 || data.len() < 14 + ihl + 4 {
        return;
    }
    let sport = u16::from_be_bytes([data[14 + ihl], data[14 + ihl + 1]]);
    let client_is_src = !server_ports.contains(&sport);
    let (addr_at, port_at) = if client_is_src {
        (14 + 12, 14 + ihl)
    } else {
        (14 + 16, 14 + ihl + 2)
    };
    let r = replica as u32;
    // 10.(r>>16).(r>>8).(r) as the client address; ports cycle above 10000.
    data[addr_at..addr_at + 4].copy_from_slice(&[10, (r >> 16) as u8, (r >> 8) as u8, r as u8]);
    let old = u16::from_be_bytes([data[port_at], data[port_at + 1]]);
    let port = 10000 + ((u32::from(old) + r) % 50000) as u16;
    data[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: synth OUT.pcap SIZE_MB INPUT...");
        std::process::exit(2);
    }
    let target = args[2].parse::<u64>().expect("SIZE_MB") << 20;
    let inputs: Vec<Vec<Frame>> = args[3..].iter().map(|p| load(Path::new(p))).collect();
    // Server ports: those that received a SYN.
    let mut server_ports = Vec::new();
    for f in inputs.iter().flatten() {
        let d = &f.data;
        if d.len() > 14 + 20 && d[12..14] == [0x08, 0x00] {
            let ihl = usize::from(d[14] & 0x0f) * 4;
            if d.len() > 14 + ihl + 14 && d[14 + ihl + 13] & 0x12 == 0x02 {
                server_ports.push(u16::from_be_bytes([d[14 + ihl + 2], d[14 + ihl + 3]]));
            }
        }
    }
    server_ports.sort_unstable();
    server_ports.dedup();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[1]).expect("OUT"));
    out.write_all(&[
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0,
    ])
    .expect("write");
    let (mut written, mut replica, mut clock) = (24u64, 0u64, 1_700_000_000_000_000i64);
    let mut packets = 0u64;
    while written < target {
        for frames in &inputs {
            let Some(first) = frames.first() else {
                continue;
            };
            let base = first.ts_us;
            let mut last = clock;
            for f in frames {
                let mut data = f.data.clone();
                rewrite(&mut data, replica, &server_ports);
                let ts = clock + (f.ts_us - base);
                last = last.max(ts);
                let (sec, usec) = (ts / 1_000_000, ts % 1_000_000);
                let len = data.len() as u32;
                for word in [sec as u32, usec as u32, len, len] {
                    out.write_all(&word.to_le_bytes()).expect("write");
                }
                out.write_all(&data).expect("write");
                written += 16 + u64::from(len);
                packets += 1;
            }
            clock = last + 1000;
            replica += 1;
        }
    }
    out.flush().expect("flush");
    eprintln!(
        "{}: {written} bytes, {packets} packets, {replica} replicas",
        args[1]
    );
}
