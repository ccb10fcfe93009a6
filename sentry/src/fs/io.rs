//! Reading and writing an open file for the calling task: the
//! application's buffer, checked as Linux checks it; waiting while the
//! file is not ready; and what Linux does as a consequence of the call
//! (job control through the file's `before_transfer`, SIGPIPE, inotify's
//! IN_ACCESS and IN_MODIFY). The syscall layer decodes registers into a
//! `UserBuf` and calls `read` or `write`, once per call.

use super::file::File;
use super::inotify::{IN_ACCESS, IN_MODIFY};
use crate::errno::{Errno, KResult};
use crate::kernel::signal::{self as ksig, SigInfo};
use crate::kernel::Ctx;
use crate::mm::{Mm, TASK_SIZE};
use crate::num::usize_of;
use std::sync::Arc;

/// Most one call moves (Linux's MAX_RW_COUNT); longer requests are cut.
pub const MAX_RW: usize = 0x7fff_f000;

/// Most iovecs one call takes (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;

/// An application buffer as the registers give it.
#[derive(Clone, Copy, Debug)]
pub enum UserBuf {
    /// One buffer: address, length (read, write, pread64, pwrite64).
    One(u64, u64),
    /// An iovec array: address, count (readv and the rest).
    Vec(u64, u64),
}

/// A checked application buffer: its pieces, at most MAX_RW bytes in all.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Segs {
    pub list: Vec<(u64, usize)>,
    pub total: usize,
}

/// Linux's `access_ok`: the range lies in the user half, without wrapping.
fn access_ok(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
}

impl Segs {
    fn push(&mut self, addr: u64, len: u64) {
        let len = usize_of(len).min(MAX_RW - self.total);
        if len > 0 {
            self.list.push((addr, len));
            self.total += len;
        }
    }

    /// The part a copy could reach before it faults: whole pieces up to
    /// the first byte the application may not access (`write`: to write).
    pub fn accessible(&self, mm: &Mm, write: bool) -> Segs {
        let mut out = Segs::default();
        for &(addr, len) in &self.list {
            let n = mm.accessible(addr, len, write);
            if n > 0 {
                out.list.push((addr, n));
                out.total += n;
            }
            if n < len {
                break;
            }
        }
        out
    }

    /// The first `n` bytes of the pieces.
    pub fn prefix(&self, n: usize) -> Segs {
        let mut out = Segs::default();
        for &(addr, len) in &self.list {
            let take = len.min(n - out.total);
            if take == 0 {
                break;
            }
            out.list.push((addr, take));
            out.total += take;
        }
        out
    }

    /// The host memory behind the pieces, for I/O straight into (`into`)
    /// or out of application memory; EFAULT where a piece is not
    /// memory-file pages (a shared host-file mapping).
    pub fn host_iovecs(&self, mm: &Mm, into: bool) -> KResult<Vec<libc::iovec>> {
        let mut iov = Vec::new();
        for &(addr, len) in &self.list {
            if into {
                iov.extend(mm.iovecs(addr, len)?);
            } else {
                iov.extend(mm.iovecs_src(addr, len)?.ok_or(Errno::EFAULT)?);
            }
        }
        Ok(iov)
    }

    /// Writes `data` over the start of the pieces.
    pub fn fill(&self, mm: &Mm, mut data: &[u8]) -> KResult<()> {
        for &(addr, len) in &self.list {
            if data.is_empty() {
                break;
            }
            let n = len.min(data.len());
            mm.write(addr, &data[..n])?;
            data = &data[n..];
        }
        Ok(())
    }

    /// The bytes of the pieces.
    pub fn bytes(&self, mm: &Mm) -> KResult<Vec<u8>> {
        let mut data = Vec::with_capacity(self.total);
        for &(addr, len) in &self.list {
            data.extend(crate::mm::read_vec(mm, addr, len)?);
        }
        Ok(data)
    }
}

