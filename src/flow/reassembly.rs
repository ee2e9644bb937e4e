//! One direction of a TCP connection reassembled into an ordered byte
//! stream, delivered as [`Event`]s: data in order, and explicit gaps where
//! bytes were never captured.
//!
//! Policy (documented in docs/DESIGN.md):
//! - Positions are 64-bit stream offsets; sequence numbers are mapped to
//!   them with wrap-around arithmetic relative to the next expected byte.
//! - Bytes already delivered are never delivered again: for a
//!   retransmission or an overlap, the first copy wins.
//! - Out-of-order segments are copied into a buffer (the only copy of
//!   payload on any path), at most [`MAX_PENDING`] bytes per direction and
//!   whatever the connection table's global budget allows. When a cap is
//!   hit (holes give way oldest first, until the new segment fits), or the
//!   peer acknowledges bytes beyond a hole, or the connection ends, the
//!   hole is declared a gap and delivery resumes after it.
//! - A segment more than [`MAX_WINDOW`] away from the next expected byte is
//!   not part of this stream and is dropped (counted).
//! - Every cap hit and every drop is counted in [`Stats`], which the
//!   connection table turns into the report's limits and anomalies.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::Seq;
use std::collections::BTreeMap;

/// Out-of-order bytes buffered per direction at most.
pub const MAX_PENDING: usize = 4 << 20;
/// The largest plausible distance between a segment and the next expected
/// byte: the largest window with scaling (RFC 7323 section 2.3) is 2^30.
pub const MAX_WINDOW: i64 = 1 << 30;

/// What a direction delivers upwards.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Data(&'a [u8]),
    /// This many bytes of the stream were never seen.
    Gap(u64),
}

/// An out-of-order segment: captured bytes, then bytes the snapshot
/// length cut off.
#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    missing: u32,
}

impl Pending {
    fn len(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing)
    }
}

/// Counters a direction keeps about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes delivered as data.
    pub delivered: u64,
    /// Bytes declared lost.
    pub gap_bytes: u64,
    pub gaps: u64,
    /// Segments that carried nothing new (retransmissions, keep-alives).
    pub duplicates: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u64,
    /// Segments too far from the stream to belong to it, dropped.
    pub out_of_window: u64,
    /// Bytes those segments carried (captured and cut by the snapshot
    /// length).
    pub out_of_window_bytes: u64,
    /// Times this direction's buffer was full ([`MAX_PENDING`]) and a hole
    /// was given up on to make room.
    pub stream_cap_hits: u64,
    /// Times the connection table's budget ([`super::GLOBAL_PENDING`]) was
    /// spent, this direction's buffer not full, and a hole was given up on.
    pub budget_cap_hits: u64,
    /// Of `gap_bytes`, those declared lost at a `stream_cap_hits` hit,
    /// without waiting for a retransmission, the peer's acknowledgement or
    /// the end of the connection.
    pub stream_cap_gap_bytes: u64,
    /// The same at a `budget_cap_hits` hit.
    pub budget_cap_gap_bytes: u64,
}

impl Stats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            delivered,
            gap_bytes,
            gaps,
            duplicates,
            out_of_order,
            out_of_window,
            out_of_window_bytes,
            stream_cap_hits,
            budget_cap_hits,
            stream_cap_gap_bytes,
            budget_cap_gap_bytes,
        } = *other;
        self.delivered += delivered;
        self.gap_bytes += gap_bytes;
        self.gaps += gaps;
        self.duplicates += duplicates;
        self.out_of_order += out_of_order;
        self.out_of_window += out_of_window;
        self.out_of_window_bytes += out_of_window_bytes;
        self.stream_cap_hits += stream_cap_hits;
        self.budget_cap_hits += budget_cap_hits;
        self.stream_cap_gap_bytes += stream_cap_gap_bytes;
        self.budget_cap_gap_bytes += budget_cap_gap_bytes;
    }
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next expected byte, once known.
    next: Option<Seq>,
    /// Stream offset of `next`.
    offset: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// No more data is expected (FIN reached, or the stream was flushed).
    finished: bool,
    pub stats: Stats,
}

