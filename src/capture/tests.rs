//! Reader tests over the fixtures in testdata/unit (made by make.py there:
//! the first four frames of nDPI's 443-curl.pcap in each container and link
//! type). Expected times and lengths are tshark's:
//!   tshark -r F -T fields -e frame.number -e frame.time_epoch -e frame.cap_len
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::decode::{Decoded, decode};
use std::io::Cursor;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/unit/",
            $name
        ))
        .as_slice()
    };
}

/// tshark's frame.time_epoch of the four frames, in nanoseconds.
const TIMES: [i64; 4] = [
    1_581_113_120_474_299_000,
    1_581_113_120_512_991_000,
    1_581_113_120_513_098_000,
    1_581_113_120_522_725_000,
];
/// tshark's frame.cap_len of the four Ethernet frames.
const ETH_LENS: [usize; 4] = [78, 74, 66, 583];

#[derive(Debug, PartialEq)]
struct Seen {
    index: u64,
    ts: i64,
    linktype: u32,
    len: usize,
    ports: Option<(u16, u16, usize)>,
}

/// Reads every frame; returns them and the error that stopped reading.
fn read_all(src: Box<dyn Read + Send>) -> (Vec<Seen>, Option<Error>) {
    let mut reader = match Reader::new(src) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut seen = Vec::new();
    loop {
        match reader.next_frame() {
            Ok(Some(f)) => {
                let ports = match decode(f.linktype, f.data) {
                    Decoded::Tcp(s) => Some((s.sport, s.dport, s.payload.len())),
                    _ => None,
                };
                seen.push(Seen {
                    index: f.index,
                    ts: f.ts.0,
                    linktype: f.linktype.0,
                    len: f.data.len(),
                    ports,
                });
            }
            Ok(None) => return (seen, None),
            Err(e) => return (seen, Some(e)),
        }
    }
}

fn read_bytes(b: &[u8]) -> (Vec<Seen>, Option<Error>) {
    read_all(Box::new(Cursor::new(b.to_vec())))
}

/// The four frames as tshark shows them (tcp.srcport, tcp.dstport, tcp.len).
fn expect_curl(seen: &[Seen], linktype: u32, link_header: usize) {
    let ports = [
        (55523, 443, 0),
        (443, 55523, 0),
        (55523, 443, 0),
        (55523, 443, 517),
    ];
    assert_eq!(seen.len(), 4, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.index, i as u64 + 1);
        assert_eq!(s.ts, TIMES[i]);
        assert_eq!(s.linktype, linktype);
        assert_eq!(s.len, ETH_LENS[i] - 14 + link_header);
        assert_eq!(s.ports, Some(ports[i]));
    }
}

macro_rules! link_case {
    ($test:ident, $file:literal, $linktype:expr, $header:expr) => {
        #[test]
        fn $test() {
            let (seen, err) = read_bytes(fixture!($file));
            assert!(err.is_none(), "{err:?}");
            expect_curl(&seen, $linktype, $header);
        }
    };
}

link_case!(pcap_little_endian_microseconds, "eth-le-usec.pcap", 1, 14);
link_case!(pcap_big_endian_nanoseconds, "eth-be-nsec.pcap", 1, 14);
link_case!(ethernet_802_1q, "vlan.pcap", 1, 18);
link_case!(ethernet_qinq, "qinq.pcap", 1, 22);
link_case!(raw_ip, "raw.pcap", 101, 0);
link_case!(linktype_ipv4, "ipv4.pcap", 228, 0);
link_case!(linux_cooked_v1, "sll.pcap", 113, 16);
link_case!(linux_cooked_v2, "sll2.pcap", 276, 20);
link_case!(bsd_null, "null.pcap", 0, 4);
link_case!(openbsd_loop, "loop.pcap", 108, 4);
link_case!(gzip_detected_by_magic, "eth-le-usec.pcap.gz", 1, 14);

#[test]
fn zstd_detected_by_magic() {
    let packed = zstd::encode_all(fixture!("eth-le-usec.pcap"), 3).unwrap_or_default();
    let (seen, err) = read_bytes(&packed);
    assert!(err.is_none(), "{err:?}");
    expect_curl(&seen, 1, 14);
}

/// A source that hands out at most `n` bytes per read, like a pipe.
struct Trickle(Cursor<Vec<u8>>, usize);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(buf.get_mut(..n).unwrap_or_default())
    }
}

