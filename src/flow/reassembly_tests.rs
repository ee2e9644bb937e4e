//! Reassembly: fixed cases, then the property that any order, duplication
//! or overlap of a stream's segments yields the same bytes, and that bytes
//! no segment carried come out as gaps of the right size.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Replays events into one byte per stream position: Some(byte) for data,
/// None for a gap.
fn run(isn: Seq, segments: &[(u32, Vec<u8>)], fin: Option<u32>, budget: usize) -> Vec<Option<u8>> {
    let mut r = Reassembler::default();
    r.start_after_syn(isn);
    let mut budget = budget;
    let mut out: Vec<Option<u8>> = Vec::new();
    let mut sink = |ev: Event<'_>| match ev {
        Event::Data(d) => out.extend(d.iter().map(|&b| Some(b))),
        Event::Gap(n) => out.extend(std::iter::repeat_n(None, n as usize)),
    };
    for (off, data) in segments {
        let seq = isn.wrapping_add(1).wrapping_add(*off);
        r.segment(seq, data, 0, &mut budget, &mut sink);
    }
    if let Some(end) = fin {
        r.fin(isn.wrapping_add(1).wrapping_add(end));
    }
    r.flush(&mut budget, &mut sink);
    out
}

fn seg(off: u32, data: &[u8]) -> (u32, Vec<u8>) {
    (off, data.to_vec())
}

#[test]
fn in_order() {
    let out = run(
        Seq(7),
        &[seg(0, b"GET "), seg(4, b"/ HTTP/1.1")],
        None,
        1 << 20,
    );
    assert_eq!(
        out,
        b"GET / HTTP/1.1"
            .iter()
            .map(|&b| Some(b))
            .collect::<Vec<_>>()
    );
}

#[test]
fn retransmission_and_overlap_first_copy_wins() {
    // The retransmitted bytes differ: what was delivered first stands.
    let out = run(
        Seq(0),
        &[seg(0, b"abcd"), seg(2, b"XXef"), seg(0, b"ZZZZ")],
        None,
        1 << 20,
    );
    assert_eq!(out, b"abcdef".iter().map(|&b| Some(b)).collect::<Vec<_>>());
}

#[test]
fn out_of_order_then_hole_filled() {
    let out = run(
        Seq(u32::MAX - 2),
        &[seg(4, b"efgh"), seg(0, b"abcd")],
        None,
        1 << 20,
    );
    assert_eq!(
        out,
        b"abcdefgh".iter().map(|&b| Some(b)).collect::<Vec<_>>()
    );
}

#[test]
fn hole_never_filled_becomes_a_gap() {
    let out = run(Seq(100), &[seg(0, b"ab"), seg(5, b"fg")], Some(9), 1 << 20);
    let want = [
        Some(b'a'),
        Some(b'b'),
        None,
        None,
        None,
        Some(b'f'),
        Some(b'g'),
        None,
        None,
    ];
    assert_eq!(out, want);
}

#[test]
fn snaplen_cut_segment_delivers_a_gap_for_its_tail() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = 1 << 20;
    let mut events = Vec::new();
    r.segment(Seq(1), b"abc", 5, &mut budget, &mut |ev| {
        events.push(format!("{ev:?}"))
    });
    r.segment(Seq(9), b"z", 0, &mut budget, &mut |ev| {
        events.push(format!("{ev:?}"))
    });
    assert_eq!(events, ["Data([97, 98, 99])", "Gap(5)", "Data([122])"]);
}

#[test]
fn global_budget_exhausted_forces_a_gap_not_growth() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = 4;
    let mut out = Vec::new();
    let mut sink = |ev: Event<'_>| out.push(format!("{ev:?}"));
    r.segment(Seq(11), b"kl", 0, &mut budget, &mut sink); // buffered: 2 of 4
    r.segment(Seq(21), b"uvw", 0, &mut budget, &mut sink); // over budget
    assert_eq!(r.stats.budget_cap_hits, 1);
    // The oldest hole gave way; then "uvw" fit and waits for its own.
    assert_eq!(r.pending_bytes(), 3);
    assert_eq!(budget, 1);
    r.segment(Seq(31), b"abcde", 0, &mut budget, &mut sink); // over budget
    assert_eq!(r.stats.budget_cap_hits, 2);
    assert_eq!(
        out,
        [
            "Gap(10)",
            "Data([107, 108])",
            "Gap(8)",
            "Data([117, 118, 119])",
            "Gap(7)",
            "Data([97, 98, 99, 100, 101])"
        ]
    );
    assert_eq!(budget, 4);
    assert_eq!(r.pending_bytes(), 0);
    // Both hits were the budget's (2 + 3 and 3 + 5 buffered bytes are far
    // below MAX_PENDING), and the holes given up were 10, then 8 and 7.
    assert_eq!(r.stats.stream_cap_hits, 0);
    assert_eq!(r.stats.budget_cap_gap_bytes, 10 + 8 + 7);
    assert_eq!(r.stats.stream_cap_gap_bytes, 0);
}

