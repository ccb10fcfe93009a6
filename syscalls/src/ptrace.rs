//! ptrace(2): attaching (TRACEME, ATTACH, SEIZE), the requests a tracer
//! makes of a stopped tracee (memory, registers, siginfo, options), and
//! resuming it. The stops themselves are `sentry::kernel::ptrace`'s.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::kernel::ptrace::{self as kp, Mode, StopKind, Tracee};
use sentry::kernel::signal::{self, SigInfo};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("ptrace", "ixxx", Full, ptrace);
}

const TRACEME: i64 = 0;
const PEEKTEXT: i64 = 1;
const PEEKDATA: i64 = 2;
const PEEKUSR: i64 = 3;
const POKETEXT: i64 = 4;
const POKEDATA: i64 = 5;
const POKEUSR: i64 = 6;
const CONT: i64 = 7;
const KILL: i64 = 8;
const SINGLESTEP: i64 = 9;
const GETREGS: i64 = 12;
const SETREGS: i64 = 13;
const GETFPREGS: i64 = 14;
const SETFPREGS: i64 = 15;
const ATTACH: i64 = 16;
const DETACH: i64 = 17;
const SYSCALL: i64 = 24;
const ARCH_PRCTL: i64 = 30;
const SYSEMU: i64 = 31;
const SYSEMU_SINGLESTEP: i64 = 32;
const SETOPTIONS: i64 = 0x4200;
const GETEVENTMSG: i64 = 0x4201;
const GETSIGINFO: i64 = 0x4202;
const SETSIGINFO: i64 = 0x4203;
const GETREGSET: i64 = 0x4204;
const SETREGSET: i64 = 0x4205;
const SEIZE: i64 = 0x4206;
const INTERRUPT: i64 = 0x4207;
const LISTEN: i64 = 0x4208;
const PEEKSIGINFO: i64 = 0x4209;
const GETSIGMASK: i64 = 0x420a;
const SETSIGMASK: i64 = 0x420b;
const GET_SYSCALL_INFO: i64 = 0x420e;
const SECCOMP_GET_FILTER: i64 = 0x420c;
const SECCOMP_GET_METADATA: i64 = 0x420d;

const NT_PRSTATUS: u64 = 1;
const NT_PRFPREG: u64 = 2;
const NT_X86_XSTATE: u64 = 0x202;

/// struct user_fpregs_struct (the FXSAVE image).
const FPREGS_SIZE: usize = 512;
/// offsetof(struct user, u_debugreg) and sizeof(struct user).
const DEBUGREG_OFF: u64 = 848;
const USER_SIZE: u64 = 928;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// The user code and stack selectors (the only ones a tracer may set).
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;
/// EFLAGS bits a tracer may change (Linux's FLAG_MASK).
const FLAG_MASK: u64 = 0x0000_0000_0005_4dd5;

