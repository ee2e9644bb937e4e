//! CSV export: `servers.csv`, `connections.csv`, `requests.csv`, `captures.csv` and
//! `findings.csv`, one row per ledger item with nested values flattened into
//! named columns (listed in docs/REPORTS.md); every file is replaced
//! atomically and never over an input capture.
//!
//! Cells follow RFC 4180 (the `csv` crate quotes any field holding a comma,
//! a quote or a line break), timestamps are RFC 3339, an unknown value
//! (null in the JSON report) is an empty cell, and lists are joined with
//! `;`. Text that came from a capture and begins with `=`, `+`, `-`, `@`,
//! a tab or a carriage return gets a leading `'`, so that a spreadsheet
//! shows it as text instead of evaluating it as a formula.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::ledger::{Connection, Digest, Finding, Ledger, Request, Server};
use crate::tls::TicketOffer;
use serde::Serialize;
use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The files [`write_csv`] writes, in this order.
pub const FILES: [&str; 5] = [
    "servers.csv",
    "connections.csv",
    "requests.csv",
    "findings.csv",
    "captures.csv",
];

/// Writes one file's content.
type Render<'a> = dyn Fn(&mut dyn Write) -> io::Result<()> + 'a;

/// Writes the five CSV files into `dir` (created if missing) and returns
/// their paths. `inputs` are the capture paths the ledger was read from:
/// an existing file among the outputs that is one of them is an error, and
/// nothing is written then. Each file goes to a temporary file in `dir`
/// first; all are renamed into place only once all are complete.
pub fn write_csv(ledger: &Ledger, dir: &Path, inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    ledger.readable()?;
    fs::create_dir_all(dir)?;
    let targets: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    for t in &targets {
        refuse_input(t, inputs)?;
    }
    let writers: [&Render; 5] = [
        &|w| write_servers(ledger, w),
        &|w| write_connections(ledger, w),
        &|w| write_requests(ledger, w),
        &|w| write_findings(ledger, w),
        &|w| write_captures(ledger, w),
    ];
    let mut temps: Vec<Temp> = Vec::new();
    for (target, write) in targets.iter().zip(writers) {
        // On an error the temporary files written so far are removed when
        // `temps` drops.
        temps.push(Temp::write(target, |w| write(w))?);
    }
    for t in temps {
        t.commit()?;
    }
    Ok(targets)
}

/// Writes `path` through `write` atomically: into a temporary file in the
/// same directory, then renamed over `path`. Refuses, before writing
/// anything, when `path` exists and is one of `inputs` (the same file by
/// device and inode on Unix, by canonical path elsewhere).
pub fn write_atomically(
    path: &Path,
    inputs: &[PathBuf],
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    refuse_input(path, inputs)?;
    Temp::write(path, write)?.commit()
}

/// An error when `target` exists and is one of the input captures.
fn refuse_input(target: &Path, inputs: &[PathBuf]) -> io::Result<()> {
    let Ok(meta) = fs::metadata(target) else {
        return Ok(());
    };
    for input in inputs {
        if same_file(target, &meta, input) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{}: refusing to overwrite an input capture ({}); choose another output path",
                    target.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(_target: &Path, meta: &fs::Metadata, input: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(input).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}

#[cfg(not(unix))]
fn same_file(target: &Path, _meta: &fs::Metadata, input: &Path) -> bool {
    match (fs::canonicalize(target), fs::canonicalize(input)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A complete temporary file waiting to be renamed over its target; removed
/// if dropped uncommitted.
struct Temp {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Temp {
    /// Creates a fresh temporary file next to `target` and fills it.
    fn write(
        target: &Path,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<Temp> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut attempt = 0u32;
        let (file, tmp) = loop {
            let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
            match File::options().write(true).create_new(true).open(&tmp) {
                Ok(f) => break (f, tmp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{}: cannot create a temporary file: {e}", tmp.display()),
                    ));
                }
            }
        };
        let temp = Temp {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        };
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(temp)
    }

    fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.target).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: cannot replace: {e}", self.target.display()),
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The name of the server of the connection `d` is the digest of.
fn server_name<'a>(ledger: &'a Ledger, d: &Digest) -> &'a str {
    ledger
        .servers
        .get(d.server as usize)
        .map_or("", |s| s.server.as_str())
}

/// A CSV writer and one reusable cell buffer: no allocation per cell.
struct Rows<'w> {
    csv: csv::Writer<&'w mut dyn Write>,
    cell: Vec<u8>,
}

