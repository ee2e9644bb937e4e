//! The diagnoses: patterns of wasted connections and handshakes, found by
//! reading the ledger only. Each finding names its server, the figures that
//! prove it, the connections involved, the likely cause and the usual fix.
//!
//! The rules and their thresholds are documented in docs/FINDINGS.md.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::ledger::servers::ServerConns;
use crate::ledger::{Connection, Digest, Finding, FindingKind, Ledger, Server};
use crate::{Side, Ts};
use std::collections::BTreeMap;
use std::ops::Range;

/// Connections opened within this long of each other form one burst of dials.
pub const DIAL_WINDOW: Ts = Ts(1_000_000_000);
/// The fewest connections that make a burst of dials worth reporting.
pub const MIN_DIALS: usize = 3;
/// The fewest connections that make "one request per connection" a pattern.
pub const MIN_NO_REUSE: usize = 3;
/// A connection idle this long before the server closed it was closed for
/// being idle.
pub const IDLE_CLOSE: Ts = Ts(500_000_000);

/// Every finding over the ledger, in server order then kind.
pub fn diagnose(ledger: &Ledger) -> Vec<Finding> {
    let mut out = Vec::new();
    for (s, server) in ledger.servers.iter().enumerate() {
        out.extend(scan(server, ledger.server_conns(s)));
    }
    out
}

/// One server's findings, in kind order. Each rule reads the connections
/// once, in the order they began, holding counts and what it compares
/// connections with; one more pass lists the connections of the findings
/// made ([`fill`]), so that nothing is held for connections no finding
/// lists.
fn scan(server: &Server, conns: ServerConns<'_>) -> Vec<Finding> {
    let mut dials = Dials::default();
    let mut found: Vec<(Finding, Pick)> = Vec::new();
    let mut singles = Singles::default();
    let mut h1 = Http1::new(server);
    // A full handshake begun after the first to complete could have
    // resumed.
    let mut full = Resumable::new(server.first_done);
    let mut h2 = H2Bursts::default();
    let mut pos = 0;
    conns.each_by_start(|_, c| {
        if let Some(group) = dials.add(pos, c) {
            found.extend(concurrent_dials(server, &group));
        }
        singles.add(c);
        h1.add(c);
        full.add(c);
        h2.add(pos, c);
        pos += 1;
    });
    if let Some(group) = dials.close() {
        found.extend(concurrent_dials(server, &group));
    }
    found.extend(no_reuse(server, singles));
    found.extend(http1_despite_h2(server, h1));
    found.extend(repeated_full_handshakes(server, full));
    found.extend(parallel_h2(server, h2.best()));
    fill(&conns, &mut found);
    found.into_iter().map(|(f, _)| f).collect()
}

/// Which of a server's connections a finding lists.
#[derive(Clone, Debug)]
enum Pick {
    /// Those at these places in the order the connections began (a burst
    /// of dials).
    Places(Range<usize>),
    /// Those that carried one request.
    Singles,
    /// HTTP/1.x over TLS, whose client offered h2 (or did not).
    Http1 { offered_h2: bool },
    /// Full handshakes begun after the first handshake completed, then.
    Late(Ts),
    /// HTTP/2 connections that carried requests, at these places.
    H2(Range<usize>),
}

impl Pick {
    /// Whether it lists the connections in the report's order rather than
    /// the order they began.
    fn by_index(&self) -> bool {
        matches!(self, Pick::Http1 { .. })
    }

    /// Whether it lists `c`, at `place` in the order they began.
    fn takes(&self, place: usize, c: &Digest) -> bool {
        match self {
            Pick::Places(r) => r.contains(&place),
            Pick::Singles => c.requests() == Some(1),
            Pick::Http1 { offered_h2 } => is_h1_over_tls(c) && c.offered_h2() == *offered_h2,
            Pick::Late(first_done) => c.handshakes.total > 0 && late(c, *first_done),
            Pick::H2(r) => r.contains(&place) && c.is_h2() && c.carried(),
        }
    }
}