impl UserBuf {
    /// Checks the buffer as Linux does before any I/O: a single buffer
    /// must lie in user space (EFAULT); an iovec array has at most
    /// UIO_MAXIOV entries (EINVAL), must be readable (EFAULT), has no
    /// negative length (EINVAL) and no entry outside user space (EFAULT).
    /// What lies beyond MAX_RW in all is dropped.
    pub fn parse(self, mm: &Mm) -> KResult<Segs> {
        let mut segs = Segs::default();
        match self {
            UserBuf::One(addr, len) => {
                if !access_ok(addr, len) {
                    return Err(Errno::EFAULT);
                }
                segs.push(addr, len);
            }
            UserBuf::Vec(iovp, cnt) => {
                if cnt > UIO_MAXIOV {
                    return Err(Errno::EINVAL);
                }
                let raw = crate::mm::read_vec(mm, iovp, usize_of(cnt) * 16)?;
                let pairs: Vec<(u64, u64)> = raw
                    .chunks_exact(16)
                    .map(|v| {
                        let (b, l) = v.split_at(8);
                        let word = |s: &[u8]| u64::from_ne_bytes(s.try_into().unwrap_or_default());
                        (word(b), word(l))
                    })
                    .collect();
                // Every length is checked for sign before any address.
                if pairs.iter().any(|&(_, len)| crate::num::sbits(len) < 0) {
                    return Err(Errno::EINVAL);
                }
                for (addr, len) in pairs {
                    if !access_ok(addr, len) {
                        return Err(Errno::EFAULT);
                    }
                    segs.push(addr, len);
                }
            }
        }
        Ok(segs)
    }

    fn vectored(self) -> bool {
        matches!(self, UserBuf::Vec(..))
    }
}

/// Linux's `rw_verify_area` for an explicit offset: the end of the
/// transfer must stay a valid file position.
pub fn verify_area(off: Option<u64>, total: usize) -> KResult<()> {
    match off {
        Some(o) if i64::try_from(o).is_err() => Err(Errno::EINVAL),
        Some(o)
            if o.checked_add(total as u64)
                .is_none_or(|e| i64::try_from(e).is_err()) =>
        {
            Err(Errno::EINVAL)
        }
        _ => Ok(()),
    }
}

/// Options of one transfer.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    /// Do not block even on a blocking file (MSG_DONTWAIT, RWF_NOWAIT,
    /// SPLICE_F_NONBLOCK).
    pub nowait: bool,
    /// No SIGPIPE on a broken pipe or socket (MSG_NOSIGNAL).
    pub nosignal: bool,
}

/// Waits until `f` may be ready for `events` (poll bits), or a signal
/// arrives (ERESTARTSYS).
pub fn wait_ready(cx: &mut Ctx<'_, '_>, f: &File, events: i16) -> KResult<()> {
    wait_ready_until(cx, f, events, None)
}

/// `wait_ready` until `deadline` (a socket's SO_RCVTIMEO or SO_SNDTIMEO):
/// EAGAIN once it has passed.
pub fn wait_ready_until(
    cx: &mut Ctx<'_, '_>,
    f: &File,
    events: i16,
    deadline: Option<std::time::Instant>,
) -> KResult<()> {
    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
        return Err(Errno::EAGAIN);
    }
    let mut w = cx.wait_start();
    let want = events | libc::POLLERR | libc::POLLHUP;
    let host = f.ops.host_fd();
    {
        let c = cx.caller();
        for (q, ev) in f.ops.wait_queues(&c, u32::from(want.cast_unsigned())) {
            w.on(&q, ev);
        }
        // Looked at again once on the queues: a change in between is
        // either seen here or wakes the sleep.
        if host.is_none() && f.ops.poll_for(&c, want) != 0 {
            return Ok(());
        }
    }
    let r = match host {
        Some(h) => cx.sleep_host(&w, &[(h, events)], deadline).map(|_| ()),
        None => cx.sleep(&w, deadline).map(|_| ()),
    };
    // A socket timeout makes a signal EINTR even under SA_RESTART, as
    // Linux's sock_intr_errno.
    match r {
        Err(e) if e == Errno::ERESTARTSYS && deadline.is_some() => Err(Errno::EINTR),
        r => r,
    }
}

