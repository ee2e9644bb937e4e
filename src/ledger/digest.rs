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

/// A digest as fixed-size bytes, so that digests too many for memory can
/// wait in a temporary file (`ledger::runs`).
impl super::runs::Record for Digest {
    const SIZE: usize = Loc::SIZE + 106;

    fn encode(&self, out: &mut Vec<u8>) {
        self.loc.encode(out);
        let side = |s: Option<Side>| match s {
            None => 0u8,
            Some(Side::Client) => 1,
            Some(Side::Server) => 2,
        };
        let basis = match self.basis {
            None => 0u8,
            Some(Basis::Observed) => 1,
            Some(Basis::Estimated) => 2,
            Some(Basis::Unknown) => 3,
        };
        out.extend_from_slice(&self.capture.to_le_bytes());
        out.extend_from_slice(&self.server.to_le_bytes());
        out.extend_from_slice(&self.first_packet.to_le_bytes());
        for t in [
            self.start,
            self.end,
            self.busy.0,
            self.busy.1,
            self.closed_at,
            self.last_response,
            self.first_done,
        ] {
            out.extend_from_slice(&t.0.to_le_bytes());
        }
        out.extend_from_slice(&self.requests.to_le_bytes());
        out.extend_from_slice(&self.peak_streams.to_le_bytes());
        out.extend_from_slice(&self.max_streams.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.client_hellos.to_le_bytes());
        let h = &self.handshakes;
        out.extend_from_slice(&[
            side(self.closed_by),
            basis,
            self.protocol,
            side(self.close_requested_by),
            h.total,
            h.completed,
            h.abandoned,
            h.failed,
            h.incomplete,
            h.resumed,
            h.full,
            h.full_offered,
        ]);
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut b = Fields(bytes);
        let loc = Loc::decode(&b.take());
        let side = |n: u8| match n {
            1 => Some(Side::Client),
            2 => Some(Side::Server),
            _ => None,
        };
        let capture = u32::from_le_bytes(b.take());
        let server = u32::from_le_bytes(b.take());
        let first_packet = u64::from_le_bytes(b.take());
        let mut ts = || Ts(i64::from_le_bytes(b.take()));
        let (start, end, busy_start, busy_end) = (ts(), ts(), ts(), ts());
        let (closed_at, last_response, first_done) = (ts(), ts(), ts());
        let requests = u64::from_le_bytes(b.take());
        let peak_streams = u32::from_le_bytes(b.take());
        let max_streams = u32::from_le_bytes(b.take());
        let bits = u16::from_le_bytes(b.take());
        let client_hellos = u32::from_le_bytes(b.take());
        let [
            closed_by,
            basis,
            protocol,
            close_requested_by,
            t,
            c,
            a,
            f,
            i,
            r,
            full,
            o,
        ] = b.take();
        Digest {
            loc,
            capture,
            server,
            first_packet,
            start,
            end,
            closed_by: side(closed_by),
            busy: (busy_start, busy_end),
            closed_at,
            last_response,
            first_done,
            requests,
            peak_streams,
            max_streams,
            bits,
            basis: match basis {
                1 => Some(Basis::Observed),
                2 => Some(Basis::Estimated),
                3 => Some(Basis::Unknown),
                _ => None,
            },
            protocol,
            close_requested_by: side(close_requested_by),
            client_hellos,
            handshakes: HandshakeCounts {
                total: t,
                completed: c,
                abandoned: a,
                failed: f,
                incomplete: i,
                resumed: r,
                full,
                full_offered: o,
            },
        }
    }
}

/// Fixed-size fields read one after the other (zeros past the end).
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut field = [0; N];
        if let Some(bytes) = self.0.get(..N) {
            field.copy_from_slice(bytes);
        }
        self.0 = self.0.get(N..).unwrap_or_default();
        field
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
