//! Host cgroups for a sandbox: where its processes run, the limits on
//! them, freezing them and their statistics.
//!
//! A sandbox's cgroup `P` (`husk do`: `husk-PID` beside the caller's own;
//! a container: its `cgroupsPath`) holds the process that started it (the
//! container's monitor) and a child `P/sandbox` holding the gofer, the
//! sandbox and every stub. Limits are set on `P` and bound both; freezing
//! acts on `P/sandbox` only, so a paused container's monitor still
//! answers `kill`. Past the memory limit the kernel's OOM killer acts
//! inside `P` only, never on the rest of the host.
//!
//! cgroup v1 (a directory in every mounted hierarchy) and v2 (one
//! directory) are both handled; which interface a file belongs to is
//! decided by the files present (`memory.max` or `memory.limit_in_bytes`).

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("the host has no cgroup with {0} that husk can use")]
    NoController(&'static str),
    #[error("cgroupsPath {0:?}: {1}")]
    BadPath(String, &'static str),
    #[error("{0} did not reach {1:?}")]
    Stuck(String, &'static str),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |err| CgroupError::Io {
        path: path.display().to_string(),
        err,
    }
}

/// Room for husk's own processes above the application's limit: the
/// sentry's heap and the gofer (the sandbox's tmpfs data is counted in
/// the limit itself, by the sentry).
pub fn hard_limit(limit: u64) -> u64 {
    limit.saturating_add((limit / 8).max(128 << 20))
}

/// Limits on a cgroup (linux.resources, `update`); `None` leaves one as
/// it is. Memory values are bytes with -1 for unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory plus swap (runc's meaning).
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

impl Resources {
    /// The host bound of a sandbox of `memory` bytes under these limits:
    /// its memory limit, and memory plus swap, raised by husk's room
    /// ([`hard_limit`]), so that swap stays what was asked.
    pub fn with_room(mut self, memory: u64) -> Resources {
        let hard = hard_limit(memory);
        let room = i64::try_from(hard - memory).unwrap_or(i64::MAX);
        self.memory = Some(i64::try_from(hard).unwrap_or(-1));
        if let Some(sw) = self.memory_swap.filter(|&s| s > 0) {
            self.memory_swap = Some(sw.saturating_add(room));
        }
        self
    }
}

/// One mounted hierarchy and this process's place in it.
#[derive(Debug)]
struct Hierarchy {
    mount: PathBuf,
    own: String,
}

/// The hierarchies husk places sandboxes in: every cgroup v1 hierarchy
/// when the host has any, else the cgroup v2 one.
fn hierarchies() -> Vec<Hierarchy> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse_hierarchies(&mountinfo, &own)
}

fn parse_hierarchies(mountinfo: &str, own: &str) -> Vec<Hierarchy> {
    let mut v1 = Vec::new();
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), _, Some(opts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let opts: Vec<&str> = opts.split(',').collect();
        let found = own.lines().find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
            let matches = match fstype {
                "cgroup" => !ctrls.is_empty() && ctrls.split(',').all(|c| opts.contains(&c)),
                "cgroup2" => ctrls.is_empty(),
                _ => false,
            };
            matches.then(|| path.to_owned())
        });
        let Some(path) = found else { continue };
        let h = Hierarchy {
            mount: PathBuf::from(point),
            own: path,
        };
        if fstype == "cgroup" {
            if !v1.iter().any(|x: &Hierarchy| x.mount == h.mount) {
                v1.push(h);
            }
        } else if v2.is_none() {
            v2 = Some(h);
        }
    }
    if v1.is_empty() {
        v2.into_iter().collect()
    } else {
        v1
    }
}

/// systemd's slice naming: `a-b.slice` is `a.slice/a-b.slice`.
fn expand_slice(slice: &str) -> Result<String, &'static str> {
    let name = slice
        .strip_suffix(".slice")
        .ok_or("a slice ends in .slice")?;
    if name == "-" {
        return Ok(String::new());
    }
    if name.is_empty() || name.contains('/') || name.starts_with('-') || name.ends_with('-') {
        return Err("not a valid slice name");
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if part.is_empty() {
            return Err("not a valid slice name");
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
        prefix.push('-');
    }
    Ok(path)
}

