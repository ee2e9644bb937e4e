//! Per-server figures, aggregated from the connections: the answer to "how
//! many handshakes served how many requests" for each server.

use super::runs::{Runs, Sorted};
use super::{Basis, Capture, Connection, Digest, HandshakeTotals, NameSource, Server, v4_text};
use crate::Ts;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::OnceLock;

/// The name a connection's server goes by: SNI, else the first request's
/// Host or `:authority`, else its address.
pub fn name_of(c: &Connection) -> (Cow<'_, str>, NameSource) {
    if let Some(sni) = c.tls.as_ref().and_then(|t| t.sni.as_deref()) {
        return (Cow::Borrowed(sni), NameSource::Sni);
    }
    if let Some(host) = c.request_span.authority.as_deref() {
        return (Cow::Borrowed(host), NameSource::Host);
    }
    let address = match &c.tcp.server {
        SocketAddr::V4(v4) => v4_text(v4).as_str().to_string(),
        v6 => v6.to_string(),
    };
    (Cow::Owned(address), NameSource::Address)
}

/// How many requests a connection carried, as far as can be told: Some(n)
/// when observed or estimated, Some(0) when it is known to have carried
/// none (no application data beyond setting up), None when unknown.
pub fn requests_of(c: &Connection) -> Option<u64> {
    let h = c.http.as_ref()?;
    match (h.requests, h.application_data) {
        (Some(n), _) => Some(n),
        (None, Some(false)) => Some(0),
        (None, _) => None,
    }
}

/// Whether a connection carried requests: counted ones, or, when the count
/// is unknown, application data beyond setting the connection up.
pub fn carried_requests(c: &Connection) -> bool {
    match requests_of(c) {
        Some(n) => n > 0,
        None => c
            .http
            .as_ref()
            .and_then(|h| h.application_data)
            .unwrap_or(false),
    }
}

/// Whether a connection is known to have carried no request.
pub fn unused(c: &Connection) -> bool {
    requests_of(c) == Some(0) || (c.http.is_none() && c.tcp.stream_bytes.client == 0)
}

/// The most intervals open at once; an interval ending when another starts
/// does not overlap it.
pub fn peak_overlap(spans: impl IntoIterator<Item = (Ts, Ts)>) -> usize {
    let spans = spans.into_iter();
    // Two events a span, allocated once: a server can have millions.
    let mut events: Vec<(Ts, i8)> = Vec::with_capacity(spans.size_hint().0.saturating_mul(2));
    for (start, end) in spans {
        events.push((start, 1));
        events.push((end.max(start), -1));
    }
    events.sort_unstable();
    let (mut open, mut peak) = (0i64, 0i64);
    for (_, delta) in events {
        open += i64::from(delta);
        peak = peak.max(open);
    }
    usize::try_from(peak).unwrap_or(0)
}

/// The most intervals open at once, from intervals given in the order they
/// began: as [`peak_overlap`], holding only the ends of those still open.
#[derive(Debug, Default)]
pub struct Peak {
    ends: BinaryHeap<Reverse<Ts>>,
    peak: usize,
}

impl Peak {
    /// The next interval; `start` is no earlier than the previous one's.
    pub fn add(&mut self, start: Ts, end: Ts) {
        // An interval ending when another starts does not overlap it, and
        // an empty one overlaps nothing.
        while self.ends.peek().is_some_and(|Reverse(e)| *e <= start) {
            self.ends.pop();
        }
        if end > start {
            self.ends.push(Reverse(end));
            self.peak = self.peak.max(self.ends.len());
        }
    }

    pub fn peak(&self) -> usize {
        self.peak
    }
}

/// Digests kept in memory while grouping them by server before a sorted
/// run of them goes to a temporary file (`ledger::runs`): 8 MiB.
pub const DIGESTS_IN_MEMORY: usize = 1 << 16;

/// A digest with its index in the report's `connections[]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Indexed {
    pub index: u64,
    pub digest: Digest,
}

impl super::runs::Record for Indexed {
    const SIZE: usize = 8 + Digest::SIZE;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.index.to_le_bytes());
        self.digest.encode(out);
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut index = [0; 8];
        if let Some(b) = bytes.get(..8) {
            index.copy_from_slice(b);
        }
        Indexed {
            index: u64::from_le_bytes(index),
            digest: Digest::decode(bytes.get(8..).unwrap_or_default()),
        }
    }
}