/// When a blocking transfer on `f` gives up: a socket's SO_RCVTIMEO (or
/// SO_SNDTIMEO for `send`) from now.
pub fn deadline_of(f: &File, send: bool) -> Option<std::time::Instant> {
    let t = f.ops.socket()?.timeout(send)?;
    Some(crate::kernel::time::after(t))
}

/// What read and write check before they move anything, in Linux's
/// order: the fd's mode, the buffer, the position, then job control.
/// None: a vectored call with nothing to move, which is 0 at once.
fn prepare(
    cx: &mut Ctx<'_, '_>,
    f: &File,
    buf: UserBuf,
    off: Option<u64>,
    write: bool,
) -> KResult<Option<Segs>> {
    let allowed = if write { f.writable() } else { f.readable() };
    if !allowed {
        return Err(Errno::EBADF);
    }
    let segs = buf.parse(&cx.mm)?;
    if segs.total == 0 && buf.vectored() {
        return Ok(None);
    }
    verify_area(off, segs.total)?;
    f.ops.before_transfer(cx, write)?;
    Ok(Some(segs))
}

/// read(2), readv(2) and their kin on `f` at `off` (None: the file's
/// position).
pub fn read(
    cx: &mut Ctx<'_, '_>,
    f: &Arc<File>,
    buf: UserBuf,
    off: Option<u64>,
    opts: Opts,
) -> KResult<usize> {
    let Some(segs) = prepare(cx, f, buf, off, false)? else {
        return Ok(0);
    };
    f.ops.refresh(cx, f, off)?;
    let n = match f.ops.read_by(cx, f, segs.total, opts.nowait) {
        Some(data) => {
            let data = data?;
            segs.fill(&cx.mm, &data)?;
            data.len()
        }
        None => {
            let deadline = deadline_of(f, false);
            loop {
                match read_now(cx, f, &segs, off) {
                    Err(e) if e == Errno::EAGAIN && !f.nonblocking() && !opts.nowait => {
                        wait_ready_until(cx, f, libc::POLLIN, deadline)?;
                    }
                    r => break r?,
                }
            }
        }
    };
    if n > 0 {
        f.note(IN_ACCESS);
    }
    Ok(n)
}

/// One read attempt into the part of `segs` the application can take.
fn read_now(cx: &Ctx<'_, '_>, f: &File, segs: &Segs, off: Option<u64>) -> KResult<usize> {
    if segs.total == 0 {
        // read(2) of nothing still asks a directory, which refuses.
        return if f.ops.stat().is_ok_and(|s| s.is_dir()) {
            Err(Errno::EISDIR)
        } else if f.ops.empty_read_asks() {
            f.ops.read(f, &mut [], off)
        } else {
            Ok(0)
        };
    }
    let dst = segs.accessible(&cx.mm, true);
    if dst.total < segs.total && f.ops.reads_value() {
        let mut tmp = vec![0u8; segs.total.min(64)];
        let n = f.ops.read(f, &mut tmp, off)?;
        segs.fill(&cx.mm, &tmp[..n])?;
        return Ok(n);
    }
    // A pipe copies its queue whole or faults (Linux copies each written
    // chunk in one go): more queued than the buffer can take is EFAULT.
    let pipe_faults =
        dst.total < segs.total && f.ops.pipe(false).is_some_and(|p| p.queued() > dst.total);
    if pipe_faults {
        return Err(Errno::EFAULT);
    }
    // So does a stream socket: nothing is taken when what is there does
    // not fit in the part of the buffer that can be written.
    if dst.total < segs.total {
        if let Some(s) = f.ops.socket() {
            if s.recv(segs.total, true)?.data.len() > dst.total {
                // A message is taken off the queue before its copy
                // faults, and lost with it (Linux's datagram receive).
                if s.kind() != libc::SOCK_STREAM {
                    let _ = s.recv(segs.total, false);
                }
                return Err(Errno::EFAULT);
            }
        }
    }
    if dst.total == 0 {
        return nothing_to_copy(f, off);
    }
    // Memory-file pages are read into directly; a shared host-file
    // mapping (no pages to point at) goes through a buffer.
    if let Ok(iov) = dst.host_iovecs(&cx.mm, true) {
        if let Some(r) = f.ops.read_iov(f, &iov, off) {
            return r;
        }
    }
    let mut tmp = vec![0u8; dst.total.min(1 << 20)];
    let n = f.ops.read(f, &mut tmp, off)?;
    dst.fill(&cx.mm, &tmp[..n])?;
    Ok(n)
}

