//! AF_INET sockets beyond lo (`--network sandbox`): a TCP connection,
//! listener or UDP port of the netstack, kept beside the socket's local
//! state. A listener bound to the wildcard takes connections from both
//! sides: loopback ones as local sockets, the interface's from the
//! netstack, into the same accept queue; a UDP socket so receives from
//! both into its one queue.
//!
//! Netstack objects are never called or dropped under a socket's lock:
//! the stack calls back into sockets (a waker, an accepted connection, a
//! datagram) and those take their locks.

use super::inet::{format, Proto};
use super::{Conn, LocalSocket, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK};
use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{EV_HUP, EV_IN, EV_OUT};
use crate::socket::{Ancillary, Received};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The socket's part in the netstack.
#[derive(Default, Clone)]
pub(crate) enum Ext {
    #[default]
    None,
    Tcp(Arc<netstack::TcpConn>),
    Listen(Arc<netstack::Listener>),
    Udp(Arc<netstack::UdpSock>),
}

/// The keep-alive probe interval SO_KEEPALIVE asks for: after
/// TCP_KEEPIDLE seconds idle (Linux's default 7200).
fn keepalive_of(st: &super::State) -> Option<std::time::Duration> {
    if !st.opts.flag(libc::SO_KEEPALIVE) {
        return None;
    }
    let idle = st
        .proto_opts
        .get(&(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE))
        .copied()
        .unwrap_or(7200);
    Some(std::time::Duration::from_secs(
        u64::try_from(idle.max(1)).unwrap_or(7200),
    ))
}

fn errno(e: netstack::NetError) -> Errno {
    Errno(e.errno())
}

impl LocalSocket {
    pub(super) fn stack(&self) -> Option<&netstack::Stack> {
        self.names.net.get()
    }

    /// Whether traffic to `ip` leaves through the interface.
    pub(super) fn is_remote(&self, ip: IpAddr) -> bool {
        !ip.is_unspecified() && !ip.is_loopback() && self.stack().is_some_and(|n| !n.is_own(ip))
    }

    /// Whether `ip` is an address of this sandbox beside lo's.
    pub(super) fn is_own(&self, ip: IpAddr) -> bool {
        self.stack().is_some_and(|n| n.is_own(ip))
    }

    /// Whether a socket bound to `ip` hears the interface.
    fn hears_interface(&self, ip: IpAddr) -> bool {
        ip.is_unspecified() || self.is_own(ip)
    }

    pub(super) fn ext(&self) -> Ext {
        self.st.lock().ext.clone()
    }

    pub(super) fn ext_tcp(&self) -> Option<Arc<netstack::TcpConn>> {
        match &self.st.lock().ext {
            Ext::Tcp(c) => Some(c.clone()),
            _ => None,
        }
    }

    fn waker(&self) -> netstack::Waker {
        let wq = self.rx.wq.clone();
        Arc::new(move || wq.notify(EV_IN | EV_OUT | EV_HUP))
    }

    /// Replaces the socket's netstack part; the old one goes after the
    /// lock.
    fn set_ext(&self, e: Ext) {
        let old = std::mem::replace(&mut self.st.lock().ext, e);
        drop(old);
    }

    /// The options kept so far, applied to a new connection.
    fn apply_opts(&self, c: &netstack::TcpConn) {
        let (nodelay, keepalive) = {
            let st = self.st.lock();
            let tcp = |name, default| {
                st.proto_opts
                    .get(&(libc::IPPROTO_TCP, name))
                    .copied()
                    .unwrap_or(default)
            };
            (tcp(libc::TCP_NODELAY, 0) != 0, keepalive_of(&st))
        };
        c.set_nodelay(nodelay);
        c.set_keepalive(keepalive);
    }

    /// SO_KEEPALIVE (or TCP_KEEPIDLE) changed: the connection's probes
    /// follow.
    pub(super) fn remote_keepalive(&self) {
        if let Some(c) = self.ext_tcp() {
            let k = keepalive_of(&self.st.lock());
            c.set_keepalive(k);
        }
    }

    /// Closing: SO_LINGER on with no time resets the connection, as on
    /// Linux (a linger with time does not hold close(2) here: what is
    /// queued goes out after it returns).
    pub(super) fn remote_close(st: &super::State) {
        if let Ext::Tcp(c) = &st.ext {
            if st.opts.linger() == (true, 0) {
                c.reset();
            }
        }
    }

