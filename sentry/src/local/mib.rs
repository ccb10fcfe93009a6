//! The network counters a namespace keeps (its MIB), which
//! /proc/net/snmp, snmp6 and netstat show (`nstat`, `netstat -s`,
//! `ss -s`). The sandbox counts what its loopback carries, as Linux would
//! for the same traffic: connections opened, refused, reset and dropped
//! for a full backlog; TCP segments that carry a handshake, data, a FIN
//! or a reset (pure acknowledgements are not modelled); UDP datagrams
//! delivered, dropped for a full queue or sent to a port nobody has; ICMP
//! echoes and port unreachables; and the IP packets and bytes all of
//! those make. Traffic through the netstack (eth0) or host sockets is not
//! counted. Everything else reads 0.

use super::mib_names as names;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write;

/// The largest TCP segment on lo (its MTU less the headers).
const MSS: u64 = 65483;

/// Counters by their name in the files ("Tcp:ActiveOpens",
/// "Ip6InReceives").
#[derive(Default)]
pub struct Mib(Mutex<Counts>);

type Counts = HashMap<&'static str, u64>;

/// Which IP and transport a datagram or segment is.
#[derive(Clone, Copy)]
pub struct Family {
    pub v6: bool,
}

fn add(m: &mut Counts, name: &'static str, n: u64) {
    *m.entry(name).or_insert(0) += n;
}

/// IP packets of `bytes` bytes (headers included) in all, sent and
/// received on lo.
fn ip(m: &mut Counts, f: Family, packets: u64, bytes: u64) {
    let each: &[&'static str] = if f.v6 {
        &[
            "Ip6OutRequests",
            "Ip6OutTransmits",
            "Ip6InReceives",
            "Ip6InDelivers",
        ]
    } else {
        &[
            "Ip:OutRequests",
            "Ip:OutTransmits",
            "Ip:InReceives",
            "Ip:InDelivers",
        ]
    };
    for n in each {
        add(m, n, packets);
    }
    let (o, i) = if f.v6 {
        ("Ip6OutOctets", "Ip6InOctets")
    } else {
        ("IpExt:OutOctets", "IpExt:InOctets")
    };
    add(m, o, bytes);
    add(m, i, bytes);
}

/// `n` TCP segments without data, sent and received.
fn tcp_control(m: &mut Counts, f: Family, n: u64) {
    add(m, "Tcp:OutSegs", n);
    add(m, "Tcp:InSegs", n);
    ip(m, f, n, n * header(f));
}

/// An ICMP message sent and received on lo.
fn icmp(m: &mut Counts, f: Family, msg: Icmp) {
    let (out, inn) = match (msg, f.v6) {
        (Icmp::Echo, false) => ("Icmp:OutEchos", "Icmp:InEchos"),
        (Icmp::EchoReply, false) => ("Icmp:OutEchoReps", "Icmp:InEchoReps"),
        (Icmp::Unreachable, false) => ("Icmp:OutDestUnreachs", "Icmp:InDestUnreachs"),
        (Icmp::Echo, true) => ("Icmp6OutEchos", "Icmp6InEchos"),
        (Icmp::EchoReply, true) => ("Icmp6OutEchoReplies", "Icmp6InEchoReplies"),
        (Icmp::Unreachable, true) => ("Icmp6OutDestUnreachs", "Icmp6InDestUnreachs"),
    };
    let (msgs_out, msgs_in) = if f.v6 {
        ("Icmp6OutMsgs", "Icmp6InMsgs")
    } else {
        ("Icmp:OutMsgs", "Icmp:InMsgs")
    };
    for n in [out, inn, msgs_out, msgs_in] {
        add(m, n, 1);
    }
    ip(m, f, 1, 64 + header_ip(f));
}

// Each event takes the lock once: tcp_data is on every loopback send.
impl Mib {
    fn get(&self, name: &str) -> u64 {
        self.0.lock().get(name).copied().unwrap_or(0)
    }

