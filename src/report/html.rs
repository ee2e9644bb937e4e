//! The HTML report: one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) with the summary, the servers, the findings and a
//! timeline of every connection; every string from a capture is escaped and
//! the output is bounded (parts are in docs/REPORTS.md).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::csv::write_atomically;
use crate::Ts;
use crate::ledger::HandshakeBrief;
use crate::ledger::servers::{carried_requests, requests_of, unused};
use crate::ledger::{
    Basis, Close, Connection, Digest, Finding, FindingKind, Ledger, Request, Server,
};
use crate::tls::Outcome;
use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Connections drawn on the timelines; the rest are counted, not drawn.
pub const MAX_BARS: usize = 2_000;
/// Request ticks drawn over all timelines.
pub const MAX_TICKS: usize = 20_000;
/// Rows of the server table and findings listed.
pub const MAX_ROWS: usize = 2_000;
/// Connections listed by number under one finding.
const MAX_FINDING_CONNECTIONS: usize = 40;
/// Distinct anomaly kinds listed.
const MAX_ANOMALY_KINDS: usize = 100;

/// Writes the page to `out`.
pub fn write_html(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    ledger.readable()?;
    let mut w = BufWriter::new(out);
    page(ledger, &mut w)?;
    w.flush()
}

/// Writes the page to `path` atomically (a temporary file in the same
/// directory, then a rename); an error, before anything is written, when
/// `path` is one of the input captures.
pub fn write_html_file(ledger: &Ledger, path: &Path, inputs: &[PathBuf]) -> io::Result<()> {
    write_atomically(path, inputs, |out| write_html(ledger, out))
}

/// Text escaped for HTML content and attribute values (HTML 13.1.2.6:
/// `&`, `<`, `>`, `"` and `'`). Control characters other than tab and
/// line feed, which a page cannot show, become U+FFFD.
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(|c: char| needs_escape(c)) {
            let (plain, tail) = rest.split_at(i);
            f.write_str(plain)?;
            let mut chars = tail.chars();
            let Some(c) = chars.next() else { break };
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            })?;
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && c != '\n' && c != '\t')
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}\u{2026}", s.get(..i).unwrap_or_default()).into(),
        None => s.into(),
    }
}

/// A duration for reading: "850 µs", "12.3 ms", "2.14 s".
fn dur(secs: f64) -> String {
    let a = secs.abs();
    if !secs.is_finite() {
        "?".into()
    } else if a < 1e-3 {
        format!("{:.0} \u{b5}s", secs * 1e6)
    } else if a < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.3} s")
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = "KiB";
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A JSON enum name (`"h2"` -> `h2`), for showing what the JSON says.
fn name_of<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn kind_title(k: FindingKind) -> &'static str {
    match k {
        FindingKind::ConcurrentDials => "Concurrent dials, most never used",
        FindingKind::NoReuse => "One request per connection",
        FindingKind::Http1DespiteH2 => "HTTP/1.x where h2 was offered",
        FindingKind::RepeatedFullHandshakes => "Full TLS handshakes where resumption was possible",
        FindingKind::ParallelH2 => "Several HTTP/2 connections where one could multiplex",
    }
}

