//! Trapping the application: the `Platform`, `AddressSpace` and `Context`
//! abstractions, and the ptrace implementation.
//!
//! A platform knows nothing of Linux syscall meaning: it runs application
//! code with a register set until the code traps, and reports why.

pub mod hostcalls;
mod ptrace;
mod regs;

pub use regs::{app_xfeatures, host_xfeatures, sigframe_xstate_len, xstate_len, Regs, XSTATE_MAX};

use std::any::Any;
use std::sync::Arc;

/// Why control came back from the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The application executed `syscall`; the number is in `regs.orig_rax`.
    Syscall,
    /// The application entered the kernel through the i386 ABI (`int 0x80`
    /// or `sysenter`): the number in `regs.orig_rax` is an i386 one.
    CompatSyscall,
    /// A synchronous fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) raised by
    /// an instruction of the application.
    Fault { signo: i32, code: i32, addr: u64 },
    /// The context was kicked by `Kicker::kick` (or a spurious host signal).
    Interrupted,
}

/// Errors of the platform boundary.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A host system call the platform relies on failed.
    #[error("{op}: {err}")]
    Host {
        op: &'static str,
        err: std::io::Error,
    },
    /// The stub running the application died unexpectedly.
    #[error("stub process died (status {0:#x})")]
    StubDied(i32),
    /// A mapping operation failed in the stub with this errno.
    #[error("stub syscall {nr} failed with errno {errno}")]
    StubSyscall { nr: i64, errno: i32 },
}

impl PlatformError {
    pub(crate) fn last(op: &'static str) -> Self {
        PlatformError::Host {
            op,
            err: std::io::Error::last_os_error(),
        }
    }
}

/// How much of the memory file each address space's `set_scratch` gets.
pub const SCRATCH_LEN: u64 = 2 * 4096;

/// Memory protection bits, as PROT_* in Linux.
pub type Prot = i32;

/// The set of mappings of the memory file that make up one application
/// address space.
pub trait AddressSpace: Send + Sync + Any {
    /// Maps `len` bytes of the memory file at `offset` to `addr`, replacing
    /// whatever was there.
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64);
    /// Maps `len` bytes of host file `fd` at `offset` to `addr`, shared,
    /// replacing whatever was there. The host page cache is shared:
    /// nothing is copied, and with PROT_WRITE writes reach the file (the
    /// caller only asks for it on mappings that are shared for the
    /// application too).
    fn map_file(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        fd: std::sync::Arc<std::os::fd::OwnedFd>,
        offset: u64,
    );
    /// Removes any mapping in `[addr, addr+len)`.
    fn unmap(&self, addr: u64, len: u64);
    /// Changes the protection of `[addr, addr+len)`.
    fn protect(&self, addr: u64, len: u64, prot: Prot);
    /// The highest address (exclusive) the application may use.
    fn max_addr(&self) -> u64;
    /// `SCRATCH_LEN` bytes of the memory file, at `offset`, that the
    /// platform may use beyond `max_addr` for its own exchanges with the
    /// host side of the address space (ptrace: the buffers of the fds
    /// handed to a stub, and the table of batched injected calls). Given
    /// once, when the space is made; freed by the caller after the space
    /// is gone.
    fn set_scratch(&self, offset: u64) {
        let _ = offset;
    }
    /// CPU time the application has spent running in this address space.
    fn cpu_time_ns(&self) -> u64 {
        0
    }
    fn as_any(&self) -> &dyn Any;
}

/// Wakes a context out of `switch` from another thread.
pub trait Kicker: Send + Sync {
    fn kick(&self);
}