    /// What lo carried (each way: lo's receive is its transmit): IP
    /// packets, and their bytes with an Ethernet header each.
    pub fn lo_traffic(&self) -> (u64, u64) {
        let packets = self.get("Ip:OutRequests") + self.get("Ip6OutRequests");
        let bytes = self.get("IpExt:OutOctets") + self.get("Ip6OutOctets") + 14 * packets;
        (packets, bytes)
    }

    /// `n` TCP segments without data (SYN, SYN-ACK, ACK of a handshake,
    /// FIN, RST), sent and received.
    pub fn tcp_control(&self, f: Family, n: u64) {
        tcp_control(&mut self.0.lock(), f, n);
    }

    /// `len` bytes of data sent from one loopback TCP socket to another.
    pub fn tcp_data(&self, f: Family, len: u64) {
        let segs = len.div_ceil(MSS).max(1);
        let m = &mut *self.0.lock();
        add(m, "Tcp:OutSegs", segs);
        add(m, "Tcp:InSegs", segs);
        ip(m, f, segs, len + segs * header(f));
    }

    /// A connect that made a connection (SYN, SYN-ACK, ACK).
    pub fn tcp_connected(&self, f: Family) {
        let m = &mut *self.0.lock();
        add(m, "Tcp:ActiveOpens", 1);
        add(m, "Tcp:PassiveOpens", 1);
        tcp_control(m, f, 3);
    }

    /// A connect refused (SYN, RST).
    pub fn tcp_refused(&self, f: Family) {
        let m = &mut *self.0.lock();
        add(m, "Tcp:ActiveOpens", 1);
        add(m, "Tcp:AttemptFails", 1);
        add(m, "Tcp:OutRsts", 1);
        tcp_control(m, f, 2);
    }

    /// A connection reset by a close that left data unread: both ends
    /// leave ESTABLISHED for CLOSED.
    pub fn tcp_reset(&self, f: Family) {
        let m = &mut *self.0.lock();
        add(m, "Tcp:EstabResets", 2);
        add(m, "Tcp:OutRsts", 1);
        add(m, "TcpExt:TCPAbortOnClose", 1);
        tcp_control(m, f, 1);
    }

    /// A SYN dropped for a full backlog.
    pub fn listen_overflow(&self) {
        let m = &mut *self.0.lock();
        add(m, "TcpExt:ListenOverflows", 1);
        add(m, "TcpExt:ListenDrops", 1);
    }

    /// A UDP (or UDP-Lite) datagram of `len` bytes sent on lo: queued
    /// (`Some(true)`; InDatagrams counts when it is read, `udp_read`),
    /// dropped at a full queue (`Some(false)`), or to a port nobody has
    /// (`None`, answered by ICMP port unreachable).
    pub fn udp(&self, f: Family, lite: bool, len: u64, delivered: Option<bool>) {
        // OutDatagrams, InDatagrams, RcvbufErrors, InErrors, NoPorts.
        const KEYS: [[&str; 5]; 4] = [
            [
                "Udp:OutDatagrams",
                "Udp:InDatagrams",
                "Udp:RcvbufErrors",
                "Udp:InErrors",
                "Udp:NoPorts",
            ],
            [
                "UdpLite:OutDatagrams",
                "UdpLite:InDatagrams",
                "UdpLite:RcvbufErrors",
                "UdpLite:InErrors",
                "UdpLite:NoPorts",
            ],
            [
                "Udp6OutDatagrams",
                "Udp6InDatagrams",
                "Udp6RcvbufErrors",
                "Udp6InErrors",
                "Udp6NoPorts",
            ],
            [
                "UdpLite6OutDatagrams",
                "UdpLite6InDatagrams",
                "UdpLite6RcvbufErrors",
                "UdpLite6InErrors",
                "UdpLite6NoPorts",
            ],
        ];
        let k = &KEYS[usize::from(f.v6) * 2 + usize::from(lite)];
        let m = &mut *self.0.lock();
        add(m, k[0], 1);
        match delivered {
            Some(true) => {}
            Some(false) => {
                add(m, k[2], 1);
                add(m, k[3], 1);
            }
            None => {
                add(m, k[4], 1);
                icmp(m, f, Icmp::Unreachable);
            }
        }
        ip(m, f, 1, len + 8 + header_ip(f));
    }

