//! What the totals, the servers, the findings and the gates need of one
//! finished connection: a few fixed-size figures, kept in memory for every
//! connection while the full record waits in the store (`ledger::store`).

use super::store::Loc;
use super::{Basis, Connection, HandshakeBrief};
use crate::{Side, Ts};

/// A connection's TLS handshakes as the totals and the resumption finding
/// see them: counts (at most `tls::MAX_HANDSHAKES` each).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HandshakeCounts {
    pub total: u8,
    pub completed: u8,
    pub abandoned: u8,
    pub failed: u8,
    pub incomplete: u8,
    /// Resumed a session.
    pub resumed: u8,
    /// Known not to be resumed.
    pub full: u8,
    /// Of those, the ones whose ClientHello offered a session to resume.
    pub full_offered: u8,
}

/// One connection in brief. Its index in `Ledger::digests` is its index in
/// the report's `connections[]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Digest {
    /// Where the full record is, in its capture's store.
    pub loc: Loc,
    /// Index into `Ledger::captures`.
    pub capture: u32,
    /// The server's name, an index into its capture's list of names until
    /// the ledger is built, then into `Ledger::servers`.
    pub server: u32,
    pub first_packet: u64,
    pub start: Ts,
    pub end: Ts,
    pub closed_by: Option<Side>,
    /// When it was busy with requests (`findings::busy_span`).
    pub busy: (Ts, Ts),
    // The optional figures, each without an Option's padding: the value,
    // and a bit in `present` (their accessors below say what each is).
    closed_at: Ts,
    last_response: Ts,
    first_done: Ts,
    requests: u64,
    peak_streams: u32,
    max_streams: u32,
    /// Which optional figures are present, and the flags ([`Bit`]).
    bits: u16,
    /// How the request count is known; None without HTTP.
    pub basis: Option<Basis>,
    /// 1 + the index of the HTTP protocol in `ledger::PROTOCOLS`; 0 for
    /// none (`Digest::protocol` names it).
    protocol: u8,
    pub close_requested_by: Option<Side>,
    pub client_hellos: u32,
    pub handshakes: HandshakeCounts,
}

/// A bit of `Digest::bits`: whether an optional figure is present, or a
/// flag.
#[derive(Clone, Copy)]
enum Bit {
    ClosedAt,
    LastResponse,
    FirstDone,
    Requests,
    PeakStreams,
    MaxStreams,
    SynSeen,
    Tls,
    OfferedH2,
    Decrypted,
    WithKeys,
    Carried,
    Unused,
}

impl Digest {
    /// The digest of `c`, whose `request_span` and `record_span` are set.
    pub fn of(c: &Connection, loc: Loc, server: u32) -> Digest {
        let http = c.http.as_ref();
        let tls = c.tls.as_ref();
        let requests = super::servers::requests_of(c);
        let peak_streams = http.and_then(|h| h.peak_concurrent_streams);
        let max_streams = http.and_then(|h| h.max_concurrent_streams);
        let (handshakes, first_done) = HandshakeCounts::of(&c.handshakes, c.tcp.start);
        let bits = [
            (Bit::ClosedAt, c.tcp.closed_at.is_some()),
            (Bit::LastResponse, c.request_span.last_response.is_some()),
            (Bit::FirstDone, first_done.is_some()),
            (Bit::Requests, requests.is_some()),
            (Bit::PeakStreams, peak_streams.is_some()),
            (Bit::MaxStreams, max_streams.is_some()),
            (Bit::SynSeen, c.tcp.syn_seen),
            (Bit::Tls, tls.is_some()),
            (
                Bit::OfferedH2,
                tls.is_some_and(|t| t.alpn_offered.iter().any(|a| &**a == "h2")),
            ),
            (Bit::Decrypted, tls.is_some_and(|t| t.decrypted)),
            (
                Bit::WithKeys,
                tls.is_some_and(|t| {
                    t.decrypted || t.decrypt_error.as_deref().is_some_and(|e| e != "no key")
                }),
            ),
            (Bit::Carried, super::servers::carried_requests(c)),
            (Bit::Unused, super::servers::unused(c)),
        ];
        Digest {
            loc,
            capture: 0,
            server,
            first_packet: c.tcp.first_packet,
            start: c.tcp.start,
            end: c.tcp.end,
            closed_by: c.tcp.closed_by,
            busy: crate::findings::busy_span(c),
            closed_at: c.tcp.closed_at.unwrap_or_default(),
            last_response: c.request_span.last_response.unwrap_or_default(),
            first_done: first_done.unwrap_or_default(),
            requests: requests.unwrap_or_default(),
            peak_streams: peak_streams.unwrap_or_default(),
            max_streams: max_streams.unwrap_or_default(),
            bits: bits
                .iter()
                .fold(0, |acc, &(bit, on)| acc | (u16::from(on) << bit as u8)),
            basis: http.map(|h| h.requests_basis),
            protocol: http
                .and_then(|h| h.protocol)
                .and_then(|p| super::PROTOCOLS.iter().position(|q| *q == p))
                .map_or(0, |i| i as u8 + 1),
            close_requested_by: http.and_then(|h| h.close_requested_by),
            client_hellos: tls.map_or(0, |t| u32::try_from(t.client_hellos).unwrap_or(u32::MAX)),
            handshakes,
        }
    }