/// Lists each finding's connections, in one pass over the server's
/// connections in the report's order for the findings that list them so,
/// and one in the order they began for the others.
fn fill(conns: &ServerConns<'_>, found: &mut [(Finding, Pick)]) {
    for by_index in [true, false] {
        if !found.iter().any(|(_, p)| p.by_index() == by_index) {
            continue;
        }
        // Bursts of dials can be many; they come in order and apart, so
        // the next one to fill is followed with a cursor rather than each
        // asked.
        let (bursts, others): (Vec<_>, Vec<_>) = found
            .iter_mut()
            .filter(|(_, p)| p.by_index() == by_index)
            .partition(|(_, p)| matches!(p, Pick::Places(_)));
        let (mut bursts, mut others) = (bursts.into_iter().peekable(), others);
        let mut place = 0;
        let mut take = |i: usize, c: &Digest| {
            while bursts
                .peek()
                .is_some_and(|(_, p)| matches!(p, Pick::Places(r) if r.end <= place))
            {
                bursts.next();
            }
            if let Some((f, p)) = bursts.peek_mut()
                && p.takes(place, c)
            {
                f.connections.push(i);
            }
            for (f, p) in others.iter_mut() {
                if p.takes(place, c) {
                    f.connections.push(i);
                }
            }
            place += 1;
        };
        if by_index {
            conns.each(&mut take);
        } else {
            conns.each_by_start(&mut take);
        }
    }
}

fn finding(kind: FindingKind, server: &Server, message: String, cause: &str, fix: &str) -> Finding {
    Finding {
        kind,
        capture: server.capture.clone(),
        server: server.server.clone(),
        message,
        cause: cause.to_string(),
        fix: fix.to_string(),
        evidence: BTreeMap::new(),
        connections: Vec::new(),
    }
}

fn millis(d: Ts) -> f64 {
    d.0 as f64 / 1e6
}

/// When a connection was busy with requests: from its first request to its
/// last response when requests were read; inside TLS without keys, from the
/// client's first to the last application-data record it is known by
/// (alert-sized records aside); else its whole lifetime.
pub fn busy_span(c: &Connection) -> (Ts, Ts) {
    let whole = (c.tcp.start, c.tcp.end);
    if let (Some(start), Some(end)) = (c.request_span.first_start, c.request_span.busy_end) {
        return (start, end);
    }
    c.record_span.unwrap_or(whole)
}

/// Inside TLS without keys, when a connection was busy: from the client's
/// first to the last application-data record it is known by (alert-sized
/// records aside), or to its end when more records came than are listed.
/// Computed when the connection ends, so that the records need not be kept.
pub fn record_span(t: &crate::tls::TlsSummary, connection_end: Ts) -> Option<(Ts, Ts)> {
    let records: Vec<&crate::tls::AppRecord> =
        t.first_records.iter().filter(|r| r.len > 19).collect();
    let start = records
        .iter()
        .find(|r| r.side == Side::Client)
        .map(|r| r.ts)?;
    let end = if t.first_records.len() >= crate::tls::FIRST_RECORDS {
        connection_end
    } else {
        records.last().map(|r| r.ts)?
    };
    Some((start, end.max(start)))
}

/// Whether a connection that began at `start` joins the burst whose last
/// connection began at `last`: dials within [`DIAL_WINDOW`] of each other.
fn joins(last: Option<Ts>, start: Ts) -> bool {
    last.is_some_and(|t| start.0.saturating_sub(t.0) <= DIAL_WINDOW.0)
}

/// A burst of dials: connections whose starts are each within
/// [`DIAL_WINDOW`] of the previous one, in brief.
#[derive(Debug, Default)]
struct Dials {
    /// Where it begins in the order the connections began, and how many.
    place: usize,
    len: usize,
    first: Ts,
    last: Option<Ts>,
    idle: usize,
    used: usize,
    /// A connection that carried requests spoke or offered h2.
    h2: bool,
    /// The most requests one of those carried, where known.
    busiest: Option<u64>,
}

impl Dials {
    /// The next connection by start, at `place` in that order; returns
    /// the burst it ended, if any.
    fn add(&mut self, place: usize, c: &Digest) -> Option<Dials> {
        let ended = if joins(self.last, c.start) {
            None
        } else {
            self.close()
        };
        if self.len == 0 {
            self.first = c.start;
            self.place = place;
        }
        self.len += 1;
        self.last = Some(c.start);
        self.idle += usize::from(c.unused());
        if c.carried() {
            self.used += 1;
            self.h2 |= c.is_h2() || c.offered_h2();
            self.busiest = self.busiest.max(c.requests());
        }
        ended
    }

