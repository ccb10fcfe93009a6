//! Clocks, sleeps and timers.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::time::host_ns;
use sentry::kernel::timers::Target;
use sentry::kernel::Restart;
use sentry::{Ctx, Errno, KResult};
use std::time::{Duration, Instant};

pub fn register(r: &mut Reg<'_>) {
    r("clock_gettime", "ia", Full, clock_gettime);
    r("clock_getres", "ia", Full, clock_getres);
    r("clock_settime", "ia", Partial("setting clocks is refused (EPERM)"), clock_settime);
    r("settimeofday", "aa", Partial("setting clocks is refused (EPERM)"), clock_settime);
    r("gettimeofday", "aa", Full, gettimeofday);
    r("time", "a", Full, time);
    r("nanosleep", "aa", Full, nanosleep);
    r("clock_nanosleep", "ixaa", Full, clock_nanosleep);
    r("restart_syscall", "", Full, restart_syscall);
    r("alarm", "u", Full, alarm);
    r("getitimer", "ia", Partial("ITIMER_REAL only"), getitimer);
    r("setitimer", "iaa", Partial("ITIMER_REAL only"), setitimer);
    r("timer_create", "iaa", Partial("wall and monotonic clocks; SIGEV_SIGNAL/NONE/THREAD_ID"), timer_create);
    r("timer_settime", "ixaa", Full, timer_settime);
    r("timer_gettime", "ia", Full, timer_gettime);
    r("timer_getoverrun", "i", Full, timer_getoverrun);
    r("timer_delete", "i", Full, timer_delete);
    r("times", "a", Full, times);
}

fn cpu_ns(clock: libc::clockid_t) -> i64 {
    host_ns(clock)
}

/// The value of clock `id` in ns, or EINVAL.
pub fn clock_ns(ctx: &Ctx<'_, '_>, id: i32) -> KResult<i64> {
    Ok(match id {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_TAI | libc::CLOCK_REALTIME_ALARM => ctx.k.clock.real_ns(),
        libc::CLOCK_MONOTONIC | libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_MONOTONIC_COARSE | libc::CLOCK_BOOTTIME | libc::CLOCK_BOOTTIME_ALARM => {
            ctx.k.clock.mono_ns()
        }
        libc::CLOCK_PROCESS_CPUTIME_ID => cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
        libc::CLOCK_THREAD_CPUTIME_ID => cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID),
        _ => return Err(Errno::EINVAL),
    })
}

fn clock_gettime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ns = clock_ns(ctx, a[0] as i32)?;
    put(ctx, a[1], &abi::ts_of_ns(ns))?;
    Ok(0)
}

fn clock_getres(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    clock_ns(ctx, a[0] as i32)?;
    let res: i64 = match a[0] as i32 {
        libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => 4_000_000,
        _ => 1,
    };
    if a[1] != 0 {
        put(ctx, a[1], &[0i64, res])?;
    }
    Ok(0)
}

fn clock_settime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if ctx.regs.gp.orig_rax == libc::SYS_clock_settime as u64 {
        clock_ns(ctx, a[0] as i32)?;
    }
    Err(Errno::EPERM)
}

fn gettimeofday(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ns = ctx.k.clock.real_ns();
    if a[0] != 0 {
        put(ctx, a[0], &[ns / 1_000_000_000, (ns % 1_000_000_000) / 1000])?;
    }
    if a[1] != 0 {
        put(ctx, a[1], &[0i32, 0i32])?;
    }
    Ok(0)
}

fn time(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = ctx.k.clock.real_ns() / 1_000_000_000;
    if a[0] != 0 {
        put(ctx, a[0], &s)?;
    }
    Ok(s as u64)
}

/// Sleeps until `deadline_ns` on `clock`. On a signal, records a restart
/// block and returns ERESTART_RESTARTBLOCK (relative sleeps) or
/// ERESTARTNOHAND (absolute ones).
fn sleep_until(ctx: &mut Ctx<'_, '_>, clock: i32, deadline_ns: i64, rmtp: u64, absolute: bool) -> KResult<u64> {
    loop {
        let now = clock_ns(ctx, clock)?;
        if now >= deadline_ns {
            return Ok(0);
        }
        let when = Instant::now() + Duration::from_nanos((deadline_ns - now) as u64);
        if ctx.block(Some(when)).is_err() {
            if absolute {
                return Err(Errno::ERESTARTNOHAND);
            }
            let left = (deadline_ns - clock_ns(ctx, clock)?).max(0);
            if rmtp != 0 {
                put(ctx, rmtp, &abi::ts_of_ns(left))?;
            }
            ctx.task().restart = Some(Restart::Sleep { clock, deadline_ns, rmtp });
            return Err(Errno::ERESTART_RESTARTBLOCK);
        }
    }
}

