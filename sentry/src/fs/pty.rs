//! Pseudo-terminals: a master from /dev/ptmx, a slave in /dev/pts, and the
//! line discipline between them (canonical editing, echo, signal
//! characters, output post-processing).
//!
//! Job control needs the caller (its session and process group), so the
//! checks that use it live in the syscall layer; this module keeps the
//! terminal's session, foreground group and the signals its input raised.

use super::file::{File, FileOps};
use super::synth::stat_of;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_ALL};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};

/// Device number of the devpts filesystem, for st_dev.
pub const DEVPTS_DEV: u64 = 0x16;
const PTS_MAJOR: u64 = 136;
/// Bytes either direction may buffer before writers wait.
const BUF_CAP: usize = 65536;
/// Longest line canonical mode edits (N_TTY_BUF_SIZE - 1).
const MAX_LINE: usize = 4095;

const NCCS: usize = 19;
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VTIME: usize = 5;
const VMIN: usize = 6;
const VSTART: usize = 8;
const VSTOP: usize = 9;
const VSUSP: usize = 10;
const VEOL: usize = 11;
const VWERASE: usize = 14;
const VEOL2: usize = 16;

/// The kernel's `struct termios` (what TCGETS/TCSETS copy).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Termios {
    pub iflag: libc::tcflag_t,
    pub oflag: libc::tcflag_t,
    pub cflag: libc::tcflag_t,
    pub lflag: libc::tcflag_t,
    pub line: u8,
    pub cc: [u8; NCCS],
}

// Four u32 flags, a u8 and 19 control characters: 36 bytes, no padding.
const _: () = assert!(std::mem::size_of::<Termios>() == 36);
crate::plain!(Termios);

impl Termios {
    /// A new pty slave's settings, as Linux's tty_std_termios with the pty
    /// driver's c_cflag.
    fn slave_default() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[..17].copy_from_slice(
            b"\x03\x1c\x7f\x15\x04\x00\x01\x00\x11\x13\x1a\x00\x12\x0f\x17\x16\x00",
        );
        Termios {
            iflag: libc::ICRNL | libc::IXON,
            oflag: libc::OPOST | libc::ONLCR,
            cflag: libc::B38400 | libc::CS8 | libc::CREAD,
            lflag: libc::ISIG
                | libc::ICANON
                | libc::ECHO
                | libc::ECHOE
                | libc::ECHOK
                | libc::ECHOCTL
                | libc::ECHOKE
                | libc::IEXTEN,
            line: 0,
            cc,
        }
    }

    fn i(&self, f: libc::tcflag_t) -> bool {
        self.iflag & f != 0
    }
    fn o(&self, f: libc::tcflag_t) -> bool {
        self.oflag & f != 0
    }
    fn l(&self, f: libc::tcflag_t) -> bool {
        self.lflag & f != 0
    }
    /// Whether `c` is the (enabled) special character `idx`.
    fn is(&self, c: u8, idx: usize) -> bool {
        self.cc[idx] != 0 && self.cc[idx] == c
    }
}

/// The line discipline's buffers.
struct Ldisc {
    termios: Termios,
    winsize: [u16; 4],
    /// Input the slave can read. In canonical mode only up to the last
    /// entry of `line_ends` is complete.
    ready: VecDeque<u8>,
    /// Bytes ever taken from `ready`, so `line_ends` can be absolute.
    consumed: u64,
    /// Absolute end offsets of complete lines (an empty line is an EOF).
    line_ends: VecDeque<u64>,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Output for the master to read.
    output: VecDeque<u8>,
    /// Output stopped by the STOP character (IXON).
    stopped: bool,
}

impl Ldisc {
    fn produced(&self) -> u64 {
        self.consumed + self.ready.len() as u64
    }

    fn echo_char(&mut self, c: u8) {
        let t = self.termios;
        if t.l(libc::ECHOCTL) && (c < 0x20 || c == 0x7f) && c != b'\t' && c != b'\n' {
            self.output.push_back(b'^');
            self.output.push_back(c ^ 0x40);
        } else {
            self.put_output(c);
        }
    }

