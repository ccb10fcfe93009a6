//! `--network host`: the application's AF_INET and AF_INET6 TCP and UDP
//! sockets are host sockets, opened by the sentry in the host's network
//! namespace (runsc's hostinet). The sentry still stands between the
//! application and the host: addresses are passed on only within
//! `ADDR_MAX` bytes, socket options only from [`HOST_SOCKOPTS`] (the
//! sandbox's seccomp filter is built from the same table and sets no
//! other; a read at a level none of its options is at goes to the host
//! for its errno), ioctls only those that read a count, and no control
//! message is sent. Host fds are always non-blocking: a blocking call waits in
//! the sentry on the fd (`FileOps::host_fd`), where signals and
//! SO_RCVTIMEO/SO_SNDTIMEO apply.
//!
//! Received control messages (IP_PKTINFO, timestamps, ...) are the host
//! kernel's, in the same ABI, and are handed on as they are.

use crate::errno::{Errno, KResult};
use crate::fs::file::{File, FileOps};
use crate::fs::Stat;
use crate::kernel::Ctx;
use crate::local::Names;
use crate::socket::{Ancillary, NodeId, Received, SockOpts, Socket, ADDR_MAX};
use parking_lot::Mutex;
use std::any::Any;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Socket options passed to the host: (level, name, settable). Every
/// one may be read; only the settable ones may be set. Options that
/// need privilege on the host (SO_MARK, SO_BINDTODEVICE,
/// IP_TRANSPARENT) or that hand out host state (netfilter's) are not
/// here: they are ENOPROTOOPT. IP_RECVERR is: glibc's resolver sets it
/// and gives up on ENOPROTOOPT, though the error queue itself
/// (MSG_ERRQUEUE) is not relayed.
pub const HOST_SOCKOPTS: &[(i32, i32, bool)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR, true),
    (libc::SOL_SOCKET, libc::SO_TYPE, false),
    (libc::SOL_SOCKET, libc::SO_ERROR, false),
    (libc::SOL_SOCKET, libc::SO_DONTROUTE, true),
    (libc::SOL_SOCKET, libc::SO_BROADCAST, true),
    (libc::SOL_SOCKET, libc::SO_SNDBUF, true),
    (libc::SOL_SOCKET, libc::SO_RCVBUF, true),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE, true),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE, true),
    (libc::SOL_SOCKET, libc::SO_PRIORITY, true),
    (libc::SOL_SOCKET, libc::SO_LINGER, true),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT, true),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT, true),
    (libc::SOL_SOCKET, libc::SO_SNDLOWAT, false),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP, true),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, true),
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN, false),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL, false),
    (libc::SOL_SOCKET, libc::SO_DOMAIN, false),
    (libc::SOL_SOCKET, libc::SO_RXQ_OVFL, true),
    (libc::SOL_SOCKET, libc::SO_INCOMING_CPU, false),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY, true),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG, true),
    (libc::IPPROTO_TCP, libc::TCP_CORK, true),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, true),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, true),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, true),
    (libc::IPPROTO_TCP, libc::TCP_SYNCNT, true),
    (libc::IPPROTO_TCP, libc::TCP_LINGER2, true),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, true),
    (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, true),
    (libc::IPPROTO_TCP, libc::TCP_INFO, false),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK, true),
    (libc::IPPROTO_TCP, libc::TCP_CONGESTION, true),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, true),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN, true),
    (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, true),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, true),
    (libc::IPPROTO_UDP, libc::UDP_CORK, true),
    (libc::IPPROTO_IP, libc::IP_TOS, true),
    (libc::IPPROTO_IP, libc::IP_TTL, true),
    (libc::IPPROTO_IP, libc::IP_PKTINFO, true),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, true),
    (libc::IPPROTO_IP, libc::IP_RECVTTL, true),
    (libc::IPPROTO_IP, libc::IP_RECVTOS, true),
    (libc::IPPROTO_IP, libc::IP_RECVERR, true),
    (libc::IPPROTO_IP, libc::IP_MTU, false),
    (libc::IPPROTO_IP, libc::IP_FREEBIND, true),
    (libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, true),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_IF, true),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, true),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, true),
    (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, true),
    (libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, true),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, true),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, true),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, true),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, true),
    (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, true),
    (libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP, true),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, true),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU, false),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, true),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, true),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, true),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, true),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVERR, true),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, true),
];

