//! The ptrace platform: each application address space is a stub process,
//! each application thread a stub thread traced (PTRACE_SYSEMU) by the
//! sentry thread that runs the task. Tracer and tracee are pinned to the
//! same CPU, since cross-CPU wake-ups cost six times more here.

mod spawn;
pub mod stub;
mod sys;

use crate::hostcalls::{any, one_of, when, Allowed, Arg};
use crate::{AddressSpace, Context, Event, Kicker, Platform, PlatformError, Prot, Regs};
use std::any::Any;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
pub use stub::StubPage;

/// The host calls a stub makes once it runs: the ones the sentry injects
/// (mappings, fetching host fds, thread creation and exit) and its own
/// start code (unmapping the sentry's memory, sleeping on a futex, the
/// trap that hands it to the tracer). A stub's seccomp filter allows these
/// and nothing else; the application's own calls never reach it
/// (`PTRACE_SYSEMU` stops them before seccomp runs), but for the three
/// the host emulates on the vsyscall page.
pub fn stub_calls() -> Vec<Allowed> {
    use libc::*;
    vec![
        any(SYS_mmap),
        any(SYS_munmap),
        any(SYS_mprotect),
        // Receiving a host fd to map, and checking it arrived.
        any(SYS_recvmsg),
        when(SYS_fcntl, &[&[Arg::Eq(1, F_GETFD as u64)]]),
        // A new application thread.
        when(SYS_clone, &[&[Arg::Eq(0, STUB_THREAD_CLONE_FLAGS)]]),
        any(SYS_futex),
        any(SYS_exit),
        any(SYS_exit_group),
        // The legacy vsyscall page (0xffffffffff600000): the host kernel
        // emulates a call there itself, past PTRACE_SYSEMU, after asking
        // seccomp. Old static binaries read the time this way; refused,
        // the stub would die of SIGSYS. These read the host's clocks and
        // CPU number, which are the sandbox's (its CLOCK_REALTIME is the
        // host's and cannot be set).
        any(SYS_time),
        any(SYS_gettimeofday),
        any(SYS_getcpu),
    ]
}

/// What the tracer side (the sentry's threads) needs on top of what the
/// sentry itself calls: tracing stubs, waiting for them, kicking them
/// (SIGUSR2) and ending them, creating them, pinning them, and mapping
/// application memory executable in them. Pids are those of the sandbox's
/// own pid namespace, so no other process can be named.
pub fn host_calls() -> Vec<Allowed> {
    use libc::*;
    // A stub process is a raw fork; a stub thread a clone in a stub.
    let stub_fork = SIGCHLD as u64;
    let mut v = vec![
        any(SYS_ptrace),
        any(SYS_wait4),
        // SIGABRT: a panic aborts the sentry the usual way.
        one_of(
            SYS_tgkill,
            2,
            &[SIGUSR2 as u64, SIGKILL as u64, SIGABRT as u64],
        ),
        when(
            SYS_clone,
            &[
                &[Arg::Eq(0, stub_fork)],
                &[Arg::Eq(0, STUB_THREAD_CLONE_FLAGS)],
            ],
        ),
        // Each stub thread shares its tracer's CPU.
        any(SYS_sched_setaffinity),
        // A stub's start: its own session, no fds but the memory file.
        any(SYS_setsid),
        any(SYS_close_range),
        // The socket each stub receives the host fds it maps on.
        when(
            SYS_socketpair,
            &[&[
                Arg::Eq(0, AF_UNIX as u64),
                Arg::Eq(1, (SOCK_SEQPACKET | SOCK_CLOEXEC) as u64),
            ]],
        ),
        // A new stub adds its own, narrower filter (a filter can only
        // narrow what is allowed).
        when(
            SYS_seccomp,
            &[&[Arg::Eq(0, SECCOMP_SET_MODE_FILTER as u64), Arg::Eq(1, 0)]],
        ),
        // Application memory: the memory file and host files are mapped
        // executable in stubs; anonymous memory never is.
        when(
            SYS_mmap,
            &[
                &[Arg::MaskEq(2, PROT_EXEC as u64, 0)],
                &[Arg::MaskEq(3, MAP_ANONYMOUS as u64, 0)],
            ],
        ),
        any(SYS_mprotect),
    ];
    // Stubs inherit the sandbox's filter before adding their own, so what
    // they make must pass both.
    v.extend(stub_calls());
    v
}

