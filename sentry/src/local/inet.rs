//! AF_INET and AF_INET6 on the loopback interface: addresses
//! (`struct sockaddr_in`, `sockaddr_in6`) and the ports sockets are bound
//! to. Both ends of a loopback connection are sockets of this sandbox,
//! so they are local sockets like AF_UNIX ones, found by port instead of
//! by name.

use super::{Conn, LocalSocket};
use crate::errno::{Errno, KResult};
use crate::socket::Ancillary;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Weak};

/// net.ipv4.ip_local_port_range.
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// sizeof(struct sockaddr_in), and the smallest sockaddr_in6 Linux takes.
const SIN_LEN: usize = 16;
const SIN6_LEN: usize = 28;
const SIN6_MIN: usize = 24;

/// sa_family values, as the 16 bits the structures hold.
pub(super) const FAM_INET: u16 = 2;
const FAM_INET6: u16 = 10;
const FAM_UNSPEC: u16 = 0;
const _: () = assert!(libc::AF_INET == FAM_INET as i32 && libc::AF_INET6 == FAM_INET6 as i32);

/// UDP-Lite's checksum coverage options (SOL_UDPLITE).
const UDPLITE_SEND_CSCOV: i32 = 10;
const UDPLITE_RECV_CSCOV: i32 = 11;

/// The transport a port belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    UdpLite,
}

/// Decodes an application's address for a socket of `family` (AF_INET
/// or AF_INET6). A v4-mapped v6 address is the v4 one.
pub fn parse(family: i32, a: &[u8]) -> KResult<SocketAddr> {
    let fam = a
        .get(..2)
        .map(|b| i32::from(u16::from_ne_bytes([b[0], b[1]])))
        .ok_or(Errno::EINVAL)?;
    if family == libc::AF_INET {
        if a.len() < SIN_LEN {
            return Err(Errno::EINVAL);
        }
        if fam != libc::AF_INET {
            return Err(Errno::EAFNOSUPPORT);
        }
        let port = u16::from_be_bytes([a[2], a[3]]);
        let ip = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
        return Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)));
    }
    if a.len() < SIN6_MIN {
        return Err(Errno::EINVAL);
    }
    if fam != libc::AF_INET6 {
        return Err(Errno::EAFNOSUPPORT);
    }
    let port = u16::from_be_bytes([a[2], a[3]]);
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&a[8..24]);
    let ip = Ipv6Addr::from(ip);
    Ok(match ip.to_ipv4_mapped() {
        Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
        None => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
    })
}

/// Encodes `sa` as a socket of `family` reports it (v4 addresses of a v6
/// socket are v4-mapped).
pub fn format(family: i32, sa: SocketAddr) -> Vec<u8> {
    if family == libc::AF_INET {
        let mut v = vec![0u8; SIN_LEN];
        v[..2].copy_from_slice(&FAM_INET.to_ne_bytes());
        v[2..4].copy_from_slice(&sa.port().to_be_bytes());
        if let IpAddr::V4(ip) = sa.ip() {
            v[4..8].copy_from_slice(&ip.octets());
        }
        return v;
    }
    let mut v = vec![0u8; SIN6_LEN];
    v[..2].copy_from_slice(&FAM_INET6.to_ne_bytes());
    v[2..4].copy_from_slice(&sa.port().to_be_bytes());
    let ip = match sa.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    v[8..24].copy_from_slice(&ip.octets());
    v
}

/// Whether `ip` is an address of this sandbox's only interface, lo (or
/// the wildcard, which means it).
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_unspecified() || ip.is_loopback()
}

/// What traffic to loopback address `ip` meets while lo is down: no
/// route for IPv4, no source address for IPv6 (::1 went with lo).
pub fn lo_down(ip: IpAddr) -> Errno {
    if ip.is_ipv4() {
        Errno::ENETUNREACH
    } else {
        Errno::EADDRNOTAVAIL
    }
}

/// The IP family traffic to `a` counts under (a v4-mapped address is v4).
pub(super) fn family_of(a: SocketAddr) -> super::mib::Family {
    super::mib::Family {
        v6: a.ip().to_canonical().is_ipv6(),
    }
}

/// What `ip` means as a destination: the wildcard is the loopback
/// address of its kind.
pub fn loopback_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

/// A bound socket and its address.
struct Binding {
    sock: Weak<LocalSocket>,
    addr: SocketAddr,
    /// IPV6_V6ONLY when bound (it cannot change after): a v6 wildcard
    /// that does not cover v4.
    v6only: bool,
}

/// The ports of one network namespace.
#[derive(Default)]
pub struct Ports {
    bound: Mutex<HashMap<(Proto, u16), Vec<Binding>>>,
    next: Mutex<u16>,
}

/// Whether a wildcard bound as `w` (`v6only`: IPV6_V6ONLY) takes
/// traffic for `o`: a v4 wildcard v4's, a v6 one v6's and, unless
/// v6-only, v4's too.
fn covers(w: IpAddr, v6only: bool, o: IpAddr) -> bool {
    w.is_unspecified()
        && if w.is_ipv6() {
            o.is_ipv6() || !v6only
        } else {
            o.is_ipv4()
        }
}

/// Whether two bound addresses (with their V6ONLY) overlap: one covers
/// the other, or they are equal.
fn overlap(a: (IpAddr, bool), b: (IpAddr, bool)) -> bool {
    covers(a.0, a.1, b.0) || covers(b.0, b.1, a.0) || a.0 == b.0
}

