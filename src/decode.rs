//! Link layer -> IP -> TCP, through etherparse's lax slicer, which keeps
//! what it could parse of packets cut short by the snapshot length.
//! Everything that is not a TCP segment is counted, never fatal.
//!
//! The common case (Ethernet, at most one 802.1Q tag, or a raw IP link;
//! IPv4 unfragmented or IPv6 without extension headers; a whole TCP
//! segment) takes a short path that gives exactly what etherparse gives
//! (a property test holds the two equal); anything else goes to etherparse.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::capture::Linktype;
use crate::flow::Seq;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Debug, PartialEq, Eq)]
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
    let fast = match lt.0 {
        linktype::ETHERNET => fast_ethernet(data),
        linktype::RAW
        | linktype::RAW_BSD
        | linktype::RAW_OPENBSD
        | linktype::IPV4
        | linktype::IPV6 => fast_ip(data),
        _ => None,
    };
    match fast {
        Some(seg) => Decoded::Tcp(seg),
        None => general(lt, data),
    }
}

/// An Ethernet II frame (at most one 802.1Q tag) carrying IP, whose IP
/// version agrees with its EtherType, on the short path; `None` for
/// anything else, which etherparse then reads.
#[inline]
fn fast_ethernet(data: &[u8]) -> Option<Segment<'_>> {
    let (_, rest) = data.split_at_checked(12)?;
    let (ether_type, ip) = match rest {
        [0x81, 0x00, _, _, hi, lo, ip @ ..] => ([*hi, *lo], ip),
        [hi, lo, ip @ ..] => ([*hi, *lo], ip),
        _ => return None,
    };
    match (ether_type, ip.first()? >> 4) {
        ([0x08, 0x00], 4) | ([0x86, 0xdd], 6) => fast_ip(ip),
        _ => None,
    }
}

/// An IP packet on the short path: IPv4 (RFC 791 section 3.1) neither a
/// fragment nor cut short, or IPv6 (RFC 8200 section 3) whose next header
/// is TCP and whose payload is all captured; `None` otherwise.
#[inline]
fn fast_ip(ip: &[u8]) -> Option<Segment<'_>> {
    match ip.first()? >> 4 {
        4 => {
            let [
                vihl,
                _,
                t0,
                t1,
                _,
                _,
                f0,
                f1,
                _,
                proto,
                _,
                _,
                s0,
                s1,
                s2,
                s3,
                d0,
                d1,
                d2,
                d3,
                ..,
            ] = *ip
            else {
                return None;
            };
            let header = usize::from(vihl & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([t0, t1]));
            // More-fragments flag or a fragment offset: a fragment.
            let fragment = f0 & 0x3f != 0 || f1 != 0;
            if header < 20 || total < header || fragment || proto != 6 {
                return None;
            }
            let src = IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3));
            let dst = IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3));
            fast_tcp(src, dst, ip.get(header..total)?)
        }
        6 => {
            let (header, rest) = ip.split_at_checked(40)?;
            let [_, _, _, _, l0, l1, next, _, ..] = *header else {
                return None;
            };
            // A payload length of 0 (a jumbogram's, RFC 2675) leaves no
            // room for a TCP header here: etherparse reads those.
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if next != 6 {
                return None;
            }
            let addr = |at: usize| -> Option<IpAddr> {
                let b: [u8; 16] = header.get(at..at + 16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            };
            fast_tcp(addr(8)?, addr(24)?, rest.get(..len)?)
        }
        _ => None,
    }
}

/// A whole TCP segment (RFC 9293 section 3.1) on the short path.
#[inline]
fn fast_tcp(src: IpAddr, dst: IpAddr, tcp: &[u8]) -> Option<Segment<'_>> {
    let [
        sp0,
        sp1,
        dp0,
        dp1,
        q0,
        q1,
        q2,
        q3,
        a0,
        a1,
        a2,
        a3,
        off,
        flags,
        w0,
        w1,
        ..,
    ] = *tcp
    else {
        return None;
    };
    let header = usize::from(off >> 4) * 4;
    if header < 20 || tcp.len() < 20 {
        return None;
    }
    Some(Segment {
        src,
        dst,
        sport: u16::from_be_bytes([sp0, sp1]),
        dport: u16::from_be_bytes([dp0, dp1]),
        seq: Seq(u32::from_be_bytes([q0, q1, q2, q3])),
        ack: Seq(u32::from_be_bytes([a0, a1, a2, a3])),
        flags: Flags {
            syn: flags & 0x02 != 0,
            ack: flags & 0x10 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
        },
        window: u16::from_be_bytes([w0, w1]),
        payload: tcp.get(header..)?,
        missing: 0,
    })
}

