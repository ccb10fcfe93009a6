//! `husk gofer`: confines itself to the container root and serves file
//! operations on the sockets it was handed, one thread per CPU.

use crate::{caps, seccomp};
use anyhow::{Context, Result};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct GoferArgs {
    /// The sockets to serve on (inherited fds), one per CPU.
    #[arg(long, value_delimiter = ',', required = true)]
    fd: Vec<i32>,
    /// The container root.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Refuse every change to the filesystem.
    #[arg(long)]
    read_only: bool,
    /// A bind mount: `ro` or `rw`, the destination inside the root, and
    /// the host source (repeated for each).
    #[arg(long, num_args = 3, value_names = ["MODE", "DEST", "SOURCE"])]
    bind: Vec<String>,
}

pub fn run(a: GoferArgs) -> Result<i32> {
    crate::close_other_fds(&a.fd);
    // The sandbox applied its umask to the modes it asks for; the
    // caller's must not apply again.
    rustix::process::umask(rustix::fs::Mode::empty());
    let socks: Vec<OwnedFd> =
        a.fd.iter()
            // SAFETY: the fds were handed to this process by its parent for this use.
            .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
            .collect();
    // SAFETY: PR_SET_PDEATHSIG on ourselves: the gofer dies with its parent.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Confine while still single-threaded (unshare needs it). Any step
    // that fails stops the gofer: it never serves unconfined.
    let t0 = std::time::Instant::now();
    enter_namespaces().context("gofer namespaces")?;
    tracing::debug!(us = t0.elapsed().as_micros() as u64, "gofer namespaces");
    let binds: Vec<gofer::Bind> = a
        .bind
        .chunks_exact(3)
        .map(|b| gofer::Bind {
            read_only: b[0] == "ro",
            dest: PathBuf::from(&b[1]),
            source: PathBuf::from(&b[2]),
        })
        .collect();
    let confined = gofer::confine(&a.root, a.read_only, &binds)
        .with_context(|| format!("confining the gofer to {}", a.root.display()))?;
    tracing::debug!(
        sealed = confined.sealed,
        us = t0.elapsed().as_micros() as u64,
        "gofer confined"
    );
    let mut keep = vec![
        caps::CAP_DAC_OVERRIDE,
        caps::CAP_DAC_READ_SEARCH,
        caps::CAP_FOWNER,
    ];
    if !a.read_only {
        // Creations owned by the caller, setgid and whiteout nodes.
        keep.extend([caps::CAP_CHOWN, caps::CAP_FSETID, caps::CAP_MKNOD]);
    }
    caps::keep_only(&keep).context("dropping the gofer's capabilities")?;
    let policy = seccomp::compile(&seccomp::gofer_policy()).context("gofer seccomp policy")?;
    seccomp::install(
        &policy,
        seccomp::Who::Gofer,
        crate::logging::report_fd(),
        false,
    )
    .context("installing the gofer's seccomp filter")?;
    let opts = gofer::ServeOptions {
        read_only: a.read_only,
        donate_root: confined.may_donate_root(a.read_only),
    };
    let root = confined.root;
    let mut threads = Vec::new();
    for (cpu, sock) in socks.into_iter().enumerate() {
        let root = root.try_clone().context("duplicating the root fd")?;
        threads.push(std::thread::spawn(move || {
            pin(cpu);
            gofer::serve(root, sock, opts)
        }));
    }
    for t in threads {
        match t.join() {
            Ok(r) => r.context("gofer")?,
            Err(_) => anyhow::bail!("a gofer thread panicked"),
        }
    }
    Ok(0)
}

/// Serves each connection on one CPU, next to the sentry threads using it.
fn pin(cpu: usize) {
    // SAFETY: cpu_set_t is plain data handled through libc's helpers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Namespaces of the gofer's own: no network at all, its own IPC, UTS and
/// cgroup, and a pid namespace in which it is pid 1 and sees no host process. A
/// pid namespace takes effect for children only, so the process forks:
/// the child goes on as the gofer and the parent waits for it and exits
/// with its status (killing the parent kills the child: PDEATHSIG).
fn enter_namespaces() -> Result<()> {
    let flags = libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP;
    // SAFETY: unshare takes no pointers.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(std::io::Error::last_os_error()).context("unshare");
    }
    // SAFETY: the process is single-threaded here, so the child may go on
    // running Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("fork");
    }
    if pid == 0 {
        // SAFETY: prctl on ourselves; the death signal is not inherited.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        return Ok(());
    }
    // The parent holds nothing the gofer needs: only the wait remains, with
    // no capabilities and a filter that allows little more than the wait.
    crate::close_other_fds(&[]);
    confine_waiter().context("confining the gofer's waiter")?;
    let mut status = 0;
    loop {
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid
            || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            break;
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code);
}

/// The waiter that stays in the host's pid namespace: no capabilities,
/// NoNewPrivs, and only the calls of waiting and exiting.
fn confine_waiter() -> Result<()> {
    caps::keep_only(&[])?;
    let policy = seccomp::compile(&seccomp::waiter_policy())?;
    seccomp::install(
        &policy,
        seccomp::Who::Gofer,
        crate::logging::report_fd(),
        false,
    )?;
    Ok(())
}