    /// A UDP (or UDP-Lite) datagram read by the application.
    pub fn udp_read(&self, f: Family, lite: bool) {
        add(
            &mut self.0.lock(),
            match (f.v6, lite) {
                (false, false) => "Udp:InDatagrams",
                (false, true) => "UdpLite:InDatagrams",
                (true, false) => "Udp6InDatagrams",
                (true, true) => "UdpLite6InDatagrams",
            },
            1,
        );
    }

    /// An ICMP message sent and received on lo.
    pub fn icmp(&self, f: Family, msg: Icmp) {
        icmp(&mut self.0.lock(), f, msg);
    }

    /// The ICMP types counted, in order: (type, in, out); the type's
    /// counts are its named counters' (every type sent is received).
    fn types(&self, v6: bool) -> Vec<(u32, u64, u64)> {
        let list: [(u32, &str, &str); 3] = if v6 {
            [
                (1, "Icmp6InDestUnreachs", "Icmp6OutDestUnreachs"),
                (128, "Icmp6InEchos", "Icmp6OutEchos"),
                (129, "Icmp6InEchoReplies", "Icmp6OutEchoReplies"),
            ]
        } else {
            [
                (0, "Icmp:InEchoReps", "Icmp:OutEchoReps"),
                (3, "Icmp:InDestUnreachs", "Icmp:OutDestUnreachs"),
                (8, "Icmp:InEchos", "Icmp:OutEchos"),
            ]
        };
        list.iter()
            .map(|&(t, i, o)| (t, self.get(i), self.get(o)))
            .filter(|&(_, i, o)| i != 0 || o != 0)
            .collect()
    }

    /// /proc/net/snmp; `estab`: the TCP connections now ESTABLISHED or
    /// CLOSE_WAIT (Tcp's CurrEstab, a gauge).
    pub fn snmp(&self, estab: u64) -> String {
        let mut out = String::new();
        let fixed = |name: &str| -> Option<i64> {
            Some(match name {
                // Forwarding 2: not forwarding (ip_forward is 0).
                "Ip:Forwarding" => 2,
                "Ip:DefaultTTL" => 64,
                "Tcp:RtoAlgorithm" => 1,
                "Tcp:RtoMin" => 200,
                "Tcp:RtoMax" => 120_000,
                "Tcp:MaxConn" => -1,
                "Tcp:CurrEstab" => i64::try_from(estab).unwrap_or(i64::MAX),
                _ => return None,
            })
        };
        let section = |out: &mut String, title: &str, list: &[&str]| {
            let _ = writeln!(out, "{title}: {}", list.join(" "));
            let values: Vec<String> = list
                .iter()
                .map(|n| {
                    let key = format!("{title}:{n}");
                    fixed(&key).map_or_else(|| self.get(&key).to_string(), |v| v.to_string())
                })
                .collect();
            let _ = writeln!(out, "{title}: {}", values.join(" "));
        };
        section(&mut out, "Ip", names::IP);
        section(&mut out, "Icmp", names::ICMP);
        let types = self.types(false);
        if !types.is_empty() {
            let mut heads = Vec::new();
            let mut vals = Vec::new();
            for (dir, pick) in [("In", 0), ("Out", 1)] {
                for &(t, i, o) in &types {
                    let v = if pick == 0 { i } else { o };
                    if v != 0 {
                        heads.push(format!("{dir}Type{t}"));
                        vals.push(v.to_string());
                    }
                }
            }
            let _ = writeln!(out, "IcmpMsg: {}", heads.join(" "));
            let _ = writeln!(out, "IcmpMsg: {}", vals.join(" "));
        }
        section(&mut out, "Tcp", names::TCP);
        section(&mut out, "Udp", names::UDP);
        section(&mut out, "UdpLite", names::UDP);
        out
    }

