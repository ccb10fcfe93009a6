//! Confining `husk boot`: own namespaces and an empty read-only root (its
//! seccomp policy is in `crate::seccomp`). Everything the sentry touches on
//! the host after this is an fd it already holds.

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

/// New mount, network, IPC and UTS namespaces; the root becomes an empty
/// read-only tmpfs. Must run while the process is single-threaded.
pub fn enter_empty_root() -> Result<(), SandboxError> {
    let c = |s: &'static CStr| s.as_ptr();
    // SAFETY: plain syscalls with constant, NUL-terminated arguments.
    unsafe {
        check(
            libc::unshare(
                libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS,
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
