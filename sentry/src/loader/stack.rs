//! The initial process stack: argc, argv, envp and the auxiliary vector.

use crate::errno::{Errno, KResult};
use crate::mm::{MapRequest, Mm, VmaName};

pub const STACK_SIZE: u64 = 8 << 20;

pub struct StackInfo<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub execfn: &'a [u8],
    pub auxv: Vec<(u64, u64)>,
    pub random: [u8; 16],
    /// The program asked for an executable stack (PT_GNU_STACK with
    /// PF_X: nested-function trampolines).
    pub exec: bool,
}

/// Maps the stack below `top` and fills it; returns the initial rsp.
pub fn build_stack(mm: &Mm, top: u64, info: StackInfo) -> KResult<u64> {
    let exec = if info.exec { libc::PROT_EXEC } else { 0 };
    let mut req = MapRequest::anon(
        top - STACK_SIZE,
        STACK_SIZE,
        libc::PROT_READ | libc::PROT_WRITE | exec,
    );
    req.fixed = true;
    req.growsdown = true;
    req.name = VmaName::Stack;
    mm.map(req)?;
    // execve checked the arguments' size against RLIMIT_STACK; this is
    // what the stack mapping can hold at all.
    let total: usize = info.argv.iter().chain(info.envp).map(|s| s.len() + 1).sum();
    if total as u64 > STACK_SIZE - (1 << 20) {
        return Err(Errno::E2BIG);
    }
    let mut sp = top - 16;
    let push_bytes = |sp: &mut u64, b: &[u8]| -> KResult<u64> {
        *sp -= b.len() as u64 + 1;
        mm.write(*sp, b)?;
        mm.write(*sp + b.len() as u64, &[0])?;
        Ok(*sp)
    };
    let execfn = push_bytes(&mut sp, info.execfn)?;
    let mut envs = Vec::new();
    let env_end = sp;
    for e in info.envp.iter().rev() {
        envs.push(push_bytes(&mut sp, e)?);
    }
    envs.reverse();
    let env_start = sp;
    let mut args = Vec::new();
    let arg_end = sp;
    for a in info.argv.iter().rev() {
        args.push(push_bytes(&mut sp, a)?);
    }
    args.reverse();
    let arg_start = sp;
    let platform = push_bytes(&mut sp, b"x86_64")?;
    sp &= !15;
    sp -= 16;
    mm.write(sp, &info.random)?;
    let random = sp;

    let mut auxv = info.auxv;
    auxv.push((libc::AT_RANDOM, random));
    auxv.push((libc::AT_EXECFN, execfn));
    auxv.push((libc::AT_PLATFORM, platform));
    auxv.push((libc::AT_NULL, 0));
    let words = 1 + args.len() + 1 + envs.len() + 1 + auxv.len() * 2;
    sp -= (words * 8) as u64;
    sp &= !15;
    let mut v: Vec<u64> = Vec::with_capacity(words);
    v.push(args.len() as u64);
    v.extend(&args);
    v.push(0);
    v.extend(&envs);
    v.push(0);
    for (k, val) in &auxv {
        v.push(*k);
        v.push(*val);
    }
    let bytes: Vec<u8> = v.iter().flat_map(|w| w.to_le_bytes()).collect();
    mm.write(sp, &bytes)?;
    let mut st = mm.state.lock();
    st.arg_range = (arg_start, arg_end);
    st.env_range = (env_start, env_end);
    st.auxv = auxv;
    st.stack_top = top;
    Ok(sp)
}
