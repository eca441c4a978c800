//! The kernel-side capture filter: a classic BPF program built from `--port` / `--proto`, so a
//! busy host copies only the service's packets to user space.
//!
//! What it accepts, for IPv4 and IPv6 (no extension headers, as tcpdump's `port N`):
//! TCP/UDP with port N as source or destination (any port when none is given), and ICMP /
//! ICMPv6 error messages (they quote the service's flows and feed the return-path checks; they
//! are few). Other ICMP — echo, neighbour discovery, MLD — is not copied. IPv4
//! fragments after the first are rejected (they carry no ports). On Ethernet the program also
//! looks through one or two 802.1Q/802.1ad tags left in the frame (most drivers strip the outer
//! tag before the filter runs; then the frame looks untagged, which the program also accepts).
//! On a cooked socket (`-i any`, non-Ethernet interfaces) the packet starts at the IP header and
//! the ethertype comes from the kernel's `skb->protocol` (an ancillary load).
//!
//! Accepted packets are cut to `snaplen` by the program's return value. Pure code: the program is
//! plain data, tested here with a small interpreter over real packet bytes.

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Opcode parts (linux/filter.h, linux/bpf_common.h).
mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MSH: u16 = 0xa0;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
}

/// Ancillary load of `skb->protocol` (host order), `SKF_AD_OFF + SKF_AD_PROTOCOL`.
const SKF_AD_PROTOCOL: u32 = 0xffff_f000;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_VLAN: u32 = 0x8100;
const ETHERTYPE_QINQ: u32 = 0x88a8;
const ETHERNET_TYPE_OFFSET: u32 = 12;
const ETHERNET_HEADER_LEN: u32 = 14;
const VLAN_TAG_LEN: u32 = 4;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_ICMPV6: u32 = 58;
/// ICMPv4 errors: destination unreachable, source quench, redirect, time exceeded, parameter
/// problem. ICMPv6 errors are the types below 128.
const ICMPV4_ERRORS: [u32; 5] = [3, 4, 5, 11, 12];
const ICMPV6_LAST_ERROR: u32 = 127;
/// IPv4: protocol byte, flags+fragment offset, ports after the header.
const IPV4_PROTOCOL_OFFSET: u32 = 9;
const IPV4_FRAGMENT_OFFSET: u32 = 6;
const IPV4_FRAGMENT_MASK: u32 = 0x1fff;
/// IPv6: next-header byte, fixed header length.
const IPV6_NEXT_HEADER_OFFSET: u32 = 6;
const IPV6_HEADER_LEN: u32 = 40;

/// What the packet starts with, as the socket delivers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// An Ethernet header (SOCK_RAW on Ethernet or loopback).
    Ethernet,
    /// The IP header (SOCK_DGRAM); the ethertype is `skb->protocol`.
    Cooked,
}

/// Which packets to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// Empty: every port.
    pub ports: Vec<u16>,
    pub tcp: bool,
    pub udp: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the capture filter for {ports} ports is too long for classic BPF jumps; give fewer --port values"
)]
pub struct TooLong {
    ports: usize,
}

/// A jump target not yet placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Next,
    Label(usize),
}

/// An instruction whose jumps name labels.
struct Pending {
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

/// A tiny assembler: forward jumps to labels, resolved by [`Asm::finish`].
struct Asm {
    insns: Vec<Pending>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn new() -> Self {
        Self {
            insns: Vec::new(),
            labels: Vec::new(),
        }
    }

    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        self.labels[label] = Some(self.insns.len());
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.insns.push(Pending {
            code,
            k,
            jt: Target::Next,
            jf: Target::Next,
        });
    }

    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.insns.push(Pending { code, k, jt, jf });
    }

    /// `if A == k goto label`.
    fn jeq(&mut self, k: u32, label: usize) {
        self.jump(
            op::JMP | op::JEQ | op::K,
            k,
            Target::Label(label),
            Target::Next,
        );
    }

    fn goto(&mut self, label: usize) {
        // An always-true test: `ja` has a 32-bit offset, but keeping to jt/jf keeps one path.
        self.jump(
            op::JMP | op::JEQ | op::K,
            0,
            Target::Label(label),
            Target::Label(label),
        );
    }

    fn finish(self) -> Option<Vec<Insn>> {
        let resolve = |at: usize, t: Target| -> Option<u8> {
            match t {
                Target::Next => Some(0),
                Target::Label(l) => {
                    let to = self.labels[l]?;
                    u8::try_from(to.checked_sub(at + 1)?).ok()
                }
            }
        };
        self.insns
            .iter()
            .enumerate()
            .map(|(at, p)| {
                Some(Insn {
                    code: p.code,
                    jt: resolve(at, p.jt)?,
                    jf: resolve(at, p.jf)?,
                    k: p.k,
                })
            })
            .collect()
    }
}

