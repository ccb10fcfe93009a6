//! The compatibility suite: every `tests/compat/*.c` program (static and
//! dynamic) and every command of `tests/e2e.txt` is run natively and under
//! `husk do --`; stdout and exit status must match.
//!
//! `cargo test -p husk-tests --release --test compat [FILTER...]`
//!
//! Environment: `HUSK_BIN` (husk binary to use), `COMPAT_TIMEOUT` (seconds
//! per run, default 60).
//! `tests/compat/KNOWN_FAILURES` lists `name[variant]  # reason` lines:
//! those report XFAIL (or XPASS) and do not fail the suite.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use husk_tests::{
    build_dir, cloexec_inherited_fds, compile_c, crate_dir, find_or_build_husk, husk_argv,
    minimal_env, run, short_diff, tail, Outcome, RunResult, RunSpec,
};

/// One comparison to make.
struct Case {
    /// `name[variant]`, as in KNOWN_FAILURES.
    id: String,
    /// The program and arguments (run natively, or after `husk do --`).
    argv: Vec<OsString>,
    /// Set when the case cannot run (e.g. compile error): it fails with this.
    setup_error: Option<String>,
    /// `husk do` flags of the variant (`--network host`).
    husk_flags: Vec<OsString>,
}

/// The marker of a compat program that also runs as `name[host]`, under
/// `husk do --network host` (its sockets are host sockets).
const HOST_NETWORK_MARKER: &str = "compat-variant: network-host";

enum Verdict {
    Pass,
    Fail(Vec<String>),
}

fn parse_known_failures(path: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Ok(text) = fs::read_to_string(path) else {
        return m;
    };
    for line in text.lines() {
        let (id, reason) = match line.split_once('#') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (line.trim(), ""),
        };
        if !id.is_empty() {
            m.insert(id.to_owned(), reason.to_owned());
        }
    }
    m
}

/// A name for an e2e command: its words, squashed to `[a-z0-9_]`.
fn e2e_name(cmd: &str) -> String {
    let mut s = String::new();
    for c in cmd.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') {
            s.push('_');
        }
        if s.len() >= 40 {
            break;
        }
    }
    format!("e2e_{}", s.trim_matches('_'))
}

fn compat_cases(build: &Path) -> Vec<Case> {
    let dir = crate_dir().join("compat");
    let mut sources: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect()
        })
        .unwrap_or_default();
    sources.sort();
    let headers: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "h"))
                .collect()
        })
        .unwrap_or_default();
    let mut cases = Vec::new();
    for src in sources {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        for (variant, static_link) in [("static", true), ("dynamic", false)] {
            let out = build.join(variant).join(&name);
            let setup_error = compile_c(&src, &headers, &out, static_link).err();
            cases.push(Case {
                id: format!("{name}[{variant}]"),
                argv: vec![out.into_os_string()],
                setup_error,
                husk_flags: Vec::new(),
            });
        }
        let text = fs::read_to_string(&src).unwrap_or_default();
        if text.contains(HOST_NETWORK_MARKER) {
            let static_case = &cases[cases.len() - 2];
            cases.push(Case {
                id: format!("{name}[host]"),
                argv: static_case.argv.clone(),
                setup_error: static_case.setup_error.clone(),
                husk_flags: vec!["--network".into(), "host".into()],
            });
        }
    }
    cases
}

fn e2e_cases(build: &Path) -> Vec<Case> {
    let Ok(text) = fs::read_to_string(crate_dir().join("e2e.txt")) else {
        return Vec::new();
    };
    let build = build.to_string_lossy();
    let src = crate_dir();
    let src = src.to_string_lossy();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cmd = l.replace("{build}", &build).replace("{src}", &src);
            Case {
                id: format!("{}[sh]", e2e_name(l)),
                argv: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
                setup_error: None,
                husk_flags: Vec::new(),
            }
        })
        .collect()
}

