//! kcmp(2): whether two tasks share a kernel object (an open file, the
//! address space, the fd table, the fs context, the signal handlers, the
//! I/O context, the SysV undo list), ordered by an obfuscated identity
//! as Linux orders them.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r(
        "kcmp",
        "iiiuu",
        Partial("not KCMP_EPOLL_TFD (EINVAL)"),
        kcmp,
    );
}

const KCMP_FILE: i32 = 0;
const KCMP_VM: i32 = 1;
const KCMP_FILES: i32 = 2;
const KCMP_FS: i32 = 3;
const KCMP_SIGHAND: i32 = 4;
const KCMP_IO: i32 = 5;
const KCMP_SYSVSEM: i32 = 6;
const KCMP_EPOLL_TFD: i32 = 7;

fn addr<T: ?Sized>(a: &Arc<T>) -> u64 {
    Arc::as_ptr(a).cast::<()>() as u64
}

/// The identity of task `tid`'s object of kind `kind` (`idx`: its fd).
fn identity(ctx: &Ctx<'_, '_>, tid: i32, kind: i32, idx: u64) -> KResult<u64> {
    let t = ctx.st.tasks.get(&tid).ok_or(Errno::ESRCH)?;
    let p = ctx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
    Ok(match kind {
        KCMP_FILE => {
            let fd = i32::try_from(idx).map_err(|_| Errno::EBADF)?;
            addr(&t.files.lock().get(fd)?)
        }
        KCMP_VM => addr(&t.mm),
        KCMP_FILES => addr(&t.files),
        KCMP_FS => addr(&t.fs),
        KCMP_SIGHAND => addr(&p.sighand),
        // Every task has an I/O context of its own here (no CLONE_IO).
        KCMP_IO => u64::from(tid.cast_unsigned()),
        KCMP_SYSVSEM => p.sem_undo.as_ref().map_or(0, addr),
        _ => return Err(Errno::EINVAL),
    })
}

fn kcmp(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (p1, p2, kind) = (
        ctx.pid_arg(abi::int(a[0])),
        ctx.pid_arg(abi::int(a[1])),
        abi::int(a[2]),
    );
    if kind == KCMP_EPOLL_TFD {
        ctx.log_once("kcmp KCMP_EPOLL_TFD");
        return Err(Errno::EINVAL);
    }
    if !(KCMP_FILE..=KCMP_SYSVSEM).contains(&kind) {
        return Err(Errno::EINVAL);
    }
    // Both tasks must exist and be the caller's to look at.
    for pid in [p1, p2] {
        let t = ctx.st.tasks.get(&pid).ok_or(Errno::ESRCH)?;
        let p = ctx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
        if !p.inspectable_by(ctx.proc_ref()) {
            return Err(Errno::EPERM);
        }
    }
    let v1 = identity(ctx, p1, kind, a[3])?;
    let v2 = identity(ctx, p2, kind, a[4])?;
    // Linux hides the addresses behind a per-kind cookie before ordering.
    let cookie = 0x9e37_79b9_7f4a_7c15u64.rotate_left(kind.cast_unsigned());
    let (t1, t2) = ((v1 ^ cookie).wrapping_mul(3), (v2 ^ cookie).wrapping_mul(3));
    Ok(u64::from(t1 < t2) | (u64::from(t1 > t2) << 1))
}
