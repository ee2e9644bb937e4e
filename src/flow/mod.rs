//! The connection table: TCP segments in, connections with two ordered
//! byte streams out, fed to one [`Analyzer`] per connection.
//!
//! A connection is a 4-tuple over one lifetime: a SYN on a 4-tuple whose
//! connection has closed starts a new connection (port reuse). The client
//! is the sender of the SYN; without one the role is inferred (see
//! [`Table::segment`]) and marked so. Closed connections are finished
//! [`CLOSED_LINGER`] after their last packet, idle open ones after
//! [`IDLE_TIMEOUT`] of capture time, so memory follows the connections
//! alive at one moment, not the length of the capture. Capture time is
//! the capture's to choose, so the number alive is capped too
//! ([`MAX_LIVE`]): past it, closed connections are finished at once and
//! then those idle longest, which are marked evicted.
//!
//! What the table gives up on is counted exactly ([`Counters`]) and, per
//! connection, handed out as TCP-layer anomalies with the finished
//! connection ([`Finished`]).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod reassembly;
mod seq;

pub use reassembly::{Event, Reassembler, Stats};
pub use seq::Seq;

use crate::decode::Segment;
use crate::ledger::{Anomaly, Close, Layer, Tcp};
use crate::{At, Side, Ts};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU64;

/// A closed connection is kept this long after its last packet, for
/// retransmitted FINs and final ACKs (2 x the common 60 s MSL).
pub const CLOSED_LINGER: Ts = Ts(120 * 1_000_000_000);
/// An open connection idle this long is finished as if the capture ended.
pub const IDLE_TIMEOUT: Ts = Ts(3600 * 1_000_000_000);
/// All connections together buffer at most this many out-of-order bytes.
pub const GLOBAL_PENDING: usize = 256 << 20;
/// Connections alive at once, at most (see [`Table::segment`]). Each
/// costs about 1 KB in the table, more while a parser holds a partial
/// message.
pub const MAX_LIVE: usize = 1 << 17;
/// Packets between two checks for connections to expire.
const SWEEP_EVERY: u64 = 1 << 14;

/// What reads a connection's two byte streams.
pub trait Analyzer {
    /// The bytes `side` sent next, in stream order.
    fn on_data(&mut self, side: Side, data: &[u8], at: At);
    /// `len` bytes `side` sent were not captured.
    fn on_gap(&mut self, side: Side, len: u64, at: At);
    /// The connection ended: closed by `closer`, or `None` when the capture
    /// ended (or the connection went idle) first.
    fn on_close(&mut self, closer: Option<(Side, Close)>, at: At);
    /// Both streams have reached their FIN with nothing left buffered: no
    /// byte or gap will come again, only [`Analyzer::on_close`] when the
    /// connection is finished (after `CLOSED_LINGER`). What only served to
    /// read further bytes can be given back now.
    fn on_streams_done(&mut self) {}
}

/// The connection key: both endpoints, the smaller first, so both
/// directions of a connection find the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    lo: Endpoint,
    hi: Endpoint,
}

/// An address and port as plain integers, cheap to compare and hash: an
/// IPv4 address in the low 32 bits, told apart from the IPv6 address of
/// the same value by `v6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    addr: u128,
    port: u16,
    v6: bool,
}

impl Endpoint {
    fn new(ip: IpAddr, port: u16) -> Endpoint {
        let (addr, v6) = match ip {
            IpAddr::V4(a) => (u128::from(a.to_bits()), false),
            IpAddr::V6(a) => (a.to_bits(), true),
        };
        Endpoint { addr, port, v6 }
    }
}

impl Key {
    fn new(a: Endpoint, b: Endpoint) -> Key {
        if a <= b {
            Key { lo: a, hi: b }
        } else {
            Key { lo: b, hi: a }
        }
    }
}

/// Three words per key, every field in them, so equal keys hash equal.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo.addr);
        state.write_u128(self.hi.addr);
        state.write_u64(
            u64::from(self.lo.port) << 32
                | u64::from(self.hi.port) << 16
                | u64::from(self.lo.v6) << 1
                | u64::from(self.hi.v6),
        );
    }
}

/// Lifecycle of a connection, as far as the capture shows it.
///
/// ```text
///   SYN seen ----------------> Open --FIN--> Closing --FIN--> Closed
///   (or mid-stream pickup) ---^   \------------RST------------^
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// One side sent a FIN.
    Closing,
    /// Both sides sent a FIN, or either sent a RST.
    Closed,
}

