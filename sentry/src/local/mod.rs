//! Local sockets: both ends are in this sandbox. AF_UNIX sockets (stream,
//! seqpacket and datagram; unnamed, bound to a path, a socket node in the
//! sandbox's own file tree, or to an abstract name; socket pairs,
//! listening and connecting; files and credentials sent beside the data),
//! and AF_INET/AF_INET6 TCP and UDP sockets on the loopback interface
//! (`inet`), found by port instead of by name.
//!
//! A socket owns its receive queue (`queue::Queue`); a connected socket
//! sends into its peer's. Peers know each other weakly, so a closed
//! socket goes at once: its drop tells the peer (end of file, EPIPE, or
//! ECONNRESET when data was left unread) and forgets its name.

pub mod addr;
pub mod dns;
pub mod gc;
pub mod icmp;
pub mod iface;
pub mod ifreq;
pub mod inet;
pub mod mib;
mod mib_names;
pub mod netlink;
pub mod procnet;
pub mod queue;
pub mod remote;
pub mod sockdiag;

use crate::errno::{Errno, KResult};
use crate::fs::file::{File, FileOps};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, EV_HUP, EV_IN, EV_OUT};
use crate::kernel::Ctx;
use crate::socket::{generic_option, NodeId, SockOpts, Socket};
use addr::{NameKey, UnixAddr};
use parking_lot::Mutex;
use queue::{Ancillary, Queue, Received, Ucred, MAX_DGRAM_QLEN};
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

pub use addr::Names;

/// Linux's net.core.{w,r}mem_default and _max.
pub const BUF_DEFAULT: usize = 212_992;
const BUF_MAX: usize = 212_992;
/// SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
const MIN_SNDBUF: usize = 4608;
const MIN_RCVBUF: usize = 2304;
/// net.core.somaxconn: listen's backlog is capped here.
pub const SOMAXCONN: usize = 4096;

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

pub(crate) enum Conn {
    /// Never connected (or a datagram socket with no default peer).
    None,
    Listening {
        backlog: usize,
        /// Connected server sides, waiting for accept.
        pending: VecDeque<Arc<LocalSocket>>,
    },
    Connected {
        peer: Weak<LocalSocket>,
        /// Where sends go: the peer's receive queue.
        peer_rx: Arc<Queue>,
    },
}

pub(crate) struct State {
    /// The address getsockname reports (None: unnamed).
    name: Option<Vec<u8>>,
    key: Option<NameKey>,
    conn: Conn,
    /// Linux's sk_shutdown.
    shutdown: u8,
    /// A pending error (SO_ERROR): ECONNRESET when the peer closed with
    /// data unread.
    err: Option<Errno>,
    passcred: bool,
    sndbuf: usize,
    rcvbuf: usize,
    /// SO_PEERCRED.
    peercred: Option<Ucred>,
    /// TCP: the peer closed with nothing unread (its FIN; Linux's
    /// CLOSE_WAIT). A send still succeeds once, as the peer's reset is
    /// yet to come; the next is EPIPE.
    peer_fin: bool,
    /// TCP: a read has met the end of the peer's data. Until then the
    /// peer's FIN counts as one byte to read in /proc/net/tcp and
    /// sock_diag (rcv_nxt - copied_seq), as on Linux.
    fin_read: bool,
    /// The listener a blocking connect waits for room on.
    connecting: Option<Weak<LocalSocket>>,
    /// A loopback TCP connect going on in the background (a non-blocking
    /// one that met a full backlog): where to, and as whom.
    retry: Option<(SocketAddr, Ucred)>,
    /// SO_PEEK_OFF: where a stream's next peek starts (-1: off).
    peek_off: i32,
    /// TCP: this call's connect made the connection (a non-blocking
    /// caller is told EINPROGRESS all the same).
    fresh: bool,
    /// TCP: a non-blocking connect said EINPROGRESS and its success was
    /// not reported yet: the next connect returns 0, then EISCONN.
    unreported: bool,
    /// TCP: a connect in the background failed; the next connect reports
    /// it and leaves the socket free to connect again.
    connect_failed: bool,
    /// That report is being made: its ECONNREFUSED is the old connect's,
    /// not a new one to go on in the background.
    failure_told: bool,
    /// The last writer's credentials (a plain write does not name its
    /// caller; `before_transfer` records it).
    writer: Ucred,
    opts: SockOpts,
    /// AF_INET/AF_INET6: the address bound (or taken by connect) and the
    /// peer's, and the IPPROTO_TCP/IP/IPV6 options kept.
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    /// bind(2) chose the address (not an autobind or a connect): a
    /// datagram socket's connect keeps it, and AF_UNSPEC does not undo it.
    user_bound: bool,
    proto_opts: std::collections::BTreeMap<(i32, i32), i32>,
    /// Its part in the netstack (`remote`), if any.
    ext: remote::Ext,
}

pub struct LocalSocket {
    /// AF_UNIX, AF_INET or AF_INET6.
    family: i32,
    kind: i32,
    /// A UDP-Lite datagram socket (IPPROTO_UDPLITE): UDP's behaviour on
    /// a port space of its own.
    lite: bool,
    /// Its inode number ("socket:[ino]").
    pub ino: u64,
    this: Weak<LocalSocket>,
    rx: Arc<Queue>,
    st: Mutex<State>,
    names: Arc<Names>,
    /// Its owner (the creator's fsuid, a connection's from its
    /// listener): /proc/net's uid column and sock_diag's.
    owner: std::sync::atomic::AtomicU32,
    /// What fchmod, fchown and futimens set on it (its mode is what a
    /// bind gives the socket's node, less the umask).
    attrs: crate::fs::attr::AnonAttrs,
}

/// The open file of a socket.
pub struct LocalFile(pub Arc<LocalSocket>);

impl LocalSocket {
    /// A new unconnected AF_UNIX socket of `kind` in the namespace of
    /// `names`.
    pub fn new(kind: i32, names: &Arc<Names>) -> Arc<LocalSocket> {
        LocalSocket::new_in(libc::AF_UNIX, kind, names)
    }

