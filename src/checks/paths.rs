//! Correlation: the same connection seen at several capture points (client, balancer,
//! backend), or both legs of it on one balancer capture. Links flows by the client's initial
//! sequence number (a forwarding balancer keeps it: DNAT, L4 SNAT), by the client a PROXY or
//! X-Forwarded-For header names (a proxying balancer opens a new connection), and by address
//! and timing for transparent proxies. Each path lists its hops from the client toward the
//! backend and says where the client address was replaced, where a header was added, and
//! where the replies stop.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::{Finding, Severity};
use crate::flow::Proto;
use crate::summary::{Endpoint, FlowReport};

/// Legs of one proxied connection start within this window of each other.
const LEG_WINDOW_NS: i64 = 2_000_000_000;
/// Candidates looked at per link: keeps correlation linear on captures with huge groups
/// (one SNAT address fronting a million connections).
const MAX_GROUP: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct Path {
    pub id: u32,
    /// How the hops were linked: same-isn | proxy-header | xff | transparent.
    pub linked_by: Vec<&'static str>,
    pub hops: Vec<Hop>,
    /// What changes between hops, in order.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub input: usize,
    pub flow: u32,
    /// Capture interface (pcapng interface id) and, for `-i any` captures, the kernel's
    /// interface index: the two legs on a balancer usually differ.
    pub interface: u32,
    pub ifindex: Option<u32>,
    pub from: Endpoint,
    pub to: Endpoint,
    pub header: Option<String>,
    pub handshake_complete: Option<bool>,
    pub synack_seen: Option<bool>,
}

/// Union-find over flow indexes.
struct Links {
    parent: Vec<usize>,
    how: BTreeMap<usize, Vec<&'static str>>,
}

impl Links {
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.parent[r] != r {
            r = self.parent[r];
        }
        self.parent[i] = r;
        r
    }

    fn join(&mut self, a: usize, b: usize, how: &'static str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[rb] = ra;
            let moved = self.how.remove(&rb).unwrap_or_default();
            let e = self.how.entry(ra).or_default();
            e.extend(moved);
            if !e.contains(&how) {
                e.push(how);
            }
        }
    }
}

pub fn correlate(flows: &[FlowReport]) -> (Vec<Path>, Vec<Finding>) {
    let tcp: Vec<usize> = (0..flows.len())
        .filter(|&i| flows[i].proto == Proto::Tcp && flows[i].kind != "health-check")
        .collect();
    let mut links = Links {
        parent: (0..flows.len()).collect(),
        how: BTreeMap::new(),
    };
    let near =
        |a: usize, b: usize| (flows[a].first_ts_ns - flows[b].first_ts_ns).abs() <= LEG_WINDOW_NS;
    // Indexes, so that linking stays linear in the number of flows (hashed as the flow table
    // hashes: tens of thousands of flows go through them).
    let mut by_isn: HashMap<u32, Vec<usize>> = HashMap::default();
    let mut by_endpoint: HashMap<(IpAddr, u16), Vec<usize>> = HashMap::default();
    let mut by_client_ip: HashMap<IpAddr, Vec<usize>> = HashMap::default();
    for &i in &tcp {
        if let Some(n) = flows[i].tcp.as_ref().and_then(|t| t.client_isn) {
            by_isn.entry(n).or_default().push(i);
        }
        by_endpoint
            .entry((flows[i].client.ip, flows[i].client.port))
            .or_default()
            .push(i);
        by_client_ip.entry(flows[i].client.ip).or_default().push(i);
    }
    // The same client ISN, close in time, toward a different server or seen in another file.
    for group in by_isn
        .values()
        .filter(|g| g.len() > 1 && g.len() <= MAX_GROUP)
    {
        for (k, &a) in group.iter().enumerate() {
            for &b in &group[k + 1..] {
                let distinct = flows[a].input != flows[b].input
                    || flows[a].server.ip != flows[b].server.ip
                    || flows[a].server.port != flows[b].server.port;
                if distinct && near(a, b) {
                    links.join(a, b, "same-isn");
                }
            }
        }
    }
    // A header naming a client endpoint that another flow starts from.
    for &b in &tcp {
        let Some(c) = &flows[b].client_ip else {
            continue;
        };
        if c.by == "ip-source" {
            continue;
        }
        let how = if c.by.starts_with("proxy") {
            "proxy-header"
        } else {
            "xff"
        };
        let pool = match c.port {
            Some(port) => by_endpoint.get(&(c.ip, port)),
            None => by_client_ip.get(&c.ip),
        };
        let front = pool
            .into_iter()
            .flatten()
            .copied()
            .filter(|&a| a != b)
            .min_by_key(|&a| (flows[a].first_ts_ns - flows[b].first_ts_ns).abs());
        if let Some(a) = front.filter(|&a| c.port.is_some() || near(a, b)) {
            links.join(a, b, how);
        }
    }
    transparent_legs(flows, &tcp, &by_client_ip, &mut links);
    // Flows by their link root (roots ascending, flows in order within one): nearly all flows
    // are alone, so one sorted list, not a list per root.
    let mut by_root: Vec<(usize, usize)> = tcp.iter().map(|&i| (links.find(i), i)).collect();
    by_root.sort_unstable();
    let groups = by_root
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|g| g.len() > 1)
        .map(|g| (g[0].0, g.iter().map(|&(_, i)| i).collect::<Vec<usize>>()));
    let mut paths = Vec::new();
    let mut findings = Vec::new();
    for (root, mut members) in groups {
        // Client side first: earliest SYN, then the order the files were given.
        members.sort_by_key(|&i| (flows[i].first_ts_ns, flows[i].input));
        let hops: Vec<Hop> = members.iter().map(|&i| hop(&flows[i])).collect();
        let events = events(&members, flows, &mut findings);
        paths.push(Path {
            id: paths.len() as u32 + 1,
            linked_by: links.how.get(&root).cloned().unwrap_or_default(),
            hops,
            events,
        });
    }
    (paths, findings)
}

