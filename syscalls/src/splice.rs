//! Moving bytes between files without the application copying them:
//! sendfile, splice, tee, vmsplice and copy_file_range. The sentry copies
//! through a buffer of its own; pipe inputs are peeked and only what was
//! written is taken, so a full or broken output loses nothing.

use crate::abi::{get, put};
use crate::fs::{fdget, wait_ready};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::io::{transfer, Opts, Pos, UserBuf, CHUNK, MAX_RW};
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r("sendfile", "ddau", Full, sendfile);
    r("splice", "dadaux", Full, splice);
    r("tee", "ddux", Full, tee);
    r(
        "vmsplice",
        "daux",
        Partial("copies (SPLICE_F_GIFT is ignored)"),
        vmsplice,
    );
    r("copy_file_range", "dadaux", Full, copy_file_range);
}

const SPLICE_F_NONBLOCK: u64 = 2;
const SPLICE_FLAGS: u64 = 0xf;

fn file_type(f: &File) -> KResult<u32> {
    Ok(f.ops.stat()?.mode & libc::S_IFMT)
}

/// The application's offset through pointer `p` (0: none); negative is
/// EINVAL.
fn user_off(ctx: &Ctx<'_, '_>, p: u64) -> KResult<Option<u64>> {
    if p == 0 {
        return Ok(None);
    }
    let o: i64 = get(ctx, p)?;
    if o < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(crate::abi::bits(o)))
}

/// The file position as an explicit offset, so a short write can be
/// resumed exactly; Stream for files without one.
fn own_pos(f: &File) -> Pos {
    match f.ops.seek(f, 0, libc::SEEK_CUR) {
        Ok(p) => Pos::At(p),
        Err(_) => Pos::Stream,
    }
}

/// Puts a file position back after a transfer that used it explicitly.
fn set_own_pos(f: &File, before: Pos, after: Pos) {
    if let (Pos::At(_), Pos::At(p)) = (before, after) {
        let _ = f.ops.seek(f, crate::abi::long(p), libc::SEEK_SET);
    }
}

fn sendfile(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (out, inp) = (fdget(ctx, a[0])?, fdget(ctx, a[1])?);
    if !inp.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    if inp.ops.pipe(false).is_some() || file_type(&inp)? == libc::S_IFDIR {
        return Err(Errno::EINVAL);
    }
    if out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let given = user_off(ctx, a[2])?;
    let ipos = match given {
        Some(o) => Pos::At(o),
        None => own_pos(&inp),
    };
    let opos = own_pos(&out);
    let len = (crate::abi::size(a[3])).min(MAX_RW);
    let (n, ip, op) = transfer(ctx, &inp, ipos, &out, opos, len, false)?;
    match (given, ip) {
        (Some(_), Pos::At(o)) => put(ctx, a[2], &crate::abi::long(o))?,
        _ => set_own_pos(&inp, ipos, ip),
    }
    set_own_pos(&out, opos, op);
    Ok(n as u64)
}

fn splice(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (inp, out) = (fdget(ctx, a[0])?, fdget(ctx, a[2])?);
    let (len, flags) = ((crate::abi::size(a[4])).min(MAX_RW), a[5]);
    if flags & !SPLICE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if !inp.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    let (ip, op) = (inp.ops.pipe(false), out.ops.pipe(true));
    if ip.is_none() && op.is_none() {
        return Err(Errno::EINVAL);
    }
    if let (Some(x), Some(y)) = (ip, op) {
        if x.same_pipe(y) {
            return Err(Errno::EINVAL);
        }
    }
    if out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    // A directory has no splice_read.
    if ip.is_none() && file_type(&inp)? == libc::S_IFDIR {
        return Err(Errno::EINVAL);
    }
    let side = |ctx: &Ctx<'_, '_>, f: &Arc<File>, pipe: bool, p: u64| -> KResult<(Pos, bool)> {
        if pipe {
            return if p != 0 {
                Err(Errno::ESPIPE)
            } else {
                Ok((Pos::Stream, false))
            };
        }
        match user_off(ctx, p)? {
            Some(o) => {
                if !matches!(file_type(f)?, libc::S_IFREG | libc::S_IFBLK) {
                    return Err(Errno::ESPIPE);
                }
                Ok((Pos::At(o), true))
            }
            None => Ok((own_pos(f), false)),
        }
    };
    let (ipos, iptr) = side(ctx, &inp, ip.is_some(), a[1])?;
    let (opos, optr) = side(ctx, &out, op.is_some(), a[3])?;
    if len == 0 {
        return Ok(0);
    }
    let (n, ipos2, opos2) = transfer(
        ctx,
        &inp,
        ipos,
        &out,
        opos,
        len,
        flags & SPLICE_F_NONBLOCK != 0,
    )?;
    for (f, ptr, used, before, after) in [
        (&inp, a[1], iptr, ipos, ipos2),
        (&out, a[3], optr, opos, opos2),
    ] {
        match (used, after) {
            (true, Pos::At(o)) => put(ctx, ptr, &crate::abi::long(o))?,
            _ => set_own_pos(f, before, after),
        }
    }
    Ok(n as u64)
}

