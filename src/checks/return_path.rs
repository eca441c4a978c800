//! Return paths from one capture: do replies come back the way requests went? Looks across
//! flows of the whole capture, because a broken return path often shows as a second flow (a
//! SYN-ACK from the real server's own address, a UDP reply from an address the client never
//! asked). Findings name the flows and packets; services take `broken` from their flows.

use std::collections::BTreeSet;
use std::net::IpAddr;

use rustc_hash::FxHashMap as HashMap;

use super::{Finding, Severity};
use crate::flow::{Proto, RoleBy};
use crate::summary::FlowReport;

/// ICMP destination unreachable (v4 type 3, v6 type 1): the reply path hit a wall.
const ICMP4_UNREACHABLE: u8 = 3;
const ICMP6_UNREACHABLE: u8 = 1;

pub struct ReturnPath {
    pub findings: Vec<Finding>,
    /// Flows whose replies are shown not to come back.
    pub broken: BTreeSet<u32>,
}

pub fn analyze(flows: &[&FlowReport]) -> ReturnPath {
    let mut rp = ReturnPath {
        findings: Vec::new(),
        broken: BTreeSet::new(),
    };
    let considered: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| f.kind != "health-check")
        .collect();
    no_synack(&considered, &mut rp);
    synack_unacknowledged(&considered, &mut rp);
    synack_reset(&considered, &mut rp);
    orphan_synack(&considered, &mut rp);
    udp_reply_from_elsewhere(&considered, &mut rp);
    icmp_errors(&considered, &mut rp);
    asymmetric_next_hop(&considered, &mut rp);
    rp
}

/// The verdict word for one service's flows.
pub fn verdict(service_flows: &[&FlowReport], rp: &ReturnPath) -> super::ReturnPathVerdict {
    use super::ReturnPathVerdict as V;
    if service_flows.iter().any(|f| rp.broken.contains(&f.id)) {
        return V::Broken;
    }
    let round_trip = service_flows.iter().any(|f| match f.proto {
        Proto::Tcp => f.tcp.as_ref().is_some_and(|t| t.handshake_complete),
        Proto::Udp => f.packets.to_server > 0 && f.packets.to_client > 0,
    });
    if round_trip { V::Ok } else { V::Unknown }
}

fn tcp_where<'a>(
    flows: &[&'a FlowReport],
    pred: impl Fn(&crate::summary::TcpReport) -> bool,
) -> Vec<&'a FlowReport> {
    flows
        .iter()
        .copied()
        .filter(|f| f.tcp.as_ref().is_some_and(&pred))
        .collect()
}

fn push(rp: &mut ReturnPath, mut f: Finding, flows: &[&FlowReport], packets: Vec<u64>) {
    f.flows = flows.iter().map(|f| f.id).collect();
    f.packets = packets;
    rp.findings.push(f);
}

fn s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// SYN retransmitted, never answered (a single SYN may just be the capture's last packet).
fn no_synack(flows: &[&FlowReport], rp: &mut ReturnPath) {
    let hits = tcp_where(flows, |t| {
        t.syn.is_some()
            && t.synack.is_none()
            && t.rst_from_server.is_none()
            && t.rst_from_client.is_none()
            && t.syn_count >= 2
    });
    if hits.is_empty() {
        return;
    }
    rp.broken.extend(hits.iter().map(|f| f.id));
    let syns: u32 = hits
        .iter()
        .filter_map(|f| f.tcp.as_ref())
        .map(|t| t.syn_count)
        .sum();
    let mut f = Finding::new(
        "return-path.no-synack",
        Severity::Error,
        format!(
            "{} connection{} never got a SYN-ACK although the SYN was retransmitted ({syns} SYNs): nothing comes back this way",
            hits.len(),
            s(hits.len())
        ),
    );
    f.detail = Some("on a client or LB capture: the server's replies take another path (asymmetric routing, DSR without the VIP on the server) or the server is unreachable".into());
    f.fix = vec![
        "on the backend: route replies to clients via the balancer (default route or policy routing: `ip rule add fwmark 1 lookup 100`)".into(),
        "for DSR: the VIP on a non-ARP interface (`ip addr add VIP/32 dev lo`, sysctl `arp_ignore=1`, `arp_announce=2`)".into(),
    ];
    f.confirm.tcpdump = Some(format!(
        "tcpdump -nn -r CAPTURE 'tcp port {} and tcp[tcpflags] & tcp-syn != 0'",
        hits[0].server.port
    ));
    let packets = hits
        .iter()
        .filter_map(|f| f.tcp_packet(|t| t.syn))
        .collect();
    push(rp, f, &hits, packets);
}