    /// One byte of output through OPOST processing.
    fn put_output(&mut self, c: u8) {
        let t = self.termios;
        if t.o(libc::OPOST) {
            if c == b'\n' && t.o(libc::ONLCR) {
                self.output.extend(b"\r\n");
                return;
            }
            if c == b'\r' && t.o(libc::OCRNL) {
                self.output.push_back(b'\n');
                return;
            }
        }
        self.output.push_back(c);
    }

    fn flush_input(&mut self) {
        self.consumed += self.ready.len() as u64;
        self.ready.clear();
        self.line_ends.clear();
        self.line.clear();
    }

    fn commit_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.ready.extend(line);
        let end = self.produced();
        self.line_ends.push_back(end);
    }

    /// Erases the last character of the line being edited, on screen too.
    fn erase_one(&mut self) -> bool {
        let Some(c) = self.line.pop() else {
            return false;
        };
        let t = self.termios;
        if t.l(libc::ECHO) && t.l(libc::ECHOE) {
            let width = if t.l(libc::ECHOCTL) && (c < 0x20 || c == 0x7f) && c != b'\t' {
                2
            } else {
                1
            };
            for _ in 0..width {
                self.output.extend(b"\x08 \x08");
            }
        }
        true
    }

    /// Processes one input byte from the master; returns a signal it
    /// raises for the foreground process group.
    fn input(&mut self, mut c: u8) -> Option<i32> {
        let t = self.termios;
        if t.i(libc::ISTRIP) {
            c &= 0x7f;
        }
        if t.i(libc::IXON) {
            if t.is(c, VSTOP) {
                self.stopped = true;
                return None;
            }
            if t.is(c, VSTART) {
                self.stopped = false;
                return None;
            }
            if self.stopped && t.i(libc::IXANY) {
                self.stopped = false;
            }
        }
        if c == b'\r' {
            if t.i(libc::IGNCR) {
                return None;
            }
            if t.i(libc::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.i(libc::INLCR) {
            c = b'\r';
        }
        if t.l(libc::ISIG) {
            let sig = if t.is(c, VINTR) {
                Some(libc::SIGINT)
            } else if t.is(c, VQUIT) {
                Some(libc::SIGQUIT)
            } else if t.is(c, VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(s) = sig {
                if !t.l(libc::NOFLSH) {
                    self.flush_input();
                }
                if t.l(libc::ECHO) {
                    self.echo_char(c);
                }
                return Some(s);
            }
        }
        if t.l(libc::ICANON) {
            if t.is(c, VERASE) {
                self.erase_one();
                return None;
            }
            if t.is(c, VWERASE) && t.l(libc::IEXTEN) {
                while self.line.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                    self.erase_one();
                }
                while self.line.last().is_some_and(|&b| b != b' ' && b != b'\t') {
                    self.erase_one();
                }
                return None;
            }
            if t.is(c, VKILL) {
                if t.l(libc::ECHO) && t.l(libc::ECHOKE) {
                    while self.erase_one() {}
                } else {
                    self.line.clear();
                    if t.l(libc::ECHO) {
                        self.echo_char(c);
                        if t.l(libc::ECHOK) {
                            self.put_output(b'\n');
                        }
                    }
                }
                return None;
            }
            if t.is(c, VEOF) {
                self.commit_line();
                return None;
            }
            if c == b'\n' || t.is(c, VEOL) || t.is(c, VEOL2) {
                if t.l(libc::ECHO) || (c == b'\n' && t.l(libc::ECHONL)) {
                    self.echo_char(c);
                }
                self.line.push(c);
                self.commit_line();
                return None;
            }
            if self.line.len() < MAX_LINE {
                self.line.push(c);
                if t.l(libc::ECHO) {
                    self.echo_char(c);
                }
            }
            return None;
        }
        self.ready.push_back(c);
        if t.l(libc::ECHO) {
            self.echo_char(c);
        }
        None
    }

    /// Bytes a slave read may take now: Some(0) is end of file (canonical
    /// EOF, or VMIN 0 with nothing there), None means wait.
    fn readable(&self) -> Option<usize> {
        if self.termios.l(libc::ICANON) {
            return self
                .line_ends
                .front()
                .map(|&end| crate::num::usize_of(end - self.consumed));
        }
        if !self.ready.is_empty() {
            return Some(self.ready.len());
        }
        (self.termios.cc[VMIN] == 0 && self.termios.cc[VTIME] == 0).then_some(0)
    }

    fn read(&mut self, buf: &mut [u8]) -> KResult<usize> {
        let Some(avail) = self.readable() else {
            return Err(Errno::EAGAIN);
        };
        let n = avail.min(buf.len());
        for (d, s) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *d = s;
        }
        self.consumed += n as u64;
        if self.line_ends.front() == Some(&self.consumed) {
            self.line_ends.pop_front();
        }
        Ok(n)
    }

    /// New settings; the edited line becomes readable when canonical mode
    /// is turned off, and pending raw input a line when it is turned on.
    fn set_termios(&mut self, t: Termios) {
        let was_canon = self.termios.l(libc::ICANON);
        self.termios = t;
        let canon = t.l(libc::ICANON);
        if was_canon && !canon {
            let line = std::mem::take(&mut self.line);
            self.ready.extend(line);
            self.line_ends.clear();
        } else if !was_canon && canon && !self.ready.is_empty() {
            let end = self.produced();
            self.line_ends.push_back(end);
        }
        if !t.i(libc::IXON) {
            self.stopped = false;
        }
    }
}