    /// The burst so far, leaving an empty one.
    fn close(&mut self) -> Option<Dials> {
        (self.len > 0).then(|| std::mem::take(self))
    }
}

/// Several connections dialled at once, most never used, while one carried
/// the requests: clients that fan out before their first (HTTP/2)
/// connection is ready.
fn concurrent_dials(server: &Server, group: &Dials) -> Option<(Finding, Pick)> {
    let n = group.len;
    if n < MIN_DIALS || group.idle * 2 < n || group.used == 0 {
        return None;
    }
    let spread = Ts(group
        .last
        .unwrap_or(group.first)
        .0
        .saturating_sub(group.first.0));
    let carried = match (group.used, group.busiest) {
        (1, Some(n)) => format!("one connection carried all {n} requests"),
        (1, None) => {
            "one connection carried all the requests (count unknown without keys)".to_string()
        }
        (k, _) => format!("{k} connections carried the requests"),
    };
    let mut f = finding(
        FindingKind::ConcurrentDials,
        server,
        format!(
            "{} connections to {} were opened within {:.0} ms; {} of them carried no request, {}.",
            n,
            server.server,
            millis(spread),
            group.idle,
            carried
        ),
        if group.h2 {
            "The client started many requests at once before its first HTTP/2 connection was ready, and dialled a new connection for each (Go's net/http does this for concurrent requests to a new host)."
        } else {
            "The client started many requests at once and opened a connection for each before any was ready to be reused."
        },
        "Let the first request open the connection and wait for it before fanning out (or warm the pool up with one request); with HTTP/2, share one connection: in Go, use one http.Client/Transport and, where available, x/net/http2's StrictMaxConcurrentStreams or a single ClientConn.",
    );
    f.evidence.insert("connections", n as f64);
    f.evidence.insert("unused_connections", group.idle as f64);
    f.evidence.insert("used_connections", group.used as f64);
    f.evidence.insert("window_ms", millis(spread));
    if let Some(n) = group.busiest {
        f.evidence.insert("requests_on_busiest", n as f64);
    }
    Some((f, Pick::Places(group.place..group.place + n)))
}

/// Why a connection that carried one request ended before the next one
/// to the same server began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EndCause {
    /// The next connection was opened while this one's request was still
    /// under way: parallel requests, not a failure to reuse.
    Parallel,
    /// Still open when the next connection was opened: nothing was reused
    /// although nothing prevented it (bodies not read or closed).
    ClientNeverClosed,
    ClientClosed,
    ServerAskedClose,
    ServerIdleTimeout,
    ServerClosed,
}

fn end_cause(c: &Digest, next: &Digest) -> EndCause {
    let asked = c.close_requested_by;
    if c.busy.1 > next.start {
        return EndCause::Parallel;
    }
    // Closing one connection and dialling the next race inside a client:
    // a close that came before the next connection's request was done
    // counts as closing first; one that came later left it open.
    let closed_before_next = c.closed_at().is_some_and(|t| t <= next.busy.1);
    if !closed_before_next {
        return EndCause::ClientNeverClosed;
    }
    match (c.closed_by, asked) {
        (_, Some(Side::Server)) => EndCause::ServerAskedClose,
        (Some(Side::Client), Some(Side::Client)) => EndCause::ClientClosed,
        (Some(Side::Server), _) => {
            let last_response = c.last_response();
            let closed_at = c.closed_at().unwrap_or(c.end);
            match last_response {
                Some(t) if closed_at.0.saturating_sub(t.0) >= IDLE_CLOSE.0 => {
                    EndCause::ServerIdleTimeout
                }
                _ => EndCause::ServerClosed,
            }
        }
        _ => EndCause::ClientClosed,
    }
}

/// The connections that carried one request each, by start, and how each
/// ended before the next.
#[derive(Debug, Default)]
struct Singles {
    connections: usize,
    singles: usize,
    /// The last of them so far.
    last: Option<Digest>,
    causes: BTreeMap<EndCause, usize>,
}

impl Singles {
    fn add(&mut self, c: &Digest) {
        self.connections += 1;
        if c.requests() != Some(1) {
            return;
        }
        if let Some(last) = &self.last {
            *self.causes.entry(end_cause(last, c)).or_default() += 1;
        }
        self.singles += 1;
        self.last = Some(c.clone());
    }
}

