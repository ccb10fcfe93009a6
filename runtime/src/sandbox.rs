//! Confining `husk boot`: an unprivileged id in a user namespace of its
//! own, own namespaces and an empty read-only root (its seccomp policy is
//! in `crate::seccomp`). Everything the sentry touches on the host after
//! this is an fd it already holds.

use std::ffi::CStr;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{what}: {err}")]
    Host {
        what: &'static str,
        err: std::io::Error,
    },
}

fn check(r: libc::c_int, what: &'static str) -> Result<(), SandboxError> {
    if r < 0 {
        Err(SandboxError::Host {
            what,
            err: std::io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// The host id the sandbox runs as (nobody), as gVisor's sandbox does.
pub const SANDBOX_ID: u32 = 65534;

/// Host ids mapped into the sandbox's user namespace (all of them), each to itself, so
/// that the owners of host files the sentry stats itself (the direct path)
/// read as they are. The sandbox holds no capability once it runs (see
/// [`become_nobody`]), so the mapping grants nothing.
const MAPPED_IDS: u32 = u32::MAX;

/// Enters a user namespace of the sandbox's own, while still root: the
/// mount, network, IPC and UTS namespaces made next belong to it, and the
/// sandbox's capabilities in them are not capabilities on the host. A
/// child that stays in the host's namespace writes the id maps (only a
/// writer with CAP_SETUID there may map more than its own id). Must run
/// while the process is single-threaded.
pub fn enter_user_namespace() -> Result<(), SandboxError> {
    let me = std::fs::File::open("/proc/self").map_err(|err| SandboxError::Host {
        what: "opening /proc/self",
        err,
    })?;
    let mut go = [0i32; 2];
    // SAFETY: pipe2 into a two-int array.
    let r = unsafe { libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) };
    check(r, "pipe2")?;
    // SAFETY: the process is single-threaded; the child only reads, opens
    // and writes, then leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SandboxError::Host {
            what: "fork",
            err: std::io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        let mut b = [0u8; 1];
        // SAFETY: reading one byte into a local buffer.
        let ok =
            unsafe { libc::read(go[0], b.as_mut_ptr().cast(), 1) } == 1 && write_maps(&me).is_ok();
        // SAFETY: leaving the helper child.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    // SAFETY: unshare with flags only; then one byte to the helper.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    let err = std::io::Error::last_os_error();
    // SAFETY: a one-byte write to the pipe, then closing both ends.
    unsafe {
        libc::write(go[1], b"u".as_ptr().cast(), if r == 0 { 1 } else { 0 });
        libc::close(go[1]);
        libc::close(go[0]);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != 0 {
        return Err(SandboxError::Host {
            what: "unshare(CLONE_NEWUSER)",
            err,
        });
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(SandboxError::Host {
            what: "writing the user namespace's id maps",
            err: std::io::Error::from_raw_os_error(libc::EPERM),
        });
    }
    Ok(())
}

/// The helper's part: identity maps of [`MAPPED_IDS`] ids, written through
/// the sandbox's /proc directory.
fn write_maps(proc_dir: &std::fs::File) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let line = format!("0 0 {MAPPED_IDS}\n");
    for name in [c"uid_map", c"gid_map"] {
        // SAFETY: openat beneath a directory fd we hold, a constant name.
        let fd = unsafe {
            libc::openat(
                proc_dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the fd was just opened and is owned here.
        let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        f.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Becomes `SANDBOX_ID` with no capability left, once the namespaces and
/// the empty root are made: from here on the sentry reaches host files
/// only through the fds it holds (and, on the direct path, what "other"
/// may read; the gofer serves the rest).
pub fn become_nobody() -> Result<(), SandboxError> {
    let id = SANDBOX_ID;
    // Nothing but the id changes may remain in the bounding set (they are
    // needed just below, and the set matters only across exec, which the
    // seccomp policy refuses).
    crate::caps::keep_only(&[crate::caps::CAP_SETUID, crate::caps::CAP_SETGID]).map_err(|e| {
        SandboxError::Host {
            what: "dropping capabilities",
            err: std::io::Error::other(e.to_string()),
        }
    })?;
    // SAFETY: credential calls with plain arguments.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()), "setgroups")?;
        check(libc::setresgid(id, id, id), "setresgid")?;
        // Leaving uid 0 clears the permitted and effective sets.
        check(libc::setresuid(id, id, id), "setresuid")?;
        // The id change made the process non-dumpable: its stubs, which
        // run as the same id, could not be traced by it.
        check(
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0),
            "PR_SET_DUMPABLE",
        )?;
    }
    Ok(())
}

/// New mount, network (unless `keep_netns`), IPC, UTS and cgroup
/// namespaces; the root becomes an empty read-only tmpfs. Must run while
/// the process is single-threaded.
pub fn enter_empty_root(keep_netns: bool) -> Result<(), SandboxError> {
    let c = |s: &'static CStr| s.as_ptr();
    let net = if keep_netns { 0 } else { libc::CLONE_NEWNET };
    // SAFETY: plain syscalls with constant, NUL-terminated arguments.
    unsafe {
        check(
            libc::unshare(
                libc::CLONE_NEWNS
                    | net
                    | libc::CLONE_NEWIPC
                    | libc::CLONE_NEWUTS
                    | libc::CLONE_NEWCGROUP,
            ),
            "unshare",
        )?;
        check(
            libc::mount(
                std::ptr::null(),
                c(c"/"),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making mounts private",
        )?;
        // /tmp serves as the mount point; in this private namespace the
        // host's /tmp is untouched.
        check(
            libc::mount(
                c(c"none"),
                c(c"/tmp"),
                c(c"tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c(c"size=4k,mode=0555").cast(),
            ),
            "mounting the empty root",
        )?;
        check(libc::chroot(c(c"/tmp")), "chroot")?;
        check(libc::chdir(c(c"/")), "chdir")?;
        check(
            libc::mount(
                std::ptr::null(),
                c(c"/"),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                std::ptr::null(),
            ),
            "remounting the root read-only",
        )?;
    }
    Ok(())
}
