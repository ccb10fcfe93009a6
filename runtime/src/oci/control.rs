//! The control socket between a container's monitor and its sandbox (a
//! SOCK_SEQPACKET pair; one message each):
//!
//! * sandbox → monitor: `r` (ready), `p` pid (an exec started), `f`
//!   errno (it failed), `x` pid status (a process from outside exited);
//! * monitor → sandbox: `k` signal all (a signal from the host), `e` JSON
//!   with three fds (start a process: a `bundle::Process`, its stdio), `u`
//!   memory pids (new limits from `update`; u64 each, `u64::MAX` for
//!   unchanged).
//!
//! Numbers are little-endian i32. The sandbox trusts the monitor (it
//! started it), but still bounds what it reads.

use anyhow::{Context, Result};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

/// The largest message either side sends.
pub const MAX_MESSAGE: usize = 1 << 20;

/// A message from the sandbox.
#[derive(Debug, PartialEq, Eq)]
pub enum FromSandbox {
    Ready,
    Started(i32),
    Failed(i32),
    Exited(i32, i32),
}

fn int(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl FromSandbox {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match *self {
            FromSandbox::Ready => v.push(b'r'),
            FromSandbox::Started(p) => {
                v.push(b'p');
                v.extend(p.to_le_bytes());
            }
            FromSandbox::Failed(e) => {
                v.push(b'f');
                v.extend(e.to_le_bytes());
            }
            FromSandbox::Exited(p, s) => {
                v.push(b'x');
                v.extend(p.to_le_bytes());
                v.extend(s.to_le_bytes());
            }
        }
        v
    }

    pub fn decode(b: &[u8]) -> Option<FromSandbox> {
        Some(match *b.first()? {
            b'r' => FromSandbox::Ready,
            b'p' => FromSandbox::Started(int(b, 1)?),
            b'f' => FromSandbox::Failed(int(b, 1)?),
            b'x' => FromSandbox::Exited(int(b, 1)?, int(b, 5)?),
            _ => return None,
        })
    }
}

/// A request from the monitor (an exec's three fds travel beside it).
#[derive(Debug, PartialEq, Eq)]
pub enum ToSandbox {
    /// A signal from the host: to the first process, or to every one.
    Signal { sig: u8, all: bool },
    /// Start a process: a `bundle::Process` as JSON.
    Exec(Vec<u8>),
    /// New limits: the memory size in bytes, the most tasks (0: none).
    Update {
        memory: Option<u64>,
        pids: Option<u64>,
    },
}

fn long(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl ToSandbox {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ToSandbox::Signal { sig, all } => vec![b'k', *sig, u8::from(*all)],
            ToSandbox::Exec(json) => {
                let mut v = vec![b'e'];
                v.extend_from_slice(json);
                v
            }
            ToSandbox::Update { memory, pids } => {
                let mut v = vec![b'u'];
                v.extend(memory.unwrap_or(u64::MAX).to_le_bytes());
                v.extend(pids.unwrap_or(u64::MAX).to_le_bytes());
                v
            }
        }
    }

    pub fn decode(b: &[u8]) -> Option<ToSandbox> {
        match b {
            [b'k', sig, all] => Some(ToSandbox::Signal {
                sig: *sig,
                all: *all != 0,
            }),
            [b'e', json @ ..] => Some(ToSandbox::Exec(json.to_vec())),
            [b'u', rest @ ..] if rest.len() == 16 => {
                let some = |v: u64| (v != u64::MAX).then_some(v);
                Some(ToSandbox::Update {
                    memory: some(long(rest, 0)?),
                    pids: some(long(rest, 8)?),
                })
            }
            _ => None,
        }
    }
}

/// Sends `data` with `fds` on a socket.
pub fn send(sock: &impl AsFd, data: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        anc.push(SendAncillaryMessage::ScmRights(fds));
    }
    sendmsg(sock, &[IoSlice::new(data)], &mut anc, SendFlags::NOSIGNAL)
        .context("the control socket")?;
    Ok(())
}

/// Receives one message (at most `MAX_MESSAGE` bytes) and up to three
/// fds; an empty message is the other side's end.
pub fn recv(sock: &impl AsFd) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let r = recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut buf)],
        &mut anc,
        RecvFlags::CMSG_CLOEXEC,
    )
    .context("the control socket")?;
    let fds: Vec<OwnedFd> = anc
        .drain()
        .filter_map(|m| match m {
            RecvAncillaryMessage::ScmRights(f) => Some(f.collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    buf.truncate(r.bytes);
    Ok((buf, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_messages_round_trip() {
        for m in [
            FromSandbox::Ready,
            FromSandbox::Started(42),
            FromSandbox::Failed(2),
            FromSandbox::Exited(7, 137),
        ] {
            assert_eq!(FromSandbox::decode(&m.encode()), Some(m));
        }
        assert_eq!(FromSandbox::decode(b"x\x01"), None);
        assert_eq!(FromSandbox::decode(b""), None);
        for m in [
            ToSandbox::Signal { sig: 15, all: true },
            ToSandbox::Update {
                memory: Some(1 << 30),
                pids: None,
            },
            ToSandbox::Update {
                memory: None,
                pids: Some(0),
            },
            ToSandbox::Exec(serde_json::to_vec(&crate::oci::bundle::Process::default()).unwrap()),
        ] {
            assert_eq!(ToSandbox::decode(&m.encode()), Some(m));
        }
        assert_eq!(ToSandbox::decode(b"k\x0f"), None);
        assert_eq!(ToSandbox::decode(b"u\x01\x02"), None);
    }

    #[test]
    fn fds_travel_with_a_message() {
        use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        send(&a, b"e{}", &[r.as_fd(), w.as_fd(), w.as_fd()]).unwrap();
        let (data, fds) = recv(&b).unwrap();
        assert_eq!(data, b"e{}");
        assert_eq!(fds.len(), 3);
        rustix::io::write(&fds[1], b"z").unwrap();
        let mut x = [0u8; 1];
        rustix::io::read(&fds[0], &mut x).unwrap();
        assert_eq!(&x, b"z");
    }
}
