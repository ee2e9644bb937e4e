//! Per-server figures, aggregated from the connections: the answer to "how
//! many handshakes served how many requests" for each server.

use super::{Basis, Capture, Connection, Digest, HandshakeTotals, NameSource, Server};
use crate::Ts;
use std::collections::HashMap;

/// The name a connection's server goes by: SNI, else the first request's
/// Host or `:authority`, else its address.
pub fn name_of(c: &Connection) -> (String, NameSource) {
    if let Some(sni) = c.tls.as_ref().and_then(|t| t.sni.clone()) {
        return (sni.to_string(), NameSource::Sni);
    }
    if let Some(host) = c.request_span.authority.clone() {
        return (host, NameSource::Host);
    }
    (c.tcp.server.to_string(), NameSource::Address)
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

/// Aggregates connections (indices into `all`) into one server's figures.
pub fn aggregate(
    all: &[Digest],
    ids: Vec<usize>,
    capture: String,
    server: String,
    name_source: NameSource,
) -> Server {
    let conns: Vec<&Digest> = ids.iter().filter_map(|&i| all.get(i)).collect();
    let mut tls_handshakes = HandshakeTotals::default();
    let mut protocols: Vec<&'static str> = Vec::new();
    let (mut observed, mut estimated, mut unknown) = (0, 0, 0);
    for c in &conns {
        tls_handshakes.add(&c.handshakes);
        if let Some(p) = c.protocol()
            && !protocols.contains(&p)
        {
            protocols.push(p);
        }
        // Connections without HTTP (other protocols, no payload) carry no
        // requests: they make no count unknown.
        match (c.basis, c.requests()) {
            (Some(Basis::Observed), Some(n)) => observed += n,
            (Some(Basis::Estimated), Some(n)) => estimated += n,
            (Some(_), None) => unknown += 1,
            _ => {}
        }
    }
    let requests = (unknown == 0).then_some(observed + estimated);
    let requests_basis = match (unknown, estimated) {
        (u, _) if u > 0 => Basis::Unknown,
        (_, e) if e > 0 => Basis::Estimated,
        _ => Basis::Observed,
    };
    let tcp_handshakes = conns.iter().filter(|c| c.syn_seen()).count();
    let handshakes = if tls_handshakes.total > 0 {
        tls_handshakes.total
    } else {
        tcp_handshakes
    };
    let requests_per_handshake = match (requests, handshakes) {
        (Some(r), h) if h > 0 => Some(r as f64 / h as f64),
        _ => None,
    };
    Server {
        capture,
        server,
        name_source,
        connections: conns.len(),
        tcp_handshakes,
        tls_handshakes,
        protocols,
        requests,
        requests_observed: observed,
        requests_estimated: estimated,
        connections_unknown_requests: unknown,
        requests_basis,
        requests_per_handshake,
        connections_with_requests: conns.iter().filter(|c| c.carried()).count(),
        unused_connections: conns.iter().filter(|c| c.unused()).count(),
        peak_connections: peak_overlap(conns.iter().map(|c| (c.start, c.end))),
        findings: 0,
        connection_ids: ids,
    }
}

/// Every server of every capture, in the order their first connection
/// began; `names[k]` are capture `k`'s server names, which the digests
/// refer to until this points them at the servers instead. Captures of
/// the same file name share their servers.
pub fn servers(
    all: &mut [Digest],
    captures: &[Capture],
    names: Vec<Vec<(String, NameSource)>>,
) -> Vec<Server> {
    // Per capture, per name: the server's index, once it has one.
    let mut index: Vec<Vec<Option<u32>>> = names.iter().map(|n| vec![None; n.len()]).collect();
    let mut by_name: HashMap<(&str, &str), u32> = HashMap::new();
    let mut groups: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (i, d) in all.iter_mut().enumerate() {
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
                groups.push((k, n, Vec::new()));
                u32::try_from(groups.len() - 1).unwrap_or(u32::MAX)
            })
        });
        if let Some((_, _, ids)) = groups.get_mut(s as usize) {
            ids.push(i);
        }
        d.server = s;
    }
    drop(by_name);
    groups
        .into_iter()
        .map(|(k, n, ids)| {
            let (name, source) = names
                .get(k)
                .and_then(|v| v.get(n))
                .cloned()
                .unwrap_or((String::new(), NameSource::Address));
            let capture = captures.get(k).map(|c| c.file.clone()).unwrap_or_default();
            aggregate(all, ids, capture, name, source)
        })
        .collect()
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
}
