//! Inspection of one flow: runs the first-bytes parsers over each direction and gathers what
//! they say into the flow's report.

use serde::Serialize;

use crate::flow::{Flow, Proto, StreamEnd, TO_CLIENT, TO_SERVER};

#[derive(Debug, Clone, Serialize)]
pub struct FlowInspection {
    pub first_bytes: FirstBytesPair,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstBytesPair {
    pub to_server: FirstBytes,
    pub to_client: FirstBytes,
}

/// What the capture holds of a direction's first bytes.
#[derive(Debug, Clone, Serialize)]
pub struct FirstBytes {
    /// Contiguous bytes captured from the start of the direction (capped).
    pub captured: usize,
    /// Payload bytes the direction carried on the wire.
    pub wire_bytes: u64,
    pub end: StreamEnd,
    /// Where the first segments ended (a header spanning two of them was split).
    pub segment_ends: Vec<u32>,
}

pub fn inspect_flow(f: &Flow) -> FlowInspection {
    FlowInspection {
        first_bytes: FirstBytesPair {
            to_server: first_bytes(f, TO_SERVER),
            to_client: first_bytes(f, TO_CLIENT),
        },
    }
}

fn first_bytes(f: &Flow, dir: usize) -> FirstBytes {
    match f.proto {
        Proto::Tcp => {
            let s = &f.streams[dir];
            FirstBytes {
                captured: s.bytes().len(),
                wire_bytes: s.wire_bytes,
                end: s.end(),
                segment_ends: s.segment_ends.clone(),
            }
        }
        Proto::Udp => {
            let d = f.datagrams[dir].first();
            FirstBytes {
                captured: d.map_or(0, |d| d.head.len()),
                wire_bytes: f.bytes[dir],
                end: match d {
                    Some(d) if (d.head.len() as u32) < d.wire_len => StreamEnd::NotCaptured,
                    _ => StreamEnd::Complete,
                },
                segment_ends: Vec::new(),
            }
        }
    }
}