/// A 1000-byte hole, then 1 MiB segments after it: four fill MAX_PENDING
/// (4 MiB) exactly, the fifth does not fit, so the hole is given up (and
/// counted against this direction's cap, not the budget) and all five are
/// delivered.
#[test]
fn a_full_direction_counts_its_own_cap_and_the_hole_given_up() {
    const MIB: usize = 1 << 20;
    assert_eq!(MAX_PENDING, 4 * MIB);
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = crate::flow::GLOBAL_PENDING;
    let (mut data, mut gaps) = (0u64, Vec::new());
    let mut sink = |ev: Event<'_>| match ev {
        Event::Data(d) => data += d.len() as u64,
        Event::Gap(n) => gaps.push(n),
    };
    let chunk = vec![0x5au8; MIB];
    for k in 0..4u32 {
        r.segment(
            Seq(1001 + k * MIB as u32),
            &chunk,
            0,
            &mut budget,
            &mut sink,
        );
    }
    assert_eq!(r.pending_bytes(), MAX_PENDING);
    assert_eq!(r.stats.stream_cap_hits, 0);
    r.segment(
        Seq(1001 + 4 * MIB as u32),
        &chunk,
        0,
        &mut budget,
        &mut sink,
    );
    assert_eq!(gaps, [1000]);
    assert_eq!(data, 5 * MIB as u64);
    let s = r.stats;
    assert_eq!((s.stream_cap_hits, s.stream_cap_gap_bytes), (1, 1000));
    assert_eq!((s.budget_cap_hits, s.budget_cap_gap_bytes), (0, 0));
    assert_eq!(s.gap_bytes, 1000);
    assert_eq!(r.pending_bytes(), 0);
    assert_eq!(budget, crate::flow::GLOBAL_PENDING);
}

/// From nDPI's heuristic_tcp_ack_payload.pcap, the connection on port
/// 34101 (tshark: server ISN 1270534815): frame 68 carries 6 bytes at
/// ISN + 1, frame 69 the same 6 bytes at the ISN itself, one byte before
/// the stream begins (tshark: "suspected out-of-order segment"), frame 78
/// the response from ISN + 1 (first 16 bytes kept here). Frame 69 brings
/// nothing new: a retransmission, not a segment out of the window.
#[test]
fn a_segment_starting_at_the_syn_sequence_number_is_a_retransmission() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(1_270_534_815));
    let mut budget = 1 << 20;
    // The data one segment delivers.
    let mut feed = |r: &mut Reassembler, seq: u32, bytes: &[u8]| {
        let mut got = Vec::new();
        r.segment(Seq(seq), bytes, 0, &mut budget, &mut |ev| {
            if let Event::Data(d) = ev {
                got.extend_from_slice(d)
            }
        });
        got
    };
    let zeros = hex("000000000000");
    assert_eq!(feed(&mut r, 1_270_534_816, &zeros), zeros);
    assert_eq!(feed(&mut r, 1_270_534_815, &zeros), b"");
    assert_eq!((r.stats.duplicates, r.stats.out_of_window), (1, 0));
    // The first copy of the first 6 bytes wins; the response's rest follows.
    let response = hex("485454502f312e3120323036205061727469616c");
    assert_eq!(feed(&mut r, 1_270_534_816, &response), response[6..]);
    // A segment from the ISN that runs past what was delivered gives the
    // new bytes only: its byte 0 precedes the stream, 1 to 20 were
    // delivered.
    let mut more = vec![0xaa; 21];
    more.extend_from_slice(b"xyz");
    assert_eq!(feed(&mut r, 1_270_534_815, &more), b"xyz");
    assert_eq!(r.stats.out_of_window, 0);
}

#[test]
fn far_away_segment_is_not_part_of_the_stream() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = 1 << 20;
    r.segment(Seq(1 << 31), b"x", 0, &mut budget, &mut |_| {});
    // Captured and snapshot-cut bytes both count as dropped.
    r.segment(Seq(3 << 30), b"yz", 5, &mut budget, &mut |_| {});
    assert_eq!(r.stats.out_of_window, 2);
    assert_eq!(r.stats.out_of_window_bytes, 1 + 2 + 5);
    assert_eq!(r.pending_bytes(), 0);
}

#[test]
fn ack_beyond_a_hole_releases_buffered_data() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = 1 << 20;
    let mut out = Vec::new();
    r.segment(Seq(1), b"ab", 0, &mut budget, &mut |ev| {
        out.push(format!("{ev:?}"))
    });
    r.segment(Seq(6), b"fg", 0, &mut budget, &mut |ev| {
        out.push(format!("{ev:?}"))
    });
    // The peer acknowledges through "g": the hole will not be filled.
    r.peer_acked(Seq(8), &mut budget, &mut |ev| out.push(format!("{ev:?}")));
    assert_eq!(out, ["Data([97, 98])", "Gap(3)", "Data([102, 103])"]);
}

/// A stream, the segments that cover it (cut points), which of them to
/// drop, extra overlapping copies, and an order to feed them in.
/// (isn, stream, segments as (offset, bytes), keep mask).
type Scenario = (u32, Vec<u8>, Vec<(u32, Vec<u8>)>, Vec<bool>);

