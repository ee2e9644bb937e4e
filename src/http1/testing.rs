//! Test support: the in-order payload of one TCP connection of a small real
//! capture, as the events the flow layer delivers (data with its 1-based
//! packet number, and gaps), so parsers can be checked against tshark on
//! captures of the shared corpus without copying them into the repository.
//! Each event's timestamp is its packet number (`Ts(packet)`), so tests can
//! check start and end packets through `Request::start` and `end`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use crate::{At, Side, Ts};
use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Data(Side, Vec<u8>, At),
    Gap(Side, u64),
}

/// `../shared/corpus/ndpi/NAME` relative to the repository root, when present.
pub(crate) fn corpus(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/ndpi")
        .join(name);
    p.exists().then_some(p)
}

type Key = (IpAddr, u16);

/// The `nth` (0-based, in order of first packet) TCP connection whose server
/// port is `server_port`. Retransmitted bytes are dropped, skipped ones are
/// reported as gaps; segments are taken in capture order (good enough for
/// the small loss-free captures used in tests).
pub(crate) fn tcp_connection(path: &PathBuf, server_port: u16, nth: usize) -> Vec<Event> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut linktypes: Vec<Linktype> = Vec::new();
    let mut legacy = Linktype(1);
    let mut conns: Vec<Key> = Vec::new();
    let mut next: HashMap<(Key, bool), u32> = HashMap::new();
    let mut events = Vec::new();
    let mut packet = 0u64;
    loop {
        let (offset, block) = match reader.next() {
            Ok(b) => b,
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                reader.refill().unwrap();
                continue;
            }
            Err(e) => panic!("{e:?}"),
        };
        let frame = match block {
            PcapBlockOwned::LegacyHeader(h) => {
                legacy = h.network;
                None
            }
            PcapBlockOwned::Legacy(b) => Some((legacy, b.data.to_vec())),
            PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                linktypes.push(idb.linktype);
                None
            }
            PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                let lt = linktypes[epb.if_id as usize];
                let data = epb.data[..epb.caplen as usize].to_vec();
                Some((lt, data))
            }
            PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(spb)) => {
                Some((linktypes[0], spb.data.to_vec()))
            }
            PcapBlockOwned::NG(_) => None,
        };
        reader.consume(offset);
        let Some((lt, data)) = frame else { continue };
        packet += 1;
        let sliced = match lt.0 {
            1 => SlicedPacket::from_ethernet(&data),
            // Linux cooked v1: 16-byte header ending with the EtherType
            // (read directly: etherparse refuses loopback ARPHRD values).
            113 if data.len() >= 16 => SlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([data[14], data[15]])),
                &data[16..],
            ),
            101 | 12 | 228 | 229 => SlicedPacket::from_ip(&data),
            _ => continue,
        };
        let Ok(p) = sliced else { continue };
        let (src, dst) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
            ),
            _ => continue,
        };
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            continue;
        };
        let (client, side) = if tcp.destination_port() == server_port {
            ((src, tcp.source_port()), Side::Client)
        } else if tcp.source_port() == server_port {
            ((dst, tcp.destination_port()), Side::Server)
        } else {
            continue;
        };
        if !conns.contains(&client) {
            conns.push(client);
        }
        if conns.iter().position(|c| *c == client) != Some(nth) {
            continue;
        }
        let key = (client, side == Side::Client);
        let seq = tcp.sequence_number();
        let payload = tcp.payload();
        if tcp.syn() {
            next.insert(key, seq.wrapping_add(1));
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        let expected = *next.entry(key).or_insert(seq);
        let ahead = seq.wrapping_sub(expected) as i32;
        let payload = if ahead > 0 {
            events.push(Event::Gap(side, ahead as u64));
            payload
        } else if (-ahead) as usize >= payload.len() {
            continue;
        } else {
            &payload[(-ahead) as usize..]
        };
        next.insert(key, seq.wrapping_add(tcp.payload().len() as u32));
        events.push(Event::Data(
            side,
            payload.to_vec(),
            At {
                packet,
                ts: Ts(packet as i64),
            },
        ));
    }
    events
}
