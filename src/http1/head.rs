//! One HTTP/1.x header block (start line and fields) parsed with httparse into
//! the few owned facts the exchange tracker needs; never panics, never allocates
//! for fields it does not keep.

use super::{AnomalyKind, Version};
use httparse::{Header, ParserConfig, Status};
use std::mem::MaybeUninit;

/// Most header fields in one block; more is an anomaly (httparse `TooManyHeaders`).
pub(super) const MAX_FIELDS: usize = 128;

/// How the message body that follows a header block is delimited
/// (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (a request without Content-Length or Transfer-Encoding, rule 7).
    Empty,
    /// `Content-Length: n` (rule 6).
    Length(u64),
    /// Transfer-Encoding whose final coding is chunked (rule 4).
    Chunked,
    /// Read until the connection closes (rule 8 for responses, or a
    /// response Transfer-Encoding that does not end in chunked, rule 4).
    UntilClose,
    /// A request Transfer-Encoding that does not end in chunked (rule 4):
    /// the body length cannot be determined.
    Unknown,
}

/// Tokens of the Connection header field (RFC 9110 section 7.6.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
}

/// Anomalies noticed while reading an otherwise usable header block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct HeadNotes {
    /// Both Transfer-Encoding and Content-Length (RFC 9112 section 6.3 rule 3).
    pub length_and_chunked: bool,
    /// Content-Length unparsable or several differing values (rule 5).
    pub bad_length: bool,
    /// A kept text (method, target, Host, Upgrade) was longer than its cap
    /// and was cut.
    pub truncated: bool,
}

/// Longest request-target kept, as for HTTP/2's `:path`
/// ([`crate::http2::hpack::FIELD_CAP`]): a request waiting for its response
/// holds no more than this of it.
pub const TARGET_CAP: usize = crate::http2::hpack::FIELD_CAP;
/// Longest method, Host and Upgrade kept
/// ([`crate::http2::hpack::SHORT_FIELD_CAP`]).
pub const SHORT_CAP: usize = crate::http2::hpack::SHORT_FIELD_CAP;

/// `text` cut to at most `cap` bytes at a character boundary; `cut` is set
/// when it was.
fn capped(mut text: String, cap: usize, cut: &mut bool) -> String {
    if text.len() > cap {
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.shrink_to_fit();
        *cut = true;
    }
    text
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub host: Option<String>,
    pub framing: Framing,
    pub connection: ConnectionTokens,
    /// The Upgrade field's value (RFC 9110 section 7.8), if any.
    pub upgrade: Option<String>,
    pub notes: HeadNotes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ResponseHead {
    pub status: u16,
    pub version: Version,
    pub framing: Framing,
    pub connection: ConnectionTokens,
    pub upgrade: Option<String>,
    pub notes: HeadNotes,
}

/// httparse's answer, with the borrowed parts already turned into owned facts.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed<T> {
    /// The block was complete; it was this many bytes long.
    Complete(T, usize),
    Partial,
    Invalid(AnomalyKind),
}

fn config() -> ParserConfig {
    let mut c = ParserConfig::default();
    // Real servers and clients break these rules; a passive observer
    // accepts what the peer evidently accepted.
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    c
}

fn invalid(e: httparse::Error) -> AnomalyKind {
    match e {
        httparse::Error::TooManyHeaders => AnomalyKind::TooManyHeaders,
        _ => AnomalyKind::MalformedHead,
    }
}

fn version(v: Option<u8>) -> Version {
    match v {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    }
}

/// The facts of a request head httparse parsed; `target` replaces the
/// parsed one when given.
fn request_head(req: &httparse::Request<'_, '_>, target: Option<String>) -> RequestHead {
    let f = Fields::read(req.headers);
    let (framing, mut notes) = f.framing(true);
    let mut cut = false;
    let mut text = |v: &[u8], cap: usize| {
        let v = trim(v);
        capped(
            String::from_utf8_lossy(v.get(..v.len().min(cap + 4)).unwrap_or(v)).into_owned(),
            cap,
            &mut cut,
        )
    };
    let method = text(req.method.unwrap_or_default().as_bytes(), SHORT_CAP);
    let host = f.host.map(|v| text(v, SHORT_CAP));
    let upgrade = f.upgrade.map(|v| text(v, SHORT_CAP));
    let target = capped(
        target.unwrap_or_else(|| req.path.unwrap_or_default().to_owned()),
        TARGET_CAP,
        &mut cut,
    );
    notes.truncated = cut;
    RequestHead {
        method,
        target,
        version: version(req.version),
        host,
        framing,
        connection: f.connection,
        upgrade,
        notes,
    }
}

