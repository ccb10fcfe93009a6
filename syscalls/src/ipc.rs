//! System V IPC calls: shmget/shmat/shmdt/shmctl, semget/semop/
//! semtimedop/semctl and msgget/msgsnd/msgrcv/msgctl, on the objects of
//! `sentry::kernel::ipc`. The structures are the x86-64 kernel's
//! (`ipc64_perm`, `shmid64_ds`, `semid64_ds`, `msqid64_ds` and the info
//! ones from include/uapi), which linux-raw-sys does not carry.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::creds::cap;
use sentry::kernel::ipc::{
    msg::{self, Select},
    sem::{self, SemBuf},
    shm, Perm, IPC_PRIVATE, MAY_READ, MAY_WRITE,
};
use sentry::kernel::pidns::PidNs;
use sentry::kernel::waitq::EV_ALL;
use sentry::memfile::{page_up, PAGE};
use sentry::mm::{MapRequest, VmaName};
use sentry::{Ctx, Errno, KResult};

/// The caller's IPC namespace's objects (borrowing the kernel state
/// alone, as `ctx.st.ipc` would).
macro_rules! ipc {
    ($ctx:expr) => {{
        let ns = $ctx.proc_ref().ipc_ns;
        $ctx.st.ipc.of(ns)
    }};
}

pub fn register(r: &mut Reg<'_>) {
    r("shmget", "ixx", Full, shmget);
    r("shmat", "iax", Full, shmat);
    r("shmdt", "a", Full, shmdt);
    r("shmctl", "iia", Full, shmctl);
    r("semget", "iix", Full, semget);
    r("semop", "iau", Full, semop);
    r("semtimedop", "iaua", Full, semtimedop);
    r("semctl", "iiix", Full, semctl);
    r("msgget", "ix", Full, msgget);
    r("msgsnd", "iaux", Full, msgsnd);
    r("msgrcv", "iauix", Full, msgrcv);
    r("msgctl", "iia", Full, msgctl);
}

const IPC_RMID: i32 = 0;
const IPC_SET: i32 = 1;
const IPC_STAT: i32 = 2;
const IPC_INFO: i32 = 3;

const SHM_LOCK: i32 = 11;
const SHM_UNLOCK: i32 = 12;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
const SHM_HUGETLB: i32 = 0o4000;
const SHM_RDONLY: i32 = 0o10000;
const SHM_RND: i32 = 0o20000;
const SHM_REMAP: i32 = 0o40000;
const SHM_EXEC: i32 = 0o100000;

const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;

