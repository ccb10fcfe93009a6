//! PID namespaces.
//!
//! Tasks and processes keep one sandbox-wide id each: the first
//! namespace's number, by which every kernel table is keyed. A namespace
//! made by clone or unshare(CLONE_NEWPID) gives each task in it (or below
//! it) a number of its own as well, and ids are translated only where
//! they cross the ABI: a global id goes out as the viewer's number
//! ([`PidNs::local`], 0 when the viewer cannot see it) and a number from
//! the application comes in as a global id ([`PidNs::global`]). In the
//! first namespace both are the identity, so the common path does not
//! change.
//!
//! All of it runs under the kernel lock; the map's own mutex is never
//! contended.

use super::userns::UserNs;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Linux's MAX_PID_NS_LEVEL: clone past it is ENOSPC.
pub const MAX_LEVEL: u32 = 32;

/// An id no task has (numbers stay below pid_max): what a number the
/// caller's namespace has not given stands for.
pub const NOBODY: i32 = i32::MAX;

/// /proc/sys/kernel/pid_max: numbers wrap below it.
pub const PID_MAX: i32 = 1 << 22;

/// Where numbers wrap to (Linux's RESERVED_PIDS: the low ones are left
/// to daemons started early).
pub const RESERVED: i32 = 300;

/// The number after `n`, wrapping below pid_max.
pub fn next_number(n: i32) -> i32 {
    if n.saturating_add(1) >= PID_MAX {
        RESERVED
    } else {
        n + 1
    }
}

static NEXT_INO: AtomicU64 = AtomicU64::new(4026536000);

pub struct PidNs {
    pub parent: Option<Arc<PidNs>>,
    /// 0 for the sandbox's first namespace.
    pub level: u32,
    /// The user namespace it belongs to.
    pub owner: Arc<UserNs>,
    /// Its /proc/PID/ns/pid inode number (0: the first, the base).
    pub ino: u64,
    map: Mutex<Map>,
}

#[derive(Default)]
struct Map {
    /// Global id -> number here.
    local: HashMap<i32, i32>,
    /// Number here -> global id.
    global: HashMap<i32, i32>,
    /// Ids gone from here whose numbers may still be read (a dead
    /// peer's SO_PEERCRED, a semaphore's last pid): global id -> number.
    /// Only ids going out are translated through it.
    lingering: HashMap<i32, i32>,
    /// The number last given (/proc/sys/kernel/ns_last_pid).
    last: i32,
    /// Its init's global id, once it has one.
    init: i32,
    /// Its init has exited: no task may join (fork is ENOMEM).
    closed: bool,
    /// The exit of the init that closed it, told to its parent once the
    /// namespace's other tasks are gone, as Linux's init waits for them
    /// in zap_pid_ns_processes.
    held_exit: Option<(i32, super::task::ExitInfo)>,
}

impl std::fmt::Debug for PidNs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PidNs(level {}, ino {})", self.level, self.ino)
    }
}

/// The sandbox's first PID namespace.
pub fn first() -> Arc<PidNs> {
    static FIRST: OnceLock<Arc<PidNs>> = OnceLock::new();
    FIRST
        .get_or_init(|| {
            Arc::new(PidNs {
                parent: None,
                level: 0,
                owner: super::userns::init(),
                ino: 0,
                map: Mutex::default(),
            })
        })
        .clone()
}

impl PidNs {
    /// A new namespace below `parent`, owned by `owner`.
    pub fn child(parent: &Arc<PidNs>, owner: Arc<UserNs>) -> crate::KResult<Arc<PidNs>> {
        if parent.level + 1 > MAX_LEVEL {
            return Err(crate::Errno::ENOSPC);
        }
        Ok(Arc::new(PidNs {
            parent: Some(parent.clone()),
            level: parent.level + 1,
            owner,
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            map: Mutex::default(),
        }))
    }

    pub fn is_first(&self) -> bool {
        self.level == 0
    }

    /// The number `global` has here, if it is here or below.
    pub fn local(&self, global: i32) -> Option<i32> {
        if self.is_first() {
            return Some(global);
        }
        self.map.lock().local.get(&global).copied()
    }

