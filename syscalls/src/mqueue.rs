//! POSIX message queue calls on `sentry::fs::mqueue`: mq_open and
//! mq_unlink by name, and mq_timedsend, mq_timedreceive, mq_notify and
//! mq_getsetattr on an open queue.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::mqueue::{self, MqFile, Notify, ThreadNotify, NOTIFY_COOKIE_LEN};
use sentry::fs::vfs::{may, MAY_READ, MAY_WRITE};
use sentry::kernel::creds::cap;
use sentry::kernel::waitq::{EV_IN, EV_OUT};
use sentry::kernel::SigInfo;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn register(r: &mut Reg<'_>) {
    r("mq_open", "sixa", Full, mq_open);
    r("mq_unlink", "s", Full, mq_unlink);
    r("mq_timedsend", "iauua", Full, mq_timedsend);
    r("mq_timedreceive", "iauaa", Full, mq_timedreceive);
    r("mq_notify", "ia", Full, mq_notify);
    r("mq_getsetattr", "iaa", Full, mq_getsetattr);
}

/// `struct mq_attr`.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct MqAttr {
    flags: i64,
    maxmsg: i64,
    msgsize: i64,
    curmsgs: i64,
    reserved: [i64; 4],
}

/// The part of `struct sigevent` mq_notify reads.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct SigEvent {
    value: u64,
    signo: i32,
    notify: i32,
    rest: [u64; 6],
}

const _: () = assert!(std::mem::size_of::<MqAttr>() == 64 && std::mem::size_of::<SigEvent>() == 64);
sentry::plain!(MqAttr, SigEvent);

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
/// si_code of a message queue's notification.
const SI_MESGQ: i32 = -3;

/// A queue's name as the kernel takes it (glibc drops the leading
/// slash): one path component.
fn queue_name(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Vec<u8>> {
    let name = abi::path(ctx, addr)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name.len() > sentry::fs::vfs::NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.contains(&b'/') || name == b"." || name == b".." {
        return Err(Errno::EACCES);
    }
    Ok(name)
}

fn mq_open(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let name = queue_name(ctx, a[0])?;
    let flags = abi::int(a[1]);
    let acc = flags & libc::O_ACCMODE;
    if acc == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let umask = abi::pcx(ctx).umask();
    let mode = abi::uint(a[2]) & 0o7777 & !umask;
    let c = ctx.proc_ref().creds.clone();
    let fs = ctx.st.ipc.mqueue(ctx.proc_ref().ipc_ns, &ctx.k.vfs.mqueue);
    let q = match fs.get(&name) {
        Some(_) if flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0 => {
            return Err(Errno::EEXIST)
        }
        Some(q) => {
            let want = match acc {
                libc::O_RDONLY => MAY_READ,
                libc::O_WRONLY => MAY_WRITE,
                _ => MAY_READ | MAY_WRITE,
            };
            if !may(&c, &q.stat(), want) {
                return Err(Errno::EACCES);
            }
            q
        }
        None if flags & libc::O_CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let privileged = c.capable(cap::SYS_RESOURCE);
            let (maxmsg, msgsize) = if a[3] == 0 {
                (mqueue::MSG_MAX, mqueue::MSGSIZE_MAX)
            } else {
                let at: MqAttr = get(ctx, a[3])?;
                let (max_n, max_size) = if privileged {
                    (mqueue::HARD_MSGMAX, mqueue::HARD_MSGSIZEMAX)
                } else {
                    (mqueue::MSG_MAX, mqueue::MSGSIZE_MAX)
                };
                let n = usize::try_from(at.maxmsg).ok().filter(|&n| n > 0);
                let size = usize::try_from(at.msgsize).ok().filter(|&n| n > 0);
                match (n, size) {
                    (Some(n), Some(s)) if n <= max_n && s <= max_size => (n, s),
                    _ => return Err(Errno::EINVAL),
                }
            };
            let limit = ctx.proc_ref().rlimits[libc::RLIMIT_MSGQUEUE as usize].0;
            fs.create(
                &name,
                maxmsg,
                msgsize,
                mode,
                (c.euid, c.egid),
                privileged,
                Some((c.ruid, limit)),
            )?
        }
    };
    let mut path = b"/".to_vec();
    path.extend_from_slice(&name);
    let keep = libc::O_ACCMODE | libc::O_NONBLOCK;
    let f = File::new(Box::new(MqFile { q }), flags & keep, path);
    let fd = ctx.install(f, flags & libc::O_CLOEXEC != 0)?;
    Ok(abi::bits(i64::from(fd)))
}

