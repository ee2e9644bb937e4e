//! One capture, start to end: frames -> segments -> connections -> ledger
//! entries, streaming, with memory bounded by the connections alive at once
//! plus a digest per finished connection (their records wait in
//! `ledger::store`).

use crate::At;
use crate::app::Session;
use crate::capture::{self, Reader};
use crate::decode::{self, Decoded};
use crate::flow::{Counters, Finished, Table};
use crate::keys::KeyLog;
use crate::ledger::store::{Builder, Encoding};
use crate::ledger::{Capture, Connection, Connections, HandshakeBrief, Limits};
use crate::tls::decrypt::KeyStore;
use indicatif::ProgressBar;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// What one capture yielded. `error` is set when reading stopped early;
/// everything before the damage is still in `connections`.
#[derive(Debug)]
pub struct CaptureResult {
    pub info: Capture,
    pub connections: Connections,
    /// A problem that stopped reading: the results cover what came before.
    pub error: Option<capture::Error>,
}

/// What to keep of the finished connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Their records, for reports that list connections, requests and
    /// anomalies (JSON, CSV, HTML, the table's `--connections`).
    Records,
    /// Their records as the compact JSON report's text, which only that
    /// report reads (`ledger::store::Encoding::Json`).
    JsonText,
    /// Their digests only: enough for the totals, servers, findings and
    /// gates.
    Digests,
}

/// Reads the capture at `path` (`-` for stdin), decrypting TLS with `keys`
/// and with any secrets the capture carries; `progress` advances by the
/// bytes read from it. Keeps every connection's record.
pub fn file(path: &Path, keys: &Arc<KeyLog>, progress: Option<&ProgressBar>) -> CaptureResult {
    file_keeping(path, keys, progress, Keep::Records)
}

/// [`file`], keeping what `keep` says of the finished connections.
pub fn file_keeping(
    path: &Path,
    keys: &Arc<KeyLog>,
    progress: Option<&ProgressBar>,
    keep: Keep,
) -> CaptureResult {
    let name = path.display().to_string();
    let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return failed(name, capture::Error::Io(e), keep),
        }
    };
    let src = match progress {
        Some(bar) => Box::new(bar.wrap_read(src)),
        None => src,
    };
    match Reader::new(src) {
        Ok(reader) => run(name, reader, keys, keep),
        Err(e) => failed(name, e, keep),
    }
}

/// Reads a capture from any byte source, named `name` in the report.
pub fn reader(name: String, src: Box<dyn Read + Send>, keys: &Arc<KeyLog>) -> CaptureResult {
    reader_keeping(name, src, keys, Keep::Records)
}

/// [`reader`], keeping what `keep` says of the finished connections.
pub fn reader_keeping(
    name: String,
    src: Box<dyn Read + Send>,
    keys: &Arc<KeyLog>,
    keep: Keep,
) -> CaptureResult {
    match Reader::new(src) {
        Ok(reader) => run(name, reader, keys, keep),
        Err(e) => failed(name, e, keep),
    }
}

fn failed(name: String, e: capture::Error, keep: Keep) -> CaptureResult {
    CaptureResult {
        connections: builder(Arc::from(name.as_str()), keep).finish(),
        info: Capture {
            file: name,
            ..Capture::default()
        },
        error: Some(e),
    }
}

