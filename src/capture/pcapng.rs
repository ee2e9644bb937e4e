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
                let iface = self
                    .interfaces
                    .get(epb.if_id as usize)
                    .ok_or("packet on an interface that was never described")?;
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = Ts(ticks_to_ns(ticks, iface.units_per_sec)
                    .saturating_add(iface.offset_secs.saturating_mul(1_000_000_000)));
                self.last_ts = ts;
                let data = epb.packet_data();
                Ok(Step::Frame {
                    consumed: len,
                    ts,
                    linktype: iface.linktype,
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
mod tests {
    use super::*;

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
