//! /sys: the few files programs commonly read (CPU lists and topology,
//! transparent huge page settings, the network interfaces of the
//! reader's namespace) and the usual top-level directories, made up by
//! the sentry. The host's sysfs is never shown.

use super::file::FileOps;
use super::synth::{stat_of, SynthDir, SynthFile};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use std::collections::BTreeMap;

const DEV: u64 = 0x17;

/// Host values shown as they are (read before the sandbox loses the host's
/// paths), by path inside /sys.
static HOST: std::sync::OnceLock<Vec<(&'static str, Vec<u8>)>> = std::sync::OnceLock::new();

const FROM_HOST: &[(&str, &str)] = &[
    ("devices/system/cpu/kernel_max", "8191\n"),
    (
        "kernel/mm/transparent_hugepage/enabled",
        "always [madvise] never\n",
    ),
    (
        "kernel/mm/transparent_hugepage/defrag",
        "always defer defer+madvise [madvise] never\n",
    ),
    ("kernel/mm/transparent_hugepage/hpage_pmd_size", "2097152\n"),
];

/// The host's CPU cache descriptions (`cpuN/cache/indexM/FILE`, inside
/// devices/system/cpu), which lscpu reads: facts about the hardware.
static HOST_CACHES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();

const CACHE_FILES: &[&str] = &[
    "coherency_line_size",
    "id",
    "level",
    "number_of_sets",
    "physical_line_partition",
    "shared_cpu_list",
    "shared_cpu_map",
    "size",
    "type",
    "ways_of_associativity",
];

/// The host CPUs' vulnerability reports (devices/system/cpu/
/// vulnerabilities/NAME, which lscpu shows): facts about the hardware
/// and the host's mitigations, which the sandbox runs under too.
static HOST_VULNS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();

/// Reads the host values of `FROM_HOST` (defaults where unreadable), its
/// CPUs' cache descriptions and vulnerability reports.
pub fn snapshot_host() {
    let dir = "/sys/devices/system/cpu/vulnerabilities";
    let vulns = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v = std::fs::read(e.path()).ok()?;
            Some((name, v))
        })
        .collect();
    let _ = HOST_VULNS.set(vulns);
    let mut caches = Vec::new();
    for cpu in 0..super::proc::ncpu() {
        for index in 0..8 {
            let dir = format!("cpu{cpu}/cache/index{index}");
            for f in CACHE_FILES {
                if let Ok(v) = std::fs::read(format!("/sys/devices/system/cpu/{dir}/{f}")) {
                    caches.push((format!("{dir}/{f}"), v));
                }
            }
        }
    }
    let _ = HOST_CACHES.set(caches);
    let _ = HOST.set(
        FROM_HOST
            .iter()
            .map(|&(p, default)| {
                let v = std::fs::read(format!("/sys/{p}")).unwrap_or_else(|_| default.into());
                (p, v)
            })
            .collect(),
    );
}

enum Entry {
    Dir,
    File(Vec<u8>),
}

pub struct SysFs {
    /// Every entry by its path inside /sys ("" is the root).
    entries: BTreeMap<Vec<u8>, Entry>,
}

fn parent(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel[..i],
        None => b"",
    }
}

impl SysFs {
    /// A sysfs for a machine with `cpus` CPUs.
    pub fn new(cpus: usize) -> SysFs {
        let mut fs = SysFs {
            entries: BTreeMap::new(),
        };
        let last = cpus.max(1) - 1;
        let range = if last == 0 {
            "0\n".to_string()
        } else {
            format!("0-{last}\n")
        };
        for d in [
            "block",
            "bus",
            "class/net",
            "dev",
            "firmware",
            "fs/cgroup",
            "module",
            "power",
        ] {
            fs.dir(d);
        }
        let cpu = "devices/system/cpu";
        for (name, text) in [
            ("online", range.as_str()),
            ("possible", range.as_str()),
            ("present", range.as_str()),
            ("offline", "\n"),
            ("isolated", "\n"),
        ] {
            fs.file(&format!("{cpu}/{name}"), text);
        }
        // One package (and die) of single-thread cores, as the sandbox's
        // CPUs are presented: each CPU its own core and cluster.
        let all = super::proc::cpus_allowed(&[], cpus.max(1)).0 + "\n";
        for i in 0..=last {
            let t = format!("{cpu}/cpu{i}/topology");
            let mut bit = vec![0u8; i / 8 + 1];
            bit[i / 8] = 1 << (i % 8);
            let own = super::proc::cpus_allowed(&bit, cpus.max(1)).0 + "\n";
            let one = format!("{i}\n");
            for (name, text) in [
                ("core_id", one.as_str()),
                ("cluster_id", one.as_str()),
                ("physical_package_id", "0\n"),
                ("die_id", "0\n"),
                ("thread_siblings", own.as_str()),
                ("thread_siblings_list", one.as_str()),
                ("core_cpus", own.as_str()),
                ("core_cpus_list", one.as_str()),
                ("cluster_cpus", own.as_str()),
                ("cluster_cpus_list", one.as_str()),
                ("core_siblings", all.as_str()),
                ("core_siblings_list", range.as_str()),
                ("die_cpus", all.as_str()),
                ("die_cpus_list", range.as_str()),
                ("package_cpus", all.as_str()),
                ("package_cpus_list", range.as_str()),
            ] {
                fs.file(&format!("{t}/{name}"), text);
            }
            if i > 0 {
                fs.file(&format!("{cpu}/cpu{i}/online"), "1\n");
            }
        }
        for (path, v) in HOST_CACHES.get().into_iter().flatten() {
            let n: usize = path[3..]
                .split('/')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            if n <= last {
                fs.file(&format!("{cpu}/{path}"), &String::from_utf8_lossy(v));
            }
        }
        for (name, v) in HOST_VULNS.get().into_iter().flatten() {
            fs.file(
                &format!("{cpu}/vulnerabilities/{name}"),
                &String::from_utf8_lossy(v),
            );
        }
        // One NUMA node with every CPU.
        let node = "devices/system/node";
        for name in [
            "online",
            "possible",
            "has_cpu",
            "has_memory",
            "has_normal_memory",
        ] {
            fs.file(&format!("{node}/{name}"), "0\n");
        }
        fs.file(&format!("{node}/node0/cpulist"), &range);
        fs.file(&format!("{node}/node0/cpumap"), &all);
        // Device numbers by kind: no block devices in the sandbox.
        fs.dir("dev/block");
        fs.dir("dev/char");
        for &(path, default) in FROM_HOST {
            let host = HOST.get().and_then(|h| h.iter().find(|(p, _)| *p == path));
            let text = host.map_or(default.as_bytes(), |(_, v)| v.as_slice());
            fs.file(path, &String::from_utf8_lossy(text));
        }
        fs
    }

