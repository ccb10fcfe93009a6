//! The OCI runtime's lifecycle, as a runc caller drives it, on a bundle
//! whose rootfs is Debian's static busybox: `spec`, `create` (pid file,
//! console socket), `state`, `start`, `kill`, `delete`, `run`, `list`,
//! their errors, and that nothing of a container is left once deleted.
//! This test process is a subreaper, as containerd's shim is, so it can
//! wait for a container's monitor after `create` has exited.

use husk_tests::find_or_build_husk;
use std::io::IoSliceMut;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("husk-oci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    /// Also takes down what a failed test left running.
    fn drop(&mut self) {
        let root = self.0.join("state");
        for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = husk(&root, &["delete", "--force", &id]);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bundle in `dir`: busybox and its applets in rootfs/bin, and the
/// config.json `husk spec` writes, changed by `edit`.
fn bundle(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let b = dir.join("bundle");
    let bin = b.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["proc", "dev", "sys", "tmp", "etc", "home/user"] {
        std::fs::create_dir_all(b.join("rootfs").join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static");
    for a in [
        "sh", "echo", "cat", "sleep", "id", "pwd", "env", "hostname", "tty", "stty", "ls",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    let out = husk(
        &dir.join("state"),
        &["spec", "--bundle", b.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    let path = b.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    c["process"]["terminal"] = false.into();
    c["root"]["readonly"] = false.into();
    edit(&mut c);
    std::fs::write(&path, c.to_string()).unwrap();
    b
}

fn husk(root: &Path, args: &[&str]) -> Output {
    let h = find_or_build_husk().expect("husk binary");
    Command::new(h)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running husk")
}

/// `husk create`: its stdout and stderr are files, not pipes, because
/// the container keeps them (they are its stdio), as runc's callers do.
fn create(root: &Path, args: &[&str]) -> Output {
    let h = find_or_build_husk().expect("husk binary");
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let err = root.with_extension(format!("create-err-{}", N.fetch_add(1, Ordering::Relaxed)));
    let f = std::fs::File::create(&err).unwrap();
    let status = Command::new(h)
        .arg("--root")
        .arg(root)
        .arg("create")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(f)
        .status()
        .expect("running husk create");
    let stderr = std::fs::read(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

/// A bundle in `dir` changed by `edit` is refused by `create` with one
/// line naming `field`, and leaves no state.
fn refused(dir: &Path, root: &Path, field: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let b = bundle(dir, edit);
    let o = create(root, &["--bundle", b.to_str().unwrap(), "refused"]);
    assert_eq!(o.status.code(), Some(1), "{field}");
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains(field), "{field}: {e}");
    assert!(!root.join("refused").exists(), "{field}: state left behind");
}

/// A started container `id` from a bundle changed by `edit` (this
/// process a subreaper, to wait for its monitor): the scratch directory,
/// the state root and the bundle.
fn started(
    name: &str,
    id: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (Scratch, PathBuf, PathBuf) {
    subreaper();
    let s = Scratch::new(name);
    let b = bundle(&s.0, edit);
    let root = s.0.join("state");
    let out = create(&root, &["--bundle", b.to_str().unwrap(), id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(husk(&root, &["start", id]).status.success());
    (s, root, b)
}

/// `run` of bundle `b` as container `id`, which must succeed.
fn run_ok(root: &Path, b: &Path, id: &str) -> Output {
    let out = husk(root, &["run", "--bundle", b.to_str().unwrap(), id]);
    assert!(out.status.success(), "{id}: {}", stderr(&out));
    out
}

/// What `sh -c script` run by `exec` in container `id` prints.
fn exec_sh(root: &Path, id: &str, script: &str) -> String {
    let e = husk(root, &["exec", id, "sh", "-c", script]);
    assert!(e.status.success(), "{script}: {}", stderr(&e));
    String::from_utf8_lossy(&e.stdout).into_owned()
}

fn state(root: &Path, id: &str) -> serde_json::Value {
    let out = husk(root, &["state", id]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("state JSON")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Becomes a subreaper: orphaned monitors are ours to wait for.
fn subreaper() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
}

/// Waits for `pid` (a monitor reparented to us): its exit status.
fn wait_pid(pid: i32, limit: Duration) -> Option<i32> {
    let t = Instant::now();
    while t.elapsed() < limit {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer, WNOHANG.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The pids of `pid`'s children (the monitor's: gofer waiter, sandbox).
fn children(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let c = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        v.extend(c.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    v
}

fn gone(pid: i32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = st
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        if st.is_empty() || state == Some(Some('Z')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn run_gives_the_status_output_and_process_settings() {
    let s = Scratch::new("run");
    let b = bundle(&s.0, |c| {
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "echo hi $(hostname) $(id -u):$(id -g):$(id -G) $(pwd) $FOO $(cat /proc/sys/kernel/domainname); exit 7"
        ]);
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar"]);
        c["process"]["cwd"] = "/home/user".into();
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        c["hostname"] = "box".into();
        c["domainname"] = "example.org".into();
    });
    let root = s.0.join("state");
    let out = husk(&root, &["run", "--bundle", b.to_str().unwrap(), "r1"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi box 1000:1000:1000 5 /home/user bar example.org\n"
    );
    // A foreground run removes its container.
    let l = husk(&root, &["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&l.stdout), "");
}

#[test]
fn create_start_kill_delete() {
    subreaper();
    let s = Scratch::new("life");
    let (pre, post) = (s.0.join("prestart.json"), s.0.join("poststop.json"));
    let hook = |to: &Path| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", to.display())]});
    let (h1, h2) = (hook(&pre), hook(&post));
    let b = bundle(&s.0, move |c| {
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "trap 'echo term; exit 3' TERM; echo up; while :; do sleep 0.05; done"
        ]);
        c["hooks"] = serde_json::json!({"prestart": [h1], "poststop": [h2]});
    });
    let root = s.0.join("state");
    let pidf = s.0.join("pid");
    let logf = s.0.join("out");
    let log = std::fs::File::create(&logf).unwrap();
    let h = find_or_build_husk().unwrap();
    let st = Command::new(&h)
        .arg("--root")
        .arg(&root)
        .args(["create", "--bundle", b.to_str().unwrap(), "--pid-file"])
        .arg(&pidf)
        .arg("c1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    // The prestart hook had the state: the monitor's pid, in a network
    // namespace of the container's own (never the host's).
    let hs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pre).unwrap()).unwrap();
    assert_eq!(hs["id"], "c1");
    assert_eq!(hs["pid"], pid);
    let ns = |p: String| std::fs::read_link(p).unwrap();
    assert_ne!(
        ns(format!("/proc/{pid}/ns/net")),
        ns("/proc/self/ns/net".into())
    );
    let s1 = state(&root, "c1");
    assert_eq!(s1["status"], "created");
    assert_eq!(s1["pid"], pid);
    assert_eq!(s1["id"], "c1");
    assert_eq!(s1["bundle"], b.canonicalize().unwrap().to_str().unwrap());
    // Nothing ran yet.
    assert_eq!(std::fs::read_to_string(&logf).unwrap(), "");
    // The id is taken; an invalid one is refused.
    let dup = create(&root, &["--bundle", b.to_str().unwrap(), "c1"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    let bad = create(&root, &["--bundle", b.to_str().unwrap(), "../x"]);
    assert!(stderr(&bad).contains("invalid"), "{}", stderr(&bad));

    assert!(husk(&root, &["start", "c1"]).status.success());
    assert_eq!(state(&root, "c1")["status"], "running");
    let again = husk(&root, &["start", "c1"]);
    assert_eq!(again.status.code(), Some(1));
    let del = husk(&root, &["delete", "c1"]);
    assert!(stderr(&del).contains("not stopped"), "{}", stderr(&del));
    let t = Instant::now();
    while !std::fs::read_to_string(&logf).unwrap().contains("up") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the process did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let list = husk(&root, &["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["id"], "c1");
    // SIGTERM reaches the process's handler; its status is the monitor's.
    assert!(husk(&root, &["kill", "c1", "TERM"]).status.success());
    assert_eq!(wait_pid(pid, Duration::from_secs(10)), Some(3));
    assert_eq!(std::fs::read_to_string(&logf).unwrap(), "up\nterm\n");
    assert_eq!(state(&root, "c1")["status"], "stopped");
    let k = husk(&root, &["kill", "c1", "KILL"]);
    assert!(stderr(&k).contains("not running"), "{}", stderr(&k));
    assert!(husk(&root, &["delete", "c1"]).status.success());
    let ps: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&post).unwrap()).unwrap();
    assert_eq!(ps["status"], "stopped");
    let missing = husk(&root, &["state", "c1"]);
    assert!(stderr(&missing).contains("does not exist"));
    assert!(husk(&root, &["delete", "--force", "c1"]).status.success());
}

#[test]
fn a_forced_delete_leaves_no_process() {
    subreaper();
    let s = Scratch::new("force");
    let b = bundle(&s.0, |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let root = s.0.join("state");
    // A created container and a running one.
    for (id, start) in [("f1", false), ("f2", true)] {
        let pidf = s.0.join(id);
        let out = create(
            &root,
            &[
                "--bundle",
                b.to_str().unwrap(),
                "--pid-file",
                pidf.to_str().unwrap(),
                id,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        if start {
            assert!(husk(&root, &["start", id]).status.success());
        }
        let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
        let kids = children(pid);
        assert!(kids.len() >= 2, "monitor's children: {kids:?}");
        // SIGTERM to a `sleep` init without a handler is dropped, as for
        // a pid namespace's init on Linux.
        if start {
            assert!(husk(&root, &["kill", id]).status.success());
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(state(&root, id)["status"], "running");
        }
        let d = husk(&root, &["delete", "--force", id]);
        assert!(d.status.success(), "{}", stderr(&d));
        assert!(wait_pid(pid, Duration::from_secs(10)).is_some());
        for k in kids {
            assert!(gone(k), "process {k} of container {id} outlived it");
        }
        assert!(!root.join(id).exists());
    }
}

#[test]
fn bad_configs_name_the_field_and_leave_nothing() {
    let s = Scratch::new("bad");
    let root = s.0.join("state");
    for (field, edit) in [
        (
            "linux.seccomp.syscalls[0]",
            Box::new(|c: &mut serde_json::Value| {
                c["linux"]["seccomp"] = serde_json::json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]
                })
            }) as Box<dyn FnOnce(&mut serde_json::Value)>,
        ),
        (
            "mounts[7]",
            Box::new(|c: &mut serde_json::Value| {
                c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                    "destination": "/data", "type": "overlay", "source": "overlay"
                }))
            }),
        ),
        (
            "process.cwd",
            Box::new(|c: &mut serde_json::Value| c["process"]["cwd"] = "relative".into()),
        ),
        (
            "process.terminal",
            Box::new(|c: &mut serde_json::Value| c["process"]["terminal"] = true.into()),
        ),
    ] {
        refused(&s.0.join(field), &root, field, edit);
    }
}

/// Bind mounts, served by the gofer: a writable directory (what the
/// container writes is on the host), a read-only file (EROFS inside),
/// and a destination that did not exist in the root (made, as runc
/// makes it). Judged from the host's side too.
#[test]
fn bind_mounts_reach_the_host_as_asked() {
    let s = Scratch::new("bind");
    let data = s.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("in"), "from the host\n").unwrap();
    let conf = s.0.join("hosts");
    std::fs::write(&conf, "127.0.0.1 bound\n").unwrap();
    let (d, c) = (data.clone(), conf.clone());
    let b = bundle(&s.0, move |cfg| {
        let m = cfg["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({
            "destination": "/srv/data", "type": "bind", "source": d, "options": ["rbind", "rw"]
        }));
        m.push(serde_json::json!({
            "destination": "/etc/hosts", "type": "bind", "source": c, "options": ["rbind", "ro"]
        }));
        cfg["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "cat /srv/data/in /etc/hosts; echo out > /srv/data/out; echo x > /etc/hosts || echo refused"
        ]);
    });
    let root = s.0.join("state");
    let out = run_ok(&root, &b, "b1");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from the host\n127.0.0.1 bound\nrefused\n"
    );
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(data.join("out")).unwrap(), "out\n");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "127.0.0.1 bound\n");
    // The missing destination was made in the bundle's root.
    assert!(b.join("rootfs/srv/data").is_dir());
}

/// tmpfs mounts are the sentry's own: where asked, with their options
/// and flags, writable on a read-only root, invisible to the host; bad
/// ones are refused by field, leaving nothing behind.
#[test]
fn tmpfs_mounts_are_the_sandboxes_own() {
    let s = Scratch::new("tmpfs");
    let b = bundle(&s.0, |cfg| {
        cfg["root"]["readonly"] = true.into();
        cfg["hostname"] = serde_json::Value::Null;
        let m = cfg["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({
            "destination": "/run", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=755", "size=65536k"]
        }));
        m.push(serde_json::json!({
            "destination": "/scratch/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]
        }));
        cfg["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "echo x > /run/f && cat /run/f; grep -E ' /run | /scratch/ro ' /proc/mounts | cut -d' ' -f2-4; \
             stat -c %a /run; df -k /run | tail -1 | tr -s ' ' | cut -d' ' -f2; \
             (echo y > /scratch/ro/f) 2>/dev/null || echo ro refused; hostname"
        ]);
    });
    let root = s.0.join("state");
    let out = run_ok(&root, &b, "t1");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("x\n/run tmpfs rw,nosuid,nodev,relatime\n/scratch/ro tmpfs ro,relatime\n755\n65536\nro refused\n{host}\n")
    );
    assert!(
        !b.join("rootfs/run").exists(),
        "the mount point reached the host"
    );
    for (opts, dest, why) in [
        (serde_json::json!(["size=lots"]), "/run", "tmpfs options"),
        (serde_json::json!(["shared-subtree"]), "/run", "option"),
        (
            serde_json::json!([]),
            "/proc/x",
            "beneath the sandbox's own /proc",
        ),
        (serde_json::json!([]), "run", "absolute"),
    ] {
        refused(&s.0.join(format!("bad{}", why.len())), &root, why, |cfg| {
            cfg["mounts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts
                }));
        });
    }
}

