//! A container's terminal: a host pty whose master goes to the caller's
//! console socket (`--console-socket`, as runc sends it) and whose slave
//! is the sandbox's stdio; the sandbox relays it to a pty of its own.

use anyhow::{Context, Result};
use std::io::IoSlice;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A new pty: (master, slave), of `size` (rows, columns) when given.
pub fn open_pty(size: Option<(u16, u16)>) -> Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).context("openpt")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = ptsname(&master, Vec::new()).context("ptsname")?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context("opening the pty's slave")?;
    // The sandbox's own pty does the line discipline: this one passes
    // bytes through, as `husk do` sets the host terminal.
    let mut t = rustix::termios::tcgetattr(&slave).context("tcgetattr")?;
    t.make_raw();
    rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &t)
        .context("tcsetattr")?;
    if let Some((rows, cols)) = size {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws).context("setting the console's size")?;
    }
    Ok((master, slave))
}

/// Sends `master` over the unix socket at `path`, as runc does (one byte
/// of data, the fd as SCM_RIGHTS).
pub fn send_master(path: &Path, master: &OwnedFd) -> Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let sock = UnixStream::connect(path)
        .with_context(|| format!("--console-socket {}", path.display()))?;
    let fds = [master.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    anc.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        &sock,
        &[IoSlice::new(b"/dev/ptmx")],
        &mut anc,
        SendFlags::empty(),
    )
    .with_context(|| format!("sending the console to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_reaches_the_socket_and_talks_to_the_slave() {
        let dir = std::env::temp_dir().join(format!("husk-console-test-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (m, s) = open_pty(Some((33, 101))).unwrap();
        send_master(&path, &m).unwrap();
        drop(m);
        let (c, _) = l.accept().unwrap();
        let (_, got) = crate::oci::control::recv(&c).unwrap();
        assert_eq!(got.len(), 1);
        let ws = rustix::termios::tcgetwinsize(&s).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        rustix::io::write(&got[0], b"x\n").unwrap();
        let mut r = [0u8; 8];
        let n = rustix::io::read(&s, &mut r).unwrap();
        assert_eq!(&r[..n], b"x\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
