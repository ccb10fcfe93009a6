//! Support code for husk's compatibility suite (`tests/compat.rs`) and
//! benchmark (`husk-bench`): finding or building the `husk` binary,
//! compiling the C test programs, and running a program natively or under
//! husk with a timeout, captured output and resource usage.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The PATH given to every program, natively and under husk.
pub const FIXED_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// This crate's directory (`<workspace>/tests`).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where compiled test programs go.
pub fn build_dir() -> PathBuf {
    workspace_root().join("target").join("compat-build")
}

/// Locates the husk binary: `$HUSK_BIN`, else `<workspace>/target/release/husk`,
/// building it with `cargo build --release -p runtime` if it is missing.
pub fn find_or_build_husk() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("HUSK_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("HUSK_BIN={} does not exist", p.display()))
        };
    }
    let root = workspace_root();
    let bin = root.join("target").join("release").join("husk");
    if bin.is_file() {
        return Ok(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    eprintln!("husk binary missing: running cargo build --release -p runtime");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "runtime"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release -p runtime failed: {status}"));
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} still missing after build", bin.display()))
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Compiles `src` with gcc into `out` unless `out` is newer than `src` and
/// every file in `deps`. Returns the compiler's diagnostics on failure.
pub fn compile_c(
    src: &Path,
    deps: &[PathBuf],
    out: &Path,
    static_link: bool,
) -> Result<(), String> {
    if let Some(built) = mtime(out) {
        let newest = std::iter::once(src.to_path_buf())
            .chain(deps.iter().cloned())
            .filter_map(|p| mtime(&p))
            .max();
        if newest.is_some_and(|n| n <= built) {
            return Ok(());
        }
    }
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    // Build into a temporary name so an interrupted build leaves no
    // up-to-date-looking binary behind.
    let tmp = out.with_extension("tmp");
    let mut cmd = Command::new("gcc");
    cmd.args(["-O1", "-pthread", "-w", "-o"]).arg(&tmp).arg(src);
    if static_link {
        cmd.arg("-static");
    }
    let res = cmd.output().map_err(|e| format!("cannot run gcc: {e}"))?;
    if !res.status.success() {
        return Err(format!(
            "gcc failed for {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    fs::rename(&tmp, out).map_err(|e| format!("rename {}: {e}", tmp.display()))
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status as a shell reports it: the exit code, or 128+signal.
    Exited(i32),
    /// Killed by the harness after the timeout.
    TimedOut,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "status {c}"),
            Outcome::TimedOut => write!(f, "timed out"),
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outcome: Outcome,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub wall: Duration,
    /// ru_maxrss (KiB) from wait4: the process and its waited-for descendants.
    pub maxrss_kib: i64,
}

/// Options for [`run`].
pub struct RunSpec<'a> {
    pub argv: &'a [OsString],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    pub timeout: Duration,
}

/// The minimal environment given to every program.
pub fn minimal_env() -> Vec<(String, String)> {
    vec![
        ("PATH".into(), FIXED_PATH.into()),
        ("HOME".into(), "/root".into()),
        ("LC_ALL".into(), "C".into()),
        ("LANG".into(), "C".into()),
        ("TERM".into(), "dumb".into()),
    ]
}

fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Sends `sig` to the process group `pgid`.
fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // pgid is the group of a child we spawned in its own group.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Blocking wait4 on `pid`; returns the raw status and rusage.
fn wait4_blocking(pid: i32) -> io::Result<(i32, libc::rusage)> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is a plain C struct for which all-zero is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and ru are valid, exclusively borrowed out-pointers
        // for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            return Ok((status, ru));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Runs argv in its own process group with stdin from /dev/null, the given
/// environment and working directory, capturing stdout and stderr. The whole
/// group is killed at the timeout and when the main process exits (so stray
/// descendants cannot keep the pipes open).
pub fn run(spec: &RunSpec<'_>) -> io::Result<RunResult> {
    let (prog, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let out_rx = reader(child.stdout.take().expect("piped stdout"));
    let err_rx = reader(child.stderr.take().expect("piped stderr"));
    // A watchdog kills the group at the deadline unless told the run ended;
    // the wait itself blocks, so wall times are not rounded up by polling.
    let timed_out = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let timed_out = Arc::clone(&timed_out);
        let timeout = spec.timeout;
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                timed_out.store(true, Ordering::SeqCst);
                kill_group(pid, libc::SIGKILL);
            }
        })
    };
    let waited = wait4_blocking(pid);
    let wall = start.elapsed();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    // The child is reaped: keep std from trying to wait for it again.
    drop(child);
    let (status, ru) = waited?;
    let outcome = if timed_out.load(Ordering::SeqCst) {
        Outcome::TimedOut
    } else {
        Outcome::Exited(exit_code(ExitStatus::from_raw(status)))
    };
    // Stray members of the group (daemonised grandchildren) must not hold
    // the pipes open forever.
    kill_group(pid, libc::SIGKILL);
    let grace = Duration::from_secs(5);
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    Ok(RunResult {
        outcome,
        stdout,
        stderr,
        wall,
        maxrss_kib: ru.ru_maxrss,
    })
}

