#!/usr/bin/env bash
# lbcheck lab: real HAProxy / nginx / Linux routing inside network namespaces,
# captured with tcpdump/dumpcap. See lab/README.md.
#
#   lab/run.sh SCENARIO... --out DIR
#   lab/run.sh all --out DIR
#   lab/run.sh --list
#
# Every namespace is named lbl-<pid>-<n>-<role>; every daemon is started inside
# its namespace, its PID recorded, and killed by PID on exit (also on error or
# signal); every namespace created is deleted. Nothing touches the root
# namespace's routes, rules, sysctls or firewall.
set -Eeuo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN_ID="lbl-$$"
NGINX_STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so

# ---------------------------------------------------------------- addresses
C_IP=192.0.2.10        # client
C_IP2=192.0.2.20       # second client address (same namespace)
C_IP6=2001:db8:c::10   # IPv6 client
RT_C=192.0.2.1
RT_C6=2001:db8:c::1
RT_F=198.51.100.1      # edge router, front (VIP) segment
RT_F6=2001:db8:f::1
VIP=198.51.100.10      # the LB's VIP
VIP6=2001:db8:f::10
RT_R2=198.51.100.253   # edge router <-> second router /30
RT2_UP=198.51.100.254
LB_B=203.0.113.1       # LB on the backend segment
LB_SNAT=100.64.0.2     # LB "system" source
LB_SNAT2=100.64.0.3    # second hop / nginx stream source
LB_PRIVATE=10.99.0.1   # a self-hosted LB's private source (in no LB range)
BE1=203.0.113.11
BE2=203.0.113.12
RT2_DN=203.0.113.254   # second ("dead-end") router on the backend segment

SCENARIOS=(
  dnat-passthrough
  snat-no-proxy
  snat-private-no-proxy
  snat-proxy-v2
  snat-proxy-v2-tls
  snat-proxy-v1
  proxy-to-plain-backend
  proxy-expected-missing
  nlb-local-healthcheck
  xff
  xff-two-hop
  xff-lb-both-legs
  transparent
  udp-dsr-origin-nat
  udp-dsr-no-nat
  asymmetric-blackhole
  asymmetric-leak
  capture-variants
)

describe() {
  case "$1" in
    dnat-passthrough) echo "nft DNAT on the LB, backends route back via the LB: client IP preserved";;
    snat-no-proxy) echo "HAProxy TCP mode sourcing from 100.64.0.2, no PROXY: client IP lost";;
    snat-private-no-proxy) echo "HAProxy TCP mode sourcing from a private address (10.99.0.1, in no LB range), no PROXY: lbcheck cannot tell, says so";;
    snat-proxy-v2) echo "HAProxy send-proxy-v2 (IPv4 + IPv6 clients) to nginx listen proxy_protocol; health checks as PROXY v2 LOCAL";;
    snat-proxy-v2-tls) echo "HAProxy TLS termination, send-proxy-v2-ssl-cn + TLVs (ssl, cn, cipher, sig, key, authority, crc32c, unique-id, alpn), client certs";;
    snat-proxy-v1) echo "HAProxy send-proxy and nginx stream proxy_protocol on (v1, IPv4 + IPv6) to nginx listen proxy_protocol";;
    proxy-to-plain-backend) echo "HAProxy send-proxy-v2 to a plain nginx listener: 400 Bad Request";;
    proxy-expected-missing) echo "no PROXY sent to nginx listen proxy_protocol: broken header, connection closed";;
    nlb-local-healthcheck) echo "AWS NLB-style PROXY v2 LOCAL health checks (family 0x11, no address block, CRC32C) next to HAProxy send-proxy-v2";;
    xff) echo "HAProxy http mode option forwardfor, plus client-forged X-Forwarded-For";;
    xff-two-hop) echo "HAProxy forwardfor -> nginx proxy_add_x_forwarded_for -> backend (two hops)";;
    xff-lb-both-legs) echo "HAProxy forwardfor from its own backend-segment address (no LB range), captured on the LB with -i any: both legs";;
    transparent) echo "nginx stream proxy_bind \$remote_addr transparent + fwmark/ip rule: backends see real client IPs";;
    udp-dsr-origin-nat) echo "nginx stream UDP DSR in front of dnsmasq; backend rewrites reply source to the VIP (nft)";;
    udp-dsr-no-nat) echo "nginx stream UDP DSR without origin NAT: replies from the real server, client answers ICMP port unreachable";;
    asymmetric-blackhole) echo "DNAT, backend default route via a dead-end router: SYN-ACKs never reach the client";;
    asymmetric-leak) echo "DNAT, backend default route bypasses the LB: un-NATed SYN-ACK reaches the client, which resets it";;
    capture-variants) echo "snat-proxy-v2(+tls) traffic captured as SLL2, SLL, two-interface pcapng, nanosecond, snaplen 60/80/96, 802.1Q";;
  esac
}

usage() {
  cat <<EOF
usage: $0 SCENARIO... --out DIR | $0 all --out DIR | $0 --list
EOF
}

