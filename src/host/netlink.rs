//! Two rtnetlink questions, asked and parsed in safe code over the byte socket of
//! `source::live::NetlinkSocket`: the policy rules (`ip rule`), and the route the kernel picks
//! for one destination from one source (`ip route get DST from SRC`), which honours rules and
//! every table, unlike /proc/net/route.
//!
//! Message layout (linux/netlink.h, linux/rtnetlink.h, linux/fib_rules.h): a 16-byte
//! `nlmsghdr` in host byte order, a 12-byte family header (`rtmsg` / `fib_rule_hdr`, the same
//! size and the same first bytes), then 4-byte aligned attributes (`rtattr`: length, type).

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::source::live::NetlinkSocket;

const NLMSG_HEADER_LEN: usize = 16;
const FAMILY_HEADER_LEN: usize = 12;
const RTATTR_HEADER_LEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `rtattr` types of a route.
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
/// Attribute types of a rule.
const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_IIFNAME: u16 = 3;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_OIFNAME: u16 = 17;
/// Byte offsets in the family header.
const FAMILY_DST_LEN: usize = 1;
const FAMILY_SRC_LEN: usize = 2;
const FAMILY_TABLE: usize = 4;
/// `rtm_type` in rtmsg; `action` in fib_rule_hdr.
const RTMSG_TYPE: usize = 7;
const RULE_ACTION: usize = 7;
const RECV_BUFFER: usize = 64 * 1024;
/// `rtm_flags` (offset 8 of rtmsg): report the table the lookup used, not always main (as `ip
/// route get` asks).
const RTMSG_FLAGS: usize = 8;
const RTM_F_LOOKUP_TABLE: u32 = 0x1000;

/// The kernel's answer to `ip route get`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteGet {
    /// unicast | local | blackhole | unreachable | prohibit | type-N
    pub kind: String,
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// main, local, default or the number.
    pub table: String,
    pub prefsrc: Option<IpAddr>,
}

fn push_attr(msg: &mut Vec<u8>, ty: u16, value: &[u8]) {
    let len = RTATTR_HEADER_LEN + value.len();
    msg.extend_from_slice(&(len as u16).to_ne_bytes());
    msg.extend_from_slice(&ty.to_ne_bytes());
    msg.extend_from_slice(value);
    msg.resize(msg.len().next_multiple_of(4), 0);
}

