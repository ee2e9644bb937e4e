//! Legacy pcap: the file header, then records of a 16-byte header (24 in
//! the "modified" format) and the captured bytes.
//! Format: draft-ietf-opsawg-pcap, sections 4 and 5.

use super::{Linktype, Step};
use crate::Ts;
use pcap_parser::nom;
use pcap_parser::{LegacyPcapBlock, PcapError};

pub fn is_magic(magic: &[u8]) -> bool {
    matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
    )
}

type FrameParser = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

pub struct State {
    parse: FrameParser,
    /// Record header size: 16, or 24 in the modified format.
    header: usize,
    big_endian: bool,
    nanos: bool,
    linktype: Linktype,
}

impl Default for State {
    fn default() -> State {
        State {
            parse: pcap_parser::parse_pcap_frame,
            header: 16,
            big_endian: false,
            nanos: false,
            linktype: Linktype(1),
        }
    }
}

impl State {
    /// Parses the 24-byte file header: `Ok(None)` when more bytes are needed.
    pub fn parse_header(i: &[u8]) -> Result<Option<(State, usize)>, &'static str> {
        match pcap_parser::parse_pcap_header(i) {
            Ok((rest, h)) => {
                let (parse, header): (FrameParser, usize) = if h.is_modified_format() {
                    (pcap_parser::parse_pcap_frame_modified, 24)
                } else if h.is_bigendian() {
                    (pcap_parser::parse_pcap_frame_be, 16)
                } else {
                    (pcap_parser::parse_pcap_frame, 16)
                };
                let state = State {
                    parse,
                    header,
                    big_endian: h.is_bigendian(),
                    nanos: h.is_nanosecond_precision(),
                    // The upper 16 bits may carry FCS flags (LT_LINKTYPE).
                    linktype: Linktype(h.network.0 as u32 & 0xffff),
                };
                Ok(Some((state, i.len() - rest.len())))
            }
            Err(nom::Err::Incomplete(_)) => Ok(None),
            Err(_) => Err("unsupported pcap variant (big-endian modified format)"),
        }
    }

    pub fn step(&mut self, i: &[u8]) -> Result<Step, &'static str> {
        if i.len() < self.header {
            return Ok(Step::NeedMore { need: self.header });
        }
        match (self.parse)(i) {
            Ok((rest, block)) => {
                // With nanosecond magic the field named ts_usec holds nanoseconds.
                let frac = if self.nanos {
                    block.ts_usec.min(999_999_999)
                } else {
                    block.ts_usec.min(999_999) * 1000
                };
                Ok(Step::Frame {
                    consumed: i.len() - rest.len(),
                    ts: Ts::from_secs_nanos(i64::from(block.ts_sec), frac),
                    linktype: self.linktype,
                    off: block.data.as_ptr() as usize - i.as_ptr() as usize,
                    len: block.data.len(),
                    orig_len: block.origlen,
                })
            }
            Err(nom::Err::Incomplete(_)) => {
                let caplen = i
                    .get(8..12)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(|b| {
                        if self.big_endian {
                            u32::from_be_bytes(b)
                        } else {
                            u32::from_le_bytes(b)
                        }
                    })
                    .unwrap_or(0);
                Ok(Step::NeedMore {
                    need: self.header.saturating_add(caplen as usize),
                })
            }
            Err(_) => Err("malformed pcap record header"),
        }
    }
}