/// Marks every inherited descriptor above 2 close-on-exec, so that programs
/// under test see only stdin, stdout and stderr (cargo may pass jobserver
/// pipes down to us).
pub fn cloexec_inherited_fds() {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD only change descriptor flags; a descriptor
        // that is no longer open (the read_dir one) just fails with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// A fresh, empty scratch directory on the host, `/var/tmp/husk-NAME-PID`
/// (under /var/tmp: a disk filesystem, with ACLs and xattrs).
pub fn host_scratch(name: &str) -> PathBuf {
    let p = PathBuf::from(format!("/var/tmp/husk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Builds the argv for running `prog args...` under `husk do --`.
pub fn husk_argv(husk: &Path, prog: &[OsString]) -> Vec<OsString> {
    husk_do_argv(husk, &[], prog)
}

/// Builds the argv for running `prog args...` under `husk do FLAGS --`.
pub fn husk_do_argv(husk: &Path, flags: &[OsString], prog: &[OsString]) -> Vec<OsString> {
    let mut v = vec![husk.as_os_str().to_owned(), "do".into()];
    v.extend(flags.iter().cloned());
    v.push("--".into());
    v.extend(prog.iter().cloned());
    v
}

/// Runs `prog` under `husk do --` from `/` with the minimal environment.
pub fn run_under_husk(husk: &Path, prog: &[OsString], timeout: Duration) -> io::Result<RunResult> {
    run_under_husk_with(husk, &[], prog, timeout)
}

/// `run_under_husk` with `husk do`'s `flags`.
pub fn run_under_husk_with(
    husk: &Path,
    flags: &[OsString],
    prog: &[OsString],
    timeout: Duration,
) -> io::Result<RunResult> {
    let argv = husk_do_argv(husk, flags, prog);
    let env = minimal_env();
    run(&RunSpec {
        argv: &argv,
        env: &env,
        cwd: Path::new("/"),
        timeout,
    })
}

/// Lines of `text` (lossy UTF-8), for diffs.
pub fn lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A short description of where two outputs first differ: up to `max`
/// differing lines, each as `-expected` / `+actual` with its line number.
pub fn short_diff(expected: &[u8], actual: &[u8], max: usize) -> Vec<String> {
    let e = lines(expected);
    let a = lines(actual);
    let mut out = Vec::new();
    let n = e.len().max(a.len());
    for i in 0..n {
        let (x, y) = (e.get(i), a.get(i));
        if x == y {
            continue;
        }
        if out.len() / 2 >= max {
            out.push(format!(
                "... ({} native lines, {} husk lines)",
                e.len(),
                a.len()
            ));
            break;
        }
        out.push(format!(
            "line {}: -{}",
            i + 1,
            x.map_or("<missing>", String::as_str)
        ));
        out.push(format!(
            "line {}: +{}",
            i + 1,
            y.map_or("<missing>", String::as_str)
        ));
    }
    out
}

/// The last `n` lines of `text`, for showing stderr of a failed run.
pub fn tail(text: &[u8], n: usize) -> Vec<String> {
    let l = lines(text);
    l[l.len().saturating_sub(n)..].to_vec()
}

/// Median of a list of durations (sorted in place).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    if v.is_empty() {
        Duration::ZERO
    } else {
        v[v.len() / 2]
    }
}

/// True if an executable named `name` is on the fixed PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| FIXED_PATH.to_owned());
    path.split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_first_difference() {
        let d = short_diff(b"a\nb\nc\n", b"a\nx\nc\n", 3);
        assert_eq!(d, vec!["line 2: -b".to_owned(), "line 2: +x".to_owned()]);
        assert!(short_diff(b"same\n", b"same\n", 3).is_empty());
        let d = short_diff(b"a\n", b"", 3);
        assert_eq!(d[1], "line 1: +<missing>");
    }

    #[test]
    fn run_captures_status_and_output() {
        let argv: Vec<OsString> = ["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"]
            .iter()
            .map(OsString::from)
            .collect();
        let env = minimal_env();
        let r = run(&RunSpec {
            argv: &argv,
            env: &env,
            cwd: Path::new("/"),
            timeout: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(r.outcome, Outcome::Exited(3));
        assert_eq!(r.stdout, b"hi\n");
        assert_eq!(r.stderr, b"err\n");
    }

    #[test]
    fn run_kills_on_timeout() {
        let argv: Vec<OsString> = ["/bin/sh", "-c", "sleep 30 & sleep 30"]
            .iter()
            .map(OsString::from)
            .collect();
        let env = minimal_env();
        let r = run(&RunSpec {
            argv: &argv,
            env: &env,
            cwd: Path::new("/"),
            timeout: Duration::from_millis(300),
        })
        .unwrap();
        assert_eq!(r.outcome, Outcome::TimedOut);
        assert!(r.wall < Duration::from_secs(10));
    }

    #[test]
    fn signal_status_is_128_plus() {
        let argv: Vec<OsString> = ["/bin/sh", "-c", "kill -TERM $$"]
            .iter()
            .map(OsString::from)
            .collect();
        let env = minimal_env();
        let r = run(&RunSpec {
            argv: &argv,
            env: &env,
            cwd: Path::new("/"),
            timeout: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(r.outcome, Outcome::Exited(128 + libc::SIGTERM));
    }
}
