//! The sandbox's TCP/IP stack for traffic that leaves it: smoltcp over
//! one host packet socket (AF_PACKET, bound to the sandbox's interface),
//! so the application's TCP and UDP never reach the host kernel as
//! sockets, only as Ethernet frames.
//!
//! The sentry sees connections, listeners and datagram sockets, never
//! smoltcp. A stack thread reads frames and runs the timers; a caller's
//! send or receive runs the stack itself (`Core::pump`) so that its
//! frames leave without a hand-off to another thread. Callbacks into the
//! sentry (wakers, accepted connections, datagrams) run after the core's
//! lock is let go: the lock is a leaf in the sentry's lock order.

mod device;

use parking_lot::Mutex;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration as SmolDuration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::Arc;

pub use device::PacketDevice;

/// A TCP connection's buffers: Linux's default window sizes, so window
/// scaling is negotiated.
const TCP_BUF: usize = 256 * 1024;
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

struct Pool {
    port: u16,
    backlog: usize,
    /// Sockets listening or part-way through a handshake.
    handles: Vec<SocketHandle>,
    on_accept: OnAccept,
}

struct UdpMeta {
    on_datagram: OnDatagram,
}

/// What to tell the sentry once the lock is let go.
enum Event {
    Wake(Waker),
    Accept(OnAccept, SocketHandle),
    Datagram(OnDatagram, SocketAddr, Vec<u8>),
}

