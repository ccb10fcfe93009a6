//! Sockets. The network stack has not landed yet: socket creation fails
//! as Linux does for an unsupported family, and calls on other fds fail
//! as they do on non-sockets.

use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    let note = "no network stack yet: EAFNOSUPPORT";
    r("socket", "iii", Partial(note), socket);
    r("socketpair", "iiia", Partial(note), socketpair);
    for name in [
        "connect",
        "accept",
        "accept4",
        "bind",
        "listen",
        "getsockname",
        "getpeername",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "shutdown",
        "setsockopt",
        "getsockopt",
        "sendmmsg",
        "recvmmsg",
    ] {
        r(
            name,
            "dxx",
            Partial("no sockets exist yet: ENOTSOCK on any fd"),
            not_socket,
        );
    }
}

fn socket(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ty = a[1] as i32 & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
    if !(1..=10).contains(&ty) {
        return Err(Errno::EINVAL);
    }
    ctx.log_once(&format!("socket family {}", a[0]));
    Err(Errno::EAFNOSUPPORT)
}

fn socketpair(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    socket(ctx, a)
}

fn not_socket(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    fdget(ctx, a[0])?;
    // accept4 checks its flags before the fd's kind.
    if ctx.regs.gp.orig_rax == libc::SYS_accept4 as u64
        && a[3] & !((libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) as u64) != 0
    {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ENOTSOCK)
}