fn ptrace(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let req = abi::long(a[0]);
    let pid = ctx.pid_arg(abi::int(a[1]));
    let (addr, data) = (a[2], a[3]);
    match req {
        TRACEME => return traceme(ctx),
        ATTACH | SEIZE => return attach(ctx, pid, req == SEIZE, addr, data),
        _ => {}
    }
    // Requests on a tracee: it must be ours; most want it stopped.
    let tid = pid;
    let me = ctx.tgid();
    let t = ctx.st.tasks.get(&tid).ok_or(Errno::ESRCH)?;
    let tr = t
        .ptrace
        .as_ref()
        .filter(|tr| tr.traced_by(me, ctx.tid))
        .ok_or(Errno::ESRCH)?;
    match req {
        KILL => {
            let info = SigInfo::user(signal::SIGKILL, signal::SI_KERNEL, 0, 0);
            signal::send_to_thread(&mut ctx.st, tid, info);
            return Ok(0);
        }
        INTERRUPT => {
            if !tr.seized {
                return Err(Errno::EIO);
            }
            tracee(ctx, tid)?.interrupt = true;
            signal::kick(&ctx.st, tid);
            return Ok(0);
        }
        _ => {}
    }
    if !tr.stopped() {
        return Err(Errno::ESRCH);
    }
    match req {
        PEEKTEXT | PEEKDATA => {
            let mm = ctx.st.tasks[&tid].mm.clone();
            let mut w = [0u8; 8];
            mm.read_force(addr, &mut w).map_err(|_| Errno::EIO)?;
            abi::put(ctx, data, &u64::from_le_bytes(w))?;
            Ok(0)
        }
        POKETEXT | POKEDATA => {
            let mm = ctx.st.tasks[&tid].mm.clone();
            mm.write_force(addr, &data.to_le_bytes())
                .map_err(|_| Errno::EIO)?;
            Ok(0)
        }
        PEEKUSR => {
            let v = peek_user(tracee(ctx, tid)?, addr)?;
            abi::put(ctx, data, &v)?;
            Ok(0)
        }
        POKEUSR => poke_user(ctx, tid, addr, data).map(|()| 0),
        GETREGS => {
            let words = regs_words(&stopped_regs(ctx, tid)?.gp);
            abi::put(ctx, data, &words)?;
            Ok(0)
        }
        SETREGS => {
            let words: [u64; 27] = abi::get(ctx, data)?;
            set_regs(tracee(ctx, tid)?, &words)?;
            Ok(0)
        }
        GETFPREGS => {
            let fx = fx_image(stopped_regs(ctx, tid)?)?;
            write_bytes(ctx, data, &fx)?;
            Ok(0)
        }
        SETFPREGS => {
            let fx = sentry::mm::read_vec(&ctx.mm, data, FPREGS_SIZE)?;
            set_fp(tracee(ctx, tid)?, &fx, false)?;
            Ok(0)
        }
        GETREGSET => get_regset(ctx, tid, addr, data).map(|()| 0),
        SETREGSET => set_regset(ctx, tid, addr, data).map(|()| 0),
        ARCH_PRCTL => arch_prctl(ctx, tid, addr, data).map(|()| 0),
        SETOPTIONS => {
            let opts = u32::try_from(data).map_err(|_| Errno::EINVAL)?;
            if opts & !kp::O_MASK != 0 {
                return Err(Errno::EINVAL);
            }
            may_suspend_seccomp(ctx, opts)?;
            tracee(ctx, tid)?.options = opts;
            Ok(0)
        }
        GETEVENTMSG => {
            let msg = tracee(ctx, tid)?.event_msg;
            abi::put(ctx, data, &msg)?;
            Ok(0)
        }
        GETSIGINFO => {
            let info = tracee(ctx, tid)?.siginfo.ok_or(Errno::EINVAL)?;
            write_bytes(ctx, data, &info.to_bytes())?;
            Ok(0)
        }
        SETSIGINFO => {
            let b: [u8; 128] = abi::get(ctx, data)?;
            let tr = tracee(ctx, tid)?;
            if tr.siginfo.is_none() {
                return Err(Errno::EINVAL);
            }
            tr.siginfo = Some(SigInfo::from_bytes(&b));
            Ok(0)
        }
        GETSIGMASK | SETSIGMASK => {
            if addr != 8 {
                return Err(Errno::EINVAL);
            }
            let m = ctx.st.tasks[&tid].sig_mask.clone();
            if req == GETSIGMASK {
                abi::put(ctx, data, &m.get())?;
            } else {
                let v: u64 = abi::get(ctx, data)?;
                m.set(v & !signal::UNBLOCKABLE);
            }
            Ok(0)
        }
        GET_SYSCALL_INFO => syscall_info(ctx, tid, addr, data),
        SECCOMP_GET_FILTER | SECCOMP_GET_METADATA => seccomp_filter(ctx, tid, req, addr, data),
        CONT | SYSCALL | SINGLESTEP | SYSEMU | SYSEMU_SINGLESTEP => {
            let sig = resume_signal(data)?;
            let mode = match req {
                CONT => Mode::Cont,
                SYSCALL => Mode::Syscall,
                SINGLESTEP => Mode::Step,
                SYSEMU => Mode::Sysemu,
                _ => Mode::SysemuStep,
            };
            tracee(ctx, tid)?.resume = Some((mode, sig));
            wake(ctx, tid);
            Ok(0)
        }
        LISTEN => {
            let tr = tracee(ctx, tid)?;
            // Only a PTRACE_EVENT_STOP (what a seized tracee's group
            // stop is too) can be listened in.
            let event_stop = matches!(
                tr.stop,
                Some((StopKind::Event(kp::EVENT_STOP) | StopKind::Group, _))
            );
            if !tr.seized || !event_stop {
                return Err(Errno::EIO);
            }
            tr.listening = true;
            let mode = tr.mode;
            tr.resume = Some((mode, 0));
            wake(ctx, tid);
            Ok(0)
        }
        DETACH => {
            let sig = resume_signal(data)?;
            kp::detach(&mut ctx.st, tid, sig);
            Ok(0)
        }
        PEEKSIGINFO => peek_siginfo(ctx, tid, addr, data),
        _ => {
            ctx.log_once(&format!("ptrace request {req:#x}"));
            Err(Errno::EIO)
        }
    }
}