fn compare(native: &RunResult, husk: &RunResult) -> Verdict {
    let mut why = Vec::new();
    if native.outcome == Outcome::TimedOut {
        why.push("native run timed out".to_owned());
    }
    if native.outcome != husk.outcome {
        why.push(format!("native {}, husk {}", native.outcome, husk.outcome));
    }
    if native.stdout != husk.stdout {
        why.push("stdout differs:".to_owned());
        why.extend(
            short_diff(&native.stdout, &husk.stdout, 3)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
    }
    if why.is_empty() {
        Verdict::Pass
    } else {
        let err = tail(&husk.stderr, 5);
        if !err.is_empty() {
            why.push("husk stderr (tail):".to_owned());
            why.extend(err.into_iter().map(|l| format!("  {l}")));
        }
        Verdict::Fail(why)
    }
}

fn main() -> ExitCode {
    cloexec_inherited_fds();
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let timeout = Duration::from_secs(
        std::env::var("COMPAT_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let env = minimal_env();
    let cwd = Path::new("/");
    let known = parse_known_failures(&crate_dir().join("compat").join("KNOWN_FAILURES"));
    let build = build_dir();

    let mut cases = compat_cases(&build);
    cases.extend(e2e_cases(&build));
    cases.retain(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())));

    // The sandbox must at least run /bin/true, or every case fails fast.
    let husk = find_or_build_husk();
    let sandbox_error = match &husk {
        Err(e) => Some(format!("no husk binary: {e}")),
        Ok(h) if !cases.is_empty() => {
            let argv = husk_argv(h, &["/bin/true".into()]);
            match run(&RunSpec {
                argv: &argv,
                env: &env,
                cwd,
                timeout: Duration::from_secs(30),
            }) {
                Ok(r) if r.outcome == Outcome::Exited(0) => None,
                Ok(r) => {
                    let mut msg = format!("`husk do -- /bin/true` failed ({})", r.outcome);
                    if let Some(l) = tail(&r.stderr, 1).pop() {
                        msg.push_str(&format!(": {l}"));
                    }
                    Some(msg)
                }
                Err(e) => Some(format!("cannot start husk: {e}")),
            }
        }
        Ok(_) => None,
    };
    if let Some(e) = &sandbox_error {
        println!("sandbox unusable: {e}");
    }

    let (mut passed, mut failed, mut xfail, mut xpass) = (0, 0, 0, 0);
    for case in &cases {
        let verdict = if let Some(e) = &case.setup_error {
            Verdict::Fail(vec![e.clone()])
        } else if let Some(e) = &sandbox_error {
            Verdict::Fail(vec![e.clone()])
        } else {
            let husk = husk.as_ref().expect("checked above");
            let native = run(&RunSpec {
                argv: &case.argv,
                env: &env,
                cwd,
                timeout,
            });
            let mut argv = husk_argv(husk, &case.argv);
            argv.splice(2..2, case.husk_flags.iter().cloned());
            let sandboxed = run(&RunSpec {
                argv: &argv,
                env: &env,
                cwd,
                timeout,
            });
            match (native, sandboxed) {
                (Ok(n), Ok(h)) => compare(&n, &h),
                (Err(e), _) => Verdict::Fail(vec![format!("cannot run natively: {e}")]),
                (_, Err(e)) => Verdict::Fail(vec![format!("cannot run husk: {e}")]),
            }
        };
        let known_reason = known.get(&case.id);
        match (verdict, known_reason) {
            (Verdict::Pass, None) => {
                passed += 1;
                println!("PASS {}", case.id);
            }
            (Verdict::Pass, Some(_)) => {
                xpass += 1;
                passed += 1;
                println!("XPASS {} (listed in KNOWN_FAILURES; remove it)", case.id);
            }
            (Verdict::Fail(why), Some(reason)) => {
                xfail += 1;
                println!("XFAIL {} ({reason})", case.id);
                for l in why.iter().take(4) {
                    println!("    {l}");
                }
            }
            (Verdict::Fail(why), None) => {
                failed += 1;
                println!("FAIL {}", case.id);
                for l in why.iter().take(12) {
                    println!("    {l}");
                }
            }
        }
    }
    if xfail + xpass > 0 {
        println!("({xfail} expected failures, {xpass} unexpected passes)");
    }
    let skipped = xfail;
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
