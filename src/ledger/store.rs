//! Finished connections, out of memory until the report is written.
//!
//! Each record is encoded with MessagePack (serde's compact form: structs as
//! arrays, times as nanoseconds) into a buffer that moves to an unnamed
//! temporary file once it passes [`SPILL_AT`]; the report reads the records
//! back one at a time, in its own order. Memory then holds, per finished
//! connection, only its [`Digest`] (128 bytes), not the record (1.4 KB
//! and more with its requests).
//!
//! A record is three values one after the other, each readable alone: the
//! connection, its requests, its anomalies.
//!
//! When the only report is the compact JSON document, records are kept as
//! its text instead ([`Encoding::Json`]): the connection's object as it
//! appears in `connections[]`, and each request and anomaly as its object
//! after `{"connection":0` (its index in the report is known only when
//! every capture has been read), one per line. Writing the report then
//! copies them, with no decoding and no second serialization.

use super::compact;
use super::digest::Digest;
use super::runs::{Runs, Sorted};
use super::servers::name_of;
use super::{Connection, HandshakeBrief, Http, NameSource, RequestSpan};
use crate::app::Protocol;
use crate::tls::TlsSummary;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

/// Encoded records kept in memory up to this many bytes per capture; past
/// it they go to a temporary file (in `TMPDIR`, unnamed, gone with the
/// process).
pub const SPILL_AT: usize = 16 << 20;

/// Servers a capture keeps apart, at most: each costs about 440 bytes until
/// the report is written (its name twice, its figures), and a capture of
/// SYNs to as many addresses, or of as many server names, has as many.
/// Connections to servers past it are counted together under
/// [`OTHER_SERVERS`] (`limits.connections_to_other_servers`).
pub const MAX_SERVERS: usize = 100_000;

/// The name of the server that stands for those past [`MAX_SERVERS`].
pub const OTHER_SERVERS: &str = "(servers past the first 100000)";

/// Digests kept in memory per capture before a sorted run of them goes to
/// a temporary file (`ledger::runs`): 8 MiB.
pub const DIGESTS_IN_MEMORY: usize = 1 << 16;

/// The digests of a capture, in the order the connections began.
pub type Digests = Sorted<Digest, u64>;

/// The order of the report's connections: by first packet (no two
/// connections share one).
pub fn by_first_packet(d: &Digest) -> u64 {
    d.first_packet
}

/// Bytes written to the file at once.
const WRITE_BUFFER: usize = 1 << 20;

/// Bytes of the file read at once: the window records are read through.
/// Records are written as connections end and read in the order they
/// began, so the next one to read is often some way before the last: a
/// long connection's record comes after those of the short ones that began
/// after it. The window reaches [`WINDOW_BEHIND`] before the record that
/// missed it. Measured on 343 000 short connections (the benchmark's):
/// with 1 MiB read from the missed record on, 2 300 reads of 300 MB of
/// MessagePack but 152 000 of 500 MB of JSON text, whose records are
/// further apart than the window reached.
const WINDOW: usize = 4 << 20;

/// How much of [`WINDOW`] lies before the record that missed it.
const WINDOW_BEHIND: u64 = 1 << 20;

/// Where one record is: its offset and the lengths of its three values.
/// The offset is two halves so that a `Loc` is 20 bytes, not 24 (one per
/// connection, in its digest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    offset: [u32; 2],
    head: u32,
    requests: u32,
    anomalies: u32,
}

impl Loc {
    fn offset(&self) -> u64 {
        let [low, high] = self.offset;
        u64::from(high) << 32 | u64::from(low)
    }

    fn end(&self) -> u64 {
        self.offset() + u64::from(self.head) + u64::from(self.requests) + u64::from(self.anomalies)
    }