#[test]
fn headers_split_across_reads() {
    for step in [1, 3, 7, 100] {
        for file in [fixture!("eth-le-usec.pcap"), fixture!("multi.pcapng")] {
            let whole = read_bytes(file).0;
            let (split, err) = read_all(Box::new(Trickle(Cursor::new(file.to_vec()), step)));
            assert!(err.is_none(), "{err:?}");
            assert_eq!(split, whole, "reads of {step} bytes");
        }
    }
}

#[test]
fn pcapng_interfaces_resolutions_sections_and_secrets() {
    let bytes = fixture!("multi.pcapng");
    let mut reader = Reader::new(Box::new(Cursor::new(bytes.to_vec()))).unwrap_or_else(|e| {
        unreachable!("{e}");
    });
    assert_eq!(reader.format(), Format::Pcapng);
    let mut seen = Vec::new();
    while let Ok(Some(f)) = reader.next_frame() {
        seen.push((f.ts.0, f.linktype.0, f.data.len()));
    }
    // tshark: frame 3 is on an interface with if_tsresol 2^-10 and shows
    // 1581113120.512695312; the Simple Packet Block (frame 4) has no time
    // and gets the previous one; frame 5 is in a second section whose only
    // interface is raw IP.
    assert_eq!(
        seen,
        vec![
            (TIMES[0], 1, 78),
            (TIMES[1], 101, 60),
            (1_581_113_120_512_695_312, 1, 66),
            (1_581_113_120_512_695_312, 1, 583),
            (TIMES[3], 101, 569),
        ]
    );
    assert_eq!(reader.take_secrets(), b"CLIENT_RANDOM 00 11\n\n");
}

/// pcapng blocks, little-endian (draft-ietf-opsawg-pcapng sections 4.1,
/// 4.2, 4.8): a Section Header, an Interface Description (Ethernet), a
/// Decryption Secrets Block holding `text` as a TLS key log.
fn shb() -> Vec<u8> {
    let mut b = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
    ];
    b.extend_from_slice(&[0xff; 8]);
    b.extend_from_slice(&[28, 0, 0, 0]);
    b
}

fn idb() -> Vec<u8> {
    let mut b = vec![1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&[20, 0, 0, 0]);
    b
}

fn dsb(text: &[u8]) -> Vec<u8> {
    let padded = text.len().next_multiple_of(4);
    let len = (20 + padded) as u32;
    let mut b = vec![0x0a, 0, 0, 0];
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&0x544c_534bu32.to_le_bytes());
    b.extend_from_slice(&(text.len() as u32).to_le_bytes());
    b.extend_from_slice(text);
    b.resize(b.len() + padded - text.len(), 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn decryption_secrets_are_capped_until_taken() {
    // Through the reader: two blocks, both kept, each ending a line.
    let mut bytes = shb();
    bytes.extend(dsb(b"CLIENT_RANDOM aa bb"));
    bytes.extend(dsb(b"CLIENT_RANDOM cc dd"));
    let mut reader = Reader::new(Box::new(Cursor::new(bytes))).unwrap();
    assert!(reader.next_frame().unwrap().is_none());
    assert_eq!(
        reader.take_secrets(),
        b"CLIENT_RANDOM aa bb\nCLIENT_RANDOM cc dd\n"
    );
    assert_eq!(reader.secrets_dropped(), 0);
    // The cap: a block that would pass it is dropped whole and counted;
    // taking the text makes room again.
    let mut s = Secrets::default();
    s.add(b"0123456789", 16);
    s.add(b"abcd", 16);
    assert_eq!(
        (s.text.as_slice(), s.dropped),
        (&b"0123456789\nabcd\n"[..], 0)
    );
    s.add(b"e", 16);
    assert_eq!((s.text.len(), s.dropped), (16, 1));
    s.text.clear();
    s.add(b"abcdef", 16);
    assert_eq!((s.text.as_slice(), s.dropped), (&b"abcdef\n"[..], 1));
}

/// multi.pcapng with a second Decryption Secrets Block after its first
/// packet (an EPB at byte 152, 112 bytes long): `next_item` yields the
/// secrets between the first packet and the second, so that they are known
/// before it; `next_frame` yields the packets alone, the secrets waiting.
#[test]
fn secrets_are_known_before_the_packet_after_their_block() {
    let file = fixture!("multi.pcapng");
    let at = 152 + 112;
    let bytes = [&file[..at], &dsb(b"CLIENT_RANDOM aa bb"), &file[at..]].concat();
    let mut reader = Reader::new(Box::new(Cursor::new(bytes.clone()))).unwrap();
    let mut order = Vec::new();
    let mut secrets = Vec::new();
    loop {
        match reader.next_item().unwrap() {
            Some(Item::Frame(f)) => order.push(f.index),
            Some(Item::Secrets) => {
                order.push(0);
                secrets.push(reader.take_secrets());
            }
            None => break,
        }
    }
    // The fixture's own block (before the packets), then the new one.
    assert_eq!(order, [0, 1, 0, 2, 3, 4, 5]);
    assert_eq!(
        secrets.last().map(Vec::as_slice),
        Some(&b"CLIENT_RANDOM aa bb\n"[..])
    );
    let (frames, err) = read_bytes(&bytes);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 5);
}

