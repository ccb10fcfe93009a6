//! husk-bench: a few numbers that track the sandbox's overhead, natively,
//! under husk and (when `runsc` is on PATH) under gVisor.
//!
//! `cargo run -p husk-tests --release --bin husk-bench`
//!
//! Process rows: getppid round trip (ns per call, measured by
//! tests/bench/getppid.c itself), wall time of `/bin/true` (median of 20)
//! and `/usr/bin/python3 -c pass` (median of 10), and peak RSS of the whole
//! process tree running `/bin/true` (ru_maxrss from wait4, which covers the
//! process and the descendants it waited for).
//!
//! Filesystem rows: sequential read of a 512 MiB file timed inside the
//! reading process (tests/bench/read.c, 1 MiB and 128 KiB reads), and as
//! whole runs of `dd bs=1M` and `cat`, create+stat+unlink of 10,000 files in /tmp
//! (tests/bench/files.c), `find /usr` and `tar c /usr/lib | wc -c`.
//!
//! Wake-up rows (tests/bench/wake.c, timed inside the process): pipe
//! ping-pong between two threads with 0, 50 and 200 other threads asleep
//! on idle pipes, futex ping-pong between two threads, pipe ping-pong
//! between two processes (round trips in us), and two threads pread()ing
//! their own tmpfs files against one (throughput ratio).
//!
//! Memory rows (tests/bench/memory.c): fork of a process with a 256 MiB
//! written heap whose child writes one page, fork+_exit+wait of a small
//! process, one byte written at 6 GiB of
//! a /tmp file (time and st_blocks), one mapping split into 64,000 by
//! mprotect and merged again, 1,000 fork+exec+wait of /bin/true
//! from one thread and from 8, and CPython's test_mmap.
//!
//! Container rows (with a running dockerd that has husk, and runsc
//! registered with `--platform=ptrace --network=none`): `docker run --rm`
//! of /bin/true under runc (the native column), husk and runsc, and the
//! memory of an idle container's processes (Pss and Rss from
//! smaps_rollup, summed over its host cgroup).
//!
//! IPC rows (tests/bench/ipc.c, timed inside the process): SysV
//! semaphore and message ping-pong between two processes (us per round
//! trip) and Linux AIO 4 KiB reads, one in flight (us per read).
//!
//! `--only process`, `--only fs`, `--only wake`, `--only memory`, `--only
//! ipc`, `--only net` or `--only container` runs one group.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use husk_tests::{
    build_dir, compile_c, crate_dir, find_or_build_husk, husk_do_argv, median, minimal_env,
    on_path, run, Outcome, RunSpec,
};