    /// A new unconnected socket of `family` and `kind` (SOCK_STREAM is TCP
    /// and SOCK_DGRAM UDP for AF_INET and AF_INET6).
    pub fn new_in(family: i32, kind: i32, names: &Arc<Names>) -> Arc<LocalSocket> {
        LocalSocket::new_proto(family, kind, false, names)
    }

    /// The same, UDP-Lite when `lite` (a SOCK_DGRAM of IPPROTO_UDPLITE).
    pub fn new_proto(family: i32, kind: i32, lite: bool, names: &Arc<Names>) -> Arc<LocalSocket> {
        let s = Arc::new_cyclic(|this| LocalSocket {
            family,
            kind,
            lite: lite && kind == libc::SOCK_DGRAM,
            ino: crate::fs::pipe::anon_ino(),
            this: this.clone(),
            rx: Arc::new(Queue::new(names.in_flight.clone())),
            owner: std::sync::atomic::AtomicU32::new(0),
            attrs: Default::default(),
            st: Mutex::new(State {
                name: None,
                key: None,
                conn: Conn::None,
                shutdown: 0,
                err: None,
                passcred: false,
                sndbuf: BUF_DEFAULT,
                rcvbuf: BUF_DEFAULT,
                peercred: None,
                peer_fin: false,
                fin_read: false,
                connecting: None,
                retry: None,
                fresh: false,
                connect_failed: false,
                failure_told: false,
                unreported: false,
                peek_off: -1,
                writer: Ucred::default(),
                opts: SockOpts::default(),
                local: None,
                remote: None,
                user_bound: false,
                proto_opts: Default::default(),
                ext: Default::default(),
            }),
            names: names.clone(),
        });
        names.register(&Arc::downgrade(&s));
        s
    }

    /// socketpair(2): two connected sockets, each with `cred` as its
    /// peer's credentials.
    pub fn pair(
        kind: i32,
        names: &Arc<Names>,
        cred: Ucred,
    ) -> (Arc<LocalSocket>, Arc<LocalSocket>) {
        let (a, b) = (LocalSocket::new(kind, names), LocalSocket::new(kind, names));
        link(&a, &b);
        a.st.lock().peercred = Some(cred);
        b.st.lock().peercred = Some(cred);
        (a, b)
    }

