//! What the totals, the servers, the findings and the gates need of one
//! finished connection: a few fixed-size figures, kept in memory for every
//! connection while the full record waits in the store (`ledger::store`).

use super::store::Loc;
use super::{Basis, Connection, HandshakeBrief};
use crate::{Side, Ts};

/// A connection's TLS handshakes as the totals and the resumption finding
/// see them: counts (at most `tls::MAX_HANDSHAKES` each) and the first
/// completion.
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
    /// When the first of them to complete did, reckoned from the
    /// connection's start.
    pub first_done: Option<Ts>,
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
    pub closed_at: Option<Ts>,
    pub closed_by: Option<Side>,
    /// When it was busy with requests (`findings::busy_span`).
    pub busy: (Ts, Ts),
    /// The last response seen.
    pub last_response: Option<Ts>,
    /// Requests carried as far as can be told (`servers::requests_of`).
    pub requests: Option<u64>,
    /// How that count is known; None without HTTP.
    pub basis: Option<Basis>,
    /// 1 + the index of the HTTP protocol in `ledger::PROTOCOLS`; 0 for
    /// none (`Digest::protocol` names it).
    protocol: u8,
    pub close_requested_by: Option<Side>,
    pub peak_streams: Option<u32>,
    pub max_streams: Option<u32>,
    pub client_hellos: u32,
    pub syn_seen: bool,
    pub tls: bool,
    /// The client offered h2 in ALPN.
    pub offered_h2: bool,
    /// Every TLS record was decrypted.
    pub decrypted: bool,
    /// The key logs held secrets for its handshake.
    pub with_keys: bool,
    /// Carried requests (`servers::carried_requests`).
    pub carried: bool,
    /// Known to have carried none (`servers::unused`).
    pub unused: bool,
    pub handshakes: HandshakeCounts,
}

impl Digest {
    /// The digest of `c`, whose `request_span` and `record_span` are set.
    pub fn of(c: &Connection, loc: Loc, server: u32) -> Digest {
        let http = c.http.as_ref();
        let tls = c.tls.as_ref();
        let requests = super::servers::requests_of(c);
        Digest {
            loc,
            capture: 0,
            server,
            first_packet: c.tcp.first_packet,
            start: c.tcp.start,
            end: c.tcp.end,
            closed_at: c.tcp.closed_at,
            closed_by: c.tcp.closed_by,
            busy: crate::findings::busy_span(c),
            last_response: c.request_span.last_response,
            requests,
            basis: http.map(|h| h.requests_basis),
            protocol: http
                .and_then(|h| h.protocol)
                .and_then(|p| super::PROTOCOLS.iter().position(|q| *q == p))
                .map_or(0, |i| i as u8 + 1),
            close_requested_by: http.and_then(|h| h.close_requested_by),
            peak_streams: http.and_then(|h| h.peak_concurrent_streams),
            max_streams: http.and_then(|h| h.max_concurrent_streams),
            client_hellos: tls.map_or(0, |t| u32::try_from(t.client_hellos).unwrap_or(u32::MAX)),
            syn_seen: c.tcp.syn_seen,
            tls: tls.is_some(),
            offered_h2: tls.is_some_and(|t| t.alpn_offered.iter().any(|a| &**a == "h2")),
            decrypted: tls.is_some_and(|t| t.decrypted),
            with_keys: tls.is_some_and(|t| {
                t.decrypted || t.decrypt_error.as_deref().is_some_and(|e| e != "no key")
            }),
            carried: super::servers::carried_requests(c),
            unused: super::servers::unused(c),
            handshakes: HandshakeCounts::of(&c.handshakes, c.tcp.start),
        }
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
    fn of(handshakes: &[HandshakeBrief], connection_start: Ts) -> Self {
        use crate::tls::Outcome;
        let mut n = HandshakeCounts::default();
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
            n.first_done = match (n.first_done, done) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        n
    }
}

#[cfg(test)]
mod tests {
    /// What every finished connection costs in memory until the report is
    /// written (docs/PERFORMANCE.md): a field added here should be worth it.
    #[test]
    fn a_digest_stays_small() {
        assert!(std::mem::size_of::<super::Digest>() <= 176);
    }
}