    fn dir(&mut self, path: &str) {
        let mut p = path.as_bytes();
        loop {
            self.entries.entry(p.to_vec()).or_insert(Entry::Dir);
            if p.is_empty() {
                break;
            }
            p = parent(p);
        }
    }

    fn file(&mut self, path: &str, text: &str) {
        self.dir(std::str::from_utf8(parent(path.as_bytes())).unwrap_or(""));
        self.entries.insert(
            path.as_bytes().to_vec(),
            Entry::File(text.as_bytes().to_vec()),
        );
    }

    fn ino(rel: &[u8]) -> u64 {
        rel.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        }) | 1
    }

    fn stat(rel: &[u8], e: &Entry) -> Stat {
        match e {
            Entry::Dir => stat_of(libc::S_IFDIR | 0o755, Self::ino(rel), DEV, 0),
            // sysfs reports a page as the size of every attribute.
            Entry::File(_) => stat_of(libc::S_IFREG | 0o444, Self::ino(rel), DEV, 4096),
        }
    }
}

impl Filesystem for SysFs {
    fn fstype(&self) -> &'static str {
        "sysfs"
    }

    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if let Some(e) = net_entry(c, rel) {
            let mode = match e? {
                Net::Dir(_) => libc::S_IFDIR | 0o755,
                Net::File(_) | Net::Invalid => libc::S_IFREG | 0o444,
            };
            return Ok(stat_of(mode, Self::ino(rel), DEV, 4096));
        }
        self.entries
            .get(rel)
            .map(|e| Self::stat(rel, e))
            .ok_or(Errno::ENOENT)
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
        if let Some(e) = net_entry(c, rel) {
            let e = e?;
            if !matches!(e, Net::Dir(_)) && flags & libc::O_ACCMODE != libc::O_RDONLY {
                return Err(Errno::EACCES);
            }
            return Ok(match e {
                Net::Dir(names) => Box::new(SynthDir {
                    entries: names
                        .into_iter()
                        .map(|name| DirEntry {
                            ino: Self::ino(&[rel, b"/", &name].concat()),
                            kind: libc::DT_DIR,
                            name,
                        })
                        .collect(),
                    stat: stat_of(libc::S_IFDIR | 0o755, Self::ino(rel), DEV, 0),
                }),
                Net::File(data) => Box::new(SynthFile {
                    data,
                    stat: stat_of(libc::S_IFREG | 0o444, Self::ino(rel), DEV, 4096),
                }),
                Net::Invalid => Box::new(Invalid(stat_of(
                    libc::S_IFREG | 0o444,
                    Self::ino(rel),
                    DEV,
                    4096,
                ))),
            });
        }
        let e = self.entries.get(rel).ok_or(Errno::ENOENT)?;
        let stat = Self::stat(rel, e);
        match e {
            Entry::File(data) => {
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(Errno::EACCES);
                }
                Ok(Box::new(SynthFile {
                    data: data.clone(),
                    stat,
                }))
            }
            Entry::Dir => {
                let entries = self
                    .entries
                    .iter()
                    .filter(|(k, _)| !k.is_empty() && k.as_slice() != rel && parent(k) == rel)
                    .map(|(k, e)| DirEntry {
                        ino: Self::ino(k),
                        kind: match e {
                            Entry::Dir => libc::DT_DIR,
                            Entry::File(_) => libc::DT_REG,
                        },
                        name: k[k.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..].to_vec(),
                    })
                    .collect();
                Ok(Box::new(SynthDir { entries, stat }))
            }
        }
    }

    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: 0x6265_6572,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }
}

