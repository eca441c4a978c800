//! Host facts for `lbcheck live`: what this machine's network configuration says about return
//! paths, read from /proc and /sys of the network namespace lbcheck runs in.
//!
//! Read: the IPv4 main routing table (/proc/net/route), the IPv6 table (/proc/net/ipv6_route),
//! `rp_filter`, `arp_ignore`, `arp_announce` (all / default / the interface), `ip_forward`,
//! addresses on `lo` other than loopback ones (a /32 VIP on lo is the DSR set-up), `local`
//! routes wider than one address in any table (/proc/net/fib_trie: the `ip route add local
//! 0.0.0.0/0 dev lo table 100` of IP transparency / TPROXY), and the ARP table to name the
//! load balancer behind a MAC address.
//!
//! Over rtnetlink ([`netlink`]): the `ip rule` list, and for each client of a return-path
//! finding the kernel's own route choice (`ip route get CLIENT from SERVER`), which honours
//! policy rules and every table. Rules keyed on a firewall mark cannot be evaluated without the
//! mark; the explanation says when such rules exist. When netlink cannot be asked, the main
//! table's longest match stands in, and the facts say so.

#[cfg(target_os = "linux")]
mod netlink;
mod proc;

#[cfg(target_os = "linux")]
pub use netlink::RouteGet;

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

pub use proc::{Route, longest_match};

/// A sysctl of `net.ipv4.conf.{all,default,IFACE}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ConfValues {
    pub all: Option<i64>,
    pub default: Option<i64>,
    pub interface: Option<i64>,
}

impl ConfValues {
    /// The value the kernel applies: for rp_filter the maximum of all and the interface, for
    /// arp_ignore/arp_announce too (both documented as "the maximum is used").
    pub fn effective(&self) -> Option<i64> {
        match (self.all, self.interface) {
            (Some(a), Some(i)) => Some(a.max(i)),
            (a, i) => a.or(i),
        }
    }
}

/// The kernel's route choice (netlink), or nothing on other systems.
#[cfg(target_os = "linux")]
pub type KernelRoute = RouteGet;
#[cfg(not(target_os = "linux"))]
pub type KernelRoute = ();

/// What one return-path finding's flows say about this host's routes.
#[derive(Debug, Clone, Serialize)]
pub struct ReturnPathFact {
    pub client: IpAddr,
    /// The main table's longest match for the client address.
    pub route: Option<Route>,
    /// The kernel's choice (`ip route get CLIENT from SERVER`), when netlink answered.
    pub kernel_route: Option<KernelRoute>,
    /// The MAC the requests came from, and the address the ARP table gives it (the LB).
    pub requests_from_mac: Option<String>,
    pub requests_from: Option<IpAddr>,
    /// Whether replies leave toward the hop the requests came from (null: cannot tell).
    pub symmetric: Option<bool>,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub interface: String,
    pub ip_forward: Option<bool>,
    pub rp_filter: ConfValues,
    pub arp_ignore: ConfValues,
    pub arp_announce: ConfValues,
    /// IPv4 main table.
    pub routes: Vec<Route>,
    /// IPv6 routes (unicast, not local).
    pub routes6: Vec<Route>,
    /// Non-loopback addresses on `lo` (CIDR).
    pub lo_addresses: Vec<IpNet>,
    /// `local` routes wider than one address, with their table (IP transparency).
    pub local_routes: Vec<String>,
    /// Routing tables other than main/local exist (policy routing may override `routes`).
    pub other_tables: Vec<String>,
    /// `ip rule` list (IPv4 and IPv6); null when netlink could not be asked.
    pub ip_rules: Option<Vec<String>>,
    /// Sets CAP_NET_RAW and CAP_NET_ADMIN were dropped from after the socket opened.
    pub capabilities_dropped_from: Vec<&'static str>,
    pub return_path: Vec<ReturnPathFact>,
}

impl HostFacts {
    /// Reads the facts of this network namespace for capture interface `iface`.
    pub fn read(iface: &str, addresses: &[(String, IpAddr, u8)]) -> Self {
        let conf = |name: &str| ConfValues {
            all: proc::sysctl(&format!("net/ipv4/conf/all/{name}")),
            default: proc::sysctl(&format!("net/ipv4/conf/default/{name}")),
            interface: proc::conf_of(iface, name),
        };
        let lo_addresses = addresses
            .iter()
            .filter(|(name, ip, _)| name == "lo" && !ip.is_loopback())
            .filter_map(|(_, ip, prefix)| IpNet::new(*ip, *prefix).ok())
            .collect();
        let trie = proc::fib_trie();
        Self {
            interface: iface.to_string(),
            ip_forward: proc::sysctl("net/ipv4/ip_forward").map(|v| v != 0),
            rp_filter: conf("rp_filter"),
            arp_ignore: conf("arp_ignore"),
            arp_announce: conf("arp_announce"),
            routes: proc::routes_v4(),
            routes6: proc::routes_v6(),
            lo_addresses,
            local_routes: trie.local_routes,
            other_tables: trie.other_tables,
            ip_rules: read_rules(),
            capabilities_dropped_from: Vec::new(),
            return_path: Vec::new(),
        }
    }

