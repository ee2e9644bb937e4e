//! Legacy pcap: the file header, then records of a 16-byte header (24 in
//! the "modified" format) and the captured bytes.
//! Format: draft-ietf-opsawg-pcap, sections 4 and 5.

use super::{Linktype, Step};
use crate::Ts;
use pcap_parser::nom;
#[cfg(test)]
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

#[cfg(test)]
type FrameParser = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

pub struct State {
    /// Record header size: 16, or 24 in the modified format.
    header: usize,
    big_endian: bool,
    nanos: bool,
    linktype: Linktype,
}

impl Default for State {
    fn default() -> State {
        State {
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
                let header = if h.is_modified_format() { 24 } else { 16 };
                let state = State {
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

    /// One record: its header (RFC draft section 5: seconds, fraction,
    /// captured length, original length, in the file's byte order; 8 more
    /// bytes in the modified format), then the captured bytes. Read here
    /// rather than through pcap-parser's per-record functions, which do the
    /// same behind an indirect call; the tests hold the two equal.
    #[inline]
    pub fn step(&mut self, i: &[u8]) -> Result<Step, &'static str> {
        let (
            Some(
                &[
                    s0,
                    s1,
                    s2,
                    s3,
                    f0,
                    f1,
                    f2,
                    f3,
                    c0,
                    c1,
                    c2,
                    c3,
                    o0,
                    o1,
                    o2,
                    o3,
                ],
            ),
            true,
        ) = (i.get(..16), i.len() >= self.header)
        else {
            return Ok(Step::NeedMore { need: self.header });
        };
        let word = |b: [u8; 4]| {
            if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = word([c0, c1, c2, c3]) as usize;
        let need = self.header.saturating_add(caplen);
        if i.len() < need {
            return Ok(Step::NeedMore { need });
        }
        let fraction = word([f0, f1, f2, f3]);
        // With nanosecond magic the fraction holds nanoseconds.
        let frac = if self.nanos {
            fraction.min(999_999_999)
        } else {
            fraction.min(999_999) * 1000
        };
        Ok(Step::Frame {
            consumed: need,
            ts: Ts::from_secs_nanos(i64::from(word([s0, s1, s2, s3])), frac),
            linktype: self.linktype,
            off: self.header,
            len: caplen,
            orig_len: word([o0, o1, o2, o3]),
        })
    }

    /// The same record read by pcap-parser, for the tests.
    #[cfg(test)]
    pub fn step_with_pcap_parser(&mut self, i: &[u8]) -> Result<Step, &'static str> {
        if i.len() < self.header {
            return Ok(Step::NeedMore { need: self.header });
        }
        let parse: FrameParser = match (self.header, self.big_endian) {
            (24, _) => pcap_parser::parse_pcap_frame_modified,
            (_, true) => pcap_parser::parse_pcap_frame_be,
            _ => pcap_parser::parse_pcap_frame,
        };
        match parse(i) {
            Ok((rest, block)) => {
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