/// Per side of a connection.
#[derive(Debug, Default)]
struct Half {
    addr: Option<SocketAddr>,
    packets: u64,
    /// TCP payload bytes on the wire, retransmissions included.
    bytes: u64,
    isn: Option<Seq>,
    fin: bool,
    rx: Reassembler,
    /// The packet of the first segment that hit each cap or was dropped.
    first: FirstPackets,
}

/// Packet numbers (1-based, so never zero: 8 bytes each) of the first of
/// each kind of loss on one side.
#[derive(Debug, Default)]
struct FirstPackets {
    stream_cap: Option<NonZeroU64>,
    budget_cap: Option<NonZeroU64>,
    out_of_window: Option<NonZeroU64>,
}

impl FirstPackets {
    /// Notes `packet` for each count that grew from `before` to `after`.
    fn note(&mut self, before: &Stats, after: &Stats, packet: u64) {
        for (slot, old, new) in [
            (
                &mut self.stream_cap,
                before.stream_cap_hits,
                after.stream_cap_hits,
            ),
            (
                &mut self.budget_cap,
                before.budget_cap_hits,
                after.budget_cap_hits,
            ),
            (
                &mut self.out_of_window,
                before.out_of_window,
                after.out_of_window,
            ),
        ] {
            if new > old && slot.is_none() {
                *slot = NonZeroU64::new(packet);
            }
        }
    }
}

struct Conn<A> {
    halves: [Half; 2],
    /// The endpoints of `halves`, client first, in the key's form: what
    /// tells the side of each segment.
    ends: [Endpoint; 2],
    state: State,
    syn_seen: bool,
    synack_seen: bool,
    role_inferred: bool,
    /// Whether any payload has been handed to the analyzer: roles may be
    /// swapped only before that.
    data_seen: bool,
    /// Finished early to keep the table under [`MAX_LIVE`].
    evicted: bool,
    closer: Option<(Side, Close)>,
    /// When the first FIN or RST was sent.
    closed_at: Option<Ts>,
    /// [`Analyzer::on_streams_done`] was called.
    streams_done: bool,
    first: At,
    last: At,
    app: A,
}

fn pick<T>(pair: &mut [T; 2], side: Side) -> &mut T {
    let [client, server] = pair;
    match side {
        Side::Client => client,
        Side::Server => server,
    }
}

impl<A> Conn<A> {
    fn side_of(&self, src: Endpoint) -> Side {
        let [client, _] = &self.ends;
        if *client == src {
            Side::Client
        } else {
            Side::Server
        }
    }

    fn swap_roles(&mut self) {
        self.halves.swap(0, 1);
        self.ends.swap(0, 1);
    }
}

/// Counters over all segments, exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub segments: u64,
    /// Open connections finished early to stay under [`MAX_LIVE`].
    pub evicted: u64,
    /// Both directions of every finished connection, summed.
    pub reassembly: Stats,
}

/// A connection the table is done with.
pub struct Finished<A> {
    pub tcp: Tcp,
    /// What the TCP layer gave up on in it, as anomalies (index 0 for
    /// `connection`, to be set by whoever numbers the connections):
    /// `evicted`; per side, `reassembly_cap`, `reassembly_budget` and
    /// `out_of_window`, each once, at the first packet concerned.
    pub anomalies: Vec<Anomaly>,
    pub app: A,
}

/// The connection table of one capture.
pub struct Table<A> {
    /// Boxed: a connection with its analyzer is a few hundred bytes that
    /// rehashing would otherwise move. Keyed with foldhash, seeded at
    /// random per table, so that a crafted capture cannot aim at collisions.
    conns: HashMap<Key, Box<Conn<A>>, foldhash::fast::RandomState>,
    max_live: usize,
    budget: usize,
    finished: Vec<Finished<A>>,
    new_app: Box<dyn Fn() -> A>,
    packets_since_sweep: u64,
    last_sweep: Ts,
    now: Ts,
    pub counters: Counters,
}

impl<A: Analyzer> Table<A> {
    /// A table whose connections get their analyzer from `new_app`.
    pub fn new(new_app: impl Fn() -> A + 'static) -> Table<A> {
        Table::with_max_live(new_app, MAX_LIVE)
    }

    /// A table that keeps at most `max_live` connections alive (at least
    /// one) instead of [`MAX_LIVE`].
    pub fn with_max_live(new_app: impl Fn() -> A + 'static, max_live: usize) -> Table<A> {
        Table {
            conns: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            max_live: max_live.max(1),
            budget: GLOBAL_PENDING,
            finished: Vec::new(),
            new_app: Box::new(new_app),
            packets_since_sweep: 0,
            last_sweep: Ts(i64::MIN),
            now: Ts(i64::MIN),
            counters: Counters::default(),
        }
    }