/// Requests spread one per connection although keep-alive was possible.
fn no_reuse(server: &Server, singles: Singles) -> Option<(Finding, Pick)> {
    let Singles {
        connections,
        singles,
        causes,
        ..
    } = singles;
    if singles < MIN_NO_REUSE || singles * 2 < connections {
        return None;
    }
    let (&cause, &count) = causes
        .iter()
        .max_by_key(|(cause, n)| (**n, std::cmp::Reverse(**cause)))?;
    let (why, fix) = match cause {
        // Parallel requests are the other findings' matter.
        EndCause::Parallel => return None,
        EndCause::ClientNeverClosed => (
            "The client never closed or reused its connections: each stayed open while the next request dialled a new one. This is what an HTTP client does when response bodies are not read to the end and closed (in Go: resp.Body not drained and closed), so the connection never returns to the pool.",
            "Read every response body to EOF and close it (Go: io.Copy(io.Discard, resp.Body); resp.Body.Close()), and reuse one client.",
        ),
        EndCause::ClientClosed => (
            "The client closed each connection after its response (Connection: close or keep-alive disabled, or a new client per request).",
            "Enable keep-alive and reuse one HTTP client (Go: one http.Client, DisableKeepAlives false; curl: one handle for several URLs).",
        ),
        EndCause::ServerAskedClose => (
            "The server asked to close after each response (Connection: close), for example a keep-alive limit of one request or keep-alive disabled.",
            "Allow keep-alive on the server (nginx: keepalive_timeout > 0, keepalive_requests > 1) or find why it answers with Connection: close.",
        ),
        EndCause::ServerIdleTimeout => (
            "The server closed each connection after it sat idle between requests: the requests were spaced further apart than the server's keep-alive timeout.",
            "Raise the server's idle timeout (nginx: keepalive_timeout) above the gap between requests, or batch the requests.",
        ),
        EndCause::ServerClosed => (
            "The server closed each connection right after its response.",
            "Check the server's keep-alive settings and request limits.",
        ),
    };
    let side = match cause {
        EndCause::Parallel | EndCause::ClientNeverClosed | EndCause::ClientClosed => "client",
        EndCause::ServerAskedClose | EndCause::ServerIdleTimeout | EndCause::ServerClosed => {
            "server"
        }
    };
    let mut f = finding(
        FindingKind::NoReuse,
        server,
        format!(
            "{} requests to {} went over {} connections, one request each; {} of the {} connections followed by a new one ended that way because the {} {}.",
            singles,
            server.server,
            singles,
            count,
            singles.saturating_sub(1),
            side,
            match cause {
                EndCause::Parallel => "sent them in parallel",
                EndCause::ClientNeverClosed => "never closed them nor reused them",
                EndCause::ClientClosed => "closed them",
                EndCause::ServerAskedClose => "asked to close (Connection: close)",
                EndCause::ServerIdleTimeout => "closed them when idle",
                EndCause::ServerClosed => "closed them",
            }
        ),
        why,
        fix,
    );
    f.evidence.insert("connections", singles as f64);
    f.evidence.insert("requests", singles as f64);
    f.evidence
        .insert("connections_ended_this_way", count as f64);
    f.evidence.insert(
        if side == "client" {
            "side_client"
        } else {
            "side_server"
        },
        1.0,
    );
    Some((f, Pick::Singles))
}

/// The connections that spoke HTTP/1.x over TLS: those whose client
/// offered h2, and those whose client did not.
#[derive(Debug)]
struct Http1 {
    refused: usize,
    not_offered: usize,
    /// The server spoke h2 on some connection.
    speaks_h2: bool,
}

fn is_h1_over_tls(c: &Digest) -> bool {
    c.protocol().is_some_and(|p| p.starts_with("http/1")) && c.tls()
}

impl Http1 {
    fn new(server: &Server) -> Self {
        Http1 {
            refused: 0,
            not_offered: 0,
            speaks_h2: server.protocols.contains(&"h2"),
        }
    }

    fn add(&mut self, c: &Digest) {
        if is_h1_over_tls(c) {
            if c.offered_h2() {
                self.refused += 1;
            } else {
                self.not_offered += 1;
            }
        }
    }
}

