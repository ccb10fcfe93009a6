//! POSIX message queues: the queues (`Mq`), the mqueue filesystem that
//! names them (one per sandbox: mq_open's namespace, and what /dev/mqueue
//! and `mount -t mqueue` show), and the open queue as a file (`MqFile`),
//! whose read gives the status line and whose readiness is the queue's.

use super::file::{File, FileOps};
use super::synth::{stat_of, SynthDir};
use super::vfs::{Caller, Filesystem};
use super::{DirEntry, Stat};
use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_IN, EV_OUT};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Linux's defaults (/proc/sys/fs/mqueue).
pub const MSG_MAX: usize = 10;
pub const MSGSIZE_MAX: usize = 8192;
pub const QUEUES_MAX: usize = 256;
/// The most any queue may hold, even with CAP_SYS_RESOURCE.
pub const HARD_MSGMAX: usize = 65536;
pub const HARD_MSGSIZEMAX: usize = 16 << 20;
pub const MQ_PRIO_MAX: u32 = 32768;
const MQUEUE_MAGIC: i64 = 0x1980_0202;
const DEV: u64 = 0x2f;
/// What stat shows as a queue's size (Linux's FILENT_SIZE).
const FILENT_SIZE: i64 = 80;

/// Who is told of a message arriving on an empty queue (mq_notify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// The registering process.
    pub pid: i32,
    /// SIGEV_SIGNAL (else SIGEV_NONE) and its signal (0: none sent).
    pub signal: bool,
    pub signo: i32,
    pub value: u64,
    /// SIGEV_THREAD: the netlink socket the cookie goes to (glibc's
    /// helper thread reads it and starts the notification thread).
    pub thread: Option<ThreadNotify>,
}

/// The length of a SIGEV_THREAD cookie; its last byte says why it came.
pub const NOTIFY_COOKIE_LEN: usize = 32;
pub const NOTIFY_WOKENUP: u8 = 1;
pub const NOTIFY_REMOVED: u8 = 2;

/// A SIGEV_THREAD registration: the socket (held until the cookie is
/// sent, as Linux holds it) and the cookie the caller gave.
#[derive(Clone)]
pub struct ThreadNotify {
    pub sock: Arc<super::file::File>,
    pub cookie: [u8; NOTIFY_COOKIE_LEN],
}

impl PartialEq for ThreadNotify {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.sock, &o.sock) && self.cookie == o.cookie
    }
}
impl Eq for ThreadNotify {}

impl std::fmt::Debug for ThreadNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThreadNotify({:?})", &self.cookie[..4])
    }
}

struct MqState {
    /// By priority, highest first; first in, first out within one.
    msgs: BTreeMap<std::cmp::Reverse<u32>, VecDeque<Vec<u8>>>,
    count: usize,
    bytes: usize,
    notify: Option<Notify>,
    /// Receivers asleep: a message for them is no news to notify.
    receivers: usize,
    mode: u32,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
}

/// One queue. It outlives its name while open.
pub struct Mq {
    pub ino: u64,
    pub maxmsg: usize,
    pub msgsize: usize,
    st: Mutex<MqState>,
    pub wq: Arc<WaitQueue>,
    /// Its name is gone (mq_unlink).
    unlinked: std::sync::atomic::AtomicBool,
    /// What it counts against its creator's RLIMIT_MSGQUEUE, until it
    /// goes.
    charge: Option<(u32, u64, Arc<Charges>)>,
}

/// Bytes of queues by user (RLIMIT_MSGQUEUE).
type Charges = Mutex<std::collections::HashMap<u32, u64>>;

impl Drop for Mq {
    fn drop(&mut self) {
        if let Some((uid, bytes, charges)) = &self.charge {
            if let Some(v) = charges.lock().get_mut(uid) {
                *v = v.saturating_sub(*bytes);
            }
        }
    }
}

/// What a queue counts against RLIMIT_MSGQUEUE: Linux's mq_bytes (its
/// messages' room, and 48 bytes of header and 48 of tree node per message
/// on x86-64).
pub fn queue_bytes(maxmsg: usize, msgsize: usize) -> Option<u64> {
    let n = maxmsg as u64;
    n.checked_mul(48)?
        .checked_add(n.min(u64::from(MQ_PRIO_MAX)).checked_mul(48)?)?
        .checked_add(n.checked_mul(msgsize as u64)?)
}

