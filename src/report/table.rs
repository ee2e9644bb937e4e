//! The terminal report: per capture, the servers (handshakes versus
//! requests), then the findings in plain language; connections on request.

use crate::ledger::{Basis, Close, Connection, Ledger, Server};
use std::io::{self, Write};

/// How to draw the table.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// ANSI colours (only on a terminal, and never with NO_COLOR set).
    pub colour: bool,
    /// List every connection under its capture.
    pub connections: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn requests_cell(s: &Server) -> String {
    match (s.requests, s.requests_basis) {
        (Some(n), Basis::Observed) => n.to_string(),
        (Some(n), Basis::Estimated) => format!("~{n} est."),
        (Some(n), Basis::Unknown) => n.to_string(),
        (None, _) if s.requests_observed + s.requests_estimated > 0 => {
            format!(">={} +?", s.requests_observed + s.requests_estimated)
        }
        (None, _) => "unknown".to_string(),
    }
}

fn handshakes_cell(s: &Server) -> String {
    let t = &s.tls_handshakes;
    if t.total == 0 {
        return "-".to_string();
    }
    let mut parts = vec![format!("{} full", t.full), format!("{} resumed", t.resumed)];
    if t.abandoned > 0 {
        parts.push(format!("{} abandoned", t.abandoned));
    }
    if t.failed > 0 {
        parts.push(format!("{} failed", t.failed));
    }
    format!("{} ({})", t.total, parts.join(", "))
}

pub fn render(ledger: &Ledger, out: &mut dyn Write, style: Style) -> io::Result<()> {
    ledger.readable()?;
    for (n, capture) in ledger.captures.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        let mine = |d: &crate::ledger::Digest| {
            ledger
                .captures
                .get(d.capture as usize)
                .is_some_and(|c| c.file == capture.file)
        };
        // Captures of the same file name share their servers and list.
        let count: usize = (ledger.captures.iter().enumerate())
            .filter(|(_, c)| c.file == capture.file)
            .map(|(k, _)| ledger.connections_of_capture(k))
            .sum();
        let span = match (capture.first_ts, capture.last_ts) {
            (Some(a), Some(b)) => format!(", {:.3} s from {a}", b.secs_since(a)),
            _ => String::new(),
        };
        writeln!(
            out,
            "{}: {} packets, {} TCP connections{}",
            style.paint("1", &capture.file),
            capture.packets,
            count,
            span
        )?;
        if let Some(e) = &capture.error {
            writeln!(out, "  {} {e}", style.paint("31", "damaged:"))?;
        }
        if let Some(line) = capture.limits.describe() {
            writeln!(out, "  {} {line}", style.paint("33", "not read in full:"))?;
        }
        let servers: Vec<&Server> = ledger
            .servers
            .iter()
            .filter(|s| s.capture == capture.file)
            .collect();
        if servers.is_empty() {
            continue;
        }
        let width = servers
            .iter()
            .map(|s| s.server.len())
            .max()
            .unwrap_or(6)
            .clamp(6, 40);
        writeln!(
            out,
            "\n  {:<width$}  {:>5}  {:>6}  {:<34}  {:<14}  {:>12}  {:>7}  {:>4}",
            "server",
            "conns",
            "TCP hs",
            "TLS handshakes",
            "protocols",
            "requests",
            "req/hs",
            "peak"
        )?;
        for s in &servers {
            let name: String = s.server.chars().take(width).collect();
            writeln!(
                out,
                "  {:<width$}  {:>5}  {:>6}  {:<34}  {:<14}  {:>12}  {:>7}  {:>4}",
                name,
                s.connections,
                s.tcp_handshakes,
                handshakes_cell(s),
                if s.protocols.is_empty() {
                    "-".to_string()
                } else {
                    s.protocols.join(",")
                },
                requests_cell(s),
                s.requests_per_handshake
                    .map_or("-".to_string(), |r| format!("{r:.2}")),
                s.peak_connections
            )?;
        }
        let estimated = servers.iter().any(|s| s.requests_estimated > 0);
        let unknown = servers.iter().any(|s| s.connections_unknown_requests > 0);
        if estimated {
            writeln!(
                out,
                "  ~ est.: HTTP/1.x requests inside TLS without keys, counted as client flights of encrypted data"
            )?;
        }
        if unknown {
            writeln!(
                out,
                "  unknown: HTTP/2 inside TLS without keys; give --keylog to count its requests"
            )?;
        }
        let findings: Vec<_> = ledger
            .findings
            .iter()
            .filter(|f| f.capture == capture.file)
            .collect();
        if findings.is_empty() {
            writeln!(
                out,
                "\n  No findings: connections were reused as well as this capture shows."
            )?;
        } else {
            writeln!(out, "\n  {}", style.paint("1", "Findings"))?;
            for (i, f) in findings.iter().enumerate() {
                let kind = serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {}. {} ({})",
                    i + 1,
                    style.paint("33", &kind),
                    f.server
                )?;
                writeln!(out, "     {}", f.message)?;
                writeln!(out, "     Likely cause: {}", f.cause)?;
                writeln!(out, "     Usual fix: {}", f.fix)?;
            }
        }
        if style.connections {
            writeln!(out)?;
            let conns = ledger
                .connections()
                .zip(ledger.digests())
                .enumerate()
                .filter(|(_, (_, d))| d.as_ref().map_or(true, mine))
                .map(|(i, (c, d))| {
                    d?;
                    c.map(|c| (i, c))
                });
            connections_table(conns, out)?;
        }
    }
    if ledger.captures.len() > 1 {
        let t = &ledger.totals;
        let unknown = match t.connections_unknown_requests {
            0 => String::new(),
            1 => " (and the unknown requests of 1 connection)".to_string(),
            n => format!(" (and the unknown requests of {n} connections)"),
        };
        writeln!(
            out,
            "\nTotal: {} captures, {} TCP connections ({} TCP handshakes), {} TLS handshakes, {} requests observed and {} estimated{unknown}, {} findings",
            t.captures,
            t.tcp_connections,
            t.tcp_handshakes,
            t.tls_handshakes.total,
            t.requests,
            t.requests_estimated,
            t.findings
        )?;
    }
    Ok(())
}

