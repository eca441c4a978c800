//! A flow's JSON, written field by field with each key a constant: the bytes
//! `serde_json::to_writer` writes for a [`FlowReport`] (its derived `Serialize` stays the
//! contract; `report::json`'s test compares the two on every testdata capture).
//!
//! Why by hand: the flows are ~95 % of a report's bytes, and through serde each of a flow's
//! ~90 keys is a call that reserves, searches the key for escapes and copies it, and the
//! flattened inspection turns the whole flow into a map. Here a key is one copy of a constant.
//! The PROXY header and its TLVs (re-decoded from their kept bytes at every write) were the
//! dearest part: 1 GiB bench capture, output stage 80 ms with them, 53 ms without.
//! HTTP is written by hand too (`flow_json/http.rs`). The rare or irregular parts (TLS,
//! tunnels, enums) still go through [`compact::write`].
//!
//! Every struct is taken apart without `..`: a field added to one does not compile until it is
//! written here too, in the struct's order (the order serde writes).

use std::net::IpAddr;
use std::num::NonZeroU64;

use super::compact::{self, push_escaped, push_int};
use super::model::{TS_MAX, ts_write};
use crate::inspect::flow::{DirectionBytes, FirstBytesPair, FlowInspection};
use crate::inspect::ip_text;
use crate::inspect::proxy::{ProxyHeader, Tlv};
use crate::summary::{ClientIp, Endpoint, FlowReport, Mac, NextHop, PerDirection, TcpReport, Ttl};

type Result = std::result::Result<(), serde_json::Error>;

/// `,"name":` as one constant.
macro_rules! key {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}

mod http;
mod tlv;
pub(crate) use http::write_http;

/// Appends `f` as `serde_json::to_writer(out, f)` would.
pub fn write_flow(out: &mut Vec<u8>, f: &FlowReport) -> Result {
    let FlowReport {
        id,
        input,
        proto,
        interface,
        vlan,
        ifindex,
        client,
        server,
        role_by,
        next_hop,
        first_packet,
        first_ts_ns,
        last_packet,
        packets,
        bytes,
        truncated_packets,
        ttl,
        tcp,
        tunnel,
        icmp_errors,
        icmp_errors_not_kept,
        kind,
        kind_reason,
        lb_range,
        client_ip,
        inspection,
    } = f;
    out.extend_from_slice(b"{\"id\":");
    push_int(out, *id);
    key!(out, "input");
    push_int(out, *input);
    key!(out, "proto");
    push_escaped(out, proto.name());
    key!(out, "interface");
    push_int(out, *interface);
    key!(out, "vlan");
    out.push(b'[');
    for (i, v) in vlan.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_int(out, *v);
    }
    out.push(b']');
    key!(out, "ifindex");
    opt_int(out, *ifindex);
    key!(out, "client");
    endpoint(out, client);
    key!(out, "server");
    endpoint(out, server);
    key!(out, "role_by");
    compact::write(out, role_by)?;
    key!(out, "next_hop");
    or_null(out, next_hop.as_ref(), write_next_hop);
    key!(out, "first_packet");
    push_int(out, *first_packet);
    key!(out, "first_ts");
    let mut ts = [0u8; TS_MAX];
    quoted_plain(out, ts_write(*first_ts_ns, &mut ts).as_bytes());
    key!(out, "last_packet");
    push_int(out, *last_packet);
    key!(out, "packets");
    per_direction(out, packets);
    key!(out, "bytes");
    per_direction(out, bytes);
    key!(out, "truncated_packets");
    push_int(out, *truncated_packets);
    key!(out, "ttl");
    let Ttl {
        to_server,
        to_client,
    } = ttl;
    out.extend_from_slice(b"{\"to_server\":");
    opt_int(out, *to_server);
    key!(out, "to_client");
    opt_int(out, *to_client);
    out.push(b'}');
    key!(out, "tcp");
    or_null(out, tcp.as_ref(), write_tcp);
    key!(out, "tunnel");
    compact::write(out, tunnel)?;
    key!(out, "icmp_errors");
    compact::write(out, icmp_errors)?;
    if *icmp_errors_not_kept > 0 {
        key!(out, "icmp_errors_not_kept");
        push_int(out, *icmp_errors_not_kept);
    }
    key!(out, "kind");
    push_escaped(out, kind);
    key!(out, "kind_reason");
    opt_str(out, kind_reason.as_deref());
    key!(out, "lb_range");
    opt_str(out, lb_range.as_deref());
    key!(out, "client_ip");
    match client_ip {
        Some(ClientIp { ip: addr, port, by }) => {
            out.extend_from_slice(b"{\"ip\":");
            ip(out, *addr);
            key!(out, "port");
            opt_int(out, *port);
            key!(out, "by");
            push_escaped(out, by);
            out.push(b'}');
        }
        None => null(out),
    }
    write_inspection(out, inspection)?;
    out.push(b'}');
    Ok(())
}

