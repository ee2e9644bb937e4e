//! pcapng: sections of blocks, each with its own interfaces, link types and
//! timestamp resolutions. Format: draft-ietf-opsawg-pcapng, section 4.

use super::{Linktype, MAX_SECRETS, Secrets, Step, ticks_to_ns};
use crate::Ts;
use pcap_parser::pcapng::{Block, SecretsType};
use pcap_parser::traits::PcapNGPacketBlock;

const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Secrets type of a TLS key log in a Decryption Secrets Block (section 4.8).
const TLS_KEY_LOG: SecretsType = SecretsType(0x544c_534b);

/// Interfaces one section may describe. Each Interface Description Block
/// is at least 20 bytes of input, so without a cap the table would grow
/// with the file; real captures have a handful.
pub const MAX_INTERFACES: usize = 1 << 16;

pub fn is_magic(magic: &[u8]) -> bool {
    magic == SHB_MAGIC
}

struct Interface {
    linktype: Linktype,
    snaplen: u32,
    units_per_sec: u64,
    offset_secs: i64,
}

#[derive(Default)]
pub struct State {
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Simple Packet Blocks carry no time: they get the last one seen.
    last_ts: Ts,
}

/// Units per second for an `if_tsresol` value (section 4.2): a power of
/// ten, or of two when the high bit is set. pcap-parser's own helper
/// rejects every power of two, so this one is ours.
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exp)
    } else {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    }
}

