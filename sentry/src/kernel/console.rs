//! The console: when `husk do` runs on a terminal, the first process gets
//! the slave of one of the sandbox's own ptys as stdio and controlling
//! terminal, and two threads relay bytes between the host terminal (put in
//! raw mode by `husk do`) and the master. The sandbox's line discipline
//! then does echo, line editing and ^C/^Z/^\, and job control works; the
//! window size follows the host terminal's.

use super::waitq::{Wait, Waiter, EV_IN, EV_OUT};
use super::{signal, Kernel};
use crate::fs::pty::{Pty, PtyMaster};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

pub struct Console {
    pub pty: Arc<Pty>,
    /// Keeps the master side open for the sandbox's life.
    _master: PtyMaster,
    host_in: OwnedFd,
    host_out: OwnedFd,
}

fn winsize(fd: RawFd) -> Option<[u16; 4]> {
    let mut ws = [0u16; 4];
    // SAFETY: TIOCGWINSZ writes a struct winsize (four u16) into `ws`.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, ws.as_mut_ptr()) } == 0).then_some(ws)
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing our buffer to a host fd we hold.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        data = &data[crate::num::count(n)..];
    }
}

impl Console {
    /// A new pty for host terminal `host_in`/`host_out`, sized like it:
    /// the sandbox's /dev/console.
    pub fn new(
        vfs: &crate::fs::vfs::Vfs,
        host_in: OwnedFd,
        host_out: OwnedFd,
    ) -> crate::KResult<Console> {
        let c = Console::relayed(vfs, host_in, host_out)?;
        vfs.ptys.set_console(&c.pty);
        Ok(c)
    }

    /// A new pty relayed to a host terminal (a process started from
    /// outside with one, `exec --tty`).
    pub fn relayed(
        vfs: &crate::fs::vfs::Vfs,
        host_in: OwnedFd,
        host_out: OwnedFd,
    ) -> crate::KResult<Console> {
        let master = vfs.ptys.open_master((0, 5))?;
        let pty = master.pty.clone();
        pty.set_locked(false);
        if let Some(ws) = winsize(host_in.as_raw_fd()) {
            pty.set_winsize(ws);
        }
        Ok(Console {
            pty,
            _master: master,
            host_in,
            host_out,
        })
    }

    /// An fd table whose 0, 1 and 2 are one open file of the slave.
    pub fn slave_stdio(&self) -> crate::KResult<crate::fs::file::FdTable> {
        let slave = self.pty.open_slave()?;
        let f = crate::fs::file::File::new(Box::new(slave), libc::O_RDWR, self.pty.path());
        let mut t = crate::fs::file::FdTable::default();
        for fd in 0..3 {
            t.fds.insert(
                fd,
                crate::fs::file::FdEntry {
                    file: f.clone(),
                    cloexec: false,
                },
            );
        }
        Ok(t)
    }

    /// Writes whatever output is waiting to the host terminal.
    pub fn flush(&self) {
        let out = self.pty.take_output();
        write_all(self.host_out.as_raw_fd(), &out);
    }
}

/// Starts the two relay threads of the sandbox's console.
pub fn start(k: &Arc<Kernel>) {
    if let Some(c) = &k.console {
        start_relays(k, c.clone(), false);
    }
}

/// Starts the two relay threads of `c`; with `until_closed` they end
/// once no one has the slave open (and the output is written).
pub fn start_relays(k: &Arc<Kernel>, c: Arc<Console>, until_closed: bool) {
    let (kin, cin) = (k.clone(), c.clone());
    let _ = std::thread::Builder::new()
        .name("console-in".into())
        .spawn(move || relay_in(&kin, &cin, until_closed));
    let kout = k.clone();
    let _ = std::thread::Builder::new()
        .name("console-out".into())
        .spawn(move || relay_out(&kout, &c, until_closed));
}

/// Host terminal → master: typed bytes go through the line discipline,
/// and the signals they raise reach the foreground group. Polls with a
/// timeout so window size changes are noticed.
fn relay_in(k: &Arc<Kernel>, c: &Console, until_closed: bool) {
    let fd = c.host_in.as_raw_fd();
    let mut size = winsize(fd);
    let mut buf = [0u8; 4096];
    let waiter = Waiter::new();
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        let ready = unsafe { libc::poll(&mut p, 1, 250) };
        let now = winsize(fd);
        if now.is_some() && now != size {
            size = now;
            let mut st = k.lock();
            if c.pty.set_winsize(now.unwrap_or_default()) {
                let (_, fg) = c.pty.session();
                signal::send_to_pgrp(&mut st, fg, libc::SIGWINCH);
            }
        }
        if until_closed && !c.pty.slave_in_use() {
            return;
        }
        if ready <= 0 {
            continue;
        }
        // SAFETY: reading into our buffer from a host fd we hold.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            // The host terminal went away. A relayed pty's processes
            // hear of it as of a closed master: SIGHUP (and SIGCONT).
            if until_closed {
                let mut st = k.lock();
                let (_, fg) = c.pty.session();
                if fg > 0 {
                    signal::send_to_pgrp(&mut st, fg, libc::SIGHUP);
                    signal::send_to_pgrp(&mut st, fg, libc::SIGCONT);
                }
            }
            return;
        }
        if n < 0 {
            continue;
        }
        let mut data = &buf[..crate::num::count(n)];
        let mut st = k.lock();
        loop {
            let mut w = Wait::start(&waiter);
            w.on(c.pty.queue(), EV_OUT);
            let took = c.pty.type_in(data);
            c.pty.raise_signals(&mut st);
            data = &data[took..];
            if data.is_empty() {
                break;
            }
            // The sandbox is not reading: wait for room.
            parking_lot::MutexGuard::unlocked(&mut st, || {
                waiter.sleep(Some(std::time::Instant::now() + Duration::from_millis(100)))
            });
        }
    }
}

/// Master → host terminal.
fn relay_out(k: &Arc<Kernel>, c: &Console, until_closed: bool) {
    let waiter = Waiter::new();
    let mut st = k.lock();
    loop {
        let mut w = Wait::start(&waiter);
        w.on(c.pty.queue(), EV_IN);
        let out = c.pty.take_output();
        if out.is_empty() {
            if until_closed && !c.pty.slave_in_use() {
                return;
            }
            // Woken by output, or (a relayed pty) now and then to see
            // whether the slave is still in use.
            let deadline =
                until_closed.then(|| std::time::Instant::now() + Duration::from_millis(250));
            parking_lot::MutexGuard::unlocked(&mut st, || waiter.sleep(deadline));
            continue;
        }
        drop(w);
        drop(st);
        write_all(c.host_out.as_raw_fd(), &out);
        st = k.lock();
    }
}