struct PtyState {
    ld: Ldisc,
    locked: bool,
    master_open: bool,
    slave_opens: usize,
    slave_ever: bool,
    /// Session whose controlling terminal this is (0: none).
    sid: i32,
    fg_pgrp: i32,
    /// Signals input raised, not yet sent to the foreground group.
    signals: Vec<i32>,
    owner: (u32, u32),
}

pub struct Pty {
    pub index: u32,
    /// Its devpts instance's device number and slave permissions.
    dev: u64,
    mode: u32,
    st: Mutex<PtyState>,
    /// Both sides' readers, writers and pollers.
    wq: Arc<WaitQueue>,
}

impl Pty {
    fn changed(&self) {
        self.wq.notify(EV_ALL);
    }

    /// The waiters of both sides (the console relay waits here too).
    pub fn queue(&self) -> &Arc<WaitQueue> {
        &self.wq
    }

    pub fn session(&self) -> (i32, i32) {
        let s = self.st.lock();
        (s.sid, s.fg_pgrp)
    }

    /// Makes this the controlling terminal of session `sid`, with `pgrp`
    /// in the foreground.
    pub fn set_session(&self, sid: i32, pgrp: i32) {
        let mut s = self.st.lock();
        s.sid = sid;
        s.fg_pgrp = pgrp;
    }

    pub fn set_fg_pgrp(&self, pgrp: i32) {
        self.st.lock().fg_pgrp = pgrp;
    }

    /// Sends the signals input raised (^C, ^Z, ^\) to the foreground
    /// group.
    pub fn raise_signals(&self, st: &mut crate::kernel::KState) {
        let (fg, sigs) = {
            let mut s = self.st.lock();
            (s.fg_pgrp, std::mem::take(&mut s.signals))
        };
        for sig in sigs {
            crate::kernel::signal::send_to_pgrp(st, fg, sig);
        }
    }

    pub fn winsize(&self) -> [u16; 4] {
        self.st.lock().ld.winsize
    }

    /// Sets the window size; true if it changed (SIGWINCH is due).
    pub fn set_winsize(&self, ws: [u16; 4]) -> bool {
        let mut s = self.st.lock();
        let changed = s.ld.winsize != ws;
        s.ld.winsize = ws;
        changed
    }

    pub fn termios(&self) -> Termios {
        self.st.lock().ld.termios
    }

    /// TCSETS: `flush_input` for TCSETSF.
    pub fn set_termios(&self, t: Termios, flush_input: bool) {
        let mut s = self.st.lock();
        if flush_input {
            s.ld.flush_input();
        }
        s.ld.set_termios(t);
        drop(s);
        self.changed();
    }

