//! Instruction-count probe for the per-handshake TLS work: parses a real
//! ClientHello (and ServerHello) N times, for callgrind to count.
//!
//!   cargo build --release --example hello_cost
//!   valgrind --tool=callgrind target/release/examples/hello_cost MODE N
//!
//! Run it with N = 1 and N = 1001: the difference divided by 1000 is the
//! cost of one iteration, without process start-up. MODE is
//!
//! - `client`: a fresh `TlsSession` fed the ClientHello record (tls-parser,
//!   the hello facts, JA3 and JA4, the session's bookkeeping);
//! - `handshake`: the same, then the server's ServerHello, Certificate,
//!   ServerKeyExchange and ServerHelloDone;
//! - `fingerprint`: only `ja3` and `ja4` over the fields of that ClientHello.
//!
//! Repeating one hello measures the case of a client seen again, which the
//! fingerprint memo answers. `client-miss` and `fingerprint-miss` change the
//! first cipher suite and the first signature algorithm in every iteration
//! (0x1000 + i % 2560, never GREASE) so that JA3 and both JA4 hashes are
//! computed each time.
//!
//! Measured (callgrind 3.19, release build, instructions per iteration):
//!
//! | mode             | format!-based | no `core::fmt` | + memo | + read in place |
//! |------------------|--------------:|---------------:|-------:|----------------:|
//! | client           |       114 175 |         58 932 | 10 960 |           5 865 |
//! | client-miss      |       114 119 |         58 864 | 59 729 |          56 025 |
//! | handshake        |       116 925 |         61 694 | 13 710 |           8 241 |
//! | fingerprint      |       105 059 |         50 143 |  2 171 |           1 952 |
//! | fingerprint-miss |       104 999 |         50 059 | 50 815 |          52 038 |
//!
//! "Read in place": the hello's fields and the extensions its facts come
//! from read without tls-parser's vectors, and the SNI, ALPN and JA3/JA4
//! texts shared with recent hellos (docs/TLS.md, *Facts*); a miss now also
//! looks among the recent texts before making its own.
//!
//! Valgrind hides the CPU's SHA extensions, so under callgrind sha2 takes
//! its software SHA-256 (about 3 360 instructions per 64-byte block, 8
//! blocks per curl ClientHello: 26 900 of the miss figures). Natively, on
//! a CPU with `sha_ni`, sha2 0.11 selects its SHA-NI code (164
//! instructions per block): a miss costs about 25 600 instructions less
//! than shown. MD5 (md-5 0.11, software only) is about 4 750.
//!
//! The bytes are those of the unit tests: 443-curl.pcap (nDPI test corpus),
//! TCP 192.168.1.13:55523 -> 178.62.197.130:443, the ClientHello of frame 4
//! (TLS 1.2, 67 cipher suites, 7 extensions, 174 bytes of padding restored
//! as zeros) and the ServerHello record of frame 6.

use connreuse::tls::TlsSession;
use connreuse::tls::fingerprint::{self, HelloFields};
use connreuse::{At, Side, Ts};
use std::hint::black_box;
use tls_parser::{
    TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_client_hello_extension,
    parse_tls_plaintext,
};

const CURL_CH: &str = "1603010200010001fc03033e3841edcc20f6d0e5f7167ab7ee91a800c8ef70c2d624c7c7943a24026d9fbc000086cc14cc13cc15c030c02cc028c024c014c00a00a3009f006b006a00390038ff8500c400c3008800870081c032c02ec02ac026c00fc005009d003d003500c00084c02fc02bc027c023c013c00900a2009e006700400033003200be00bd00450044c031c02dc029c025c00ec004009c003c002f00ba0041c012c00800160013c00dc003000a00ff0100014d00000011000f00000c7777772e6e746f702e6f7267000b000403000102000a003a0038000e000d0019001c000b000c001b00180009000a001a00160017000800060007001400150004000500120013000100020003000f00100011000d00260024060106020603efef050105020503040104020403eeeeeded030103020303020102020203337400000010000e000c02683208687474702f312e31001500ae";
const CURL_SH: &str = "16030300660200006203038f72dd2e35dcf5ddf38ae75db855d1610b4db32937cb20cd3187eec12057fb2520ea8fcd1da8f8635bd5df2a45b603764dd7cfb5f82666ff77fd47635bf9a8f0cbc02f00001aff0100010000000000000b000403000102001000050003026832";
/// tshark 4.0.17 `tls.handshake.ja3` of frame 4, and nDPI's
/// 443-curl.pcap.out JA4, as the unit tests pin them.
const JA3: &str = "2a26b1a62e40d25d4de3babc9d532f30";
const JA4: &str = "t12d6707h2_2955a3196ffa_c83f907a73d3";
/// Certificate (empty chain), ServerKeyExchange (3 bytes) and
/// ServerHelloDone in one record, standing in for frames 7-8.
const SERVER_REST: &str = "1603030012 0b00000300000000 0c0000030300170e000000";

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks_exact(2)
        .map(|p| {
            let d = |c: u8| char::from(c).to_digit(16).unwrap_or(0) as u8;
            match p {
                [a, b] => (d(*a) << 4) | d(*b),
                _ => 0,
            }
        })
        .collect()
}

fn at(packet: u64) -> At {
    At {
        packet,
        ts: Ts(packet as i64 * 1_000_000),
    }
}