impl<'w> Rows<'w> {
    fn new(out: &'w mut dyn Write, header: &[&str]) -> io::Result<Rows<'w>> {
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        csv.write_record(header)?;
        Ok(Rows {
            csv,
            cell: Vec::new(),
        })
    }

    /// Ends the current row.
    fn end(&mut self) -> io::Result<()> {
        self.csv.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.csv.flush()
    }

    fn put(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.cell.clear();
        fill(&mut self.cell);
        self.csv.write_field(&self.cell)?;
        Ok(())
    }

    /// A number, or anything else whose display is the cell.
    fn num(&mut self, v: impl Display) -> io::Result<()> {
        self.put(|b| {
            let _ = write!(b, "{v}");
        })
    }

    fn opt(&mut self, v: Option<impl Display>) -> io::Result<()> {
        match v {
            Some(v) => self.num(v),
            None => self.empty(),
        }
    }

    /// A float; not-a-number and infinities are unknown, as in JSON.
    fn float(&mut self, v: Option<f64>) -> io::Result<()> {
        self.opt(v.filter(|f| f.is_finite()))
    }

    fn empty(&mut self) -> io::Result<()> {
        self.put(|_| {})
    }

    /// Text, guarded against formula evaluation.
    fn text(&mut self, s: &str) -> io::Result<()> {
        self.put(|b| push_text(b, s))
    }

    fn opt_text(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            Some(s) => self.text(s),
            None => self.empty(),
        }
    }

    /// Items joined with `;`, the whole guarded against formula evaluation.
    fn list<T: Display>(&mut self, items: impl IntoIterator<Item = T>) -> io::Result<()> {
        self.put(|b| {
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    b.push(b';');
                }
                let _ = write!(b, "{item}");
            }
            guard_formula(b, 0);
        })
    }

    /// A value by its JSON name (enums: `"h2"` becomes `h2`; null is empty).
    fn name<T: Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        self.put(|b| push_name(b, v))
    }

    fn opt_name<T: Serialize>(&mut self, v: Option<&T>) -> io::Result<()> {
        match v {
            Some(v) => self.name(v),
            None => self.empty(),
        }
    }
}

/// Appends `s`, with a leading `'` when a spreadsheet would take it for a
/// formula (OWASP "CSV injection").
fn push_text(b: &mut Vec<u8>, s: &str) {
    let start = b.len();
    b.extend_from_slice(s.as_bytes());
    guard_formula(b, start);
}

fn guard_formula(b: &mut Vec<u8>, start: usize) {
    if matches!(
        b.get(start),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) {
        b.insert(start, b'\'');
    }
}

/// Appends a value's JSON form without the quotes of a string; null adds
/// nothing. Used for enums so that the CSV says what the JSON says.
fn push_name<T: Serialize + ?Sized>(b: &mut Vec<u8>, v: &T) {
    let start = b.len();
    if serde_json::to_writer(&mut *b, v).is_err() {
        b.truncate(start);
        return;
    }
    let written = b.get(start..).unwrap_or_default();
    if written == b"null" {
        b.truncate(start);
    } else if written.len() >= 2 && written.starts_with(b"\"") && written.ends_with(b"\"") {
        b.pop();
        b.remove(start);
    }
}

