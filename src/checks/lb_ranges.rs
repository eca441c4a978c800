//! The load-balancer "system" range table: which source addresses belong to a balancer or its
//! health checks. Built in from `data/lb-ranges.json` (versioned, with provenance per entry);
//! users add their own with `--lb-range [NAME=]CIDR`.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

const BUILT_IN: &str = include_str!("../../data/lb-ranges.json");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeFile {
    pub version: u32,
    pub updated: String,
    pub note: String,
    pub ranges: Vec<RangeEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeEntry {
    pub name: String,
    pub vendor: String,
    pub role: String,
    pub cidrs: Vec<IpNet>,
    /// The range is also used for other things (RFC 6598 CGNAT): a match is only "possible".
    pub ambiguous: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_ambiguous: Option<String>,
    pub sources: Vec<String>,
    pub checked: String,
    #[serde(default)]
    pub checked_how: String,
}

/// A source address's match in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeMatch {
    pub name: String,
    pub vendor: String,
    pub cidr: IpNet,
    pub ambiguous: bool,
}

#[derive(Debug, Clone)]
pub struct LbRanges {
    entries: Vec<RangeEntry>,
    /// `entries[i].name`, shared: every flow from a range holds its name.
    names: Vec<Arc<str>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RangeArgError {
    #[error("--lb-range {0:?}: expected [NAME=]CIDR, e.g. my-lb=10.0.1.0/24 (or a single address)")]
    Bad(String),
}

impl LbRanges {
    pub fn built_in() -> Self {
        let entries = built_in_file().ranges;
        let names = entries.iter().map(|e| Arc::from(e.name.as_str())).collect();
        Self { entries, names }
    }

    pub fn entries(&self) -> &[RangeEntry] {
        &self.entries
    }

    /// Adds a user range from `--lb-range [NAME=]CIDR` (a bare address is a /32 or /128).
    pub fn add_user(&mut self, arg: &str) -> Result<(), RangeArgError> {
        let (name, cidr) = match arg.split_once('=') {
            Some((n, c)) if !n.is_empty() => (n.to_string(), c),
            Some(_) => return Err(RangeArgError::Bad(arg.into())),
            None => (format!("user:{arg}"), arg),
        };
        let net = cidr
            .parse::<IpNet>()
            .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| RangeArgError::Bad(arg.into()))?;
        self.names.insert(0, Arc::from(name.as_str()));
        self.entries.insert(
            0,
            RangeEntry {
                name,
                vendor: "user".into(),
                role: "given with --lb-range".into(),
                cidrs: vec![net],
                ambiguous: false,
                why_ambiguous: None,
                sources: vec!["command line".into()],
                checked: String::new(),
                checked_how: String::new(),
            },
        );
        Ok(())
    }

    /// The most specific range containing `ip` (user ranges win ties).
    pub fn lookup(&self, ip: IpAddr) -> Option<RangeMatch> {
        self.best(ip).map(|(i, cidr)| {
            let e = &self.entries[i];
            RangeMatch {
                name: e.name.clone(),
                vendor: e.vendor.clone(),
                cidr,
                ambiguous: e.ambiguous,
            }
        })
    }

    /// Why `ip`'s range may be something other than a balancer (RFC 6598: carrier-grade NAT,
    /// VPNs), when its entry says so.
    pub fn why_ambiguous(&self, ip: IpAddr) -> Option<&str> {
        self.best(ip).and_then(|(i, _)| {
            let e = &self.entries[i];
            e.ambiguous.then(|| {
                e.why_ambiguous
                    .as_deref()
                    .unwrap_or("also used for other things")
            })
        })
    }

    /// The name of [`LbRanges::lookup`]'s range, shared rather than copied.
    pub fn lookup_name(&self, ip: IpAddr) -> Option<Arc<str>> {
        self.best(ip).map(|(i, _)| Arc::clone(&self.names[i]))
    }

    /// Index of the most specific entry containing `ip`, and the matching network.
    fn best(&self, ip: IpAddr) -> Option<(usize, IpNet)> {
        let ip = canonical(ip);
        let mut best: Option<(usize, IpNet)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            for net in &e.cidrs {
                if net.contains(&ip) && best.is_none_or(|(_, b)| net.prefix_len() > b.prefix_len())
                {
                    best = Some((i, *net));
                }
            }
        }
        best
    }
}

pub fn built_in_file() -> RangeFile {
    serde_json::from_str(BUILT_IN).expect("data/lb-ranges.json is checked by a unit test")
}

/// IPv4-mapped IPv6 addresses are looked up as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn built_in_table_parses_and_every_entry_has_provenance() {
        let f = built_in_file();
        assert!(f.ranges.len() >= 6);
        for e in &f.ranges {
            assert!(
                !e.sources.is_empty() && !e.checked.is_empty() && !e.cidrs.is_empty(),
                "{}",
                e.name
            );
        }
    }

    #[test]
    fn the_ranges_the_brief_names_are_matched() {
        let t = LbRanges::built_in();
        let name = |s: &str| t.lookup(ip(s)).map(|m| m.name);
        assert_eq!(name("100.64.0.2").as_deref(), Some("rfc6598-cloud-lb"));
        assert_eq!(
            name("100.125.3.4").as_deref(),
            Some("huawei-elb"),
            "the more specific Huawei range wins"
        );
        assert_eq!(name("35.191.10.1").as_deref(), Some("gcp-health-check"));
        assert_eq!(name("130.211.3.255").as_deref(), Some("gcp-health-check"));
        assert_eq!(name("130.211.4.0"), None, "130.211.0.0/22 ends at .3.255");
        assert_eq!(name("168.63.129.16").as_deref(), Some("azure-probe"));
        assert_eq!(name("::ffff:168.63.129.16").as_deref(), Some("azure-probe"));
        assert_eq!(name("192.0.2.10"), None);
        assert!(
            t.lookup(ip("100.64.0.2")).unwrap().ambiguous,
            "RFC 6598 space is only a possible LB"
        );
    }

    #[test]
    fn user_ranges_are_added_and_win() {
        let mut t = LbRanges::built_in();
        t.add_user("my-nlb=10.0.1.0/24").unwrap();
        t.add_user("198.51.100.7").unwrap();
        assert_eq!(t.lookup(ip("10.0.1.9")).unwrap().name, "my-nlb");
        assert_eq!(
            t.lookup(ip("198.51.100.7")).unwrap().name,
            "user:198.51.100.7"
        );
        for a in ["10.0.1.9", "198.51.100.7", "100.125.3.4", "192.0.2.10"] {
            assert_eq!(
                t.lookup_name(ip(a)).as_deref(),
                t.lookup(ip(a)).map(|m| m.name).as_deref(),
                "the shared name is the one lookup gives ({a})"
            );
        }
        assert!(t.add_user("=10.0.0.0/8").is_err());
        assert!(t.add_user("lb=not-a-cidr").is_err());
    }
}
