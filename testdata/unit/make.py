#!/usr/bin/env python3
"""Builds the small capture fixtures the unit tests read.

The packets are the first four frames of a real capture (a curl HTTPS
connection from nDPI's test set, 443-curl.pcap: SYN, SYN-ACK, ACK and the
ClientHello), re-wrapped in each container format and link type. Each file's
figures are confirmed with tshark; run `python3 testdata/unit/make.py CORPUS`
then `sh testdata/unit/check.sh` to see tshark's view of every file.
"""
import gzip, struct, sys, os

corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/ndpi"
here = os.path.dirname(os.path.abspath(__file__))

def legacy_frames(path, count):
    data = open(path, "rb").read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    off, out = 24, []
    while len(out) < count:
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        out.append((sec, usec, data[off + 16 : off + 16 + incl], orig))
        off += 16 + incl
    return out

frames = legacy_frames(os.path.join(corpus, "443-curl.pcap"), 4)
eth = [f[2] for f in frames]
ip = [e[14:] for e in eth]

def pcap(name, linktype, pkts, magic=0xA1B2C3D4, endian="<", nanos=False):
    hdr = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    body = b""
    for (sec, usec, _, _), p in zip(frames, pkts):
        frac = usec * 1000 if nanos else usec
        body += struct.pack(endian + "IIII", sec, frac, len(p), len(p)) + p
    open(os.path.join(here, name), "wb").write(hdr + body)
    return hdr + body

def pad4(b):
    return b + b"\0" * (-len(b) % 4)

def block(btype, body):
    body = pad4(body)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

def option(code, value):
    return struct.pack("<HH", code, len(value)) + pad4(value)

def shb():
    return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))

def idb(linktype, tsresol=None):
    opts = b""
    if tsresol is not None:
        opts = option(9, bytes([tsresol])) + option(0, b"")
    return block(1, struct.pack("<HHI", linktype, 0, 0) + opts)

def epb(if_id, ticks, data):
    return block(6, struct.pack("<IIIII", if_id, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data)

# Legacy pcap: little-endian microseconds, big-endian nanoseconds, gzip, zstd-less.
le = pcap("eth-le-usec.pcap", 1, eth)
pcap("eth-be-nsec.pcap", 1, eth, magic=0xA1B23C4D, endian=">", nanos=True)
open(os.path.join(here, "eth-le-usec.pcap.gz"), "wb").write(gzip.compress(le, mtime=0))
# Link types, all carrying the same four IPv4/TCP packets.
vlan = [e[:12] + b"\x81\x00\x00\x64" + e[12:] for e in eth]
pcap("vlan.pcap", 1, vlan)
qinq = [e[:12] + b"\x88\xa8\x00\xc8\x81\x00\x00\x64" + e[12:] for e in eth]
pcap("qinq.pcap", 1, qinq)
pcap("raw.pcap", 101, ip)
pcap("ipv4.pcap", 228, ip)
sll = [struct.pack(">HHH8sH", 0, 1, 6, b"\x10\x13\x31\xf1\x39\x76\0\0", 0x0800) + p for p in ip]
pcap("sll.pcap", 113, sll)
sll2 = [struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x10\x13\x31\xf1\x39\x76\0\0") + p for p in ip]
pcap("sll2.pcap", 276, sll2)
pcap("null.pcap", 0, [struct.pack("<I", 2) + p for p in ip])
pcap("loop.pcap", 108, [struct.pack(">I", 2) + p for p in ip])
# pcapng: three interfaces of different link types and time resolutions,
# a Simple Packet Block, a Decryption Secrets Block, then a second section.
t = [f[0] * 1_000_000 + f[1] for f in frames]  # microseconds
secrets = b"CLIENT_RANDOM 00 11\n"
ng = shb() + idb(1) + idb(101, 9) + idb(1, 0x80 | 10)
ng += block(0x0000000A, struct.pack("<II", 0x544C534B, len(secrets)) + secrets)
ng += epb(0, t[0], eth[0])
ng += epb(1, t[1] * 1000, ip[1])
ng += epb(2, (t[2] * 1024) // 1_000_000, eth[2])
ng += block(3, struct.pack("<I", len(eth[3])) + eth[3])
ng += shb() + idb(101) + epb(0, t[3], ip[3])
open(os.path.join(here, "multi.pcapng"), "wb").write(ng)
