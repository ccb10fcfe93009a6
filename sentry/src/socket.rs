//! Sockets: what every socket family implements. The syscall layer
//! decodes arguments, calls these, and encodes results; it never looks at
//! a family's types. AF_UNIX sockets (`crate::unix`) implement it; the
//! network stack's AF_INET/AF_INET6 sockets are to plug in here.
//!
//! `send` and `recv` are one attempt each: EAGAIN when they would wait,
//! and the caller waits on the file's queues (`FileOps::wait_queues`)
//! unless it must not. A socket's plain read and write are its receive
//! and send without flags. Addresses are the application's
//! `struct sockaddr` bytes, decoded by the family.

use crate::errno::{Errno, KResult};
use crate::fs::file::{File, FileOps};
use crate::kernel::Ctx;
use std::sync::Arc;

/// The largest address a family accepts (`sizeof(struct sockaddr_storage)`).
pub const ADDR_MAX: usize = 128;

/// The identity (device, inode) of the file a path names.
pub type NodeId = (u64, u64);

/// SO_PEERCRED and SCM_CREDENTIALS: a process id and its effective ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    /// `struct ucred` as the kernel writes it.
    pub fn bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.uid.to_ne_bytes());
        b[8..].copy_from_slice(&self.gid.to_ne_bytes());
        b
    }
}

/// What a send carries beside its bytes.
#[derive(Default)]
pub struct Ancillary {
    /// SCM_RIGHTS: open files, in order.
    pub rights: Vec<Arc<File>>,
    /// The sender's credentials (SCM_CREDENTIALS given, or its own).
    pub creds: Option<Ucred>,
    /// An IP datagram's destination (IP_PKTINFO, IPV6_PKTINFO).
    pub dst: Option<std::net::SocketAddr>,
    /// The source address a sender asks for (IP_PKTINFO's ipi_spec_dst,
    /// IPV6_PKTINFO's address, on a send).
    pub src: Option<std::net::IpAddr>,
    /// An IP datagram's TTL or hop limit, and TOS or traffic class: on a
    /// send, what IP_TTL and IP_TOS control messages ask for; queued, the
    /// header's.
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    /// On a send, IPV6_HOPLIMIT's and IPV6_TCLASS's.
    pub hoplimit: Option<u8>,
    pub tclass: Option<u8>,
}

/// What one receive took.
#[derive(Default)]
pub struct Received {
    pub data: Vec<u8>,
    /// A packet's whole length (more than `data` when it was cut short).
    pub len: usize,
    /// The sender's address (empty: none to report).
    pub from: Vec<u8>,
    pub rights: Vec<Arc<File>>,
    pub creds: Option<Ucred>,
    /// An IP datagram's destination, and when a datagram was queued.
    pub dst: Option<std::net::SocketAddr>,
    pub stamp: Option<std::time::SystemTime>,
    /// An IP datagram's header TTL (hop limit) and TOS (traffic class).
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    /// Control messages in the kernel's layout beside rights and
    /// credentials: a host socket's as the host wrote them, or an IP
    /// datagram's packet info and timestamps.
    pub control: Vec<u8>,
    /// The host cut those short (MSG_CTRUNC).
    pub control_truncated: bool,
    /// Nothing came because reading was shut down. A datagram socket's
    /// receive that would not wait is EAGAIN then; one that would, 0.
    pub shut: bool,
}

