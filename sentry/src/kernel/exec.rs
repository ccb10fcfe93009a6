//! execve and the signal-delivery step that runs before every return to
//! the application.

use super::ctx::Ctx;
use super::lifecycle::{default_signal, release_vfork};
use super::ptrace;
use super::setid::{ExecFile, Execed, FileCaps, Guard};
use super::signal::{self, default_action, SIG_DFL, SIG_IGN};
use super::{Creds, KState, Kernel};
use crate::errno::{Errno, KResult};
use crate::fs::file::File;
use crate::fs::vfs::{Walker, XattrOp};
use crate::loader::elf::{self, Elf};
use crate::loader::{build_stack, StackInfo};
use crate::memfile::{page_up, PAGE};
use crate::mm::Mm;
use parking_lot::MutexGuard;
use platform::{Context, Regs};
use std::sync::Arc;

/// personality(2)'s flag for a fixed memory layout.
pub const ADDR_NO_RANDOMIZE: u32 = 0x0004_0000;

/// Finds `name` along PATH (from `envp`) when it has no slash.
pub fn search_path(ctx: &mut Ctx<'_, '_>, name: &[u8], envp: &[Vec<u8>]) -> KResult<Vec<u8>> {
    if name.contains(&b'/') {
        return Ok(name.to_vec());
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
    for dir in path.split(|&c| c == b':') {
        let mut cand = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        cand.push(b'/');
        cand.extend_from_slice(name);
        if let Ok(r) = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &cand, true) {
            if r.stat
                .is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFREG)
            {
                return Ok(cand);
            }
        }
    }
    Err(Errno::ENOENT)
}

struct Image {
    file: Arc<File>,
    path: Vec<u8>,
    ids: (u64, u64),
    /// Its set-ID owners and file capabilities.
    privs: ExecFile,
}

/// The image of an open file, checked as `open_exec` checks a path's; a
/// file not open for reading (O_PATH) is opened again.
fn image_of(w: &Walker<'_>, creds: &Creds, f: &Arc<File>) -> KResult<Image> {
    let stat = f.stat()?;
    let noexec = f
        .place()
        .is_some_and(|p| p.mount.flags & libc::MS_NOEXEC != 0);
    may_run(w, creds, &stat, noexec)?;
    let file = if f.readable() {
        f.clone()
    } else if let Some(ops) = f.ops.reopen(libc::O_RDONLY) {
        File::new(ops?, libc::O_RDONLY, f.name.path())
    } else {
        let path = f.place().ok_or(Errno::EACCES)?.path();
        let r = w.c.vfs.resolve_in(w, libc::AT_FDCWD, &path, false, 0)?;
        w.c.vfs.open_resolved_by(&w.c, &r, libc::O_RDONLY, 0)?
    };
    let privs = match f.place() {
        Some(p) => {
            let nosuid = p.mount.flags & libc::MS_NOSUID != 0;
            let (rel, live) = p.rel();
            let fs = &p.mount.fs;
            exec_file(&stat, nosuid, || {
                live.then(|| fs.xattr(&w.c, &rel, &FCAPS_GET))
            })?
        }
        None => ExecFile::default(),
    };
    Ok(image(
        file,
        f.place().map_or_else(|| f.path(), |p| p.display()),
        &stat,
        privs,
    ))
}

/// Reading a file's capabilities.
const FCAPS_GET: XattrOp<'static> = XattrOp::Get(b"security.capability");

/// What the file brings to exec's credentials: set-ID owners from its
/// mode, and the capabilities `fcaps` reads (none when it has none or
/// its filesystem keeps none; EINVAL when they are malformed, as Linux).
fn exec_file(
    stat: &crate::fs::Stat,
    nosuid: bool,
    fcaps: impl FnOnce() -> Option<KResult<Vec<u8>>>,
) -> KResult<ExecFile> {
    let mut f = ExecFile::of(stat.mode, stat.uid, stat.gid, nosuid);
    if !nosuid {
        if let Some(Ok(v)) = fcaps() {
            f.fcaps = Some(FileCaps::parse(&v)?);
        }
    }
    Ok(f)
}

fn open_exec(k: &Kernel, w: &Walker<'_>, creds: &Creds, dirfd: i32, path: &[u8]) -> KResult<Image> {
    let r = k.vfs.resolve_in(w, dirfd, path, true, 0)?;
    // /proc/PID/fd/N of a file with no path to walk: that file (its own
    // mount's noexec counts, not /proc's).
    if let Some(f) = &r.reopen {
        return image_of(w, creds, f);
    }
    let stat = r.stat.ok_or(Errno::ENOENT)?;
    may_run(w, creds, &stat, r.mount.flags & libc::MS_NOEXEC != 0)?;
    let file = k.vfs.open_resolved_by(&w.c, &r, libc::O_RDONLY, 0)?;
    let nosuid = r.mount.flags & libc::MS_NOSUID != 0;
    let privs = exec_file(&stat, nosuid, || {
        Some(r.mount.fs.xattr(&w.c, &r.rel, &FCAPS_GET))
    })?;
    Ok(image(file, r.path.clone(), &stat, privs))
}