log() { printf '[lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- state / cleanup
# Per-scenario state (reset in each scenario subshell)
PIDS=()          # daemon PIDs, killed with TERM at teardown
CAP_PIDS=()      # capture PIDs, stopped with INT
NSS=()           # namespaces created
SDIR=""          # scenario output dir
RUN=""           # scenario runtime dir (configs, logs, pids)
NSP=""           # namespace prefix for this scenario

register_pid() { PIDS+=("$1"); echo "$1" >>"$RUN/pids"; }

teardown() {
  local rc=$?
  set +e
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${CAP_PIDS[@]}" "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  local ns
  for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  return $rc
}

# Last-resort cleanup in the parent: kill every recorded PID and delete every
# namespace with our prefix (only ours: lbl-<our pid>-).
OUT=""
SUBSHELL_PID=""
parent_cleanup() {
  set +e
  if [[ -n "$SUBSHELL_PID" ]]; then kill -TERM "$SUBSHELL_PID" 2>/dev/null; wait "$SUBSHELL_PID" 2>/dev/null; fi
  if [[ -n "$OUT" ]]; then
    local f p
    for f in "$OUT"/*/run/pids; do
      [[ -f "$f" ]] || continue
      while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$f"
    done
  fi
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${RUN_ID}-" || true); do
    ip netns del "$ns" 2>/dev/null
  done
}

# ---------------------------------------------------------------- helpers
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
N() { echo "${NSP}-$1"; }   # namespace name for a role

mkns() {
  local ns; ns=$(N "$1")
  ip netns add "$ns"
  NSS+=("$ns")
  nsx "$ns" ip link set lo up
  nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# veth between two namespaces: link ROLE_A IF_A ROLE_B IF_B
link() {
  ip link add "$2" netns "$(N "$1")" type veth peer name "$4" netns "$(N "$3")"
  nsx "$(N "$1")" ip link set "$2" up
  nsx "$(N "$3")" ip link set "$4" up
}
addr() { nsx "$(N "$1")" ip addr add "$3" dev "$2" nodad 2>/dev/null || nsx "$(N "$1")" ip addr add "$3" dev "$2"; }
route() { local r=$1; shift; nsx "$(N "$r")" ip route add "$@"; }
route6() { local r=$1; shift; nsx "$(N "$r")" ip -6 route add "$@"; }
fwd() { nsx "$(N "$1")" sysctl -qw net.ipv4.ip_forward="$2" net.ipv6.conf.all.forwarding="$2"; }

# Base topology.  BE_GW: "lb" (backends route via the LB) or "rt2" (via the
# second router).  RT2_MODE: "forward" or "blackhole".
topo() {
  local be_gw=${1:-lb} rt2_mode=${2:-forward}
  local r
  for r in c rt lb sw b1 b2 rt2; do mkns "$r"; done
  # client <-> edge router
  link c eth0 rt c0
  addr c eth0 $C_IP/24; addr c eth0 $C_IP2/24; addr c eth0 $C_IP6/64
  addr rt c0 $RT_C/24; addr rt c0 $RT_C6/64
  route c default via $RT_C
  route6 c default via $RT_C6
  # edge router <-> LB (front / VIP segment 198.51.100.0/25)
  link rt f0 lb f0
  addr rt f0 $RT_F/25; addr rt f0 $RT_F6/64
  addr lb f0 $VIP/25; addr lb f0 $VIP6/64
  route lb default via $RT_F
  route6 lb default via $RT_F6
  # edge router <-> second router (198.51.100.252/30)
  link rt r2 rt2 u0
  addr rt r2 $RT_R2/30; addr rt2 u0 $RT2_UP/30
  route rt 203.0.113.0/24 via $RT2_UP
  route rt2 default via $RT_R2
  # backend segment: a bridge in its own namespace
  nsx "$(N sw)" ip link add br0 type bridge
  nsx "$(N sw)" ip link set br0 up
  link lb b0 sw p0
  link b1 eth0 sw p1
  link b2 eth0 sw p2
  link rt2 d0 sw p3
  for r in p0 p1 p2 p3; do nsx "$(N sw)" ip link set "$r" master br0; done
  addr lb b0 $LB_B/24; addr lb b0 $LB_SNAT/10; addr lb b0 $LB_SNAT2/10
  addr b1 eth0 $BE1/24; addr b2 eth0 $BE2/24
  addr rt2 d0 $RT2_DN/24
  fwd rt 1; fwd lb 1
  if [[ "$rt2_mode" == blackhole ]]; then
    fwd rt2 0
    route rt2 blackhole 192.0.2.0/24
  else
    fwd rt2 1
  fi
  for r in b1 b2; do
    route "$r" 100.64.0.0/10 via $LB_B
    if [[ "$be_gw" == lb ]]; then route "$r" default via $LB_B; else route "$r" default via $RT2_DN; fi
  done
}

# start a daemon in a namespace: bgd ROLE LOGNAME CMD...
bgd() {
  local role=$1 name=$2; shift 2
  ip netns exec "$(N "$role")" "$@" >"$RUN/$name.out" 2>&1 &
  register_pid $!
}

wait_listen() { # ROLE tcp|udp PORT
  local role=$1 proto=$2 port=$3 i flag=-Htln
  [[ $proto == udp ]] && flag=-Huln
  for i in $(seq 1 50); do
    if nsx "$(N "$role")" ss $flag "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.1
  done
  die "$role: nothing listening on $proto/$port (see $RUN/*.out)"
}

CAP_CMDS_FILE=""
# cap FILE ROLE IFACE [extra tcpdump args]
cap() {
  local file=$1 role=$2 ifc=$3; shift 3
  local errf="$RUN/tcpdump-$file.err"
  # -B 32768: a 32 MiB kernel ring. In immediate mode libpcap uses TPACKET_V2 frames
  # sized by the snaplen (262144 bytes for -i any, whose MTU it cannot ask), so the
  # default 2 MiB holds only ~8 packets and a busy 2-core CI machine dropped some
  # (a fresh any-sll.pcap lost a PROXY header: "7 packets dropped by kernel").
  local cmd=(tcpdump -i "$ifc" -w "$SDIR/$file" --immediate-mode -U -n -Z root -B 32768 "$@")
  ip netns exec "$(N "$role")" "${cmd[@]}" 2>"$errf" &
  local pid=$!
  CAP_PIDS+=("$pid"); echo "$pid" >>"$RUN/pids"
  printf '%s\t%s\t%s\n' "$file" "$role" "${cmd[*]/$SDIR\//}" >>"$CAP_CMDS_FILE"
  local i
  for i in $(seq 1 50); do
    grep -q "listening on" "$errf" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "tcpdump for $file died: $(cat "$errf")"
    sleep 0.1
  done
  die "tcpdump for $file not listening"
}

# dumpcap with several interfaces -> pcapng
cap_dumpcap() { # FILE ROLE IFACE...
  local file=$1 role=$2; shift 2
  local errf="$RUN/dumpcap-$file.err" a=() i
  for i in "$@"; do a+=(-i "$i"); done
  local cmd=(dumpcap -q "${a[@]}" -w "$SDIR/$file")
  ip netns exec "$(N "$role")" "${cmd[@]}" 2>"$errf" &
  local pid=$!
  CAP_PIDS+=("$pid"); echo "$pid" >>"$RUN/pids"
  printf '%s\t%s\t%s\n' "$file" "$role" "${cmd[*]/$SDIR\//}" >>"$CAP_CMDS_FILE"
  # dumpcap -q prints nothing when ready: wait until the file has its section header
  # and give the capture a moment to attach to all interfaces.
  for i in $(seq 1 50); do
    [[ -s "$SDIR/$file" ]] && { sleep 0.3; return 0; }
    kill -0 "$pid" 2>/dev/null || die "dumpcap for $file died: $(cat "$errf")"
    sleep 0.1
  done
  die "dumpcap for $file did not start"
}

cap_stop() {
  sleep 0.5
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAP_PIDS=()
  check_capture_drops
}

# A capture that lost packets in the kernel does not show what happened (a lost
# PROXY header reads as "no PROXY"), so its scenario cannot be judged: fail with
# EX_TEMPFAIL (75), which main() answers by running the scenario again.
EX_CAPTURE_DROPS=75
check_capture_drops() {
  local f n
  for f in "$RUN"/tcpdump-*.err "$RUN"/dumpcap-*.err; do
    [[ -f "$f" ]] || continue
    # tcpdump: "7 packets dropped by kernel"; dumpcap (per interface):
    # "Packets received/dropped on interface 'f0': 139/0 (pcap:0/...)"
    n=$(awk '/packets dropped by kernel/ {s += $1}
             /^Packets received\/dropped on interface/ {split($6, a, "/"); s += a[2]}
             END {print s + 0}' "$f")
    if [[ "$n" != 0 ]]; then
      log "ERROR: ${f##*/}: $n packets dropped by kernel: the capture is incomplete"
      exit "$EX_CAPTURE_DROPS"
    fi
  done
}

client_do() { # LABEL CMD... ; runs in the client namespace, appends to client-output.txt
  local label=$1; shift
  local rc=0 out
  out=$(ip netns exec "$(N c)" "$@" 2>&1) || rc=$?
  printf '### %s (rc=%s)\n%s\n' "$label" "$rc" "$out" >>"$SDIR/client-output.txt"
}

curl_c() { # LABEL curl-args...
  local label=$1; shift
  client_do "$label" curl -sS --max-time 3 -D - "$@"
}

# ---------------------------------------------------------------- daemons
nginx_start() { # ROLE NAME STREAM(0|1) HTTP_BODY STREAM_BODY
  local role=$1 name=$2 stream=$3 http_body=$4 stream_body=${5:-}
  local p="$RUN/nginx-$name"
  mkdir -p "$p/tmp"
  {
    [[ "$stream" == 1 ]] && echo "load_module $NGINX_STREAM_MOD;"
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $p/nginx.pid;
error_log $p/error.log info;
events { worker_connections 128; }
EOF
    if [[ -n "$http_body" ]]; then
      cat <<EOF
http {
  access_log $p/access.log;
  client_body_temp_path $p/tmp/body;
  proxy_temp_path $p/tmp/proxy;
  fastcgi_temp_path $p/tmp/fastcgi;
  uwsgi_temp_path $p/tmp/uwsgi;
  scgi_temp_path $p/tmp/scgi;
  default_type text/plain;
$http_body
}
EOF
    fi
    if [[ -n "$stream_body" ]]; then
      cat <<EOF
stream {
  error_log $p/error.log info;
$stream_body
}
EOF
    fi
  } >"$p/nginx.conf"
  nsx "$(N "$role")" nginx -t -q -c "$p/nginx.conf" -p "$p" -e "$p/error.log" \
    || die "nginx config $name invalid"
  bgd "$role" "nginx-$name" nginx -c "$p/nginx.conf" -p "$p" -e "$p/error.log"
}

