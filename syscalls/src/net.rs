//! Socket calls: arguments decoded here, the work done by the file's
//! `Socket` (sentry::socket): AF_UNIX, the loopback and sandbox
//! network stacks, host sockets with `--network host`, and rtnetlink.
//! Other families fail as Linux does for an unsupported family; socket
//! calls on other fds fail as on non-sockets.

use crate::abi::{get, put};
use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::io::{deadline_of, wait_ready_until, Opts, Segs, UserBuf};
use sentry::local::{LocalFile, LocalSocket};
use sentry::socket::{Ancillary, NodeId, Received, Socket, Ucred, ADDR_MAX};
use sentry::{Ctx, Errno, KResult};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    let inet = "AF_UNIX; AF_INET/AF_INET6 TCP, UDP and UDP-Lite on loopback, and IPv4 TCP and UDP beyond it with --network sandbox (with --network host, TCP and UDP are host sockets); raw ICMP/ICMPv6 (root) echo on the sandbox's own addresses; AF_NETLINK NETLINK_ROUTE listing the interfaces and NETLINK_SOCK_DIAG listing the sockets";
    r("socket", "iii", Partial(inet), socket);
    // Linux pairs AF_UNIX sockets only (EOPNOTSUPP for the others).
    r("socketpair", "iiia", Full, socketpair);
    r("connect", "dau", Full, connect);
    r("bind", "dau", Full, bind);
    r("listen", "di", Full, listen);
    r("accept", "daa", Full, accept);
    r("accept4", "daax", Full, accept4);
    r("sendto", "dsuxau", Full, sendto);
    r("recvfrom", "dauxaa", Full, recvfrom);
    r("sendmsg", "dax", Full, sendmsg);
    r("recvmsg", "dax", Full, recvmsg);
    r("sendmmsg", "daux", Full, sendmmsg);
    r(
        "recvmmsg",
        "dauxa",
        Partial("the timeout is looked at between messages"),
        recvmmsg,
    );
    r("shutdown", "di", Full, shutdown);
    r("getsockname", "daa", Full, getname);
    r("getpeername", "daa", Full, getname);
    r("getsockopt", "diiaa", Partial(OPTS), getsockopt);
    r("setsockopt", "diiau", Partial(OPTS), setsockopt);
}

/// What getsockopt and setsockopt cover.
const OPTS: &str = "SOL_SOCKET, IP, IPv6, TCP and UDP options in common use, with Linux's ranges; UDP_GRO, UDP_SEGMENT, SO_ZEROCOPY, SO_INCOMING_CPU and the IP_RECVERR error queue are not (ENOPROTOOPT)";

/// SOCK_TYPE_MASK: socket(2)'s type without its flags.
const TYPE_MASK: i32 = 0xf;
/// SOCK_MAX: types are below it.
const SOCK_MAX: i32 = 11;
/// AF_MAX: families are below it.
const AF_MAX: i32 = 46;
/// SCM_MAX_FD: files one message may carry.
const SCM_MAX_FD: usize = 253;
/// The most control data a send takes (net.core.optmem_max).
const CONTROL_MAX: usize = 131_072;
/// sizeof(struct cmsghdr): len (u64), level, type.
const CMSG_HDR: usize = 16;

/// The type and flags of socket(2) and socketpair(2); EINVAL for flags
/// it does not know.
fn type_and_flags(raw: u64) -> KResult<(i32, i32)> {
    let raw = crate::abi::int(raw);
    let flags = raw & !TYPE_MASK;
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((raw & TYPE_MASK, flags))
}