pub trait Socket: Send + Sync {
    /// AF_UNIX, AF_INET, ...
    fn family(&self) -> i32;
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ...
    fn kind(&self) -> i32;
    fn protocol(&self) -> i32 {
        0
    }
    /// The filesystem path `addr` names, for a family whose names live in
    /// the file tree (AF_UNIX): the syscall layer creates the node (bind)
    /// or looks it up (connect, sendto) and passes its identity.
    fn fs_name(&self, addr: &[u8]) -> KResult<Option<Vec<u8>>> {
        let _ = addr;
        Ok(None)
    }
    fn bind(&self, ctx: &Ctx<'_, '_>, addr: &[u8], node: Option<NodeId>) -> KResult<()>;
    fn listen(&self, ctx: &Ctx<'_, '_>, backlog: i32) -> KResult<()>;
    /// A pending connection as a new socket, or EAGAIN (the caller waits
    /// on the socket's queues for readability).
    fn accept(&self) -> KResult<Box<dyn FileOps>>;
    /// Connects. EAGAIN: the other side has no room now; with
    /// `connect_again` a blocking caller waits for writability and
    /// tries again. A non-blocking connect that goes on in the background
    /// gives EINPROGRESS.
    fn connect(&self, ctx: &Ctx<'_, '_>, addr: &[u8], node: Option<NodeId>) -> KResult<()>;
    fn connect_again(&self) -> bool {
        false
    }
    /// Whether a non-blocking connect reports EINPROGRESS even when it
    /// completes at once (TCP's does, whatever the peer).
    fn connects_in_background(&self) -> bool {
        false
    }
    /// Whether a connect that returned is still in its handshake: a
    /// blocking caller waits for writability, then reports SO_ERROR.
    fn connect_pending(&self) -> bool {
        false
    }
    /// A non-blocking connect that could not finish now (`err`: EAGAIN
    /// for a full backlog, ECONNREFUSED) goes on in the background, as
    /// TCP's handshake would: the outcome shows in poll and SO_ERROR.
    /// False when the socket does not do that (the caller returns `err`).
    fn connect_in_background(&self, err: Errno) -> bool {
        let _ = err;
        false
    }
    /// SHUT_RD, SHUT_WR or SHUT_RDWR; waiters are notified.
    fn shutdown(&self, how: i32) -> KResult<()>;
    /// The socket's own address (getsockname).
    fn sockname(&self) -> KResult<Vec<u8>>;
    /// The peer's address (getpeername): ENOTCONN when there is none.
    fn peername(&self) -> KResult<Vec<u8>>;
    /// One send of `data` (to `to`, with the node its path names, for
    /// unconnected datagrams) with `anc`: how much was taken, EAGAIN when
    /// nothing fits now.
    fn send(
        &self,
        ctx: &Ctx<'_, '_>,
        data: &[u8],
        to: Option<(&[u8], Option<NodeId>)>,
        anc: Ancillary,
    ) -> KResult<usize>;
    /// One receive of at most `max` bytes (`peek`: leave them queued):
    /// EAGAIN when there is nothing yet.
    fn recv(&self, max: usize, peek: bool) -> KResult<Received>;
    /// Whether received messages report their sender's credentials
    /// (SO_PASSCRED).
    fn passes_creds(&self) -> bool {
        false
    }
    /// SO_RCVTIMEO (or SO_SNDTIMEO with `send`): how long a blocking call
    /// may wait before it gives EAGAIN; None: for ever.
    fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        let _ = send;
        None
    }
    /// An option's value, as the kernel writes it (ENOPROTOOPT when
    /// unknown).
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        generic_option(self, level, name)
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        let _ = (level, name, value);
        Err(Errno::ENOPROTOOPT)
    }
}

/// The SOL_SOCKET options every socket answers the same way.
pub fn generic_option<S: Socket + ?Sized>(s: &S, level: i32, name: i32) -> KResult<Vec<u8>> {
    if level != libc::SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    let v: i32 = match name {
        libc::SO_TYPE => s.kind(),
        libc::SO_DOMAIN => s.family(),
        libc::SO_PROTOCOL => s.protocol(),
        libc::SO_ERROR | libc::SO_ACCEPTCONN => 0,
        _ => return Err(Errno::ENOPROTOOPT),
    };
    Ok(v.to_ne_bytes().to_vec())
}

/// The SOL_SOCKET options a socket keeps whatever its family: flags
/// reported back as set (SO_REUSEADDR, SO_KEEPALIVE, ...), SO_LINGER and
/// the SO_RCVTIMEO/SO_SNDTIMEO timeouts, which blocking calls honour.
#[derive(Default, Clone)]
pub struct SockOpts {
    ints: std::collections::BTreeMap<i32, i32>,
    linger: [i32; 2],
    rcvtimeo: Option<std::time::Duration>,
    sndtimeo: Option<std::time::Duration>,
}

/// Options kept as an int (`true`: a flag, reported as 0 or 1).
const INT_OPTS: [(i32, bool); 16] = [
    (libc::SO_DEBUG, true),
    (libc::SO_REUSEADDR, true),
    (libc::SO_DONTROUTE, true),
    (libc::SO_BROADCAST, true),
    (libc::SO_KEEPALIVE, true),
    (libc::SO_OOBINLINE, true),
    (libc::SO_NO_CHECK, true),
    (libc::SO_PRIORITY, false),
    (libc::SO_REUSEPORT, true),
    (libc::SO_RCVLOWAT, false),
    (libc::SO_TIMESTAMP, true),
    (libc::SO_TIMESTAMPNS, true),
    (libc::SO_MARK, false),
    (libc::SO_RXQ_OVFL, true),
    // Kept and read back: nothing here busy-polls, and with no security
    // module there is no SCM_SECURITY to pass.
    (libc::SO_BUSY_POLL, false),
    (libc::SO_PASSSEC, true),
];