# backend nginx: 8080 plain HTTP, 8081 HTTP with listen ... proxy_protocol
backend_nginx() { # ROLE IP
  local role=$1 ip=$2
  nginx_start "$role" "$role" 0 "
  server {
    listen $ip:8080;
    location / { return 200 \"$role remote=\$remote_addr:\$remote_port xff=\$http_x_forwarded_for\n\"; }
  }
  server {
    listen $ip:8081 proxy_protocol;
    location / { return 200 \"$role remote=\$remote_addr pp=\$proxy_protocol_addr:\$proxy_protocol_port\n\"; }
  }"
}

backends_up() {
  backend_nginx b1 $BE1
  backend_nginx b2 $BE2
  wait_listen b1 tcp 8081; wait_listen b2 tcp 8081
}

haproxy_start() { # BODY  (global+defaults added)
  local cfg="$RUN/haproxy.cfg"
  cat >"$cfg" <<EOF
global
  log stdout format raw local0 info
  tune.ssl.default-dh-param 2048
defaults
  log global
  option dontlognull
  timeout connect 2s
  timeout client 5s
  timeout server 5s
  timeout check 1s
$1
EOF
  nsx "$(N lb)" haproxy -c -q -f "$cfg" || die "haproxy config invalid: $cfg"
  bgd lb haproxy haproxy -db -f "$cfg"
}

PKI=""
make_pki() {
  PKI="$OUT/.pki"
  [[ -f "$PKI/client.key" ]] && return 0
  mkdir -p "$PKI"
  (
    cd "$PKI"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3 -subj "/CN=lbcheck lab CA" 2>/dev/null
    openssl req "${ec[@]}" -keyout srv.key -out srv.csr -subj "/CN=lab.example" 2>/dev/null
    printf 'subjectAltName=DNS:lab.example\n' >srv.ext
    openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 3 -extfile srv.ext 2>/dev/null
    cat srv.crt srv.key >srv.pem
    openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=client-1.lab.example" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 3 2>/dev/null
  ) || die "openssl failed"
}

# ---------------------------------------------------------------- statement.json
STMT_CAPS=""    # file with one JSON object per line
# stmt_cap FILE SIDE PROTO PORT EXPECT(k=v,..) FINDINGS(a,b) CLIENTS(a,b) LB_SOURCE [NOTE]
stmt_cap() {
  local file=$1 side=$2 proto=$3 port=$4 expect=$5 findings=$6 clients=$7 lbsrc=$8 note=${9:-}
  local cmd role
  cmd=$(awk -F'\t' -v f="$file" '$1==f {print $3}' "$CAP_CMDS_FILE" | tail -1)
  role=$(awk -F'\t' -v f="$file" '$1==f {print $2}' "$CAP_CMDS_FILE" | tail -1)
  case "$role" in
    c) role="client ($C_IP, $C_IP6)";; lb) role="lb ($VIP, $VIP6 / $LB_B, $LB_SNAT)";;
    b1) role="backend1 ($BE1)";; t2) role="trunk (veth end receiving the tcpreplay'ed frames)";;
  esac
  jq -cn --arg file "$file" --arg side "$side" --arg proto "$proto" --argjson port "$port" \
    --arg expect "$expect" --arg findings "$findings" --arg clients "$clients" \
    --arg lbsrc "$lbsrc" --arg cmd "$cmd" --arg role "$role" --arg note "$note" '
    def csv: split(",") | map(select(. != ""));
    {($file): ({side: $side, proto: $proto, service_port: $port,
       expect: ($expect | csv | map(split("=") | {(.[0]): .[1]}) | add // {}),
       findings: ($findings | csv),
       clients: ($clients | csv),
       lb_source: (if $lbsrc == "" then null else $lbsrc end),
       capture: {namespace: $role, command: $cmd}}
       + (if $note == "" then {} else {note: $note} end))}' >>"$STMT_CAPS"
}

stmt_write() { # SCENARIO NOTES
  local scen=$1 notes=$2
  # every capture named in the statement must exist and hold packets
  jq -s --arg scen "$scen" --arg notes "$notes" --arg desc "$(describe "$scen")" \
    --arg vip "$VIP" --arg vip6 "$VIP6" '
    {scenario: $scen, description: $desc, schema: "lbcheck-lab/1",
     topology: {vip: [$vip, $vip6], backends: ["203.0.113.11", "203.0.113.12"],
                lb_snat_sources: ["100.64.0.2", "100.64.0.3"]},
     captures: add, notes: $notes}' "$STMT_CAPS" >"$SDIR/statement.json"
}

check_captures() {
  local f n bad=0
  for f in $(jq -r '.captures | keys[]' "$SDIR/statement.json"); do
    if [[ ! -s "$SDIR/$f" ]]; then log "missing capture $f"; bad=1; continue; fi
    n=$(capinfos -c -M "$SDIR/$f" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    if [[ -z "$n" || "$n" == 0 ]]; then log "capture $f has no packets"; bad=1; fi
    printf '%s\t%s packets\n' "$f" "${n:-?}" >>"$SDIR/captures.txt"
  done
  [[ $bad == 0 ]] || die "scenario $(basename "$SDIR") produced incomplete captures"
}


# ---------------------------------------------------------------- sanity checks
# A scenario is "ok" only when the traffic really did what the scenario claims.
must_out() { # PATTERN [MIN_COUNT]: client-output.txt must match
  local n
  n=$(grep -cE -- "$1" "$SDIR/client-output.txt" || true)
  [[ "$n" -ge "${2:-1}" ]] || die "expected client output /$1/ at least ${2:-1}x, got $n"
}
pcap_count() { # FILE BPF
  tcpdump -nr "$SDIR/$1" "$2" 2>/dev/null | wc -l
}
must_pcap() { # FILE BPF MIN [MAX]
  local n; n=$(pcap_count "$1" "$2")
  [[ "$n" -ge "$3" ]] || die "$1: expected >= $3 packets matching '$2', got $n"
  [[ -z "${4:-}" || "$n" -le "$4" ]] || die "$1: expected <= $4 packets matching '$2', got $n"
}
must_proxy() { # FILE AWK_CONDITION MIN  (over lab/tshark-proxy.sh output: $2 version, $3 cmd, $4 src4, $5 src6)
  local n
  n=$("$LAB_DIR/tshark-proxy.sh" "$SDIR/$1" | awk -F'\t' "$2 {n++} END {print n+0}")
  [[ "$n" -ge "$3" ]] || die "$1: expected >= $3 PROXY headers with $2, got $n"
}

# ---------------------------------------------------------------- scenarios
dnat_rules() { # on the LB: VIP:80 -> backends:8080, round robin
  nsx "$(N lb)" nft -f - <<EOF
table ip lab {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $VIP tcp dport 80 dnat to numgen inc mod 2 map { 0 : $BE1, 1 : $BE2 } : 8080
  }
}
EOF
}

sc_dnat_passthrough() {
  topo lb forward
  backends_up
  dnat_rules
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  curl_c "GET from $C_IP2" --interface $C_IP2 http://$VIP/
  curl_c "GET from $C_IP2 (2)" --interface $C_IP2 http://$VIP/
  cap_stop
  must_out 'remote=192\.0\.2\.10:' 2; must_out 'remote=192\.0\.2\.20:' 1
  must_pcap backend.pcap 'src host 192.0.2.10 and tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0' 1
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap backend.pcap backend tcp 8080 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_write dnat-passthrough "LB: nft 'dnat to numgen inc mod 2 map {0: $BE1, 1: $BE2} : 8080' for $VIP:80 (lb.pcap is the LB's VIP-side interface). Backends' default route is the LB ($LB_B), so replies are un-NATed there. backend.pcap is on $BE1 only (round robin: it sees every other flow)."
}

# HAProxy 'mode tcp' on the VIP, no PROXY, round robin to both backends with TCP checks.
haproxy_tcp_snat_start() { # SOURCE
  haproxy_start "
frontend fe
  mode tcp
  bind $VIP:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $1
  server be1 $BE1:8080 check inter 1s
  server be2 $BE2:8080 check inter 1s"
  wait_listen lb tcp 80
}

sc_snat_no_proxy() {
  topo lb forward
  backends_up
  haproxy_tcp_snat_start "$LB_SNAT"
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  curl_c "GET from $C_IP2" --interface $C_IP2 http://$VIP/
  sleep 1
  cap_stop
  must_out 'remote=100\.64\.0\.2:' 4
  must_pcap backend.pcap 'src host 192.0.2.10' 0 0
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap backend.pcap backend tcp 8080 "client_ip=lost,snat=yes,proxy_protocol=none,return_path=ok" "client-ip.lost" "$C_IP,$C_IP2" "$LB_SNAT" \
    "every flow comes from $LB_SNAT (RFC 6598 space); HAProxy TCP health checks (connect, no payload, close) from the same source, about one per second"
  stmt_write snat-no-proxy "HAProxy 'mode tcp' with 'source $LB_SNAT', servers $BE1:8080/$BE2:8080 (plain nginx), 'check inter 1s'. The backend only sees $LB_SNAT: the client IP is not recoverable."
}