/// Where a container's cgroup is, as a path within each hierarchy:
/// absolute from the hierarchy's root, or relative to this process's
/// cgroup. `cgroupsPath` in systemd form (`slice:prefix:name`, with
/// `--systemd-cgroup`) maps to the directory systemd would make; no
/// systemd is asked.
pub fn container_path(
    cgroups_path: Option<&str>,
    systemd: bool,
    id: &str,
) -> Result<String, CgroupError> {
    let bad = |why| CgroupError::BadPath(cgroups_path.unwrap_or_default().to_owned(), why);
    match cgroups_path.filter(|p| !p.is_empty()) {
        None => Ok(format!("husk-{id}")),
        Some(p) if systemd => {
            let mut parts = p.split(':');
            let (Some(slice), Some(prefix), Some(name), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("the systemd form is slice:prefix:name"));
            };
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            let dir = expand_slice(slice).map_err(bad)?;
            let unit = if name.ends_with(".slice") {
                expand_slice(name).map_err(bad)?
            } else if prefix.is_empty() {
                format!("/{name}.scope")
            } else {
                format!("/{prefix}-{name}.scope")
            };
            if name.is_empty() || name.contains('/') {
                return Err(bad("the unit name is empty or has a '/'"));
            }
            Ok(format!("{dir}{unit}"))
        }
        Some(p) => {
            if p.split('/').any(|c| c == "..") {
                return Err(bad("'..' is not allowed"));
            }
            Ok(p.to_owned())
        }
    }
}

/// A cgroup: its directory in each hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    pub dirs: Vec<PathBuf>,
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
fn keyed(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once(' ')?;
        Some((k, v.trim().parse().ok()?))
    })
}

/// A limit as v2 spells it: "max" for none.
fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// cpu.shares (2..262144) as cgroup v2's cpu.weight (1..10000), runc's
/// mapping.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

impl Cgroup {
    /// The cgroup at `path` (see [`container_path`]) in every hierarchy;
    /// `None` when the host has no cgroup hierarchy.
    pub fn at(path: &str) -> Option<Cgroup> {
        let dirs: Vec<PathBuf> = hierarchies()
            .into_iter()
            .map(|h| {
                let rel = if path.starts_with('/') {
                    path.to_owned()
                } else {
                    format!("{}/{path}", h.own.trim_end_matches('/'))
                };
                h.mount.join(rel.trim_start_matches('/'))
            })
            .collect();
        (!dirs.is_empty()).then_some(Cgroup { dirs })
    }

    /// The first directory holding `file` (the hierarchy whose
    /// controller it is).
    fn file(&self, name: &str) -> Option<PathBuf> {
        self.dirs.iter().map(|d| d.join(name)).find(|p| p.exists())
    }

    fn read(&self, name: &str) -> Option<String> {
        read(&self.file(name)?)
    }

    fn read_u64(&self, name: &str) -> Option<u64> {
        self.read(name)?.trim().parse().ok()
    }

    /// A `key value` file as a table (empty when missing).
    fn table(&self, name: &str) -> std::collections::BTreeMap<String, u64> {
        self.read(name)
            .map(|s| keyed(&s).map(|(k, v)| (k.to_owned(), v)).collect())
            .unwrap_or_default()
    }

    fn v2(&self) -> bool {
        self.file("cgroup.controllers").is_some()
    }