    /// Its [`Loc::SIZE`] bytes, for a digest set aside.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let [low, high] = self.offset;
        for n in [low, high, self.head, self.requests, self.anomalies] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }

    pub const SIZE: usize = 20;

    /// Reads one from `bytes` as [`Loc::encode`] wrote it.
    pub fn decode(bytes: &[u8; Self::SIZE]) -> Loc {
        let n = |i: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(bytes.get(i * 4..i * 4 + 4).unwrap_or(&[0; 4]));
            u32::from_le_bytes(b)
        };
        Loc {
            offset: [n(0), n(1)],
            head: n(2),
            requests: n(3),
            anomalies: n(4),
        }
    }
}

#[derive(Serialize)]
struct HeadOut<'a> {
    tcp: &'a super::Tcp,
    protocol: Protocol,
    tls: &'a Option<TlsSummary>,
    http: &'a Option<Http>,
    handshakes: &'a [HandshakeBrief],
    record_span: Option<(crate::Ts, crate::Ts)>,
}

#[derive(Deserialize)]
struct HeadIn {
    tcp: super::Tcp,
    protocol: Protocol,
    tls: Option<TlsSummary>,
    http: Option<Http>,
    handshakes: Vec<HandshakeBrief>,
    record_span: Option<(crate::Ts, crate::Ts)>,
}

/// How records are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// MessagePack, read back into [`Connection`]s: for every report.
    #[default]
    MessagePack,
    /// The compact JSON report's own text, copied into it
    /// ([`Reader::raw`]); nothing else can read it.
    Json,
}

/// What a request's or an anomaly's JSON object begins with when kept as
/// text: its `connection` field at 0, cut off and written again with the
/// connection's index in the report.
pub const JSON_ITEM_PREFIX: &[u8] = b"{\"connection\":0";

/// Which of a record's values to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The connection, without its requests and anomalies.
    Head,
    Requests,
    Anomalies,
    /// All three.
    Whole,
}

enum Sink {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

/// One capture's finished connections as they come: each record encoded
/// and set aside, its digest kept.
pub struct Builder {
    sink: Sink,
    written: u64,
    scratch: Vec<u8>,
    error: Option<String>,
    /// A temporary file could not be made: records stay in memory.
    no_spill: Option<String>,
    /// Records are wanted (else only the digests are kept).
    keep: bool,
    encoding: Encoding,
    /// Bytes of records kept in memory before they go to a file.
    spill_at: usize,
    capture: Arc<str>,
    digests: Runs<Digest, u64>,
    names: Vec<(String, NameSource)>,
    name_ids: HashMap<String, u32, foldhash::fast::RandomState>,
    /// Servers kept apart at most ([`MAX_SERVERS`]).
    max_servers: usize,
    /// Connections counted under [`OTHER_SERVERS`].
    to_other_servers: u64,
}

impl Builder {
    /// For the connections of the capture named `capture`; with `keep`
    /// false only their digests are kept (a report of servers and
    /// findings reads nothing else).
    pub fn new(capture: Arc<str>, keep: bool) -> Self {
        Builder {
            keep,
            encoding: Encoding::MessagePack,
            spill_at: SPILL_AT,
            sink: Sink::Memory(Vec::new()),
            written: 0,
            scratch: Vec::new(),
            error: None,
            no_spill: None,
            capture,
            digests: Runs::new(by_first_packet, DIGESTS_IN_MEMORY),
            names: Vec::new(),
            name_ids: HashMap::default(),
            max_servers: MAX_SERVERS,
            to_other_servers: 0,
        }
    }

    /// Keeps at most `n` servers apart rather than [`MAX_SERVERS`].
    pub fn max_servers(mut self, n: usize) -> Self {
        self.max_servers = n;
        self
    }

    /// Keeps the records as `encoding` says.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Records go to a temporary file past `bytes` in memory rather than
    /// [`SPILL_AT`] (0: from the first).
    pub fn spill_at(mut self, bytes: usize) -> Self {
        self.spill_at = bytes;
        self
    }

    /// Digests go to a temporary file `n` at a time rather than
    /// [`DIGESTS_IN_MEMORY`].
    pub fn digests_in_memory(mut self, n: usize) -> Self {
        self.digests = Runs::new(by_first_packet, n);
        self
    }