    /// TCFLSH: 0 input, 1 output, 2 both.
    pub fn flush(&self, which: u64) -> KResult<()> {
        let mut s = self.st.lock();
        match which {
            0 => s.ld.flush_input(),
            1 => s.ld.output.clear(),
            2 => {
                s.ld.flush_input();
                s.ld.output.clear();
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(s);
        self.changed();
        Ok(())
    }

    /// TCXONC: suspend or restart output.
    pub fn flow(&self, action: u64) -> KResult<()> {
        let mut s = self.st.lock();
        match action {
            0 => s.ld.stopped = true,  // TCOOFF
            1 => s.ld.stopped = false, // TCOON
            2 | 3 => {}                // TCIOFF/TCION send STOP/START to the other side: no device
            _ => return Err(Errno::EINVAL),
        }
        drop(s);
        self.changed();
        Ok(())
    }

    pub fn locked(&self) -> bool {
        self.st.lock().locked
    }

    pub fn set_locked(&self, locked: bool) {
        self.st.lock().locked = locked;
    }

    /// Input bytes the slave could read now (FIONREAD on the slave): in
    /// canonical mode every complete line.
    pub fn input_len(&self) -> usize {
        let s = self.st.lock();
        if s.ld.termios.l(libc::ICANON) {
            s.ld.line_ends
                .back()
                .map_or(0, |&end| crate::num::usize_of(end - s.ld.consumed))
        } else {
            s.ld.ready.len()
        }
    }

    /// Output bytes the master could read now.
    pub fn output_len(&self) -> usize {
        self.st.lock().ld.output.len()
    }

    /// Drops the terminal's session (the leader left it or exited).
    pub fn clear_session(&self) {
        let mut s = self.st.lock();
        s.sid = 0;
        s.fg_pgrp = 0;
    }

    fn slave_stat(&self) -> Stat {
        let s = self.st.lock();
        Stat {
            rdev: (PTS_MAJOR << 8) | self.index as u64,
            uid: s.owner.0,
            gid: s.owner.1,
            ..stat_of(
                libc::S_IFCHR | self.mode,
                self.index as u64 + 3,
                self.dev,
                0,
            )
        }
    }

    /// Whether the slave side is open somewhere (or never was yet).
    pub fn slave_in_use(&self) -> bool {
        let s = self.st.lock();
        s.slave_opens > 0 || !s.slave_ever
    }

    /// Opens the slave side (EIO while locked or after the master closed).
    pub fn open_slave(self: &Arc<Self>) -> KResult<PtySlave> {
        let mut s = self.st.lock();
        if s.locked || !s.master_open {
            return Err(Errno::EIO);
        }
        s.slave_opens += 1;
        s.slave_ever = true;
        drop(s);
        self.changed();
        Ok(PtySlave { pty: self.clone() })
    }

    /// Bytes typed at the master (the console's relay): processed by the
    /// line discipline; returns how many were taken (the rest must wait).
    pub fn type_in(&self, buf: &[u8]) -> usize {
        let mut s = self.st.lock();
        let room = BUF_CAP.saturating_sub(s.ld.ready.len() + s.ld.line.len());
        let n = buf.len().min(room);
        for &c in &buf[..n] {
            if let Some(sig) = s.ld.input(c) {
                s.signals.push(sig);
            }
        }
        drop(s);
        if n > 0 {
            self.changed();
        }
        n
    }

    /// Output waiting for the master (the console's relay), taken.
    pub fn take_output(&self) -> Vec<u8> {
        let mut s = self.st.lock();
        let out: Vec<u8> = s.ld.output.drain(..).collect();
        drop(s);
        if !out.is_empty() {
            self.changed();
        }
        out
    }

    pub fn path(&self) -> Vec<u8> {
        format!("/dev/pts/{}", self.index).into_bytes()
    }
}

/// A devpts instance's mount options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtsOpts {
    /// Its device number.
    pub dev: u64,
    /// The slaves' permissions and group (gid=; None: the opener's).
    pub mode: u32,
    pub gid: Option<u32>,
    /// pts/ptmx's permissions.
    pub ptmx_mode: u32,
}

impl Default for PtsOpts {
    /// The sandbox's own /dev/pts: as Docker mounts it
    /// (gid=5,mode=620,ptmxmode=666).
    fn default() -> Self {
        PtsOpts {
            dev: DEVPTS_DEV,
            mode: 0o620,
            gid: Some(5),
            ptmx_mode: 0o666,
        }
    }
}

impl PtsOpts {
    /// mount -t devpts's options ("newinstance,ptmxmode=0666,mode=620,
    /// gid=5"), for an instance with device number `dev`: Linux's
    /// defaults are mode 600, the opener's group and ptmxmode 000.
    pub fn parse(data: &[u8], dev: u64) -> KResult<PtsOpts> {
        let mut o = PtsOpts {
            dev,
            mode: 0o600,
            gid: None,
            ptmx_mode: 0,
        };
        let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        let octal = |v: &str| u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777);
        for opt in text.split(',').filter(|s| !s.is_empty()) {
            match opt.split_once('=') {
                None if opt == "newinstance" => {}
                Some(("mode", v)) => o.mode = octal(v).ok_or(Errno::EINVAL)? & 0o777,
                Some(("ptmxmode", v)) => o.ptmx_mode = octal(v).ok_or(Errno::EINVAL)? & 0o777,
                Some(("gid", v)) => o.gid = Some(v.parse().map_err(|_| Errno::EINVAL)?),
                // uid= and max= are Linux's too; the rest is not devpts'.
                Some(("uid" | "max", v)) if v.parse::<u32>().is_ok() => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }
}

/// The ptys of one devpts instance, by index.
#[derive(Default)]
pub struct PtyTable {
    slots: Mutex<Vec<Weak<Pty>>>,
    /// The console's pty, when the sandbox has one (/dev/console).
    console: Mutex<Weak<Pty>>,
    pub opts: PtsOpts,
}

impl PtyTable {
    pub fn new(opts: PtsOpts) -> PtyTable {
        PtyTable {
            opts,
            ..Default::default()
        }
    }

