//! The sandbox's TCP/IP stack for traffic that leaves it: smoltcp over
//! one host packet socket (AF_PACKET, bound to the sandbox's interface),
//! so the application's TCP and UDP never reach the host kernel as
//! sockets, only as Ethernet frames.
//!
//! The sentry sees connections, listeners and datagram sockets, never
//! smoltcp. smoltcp is built to scan every socket for every frame; here
//! each socket is a socket set of its own, and the stack dispatches: a
//! frame goes to the set its 4-tuple (or listening or UDP port) names,
//! found in hash maps, and each set's next timer waits in one ordered
//! queue. So the cost of a frame or a timer does not grow with the number
//! of sockets. (The interface's state, its ARP cache, is shared.)
//!
//! A stack thread reads frames and runs the timers; a caller's send or
//! receive runs its own socket's output itself, so its frames leave
//! without a hand-off to another thread. Callbacks into the sentry
//! (wakers, accepted connections, datagrams) run after the core's lock is
//! let go: the lock is a leaf in the sentry's lock order.

mod device;

use parking_lot::Mutex;
use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::{Duration as SmolDuration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint,
};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use device::OneFrame;
pub use device::PacketDevice;

/// A TCP connection's buffers (1 MiB received 25% faster from the host
/// than 256 KiB; 4 MiB no faster), so window
/// scaling is negotiated.
const TCP_BUF: usize = 1024 * 1024;
/// A UDP socket's receive and send room, and how many datagrams each holds.
const UDP_BUF: usize = 256 * 1024;
const UDP_SLOTS: usize = 128;
/// Listening sockets kept ready per listener (each takes one handshake).
const LISTEN_POOL_MAX: usize = 16;
/// A connect gives up after this long without an answer (Linux: about
/// two minutes with tcp_syn_retries 6).
const CONNECT_TIMEOUT: SmolDuration = SmolDuration::from_secs(127);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("would block")]
    WouldBlock,
    #[error("connection refused")]
    Refused,
    #[error("connection reset")]
    Reset,
    #[error("timed out")]
    TimedOut,
    #[error("not connected")]
    NotConnected,
    #[error("broken pipe")]
    Pipe,
    #[error("address in use")]
    AddrInUse,
    #[error("network unreachable")]
    Unreachable,
    #[error("message too long")]
    MsgSize,
    #[error("invalid argument")]
    Invalid,
}

impl NetError {
    /// The errno Linux gives for it.
    pub fn errno(self) -> i32 {
        match self {
            NetError::WouldBlock => libc::EAGAIN,
            NetError::Refused => libc::ECONNREFUSED,
            NetError::Reset => libc::ECONNRESET,
            NetError::TimedOut => libc::ETIMEDOUT,
            NetError::NotConnected => libc::ENOTCONN,
            NetError::Pipe => libc::EPIPE,
            NetError::AddrInUse => libc::EADDRINUSE,
            NetError::Unreachable => libc::ENETUNREACH,
            NetError::MsgSize => libc::EMSGSIZE,
            NetError::Invalid => libc::EINVAL,
        }
    }
}

/// The sandbox's interface as the host set it up.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub mac: [u8; 6],
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: usize,
    /// Verify the TCP and UDP checksums of received frames. Off where
    /// the peer may leave them to offload (a veth whose host end is not
    /// ours: frames the host itself sends arrive unfinished), as runsc's
    /// rx-checksum-offload does.
    pub rx_checksum: bool,
}

impl Config {
    /// Parses `name=eth0,mac=..,addr=10.0.0.2/30,gw=10.0.0.1,mtu=1500`
    /// (what `husk do` passes to the sandbox process).
    pub fn parse(s: &str) -> Result<Config, String> {
        let mut c = Config {
            name: "eth0".into(),
            mac: [0; 6],
            addr: Ipv4Addr::UNSPECIFIED,
            prefix: 32,
            gateway: None,
            mtu: 1500,
            rx_checksum: true,
        };
        for kv in s.split(',') {
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("{kv}: no '='"))?;
            let bad = |_| format!("{k}: bad value {v}");
            match k {
                "name" => c.name = v.into(),
                "mac" => {
                    let parts: Vec<u8> = v
                        .split(':')
                        .map(|p| u8::from_str_radix(p, 16))
                        .collect::<Result<_, _>>()
                        .map_err(bad)?;
                    c.mac = parts
                        .try_into()
                        .map_err(|_| format!("mac: bad value {v}"))?;
                }
                "addr" => {
                    let (a, p) = v.split_once('/').unwrap_or((v, "32"));
                    c.addr = a.parse().map_err(|_| format!("addr: bad value {v}"))?;
                    c.prefix = p.parse().map_err(|_| format!("addr: bad value {v}"))?;
                }
                "gw" => c.gateway = Some(v.parse().map_err(|_| format!("gw: bad value {v}"))?),
                "mtu" => c.mtu = v.parse().map_err(|_| format!("mtu: bad value {v}"))?,
                "rxcsum" => {
                    c.rx_checksum = match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("rxcsum: bad value {v}")),
                    }
                }
                _ => return Err(format!("{k}: unknown key")),
            }
        }
        if c.addr.is_unspecified() || c.prefix > 32 || !(576..=65535).contains(&c.mtu) {
            return Err(format!("{s}: incomplete"));
        }
        Ok(c)
    }

    /// The form [`Config::parse`] reads.
    pub fn render(&self) -> String {
        let m = self.mac;
        let mut s = format!(
            "name={},mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x},addr={}/{},mtu={}",
            self.name, m[0], m[1], m[2], m[3], m[4], m[5], self.addr, self.prefix, self.mtu
        );
        if let Some(g) = self.gateway {
            s.push_str(&format!(",gw={g}"));
        }
        if !self.rx_checksum {
            s.push_str(",rxcsum=off");
        }
        s
    }
}

/// Told when a socket's state may have changed.
pub type Waker = Arc<dyn Fn() + Send + Sync>;
/// Given each accepted connection; giving it back refuses it (the
/// backlog is full).
pub type OnAccept = Arc<dyn Fn(TcpConn) -> Option<TcpConn> + Send + Sync>;
/// Given each datagram a UDP socket receives, with its sender.
pub type OnDatagram = Arc<dyn Fn(SocketAddr, &[u8]) + Send + Sync>;