pub(super) fn parse_request(buf: &[u8]) -> Parsed<RequestHead> {
    let mut fields = [const { MaybeUninit::<Header<'_>>::uninit() }; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut []);
    match config().parse_request_with_uninit_headers(&mut req, buf, &mut fields) {
        Ok(Status::Complete(n)) => Parsed::Complete(request_head(&req, None), n),
        Ok(Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Invalid(AnomalyKind::TooManyHeaders),
        Err(e) => match lenient_request(buf) {
            Some(parsed) => parsed,
            None => Parsed::Invalid(invalid(e)),
        },
    }
}

/// A second reading of a request head that httparse refused, as servers
/// (and tshark) read it: spaces inside the request-target (the method is
/// the first word and the version the last) and control bytes inside field
/// values. The bytes are replaced one for one in a copy, so lengths hold;
/// the target is reported as it was on the wire.
fn lenient_request(buf: &[u8]) -> Option<Parsed<RequestHead>> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = buf.get(..end)?;
    let line_end = memchr::memchr(b'\r', head)?;
    let line = head.get(..line_end)?;
    let first = memchr::memchr(b' ', line)?;
    let last = memchr::memrchr(b' ', line)?;
    if last <= first || !line.get(last + 1..)?.starts_with(b"HTTP/1.") {
        return None;
    }
    let target = String::from_utf8_lossy(line.get(first + 1..last)?.trim_ascii()).into_owned();
    let mut copy = head.to_vec();
    for (i, b) in copy.iter_mut().enumerate() {
        let inside_target = i > first && i < last;
        if (inside_target && *b == b' ') || (*b < 0x20 && !matches!(*b, b'\r' | b'\n' | b'\t')) {
            *b = b'_';
        }
    }
    let mut fields = [const { MaybeUninit::<Header<'_>>::uninit() }; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut []);
    match config().parse_request_with_uninit_headers(&mut req, &copy, &mut fields) {
        Ok(Status::Complete(n)) => Some(Parsed::Complete(request_head(&req, Some(target)), n)),
        _ => None,
    }
}

pub(super) fn parse_response(buf: &[u8]) -> Parsed<ResponseHead> {
    let mut fields = [const { MaybeUninit::<Header<'_>>::uninit() }; MAX_FIELDS];
    let mut resp = httparse::Response::new(&mut []);
    match config().parse_response_with_uninit_headers(&mut resp, buf, &mut fields) {
        Ok(Status::Complete(n)) => {
            let f = Fields::read(resp.headers);
            let (framing, notes) = f.framing(false);
            let head = ResponseHead {
                status: resp.code.unwrap_or_default(),
                version: version(resp.version),
                framing,
                connection: f.connection,
                upgrade: f
                    .upgrade
                    .map(|u| String::from_utf8_lossy(trim(u)).into_owned()),
                notes,
            };
            Parsed::Complete(head, n)
        }
        Ok(Status::Partial) => Parsed::Partial,
        Err(e) => Parsed::Invalid(invalid(e)),
    }
}

/// Trailer fields after the last chunk (RFC 9112 section 7.1.2): only their
/// extent matters.
pub(super) fn parse_trailers(buf: &[u8]) -> Parsed<()> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    match httparse::parse_headers(buf, &mut fields) {
        Ok(Status::Complete((n, _))) => Parsed::Complete((), n),
        Ok(Status::Partial) => Parsed::Partial,
        Err(e) => Parsed::Invalid(invalid(e)),
    }
}

/// A chunk-size line (RFC 9112 section 7.1): the size, extensions ignored.
pub(super) fn parse_chunk_size(buf: &[u8]) -> Parsed<u64> {
    match httparse::parse_chunk_size(buf) {
        Ok(Status::Complete((n, size))) => Parsed::Complete(size, n),
        Ok(Status::Partial) => Parsed::Partial,
        Err(httparse::InvalidChunkSize) => Parsed::Invalid(AnomalyKind::BadChunk),
    }
}

/// Optional whitespace around field values (RFC 9110 section 5.5).
fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Iterates the comma-separated list elements of a field value (RFC 9110
/// section 5.6.1), trimmed, empty elements skipped.
fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim).filter(|t| !t.is_empty())
}

/// The fields that decide framing and connection handling.
struct Fields<'a> {
    host: Option<&'a [u8]>,
    upgrade: Option<&'a [u8]>,
    connection: ConnectionTokens,
    /// Some when at least one Transfer-Encoding field was present; true when
    /// its final coding is chunked.
    te_chunked_last: Option<bool>,
    /// Some(Ok(n)) when every Content-Length value agrees on n.
    content_length: Option<Result<u64, ()>>,
}

impl<'a> Fields<'a> {
    fn read(headers: &[Header<'a>]) -> Fields<'a> {
        let mut f = Fields {
            host: None,
            upgrade: None,
            connection: ConnectionTokens::default(),
            te_chunked_last: None,
            content_length: None,
        };
        for h in headers {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"host") {
                f.host.get_or_insert(h.value);
            } else if name.eq_ignore_ascii_case(b"content-length") {
                for v in list(h.value) {
                    let parsed = parse_decimal(v);
                    f.content_length = Some(match (f.content_length, parsed) {
                        (None, p) => p,
                        (Some(Ok(a)), Ok(b)) if a == b => Ok(a),
                        _ => Err(()),
                    });
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // RFC 9112 section 6.1: the codings are listed in the order
                // applied; only the last one decides the framing.
                if let Some(last) = list(h.value).last() {
                    f.te_chunked_last = Some(last.eq_ignore_ascii_case(b"chunked"));
                }
            } else if name.eq_ignore_ascii_case(b"connection") {
                for t in list(h.value) {
                    if t.eq_ignore_ascii_case(b"close") {
                        f.connection.close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        f.connection.keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case(b"upgrade") {
                f.upgrade.get_or_insert(h.value);
            }
        }
        f
    }

    /// RFC 9112 section 6.3, rules 3 to 8 (rules 1 and 2 depend on the
    /// request method and status code and are applied by the caller).
    fn framing(&self, is_request: bool) -> (Framing, HeadNotes) {
        let mut notes = HeadNotes::default();
        let framing = match (self.te_chunked_last, self.content_length) {
            (Some(chunked), cl) => {
                // Rule 3: Transfer-Encoding overrides Content-Length.
                notes.length_and_chunked = cl.is_some();
                match (chunked, is_request) {
                    (true, _) => Framing::Chunked,
                    (false, true) => Framing::Unknown,
                    (false, false) => Framing::UntilClose,
                }
            }
            (None, Some(Ok(n))) => Framing::Length(n),
            (None, Some(Err(()))) => {
                notes.bad_length = true;
                if is_request {
                    Framing::Unknown
                } else {
                    Framing::UntilClose
                }
            }
            (None, None) if is_request => Framing::Empty,
            (None, None) => Framing::UntilClose,
        };
        (framing, notes)
    }
}

/// `1*DIGIT` (RFC 9110 section 8.6), refusing overflow.
fn parse_decimal(v: &[u8]) -> Result<u64, ()> {
    if v.is_empty() {
        return Err(());
    }
    v.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)
                .and_then(|a| a.checked_add(u64::from(b - b'0')))
                .ok_or(())
        } else {
            Err(())
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn req(s: &str) -> RequestHead {
        match parse_request(s.as_bytes()) {
            Parsed::Complete(h, n) => {
                assert_eq!(n, s.len());
                h
            }
            other => panic!("{other:?}"),
        }
    }

    fn resp(s: &str) -> ResponseHead {
        match parse_response(s.as_bytes()) {
            Parsed::Complete(h, n) => {
                assert_eq!(n, s.len());
                h
            }
            other => panic!("{other:?}"),
        }
    }

    /// Table of request header blocks and the framing RFC 9112 section 6.3
    /// assigns them.
    macro_rules! framing {
        ($($name:ident: $parse:ident($text:expr) => $framing:expr, $notes:expr;)*) => {$(
            #[test]
            fn $name() {
                let h = $parse($text);
                assert_eq!(h.framing, $framing);
                assert_eq!(h.notes, $notes);
            }
        )*};
    }

    #[test]
    fn long_targets_and_hosts_are_cut_at_their_caps() {
        let mut req = b"GET /".to_vec();
        req.resize(5 + 70_000, b'a');
        // A two-byte character straddling the cap: the cut falls before it.
        req.truncate(4 + TARGET_CAP - 1);
        req.extend_from_slice("é".as_bytes());
        req.extend_from_slice(&[b'b'; 100]);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(&[b'h'; 300]);
        req.extend_from_slice(b"\r\n\r\n");
        let Parsed::Complete(h, n) = parse_request(&req) else {
            panic!("not parsed");
        };
        assert_eq!(n, req.len());
        assert_eq!(h.target.len(), TARGET_CAP - 1);
        assert!(h.target.bytes().skip(1).all(|b| b == b'a'));
        assert_eq!(h.host.as_deref().map(str::len), Some(SHORT_CAP));
        assert!(h.notes.truncated);
        let Parsed::Complete(h, _) = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") else {
            panic!("not parsed");
        };
        assert!(!h.notes.truncated);
    }

    const CLEAN: HeadNotes = HeadNotes {
        length_and_chunked: false,
        bad_length: false,
        truncated: false,
    };
    const BOTH: HeadNotes = HeadNotes {
        length_and_chunked: true,
        bad_length: false,
        truncated: false,
    };
    const BAD: HeadNotes = HeadNotes {
        length_and_chunked: false,
        bad_length: true,
        truncated: false,
    };

    framing! {
        request_without_length_has_no_body: req("GET / HTTP/1.1\r\nHost: a\r\n\r\n") => Framing::Empty, CLEAN;
        request_length: req("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n") => Framing::Length(12), CLEAN;
        request_repeated_equal_lengths: req("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n") => Framing::Length(5), CLEAN;
        request_differing_lengths: req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") => Framing::Unknown, BAD;
        request_negative_length: req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") => Framing::Unknown, BAD;
        request_overflowing_length: req("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") => Framing::Unknown, BAD;
        request_chunked: req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n") => Framing::Chunked, CLEAN;
        request_chunked_not_last: req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") => Framing::Unknown, CLEAN;
        request_chunked_and_length: req("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") => Framing::Chunked, BOTH;
        response_without_length_until_close: resp("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n") => Framing::UntilClose, CLEAN;
        response_length: resp("HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n") => Framing::Length(0), CLEAN;
        response_gzip_only_until_close: resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") => Framing::UntilClose, CLEAN;
    }

    #[test]
    fn request_facts() {
        let h = req(
            "get http://x/y?z HTTP/1.0\r\nHOST:  example.org \r\nConnection: Keep-Alive, Upgrade\r\nUpgrade: h2c\r\n\r\n",
        );
        assert_eq!(h.method, "get");
        assert_eq!(h.target, "http://x/y?z");
        assert_eq!(h.version, Version::Http10);
        assert_eq!(h.host.as_deref(), Some("example.org"));
        assert_eq!(
            h.connection,
            ConnectionTokens {
                close: false,
                keep_alive: true
            }
        );
        assert_eq!(h.upgrade.as_deref(), Some("h2c"));
    }

    #[test]
    fn response_facts() {
        let h = resp("HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n");
        assert_eq!(h.status, 101);
        assert_eq!(
            h.connection,
            ConnectionTokens {
                close: true,
                keep_alive: false
            }
        );
    }

    #[test]
    fn partial_and_invalid() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Parsed::Partial
        );
        assert_eq!(
            parse_request(b"\x16\x03\x01\x02\x00"),
            Parsed::Invalid(AnomalyKind::MalformedHead)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Parsed::Invalid(AnomalyKind::MalformedHead)
        );
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_FIELDS + 1)
        );
        assert_eq!(
            parse_request(many.as_bytes()),
            Parsed::Invalid(AnomalyKind::TooManyHeaders)
        );
    }

    #[test]
    fn chunk_size_lines() {
        // RFC 9112 section 7.1 grammar: chunk-size [ chunk-ext ] CRLF.
        assert_eq!(
            parse_chunk_size(b"1a;name=value\r\n"),
            Parsed::Complete(26, 15)
        );
        assert_eq!(parse_chunk_size(b"1a"), Parsed::Partial);
        assert_eq!(
            parse_chunk_size(b"zz\r\n"),
            Parsed::Invalid(AnomalyKind::BadChunk)
        );
        assert_eq!(parse_trailers(b"\r\n"), Parsed::Complete((), 2));
        assert_eq!(
            parse_trailers(b"Expires: 0\r\n\r\n"),
            Parsed::Complete((), 14)
        );
    }
}