/// The server answers (SYN-ACK) but the client's ACK never arrives, and the SYN or SYN-ACK is
/// retransmitted: the reply went somewhere the client is not.
fn synack_unacknowledged(flows: &[&FlowReport], rp: &mut ReturnPath) {
    let hits = tcp_where(flows, |t| {
        t.synack.is_some()
            && t.syn.is_some()
            && !t.handshake_complete
            && t.rst_from_client.is_none()
            && t.rst_from_server.is_none()
            && (t.syn_count >= 2 || t.synack_count >= 2)
    });
    if hits.is_empty() {
        return;
    }
    rp.broken.extend(hits.iter().map(|f| f.id));
    let mut f = Finding::new(
        "return-path.synack-lost",
        Severity::Error,
        format!(
            "{} connection{}: the server answers with a SYN-ACK but the client never completes the handshake and retransmits: the SYN-ACK does not reach it",
            hits.len(),
            s(hits.len())
        ),
    );
    f.detail = Some("typical of asymmetric routing: the backend's replies leave by its default route instead of through the balancer, and are dropped (blackhole, rp_filter) or arrive from an address the client never contacted".into());
    f.fix = vec![
        "route replies through the balancer: backend default route via the LB, or `ip rule add from <backend-ip> lookup <table-via-LB>`".into(),
        "with IP transparency (`proxy_bind $remote_addr transparent`): mark replies and route them back through the proxy host (`iptables -t mangle … -j MARK --set-mark 1`, `ip rule add fwmark 1 lookup 100`, `ip route add local 0.0.0.0/0 dev lo table 100`)".into(),
        "relax reverse-path filtering where replies legitimately return on another interface: sysctl `net.ipv4.conf.all.rp_filter=2`".into(),
    ];
    let packets = hits
        .iter()
        .filter_map(|f| f.tcp_packet(|t| t.synack))
        .collect();
    push(rp, f, &hits, packets);
}

/// The server's SYN-ACK is answered by a RST from the client, not an ACK: the client did not
/// recognise it (it came from an address the client never contacted — the server's own
/// instead of the VIP — after the reply bypassed the balancer's NAT).
fn synack_reset(flows: &[&FlowReport], rp: &mut ReturnPath) {
    let hits = tcp_where(flows, |t| {
        t.syn.is_some()
            && t.synack.is_some()
            && !t.handshake_complete
            && t.rst_from_client.is_some()
    });
    if hits.is_empty() {
        return;
    }
    rp.broken.extend(hits.iter().map(|f| f.id));
    let mut f = Finding::new(
        "return-path.synack-reset",
        Severity::Error,
        format!(
            "{} connection{}: the client answers the server's SYN-ACK with a RST: it did not recognise the reply, which left without passing back through the balancer",
            hits.len(),
            s(hits.len())
        ),
    );
    f.detail = Some("with DNAT or DSR the reply must carry the VIP as its source; a reply routed around the balancer keeps the real server's address and the client resets it".into());
    f.fix = vec![
        "route the backend's replies through the balancer (default route via the LB, or policy routing), or for DSR answer from the VIP (VIP on loopback, `arp_ignore=1`, `arp_announce=2`)".into(),
    ];
    let packets = hits
        .iter()
        .filter_map(|f| f.tcp_packet(|t| t.rst_from_client))
        .collect();
    push(rp, f, &hits, packets);
}