    /// Sets `c` aside; `c.record_span` must be set (its TLS records are
    /// not kept).
    pub fn push(&mut self, mut c: Connection) {
        self.push_mut(&mut c);
    }

    /// [`Builder::push`], leaving the connection to the caller to drop:
    /// a thread that sets records aside for another hands them back to be
    /// freed where they were made (`analyze::Threads`). Its requests and
    /// anomalies are left as the record has them.
    pub fn push_mut(&mut self, c: &mut Connection) {
        // With what the connection's requests not listed spanned.
        c.request_span =
            RequestSpan::of(&c.requests, c.tcp.end).with(std::mem::take(&mut c.request_span));
        c.requests.sort_by_key(|r| (r.start, r.stream_id));
        // Their connection's index is given when the report is read.
        c.requests.iter_mut().for_each(|r| r.connection = 0);
        c.anomalies.iter_mut().for_each(|a| a.connection = 0);
        let server = self.server_of(c);
        let loc = if self.keep {
            self.write(c)
        } else {
            Loc::default()
        };
        self.digests.push(Digest::of(c, loc, server));
    }

    /// The index of `c`'s server, a new one if its name is new (and
    /// [`OTHER_SERVERS`] past [`MAX_SERVERS`]). A name is copied only when
    /// it is new.
    fn server_of(&mut self, c: &Connection) -> u32 {
        let (name, source) = name_of(c);
        if let Some(&id) = self.name_ids.get(name.as_ref()) {
            return id;
        }
        let (name, source) = if self.name_ids.len() >= self.max_servers {
            // One more server name than a capture keeps apart.
            self.to_other_servers += 1;
            if let Some(&id) = self.name_ids.get(OTHER_SERVERS) {
                return id;
            }
            (OTHER_SERVERS.to_string(), NameSource::Other)
        } else {
            (name.into_owned(), source)
        };
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push((name.clone(), source));
        self.name_ids.insert(name, id);
        id
    }

    fn write(&mut self, c: &Connection) -> Loc {
        let buf = &mut self.scratch;
        buf.clear();
        let lens = match self.encoding {
            Encoding::MessagePack => encode_msgpack(c, buf, &mut self.error),
            Encoding::Json => encode_json(c, buf, &mut self.error),
        };
        let loc = Loc {
            // Low half, high half.
            offset: [self.written as u32, (self.written >> 32) as u32],
            head: lens[0],
            requests: lens[1],
            anomalies: lens[2],
        };
        self.written += buf.len() as u64;
        let result = match &mut self.sink {
            Sink::Memory(mem) => {
                mem.extend_from_slice(buf);
                if mem.len() > self.spill_at && self.no_spill.is_none() {
                    match tempfile::tempfile() {
                        Ok(file) => {
                            let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
                            let r = file.write_all(mem);
                            self.sink = Sink::File(file);
                            r
                        }
                        Err(e) => {
                            self.no_spill = Some(format!(
                                "no temporary file for finished connections ({e}): they stay in memory"
                            ));
                            Ok(())
                        }
                    }
                } else {
                    Ok(())
                }
            }
            Sink::File(file) => file.write_all(buf),
        };
        if let Err(e) = result {
            self.error
                .get_or_insert_with(|| format!("writing finished connections: {e}"));
        }
        loc
    }