pub const SERVER_COLUMNS: &[&str] = &[
    "capture",
    "server",
    "name_source",
    "connections",
    "tcp_handshakes",
    "tls_handshakes_total",
    "tls_handshakes_completed",
    "tls_handshakes_abandoned",
    "tls_handshakes_failed",
    "tls_handshakes_incomplete",
    "tls_handshakes_resumed",
    "tls_handshakes_full",
    "protocols",
    "requests",
    "requests_observed",
    "requests_estimated",
    "connections_unknown_requests",
    "requests_basis",
    "requests_per_handshake",
    "connections_with_requests",
    "unused_connections",
    "peak_connections",
    "findings",
];

fn write_servers(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let mut r = Rows::new(out, SERVER_COLUMNS)?;
    for s in &ledger.servers {
        server_row(&mut r, s)?;
    }
    r.finish()
}

fn server_row(r: &mut Rows, s: &Server) -> io::Result<()> {
    let h = &s.tls_handshakes;
    r.text(&s.capture)?;
    r.text(&s.server)?;
    r.name(&s.name_source)?;
    r.num(s.connections)?;
    r.num(s.tcp_handshakes)?;
    for n in [
        h.total,
        h.completed,
        h.abandoned,
        h.failed,
        h.incomplete,
        h.resumed,
        h.full,
    ] {
        r.num(n)?;
    }
    r.list(&s.protocols)?;
    r.opt(s.requests)?;
    r.num(s.requests_observed)?;
    r.num(s.requests_estimated)?;
    r.num(s.connections_unknown_requests)?;
    r.name(&s.requests_basis)?;
    r.float(s.requests_per_handshake)?;
    r.num(s.connections_with_requests)?;
    r.num(s.unused_connections)?;
    r.num(s.peak_connections)?;
    r.num(s.findings)?;
    r.end()
}

pub const CONNECTION_COLUMNS: &[&str] = &[
    "id",
    "capture",
    "server_name",
    "client",
    "server",
    "first_packet",
    "start",
    "end",
    "duration_secs",
    "syn_seen",
    "synack_seen",
    "role_inferred",
    "packets_client",
    "packets_server",
    "bytes_client",
    "bytes_server",
    "stream_bytes_client",
    "stream_bytes_server",
    "gap_bytes_client",
    "gap_bytes_server",
    "retransmissions_client",
    "retransmissions_server",
    "closed_by",
    "close",
    "closed_at",
    "protocol",
    "tls_version",
    "tls_sni",
    "tls_alpn_offered",
    "tls_alpn",
    "tls_alpn_source",
    "tls_cipher",
    "tls_resumed",
    "tls_outcome",
    "tls_ja3",
    "tls_ja4",
    "tls_handshakes",
    "tls_client_hellos",
    "tls_hrr",
    "tls_ech",
    "tls_session_ticket",
    "tls_session_ticket_bytes",
    "tls_early_data",
    "tls_client_app_records",
    "tls_client_app_bytes",
    "tls_server_app_records",
    "tls_server_app_bytes",
    "tls_early_data_records",
    "tls_client_bursts",
    "tls_late_handshake_records_client",
    "tls_late_handshake_records_server",
    "tls_anomalies",
    "tls_decrypted",
    "tls_decrypt_error",
    "http_protocol",
    "http_protocol_basis",
    "http_requests",
    "http_requests_basis",
    "http_responses",
    "http_peak_concurrent_streams",
    "http_max_concurrent_streams",
    "http_application_data",
    "http_close_requested_by",
    "http_switched",
    "http_goaways",
    "http_resets",
    "http_pushes",
    "http_unreadable_requests",
    "http_requests_not_listed",
];

/// Cells in `CONNECTION_COLUMNS` from `tls_version` to `tls_decrypt_error`.
const TLS_CELLS: usize = 28;
/// Cells from `http_protocol` to `http_requests_not_listed`.
const HTTP_CELLS: usize = 15;