struct Core {
    iface: Interface,
    sockets: SocketSet<'static>,
    dev: PacketDevice,
    conns: HashMap<SocketHandle, ConnMeta>,
    pools: HashMap<u64, Pool>,
    next_pool: u64,
    udps: HashMap<SocketHandle, UdpMeta>,
    epoch: std::time::Instant,
    /// When the stack thread will next run the timers (None: only on a
    /// frame or a kick).
    thread_wakes: Option<Instant>,
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

fn ip4(a: Ipv4Addr) -> Ipv4Address {
    Ipv4Address::from_octets(a.octets())
}

fn to_std(e: IpEndpoint) -> SocketAddr {
    match e.addr {
        IpAddress::Ipv4(a) => SocketAddr::V4(SocketAddrV4::new(a, e.port)),
        IpAddress::Ipv6(a) => SocketAddr::new(IpAddr::V6(a), e.port),
    }
}

fn to_smol(a: SocketAddr) -> Result<IpEndpoint, NetError> {
    match a {
        SocketAddr::V4(v4) => Ok(IpEndpoint::new(IpAddress::Ipv4(ip4(*v4.ip())), v4.port())),
        // The interface has IPv4 only.
        SocketAddr::V6(_) => Err(NetError::Unreachable),
    }
}

impl Stack {
    /// Starts the stack on `fd`, a packet socket bound to the interface
    /// `config` describes.
    pub fn start(fd: OwnedFd, config: Config) -> std::io::Result<Stack> {
        let mut dev = PacketDevice::new(fd, config.mtu)?;
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
            let _ = a.push(IpCidr::new(
                IpAddress::Ipv4(ip4(config.addr)),
                config.prefix,
            ));
        });
        if let Some(g) = config.gateway {
            iface
                .routes_mut()
                .add_default_ipv4_route(ip4(g))
                .map_err(|_| std::io::Error::other("default route"))?;
        }
        let kick = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                iface,
                sockets: SocketSet::new(Vec::new()),
                dev,
                conns: HashMap::new(),
                pools: HashMap::new(),
                next_pool: 0,
                udps: HashMap::new(),
                epoch,
                thread_wakes: None,
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
        let h = with_core(&self.0, |c| {
            let mut s = new_tcp();
            s.set_timeout(Some(CONNECT_TIMEOUT));
            let local = IpListenEndpoint {
                addr: Some(IpAddress::Ipv4(ip4(self.0.config.addr))),
                port,
            };
            s.connect(c.iface.context(), ep, local)
                .map_err(|_| NetError::Unreachable)?;
            let now = c.now();
            let h = c.sockets.add(s);
            c.conns.insert(
                h,
                ConnMeta {
                    waker: Some(waker),
                    seen: (tcp::State::SynSent, false, false),
                    error: None,
                    orphan: false,
                    connect_at: Some(now),
                },
            );
            Ok(h)
        })?;
        Ok(TcpConn {
            stack: self.0.clone(),
            h,
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
        with_core(&self.0, |c| {
            let id = c.next_pool;
            c.next_pool += 1;
            let mut pool = Pool {
                port,
                backlog,
                handles: Vec::new(),
                on_accept,
            };
            c.refill(&mut pool)?;
            c.pools.insert(id, pool);
            Ok(Listener {
                stack: self.0.clone(),
                id,
            })
        })
    }

    /// A UDP socket on `port` of the interface's address; what it
    /// receives goes to `on_datagram`.
    pub fn udp_bind(&self, port: u16, on_datagram: OnDatagram) -> Result<UdpSock, NetError> {
        with_core(&self.0, |c| {
            let buf = || {
                udp::PacketBuffer::new(
                    vec![udp::PacketMetadata::EMPTY; UDP_SLOTS],
                    vec![0u8; UDP_BUF],
                )
            };
            let mut s = udp::Socket::new(buf(), buf());
            s.bind(port).map_err(|_| NetError::AddrInUse)?;
            let h = c.sockets.add(s);
            c.udps.insert(h, UdpMeta { on_datagram });
            Ok(UdpSock {
                stack: self.0.clone(),
                h,
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
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
    );
    // Linux's delayed ACK is adaptive; smoltcp's fixed 10 ms stalls
    // request/response traffic.
    s.set_ack_delay(None);
    s
}

/// Runs `f` on the core, then the stack, then tells the sentry what
/// changed (after the lock).
fn with_core<R>(sh: &Arc<Shared>, f: impl FnOnce(&mut Core) -> R) -> R {
    let mut events = Vec::new();
    let (r, earlier) = {
        let mut c = sh.core.lock();
        let r = f(&mut c);
        c.pump(&mut events);
        let now = c.now();
        let c = &mut *c;
        let at = c.iface.poll_at(now, &c.sockets);
        let earlier = match (at, c.thread_wakes) {
            (Some(a), Some(t)) => a < t,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier {
            c.thread_wakes = at;
        }
        (r, earlier)
    };
    dispatch(sh, events);
    // A new timer (a retransmission, a delayed ACK) falls before the one
    // the thread sleeps for.
    if earlier {
        let _ = rustix::io::write(&sh.kick, &1u64.to_ne_bytes());
    }
    r
}

fn dispatch(sh: &Arc<Shared>, events: Vec<Event>) {
    for e in events {
        match e {
            Event::Wake(w) => w(),
            Event::Accept(f, h) => {
                let conn = TcpConn {
                    stack: sh.clone(),
                    h,
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

    /// Keeps `pool` listening with up to its backlog of sockets.
    fn refill(&mut self, pool: &mut Pool) -> Result<(), NetError> {
        let want = pool.backlog.clamp(1, LISTEN_POOL_MAX);
        let listening = pool
            .handles
            .iter()
            .filter(|h| self.sockets.get::<tcp::Socket>(**h).state() == tcp::State::Listen)
            .count();
        for _ in listening..want {
            let mut s = new_tcp();
            s.listen(pool.port).map_err(|_| NetError::AddrInUse)?;
            pool.handles.push(self.sockets.add(s));
        }
        Ok(())
    }

    /// Runs the stack: frames in and out, then what the sentry must hear.
    fn pump(&mut self, events: &mut Vec<Event>) {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        self.harvest(now, events);
    }

    fn harvest(&mut self, now: Instant, events: &mut Vec<Event>) {
        // Handshakes done on listeners.
        let ids: Vec<u64> = self.pools.keys().copied().collect();
        for id in ids {
            let mut pool = self.pools.remove(&id).unwrap();
            let mut i = 0;
            while i < pool.handles.len() {
                let h = pool.handles[i];
                let st = self.sockets.get::<tcp::Socket>(h).state();
                match st {
                    tcp::State::Listen | tcp::State::SynReceived => i += 1,
                    tcp::State::Closed => {
                        // A handshake that failed: listen again.
                        let s = self.sockets.get_mut::<tcp::Socket>(h);
                        let _ = s.listen(pool.port);
                        i += 1;
                    }
                    _ => {
                        pool.handles.swap_remove(i);
                        self.conns.insert(
                            h,
                            ConnMeta {
                                waker: None,
                                seen: (st, false, false),
                                error: None,
                                orphan: false,
                                connect_at: None,
                            },
                        );
                        events.push(Event::Accept(pool.on_accept.clone(), h));
                    }
                }
            }
            let _ = self.refill(&mut pool);
            self.pools.insert(id, pool);
        }
        // Connections whose state moved.
        let mut gone = Vec::new();
        for (h, m) in self.conns.iter_mut() {
            let s = self.sockets.get_mut::<tcp::Socket>(*h);
            let st = s.state();
            if m.orphan {
                if st == tcp::State::Closed {
                    gone.push(*h);
                }
                continue;
            }
            let now_seen = (st, s.can_recv(), send_room(s));
            if now_seen == m.seen {
                continue;
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
            m.seen = now_seen;
            if let Some(w) = &m.waker {
                events.push(Event::Wake(w.clone()));
            }
        }
        for h in gone {
            self.conns.remove(&h);
            self.sockets.remove(h);
        }
        // Datagrams received.
        for (h, m) in self.udps.iter() {
            let s = self.sockets.get_mut::<udp::Socket>(*h);
            while let Ok((data, meta)) = s.recv() {
                events.push(Event::Datagram(
                    m.on_datagram.clone(),
                    to_std(meta.endpoint),
                    data.to_vec(),
                ));
            }
        }
    }
}

/// The stack thread: frames as they arrive, timers as they fall due.
fn run(sh: &Arc<Shared>) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    loop {
        let mut events = Vec::new();
        let delay = {
            let mut c = sh.core.lock();
            c.pump(&mut events);
            let now = c.now();
            let c = &mut *c;
            let d = c.iface.poll_delay(now, &c.sockets);
            c.thread_wakes = d.map(|d| now + d);
            d
        };
        dispatch(sh, events);
        let fd = sh.core.lock().dev.fd_raw();
        // SAFETY: the device's fd lives as long as the stack, which this
        // thread keeps alive.
        let dev_fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
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
    h: SocketHandle,
}

impl std::fmt::Debug for TcpConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TcpConn({:?})", self.h)
    }
}

impl TcpConn {
    fn with<R>(&self, f: impl FnOnce(&mut tcp::Socket<'static>, &mut ConnMeta) -> R) -> R {
        let h = self.h;
        with_core(&self.stack, |c| {
            let m = c.conns.get_mut(&h).expect("a live connection has its meta");
            f(c.sockets.get_mut::<tcp::Socket>(h), m)
        })
    }

    /// Without running the stack (readiness and addresses).
    fn peek_state<R>(&self, f: impl FnOnce(&tcp::Socket<'static>, &ConnMeta) -> R) -> R {
        let c = self.stack.core.lock();
        let m = c
            .conns
            .get(&self.h)
            .expect("a live connection has its meta");
        f(c.sockets.get::<tcp::Socket>(self.h), m)
    }

    pub fn set_waker(&self, w: Waker) {
        let mut c = self.stack.core.lock();
        if let Some(m) = c.conns.get_mut(&self.h) {
            m.waker = Some(w);
        }
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
            let mut v = vec![0u8; max.min(s.recv_queue())];
            let r = if peek {
                s.peek_slice(&mut v)
            } else {
                s.recv_slice(&mut v)
            };
            match r {
                Ok(n) if n > 0 || max == 0 => {
                    v.truncate(n);
                    Ok(v)
                }
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
        c.conns.get_mut(&self.h).and_then(|m| m.error.take())
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
        with_core(&self.stack, |c| {
            if let Some(mut p) = c.pools.remove(&self.id) {
                p.backlog = backlog;
                let _ = c.refill(&mut p);
                c.pools.insert(self.id, p);
            }
        });
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        with_core(&self.stack, |c| {
            if let Some(p) = c.pools.remove(&self.id) {
                for h in p.handles {
                    c.sockets.get_mut::<tcp::Socket>(h).abort();
                    // The reset goes out before the socket does.
                    let now = c.now();
                    c.iface.poll(now, &mut c.dev, &mut c.sockets);
                    c.sockets.remove(h);
                }
            }
        });
    }
}

/// A UDP socket on the interface.
pub struct UdpSock {
    stack: Arc<Shared>,
    h: SocketHandle,
}

impl UdpSock {
    /// Sends one datagram to `to`.
    pub fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<usize, NetError> {
        let ep = to_smol(to)?;
        with_core(&self.stack, |c| {
            let s = c.sockets.get_mut::<udp::Socket>(self.h);
            if data.len() > s.payload_send_capacity() {
                return Err(NetError::MsgSize);
            }
            match s.send_slice(data, ep) {
                Ok(()) => Ok(data.len()),
                Err(udp::SendError::BufferFull) => Err(NetError::WouldBlock),
                Err(udp::SendError::Unaddressable) => Err(NetError::Unreachable),
            }
        })
    }
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        with_core(&self.stack, |c| {
            c.udps.remove(&self.h);
            c.sockets.remove(self.h);
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
    }

    /// Two stacks joined by a datagram socketpair: a wire.
    fn pair() -> (Stack, Stack) {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::DGRAM,
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

    #[test]
    fn tcp_connects_carries_both_ways_and_closes() {
        let (a, b) = pair();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let acc = accepted.clone();
        let _l = b
            .tcp_listen(
                80,
                4,
                Arc::new(move |c| {
                    acc.lock().push(c);
                    None
                }),
            )
            .unwrap();
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
        assert!(Config::parse("name=eth0").is_err());
    }
}