impl Ports {
    /// Binds `s` to `addr` (port 0: an ephemeral one); the address bound.
    /// EADDRINUSE when a live socket holds an overlapping address on the
    /// port, unless both allow sharing (`reuse`) and neither listens.
    pub fn bind(
        &self,
        proto: Proto,
        addr: SocketAddr,
        s: &Weak<LocalSocket>,
        reuse: impl Fn(&LocalSocket) -> bool,
        me: &LocalSocket,
    ) -> KResult<SocketAddr> {
        // Sockets looked at are let go after the table's lock: a last
        // reference dropped under it would deadlock in the drop's sweep.
        let mut seen: Vec<Arc<LocalSocket>> = Vec::new();
        let v6only = me.v6only();
        let mut b = self.bound.lock();
        let mut free = |b: &HashMap<(Proto, u16), Vec<Binding>>, port: u16| {
            b.get(&(proto, port)).is_none_or(|v| {
                v.iter().all(|x| match x.sock.upgrade() {
                    None => true,
                    Some(o) => {
                        let ok = !overlap((x.addr.ip(), x.v6only), (addr.ip(), v6only))
                            || (reuse(&o) && reuse(me));
                        seen.push(o);
                        ok
                    }
                })
            })
        };
        let port = if addr.port() != 0 {
            if !free(&b, addr.port()) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        } else {
            let mut next = self.next.lock();
            let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
            let mut found = None;
            for _ in 0..span {
                let p = if EPHEMERAL.contains(&*next) {
                    *next
                } else {
                    *EPHEMERAL.start()
                };
                *next = if p == *EPHEMERAL.end() {
                    *EPHEMERAL.start()
                } else {
                    p + 1
                };
                if free(&b, p) {
                    found = Some(p);
                    break;
                }
            }
            found.ok_or(Errno::EADDRINUSE)?
        };
        let mut bound = addr;
        bound.set_port(port);
        let v = b.entry((proto, port)).or_default();
        v.retain(|x| x.sock.strong_count() > 0);
        v.push(Binding {
            sock: s.clone(),
            addr: bound,
            v6only,
        });
        drop(b);
        drop(seen);
        Ok(bound)
    }

    /// The socket that takes traffic for `dest`: bound to it exactly,
    /// else to the wildcard; `want` picks among them (a listener for a
    /// connection).
    pub fn find(
        &self,
        proto: Proto,
        dest: SocketAddr,
        want: impl Fn(&LocalSocket) -> bool,
    ) -> Option<Arc<LocalSocket>> {
        // Upgraded under the table's lock, looked at (and let go) after it.
        let found: Vec<(SocketAddr, bool, Arc<LocalSocket>)> = {
            let b = self.bound.lock();
            let v = b.get(&(proto, dest.port()))?;
            v.iter()
                .filter_map(|x| Some((x.addr, x.v6only, x.sock.upgrade()?)))
                .collect()
        };
        let mut wild = None;
        for (addr, v6only, s) in found {
            if !want(&s) {
                continue;
            }
            if addr.ip() == dest.ip() {
                return Some(s);
            }
            let takes = covers(addr.ip(), v6only, dest.ip());
            if takes && wild.is_none() {
                wild = Some(s);
            }
        }
        wild
    }

    /// Takes `me`'s binding of `port` back (a datagram socket's
    /// disconnect undoing its autobind).
    pub fn unbind(&self, proto: Proto, port: u16, me: &LocalSocket) {
        let mut b = self.bound.lock();
        if let Some(v) = b.get_mut(&(proto, port)) {
            v.retain(|x| x.sock.strong_count() > 0 && !std::ptr::eq(x.sock.as_ptr(), me));
            if v.is_empty() {
                b.remove(&(proto, port));
            }
        }
    }

    /// Forgets the dead bindings of a port.
    pub fn sweep(&self, proto: Proto, port: u16) {
        let mut b = self.bound.lock();
        if let Some(v) = b.get_mut(&(proto, port)) {
            v.retain(|x| x.sock.strong_count() > 0);
            if v.is_empty() {
                b.remove(&(proto, port));
            }
        }
    }
}

impl LocalSocket {
    fn v6(&self) -> bool {
        self.family == libc::AF_INET6
    }