fn write_connections(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let mut r = Rows::new(out, CONNECTION_COLUMNS)?;
    for (id, (c, d)) in ledger.connections().zip(ledger.digests()).enumerate() {
        connection_row(&mut r, id, &c?, server_name(ledger, &d?))?;
    }
    r.finish()
}

fn connection_row(r: &mut Rows, id: usize, c: &Connection, server: &str) -> io::Result<()> {
    let t = &c.tcp;
    r.num(id)?;
    r.text(&c.capture)?;
    r.text(server)?;
    r.num(t.client)?;
    r.num(t.server)?;
    r.num(t.first_packet)?;
    r.num(t.start)?;
    r.num(t.end)?;
    r.float(Some(t.end.secs_since(t.start)))?;
    r.num(t.syn_seen)?;
    r.num(t.synack_seen)?;
    r.num(t.role_inferred)?;
    for p in [
        t.packets,
        t.bytes,
        t.stream_bytes,
        t.gap_bytes,
        t.retransmissions,
    ] {
        r.num(p.client)?;
        r.num(p.server)?;
    }
    r.opt_name(t.closed_by.as_ref())?;
    r.opt_name(t.close.as_ref())?;
    r.opt(t.closed_at)?;
    r.name(&c.protocol)?;
    match &c.tls {
        Some(s) => {
            r.opt_text(s.version.as_deref())?;
            r.opt_text(s.sni.as_deref())?;
            r.list(&s.alpn_offered)?;
            r.opt_text(s.alpn.as_deref())?;
            r.opt_name(s.alpn_source.as_ref())?;
            r.opt_text(s.cipher.as_deref())?;
            r.opt(s.resumed)?;
            r.opt_name(s.outcome.as_ref())?;
            r.opt_text(s.ja3.as_deref())?;
            r.opt_text(s.ja4.as_deref())?;
            r.num(s.handshakes)?;
            r.num(s.client_hellos)?;
            r.num(s.hrr)?;
            r.num(s.ech)?;
            match s.session_ticket {
                Some(TicketOffer::Ticket(n)) => {
                    r.text("ticket")?;
                    r.num(n)?;
                }
                Some(other) => {
                    r.name(&other)?;
                    r.empty()?;
                }
                None => {
                    r.empty()?;
                    r.empty()?;
                }
            }
            r.num(s.early_data)?;
            r.num(s.client_app.records)?;
            r.num(s.client_app.bytes)?;
            r.num(s.server_app.records)?;
            r.num(s.server_app.bytes)?;
            r.num(s.early_data_records)?;
            r.num(s.client_bursts)?;
            let [late_client, late_server] = s.late_handshake_records;
            r.num(late_client)?;
            r.num(late_server)?;
            r.num(s.anomalies)?;
            r.num(s.decrypted)?;
            r.opt(s.decrypt_error.as_deref())?;
        }
        None => {
            for _ in 0..TLS_CELLS {
                r.empty()?;
            }
        }
    }
    match &c.http {
        Some(h) => {
            r.opt_text(h.protocol)?;
            r.opt_name(h.protocol_basis.as_ref())?;
            r.opt(h.requests)?;
            r.name(&h.requests_basis)?;
            r.opt(h.responses)?;
            r.opt(h.peak_concurrent_streams)?;
            r.opt(h.max_concurrent_streams)?;
            r.opt(h.application_data)?;
            r.opt_name(h.close_requested_by.as_ref())?;
            r.opt_name(h.switched.as_ref())?;
            r.num(h.goaways)?;
            r.num(h.resets)?;
            r.num(h.pushes)?;
            r.num(h.unreadable_requests)?;
            r.num(h.requests_not_listed)?;
        }
        None => {
            for _ in 0..HTTP_CELLS {
                r.empty()?;
            }
        }
    }
    r.end()
}

