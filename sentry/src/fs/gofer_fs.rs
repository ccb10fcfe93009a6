//! The container root served by the gofer. Walks cost one round trip for a
//! whole path; results are cached so that warm walks cost none.

use super::file::FileOps;
use super::host::HostFile;
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use gofer::{Client, FileStat};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// One gofer connection per CPU: the gofer serves each on a thread pinned
/// to that CPU, so a request never needs a cross-CPU wake-up.
pub struct GoferPool {
    clients: Vec<Client>,
}

impl GoferPool {
    pub fn new(clients: Vec<Client>) -> GoferPool {
        assert!(!clients.is_empty(), "at least one gofer connection");
        GoferPool { clients }
    }

    /// The connection served on the caller's CPU.
    pub fn pick(&self) -> &Client {
        // SAFETY: sched_getcpu has no arguments.
        let cpu = unsafe { libc::sched_getcpu() }.max(0) as usize;
        &self.clients[cpu % self.clients.len()]
    }
}

pub struct GoferFs {
    client: Arc<GoferPool>,
    stats: Mutex<HashMap<Vec<u8>, Result<FileStat, Errno>>>,
    links: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

fn abs(rel: &[u8]) -> Vec<u8> {
    let mut p = vec![b'/'];
    p.extend_from_slice(rel);
    p
}

impl GoferFs {
    pub fn new(client: Arc<GoferPool>) -> GoferFs {
        GoferFs {
            client,
            stats: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
        }
    }

    fn walk(&self, path: &[u8]) -> KResult<()> {
        let reply = self.client.pick().walk(path)?;
        let comps = super::vfs::split(path);
        let mut stats = self.stats.lock();
        let mut prefix = b"/".to_vec();
        for (i, st) in reply.stats.iter().enumerate() {
            if i > 0 {
                if prefix.len() > 1 {
                    prefix.push(b'/');
                }
                prefix.extend_from_slice(&comps[i - 1]);
            }
            stats.insert(prefix.clone(), Ok(*st));
        }
        if let Some(t) = reply.symlink_target {
            self.links.lock().insert(prefix.clone(), t);
        }
        if let Some(e) = reply.error {
            let i = reply.stats.len();
            if i >= 1 && i <= comps.len() {
                let mut p = prefix.clone();
                if p.len() > 1 {
                    p.push(b'/');
                }
                p.extend_from_slice(&comps[i - 1]);
                stats.insert(p, Err(Errno(e)));
            }
        }
        Ok(())
    }
}

impl Filesystem for GoferFs {
    fn fstype(&self) -> &'static str {
        "9p"
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<FileStat> {
        let path = abs(rel);
        if let Some(r) = self.stats.lock().get(&path) {
            return *r;
        }
        self.walk(&path)?;
        if let Some(r) = self.stats.lock().get(&path) {
            return *r;
        }
        let r = self.client.pick().lstat(&path).map_err(Errno::from);
        self.stats.lock().insert(path, r);
        r
    }

    fn readlink(&self, _c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        let path = abs(rel);
        if let Some(t) = self.links.lock().get(&path) {
            return Ok(t.clone());
        }
        let t = self.client.pick().readlink(&path)?;
        self.links.lock().insert(path, t.clone());
        Ok(t)
    }

    fn open(&self, _c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        let keep =
            libc::O_ACCMODE | libc::O_APPEND | libc::O_DIRECTORY | libc::O_TRUNC | libc::O_NONBLOCK;
        let fd = self.client.pick().open(&abs(rel), flags & keep, mode)?;
        Ok(Box::new(HostFile::new(fd)))
    }

    fn statfs(&self) -> KResult<gofer::StatFs> {
        Ok(self.client.pick().statfs(b"/")?)
    }
}