/// What an arriving message makes of a registration: the process to
/// signal (taken off the queue, as Linux does once it fires).
pub type Fired = Option<Notify>;

impl Mq {
    fn new(ino: u64, maxmsg: usize, msgsize: usize, mode: u32, owner: (u32, u32)) -> Mq {
        Mq {
            ino,
            maxmsg,
            msgsize,
            st: Mutex::new(MqState {
                msgs: BTreeMap::new(),
                count: 0,
                bytes: 0,
                notify: None,
                receivers: 0,
                mode: mode & 0o7777,
                uid: owner.0,
                gid: owner.1,
                ctime: now(),
            }),
            wq: WaitQueue::new(),
            unlinked: Default::default(),
            charge: None,
        }
    }

    pub fn stat(&self) -> Stat {
        let s = self.st.lock();
        Stat {
            uid: s.uid,
            gid: s.gid,
            atime: s.ctime,
            mtime: s.ctime,
            ctime: s.ctime,
            ..stat_of(libc::S_IFREG | s.mode, self.ino, DEV, FILENT_SIZE)
        }
    }

    /// Adds a message if there is room: Ok(registration fired), or
    /// EAGAIN when full.
    pub fn send(&self, data: &[u8], prio: u32) -> KResult<Fired> {
        let mut s = self.st.lock();
        if s.count >= self.maxmsg {
            return Err(Errno::EAGAIN);
        }
        s.count += 1;
        s.bytes += data.len();
        s.msgs
            .entry(std::cmp::Reverse(prio))
            .or_default()
            .push_back(data.to_vec());
        let fired = if s.count == 1 && s.receivers == 0 {
            s.notify.take()
        } else {
            None
        };
        drop(s);
        self.wq.notify(EV_IN);
        Ok(fired)
    }

    /// Takes the oldest message of the highest priority, or EAGAIN.
    pub fn receive(&self) -> KResult<(Vec<u8>, u32)> {
        let mut s = self.st.lock();
        let mut first = s.msgs.first_entry().ok_or(Errno::EAGAIN)?;
        let prio = first.key().0;
        let data = first.get_mut().pop_front().unwrap_or_default();
        if first.get().is_empty() {
            first.remove();
        }
        s.count -= 1;
        s.bytes -= data.len();
        drop(s);
        self.wq.notify(EV_OUT);
        Ok((data, prio))
    }

    /// A receiver starts (`true`) or stops waiting.
    pub fn receiver_waits(&self, waiting: bool) {
        let mut s = self.st.lock();
        if waiting {
            s.receivers += 1;
        } else {
            s.receivers = s.receivers.saturating_sub(1);
        }
    }

    pub fn count(&self) -> usize {
        self.st.lock().count
    }

    /// mq_notify: registers `n` (EBUSY when another process is), or with
    /// None removes `pid`'s registration: the one removed.
    pub fn set_notify(&self, pid: i32, n: Option<Notify>) -> KResult<Option<Notify>> {
        let mut s = self.st.lock();
        match n {
            Some(n) => {
                if s.notify.is_some() {
                    return Err(Errno::EBUSY);
                }
                s.notify = Some(n);
                Ok(None)
            }
            None if s.notify.as_ref().is_some_and(|x| x.pid == pid) => Ok(s.notify.take()),
            None => Ok(None),
        }
    }

    /// What read(2) of the queue gives.
    fn status(&self) -> Vec<u8> {
        let s = self.st.lock();
        // NOTIFY: SIGEV_SIGNAL 0, SIGEV_NONE 1, SIGEV_THREAD 2.
        let (signo, pid, kind) = match &s.notify {
            Some(n) if n.thread.is_some() => (0, n.pid, 2),
            Some(n) if n.signal => (n.signo, n.pid, 0),
            Some(n) => (0, n.pid, 1),
            None => (0, 0, 0),
        };
        format!(
            "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
            s.bytes, kind, signo, pid
        )
        .into_bytes()
    }

    fn chmod(&self, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) {
        let mut s = self.st.lock();
        if let Some(m) = mode {
            s.mode = m & 0o7777;
        }
        if let Some(u) = uid {
            s.uid = u;
        }
        if let Some(g) = gid {
            s.gid = g;
        }
        s.ctime = now();
    }
}