fn scenario() -> impl Strategy<Value = Scenario> {
    (any::<u32>(), prop::collection::vec(any::<u8>(), 1..600))
        .prop_flat_map(|(isn, stream)| {
            let n = stream.len();
            (
                Just(isn),
                Just(stream),
                prop::collection::vec(1..n.max(2), 0..12),
                prop::collection::vec((0..n, 1..64usize), 0..8),
                prop::collection::vec(any::<bool>(), 24),
                any::<u64>(),
            )
        })
        .prop_map(|(isn, stream, mut cuts, extra, keep, shuffle_seed)| {
            let n = stream.len();
            cuts.push(0);
            cuts.push(n);
            cuts.sort_unstable();
            cuts.dedup();
            let mut segs: Vec<(u32, Vec<u8>)> = cuts
                .windows(2)
                .filter_map(|w| match w {
                    [a, b] => stream.get(*a..*b).map(|d| (*a as u32, d.to_vec())),
                    _ => None,
                })
                .collect();
            let mut kept = Vec::new();
            for (i, s) in segs.drain(..).enumerate() {
                kept.push((s, keep.get(i).copied().unwrap_or(true)));
            }
            // Overlapping copies of ranges that are kept anyway.
            for (start, len) in extra {
                let end = (start + len).min(n);
                if let Some(d) = stream.get(start..end) {
                    kept.push(((start as u32, d.to_vec()), false));
                }
            }
            // Fisher-Yates with a small xorshift, seeded by proptest.
            let mut x = shuffle_seed | 1;
            for i in (1..kept.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                kept.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mask = kept.iter().map(|(_, k)| *k).collect();
            let segs = kept.into_iter().map(|(s, _)| s).collect();
            (isn, stream, segs, mask)
        })
}

proptest! {
    #[test]
    fn any_order_duplication_or_overlap_reassembles_the_same(
        (isn, stream, segs, _mask) in scenario()
    ) {
        // Every segment fed, duplicates included: all bytes, in order.
        let mut with_copies = segs.clone();
        with_copies.extend(segs.iter().rev().cloned());
        let out = run(Seq(isn), &with_copies, Some(stream.len() as u32), 1 << 20);
        let want: Vec<Option<u8>> = stream.iter().map(|&b| Some(b)).collect();
        prop_assert_eq!(out, want);
    }

    #[test]
    fn missing_segments_become_gaps_of_their_size(
        (isn, stream, segs, mask) in scenario()
    ) {
        // Drop the segments whose mask bit is clear (extra copies included).
        let fed: Vec<(u32, Vec<u8>)> = segs
            .iter()
            .zip(&mask)
            .filter(|(_, keep)| **keep)
            .map(|(s, _)| s.clone())
            .collect();
        let mut covered = vec![false; stream.len()];
        for (off, data) in &fed {
            for i in *off as usize..*off as usize + data.len() {
                if let Some(c) = covered.get_mut(i) { *c = true; }
            }
        }
        let out = run(Seq(isn), &fed, Some(stream.len() as u32), 1 << 20);
        let want: Vec<Option<u8>> = stream
            .iter()
            .zip(&covered)
            .map(|(&b, &c)| c.then_some(b))
            .collect();
        prop_assert_eq!(out, want);
    }

    #[test]
    fn small_budgets_never_corrupt_or_lose_positions(
        (isn, stream, segs, _mask) in scenario(), budget in 0usize..200
    ) {
        let out = run(Seq(isn), &segs, Some(stream.len() as u32), budget);
        prop_assert_eq!(out.len(), stream.len());
        for (got, want) in out.iter().zip(&stream) {
            if let Some(b) = got {
                prop_assert_eq!(b, want);
            }
        }
    }
}

/// Ten-byte segments where every tenth never arrives, with room for 100
/// buffered bytes: every arrival after the first hole is ahead of one, so
/// the cap is hit again and again. Only the bytes never captured are
/// gaps; everything captured is delivered, in order.
#[test]
fn a_cap_hit_declares_only_the_holes_lost() {
    let mut r = Reassembler::default();
    r.start_after_syn(Seq(0));
    let mut budget = 100;
    let (mut data, mut gaps) = (Vec::new(), 0u64);
    let mut sink = |ev: Event<'_>| match ev {
        Event::Data(d) => data.extend_from_slice(d),
        Event::Gap(n) => gaps += n,
    };
    let segment = |k: u32| [b'a' + (k % 26) as u8; 10];
    for k in (0..1000u32).filter(|k| k % 10 != 0) {
        r.segment(Seq(1 + 10 * k), &segment(k), 0, &mut budget, &mut sink);
        assert!(r.pending_bytes() <= 100);
    }
    r.flush(&mut budget, &mut sink);
    assert!(r.stats.budget_cap_hits > 50, "{:?}", r.stats);
    assert_eq!(gaps, 100 * 10);
    let want: Vec<u8> = (0..1000u32)
        .filter(|k| k % 10 != 0)
        .flat_map(segment)
        .collect();
    assert_eq!(data, want);
    assert_eq!(budget, 100);
}
