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
        // Receiving a host fd to map, checking it arrived, and closing a
        // forked stub's copy of its parent's socket.
        any(SYS_recvmsg),
        when(SYS_fcntl, &[&[Arg::Eq(1, F_GETFD as u64)]]),
        any(SYS_close),
        // A new application thread, or a forked process.
        when(
            SYS_clone,
            &[
                &[Arg::Eq(0, STUB_THREAD_CLONE_FLAGS)],
                &[Arg::Eq(0, STUB_FORK_CLONE_FLAGS)],
            ],
        ),
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
    // A stub process is a raw fork (of a sentry thread or of a stub); a
    // stub thread a clone in a stub.
    let stub_fork = STUB_FORK_CLONE_FLAGS;
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

/// Flags of the clone a stub makes for a forked application process: a
/// plain fork.
pub const STUB_FORK_CLONE_FLAGS: u64 = libc::SIGCHLD as u64;

/// Where a stub maps its scratch page: above the stub page, beyond the
/// application's addresses, in one of two slots. A forked stub takes the
/// slot its parent does not use, so the parent can map the child's pages
/// before the fork copies them.
fn scratch_addr(stub: &StubPage, slot: u8) -> u64 {
    stub.base + stub.size() + u64::from(slot) * SLOT_LEN
}

/// Where a stub maps its batch page, read-only: above the scratch page.
/// It is the memory-file page after the scratch page.
fn batch_addr(stub: &StubPage, slot: u8) -> u64 {
    scratch_addr(stub, slot) + PAGE
}

/// A slot's length: the scratch and the batch page.
const SLOT_LEN: u64 = 2 * PAGE;