    /// The connections so far.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Every connection set aside, in the order they began.
    pub fn finish(self) -> Connections {
        let Builder {
            sink,
            error,
            keep,
            encoding,
            no_spill,
            capture,
            digests,
            names,
            to_other_servers,
            ..
        } = self;
        let (data, mut error) = match sink {
            Sink::Memory(mem) => (Data::Memory(mem), error),
            Sink::File(file) => match file.into_inner() {
                Ok(file) => (Data::File(file), error),
                Err(e) => (
                    Data::Memory(Vec::new()),
                    error.or_else(|| Some(format!("writing finished connections: {}", e.error()))),
                ),
            },
        };
        if !keep {
            error = Some("the records were not kept".to_string());
        }
        // Connections finish in the order they end; the report lists them
        // in the order they began.
        let digests = digests.finish();
        let warning = match (no_spill, &digests.warning) {
            (Some(w), _) => Some(w),
            (None, Some(w)) => Some(format!(
                "{w}: the digests of finished connections stay in memory"
            )),
            (None, None) => None,
        };
        Connections {
            digests,
            names,
            store: Store {
                data,
                capture,
                error,
                encoding,
            },
            warning,
            to_other_servers,
        }
    }
}

/// A capture's finished connections: digests in memory or sorted runs,
/// records in the store.
pub struct Connections {
    /// In the order the connections began.
    pub digests: Digests,
    /// The servers' names the digests refer to.
    pub names: Vec<(String, NameSource)>,
    pub store: Store,
    /// Why the records could not leave memory, if they could not.
    pub warning: Option<String>,
    /// Connections to servers past [`MAX_SERVERS`], counted together.
    pub to_other_servers: u64,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Bytes of encoded records held in memory (none once they went to a
    /// file).
    pub fn bytes_in_memory(&self) -> usize {
        match &self.store.data {
            Data::Memory(m) => m.capacity(),
            Data::File(_) => 0,
        }
    }

    /// Whether the records went to a temporary file.
    pub fn spilled(&self) -> bool {
        matches!(self.store.data, Data::File(_))
    }

    /// Every record read back whole, in the order the connections began
    /// (tests, tools: this holds them all in memory).
    pub fn to_vec(&self) -> io::Result<Vec<Connection>> {
        let mut reader = self.store.reader();
        self.digests
            .iter()
            .enumerate()
            .map(|(i, d)| reader.read(d?.loc, Part::Whole, i))
            .collect()
    }

    /// Sets aside `conns`, a capture's connections made some other way
    /// (tests, tools).
    pub fn from_vec(capture: &str, conns: Vec<Connection>) -> Self {
        let mut b = Builder::new(Arc::from(capture), true);
        conns.into_iter().for_each(|c| b.push(c));
        b.finish()
    }
}

enum Data {
    Memory(Vec<u8>),
    File(File),
}

/// The records of one capture.
pub struct Store {
    data: Data,
    capture: Arc<str>,
    /// Why records could not be written; reading any of them fails with it.
    error: Option<String>,
    encoding: Encoding,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match &self.data {
            Data::Memory(m) => format!("{} bytes in memory", m.len()),
            Data::File(_) => "a temporary file".to_string(),
        };
        write!(f, "Store({}: {place})", self.capture)
    }
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connections({} in {:?})", self.digests.len(), self.store)
    }
}

/// Where `part` of the record at `loc` begins and ends.
fn span(loc: Loc, part: Part) -> (u64, u64) {
    let head = loc.offset() + u64::from(loc.head);
    let requests = head + u64::from(loc.requests);
    match part {
        Part::Head => (loc.offset(), head),
        Part::Requests => (head, requests),
        Part::Anomalies => (requests, loc.end()),
        Part::Whole => (loc.offset(), loc.end()),
    }
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("reading back a finished connection: {e}"))
}

impl Store {
    /// How the records are kept.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// A reader for records read roughly in the order they were written.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            store: self,
            window: Vec::new(),
            at: 0,
        }
    }
}

/// Reads records, keeping a window of the file so that records read in
/// about the order they were written cost one read per megabyte.
pub struct Reader<'a> {
    store: &'a Store,
    window: Vec<u8>,
    /// The file offset of `window[0]`.
    at: u64,
}