/// The IP header control messages of a send (IP_TTL, IP_TOS,
/// IPV6_HOPLIMIT, IPV6_TCLASS: values the sentry range-checked), in the
/// kernel's layout, for the host's sendmsg. Others are not passed on.
fn header_control(anc: &Ancillary) -> Vec<u8> {
    let mut out = Vec::new();
    let msgs = [
        (libc::IPPROTO_IP, libc::IP_TTL, anc.ttl),
        (libc::IPPROTO_IP, libc::IP_TOS, anc.tos),
        (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, anc.hoplimit),
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, anc.tclass),
    ];
    for (level, kind, v) in msgs {
        let Some(v) = v else { continue };
        out.extend_from_slice(&20u64.to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&i32::from(v).to_ne_bytes());
        out.resize(out.len().next_multiple_of(8), 0);
    }
    out
}

/// What the sandbox keeps of the host's network under `--network host`,
/// taken before it leaves the host's file tree.
pub struct HostNet {
    /// The interfaces as they were (netlink, ifreq, /proc/net/route).
    pub ifaces: Vec<crate::local::iface::Iface>,
    /// The host's live /proc/net tables, read again at every open. Files,
    /// not the directory: no fd of the sandbox's leads to another host
    /// path.
    proc_files: Vec<(&'static [u8], OwnedFd)>,
}

/// The /proc/net files read from the host (its counters too: the
/// sandbox's sockets are the host's).
const HOST_PROC_NET: [&str; 8] = [
    "tcp", "tcp6", "udp", "udp6", "dev", "snmp", "snmp6", "netstat",
];

impl HostNet {
    pub fn snapshot() -> HostNet {
        let proc_files = HOST_PROC_NET
            .iter()
            .filter_map(|&name| {
                let f = std::fs::File::open(format!("/proc/self/net/{name}")).ok()?;
                Some((name.as_bytes(), OwnedFd::from(f)))
            })
            .collect();
        HostNet {
            ifaces: crate::local::iface::host_snapshot(),
            proc_files,
        }
    }