/// Every digest by server, then by index.
pub type ByServer = Sorted<Indexed, (u32, u64)>;

/// Records in `error` that a digest could not be read back (the first such
/// error is the one reported).
pub fn unreadable(error: &OnceLock<String>, e: &io::Error) {
    let _ = error.set(format!(
        "reading back the digests of finished connections: {e}"
    ));
}

fn by_server(r: &Indexed) -> (u32, u64) {
    (r.digest.server, r.index)
}

fn by_start(r: &Indexed) -> (Ts, u64) {
    (r.digest.start, r.index)
}

/// One server's connections with their indices in the report, to be read
/// as often as its figures and findings need: in the report's order, or
/// in the order they began. A digest that cannot be read back ends the
/// reading and is recorded in `error`.
#[derive(Clone)]
pub struct ServerConns<'a> {
    all: &'a ByServer,
    range: Range<usize>,
    error: &'a OnceLock<String>,
    /// Whether they began in the report's order, when known.
    in_order: Option<bool>,
    /// Digests kept in memory while sorting them by start.
    batch: usize,
}

impl<'a> ServerConns<'a> {
    /// The connections in `range` of `all`.
    pub fn new(all: &'a ByServer, range: Range<usize>, error: &'a OnceLock<String>) -> Self {
        ServerConns {
            all,
            range,
            error,
            in_order: None,
            batch: DIGESTS_IN_MEMORY,
        }
    }

    /// Sorted by start, when they must be, `n` digests at a time rather
    /// than [`DIGESTS_IN_MEMORY`].
    pub fn batch(self, n: usize) -> Self {
        ServerConns { batch: n, ..self }
    }

    /// Known to have begun in the report's order, or not.
    pub fn in_order(self, in_order: bool) -> Self {
        ServerConns {
            in_order: Some(in_order),
            ..self
        }
    }

    /// Each connection with its index, in the report's order.
    pub fn each(&self, mut f: impl FnMut(usize, &Digest)) {
        for r in self.all.range(self.range.clone()) {
            match r {
                Ok(r) => f(r.index as usize, &r.digest),
                Err(e) => return unreadable(self.error, &e),
            }
        }
    }

    /// Each connection with its index, by start and then index. In a
    /// capture whose packets are in time order that is the report's order,
    /// read as it comes; otherwise the server's digests are sorted in
    /// memory.
    pub fn each_by_start(&self, mut f: impl FnMut(usize, &Digest)) {
        let in_order = self.in_order.unwrap_or_else(|| {
            let mut in_order = true;
            let mut last: Option<Ts> = None;
            self.each(|_, d| {
                in_order &= last.is_none_or(|t| t <= d.start);
                last = Some(d.start);
            });
            in_order
        });
        if in_order {
            return self.each(f);
        }
        // Sorted as the digests were: in runs, past a batch.
        let mut sorted = Runs::new(by_start, self.batch);
        self.each(|i, d| {
            sorted.push(Indexed {
                index: i as u64,
                digest: d.clone(),
            })
        });
        for r in sorted.finish().iter() {
            match r {
                Ok(r) => f(r.index as usize, &r.digest),
                Err(e) => return unreadable(self.error, &e),
            }
        }
    }
}

/// A server's figures, or all connections', added up one connection at a
/// time.
#[derive(Debug, Default)]
pub struct Aggregate {
    pub tls_handshakes: HandshakeTotals,
    protocols: Vec<&'static str>,
    pub observed: u64,
    pub estimated: u64,
    pub unknown: usize,
    connections: usize,
    pub tcp_handshakes: usize,
    pub with_requests: usize,
    unused: usize,
    /// For the totals only: ClientHellos, connections with keys, and
    /// decrypted.
    pub client_hellos: u64,
    pub with_keys: usize,
    pub decrypted: usize,
    /// When the first TLS handshake to complete did.
    first_done: Option<Ts>,
}