/// Findings of one kind grouped by a key (what they say): connections that say the same
/// thing make one finding, not one line each (a backscatter capture has thousands).
type Plural = fn(&str, &str, usize) -> String;

struct Grouped<'a> {
    order: Vec<Group<'a>>,
    by_key: HashMap<String, usize>,
}

struct Group<'a> {
    key: String,
    finding: Finding,
    /// The summary of `n` > 1 connections, from the key and the first one's summary.
    plural: Plural,
    /// Connections added (each `add`).
    connections: usize,
    flows: Vec<&'a FlowReport>,
    packets: Vec<u64>,
}

impl<'a> Grouped<'a> {
    fn new() -> Self {
        Self {
            order: Vec::new(),
            by_key: HashMap::default(),
        }
    }

    /// Adds one connection's flows and packets under `key`; the first one's finding is made
    /// by `make`.
    fn add(
        &mut self,
        key: String,
        make: impl FnOnce() -> Finding,
        plural: Plural,
        flows: &[&'a FlowReport],
        packets: impl IntoIterator<Item = u64>,
    ) {
        let at = if let Some(&at) = self.by_key.get(&key) {
            at
        } else {
            self.by_key.insert(key.clone(), self.order.len());
            self.order.push(Group {
                key,
                finding: make(),
                plural,
                connections: 0,
                flows: Vec::new(),
                packets: Vec::new(),
            });
            self.order.len() - 1
        };
        let g = &mut self.order[at];
        g.connections += 1;
        g.flows.extend_from_slice(flows);
        g.packets.extend(packets);
    }

    /// The findings, in the order their first connection came; one that stands for several
    /// connections says so. A flow or packet two connections share is listed once.
    fn push_all(self, rp: &mut ReturnPath) {
        for mut g in self.order {
            if g.connections > 1 {
                g.finding.summary = (g.plural)(&g.key, &g.finding.summary, g.connections);
            }
            let mut seen = BTreeSet::new();
            g.flows.retain(|f| seen.insert(f.id));
            rp.broken.extend(g.flows.iter().map(|f| f.id));
            g.packets.sort_unstable();
            g.packets.dedup();
            push(rp, g.finding, &g.flows, g.packets);
        }
    }
}

/// A SYN-ACK arrives for a connection the client never opened with that address: the real
/// server answering directly instead of through the VIP (DSR without the VIP configured, or a
/// default route that bypasses the balancer). The client resets it.
fn orphan_synack(flows: &[&FlowReport], rp: &mut ReturnPath) {
    // The client's own SYN, by its endpoint: the first unanswered one in flow order (an
    // orphan itself has no SYN, so it is never its own).
    let mut asked_by: HashMap<(IpAddr, u16), &FlowReport> = HashMap::default();
    for &f in flows {
        if f.tcp
            .as_ref()
            .is_some_and(|t| t.syn.is_some() && t.synack.is_none())
        {
            asked_by.entry((f.client.ip, f.client.port)).or_insert(f);
        }
    }
    // One list for both kinds, so that findings keep the order of their first orphan.
    let mut groups = Grouped::new();
    for orphan in flows
        .iter()
        .copied()
        .filter(|f| f.role_by == RoleBy::SynAck && f.tcp.as_ref().is_some_and(|t| t.syn.is_none()))
    {
        let asked = asked_by
            .get(&(orphan.client.ip, orphan.client.port))
            .copied()
            .filter(|a| a.id != orphan.id);
        let mut packets: Vec<u64> = orphan.tcp_packet(|t| t.synack).into_iter().collect();
        packets.extend(orphan.tcp_packet(|t| t.rst_from_client));
        if let Some(a) = asked {
            let text = format!(
                "the client's SYN went to {}:{} but the SYN-ACK came from {}:{}: the real server answers directly, and the client {}",
                a.server.ip,
                a.server.port,
                orphan.server.ip,
                orphan.server.port,
                if orphan
                    .tcp
                    .as_ref()
                    .is_some_and(|t| t.rst_from_client.is_some())
                {
                    "resets it"
                } else {
                    "ignores it"
                }
            );
            packets.extend(a.tcp_packet(|t| t.syn));
            let plural: Plural = |_, text, n| format!("{text} ({n} connections)");
            groups.add(
                text.clone(),
                || orphan_finding(text),
                plural,
                &[orphan, a],
                packets,
            );
        } else {
            let text = format!(
                "a SYN-ACK from {}:{} to {}:{} answers no SYN in this capture",
                orphan.server.ip, orphan.server.port, orphan.client.ip, orphan.client.port
            );
            let key = format!("{}:{}", orphan.server.ip, orphan.server.port);
            let plural: Plural =
                |from, _, n| format!("{n} SYN-ACKs from {from} answer no SYN in this capture");
            groups.add(key, || orphan_finding(text), plural, &[orphan], packets);
        }
    }
    groups.push_all(rp);
}

fn orphan_finding(summary: String) -> Finding {
    let mut f = Finding::new("return-path.orphan-synack", Severity::Error, summary);
    f.fix = vec![
        "replies must leave from the address the client contacted: route them back through the balancer, or for DSR put the VIP on the server's loopback (`ip addr add VIP/32 dev lo`, `arp_ignore=1`, `arp_announce=2`) so it answers from the VIP".into(),
    ];
    f
}

/// UDP: a request to one address, a reply from another (DSR without origin NAT).
fn udp_reply_from_elsewhere(flows: &[&FlowReport], rp: &mut ReturnPath) {
    // Replies without a request, by the client endpoint they went to, in flow order.
    let mut replies_to: HashMap<(IpAddr, u16), Vec<&FlowReport>> = HashMap::default();
    for &f in flows {
        if f.proto == Proto::Udp && f.packets.to_server == 0 && f.packets.to_client > 0 {
            replies_to
                .entry((f.client.ip, f.client.port))
                .or_default()
                .push(f);
        }
    }
    let mut groups = Grouped::new();
    for req in flows
        .iter()
        .copied()
        .filter(|f| f.proto == Proto::Udp && f.packets.to_server > 0 && f.packets.to_client == 0)
    {
        let Some(reply) = replies_to
            .get(&(req.client.ip, req.client.port))
            .into_iter()
            .flatten()
            .copied()
            .find(|f| f.id != req.id && f.server.ip != req.server.ip)
        else {
            continue;
        };
        if crate::summary::Ttl::is_initial(reply.ttl.to_client) {
            // The reply still has its initial TTL: this capture is on the server that sent it,
            // and the other source address is its own doing (origin NAT for DSR), by design.
            continue;
        }
        let text = format!(
            "the query went to {}:{} but the reply came from {}:{}: the client's socket does not accept it{}",
            req.server.ip,
            req.server.port,
            reply.server.ip,
            reply.server.port,
            if reply.icmp_errors.is_empty() {
                ""
            } else {
                " and answers with ICMP unreachable"
            }
        );
        let make = || {
            let mut f = Finding::new(
                "return-path.reply-not-from-vip",
                Severity::Error,
                text.clone(),
            );
            f.detail = Some("direct server return without origin NAT: the real server replies from its own address instead of the VIP".into());
            f.fix = vec![
                "rewrite the source of replies to the VIP on the real server (nftables: `ip saddr <server-ip> udp sport <port> snat to <VIP>` in a postrouting/egress hook, or `tc … action nat egress <server-ip> <VIP>`)".into(),
                "or add the VIP to the server's loopback and have the service answer from it".into(),
            ];
            f
        };
        let packets = [req.first_packet, reply.first_packet]
            .into_iter()
            .chain(reply.icmp_errors.iter().map(|e| e.packet));
        let plural: Plural = |_, text, n| format!("{text} ({n} queries)");
        groups.add(text.clone(), make, plural, &[req, reply], packets);
    }
    groups.push_all(rp);
}

fn icmp_errors(flows: &[&FlowReport], rp: &mut ReturnPath) {
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| !f.icmp_errors.is_empty())
        .collect();
    if hits.is_empty() {
        return;
    }
    let unreachable: Vec<u32> = hits
        .iter()
        .filter(|f| {
            f.icmp_errors.iter().any(|e| {
                e.icmp_type
                    == if e.version == 6 {
                        ICMP6_UNREACHABLE
                    } else {
                        ICMP4_UNREACHABLE
                    }
            })
        })
        .map(|f| f.id)
        .collect();
    rp.broken.extend(unreachable.iter().copied());
    let kinds: BTreeSet<String> = hits
        .iter()
        .flat_map(|f| {
            f.icmp_errors
                .iter()
                .map(|e| icmp_name(e.version, e.icmp_type, e.code))
        })
        .collect();
    let mut f = Finding::new(
        "return-path.icmp-error",
        if unreachable.is_empty() {
            Severity::Warning
        } else {
            Severity::Error
        },
        format!(
            "{} flow{} drew ICMP errors: {}",
            hits.len(),
            s(hits.len()),
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        ),
    );
    let not_kept: u64 = hits.iter().map(|f| u64::from(f.icmp_errors_not_kept)).sum();
    if not_kept > 0 {
        f.detail = Some(format!(
            "{not_kept} more ICMP error{} about {} {} counted, not listed: the first {} of each flow are kept, and the first of each other type and code",
            s(not_kept as usize),
            if hits.len() == 1 {
                "this flow"
            } else {
                "these flows"
            },
            if not_kept == 1 { "is" } else { "are" },
            crate::flow::MAX_ICMP_ERRORS
        ));
    }
    f.confirm.tcpdump = Some("tcpdump -nn -v -r CAPTURE 'icmp or icmp6'".into());
    let packets = hits
        .iter()
        .flat_map(|f| f.icmp_errors.iter().map(|e| e.packet))
        .collect();
    push(rp, f, &hits, packets);
}

