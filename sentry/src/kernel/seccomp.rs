//! seccomp(2) for the application: classic BPF filters a task installs,
//! checked as Linux checks them (seccomp_check_filter and the classic BPF
//! verifier), run on `struct seccomp_data` before every system call the
//! task makes. A task's filters form a chain shared with the children
//! and threads that inherited it; every filter runs and the most
//! restrictive result wins (the newest filter's among equals).

use crate::errno::{Errno, KResult};
use std::sync::Arc;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ACTION_FULL: u32 = 0xffff_0000;
pub const RET_DATA: u32 = 0xffff;

/// AUDIT_ARCH_X86_64.
pub const ARCH_X86_64: u32 = 0xc000_003e;
/// BPF_MAXINSNS, and the most instructions one call may run through all
/// of a task's filters (MAX_INSNS_PER_PATH).
pub const MAX_INSNS: usize = 4096;
const MAX_PATH_INSNS: usize = 32768;
/// `sizeof(struct seccomp_data)`.
const DATA_LEN: u32 = 64;
const MEM_WORDS: u32 = 16;

/// `struct sock_filter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}
crate::plain!(Insn);

// Classic BPF opcode fields.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;

/// `struct seccomp_data`: what a filter reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl Data {
    /// The 32-bit word at byte `off` (aligned, within the structure: the
    /// verifier checked it), read straight from the field it falls in.
    fn word(&self, off: u32) -> u32 {
        let half = |v: u64, high: bool| {
            let b = v.to_ne_bytes();
            let h = if high { &b[4..] } else { &b[..4] };
            u32::from_ne_bytes([h[0], h[1], h[2], h[3]])
        };
        match off {
            0 => self.nr.cast_unsigned(),
            4 => self.arch,
            8 | 12 => half(self.ip, off == 12),
            _ => {
                let i = ((off - 16) / 8) as usize;
                half(self.args.get(i).copied().unwrap_or(0), off % 8 == 4)
            }
        }
    }
}

/// A checked program.
#[derive(Debug)]
pub struct Filter {
    insns: Vec<Insn>,
    /// SECCOMP_FILTER_FLAG_LOG: actions other than allow are logged.
    pub log: bool,
}

/// Checks a program as Linux does: 1..=4096 instructions, only the
/// opcodes seccomp allows, loads aligned and inside seccomp_data,
/// scratch memory in range, no division by a constant zero, jumps
/// forward and inside, and a return at the end (EINVAL otherwise).
pub fn check(insns: Vec<Insn>, log: bool) -> KResult<Filter> {
    let n = insns.len();
    if n == 0 || n > MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    for (pc, i) in insns.iter().enumerate() {
        let class = i.code & 0x07;
        let ok = match class {
            LD | LDX => match i.code & 0xe0 {
                ABS => class == LD && i.code & 0x18 == W && i.k % 4 == 0 && i.k < DATA_LEN,
                LEN => i.code & 0x18 == W,
                IMM => i.code & 0x18 == W,
                MEM => i.code & 0x18 == W && i.k < MEM_WORDS,
                _ => false,
            },
            ST | STX => i.code == class && i.k < MEM_WORDS,
            ALU => {
                let op = i.code & 0xf0;
                let src = i.code & 0x08;
                // seccomp allows no BPF_MOD.
                let known = matches!(
                    op,
                    0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0xa0
                );
                let zero_div = src == K && op == 0x30 && i.k == 0;
                let shift = src == K && matches!(op, 0x60 | 0x70) && i.k >= 32;
                known && !zero_div && !shift && (op != 0x80 || src == K)
            }
            JMP => {
                let op = i.code & 0xf0;
                let rest = n - pc - 1;
                match op {
                    0x00 => i.code == JMP && (i.k as usize) < rest,
                    0x10 | 0x20 | 0x30 | 0x40 => {
                        usize::from(i.jt) < rest && usize::from(i.jf) < rest
                    }
                    _ => false,
                }
            }
            RET => matches!(i.code & 0x18, K | A) && i.code & !0x18 == RET,
            MISC => matches!(i.code, 0x07 | 0x87),
            _ => false,
        };
        if !ok {
            return Err(Errno::EINVAL);
        }
    }
    if insns[n - 1].code & 0x07 != RET {
        return Err(Errno::EINVAL);
    }
    scratch_written_first(&insns)?;
    Ok(Filter { insns, log })
}