fn request(
    ty: u16,
    flags: u16,
    family_header: [u8; FAMILY_HEADER_LEN],
    attrs: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut msg = vec![0u8; NLMSG_HEADER_LEN];
    msg.extend_from_slice(&family_header);
    for (t, v) in attrs {
        push_attr(&mut msg, *t, v);
    }
    let len = msg.len() as u32;
    msg[0..4].copy_from_slice(&len.to_ne_bytes());
    msg[4..6].copy_from_slice(&ty.to_ne_bytes());
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
    msg[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg
}

/// One netlink message: its type and payload.
struct Message {
    ty: u16,
    payload: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Splits a datagram into messages; stops at a length that does not fit.
fn split(datagram: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(ty)) = (u32_at(datagram, at), u16_at(datagram, at + 4)) {
        let len = len as usize;
        if len < NLMSG_HEADER_LEN || at + len > datagram.len() {
            break;
        }
        out.push(Message {
            ty,
            payload: datagram[at + NLMSG_HEADER_LEN..at + len].to_vec(),
        });
        at += len.next_multiple_of(4);
    }
    out
}

/// Sends `req` and collects the answer's messages of type `want` until DONE, an error, or (not
/// a dump) the first answer.
fn ask(req: &[u8], want: u16, dump: bool) -> io::Result<Vec<Vec<u8>>> {
    let sock = NetlinkSocket::open()?;
    sock.send(req)?;
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut out = Vec::new();
    loop {
        let n = sock.recv(&mut buf)?;
        for m in split(&buf[..n]) {
            match m.ty {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno =
                        u32_at(&m.payload, 0).map_or(0, |e| i32::from_ne_bytes(e.to_ne_bytes()));
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                    return Ok(out);
                }
                t if t == want => {
                    out.push(m.payload);
                    if !dump {
                        return Ok(out);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Attributes after the family header: (type, value).
fn attrs(payload: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = FAMILY_HEADER_LEN;
    while let (Some(len), Some(ty)) = (u16_at(payload, at), u16_at(payload, at + 2)) {
        let len = len as usize;
        if len < RTATTR_HEADER_LEN || at + len > payload.len() {
            break;
        }
        // The top bits of the type are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
        out.push((ty & 0x3fff, &payload[at + RTATTR_HEADER_LEN..at + len]));
        at += len.next_multiple_of(4);
    }
    out
}

fn ip_of(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?))),
        _ => None,
    }
}

fn table_name(t: u32) -> String {
    match t {
        253 => "default".into(),
        254 => "main".into(),
        255 => "local".into(),
        n => n.to_string(),
    }
}

fn family_of(ip: IpAddr) -> (u8, Vec<u8>, u8) {
    match ip {
        IpAddr::V4(a) => (AF_INET, a.octets().to_vec(), 32),
        IpAddr::V6(a) => (AF_INET6, a.octets().to_vec(), 128),
    }
}

/// `ip route get DST [from SRC]`.
pub fn route_get(
    dst: IpAddr,
    src: Option<IpAddr>,
    ifname: &dyn Fn(u32) -> Option<String>,
) -> io::Result<RouteGet> {
    let (family, dst_bytes, dst_len) = family_of(dst);
    let mut header = [0u8; FAMILY_HEADER_LEN];
    header[0] = family;
    header[FAMILY_DST_LEN] = dst_len;
    header[RTMSG_FLAGS..RTMSG_FLAGS + 4].copy_from_slice(&RTM_F_LOOKUP_TABLE.to_ne_bytes());
    let mut a = vec![(RTA_DST, dst_bytes)];
    if let Some(src) = src.filter(|s| s.is_ipv4() == dst.is_ipv4()) {
        let (_, bytes, len) = family_of(src);
        header[FAMILY_SRC_LEN] = len;
        a.push((RTA_SRC, bytes));
    }
    let req = request(RTM_GETROUTE, NLM_F_REQUEST, header, &a);
    let answer = ask(&req, RTM_NEWROUTE, false)?;
    let p = answer
        .first()
        .ok_or_else(|| io::Error::other("no answer to the route request"))?;
    parse_route(p, ifname).ok_or_else(|| io::Error::other("malformed route answer"))
}

fn parse_route(p: &[u8], ifname: &dyn Fn(u32) -> Option<String>) -> Option<RouteGet> {
    let mut r = RouteGet {
        kind: match *p.get(RTMSG_TYPE)? {
            1 => "unicast".into(),
            2 => "local".into(),
            6 => "blackhole".into(),
            7 => "unreachable".into(),
            8 => "prohibit".into(),
            n => format!("type-{n}"),
        },
        gateway: None,
        dev: None,
        table: table_name(u32::from(*p.get(FAMILY_TABLE)?)),
        prefsrc: None,
    };
    for (ty, v) in attrs(p) {
        match ty {
            RTA_GATEWAY => r.gateway = ip_of(v),
            RTA_OIF => r.dev = u32_at(v, 0).and_then(ifname),
            RTA_PREFSRC => r.prefsrc = ip_of(v),
            RTA_TABLE => r.table = table_name(u32_at(v, 0)?),
            _ => {}
        }
    }
    Some(r)
}

/// `ip rule` for IPv4 and IPv6, as `ip rule` prints them (IPv6 ones marked).
pub fn rules() -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for family in [AF_INET, AF_INET6] {
        let mut header = [0u8; FAMILY_HEADER_LEN];
        header[0] = family;
        let req = request(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, header, &[]);
        for p in ask(&req, RTM_NEWRULE, true)? {
            if let Some(line) = format_rule(&p, family == AF_INET6) {
                out.push(line);
            }
        }
    }
    Ok(out)
}

fn c_string(v: &[u8]) -> String {
    String::from_utf8_lossy(v)
        .trim_end_matches('\0')
        .to_string()
}

fn format_rule(p: &[u8], v6: bool) -> Option<String> {
    let mut prio = 0;
    let mut table = u32::from(*p.get(FAMILY_TABLE)?);
    let (mut src, mut dst, mut mark_value, mut mark_mask, mut iif, mut oif) =
        (None, None, None, None, None, None);
    for (ty, v) in attrs(p) {
        match ty {
            FRA_PRIORITY => prio = u32_at(v, 0)?,
            FRA_TABLE => table = u32_at(v, 0)?,
            FRA_SRC => src = ip_of(v),
            FRA_DST => dst = ip_of(v),
            FRA_FWMARK => mark_value = u32_at(v, 0),
            FRA_FWMASK => mark_mask = u32_at(v, 0),
            FRA_IIFNAME => {
                iif = Some(c_string(v));
            }
            FRA_OIFNAME => {
                oif = Some(c_string(v));
            }
            _ => {}
        }
    }
    let with_len = |ip: Option<IpAddr>, len: u8| {
        ip.map(|ip| {
            if (ip.is_ipv4() && len == 32) || len == 128 {
                ip.to_string()
            } else {
                format!("{ip}/{len}")
            }
        })
    };
    let mut line = format!(
        "{prio}: from {}",
        with_len(src, *p.get(FAMILY_SRC_LEN)?).unwrap_or_else(|| "all".into())
    );
    if let Some(d) = with_len(dst, *p.get(FAMILY_DST_LEN)?) {
        let _ = write!(line, " to {d}");
    }
    if let Some(m) = mark_value {
        let _ = write!(line, " fwmark {m:#x}");
        if let Some(k) = mark_mask.filter(|&k| k != u32::MAX) {
            let _ = write!(line, "/{k:#x}");
        }
    }
    if let Some(i) = iif {
        let _ = write!(line, " iif {i}");
    }
    if let Some(o) = oif {
        let _ = write!(line, " oif {o}");
    }
    match *p.get(RULE_ACTION)? {
        1 => {
            let _ = write!(line, " lookup {}", table_name(table));
        }
        2 => line.push_str(" goto"),
        3 => line.push_str(" nop"),
        6 => line.push_str(" blackhole"),
        7 => line.push_str(" unreachable"),
        8 => line.push_str(" prohibit"),
        n => {
            let _ = write!(line, " action {n}");
        }
    }
    if v6 {
        line.push_str(" (IPv6)");
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_message(action: u8, table: u8, attrs_: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut header = [0u8; FAMILY_HEADER_LEN];
        header[0] = AF_INET;
        header[FAMILY_TABLE] = table;
        header[RULE_ACTION] = action;
        // A message as the kernel sends it, minus the nlmsghdr.
        request(RTM_NEWRULE, 0, header, attrs_)[NLMSG_HEADER_LEN..].to_vec()
    }

    #[test]
    fn fwmark_rule_reads_as_ip_rule_prints_it() {
        let p = rule_message(
            1,
            100,
            &[
                (FRA_PRIORITY, 1000u32.to_ne_bytes().to_vec()),
                (FRA_FWMARK, 1u32.to_ne_bytes().to_vec()),
                (FRA_TABLE, 100u32.to_ne_bytes().to_vec()),
            ],
        );
        assert_eq!(
            format_rule(&p, false).unwrap(),
            "1000: from all fwmark 0x1 lookup 100"
        );
        let main = rule_message(1, 254, &[(FRA_PRIORITY, 32766u32.to_ne_bytes().to_vec())]);
        assert_eq!(
            format_rule(&main, false).unwrap(),
            "32766: from all lookup main"
        );
    }

    #[test]
    fn route_answer_gives_gateway_device_and_table() {
        let mut header = [0u8; FAMILY_HEADER_LEN];
        header[0] = AF_INET;
        header[FAMILY_TABLE] = 254;
        header[RTMSG_TYPE] = 1;
        let msg = request(
            RTM_NEWROUTE,
            0,
            header,
            &[
                (RTA_GATEWAY, vec![203, 0, 113, 254]),
                (RTA_OIF, 2u32.to_ne_bytes().to_vec()),
                (RTA_TABLE, 254u32.to_ne_bytes().to_vec()),
            ],
        );
        let messages = split(&msg);
        assert_eq!(messages.len(), 1);
        let names = |i: u32| (i == 2).then(|| "eth0".to_string());
        let r = parse_route(&messages[0].payload, &names).unwrap();
        assert_eq!(r.gateway, Some("203.0.113.254".parse().unwrap()));
        assert_eq!(r.dev.as_deref(), Some("eth0"));
        assert_eq!(r.table, "main");
        assert_eq!(r.kind, "unicast");
    }

    #[test]
    fn truncated_messages_and_attributes_are_not_read_past_their_end() {
        let mut msg = request(
            RTM_NEWROUTE,
            0,
            [0; FAMILY_HEADER_LEN],
            &[(RTA_GATEWAY, vec![1, 2, 3, 4])],
        );
        msg.truncate(msg.len() - 2);
        assert!(split(&msg).is_empty());
        assert!(attrs(&[0u8; 14]).is_empty());
    }
}