sc_snat_private_no_proxy() {
  topo lb forward
  backends_up
  # A self-hosted balancer's own private address: the backends reach it through their default
  # route (the LB). Nothing in the packets says it is a balancer but its health checks.
  addr lb b0 $LB_PRIVATE/32
  haproxy_tcp_snat_start "$LB_PRIVATE"
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  sleep 2
  cap_stop
  must_out 'remote=10\.99\.0\.1:' 4
  must_pcap backend.pcap "src host $LB_PRIVATE and tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0" 3
  stmt_cap backend.pcap backend tcp 8080 "client_ip=unknown,snat=unknown,proxy_protocol=none,return_path=ok" "snat.undecided,health-check.flows" "$C_IP" "$LB_PRIVATE" \
    "every flow comes from $LB_PRIVATE (RFC 1918, in no LB range), the health checks too: the packets cannot prove SNAT; lbcheck says so (snat.undecided, naming $LB_PRIVATE as the likely balancer and --lb-range lb=$LB_PRIVATE/32)"
  stmt_write snat-private-no-proxy "HAProxy 'mode tcp' with 'source $LB_PRIVATE' (an address in no LB range), servers $BE1:8080/$BE2:8080 (plain nginx), 'check inter 1s'. The backend sees only $LB_PRIVATE."
}

haproxy_pp2_cfg() {
  cat <<EOF
frontend fe
  mode tcp
  bind $VIP:80
  bind [$VIP6]:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8081 send-proxy-v2 check check-send-proxy inter 1s
  server be2 $BE2:8081 send-proxy-v2 check check-send-proxy inter 1s
EOF
}

haproxy_tls_cfg() {
  cat <<EOF
frontend fe_tls
  mode http
  bind $VIP:443 ssl crt $PKI/srv.pem alpn h2,http/1.1 ca-file $PKI/ca.crt verify optional
  unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt
  default_backend be_tls
backend be_tls
  mode http
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8081 send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id check check-send-proxy inter 1s
  server be2 $BE2:8081 send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id check check-send-proxy inter 1s
EOF
}

pp2_traffic() {
  local i
  for i in 1 2 3 4; do curl_c "GET v4 #$i" http://$VIP/; done
  curl_c "GET v4 from $C_IP2" --interface $C_IP2 http://$VIP/
  curl_c "GET v4 from $C_IP2 (2)" --interface $C_IP2 http://$VIP/
  for i in 1 2 3 4; do curl_c "GET v6 #$i" -g "http://[$VIP6]/"; done
}

tls_traffic() {
  local tls=(--resolve "lab.example:443:$VIP" --cacert "$PKI/ca.crt")
  curl_c "TLS h2 no client cert" "${tls[@]}" --http2 https://lab.example/
  curl_c "TLS h2 no client cert (2)" "${tls[@]}" --http2 https://lab.example/
  curl_c "TLS http/1.1 no client cert" "${tls[@]}" --http1.1 https://lab.example/
  curl_c "TLS http/1.1 no client cert (2)" "${tls[@]}" --http1.1 https://lab.example/
  curl_c "TLS h2 client cert" "${tls[@]}" --http2 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
  curl_c "TLS h2 client cert (2)" "${tls[@]}" --http2 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
  curl_c "TLS http/1.1 client cert" "${tls[@]}" --http1.1 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
  curl_c "TLS http/1.1 client cert (2)" "${tls[@]}" --http1.1 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
}

sc_snat_proxy_v2() {
  topo lb forward
  backends_up
  haproxy_start "$(haproxy_pp2_cfg)"
  wait_listen lb tcp 80
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  sleep 1.2   # at least one health check per server inside the capture
  pp2_traffic
  cap_stop
  must_out 'pp=192\.0\.2\.10:' 2; must_out 'pp=2001:db8:c::10:' 2
  must_proxy backend.pcap '$2 == 2 && $3 == 0' 1
  must_proxy backend.pcap '$2 == 2 && $3 == 1 && $5 == "2001:db8:c::10"' 1
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2,$C_IP6" ""
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2,$C_IP6" ""
  stmt_cap backend.pcap backend tcp 8081 "client_ip=proxy-v2,snat=yes,proxy_protocol=v2,return_path=ok" "" "$C_IP,$C_IP2,$C_IP6" "$LB_SNAT" \
    "client flows carry PROXY v2 PROXY (TCP4, or TCP6 for the IPv6 client $C_IP6 over an IPv4 connection); HAProxy health checks carry PROXY v2 LOCAL with family 0x00 and length 0 (kind health-check), about one per second"
  stmt_write snat-proxy-v2 "HAProxy 'mode tcp', binds $VIP:80 and [$VIP6]:80, 'source $LB_SNAT', 'server ... send-proxy-v2 check check-send-proxy inter 1s' to nginx 'listen $BE1:8081 proxy_protocol'. Health checks send PROXY v2 LOCAL."
}

sc_snat_proxy_v2_tls() {
  make_pki
  topo lb forward
  backends_up
  haproxy_start "$(haproxy_tls_cfg)"
  wait_listen lb tcp 443
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  sleep 1.2
  tls_traffic
  cap_stop
  must_out '^HTTP/2 200' 4; must_out 'pp=192\.0\.2\.10:' 8
  must_proxy backend.pcap '$2 == 2 && $3 == 1' 4
  stmt_cap client.pcap client tcp 443 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" ""
  stmt_cap lb.pcap lb tcp 443 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" ""
  stmt_cap backend.pcap backend tcp 8081 "client_ip=proxy-v2,snat=yes,proxy_protocol=v2,return_path=ok" "" "$C_IP" "$LB_SNAT" \
    "PROXY v2 with TLVs: ALPN (0x01, h2 or http/1.1), AUTHORITY (0x02, lab.example), CRC32C (0x03, valid), UNIQUE_ID (0x05), SSL (0x20) with VERSION, CN (client-1.lab.example when a client cert was sent), CIPHER, SIG_ALG, KEY_ALG sub-TLVs; health checks are PROXY v2 LOCAL with family 0x00 and length 15: a CRC32C TLV and an empty SSL TLV (client 0x00, verify 0)"
  stmt_write snat-proxy-v2-tls "HAProxy terminates TLS on $VIP:443 (self-signed EC cert for lab.example made at run time, alpn h2,http/1.1, 'verify optional' with a lab CA) and sends 'send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id' to nginx listen proxy_protocol. HAProxy 2.6 has no 'alpn' proxy-v2-option: it always adds the ALPN TLV when ALPN was negotiated. curl uses --resolve lab.example:443:$VIP (SNI lab.example), --http2 / --http1.1, half the flows with a client certificate (CN client-1.lab.example)."
}

sc_snat_proxy_v1() {
  topo lb forward
  backends_up
  haproxy_start "
frontend fe
  mode tcp
  bind $VIP:80
  bind [$VIP6]:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8081 send-proxy check inter 1s
  server be2 $BE2:8081 send-proxy check inter 1s"
  nginx_start lb lb 1 "" "
  upstream pp1 { server $BE1:8081; server $BE2:8081; }
  server {
    listen $VIP:81;
    listen [$VIP6]:81;
    proxy_pass pp1;
    proxy_protocol on;
    proxy_bind $LB_SNAT2;
  }"
  wait_listen lb tcp 80; wait_listen lb tcp 81
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  sleep 1.2
  local i
  for i in 1 2 3; do curl_c "HAProxy v4 #$i" http://$VIP/; done
  for i in 1 2; do curl_c "HAProxy v6 #$i" -g "http://[$VIP6]/"; done
  for i in 1 2 3; do curl_c "nginx stream v4 #$i" http://$VIP:81/; done
  for i in 1 2; do curl_c "nginx stream v6 #$i" -g "http://[$VIP6]:81/"; done
  cap_stop
  must_out 'remote=100\.64\.0\.2 pp=2001:db8:c::10:' 1; must_out 'remote=100\.64\.0\.3 pp=2001:db8:c::10:' 1
  must_out 'remote=100\.64\.0\.3 pp=192\.0\.2\.10:' 1
  must_proxy backend.pcap '$2 == 1' 4
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP6" "" "services on ports 80 (HAProxy) and 81 (nginx stream)"
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP6" "" "services on ports 80 (HAProxy) and 81 (nginx stream)"
  stmt_cap backend.pcap backend tcp 8081 "client_ip=proxy-v1,snat=yes,proxy_protocol=v1,return_path=ok" "" "$C_IP,$C_IP6" "$LB_SNAT,$LB_SNAT2" \
    "PROXY v1 'PROXY TCP4 ...' and 'PROXY TCP6 ...' from HAProxy (source $LB_SNAT) and nginx stream (source $LB_SNAT2); HAProxy v1 health checks from $LB_SNAT"
  stmt_write snat-proxy-v1 "Two LBs in the LB namespace, both sending PROXY v1 to nginx 'listen $BE1:8081 proxy_protocol': HAProxy ($VIP:80 and [$VIP6]:80, 'send-proxy', source $LB_SNAT, 'check inter 1s') and nginx stream ($VIP:81 and [$VIP6]:81, 'proxy_protocol on; proxy_bind $LB_SNAT2')."
}

