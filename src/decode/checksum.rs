//! TCP checksum verification, used only to tell the user that bad checksums were seen (and
//! why that is normal: checksum offload on the capturing host), never to drop a packet.

use std::net::IpAddr;

const PROTO_TCP: u8 = 6;

/// True when the TCP checksum of `segment` (header and payload, complete) is right.
pub fn tcp_checksum_ok(src: IpAddr, dst: IpAddr, segment: &[u8]) -> bool {
    let mut sum: u64 = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum += add_words(&s.octets()) + add_words(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            sum += add_words(&s.octets()) + add_words(&d.octets());
        }
        _ => return true,
    }
    sum += u64::from(PROTO_TCP) + segment.len() as u64;
    sum += add_words(segment);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn add_words(bytes: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_checksum_verifies_and_a_flipped_or_zeroed_one_does_not() {
        // SYN 192.0.2.10:40000 -> 203.0.113.5:80, seq 1000, window 65535.
        let src: IpAddr = "192.0.2.10".parse().unwrap();
        let dst: IpAddr = "203.0.113.5".parse().unwrap();
        let mut seg = vec![
            0x9c, 0x40, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0,
            0,
        ];
        // Compute the right checksum the way a sender does, then check both ways.
        let mut sum =
            add_words(&[192, 0, 2, 10]) + add_words(&[203, 0, 113, 5]) + 6 + 20 + add_words(&seg);
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        seg[16..18].copy_from_slice(&ck.to_be_bytes());
        assert!(tcp_checksum_ok(src, dst, &seg));
        seg[16] ^= 0x01;
        assert!(!tcp_checksum_ok(src, dst, &seg));
        seg[16..18].copy_from_slice(&[0, 0]);
        assert!(
            !tcp_checksum_ok(src, dst, &seg),
            "a zeroed checksum (offload) is bad"
        );
    }
}
