//! Terminal semantics that depend on the caller: controlling terminals,
//! foreground process groups and the job-control signals (SIGTTIN,
//! SIGTTOU, and the SIGINT/SIGQUIT/SIGTSTP/SIGWINCH input raises).

use crate::abi::{get, put};
use sentry::fs::file::File;
use sentry::fs::pty::{pty_of, Pty};
use sentry::kernel::signal as ksig;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

/// Whether `tty` is the caller's controlling terminal.
fn is_ctty(ctx: &Ctx<'_, '_>, tty: &Arc<Pty>) -> bool {
    ctx.proc_ref()
        .ctty
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(c, tty))
}

/// A process group is orphaned when no member has a parent in another
/// group of the same session: nobody is left to continue it if stopped.
fn orphaned(ctx: &Ctx<'_, '_>, pgid: i32) -> bool {
    let st = &ctx.st;
    !st.procs.values().any(|p| {
        p.pgid == pgid
            && p.exit.is_none()
            && st
                .procs
                .get(&p.ppid)
                .is_some_and(|pp| pp.pgid != pgid && pp.sid == p.sid)
    })
}

/// The job-control check before a background process uses its terminal:
/// Ok to go on, or the signal is sent to its group and the call restarts
/// once it is continued. `sig` is SIGTTIN for reads, SIGTTOU otherwise.
fn job_control(ctx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, sig: i32) -> KResult<()> {
    if !is_ctty(ctx, tty) {
        return Ok(());
    }
    let pgid = ctx.proc_ref().pgid;
    let (_, fg) = tty.session();
    if fg == 0 || fg == pgid {
        return Ok(());
    }
    if ksig::ignored_or_blocked(&ctx.st, ctx.tid, sig) {
        // A read cannot go on; a write or setting change simply does.
        return if sig == libc::SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if orphaned(ctx, pgid) {
        return Err(Errno::EIO);
    }
    ksig::send_to_pgrp(&mut ctx.st, pgid, sig);
    Err(Errno::ERESTARTSYS)
}

/// Before a read: a background reader of its terminal gets SIGTTIN.
pub fn before_read(ctx: &mut Ctx<'_, '_>, f: &File) -> KResult<()> {
    match pty_of(f) {
        Some((tty, false)) => {
            let tty = tty.clone();
            job_control(ctx, &tty, libc::SIGTTIN)
        }
        _ => Ok(()),
    }
}

/// Before a write: with TOSTOP, a background writer gets SIGTTOU.
pub fn before_write(ctx: &mut Ctx<'_, '_>, f: &File) -> KResult<()> {
    match pty_of(f) {
        Some((tty, false)) if tty.termios().lflag & libc::TOSTOP != 0 => {
            let tty = tty.clone();
            job_control(ctx, &tty, libc::SIGTTOU)
        }
        _ => Ok(()),
    }
}

/// After a write to a master: signal characters reach the foreground
/// group.
pub fn after_write(ctx: &mut Ctx<'_, '_>, f: &File) {
    if let Some((tty, true)) = pty_of(f) {
        tty.raise_signals(&mut ctx.st);
    }
}

/// After an open without O_NOCTTY: a session leader without a terminal
/// acquires a slave that has no session.
pub fn after_open(ctx: &mut Ctx<'_, '_>, f: &File, flags: i32) {
    if flags & libc::O_NOCTTY != 0 {
        return;
    }
    let Some((tty, false)) = pty_of(f) else {
        return;
    };
    let p = ctx.proc_ref();
    if p.sid != p.tgid || p.ctty.is_some() || tty.session().0 != 0 {
        return;
    }
    let (sid, pgid, tty) = (p.sid, p.pgid, tty.clone());
    tty.set_session(sid, pgid);
    ctx.proc_().ctty = Some(tty);
}

/// The ioctls that need the caller; None for the file's own ioctl.
pub fn ioctl(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, cmd: u64, arg: u64) -> Option<KResult<u64>> {
    let (tty, master) = pty_of(f)?;
    let tty = tty.clone();
    let r = match cmd as libc::c_ulong {
        libc::TIOCSCTTY => set_ctty(ctx, &tty, arg),
        libc::TIOCNOTTY => {
            if !is_ctty(ctx, &tty) {
                return Some(Err(Errno::ENOTTY));
            }
            let (tgid, sid) = (ctx.tgid(), ctx.proc_ref().sid);
            if tgid == sid {
                sentry::kernel::lifecycle::hang_up(&mut ctx.st, sid, &tty);
            } else {
                ctx.proc_().ctty = None;
            }
            Ok(0)
        }
        libc::TIOCGPGRP => {
            if !master && !is_ctty(ctx, &tty) {
                return Some(Err(Errno::ENOTTY));
            }
            put(ctx, arg, &tty.session().1).map(|_| 0)
        }
        libc::TIOCGSID => {
            let (sid, _) = tty.session();
            if (!master && !is_ctty(ctx, &tty)) || sid == 0 {
                return Some(Err(Errno::ENOTTY));
            }
            put(ctx, arg, &sid).map(|_| 0)
        }
        libc::TIOCSPGRP => set_fg(ctx, &tty, master, arg),
        libc::TIOCSWINSZ => (|| {
            let ws: [u16; 4] = get(ctx, arg)?;
            if tty.set_winsize(ws) {
                let (_, fg) = tty.session();
                ksig::send_to_pgrp(&mut ctx.st, fg, libc::SIGWINCH);
            }
            Ok(0)
        })(),
        libc::TIOCGPTPEER if master => open_peer(ctx, &tty, arg),
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF | libc::TCFLSH | libc::TCXONC if !master => {
            // Changing settings from the background is job-controlled too.
            if let Err(e) = job_control(ctx, &tty, libc::SIGTTOU) {
                return Some(Err(e));
            }
            return None;
        }
        _ => return None,
    };
    Some(r)
}

fn set_ctty(ctx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, arg: u64) -> KResult<u64> {
    let p = ctx.proc_ref();
    let (sid, pgid, tgid) = (p.sid, p.pgid, p.tgid);
    let (tty_sid, _) = tty.session();
    if sid == tgid && tty_sid == sid {
        return Ok(0);
    }
    if sid != tgid || p.ctty.is_some() {
        return Err(Errno::EPERM);
    }
    if tty_sid != 0 {
        // Stealing another session's terminal: arg 1 and CAP_SYS_ADMIN.
        if arg != 1 || p.creds.euid != 0 {
            return Err(Errno::EPERM);
        }
        for q in ctx.st.procs.values_mut().filter(|q| q.sid == tty_sid) {
            q.ctty = None;
        }
    }
    tty.set_session(sid, pgid);
    ctx.proc_().ctty = Some(tty.clone());
    Ok(0)
}

fn set_fg(ctx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, master: bool, arg: u64) -> KResult<u64> {
    if !is_ctty(ctx, tty) {
        return Err(Errno::ENOTTY);
    }
    if !master {
        job_control(ctx, tty, libc::SIGTTOU)?;
    }
    let pgrp: i32 = get(ctx, arg)?;
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let sid = ctx.proc_ref().sid;
    let mut found = false;
    for p in ctx
        .st
        .procs
        .values()
        .filter(|p| p.pgid == pgrp && p.exit.is_none())
    {
        if p.sid != sid {
            return Err(Errno::EPERM);
        }
        found = true;
    }
    if !found {
        return Err(Errno::ESRCH);
    }
    tty.set_fg_pgrp(pgrp);
    Ok(0)
}

fn open_peer(ctx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, flags: u64) -> KResult<u64> {
    let allowed = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
    if crate::abi::int(flags) & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = crate::abi::int(flags);
    let slave = tty.open_slave()?;
    let f = File::new(Box::new(slave), flags & !libc::O_CLOEXEC, tty.path());
    after_open(ctx, &f, flags);
    crate::fs::install(ctx, f, flags & libc::O_CLOEXEC != 0)
}