/// A read into a buffer none of which can be written: Linux faults only
/// when there is something to copy, so an empty pipe still waits (or
/// ends) and a file at its end still says 0.
fn nothing_to_copy(f: &File, off: Option<u64>) -> KResult<usize> {
    if let Some(p) = f.ops.pipe(false) {
        return match (p.queued(), p.pipe().ends()) {
            (0, (_, 0)) => Ok(0),
            (0, _) => Err(Errno::EAGAIN),
            _ => Err(Errno::EFAULT),
        };
    }
    let st = f.ops.stat()?;
    if st.mode & libc::S_IFMT == libc::S_IFREG {
        let pos = match off {
            Some(o) => o,
            None => f.ops.seek(f, 0, libc::SEEK_CUR)?,
        };
        if pos >= crate::num::nonneg(st.size) {
            return Ok(0);
        }
    }
    Err(Errno::EFAULT)
}

/// write(2), writev(2) and their kin on `f` at `off` (None: the file's
/// position).
pub fn write(
    cx: &mut Ctx<'_, '_>,
    f: &Arc<File>,
    buf: UserBuf,
    off: Option<u64>,
    opts: Opts,
) -> KResult<usize> {
    let Some(mut segs) = prepare(cx, f, buf, off, true)? else {
        return Ok(0);
    };
    let room = fsize_room(cx, f, off, segs.total)?;
    if room < segs.total {
        segs = segs.prefix(room);
    }
    if f.ops.discards_writes() {
        return Ok(segs.total);
    }
    let r = if f.ops.caller_writes() {
        let pos = match off {
            Some(o) => o,
            None => *f.pos.lock(),
        };
        use super::file::OffsetWrite;
        let r = match f.ops.offset_write() {
            OffsetWrite::Ignore if pos != 0 => Ok(segs.total),
            OffsetWrite::Refuse if pos != 0 => Err(Errno::EINVAL),
            _ => write_by(cx, f, &segs),
        };
        // The position moves on as after any write (a second write to a
        // sysctl through the same fd is then past 0).
        if let (None, Ok(n)) = (off, &r) {
            *f.pos.lock() += *n as u64;
        }
        r
    } else {
        write_all(cx, f, &segs, off, opts)
    };
    f.ops.after_write(cx);
    if r.as_ref().is_ok_and(|&n| n > 0) {
        strip_privs(&cx.proc_ref().creds, f);
        f.note(IN_MODIFY);
    }
    r
}

/// The set-ID bits a write or truncate by `creds` takes from a file
/// with `st`: set-user-ID, and set-group-ID when group execute is set or
/// the writer is not in the file's group (Linux's should_remove_suid and
/// setattr_should_drop_sgid); none for a writer with CAP_FSETID over the
/// file, or for anything but a regular file.
pub fn privs_to_drop(creds: &crate::kernel::Creds, st: &crate::fs::Stat) -> u32 {
    use crate::kernel::creds::cap;
    if st.mode & libc::S_IFMT != libc::S_IFREG {
        return 0;
    }
    let in_group = st.gid == creds.fsgid || creds.groups.contains(&st.gid);
    let sgid_goes = st.mode & libc::S_ISGID != 0 && (st.mode & libc::S_IXGRP != 0 || !in_group);
    let kill = (st.mode & libc::S_ISUID) | if sgid_goes { libc::S_ISGID } else { 0 };
    if kill == 0 || creds.capable_wrt(cap::FSETID, st.uid, st.gid) {
        return 0;
    }
    kill
}