pub const REQUEST_COLUMNS: &[&str] = &[
    "connection",
    "server_name",
    "method",
    "authority",
    "path",
    "status",
    "stream_id",
    "start",
    "end",
    "response_bytes",
];

fn write_requests(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let mut r = Rows::new(out, REQUEST_COLUMNS)?;
    // Requests come by connection: the digests are read alongside.
    let mut digests = ledger.digests().enumerate();
    let mut current: Option<(usize, Digest)> = None;
    for q in ledger.requests() {
        let q = q?;
        while current.as_ref().is_none_or(|(i, _)| *i < q.connection) {
            match digests.next() {
                Some((i, d)) => current = Some((i, d?)),
                None => break,
            }
        }
        let server = match &current {
            Some((i, d)) if *i == q.connection => server_name(ledger, d),
            _ => "",
        };
        request_row(&mut r, &q, server)?;
    }
    r.finish()
}

fn request_row(r: &mut Rows, q: &Request, server: &str) -> io::Result<()> {
    r.num(q.connection)?;
    r.text(server)?;
    r.text(&q.method)?;
    r.opt_text(q.authority.as_deref())?;
    r.text(&q.path)?;
    r.opt(q.status)?;
    r.opt(q.stream_id)?;
    r.num(q.start)?;
    r.opt(q.end)?;
    r.opt(q.response_bytes)?;
    r.end()
}

pub const FINDING_COLUMNS: &[&str] = &[
    "kind",
    "capture",
    "server",
    "message",
    "cause",
    "fix",
    "evidence",
    "connections",
];

/// Columns of `captures.csv`: JSON `captures[]`, `limits` flattened.
const CAPTURE_COLUMNS: &[&str] = &[
    "file",
    "format",
    "compression",
    "packets",
    "bytes",
    "first_ts",
    "last_ts",
    "tcp_packets",
    "other_packets",
    "unknown_link_packets",
    "fragments",
    "malformed_packets",
    "error",
    "embedded_secrets",
    "keylog_warnings",
    "limits_connections_evicted",
    "limits_reassembly_cap_hits",
    "limits_reassembly_cap_gap_bytes",
    "limits_reassembly_budget_hits",
    "limits_reassembly_budget_gap_bytes",
    "limits_segments_out_of_window",
    "limits_bytes_out_of_window",
    "limits_gap_bytes",
    "limits_secrets_dropped_bytes",
    "limits_parser_budget_refusals",
    "limits_requests_not_listed",
    "limits_connections_to_other_servers",
];

fn write_captures(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let mut r = Rows::new(out, CAPTURE_COLUMNS)?;
    for c in &ledger.captures {
        r.text(&c.file)?;
        r.opt_name(c.format.as_ref())?;
        r.opt_name(c.compression.as_ref())?;
        r.num(c.packets)?;
        r.num(c.bytes)?;
        r.opt(c.first_ts)?;
        r.opt(c.last_ts)?;
        r.num(c.tcp_packets)?;
        r.num(c.other_packets)?;
        r.num(c.unknown_link_packets)?;
        r.num(c.fragments)?;
        r.num(c.malformed_packets)?;
        r.opt_text(c.error.as_deref())?;
        r.num(c.embedded_secrets)?;
        r.list(c.keylog_warnings.iter())?;
        let l = &c.limits;
        for v in [
            l.connections_evicted,
            l.reassembly_cap_hits,
            l.reassembly_cap_gap_bytes,
            l.reassembly_budget_hits,
            l.reassembly_budget_gap_bytes,
            l.segments_out_of_window,
            l.bytes_out_of_window,
            l.gap_bytes,
            l.secrets_dropped_bytes,
            l.parser_budget_refusals,
            l.requests_not_listed,
            l.connections_to_other_servers,
        ] {
            r.num(v)?;
        }
        r.end()?;
    }
    r.finish()
}

