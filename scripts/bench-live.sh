#!/usr/bin/env bash
# Figures for `lbcheck live` (not a test): the packet rate it keeps up with on a veth pair
# without kernel drops, and its CPU use next to `tcpdump -w /dev/null` at one fixed rate.
#
# Traffic: tcpreplay replays a lab capture (HAProxy send-proxy-v2 to nginx, 74 packets, PROXY v2
# headers and HTTP) in a loop into one end of a veth pair, in a namespace of its own; lbcheck
# captures on the other end, in a second namespace. Nothing is routed: the frames carry
# documentation addresses and die in the receiving namespace. Every run is bounded in packets
# and time; namespaces and processes are removed by name and PID on exit.
#
#   bash scripts/bench-live.sh            (root; tcpreplay, tcpdump, iproute2, jq)
#   RATES="20000 50000" CPU_RATE=20000 bash scripts/bench-live.sh
set -Eeuo pipefail
cd "$(dirname "$0")/.."

CAPTURE=testdata/lab/snat-proxy-v2/backend.pcap
PORT=8081
PER_RUN_SECONDS=${PER_RUN_SECONDS:-3}
RATES=${RATES:-"10000 25000 50000 100000 200000 400000"}
CPU_RATE=${CPU_RATE:-20000}
CPU_SECONDS=${CPU_SECONDS:-5}
TOPSPEED_PACKETS=${TOPSPEED_PACKETS:-1000000}

[ "$(id -u)" = 0 ] || { echo "bench-live: needs root" >&2; exit 1; }
for t in tcpreplay tcpdump ip jq; do
  command -v "$t" >/dev/null || { echo "bench-live: $t not installed" >&2; exit 1; }
done

ID="lbb-$$"
TX="$ID-tx"
RX="$ID-rx"
WORK=$(mktemp -d "/tmp/$ID.XXXXXX")
PIDS=()
cleanup() {
  set +e
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$TX" 2>/dev/null
  ip netns del "$RX" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q
BIN=$PWD/target/release/lbcheck
PACKETS_PER_FILE=$(tcpdump -nr "$CAPTURE" 2>/dev/null | wc -l)

ip netns add "$TX"
ip netns add "$RX"
ip link add tx0 netns "$TX" type veth peer name rx0 netns "$RX"
ip netns exec "$TX" ip link set tx0 up
ip netns exec "$RX" ip link set rx0 up
ip netns exec "$TX" ip link set lo up
ip netns exec "$RX" ip link set lo up

# Starts a capture tool in RX (RX_PID) and waits until its packet socket is bound (RX has no
# other). Not called in $(...): the process must be this shell's child, recorded in PIDS.
RX_PID=""
start_rx() { # OUTFILE CMD...
  local out=$1; shift
  ip netns exec "$RX" "$@" >"$out" 2>"$out.err" &
  RX_PID=$!
  PIDS+=("$RX_PID")
  local i
  for i in $(seq 1 100); do
    # bound: protocol ETH_P_ALL (0003) in the socket's row (0000 until bind)
    if ip netns exec "$RX" awk 'NR > 1 && $4 == "0003" {found=1} END {exit !found}' /proc/net/packet; then
      sleep 0.2
      return
    fi
    sleep 0.05
  done
  echo "bench-live: capture did not start: $(cat "$out.err")" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

stop_rx() { # PID: Ctrl-C, then wait for the report to be written
  kill -INT "$1"
  wait "$1" 2>/dev/null || true
}

replay() { # RATE|top PACKETS -> tcpreplay's summary on stdout
  local rate=$1 packets=$2 loops
  loops=$(( (packets + PACKETS_PER_FILE - 1) / PACKETS_PER_FILE ))
  local speed=(--pps="$rate")
  [ "$rate" = top ] && speed=(--topspeed)
  timeout 60 ip netns exec "$TX" tcpreplay -q -i tx0 "${speed[@]}" --loop="$loops" --preload-pcap "$CAPTURE" 2>&1
}

echo "lbcheck live throughput: replaying $CAPTURE ($PACKETS_PER_FILE packets, port $PORT) on a veth pair"
echo "host: $(nproc) CPUs, $(uname -r); lbcheck release build"
printf '%-10s %-12s %-12s %-12s %-10s\n' "target" "sent pps" "analysed" "kernel rx" "drops"
best=0
for rate in $RATES top; do
  if [ "$rate" = top ]; then packets=$TOPSPEED_PACKETS; else packets=$((rate * PER_RUN_SECONDS)); fi
  start_rx "$WORK/live.json" "$BIN" live -i rx0 --port "$PORT" --format json --duration 120s
  pid=$RX_PID
  sent=$(replay "$rate" "$packets" | awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i ~ /pps/) {print $(i-1); exit}}')
  sleep 0.5
  stop_rx "$pid"
  read -r analysed received drops < <(jq -r '"\(.stats.packets) \(.stats.kernel_received) \(.stats.kernel_drops)"' "$WORK/live.json")
  printf '%-10s %-12s %-12s %-12s %-10s\n' "$rate" "${sent%%.*}" "$analysed" "$received" "$drops"
  if [ "$drops" = 0 ] && [ "${sent%%.*}" -gt "$best" ]; then best=${sent%%.*}; fi
done
echo "highest rate without kernel drops: ~$best pps"

echo
echo "CPU at $CPU_RATE pps for ${CPU_SECONDS}s ($((CPU_RATE * CPU_SECONDS)) packets), port $PORT filter in both:"
tick=$(getconf CLK_TCK)
# lbcheck reads a TPACKET_V3 ring; LBCHECK_LIVE_RECVMSG=1 makes it use one recvmsg(2) per packet.
for tool in lbcheck lbcheck-recvmsg tcpdump; do
  case $tool in
    lbcheck) start_rx "$WORK/cpu.json" "$BIN" live -i rx0 --port "$PORT" --format json --duration 120s ;;
    lbcheck-recvmsg) start_rx "$WORK/cpu.json" env LBCHECK_LIVE_RECVMSG=1 "$BIN" live -i rx0 --port "$PORT" --format json --duration 120s ;;
    tcpdump) start_rx "$WORK/cpu.tcpdump" tcpdump -i rx0 -n -w /dev/null -B 8192 "port $PORT" ;;
  esac
  pid=$RX_PID
  start=$(date +%s.%N)
  replay "$CPU_RATE" $((CPU_RATE * CPU_SECONDS)) >/dev/null
  sleep 0.5
  ticks=$(cpu_ticks "$pid")
  rss=$(peak_rss_kib "$pid")
  end=$(date +%s.%N)
  stop_rx "$pid"
  awk -v t="$ticks" -v hz="$tick" -v s="$start" -v e="$end" -v tool="$tool" -v rss="$rss" \
    'BEGIN { cpu = t / hz; printf "  %-16s %.2f s CPU over %.1f s (%.1f%% of one core), peak RSS %.1f MiB\n", tool, cpu, e - s, 100 * cpu / (e - s), rss / 1024 }'
done
tail -n 3 "$WORK/cpu.tcpdump.err" | sed 's/^/  tcpdump: /'
