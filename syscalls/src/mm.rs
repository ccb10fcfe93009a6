//! Memory system calls.

use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::memfile::{page_up, PAGE};
use sentry::mm::{commits_fit, MapRequest, Mm, VmaName, TASK_SIZE};
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

/// /dev/zero's device number (1:5): mapping it gives anonymous memory.
const DEV_ZERO: u64 = (1 << 8) | 5;

pub fn register(r: &mut Reg<'_>) {
    r(
        "mmap",
        "xuxxdx",
        Partial("MAP_SHARED of synthetic (/proc, /dev) files are private copies"),
        mmap,
    );
    r("munmap", "xu", Full, munmap);
    r("mprotect", "xux", Full, mprotect);
    r("brk", "x", Full, brk);
    r(
        "mremap",
        "xuuxx",
        Partial("MREMAP_DONTUNMAP of private anonymous memory only"),
        mremap,
    );
    r("madvise", "xux", Full, madvise);
    r("process_madvise", "iauxx", Full, process_madvise);
    r("process_mrelease", "ix", Full, process_mrelease);
    r("mincore", "xua", Full, mincore);
    r(
        "msync",
        "xux",
        Partial("shared file mappings are copies: nothing to write back"),
        msync,
    );
    r("mlock", "xu", Full, mlock);
    r("mlock2", "xux", Full, mlock);
    r("munlock", "xu", Full, munlock);
    r("mlockall", "x", Full, lockall);
    r("munlockall", "", Full, lockall);
}

fn done(ctx: &mut Ctx<'_, '_>, v: u64) -> KResult<u64> {
    ctx.flush_mm()?;
    Ok(v)
}