fn run(name: String, mut reader: Reader, keys: &Arc<KeyLog>, keep: Keep) -> CaptureResult {
    let mut info = Capture {
        file: name,
        format: Some(reader.format()),
        compression: Some(reader.compression()),
        ..Capture::default()
    };
    let store = Rc::new(KeyStore::new(Arc::clone(keys)));
    let shared = Rc::clone(&store);
    let mut table = Table::new(move || Session::with_keys(Some(Rc::clone(&shared))));
    let file: Arc<str> = Arc::from(info.file.as_str());
    let mut connections = builder(Arc::clone(&file), keep);
    let mut last = At::default();
    let error = loop {
        // Decryption Secrets Blocks come before the packets they open.
        if reader.has_secrets() {
            let text = reader.take_secrets();
            info.keylog_warnings
                .extend(store.add(&text).iter().map(|w| w.to_string()));
            info.embedded_secrets = true;
        }
        let frame = match reader.next_item() {
            Ok(Some(capture::Item::Frame(frame))) => frame,
            // Taken above, before the packets that follow the block.
            Ok(Some(capture::Item::Secrets)) => continue,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        info.packets += 1;
        last = At {
            packet: frame.index,
            ts: frame.ts,
        };
        if info.first_ts.is_none() {
            info.first_ts = Some(frame.ts);
        }
        match decode::decode(frame.linktype, frame.data) {
            Decoded::Tcp(seg) => {
                info.tcp_packets += 1;
                table.segment(&seg, last);
            }
            Decoded::NotTcp => info.other_packets += 1,
            Decoded::UnknownLink => info.unknown_link_packets += 1,
            Decoded::Fragment => info.fragments += 1,
            Decoded::Malformed => info.malformed_packets += 1,
        }
        collect(&mut table, &file, &mut connections);
    };
    table.finish_all();
    collect(&mut table, &file, &mut connections);
    info.last_ts = info.first_ts.map(|_| last.ts);
    info.bytes = reader.offset();
    info.limits = Limits {
        // Each request not listed is one refusal of the request budget.
        requests_not_listed: store.request_budget().refusals(),
        ..limits(
            &table.counters,
            reader.secrets_dropped(),
            store.budget().refusals(),
        )
    };
    let connections = connections.finish();
    info.limits.connections_to_other_servers = connections.to_other_servers;
    CaptureResult {
        info,
        connections,
        error,
    }
}

/// The store for the finished connections of the capture named `capture`.
fn builder(capture: Arc<str>, keep: Keep) -> Builder {
    let encoding = match keep {
        Keep::JsonText => Encoding::Json,
        Keep::Records | Keep::Digests => Encoding::MessagePack,
    };
    Builder::new(capture, keep != Keep::Digests).encoding(encoding)
}

/// What the connection table (every connection finished) and the reader
/// gave up on.
fn limits(c: &Counters, secrets_dropped: u64, parser_budget_refusals: u64) -> Limits {
    let r = &c.reassembly;
    Limits {
        connections_evicted: c.evicted,
        reassembly_cap_hits: r.stream_cap_hits,
        reassembly_cap_gap_bytes: r.stream_cap_gap_bytes,
        reassembly_budget_hits: r.budget_cap_hits,
        reassembly_budget_gap_bytes: r.budget_cap_gap_bytes,
        segments_out_of_window: r.out_of_window,
        bytes_out_of_window: r.out_of_window_bytes,
        gap_bytes: r.gap_bytes,
        secrets_dropped_bytes: secrets_dropped,
        parser_budget_refusals,
        requests_not_listed: 0,
        connections_to_other_servers: 0,
    }
}

fn collect(table: &mut Table<Session>, file: &Arc<str>, out: &mut Builder) {
    for done in table.take_finished() {
        let mut c = entry(file, done);
        if let Some(t) = &mut c.tls {
            c.record_span = crate::findings::record_span(t, c.tcp.end);
            t.first_records = Vec::new();
        }
        out.push(c);
    }
}

/// The ledger's entry for a finished connection: its TCP anomalies first,
/// then its parsers'.
fn entry(file: &Arc<str>, done: Finished<Session>) -> Connection {
    let Finished {
        tcp,
        mut anomalies,
        app: mut session,
    } = done;
    let tls = session.tls();
    let summary = tls.map(|t| t.summary());
    anomalies.extend(session.anomalies());
    let not_listed = session.not_listed_span(tcp.end);
    Connection {
        capture: Arc::clone(file),
        tcp,
        protocol: session.protocol(),
        handshakes: tls
            .map(|t| t.handshakes().iter().map(HandshakeBrief::from).collect())
            .unwrap_or_default(),
        http: session.http_facts(summary.as_ref()),
        tls: summary,
        anomalies,
        // What the requests not listed spanned; `ledger::store` adds the
        // listed ones'.
        request_span: not_listed,
        record_span: None,
        requests: session.take_requests(),
    }
}
