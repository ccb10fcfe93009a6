//! epoll and eventfd.

use crate::abi::{self, get};
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::epoll::Epoll;
use sentry::fs::eventfd::EventFd;
use sentry::fs::file::File;
use sentry::fs::timerfd::TimerFd;
use sentry::kernel::timers::{Clock, Target};
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
    r(
        "timerfd_create",
        "ix",
        Partial("no TFD_TIMER_CANCEL_ON_SET notification"),
        timerfd_create,
    );
    r("timerfd_settime", "dxaa", Full, timerfd_settime);
    r("timerfd_gettime", "da", Full, timerfd_gettime);
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
    if (crate::abi::int(a[0])) <= 0 {
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
    let op = crate::abi::int(a[1]);
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
    // An exclusive wake-up is for plain readiness of a file that is not
    // an epoll, and only when added.
    const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
    let exclusive_ok = (libc::EPOLLIN
        | libc::EPOLLOUT
        | libc::EPOLLERR
        | libc::EPOLLHUP
        | libc::EPOLLWAKEUP
        | libc::EPOLLET
        | libc::EPOLLEXCLUSIVE)
        .cast_unsigned();
    if op == libc::EPOLL_CTL_ADD
        && events & EXCLUSIVE != 0
        && (target.downcast::<Epoll>().is_some() || events & !exclusive_ok != 0)
    {
        return Err(Errno::EINVAL);
    }
    let events = events | (libc::EPOLLERR | libc::EPOLLHUP) as u32;
    let fd = crate::abi::int(a[2]);
    match op {
        libc::EPOLL_CTL_ADD => {
            let c = ctx.caller();
            e.add(&c, fd, &target, events, data)?
        }
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
    let max = max_events(max)?;
    let f = epoll_of(ctx, epfd)?;
    let e = f.downcast::<Epoll>().unwrap();
    // Only the buffer's range is checked up front (Linux's access_ok):
    // with nothing to report, a bad pointer is not noticed.
    let bytes = max as u64 * 12;
    if out > sentry::mm::TASK_SIZE || bytes > sentry::mm::TASK_SIZE - out {
        return Err(Errno::EFAULT);
    }
    // Looked at first without registering (the common case in a busy
    // event loop); before sleeping, once more after getting on the
    // epoll's queue, so nothing that becomes ready in between is missed.
    let collect = |ctx: &mut Ctx<'_, '_>| {
        let c = ctx.caller();
        e.collect(&c, max)
    };
    // A sleep a signal ended looks once more: events that came with the
    // signal are reported first, as Linux's ep_poll does.
    let mut interrupted = None;
    loop {
        let mut ready = collect(ctx);
        let mut w = None;
        if let (true, Some(err)) = (ready.is_empty(), interrupted) {
            return Err(if err == Errno::ERESTARTSYS {
                Errno::EINTR
            } else {
                err
            });
        }
        if ready.is_empty() && deadline.is_none_or(|d| d > Instant::now()) {
            let mut wait = ctx.wait_start();
            wait.on(e.queue(), sentry::kernel::waitq::EV_IN);
            ready = collect(ctx);
            w = Some(wait);
        }
        if !ready.is_empty() {
            drop(w);
            return put_events(&ctx.mm, out, &ready);
        }
        let Some(w) = w else {
            return Ok(0);
        };
        let hosts = e.host_fds();
        let r = if hosts.is_empty() {
            ctx.sleep(&w, deadline).map(|_| ())
        } else {
            ctx.sleep_host(&w, &hosts, deadline).map(|_| ())
        };
        interrupted = r.err();
    }
}

/// epoll_wait's `maxevents`.
fn max_events(max: u64) -> KResult<usize> {
    match usize::try_from(crate::abi::int(max)) {
        Ok(m) if m > 0 && m <= i32::MAX as usize / 12 => Ok(m),
        _ => Err(Errno::EINVAL),
    }
}

/// Writes `ready` (events, data) as struct epoll_event (packed, 12 bytes).
fn put_events(mm: &sentry::mm::Mm, out: u64, ready: &[(u32, u64)]) -> KResult<u64> {
    let mut buf = Vec::with_capacity(ready.len() * 12);
    for (ev, data) in ready {
        buf.extend_from_slice(&ev.to_le_bytes());
        buf.extend_from_slice(&data.to_le_bytes());
    }
    mm.write(out, &buf)?;
    Ok(ready.len() as u64)
}

/// epoll_wait, and epoll_pwait and epoll_pwait2 without a signal mask,
/// without the kernel lock when events are ready now or the call does
/// not wait (a zero timeout). None for the locked handler, having
/// consumed nothing: a call that would sleep, anything to report as an
/// error, and every call once a signalfd exists (its readiness is kernel
/// state).
pub(crate) fn wait_unlocked(
    cx: &sentry::kernel::Unlocked<'_>,
    nr: i64,
    a: [u64; 6],
) -> Option<KResult<u64>> {
    if nr != libc::SYS_epoll_wait && a[4] != 0 {
        return None;
    }
    if cx
        .k
        .signalfds_used
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return None;
    }
    let max = max_events(a[2]).ok()?;
    let f = cx.files.lock().get(crate::abi::int(a[0])).ok()?;
    let e = f.downcast::<Epoll>()?;
    cx.mm.iovecs(a[1], 12).ok()?;
    let ready = e.collect(&cx.walker().c, max);
    if ready.is_empty() {
        let no_wait = nr != libc::SYS_epoll_pwait2 && crate::abi::int(a[3]) == 0;
        return no_wait.then_some(Ok(0));
    }
    Some(put_events(cx.mm, a[1], &ready))
}

