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
    pub const PPP: u32 = 9;
    pub const PPP_HDLC: u32 = 50;
    pub const C_HDLC: u32 = 104;
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
            (Some(&[hi, lo]), Some(rest)) => by_ether_type(u16::from_be_bytes([hi, lo]), rest),
            _ => None,
        },
        // Linux cooked v2: the protocol is the first 2 of 20 header bytes.
        linktype::LINUX_SLL2 => match (data.get(0..2), data.get(20..)) {
            (Some(&[hi, lo]), Some(rest)) => by_ether_type(u16::from_be_bytes([hi, lo]), rest),
            _ => None,
        },
        // Cisco HDLC (and PPP links that carry it): address, control, then
        // an EtherType.
        linktype::C_HDLC => chdlc(data),
        linktype::PPP | linktype::PPP_HDLC => match data {
            [0x0f | 0x8f, ..] => chdlc(data),
            // RFC 1661 section 2 inside RFC 1662 HDLC-like framing: ff 03,
            // then the protocol: 0x0021 IPv4, 0x0057 IPv6.
            [0xff, 0x03, 0x00, 0x21 | 0x57, rest @ ..] => LaxSlicedPacket::from_ip(rest).ok(),
            [0x00, 0x21 | 0x57, rest @ ..] => LaxSlicedPacket::from_ip(rest).ok(),
            _ => return Decoded::NotTcp,
        },
        _ => return Decoded::UnknownLink,
    };
    from_sliced(sliced, 0)
}

/// How many encapsulations deep a packet is followed.
const MAX_TUNNEL_DEPTH: u8 = 4;

fn chdlc(data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    match data {
        [_, _, hi, lo, rest @ ..] => by_ether_type(u16::from_be_bytes([*hi, *lo]), rest),
        _ => None,
    }
}

/// A packet after a link header that names its payload by EtherType; MPLS
/// label stacks (RFC 3032 section 2.1), which etherparse does not read, are
/// skipped to the IP packet after the bottom-of-stack label.
fn by_ether_type(ether_type: u16, data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    if matches!(ether_type, 0x8847 | 0x8848) {
        let mut rest = data;
        loop {
            let [_, _, s, _, tail @ ..] = rest else {
                return None;
            };
            rest = tail;
            if s & 0x01 != 0 {
                return LaxSlicedPacket::from_ip(rest).ok();
            }
        }
    }
    Some(LaxSlicedPacket::from_ether_type(
        EtherType(ether_type),
        data,
    ))
}

/// The inner packet of a tunnel carried in `ip` payload or UDP, if it is
/// one this tool follows: IP in IP (RFC 2003, RFC 2473), GRE (RFC 2784,
/// RFC 2890), GTP-U (3GPP TS 29.281) and VXLAN (RFC 7348).
fn tunnel<'a>(
    pkt: &LaxSlicedPacket<'a>,
    ip_number: etherparse::IpNumber,
    payload: &'a [u8],
) -> Option<LaxSlicedPacket<'a>> {
    use etherparse::IpNumber;
    match ip_number {
        IpNumber::IPV4 | IpNumber::IPV6 => LaxSlicedPacket::from_ip(payload).ok(),
        IpNumber::GRE => {
            let [flags, _, hi, lo, ..] = *payload else {
                return None;
            };
            // Checksum+reserved, key and sequence number each add 4 bytes.
            let extra = 4 * usize::from(
                (flags & 0x80 != 0) as u8 + (flags & 0x20 != 0) as u8 + (flags & 0x10 != 0) as u8,
            );
            let inner = payload.get(4 + extra..)?;
            match u16::from_be_bytes([hi, lo]) {
                // Transparent Ethernet bridging.
                0x6558 => LaxSlicedPacket::from_ethernet(inner).ok(),
                proto => by_ether_type(proto, inner),
            }
        }
        IpNumber::UDP => {
            let Some(TransportSlice::Udp(udp)) = &pkt.transport else {
                return None;
            };
            let ports = [udp.source_port(), udp.destination_port()];
            let data = udp.payload();
            if ports.contains(&2152) {
                gtp_u(data).and_then(|inner| LaxSlicedPacket::from_ip(inner).ok())
            } else if ports.contains(&4789) {
                // VXLAN: 8 bytes with the I flag, then an Ethernet frame.
                match data {
                    [0x08, _, _, _, _, _, _, _, inner @ ..] => {
                        LaxSlicedPacket::from_ethernet(inner).ok()
                    }
                    _ => None,
                }
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The T-PDU of a GTP-U G-PDU message (3GPP TS 29.281 section 5.1).
fn gtp_u(data: &[u8]) -> Option<&[u8]> {
    let [flags, msg_type, _, _, _, _, _, _, rest @ ..] = data else {
        return None;
    };
    // Version 1, protocol type GTP, message type 255 (G-PDU).
    if flags >> 5 != 1 || flags & 0x10 == 0 || *msg_type != 0xff {
        return None;
    }
    if flags & 0x07 == 0 {
        return Some(rest);
    }
    // Sequence number, N-PDU number and next extension header type.
    let [_, _, _, next, rest @ ..] = rest else {
        return None;
    };
    let (mut next, mut rest) = (*next, rest);
    while next != 0 {
        // Each extension header: a length in 4-octet units, its content,
        // and the next type in its last octet.
        let len = usize::from(*rest.first()?) * 4;
        if len == 0 {
            return None;
        }
        next = *rest.get(len - 1)?;
        rest = rest.get(len..)?;
    }
    Some(rest)
}

fn from_sliced(sliced: Option<LaxSlicedPacket<'_>>, depth: u8) -> Decoded<'_> {
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
    if ip_payload.fragmented {
        return Decoded::Fragment;
    }
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        let inner = (depth < MAX_TUNNEL_DEPTH)
            .then(|| tunnel(&pkt, ip_payload.ip_number, ip_payload.payload))
            .flatten();
        if let Some(inner) = inner {
            return from_sliced(Some(inner), depth + 1);
        }
        return Decoded::NotTcp;
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