    /// The host's /proc/net/`name` now, if it is one read from the host.
    pub fn proc_file(&self, name: &[u8]) -> Option<Vec<u8>> {
        let (_, fd) = self.proc_files.iter().find(|(n, _)| *n == name)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let off = i64::try_from(out.len()).ok()?;
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe {
                crate::hostio::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off)
            };
            match usize::try_from(n) {
                Ok(0) | Err(_) => return Some(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            // A table of tens of megabytes is cut there.
            if out.len() > 64 << 20 {
                return Some(out);
            }
        }
    }
}

/// SIOCATMARK (not in the libc crate).
pub const SIOCATMARK: libc::c_ulong = 0x8905;

/// The largest option value passed either way (TCP_INFO is 232 bytes).
const OPT_MAX: usize = 512;
/// Room for received control messages: a few small ones.
const CONTROL_ROOM: usize = 256;
/// The most one stream receive takes (the caller comes back for more).
const STREAM_CHUNK: usize = 1 << 20;
/// The largest datagram (a UDP payload is at most 65,535 bytes).
const DGRAM_MAX: usize = 65_536;

/// `r` as a length, or the call's errno.
fn check(r: isize) -> KResult<usize> {
    usize::try_from(r).map_err(|_| Errno::last())
}

fn check_int(r: libc::c_int) -> KResult<()> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn addr_len(addr: &[u8]) -> KResult<libc::socklen_t> {
    if addr.len() > ADDR_MAX {
        return Err(Errno::EINVAL);
    }
    libc::socklen_t::try_from(addr.len()).map_err(|_| Errno::EINVAL)
}

/// A host socket of the application's.
pub struct HostSocket {
    fd: OwnedFd,
    family: i32,
    kind: i32,
    protocol: i32,
    ino: u64,
    /// SO_RCVTIMEO and SO_SNDTIMEO, which the sentry's waits honour.
    opts: Mutex<SockOpts>,
    /// A TCP connect is in its handshake on the host (it said EINPROGRESS
    /// or EALREADY).
    connecting: AtomicBool,
    /// The interfaces the ifreq ioctls list.
    names: Arc<Names>,
}

/// The open file of a host socket.
pub struct HostFile(HostSocket);

impl HostSocket {
    /// A new host socket: TCP or UDP of AF_INET or AF_INET6 only.
    pub fn open(family: i32, kind: i32, names: &Arc<Names>) -> KResult<HostSocket> {
        let protocol = match kind {
            libc::SOCK_STREAM => libc::IPPROTO_TCP,
            libc::SOCK_DGRAM => libc::IPPROTO_UDP,
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        if family != libc::AF_INET && family != libc::AF_INET6 {
            return Err(Errno::EAFNOSUPPORT);
        }
        // SAFETY: socket(2) with plain arguments; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                family,
                kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        check_int(fd)?;
        // SAFETY: the fd was just created and nothing else owns it.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(HostSocket::wrap(fd, family, kind, protocol, names))
    }

    fn wrap(fd: OwnedFd, family: i32, kind: i32, protocol: i32, names: &Arc<Names>) -> Self {
        HostSocket {
            fd,
            family,
            kind,
            protocol,
            ino: crate::fs::pipe::anon_ino(),
            opts: Mutex::new(SockOpts::default()),
            connecting: AtomicBool::new(false),
            names: names.clone(),
        }
    }

    /// The open file of `s` with file `flags`.
    pub fn file(s: HostSocket, flags: i32) -> Arc<File> {
        let name = format!("socket:[{}]", s.ino).into_bytes();
        File::new(Box::new(HostFile(s)), flags, name)
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Readiness now, as poll(2) revents.
    fn poll_now(&self, events: i16) -> i16 {
        crate::hostio::poll_now(self.fd.as_fd(), events)
    }

    fn name(&self, peer: bool) -> KResult<Vec<u8>> {
        let mut buf = [0u8; ADDR_MAX];
        let mut len = addr_len(&buf)?;
        // SAFETY: the buffer and its length describe local memory the
        // call writes at most `len` bytes of.
        let r = unsafe {
            let (p, l) = (buf.as_mut_ptr().cast(), &raw mut len);
            if peer {
                libc::getpeername(self.raw(), p, l)
            } else {
                libc::getsockname(self.raw(), p, l)
            }
        };
        check_int(r)?;
        let n = usize::try_from(len).unwrap_or(0).min(ADDR_MAX);
        Ok(buf[..n].to_vec())
    }

    /// One host recvmsg into `iov` (MSG_DONTWAIT and `flags`): the
    /// length (the whole datagram's with MSG_TRUNC), the sender and the
    /// control messages.
    fn recvmsg(
        &self,
        iov: &mut [libc::iovec],
        flags: i32,
    ) -> KResult<(usize, Vec<u8>, Vec<u8>, i32)> {
        let mut name = [0u8; ADDR_MAX];
        let mut control = [0u64; CONTROL_ROOM / 8];
        // SAFETY: an all-zero msghdr is valid.
        let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
        m.msg_name = name.as_mut_ptr().cast();
        m.msg_namelen = addr_len(&name)?;
        m.msg_iov = iov.as_mut_ptr();
        m.msg_iovlen = iov.len();
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = CONTROL_ROOM;
        // SAFETY: every pointer in `m` describes memory valid for the
        // call: local buffers, and iovecs the caller vouches for.
        let r = unsafe { libc::recvmsg(self.raw(), &raw mut m, flags | libc::MSG_DONTWAIT) };
        let n = check(r)?;
        let namelen = usize::try_from(m.msg_namelen).unwrap_or(0).min(ADDR_MAX);
        let clen = m.msg_controllen.min(CONTROL_ROOM);
        // SAFETY: `control` is CONTROL_ROOM bytes of plain data.
        let cbytes =
            unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), CONTROL_ROOM) };
        Ok((
            n,
            name[..namelen].to_vec(),
            cbytes[..clen].to_vec(),
            m.msg_flags,
        ))
    }