/// mmap's checks of its arguments and the request they make, before any
/// file is looked at. MAP_HUGETLB is the caller's (it is logged).
fn map_request(mm: &Mm, lim: u64, a: [u64; 6]) -> KResult<MapRequest> {
    let (addr, len, prot, flags, off) = (
        a[0],
        a[1],
        crate::abi::int(a[2]),
        crate::abi::int(a[3]),
        a[5],
    );
    if len == 0 || off & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    // mmap ignores protection bits it does not know (mprotect refuses).
    let prot = prot & (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC);
    let ty = flags & 0xf;
    let anon = flags & libc::MAP_ANONYMOUS != 0;
    let shared = match ty {
        libc::MAP_SHARED => true,
        // MAP_SHARED_VALIDATE: a file mapping whose every flag is one
        // Linux knows (EOPNOTSUPP otherwise, MAP_SYNC included).
        3 if !anon => {
            const KNOWN: i32 = 0x01
                | 0x02
                | libc::MAP_FIXED
                | libc::MAP_ANONYMOUS
                | 0x800
                | 0x1000
                | 0x400_0000
                | libc::MAP_GROWSDOWN
                | libc::MAP_LOCKED
                | libc::MAP_NORESERVE
                | libc::MAP_POPULATE
                | libc::MAP_NONBLOCK
                | libc::MAP_STACK
                | libc::MAP_HUGETLB
                | libc::MAP_32BIT
                | libc::MAP_FIXED_NOREPLACE
                | (0x3f << 26);
            if flags & !KNOWN != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            true
        }
        libc::MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    // MAP_SYNC needs a DAX file, which the sandbox has none of.
    const MAP_SYNC: i32 = 0x8_0000;
    if flags & MAP_SYNC != 0 && !anon {
        return Err(Errno::EOPNOTSUPP);
    }
    if page_up(len) == 0 || page_up(len) < len {
        return Err(Errno::ENOMEM);
    }
    // No huge pages are set aside: anonymous ones are ENOMEM as on a
    // host with none; a file is not on hugetlbfs.
    if flags & libc::MAP_HUGETLB != 0 {
        return Err(if anon { Errno::ENOMEM } else { Errno::EINVAL });
    }
    check_as(mm, lim, len)?;
    // Heuristic overcommit: anonymous memory that would commit more than
    // there is fails here; a private writable file copy in `map_in`.
    let noreserve = flags & libc::MAP_NORESERVE != 0;
    if anon && !noreserve && (shared || prot & libc::PROT_WRITE != 0) && !commits_fit(len) {
        return Err(Errno::ENOMEM);
    }
    let mut req = MapRequest::anon(addr, len, prot);
    req.noreserve = noreserve;
    req.fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0;
    req.noreplace = flags & libc::MAP_FIXED_NOREPLACE != 0;
    req.growsdown = flags & libc::MAP_GROWSDOWN != 0;
    req.shared = shared;
    if flags & libc::MAP_32BIT != 0 && !req.fixed && addr == 0 {
        req.addr = 0x4000_0000;
    }
    Ok(req)
}

fn mmap(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = crate::abi::int(a[3]);
    if flags & libc::MAP_HUGETLB != 0 {
        ctx.log_once("mmap MAP_HUGETLB");
    }
    // Linux's order: the offset's alignment, then the fd, then the rest.
    if a[5] & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = if flags & libc::MAP_ANONYMOUS == 0 {
        Some(fdget(
            ctx,
            crate::abi::bits(i64::from(crate::abi::int(a[4]))),
        )?)
    } else {
        None
    };
    let lim = ctx.proc_ref().as_limit();
    let req = map_request(&ctx.mm, lim, a)?;
    if !req.shared && req.prot & libc::PROT_WRITE != 0 && flags & libc::MAP_GROWSDOWN == 0 {
        check_data(ctx, a[1])?;
    }
    // A locked mapping (MAP_LOCKED, or after mlockall(MCL_FUTURE)) counts
    // against RLIMIT_MEMLOCK: EAGAIN past it (EPERM with none).
    let lock = flags & libc::MAP_LOCKED != 0 || ctx.mm.locks_future();
    if lock {
        may_lock(ctx, page_up(a[1]))
            .map_err(|e| if e == Errno::ENOMEM { Errno::EAGAIN } else { e })?;
    }
    let r = map_in(ctx.k, &ctx.mm, req, file, a, true);
    if let (Ok(addr), true) = (&r, flags & libc::MAP_LOCKED != 0) {
        ctx.mm.set_locked(*addr, a[1], true)?;
    }
    // Prefaulting is best effort, as Linux's.
    if let (Ok(addr), true) = (&r, flags & libc::MAP_POPULATE != 0) {
        let _ = ctx.mm.populate(*addr, a[1], false);
    }
    ctx.flush_mm()?;
    r
}

/// A file mapping without the kernel lock (anonymous ones are
/// `unlocked`'s). The host applies it before the call returns, so a
/// mapping it refuses fails here as it does with the lock. None: the
/// locked handler's (a bad fd, a synthetic file whose copy reads kernel
/// state).
pub(crate) fn map_file_unlocked(
    cx: &sentry::kernel::Unlocked<'_>,
    a: [u64; 6],
) -> Option<KResult<u64>> {
    let flags = crate::abi::int(a[3]);
    if flags & (libc::MAP_ANONYMOUS | libc::MAP_HUGETLB | libc::MAP_LOCKED) != 0
        || cx.mm.locks_future()
    {
        return None;
    }
    let f = cx.files.lock().get(crate::abi::int(a[4])).ok()?;
    let r = map_request(cx.mm, cx.as_limit, a)
        .and_then(|req| map_in(cx.k, cx.mm, req, Some(f), a, false));
    match r {
        Err(e) if e == Errno::NEEDLOCK => None,
        r => {
            let flushed = cx.flush_mm();
            Some(flushed.and(r))
        }
    }
}

/// mmap(2) of `file` (None: anonymous) into `mm` as `req` asks. The
/// caller applies it on the host. Without the kernel lock (`locked`
/// false) a file that must be copied and whose reads need kernel state
/// answers NEEDLOCK before any change.
fn map_in(
    k: &sentry::Kernel,
    mm: &Mm,
    mut req: MapRequest,
    file: Option<std::sync::Arc<sentry::fs::file::File>>,
    a: [u64; 6],
    locked: bool,
) -> KResult<u64> {
    let (len, prot, flags, off) = (a[1], crate::abi::int(a[2]), crate::abi::int(a[3]), a[5]);
    if let Some(f) = &file {
        crate::fs::not_path(f)?;
    }
    let shared = flags & 0xf != libc::MAP_PRIVATE;
    // Anonymous memory's commit was checked by `map_request`.
    let from_file = file.is_some();
    let mut copy = None;
    if let Some(f) = file {
        let st = f.ops.stat()?;
        let fmt = st.mode & libc::S_IFMT;
        // Linux's file_mmap_ok: the mapping must end within the largest
        // offset the file can have (a regular file's is i64::MAX).
        let max = if fmt == libc::S_IFREG {
            i64::MAX.cast_unsigned()
        } else {
            u64::MAX
        };
        if off >= max || page_up(len) > max - off {
            return Err(Errno::EOVERFLOW);
        }
        if !f.readable() {
            return Err(Errno::EACCES);
        }
        if shared && prot & libc::PROT_WRITE != 0 && !f.writable() {
            return Err(Errno::EACCES);
        }
        let write_sealed = f.ops.seals().is_some_and(|s| {
            use sentry::fs::file::{F_SEAL_FUTURE_WRITE, F_SEAL_WRITE};
            s.load(std::sync::atomic::Ordering::Relaxed) & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0
        });
        if shared && prot & libc::PROT_WRITE != 0 && write_sealed {
            return Err(Errno::EPERM);
        }
        let noexec = f
            .place()
            .is_some_and(|p| p.mount.flags & libc::MS_NOEXEC != 0);
        if prot & libc::PROT_EXEC != 0 && noexec {
            return Err(Errno::EPERM);
        }
        if fmt == libc::S_IFCHR && st.rdev == DEV_ZERO {
            // A mapping of /dev/zero is anonymous memory.
        } else if fmt != libc::S_IFREG {
            return Err(Errno::ENODEV);
        } else {
            // Shared and read-only mappings map the file itself (host page
            // cache or the tmpfs file's memfd: coherent, no copy);
            // writable private ones are copies.
            let maywrite = !shared || (f.writable() && !write_sealed);
            let direct = prot & libc::PROT_WRITE == 0 || shared;
            if !direct || f.ops.mappable_fd().is_none() {
                // A copy: its read must not need the kernel lock here.
                if !locked && !f.ops.lockless() {
                    return Err(Errno::NEEDLOCK);
                }
            }
            req.name = VmaName::File {
                path: f.name.clone(),
                dev: st.dev,
                ino: st.ino,
                off,
            };
            req.maywrite = maywrite;
            req.mayexec = !noexec;
            req.source = Some(f.clone());
            let target = if shared {
                f.ops.shared_map(maywrite)
            } else {
                f.ops.mappable_fd().map(|fd| (fd, None))
            };
            match target {
                Some((fd, hold)) if direct => {
                    req.file = Some((fd, off));
                    req.file_hold = hold;
                }
                _ => {
                    if shared && prot & libc::PROT_WRITE != 0 {
                        k.log_once(
                            "writable MAP_SHARED mapping of a synthetic file (private copy)",
                        );
                    }
                    copy = Some((f, crate::abi::bits(st.size)));
                }
            }
        }
    }
    if from_file && !shared && prot & libc::PROT_WRITE != 0 && !req.noreserve && !commits_fit(len) {
        return Err(Errno::ENOMEM);
    }
    let at = mm.map(req)?;
    if let Some((f, size)) = copy {
        if off < size {
            let n = crate::abi::size((size - off).min(len));
            if let Err(e) = sentry::loader::elf::copy_in(mm, f.as_ref(), at, n, off) {
                let _ = mm.unmap(at, len);
                return Err(e);
            }
        }
    }
    Ok(at)
}

/// RLIMIT_DATA: private writable memory may not grow past the limit.
fn check_data(ctx: &Ctx<'_, '_>, grow: u64) -> KResult<()> {
    let lim = ctx.proc_ref().data_limit();
    if lim != u64::MAX && ctx.mm.data_size().saturating_add(page_up(grow)) > lim {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// RLIMIT_AS: the address space may not grow past the limit.
pub(crate) fn check_as(mm: &Mm, lim: u64, grow: u64) -> KResult<()> {
    if lim != u64::MAX && mm.total_size().saturating_add(page_up(grow)) > lim {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// The memory calls that need only the address space (and RLIMIT_AS), so
/// they also run without the kernel lock: anonymous mmap, munmap,
/// mprotect, brk, mremap and madvise. None: the call is not one of them
/// (a file mapping, advice that is logged), for the locked handler.
pub(crate) fn unlocked(mm: &Mm, lim: u64, nr: i64, a: [u64; 6]) -> Option<KResult<u64>> {
    // Locked memory counts against RLIMIT_MEMLOCK: the locked handler's
    // (asked only of mremap: the sum walks every mapping).
    let locking = || mm.locks_future() || mm.locked_bytes() > 0;
    Some(match nr {
        libc::SYS_mmap => {
            let flags = crate::abi::int(a[3]);
            if flags & libc::MAP_ANONYMOUS == 0
                || flags & (libc::MAP_HUGETLB | libc::MAP_LOCKED) != 0
                || mm.locks_future()
            {
                return None;
            }
            let r = map_request(mm, lim, a).and_then(|req| mm.map(req));
            if let (Ok(addr), true) = (&r, flags & libc::MAP_POPULATE != 0) {
                let _ = mm.populate(*addr, a[1], false);
            }
            r
        }
        libc::SYS_munmap => mm.unmap(a[0], a[1]).map(|()| 0),
        libc::SYS_mprotect => mprotect_in(mm, a),
        libc::SYS_brk => Ok(brk_in(mm, lim, a)),
        libc::SYS_mremap if a[3] & 4 == 0 && !locking() => mremap_in(mm, lim, a),
        // MADV_REMOVE punches files, which tell inotify: locked.
        libc::SYS_madvise if crate::abi::int(a[2]) == libc::MADV_REMOVE => return None,
        libc::SYS_madvise => return madvise_in(mm, a),
        _ => return None,
    })
}

fn munmap(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    ctx.mm.unmap(a[0], a[1])?;
    done(ctx, 0)
}

fn mprotect_in(mm: &Mm, a: [u64; 6]) -> KResult<u64> {
    let raw = crate::abi::int(a[2]);
    // PROT_SEM is accepted and means nothing here.
    let prot = raw & !(libc::PROT_GROWSDOWN | libc::PROT_GROWSUP | 0x8);
    if prot & !(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut addr, mut len) = (a[0], a[1]);
    // PROT_GROWSDOWN reaches down to the start of a grows-down mapping
    // (only such a one); x86 has no grows-up mappings.
    if raw & libc::PROT_GROWSUP != 0 {
        return Err(Errno::EINVAL);
    }
    if raw & libc::PROT_GROWSDOWN != 0 {
        let v = mm.vma_at(addr).ok_or(Errno::ENOMEM)?;
        if !v.growsdown || addr & (PAGE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        len = len.saturating_add(addr - v.start);
        addr = v.start;
    }
    mm.protect(addr, len, prot).map(|()| 0)
}

fn mprotect(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    mprotect_in(&ctx.mm, a)?;
    done(ctx, 0)
}

fn brk_in(mm: &Mm, lim: u64, a: [u64; 6]) -> u64 {
    let cur = mm.brk(0);
    if a[0] > cur && check_as(mm, lim, a[0] - cur).is_err() {
        return cur;
    }
    mm.brk(a[0])
}

fn brk(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let lim = ctx.proc_ref().as_limit();
    // A heap that would pass RLIMIT_DATA stays where it is.
    let cur = ctx.mm.brk(0);
    if a[0] > cur && check_data(ctx, a[0] - cur).is_err() {
        return done(ctx, cur);
    }
    let r = brk_in(&ctx.mm, lim, a);
    done(ctx, r)
}

fn mremap_in(mm: &Mm, lim: u64, a: [u64; 6]) -> KResult<u64> {
    let flags = a[3];
    if flags & !3 != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & 2 != 0 && flags & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    let fixed = (flags & 2 != 0).then_some(a[4]);
    if a[2] > a[1] {
        check_as(mm, lim, a[2] - a[1])?;
    }
    mm.remap(a[0], a[1], a[2], flags & 1 != 0, fixed)
}

const MREMAP_DONTUNMAP: u64 = 4;

/// mremap with MREMAP_DONTUNMAP (Linux 5.7): the pages move to the new
/// place and the old range stays mapped, empty, as private anonymous
/// memory reads after MADV_DONTNEED. It takes MREMAP_MAYMOVE and one
/// length; only private anonymous memory here (Linux 5.13 took other
/// mappings too: EINVAL, logged).
fn mremap_dontunmap(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // The new address is checked (page aligned) even when it is only a
    // hint, as Linux's check_mremap_params does.
    if a[3] & !7 != 0 || a[3] & 1 == 0 || a[1] != a[2] || a[4] & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let v = ctx.mm.vma_at(a[0]).ok_or(Errno::EFAULT)?;
    let anon = !v.shared
        && matches!(
            v.backing,
            sentry::mm::Backing::Private { .. } | sentry::mm::Backing::Reserved
        )
        && v.source.is_none();
    if !anon {
        ctx.log_once("mremap MREMAP_DONTUNMAP of a file or shared mapping");
        return Err(Errno::EINVAL);
    }
    let lim = ctx.proc_ref().as_limit();
    check_as(&ctx.mm, lim, page_up(a[1]))?;
    // It always moves: without MREMAP_FIXED, to a place mmap would pick
    // near the hint.
    let placed = a[3] & 2 == 0;
    let (flags, to) = if placed {
        let spot = ctx.mm.map(sentry::mm::MapRequest::anon(
            a[4],
            page_up(a[1]),
            libc::PROT_NONE,
        ))?;
        (3, spot)
    } else {
        (a[3] & 3, a[4])
    };
    let new = match mremap_in(&ctx.mm, lim, [a[0], a[1], a[2], flags, to, 0]) {
        Ok(n) => n,
        Err(e) => {
            // The place taken for it goes back.
            if placed {
                let _ = ctx.mm.unmap(to, page_up(a[1]));
            }
            return Err(e);
        }
    };
    let mut req = sentry::mm::MapRequest::anon(a[0], page_up(a[1]), v.prot);
    req.fixed = true;
    ctx.mm.map(req)?;
    done(ctx, new)
}

fn mremap(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[3] & MREMAP_DONTUNMAP != 0 {
        return mremap_dontunmap(ctx, a);
    }
    let lim = ctx.proc_ref().as_limit();
    // Growing a locked mapping locks more: RLIMIT_MEMLOCK (EAGAIN).
    if a[2] > a[1] && ctx.mm.vma_at(a[0]).is_some_and(|v| v.locked) {
        may_lock(ctx, page_up(a[2]) - page_up(a[1])).map_err(|e| {
            if e == Errno::ENOMEM {
                Errno::EAGAIN
            } else {
                e
            }
        })?;
    }
    let private_data = ctx
        .mm
        .vma_at(a[0])
        .is_some_and(|v| !v.shared && v.prot & libc::PROT_WRITE != 0 && !v.growsdown);
    if a[2] > a[1] && private_data {
        check_data(ctx, a[2] - a[1])?;
    }
    let r = mremap_in(&ctx.mm, lim, a)?;
    done(ctx, r)
}

/// madvise, or None for the fork advice (logged by the locked handler).
fn madvise_in(mm: &Mm, a: [u64; 6]) -> Option<KResult<u64>> {
    if a[0] & (PAGE - 1) != 0 {
        return Some(Err(Errno::EINVAL));
    }
    let r = match crate::abi::int(a[2]) {
        libc::MADV_DONTNEED => mm.discard(a[0], a[1]),
        libc::MADV_REMOVE => mm.remove(a[0], a[1]),
        // Lazy freeing is for private anonymous memory only.
        libc::MADV_FREE => mm
            .anonymous_only(a[0], a[1])
            .and_then(|()| mm.discard(a[0], a[1])),
        libc::MADV_NORMAL
        | libc::MADV_RANDOM
        | libc::MADV_SEQUENTIAL
        | libc::MADV_WILLNEED
        | libc::MADV_HUGEPAGE
        | libc::MADV_NOHUGEPAGE
        | libc::MADV_DONTDUMP
        | libc::MADV_DODUMP
        | libc::MADV_UNMERGEABLE
        | libc::MADV_COLD
        | libc::MADV_PAGEOUT => mm.advise(a[0], a[1]),
        // Nothing is merged, but the process is marked as having asked
        // (/proc/PID/ksm_stat).
        libc::MADV_MERGEABLE => mm.advise(a[0], a[1]).map(|()| {
            mm.ksm_mergeable
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }),
        libc::MADV_POPULATE_READ => mm.populate(a[0], a[1], false),
        libc::MADV_POPULATE_WRITE => mm.populate(a[0], a[1], true),
        adv @ (libc::MADV_DONTFORK
        | libc::MADV_DOFORK
        | libc::MADV_WIPEONFORK
        | libc::MADV_KEEPONFORK) => mm.fork_advice(a[0], a[1], adv),
        _ => Err(Errno::EINVAL),
    };
    Some(r.map(|()| 0))
}

fn madvise(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    madvise_in(&ctx.mm, a).unwrap_or_else(|| {
        ctx.log_once("madvise fork advice");
        Err(Errno::EINVAL)
    })
}

/// The process a pidfd names (its own or a thread's): EBADF for
/// another file, ESRCH once it has no memory (a zombie or gone).
fn pidfd_process(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<i32> {
    let (pid, _, thread) = crate::pidfd::pid_of(ctx, fd)?;
    let tgid = if thread {
        ctx.st.tasks.get(&pid).ok_or(Errno::ESRCH)?.tgid
    } else {
        pid
    };
    match ctx.st.procs.get(&tgid) {
        Some(p) if p.exit.is_none() => Ok(tgid),
        _ => Err(Errno::ESRCH),
    }
}

/// The memory of live process `tgid` (its first thread's).
fn process_mm(ctx: &Ctx<'_, '_>, tgid: i32) -> KResult<Arc<Mm>> {
    let p = ctx.st.procs.get(&tgid).ok_or(Errno::ESRCH)?;
    let leader = p.threads.first().ok_or(Errno::ESRCH)?;
    Ok(ctx.st.tasks.get(leader).ok_or(Errno::ESRCH)?.mm.clone())
}

/// Advice another process may be given: hints that change no contents.
fn remote_advice(advice: i32) -> bool {
    const MADV_COLLAPSE: i32 = 25;
    matches!(
        advice,
        libc::MADV_COLD | libc::MADV_PAGEOUT | libc::MADV_WILLNEED | MADV_COLLAPSE
    )
}

fn process_madvise(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if crate::abi::uint(a[4]) != 0 {
        return Err(Errno::EINVAL);
    }
    let vec = crate::procvm::remote_iovecs(ctx, a[1], a[2])?;
    let tgid = pidfd_process(ctx, a[0])?;
    let mm = process_mm(ctx, tgid)?;
    // Reading the target's layout is ptrace's read access (mm_access).
    if !ctx.st.procs[&tgid].inspectable_by(ctx.proc_ref()) {
        return Err(Errno::EACCES);
    }
    let advice = crate::abi::int(a[3]);
    if !Arc::ptr_eq(&mm, &ctx.mm) {
        if !remote_advice(advice) {
            return Err(Errno::EINVAL);
        }
        if !ctx
            .proc_ref()
            .creds
            .capable(sentry::kernel::creds::cap::SYS_NICE)
        {
            return Err(Errno::EPERM);
        }
    }
    // Each piece in turn; the bytes of those advised, or the first
    // piece's error.
    let mut done = 0u64;
    for (start, len) in vec {
        let r = madvise_in(&mm, [start, len, a[3], 0, 0, 0]).unwrap_or(Err(Errno::EINVAL));
        match r {
            Ok(_) => done = done.saturating_add(len),
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done.min(sentry::fs::io::MAX_RW as u64))
}

fn process_mrelease(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if crate::abi::uint(a[1]) != 0 {
        return Err(Errno::EINVAL);
    }
    let tgid = pidfd_process(ctx, a[0])?;
    let mm = process_mm(ctx, tgid)?;
    // Only a process on its way out whose memory no live process shares
    // (a CLONE_VM child's, say) is reaped; EINVAL for any other.
    // Dying: exiting already, or a SIGKILL is pending (Linux marks the
    // group's exit as the signal is sent).
    let dying = |p: &sentry::kernel::task::Process| {
        let kill = sentry::kernel::signal::bit(libc::SIGKILL);
        p.exit.is_some()
            || p.group_exit.is_some()
            || p.shared_pending.set & kill != 0
            || p.threads.iter().any(|t| {
                ctx.st
                    .tasks
                    .get(t)
                    .is_some_and(|t| t.pending.set & kill != 0)
            })
    };
    let shared_with_live = ctx.st.procs.values().any(|p| {
        !dying(p)
            && p.threads
                .first()
                .and_then(|t| ctx.st.tasks.get(t))
                .is_some_and(|t| Arc::ptr_eq(&t.mm, &mm))
    });
    if !dying(&ctx.st.procs[&tgid]) || shared_with_live {
        return Err(Errno::EINVAL);
    }
    mm.reap();
    Ok(0)
}

fn mincore(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    // In pieces, so a huge mapped range never costs a huge buffer.
    const CHUNK: u64 = 1 << 20;
    if a[0] > TASK_SIZE || a[1] > TASK_SIZE - a[0] {
        return Err(Errno::ENOMEM);
    }
    let end = page_up(a[1]);
    let mut done = 0u64;
    loop {
        let n = (end - done).min(CHUNK * PAGE);
        let v = ctx.mm.residency(a[0] + done, n)?;
        ctx.mm.write(a[2].wrapping_add(done / PAGE), &v)?;
        done += n;
        if done >= end {
            return Ok(0);
        }
    }
}

fn msync(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = crate::abi::int(a[2]);
    if a[0] & (PAGE - 1) != 0 || f & !(libc::MS_ASYNC | libc::MS_SYNC | libc::MS_INVALIDATE) != 0 {
        return Err(Errno::EINVAL);
    }
    if f & libc::MS_ASYNC != 0 && f & libc::MS_SYNC != 0 {
        return Err(Errno::EINVAL);
    }
    ctx.mm
        .sync_check(a[0], a[1], f & libc::MS_INVALIDATE != 0)?;
    Ok(0)
}

/// Linux's can_do_mlock and the RLIMIT_MEMLOCK check: locking `more`
/// bytes is EPERM with a zero limit and ENOMEM past it, unless the
/// caller has CAP_IPC_LOCK.
fn may_lock(ctx: &Ctx<'_, '_>, more: u64) -> KResult<()> {
    let p = ctx.proc_ref();
    if p.creds.capable(sentry::kernel::creds::cap::IPC_LOCK) {
        return Ok(());
    }
    let limit = p.rlimits[libc::RLIMIT_MEMLOCK as usize].0;
    if limit == 0 {
        return Err(Errno::EPERM);
    }
    if ctx.mm.locked_bytes().saturating_add(more) > limit {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

fn mlock(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // mlock2's flags: only MLOCK_ONFAULT exists.
    if ctx.regs.gp.orig_rax == libc::SYS_mlock2 as u64 && a[2] & !1 != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux page-aligns the length with wrap-around: one that wraps to
    // zero locks nothing and succeeds.
    if a[1].wrapping_add(a[0] & 0xfff).wrapping_add(0xfff) & !0xfff == 0 {
        return Ok(0);
    }
    let more = ctx.mm.unlocked_in(a[0], a[1]);
    may_lock(ctx, more)?;
    ctx.mm.set_locked(a[0], a[1], true)?;
    // Linux locks inaccessible pages but cannot fault them in: ENOMEM.
    if a[2] & 1 == 0 || ctx.regs.gp.orig_rax != libc::SYS_mlock2 as u64 {
        let end = a[0].saturating_add(a[1]);
        let none = ctx
            .mm
            .regions()
            .iter()
            .any(|v| v.start < end && a[0] < v.end && v.prot == libc::PROT_NONE);
        if none {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(0)
}
fn munlock(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    ctx.mm.set_locked(a[0], a[1], false)?;
    Ok(0)
}
fn lockall(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if ctx.regs.gp.orig_rax != libc::SYS_mlockall as u64 {
        ctx.mm.lock_all(false, true, false);
        return Ok(0);
    }
    // MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4 (only with one of the others).
    if a[0] & 3 == 0 || a[0] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let current = a[0] & 1 != 0;
    // All of the address space counts against the limit for MCL_CURRENT.
    let more = if current {
        ctx.mm.total_size().saturating_sub(ctx.mm.locked_bytes())
    } else {
        0
    };
    may_lock(ctx, more)?;
    ctx.mm.lock_all(true, current, a[0] & 2 != 0);
    Ok(0)
}