    /// Records the owner (the creator's fsuid).
    pub fn set_owner(&self, uid: u32) {
        self.owner.store(uid, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn owner(&self) -> u32 {
        self.owner.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn inet(&self) -> bool {
        self.family != libc::AF_UNIX
    }

    fn packet(&self) -> bool {
        self.kind != libc::SOCK_STREAM
    }

    fn connection_oriented(&self) -> bool {
        self.kind != libc::SOCK_DGRAM
    }

    fn peer(&self) -> Option<Arc<LocalSocket>> {
        match &self.st.lock().conn {
            Conn::Connected { peer, .. } => peer.upgrade(),
            _ => None,
        }
    }

    /// Sets shutdown bits on this socket and wakes its waiters.
    fn shut(&self, bits: u8) {
        self.st.lock().shutdown |= bits;
        self.rx.wq.notify(EV_IN | EV_OUT | EV_HUP);
    }

    /// Binds to `name` (its registry key is `key`), as getsockname will
    /// report `addr`.
    fn set_name(&self, key: NameKey, addr: Vec<u8>) -> KResult<()> {
        let mut st = self.st.lock();
        if st.name.is_some() {
            return Err(Errno::EINVAL);
        }
        self.names.insert(&key, &self.this)?;
        st.name = Some(addr);
        st.key = Some(key);
        Ok(())
    }

    /// Binds to a fresh abstract name (autobind).
    fn autobind(&self) -> KResult<()> {
        if self.st.lock().name.is_some() {
            return Ok(());
        }
        let (key, addr) = self.names.autobind(&self.this)?;
        let mut st = self.st.lock();
        if st.name.is_some() {
            self.names.remove(&key);
            return Ok(());
        }
        st.name = Some(addr);
        st.key = Some(key);
        Ok(())
    }

    /// The bound socket `addr` names (`node`: the identity of the file a
    /// path names), of this socket's kind.
    fn target(&self, addr: &UnixAddr, node: Option<NodeId>) -> KResult<Arc<LocalSocket>> {
        let key = match (addr, node) {
            (UnixAddr::Abstract(n), _) => NameKey::Abstract(n.clone()),
            (UnixAddr::Path(_), Some(id)) => NameKey::Path(id),
            (UnixAddr::Path(_), None) => return Err(Errno::ECONNREFUSED),
            (UnixAddr::Unnamed, _) => return Err(Errno::EINVAL),
        };
        let s = self.names.get(&key).ok_or(Errno::ECONNREFUSED)?;
        if s.kind != self.kind {
            return Err(Errno::EPROTOTYPE);
        }
        Ok(s)
    }

    /// connect(2) of a stream or seqpacket socket to `listener`.
    fn connect_to(
        &self,
        listener: &Arc<LocalSocket>,
        cred: Ucred,
        init: impl FnOnce(&mut State),
    ) -> KResult<()> {
        {
            let st = self.st.lock();
            match st.conn {
                Conn::Connected { .. } => return Err(Errno::EISCONN),
                Conn::Listening { .. } => return Err(Errno::EINVAL),
                Conn::None => {}
            }
        }
        let mut l = listener.st.lock();
        let (listener_cred, listener_name, listener_pass) =
            (l.peercred, l.name.clone(), l.passcred);
        // A TCP connection starts with its listener's options (Linux
        // clones the listening socket).
        let inherited = listener
            .inet()
            .then(|| (l.opts.clone(), l.proto_opts.clone(), l.sndbuf, l.rcvbuf));
        // A listener shut down for reading takes no one.
        if l.shutdown & RCV_SHUTDOWN != 0 {
            return Err(Errno::ECONNREFUSED);
        }
        let Conn::Listening { backlog, pending } = &mut l.conn else {
            return Err(Errno::ECONNREFUSED);
        };
        if pending.len() > *backlog {
            drop(l);
            self.st.lock().connecting = Some(Arc::downgrade(listener));
            return Err(Errno::EAGAIN);
        }
        // The server side: a new socket bound to the listener's name, in
        // its namespace (a path reaches a listener of another one).
        // (Lock order: the listener, then the two sockets it links.)
        let me = self.this.upgrade().ok_or(Errno::EINVAL)?;
        let server = LocalSocket::new_in(listener.family, self.kind, &listener.names);
        server.set_owner(listener.owner());
        link(&server, &me);
        {
            let mut s = server.st.lock();
            s.peercred = Some(cred);
            s.name = listener_name;
            s.passcred = listener_pass;
            if let Some((opts, proto_opts, sndbuf, rcvbuf)) = inherited {
                s.opts = opts;
                s.proto_opts = proto_opts;
                s.sndbuf = sndbuf;
                s.rcvbuf = rcvbuf;
            }
            init(&mut s);
        }
        pending.push_back(server);
        drop(l);
        {
            let mut me = self.st.lock();
            me.peercred = listener_cred;
            me.connecting = None;
        }
        listener.rx.wq.notify(EV_IN);
        Ok(())
    }

    /// One send, without waiting: EAGAIN when there is no room.
    /// Queues `anc` (and its data) into `into` by `send`, telling the
    /// collector of cycles which sockets went in (`gc::note_sent`).
    fn send_noted(
        &self,
        into: &Arc<Queue>,
        anc: Ancillary,
        send: impl FnOnce(Ancillary) -> KResult<usize>,
    ) -> KResult<usize> {
        let sent = gc::sockets_in(&anc.rights);
        let r = send(anc);
        if r.is_ok() {
            gc::note_sent(&self.names, into, &sent);
        }
        r
    }

    fn send_once(
        &self,
        data: &[u8],
        to: Option<Arc<LocalSocket>>,
        mut anc: Ancillary,
        own: Ucred,
    ) -> KResult<usize> {
        if self.inet() {
            if let Some(c) = self.ext_tcp() {
                return self.tcp_send(&c, data);
            }
        }
        let mut st = self.st.lock();
        if st.peer_fin && st.shutdown & SEND_SHUTDOWN == 0 {
            if !data.is_empty() {
                // Lost to the peer's reset; the socket is closed after it,
                // with EPIPE pending (Linux's tcp_reset in CLOSE_WAIT).
                st.peer_fin = false;
                st.shutdown = SHUTDOWN_MASK;
                st.err = Some(Errno::EPIPE);
                drop(st);
                self.rx.wq.notify(EV_IN | EV_OUT | EV_HUP);
            }
            return Ok(data.len());
        }
        if let Some(e) = st.err.take() {
            return Err(e);
        }
        if self.connection_oriented() {
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            let Conn::Connected { peer, peer_rx } = &st.conn else {
                return Err(Errno::ENOTCONN);
            };
            let (peer, peer_rx, limit) = (peer.clone(), peer_rx.clone(), st.sndbuf);
            // Loopback TCP counts its segments.
            let fam = st.local.filter(|_| self.inet()).map(inet::family_of);
            let (mine, from) = (st.passcred, st.name.clone().unwrap_or_default());
            // One socket's lock at a time: its peer may be sending too.
            drop(st);
            let passcred = mine || peer.upgrade().is_some_and(|p| p.st.lock().passcred);
            if passcred && anc.creds.is_none() {
                anc.creds = Some(own);
            }
            if self.kind == libc::SOCK_STREAM {
                if data.is_empty() {
                    return Ok(0);
                }
                let r = self.send_noted(&peer_rx, anc, |anc| {
                    peer_rx.send_stream(data, from, anc, limit)
                });
                if let (Ok(n), Some(f)) = (&r, fam) {
                    self.names.mib.tcp_data(f, *n as u64);
                }
                return r;
            }
            if data.len() > limit.saturating_sub(32) {
                return Err(Errno::EMSGSIZE);
            }
            return self.send_noted(&peer_rx, anc, |anc| {
                peer_rx.send_packet(data, from, anc, limit, usize::MAX)
            });
        }
        // A datagram: to the given address or the default peer.
        if st.shutdown & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        let sndbuf = st.sndbuf;
        let dest = match to {
            Some(t) => t,
            None => match &st.conn {
                Conn::Connected { peer, .. } => match peer.upgrade() {
                    Some(p) => p,
                    // Its peer is gone: refused once, then unconnected.
                    None => {
                        st.conn = Conn::None;
                        return Err(Errno::ECONNREFUSED);
                    }
                },
                _ => return Err(Errno::ENOTCONN),
            },
        };
        let passcred = st.passcred;
        drop(st);
        if data.len() > sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        // A socket connected to another takes only its peer's datagrams.
        if let Conn::Connected { peer, .. } = &dest.st.lock().conn {
            if !Weak::ptr_eq(peer, &self.this) {
                return Err(Errno::EPERM);
            }
        }
        let (dest_pass, rcvbuf) = {
            let d = dest.st.lock();
            // A receiver shut down for reading takes nothing.
            if d.shutdown & RCV_SHUTDOWN != 0 && !self.inet() {
                return Err(Errno::EPIPE);
            }
            (d.passcred, d.rcvbuf)
        };
        if (passcred || dest_pass) && anc.creds.is_none() {
            anc.creds = Some(own);
        }
        if passcred || dest_pass {
            self.autobind()?;
        }
        let from = self.st.lock().name.clone().unwrap_or_default();
        let r = self.send_noted(&dest.rx, anc, |anc| {
            dest.rx
                .send_packet(data, from, anc, rcvbuf.max(sndbuf), MAX_DGRAM_QLEN)
        });
        match r {
            Err(e) if e == Errno::EPIPE => Err(Errno::ECONNREFUSED),
            r => r,
        }
    }

    /// One receive, without waiting: EAGAIN when there is nothing.
    fn recv_once(&self, max: usize, peek: bool) -> KResult<Received> {
        if self.inet() {
            if let Some(c) = self.ext_tcp() {
                return self.tcp_recv(&c, max, peek);
            }
        }
        // A background connect not done yet has nothing to read.
        self.finish_connect();
        let (shutdown, connected) = {
            let st = self.st.lock();
            if st.retry.is_some() {
                return Err(Errno::EAGAIN);
            }
            if matches!(st.conn, Conn::Listening { .. }) {
                // TCP's listener is not connected; a unix one is invalid.
                return Err(if self.inet() {
                    Errno::ENOTCONN
                } else {
                    Errno::EINVAL
                });
            }
            (st.shutdown, !matches!(st.conn, Conn::None))
        };
        if self.connection_oriented() && !connected {
            return Err(if self.kind == libc::SOCK_STREAM && !self.inet() {
                Errno::EINVAL
            } else {
                Errno::ENOTCONN
            });
        }
        if self.inet() && !self.connection_oriented() {
            if let Some(e) = self.st.lock().err.take() {
                return Err(e);
            }
        }
        let r = if self.packet() {
            self.rx.recv_packet(max, peek).map(|mut r| {
                r.control = self.packet_control(&r);
                if let (Some(d), false) = (r.dst.filter(|_| self.inet()), peek) {
                    self.names.mib.udp_read(inet::family_of(d), self.lite);
                }
                r
            })
        } else {
            // SO_PEEK_OFF: a peek starts where the last one ended; a read
            // moves that point back by what it took.
            let off = self.st.lock().peek_off;
            let skip = usize::try_from(off).unwrap_or(0);
            let r = self.rx.recv_stream_at(max, peek, skip);
            if let (Ok(got), true) = (&r, off >= 0) {
                let n = i32::try_from(got.data.len()).unwrap_or(i32::MAX);
                let mut st = self.st.lock();
                st.peek_off = if peek {
                    st.peek_off.saturating_add(n)
                } else {
                    (st.peek_off - n).max(0)
                };
            }
            r
        };
        match r {
            Err(e) if e == Errno::EAGAIN => {
                let mut st = self.st.lock();
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
                if shutdown & RCV_SHUTDOWN != 0 {
                    st.fin_read |= !peek;
                    return Ok(Received {
                        shut: true,
                        ..Received::default()
                    });
                }
                Err(Errno::EAGAIN)
            }
            // A read that wanted more than was left meets the FIN too.
            Ok(got) => {
                if !peek && got.data.len() < max && shutdown & RCV_SHUTDOWN != 0 {
                    self.st.lock().fin_read |= self.rx.is_empty();
                }
                Ok(got)
            }
            r => r,
        }
    }

    /// The control messages a received datagram comes with, in the
    /// kernel's layout: its timestamp (SO_TIMESTAMP, SO_TIMESTAMPNS),
    /// then an IP one's packet info.
    fn packet_control(&self, r: &Received) -> Vec<u8> {
        let mut msgs: Vec<(i32, i32, Vec<u8>)> = Vec::new();
        let (us, ns) = {
            let st = self.st.lock();
            (
                st.opts.flag(libc::SO_TIMESTAMP),
                st.opts.flag(libc::SO_TIMESTAMPNS),
            )
        };
        if let (true, Some(t)) = (us || ns, r.stamp) {
            let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let sec = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let mut b = sec.to_ne_bytes().to_vec();
            if ns {
                b.extend_from_slice(&i64::from(d.subsec_nanos()).to_ne_bytes());
                msgs.push((libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, b));
            } else {
                b.extend_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
                msgs.push((libc::SOL_SOCKET, libc::SCM_TIMESTAMP, b));
            }
        }
        if let (true, Some(dst)) = (self.inet(), r.dst) {
            msgs.extend(self.pktinfo(dst));
            msgs.extend(self.header_control(r));
        }
        let mut out = Vec::new();
        for (level, kind, data) in msgs {
            out.extend_from_slice(&((16 + data.len()) as u64).to_ne_bytes());
            out.extend_from_slice(&level.to_ne_bytes());
            out.extend_from_slice(&kind.to_ne_bytes());
            out.extend_from_slice(&data);
            out.resize(out.len().next_multiple_of(8), 0);
        }
        out
    }

    fn readable(&self) -> bool {
        let st = self.st.lock();
        match &st.conn {
            Conn::Listening { pending, .. } => !pending.is_empty(),
            _ => !self.rx.is_empty() || st.shutdown & RCV_SHUTDOWN != 0 || st.err.is_some(),
        }
    }

    fn writable(&self) -> bool {
        let st = self.st.lock();
        if let Some(l) = st.connecting.clone() {
            // One socket's lock at a time (a connect holds the
            // listener's, then takes ours).
            drop(st);
            return match l.upgrade() {
                Some(l) => match &l.st.lock().conn {
                    Conn::Listening { backlog, pending } => pending.len() <= *backlog,
                    _ => true,
                },
                None => true,
            };
        }
        match &st.conn {
            // As Linux's unix_writable: the sender's queued bytes are at
            // most a quarter of its send buffer.
            Conn::Connected { peer_rx, .. } if self.kind == libc::SOCK_STREAM => {
                peer_rx.queued() * 4 <= st.sndbuf
            }
            // A packet socket: room for one more, as its send decides.
            Conn::Connected { peer_rx, .. } => {
                let max = if self.kind == libc::SOCK_DGRAM {
                    MAX_DGRAM_QLEN
                } else {
                    usize::MAX
                };
                peer_rx.room(st.sndbuf, max)
            }
            Conn::Listening { .. } => false,
            // As Linux's unix_dgram_poll, an unconnected sender is
            // writable whatever its last receiver's queue holds (a
            // blocking sendto to a full one waits in the send loop).
            Conn::None => true,
        }
    }

    /// The port table a socket's port is in.
    fn proto(&self) -> inet::Proto {
        if self.kind == libc::SOCK_STREAM {
            inet::Proto::Tcp
        } else if self.lite {
            inet::Proto::UdpLite
        } else {
            inet::Proto::Udp
        }
    }
}

/// Connects `a` and `b` to each other.
fn link(a: &Arc<LocalSocket>, b: &Arc<LocalSocket>) {
    a.st.lock().conn = Conn::Connected {
        peer: Arc::downgrade(b),
        peer_rx: b.rx.clone(),
    };
    b.st.lock().conn = Conn::Connected {
        peer: Arc::downgrade(a),
        peer_rx: a.rx.clone(),
    };
}

impl Drop for LocalSocket {
    fn drop(&mut self) {
        let proto = self.proto();
        let tcp = self.inet() && self.kind == libc::SOCK_STREAM;
        let st = self.st.get_mut();
        LocalSocket::remote_close(st);
        if let Some(k) = st.key.take() {
            self.names.remove_if_dead(&k);
        }
        if let Some(l) = st.local.take() {
            self.names.ports.sweep(proto, l.port());
        }
        // Pending connections and queued files go outside any lock of
        // ours: each may be a socket with a drop of its own.
        let conn = std::mem::replace(&mut st.conn, Conn::None);
        // Connections never accepted are reset: their clients see
        // ECONNRESET, not an orderly end.
        if let Conn::Listening { pending, .. } = &conn {
            for server in pending {
                if let Some(client) = server.peer() {
                    {
                        let mut cs = client.st.lock();
                        cs.shutdown = SHUTDOWN_MASK;
                        cs.err = Some(Errno::ECONNRESET);
                    }
                    client.rx.wq.notify(EV_IN | EV_OUT | EV_HUP);
                }
            }
        }
        // TCP closes with a reset when data was left unread, or when
        // SO_LINGER is on with no time to wait.
        let unread = self.rx.close() || (tcp && st.opts.linger() == (true, 0));
        let fam = st.local.or(st.remote).map(inet::family_of);
        if let (true, Some(f), Conn::Connected { .. }) = (tcp, fam, &conn) {
            if unread {
                self.names.mib.tcp_reset(f);
            } else if st.shutdown & SEND_SHUTDOWN == 0 {
                self.names.mib.tcp_control(f, 1);
            }
        }
        if let Conn::Connected { peer, peer_rx } = conn {
            if let Some(p) = peer.upgrade() {
                {
                    let mut ps = p.st.lock();
                    if tcp && !unread {
                        // TCP's FIN: the peer may still send (once).
                        ps.shutdown |= RCV_SHUTDOWN;
                        ps.peer_fin = true;
                    } else if self.kind != libc::SOCK_DGRAM {
                        ps.shutdown = SHUTDOWN_MASK;
                        if unread {
                            ps.err = Some(Errno::ECONNRESET);
                        }
                    }
                }
                p.rx.wq.notify(EV_IN | EV_OUT | EV_HUP);
            }
            peer_rx.wq.notify(EV_IN | EV_OUT | EV_HUP);
        }
    }
}

impl LocalFile {
    fn sock(&self) -> &Arc<LocalSocket> {
        &self.0
    }

    /// The open file of socket `s`, as /proc/pid/fd names it.
    pub fn file(s: Arc<LocalSocket>, flags: i32) -> Arc<File> {
        let name = format!("socket:[{}]", s.ino).into_bytes();
        File::new(Box::new(LocalFile(s)), flags, name)
    }
}

/// The caller's credentials as a socket sees them.
/// fstat(2) of a socket with no inode of its own in the file tree.
pub(crate) fn socket_stat() -> Stat {
    Stat {
        mode: libc::S_IFSOCK | 0o777,
        nlink: 1,
        blksize: 4096,
        ..Default::default()
    }
}

pub fn ucred_of(ctx: &Ctx<'_, '_>) -> Ucred {
    let c = &ctx.proc_ref().creds;
    Ucred {
        pid: ctx.tgid(),
        uid: c.euid,
        gid: c.egid,
    }
}

impl Socket for LocalFile {
    fn family(&self) -> i32 {
        self.0.family
    }
    fn kind(&self) -> i32 {
        self.0.kind
    }
    fn protocol(&self) -> i32 {
        if !self.0.inet() {
            return 0;
        }
        match self.0.proto() {
            inet::Proto::Tcp => libc::IPPROTO_TCP,
            inet::Proto::Udp => libc::IPPROTO_UDP,
            inet::Proto::UdpLite => libc::IPPROTO_UDPLITE,
        }
    }
    fn fs_name(&self, addr: &[u8]) -> KResult<Option<Vec<u8>>> {
        if self.0.inet() {
            return Ok(None);
        }
        // AF_UNSPEC names nothing (a datagram socket's disconnect).
        if addr.len() >= 2 && i32::from(u16::from_ne_bytes([addr[0], addr[1]])) == libc::AF_UNSPEC {
            return Ok(None);
        }
        Ok(match addr::parse(addr)? {
            UnixAddr::Path(p) => Some(p),
            _ => None,
        })
    }
    fn bind(&self, _ctx: &Ctx<'_, '_>, a: &[u8], node: Option<NodeId>) -> KResult<()> {
        let s = self.sock();
        if s.inet() {
            return s.inet_bind(a);
        }
        match addr::parse(a)? {
            UnixAddr::Unnamed => {
                if s.st.lock().name.is_some() {
                    return Err(Errno::EINVAL);
                }
                s.autobind()
            }
            UnixAddr::Abstract(n) => s.set_name(NameKey::Abstract(n), a.to_vec()),
            UnixAddr::Path(p) => {
                let id = node.ok_or(Errno::EINVAL)?;
                s.set_name(NameKey::Path(id), addr::path_addr(&p))
            }
        }
    }
    fn listen(&self, ctx: &Ctx<'_, '_>, backlog: i32) -> KResult<()> {
        let s = self.sock();
        if s.kind == libc::SOCK_DGRAM {
            return Err(Errno::EOPNOTSUPP);
        }
        // A connected socket cannot listen, before any port question.
        if s.inet() && matches!(s.st.lock().conn, Conn::Connected { .. }) {
            return Err(Errno::EINVAL);
        }
        if s.inet() {
            s.inet_autobind()?;
            s.inet_may_listen()?;
        }
        let mut st = s.st.lock();
        if st.name.is_none() && !s.inet() {
            return Err(Errno::EINVAL);
        }
        if s.inet() && matches!(st.conn, Conn::Connected { .. }) {
            return Err(Errno::EINVAL);
        }
        // An unsigned int to Linux: -1 is as big as they come.
        let backlog = (backlog.cast_unsigned() as usize).min(SOMAXCONN);
        match &mut st.conn {
            Conn::Connected { .. } => return Err(Errno::EINVAL),
            Conn::Listening { backlog: b, .. } => *b = backlog,
            Conn::None => {
                st.conn = Conn::Listening {
                    backlog,
                    pending: VecDeque::new(),
                }
            }
        }
        st.peercred = Some(ucred_of(ctx));
        drop(st);
        if s.inet() {
            s.remote_listen(backlog)?;
        }
        s.rx.wq.notify(EV_OUT);
        Ok(())
    }
    fn accept(&self) -> KResult<Box<dyn FileOps>> {
        let s = self.sock();
        // Datagram sockets have no accept at all.
        if s.kind == libc::SOCK_DGRAM {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = s.st.lock();
        let shut = st.shutdown & RCV_SHUTDOWN != 0;
        let Conn::Listening { pending, .. } = &mut st.conn else {
            return Err(Errno::EINVAL);
        };
        // A listener shut down for reading has nothing more to wait for.
        let c = pending
            .pop_front()
            .ok_or(if shut { Errno::EINVAL } else { Errno::EAGAIN })?;
        drop(st);
        // Room in the backlog for a waiting connect.
        s.rx.wq.notify(EV_OUT);
        Ok(Box::new(LocalFile(c)))
    }
    fn connect(&self, ctx: &Ctx<'_, '_>, a: &[u8], node: Option<NodeId>) -> KResult<()> {
        let s = self.sock();
        if s.inet() {
            return s.inet_connect(ctx, a);
        }
        // AF_UNSPEC: a datagram socket forgets its peer.
        if s.kind == libc::SOCK_DGRAM
            && a.len() >= 2
            && i32::from(u16::from_ne_bytes([a[0], a[1]])) == libc::AF_UNSPEC
        {
            s.st.lock().conn = Conn::None;
            return Ok(());
        }
        let addr = addr::parse(a)?;
        if matches!(addr, UnixAddr::Unnamed) {
            if s.kind == libc::SOCK_DGRAM {
                // AF_UNSPEC-like: a datagram socket forgets its peer.
                s.st.lock().conn = Conn::None;
                return Ok(());
            }
            return Err(Errno::EINVAL);
        }
        let target = s.target(&addr, node)?;
        if s.st.lock().passcred {
            s.autobind()?;
        }
        if s.kind == libc::SOCK_DGRAM {
            let peer_rx = target.rx.clone();
            s.st.lock().conn = Conn::Connected {
                peer: Arc::downgrade(&target),
                peer_rx,
            };
            return Ok(());
        }
        s.connect_to(&target, ucred_of(ctx), |_| {})
    }
    fn connect_again(&self) -> bool {
        self.0.st.lock().connecting.is_some()
    }
    fn connects_in_background(&self) -> bool {
        let s = &self.0;
        if !(s.inet() && s.kind == libc::SOCK_STREAM) {
            return false;
        }
        // Only a connection this call made (a remote one is always).
        let mut st = s.st.lock();
        let fresh = std::mem::take(&mut st.fresh) || !matches!(st.ext, remote::Ext::None);
        if fresh {
            st.unreported = true;
        }
        fresh
    }
    fn connect_pending(&self) -> bool {
        self.0.inet() && self.0.remote_connecting()
    }
    fn connect_in_background(&self, err: Errno) -> bool {
        let s = self.sock();
        if !(s.inet() && s.kind == libc::SOCK_STREAM) {
            return false;
        }
        if std::mem::take(&mut s.st.lock().failure_told) {
            return false;
        }
        if err == Errno::ECONNREFUSED {
            s.refused();
        } else {
            s.st.lock().unreported = true;
        }
        true
    }
    fn shutdown(&self, how: i32) -> KResult<()> {
        let s = self.sock();
        let mode = match how {
            libc::SHUT_RD => RCV_SHUTDOWN,
            libc::SHUT_WR => SEND_SHUTDOWN,
            libc::SHUT_RDWR => SHUTDOWN_MASK,
            _ => return Err(Errno::EINVAL),
        };
        if s.inet() {
            let st = s.st.lock();
            let connected = matches!(st.conn, Conn::Connected { .. }) || st.remote.is_some();
            if !connected && !matches!(st.conn, Conn::Listening { .. }) {
                drop(st);
                // As Linux: refused, and marked shut down all the same.
                s.shut(mode);
                return Err(Errno::ENOTCONN);
            }
            let loopback_tcp = s.kind == libc::SOCK_STREAM && matches!(st.ext, remote::Ext::None);
            let fin = loopback_tcp
                && mode & SEND_SHUTDOWN != 0
                && st.shutdown & SEND_SHUTDOWN == 0
                && matches!(st.conn, Conn::Connected { .. });
            let fam = st.local.map(inet::family_of);
            drop(st);
            // Both FINs gone by: the connection is closed.
            if loopback_tcp && connected && s.loopback_state() == 7 {
                return Err(Errno::ENOTCONN);
            }
            if let (true, Some(f)) = (fin, fam) {
                s.names.mib.tcp_control(f, 1);
            }
        }
        s.shut(mode);
        if mode & RCV_SHUTDOWN != 0 && s.inet() {
            s.stop_listening();
        }
        if mode & SEND_SHUTDOWN != 0 {
            if let Some(c) = s.ext_tcp() {
                c.close_send();
            }
        }
        if s.connection_oriented() {
            if let Some(p) = s.peer() {
                let mut peer_mode = 0;
                // A unix socket's peer may not send after our SHUT_RD;
                // TCP's SHUT_RD tells the peer nothing.
                if mode & RCV_SHUTDOWN != 0 && !s.inet() {
                    peer_mode |= SEND_SHUTDOWN;
                }
                if mode & SEND_SHUTDOWN != 0 {
                    peer_mode |= RCV_SHUTDOWN;
                }
                p.shut(peer_mode);
            }
        }
        Ok(())
    }
    fn sockname(&self) -> KResult<Vec<u8>> {
        let s = self.sock();
        if s.inet() {
            return Ok(s.inet_sockname());
        }
        Ok(s.st.lock().name.clone().unwrap_or_else(addr::unnamed))
    }
    fn peername(&self) -> KResult<Vec<u8>> {
        if self.0.inet() {
            // A TCP socket that is closed (reset, or its connect failed)
            // or still connecting has no peer, as Linux's inet_getname.
            const TCP_SYN_SENT: u8 = 2;
            const TCP_CLOSE: u8 = 7;
            if self.0.kind == libc::SOCK_STREAM
                && matches!(self.0.tcp_state(), TCP_SYN_SENT | TCP_CLOSE)
            {
                return Err(Errno::ENOTCONN);
            }
            // A peer port of 0 is no peer (a UDP connect to port 0).
            let r = self
                .0
                .st
                .lock()
                .remote
                .filter(|r| r.port() != 0)
                .ok_or(Errno::ENOTCONN)?;
            return Ok(inet::format(self.0.family, r));
        }
        let p = {
            let st = self.0.st.lock();
            match &st.conn {
                Conn::Connected { peer, .. } => peer.upgrade(),
                _ => return Err(Errno::ENOTCONN),
            }
        };
        Ok(p.and_then(|p| p.st.lock().name.clone())
            .unwrap_or_else(addr::unnamed))
    }
    fn send(
        &self,
        ctx: &Ctx<'_, '_>,
        data: &[u8],
        to: Option<(&[u8], Option<NodeId>)>,
        anc: Ancillary,
    ) -> KResult<usize> {
        let s = self.sock();
        if s.inet() {
            return s.inet_send(data, to.map(|(a, _)| a), anc, ucred_of(ctx));
        }
        let dest = match to {
            // A stream refuses an address; a seqpacket socket ignores it.
            Some(_) if s.kind == libc::SOCK_STREAM => {
                return Err(if matches!(s.st.lock().conn, Conn::Connected { .. }) {
                    Errno::EISCONN
                } else {
                    Errno::EOPNOTSUPP
                });
            }
            Some(_) if s.kind == libc::SOCK_SEQPACKET => None,
            Some((a, node)) => Some(s.target(&addr::parse(a)?, node)?),
            None => None,
        };
        s.send_once(data, dest, anc, ucred_of(ctx))
    }
    fn recv(&self, max: usize, peek: bool) -> KResult<Received> {
        self.0.recv_once(max, peek)
    }
    fn passes_creds(&self) -> bool {
        self.0.st.lock().passcred
    }
    fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        self.0.st.lock().opts.timeout(send)
    }
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        let s = self.sock();
        if s.inet() && level != libc::SOL_SOCKET {
            return s.inet_getsockopt(level, name);
        }
        if level == libc::SOL_SOCKET {
            if let Some(v) = s.st.lock().opts.get(name) {
                return Ok(v);
            }
        }
        let int = |v: usize| Ok(i32::try_from(v).unwrap_or(i32::MAX).to_ne_bytes().to_vec());
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_SNDBUF) => int(s.st.lock().sndbuf),
            (libc::SOL_SOCKET, libc::SO_RCVBUF) => int(s.st.lock().rcvbuf),
            (libc::SOL_SOCKET, libc::SO_PASSCRED) => int(usize::from(s.st.lock().passcred)),
            (libc::SOL_SOCKET, libc::SO_PEEK_OFF) if s.kind == libc::SOCK_STREAM => {
                Ok(s.st.lock().peek_off.to_ne_bytes().to_vec())
            }
            (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => int(usize::from(matches!(
                s.st.lock().conn,
                Conn::Listening { .. }
            ))),
            (libc::SOL_SOCKET, libc::SO_ERROR) => {
                s.finish_connect();
                let remote = s.ext_tcp().and_then(|c| c.take_error());
                let e = s.st.lock().err.take().or(remote.map(|e| Errno(e.errno())));
                Ok(e.map_or(0, |e| e.0).to_ne_bytes().to_vec())
            }
            (libc::SOL_SOCKET, libc::SO_PEERCRED) => {
                let c = s.st.lock().peercred.unwrap_or(Ucred {
                    pid: 0,
                    uid: u32::MAX,
                    gid: u32::MAX,
                });
                Ok(c.bytes().to_vec())
            }
            _ => generic_option(self, level, name),
        }
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        let s = self.sock();
        if s.inet() && level != libc::SOL_SOCKET {
            return s.inet_setsockopt(level, name, value);
        }
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let set = s.st.lock().opts.set(name, value);
        if let Some(r) = set {
            if name == libc::SO_KEEPALIVE && r.is_ok() && s.inet() {
                s.remote_keepalive();
            }
            return r;
        }
        let v = crate::socket::int_option(value)?;
        if name == libc::SO_PASSCRED {
            s.st.lock().passcred = v != 0;
            return Ok(());
        }
        // Kept for streams (unix and loopback TCP); a negative value
        // turns it off.
        if name == libc::SO_PEEK_OFF {
            if s.kind != libc::SOCK_STREAM {
                return Err(Errno::EOPNOTSUPP);
            }
            s.st.lock().peek_off = v.max(-1);
            return Ok(());
        }
        let send = match name {
            libc::SO_SNDBUF | libc::SO_SNDBUFFORCE => true,
            libc::SO_RCVBUF | libc::SO_RCVBUFFORCE => false,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        // As Linux: capped at the maximum (a negative value is huge),
        // doubled for bookkeeping overhead, never below the minimum. The
        // *FORCE variants' privilege check is the caller's.
        let val = usize::try_from(v.cast_unsigned()).unwrap_or(usize::MAX);
        let capped = if matches!(name, libc::SO_SNDBUFFORCE | libc::SO_RCVBUFFORCE) {
            val.min(i32::MAX as usize / 2)
        } else {
            val.min(BUF_MAX)
        };
        let mut st = s.st.lock();
        if send {
            st.sndbuf = (capped * 2).max(MIN_SNDBUF);
        } else {
            st.rcvbuf = (capped * 2).max(MIN_RCVBUF);
        }
        drop(st);
        s.rx.wq.notify(EV_OUT);
        if let Some(p) = s.peer() {
            p.rx.wq.notify(EV_OUT);
        }
        Ok(())
    }
}

impl FileOps for LocalFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let r = self.0.recv_once(buf.len(), false)?;
        if r.shut && f.nonblocking() && self.0.kind == libc::SOCK_DGRAM {
            return Err(Errno::EAGAIN);
        }
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }
    fn write(&self, _f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let own = self.0.st.lock().writer;
        if self.0.inet() {
            // A connected UDP socket's peer is an address, not a socket.
            return self.0.inet_send(buf, None, Ancillary::default(), own);
        }
        self.0.send_once(buf, None, Ancillary::default(), own)
    }
    fn before_transfer(&self, cx: &mut crate::kernel::Ctx<'_, '_>, write: bool) -> KResult<()> {
        if write {
            self.0.st.lock().writer = ucred_of(cx);
        }
        Ok(())
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.0.attrs.apply(Stat {
            mode: libc::S_IFSOCK | 0o777,
            ino: self.0.ino,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        }))
    }
    fn setattr(&self, attr: &crate::fs::vfs::SetAttr) -> KResult<()> {
        self.0.attrs.set(attr);
        Ok(())
    }
    fn poll(&self, events: i16) -> i16 {
        let s = &self.0;
        s.finish_connect();
        if s.inet() {
            if let Some(c) = s.ext_tcp() {
                return s.tcp_poll(&c) & (events | libc::POLLHUP | libc::POLLERR);
            }
        }
        let (shutdown, err, unconnected_stream) = {
            let st = s.st.lock();
            // A connect waiting for room in a backlog is not hung up.
            let waiting = st.connecting.is_some();
            (
                st.shutdown,
                st.err.is_some(),
                s.connection_oriented() && matches!(st.conn, Conn::None) && !waiting,
            )
        };
        let mut r = 0;
        if err {
            r |= libc::POLLERR;
        }
        if shutdown == SHUTDOWN_MASK || unconnected_stream {
            r |= libc::POLLHUP;
        }
        if shutdown & RCV_SHUTDOWN != 0 {
            r |= libc::POLLRDHUP | libc::POLLIN | libc::POLLRDNORM;
        }
        if s.readable() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if s.writable() {
            r |= libc::POLLOUT | libc::POLLWRNORM;
            // TCP's poll has no band for urgent data to write.
            if !(s.inet() && s.kind == libc::SOCK_STREAM) {
                r |= libc::POLLWRBAND;
            }
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }
    fn wait_queues(&self, _c: &crate::fs::vfs::Caller, ev: Events) -> Queues {
        let s = &self.0;
        let mut q = Queues::new();
        q.push((s.rx.wq.clone(), ev));
        let st = s.st.lock();
        if let Conn::Connected { peer_rx, .. } = &st.conn {
            // Room to send appears on the peer's queue.
            q.push((peer_rx.wq.clone(), ev & !EV_IN));
        }
        if let Some(l) = st.connecting.as_ref().and_then(Weak::upgrade) {
            q.push((l.rx.wq.clone(), ev & !EV_IN));
        }
        q
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        if cmd == libc::SIOCSIFFLAGS {
            let owner = self.0.names.owner();
            let admin = cx
                .proc_ref()
                .creds
                .capable_in(&owner, crate::kernel::creds::cap::NET_ADMIN);
            return ifreq::set_flags(&cx.mm, &self.0.names, admin, arg);
        }
        if let Some(r) = ifreq::ioctl(&cx.mm, &self.0.names, cmd, arg) {
            return r;
        }
        let s = &self.0;
        let queues = if s.inet() {
            s.ext_tcp().map(|c| c.queues())
        } else {
            None
        };
        let v = match cmd as libc::c_ulong {
            libc::FIONREAD | libc::TIOCOUTQ if queues.is_some() => {
                let (rx, tx) = queues.unwrap_or_default();
                if cmd as libc::c_ulong == libc::FIONREAD {
                    rx
                } else {
                    tx
                }
            }
            libc::FIONREAD => {
                if matches!(s.st.lock().conn, Conn::Listening { .. }) {
                    return Err(Errno::EINVAL);
                }
                // A datagram's size; a seqpacket socket's every record.
                if s.packet() && s.kind != libc::SOCK_SEQPACKET {
                    s.rx.next_len()
                } else {
                    s.rx.queued()
                }
            }
            // A unix stream's unread bytes are its sender's; loopback
            // TCP's are acknowledged as they arrive.
            libc::TIOCOUTQ => match &s.st.lock().conn {
                Conn::Connected { peer_rx, .. } if !s.packet() && !s.inet() => peer_rx.queued(),
                _ => 0,
            },
            _ => return Err(Errno::ENOTTY),
        };
        let v = i32::try_from(v).unwrap_or(i32::MAX);
        crate::mm::write_obj(&cx.mm, arg, &v)?;
        Ok(0)
    }
    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
