//! Parsers for the /proc files the host facts come from. Each takes the file's text, so tests
//! feed them fixed samples; missing files give empty answers, never errors.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    pub dev: String,
    pub metric: u32,
}

impl Route {
    /// `default route` or `route 203.0.113.0/24`.
    pub fn describe(&self) -> String {
        if self.dst.prefix_len() == 0 {
            "default route".into()
        } else {
            format!("route {}", self.dst)
        }
    }

    /// As `ip route` prints it.
    pub fn text(&self) -> String {
        let dst = if self.dst.prefix_len() == 0 {
            "default".to_string()
        } else {
            self.dst.to_string()
        };
        match self.gateway {
            Some(g) => format!("{dst} via {g} dev {}", self.dev),
            None => format!("{dst} dev {}", self.dev),
        }
    }
}

/// The most specific route containing `ip`; the lowest metric among equals.
pub fn longest_match(routes: &[Route], ip: IpAddr) -> Option<&Route> {
    routes
        .iter()
        .filter(|r| r.dst.contains(&ip))
        .max_by(|a, b| {
            a.dst
                .prefix_len()
                .cmp(&b.dst.prefix_len())
                .then(b.metric.cmp(&a.metric))
        })
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `/proc/sys/<name>` as an integer.
pub fn sysctl(name: &str) -> Option<i64> {
    read(&format!("/proc/sys/{name}")).trim().parse().ok()
}

/// `net.ipv4.conf.<iface>.<name>`; none for `any` or a name that is not a plain interface name.
pub fn conf_of(iface: &str, name: &str) -> Option<i64> {
    if iface == "any" || iface.contains('/') || iface.starts_with('.') {
        return None;
    }
    sysctl(&format!("net/ipv4/conf/{iface}/{name}"))
}

/// The interface with this index (/sys/class/net/*/ifindex).
pub fn interface_name(index: u32) -> Option<String> {
    std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .find_map(|e| {
            let i: u32 = read(&format!("{}/ifindex", e.path().display()))
                .trim()
                .parse()
                .ok()?;
            (i == index).then(|| e.file_name().to_string_lossy().into_owned())
        })
}

/// RTF_UP and RTF_GATEWAY (linux/route.h), RTF_LOCAL and RTF_REJECT for IPv6.
const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;
const RTF_LOCAL: u32 = 0x8000_0000;

pub fn routes_v4() -> Vec<Route> {
    parse_route(&read("/proc/net/route"))
}

pub fn routes_v6() -> Vec<Route> {
    parse_ipv6_route(&read("/proc/net/ipv6_route"))
}

/// /proc/net/route: addresses are the in-memory (network order) bytes printed as a host `%08X`.
pub fn parse_route(text: &str) -> Vec<Route> {
    let addr = |hex: &str| {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [dev, dst, gw, flags, _, _, metric, mask, ..] = f.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            if flags & RTF_UP == 0 {
                return None;
            }
            let prefix = u32::from_be_bytes(addr(mask)?.octets()).count_ones() as u8;
            Some(Route {
                dst: IpNet::new(IpAddr::V4(addr(dst)?), prefix).ok()?.trunc(),
                gateway: (flags & RTF_GATEWAY != 0).then_some(IpAddr::V4(addr(gw)?)),
                dev: (*dev).to_string(),
                metric: metric.parse().ok()?,
            })
        })
        .collect()
}

/// /proc/net/ipv6_route: dst, dst prefix, src, src prefix, next hop, metric, refcnt, use,
/// flags, device. Local, multicast and reject routes are left out.
pub fn parse_ipv6_route(text: &str) -> Vec<Route> {
    let addr = |hex: &str| u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from);
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [dst, plen, _, _, gw, metric, _, _, flags, dev] = f.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let dst = addr(dst)?;
            if flags & RTF_UP == 0 || flags & (RTF_LOCAL | RTF_REJECT) != 0 || dst.is_multicast() {
                return None;
            }
            Some(Route {
                dst: IpNet::new(IpAddr::V6(dst), u8::from_str_radix(plen, 16).ok()?).ok()?,
                gateway: (flags & RTF_GATEWAY != 0).then_some(IpAddr::V6(addr(gw)?)),
                dev: (*dev).to_string(),
                metric: u32::from_str_radix(metric, 16).ok()?,
            })
        })
        .collect()
}