/// What a connection reports to poll.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Data to read, or the end of the stream.
    pub readable: bool,
    /// Room to send on an established connection.
    pub writable: bool,
    /// The peer sent its FIN.
    pub peer_closed: bool,
    /// Both directions are over (or it failed).
    pub hup: bool,
    /// A pending error (SO_ERROR).
    pub error: bool,
    /// The handshake is not done yet.
    pub connecting: bool,
}

struct ConnMeta {
    waker: Option<Waker>,
    /// What the sentry was last told, to wake only on changes.
    seen: (tcp::State, bool, bool),
    error: Option<NetError>,
    /// The application closed it: it lingers until the stack is done.
    orphan: bool,
    /// When the connect was sent (for refused vs timed out).
    connect_at: Option<Instant>,
}

/// A listening port: sockets listening, or part-way through a handshake
/// (those are also found by their tuple).
struct Pool {
    port: u16,
    backlog: usize,
    members: Vec<Id>,
    on_accept: OnAccept,
}

enum Kind {
    Conn(ConnMeta),
    /// A listening socket of the pool with this id.
    Member(u64),
    Udp(OnDatagram),
    /// An ICMP echo identifier's socket: replies go to the callback.
    Icmp(OnDatagram),
}

/// One socket in a set of its own.
struct Sock {
    set: SocketSet<'static>,
    h: SocketHandle,
    kind: Kind,
    /// Its entry in `Core::timers`.
    timer: Option<Instant>,
    /// Its key in `Core::tuples` (a TCP socket with a peer).
    tuple: Option<Tuple>,
}

type Id = u64;
/// A TCP connection's key: local port, remote address and port.
type Tuple = (u16, IpAddr, u16);

/// What to tell the sentry once the lock is let go.
enum Event {
    Wake(Waker),
    Accept(OnAccept, Id),
    Datagram(OnDatagram, SocketAddr, Vec<u8>),
}

/// Where a frame goes.
enum Dest {
    Sock(Id),
    /// Nobody's: the interface answers (ARP, ICMP echo, a reset, port
    /// unreachable) with no socket.
    Iface,
}

struct Core {
    iface: Interface,
    dev: PacketDevice,
    rx: Vec<u8>,
    socks: HashMap<Id, Sock>,
    next_id: Id,
    tuples: HashMap<Tuple, Id>,
    listeners: HashMap<u16, u64>,
    pools: HashMap<u64, Pool>,
    udp_ports: HashMap<u16, Id>,
    icmp_idents: HashMap<u16, Id>,
    /// Each socket's next timer.
    timers: BTreeSet<(Instant, Id)>,
    /// For frames no socket takes.
    empty: SocketSet<'static>,
    epoch: std::time::Instant,
    /// When the stack thread will next run the timers (None: only on a
    /// frame or a kick).
    thread_wakes: Option<Instant>,
    /// What was taken out under the lock, dropped after it: a socket's
    /// callbacks may hold what calls back into the stack.
    graveyard: Vec<Box<dyn Send>>,
}

struct Shared {
    core: Mutex<Core>,
    /// Wakes the stack thread (a new timer to arm).
    kick: OwnedFd,
    config: Config,
}

/// The stack; dropping every handle does not stop its thread, which ends
/// with the sandbox.
#[derive(Clone)]
pub struct Stack(Arc<Shared>);

fn to_std(e: IpEndpoint) -> SocketAddr {
    match e.addr {
        IpAddress::Ipv4(a) => SocketAddr::V4(SocketAddrV4::new(a, e.port)),
        IpAddress::Ipv6(a) => SocketAddr::new(IpAddr::V6(a), e.port),
    }
}

fn to_smol(a: SocketAddr) -> Result<IpEndpoint, NetError> {
    match a {
        SocketAddr::V4(v4) => Ok(IpEndpoint::new(IpAddress::Ipv4(*v4.ip()), v4.port())),
        // The interface has IPv4 only.
        SocketAddr::V6(_) => Err(NetError::Unreachable),
    }
}

/// The TCP or UDP ports and source address of an IPv4 frame:
/// (protocol, source, source port, destination port).
fn classify(f: &[u8]) -> Option<(u8, IpAddr, u16, u16)> {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    // A later fragment carries no ports.
    let frag = u16::from_be_bytes([f[20], f[21]]) & 0x1fff;
    let l4 = 14 + ihl;
    if frag != 0 || f.len() < l4 + 4 {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(f[26], f[27], f[28], f[29]));
    let sport = u16::from_be_bytes([f[l4], f[l4 + 1]]);
    let dport = u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]);
    Some((f[23], src, sport, dport))
}

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

