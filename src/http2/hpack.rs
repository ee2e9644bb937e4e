//! HPACK (RFC 7541) for one direction, through loona-hpack: decodes each
//! header block in order to keep the dynamic table in step, and keeps only
//! the fields the ledger needs. After any decoding error the table is
//! unknown, so every later block of the direction is refused rather than
//! decoded into garbage.

use std::borrow::Cow;

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 section 6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;
/// Largest dynamic table accepted, whatever a peer advertises: bounds the
/// memory one decoder can hold.
pub const TABLE_CAP: usize = 64 * 1024;

/// Longest `:path` kept. A dynamic-table entry of up to [`TABLE_CAP`]
/// bytes can be repeated by a one-byte reference in every block, so what a
/// request keeps must not grow with the entry: longer values are cut (and
/// the block marked [`Fields::truncated`]).
pub const FIELD_CAP: usize = 2048;
/// Longest `:method`, `:scheme`, `:authority` or `host` kept: a host name
/// is at most 255 bytes (RFC 1035 section 2.3.4), with room for a port.
pub const SHORT_FIELD_CAP: usize = 264;

/// The request and response fields kept from a header block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    /// The `host` field, which stands in for a missing `:authority`
    /// (RFC 9113 section 8.3.1).
    pub host: Option<String>,
    /// A kept value was longer than [`FIELD_CAP`] and was cut.
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// This block did not decode (loona-hpack's error is not kept: the
    /// anomaly is the same whatever the cause).
    Invalid,
    /// An earlier block failed or was lost: the table is unknown.
    Unknown,
}

pub struct Decoder {
    inner: loona_hpack::Decoder<'static>,
    /// The largest table size the receiving side has allowed.
    allowed: usize,
    lost: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("allowed", &self.allowed)
            .field("lost", &self.lost)
            .finish()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        let mut inner = loona_hpack::Decoder::new();
        inner.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
        Decoder {
            inner,
            allowed: DEFAULT_TABLE_SIZE,
            lost: false,
        }
    }
}

impl Decoder {
    /// The receiving side advertised SETTINGS_HEADER_TABLE_SIZE `size`: the
    /// encoder may then send dynamic table size updates up to it (RFC 7541
    /// section 4.2). The largest value seen so far is kept, since a passive
    /// observer cannot tell when the encoder saw the acknowledgement.
    pub fn allow_table_size(&mut self, size: u32) {
        let size = (size as usize).min(TABLE_CAP);
        if size > self.allowed {
            self.allowed = size;
            self.inner.set_max_allowed_table_size(size);
        }
    }

    /// A block of this direction was lost: the table is unknown from now on.
    pub fn lose(&mut self) {
        self.lost = true;
    }

    /// Decodes one complete header block (RFC 7541 section 3).
    pub fn decode(&mut self, block: &[u8]) -> Result<Fields, Error> {
        if self.lost {
            return Err(Error::Unknown);
        }
        let mut f = Fields::default();
        let result = self
            .inner
            .decode_with_cb(block, |name, value| keep(&mut f, &name, value));
        match result {
            Ok(()) => Ok(f),
            Err(_) => {
                self.lost = true;
                Err(Error::Invalid)
            }
        }
    }

    /// A decoder whose dynamic table already has size `size`, as the
    /// examples of RFC 7541 Appendix C.5 and C.6 assume.
    #[cfg(test)]
    pub fn with_table_size(size: usize) -> Decoder {
        let mut d = Decoder::default();
        d.allow_table_size(size as u32);
        d.inner.set_max_table_size(size.min(d.allowed));
        d
    }

    /// The dynamic table's entries, newest first, read back through indexed
    /// field representations (RFC 7541 section 6.1), which leave it unchanged.
    #[cfg(test)]
    pub fn table(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for index in 62usize.. {
            // An index below 127 fits the 7-bit prefix; tests never go past it.
            let Ok(byte) = u8::try_from(0x80 | index) else {
                break;
            };
            match self.inner.decode(&[byte]) {
                Ok(mut fields) if fields.len() == 1 => out.extend(fields.pop()),
                _ => break,
            }
        }
        out
    }
}

/// At most `cap` bytes of `v` as text; sets `truncated` when cut.
fn text(v: &[u8], cap: usize, truncated: &mut bool) -> String {
    let kept = v.get(..cap).unwrap_or(v);
    *truncated |= kept.len() < v.len();
    String::from_utf8_lossy(kept).into_owned()
}

