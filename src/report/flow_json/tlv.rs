//! A PROXY header's TLVs in the JSON, written straight from their kept bytes: what serde
//! writes for [`Tlvs`] (through `Tlvs::decode`, which stays the contract).
//!
//! Why: the TLVs are kept as bytes and decoded again when the report is written (decoded, tens
//! of thousands of them would cost several times their bytes). Decoding built a `Tlv` per TLV
//! (strings, sub-lists, flag lists, the SSL text through `format!`) only to write it and drop
//! it: 100 MiB bench capture, ~42 M of 612 M instructions. The common types (the text ones,
//! CRC32C, NOOP, UNIQUE_ID, SSL with its text sub-TLVs) are written here field by field; the
//! rest (vendor TLVs, certificates, unknown and misplaced types) are decoded one at a time by
//! the inspector's own code and written from that. The framing is the inspector's too
//! (`RawTlvs`). The PROXY fuzz test compares this with serde on 21 k cut and mutated headers.

use super::{Result, decoded_tlv, list};
use crate::inspect::proxy::tlv_parts::{
    SSL_CLIENT_FLAGS, decode_one, escape, field, hex, kind, name, ssl_sub_name,
};
use crate::inspect::proxy::{Crc32cStatus, RawTlv, TlvClass, Tlvs};
use crate::report::compact::{self, push_escaped, push_int};

/// The `tlvs` array of a header.
pub(super) fn write_tlvs(out: &mut Vec<u8>, tlvs: &Tlvs) -> Result {
    out.push(b'[');
    for (i, raw) in tlvs.raw().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        top_level(out, tlvs, raw)?;
    }
    out.push(b']');
    Ok(())
}

fn top_level(out: &mut Vec<u8>, tlvs: &Tlvs, raw: RawTlv<'_>) -> Result {
    match raw.kind {
        kind::ALPN | kind::NETNS | kind::AUTHORITY => {
            head(out, raw, name(raw.kind));
            push_escaped(out, &escape(raw.value));
            no_sub(out);
        }
        kind::NOOP | kind::UNIQUE_ID => {
            head(out, raw, name(raw.kind));
            push_escaped(out, &hex(raw.value));
            no_sub(out);
        }
        kind::CRC32C => {
            head(out, raw, name(raw.kind));
            push_escaped(out, &hex(raw.value));
            no_sub(out);
            // A 4-byte one has the verdict the parse gave it (the CRC covers the whole
            // header, not kept); any other length is invalid.
            let verdict = if raw.value.len() == 4 {
                tlvs.crc_verdict(raw.offset + field::HEADER)
            } else {
                Some(Crc32cStatus::Invalid)
            };
            if let Some(v) = verdict {
                key!(out, "crc32c");
                compact::write(out, &v)?;
            }
        }
        kind::SSL if raw.value.len() >= field::SSL_SUB_TLVS => return ssl(out, raw),
        _ => return decoded_tlv(out, &decode_one(raw, false)),
    }
    out.push(b'}');
    Ok(())
}

/// The SSL TLV: `client`, `verify`, then its sub-TLVs.
fn ssl(out: &mut Vec<u8>, raw: RawTlv<'_>) -> Result {
    let client = raw.value[field::SSL_CLIENT];
    let verify = u32::from_be_bytes([raw.value[1], raw.value[2], raw.value[3], raw.value[4]]);
    let flags: &mut [&str; 3] = &mut [""; 3];
    let mut set = 0;
    for (bit, flag) in SSL_CLIENT_FLAGS {
        if client & bit != 0 {
            flags[set] = flag;
            set += 1;
        }
    }
    let flags = &flags[..set];
    head(out, raw, name(raw.kind));
    out.extend_from_slice(b"\"client=");
    if flags.is_empty() {
        out.extend_from_slice(b"none");
    }
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b'|');
        }
        out.extend_from_slice(flag.as_bytes());
    }
    out.extend_from_slice(b" verify=");
    push_int(out, verify);
    out.push(b'"');
    key!(out, "sub");
    let subs = &raw.value[field::SSL_SUB_TLVS..];
    let base = raw.offset + field::HEADER + field::SSL_SUB_TLVS;
    out.push(b'[');
    let walk = crate::inspect::proxy::tlv_parts::RawTlvs::new(subs, base, subs.len());
    for (i, sub) in walk.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        ssl_sub(out, sub)?;
    }
    out.push(b']');
    key!(out, "client");
    push_int(out, client);
    key!(out, "client_flags");
    list(out, flags, |out, flag| push_escaped(out, flag));
    key!(out, "verify");
    push_int(out, verify);
    out.push(b'}');
    Ok(())
}

fn ssl_sub(out: &mut Vec<u8>, raw: RawTlv<'_>) -> Result {
    match ssl_sub_name(raw.kind) {
        Some(name) if raw.kind != kind::SSL_CLIENT_CERT => {
            head(out, raw, name);
            push_escaped(out, &escape(raw.value));
            no_sub(out);
            out.push(b'}');
            Ok(())
        }
        _ => decoded_tlv(out, &decode_one(raw, true)),
    }
}

/// `{"type":…,"name":…,"class":…,"length":…,"offset":…,"value":` (the value follows).
fn head(out: &mut Vec<u8>, raw: RawTlv<'_>, name: &str) {
    out.extend_from_slice(b"{\"type\":");
    push_int(out, raw.kind);
    key!(out, "name");
    push_escaped(out, name);
    key!(out, "class");
    out.extend_from_slice(class_json(TlvClass::of(raw.kind)));
    key!(out, "length");
    push_int(out, u16::try_from(raw.value.len()).unwrap_or(u16::MAX));
    key!(out, "offset");
    push_int(out, raw.offset);
    key!(out, "value");
}

fn no_sub(out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"sub\":[]");
}

/// A class as serde writes it (lowercase variant names).
fn class_json(class: TlvClass) -> &'static [u8] {
    match class {
        TlvClass::Standard => b"\"standard\"",
        TlvClass::Custom => b"\"custom\"",
        TlvClass::Experimental => b"\"experimental\"",
        TlvClass::Reserved => b"\"reserved\"",
        TlvClass::Unassigned => b"\"unassigned\"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_is_written_as_serde_writes_it() {
        for k in 0..=u8::MAX {
            let class = TlvClass::of(k);
            assert_eq!(
                class_json(class),
                serde_json::to_vec(&class).unwrap(),
                "{k}"
            );
        }
    }
}
