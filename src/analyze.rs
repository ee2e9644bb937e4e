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

/// How many threads one capture may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Everything on the calling thread.
    One,
    /// Two helpers: one reads, and decompresses, the capture ahead
    /// (`capture::Reader::ahead`); one sets the finished connections'
    /// records aside (`ledger::store`: their encoding is a third of a JSON
    /// run on short connections), when they are kept. The calling thread
    /// parses. The result is the same: the bytes arrive in order, and the
    /// records in the order the connections finished.
    Helpers,
}

/// [`file`], keeping what `keep` says of the finished connections.
pub fn file_keeping(
    path: &Path,
    keys: &Arc<KeyLog>,
    progress: Option<&ProgressBar>,
    keep: Keep,
) -> CaptureResult {
    file_on(path, keys, progress, keep, Threads::One)
}

/// [`file_keeping`] on `threads` threads.
pub fn file_on(
    path: &Path,
    keys: &Arc<KeyLog>,
    progress: Option<&ProgressBar>,
    keep: Keep,
    threads: Threads,
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
    match open(src, threads) {
        Ok(reader) => run(name, reader, keys, keep, threads),
        Err(e) => failed(name, e, keep),
    }
}

/// A reader of `src`, reading ahead on a thread of its own with helpers.
fn open(src: Box<dyn Read + Send>, threads: Threads) -> Result<Reader, capture::Error> {
    match threads {
        Threads::One => Reader::new(src),
        Threads::Helpers => Reader::ahead(src),
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
    reader_on(name, src, keys, keep, Threads::One)
}

/// [`reader_keeping`] on `threads` threads.
pub fn reader_on(
    name: String,
    src: Box<dyn Read + Send>,
    keys: &Arc<KeyLog>,
    keep: Keep,
    threads: Threads,
) -> CaptureResult {
    match open(src, threads) {
        Ok(reader) => run(name, reader, keys, keep, threads),
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

fn run(
    name: String,
    reader: Reader,
    keys: &Arc<KeyLog>,
    keep: Keep,
    threads: Threads,
) -> CaptureResult {
    let builder = builder(Arc::from(name.as_str()), keep);
    if threads == Threads::One || keep == Keep::Digests {
        let mut builder = builder;
        let (info, error) = read(name, reader, keys, &mut |c| builder.push(c));
        return result(info, builder, error);
    }
    let in_flight = &InFlight::default();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<Connection>, usize)>();
        // Batches set aside come back to be freed here, where they were
        // allocated: freed on the writer's thread, every allocation here
        // would miss this thread's cache of free blocks.
        let (back, returned) = std::sync::mpsc::channel::<Vec<Connection>>();
        let writer = scope.spawn(move || {
            let mut builder = builder;
            for (mut batch, weight) in rx {
                batch.iter_mut().for_each(|c| builder.push_mut(c));
                in_flight.release(weight);
                // Only gone once the reader is done: then dropped here.
                let _ = back.send(batch);
            }
            builder
        });
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_weight = 0;
        let send = |batch: &mut Vec<Connection>, batch_weight: &mut usize| {
            in_flight.take(*batch_weight, || writer.is_finished());
            // The next batch in a vector that came back, if one did.
            let mut next = None;
            for mut done in returned.try_iter() {
                done.clear();
                next.get_or_insert(done);
            }
            let next = next.unwrap_or_else(|| Vec::with_capacity(BATCH));
            let full = std::mem::replace(batch, next);
            // Gone only if the writer panicked, which `join` passes on.
            let _ = tx.send((full, std::mem::take(batch_weight)));
        };
        let (info, error) = read(name, reader, keys, &mut |c| {
            batch_weight += weight(&c);
            batch.push(c);
            if batch.len() == BATCH || batch_weight >= IN_FLIGHT / 4 {
                send(&mut batch, &mut batch_weight);
            }
        });
        if !batch.is_empty() {
            send(&mut batch, &mut batch_weight);
        }
        drop(tx);
        match writer.join() {
            Ok(builder) => result(info, builder, error),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Finished connections handed to the writer thread at once.
const BATCH: usize = 64;

/// Bytes of finished connections handed to the writer thread and not yet
/// set aside, at most (one connection alone may be more): the reader waits
/// past it, so that a writer falling behind costs bounded memory.
const IN_FLIGHT: usize = 4 << 20;

/// About what a finished connection holds in memory: its record and its
/// listed requests and anomalies.
fn weight(c: &Connection) -> usize {
    std::mem::size_of::<Connection>()
        + c.requests.len() * (std::mem::size_of::<crate::ledger::Request>() + 64)
        + c.anomalies.len() * std::mem::size_of::<crate::ledger::Anomaly>()
}

/// The bytes in flight to the writer thread.
#[derive(Default)]
struct InFlight {
    bytes: std::sync::Mutex<usize>,
    released: std::sync::Condvar,
}

impl InFlight {
    /// Counts `weight` more, first waiting while that would pass
    /// [`IN_FLIGHT`] (and something is in flight, and the writer is not
    /// gone).
    fn take(&self, weight: usize, writer_gone: impl Fn() -> bool) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        while *bytes > 0 && *bytes + weight > IN_FLIGHT && !writer_gone() {
            bytes = self
                .released
                .wait_timeout(bytes, std::time::Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *bytes += weight;
    }

    fn release(&self, weight: usize) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        *bytes = bytes.saturating_sub(weight);
        self.released.notify_one();
    }
}

/// Reads every frame of `reader`, handing each finished connection to
/// `done` in the order they finish: what the capture was, and the error
/// that stopped reading, if one did.
fn read(
    name: String,
    mut reader: Reader,
    keys: &Arc<KeyLog>,
    done: &mut dyn FnMut(Connection),
) -> (Capture, Option<capture::Error>) {
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
        if table.has_finished() {
            collect(&mut table, &file, done);
        }
    };
    table.finish_all();
    collect(&mut table, &file, done);
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
    (info, error)
}

/// The capture's result once every finished connection is in `builder`.
fn result(mut info: Capture, builder: Builder, error: Option<capture::Error>) -> CaptureResult {
    let connections = builder.finish();
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

fn collect(table: &mut Table<Session>, file: &Arc<str>, done: &mut dyn FnMut(Connection)) {
    for finished in table.take_finished() {
        let mut c = entry(file, finished);
        if let Some(t) = &mut c.tls {
            c.record_span = crate::findings::record_span(t, c.tcp.end);
            t.first_records = Vec::new();
        }
        done(c);
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
    let summary = session.tls_mut().map(|t| t.take_summary());
    let tls = session.tls();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The reader waits while the writer holds as much as it may, until
    /// the writer gives some back; alone, a connection heavier than the
    /// bound passes, and a writer that is gone never holds it up.
    #[test]
    fn the_reader_waits_for_the_writer_past_the_bound() {
        let in_flight = InFlight::default();
        in_flight.take(IN_FLIGHT + 1, || false);
        let released = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                released.store(true, Ordering::SeqCst);
                in_flight.release(IN_FLIGHT + 1);
            });
            in_flight.take(1, || false);
            assert!(released.load(Ordering::SeqCst));
        });
        in_flight.take(IN_FLIGHT, || true);
        assert_eq!(
            *in_flight.bytes.lock().unwrap_or_else(|e| e.into_inner()),
            IN_FLIGHT + 1
        );
    }
}
