//! One capture, start to end: frames -> segments -> connections -> ledger
//! entries, streaming, with memory bounded by the connections alive at once.

use crate::At;
use crate::app::Session;
use crate::capture::{self, Reader};
use crate::decode::{self, Decoded};
use crate::flow::{Counters, Finished, Table};
use crate::keys::KeyLog;
use crate::ledger::{Capture, Connection, HandshakeBrief, Limits, RequestSpan};
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
    pub connections: Vec<Connection>,
    /// A problem that stopped reading: the results cover what came before.
    pub error: Option<capture::Error>,
}

/// Reads the capture at `path` (`-` for stdin), decrypting TLS with `keys`
/// and with any secrets the capture carries; `progress` advances by the
/// bytes read from it.
pub fn file(path: &Path, keys: &Arc<KeyLog>, progress: Option<&ProgressBar>) -> CaptureResult {
    let name = path.display().to_string();
    let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return failed(name, capture::Error::Io(e)),
        }
    };
    let src = match progress {
        Some(bar) => Box::new(bar.wrap_read(src)),
        None => src,
    };
    reader(name, src, keys)
}

/// Reads a capture from any byte source, named `name` in the report.
pub fn reader(name: String, src: Box<dyn Read + Send>, keys: &Arc<KeyLog>) -> CaptureResult {
    match Reader::new(src) {
        Ok(reader) => run(name, reader, keys),
        Err(e) => failed(name, e),
    }
}

fn failed(name: String, e: capture::Error) -> CaptureResult {
    CaptureResult {
        info: Capture {
            file: name,
            ..Capture::default()
        },
        connections: Vec::new(),
        error: Some(e),
    }
}

fn run(name: String, mut reader: Reader, keys: &Arc<KeyLog>) -> CaptureResult {
    let mut info = Capture {
        file: name,
        format: Some(reader.format()),
        compression: Some(reader.compression()),
        ..Capture::default()
    };
    let store = Rc::new(KeyStore::new(Arc::clone(keys)));
    let shared = Rc::clone(&store);
    let mut table = Table::new(move || Session::with_keys(Some(Rc::clone(&shared))));
    let mut connections = Vec::new();
    let file: Arc<str> = Arc::from(info.file.as_str());
    let mut texts = Interner::default();
    let mut last = At::default();
    let error = loop {
        // Decryption Secrets Blocks come before the packets they open.
        if reader.has_secrets() {
            let text = reader.take_secrets();
            info.keylog_warnings
                .extend(store.add(&text).iter().map(|w| w.to_string()));
            info.embedded_secrets = true;
        }
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
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
        collect(&mut table, &file, &mut texts, &mut connections);
    };
    table.finish_all();
    collect(&mut table, &file, &mut texts, &mut connections);
    info.last_ts = info.first_ts.map(|_| last.ts);
    info.bytes = reader.offset();
    info.limits = limits(&table.counters, reader.secrets_dropped());
    // Connections finish in the order they end; report them in the order
    // they began.
    connections.sort_by_key(|c: &Connection| c.tcp.first_packet);
    CaptureResult {
        info,
        connections,
        error,
    }
}

/// What the connection table (every connection finished) and the reader
/// gave up on.
fn limits(c: &Counters, secrets_dropped: u64) -> Limits {
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
    }
}

/// One shared copy of each text that repeats across a capture's
/// connections (SNI, ALPN, version, cipher, JA3, JA4): what the finished
/// connections hold until the report is written.
#[derive(Default)]
struct Interner(std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>);

/// Past this many distinct texts the set stops growing (a capture of
/// random SNIs would gain nothing from it); texts are then kept as they are.
const INTERNED_MAX: usize = 1 << 16;

impl Interner {
    fn share(&mut self, text: &mut Arc<str>) {
        if let Some(shared) = self.0.get(text) {
            *text = Arc::clone(shared);
        } else if self.0.len() < INTERNED_MAX {
            self.0.insert(Arc::clone(text));
        }
    }

    fn summary(&mut self, t: &mut crate::tls::TlsSummary) {
        for text in [
            &mut t.version,
            &mut t.sni,
            &mut t.alpn,
            &mut t.cipher,
            &mut t.ja3,
            &mut t.ja4,
        ]
        .into_iter()
        .flatten()
        {
            self.share(text);
        }
        t.alpn_offered.iter_mut().for_each(|a| self.share(a));
    }
}

fn collect(
    table: &mut Table<Session>,
    file: &Arc<str>,
    texts: &mut Interner,
    out: &mut Vec<Connection>,
) {
    for done in table.take_finished() {
        // Grown by an eighth, not doubled: a capture's connections are
        // most of the memory at the end, and doubling leaves up to half of
        // it unused (large reallocations are remapped, not copied).
        if out.len() == out.capacity() {
            out.reserve_exact(out.len() / 8 + 64);
        }
        let mut c = entry(file, done);
        if let Some(t) = &mut c.tls {
            texts.summary(t);
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
    anomalies.extend(session.anomalies());
    Connection {
        capture: Arc::clone(file),
        tcp,
        protocol: session.protocol(),
        tls: tls.map(|t| t.summary()),
        handshakes: tls
            .map(|t| t.handshakes().iter().map(HandshakeBrief::from).collect())
            .unwrap_or_default(),
        http: session.http_facts(),
        anomalies,
        request_span: RequestSpan::default(),
        record_span: None,
        requests: session.take_requests(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_copy_until_the_cap() {
        let mut texts = Interner::default();
        let mut a: Arc<str> = Arc::from("example.com");
        let mut b: Arc<str> = Arc::from(String::from("example.com"));
        assert!(!Arc::ptr_eq(&a, &b));
        texts.share(&mut a);
        texts.share(&mut b);
        assert!(Arc::ptr_eq(&a, &b));
        for i in 0..INTERNED_MAX + 10 {
            texts.share(&mut Arc::from(format!("host{i}")));
        }
        assert_eq!(texts.0.len(), INTERNED_MAX);
        // Full: a new text stays as it is, a known one is still shared.
        let mut c: Arc<str> = Arc::from("new.example");
        let before = Arc::clone(&c);
        texts.share(&mut c);
        assert!(Arc::ptr_eq(&c, &before));
        let mut d: Arc<str> = Arc::from("example.com");
        texts.share(&mut d);
        assert!(Arc::ptr_eq(&d, &a));
    }
}