impl Stack {
    /// Starts the stack on `fd`, a packet socket bound to the interface
    /// `config` describes.
    pub fn start(fd: OwnedFd, config: Config) -> std::io::Result<Stack> {
        let mut dev = PacketDevice::new(fd, config.mtu, config.rx_checksum)?;
        let mac = EthernetAddress(config.mac);
        let mut ic = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        ic.random_seed = {
            let mut b = [0u8; 8];
            rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())?;
            u64::from_ne_bytes(b)
        };
        let epoch = std::time::Instant::now();
        let mut iface = Interface::new(ic, &mut dev, Instant::from_micros(0));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(config.addr), config.prefix));
        });
        if let Some(g) = config.gateway {
            iface
                .routes_mut()
                .add_default_ipv4_route(g)
                .map_err(|_| std::io::Error::other("default route"))?;
        }
        let kick = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        let rx = vec![0u8; dev.frame_max()];
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                iface,
                dev,
                rx,
                socks: HashMap::new(),
                next_id: 1,
                tuples: HashMap::new(),
                listeners: HashMap::new(),
                pools: HashMap::new(),
                udp_ports: HashMap::new(),
                icmp_idents: HashMap::new(),
                timers: BTreeSet::new(),
                empty: SocketSet::new(Vec::new()),
                epoch,
                thread_wakes: None,
                graveyard: Vec::new(),
            }),
            kick,
            config,
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("netstack".into())
            .spawn(move || run(&s))?;
        Ok(Stack(shared))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Whether `ip` is the interface's own address.
    pub fn is_own(&self, ip: IpAddr) -> bool {
        ip == IpAddr::V4(self.0.config.addr)
    }

    /// Starts a connection from `port` of the interface's address to
    /// `remote`; the handshake goes on in the background.
    pub fn tcp_connect(
        &self,
        port: u16,
        remote: SocketAddr,
        waker: Waker,
    ) -> Result<TcpConn, NetError> {
        let ep = to_smol(remote)?;
        if ep.port == 0 || ep.addr.is_unspecified() {
            return Err(NetError::Invalid);
        }
        let tuple = (port, remote.ip(), remote.port());
        let id = with_core(&self.0, None, |c| {
            if c.tuples.contains_key(&tuple) {
                return Err(NetError::AddrInUse);
            }
            let mut s = new_tcp();
            s.set_timeout(Some(CONNECT_TIMEOUT));
            let local = IpListenEndpoint {
                addr: Some(IpAddress::Ipv4(self.0.config.addr)),
                port,
            };
            s.connect(c.iface.context(), ep, local)
                .map_err(|_| NetError::Unreachable)?;
            let now = c.now();
            let id = c.add(
                s,
                Kind::Conn(ConnMeta {
                    waker: Some(waker),
                    seen: (tcp::State::SynSent, false, false),
                    error: None,
                    orphan: false,
                    connect_at: Some(now),
                }),
            );
            c.set_tuple(id, Some(tuple));
            Ok(id)
        })?;
        // The SYN.
        with_core(&self.0, Some(id), |_| ());
        Ok(TcpConn {
            stack: self.0.clone(),
            id,
        })
    }

    /// Listens on `port` of the interface's address; each connection
    /// whose handshake completes goes to `on_accept`.
    pub fn tcp_listen(
        &self,
        port: u16,
        backlog: usize,
        on_accept: OnAccept,
    ) -> Result<Listener, NetError> {
        with_core(&self.0, None, |c| {
            if c.listeners.contains_key(&port) {
                return Err(NetError::AddrInUse);
            }
            let id = c.next_id;
            c.next_id += 1;
            c.pools.insert(
                id,
                Pool {
                    port,
                    backlog,
                    members: Vec::new(),
                    on_accept,
                },
            );
            c.listeners.insert(port, id);
            c.refill(id);
            Ok(Listener {
                stack: self.0.clone(),
                id,
            })
        })
    }

    /// An ICMP socket for echo identifier `ident`: the echo replies that
    /// carry it go to `on_reply` (the sender's address, port 0, and the
    /// ICMP message).
    pub fn icmp_bind(&self, ident: u16, on_reply: OnDatagram) -> Result<IcmpSock, NetError> {
        with_core(&self.0, None, |c| {
            if c.icmp_idents.contains_key(&ident) {
                return Err(NetError::AddrInUse);
            }
            let buf = || {
                icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 16], vec![0u8; 16 * 1024])
            };
            let mut s = icmp::Socket::new(buf(), buf());
            s.bind(icmp::Endpoint::Ident(ident))
                .map_err(|_| NetError::AddrInUse)?;
            let id = c.add(s, Kind::Icmp(on_reply));
            c.icmp_idents.insert(ident, id);
            Ok(IcmpSock {
                stack: self.0.clone(),
                id,
                ident,
            })
        })
    }

    /// One datagram from `port`, whose UDP socket another holds (two
    /// sockets sharing a port with SO_REUSEADDR): EINVAL when nobody
    /// holds it.
    pub fn udp_send_from(&self, port: u16, to: SocketAddr, data: &[u8]) -> Result<usize, NetError> {
        let id = self
            .0
            .core
            .lock()
            .udp_ports
            .get(&port)
            .copied()
            .ok_or(NetError::Invalid)?;
        udp_send(&self.0, id, to, data)
    }

    /// A UDP socket on `port` of the interface's address; what it
    /// receives goes to `on_datagram`.
    pub fn udp_bind(&self, port: u16, on_datagram: OnDatagram) -> Result<UdpSock, NetError> {
        with_core(&self.0, None, |c| {
            if c.udp_ports.contains_key(&port) {
                return Err(NetError::AddrInUse);
            }
            let buf = || {
                udp::PacketBuffer::new(
                    vec![udp::PacketMetadata::EMPTY; UDP_SLOTS],
                    vec![0u8; UDP_BUF],
                )
            };
            let mut s = udp::Socket::new(buf(), buf());
            s.bind(port).map_err(|_| NetError::AddrInUse)?;
            let id = c.add(s, Kind::Udp(on_datagram));
            c.udp_ports.insert(port, id);
            Ok(UdpSock {
                stack: self.0.clone(),
                id,
            })
        })
    }
}

/// Whether a writer should be woken: a third of the send buffer is free,
/// as Linux's sk_stream_wspace rule (a wake per acknowledged segment
/// would cost a trap each).
fn send_room(s: &tcp::Socket) -> bool {
    s.may_send() && s.send_capacity() - s.send_queue() >= s.send_capacity() / 3
}

fn new_tcp() -> tcp::Socket<'static> {
    // The buffers are zeroed pages the host gives lazily: an idle
    // connection costs little of them.
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
    );
    // Linux's delayed ACK is adaptive; smoltcp's fixed 10 ms stalls
    // request/response traffic.
    s.set_ack_delay(None);
    s
}

