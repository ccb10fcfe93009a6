//! AF_UNIX stream socket pairs: two pipes, crossed.

use super::file::{File, FileOps};
use super::pipe::{new_pipe, PipeEnd};
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, EV_IN, EV_OUT};
use crate::kernel::Ctx;
use crate::socket::{generic_option, Socket};
use parking_lot::Mutex;
use std::any::Any;

/// One end of a socketpair.
pub struct UnixStream {
    rx: Mutex<Option<PipeEnd>>,
    tx: Mutex<Option<PipeEnd>>,
    /// SO_SNDBUF and SO_RCVBUF as reported; the send buffer is what the
    /// peer's queue holds before a write waits, as Linux's stream sockets
    /// count it on the sender.
    bufs: Mutex<(usize, usize)>,
}

/// Linux's net.core.{w,r}mem_default and _max.
const BUF_DEFAULT: usize = 212_992;
const BUF_MAX: usize = 212_992;
/// SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
const MIN_SNDBUF: usize = 4608;
const MIN_RCVBUF: usize = 2304;

impl UnixStream {
    fn new(rx: PipeEnd, tx: PipeEnd) -> UnixStream {
        tx.set_limit(BUF_DEFAULT);
        UnixStream {
            rx: Mutex::new(Some(rx)),
            tx: Mutex::new(Some(tx)),
            bufs: Mutex::new((BUF_DEFAULT, BUF_DEFAULT)),
        }
    }
}

/// A connected pair.
pub fn stream_pair() -> (UnixStream, UnixStream) {
    let (r1, w1) = new_pipe();
    let (r2, w2) = new_pipe();
    (UnixStream::new(r1, w2), UnixStream::new(r2, w1))
}

/// What a `struct sockaddr_un` names.
enum UnixAddr {
    Path(Vec<u8>),
    Abstract,
    Unnamed,
}

/// Checks and decodes a `struct sockaddr_un` of the application.
/// sa_family of a unix address.
const AF_UNIX: u16 = 1;
const _: () = assert!(libc::AF_UNIX == AF_UNIX as i32);

fn unix_addr(addr: &[u8]) -> KResult<UnixAddr> {
    const SUN_PATH: usize = 2;
    if addr.len() < SUN_PATH || addr.len() > SUN_PATH + 108 {
        return Err(Errno::EINVAL);
    }
    if u16::from_ne_bytes([addr[0], addr[1]]) != AF_UNIX {
        return Err(Errno::EINVAL);
    }
    let path = &addr[SUN_PATH..];
    Ok(match path.first() {
        None => UnixAddr::Unnamed,
        Some(0) => UnixAddr::Abstract,
        Some(_) => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            UnixAddr::Path(path[..end].to_vec())
        }
    })
}

/// An unnamed AF_UNIX address: just the family.
fn unnamed() -> Vec<u8> {
    (AF_UNIX).to_ne_bytes().to_vec()
}