/// Flags of the clone a stub makes for a new application thread.
pub const STUB_THREAD_CLONE_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM) as u64;

/// Where a stub maps its scratch page: just above the stub page, beyond
/// the application's addresses.
fn scratch_addr(stub: &StubPage) -> u64 {
    stub.base + stub.size()
}

/// The ptrace platform over one memory file.
pub struct PtracePlatform {
    memfd: RawFd,
    /// The seccomp filter every stub installs on itself before it runs
    /// (empty: none).
    stub_filter: Arc<Vec<libc::sock_filter>>,
    stub: StubPage,
    cpus: Arc<CpuRotor>,
}

/// Hands out CPUs round-robin to new contexts.
pub struct CpuRotor {
    next: AtomicUsize,
    n: usize,
}

impl CpuRotor {
    fn next(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.n
    }
}

impl PtracePlatform {
    /// `memfd` is the memory file; it must stay open for the platform's life.
    pub fn new(memfd: RawFd) -> Result<Self, PlatformError> {
        let stub = StubPage::install()?;
        let ncpu = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Ok(PtracePlatform {
            memfd,
            stub_filter: Arc::new(Vec::new()),
            stub,
            cpus: Arc::new(CpuRotor {
                next: AtomicUsize::new(0),
                n: ncpu,
            }),
        })
    }
}

impl Platform for PtracePlatform {
    fn name(&self) -> &'static str {
        "ptrace"
    }

    fn new_address_space(&self) -> Arc<dyn AddressSpace> {
        Arc::new(PtraceSpace {
            stub: self.stub,
            inner: Mutex::new(SpaceInner::default()),
            applying: Mutex::new(()),
        })
    }

    fn new_context(&self) -> Box<dyn Context> {
        Box::new(PtraceContext::new(
            self.stub,
            self.memfd,
            self.cpus.clone(),
            self.stub_filter.clone(),
        ))
    }

    fn set_stub_filter(&mut self, prog: Vec<libc::sock_filter>) {
        self.stub_filter = Arc::new(prog);
    }
}

#[derive(Clone, Debug)]
enum Op {
    MapFile {
        addr: u64,
        len: u64,
        prot: Prot,
        fd: Arc<OwnedFd>,
        off: u64,
    },
    Map {
        addr: u64,
        len: u64,
        prot: Prot,
        off: u64,
    },
    Unmap {
        addr: u64,
        len: u64,
    },
    Protect {
        addr: u64,
        len: u64,
        prot: Prot,
    },
}

#[derive(Default)]
struct SpaceInner {
    /// Stub process id; 0 until the first context binds to the space.
    pid: i32,
    ops: Vec<Op>,
    /// Stub threads currently bound to the space.
    live: usize,
    /// The thread-group leader was detached and parked (it left early).
    leader_parked: bool,
    /// Host files already present in the stub's fd table: sentry fd
    /// identity -> (the fd, kept alive, and its number in the stub).
    files: HashMap<usize, (Arc<OwnedFd>, i32)>,
    /// The sentry's end of the socket host fds reach the stub through, and
    /// the number of the stub's end in the stub.
    sock: Option<(OwnedFd, i32)>,
    /// fd numbers in use in the stub: a received fd takes the lowest free
    /// one, so the sentry knows its number without reading stub memory
    /// (which the application could change under it).
    stub_fds: std::collections::BTreeSet<i32>,
    /// Memory-file offset of the scratch page (0: none).
    scratch: u64,
}

