#!/usr/bin/env bash
# lab/tshark-proxy.sh FILE
# Prints the PROXY protocol headers tshark (Wireshark's packet-proxy.c dissector)
# finds in FILE, one per line, tab-separated:
#   frame  version  command  src-ipv4  src-ipv6  src-port
# version: proxy.version for v2 ("2"); "1" when tshark saw a v1 line (proxy.v1.magic),
#          since tshark 4.0 fills proxy.version for v2 only.
# command: proxy.v2.cmd as tshark prints it (0 = LOCAL, 1 = PROXY); empty for v1.
# Addresses and port: proxy.src.ipv4, proxy.src.ipv6, proxy.srcport (empty when absent,
# e.g. v2 LOCAL or "PROXY UNKNOWN").
# The heuristic dissector must run first (tcp.try_heuristic_first), or PROXY on
# ports other than the dissector's registered ones is shown as HTTP/TLS/data.
# This is the "second opinion" lbcheck's PROXY decoding is compared with.
set -euo pipefail
if [[ $# -ne 1 || ! -r "$1" ]]; then
  echo "usage: $0 CAPTURE_FILE" >&2
  exit 2
fi
tshark -n -r "$1" -o tcp.try_heuristic_first:TRUE -Y proxy -T fields \
  -E separator=/t -E occurrence=f \
  -e frame.number -e proxy.version -e proxy.v1.magic -e proxy.v2.cmd \
  -e proxy.src.ipv4 -e proxy.src.ipv6 -e proxy.srcport \
  2> >(grep -v '^Running as user' >&2) |
  awk -F'\t' 'BEGIN { OFS = "\t" }
    { ver = $2; if (ver == "" && $3 != "") ver = "1"
      print $1, ver, $4, $5, $6, $7 }'