/// The classic verifier's check_load_and_stores: on every path, a
/// scratch word is stored before it is loaded (jumps only go forward,
/// so one pass in order sees every path into an instruction first).
fn scratch_written_first(insns: &[Insn]) -> KResult<()> {
    let mut valid = vec![u16::MAX; insns.len()];
    valid[0] = 0;
    for (pc, i) in insns.iter().enumerate() {
        let mut m = valid[pc];
        let class = i.code & 0x07;
        let bit = 1u16 << (i.k & 0xf);
        match class {
            ST | STX => m |= bit,
            LD | LDX if i.code & 0xe0 == MEM && m & bit == 0 => return Err(Errno::EINVAL),
            _ => {}
        }
        let mut to = |t: usize| {
            if let Some(v) = valid.get_mut(t) {
                *v &= m;
            }
        };
        match class {
            RET => {}
            JMP if i.code & 0xf0 == 0x00 => to(pc + 1 + i.k as usize),
            JMP => {
                to(pc + 1 + usize::from(i.jt));
                to(pc + 1 + usize::from(i.jf));
            }
            _ => to(pc + 1),
        }
    }
    Ok(())
}

impl Filter {
    /// Runs the program on `d`: its return value.
    pub fn run(&self, d: &Data) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; MEM_WORDS as usize];
        let mut pc = 0usize;
        while let Some(i) = self.insns.get(pc) {
            pc += 1;
            let src = if i.code & 0x08 == X { x } else { i.k };
            match i.code & 0x07 {
                LD => {
                    a = match i.code & 0xe0 {
                        ABS => d.word(i.k),
                        LEN => DATA_LEN,
                        MEM => mem[i.k as usize],
                        _ => i.k,
                    }
                }
                LDX => {
                    x = match i.code & 0xe0 {
                        LEN => DATA_LEN,
                        MEM => mem[i.k as usize],
                        _ => i.k,
                    }
                }
                ST => mem[i.k as usize] = a,
                STX => mem[i.k as usize] = x,
                ALU => {
                    a = match i.code & 0xf0 {
                        0x00 => a.wrapping_add(src),
                        0x10 => a.wrapping_sub(src),
                        0x20 => a.wrapping_mul(src),
                        // A division by a zero X ends the program with 0.
                        0x30 => match a.checked_div(src) {
                            Some(v) => v,
                            None => return 0,
                        },
                        0x40 => a | src,
                        0x50 => a & src,
                        0x60 => a.checked_shl(src).unwrap_or(0),
                        0x70 => a.checked_shr(src).unwrap_or(0),
                        0x80 => a.wrapping_neg(),
                        _ => a ^ src,
                    }
                }
                JMP => {
                    let op = i.code & 0xf0;
                    if op == 0x00 {
                        pc += i.k as usize;
                        continue;
                    }
                    let hit = match op {
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        _ => a & src != 0,
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
                RET => return if i.code & 0x18 == A { a } else { i.k },
                _ => {
                    if i.code == 0x07 {
                        x = a;
                    } else {
                        a = x;
                    }
                }
            }
        }
        // A checked program always returns.
        RET_KILL_PROCESS
    }
}

/// A task's filters, newest first.
#[derive(Debug)]
pub struct Chain {
    pub filter: Filter,
    pub prev: Option<Arc<Chain>>,
    /// Instructions in this filter and all before it.
    len: usize,
}

/// Adds `f` on top of `prev` (ENOMEM past the path limit, counting four
/// instructions of overhead per filter as Linux does).
pub fn push(prev: Option<Arc<Chain>>, filter: Filter) -> KResult<Arc<Chain>> {
    let len = filter.insns.len() + 4 + prev.as_ref().map_or(0, |p| p.len);
    if len > MAX_PATH_INSNS {
        return Err(Errno::ENOMEM);
    }
    Ok(Arc::new(Chain { filter, prev, len }))
}

/// An action's rank: the lower, the more restrictive (Linux compares
/// the action bits as a signed number).
fn rank(ret: u32) -> i32 {
    (ret & RET_ACTION_FULL).cast_signed()
}