/// After a write by `creds`: the set-ID bits `privs_to_drop` names go
/// (Linux's file_remove_privs). Root skips the stat.
pub fn strip_privs(creds: &crate::kernel::Creds, f: &File) {
    if creds.capable(crate::kernel::creds::cap::FSETID) {
        return;
    }
    let Ok(st) = f.ops.stat() else {
        return;
    };
    let kill = privs_to_drop(creds, &st);
    if kill == 0 {
        return;
    }
    let attr = super::vfs::SetAttr {
        mode: Some(st.mode & 0o7777 & !kill),
        ..Default::default()
    };
    let _ = f.ops.setattr(&attr);
}

/// A write that acts as the writer: one page at most, all at once
/// (kernfs's atomic writes).
fn write_by(cx: &mut Ctx<'_, '_>, f: &Arc<File>, segs: &Segs) -> KResult<usize> {
    if segs.total > crate::num::usize_of(crate::memfile::PAGE) {
        // timens_offsets and its kin refuse it as any bad write.
        return Err(
            if f.ops.offset_write() == super::file::OffsetWrite::Refuse {
                Errno::EINVAL
            } else {
                Errno::E2BIG
            },
        );
    }
    let data = segs.bytes(&cx.mm)?;
    f.ops.write_by(cx, &data)
}

/// `iov` without its first `n` bytes.
fn skip_iovecs(iov: &[libc::iovec], mut n: usize) -> Vec<libc::iovec> {
    let mut out = Vec::with_capacity(iov.len());
    for v in iov {
        if n >= v.iov_len {
            n -= v.iov_len;
            continue;
        }
        out.push(libc::iovec {
            // The pointer stays within the piece it came from.
            iov_base: v.iov_base.cast::<u8>().wrapping_add(n).cast(),
            iov_len: v.iov_len - n,
        });
        n = 0;
    }
    out
}

/// A broken pipe: SIGPIPE to the writer unless told otherwise.
/// RLIMIT_FSIZE: a regular file may not reach past `end`'s limit:
/// EFBIG, and SIGXFSZ to the caller.
pub fn fsize_ok(cx: &mut Ctx<'_, '_>, end: u64) -> KResult<()> {
    if end <= cx.proc_ref().fsize_limit() {
        return Ok(());
    }
    let (tid, tgid) = (cx.tid, cx.tgid());
    ksig::send_to_thread(&mut cx.st, tid, SigInfo::user(libc::SIGXFSZ, 0, tgid, 0));
    Err(Errno::EFBIG)
}

/// How much of a write of `total` bytes to regular file `f` at `off`
/// (None: its position, or its end with O_APPEND) RLIMIT_FSIZE lets
/// through: all, a part up to the limit, or none (EFBIG, SIGXFSZ).
fn fsize_room(cx: &mut Ctx<'_, '_>, f: &File, off: Option<u64>, total: usize) -> KResult<usize> {
    let lim = cx.proc_ref().fsize_limit();
    if lim == u64::MAX {
        return Ok(total);
    }
    let st = f.ops.stat()?;
    if st.mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(total);
    }
    let pos = match off {
        Some(o) => o,
        None if f.flags() & libc::O_APPEND != 0 => crate::num::nonneg(st.size),
        None => f.ops.position(f),
    };
    if pos >= lim {
        fsize_ok(cx, pos.saturating_add(1))?;
    }
    Ok(total.min(usize::try_from(lim - pos).unwrap_or(usize::MAX)))
}

pub fn broken_pipe(cx: &mut Ctx<'_, '_>, opts: Opts) {
    if !opts.nosignal {
        let (tid, tgid) = (cx.tid, cx.tgid());
        ksig::send_to_thread(&mut cx.st, tid, SigInfo::user(libc::SIGPIPE, 0, tgid, 0));
    }
}