impl Reader<'_> {
    /// `part` of the record at `loc`; `id` is its index in the report.
    pub fn read(&mut self, loc: Loc, part: Part, id: usize) -> io::Result<Connection> {
        if let Some(e) = &self.store.error {
            return Err(bad(e));
        }
        // An empty list is one byte (a MessagePack fixarray of 0): nothing
        // to read, which spares most records when listing requests or
        // anomalies.
        let empty = match part {
            Part::Requests => loc.requests <= 1,
            Part::Anomalies => loc.anomalies <= 1,
            Part::Head | Part::Whole => false,
        };
        if empty {
            return Ok(empty_connection(&self.store.capture));
        }
        if self.store.encoding != Encoding::MessagePack {
            return Err(bad("the records were kept as JSON text"));
        }
        let (start, end) = span(loc, part);
        let mut c = empty_connection(&self.store.capture);
        let bytes = self.bytes(start, end)?;
        // Each value decoded from exactly its own bytes.
        let mut rest = bytes;
        let mut next = |len: u32| -> io::Result<&[u8]> {
            let (value, tail) = rest
                .split_at_checked(len as usize)
                .ok_or_else(|| bad("cut short"))?;
            rest = tail;
            Ok(value)
        };
        if matches!(part, Part::Head | Part::Whole) {
            let head: HeadIn = rmp_serde::from_slice(next(loc.head)?).map_err(bad)?;
            c.tcp = head.tcp;
            c.protocol = head.protocol;
            c.tls = head.tls;
            c.http = head.http;
            c.handshakes = head.handshakes;
            c.record_span = head.record_span;
        }
        if matches!(part, Part::Requests | Part::Whole) {
            c.requests = rmp_serde::from_slice(next(loc.requests)?).map_err(bad)?;
            c.requests.iter_mut().for_each(|r| r.connection = id);
        }
        if matches!(part, Part::Anomalies | Part::Whole) {
            c.anomalies = rmp_serde::from_slice(next(loc.anomalies)?).map_err(bad)?;
            c.anomalies.iter_mut().for_each(|a| a.connection = id);
        }
        Ok(c)
    }

    /// How its store keeps the records.
    pub fn encoding(&self) -> Encoding {
        self.store.encoding
    }

    /// The bytes of `part` of the record at `loc`, as they were kept:
    /// the compact JSON report's text when the store's encoding is
    /// [`Encoding::Json`] (requests and anomalies one per line, each
    /// without [`JSON_ITEM_PREFIX`]; empty when there are none).
    pub fn raw(&mut self, loc: Loc, part: Part) -> io::Result<&[u8]> {
        if let Some(e) = &self.store.error {
            return Err(bad(e));
        }
        let (start, end) = span(loc, part);
        if start == end {
            return Ok(&[]);
        }
        self.bytes(start, end)
    }

    fn bytes(&mut self, start: u64, end: u64) -> io::Result<&[u8]> {
        let file = match &self.store.data {
            Data::Memory(mem) => {
                let (s, e) = (usize::try_from(start), usize::try_from(end));
                return match (s, e) {
                    (Ok(s), Ok(e)) => mem.get(s..e).ok_or_else(|| bad("past the end")),
                    _ => Err(bad("past the end")),
                };
            }
            Data::File(file) => file,
        };
        let have = self.at..self.at + self.window.len() as u64;
        if !(have.contains(&start) && end <= have.end) {
            let from = start.saturating_sub(WINDOW_BEHIND);
            let len = usize::try_from(end - from).map_err(bad)?.max(WINDOW);
            self.window.resize(len, 0);
            let got = read_at(file, &mut self.window, from)?;
            self.window.truncate(got);
            self.at = from;
            if (got as u64) < end - from {
                return Err(bad("past the end"));
            }
        }
        let s = usize::try_from(start - self.at).map_err(bad)?;
        let e = usize::try_from(end - self.at).map_err(bad)?;
        self.window.get(s..e).ok_or_else(|| bad("past the end"))
    }
}

/// Reads as much of `buf` as the file has from `offset`.
pub(super) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = read_some_at(
            file,
            buf.get_mut(done..).unwrap_or_default(),
            offset + done as u64,
        )?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

#[cfg(unix)]
fn read_some_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_some_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