/// How to run a program in one environment.
#[derive(Clone)]
enum Runner {
    Native,
    /// Natively in a network namespace (`ip netns exec NAME`).
    NativeIn(&'static str),
    /// husk, and flags for `husk do`.
    Husk(PathBuf, Vec<OsString>),
    /// runsc, and its `--network` mode.
    Runsc(PathBuf, &'static str),
}

impl Runner {
    /// The same runner with `husk do` flags added (others unchanged).
    fn with_husk_flags(&self, flags: &[&str]) -> Runner {
        match self {
            Runner::Husk(h, f) => {
                let mut f = f.clone();
                f.extend(flags.iter().map(OsString::from));
                Runner::Husk(h.clone(), f)
            }
            other => other.clone(),
        }
    }

    /// The same runner with a network interface to the host: husk's and
    /// runsc's `--network sandbox` (a veth pair each), and natively the
    /// namespace [`VETH_NETNS`] that `veth_rows` sets up the same way.
    fn with_network(&self) -> Runner {
        match self {
            Runner::Native | Runner::NativeIn(_) => Runner::NativeIn(VETH_NETNS),
            Runner::Husk(..) => self.with_husk_flags(&["--network", "sandbox"]),
            Runner::Runsc(r, _) => Runner::Runsc(r.clone(), "sandbox"),
        }
    }

    /// The same runner on the host's network: husk's and runsc's
    /// `--network host` (native is there already).
    fn with_host_network(&self) -> Runner {
        match self {
            Runner::Husk(..) => self.with_husk_flags(&["--network", "host"]),
            Runner::Runsc(r, _) => Runner::Runsc(r.clone(), "host"),
            other => other.clone(),
        }
    }

    fn argv(&self, prog: &[OsString]) -> Vec<OsString> {
        match self {
            Runner::Native => prog.to_vec(),
            Runner::NativeIn(ns) => {
                let mut v: Vec<OsString> =
                    vec!["ip".into(), "netns".into(), "exec".into(), ns.into()];
                v.extend(prog.iter().cloned());
                v
            }
            Runner::Husk(h, flags) => husk_do_argv(h, flags, prog),
            Runner::Runsc(r, net) => {
                let mut v: Vec<OsString> = vec![
                    r.clone().into_os_string(),
                    "--platform=ptrace".into(),
                    format!("--network={net}").into(),
                    "--rootless=false".into(),
                    "do".into(),
                ];
                v.extend(prog.iter().cloned());
                v
            }
        }
    }
}

struct Measure {
    value: Option<f64>,
    note: Option<String>,
}

fn run_once(runner: &Runner, prog: &[OsString]) -> Result<husk_tests::RunResult, String> {
    run_limited(runner, prog, Duration::from_secs(120))
}

fn run_limited(
    runner: &Runner,
    prog: &[OsString],
    timeout: Duration,
) -> Result<husk_tests::RunResult, String> {
    let env = minimal_env();
    let argv = runner.argv(prog);
    let r = run(&RunSpec {
        argv: &argv,
        env: &env,
        cwd: Path::new("/"),
        timeout,
    })
    .map_err(|e| format!("spawn: {e}"))?;
    if r.outcome != Outcome::Exited(0) {
        let err = husk_tests::tail(&r.stderr, 1).pop().unwrap_or_default();
        return Err(format!("{} {err}", r.outcome));
    }
    Ok(r)
}

fn getppid_ns(runner: &Runner, bin: &Path) -> Measure {
    printed_value(runner, &[bin.as_os_str().to_owned()])
}

/// Median of `n` runs of a program that prints its own measurement.
fn printed_median(runner: &Runner, prog: &[OsString], n: usize) -> Measure {
    let mut v = Vec::new();
    for _ in 0..n {
        let m = printed_value(runner, prog);
        match m.value {
            Some(x) => v.push(x),
            None => return m,
        }
    }
    v.sort_by(f64::total_cmp);
    Measure {
        value: Some(v[v.len() / 2]),
        note: None,
    }
}

/// The number a program prints on stdout.
fn printed_value(runner: &Runner, prog: &[OsString]) -> Measure {
    match run_once(runner, prog) {
        Ok(r) => {
            let text = String::from_utf8_lossy(&r.stdout);
            match text.trim().parse::<f64>() {
                Ok(v) => Measure {
                    value: Some(v),
                    note: None,
                },
                Err(_) => Measure {
                    value: None,
                    note: Some(format!("bad output {:?}", text.trim())),
                },
            }
        }
        Err(e) => Measure {
            value: None,
            note: Some(e),
        },
    }
}

/// Median wall time in milliseconds over `n` runs.
fn wall_ms(runner: &Runner, prog: &[OsString], n: usize) -> Measure {
    wall_ms_limited(runner, prog, n, Duration::from_secs(120))
}

fn wall_ms_limited(runner: &Runner, prog: &[OsString], n: usize, limit: Duration) -> Measure {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        match run_limited(runner, prog, limit) {
            Ok(r) => times.push(r.wall),
            Err(e) => {
                return Measure {
                    value: None,
                    note: Some(e),
                }
            }
        }
    }
    Measure {
        value: Some(median(&mut times).as_secs_f64() * 1e3),
        note: None,
    }
}

fn peak_rss_mib(runner: &Runner, prog: &[OsString]) -> Measure {
    match run_once(runner, prog) {
        Ok(r) => Measure {
            value: Some(r.maxrss_kib as f64 / 1024.0),
            note: None,
        },
        Err(e) => Measure {
            value: None,
            note: Some(e),
        },
    }
}

fn fmt(m: &Measure, unit: &str) -> String {
    match m.value {
        Some(v) if v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
        None => "error".to_owned(),
    }
}

fn ratio(a: &Measure, b: &Measure) -> String {
    match (a.value, b.value) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.1}x", x / y),
        _ => "-".to_owned(),
    }
}

