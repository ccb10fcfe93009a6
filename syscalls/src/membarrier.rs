//! membarrier(2): a memory barrier on every thread of the sandbox (or of
//! the caller's process). Application threads run in host threads of
//! the stubs, so the host's global barrier (which waits until every
//! host CPU has passed through one) covers them all: the expedited and
//! private commands get that stronger barrier too, only slower.

use crate::table::{Reg, Support::*};
use sentry::{Ctx, Errno, KResult};
use std::sync::atomic::Ordering;

pub fn register(r: &mut Reg<'_>) {
    r(
        "membarrier",
        "iui",
        Partial("no SYNC_CORE or RSEQ commands; every barrier is the host's global one"),
        membarrier,
    );
}

const QUERY: i32 = 0;
const GLOBAL: i32 = 1;
const GLOBAL_EXPEDITED: i32 = 1 << 1;
const REGISTER_GLOBAL_EXPEDITED: i32 = 1 << 2;
const PRIVATE_EXPEDITED: i32 = 1 << 3;
const REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;
const GET_REGISTRATIONS: i32 = 1 << 9;

const SUPPORTED: i32 = GLOBAL
    | GLOBAL_EXPEDITED
    | REGISTER_GLOBAL_EXPEDITED
    | PRIVATE_EXPEDITED
    | REGISTER_PRIVATE_EXPEDITED
    | GET_REGISTRATIONS;

fn membarrier(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (cmd, flags) = (crate::abi::int(a[0]), crate::abi::uint(a[1]));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let regs = &ctx.mm.membarrier;
    match cmd {
        QUERY => Ok(crate::abi::bits(i64::from(SUPPORTED))),
        GLOBAL | GLOBAL_EXPEDITED => barrier(),
        PRIVATE_EXPEDITED => {
            if regs.load(Ordering::Acquire) & REGISTER_PRIVATE_EXPEDITED.cast_unsigned() == 0 {
                return Err(Errno::EPERM);
            }
            barrier()
        }
        REGISTER_GLOBAL_EXPEDITED | REGISTER_PRIVATE_EXPEDITED => {
            regs.fetch_or(cmd.cast_unsigned(), Ordering::AcqRel);
            Ok(0)
        }
        GET_REGISTRATIONS => Ok(u64::from(regs.load(Ordering::Acquire))),
        _ => {
            ctx.log_once(&format!("membarrier command {cmd:#x}"));
            Err(Errno::EINVAL)
        }
    }
}

fn barrier() -> KResult<u64> {
    sentry::hostio::membarrier_global()?;
    Ok(0)
}
