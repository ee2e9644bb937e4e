//! Writes the fuzz targets' seed corpora from the repository's test data:
//! `seeds OUT DIR...` reads every capture and key log under the DIRs and
//! fills OUT/<target>/ (OUT is normally fuzz/corpus, which git ignores).
//!
//! - capture, pipeline: the capture files as they are;
//! - keylog: the key logs;
//! - tls, http1, http2: each TCP connection of each capture, rebuilt by
//!   connreuse's own flow layer, written as the operations the stream
//!   targets read (`connreuse_fuzz::ops`), sorted by what its client sent
//!   first;
//! - decrypt: one sealed and one raw record for every suite and version;
//! - http1, http2 again: the TLS connections whose key log is at hand
//!   (`NAME.keys` beside the capture, or its Decryption Secrets Blocks),
//!   decrypted, as their HTTP would reach the parsers.

use connreuse::capture::Reader;
use connreuse::decode::{self, Decoded};
use connreuse::flow::{Analyzer, Table};
use connreuse::keys::{DecryptError, Decryptor, KeyLog, Secrets};
use connreuse::ledger::Close;
use connreuse::tls::TlsSession;
use connreuse::{At, Side, http1, http2, tls};
use connreuse_fuzz::{Op, encode, ops};
use std::path::{Path, PathBuf};

/// Seeds longer than this are cut: libFuzzer works best on small inputs.
const MAX_SEED: usize = 256 * 1024;
/// Captures larger than this are not copied whole (their connections are).
const MAX_CAPTURE: u64 = 256 << 10;
/// Connections kept per capture and target, so that a large capture does
/// not drown the others.
const PER_CAPTURE: usize = 8;

#[derive(Default)]
struct Recorder {
    ops: Vec<u8>,
    client_head: Vec<u8>,
}

impl Analyzer for Recorder {
    fn on_data(&mut self, side: Side, data: &[u8], _at: At) {
        if side == Side::Client && self.client_head.len() < http2::PREFACE.len() {
            let room = http2::PREFACE.len() - self.client_head.len();
            self.client_head
                .extend_from_slice(&data[..room.min(data.len())]);
        }
        if self.ops.len() < MAX_SEED {
            encode(&Op::Data(side, data), &mut self.ops);
        }
    }

    fn on_gap(&mut self, side: Side, len: u64, _at: At) {
        if self.ops.len() < MAX_SEED {
            encode(&Op::Gap(side, len), &mut self.ops);
        }
    }

    fn on_close(&mut self, closer: Option<(Side, Close)>, _at: At) {
        encode(&Op::Close(closer), &mut self.ops);
    }
}

fn files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("{}: not a readable directory, skipped", dir.display());
            continue;
        };
        out.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
    }
    out.sort();
    out
}

fn write(out: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn is_capture(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap", ".zst"]
        .iter()
        .any(|e| name.ends_with(e))
}

fn streams(path: &Path, out: &Path) -> usize {
    let Ok(mut reader) = Reader::open(path) else {
        return 0;
    };
    let mut table = Table::new(Recorder::default);
    while let Ok(Some(frame)) = reader.next_frame() {
        let at = At {
            packet: frame.index,
            ts: frame.ts,
        };
        if let Decoded::Tcp(seg) = decode::decode(frame.linktype, frame.data) {
            table.segment(&seg, at);
        }
    }
    table.finish_all();
    let mut log_text = reader.take_secrets();
    if let Ok(text) = std::fs::read(path.with_extension("keys")) {
        log_text.extend_from_slice(&text);
    }
    let (keys, _) = KeyLog::parse(&log_text);
    let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let mut n = 0;
    let mut kept = std::collections::HashMap::new();
    for (i, rec) in table.take_finished().map(|f| f.app).enumerate() {
        let head = rec.client_head.as_slice();
        let target = if tls::looks_like_tls(head) == Some(true) {
            "tls"
        } else if http2::is_h2_preface(head) == Some(true) {
            "http2"
        } else if http1::looks_like_http1_request(head) == Some(true) {
            "http1"
        } else {
            continue;
        };
        let count = kept.entry(target).or_insert(0);
        *count += 1;
        if *count > PER_CAPTURE {
            continue;
        }
        write(out, target, &format!("{stem}.{i}"), &rec.ops);
        n += 1;
        if target == "tls"
            && !keys.is_empty()
            && let Some((plain, head)) = decrypted(&rec.ops, &keys)
        {
            let target = if http2::is_h2_preface(&head) == Some(true) {
                "http2"
            } else {
                "http1"
            };
            write(out, target, &format!("{stem}.{i}.decrypted"), &plain);
            n += 1;
        }
    }
    n
}

/// One side's decryption: records framed from its stream, opened with the
/// handshake keys and then the application keys (TLS 1.3, switching when
/// the first fails), or the key block after its ChangeCipherSpec (TLS 1.2,
/// encrypt_then_mac guessed from the first record).
struct SideDecrypt {
    buf: Vec<u8>,
    keys: Vec<Decryptor>,
    ccs: bool,
}

struct Handshake<'a> {
    suite: u16,
    version: u16,
    client_random: [u8; 32],
    server_random: [u8; 32],
    secrets: &'a Secrets,
}

