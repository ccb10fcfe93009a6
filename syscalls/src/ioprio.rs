//! ioprio_set and ioprio_get: each task's I/O scheduling class and level
//! (what ionice sets), checked and reported as Linux does. The sandbox's
//! I/O goes through the gofer and the host, which see none of it.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::kernel::creds::cap;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r(
        "ioprio_set",
        "iix",
        Partial("kept and reported; host I/O is not scheduled by it"),
        ioprio_set,
    );
    r("ioprio_get", "ii", Full, ioprio_get);
}

const WHO_PROCESS: i32 = 1;
const WHO_PGRP: i32 = 2;
const WHO_USER: i32 = 3;
const CLASS_NONE: u16 = 0;
const CLASS_RT: u16 = 1;
const CLASS_BE: u16 = 2;
const CLASS_IDLE: u16 = 3;
/// What a task with no class counts as when several are compared.
const DEFAULT: u16 = CLASS_BE << 13 | 4;

/// The tasks `which`/`who` names: ESRCH for none, EINVAL for a bad
/// `which`. A process is one task here (its I/O context is per task);
/// a group or a user is every task of getpriority's processes.
fn targets(ctx: &Ctx<'_, '_>, which: i32, who: i32) -> KResult<Vec<i32>> {
    // A group goes to prio_targets, which takes the caller's numbers.
    match which {
        WHO_PROCESS if who == 0 => Ok(vec![ctx.tid]),
        WHO_PROCESS if ctx.st.tasks.contains_key(&ctx.pid_arg(who)) => Ok(vec![ctx.pid_arg(who)]),
        WHO_PROCESS => Err(Errno::ESRCH),
        // IOPRIO_WHO_PGRP and _USER are PRIO_PGRP and PRIO_USER, one up.
        WHO_PGRP | WHO_USER => {
            let which = u64::from((which - 1).cast_unsigned());
            let who = u64::from(who.cast_unsigned());
            Ok(crate::sched::prio_targets(ctx, which, who)?
                .into_iter()
                .flat_map(|p| ctx.st.procs[&p].threads.clone())
                .collect())
        }
        _ => Err(Errno::EINVAL),
    }
}

fn ioprio_set(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (which, who) = (abi::int(a[0]), abi::int(a[1]));
    let prio = u16::try_from(a[2] & 0xffff).map_err(|_| Errno::EINVAL)?;
    let c = ctx.proc_ref().creds.clone();
    match prio >> 13 {
        CLASS_RT if !c.capable(cap::SYS_NICE) && !c.capable(cap::SYS_ADMIN) => {
            return Err(Errno::EPERM)
        }
        CLASS_NONE if prio & 0x1fff != 0 => return Err(Errno::EINVAL),
        CLASS_NONE | CLASS_RT | CLASS_BE | CLASS_IDLE => {}
        _ => return Err(Errno::EINVAL),
    }
    let tasks = targets(ctx, which, who)?;
    let mut err = None;
    for t in tasks {
        let owner = ctx
            .st
            .tasks
            .get(&t)
            .and_then(|x| ctx.st.procs.get(&x.tgid))
            .map(|p| p.creds.ruid);
        if owner.is_some_and(|u| u != c.euid && u != c.ruid) && !c.capable(cap::SYS_NICE) {
            err = Some(Errno::EPERM);
            continue;
        }
        if let Some(x) = ctx.st.tasks.get_mut(&t) {
            x.ioprio = prio;
        }
    }
    err.map_or(Ok(0), Err)
}

/// The better of two priorities: the lower class (real time first), then
/// the lower level; no class counts as best effort at level 4.
fn best(a: u16, b: u16) -> u16 {
    let norm = |p: u16| if p >> 13 == CLASS_NONE { DEFAULT } else { p };
    let (a, b) = (norm(a), norm(b));
    let key = |p: u16| ((p >> 13), p & 7);
    if key(a) <= key(b) {
        a
    } else {
        b
    }
}

fn ioprio_get(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let which = abi::int(a[0]);
    let tasks = targets(ctx, which, abi::int(a[1]))?;
    let prios: Vec<u16> = tasks
        .iter()
        .filter_map(|t| ctx.st.tasks.get(t).map(|x| x.ioprio))
        .collect();
    let p = if which == WHO_PROCESS {
        prios.first().copied().unwrap_or(0)
    } else {
        prios
            .into_iter()
            .reduce(best)
            .map_or(DEFAULT, |p| best(p, p))
    };
    Ok(u64::from(p))
}