/// One benchmark row: how to measure it under a runner, and its target.
struct Row {
    name: &'static str,
    unit: &'static str,
    target: &'static str,
    /// Checks the husk value against native's and (if measured) runsc's.
    meets: fn(f64, f64, Option<f64>) -> Option<bool>,
    measure: Box<dyn Fn(&Runner) -> Measure>,
    values: Vec<Measure>,
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn sh(cmd: &str) -> Vec<OsString> {
    os(&["/bin/sh", "-c", cmd])
}

/// Rows on process start-up and the system call path.
fn process_rows(getppid: PathBuf) -> Vec<Row> {
    vec![
        Row {
            name: "getppid round trip",
            unit: "ns",
            target: "<= 12 us",
            meets: |h, _, _| Some(h <= 12_000.0),
            measure: Box::new(move |r| getppid_ns(r, &getppid)),
            values: Vec::new(),
        },
        Row {
            name: "do /bin/true (median of 20)",
            unit: "ms",
            target: "<= 40 ms",
            meets: |h, _, _| Some(h <= 40.0),
            measure: Box::new(|r| wall_ms(r, &os(&["/bin/true"]), 20)),
            values: Vec::new(),
        },
        Row {
            name: "python3 -c pass (median of 10)",
            unit: "ms",
            target: "<= 3x native",
            meets: |h, n, _| Some(h <= 3.0 * n),
            measure: Box::new(|r| wall_ms(r, &os(&["/usr/bin/python3", "-c", "pass"]), 10)),
            values: Vec::new(),
        },
        Row {
            name: "peak RSS, /bin/true",
            unit: "MiB",
            target: "-",
            meets: |_, _, _| None,
            measure: Box::new(|r| peak_rss_mib(r, &os(&["/bin/true"]))),
            values: Vec::new(),
        },
    ]
}

/// At least twice as fast as runsc, when runsc was measured.
fn beats_runsc(h: f64, _n: f64, r: Option<f64>) -> Option<bool> {
    r.map(|r| h * 2.0 <= r)
}

/// Rows on the filesystem: bulk reads, metadata churn and walks.
fn fs_rows(big: PathBuf, files: PathBuf, reader: PathBuf) -> Vec<Row> {
    let long = Duration::from_secs(1200);
    let read_prog = |block: &str| {
        vec![
            reader.clone().into_os_string(),
            big.clone().into_os_string(),
            block.into(),
        ]
    };
    let (r1m, r128k) = (read_prog("1048576"), read_prog("131072"));
    let dd = format!("dd if={} of=/dev/null bs=1M status=none", big.display());
    let cat = format!("cat {} >/dev/null", big.display());
    vec![
        Row {
            name: "read 512 MiB in-process, 1 MiB reads (median of 5)",
            unit: "ms",
            target: "<= 1.5x native",
            meets: |h, n, _| Some(h <= 1.5 * n),
            measure: Box::new(move |r| printed_median(r, &r1m, 5)),
            values: Vec::new(),
        },
        Row {
            name: "read 512 MiB in-process, 128 KiB reads (median of 5)",
            unit: "ms",
            target: "-",
            meets: |_, _, _| None,
            measure: Box::new(move |r| printed_median(r, &r128k, 5)),
            values: Vec::new(),
        },
        Row {
            name: "read 512 MiB, dd bs=1M (median of 5)",
            unit: "ms",
            target: "<= 1.5x native",
            meets: |h, n, _| Some(h <= 1.5 * n),
            measure: Box::new(move |r| wall_ms(r, &sh(&dd), 5)),
            values: Vec::new(),
        },
        Row {
            name: "read 512 MiB, cat (median of 5)",
            unit: "ms",
            target: "<= 1.5x native",
            meets: |h, n, _| Some(h <= 1.5 * n),
            measure: Box::new(move |r| wall_ms(r, &sh(&cat), 5)),
            values: Vec::new(),
        },
        Row {
            name: "create+stat+unlink 10k files in /tmp (median of 3)",
            unit: "ms",
            target: ">= 2x faster than runsc",
            meets: beats_runsc,
            measure: Box::new(move |r| {
                wall_ms(r, &[files.clone().into_os_string(), "/tmp".into()], 3)
            }),
            values: Vec::new(),
        },
        Row {
            name: "find /usr | wc -l (median of 3)",
            unit: "ms",
            target: ">= 2x faster than runsc",
            meets: beats_runsc,
            measure: Box::new(move |r| wall_ms_limited(r, &sh("find /usr | wc -l"), 3, long)),
            values: Vec::new(),
        },
        Row {
            name: "tar c /usr/lib | wc -c (once)",
            unit: "ms",
            target: ">= 2x faster than runsc",
            meets: beats_runsc,
            measure: Box::new(move |r| {
                wall_ms_limited(r, &sh("tar c /usr/lib 2>/dev/null | wc -c"), 1, long)
            }),
            values: Vec::new(),
        },
    ]
}

/// At most runsc's value, when runsc was measured.
fn at_most_runsc(h: f64, _n: f64, r: Option<f64>) -> Option<bool> {
    r.map(|r| h <= r)
}

/// More than runsc's value (a rate), when runsc was measured.
fn ahead_of_runsc(h: f64, _n: f64, r: Option<f64>) -> Option<bool> {
    r.map(|r| h > r)
}

/// A benchmark program's argv maker: `bin` and the arguments given.
fn argv_of(bin: PathBuf) -> impl Fn(&[&str]) -> Vec<OsString> {
    move |args: &[&str]| {
        let mut v = vec![bin.clone().into_os_string()];
        v.extend(args.iter().map(OsString::from));
        v
    }
}

/// A row of two threads' throughput over one's (target 1.6x), `flags`
/// given to `husk do`.
fn scaling(name: &'static str, prog: Vec<OsString>, flags: &'static [&'static str]) -> Row {
    Row {
        name,
        unit: "x",
        target: ">= 1.6x",
        meets: |h, _, _| Some(h >= 1.6),
        measure: Box::new(move |r| printed_median(&r.with_husk_flags(flags), &prog, 3)),
        values: Vec::new(),
    }
}

/// Rows on System V IPC and Linux AIO (tests/bench/ipc.c).
fn ipc_rows(ipc: PathBuf) -> Vec<Row> {
    let prog = argv_of(ipc);
    let row = |name, args: Vec<OsString>| Row {
        name,
        unit: "us",
        target: "<= runsc",
        meets: at_most_runsc,
        measure: Box::new(move |r| printed_median(r, &args, 3)),
        values: Vec::new(),
    };
    vec![
        row(
            "SysV semop ping-pong, 2 processes (median of 3)",
            prog(&["sem"]),
        ),
        row(
            "SysV msgsnd/msgrcv ping-pong, 2 processes (median of 3)",
            prog(&["msg"]),
        ),
        row(
            "AIO 4 KiB read, one in flight (median of 3)",
            prog(&["aio"]),
        ),
    ]
}

/// Rows on hand-offs between tasks (tests/bench/wake.c): wake-ups that
/// must not cost more with more sleepers, and two threads that must not
/// serialise on the kernel.
fn wake_rows(wake: PathBuf) -> Vec<Row> {
    let prog = argv_of(wake);
    let row = |name, args: Vec<OsString>, target, meets| Row {
        name,
        unit: "us",
        target,
        meets,
        measure: Box::new(move |r| printed_median(r, &args, 3)),
        values: Vec::new(),
    };
    vec![
        row(
            "pipe ping-pong, 2 threads (median of 3)",
            prog(&["pipe-threads", "0"]),
            "<= runsc",
            at_most_runsc,
        ),
        row(
            "  ... with 50 idle threads asleep",
            prog(&["pipe-threads", "50"]),
            "-",
            |_, _, _| None,
        ),
        row(
            "  ... with 200 idle threads asleep",
            prog(&["pipe-threads", "200"]),
            "<= 1.2x the row with none, <= runsc",
            at_most_runsc,
        ),
        row(
            "futex ping-pong, 2 threads (median of 3)",
            prog(&["futex-threads"]),
            "<= runsc",
            at_most_runsc,
        ),
        row(
            "pipe ping-pong, 2 processes (median of 3)",
            prog(&["pipe-procs"]),
            "<= runsc",
            at_most_runsc,
        ),
        scaling(
            "2 threads pread own tmpfs file, vs 1 (median of 3)",
            prog(&["scale"]),
            &[],
        ),
        scaling(
            "2 threads stat host paths, vs 1 (median of 3)",
            prog(&["scale-stat"]),
            &[],
        ),
        scaling(
            "same, husk --overlay none (host lookups, vs 1)",
            prog(&["scale-stat"]),
            &["--overlay", "none"],
        ),
        scaling(
            "2 threads spawn /bin/true and wait, vs 1 (median of 3)",
            prog(&["scale-spawn"]),
            &[],
        ),
    ]
}

/// Rows on memory (tests/bench/memory.c): copy-on-write after fork,
/// sparse tmpfs files, and fork+exec from threads.
fn memory_rows(mem: PathBuf) -> Vec<Row> {
    let python = python_with_tests();
    let prog = argv_of(mem);
    let row = |name, unit, args: Vec<OsString>, target, meets| Row {
        name,
        unit,
        target,
        meets,
        measure: Box::new(move |r| printed_value(r, &args)),
        values: Vec::new(),
    };
    vec![
        row(
            "fork, 256 MiB written heap, child writes 1 page",
            "ms",
            prog(&["fork-heap"]),
            "-",
            |_, _, _| None,
        ),
        row(
            "write 1 byte at 6 GiB in /tmp, then stat",
            "ms",
            prog(&["sparse"]),
            "< 10 ms",
            |h, _, _| Some(h < 10.0),
        ),
        row(
            "  ... its st_blocks",
            "",
            prog(&["sparse-blocks"]),
            "<= 8",
            |h, _, _| Some(h <= 8.0),
        ),
        row(
            "mprotect splitting a mapping into 64,000, then merging",
            "ms",
            prog(&["many-maps"]),
            "<= 5x native",
            |h, n, _| Some(h <= 5.0 * n),
        ),
        row(
            "fork+_exit+wait x2000",
            "us",
            prog(&["fork-exit"]),
            "-",
            |_, _, _| None,
        ),
        row(
            "fork+exec+wait /bin/true x1000, 1 thread",
            "us",
            prog(&["fork-exec", "1"]),
            "-",
            |_, _, _| None,
        ),
        row(
            "  ... from 8 threads at once",
            "us",
            prog(&["fork-exec", "8"]),
            "-",
            |_, _, _| None,
        ),
        Row {
            name: "python3 -m test test_mmap",
            unit: "ms",
            target: "<= 2x native",
            meets: |h, n, _| Some(h <= 2.0 * n),
            measure: Box::new(move |r| match &python {
                Some(py) => wall_ms_limited(
                    r,
                    &[py.clone(), "-m".into(), "test".into(), "test_mmap".into()],
                    1,
                    Duration::from_secs(300),
                ),
                None => Measure {
                    value: None,
                    note: Some("no python3 with CPython's test package".into()),
                },
            }),
            values: Vec::new(),
        },
    ]
}

/// A row whose value is the median of 3 runs of `args` under each
/// runner as `with` changes it (its network, say).
fn median_row(
    name: &'static str,
    unit: &'static str,
    args: Vec<OsString>,
    target: &'static str,
    meets: fn(f64, f64, Option<f64>) -> Option<bool>,
    with: fn(&Runner) -> Runner,
) -> Row {
    Row {
        name,
        unit,
        target,
        meets,
        measure: Box::new(move |r: &Runner| printed_median(&with(r), &args, 3)),
        values: Vec::new(),
    }
}

/// Rows on sockets between two processes (tests/bench/net.c): TCP over
/// loopback, and unix streams beside it.
fn net_rows(net: PathBuf) -> Vec<Row> {
    let prog = argv_of(net);
    let row = |name, unit, args, target, meets| {
        median_row(name, unit, args, target, meets, Runner::clone)
    };
    vec![
        row(
            "TCP loopback, one 256 MiB stream (median of 3)",
            "MB/s",
            prog(&["stream", "inet"]),
            ">= 2000 MB/s",
            |h, _, _| Some(h >= 2000.0),
        ),
        row(
            "TCP loopback, 16-byte request/response",
            "us",
            prog(&["rr", "inet"]),
            "<= 80 us",
            |h, _, _| Some(h <= 80.0),
        ),
        row(
            "unix stream, one 256 MiB stream",
            "MB/s",
            prog(&["stream", "unix"]),
            "-",
            |_, _, _| None,
        ),
        row(
            "unix stream, 16-byte request/response",
            "us",
            prog(&["rr", "unix"]),
            "-",
            |_, _, _| None,
        ),
    ]
}

/// Rows with `--network host`: the sandbox's TCP sockets are host
/// sockets (tests/bench/net.c over the host's loopback, and nginx).
fn host_network_rows(net: PathBuf) -> Vec<Row> {
    let prog = argv_of(net);
    let row = |name, unit, args, target, meets| {
        median_row(name, unit, args, target, meets, Runner::with_host_network)
    };
    let mut rows = vec![
        row(
            "--network host: TCP, one 256 MiB stream (median of 3)",
            "MB/s",
            prog(&["stream", "inet"]),
            "ahead of runsc",
            ahead_of_runsc,
        ),
        row(
            "--network host: TCP 16-byte request/response",
            "us",
            prog(&["rr", "inet"]),
            "<= runsc",
            at_most_runsc,
        ),
    ];
    if on_path("nginx").is_some() && on_path("wrk").is_some() {
        rows.push(row(
            "--network host: nginx + wrk, 2 connections (median of 3)",
            "req/s",
            vec![
                "/bin/sh".into(),
                crate_dir().join("net/nginx.sh").into_os_string(),
                "wrk".into(),
            ],
            "ahead of runsc",
            ahead_of_runsc,
        ));
    }
    rows
}

/// The native side of the veth rows: a namespace joined to the host by a
/// veth pair as husk's (a /30, MTU 65520, a default route to the host).
const VETH_NETNS: &str = "husk-bench";

fn ip(args: &str) -> Result<(), String> {
    let st = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("ip: {e}"))?;
    st.success()
        .then_some(())
        .ok_or_else(|| format!("ip {args} failed"))
}

fn veth_netns_up() -> Result<(), String> {
    let _ = ip(&format!("netns del {VETH_NETNS}"));
    ip(&format!("netns add {VETH_NETNS}"))?;
    ip(&format!(
        "link add hbench0 mtu 65520 type veth peer name eth0 mtu 65520 netns {VETH_NETNS}"
    ))?;
    ip("addr add 10.214.0.1/30 dev hbench0")?;
    ip("link set hbench0 up")?;
    ip(&format!("-n {VETH_NETNS} link set lo up"))?;
    ip(&format!("-n {VETH_NETNS} addr add 10.214.0.2/30 dev eth0"))?;
    ip(&format!("-n {VETH_NETNS} link set eth0 up"))?;
    ip(&format!("-n {VETH_NETNS} route add default via 10.214.0.1"))
}

/// Host-side servers for the veth rows, on every address: a sink that
/// reads to the end and closes, a source that writes 256 MiB, and an
/// echo of 16-byte messages. Their ports, in that order.
fn host_servers() -> [u16; 3] {
    use std::io::{Read, Write};
    let serve = |f: fn(std::net::TcpStream)| {
        let l = std::net::TcpListener::bind("0.0.0.0:0").expect("host server");
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming().map_while(Result::ok) {
                let _ = c.set_nodelay(true);
                std::thread::spawn(move || f(c));
            }
        });
        port
    };
    [
        serve(|mut c| {
            let mut b = vec![0u8; 1 << 20];
            while c.read(&mut b).is_ok_and(|n| n > 0) {}
        }),
        serve(|mut c| {
            let b = vec![0u8; 64 << 10];
            for _ in 0..4096 {
                if c.write_all(&b).is_err() {
                    return;
                }
            }
        }),
        serve(|mut c| {
            let mut b = [0u8; 16];
            while c.read_exact(&mut b).is_ok() && c.write_all(&b).is_ok() {}
        }),
    ]
}