/// HTTP/1.x on connections where h2 was on offer: the client offered h2 and
/// the server chose HTTP/1.1, or the same server spoke h2 on other
/// connections in the capture.
fn http1_despite_h2(server: &Server, h1: Http1) -> Vec<(Finding, Pick)> {
    let Http1 {
        refused,
        not_offered,
        speaks_h2: server_speaks_h2,
    } = h1;
    let mut out = Vec::new();
    if refused > 0 {
        let mut f = finding(
            FindingKind::Http1DespiteH2,
            server,
            format!(
                "{} connection(s) to {} used HTTP/1.1 although the client offered h2 in ALPN.",
                refused, server.server
            ),
            "The server does not enable HTTP/2 on this listener (or prefers http/1.1 in its ALPN order).",
            "Enable HTTP/2 on the server (nginx: `http2 on;` or `listen ... http2`), so that one connection multiplexes every request.",
        );
        f.evidence.insert("connections", refused as f64);
        out.push((f, Pick::Http1 { offered_h2: true }));
    }
    if server_speaks_h2 && not_offered > 0 {
        let mut f = finding(
            FindingKind::Http1DespiteH2,
            server,
            format!(
                "{} connection(s) to {} used HTTP/1.1 while the same server spoke h2 on other connections in this capture; those clients did not offer h2.",
                not_offered, server.server
            ),
            "The client's TLS configuration offers no h2 in ALPN (in Go: a custom TLSClientConfig or TLSNextProto disables HTTP/2 unless ForceAttemptHTTP2 is set).",
            "Offer h2 in ALPN (Go: Transport.ForceAttemptHTTP2 = true, or leave TLSNextProto nil; curl: --http2).",
        );
        f.evidence.insert("connections", not_offered as f64);
        out.push((f, Pick::Http1 { offered_h2: false }));
    }
    out
}

/// Whether `c` made full handshakes after the first handshake to its server
/// completed, at `first_done`. Each handshake begins with its connection
/// (the ClientHello follows within an RTT), so a connection's handshakes
/// are judged together.
fn late(c: &Digest, first_done: Ts) -> bool {
    c.start > first_done && c.handshakes.full > 0
}

/// The full TLS handshakes begun after the first handshake to the server
/// had completed.
#[derive(Debug)]
struct Resumable {
    /// When the first handshake to complete did (over every connection).
    first_done: Option<Ts>,
    late: usize,
    avoidable: usize,
    offered: usize,
    resumed: usize,
}

impl Resumable {
    fn new(first_done: Option<Ts>) -> Self {
        Resumable {
            first_done,
            late: 0,
            avoidable: 0,
            offered: 0,
            resumed: 0,
        }
    }

    fn add(&mut self, c: &Digest) {
        let h = &c.handshakes;
        if h.total == 0 {
            return;
        }
        self.resumed += usize::from(h.resumed);
        if self.first_done.is_some_and(|t| late(c, t)) {
            self.late += 1;
            self.avoidable += usize::from(h.full);
            self.offered += usize::from(h.full_offered);
        }
    }
}

/// Full TLS handshakes begun after an earlier handshake to the same server
/// had completed, so a session could have been resumed.
fn repeated_full_handshakes(server: &Server, full: Resumable) -> Option<(Finding, Pick)> {
    let Resumable {
        first_done,
        avoidable,
        offered,
        resumed,
        ..
    } = full;
    let first_done = first_done?;
    if avoidable == 0 {
        return None;
    }
    let (cause, fix) = if offered * 2 >= avoidable {
        (
            "The client offered to resume (session id, ticket or PSK) but the server made a full handshake: its session cache or ticket keys did not accept the session (disabled, rotated, or not shared between servers).",
            "Enable session resumption on the server (nginx: ssl_session_cache shared, ssl_session_tickets on) and share ticket keys across instances.",
        )
    } else {
        (
            "The client did not offer to resume: it keeps no TLS session cache, or makes a new TLS configuration per connection.",
            "Keep a session cache in the client (Go: tls.Config.ClientSessionCache = tls.NewLRUClientSessionCache(n), shared by one Transport) and, better, reuse the connection itself.",
        )
    };
    let mut f = finding(
        FindingKind::RepeatedFullHandshakes,
        server,
        format!(
            "{} full TLS handshake(s) to {} began after an earlier one had completed, so a session could have been resumed; {} offered resumption, {} handshake(s) to this server resumed.",
            avoidable, server.server, offered, resumed
        ),
        cause,
        fix,
    );
    f.evidence
        .insert("avoidable_full_handshakes", avoidable as f64);
    f.evidence.insert("offered_resumption", offered as f64);
    f.evidence.insert("resumed_handshakes", resumed as f64);
    Some((f, Pick::Late(first_done)))
}

