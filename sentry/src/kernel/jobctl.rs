//! Terminal semantics that depend on the calling task: controlling
//! terminals, foreground process groups and the job-control signals
//! (SIGTTIN, SIGTTOU). The pty's file operations call these; the syscall
//! layer never sees them.

use super::ctx::Ctx;
use super::signal as ksig;
use crate::errno::{Errno, KResult};
use crate::fs::file::File;
use crate::fs::pty::Pty;
use crate::mm::{read_obj, write_obj};
use std::sync::Arc;

/// Whether `tty` is the caller's controlling terminal.
fn is_ctty(cx: &Ctx<'_, '_>, tty: &Arc<Pty>) -> bool {
    cx.proc_ref()
        .ctty
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(c, tty))
}

/// A process group is orphaned when no member has a parent in another
/// group of the same session: nobody is left to continue it if stopped.
fn orphaned(cx: &Ctx<'_, '_>, pgid: i32) -> bool {
    let st = &cx.st;
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
fn job_control(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, sig: i32) -> KResult<()> {
    if !is_ctty(cx, tty) {
        return Ok(());
    }
    let pgid = cx.proc_ref().pgid;
    let (_, fg) = tty.session();
    if fg == 0 || fg == pgid {
        return Ok(());
    }
    if ksig::ignored_or_blocked(&cx.st, cx.tid, sig) {
        // A read cannot go on; a write or setting change simply does.
        return if sig == libc::SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if orphaned(cx, pgid) {
        return Err(Errno::EIO);
    }
    ksig::send_to_pgrp(&mut cx.st, pgid, sig);
    Err(Errno::ERESTARTSYS)
}

/// Before a slave moves bytes: a background reader of its terminal gets
/// SIGTTIN, and with TOSTOP a background writer SIGTTOU.
pub fn before_transfer(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, write: bool) -> KResult<()> {
    if !write {
        job_control(cx, tty, libc::SIGTTIN)
    } else if tty.termios().lflag & libc::TOSTOP != 0 {
        job_control(cx, tty, libc::SIGTTOU)
    } else {
        Ok(())
    }
}

/// An open of a slave without O_NOCTTY: a session leader without a
/// terminal acquires one that has no session.
pub fn opened(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, flags: i32) {
    if flags & libc::O_NOCTTY != 0 {
        return;
    }
    let p = cx.proc_ref();
    if p.sid != p.tgid || p.ctty.is_some() || tty.session().0 != 0 {
        return;
    }
    let (sid, pgid) = (p.sid, p.pgid);
    tty.set_session(sid, pgid);
    cx.proc_().ctty = Some(tty.clone());
}

/// The ioctls that need the caller; None for the terminal's own.
pub fn ioctl(
    cx: &mut Ctx<'_, '_>,
    tty: &Arc<Pty>,
    master: bool,
    cmd: u64,
    arg: u64,
) -> Option<KResult<u64>> {
    let r = match cmd {
        libc::TIOCSCTTY => set_ctty(cx, tty, arg),
        libc::TIOCNOTTY => {
            if !is_ctty(cx, tty) {
                return Some(Err(Errno::ENOTTY));
            }
            let (tgid, sid) = (cx.tgid(), cx.proc_ref().sid);
            if tgid == sid {
                super::lifecycle::hang_up(&mut cx.st, sid, tty);
            } else {
                cx.proc_().ctty = None;
            }
            Ok(0)
        }
        libc::TIOCGPGRP => {
            if !master && !is_ctty(cx, tty) {
                return Some(Err(Errno::ENOTTY));
            }
            write_obj(&cx.mm, arg, &cx.vnr(tty.session().1)).map(|()| 0)
        }
        libc::TIOCGSID => {
            let (sid, _) = tty.session();
            if (!master && !is_ctty(cx, tty)) || sid == 0 {
                return Some(Err(Errno::ENOTTY));
            }
            write_obj(&cx.mm, arg, &cx.vnr(sid)).map(|()| 0)
        }
        libc::TIOCSPGRP => set_fg(cx, tty, master, arg),
        libc::TIOCSWINSZ => (|| {
            let ws: [u16; 4] = read_obj(&cx.mm, arg)?;
            if tty.set_winsize(ws) {
                let (_, fg) = tty.session();
                ksig::send_to_pgrp(&mut cx.st, fg, libc::SIGWINCH);
            }
            Ok(0)
        })(),
        libc::TIOCGPTPEER if master => open_peer(cx, tty, arg),
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF | libc::TCFLSH | libc::TCXONC if !master => {
            // Changing settings from the background is job-controlled too.
            if let Err(e) = job_control(cx, tty, libc::SIGTTOU) {
                return Some(Err(e));
            }
            return None;
        }
        _ => return None,
    };
    Some(r)
}

fn set_ctty(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, arg: u64) -> KResult<u64> {
    let p = cx.proc_ref();
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
        if arg != 1 || !p.creds.capable(super::creds::cap::SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        for q in cx.st.procs.values_mut().filter(|q| q.sid == tty_sid) {
            q.ctty = None;
        }
    }
    tty.set_session(sid, pgid);
    cx.proc_().ctty = Some(tty.clone());
    Ok(0)
}

fn set_fg(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, master: bool, arg: u64) -> KResult<u64> {
    if !is_ctty(cx, tty) {
        return Err(Errno::ENOTTY);
    }
    if !master {
        job_control(cx, tty, libc::SIGTTOU)?;
    }
    let pgrp: i32 = read_obj(&cx.mm, arg)?;
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    // The caller's number for the group.
    let pgrp = cx.pid_arg(pgrp);
    let sid = cx.proc_ref().sid;
    let mut found = false;
    for p in cx
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

/// TIOCGPTPEER: opens the slave of a master and gives it an fd.
fn open_peer(cx: &mut Ctx<'_, '_>, tty: &Arc<Pty>, flags: u64) -> KResult<u64> {
    let allowed = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let flags = crate::num::low_int(flags);
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let slave = tty.open_slave()?;
    let f = File::new(Box::new(slave), flags & !libc::O_CLOEXEC, tty.path());
    opened(cx, tty, flags);
    let fd = cx.install(f, flags & libc::O_CLOEXEC != 0)?;
    Ok(crate::num::bits(i64::from(fd)))
}
