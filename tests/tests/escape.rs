//! Escape attempts: a sandboxed program tries to reach the host's kernel
//! interfaces and processes. Every verdict is taken from the host side (what
//! the host knows to be secret, what the host sees of husk's processes),
//! never from what the sandboxed program claims about itself.

use husk_tests::{
    build_dir, compile_c, crate_dir, find_or_build_husk, husk_argv, minimal_env, on_path, run,
    run_under_husk, short_diff, Outcome, RunSpec,
};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// 16 hex digits from the kernel's random source.
fn random_token() -> String {
    let mut b = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("reading /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Kills and reaps a host process when the test ends, also on panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills a whole process group when the test ends, also on panic.
struct KillGroupOnDrop(Child);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        // SAFETY: kill(2) takes plain integers and touches no memory of
        // ours; pgid is the group of a child spawned in its own group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Shell commands that try every route we know of from the sandbox to the
/// host's procfs, sysfs and devices, with errors ignored so that it runs to
/// the end. `$1` is the host pid to look for. The
/// script never contains a secret itself: it would show up in its own
/// cmdline.
const PROBE_SCRIPT: &str = r#"exec 2>&1
export P=$1
probe() { echo "== $*"; sh -c "$*" 2>&1 || true; }
seen() { test -e "$1" && echo "VISIBLE $1"; }
probe 'ls /proc'
probe 'cat /proc/*/environ /proc/*/cmdline'
seen /proc/$P
probe 'cat /proc/$P/environ /proc/$P/cmdline'
probe 'head -n 1 /proc/kallsyms'
probe 'umount /proc; umount -l /proc; umount /sys; umount -l /sys'
probe 'ls /proc /sys'
probe 'cat /proc/*/environ /proc/*/cmdline'
seen /proc/$P
probe 'mkdir -p /mnt/x && mount --bind / /mnt/x'
probe 'mkdir -p /mnt/r && mount --rbind / /mnt/r'
for d in /mnt/x /mnt/r; do
  probe "ls $d/proc $d/sys"
  probe "cat $d/proc/*/environ $d/proc/*/cmdline"
  seen $d/proc/$P
  probe "head -c 100 $d/proc/kallsyms"
  probe "cat $d/sys/kernel/*"
  probe "find $d/dev -maxdepth 1"
  probe "chroot $d cat /proc/$P/environ /proc/$P/cmdline"
done
probe 'mkdir -p /mnt/p && mount -t proc proc /mnt/p && ls /mnt/p'
probe 'cat /mnt/p/*/environ /mnt/p/*/cmdline; head -n 1 /mnt/p/kallsyms'
seen /mnt/p/$P
probe 'mkdir -p /mnt/s && mount -t sysfs sysfs /mnt/s && ls /mnt/s && cat /mnt/s/kernel/*'
probe 'ls /proc/1/root/proc; cat /proc/1/root/proc/*/environ'
probe 'cat /proc/self/root/proc/$P/environ'
probe 'ls /proc/self/fd; ls -l /proc/self/fd'
probe 'head -c 64 /dev/mem; head -c 64 /dev/kmem; head -c 64 /dev/port'
probe 'ls /dev; ls /sys/fs/cgroup'
echo "== end of probe $((6 * 7))"
"#;

/// What the script prints when it ran to the end (computed at run time, so
/// that the script's text, visible in its own cmdline, does not contain it).
const PROBE_END: &str = "== end of probe 42";

#[test]
fn host_proc_is_not_reachable() {
    let husk = find_or_build_husk().expect("husk binary");
    let env_secret = format!("HUSKSECRET_{}", random_token());
    let arg_secret = format!("ARGSECRET_{}", random_token());

    // A host process carrying both secrets, in its environment and argv[0].
    let sleeper = Command::new("sleep")
        .arg0(&arg_secret)
        .arg("120")
        .env("HUSK_ESCAPE_PROBE", &env_secret)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting sleep");
    let sleeper = KillOnDrop(sleeper);
    let host_pid = sleeper.0.id().to_string();

    // Sanity: the host's procfs does show the secrets, so their absence
    // inside the sandbox means something. Right after spawn the new image
    // may not be set up yet (environ reads empty): poll briefly.
    let shows_secrets = || {
        let environ = fs::read(format!("/proc/{host_pid}/environ")).unwrap_or_default();
        let cmdline = fs::read(format!("/proc/{host_pid}/cmdline")).unwrap_or_default();
        contains(&environ, env_secret.as_bytes()) && contains(&cmdline, arg_secret.as_bytes())
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !shows_secrets() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        shows_secrets(),
        "the host does not show the sleeper's secrets"
    );
    let kallsyms = fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let kallsyms_first = kallsyms.lines().next().unwrap_or("").trim().to_owned();

    let prog: Vec<OsString> = vec![
        "/bin/sh".into(),
        "-c".into(),
        PROBE_SCRIPT.into(),
        "sh".into(),
        host_pid.clone().into(),
    ];
    let r = run_under_husk(&husk, &prog, Duration::from_secs(180)).expect("running husk");
    let out = [r.stdout.as_slice(), r.stderr.as_slice()].concat();
    let text = String::from_utf8_lossy(&out);
    println!(
        "probe: {} ({} bytes of output)\n{}",
        r.outcome,
        out.len(),
        head_lines(&text, 60)
    );
    assert!(
        text.contains(PROBE_END),
        "the probe script did not run to the end"
    );

    let mut leaks = Vec::new();
    if contains(&out, env_secret.as_bytes()) {
        leaks.push(format!("host environment secret {env_secret}"));
    }
    if contains(&out, arg_secret.as_bytes()) {
        leaks.push(format!("host argv secret {arg_secret}"));
    }
    if !kallsyms_first.is_empty() && text.contains(&kallsyms_first) {
        leaks.push(format!("host /proc/kallsyms line {kallsyms_first:?}"));
    }
    // A directory listing entry is a line that is exactly the pid.
    if text.lines().any(|l| l.trim() == host_pid) {
        leaks.push(format!("host pid {host_pid} listed in a /proc directory"));
    }
    for l in text.lines().filter(|l| l.starts_with("VISIBLE ")) {
        leaks.push(format!("host process directory exists: {l}"));
    }
    assert!(
        leaks.is_empty(),
        "host data reachable from the sandbox: {leaks:#?}"
    );
}

#[test]
fn int80_is_not_a_64bit_call() {
    let husk = find_or_build_husk().expect("husk binary");
    let src = crate_dir().join("robust/int80.c");
    let bin = build_dir().join("robust/int80");
    compile_c(&src, &[], &bin, false).expect("compiling int80.c");

    // For the record only: the host may or may not have i386 emulation.
    if let Ok(native) = Command::new(&bin).output() {
        println!("native:\n{}", String::from_utf8_lossy(&native.stdout));
    }

    let r = run_under_husk(
        &husk,
        &[OsString::from(bin.as_os_str())],
        Duration::from_secs(60),
    )
    .expect("running husk");
    let out = String::from_utf8_lossy(&r.stdout);
    println!("husk ({}):\n{out}", r.outcome);
    // Anything but -ENOSYS means the i386 number reached some handler; the
    // 64-bit one (fstat, writev) would answer 0 or print "writev-ran".
    assert!(!out.contains("writev-ran"), "int $0x80 ran x86-64 writev");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"open -38") && lines.contains(&"getpid -38"),
        "int $0x80 was not refused with -ENOSYS: {out}\nstderr: {}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// What the host sees of one process.
#[derive(Debug)]
struct HostView {
    pid: i32,
    role: String,
    status: BTreeMap<String, String>,
    /// Namespace kind -> whether it differs from the test's own.
    ns_differs: BTreeMap<&'static str, bool>,
}

const NS_KINDS: [&str; 7] = ["user", "pid", "net", "ipc", "uts", "mnt", "cgroup"];

fn ppid_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may contain spaces: the ppid follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

fn cmdline_of(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every live process below `root` on the host, with its parent.
fn descendants(root: i32) -> Vec<(i32, i32)> {
    let all: Vec<(i32, i32)> = fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter_map(|pid| Some((pid, ppid_of(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![];
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &all {
            if ppid == p {
                found.push((pid, ppid));
                frontier.push(pid);
            }
        }
    }
    found
}

fn host_view(pid: i32, role: &str) -> HostView {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    let ns_differs = NS_KINDS
        .iter()
        .map(|&k| {
            let theirs = fs::read_link(format!("/proc/{pid}/ns/{k}")).ok();
            let ours = fs::read_link(format!("/proc/self/ns/{k}")).ok();
            (k, theirs.is_some() && theirs != ours)
        })
        .collect();
    HostView {
        pid,
        role: role.to_owned(),
        status,
        ns_differs,
    }
}

/// Read from the host while a program runs: every process of husk has
/// NoNewPrivs and a seccomp filter, the gofer and the sandbox have their
/// own namespaces, and the gofer keeps only the file capabilities a
/// read-only root needs, the sandbox and its stubs run as the host's
/// nobody with no capabilities in a user namespace of their own.
#[test]
fn husk_processes_are_confined() {
    let husk = find_or_build_husk().expect("husk binary");
    let child = Command::new(&husk)
        .args(["do", "--", "sleep", "5"])
        .env_clear()
        .envs(minimal_env())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting husk");
    let husk_pid = child.id() as i32;
    let _guard = KillGroupOnDrop(child);

    // Wait until the gofer, the sandbox (boot) and at least one stub run.
    let deadline = Instant::now() + Duration::from_secs(4);
    let views = loop {
        let procs = descendants(husk_pid);
        let role = |pid: i32| {
            let argv = cmdline_of(pid);
            let is_husk = argv.first().is_some_and(|a| a.contains("husk"));
            if is_husk && argv.iter().any(|a| a == "gofer") {
                Some("gofer")
            } else if is_husk && argv.iter().any(|a| a == "boot") {
                Some("sandbox")
            } else {
                None
            }
        };
        let boots: Vec<i32> = procs
            .iter()
            .filter(|&&(p, _)| role(p) == Some("sandbox"))
            .map(|&(p, _)| p)
            .collect();
        let mut views: Vec<HostView> = procs
            .iter()
            .filter_map(|&(pid, ppid)| match role(pid) {
                Some(r) => Some(host_view(pid, r)),
                None if boots.contains(&ppid) => Some(host_view(pid, "stub")),
                None => None,
            })
            .collect();
        views.sort_by_key(|v| v.pid);
        let has = |r: &str| views.iter().any(|v| v.role == r);
        if (has("gofer") && has("sandbox") && has("stub")) || Instant::now() > deadline {
            break views;
        }
        thread::sleep(Duration::from_millis(50));
    };

    let mut problems = Vec::new();
    for v in &views {
        let field = |k: &str| v.status.get(k).map_or("?", String::as_str).to_owned();
        println!(
            "{} {}: Uid {} CapEff {} NoNewPrivs {} Seccomp {} ns differs {:?}",
            v.role,
            v.pid,
            field("Uid"),
            field("CapEff"),
            field("NoNewPrivs"),
            field("Seccomp"),
            v.ns_differs
        );
        if field("NoNewPrivs") != "1" {
            problems.push(format!(
                "{} {}: NoNewPrivs {}",
                v.role,
                v.pid,
                field("NoNewPrivs")
            ));
        }
        if field("Seccomp") != "2" {
            problems.push(format!(
                "{} {}: Seccomp {}",
                v.role,
                v.pid,
                field("Seccomp")
            ));
        }
        // DAC_OVERRIDE, DAC_READ_SEARCH and FOWNER only.
        if v.role == "gofer"
            && !matches!(
                field("CapEff").as_str(),
                "000000000000000e" | "0000000000000000"
            )
        {
            problems.push(format!("gofer {}: CapEff {}", v.pid, field("CapEff")));
        }
        // The sandbox and its stubs: the host's nobody, no capabilities,
        // in a user namespace of their own.
        if v.role != "gofer" {
            let uid = field("Uid");
            if uid.split_whitespace().any(|u| u != "65534") {
                problems.push(format!("{} {}: Uid {uid}", v.role, v.pid));
            }
            for k in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
                if field(k) != "0000000000000000" {
                    problems.push(format!("{} {}: {k} {}", v.role, v.pid, field(k)));
                }
            }
            if !v.ns_differs["user"] {
                problems.push(format!(
                    "{} {}: shares the host's user namespace",
                    v.role, v.pid
                ));
            }
        }
        if v.role != "stub" {
            for k in ["net", "ipc", "uts", "pid", "mnt", "cgroup"] {
                // The gofer's waiter, parent of the gofer's pid namespace,
                // stays in the host's with no capabilities at all.
                let waiter = v.role == "gofer" && field("CapEff") == "0000000000000000";
                if k == "pid" && waiter {
                    continue;
                }
                if !v.ns_differs[k] {
                    problems.push(format!(
                        "{} {}: shares the host's {k} namespace",
                        v.role, v.pid
                    ));
                }
            }
        }
    }
    // Stubs hold nothing that reaches the sentry (no pidfd).
    for v in views.iter().filter(|v| v.role == "stub") {
        let links: Vec<String> = fs::read_dir(format!("/proc/{}/fd", v.pid))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| fs::read_link(e.path()).ok())
                    .map(|l| l.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(l) = links.iter().find(|l| l.contains("pidfd")) {
            problems.push(format!("stub {} holds {l}", v.pid));
        }
    }
    // Stubs add a filter of their own on top of the sandbox's.
    let filters = |role: &str| -> Vec<u32> {
        views
            .iter()
            .filter(|v| v.role == role)
            .filter_map(|v| v.status.get("Seccomp_filters")?.parse().ok())
            .collect()
    };
    if let Some(&sandbox) = filters("sandbox").iter().max() {
        for s in filters("stub") {
            if s <= sandbox {
                problems.push(format!(
                    "a stub has {s} seccomp filters, the sandbox {sandbox}: no stub filter"
                ));
            }
        }
    }
    for r in ["gofer", "sandbox", "stub"] {
        if !views.iter().any(|v| v.role == r) {
            problems.push(format!("no {r} process found below husk pid {husk_pid}"));
        }
    }
    assert!(
        problems.is_empty(),
        "husk's processes are not confined: {problems:#?}"
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn head_lines(text: &str, n: usize) -> String {
    let mut v: Vec<&str> = text.lines().take(n).collect();
    if text.lines().nth(n).is_some() {
        v.push("...");
    }
    v.join("\n")
}

/// How a host command run by [`run_command`] ended, with its output.
struct Ran {
    outcome: Outcome,
    stdout: String,
    stderr: String,
}

/// Sends SIGKILL to the process group `pgid`.
fn kill_group(pgid: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // pgid is the group of a child spawned in its own group.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Runs `cmd` (stdin as the caller set it) in its own process group with
/// stdout and stderr captured, killing the group at `timeout`. After a
/// normal exit the group is killed only if `kill_strays`, so that a caller
/// can look for what the run left behind; the pipes are read for at most
/// 5 s more either way.
fn run_command(mut cmd: Command, timeout: Duration, kill_strays: bool) -> Ran {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("starting the command");
    let pgid = child.id() as i32;
    let read_all = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
        rx
    };
    let out_rx = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let err_rx = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        let fired = matches!(
            done_rx.recv_timeout(timeout),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        if fired {
            kill_group(pgid);
        }
        fired
    });
    let status = child.wait().expect("waiting for the command");
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    if kill_strays {
        kill_group(pgid);
    }
    let grace = Duration::from_secs(5);
    let text = |rx: mpsc::Receiver<Vec<u8>>| {
        String::from_utf8_lossy(&rx.recv_timeout(grace).unwrap_or_default()).into_owned()
    };
    let outcome = if timed_out {
        Outcome::TimedOut
    } else {
        Outcome::Exited(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        )
    };
    Ran {
        outcome,
        stdout: text(out_rx),
        stderr: text(err_rx),
    }
}

/// A pids cgroup made for one test. Dropping it (also on panic) kills
/// whatever is still in it, removes it, and disables the pids controller
/// again in the parent if the test enabled it there (cgroup v2).
struct PidsCgroup {
    dir: PathBuf,
    /// The parent's cgroup.subtree_control, when we wrote +pids into it.
    enabled_in: Option<PathBuf>,
}

impl PidsCgroup {
    /// Creates `name` below the test's own cgroup in the hierarchy that has
    /// the pids controller (a v1 `pids` mount, else the v2 hierarchy if it
    /// offers `pids`) with `pids.max` = `max`. Err says why the test cannot
    /// run here.
    fn create(name: &str, max: u32) -> Result<PidsCgroup, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
        let own = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
        // (mount point, root of the mount in its hierarchy, fs type, superblock
        // options).
        let mounts: Vec<(&str, &str, &str, &str)> = mountinfo
            .lines()
            .filter_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                let pre: Vec<&str> = pre.split(' ').collect();
                let post: Vec<&str> = post.split(' ').collect();
                Some((*pre.get(4)?, *pre.get(3)?, *post.first()?, *post.get(2)?))
            })
            .collect();
        // Our path in a hierarchy, below the mount point that shows it.
        let place = |mountpoint: &str, root: &str, path: &str| -> Option<PathBuf> {
            let rel = if root == "/" {
                path
            } else {
                path.strip_prefix(root)?
            };
            Some(Path::new(mountpoint).join(rel.trim_start_matches('/')))
        };

        let v1 = mounts.iter().find(|(_, _, fstype, opts)| {
            *fstype == "cgroup" && opts.split(',').any(|o| o == "pids")
        });
        if let Some(&(mountpoint, root, _, _)) = v1 {
            let path = own
                .lines()
                .filter_map(|l| {
                    let mut f = l.splitn(3, ':');
                    Some((f.nth(1)?, f.next()?))
                })
                .find(|(ctl, _)| ctl.split(',').any(|c| c == "pids"))
                .map(|(_, p)| p)
                .ok_or("no pids line in /proc/self/cgroup")?;
            let parent = place(mountpoint, root, path).ok_or_else(|| {
                format!("our pids cgroup {path} is not below the mount {mountpoint} (root {root})")
            })?;
            return PidsCgroup::make(parent.join(name), max, None);
        }

        let Some(&(mountpoint, root, _, _)) = mounts.iter().find(|m| m.2 == "cgroup2") else {
            return Err("no pids cgroup v1 mount and no cgroup2 mount".into());
        };
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or("no cgroup v2 line in /proc/self/cgroup")?;
        let parent = place(mountpoint, root, path).ok_or_else(|| {
            format!("our cgroup {path} is not below the mount {mountpoint} (root {root})")
        })?;
        let controllers = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "pids") {
            return Err(format!(
                "the pids controller is not available in {} (controllers: {:?})",
                parent.display(),
                controllers.trim()
            ));
        }
        let subtree = parent.join("cgroup.subtree_control");
        let enabled = fs::read_to_string(&subtree).unwrap_or_default();
        let mut enabled_in = None;
        if !enabled.split_whitespace().any(|c| c == "pids") {
            // A v2 cgroup other than the root that has processes of its own
            // cannot hand controllers down: then the test cannot run here.
            fs::write(&subtree, "+pids")
                .map_err(|e| format!("cannot enable +pids in {}: {e}", subtree.display()))?;
            enabled_in = Some(subtree);
        }
        PidsCgroup::make(parent.join(name), max, enabled_in)
    }

    fn make(dir: PathBuf, max: u32, enabled_in: Option<PathBuf>) -> Result<PidsCgroup, String> {
        if let Err(e) = fs::create_dir(&dir) {
            if let Some(subtree) = &enabled_in {
                let _ = fs::write(subtree, "-pids");
            }
            return Err(format!("cannot create {}: {e}", dir.display()));
        }
        let cg = PidsCgroup { dir, enabled_in };
        fs::write(cg.dir.join("pids.max"), max.to_string()).expect("writing pids.max");
        Ok(cg)
    }

    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn current(&self) -> Option<u64> {
        self.file("pids.current").trim().parse().ok()
    }

    fn procs(&self) -> Vec<i32> {
        self.file("cgroup.procs")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Live members (pid and command name). An exited but unreaped
    /// process is no longer listed yet still counts in pids.current.
    fn members(&self) -> Vec<String> {
        self.procs()
            .iter()
            .map(|p| {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                format!("{p} {}", comm.trim())
            })
            .collect()
    }

    /// Polls until nothing is charged to the group any more: how long that
    /// took, or what is still there at the deadline.
    fn wait_empty(&self, within: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            if self.current() == Some(0) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > within {
                return Err(format!(
                    "pids.current {:?} after {within:?}, live members {:?}",
                    self.current(),
                    self.members()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Only processes of this test's run can be in the group.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.current() != Some(0) && Instant::now() < deadline {
            for pid in self.procs() {
                // SAFETY: kill(2) takes plain integers and touches no
                // memory of ours.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
        // rmdir can fail with EBUSY for a moment after the last exit.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Err(e) = fs::remove_dir(&self.dir) {
            if Instant::now() > deadline {
                eprintln!("warning: cannot remove {}: {e}", self.dir.display());
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if let Some(subtree) = &self.enabled_in {
            let _ = fs::write(subtree, "-pids");
        }
    }
}

/// A fork bomb under a host pids limit: the host kernel refuses the tasks
/// the sandbox cannot have, and the sandbox turns that into EAGAIN for
/// fork and pthread_create (as Linux does when a pids limit is hit) instead
/// of crashing or hanging; once the children are gone, fork works again,
/// and nothing of the run outlives husk.
#[test]
fn fork_bomb_meets_eagain_under_a_pids_limit() {
    let husk = find_or_build_husk().expect("husk binary");
    let src = crate_dir().join("robust/forkbomb.c");
    let bin = build_dir().join("robust/forkbomb");
    compile_c(&src, &[], &bin, false).expect("compiling forkbomb.c");

    // The sandbox itself needs about 10-20 host tasks (husk, the gofer and
    // its waiter, the sandbox's threads, one stub per process): 60 leaves
    // room for a few dozen sandboxed tasks.
    let name = format!("husk-forkbomb-{}", std::process::id());
    let cg = match PidsCgroup::create(&name, 60) {
        Ok(cg) => cg,
        Err(why) => {
            println!("SKIP fork_bomb_meets_eagain_under_a_pids_limit: {why}");
            return;
        }
    };
    println!("cgroup {}", cg.dir.display());

    let procs = fs::OpenOptions::new()
        .write(true)
        .open(cg.dir.join("cgroup.procs"))
        .expect("opening cgroup.procs");
    let procs_fd = procs.as_raw_fd();
    let mut cmd = Command::new(&husk);
    cmd.args(["do", "--"])
        .arg(&bin)
        .env_clear()
        .envs(minimal_env())
        .current_dir("/")
        .stdin(Stdio::null());
    // SAFETY: the hook runs in the forked child before exec and only calls
    // write(2) on a descriptor that stays open in the parent until spawn
    // returns, and reads errno: both async-signal-safe, no allocation.
    unsafe {
        cmd.pre_exec(move || {
            // "0" moves the writing process itself into the group.
            if libc::write(procs_fd, b"0".as_ptr().cast(), 1) == 1 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
    let r = run_command(cmd, Duration::from_secs(30), false);
    drop(procs);
    // Read before the guard kills anything: what the run left behind. Its
    // processes must all be gone; one that husk did not reap is reaped by
    // the host's init (or a subreaper), and counts until then.
    let at_exit = (cg.current(), cg.members());
    let left = cg.wait_empty(Duration::from_secs(10));
    println!(
        "husk ({}):\n{}pids.events: {} pids.peak: {}\n\
         at husk's exit: pids.current {:?}, live members {:?}; empty: {left:?}",
        r.outcome,
        r.stdout,
        cg.file("pids.events").trim(),
        cg.file("pids.peak").trim(),
        at_exit.0,
        at_exit.1
    );
    let stderr = &r.stderr;
    assert_eq!(r.outcome, Outcome::Exited(0), "stderr: {stderr}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    let forked = lines
        .iter()
        .find_map(|l| l.strip_prefix("forked "))
        .and_then(|l| l.split_once(" then "));
    let Some((n, why)) = forked else {
        panic!("no fork summary in the output; stderr: {stderr}");
    };
    let n: u32 = n.parse().expect("fork count");
    assert!(
        n > 0 && n < 2000,
        "forked {n} children (the limit did not apply or fork never worked)"
    );
    assert_eq!(why, "Resource temporarily unavailable", "fork's error");
    let threads = lines
        .iter()
        .find_map(|l| l.strip_prefix("threads "))
        .and_then(|l| l.split_once(" then "));
    let Some((_, why)) = threads else {
        panic!("no thread summary in the output; stderr: {stderr}");
    };
    assert_eq!(
        why, "Resource temporarily unavailable",
        "pthread_create's error"
    );
    assert!(
        lines.contains(&format!("reaped {n}").as_str()),
        "not every child was killed and reaped"
    );
    assert!(
        lines.contains(&"child status 7"),
        "the last fork did not work"
    );
    if let Err(left) = left {
        panic!("processes of the run outlived husk in the cgroup: {left}");
    }
}

/// Signals the shell, pid 1 of its pid namespace, sends to itself or gets
/// from its children: Linux drops the ones init has no handler for (SIGKILL
/// and SIGSTOP included) and delivers the ones it traps.
const INIT_SIGNALS_SCRIPT: &str = r#"echo pid=$$
kill -9 1; echo after-kill9 $?
kill -KILL $$; echo after-kill-self $?
kill -TERM $$; echo after-term $?
kill -HUP 1; echo after-hup
kill -USR2 1; echo after-usr2
kill -SEGV 1; echo after-segv
kill -STOP 1; echo after-stop
kill -TSTP 1; echo after-tstp
(kill -9 1; echo child-sent $?); echo survived
sh -c 'kill -TERM 1; kill -9 1; echo grandchild-sent $?'; echo survived2
trap "echo got-usr1" USR1; kill -USR1 1; echo after-usr1
trap - USR1; kill -USR1 1; echo usr1-default
trap "" TERM; kill -TERM 1; echo ignored-term
exit 3
"#;

/// The sandboxed program is pid 1 of the sandbox's pid namespace and gets
/// the protection Linux gives a namespace's init. Compared with the same
/// script as pid 1 of a fresh pid namespace on the host.
#[test]
fn init_ignores_signals_it_does_not_handle() {
    let husk = find_or_build_husk().expect("husk binary");
    let Some(unshare) = on_path("unshare") else {
        println!("SKIP init_ignores_signals_it_does_not_handle: no unshare(1) on PATH");
        return;
    };
    let env = minimal_env();
    let sh: Vec<OsString> = vec!["/bin/sh".into(), "-c".into(), INIT_SIGNALS_SCRIPT.into()];
    let mut native_argv: Vec<OsString> = vec![
        unshare.into(),
        "--fork".into(),
        "--pid".into(),
        "--mount-proc".into(),
    ];
    native_argv.extend(sh.iter().cloned());
    let spec = |argv| RunSpec {
        argv,
        env: &env,
        cwd: Path::new("/"),
        timeout: Duration::from_secs(30),
    };
    let native = run(&spec(&native_argv)).expect("running unshare");
    let husk_argv = husk_argv(&husk, &sh);
    let r = run(&spec(&husk_argv)).expect("running husk");
    let (nout, hout) = (
        String::from_utf8_lossy(&native.stdout),
        String::from_utf8_lossy(&r.stdout),
    );
    println!(
        "native ({}):\n{nout}husk ({}):\n{hout}",
        native.outcome, r.outcome
    );
    // The reference must itself have run as pid 1 to the end.
    assert!(
        nout.starts_with("pid=1\n") && nout.contains("ignored-term"),
        "the native run is not a usable reference: {nout}\nstderr: {}",
        String::from_utf8_lossy(&native.stderr)
    );
    assert_eq!(native.outcome, Outcome::Exited(3));
    assert!(
        native.stdout == r.stdout && native.outcome == r.outcome,
        "husk differs from Linux ({} vs {}): {:#?}\nstderr: {}",
        native.outcome,
        r.outcome,
        short_diff(&native.stdout, &r.stdout, 5),
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A temporary host file, removed when the test ends.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, content: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!("husk-{tag}-{}", std::process::id()));
        fs::write(&p, content).expect("writing a temporary file");
        TempFile(p)
    }

    fn read(&self) -> String {
        fs::read_to_string(&self.0).expect("reading the temporary file")
    }

    fn open(&self, write: bool) -> fs::File {
        fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(&self.0)
            .expect("opening the temporary file")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

const STDIN_SCRIPT: &str =
    "cat /proc/self/fd/0; cat /dev/stdin; echo appended >> /proc/self/fd/0; echo rc=$?";
const STDIN_CONTENT: &str = "first line of the host file\nsecond line\n";

/// Runs STDIN_SCRIPT with `stdin` as its standard input, natively or
/// (with `husk`) in the sandbox.
fn run_stdin_script(husk: Option<&Path>, stdin: fs::File) -> Ran {
    let sh: Vec<OsString> = vec!["/bin/sh".into(), "-c".into(), STDIN_SCRIPT.into()];
    let argv = match husk {
        Some(h) => husk_argv(h, &sh),
        None => sh,
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(minimal_env())
        .current_dir("/")
        .stdin(Stdio::from(stdin));
    run_command(cmd, Duration::from_secs(30), true)
}

/// Runs STDIN_SCRIPT natively and under `husk`, each on a fresh copy of
/// the host file opened read-only or read-write (`write`), and prints
/// both. Returns each run with the file's content afterwards.
fn stdin_runs(husk: &Path, label: &str, write: bool) -> ((Ran, String), (Ran, String)) {
    let tag = if write { "rw" } else { "ro" };
    let run = |h: Option<&Path>| {
        let where_ = if h.is_some() { "husk" } else { "native" };
        let file = TempFile::new(&format!("stdin-{tag}-{where_}"), STDIN_CONTENT);
        let r = run_stdin_script(h, file.open(write));
        let after = file.read();
        println!(
            "{label} stdin, {where_} ({}):\n{}{}file after: {after:?}",
            r.outcome, r.stdout, r.stderr
        );
        (r, after)
    };
    (run(None), run(Some(husk)))
}

/// The sandbox's stdin is a host file with no path inside: reopening it
/// through /proc/self/fd/0 (or /dev/stdin) gives a new open of the same
/// host file, read from its start, and never more access than the host fd
/// has.
#[test]
fn stdin_reopened_through_proc_is_the_host_file() {
    let husk = find_or_build_husk().expect("husk binary");
    let twice = format!("{STDIN_CONTENT}{STDIN_CONTENT}");
    let mut problems = Vec::new();

    // Stdin opened read-only. On Linux the reopen checks the inode's
    // permissions, not the fd's mode: a user who may write the file (here
    // root) reopens it for writing and the append succeeds.
    let ((native, native_after), (r, after)) = stdin_runs(&husk, "read-only", false);
    if r.outcome != Outcome::Exited(0) {
        problems.push(format!("read-only: husk {}: {}", r.outcome, r.stderr));
    }
    // Each reopen is a new open file description: both cats read the
    // whole file from its start.
    if !r.stdout.starts_with(&twice) {
        problems.push(format!(
            "read-only: the two reopens of stdin did not both read the whole host file: {:?}",
            r.stdout
        ));
    }
    // Never a write into a host file the host handed over read-only.
    if after != STDIN_CONTENT {
        problems.push(format!("read-only: the host file was written: {after:?}"));
    }
    if native_after == STDIN_CONTENT {
        // The user may not write the file: Linux refuses too.
        if r.stdout != native.stdout {
            problems.push(format!(
                "read-only: husk differs from Linux: {:?}",
                short_diff(native.stdout.as_bytes(), r.stdout.as_bytes(), 5)
            ));
        }
    } else {
        // Known difference: husk has no host path to reopen with more
        // access than the host fd has, so where Linux lets the append
        // through, husk answers EACCES.
        let rc = r.stdout.lines().last().and_then(|l| l.strip_prefix("rc="));
        if rc.is_none_or(|rc| rc == "0") {
            problems.push(format!(
                "read-only: the append through stdin did not fail: {:?}",
                r.stdout
            ));
        }
    }

    // Stdin opened read-write: the append goes through to the host file,
    // as on Linux.
    let ((native, native_after), (r, after)) = stdin_runs(&husk, "read-write", true);
    let appended = format!("{STDIN_CONTENT}appended\n");
    assert_eq!(native_after, appended, "native reference");
    if r.outcome != Outcome::Exited(0) {
        problems.push(format!("read-write: husk {}: {}", r.outcome, r.stderr));
    }
    if r.stdout != native.stdout {
        problems.push(format!(
            "read-write: husk differs from Linux: {:?}",
            short_diff(native.stdout.as_bytes(), r.stdout.as_bytes(), 5)
        ));
    }
    if after != appended {
        problems.push(format!(
            "read-write: the host file after the append: {after:?}"
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The sandbox's memory is bounded (`husk do --memory`): a program that
/// keeps allocating is killed inside the sandbox (the memory cgroup's OOM
/// killer picks its stub) while the shell that started it goes on; the
/// in-memory filesystems share one budget however many tmpfs are mounted;
/// the sandbox reports its size as its total memory; and no cgroup is left
/// on the host afterwards.
#[test]
fn memory_is_bounded() {
    // The bound on application memory is a host memory cgroup: without a
    // memory controller there is nothing to check here.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let has_memcg = mountinfo.lines().any(|l| {
        l.split_once(" - ").is_some_and(|(_, r)| {
            (r.starts_with("cgroup ") && r.contains("memory"))
                || (r.starts_with("cgroup2 ")
                    && fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                        .is_ok_and(|c| c.contains("memory")))
        })
    });
    if !has_memcg {
        println!("SKIP: no memory cgroup controller on this host");
        return;
    }
    let husk = find_or_build_husk().expect("husk binary");
    let src = crate_dir().join("robust/hog.c");
    let bin = build_dir().join("robust/hog");
    compile_c(&src, &[], &bin, false).expect("compiling the hog");
    let script = format!(
        "{hog}; echo hog=$?; \
         grep MemTotal /proc/meminfo; \
         total=0; for i in 1 2 3 4; do mkdir -p /mnt/t$i; mount -t tmpfs none /mnt/t$i; \
           dd if=/dev/zero of=/mnt/t$i/f bs=1M count=100 2>/dev/null; \
           total=$((total + $(stat -c %s /mnt/t$i/f))); done; \
         echo fs_total_mib=$((total >> 20)); echo alive",
        hog = bin.display()
    );
    // The shell prints its pid, then becomes `husk do` (whose cgroup is
    // named after that pid).
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "echo husk_pid=$$; exec \"$0\" \"$@\""])
        .arg(&husk)
        .args(["do", "--memory", "256M", "--", "/bin/sh", "-c", &script])
        .env_clear()
        .envs(minimal_env())
        .current_dir("/")
        .stdin(Stdio::null());
    let r = run_command(cmd, Duration::from_secs(120), true);
    println!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(r.outcome, Outcome::Exited(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("hog=137") || r.stdout.contains("hog=3"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("MemTotal:         262144 kB"),
        "{}",
        r.stdout
    );
    let fs_total: u64 = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fs_total_mib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("fs_total_mib line");
    assert!(
        fs_total <= 256,
        "the tmpfs mounts took {fs_total} MiB past 256"
    );
    assert!(fs_total >= 200, "the tmpfs mounts took only {fs_total} MiB");
    assert!(r.stdout.trim_end().ends_with("alive"), "{}", r.stdout);
    // Nothing of the run's cgroup remains on the host.
    let pid = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("husk_pid="))
        .expect("husk_pid line")
        .trim()
        .to_owned();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let left: Vec<String> = own
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .flat_map(|p| {
            ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"].map(|root| format!("{root}{p}/husk-{pid}"))
        })
        .filter(|d| Path::new(d).exists())
        .collect();
    assert!(left.is_empty(), "cgroups left on the host: {left:?}");
}

/// The sandbox's unix sockets are its own: a host socket's path (seen in
/// the sandbox's tree) and a host abstract name lead nowhere, in either
/// filesystem mode, and the host's listeners see no connection and no
/// datagram.
#[test]
fn host_unix_sockets_are_not_reachable() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
    let husk = find_or_build_husk().expect("husk binary");
    let token = random_token();
    let stream_path = format!("/tmp/husk-esc-{token}.sock");
    let dgram_path = format!("/tmp/husk-esc-{token}.dgram");
    let abstract_name = format!("husk-esc-{token}");
    let listener = UnixListener::bind(&stream_path).expect("host listener");
    listener.set_nonblocking(true).unwrap();
    let abs = SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let abs_listener = UnixListener::bind_addr(&abs).expect("host abstract listener");
    abs_listener.set_nonblocking(true).unwrap();
    let dgram = UnixDatagram::bind(&dgram_path).expect("host datagram socket");
    dgram.set_nonblocking(true).unwrap();

    let script = format!(
        "import socket\n\
         def try_(kind, addr, send=False):\n\
         \x20   s = socket.socket(socket.AF_UNIX, kind)\n\
         \x20   try:\n\
         \x20       s.sendto(b'x', addr) if send else s.connect(addr)\n\
         \x20       print('REACHED', addr)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', e.errno)\n\
         try_(socket.SOCK_STREAM, '{stream_path}')\n\
         try_(socket.SOCK_STREAM, '\\0{abstract_name}')\n\
         try_(socket.SOCK_DGRAM, '{dgram_path}', True)\n\
         print('done')\n"
    );
    for mode in [None, Some("none")] {
        let mut argv: Vec<OsString> = vec![husk.as_os_str().to_owned(), "do".into()];
        if let Some(m) = mode {
            argv.extend(["--overlay".into(), m.into()]);
        }
        argv.extend([
            "--".into(),
            "python3".into(),
            "-c".into(),
            script.clone().into(),
        ]);
        let env = minimal_env();
        let r = run(&RunSpec {
            argv: &argv,
            env: &env,
            cwd: Path::new("/"),
            timeout: Duration::from_secs(60),
        })
        .expect("running husk");
        let out = String::from_utf8_lossy(&r.stdout);
        println!("overlay {mode:?}: {out}");
        assert!(
            out.contains("done"),
            "{out}\n{}",
            String::from_utf8_lossy(&r.stderr)
        );
        // ECONNREFUSED, for all three.
        assert_eq!(out.matches("refused 111").count(), 3, "{out}");
        // The verdict is the host's: nothing came in.
        assert!(listener.accept().is_err(), "the host listener was reached");
        assert!(
            abs_listener.accept().is_err(),
            "the host abstract name was reached"
        );
        let mut b = [0u8; 16];
        assert!(
            dgram.recv(&mut b).is_err(),
            "the host datagram socket got data"
        );
    }
    let _ = fs::remove_file(&stream_path);
    let _ = fs::remove_file(&dgram_path);
}

/// The host's IPv4 addresses, from its interfaces.
fn host_ipv4_addrs() -> Vec<std::net::Ipv4Addr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: p is a node of the list getifaddrs returned.
        let ifa = unsafe { &*p };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points at a sockaddr of the family it says.
            let fam = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if fam == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
        }
        p = ifa.ifa_next;
    }
    // SAFETY: freeing the list getifaddrs made.
    unsafe { libc::freeifaddrs(ifap) };
    out
}

/// The host's TCP and UDP listeners, on every address and on loopback,
/// are not reached from the sandbox: with the default network (loopback
/// only) nothing leaves; with `--network sandbox` the sandbox's own
/// 127.0.0.1 is its own, so a listener the host keeps on loopback stays
/// out of reach. The verdict is the host sockets': no connection, no
/// datagram.
#[test]
fn host_tcp_and_udp_listeners_are_not_reachable() {
    use std::net::{TcpListener, UdpSocket};
    let husk = find_or_build_husk().expect("husk binary");
    let any = TcpListener::bind("0.0.0.0:0").expect("host listener");
    let port = any.local_addr().unwrap().port();
    let lo = TcpListener::bind("127.0.0.1:0").expect("host loopback listener");
    let lo_port = lo.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("host UDP socket");
    let udp_port = udp.local_addr().unwrap().port();
    for l in [&any, &lo] {
        l.set_nonblocking(true).unwrap();
    }
    udp.set_nonblocking(true).unwrap();
    let addrs: Vec<String> = host_ipv4_addrs()
        .into_iter()
        .filter(|a| !a.is_loopback())
        .map(|a| a.to_string())
        .collect();
    let script = format!(
        "import socket\n\
         def try_(addr):\n\
         \x20   try:\n\
         \x20       socket.create_connection(addr, timeout=3)\n\
         \x20       print('REACHED', addr)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', addr)\n\
         try_(('127.0.0.1', {lo_port}))\n\
         for a in {addrs:?}:\n\
         \x20   try_((a, {port}))\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         u.sendto(b'x', ('127.0.0.1', {udp_port}))\n\
         print('done')\n"
    );
    for net in [None, Some("sandbox")] {
        let mut argv: Vec<OsString> = vec![husk.as_os_str().to_owned(), "do".into()];
        if let Some(n) = net {
            argv.extend(["--network".into(), n.into()]);
        }
        argv.extend([
            "--".into(),
            "python3".into(),
            "-c".into(),
            script.clone().into(),
        ]);
        let r = run(&RunSpec {
            argv: &argv,
            env: &minimal_env(),
            cwd: Path::new("/"),
            timeout: Duration::from_secs(120),
        })
        .expect("running husk");
        let out = String::from_utf8_lossy(&r.stdout);
        println!("network {net:?}: {out}");
        assert!(
            out.contains("done"),
            "{out}\n{}",
            String::from_utf8_lossy(&r.stderr)
        );
        if net.is_none() {
            // Nothing leaves a sandbox with no interface but lo.
            assert!(!out.contains("REACHED"), "{out}");
            assert!(any.accept().is_err(), "the host listener was reached");
        }
        assert!(
            lo.accept().is_err(),
            "the host loopback listener was reached"
        );
        let mut b = [0u8; 8];
        assert!(
            udp.recv(&mut b).is_err(),
            "the host loopback UDP socket got data"
        );
    }
}