/// An int option's value as setsockopt(2) takes it: EINVAL when shorter.
pub fn int_option(value: &[u8]) -> KResult<i32> {
    let raw: [u8; 4] = value
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes(raw))
}

impl SockOpts {
    /// setsockopt(SOL_SOCKET, name) if it is one of these; None if not.
    pub fn set(&mut self, name: i32, value: &[u8]) -> Option<KResult<()>> {
        let int = || int_option(value);
        if let Some(&(_, flag)) = INT_OPTS.iter().find(|(n, _)| *n == name) {
            return Some(int().and_then(|v| {
                let v = match name {
                    _ if flag => i32::from(v != 0),
                    libc::SO_RCVLOWAT if v < 0 => i32::MAX,
                    libc::SO_RCVLOWAT => v.max(1),
                    libc::SO_BUSY_POLL if v < 0 => return Err(Errno::EINVAL),
                    _ => v,
                };
                self.ints.insert(name, v);
                Ok(())
            }));
        }
        Some(match name {
            libc::SO_LINGER => (|| {
                let b = value.get(..8).ok_or(Errno::EINVAL)?;
                let on = i32::from_ne_bytes(b[..4].try_into().unwrap());
                // On is a flag (read back as 1); turning it off keeps the
                // time, as Linux's SOCK_LINGER and sk_lingertime do.
                if on == 0 {
                    self.linger[0] = 0;
                } else {
                    self.linger = [1, i32::from_ne_bytes(b[4..].try_into().unwrap())];
                }
                Ok(())
            })(),
            libc::SO_RCVTIMEO | libc::SO_SNDTIMEO => timeval(value).map(|t| {
                if name == libc::SO_RCVTIMEO {
                    self.rcvtimeo = t;
                } else {
                    self.sndtimeo = t;
                }
            }),
            _ => return None,
        })
    }

    /// getsockopt(SOL_SOCKET, name) if it is one of these; None if not.
    pub fn get(&self, name: i32) -> Option<Vec<u8>> {
        if INT_OPTS.iter().any(|(n, _)| *n == name) {
            let default = if name == libc::SO_RCVLOWAT { 1 } else { 0 };
            let v = self.ints.get(&name).copied().unwrap_or(default);
            return Some(v.to_ne_bytes().to_vec());
        }
        match name {
            libc::SO_SNDLOWAT => Some(1i32.to_ne_bytes().to_vec()),
            libc::SO_LINGER => {
                let mut v = self.linger[0].to_ne_bytes().to_vec();
                v.extend_from_slice(&self.linger[1].to_ne_bytes());
                Some(v)
            }
            libc::SO_RCVTIMEO | libc::SO_SNDTIMEO => {
                let t = if name == libc::SO_RCVTIMEO {
                    self.rcvtimeo
                } else {
                    self.sndtimeo
                };
                let t = t.unwrap_or_default();
                let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
                let mut v = secs.to_ne_bytes().to_vec();
                v.extend_from_slice(&i64::from(t.subsec_micros()).to_ne_bytes());
                Some(v)
            }
            _ => None,
        }
    }

    /// SO_LINGER as set: (on, seconds).
    pub fn linger(&self) -> (bool, i32) {
        (self.linger[0] != 0, self.linger[1])
    }

    /// Whether a flag option (SO_REUSEADDR, ...) is set.
    pub fn flag(&self, name: i32) -> bool {
        self.ints.get(&name).is_some_and(|&v| v != 0)
    }

    /// How long a blocking receive (or send) may wait; None: for ever.
    pub fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        if send {
            self.sndtimeo
        } else {
            self.rcvtimeo
        }
    }
}

/// A `struct timeval` timeout as SO_RCVTIMEO takes it: zero is for ever;
/// a negative one ends every wait at once.
fn timeval(value: &[u8]) -> KResult<Option<std::time::Duration>> {
    let b = value.get(..16).ok_or(Errno::EINVAL)?;
    let sec = i64::from_ne_bytes(b[..8].try_into().unwrap());
    let usec = i64::from_ne_bytes(b[8..].try_into().unwrap());
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    if sec < 0 {
        return Ok(Some(std::time::Duration::ZERO));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    let us = u64::try_from(usec).unwrap_or(0);
    Ok(Some(
        std::time::Duration::from_secs(sec.unsigned_abs()) + std::time::Duration::from_micros(us),
    ))
}