impl Filter {
    /// Its instructions, as installed.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }
}

impl Chain {
    /// The filter installed `off`-th (0: the oldest), as
    /// PTRACE_SECCOMP_GET_FILTER counts them.
    pub fn nth(&self, off: u64) -> Option<&Filter> {
        let n = self.count() as u64;
        let mut c = Some(self);
        for _ in 0..n.checked_sub(off)?.checked_sub(1)? {
            c = c?.prev.as_deref();
        }
        c.map(|x| &x.filter)
    }

    /// How many filters it has (/proc/PID/status Seccomp_filters).
    pub fn count(&self) -> usize {
        let mut n = 0;
        let mut c = Some(self);
        while let Some(x) = c {
            n += 1;
            c = x.prev.as_deref();
        }
        n
    }

    /// Runs every filter: the most restrictive result, and whether the
    /// filter that gave it asked for logging.
    pub fn run(&self, d: &Data) -> (u32, bool) {
        let mut best = (RET_ALLOW, false);
        let mut c = Some(self);
        while let Some(f) = c {
            let r = f.filter.run(d);
            if rank(r) < rank(best.0) {
                best = (r, f.filter.log);
            }
            c = f.prev.as_deref();
        }
        best
    }

    /// Whether `other` is this chain or one of its ancestors (TSYNC may
    /// replace a thread's filters only with a descendant of them).
    pub fn descends_from(self: &Arc<Chain>, other: Option<&Arc<Chain>>) -> bool {
        let Some(other) = other else { return true };
        let mut c = Some(self);
        while let Some(x) = c {
            if Arc::ptr_eq(x, other) {
                return true;
            }
            c = x.prev.as_ref();
        }
        false
    }
}

/// What a call's filters decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Allowed, and logged.
    Log,
    /// The call fails with this errno (no tracer or listener: ENOSYS).
    Errno(i32),
    /// SIGSYS (SYS_SECCOMP) with this si_errno; the call is not made.
    Trap(u16),
    /// A tracer with PTRACE_O_TRACESECCOMP decides (PTRACE_EVENT_SECCOMP
    /// with this message); without one the call fails with ENOSYS.
    Trace(u16),
    KillThread,
    KillProcess,
}

impl Verdict {
    pub fn of(ret: u32) -> Verdict {
        let data = ret & RET_DATA;
        match ret & RET_ACTION_FULL {
            RET_ALLOW => Verdict::Allow,
            RET_LOG => Verdict::Log,
            RET_ERRNO => Verdict::Errno(data.min(4095).cast_signed()),
            RET_TRACE => Verdict::Trace(u16::try_from(data).unwrap_or(u16::MAX)),
            RET_USER_NOTIF => Verdict::Errno(libc::ENOSYS),
            RET_TRAP => Verdict::Trap(u16::try_from(data).unwrap_or(u16::MAX)),
            RET_KILL_THREAD => Verdict::KillThread,
            _ => Verdict::KillProcess,
        }
    }
}

/// The actions SECCOMP_GET_ACTION_AVAIL reports (user notification
/// is not among them).
pub fn action_available(action: u32) -> bool {
    matches!(
        action,
        RET_KILL_PROCESS | RET_KILL_THREAD | RET_TRAP | RET_ERRNO | RET_TRACE | RET_LOG | RET_ALLOW
    )
}

