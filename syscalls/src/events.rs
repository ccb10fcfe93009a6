//! epoll and eventfd.

use crate::abi::{self, get};
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::epoll::Epoll;
use sentry::fs::eventfd::EventFd;
use sentry::fs::file::File;
use sentry::kernel::signal as ksig;
use sentry::{Ctx, Errno, KResult};
use std::time::{Duration, Instant};

pub fn register(r: &mut Reg<'_>) {
    r("epoll_create", "i", Full, epoll_create);
    r("epoll_create1", "x", Full, epoll_create1);
    r(
        "epoll_ctl",
        "didx",
        Partial("EPOLLEXCLUSIVE and EPOLLWAKEUP are accepted, without effect"),
        epoll_ctl,
    );
    r("epoll_wait", "daii", Full, epoll_wait);
    r("epoll_pwait", "daiiau", Full, epoll_pwait);
    r("epoll_pwait2", "daiaau", Full, epoll_pwait2);
    r("eventfd", "u", Full, eventfd);
    r("eventfd2", "ux", Full, eventfd2);
}

fn new_epoll(ctx: &mut Ctx<'_, '_>, cloexec: bool) -> KResult<u64> {
    let f = File::new(
        Box::new(Epoll::default()),
        libc::O_RDWR,
        b"anon_inode:[eventpoll]".to_vec(),
    );
    install(ctx, f, cloexec)
}
fn epoll_create(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(ctx, false)
}
fn epoll_create1(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] & !(libc::EPOLL_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(ctx, a[0] != 0)
}

fn epoll_of(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<std::sync::Arc<File>> {
    let f = fdget(ctx, fd)?;
    if f.downcast::<Epoll>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn epoll_ctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ep = fdget(ctx, a[0])?;
    let target = fdget(ctx, a[2])?;
    let e = ep.downcast::<Epoll>().ok_or(Errno::EINVAL)?;
    if a[0] == a[2] {
        return Err(Errno::EINVAL);
    }
    let op = a[1] as i32;
    let (events, data) = if op != libc::EPOLL_CTL_DEL {
        // struct epoll_event is packed: u32 events, u64 data.
        let raw: [u8; 12] = get(ctx, a[3])?;
        (
            u32::from_le_bytes(raw[..4].try_into().unwrap()),
            u64::from_le_bytes(raw[4..].try_into().unwrap()),
        )
    } else {
        (0, 0)
    };
    // Regular files and directories are always ready: Linux refuses them.
    let st = target.ops.stat()?;
    if matches!(st.mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR) {
        return Err(Errno::EPERM);
    }
    if let Some(inner) = target.downcast::<Epoll>() {
        if std::ptr::eq(inner, e) || inner.contains_epoll(e as *const Epoll) {
            return Err(Errno::ELOOP);
        }
    }
    let events = events | (libc::EPOLLERR | libc::EPOLLHUP) as u32;
    let fd = a[2] as i32;
    match op {
        libc::EPOLL_CTL_ADD => e.add(fd, &target, events, data)?,
        libc::EPOLL_CTL_MOD => {
            if events & (libc::EPOLLEXCLUSIVE as u32) != 0 {
                return Err(Errno::EINVAL);
            }
            e.modify(fd, &target, events, data)?
        }
        libc::EPOLL_CTL_DEL => e.delete(fd, &target)?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

fn do_wait(
    ctx: &mut Ctx<'_, '_>,
    epfd: u64,
    out: u64,
    max: u64,
    deadline: Option<Instant>,
) -> KResult<u64> {
    let max = max as i32;
    if max <= 0 || max as usize > (i32::MAX as usize) / 12 {
        return Err(Errno::EINVAL);
    }
    let f = epoll_of(ctx, epfd)?;
    let e = f.downcast::<Epoll>().unwrap();
    // Validate the output buffer up front (EFAULT before waiting).
    ctx.mm.iovecs(out, 12, true)?;
    loop {
        let ready = e.collect(max as usize);
        if !ready.is_empty() {
            let mut buf = Vec::with_capacity(ready.len() * 12);
            for (ev, data) in &ready {
                buf.extend_from_slice(&ev.to_le_bytes());
                buf.extend_from_slice(&data.to_le_bytes());
            }
            ctx.mm.write(out, &buf)?;
            return Ok(ready.len() as u64);
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(0);
        }
        let hosts = e.host_fds();
        let r = if hosts.is_empty() {
            ctx.block(deadline).map(|_| ())
        } else {
            ctx.block_host(&hosts, deadline).map(|_| ())
        };
        if let Err(err) = r {
            return Err(if err == Errno::ERESTARTSYS {
                Errno::EINTR
            } else {
                err
            });
        }
    }
}

fn ms_deadline(ms: i32) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn epoll_wait(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_wait(ctx, a[0], a[1], a[2], ms_deadline(a[3] as i32))
}

/// Installs the temporary mask of epoll_pwait(2).
fn pwait_mask(ctx: &mut Ctx<'_, '_>, mask: u64, size: u64) -> KResult<()> {
    if mask == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let m: u64 = get(ctx, mask)?;
    let t = ctx.task();
    t.saved_mask = Some(t.sig_mask);
    t.sig_mask = m & !ksig::UNBLOCKABLE;
    Ok(())
}

fn epoll_pwait(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    epoll_of(ctx, a[0])?;
    pwait_mask(ctx, a[4], a[5])?;
    do_wait(ctx, a[0], a[1], a[2], ms_deadline(a[3] as i32))
}

fn epoll_pwait2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    epoll_of(ctx, a[0])?;
    let d = if a[3] != 0 {
        Some(Instant::now() + abi::timespec(ctx, a[3])?)
    } else {
        None
    };
    pwait_mask(ctx, a[4], a[5])?;
    do_wait(ctx, a[0], a[1], a[2], d)
}

fn new_eventfd(ctx: &mut Ctx<'_, '_>, init: u64, flags: u64) -> KResult<u64> {
    const EFD_SEMAPHORE: u64 = 1;
    let (cloexec, nonblock) = (libc::EFD_CLOEXEC as u64, libc::EFD_NONBLOCK as u64);
    if flags & !(cloexec | nonblock | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let fl = libc::O_RDWR
        | if flags & nonblock != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let f = File::new(
        Box::new(EventFd::new(init as u32 as u64, flags & EFD_SEMAPHORE != 0)),
        fl,
        b"anon_inode:[eventfd]".to_vec(),
    );
    install(ctx, f, flags & cloexec != 0)
}
fn eventfd(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    new_eventfd(ctx, a[0], 0)
}
fn eventfd2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    new_eventfd(ctx, a[0], a[1])
}
