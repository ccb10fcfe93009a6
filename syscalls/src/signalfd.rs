//! signalfd and signalfd4: reads take pending signals of the fd's mask
//! from the reading thread (then its process) as signalfd_siginfo records.

use crate::abi::get;
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::signalfd::SignalFd;
use sentry::kernel::signal::{bit, InfoKind, SigInfo};
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r("signalfd", "dau", Full, signalfd);
    r("signalfd4", "daux", Full, signalfd4);
}

const RECORD: usize = 128;

fn signalfd(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    create(ctx, crate::abi::int(a[0]), a[1], a[2], 0)
}

fn signalfd4(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    create(ctx, crate::abi::int(a[0]), a[1], a[2], a[3])
}

fn create(ctx: &mut Ctx<'_, '_>, fd: i32, maskp: u64, size: u64, flags: u64) -> KResult<u64> {
    let (cloexec, nonblock) = (libc::SFD_CLOEXEC as u64, libc::SFD_NONBLOCK as u64);
    if size != 8 || flags & !(cloexec | nonblock) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = get(ctx, maskp)?;
    let mask = mask & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    if fd != -1 {
        let f = fdget(ctx, crate::abi::bits(i64::from(fd)))?;
        let s = f.downcast::<SignalFd>().ok_or(Errno::EINVAL)?;
        s.set_mask(mask);
        // Readiness changed for this process's pollers.
        ctx.proc_ref()
            .signal_wq
            .notify(sentry::kernel::waitq::EV_IN);
        return Ok(crate::abi::bits(i64::from(fd)));
    }
    let fl = libc::O_RDWR
        | if flags & nonblock != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let f = File::new(
        Box::new(SignalFd::new(mask)),
        fl,
        b"anon_inode:[signalfd]".to_vec(),
    );
    install(ctx, f, flags & cloexec != 0)
}

/// One signalfd_siginfo record.
fn record(i: &SigInfo) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    let mut put32 = |o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_ne_bytes());
    put32(0, crate::abi::ubits(i.signo));
    put32(4, crate::abi::ubits(i.errno));
    put32(8, crate::abi::ubits(i.code));
    match i.kind {
        InfoKind::Kill | InfoKind::Queue => {
            put32(12, crate::abi::ubits(i.pid));
            put32(16, i.uid);
            put32(44, crate::abi::uint(i.value));
        }
        InfoKind::Child => {
            put32(12, crate::abi::ubits(i.pid));
            put32(16, i.uid);
            put32(40, crate::abi::ubits(i.status));
        }
        InfoKind::Timer => {
            put32(24, crate::abi::ubits(i.pid));
            put32(32, crate::abi::ubits(i.status));
            put32(44, crate::abi::uint(i.value));
        }
        InfoKind::Fault => {}
    }
    match i.kind {
        InfoKind::Kill | InfoKind::Queue | InfoKind::Timer => {
            b[48..56].copy_from_slice(&i.value.to_ne_bytes());
        }
        InfoKind::Child => {
            b[56..64].copy_from_slice(&i.value.to_ne_bytes());
            b[64..72].copy_from_slice(&i.stime.to_ne_bytes());
        }
        InfoKind::Fault => b[72..80].copy_from_slice(&i.value.to_ne_bytes()),
    }
    b
}

/// Takes one pending signal of `mask`: the thread's own first.
fn take(ctx: &mut Ctx<'_, '_>, mask: u64) -> Option<SigInfo> {
    if let Some(i) = ctx.task().pending.take(!mask) {
        return Some(i);
    }
    ctx.proc_().shared_pending.take(!mask)
}

/// read(2) of a signalfd with room for `total` bytes: the records.
pub fn read(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, total: usize, nowait: bool) -> KResult<Vec<u8>> {
    let s = f.downcast::<SignalFd>().ok_or(Errno::EINVAL)?;
    if total < RECORD {
        return Err(Errno::EINVAL);
    }
    let mut out = Vec::new();
    loop {
        while out.len() + RECORD <= total {
            match take(ctx, s.mask()) {
                Some(i) => out.extend_from_slice(&record(&i)),
                None => break,
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        if nowait || f.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        let q = ctx.proc_ref().signal_wq.clone();
        let mut w = ctx.wait_start();
        w.on(&q, sentry::kernel::waitq::EV_IN);
        // Nothing was pending just above, under the kernel lock that
        // every sender holds, so no signal can slip in before the queue.
        ctx.sleep(&w, None)?;
    }
}