/// An address space realised as a stub process.
pub struct PtraceSpace {
    stub: StubPage,
    inner: Mutex<SpaceInner>,
    /// Held while pending operations are taken and injected, so that they
    /// reach the host in order even when several threads flush at once
    /// (an mprotect must not overtake the mmap it applies to).
    applying: Mutex<()>,
}

impl PtraceSpace {
    fn push(&self, op: Op) {
        self.inner.lock().unwrap().ops.push(op);
    }
}

impl AddressSpace for PtraceSpace {
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) {
        self.push(Op::Map {
            addr,
            len,
            prot,
            off: offset,
        });
    }
    fn map_file(&self, addr: u64, len: u64, prot: Prot, fd: Arc<OwnedFd>, off: u64) {
        self.push(Op::MapFile {
            addr,
            len,
            prot,
            fd,
            off,
        });
    }
    fn unmap(&self, addr: u64, len: u64) {
        self.push(Op::Unmap { addr, len });
    }
    fn protect(&self, addr: u64, len: u64, prot: Prot) {
        self.push(Op::Protect { addr, len, prot });
    }
    fn max_addr(&self) -> u64 {
        self.stub.base
    }
    fn set_scratch(&self, offset: u64) {
        self.inner.lock().unwrap().scratch = offset;
        // Mapped first thing once the stub runs, read-write (the kernel
        // writes received fd numbers there).
        self.push(Op::Map {
            addr: scratch_addr(&self.stub),
            len: self.stub.size(),
            prot: libc::PROT_READ | libc::PROT_WRITE,
            off: offset,
        });
    }
    fn cpu_time_ns(&self) -> u64 {
        let pid = self.inner.lock().unwrap().pid;
        if pid <= 0 {
            return 0;
        }
        // The CPU clock of another process: (~pid << 3) | CPUCLOCK_SCHED.
        let clock = ((!pid) << 3) | 2;
        // SAFETY: clock_gettime with a valid out-pointer.
        unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            if libc::clock_gettime(clock, &mut ts) != 0 {
                return 0;
            }
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn space_of(space: &Arc<dyn AddressSpace>) -> &PtraceSpace {
    space
        .as_any()
        .downcast_ref::<PtraceSpace>()
        .expect("ptrace context used with a foreign address space")
}

/// Interrupts a running stub thread with a host signal the tracer swallows.
#[derive(Default)]
pub struct PtraceKicker {
    pid: AtomicI32,
    tid: AtomicI32,
}

impl Kicker for PtraceKicker {
    fn kick(&self) {
        let (pid, tid) = (
            self.pid.load(Ordering::Acquire),
            self.tid.load(Ordering::Acquire),
        );
        if tid > 0 {
            // SAFETY: tgkill on our own stub thread; a stale id fails harmlessly
            // because tgkill checks the thread group.
            unsafe {
                libc::syscall(libc::SYS_tgkill, pid, tid, sys::KICK_SIGNAL);
            }
        }
    }
}

struct Bound {
    space: *const PtraceSpace,
    pid: i32,
    tid: i32,
}

/// A sentry thread's handle on its stub thread.
pub struct PtraceContext {
    stub: StubPage,
    memfd: RawFd,
    stub_filter: Arc<Vec<libc::sock_filter>>,
    cpus: Arc<CpuRotor>,
    cpu: usize,
    pinned_tid: i32,
    bound: Option<Bound>,
    /// A stub thread created for us by `new_thread`, not yet seized: its
    /// space (counted in `live` already), process and thread ids.
    pending_attach: Option<(*const PtraceSpace, i32, i32)>,
    kicker: Arc<PtraceKicker>,
    /// A kick arrived while injecting; report it instead of running.
    kicked: bool,
    /// Scratch register set used for injections.
    scratch: libc::user_regs_struct,
    /// Debug registers the application set through ptrace, and whether
    /// the bound thread has them yet.
    debug: Option<[u64; 8]>,
    debug_dirty: bool,
}

// SAFETY: `Bound::space` only identifies the space (compared, never
// dereferenced without the Arc that owns it being passed in).
unsafe impl Send for PtraceContext {}

impl PtraceContext {
    fn new(
        stub: StubPage,
        memfd: RawFd,
        cpus: Arc<CpuRotor>,
        stub_filter: Arc<Vec<libc::sock_filter>>,
    ) -> Self {
        let cpu = cpus.next();
        PtraceContext {
            stub,
            memfd,
            stub_filter,
            cpus,
            cpu,
            pinned_tid: 0,
            bound: None,
            pending_attach: None,
            kicker: Arc::new(PtraceKicker::default()),
            kicked: false,
            // SAFETY: plain integers.
            scratch: unsafe { std::mem::zeroed() },
            debug: None,
            debug_dirty: false,
        }
    }

    fn pin_self(&mut self) {
        let me = sys::gettid();
        if self.pinned_tid != me {
            sys::pin_to_cpu(0, self.cpu);
            self.pinned_tid = me;
        }
    }

    fn set_bound(&mut self, space: &PtraceSpace, pid: i32, tid: i32) {
        self.bound = Some(Bound {
            space: space as *const _,
            pid,
            tid,
        });
        self.kicker.pid.store(pid, Ordering::Release);
        self.kicker.tid.store(tid, Ordering::Release);
        self.debug_dirty = self.debug.is_some();
    }

    /// Makes sure this context has a stopped stub thread in `space`.
    fn bind(&mut self, space: &PtraceSpace) -> Result<i32, PlatformError> {
        if let Some(b) = &self.bound {
            if std::ptr::eq(b.space, space) {
                return Ok(b.tid);
            }
            self.release();
        }
        self.pin_self();
        if let Some((_, pid, tid)) = self.pending_attach.take() {
            sys::seize(tid)?;
            loop {
                let status = sys::wait(tid)?;
                if libc::WIFSTOPPED(status) && (status >> 16) == sys::PTRACE_EVENT_STOP {
                    break;
                }
                if !libc::WIFSTOPPED(status) {
                    return Err(PlatformError::StubDied(status));
                }
                sys::resume(libc::PTRACE_CONT as _, tid, 0)?;
            }
            sys::pin_to_cpu(tid, self.cpu);
            sys::get_regs(tid, &mut self.scratch)?;
            self.set_bound(space, pid, tid);
            return Ok(tid);
        }
        let mut inner = space.inner.lock().unwrap();
        if inner.pid != 0 {
            return Err(PlatformError::Host {
                op: "bind to a running address space without new_thread",
                err: std::io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let t0 = std::time::Instant::now();
        let (mine, theirs) = sys::seqpacket_pair()?;
        let pid = spawn::spawn_stub(
            &self.stub,
            self.memfd,
            theirs.as_raw_fd(),
            &self.stub_filter,
        )?;
        inner.stub_fds = [self.memfd, theirs.as_raw_fd()].into_iter().collect();
        inner.sock = Some((mine, theirs.as_raw_fd()));
        drop(theirs);
        tracing::debug!(
            pid,
            elapsed_us = t0.elapsed().as_micros() as u64,
            "stub process started"
        );
        sys::get_regs(pid, &mut self.scratch)?;
        inner.pid = pid;
        inner.live = 1;
        drop(inner);
        self.set_bound(space, pid, pid);
        Ok(pid)
    }

    /// Runs one syscall in the stopped stub thread `tid`.
    fn inject(
        &mut self,
        tid: i32,
        site: u64,
        nr: i64,
        args: [u64; 6],
    ) -> Result<i64, PlatformError> {
        let r = &mut self.scratch;
        r.rax = nr as u64;
        r.orig_rax = u64::MAX;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.rip = site;
        sys::set_regs(tid, r)?;
        sys::resume(libc::PTRACE_CONT as _, tid, 0)?;
        loop {
            let status = sys::wait(tid)?;
            if !libc::WIFSTOPPED(status) {
                return Err(PlatformError::StubDied(status));
            }
            let sig = libc::WSTOPSIG(status);
            if sig == libc::SIGTRAP && (status >> 16) == 0 {
                break;
            }
            // Anything else (a kick, a terminal signal) is swallowed.
            self.kicked = true;
            sys::resume(libc::PTRACE_CONT as _, tid, 0)?;
        }
        sys::get_regs(tid, &mut self.scratch)?;
        Ok(self.scratch.rax as i64)
    }

    /// The stub's fd number for host file `fd`, handing it over on first
    /// use: sent on the space's socket and received by an injected
    /// recvmsg whose buffers are in the scratch page.
    fn stub_fd(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        fd: &Arc<OwnedFd>,
    ) -> Result<i32, PlatformError> {
        let key = Arc::as_ptr(fd) as usize;
        let (sock, theirs, scratch, n) = {
            let inner = space.inner.lock().unwrap();
            if let Some((_, n)) = inner.files.get(&key) {
                return Ok(*n);
            }
            let Some((mine, theirs)) = &inner.sock else {
                return Err(PlatformError::Host {
                    op: "handing a host fd to a stub",
                    err: std::io::Error::from_raw_os_error(libc::ENOTCONN),
                });
            };
            let n = (0..).find(|n| !inner.stub_fds.contains(n)).unwrap_or(0);
            (mine.as_raw_fd(), *theirs, inner.scratch, n)
        };
        if scratch == 0 {
            return Err(PlatformError::Host {
                op: "handing a host fd to a stub",
                err: std::io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        let at = scratch_addr(&self.stub);
        sys::write_recv_buffers(self.memfd, scratch, at)?;
        sys::send_fd(sock, fd.as_raw_fd())?;
        let r = self.inject(
            tid,
            self.stub.syscall,
            libc::SYS_recvmsg,
            [theirs as u64, at, libc::MSG_CMSG_CLOEXEC as u64, 0, 0, 0],
        )?;
        // The kernel gave the fd the lowest free number: `n`. Whether it
        // is there at all is asked of the stub's own fd table, not of the
        // scratch page, which the application can write.
        let check = self.inject(
            tid,
            self.stub.syscall,
            libc::SYS_fcntl,
            [n as u64, libc::F_GETFD as u64, 0, 0, 0, 0],
        )?;
        if r != 1 || check < 0 {
            return Err(PlatformError::StubSyscall {
                nr: libc::SYS_recvmsg,
                errno: if r < 0 { (-r) as i32 } else { libc::EBADF },
            });
        }
        let mut inner = space.inner.lock().unwrap();
        inner.stub_fds.insert(n);
        inner.files.insert(key, (fd.clone(), n));
        Ok(n)
    }

    fn apply(&mut self, space: &PtraceSpace, tid: i32) -> Result<(), PlatformError> {
        let _order = space.applying.lock().unwrap_or_else(|e| e.into_inner());
        let ops = std::mem::take(&mut space.inner.lock().unwrap().ops);
        for op in ops {
            let (nr, args) = match op.clone() {
                Op::MapFile {
                    addr,
                    len,
                    prot,
                    fd,
                    off,
                } => {
                    let n = self.stub_fd(space, tid, &fd)?;
                    (
                        libc::SYS_mmap,
                        [
                            addr,
                            len,
                            prot as u64,
                            (libc::MAP_SHARED | libc::MAP_FIXED) as u64,
                            n as u64,
                            off,
                        ],
                    )
                }
                Op::Map {
                    addr,
                    len,
                    prot,
                    off,
                } => (
                    libc::SYS_mmap,
                    [
                        addr,
                        len,
                        prot as u64,
                        (libc::MAP_SHARED | libc::MAP_FIXED) as u64,
                        self.memfd as u64,
                        off,
                    ],
                ),
                Op::Unmap { addr, len } => (libc::SYS_munmap, [addr, len, 0, 0, 0, 0]),
                Op::Protect { addr, len, prot } => {
                    (libc::SYS_mprotect, [addr, len, prot as u64, 0, 0, 0])
                }
            };
            let r = self.inject(tid, self.stub.syscall, nr, args)?;
            if (-4095..0).contains(&r) {
                tracing::warn!(?op, errno = -r, "stub mapping operation failed");
                return Err(PlatformError::StubSyscall {
                    nr,
                    errno: -r as i32,
                });
            }
        }
        Ok(())
    }

    fn bound_tid(&self, space: &PtraceSpace) -> Option<i32> {
        match &self.bound {
            Some(b) if std::ptr::eq(b.space, space) => Some(b.tid),
            _ => None,
        }
    }
}

impl Context for PtraceContext {
    fn switch(
        &mut self,
        space: &Arc<dyn AddressSpace>,
        regs: &mut Regs,
    ) -> Result<Event, PlatformError> {
        let sp = space_of(space);
        let tid = self.bind(sp)?;
        self.apply(sp, tid)?;
        if std::mem::take(&mut self.kicked) {
            return Ok(Event::Interrupted);
        }
        if regs.fp_dirty && regs.fp_len > 0 {
            sys::set_fp(tid, &regs.fp, regs.fp_len)?;
            regs.fp_dirty = false;
        }
        if std::mem::take(&mut self.debug_dirty) {
            if let Some(dr) = self.debug {
                sys::set_debug_regs(tid, &dr)?;
            }
        }
        regs.fp_len = 0;
        sys::set_regs(tid, &regs.gp)?;
        sys::resume(sys::PTRACE_SYSEMU, tid, 0)?;
        let status = sys::wait(tid)?;
        if !libc::WIFSTOPPED(status) {
            self.bound = None;
            return Err(PlatformError::StubDied(status));
        }
        sys::get_regs(tid, &mut regs.gp)?;
        let sig = libc::WSTOPSIG(status);
        if sig == libc::SIGTRAP | 0x80 {
            // `syscall` leaves the return address in rcx and the flags in
            // r11, and the kernel saves both as they are; `int 0x80` leaves
            // them as the program had them. A program that fakes the match
            // only gets the 64-bit call it could have made directly.
            let g = &regs.gp;
            if g.rcx != g.rip || g.r11 != g.eflags {
                return Ok(Event::CompatSyscall);
            }
            return Ok(Event::Syscall);
        }
        if (status >> 16) != 0 {
            return Ok(Event::Interrupted);
        }
        match sig {
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP => {
                let si = sys::siginfo(tid)?;
                if si.si_code <= 0 {
                    // Sent by someone (kill/tgkill), not raised by an instruction.
                    return Ok(Event::Interrupted);
                }
                // SAFETY: for these signals the kernel filled the fault address.
                let addr = unsafe { si.si_addr() } as u64;
                Ok(Event::Fault {
                    signo: sig,
                    code: si.si_code,
                    addr,
                })
            }
            _ => Ok(Event::Interrupted),
        }
    }

    fn flush(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(), PlatformError> {
        let sp = space_of(space);
        match self.bound_tid(sp) {
            Some(tid) => self.apply(sp, tid),
            None => Ok(()),
        }
    }

    fn load_fp(&mut self, regs: &mut Regs) -> Result<(), PlatformError> {
        if regs.fp_len > 0 {
            return Ok(());
        }
        let Some(b) = &self.bound else {
            return Ok(());
        };
        regs.fp_len = sys::get_fp(b.tid, &mut regs.fp)?;
        Ok(())
    }

    fn new_thread(
        &mut self,
        space: &Arc<dyn AddressSpace>,
    ) -> Result<Box<dyn Context>, PlatformError> {
        let sp = space_of(space);
        let tid = self.bind(sp)?;
        let pid = self.bound.as_ref().map(|b| b.pid).unwrap_or(tid);
        let flags = libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM;
        // The saved rip/rsp are restored by the caller's next switch.
        let child = self.inject(
            tid,
            self.stub.clone,
            libc::SYS_clone,
            [flags as u64, 0, 0, 0, 0, 0],
        )?;
        if child <= 0 {
            return Err(PlatformError::StubSyscall {
                nr: libc::SYS_clone,
                errno: (-child) as i32,
            });
        }
        sp.inner.lock().unwrap().live += 1;
        let mut ctx = PtraceContext::new(
            self.stub,
            self.memfd,
            self.cpus.clone(),
            self.stub_filter.clone(),
        );
        ctx.pending_attach = Some((sp as *const PtraceSpace, pid, child as i32));
        Ok(Box::new(ctx))
    }

    fn prepare(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(), PlatformError> {
        self.bind(space_of(space)).map(|_| ())
    }

    fn kicker(&self) -> Arc<dyn Kicker> {
        self.kicker.clone()
    }

    fn set_debug_regs(&mut self, dr: [u64; 8]) -> Result<(), PlatformError> {
        self.debug = Some(dr);
        self.debug_dirty = true;
        Ok(())
    }

    fn debug_status(&mut self) -> u64 {
        match (&self.bound, self.debug) {
            (Some(b), Some(_)) => sys::debug_reg(b.tid, 6).unwrap_or(0),
            _ => 0,
        }
    }

    fn release(&mut self) {
        // A new image (or none) starts without debug registers.
        self.debug = None;
        self.debug_dirty = false;
        if let Some((space, _, tid)) = self.pending_attach.take() {
            // A thread we never adopted: seize it only to end it.
            // Injection starts from the thread's own registers.
            if sys::seize(tid).is_ok()
                && sys::wait(tid).is_ok()
                && sys::get_regs(tid, &mut self.scratch).is_ok()
            {
                match self.inject(tid, self.stub.syscall, libc::SYS_exit, [0; 6]) {
                    Err(PlatformError::StubDied(_)) => {}
                    _ => reap(tid),
                }
            }
            // SAFETY: as for `bound` below: the space outlives its contexts.
            let space = unsafe { &*space };
            space.inner.lock().unwrap().live -= 1;
        }
        let Some(b) = self.bound.take() else {
            return;
        };
        self.kicker.tid.store(0, Ordering::Release);
        // SAFETY: a bound space outlives its contexts: the sentry keeps the
        // Arc alive for as long as any task runs in it, and releases
        // contexts before dropping it.
        let space = unsafe { &*b.space };
        let mut inner = space.inner.lock().unwrap();
        inner.live -= 1;
        if inner.live == 0 {
            let parked = inner.leader_parked;
            drop(inner);
            let _ = self.inject(b.tid, self.stub.syscall, libc::SYS_exit_group, [0; 6]);
            reap(b.tid);
            if parked && b.tid != b.pid {
                reap(b.pid);
            }
        } else if b.tid == b.pid {
            // The leader cannot exit without ending the host thread group's
            // visibility; park it untraced until the last thread leaves.
            inner.leader_parked = true;
            drop(inner);
            self.scratch.rip = self.stub.park;
            self.scratch.orig_rax = u64::MAX;
            let _ = sys::set_regs(b.tid, &self.scratch);
            let _ = sys::detach(b.tid);
        } else {
            drop(inner);
            let _ = self.inject(b.tid, self.stub.syscall, libc::SYS_exit, [0; 6]);
            reap(b.tid);
        }
    }
}

/// Waits until `tid` has exited.
fn reap(tid: i32) {
    loop {
        match sys::wait(tid) {
            Ok(status) if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) => return,
            Ok(_) => {
                let _ = sys::resume(libc::PTRACE_CONT as _, tid, 0);
            }
            Err(_) => return,
        }
    }
}

impl Drop for PtraceContext {
    fn drop(&mut self) {
        self.release();
    }
}
