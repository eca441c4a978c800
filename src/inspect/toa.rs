//! TOA ("TCP Option Address"): the client address that LVS full-NAT style load balancers
//! (Alibaba, Tencent, Huawei) put in a TCP option of the handshake's last ACK, because the
//! packet's own source is rewritten (SNAT) to the balancer.
//!
//! Layout of the option value (after kind and length): client port (2, big-endian), then the
//! client IPv4 (4) or IPv6 (16) address. So the whole option is 8 or 20 bytes long.
//! Only kind 254 is read here; some vendors use other kinds (250, 252, 249 for VIP / VTOA
//! variants), which are different structures.
//!
//! Kind 254 is also RFC 6994's shared experimental kind. TCP Fast Open before RFC 7413 used it
//! with the experiment ID `0xF989` and a cookie of 4 to 16 bytes, so a 4- or 16-byte cookie has
//! exactly the TOA lengths (and would read as port 63881). Fast Open options ride on SYN and
//! SYN-ACK, TOA on the ACKs after them: callers should read TOA from segments without SYN
//! (see [`TFO_EXPERIMENT_ID`]).
//!
//! Never panics, on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// TCP option kind of TOA (`TCPOPT_TOA`).
pub const TOA_KIND: u8 = 254;

/// RFC 6994 experiment ID of pre-RFC 7413 TCP Fast Open under kind 254: as a TOA "port" it is
/// 63881.
pub const TFO_EXPERIMENT_ID: u16 = 0xF989;

/// Field offsets inside the option value.
mod field {
    pub const PORT: std::ops::Range<usize> = 0..2;
    pub const ADDR: usize = 2;
}
/// Value length (without kind and length bytes) of the IPv4 form.
pub const TOA_V4_VALUE_LEN: usize = 2 + 4;
/// Value length (without kind and length bytes) of the IPv6 form.
pub const TOA_V6_VALUE_LEN: usize = 2 + 16;

/// TCP option kinds that end the option list or have no length byte.
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;

/// A client address carried in a TOA option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toa {
    pub ip: IpAddr,
    pub port: u16,
    /// The TCP option kind it came in (254).
    pub kind: u8,
}

/// Reads a TOA option from its kind and its value (the bytes after kind and length). None for
/// another kind or a value length other than 6 (IPv4) or 18 (IPv6).
pub fn parse_toa(kind: u8, data: &[u8]) -> Option<Toa> {
    if kind != TOA_KIND {
        return None;
    }
    let ip = match data.len() {
        TOA_V4_VALUE_LEN => {
            let octets: [u8; 4] = data[field::ADDR..].try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        TOA_V6_VALUE_LEN => {
            let octets: [u8; 16] = data[field::ADDR..].try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    let port = u16::from_be_bytes([data[field::PORT.start], data[field::PORT.start + 1]]);
    Some(Toa { ip, port, kind })
}

/// Finds a TOA option in the raw TCP options area (the bytes after the 20-byte TCP header).
/// Stops at End of Option List or at an option whose length is bad or runs past the area.
pub fn find_toa(options: &[u8]) -> Option<Toa> {
    let mut pos = 0;
    while let Some(&kind) = options.get(pos) {
        match kind {
            OPTION_END => return None,
            OPTION_NOP => pos += 1,
            _ => {
                let len = usize::from(*options.get(pos + 1)?);
                if len < 2 || pos + len > options.len() {
                    return None;
                }
                if let Some(toa) = parse_toa(kind, &options[pos + 2..pos + len]) {
                    return Some(toa);
                }
                pos += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::payload::test_support::for_each_prefix_and_corruption;

    /// Options of an LVS full-NAT handshake ACK: NOP, NOP, timestamps, then TOA for
    /// 203.0.113.7:51234.
    const ACK_OPTIONS_WITH_TOA_V4: &[u8] = &[
        1, 1, 8, 10, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x0f, 0x42, 0x41, // NOP NOP TS
        254, 8, 0xc8, 0x22, 203, 0, 113, 7, // TOA
    ];

    #[test]
    fn toa_ipv4_value_gives_client_address_and_port() {
        let toa = parse_toa(254, &[0xc8, 0x22, 203, 0, 113, 7]).unwrap();
        assert_eq!(
            toa,
            Toa {
                ip: "203.0.113.7".parse().unwrap(),
                port: 51234,
                kind: 254
            }
        );
    }

    #[test]
    fn toa_ipv6_value_gives_client_address_and_port() {
        let mut value = vec![0x01, 0xbb];
        value.extend("2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        let toa = parse_toa(TOA_KIND, &value).unwrap();
        assert_eq!(toa.ip, "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(toa.port, 443);
    }

    #[test]
    fn other_kinds_and_lengths_are_not_toa() {
        assert_eq!(parse_toa(253, &[0, 80, 1, 2, 3, 4]), None);
        assert_eq!(parse_toa(250, &[0, 80, 1, 2, 3, 4]), None);
        for len in [0, 1, 2, 5, 7, 17, 19, 40] {
            assert_eq!(parse_toa(TOA_KIND, &vec![0; len]), None, "len {len}");
        }
    }

    #[test]
    fn toa_found_after_nops_and_timestamps_in_handshake_ack() {
        let toa = find_toa(ACK_OPTIONS_WITH_TOA_V4).unwrap();
        assert_eq!(toa.ip, "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(toa.port, 51234);
    }

    #[test]
    fn experimental_fast_open_cookie_has_toa_shape_and_shows_its_experiment_id_as_port() {
        // SYN option: kind 254, length 8, ExID 0xF989, 4-byte cookie. Same bytes as a TOA.
        let toa = parse_toa(TOA_KIND, &[0xf9, 0x89, 0xde, 0xad, 0xbe, 0xef]).unwrap();
        assert_eq!(toa.port, TFO_EXPERIMENT_ID);
    }

    #[test]
    fn option_list_ends_at_eol_or_bad_length() {
        assert_eq!(find_toa(&[0, 254, 8, 0, 80, 1, 2, 3, 4]), None);
        assert_eq!(find_toa(&[8, 1, 254, 8, 0, 80, 1, 2, 3, 4]), None);
        assert_eq!(find_toa(&[254, 8, 0, 80, 1, 2, 3]), None);
        assert_eq!(find_toa(&[2, 4, 5, 0xb4]), None);
    }

    #[test]
    fn no_prefix_or_single_byte_corruption_of_options_panics() {
        for_each_prefix_and_corruption(ACK_OPTIONS_WITH_TOA_V4, |bytes| {
            let _ = find_toa(bytes);
            if let Some((&kind, value)) = bytes.split_first() {
                let _ = parse_toa(kind, value);
            }
        });
    }

    #[test]
    fn toa_json_shape() {
        let toa = parse_toa(254, &[0, 80, 192, 0, 2, 1]).unwrap();
        assert_eq!(
            serde_json::to_value(toa).unwrap(),
            serde_json::json!({"ip": "192.0.2.1", "port": 80, "kind": 254})
        );
    }
}
