//! Linux AIO: io_setup, io_submit, io_getevents, io_pgetevents,
//! io_cancel and io_destroy on `sentry::kernel::aio`. Reads, writes and
//! syncs run when submitted, as Linux runs buffered AIO, and their
//! results wait in the context (and reach an eventfd with
//! IOCB_FLAG_RESFD). The ring a context id names is mapped but left
//! without its magic number, so libaio always asks the kernel for
//! completions instead of reading the ring.

use crate::abi::{self, get};
use crate::table::{Reg, Support::*};
use sentry::fs::eventfd::EventFd;
use sentry::fs::io::{Opts, UserBuf};
use sentry::kernel::aio::{AioCtx, IoEvent};
use sentry::kernel::waitq::EV_IN;
use sentry::memfile::page_up;
use sentry::mm::MapRequest;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;
use std::time::Instant;

pub fn register(r: &mut Reg<'_>) {
    r("io_setup", "ua", Full, io_setup);
    r("io_destroy", "x", Full, io_destroy);
    r(
        "io_submit",
        "xia",
        Partial("IOCB_CMD_POLL is EINVAL; operations complete when submitted"),
        io_submit,
    );
    r("io_getevents", "xiiaa", Full, io_getevents);
    r("io_pgetevents", "xiiaaa", Full, io_pgetevents);
    r(
        "io_cancel",
        "xaa",
        Partial("nothing is ever in flight: EINVAL"),
        io_cancel,
    );
}

/// `struct iocb` (x86-64, little-endian: aio_key before aio_rw_flags).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Iocb {
    data: u64,
    key: u32,
    rw_flags: u32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}
const _: () = assert!(std::mem::size_of::<Iocb>() == 64);
sentry::plain!(Iocb);

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_POLL: u16 = 5;
const IOCB_CMD_NOOP: u16 = 6;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
const IOCB_FLAG_RESFD: u32 = 1;
/// aio-max-nr.
const AIO_MAX_NR: u64 = 65536;

/// The size of a context's ring: Linux's header and one io_event per
/// completion it holds.
fn ring_len(max: usize) -> u64 {
    page_up(32 + 32 * max as u64)
}

fn context(ctx: &Ctx<'_, '_>, id: u64) -> KResult<Arc<AioCtx>> {
    ctx.proc_ref().aio.get(&id).cloned().ok_or(Errno::EINVAL)
}

fn io_setup(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let nr = abi::uint(a[0]);
    let old: u64 = get(ctx, a[1])?;
    if old != 0 || nr == 0 {
        return Err(Errno::EINVAL);
    }
    if u64::from(nr) > AIO_MAX_NR {
        return Err(Errno::EAGAIN);
    }
    // Linux's sizing: at least four per CPU, doubled.
    let cpus = sentry::fs::proc::ncpu();
    let max = abi::usize_of(u64::from(nr)).max(cpus * 4) * 2;
    let len = ring_len(max);
    let mut req = MapRequest::anon(0, len, libc::PROT_READ | libc::PROT_WRITE);
    req.shared = false;
    let id = ctx.mm.map(req)?;
    ctx.flush_mm()?;
    if let Err(e) = crate::abi::put(ctx, a[1], &id) {
        let _ = ctx.mm.unmap(id, len);
        return Err(e);
    }
    ctx.proc_().aio.insert(id, Arc::new(AioCtx::new(id, max)));
    Ok(0)
}

fn io_destroy(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = ctx.proc_().aio.remove(&a[0]).ok_or(Errno::EINVAL)?;
    c.destroy();
    let _ = ctx.mm.unmap(c.id, ring_len(c.max));
    ctx.flush_mm()?;
    Ok(0)
}