/// maskedPaths hide what they name (a directory under an empty
/// read-only tmpfs, a file under /dev/null), readonlyPaths make it
/// read-only, paths not there are skipped, and a relative one is refused.
#[test]
fn masked_and_readonly_paths() {
    let s = Scratch::new("mask");
    let b = bundle(&s.0, |cfg| {
        cfg["linux"]["maskedPaths"] = serde_json::json!(["/etc/secret", "/home", "/proc/kcore"]);
        cfg["linux"]["readonlyPaths"] = serde_json::json!(["/tmp", "/proc/nothere"]);
        cfg["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "cat /etc/secret; ls -A /home; (echo x > /home/f) 2>&1; (echo x > /tmp/f) 2>&1; echo end"
        ]);
    });
    std::fs::write(b.join("rootfs/etc/secret"), "hidden\n").unwrap();
    let root = s.0.join("state");
    let out = run_ok(&root, &b, "m1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("hidden") && !text.contains("user"), "{text}");
    assert_eq!(text.matches("Read-only file system").count(), 2, "{text}");
    assert!(text.ends_with("end\n"), "{text}");
    assert!(!b.join("rootfs/tmp/f").exists());
    refused(&s.0.join("bad"), &root, "linux.maskedPaths[0]", |cfg| {
        cfg["linux"]["maskedPaths"] = serde_json::json!(["relative"]);
    });
}