fn tracee<'a>(ctx: &'a mut Ctx<'_, '_>, tid: i32) -> KResult<&'a mut Tracee> {
    ctx.st
        .tasks
        .get_mut(&tid)
        .and_then(|t| t.ptrace.as_deref_mut())
        .ok_or(Errno::ESRCH)
}

fn stopped_regs<'a>(ctx: &'a mut Ctx<'_, '_>, tid: i32) -> KResult<&'a mut kp::Regs> {
    tracee(ctx, tid)?.regs.as_deref_mut().ok_or(Errno::ESRCH)
}

fn wake(ctx: &Ctx<'_, '_>, tid: i32) {
    sentry::kernel::task::wake_task(&ctx.st.tasks, tid);
}

fn resume_signal(data: u64) -> KResult<i32> {
    i32::try_from(data)
        .ok()
        .filter(|s| (0..=64).contains(s))
        .ok_or(Errno::EIO)
}

/// PTRACE_SECCOMP_GET_FILTER (`addr`: which filter, 0 the oldest; `data`:
/// where its instructions go, or 0 to ask how many) and
/// PTRACE_SECCOMP_GET_METADATA (`addr`: the size of `data`'s struct
/// seccomp_metadata, whose filter_off says which; its flags come back).
/// Only for a tracer with CAP_SYS_ADMIN not under seccomp itself, nor a
/// container's profile (EACCES); EINVAL when the tracee has no filters, ENOENT past them.
fn seccomp_filter(ctx: &mut Ctx<'_, '_>, tid: i32, req: i64, addr: u64, data: u64) -> KResult<u64> {
    use sentry::kernel::creds::cap;
    // A container's profile is a filter on every process.
    let me = ctx.task_ref();
    let filtered = me.seccomp.is_some() || me.seccomp_strict || ctx.k.app_seccomp.is_some();
    if !ctx.proc_ref().creds.capable(cap::SYS_ADMIN) || filtered {
        return Err(Errno::EACCES);
    }
    let off = if req == SECCOMP_GET_METADATA {
        // struct seccomp_metadata { u64 filter_off; u64 flags; }: at
        // least its first field.
        if addr < 8 {
            return Err(Errno::EINVAL);
        }
        abi::get::<u64>(ctx, data)?
    } else {
        addr
    };
    let chain = ctx.st.tasks[&tid].seccomp.clone().ok_or(Errno::EINVAL)?;
    let f = chain.nth(off).ok_or(Errno::ENOENT)?;
    if req == SECCOMP_GET_METADATA {
        const FLAG_LOG: u64 = 2;
        let meta = [off, if f.log { FLAG_LOG } else { 0 }];
        let bytes: Vec<u8> = meta.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let n = crate::abi::size(addr).min(bytes.len());
        write_bytes(ctx, data, &bytes[..n])?;
        return Ok(n as u64);
    }
    let insns = f.insns();
    if data != 0 {
        let bytes: Vec<u8> = insns
            .iter()
            .flat_map(|i| {
                let mut b = [0u8; 8];
                b[..2].copy_from_slice(&i.code.to_ne_bytes());
                b[2] = i.jt;
                b[3] = i.jf;
                b[4..].copy_from_slice(&i.k.to_ne_bytes());
                b
            })
            .collect();
        write_bytes(ctx, data, &bytes)?;
    }
    Ok(insns.len() as u64)
}