    /// Explains where replies to `client` (from `server`, the local end) go; asks the kernel.
    pub fn explain_return_path(
        &self,
        client: IpAddr,
        server: IpAddr,
        from_mac: Option<[u8; 6]>,
    ) -> ReturnPathFact {
        self.explain_with(client, from_mac, kernel_route(client, server))
    }

    /// Explains, for `client`, where this host sends replies (`kernel`'s answer, else the main
    /// table's) and whether that is the hop the requests came from (`from_mac`, the source MAC
    /// of the client's packets as captured, named through the ARP table).
    pub fn explain_with(
        &self,
        client: IpAddr,
        from_mac: Option<[u8; 6]>,
        kernel: Option<KernelRoute>,
    ) -> ReturnPathFact {
        let table = if client.is_ipv4() {
            &self.routes
        } else {
            &self.routes6
        };
        let route = longest_match(table, client).cloned();
        let mac = from_mac.map(mac_string);
        let from = mac.as_deref().and_then(proc::arp_ip_of);
        let (hop, gateway) = match describe_kernel(kernel.as_ref(), route.as_ref()) {
            Some(k) => k,
            None => match &route {
                Some(r) => (Some(hop_text(r.gateway, &r.dev, &r.describe())), r.gateway),
                None => (None, None),
            },
        };
        let symmetric = match (&hop, from) {
            (Some(_), Some(lb)) => Some(gateway == Some(lb)),
            _ => None,
        };
        let mut summary = match (hop, from, &mac, symmetric) {
            (None, _, _, _) => format!("no route to {client}: replies cannot leave"),
            (Some(hop), Some(lb), _, Some(true)) => {
                format!("replies to {client} {hop}: the LB {lb} the requests came from")
            }
            (Some(hop), Some(lb), _, _) => {
                format!("replies to {client} {hop}, not via the LB {lb} the requests came from")
            }
            (Some(hop), None, Some(mac), _) => format!(
                "replies to {client} {hop}; the requests came from MAC {mac} (not in the ARP table)"
            ),
            (Some(hop), None, None, _) => format!("replies to {client} {hop}"),
        };
        if self.rp_filter.effective() == Some(1) && symmetric == Some(false) {
            summary.push_str(
                "; rp_filter=1 (strict) also drops requests that arrive where replies would not leave",
            );
        }
        let fwmark_rules = self
            .ip_rules
            .iter()
            .flatten()
            .filter(|r| r.contains("fwmark"))
            .count();
        if fwmark_rules > 0 {
            let _ = write!(
                summary,
                "; {fwmark_rules} ip rule(s) match a firewall mark: marked replies may take another table"
            );
        }
        if kernel.is_none() && !self.other_tables.is_empty() {
            let _ = write!(
                summary,
                " (main table only; tables {} exist)",
                self.other_tables.join(", ")
            );
        }
        ReturnPathFact {
            client,
            route,
            kernel_route: kernel,
            requests_from_mac: mac,
            requests_from: from,
            symmetric,
            summary,
        }
    }

    /// Lines for the text report.
    pub fn text_lines(&self) -> Vec<String> {
        let show = |v: Option<i64>| v.map_or("?".to_string(), |v| v.to_string());
        let conf = |c: &ConfValues| {
            let mut t = format!("all={} default={}", show(c.all), show(c.default));
            if self.interface != "any" {
                let _ = write!(t, " {}={}", self.interface, show(c.interface));
            }
            t
        };
        let mut lines = vec![
            format!(
                "ip_forward {}",
                self.ip_forward
                    .map_or("?", |f| if f { "on" } else { "off" })
            ),
            format!("rp_filter {}", conf(&self.rp_filter)),
            format!(
                "arp_ignore {}  arp_announce {}",
                conf(&self.arp_ignore),
                conf(&self.arp_announce)
            ),
        ];
        for r in self.routes.iter().filter(|r| r.dst.prefix_len() == 0) {
            lines.push(format!("default route {}", r.text()));
        }
        for r in self.routes6.iter().filter(|r| r.dst.prefix_len() == 0) {
            lines.push(format!("default route (IPv6) {}", r.text()));
        }
        if !self.lo_addresses.is_empty() {
            let a: Vec<String> = self.lo_addresses.iter().map(ToString::to_string).collect();
            lines.push(format!("addresses on lo (VIP, DSR) {}", a.join(", ")));
        }
        if !self.local_routes.is_empty() {
            lines.push(format!(
                "local routes (IP transparency) {}",
                self.local_routes.join("; ")
            ));
        }
        match &self.ip_rules {
            Some(rules) => {
                // The three rules every host has say nothing; show the rest.
                let special: Vec<&String> = rules.iter().filter(|r| !is_default_rule(r)).collect();
                for r in special {
                    lines.push(format!("ip rule {r}"));
                }
            }
            None => lines.push("ip rules not read (netlink unavailable)".into()),
        }
        if !self.other_tables.is_empty() {
            lines.push(format!(
                "routing tables besides main/local: {}",
                self.other_tables.join(", ")
            ));
        }
        for f in &self.return_path {
            lines.push(format!("return path: {}", f.summary));
        }
        lines
    }
}

