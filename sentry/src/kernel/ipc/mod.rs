//! System V IPC: shared memory segments (`shm`), semaphore sets (`sem`)
//! and message queues (`msg`), one `Ipc` per IPC namespace (`Spaces`),
//! kept in the kernel state (so under the kernel lock). What is common to
//! the three is here: the permission record, the id registry with Linux's
//! id layout, and `get`, which is shmget/semget/msgget's lookup.

pub mod msg;
pub mod sem;
pub mod shm;

use super::creds::{cap, Creds};
use crate::errno::{Errno, KResult};
use std::collections::BTreeMap;

pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: i32 = 0o1000;
pub const IPC_EXCL: i32 = 0o2000;
pub const IPC_NOWAIT: i32 = 0o4000;

/// Ids are `seq * SEQ_MULTIPLIER + index` (ipc/util.h, IPCMNI_SHIFT 15).
const SEQ_MULTIPLIER: i32 = 1 << 15;
/// Linux allocates indexes cyclically below max(in use * 3 / 2, this).
const MIN_CYCLE: usize = 64;

/// Read and write, as ipcperms(2) asks for them.
pub const MAY_READ: u32 = 0o4;
pub const MAY_WRITE: u32 = 0o2;

/// An object's `ipc_perm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The low 9 bits, and shm's SHM_DEST and SHM_LOCKED above them.
    pub mode: u32,
    pub seq: u16,
}

impl Perm {
    fn new(key: i32, mode: u32, c: &Creds) -> Perm {
        Perm {
            key,
            uid: c.euid,
            gid: c.egid,
            cuid: c.euid,
            cgid: c.egid,
            mode: mode & 0o777,
            seq: 0,
        }
    }

    /// ipcperms: `want` (any of 0o7, or a mode whose three classes are
    /// folded) is granted by the owner, group or other bits, or by
    /// CAP_IPC_OWNER.
    pub fn allows(&self, c: &Creds, want: u32) -> bool {
        let want = (want >> 6 | want >> 3 | want) & 0o7;
        let granted = if c.euid == self.cuid || c.euid == self.uid {
            self.mode >> 6
        } else if in_group(c, self.cgid) || in_group(c, self.gid) {
            self.mode >> 3
        } else {
            self.mode
        };
        want & !granted & 0o7 == 0 || c.capable(cap::IPC_OWNER)
    }

    /// Whether `c` may change or remove the object (IPC_SET, IPC_RMID).
    pub fn owned_by(&self, c: &Creds) -> bool {
        c.euid == self.uid || c.euid == self.cuid || c.capable(cap::SYS_ADMIN)
    }

    /// IPC_SET: the new owner and mode bits.
    pub fn set(&mut self, uid: u32, gid: u32, mode: u32) {
        self.uid = uid;
        self.gid = gid;
        self.mode = (self.mode & !0o777) | (mode & 0o777);
    }
}

fn in_group(c: &Creds, g: u32) -> bool {
    c.egid == g || c.groups.contains(&g)
}

/// The objects of one kind, by index.
pub struct Registry<T> {
    objs: BTreeMap<usize, (Perm, T)>,
    /// The sequence number the next object gets.
    seq: u16,
    /// Where the cyclic index search starts.
    next: usize,
    /// The most objects (SHMMNI, SEMMNI, MSGMNI).
    pub max: usize,
}

impl<T> Registry<T> {
    pub fn new(max: usize) -> Registry<T> {
        Registry {
            objs: BTreeMap::new(),
            seq: 0,
            next: 0,
            max,
        }
    }

