//! husk-bench: a few numbers that track the sandbox's overhead, natively,
//! under husk and (when `runsc` is on PATH) under gVisor.
//!
//! `cargo run -p husk-tests --release --bin husk-bench`
//!
//! Rows: getppid round trip (ns per call, measured by tests/bench/getppid.c
//! itself), wall time of `/bin/true` (median of 20), wall time of
//! `/usr/bin/python3 -c pass` (median of 10), and peak RSS of the whole
//! process tree while running `/bin/true` (ru_maxrss from wait4, which covers
//! the process and the descendants it waited for).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use husk_tests::{
    build_dir, compile_c, crate_dir, find_or_build_husk, husk_argv, median, minimal_env, on_path,
    run, Outcome, RunSpec,
};

/// How to run a program in one environment.
#[derive(Clone)]
enum Runner {
    Native,
    Husk(PathBuf),
    Runsc(PathBuf),
}

impl Runner {
    fn argv(&self, prog: &[OsString]) -> Vec<OsString> {
        match self {
            Runner::Native => prog.to_vec(),
            Runner::Husk(h) => husk_argv(h, prog),
            Runner::Runsc(r) => {
                let mut v: Vec<OsString> = vec![
                    r.clone().into_os_string(),
                    "--platform=ptrace".into(),
                    "--network=none".into(),
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
    let env = minimal_env();
    let argv = runner.argv(prog);
    let r = run(&RunSpec {
        argv: &argv,
        env: &env,
        cwd: Path::new("/"),
        timeout: Duration::from_secs(120),
    })
    .map_err(|e| format!("spawn: {e}"))?;
    if r.outcome != Outcome::Exited(0) {
        let err = husk_tests::tail(&r.stderr, 1).pop().unwrap_or_default();
        return Err(format!("{} {err}", r.outcome));
    }
    Ok(r)
}

fn getppid_ns(runner: &Runner, bin: &Path) -> Measure {
    match run_once(runner, &[bin.as_os_str().to_owned()]) {
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
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        match run_once(runner, prog) {
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

fn main() -> ExitCode {
    let src = crate_dir().join("bench").join("getppid.c");
    let bin = build_dir().join("bench").join("getppid");
    if let Err(e) = compile_c(&src, &[], &bin, true) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let mut runners = vec![("native", Runner::Native)];
    match find_or_build_husk() {
        Ok(h) => runners.push(("husk", Runner::Husk(h))),
        Err(e) => eprintln!("husk column unavailable: {e}"),
    }
    if let Some(r) = on_path("runsc") {
        runners.push(("runsc", Runner::Runsc(r)));
    }

    let truth: Vec<OsString> = vec!["/bin/true".into()];
    let python: Vec<OsString> = vec!["/usr/bin/python3".into(), "-c".into(), "pass".into()];

    struct Row {
        name: &'static str,
        unit: &'static str,
        target: &'static str,
        /// Checks the husk value (and the native one) against the target.
        meets: fn(f64, f64) -> bool,
        values: Vec<Measure>,
    }
    let mut rows = vec![
        Row {
            name: "getppid round trip",
            unit: "ns",
            target: "<= 12 us",
            meets: |h, _| h <= 12_000.0,
            values: Vec::new(),
        },
        Row {
            name: "do /bin/true (median of 20)",
            unit: "ms",
            target: "<= 40 ms",
            meets: |h, _| h <= 40.0,
            values: Vec::new(),
        },
        Row {
            name: "python3 -c pass (median of 10)",
            unit: "ms",
            target: "<= 3x native",
            meets: |h, n| h <= 3.0 * n,
            values: Vec::new(),
        },
        Row {
            name: "peak RSS, /bin/true",
            unit: "MiB",
            target: "-",
            meets: |_, _| true,
            values: Vec::new(),
        },
    ];
    for (label, runner) in &runners {
        eprintln!("measuring {label} ...");
        rows[0].values.push(getppid_ns(runner, &bin));
        rows[1].values.push(wall_ms(runner, &truth, 20));
        rows[2].values.push(wall_ms(runner, &python, 10));
        rows[3].values.push(peak_rss_mib(runner, &truth));
    }

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
        let met = match (
            runners.iter().position(|(l, _)| *l == "husk"),
            row.values[0].value,
        ) {
            (Some(i), Some(n)) => match row.values[i].value {
                Some(h) if row.target != "-" => {
                    if (row.meets)(h, n) {
                        "yes"
                    } else {
                        "NO"
                    }
                }
                _ => "-",
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
    ExitCode::SUCCESS
}