    fn receive(&self, max: usize, peek: bool) -> KResult<Received> {
        let stream = self.kind == libc::SOCK_STREAM;
        let room = max.min(if stream { STREAM_CHUNK } else { DGRAM_MAX });
        let mut data = vec![0u8; room];
        let mut iov = [libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: room,
        }];
        let mut flags = if peek { libc::MSG_PEEK } else { 0 };
        if !stream {
            flags |= libc::MSG_TRUNC;
        }
        let (n, from, control, mflags) = self.recvmsg(&mut iov, flags)?;
        data.truncate(n.min(room));
        Ok(Received {
            data,
            len: n,
            from,
            control,
            control_truncated: mflags & libc::MSG_CTRUNC != 0,
            ..Default::default()
        })
    }

    fn send_to(&self, iov: &[libc::iovec], to: Option<&[u8]>) -> KResult<usize> {
        self.send_to_with(iov, to, &[])
    }

    /// A send with `control`: control messages already in the kernel's
    /// layout, built by the sentry from values it checked.
    fn send_to_with(
        &self,
        iov: &[libc::iovec],
        to: Option<&[u8]>,
        control: &[u8],
    ) -> KResult<usize> {
        // SAFETY: an all-zero msghdr is valid.
        let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
        if let Some(a) = to {
            m.msg_name = a.as_ptr().cast_mut().cast();
            m.msg_namelen = addr_len(a)?;
        }
        m.msg_iov = iov.as_ptr().cast_mut();
        m.msg_iovlen = iov.len();
        if !control.is_empty() {
            m.msg_control = control.as_ptr().cast_mut().cast();
            m.msg_controllen = control.len();
        }
        // SAFETY: `m` points at the caller's address and iovecs, only
        // read by the call.
        let r = unsafe {
            libc::sendmsg(
                self.raw(),
                &raw const m,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        check(r)
    }

    /// An option the host keeps, if [`HOST_SOCKOPTS`] lets it through.
    fn allowed(level: i32, name: i32, set: bool) -> bool {
        HOST_SOCKOPTS
            .iter()
            .any(|&(l, n, s)| l == level && n == name && (s || !set))
    }

    fn host_ioctl_int(&self, cmd: libc::c_ulong) -> KResult<i32> {
        let mut v: libc::c_int = 0;
        // SAFETY: the request writes one int to `v`.
        let r = unsafe { libc::ioctl(self.raw(), cmd, &raw mut v) };
        check_int(r)?;
        Ok(v)
    }
}

impl Socket for HostFile {
    fn family(&self) -> i32 {
        self.0.family
    }
    fn kind(&self) -> i32 {
        self.0.kind
    }
    fn protocol(&self) -> i32 {
        self.0.protocol
    }
    fn bind(&self, _ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        let len = addr_len(addr)?;
        // SAFETY: `addr` is `len` bytes, only read.
        check_int(unsafe { libc::bind(self.0.raw(), addr.as_ptr().cast(), len) })
    }
    fn listen(&self, _ctx: &Ctx<'_, '_>, backlog: i32) -> KResult<()> {
        // SAFETY: listen(2) on our own fd.
        check_int(unsafe { libc::listen(self.0.raw(), backlog) })
    }
    fn accept(&self) -> KResult<Box<dyn FileOps>> {
        // SAFETY: accept4(2) without an address; the new fd is owned below.
        let fd = unsafe {
            libc::accept4(
                self.0.raw(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        check_int(fd)?;
        // SAFETY: the fd was just created and nothing else owns it.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let s = &self.0;
        Ok(Box::new(HostFile(HostSocket::wrap(
            fd, s.family, s.kind, s.protocol, &s.names,
        ))))
    }
    fn connect(&self, _ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        let len = addr_len(addr)?;
        // SAFETY: `addr` is `len` bytes, only read.
        let r = check_int(unsafe { libc::connect(self.0.raw(), addr.as_ptr().cast(), len) });
        let handshake =
            matches!(r, Err(e) if e == Errno::EINPROGRESS || e == Errno(libc::EALREADY));
        self.0.connecting.store(handshake, Ordering::SeqCst);
        // EINPROGRESS goes to the caller, which (blocking) waits for
        // `connect_pending` to end and connects again for the outcome.
        r
    }
    fn connect_pending(&self) -> bool {
        let s = &self.0;
        s.connecting.load(Ordering::SeqCst) && s.poll_now(libc::POLLOUT) == 0
    }
    fn shutdown(&self, how: i32) -> KResult<()> {
        // SAFETY: shutdown(2) on our own fd.
        check_int(unsafe { libc::shutdown(self.0.raw(), how) })
    }
    fn sockname(&self) -> KResult<Vec<u8>> {
        self.0.name(false)
    }
    fn peername(&self) -> KResult<Vec<u8>> {
        self.0.name(true)
    }
    fn send(
        &self,
        _ctx: &Ctx<'_, '_>,
        data: &[u8],
        to: Option<(&[u8], Option<NodeId>)>,
        anc: Ancillary,
    ) -> KResult<usize> {
        let iov = [libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        }];
        self.0
            .send_to_with(&iov, to.map(|(a, _)| a), &header_control(&anc))
    }
    fn recv(&self, max: usize, peek: bool) -> KResult<Received> {
        self.0.receive(max, peek)
    }
    fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        self.0.opts.lock().timeout(send)
    }
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        if level == libc::SOL_SOCKET && matches!(name, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) {
            return self.0.opts.lock().get(name).ok_or(Errno::ENOPROTOOPT);
        }
        // A level no option of the table is at is the host's to refuse
        // (its errno differs by family and type); nothing there can be
        // read from a TCP or UDP socket.
        let known = [
            libc::SOL_SOCKET,
            libc::IPPROTO_IP,
            libc::IPPROTO_IPV6,
            libc::IPPROTO_TCP,
            libc::IPPROTO_UDP,
        ];
        if known.contains(&level) && !HostSocket::allowed(level, name, false) {
            return Err(Errno::ENOPROTOOPT);
        }
        let mut v = [0u8; OPT_MAX];
        let mut len = libc::socklen_t::try_from(OPT_MAX).unwrap_or(0);
        // SAFETY: the buffer and its length describe local memory the
        // call writes at most `len` bytes of.
        let r = unsafe {
            libc::getsockopt(
                self.0.raw(),
                level,
                name,
                v.as_mut_ptr().cast(),
                &raw mut len,
            )
        };
        check_int(r)?;
        Ok(v[..usize::try_from(len).unwrap_or(0).min(OPT_MAX)].to_vec())
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        if level == libc::SOL_SOCKET && matches!(name, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) {
            return self
                .0
                .opts
                .lock()
                .set(name, value)
                .unwrap_or(Err(Errno::ENOPROTOOPT));
        }
        if !HostSocket::allowed(level, name, true) {
            return Err(Errno::ENOPROTOOPT);
        }
        let value = &value[..value.len().min(OPT_MAX)];
        let len = libc::socklen_t::try_from(value.len()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `value` is `len` bytes, only read.
        let r = unsafe { libc::setsockopt(self.0.raw(), level, name, value.as_ptr().cast(), len) };
        check_int(r)
    }
}

impl FileOps for HostFile {
    fn read(&self, _f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let r = self.0.receive(buf.len(), false)?;
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }
    fn read_iov(&self, _f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        if off.is_some() {
            return Some(Err(Errno::ESPIPE));
        }
        let mut iov = iov.to_vec();
        Some(self.0.recvmsg(&mut iov, 0).map(|(n, ..)| n))
    }
    fn write_iov(
        &self,
        _f: &File,
        iov: &[libc::iovec],
        off: Option<u64>,
    ) -> Option<KResult<usize>> {
        if off.is_some() {
            return Some(Err(Errno::ESPIPE));
        }
        Some(self.0.send_to(iov, None))
    }
    fn write(&self, _f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let iov = [libc::iovec {
            iov_base: buf.as_ptr().cast_mut().cast(),
            iov_len: buf.len(),
        }];
        self.0.send_to(&iov, None)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            ino: self.0.ino,
            ..crate::local::socket_stat()
        })
    }
    fn poll(&self, events: i16) -> i16 {
        self.0.poll_now(events)
    }
    fn host_fd(&self) -> Option<RawFd> {
        Some(self.0.raw())
    }
    fn ioctl(&self, cx: &mut Ctx<'_, '_>, _f: &Arc<File>, cmd: u64, arg: u64) -> KResult<u64> {
        if let Some(r) = crate::local::ifreq::ioctl(&cx.mm, &self.0.names, cmd, arg) {
            return r;
        }
        let cmd = libc::c_ulong::try_from(cmd).map_err(|_| Errno::ENOTTY)?;
        if ![libc::FIONREAD, libc::TIOCOUTQ, SIOCATMARK].contains(&cmd) {
            return Err(Errno::ENOTTY);
        }
        let v = self.0.host_ioctl_int(cmd)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Arc<Names> {
        Arc::default()
    }

    #[test]
    fn options_outside_the_table_are_refused_before_the_host() {
        let s = HostFile(HostSocket::open(libc::AF_INET, libc::SOCK_STREAM, &names()).unwrap());
        // SO_MARK needs CAP_NET_ADMIN; SO_BINDTODEVICE CAP_NET_RAW.
        for name in [libc::SO_MARK, libc::SO_BINDTODEVICE, libc::SO_DEBUG] {
            assert_eq!(
                s.setsockopt(libc::SOL_SOCKET, name, &1i32.to_ne_bytes()),
                Err(Errno::ENOPROTOOPT)
            );
        }
        // Netfilter's getsockopts start at 64.
        assert_eq!(s.getsockopt(libc::IPPROTO_IP, 64), Err(Errno::ENOPROTOOPT));
        // A read-only option cannot be set.
        assert_eq!(
            s.setsockopt(libc::IPPROTO_TCP, libc::TCP_INFO, &[0u8; 8]),
            Err(Errno::ENOPROTOOPT)
        );
        s.setsockopt(libc::IPPROTO_TCP, libc::TCP_NODELAY, &1i32.to_ne_bytes())
            .unwrap();
        assert_eq!(
            s.getsockopt(libc::IPPROTO_TCP, libc::TCP_NODELAY).unwrap(),
            1i32.to_ne_bytes()
        );
    }

    #[test]
    fn a_loopback_connection_moves_bytes_and_ends() {
        let n = names();
        let l = HostFile(HostSocket::open(libc::AF_INET, libc::SOCK_STREAM, &n).unwrap());
        let any = crate::local::inet::format(libc::AF_INET, "127.0.0.1:0".parse().unwrap());
        // SAFETY: bind/listen through the raw fd, as the trait's calls do
        // (they need a task context the test has not got).
        unsafe {
            assert_eq!(
                libc::bind(l.0.raw(), any.as_ptr().cast(), addr_len(&any).unwrap()),
                0
            );
            assert_eq!(libc::listen(l.0.raw(), 4), 0);
        }
        let at = l.sockname().unwrap();
        let c = HostFile(HostSocket::open(libc::AF_INET, libc::SOCK_STREAM, &n).unwrap());
        // SAFETY: as above.
        let r = unsafe { libc::connect(c.0.raw(), at.as_ptr().cast(), addr_len(&at).unwrap()) };
        assert!(r == 0 || Errno::last() == Errno::EINPROGRESS);
        let mut accepted = None;
        for _ in 0..1000 {
            match l.accept() {
                Ok(a) => {
                    accepted = Some(a);
                    break;
                }
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        let a = accepted.expect("no connection accepted");
        let a = a.socket().unwrap();
        assert_eq!(a.peername().unwrap(), c.sockname().unwrap());
        let iov = [libc::iovec {
            iov_base: b"hello".as_ptr().cast_mut().cast(),
            iov_len: 5,
        }];
        assert_eq!(c.0.send_to(&iov, None).unwrap(), 5);
        c.shutdown(libc::SHUT_WR).unwrap();
        let mut got = Vec::new();
        for _ in 0..1000 {
            match a.recv(64, false) {
                Ok(r) if r.data.is_empty() => break,
                Ok(r) => got.extend(r.data),
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        assert_eq!(got, b"hello");
    }
}