fn now() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (
        crate::num::saturating_i64(d.as_secs()),
        i64::from(d.subsec_nanos()),
    )
}

/// The sandbox's queues by name.
#[derive(Default)]
pub struct MqueueFs {
    queues: Mutex<BTreeMap<Vec<u8>, Arc<Mq>>>,
    next_ino: AtomicU64,
    charges: Arc<Charges>,
}

impl MqueueFs {
    /// An empty instance for another IPC namespace, charging the same
    /// users' RLIMIT_MSGQUEUE.
    pub fn sibling(&self) -> MqueueFs {
        MqueueFs {
            queues: Mutex::default(),
            next_ino: AtomicU64::default(),
            charges: self.charges.clone(),
        }
    }

    /// The queue named `name`.
    pub fn get(&self, name: &[u8]) -> Option<Arc<Mq>> {
        self.queues.lock().get(name).cloned()
    }

    /// Makes the queue `name` (EEXIST if there is one; ENOSPC past the
    /// number of queues unless `privileged`), charged to `charge`'s user
    /// within its limit (EMFILE past it).
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        name: &[u8],
        maxmsg: usize,
        msgsize: usize,
        mode: u32,
        owner: (u32, u32),
        privileged: bool,
        charge: Option<(u32, u64)>,
    ) -> KResult<Arc<Mq>> {
        let mut q = self.queues.lock();
        if q.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if q.len() >= QUEUES_MAX && !privileged {
            return Err(Errno::ENOSPC);
        }
        let ino = self.next_ino.fetch_add(1, Ordering::Relaxed) + 2;
        let mut mq = Mq::new(ino, maxmsg, msgsize, mode, owner);
        if let Some((uid, limit)) = charge {
            let bytes = queue_bytes(maxmsg, msgsize).ok_or(Errno::EOVERFLOW)?;
            let mut c = self.charges.lock();
            let used = c.entry(uid).or_default();
            match used.checked_add(bytes) {
                Some(t) if t <= limit => *used = t,
                _ => return Err(Errno::EMFILE),
            }
            mq.charge = Some((uid, bytes, self.charges.clone()));
        }
        let mq = Arc::new(mq);
        q.insert(name.to_vec(), mq.clone());
        Ok(mq)
    }

    /// Takes the name away (the queue lives on while open).
    pub fn remove(&self, name: &[u8]) -> KResult<()> {
        let q = self.queues.lock().remove(name).ok_or(Errno::ENOENT)?;
        q.unlinked.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn root_stat() -> Stat {
        stat_of(libc::S_IFDIR | 0o1777, 1, DEV, 0)
    }
}

/// A name a queue may have: one path component.
fn plain_name(rel: &[u8]) -> KResult<&[u8]> {
    if rel.contains(&b'/') {
        return Err(Errno::ENOENT);
    }
    Ok(rel)
}

impl Filesystem for MqueueFs {
    fn fstype(&self) -> &'static str {
        "mqueue"
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if rel.is_empty() {
            return Ok(Self::root_stat());
        }
        let q = self.get(plain_name(rel)?).ok_or(Errno::ENOENT)?;
        Ok(q.stat())
    }

    fn open(&self, _c: &Caller, rel: &[u8], flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
        if rel.is_empty() {
            let entries = self
                .queues
                .lock()
                .iter()
                .map(|(n, q)| DirEntry {
                    ino: q.ino,
                    kind: libc::DT_REG,
                    name: n.clone(),
                })
                .collect();
            return Ok(Box::new(SynthDir {
                entries,
                stat: Self::root_stat(),
            }));
        }
        let q = self.get(plain_name(rel)?).ok_or(Errno::ENOENT)?;
        let _ = flags;
        Ok(Box::new(MqFile { q }))
    }

    fn read_only(&self) -> bool {
        false
    }

    /// A file made in the filesystem is a queue with the default sizes.
    fn mknod(
        &self,
        c: &Caller,
        rel: &[u8],
        mode: u32,
        _rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Errno::EPERM);
        }
        let privileged = c
            .creds()
            .is_some_and(|c| c.capable(crate::kernel::creds::cap::SYS_RESOURCE));
        self.create(
            plain_name(rel)?,
            MSG_MAX,
            MSGSIZE_MAX,
            mode,
            owner,
            privileged,
            None,
        )
        .map(|_| ())
    }

    fn unlink(&self, _c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        if dir {
            return Err(Errno::ENOTDIR);
        }
        self.remove(plain_name(rel)?)
    }

    fn setattr(&self, _c: &Caller, rel: &[u8], attr: &super::vfs::SetAttr) -> KResult<()> {
        if attr.size.is_some() {
            return Err(Errno::EINVAL);
        }
        let q = self.get(plain_name(rel)?).ok_or(Errno::EPERM)?;
        q.chmod(attr.mode, attr.uid, attr.gid);
        Ok(())
    }

    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: MQUEUE_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }
}

