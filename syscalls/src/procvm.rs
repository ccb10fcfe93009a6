//! process_vm_readv and process_vm_writev: copies between the caller's
//! memory and another process's, with ptrace's permission rule.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::fs::io::{Segs, UserBuf};
use sentry::memfile::PAGE;
use sentry::mm::Mm;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r("process_vm_readv", "iauaux", Full, process_vm_readv);
    r("process_vm_writev", "iauaux", Full, process_vm_writev);
}

pub(crate) const UIO_MAXIOV: u64 = 1024;

fn process_vm_readv(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    transfer(ctx, a, false)
}

fn process_vm_writev(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    transfer(ctx, a, true)
}

/// The remote iovecs: at most UIO_MAXIOV, no negative length (their
/// addresses are the target's, checked as the copy goes).
pub(crate) fn remote_iovecs(ctx: &Ctx<'_, '_>, addr: u64, cnt: u64) -> KResult<Vec<(u64, u64)>> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, addr, abi::usize_of(cnt) * 16)?;
    let v: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            let w = |s: &[u8]| u64::from_ne_bytes(s.try_into().unwrap_or_default());
            (w(&c[..8]), w(&c[8..]))
        })
        .collect();
    if v.iter().any(|&(_, l)| abi::long(l) < 0) {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

/// The target's memory, if the caller may reach it.
fn target_mm(ctx: &Ctx<'_, '_>, pid: i32) -> KResult<Arc<Mm>> {
    let t = ctx.st.tasks.get(&ctx.pid_arg(pid)).ok_or(Errno::ESRCH)?;
    let p = ctx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
    if p.exit.is_some() {
        return Err(Errno::ESRCH);
    }
    if !p.inspectable_by(ctx.proc_ref()) {
        return Err(Errno::EPERM);
    }
    Ok(t.mm.clone())
}

/// Where the next byte goes in (or comes from) the caller's pieces.
struct Cursor<'a> {
    segs: &'a Segs,
    i: usize,
    off: usize,
}

impl Cursor<'_> {
    fn room(&self) -> usize {
        self.segs.list[self.i..]
            .iter()
            .map(|&(_, l)| l)
            .sum::<usize>()
            - self.off
    }

    /// Moves `n` bytes between the caller's memory and `buf` (`into`:
    /// into the caller's memory).
    fn copy(&mut self, mm: &Mm, buf: &mut [u8], into: bool) -> KResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let (addr, len) = self.segs.list[self.i];
            let n = (len - self.off).min(buf.len() - done);
            let at = addr + self.off as u64;
            if into {
                mm.write(at, &buf[done..done + n])?;
            } else {
                mm.read(at, &mut buf[done..done + n])?;
            }
            done += n;
            self.off += n;
            if self.off == len {
                self.i += 1;
                self.off = 0;
            }
        }
        Ok(())
    }
}

fn transfer(ctx: &mut Ctx<'_, '_>, a: [u64; 6], write: bool) -> KResult<u64> {
    let pid = abi::int(a[0]);
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let local = UserBuf::Vec(a[1], a[2]).parse(&ctx.mm)?;
    let remote = remote_iovecs(ctx, a[3], a[4])?;
    if local.total == 0 || remote.iter().all(|&(_, l)| l == 0) {
        return Ok(0);
    }
    let them = target_mm(ctx, pid)?;
    let mut cur = Cursor {
        segs: &local,
        i: 0,
        off: 0,
    };
    let mut total = 0u64;
    let mut buf = vec![0u8; abi::usize_of(PAGE)];
    let mut fault = None;
    'all: for (mut addr, mut len) in remote {
        while len > 0 {
            let room = cur.room();
            if room == 0 {
                break 'all;
            }
            // A page of the target's at a time: a fault stops the copy
            // at the page before it.
            let to_page = PAGE - (addr & (PAGE - 1));
            let n = abi::usize_of(len.min(to_page)).min(room);
            let chunk = &mut buf[..n];
            let r = if write {
                cur.copy(&ctx.mm, chunk, false)
                    .and_then(|()| them.write(addr, chunk))
            } else {
                them.read(addr, chunk)
                    .and_then(|()| cur.copy(&ctx.mm, chunk, true))
            };
            if r.is_err() {
                fault = Some(Errno::EFAULT);
                break 'all;
            }
            total += n as u64;
            addr += n as u64;
            len -= n as u64;
        }
    }
    match fault {
        Some(e) if total == 0 => Err(e),
        _ => Ok(total),
    }
}