const PAGE: u64 = 4096;
/// Words per batched call: the number and six arguments.
const BATCH_WORDS: usize = 7;
/// Calls one batch page holds.
const BATCH_MAX: usize = PAGE as usize / (BATCH_WORDS * 8);

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

    fn forks_spaces(&self) -> bool {
        true
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
    /// Closes a host fd in the stub (a forked stub's copy of its parent's
    /// socket, or the child's socket end in the parent).
    Close {
        fd: i32,
    },
    /// A call of the platform's own: receiving a host fd, checking it
    /// arrived, forking.
    Call {
        nr: i64,
        args: [u64; 6],
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
    /// Memory-file offset of the scratch page (0: none); the batch page
    /// follows it.
    scratch: u64,
    /// The space's own batch page is mapped in the stub: until then (a
    /// fresh stub), calls are injected one at a time.
    batch_ready: bool,
    /// Where the scratch and batch pages are (`scratch_addr`).
    slot: u8,
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
        // Mapped first thing once the stub runs: the scratch page
        // read-write (the kernel writes received fd numbers there), the
        // batch page read-only. A stub forked for the space maps them
        // otherwise (`fork_stub`) and drops these.
        self.push(Op::Map {
            addr: scratch_addr(&self.stub, 0),
            len: PAGE,
            prot: libc::PROT_READ | libc::PROT_WRITE,
            off: offset,
        });
        self.push(Op::Map {
            addr: batch_addr(&self.stub, 0),
            len: PAGE,
            prot: libc::PROT_READ,
            off: offset + PAGE,
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
    /// When this context started on its parent's CPU, until it moves to
    /// one of its own.
    local_since: Option<std::time::Instant>,
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
            local_since: None,
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

    /// A new context of the same platform (for a thread or process this
    /// one makes), on the rotor's next CPU.
    fn sibling(&self) -> PtraceContext {
        PtraceContext::new(
            self.stub,
            self.memfd,
            self.cpus.clone(),
            self.stub_filter.clone(),
        )
    }

    /// Moves a fork's child that has run on its parent's CPU for a while
    /// to a CPU of its own, with its stub thread, so that forked workers
    /// run in parallel.
    fn spread(&mut self, tid: i32) {
        const LOCAL: std::time::Duration = std::time::Duration::from_millis(20);
        if self.local_since.is_some_and(|t| t.elapsed() >= LOCAL) {
            self.local_since = None;
            self.cpu = self.cpus.next();
            sys::pin_to_cpu(0, self.cpu);
            sys::pin_to_cpu(tid, self.cpu);
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
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        self.run_stub(tid, site)?;
        Ok(self.scratch.rax as i64)
    }

    /// Runs the stopped stub thread `tid` from `site` with the registers in
    /// `self.scratch` until its trap, and reads them back.
    fn run_stub(&mut self, tid: i32, site: u64) -> Result<(), PlatformError> {
        self.scratch.orig_rax = u64::MAX;
        self.scratch.rip = site;
        sys::set_regs(tid, &self.scratch)?;
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
        sys::get_regs(tid, &mut self.scratch)
    }

    /// Runs `calls` in `tid` from the space's batch page, in order: Ok, or
    /// the index of the first that failed and its errno.
    fn run_batch(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        calls: &[(i64, [u64; 6])],
    ) -> Result<Result<(), (usize, i32)>, PlatformError> {
        if calls.is_empty() {
            return Ok(Ok(()));
        }
        let (off, slot) = {
            let inner = space.inner.lock().unwrap();
            (inner.scratch + PAGE, inner.slot)
        };
        let mut table = Vec::with_capacity(calls.len() * BATCH_WORDS * 8);
        for (nr, args) in calls {
            table.extend_from_slice(&nr.to_ne_bytes());
            for a in args {
                table.extend_from_slice(&a.to_ne_bytes());
            }
        }
        sys::write_memfile(self.memfd, off, &table)?;
        self.scratch.rdi = batch_addr(&self.stub, slot);
        self.scratch.rsi = calls.len() as u64;
        self.scratch.rbx = 0;
        self.run_stub(tid, self.stub.batch)?;
        let done = self.scratch.r14 as usize;
        if done >= calls.len() {
            return Ok(Ok(()));
        }
        Ok(Err((done, -(self.scratch.rax as i64) as i32)))
    }

    /// The stub's fd number for host file `fd`, handing it over on first
    /// use.
    fn stub_fd(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        fd: &Arc<OwnedFd>,
    ) -> Result<i32, PlatformError> {
        let key = Arc::as_ptr(fd) as usize;
        if let Some((_, n)) = space.inner.lock().unwrap().files.get(&key) {
            return Ok(*n);
        }
        let (n, receive) = self.offer(space, fd.as_raw_fd())?;
        let done = self.run_calls(space, tid, receive);
        let mut inner = space.inner.lock().unwrap();
        if let Err(e) = done {
            inner.stub_fds.remove(&n);
            return Err(e);
        }
        inner.files.insert(key, (fd.clone(), n));
        Ok(n)
    }

    /// Sends host fd `fd` on the space's socket and returns the number it
    /// will have in the stub (the lowest free one, taken from now on) and
    /// the calls that receive it there: a recvmsg whose buffers are in the
    /// scratch page, and a check that it arrived, which asks the stub's
    /// own fd table, not the scratch page (the application can write it).
    fn offer(&mut self, space: &PtraceSpace, fd: RawFd) -> Result<(i32, Vec<Op>), PlatformError> {
        let mut inner = space.inner.lock().unwrap();
        let Some((mine, theirs)) = &inner.sock else {
            return Err(PlatformError::Host {
                op: "handing a host fd to a stub",
                err: std::io::Error::from_raw_os_error(libc::ENOTCONN),
            });
        };
        let (sock, theirs) = (mine.as_raw_fd(), *theirs);
        if inner.scratch == 0 {
            return Err(PlatformError::Host {
                op: "handing a host fd to a stub",
                err: std::io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        let n = (0..).find(|n| !inner.stub_fds.contains(n)).unwrap_or(0);
        let at = scratch_addr(&self.stub, inner.slot);
        sys::write_recv_buffers(self.memfd, inner.scratch, at)?;
        sys::send_fd(sock, fd)?;
        inner.stub_fds.insert(n);
        let recv = [theirs as u64, at, libc::MSG_CMSG_CLOEXEC as u64, 0, 0, 0];
        let check = [n as u64, libc::F_GETFD as u64, 0, 0, 0, 0];
        Ok((
            n,
            vec![
                Op::Call {
                    nr: libc::SYS_recvmsg,
                    args: recv,
                },
                Op::Call {
                    nr: libc::SYS_fcntl,
                    args: check,
                },
            ],
        ))
    }

    /// Runs `ops` (none needing a new host fd) in order, as one batch when
    /// the space's batch page is mapped.
    fn run_calls(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        ops: Vec<Op>,
    ) -> Result<(), PlatformError> {
        if space.inner.lock().unwrap().batch_ready {
            let mut batch = Vec::with_capacity(ops.len());
            for op in &ops {
                batch.push(self.call_for(space, tid, op)?);
            }
            let mut ops = ops;
            return self.finish_batch(space, tid, &mut batch, &mut ops);
        }
        for op in ops {
            let call = self.call_for(space, tid, &op)?;
            self.inject_op(space, tid, &op, call)?;
        }
        Ok(())
    }

    /// Runs `op`'s host call `call` alone (no batch page yet).
    fn inject_op(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        op: &Op,
        (nr, args): (i64, [u64; 6]),
    ) -> Result<(), PlatformError> {
        let r = self.inject(tid, self.stub.syscall, nr, args)?;
        if (-4095..0).contains(&r) {
            return Err(op_failed(op, nr, -r as i32));
        }
        self.applied(space, op);
        Ok(())
    }

    fn apply(&mut self, space: &PtraceSpace, tid: i32) -> Result<(), PlatformError> {
        let _order = space.applying.lock().unwrap_or_else(|e| e.into_inner());
        let (mut batch, mut ops) = self.gather(space, tid)?;
        self.finish_batch(space, tid, &mut batch, &mut ops)
    }

    /// Takes the space's queue (with `space.applying` held by the caller)
    /// and runs all of it but a last batch, which it returns unrun, with
    /// its operations. Calls are batched once the space's own batch page
    /// is mapped; a call that needs a new host fd in the stub runs the
    /// batch so far first, so that the lowest free fd number is the one
    /// the sentry computes.
    fn gather(&mut self, space: &PtraceSpace, tid: i32) -> Result<Gathered, PlatformError> {
        let (ops, mut ready, slot) = {
            let mut inner = space.inner.lock().unwrap();
            (
                std::mem::take(&mut inner.ops),
                inner.batch_ready,
                inner.slot,
            )
        };
        let mut batch: Vec<(i64, [u64; 6])> = Vec::new();
        let mut pending: Vec<Op> = Vec::new();
        for op in ops {
            let needs_fd = matches!(&op, Op::MapFile { fd, .. }
                if !space.inner.lock().unwrap().files.contains_key(&(Arc::as_ptr(fd) as usize)));
            if needs_fd || batch.len() == BATCH_MAX {
                self.finish_batch(space, tid, &mut batch, &mut pending)?;
            }
            let call = self.call_for(space, tid, &op)?;
            if ready {
                batch.push(call);
                pending.push(op);
                continue;
            }
            self.inject_op(space, tid, &op, call)?;
            if matches!(op, Op::Map { addr, .. } if addr == batch_addr(&self.stub, slot)) {
                ready = true;
                space.inner.lock().unwrap().batch_ready = true;
            }
        }
        Ok((batch, pending))
    }

    /// Runs the calls gathered for `ops` and empties both.
    fn finish_batch(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        batch: &mut Vec<(i64, [u64; 6])>,
        ops: &mut Vec<Op>,
    ) -> Result<(), PlatformError> {
        let r = self.run_batch(space, tid, batch)?;
        let done = match r {
            Ok(()) => ops.len(),
            Err((i, _)) => i,
        };
        for op in &ops[..done] {
            self.applied(space, op);
        }
        if let Err((i, errno)) = r {
            return Err(op_failed(&ops[i], batch[i].0, errno));
        }
        batch.clear();
        ops.clear();
        Ok(())
    }

    /// The stub's bookkeeping once `op` has run.
    fn applied(&self, space: &PtraceSpace, op: &Op) {
        if let Op::Close { fd } = op {
            space.inner.lock().unwrap().stub_fds.remove(fd);
        }
    }

    /// The host call that carries out `op` in the stub.
    fn call_for(
        &mut self,
        space: &PtraceSpace,
        tid: i32,
        op: &Op,
    ) -> Result<(i64, [u64; 6]), PlatformError> {
        let shared_fixed = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        Ok(match op {
            Op::MapFile {
                addr,
                len,
                prot,
                fd,
                off,
            } => {
                let n = self.stub_fd(space, tid, fd)?;
                (
                    libc::SYS_mmap,
                    [*addr, *len, *prot as u64, shared_fixed, n as u64, *off],
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
                    *addr,
                    *len,
                    *prot as u64,
                    shared_fixed,
                    self.memfd as u64,
                    *off,
                ],
            ),
            Op::Unmap { addr, len } => (libc::SYS_munmap, [*addr, *len, 0, 0, 0, 0]),
            Op::Protect { addr, len, prot } => {
                (libc::SYS_mprotect, [*addr, *len, *prot as u64, 0, 0, 0])
            }
            Op::Close { fd } => (libc::SYS_close, [*fd as u64, 0, 0, 0, 0, 0]),
            Op::Call { nr, args } => (*nr, *args),
        })
    }

    /// Forks the stub of `sp` from its stopped thread `tid` into the new
    /// space `cp`, and returns the new stub's pid; it parks until its
    /// context seizes it. One batch in the parent does it all: the
    /// parent's pending changes (for a fork: nothing else can change it
    /// before the fork copies the result), receiving the child's socket
    /// end, mapping the child's scratch and batch pages in the other slot
    /// (the scratch page inaccessible to the parent), the fork, and
    /// dropping the child's socket and pages again in the parent. The
    /// child's own queue starts by opening its scratch page and dropping
    /// the parent's pages and socket; with `empty` (exec) it also unmaps
    /// the application's range and closes every other inherited fd, and
    /// the parent's pending changes are left for the parent.
    fn fork_stub(
        &mut self,
        sp: &PtraceSpace,
        tid: i32,
        cp: &PtraceSpace,
        empty: bool,
    ) -> Result<i32, PlatformError> {
        let _order = sp.applying.lock().unwrap_or_else(|e| e.into_inner());
        let (pslot, ready) = {
            let p = sp.inner.lock().unwrap();
            (p.slot, p.batch_ready)
        };
        let cscratch = cp.inner.lock().unwrap().scratch;
        // The clone must run from the batch entry, which parks the child.
        if cscratch == 0 || !ready {
            return Err(PlatformError::Host {
                op: "forking a stub without its scratch and batch pages",
                err: std::io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        let cslot = 1 - pslot;
        // A fork's parent applies what it has pending first (handing over
        // any host fds that needs before the child's socket end).
        let (mut batch, mut ops) = if empty {
            Default::default()
        } else {
            self.gather(sp, tid)?
        };
        // A close still to run would free a number below the one `offer`
        // picks, and the received fd would take it.
        if ops.iter().any(|op| matches!(op, Op::Close { .. })) {
            self.finish_batch(sp, tid, &mut batch, &mut ops)?;
        }
        let (mine, theirs) = sys::seqpacket_pair()?;
        let (n, mut tail) = self.offer(sp, theirs.as_raw_fd())?;
        drop(theirs);
        let (cs, cb) = (
            scratch_addr(&self.stub, cslot),
            batch_addr(&self.stub, cslot),
        );
        tail.extend([
            Op::Map {
                addr: cs,
                len: PAGE,
                prot: libc::PROT_NONE,
                off: cscratch,
            },
            Op::Map {
                addr: cb,
                len: PAGE,
                prot: libc::PROT_READ,
                off: cscratch + PAGE,
            },
            Op::Call {
                nr: libc::SYS_clone,
                args: [STUB_FORK_CLONE_FLAGS, 0, 0, 0, 0, 0],
            },
            Op::Unmap {
                addr: cs,
                len: SLOT_LEN,
            },
            Op::Close { fd: n },
        ]);
        // All in one batch: the clone's result is only known from it.
        let mut done = Ok(());
        if batch.len() + tail.len() > BATCH_MAX {
            done = self.finish_batch(sp, tid, &mut batch, &mut ops);
        }
        self.scratch.rbx = 0;
        if done.is_ok() {
            for op in tail {
                match self.call_for(sp, tid, &op) {
                    Ok(call) => batch.push(call),
                    Err(e) => done = Err(e),
                }
                ops.push(op);
            }
        }
        if done.is_ok() {
            done = self.finish_batch(sp, tid, &mut batch, &mut ops);
        }
        // The clone's result; 0 when it never ran.
        let pid = self.scratch.rbx as i64;
        if let Err(e) = done {
            self.undo_fork(sp, tid, cp, n, cs, pid);
            return Err(e);
        }
        let pid = pid as i32;
        let parent = sp.inner.lock().unwrap();
        let mut c = cp.inner.lock().unwrap();
        c.pid = pid;
        c.live = 1;
        c.slot = cslot;
        c.batch_ready = true;
        // What the fork copied: the parent's fds then, its socket end too.
        c.stub_fds = parent.stub_fds.clone();
        c.stub_fds.insert(n);
        let mut first = vec![
            Op::Protect {
                addr: cs,
                len: PAGE,
                prot: libc::PROT_READ | libc::PROT_WRITE,
            },
            Op::Unmap {
                addr: scratch_addr(&self.stub, pslot),
                len: SLOT_LEN,
            },
        ];
        if empty {
            first.push(Op::Unmap {
                addr: 0,
                len: self.stub.base,
            });
            first.extend(
                c.stub_fds
                    .iter()
                    .filter(|&&fd| fd != n && fd != self.memfd)
                    .map(|&fd| Op::Close { fd }),
            );
        } else {
            c.files = parent.files.clone();
            if let Some((_, old)) = &parent.sock {
                first.push(Op::Close { fd: *old });
            }
        }
        // The maps `set_scratch` queued are the parent's work now.
        let own = [scratch_addr(&self.stub, 0), batch_addr(&self.stub, 0)];
        c.ops
            .retain(|op| !matches!(op, Op::Map { addr, .. } if own.contains(addr)));
        c.ops.splice(0..0, first);
        c.sock = Some((mine, n));
        Ok(pid)
    }

    /// Cleans up after a `fork_stub` that failed: the child's socket end
    /// and pages in the parent, and the child itself if it was made.
    fn undo_fork(
        &mut self,
        sp: &PtraceSpace,
        tid: i32,
        cp: &PtraceSpace,
        n: i32,
        cs: u64,
        pid: i64,
    ) {
        if sp.inner.lock().unwrap().stub_fds.contains(&n) {
            // Received or not: the stub's fd table says.
            let probe = [n as u64, libc::F_GETFD as u64, 0, 0, 0, 0];
            match self.inject(tid, self.stub.syscall, libc::SYS_fcntl, probe) {
                Ok(r) if r >= 0 => sp.push(Op::Close { fd: n }),
                _ => {
                    sp.inner.lock().unwrap().stub_fds.remove(&n);
                }
            }
        }
        sp.push(Op::Unmap {
            addr: cs,
            len: SLOT_LEN,
        });
        if pid > 0 {
            // Forked, then something after failed: the child never runs.
            cp.inner.lock().unwrap().live = 1;
            let mut end = self.sibling();
            end.pending_attach = Some((cp as *const PtraceSpace, pid as i32, pid as i32));
            drop(end);
        }
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
        self.spread(tid);
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
        let mut ctx = self.sibling();
        ctx.pending_attach = Some((sp as *const PtraceSpace, pid, child as i32));
        Ok(Box::new(ctx))
    }

    fn fork_space(
        &mut self,
        space: &Arc<dyn AddressSpace>,
        child: &Arc<dyn AddressSpace>,
    ) -> Result<Box<dyn Context>, PlatformError> {
        let (sp, cp) = (space_of(space), space_of(child));
        let tid = self.bind(sp)?;
        let pid = self.fork_stub(sp, tid, cp, false)?;
        let mut ctx = self.sibling();
        // A fork's child starts on its parent's CPU: most wait for it or
        // exit soon, and a hand-off across CPUs costs six times more here.
        // One that keeps running moves on (`spread`).
        ctx.cpu = self.cpu;
        ctx.local_since = Some(std::time::Instant::now());
        ctx.pending_attach = Some((cp as *const PtraceSpace, pid, pid));
        Ok(Box::new(ctx))
    }

    fn replace_space(&mut self, old: &Arc<dyn AddressSpace>, new: &Arc<dyn AddressSpace>) {
        let (op, np) = (space_of(old), space_of(new));
        let fresh = np.inner.lock().unwrap().pid == 0;
        let child = match self.bound_tid(op) {
            Some(tid) if fresh => match self.fork_stub(op, tid, np, true) {
                Ok(pid) => Some(pid),
                Err(e) => {
                    tracing::debug!("exec: forking the old stub failed, spawning one: {e}");
                    None
                }
            },
            _ => None,
        };
        self.release();
        if let Some(pid) = child {
            self.pending_attach = Some((np as *const PtraceSpace, pid, pid));
        }
    }

    fn prepare(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(), PlatformError> {
        self.bind(space_of(space)).map(|_| ())
    }

    fn adopts(&self) -> bool {
        self.pending_attach.is_some()
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

/// A batch gathered and not yet run: the calls and their operations.
type Gathered = (Vec<(i64, [u64; 6])>, Vec<Op>);

/// The error of a mapping operation the stub refused.
fn op_failed(op: &Op, nr: i64, errno: i32) -> PlatformError {
    tracing::warn!(?op, errno, "stub mapping operation failed");
    PlatformError::StubSyscall { nr, errno }
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
