//! `husk do --overlay=none`: the host root is writable through the gofer.
//! The same script runs natively and under husk in two scratch trees, and
//! the trees it leaves on the host must be identical.

use husk_tests::{find_or_build_husk, minimal_env, run, Outcome, RunSpec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCRIPT: &str = r#"set -e
cd "$1"
mkdir -p d/sub
echo hello > d/f
printf 'abc' >> d/f
ln -s f d/link
ln d/f d/hard
mv d/sub d/moved
chmod 640 d/f
truncate -s 2 d/hard
# After the truncate (which sets mtime to now through the hard link), so
# the time compared is the one touch sets, not the clock's second.
touch -d '2001-02-03 04:05:06' d/f
mkfifo d/fifo
rm d/link
cp -a d e
rm -r e/moved
# Sizes by path follow writes and truncates through open files.
exec 3>>d/grow
printf abc >&3
test "$(stat -c %s d/grow)" = 3
truncate -s 1 d/grow
printf x >&3
test "$(stat -c %s d/grow)" = 2
exec 3>&-
# user.* attributes reach the host file; trusted.* is not the sandbox's
# to set there, and natively root's: not tried.
python3 -c 'import os; os.setxattr("d/f", "user.k", b"v"); assert os.getxattr("d/f", "user.k") == b"v"; assert "user.k" in os.listxattr("d/f"); os.removexattr("d/f", "user.k"); assert "user.k" not in os.listxattr("d/f")'
python3 -c 'import os; os.setxattr("d/f", "user.kept", b"1")'
# sync and syncfs write the host filesystem back (the sandbox may make
# that host call).
sync
sync -f d/f
# Owners past 65535 read back as they are.
chown 100000:100001 d/grow
test "$(stat -c %u:%g d/grow)" = 100000:100001
# Made with no umask: the modes asked for, whatever the caller's umask.
(umask 0; touch open-file; mkdir open-dir; mkfifo open-fifo)
echo done
"#;

/// The names of a file's extended attributes (not following a symlink).
fn xattr_names(p: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: llistxattr writes at most buf.len() bytes into our buffer.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).unwrap_or(0);
    let mut names: Vec<String> = buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    names.sort();
    names
}

/// Name, type, size, mode, link count, (for regular files) contents and
/// extended attributes of every entry under `root`, sorted.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::MetadataExt;
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let data = if md.is_file() {
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
            } else {
                String::new()
            };
            let mtime = if rel == "d/f" { md.mtime() } else { 0 };
            out.push(format!(
                "{rel} {:o} {} {} {mtime} {data:?} {:?}",
                md.mode(),
                md.len(),
                md.nlink(),
                xattr_names(&p)
            ));
            if md.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn scratch(tag: &str) -> PathBuf {
    husk_tests::host_scratch(&format!("writable-{tag}"))
}

#[test]
fn overlay_none_changes_the_host_like_native() {
    let husk = find_or_build_husk().expect("husk binary");
    let env = minimal_env();
    let mut trees = Vec::new();
    // Natively, then under husk with the direct path and through the gofer.
    for (under_husk, directfs) in [(false, true), (true, true), (true, false)] {
        let dir = scratch(if under_husk { "husk" } else { "native" });
        let mut argv: Vec<OsString> = Vec::new();
        if under_husk {
            argv.extend([
                husk.clone().into_os_string(),
                "do".into(),
                "--overlay=none".into(),
                format!("--directfs={directfs}").into(),
                "--".into(),
            ]);
        }
        argv.extend([
            "/bin/sh".into(),
            "-c".into(),
            SCRIPT.into(),
            "sh".into(),
            dir.clone().into_os_string(),
        ]);
        let r = run(&RunSpec {
            argv: &argv,
            env: &env,
            cwd: Path::new("/"),
            timeout: Duration::from_secs(60),
        })
        .expect("running the script");
        assert_eq!(
            (r.outcome, String::from_utf8_lossy(&r.stdout).into_owned()),
            (Outcome::Exited(0), "done\n".to_string()),
            "under husk: {under_husk}; stderr: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        trees.push(describe(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
    assert!(trees[0].len() >= 8, "{:?}", trees[0]);
}

/// A file the sandbox opens with O_SYNC on a writable root is open so on
/// the host too, so its writes are durable: checked from the host, in
/// the fdinfo of whichever husk process holds it.
#[test]
fn o_sync_reaches_the_host_file() {
    let husk = find_or_build_husk().expect("husk binary");
    let dir = scratch("osync");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("log");
    let script = format!(
        "import os, time\nfd = os.open({:?}, os.O_CREAT | os.O_WRONLY | os.O_SYNC, 0o644)\nos.write(fd, b'x')\ntime.sleep(3)\n",
        file.display().to_string()
    );
    let mut child = std::process::Command::new(&husk)
        .args(["do", "--overlay=none", "--", "python3", "-c", &script])
        .spawn()
        .expect("running husk");
    let mut flags = Vec::new();
    let t = std::time::Instant::now();
    while flags.is_empty() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).ok().as_deref() != Some(file.as_path()) {
                    continue;
                }
                let info = p.path().join("fdinfo").join(fd.file_name());
                let text = std::fs::read_to_string(info).unwrap_or_default();
                if let Some(f) = text.lines().find_map(|l| l.strip_prefix("flags:")) {
                    flags.push(u32::from_str_radix(f.trim(), 8).unwrap());
                }
            }
        }
    }
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!flags.is_empty(), "no host fd of the file was seen");
    let o_sync = libc::O_SYNC as u32;
    assert!(
        flags.iter().all(|f| f & o_sync == o_sync),
        "flags {flags:?}"
    );
}