fn write_findings(ledger: &Ledger, out: &mut dyn Write) -> io::Result<()> {
    let mut r = Rows::new(out, FINDING_COLUMNS)?;
    for f in &ledger.findings {
        finding_row(&mut r, f)?;
    }
    r.finish()
}

fn finding_row(r: &mut Rows, f: &Finding) -> io::Result<()> {
    r.name(&f.kind)?;
    r.text(&f.capture)?;
    r.text(&f.server)?;
    r.text(&f.message)?;
    r.text(&f.cause)?;
    r.text(&f.fix)?;
    r.put(|b| {
        for (i, (name, value)) in f.evidence.iter().enumerate() {
            if i > 0 {
                b.push(b';');
            }
            b.extend_from_slice(name.as_bytes());
            b.push(b'=');
            if value.is_finite() {
                let _ = write!(b, "{value}");
            }
        }
    })?;
    r.list(&f.connections)?;
    r.end()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::Ts;
    use crate::ledger::{Basis, FindingKind, Http, PerSide, Tcp};

    fn rows(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Vec<csv::StringRecord> {
        let mut out = Vec::new();
        write(&mut out).expect("written");
        csv::Reader::from_reader(out.as_slice())
            .records()
            .collect::<Result<_, _>>()
            .expect("parses back")
    }

    fn connection(tls: bool) -> Connection {
        let mut c = Connection {
            capture: "x.pcap".into(),
            tcp: Tcp {
                client: "10.0.0.1:40000".parse().expect("addr"),
                server: "[2001:db8::1]:443".parse().expect("addr"),
                first_packet: 1,
                start: Ts(1_000_000_000),
                end: Ts(3_500_000_000),
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
                requests: Some(2),
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
            requests: Vec::new(),
            request_span: Default::default(),
            record_span: None,
            handshakes: Vec::new(),
            anomalies: Vec::new(),
        };
        if !tls {
            return c;
        }
        c.protocol = crate::app::Protocol::Tls;
        c.http = None;
        c.tls = Some(crate::tls::TlsSummary {
            version: Some("TLS 1.3".into()),
            sni: Some("=cmd|'/C calc'!A0".into()),
            alpn_offered: vec!["h2".into(), "http/1.1".into()],
            alpn: None,
            alpn_source: None,
            cipher: None,
            resumed: Some(false),
            outcome: None,
            ja3: None,
            ja4: None,
            handshakes: 1,
            client_hellos: 1,
            hrr: false,
            ech: false,
            session_ticket: Some(TicketOffer::Ticket(192)),
            early_data: false,
            client_app: Default::default(),
            server_app: Default::default(),
            early_data_records: 0,
            client_bursts: 0,
            first_records: Vec::new(),
            late_handshake_records: [1, 2],
            anomalies: 0,
            decrypted: false,
            decrypt_error: None,
        });
        c
    }

    #[test]
    fn every_connection_row_has_every_column() {
        for tls in [false, true] {
            let c = connection(tls);
            let rows = rows(|w| {
                let mut r = Rows::new(w, CONNECTION_COLUMNS)?;
                connection_row(&mut r, 7, &c, "srv")?;
                r.finish()
            });
            let row = rows.first().expect("one row");
            assert_eq!(row.len(), CONNECTION_COLUMNS.len());
            let cell = |name: &str| {
                let i = CONNECTION_COLUMNS
                    .iter()
                    .position(|c| *c == name)
                    .expect("column");
                row.get(i).expect("cell").to_string()
            };
            assert_eq!(cell("id"), "7");
            assert_eq!(cell("server"), "[2001:db8::1]:443");
            assert_eq!(cell("start"), "1970-01-01T00:00:01.000000000Z");
            assert_eq!(cell("duration_secs"), "2.5");
            assert_eq!(cell("packets_client"), "3");
            assert_eq!(cell("closed_by"), "");
            if tls {
                assert_eq!(cell("protocol"), "tls");
                assert_eq!(cell("tls_sni"), "'=cmd|'/C calc'!A0");
                assert_eq!(cell("tls_alpn_offered"), "h2;http/1.1");
                assert_eq!(cell("tls_session_ticket"), "ticket");
                assert_eq!(cell("tls_session_ticket_bytes"), "192");
                assert_eq!(cell("tls_late_handshake_records_server"), "2");
                assert_eq!(cell("tls_anomalies"), "0");
                assert_eq!(cell("http_protocol"), "");
                assert_eq!(cell("http_requests_basis"), "");
            } else {
                assert_eq!(cell("tls_version"), "");
                assert_eq!(cell("http_protocol"), "http/1.1");
                assert_eq!(cell("http_requests_basis"), "observed");
                assert_eq!(cell("http_unreadable_requests"), "0");
            }
        }
    }

    #[test]
    fn hostile_text_is_quoted_and_defused() {
        let q = Request {
            connection: 0,
            method: "GET".into(),
            authority: Some("a,\"b\"\r\nc".into()),
            path: "-2+3".into(),
            start: Ts(0),
            ..Request::default()
        };
        let mut out = Vec::new();
        {
            let mut r = Rows::new(&mut out, REQUEST_COLUMNS).expect("header");
            request_row(&mut r, &q, "@srv").expect("row");
            r.finish().expect("flush");
        }
        let text = String::from_utf8(out).expect("utf-8");
        // RFC 4180 section 2 items 6 and 7: quoted, quotes doubled.
        assert!(text.contains("\"a,\"\"b\"\"\r\nc\""), "{text}");
        let rows = rows(|w| w.write_all(text.as_bytes()));
        let row = rows.first().expect("row");
        assert_eq!(row.get(1), Some("'@srv"));
        assert_eq!(row.get(3), Some("a,\"b\"\r\nc"));
        assert_eq!(row.get(4), Some("'-2+3"));
        assert_eq!(row.get(6), Some(""));
    }

    #[test]
    fn findings_flatten_evidence_and_connections() {
        let f = Finding {
            kind: FindingKind::ConcurrentDials,
            capture: "x.pcap".into(),
            server: "example.test".into(),
            message: "12 connections, 1 used".into(),
            cause: "racing dials".into(),
            fix: "share one pool".into(),
            evidence: [("connections", 12.0), ("used", 1.0), ("ratio", 0.25)]
                .into_iter()
                .collect(),
            connections: vec![3, 4, 5],
        };
        let rows = rows(|w| {
            let mut r = Rows::new(w, FINDING_COLUMNS)?;
            finding_row(&mut r, &f)?;
            r.finish()
        });
        let row = rows.first().expect("row");
        assert_eq!(row.get(0), Some("concurrent_dials"));
        assert_eq!(row.get(6), Some("connections=12;ratio=0.25;used=1"));
        assert_eq!(row.get(7), Some("3;4;5"));
    }

    #[test]
    fn enum_names_match_json_and_null_is_empty() {
        let mut b = Vec::new();
        push_name(&mut b, &FindingKind::Http1DespiteH2);
        assert_eq!(b, b"http1_despite_h2");
        b.clear();
        push_name(&mut b, &None::<Basis>);
        assert!(b.is_empty());
    }

    #[test]
    fn refuses_to_replace_an_input_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("connreuse-csv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let input = dir.join("requests.csv");
        fs::write(&input, b"capture bytes").expect("input");
        let ledger = Ledger::new(Vec::new());
        let err = write_csv(&ledger, &dir, std::slice::from_ref(&input)).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&input).expect("still there"), b"capture bytes");
        assert!(!dir.join("servers.csv").exists());
        let written = write_csv(&ledger, &dir, &[dir.join("other.pcap")]).expect("written");
        assert_eq!(written.len(), 5);
        assert_eq!(
            fs::read_to_string(dir.join("findings.csv")).expect("findings"),
            "kind,capture,server,message,cause,fix,evidence,connections\r\n"
        );
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
