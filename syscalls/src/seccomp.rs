//! seccomp(2), and prctl's PR_SET_SECCOMP and PR_GET_SECCOMP: strict
//! mode, classic BPF filters (`sentry::kernel::seccomp`), TSYNC, and the
//! questions SECCOMP_GET_ACTION_AVAIL and SECCOMP_GET_NOTIF_SIZES.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::creds::cap;
use sentry::kernel::seccomp::{self as sc, Insn};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r(
        "seccomp",
        "uua",
        Partial("no user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER is EINVAL)"),
        seccomp,
    );
}

const SET_MODE_STRICT: u64 = 0;
const SET_MODE_FILTER: u64 = 1;
const GET_ACTION_AVAIL: u64 = 2;
const GET_NOTIF_SIZES: u64 = 3;

const FLAG_TSYNC: u64 = 1;
const FLAG_LOG: u64 = 2;
const FLAG_SPEC_ALLOW: u64 = 4;
const FLAG_NEW_LISTENER: u64 = 8;
const FLAG_TSYNC_ESRCH: u64 = 16;
const FLAG_WAIT_KILLABLE_RECV: u64 = 32;

fn seccomp(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (op, flags, arg) = (a[0], a[1], a[2]);
    match op {
        SET_MODE_STRICT => {
            if flags != 0 || arg != 0 {
                return Err(Errno::EINVAL);
            }
            set_strict(ctx)
        }
        SET_MODE_FILTER => set_filter(ctx, flags, arg),
        GET_ACTION_AVAIL => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let action: u32 = get(ctx, arg)?;
            if sc::action_available(action) {
                Ok(0)
            } else {
                Err(Errno::EOPNOTSUPP)
            }
        }
        GET_NOTIF_SIZES => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            // struct seccomp_notif, seccomp_notif_resp, seccomp_data.
            put(ctx, arg, &[80u16, 24, 64])?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_SET_SECCOMP, mode, filter).
pub fn prctl_set(ctx: &mut Ctx<'_, '_>, mode: u64, arg: u64) -> KResult<u64> {
    match mode {
        1 => set_strict(ctx),
        2 => set_filter(ctx, 0, arg),
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_GET_SECCOMP): the caller's mode.
pub fn prctl_get(ctx: &mut Ctx<'_, '_>) -> u64 {
    let t = ctx.task_ref();
    if t.seccomp_strict {
        1
    } else if t.seccomp.is_some() {
        2
    } else {
        0
    }
}

fn set_strict(ctx: &mut Ctx<'_, '_>) -> KResult<u64> {
    if ctx.task_ref().seccomp.is_some() {
        return Err(Errno::EINVAL);
    }
    ctx.task().seccomp_strict = true;
    Ok(0)
}

fn set_filter(ctx: &mut Ctx<'_, '_>, flags: u64, arg: u64) -> KResult<u64> {
    let known = FLAG_TSYNC
        | FLAG_LOG
        | FLAG_SPEC_ALLOW
        | FLAG_NEW_LISTENER
        | FLAG_TSYNC_ESRCH
        | FLAG_WAIT_KILLABLE_RECV;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV) != 0 {
        ctx.log_once("seccomp user notification");
        return Err(Errno::EINVAL);
    }
    // struct sock_fprog: a count and a pointer (with padding between).
    let [len, filter]: [u64; 2] = get(ctx, arg)?;
    let n = abi::usize_of(len & 0xffff);
    if n == 0 || n > sc::MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    let p = ctx.proc_ref();
    if !p.no_new_privs && !p.creds.ns_capable(cap::SYS_ADMIN) {
        return Err(Errno::EACCES);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, filter, n * 8)?;
    let insns: Vec<Insn> = raw
        .chunks_exact(8)
        .map(|b| Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect();
    let prog = sc::check(insns, flags & FLAG_LOG != 0)?;
    if ctx.task_ref().seccomp_strict {
        return Err(Errno::EINVAL);
    }
    let mine = ctx.task_ref().seccomp.clone();
    let chain = sc::push(mine.clone(), prog)?;
    if flags & FLAG_TSYNC != 0 {
        // Every other thread must have these filters or their ancestors.
        let threads = ctx.proc_ref().threads.clone();
        for &t in threads.iter().filter(|&&t| t != ctx.tid) {
            let theirs = ctx.st.tasks.get(&t).and_then(|x| x.seccomp.clone());
            let strict = ctx.st.tasks.get(&t).is_some_and(|x| x.seccomp_strict);
            if strict || !chain.descends_from(theirs.as_ref()) {
                return if flags & FLAG_TSYNC_ESRCH != 0 {
                    Err(Errno::ESRCH)
                } else {
                    Ok(abi::bits(i64::from(t)))
                };
            }
        }
        for t in threads {
            if let Some(x) = ctx.st.tasks.get_mut(&t) {
                x.seccomp = Some(chain.clone());
            }
            // It reads its filters again at its next stop.
            sentry::kernel::signal::kick(&ctx.st, t);
        }
    } else {
        ctx.task().seccomp = Some(chain);
    }
    Ok(0)
}
