//! `husk gofer`: confines itself to the container root and serves file
//! operations on the socket it was handed.

use anyhow::{Context, Result};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct GoferArgs {
    /// The socket to serve on (inherited fd).
    #[arg(long)]
    fd: i32,
    /// The container root.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Refuse every change to the filesystem.
    #[arg(long)]
    read_only: bool,
}

pub fn run(a: GoferArgs) -> Result<i32> {
    // SAFETY: fd was handed to this process by its parent for this use.
    let sock = unsafe { OwnedFd::from_raw_fd(a.fd) };
    // SAFETY: PR_SET_PDEATHSIG on ourselves: the gofer dies with its parent.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let root = gofer::confine(&a.root)
        .with_context(|| format!("confining the gofer to {}", a.root.display()))?;
    gofer::serve(
        root,
        sock,
        gofer::ServeOptions {
            read_only: a.read_only,
        },
    )
    .context("gofer")?;
    Ok(0)
}
