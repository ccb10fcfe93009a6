//! `husk gofer`: confines itself to the container root and serves file
//! operations on the sockets it was handed, one thread per CPU.

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
}

pub fn run(a: GoferArgs) -> Result<i32> {
    crate::close_other_fds(&a.fd);
    let socks: Vec<OwnedFd> =
        a.fd.iter()
            // SAFETY: the fds were handed to this process by its parent for this use.
            .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
            .collect();
    // SAFETY: PR_SET_PDEATHSIG on ourselves: the gofer dies with its parent.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Confine while still single-threaded (unshare needs it).
    let confined = gofer::confine(&a.root, a.read_only)
        .with_context(|| format!("confining the gofer to {}", a.root.display()))?;
    tracing::debug!(
        pivoted = confined.pivoted,
        sealed = confined.sealed,
        "gofer confined"
    );
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