/// The calls strict mode allows: read, write, exit, rt_sigreturn.
pub fn strict_allows(nr: u64) -> bool {
    matches!(nr, 0 | 1 | 60 | 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }
    const LD_NR: u16 = LD | W | ABS;
    const JEQ: u16 = JMP | 0x10 | K;
    const RET_K: u16 = RET | K;

    /// Allows everything but `nr`, which gets `action`.
    fn deny(nr: u32, action: u32) -> Filter {
        check(
            vec![
                ins(LD_NR, 0, 0, 4),
                ins(JEQ, 0, 3, ARCH_X86_64),
                ins(LD_NR, 0, 0, 0),
                ins(JEQ, 0, 1, nr),
                ins(RET_K, 0, 0, action),
                ins(RET_K, 0, 0, RET_ALLOW),
            ],
            false,
        )
        .unwrap()
    }

    fn data(nr: i32) -> Data {
        Data {
            nr,
            arch: ARCH_X86_64,
            ..Default::default()
        }
    }

    #[test]
    fn the_verifier_refuses_what_linux_does() {
        assert!(check(vec![], false).is_err());
        assert!(check(vec![ins(RET_K, 0, 0, 0); MAX_INSNS + 1], false).is_err());
        // A load past seccomp_data, unaligned, or of a byte.
        assert!(check(vec![ins(LD_NR, 0, 0, 64), ins(RET_K, 0, 0, 0)], false).is_err());
        assert!(check(vec![ins(LD_NR, 0, 0, 2), ins(RET_K, 0, 0, 0)], false).is_err());
        assert!(check(
            vec![ins(LD | 0x10 | ABS, 0, 0, 0), ins(RET_K, 0, 0, 0)],
            false
        )
        .is_err());
        // A jump out of the program, a constant division by zero, no
        // return at the end, scratch memory out of range.
        assert!(check(vec![ins(JEQ, 1, 0, 0), ins(RET_K, 0, 0, 0)], false).is_err());
        assert!(check(
            vec![ins(ALU | 0x30 | K, 0, 0, 0), ins(RET_K, 0, 0, 0)],
            false
        )
        .is_err());
        assert!(check(vec![ins(LD_NR, 0, 0, 0)], false).is_err());
        assert!(check(vec![ins(ST, 0, 0, 16), ins(RET_K, 0, 0, 0)], false).is_err());
        // Scratch memory read before any path wrote it.
        let unwritten = vec![
            ins(LD_NR, 0, 0, 0),
            ins(JEQ, 0, 1, 1),
            ins(ST, 0, 0, 2),
            ins(LD | W | MEM, 0, 0, 2),
            ins(RET | A, 0, 0, 0),
        ];
        assert!(check(unwritten, false).is_err());
        assert!(check(
            vec![ins(ALU | 0x90 | K, 0, 0, 3), ins(RET_K, 0, 0, 0)],
            false
        )
        .is_err());
        assert!(check(vec![ins(RET_K, 0, 0, RET_ALLOW)], false).is_ok());
    }

    #[test]
    fn programs_run_and_the_strictest_filter_wins() {
        let f = deny(39, RET_ERRNO | 1);
        assert_eq!(f.run(&data(39)), RET_ERRNO | 1);
        assert_eq!(f.run(&data(40)), RET_ALLOW);
        assert_eq!(
            f.run(&Data {
                arch: 0x4000_0003,
                ..data(39)
            }),
            RET_ALLOW
        );
        // Arithmetic, scratch memory and X.
        let p = check(
            vec![
                ins(LD | W | ABS, 0, 0, 16),
                ins(ALU | 0x50 | K, 0, 0, 0xff),
                ins(ST, 0, 0, 3),
                ins(LDX | W | MEM, 0, 0, 3),
                ins(MISC | 0x80, 0, 0, 0),
                ins(ALU | X, 0, 0, 0),
                ins(RET | A, 0, 0, 0),
            ],
            false,
        )
        .unwrap();
        let mut d = data(0);
        d.args[0] = 0x1234;
        assert_eq!(p.run(&d), 0x68);
        let c = push(None, deny(39, RET_ERRNO | 1)).unwrap();
        let c = push(Some(c), deny(39, RET_TRAP | 7)).unwrap();
        let c = push(Some(c), deny(40, RET_LOG)).unwrap();
        assert_eq!(c.run(&data(39)).0, RET_TRAP | 7);
        assert_eq!(c.run(&data(40)).0, RET_LOG);
        assert_eq!(c.run(&data(41)).0, RET_ALLOW);
        assert_eq!(Verdict::of(RET_ERRNO | 5000), Verdict::Errno(4095));
        assert_eq!(Verdict::of(RET_KILL_PROCESS | 3), Verdict::KillProcess);
        assert_eq!(Verdict::of(0x7f00_0000), Verdict::KillProcess);
        assert!(c.descends_from(c.prev.as_ref()) && c.descends_from(None));
        let other = push(None, deny(1, RET_ERRNO)).unwrap();
        assert!(!c.descends_from(Some(&other)));
    }
}
