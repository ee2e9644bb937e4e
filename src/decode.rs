//! Link layer -> IP -> TCP, through etherparse's lax slicer, which keeps
//! what it could parse of packets cut short by the snapshot length.
//! Everything that is not a TCP segment is counted, never fatal.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::capture::Linktype;
use crate::flow::Seq;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::IpAddr;

/// LINKTYPE_ values from tcpdump.org's link-layer header types registry.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW as written by some BSDs (12) and OpenBSD (14).
    pub const RAW_BSD: u32 = 12;
    pub const RAW_OPENBSD: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// TCP header flags that matter to connection tracking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment, borrowed from its frame.
#[derive(Clone, Debug)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: Seq,
    pub ack: Seq,
    pub flags: Flags,
    pub window: u16,
    /// The captured part of the payload.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announced but the snapshot length cut.
    pub missing: u32,
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    /// A link type this tool does not read.
    UnknownLink,
    /// IP, but not TCP (UDP, ICMP, ...), or not IP at all (ARP, ...).
    NotTcp,
    /// A non-first IP fragment, or a first one whose TCP header is incomplete.
    Fragment,
    /// Headers that do not parse.
    Malformed,
}

/// Decodes one frame of link type `lt`.
pub fn decode(lt: Linktype, data: &[u8]) -> Decoded<'_> {
    let sliced = match lt.0 {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
        linktype::RAW
        | linktype::RAW_BSD
        | linktype::RAW_OPENBSD
        | linktype::IPV4
        | linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok(),
        // A 4-byte address family (host order for NULL, network order for
        // LOOP); the IP version nibble tells the rest.
        linktype::NULL | linktype::LOOP => {
            data.get(4..).and_then(|d| LaxSlicedPacket::from_ip(d).ok())
        }
        // Linux cooked v1: the protocol is the last 2 of 16 header bytes.
        linktype::LINUX_SLL => match (data.get(14..16), data.get(16..)) {
            (Some(&[hi, lo]), Some(rest)) => Some(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([hi, lo])),
                rest,
            )),
            _ => None,
        },
        // Linux cooked v2: the protocol is the first 2 of 20 header bytes.
        linktype::LINUX_SLL2 => match (data.get(0..2), data.get(20..)) {
            (Some(&[hi, lo]), Some(rest)) => Some(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([hi, lo])),
                rest,
            )),
            _ => None,
        },
        _ => return Decoded::UnknownLink,
    };
    let Some(pkt) = sliced else {
        return Decoded::Malformed;
    };
    let (src, dst, ip_payload) = match &pkt.net {
        Some(LaxNetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
            ip.payload(),
        ),
        Some(LaxNetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
            ip.payload(),
        ),
        Some(LaxNetSlice::Arp(_)) => return Decoded::NotTcp,
        None => {
            return if pkt.stop_err.is_some() {
                Decoded::Malformed
            } else {
                Decoded::NotTcp
            };
        }
    };
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        return Decoded::NotTcp;
    }
    if ip_payload.fragmented {
        return Decoded::Fragment;
    }
    let Some(TransportSlice::Tcp(tcp)) = &pkt.transport else {
        return Decoded::Malformed;
    };
    let payload = tcp.payload();
    // When the capture cut the packet, the IP header still says how long
    // the TCP segment was: the difference is payload nobody captured.
    let missing = if ip_payload.incomplete {
        let announced = match &pkt.net {
            Some(LaxNetSlice::Ipv4(ip)) => usize::from(ip.header().total_len())
                .saturating_sub(usize::from(ip.header().ihl()) * 4),
            Some(LaxNetSlice::Ipv6(ip)) => {
                // payload_length counts extension headers; the TCP payload starts after them.
                let exts = (ip_payload.payload.as_ptr() as usize)
                    .saturating_sub(ip.header().slice().as_ptr() as usize)
                    .saturating_sub(40);
                usize::from(ip.header().payload_length()).saturating_sub(exts)
            }
            _ => 0,
        };
        let captured = ip_payload.payload.len();
        u32::try_from(announced.saturating_sub(captured)).unwrap_or(u32::MAX)
    } else {
        0
    };
    Decoded::Tcp(Segment {
        src,
        dst,
        sport: tcp.source_port(),
        dport: tcp.destination_port(),
        seq: Seq(tcp.sequence_number()),
        ack: Seq(tcp.acknowledgment_number()),
        flags: Flags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        window: tcp.window_size(),
        payload,
        missing,
    })
}