impl Aggregate {
    /// The next connection, in the report's order.
    pub fn add(&mut self, c: &Digest) {
        self.connections += 1;
        self.tls_handshakes.add(&c.handshakes);
        if let Some(p) = c.protocol()
            && !self.protocols.contains(&p)
        {
            self.protocols.push(p);
        }
        // Connections without HTTP (other protocols, no payload) carry no
        // requests: they make no count unknown.
        match (c.basis, c.requests()) {
            (Some(Basis::Observed), Some(n)) => self.observed += n,
            (Some(Basis::Estimated), Some(n)) => self.estimated += n,
            (Some(_), None) => self.unknown += 1,
            _ => {}
        }
        self.tcp_handshakes += usize::from(c.syn_seen());
        self.with_requests += usize::from(c.carried());
        self.unused += usize::from(c.unused());
        self.client_hellos += u64::from(c.client_hellos);
        self.with_keys += usize::from(c.with_keys());
        self.decrypted += usize::from(c.decrypted());
        if let Some(t) = c.first_done() {
            self.first_done = Some(self.first_done.map_or(t, |f| f.min(t)));
        }
    }

    /// The figures, with the most connections open at once.
    pub fn server(
        self,
        capture: String,
        server: String,
        name_source: NameSource,
        peak_connections: usize,
    ) -> Server {
        let (observed, estimated, unknown) = (self.observed, self.estimated, self.unknown);
        let requests = (unknown == 0).then_some(observed + estimated);
        let requests_basis = match (unknown, estimated) {
            (u, _) if u > 0 => Basis::Unknown,
            (_, e) if e > 0 => Basis::Estimated,
            _ => Basis::Observed,
        };
        let handshakes = if self.tls_handshakes.total > 0 {
            self.tls_handshakes.total
        } else {
            self.tcp_handshakes
        };
        let requests_per_handshake = match (requests, handshakes) {
            (Some(r), h) if h > 0 => Some(r as f64 / h as f64),
            _ => None,
        };
        Server {
            capture,
            server,
            name_source,
            connections: self.connections,
            tcp_handshakes: self.tcp_handshakes,
            tls_handshakes: self.tls_handshakes,
            protocols: self.protocols,
            requests,
            requests_observed: observed,
            requests_estimated: estimated,
            connections_unknown_requests: unknown,
            requests_basis,
            requests_per_handshake,
            connections_with_requests: self.with_requests,
            unused_connections: self.unused,
            peak_connections,
            findings: 0,
            first: 0,
            in_order: None,
            first_done: self.first_done,
        }
    }
}

/// Aggregates a server's connections into its figures.
pub fn aggregate(
    conns: &ServerConns<'_>,
    capture: String,
    server: String,
    name_source: NameSource,
) -> Server {
    let mut figures = Aggregate::default();
    let mut peak = Peak::default();
    if conns.in_order == Some(true) {
        // One pass: the report's order is the order they began.
        conns.each(|_, c| {
            figures.add(c);
            peak.add(c.start, c.end);
        });
    } else {
        conns.each(|_, c| figures.add(c));
        conns.each_by_start(|_, c| peak.add(c.start, c.end));
    }
    let mut s = figures.server(capture, server, name_source, peak.peak());
    s.first = conns.range.start;
    s.in_order = conns.in_order;
    s
}

/// The servers of every capture, and where each connection's is.
pub struct Grouped {
    /// In the order their first connection began.
    pub servers: Vec<Server>,
    /// Per capture, per server name: the server's index.
    pub server_of: Vec<Vec<u32>>,
    pub by_server: ByServer,
    /// Why digests stayed in memory, if they did.
    pub warning: Option<String>,
}

