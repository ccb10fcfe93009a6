//! The sandbox's memory bound on the host: `husk do` puts itself (and so
//! the gofer, the sandbox and every stub it starts) into a cgroup of its
//! own whose memory limit is the sandbox's limit plus room for husk's own
//! processes. Past it, the kernel's OOM killer acts inside that cgroup
//! only (the largest process there: in practice the stub of the program
//! that grew), never on the rest of the host. cgroup v1's memory
//! controller and cgroup v2 are both handled.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |err| CgroupError::Io {
        path: path.display().to_string(),
        err,
    }
}

/// A cgroup holding `husk do` and its children; removed when dropped
/// (after moving `husk do` back to where it was).
pub struct SandboxCgroup {
    dir: PathBuf,
    home: PathBuf,
}

/// Room for husk's own processes above the application's limit: the
/// sentry's heap and the gofer (the sandbox's tmpfs data is counted in
/// the limit itself, by the sentry).
pub fn hard_limit(limit: u64) -> u64 {
    limit.saturating_add((limit / 8).max(128 << 20))
}

impl SandboxCgroup {
    /// Creates the cgroup with a memory limit of [`hard_limit`]`(limit)`
    /// and moves the calling process into it. `Ok(None)` when the host has
    /// no memory controller this process can use (the bound is then the
    /// sentry's own accounting only).
    pub fn enter(name: &str, limit: u64) -> Result<Option<SandboxCgroup>, CgroupError> {
        let Some((home, v2)) = memory_cgroup() else {
            return Ok(None);
        };
        let dir = home.join(name);
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        let cg = SandboxCgroup {
            dir: dir.clone(),
            home,
        };
        let file = if v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        let f = dir.join(file);
        std::fs::write(&f, hard_limit(limit).to_string()).map_err(io(&f))?;
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, "0").map_err(io(&procs))?;
        Ok(Some(cg))
    }
}

impl Drop for SandboxCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.home.join("cgroup.procs"), "0");
        // The last member may still be exiting: retry briefly.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        tracing::warn!(dir = %self.dir.display(), "cannot remove the sandbox's cgroup");
    }
}

/// This process's memory cgroup directory, and whether it is cgroup v2.
fn memory_cgroup() -> Option<(PathBuf, bool)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v1 with a memory hierarchy first.
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (fstype, _src, opts) = (r.next()?, r.next()?, r.next().unwrap_or(""));
        let point = left.split(' ').nth(4)?;
        if fstype == "cgroup" && opts.split(',').any(|o| o == "memory") {
            let path = own.lines().find_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
                ctrls.split(',').any(|c| c == "memory").then_some(path)
            })?;
            return Some((Path::new(point).join(path.trim_start_matches('/')), false));
        }
    }
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() != Some("cgroup2") {
            continue;
        }
        let point = left.split(' ').nth(4)?;
        let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        let dir = Path::new(point).join(path.trim_start_matches('/'));
        let ctrls = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
        if !ctrls.split_whitespace().any(|c| c == "memory") {
            return None;
        }
        // Children get the controller only when the parent hands it down.
        let sub = dir.join("cgroup.subtree_control");
        if std::fs::write(&sub, "+memory").is_err() {
            return None;
        }
        return Some((dir, true));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::hard_limit;

    #[test]
    fn the_hard_limit_leaves_room_for_husk() {
        assert_eq!(hard_limit(1 << 30), (1 << 30) + (128 << 20));
        assert_eq!(hard_limit(16 << 30), (16 << 30) + (2 << 30));
        assert_eq!(hard_limit(u64::MAX), u64::MAX);
    }
}