/// An AF_UNIX socket's kind for `ty` and `protocol`, as unix_create
/// checks them (SOCK_RAW is a datagram socket).
fn unix_kind(ty: i32, protocol: u64) -> KResult<i32> {
    if protocol != 0 && protocol != libc::PF_UNIX as u64 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => Ok(ty),
        libc::SOCK_RAW => Ok(libc::SOCK_DGRAM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// The family's checks before a socket is made: EAFNOSUPPORT for a
/// family out of range or not here, EINVAL for a type out of range.
fn check_family(ctx: &Ctx<'_, '_>, family: u64, ty: i32) -> KResult<()> {
    let family = crate::abi::int(family);
    if !(0..AF_MAX).contains(&family) {
        return Err(Errno::EAFNOSUPPORT);
    }
    if !(0..SOCK_MAX).contains(&ty) {
        return Err(Errno::EINVAL);
    }
    if ![
        libc::AF_UNIX,
        libc::AF_INET,
        libc::AF_INET6,
        libc::AF_NETLINK,
    ]
    .contains(&family)
    {
        ctx.log_once(&format!("socket family {family}"));
        return Err(Errno::EAFNOSUPPORT);
    }
    Ok(())
}

/// An AF_INET/AF_INET6 socket's kind for `ty` and `protocol`: TCP
/// streams and UDP datagrams.
fn inet_kind(ctx: &Ctx<'_, '_>, ty: i32, protocol: u64) -> KResult<i32> {
    let protocol = crate::abi::int(protocol);
    match (ty, protocol) {
        (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => Ok(ty),
        (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE) => Ok(ty),
        // Ping sockets: refused as Linux's default ping_group_range
        // ("1 0") refuses them; ping falls back to a raw socket.
        (libc::SOCK_DGRAM, libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6) => Err(Errno::EACCES),
        (libc::SOCK_STREAM | libc::SOCK_DGRAM, _) => {
            ctx.log_once(&format!("socket type {ty} protocol {protocol}"));
            Err(Errno::EPROTONOSUPPORT)
        }
        // CAP_NET_RAW over the network namespace (root of a user
        // namespace has it over the network namespaces it makes).
        (libc::SOCK_RAW, libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6) => {
            let owner = ctx.task_ref().net_ns.owner();
            if !ctx
                .proc_ref()
                .creds
                .capable_in(&owner, sentry::kernel::creds::cap::NET_RAW)
            {
                return Err(Errno::EPERM);
            }
            Ok(ty)
        }
        (libc::SOCK_RAW, _) => {
            ctx.log_once("raw IP sockets");
            Err(Errno::EPROTONOSUPPORT)
        }
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

fn file_flags(flags: i32) -> i32 {
    libc::O_RDWR | (flags & libc::SOCK_NONBLOCK)
}

fn socket(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (ty, flags) = type_and_flags(a[1])?;
    check_family(ctx, a[0], ty)?;
    let family = crate::abi::int(a[0]);
    if family == libc::AF_NETLINK {
        return netlink_socket(ctx, ty, a[2], flags);
    }
    let kind = if family == libc::AF_UNIX {
        unix_kind(ty, a[2])?
    } else {
        inet_kind(ctx, ty, a[2])?
    };
    if kind == libc::SOCK_RAW {
        let want = if family == libc::AF_INET {
            libc::IPPROTO_ICMP
        } else {
            libc::IPPROTO_ICMPV6
        };
        if crate::abi::int(a[2]) != want {
            return Err(Errno::EPROTONOSUPPORT);
        }
        let names = ctx.task_ref().net_ns.clone();
        let owner = ctx.proc_ref().creds.fsuid;
        let f = sentry::local::icmp::IcmpSocket::file(family, file_flags(flags), &names, owner);
        return crate::fs::install(ctx, f, flags & libc::SOCK_CLOEXEC != 0);
    }
    let lite = family != libc::AF_UNIX && crate::abi::int(a[2]) == libc::IPPROTO_UDPLITE;
    let names = ctx.task_ref().net_ns.clone();
    if family != libc::AF_UNIX && !lite && names.host_network() {
        let s = sentry::hostnet::HostSocket::open(family, kind, &names)?;
        let f = sentry::hostnet::HostSocket::file(s, file_flags(flags));
        return crate::fs::install(ctx, f, flags & libc::SOCK_CLOEXEC != 0);
    }
    let s = LocalSocket::new_proto(family, kind, lite, &names);
    s.set_owner(ctx.proc_ref().creds.fsuid);
    let f = LocalFile::file(s, file_flags(flags));
    crate::fs::install(ctx, f, flags & libc::SOCK_CLOEXEC != 0)
}

/// An AF_NETLINK socket: NETLINK_ROUTE and NETLINK_SOCK_DIAG (others
/// are EPROTONOSUPPORT; their users fall back).
fn netlink_socket(ctx: &mut Ctx<'_, '_>, ty: i32, protocol: u64, flags: i32) -> KResult<u64> {
    if ty != libc::SOCK_RAW && ty != libc::SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    let protocol = crate::abi::int(protocol);
    if protocol != libc::NETLINK_ROUTE && protocol != libc::NETLINK_SOCK_DIAG {
        ctx.log_once(&format!("netlink protocol {protocol}"));
        return Err(Errno::EPROTONOSUPPORT);
    }
    let names = ctx.task_ref().net_ns.clone();
    let f = sentry::local::netlink::NetlinkSocket::file(ty, protocol, file_flags(flags), &names);
    crate::fs::install(ctx, f, flags & libc::SOCK_CLOEXEC != 0)
}

fn socketpair(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (ty, flags) = type_and_flags(a[1])?;
    check_family(ctx, a[0], ty)?;
    if crate::abi::int(a[0]) != libc::AF_UNIX {
        if crate::abi::int(a[0]) != libc::AF_NETLINK {
            inet_kind(ctx, ty, a[2])?;
        }
        return Err(Errno::EOPNOTSUPP);
    }
    let kind = unix_kind(ty, a[2])?;
    let names = ctx.task_ref().net_ns.clone();
    let (x, y) = LocalSocket::pair(kind, &names, sentry::local::ucred_of(ctx));
    x.set_owner(ctx.proc_ref().creds.fsuid);
    y.set_owner(ctx.proc_ref().creds.fsuid);
    let fl = file_flags(flags);
    let (fx, fy) = (LocalFile::file(x, fl), LocalFile::file(y, fl));
    let cloexec = flags & libc::SOCK_CLOEXEC != 0;
    let lim = ctx.proc_ref().nofile();
    let files = ctx.task().files.clone();
    let mut ft = files.lock();
    let i = ft.alloc(fx, cloexec, 0, lim)?;
    let j = match ft.alloc(fy, cloexec, 0, lim) {
        Ok(j) => j,
        Err(e) => {
            ft.fds.remove(&i);
            return Err(e);
        }
    };
    drop(ft);
    if let Err(e) = put(ctx, a[3], &[i, j]) {
        let mut ft = files.lock();
        ft.fds.remove(&i);
        ft.fds.remove(&j);
        return Err(e);
    }
    Ok(0)
}

/// The socket behind `fd`: EBADF / ENOTSOCK otherwise.
fn sock(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<Arc<File>> {
    is_sock(fdget(ctx, fd)?)
}

/// `f` if it is a socket, ENOTSOCK otherwise.
fn is_sock(f: Arc<File>) -> KResult<Arc<File>> {
    if f.ops.socket().is_none() {
        return Err(Errno::ENOTSOCK);
    }
    Ok(f)
}

fn socket_of(f: &File) -> &dyn Socket {
    f.ops.socket().expect("checked by sock()")
}

/// The application's `struct sockaddr` of `len` bytes.
fn read_addr(ctx: &Ctx<'_, '_>, addr: u64, len: u64) -> KResult<Vec<u8>> {
    if crate::abi::int(len) as i64 != crate::abi::long(len)
        || crate::abi::int(len) < 0
        || crate::abi::size(len) > ADDR_MAX
    {
        return Err(Errno::EINVAL);
    }
    sentry::mm::read_vec(&ctx.mm, addr, crate::abi::size(len))
}

/// The socket node the address names, for a family whose names are
/// paths (connect, sendto).
fn lookup_node(ctx: &Ctx<'_, '_>, s: &dyn Socket, addr: &[u8]) -> KResult<Option<NodeId>> {
    match s.fs_name(addr)? {
        Some(p) => crate::fs_mutate::socket_node(&crate::abi::pcx(ctx), &p).map(Some),
        None => Ok(None),
    }
}

fn connect(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let addr = read_addr(ctx, a[1], a[2])?;
    let s = socket_of(&f);
    let node = lookup_node(ctx, s, &addr)?;
    let deadline = deadline_of(&f, true);
    let mut waited = false;
    loop {
        match s.connect(ctx, &addr, node) {
            Err(e)
                if f.nonblocking()
                    && (e == Errno::EAGAIN || e == Errno::ECONNREFUSED)
                    && s.connect_in_background(e) =>
            {
                return Err(Errno::EINPROGRESS)
            }
            // Waiting for room in a backlog (and, once waited, for the
            // connect that goes on): SO_SNDTIMEO leaves a TCP connect
            // going in the background (EINPROGRESS), a unix one EAGAIN.
            Err(e)
                if (e == Errno::EAGAIN || (e == Errno::EALREADY && waited))
                    && s.connect_again()
                    && !f.nonblocking() =>
            {
                waited = true;
                match wait_ready_until(ctx, &f, libc::POLLOUT, deadline) {
                    Err(e) if e == Errno::EAGAIN && s.family() != libc::AF_UNIX => {
                        return Err(Errno::EINPROGRESS)
                    }
                    r => r?,
                }
            }
            // A host socket's handshake (`--network host`): once it is
            // over, connecting again gives its outcome, as Linux's
            // blocking connect does.
            Err(e) if e == Errno::EINPROGRESS && !f.nonblocking() => {
                while s.connect_pending() {
                    match wait_ready_until(ctx, &f, libc::POLLOUT, deadline) {
                        Err(e) if e == Errno::EAGAIN => return Err(Errno::EINPROGRESS),
                        r => r?,
                    }
                }
            }
            // Done at once, but a non-blocking TCP connect says so later.
            Ok(()) if f.nonblocking() && s.connects_in_background() => {
                return Err(Errno::EINPROGRESS)
            }
            Ok(()) if s.connect_pending() => {
                while s.connect_pending() {
                    match wait_ready_until(ctx, &f, libc::POLLOUT, deadline) {
                        // SO_SNDTIMEO ran out: it goes on in the background.
                        Err(e) if e == Errno::EAGAIN => return Err(Errno::EINPROGRESS),
                        r => r?,
                    }
                }
                let e = s.getsockopt(libc::SOL_SOCKET, libc::SO_ERROR)?;
                let e = i32::from_ne_bytes(e[..4].try_into().unwrap_or_default());
                return if e == 0 { Ok(0) } else { Err(Errno(e)) };
            }
            r => return r.map(|()| 0),
        }
    }
}

fn bind(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let addr = read_addr(ctx, a[1], a[2])?;
    let s = socket_of(&f);
    privileged_port(ctx, s.family(), &addr)?;
    let path = s.fs_name(&addr)?;
    // The node first, as Linux: a name in use is EADDRINUSE even for a
    // socket bound already (which is EINVAL, its new node taken back).
    let node = match &path {
        Some(p) => Some(crate::fs_mutate::make_socket_node(
            &crate::abi::pcx(ctx),
            p,
            f.stat().map_or(0o777, |st| st.mode & 0o777),
        )?),
        None => None,
    };
    if let Err(e) = s.bind(ctx, &addr, node) {
        if let Some(p) = path {
            crate::fs_mutate::unmake_socket_node(&crate::abi::pcx(ctx), &p);
        }
        return Err(e);
    }
    Ok(0)
}

/// inet_bind's privilege: a port below the network namespace's
/// ip_unprivileged_port_start takes CAP_NET_BIND_SERVICE over it.
fn privileged_port(ctx: &Ctx<'_, '_>, family: i32, addr: &[u8]) -> KResult<()> {
    let ours = matches!(family, libc::AF_INET | libc::AF_INET6)
        && addr.len() >= 4
        && i32::from(u16::from_ne_bytes([addr[0], addr[1]])) == family;
    if !ours {
        return Ok(());
    }
    let port = u32::from(u16::from_be_bytes([addr[2], addr[3]]));
    let ns = &ctx.task_ref().net_ns;
    let start = ns.port_start.load(std::sync::atomic::Ordering::Relaxed);
    if port != 0 && port < start {
        let cap = sentry::kernel::creds::cap::NET_BIND_SERVICE;
        if !ctx.proc_ref().creds.capable_in(&ns.owner(), cap) {
            return Err(Errno::EACCES);
        }
    }
    Ok(())
}

fn listen(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    socket_of(&f).listen(ctx, crate::abi::int(a[1]))?;
    Ok(0)
}

fn accept(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_accept(ctx, a[0], a[1], a[2], 0)
}

fn accept4(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_accept(ctx, a[0], a[1], a[2], a[3])
}

/// accept4(2): waits for a connection unless the socket is non-blocking,
/// installs it, and writes the peer's address.
fn do_accept(ctx: &mut Ctx<'_, '_>, fd: u64, addr: u64, lenp: u64, flags: u64) -> KResult<u64> {
    let f = fdget(ctx, fd)?;
    // The flags are checked before the fd's kind.
    let known = (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) as u64;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let f = is_sock(f)?;
    let deadline = deadline_of(&f, false);
    let conn = loop {
        match socket_of(&f).accept() {
            Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
                wait_ready_until(ctx, &f, libc::POLLIN, deadline)?
            }
            r => break r?,
        }
    };
    let fl = file_flags(crate::abi::int(flags));
    let name = conn.socket().map(|s| s.peername()).transpose()?;
    let ino = conn.stat().map(|s| s.ino).unwrap_or(0);
    let nf = File::new(conn, fl, format!("socket:[{ino}]").into_bytes());
    // The address first: a bad buffer drops the connection (the peer
    // sees it closed) and leaves no fd behind.
    if let Some(name) = name {
        put_name(ctx, addr, lenp, &name)?;
    }
    crate::fs::install(ctx, nf, flags & libc::SOCK_CLOEXEC as u64 != 0)
}

/// Writes an address the way the kernel does: truncated to the caller's
/// buffer, with the full length stored back.
fn put_name(ctx: &mut Ctx<'_, '_>, addr: u64, lenp: u64, name: &[u8]) -> KResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let len: i32 = get(ctx, lenp)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let n = usize::try_from(len).unwrap_or(0).min(name.len());
    ctx.mm.write(addr, &name[..n])?;
    put(ctx, lenp, &crate::abi::int_len(name.len()))
}

/// MSG_* flags a send takes.
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT
    | libc::MSG_NOSIGNAL
    | libc::MSG_EOR
    | libc::MSG_MORE
    | libc::MSG_CONFIRM
    | libc::MSG_DONTROUTE;
/// MSG_* flags a receive takes.
const RECV_FLAGS: i32 = libc::MSG_DONTWAIT
    | libc::MSG_PEEK
    | libc::MSG_WAITALL
    | libc::MSG_TRUNC
    | libc::MSG_CMSG_CLOEXEC
    | libc::MSG_NOSIGNAL
    | libc::MSG_ERRQUEUE
    | libc::MSG_WAITFORONE;

/// A send's message, decoded: the bytes, the destination, the files and
/// credentials.
struct Outgoing {
    data: Vec<u8>,
    to: Option<(Vec<u8>, Option<NodeId>)>,
    anc: Ancillary,
}

/// One sendmsg(2) (or sendto, send, write-like) of `out` on `f`: a
/// stream sends all of it (waiting for room unless non-blocking), a
/// packet all or nothing.
fn send_out(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, mut out: Outgoing, flags: i32) -> KResult<u64> {
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let s = socket_of(f);
    let opts = Opts {
        nowait: flags & libc::MSG_DONTWAIT != 0,
        nosignal: flags & libc::MSG_NOSIGNAL != 0,
    };
    let blocking = !f.nonblocking() && !opts.nowait;
    let stream = s.kind() == libc::SOCK_STREAM;
    f.ops.before_transfer(ctx, true)?;
    let deadline = deadline_of(f, true);
    let mut done = 0usize;
    let mut spins = 0u32;
    loop {
        let to = out.to.as_ref().map(|(a, n)| (a.as_slice(), *n));
        let anc = std::mem::take(&mut out.anc);
        match s.send(ctx, &out.data[done..], to, anc) {
            Ok(n) => {
                done += n;
                if !stream || done >= out.data.len() || !blocking {
                    return Ok(done as u64);
                }
            }
            Err(e) if e == Errno::EAGAIN && blocking => {
                if let Err(e) = wait_ready_until(ctx, f, libc::POLLOUT, deadline) {
                    return if done > 0 { Ok(done as u64) } else { Err(e) };
                }
                // Writable, yet the send found no room again: never spin
                // with the kernel lock held, whatever a socket reports.
                spins += 1;
                if spins > 2 {
                    let w = ctx.wait_start();
                    let nap = sentry::kernel::time::after(std::time::Duration::from_millis(1));
                    if let Err(e) = ctx.sleep(&w, Some(nap)) {
                        return if done > 0 { Ok(done as u64) } else { Err(e) };
                    }
                }
            }
            Err(e) if e == Errno::EPIPE => {
                // Only a stream's broken pipe is a signal (not seqpacket's).
                if stream {
                    sentry::fs::io::broken_pipe(ctx, opts);
                }
                return if done > 0 { Ok(done as u64) } else { Err(e) };
            }
            Err(e) => return if done > 0 { Ok(done as u64) } else { Err(e) },
        }
    }
}

/// Linux's MSG_PROBE (a path probe that sends nothing); libc lacks it.
const MSG_PROBE: i32 = 0x10;

/// A send's flags. Linux's protocols pass over bits that mean nothing to
/// them (MSG_ZEROCOPY without SO_ZEROCOPY among them), so they are
/// dropped; the two that would change what the call does and that the
/// sentry does not do are refused.
fn check_send_flags(ctx: &Ctx<'_, '_>, flags: u64) -> KResult<i32> {
    let flags = crate::abi::int(flags);
    if flags & (libc::MSG_FASTOPEN | MSG_PROBE) != 0 {
        ctx.log_once(&format!("send flags {flags:#x}"));
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(flags & (SEND_FLAGS | libc::MSG_OOB))
}

fn check_recv_flags(ctx: &Ctx<'_, '_>, flags: u64) -> KResult<i32> {
    let flags = crate::abi::int(flags);
    if flags & !(RECV_FLAGS | libc::MSG_OOB) != 0 {
        ctx.log_once(&format!("receive flags {flags:#x}"));
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & (libc::MSG_OOB | libc::MSG_ERRQUEUE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(flags)
}

/// The destination of a send: the address and the node it names.
fn destination(
    ctx: &Ctx<'_, '_>,
    f: &File,
    addr: u64,
    len: u64,
) -> KResult<Option<(Vec<u8>, Option<NodeId>)>> {
    if addr == 0 || len == 0 {
        return Ok(None);
    }
    let a = read_addr(ctx, addr, len)?;
    let node = match socket_of(f).kind() {
        // A stream refuses any address (the socket says how); a
        // seqpacket socket ignores it.
        libc::SOCK_STREAM | libc::SOCK_SEQPACKET => None,
        _ => lookup_node(ctx, socket_of(f), &a)?,
    };
    Ok(Some((a, node)))
}

fn sendto(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let flags = check_send_flags(ctx, a[3])?;
    let segs = UserBuf::One(a[1], a[2]).parse(&ctx.mm)?;
    let data = segs.bytes(&ctx.mm)?;
    let to = destination(ctx, &f, a[4], a[5])?;
    let out = Outgoing {
        data,
        to,
        anc: Ancillary::default(),
    };
    send_out(ctx, &f, out, flags)
}

/// struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
/// A struct msghdr; more than UIO_MAXIOV segments is EMSGSIZE, as
/// sendmsg and recvmsg give it (readv's EINVAL is for the others).
fn msghdr(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<[u64; 7]> {
    let m: [u64; 7] = get(ctx, addr)?;
    if m[3] > 1024 {
        return Err(Errno::EMSGSIZE);
    }
    Ok(m)
}

/// The control messages of a send: SCM_RIGHTS (files of the caller) and
/// SCM_CREDENTIALS (checked against the caller's own ids) on unix
/// sockets; IP_PKTINFO and IPV6_PKTINFO (the source address) on inet
/// ones. Others are ignored, as Linux's sockets ignore what is not theirs.
fn control_in(ctx: &mut Ctx<'_, '_>, addr: u64, len: u64, unix: bool) -> KResult<Ancillary> {
    let mut anc = Ancillary::default();
    if len == 0 {
        return Ok(anc);
    }
    let len = crate::abi::size(len);
    if len > CONTROL_MAX {
        return Err(Errno::ENOBUFS);
    }
    let buf = sentry::mm::read_vec(&ctx.mm, addr, len)?;
    let mut off = 0;
    while off + CMSG_HDR <= buf.len() {
        let word = |i: usize| u64::from_ne_bytes(buf[i..i + 8].try_into().unwrap());
        let clen = crate::abi::size(word(off));
        let level = i32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap());
        let kind = i32::from_ne_bytes(buf[off + 12..off + 16].try_into().unwrap());
        if clen < CMSG_HDR || clen > buf.len() - off {
            return Err(Errno::EINVAL);
        }
        let data = &buf[off + CMSG_HDR..off + clen];
        // Files and credentials travel only between unix sockets; the
        // others ignore them, as Linux's do.
        if level == libc::SOL_SOCKET && unix {
            match kind {
                libc::SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if anc.rights.len() + n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    // Files in flight count against the sender's
                    // RLIMIT_NOFILE, as Linux counts them per user (it
                    // exempts privileged senders). Cycles of sockets only
                    // queues reach are collected every 1024 more files in
                    // flight, and before a send is refused.
                    let names = &ctx.task_ref().net_ns.clone();
                    let limit = crate::abi::size(ctx.proc_ref().nofile());
                    let mut queued = names.in_flight.load(Ordering::Relaxed);
                    let over = queued + anc.rights.len() + n > limit;
                    if over || queued >= names.collected_at.load(Ordering::Relaxed) + 1024 {
                        sentry::local::gc::collect(names);
                        queued = names.in_flight.load(Ordering::Relaxed);
                        names.collected_at.store(queued, Ordering::Relaxed);
                    }
                    if queued + anc.rights.len() + n > limit {
                        return Err(Errno::ETOOMANYREFS);
                    }
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_ne_bytes(c.try_into().unwrap());
                        let file = ctx.task().files.lock().get(fd)?;
                        anc.rights.push(file);
                    }
                }
                libc::SCM_CREDENTIALS => {
                    if data.len() != 12 {
                        return Err(Errno::EINVAL);
                    }
                    let c = Ucred {
                        pid: i32::from_ne_bytes(data[..4].try_into().unwrap()),
                        uid: u32::from_ne_bytes(data[4..8].try_into().unwrap()),
                        gid: u32::from_ne_bytes(data[8..].try_into().unwrap()),
                    };
                    anc.creds = Some(check_creds(ctx, &c)?);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        if !unix {
            match (level, kind) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let b = data.get(4..8).ok_or(Errno::EINVAL)?;
                    let spec = std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                    if !spec.is_unspecified() {
                        anc.src = Some(spec.into());
                    }
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let b: [u8; 16] = data.get(..16).ok_or(Errno::EINVAL)?.try_into().unwrap();
                    let a = std::net::Ipv6Addr::from(b);
                    if data.len() < 20 {
                        return Err(Errno::EINVAL);
                    }
                    if !a.is_unspecified() {
                        anc.src = Some(a.into());
                    }
                }
                // The header fields a datagram is sent with, as Linux's
                // ip_cmsg_send and ip6_datagram_send_ctl check them (-1:
                // the socket's own).
                (libc::IPPROTO_IP, libc::IP_TTL) => {
                    let v = cmsg_int(data)?;
                    anc.ttl = Some(
                        u8::try_from(v)
                            .ok()
                            .filter(|&t| t >= 1)
                            .ok_or(Errno::EINVAL)?,
                    );
                }
                (libc::IPPROTO_IP, libc::IP_TOS) => {
                    let v = match data.len() {
                        1 => i32::from(data[0]),
                        _ => cmsg_int(data)?,
                    };
                    anc.tos = Some(u8::try_from(v).map_err(|_| Errno::EINVAL)?);
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT | libc::IPV6_TCLASS) => {
                    let v = cmsg_int(data)?;
                    let v = match v {
                        -1 => None,
                        _ => Some(u8::try_from(v).map_err(|_| Errno::EINVAL)?),
                    };
                    if kind == libc::IPV6_HOPLIMIT {
                        anc.hoplimit = v;
                    } else {
                        anc.tclass = v;
                    }
                }
                _ => {}
            }
        }
        off += clen.next_multiple_of(8);
    }
    Ok(anc)
}

/// A control message's int: exactly four bytes (EINVAL otherwise).
fn cmsg_int(data: &[u8]) -> KResult<i32> {
    let b: [u8; 4] = data.try_into().map_err(|_| Errno::EINVAL)?;
    Ok(i32::from_ne_bytes(b))
}

/// SCM_CREDENTIALS may claim only the sender's own process and ids,
/// unless it has the capability for each (CAP_SYS_ADMIN, CAP_SETUID,
/// CAP_SETGID), as scm_check_creds: ids its namespace has no name for
/// (-1 among them) are EINVAL, and a process that does not exist ESRCH.
/// The credentials as sent, with the sandbox's ids.
fn check_creds(ctx: &Ctx<'_, '_>, c: &Ucred) -> KResult<Ucred> {
    use sentry::kernel::creds::cap;
    let p = ctx.proc_ref();
    let own = &p.creds;
    let valid = |id: Option<u32>| id.filter(|&k| k != u32::MAX).ok_or(Errno::EINVAL);
    let uid = valid(own.userns.uid_from_ns(c.uid))?;
    let gid = valid(own.userns.gid_from_ns(c.gid))?;
    let pid_ok = c.pid == ctx.task_ref().vtgid || own.capable(cap::SYS_ADMIN);
    let uid_ok = [own.ruid, own.euid, own.suid].contains(&uid) || own.capable(cap::SETUID);
    let gid_ok = [own.rgid, own.egid, own.sgid].contains(&gid) || own.capable(cap::SETGID);
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    let pid = ctx.pid_arg(c.pid);
    if pid <= 0 || !ctx.st.tasks.contains_key(&pid) {
        return Err(Errno::ESRCH);
    }
    Ok(Ucred { pid, uid, gid })
}

/// One sendmsg of the struct msghdr at `mp`.
fn sendmsg_at(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, mp: u64, flags: i32) -> KResult<u64> {
    let m = msghdr(ctx, mp)?;
    let segs = UserBuf::Vec(m[2], m[3]).parse(&ctx.mm)?;
    let data = segs.bytes(&ctx.mm)?;
    let to = destination(ctx, f, m[0], m[1] & 0xffff_ffff)?;
    let unix = socket_of(f).family() == libc::AF_UNIX;
    let anc = control_in(ctx, m[4], m[5], unix)?;
    send_out(ctx, f, Outgoing { data, to, anc }, flags)
}

fn sendmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let flags = check_send_flags(ctx, a[2])?;
    sendmsg_at(ctx, &f, a[1], flags)
}

/// struct mmsghdr: a msghdr and the length sent or received.
const MMSGHDR: u64 = 64;
/// UIO_MAXIOV: the most messages one call handles.
const MMSG_MAX: u64 = 1024;

fn sendmmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let flags = check_send_flags(ctx, a[3])?;
    let n = a[2].min(MMSG_MAX);
    let mut sent = 0;
    while sent < n {
        let mp = a[1] + sent * MMSGHDR;
        match sendmsg_at(ctx, &f, mp, flags) {
            Ok(len) => {
                put(ctx, mp + 56, &crate::abi::uint(len))?;
                sent += 1;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// One receive into `segs` with the MSG_* `flags`: waits unless
/// non-blocking; MSG_WAITALL on a stream gathers until the buffer is
/// full, the stream ends, or a signal comes after some data.
fn receive(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, total: usize, flags: i32) -> KResult<Received> {
    let s = socket_of(f);
    let peek = flags & libc::MSG_PEEK != 0;
    let blocking = !f.nonblocking() && flags & libc::MSG_DONTWAIT == 0;
    let waitall = flags & libc::MSG_WAITALL != 0 && !peek && s.kind() == libc::SOCK_STREAM;
    let deadline = deadline_of(f, false);
    let mut got: Option<Received> = None;
    loop {
        let want = total - got.as_ref().map_or(0, |g| g.data.len());
        match s.recv(want, peek) {
            Ok(r) if r.shut && !blocking && s.kind() == libc::SOCK_DGRAM => {
                return got.ok_or(Errno::EAGAIN)
            }
            Ok(r) => {
                let end = r.data.is_empty();
                let mut g = match got.take() {
                    None => r,
                    Some(mut g) => {
                        g.data.extend_from_slice(&r.data);
                        g.len = g.data.len();
                        g.rights.extend(r.rights);
                        g
                    }
                };
                g.len = g.len.max(g.data.len());
                if !waitall || end || g.data.len() >= total || !g.rights.is_empty() {
                    return Ok(g);
                }
                got = Some(g);
            }
            Err(e) if e == Errno::EAGAIN && blocking => {
                if let Err(e) = wait_ready_until(ctx, f, libc::POLLIN, deadline) {
                    return got.ok_or(e);
                }
            }
            Err(e) => return got.ok_or(e),
        }
    }
}

/// A stream receive into a buffer that faults part way: Linux copies
/// (and takes) nothing when what came does not fit in the part that can
/// be written, so the data stays for the next read.
fn stream_fault_check(
    ctx: &mut Ctx<'_, '_>,
    f: &Arc<File>,
    segs: &Segs,
    flags: i32,
) -> KResult<()> {
    if socket_of(f).kind() != libc::SOCK_STREAM || flags & libc::MSG_PEEK != 0 {
        return Ok(());
    }
    let room = segs.accessible(&ctx.mm, true).total;
    if room >= segs.total {
        return Ok(());
    }
    // Waits as the receive itself would.
    let r = receive(
        ctx,
        f,
        segs.total,
        (flags | libc::MSG_PEEK) & !libc::MSG_WAITALL,
    )?;
    if r.data.len() > room {
        return Err(Errno::EFAULT);
    }
    Ok(())
}

/// What recvmsg writes back: the name, the control messages, the flags.
fn control_out(
    ctx: &mut Ctx<'_, '_>,
    s: &dyn Socket,
    r: &mut Received,
    addr: u64,
    room: usize,
    flags: i32,
) -> KResult<(usize, i32)> {
    // A control buffer that cannot take what comes loses it (files
    // included, which are closed), with MSG_CTRUNC; the data is still
    // received, as Linux's scm_detach_fds does.
    let writable = UserBuf::One(addr, room as u64)
        .parse(&ctx.mm)
        .is_ok_and(|b| b.accessible(&ctx.mm, true).total >= room);
    if !writable {
        r.rights.clear();
        return Ok((0, libc::MSG_CTRUNC));
    }
    let mut out = Vec::new();
    let mut mflags = 0;
    let cmsg = |out: &mut Vec<u8>, kind: i32, data: &[u8]| {
        let len = CMSG_HDR + data.len();
        out.extend_from_slice(&(len as u64).to_ne_bytes());
        out.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(8), 0);
    };
    if s.passes_creds() {
        // A message sent before SO_PASSCRED was set carries none: the
        // overflow ids, as Linux reports them.
        let c = r.creds.map_or(
            Ucred {
                pid: 0,
                uid: 65534,
                gid: 65534,
            },
            |c| creds_seen(ctx, c),
        );
        if room >= out.len() + CMSG_HDR + 12 {
            cmsg(&mut out, libc::SCM_CREDENTIALS, &c.bytes());
        } else {
            mflags |= libc::MSG_CTRUNC;
        }
    }
    let rights = std::mem::take(&mut r.rights);
    if !rights.is_empty() {
        let fit = room.saturating_sub(out.len() + CMSG_HDR) / 4;
        if fit < rights.len() {
            mflags |= libc::MSG_CTRUNC;
        }
        let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
        let mut fds = Vec::new();
        for file in rights.into_iter().take(fit) {
            match crate::fs::install(ctx, file, cloexec) {
                Ok(fd) => fds.extend_from_slice(&crate::abi::int(fd).to_ne_bytes()),
                Err(_) => {
                    mflags |= libc::MSG_CTRUNC;
                    break;
                }
            }
        }
        if !fds.is_empty() {
            let len = CMSG_HDR + fds.len();
            out.extend_from_slice(&(len as u64).to_ne_bytes());
            out.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
            out.extend_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
            out.extend_from_slice(&fds);
            // The last message's padding is not counted when it does not fit.
            let padded = out.len().next_multiple_of(8);
            if padded <= room {
                out.resize(padded, 0);
            }
        }
    }
    // A host socket's messages, whole ones only, as the host wrote them.
    if r.control_truncated {
        mflags |= libc::MSG_CTRUNC;
    }
    let mut off = 0;
    while off + CMSG_HDR <= r.control.len() {
        let clen = crate::abi::size(u64::from_ne_bytes(
            r.control[off..off + 8].try_into().unwrap_or_default(),
        ));
        if clen < CMSG_HDR || clen > r.control.len() - off {
            break;
        }
        if out.len() + clen > room {
            mflags |= libc::MSG_CTRUNC;
            break;
        }
        out.extend_from_slice(&r.control[off..off + clen]);
        out.resize(out.len().next_multiple_of(8).min(room), 0);
        off += clen.next_multiple_of(8);
    }
    let used = out.len().min(room);
    if used > 0 {
        ctx.mm.write(addr, &out[..used])?;
    }
    Ok((used, mflags))
}

/// One recvmsg into the struct msghdr at `mp`.
fn recvmsg_at(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, mp: u64, flags: i32) -> KResult<u64> {
    let m = msghdr(ctx, mp)?;
    let segs: Segs = UserBuf::Vec(m[2], m[3]).parse(&ctx.mm)?;
    stream_fault_check(ctx, f, &segs, flags)?;
    let mut r = receive(ctx, f, segs.total, flags)?;
    segs.fill(&ctx.mm, &r.data)?;
    let s = socket_of(f);
    // The sender's name, if it has one.
    let namelen = if m[0] != 0 && !r.from.is_empty() {
        let room = crate::abi::size(m[1] & 0xffff_ffff).min(r.from.len());
        ctx.mm.write(m[0], &r.from[..room])?;
        r.from.len()
    } else {
        0
    };
    let room = crate::abi::size(m[5]);
    let (used, mut mflags) = if room > 0 && m[4] != 0 {
        control_out(ctx, s, &mut r, m[4], room, flags)?
    } else {
        let lost = !r.rights.is_empty() || s.passes_creds() || !r.control.is_empty();
        (0, if lost { libc::MSG_CTRUNC } else { 0 })
    };
    let packet = s.kind() != libc::SOCK_STREAM;
    if packet && r.len > r.data.len() {
        mflags |= libc::MSG_TRUNC;
    }
    // The caller's MSG_CMSG_CLOEXEC comes back in msg_flags, as Linux's.
    mflags |= flags & libc::MSG_CMSG_CLOEXEC;
    // Only the lengths and flags change.
    put(ctx, mp + 8, &crate::abi::int_len(namelen))?;
    put(ctx, mp + 40, &(used as u64))?;
    put(ctx, mp + 48, &mflags)?;
    let n = if packet && flags & libc::MSG_TRUNC != 0 {
        r.len
    } else {
        r.data.len()
    };
    Ok(n as u64)
}

fn recvmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let flags = check_recv_flags(ctx, a[2])?;
    recvmsg_at(ctx, &f, a[1], flags)
}

fn recvmmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let mut flags = check_recv_flags(ctx, a[3])?;
    let deadline = if a[4] != 0 {
        Some(sentry::kernel::time::after(crate::abi::timespec(
            ctx, a[4],
        )?))
    } else {
        None
    };
    let n = a[2].min(MMSG_MAX);
    let mut got = 0;
    while got < n {
        let mp = a[1] + got * MMSGHDR;
        match recvmsg_at(ctx, &f, mp, flags & !libc::MSG_WAITFORONE) {
            Ok(len) => {
                put(ctx, mp + 56, &crate::abi::uint(len))?;
                got += 1;
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        if flags & libc::MSG_WAITFORONE != 0 {
            flags |= libc::MSG_DONTWAIT;
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
    }
    Ok(got)
}

fn recvfrom(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let flags = check_recv_flags(ctx, a[3])?;
    let segs = UserBuf::One(a[1], a[2]).parse(&ctx.mm)?;
    stream_fault_check(ctx, &f, &segs, flags)?;
    let r = receive(ctx, &f, segs.total, flags)?;
    segs.fill(&ctx.mm, &r.data)?;
    // Files sent with it are lost: there is no room for them.
    if a[4] != 0 {
        if r.from.is_empty() {
            put(ctx, a[5], &0i32)?;
        } else {
            put_name(ctx, a[4], a[5], &r.from)?;
        }
    }
    let packet = socket_of(&f).kind() != libc::SOCK_STREAM;
    let n = if packet && flags & libc::MSG_TRUNC != 0 {
        r.len
    } else {
        r.data.len()
    };
    Ok(n as u64)
}

fn shutdown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    socket_of(&f).shutdown(crate::abi::int(a[1]))?;
    Ok(0)
}

fn getname(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    if a[1] == 0 {
        return Err(Errno::EFAULT);
    }
    let s = socket_of(&f);
    let name = if ctx.regs.gp.orig_rax == libc::SYS_getpeername as u64 {
        s.peername()?
    } else {
        s.sockname()?
    };
    put_name(ctx, a[1], a[2], &name)?;
    Ok(0)
}

/// Credentials a socket kept (sandbox-wide ids) as the reader's PID and
/// user namespaces show them.
fn creds_seen(ctx: &Ctx<'_, '_>, c: Ucred) -> Ucred {
    let ns = &ctx.proc_ref().creds.userns;
    Ucred {
        pid: ctx.vnr(c.pid),
        uid: ns.uid_shown(c.uid),
        gid: ns.gid_shown(c.gid),
    }
}

fn getsockopt(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let (level, name) = (crate::abi::int(a[1]), crate::abi::int(a[2]));
    let mut v = socket_of(&f).getsockopt(level, name)?;
    if (level, name) == (libc::SOL_SOCKET, libc::SO_PEERCRED) && v.len() == 12 {
        let id = |i: usize| u32::from_ne_bytes(v[i..i + 4].try_into().unwrap_or_default());
        if id(4) != u32::MAX {
            let c = Ucred {
                pid: id(0).cast_signed(),
                uid: id(4),
                gid: id(8),
            };
            v = creds_seen(ctx, c).bytes().to_vec();
        }
    }
    let len: i32 = get(ctx, a[4])?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let n = usize::try_from(len).unwrap_or(0).min(v.len());
    ctx.mm.write(a[3], &v[..n])?;
    put(ctx, a[4], &crate::abi::int_len(n))?;
    Ok(0)
}

fn setsockopt(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    // optlen is an int: a negative one is EINVAL whatever the option.
    if crate::abi::int(a[4]) < 0 {
        return Err(Errno::EINVAL);
    }
    let len = crate::abi::uint(a[4]) as usize;
    let v = sentry::mm::read_vec(&ctx.mm, a[3], len.min(4096))?;
    let (level, name) = (crate::abi::int(a[1]), crate::abi::int(a[2]));
    // sk_setsockopt's privileges: forcing buffer sizes takes
    // CAP_NET_ADMIN; a mark, or a priority past 6, CAP_NET_RAW or
    // CAP_NET_ADMIN over the socket's network namespace.
    use sentry::kernel::creds::cap;
    let creds = &ctx.proc_ref().creds;
    // Asked only for the two options that need it: setsockopt is hot.
    let net_priv = || {
        let owner = ctx.task_ref().net_ns.owner();
        creds.capable_in(&owner, cap::NET_RAW) || creds.capable_in(&owner, cap::NET_ADMIN)
    };
    let int = v
        .get(..4)
        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()));
    let refused = level == libc::SOL_SOCKET
        && match name {
            libc::SO_SNDBUFFORCE | libc::SO_RCVBUFFORCE => !creds.capable(cap::NET_ADMIN),
            libc::SO_MARK => !net_priv(),
            libc::SO_PRIORITY => int.is_some_and(|p| !(0..=6).contains(&p)) && !net_priv(),
            _ => false,
        };
    if refused {
        return Err(Errno::EPERM);
    }
    let r = socket_of(&f).setsockopt(level, name, &v);
    if r == Err(Errno::ENOPROTOOPT) {
        ctx.log_once(&format!("setsockopt level {} option {}", a[1], a[2]));
    }
    r.map(|_| 0)
}
