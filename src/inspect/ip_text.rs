//! IP addresses as text, byte for byte what `Display` writes, without the formatting
//! machinery: every flow's endpoints go into the JSON and every PROXY header's addresses into
//! its summary, and `Display` cost ~800 (IPv4) to ~2,500 (IPv6) instructions an address.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest text: an IPv6 address with every group written (8 × 4 hex digits, 7 colons).
pub const MAX: usize = 39;

/// A text of at most [`MAX`] bytes, on the stack.
pub struct IpText {
    buf: [u8; MAX],
    len: usize,
}

impl IpText {
    fn new() -> Self {
        Self {
            buf: [0; MAX],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("digits, dots and colons")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes (for the JSON writer).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `192.0.2.1`.
pub fn ipv4(a: Ipv4Addr) -> IpText {
    let mut t = IpText::new();
    push_ipv4(&mut t, a);
    t
}

fn push_ipv4(t: &mut IpText, a: Ipv4Addr) {
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            t.push_byte(b'.');
        }
        if octet >= 100 {
            t.push_byte(b'0' + octet / 100);
        }
        if octet >= 10 {
            t.push_byte(b'0' + octet / 10 % 10);
        }
        t.push_byte(b'0' + octet % 10);
    }
}

/// As `Ipv6Addr`'s `Display`: an IPv4-mapped address as `::ffff:a.b.c.d`; otherwise groups in
/// lower-case hex without leading zeros, the first longest run of two or more zero groups
/// written `::`.
pub fn ipv6(a: Ipv6Addr) -> IpText {
    let mut t = IpText::new();
    if let Some(v4) = a.to_ipv4_mapped() {
        t.push(b"::ffff:");
        push_ipv4(&mut t, v4);
        return t;
    }
    let groups = a.segments();
    // The first longest run of zero groups.
    let (mut best_at, mut best_len, mut at, mut len) = (0, 0, 0, 0);
    for (i, &g) in groups.iter().enumerate() {
        if g == 0 {
            if len == 0 {
                at = i;
            }
            len += 1;
            if len > best_len {
                (best_at, best_len) = (at, len);
            }
        } else {
            len = 0;
        }
    }
    if best_len > 1 {
        push_groups(&mut t, &groups[..best_at]);
        t.push(b"::");
        push_groups(&mut t, &groups[best_at + best_len..]);
    } else {
        push_groups(&mut t, &groups);
    }
    t
}

fn push_groups(t: &mut IpText, groups: &[u16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            t.push_byte(b':');
        }
        // Four hex digits, less the leading zero ones (one digit stays for 0).
        let digits = (4 - g.leading_zeros() / 4).max(1);
        for d in (0..digits).rev() {
            t.push_byte(HEX[usize::from(g >> (4 * d) & 0xf)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_what_display_writes() {
        for a in 0..=255u8 {
            for octets in [
                [a, 0, 0, 0],
                [0, a, 0, 0],
                [1, 2, a, 255],
                [10, 100, 200, a],
            ] {
                let addr = Ipv4Addr::from(octets);
                assert_eq!(ipv4(addr).as_str(), addr.to_string());
            }
        }
    }

    #[test]
    fn ipv6_is_what_display_writes() {
        let mut cases: Vec<Ipv6Addr> = vec![
            Ipv6Addr::UNSPECIFIED,
            Ipv6Addr::LOCALHOST,
            "2001:db8::1".parse().unwrap(),
            "::ffff:192.0.2.1".parse().unwrap(),
            "::192.0.2.1".parse().unwrap(),
            "64:ff9b::192.0.2.1".parse().unwrap(),
            "1:0:1:0:1:0:1:0".parse().unwrap(),
            "1:0:0:1:0:0:1:1".parse().unwrap(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            "fe80::1:0:0:0".parse().unwrap(),
        ];
        // Every pattern of zero and non-zero groups, with values of each width.
        let values = [0x1u16, 0xab, 0xabc, 0xffff, 0x1000, 0x0010];
        for mask in 0u32..256 {
            for (k, _) in values.iter().enumerate() {
                let mut g = [0u16; 8];
                for (i, slot) in g.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *slot = values[(k + i) % values.len()];
                    }
                }
                cases.push(Ipv6Addr::from(g));
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut g = [0u16; 8];
            for (i, slot) in g.iter_mut().enumerate() {
                // Zeros often, so that runs of every length occur.
                let r = (state >> (i * 8)) as u16;
                *slot = if r % 4 == 0 { r >> 2 } else { 0 };
            }
            cases.push(Ipv6Addr::from(g));
        }
        for a in cases {
            assert_eq!(ipv6(a).as_str(), a.to_string(), "{:?}", a.segments());
        }
    }
}
