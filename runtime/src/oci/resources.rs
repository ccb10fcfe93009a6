//! Commands on a container's resources, through its host cgroup (see
//! `cgroup`): `pause` and `resume` (the freezer, on the gofer, the sandbox
//! and its stubs; the monitor keeps answering), `update` (the cgroup's
//! limits, and the sentry's memory size and task limit), `ps` (its host
//! processes) and `events` (statistics, OOM kills).

use super::bundle::{self, Limits};
use super::state::{Container, Status};
use super::{ask, Global, ListFormat};
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// linux.resources as JSON: a file, or - for stdin (flags given too
    /// override it).
    #[arg(long, short = 'r')]
    resources: Option<PathBuf>,
    /// Memory limit: bytes, or with k, m, g, t; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory soft limit.
    #[arg(long, allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long)]
    cpu_share: Option<u64>,
    /// CPU time per period, in µs; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CFS period, in µs.
    #[arg(long)]
    cpu_period: Option<u64>,
    /// CPUs the container may use (0-3,6).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// The most processes and threads; 0 or -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Not supported (refused).
    #[arg(long, hide = true)]
    blkio_weight: Option<String>,
    #[arg(long, hide = true)]
    kernel_memory: Option<String>,
    #[arg(long, hide = true)]
    kernel_memory_tcp: Option<String>,
    #[arg(long, hide = true)]
    cpu_rt_period: Option<String>,
    #[arg(long, hide = true)]
    cpu_rt_runtime: Option<String>,
    #[arg(long, hide = true)]
    l3_cache_schema: Option<String>,
    #[arg(long, hide = true)]
    mem_bw_schema: Option<String>,
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// table: the host's `ps` rows of the container's processes; json:
    /// their host pids.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    pub id: String,
    /// Arguments for ps (default: -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Print the statistics once and exit.
    #[arg(long)]
    stats: bool,
    /// Time between statistics (e.g. 5s, 500ms, 1m).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
    pub id: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (e.g. 5s, 500ms, 1m)");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err("the interval must be more than zero".into());
    }
    Ok(d)
}

/// A memory size as runc takes it: bytes, or a number with k, m, g, t or
/// p (powers of 1024, optionally followed by "i" and "b"); -1 for none.
fn parse_memory(flag: &str, s: &str) -> Result<i64> {
    let bad = || anyhow::anyhow!("--{flag}: invalid size {s:?}");
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let digits = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (n, unit) = lower.split_at(digits);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// The container, which must not have stopped.
fn live(g: &Global, id: &str) -> Result<(Container, super::state::Record, Status)> {
    let c = Container::open(&g.root, id)?;
    let r = c.read()?;
    let s = c.status(&r);
    if s == Status::Stopped {
        anyhow::bail!("container {id} is not running");
    }
    Ok((c, r, s))
}

/// Sets the recorded status (under the state lock).
fn set_status(c: &Container, s: Status) -> Result<()> {
    c.locked(|| {
        let mut r = c.read()?;
        r.status = s;
        c.write(&r)
    })??;
    Ok(())
}

pub fn pause(g: &Global, id: &str) -> Result<i32> {
    let (c, r, s) = live(g, id)?;
    match s {
        Status::Running | Status::Created => {}
        Status::Paused => anyhow::bail!("container {id} is already paused"),
        s => anyhow::bail!("container {id} is {s}, not running"),
    }
    let cg = r
        .frozen_part()
        .context("pause: the container has no host cgroup (the host gave husk none)")?;
    cg.freeze(true)?;
    set_status(&c, Status::Paused)?;
    Ok(0)
}

/// Thaws a paused container and marks it running again (or created,
/// if it was paused before `start`).
pub fn thaw(c: &Container) -> Result<()> {
    let r = c.read()?;
    if let Some(cg) = r.frozen_part() {
        cg.freeze(false)?;
    }
    let s = if c.fifo().exists() {
        Status::Created
    } else {
        Status::Running
    };
    set_status(c, s)
}

pub fn resume(g: &Global, id: &str) -> Result<i32> {
    let (c, _, s) = live(g, id)?;
    if s != Status::Paused {
        anyhow::bail!("container {id} is not paused");
    }
    thaw(&c)?;
    Ok(0)
}

/// The limits `update` asks for: --resources first, then the flags.
fn requested(a: &UpdateArgs) -> Result<Limits> {
    for (v, flag) in [
        (&a.blkio_weight, "blkio-weight"),
        (&a.kernel_memory, "kernel-memory"),
        (&a.kernel_memory_tcp, "kernel-memory-tcp"),
        (&a.cpu_rt_period, "cpu-rt-period"),
        (&a.cpu_rt_runtime, "cpu-rt-runtime"),
        (&a.l3_cache_schema, "l3-cache-schema"),
        (&a.mem_bw_schema, "mem-bw-schema"),
    ] {
        if v.is_some() {
            anyhow::bail!("--{flag}: not supported yet (memory, cpu and pids are)");
        }
    }
    let mut l = match &a.resources {
        None => Limits::default(),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("--resources: stdin")?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("--resources {}", p.display()))?;
            }
            let r: oci_spec::runtime::LinuxResources =
                serde_json::from_str(&text).context("--resources: not linux.resources JSON")?;
            bundle::resources(&r)?
        }
    };
    let g = &mut l.cgroup;
    if let Some(m) = &a.memory {
        g.memory = Some(parse_memory("memory", m)?);
    }
    if let Some(m) = &a.memory_reservation {
        g.memory_reservation = Some(parse_memory("memory-reservation", m)?);
    }
    if let Some(m) = &a.memory_swap {
        g.memory_swap = Some(parse_memory("memory-swap", m)?);
    }
    g.cpu_shares = a.cpu_share.or(g.cpu_shares);
    g.cpu_quota = a.cpu_quota.or(g.cpu_quota);
    g.cpu_period = a.cpu_period.or(g.cpu_period);
    if let Some(c) = &a.cpuset_cpus {
        if bundle::cpu_count(c).is_none() {
            anyhow::bail!("--cpuset-cpus: {c:?} is not a CPU list");
        }
        g.cpuset_cpus = Some(c.clone());
    }
    g.cpuset_mems = a.cpuset_mems.clone().or(g.cpuset_mems.take());
    if let Some(p) = a.pids_limit {
        l.pids = Some(u64::try_from(p).unwrap_or(0));
    }
    Ok(l)
}