/// Every server of every capture, in the order their first connection
/// began, from `digests` in the report's order; `names[k]` are capture
/// `k`'s server names, which the digests refer to. Captures of the same
/// file name share their servers. Digests go to a temporary file `batch`
/// at a time; a digest that cannot be read back ends the reading and is
/// recorded in `error`.
pub fn servers(
    digests: impl Iterator<Item = io::Result<Digest>>,
    captures: &[Capture],
    names: Vec<Vec<(String, NameSource)>>,
    batch: usize,
    error: &OnceLock<String>,
) -> Grouped {
    // Per capture, per name: the server's index, once it has one.
    let mut index: Vec<Vec<Option<u32>>> = names.iter().map(|n| vec![None; n.len()]).collect();
    let mut by_name: HashMap<(&str, &str), u32> = HashMap::new();
    // Per server: the capture and name it was first seen with, how many
    // connections it has, and the last one's start, while they begin in
    // the report's order.
    let mut groups: Vec<(usize, usize, usize, Option<Ts>)> = Vec::new();
    let mut out_of_order: Vec<bool> = Vec::new();
    let mut runs = Runs::new(by_server, batch);
    for (i, d) in digests.enumerate() {
        let mut d = match d {
            Ok(d) => d,
            Err(e) => {
                unreadable(error, &e);
                break;
            }
        };
        let (k, n) = (d.capture as usize, d.server as usize);
        let (Some(slot), Some(file), Some((name, _))) = (
            index.get_mut(k).and_then(|v| v.get_mut(n)),
            captures.get(k).map(|c| c.file.as_str()),
            names.get(k).and_then(|v| v.get(n)),
        ) else {
            continue;
        };
        let s = *slot.get_or_insert_with(|| {
            *by_name.entry((file, name.as_str())).or_insert_with(|| {
                groups.push((k, n, 0, None));
                out_of_order.push(false);
                u32::try_from(groups.len() - 1).unwrap_or(u32::MAX)
            })
        });
        if let Some((_, _, count, last)) = groups.get_mut(s as usize) {
            *count += 1;
            if last.is_some_and(|t| d.start < t)
                && let Some(o) = out_of_order.get_mut(s as usize)
            {
                *o = true;
            }
            *last = Some(d.start);
        }
        d.server = s;
        runs.push(Indexed {
            index: i as u64,
            digest: d,
        });
    }
    drop(by_name);
    let by_server = match runs.finish().merged() {
        Ok(sorted) => sorted,
        Err(e) => {
            unreadable(error, &e);
            Sorted::from_vec(by_server, Vec::new())
        }
    };
    let server_of = index
        .into_iter()
        .map(|v| v.into_iter().map(|s| s.unwrap_or(u32::MAX)).collect())
        .collect();
    let mut first = 0;
    let servers = groups
        .into_iter()
        .zip(out_of_order)
        .map(|((k, n, count, _), out_of_order)| {
            let (name, source) = names
                .get(k)
                .and_then(|v| v.get(n))
                .cloned()
                .unwrap_or((String::new(), NameSource::Address));
            let capture = captures.get(k).map(|c| c.file.clone()).unwrap_or_default();
            let conns = ServerConns::new(&by_server, first..first + count, error)
                .in_order(!out_of_order)
                .batch(batch);
            first += count;
            aggregate(&conns, capture, name, source)
        })
        .collect();
    Grouped {
        servers,
        server_of,
        warning: by_server
            .warning
            .as_ref()
            .map(|w| format!("{w}: the digests of finished connections stay in memory")),
        by_server,
    }
}

impl crate::gate::Figures for Server {
    fn figure(&self, name: &str) -> Option<f64> {
        let requests = self.requests.map(|r| r as f64);
        Some(match name {
            "connections" => self.connections as f64,
            "tcp_handshakes" => self.tcp_handshakes as f64,
            "tls_handshakes" => self.tls_handshakes.total as f64,
            "full_handshakes" => self.tls_handshakes.full as f64,
            "resumed_handshakes" => self.tls_handshakes.resumed as f64,
            "abandoned_handshakes" => self.tls_handshakes.abandoned as f64,
            "failed_handshakes" => self.tls_handshakes.failed as f64,
            "requests" => requests?,
            "unused_connections" => self.unused_connections as f64,
            "findings" => self.findings as f64,
            "requests_per_handshake" => self.requests_per_handshake?,
            "handshakes_per_request" => {
                let r = self.requests_per_handshake?;
                if r == 0.0 {
                    return None;
                }
                1.0 / r
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_overlap_counts_only_true_overlaps() {
        let s = |a: i64, b: i64| (Ts(a), Ts(b));
        assert_eq!(peak_overlap([s(0, 10), s(10, 20), s(20, 30)]), 1);
        assert_eq!(peak_overlap([s(0, 10), s(5, 20), s(6, 7), s(15, 30)]), 3);
        assert_eq!(peak_overlap(std::iter::empty()), 0);
    }

    proptest::proptest! {
        /// `Peak`, fed by start, agrees with `peak_overlap`: empty and
        /// reversed intervals, shared starts and ends included.
        #[test]
        fn peak_by_start_is_peak_overlap(
            mut spans in proptest::collection::vec((0i64..40, 0i64..40), 0..60)
        ) {
            let spans: Vec<(Ts, Ts)> = spans.drain(..).map(|(a, b)| (Ts(a), Ts(b))).collect();
            let mut by_start = spans.clone();
            by_start.sort_by_key(|s| s.0);
            let mut peak = Peak::default();
            by_start.iter().for_each(|&(a, b)| peak.add(a, b));
            proptest::prop_assert_eq!(peak.peak(), peak_overlap(spans));
        }
    }
}