    /// Connections alive now.
    pub fn live(&self) -> usize {
        self.conns.len()
    }

    /// Whether connections finished since the last [`Self::take_finished`]:
    /// asked after every packet, mostly to hear no.
    #[inline]
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Connections finished since the last call, with their analyzers.
    pub fn take_finished(&mut self) -> impl Iterator<Item = Finished<A>> + '_ {
        (!self.finished.is_empty())
            .then(|| self.finished.drain(..))
            .into_iter()
            .flatten()
    }

    /// Takes one TCP segment.
    ///
    /// Roles: the sender of a SYN without ACK is the client; the sender of
    /// a SYN-ACK is the server. Otherwise (pickup mid-stream) the first
    /// payload decides when it is recognisable ([`payload_role`]), else
    /// the well-known or lower port is the server; an inference made from
    /// ports alone is revised by the first recognisable payload.
    ///
    /// A segment that would start connection number `max_live` + 1 first
    /// makes room (see [`Table::make_room`]).
    pub fn segment(&mut self, seg: &Segment<'_>, at: At) {
        self.counters.segments += 1;
        if at.ts > self.now {
            self.now = at.ts;
        }
        let src = Endpoint::new(seg.src, seg.sport);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let key = Key::new(src, dst);

        // A SYN with a new initial sequence number on a connection that is
        // closing or closed starts a new one (port reuse); the same ISN is
        // a retransmission.
        if seg.flags.syn && !seg.flags.ack {
            let reused = self.conns.get(&key).is_some_and(|c| {
                let [client, _] = &c.halves;
                c.state != State::Open && client.isn != Some(seg.seq)
            });
            if reused {
                self.finish(key, None);
            }
        }
        if self.conns.len() >= self.max_live && !self.conns.contains_key(&key) {
            self.make_room();
        }
        let new_app = &self.new_app;
        let conn = self.conns.entry(key).or_insert_with(|| {
            let src_addr = SocketAddr::new(seg.src, seg.sport);
            let dst_addr = SocketAddr::new(seg.dst, seg.dport);
            let (client, server, inferred) = initial_roles(seg, src_addr, dst_addr);
            let ends = if client == src_addr {
                [src, dst]
            } else {
                [dst, src]
            };
            Box::new(Conn {
                halves: [
                    Half {
                        addr: Some(client),
                        ..Half::default()
                    },
                    Half {
                        addr: Some(server),
                        ..Half::default()
                    },
                ],
                ends,
                state: State::Open,
                syn_seen: false,
                synack_seen: false,
                role_inferred: inferred,
                data_seen: false,
                evicted: false,
                closer: None,
                closed_at: None,
                streams_done: false,
                first: at,
                last: at,
                app: new_app(),
            })
        });
        conn.last = at;
        if conn.role_inferred
            && !conn.data_seen
            && payload_role(seg.payload).is_some_and(|role| role != conn.side_of(src))
        {
            conn.swap_roles();
        }
        let side = conn.side_of(src);
        let Conn {
            halves,
            app,
            state,
            closer,
            closed_at,
            syn_seen,
            synack_seen,
            data_seen,
            streams_done,
            ..
        } = &mut **conn;
        let half = pick(halves, side);
        half.packets += 1;
        half.bytes += seg.payload.len() as u64 + u64::from(seg.missing);
        if seg.flags.syn {
            if seg.flags.ack {
                *synack_seen = true;
            } else if side == Side::Client {
                *syn_seen = true;
            }
            if half.isn.is_none() {
                half.isn = Some(seg.seq);
                half.rx.start_after_syn(seg.seq);
            } else if seg.flags.ack
                && half.isn != Some(seg.seq)
                && !half.fin
                && half.rx.stats.delivered == 0
                && half.rx.stats.gap_bytes == 0
                && half.rx.pending_bytes() == 0
            {
                // A SYN-ACK with another ISN before this side's stream holds
                // anything: the server answered the SYN again, and which
                // answer the client took (RFC 9293 section 3.10.7.3) shows
                // only in the data to come; the latest is taken, as tshark
                // numbers the stream too.
                let stats = half.rx.stats;
                half.rx = Reassembler::default();
                half.rx.stats = stats;
                half.isn = Some(seg.seq);
                half.rx.start_after_syn(seg.seq);
            }
        }
        let budget = &mut self.budget;
        // An ACK from this side tells the other side's stream what arrived.
        if seg.flags.ack {
            pick(halves, side.other()).rx.peer_acked(
                seg.ack,
                budget,
                &mut sink_for(app, side.other(), at),
            );
        }
        let half = pick(halves, side);
        let data_seq = if seg.flags.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !seg.payload.is_empty() || seg.missing > 0 {
            *data_seen = true;
            let before = half.rx.stats;
            half.rx.segment(
                data_seq,
                seg.payload,
                seg.missing,
                budget,
                &mut sink_for(app, side, at),
            );
            half.first.note(&before, &half.rx.stats, at.packet);
        }
        // Mid-stream, a stream starts at its first data, not at a pure ACK:
        // a keep-alive probe's sequence number is one below the next byte
        // (RFC 9293 section 3.8.4), and starting there would open with a gap.
        if seg.flags.fin {
            half.fin = true;
            half.rx
                .fin(data_seq.wrapping_add((seg.payload.len() as u32).wrapping_add(seg.missing)));
            if closer.is_none() {
                *closer = Some((side, Close::Fin));
                *closed_at = Some(at.ts);
            }
            let [c, s] = &*halves;
            *state = if c.fin && s.fin {
                State::Closed
            } else {
                State::Closing
            };
        }
        if seg.flags.rst {
            if closer.is_none() {
                *closer = Some((side, Close::Rst));
                *closed_at = Some(at.ts);
            }
            *state = State::Closed;
        }
        if !*streams_done && halves.iter().all(|h| h.rx.is_done()) {
            *streams_done = true;
            app.on_streams_done();
        }

        self.packets_since_sweep += 1;
        if self.packets_since_sweep >= SWEEP_EVERY {
            self.packets_since_sweep = 0;
            self.sweep();
        }
    }

    /// Finishes connections whose time is up, at most once per second of
    /// capture time.
    fn sweep(&mut self) {
        if self.now.0.saturating_sub(self.last_sweep.0) < 1_000_000_000 {
            return;
        }
        self.last_sweep = self.now;
        let now = self.now;
        let expired: Vec<Key> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                let idle = now.0.saturating_sub(c.last.ts.0);
                match c.state {
                    State::Closed => idle > CLOSED_LINGER.0,
                    State::Open | State::Closing => idle > IDLE_TIMEOUT.0,
                }
            })
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            self.finish(key, None);
        }
    }

    /// Brings the table down to 7/8 of `max_live` (so that the sort is
    /// not redone for every new connection): closed connections first,
    /// whatever their linger (what they lose is at most a retransmitted
    /// FIN), then the open ones whose last packet is oldest, finished as
    /// if the capture had ended there and marked evicted.
    fn make_room(&mut self) {
        let target = (self.max_live - self.max_live / 8).min(self.max_live - 1);
        let excess = self.conns.len().saturating_sub(target);
        let mut order: Vec<(bool, Ts, u64, Key)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.state != State::Closed, c.last.ts, c.first.packet, *k))
            .collect();
        order.sort_unstable();
        for (open, _, _, key) in order.into_iter().take(excess) {
            if open {
                self.counters.evicted += 1;
                if let Some(c) = self.conns.get_mut(&key) {
                    c.evicted = true;
                }
            }
            self.finish(key, None);
        }
    }

    /// Flushes a connection's streams, tells its analyzer it ended, and
    /// moves it to the finished list.
    fn finish(&mut self, key: Key, end: Option<At>) {
        let Some(mut conn) = self.conns.remove(&key) else {
            return;
        };
        let at = end.unwrap_or(conn.last);
        for side in [Side::Client, Side::Server] {
            let Conn { halves, app, .. } = &mut *conn;
            pick(halves, side)
                .rx
                .flush(&mut self.budget, &mut sink_for(app, side, at));
        }
        let closer = match conn.state {
            State::Closed | State::Closing => conn.closer,
            State::Open => None,
        };
        conn.app.on_close(closer, at);
        let anomalies = tcp_anomalies(&conn);
        let [client, server] = conn.halves;
        self.counters.reassembly.add(&client.rx.stats);
        self.counters.reassembly.add(&server.rx.stats);
        let unknown = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0);
        let tcp = Tcp {
            client: client.addr.unwrap_or(unknown),
            server: server.addr.unwrap_or(unknown),
            first_packet: conn.first.packet,
            start: conn.first.ts,
            end: conn.last.ts,
            syn_seen: conn.syn_seen,
            synack_seen: conn.synack_seen,
            role_inferred: conn.role_inferred,
            packets: [client.packets, server.packets].into(),
            bytes: [client.bytes, server.bytes].into(),
            stream_bytes: [client.rx.stats.delivered, server.rx.stats.delivered].into(),
            gap_bytes: [client.rx.stats.gap_bytes, server.rx.stats.gap_bytes].into(),
            retransmissions: [client.rx.stats.duplicates, server.rx.stats.duplicates].into(),
            closed_by: closer.map(|(side, _)| side),
            closed_at: closer.and(conn.closed_at),
            close: closer.map(|(_, how)| how),
            evicted: conn.evicted,
        };
        self.finished.push(Finished {
            tcp,
            anomalies,
            app: conn.app,
        });
    }

    /// The capture ended: finishes every connection still alive, in the
    /// order they began.
    pub fn finish_all(&mut self) {
        let mut keys: Vec<(u64, Key)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.first.packet, *k))
            .collect();
        keys.sort_unstable_by_key(|(first, _)| *first);
        for (_, key) in keys {
            self.finish(key, None);
        }
    }
}