    /// [`local`](Self::local), 0 for a task this namespace cannot see
    /// (what Linux's pid_vnr gives). The number of an id that has gone
    /// lingers (`retire`), as Linux's struct pid keeps its numbers for
    /// whoever still refers to it.
    pub fn vnr(&self, global: i32) -> i32 {
        if global <= 0 {
            return 0;
        }
        if self.is_first() {
            return global;
        }
        let m = self.map.lock();
        m.local
            .get(&global)
            .or_else(|| m.lingering.get(&global))
            .copied()
            .unwrap_or(0)
    }

    /// The global id of number `local` here.
    pub fn global(&self, local: i32) -> Option<i32> {
        if local <= 0 {
            return None;
        }
        if self.is_first() {
            return Some(local);
        }
        self.map.lock().global.get(&local).copied()
    }

    /// Whether `other` is this namespace or one below it.
    pub fn contains(&self, other: &PidNs) -> bool {
        let mut n = Some(other);
        while let Some(x) = n {
            if std::ptr::eq(x, self) {
                return true;
            }
            if x.level <= self.level {
                return false;
            }
            n = x.parent.as_deref();
        }
        false
    }

    /// Its init's global id (1 for the first; 0 before it has one).
    pub fn init(&self) -> i32 {
        if self.is_first() {
            1
        } else {
            self.map.lock().init
        }
    }

    /// The last number given here (/proc/sys/kernel/ns_last_pid), None
    /// for the first namespace (the kernel's allocator has it).
    pub fn last(&self) -> Option<i32> {
        (!self.is_first()).then(|| self.map.lock().last)
    }

    /// Sets where the search for the next number starts
    /// (ns_last_pid).
    pub fn set_last(&self, last: i32) {
        self.map.lock().last = last;
    }

    /// Global ids with a number here, with that number.
    pub fn members(&self) -> Vec<(i32, i32)> {
        self.map
            .lock()
            .local
            .iter()
            .map(|(&g, &l)| (g, l))
            .collect()
    }

    /// Its init exited: nothing joins it any more.
    pub fn close(&self) {
        self.map.lock().closed = true;
    }

    /// Keeps the exit of init `tgid` until the others are gone.
    pub fn hold_exit(&self, tgid: i32, info: super::task::ExitInfo) {
        self.map.lock().held_exit = Some((tgid, info));
    }

    /// Whether the exit of `tgid` is held until the namespace empties.
    pub fn holds_exit_of(&self, tgid: i32) -> bool {
        !self.is_first() && self.map.lock().held_exit.is_some_and(|(t, _)| t == tgid)
    }

    /// The held exit of its init, once only init is left in it.
    pub fn take_held_exit(&self) -> Option<(i32, super::task::ExitInfo)> {
        let mut m = self.map.lock();
        let (tgid, _) = m.held_exit?;
        if m.local.keys().any(|&g| g != tgid) {
            return None;
        }
        m.held_exit.take()
    }

    /// Gives global id `global` a number here and in every namespace up
    /// to (not including) the first. ENOMEM when one of them is closed
    /// or out of numbers. The first task to join a namespace is its
    /// init (number 1). The numbers go again when the guard is dropped
    /// without [`Entered::keep`].
    pub fn enter(self: &Arc<PidNs>, global: i32) -> crate::KResult<Entered> {
        let mut chain = Vec::new();
        let mut n = Some(self);
        while let Some(ns) = n.filter(|ns| !ns.is_first()) {
            chain.push(ns);
            n = ns.parent.as_ref();
        }
        let mut maps: Vec<_> = chain.iter().map(|ns| ns.map.lock()).collect();
        if maps.iter().any(|m| m.closed) {
            return Err(crate::Errno::ENOMEM);
        }
        let mut picked = Vec::with_capacity(maps.len());
        for m in &maps {
            picked.push(free_number(m).ok_or(crate::Errno::ENOMEM)?);
        }
        for (m, l) in maps.iter_mut().zip(picked) {
            if l == 1 {
                m.init = global;
            }
            m.last = l;
            m.local.insert(global, l);
            m.global.insert(l, global);
        }
        Ok(Entered {
            ns: self.clone(),
            global,
            kept: false,
        })
    }