fn mq_unlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let name = queue_name(ctx, a[0])?;
    let c = ctx.proc_ref().creds.clone();
    let fs = ctx.st.ipc.mqueue(ctx.proc_ref().ipc_ns, &ctx.k.vfs.mqueue);
    let q = fs.get(&name).ok_or(Errno::ENOENT)?;
    // The queues' directory is sticky: only the owner (or CAP_FOWNER).
    if q.stat().uid != c.euid && !c.capable(cap::FOWNER) {
        return Err(Errno::EACCES);
    }
    fs.remove(&name)?;
    Ok(0)
}

/// The open queue behind `fd`, or EBADF.
fn queue_of(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<(Arc<File>, Arc<mqueue::Mq>)> {
    let f = crate::fs::fdget(ctx, fd)?;
    let q = f
        .ops
        .as_any()
        .downcast_ref::<MqFile>()
        .map(|m| m.q.clone())
        .ok_or(Errno::EBADF)?;
    Ok((f, q))
}

/// An absolute CLOCK_REALTIME timeout as a deadline (checked first, as
/// Linux checks it before anything else).
fn deadline(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let at = abi::timespec(ctx, addr)?;
    let now = Duration::from_nanos(abi::unsigned(ctx.k.clock.real_ns()));
    Ok(Some(sentry::kernel::time::after(at.saturating_sub(now))))
}

/// A sleep's outcome: ETIMEDOUT at the deadline; a signal restarts the
/// call (SA_RESTART) or ends it with EINTR.
fn slept(r: KResult<bool>) -> KResult<()> {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err(Errno::ETIMEDOUT),
        Err(e) => Err(e),
    }
}

fn mq_timedsend(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let deadline = deadline(ctx, a[4])?;
    let prio = abi::uint(a[3]);
    if prio >= mqueue::MQ_PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    let (f, q) = queue_of(ctx, a[0])?;
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    let len = abi::size(a[2]);
    if len > q.msgsize {
        return Err(Errno::EMSGSIZE);
    }
    let data = sentry::mm::read_vec(&ctx.mm, a[1], len)?;
    loop {
        let mut w = ctx.wait_start();
        w.on(&q.wq, EV_OUT);
        match q.send(&data, prio) {
            Ok(fired) => {
                if let Some(n) = fired {
                    notify(ctx, n);
                }
                return Ok(0);
            }
            Err(e) if e != Errno::EAGAIN || f.nonblocking() => return Err(e),
            Err(_) => {}
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(Errno::ETIMEDOUT);
        }
        slept(ctx.sleep(&w, deadline))?;
    }
}

/// A registration fired: its process gets its signal (SIGEV_NONE: none)
/// or its cookie (SIGEV_THREAD).
fn notify(ctx: &mut Ctx<'_, '_>, n: Notify) {
    if n.thread.is_some() {
        cookie(n, sentry::fs::mqueue::NOTIFY_WOKENUP);
        return;
    }
    if !n.signal || n.signo == 0 || !ctx.st.procs.contains_key(&n.pid) {
        return;
    }
    let (pid, uid) = (ctx.tgid(), ctx.proc_ref().creds.ruid);
    let mut info = SigInfo::user(n.signo, SI_MESGQ, pid, uid);
    info.value = n.value;
    info.kind = sentry::kernel::signal::InfoKind::Queue;
    sentry::kernel::signal::send_to_process(&mut ctx.st, n.pid, info);
}