/// Runs `f` on the core, then the output of socket `id` (if any), then
/// tells the sentry what changed (after the lock).
fn with_core<R>(sh: &Arc<Shared>, id: Option<Id>, f: impl FnOnce(&mut Core) -> R) -> R {
    let mut events = Vec::new();
    let (r, earlier, dead) = {
        let mut c = sh.core.lock();
        let r = f(&mut c);
        if let Some(id) = id {
            c.egress(id, &mut events);
        }
        let earlier = match (c.timers.first(), c.thread_wakes) {
            (Some(&(a, _)), Some(t)) => a < t,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier {
            c.thread_wakes = c.timers.first().map(|t| t.0);
        }
        (r, earlier, std::mem::take(&mut c.graveyard))
    };
    drop(dead);
    dispatch(sh, events);
    // A new timer (a retransmission) falls before the one the thread
    // sleeps for.
    if earlier {
        let _ = rustix::io::write(&sh.kick, &1u64.to_ne_bytes());
    }
    r
}

fn dispatch(sh: &Arc<Shared>, events: Vec<Event>) {
    for e in events {
        match e {
            Event::Wake(w) => w(),
            Event::Accept(f, id) => {
                let conn = TcpConn {
                    stack: sh.clone(),
                    id,
                };
                // Refused (a full backlog): reset, as Linux with
                // tcp_abort_on_overflow; the handshake is already done.
                if let Some(c) = f(conn) {
                    c.reset();
                }
            }
            Event::Datagram(f, from, data) => f(from, &data),
        }
    }
}

impl Core {
    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    fn add<T: smoltcp::socket::AnySocket<'static>>(&mut self, s: T, kind: Kind) -> Id {
        let mut set = SocketSet::new(Vec::with_capacity(1));
        let h = set.add(s);
        let id = self.next_id;
        self.next_id += 1;
        self.socks.insert(
            id,
            Sock {
                set,
                h,
                kind,
                timer: None,
                tuple: None,
            },
        );
        id
    }

    fn remove(&mut self, id: Id) {
        self.set_tuple(id, None);
        if let Some(s) = self.socks.remove(&id) {
            if let Some(t) = s.timer {
                self.timers.remove(&(t, id));
            }
            self.graveyard.push(Box::new(s));
        }
    }

    /// Files socket `id` under `tuple` (None: under nothing).
    fn set_tuple(&mut self, id: Id, tuple: Option<Tuple>) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        if let Some(old) = std::mem::replace(&mut s.tuple, tuple) {
            if self.tuples.get(&old) == Some(&id) {
                self.tuples.remove(&old);
            }
        }
        if let Some(t) = tuple {
            self.tuples.insert(t, id);
        }
    }

    fn tcp(&mut self, id: Id) -> Option<&mut tcp::Socket<'static>> {
        let s = self.socks.get_mut(&id)?;
        Some(s.set.get_mut::<tcp::Socket>(s.h))
    }

    /// Keeps pool `pid` listening with up to its backlog of sockets.
    fn refill(&mut self, pid: u64) {
        let Some(pool) = self.pools.get(&pid) else {
            return;
        };
        let (port, want) = (pool.port, pool.backlog.clamp(1, LISTEN_POOL_MAX));
        let members = pool.members.clone();
        let listening = members
            .iter()
            .filter(|m| {
                self.tcp(**m)
                    .is_some_and(|s| s.state() == tcp::State::Listen)
            })
            .count();
        for _ in listening..want {
            let mut s = new_tcp();
            if s.listen(port).is_err() {
                return;
            }
            let id = self.add(s, Kind::Member(pid));
            if let Some(p) = self.pools.get_mut(&pid) {
                p.members.push(id);
            }
        }
    }

    /// Where a frame goes.
    fn route(&self, f: &[u8]) -> Dest {
        let Some((proto, src, sport, dport)) = classify(f) else {
            return Dest::Iface;
        };
        let found = match proto {
            // An echo reply: its identifier (where a port would be) names
            // the socket.
            PROTO_ICMP if sport >> 8 == 0 => {
                let ihl = usize::from(f[14] & 0xf) * 4;
                let at = 14 + ihl + 4;
                f.get(at..at + 2)
                    .and_then(|b| self.icmp_idents.get(&u16::from_be_bytes([b[0], b[1]])))
                    .copied()
            }
            PROTO_TCP => self.tuples.get(&(dport, src, sport)).copied().or_else(|| {
                let pool = self.pools.get(self.listeners.get(&dport)?)?;
                pool.members.iter().copied().find(|m| {
                    self.socks.get(m).is_some_and(|s| {
                        s.set.get::<tcp::Socket>(s.h).state() == tcp::State::Listen
                    })
                })
            }),
            PROTO_UDP => self.udp_ports.get(&dport).copied(),
            _ => None,
        };
        found.map_or(Dest::Iface, Dest::Sock)
    }

    /// Reads and handles every frame waiting; whether any was read. The
    /// sockets the frames were for answer once, after the last (one ACK
    /// for a burst, one wake of their owner).
    fn ingress(&mut self, events: &mut Vec<Event>) -> bool {
        let mut touched: Vec<Id> = Vec::new();
        let mut arp = false;
        while let Some(n) = self.dev.read(&mut self.rx) {
            let now = self.now();
            let frame = std::mem::take(&mut self.rx);
            let dest = self.route(&frame[..n]);
            let mut one = OneFrame::new(&self.dev, Some(&frame[..n]));
            match dest {
                Dest::Sock(id) => {
                    if let Some(s) = self.socks.get_mut(&id) {
                        self.iface.poll_ingress_single(now, &mut one, &mut s.set);
                    }
                    if !touched.contains(&id) {
                        touched.push(id);
                    }
                }
                Dest::Iface => {
                    arp |= n >= 14 && frame[12..14] == [0x08, 0x06];
                    self.iface
                        .poll_ingress_single(now, &mut one, &mut self.empty);
                }
            }
            self.rx = frame;
            // A listener's handshake moves its socket between maps: the
            // next frame must find it where it now is.
            if touched.len() >= 64 || matches!(dest, Dest::Sock(id) if self.is_member(id)) {
                for id in touched.drain(..) {
                    self.egress(id, events);
                }
            }
        }
        let any = !touched.is_empty() || arp;
        for id in touched {
            self.egress(id, events);
        }
        if arp {
            // Sockets waiting for this neighbour go now, not after
            // smoltcp's silent second.
            let waiting: Vec<Id> = self.timers.iter().map(|t| t.1).collect();
            for id in waiting {
                self.egress(id, events);
            }
        }
        any
    }

    fn is_member(&self, id: Id) -> bool {
        self.socks
            .get(&id)
            .is_some_and(|s| matches!(s.kind, Kind::Member(_)))
    }

    /// Sends what socket `id` has to send, then looks at what changed.
    fn egress(&mut self, id: Id, events: &mut Vec<Event>) {
        let now = self.now();
        if let Some(s) = self.socks.get_mut(&id) {
            let mut one = OneFrame::new(&self.dev, None);
            for _ in 0..4096 {
                if self.iface.poll_egress(now, &mut one, &mut s.set) == PollResult::None {
                    break;
                }
            }
        }
        self.after(id, now, events);
    }

    /// What socket `id`'s owner must hear, and its next timer.
    fn after(&mut self, id: Id, now: Instant, events: &mut Vec<Event>) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        let at = self.iface.poll_at(now, &s.set);
        if s.timer != at {
            if let Some(t) = s.timer {
                self.timers.remove(&(t, id));
            }
            if let Some(t) = at {
                self.timers.insert((t, id));
            }
            s.timer = at;
        }
        match &mut s.kind {
            Kind::Udp(f) => {
                let f = f.clone();
                let u = s.set.get_mut::<udp::Socket>(s.h);
                while let Ok((data, meta)) = u.recv() {
                    events.push(Event::Datagram(
                        f.clone(),
                        to_std(meta.endpoint),
                        data.to_vec(),
                    ));
                }
            }
            Kind::Icmp(f) => {
                let f = f.clone();
                let s = s.set.get_mut::<icmp::Socket>(s.h);
                while let Ok((data, from)) = s.recv() {
                    let from = to_std(IpEndpoint::new(from, 0));
                    events.push(Event::Datagram(f.clone(), from, data.to_vec()));
                }
            }
            Kind::Member(pid) => {
                let pid = *pid;
                let t = s.set.get::<tcp::Socket>(s.h);
                let st = t.state();
                let tuple = t
                    .local_endpoint()
                    .zip(t.remote_endpoint())
                    .map(|(l, r)| (l.port, to_std(r).ip(), r.port));
                match st {
                    tcp::State::Listen => {}
                    tcp::State::SynReceived => {
                        // Later segments of this handshake come by tuple.
                        if tuple.is_some() {
                            self.set_tuple(id, tuple);
                        }
                        self.refill(pid);
                    }
                    tcp::State::Closed => {
                        // A handshake that failed: listen again.
                        self.set_tuple(id, None);
                        let port = self.pools.get(&pid).map(|p| p.port);
                        if let (Some(port), Some(t)) = (port, self.tcp(id)) {
                            let _ = t.listen(port);
                        }
                    }
                    _ => {
                        // Established: out of the pool, to the listener.
                        let Some(pool) = self.pools.get_mut(&pid) else {
                            return;
                        };
                        pool.members.retain(|m| *m != id);
                        let f = pool.on_accept.clone();
                        if tuple.is_some() {
                            self.set_tuple(id, tuple);
                        }
                        if let Some(s) = self.socks.get_mut(&id) {
                            s.kind = Kind::Conn(ConnMeta {
                                waker: None,
                                seen: (st, false, false),
                                error: None,
                                orphan: false,
                                connect_at: None,
                            });
                        }
                        self.refill(pid);
                        events.push(Event::Accept(f, id));
                    }
                }
            }
            Kind::Conn(m) => {
                let t = s.set.get::<tcp::Socket>(s.h);
                let st = t.state();
                if m.orphan {
                    if st == tcp::State::Closed {
                        self.remove(id);
                    }
                    return;
                }
                let seen = (st, t.can_recv(), send_room(t));
                if seen == m.seen {
                    return;
                }
                if st == tcp::State::Closed && m.seen.0 != tcp::State::Closed && m.error.is_none() {
                    m.error = match m.seen.0 {
                        tcp::State::SynSent => Some(match m.connect_at {
                            Some(t) if now - t >= CONNECT_TIMEOUT => NetError::TimedOut,
                            _ => NetError::Refused,
                        }),
                        // Closed in an orderly way after both FINs.
                        tcp::State::LastAck | tcp::State::TimeWait | tcp::State::Closing => None,
                        _ => Some(NetError::Reset),
                    };
                }
                m.seen = seen;
                if let Some(w) = &m.waker {
                    events.push(Event::Wake(w.clone()));
                }
            }
        }
    }

    /// Runs the timers that are due; when the next one falls.
    fn timers_due(&mut self, events: &mut Vec<Event>) -> Option<Instant> {
        let now = self.now();
        while let Some(&(t, id)) = self.timers.first() {
            if t > now {
                return Some(t);
            }
            self.timers.remove(&(t, id));
            if let Some(s) = self.socks.get_mut(&id) {
                s.timer = None;
            }
            self.egress(id, events);
        }
        None
    }
}