fn write_bytes(ctx: &Ctx<'_, '_>, addr: u64, b: &[u8]) -> KResult<()> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    ctx.mm.write(addr, b)
}

fn traceme(ctx: &mut Ctx<'_, '_>) -> KResult<u64> {
    let (tid, ppid) = (ctx.tid, ctx.proc_ref().ppid);
    if kp::traced(&ctx.st, tid) || ppid == 0 || !ctx.st.procs.contains_key(&ppid) {
        return Err(Errno::EPERM);
    }
    // The tracer is the parent thread that forked, while it lives.
    let by = Some(ctx.proc_ref().parent_tid)
        .filter(|t| ctx.st.tasks.get(t).is_some_and(|t| t.tgid == ppid));
    kp::attach(&mut ctx.st, tid, ppid, by, false, 0);
    Ok(0)
}

fn attach(ctx: &mut Ctx<'_, '_>, tid: i32, seize: bool, addr: u64, data: u64) -> KResult<u64> {
    let mut opts = 0;
    if seize {
        if addr != 0 {
            return Err(Errno::EIO);
        }
        opts = u32::try_from(data)
            .ok()
            .filter(|o| o & !kp::O_MASK == 0)
            .ok_or(Errno::EIO)?;
        may_suspend_seccomp(ctx, opts)?;
    }
    let t = ctx.st.tasks.get(&tid).ok_or(Errno::ESRCH)?;
    let me = ctx.tgid();
    let target = ctx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
    if t.tgid == me
        || kp::traced(&ctx.st, tid)
        || target.exit.is_some()
        || target.group_exit.is_some()
    {
        return Err(Errno::EPERM);
    }
    if !target.inspectable_by(ctx.proc_ref()) {
        return Err(Errno::EPERM);
    }
    let by = Some(ctx.tid);
    kp::attach(&mut ctx.st, tid, me, by, seize, opts);
    if !seize {
        let info = SigInfo::user(signal::SIGSTOP, signal::SI_KERNEL, 0, 0);
        signal::send_to_thread(&mut ctx.st, tid, info);
    }
    Ok(0)
}