/// Transparent proxy: the client's own address toward a backend, a new port, just after a
/// connection from the same client toward another server. Only flows that began with a SYN
/// (not an orphan SYN-ACK), nothing else linked yet, and a front leg whose path has no hop to
/// that server already. Candidates come from the same client address, nearest first, bounded.
fn transparent_legs(
    flows: &[FlowReport],
    tcp: &[usize],
    by_client_ip: &HashMap<IpAddr, Vec<usize>>,
    links: &mut Links,
) {
    let opened = |i: usize| flows[i].tcp.as_ref().is_some_and(|t| t.syn.is_some());
    // A transparent leg carries no header of its own and does not come from a balancer range.
    let bare = |i: usize| {
        flows[i].inspection.proxy.is_none()
            && flows[i]
                .client_ip
                .as_ref()
                .is_none_or(|c| c.by == "ip-source")
            && flows[i].lb_range.is_none()
    };
    // The two legs are seen at different capture points: other files, or other interfaces of
    // one capture on the balancer.
    let elsewhere = |a: usize, b: usize| {
        let (fa, fb) = (&flows[a], &flows[b]);
        fa.input != fb.input
            || fa.interface != fb.interface
            || (fa.ifindex.is_some() && fa.ifindex != fb.ifindex)
    };
    for &b in tcp {
        let root = links.find(b);
        if root != b || links.how.contains_key(&root) || !opened(b) || !bare(b) {
            continue;
        }
        let Some(same_client) = by_client_ip.get(&flows[b].client.ip) else {
            continue;
        };
        let mut candidates: Vec<usize> = same_client
            .iter()
            .copied()
            .filter(|&a| {
                a != b
                    && opened(a)
                    && bare(a)
                    && elsewhere(a, b)
                    && flows[a].client.port != flows[b].client.port
                    && flows[a].server.ip != flows[b].server.ip
                    && flows[b].first_ts_ns >= flows[a].first_ts_ns
                    && flows[b].first_ts_ns - flows[a].first_ts_ns <= LEG_WINDOW_NS / 4
            })
            .collect();
        candidates.sort_by_key(|&a| std::cmp::Reverse(flows[a].first_ts_ns));
        candidates.truncate(MAX_GROUP);
        let front = candidates.into_iter().find(|&a| {
            let ra = links.find(a);
            !same_client
                .iter()
                .take(4 * MAX_GROUP)
                .any(|&x| x != b && flows[x].server.ip == flows[b].server.ip && links.find(x) == ra)
        });
        if let Some(a) = front {
            links.join(a, b, "transparent");
        }
    }
}

fn hop(f: &FlowReport) -> Hop {
    let header = f.inspection.proxy.as_ref().map(|h| {
        let cmd = h
            .command
            .map_or(String::new(), |c| format!(" {c:?}").to_uppercase());
        format!("PROXY v{}{cmd}", h.version)
    });
    let header = header.or_else(|| {
        f.client_ip
            .as_ref()
            .filter(|c| c.by == "xff" || c.by == "forwarded")
            .map(|c| format!("{} {}", c.by, c.ip))
    });
    Hop {
        input: f.input,
        flow: f.id,
        interface: f.interface,
        ifindex: f.ifindex,
        from: f.client.clone(),
        to: f.server.clone(),
        header,
        handshake_complete: f.tcp.as_ref().map(|t| t.handshake_complete),
        synack_seen: f.tcp.as_ref().map(|t| t.synack.is_some()),
    }
}

fn events(members: &[usize], flows: &[FlowReport], findings: &mut Vec<Finding>) -> Vec<String> {
    let mut out = Vec::new();
    for pair in members.windows(2) {
        let (a, b) = (&flows[pair[0]], &flows[pair[1]]);
        if a.client.ip != b.client.ip {
            out.push(format!(
                "client address {} replaced by {} between flow {} and flow {}",
                a.client.ip, b.client.ip, a.id, b.id
            ));
        }
        if a.server.ip != b.server.ip || a.server.port != b.server.port {
            out.push(format!(
                "destination {} becomes {}",
                ep(&a.server),
                ep(&b.server)
            ));
        }
        if a.inspection.proxy.is_none() {
            if let Some(h) = &b.inspection.proxy {
                out.push(format!(
                    "PROXY v{} header added before flow {} (client {})",
                    h.version,
                    b.id,
                    h.src.as_deref().unwrap_or("-")
                ));
            }
        }
        let a_synack = a.tcp.as_ref().is_some_and(|t| t.synack.is_some());
        let b_synack = b.tcp.as_ref().is_some_and(|t| t.synack.is_some());
        if b_synack && !a_synack {
            out.push(format!("the reply (SYN-ACK) is seen at flow {} but never at flow {}: it is lost on the way back", b.id, a.id));
            let mut f = Finding::new(
                "return-path.reply-lost-between-captures",
                Severity::Error,
                format!(
                    "flow {} (input {}) answers with a SYN-ACK, but flow {} (input {}) of the same connection never sees it: the reply is lost between those capture points",
                    b.id, b.input, a.id, a.input
                ),
            );
            f.flows = vec![a.id, b.id];
            f.packets = b.tcp_packet(|t| t.synack).into_iter().collect();
            findings.push(f);
        }
    }
    out
}

fn ep(e: &Endpoint) -> String {
    match e.ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{}", e.port),
        std::net::IpAddr::V4(v4) => format!("{v4}:{}", e.port),
    }
}