/// Builds the filter program. Each IP block ends with its own `ret` instructions, so jumps stay
/// short (classic BPF conditional jumps reach 255 instructions ahead).
pub fn program(spec: &FilterSpec, framing: Framing, snaplen: u32) -> Result<Vec<Insn>, TooLong> {
    let mut a = Asm::new();
    match framing {
        Framing::Cooked => {
            a.stmt(op::LD | op::W | op::ABS, SKF_AD_PROTOCOL);
            ip_blocks(&mut a, spec, 0, None, snaplen);
        }
        Framing::Ethernet => {
            // Untagged, one tag, two tags: the ethertype moves by 4 bytes per tag.
            let mut tagged = None;
            for depth in 0..3 {
                if let Some(l) = tagged {
                    a.place(l);
                }
                a.stmt(
                    op::LD | op::H | op::ABS,
                    ETHERNET_TYPE_OFFSET + depth * VLAN_TAG_LEN,
                );
                tagged = (depth < 2).then(|| a.label());
                ip_blocks(
                    &mut a,
                    spec,
                    ETHERNET_HEADER_LEN + depth * VLAN_TAG_LEN,
                    tagged,
                    snaplen,
                );
            }
        }
    }
    a.finish().ok_or(TooLong {
        ports: spec.ports.len(),
    })
}

/// With the ethertype in A: the IPv4 and IPv6 blocks for an IP header at `base`, and a jump to
/// `tagged` for a VLAN ethertype.
fn ip_blocks(a: &mut Asm, spec: &FilterSpec, base: u32, tagged: Option<usize>, snaplen: u32) {
    let v4 = a.label();
    let v6 = a.label();
    a.jeq(ETHERTYPE_IPV4, v4);
    a.jeq(ETHERTYPE_IPV6, v6);
    if let Some(next) = tagged {
        a.jeq(ETHERTYPE_VLAN, next);
        a.jeq(ETHERTYPE_QINQ, next);
    }
    a.stmt(op::RET | op::K, 0);
    a.place(v4);
    l4(a, spec, false, base, snaplen);
    a.place(v6);
    l4(a, spec, true, base, snaplen);
}