/// Rows across a veth pair between the sandbox and the host (tests/
/// bench/net.c's veth modes), each runner with its own network.
fn veth_rows(net: PathBuf) -> Vec<Row> {
    let native = veth_netns_up();
    let ports = host_servers();
    let prog = argv_of(net);
    let row = |name, unit, args: Vec<OsString>, target, meets| {
        let native = native.clone();
        Row {
            name,
            unit,
            target,
            meets,
            measure: Box::new(move |r: &Runner| match (r, &native) {
                (Runner::Native, Err(e)) => Measure {
                    value: None,
                    note: Some(e.clone()),
                },
                _ => printed_median(&r.with_network(), &args, 3),
            }),
            values: Vec::new(),
        }
    };
    let [sink, source, echo] = ports.map(|p| p.to_string());
    vec![
        row(
            "veth: 256 MiB sandbox -> host (median of 3)",
            "MB/s",
            prog(&["veth", "send", &sink]),
            "ahead of runsc",
            ahead_of_runsc,
        ),
        row(
            "veth: 256 MiB host -> sandbox (median of 3)",
            "MB/s",
            prog(&["veth", "recv", &source]),
            "ahead of runsc",
            ahead_of_runsc,
        ),
        row(
            "veth: 16-byte request/response",
            "us",
            prog(&["veth", "rr", &echo]),
            "<= runsc",
            at_most_runsc,
        ),
        row(
            "veth: ... with 1,000 idle connections open",
            "us",
            prog(&["veth", "idle", "1000", &sink, &echo]),
            "-",
            |_, _, _| None,
        ),
    ]
}