    /// /proc/net/netstat.
    pub fn netstat(&self) -> String {
        let mut out = String::new();
        for (title, list) in [
            ("TcpExt", names::TCP_EXT),
            ("IpExt", names::IP_EXT),
            ("MPTcpExt", names::MPTCP_EXT),
        ] {
            let values: Vec<String> = list
                .iter()
                .map(|n| self.get(&format!("{title}:{n}")).to_string())
                .collect();
            let _ = writeln!(out, "{title}: {}", list.join(" "));
            let _ = writeln!(out, "{title}: {}", values.join(" "));
        }
        out
    }

    /// /proc/net/snmp6: a name and a value a line, the ICMPv6 types seen
    /// after the named ICMPv6 counters.
    pub fn snmp6(&self) -> String {
        let mut out = String::new();
        let mut line = |n: &str, v: u64| {
            let _ = writeln!(out, "{n:<32}\t{v}");
        };
        for n in names::SNMP6 {
            line(n, self.get(n));
            if *n == "Icmp6OutMLDv2Reports" {
                let types = self.types(true);
                for &(t, i, _) in &types {
                    if i != 0 {
                        line(&format!("Icmp6InType{t}"), i);
                    }
                }
                for &(t, _, o) in &types {
                    if o != 0 {
                        line(&format!("Icmp6OutType{t}"), o);
                    }
                }
            }
        }
        out
    }
}

/// ICMP messages the sandbox's loopback carries.
#[derive(Clone, Copy)]
pub enum Icmp {
    Echo,
    EchoReply,
    Unreachable,
}

fn header_ip(f: Family) -> u64 {
    if f.v6 {
        40
    } else {
        20
    }
}

/// IP and TCP headers (with timestamps) of a segment.
fn header(f: Family) -> u64 {
    header_ip(f) + 32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str, title: &str, name: &str) -> String {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(title)).collect();
        let heads: Vec<&str> = lines[0].split_whitespace().collect();
        let vals: Vec<&str> = lines[1].split_whitespace().collect();
        let i = heads.iter().position(|h| *h == name).unwrap();
        vals[i].to_string()
    }

    #[test]
    fn events_count_where_linux_counts_them() {
        let m = Mib::default();
        let v4 = Family { v6: false };
        m.tcp_connected(v4);
        m.tcp_refused(v4);
        m.tcp_data(v4, 100_000);
        m.udp(v4, false, 10, None);
        m.udp(Family { v6: true }, false, 10, Some(true));
        m.udp_read(Family { v6: true }, false);
        let s = m.snmp(1);
        assert_eq!(row(&s, "Tcp:", "ActiveOpens"), "2");
        assert_eq!(row(&s, "Tcp:", "AttemptFails"), "1");
        assert_eq!(row(&s, "Tcp:", "CurrEstab"), "1");
        // Three for the handshake, two for the refusal, two of data.
        assert_eq!(row(&s, "Tcp:", "OutSegs"), "7");
        assert_eq!(row(&s, "Udp:", "NoPorts"), "1");
        assert_eq!(row(&s, "Icmp:", "OutDestUnreachs"), "1");
        assert_eq!(row(&s, "IcmpMsg:", "InType3"), "1");
        assert_eq!(row(&s, "Ip:", "Forwarding"), "2");
        assert!(m.snmp6().contains("Udp6InDatagrams                 \t1\n"));
        assert_eq!(row(&m.netstat(), "TcpExt:", "ListenOverflows"), "0");
        // Every header has a value.
        for l in s.lines().chain(m.netstat().lines()) {
            assert!(l.split(':').nth(1).is_some());
        }
    }
}
