//! Cloudflare Simple Proxy Protocol (SPP): the header Cloudflare Spectrum puts in front of
//! every UDP datagram it proxies, to tell the origin the client's address.
//!
//! Layout (38 bytes, big-endian): magic `0x56EC` (2), client address (16), proxy address (16),
//! client port (2), proxy port (2). IPv4 addresses are sent IPv4-mapped (`::ffff:a.b.c.d`)
//! and are shown here as plain IPv4.
//!
//! Two magic bytes are weak evidence: about one datagram in 65 536 of any protocol starts with
//! them. Callers should weigh a match with the flow's context (port, peer in Cloudflare's
//! ranges, every datagram of the flow carrying it).
//!
//! Never panics, on any input.

use std::net::{IpAddr, Ipv6Addr};

use serde::Serialize;

/// First two bytes of an SPP header.
pub const SPP_MAGIC: u16 = 0x56EC;
/// Length of the SPP header.
pub const SPP_HEADER_LEN: usize = 38;

/// Field offsets in the header.
mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..2;
    pub const CLIENT_ADDR: Range<usize> = 2..18;
    pub const PROXY_ADDR: Range<usize> = 18..34;
    pub const CLIENT_PORT: Range<usize> = 34..36;
    pub const PROXY_PORT: Range<usize> = 36..38;
}

/// A decoded SPP header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SppHeader {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub proxy_ip: IpAddr,
    pub proxy_port: u16,
    /// Bytes the header takes before the payload (always 38).
    pub header_len: usize,
}

/// Reads the SPP header at the start of a UDP datagram's payload. None when the payload is
/// shorter than 38 bytes or does not start with the magic.
pub fn parse_spp(datagram: &[u8]) -> Option<SppHeader> {
    let header = datagram.get(..SPP_HEADER_LEN)?;
    if read_u16(&header[field::MAGIC]) != SPP_MAGIC {
        return None;
    }
    Some(SppHeader {
        client_ip: read_addr(&header[field::CLIENT_ADDR]),
        client_port: read_u16(&header[field::CLIENT_PORT]),
        proxy_ip: read_addr(&header[field::PROXY_ADDR]),
        proxy_port: read_u16(&header[field::PROXY_PORT]),
        header_len: SPP_HEADER_LEN,
    })
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// A 16-byte address; IPv4-mapped becomes IPv4.
fn read_addr(bytes: &[u8]) -> IpAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(bytes);
    Ipv6Addr::from(octets).to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::payload::test_support::for_each_prefix_and_corruption;

    /// Build a datagram: SPP header then `payload`.
    fn datagram(
        client: &str,
        client_port: u16,
        proxy: &str,
        proxy_port: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let as_v6 = |text: &str| match text.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        let mut out = SPP_MAGIC.to_be_bytes().to_vec();
        out.extend(as_v6(client).octets());
        out.extend(as_v6(proxy).octets());
        out.extend(client_port.to_be_bytes());
        out.extend(proxy_port.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A DNS query for example.com, as a Spectrum UDP app would carry it.
    const DNS_QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
                               \x07example\x03com\x00\x00\x01\x00\x01";

    #[test]
    fn spp_ipv4_client_is_shown_as_ipv4_not_mapped() {
        let bytes = datagram("198.51.100.7", 53124, "172.68.1.9", 53, DNS_QUERY);
        let header = parse_spp(&bytes).unwrap();
        assert_eq!(
            header,
            SppHeader {
                client_ip: "198.51.100.7".parse().unwrap(),
                client_port: 53124,
                proxy_ip: "172.68.1.9".parse().unwrap(),
                proxy_port: 53,
                header_len: 38
            }
        );
        assert_eq!(&bytes[header.header_len..], DNS_QUERY);
    }

    #[test]
    fn spp_ipv6_client_and_proxy() {
        let bytes = datagram("2001:db8::7", 40000, "2606:4700::1", 443, b"quic");
        let header = parse_spp(&bytes).unwrap();
        assert_eq!(header.client_ip, "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(header.proxy_ip, "2606:4700::1".parse::<IpAddr>().unwrap());
        assert_eq!((header.client_port, header.proxy_port), (40000, 443));
    }

    #[test]
    fn header_alone_without_payload_is_accepted() {
        let bytes = datagram("192.0.2.1", 1, "192.0.2.2", 2, b"");
        assert_eq!(bytes.len(), SPP_HEADER_LEN);
        assert!(parse_spp(&bytes).is_some());
    }

    #[test]
    fn short_datagram_or_other_magic_is_not_spp() {
        let bytes = datagram("192.0.2.1", 1, "192.0.2.2", 2, b"");
        assert_eq!(parse_spp(&bytes[..37]), None);
        let mut other = bytes.clone();
        other[1] = 0xED;
        assert_eq!(parse_spp(&other), None);
        assert_eq!(parse_spp(DNS_QUERY), None);
        assert_eq!(parse_spp(b""), None);
    }

    #[test]
    fn no_prefix_or_single_byte_corruption_panics() {
        let bytes = datagram("2001:db8::7", 40000, "2606:4700::1", 443, DNS_QUERY);
        for_each_prefix_and_corruption(&bytes, |bytes| {
            let _ = parse_spp(bytes);
        });
    }

    #[test]
    fn spp_json_shape() {
        let header = parse_spp(&datagram("192.0.2.1", 1, "::1", 2, b"")).unwrap();
        assert_eq!(
            serde_json::to_value(header).unwrap(),
            serde_json::json!({"client_ip": "192.0.2.1", "client_port": 1,
                "proxy_ip": "::1", "proxy_port": 2, "header_len": 38})
        );
    }
}
