//! `--network sandbox`: traffic across the veth pair between the
//! sandbox's netstack and the host, both ways. Every verdict that matters
//! is the host's: what its own sockets received and from where, and that
//! the pair is gone once the sandbox is.

use husk_tests::{crate_dir, find_or_build_husk, minimal_env, run, RunSpec};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn script(name: &str) -> OsString {
    crate_dir().join("net").join(name).into_os_string()
}

/// The host's count of ICMP echo requests received (/proc/net/snmp).
fn host_icmp_in_echos() -> u64 {
    let t = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let rows: Vec<Vec<&str>> = t
        .lines()
        .filter(|l| l.starts_with("Icmp:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (Some(names), Some(values)) = (rows.first(), rows.get(1)) else {
        return 0;
    };
    names
        .iter()
        .position(|n| *n == "InEchos")
        .and_then(|i| values.get(i)?.parse().ok())
        .unwrap_or(0)
}

/// `husk do --network sandbox -- python3 tests/net/NAME ARGS...`.
fn python_in_sandbox(husk: std::path::PathBuf, name: &str, args: &[&str]) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        husk.into_os_string(),
        "do".into(),
        "--network".into(),
        "sandbox".into(),
        "--".into(),
        "python3".into(),
        script(name),
    ];
    v.extend(args.iter().map(OsString::from));
    v
}

/// Runs `argv` (a husk command line) for at most `secs`: its stdout
/// and stderr, printed for the test's log.
fn run_printed(argv: &[OsString], secs: u64) -> (String, String) {
    let r = run(&RunSpec {
        argv,
        env: &minimal_env(),
        cwd: Path::new("/"),
        timeout: Duration::from_secs(secs),
    })
    .expect("running husk");
    let out = String::from_utf8_lossy(&r.stdout).into_owned();
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    println!("{out}\n{err}");
    (out, err)
}

/// Whether the host's veth end into the /30 of `sandbox` is still there
/// 10 s after the sandbox: a namespace is taken down in the background.
fn veth_outlives(sandbox: Ipv4Addr) -> bool {
    let t = std::time::Instant::now();
    while host_routes_to(sandbox) {
        if t.elapsed() > Duration::from_secs(10) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether the host has a route into the /30 of `sandbox` (its veth end).
fn host_routes_to(sandbox: Ipv4Addr) -> bool {
    let net = Ipv4Addr::from(u32::from(sandbox) & !3);
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    // Destinations are hex of the address's bytes read as a native u32.
    routes.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 7
            && u32::from_str_radix(f[1], 16).map(|d| Ipv4Addr::from(d.to_ne_bytes())) == Ok(net)
    })
}

#[test]
fn the_sandbox_reaches_host_servers() {
    let husk = find_or_build_husk().expect("husk binary");
    let tcp = TcpListener::bind("0.0.0.0:0").unwrap();
    let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // A port with no listener: bound and closed again.
    let closed = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = format!("tok{}", std::process::id());
    let (tcp_port, udp_port) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );

    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let (mut c, peer) = tcp.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        let n = got.len();
        c.write_all(format!("host got {n}").as_bytes()).unwrap();
        drop(c);
        // The non-blocking connect's.
        let _ = tcp.accept();
        let mut b = [0u8; 100];
        let (m, from) = udp.recv_from(&mut b).unwrap();
        udp.send_to(&b[..m], from).unwrap();
        // The lingering close: a reset after its bytes.
        let (mut l, _) = tcp.accept().unwrap();
        l.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut rest = Vec::new();
        let reset = l.read_to_end(&mut rest).err().map(|e| e.kind());
        tx.send((peer, got, from, b[..m].to_vec(), reset)).unwrap();
    });

    let argv = python_in_sandbox(
        husk,
        "sandbox_client.py",
        &[
            &tcp_port.to_string(),
            &udp_port.to_string(),
            &closed.to_string(),
            &token,
        ],
    );
    let echoes = host_icmp_in_echos();
    let (out, err) = run_printed(&argv, 120);
    let (peer, got, udp_from, udp_data, reset) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the host's servers were not reached");
    t.join().unwrap();
    // The host's view: the sandbox's address on the veth, every byte.
    let SocketAddr::V4(p) = peer else {
        panic!("peer {peer}")
    };
    assert_eq!(p.ip().octets()[..2], [10, 213], "peer {peer}");
    let want = (token.repeat((3 << 20) / token.len() + 1).into_bytes())[..3 << 20].to_vec();
    assert!(
        got == want,
        "the stream arrived changed ({} bytes)",
        got.len()
    );
    assert_eq!(udp_from.ip(), peer.ip());
    assert_eq!(udp_data, token.as_bytes());
    assert_eq!(reset, Some(std::io::ErrorKind::ConnectionReset));
    // The host's kernel answered an echo request.
    assert!(
        host_icmp_in_echos() > echoes,
        "no echo request reached the host"
    );
    // The sandbox's view.
    for line in [
        "gateway found True".to_string(),
        format!("tcp reply host got {}", 3 << 20),
        "nonblocking connect EINPROGRESS".into(),
        "SO_ERROR 0".into(),
        "closed port ECONNREFUSED".into(),
        format!("udp reply {token} True"),
        "linger closed".into(),
        "echo reply True True".into(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}\n{err}");
    }
    assert!(!veth_outlives(*p.ip()), "the veth outlived the sandbox");
}