impl Socket for UnixStream {
    fn family(&self) -> i32 {
        libc::AF_UNIX
    }
    fn kind(&self) -> i32 {
        libc::SOCK_STREAM
    }
    // A socketpair end is connected from birth: it cannot be bound,
    // listen, accept or connect again.
    fn bind(&self, ctx: &Ctx<'_, '_>, addr: &[u8]) -> KResult<()> {
        unix_addr(addr)?;
        // Linux would name the socket; husk has no named unix sockets yet.
        ctx.log_once("bind of an AF_UNIX socketpair end");
        Err(Errno::EINVAL)
    }
    fn listen(&self, _backlog: i32) -> KResult<()> {
        Err(Errno::EINVAL)
    }
    fn accept(&self) -> KResult<Box<dyn FileOps>> {
        Err(Errno::EINVAL)
    }
    fn connect(&self, ctx: &Ctx<'_, '_>, addr: &[u8]) -> KResult<()> {
        // Linux finds the listener before it looks at this socket's state,
        // and no unix socket listens in husk yet: what the address names
        // decides the error.
        match unix_addr(addr)? {
            UnixAddr::Path(p) => {
                let r = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &p, true)?;
                // A missing name; otherwise nothing listens there.
                r.stat.ok_or(Errno::ENOENT)?;
                Err(Errno::ECONNREFUSED)
            }
            UnixAddr::Abstract => Err(Errno::ECONNREFUSED),
            UnixAddr::Unnamed => Err(Errno::EINVAL),
        }
    }
    fn sockname(&self) -> KResult<Vec<u8>> {
        Ok(unnamed())
    }
    fn peername(&self) -> KResult<Vec<u8>> {
        Ok(unnamed())
    }
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_SNDBUF | libc::SO_RCVBUF) => {
                let (snd, rcv) = *self.bufs.lock();
                let v = if name == libc::SO_SNDBUF { snd } else { rcv };
                Ok(i32::try_from(v).unwrap_or(i32::MAX).to_ne_bytes().to_vec())
            }
            _ => generic_option(self, level, name),
        }
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let send = match name {
            libc::SO_SNDBUF | libc::SO_SNDBUFFORCE => true,
            libc::SO_RCVBUF | libc::SO_RCVBUFFORCE => false,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        let raw: [u8; 4] = value
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        // As Linux: capped at the maximum (a negative value is huge),
        // doubled for bookkeeping overhead, never below the minimum. The
        // *FORCE variants' privilege check is the caller's.
        let val = usize::try_from(u32::from_ne_bytes(raw)).unwrap_or(usize::MAX);
        let capped = if matches!(name, libc::SO_SNDBUFFORCE | libc::SO_RCVBUFFORCE) {
            val.min(i32::MAX as usize / 2)
        } else {
            val.min(BUF_MAX)
        };
        let mut b = self.bufs.lock();
        if send {
            b.0 = (capped * 2).max(MIN_SNDBUF);
            if let Some(tx) = &*self.tx.lock() {
                tx.set_limit(b.0);
            }
        } else {
            b.1 = (capped * 2).max(MIN_RCVBUF);
        }
        Ok(())
    }
    /// shutdown(2): SHUT_RD drops the receiving half, SHUT_WR the sending
    /// one (dropping a half notifies its pipe's waiters).
    fn shutdown(&self, how: i32) -> KResult<()> {
        match how {
            libc::SHUT_RD => drop(self.rx.lock().take()),
            libc::SHUT_WR => drop(self.tx.lock().take()),
            libc::SHUT_RDWR => {
                drop(self.rx.lock().take());
                drop(self.tx.lock().take());
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    }
}

impl FileOps for UnixStream {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        match &*self.rx.lock() {
            Some(rx) => rx.read(f, buf, None),
            None => Ok(0),
        }
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        match &*self.tx.lock() {
            Some(tx) => tx.write(f, buf, None),
            None => Err(Errno::EPIPE),
        }
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            mode: libc::S_IFSOCK | 0o777,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        })
    }
    fn poll(&self, events: i16) -> i16 {
        let mut r = 0;
        match &*self.rx.lock() {
            Some(rx) => r |= rx.poll(libc::POLLIN) & (libc::POLLIN | libc::POLLHUP),
            None => r |= libc::POLLIN | libc::POLLRDHUP,
        }
        if let Some(tx) = &*self.tx.lock() {
            let w = tx.poll(libc::POLLOUT);
            if w & libc::POLLERR != 0 {
                r |= libc::POLLHUP;
            } else {
                r |= w & libc::POLLOUT;
            }
        }
        if r & libc::POLLHUP != 0 {
            r |= libc::POLLIN;
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }
    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        let mut q = Queues::new();
        // Incoming data and the peer's close arrive on the receiving pipe;
        // room to write and the peer's shutdown on the sending one.
        if let Some(rx) = &*self.rx.lock() {
            q.push((rx.pipe().queue().clone(), ev & !EV_OUT));
        }
        if let Some(tx) = &*self.tx.lock() {
            q.push((tx.pipe().queue().clone(), ev & !EV_IN));
        }
        q
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        match &*self.rx.lock() {
            Some(rx) => rx.ioctl(cx, f, cmd, arg),
            None => Err(Errno::ENOTTY),
        }
    }
    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
