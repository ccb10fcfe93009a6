//! The sentry's own file attribute types. The gofer's wire types
//! (`gofer::FileStat`, `StatFs`, `DirEntry`) are converted at the gofer
//! boundary (`gofer_fs`) and go no further.

/// What stat(2) reports about a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    /// (sec, nsec)
    pub atime: (i64, i64),
    /// (sec, nsec)
    pub mtime: (i64, i64),
    /// (sec, nsec)
    pub ctime: (i64, i64),
    /// Birth time (sec, nsec), where the filesystem keeps one; (0, 0)
    /// where it does not (statx leaves STATX_BTIME out).
    pub btime: (i64, i64),
    /// The key of the file's access ACL (`fs::acl`), 0 without one.
    pub acl: u64,
    /// Whether a directory has a default ACL (what new entries inherit).
    pub default_acl: bool,
}

impl Stat {
    /// Converts a host `struct stat` (of a host fd the sentry holds).
    // The field types differ between architectures, so some casts are
    // no-ops on x86-64.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_host(st: &libc::stat) -> Self {
        Stat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            rdev: st.st_rdev as u64,
            size: st.st_size as i64,
            blksize: st.st_blksize as i64,
            blocks: st.st_blocks as i64,
            atime: (st.st_atime as i64, st.st_atime_nsec as i64),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
            btime: (0, 0),
            acl: 0,
            default_acl: false,
        }
    }

    /// The file type bits (`S_IFMT`) of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }
}

/// What statfs(2) reports about a filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatFs {
    pub f_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
    pub flags: i64,
}

/// One directory entry, as getdents64 reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// `DT_*`
    pub kind: u8,
    pub name: Vec<u8>,
}

/// A device number in the kernel's own encoding (major above 20 bits of
/// minor), as fdinfo and sock_diag show it.
pub fn kernel_dev(dev: u64) -> u32 {
    (libc::major(dev) << 20) | libc::minor(dev)
}

/// What fchmod, fchown and futimens set on an inode no filesystem holds
/// (a pipe's, a socket's, as Linux's pipefs and sockfs keep them); fstat
/// shows them over the object's own.
#[derive(Default)]
pub struct AnonAttrs(parking_lot::Mutex<Changed>);

#[derive(Default, Clone, Copy)]
struct Changed {
    perm: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    atime: Option<(i64, i64)>,
    mtime: Option<(i64, i64)>,
    ctime: Option<(i64, i64)>,
}

impl AnonAttrs {
    /// `st` with what was set since.
    pub fn apply(&self, mut st: Stat) -> Stat {
        let c = *self.0.lock();
        if let Some(p) = c.perm {
            st.mode = st.mode & libc::S_IFMT | p;
        }
        st.uid = c.uid.unwrap_or(st.uid);
        st.gid = c.gid.unwrap_or(st.gid);
        st.atime = c.atime.unwrap_or(st.atime);
        st.mtime = c.mtime.unwrap_or(st.mtime);
        st.ctime = c.ctime.unwrap_or(st.ctime);
        st
    }

    /// Sets what `a` asks for (the caller checked its permission); the
    /// change time is now.
    pub fn set(&self, a: &super::vfs::SetAttr) {
        let mut c = self.0.lock();
        if let Some(m) = a.mode {
            c.perm = Some(m & 0o7777);
        }
        c.uid = a.uid.or(c.uid);
        c.gid = a.gid.or(c.gid);
        c.atime = a.atime.or(c.atime);
        c.mtime = a.mtime.or(c.mtime);
        let ns = crate::kernel::time::host_ns(libc::CLOCK_REALTIME);
        c.ctime = Some((ns / 1_000_000_000, ns % 1_000_000_000));
    }
}
