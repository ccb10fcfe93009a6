//! Socket calls: arguments decoded here, the work done by the file's
//! `Socket` (sentry::socket). The network stack has not landed yet: only
//! AF_UNIX stream socket pairs exist. Other families fail as Linux does
//! for an unsupported family; socket calls on other fds fail as on
//! non-sockets.

use crate::abi::{get, put};
use crate::fs::{fdget, read_fd, write_fd};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::io::{Opts, UserBuf};
use sentry::fs::unix::stream_pair;
use sentry::socket::{Socket, ADDR_MAX};
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    let note = "no network stack yet: only AF_UNIX stream socketpairs";
    r("socket", "iii", Partial(note), socket);
    r("socketpair", "iiia", Partial(note), socketpair);
    r("connect", "dau", Partial(note), connect);
    r("bind", "dau", Partial(note), bind);
    r("listen", "di", Partial(note), listen);
    r("accept", "daa", Partial(note), accept);
    r("accept4", "daax", Partial(note), accept4);
    r("sendto", "dsuxau", Partial(note), sendto);
    r("recvfrom", "dauxaa", Partial(note), recvfrom);
    r(
        "sendmsg",
        "dax",
        Partial("no ancillary data (fd passing) yet"),
        sendmsg,
    );
    r(
        "recvmsg",
        "dax",
        Partial("no ancillary data (fd passing) yet"),
        recvmsg,
    );
    r("shutdown", "di", Partial(note), shutdown);
    r("getsockname", "daa", Partial(note), getname);
    r("getpeername", "daa", Partial(note), getname);
    r(
        "getsockopt",
        "diiaa",
        Partial("SOL_SOCKET basics"),
        getsockopt,
    );
    r(
        "setsockopt",
        "diiau",
        Partial("options are refused (ENOPROTOOPT)"),
        setsockopt,
    );
    for name in ["sendmmsg", "recvmmsg"] {
        r(name, "dax", Partial(note), mmsg);
    }
}

fn socket(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ty = crate::abi::int(a[1]) & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
    if !(1..=10).contains(&ty) {
        return Err(Errno::EINVAL);
    }
    ctx.log_once(&format!("socket family {}", a[0]));
    Err(Errno::EAFNOSUPPORT)
}

fn socketpair(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = crate::abi::int(a[1]) & (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
    let ty = crate::abi::int(a[1]) & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
    if crate::abi::int(a[0]) != libc::AF_UNIX {
        return socket(ctx, a);
    }
    if a[2] != 0 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        libc::SOCK_STREAM => {}
        libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => {
            ctx.log_once("AF_UNIX datagram/seqpacket socketpair");
            return Err(Errno::EOPNOTSUPP);
        }
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    }
    let (x, y) = stream_pair();
    let fl = libc::O_RDWR
        | if flags & libc::SOCK_NONBLOCK != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let cloexec = flags & libc::SOCK_CLOEXEC != 0;
    let fx = File::new(Box::new(x), fl, b"socket:[unix]".to_vec());
    let fy = File::new(Box::new(y), fl, b"socket:[unix]".to_vec());
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

fn connect(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let addr = read_addr(ctx, a[1], a[2])?;
    socket_of(&f).connect(ctx, &addr)?;
    Ok(0)
}

fn bind(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let addr = read_addr(ctx, a[1], a[2])?;
    socket_of(&f).bind(ctx, &addr)?;
    Ok(0)
}

fn listen(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    socket_of(&f).listen(crate::abi::int(a[1]))?;
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
    let conn = loop {
        match socket_of(&f).accept() {
            Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
                crate::fs::wait_ready(ctx, &f, libc::POLLIN)?
            }
            r => break r?,
        }
    };
    let fl = libc::O_RDWR
        | if flags & libc::SOCK_NONBLOCK as u64 != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let name = conn.socket().map(|s| s.peername()).transpose()?;
    let nf = File::named(conn, fl, f.name.clone());
    let newfd = crate::fs::install(ctx, nf, flags & libc::SOCK_CLOEXEC as u64 != 0)?;
    if let Some(name) = name {
        put_name(ctx, addr, lenp, &name)?;
    }
    Ok(newfd)
}

fn mmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    sock(ctx, a[0])?;
    ctx.log_once("sendmmsg/recvmmsg");
    Err(Errno::EINVAL)
}

const KNOWN_FLAGS: u64 =
    (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_WAITALL | libc::MSG_CMSG_CLOEXEC) as u64;

fn check_flags(ctx: &Ctx<'_, '_>, flags: u64) -> KResult<()> {
    if flags & !KNOWN_FLAGS != 0 {
        ctx.log_once(&format!("socket message flags {flags:#x}"));
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// The transfer options a socket call's MSG_* flags ask for.
fn msg_opts(flags: u64) -> Opts {
    Opts {
        nowait: flags & libc::MSG_DONTWAIT as u64 != 0,
        nosignal: flags & libc::MSG_NOSIGNAL as u64 != 0,
    }
}

fn sendto(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    sock(ctx, a[0])?;
    check_flags(ctx, a[3])?;
    if a[4] != 0 {
        return Err(Errno::EISCONN);
    }
    write_fd(ctx, a[0], UserBuf::One(a[1], a[2]), None, msg_opts(a[3]))
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

fn recvfrom(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    sock(ctx, a[0])?;
    check_flags(ctx, a[3])?;
    let f = sock(ctx, a[0])?;
    let n = read_fd(ctx, a[0], UserBuf::One(a[1], a[2]), None, msg_opts(a[3]))?;
    let name = socket_of(&f).source_name();
    put_name(ctx, a[4], a[5], &name)?;
    Ok(n)
}

/// struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
fn msghdr(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<[u64; 7]> {
    get(ctx, addr)
}

fn sendmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    sock(ctx, a[0])?;
    check_flags(ctx, a[2])?;
    let m = msghdr(ctx, a[1])?;
    if m[0] != 0 {
        return Err(Errno::EISCONN);
    }
    if m[5] != 0 {
        ctx.log_once("sendmsg with ancillary data");
        return Err(Errno::EOPNOTSUPP);
    }
    write_fd(ctx, a[0], UserBuf::Vec(m[2], m[3]), None, msg_opts(a[2]))
}

fn recvmsg(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    sock(ctx, a[0])?;
    check_flags(ctx, a[2])?;
    let mut m = msghdr(ctx, a[1])?;
    let n = read_fd(ctx, a[0], UserBuf::Vec(m[2], m[3]), None, msg_opts(a[2]))?;
    // No peer name, no control data, no flags.
    m[1] = 0;
    m[5] = 0;
    m[6] = 0;
    put(ctx, a[1], &m)?;
    Ok(n)
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

fn getsockopt(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(ctx, a[0])?;
    let v = socket_of(&f).getsockopt(crate::abi::int(a[1]), crate::abi::int(a[2]))?;
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
    let len = crate::abi::uint(a[4]) as usize;
    let v = sentry::mm::read_vec(&ctx.mm, a[3], len.min(4096))?;
    let (level, name) = (crate::abi::int(a[1]), crate::abi::int(a[2]));
    if level == libc::SOL_SOCKET
        && matches!(name, libc::SO_SNDBUFFORCE | libc::SO_RCVBUFFORCE)
        && !ctx.proc_ref().creds.privileged()
    {
        return Err(Errno::EPERM);
    }
    let r = socket_of(&f).setsockopt(level, name, &v);
    if r == Err(Errno::ENOPROTOOPT) {
        ctx.log_once(&format!("setsockopt level {} option {}", a[1], a[2]));
    }
    r.map(|_| 0)
}
