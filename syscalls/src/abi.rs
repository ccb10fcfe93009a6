//! Argument decoding and copying to and from application memory.

use sentry::mm::{read_cstr, read_obj, write_obj};
use sentry::{Ctx, Errno, KResult};
use std::time::Duration;

pub const PATH_MAX: usize = 4096;

// Registers to the C types the kernel declares its arguments with: the
// kernel reads an `int` as the low 32 bits of the register and a `long` as
// the register's bits, so these narrowings and reinterpretations are the
// ABI, not accidents.

/// AT_FDCWD as the register a dirfd argument is.
pub const CWD: u64 = bits(libc::AT_FDCWD as i64);

/// An `int` argument.
pub use sentry::num::low_int as int;

/// An `unsigned int` argument.
#[allow(clippy::cast_possible_truncation)]
pub const fn uint(v: u64) -> u32 {
    v as u32
}

/// A `long` (`off_t`, `loff_t`, `pid_t` widened) argument.
#[allow(clippy::cast_possible_wrap)]
pub const fn long(v: u64) -> i64 {
    v as i64
}

/// A `size_t` argument (x86-64: as wide as the register).
#[allow(clippy::cast_possible_truncation)]
pub const fn size(v: u64) -> usize {
    v as usize
}

// Conversions that are not the register ABI's own are the sentry's.
pub use sentry::num::{
    bits, nonneg as unsigned, saturating_i32 as int_len, saturating_i64 as signed,
    sbits32 as sbits, ubits32 as ubits, usize_of,
};

/// A duration in nanoseconds as the kernel's signed 64-bit count,
/// saturating (292 years).
pub fn ns_of(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

pub fn path(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Vec<u8>> {
    path_in(&ctx.mm, addr)
}

/// `path` from an address space, for calls made without a `Ctx`.
pub fn path_in(mm: &sentry::mm::Mm, addr: u64) -> KResult<Vec<u8>> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let p = read_cstr(mm, addr, PATH_MAX - 1)?;
    if p.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(p)
}

/// What a call on paths needs from its task, with the kernel lock
/// (`pcx`) or without (`Unlocked::walker`): the walker and the memory
/// its arguments are in.
pub struct Pcx<'a> {
    pub w: sentry::fs::vfs::Walker<'a>,
    pub mm: &'a sentry::mm::Mm,
}

impl<'a> Pcx<'a> {
    /// A path argument (`path`'s rules).
    pub fn path(&self, addr: u64) -> KResult<Vec<u8>> {
        path_in(self.mm, addr)
    }

    pub fn vfs(&self) -> &'a sentry::fs::vfs::Vfs {
        self.w.c.vfs
    }

    /// Walks `path` from register `dirfd`.
    pub fn resolve(
        &self,
        dirfd: u64,
        path: &[u8],
        follow: bool,
    ) -> KResult<sentry::fs::vfs::Resolved> {
        self.vfs().resolve_in(&self.w, int(dirfd), path, follow, 0)
    }

    /// The caller's credentials (always there; NEEDLOCK is only a guard).
    pub fn creds(&self) -> KResult<&sentry::kernel::Creds> {
        self.w.c.creds().ok_or(Errno::NEEDLOCK)
    }

    pub fn umask(&self) -> u32 {
        self.w.fs.lock().umask
    }
}

/// The locked caller as a `Pcx`.
pub fn pcx<'a>(ctx: &'a Ctx<'_, '_>) -> Pcx<'a> {
    Pcx {
        w: ctx.walker(),
        mm: &ctx.mm,
    }
}

pub fn get<T: sentry::mm::Plain>(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<T> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    read_obj(&ctx.mm, addr)
}

pub fn put<T: sentry::mm::Plain>(ctx: &Ctx<'_, '_>, addr: u64, v: &T) -> KResult<()> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    write_obj(&ctx.mm, addr, v)
}

/// Reads a NULL-terminated array of strings (argv, envp).
pub fn str_array(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Vec<Vec<u8>>> {
    str_array_in(&ctx.mm, addr)
}

/// `str_array` from an address space, for calls made without a `Ctx`.
pub fn str_array_in(mm: &sentry::mm::Mm, addr: u64) -> KResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    // Bounded by what any RLIMIT_STACK lets execve take (6 MiB of
    // strings and pointers), so a hostile array costs the sentry no more.
    const MAX: usize = 6 << 20;
    let mut total = 0usize;
    for i in 0.. {
        if i > (MAX / 8) as u64 {
            return Err(Errno::E2BIG);
        }
        let p: u64 = read_obj(mm, addr + i * 8)?;
        if p == 0 {
            break;
        }
        // MAX_ARG_STRLEN counts the NUL: E2BIG past it, as Linux.
        let s = read_cstr(mm, p, 128 * 1024).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        if s.len() + 1 > 128 * 1024 {
            return Err(Errno::E2BIG);
        }
        total += s.len() + 1 + 8;
        if total > MAX {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

/// A timespec from the application; EINVAL when malformed.
pub fn timespec(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Duration> {
    timespec_in(&ctx.mm, addr)
}

/// `timespec` from an address space, for calls made without a `Ctx`.
pub fn timespec_in(mm: &sentry::mm::Mm, addr: u64) -> KResult<Duration> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let ts: [i64; 2] = read_obj(mm, addr)?;
    if ts[0] < 0 || !(0..1_000_000_000).contains(&ts[1]) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(unsigned(ts[0]), uint(unsigned(ts[1]))))
}

pub fn ts_of_ns(ns: i64) -> [i64; 2] {
    [ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000)]
}

pub fn ts_of(d: Duration) -> [i64; 2] {
    [signed(d.as_secs()), i64::from(d.subsec_nanos())]
}

pub fn tv_of(d: Duration) -> [i64; 2] {
    [signed(d.as_secs()), i64::from(d.subsec_micros())]
}

pub fn timeval(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Duration> {
    let tv: [i64; 2] = get(ctx, addr)?;
    if tv[0] < 0 || !(0..1_000_000).contains(&tv[1]) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(unsigned(tv[0]), uint(unsigned(tv[1])) * 1000))
}

/// Checks a signal number for the *sig* calls.
pub fn signo(sig: u64) -> KResult<i32> {
    if sig == 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    Ok(int(sig))
}

/// Live processes whose process group is `pgid`.
pub fn group_members(ctx: &Ctx<'_, '_>, pgid: i32) -> Vec<i32> {
    ctx.st
        .procs
        .iter()
        .filter(|(_, p)| p.pgid == pgid && p.exit.is_none())
        .map(|(&k, _)| k)
        .collect()
}
