//! Everything else: uname, random, sysinfo, scheduling and futexes.

use crate::abi::put;
use crate::table::{Reg, Support::*};
use sentry::kernel::futex;
use sentry::{Ctx, Errno, KResult};
use std::time::{Duration, Instant};

pub fn register(r: &mut Reg<'_>) {
    r("uname", "a", Full, uname);
    r("sethostname", "pu", Full, sethostname);
    r("setdomainname", "pu", Full, setdomainname);
    r("getrandom", "aux", Full, getrandom);
    r("sysinfo", "a", Full, sysinfo);
    r(
        "personality",
        "x",
        Partial("PER_LINUX, with or without ADDR_NO_RANDOMIZE"),
        personality,
    );
    r(
        "futex",
        "axuaau",
        Partial("no requeue-PI; PI locks without priority boosting"),
        futex_,
    );
    r("getrusage", "ia", Full, getrusage);
    r(
        "syslog",
        "iax",
        Partial("the sandbox's kernel log, which is empty"),
        syslog,
    );
}

/// Bytes in the sandbox's kernel log buffer (what SIZE_BUFFER reports).
const LOG_BUF_LEN: u64 = 1 << 17;

/// syslog(2) on the sandbox's kernel log, which is empty: the sentry
/// writes its own messages to husk's log, never where the application
/// reads. As with kernel.dmesg_restrict = 1 (this host's, and Debian's),
/// every action needs CAP_SYSLOG (or CAP_SYS_ADMIN).
fn syslog(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    use sentry::kernel::creds::cap;
    const READ: i32 = 2;
    const READ_ALL: i32 = 3;
    const READ_CLEAR: i32 = 4;
    const CONSOLE_LEVEL: i32 = 8;
    const SIZE_UNREAD: i32 = 9;
    const SIZE_BUFFER: i32 = 10;
    let (kind, buf, len) = (crate::abi::int(a[0]), a[1], crate::abi::int(a[2]));
    let c = &ctx.proc_ref().creds;
    if !c.capable(cap::SYSLOG) && !c.capable(cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if !(0..=SIZE_BUFFER).contains(&kind) {
        return Err(Errno::EINVAL);
    }
    match kind {
        READ | READ_ALL | READ_CLEAR => {
            if buf == 0 || len < 0 {
                return Err(Errno::EINVAL);
            }
            if len == 0 {
                return Ok(0);
            }
            // access_ok: a user range (nothing is copied from an empty log).
            let end = buf.checked_add(u64::from(len.unsigned_abs()));
            if end.is_none_or(|e| e > sentry::mm::TASK_SIZE) {
                return Err(Errno::EFAULT);
            }
            if kind != READ {
                return Ok(0);
            }
            // Nothing will ever be logged: only a signal ends the wait.
            loop {
                ctx.block(None)?;
            }
        }
        CONSOLE_LEVEL if !(1..=8).contains(&len) => Err(Errno::EINVAL),
        SIZE_UNREAD => Ok(0),
        SIZE_BUFFER => Ok(LOG_BUF_LEN),
        // CLOSE, OPEN, CLEAR, CONSOLE_OFF, CONSOLE_ON, CONSOLE_LEVEL: no
        // console, nothing to clear.
        _ => Ok(0),
    }
}

fn uname(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let mut u = [0u8; 65 * 6];
    let uts = ctx.task_ref().uts_ns.clone();
    let (host, dom) = (uts.hostname(), uts.domainname());
    let persona = ctx.proc_ref().personality;
    let release = if persona & UNAME26 != 0 {
        uname26(sentry::fs::proc::RELEASE).into_bytes()
    } else {
        sentry::fs::proc::RELEASE.as_bytes().to_vec()
    };
    let machine: &[u8] = if persona & 0xff == PER_LINUX32 {
        b"i686"
    } else {
        b"x86_64"
    };
    for (i, b) in [
        &b"Linux"[..],
        &host,
        &release,
        sentry::fs::proc::VERSION.as_bytes(),
        machine,
        &dom,
    ]
    .iter()
    .enumerate()
    {
        let n = b.len().min(64);
        u[i * 65..i * 65 + n].copy_from_slice(&b[..n]);
    }
    put(ctx, a[0], &u)?;
    Ok(0)
}

fn set_name(ctx: &mut Ctx<'_, '_>, a: [u64; 6], host: bool) -> KResult<u64> {
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    let owner = ctx.task_ref().uts_ns.owner.clone();
    if !ctx
        .proc_ref()
        .creds
        .capable_in(&owner, sentry::kernel::creds::cap::SYS_ADMIN)
    {
        return Err(Errno::EPERM);
    }
    let b = sentry::mm::read_vec(&ctx.mm, a[0], crate::abi::size(a[1]))?;
    let uts = &ctx.task_ref().uts_ns;
    if host {
        uts.set_hostname(&b);
    } else {
        uts.set_domainname(&b);
    }
    Ok(0)
}
fn sethostname(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_name(ctx, a, true)
}
fn setdomainname(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_name(ctx, a, false)
}

fn getrandom(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let n = (crate::abi::size(a[1])).min(1 << 25);
    let mut buf = vec![0u8; n];
    let got = rustix::rand::getrandom(&mut buf[..], rustix::rand::GetRandomFlags::empty())
        .map_err(|e| Errno(e.raw_os_error()))?;
    ctx.mm.write(a[0], &buf[..got])?;
    Ok(got as u64)
}

fn sysinfo(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // The host's swap, high memory and unit; the rest is the sandbox's.
    let mut si = rustix::system::sysinfo();
    // Linux rounds uptime up to whole seconds.
    // CLOCK_BOOTTIME as the caller's time namespace has it.
    let boot = ctx.task_ref().time_ns.offset_of(libc::CLOCK_BOOTTIME);
    let up = crate::abi::ns_of(ctx.k.boot_time.elapsed()).saturating_add(boot);
    si.uptime = up.div_euclid(1_000_000_000) + i64::from(up.rem_euclid(1_000_000_000) > 0);
    // A 16-bit field, as Linux fills it.
    si.procs = u16::try_from(ctx.st.tasks.len()).unwrap_or(u16::MAX);
    // The sandbox's size, in the units the host reported.
    let unit = u64::from(si.mem_unit.max(1));
    si.totalram = sentry::fs::vfs::total_memory() / unit;
    si.freeram = sentry::fs::vfs::sandbox_free(&ctx.k.memfile) / unit;
    si.sharedram = sentry::fs::tmpfs::sandbox_bytes() / unit;
    // No block devices, so no buffers (as /proc/meminfo says).
    si.bufferram = 0;
    si.loads = ctx.st.loadavg.loads();
    // The kernel's struct sysinfo for x86-64 (112 bytes), field by field.
    let mut b = [0u8; 112];
    let mut at = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    at(0, &si.uptime.to_ne_bytes());
    for (i, l) in si.loads.iter().enumerate() {
        at(8 + 8 * i, &l.to_ne_bytes());
    }
    let longs = [
        si.totalram,
        si.freeram,
        si.sharedram,
        si.bufferram,
        si.totalswap,
        si.freeswap,
    ];
    for (i, v) in longs.iter().enumerate() {
        at(32 + 8 * i, &v.to_ne_bytes());
    }
    at(80, &si.procs.to_ne_bytes());
    at(88, &si.totalhigh.to_ne_bytes());
    at(96, &si.freehigh.to_ne_bytes());
    at(104, &si.mem_unit.to_ne_bytes());
    ctx.mm.write(a[0], &b)?;
    Ok(0)
}

/// personality(2)'s PER_LINUX32 (uname reports i686) and UNAME26
/// (uname reports a 2.6 release, for programs that parse it badly).
const PER_LINUX32: u32 = 0x0008;
const UNAME26: u32 = 0x0002_0000;
/// Function pointers are descriptors: nothing on x86-64.
const FDPIC_FUNCPTRS: u32 = 0x0008_0000;

/// Linux's UNAME26 release: "2.6.(60 + minor)" and whatever follows the
/// numeric version.
fn uname26(release: &str) -> String {
    let numeric = release
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(release.len());
    let dots: Vec<usize> = release.match_indices('.').map(|(i, _)| i).collect();
    let end = dots.get(2).copied().unwrap_or(numeric).min(numeric);
    let minor: u32 = release
        .split('.')
        .nth(1)
        .and_then(|m| m.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    format!("2.6.{}{}", minor + 60, &release[end..])
}

fn personality(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let old = ctx.proc_ref().personality;
    let known = sentry::kernel::exec::ADDR_NO_RANDOMIZE | UNAME26 | FDPIC_FUNCPTRS;
    match crate::abi::uint(a[0]) {
        0xffff_ffff => Ok(u64::from(old)),
        // Linux or Linux32, with a fixed layout (what the sandbox has
        // either way) or uname's 2.6 release; other personalities and
        // flags change behaviour it lacks.
        p if (p & 0xff == 0 || p & 0xff == PER_LINUX32) && p & !0xff & !known == 0 => {
            ctx.proc_().personality = p;
            Ok(u64::from(old))
        }
        p => {
            ctx.log_once(&format!("personality {p:#x}"));
            Err(Errno::EINVAL)
        }
    }
}

/// The caller's time namespace's CLOCK_MONOTONIC offset.
fn mono_off(ctx: &Ctx<'_, '_>) -> i64 {
    ctx.task_ref().time_ns.offset_of(libc::CLOCK_MONOTONIC)
}

/// A futex wait's end: none (NULL), a relative timeout (FUTEX_WAIT), or an
/// absolute time on CLOCK_MONOTONIC (as the caller's time namespace has
/// it, `mono_off` ahead) or CLOCK_REALTIME (FUTEX_WAIT_BITSET).
pub(crate) fn futex_deadline(
    mm: &sentry::mm::Mm,
    k: &sentry::Kernel,
    cmd: i32,
    realtime: bool,
    ts: u64,
    mono_off: i64,
) -> KResult<sentry::kernel::Deadline> {
    if ts == 0 {
        return Ok(None);
    }
    let d = crate::abi::timespec_in(mm, ts)?;
    if cmd == libc::FUTEX_WAIT {
        return Ok(Some(sentry::kernel::time::after(d)));
    }
    let now = if realtime {
        k.clock.real_ns()
    } else {
        k.clock.mono_ns().saturating_add(mono_off)
    };
    let rel = crate::abi::ns_of(d).saturating_sub(now).max(0);
    Ok(Some(sentry::kernel::time::after(Duration::from_nanos(
        crate::abi::bits(rel),
    ))))
}

/// FUTEX_CLOCK_REALTIME goes with the absolute waits alone: with any
/// other command it is ENOSYS (FUTEX_WAIT's after its timeout is read and
/// checked, which its callers do first).
fn futex_clock_ok(op: i32, cmd: i32) -> KResult<()> {
    const FUTEX_LOCK_PI2: i32 = 13;
    let timed = matches!(
        cmd,
        libc::FUTEX_WAIT_BITSET | libc::FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
    );
    if op & libc::FUTEX_CLOCK_REALTIME != 0 && !timed {
        return Err(Errno::ENOSYS);
    }
    Ok(())
}

fn futex_(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let op = crate::abi::int(a[1]);
    let private = op & libc::FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & libc::FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    if realtime && matches!(cmd, libc::FUTEX_WAIT | libc::FUTEX_LOCK_PI) {
        futex_deadline(&ctx.mm, ctx.k, cmd, realtime, a[3], mono_off(ctx))?;
    }
    futex_clock_ok(op, cmd)?;
    let (addr, val) = (a[0], crate::abi::uint(a[2]));
    match cmd {
        libc::FUTEX_WAIT | libc::FUTEX_WAIT_BITSET => {
            let bitset = if cmd == libc::FUTEX_WAIT {
                u32::MAX
            } else {
                crate::abi::uint(a[5])
            };
            let deadline = futex_deadline(&ctx.mm, ctx.k, cmd, realtime, a[3], mono_off(ctx))?;
            futex::wait(ctx, addr, val, bitset, deadline, private)?;
            Ok(0)
        }
        libc::FUTEX_WAKE | libc::FUTEX_WAKE_BITSET => {
            let bitset = if cmd == libc::FUTEX_WAKE {
                u32::MAX
            } else {
                crate::abi::uint(a[5])
            };
            Ok(futex::wake(&ctx.k.futexes, &ctx.mm, addr, val, bitset, private)? as u64)
        }
        libc::FUTEX_REQUEUE => {
            Ok(futex::requeue(ctx, addr, a[4], val, crate::abi::uint(a[3]), None, private)? as u64)
        }
        libc::FUTEX_CMP_REQUEUE => Ok(futex::requeue(
            ctx,
            addr,
            a[4],
            val,
            crate::abi::uint(a[3]),
            Some(crate::abi::uint(a[5])),
            private,
        )? as u64),
        libc::FUTEX_WAKE_OP => Ok(futex::wake_op(
            ctx,
            addr,
            a[4],
            val,
            crate::abi::uint(a[3]),
            crate::abi::uint(a[5]),
            private,
        )? as u64),
        libc::FUTEX_LOCK_PI | libc::FUTEX_TRYLOCK_PI | 13 => {
            // LOCK_PI timeouts are absolute CLOCK_REALTIME; LOCK_PI2 (13) monotonic.
            let deadline = if a[3] == 0 || cmd == libc::FUTEX_TRYLOCK_PI {
                None
            } else {
                let d = crate::abi::timespec(ctx, a[3])?;
                let clock = if cmd == 13 && !realtime {
                    libc::CLOCK_MONOTONIC
                } else {
                    libc::CLOCK_REALTIME
                };
                let now = crate::time::clock_ns(ctx, clock)?;
                Some(
                    Instant::now()
                        + Duration::from_nanos(crate::abi::bits(
                            crate::abi::ns_of(d).saturating_sub(now).max(0),
                        )),
                )
            };
            futex::lock_pi(ctx, addr, deadline, private, cmd == libc::FUTEX_TRYLOCK_PI)?;
            Ok(0)
        }
        libc::FUTEX_UNLOCK_PI => {
            futex::unlock_pi(ctx, addr, private)?;
            Ok(0)
        }
        libc::FUTEX_WAIT_REQUEUE_PI | libc::FUTEX_CMP_REQUEUE_PI => {
            ctx.log_once("futex requeue-PI");
            Err(Errno::ENOSYS)
        }
        _ => Err(Errno::ENOSYS),
    }
}

fn getrusage(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let who = crate::abi::int(a[0]);
    let tgid = ctx.tgid();
    let self_rss = || {
        let p = ctx.proc_ref();
        p.maxrss_kb.max(sentry::kernel::cpu::rss_kb_recent(&ctx.mm))
    };
    let (ns, rss, nvcsw) = match who {
        libc::RUSAGE_SELF => (
            sentry::kernel::cpu::process_times(&ctx.st, tgid),
            self_rss(),
            sentry::kernel::cpu::process_switches(&ctx.st, tgid),
        ),
        libc::RUSAGE_THREAD => (
            sentry::kernel::cpu::thread_times(&ctx.st, ctx.tid),
            self_rss(),
            ctx.task_ref().waiter.voluntary(),
        ),
        libc::RUSAGE_CHILDREN => {
            let p = ctx.proc_ref();
            (p.child_times, p.child_maxrss_kb, p.child_switches)
        }
        _ => return Err(Errno::EINVAL),
    };
    if who == libc::RUSAGE_SELF {
        ctx.proc_().maxrss_kb = rss;
    }
    crate::process::put_rusage(ctx, a[1], ns, rss, nvcsw)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uname26_keeps_what_follows_the_version() {
        assert_eq!(super::uname26("6.1.0-husk"), "2.6.61-husk");
        assert_eq!(super::uname26("6.18.3.1-x"), "2.6.78.1-x");
        assert_eq!(super::uname26("5.10"), "2.6.70");
    }
}
