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
use crate::flow::{Proto, endpoint_hash};
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

/// A flow index as the indexes below hold it: four bytes, not eight (they hold one or more per
/// TCP flow, and their peak is the checks' share of the peak memory).
fn ix(i: usize) -> u32 {
    u32::try_from(i).expect("flow ids are u32: fewer flows than that")
}

/// Union-find over flow indexes.
struct Links {
    parent: Vec<u32>,
    how: BTreeMap<usize, Vec<&'static str>>,
}

impl Links {
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.parent[r] as usize != r {
            r = self.parent[r] as usize;
        }
        self.parent[i] = ix(r);
        r
    }

    fn join(&mut self, a: usize, b: usize, how: &'static str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[rb] = ix(ra);
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
    let tcp: Vec<u32> = (0..flows.len())
        .filter(|&i| flows[i].proto == Proto::Tcp && flows[i].kind != "health-check")
        .map(ix)
        .collect();
    let tcp_flows = || tcp.iter().map(|&i| i as usize);
    let mut links = Links {
        parent: (0..ix(flows.len())).collect(),
        how: BTreeMap::new(),
    };
    let near =
        |a: usize, b: usize| (flows[a].first_ts_ns - flows[b].first_ts_ns).abs() <= LEG_WINDOW_NS;
    // Indexes, so that linking stays linear in the number of flows. Sorted lists where a hash
    // map would hold a list per key (nearly every flow has its own ISN and endpoint): 8 and 16
    // bytes a flow, not ~70 and ~90; each key's flows stay in flow order.
    let mut by_isn: Vec<(u32, u32)> = tcp_flows()
        .filter_map(|i| flows[i].tcp.as_ref()?.client_isn.map(|n| (n, ix(i))))
        .collect();
    by_isn.sort_unstable();
    let mut by_endpoint: Vec<(u64, u32)> = tcp_flows()
        .map(|i| {
            (
                endpoint_hash(flows[i].client.ip, flows[i].client.port),
                ix(i),
            )
        })
        .collect();
    by_endpoint.sort_unstable();
    let mut by_client_ip: HashMap<IpAddr, Vec<u32>> = HashMap::default();
    for i in tcp_flows() {
        by_client_ip
            .entry(flows[i].client.ip)
            .or_default()
            .push(ix(i));
    }
    // Made for the addresses looked up only (a header's client, a transparent leg's).
    let mut by_client_time = InTime::default();
    // The same client ISN, close in time, toward a different server or seen in another file.
    // (Groups share no flow, so the order they are taken in does not change the links.)
    for group in by_isn
        .chunk_by(|x, y| x.0 == y.0)
        .filter(|g| g.len() > 1 && g.len() <= MAX_GROUP)
    {
        for (k, &(_, a)) in group.iter().enumerate() {
            let a = a as usize;
            for &(_, b) in &group[k + 1..] {
                let b = b as usize;
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
    for b in tcp_flows() {
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
        let front = match c.port {
            Some(port) => {
                let h = endpoint_hash(c.ip, port);
                let from = by_endpoint.partition_point(|&(x, _)| x < h);
                by_endpoint[from..]
                    .iter()
                    .take_while(|&&(x, _)| x == h)
                    .map(|&(_, a)| a as usize)
                    .filter(|&a| {
                        a != b && flows[a].client.ip == c.ip && flows[a].client.port == port
                    })
                    .min_by_key(|&a| (flows[a].first_ts_ns - flows[b].first_ts_ns).abs())
            }
            // A client address alone can have started thousands of flows (one client behind
            // an X-Forwarded-For balancer): looked up by time, not scanned for every header.
            None => by_client_time
                .get(flows, &by_client_ip, c.ip)
                .and_then(|list| nearest_in_time(list, flows[b].first_ts_ns, b)),
        };
        if let Some(a) = front.filter(|&a| c.port.is_some() || near(a, b)) {
            links.join(a, b, how);
        }
    }
    transparent_legs(flows, &tcp, &by_client_ip, &mut by_client_time, &mut links);
    // Flows by their link root (roots ascending, flows in order within one): nearly all flows
    // are alone, so one sorted list, not a list per root.
    let mut by_root: Vec<(u32, u32)> = tcp_flows().map(|i| (ix(links.find(i)), ix(i))).collect();
    by_root.sort_unstable();
    let groups = by_root
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|g| g.len() > 1)
        .map(|g| {
            let members = g.iter().map(|&(_, i)| i as usize).collect::<Vec<usize>>();
            (g[0].0 as usize, members)
        });
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
    tcp: &[u32],
    by_client_ip: &HashMap<IpAddr, Vec<u32>>,
    by_client_time: &mut InTime,
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
    // Seen from one point only (one file, one interface), no two flows are legs of this kind:
    // nothing to look for (and a single client of tens of thousands of flows costs nothing).
    let first = tcp.first().map(|&i| &flows[i as usize]);
    let one_point = tcp.iter().all(|&i| {
        first.is_some_and(|f| {
            let g = &flows[i as usize];
            (g.input, g.interface, g.ifindex) == (f.input, f.interface, f.ifindex)
        })
    });
    if one_point {
        return;
    }
    for b in tcp.iter().map(|&b| b as usize) {
        let root = links.find(b);
        if root != b || links.how.contains_key(&root) || !opened(b) || !bare(b) {
            continue;
        }
        let (Some(same_client), Some(in_time)) = (
            by_client_ip.get(&flows[b].client.ip),
            by_client_time.get(flows, by_client_ip, flows[b].client.ip),
        ) else {
            continue;
        };
        // Flows that began up to a quarter window before this one, latest first (ties in
        // flow order), found by time rather than by scanning every flow of the client.
        let tb = flows[b].first_ts_ns;
        let from = in_time.partition_point(|&(ts, _)| ts < tb.saturating_sub(LEG_WINDOW_NS / 4));
        let to = in_time.partition_point(|&(ts, _)| ts <= tb);
        let candidates: Vec<usize> = in_time[from..to]
            .chunk_by(|x, y| x.0 == y.0)
            .rev()
            .flatten()
            .map(|&(_, a)| a)
            .filter(|&a| {
                a != b
                    && opened(a)
                    && bare(a)
                    && elsewhere(a, b)
                    && flows[a].client.port != flows[b].client.port
                    && flows[a].server.ip != flows[b].server.ip
            })
            .take(MAX_GROUP)
            .collect();
        let front = candidates.into_iter().find(|&a| {
            let ra = links.find(a);
            !same_client
                .iter()
                .map(|&x| x as usize)
                .take(4 * MAX_GROUP)
                .any(|x| x != b && flows[x].server.ip == flows[b].server.ip && links.find(x) == ra)
        });
        if let Some(a) = front {
            links.join(a, b, "transparent");
        }
    }
}

/// Flows of one client address as (first packet time, index), by time, then index.
type ByTime = Vec<(i64, usize)>;

/// The flows of each client address by time, made when an address is first looked up.
#[derive(Default)]
struct InTime(HashMap<IpAddr, ByTime>);

impl InTime {
    fn get(
        &mut self,
        flows: &[FlowReport],
        by_client_ip: &HashMap<IpAddr, Vec<u32>>,
        ip: IpAddr,
    ) -> Option<&ByTime> {
        let list = by_client_ip.get(&ip)?;
        Some(self.0.entry(ip).or_insert_with(|| {
            let mut out: ByTime = list
                .iter()
                .map(|&i| (flows[i as usize].first_ts_ns, i as usize))
                .collect();
            out.sort_unstable();
            out
        }))
    }
}

/// The flow of `list` (other than `not`) that began nearest to `t`; of several equally near,
/// the first in flow order (as a scan of the flows in order finds it).
fn nearest_in_time(list: &[(i64, usize)], t: i64, not: usize) -> Option<usize> {
    // In i128: two capture times can be further apart than an i64 holds.
    let d = |ts: i64| (i128::from(ts) - i128::from(t)).abs();
    let at = list.partition_point(|&(ts, _)| ts < t);
    let early = || list[..at].iter().rev().filter(|&&(_, i)| i != not);
    let late = || list[at..].iter().filter(|&&(_, i)| i != not);
    let distance = early()
        .next()
        .into_iter()
        .chain(late().next())
        .map(|&(ts, _)| d(ts))
        .min()?;
    // Every flow at that distance: a run before `t` and a run after (one run when it is 0).
    early()
        .take_while(|&&(ts, _)| d(ts) == distance)
        .chain(
            late()
                .skip_while(|&&(ts, _)| d(ts) < distance)
                .take_while(|&&(ts, _)| d(ts) == distance),
        )
        .map(|&(_, i)| i)
        .min()
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

#[cfg(test)]
mod tests {
    use super::nearest_in_time;

    /// What the scan over every flow of the client found (`min_by_key` over the flows in
    /// order: the nearest, and of equally near ones the first).
    fn scanned(times: &[i64], t: i64, not: usize) -> Option<usize> {
        (0..times.len())
            .filter(|&i| i != not)
            .min_by_key(|&i| (i128::from(times[i]) - i128::from(t)).abs())
    }

    #[test]
    fn the_nearest_flow_by_time_is_the_one_a_scan_finds() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: i64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            i64::try_from(seed >> 33).expect("31 bits") % n
        };
        for _ in 0..3_000 {
            let len = 1 + usize::try_from(next(12)).expect("small");
            // Few distinct times: ties and equal distances on both sides are common.
            let times: Vec<i64> = (0..len).map(|_| next(8) * 10).collect();
            let mut list: Vec<(i64, usize)> = times.iter().copied().zip(0..).collect();
            list.sort_unstable();
            // `not` at its own time (as correlation asks), or anywhere.
            for (not, own_time) in [
                (0, true),
                (len / 2, true),
                (len - 1, false),
                (usize::MAX, false),
            ] {
                let t = if own_time { times[not] } else { next(90) - 5 };
                assert_eq!(
                    nearest_in_time(&list, t, not),
                    scanned(&times, t, not),
                    "{times:?} t={t} not={not}"
                );
            }
        }
        // Times further apart than an i64 holds.
        let list = [(i64::MIN, 0), (0, 1), (i64::MAX, 2)];
        assert_eq!(nearest_in_time(&list, i64::MAX, 2), Some(1));
        assert_eq!(nearest_in_time(&list, i64::MIN, 0), Some(1));
        assert_eq!(nearest_in_time(&list[..1], i64::MAX, 9), Some(0));
    }
}