/// noNewPrivileges reaches the process (and an exec's, from the
/// container's), oomScoreAdj the sandbox's processes on the host.
#[test]
fn no_new_privileges_and_oom_score() {
    let (_s, root, _) = started("nnp", "o1", |cfg| {
        cfg["process"]["noNewPrivileges"] = true.into();
        cfg["process"]["oomScoreAdj"] = 300.into();
        cfg["process"]["args"] = serde_json::json!(["sleep", "100"]);
    });
    let mon = state(&root, "o1")["pid"].as_i64().unwrap() as i32;
    for p in std::iter::once(mon).chain(children(mon)) {
        let adj = std::fs::read_to_string(format!("/proc/{p}/oom_score_adj")).unwrap();
        assert_eq!(adj.trim(), "300", "pid {p}");
    }
    assert_eq!(
        exec_sh(&root, "o1", "grep NoNewPrivs /proc/self/status"),
        "NoNewPrivs:\t1\n"
    );
    assert!(husk(&root, &["delete", "--force", "o1"]).status.success());
}

/// process.capabilities are the process's sets, and the sentry's checks
/// use them: root without CAP_CHOWN cannot chown, without CAP_SYS_ADMIN
/// cannot set the host name; an exec gets the container's sets; an
/// unknown capability is refused by field.
#[test]
fn capabilities_are_enforced() {
    let (s, root, _) = started("caps", "c1", |cfg| {
        let set = serde_json::json!(["CAP_KILL", "CAP_SETUID"]);
        cfg["process"]["capabilities"] = serde_json::json!({
            "bounding": set, "effective": set, "permitted": set
        });
        cfg["process"]["args"] = serde_json::json!(["sleep", "100"]);
    });
    let out = exec_sh(
        &root,
        "c1",
        "grep -E 'CapEff|CapBnd' /proc/self/status; touch /tmp/f; chown 1 /tmp/f || echo chown refused; \
         hostname other 2>/dev/null || echo hostname refused",
    );
    assert_eq!(
        out,
        "CapEff:\t00000000000000a0\nCapBnd:\t00000000000000a0\nchown refused\nhostname refused\n"
    );
    assert!(husk(&root, &["delete", "--force", "c1"]).status.success());
    refused(
        &s.0.join("bad"),
        &root,
        "process.capabilities.bounding[0]",
        |cfg| {
            cfg["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_FROBNICATE"]});
        },
    );
}

/// A user namespace's mappings (Docker's userns-remap): files the host
/// gives to 100000+ are root's inside (by path and through an open fd),
/// what the container makes or
/// chowns lands on the host at the mapped ids, an unmapped host owner
/// reads as 65534 and an unmapped id cannot be given (EINVAL).
#[test]
fn uid_mappings_translate_file_owners() {
    use std::os::unix::fs::MetadataExt;
    let s = Scratch::new("userns");
    let b = bundle(&s.0, |cfg| {
        cfg["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["linux"]["uidMappings"] = map.clone();
        cfg["linux"]["gidMappings"] = map;
        // Root's capabilities whole (runc's default spec keeps three).
        cfg["process"]
            .as_object_mut()
            .unwrap()
            .remove("capabilities");
        cfg["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "busybox stat -c '%u:%g' /bin/busybox /etc/hostowned; \
             busybox stat -L -c '%u:%g' /proc/self/fd/0 < /bin/busybox; echo x > /tmp/new; \
             echo y > /tmp/given; chown 5:6 /tmp/given; chown 70000 /tmp/given 2>&1 | grep -c Invalid; \
             cat /proc/self/uid_map"
        ]);
    });
    let rootfs = b.join("rootfs");
    std::fs::write(rootfs.join("etc/hostowned"), "").unwrap();
    // The engine's part: the image's files belong to the mapped range.
    for e in ["bin", "bin/busybox", "tmp", "etc"] {
        std::os::unix::fs::lchown(rootfs.join(e), Some(100000), Some(100000)).unwrap();
    }
    let root = s.0.join("state");
    let out = run_ok(&root, &b, "u1");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0:0\n65534:65534\n0:0\n1\n         0     100000      65536\n"
    );
    let owner = |p: &str| {
        let m = std::fs::metadata(rootfs.join(p)).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner("tmp/new"), (100000, 100000));
    assert_eq!(owner("tmp/given"), (100005, 100006));
    refused(&s.0.join("bad"), &root, "linux.uidMappings", |cfg| {
        cfg["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1, "size": 1}]);
    });
}

