//! `husk do` on a terminal: an interactive bash driven through a host pty
//! gets a console of the sandbox's own (prompt, `stty size` and `tty`
//! from it, ^C interrupting a foreground `sleep 100`, ^Z and `fg`, window
//! size changes) and the host terminal's settings come back afterwards.
//! Off a terminal, stdio redirected to files keeps their names.

use husk_tests::find_or_build_husk;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn set_winsize(fd: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from our struct.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads the terminal until `want` appears; returns what came before it.
/// What came after it stays in `carry` for the next call (a prompt may
/// arrive in the same read as the answer before it).
fn expect(
    master: &mut std::fs::File,
    want: &str,
    secs: u64,
    carry: &mut Vec<u8>,
) -> Result<String, String> {
    let mut seen = std::mem::take(carry);
    if let Some(i) = find(&seen, want.as_bytes()) {
        *carry = seen[i + want.len()..].to_vec();
        return Ok(String::from_utf8_lossy(&seen[..i]).replace('\r', ""));
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if let Some(i) = find(&seen, want.as_bytes()) {
            *carry = seen[i + want.len()..].to_vec();
            return Ok(String::from_utf8_lossy(&seen[..i]).replace('\r', ""));
        }
    }
    Err(String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn interactive_bash_on_a_terminal() {
    let husk = find_or_build_husk().expect("husk binary");
    let (mut mfd, mut sfd) = (0, 0);
    // SAFETY: openpty fills two fds; no name, termios or winsize given.
    let r = unsafe {
        libc::openpty(
            &mut mfd,
            &mut sfd,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both fds were just returned to us.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(mfd), OwnedFd::from_raw_fd(sfd)) };
    set_winsize(&master, 31, 97);
    // SAFETY: tcgetattr into a termios we own.
    let before = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(slave.as_raw_fd(), &mut t);
        t.c_lflag
    };
    let mut cmd = Command::new(&husk);
    cmd.args(["do", "--", "/bin/bash", "--norc", "--noprofile", "-i"])
        .env_clear()
        .envs([
            ("PS1", "PROMPT> "),
            ("TERM", "dumb"),
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/"),
        ])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: async-signal-safe calls only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("starting husk");
    let mut m = std::fs::File::from(master.try_clone().unwrap());
    let mut carry = Vec::new();
    let mut step = |m: &mut std::fs::File, send: &[u8], want: &str| -> String {
        m.write_all(send).unwrap();
        match expect(m, want, 15, &mut carry) {
            Ok(s) => s,
            Err(seen) => panic!("waiting for {want:?} after {send:?}; saw {seen:?}"),
        }
    };
    step(&mut m, b"", "PROMPT> ");
    let out = step(&mut m, b"stty size; tty\n", "PROMPT> ");
    assert!(
        out.contains("\n31 97\n") && out.contains("/dev/pts/0"),
        "{out:?}"
    );
    m.write_all(b"sleep 100; echo after $?\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    let out = step(&mut m, b"\x03", "PROMPT> ");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "^C took {:?}",
        t0.elapsed()
    );
    assert!(out.contains("^C") && !out.contains("after 1"), "{out:?}");
    m.write_all(b"sleep 100\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let out = step(&mut m, b"\x1a", "PROMPT> ");
    assert!(out.contains("Stopped"), "{out:?}");
    m.write_all(b"fg\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    step(&mut m, b"\x03", "PROMPT> ");
    set_winsize(&master, 40, 120);
    std::thread::sleep(Duration::from_millis(600));
    // The resize makes readline redraw; the answer is what matters.
    step(&mut m, b"echo size $(stty size)\n", "size 40 120");
    step(&mut m, b"", "PROMPT> ");
    m.write_all(b"exit 3\n").unwrap();
    let status = child.wait().expect("waiting for husk");
    assert_eq!(status.code(), Some(3));
    // SAFETY: tcgetattr into a termios we own.
    let after = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(slave.as_raw_fd(), &mut t);
        t.c_lflag
    };
    assert_eq!(before, after, "the host terminal's settings came back");
}

#[test]
fn stdio_redirected_to_files_keeps_their_names() {
    let husk = find_or_build_husk().expect("husk binary");
    let dir = std::env::temp_dir().join(format!("husk-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, out) = (dir.join("in"), dir.join("out"));
    std::fs::write(&inp, "x").unwrap();
    let status = Command::new(&husk)
        .args(["do", "--", "readlink", "/proc/self/fd/0", "/proc/self/fd/1"])
        .stdin(std::fs::File::open(&inp).unwrap())
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .expect("running husk");
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text, format!("{}\n{}\n", inp.display(), out.display()));
}