/// The inspection's fields, flattened into the flow's object.
fn write_inspection(out: &mut Vec<u8>, ins: &FlowInspection) -> Result {
    let FlowInspection {
        proxy,
        proxy_seen,
        proxy_segments,
        proxy_datagrams,
        first_bytes,
        http,
        tls,
        toa,
        spp,
    } = ins;
    key!(out, "proxy");
    match proxy {
        Some(h) => write_proxy(out, h)?,
        None => null(out),
    }
    key!(out, "proxy_seen");
    compact::write(out, proxy_seen)?;
    key!(out, "proxy_segments");
    opt_int(out, *proxy_segments);
    key!(out, "proxy_datagrams");
    compact::write(out, proxy_datagrams)?;
    key!(out, "first_bytes");
    let FirstBytesPair {
        to_server,
        to_client,
    } = first_bytes;
    out.extend_from_slice(b"{\"to_server\":");
    direction_bytes(out, to_server)?;
    key!(out, "to_client");
    direction_bytes(out, to_client)?;
    out.push(b'}');
    key!(out, "http");
    or_null(out, http.as_ref(), write_http);
    key!(out, "tls");
    compact::write(out, tls)?;
    key!(out, "toa");
    compact::write(out, toa)?;
    key!(out, "spp");
    compact::write(out, spp)
}

fn direction_bytes(out: &mut Vec<u8>, d: &DirectionBytes) -> Result {
    let DirectionBytes {
        captured,
        wire_bytes,
        end,
        segment_ends,
        first_data_packet,
        kind,
        summary,
    } = d;
    out.extend_from_slice(b"{\"captured\":");
    push_int(out, *captured);
    key!(out, "wire_bytes");
    push_int(out, *wire_bytes);
    key!(out, "end");
    compact::write(out, end)?;
    key!(out, "segment_ends");
    list(out, segment_ends.iter(), push_int);
    key!(out, "first_data_packet");
    opt_packet(out, *first_data_packet);
    key!(out, "kind");
    compact::write(out, kind)?;
    key!(out, "summary");
    push_escaped(out, summary);
    out.push(b'}');
    Ok(())
}

/// A PROXY header (the inspector's tests compare it with serde's on every header they make,
/// cut and mutated).
pub(crate) fn write_proxy(out: &mut Vec<u8>, h: &ProxyHeader) -> Result {
    let ProxyHeader {
        version,
        command,
        family,
        src,
        dst,
        src_port,
        dst_port,
        header_len,
        declared_len,
        payload_offset,
        tlvs,
        crc32c,
        status,
        error,
        warnings,
        warnings_not_listed,
        stacked,
        local_layout,
    } = h;
    out.extend_from_slice(b"{\"version\":");
    push_int(out, *version);
    key!(out, "command");
    compact::write(out, command)?;
    key!(out, "family");
    compact::write(out, family)?;
    key!(out, "src");
    opt_str(out, src.as_deref());
    key!(out, "dst");
    opt_str(out, dst.as_deref());
    key!(out, "src_port");
    opt_int(out, *src_port);
    key!(out, "dst_port");
    opt_int(out, *dst_port);
    key!(out, "header_len");
    push_int(out, *header_len);
    key!(out, "declared_len");
    opt_int(out, *declared_len);
    key!(out, "payload_offset");
    push_int(out, *payload_offset);
    key!(out, "tlvs");
    tlv::write_tlvs(out, tlvs)?;
    key!(out, "crc32c");
    compact::write(out, crc32c)?;
    key!(out, "status");
    compact::write(out, status)?;
    key!(out, "error");
    compact::write(out, error)?;
    key!(out, "warnings");
    compact::write(out, warnings)?;
    key!(out, "warnings_not_listed");
    push_int(out, *warnings_not_listed);
    key!(out, "stacked");
    boolean(out, *stacked);
    key!(out, "local_layout");
    compact::write(out, local_layout)?;
    out.push(b'}');
    Ok(())
}

fn write_tlvs(out: &mut Vec<u8>, tlvs: &[Tlv]) -> Result {
    let mut result = Ok(());
    list(out, tlvs, |out, t| {
        if result.is_ok() {
            result = decoded_tlv(out, t);
        }
    });
    result
}

/// A JSON array of `items` (a slice or any iterator), each written by `each`.
fn list<I: IntoIterator>(out: &mut Vec<u8>, items: I, mut each: impl FnMut(&mut Vec<u8>, I::Item)) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