/// An open queue.
pub struct MqFile {
    pub q: Arc<Mq>,
}

impl FileOps for MqFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        Ok(super::synth::read_in(f, &self.q.status(), buf, off))
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.q.stat())
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        super::synth::seek_in(f, off, whence, FILENT_SIZE as u64)
    }
    fn setattr(&self, attr: &super::vfs::SetAttr) -> KResult<()> {
        if attr.size.is_some() {
            return Err(Errno::EINVAL);
        }
        self.q.chmod(attr.mode, attr.uid, attr.gid);
        Ok(())
    }
    fn poll(&self, events: i16) -> i16 {
        let n = self.q.count();
        let mut r = 0;
        if n > 0 {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if n < self.q.maxmsg {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & events
    }
    fn wait_queues(&self, _c: &Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.q.wq.clone(), ev)])
    }
    fn unlinked(&self) -> bool {
        self.q.unlinked.load(Ordering::Relaxed)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_messages_and_notification_fires_once() {
        let fs = MqueueFs::default();
        let q = fs
            .create(b"q", 3, 16, 0o600, (0, 0), false, Some((0, 1000)))
            .unwrap();
        assert_eq!(
            fs.create(b"q", 3, 16, 0o600, (0, 0), false, None).err(),
            Some(Errno::EEXIST)
        );
        // 3 * (16 + 96) bytes charged: another such queue is past 1000.
        assert_eq!(
            fs.create(b"r", 6, 64, 0o600, (0, 0), false, Some((0, 1000)))
                .err(),
            Some(Errno::EMFILE)
        );
        let n = Notify {
            pid: 5,
            signal: true,
            signo: 10,
            value: 7,
            thread: None,
        };
        q.set_notify(5, Some(n.clone())).unwrap();
        assert_eq!(q.set_notify(6, Some(n.clone())), Err(Errno::EBUSY));
        assert_eq!(q.send(b"low", 1), Ok(Some(n.clone())));
        // Fired once: the registration is gone.
        assert_eq!(q.send(b"high", 9), Ok(None));
        assert_eq!(q.send(b"low2", 1), Ok(None));
        assert_eq!(q.send(b"x", 1), Err(Errno::EAGAIN));
        assert_eq!(q.receive(), Ok((b"high".to_vec(), 9)));
        assert_eq!(q.receive(), Ok((b"low".to_vec(), 1)));
        assert_eq!(q.receive(), Ok((b"low2".to_vec(), 1)));
        assert_eq!(q.receive(), Err(Errno::EAGAIN));
        // A waiting receiver takes the news: no notification.
        q.set_notify(5, Some(n.clone())).unwrap();
        q.receiver_waits(true);
        assert_eq!(q.send(b"a", 0), Ok(None));
        q.receiver_waits(false);
        assert!(String::from_utf8(q.status())
            .unwrap()
            .starts_with("QSIZE:1 "));
        // Only its owner removes a registration.
        q.set_notify(6, None).unwrap();
        assert_eq!(q.set_notify(7, Some(n.clone())), Err(Errno::EBUSY));
        assert_eq!(q.set_notify(5, None), Ok(Some(n)));
        fs.remove(b"q").unwrap();
        assert!(fs.get(b"q").is_none() && q.count() == 1);
        // The charge goes with the queue.
        drop(q);
        fs.create(b"r", 6, 64, 0o600, (0, 0), false, Some((0, 1000)))
            .unwrap();
    }
}