fn icmp_name(version: u8, t: u8, code: u8) -> String {
    match (version, t, code) {
        (4, 3, 0) => "network unreachable".into(),
        (4, 3, 1) => "host unreachable".into(),
        (4, 3, 3) | (6, 1, 4) => "port unreachable".into(),
        (4, 3, 4) => "fragmentation needed".into(),
        (4, 3, 13) | (6, 1, 1) => "administratively prohibited".into(),
        (6, 1, 3) => "address unreachable".into(),
        (6, 2, _) => "packet too big".into(),
        (4, 11, _) | (6, 3, _) => "time exceeded".into(),
        (4, 5, _) => "redirect".into(),
        (v, t, c) => format!("ICMPv{v} type {t} code {c}"),
    }
}

/// Requests arrive from one router, replies leave toward another.
fn asymmetric_next_hop(flows: &[&FlowReport], rp: &mut ReturnPath) {
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            f.next_hop
                .as_ref()
                .is_some_and(|n| n.requests_via != n.replies_via)
        })
        .collect();
    let Some(first) = hits.first() else { return };
    let n = first.next_hop.as_ref().expect("filtered on it");
    let mut f = Finding::new(
        "return-path.asymmetric-next-hop",
        Severity::Warning,
        format!(
            "{} flow{}: traffic {} the {} through {} but replies {} through {}: the return path bypasses the way in",
            hits.len(),
            s(hits.len()),
            if n.local == "server" {
                "reaches"
            } else {
                "leaves"
            },
            n.local,
            n.requests_via,
            if n.local == "server" {
                "leave"
            } else {
                "arrive"
            },
            n.replies_via
        ),
    );
    f.detail = Some("fine behind ECMP routers; with a stateful balancer or firewall on the way in, the replies must come back through it".into());
    f.fix = vec!["point the return route at the balancer (default route, or `ip rule` source/fwmark routing) and check `rp_filter`".into()];
    let packets = hits.iter().map(|f| f.first_packet).collect();
    push(rp, f, &hits, packets);
}