#[test]
fn interfaces_per_section_are_capped() {
    let mut bytes = shb();
    for _ in 0..pcapng::MAX_INTERFACES {
        bytes.extend(idb());
    }
    // One more than the cap is corruption; a new section starts afresh.
    let (_, err) = read_bytes(&[bytes.as_slice(), &idb()].concat());
    assert!(
        matches!(err, Some(Error::Corrupt { what, .. }) if what.contains("interfaces")),
        "{err:?}"
    );
    let (_, err) = read_bytes(&[bytes.as_slice(), &shb(), &idb()].concat());
    assert!(err.is_none(), "{err:?}");
}

#[test]
fn not_a_capture() {
    let (_, err) = read_bytes(b"GET / HTTP/1.1\r\n\r\n");
    assert!(matches!(err, Some(Error::NotACapture)), "{err:?}");
    let (_, err) = read_bytes(b"");
    assert!(matches!(err, Some(Error::NotACapture)), "{err:?}");
}

#[test]
fn truncated_pcap_keeps_frames_before_the_damage() {
    let file = fixture!("eth-le-usec.pcap");
    // Record boundaries: after the 24-byte file header, 16 + caplen each.
    let mut ends = vec![24];
    for len in ETH_LENS {
        ends.push(ends.last().copied().unwrap_or(0) + 16 + len);
    }
    assert_eq!(ends.last().copied(), Some(file.len()));
    for cut in 25..=file.len() {
        let (seen, err) = read_bytes(file.get(..cut).unwrap_or_default());
        let complete = ends.iter().filter(|&&end| end <= cut).count() - 1;
        assert_eq!(seen.len(), complete, "cut at {cut}");
        match err {
            // A cut on a record boundary is indistinguishable from a clean end.
            None => assert!(ends.contains(&cut), "cut at {cut}"),
            Some(Error::Truncated { offset }) => {
                assert_eq!(
                    offset,
                    ends.get(complete).copied().unwrap_or(0) as u64,
                    "cut at {cut}"
                )
            }
            Some(e) => unreachable!("cut at {cut}: {e}"),
        }
    }
}

#[test]
fn truncated_pcapng_names_the_block_offset() {
    let file = fixture!("multi.pcapng");
    // Block boundaries, from each block's length field (all little-endian).
    let mut ends = vec![0usize];
    while let Some(&at) = ends.last().filter(|&&at| at < file.len()) {
        let len = file
            .get(at + 4..at + 8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes);
        ends.push(at + len as usize);
    }
    for cut in 4..file.len() {
        let (_, err) = read_bytes(file.get(..cut).unwrap_or_default());
        let last_whole = ends
            .iter()
            .copied()
            .filter(|&end| end <= cut)
            .max()
            .unwrap_or(0);
        match err {
            None => assert!(ends.contains(&cut), "cut at {cut}"),
            Some(Error::Truncated { offset }) => {
                assert_eq!(offset, last_whole as u64, "cut at {cut}")
            }
            Some(e) => unreachable!("cut at {cut}: {e}"),
        }
    }
}

/// A capture of one frame repeated `n` times: the file header and first
/// record of the fixture.
fn repeated_frame(n: usize) -> Vec<u8> {
    let file = fixture!("eth-le-usec.pcap");
    let record = file.get(24..24 + 16 + ETH_LENS[0]).unwrap_or_default();
    let mut out = file.get(..24).unwrap_or_default().to_vec();
    for _ in 0..n {
        out.extend_from_slice(record);
    }
    out
}