/// What the TCP layer gave up on in `conn`: nothing allocated unless
/// something was.
fn tcp_anomalies<A>(conn: &Conn<A>) -> Vec<Anomaly> {
    let anomaly = |kind: &str, side, packet, bytes| Anomaly {
        connection: 0,
        layer: Layer::Tcp,
        kind: kind.to_string(),
        side,
        packet,
        bytes,
    };
    let mut out = Vec::new();
    if conn.evicted {
        out.push(anomaly("evicted", None, conn.last.packet, None));
    }
    for (side, half) in [Side::Client, Side::Server].into_iter().zip(&conn.halves) {
        let s = &half.rx.stats;
        let f = &half.first;
        for (kind, first, bytes) in [
            ("reassembly_cap", f.stream_cap, s.stream_cap_gap_bytes),
            ("reassembly_budget", f.budget_cap, s.budget_cap_gap_bytes),
            ("out_of_window", f.out_of_window, s.out_of_window_bytes),
        ] {
            if let Some(packet) = first {
                out.push(anomaly(kind, Some(side), packet.get(), Some(bytes)));
            }
        }
    }
    out
}

/// A sink that hands one side's stream events to the analyzer.
fn sink_for<A: Analyzer>(app: &mut A, side: Side, at: At) -> impl FnMut(Event<'_>) + '_ {
    move |ev| match ev {
        Event::Data(d) => app.on_data(side, d, at),
        Event::Gap(n) => app.on_gap(side, n, at),
    }
}

/// Ports on which a server listens, for inferring roles mid-stream.
fn is_service_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1080 | 3128 | 8000 | 8008 | 8080 | 8081 | 8443 | 8888 | 9443
        )
}