/// EPIPE from a write to `f`: SIGPIPE, unless `f` is a socket whose
/// kind never signals it (seqpacket, datagrams).
fn broken_pipe_of(cx: &mut Ctx<'_, '_>, f: &File, opts: Opts) {
    let quiet = f
        .ops
        .socket()
        .is_some_and(|s| s.kind() != libc::SOCK_STREAM);
    if !quiet {
        broken_pipe(cx, opts);
    }
}

fn write_all(
    cx: &mut Ctx<'_, '_>,
    f: &Arc<File>,
    segs: &Segs,
    off: Option<u64>,
    opts: Opts,
) -> KResult<usize> {
    if segs.total == 0 {
        return Ok(0);
    }
    let blocking = !f.nonblocking() && !opts.nowait;
    let deadline = deadline_of(f, true);
    let mut src = segs.accessible(&cx.mm, false);
    // A pipe takes whole pages of a buffer that faults part way (Linux
    // drops the page it could not fill).
    if src.total < segs.total && f.ops.pipe(true).is_some() {
        let whole = src.total - src.total % crate::num::usize_of(crate::memfile::PAGE);
        src = segs.prefix(whole);
    }
    // A socket copies a message, or a stream's data in chunks, whole: a
    // fault drops the chunk it is in (so a message or a short write
    // fails with EFAULT).
    if src.total < segs.total && f.ops.socket().is_some() {
        const CHUNK: usize = 64 << 10;
        src = segs.prefix(src.total - src.total % CHUNK);
    }
    if src.total == 0 {
        return Err(Errno::EFAULT);
    }
    // Files that take iovecs get the application's memory directly; the
    // host pointers are made again after every wait. A stream socket's
    // blocking write goes on after a short one.
    let stream = f
        .ops
        .socket()
        .is_some_and(|s| s.kind() == libc::SOCK_STREAM);
    let mut sent = 0usize;
    let partial = |done: usize, e: Errno| if done > 0 { Ok(done) } else { Err(e) };
    while let Ok(iov) = src.host_iovecs(&cx.mm, false) {
        match f.ops.write_iov(f, &skip_iovecs(&iov, sent), off) {
            None => break,
            Some(Ok(n)) if stream && blocking && n > 0 && sent + n < src.total => sent += n,
            Some(Ok(n)) => return Ok(sent + n),
            Some(Err(e)) if e == Errno::EAGAIN && blocking => {
                if let Err(e) = wait_ready_until(cx, f, libc::POLLOUT, deadline) {
                    return partial(sent, e);
                }
            }
            Some(Err(e)) if e == Errno::EPIPE => {
                broken_pipe_of(cx, f, opts);
                return partial(sent, e);
            }
            Some(Err(e)) => return partial(sent, e),
        }
    }
    let data = src.bytes(&cx.mm)?;
    let mut done = 0usize;
    loop {
        match f.ops.write(f, &data[done..], off.map(|o| o + done as u64)) {
            Ok(n) => {
                done += n;
                // A host file's short write is its answer; a host
                // socket's blocking write goes on, as a stream's does.
                let host_short = f.ops.host_fd().is_some() && f.ops.socket().is_none() && n > 0;
                if done >= data.len() || !blocking || host_short {
                    return Ok(done);
                }
            }
            Err(e) if e == Errno::EAGAIN && blocking => {
                if let Err(e) = wait_ready_until(cx, f, libc::POLLOUT, deadline) {
                    return partial(done, e);
                }
            }
            Err(e) if e == Errno::EPIPE => {
                broken_pipe_of(cx, f, opts);
                return partial(done, e);
            }
            Err(e) => return partial(done, e),
        }
    }
}

/// Where a transfer reads or writes: an explicit offset (given by the
/// application or taken from the file position), or the stream itself.
#[derive(Clone, Copy)]
pub enum Pos {
    At(u64),
    Stream,
}

impl Pos {
    fn off(self) -> Option<u64> {
        match self {
            Pos::At(o) => Some(o),
            Pos::Stream => None,
        }
    }
}

/// A chunk of a transfer between files.
pub const CHUNK: usize = 65536;