fn nanosleep(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let d = abi::timespec(ctx, a[0])?;
    let deadline = clock_ns(ctx, libc::CLOCK_MONOTONIC)? + d.as_nanos() as i64;
    sleep_until(ctx, libc::CLOCK_MONOTONIC, deadline, a[1], false)
}

fn clock_nanosleep(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let clock = a[0] as i32;
    if clock == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    if matches!(clock, libc::CLOCK_PROCESS_CPUTIME_ID) {
        ctx.log_once("clock_nanosleep on a CPU clock");
        return Err(Errno::EOPNOTSUPP);
    }
    clock_ns(ctx, clock)?;
    let d = abi::timespec(ctx, a[2])?;
    let abs = a[1] & libc::TIMER_ABSTIME as u64 != 0;
    let deadline = if abs { d.as_nanos() as i64 } else { clock_ns(ctx, clock)? + d.as_nanos() as i64 };
    sleep_until(ctx, clock, deadline, if abs { 0 } else { a[3] }, abs)
}

fn restart_syscall(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    match ctx.task().restart.take() {
        Some(Restart::Sleep { clock, deadline_ns, rmtp }) => sleep_until(ctx, clock, deadline_ns, rmtp, false),
        None => Err(Errno::EINTR),
    }
}

fn real_timer(ctx: &mut Ctx<'_, '_>) -> u64 {
    let tgid = ctx.tgid();
    if let Some(id) = ctx.proc_ref().itimer_real {
        return id;
    }
    let id = ctx.st.timers.create(Target::Real { tgid });
    ctx.proc_().itimer_real = Some(id);
    id
}

fn alarm(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let id = real_timer(ctx);
    let (old, _) = ctx.st.timers.set(id, Duration::from_secs(a[0].min(u32::MAX as u64)), Duration::ZERO);
    let mut secs = old.as_secs();
    if old.subsec_nanos() >= 500_000_000 || (secs == 0 && !old.is_zero()) {
        secs += 1;
    }
    Ok(secs)
}

fn put_itimerval(ctx: &mut Ctx<'_, '_>, addr: u64, v: (Duration, Duration)) -> KResult<()> {
    let (a, b) = (abi::tv_of(v.1), abi::tv_of(v.0));
    put(ctx, addr, &[a[0], a[1], b[0], b[1]])
}