/// Rows of real servers: nginx to wrk and redis-server to
/// redis-benchmark over loopback in one sandbox, and iperf3 across the
/// veth to a server on the host. A row whose tools are missing says so.
fn server_rows() -> Vec<Row> {
    let script = |name: &str| crate_dir().join("bench").join(name).into_os_string();
    let missing = |tools: &[&str]| {
        tools
            .iter()
            .find(|t| on_path(t).is_none())
            .map(|t| format!("{t} is not installed"))
    };
    let row = |name, unit, tools: &'static [&'static str], args: Vec<OsString>, veth: bool| {
        let gap = missing(tools);
        Row {
            name,
            unit,
            target: "ahead of runsc",
            meets: ahead_of_runsc,
            measure: Box::new(move |r: &Runner| match &gap {
                Some(g) => Measure {
                    value: None,
                    note: Some(g.clone()),
                },
                None if veth => printed_median(&r.with_network(), &args, 3),
                None => printed_median(r, &args, 3),
            }),
            values: Vec::new(),
        }
    };
    let iperf_port = if on_path("iperf3").is_some() {
        // The host's server, for every run of the rows.
        let _ = std::process::Command::new("iperf3")
            .args(["-s", "-D", "-p", "15297"])
            .status();
        "15297"
    } else {
        "0"
    };
    let sh = |name: &str, extra: &[&str]| {
        let mut v: Vec<OsString> = vec!["/bin/sh".into(), script(name)];
        v.extend(extra.iter().map(OsString::from));
        v
    };
    vec![
        row(
            "nginx + wrk, loopback, 2 connections (median of 3)",
            "req/s",
            &["nginx", "wrk", "curl"],
            vec![
                "/bin/sh".into(),
                crate_dir().join("net/nginx.sh").into_os_string(),
                "wrk".into(),
            ],
            false,
        ),
        row(
            "redis-benchmark GET, loopback (median of 3)",
            "req/s",
            &["redis-server", "redis-benchmark"],
            sh("redis_bench.sh", &["get"]),
            false,
        ),
        row(
            "redis-benchmark SET, loopback (median of 3)",
            "req/s",
            &["redis-server", "redis-benchmark"],
            sh("redis_bench.sh", &["set"]),
            false,
        ),
        row(
            "iperf3 sandbox -> host over the veth (median of 3)",
            "MB/s",
            &["iperf3"],
            sh("iperf3_veth.sh", &[iperf_port]),
            true,
        ),
        row(
            "iperf3 host -> sandbox over the veth (median of 3)",
            "MB/s",
            &["iperf3"],
            sh("iperf3_veth.sh", &[iperf_port, "-R"]),
            true,
        ),
    ]
}