/// What /proc/net/fib_trie adds: wide `local` routes and the tables that exist.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Trie {
    pub local_routes: Vec<String>,
    pub other_tables: Vec<String>,
}

pub fn fib_trie() -> Trie {
    parse_fib_trie(&read("/proc/net/fib_trie"))
}

/// Table headers are unindented (`Main:`, `Local:`, `Id 100:`); a leaf is `|-- ADDR` followed
/// by lines `/PREFIX SCOPE TYPE`. Without policy rules the kernel merges main and local into one
/// trie shown twice; entries are deduplicated.
pub fn parse_fib_trie(text: &str) -> Trie {
    let mut table = String::new();
    let mut leaf: Option<Ipv4Addr> = None;
    let mut local = BTreeSet::new();
    let mut others = BTreeSet::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            let name = line.trim_end_matches(':').trim();
            // Tables other than main and local are shown as `Id 100:`.
            table = name.strip_prefix("Id ").unwrap_or(name).to_string();
            if !matches!(table.as_str(), "Main" | "Local") {
                others.insert(table.clone());
            }
            continue;
        }
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            leaf = a.parse().ok();
        } else if let (Some(rest), Some(addr)) = (t.strip_prefix('/'), leaf) {
            let mut words = rest.split_whitespace();
            let prefix: Option<u8> = words.next().and_then(|p| p.parse().ok());
            let kind = words.nth(1);
            if let (Some(prefix), Some("LOCAL")) = (prefix, kind) {
                if prefix < 32 && !addr.is_loopback() {
                    let where_ = match table.as_str() {
                        "Main" | "Local" => String::new(),
                        other => format!(" (table {other})"),
                    };
                    local.insert(format!("local {addr}/{prefix}{where_}"));
                }
            }
        }
    }
    Trie {
        local_routes: local.into_iter().collect(),
        other_tables: others.into_iter().collect(),
    }
}

/// The IPv4 address the ARP table gives `mac` (lower-case, colon-separated).
pub fn arp_ip_of(mac: &str) -> Option<IpAddr> {
    parse_arp(&read("/proc/net/arp"), mac)
}

pub fn parse_arp(text: &str, mac: &str) -> Option<IpAddr> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [ip, _, _, hw, ..] if hw.eq_ignore_ascii_case(mac) => ip.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_route_in_host_order_hex() {
        // Written on a little-endian host: 192.0.2.1 is printed 010200C0.
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let r = parse_route(text);
        if cfg!(target_endian = "little") {
            assert_eq!(r[0].text(), "default via 192.0.2.1 dev eth0");
            assert_eq!(r[1].text(), "192.0.2.0/24 dev eth0");
            let best = longest_match(&r, "192.0.2.77".parse().unwrap()).unwrap();
            assert_eq!(best.dst.to_string(), "192.0.2.0/24");
        }
    }

    #[test]
    fn ipv6_route_skips_local_and_multicast() {
        let text = "\
20010db8000c00000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000c00000000000000000001 00000400 00000002 00000000 00000003     eth0
20010db8000c00000000000000000010 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
";
        let r = parse_ipv6_route(text);
        let texts: Vec<String> = r.iter().map(Route::text).collect();
        assert_eq!(
            texts,
            [
                "2001:db8:c::/64 dev eth0",
                "default via 2001:db8:c::1 dev eth0"
            ]
        );
    }

    #[test]
    fn fib_trie_finds_transparency_local_routes_and_tables() {
        let text = "\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     |-- 203.0.113.11
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 127.0.0.0
        /8 host LOCAL
Id 100:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 host LOCAL
";
        let t = parse_fib_trie(text);
        assert_eq!(t.local_routes, ["local 0.0.0.0/0 (table 100)"]);
        assert_eq!(t.other_tables, ["100"]);
    }

    #[test]
    fn arp_table_names_the_mac() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
            203.0.113.1      0x1         0x2         02:aa:00:00:00:01     *        eth0\n";
        assert_eq!(
            parse_arp(text, "02:aa:00:00:00:01"),
            Some("203.0.113.1".parse().unwrap())
        );
        assert_eq!(parse_arp(text, "02:aa:00:00:00:02"), None);
    }
}