/// The ClientHello's fingerprint fields, read with tls-parser.
struct Fields {
    version: u16,
    ciphers: Vec<u16>,
    extensions: Vec<u16>,
    groups: Vec<u16>,
    point_formats: Vec<u8>,
    supported_versions: Vec<u16>,
    sig_algs: Vec<u16>,
    first_alpn: Option<Vec<u8>>,
}

impl Fields {
    fn hello_fields(&self) -> HelloFields<'_> {
        HelloFields {
            legacy_version: self.version,
            ciphers: &self.ciphers,
            extensions: &self.extensions,
            groups: &self.groups,
            point_formats: &self.point_formats,
            supported_versions: &self.supported_versions,
            sig_algs: &self.sig_algs,
            first_alpn: self.first_alpn.as_deref(),
        }
    }
}

fn fields(record: &[u8]) -> Fields {
    let (_, plain) = parse_tls_plaintext(record).expect("a TLS record");
    let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))) = plain.msg.first()
    else {
        panic!("not a ClientHello");
    };
    let mut f = Fields {
        version: ch.version.0,
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        extensions: Vec::new(),
        groups: Vec::new(),
        point_formats: Vec::new(),
        supported_versions: Vec::new(),
        sig_algs: Vec::new(),
        first_alpn: None,
    };
    let mut rest = ch.ext.unwrap_or_default();
    while let [t0, t1, l0, l1, ..] = *rest {
        let (whole, tail) = rest.split_at(4 + usize::from(u16::from_be_bytes([l0, l1])));
        rest = tail;
        f.extensions.push(u16::from_be_bytes([t0, t1]));
        match parse_tls_client_hello_extension(whole) {
            Ok((_, TlsExtension::EllipticCurves(g))) => f.groups = g.iter().map(|g| g.0).collect(),
            Ok((_, TlsExtension::EcPointFormats(p))) => f.point_formats = p.to_vec(),
            Ok((_, TlsExtension::SupportedVersions(v))) => {
                f.supported_versions = v.iter().map(|v| v.0).collect()
            }
            Ok((_, TlsExtension::SignatureAlgorithms(s))) => f.sig_algs = s,
            Ok((_, TlsExtension::ALPN(l))) => f.first_alpn = l.first().map(|p| p.to_vec()),
            _ => {}
        }
    }
    f
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "client".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut ch = unhex(CURL_CH);
    ch.resize(517, 0);
    let mut flight = unhex(CURL_SH);
    flight.extend(unhex(SERVER_REST));

    // Offsets of the first cipher suite (after the record and handshake
    // headers, version, random, empty session id and the list length) and
    // of the first signature algorithm (after `000d 0026 0024`).
    let first_cipher = 5 + 4 + 2 + 32 + 1 + 2;
    let first_sig = ch
        .windows(6)
        .position(|w| w == [0x00, 0x0d, 0x00, 0x26, 0x00, 0x24])
        .expect("signature_algorithms")
        + 6;
    let miss = mode.ends_with("-miss");
    let distinct = |i: u64| 0x1000 + (i % 2560) as u16;

    let mut total = 0usize;
    let base = mode.trim_end_matches("-miss");
    match base {
        "client" | "handshake" => {
            for i in 0..n {
                if miss {
                    let v = distinct(i).to_be_bytes();
                    ch[first_cipher..first_cipher + 2].copy_from_slice(&v);
                    ch[first_sig..first_sig + 2].copy_from_slice(&v);
                }
                let mut s = TlsSession::new();
                s.on_data(Side::Client, black_box(&ch), at(1));
                if base == "handshake" {
                    s.on_data(Side::Server, black_box(&flight), at(2));
                }
                total += black_box(s.handshakes()).len();
            }
            if !miss {
                let mut s = TlsSession::new();
                s.on_data(Side::Client, &ch, at(1));
                let summary = s.summary();
                assert_eq!(summary.ja3.as_deref(), Some(JA3));
                assert_eq!(summary.ja4.as_deref(), Some(JA4));
            }
        }
        "fingerprint" => {
            let mut f = fields(&ch);
            let (cipher, sig) = (f.ciphers[0], f.sig_algs[0]);
            for i in 0..n {
                if miss {
                    (f.ciphers[0], f.sig_algs[0]) = (distinct(i), distinct(i));
                }
                let hf = f.hello_fields();
                let hf = black_box(&hf);
                total += fingerprint::ja3(hf).len() + fingerprint::ja4(hf).len();
            }
            (f.ciphers[0], f.sig_algs[0]) = (cipher, sig);
            let hf = f.hello_fields();
            assert_eq!(&*fingerprint::ja3(&hf), "2a26b1a62e40d25d4de3babc9d532f30");
            assert_eq!(
                &*fingerprint::ja4(&hf),
                "t12d6707h2_2955a3196ffa_c83f907a73d3"
            );
        }
        other => panic!("unknown mode {other}: client, handshake or fingerprint, -miss"),
    }
    #[cfg(target_arch = "x86_64")]
    let sha_ni = std::arch::is_x86_feature_detected!("sha");
    #[cfg(not(target_arch = "x86_64"))]
    let sha_ni = false;
    println!("{mode} x{n}: {total}; SHA-NI detected: {sha_ni}");
}
