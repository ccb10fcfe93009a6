//! signalfd and signalfd4: creating the file and changing its mask. Reads
//! are the file's own (`sentry::fs::signalfd`).

use crate::abi::get;
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::signalfd::SignalFd;
use sentry::kernel::signal::bit;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("signalfd", "dau", Full, signalfd);
    r("signalfd4", "daux", Full, signalfd4);
}

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
    ctx.k
        .signalfds_used
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let f = File::new(
        Box::new(SignalFd::new(mask)),
        fl,
        b"anon_inode:[signalfd]".to_vec(),
    );
    install(ctx, f, flags & cloexec != 0)
}