/// linux.sysctl's net.ipv4.ip_unprivileged_port_start (Docker passes 0)
/// is the container's network namespace's: below it a user may not
/// bind; a value the sysctl would not take is refused.
#[test]
fn sysctl_unprivileged_port_start_is_the_containers() {
    let s = Scratch::new("portstart");
    let b = bundle(&s.0, |cfg| {
        cfg["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_unprivileged_port_start": "1024"});
        cfg["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        // Without runc's default CAP_NET_BIND_SERVICE.
        cfg["process"]
            .as_object_mut()
            .unwrap()
            .remove("capabilities");
        cfg["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; busybox timeout 5 busybox nc -l -p 80 2>&1"
        ]);
    });
    let root = s.0.join("state");
    let out = husk(&root, &["run", "--bundle", b.to_str().unwrap(), "p1"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1024\nnc: bind: Permission denied\n"
    );
    refused(
        &s.0.join("bad"),
        &root,
        "linux.sysctl.net.ipv4.ip_unprivileged_port_start",
        |cfg| {
            cfg["linux"]["sysctl"] =
                serde_json::json!({"net.ipv4.ip_unprivileged_port_start": "40000"});
        },
    );
}

/// A sandbox that dies on its own (a crash, the host's OOM killer) leaves
/// its container stopped, with its monitor's status, and `delete` cleans
/// everything, its cgroup included.
#[test]
fn a_dead_sandbox_leaves_a_stopped_container() {
    let (_s, root, _) = started("dead", "d1", |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let mon = state(&root, "d1")["pid"].as_i64().unwrap() as i32;
    let cgroup: Vec<String> = std::fs::read_to_string(root.join("d1/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["cgroup"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    let sandbox = children(mon)
        .into_iter()
        .find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.contains("boot"))
        })
        .expect("the sandbox");
    assert!(
        !cgroup.is_empty() || !Path::new("/sys/fs/cgroup").exists(),
        "no cgroup recorded"
    );
    // SAFETY: kill with plain arguments, to the sandbox we found.
    unsafe { libc::kill(sandbox, libc::SIGKILL) };
    assert_eq!(wait_pid(mon, Duration::from_secs(10)), Some(137));
    assert_eq!(state(&root, "d1")["status"], "stopped");
    let k = husk(&root, &["kill", "d1", "TERM"]);
    assert!(stderr(&k).contains("not running"), "{}", stderr(&k));
    assert!(husk(&root, &["delete", "d1"]).status.success());
    assert!(!root.join("d1").exists());
    for d in &cgroup {
        assert!(!Path::new(d).exists(), "{d} is left");
    }
}

/// A seccomp profile is the sentry's to enforce: a call it denies
/// fails with the profile's errno, one it kills ends the process with
/// SIGSYS, the rest run.
#[test]
fn the_seccomp_profile_is_enforced() {
    let s = Scratch::new("seccomp");
    let b = bundle(&s.0, |c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
            ]
        });
        c["process"]["args"] = serde_json::json!([
            "sh", "-c",
            "mkdir /tmp/d 2>&1; kill -9 $$ 2>&1; echo still here; kill -0 $$ && echo signal 0 ok; exec cat /proc/self/status"
        ]);
    });
    let root = s.0.join("state");
    let out = husk(&root, &["run", "--bundle", b.to_str().unwrap(), "s1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Permission denied"), "{text}");
    assert!(text.contains("still here\nsignal 0 ok\n"), "{text}");
    assert!(!b.join("rootfs/tmp/d").exists());
    // getppid: killed by SIGSYS.
    let b2 = bundle(&s.0.join("k"), |c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        });
        c["process"]["args"] = serde_json::json!(["sh", "-c", "echo $PPID"]);
    });
    let out = husk(&root, &["run", "--bundle", b2.to_str().unwrap(), "s2"]);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGSYS),
        "{}",
        stderr(&out)
    );
}

/// A pids limit counts the container's tasks: a fork past it fails
/// with EAGAIN, and the container goes on.
#[test]
fn the_pids_limit_holds() {
    let s = Scratch::new("pids");
    let b = bundle(&s.0, |c| {
        c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 4});
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "(for i in 1 2 3 4 5 6; do sleep 0.5 & done) 2>/dev/null; echo after; wait"
        ]);
    });
    let root = s.0.join("state");
    let out = run_ok(&root, &b, "p1");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after\n");
}

/// The container's cgroup is the root of /sys/fs/cgroup: it shows the
/// limits the host enforces, read-only as the spec mounts it; mounted
/// writable, a child cgroup's pids.max holds forks of the processes
/// moved into it.
#[test]
fn the_cgroup_shows_the_limits_and_enforces_pids() {
    let s = Scratch::new("cgroup");
    let root = s.0.join("state");
    let b = bundle(&s.0, |c| {
        c["linux"]["resources"] = serde_json::json!({
            "pids": {"limit": 40},
            "cpu": {"quota": 50000, "period": 100000, "shares": 2048},
        });
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /proc/self/cgroup /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max \
             /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cgroup.controllers; \
             mkdir /sys/fs/cgroup/x 2>/dev/null || echo read-only"
        ]);
    });
    let out = run_ok(&root, &b, "cg1");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0::/\n40\n50000 100000\n79\ncpu memory pids\nread-only\n"
    );
    std::fs::remove_dir_all(&b).unwrap();
    let b = bundle(&s.0, |c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/sys/fs/cgroup" {
                m["options"] = serde_json::json!(["nosuid", "noexec", "nodev"]);
            }
        }
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cd /sys/fs/cgroup && mkdir init lim && echo $$ > init/cgroup.procs && \
             echo +pids > cgroup.subtree_control && echo 3 > lim/pids.max && \
             sh -c 'echo $$ > lim/cgroup.procs; sleep 1 & read n < lim/pids.current; \
               echo $n; sleep 1 & sleep 1 & wait' 2>/dev/null; cat lim/pids.events"
        ]);
    });
    let out = run_ok(&root, &b, "cg2");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\nmax 1\n");
}