/// The stack thread: frames as they arrive, timers as they fall due.
fn run(sh: &Arc<Shared>) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let fd = sh.core.lock().dev.fd_raw();
    // SAFETY: the device's fd lives as long as the stack, which this
    // thread keeps alive.
    let dev_fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    loop {
        let mut events = Vec::new();
        let (delay, dead) = {
            let mut c = sh.core.lock();
            c.ingress(&mut events);
            let next = c.timers_due(&mut events);
            c.thread_wakes = next;
            let now = c.now();
            let dead = std::mem::take(&mut c.graveyard);
            (
                next.map(|t| if t > now { t - now } else { SmolDuration::ZERO }),
                dead,
            )
        };
        drop(dead);
        dispatch(sh, events);
        let mut fds = [
            PollFd::new(&dev_fd, PollFlags::IN),
            PollFd::new(&sh.kick, PollFlags::IN),
        ];
        let timeout = delay.map(|d| {
            let us = d.total_micros();
            Timespec {
                tv_sec: (us / 1_000_000) as i64,
                tv_nsec: ((us % 1_000_000) * 1000) as i64,
            }
        });
        let _ = poll(&mut fds, timeout.as_ref());
        if fds[1].revents().contains(PollFlags::IN) {
            let mut b = [0u8; 8];
            let _ = rustix::io::read(&sh.kick, &mut b);
        }
    }
}

/// A TCP connection; dropping it closes it as close(2) does.
pub struct TcpConn {
    stack: Arc<Shared>,
    id: Id,
}