fn ms_deadline(ms: i32) -> Option<Instant> {
    let ms = u64::try_from(ms).ok()?;
    Some(sentry::kernel::time::after(Duration::from_millis(ms)))
}

fn epoll_wait(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_wait(ctx, a[0], a[1], a[2], ms_deadline(crate::abi::int(a[3])))
}

fn epoll_pwait(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    epoll_of(ctx, a[0])?;
    crate::fs::temp_mask(ctx, a[4], a[5])?;
    let r = do_wait(ctx, a[0], a[1], a[2], ms_deadline(crate::abi::int(a[3])));
    crate::fs::end_temp_mask(ctx, r)
}

fn epoll_pwait2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    epoll_of(ctx, a[0])?;
    let d = if a[3] != 0 {
        Some(sentry::kernel::time::after(abi::timespec(ctx, a[3])?))
    } else {
        None
    };
    crate::fs::temp_mask(ctx, a[4], a[5])?;
    let r = do_wait(ctx, a[0], a[1], a[2], d);
    crate::fs::end_temp_mask(ctx, r)
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
        Box::new(EventFd::new(
            u64::from(crate::abi::uint(init)),
            flags & EFD_SEMAPHORE != 0,
        )),
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

fn timerfd_create(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let clock = crate::abi::int(a[0]);
    match clock {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => {}
        _ => return Err(Errno::EINVAL),
    }
    let (cloexec, nonblock) = (libc::TFD_CLOEXEC as u64, libc::TFD_NONBLOCK as u64);
    if a[1] & !(cloexec | nonblock) != 0 {
        return Err(Errno::EINVAL);
    }
    let count = std::sync::Arc::new(sentry::fs::timerfd::Expirations::default());
    let timer = ctx.st.timers.create(
        Target::Counter(std::sync::Arc::downgrade(&count)),
        Clock::Wall,
    );
    let fl = libc::O_RDWR
        | if a[1] & nonblock != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let f = File::new(
        Box::new(TimerFd {
            count,
            timer,
            clock,
            settime_flags: Default::default(),
        }),
        fl,
        b"anon_inode:[timerfd]".to_vec(),
    );
    install(ctx, f, a[1] & cloexec != 0)
}

fn timerfd_of(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<std::sync::Arc<File>> {
    let f = fdget(ctx, fd)?;
    if f.downcast::<TimerFd>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn put_itimerspec(ctx: &mut Ctx<'_, '_>, addr: u64, v: (Duration, Duration)) -> KResult<()> {
    let (i, r) = (abi::ts_of(v.1), abi::ts_of(v.0));
    crate::abi::put(ctx, addr, &[i[0], i[1], r[0], r[1]])
}

fn timerfd_settime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = timerfd_of(ctx, a[0])?;
    let t = f.downcast::<TimerFd>().unwrap();
    const TFD_TIMER_ABSTIME: u64 = 1;
    const TFD_TIMER_CANCEL_ON_SET: u64 = 2;
    if a[1] & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let interval = abi::timespec(ctx, a[2])?;
    let mut value = abi::timespec(ctx, a[2] + 16)?;
    let mut missed = 0i64;
    if a[1] & TFD_TIMER_ABSTIME != 0 && !value.is_zero() {
        // The timer's own clock (a time namespace offsets monotonic and
        // boottime apart).
        let clock = match t.clock {
            libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_ALARM => libc::CLOCK_REALTIME,
            libc::CLOCK_BOOTTIME | libc::CLOCK_BOOTTIME_ALARM => libc::CLOCK_BOOTTIME,
            _ => libc::CLOCK_MONOTONIC,
        };
        let now = crate::time::clock_ns(ctx, clock)?;
        let at = i64::try_from(value.as_nanos()).unwrap_or(i64::MAX);
        let step = crate::abi::ns_of(interval);
        if at <= now && step > 0 {
            // Already past: it fired at `at` and every period since, and
            // next fires on the period after now.
            missed = (now - at) / step + 1;
            let next = at.saturating_add(missed.saturating_mul(step));
            value = Duration::from_nanos(crate::abi::unsigned(next - now));
        } else {
            value = Duration::from_nanos(crate::abi::unsigned(at.saturating_sub(now).max(1)));
        }
    }
    t.count.count.store(0, std::sync::atomic::Ordering::Relaxed);
    t.settime_flags
        .store(crate::abi::uint(a[1]), std::sync::atomic::Ordering::Relaxed);
    if missed > 0 {
        t.count.fire(crate::abi::unsigned(missed));
    }
    let old = ctx.st.timers.set(t.timer, value, interval, 0);
    if a[3] != 0 {
        put_itimerspec(ctx, a[3], old)?;
    }
    Ok(0)
}

fn timerfd_gettime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = timerfd_of(ctx, a[0])?;
    let id = f.downcast::<TimerFd>().unwrap().timer;
    let v = ctx.st.timers.get(id, 0);
    put_itimerspec(ctx, a[1], v)?;
    Ok(0)
}