/// A connection with nothing but its capture's name, to be filled in.
fn empty_connection(capture: &Arc<str>) -> Connection {
    Connection {
        capture: Arc::clone(capture),
        tcp: super::Tcp {
            client: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            server: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            first_packet: 0,
            start: crate::Ts(0),
            end: crate::Ts(0),
            syn_seen: false,
            synack_seen: false,
            role_inferred: false,
            packets: Default::default(),
            bytes: Default::default(),
            stream_bytes: Default::default(),
            gap_bytes: Default::default(),
            retransmissions: Default::default(),
            closed_by: None,
            close: None,
            closed_at: None,
            evicted: false,
        },
        protocol: Protocol::default(),
        tls: None,
        http: None,
        requests: Vec::new(),
        request_span: RequestSpan::default(),
        record_span: None,
        handshakes: Vec::new(),
        anomalies: Vec::new(),
    }
}

/// One value of a record, encoded.
/// A part's length: its own, or u32::MAX and an error past 4 GiB (one
/// connection's requests; not readable back, and said so rather than read
/// wrong).
fn part_len(len: usize, error: &mut Option<String>) -> u32 {
    u32::try_from(len).unwrap_or_else(|_| {
        error.get_or_insert_with(|| "a connection's record is over 4 GiB".to_string());
        u32::MAX
    })
}

/// Appends `c`'s three values in MessagePack; their lengths.
fn encode_msgpack(c: &Connection, buf: &mut Vec<u8>, error: &mut Option<String>) -> [u32; 3] {
    let head = HeadOut {
        tcp: &c.tcp,
        protocol: c.protocol,
        tls: &c.tls,
        http: &c.http,
        handshakes: &c.handshakes,
        record_span: c.record_span,
    };
    // Encoding into a Vec fails only for types serde cannot express in
    // MessagePack, which these are not (the round-trip tests read every
    // record back).
    let mut lens = [0u32; 3];
    let parts: [&dyn erased::Encode; 3] = [&head, &c.requests, &c.anomalies];
    for (len, part) in lens.iter_mut().zip(parts) {
        let before = buf.len();
        if let Err(e) = part.encode(buf) {
            error.get_or_insert_with(|| e.to_string());
        }
        *len = part_len(buf.len() - before, error);
    }
    lens
}

/// Appends `c`'s three values as the compact JSON report's text (module
/// documentation); their lengths.
fn encode_json(c: &Connection, buf: &mut Vec<u8>, error: &mut Option<String>) -> [u32; 3] {
    let mut lens = [0u32; 3];
    let before = buf.len();
    if let Err(e) = compact::write(buf, c) {
        error.get_or_insert_with(|| format!("a finished connection as JSON: {e}"));
    }
    lens[0] = part_len(buf.len() - before, error);
    lens[1] = json_items(&c.requests, buf, error);
    lens[2] = json_items(&c.anomalies, buf, error);
    lens
}

/// Appends each of `items` as its JSON object after [`JSON_ITEM_PREFIX`],
/// one per line (compact JSON has no line breaks of its own); their
/// length. Each item's `connection` is still 0, as it is until the report
/// numbers the connections.
fn json_items<T: Serialize>(items: &[T], buf: &mut Vec<u8>, error: &mut Option<String>) -> u32 {
    let before = buf.len();
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            buf.push(b'\n');
        }
        let start = buf.len();
        let written = compact::write(buf, item);
        // The prefix, then the next field: not `{"connection":07`.
        let prefixed = buf.get(start..).is_some_and(|b| {
            b.starts_with(JSON_ITEM_PREFIX) && b.get(JSON_ITEM_PREFIX.len()) == Some(&b',')
        });
        match written {
            Ok(()) if prefixed => {
                buf.drain(start..start + JSON_ITEM_PREFIX.len());
            }
            Ok(()) => {
                error.get_or_insert_with(|| {
                    "a request or anomaly as JSON does not begin with its connection".to_string()
                });
            }
            Err(e) => {
                error.get_or_insert_with(|| format!("a request or anomaly as JSON: {e}"));
            }
        }
    }
    part_len(buf.len() - before, error)
}

mod erased {
    pub trait Encode {
        fn encode(&self, buf: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error>;
    }

    impl<T: serde::Serialize + ?Sized> Encode for T {
        fn encode(&self, buf: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> {
            rmp_serde::encode::write(buf, self)
        }
    }
}
