//! POSIX ACLs of host files (served by the gofer): they decide access
//! inside the sandbox as on the host, show in getfacl and ls, are
//! inherited from a host directory's default ACL, survive copy-up, and
//! on a writable root (`--overlay=none`) changes reach the host file.
//! Files opened without a permission check (O_PATH) are checked with
//! their ACLs when used (fchdir, fexecve).
//! Each run gets a fresh tree made natively with setfacl; the script's
//! output, and what it leaves on the host, are compared with a native run.

use husk_tests::{find_or_build_husk, minimal_env, run, Outcome, RunSpec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Made natively before each run: a file a named user may not read
/// though its mode lets everyone, one a named user and a named group may
/// read beyond the mode, a directory with a named entry and a default
/// ACL, and a file inside it.
const SETUP: &str = r#"set -e
cd "$1"
mkdir dd
echo inner > dd/inner
chmod 600 dd/inner
setfacl -m u:1002:r dd/inner
setfacl -m u:1001:--x dd
setfacl -d -m u:1000:rwx,g:1003:r-x dd
echo secret > deny
chmod 644 deny
setfacl -m u:1000:--- deny
echo shared > grant
chmod 640 grant
setfacl -m u:1000:r,g:1001:rw grant
cp /bin/true prog
chmod 755 prog
setfacl -m u:1000:--- prog
mkdir nox
setfacl -m u:1000:--- nox
mkfifo pipe
setfacl -m u:1000:rw pipe
"#;

const SCRIPT: &str = r#"cd "$1"
as() { u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@" >/dev/null 2>&1; echo "$u $* = $?"; }
for u in 1000 1001 1002 1003; do
  as $u cat deny
  as $u cat grant
  as $u sh -c 'echo more >> grant'
  as $u ls dd
  as $u cat dd/inner
  # An fd opened O_PATH (no permission asked) is checked when used.
  as $u python3 -c 'import os; os.fchdir(os.open("nox", os.O_PATH))'
  as $u python3 -c 'import os; os.execve(os.open("prog", os.O_PATH), ["x"], {})'
done
ls -l | cut -c1-11
getfacl -n --omit-header deny grant dd dd/inner
# Under the directory's default ACL: no umask, the ACL's entries.
umask 022
touch dd/new
mkdir dd/sub
stat -c '%n %a' dd/new dd/sub
getfacl -n --omit-header dd/new dd/sub
# Changes: chmod moves the mask, setfacl adds and strips entries.
chmod 600 grant
getfacl -n --omit-header grant
as 1000 cat grant
setfacl -m u:1002:r deny
getfacl -n --omit-header deny
setfacl -b dd
getfacl -n --omit-header dd
setfacl -k dd/sub
getfacl -n --omit-header dd/sub
# A FIFO has ACLs too.
getfacl -n --omit-header pipe
setfacl -m u:1001:r pipe
getfacl -n --omit-header pipe
echo done
"#;

fn scratch(tag: &str) -> PathBuf {
    husk_tests::host_scratch(&format!("hostacl-{tag}"))
}

fn sh(argv: &[OsString]) -> (Outcome, String, String) {
    let r = run(&RunSpec {
        argv,
        env: &minimal_env(),
        cwd: Path::new("/"),
        timeout: Duration::from_secs(90),
    })
    .expect("running a script");
    (
        r.outcome,
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    )
}

fn script(text: &str, dir: &Path) -> Vec<OsString> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        text.into(),
        "sh".into(),
        dir.into(),
    ]
}

/// Every ACL under `dir`, as the host's getfacl reads them.
fn host_acls(dir: &Path) -> String {
    let (o, out, err) = sh(&script("cd \"$1\" && getfacl -R -n -p .", dir));
    assert_eq!(o, Outcome::Exited(0), "{err}");
    out
}

#[test]
fn host_acls_work_inside_as_on_the_host() {
    let husk = find_or_build_husk().expect("husk binary");
    if !Path::new("/usr/bin/setfacl").exists() {
        panic!("setfacl is missing: the test command installs the acl package");
    }
    let mut native = None;
    // Natively; then under husk with the overlay and with a writable root,
    // each with the direct path and through the gofer.
    for (overlay, directfs) in [
        ("native", true),
        ("memory", true),
        ("memory", false),
        ("none", true),
        ("none", false),
    ] {
        let dir = scratch(&format!("{overlay}-{directfs}"));
        let (o, _, err) = sh(&script(SETUP, &dir));
        assert_eq!(o, Outcome::Exited(0), "setup: {err}");
        let before = host_acls(&dir);
        let mut argv: Vec<OsString> = Vec::new();
        if overlay != "native" {
            argv.extend([
                husk.clone().into_os_string(),
                format!("--overlay={overlay}").into(),
                format!("--directfs={directfs}").into(),
                "do".into(),
                "--".into(),
            ]);
        }
        argv.extend(script(SCRIPT, &dir));
        let (o, out, err) = sh(&argv);
        let after = host_acls(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(o, Outcome::Exited(0), "{overlay} {directfs}: {err}");
        assert!(out.ends_with("done\n"), "{overlay} {directfs}: {out}{err}");
        let Some((want, want_after)) = &native else {
            // The script must see the ACLs at work natively, or it tests
            // nothing: a named user refused what the mode allows.
            assert!(out.contains("1000 cat deny = 1"), "{out}");
            assert!(out.contains("1000 cat grant = 0"), "{out}");
            native = Some((out, after));
            continue;
        };
        assert_eq!(&out, want, "{overlay} directfs={directfs}: stdout");
        if overlay == "memory" {
            // Everything happened in the sandbox's own layer.
            assert_eq!(after, before, "the overlay changed host ACLs");
        } else {
            assert_eq!(&after, want_after, "{overlay} directfs={directfs}: host");
        }
    }
}
