//! Shared by the fuzz targets: the byte format that turns one fuzz input
//! into the calls the flow layer makes on a stream parser (data from either
//! side, gaps, the close), and its encoder for the seed extractor.
//!
//! An input is a sequence of operations, each starting with a control byte
//! `c`:
//!
//! | `c`                | operation                                         | then      |
//! |--------------------|---------------------------------------------------|-----------|
//! | bit 7 set          | [`Op::Toggle`] (a target-specific switch)          | nothing   |
//! | bits 1-2 = 0 or 1  | [`Op::Data`] from side `c & 1` (0 client)          | u16 BE length, the bytes (fewer if the input ends) |
//! | bits 1-2 = 2       | [`Op::Gap`] on side `c & 1`                        | u32 BE length |
//! | bits 1-2 = 3       | [`Op::Close`]: bits 3-4 = 1 FIN, 2 RST by side `c & 1`, else none | nothing; the input ends here |
//!
//! Each operation is carried by its own packet: packet numbers count up
//! from 1, one millisecond apart.

use connreuse::ledger::Close;
use connreuse::{At, Side, Ts};

/// One call on a stream parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Data(Side, &'a [u8]),
    Gap(Side, u64),
    Close(Option<(Side, Close)>),
    Toggle,
}

/// The operations of `input`, each with the packet that carries it.
pub fn ops(input: &[u8]) -> Ops<'_> {
    Ops {
        rest: input,
        packet: 0,
        closed: false,
    }
}

pub struct Ops<'a> {
    rest: &'a [u8],
    packet: u64,
    closed: bool,
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = rest.split_at(n.min(rest.len()));
    *rest = tail;
    head
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| acc << 8 | u64::from(*b))
}

impl<'a> Iterator for Ops<'a> {
    type Item = (Op<'a>, At);

    fn next(&mut self) -> Option<Self::Item> {
        if self.closed {
            return None;
        }
        let (&c, tail) = self.rest.split_first()?;
        self.rest = tail;
        self.packet += 1;
        let at = At {
            packet: self.packet,
            ts: Ts(1_700_000_000_000_000_000 + self.packet as i64 * 1_000_000),
        };
        let side = if c & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let op = if c & 0x80 != 0 {
            Op::Toggle
        } else {
            match (c >> 1) & 3 {
                0 | 1 => {
                    let len = be(take(&mut self.rest, 2)) as usize;
                    Op::Data(side, take(&mut self.rest, len))
                }
                2 => Op::Gap(side, be(take(&mut self.rest, 4))),
                _ => {
                    self.closed = true;
                    Op::Close(match (c >> 3) & 3 {
                        1 => Some((side, Close::Fin)),
                        2 => Some((side, Close::Rst)),
                        _ => None,
                    })
                }
            }
        };
        Some((op, at))
    }
}

/// Appends `op` to `out` in the format [`ops`] reads; data longer than
/// 65535 bytes becomes several operations.
pub fn encode(op: &Op<'_>, out: &mut Vec<u8>) {
    let side = |s: &Side| match s {
        Side::Client => 0u8,
        Side::Server => 1u8,
    };
    match op {
        Op::Data(s, bytes) => {
            for chunk in bytes.chunks(usize::from(u16::MAX)) {
                out.push(side(s));
                out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
                out.extend_from_slice(chunk);
            }
        }
        Op::Gap(s, len) => {
            out.push(4 | side(s));
            out.extend_from_slice(&(u32::try_from(*len).unwrap_or(u32::MAX)).to_be_bytes());
        }
        Op::Close(closer) => out.push(match closer {
            None => 6,
            Some((s, Close::Fin)) => 6 | 8 | side(s),
            Some((s, Close::Rst)) => 6 | 16 | side(s),
        }),
        Op::Toggle => out.push(0x80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_operations_read_back() {
        let big = vec![7u8; 70_000];
        let want = [
            Op::Toggle,
            Op::Data(Side::Client, b"GET / HTTP/1.1\r\n\r\n"),
            Op::Gap(Side::Server, 1234),
            Op::Data(Side::Server, &big),
            Op::Close(Some((Side::Server, Close::Rst))),
        ];
        let mut bytes = Vec::new();
        want.iter().for_each(|op| encode(op, &mut bytes));
        let got: Vec<Op<'_>> = ops(&bytes).map(|(op, _)| op).collect();
        assert_eq!(got.len(), 6);
        assert_eq!(got[..3], want[..3]);
        assert_eq!(got[3], Op::Data(Side::Server, &big[..65535]));
        assert_eq!(got[4], Op::Data(Side::Server, &big[65535..]));
        assert_eq!(got[5], want[4]);
    }
}