/// A decoded TLV (the rare types, which `flow_json::tlv` does not write from their bytes).
fn decoded_tlv(out: &mut Vec<u8>, t: &Tlv) -> Result {
    let Tlv {
        kind,
        name,
        class,
        length,
        offset,
        value,
        sub,
        vendor,
        client,
        client_flags,
        verify,
        cert,
        crc32c,
    } = t;
    out.extend_from_slice(b"{\"type\":");
    push_int(out, *kind);
    key!(out, "name");
    push_escaped(out, name);
    key!(out, "class");
    compact::write(out, class)?;
    key!(out, "length");
    push_int(out, *length);
    key!(out, "offset");
    push_int(out, *offset);
    key!(out, "value");
    push_escaped(out, value);
    key!(out, "sub");
    write_tlvs(out, sub)?;
    // `skip_serializing_if = "Option::is_none"` on each of these.
    if let Some(v) = *vendor {
        key!(out, "vendor");
        push_escaped(out, v);
    }
    if let Some(c) = client {
        key!(out, "client");
        push_int(out, *c);
    }
    if let Some(flags) = client_flags {
        key!(out, "client_flags");
        compact::write(out, flags)?;
    }
    if let Some(v) = verify {
        key!(out, "verify");
        push_int(out, *v);
    }
    if let Some(c) = cert {
        key!(out, "cert");
        compact::write(out, c)?;
    }
    if let Some(c) = crc32c {
        key!(out, "crc32c");
        compact::write(out, c)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_tcp(out: &mut Vec<u8>, t: &TcpReport) {
    let TcpReport {
        syn,
        synack,
        handshake_complete,
        syn_count,
        synack_count,
        fin_from_client,
        fin_from_server,
        rst_from_client,
        rst_from_server,
        retransmissions,
        out_of_order,
        overlap_conflicts,
        first_overlap_conflict: _,
        started_mid_stream,
        client_isn,
        server_isn,
    } = t;
    out.extend_from_slice(b"{\"syn\":");
    opt_packet(out, *syn);
    key!(out, "synack");
    opt_packet(out, *synack);
    key!(out, "handshake_complete");
    boolean(out, *handshake_complete);
    key!(out, "syn_count");
    push_int(out, *syn_count);
    key!(out, "synack_count");
    push_int(out, *synack_count);
    key!(out, "fin_from_client");
    opt_packet(out, *fin_from_client);
    key!(out, "fin_from_server");
    opt_packet(out, *fin_from_server);
    key!(out, "rst_from_client");
    opt_packet(out, *rst_from_client);
    key!(out, "rst_from_server");
    opt_packet(out, *rst_from_server);
    key!(out, "retransmissions");
    push_int(out, *retransmissions);
    key!(out, "out_of_order");
    push_int(out, *out_of_order);
    key!(out, "overlap_conflicts");
    push_int(out, *overlap_conflicts);
    key!(out, "started_mid_stream");
    boolean(out, *started_mid_stream);
    key!(out, "client_isn");
    opt_int(out, *client_isn);
    key!(out, "server_isn");
    opt_int(out, *server_isn);
    out.push(b'}');
}

fn write_next_hop(out: &mut Vec<u8>, hop: &NextHop) {
    let NextHop {
        local,
        requests_via,
        replies_via,
    } = hop;
    out.extend_from_slice(b"{\"local\":");
    push_escaped(out, local);
    key!(out, "requests_via");
    mac(out, *requests_via);
    key!(out, "replies_via");
    mac(out, *replies_via);
    out.push(b'}');
}

fn endpoint(out: &mut Vec<u8>, e: &Endpoint) {
    let Endpoint { ip: addr, port } = e;
    out.extend_from_slice(b"{\"ip\":");
    ip(out, *addr);
    key!(out, "port");
    push_int(out, *port);
    out.push(b'}');
}

fn per_direction(out: &mut Vec<u8>, p: &PerDirection) {
    let PerDirection {
        to_server,
        to_client,
    } = p;
    out.extend_from_slice(b"{\"to_server\":");
    push_int(out, *to_server);
    key!(out, "to_client");
    push_int(out, *to_client);
    out.push(b'}');
}

/// An address as serde writes it (its `Display` form, quoted), without `Display`
/// (`inspect::ip_text`).
fn ip(out: &mut Vec<u8>, addr: IpAddr) {
    let text = match addr {
        IpAddr::V4(v4) => ip_text::ipv4(v4),
        IpAddr::V6(v6) => ip_text::ipv6(v6),
    };
    quoted_plain(out, text.as_bytes());
}

fn mac(out: &mut Vec<u8>, m: Mac) {
    quoted_plain(out, &m.text());
}

/// Text that needs no escape (digits, hex, colons, a point), quoted.
fn quoted_plain(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// `v` written by `write`, or `null`: what serde writes for an `Option`.
fn or_null<T>(out: &mut Vec<u8>, v: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(v) => write(out, v),
        None => null(out),
    }
}

fn opt_int(out: &mut Vec<u8>, v: Option<impl itoa::Integer>) {
    or_null(out, v, push_int);
}

fn opt_packet(out: &mut Vec<u8>, v: Option<NonZeroU64>) {
    opt_int(out, v.map(NonZeroU64::get));
}

fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    or_null(out, v, push_escaped);
}

fn boolean(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// For the inspectors' tests: `write` (a hand-written part of a flow's JSON) gives byte for byte
/// what serde_json writes for `value`.
#[cfg(test)]
pub(crate) fn assert_written_as_serde<T: serde::Serialize>(
    value: &T,
    write: impl FnOnce(&mut Vec<u8>, &T),
) {
    let want = serde_json::to_vec(value).unwrap();
    let mut got = Vec::new();
    write(&mut got, value);
    assert!(
        got == want,
        "{}\n{}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
}