/// One burst of HTTP/2 connections that carried requests, in brief.
#[derive(Debug, Default)]
struct H2Burst {
    /// The places of its first and last connection in the order the
    /// server's connections began.
    places: (usize, usize),
    busy: Vec<(Ts, Ts)>,
    last: Option<Ts>,
    peak_streams: Option<u32>,
    limit: Option<u32>,
}

/// The HTTP/2 connections that carried requests, in bursts of dials
/// ([`DIAL_WINDOW`]), and the largest burst of at least two (the last of
/// the largest).
#[derive(Debug, Default)]
struct H2Bursts {
    current: H2Burst,
    best: Option<H2Burst>,
}

impl H2Bursts {
    fn add(&mut self, place: usize, c: &Digest) {
        if !(c.is_h2() && c.carried()) {
            return;
        }
        if !joins(self.current.last, c.start) {
            self.close();
        }
        let b = &mut self.current;
        if b.busy.is_empty() {
            b.places.0 = place;
        }
        b.places.1 = place;
        b.busy.push(c.busy);
        b.last = Some(c.start);
        b.peak_streams = b.peak_streams.max(c.peak_streams());
        b.limit = match (b.limit, c.max_streams()) {
            (Some(a), Some(l)) => Some(a.min(l)),
            (a, l) => a.or(l),
        };
    }

    fn close(&mut self) {
        let done = std::mem::take(&mut self.current);
        let larger = self
            .best
            .as_ref()
            .is_none_or(|b| done.busy.len() >= b.busy.len());
        if done.busy.len() >= 2 && larger {
            self.best = Some(done);
        }
    }

    fn best(mut self) -> Option<H2Burst> {
        self.close();
        self.best
    }
}

/// Several HTTP/2 connections to one server carrying requests at the same
/// time, where one could have multiplexed them.
fn parallel_h2(server: &Server, burst: Option<H2Burst>) -> Option<(Finding, Pick)> {
    // Connections opened together: lifetimes that merely overlap (an idle
    // connection kept while a later one is made) are not parallel requests.
    let h2 = burst?;
    let peak = crate::ledger::servers::peak_overlap(h2.busy.iter().copied());
    if peak < 2 {
        return None;
    }
    let (peak_streams, limit) = (h2.peak_streams, h2.limit);
    // With both figures known, only report when one connection had room.
    if let (Some(p), Some(l)) = (peak_streams, limit)
        && u64::from(p) * u64::from(peak as u32) > u64::from(l)
    {
        return None;
    }
    let streams = match (peak_streams, limit) {
        (Some(p), Some(l)) => {
            format!(" each had at most {p} streams open of the {l} the server allows.")
        }
        (Some(p), None) => format!(" each had at most {p} streams open."),
        _ => " (streams per connection unknown without keys).".to_string(),
    };
    let mut f = finding(
        FindingKind::ParallelH2,
        server,
        format!(
            "{} HTTP/2 connections to {} carried requests, up to {} at the same time;{}",
            h2.busy.len(),
            server.server,
            peak,
            streams
        ),
        "The client opened a new HTTP/2 connection for parallel requests instead of multiplexing them as streams on one (curl --parallel without --parallel-max/multiplexing, or one connection pool per request).",
        "Multiplex on one connection: reuse one client; curl: wait for multiplexing (default) rather than --parallel-immediate.",
    );
    f.evidence.insert("connections", h2.busy.len() as f64);
    f.evidence.insert("peak_parallel_connections", peak as f64);
    if let Some(p) = peak_streams {
        f.evidence
            .insert("peak_streams_per_connection", f64::from(p));
    }
    if let Some(l) = limit {
        f.evidence.insert("max_concurrent_streams", f64::from(l));
    }
    Some((f, Pick::H2(h2.places.0..h2.places.1 + 1)))
}