sc_proxy_to_plain_backend() {
  topo lb forward
  backends_up
  haproxy_start "
frontend fe
  mode tcp
  bind $VIP:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8080 send-proxy-v2 check check-send-proxy inter 1s
  server be2 $BE2:8080 send-proxy-v2 check inter 1s"
  wait_listen lb tcp 80
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  cap_stop
  cp "$RUN/nginx-b1/access.log" "$SDIR/backend-nginx-access.log"
  cp "$RUN/nginx-b1/error.log" "$SDIR/backend-nginx-error.log"
  grep -q '" 400 ' "$SDIR/backend-nginx-access.log" || die "no 400 in nginx access.log"
  must_out '^HTTP/1.1 400 Bad Request' 4
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" "the client receives 'HTTP/1.1 400 Bad Request' from nginx through the LB"
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" ""
  stmt_cap backend.pcap backend tcp 8080 "snat=yes,proxy_protocol=v2" "proxy.sent-to-plain-backend" "$C_IP" "$LB_SNAT" \
    "PROXY v2 arrives at a plain HTTP listener; nginx answers 400 Bad Request and closes (see backend-nginx-access.log). Health checks (LOCAL) are not answered."
  stmt_write proxy-to-plain-backend "HAProxy 'send-proxy-v2' to nginx 'listen $BE1:8080' without proxy_protocol: nginx reads the binary header as a request line and answers 400."
}

sc_proxy_expected_missing() {
  topo lb forward
  backends_up
  haproxy_start "
frontend fe
  mode tcp
  bind $VIP:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8081 check inter 1s
  server be2 $BE2:8081 check inter 1s
frontend fe_tls_passthrough
  mode tcp
  bind $VIP:443
  default_backend be_tls
backend be_tls
  mode tcp
  source $LB_SNAT
  server be1 $BE1:8081"
  wait_listen lb tcp 80; wait_listen lb tcp 443
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  sleep 1.2
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  for i in 1 2; do curl_c "TLS passthrough #$i" -k --resolve lab.example:443:$VIP https://lab.example/; done
  cap_stop
  cp "$RUN/nginx-b1/error.log" "$SDIR/backend-nginx-error.log"
  grep -aq 'broken header: "GET / HTTP/1.1' "$SDIR/backend-nginx-error.log" || die "no 'broken header' in nginx error.log"
  must_out 'Empty reply from server' 4
  grep -aq $'broken header: "\x16\x03' "$SDIR/backend-nginx-error.log" || die "no TLS ClientHello 'broken header' in nginx error.log"
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" "curl: empty reply from server (the backend closed); port 443 (TLS passed through by HAProxy mode tcp) is a second service"
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" ""
  stmt_cap backend.pcap backend tcp 8081 "client_ip=lost,snat=yes,proxy_protocol=none" "proxy.expected-but-missing" "$C_IP" "$LB_SNAT" \
    "plain HTTP requests, TLS ClientHellos (HAProxy TCP passthrough of VIP:443, always to $BE1) and HAProxy TCP health checks (connect and close) reach 'listen ... proxy_protocol' without a header; nginx logs 'broken header' with the HTTP request line or the raw ClientHello bytes and closes without answering (see backend-nginx-error.log); the health checks (connect, close, no bytes) leave no log line"
  stmt_write proxy-expected-missing "HAProxy sends no PROXY header to nginx 'listen $BE1:8081 proxy_protocol': nginx logs 'broken header: \"GET / HTTP/1.1...\" while reading PROXY protocol' and closes; HAProxy's TCP health checks (connect and close) leave no log line in nginx 1.22. A TLS passthrough listener ($VIP:443, mode tcp, no PROXY) sends the ClientHello where nginx expects PROXY."
}

# HAProxy 'mode http' + 'option forwardfor' on the VIP, round robin to both backends.
haproxy_forwardfor_start() { # SOURCE SERVER_OPTIONS
  haproxy_start "
frontend fe
  mode http
  bind $VIP:80
  option forwardfor
  default_backend be
backend be
  mode http
  balance roundrobin
  source $1
  server be1 $BE1:8080 $2
  server be2 $BE2:8080 $2"
  wait_listen lb tcp 80
}

sc_xff() {
  topo lb forward
  backends_up
  haproxy_forwardfor_start "$LB_SNAT" "check inter 1s"
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2; do curl_c "GET #$i" http://$VIP/; done
  for i in 1 2; do curl_c "GET from $C_IP2 #$i" --interface $C_IP2 http://$VIP/; done
  for i in 1 2 3 4; do curl_c "GET forged XFF #$i" -H "X-Forwarded-For: 203.0.113.250" http://$VIP/; done
  cap_stop
  must_out 'xff=203\.0\.113\.250, 192\.0\.2\.10$' 4; must_out 'remote=100\.64\.0\.2:' 8
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" "" "some requests carry a client-forged 'X-Forwarded-For: 203.0.113.250'"
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap backend.pcap backend tcp 8080 "client_ip=xff,snat=yes,proxy_protocol=none,return_path=ok" "xff.multiple-headers" "$C_IP,$C_IP2" "$LB_SNAT" \
    "one X-Forwarded-For header (the client) on honest requests; on forged ones two X-Forwarded-For headers: the forged '203.0.113.250' first, then HAProxy's '$C_IP' (the trustworthy one is the last)"
  stmt_write xff "HAProxy 'mode http' + 'option forwardfor', source $LB_SNAT, to nginx $BE1:8080. Four requests send their own 'X-Forwarded-For: 203.0.113.250'; HAProxy appends a second header line rather than merging."
}