    /// connect(2) of a TCP socket to `dest` beyond lo: the handshake goes
    /// on in the stack; a blocking caller waits for it (`connect_pending`).
    pub(super) fn remote_connect(&self, dest: SocketAddr) -> KResult<()> {
        if let Some(c) = self.ext_tcp() {
            let r = c.readiness();
            if r.connecting {
                return Err(Errno(libc::EALREADY));
            }
            if let Some(e) = c.take_error() {
                // A failed attempt: the socket may connect again.
                self.set_ext(Ext::None);
                self.st.lock().remote = None;
                return Err(errno(e));
            }
            return Err(Errno::EISCONN);
        }
        if !matches!(self.st.lock().conn, Conn::None) {
            return Err(Errno::EISCONN);
        }
        let net = self.stack().ok_or(Errno::ENETUNREACH)?.clone();
        if dest.is_ipv6() {
            return Err(Errno::ENETUNREACH);
        }
        self.inet_autobind()?;
        let local = self.st.lock().local.ok_or(Errno::EINVAL)?;
        if !self.hears_interface(local.ip()) {
            return Err(Errno::EINVAL);
        }
        let c = net
            .tcp_connect(local.port(), dest, self.waker())
            .map_err(errno)?;
        self.apply_opts(&c);
        let mut st = self.st.lock();
        st.local = Some(SocketAddr::new(IpAddr::V4(net.config().addr), local.port()));
        st.remote = Some(dest);
        st.ext = Ext::Tcp(Arc::new(c));
        Ok(())
    }

    /// Whether a connect is still in its handshake.
    pub(super) fn remote_connecting(&self) -> bool {
        self.ext_tcp().is_some_and(|c| c.readiness().connecting)
    }

    /// listen(2) of a TCP socket that hears the interface: the stack
    /// listens on its port too.
    pub(super) fn remote_listen(&self, backlog: usize) -> KResult<()> {
        let Some(net) = self.stack().cloned() else {
            return Ok(());
        };
        let (local, ext) = {
            let st = self.st.lock();
            (st.local, st.ext.clone())
        };
        let Some(local) = local else { return Ok(()) };
        if !self.hears_interface(local.ip()) || local.is_ipv6() && !local.ip().is_unspecified() {
            return Ok(());
        }
        if let Ext::Listen(l) = ext {
            l.set_backlog(backlog);
            return Ok(());
        }
        let me = self.this.clone();
        let on_accept: netstack::OnAccept = Arc::new(move |c| match me.upgrade() {
            Some(l) => l.take_remote(c),
            None => Some(c),
        });
        match net.tcp_listen(local.port(), backlog, on_accept) {
            Ok(l) => self.set_ext(Ext::Listen(Arc::new(l))),
            // Another listener shares the port (SO_REUSEPORT): that one
            // takes the interface's connections, this one lo's.
            Err(netstack::NetError::AddrInUse) => {}
            Err(e) => return Err(errno(e)),
        }
        Ok(())
    }

    /// A connection the stack accepted for this listener, queued for
    /// accept(2); given back when the backlog is full.
    fn take_remote(&self, c: netstack::TcpConn) -> Option<netstack::TcpConn> {
        let room = |st: &super::State| match &st.conn {
            Conn::Listening { backlog, pending } => pending.len() <= *backlog,
            _ => false,
        };
        if !room(&self.st.lock()) {
            return Some(c);
        }
        let s = LocalSocket::new_in(self.family, libc::SOCK_STREAM, &self.names);
        c.set_waker(s.waker());
        self.apply_opts(&c);
        {
            let mut st = s.st.lock();
            st.local = c.local();
            st.remote = c.remote();
            st.ext = Ext::Tcp(Arc::new(c));
        }
        let mut st = self.st.lock();
        let Conn::Listening { pending, backlog } = &mut st.conn else {
            drop(st);
            return s.take_conn();
        };
        if pending.len() > *backlog {
            drop(st);
            return s.take_conn();
        }
        pending.push_back(s);
        drop(st);
        self.rx.wq.notify(EV_IN);
        None
    }