pub fn update(g: &Global, a: &UpdateArgs) -> Result<i32> {
    let l = requested(a)?;
    let (c, r, _) = live(g, &a.id)?;
    // The sentry's size is the limit; the host bound adds husk's room.
    let sentry_memory = l.cgroup.memory.map(|m| u64::try_from(m).unwrap_or(0));
    let host = match sentry_memory.filter(|&m| m > 0) {
        Some(m) => l.cgroup.clone().with_room(m),
        None => l.cgroup.clone(),
    };
    if host != crate::cgroup::Resources::default() {
        let cg = r
            .cgroup()
            .context("update: the container has no host cgroup (the host gave husk none)")?;
        cg.set(&host)?;
    }
    if sentry_memory.is_some() || l.pids.is_some() {
        let n = |v: Option<u64>| v.unwrap_or(u64::MAX);
        ask(&c, &format!("update {} {}", n(sentry_memory), n(l.pids)))?;
    }
    Ok(0)
}

pub fn ps(g: &Global, a: &PsArgs) -> Result<i32> {
    let (_, r, _) = live(g, &a.id)?;
    let pids = r.cgroup().map(|c| c.pids()).unwrap_or_else(|| vec![r.pid]);
    if a.format == ListFormat::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_owned()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    if !out.status.success() {
        anyhow::bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps: its output has no PID column")?;
    let mut o = std::io::stdout().lock();
    writeln!(o, "{header}")?;
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.binary_search(&p).is_ok()) {
            writeln!(o, "{l}")?;
        }
    }
    Ok(0)
}

pub fn events(g: &Global, a: &EventsArgs) -> Result<i32> {
    let (c, r, _) = live(g, &a.id)?;
    let cg = r
        .cgroup()
        .context("events: the container has no host cgroup (the host gave husk none)")?;
    let event = |kind: &str, data: Option<serde_json::Value>| {
        let mut e = serde_json::json!({"type": kind, "id": a.id});
        if let Some(d) = data {
            e["data"] = d;
        }
        println!("{e}");
        let _ = std::io::stdout().flush();
    };
    if a.stats {
        event("stats", Some(cg.stats()));
        return Ok(0);
    }
    let tick = a.interval.min(Duration::from_millis(200));
    let mut ooms = cg.oom_kills();
    let mut next = Instant::now();
    loop {
        if Instant::now() >= next {
            event("stats", Some(cg.stats()));
            next += a.interval;
        }
        let now = cg.oom_kills();
        if now > ooms {
            event("oom", None);
            ooms = now;
        }
        std::thread::sleep(tick);
        if c.read().map(|r| c.status(&r)).unwrap_or(Status::Stopped) == Status::Stopped {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_as_runc_takes_them() {
        assert_eq!(parse_memory("memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("memory", "64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_memory("memory", "4096").unwrap(), 4096);
        assert_eq!(parse_memory("memory", "-1").unwrap(), -1);
        for bad in ["", "m", "12x", "-2", "99999999999999999p"] {
            assert!(parse_memory("memory", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