impl SideDecrypt {
    fn new(h: &Handshake<'_>, side: Side) -> SideDecrypt {
        let mut keys = Vec::new();
        if h.version == connreuse::keys::TLS13 {
            for secret in [
                h.secrets.handshake_secret(side),
                h.secrets.application_secret(side),
            ]
            .into_iter()
            .flatten()
            {
                keys.extend(Decryptor::tls13(h.suite, secret.as_bytes()).ok());
            }
        } else if let Some(master) = h.secrets.master_secret() {
            for etm in [true, false] {
                keys.extend(
                    Decryptor::tls12(
                        h.suite,
                        h.version,
                        master,
                        &h.client_random,
                        &h.server_random,
                        side,
                        etm,
                    )
                    .ok(),
                );
            }
        }
        SideDecrypt {
            buf: Vec::new(),
            keys,
            ccs: false,
        }
    }

    /// The application data in the records completed by `data`.
    fn feed(&mut self, data: &[u8], tls13: bool) -> Vec<u8> {
        self.buf.extend_from_slice(data);
        let mut plain = Vec::new();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(header) = self.buf.get(at..at + 5) {
            let header: [u8; 5] = header.try_into().unwrap_or_default();
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            let Some(fragment) = self.buf.get(at + 5..at + 5 + len) else {
                break;
            };
            at += 5 + len;
            let protected = if tls13 {
                header[0] == 23
            } else {
                if header[0] == 20 {
                    self.ccs = true;
                }
                self.ccs && header[0] != 20
            };
            if !protected {
                continue;
            }
            while let Some(dec) = self.keys.first_mut() {
                match dec.open(&header, fragment, &mut out) {
                    Ok((23, p)) => {
                        plain.extend_from_slice(p);
                        break;
                    }
                    Ok(_) => break,
                    Err(DecryptError::AuthenticationFailed { .. }) if self.keys.len() > 1 => {
                        self.keys.remove(0);
                    }
                    Err(_) => break,
                }
            }
        }
        self.buf.drain(..at);
        plain
    }
}

/// The operations of a recorded TLS connection with every protected
/// record replaced by its plaintext, and the client's first plaintext
/// bytes; None without keys for it or when nothing opened.
fn decrypted(recorded: &[u8], keys: &KeyLog) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut session = TlsSession::new();
    for (op, at) in ops(recorded) {
        match op {
            Op::Data(side, bytes) => session.on_data(side, bytes, at),
            Op::Gap(side, len) => session.on_gap(side, len),
            Op::Close(_) | Op::Toggle => {}
        }
    }
    let first = session.handshakes().first()?;
    let h = Handshake {
        suite: first.cipher_suite()?,
        version: first.version?,
        client_random: *first.client_random()?,
        server_random: *first.server_random()?,
        secrets: keys.secrets_for(first.client_random()?)?,
    };
    let tls13 = h.version == connreuse::keys::TLS13;
    let mut sides = [
        SideDecrypt::new(&h, Side::Client),
        SideDecrypt::new(&h, Side::Server),
    ];
    let (mut out, mut head) = (Vec::new(), Vec::new());
    for (op, _) in ops(recorded) {
        match op {
            Op::Data(side, bytes) => {
                let i = usize::from(side == Side::Server);
                let plain = sides[i].feed(bytes, tls13);
                if side == Side::Client && head.len() < 24 {
                    head.extend_from_slice(&plain[..plain.len().min(24 - head.len())]);
                }
                if !plain.is_empty() {
                    encode(&Op::Data(side, &plain), &mut out);
                }
            }
            // Framing is lost after a gap: the rest is not decrypted.
            Op::Gap(..) => break,
            Op::Close(closer) => encode(&Op::Close(closer), &mut out),
            Op::Toggle => {}
        }
    }
    (!head.is_empty()).then_some((out, head))
}

fn decrypt_seeds(out: &Path) {
    for selector in 0u8..41 {
        for flags in [0u8, 2, 5, 8 | 2, 1, 6] {
            let mut seed = vec![selector, flags];
            // Sealed: content type 23, no padding, "GET / HTTP/1.1\r\n".
            let plain = b"GET / HTTP/1.1\r\n";
            seed.extend_from_slice(&[3, 23, 0, 0, plain.len() as u8]);
            seed.extend_from_slice(plain);
            // As it comes: 48 bytes of fragment.
            seed.extend_from_slice(&[0, 23, 0, 48]);
            seed.extend_from_slice(&[0xa5; 48]);
            // KeyUpdate, then sealed again.
            seed.extend_from_slice(&[4, 3, 22, 3, 0, 4, 24, 0, 0, 1]);
            write(out, "decrypt", &format!("suite-{selector}-{flags}"), &seed);
        }
    }
}