#[test]
fn a_decompression_bomb_stops_as_damage_past_the_floor() {
    // 40 000 identical 94-byte records: 3.76 MB, which zstd and gzip pack
    // far more than 50-fold.
    let plain = repeated_frame(40_000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    io::Write::write_all(&mut gz, &plain).unwrap();
    let packed = [
        zstd::encode_all(plain.as_slice(), 19).unwrap(),
        gz.finish().unwrap(),
    ];
    const FLOOR: u64 = 1 << 20;
    for bytes in packed {
        assert!(plain.len() / bytes.len() > 50, "{}", bytes.len());
        // Within the limits (the defaults, or a ratio it never reaches),
        // every frame is read.
        for (floor, ratio) in [(EXPANSION_FLOOR, MAX_EXPANSION), (FLOOR, 1 << 40)] {
            let reader = Reader::new(Box::new(Cursor::new(bytes.clone()))).unwrap();
            let mut reader = reader.with_expansion(floor, ratio);
            let mut n = 0;
            while let Ok(Some(_)) = reader.next_frame() {
                n += 1;
            }
            assert_eq!(n, 40_000);
        }
        // Past the floor at 50-fold: the frames before, then damage at the
        // decompressed offset where reading stopped, within one read of
        // the floor.
        let reader = Reader::new(Box::new(Cursor::new(bytes))).unwrap();
        let mut reader = reader.with_expansion(FLOOR, 50);
        let mut n = 0u64;
        let err = loop {
            match reader.next_frame() {
                Ok(Some(_)) => n += 1,
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let Some(Error::Corrupt { offset, what }) = err else {
            panic!("{err:?}");
        };
        assert!(what.contains("decompression bomb"), "{what}");
        assert!(offset > FLOOR && offset < FLOOR + (4 << 20), "{offset}");
        assert!(n > 0 && 24 + n * 94 <= offset, "{n} frames, {offset}");
    }
}

#[test]
fn huge_record_length_is_corruption_not_allocation() {
    let mut file = fixture!("eth-le-usec.pcap").to_vec();
    // caplen of the first record := 0xfffffff0
    if let Some(caplen) = file.get_mut(24 + 8..24 + 12) {
        caplen.copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    }
    let (seen, err) = read_bytes(&file);
    assert!(seen.is_empty());
    assert!(
        matches!(err, Some(Error::Corrupt { offset: 24, .. })),
        "{err:?}"
    );
}

mod pcap_records {
    use super::super::pcap;
    use proptest::prelude::*;

    /// A record state for each pcap variant: the file header's first 24
    /// bytes of `testdata/unit/eth-le-usec.pcap`, `eth-be-nsec.pcap`, and
    /// the modified-format magic (little-endian) over the former.
    fn states() -> Vec<pcap::State> {
        let le = fixture!("eth-le-usec.pcap");
        let be = fixture!("eth-be-nsec.pcap");
        let mut modified = le.get(..24).unwrap_or_default().to_vec();
        modified[..4].copy_from_slice(&[0x34, 0xcd, 0xb2, 0xa1]);
        [
            le.get(..24).unwrap_or_default(),
            be.get(..24).unwrap_or_default(),
            &modified,
        ]
        .iter()
        .map(|h| pcap::State::parse_header(h).unwrap().unwrap().0)
        .collect()
    }

    #[test]
    fn records_read_as_pcap_parser_reads_them_in_the_fixtures() {
        for (name, file) in [
            ("le-usec", fixture!("eth-le-usec.pcap")),
            ("be-nsec", fixture!("eth-be-nsec.pcap")),
        ] {
            let (mut state, mut at) = pcap::State::parse_header(file).unwrap().unwrap();
            let mut oracle = pcap::State::parse_header(file).unwrap().unwrap().0;
            let mut frames = 0;
            loop {
                let i = &file[at..];
                // Every cut of the record, then the whole.
                for cut in 0..i.len().min(700) {
                    assert_eq!(
                        state.step(&i[..cut]),
                        oracle.step_with_pcap_parser(&i[..cut]),
                        "{name}: record at {at}, cut {cut}"
                    );
                }
                let step = state.step(i);
                assert_eq!(step, oracle.step_with_pcap_parser(i), "{name} at {at}");
                match step {
                    Ok(super::super::Step::Frame { consumed, .. }) => {
                        at += consumed;
                        frames += 1;
                    }
                    _ => break,
                }
            }
            assert_eq!(frames, 4, "{name}");
        }
    }

    proptest! {
        #[test]
        fn records_read_as_pcap_parser_reads_them(
            variant in 0usize..3,
            head in proptest::collection::vec(any::<u8>(), 0..24),
            caplen in prop_oneof![0u32..80, any::<u32>()],
            body in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let (mut ours, mut oracle) = (states(), states());
            let mut i = head;
            // The captured length in the record's byte order, when the
            // header reaches it.
            if i.len() >= 12 {
                let b = if variant == 1 { caplen.to_be_bytes() } else { caplen.to_le_bytes() };
                i[8..12].copy_from_slice(&b);
            }
            i.extend_from_slice(&body);
            prop_assert_eq!(
                ours[variant].step(&i),
                oracle[variant].step_with_pcap_parser(&i)
            );
        }
    }
}