/// The real executable of a python3 on PATH that has CPython's test
/// package (Debian's needs libpython3-testsuite; a pyenv build has it).
fn python_with_tests() -> Option<OsString> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, test.test_mmap; print(sys.executable)"])
        .output()
        .ok()?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !exe.is_empty()).then(|| exe.into())
}

/// The file the read rows use, made once (random bytes, so no filesystem
/// can shortcut it) and read once so every runner starts with it cached.
fn read_file() -> Result<PathBuf, String> {
    let dir = PathBuf::from("/var/tmp/husk-bench");
    let path = dir.join("read-512m.bin");
    let size = 512u64 << 20;
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(size) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut data = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut out =
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for _ in 0..512 {
            for chunk in data.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            std::io::Write::write_all(&mut out, &data).map_err(|e| e.to_string())?;
        }
    }
    // Read through a small buffer: this process's memory is what forked
    // children start with, and the RSS row measures children.
    let mut f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    while std::io::Read::read(&mut f, &mut buf).map_err(|e| e.to_string())? > 0 {}
    Ok(path)
}

/// The Docker runtime that stands for a runner in the container rows:
/// runc for native, husk, and runsc (registered with `--platform=ptrace
/// --network=none` in its runtimeArgs).
fn docker_runtime(r: &Runner) -> &'static str {
    match r {
        Runner::Native | Runner::NativeIn(_) => "runc",
        Runner::Husk(..) => "husk",
        Runner::Runsc(..) => "runsc",
    }
}