    /// Takes the netstack connection back out of a socket never accepted.
    fn take_conn(&self) -> Option<netstack::TcpConn> {
        let e = std::mem::take(&mut self.st.lock().ext);
        match e {
            Ext::Tcp(c) => Arc::try_unwrap(c).ok(),
            _ => None,
        }
    }

    /// A UDP socket bound where the interface is heard gets the stack's
    /// port too; what arrives there joins its queue.
    pub(super) fn remote_udp_bind(&self) -> KResult<()> {
        let Some(net) = self.stack().cloned() else {
            return Ok(());
        };
        if self.proto() != Proto::Udp {
            return Ok(());
        }
        let Some(local) = self.st.lock().local else {
            return Ok(());
        };
        if !self.hears_interface(local.ip()) {
            return Ok(());
        }
        let me = self.this.clone();
        let dst = SocketAddr::new(IpAddr::V4(net.config().addr), local.port());
        let on_datagram: netstack::OnDatagram = Arc::new(move |from, data| {
            let Some(s) = me.upgrade() else { return };
            let (rcvbuf, peer) = {
                let st = s.st.lock();
                (st.rcvbuf, st.remote)
            };
            // A connected socket hears its peer only.
            if peer.is_some_and(|p| p != from) {
                return;
            }
            let anc = Ancillary {
                dst: Some(dst),
                ..Default::default()
            };
            let _ =
                s.rx.send_packet(data, format(s.family, from), anc, rcvbuf, usize::MAX);
        });
        match net.udp_bind(local.port(), on_datagram) {
            Ok(u) => self.set_ext(Ext::Udp(Arc::new(u))),
            // Another socket shares the port (SO_REUSEADDR/REUSEPORT):
            // that one hears the interface.
            Err(netstack::NetError::AddrInUse) => {}
            Err(e) => return Err(errno(e)),
        }
        Ok(())
    }

    /// A datagram to `dest` beyond lo.
    pub(super) fn remote_send_to(&self, dest: SocketAddr, data: &[u8]) -> KResult<usize> {
        if dest.is_ipv6() {
            return Err(Errno::ENETUNREACH);
        }
        let r = match self.ext() {
            Ext::Udp(u) => u.send_to(dest, data),
            // The port's stack socket is another's (a shared port), or
            // nobody's (bound to lo only: EINVAL).
            _ => {
                let local = self.st.lock().local.ok_or(Errno::EINVAL)?;
                if !self.hears_interface(local.ip()) {
                    return Err(Errno::EINVAL);
                }
                let net = self.stack().ok_or(Errno::ENETUNREACH)?;
                net.udp_send_from(local.port(), dest, data)
            }
        };
        match r {
            // The interface's queue is full: dropped, as by a full NIC.
            Err(netstack::NetError::WouldBlock) => Ok(data.len()),
            r => r.map_err(errno),
        }
    }

    /// One send on a netstack connection.
    pub(super) fn tcp_send(&self, c: &netstack::TcpConn, data: &[u8]) -> KResult<usize> {
        if self.st.lock().shutdown & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        c.send(data).map_err(errno)
    }

    /// One receive on a netstack connection.
    pub(super) fn tcp_recv(
        &self,
        c: &netstack::TcpConn,
        max: usize,
        peek: bool,
    ) -> KResult<Received> {
        if self.st.lock().shutdown & RCV_SHUTDOWN != 0 {
            return Ok(Received::default());
        }
        let data = c.recv(max, peek).map_err(errno)?;
        Ok(Received {
            len: data.len(),
            data,
            ..Default::default()
        })
    }

    /// poll(2) bits of a netstack connection.
    pub(super) fn tcp_poll(&self, c: &netstack::TcpConn) -> i16 {
        let r = c.readiness();
        let sd = self.st.lock().shutdown;
        let mut m = 0;
        if r.error {
            m |= libc::POLLERR;
        }
        if r.hup || sd == SHUTDOWN_MASK {
            m |= libc::POLLHUP;
        }
        if r.peer_closed || sd & RCV_SHUTDOWN != 0 {
            m |= libc::POLLRDHUP | libc::POLLIN | libc::POLLRDNORM;
        }
        if r.readable {
            m |= libc::POLLIN | libc::POLLRDNORM;
        }
        if r.writable && sd & SEND_SHUTDOWN == 0 {
            m |= libc::POLLOUT | libc::POLLWRNORM;
        }
        m
    }
}