impl State {
    pub fn step(&mut self, i: &[u8], secrets: &mut Secrets) -> Result<Step, &'static str> {
        let Some(head) = i.get(..12) else {
            return Ok(Step::NeedMore { need: 12 });
        };
        let word = |at: usize, be: bool| -> u32 {
            let b = head
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .unwrap_or_default();
            if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        if head.get(..4) == Some(&SHB_MAGIC[..]) {
            // The byte-order magic of a new section decides its endianness.
            self.big_endian = match head.get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => return Err("section header with an unknown byte-order magic"),
            };
        }
        let len = word(4, self.big_endian) as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err("block length is not a multiple of 4 of at least 12");
        }
        let Some(block) = i.get(..len) else {
            return Ok(Step::NeedMore { need: len });
        };
        if let Some(step) = self.enhanced_packet(block) {
            return step;
        }
        self.general(block, i, secrets)
    }

    /// An Enhanced Packet Block without options (section 4.3), the common
    /// case, read in place; `None` for anything else (options, lengths
    /// that do not add up), which pcap-parser then reads. The tests hold
    /// the two equal.
    #[inline]
    fn enhanced_packet(&mut self, block: &[u8]) -> Option<Result<Step, &'static str>> {
        let word = |at: usize| -> Option<u32> {
            let b: [u8; 4] = block.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        // Block type 6; its two length fields; the captured length,
        // padded to 32 bits, filling the block exactly.
        let len = block.len();
        if word(0)? != 6 || len < 32 || word(4)? as usize != len || word(len - 4)? as usize != len {
            return None;
        }
        let caplen = word(20)?;
        if caplen >= u32::MAX - 4 || (caplen as usize).next_multiple_of(4) + 32 != len {
            return None;
        }
        let (if_id, high, low, origlen) = (word(8)?, word(12)?, word(16)?, word(24)?);
        Some(
            self.packet_on(if_id, high, low)
                .map(|(ts, linktype)| Step::Frame {
                    consumed: len,
                    ts,
                    linktype,
                    off: 28,
                    len: caplen as usize,
                    orig_len: origlen,
                }),
        )
    }

    /// The time and link type of a packet on interface `if_id` stamped
    /// `high`:`low` (section 4.3), remembered for Simple Packet Blocks.
    fn packet_on(
        &mut self,
        if_id: u32,
        high: u32,
        low: u32,
    ) -> Result<(Ts, Linktype), &'static str> {
        let iface = self
            .interfaces
            .get(if_id as usize)
            .ok_or("packet on an interface that was never described")?;
        let ticks = (u64::from(high) << 32) | u64::from(low);
        let ts = Ts(ticks_to_ns(ticks, iface.units_per_sec)
            .saturating_add(iface.offset_secs.saturating_mul(1_000_000_000)));
        self.last_ts = ts;
        Ok((ts, iface.linktype))
    }

    /// Any block of `len` bytes at the front of `i`, read by pcap-parser.
    fn general(
        &mut self,
        block: &[u8],
        i: &[u8],
        secrets: &mut Secrets,
    ) -> Result<Step, &'static str> {
        let len = block.len();
        let parsed = if self.big_endian {
            pcap_parser::pcapng::parse_block_be(block)
        } else {
            pcap_parser::pcapng::parse_block_le(block)
        };
        let Ok((_, parsed)) = parsed else {
            return Err("malformed pcapng block");
        };
        let skip = Ok(Step::Skip { consumed: len });
        match parsed {
            Block::SectionHeader(_) => {
                self.interfaces.clear();
                skip
            }
            Block::InterfaceDescription(idb) => {
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err("more than 65536 interfaces in one section");
                }
                self.interfaces.push(Interface {
                    linktype: Linktype(idb.linktype.0 as u32 & 0xffff),
                    snaplen: idb.snaplen,
                    units_per_sec: units_per_sec(idb.if_tsresol)
                        .ok_or("interface with an impossible if_tsresol")?,
                    offset_secs: idb.if_tsoffset,
                });
                skip
            }
            Block::EnhancedPacket(epb) => {
                let (ts, linktype) = self.packet_on(epb.if_id, epb.ts_high, epb.ts_low)?;
                let data = epb.packet_data();
                Ok(Step::Frame {
                    consumed: len,
                    ts,
                    linktype,
                    off: data.as_ptr() as usize - i.as_ptr() as usize,
                    len: data.len(),
                    orig_len: epb.origlen,
                })
            }
            Block::SimplePacket(spb) => {
                let iface = self
                    .interfaces
                    .first()
                    .ok_or("packet on an interface that was never described")?;
                let data = spb.packet_data();
                let caplen = if iface.snaplen == 0 {
                    data.len()
                } else {
                    data.len().min(iface.snaplen as usize)
                };
                Ok(Step::Frame {
                    consumed: len,
                    ts: self.last_ts,
                    linktype: iface.linktype,
                    off: data.as_ptr() as usize - i.as_ptr() as usize,
                    len: caplen,
                    orig_len: spb.origlen,
                })
            }
            Block::DecryptionSecrets(dsb) => {
                if dsb.secrets_type == TLS_KEY_LOG {
                    let data = dsb.data.get(..dsb.secrets_len as usize).unwrap_or(dsb.data);
                    secrets.add(data, MAX_SECRETS);
                }
                skip
            }
            _ => skip,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Two interfaces: microseconds, and nanoseconds with an offset.
    fn state(big_endian: bool) -> State {
        State {
            big_endian,
            interfaces: vec![
                Interface {
                    linktype: Linktype(1),
                    snaplen: 0,
                    units_per_sec: 1_000_000,
                    offset_secs: 0,
                },
                Interface {
                    linktype: Linktype(101),
                    snaplen: 65535,
                    units_per_sec: 1_000_000_000,
                    offset_secs: -5,
                },
            ],
            last_ts: Ts(7),
        }
    }

    /// The short path, where it answers, gives what pcap-parser gives.
    fn agree(big_endian: bool, block: &[u8]) -> Result<bool, TestCaseError> {
        let (mut fast, mut slow) = (state(big_endian), state(big_endian));
        let Some(got) = fast.enhanced_packet(block) else {
            return Ok(false);
        };
        let want = slow.general(block, block, &mut Secrets::default());
        prop_assert_eq!(got, want, "block {:02x?}", block);
        prop_assert_eq!(fast.last_ts, slow.last_ts);
        Ok(true)
    }

    #[test]
    fn enhanced_packets_of_the_testdata_captures_read_alike() {
        let mut taken = 0;
        for name in [
            "testdata/unit/multi.pcapng",
            "testdata/captures/go-h2-concurrent-tls13.pcapng",
            "testdata/captures/curl-h2-parallel.pcapng",
        ] {
            let file =
                std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
            let mut at = 0;
            while let Some(head) = file.get(at..at + 8) {
                let len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
                let block = &file[at..at + len];
                // Only the interfaces of `state` exist: keep if_id in range.
                if agree(false, block).unwrap() {
                    taken += 1;
                }
                at += len;
            }
        }
        assert!(taken > 100, "{taken} blocks took the short path");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn enhanced_packets_read_alike(
            big_endian in any::<bool>(),
            block_type in prop_oneof![Just(6u32), any::<u32>()],
            if_id in 0u32..3,
            ts in any::<u64>(),
            data in proptest::collection::vec(any::<u8>(), 0..40),
            caplen_delta in -5i64..5,
            origlen in any::<u32>(),
            options in prop_oneof![
                Just(vec![]),
                Just(vec![0, 0, 0, 0]),
                proptest::collection::vec(any::<u8>(), 0..12),
            ],
            len_delta in prop_oneof![Just(0i64), -8i64..8],
            len2_delta in prop_oneof![Just(0i64), -8i64..8],
        ) {
            let w = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
            let caplen = (data.len() as i64 + caplen_delta).max(0) as u32;
            let mut body = data.clone();
            body.resize(data.len().next_multiple_of(4), 0);
            body.extend_from_slice(&options);
            let len = (32 + body.len()) as i64;
            let mut b = Vec::new();
            b.extend_from_slice(&w(block_type));
            b.extend_from_slice(&w((len + len_delta).max(0) as u32));
            b.extend_from_slice(&w(if_id));
            b.extend_from_slice(&w((ts >> 32) as u32));
            b.extend_from_slice(&w(ts as u32));
            b.extend_from_slice(&w(caplen));
            b.extend_from_slice(&w(origlen));
            b.extend_from_slice(&body);
            b.extend_from_slice(&w((len + len2_delta).max(0) as u32));
            agree(big_endian, &b)?;
        }

        #[test]
        fn usual_resolutions_convert_as_the_general_division(
            ticks in any::<u64>(),
            units in prop_oneof![Just(1_000_000u64), Just(1_000_000_000u64)],
        ) {
            let ns = u128::from(ticks) * 1_000_000_000 / u128::from(units);
            prop_assert_eq!(ticks_to_ns(ticks, units), i64::try_from(ns).unwrap_or(i64::MAX));
        }
    }

    #[test]
    fn tsresol_powers_of_ten_and_two() {
        assert_eq!(units_per_sec(6), Some(1_000_000));
        assert_eq!(units_per_sec(9), Some(1_000_000_000));
        assert_eq!(units_per_sec(0x80 | 10), Some(1024));
        assert_eq!(units_per_sec(0x80 | 63), Some(1 << 63));
        assert_eq!(units_per_sec(20), None);
        assert_eq!(units_per_sec(0x80 | 64), None);
    }
}
