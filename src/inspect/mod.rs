//! Parsers over the first bytes of a flow direction (or one UDP datagram).
//!
//! Promise of every parser here: never panics on any input bytes; "need more bytes" (the
//! capture stopped inside a structure) is reported apart from "not this protocol" and from
//! "malformed". None of them allocates unless it has found its protocol.

pub mod escape;
pub mod flow;
pub mod http;
pub mod ip_text;
pub mod payload;
pub mod proxy;
pub mod spp;
pub mod tls;
pub mod toa;
pub mod trim;