    fn has(&self, bit: Bit) -> bool {
        self.bits & (1 << bit as u8) != 0
    }

    /// Its SYN was seen.
    pub fn syn_seen(&self) -> bool {
        self.has(Bit::SynSeen)
    }

    /// It spoke TLS.
    pub fn tls(&self) -> bool {
        self.has(Bit::Tls)
    }

    /// The client offered h2 in ALPN.
    pub fn offered_h2(&self) -> bool {
        self.has(Bit::OfferedH2)
    }

    /// Every TLS record was decrypted.
    pub fn decrypted(&self) -> bool {
        self.has(Bit::Decrypted)
    }

    /// The key logs held secrets for its handshake.
    pub fn with_keys(&self) -> bool {
        self.has(Bit::WithKeys)
    }

    /// Carried requests (`servers::carried_requests`).
    pub fn carried(&self) -> bool {
        self.has(Bit::Carried)
    }

    /// Known to have carried none (`servers::unused`).
    pub fn unused(&self) -> bool {
        self.has(Bit::Unused)
    }

    /// When the connection closed (`tcp.closed_at`).
    pub fn closed_at(&self) -> Option<Ts> {
        self.has(Bit::ClosedAt).then_some(self.closed_at)
    }

    /// The last response seen.
    pub fn last_response(&self) -> Option<Ts> {
        self.has(Bit::LastResponse).then_some(self.last_response)
    }

    /// When the first of its TLS handshakes to complete did, reckoned from
    /// the connection's start.
    pub fn first_done(&self) -> Option<Ts> {
        self.has(Bit::FirstDone).then_some(self.first_done)
    }

    /// Requests carried as far as can be told (`servers::requests_of`).
    pub fn requests(&self) -> Option<u64> {
        self.has(Bit::Requests).then_some(self.requests)
    }

    /// The most HTTP/2 streams open at once.
    pub fn peak_streams(&self) -> Option<u32> {
        self.has(Bit::PeakStreams).then_some(self.peak_streams)
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    pub fn max_streams(&self) -> Option<u32> {
        self.has(Bit::MaxStreams).then_some(self.max_streams)
    }

    /// "http/1.0", "http/1.1", "h2" or "h2c"; None when unknown.
    pub fn protocol(&self) -> Option<&'static str> {
        super::PROTOCOLS
            .get(usize::from(self.protocol.checked_sub(1)?))
            .copied()
    }

    /// Whether it spoke HTTP/2 (over TLS or in cleartext).
    pub fn is_h2(&self) -> bool {
        self.protocol().is_some_and(|p| p.starts_with("h2"))
    }
}

impl HandshakeCounts {
    /// The counts, and when the first handshake to complete did.
    fn of(handshakes: &[HandshakeBrief], connection_start: Ts) -> (Self, Option<Ts>) {
        use crate::tls::Outcome;
        let mut n = HandshakeCounts::default();
        let mut first_done: Option<Ts> = None;
        let add = |count: &mut u8| *count = count.saturating_add(1);
        for h in handshakes {
            add(&mut n.total);
            add(match h.outcome {
                Outcome::Completed => &mut n.completed,
                Outcome::Abandoned => &mut n.abandoned,
                Outcome::Failed => &mut n.failed,
                Outcome::Incomplete => &mut n.incomplete,
            });
            match h.resumed {
                Some(true) => add(&mut n.resumed),
                Some(false) => {
                    add(&mut n.full);
                    if h.resumption_offered {
                        add(&mut n.full_offered);
                    }
                }
                None => {}
            }
            let done = h
                .secs_to_complete
                .map(|s| Ts(connection_start.0.saturating_add((s * 1e9) as i64)));
            first_done = match (first_done, done) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (n, first_done)
    }
}

#[cfg(test)]
mod tests {
    /// What every finished connection costs in memory until the report is
    /// written (docs/PERFORMANCE.md): a field added here should be worth it.
    #[test]
    fn a_digest_stays_small() {
        assert!(std::mem::size_of::<super::Digest>() <= 128);
    }
}