/// One thread of execution in the application, bound to the sentry thread
/// that drives it.
pub trait Context: Send {
    /// Runs the application in `space` with `regs` until it traps. Pending
    /// address-space changes are applied first.
    fn switch(
        &mut self,
        space: &Arc<dyn AddressSpace>,
        regs: &mut Regs,
    ) -> Result<Event, PlatformError>;
    /// Applies pending address-space changes now (before memory they
    /// referred to is reused).
    fn flush(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(), PlatformError>;
    /// Loads the extended FPU state of the application into `regs.fp`.
    fn load_fp(&mut self, regs: &mut Regs) -> Result<(), PlatformError>;
    /// Prepares a context for a new thread that shares `space` and starts
    /// with the current FPU state of this context. Must be called while this
    /// context is bound to `space`.
    fn new_thread(
        &mut self,
        space: &Arc<dyn AddressSpace>,
    ) -> Result<Box<dyn Context>, PlatformError>;
    /// Copies the host side of `space`, to which this context is bound,
    /// into the new, empty `child` (ptrace: forks the stub process), after
    /// applying the changes pending for `space`: `child` starts with every
    /// mapping `space` has then, and its own queue holds only what differs.
    /// Returns the context of the child's first thread, to be adopted by
    /// `prepare` on the thread that runs it. Only called when
    /// `Platform::forks_spaces` says so.
    fn fork_space(
        &mut self,
        space: &Arc<dyn AddressSpace>,
        child: &Arc<dyn AddressSpace>,
    ) -> Result<Box<dyn Context>, PlatformError> {
        let _ = (space, child);
        Err(PlatformError::Host {
            op: "fork an address space",
            err: std::io::Error::from_raw_os_error(libc::ENOSYS),
        })
    }
    /// Leaves `old` for `new`, a space no context has run in yet (exec).
    /// The host side of `new` may be made from `old`'s (ptrace: a fork of
    /// its stub that keeps none of its mappings and fds, cheaper than a
    /// stub made from nothing); otherwise it is made on the next switch.
    /// Either way this context is released from `old` as by `release`.
    fn replace_space(&mut self, old: &Arc<dyn AddressSpace>, new: &Arc<dyn AddressSpace>) {
        let _ = (old, new);
        self.release();
    }
    /// Creates the host side of this context in `space` now (for ptrace:
    /// the stub process, or the adoption of the thread `new_thread` made),
    /// so that fork and clone can report a refusal instead of returning a
    /// task that never runs. Called on the thread that will run `switch`.
    fn prepare(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(), PlatformError>;
    /// Whether `prepare` only adopts a host side made already
    /// (`new_thread`, `fork_space`), so that it fails only when something
    /// outside killed it.
    fn adopts(&self) -> bool {
        false
    }
    /// A handle other threads use to interrupt `switch`.
    fn kicker(&self) -> Arc<dyn Kicker>;
    /// Sets the hardware debug registers the application thread runs
    /// with (DR0-DR3 user addresses, DR6, DR7 as Linux's ptrace checks
    /// them), from its next switch until `release`. Err when the
    /// platform has none.
    fn set_debug_regs(&mut self, dr: [u64; 8]) -> Result<(), PlatformError> {
        let _ = dr;
        Err(PlatformError::Host {
            op: "debug registers",
            err: std::io::Error::from_raw_os_error(libc::ENOSYS),
        })
    }
    /// DR6 as the last debug trap left it (0 without debug registers).
    fn debug_status(&mut self) -> u64 {
        0
    }
    /// Leaves the current address space (on exit or exec); the host
    /// resources behind it are released when no context uses them.
    fn release(&mut self);
}

/// A way of running application code.
pub trait Platform: Send + Sync {
    fn name(&self) -> &'static str;
    fn new_address_space(&self) -> Arc<dyn AddressSpace>;
    fn new_context(&self) -> Box<dyn Context>;
    /// Whether `Context::fork_space` copies a space's host side (so a
    /// fork need not replay the parent's mappings into the child).
    fn forks_spaces(&self) -> bool {
        false
    }
    /// The compiled filter of `Kind::stub_calls` (a classic BPF program for
    /// `SECCOMP_SET_MODE_FILTER`), given before the first address space
    /// runs.
    fn set_stub_filter(&mut self, prog: Vec<libc::sock_filter>) {
        let _ = prog;
    }
}

/// The platforms husk can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A stub process per address space, traced with `PTRACE_SYSEMU`.
    Ptrace,
}

impl Kind {
    /// Host calls the platform makes from the sentry's threads (and that
    /// processes it creates make before their own filter): the sandbox's
    /// seccomp policy is the sentry's calls plus these.
    pub fn host_calls(self) -> Vec<hostcalls::Allowed> {
        match self {
            Kind::Ptrace => ptrace::host_calls(),
        }
    }

    /// Host calls the platform's application processes (stubs) make, for
    /// the filter they install on themselves; empty when there are none.
    pub fn stub_calls(self) -> Vec<hostcalls::Allowed> {
        match self {
            Kind::Ptrace => ptrace::stub_calls(),
        }
    }
}

/// Builds a platform over the memory file `memfd` (which must stay open
/// for the platform's life). Called before the sandbox is confined: the
/// platform may need the host (ptrace: the stub page).
pub fn create(kind: Kind, memfd: std::os::fd::RawFd) -> Result<Box<dyn Platform>, PlatformError> {
    match kind {
        Kind::Ptrace => Ok(Box::new(ptrace::PtracePlatform::new(memfd)?)),
    }
}
