//! A container's record in `--root/<id>/`: `state.json` (written whole to
//! a temporary name and renamed, under the directory's lock, so that
//! concurrent CLI calls never see half of one), the start fifo while the
//! container is created, and the monitor's control socket.

use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "container id '{0}' is invalid: use letters, digits, '_', '+', '-' and '.' (not only dots)"
    )]
    BadId(String),
    #[error("container with id {0} already exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    Missing(String),
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Json {
        path: PathBuf,
        err: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |err| StateError::Io {
        path: path.to_owned(),
        err,
    }
}

/// The OCI status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What `state.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The monitor's pid: the process the caller waits on.
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    /// As last written: `created` until `start`, then `running`. Whether
    /// it still runs is the monitor's being alive (`Container::status`).
    pub status: Status,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The container's host cgroup, one directory per hierarchy (see
    /// `cgroup`); empty when the host has none.
    #[serde(default)]
    pub cgroup: Vec<PathBuf>,
}

impl Record {
    /// The container's host cgroup, if the host has one.
    pub fn cgroup(&self) -> Option<crate::cgroup::Cgroup> {
        (!self.cgroup.is_empty()).then(|| crate::cgroup::Cgroup {
            dirs: self.cgroup.clone(),
        })
    }

    /// Where `pause` acts: the gofer, the sandbox and its stubs, not
    /// the monitor.
    pub fn frozen_part(&self) -> Option<crate::cgroup::Cgroup> {
        self.cgroup().map(|c| crate::cgroup::Cgroup {
            dirs: c.dirs.iter().map(|d| d.join("sandbox")).collect(),
        })
    }
}

/// A container's directory.
pub struct Container {
    pub dir: PathBuf,
}

/// runc's rule for ids.
pub fn check_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
        && !id.chars().all(|c| c == '.');
    if ok {
        Ok(())
    } else {
        Err(StateError::BadId(id.to_owned()))
    }
}

/// Whether process `pid` exists (and is not a zombie's leftover we could
/// reap: the monitor is never our child).
pub fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // A zombie still answers kill(0); its /proc state says Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

impl Container {
    /// The directory of a new container: EEXIST is "already exists".
    pub fn create(root: &Path, id: &str) -> Result<Container, StateError> {
        check_id(id)?;
        std::fs::create_dir_all(root).map_err(io(root))?;
        let dir = root.join(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_owned()))
            }
            Err(e) => return Err(io(&dir)(e)),
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        Ok(Container { dir })
    }

    pub fn open(root: &Path, id: &str) -> Result<Container, StateError> {
        check_id(id)?;
        let dir = root.join(id);
        if !dir.join("state.json").exists() {
            return Err(StateError::Missing(id.to_owned()));
        }
        Ok(Container { dir })
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    pub fn control(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    /// The control socket's path through an fd of the directory (a
    /// container's directory may be longer than a socket path may be):
    /// the fd, to keep while the path is used, and the path.
    pub fn control_short(&self) -> Result<(std::fs::File, PathBuf), StateError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let d = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&self.dir)
            .map_err(io(&self.dir))?;
        let p = PathBuf::from(format!("/proc/self/fd/{}/control.sock", d.as_raw_fd()));
        Ok((d, p))
    }

    /// Holds the directory's lock while `f` runs (flock on the directory).
    pub fn locked<T>(&self, f: impl FnOnce() -> T) -> Result<T, StateError> {
        let d = std::fs::File::open(&self.dir).map_err(io(&self.dir))?;
        rustix::fs::flock(d.as_fd(), rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io(&self.dir)(e.into()))?;
        Ok(f())
    }

    pub fn read(&self) -> Result<Record, StateError> {
        let p = self.dir.join("state.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|err| StateError::Json { path: p, err })
    }

    /// Replaces state.json whole.
    pub fn write(&self, r: &Record) -> Result<(), StateError> {
        let p = self.dir.join("state.json");
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_string(r).map_err(|err| StateError::Json {
            path: p.clone(),
            err,
        })?;
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io(&p))
    }

    /// The status now: stopped once the monitor is gone.
    pub fn status(&self, r: &Record) -> Status {
        match r.status {
            Status::Created | Status::Running | Status::Paused | Status::Creating
                if !alive(r.pid) =>
            {
                Status::Stopped
            }
            s => s,
        }
    }

    /// Takes the directory away.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.dir).map_err(io(&self.dir))
    }
}

/// Now as RFC 3339 (UTC, nanoseconds), as runc writes `created`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc() {
        for ok in ["a", "abc-1.2_3+x", "0123456789abcdef"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x", "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_rfc3339() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 30, "{s}");
        assert!(
            s.starts_with("20") && s.ends_with('Z') && &s[10..11] == "T",
            "{s}"
        );
    }

    #[test]
    fn records_round_trip_and_a_dead_monitor_is_stopped() {
        let root = std::env::temp_dir().join(format!("husk-state-test-{}", std::process::id()));
        let c = Container::create(&root, "c1").unwrap();
        assert!(matches!(
            Container::create(&root, "c1"),
            Err(StateError::Exists(_))
        ));
        let r = Record {
            id: "c1".into(),
            pid: i32::MAX,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            status: Status::Running,
            annotations: Default::default(),
            cgroup: Vec::new(),
        };
        c.locked(|| c.write(&r)).unwrap().unwrap();
        let c = Container::open(&root, "c1").unwrap();
        let back = c.read().unwrap();
        assert_eq!(back.status, Status::Running);
        assert_eq!(c.status(&back), Status::Stopped);
        c.remove().unwrap();
        assert!(matches!(
            Container::open(&root, "c1"),
            Err(StateError::Missing(_))
        ));
        let _ = std::fs::remove_dir_all(&root);
    }
}