    pub fn set_console(&self, pty: &Arc<Pty>) {
        *self.console.lock() = Arc::downgrade(pty);
    }

    pub fn console(&self) -> Option<Arc<Pty>> {
        self.console.lock().upgrade()
    }

    /// A new pty with the lowest free index; returns its master. The
    /// slave belongs to `owner` (the opener's fsuid and fsgid), in the
    /// instance's group if it has one.
    pub fn open_master(&self, owner: (u32, u32)) -> KResult<PtyMaster> {
        let owner = (owner.0, self.opts.gid.unwrap_or(owner.1));
        let mut slots = self.slots.lock();
        let idx = slots
            .iter()
            .position(|w| w.strong_count() == 0)
            .unwrap_or(slots.len());
        if idx >= 4096 {
            return Err(Errno::ENOSPC);
        }
        let pty = Arc::new(Pty {
            index: crate::num::len_u32(idx),
            dev: self.opts.dev,
            mode: self.opts.mode,
            st: Mutex::new(PtyState {
                ld: Ldisc {
                    termios: Termios::slave_default(),
                    winsize: [0; 4],
                    ready: VecDeque::new(),
                    consumed: 0,
                    line_ends: VecDeque::new(),
                    line: Vec::new(),
                    output: VecDeque::new(),
                    stopped: false,
                },
                locked: true,
                master_open: true,
                slave_opens: 0,
                slave_ever: false,
                sid: 0,
                fg_pgrp: 0,
                signals: Vec::new(),
                owner,
            }),
            wq: WaitQueue::new(),
        });
        if idx == slots.len() {
            slots.push(Arc::downgrade(&pty));
        } else {
            slots[idx] = Arc::downgrade(&pty);
        }
        Ok(PtyMaster { pty })
    }

    /// The pty with `index`, while its master is open.
    pub fn get(&self, index: u32) -> Option<Arc<Pty>> {
        let p = self.slots.lock().get(index as usize)?.upgrade()?;
        let open = p.st.lock().master_open;
        open.then_some(p)
    }