/// PTRACE_O_SUSPEND_SECCOMP is for a tracer with CAP_SYS_ADMIN that is
/// under no seccomp filter itself (nor a container's profile, which is
/// one for every process), and not a suspended tracee.
fn may_suspend_seccomp(ctx: &Ctx<'_, '_>, opts: u32) -> KResult<()> {
    if opts & kp::O_SUSPEND_SECCOMP == 0 {
        return Ok(());
    }
    let t = ctx.task_ref();
    let filtered = t.seccomp.is_some() || t.seccomp_strict || ctx.k.app_seccomp.is_some();
    let suspended = t
        .ptrace
        .as_ref()
        .is_some_and(|tr| tr.has(kp::O_SUSPEND_SECCOMP));
    let admin = ctx
        .proc_ref()
        .creds
        .capable(sentry::kernel::creds::cap::SYS_ADMIN);
    if !admin || filtered || suspended {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// user_regs_struct's words in the kernel's order.
fn regs_words(g: &libc::user_regs_struct) -> [u64; 27] {
    [
        g.r15, g.r14, g.r13, g.r12, g.rbp, g.rbx, g.r11, g.r10, g.r9, g.r8, g.rax, g.rcx, g.rdx,
        g.rsi, g.rdi, g.orig_rax, g.rip, g.cs, g.eflags, g.rsp, g.ss, g.fs_base, g.gs_base, g.ds,
        g.es, g.fs, g.gs,
    ]
}

/// Sets one word of user_regs_struct as Linux's putreg allows: segment
/// selectors stay the 64-bit user ones (the platform runs nothing
/// else), the bases must be user addresses, and only the arithmetic and
/// trap flags change.
fn put_reg(g: &mut libc::user_regs_struct, i: usize, v: u64) -> KResult<()> {
    let slot = match i {
        0 => &mut g.r15,
        1 => &mut g.r14,
        2 => &mut g.r13,
        3 => &mut g.r12,
        4 => &mut g.rbp,
        5 => &mut g.rbx,
        6 => &mut g.r11,
        7 => &mut g.r10,
        8 => &mut g.r9,
        9 => &mut g.r8,
        10 => &mut g.rax,
        11 => &mut g.rcx,
        12 => &mut g.rdx,
        13 => &mut g.rsi,
        14 => &mut g.rdi,
        15 => &mut g.orig_rax,
        16 => &mut g.rip,
        17 => {
            return (v == USER_CS).then_some(()).ok_or(Errno::EIO);
        }
        18 => {
            g.eflags = (v & FLAG_MASK) | (g.eflags & !FLAG_MASK);
            return Ok(());
        }
        19 => &mut g.rsp,
        20 => {
            return (v == USER_DS).then_some(()).ok_or(Errno::EIO);
        }
        21 | 22 => {
            if v >= sentry::mm::TASK_SIZE {
                return Err(Errno::EIO);
            }
            if i == 21 {
                &mut g.fs_base
            } else {
                &mut g.gs_base
            }
        }
        // ds, es, fs, gs: the null selector or the user data one, as
        // they are.
        23..=26 => {
            let cur = regs_words(g)[i];
            return (v == cur).then_some(()).ok_or(Errno::EIO);
        }
        _ => return Err(Errno::EIO),
    };
    *slot = v;
    Ok(())
}

fn set_regs(tr: &mut Tracee, words: &[u64]) -> KResult<()> {
    let regs = tr.regs.as_deref_mut().ok_or(Errno::ESRCH)?;
    // All or nothing.
    let mut g = regs.gp;
    for (i, &w) in words.iter().enumerate() {
        put_reg(&mut g, i, w)?;
    }
    regs.gp = g;
    Ok(())
}

fn peek_user(tr: &Tracee, off: u64) -> KResult<u64> {
    if off & 7 != 0 || off >= USER_SIZE {
        return Err(Errno::EIO);
    }
    let regs = tr.regs.as_deref().ok_or(Errno::ESRCH)?;
    let i = sentry::num::usize_of(off / 8);
    if i < 27 {
        return Ok(regs_words(&regs.gp)[i]);
    }
    if (DEBUGREG_OFF..DEBUGREG_OFF + 64).contains(&off) {
        return Ok(tr.debugreg[sentry::num::usize_of((off - DEBUGREG_OFF) / 8)]);
    }
    Ok(0)
}

fn poke_user(ctx: &mut Ctx<'_, '_>, tid: i32, off: u64, v: u64) -> KResult<()> {
    if off & 7 != 0 || off >= USER_SIZE {
        return Err(Errno::EIO);
    }
    let i = sentry::num::usize_of(off / 8);
    if i < 27 {
        let regs = stopped_regs(ctx, tid)?;
        return put_reg(&mut regs.gp, i, v);
    }
    if !(DEBUGREG_OFF..DEBUGREG_OFF + 64).contains(&off) {
        return Err(Errno::EIO);
    }
    let n = sentry::num::usize_of((off - DEBUGREG_OFF) / 8);
    let end = ctx.st.tasks[&tid].mm.max_addr();
    let tr = tracee(ctx, tid)?;
    let mut dr = tr.debugreg;
    match n {
        0..=3 if v >= end => return Err(Errno::EINVAL),
        4 | 5 => return Err(Errno::EIO),
        7 => dr[7] = check_dr7(&dr, v)?,
        _ => dr[n] = v,
    }
    // A breakpoint already armed must stay valid at its new address.
    if n < 4 {
        check_dr7(&dr, dr[7])?;
    }
    tr.debugreg = dr;
    tr.debug_changed = true;
    tr.debug_used = true;
    Ok(())
}

/// DR7 as Linux's ptrace accepts it: each enabled breakpoint executes
/// (one byte) or watches writes or accesses of 1, 2, 4 or 8 bytes at an
/// address aligned to that length; I/O breakpoints are refused. Only the
/// enable, type and length bits are kept.
fn check_dr7(dr: &[u64; 8], v: u64) -> KResult<u64> {
    for (i, addr) in dr.iter().take(4).enumerate() {
        if (v >> (2 * i)) & 3 == 0 {
            continue;
        }
        let (kind, len) = ((v >> (16 + 4 * i)) & 3, (v >> (18 + 4 * i)) & 3);
        let bytes = match len {
            0 => 1,
            1 => 2,
            3 => 4,
            _ => 8,
        };
        let ok = match kind {
            0 => len == 0,
            1 | 3 => addr & (bytes - 1) == 0,
            _ => false,
        };
        if !ok {
            return Err(Errno::EINVAL);
        }
    }
    Ok(v & 0xffff_00ff)
}

/// The FXSAVE image of a stopped tracee's FPU state.
fn fx_image(regs: &kp::Regs) -> KResult<Vec<u8>> {
    if regs.fp_len < FPREGS_SIZE {
        return Err(Errno::EIO);
    }
    Ok(regs.fp[..FPREGS_SIZE].to_vec())
}

/// Replaces the tracee's FPU state with `b` (an FXSAVE image, or with
/// `xsave` a whole XSAVE area), refusing what the CPU would: reserved
/// MXCSR bits, features the host has not enabled, a compacted header.
fn set_fp(tr: &mut Tracee, b: &[u8], xsave: bool) -> KResult<()> {
    let regs = tr.regs.as_deref_mut().ok_or(Errno::ESRCH)?;
    if regs.fp_len < FPREGS_SIZE || b.len() < FPREGS_SIZE {
        return Err(Errno::EINVAL);
    }
    let mxcsr = u32::from_le_bytes(b[24..28].try_into().unwrap_or([0; 4]));
    if mxcsr & !0xffff != 0 {
        return Err(Errno::EINVAL);
    }
    if xsave {
        if b.len() < 576 || b.len() > regs.fp_len {
            return Err(Errno::EINVAL);
        }
        let word = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let (bv, comp) = (word(512), word(520));
        if bv & !kp::app_xfeatures() != 0 || comp != 0 || b[528..576].iter().any(|&x| x != 0) {
            return Err(Errno::EINVAL);
        }
        // The software-reserved bytes stay the kernel's.
        let keep = regs.fp[464..512].to_vec();
        regs.fp[..b.len()].copy_from_slice(b);
        regs.fp[464..512].copy_from_slice(&keep);
    } else {
        let keep = regs.fp[464..512].to_vec();
        regs.fp[..FPREGS_SIZE].copy_from_slice(&b[..FPREGS_SIZE]);
        regs.fp[464..512].copy_from_slice(&keep);
    }
    tr.fp_changed = true;
    Ok(())
}

fn regset_bytes(regs: &kp::Regs, kind: u64) -> KResult<Vec<u8>> {
    match kind {
        NT_PRSTATUS => Ok(regs_words(&regs.gp)
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()),
        NT_PRFPREG => fx_image(regs),
        NT_X86_XSTATE if regs.fp_len > FPREGS_SIZE => Ok(regs.fp[..regs.fp_len].to_vec()),
        _ => Err(Errno::EINVAL),
    }
}

/// ptrace_regset's checks: the type is an unsigned int (higher bits are
/// not looked at), and a length not a whole number of the set's 8-byte
/// elements is EINVAL.
fn regset_kind(kind: u64, len: u64) -> KResult<u64> {
    if !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    Ok(kind & 0xffff_ffff)
}

fn get_regset(ctx: &mut Ctx<'_, '_>, tid: i32, kind: u64, iov_addr: u64) -> KResult<()> {
    let iov: [u64; 2] = abi::get(ctx, iov_addr)?;
    let kind = regset_kind(kind, iov[1])?;
    let bytes = regset_bytes(stopped_regs(ctx, tid)?, kind)?;
    let n = bytes.len().min(sentry::num::usize_of(iov[1]));
    write_bytes(ctx, iov[0], &bytes[..n])?;
    abi::put(ctx, iov_addr + 8, &(n as u64))
}

fn set_regset(ctx: &mut Ctx<'_, '_>, tid: i32, kind: u64, iov_addr: u64) -> KResult<()> {
    let iov: [u64; 2] = abi::get(ctx, iov_addr)?;
    let kind = regset_kind(kind, iov[1])?;
    let cur = regset_bytes(stopped_regs(ctx, tid)?, kind)?;
    let n = cur.len().min(sentry::num::usize_of(iov[1]));
    let new = sentry::mm::read_vec(&ctx.mm, iov[0], n)?;
    let tr = tracee(ctx, tid)?;
    match kind {
        NT_PRSTATUS => {
            // A short buffer sets the leading registers only.
            let words: Vec<u64> = new
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            set_regs(tr, &words)?;
        }
        NT_PRFPREG if n == FPREGS_SIZE => set_fp(tr, &new, false)?,
        NT_X86_XSTATE if n == cur.len() => set_fp(tr, &new, true)?,
        _ => return Err(Errno::EINVAL),
    }
    abi::put(ctx, iov_addr + 8, &(n as u64))
}

fn arch_prctl(ctx: &mut Ctx<'_, '_>, tid: i32, addr: u64, code: u64) -> KResult<()> {
    const SET_GS: u64 = 0x1001;
    const SET_FS: u64 = 0x1002;
    const GET_FS: u64 = 0x1003;
    const GET_GS: u64 = 0x1004;
    let regs = stopped_regs(ctx, tid)?;
    match code {
        SET_FS | SET_GS => put_reg(&mut regs.gp, if code == SET_FS { 21 } else { 22 }, addr)
            .map_err(|_| Errno::EPERM),
        GET_FS | GET_GS => {
            let v = if code == GET_FS {
                regs.gp.fs_base
            } else {
                regs.gp.gs_base
            };
            abi::put(ctx, addr, &v)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// PTRACE_PEEKSIGINFO: copies the tracee's pending siginfos (its own
/// queue, or its process's with PTRACE_PEEKSIGINFO_SHARED) from
/// position `off`, at most `nr`, without dequeuing them; how many.
fn peek_siginfo(ctx: &mut Ctx<'_, '_>, tid: i32, args: u64, data: u64) -> KResult<u64> {
    const SHARED: u32 = 1;
    let a: [u64; 2] = abi::get(ctx, args)?;
    let (off, flags, nr) = (a[0], abi::uint(a[1]), abi::int(a[1] >> 32));
    if flags & !SHARED != 0 || nr < 0 {
        return Err(Errno::EINVAL);
    }
    let t = &ctx.st.tasks[&tid];
    let queue = if flags & SHARED != 0 {
        &ctx.st
            .procs
            .get(&t.tgid)
            .ok_or(Errno::ESRCH)?
            .shared_pending
    } else {
        &t.pending
    };
    let start = usize::try_from(off).unwrap_or(usize::MAX);
    let infos: Vec<SigInfo> = queue
        .infos
        .iter()
        .skip(start)
        .take(usize::try_from(nr).unwrap_or(0))
        .copied()
        .collect();
    let mut done = 0u64;
    for (i, info) in infos.iter().enumerate() {
        if write_bytes(ctx, data + (i as u64) * 128, &info.to_bytes()).is_err() {
            return if done == 0 {
                Err(Errno::EFAULT)
            } else {
                Ok(done)
            };
        }
        done += 1;
    }
    Ok(done)
}

/// PTRACE_GET_SYSCALL_INFO: struct ptrace_syscall_info for the stop the
/// tracee is in; the size of the whole answer.
fn syscall_info(ctx: &mut Ctx<'_, '_>, tid: i32, size: u64, data: u64) -> KResult<u64> {
    let tr = tracee(ctx, tid)?;
    let kind = tr.stop.map(|s| s.0);
    let ret_data = u32::try_from(tr.event_msg).unwrap_or(0);
    let regs = tr.regs.as_deref().ok_or(Errno::ESRCH)?;
    let g = &regs.gp;
    let mut b = Vec::with_capacity(88);
    let op: u8 = match kind {
        Some(StopKind::SyscallEnter) => 1,
        Some(StopKind::SyscallExit) => 2,
        Some(StopKind::Event(kp::EVENT_SECCOMP)) => 3,
        _ => 0,
    };
    b.push(op);
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
    b.extend_from_slice(&g.rip.to_le_bytes());
    b.extend_from_slice(&g.rsp.to_le_bytes());
    match op {
        1 | 3 => {
            b.extend_from_slice(&g.orig_rax.to_le_bytes());
            for a in regs.syscall_args() {
                b.extend_from_slice(&a.to_le_bytes());
            }
            if op == 3 {
                b.extend_from_slice(&ret_data.to_le_bytes());
            }
        }
        2 => {
            b.extend_from_slice(&g.rax.to_le_bytes());
            let err = sentry::num::sbits(g.rax);
            b.push(u8::from((-4095..0).contains(&err)));
        }
        _ => {}
    }
    let n = b.len().min(sentry::num::usize_of(size));
    if n > 0 {
        write_bytes(ctx, data, &b[..n])?;
    }
    Ok(b.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> libc::user_regs_struct {
        let mut g = kp::Regs::default().gp;
        g.cs = USER_CS;
        g.ss = USER_DS;
        g.eflags = 0x202;
        g
    }

    #[test]
    fn registers_keep_the_kernel_order() {
        let mut g = regs();
        g.r15 = 1;
        g.orig_rax = 2;
        g.gs = 3;
        let w = regs_words(&g);
        assert_eq!((w[0], w[15], w[26]), (1, 2, 3));
        assert_eq!(w.len() * 8, 216);
    }

    #[test]
    fn a_tracer_cannot_set_what_the_platform_cannot_run() {
        let mut g = regs();
        assert_eq!(put_reg(&mut g, 17, 0x23), Err(Errno::EIO));
        assert_eq!(put_reg(&mut g, 20, 0), Err(Errno::EIO));
        assert_eq!(put_reg(&mut g, 21, 1 << 47), Err(Errno::EIO));
        assert_eq!(put_reg(&mut g, 26, 0x2b), Err(Errno::EIO));
        // IF and IOPL stay; TF and the arithmetic flags change.
        put_reg(&mut g, 18, 0x3100 | 0x1).unwrap();
        assert_eq!(g.eflags, 0x302 | 0x1);
        put_reg(&mut g, 16, 0xdead).unwrap();
        assert_eq!(g.rip, 0xdead);
    }

    #[test]
    fn dr7_is_checked_as_linux_checks_it() {
        let dr = [0x1000, 0x1001, 0, 0, 0, 0, 0, 0];
        // A 4-byte write watch at 0x1000; disabled slots are not checked.
        assert_eq!(check_dr7(&dr, 0x000d_0001), Ok(0x000d_0001));
        assert_eq!(check_dr7(&dr, 0x00d0_0000), Ok(0x00d0_0000));
        // Misaligned for its length, an I/O breakpoint, a long execute.
        assert_eq!(check_dr7(&dr, 0x00d0_0004), Err(Errno::EINVAL));
        assert_eq!(check_dr7(&dr, 0x0002_0001), Err(Errno::EINVAL));
        assert_eq!(check_dr7(&dr, 0x000c_0001), Err(Errno::EINVAL));
        // Byte-sized and execute breakpoints anywhere; other bits dropped.
        assert_eq!(check_dr7(&dr, 0x0011_2304), Ok(0x0011_0004));
    }

    #[test]
    fn set_regs_is_all_or_nothing() {
        let mut tr = Tracee::new(1, false, 0);
        tr.regs = Some(Box::new(kp::Regs {
            gp: regs(),
            ..Default::default()
        }));
        let mut w = regs_words(&tr.regs.as_ref().unwrap().gp);
        w[0] = 7;
        w[17] = 0x23;
        assert_eq!(set_regs(&mut tr, &w), Err(Errno::EIO));
        assert_eq!(tr.regs.as_ref().unwrap().gp.r15, 0);
        w[17] = USER_CS;
        set_regs(&mut tr, &w).unwrap();
        assert_eq!(tr.regs.as_ref().unwrap().gp.r15, 7);
    }
}