    /// Makes the directories (and missing parents), with what each new
    /// one needs before it can hold processes.
    pub fn create(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let mut missing = Vec::new();
            let mut d = dir.as_path();
            while !d.exists() {
                missing.push(d.to_path_buf());
                d = d.parent().ok_or_else(|| CgroupError::Io {
                    path: dir.display().to_string(),
                    err: std::io::ErrorKind::NotFound.into(),
                })?;
            }
            for m in missing.into_iter().rev() {
                let parent = m.parent().unwrap_or(Path::new("/")).to_path_buf();
                // cgroup v2 hands controllers down only when asked; a
                // parent with processes of its own refuses (EBUSY), and
                // the limits then stay unset.
                if parent.join("cgroup.subtree_control").exists() {
                    let have = read(&parent.join("cgroup.controllers")).unwrap_or_default();
                    for c in have.split_whitespace() {
                        if ["memory", "cpu", "cpuset", "pids"].contains(&c) {
                            let _ = std::fs::write(
                                parent.join("cgroup.subtree_control"),
                                format!("+{c}"),
                            );
                        }
                    }
                }
                match std::fs::create_dir(&m) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(&m)(e)),
                }
                // cgroup v1's cpuset starts empty and takes no process
                // until given the parent's CPUs and nodes.
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let here = m.join(f);
                    if !parent.join("cgroup.controllers").exists()
                        && here.exists()
                        && read(&here).is_some_and(|s| s.trim().is_empty())
                    {
                        let from = read(&parent.join(f)).unwrap_or_default();
                        write(&here, from.trim())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes the directories, sets `r` and moves the calling process in.
    pub fn make(&self, r: &Resources) -> Result<(), CgroupError> {
        self.create()?;
        self.set(r)?;
        self.enter()
    }

    /// A child cgroup, made.
    pub fn child(&self, name: &str) -> Result<Cgroup, CgroupError> {
        let c = Cgroup {
            dirs: self.dirs.iter().map(|d| d.join(name)).collect(),
        };
        c.create()?;
        Ok(c)
    }

    /// Moves the calling process (all its threads) here.
    pub fn enter(&self) -> Result<(), CgroupError> {
        for d in &self.dirs {
            write(&d.join("cgroup.procs"), "0")?;
        }
        Ok(())
    }

    /// Moves the calling process to the parent directories, out of the
    /// way of [`Cgroup::remove`].
    pub fn leave(&self) {
        for d in &self.dirs {
            if let Some(p) = d.parent() {
                let _ = std::fs::write(p.join("cgroup.procs"), "0");
            }
        }
    }

    /// Removes the directories and their children, once their last
    /// processes are gone (retrying briefly for those still exiting).
    pub fn remove(&self) {
        for d in &self.dirs {
            if !d.exists() {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        Cgroup {
                            dirs: vec![e.path()],
                        }
                        .remove();
                    }
                }
            }
            let mut done = false;
            for _ in 0..200 {
                if std::fs::remove_dir(d).is_ok() {
                    done = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if !done {
                tracing::warn!(dir = %d.display(), "cannot remove the sandbox's cgroup");
            }
        }
    }

    /// Sets the limits `r` asks for.
    pub fn set(&self, r: &Resources) -> Result<(), CgroupError> {
        let need =
            |name: &str, ctrl: &'static str| self.file(name).ok_or(CgroupError::NoController(ctrl));
        let v2 = self.v2();
        if let Some(m) = r.memory {
            if v2 {
                write(&need("memory.max", "memory")?, &v2_limit(m))?;
            } else {
                let f = need("memory.limit_in_bytes", "memory")?;
                // v1 refuses a memory limit above memory+swap's: raise
                // that one first.
                if write(&f, &m.to_string()).is_err() {
                    if let Some(sw) = self.file("memory.memsw.limit_in_bytes") {
                        write(&sw, &r.memory_swap.unwrap_or(-1).to_string())?;
                    }
                    write(&f, &m.to_string())?;
                }
            }
        }
        if let Some(sw) = r.memory_swap {
            if v2 {
                if let Some(f) = self.file("memory.swap.max") {
                    let swap_only = match (sw, r.memory) {
                        (s, _) if s < 0 => -1,
                        (s, Some(m)) if m >= 0 => s.saturating_sub(m).max(0),
                        (s, _) => s,
                    };
                    write(&f, &v2_limit(swap_only))?;
                }
            } else if let Some(f) = self.file("memory.memsw.limit_in_bytes") {
                write(&f, &sw.to_string())?;
            } else if sw > 0 {
                // The host does not account swap: memory+swap is memory.
                tracing::info!("memory swap limit: the host has no swap accounting; ignored");
            }
        }
        if let Some(m) = r.memory_reservation {
            let f = if v2 {
                need("memory.low", "memory")?
            } else {
                need("memory.soft_limit_in_bytes", "memory")?
            };
            let v = if v2 { v2_limit(m) } else { m.to_string() };
            write(&f, &v)?;
        }
        if let Some(s) = r.cpu_shares {
            if v2 {
                write(
                    &need("cpu.weight", "cpu")?,
                    &shares_to_weight(s).to_string(),
                )?;
            } else {
                write(&need("cpu.shares", "cpu")?, &s.to_string())?;
            }
        }
        if r.cpu_quota.is_some() || r.cpu_period.is_some() {
            if v2 {
                let f = need("cpu.max", "cpu")?;
                let now = read(&f).unwrap_or_default();
                let mut w = now.split_whitespace();
                let (q0, p0) = (
                    w.next().unwrap_or("max").to_owned(),
                    w.next().unwrap_or("100000").to_owned(),
                );
                let q = r
                    .cpu_quota
                    .map(|q| {
                        if q <= 0 {
                            "max".to_owned()
                        } else {
                            q.to_string()
                        }
                    })
                    .unwrap_or(q0);
                let p = r.cpu_period.map(|p| p.to_string()).unwrap_or(p0);
                write(&f, &format!("{q} {p}"))?;
            } else {
                if let Some(p) = r.cpu_period {
                    write(&need("cpu.cfs_period_us", "cpu")?, &p.to_string())?;
                }
                if let Some(q) = r.cpu_quota {
                    let q = if q <= 0 { -1 } else { q };
                    write(&need("cpu.cfs_quota_us", "cpu")?, &q.to_string())?;
                }
            }
        }
        if let Some(c) = &r.cpuset_cpus {
            write(&need("cpuset.cpus", "cpuset")?, c)?;
        }
        if let Some(m) = &r.cpuset_mems {
            write(&need("cpuset.mems", "cpuset")?, m)?;
        }
        Ok(())
    }

    /// Freezes (or thaws) every process here and waits until the kernel
    /// says they are.
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        let (file, value, done, want): (_, _, _, &'static str) =
            if let Some(f) = self.file("freezer.state") {
                let v = if frozen { "FROZEN" } else { "THAWED" };
                (f.clone(), v, f, v)
            } else if let Some(f) = self.file("cgroup.freeze") {
                let events = f.with_file_name("cgroup.events");
                (
                    f,
                    if frozen { "1" } else { "0" },
                    events,
                    if frozen { "frozen 1" } else { "frozen 0" },
                )
            } else {
                return Err(CgroupError::NoController("a freezer"));
            };
        for _ in 0..1000 {
            write(&file, value)?;
            if read(&done).is_some_and(|s| s.lines().any(|l| l.trim() == want)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(CgroupError::Stuck(file.display().to_string(), want))
    }

    /// Every process here and below, by host pid.
    pub fn pids(&self) -> Vec<i32> {
        fn walk(d: &Path, out: &mut Vec<i32>) {
            if let Some(s) = read(&d.join("cgroup.procs")) {
                out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(&e.path(), out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Some(d) = self.dirs.first() {
            walk(d, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// OOM kills so far.
    pub fn oom_kills(&self) -> u64 {
        ["memory.events", "memory.oom_control"]
            .iter()
            .filter_map(|f| self.read(f))
            .flat_map(|s| {
                keyed(&s)
                    .filter(|(k, _)| *k == "oom_kill")
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
            })
            .next()
            .unwrap_or(0)
    }

    /// Statistics in the shape of runc's `events` (`data` of a stats
    /// event): cpu, memory and pids as the host counts them for every
    /// process here (husk's own included).
    pub fn stats(&self) -> serde_json::Value {
        use serde_json::json;
        let max = |s: Option<String>| s.map(|v| v.trim().parse().unwrap_or(u64::MAX)).unwrap_or(0);
        let cpu_stat = self.table("cpu.stat");
        let c = |k: &str| cpu_stat.get(k).copied().unwrap_or(0);
        let v2 = self.v2();
        let (total, percpu, user, kernel, throttled) = if v2 {
            (
                c("usage_usec") * 1000,
                Vec::new(),
                c("user_usec") * 1000,
                c("system_usec") * 1000,
                c("throttled_usec") * 1000,
            )
        } else {
            // cpuacct.stat counts USER_HZ (100 per second) ticks.
            let st = self.table("cpuacct.stat");
            let tick = 10_000_000;
            (
                self.read_u64("cpuacct.usage").unwrap_or(0),
                self.read("cpuacct.usage_percpu")
                    .map(|s| {
                        s.split_whitespace()
                            .filter_map(|v| v.parse::<u64>().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                st.get("user").copied().unwrap_or(0) * tick,
                st.get("system").copied().unwrap_or(0) * tick,
                c("throttled_time"),
            )
        };
        let raw: serde_json::Map<String, serde_json::Value> = self
            .read("memory.stat")
            .map(|s| keyed(&s).map(|(k, v)| (k.to_owned(), json!(v))).collect())
            .unwrap_or_default();
        let memory = if v2 {
            let events = self.table("memory.events");
            json!({
                "usage": {
                    "usage": self.read_u64("memory.current").unwrap_or(0),
                    "max": self.read_u64("memory.peak").unwrap_or(0),
                    "limit": max(self.read("memory.max")),
                    "failcnt": events.get("max").copied().unwrap_or(0),
                },
                "raw": raw,
            })
        } else {
            json!({
                "usage": {
                    "usage": self.read_u64("memory.usage_in_bytes").unwrap_or(0),
                    "max": self.read_u64("memory.max_usage_in_bytes").unwrap_or(0),
                    "limit": self.read_u64("memory.limit_in_bytes").unwrap_or(0),
                    "failcnt": self.read_u64("memory.failcnt").unwrap_or(0),
                },
                "raw": raw,
            })
        };
        let pids_limit = match self.read("pids.max") {
            Some(s) if s.trim() == "max" => 0,
            s => max(s),
        };
        json!({
            "cpu": {
                "usage": {"total": total, "percpu": percpu, "kernel": kernel, "user": user},
                "throttling": {
                    "periods": c("nr_periods"),
                    "throttledPeriods": c("nr_throttled"),
                    "throttledTime": throttled,
                },
            },
            "memory": memory,
            "pids": {"current": self.read_u64("pids.current").unwrap_or(0), "limit": pids_limit},
        })
    }
}

/// `husk do`'s cgroup: `husk-do-PID` beside the caller's own, with a
/// memory limit of [`hard_limit`]`(limit)`, entered. `None` (with a
/// warning) when the host has no memory controller this process can
/// use: the bound is then the sentry's own accounting only.
pub fn own(limit: u64) -> Option<Cgroup> {
    let cg = Cgroup::at(&format!("husk-do-{}", std::process::id()))?;
    sweep(&cg);
    match cg.make(&Resources::default().with_room(limit)) {
        Ok(()) => Some(cg),
        Err(e) => {
            tracing::warn!("cannot make the sandbox's memory cgroup ({e}): bounded by husk's own accounting only");
            cg.leave();
            cg.remove();
            None
        }
    }
}

/// Removes what a `husk do` killed outright left beside `cg`: empty
/// `husk-do-PID` cgroups whose PID is gone.
fn sweep(cg: &Cgroup) {
    for d in &cg.dirs {
        let Some(rd) = d.parent().and_then(|p| std::fs::read_dir(p).ok()) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("husk-do-")) else {
                continue;
            };
            let Ok(pid) = pid.parse::<i32>() else {
                continue;
            };
            if pid > 0 && !Path::new(&format!("/proc/{pid}")).exists() {
                let stale = Cgroup {
                    dirs: vec![e.path()],
                };
                if stale.pids().is_empty() {
                    stale.remove();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hard_limit_leaves_room_for_husk() {
        assert_eq!(hard_limit(1 << 30), (1 << 30) + (128 << 20));
        assert_eq!(hard_limit(16 << 30), (16 << 30) + (2 << 30));
        assert_eq!(hard_limit(u64::MAX), u64::MAX);
    }

    #[test]
    fn room_is_added_to_memory_and_to_swap() {
        let r = Resources {
            memory: Some(1 << 30),
            memory_swap: Some(1 << 30),
            cpu_shares: Some(512),
            ..Resources::default()
        }
        .with_room(1 << 30);
        assert_eq!(r.memory, Some((1 << 30) + (128 << 20)));
        assert_eq!(r.memory_swap, Some((1 << 30) + (128 << 20)));
        assert_eq!(r.cpu_shares, Some(512));
        let unlimited_swap = Resources {
            memory_swap: Some(-1),
            ..Resources::default()
        }
        .with_room(1 << 30);
        assert_eq!(unlimited_swap.memory_swap, Some(-1));
    }

    #[test]
    fn systemd_paths_are_the_directories_systemd_makes() {
        let p = |s, sd| container_path(Some(s), sd, "c1");
        assert_eq!(
            p("system.slice:docker:abc", true).unwrap(),
            "/system.slice/docker-abc.scope"
        );
        assert_eq!(
            p(":husk:abc", true).unwrap(),
            "/system.slice/husk-abc.scope"
        );
        assert_eq!(
            p("machine-pod1.slice:cri:x", true).unwrap(),
            "/machine.slice/machine-pod1.slice/cri-x.scope"
        );
        assert_eq!(p("-.slice::x", true).unwrap(), "/x.scope");
        assert_eq!(
            p("user.slice:p:a-b.slice", true).unwrap(),
            "/user.slice/a.slice/a-b.slice"
        );
        assert!(p("system.slice:docker", true).is_err());
        assert!(p("bad:docker:x", true).is_err());
        assert!(p("a--b.slice:docker:x", true).is_err());
        assert!(p("system.slice:docker:a/b", true).is_err());
        assert_eq!(p("/docker/abc", false).unwrap(), "/docker/abc");
        assert!(p("/docker/../../etc", false).is_err());
        assert_eq!(container_path(None, true, "c1").unwrap(), "husk-c1");
        assert_eq!(container_path(Some(""), false, "c1").unwrap(), "husk-c1");
    }

    #[test]
    fn hierarchies_are_v1_when_the_host_has_any() {
        let mi = "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
        let own = "3:cpu,cpuacct:/a\n2:memory:/m/n\n1:name=systemd:/\n0::/u\n";
        let h = parse_hierarchies(mi, own);
        let got: Vec<_> = h
            .iter()
            .map(|h| (h.mount.to_str().unwrap(), h.own.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/sys/fs/cgroup/cpu,cpuacct", "/a"),
                ("/sys/fs/cgroup/memory", "/m/n"),
                ("/sys/fs/cgroup/systemd", "/")
            ]
        );
        let v2 = parse_hierarchies(
            "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            "0::/user.slice\n",
        );
        assert_eq!(v2.len(), 1);
        assert_eq!(v2[0].own, "/user.slice");
    }

    #[test]
    fn v2_conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
    }

    /// A busy child in `cg`'s child `sandbox`, which `pids` lists.
    fn busy_child(cg: &Cgroup) -> (Cgroup, std::process::Child, i32) {
        let inner = cg.child("sandbox").unwrap();
        let child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        for d in &inner.dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string()).unwrap();
        }
        assert_eq!(cg.pids(), vec![pid]);
        (inner, child, pid)
    }

    /// The cgroup v2 interface where the host has one beside v1 (a
    /// hybrid host's controller-less tree): made, entered by a child,
    /// frozen through cgroup.freeze and thawed, its pids listed, removed.
    #[test]
    fn a_v2_cgroup_freezes_and_goes() {
        let base = Path::new("/sys/fs/cgroup/unified");
        if !base.join("cgroup.controllers").exists() {
            return;
        }
        let cg = Cgroup {
            dirs: vec![base.join(format!("husk-unit-v2-{}", std::process::id()))],
        };
        if cg.create().is_err() {
            return;
        }
        assert!(cg.v2());
        let (inner, mut child, _) = busy_child(&cg);
        inner.freeze(true).unwrap();
        let events = std::fs::read_to_string(inner.dirs[0].join("cgroup.events")).unwrap();
        assert!(events.contains("frozen 1"), "{events}");
        inner.freeze(false).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        cg.remove();
        assert!(!cg.dirs[0].exists());
    }

    /// Made, limited, entered by a child, frozen and thawed, and removed,
    /// on this host's real cgroups (skipped where there are none husk
    /// can write).
    #[test]
    fn a_cgroup_limits_freezes_and_goes() {
        let name = format!("husk-unit-{}", std::process::id());
        let Some(cg) = Cgroup::at(&name) else { return };
        if cg.create().is_err() {
            return;
        }
        let r = Resources {
            memory: Some(256 << 20),
            ..Resources::default()
        };
        if cg.set(&r).is_err() {
            cg.remove();
            return;
        }
        assert_eq!(cg.stats()["memory"]["usage"]["limit"], 256u64 << 20);
        let (inner, mut child, pid) = busy_child(&cg);
        // CPU ticks (utime + stime) of the busy child.
        let ticks = || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            // After the name: state, ppid, ..., utime (12th), stime (13th).
            let f: Vec<u64> = s
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse().ok())
                .collect();
            f.iter().sum::<u64>()
        };
        if inner.freeze(true).is_ok() {
            let before = ticks();
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(ticks(), before, "a frozen process ran");
            inner.freeze(false).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            assert!(ticks() > before, "a thawed process did not run");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        cg.remove();
        assert!(cg.dirs.iter().all(|d| !d.exists()));
    }
}