/// A busybox image for the container rows, imported once.
fn bench_image() -> Result<&'static str, String> {
    const IMAGE: &str = "husk-bench-busybox:1";
    let have = std::process::Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if have.status.success() {
        return Ok(IMAGE);
    }
    let dir = build_dir().join("bench").join("busybox-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| e.to_string())?;
    std::fs::copy("/bin/busybox", dir.join("bin/busybox"))
        .map_err(|e| format!("/bin/busybox: {e}"))?;
    for a in ["sh", "true", "sleep"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a))
            .map_err(|e| e.to_string())?;
    }
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import - {IMAGE} >/dev/null",
            dir.display()
        ))
        .status()
        .map_err(|e| e.to_string())?;
    if !ok.success() {
        return Err("docker import failed".into());
    }
    Ok(IMAGE)
}

/// Median wall time of `docker run --rm` of /bin/true under the runner's
/// runtime, in ms.
fn docker_true_ms(r: &Runner, image: &str) -> Measure {
    let rt = format!("--runtime={}", docker_runtime(r));
    let argv = os(&[
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        &rt,
        image,
        "/bin/true",
    ]);
    let _ = wall_ms(&Runner::Native, &argv, 1);
    wall_ms(&Runner::Native, &argv, 9)
}

/// Memory of an idle container (`sleep`) under the runner's runtime:
/// the sum over the processes of its host cgroup of Pss (`pss`) or Rss
/// from smaps_rollup, in MiB. For runc that is the sleep alone; for
/// husk and runsc, their sandbox's processes.
fn docker_idle_mib(r: &Runner, image: &str, pss: bool) -> Measure {
    let fail = |e: String| Measure {
        value: None,
        note: Some(e),
    };
    let rt = format!("--runtime={}", docker_runtime(r));
    let out = match std::process::Command::new("docker")
        .args(["run", "-d", "--network", "none", &rt, image, "sleep", "60"])
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => return fail(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => return fail(e.to_string()),
    };
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    std::thread::sleep(Duration::from_secs(2));
    let mut pids = Vec::new();
    for base in [
        "/sys/fs/cgroup/memory/docker",
        "/sys/fs/cgroup/system.slice",
        "/sys/fs/cgroup/docker",
    ] {
        for dir in [format!("{base}/{id}"), format!("{base}/docker-{id}.scope")] {
            let mut stack = vec![PathBuf::from(dir)];
            while let Some(d) = stack.pop() {
                if let Ok(t) = std::fs::read_to_string(d.join("cgroup.procs")) {
                    pids.extend(t.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
                }
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
    }
    let key = if pss { "Pss:" } else { "Rss:" };
    let kib: u64 = pids
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum();
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &id])
        .output();
    if pids.is_empty() {
        return fail("the container's cgroup was not found".into());
    }
    Measure {
        value: Some(kib as f64 / 1024.0),
        note: None,
    }
}

/// Rows on containers through Docker: the native column is runc, the
/// husk column `--runtime=husk`, the runsc column `--runtime=runsc`. Empty
/// without a running dockerd that knows husk.
fn container_rows() -> Vec<Row> {
    let info = std::process::Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output();
    let runtimes = match info {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            eprintln!("container rows skipped: no running dockerd");
            return Vec::new();
        }
    };
    if !runtimes.contains("\"husk\"") {
        eprintln!("container rows skipped: dockerd has no husk runtime (see README: Docker)");
        return Vec::new();
    }
    let image = match bench_image() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("container rows skipped: {e}");
            return Vec::new();
        }
    };
    vec![
        Row {
            name: "docker run --rm /bin/true (runc | husk | runsc)",
            unit: "ms",
            target: "husk's added latency <= half of runsc's",
            meets: |h, n, r| r.map(|r| h - n <= (r - n) / 2.0),
            measure: Box::new(move |r| docker_true_ms(r, image)),
            values: Vec::new(),
        },
        Row {
            name: "idle container memory, PSS of its processes",
            unit: "MiB",
            target: "<= 15 MiB",
            meets: |h, _, _| Some(h <= 15.0),
            measure: Box::new(move |r| docker_idle_mib(r, image, true)),
            values: Vec::new(),
        },
        Row {
            name: "idle container memory, RSS summed",
            unit: "MiB",
            target: "(shared pages counted per process)",
            meets: |_, _, _| None,
            measure: Box::new(move |r| docker_idle_mib(r, image, false)),
            values: Vec::new(),
        },
    ]
}