fn tee(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (inp, out) = (fdget(ctx, a[0])?, fdget(ctx, a[1])?);
    let (len, flags) = ((crate::abi::size(a[2])).min(MAX_RW), a[3]);
    if flags & !SPLICE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let (Some(ip), Some(op)) = (inp.ops.pipe(false), out.ops.pipe(true)) else {
        return Err(Errno::EINVAL);
    };
    if ip.is_write() || !op.is_write() {
        return Err(Errno::EBADF);
    }
    if ip.same_pipe(op) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let mut buf = vec![0u8; len.min(CHUNK)];
    loop {
        let n = match ip.peek(&mut buf) {
            Ok(n) => n,
            Err(e) if e == Errno::EAGAIN && !nonblock => {
                wait_ready(ctx, &inp, libc::POLLIN)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(0);
        }
        match out.ops.write(&out, &buf[..n], None) {
            Err(e) if e == Errno::EAGAIN && !nonblock => wait_ready(ctx, &out, libc::POLLOUT)?,
            r => return r.map(|w| w as u64),
        }
    }
}

fn vmsplice(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    let Some(p) = f.ops.pipe(f.writable()) else {
        return Err(Errno::EBADF);
    };
    if a[3] & !SPLICE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let opts = Opts {
        nowait: a[3] & SPLICE_F_NONBLOCK != 0,
        ..Opts::default()
    };
    let buf = UserBuf::Vec(a[1], a[2]);
    if p.is_write() {
        crate::fs::write_fd(ctx, a[0], buf, None, opts)
    } else {
        crate::fs::read_fd(ctx, a[0], buf, None, opts)
    }
}

fn copy_file_range(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let (inp, out) = (fdget(ctx, a[0])?, fdget(ctx, a[2])?);
    let (ist, ost) = (inp.ops.stat()?, out.ops.stat()?);
    let (it, ot) = (ist.mode & libc::S_IFMT, ost.mode & libc::S_IFMT);
    // Linux checks the file types before the access modes.
    if it == libc::S_IFDIR || ot == libc::S_IFDIR {
        return Err(Errno::EISDIR);
    }
    if it != libc::S_IFREG || ot != libc::S_IFREG {
        return Err(Errno::EINVAL);
    }
    if !inp.readable() || !out.writable() || out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    // Offsets as given, wrapping like the kernel's unsigned sum: a range
    // that wraps is EOVERFLOW before a negative start is EINVAL.
    let raw = |ctx: &Ctx<'_, '_>, p: u64| -> KResult<Option<u64>> {
        if p == 0 {
            return Ok(None);
        }
        get::<u64>(ctx, p).map(Some)
    };
    let (ri, ro) = (raw(ctx, a[1])?, raw(ctx, a[3])?);
    for o in [ri, ro].into_iter().flatten() {
        if o.wrapping_add(a[4]) < o {
            return Err(Errno::EOVERFLOW);
        }
    }
    let (igiven, ogiven) = (user_off(ctx, a[1])?, user_off(ctx, a[3])?);
    let ipos = igiven.map_or_else(|| own_pos(&inp), Pos::At);
    let opos = ogiven.map_or_else(|| own_pos(&out), Pos::At);
    let len = (crate::abi::size(a[4])).min(MAX_RW);
    if let (Pos::At(i), Pos::At(o)) = (ipos, opos) {
        let same = ist.dev == ost.dev && ist.ino == ost.ino;
        let overlap = i < o.saturating_add(len as u64) && o < i.saturating_add(len as u64);
        if same && overlap {
            return Err(Errno::EINVAL);
        }
    }
    if len == 0 {
        return Ok(0);
    }
    // Only within one filesystem (Linux 5.19 on; callers fall back to
    // reading and writing): two memory files (memfds) are one.
    let same_fs = match (inp.place(), out.place()) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a.mount.fs, &b.mount.fs),
        (None, None) => true,
        _ => false,
    };
    if !same_fs {
        return Err(Errno::EXDEV);
    }
    let (n, ip, op) = transfer(ctx, &inp, ipos, &out, opos, len, false)?;
    for (f, ptr, given, before, after) in [
        (&inp, a[1], igiven, ipos, ip),
        (&out, a[3], ogiven, opos, op),
    ] {
        match (given, after) {
            (Some(_), Pos::At(o)) => put(ctx, ptr, &crate::abi::long(o))?,
            _ => set_own_pos(f, before, after),
        }
    }
    Ok(n as u64)
}