/// Frames one HTTP/2 frame (RFC 9113 section 4.1).
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap_or("00"), 16).unwrap_or(0))
        .collect()
}

/// Exchanges the test captures lack: HTTP/1 framings and switches, and an
/// HTTP/2 exchange whose header blocks are RFC 7541's examples C.4.1 and
/// C.6.1 (Huffman-coded request and response).
fn http_seeds(out: &Path) {
    let h1: [(&str, &[u8], &[u8]); 5] = [
        (
            "chunked-pipelined",
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nTrailer: z\r\n\r\n",
        ),
        (
            "upgrade-h2c",
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        ),
        (
            "connect",
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello",
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi",
        ),
        (
            "head-close",
            b"HEAD / HTTP/1.0\r\n\r\nGET /x HTTP/1.0\r\nConnection: close\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody until close",
        ),
        (
            "response-first",
            b"",
            b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
        ),
    ];
    for (name, client, server) in h1 {
        let mut seed = Vec::new();
        for (i, chunk) in client.chunks(17).enumerate() {
            encode(&Op::Data(Side::Client, chunk), &mut seed);
            if i == 1 {
                encode(&Op::Data(Side::Server, server), &mut seed);
            }
        }
        if client.len() <= 17 {
            encode(&Op::Data(Side::Server, server), &mut seed);
        }
        encode(&Op::Close(Some((Side::Server, Close::Fin))), &mut seed);
        write(out, "http1", name, &seed);
    }
    let mut client = http2::PREFACE.to_vec();
    client.extend(frame(4, 0, 0, &hex("000300000064 000400010000")));
    client.extend(frame(
        1,
        5,
        1,
        &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
    ));
    client.extend(frame(8, 0, 0, &[0, 0, 0x10, 0]));
    let mut server = frame(4, 0, 0, &hex("000500004000"));
    server.extend(frame(4, 1, 0, &[]));
    server.extend(frame(
        1,
        4,
        1,
        &hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
    ));
    server.extend(frame(0, 1, 1, b"<html></html>"));
    server.extend(frame(3, 0, 3, &[0, 0, 0, 8]));
    server.extend(frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]));
    let mut seed = Vec::new();
    encode(&Op::Data(Side::Client, &client), &mut seed);
    encode(&Op::Data(Side::Server, &server), &mut seed);
    encode(&Op::Close(Some((Side::Client, Close::Fin))), &mut seed);
    write(out, "http2", "rfc7541-c4-c6", &seed);
}

/// Seeds for the `hpack` target: RFC 7541 Appendix C's sequences of
/// header blocks (C.3 and C.4 with a 4096-octet table, C.5 and C.6 with
/// 256), in its format: the table size over 16 in two bytes, then each
/// block behind its two-byte length.
fn hpack_seeds(out: &Path) {
    let sequences: [(&str, u16, [&str; 3]); 4] = [
        (
            "rfc7541-c3",
            4096,
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
        ),
        (
            "rfc7541-c4",
            4096,
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ),
        (
            "rfc7541-c5",
            256,
            [
                "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "4803 3330 37c1 c0bf",
                "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
            ],
        ),
        (
            "rfc7541-c6",
            256,
            [
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                "4883 640e ffc1 c0bf",
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ],
        ),
    ];
    for (name, table, blocks) in sequences {
        let mut seed = (table / 16).to_be_bytes().to_vec();
        for block in blocks {
            let block = hex(block);
            seed.extend_from_slice(&(block.len() as u16).to_be_bytes());
            seed.extend_from_slice(&block);
        }
        write(out, "hpack", name, &seed);
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((out, dirs)) = args.split_first() else {
        eprintln!("usage: seeds OUT DIR...");
        std::process::exit(2);
    };
    let (mut captures, mut logs, mut conns) = (0, 0, 0);
    for path in files(dirs) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
        if is_capture(&path) {
            if std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_CAPTURE) {
                let bytes = std::fs::read(&path).expect("readable capture");
                write(out, "capture", name, &bytes);
                write(out, "pipeline", name, &bytes);
                captures += 1;
            }
            conns += streams(&path, out);
        } else if name.ends_with(".keys") {
            let bytes = std::fs::read(&path).expect("readable key log");
            write(out, "keylog", name, &bytes);
            logs += 1;
        }
    }
    decrypt_seeds(out);
    http_seeds(out);
    hpack_seeds(out);
    eprintln!("{captures} captures, {logs} key logs, {conns} connections");
}