fn usage() -> ExitCode {
    eprintln!("usage: husk-bench [--only process|fs|wake|memory|ipc|net|container]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => None,
        ["--only", g] => Some(g.to_owned()),
        [g] if g.starts_with("--only=") => Some(g["--only=".len()..].to_owned()),
        _ => return usage(),
    };
    if only.as_deref().is_some_and(|g| {
        !["process", "fs", "wake", "memory", "ipc", "net", "container"].contains(&g)
    }) {
        return usage();
    }
    let group = |g: &str| only.as_deref().is_none_or(|o| o == g);
    let (process, fs, wake, memory, net) = (
        group("process"),
        group("fs"),
        group("wake"),
        group("memory"),
        group("net"),
    );
    let mut rows = Vec::new();
    let compile = |name: &str| -> Result<PathBuf, String> {
        let src = crate_dir().join("bench").join(format!("{name}.c"));
        let bin = build_dir().join("bench").join(name);
        let shared = crate_dir().join("bench").join("bench.h");
        compile_c(&src, &[shared], &bin, true)
            .map(|_| bin)
            .map_err(|e| e.to_string())
    };
    let mut setup = || -> Result<(), String> {
        if process {
            rows.extend(process_rows(compile("getppid")?));
        }
        if fs {
            rows.extend(fs_rows(read_file()?, compile("files")?, compile("read")?));
        }
        if wake {
            rows.extend(wake_rows(compile("wake")?));
        }
        if memory {
            rows.extend(memory_rows(compile("memory")?));
        }
        if group("ipc") {
            rows.extend(ipc_rows(compile("ipc")?));
        }
        if net {
            let bin = compile("net")?;
            rows.extend(net_rows(bin.clone()));
            rows.extend(veth_rows(bin.clone()));
            rows.extend(host_network_rows(bin));
            rows.extend(server_rows());
        }
        if group("container") {
            rows.extend(container_rows());
        }
        Ok(())
    };
    if let Err(e) = setup() {
        eprintln!("husk-bench: {e}");
        return ExitCode::FAILURE;
    }
    let mut runners = vec![("native", Runner::Native)];
    match find_or_build_husk() {
        Ok(h) => runners.push(("husk", Runner::Husk(h, Vec::new()))),
        Err(e) => eprintln!("husk column unavailable: {e}"),
    }
    if let Some(r) = on_path("runsc") {
        runners.push(("runsc", Runner::Runsc(r, "none")));
    }

    for (label, runner) in &runners {
        for row in rows.iter_mut() {
            eprintln!("measuring {label}: {} ...", row.name);
            let m = (row.measure)(runner);
            row.values.push(m);
        }
    }

    let col = |l: &str| runners.iter().position(|(x, _)| *x == l);
    let mut header = vec!["benchmark".to_owned()];
    header.extend(runners.iter().map(|(l, _)| (*l).to_owned()));
    header.extend(runners.iter().skip(1).map(|(l, _)| format!("{l}/native")));
    header.push("target".to_owned());
    header.push("met".to_owned());
    let mut table = vec![header];
    for row in &rows {
        let mut cells = vec![row.name.to_owned()];
        cells.extend(row.values.iter().map(|m| fmt(m, row.unit)));
        cells.extend(row.values.iter().skip(1).map(|m| ratio(m, &row.values[0])));
        cells.push(row.target.to_owned());
        let runsc = col("runsc").and_then(|i| row.values[i].value);
        let met = match (
            col("husk").and_then(|i| row.values[i].value),
            row.values[0].value,
        ) {
            (Some(h), Some(n)) => match (row.meets)(h, n, runsc) {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            },
            _ => "-",
        };
        cells.push(met.to_owned());
        table.push(cells);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for (i, r) in table.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        println!("{}", line.join(" | ").trim_end());
        if i == 0 {
            let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("{}", sep.join("-|-"));
        }
    }
    for row in &rows {
        for ((label, _), m) in runners.iter().zip(&row.values) {
            if let Some(n) = &m.note {
                println!("note: {} under {label}: {n}", row.name);
            }
        }
    }
    if net {
        let _ = ip(&format!("netns del {VETH_NETNS}"));
        let _ = std::process::Command::new("pkill")
            .args(["-f", "iperf3 -s -D -p 15297"])
            .status();
    }
    ExitCode::SUCCESS
}