fn io_submit(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let nr = abi::long(a[1]);
    if nr < 0 {
        return Err(Errno::EINVAL);
    }
    let c = context(ctx, a[0])?;
    let mut done = 0u64;
    for i in 0..abi::unsigned(nr).min(c.max as u64) {
        let r = get::<u64>(ctx, a[2] + 8 * i).and_then(|p| submit_one(ctx, &c, p));
        match r {
            Ok(()) => done += 1,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Checks one iocb, runs it and queues its completion; an error here is
/// io_submit's (nothing queued).
fn submit_one(ctx: &mut Ctx<'_, '_>, c: &AioCtx, at: u64) -> KResult<()> {
    let cb: Iocb = get(ctx, at)?;
    if cb.reserved2 != 0 || abi::long(cb.nbytes) < 0 {
        return Err(Errno::EINVAL);
    }
    if !c.has_room() {
        return Err(Errno::EAGAIN);
    }
    let resfd = if cb.flags & IOCB_FLAG_RESFD != 0 {
        let f = crate::fs::fdget(ctx, u64::from(cb.resfd))?;
        if f.ops.as_any().downcast_ref::<EventFd>().is_none() {
            return Err(Errno::EINVAL);
        }
        Some(f)
    } else {
        None
    };
    let f = crate::fs::fdget(ctx, u64::from(cb.fildes))?;
    let rw = matches!(
        cb.opcode,
        IOCB_CMD_PREAD | IOCB_CMD_PWRITE | IOCB_CMD_PREADV | IOCB_CMD_PWRITEV
    );
    let res: KResult<u64> = match cb.opcode {
        _ if rw => {
            let write = matches!(cb.opcode, IOCB_CMD_PWRITE | IOCB_CMD_PWRITEV);
            if (write && !f.writable()) || (!write && !f.readable()) {
                return Err(Errno::EBADF);
            }
            if cb.offset < 0 {
                return Err(Errno::EINVAL);
            }
            let buf = if matches!(cb.opcode, IOCB_CMD_PREADV | IOCB_CMD_PWRITEV) {
                UserBuf::Vec(cb.buf, cb.nbytes)
            } else {
                UserBuf::One(cb.buf, cb.nbytes)
            };
            // Streams (pipes, sockets) have no offset.
            let fmt = f.ops.stat()?.mode & libc::S_IFMT;
            let off =
                (fmt != libc::S_IFIFO && fmt != libc::S_IFSOCK).then_some(abi::unsigned(cb.offset));
            if write {
                sentry::fs::io::write(ctx, &f, buf, off, Opts::default()).map(|n| n as u64)
            } else {
                sentry::fs::io::read(ctx, &f, buf, off, Opts::default()).map(|n| n as u64)
            }
        }
        IOCB_CMD_FSYNC | IOCB_CMD_FDSYNC => {
            if cb.buf != 0 || cb.offset != 0 || cb.nbytes != 0 || cb.rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            f.ops.sync().map(|()| 0)
        }
        IOCB_CMD_POLL => {
            ctx.log_once("io_submit IOCB_CMD_POLL");
            return Err(Errno::EINVAL);
        }
        IOCB_CMD_NOOP => return Err(Errno::EINVAL),
        _ => return Err(Errno::EINVAL),
    };
    let res = match res {
        Ok(n) => abi::signed(n),
        // A signal during a blocking transfer ends it as Linux's does.
        Err(e) if e == Errno::ERESTARTSYS => -i64::from(Errno::EINTR.0),
        Err(e) => -i64::from(e.0),
    };
    c.complete(IoEvent {
        data: cb.data,
        obj: at,
        res,
        res2: 0,
    });
    if let Some(e) = resfd
        .as_ref()
        .and_then(|f| f.ops.as_any().downcast_ref::<EventFd>())
    {
        e.signal(1);
    }
    Ok(())
}

fn io_getevents(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    get_events(ctx, a)
}

fn io_pgetevents(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[5] != 0 {
        let [mask, size]: [u64; 2] = get(ctx, a[5])?;
        crate::fs::temp_mask(ctx, mask, size)?;
    }
    let r = get_events(ctx, a);
    crate::fs::end_temp_mask(ctx, r)
}

/// io_getevents: at least `min_nr` (or what the timeout leaves) and at
/// most `nr` completions, copied out; a signal is EINTR.
fn get_events(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (min_nr, nr) = (abi::long(a[1]), abi::long(a[2]));
    let c = context(ctx, a[0])?;
    if min_nr < 0 || nr < 0 || min_nr > nr {
        return Err(Errno::EINVAL);
    }
    // Linux takes the timeout unchecked: a negative one has passed.
    let deadline = if a[4] == 0 {
        None
    } else {
        let [sec, nsec]: [i64; 2] = get(ctx, a[4])?;
        let d = if sec < 0 || nsec < 0 {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs(abi::unsigned(sec))
                .saturating_add(std::time::Duration::from_nanos(abi::unsigned(nsec)))
        };
        Instant::now().checked_add(d)
    };
    let (min_nr, nr) = (
        abi::usize_of(abi::unsigned(min_nr)),
        abi::usize_of(abi::unsigned(nr)),
    );
    let mut got: Vec<IoEvent> = Vec::new();
    loop {
        let mut w = ctx.wait_start();
        w.on(&c.wq, EV_IN);
        got.extend(c.take(nr - got.len())?);
        if got.len() >= min_nr || deadline.is_some_and(|d| d <= Instant::now()) {
            break;
        }
        match ctx.sleep(&w, deadline) {
            Ok(_) => {}
            Err(_) if got.is_empty() => return Err(Errno::EINTR),
            Err(_) => break,
        }
    }
    for (i, ev) in got.iter().enumerate() {
        crate::abi::put(ctx, a[3] + 32 * i as u64, ev)?;
    }
    Ok(got.len() as u64)
}

fn io_cancel(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    context(ctx, a[0])?;
    get::<Iocb>(ctx, a[1])?;
    Err(Errno::EINVAL)
}