    /// Takes global id `global` out of this namespace and those above.
    pub fn leave(&self, global: i32) {
        self.each_up(|m| {
            if let Some(l) = m.local.remove(&global) {
                m.global.remove(&l);
            }
            m.lingering.remove(&global);
        });
    }

    /// `global` is gone: its numbers are free here and above, but still
    /// read out for it until [`leave`](Self::leave).
    pub fn retire(&self, global: i32) {
        self.each_up(|m| {
            if let Some(l) = m.local.remove(&global) {
                m.global.remove(&l);
                m.lingering.insert(global, l);
            }
        });
    }

    fn each_up(&self, mut f: impl FnMut(&mut Map)) {
        let mut n = Some(self);
        while let Some(ns) = n.filter(|ns| !ns.is_first()) {
            f(&mut ns.map.lock());
            n = ns.parent.as_deref();
        }
    }
}

/// Numbers just given to a task that is not registered yet: a clone that
/// fails after [`PidNs::enter`] gives them back by dropping this.
#[must_use]
pub struct Entered {
    ns: Arc<PidNs>,
    global: i32,
    kept: bool,
}

impl Entered {
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if !self.kept {
            self.ns.leave(self.global);
        }
    }
}

/// The next free number after the last one given, wrapping as Linux's
/// cyclic allocator does (past pid_max, back to RESERVED).
fn free_number(m: &Map) -> Option<i32> {
    if m.init == 0 && m.local.is_empty() {
        return Some(1);
    }
    let mut n = m.last;
    for _ in 0..PID_MAX {
        n = next_number(n);
        if !m.global.contains_key(&n) {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_nest_and_free() {
        let root = first();
        let a = PidNs::child(&root, crate::kernel::userns::init()).unwrap();
        let b = PidNs::child(&a, crate::kernel::userns::init()).unwrap();
        a.enter(100).unwrap().keep();
        a.enter(101).unwrap().keep();
        b.enter(102).unwrap().keep();
        assert_eq!(a.local(100), Some(1));
        assert_eq!(a.local(101), Some(2));
        assert_eq!(a.local(102), Some(3));
        assert_eq!(b.local(102), Some(1));
        assert_eq!(b.local(100), None);
        assert_eq!(b.vnr(100), 0);
        assert_eq!(a.global(3), Some(102));
        assert_eq!(root.local(102), Some(102));
        assert!(a.contains(&b) && !b.contains(&a) && root.contains(&b));
        assert_eq!(a.init(), 100);
        assert_eq!(b.init(), 102);
        b.retire(102);
        assert_eq!(a.local(102), None);
        assert_eq!(a.global(3), None);
        assert_eq!(
            (a.vnr(102), b.vnr(102)),
            (3, 1),
            "read out while it lingers"
        );
        b.leave(102);
        assert_eq!(a.vnr(102), 0);
        // Numbers go on from the last one, not back into the hole.
        a.enter(103).unwrap().keep();
        assert_eq!(a.local(103), Some(4));
    }

    #[test]
    fn closed_namespace_refuses_and_holds_init_exit() {
        let a = PidNs::child(&first(), crate::kernel::userns::init()).unwrap();
        a.enter(10).unwrap().keep();
        a.enter(11).unwrap().keep();
        a.close();
        assert_eq!(a.enter(12).err(), Some(crate::Errno::ENOMEM));
        let info = crate::kernel::task::ExitInfo {
            status: 0,
            code: 1,
            value: 0,
        };
        a.hold_exit(10, info);
        assert!(a.take_held_exit().is_none(), "11 is still there");
        a.leave(11);
        assert_eq!(a.take_held_exit().map(|h| h.0), Some(10));
        assert!(a.take_held_exit().is_none(), "told once");
    }

    #[test]
    fn depth_is_bounded() {
        let mut ns = first();
        for _ in 0..MAX_LEVEL {
            ns = PidNs::child(&ns, crate::kernel::userns::init()).unwrap();
        }
        assert_eq!(
            PidNs::child(&ns, crate::kernel::userns::init()).err(),
            Some(crate::Errno::ENOSPC)
        );
    }
}