/// "leave via GW (default route on eth0)" or "leave directly on eth0 (route …, no gateway)".
fn hop_text(gateway: Option<IpAddr>, dev: &str, what: &str) -> String {
    match gateway {
        Some(g) => format!("leave via {g} ({what} on {dev})"),
        None => format!("leave directly on {dev} ({what}, no gateway)"),
    }
}

/// The hop text and gateway of the kernel's answer; the main-table route names what matched.
#[cfg(target_os = "linux")]
fn describe_kernel(
    k: Option<&RouteGet>,
    main: Option<&Route>,
) -> Option<(Option<String>, Option<IpAddr>)> {
    let k = k?;
    let what = match (k.table.as_str(), main) {
        ("main", Some(r)) => r.describe(),
        (t, _) => format!("table {t}"),
    };
    let text = match k.kind.as_str() {
        "unicast" => hop_text(k.gateway, k.dev.as_deref().unwrap_or("?"), &what),
        "local" => format!("are delivered locally ({what})"),
        kind => format!("are dropped: {kind} route ({what})"),
    };
    Some((Some(text), k.gateway))
}

#[cfg(not(target_os = "linux"))]
fn describe_kernel(
    _: Option<&KernelRoute>,
    _: Option<&Route>,
) -> Option<(Option<String>, Option<IpAddr>)> {
    None
}

#[cfg(target_os = "linux")]
fn kernel_route(client: IpAddr, server: IpAddr) -> Option<KernelRoute> {
    let names = |index: u32| proc::interface_name(index);
    netlink::route_get(client, Some(server), &names)
        .or_else(|_| netlink::route_get(client, None, &names))
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn kernel_route(_: IpAddr, _: IpAddr) -> Option<KernelRoute> {
    None
}

#[cfg(target_os = "linux")]
fn read_rules() -> Option<Vec<String>> {
    netlink::rules().ok()
}

#[cfg(not(target_os = "linux"))]
fn read_rules() -> Option<Vec<String>> {
    None
}

fn is_default_rule(r: &str) -> bool {
    let r = r.trim_end_matches(" (IPv6)");
    matches!(
        r,
        "0: from all lookup local"
            | "32766: from all lookup main"
            | "32767: from all lookup default"
    )
}

pub fn mac_string(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(routes: Vec<Route>) -> HostFacts {
        HostFacts {
            interface: "eth0".into(),
            ip_forward: Some(false),
            rp_filter: ConfValues::default(),
            arp_ignore: ConfValues::default(),
            arp_announce: ConfValues::default(),
            routes,
            routes6: Vec::new(),
            lo_addresses: Vec::new(),
            local_routes: Vec::new(),
            other_tables: Vec::new(),
            ip_rules: None,
            capabilities_dropped_from: Vec::new(),
            return_path: Vec::new(),
        }
    }

    fn route(dst: &str, gw: Option<&str>) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            dev: "eth0".into(),
            metric: 0,
        }
    }

    #[test]
    fn default_route_past_the_lb_is_named() {
        let f = facts(vec![
            route("0.0.0.0/0", Some("203.0.113.254")),
            route("203.0.113.0/24", None),
            route("100.64.0.0/10", Some("203.0.113.1")),
        ]);
        let fact = f.explain_with("192.0.2.10".parse().unwrap(), None, None);
        assert_eq!(
            fact.summary,
            "replies to 192.0.2.10 leave via 203.0.113.254 (default route on eth0)"
        );
        let snat = f.explain_with("100.64.0.2".parse().unwrap(), None, None);
        assert_eq!(
            snat.route.unwrap().gateway,
            Some("203.0.113.1".parse().unwrap())
        );
    }

    #[test]
    fn effective_conf_is_the_maximum_of_all_and_the_interface() {
        let c = ConfValues {
            all: Some(0),
            default: Some(1),
            interface: Some(2),
        };
        assert_eq!(c.effective(), Some(2));
    }
}