    /// The wildcard address of the socket's family.
    fn any(&self) -> SocketAddr {
        if self.v6() {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))
        } else {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        }
    }

    /// Whether others may bind its port too: SO_REUSEPORT, or
    /// SO_REUSEADDR while it does not listen.
    fn shares_port(&self) -> bool {
        let st = self.st.lock();
        let listening = matches!(st.conn, super::Conn::Listening { .. });
        st.opts.flag(libc::SO_REUSEPORT) || (st.opts.flag(libc::SO_REUSEADDR) && !listening)
    }

    /// A loopback TCP socket's state as Linux names it, from what each
    /// side has shut: ESTABLISHED (1), FIN_WAIT2 (5, our FIN sent),
    /// CLOSE_WAIT (8, theirs received), CLOSE (7: both, a reset, never
    /// connected), LISTEN (10).
    pub(super) fn loopback_state(&self) -> u8 {
        let (peer, sent_fin, peer_fin) = {
            let st = self.st.lock();
            if st.retry.is_some() {
                return 2; // SYN_SENT
            }
            match &st.conn {
                super::Conn::Listening { .. } => return 10,
                super::Conn::None => return 7,
                super::Conn::Connected { peer, .. } => (
                    peer.clone(),
                    st.shutdown & super::SEND_SHUTDOWN != 0,
                    st.peer_fin,
                ),
            }
        };
        // The peer's lock only after ours is let go.
        let got_fin = peer_fin
            || peer
                .upgrade()
                .is_none_or(|p| p.st.lock().shutdown & super::SEND_SHUTDOWN != 0);
        match (sent_fin, got_fin) {
            (false, false) => 1,
            (true, false) => 5,
            (false, true) => 8,
            (true, true) => 7,
        }
    }

    /// shutdown(SHUT_RD) of a TCP listener: it stops listening (Linux's
    /// tcp_disconnect), its waiting connections are reset, and a blocked
    /// accept wakes to EINVAL.
    pub(super) fn stop_listening(&self) {
        let mut st = self.st.lock();
        let super::Conn::Listening { pending, .. } = &mut st.conn else {
            return;
        };
        let pending = std::mem::take(pending);
        st.conn = super::Conn::None;
        // A closed socket, shut down no more (tcp_disconnect).
        st.shutdown = 0;
        let ext = std::mem::take(&mut st.ext);
        drop(st);
        drop(pending);
        drop(ext);
        self.rx.wq.notify(crate::kernel::waitq::EV_ALL);
    }

    /// IPV6_V6ONLY: an AF_INET6 socket that has nothing to do with v4.
    pub(super) fn v6only(&self) -> bool {
        self.v6()
            && self
                .st
                .lock()
                .proto_opts
                .get(&(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY))
                .is_some_and(|&v| v != 0)
    }

    fn listening(&self) -> bool {
        matches!(self.st.lock().conn, super::Conn::Listening { .. })
    }

    /// Binds to `addr` in the port table (no socket lock held: the table
    /// looks at the other sockets' options).
    fn bind_port(&self, addr: SocketAddr) -> KResult<()> {
        let bound = self.names.ports.bind(
            self.proto(),
            addr,
            &self.this,
            LocalSocket::shares_port,
            self,
        )?;
        let mut st = self.st.lock();
        if st.local.is_some() {
            return Err(Errno::EINVAL);
        }
        st.local = Some(bound);
        drop(st);
        self.remote_udp_bind()
    }

    /// bind(2) of an AF_INET/AF_INET6 socket.
    pub(super) fn inet_bind(&self, a: &[u8]) -> KResult<()> {
        let addr = parse(self.family, a)?;
        // A v4-mapped address is no address of a v6-only socket.
        if addr.is_ipv4() && self.v6only() {
            return Err(Errno::EINVAL);
        }
        let r = self.inet_bind_addr(addr);
        if r.is_ok() {
            let mut st = self.st.lock();
            st.user_bound = true;
            // A v6 socket bound to one v6 address is v6-only from then on
            // (__inet6_bind sets sk_ipv6only).
            if self.family == libc::AF_INET6 && addr.is_ipv6() && !addr.ip().is_unspecified() {
                st.proto_opts
                    .insert((libc::IPPROTO_IPV6, libc::IPV6_V6ONLY), 1);
            }
        }
        r
    }

    fn inet_bind_addr(&self, addr: SocketAddr) -> KResult<()> {
        if self.st.lock().local.is_some() {
            return Err(Errno::EINVAL);
        }
        if !is_local(addr.ip()) && !self.is_own(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        // lo down has no ::1 (IPv4 binds any 127/8 address even so).
        if addr.ip() == IpAddr::V6(Ipv6Addr::LOCALHOST) && !self.names.lo_up() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        self.bind_port(addr)
    }

    /// Binds an unbound socket to an ephemeral port (listen, connect, a
    /// first datagram).
    pub(super) fn inet_autobind(&self) -> KResult<()> {
        if self.st.lock().local.is_some() {
            return Ok(());
        }
        match self.bind_port(self.any()) {
            // Bound meanwhile by another thread: that binding stands.
            Err(e) if e == Errno::EINVAL => Ok(()),
            r => r,
        }
    }

    /// EADDRINUSE when another socket already listens on its address and
    /// port (SO_REUSEPORT on both allows it).
    pub(super) fn inet_may_listen(&self) -> KResult<()> {
        let Some(local) = self.st.lock().local else {
            return Ok(());
        };
        let me = self.st.lock().opts.flag(libc::SO_REUSEPORT);
        let other = self.names.ports.find(Proto::Tcp, local, |o| {
            !std::ptr::eq(o, self)
                && o.listening()
                && !(me && o.st.lock().opts.flag(libc::SO_REUSEPORT))
        });
        if other.is_some() {
            return Err(Errno::EADDRINUSE);
        }
        Ok(())
    }

    /// The destination `a` names: the wildcard means the loopback address
    /// of its kind; anything neither on lo nor on the interface's network
    /// (`--network sandbox`) is unreachable.
    fn destination(&self, a: &[u8]) -> KResult<SocketAddr> {
        // An AF_INET6 datagram socket takes a sockaddr_in as the v4
        // address it maps (Linux's udpv6 and ip6_datagram_connect).
        let v4_given = self.v6()
            && self.kind == libc::SOCK_DGRAM
            && a.len() >= 2
            && i32::from(u16::from_ne_bytes([a[0], a[1]])) == libc::AF_INET;
        let mut d = if v4_given {
            parse(libc::AF_INET, a)?
        } else {
            parse(self.family, a)?
        };
        if d.is_ipv4() && self.v6only() {
            return Err(Errno::ENETUNREACH);
        }
        if d.ip().is_unspecified() {
            d.set_ip(loopback_for(d.ip()));
        }
        if !d.ip().is_loopback() && !self.is_own(d.ip()) && !self.is_remote(d.ip()) {
            return Err(Errno::ENETUNREACH);
        }
        if d.ip().is_loopback() && !self.names.lo_up() {
            return Err(lo_down(d.ip()));
        }
        Ok(d)
    }

    /// The socket's own address for traffic to `dest`: its bound one,
    /// with the wildcard made the loopback address of `dest`'s kind.
    fn source(&self, dest: SocketAddr) -> SocketAddr {
        let (l, user_bound) = {
            let st = self.st.lock();
            (st.local.unwrap_or_else(|| self.any()), st.user_bound)
        };
        // An address a connect picked is picked again for the next.
        if !l.ip().is_unspecified() && (user_bound || self.kind != libc::SOCK_DGRAM) {
            return l;
        }
        if self.is_own(dest.ip()) || self.is_remote(dest.ip()) {
            if let Some(n) = self.stack() {
                return SocketAddr::new(IpAddr::V4(n.config().addr), l.port());
            }
        }
        let ip: IpAddr = if dest.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, l.port())
    }

    /// connect(2) of an AF_INET/AF_INET6 socket.
    pub(super) fn inet_connect(&self, ctx: &crate::kernel::Ctx<'_, '_>, a: &[u8]) -> KResult<()> {
        let unspec = a.len() >= 2 && u16::from_ne_bytes([a[0], a[1]]) == FAM_UNSPEC;
        if unspec {
            // A datagram socket forgets its peer, and the address and port
            // it was given for it unless bind chose them.
            if self.kind == libc::SOCK_STREAM {
                self.abort_loopback();
                return Ok(());
            }
            if self.kind == libc::SOCK_DGRAM {
                let mut st = self.st.lock();
                st.remote = None;
                if !st.user_bound {
                    if let Some(l) = st.local.take() {
                        drop(st);
                        self.names.ports.unbind(self.proto(), l.port(), self);
                    }
                }
            }
            return Ok(());
        }
        let dest = self.destination(a)?;
        if self.kind == libc::SOCK_STREAM && (self.is_remote(dest.ip()) || self.ext_tcp().is_some())
        {
            return self.remote_connect(dest);
        }
        if self.kind == libc::SOCK_DGRAM {
            self.inet_autobind()?;
            let src = self.source(dest);
            let mut st = self.st.lock();
            st.remote = Some(dest);
            st.local = Some(src);
            return Ok(());
        }
        {
            // The last connect failed in the background: this one reports
            // its error (ECONNABORTED once SO_ERROR took it) and leaves
            // the socket unconnected, as Linux's inet_stream_connect.
            let mut st = self.st.lock();
            st.failure_told = false;
            if std::mem::take(&mut st.connect_failed) && st.retry.is_none() {
                st.shutdown = 0;
                st.failure_told = true;
                return Err(st.err.take().unwrap_or(Errno(libc::ECONNABORTED)));
            }
        }
        if self.st.lock().retry.is_some() {
            self.finish_connect();
            let mut st = self.st.lock();
            if st.retry.is_some() {
                return Err(Errno::EALREADY);
            }
            // Done now: this connect reports it (the handshake was
            // already under way, so not as EINPROGRESS).
            st.fresh = false;
            st.unreported = false;
            if matches!(st.conn, super::Conn::Connected { .. }) {
                return Ok(());
            }
            if let Some(e) = st.err.take() {
                return Err(e);
            }
        }
        {
            // The success of an earlier non-blocking connect, told once.
            let mut st = self.st.lock();
            if !matches!(st.conn, super::Conn::None) {
                let connected = matches!(st.conn, super::Conn::Connected { .. });
                if connected && std::mem::take(&mut st.unreported) {
                    return Ok(());
                }
                return Err(Errno::EISCONN);
            }
        }
        if dest.port() == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        self.inet_autobind()?;
        let cred = super::ucred_of(ctx);
        let r = self.loopback_connect(dest, cred);
        if r == Err(Errno::EAGAIN) {
            self.names.mib.listen_overflow();
            // A full backlog: a non-blocking caller leaves it to go on.
            // Like a SYN sent again, it is tried again when the socket is
            // looked at (poll, which the listener's accept wakes; SO_ERROR;
            // connect; a read or write).
            self.st.lock().retry = Some((dest, cred));
        }
        r
    }

    /// connect(AF_UNSPEC) of a connected loopback TCP socket: the
    /// connection is reset (the peer hears ECONNRESET) and the socket may
    /// connect again (Linux's tcp_disconnect).
    fn abort_loopback(&self) {
        let conn = {
            let mut st = self.st.lock();
            if !matches!(st.conn, super::Conn::Connected { .. })
                || !matches!(st.ext, super::remote::Ext::None)
            {
                return;
            }
            st.remote = None;
            st.shutdown = 0;
            st.peer_fin = false;
            std::mem::replace(&mut st.conn, super::Conn::None)
        };
        // What was queued for us goes; the peer is reset.
        self.rx.discard();
        if let super::Conn::Connected { peer, .. } = conn {
            if let Some(p) = peer.upgrade() {
                {
                    let mut ps = p.st.lock();
                    ps.shutdown = super::SHUTDOWN_MASK;
                    ps.err = Some(Errno::ECONNRESET);
                }
                p.rx.wq.notify(crate::kernel::waitq::EV_ALL);
            }
        }
        self.rx.wq.notify(crate::kernel::waitq::EV_ALL);
    }

    /// A loopback TCP connect to `dest` as `cred`: EAGAIN while the
    /// listener's backlog is full.
    fn loopback_connect(&self, dest: SocketAddr, cred: super::Ucred) -> KResult<()> {
        let fam = family_of(dest);
        let Some(listener) = self
            .names
            .ports
            .find(Proto::Tcp, dest, LocalSocket::listening)
        else {
            self.names.mib.tcp_refused(fam);
            return Err(Errno::ECONNREFUSED);
        };
        let src = self.source(dest);
        let r = self.connect_to(&listener, cred, |st| {
            st.local = Some(dest);
            st.remote = Some(src);
        });
        match r {
            Ok(()) => self.names.mib.tcp_connected(fam),
            Err(e) if e == Errno::ECONNREFUSED => self.names.mib.tcp_refused(fam),
            _ => {}
        }
        r?;
        let mut st = self.st.lock();
        st.local = Some(src);
        st.remote = Some(dest);
        st.retry = None;
        st.fresh = true;
        Ok(())
    }

    /// Moves a background connect on (when it is looked at: poll,
    /// SO_ERROR, connect again): connected once the backlog has room,
    /// refused when the listener went.
    pub(super) fn finish_connect(&self) {
        let Some((dest, cred)) = self.st.lock().retry else {
            return;
        };
        match self.loopback_connect(dest, cred) {
            // Made in the background: the next connect call reports it.
            Ok(()) => {
                let mut st = self.st.lock();
                st.fresh = false;
                st.unreported = true;
            }
            Err(e) if e == Errno::EAGAIN => {}
            Err(e) => {
                let mut st = self.st.lock();
                st.retry = None;
                st.connecting = None;
                st.err = Some(e);
                st.shutdown = super::SHUTDOWN_MASK;
                st.connect_failed = true;
            }
        }
    }

    /// A non-blocking connect the other side refused: the error waits in
    /// SO_ERROR, and the socket is closed.
    pub(super) fn refused(&self) {
        let mut st = self.st.lock();
        st.err = Some(Errno::ECONNREFUSED);
        st.shutdown = super::SHUTDOWN_MASK;
        st.connect_failed = true;
        drop(st);
        self.rx.wq.notify(crate::kernel::waitq::EV_ALL);
    }

    pub(super) fn inet_sockname(&self) -> Vec<u8> {
        let l = self.st.lock().local.unwrap_or_else(|| self.any());
        format(self.family, l)
    }

    /// A send on an AF_INET/AF_INET6 socket: a TCP stream as a unix one
    /// (an unconnected one is EPIPE); a UDP datagram to `to` or the
    /// connected peer, dropped when nobody takes it or its queue is full.
    /// (`anc` carries no files here; its `src` is the sender's IP_PKTINFO
    /// source, which must be one of the sandbox's own addresses.)
    pub(super) fn inet_send(
        &self,
        data: &[u8],
        to: Option<&[u8]>,
        anc: Ancillary,
        own: super::Ucred,
    ) -> KResult<usize> {
        if self.kind == libc::SOCK_STREAM {
            if let Some(c) = self.ext_tcp() {
                return self.tcp_send(&c, data);
            }
            self.finish_connect();
            let st = self.st.lock();
            if st.retry.is_some() {
                // Still connecting: nothing can be sent yet.
                return Err(Errno::EAGAIN);
            }
            if !matches!(st.conn, super::Conn::Connected { .. }) {
                return Err(Errno::EPIPE);
            }
            drop(st);
            return self.send_once(data, None, anc, own);
        }
        // A datagram send binds the socket first, whatever becomes of it
        // (inet_send_prepare).
        self.inet_autobind()?;
        let dest = match to {
            Some(a) => self.destination(a)?,
            None => self.st.lock().remote.ok_or(Errno::EDESTADDRREQ)?,
        };
        if dest.port() == 0 {
            return Err(Errno::EINVAL);
        }
        let max = if self.v6() { 65527 } else { 65507 };
        if data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        {
            let mut st = self.st.lock();
            if st.shutdown & super::SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            // An ICMP error a connected socket heard of fails this send.
            if to.is_none() {
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
            }
        }
        self.inet_autobind()?;
        if self.is_remote(dest.ip()) {
            if self.lite {
                // The netstack has no UDP-Lite.
                return Err(Errno::ENETUNREACH);
            }
            return self.remote_send_to(dest, data);
        }
        let mut src = self.source(dest);
        if let Some(a) = anc.src {
            if a.is_ipv4() != dest.is_ipv4() {
                return Err(Errno::EINVAL);
            }
            // Linux's routing finds no device for a v4 source it does not
            // have; v6 checks the address itself.
            if !(a.is_loopback() || self.is_own(a)) {
                return Err(if a.is_ipv4() {
                    Errno::ENETUNREACH
                } else {
                    Errno::EINVAL
                });
            }
            src.set_ip(a);
        }
        // A connected datagram socket takes only its peer's datagrams.
        let takes_from = |o: &LocalSocket| o.st.lock().remote.is_none_or(|r| r == src);
        let Some(t) = self.names.ports.find(self.proto(), dest, takes_from) else {
            if dest == super::dns::RESOLVER && self.proto() == Proto::Udp {
                if let Some(r) = self.names.dns.get() {
                    r.forward(src, data);
                    return Ok(data.len());
                }
            }
            // A connected socket hears of it (ICMP port unreachable).
            let len = data.len() as u64;
            self.names.mib.udp(family_of(dest), self.lite, len, None);
            let mut st = self.st.lock();
            if st.remote == Some(dest) {
                st.err = Some(Errno::ECONNREFUSED);
            }
            return Ok(data.len());
        };
        let rcvbuf = t.st.lock().rcvbuf;
        let from = format(t.family, src);
        let (ttl, tos) = self.header_fields(dest, &anc);
        let anc = Ancillary {
            dst: Some(dest),
            ttl: Some(ttl),
            tos: Some(tos),
            ..Default::default()
        };
        let r = t.rx.send_packet(data, from, anc, rcvbuf, usize::MAX);
        let len = data.len() as u64;
        self.names
            .mib
            .udp(family_of(dest), self.lite, len, Some(r.is_ok()));
        match r {
            Err(e) if e == Errno::EAGAIN || e == Errno::EPIPE => Ok(data.len()),
            r => r,
        }
    }

    /// The TTL (hop limit) and TOS (traffic class) a datagram to `dest`
    /// carries: the send's control message, else the socket's option.
    fn header_fields(&self, dest: SocketAddr, anc: &Ancillary) -> (u8, u8) {
        let st = self.st.lock();
        let opt = |l: i32, n: i32, d: i32| st.proto_opts.get(&(l, n)).copied().unwrap_or(d);
        let byte = |v: i32| u8::try_from(v).unwrap_or(0);
        if dest.is_ipv4() {
            let ttl = anc
                .ttl
                .unwrap_or_else(|| byte(opt(libc::IPPROTO_IP, libc::IP_TTL, 64)));
            let tos = anc
                .tos
                .unwrap_or_else(|| byte(opt(libc::IPPROTO_IP, libc::IP_TOS, 0)));
            (ttl, tos)
        } else {
            let hops = anc
                .hoplimit
                .unwrap_or_else(|| byte(opt(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 64)));
            let class = anc
                .tclass
                .unwrap_or_else(|| byte(opt(libc::IPPROTO_IPV6, libc::IPV6_TCLASS, 0)));
            (hops, class)
        }
    }

    /// The IPPROTO_TCP, IPPROTO_IP and IPPROTO_IPV6 options, as kept.
    fn known_option(&self, level: i32, name: i32) -> Option<i32> {
        let tcp = self.kind == libc::SOCK_STREAM;
        Some(match (level, name) {
            (libc::IPPROTO_TCP, libc::TCP_NODELAY | libc::TCP_CORK) if tcp => 0,
            (libc::IPPROTO_TCP, libc::TCP_MAXSEG) if tcp => 65483,
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) if tcp => 7200,
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) if tcp => 75,
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) if tcp => 9,
            (libc::IPPROTO_TCP, libc::TCP_SYNCNT) if tcp => 6,
            (libc::IPPROTO_TCP, libc::TCP_LINGER2) if tcp => 60,
            (libc::IPPROTO_TCP, libc::TCP_QUICKACK) if tcp => 1,
            (libc::IPPROTO_TCP, libc::TCP_THIN_LINEAR_TIMEOUTS) if tcp => 0,
            (
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT
                | libc::TCP_WINDOW_CLAMP
                | libc::TCP_USER_TIMEOUT
                | libc::TCP_FASTOPEN
                | libc::TCP_FASTOPEN_CONNECT
                | libc::TCP_NOTSENT_LOWAT,
            ) if tcp => 0,
            (libc::IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV | UDPLITE_RECV_CSCOV) if self.lite => 0,
            (libc::IPPROTO_IP, libc::IP_TTL) => 64,
            (libc::IPPROTO_IP, libc::IP_HDRINCL) => 0,
            (
                libc::IPPROTO_IP,
                libc::IP_TOS
                | libc::IP_PKTINFO
                | libc::IP_RECVERR
                | libc::IP_RECVTOS
                | libc::IP_RECVTTL
                | libc::IP_FREEBIND
                | libc::IP_BIND_ADDRESS_NO_PORT,
            ) => 0,
            (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER) => 1,
            // Kept and read back; no multicast leaves the sandbox's lo.
            (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL | libc::IP_MULTICAST_LOOP) => 1,
            (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS | libc::IPV6_MULTICAST_LOOP)
                if self.v6() =>
            {
                1
            }
            (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER) if self.v6() => 1,
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) if self.v6() => 64,
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY
                | libc::IPV6_TCLASS
                | libc::IPV6_RECVPKTINFO
                | libc::IPV6_RECVHOPLIMIT
                | libc::IPV6_RECVTCLASS
                | libc::IPV6_RECVERR,
            ) if self.v6() => 0,
            _ => return None,
        })
    }

    pub(super) fn inet_getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        // A level that is not this socket's: AF_INET's answer is
        // EOPNOTSUPP, AF_INET6's ENOPROTOOPT (as Linux's).
        let own = match self.kind {
            libc::SOCK_STREAM => libc::IPPROTO_TCP,
            _ if self.lite => libc::IPPROTO_UDPLITE,
            _ => libc::IPPROTO_UDP,
        };
        let levels = [libc::IPPROTO_IP, libc::IPPROTO_IPV6, own];
        if !levels.contains(&level) || (level == libc::IPPROTO_IPV6 && !self.v6()) {
            return Err(if self.v6() {
                Errno::ENOPROTOOPT
            } else {
                Errno::EOPNOTSUPP
            });
        }
        if level == libc::IPPROTO_TCP && self.kind == libc::SOCK_STREAM {
            if name == libc::TCP_CONGESTION {
                let reno = self.st.lock().proto_opts.get(&(level, name)) == Some(&1);
                let mut v = if reno {
                    b"reno".to_vec()
                } else {
                    b"cubic".to_vec()
                };
                v.resize(16, 0);
                return Ok(v);
            }
            if name == libc::TCP_INFO {
                return Ok(self.tcp_info());
            }
        }
        let default = self.known_option(level, name).ok_or(Errno::ENOPROTOOPT)?;
        let v = self
            .st
            .lock()
            .proto_opts
            .get(&(level, name))
            .copied()
            .unwrap_or(default);
        Ok(v.to_ne_bytes().to_vec())
    }

    /// A protocol option's value as Linux keeps it: range-checked (EINVAL),
    /// -1 for a default, booleans as 0 or 1, IP_TOS without the ECN bits
    /// on a TCP socket.
    fn checked_option(&self, level: i32, name: i32, v: i32) -> KResult<i32> {
        let within = |lo: i32, hi: i32| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(Errno::EINVAL)
            }
        };
        match (level, name) {
            (libc::IPPROTO_IP, libc::IP_TTL) if v == -1 => Ok(64),
            (libc::IPPROTO_IP, libc::IP_TTL) => within(1, 255),
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) if v == -1 => Ok(64),
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => within(0, 255),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) if v == -1 => Ok(0),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => within(0, 255),
            (libc::IPPROTO_IP, libc::IP_TOS) => {
                let tos = v & 0xff;
                Ok(if self.kind == libc::SOCK_STREAM {
                    tos & !3
                } else {
                    tos
                })
            }
            (libc::IPPROTO_TCP, libc::TCP_NODELAY | libc::TCP_CORK) => Ok(i32::from(v != 0)),
            // Flags, read back as 0 or 1.
            (
                libc::IPPROTO_IP,
                libc::IP_PKTINFO
                | libc::IP_RECVTTL
                | libc::IP_RECVTOS
                | libc::IP_RECVERR
                | libc::IP_FREEBIND
                | libc::IP_BIND_ADDRESS_NO_PORT,
            )
            | (
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY
                | libc::IPV6_RECVPKTINFO
                | libc::IPV6_RECVHOPLIMIT
                | libc::IPV6_RECVTCLASS
                | libc::IPV6_RECVERR,
            ) => Ok(i32::from(v != 0)),
            (libc::IPPROTO_TCP, libc::TCP_MAXSEG) if v != 0 => within(88, 32767),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE | libc::TCP_KEEPINTVL) => within(1, 32767),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT | libc::TCP_SYNCNT) => within(1, 127),
            (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => within(0, i32::MAX),
            (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT) => within(0, 1),
            _ => Ok(v),
        }
    }

    pub(super) fn inet_setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        if level == libc::IPPROTO_TCP
            && name == libc::TCP_CONGESTION
            && self.kind == libc::SOCK_STREAM
        {
            // The algorithms Linux has built in; any other is not there.
            let n = value.split(|&b| b == 0).next().unwrap_or_default();
            let which = match n {
                b"cubic" => 0,
                b"reno" => 1,
                _ => return Err(Errno::ENOENT),
            };
            self.st.lock().proto_opts.insert((level, name), which);
            return Ok(());
        }
        // IP_HDRINCL reads 0 here; only a raw socket may set it.
        if (level, name) == (libc::IPPROTO_IP, libc::IP_HDRINCL) {
            return Err(Errno::ENOPROTOOPT);
        }
        self.known_option(level, name).ok_or(Errno::ENOPROTOOPT)?;
        // IPPROTO_IP's int options also take a single byte.
        let mut v = match value.len() {
            1..=3 if level == libc::IPPROTO_IP => i32::from(value[0]),
            _ => crate::socket::int_option(value)?,
        };
        v = self.checked_option(level, name, v)?;
        // V6ONLY is fixed once the socket has a port.
        if (level, name) == (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)
            && self.st.lock().local.is_some()
        {
            return Err(Errno::EINVAL);
        }
        if level == libc::IPPROTO_UDPLITE {
            // As Linux: a coverage under the header's 8 bytes is 8.
            v = if v != 0 && v < 8 {
                8
            } else {
                v.min(i32::from(u16::MAX))
            };
        }
        self.st.lock().proto_opts.insert((level, name), v);
        if (level, name) == (libc::IPPROTO_TCP, libc::TCP_NODELAY) {
            if let Some(c) = self.ext_tcp() {
                c.set_nodelay(v != 0);
            }
        }
        if (level, name) == (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) {
            self.remote_keepalive();
        }
        Ok(())
    }

    /// The IP control messages a datagram to `dst` is received with, by
    /// the socket's options: IP_PKTINFO (a v4 one), IPV6_PKTINFO.
    pub(super) fn pktinfo(&self, dst: SocketAddr) -> Vec<(i32, i32, Vec<u8>)> {
        let (v4, v6) = {
            let st = self.st.lock();
            let on = |l, n| st.proto_opts.get(&(l, n)).is_some_and(|&v| v != 0);
            (
                on(libc::IPPROTO_IP, libc::IP_PKTINFO),
                on(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
            )
        };
        let index = if dst.ip().is_loopback() {
            super::iface::LO_INDEX
        } else {
            super::iface::ETH_INDEX
        };
        let mut out = Vec::new();
        if let (true, IpAddr::V4(ip)) = (v4, dst.ip()) {
            // struct in_pktinfo: the interface, the local address, the
            // header's destination.
            let mut b = index.to_ne_bytes().to_vec();
            b.extend_from_slice(&ip.octets());
            b.extend_from_slice(&ip.octets());
            out.push((libc::IPPROTO_IP, libc::IP_PKTINFO, b));
        }
        if v6 && self.v6() {
            // struct in6_pktinfo: the destination, then the interface.
            let ip = match dst.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let mut b = ip.octets().to_vec();
            b.extend_from_slice(&index.to_ne_bytes());
            out.push((libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, b));
        }
        out
    }

    /// The control messages for a received datagram's header, as the
    /// socket asks for them: IP_TTL and IP_TOS (IP_RECVTTL, IP_RECVTOS)
    /// for an IPv4 one, IPV6_HOPLIMIT and IPV6_TCLASS (IPV6_RECVHOPLIMIT,
    /// IPV6_RECVTCLASS) for an IPv6 one.
    pub(super) fn header_control(&self, r: &crate::socket::Received) -> Vec<(i32, i32, Vec<u8>)> {
        let (Some(dst), Some(ttl), Some(tos)) = (r.dst, r.ttl, r.tos) else {
            return Vec::new();
        };
        let st = self.st.lock();
        let on = |l, n| st.proto_opts.get(&(l, n)).is_some_and(|&v| v != 0);
        let int = |v: u8| i32::from(v).to_ne_bytes().to_vec();
        let mut out = Vec::new();
        if dst.is_ipv4() {
            if on(libc::IPPROTO_IP, libc::IP_RECVTTL) {
                out.push((libc::IPPROTO_IP, libc::IP_TTL, int(ttl)));
            }
            // The one control message whose value is a byte.
            if on(libc::IPPROTO_IP, libc::IP_RECVTOS) {
                out.push((libc::IPPROTO_IP, libc::IP_TOS, vec![tos]));
            }
        } else {
            if on(libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT) {
                out.push((libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, int(ttl)));
            }
            if on(libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS) {
                out.push((libc::IPPROTO_IPV6, libc::IPV6_TCLASS, int(tos)));
            }
        }
        out
    }

    /// TCP_ESTABLISHED, TCP_CLOSE, ... as Linux numbers them.
    pub(super) fn tcp_state(&self) -> u8 {
        match self.ext_tcp() {
            Some(c) => c.linux_state(),
            None => self.loopback_state(),
        }
    }

    /// struct tcp_info (104 bytes), with what a loopback connection has:
    /// its state and segment sizes.
    fn tcp_info(&self) -> Vec<u8> {
        let state = self.tcp_state();
        let mut v = vec![0u8; 104];
        let mut put = |at: usize, x: u32| v[at..at + 4].copy_from_slice(&x.to_ne_bytes());
        // tcpi_snd_cwnd (the initial window) and tcpi_reordering (the
        // sysctl's 3), for every state.
        put(80, 10);
        put(88, 3);
        let listen = match &self.st.lock().conn {
            Conn::Listening { backlog, pending } => Some((pending.len(), *backlog)),
            _ => None,
        };
        if let Some((queued, backlog)) = listen {
            // A listener's tcpi_unacked and tcpi_sacked are its queue and
            // backlog; nothing else.
            put(24, u32::try_from(queued).unwrap_or(u32::MAX));
            put(28, u32::try_from(backlog).unwrap_or(u32::MAX));
        } else {
            // tcpi_snd_mss and tcpi_rcv_mss; tcpi_pmtu and tcpi_advmss.
            put(16, 65483);
            put(20, 65483);
            put(60, 65536);
            put(84, 65483);
        }
        v[0] = state;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        let sa: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v = format(libc::AF_INET, sa);
        assert_eq!(v.len(), 16);
        assert_eq!(parse(libc::AF_INET, &v), Ok(sa));
        let v6 = format(libc::AF_INET6, sa);
        assert_eq!(v6.len(), 28);
        // A v4-mapped address is the v4 one.
        assert_eq!(parse(libc::AF_INET6, &v6), Ok(sa));
        let l6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(parse(libc::AF_INET6, &format(libc::AF_INET6, l6)), Ok(l6));
        assert_eq!(parse(libc::AF_INET, &v[..15]), Err(Errno::EINVAL));
        assert_eq!(parse(libc::AF_INET, &v6), Err(Errno::EAFNOSUPPORT));
    }

    #[test]
    fn wildcards_overlap_their_kind() {
        let ip = |s: &str| (s.parse::<IpAddr>().unwrap(), false);
        let v6only = |s: &str| (s.parse::<IpAddr>().unwrap(), true);
        assert!(overlap(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(overlap(ip("::"), ip("127.0.0.1")));
        assert!(!overlap(ip("0.0.0.0"), ip("::1")));
        assert!(overlap(ip("::1"), ip("::1")));
        assert!(!overlap(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(
            !overlap(v6only("::"), ip("0.0.0.0")),
            "a v6-only wildcard leaves v4 be"
        );
        assert!(!overlap(v6only("::"), ip("127.0.0.1")));
        assert!(overlap(v6only("::"), ip("::1")));
        assert!(overlap(v6only("::"), ip("::")));
    }

    #[test]
    fn ports_bind_find_and_free() {
        let names = Arc::new(super::super::Names::default());
        let ports = Ports::default();
        let a = LocalSocket::new(libc::SOCK_STREAM, &names);
        let b = LocalSocket::new(libc::SOCK_STREAM, &names);
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let no = |_: &LocalSocket| false;
        let got = ports
            .bind(Proto::Tcp, any, &Arc::downgrade(&a), no, &a)
            .unwrap();
        assert!(EPHEMERAL.contains(&got.port()));
        let same: SocketAddr = format!("127.0.0.1:{}", got.port()).parse().unwrap();
        assert_eq!(
            ports.bind(Proto::Tcp, same, &Arc::downgrade(&b), no, &b),
            Err(Errno::EADDRINUSE)
        );
        // Another transport's ports are apart.
        assert!(ports
            .bind(Proto::Udp, same, &Arc::downgrade(&b), no, &b)
            .is_ok());
        assert!(ports
            .find(Proto::Tcp, same, |_| true)
            .is_some_and(|s| Arc::ptr_eq(&s, &a)));
        drop(a);
        assert!(ports.find(Proto::Tcp, same, |_| true).is_none());
        assert!(ports
            .bind(Proto::Tcp, same, &Arc::downgrade(&b), no, &b)
            .is_ok());
    }
}