impl std::fmt::Debug for TcpConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TcpConn({})", self.id)
    }
}

fn conn_parts(c: &mut Core, id: Id) -> (&mut tcp::Socket<'static>, &mut ConnMeta) {
    let s = c
        .socks
        .get_mut(&id)
        .expect("a live connection has its socket");
    let Kind::Conn(m) = &mut s.kind else {
        unreachable!("a connection's socket is a connection")
    };
    (s.set.get_mut::<tcp::Socket>(s.h), m)
}

impl TcpConn {
    /// Runs `f` on the socket, then its output.
    fn with<R>(&self, f: impl FnOnce(&mut tcp::Socket<'static>, &mut ConnMeta) -> R) -> R {
        with_core(&self.stack, Some(self.id), |c| {
            let (s, m) = conn_parts(c, self.id);
            f(s, m)
        })
    }

    /// Without running the stack (readiness and addresses).
    fn peek_state<R>(&self, f: impl FnOnce(&tcp::Socket<'static>, &ConnMeta) -> R) -> R {
        let mut c = self.stack.core.lock();
        let (s, m) = conn_parts(&mut c, self.id);
        f(s, m)
    }

    pub fn set_waker(&self, w: Waker) {
        let mut c = self.stack.core.lock();
        conn_parts(&mut c, self.id).1.waker = Some(w);
    }
    pub fn local(&self) -> Option<SocketAddr> {
        self.peek_state(|s, _| s.local_endpoint().map(to_std))
    }

    pub fn remote(&self) -> Option<SocketAddr> {
        self.peek_state(|s, _| s.remote_endpoint().map(to_std))
    }

    /// Queues what fits of `data`.
    pub fn send(&self, data: &[u8]) -> Result<usize, NetError> {
        self.with(|s, m| {
            if let Some(e) = m.error {
                return Err(e);
            }
            if !s.may_send() {
                return Err(match s.state() {
                    tcp::State::SynSent | tcp::State::SynReceived => NetError::WouldBlock,
                    _ => NetError::Pipe,
                });
            }
            match s.send_slice(data) {
                Ok(0) if !data.is_empty() => Err(NetError::WouldBlock),
                Ok(n) => Ok(n),
                Err(_) => Err(NetError::Pipe),
            }
        })
    }

    /// Takes (or with `peek` copies) up to `max` bytes; an empty result is
    /// the end of the stream.
    pub fn recv(&self, max: usize, peek: bool) -> Result<Vec<u8>, NetError> {
        self.with(|s, m| {
            let want = max.min(s.recv_queue());
            let r = if peek {
                let mut v = vec![0u8; want];
                s.peek_slice(&mut v).map(|n| (n, v))
            } else {
                // Straight from the ring (in at most two pieces), with no
                // zeroed buffer in between.
                let mut v = Vec::with_capacity(want);
                let mut r = Ok(0);
                while v.len() < want {
                    let room = want - v.len();
                    r = s.recv(|b| {
                        let k = b.len().min(room);
                        v.extend_from_slice(&b[..k]);
                        (k, k)
                    });
                    if !matches!(r, Ok(k) if k > 0) {
                        break;
                    }
                }
                r.map(|_| (v.len(), v))
            };
            match r.map(|(n, mut v)| {
                v.truncate(n);
                v
            }) {
                Ok(v) if !v.is_empty() || max == 0 => Ok(v),
                // Data first, then the error or the end.
                _ => {
                    if let Some(e) = m.error.take() {
                        return Err(e);
                    }
                    if s.may_recv()
                        || matches!(s.state(), tcp::State::SynSent | tcp::State::SynReceived)
                    {
                        Err(NetError::WouldBlock)
                    } else {
                        Ok(Vec::new())
                    }
                }
            }
        })
    }

    /// Aborts it with a reset.
    pub fn reset(&self) {
        self.with(|s, _| s.abort());
    }

    /// SHUT_WR: a FIN after what is queued.
    pub fn close_send(&self) {
        self.with(|s, _| s.close());
    }

    /// The pending error, taken (SO_ERROR).
    pub fn take_error(&self) -> Option<NetError> {
        let mut c = self.stack.core.lock();
        conn_parts(&mut c, self.id).1.error.take()
    }

    pub fn readiness(&self) -> Readiness {
        self.peek_state(|s, m| {
            let st = s.state();
            let connecting = matches!(st, tcp::State::SynSent | tcp::State::SynReceived);
            let peer_closed = !connecting && !s.may_recv();
            let error = m.error.is_some();
            Readiness {
                readable: s.can_recv() || peer_closed || error,
                writable: send_room(s) || error,
                peer_closed,
                hup: error || st == tcp::State::Closed || (peer_closed && !s.may_send()),
                error,
                connecting: connecting && !error,
            }
        })
    }

    /// Bytes waiting to be read (FIONREAD) and not yet acknowledged by
    /// the peer (TIOCOUTQ).
    pub fn queues(&self) -> (usize, usize) {
        self.peek_state(|s, _| (s.recv_queue(), s.send_queue()))
    }

    /// Linux's TCP state number (tcpi_state, /proc/net/tcp).
    pub fn linux_state(&self) -> u8 {
        self.peek_state(|s, _| match s.state() {
            tcp::State::Established => 1,
            tcp::State::SynSent => 2,
            tcp::State::SynReceived => 3,
            tcp::State::FinWait1 => 4,
            tcp::State::FinWait2 => 5,
            tcp::State::TimeWait => 6,
            tcp::State::Closed => 7,
            tcp::State::CloseWait => 8,
            tcp::State::LastAck => 9,
            tcp::State::Listen => 10,
            tcp::State::Closing => 11,
        })
    }

    pub fn set_nodelay(&self, on: bool) {
        self.with(|s, _| s.set_nagle_enabled(!on));
    }

    pub fn set_keepalive(&self, interval: Option<std::time::Duration>) {
        self.with(|s, _| {
            s.set_keep_alive(interval.map(|d| SmolDuration::from_micros(d.as_micros() as u64)))
        });
    }
}

impl Drop for TcpConn {
    fn drop(&mut self) {
        self.with(|s, m| {
            m.orphan = true;
            m.waker = None;
            // As Linux: unread data makes the close a reset.
            if s.recv_queue() > 0 {
                s.abort();
            } else {
                s.close();
            }
        });
    }
}

/// A listening port; dropping it refuses handshakes in progress.
pub struct Listener {
    stack: Arc<Shared>,
    id: u64,
}

impl Listener {
    pub fn set_backlog(&self, backlog: usize) {
        with_core(&self.stack, None, |c| {
            if let Some(p) = c.pools.get_mut(&self.id) {
                p.backlog = backlog;
            }
            c.refill(self.id);
        });
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut events = Vec::new();
        let (pool, dead) = {
            let mut c = self.stack.core.lock();
            let c = &mut *c;
            let pool = c.pools.remove(&self.id);
            if let Some(p) = &pool {
                c.listeners.remove(&p.port);
                for &m in &p.members {
                    if let Some(t) = c.tcp(m) {
                        t.abort();
                    }
                    // The reset goes out before the socket does.
                    c.egress(m, &mut events);
                    c.remove(m);
                }
            }
            (pool, std::mem::take(&mut c.graveyard))
        };
        // Its callback may hold connections, whose drops lock the core.
        drop((pool, dead));
        dispatch(&self.stack, events);
    }
}

/// An ICMP echo identifier's socket on the interface.
pub struct IcmpSock {
    stack: Arc<Shared>,
    id: Id,
    ident: u16,
}

impl IcmpSock {
    /// Sends the ICMP message `msg` (its checksum the sender's) to `to`.
    pub fn send_to(&self, to: IpAddr, msg: &[u8]) -> Result<usize, NetError> {
        let ep = to_smol(SocketAddr::new(to, 0))?;
        with_core(&self.stack, Some(self.id), |c| {
            let s = c.socks.get_mut(&self.id).expect("a live ICMP socket");
            let i = s.set.get_mut::<icmp::Socket>(s.h);
            if msg.len() > i.payload_send_capacity() {
                return Err(NetError::MsgSize);
            }
            match i.send_slice(msg, ep.addr) {
                Ok(()) => Ok(msg.len()),
                Err(icmp::SendError::BufferFull) => Err(NetError::WouldBlock),
                Err(icmp::SendError::Unaddressable) => Err(NetError::Unreachable),
            }
        })
    }
}

impl Drop for IcmpSock {
    fn drop(&mut self) {
        with_core(&self.stack, None, |c| {
            c.icmp_idents.remove(&self.ident);
            c.remove(self.id);
        });
    }
}

/// A UDP socket on the interface.
pub struct UdpSock {
    stack: Arc<Shared>,
    id: Id,
}

impl UdpSock {
    /// Sends one datagram to `to`.
    pub fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<usize, NetError> {
        udp_send(&self.stack, self.id, to, data)
    }
}

/// One datagram from UDP socket `id` to `to`.
fn udp_send(sh: &Arc<Shared>, id: Id, to: SocketAddr, data: &[u8]) -> Result<usize, NetError> {
    let ep = to_smol(to)?;
    with_core(sh, Some(id), |c| {
        let s = c.socks.get_mut(&id).ok_or(NetError::Invalid)?;
        let u = s.set.get_mut::<udp::Socket>(s.h);
        if data.len() > u.payload_send_capacity() {
            return Err(NetError::MsgSize);
        }
        match u.send_slice(data, ep) {
            Ok(()) => Ok(data.len()),
            Err(udp::SendError::BufferFull) => Err(NetError::WouldBlock),
            Err(udp::SendError::Unaddressable) => Err(NetError::Unreachable),
        }
    })
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        with_core(&self.stack, None, |c| {
            if let Some(Sock { set, h, .. }) = c.socks.get(&self.id) {
                let port = set.get::<udp::Socket>(*h).endpoint().port;
                c.udp_ports.remove(&port);
            }
            c.remove(self.id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let c = Config::parse(
            "name=eth0,mac=02:00:0a:d5:00:02,addr=10.213.0.2/30,gw=10.213.0.1,mtu=1500",
        )
        .unwrap();
        assert_eq!(c.mac, [2, 0, 10, 0xd5, 0, 2]);
        assert_eq!(c.addr, Ipv4Addr::new(10, 213, 0, 2));
        assert_eq!(c.prefix, 30);
        assert_eq!(c.gateway, Some(Ipv4Addr::new(10, 213, 0, 1)));
        assert_eq!(Config::parse(&c.render()).unwrap().render(), c.render());
        assert!(c.rx_checksum);
        let off = Config::parse("addr=172.17.0.2/16,rxcsum=off").unwrap();
        assert!(!off.rx_checksum);
        assert!(off.render().ends_with(",rxcsum=off"));
        assert_eq!(Config::parse(&off.render()).unwrap().render(), off.render());
    }

    /// Two stacks joined by a datagram socketpair: a wire.
    fn pair() -> (Stack, Stack) {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let cfg = |n: u8| Config {
            name: "eth0".into(),
            mac: [2, 0, 0, 0, 0, n],
            addr: Ipv4Addr::new(10, 9, 0, n),
            prefix: 24,
            gateway: None,
            mtu: 1500,
            rx_checksum: true,
        };
        (
            Stack::start(a, cfg(1)).unwrap(),
            Stack::start(b, cfg(2)).unwrap(),
        )
    }

    fn waker() -> (Waker, Arc<std::sync::atomic::AtomicUsize>) {
        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let m = n.clone();
        (
            Arc::new(move || {
                m.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
            n,
        )
    }

    /// Polls `f` until it gives Some, for at most 5 s.
    fn until<T>(mut f: impl FnMut() -> Option<T>) -> T {
        let t = std::time::Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(t.elapsed() < std::time::Duration::from_secs(5), "timed out");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// A listener on `port` whose accepted connections are kept.
    fn collecting_listener(
        s: &Stack,
        port: u16,
        backlog: usize,
    ) -> (Listener, Arc<Mutex<Vec<TcpConn>>>) {
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let acc = accepted.clone();
        let l = s
            .tcp_listen(
                port,
                backlog,
                Arc::new(move |c| {
                    acc.lock().push(c);
                    None
                }),
            )
            .unwrap();
        (l, accepted)
    }

    #[test]
    fn tcp_connects_carries_both_ways_and_closes() {
        let (a, b) = pair();
        let (_l, accepted) = collecting_listener(&b, 80, 4);
        let (w, woken) = waker();
        let c = a
            .tcp_connect(40000, "10.9.0.2:80".parse().unwrap(), w)
            .unwrap();
        assert!(c.readiness().connecting || c.readiness().writable);
        until(|| c.readiness().writable.then_some(()));
        assert!(woken.load(std::sync::atomic::Ordering::Relaxed) > 0);
        let s = until(|| accepted.lock().pop());
        assert_eq!(s.remote(), Some("10.9.0.1:40000".parse().unwrap()));
        assert_eq!(s.local(), Some("10.9.0.2:80".parse().unwrap()));
        // More than a window's worth, so the sender waits for room.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        while got.len() < data.len() {
            if sent < data.len() {
                match c.send(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(NetError::WouldBlock) => {}
                    Err(e) => panic!("send: {e}"),
                }
            }
            match s.recv(65536, false) {
                Ok(v) => got.extend(v),
                Err(NetError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_micros(100))
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
        assert!(got == data, "the stream arrived changed");
        assert_eq!(s.send(b"back").unwrap(), 4);
        assert_eq!(
            until(|| c.recv(10, false).ok().filter(|v| !v.is_empty())),
            b"back"
        );
        // Half-close: the peer reads the end, then may still send.
        c.close_send();
        until(|| s.readiness().peer_closed.then_some(()));
        assert_eq!(s.recv(10, false).unwrap(), b"");
        assert_eq!(s.send(b"x").unwrap(), 1);
        assert_eq!(
            until(|| c.recv(10, false).ok().filter(|v| !v.is_empty())),
            b"x"
        );
        assert_eq!(c.send(b"y"), Err(NetError::Pipe));
    }

    #[test]
    fn many_connections_each_get_their_own_bytes() {
        let (a, b) = pair();
        let (_l, accepted) = collecting_listener(&b, 80, 64);
        let conns: Vec<TcpConn> = (0..200u16)
            .map(|i| {
                let (w, _) = waker();
                a.tcp_connect(41000 + i, "10.9.0.2:80".parse().unwrap(), w)
                    .unwrap()
            })
            .collect();
        for c in &conns {
            until(|| c.readiness().writable.then_some(()));
        }
        until(|| (accepted.lock().len() == conns.len()).then_some(()));
        // Each connection's own port as its payload, read on the side
        // whose peer port it names.
        for c in &conns {
            let port = c.local().unwrap().port();
            assert_eq!(c.send(&port.to_be_bytes()).unwrap(), 2);
        }
        for s in accepted.lock().iter() {
            let port = s.remote().unwrap().port();
            let got = until(|| s.recv(2, false).ok().filter(|v| v.len() == 2));
            assert_eq!(got, port.to_be_bytes());
        }
        let core = a.0.core.lock();
        assert_eq!(core.tuples.len(), conns.len());
    }

    #[test]
    fn tcp_refused_and_reset() {
        let (a, b) = pair();
        let (w, _) = waker();
        let c = a
            .tcp_connect(40001, "10.9.0.2:81".parse().unwrap(), w)
            .unwrap();
        until(|| c.readiness().error.then_some(()));
        assert_eq!(c.take_error(), Some(NetError::Refused));
        assert!(c.readiness().hup);
        // A listener that refuses (its backlog full) resets the connection.
        let _l = b.tcp_listen(82, 1, Arc::new(Some)).unwrap();
        let (w, _) = waker();
        let c = a
            .tcp_connect(40002, "10.9.0.2:82".parse().unwrap(), w)
            .unwrap();
        until(|| c.readiness().error.then_some(()));
        assert_eq!(c.recv(10, false), Err(NetError::Reset));
        assert_eq!(c.recv(10, false).unwrap(), b"");
    }

    #[test]
    fn udp_datagrams_both_ways() {
        let (a, b) = pair();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let ub = b
            .udp_bind(
                53,
                Arc::new(move |from, d| g.lock().push((from, d.to_vec()))),
            )
            .unwrap();
        let back = Arc::new(Mutex::new(Vec::new()));
        let k = back.clone();
        let ua = a
            .udp_bind(
                5353,
                Arc::new(move |from, d| k.lock().push((from, d.to_vec()))),
            )
            .unwrap();
        assert_eq!(
            ua.send_to("10.9.0.2:53".parse().unwrap(), b"query")
                .unwrap(),
            5
        );
        let (from, d) = until(|| got.lock().pop());
        assert_eq!(from, "10.9.0.1:5353".parse::<SocketAddr>().unwrap());
        assert_eq!(d, b"query");
        ub.send_to(from, b"answer").unwrap();
        assert_eq!(until(|| back.lock().pop()).1, b"answer");
        // From the port, for a socket sharing it; nobody's port is EINVAL.
        assert_eq!(b.udp_send_from(53, from, b"shared").unwrap(), 6);
        assert_eq!(until(|| back.lock().pop()).1, b"shared");
        assert_eq!(b.udp_send_from(54, from, b"x"), Err(NetError::Invalid));
        assert_eq!(
            ua.send_to("[::1]:53".parse().unwrap(), b"x"),
            Err(NetError::Unreachable)
        );
        assert_eq!(
            ua.send_to("10.9.0.2:53".parse().unwrap(), &vec![0; UDP_BUF + 1]),
            Err(NetError::MsgSize)
        );
    }

    #[test]
    fn config_refuses_bad_input() {
        assert!(Config::parse("addr=10.0.0.300/24").is_err());
        assert!(Config::parse("mac=zz,addr=10.0.0.1/24").is_err());
        assert!(Config::parse("mtu=10,addr=10.0.0.1/24").is_err());
        assert!(Config::parse("bogus=1").is_err());
        assert!(Config::parse("addr=10.0.0.1/24,rxcsum=maybe").is_err());
        assert!(Config::parse("name=eth0").is_err());
    }
}