    /// Indexes of open ptys, for listing /dev/pts.
    pub fn indexes(&self) -> Vec<u32> {
        let slots = self.slots.lock();
        (0..crate::num::len_u32(slots.len()))
            .filter(|&i| {
                slots[i as usize]
                    .upgrade()
                    .is_some_and(|p| p.st.lock().master_open)
            })
            .collect()
    }

    pub fn stat(&self, index: u32) -> Option<Stat> {
        self.get(index).map(|p| p.slave_stat())
    }
}

pub struct PtyMaster {
    pub pty: Arc<Pty>,
}

pub struct PtySlave {
    pub pty: Arc<Pty>,
}

impl Drop for PtyMaster {
    fn drop(&mut self) {
        self.pty.st.lock().master_open = false;
        self.pty.changed();
    }
}

impl Drop for PtySlave {
    fn drop(&mut self) {
        self.pty.st.lock().slave_opens -= 1;
        self.pty.changed();
    }
}

/// A pty ioctl on either side (`master`): the caller's (job control,
/// controlling terminal), else the terminal's own.
fn ioctl(
    cx: &mut crate::kernel::Ctx<'_, '_>,
    pty: &Arc<Pty>,
    master: bool,
    cmd: u64,
    arg: u64,
) -> KResult<u64> {
    match crate::kernel::jobctl::ioctl(cx, pty, master, cmd, arg) {
        Some(r) => r,
        None => common_ioctl(pty, cmd, arg, &cx.mm, master),
    }
}

/// FIONREAD/TIOCOUTQ and the ioctls both sides share that need no caller.
fn common_ioctl(pty: &Pty, cmd: u64, arg: u64, mm: &crate::mm::Mm, master: bool) -> KResult<u64> {
    const TCGETS2: u64 = 0x802c_542a;
    const TCSETS2: u64 = 0x402c_542b;
    const TCSETSW2: u64 = 0x402c_542c;
    const TCSETSF2: u64 = 0x402c_542d;
    let c = cmd as libc::c_ulong;
    match c {
        libc::TCGETS => crate::mm::write_obj(mm, arg, &pty.termios())?,
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
            let t: Termios = crate::mm::read_obj(mm, arg)?;
            pty.set_termios(t, c == libc::TCSETSF);
        }
        _ if cmd == TCGETS2 => {
            let t = pty.termios();
            let mut b = [0u8; 44];
            // SAFETY: Termios is 36 bytes of plain data.
            b[..36].copy_from_slice(unsafe {
                std::slice::from_raw_parts((&t as *const Termios).cast::<u8>(), 36)
            });
            b[36..40].copy_from_slice(&38400u32.to_ne_bytes());
            b[40..44].copy_from_slice(&38400u32.to_ne_bytes());
            mm.write(arg, &b)?;
        }
        _ if cmd == TCSETS2 || cmd == TCSETSW2 || cmd == TCSETSF2 => {
            let t: Termios = crate::mm::read_obj(mm, arg)?;
            pty.set_termios(t, cmd == TCSETSF2);
        }
        libc::TIOCGWINSZ => crate::mm::write_obj(mm, arg, &pty.winsize())?,
        libc::FIONREAD => {
            let n = crate::num::saturating_i32(if master {
                pty.output_len()
            } else {
                pty.input_len()
            });
            crate::mm::write_obj(mm, arg, &n)?;
        }
        libc::TIOCOUTQ => {
            let n = crate::num::saturating_i32(if master { 0 } else { pty.output_len() });
            crate::mm::write_obj(mm, arg, &n)?;
        }
        libc::TCFLSH => pty.flush(arg)?,
        libc::TCXONC => pty.flow(arg)?,
        libc::TCSBRK | libc::TCSBRKP | libc::TIOCSBRK | libc::TIOCCBRK => {}
        libc::TIOCGPTN if master => crate::mm::write_obj(mm, arg, &pty.index)?,
        libc::TIOCSPTLCK if master => {
            let v: i32 = crate::mm::read_obj(mm, arg)?;
            pty.set_locked(v != 0);
        }
        libc::TIOCGPTLCK if master => crate::mm::write_obj(mm, arg, &i32::from(pty.locked()))?,
        libc::TIOCEXCL | libc::TIOCNXCL => {}
        _ => return Err(Errno::ENOTTY),
    }
    Ok(0)
}

impl FileOps for PtyMaster {
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        let mut s = self.pty.st.lock();
        if s.ld.output.is_empty() {
            return if s.slave_ever && s.slave_opens == 0 {
                Err(Errno::EIO)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = buf.len().min(s.ld.output.len());
        for (d, b) in buf.iter_mut().zip(s.ld.output.drain(..n)) {
            *d = b;
        }
        drop(s);
        self.pty.changed();
        Ok(n)
    }

    fn write(&self, _f: &File, buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        match self.pty.type_in(buf) {
            0 if !buf.is_empty() => Err(Errno::EAGAIN),
            n => Ok(n),
        }
    }

    fn poll(&self, events: i16) -> i16 {
        let s = self.pty.st.lock();
        let mut r = 0;
        if !s.ld.output.is_empty() {
            r |= libc::POLLIN;
        }
        if s.ld.ready.len() + s.ld.line.len() < BUF_CAP {
            r |= libc::POLLOUT;
        }
        if s.slave_ever && s.slave_opens == 0 {
            r |= libc::POLLHUP;
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }

    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.pty.wq.clone(), ev)])
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            rdev: (5 << 8) | 2,
            ..stat_of(libc::S_IFCHR | 0o666, 2, DEVPTS_DEV, 0)
        })
    }

    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        ioctl(cx, &self.pty, true, cmd, arg)
    }

    fn after_write(&self, cx: &mut crate::kernel::Ctx<'_, '_>) {
        // Signal characters typed reach the foreground group.
        self.pty.raise_signals(&mut cx.st);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for PtySlave {
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        let mut s = self.pty.st.lock();
        let r = s.ld.read(buf);
        if r == Err(Errno::EAGAIN) && !s.master_open {
            return Ok(0);
        }
        drop(s);
        if r.is_ok() {
            self.pty.changed();
        }
        r
    }

    fn write(&self, _f: &File, buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        let mut s = self.pty.st.lock();
        if !s.master_open {
            return Err(Errno::EIO);
        }
        if s.ld.stopped || s.ld.output.len() >= BUF_CAP {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(BUF_CAP - s.ld.output.len());
        for &c in &buf[..n] {
            s.ld.put_output(c);
        }
        drop(s);
        self.pty.changed();
        Ok(n)
    }

    fn poll(&self, events: i16) -> i16 {
        let s = self.pty.st.lock();
        let mut r = 0;
        if s.ld.readable().is_some() {
            r |= libc::POLLIN;
        }
        if !s.ld.stopped && s.ld.output.len() < BUF_CAP {
            r |= libc::POLLOUT;
        }
        if !s.master_open {
            r |= libc::POLLHUP | libc::POLLIN;
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }

    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.pty.wq.clone(), ev)])
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(self.pty.slave_stat())
    }

    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        ioctl(cx, &self.pty, false, cmd, arg)
    }

    fn before_transfer(&self, cx: &mut crate::kernel::Ctx<'_, '_>, write: bool) -> KResult<()> {
        crate::kernel::jobctl::before_transfer(cx, &self.pty, write)
    }

    fn opened(&self, cx: &mut crate::kernel::Ctx<'_, '_>, _f: &File, flags: i32) -> KResult<()> {
        crate::kernel::jobctl::opened(cx, &self.pty, flags);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The terminal behind a file, if it is either side of a pty.
pub fn pty_of(f: &File) -> Option<(&Arc<Pty>, bool)> {
    let a = f.ops.as_any();
    if let Some(m) = a.downcast_ref::<PtyMaster>() {
        return Some((&m.pty, true));
    }
    a.downcast_ref::<PtySlave>().map(|s| (&s.pty, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld() -> Ldisc {
        Ldisc {
            termios: Termios::slave_default(),
            winsize: [0; 4],
            ready: VecDeque::new(),
            consumed: 0,
            line_ends: VecDeque::new(),
            line: Vec::new(),
            output: VecDeque::new(),
            stopped: false,
        }
    }

    fn type_in(l: &mut Ldisc, s: &[u8]) -> Vec<i32> {
        s.iter().filter_map(|&c| l.input(c)).collect()
    }

    fn read_all(l: &mut Ldisc) -> KResult<Vec<u8>> {
        let mut b = [0u8; 256];
        let n = l.read(&mut b)?;
        Ok(b[..n].to_vec())
    }

    fn output(l: &mut Ldisc) -> Vec<u8> {
        l.output.drain(..).collect()
    }

    #[test]
    fn canonical_lines_are_read_whole_and_one_at_a_time() {
        let mut l = ld();
        type_in(&mut l, b"ab");
        assert_eq!(read_all(&mut l), Err(Errno::EAGAIN));
        // The terminal's Enter is CR: ICRNL makes it a newline.
        type_in(&mut l, b"c\rde\r");
        assert_eq!(read_all(&mut l).unwrap(), b"abc\n");
        assert_eq!(read_all(&mut l).unwrap(), b"de\n");
        assert_eq!(read_all(&mut l), Err(Errno::EAGAIN));
        // Echo with ONLCR.
        assert_eq!(output(&mut l), b"abc\r\nde\r\n");
    }

    #[test]
    fn erase_kill_and_word_erase_edit_the_line() {
        let mut l = ld();
        type_in(&mut l, b"helo\x7flo wor\x17world\n");
        assert_eq!(read_all(&mut l).unwrap(), b"hello world\n");
        type_in(&mut l, b"junk\x15ok\n");
        assert_eq!(read_all(&mut l).unwrap(), b"ok\n");
    }

    #[test]
    fn eof_at_line_start_reads_zero_and_mid_line_flushes() {
        let mut l = ld();
        type_in(&mut l, b"\x04");
        assert_eq!(read_all(&mut l).unwrap(), b"");
        type_in(&mut l, b"ab\x04");
        assert_eq!(read_all(&mut l).unwrap(), b"ab");
    }

    #[test]
    fn signal_characters_raise_and_flush() {
        let mut l = ld();
        assert_eq!(type_in(&mut l, b"abc\x03"), vec![libc::SIGINT]);
        type_in(&mut l, b"\n");
        // The partial line went with the interrupt.
        assert_eq!(read_all(&mut l).unwrap(), b"\n");
        assert_eq!(
            type_in(&mut l, b"\x1c\x1a"),
            vec![libc::SIGQUIT, libc::SIGTSTP]
        );
        // Echoed as ^C, ^\, ^Z.
        let out = output(&mut l);
        assert!(out.windows(2).any(|w| w == b"^C"));
        assert!(out.windows(2).any(|w| w == b"^Z"));
    }

    #[test]
    fn raw_mode_passes_bytes_through_with_vmin() {
        let mut l = ld();
        let mut t = l.termios;
        t.lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
        t.iflag &= !libc::ICRNL;
        t.cc[VMIN] = 1;
        l.set_termios(t);
        type_in(&mut l, b"a\r\x03");
        assert_eq!(read_all(&mut l).unwrap(), b"a\r\x03");
        assert_eq!(read_all(&mut l), Err(Errno::EAGAIN));
        // VMIN 0, VTIME 0: a read returns at once, empty.
        t.cc[VMIN] = 0;
        l.set_termios(t);
        assert_eq!(read_all(&mut l).unwrap(), b"");
        assert!(output(&mut l).is_empty());
    }

    #[test]
    fn leaving_canonical_mode_releases_the_edited_line() {
        let mut l = ld();
        type_in(&mut l, b"part");
        let mut t = l.termios;
        t.lflag &= !libc::ICANON;
        l.set_termios(t);
        assert_eq!(read_all(&mut l).unwrap(), b"part");
    }

    #[test]
    fn ixon_stop_and_start_are_swallowed() {
        let mut l = ld();
        type_in(&mut l, b"\x13");
        assert!(l.stopped);
        type_in(&mut l, b"\x11x\n");
        assert!(!l.stopped);
        assert_eq!(read_all(&mut l).unwrap(), b"x\n");
    }
}