impl Reassembler {
    /// Starts the stream at the byte after a SYN's sequence number.
    pub fn start_after_syn(&mut self, isn: Seq) {
        if self.next.is_none() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    /// Starts the stream mid-way, at `seq` (the capture began after the SYN).
    pub fn start_at(&mut self, seq: Seq) {
        if self.next.is_none() {
            self.next = Some(seq);
        }
    }

    pub fn is_started(&self) -> bool {
        self.next.is_some()
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// How far `seq` is from the next expected byte, if it is plausibly
    /// ours (within [`MAX_WINDOW`] either way).
    fn distance(&self, seq: Seq) -> Option<i64> {
        let rel = i64::from(seq.diff(self.next?));
        (-MAX_WINDOW..=MAX_WINDOW).contains(&rel).then_some(rel)
    }

    /// The stream offset of sequence number `seq`, if it is plausibly ours
    /// and not before the stream's first byte.
    fn offset_of(&self, seq: Seq) -> Option<u64> {
        self.offset.checked_add_signed(self.distance(seq)?)
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(next) = self.next {
            // Sequence space is modulo 2^32: truncation is the point.
            self.next = Some(next.wrapping_add(n as u32));
        }
        self.check_finished();
    }

    /// Takes one segment's payload (`missing` more bytes were cut by the
    /// snapshot length). `budget` is the connection table's remaining
    /// global allowance for buffered bytes.
    pub fn segment(
        &mut self,
        seq: Seq,
        data: &[u8],
        missing: u32,
        budget: &mut usize,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        let len = data.len() as u64 + u64::from(missing);
        if len == 0 || self.finished {
            return;
        }
        self.start_at(seq);
        let Some(rel) = self.distance(seq) else {
            self.stats.out_of_window += 1;
            self.stats.out_of_window_bytes += len;
            return;
        };
        // Signed: a segment may start before the stream's first byte (at
        // the SYN's sequence number, as some keep-alives do); those bytes
        // belong to no stream and are skipped like delivered ones.
        let start = i128::from(self.offset) + i128::from(rel);
        let end = start + i128::from(len);
        if end <= i128::from(self.offset) {
            self.stats.duplicates += 1;
            return;
        }
        let Ok(at) = u64::try_from(start) else {
            let skip = u64::try_from(i128::from(self.offset) - start).unwrap_or(u64::MAX);
            self.deliver(data, missing, skip, out);
            self.drain(budget, out);
            return;
        };
        if at <= self.offset {
            let skip = self.offset - at;
            self.deliver(data, missing, skip, out);
            self.drain(budget, out);
            return;
        }
        // Ahead of a hole: buffer a copy, longest segment at an offset wins.
        self.stats.out_of_order += 1;
        let have = self.pending.get(&at).map_or(0, Pending::len);
        if have >= len {
            self.stats.duplicates += 1;
            return;
        }
        let need = data
            .len()
            .saturating_sub(self.pending.get(&at).map_or(0, |p| p.data.len()));
        let full = |r: &Self, budget: usize| r.pending_bytes + need > MAX_PENDING || need > budget;
        if full(self, *budget) {
            // Counted once per hit, against this direction's cap when it
            // is full, else against the global budget.
            let stream_cap = self.pending_bytes + need > MAX_PENDING;
            let mut given_up = 0;
            if stream_cap {
                self.stats.stream_cap_hits += 1;
            } else {
                self.stats.budget_cap_hits += 1;
            }
            // Give up on the holes, oldest first, until the segment fits:
            // each hole becomes a gap and the bytes buffered after it are
            // delivered, so only bytes never captured are called lost.
            while full(self, *budget) && !self.pending.is_empty() {
                given_up += self.skip_to_first_pending(budget, out);
            }
            let reached = at <= self.offset || full(self, *budget);
            if reached && at > self.offset {
                // Still no room (the global budget is spent elsewhere):
                // the hole before it is lost too.
                given_up += at - self.offset;
                self.gap(at - self.offset, out);
            }
            if stream_cap {
                self.stats.stream_cap_gap_bytes += given_up;
            } else {
                self.stats.budget_cap_gap_bytes += given_up;
            }
            if reached {
                let skip = self.offset.saturating_sub(at);
                self.deliver(data, missing, skip, out);
                self.drain(budget, out);
                return;
            }
        }
        if let Some(old) = self.pending.insert(
            at,
            Pending {
                data: data.to_vec(),
                missing,
            },
        ) {
            self.pending_bytes -= old.data.len();
            *budget += old.data.len();
        }
        self.pending_bytes += data.len();
        *budget -= data.len();
    }

    /// Delivers `data` (then `missing` lost bytes) from `skip` bytes in.
    fn deliver(&mut self, data: &[u8], missing: u32, skip: u64, out: &mut dyn FnMut(Event<'_>)) {
        let skip_data = usize::try_from(skip).unwrap_or(usize::MAX);
        if let Some(fresh) = data.get(skip_data..).filter(|d| !d.is_empty()) {
            out(Event::Data(fresh));
            self.stats.delivered += fresh.len() as u64;
            self.advance(fresh.len() as u64);
        }
        let lost =
            (data.len() as u64 + u64::from(missing)).saturating_sub(skip.max(data.len() as u64));
        if lost > 0 {
            self.gap(lost, out);
        }
    }

    fn gap(&mut self, n: u64, out: &mut dyn FnMut(Event<'_>)) {
        out(Event::Gap(n));
        self.stats.gaps += 1;
        self.stats.gap_bytes += n;
        self.advance(n);
    }

    /// Delivers buffered segments that have become contiguous.
    fn drain(&mut self, budget: &mut usize, out: &mut dyn FnMut(Event<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.offset {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.data.len();
            *budget += p.data.len();
            if at + p.len() > self.offset {
                self.deliver(&p.data, p.missing, self.offset - at, out);
            }
        }
    }

    /// Declares the hole before the first buffered segment lost; returns
    /// its length.
    fn skip_to_first_pending(&mut self, budget: &mut usize, out: &mut dyn FnMut(Event<'_>)) -> u64 {
        let Some((&at, _)) = self.pending.first_key_value() else {
            return 0;
        };
        let hole = at.saturating_sub(self.offset);
        if hole > 0 {
            self.gap(hole, out);
        }
        self.drain(budget, out);
        hole
    }

    /// The peer acknowledged `ack`: bytes before it were received, so a
    /// hole below it that has buffered data after it will never be filled
    /// from this capture.
    #[inline]
    pub fn peer_acked(&mut self, ack: Seq, budget: &mut usize, out: &mut dyn FnMut(Event<'_>)) {
        let Some(first) = self.pending.first_key_value().map(|(&at, _)| at) else {
            return;
        };
        match self.offset_of(ack) {
            Some(acked) if acked >= first => {
                self.skip_to_first_pending(budget, out);
            }
            _ => {}
        }
    }

    /// The sender's FIN at `seq`: the stream ends there (RFC 9293 section
    /// 3.6). Data before it may still arrive, reordered in the capture.
    pub fn fin(&mut self, seq: Seq) {
        self.start_at(seq);
        if self.fin_at.is_none() {
            self.fin_at = self.offset_of(seq);
        }
        self.check_finished();
    }

    /// The FIN was reached and nothing is buffered: no event will come from
    /// this stream again, not even at [`Reassembler::flush`].
    pub fn is_done(&self) -> bool {
        self.finished && self.pending.is_empty()
    }

    fn check_finished(&mut self) {
        if self.fin_at.is_some_and(|fin| self.offset >= fin) {
            self.finished = true;
        }
    }

    /// The connection is over: deliver everything buffered, holes (also
    /// one before the FIN) as gaps, and free the buffer.
    pub fn flush(&mut self, budget: &mut usize, out: &mut dyn FnMut(Event<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(budget, out);
        }
        if let Some(fin) = self.fin_at.filter(|&fin| fin > self.offset) {
            self.gap(fin - self.offset, out);
        }
        self.finished = true;
    }
}

#[cfg(test)]
#[path = "reassembly_tests.rs"]
mod tests;
