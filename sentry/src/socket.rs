//! Sockets: what every socket family implements. The syscall layer
//! decodes arguments, calls these, and encodes results; it never looks at
//! a family's types. AF_UNIX socket pairs implement it today; bound and
//! listening unix sockets and the network stack's AF_INET/AF_INET6
//! sockets plug in here.
//!
//! Data moves through the file's `read`/`write` (a socket's read and
//! write are its recv and send without flags); readiness through its wait
//! queues. What is socket-specific is here: names, connection
//! management, options and shutdown. Addresses are the application's
//! `struct sockaddr` bytes, decoded by the family.

use crate::errno::{Errno, KResult};
use crate::fs::file::FileOps;
use crate::kernel::Ctx;

/// The largest address a family accepts (`sizeof(struct sockaddr_storage)`).
pub const ADDR_MAX: usize = 128;

pub trait Socket: Send + Sync {
    /// AF_UNIX, AF_INET, ...
    fn family(&self) -> i32;
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ...
    fn kind(&self) -> i32;
    fn protocol(&self) -> i32 {
        0
    }
    fn bind(&self, ctx: &Ctx<'_, '_>, addr: &[u8]) -> KResult<()>;
    fn listen(&self, backlog: i32) -> KResult<()>;
    /// A pending connection as a new socket, or EAGAIN (the caller waits
    /// on the socket's queues for readability).
    fn accept(&self) -> KResult<Box<dyn FileOps>>;
    /// Connects; a non-blocking connect that cannot finish at once gives
    /// EINPROGRESS (the caller waits for writability).
    fn connect(&self, ctx: &Ctx<'_, '_>, addr: &[u8]) -> KResult<()>;
    /// SHUT_RD, SHUT_WR or SHUT_RDWR; waiters are notified.
    fn shutdown(&self, how: i32) -> KResult<()>;
    /// The socket's own address (getsockname).
    fn sockname(&self) -> KResult<Vec<u8>>;
    /// The peer's address (getpeername): ENOTCONN when there is none.
    fn peername(&self) -> KResult<Vec<u8>>;
    /// The address a received message came from (recvfrom, recvmsg);
    /// empty for connected streams of families that report none.
    fn source_name(&self) -> Vec<u8> {
        Vec::new()
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
