//! Running a container's hooks: host programs, each given the
//! container's state JSON on stdin, with its own environment and an
//! optional timeout (runtime-spec config.md, "POSIX-platform Hooks").
//! startContainer hooks run inside the sandbox instead (`monitor`).

use super::bundle::HookCmd;
use anyhow::{Context, Result};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` in order; the first that fails (or outlives its timeout,
/// and is killed) is the error, named by `what` and its index.
pub fn run(what: &str, hooks: &[HookCmd], state: &serde_json::Value) -> Result<()> {
    run_in(what, hooks, state, None)
}

/// `run`, each hook in the network namespace `netns` when given
/// (createContainer's: the container's).
pub fn run_in(
    what: &str,
    hooks: &[HookCmd],
    state: &serde_json::Value,
    netns: Option<&std::fs::File>,
) -> Result<()> {
    let input = serde_json::to_vec(state)?;
    for (i, h) in hooks.iter().enumerate() {
        let name = format!("hooks.{what}[{i}] ({})", h.path.display());
        let mut cmd = Command::new(&h.path);
        if let Some((first, rest)) = h.args.split_first() {
            cmd.arg0(first).args(rest);
        }
        cmd.env_clear()
            .envs(h.env.iter().map(|e| e.split_once('=').unwrap_or((e, ""))))
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        if let Some(ns) = netns {
            let fd = std::os::fd::AsRawFd::as_raw_fd(ns);
            // SAFETY: only setns between fork and exec, on an fd this
            // process holds open until the hook has started.
            unsafe {
                cmd.pre_exec(move || {
                    rustix::thread::move_into_link_name_space(
                        std::os::fd::BorrowedFd::borrow_raw(fd),
                        Some(rustix::thread::LinkNameSpaceType::Network),
                    )
                    .map_err(std::io::Error::from)
                })
            };
        }
        let mut child = cmd.spawn().with_context(|| name.clone())?;
        if let Some(mut stdin) = child.stdin.take() {
            // A hook that does not read its state may close stdin early.
            let _ = stdin.write_all(&input);
        }
        let deadline = h.timeout.map(|t| Instant::now() + t);
        let status = loop {
            if let Some(st) = child.try_wait().with_context(|| name.clone())? {
                break st;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("{name}: timed out");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !status.success() {
            anyhow::bail!("{name}: {status}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout: Option<u64>) -> HookCmd {
        HookCmd {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["X=1".into()],
            timeout: timeout.map(Duration::from_secs),
        }
    }

    #[test]
    fn hooks_get_the_state_and_their_failures_are_named() {
        let dir = std::env::temp_dir().join(format!("husk-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let state = serde_json::json!({"id": "c", "pid": 42});
        let ok = hook(
            &format!("cat > {}; echo $X >> {}", out.display(), out.display()),
            None,
        );
        run("prestart", &[ok], &state).unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(
            got.starts_with("{\"id\":\"c\",\"pid\":42}") && got.ends_with("1\n"),
            "{got}"
        );
        let e = run(
            "poststart",
            &[hook("true", None), hook("exit 3", None)],
            &state,
        )
        .unwrap_err();
        assert!(e.to_string().contains("hooks.poststart[1]"), "{e}");
        let e = run("createRuntime", &[hook("sleep 5", Some(1))], &state).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