/// The first packet's view of who is the client: (client, server, inferred).
fn initial_roles(
    seg: &Segment<'_>,
    src: SocketAddr,
    dst: SocketAddr,
) -> (SocketAddr, SocketAddr, bool) {
    if seg.flags.syn {
        return if seg.flags.ack {
            (dst, src, false)
        } else {
            (src, dst, false)
        };
    }
    if let Some(role) = payload_role(seg.payload) {
        return match role {
            Side::Client => (src, dst, true),
            Side::Server => (dst, src, true),
        };
    }
    let src_is_server = match (is_service_port(seg.sport), is_service_port(seg.dport)) {
        (true, false) => true,
        (false, true) => false,
        _ => seg.sport < seg.dport,
    };
    if src_is_server {
        (dst, src, true)
    } else {
        (src, dst, true)
    }
}

/// Which side sends a payload that begins like this, when it is telling:
/// a TLS ClientHello or an HTTP request or HTTP/2 preface comes from the
/// client; a TLS ServerHello or an HTTP response from the server.
pub fn payload_role(p: &[u8]) -> Option<Side> {
    match p {
        // TLS handshake record (RFC 8446 section 5.1) carrying message type 1 or 2.
        [0x16, 0x03, 0..=4, _, _, 1, ..] => Some(Side::Client),
        [0x16, 0x03, 0..=4, _, _, 2, ..] => Some(Side::Server),
        _ if p.starts_with(b"HTTP/1.") => Some(Side::Server),
        _ if p.starts_with(b"PRI * HTTP/2.0") => Some(Side::Client),
        _ => {
            const METHODS: [&[u8]; 9] = [
                b"GET ",
                b"POST ",
                b"HEAD ",
                b"PUT ",
                b"DELETE ",
                b"OPTIONS ",
                b"CONNECT ",
                b"PATCH ",
                b"TRACE ",
            ];
            METHODS
                .iter()
                .any(|m| p.starts_with(m))
                .then_some(Side::Client)
        }
    }
}

#[cfg(test)]
mod tests;