fn connections_table(
    conns: impl Iterator<Item = io::Result<(usize, Connection)>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "  {:>4}  {:>6}  {:<26} {:<26} {:>4}  {:>9}  {:<8} {:<9} {:>9}  {:<7}",
        "#", "first", "client", "server", "syn", "secs", "close", "tls", "requests", "http"
    )?;
    for c in conns {
        let (i, c) = c?;
        let tcp = &c.tcp;
        let close = match (tcp.closed_by, tcp.close) {
            (Some(side), Some(how)) => format!(
                "{}:{}",
                match side {
                    crate::Side::Client => "c",
                    crate::Side::Server => "s",
                },
                match how {
                    Close::Fin => "fin",
                    Close::Rst => "rst",
                }
            ),
            _ => "open".to_string(),
        };
        let syn = match (tcp.syn_seen, tcp.role_inferred) {
            (true, _) => "yes",
            (false, true) => "no*",
            (false, false) => "no",
        };
        let tls = c.tls.as_ref().map_or("-".to_string(), |t| {
            let outcome = t
                .outcome
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "?".to_string());
            match t.resumed {
                Some(true) => format!("{outcome},res"),
                _ => outcome,
            }
        });
        let requests =
            c.http
                .as_ref()
                .map_or("-".to_string(), |h| match (h.requests, h.requests_basis) {
                    (Some(n), Basis::Estimated) => format!("~{n}"),
                    (Some(n), _) => n.to_string(),
                    (None, _) if h.application_data == Some(false) => "0".to_string(),
                    (None, _) => "?".to_string(),
                });
        writeln!(
            out,
            "  {:>4}  {:>6}  {:<26} {:<26} {:>4}  {:>9.3}  {:<8} {:<9} {:>9}  {:<7}",
            i,
            tcp.first_packet,
            tcp.client.to_string(),
            tcp.server.to_string(),
            syn,
            tcp.end.secs_since(tcp.start),
            close,
            tls,
            requests,
            c.http.as_ref().and_then(|h| h.protocol).unwrap_or("-"),
        )?;
    }
    writeln!(
        out,
        "  no* = capture began mid-connection: roles inferred; ~ = estimated; ? = unknown"
    )
}