sc_xff_two_hop() {
  topo lb forward
  backends_up
  haproxy_start "
frontend fe
  mode http
  bind $VIP:80
  option forwardfor
  default_backend hop2
backend hop2
  mode http
  source $LB_SNAT
  server nginx-hop2 $LB_SNAT2:8000"
  nginx_start lb hop2 0 "
  upstream be { server $BE1:8080; server $BE2:8080; }
  server {
    listen $LB_SNAT2:8000;
    location / {
      proxy_pass http://be;
      proxy_bind $LB_SNAT2;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }"
  wait_listen lb tcp 80; wait_listen lb tcp 8000
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  for i in 1 2; do curl_c "GET forged XFF #$i" -H "X-Forwarded-For: 203.0.113.250" http://$VIP/; done
  cap_stop
  must_out 'remote=100\.64\.0\.3:[0-9]+ xff=192\.0\.2\.10, 100\.64\.0\.2$' 4
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" ""
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" ""
  stmt_cap backend.pcap backend tcp 8080 "client_ip=xff,snat=yes,proxy_protocol=none,return_path=ok" "" "$C_IP" "$LB_SNAT2" \
    "single X-Forwarded-For header '$C_IP, $LB_SNAT' (nginx merges HAProxy's header and appends its peer); forged requests: '203.0.113.250, $C_IP, $LB_SNAT' (nginx merges all into one line). The client is the entry added by the first trusted hop: $C_IP"
  stmt_write xff-two-hop "Two HTTP proxies in the LB namespace: HAProxy ($VIP:80, option forwardfor, source $LB_SNAT) -> nginx ($LB_SNAT2:8000, proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for, proxy_bind $LB_SNAT2) -> backend $BE1:8080."
}

sc_xff_lb_both_legs() {
  topo lb forward
  backends_up
  # The balancer's own address on the backend segment (in no LB range): what a self-hosted
  # HAProxy sends from. A capture on the balancer with -i any holds both legs of every request.
  haproxy_forwardfor_start "$LB_B" ""
  cap client.pcap c eth0
  cap lb-any.pcap lb any
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  for i in 1 2; do curl_c "GET from $C_IP2 #$i" --interface $C_IP2 http://$VIP/; done
  cap_stop
  must_out 'remote=203\.0\.113\.1:[0-9]+ xff=192\.0\.2\.10$' 4
  must_out 'remote=203\.0\.113\.1:[0-9]+ xff=192\.0\.2\.20$' 2
  must_pcap lb-any.pcap "tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0 and src host $LB_B" 6
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap lb-any.pcap lb tcp 8080 "client_ip=xff,snat=yes,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" "$LB_B" \
    "both legs on one capture: clients -> $VIP:80, then $LB_B -> $BE1/$BE2:8080 with 'X-Forwarded-For: <client>'; $LB_B is in no LB range, so only the header naming a client seen connecting tells the backend leg"
  stmt_cap backend.pcap backend tcp 8080 "client_ip=xff,snat=yes,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" "$LB_B"
  stmt_write xff-lb-both-legs "HAProxy 'mode http' + 'option forwardfor', source $LB_B (its own backend-segment address, in no LB range), to nginx $BE1/$BE2:8080; lb-any.pcap is 'tcpdump -i any' on the balancer (LINUX_SLL2, both legs)."
}

sc_transparent() {
  topo lb forward
  backends_up
  # NGINX "IP transparency": replies from the upstreams (routed to the LB,
  # their default gateway) are marked and delivered locally to nginx.
  nsx "$(N lb)" iptables -t mangle -A PREROUTING -p tcp -s 203.0.113.0/24 --sport 8080 -j MARK --set-xmark 0x1/0xffffffff
  nsx "$(N lb)" ip rule add fwmark 1 lookup 100
  nsx "$(N lb)" ip route add local 0.0.0.0/0 dev lo table 100
  nginx_start lb lb 1 "" "
  upstream be { server $BE1:8080; server $BE2:8080; }
  server {
    listen $VIP:80;
    proxy_pass be;
    proxy_bind \$remote_addr transparent;
  }"
  wait_listen lb tcp 80
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  for i in 1 2; do curl_c "GET from $C_IP2 #$i" --interface $C_IP2 http://$VIP/; done
  cap_stop
  must_out 'remote=192\.0\.2\.10:' 4; must_out 'remote=192\.0\.2\.20:' 2
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap lb.pcap lb tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" ""
  stmt_cap backend.pcap backend tcp 8080 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP,$C_IP2" "" \
    "the backend connection's source is the real client address (IP_TRANSPARENT bind); its source port is nginx's, not the client's"
  stmt_write transparent "nginx stream on the LB: 'proxy_bind \$remote_addr transparent' (worker runs as root for CAP_NET_ADMIN). LB: 'iptables -t mangle -A PREROUTING -p tcp -s 203.0.113.0/24 --sport 8080 -j MARK --set-xmark 0x1/0xffffffff', 'ip rule add fwmark 1 lookup 100', 'ip route add local 0.0.0.0/0 dev lo table 100'. Backends' default gateway is the LB."
}

udp_dsr_common() { # origin_nat 0|1
  local onat=$1
  topo rt2 forward
  local r ip
  for r in b1 b2; do
    ip=$BE1; [[ $r == b2 ]] && ip=$BE2
    bgd "$r" dnsmasq dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
      --listen-address="$ip" --port=53 --user=root --pid-file= --log-queries --log-facility=- \
      --address=/lab.example/203.0.113.80 --address=/www.lab.example/203.0.113.81
    if [[ $onat == 1 ]]; then
      # origin NAT: stateless rewrite of the reply source to the VIP on the way out
      nsx "$(N "$r")" nft -f - <<EOF
table ip dsr {
  chain out {
    type filter hook postrouting priority 100; policy accept;
    oifname "eth0" ip saddr $ip udp sport 53 ip saddr set $VIP
  }
}
EOF
    fi
  done
  nginx_start lb lb 1 "" "
  upstream dns { server $BE1:53; server $BE2:53; }
  server {
    listen $VIP:53 udp;
    proxy_pass dns;
    proxy_bind \$remote_addr:\$remote_port transparent;
    proxy_responses 0;
    proxy_timeout 1s;
  }"
  wait_listen b1 udp 53; wait_listen b2 udp 53; wait_listen lb udp 53
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2 3 4; do
    client_do "dig #$i" dig +tries=1 +time=1 +norecurse @$VIP lab.example A
  done
  # socat uses a connected UDP socket: a reply from another address is refused
  # by the kernel with ICMP port unreachable.
  local q
  q=$(printf '\x13\x37\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x03lab\x07example\x00\x00\x01\x00\x01' | od -An -tx1 | tr -d ' \n')
  for i in 1 2; do
    client_do "socat connected UDP #$i" sh -c "printf '$(echo "$q" | sed 's/../\\x&/g')' | timeout 3 socat -T1 - UDP4:$VIP:53 | od -An -tx1 | head -3"
  done
  cap_stop
}

sc_udp_dsr_origin_nat() {
  udp_dsr_common 1
  must_out 'ANSWER: 1' 4
  must_pcap client.pcap 'udp and src host 198.51.100.10 and src port 53' 4
  must_pcap client.pcap 'udp and src net 203.0.113.0/24' 0 0
  stmt_cap client.pcap client udp 53 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" "" "every reply comes from $VIP:53"
  stmt_cap lb.pcap lb udp 53 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" "DSR: the LB sees the requests only; replies bypass it"
  stmt_cap backend.pcap backend udp 53 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" \
    "requests arrive from the real client (transparent bind, client's own source port); replies leave towards the second router with source rewritten to $VIP"
  stmt_write udp-dsr-origin-nat "nginx stream 'listen $VIP:53 udp; proxy_bind \$remote_addr:\$remote_port transparent; proxy_responses 0' in front of dnsmasq on $BE1/$BE2. Backends route to the client via the second router ($RT2_DN), not the LB (DSR). Origin NAT on the backends: nft 'type filter hook postrouting; oifname eth0 ip saddr <be> udp sport 53 ip saddr set $VIP' (the blog uses 'tc action nat', which this kernel lacks)."
}

sc_udp_dsr_no_nat() {
  udp_dsr_common 0
  must_pcap client.pcap 'udp and src net 203.0.113.0/24 and src port 53' 4
  must_pcap client.pcap 'icmp[icmptype] == icmp-unreach' 4
  must_pcap client.pcap 'udp and src host 198.51.100.10' 0 0
  stmt_cap client.pcap client udp 53 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=broken" "return-path.reply-not-from-vip" "$C_IP" "" \
    "requests go to $VIP:53, replies come from $BE1:53 / $BE2:53; dig drops them (unexpected source), the connected socat socket makes the kernel answer ICMP port unreachable"
  stmt_cap lb.pcap lb udp 53 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" "DSR: the LB sees the requests only"
  stmt_cap backend.pcap backend udp 53 "client_ip=preserved,snat=no,proxy_protocol=none" "" "$C_IP" "" \
    "replies leave from $BE1:53 (not the VIP); ICMP port unreachable comes back from the client"
  stmt_write udp-dsr-no-nat "As udp-dsr-origin-nat but without origin NAT: the replies keep the real server's source address."
}

sc_asymmetric_blackhole() {
  topo rt2 blackhole
  backends_up
  dnat_rules
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  curl_c "GET #1 (expected timeout)" --max-time 2 http://$VIP/ &
  local p1=$!
  sleep 0.2
  curl_c "GET #2 (expected timeout)" --max-time 2 http://$VIP/ &
  local p2=$!
  wait $p1 $p2 || true
  cap_stop
  must_pcap client.pcap 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0' 0 0
  must_pcap client.pcap 'tcp[tcpflags] == tcp-syn' 4
  must_pcap backend.pcap 'src host 203.0.113.11 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0' 1
  stmt_cap client.pcap client tcp 80 "snat=no,proxy_protocol=unknown,return_path=broken" "return-path.no-synack" "$C_IP" "" "SYNs retransmitted, no SYN-ACK"
  stmt_cap lb.pcap lb tcp 80 "snat=no,proxy_protocol=unknown,return_path=broken" "return-path.no-synack" "$C_IP" "" "the LB sees the SYNs only"
  stmt_cap backend.pcap backend tcp 8080 "client_ip=preserved,snat=no,proxy_protocol=unknown,return_path=broken" "" "$C_IP" "" \
    "SYNs arrive from the real client; SYN-ACKs (retransmitted) leave towards the second router $RT2_DN, which drops them; no handshake completes"
  stmt_write asymmetric-blackhole "DNAT on the LB as in dnat-passthrough, but the backends' default route is the second router $RT2_DN, which has 'blackhole 192.0.2.0/24' and forwarding off: replies never reach the client."
}

sc_asymmetric_leak() {
  topo rt2 forward
  backends_up
  dnat_rules
  cap client.pcap c eth0
  cap lb.pcap lb f0
  cap backend.pcap b1 eth0
  curl_c "GET #1 (expected timeout)" --max-time 2 http://$VIP/ &
  local p1=$!
  sleep 0.2
  curl_c "GET #2 (expected timeout)" --max-time 2 http://$VIP/ &
  local p2=$!
  wait $p1 $p2 || true
  cap_stop
  must_pcap client.pcap 'src net 203.0.113.0/24 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0' 2
  must_pcap client.pcap 'src host 192.0.2.10 and dst net 203.0.113.0/24 and tcp[tcpflags] & tcp-rst != 0' 2
  must_pcap client.pcap 'src host 198.51.100.10' 0 0
  stmt_cap client.pcap client tcp 80 "snat=no,proxy_protocol=unknown,return_path=broken" "return-path.no-synack,return-path.orphan-synack" "$C_IP" "" \
    "SYNs to $VIP:80 are never answered by the VIP; SYN-ACKs arrive from $BE1:8080 / $BE2:8080 (un-NATed, bypassing the LB) and the client answers each with RST"
  stmt_cap lb.pcap lb tcp 80 "snat=no,proxy_protocol=unknown,return_path=broken" "return-path.no-synack" "$C_IP" "" "the LB sees the SYNs only"
  stmt_cap backend.pcap backend tcp 8080 "client_ip=preserved,snat=no,proxy_protocol=unknown,return_path=broken" "" "$C_IP" "" \
    "SYN from the real client, SYN-ACK leaves via the second router, the client's RST comes back; no handshake completes"
  stmt_write asymmetric-leak "DNAT on the LB, the backends' default route is the second router $RT2_DN, which forwards: the backend's SYN-ACK reaches the client from the real server's own address and the client resets it."
}

sc_capture_variants() {
  make_pki
  topo lb forward
  backends_up
  haproxy_start "$(haproxy_pp2_cfg)
$(haproxy_tls_cfg)"
  wait_listen lb tcp 80; wait_listen lb tcp 443
  cap any-sll2.pcap lb any
  cap any-sll.pcap lb any -y LINUX_SLL
  cap_dumpcap two-ifaces.pcapng lb f0 b0
  cap nano.pcap b1 eth0 --time-stamp-precision nano
  cap snap60.pcap b1 eth0 -s 60
  cap snap80.pcap b1 eth0 -s 80
  cap snap96.pcap b1 eth0 -s 96
  cap backend.pcap b1 eth0
  sleep 1.2
  local i
  for i in 1 2 3 4; do curl_c "GET v4 #$i" http://$VIP/; done
  for i in 1 2; do curl_c "GET v6 #$i" -g "http://[$VIP6]/"; done
  local tls=(--resolve "lab.example:443:$VIP" --cacert "$PKI/ca.crt")
  curl_c "TLS h2 client cert" "${tls[@]}" --http2 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
  curl_c "TLS h2 client cert (2)" "${tls[@]}" --http2 --cert "$PKI/client.crt" --key "$PKI/client.key" https://lab.example/
  curl_c "TLS http/1.1" "${tls[@]}" --http1.1 https://lab.example/
  curl_c "TLS http/1.1 (2)" "${tls[@]}" --http1.1 https://lab.example/
  cap_stop
  # 802.1Q: this kernel has no 8021q (no vlan links) and no bridge VLAN
  # filtering. Nearest real equivalent: tag backend.pcap's frames with
  # tcprewrite, replay them with tcpreplay onto a veth trunk, and capture the
  # tagged frames with tcpdump on the other end.
  mkns t1; mkns t2
  link t1 trunk0 t2 trunk1
  tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-cfi=0 --enet-vlan-pri=0 \
    -i "$SDIR/backend.pcap" -o "$RUN/vlan-src.pcap" >"$RUN/tcprewrite.out" 2>&1 || die "tcprewrite failed"
  cap vlan-trunk.pcap t2 trunk1
  nsx "$(N t1)" tcpreplay -q -i trunk0 --pps=2000 "$RUN/vlan-src.pcap" >"$RUN/tcpreplay.out" 2>&1 || die "tcpreplay failed"
  cap_stop
  local v="client_ip=proxy-v2,snat=yes,proxy_protocol=v2,return_path=ok"
  local cl="$C_IP,$C_IP6"
  must_pcap vlan-trunk.pcap 'vlan 100' 10
  must_proxy backend.pcap '$2 == 2 && $3 == 1' 4
  chmod 644 "$SDIR/two-ifaces.pcapng"
  [[ "$(tshark -n -r "$SDIR/two-ifaces.pcapng" -T fields -e frame.interface_id 2>/dev/null | sort -u | wc -l)" == 2 ]] \
    || die "two-ifaces.pcapng does not hold packets from two interfaces"
  [[ "$(capinfos -t -r "$SDIR/nano.pcap" | cut -f2)" == *nanosecond* ]] || die "nano.pcap is not a nanosecond pcap"
  [[ "$(capinfos -T -r -E "$SDIR/any-sll2.pcap" | cut -f2)" == "linux-sll2" ]] || die "any-sll2.pcap is not LINUX_SLL2"
  [[ "$(capinfos -T -r -E "$SDIR/any-sll.pcap" | cut -f2)" == "linux-sll" ]] || die "any-sll.pcap is not LINUX_SLL"
  stmt_cap backend.pcap backend tcp 8081 "$v" "" "$cl" "$LB_SNAT" "reference capture (EN10MB, microseconds, full snaplen)"
  stmt_cap any-sll2.pcap lb tcp 8081 "$v" "" "$cl" "$LB_SNAT" \
    "LINUX_SLL2 (tcpdump 4.99 default for -i any) in the LB namespace: both legs (client->VIP :80/:443 and $LB_SNAT->backends :8081) plus loopback; the 8081 service is PROXY v2"
  stmt_cap any-sll.pcap lb tcp 8081 "$v" "" "$cl" "$LB_SNAT" "LINUX_SLL (cooked v1), same traffic as any-sll2.pcap"
  stmt_cap two-ifaces.pcapng lb tcp 8081 "$v" "" "$cl" "$LB_SNAT" \
    "pcapng with two Interface Description Blocks (f0: VIP side, b0: backend side), both EN10MB; each flow appears on one interface only"
  stmt_cap nano.pcap backend tcp 8081 "$v" "" "$cl" "$LB_SNAT" "nanosecond pcap (magic a1b23c4d)"
  stmt_cap snap60.pcap backend tcp 8081 "client_ip=unknown,snat=yes,proxy_protocol=unknown" "capture.snaplen-too-small" "$cl" "$LB_SNAT" \
    "snaplen 60: no TCP payload captured at all (Ethernet 14 + IP 20 + TCP 32 > 60): nothing can be said about PROXY"
  stmt_cap snap80.pcap backend tcp 8081 "client_ip=unknown,snat=yes,proxy_protocol=v2" "capture.snaplen-too-small" "$cl" "$LB_SNAT" \
    "snaplen 80: 14 payload bytes: the v2 signature, version/command and family are captured, the length field and addresses are not (v2, truncated)"
  stmt_cap snap96.pcap backend tcp 8081 "snat=yes,proxy_protocol=v2" "capture.snaplen-too-small" "$cl" "$LB_SNAT" \
    "snaplen 96: 30 payload bytes: IPv4 headers without TLVs are complete (28 bytes), IPv6 (52 bytes) and TLV-carrying TLS headers are truncated after the length field"
  stmt_cap vlan-trunk.pcap backend tcp 8081 "$v" "" "$cl" "$LB_SNAT" \
    "backend.pcap re-tagged with 802.1Q VLAN 100 (tcprewrite), replayed with tcpreplay across a veth pair and captured by tcpdump on the far end; timestamps are replay times"
  stmt_write capture-variants "snat-proxy-v2 and snat-proxy-v2-tls traffic (HAProxy send-proxy-v2 to nginx listen proxy_protocol on 8081, IPv4, IPv6 and TLS clients, health checks as LOCAL) captured in the formats lbcheck must read. The same flows appear in every backend-side file."
}

# The exact 100-byte PROXY v2 LOCAL header an AWS NLB sends with its health checks
# (kubernetes/kubernetes#57250, notes/PROTOCOL.md): family byte 0x11 (TCP/IPv4),
# length 84, but no address block: CRC32C TLV (0xbce5951f over the 100 bytes) at
# offset 16, then a 74-byte NOOP pad.
NLB_LOCAL_HEX=0d0a0d0a000d0a515549540a20110054030004bce5951f04004a$(printf '%0148d' 0)

ns_do() { # ROLE LABEL CMD... ; output appended to client-output.txt
  local role=$1 label=$2; shift 2
  local rc=0 out
  out=$(ip netns exec "$(N "$role")" "$@" 2>&1) || rc=$?
  printf '### %s (rc=%s)\n%s\n' "$label" "$rc" "$out" >>"$SDIR/client-output.txt"
}

sc_nlb_local_healthcheck() {
  topo lb forward
  backends_up
  haproxy_start "
frontend fe
  mode tcp
  bind $VIP:80
  default_backend be
backend be
  mode tcp
  balance roundrobin
  source $LB_SNAT
  server be1 $BE1:8081 send-proxy-v2
  server be2 $BE2:8081 send-proxy-v2"
  wait_listen lb tcp 80
  local hc="$RUN/nlb-local.bin" hchttp="$RUN/nlb-local-http.bin"
  # shellcheck disable=SC2059
  printf "$(sed 's/../\\x&/g' <<<"$NLB_LOCAL_HEX")" >"$hc"
  [[ $(stat -c %s "$hc") == 100 ]] || die "NLB LOCAL header is not 100 bytes"
  { cat "$hc"; printf 'GET /health HTTP/1.1\r\nHost: %s:8081\r\nConnection: close\r\n\r\n' "$BE1"; } >"$hchttp"
  cap client.pcap c eth0
  cap backend.pcap b1 eth0
  local i
  for i in 1 2; do
    ns_do lb "NLB-style TCP health check (LOCAL header only) #$i" \
      timeout 3 socat -T1 -t0.3 "OPEN:$hc" "TCP4:$BE1:8081,bind=$LB_SNAT2"
    ns_do lb "NLB-style HTTP health check (LOCAL header + GET /health) #$i" \
      timeout 3 socat -T1 -t1 "OPEN:$hchttp!!-" "TCP4:$BE1:8081,bind=$LB_SNAT2"
  done
  for i in 1 2 3 4; do curl_c "GET #$i" http://$VIP/; done
  cap_stop
  cp "$RUN/nginx-b1/access.log" "$SDIR/backend-nginx-access.log"
  must_out 'pp=192\.0\.2\.10:' 4
  grep -q '^100\.64\.0\.3 .*"GET /health HTTP/1.1" 200' "$SDIR/backend-nginx-access.log" || die "nginx did not answer the LOCAL+HTTP health check"
  must_pcap backend.pcap "src host $LB_SNAT2 and tcp dst port 8081 and tcp[tcpflags] & tcp-syn != 0" 4
  stmt_cap client.pcap client tcp 80 "client_ip=preserved,snat=no,proxy_protocol=none,return_path=ok" "" "$C_IP" ""
  stmt_cap backend.pcap backend tcp 8081 "client_ip=proxy-v2,snat=yes,proxy_protocol=v2,return_path=ok" "" "$C_IP" "$LB_SNAT,$LB_SNAT2" \
    "client flows from $LB_SNAT carry PROXY v2 PROXY TCP4 (HAProxy, no TLVs); the 4 flows from $LB_SNAT2 are health checks carrying the AWS NLB LOCAL header byte for byte: 20 11 00 54 with no address block, CRC32C TLV at offset 16 = 0xbce5951f (valid over all 100 bytes), NOOP pad of 74 bytes; 2 send nothing after it, 2 send 'GET /health' which nginx answers 200. A decoder that takes the address layout from the family byte (tshark 4.0, ppp, go-proxyproto) misreads the TLVs as addresses."
  stmt_write nlb-local-healthcheck "HAProxy send-proxy-v2 (no checks) from $LB_SNAT to nginx 'listen $BE1:8081 proxy_protocol', plus an 'NLB-style health checker' in the LB namespace: socat bound to $LB_SNAT2 sending the exact 100-byte AWS NLB PROXY v2 LOCAL header (family 0x11, length 84, no address block, CRC32C + NOOP TLVs), alone or followed by 'GET /health'. nginx 1.22 skips a LOCAL header by its length and serves the request."
}

run_scenario() { # NAME INDEX
  local name=$1 idx=$2
  local fn="sc_${name//-/_}"
  declare -F "$fn" >/dev/null || die "unknown scenario: $name (see --list)"
  SDIR="$OUT/$name"
  rm -rf "$SDIR"; mkdir -p "$SDIR/run"
  RUN="$SDIR/run"
  NSP="${RUN_ID}-${idx}"
  CAP_CMDS_FILE="$RUN/captures.tsv"; : >"$CAP_CMDS_FILE"
  STMT_CAPS="$RUN/statement.parts"; : >"$STMT_CAPS"
  : >"$RUN/pids"
  PIDS=(); CAP_PIDS=(); NSS=()
  trap teardown EXIT
  trap 'exit 130' INT TERM
  "$fn"
  teardown
  trap - EXIT
  check_captures
}

# ---------------------------------------------------------------- main
main() {
  local scen=() a
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --list) for a in "${SCENARIOS[@]}"; do printf '%-24s %s\n' "$a" "$(describe "$a")"; done; exit 0;;
      --out) OUT=${2:-}; shift 2 || true;;
      --out=*) OUT=${1#--out=}; shift;;
      -h|--help) usage; exit 0;;
      all) scen+=("${SCENARIOS[@]}"); shift;;
      -*) usage >&2; exit 2;;
      *) scen+=("$1"); shift;;
    esac
  done
  [[ -n "$OUT" && ${#scen[@]} -gt 0 ]] || { usage >&2; exit 2; }
  [[ $EUID -eq 0 ]] || die "must run as root (network namespaces)"
  for a in ip nft iptables haproxy nginx tcpdump dumpcap capinfos curl dig socat dnsmasq openssl jq tcprewrite tcpreplay; do
    command -v "$a" >/dev/null || die "missing tool: $a (install lab/packages.txt)"
  done
  for a in "${scen[@]}"; do declare -F "sc_${a//-/_}" >/dev/null || die "unknown scenario: $a"; done
  mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
  trap parent_cleanup EXIT
  trap 'exit 130' INT TERM
  local i=0 failed=() t0 t1
  for a in "${scen[@]}"; do
    i=$((i + 1))
    t0=$(date +%s.%N)
    log "scenario $a: $(describe "$a")"
    local attempt rc
    for attempt in 1 2 3; do
      rc=0
      ( run_scenario "$a" "${i}r$attempt" ) &
      SUBSHELL_PID=$!
      wait "$SUBSHELL_PID" || rc=$?
      SUBSHELL_PID=""
      # Only a capture that lost packets is run again (fresh namespaces, daemons and
      # files); every other failure is the scenario's own and fails at once.
      [[ $rc -eq $EX_CAPTURE_DROPS && $attempt -lt 3 ]] || break
      log "scenario $a: a capture lost packets in the kernel; running it again (attempt $((attempt + 1)) of 3)"
    done
    if [[ $rc -eq 0 ]]; then
      t1=$(date +%s.%N)
      log "scenario $a: ok ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')s)"
    else
      log "scenario $a: FAILED"
      failed+=("$a")
    fi
  done
  if [[ ${#failed[@]} -gt 0 ]]; then
    log "FAILED scenarios: ${failed[*]}"
    exit 1
  fi
  log "all ${#scen[@]} scenario(s) ok -> $OUT"
}

main "$@"