/// Decodes one frame of link type `lt` with etherparse alone.
fn general(lt: Linktype, data: &[u8]) -> Decoded<'_> {
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

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::capture::Reader;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};

    /// The short path and etherparse agree: the same segment borrowed from
    /// the same bytes, or the short path declined.
    fn agree(lt: u32, data: &[u8]) -> Result<(), String> {
        let lt = Linktype(lt);
        let fast = decode(lt, data);
        let slow = general(lt, data);
        let same_bytes = match (&fast, &slow) {
            (Decoded::Tcp(a), Decoded::Tcp(b)) => a.payload.as_ptr() == b.payload.as_ptr(),
            _ => true,
        };
        if fast == slow && same_bytes {
            Ok(())
        } else {
            Err(format!(
                "link type {}, frame {data:02x?}: {fast:?} != {slow:?}",
                lt.0
            ))
        }
    }

    /// Every frame of every capture under `dir` (recursively): (link type, bytes).
    fn frames_under(dir: &Path, out: &mut Vec<(u32, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                frames_under(&p, out);
                continue;
            }
            let Ok(file) = std::fs::File::open(&p) else {
                continue;
            };
            let Ok(mut r) = Reader::new(Box::new(file)) else {
                continue;
            };
            while let Ok(Some(f)) = r.next_frame() {
                out.push((f.linktype.0, f.data.to_vec()));
            }
        }
    }

    fn repo(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }

    /// The frames of testdata/ (a few thousand, every link type read here).
    fn testdata_frames() -> &'static [(u32, Vec<u8>)] {
        static FRAMES: std::sync::OnceLock<Vec<(u32, Vec<u8>)>> = std::sync::OnceLock::new();
        FRAMES.get_or_init(|| {
            let mut out = Vec::new();
            frames_under(&repo("testdata"), &mut out);
            assert!(out.len() > 1000, "testdata has {} frames", out.len());
            out
        })
    }

    #[test]
    fn short_path_equals_etherparse_on_every_testdata_frame() {
        let frames = testdata_frames();
        let mut fast = 0;
        for (lt, data) in frames {
            agree(*lt, data).unwrap();
            if matches!(*lt, 1 | 101 | 228 | 229 | 12 | 14) && fast_frame(*lt, data).is_some() {
                fast += 1;
            }
        }
        // Most real frames take the short path (else it would test nothing).
        assert!(fast * 10 > frames.len() * 9, "{fast} of {}", frames.len());
    }

    /// The nDPI corpus beside the repository, when present: every frame
    /// of its 500-odd captures (tunnels, VLANs, fragments, cut frames).
    #[test]
    fn short_path_equals_etherparse_on_the_ndpi_corpus() {
        let dir = repo("../shared/corpus/ndpi");
        if !dir.exists() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        let mut frames = Vec::new();
        frames_under(&dir, &mut frames);
        for (lt, data) in &frames {
            agree(*lt, data).unwrap();
        }
    }

    fn fast_frame(lt: u32, data: &[u8]) -> Option<Segment<'_>> {
        match lt {
            linktype::ETHERNET => fast_ethernet(data),
            _ => fast_ip(data),
        }
    }

    /// Known edges, each built from a real frame (the fourth of
    /// testdata/unit/eth-le-usec.pcap: Ethernet/IPv4/TCP, 517 bytes of payload).
    #[test]
    fn edges_agree() {
        let (_, base) = testdata_frames()
            .iter()
            .find(|(lt, d)| *lt == 1 && d.len() == 583)
            .unwrap();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut d = base.clone();
            f(&mut d);
            d
        };
        // Cut by the snapshot length, at every length.
        for n in 0..base.len() {
            cases.push(base[..n].to_vec());
        }
        // Ethernet padding after the IP packet.
        cases.push(with(&|d| d.extend_from_slice(&[0; 6])));
        // More fragments; a fragment offset; don't-fragment (still whole).
        cases.push(with(&|d| d[20] |= 0x20));
        cases.push(with(&|d| d[21] = 1));
        cases.push(with(&|d| d[20] |= 0x40));
        // Total length below the header, equal to it, above the frame.
        for total in [0u16, 19, 20, 39, 40, 41, 569, 570, 2000] {
            cases.push(with(&|d| d[16..18].copy_from_slice(&total.to_be_bytes())));
        }
        // Header lengths 0..15 words; TCP data offsets 0..15 words.
        for v in 0..16u8 {
            cases.push(with(&|d| d[14] = 0x40 | v));
            cases.push(with(&|d| d[46] = (v << 4) | (d[46] & 0x0f)));
        }
        // EtherType and IP version disagreeing; IPv6 EtherType; VLAN tag.
        cases.push(with(&|d| d[14] = 0x65));
        cases.push(with(&|d| d[12..14].copy_from_slice(&[0x86, 0xdd])));
        cases.push(with(&|d| {
            d.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
        }));
        cases.push(with(&|d| {
            d.splice(12..12, [0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06]);
        }));
        // Not TCP: UDP, IP-in-IP, AH.
        for proto in [17u8, 4, 51] {
            cases.push(with(&|d| d[23] = proto));
        }
        for d in &cases {
            agree(1, d).unwrap();
            agree(101, d.get(14..).unwrap_or_default()).unwrap();
        }
    }

    /// Random edits of real frames: a few bytes set (mostly in the
    /// headers), a cut, and the link type read as raw IP, or not.
    fn mutated() -> impl Strategy<Value = (u32, Vec<u8>)> {
        let n = testdata_frames().len();
        (
            0..n,
            proptest::collection::vec((0usize..96, any::<u8>()), 0..4),
            any::<Option<u16>>(),
            any::<bool>(),
        )
            .prop_map(|(i, edits, cut, raw)| {
                let (lt, data) = &testdata_frames()[i];
                let mut d = data.clone();
                for (at, v) in edits {
                    if let Some(b) = d.get_mut(at) {
                        *b = v;
                    }
                }
                if let Some(cut) = cut {
                    d.truncate(usize::from(cut) % (d.len() + 1));
                }
                if raw && *lt == 1 && d.len() >= 14 {
                    (101, d.split_off(14))
                } else {
                    (*lt, d)
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn short_path_equals_etherparse_on_mutated_frames((lt, data) in mutated()) {
            prop_assert_eq!(agree(lt, &data), Ok(()));
        }

        #[test]
        fn short_path_equals_etherparse_on_random_bytes(
            lt in prop::sample::select(vec![1u32, 101, 228, 229, 12, 14]),
            head in prop::sample::select(vec![
                vec![],
                vec![0u8; 12],
                vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45],
                vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd, 0x60],
                vec![0x45],
                vec![0x60],
            ]),
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut data = head;
            data.extend_from_slice(&tail);
            prop_assert_eq!(agree(lt, &data), Ok(()));
        }
    }
}