/// Keeps the fields the ledger needs. Each is kept once, from its first
/// occurrence: a pseudo-header field appears at most once in a valid block
/// (RFC 9113 section 8.3), and copying a repeated one again and again
/// would cost time in proportion to the entry each one-byte reference
/// names.
fn keep(f: &mut Fields, name: &[u8], value: Cow<'_, [u8]>) {
    let (slot, cap) = match name {
        b":method" => (&mut f.method, SHORT_FIELD_CAP),
        b":scheme" => (&mut f.scheme, SHORT_FIELD_CAP),
        b":authority" => (&mut f.authority, SHORT_FIELD_CAP),
        b":path" => (&mut f.path, FIELD_CAP),
        b"host" => (&mut f.host, SHORT_FIELD_CAP),
        // RFC 9113 section 8.3.2: a three-digit status code.
        b":status" => {
            if f.status.is_none() {
                f.status = std::str::from_utf8(&value)
                    .ok()
                    .filter(|s| s.len() == 3)
                    .and_then(|s| s.parse().ok());
            }
            return;
        }
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(text(&value, cap, &mut f.truncated));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! RFC 7541 Appendix C: each block is decoded in sequence by one decoder,
    //! and the fields and the dynamic table (entries and size) compared with
    //! the listing printed after it in the RFC.
    use super::*;

    fn lossy(v: &[u8]) -> String {
        String::from_utf8_lossy(v).into_owned()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Decodes `block` with the raw decoder (all fields, in order).
    fn all(d: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        d.inner
            .decode(block)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (lossy(&n), lossy(&v)))
            .collect()
    }

    fn table(d: &mut Decoder) -> (Vec<(String, String)>, usize) {
        let t: Vec<_> = d
            .table()
            .into_iter()
            .map(|(n, v)| (lossy(&n), lossy(&v)))
            .collect();
        // RFC 7541 section 4.1: an entry's size is name + value + 32.
        let size = t.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        (t, size)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    struct Step {
        block: &'static str,
        fields: &'static [(&'static str, &'static str)],
        table: &'static [(&'static str, &'static str)],
        size: usize,
    }

    fn check(mut d: Decoder, steps: &[Step]) {
        for (i, s) in steps.iter().enumerate() {
            assert_eq!(
                all(&mut d, &hex(s.block)),
                pairs(s.fields),
                "step {i} fields"
            );
            let (t, size) = table(&mut d);
            assert_eq!(t, pairs(s.table), "step {i} table");
            assert_eq!(size, s.size, "step {i} size");
        }
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
    const T2: &[(&str, &str)] = &[
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ];
    const T3: &[(&str, &str)] = &[
        ("custom-key", "custom-value"),
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ];

    /// C.3: requests without Huffman coding.
    #[test]
    fn rfc7541_c3_requests() {
        check(
            Decoder::default(),
            &[
                Step {
                    block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    fields: REQ1,
                    table: T1,
                    size: 57,
                },
                Step {
                    block: "8286 84be 5808 6e6f 2d63 6163 6865",
                    fields: REQ2,
                    table: T2,
                    size: 110,
                },
                Step {
                    block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    fields: REQ3,
                    table: T3,
                    size: 164,
                },
            ],
        );
    }

    /// C.4: the same requests with Huffman coding.
    #[test]
    fn rfc7541_c4_requests_huffman() {
        check(
            Decoder::default(),
            &[
                Step {
                    block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                    fields: REQ1,
                    table: T1,
                    size: 57,
                },
                Step {
                    block: "8286 84be 5886 a8eb 1064 9cbf",
                    fields: REQ2,
                    table: T2,
                    size: 110,
                },
                Step {
                    block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    fields: REQ3,
                    table: T3,
                    size: 164,
                },
            ],
        );
    }

    const RESP1: &[(&str, &str)] = &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP2: &[(&str, &str)] = &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    const RT1: &[(&str, &str)] = &[
        ("location", "https://www.example.com"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("cache-control", "private"),
        (":status", "302"),
    ];
    const RT2: &[(&str, &str)] = &[
        (":status", "307"),
        ("location", "https://www.example.com"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("cache-control", "private"),
    ];
    const RT3: &[(&str, &str)] = &[
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
        ("content-encoding", "gzip"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ];

    /// C.5: responses without Huffman coding, dynamic table of 256 octets
    /// (evictions at the second and third response).
    #[test]
    fn rfc7541_c5_responses() {
        check(
            Decoder::with_table_size(256),
            &[
                Step {
                    block: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    fields: RESP1,
                    table: RT1,
                    size: 222,
                },
                Step {
                    block: "4803 3330 37c1 c0bf",
                    fields: RESP2,
                    table: RT2,
                    size: 222,
                },
                Step {
                    block: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
                    fields: RESP3,
                    table: RT3,
                    size: 215,
                },
            ],
        );
    }

    /// C.6: the same responses with Huffman coding.
    #[test]
    fn rfc7541_c6_responses_huffman() {
        check(
            Decoder::with_table_size(256),
            &[
                Step {
                    block: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    fields: RESP1,
                    table: RT1,
                    size: 222,
                },
                Step {
                    block: "4883 640e ffc1 c0bf",
                    fields: RESP2,
                    table: RT2,
                    size: 222,
                },
                Step {
                    block: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    fields: RESP3,
                    table: RT3,
                    size: 215,
                },
            ],
        );
    }

    #[test]
    fn wrapper_keeps_request_fields() {
        let mut d = Decoder::default();
        let f = d.decode(&hex("8287 85bf")).err();
        // 0xbf refers to dynamic index 62, absent in a fresh table.
        assert_eq!(f, Some(Error::Invalid));
        assert_eq!(d.decode(&hex("82")), Err(Error::Unknown));

        let mut d = Decoder::default();
        let f = d
            .decode(&hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))
            .unwrap();
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert_eq!(f.scheme.as_deref(), Some("http"));
        assert_eq!(f.path.as_deref(), Some("/"));
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        // Static index 8 is `:status: 200` (RFC 7541 Appendix A).
        assert_eq!(d.decode(&hex("88")).unwrap().status, Some(200));
    }

    #[test]
    fn table_size_updates_are_bounded_by_settings() {
        // A dynamic table size update to 8192 (RFC 7541 section 6.3:
        // 001 + 5-bit prefix integer: 3f e1 3f) followed by an indexed field.
        let update = hex("3fe13f 82");
        let mut d = Decoder::default();
        assert_eq!(d.decode(&update), Err(Error::Invalid));
        let mut d = Decoder::default();
        d.allow_table_size(8192);
        assert!(d.decode(&update).is_ok());
        // Above the cap, whatever the peer allowed.
        let mut d = Decoder::default();
        d.allow_table_size(u32::MAX);
        let mut big = vec![0x3f];
        let mut v = TABLE_CAP + 1 - 31;
        while v >= 128 {
            big.push((v % 128) as u8 | 0x80);
            v /= 128;
        }
        big.push(v as u8);
        big.push(0x82);
        assert_eq!(d.decode(&big), Err(Error::Invalid));
    }

    /// One 60 000-byte `:path` entered in a 64 KiB dynamic table, then a
    /// block of 100 000 one-byte references to it (RFC 7541 section 6.1,
    /// index 62 = the newest dynamic entry): the request keeps
    /// FIELD_CAP bytes, once, and says it was cut.
    #[test]
    fn a_long_entry_referenced_again_and_again_is_kept_once_and_cut() {
        let mut d = Decoder::default();
        d.allow_table_size(TABLE_CAP as u32);
        // A dynamic table size update to 65 536 (section 6.3: 31, then
        // 65 505 in 7-bit groups), then a literal with incremental
        // indexing, name :path (static index 4), value of 60 000 bytes:
        // 0x7f then 60000 - 127 in 7-bit groups.
        let mut first = vec![0x3f, 0xe1, 0xff, 0x03, 0x44, 0x7f];
        let mut rest = 60_000 - 127;
        while rest >= 0x80 {
            first.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        first.push(rest as u8);
        first.resize(first.len() + 60_000, b'a');
        let f = d.decode(&first).unwrap();
        assert_eq!(f.path.as_deref().map(str::len), Some(FIELD_CAP));
        assert!(f.truncated);
        let started = std::time::Instant::now();
        let f = d.decode(&[0xbe; 100_000]).unwrap();
        assert_eq!(f.path.as_deref().map(str::len), Some(FIELD_CAP));
        assert!(f.truncated);
        // A copy per reference would be 6 GB of copying for this block.
        assert!(started.elapsed().as_secs() < 10);
        // Short values are kept whole.
        let f = d
            .decode(&hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))
            .unwrap();
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        assert!(!f.truncated);
        // An authority is cut shorter: literal without indexing, name
        // :authority (static index 1), 300 bytes (0x7f, then 173).
        let mut long = vec![0x01, 0x7f, 0xad, 0x01];
        long.resize(long.len() + 300, b'h');
        let f = d.decode(&long).unwrap();
        assert_eq!(f.authority.as_deref().map(str::len), Some(SHORT_FIELD_CAP));
        assert!(f.truncated);
    }
}