/// What execve asks of every file it runs: a regular file the caller may
/// execute, not on a noexec mount, not open for writing.
fn may_run(w: &Walker<'_>, creds: &Creds, stat: &crate::fs::Stat, noexec: bool) -> KResult<()> {
    if stat.mode & libc::S_IFMT != libc::S_IFREG
        || !crate::fs::vfs::may(creds, stat, crate::fs::vfs::MAY_EXEC)
        || noexec
    {
        return Err(Errno::EACCES);
    }
    w.c.vfs.write_access.check_runnable((stat.dev, stat.ino))
}

/// An image opened for reading: Linux opens and reads it like any file
/// (inotify sees it).
fn image(file: Arc<File>, path: Vec<u8>, stat: &crate::fs::Stat, privs: ExecFile) -> Image {
    file.note(crate::fs::inotify::IN_OPEN);
    file.note(crate::fs::inotify::IN_ACCESS);
    Image {
        file,
        path,
        ids: (stat.dev, stat.ino),
        privs,
    }
}

/// execve(2)/execveat(2). On success the calling task runs the new image.
pub fn do_execve(
    ctx: &mut Ctx<'_, '_>,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> KResult<()> {
    do_execveat(ctx, libc::AT_FDCWD, path, argv, envp)
}

pub fn do_execveat(
    ctx: &mut Ctx<'_, '_>,
    dirfd: i32,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> KResult<()> {
    let creds = ctx.proc_ref().creds.clone();
    let limit = Some(arg_limit(ctx));
    let hidden = dirfd != libc::AT_FDCWD
        && path.first() != Some(&b'/')
        && ctx
            .task_ref()
            .files
            .lock()
            .fds
            .get(&dirfd)
            .is_some_and(|e| e.cloexec);
    let src = Source::Path {
        dirfd,
        path,
        hidden,
    };
    let guard = Some(guard(ctx, &creds));
    let prep = prepare_from(ctx.k, &ctx.walker(), &creds, guard, src, limit, argv, envp)?;
    commit(ctx, prep)
}

/// What may keep exec from raising the caller's privileges: its
/// no_new_privs, a tracer without CAP_SYS_PTRACE over its namespace
/// (the tracer's present credentials, where Linux keeps those it
/// attached with), and an fs context another process shares.
fn guard(ctx: &Ctx<'_, '_>, creds: &Creds) -> Guard {
    let tracer = ctx.task_ref().ptrace.as_ref().map(|t| t.tracer);
    let untrusted_tracer = tracer.is_some_and(|t| {
        ctx.st.procs.get(&t).is_none_or(|tp| {
            !tp.creds
                .capable_in(&creds.userns, super::creds::cap::SYS_PTRACE)
        })
    });
    // The fs context shared with a task of another process (threads of
    // this one go at exec).
    let (fs, tgid) = (&ctx.task_ref().fs, ctx.tgid());
    let shared_fs = ctx
        .st
        .tasks
        .values()
        .any(|t| t.tgid != tgid && Arc::ptr_eq(&t.fs, fs));
    Guard {
        no_new_privs: ctx.proc_ref().no_new_privs,
        untrusted_tracer,
        shared_fs,
    }
}

/// How much argv, envp and their pointers may take (Linux's
/// bprm_stack_limits): a quarter of RLIMIT_STACK, at least 128 KiB and
/// at most 6 MiB.
fn arg_limit(ctx: &Ctx<'_, '_>) -> u64 {
    let stack = ctx.proc_ref().rlimits[libc::RLIMIT_STACK as usize].0;
    (stack / 4).clamp(ARG_MIN, ARG_MAX)
}

/// Linux's ARG_MAX (the floor) and three quarters of _STK_LIM (the cap).
const ARG_MIN: u64 = 128 << 10;
const ARG_MAX: u64 = 6 << 20;

/// execveat(fd, "", AT_EMPTY_PATH): the open file `f` itself, even when
/// it has no name any more (a memfd, a deleted file). `cloexec`: the fd
/// closes at exec, so a script's interpreter could not open /dev/fd/N.
pub fn do_execve_fd(
    ctx: &mut Ctx<'_, '_>,
    fd: i32,
    f: Arc<File>,
    cloexec: bool,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> KResult<()> {
    let creds = ctx.proc_ref().creds.clone();
    let src = Source::Fd { fd, f, cloexec };
    let limit = Some(arg_limit(ctx));
    let guard = Some(guard(ctx, &creds));
    let prep = prepare_from(ctx.k, &ctx.walker(), &creds, guard, src, limit, argv, envp)?;
    commit(ctx, prep)
}

/// What execve runs: a path, or an open file.
enum Source<'p> {
    Path {
        dirfd: i32,
        path: &'p [u8],
        /// The path is relative to a close-on-exec dirfd: a script's
        /// interpreter could not open /dev/fd/N/... (ENOENT).
        hidden: bool,
    },
    Fd {
        fd: i32,
        f: Arc<File>,
        cloexec: bool,
    },
}

/// What execve makes before its point of no return: the new address
/// space with the image and its interpreter loaded and the stack built.
pub struct ExecPrep {
    mm: Arc<Mm>,
    entry: u64,
    sp: u64,
    /// The executable's path (/proc/pid/exe) and the name executed.
    exe: Vec<u8>,
    /// The name `comm` becomes: the name executed's last component, or
    /// for an fd executed itself (fexecve, AT_EMPTY_PATH) the file's own
    /// name, as Linux 6.14's comm_from_dentry.
    comm: Vec<u8>,
    /// The credentials it was checked and built for.
    creds: Creds,
    /// The credentials it runs with.
    execed: Execed,
}

impl ExecPrep {
    /// Whether it still fits the caller: a setuid by another thread since
    /// means checking and building again.
    pub fn fits(&self, ctx: &Ctx<'_, '_>) -> bool {
        ctx.proc_ref().creds == self.creds
    }
}

/// An interpreter line ("#!" first) as Linux's binfmt_script reads it
/// from the file's first 256 bytes (the last not used): the interpreter
/// and its one optional argument, split at the first space or tab;
/// only spaces and tabs are trimmed (a CR is part of the name); ENOEXEC
/// without a name, or when a name without a newline may be truncated.
fn shebang(head: &[u8; 256]) -> KResult<(Vec<u8>, Option<Vec<u8>>)> {
    let spacetab = |c: u8| c == b' ' || c == b'\t';
    let term = |c: u8| spacetab(c) || c == 0;
    let buf_end = head.len() - 1;
    let mut end = match head.iter().position(|&c| c == b'\n') {
        Some(i) => i,
        None => {
            let start = (2..buf_end)
                .find(|&i| !spacetab(head[i]))
                .ok_or(Errno::ENOEXEC)?;
            if !(start..buf_end).any(|i| term(head[i])) {
                return Err(Errno::ENOEXEC);
            }
            buf_end
        }
    };
    while end > 2 && spacetab(head[end - 1]) {
        end -= 1;
    }
    let name = (2..end)
        .find(|&i| !spacetab(head[i]))
        .ok_or(Errno::ENOEXEC)?;
    let sep = (name..end).find(|&i| term(head[i]));
    let interp = head[name..sep.unwrap_or(end)].to_vec();
    if interp.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let arg = sep.filter(|&s| head[s] != 0).and_then(|s| {
        let a = (s..end).find(|&i| !spacetab(head[i]))?;
        let stop = (a..end).find(|&i| head[i] == 0).unwrap_or(end);
        Some(head[a..stop].to_vec())
    });
    Ok((interp, arg))
}

/// The part of execve before its point of no return, for a caller with
/// `creds` walking with `w` (with or without the kernel lock: a walk
/// that needs it answers NEEDLOCK). Changes nothing the caller can see.
pub fn prepare(
    k: &Arc<Kernel>,
    w: &Walker<'_>,
    creds: &Creds,
    dirfd: i32,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> KResult<ExecPrep> {
    let src = Source::Path {
        dirfd,
        path,
        hidden: false,
    };
    prepare_from(k, w, creds, None, src, None, argv, envp)
}

/// `limit`: what the arguments may take (`arg_limit`); None without the
/// kernel lock, where anything past the floor is left to the locked
/// handler (NEEDLOCK), which knows the caller's RLIMIT_STACK.
/// `guard`: None where the caller's no_new_privs and tracer are not
/// known (without the kernel lock), left to the locked handler when they
/// would count.
#[allow(clippy::too_many_arguments)]
fn prepare_from(
    k: &Arc<Kernel>,
    w: &Walker<'_>,
    creds: &Creds,
    guard: Option<Guard>,
    src: Source<'_>,
    limit: Option<u64>,
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> KResult<ExecPrep> {
    // The name executed, as Linux's bprm->filename: what the script
    // interpreter is given and what `comm` becomes.
    let execfn = match &src {
        Source::Path { dirfd, path, .. }
            if *dirfd == libc::AT_FDCWD || path.first() == Some(&b'/') =>
        {
            path.to_vec()
        }
        Source::Path {
            dirfd, path: [], ..
        } => format!("/dev/fd/{dirfd}").into_bytes(),
        Source::Path { dirfd, path, .. } => {
            let mut v = format!("/dev/fd/{dirfd}/").into_bytes();
            v.extend_from_slice(path);
            v
        }
        Source::Fd { fd, .. } => format!("/dev/fd/{fd}").into_bytes(),
    };
    let by_fd = matches!(src, Source::Fd { .. } | Source::Path { path: [], .. });
    // No argv at all is one empty argument (Linux 5.18).
    if argv.is_empty() {
        argv.push(Vec::new());
    }
    let (mut img, unreachable) = match &src {
        Source::Path {
            dirfd,
            path,
            hidden,
        } => (open_exec(k, w, creds, *dirfd, path)?, *hidden),
        Source::Fd { f, cloexec, .. } => (image_of(w, creds, f)?, *cloexec),
    };
    let mut script_arg = execfn.clone();
    // Interpreter scripts, up to five levels deep.
    for depth in 0.. {
        let mut head = [0u8; 256];
        let n = img.file.read_at(&mut head, 0)?;
        if n < 2 || &head[..2] != b"#!" {
            break;
        }
        if depth >= 5 {
            return Err(Errno::ELOOP);
        }
        // The interpreter would be given a /dev/fd name closed by then.
        if unreachable {
            return Err(Errno::ENOENT);
        }
        let (interp, arg) = shebang(&head)?;
        let mut nargv = vec![interp.clone()];
        nargv.extend(arg);
        nargv.push(std::mem::replace(&mut script_arg, interp.clone()));
        nargv.extend(argv.into_iter().skip(1));
        argv = nargv;
        img = open_exec(k, w, creds, libc::AT_FDCWD, &interp)?;
    }
    // Set-ID and file capabilities of the program itself (a script's
    // are not looked at: its interpreter is what runs).
    let execed = creds.execed(&img.privs, guard)?;
    let new = &execed.creds;
    // The arguments, the name and their pointers must fit the limit.
    let strings: usize = argv.iter().chain(&envp).map(|s| s.len() + 1).sum();
    let need = (strings + execfn.len() + 1 + (argv.len() + envp.len()) * 8) as u64;
    match limit {
        None if need > ARG_MIN => return Err(Errno::NEEDLOCK),
        Some(l) if need > l => return Err(Errno::E2BIG),
        _ => {}
    }
    // The program may not be written while it runs, nor run while open
    // for writing.
    let exe_hold = k.vfs.write_access.deny(img.ids)?;
    let elf = Elf::parse(img.file.as_ref())?;
    let interp = match elf.interp(img.file.as_ref())? {
        Some(p) => Some(open_exec(k, w, creds, libc::AT_FDCWD, &p)?),
        None => None,
    };

    // Build the new address space before the point of no return.
    let mm = Mm::new(k.platform.new_address_space(), k.memfile.clone());
    let main = elf::load(
        &mm,
        img.file.as_ref(),
        &elf,
        Some(0x5555_5555_4000),
        &img.file.name,
        img.ids,
        img.file.ops.mappable_fd(),
    )?;
    let (entry, base) = match &interp {
        Some(i) => {
            let ie = Elf::parse(i.file.as_ref())?;
            let l = elf::load(
                &mm,
                i.file.as_ref(),
                &ie,
                None,
                &i.file.name,
                i.ids,
                i.file.ops.mappable_fd(),
            )?;
            (l.entry, l.bias)
        }
        None => (main.entry, 0),
    };
    {
        let mut s = mm.state.lock();
        s.brk_start = page_up(main.end);
        s.brk = s.brk_start;
        s.code_range = main.code;
        s.data_range = main.data;
        s.exe = img.path.clone();
        s.exe_hold = Some(Arc::new(exe_hold));
        s.exe_file = Some(img.file.clone());
    }
    k.vdso.map_into(&mm)?;
    let mut random = [0u8; 16];
    getrandom(&mut random);
    // SAFETY: getauxval reads the sentry's own auxiliary vector.
    let (hwcap, hwcap2, minsig) = unsafe {
        (
            libc::getauxval(libc::AT_HWCAP),
            libc::getauxval(libc::AT_HWCAP2),
            libc::getauxval(51),
        )
    };
    let vdso_base = mm.state.lock().vdso_base;
    let mut auxv = vec![
        (libc::AT_SYSINFO_EHDR, vdso_base),
        (51, minsig.max(2048)),
        (libc::AT_HWCAP, hwcap),
        (libc::AT_PAGESZ, PAGE),
        (libc::AT_CLKTCK, 100),
        (libc::AT_PHDR, main.phdr),
        (libc::AT_PHENT, 56),
        (libc::AT_PHNUM, main.phnum),
        (libc::AT_BASE, base),
        (libc::AT_FLAGS, 0),
        (libc::AT_ENTRY, main.entry),
        (libc::AT_UID, u64::from(new.userns.uid_shown(new.ruid))),
        (libc::AT_EUID, u64::from(new.userns.uid_shown(new.euid))),
        (libc::AT_GID, u64::from(new.userns.gid_shown(new.rgid))),
        (libc::AT_EGID, u64::from(new.userns.gid_shown(new.egid))),
        (libc::AT_SECURE, u64::from(execed.secure)),
    ];
    auxv.push((libc::AT_HWCAP2, hwcap2));
    let top = mm.max_addr() - 0x10_0000;
    let sp = build_stack(
        &mm,
        top,
        StackInfo {
            argv: &argv,
            envp: &envp,
            execfn: &execfn,
            auxv,
            random,
            exec: elf.exec_stack(),
        },
    )?;

    let named = if by_fd {
        let p = &img.path;
        p.strip_suffix(b" (deleted)").unwrap_or(p)
    } else {
        &execfn[..]
    };
    let comm: Vec<u8> = named
        .rsplit(|&c| c == b'/')
        .next()
        .unwrap_or(b"")
        .iter()
        .take(15)
        .copied()
        .collect();
    Ok(ExecPrep {
        mm,
        entry,
        sp,
        exe: img.path,
        comm,
        creds: creds.clone(),
        execed,
    })
}

/// execve's point of no return: other threads go, the task takes the
/// leader's id and runs the prepared image.
pub fn commit(ctx: &mut Ctx<'_, '_>, prep: ExecPrep) -> KResult<()> {
    let ExecPrep {
        mm,
        entry,
        sp,
        exe,
        comm,
        execed,
        ..
    } = prep;
    de_thread(ctx)?;
    let tgid = ctx.tgid();
    let old_tid = ctx.tid;
    // PTRACE_EVENT_EXEC's message: the former id as the tracer sees it,
    // taken before that id goes.
    let old_seen = ctx.st.tracer_sees(old_tid, old_tid);
    if ctx.tid != tgid {
        let mut t = ctx.st.tasks.remove(&ctx.tid).unwrap();
        t.tid = tgid;
        t.vtid = t.vtgid;
        if let Some(tracer) = t.ptrace.as_ref().map(|tr| tr.tracer) {
            if let Some(tp) = ctx.st.procs.get_mut(&tracer) {
                for x in tp.tracees.iter_mut().filter(|x| **x == old_tid) {
                    *x = tgid;
                }
            }
        }
        ctx.st.tasks.insert(tgid, t);
        // The thread's own id goes; it has the leader's now.
        ctx.st.release_id(old_tid);
        let p = ctx.st.procs.get_mut(&tgid).unwrap();
        p.threads = vec![tgid];
        ctx.tid = tgid;
    }
    // exec enters the time namespace made for children (`unshare -T
    // cmd`), as Linux's exec_task_namespaces; in one below the first,
    // clocks are read by system calls (the shared vDSO page has no
    // offsets).
    let t = ctx.task_ref();
    if !Arc::ptr_eq(&t.time_ns, &t.time_ns_children) {
        let n = t.time_ns_children.clone();
        n.freeze();
        ctx.task().time_ns = n;
    }
    if !ctx.task_ref().time_ns.is_first() {
        let _ = ctx.k.vdso.map_fallback(&mm);
    }
    {
        let t = ctx.task();
        t.mm = mm.clone();
        t.comm = comm;
        t.clear_child_tid = 0;
        // The parent may not signal a privileged image by dying.
        if execed.secure {
            t.pdeathsig = 0;
        }
        t.robust_list = 0;
        t.alt_stack = (0, 0, signal::SS_DISABLE);
        let files = t.files.clone();
        // An fd table shared with another process must be unshared first.
        let mut ft = files.lock().clone();
        ft.close_on_exec();
        t.files = Arc::new(parking_lot::Mutex::new(ft));
    }
    release_vfork(&mut ctx.st, ctx.tid);
    {
        let p = ctx.proc_();
        p.exe = exe;
        p.execed = true;
        // AIO contexts belong to the old address space.
        for (_, c) in std::mem::take(&mut p.aio) {
            c.destroy();
        }
        // The ids and capability sets as exec makes them; keepcaps does
        // not last.
        let before = p.creds.caps.permitted;
        p.creds = execed.creds;
        p.keepcaps = false;
        if execed.secure {
            // A privileged image gets a sane stack limit, whatever the
            // caller left it.
            let stack = &mut p.rlimits[libc::RLIMIT_STACK as usize];
            stack.0 = stack.0.min(8 << 20);
        }
        // A new image is dumpable again unless its ids are mixed or its
        // permitted set grew (what Linux counts as a secure exec).
        let c = &p.creds;
        let grew = c.caps.permitted & !before != 0;
        p.dumpable = u64::from(c.euid == c.ruid && c.egid == c.rgid && !grew);
        if p.dumpable == 0 {
            // PER_CLEAR_ON_SETID.
            p.personality &= !ADDR_NO_RANDOMIZE;
        }
        let mut h = p.sighand.lock().to_owned();
        // Ignored signals stay ignored; every flag, mask and restorer goes.
        for a in h.iter_mut() {
            let ignored = a.handler == SIG_IGN;
            *a = Default::default();
            if ignored {
                a.handler = SIG_IGN;
            }
        }
        p.sighand = Arc::new(parking_lot::Mutex::new(h));
    }
    // POSIX timers end with the image (interval timers do not).
    super::timers::delete_posix(&mut ctx.st, tgid);
    let new_space = mm.space.clone();
    let old = std::mem::replace(&mut ctx.mm, mm);
    // The old stub ends without the kernel lock: that waits for the host
    // to tear a process down. Its CPU time and peak size are the
    // process's.
    let pctx = &mut *ctx.pctx;
    let (old_user, old_rss) = MutexGuard::unlocked(&mut ctx.st, || {
        let acct = (old.space.cpu_time_ns(), super::cpu::rss_kb_recent(&old));
        pctx.replace_space(&old.space, &new_space);
        drop(old);
        acct
    });
    if let Some(p) = ctx.st.procs.get_mut(&tgid) {
        p.dead_times.0 += old_user;
        p.maxrss_kb = p.maxrss_kb.max(old_rss);
    }
    let r = &mut ctx.regs.gp;
    // The call (execve or execveat) is still the one being made: a tracer
    // sees its number, and -ENOSYS until it returns 0.
    let nr = r.orig_rax;
    // SAFETY: plain integers.
    *r = unsafe { std::mem::zeroed() };
    r.rip = entry;
    r.rsp = sp;
    r.cs = 0x33;
    r.ss = 0x2b;
    r.eflags = 0x202;
    r.orig_rax = nr;
    r.rax = crate::num::bits(-i64::from(libc::ENOSYS));
    ctx.regs.fp_len = 0;
    ctx.regs.fp_dirty = false;
    ctx.no_return = true;
    // Debug registers do not outlive the image (the platform's went
    // with the old stub).
    if let Some(tr) = ctx.task().ptrace.as_mut() {
        tr.debugreg = [0; 8];
        tr.debug_changed = false;
    }
    // A tracee reports the exec: an event stop when asked for, else
    // (attached the old way) a SIGTRAP.
    let (tid, msg) = (ctx.tid, crate::num::bits(i64::from(old_seen)));
    match ctx
        .task_ref()
        .ptrace
        .as_ref()
        .map(|tr| (tr.seized, tr.has(ptrace::O_TRACEEXEC)))
    {
        Some((_, true)) => {
            let ev = ptrace::EVENT_EXEC;
            ptrace::event(&mut ctx.st, tid, ctx.regs, ctx.pctx, ev, 0, msg);
        }
        Some((false, false)) => {
            let info = signal::SigInfo::user(libc::SIGTRAP, signal::SI_USER, 0, 0);
            signal::send_to_thread(&mut ctx.st, tid, info);
        }
        _ => {}
    }
    ctx.regs.gp.rax = 0;
    Ok(())
}

/// Kills the other threads of the caller's process and waits until they
/// are gone.
/// The other threads go before the exec goes on. A thread that another
/// thread's exec or an exit_group is already taking away gives up
/// (EAGAIN; it exits on its way out, as its kill says), as Linux's
/// de_thread does when a group exit is in progress: two threads exec'ing
/// at once used to wait for each other for ever.
fn de_thread(ctx: &mut Ctx<'_, '_>) -> KResult<()> {
    let me = ctx.tid;
    let tgid = ctx.tgid();
    let taken = |ctx: &Ctx<'_, '_>| {
        let p = ctx.proc_ref();
        ctx.task_ref().killed || p.group_exit.is_some() || p.execing.is_some_and(|e| e != me)
    };
    if taken(ctx) {
        return Err(Errno::EAGAIN);
    }
    let others: Vec<i32> = ctx.st.procs[&tgid]
        .threads
        .iter()
        .copied()
        .filter(|&t| t != me)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    ctx.proc_().execing = Some(me);
    for t in &others {
        if let Some(task) = ctx.st.tasks.get_mut(t) {
            task.killed = true;
        }
        signal::kick(&ctx.st, *t);
    }
    // Each exiting thread wakes this one (`exit_thread_finish`).
    let w = ctx.wait_start();
    while ctx.st.procs[&tgid].threads.iter().any(|&t| t != me) {
        ctx.sleep_through_signals(&w);
        w.rearm();
    }
    ctx.proc_().execing = None;
    Ok(())
}

fn getrandom(buf: &mut [u8]) {
    // SAFETY: filling our own buffer.
    unsafe {
        libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0);
    }
}

const SYS_RESTART: u64 = 219;

fn restart_syscall_regs(regs: &mut Regs, handler_ran: bool, sa_restart: bool) {
    let g = &mut regs.gp;
    if g.orig_rax == u64::MAX {
        return;
    }
    let e = -crate::num::sbits(g.rax);
    let restart = match e {
        512 => !handler_ran || sa_restart,
        513 => true,
        514 => !handler_ran,
        516 => {
            if !handler_ran {
                g.rax = SYS_RESTART;
                g.rip -= 2;
                g.orig_rax = u64::MAX;
                return;
            }
            false
        }
        _ => return,
    };
    if restart {
        g.rax = g.orig_rax;
        g.rip -= 2;
    } else {
        g.rax = crate::num::bits(-libc::EINTR as i64);
    }
    g.orig_rax = u64::MAX;
}

/// The trap a tracee owes before it looks at its signals: a
/// PTRACE_INTERRUPT, the end of a group stop it listened to, or the
/// report of a group stop its tracer has not seen.
fn ptrace_trap(
    st: &mut KState,
    tid: i32,
    stopped: bool,
    gen: u64,
    stop_sig: i32,
) -> Option<(ptrace::StopKind, i32)> {
    let tr = st.tasks.get_mut(&tid)?.ptrace.as_mut()?;
    let event_stop = ptrace::StopKind::Event(ptrace::EVENT_STOP);
    let sig = if stopped { stop_sig } else { libc::SIGTRAP };
    if tr.interrupt {
        tr.interrupt = false;
        tr.listening = false;
        return Some((event_stop, sig));
    }
    if tr.listening {
        if stopped {
            return None;
        }
        tr.listening = false;
        return Some((event_stop, sig));
    }
    (stopped && tr.group_gen != gen).then_some((ptrace::StopKind::Group, stop_sig))
}

/// Before returning to the application: handles group exit, stops and
/// pending signals. Returns false when the task must exit.
pub fn signals_and_exit(
    st: &mut MutexGuard<'_, KState>,
    tid: i32,
    regs: &mut Regs,
    pctx: &mut Box<dyn Context>,
) -> bool {
    if let Some(t) = st.tasks.get(&tid) {
        // Whatever a kick announced is handled below, under the lock.
        t.waiter
            .signalled
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
    loop {
        let Some(t) = st.tasks.get(&tid) else {
            return false;
        };
        let tgid = t.tgid;
        if t.killed || st.procs[&tgid].group_exit.is_some() {
            return false;
        }
        let (stopped, gen, stop_sig) = {
            let p = &st.procs[&tgid];
            (p.stopped, p.stop_gen, p.stop_sig)
        };
        if let Some(trap) = ptrace_trap(st, tid, stopped, gen, stop_sig) {
            let (kind, sig) = trap;
            if kind == ptrace::StopKind::Group {
                if let Some(tr) = st.tasks.get_mut(&tid).and_then(|t| t.ptrace.as_mut()) {
                    tr.group_gen = gen;
                }
            }
            ptrace::stop(st, tid, regs, pctx, ptrace::Report::of(kind, sig));
            continue;
        }
        let t = &st.tasks[&tid];
        // A tracee its tracer let run goes on through its group's stop.
        let let_run = t
            .ptrace
            .as_ref()
            .is_some_and(|tr| !tr.listening && tr.group_gen == gen);
        if stopped && !let_run {
            // SIGCONT and SIGKILL kick every thread of the process.
            let waiter = t.waiter.clone();
            waiter.arm();
            if st.procs[&tgid].stopped {
                MutexGuard::unlocked(st, || waiter.sleep(None));
            }
            continue;
        }
        let mask = t.sig_mask.get();
        let info = signal::dequeue(st, tid, tgid, mask);
        // A tracee stops first; its tracer decides what is delivered.
        let info = match info {
            Some(i) if i.signo != signal::SIGKILL && ptrace::tracer_of(st, tid).is_some() => {
                match ptrace::stop(st, tid, regs, pctx, ptrace::Report::signal(i)) {
                    None => continue,
                    Some((_, 0, _)) => continue,
                    Some((_, sig, changed)) => {
                        let mut i = changed.unwrap_or(i);
                        if sig != i.signo {
                            let tracer = ptrace::tracer_of(st, tid).unwrap_or(0);
                            let uid = st.procs.get(&tracer).map_or(0, |p| p.creds.ruid);
                            i = signal::SigInfo::user(sig, signal::SI_USER, tracer, uid);
                        }
                        if st.tasks[&tid].sig_mask.get() & signal::bit(sig) != 0 {
                            signal::send_to_thread(st, tid, i);
                            continue;
                        }
                        Some(i)
                    }
                }
            }
            other => other,
        };
        let Some(info) = info else {
            restart_syscall_regs(regs, false, false);
            let t = st.tasks.get_mut(&tid).unwrap();
            if let Some(m) = t.saved_mask.take() {
                t.sig_mask.set(m);
            }
            return true;
        };
        let sig = info.signo;
        let sighand = st.procs[&tgid].sighand.clone();
        let act = sighand.lock()[crate::num::sig_index(sig)];
        if act.handler == SIG_IGN {
            continue;
        }
        if act.handler == SIG_DFL {
            if signal::init_discards(st, tgid, &info) {
                continue;
            }
            let d = default_action(sig);
            if !default_signal(st, tid, sig, d) {
                return false;
            }
            continue;
        }
        restart_syscall_regs(regs, true, act.flags & signal::SA_RESTART != 0);
        if pctx.load_fp(regs).is_err() {
            return false;
        }
        let t = st.tasks.get_mut(&tid).unwrap();
        let old_mask = t.saved_mask.take().unwrap_or(t.sig_mask.get());
        let mm = t.mm.clone();
        let alt = t.alt_stack;
        let disarm =
            alt.2 & signal::SS_AUTODISARM != 0 && signal::switches_stack(regs.gp.rsp, &act, alt);
        if signal::setup_frame(&mm, regs, &act, &info, old_mask, alt).is_err() {
            // The frame could not be written: a SIGSEGV the task cannot catch.
            super::lifecycle::group_exit(st, tgid, signal::fatal_info(libc::SIGSEGV));
            return false;
        }
        let t = st.tasks.get_mut(&tid).unwrap();
        if disarm {
            // SS_AUTODISARM: sigreturn restores it from the frame.
            t.alt_stack = (0, 0, signal::SS_DISABLE);
        }
        let mut m = t.sig_mask.get() | act.mask;
        if act.flags & signal::SA_NODEFER == 0 {
            m |= signal::bit(sig);
        }
        t.sig_mask.set(m & !signal::UNBLOCKABLE);
        // SA_RESETHAND resets the handler; the flags stay, as Linux's do.
        if act.flags & signal::SA_RESETHAND != 0 {
            sighand.lock()[crate::num::sig_index(sig)].handler = signal::SIG_DFL;
        }
        // Like Linux, keep delivering: later frames stack on this one.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &[u8]) -> [u8; 256] {
        let mut h = [0u8; 256];
        h[..s.len()].copy_from_slice(s);
        h
    }

    #[test]
    fn interpreter_lines_parse_as_linux_reads_them() {
        let p = |s: &[u8]| shebang(&line(s));
        assert_eq!(p(b"#!/bin/sh\n"), Ok((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            p(b"#! /usr/bin/env  python3 -u \nrest"),
            Ok((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        // A CR stays part of the name; tabs separate.
        assert_eq!(p(b"#!/bin/sh\r\n"), Ok((b"/bin/sh\r".to_vec(), None)));
        assert_eq!(
            p(b"#!/a\tb c\n"),
            Ok((b"/a".to_vec(), Some(b"b c".to_vec())))
        );
        // A NUL ends the name; no newline is fine when the name ends.
        assert_eq!(p(b"#!/bin/true"), Ok((b"/bin/true".to_vec(), None)));
        assert_eq!(p(b"#!   \n"), Err(Errno::ENOEXEC));
        let mut long = vec![b'#', b'!', b'/'];
        long.extend(std::iter::repeat_n(b'y', 300));
        assert_eq!(p(&long[..256]), Err(Errno::ENOEXEC));
    }
}
