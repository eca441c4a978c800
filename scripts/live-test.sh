#!/usr/bin/env bash
# `lbcheck live` against real traffic (tests/live.rs): HAProxy send-proxy-v2 with an SNAT source in
# front of nginx listen proxy_protocol, an nft-DNAT backend with a broken return path, each in
# network namespaces the test creates and removes (by name and PID, also on failure); plus the
# privilege and unknown-interface errors.
#
# Needs root and lab/packages.txt installed (haproxy nginx curl iproute2 nftables), and
# libpcap-dev for the `--features libpcap` part. Fails,
# rather than skips, when it cannot run. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "live-test: needs root (network namespaces, AF_PACKET)" >&2
  exit 1
fi
LBCHECK_LIVE=1 timeout 300 cargo test --test live -- --nocapture
# The libpcap build (`--filter`) too, where libpcap's headers are installed (libpcap-dev).
if [ -f /usr/include/pcap.h ] || [ -f /usr/include/pcap/pcap.h ]; then
  LBCHECK_LIVE=1 timeout 300 cargo test --features libpcap --test live -- --nocapture
else
  echo "live-test: libpcap-dev not installed: the --features libpcap build is not tested"
fi