    pub fn len(&self) -> usize {
        self.objs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    fn id_of(idx: usize, p: &Perm) -> i32 {
        i32::from(p.seq) * SEQ_MULTIPLIER + crate::num::saturating_i32(idx)
    }

    /// The object with id `id`: EINVAL for none (or a stale sequence).
    pub fn get(&self, id: i32) -> KResult<&(Perm, T)> {
        let idx = usize::try_from(id % SEQ_MULTIPLIER).map_err(|_| Errno::EINVAL)?;
        match self.objs.get(&idx) {
            Some(o) if Self::id_of(idx, &o.0) == id => Ok(o),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn get_mut(&mut self, id: i32) -> KResult<&mut (Perm, T)> {
        let idx = usize::try_from(id % SEQ_MULTIPLIER).map_err(|_| Errno::EINVAL)?;
        match self.objs.get_mut(&idx) {
            Some(o) if Self::id_of(idx, &o.0) == id => Ok(o),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The object at index `idx` (the *_STAT commands) and its id.
    pub fn at(&self, idx: usize) -> KResult<(i32, &(Perm, T))> {
        let o = self.objs.get(&idx).ok_or(Errno::EINVAL)?;
        Ok((Self::id_of(idx, &o.0), o))
    }

    /// IPC_STAT (by id) and the *_STAT commands (`by_index`): the object
    /// and its id, EACCES when `reader` (None for *_STAT_ANY) may not read
    /// it.
    pub fn stat(
        &self,
        id: i32,
        by_index: bool,
        reader: Option<&Creds>,
    ) -> KResult<(i32, &(Perm, T))> {
        let (id, o) = if by_index {
            self.at(usize::try_from(id).map_err(|_| Errno::EINVAL)?)?
        } else {
            (id, self.get(id)?)
        };
        if reader.is_some_and(|c| !o.0.allows(c, MAY_READ)) {
            return Err(Errno::EACCES);
        }
        Ok((id, o))
    }

    /// The highest index in use (what IPC_INFO returns), or 0.
    pub fn max_index(&self) -> usize {
        self.objs.keys().next_back().copied().unwrap_or(0)
    }

    /// Every object, with its id, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &(Perm, T))> {
        self.objs.iter().map(|(&i, o)| (Self::id_of(i, &o.0), o))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.objs.values_mut().map(|(_, o)| o)
    }

    pub fn remove(&mut self, id: i32) -> Option<(Perm, T)> {
        self.get(id).ok()?;
        self.objs
            .remove(&usize::try_from(id % SEQ_MULTIPLIER).ok()?)
    }

    /// Takes away the objects `gone` picks (shm segments marked for
    /// destruction whose last attach went).
    pub fn sweep(&mut self, gone: impl Fn(&Perm, &T) -> bool) {
        self.objs.retain(|_, (p, o)| !gone(p, o));
    }

    fn find_key(&self, key: i32) -> Option<i32> {
        self.objs
            .iter()
            .find(|(_, (p, _))| p.key == key)
            .map(|(&i, (p, _))| Self::id_of(i, p))
    }

    /// Adds an object: its id, or ENOSPC when the registry is full.
    fn add(&mut self, mut perm: Perm, obj: T) -> KResult<i32> {
        if self.objs.len() >= self.max {
            return Err(Errno::ENOSPC);
        }
        let limit = (self.objs.len() * 3 / 2)
            .max(MIN_CYCLE)
            .min(SEQ_MULTIPLIER as usize);
        let free = |from: usize, to: usize| (from..to).find(|i| !self.objs.contains_key(i));
        let idx = free(self.next.min(limit), limit)
            .or_else(|| free(0, limit))
            .ok_or(Errno::ENOSPC)?;
        self.next = idx + 1;
        perm.seq = self.seq;
        // The sequence wraps where an id would stop being positive.
        self.seq = if i32::from(self.seq) + 1 >= i32::MAX / SEQ_MULTIPLIER {
            0
        } else {
            self.seq + 1
        };
        let id = Self::id_of(idx, &perm);
        self.objs.insert(idx, (perm, obj));
        Ok(id)
    }

    /// shmget, semget and msgget: the object with `key`, made with
    /// `make` when IPC_CREAT asks for it. `fits` checks an existing one
    /// against the request (a size or count larger than it has is
    /// EINVAL) before its permissions are (Linux's order).
    pub fn get_or_make(
        &mut self,
        key: i32,
        flags: i32,
        c: &Creds,
        fits: impl FnOnce(&T) -> KResult<()>,
        make: impl FnOnce() -> KResult<T>,
    ) -> KResult<i32> {
        let mode = (flags & 0o777).cast_unsigned();
        let found = if key == IPC_PRIVATE {
            None
        } else {
            self.find_key(key)
        };
        match found {
            None if key != IPC_PRIVATE && flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
            None => {
                if self.objs.len() >= self.max {
                    return Err(Errno::ENOSPC);
                }
                let obj = make()?;
                self.add(Perm::new(key, mode, c), obj)
            }
            Some(_) if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 => Err(Errno::EEXIST),
            Some(id) => {
                let (p, o) = self.get(id)?;
                fits(o)?;
                if !p.allows(c, mode) {
                    return Err(Errno::EACCES);
                }
                Ok(id)
            }
        }
    }
}

/// The IPC namespace.
pub struct Ipc {
    pub shm: Registry<shm::Segment>,
    pub sem: Registry<sem::SemSet>,
    pub msg: Registry<msg::Queue>,
    /// The next semaphore undo list's id (`sem::UndoList`).
    next_undo: u64,
}

impl Default for Ipc {
    fn default() -> Self {
        Ipc {
            shm: Registry::new(shm::SHMMNI),
            sem: Registry::new(sem::SEMMNI),
            msg: Registry::new(msg::MSGMNI),
            next_undo: 1,
        }
    }
}

/// An IPC namespace: 0 is the sandbox's first.
pub type NsId = u64;

/// Every IPC namespace's objects: the first's, and those made by
/// unshare or clone with CLONE_NEWIPC, each with its owner and its own
/// POSIX message queues. A namespace goes with the last process in it
/// (`forget_unused`); segments still attached live on in their mappings.
#[derive(Default)]
pub struct Spaces {
    first: Ipc,
    others: std::collections::HashMap<NsId, Other>,
    next: NsId,
}

struct Other {
    ipc: Ipc,
    owner: std::sync::Arc<super::userns::UserNs>,
    mqueue: std::sync::Arc<crate::fs::mqueue::MqueueFs>,
    /// Held by every open /proc/PID/ns/ipc file of it: an open one keeps
    /// the namespace (and its objects) for a later setns, as Linux's.
    pin: std::sync::Arc<()>,
}

/// An IPC namespace as an nsfs file names it: its id, owner, and a pin
/// that keeps it while the file is open.
#[derive(Clone)]
pub struct NsRef {
    pub id: NsId,
    pub owner: std::sync::Arc<super::userns::UserNs>,
    _pin: Option<std::sync::Arc<()>>,
}

impl Spaces {
    /// Namespace `ns`'s objects (the first's for one that is gone).
    pub fn of(&mut self, ns: NsId) -> &mut Ipc {
        match self.others.get_mut(&ns) {
            Some(o) => &mut o.ipc,
            None => &mut self.first,
        }
    }

    /// Namespace `ns`'s objects, to read.
    pub fn get(&self, ns: NsId) -> &Ipc {
        self.others.get(&ns).map_or(&self.first, |o| &o.ipc)
    }

    /// A new, empty namespace owned by user namespace `owner`, whose
    /// message queues are a sibling of `mqueue` (the same per-user
    /// limits).
    pub fn create(
        &mut self,
        owner: std::sync::Arc<super::userns::UserNs>,
        mqueue: &crate::fs::mqueue::MqueueFs,
    ) -> NsId {
        self.next += 1;
        let o = Other {
            ipc: Ipc::default(),
            owner,
            mqueue: std::sync::Arc::new(mqueue.sibling()),
            pin: std::sync::Arc::new(()),
        };
        self.others.insert(self.next, o);
        self.next
    }

    /// `ns` as an nsfs file holds it (pinned while the file is open).
    pub fn reference(&self, ns: NsId) -> NsRef {
        match self.others.get(&ns) {
            Some(o) => NsRef {
                id: ns,
                owner: o.owner.clone(),
                _pin: Some(o.pin.clone()),
            },
            None => NsRef {
                id: 0,
                owner: super::userns::init(),
                _pin: None,
            },
        }
    }

    /// `ns`'s POSIX message queues (`first`: the first namespace's).
    pub fn mqueue(
        &self,
        ns: NsId,
        first: &std::sync::Arc<crate::fs::mqueue::MqueueFs>,
    ) -> std::sync::Arc<crate::fs::mqueue::MqueueFs> {
        self.others
            .get(&ns)
            .map_or_else(|| first.clone(), |o| o.mqueue.clone())
    }

    /// Drops the namespaces no process is in any more and no open nsfs
    /// file pins.
    pub fn forget_unused(&mut self, in_use: &std::collections::HashSet<NsId>) {
        self.others
            .retain(|id, o| in_use.contains(id) || std::sync::Arc::strong_count(&o.pin) > 1);
    }
}

/// Moves process `tgid` into IPC namespace `ns` (setns, unshare): its
/// semaphore undo list is applied and left behind in the old one, which
/// goes if nobody is left in it.
pub fn enter(st: &mut super::KState, tgid: i32, ns: NsId) {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    let (old, undo) = (p.ipc_ns, p.sem_undo.take());
    p.ipc_ns = ns;
    if let Some(u) = undo {
        st.ipc.of(old).exit_undo(u, tgid);
    }
    forget_unused(st);
}

/// Drops the IPC namespaces no live process is in.
pub fn forget_unused(st: &mut super::KState) {
    let live: std::collections::HashSet<NsId> = st
        .procs
        .values()
        .filter(|p| p.exit.is_none())
        .map(|p| p.ipc_ns)
        .collect();
    st.ipc.forget_unused(&live);
}

impl Ipc {
    /// A new semaphore undo list (a process's, unless CLONE_SYSVSEM
    /// shares its parent's).
    pub fn new_undo_list(&mut self) -> std::sync::Arc<sem::UndoList> {
        self.next_undo += 1;
        std::sync::Arc::new(sem::UndoList(self.next_undo))
    }

    /// A process that held `list` exits: the last one applies its
    /// adjustments.
    pub fn exit_undo(&mut self, list: std::sync::Arc<sem::UndoList>, pid: i32) {
        if let Ok(l) = std::sync::Arc::try_unwrap(list) {
            for set in self.sem.values_mut() {
                set.exit(l.0, pid);
            }
        }
    }
}

/// /proc/sysvipc/shm, sem and msg, as Linux prints them.
impl Ipc {
    pub fn proc_shm(&self) -> Vec<u8> {
        let mut s = String::from(
            "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
        );
        for (id, (p, g)) in self.shm.iter().filter(|(_, (p, g))| !g.destroyed(p.mode)) {
            let rss = crate::memfile::page_up(g.size);
            s += &format!(
                "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:21} {:21}\n",
                p.key, id, p.mode, g.size, g.cpid, g.lpid, g.attaches(), p.uid, p.gid, p.cuid,
                p.cgid, g.atime, g.dtime, g.ctime, rss, 0
            );
        }
        s.into_bytes()
    }

    pub fn proc_sem(&self) -> Vec<u8> {
        let mut s = String::from(
            "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
        );
        for (id, (p, set)) in self.sem.iter() {
            s += &format!(
                "{:10} {:10}  {:4o} {:10} {:5} {:5} {:5} {:5} {:10} {:10}\n",
                p.key,
                id,
                p.mode,
                set.sems.len(),
                p.uid,
                p.gid,
                p.cuid,
                p.cgid,
                set.otime,
                set.ctime
            );
        }
        s.into_bytes()
    }

    pub fn proc_msg(&self) -> Vec<u8> {
        let mut s = String::from(
            "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
        );
        for (id, (p, q)) in self.msg.iter() {
            s +=
                &format!(
                "{:10} {:10}  {:4o}  {:10} {:10} {:5} {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10}\n",
                p.key, id, p.mode, q.cbytes, q.msgs.len(), q.lspid, q.lrpid, p.uid, p.gid,
                p.cuid, p.cgid, q.stime, q.rtime, q.ctime
            );
        }
        s.into_bytes()
    }
}

/// The limits /proc/sys/kernel shows (Linux's defaults, which are these
/// objects' limits here).
pub fn sysctl(name: &[u8]) -> Option<String> {
    Some(match name {
        b"shmmax" => shm::SHMMAX.to_string(),
        b"shmall" => shm::SHMALL.to_string(),
        b"shmmni" => shm::SHMMNI.to_string(),
        b"sem" => format!(
            "{}\t{}\t{}\t{}",
            sem::SEMMSL,
            sem::SEMMNS,
            sem::SEMOPM,
            sem::SEMMNI
        ),
        b"msgmax" => msg::MSGMAX.to_string(),
        b"msgmnb" => msg::MSGMNB.to_string(),
        b"msgmni" => msg::MSGMNI.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32, gid: u32) -> Creds {
        Creds::of(uid, gid, vec![gid])
    }

    #[test]
    fn ids_carry_a_sequence_and_keys_find_their_object() {
        let mut r: Registry<u32> = Registry::new(3);
        let c = user(1000, 1000);
        let a = r
            .get_or_make(0, IPC_CREAT | 0o600, &c, |_| Ok(()), || Ok(1))
            .unwrap();
        let b = r
            .get_or_make(42, IPC_CREAT | 0o640, &c, |_| Ok(()), || Ok(2))
            .unwrap();
        assert_eq!(a, 0);
        assert_eq!(b, SEQ_MULTIPLIER + 1);
        // The same key is the same object; EXCL refuses it; a private
        // key always makes a new one.
        assert_eq!(r.get_or_make(42, 0, &c, |_| Ok(()), || Ok(9)), Ok(b));
        assert_eq!(
            r.get_or_make(42, IPC_CREAT | IPC_EXCL, &c, |_| Ok(()), || Ok(9)),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            r.get_or_make(7, 0, &c, |_| Ok(()), || Ok(9)),
            Err(Errno::ENOENT)
        );
        // `fits` is asked before the permissions.
        let other = user(2000, 2000);
        assert_eq!(
            r.get_or_make(42, 0o400, &other, |_| Err(Errno::EINVAL), || Ok(9)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            r.get_or_make(42, 0o400, &other, |_| Ok(()), || Ok(9)),
            Err(Errno::EACCES)
        );
        let c3 = r.get_or_make(0, 0, &c, |_| Ok(()), || Ok(3)).unwrap();
        assert_eq!(
            r.get_or_make(0, 0, &c, |_| Ok(()), || Ok(4)),
            Err(Errno::ENOSPC)
        );
        // A removed object's id stays invalid when its index comes back.
        r.remove(a).unwrap();
        assert_eq!(r.get(a).err(), Some(Errno::EINVAL));
        let d = r.get_or_make(0, 0, &c, |_| Ok(()), || Ok(5)).unwrap();
        assert_ne!(d, a);
        assert!(r.get(d).is_ok() && r.get(c3).is_ok());
        assert_eq!(r.get(-1).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn permissions_follow_owner_group_other_and_cap_ipc_owner() {
        let owner = user(1000, 100);
        let p = Perm::new(1, 0o640, &owner);
        assert!(p.allows(&owner, MAY_READ | MAY_WRITE));
        let group = user(1001, 100);
        assert!(p.allows(&group, MAY_READ));
        assert!(!p.allows(&group, MAY_WRITE));
        let other = user(1002, 200);
        assert!(!p.allows(&other, MAY_READ));
        assert!(p.allows(&other, 0));
        // A requested mode is folded: 0o600 asks for read and write.
        assert!(!p.allows(&group, 0o600));
        let mut root = Creds::root();
        assert!(p.allows(&root, 0o666));
        root.caps.effective &= !(1 << cap::IPC_OWNER);
        assert!(!p.allows(&root, MAY_READ));
        assert!(p.owned_by(&owner) && !p.owned_by(&group) && p.owned_by(&root));
    }
}
