//! `lbcheck live --filter 'EXPR'` through libpcap (cargo feature `libpcap`, needs libpcap-dev):
//! tcpdump's full filter language compiled by libpcap and attached in the kernel, for when
//! `--port` / `--proto` are not enough (e.g. `host 192.0.2.10 and tcp port 8080`, `vlan 20 and
//! port 443`). The `pcap` crate owns the unsafe calls; this module is safe.

use std::path::PathBuf;

use super::{KernelStats, LiveError, LiveSource, check_interface, wait_readable};
use crate::source::{InterfaceInfo, LinkType, RawPacket, TsPrecision};

/// Milliseconds of libpcap's ring block timeout. Reads are non-blocking and we poll ourselves:
/// libpcap's own timeout starts only once a packet has arrived (pcap_set_timeout(3PCAP)), so a
/// quiet interface would block the stop checks forever.
const READ_TIMEOUT_MS: i32 = 20;
const BUFFER_BYTES: i32 = 8 << 20;

pub struct PcapCapture {
    cap: pcap::Capture<pcap::Active>,
    iface: String,
    link_type: LinkType,
    snaplen: u32,
    index: u64,
    /// The capture's descriptor, to wait on (kept as a number: a read borrows the capture).
    fd: std::os::fd::RawFd,
}

fn io_error(iface: &str, what: &'static str, e: &pcap::Error) -> LiveError {
    let text = e.to_string();
    if text.contains("ermission") || text.contains("not permitted") {
        return LiveError::NoPrivilege;
    }
    LiveError::Io {
        iface: iface.to_string(),
        what,
        source: std::io::Error::other(text),
    }
}

impl PcapCapture {
    pub fn open(iface: &str, expression: &str, snaplen: u32) -> Result<Self, LiveError> {
        check_interface(iface)?;
        let inactive = pcap::Capture::from_device(iface)
            .map_err(|e| io_error(iface, "libpcap cannot use the interface", &e))?;
        let mut cap = inactive
            .snaplen(i32::try_from(snaplen).unwrap_or(i32::MAX))
            .promisc(false)
            .timeout(READ_TIMEOUT_MS)
            .buffer_size(BUFFER_BYTES)
            .precision(pcap::Precision::Nano)
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(|e| io_error(iface, "libpcap cannot open the interface", &e))?;
        cap.filter(expression, true)
            .map_err(|e| LiveError::BadFilter {
                expression: expression.to_string(),
                why: e.to_string(),
            })?;
        let link_type = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        let fd = std::os::fd::AsRawFd::as_raw_fd(&cap);
        Ok(Self {
            fd,
            cap,
            iface: iface.to_string(),
            link_type,
            snaplen,
            index: 0,
        })
    }
}

/// With nanosecond precision libpcap puts nanoseconds in `tv_usec`. time_t and suseconds_t are
/// i32 on 32-bit targets: the conversions are not useless there.
#[allow(clippy::useless_conversion)]
fn timeval_nanos(tv: &libc::timeval) -> i64 {
    i64::from(tv.tv_sec) * 1_000_000_000 + i64::from(tv.tv_usec)
}

impl LiveSource for PcapCapture {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.index += 1;
                let ts = timeval_nanos(&p.header.ts);
                Ok(Some(RawPacket {
                    index: self.index,
                    ts_nanos: ts,
                    interface: 0,
                    link_type: self.link_type,
                    orig_len: p.header.len.max(p.data.len() as u32),
                    data: p.data,
                }))
            }
            // Non-blocking read, nothing there: wait for the socket, the caller reads again.
            Err(pcap::Error::TimeoutExpired) => {
                wait_readable(self.fd);
                Ok(None)
            }
            Err(e) => Err(io_error(&self.iface, "receive failed", &e)),
        }
    }

    fn kernel_stats(&mut self) -> KernelStats {
        // libpcap's counters are totals since the capture opened.
        self.cap.stats().map_or_else(
            |_| KernelStats::default(),
            |s| KernelStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped) + u64::from(s.if_dropped),
            },
        )
    }

    fn link_type(&self) -> LinkType {
        self.link_type
    }

    fn file_snaplen(&self) -> u32 {
        self.snaplen
    }

    fn interface_info(&self) -> InterfaceInfo {
        InterfaceInfo {
            id: 0,
            name: Some(self.iface.clone()),
            link_type: self.link_type,
            snaplen: self.snaplen,
            ts_precision: TsPrecision::Nano,
        }
    }

    fn source_path(&self) -> PathBuf {
        PathBuf::from(format!("live:{}", self.iface))
    }
}