fn mq_timedreceive(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let deadline = deadline(ctx, a[4])?;
    let (f, q) = queue_of(ctx, a[0])?;
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    if abi::size(a[2]) < q.msgsize {
        return Err(Errno::EMSGSIZE);
    }
    loop {
        let mut w = ctx.wait_start();
        w.on(&q.wq, EV_IN);
        match q.receive() {
            Ok((data, prio)) => {
                ctx.mm.write(a[1], &data)?;
                if a[3] != 0 {
                    put(ctx, a[3], &prio)?;
                }
                return Ok(data.len() as u64);
            }
            Err(e) if e != Errno::EAGAIN || f.nonblocking() => return Err(e),
            Err(_) => {}
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(Errno::ETIMEDOUT);
        }
        q.receiver_waits(true);
        let r = ctx.sleep(&w, deadline);
        q.receiver_waits(false);
        slept(r)?;
    }
}

fn mq_notify(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pid = ctx.tgid();
    let n = if a[1] == 0 {
        None
    } else {
        let ev: SigEvent = get(ctx, a[1])?;
        let (signal, signo, value, thread) = match ev.notify {
            SIGEV_NONE => (false, 0, ev.value, None),
            SIGEV_SIGNAL if (0..=64).contains(&ev.signo) => (true, ev.signo, ev.value, None),
            SIGEV_THREAD => (false, 0, 0, Some(thread_notify(ctx, &ev)?)),
            _ => return Err(Errno::EINVAL),
        };
        Some(Notify {
            pid,
            signal,
            signo,
            value,
            thread,
        })
    };
    let (_, q) = queue_of(ctx, a[0])?;
    if let Some(old) = q.set_notify(pid, n)? {
        cookie(old, sentry::fs::mqueue::NOTIFY_REMOVED);
    }
    Ok(0)
}

/// SIGEV_THREAD: the cookie (at sigev_value) and the netlink socket
/// (sigev_signo is its fd) it will be sent to.
fn thread_notify(ctx: &mut Ctx<'_, '_>, ev: &SigEvent) -> KResult<ThreadNotify> {
    let cookie: [u8; NOTIFY_COOKIE_LEN] = get(ctx, ev.value)?;
    let sock = crate::fs::fdget(ctx, abi::bits(i64::from(ev.signo)))?;
    let netlink = sock
        .ops
        .as_any()
        .downcast_ref::<sentry::local::netlink::NetlinkSocket>()
        .is_some();
    if !netlink {
        // Another socket is EINVAL, another file ENOTSOCK (Linux's
        // netlink_getsockbyfilp).
        let is_sock = sock.ops.stat()?.mode & libc::S_IFMT == libc::S_IFSOCK;
        return Err(if is_sock {
            Errno::EINVAL
        } else {
            Errno::ENOTSOCK
        });
    }
    Ok(ThreadNotify { sock, cookie })
}

/// Sends a SIGEV_THREAD registration its cookie, marked with why.
fn cookie(n: Notify, why: u8) {
    let Some(t) = n.thread else { return };
    let mut c = t.cookie;
    c[NOTIFY_COOKIE_LEN - 1] = why;
    if let Some(s) = t
        .sock
        .ops
        .as_any()
        .downcast_ref::<sentry::local::netlink::NetlinkSocket>()
    {
        s.deliver(&c);
    }
}

fn mq_getsetattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let new: Option<MqAttr> = if a[1] == 0 {
        None
    } else {
        Some(get(ctx, a[1])?)
    };
    if new.is_some_and(|n| n.flags & !i64::from(libc::O_NONBLOCK) != 0) {
        return Err(Errno::EINVAL);
    }
    let (f, q) = queue_of(ctx, a[0])?;
    if a[2] != 0 {
        let old = MqAttr {
            flags: i64::from(f.flags() & libc::O_NONBLOCK),
            maxmsg: abi::signed(q.maxmsg as u64),
            msgsize: abi::signed(q.msgsize as u64),
            curmsgs: abi::signed(q.count() as u64),
            reserved: [0; 4],
        };
        put(ctx, a[2], &old)?;
    }
    if let Some(n) = new {
        let fl = f.flags() & !libc::O_NONBLOCK;
        f.set_flags(fl | (abi::int(abi::bits(n.flags)) & libc::O_NONBLOCK));
    }
    Ok(0)
}