fn getitimer(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    match a[0] as i32 {
        libc::ITIMER_REAL => {
            let id = real_timer(ctx);
            let v = ctx.st.timers.get(id);
            put_itimerval(ctx, a[1], v)?;
            Ok(0)
        }
        libc::ITIMER_VIRTUAL | libc::ITIMER_PROF => {
            ctx.log_once("ITIMER_VIRTUAL/ITIMER_PROF");
            Err(Errno::EINVAL)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn setitimer(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] as i32 != libc::ITIMER_REAL {
        if matches!(a[0] as i32, libc::ITIMER_VIRTUAL | libc::ITIMER_PROF) {
            ctx.log_once("ITIMER_VIRTUAL/ITIMER_PROF");
        }
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if a[1] != 0 {
        (abi::timeval(ctx, a[1])?, abi::timeval(ctx, a[1] + 16)?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let id = real_timer(ctx);
    let old = ctx.st.timers.set(id, value, interval);
    if a[2] != 0 {
        put_itimerval(ctx, a[2], old)?;
    }
    Ok(0)
}

fn timer_of(ctx: &Ctx<'_, '_>, id: u64) -> KResult<u64> {
    let id = id as i32 as i64 as u64;
    if ctx.proc_ref().posix_timers.contains(&id) {
        Ok(id)
    } else {
        Err(Errno::EINVAL)
    }
}

fn timer_create(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let clock = a[0] as i32;
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME | libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => {}
        libc::CLOCK_PROCESS_CPUTIME_ID | libc::CLOCK_THREAD_CPUTIME_ID => {
            ctx.log_once("timer_create on a CPU clock");
            return Err(Errno::EINVAL);
        }
        _ => return Err(Errno::EINVAL),
    }
    let tgid = ctx.tgid();
    let next = ctx.st.timers.all.len() as u64;
    let (signo, value, notify, tid) = if a[1] != 0 {
        let ev: [u8; 64] = get(ctx, a[1])?;
        let value = u64::from_le_bytes(ev[0..8].try_into().unwrap());
        let signo = i32::from_le_bytes(ev[8..12].try_into().unwrap());
        let how = i32::from_le_bytes(ev[12..16].try_into().unwrap());
        let tid = i32::from_le_bytes(ev[16..20].try_into().unwrap());
        match how {
            libc::SIGEV_NONE => (0, value, false, None),
            libc::SIGEV_SIGNAL => (abi::signo(signo as u64)?, value, true, None),
            libc::SIGEV_THREAD_ID => {
                let t = ctx.st.tasks.get(&tid).filter(|t| t.tgid == tgid).ok_or(Errno::EINVAL)?;
                (abi::signo(signo as u64)?, value, true, Some(t.tid))
            }
            _ => return Err(Errno::EINVAL),
        }
    } else {
        (libc::SIGALRM, next, true, None)
    };
    let id = ctx.st.timers.create(Target::Posix { tgid, tid, signo, value, id: 0, notify });
    if let Some(t) = ctx.st.timers.all.get_mut(&id) {
        if let Target::Posix { id: tid_id, value: v, .. } = &mut t.target {
            *tid_id = id as i32;
            if a[1] == 0 {
                *v = id;
            }
        }
    }
    ctx.proc_().posix_timers.push(id);
    if let Err(e) = put(ctx, a[2], &(id as i32)) {
        ctx.st.timers.cancel(id);
        ctx.proc_().posix_timers.retain(|&t| t != id);
        return Err(e);
    }
    Ok(0)
}

fn put_itimerspec(ctx: &mut Ctx<'_, '_>, addr: u64, v: (Duration, Duration)) -> KResult<()> {
    let (a, b) = (abi::ts_of(v.1), abi::ts_of(v.0));
    put(ctx, addr, &[a[0], a[1], b[0], b[1]])
}

fn timer_settime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let id = timer_of(ctx, a[0])?;
    if a[1] & !(libc::TIMER_ABSTIME as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let interval = abi::timespec(ctx, a[2])?;
    let mut value = abi::timespec(ctx, a[2] + 16)?;
    if a[1] & libc::TIMER_ABSTIME as u64 != 0 && !value.is_zero() {
        let clock = match ctx.st.timers.all.get(&id).map(|t| t.target) {
            Some(Target::Posix { .. }) => libc::CLOCK_REALTIME,
            _ => libc::CLOCK_MONOTONIC,
        };
        let now = clock_ns(ctx, clock)?;
        let rel = (value.as_nanos() as i64 - now).max(1);
        value = Duration::from_nanos(rel as u64);
    }
    let old = ctx.st.timers.set(id, value, interval);
    if a[3] != 0 {
        put_itimerspec(ctx, a[3], old)?;
    }
    Ok(0)
}

fn timer_gettime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let id = timer_of(ctx, a[0])?;
    let v = ctx.st.timers.get(id);
    put_itimerspec(ctx, a[1], v)?;
    Ok(0)
}

fn timer_getoverrun(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let id = timer_of(ctx, a[0])?;
    Ok(ctx.st.timers.all.get(&id).map(|t| t.overrun).unwrap_or(0) as u64)
}

fn timer_delete(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let id = timer_of(ctx, a[0])?;
    ctx.st.timers.cancel(id);
    ctx.proc_().posix_timers.retain(|&t| t != id);
    Ok(0)
}

fn times(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = ctx.proc_ref();
    let tick = |ns: u64| (ns / 10_000_000) as i64;
    let own = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) as u64;
    let v = [tick(own), 0, tick(p.child_times.0), tick(p.child_times.1)];
    if a[0] != 0 {
        put(ctx, a[0], &v)?;
    }
    Ok(tick(ctx.k.clock.mono_ns() as u64) as u64)
}