/// Copies up to `len` bytes from `inp` to `out`. Blocks on empty input or
/// full output unless `nonblock`; stops early once something was moved.
/// Returns the count and the final positions.
pub fn transfer(
    cx: &mut Ctx<'_, '_>,
    inp: &Arc<File>,
    mut ipos: Pos,
    out: &Arc<File>,
    mut opos: Pos,
    len: usize,
    nonblock: bool,
) -> KResult<(usize, Pos, Pos)> {
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0usize;
    while done < len {
        let want = (len - done).min(buf.len());
        let got = match inp.ops.pipe(false) {
            Some(p) => p.peek(&mut buf[..want]),
            None => inp.ops.read(inp, &mut buf[..want], ipos.off()),
        };
        let n = match got {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e == Errno::EAGAIN && done == 0 && !nonblock && !inp.nonblocking() => {
                wait_ready(cx, inp, libc::POLLIN)?;
                continue;
            }
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        let mut wrote = 0;
        while wrote < n {
            match out
                .ops
                .write(out, &buf[wrote..n], opos.off().map(|o| o + wrote as u64))
            {
                Ok(w) => wrote += w,
                Err(e)
                    if e == Errno::EAGAIN
                        && done + wrote == 0
                        && !nonblock
                        && !out.nonblocking() =>
                {
                    wait_ready(cx, out, libc::POLLOUT)?;
                }
                Err(e) if e == Errno::EPIPE && done + wrote == 0 => {
                    broken_pipe(cx, Opts::default());
                    return Err(e);
                }
                Err(e) if done + wrote == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if let Some(p) = inp.ops.pipe(false) {
            p.consume(wrote);
        } else if let Pos::At(o) = ipos {
            ipos = Pos::At(o + wrote as u64);
        }
        if let Pos::At(o) = opos {
            opos = Pos::At(o + wrote as u64);
        }
        done += wrote;
        if wrote < n {
            break;
        }
        if inp.ops.pipe(false).is_some()
            || !matches!(
                inp.ops.stat()?.mode & libc::S_IFMT,
                libc::S_IFREG | libc::S_IFBLK
            )
        {
            // Streams give what they have; do not wait for more.
            if nonblock || done > 0 && inp.ops.poll(libc::POLLIN) & libc::POLLIN == 0 {
                break;
            }
        }
    }
    if done > 0 {
        // As Linux's sendfile, splice and copy_file_range: an access of
        // the source, a modification of the destination (whose set-ID
        // bits a write takes).
        inp.note(IN_ACCESS);
        out.note(IN_MODIFY);
        strip_privs(&cx.proc_ref().creds, out);
    }
    Ok((done, ipos, opos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ok_is_linux_user_range() {
        assert!(access_ok(0, 0));
        assert!(access_ok(TASK_SIZE, 0));
        assert!(!access_ok(TASK_SIZE + 1, 0));
        assert!(access_ok(TASK_SIZE - 10, 10));
        assert!(!access_ok(TASK_SIZE - 10, 11));
        assert!(!access_ok(u64::MAX, 2));
    }

    #[test]
    fn verify_area_refuses_positions_past_the_end() {
        assert_eq!(verify_area(None, MAX_RW), Ok(()));
        assert_eq!(verify_area(Some(0), MAX_RW), Ok(()));
        assert_eq!(verify_area(Some(i64::MAX as u64 - 2), 2), Ok(()));
        assert_eq!(
            verify_area(Some(i64::MAX as u64 - 1), 2),
            Err(Errno::EINVAL)
        );
        assert_eq!(verify_area(Some(u64::MAX), 0), Err(Errno::EINVAL));
    }

    #[test]
    fn segments_cap_at_max_rw() {
        let mut s = Segs::default();
        s.push(0x1000, 0x7000_0000);
        s.push(0x2000, 0x7000_0000);
        s.push(0x3000, 5);
        assert_eq!(s.total, MAX_RW);
        assert_eq!(
            s.list,
            vec![(0x1000, 0x7000_0000), (0x2000, MAX_RW - 0x7000_0000)]
        );
    }
}