const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;
const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;
const IPC_NOWAIT: i32 = sentry::kernel::ipc::IPC_NOWAIT;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Ipc64Perm {
    key: i32,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    mode: u32,
    seq: u16,
    pad2: u16,
    pad3: u32,
    unused1: u64,
    unused2: u64,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct ShmidDs {
    perm: Ipc64Perm,
    segsz: u64,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
    nattch: u64,
    unused4: u64,
    unused5: u64,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct ShmInfo64 {
    shmmax: u64,
    shmmin: u64,
    shmmni: u64,
    shmseg: u64,
    shmall: u64,
    unused: [u64; 4],
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct ShmInfo {
    used_ids: i32,
    pad: i32,
    shm_tot: u64,
    shm_rss: u64,
    shm_swp: u64,
    swap_attempts: u64,
    swap_successes: u64,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct SemidDs {
    perm: Ipc64Perm,
    otime: i64,
    unused1: u64,
    ctime: i64,
    unused2: u64,
    nsems: u64,
    unused3: u64,
    unused4: u64,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct SemInfo {
    semmap: i32,
    semmni: i32,
    semmns: i32,
    semmnu: i32,
    semmsl: i32,
    semopm: i32,
    semume: i32,
    semusz: i32,
    semvmx: i32,
    semaem: i32,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct MsqidDs {
    perm: Ipc64Perm,
    stime: i64,
    rtime: i64,
    ctime: i64,
    cbytes: u64,
    qnum: u64,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
    unused4: u64,
    unused5: u64,
}

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct MsgInfo {
    msgpool: i32,
    msgmap: i32,
    msgmax: i32,
    msgmnb: i32,
    msgmni: i32,
    msgssz: i32,
    msgtql: i32,
    msgseg: u16,
    pad: u16,
}

const _: () = assert!(
    std::mem::size_of::<Ipc64Perm>() == 48
        && std::mem::size_of::<ShmidDs>() == 112
        && std::mem::size_of::<ShmInfo64>() == 72
        && std::mem::size_of::<ShmInfo>() == 48
        && std::mem::size_of::<SemidDs>() == 104
        && std::mem::size_of::<SemInfo>() == 40
        && std::mem::size_of::<MsqidDs>() == 120
        && std::mem::size_of::<MsgInfo>() == 32
        && std::mem::size_of::<SemBuf>() == 6
);
sentry::plain!(Ipc64Perm, ShmidDs, ShmInfo64, ShmInfo, SemidDs, SemInfo, MsqidDs, MsgInfo);

fn perm_abi(p: &Perm) -> Ipc64Perm {
    Ipc64Perm {
        key: p.key,
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: p.mode,
        seq: p.seq,
        ..Default::default()
    }
}

fn now(ctx: &Ctx<'_, '_>) -> i64 {
    ctx.k.clock.real_ns() / 1_000_000_000
}

fn creds(ctx: &Ctx<'_, '_>) -> sentry::kernel::Creds {
    ctx.proc_ref().creds.clone()
}

/// IPC_SET's new owner and mode, from the caller's `*id64_ds` (whose
/// first member is the perm).
fn read_set(ctx: &Ctx<'_, '_>, buf: u64) -> KResult<Ipc64Perm> {
    get(ctx, buf)
}

/// The common part of IPC_SET and IPC_RMID: only the owner, the creator
/// or CAP_SYS_ADMIN.
fn check_owner(p: &Perm, c: &sentry::kernel::Creds) -> KResult<()> {
    if p.owned_by(c) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// A sleep's outcome in a System V call: signals give EINTR (these
/// calls are never restarted), a timeout EAGAIN.
fn slept(r: KResult<bool>) -> KResult<()> {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err(Errno::EAGAIN),
        Err(_) => Err(Errno::EINTR),
    }
}

// ---- shared memory ----

fn sweep_shm(ctx: &mut Ctx<'_, '_>) {
    ipc!(ctx).shm.sweep(|p, s| s.destroyed(p.mode));
}

fn shmget(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (key, size, flags) = (abi::int(a[0]), a[1], abi::int(a[2]));
    if flags & SHM_HUGETLB != 0 {
        ctx.log_once("shmget SHM_HUGETLB (ordinary pages)");
    }
    sweep_shm(ctx);
    let (c, pid, now) = (creds(ctx), ctx.tgid(), now(ctx));
    let memfile = ctx.k.memfile.clone();
    let id = ipc!(ctx).shm.get_or_make(
        key,
        flags,
        &c,
        |s| {
            if size > s.size {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        },
        || shm::Segment::new(&memfile, size, now, pid),
    )?;
    Ok(abi::bits(i64::from(id)))
}

fn shmat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, mut addr, flags) = (abi::int(a[0]), a[1], abi::int(a[2]));
    if addr != 0 {
        if addr & (PAGE - 1) != 0 {
            if flags & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(PAGE - 1);
            if addr == 0 && flags & SHM_REMAP != 0 {
                return Err(Errno::EINVAL);
            }
        }
    } else if flags & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut prot, mut want) = if flags & SHM_RDONLY != 0 {
        (libc::PROT_READ, MAY_READ)
    } else {
        (libc::PROT_READ | libc::PROT_WRITE, MAY_READ | MAY_WRITE)
    };
    if flags & SHM_EXEC != 0 {
        prot |= libc::PROT_EXEC;
        want |= 0o1;
    }
    sweep_shm(ctx);
    let c = creds(ctx);
    let (p, seg) = ipc!(ctx).shm.get(id)?;
    if !p.allows(&c, want) {
        return Err(Errno::EACCES);
    }
    let (key, mem) = (p.key, seg.mem.clone());
    let len = page_up(seg.size);
    if addr != 0 {
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if flags & SHM_REMAP == 0
            && ctx
                .mm
                .regions()
                .iter()
                .any(|v| v.start < end && v.end > addr)
        {
            return Err(Errno::EINVAL);
        }
    }
    crate::mm::check_as(&ctx.mm, ctx.proc_ref().as_limit(), len)?;
    let mut req = MapRequest::anon(addr, len, prot);
    req.shared = true;
    req.fixed = addr != 0;
    req.maywrite = flags & SHM_RDONLY == 0;
    req.name = VmaName::Shm { key, id };
    req.shared_mem = Some((mem.clone(), mem.off));
    let at = ctx.mm.map(req)?;
    let (pid, now) = (ctx.tgid(), now(ctx));
    if let Ok((_, s)) = ipc!(ctx).shm.get_mut(id) {
        s.atime = now;
        s.lpid = pid;
    }
    ctx.flush_mm()?;
    Ok(at)
}

fn shmdt(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let addr = a[0];
    if addr & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let regions = ctx.mm.regions();
    // The attach made at `addr`: the first piece of a segment at or
    // above it whose place in the segment says the segment starts at
    // `addr` (pieces an munmap or mprotect left count, as on Linux).
    let first = regions.iter().find_map(|v| match (&v.name, &v.backing) {
        (VmaName::Shm { id, .. }, sentry::mm::Backing::Shared { mem, off })
            if v.start >= addr && off.checked_sub(mem.off) == Some(v.start - addr) =>
        {
            Some((*id, mem.clone()))
        }
        _ => None,
    });
    let (id, mem) = first.ok_or(Errno::EINVAL)?;
    let end = addr.saturating_add(mem.len);
    for v in regions.iter().filter(|v| v.start >= addr && v.start < end) {
        let same = matches!(&v.backing, sentry::mm::Backing::Shared { mem: m, off }
            if std::sync::Arc::ptr_eq(m, &mem) && *off - mem.off == v.start - addr);
        if same {
            ctx.mm.unmap(v.start, v.end - v.start)?;
        }
    }
    let (pid, now) = (ctx.tgid(), now(ctx));
    // The segment itself (the id may be another's in an IPC namespace
    // the caller has moved to since).
    if let Ok((_, s)) = ipc!(ctx).shm.get_mut(id) {
        if std::sync::Arc::ptr_eq(&s.mem, &mem) {
            s.dtime = now;
            s.lpid = pid;
        }
    }
    drop(mem);
    ctx.flush_mm()?;
    sweep_shm(ctx);
    Ok(0)
}

/// `ns`: the reader's PID namespace (the pids are its numbers).
fn shm_ds(p: &Perm, s: &shm::Segment, ns: &PidNs) -> ShmidDs {
    ShmidDs {
        perm: perm_abi(p),
        segsz: s.size,
        atime: s.atime,
        dtime: s.dtime,
        ctime: s.ctime,
        cpid: ns.vnr(s.cpid),
        lpid: ns.vnr(s.lpid),
        nattch: s.attaches(),
        ..Default::default()
    }
}

fn shmctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pidns = ctx.task_ref().pid_ns.clone();
    let (id, cmd, buf) = (abi::int(a[0]), abi::int(a[1]), a[2]);
    sweep_shm(ctx);
    let c = creds(ctx);
    let reg = &ctx.st.ipc.get(ipc_ns(ctx)).shm;
    let max_index = reg.max_index() as u64;
    match cmd {
        IPC_INFO => {
            let info = ShmInfo64 {
                shmmax: shm::SHMMAX,
                shmmin: shm::SHMMIN,
                shmmni: shm::SHMMNI as u64,
                shmseg: shm::SHMMNI as u64,
                shmall: shm::SHMALL,
                ..Default::default()
            };
            put(ctx, buf, &info)?;
            Ok(max_index)
        }
        SHM_INFO => {
            let pages: u64 = reg.iter().map(|(_, (_, s))| page_up(s.size) / PAGE).sum();
            let info = ShmInfo {
                used_ids: abi::int_len(reg.len()),
                shm_tot: pages,
                shm_rss: pages,
                ..Default::default()
            };
            put(ctx, buf, &info)?;
            Ok(max_index)
        }
        SHM_STAT | SHM_STAT_ANY | IPC_STAT => {
            let reader = (cmd != SHM_STAT_ANY).then_some(&c);
            let (got, (p, o)) = reg.stat(id, cmd != IPC_STAT, reader)?;
            let ds = shm_ds(p, o, &pidns);
            put(ctx, buf, &ds)?;
            Ok(if cmd == IPC_STAT {
                0
            } else {
                abi::bits(i64::from(got))
            })
        }
        IPC_SET => {
            let n = read_set(ctx, buf)?;
            let now = now(ctx);
            let (p, s) = ipc!(ctx).shm.get_mut(id)?;
            check_owner(p, &c)?;
            p.set(n.uid, n.gid, n.mode);
            s.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            let (p, s) = ipc!(ctx).shm.get_mut(id)?;
            check_owner(p, &c)?;
            p.mode |= shm::SHM_DEST;
            p.key = IPC_PRIVATE;
            if s.attaches() == 0 {
                ipc!(ctx).shm.remove(id);
            }
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let memlock = ctx.proc_ref().rlimits[libc::RLIMIT_MEMLOCK as usize].0;
            let (p, _) = ipc!(ctx).shm.get_mut(id)?;
            if !c.capable(cap::IPC_LOCK) {
                if c.euid != p.uid && c.euid != p.cuid {
                    return Err(Errno::EPERM);
                }
                if cmd == SHM_LOCK && memlock == 0 {
                    return Err(Errno::EPERM);
                }
            }
            if cmd == SHM_LOCK {
                p.mode |= shm::SHM_LOCKED;
            } else {
                p.mode &= !shm::SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- semaphores ----

fn semget(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (key, nsems, flags) = (abi::int(a[0]), abi::int(a[1]), abi::int(a[2]));
    let n = usize::try_from(nsems).map_err(|_| Errno::EINVAL)?;
    if n > sem::SEMMSL {
        return Err(Errno::EINVAL);
    }
    let (c, now) = (creds(ctx), now(ctx));
    let total: usize = ipc!(ctx).sem.iter().map(|(_, (_, s))| s.sems.len()).sum();
    let id = ipc!(ctx).sem.get_or_make(
        key,
        flags,
        &c,
        |s| {
            if n > s.sems.len() {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        },
        || {
            if n == 0 {
                return Err(Errno::EINVAL);
            }
            if total + n > sem::SEMMNS {
                return Err(Errno::ENOSPC);
            }
            Ok(sem::SemSet::new(n, now))
        },
    )?;
    Ok(abi::bits(i64::from(id)))
}

fn semop(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_semop(ctx, abi::int(a[0]), a[1], a[2], None)
}

fn semtimedop(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let timeout = if a[3] == 0 {
        None
    } else {
        Some(abi::timespec(ctx, a[3])?)
    };
    do_semop(ctx, abi::int(a[0]), a[1], a[2], timeout)
}

fn do_semop(
    ctx: &mut Ctx<'_, '_>,
    id: i32,
    sops: u64,
    nsops: u64,
    timeout: Option<std::time::Duration>,
) -> KResult<u64> {
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    if nsops > sem::SEMOPM as u64 {
        return Err(Errno::E2BIG);
    }
    let deadline = timeout.map(sentry::kernel::time::after);
    let bytes = sentry::mm::read_vec(&ctx.mm, sops, abi::size(nsops) * 6)?;
    let ops: Vec<SemBuf> = bytes
        .chunks_exact(6)
        .map(|b| SemBuf {
            num: u16::from_ne_bytes([b[0], b[1]]),
            op: i16::from_ne_bytes([b[2], b[3]]),
            flg: i16::from_ne_bytes([b[4], b[5]]),
        })
        .collect();
    let alter = ops.iter().any(|o| o.op != 0);
    let max = ops.iter().map(|o| o.num).max().unwrap_or(0);
    let c = creds(ctx);
    {
        let (p, s) = ipc!(ctx).sem.get(id)?;
        if usize::from(max) >= s.sems.len() {
            return Err(Errno::EFBIG);
        }
        if !p.allows(&c, if alter { MAY_WRITE } else { MAY_READ }) {
            return Err(Errno::EACCES);
        }
    }
    let undo = if ops.iter().any(|o| o.flg & sem::SEM_UNDO != 0) {
        let list = match &ctx.proc_ref().sem_undo {
            Some(l) => l.clone(),
            None => {
                let l = ipc!(ctx).new_undo_list();
                ctx.proc_().sem_undo = Some(l.clone());
                l
            }
        };
        Some(list.0)
    } else {
        None
    };
    let (tid, pid) = (ctx.tid, ctx.tgid());
    loop {
        let now = now(ctx);
        let set = match ipc!(ctx).sem.get_mut(id) {
            Ok((_, s)) => s,
            // Removed while this call slept.
            Err(_) => return Err(Errno::EIDRM),
        };
        let blocked = match set.apply(&ops, undo, pid, now)? {
            Ok(()) => return Ok(0),
            Err(b) => b,
        };
        // Every change of the set is made under the kernel lock, held
        // from the try above until the sleep: no wake-up is lost.
        set.waiting.push((tid, blocked.num, blocked.zero));
        let wq = set.wq.clone();
        let mut w = ctx.wait_start();
        w.on(&wq, EV_ALL);
        let r = ctx.sleep(&w, deadline);
        if let Ok((_, s)) = ipc!(ctx).sem.get_mut(id) {
            if let Some(i) = s.waiting.iter().position(|&(t, ..)| t == tid) {
                s.waiting.swap_remove(i);
            }
        }
        if let Err(e) = slept(r) {
            // A wake-up that raced the timeout still gets its try.
            if e == Errno::EAGAIN {
                if let Ok((_, s)) = ipc!(ctx).sem.get_mut(id) {
                    if let Ok(Ok(())) = s.apply(&ops, undo, pid, now) {
                        return Ok(0);
                    }
                }
            }
            return Err(e);
        }
    }
}

fn sem_ds(p: &Perm, s: &sem::SemSet) -> SemidDs {
    SemidDs {
        perm: perm_abi(p),
        otime: s.otime,
        ctime: s.ctime,
        nsems: s.sems.len() as u64,
        ..Default::default()
    }
}

fn semctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, num, cmd, arg) = (abi::int(a[0]), abi::int(a[1]), abi::int(a[2]), a[3]);
    let c = creds(ctx);
    let (now, pid) = (now(ctx), ctx.tgid());
    let reg = &ctx.st.ipc.get(ipc_ns(ctx)).sem;
    let max_index = reg.max_index() as u64;
    // The semaphore `num` of a set with `n` of them.
    let index = |n: usize| {
        usize::try_from(num)
            .ok()
            .filter(|&i| i < n)
            .ok_or(Errno::EINVAL)
    };
    match cmd {
        IPC_INFO | SEM_INFO => {
            let used: usize = reg.iter().map(|(_, (_, s))| s.sems.len()).sum();
            let mut info = SemInfo {
                semmap: abi::int_len(sem::SEMMNS),
                semmni: abi::int_len(sem::SEMMNI),
                semmns: abi::int_len(sem::SEMMNS),
                semmnu: abi::int_len(sem::SEMMNS),
                semmsl: abi::int_len(sem::SEMMSL),
                semopm: abi::int_len(sem::SEMOPM),
                semume: abi::int_len(sem::SEMOPM),
                semusz: 20,
                semvmx: sem::SEMVMX,
                semaem: sem::SEMAEM,
            };
            if cmd == SEM_INFO {
                info.semusz = abi::int_len(reg.len());
                info.semaem = abi::int_len(used);
            }
            put(ctx, arg, &info)?;
            Ok(max_index)
        }
        SEM_STAT | SEM_STAT_ANY | IPC_STAT => {
            let reader = (cmd != SEM_STAT_ANY).then_some(&c);
            let (got, (p, o)) = reg.stat(id, cmd != IPC_STAT, reader)?;
            let ds = sem_ds(p, o);
            put(ctx, arg, &ds)?;
            Ok(if cmd == IPC_STAT {
                0
            } else {
                abi::bits(i64::from(got))
            })
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            let (p, s) = reg.get(id)?;
            if !p.allows(&c, MAY_READ) {
                return Err(Errno::EACCES);
            }
            let i = index(s.sems.len())?;
            let n = u16::try_from(i).map_err(|_| Errno::EINVAL)?;
            Ok(match cmd {
                GETVAL => abi::bits(i64::from(s.sems[i].val)),
                GETPID => abi::bits(i64::from(ctx.vnr(s.sems[i].pid))),
                GETNCNT => s.waiting_on(n, false) as u64,
                _ => s.waiting_on(n, true) as u64,
            })
        }
        GETALL => {
            let (p, s) = reg.get(id)?;
            if !p.allows(&c, MAY_READ) {
                return Err(Errno::EACCES);
            }
            let vals: Vec<u8> = s
                .sems
                .iter()
                .flat_map(|x| u16::try_from(x.val).unwrap_or(0).to_ne_bytes())
                .collect();
            ctx.mm.write(arg, &vals)?;
            Ok(0)
        }
        SETVAL => {
            let val = abi::int(arg);
            if !(0..=sem::SEMVMX).contains(&val) {
                return Err(Errno::ERANGE);
            }
            let (p, s) = ipc!(ctx).sem.get_mut(id)?;
            let i = index(s.sems.len())?;
            if !p.allows(&c, MAY_WRITE) {
                return Err(Errno::EACCES);
            }
            s.set(Some(i), &[val], pid, now);
            Ok(0)
        }
        SETALL => {
            let n = {
                let (p, s) = reg.get(id)?;
                if !p.allows(&c, MAY_WRITE) {
                    return Err(Errno::EACCES);
                }
                s.sems.len()
            };
            let bytes = sentry::mm::read_vec(&ctx.mm, arg, n * 2)?;
            let vals: Vec<i32> = bytes
                .chunks_exact(2)
                .map(|b| i32::from(u16::from_ne_bytes([b[0], b[1]])))
                .collect();
            if vals.iter().any(|&v| v > sem::SEMVMX) {
                return Err(Errno::ERANGE);
            }
            let (_, s) = ipc!(ctx).sem.get_mut(id)?;
            s.set(None, &vals, pid, now);
            Ok(0)
        }
        IPC_SET => {
            let n = read_set(ctx, arg)?;
            let (p, s) = ipc!(ctx).sem.get_mut(id)?;
            check_owner(p, &c)?;
            p.set(n.uid, n.gid, n.mode);
            s.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            let (p, _) = ipc!(ctx).sem.get(id)?;
            check_owner(p, &c)?;
            if let Some((_, s)) = ipc!(ctx).sem.remove(id) {
                s.wq.notify(EV_ALL);
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- message queues ----

fn msgget(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (key, flags) = (abi::int(a[0]), abi::int(a[1]));
    let (c, now) = (creds(ctx), now(ctx));
    let id = ipc!(ctx)
        .msg
        .get_or_make(key, flags, &c, |_| Ok(()), || Ok(msg::Queue::new(now)))?;
    Ok(abi::bits(i64::from(id)))
}

fn msgsnd(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, msgp, size, flags) = (abi::int(a[0]), a[1], a[2], abi::int(a[3]));
    let mtype: i64 = get(ctx, msgp)?;
    if size > msg::MSGMAX as u64 || id < 0 || mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let data = sentry::mm::read_vec(&ctx.mm, msgp + 8, abi::size(size))?;
    let c = creds(ctx);
    let pid = ctx.tgid();
    {
        let (p, _) = ipc!(ctx).msg.get(id)?;
        if !p.allows(&c, MAY_WRITE) {
            return Err(Errno::EACCES);
        }
    }
    let mut data = Some(data);
    loop {
        let now = now(ctx);
        let q = match ipc!(ctx).msg.get_mut(id) {
            Ok((_, q)) => q,
            Err(_) => return Err(Errno::EIDRM),
        };
        let len = data.as_ref().map_or(0, Vec::len);
        if q.fits(len) {
            q.push(mtype, data.take().unwrap_or_default());
            q.stime = now;
            q.lspid = pid;
            q.wq.notify(EV_ALL);
            return Ok(0);
        }
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        let wq = q.wq.clone();
        let mut w = ctx.wait_start();
        w.on(&wq, EV_ALL);
        slept(ctx.sleep(&w, None))?;
    }
}

fn msgrcv(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, msgp, size, msgtyp, flags) = (
        abi::int(a[0]),
        a[1],
        abi::long(a[2]),
        abi::long(a[3]),
        abi::int(a[4]),
    );
    if size < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    let sel = if flags & MSG_COPY != 0 {
        if flags & IPC_NOWAIT == 0 || flags & MSG_EXCEPT != 0 {
            return Err(Errno::EINVAL);
        }
        Select::Nth(usize::try_from(msgtyp).map_err(|_| Errno::ENOMSG)?)
    } else {
        Select::of(msgtyp, flags & MSG_EXCEPT != 0)
    };
    let c = creds(ctx);
    let pid = ctx.tgid();
    {
        let (p, _) = ipc!(ctx).msg.get(id)?;
        if !p.allows(&c, MAY_READ) {
            return Err(Errno::EACCES);
        }
    }
    let size = size.cast_unsigned();
    loop {
        let now = now(ctx);
        let q = match ipc!(ctx).msg.get_mut(id) {
            Ok((_, q)) => q,
            Err(_) => return Err(Errno::EIDRM),
        };
        if let Some(i) = q.find(sel) {
            let len = q.msgs[i].1.len() as u64;
            if len > size && flags & MSG_NOERROR == 0 {
                return Err(Errno::E2BIG);
            }
            let (mtype, data) = if flags & MSG_COPY != 0 {
                q.msgs[i].clone()
            } else {
                q.rtime = now;
                q.lrpid = pid;
                q.wq.notify(EV_ALL);
                q.take(i).unwrap_or_default()
            };
            let n = data.len().min(abi::size(size));
            put(ctx, msgp, &mtype)?;
            ctx.mm.write(msgp + 8, &data[..n])?;
            return Ok(n as u64);
        }
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        let wq = q.wq.clone();
        let mut w = ctx.wait_start();
        w.on(&wq, EV_ALL);
        slept(ctx.sleep(&w, None))?;
    }
}

/// `ns`: the reader's PID namespace (the pids are its numbers).
fn msq_ds(p: &Perm, q: &msg::Queue, ns: &PidNs) -> MsqidDs {
    MsqidDs {
        perm: perm_abi(p),
        stime: q.stime,
        rtime: q.rtime,
        ctime: q.ctime,
        cbytes: q.cbytes,
        qnum: q.msgs.len() as u64,
        qbytes: q.qbytes,
        lspid: ns.vnr(q.lspid),
        lrpid: ns.vnr(q.lrpid),
        ..Default::default()
    }
}

fn msgctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pidns = ctx.task_ref().pid_ns.clone();
    let (id, cmd, buf) = (abi::int(a[0]), abi::int(a[1]), a[2]);
    let c = creds(ctx);
    let now = now(ctx);
    let reg = &ctx.st.ipc.get(ipc_ns(ctx)).msg;
    let max_index = reg.max_index() as u64;
    match cmd {
        IPC_INFO | MSG_INFO => {
            let pool = abi::int_len(msg::MSGMNI * abi::usize_of(msg::MSGMNB) / 1024);
            let mut info = MsgInfo {
                msgpool: pool,
                msgmap: abi::int_len(abi::usize_of(msg::MSGMNB)),
                msgmax: abi::int_len(msg::MSGMAX),
                msgmnb: abi::int_len(abi::usize_of(msg::MSGMNB)),
                msgmni: abi::int_len(msg::MSGMNI),
                msgssz: 16,
                msgtql: abi::int_len(abi::usize_of(msg::MSGMNB)),
                msgseg: 0xffff,
                pad: 0,
            };
            if cmd == MSG_INFO {
                info.msgpool = abi::int_len(reg.len());
                info.msgmap = abi::int_len(reg.iter().map(|(_, (_, q))| q.msgs.len()).sum());
                info.msgtql =
                    abi::int_len(reg.iter().map(|(_, (_, q))| abi::usize_of(q.cbytes)).sum());
            }
            put(ctx, buf, &info)?;
            Ok(max_index)
        }
        MSG_STAT | MSG_STAT_ANY | IPC_STAT => {
            let reader = (cmd != MSG_STAT_ANY).then_some(&c);
            let (got, (p, o)) = reg.stat(id, cmd != IPC_STAT, reader)?;
            let ds = msq_ds(p, o, &pidns);
            put(ctx, buf, &ds)?;
            Ok(if cmd == IPC_STAT {
                0
            } else {
                abi::bits(i64::from(got))
            })
        }
        IPC_SET => {
            let n: MsqidDs = get(ctx, buf)?;
            let (p, q) = ipc!(ctx).msg.get_mut(id)?;
            check_owner(p, &c)?;
            if n.qbytes > msg::MSGMNB && !c.capable(cap::SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            p.set(n.perm.uid, n.perm.gid, n.perm.mode);
            q.qbytes = n.qbytes;
            q.ctime = now;
            q.wq.notify(EV_ALL);
            Ok(0)
        }
        IPC_RMID => {
            let (p, _) = ipc!(ctx).msg.get(id)?;
            check_owner(p, &c)?;
            if let Some((_, q)) = ipc!(ctx).msg.remove(id) {
                q.wq.notify(EV_ALL);
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The caller's IPC namespace.
fn ipc_ns(ctx: &Ctx<'_, '_>) -> sentry::kernel::ipc::NsId {
    ctx.proc_ref().ipc_ns
}