/// The protocol and port tests of one IP block whose header starts at `base`.
fn l4(a: &mut Asm, spec: &FilterSpec, v6: bool, base: u32, snaplen: u32) {
    let accept = a.label();
    let reject = a.label();
    let ports = a.label();
    let (proto_at, icmp) = if v6 {
        (base + IPV6_NEXT_HEADER_OFFSET, IPPROTO_ICMPV6)
    } else {
        (base + IPV4_PROTOCOL_OFFSET, IPPROTO_ICMP)
    };
    a.stmt(op::LD | op::B | op::ABS, proto_at);
    if spec.tcp {
        a.jeq(IPPROTO_TCP, ports);
    }
    if spec.udp {
        a.jeq(IPPROTO_UDP, ports);
    }
    let icmp_errors = a.label();
    a.jeq(icmp, icmp_errors);
    a.goto(reject);
    a.place(icmp_errors);
    if v6 {
        a.stmt(op::LD | op::B | op::ABS, base + IPV6_HEADER_LEN);
        a.jump(
            op::JMP | op::JGT | op::K,
            ICMPV6_LAST_ERROR,
            Target::Label(reject),
            Target::Label(accept),
        );
    } else {
        a.stmt(op::LDX | op::B | op::MSH, base);
        a.stmt(op::LD | op::B | op::IND, base);
        for t in ICMPV4_ERRORS {
            a.jeq(t, accept);
        }
        a.goto(reject);
    }
    a.place(ports);
    if spec.ports.is_empty() {
        a.goto(accept);
    } else if v6 {
        for offset in [0, 2] {
            a.stmt(op::LD | op::H | op::ABS, base + IPV6_HEADER_LEN + offset);
            for &p in &spec.ports {
                a.jeq(u32::from(p), accept);
            }
        }
    } else {
        // Later fragments have no ports: reject them, as tcpdump's `port N` does.
        a.stmt(op::LD | op::H | op::ABS, base + IPV4_FRAGMENT_OFFSET);
        a.jump(
            op::JMP | op::JSET | op::K,
            IPV4_FRAGMENT_MASK,
            Target::Label(reject),
            Target::Next,
        );
        // X = IPv4 header length (4 * IHL); ports at [X + base].
        a.stmt(op::LDX | op::B | op::MSH, base);
        for offset in [0, 2] {
            a.stmt(op::LD | op::H | op::IND, base + offset);
            for &p in &spec.ports {
                a.jeq(u32::from(p), accept);
            }
        }
    }
    a.place(reject);
    a.stmt(op::RET | op::K, 0);
    a.place(accept);
    a.stmt(op::RET | op::K, snaplen);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic BPF interpreter for the opcodes [`program`] emits. Returns the accepted length;
    /// out-of-bounds loads reject, as in the kernel.
    fn run(prog: &[Insn], pkt: &[u8], skb_protocol: u16) -> u32 {
        let (mut acc, mut index_reg, mut pc) = (0u32, 0u32, 0usize);
        let load = |at: u32, n: usize| -> Option<u32> {
            let at = at as usize;
            let b = pkt.get(at..at + n)?;
            Some(b.iter().fold(0, |v, &byte| (v << 8) | u32::from(byte)))
        };
        loop {
            let insn = prog[pc];
            pc += 1;
            let loaded = match insn.code {
                code if code == op::LD | op::W | op::ABS && insn.k == SKF_AD_PROTOCOL => {
                    Some(u32::from(skb_protocol))
                }
                code if code == op::LD | op::H | op::ABS => load(insn.k, 2),
                code if code == op::LD | op::B | op::ABS => load(insn.k, 1),
                code if code == op::LD | op::H | op::IND => load(index_reg + insn.k, 2),
                code if code == op::LD | op::B | op::IND => load(index_reg + insn.k, 1),
                code if code == op::LDX | op::B | op::MSH => {
                    let Some(v) = load(insn.k, 1) else { return 0 };
                    index_reg = 4 * (v & 0xf);
                    continue;
                }
                code if code == op::JMP | op::JEQ | op::K => {
                    pc += usize::from(if acc == insn.k { insn.jt } else { insn.jf });
                    continue;
                }
                code if code == op::JMP | op::JGT | op::K => {
                    pc += usize::from(if acc > insn.k { insn.jt } else { insn.jf });
                    continue;
                }
                code if code == op::JMP | op::JSET | op::K => {
                    pc += usize::from(if acc & insn.k != 0 { insn.jt } else { insn.jf });
                    continue;
                }
                code if code == op::RET | op::K => return insn.k,
                other => panic!("opcode {other:#x} not emitted by program()"),
            };
            // An out-of-bounds load ends the program with 0, as in the kernel.
            let Some(v) = loaded else { return 0 };
            acc = v;
        }
    }

    fn spec(ports: &[u16]) -> FilterSpec {
        FilterSpec {
            ports: ports.to_vec(),
            tcp: true,
            udp: true,
        }
    }

    fn ipv4_tcp(src_port: u16, dst_port: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ipv4([192, 0, 2, 10], [203, 0, 113, 11], 64)
            .tcp(src_port, dst_port, 1, 1000);
        let mut v = Vec::new();
        b.write(&mut v, b"x").unwrap();
        v
    }

    fn ipv6_udp(src_port: u16, dst_port: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64).udp(src_port, dst_port);
        let mut v = Vec::new();
        b.write(&mut v, b"x").unwrap();
        v
    }

    fn ethernet(ethertypes: &[u16], l3: &[u8]) -> Vec<u8> {
        let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for (i, t) in ethertypes.iter().enumerate() {
            v.extend_from_slice(&t.to_be_bytes());
            if i + 1 < ethertypes.len() {
                v.extend_from_slice(&[0x00, 0x0a]); // VLAN 10
            }
        }
        v.extend_from_slice(l3);
        v
    }

    const SNAP: u32 = 4096;

    #[test]
    fn port_matches_either_direction_ipv4_and_ipv6() {
        let p = program(&spec(&[8080]), Framing::Ethernet, SNAP).unwrap();
        assert_eq!(
            run(&p, &ethernet(&[0x0800], &ipv4_tcp(40000, 8080)), 0),
            SNAP
        );
        assert_eq!(
            run(&p, &ethernet(&[0x0800], &ipv4_tcp(8080, 40000)), 0),
            SNAP
        );
        assert_eq!(run(&p, &ethernet(&[0x86dd], &ipv6_udp(8080, 53)), 0), SNAP);
        assert_eq!(run(&p, &ethernet(&[0x86dd], &ipv6_udp(53, 8080)), 0), SNAP);
        assert_eq!(run(&p, &ethernet(&[0x0800], &ipv4_tcp(40000, 80)), 0), 0);
        assert_eq!(run(&p, &ethernet(&[0x86dd], &ipv6_udp(53, 54)), 0), 0);
    }

    #[test]
    fn ipv4_options_move_the_ports() {
        let mut ip = ipv4_tcp(40000, 8080);
        // IHL 6: insert four bytes of options (NOPs) after the 20-byte header.
        ip[0] = 0x46;
        ip.splice(20..20, [1u8, 1, 1, 1]);
        let p = program(&spec(&[8080]), Framing::Ethernet, SNAP).unwrap();
        assert_eq!(run(&p, &ethernet(&[0x0800], &ip), 0), SNAP);
    }

    #[test]
    fn vlan_and_qinq_tagged_frames_are_looked_through() {
        let p = program(&spec(&[8080]), Framing::Ethernet, SNAP).unwrap();
        let ip = ipv4_tcp(40000, 8080);
        assert_eq!(run(&p, &ethernet(&[0x8100, 0x0800], &ip), 0), SNAP);
        assert_eq!(run(&p, &ethernet(&[0x88a8, 0x8100, 0x0800], &ip), 0), SNAP);
        let other = ipv4_tcp(40000, 22);
        assert_eq!(run(&p, &ethernet(&[0x8100, 0x0800], &other), 0), 0);
    }

    #[test]
    fn later_ipv4_fragments_and_other_ethertypes_are_rejected() {
        let p = program(&spec(&[8080]), Framing::Ethernet, SNAP).unwrap();
        let mut frag = ipv4_tcp(40000, 8080);
        frag[6] = 0x00;
        frag[7] = 0x10; // fragment offset 16
        assert_eq!(run(&p, &ethernet(&[0x0800], &frag), 0), 0);
        assert_eq!(run(&p, &ethernet(&[0x0806], &[0; 28]), 0), 0);
    }

    #[test]
    fn proto_restricts_and_icmp_passes() {
        let tcp_only = FilterSpec {
            ports: vec![8080],
            tcp: true,
            udp: false,
        };
        let p = program(&tcp_only, Framing::Ethernet, SNAP).unwrap();
        assert_eq!(run(&p, &ethernet(&[0x86dd], &ipv6_udp(53, 8080)), 0), 0);
        // ICMP port unreachable passes; echo request does not.
        let mut icmp = ipv4_tcp(1, 2);
        icmp[9] = 1;
        icmp[20] = 3;
        assert_eq!(run(&p, &ethernet(&[0x0800], &icmp), 0), SNAP);
        icmp[20] = 8;
        assert_eq!(run(&p, &ethernet(&[0x0800], &icmp), 0), 0);
        // ICMPv6 packet too big passes; neighbour solicitation does not.
        let mut icmp6 = ipv6_udp(1, 2);
        icmp6[6] = 58;
        icmp6[40] = 2;
        assert_eq!(run(&p, &ethernet(&[0x86dd], &icmp6), 0), SNAP);
        icmp6[40] = 135;
        assert_eq!(run(&p, &ethernet(&[0x86dd], &icmp6), 0), 0);
    }

    #[test]
    fn cooked_packets_use_the_skb_protocol() {
        let p = program(&spec(&[8080]), Framing::Cooked, SNAP).unwrap();
        assert_eq!(run(&p, &ipv4_tcp(40000, 8080), 0x0800), SNAP);
        assert_eq!(run(&p, &ipv6_udp(8080, 1), 0x86dd), SNAP);
        assert_eq!(run(&p, &ipv4_tcp(40000, 8080), 0x0806), 0);
        assert_eq!(run(&p, &ipv4_tcp(40000, 22), 0x0800), 0);
    }

    #[test]
    fn no_port_keeps_every_tcp_and_udp_packet() {
        let p = program(&spec(&[]), Framing::Ethernet, SNAP).unwrap();
        assert_eq!(run(&p, &ethernet(&[0x0800], &ipv4_tcp(1, 2)), 0), SNAP);
        assert_eq!(run(&p, &ethernet(&[0x86dd], &ipv6_udp(3, 4)), 0), SNAP);
    }

    #[test]
    fn too_many_ports_is_an_error_not_a_wrong_program() {
        let many: Vec<u16> = (1..=200).collect();
        assert!(program(&spec(&many), Framing::Ethernet, SNAP).is_err());
        let some: Vec<u16> = (1..=50).collect();
        for framing in [Framing::Ethernet, Framing::Cooked] {
            let p = program(&spec(&some), framing, SNAP).unwrap();
            let eth = framing == Framing::Ethernet;
            let wrap = |l3: &[u8], t: u16| {
                if eth {
                    ethernet(&[0x8100, t], l3)
                } else {
                    l3.to_vec()
                }
            };
            assert_eq!(run(&p, &wrap(&ipv4_tcp(40000, 50), 0x0800), 0x0800), SNAP);
            assert_eq!(run(&p, &wrap(&ipv6_udp(49, 40000), 0x86dd), 0x86dd), SNAP);
            assert_eq!(run(&p, &wrap(&ipv6_udp(51, 40000), 0x86dd), 0x86dd), 0);
        }
    }
}