/// A read-only root is read-only inside (no overlay takes the writes),
/// and a writable one keeps what the container wrote.
#[test]
fn the_root_is_read_only_or_keeps_writes() {
    let s = Scratch::new("rofs");
    let root = s.0.join("state");
    for (readonly, want) in [(true, "refused\n"), (false, "")] {
        let b = bundle(&s.0, |c| {
            c["root"]["readonly"] = readonly.into();
            c["process"]["args"] = serde_json::json!([
                "sh",
                "-c",
                "(echo kept > /tmp/f) 2>/dev/null || echo refused"
            ]);
        });
        let out = run_ok(&root, &b, "ro");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
        assert_eq!(b.join("rootfs/tmp/f").exists(), !readonly);
        std::fs::remove_dir_all(&b).unwrap();
    }
}

/// `exec` into a running container: output, status, environment and
/// ids; `--detach` with a pid file whose process's status is the exec's;
/// the errors of a missing program and of a stopped container.
#[test]
fn exec_runs_a_process_in_the_container() {
    subreaper();
    let s = Scratch::new("exec");
    let b = bundle(&s.0, |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "A=1"]);
    });
    let root = s.0.join("state");
    let out = create(&root, &["--bundle", b.to_str().unwrap(), "e1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let early = husk(&root, &["exec", "e1", "true"]);
    assert!(stderr(&early).contains("not running"), "{}", stderr(&early));
    assert!(husk(&root, &["start", "e1"]).status.success());
    let x = husk(
        &root,
        &[
            "exec",
            "-e",
            "B=2",
            "-u",
            "1000:1001",
            "e1",
            "sh",
            "-c",
            "echo $A$B $(id -u):$(id -g); exit 9",
        ],
    );
    assert_eq!(x.status.code(), Some(9), "{}", stderr(&x));
    assert_eq!(String::from_utf8_lossy(&x.stdout), "12 1000:1001\n");
    // The exec'd process sees the container's first process.
    let ps = husk(&root, &["exec", "e1", "cat", "/proc/1/cmdline"]);
    assert_eq!(String::from_utf8_lossy(&ps.stdout), "sleep\x001000\x00");
    let missing = husk(&root, &["exec", "e1", "nosuch"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("No such file"),
        "{}",
        stderr(&missing)
    );
    let pidf = s.0.join("exec.pid");
    let d = husk(
        &root,
        &[
            "exec",
            "--detach",
            "--pid-file",
            pidf.to_str().unwrap(),
            "e1",
            "sh",
            "-c",
            "sleep 0.2; exit 5",
        ],
    );
    assert!(d.status.success(), "{}", stderr(&d));
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    assert_eq!(wait_pid(pid, Duration::from_secs(10)), Some(5));
    assert!(husk(&root, &["delete", "--force", "e1"]).status.success());
    let gone = husk(&root, &["exec", "e1", "true"]);
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn the_console_socket_gets_a_terminal() {
    subreaper();
    let s = Scratch::new("tty");
    let b = bundle(&s.0, |c| {
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 120});
        c["process"]["args"] =
            serde_json::json!(["sh", "-c", "tty; stty size; read x; echo got $x"]);
    });
    let root = s.0.join("state");
    let sock = s.0.join("console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let pidf = s.0.join("pid");
    let out = create(
        &root,
        &[
            "--bundle",
            b.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            "--pid-file",
            pidf.to_str().unwrap(),
            "t1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let master = console_master(&l);
    assert!(husk(&root, &["start", "t1"]).status.success());
    // Typed only once the shell waits for it: its echo would otherwise
    // land between the lines it answers.
    let first = read_until(&master, "40 120");
    assert!(first.contains("/dev/pts/0\n40 120"), "{first}");
    rustix::io::write(&master, b"hello\n").unwrap();
    let text = read_until(&master, "got hello");
    assert!(text.contains("got hello"), "{text}");
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    assert_eq!(wait_pid(pid, Duration::from_secs(10)), Some(0));
    assert!(husk(&root, &["delete", "t1"]).status.success());
}

/// Receives the pty master a console socket is sent.
fn console_master(l: &std::os::unix::net::UnixListener) -> OwnedFd {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let (c, _) = l.accept().unwrap();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let mut b1 = [0u8; 64];
    recvmsg(
        &c,
        &mut [IoSliceMut::new(&mut b1)],
        &mut anc,
        RecvFlags::empty(),
    )
    .unwrap();
    anc.drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut f) => f.next(),
            _ => None,
        })
        .expect("a pty master")
}

/// Reads `master` until `want` shows up (10 s at most): what came.
fn read_until(master: &OwnedFd, want: &str) -> String {
    let mut got = Vec::new();
    let t = Instant::now();
    let seen = |g: &[u8]| String::from_utf8_lossy(g).replace('\r', "").contains(want);
    while !seen(&got) && t.elapsed() < Duration::from_secs(10) {
        let mut p = [rustix::event::PollFd::new(
            master,
            rustix::event::PollFlags::IN,
        )];
        let second = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        if !matches!(rustix::event::poll(&mut p, Some(&second)), Ok(1)) {
            continue;
        }
        let mut buf = [0u8; 256];
        match rustix::io::read(master, &mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).replace('\r', "")
}

/// `exec --tty` (Docker's `exec -it`): a pty of the sandbox's own whose
/// relay's master goes to the console socket; closing it hangs the
/// process up, and the container goes on.
#[test]
fn exec_with_a_terminal() {
    let (s, root, _) = started("exectty", "x1", |c| {
        c["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    });
    let sock = s.0.join("exec.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let pidf = s.0.join("exec.pid");
    let h = find_or_build_husk().unwrap();
    let mut child = Command::new(&h)
        .arg("--root")
        .arg(&root)
        .args(["exec", "--tty", "--detach", "--console-socket"])
        .arg(&sock)
        .arg("--pid-file")
        .arg(&pidf)
        .args(["x1", "sh"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // As containerd's shim: the command's output is read to its end, and
    // only then the master taken; nothing of the detached process may
    // hold that pipe.
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        let _ = tx.send(v);
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "exec --detach kept its output open"
    );
    assert!(child.wait().unwrap().success());
    let master = console_master(&l);
    rustix::io::write(&master, b"tty; echo $((6*7))\n").unwrap();
    let text = read_until(&master, "42\n");
    assert!(text.contains("/dev/pts/0\n42\n"), "{text}");
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    drop(master);
    // SIGHUP ends the shell: its waiter exits 128+1.
    assert_eq!(wait_pid(pid, Duration::from_secs(10)), Some(129));
    assert_eq!(state(&root, "x1")["status"], "running");
    assert!(husk(&root, &["delete", "--force", "x1"]).status.success());
}

#[test]
fn spec_and_features() {
    let s = Scratch::new("spec");
    let root = s.0.join("state");
    let d = s.0.to_str().unwrap();
    assert!(husk(&root, &["spec", "--bundle", d]).status.success());
    let again = husk(&root, &["spec", "--bundle", d]);
    assert!(stderr(&again).contains("exists"));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.0.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["args"][0], "sh");
    assert_eq!(c["root"]["path"], "rootfs");
    let f = husk(&root, &["features"]);
    let f: serde_json::Value = serde_json::from_slice(&f.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
}

/// CPU ticks (user + system) a host process has used.
fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the name: state, ppid, ..., utime (12th), stime (13th).
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// linux.resources and cgroupsPath on the host's cgroups, judged from
/// the host: the limits land in the container's cgroup, which holds all
/// its processes; `pause` stops them (a busy loop uses no CPU) and
/// `resume` lets them go on; `update` changes the limits, the sentry's
/// memory size and its task limit; `ps` and `events` report; a paused
/// container dies by `kill KILL`, and `delete` removes the cgroup.
#[test]
fn resources_pause_update_ps_events() {
    subreaper();
    let path = format!("/husk-test-{}/c", std::process::id());
    // The parent directories, whatever happens: dropped after the
    // scratch directory, whose drop deletes the container.
    struct Parents;
    impl Drop for Parents {
        fn drop(&mut self) {
            let name = format!("husk-test-{}", std::process::id());
            for d in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                let _ = std::fs::remove_dir(d.path().join(&name).join("c/sandbox"));
                let _ = std::fs::remove_dir(d.path().join(&name).join("c"));
                let _ = std::fs::remove_dir(d.path().join(&name));
            }
            let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{name}"));
        }
    }
    let _parents = Parents;
    let s = Scratch::new("res");
    let b = bundle(&s.0, |c| {
        // A busy loop, and a sleeper that never forks again (the pids
        // limit below must not starve it): the sentry waits with
        // timeouts, which a freeze interrupts and the kernel restarts.
        c["process"]["args"] =
            serde_json::json!(["sh", "-c", "while :; do :; done & exec sleep 100000"]);
        c["linux"]["cgroupsPath"] = path.clone().into();
        c["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 256u64 << 20},
            "cpu": {"cpus": "0", "quota": 50000, "period": 100000},
            "pids": {"limit": 64},
        });
    });
    let root = s.0.join("state");
    let out = create(&root, &["--bundle", b.to_str().unwrap(), "r1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mon = state(&root, "r1")["pid"].as_i64().unwrap() as i32;
    let cg = std::fs::read_to_string(format!("/proc/{mon}/cgroup")).unwrap();
    let Some(mem_line) = cg
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
    else {
        panic!("no memory cgroup line in {cg}");
    };
    assert!(
        mem_line.ends_with(&path),
        "the monitor is not in {path}: {cg}"
    );
    let mem_dir = if mem_line.starts_with("0::") {
        PathBuf::from(format!("/sys/fs/cgroup{path}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/memory{path}"))
    };
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(mem_dir.join(f)).ok())
        .unwrap();
    // The container's limit plus husk's room (128 MiB at this size).
    assert_eq!(limit.trim(), (384u64 << 20).to_string());
    assert!(husk(&root, &["start", "r1"]).status.success());

    // Every process of the sandbox is in the cgroup; ps lists them.
    let ps = husk(&root, &["ps", "--format", "json", "r1"]);
    assert!(ps.status.success(), "{}", stderr(&ps));
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&mon), "{pids:?}");
    let sandbox = children(mon)
        .into_iter()
        .find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.contains("boot"))
        })
        .expect("the sandbox");
    assert!(pids.contains(&sandbox), "{pids:?}");
    std::thread::sleep(Duration::from_millis(300));
    let ps = husk(&root, &["ps", "--format", "json", "r1"]);
    let now: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    let busy = *now
        .iter()
        .filter(|&&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.starts_with("task"))
        })
        .max_by_key(|&&p| cpu_ticks(p))
        .expect("the busy loop's stub");
    let table = husk(&root, &["ps", "r1"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.starts_with("UID") && table.contains("[task]"),
        "{table}"
    );

    // The cpuset is what nproc sees; the memory limit is MemTotal.
    assert_eq!(
        exec_sh(&root, "r1", "nproc; grep MemTotal /proc/meminfo"),
        "1\nMemTotal:         262144 kB\n"
    );

    // pause stops the busy loop dead; resume lets it go on.
    assert!(husk(&root, &["pause", "r1"]).status.success());
    assert_eq!(state(&root, "r1")["status"], "paused");
    std::thread::sleep(Duration::from_millis(100));
    let t0 = cpu_ticks(busy);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cpu_ticks(busy), t0, "a paused container ran");
    let e = husk(&root, &["exec", "r1", "true"]);
    assert!(stderr(&e).contains("paused"), "{}", stderr(&e));
    assert!(!husk(&root, &["pause", "r1"]).status.success());
    assert!(husk(&root, &["resume", "r1"]).status.success());
    assert_eq!(state(&root, "r1")["status"], "running");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        cpu_ticks(busy) > t0,
        "a resumed container did not run: {t0} {} {:?}",
        cpu_ticks(busy),
        std::fs::read_to_string(format!("/proc/{busy}/stat"))
    );
    // Again and again: every freeze interrupts the sentry's waits (a
    // terminal's relay polls with a timeout, which the kernel restarts
    // with restart_syscall).
    let sock = s.0.join("res.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut tty = Command::new(find_or_build_husk().unwrap())
        .arg("--root")
        .arg(&root)
        .args(["exec", "--tty", "--detach", "--console-socket"])
        .arg(&sock)
        .args(["r1", "sleep", "100"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let master = console_master(&l);
    assert!(tty.wait().unwrap().success());
    for i in 0..20 {
        assert!(husk(&root, &["pause", "r1"]).status.success(), "pause {i}");
        assert!(
            husk(&root, &["resume", "r1"]).status.success(),
            "resume {i}"
        );
        assert_eq!(state(&root, "r1")["status"], "running", "after {i} pauses");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(state(&root, "r1")["status"], "running", "after the pauses");
    drop(master);

    // update: the host limit, the sentry's size and its task limit.
    let up = husk(
        &root,
        &["update", "--memory", "512m", "--pids-limit", "6", "r1"],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(mem_dir.join(f)).ok())
        .unwrap();
    assert_eq!(limit.trim(), (640u64 << 20).to_string());
    let ex = husk(
        &root,
        &[
            "exec",
            "r1",
            "sh",
            "-c",
            "grep MemTotal /proc/meminfo; for i in 1 2 3 4; do sleep 1 & done; wait",
        ],
    );
    assert!(
        String::from_utf8_lossy(&ex.stdout).contains("524288 kB"),
        "{ex:?}"
    );
    assert!(
        stderr(&ex).contains("can't fork"),
        "the pids limit did not hold: {ex:?}"
    );
    for bad in [
        &["update", "--blkio-weight", "10", "r1"][..],
        &["update", "--memory", "12x", "r1"],
    ] {
        let o = husk(&root, bad);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        assert!(stderr(&o).contains("--"), "{}", stderr(&o));
    }

    // Statistics: the cgroup's CPU time (the loop's) and memory limit.
    let ev = husk(&root, &["events", "--stats", "r1"]);
    let ev: serde_json::Value = serde_json::from_slice(&ev.stdout)
        .unwrap_or_else(|e| panic!("events: {e}: {}", stderr(&ev)));
    assert_eq!(ev["type"], "stats");
    assert!(
        ev["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{ev}"
    );
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 640u64 << 20);

    // A paused container still dies by KILL; delete takes the cgroup.
    assert!(husk(&root, &["pause", "r1"]).status.success());
    assert!(husk(&root, &["kill", "r1", "KILL"]).status.success());
    assert_eq!(wait_pid(mon, Duration::from_secs(10)), Some(137));
    assert!(gone(busy));
    assert!(husk(&root, &["delete", "r1"]).status.success());
    assert!(!mem_dir.exists(), "the cgroup is left");
    for d in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_dir(d.path().join(format!("husk-test-{}", std::process::id())));
    }
    let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/husk-test-{}", std::process::id()));
}

/// A stand-in for an engine's resolver at 127.0.0.11:53 (Docker's): every
/// name is 10.1.2.3 (A), and has no AAAA.
const RESPONDER: &str = "'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((\"127.0.0.11\", 53))
while True:
    d, a = s.recvfrom(512)
    head = d[:2] + b\"\\x81\\x80\" + d[4:6]
    if d[-4:-2] == b\"\\x00\\x01\":
        ans = b\"\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04\\x0a\\x01\\x02\\x03\"
        s.sendto(head + b\"\\x00\\x01\\x00\\x00\\x00\\x00\" + d[12:] + ans, a)
    else:
        s.sendto(head + b\"\\x00\\x00\\x00\\x00\\x00\\x00\" + d[12:], a)
'";

/// The network an engine gives a container is the sandbox's: a hook
/// (as Docker's libnetwork or a CNI plugin does) moves one end of a veth
/// pair into the container's namespace and configures it; at start the
/// sandbox's netstack takes it over. Judged from the host: a host
/// listener hears the container connect from its address (after an
/// answer from the engine's resolver at 127.0.0.11 in the container's
/// namespace, through the sandbox's relay), the host
/// reaches the container's server at that address, the namespace's
/// kernel no longer holds the address, and the pair goes with the
/// container.
#[test]
fn the_engines_interface_is_taken_over() {
    subreaper();
    let s = Scratch::new("netover");
    let n = std::process::id() % 250 + 1;
    let (host_if, peer) = (format!("hko{n}h"), format!("hko{n}c"));
    let (host_ip, ct_ip) = (format!("10.214.{n}.1"), format!("10.214.{n}.2"));
    let port = 20000 + (std::process::id() % 10000) as u16;
    let _ = Command::new("ip").args(["link", "del", &host_if]).status();
    let hook = format!(
        "pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p') && \
         ip link add {host_if} type veth peer name {peer} && ip link set {peer} netns $pid && \
         ip addr add {host_ip}/30 dev {host_if} && ip link set {host_if} up && \
         nsenter --net=/proc/$pid/ns/net sh -c 'ip link set {peer} name eth0 && \
         ip addr add {ct_ip}/30 dev eth0 && ip link set eth0 up && ip route add default via {host_ip} && \
         ip link set lo up' && \
         (nsenter --net=/proc/$pid/ns/net python3 -c {responder} </dev/null >/dev/null 2>&1 & echo $! > {pidfile})",
        responder = RESPONDER,
        pidfile = s.0.join("resolver.pid").display(),
    );
    let script = format!(
        "mkdir -p /www && echo served > /www/index.html && busybox httpd -p 80 -h /www && \
         (busybox nslookup engine.test | grep -q 'Address: 10.1.2.3' && printf DNSOK; \
          printf 'GET /x HTTP/1.0\\r\\n\\r\\n') | \
         busybox nc {host_ip} {port}; sleep 30"
    );
    let b = bundle(&s.0, move |c| {
        c["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        c["hooks"] =
            serde_json::json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}]});
    });
    // The engine's resolver is named in resolv.conf, as Docker writes it.
    std::fs::write(b.join("rootfs/etc/resolv.conf"), "nameserver 127.0.0.11\n").unwrap();
    struct Kill(PathBuf);
    impl Drop for Kill {
        fn drop(&mut self) {
            let pid = std::fs::read_to_string(&self.0).ok();
            if let Some(p) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
                // SAFETY: kill with plain arguments.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
    let resolver = Kill(s.0.join("resolver.pid"));
    let root = s.0.join("state");
    let out = create(&root, &["--bundle", b.to_str().unwrap(), "n1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mon = state(&root, "n1")["pid"].as_i64().unwrap();
    let listener = std::net::TcpListener::bind((host_ip.as_str(), port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert!(husk(&root, &["start", "n1"]).status.success());
    // The container connects out, from its own address.
    let t = Instant::now();
    let (mut conn, from) = loop {
        match listener.accept() {
            Ok(c) => break c,
            Err(_) if t.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("the container never connected: {e}"),
        }
    };
    assert_eq!(from.ip().to_string(), ct_ip);
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The engine's resolver answered through the relay, then the request.
    let mut req = [0u8; 11];
    std::io::Read::read_exact(&mut conn, &mut req).unwrap();
    assert_eq!(&req, b"DNSOKGET /x", "{}", String::from_utf8_lossy(&req));
    drop(conn);
    // The host reaches the container's server.
    let t = Instant::now();
    let page = loop {
        let got = std::net::TcpStream::connect_timeout(
            &format!("{ct_ip}:80").parse().unwrap(),
            Duration::from_secs(2),
        )
        .and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            std::io::Write::write_all(&mut c, b"GET /index.html HTTP/1.0\r\n\r\n")?;
            let mut v = String::new();
            std::io::Read::read_to_string(&mut c, &mut v)?;
            Ok(v)
        });
        match got {
            Ok(v) if v.contains("served") => break v,
            _ if t.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => panic!("the container's server: {other:?}"),
        }
    };
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    // The namespace's kernel has given the address up.
    let inside = Command::new("nsenter")
        .arg(format!("--net=/proc/{mon}/ns/net"))
        .args(["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        .output()
        .unwrap();
    assert!(inside.status.success(), "{inside:?}");
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout),
        "",
        "the kernel kept the address"
    );
    assert!(husk(&root, &["delete", "--force", "n1"]).status.success());
    drop(resolver);
    let t = Instant::now();
    while Command::new("ip")
        .args(["link", "show", &host_if])
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the veth outlived the container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn in_container_hooks_and_preserved_fds() {
    subreaper();
    let s = Scratch::new("inhooks");
    let cc = s.0.join("create-container");
    let create_hook = format!(
        "{{ cat; echo; readlink /proc/self/ns/net; }} > {0}",
        cc.display()
    );
    // startContainer runs inside: its files land in the container's /tmp.
    let b = bundle(&s.0, |c| {
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /tmp/sc; read l <&3; echo \"got $l\"; echo passed >&4"
        ]);
        c["hooks"] = serde_json::json!({
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", create_hook]}],
            "startContainer": [{
                "path": "/bin/busybox",
                "args": ["sh", "-c", "{ cat; echo; id -u; echo \"$X $0\"; } > /tmp/sc"],
                "env": ["X=one"]
            }]
        });
    });
    let root = s.0.join("state");
    let (input, output, log) = (s.0.join("in"), s.0.join("passed"), s.0.join("log"));
    std::fs::write(&input, "line\n").unwrap();
    let h = find_or_build_husk().unwrap();
    let passed = [
        std::fs::File::open(&input).unwrap(),
        std::fs::File::create(&output).unwrap(),
    ];
    let raw: Vec<i32> = passed.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    let mut cmd = Command::new(&h);
    cmd.arg("--root")
        .arg(&root)
        .args(["create", "--preserve-fds", "2", "--bundle"])
        .arg(&b)
        .arg("h1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(s.0.join("err")).unwrap());
    // SAFETY: fcntl and dup2 between fork and exec: the files move out
    // of the way first, then onto fds 3 and 4 (without CLOEXEC).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            let high: Vec<i32> = raw
                .iter()
                .map(|&fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100))
                .collect();
            for (i, &fd) in high.iter().enumerate() {
                if fd < 0 || libc::dup2(fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
    let st = cmd.status().unwrap();
    assert!(
        st.success(),
        "{}",
        std::fs::read_to_string(s.0.join("err")).unwrap()
    );
    drop(passed);
    // createContainer ran on the host at create, given the state, in the
    // container's network namespace (its monitor's).
    let pid = state(&root, "h1")["pid"].as_i64().unwrap();
    let got = std::fs::read_to_string(&cc).unwrap();
    let (json, ns) = got.split_once('\n').unwrap();
    let hs: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        (hs["id"].as_str(), hs["pid"].as_i64()),
        (Some("h1"), Some(pid))
    );
    assert_eq!(
        ns.trim(),
        std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert!(
        !b.join("rootfs/tmp/sc").exists(),
        "startContainer ran early"
    );
    assert!(husk(&root, &["start", "h1"]).status.success());
    assert_eq!(wait_pid(pid as i32, Duration::from_secs(20)), Some(0));
    // startContainer ran inside, as the container's process, with the
    // state ("created", the container's pid), its env and its argv[0].
    let out = std::fs::read_to_string(&log).unwrap();
    let (json, rest) = out.split_once('\n').unwrap();
    let hs: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(hs["status"], "created");
    assert_eq!(hs["pid"].as_i64(), Some(pid));
    assert_eq!(rest, "0\none sh\ngot line\n");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "passed\n");
    assert!(husk(&root, &["delete", "h1"]).status.success());

    // A failing or late startContainer hook fails start, says why, and
    // the process never runs.
    for (i, (hook, why)) in [
        (
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo bad >&2; exit 3"]}),
            "exit status 3: bad",
        ),
        (
            serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}),
            "timed out",
        ),
        (serde_json::json!({"path": "/nonesuch"}), "No such file"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = Scratch::new(&format!("inhooks{i}"));
        let b = bundle(&t.0, |c| {
            c["process"]["args"] = serde_json::json!(["sh", "-c", "echo ran > /ran"]);
            c["hooks"] = serde_json::json!({ "startContainer": [hook] });
        });
        let root = t.0.join("state");
        let out = create(&root, &["--bundle", b.to_str().unwrap(), "h2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let pid = state(&root, "h2")["pid"].as_i64().unwrap() as i32;
        let o = husk(&root, &["start", "h2"]);
        assert_eq!(o.status.code(), Some(1), "{why}");
        let e = stderr(&o);
        assert!(
            e.contains("hooks.startContainer[0]") && e.contains(why),
            "{why}: {e}"
        );
        assert!(wait_pid(pid, Duration::from_secs(10)).is_some());
        assert_eq!(state(&root, "h2")["status"], "stopped");
        assert!(!b.join("rootfs/ran").exists(), "{why}: the process ran");
        assert!(husk(&root, &["delete", "h2"]).status.success());
    }

    // Fds that are not open are refused, leaving nothing.
    let bad = create(
        &root,
        &[
            "--preserve-fds",
            "90",
            "--bundle",
            b.to_str().unwrap(),
            "h3",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--preserve-fds 90"),
        "{}",
        stderr(&bad)
    );
    assert!(!root.join("h3").exists());
}