#[test]
fn host_clients_reach_a_sandbox_server() {
    let husk = find_or_build_husk().expect("husk binary");
    let mut child = Command::new(&husk)
        .args(["do", "--network", "sandbox", "--", "python3"])
        .arg(script("sandbox_server.py"))
        .env_clear()
        .envs(minimal_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting husk");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.by_ref().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(60));
    let Ok(ready) = ready else {
        let _ = child.kill();
        let mut e = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut e);
        panic!("the server did not start: {e}");
    };
    let addr: Ipv4Addr = ready
        .strip_prefix("ready ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{ready}"));
    assert!(host_routes_to(addr), "no host route to {addr}");
    // A port nobody listens on in the sandbox: its stack resets.
    let refused = TcpStream::connect_timeout(&(addr, 9).into(), Duration::from_secs(10));
    assert_eq!(
        refused.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    let mut c = TcpStream::connect_timeout(&(addr, 8080).into(), Duration::from_secs(10))
        .expect("connecting to the sandbox's server");
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let data = vec![7u8; 2 << 20];
    c.write_all(&data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    let me = c.local_addr().unwrap().ip();
    assert_eq!(
        reply,
        format!("sandbox got {} bytes from ::ffff:{me}", 2 << 20)
    );
    let u = UdpSocket::bind("0.0.0.0:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    u.send_to(b"ping", (addr, 8081)).unwrap();
    let mut b = [0u8; 64];
    let (n, from) = u.recv_from(&mut b).expect("the sandbox's UDP echo");
    assert_eq!(&b[..n], b"echo:ping");
    assert_eq!(from, SocketAddr::from((addr, 8081)));
    let served = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    assert_eq!(served, format!("served {}", 2 << 20));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!veth_outlives(addr), "the veth outlived the sandbox");
}

/// A stress loop: 8 threads in the sandbox each open, use and close
/// connections to a host echo server, 1,600 in all, while the stack thread
/// and the callers share the stack. Every byte must come back, and the
/// sandbox must end (no lost wake-up, no deadlock between the stack's
/// callbacks and the sockets' locks).
#[test]
fn many_connections_at_once_across_the_veth() {
    let husk = find_or_build_husk().expect("husk binary");
    let echo = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in echo.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut c = c;
                let mut b = [0u8; 65536];
                loop {
                    match c.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if c.write_all(&b[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    let argv = python_in_sandbox(husk, "sandbox_stress.py", &[&port.to_string(), "200"]);
    let (out, err) = run_printed(&argv, 240);
    assert!(out.contains("bad [] 0"), "{out}\n{err}");
    assert!(out.contains("done 1600"), "{out}\n{err}");
}

/// The uid owning the host's TCP socket listening on 127.0.0.1:`port`
/// (/proc/net/tcp), if there is one.
fn host_listener_uid(port: u16) -> Option<u32> {
    let t = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    t.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // local_address, state 0A (listen), uid.
        (f.len() > 7 && f[1] == local && f[3] == "0A").then(|| f[7].parse().ok())?
    })
}

/// `--network host`: the sandbox's sockets are host sockets, held by the
/// sandbox's unprivileged id. Checked from the host: its server hears
/// the sandbox from 127.0.0.1, its client reaches the sandbox's server,
/// whose socket the host's table shows owned by nobody; raw and packet
/// sockets, privileged options and ports stay out of reach, and the
/// host's routes are unchanged.
#[test]
fn host_network_sockets_are_host_sockets_of_nobody() {
    let husk = find_or_build_husk().expect("husk binary");
    // The other tests' veth ends come and go meanwhile: not compared.
    let routes = || {
        let t = std::fs::read_to_string("/proc/net/route").unwrap();
        t.lines()
            .filter(|l| !l.starts_with("husk"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let before = routes();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let token = format!("tok{}", std::process::id());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut c, peer) = server.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        c.write_all(format!("ok {got}").as_bytes()).unwrap();
        tx.send((peer, got)).unwrap();
    });
    let mut child = Command::new(&husk)
        .args(["do", "--network", "host", "--", "python3"])
        .arg(script("host_mode.py"))
        .arg(port.to_string())
        .arg(&token)
        .env_clear()
        .envs(minimal_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting husk");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    let mut owner = None;
    let mut served = String::new();
    for l in lines.by_ref().map_while(Result::ok) {
        if let Some(p) = l.strip_prefix("listening ") {
            let p: u16 = p.parse().unwrap();
            owner = host_listener_uid(p);
            let mut c = TcpStream::connect(("127.0.0.1", p)).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(&[5u8; 100_000]).unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            c.read_to_string(&mut served).unwrap();
        }
        out.push(l);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let out = out.join("\n");
    println!("{out}\n{err}");
    assert!(status.success(), "{status:?}");
    let (peer, got) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_eq!(got, token);
    assert_eq!(served, "sandbox got 100000");
    assert_eq!(owner, Some(65534), "the sandbox's listener on the host");
    for line in [
        format!("host replied ok {token}"),
        "raw tcp socket EPROTONOSUPPORT".into(),
        "packet socket EAFNOSUPPORT".into(),
        "SO_MARK ENOPROTOOPT".into(),
        "SO_BINDTODEVICE ENOPROTOOPT".into(),
        "IP_TRANSPARENT ENOPROTOOPT".into(),
        "port 80 EACCES".into(),
        "route change ENOTSUP".into(),
        "done".into(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}\n{err}");
    }
    assert_eq!(routes(), before);
}