const STYLE: &str = r#"
:root{--fg:#1d2329;--muted:#5c6670;--line:#d9dee3;--used:#3572b0;--idle:#cfd5dd;--unknown:#e9d8a6;
--full:#2b8a3e;--resumed:#94d82d;--abandoned:#e03131;--failed:#9c36b5;--incomplete:#f59f00}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
margin:20px 24px;color:var(--fg);background:#fff}
h1{font-size:20px;margin:0 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:3px}
h3{font-size:15px;margin:0 0 4px}.muted,.note{color:var(--muted)}.note{font-size:13px}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;background:#f4f6f8;white-space:nowrap}th.g{text-align:center;border-bottom:1px solid #c3cad1}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:6px}.card{border:1px solid var(--line);border-radius:6px;padding:4px 12px}
.card b{font-size:18px;font-variant-numeric:tabular-nums}.card span{display:block;color:var(--muted);font-size:12px;min-height:1em}
.finding{border-left:4px solid #e8590c;background:#fff8f1;padding:8px 12px;margin:8px 0;max-width:1100px}
.finding dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:6px 0}.finding dt{font-weight:600}.finding dd{margin:0}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin:4px 0 8px}
.sw{display:inline-block;width:16px;height:10px;vertical-align:middle;margin-right:5px;border-radius:2px}
.tl,.wide{overflow-x:auto}td.name{overflow-wrap:anywhere;min-width:12em}svg.timeline{display:block;font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
.axis text{fill:var(--muted)}.grid{stroke:#e9ecef}.base{stroke:#adb5bd}.row{fill:#f8f9fa}
.glabel{font-weight:600;font-size:12px}.glabel tspan{font-weight:400;fill:var(--muted)}.rlabel{fill:var(--muted);font-size:9.5px}
.conn.used{fill:var(--used)}.conn.idle{fill:var(--idle)}.conn.unknown{fill:var(--unknown)}
.tls.completed{fill:var(--full)}.tls.resumed{fill:var(--resumed)}.tls.abandoned{fill:var(--abandoned)}
.tls.failed{fill:var(--failed)}.tls.incomplete{fill:var(--incomplete)}
.req{stroke:#111;stroke-width:1.5}.rst{fill:#7a0b0b}
"#;

fn page(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    let t = &l.totals;
    write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"connreuse {}\">\n\
         <title>connreuse: {} connections, {} servers</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        t.tcp_connections,
        t.servers,
    )?;
    writeln!(
        w,
        "<header><h1>How many handshakes served how many requests</h1><div class=\"muted\">{}</div></header>",
        Esc(&l
            .captures
            .iter()
            .map(|c| c.file.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    )?;
    summary(l, w)?;
    findings(l, w)?;
    servers(l, w)?;
    timelines(l, w)?;
    anomalies(l, w)?;
    writeln!(
        w,
        "<footer class=\"note\"><p>connreuse {}, report schema version {}. Estimated figures say so; \
         unknown ones are shown as \u{2013}.</p></footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        l.schema_version
    )
}

fn card(w: &mut dyn Write, value: impl Display, label: &str, detail: &str) -> io::Result<()> {
    write!(
        w,
        "<div class=\"card\"><b>{value}</b> {}<span>{}</span></div>",
        Esc(label),
        Esc(detail)
    )
}

fn summary(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    let t = &l.totals;
    let h = &t.tls_handshakes;
    // Per-server figures, so that the page agrees with its server table:
    // they count a connection whose requests cannot be counted (HTTP/2
    // inside TLS without keys) as carrying requests when it sent
    // application data.
    let unknown: usize = l
        .servers
        .iter()
        .map(|s| s.connections_unknown_requests)
        .sum();
    let with_requests: usize = l.servers.iter().map(|s| s.connections_with_requests).sum();
    let unused: usize = l.servers.iter().map(|s| s.unused_connections).sum();
    writeln!(
        w,
        "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">"
    )?;
    card(
        w,
        t.tcp_connections,
        "TCP connections",
        &format!("{} with the SYN captured", t.tcp_handshakes),
    )?;
    let parts: Vec<String> = [
        (h.full, "full"),
        (h.resumed, "resumed"),
        (h.abandoned, "abandoned"),
        (h.failed, "failed"),
        (h.incomplete, "incomplete"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    card(w, h.total, "TLS handshakes", &parts.join(", "))?;
    let known = t.requests + t.requests_estimated;
    let (value, detail) = match (unknown, t.requests_estimated) {
        (0, 0) => (known.to_string(), "observed".to_string()),
        (0, e) => (
            format!("\u{2248} {known}"),
            format!("{} observed, {e} estimated", t.requests),
        ),
        (u, _) => (
            if known > 0 {
                format!("\u{2265} {known}")
            } else {
                "\u{2013}".to_string()
            },
            format!(
                "not countable on {u} connection{}",
                if u == 1 { "" } else { "s" }
            ),
        ),
    };
    card(w, value, "requests", &detail)?;
    card(
        w,
        with_requests,
        "connections with requests",
        &format!("{unused} known to carry none"),
    )?;
    card(w, t.servers, "servers", "")?;
    card(w, t.findings, "findings", "")?;
    writeln!(w, "</div>")?;
    writeln!(
        w,
        "<table><tr><th>capture</th><th>format</th><th>packets</th><th>TCP packets</th><th>bytes</th>\
         <th>first packet</th><th>duration</th><th>connections</th><th>not read</th></tr>"
    )?;
    let mut per_capture: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, c) in l.captures.iter().enumerate() {
        *per_capture.entry(c.file.as_str()).or_default() += l.connections_of_capture(k);
    }
    for c in &l.captures {
        let conns = per_capture.get(c.file.as_str()).copied().unwrap_or(0);
        let span = match (c.first_ts, c.last_ts) {
            (Some(a), Some(b)) => dur(b.secs_since(a)),
            _ => "\u{2013}".into(),
        };
        let format = [
            c.format.as_ref().map(name_of),
            c.compression.as_ref().map(name_of).filter(|n| n != "none"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let not_read = c.other_packets + c.unknown_link_packets + c.fragments + c.malformed_packets;
        write!(
            w,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{conns}</td><td class=\"n\">{not_read}</td></tr>",
            Esc(&c.file),
            Esc(&format),
            c.packets,
            c.tcp_packets,
            bytes(c.bytes),
            c.first_ts
                .map_or_else(|| "\u{2013}".to_string(), |t| t.to_string()),
            span,
        )?;
        if let Some(e) = &c.error {
            write!(
                w,
                "<tr><td colspan=\"9\" class=\"note\">Reading stopped early: {}</td></tr>",
                Esc(e)
            )?;
        }
        if let Some(line) = c.limits.describe() {
            write!(
                w,
                "<tr><td colspan=\"9\" class=\"note\">Not read in full: {}</td></tr>",
                Esc(&line)
            )?;
        }
        writeln!(w)?;
    }
    writeln!(w, "</table></section>")
}

fn findings(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<section id=\"findings\"><h2>Findings</h2>")?;
    if l.findings.is_empty() {
        writeln!(w, "<p class=\"muted\">No findings.</p>")?;
    }
    let several = l.captures.len() > 1;
    for f in l.findings.iter().take(MAX_ROWS) {
        finding(w, f, several)?;
    }
    if l.findings.len() > MAX_ROWS {
        writeln!(
            w,
            "<p class=\"note\">{} more findings are left out here (all are in the JSON and CSV reports).</p>",
            l.findings.len() - MAX_ROWS
        )?;
    }
    writeln!(w, "</section>")
}

fn finding(w: &mut dyn Write, f: &Finding, several: bool) -> io::Result<()> {
    write!(
        w,
        "<article class=\"finding\"><h3>{} \u{2014} {}</h3>",
        Esc(kind_title(f.kind)),
        Esc(&f.server)
    )?;
    if several {
        write!(w, "<div class=\"note\">{}</div>", Esc(&f.capture))?;
    }
    write!(
        w,
        "<p>{}</p><dl><dt>Likely cause</dt><dd>{}</dd><dt>Usual fix</dt><dd>{}</dd>",
        Esc(&f.message),
        Esc(&f.cause),
        Esc(&f.fix)
    )?;
    if !f.evidence.is_empty() {
        write!(w, "<dt>Evidence</dt><dd>")?;
        for (i, (name, value)) in f.evidence.iter().enumerate() {
            let sep = if i > 0 { ", " } else { "" };
            write!(w, "{sep}{} = {value}", Esc(&name.replace('_', " ")))?;
        }
        write!(w, "</dd>")?;
    }
    if !f.connections.is_empty() {
        write!(w, "<dt>Connections</dt><dd>")?;
        for (i, c) in f
            .connections
            .iter()
            .take(MAX_FINDING_CONNECTIONS)
            .enumerate()
        {
            let sep = if i > 0 { ", " } else { "" };
            write!(w, "{sep}#{c}")?;
        }
        if f.connections.len() > MAX_FINDING_CONNECTIONS {
            write!(
                w,
                " and {} more",
                f.connections.len() - MAX_FINDING_CONNECTIONS
            )?;
        }
        write!(w, "</dd>")?;
    }
    writeln!(w, "</dl></article>")
}

/// The requests cell: "12", "≈ 12" when estimated, "–" (or "≥ n") when
/// some connection's count is unknown, with the reason on hover.
fn requests_cell(s: &Server) -> String {
    match (s.requests, s.requests_basis) {
        (Some(n), Basis::Estimated) => format!(
            "<td class=\"n\" title=\"estimated from client flights of encrypted data\">\u{2248} {n}</td>"
        ),
        (Some(n), _) => format!("<td class=\"n\">{n}</td>"),
        (None, _) => {
            let known = s.requests_observed + s.requests_estimated;
            let u = s.connections_unknown_requests;
            format!(
                "<td class=\"n\" title=\"not countable on {u} connection{} (HTTP/2 inside TLS without keys)\">{}</td>",
                if u == 1 { "" } else { "s" },
                if known > 0 {
                    format!("\u{2265} {known}")
                } else {
                    "\u{2013}".to_string()
                }
            )
        }
    }
}

fn servers(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    let several = l.captures.len() > 1;
    writeln!(w, "<section id=\"servers\"><h2>Servers</h2>")?;
    if l.servers.is_empty() {
        writeln!(w, "<p class=\"muted\">No connections.</p></section>")?;
        return Ok(());
    }
    write!(
        w,
        "<div class=\"wide\"><table class=\"servers\"><tr><th rowspan=\"2\">server</th>"
    )?;
    if several {
        write!(w, "<th rowspan=\"2\">capture</th>")?;
    }
    writeln!(
        w,
        "<th colspan=\"3\" class=\"g\">connections</th><th colspan=\"6\" class=\"g\">handshakes</th>\
         <th rowspan=\"2\">protocols</th><th colspan=\"2\" class=\"g\">requests</th>\
         <th rowspan=\"2\">findings</th></tr>\n<tr><th>total</th><th>peak open</th><th>unused</th>\
         <th>TCP</th><th>TLS</th><th>full</th><th>resumed</th><th>abandoned</th><th>failed</th>\
         <th>count</th><th>per handshake</th></tr>"
    )?;
    for s in l.servers.iter().take(MAX_ROWS) {
        let h = &s.tls_handshakes;
        write!(
            w,
            "<tr><td class=\"name\">{} <span class=\"muted\">({})</span></td>",
            Esc(&s.server),
            Esc(&name_of(&s.name_source))
        )?;
        if several {
            write!(w, "<td>{}</td>", Esc(&s.capture))?;
        }
        let per = s
            .requests_per_handshake
            .filter(|r| r.is_finite())
            .map_or_else(|| "\u{2013}".to_string(), |r| format!("{r:.2}"));
        writeln!(
            w,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td>{}<td class=\"n\">{per}</td>\
             <td class=\"n\">{}</td></tr>",
            s.connections,
            s.peak_connections,
            s.unused_connections,
            s.tcp_handshakes,
            h.total,
            h.full,
            h.resumed,
            h.abandoned,
            h.failed,
            Esc(&s.protocols.join(", ")),
            requests_cell(s),
            s.findings,
        )?;
    }
    writeln!(w, "</table></div>")?;
    if l.servers.len() > MAX_ROWS {
        writeln!(
            w,
            "<p class=\"note\">{} more servers are left out here (all are in the JSON and CSV reports).</p>",
            l.servers.len() - MAX_ROWS
        )?;
    }
    writeln!(
        w,
        "<p class=\"note\">Requests per handshake: requests over TLS handshakes (TCP handshakes \
         without TLS). Without keys, HTTP/1.x inside TLS is estimated from client flights and HTTP/2 \
         inside TLS cannot be counted.</p></section>"
    )
}

/// Where a connection's first TLS handshake lies in time.
#[derive(Debug, PartialEq)]
struct HandshakeSpan {
    start: Ts,
    end: Ts,
}

fn plus_secs(t: Ts, secs: f64) -> Ts {
    let ns = (secs * 1e9).round();
    if !ns.is_finite() {
        return t;
    }
    Ts(t.0.saturating_add(ns as i64))
}

/// The span of `h` (the connection's first handshake) from the ClientHello
/// to completion, or to the close that abandoned or followed a failed one,
/// or to the connection's last packet while incomplete. None when the
/// ClientHello was not captured.
fn handshake_span(c: &Connection, h: &HandshakeBrief) -> Option<HandshakeSpan> {
    let start = h.client_hello_ts?;
    let secs = match h.outcome {
        Outcome::Completed => h.secs_to_complete,
        Outcome::Abandoned | Outcome::Failed => h.secs_to_close,
        Outcome::Incomplete => None,
    }
    .filter(|s| s.is_finite() && *s >= 0.0);
    let end = secs.map_or(c.tcp.end, |s| plus_secs(start, s));
    Some(HandshakeSpan { start, end })
}

/// A time axis mapped onto `width` pixels starting at `x0`.
struct Axis {
    t0: Ts,
    t1: Ts,
    x0: f64,
    width: f64,
}

impl Axis {
    fn x(&self, t: Ts) -> f64 {
        let span = self.t1.secs_since(self.t0).max(1e-9);
        let f = (t.secs_since(self.t0) / span).clamp(0.0, 1.0);
        self.x0 + f * self.width
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving about `n` ticks.
fn nice_step(span: f64, n: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * mag
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 9.0) as usize
    };
    format!("+{v:.decimals$} s")
}

const SVG_W: f64 = 1320.0;
const LABEL_W: f64 = 250.0;
const PLOT_X: f64 = LABEL_W + 12.0;
const PLOT_W: f64 = SVG_W - PLOT_X - 16.0;
const AXIS_H: f64 = 26.0;
const GROUP_H: f64 = 22.0;
const ROW_H: f64 = 11.0;
const BAR_H: f64 = 7.0;

/// The budget of request ticks left over the whole page.
struct Budget {
    ticks: usize,
    ticks_left_out: bool,
}

fn timelines(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<section id=\"timeline\"><h2>Timeline</h2>")?;
    writeln!(
        w,
        "<div class=\"legend\">\
         <span><span class=\"sw\" style=\"background:var(--used)\"></span>connection that carried requests</span>\
         <span><span class=\"sw\" style=\"background:var(--idle)\"></span>connection known to carry none</span>\
         <span><span class=\"sw\" style=\"background:var(--unknown)\"></span>not known</span>\
         <span><span class=\"sw\" style=\"background:var(--full)\"></span>TLS handshake, full</span>\
         <span><span class=\"sw\" style=\"background:var(--resumed)\"></span>resumed</span>\
         <span><span class=\"sw\" style=\"background:var(--abandoned)\"></span>abandoned</span>\
         <span><span class=\"sw\" style=\"background:var(--failed)\"></span>failed</span>\
         <span><span class=\"sw\" style=\"background:var(--incomplete)\"></span>incomplete</span>\
         <span><span class=\"sw\" style=\"background:#111;width:2px\"></span>request sent</span>\
         <span><span class=\"sw\" style=\"background:#7a0b0b;width:3px\"></span>reset</span></div>"
    )?;
    writeln!(
        w,
        "<p class=\"note\">One bar per TCP connection, first to last packet, grouped by server; \
         hover for details. Requests are ticked where they were read (cleartext or decrypted); the \
         handshake mark runs from the ClientHello to completion (or to the close that ended it).</p>"
    )?;
    let count = l.connection_count();
    if count == 0 {
        return writeln!(w, "<p class=\"muted\">No connections.</p></section>");
    }
    if count > MAX_BARS {
        writeln!(
            w,
            "<p class=\"note\">The timelines draw the first {MAX_BARS} of {} connections; {} are left \
             out (all are in the JSON and CSV reports).</p>",
            count,
            count - MAX_BARS
        )?;
    }
    // The drawn connections with their requests (by start).
    let drawn: Vec<Connection> = l.records().take(MAX_BARS).collect::<io::Result<_>>()?;
    let digests: Vec<Digest> = l.digests().take(MAX_BARS).collect::<io::Result<_>>()?;
    let mut budget = Budget {
        ticks: MAX_TICKS,
        ticks_left_out: false,
    };
    let mut files: Vec<&str> = Vec::new();
    for f in l
        .captures
        .iter()
        .map(|c| c.file.as_str())
        .chain(l.servers.iter().map(|s| s.capture.as_str()))
    {
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let several = files.len() > 1;
    for file in files {
        timeline(l, file, several, (&drawn, &digests), &mut budget, w)?;
    }
    if budget.ticks_left_out {
        writeln!(
            w,
            "<p class=\"note\">Request ticks stop after {MAX_TICKS}; every request is in the JSON and CSV reports.</p>"
        )?;
    }
    writeln!(w, "</section>")
}

fn timeline(
    l: &Ledger,
    file: &str,
    several: bool,
    (drawn, digests): (&[Connection], &[Digest]),
    budget: &mut Budget,
    w: &mut dyn Write,
) -> io::Result<()> {
    // The drawn connections by server, in the servers' order.
    let mut by_server: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, d) in digests.iter().enumerate().take(drawn.len()) {
        by_server.entry(d.server as usize).or_default().push(i);
    }
    let groups: Vec<(&Server, Vec<usize>)> = by_server
        .into_iter()
        .filter_map(|(s, ids)| {
            let server = l.servers.get(s).filter(|s| s.capture == file)?;
            Some((server, ids))
        })
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let conns = || {
        groups
            .iter()
            .flat_map(|(_, ids)| ids.iter().filter_map(|&i| drawn.get(i)))
    };
    let capture = l.captures.iter().find(|c| c.file == file);
    let t0 = conns()
        .map(|c| c.tcp.start)
        .chain(capture.and_then(|c| c.first_ts))
        .min()
        .unwrap_or_default();
    let t1 = conns()
        .map(|c| c.tcp.end)
        .chain(capture.and_then(|c| c.last_ts))
        .max()
        .unwrap_or_default()
        .max(t0);
    let axis = Axis {
        t0,
        t1,
        x0: PLOT_X,
        width: PLOT_W,
    };
    let rows: usize = groups.iter().map(|(_, ids)| ids.len()).sum();
    let height = AXIS_H + groups.len() as f64 * GROUP_H + rows as f64 * ROW_H + 8.0;
    if several {
        writeln!(w, "<h3>{}</h3>", Esc(file))?;
    }
    writeln!(
        w,
        "<p class=\"note\">{rows} connection{} to {} server{}; time from the first packet, {t0} \
         (span {}).</p>",
        if rows == 1 { "" } else { "s" },
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
        dur(t1.secs_since(t0)),
    )?;
    writeln!(
        w,
        "<div class=\"tl\"><svg class=\"timeline\" width=\"{SVG_W}\" height=\"{height}\" \
         viewBox=\"0 0 {SVG_W} {height}\" role=\"img\" aria-label=\"connection timeline\">"
    )?;
    // Axis and grid.
    let span = t1.secs_since(t0);
    let step = nice_step(span, 10.0);
    writeln!(w, "<g class=\"axis\">")?;
    let mut k = 0u32;
    loop {
        let v = f64::from(k) * step;
        if v > span * (1.0 + 1e-9) || k > 100 {
            break;
        }
        let x = axis.x(plus_secs(t0, v));
        writeln!(
            w,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\">{}</text>",
            AXIS_H - 6.0,
            height - 4.0,
            tick_label(v, step)
        )?;
        k += 1;
    }
    writeln!(
        w,
        "<line class=\"base\" x1=\"{PLOT_X}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/></g>",
        AXIS_H - 6.0,
        PLOT_X + PLOT_W,
        AXIS_H - 6.0
    )?;
    let mut y = AXIS_H;
    for (s, ids) in &groups {
        let used = ids
            .iter()
            .filter_map(|&i| digests.get(i))
            .filter(|d| d.carried())
            .count();
        writeln!(
            w,
            "<text class=\"glabel\" x=\"4\" y=\"{:.1}\">{}<tspan> \u{2014} {} connection{}, {used} with requests, \
             peak {} open</tspan><title>{}</title></text>",
            y + 15.0,
            Esc(&clip(&s.server, 60)),
            s.connections,
            if s.connections == 1 { "" } else { "s" },
            s.peak_connections,
            Esc(&s.server),
        )?;
        y += GROUP_H;
        for &id in ids {
            if let Some(c) = drawn.get(id) {
                bar(w, &axis, y, id, c, budget)?;
            }
            y += ROW_H;
        }
    }
    writeln!(w, "</svg></div>")
}

/// One connection's row: label, bar, TLS handshake, request ticks.
fn bar(
    w: &mut dyn Write,
    axis: &Axis,
    y: f64,
    id: usize,
    c: &Connection,
    budget: &mut Budget,
) -> io::Result<()> {
    let t = &c.tcp;
    let requests: Vec<&Request> = c.requests.iter().collect();
    let by = y + (ROW_H - BAR_H) / 2.0;
    let x0 = axis.x(t.start);
    let bw = (axis.x(t.end) - x0).max(2.0);
    let class = if carried_requests(c) {
        "used"
    } else if unused(c) {
        "idle"
    } else {
        "unknown"
    };
    write!(
        w,
        "<text class=\"rlabel\" x=\"{LABEL_W}\" y=\"{:.1}\" text-anchor=\"end\">#{id} :{}</text>",
        y + 8.5,
        t.client.port()
    )?;
    write!(
        w,
        "<rect class=\"conn {class}\" x=\"{x0:.1}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{BAR_H}\" rx=\"1.5\"><title>"
    )?;
    connection_title(w, axis, id, c)?;
    writeln!(w, "</title></rect>")?;
    if let Some(h) = c.handshakes.first()
        && let Some(span) = handshake_span(c, h)
    {
        let hx = axis.x(span.start);
        let hw = (axis.x(span.end) - hx).max(2.5);
        let (class, what) = match (h.outcome, h.resumed) {
            (Outcome::Completed, Some(true)) => ("resumed", "completed, resumed"),
            (Outcome::Completed, Some(false)) => ("completed", "completed, full"),
            (Outcome::Completed, None) => ("completed", "completed"),
            (Outcome::Abandoned, _) => ("abandoned", "abandoned"),
            (Outcome::Failed, _) => ("failed", "failed"),
            (Outcome::Incomplete, _) => ("incomplete", "incomplete at the end of the capture"),
        };
        write!(
            w,
            "<rect class=\"tls {class}\" x=\"{hx:.1}\" y=\"{by:.1}\" width=\"{hw:.1}\" height=\"{BAR_H}\"><title>\
             TLS handshake {what}: {}",
            dur(span.end.secs_since(span.start))
        )?;
        if let Some(v) = c.tls.as_ref().and_then(|s| s.version.as_deref()) {
            write!(w, ", {}", Esc(v))?;
        }
        let hello = h
            .client_hello_packet
            .map_or_else(String::new, |p| format!(" (packet {p})"));
        write!(
            w,
            "\nClientHello at +{:.6} s{hello}\nends at +{:.6} s",
            span.start.secs_since(axis.t0),
            span.end.secs_since(axis.t0)
        )?;
        if let Some(p) = h.completed_packet {
            write!(w, " (packet {p})")?;
        }
        if c.handshakes.len() > 1 {
            write!(
                w,
                "\n{} more handshakes on this connection",
                c.handshakes.len() - 1
            )?;
        }
        writeln!(w, "</title></rect>")?;
    }
    if t.close == Some(Close::Rst) {
        writeln!(
            w,
            "<rect class=\"rst\" x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"{:.1}\"><title>reset by the {}</title></rect>",
            (x0 + bw - 3.0).max(x0),
            by - 1.0,
            BAR_H + 2.0,
            t.closed_by.map_or("?".to_string(), |s| name_of(&s))
        )?;
    }
    ticks(w, axis, by, &requests, budget)
}

fn connection_title(w: &mut dyn Write, axis: &Axis, id: usize, c: &Connection) -> io::Result<()> {
    let t = &c.tcp;
    write!(w, "#{id} {} \u{2192} {}", t.client, t.server)?;
    if let Some(s) = &c.tls {
        write!(w, "\nTLS")?;
        if let Some(v) = &s.version {
            write!(w, " {}", Esc(v))?;
        }
        if let Some(sni) = &s.sni {
            write!(w, ", SNI {}", Esc(sni))?;
        }
        if let Some(a) = &s.alpn {
            write!(w, ", ALPN {}", Esc(a))?;
        }
    }
    if let Some(h) = &c.http {
        match h.protocol {
            Some(p) => write!(w, "\n{}", Esc(p))?,
            None => write!(w, "\nHTTP version unknown")?,
        }
        match (requests_of(c), h.requests_basis) {
            (Some(n), Basis::Estimated) => write!(w, ", about {n} requests (estimated)")?,
            (Some(n), _) => write!(w, ", {n} request{}", if n == 1 { "" } else { "s" })?,
            (None, _) => match h.application_data {
                Some(true) => write!(w, ", requests not countable (application data sent)")?,
                _ => write!(w, ", requests unknown")?,
            },
        }
    } else {
        write!(w, "\n{}", Esc(&name_of(&c.protocol)))?;
    }
    write!(
        w,
        "\n+{:.6} s to +{:.6} s ({})\npackets {}/{}, payload {}/{} (client/server)",
        t.start.secs_since(axis.t0),
        t.end.secs_since(axis.t0),
        dur(t.end.secs_since(t.start)),
        t.packets.client,
        t.packets.server,
        bytes(t.bytes.client),
        bytes(t.bytes.server),
    )?;
    if !t.syn_seen {
        write!(w, "\nno SYN captured (began before the capture)")?;
    }
    if let (Some(side), Some(how)) = (t.closed_by, t.close) {
        write!(w, "\nclosed by the {} ({})", name_of(&side), name_of(&how))?;
    }
    Ok(())
}

/// Requests as ticks, those falling on the same pixel merged into one.
fn ticks(
    w: &mut dyn Write,
    axis: &Axis,
    by: f64,
    requests: &[&Request],
    budget: &mut Budget,
) -> io::Result<()> {
    let mut rest = requests;
    while let Some(first) = rest.first() {
        if budget.ticks == 0 {
            budget.ticks_left_out = true;
            return Ok(());
        }
        let x = axis.x(first.start);
        let n = rest
            .iter()
            .take_while(|r| (axis.x(r.start) - x).abs() < 1.0)
            .count()
            .max(1);
        let (run, tail) = rest.split_at_checked(n).unwrap_or((rest, &[]));
        rest = tail;
        budget.ticks -= 1;
        write!(
            w,
            "<line class=\"req\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>",
            by - 2.0,
            by + BAR_H + 2.0
        )?;
        if run.len() > 1 {
            write!(
                w,
                "{} requests from +{:.6} s:",
                run.len(),
                first.start.secs_since(axis.t0)
            )?;
        }
        for (i, r) in run.iter().take(5).enumerate() {
            if i > 0 || run.len() > 1 {
                writeln!(w)?;
            }
            write!(
                w,
                "{} {}",
                Esc(&clip(&r.method, 20)),
                Esc(&clip(&r.path, 200))
            )?;
            if let Some(a) = &r.authority {
                write!(w, " ({})", Esc(&clip(a, 100)))?;
            }
            match r.status {
                Some(s) => write!(w, " \u{2192} {s}")?,
                None => write!(w, " \u{2192} no response seen")?,
            }
            if run.len() == 1 {
                write!(w, " at +{:.6} s", r.start.secs_since(axis.t0))?;
                if let Some(e) = r.end {
                    write!(w, ", answered in {}", dur(e.secs_since(r.start)))?;
                }
            }
        }
        if run.len() > 5 {
            write!(w, "\n\u{2026}")?;
        }
        writeln!(w, "</title></line>")?;
    }
    Ok(())
}

fn anomalies(l: &Ledger, w: &mut dyn Write) -> io::Result<()> {
    let mut kinds: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for a in l.anomalies() {
        let a = a?;
        let e = kinds
            .entry((name_of(&a.layer), a.kind))
            .or_insert((0, a.connection));
        e.0 += 1;
    }
    if kinds.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "<section id=\"anomalies\"><h2>Anomalies</h2><p class=\"note\">Malformed data or limits reached; \
         the figures above cover what could be read.</p>\
         <table><tr><th>layer</th><th>kind</th><th>count</th><th>first on connection</th></tr>"
    )?;
    for ((layer, kind), (n, first)) in kinds.iter().take(MAX_ANOMALY_KINDS) {
        writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">#{first}</td></tr>",
            Esc(layer),
            Esc(kind)
        )?;
    }
    writeln!(w, "</table>")?;
    if kinds.len() > MAX_ANOMALY_KINDS {
        writeln!(
            w,
            "<p class=\"note\">{} more kinds are left out here.</p>",
            kinds.len() - MAX_ANOMALY_KINDS
        )?;
    }
    writeln!(w, "</section>")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::ledger::{Capture, Http, PerSide, Tcp};

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            Esc("<a href=\"x\">Tom & 'Jerry'</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(
            Esc("a\u{0}b\u{1b}[31m\nc\u{85}").to_string(),
            "a\u{FFFD}b\u{FFFD}[31m\nc\u{FFFD}"
        );
        assert_eq!(
            Esc("caf\u{e9} \u{1F600}").to_string(),
            "caf\u{e9} \u{1F600}"
        );
        assert_eq!(Esc("").to_string(), "");
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("\u{e9}\u{e9}\u{e9}", 2), "\u{e9}\u{e9}\u{2026}");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn axis_steps_are_round() {
        // 2.141665 s is the span of go-h2-concurrent-tls13.pcapng
        // (capinfos: first 01:47:32.299358, last 01:47:34.441023).
        assert_eq!(nice_step(2.141665, 10.0), 0.5);
        assert_eq!(tick_label(1.5, 0.5), "+1.5 s");
        assert_eq!(nice_step(0.0123, 10.0), 0.002);
        assert_eq!(tick_label(0.004, 0.002), "+0.004 s");
        assert_eq!(nice_step(75.0, 10.0), 10.0);
        assert_eq!(tick_label(20.0, 10.0), "+20 s");
        assert_eq!(nice_step(0.0, 10.0), 1.0);
    }

    fn connection(i: u64) -> Connection {
        Connection {
            capture: "many.pcap".into(),
            tcp: Tcp {
                client: format!("10.0.0.1:{}", 1024 + i).parse().expect("addr"),
                server: "10.0.0.2:80".parse().expect("addr"),
                first_packet: 1 + 3 * i,
                start: Ts(i as i64 * 1_000_000),
                end: Ts(i as i64 * 1_000_000 + 500_000_000),
                syn_seen: true,
                synack_seen: true,
                role_inferred: false,
                packets: PerSide::from([3, 2]),
                bytes: PerSide::default(),
                stream_bytes: PerSide::default(),
                gap_bytes: PerSide::default(),
                retransmissions: PerSide::default(),
                closed_by: None,
                close: None,
                closed_at: None,
                evicted: false,
            },
            protocol: crate::app::Protocol::Http,
            tls: None,
            http: Some(Http {
                protocol: Some("http/1.1"),
                protocol_basis: None,
                requests: Some(u64::from(i == 0)),
                requests_basis: Basis::Observed,
                responses: None,
                peak_concurrent_streams: None,
                max_concurrent_streams: None,
                application_data: None,
                close_requested_by: None,
                switched: None,
                goaways: 0,
                resets: 0,
                pushes: 0,
                unreadable_requests: 0,
                requests_not_listed: 0,
            }),
            requests: if i == 0 {
                vec![Request {
                    method: "GET".into(),
                    path: "/".into(),
                    start: Ts(1_000),
                    ..Request::default()
                }]
            } else {
                Vec::new()
            },
            handshakes: Vec::new(),
            anomalies: Vec::new(),
            request_span: Default::default(),
            record_span: None,
        }
    }

    #[test]
    fn draws_at_most_max_bars_and_says_how_many_are_left_out() {
        let n = MAX_BARS as u64 + 500;
        let ledger = Ledger::from_vecs(vec![(
            Capture {
                file: "many.pcap".into(),
                ..Capture::default()
            },
            (0..n).map(connection).collect(),
        )]);
        let mut out = Vec::new();
        write_html(&ledger, &mut out).expect("written");
        let page = String::from_utf8(out).expect("utf-8");
        assert_eq!(page.matches("<rect class=\"conn ").count(), MAX_BARS);
        assert_eq!(page.matches("<rect class=\"conn used\"").count(), 1);
        assert_eq!(page.matches("<line class=\"req\"").count(), 1);
        assert!(page.contains("draw the first 2000 of 2500 connections; 500 are left out"));
        // About 300 bytes per drawn connection.
        assert!(page.len() < MAX_BARS * 1_000, "{} bytes", page.len());
    }

    #[test]
    fn empty_ledger_renders() {
        let mut out = Vec::new();
        write_html(&Ledger::new(Vec::new()), &mut out).expect("written");
        let page = String::from_utf8(out).expect("utf-8");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        assert!(page.contains("No connections."));
    }
}
