//! Namespace files: what opening /proc/PID/ns/NAME gives. Each holds its
//! namespace, so setns(2) can join it and the NS_GET_* ioctls can ask
//! about it. Mount, UTS, user, IPC, network and cgroup namespaces can be
//! many; the others are the sandbox's one each.

use super::file::{File, FileOps};
use super::synth::stat_of;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::userns::UserNs;
use std::sync::Arc;

/// nsfs' device number.
const DEV: u64 = 0x4;

#[derive(Clone)]
pub enum Ns {
    Mnt(Arc<super::vfs::MountNs>),
    Uts(Arc<crate::kernel::uts::UtsNs>),
    User(Arc<UserNs>),
    /// An IPC namespace (held open while this is).
    Ipc(crate::kernel::ipc::NsRef),
    Net(Arc<crate::local::Names>),
    Cgroup(Arc<crate::kernel::cgroup::CgroupNs>),
    Pid(Arc<crate::kernel::pidns::PidNs>),
    Time(Arc<crate::kernel::timens::TimeNs>),
    /// One of the sandbox's single namespaces: its CLONE_NEW* flag.
    Only(i32),
}

impl Ns {
    /// Its CLONE_NEW* type.
    pub fn kind(&self) -> i32 {
        match self {
            Ns::Mnt(_) => libc::CLONE_NEWNS,
            Ns::Uts(_) => libc::CLONE_NEWUTS,
            Ns::User(_) => libc::CLONE_NEWUSER,
            Ns::Ipc(..) => libc::CLONE_NEWIPC,
            Ns::Net(_) => libc::CLONE_NEWNET,
            Ns::Cgroup(_) => libc::CLONE_NEWCGROUP,
            Ns::Pid(_) => libc::CLONE_NEWPID,
            Ns::Time(_) => libc::CLONE_NEWTIME,
            Ns::Only(k) => *k,
        }
    }

    /// The user namespace it belongs to.
    pub fn owner(&self) -> Arc<UserNs> {
        match self {
            Ns::Mnt(m) => m.owner.clone(),
            Ns::Uts(u) => u.owner.clone(),
            Ns::User(u) => u.parent.clone().unwrap_or_else(crate::kernel::userns::init),
            Ns::Ipc(r) => r.owner.clone(),
            Ns::Net(n) => n.owner(),
            Ns::Cgroup(c) => c.owner.clone(),
            Ns::Pid(p) => p.owner.clone(),
            Ns::Time(t) => t.owner.clone(),
            Ns::Only(_) => crate::kernel::userns::init(),
        }
    }
}

/// A PID namespace's nsfs inode number (the first has the base one).
pub fn pid_ns_ino(ns: &crate::kernel::pidns::PidNs) -> u64 {
    match ns.ino {
        0 => PID_BASE_INO,
        n => n,
    }
}

/// The first PID namespace's inode number.
pub const PID_BASE_INO: u64 = 4026531836;

/// A time namespace's nsfs inode number (the first has the base one).
pub fn time_ns_ino(ns: &crate::kernel::timens::TimeNs) -> u64 {
    match ns.ino {
        0 => 4026531834,
        n => n,
    }
}

/// An open namespace file (inode `ino`).
pub struct NsFile {
    pub ns: Ns,
    pub ino: u64,
}

impl NsFile {
    pub fn user(ns: Arc<UserNs>) -> NsFile {
        let ino = ns.ino;
        NsFile {
            ns: Ns::User(ns),
            ino,
        }
    }
}

pub const NS_GET_USERNS: u64 = 0xb701;
pub const NS_GET_PARENT: u64 = 0xb702;
pub const NS_GET_NSTYPE: u64 = 0xb703;
pub const NS_GET_OWNER_UID: u64 = 0xb704;

impl FileOps for NsFile {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(stat_of(libc::S_IFREG | 0o444, self.ino, DEV, 0))
    }
    /// Opening /proc/PID/ns/NAME gives another file of the namespace.
    fn reopen(&self, _flags: i32) -> Option<KResult<Box<dyn FileOps>>> {
        Some(Ok(Box::new(NsFile {
            ns: self.ns.clone(),
            ino: self.ino,
        })))
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        let mine = cx.proc_ref().creds.userns.0.clone();
        // A user namespace the caller may be handed: its own or one
        // below it.
        let give = |cx: &mut crate::kernel::Ctx<'_, '_>, ns: Arc<UserNs>| -> KResult<u64> {
            if !ns.within(&mine) {
                return Err(Errno::EPERM);
            }
            let f = File::new(Box::new(NsFile::user(ns)), libc::O_RDONLY, b"user".to_vec());
            cx.install(f, true).map(|fd| u64::from(fd.unsigned_abs()))
        };
        match cmd {
            NS_GET_NSTYPE => Ok(u64::from(self.ns.kind().unsigned_abs())),
            // The first user namespace has no owner to give.
            NS_GET_USERNS => match &self.ns {
                Ns::User(u) if u.parent.is_none() => Err(Errno::EPERM),
                _ => give(cx, self.ns.owner()),
            },
            // Only user and PID namespaces nest; the sandbox's PID
            // namespace is the first there is (lsns stops at EPERM). A
            // PID namespace's parent is given only within the caller's.
            NS_GET_PARENT => match &self.ns {
                Ns::User(u) => give(cx, u.parent.clone().ok_or(Errno::EPERM)?),
                Ns::Pid(p) => {
                    let parent = p.parent.clone().ok_or(Errno::EPERM)?;
                    if !cx.task_ref().pid_ns.contains(&parent) {
                        return Err(Errno::EPERM);
                    }
                    let ino = pid_ns_ino(&parent);
                    let f = NsFile {
                        ns: Ns::Pid(parent),
                        ino,
                    };
                    let f = File::new(Box::new(f), libc::O_RDONLY, b"pid".to_vec());
                    cx.install(f, true).map(|fd| u64::from(fd.unsigned_abs()))
                }
                _ => Err(Errno::EINVAL),
            },
            NS_GET_OWNER_UID => match &self.ns {
                Ns::User(u) => {
                    let uid = mine.uid_shown(u.owner);
                    cx.mm.write(arg, &uid.to_ne_bytes())?;
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            },
            _ => Err(Errno::ENOTTY),
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A namespace file bind-mounted somewhere (`ip netns add` keeps a
/// network namespace at /run/netns/NAME so): the mount holds the
/// namespace, as Linux's holds the nsfs inode, however long the process
/// it came from lives. Opening it gives a file of that namespace.
pub struct NsMount {
    file: NsFile,
}

impl NsMount {
    pub fn new(f: &NsFile) -> NsMount {
        NsMount {
            file: NsFile {
                ns: f.ns.clone(),
                ino: f.ino,
            },
        }
    }
}

impl super::vfs::Filesystem for NsMount {
    fn fstype(&self) -> &'static str {
        "nsfs"
    }
    fn lookup(&self, _c: &super::vfs::Caller, rel: &[u8]) -> KResult<Stat> {
        if !rel.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        self.file.stat()
    }
    fn open(
        &self,
        _c: &super::vfs::Caller,
        rel: &[u8],
        _flags: i32,
        _mode: u32,
    ) -> KResult<Box<dyn FileOps>> {
        if !rel.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        Ok(Box::new(NsFile {
            ns: self.file.ns.clone(),
            ino: self.file.ino,
        }))
    }
}