/// What /sys/class/net has at a path: a directory (its entries' names),
/// an attribute's text, or an attribute the interface cannot give (its
/// read is EINVAL: lo's speed and duplex).
enum Net {
    Dir(Vec<Vec<u8>>),
    File(Vec<u8>),
    Invalid,
}

const NET_ATTRS: &[&str] = &[
    "address",
    "addr_len",
    "broadcast",
    "carrier",
    "dev_id",
    "duplex",
    "flags",
    "ifindex",
    "iflink",
    "mtu",
    "operstate",
    "speed",
    "tx_queue_len",
    "type",
    "uevent",
];

const NET_STATS: &[&str] = &[
    "collisions",
    "multicast",
    "rx_bytes",
    "rx_compressed",
    "rx_crc_errors",
    "rx_dropped",
    "rx_errors",
    "rx_fifo_errors",
    "rx_frame_errors",
    "rx_length_errors",
    "rx_missed_errors",
    "rx_nohandler",
    "rx_over_errors",
    "rx_packets",
    "tx_aborted_errors",
    "tx_bytes",
    "tx_carrier_errors",
    "tx_compressed",
    "tx_dropped",
    "tx_errors",
    "tx_fifo_errors",
    "tx_heartbeat_errors",
    "tx_packets",
    "tx_window_errors",
];

/// /sys/class/net and below: the interfaces of the reader's network
/// namespace (directories here, where Linux has links into devices/),
/// their attributes and counters. None for paths elsewhere.
fn net_entry(c: &Caller, rel: &[u8]) -> Option<KResult<Net>> {
    let rest = rel.strip_prefix(b"class/net")?;
    if !rest.is_empty() && rest[0] != b'/' {
        return None;
    }
    Some((|| {
        let ifaces = crate::local::iface::list(&c.task()?.net_ns);
        let parts: Vec<&[u8]> = rest
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        let Some((name, more)) = parts.split_first() else {
            return Ok(Net::Dir(
                ifaces.into_iter().map(|i| i.name.into_bytes()).collect(),
            ));
        };
        let i = ifaces
            .iter()
            .find(|i| i.name.as_bytes() == *name)
            .ok_or(Errno::ENOENT)?;
        let mac = |m: [u8; 6]| {
            let v: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
            v.join(":")
        };
        let text = |s: String| Ok(Net::File(format!("{s}\n").into_bytes()));
        match more {
            [] => {
                let mut v: Vec<Vec<u8>> = NET_ATTRS.iter().map(|a| a.as_bytes().to_vec()).collect();
                v.push(b"statistics".to_vec());
                Ok(Net::Dir(v))
            }
            [b"statistics"] => Ok(Net::Dir(
                NET_STATS.iter().map(|a| a.as_bytes().to_vec()).collect(),
            )),
            [b"statistics", s] => {
                let (packets, bytes) = i.traffic;
                let v = match *s {
                    b"rx_bytes" | b"tx_bytes" => bytes,
                    b"rx_packets" | b"tx_packets" => packets,
                    s if NET_STATS.iter().any(|a| a.as_bytes() == s) => 0,
                    _ => return Err(Errno::ENOENT),
                };
                text(v.to_string())
            }
            [attr] => match *attr {
                b"address" => text(mac(i.mac)),
                b"broadcast" => text(mac(if i.loopback { [0; 6] } else { [0xff; 6] })),
                b"addr_len" => text("6".into()),
                // No carrier to read while the device is down (EINVAL).
                b"carrier" if !i.up() => Ok(Net::Invalid),
                b"carrier" => text("1".into()),
                b"dev_id" => text("0x0".into()),
                // The device's own flags (no RUNNING or LOWER_UP).
                b"flags" => text(format!("{:#x}", i.flags & 0xffff & !0x40)),
                b"ifindex" | b"iflink" => text(i.index.to_string()),
                b"mtu" => text(i.mtu.to_string()),
                b"operstate" => text(
                    match (i.up(), i.loopback) {
                        (false, _) => "down",
                        (true, true) => "unknown",
                        (true, false) => "up",
                    }
                    .into(),
                ),
                b"tx_queue_len" => text("1000".into()),
                b"type" => text(i.arphrd.to_string()),
                b"uevent" => Ok(Net::File(
                    format!("INTERFACE={}\nIFINDEX={}\n", i.name, i.index).into_bytes(),
                )),
                // A virtual link has no speed or duplex to tell.
                b"speed" | b"duplex" => Ok(Net::Invalid),
                _ => Err(Errno::ENOENT),
            },
            _ => Err(Errno::ENOENT),
        }
    })())
}

/// An attribute whose read is EINVAL.
struct Invalid(Stat);

impl FileOps for Invalid {
    fn read(&self, _f: &super::file::File, _b: &mut [u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &super::file::File, _b: &[u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EACCES)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
