#!/usr/bin/env bash
# lbcheck benchmark (issue 9): times lbcheck against tshark, tcpdump and cat on the same
# generated captures, in the same run, and prints one table per file. See bench/README.md.
#
#   scripts/bench.sh [--size 100M,1G] [--runs N] [--quick] [--synflood N] [--scan N] [--quic N]
#                    [--dir DIR]
#
#   --size LIST     mixed captures to make and time, pcap (default 100M,1G); the largest one is
#                   also made and timed as pcapng
#   --runs N        timed runs per command (default 3); a command whose first run takes longer
#                   than BENCH_BUDGET/(N-1) seconds (default budget 300) is timed once only
#   --synflood N    SYN-flood capture of N one-packet flows (default 10000000, 0 = none)
#   --scan N        port-scan capture: one scanner, N ports, a SYN and a RST each (default
#                   60000, 0 = none): a service per port and one client of N flows
#   --quic N        N QUIC-like UDP flows open at once, 16 datagrams of 1,200 bytes each
#                   (default 20000, 400 MB; 0 = none): memory per open UDP flow
#   --quick         smoke test: 100M pcap only, 1 run, no pcapng, no SYN flood, no scan, no quic
#   --dir DIR       where captures and results go (default /tmp/lbcheck-bench)
#   --report DIR    only print the tables again from the results directory DIR of a past run
#                   (a file DIR/FILE/COMMAND.note is printed under that row, marked (*))
#
# Needs: cargo, hyperfine, tshark, tcpdump, capinfos, GNU time (/usr/bin/time), python3.
set -euo pipefail

SIZES="100M,1G"
RUNS=3
SYNFLOOD=10000000
SCAN=60000
QUIC=20000
QUICK=0
DIR=/tmp/lbcheck-bench
SEED=1
REPORT=""
BUDGET=${BENCH_BUDGET:-300}
CMD_TIMEOUT=${BENCH_TIMEOUT:-1800}

while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZES=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --synflood) SYNFLOOD=$2; shift 2 ;;
        --scan) SCAN=$2; shift 2 ;;
        --quic) QUIC=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --dir) DIR=$2; shift 2 ;;
        --report) REPORT=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# ---- tables (defined first, so that --report can use them)
render_tables() { # RESULTS_DIR
python3 - "$1" <<'PY'
import json, os, sys, statistics

results = sys.argv[1]
COMMANDS = ["lbcheck-json", "lbcheck-text", "tshark", "tcpdump", "cat"]
MIB = 1 << 20


def load(tag, label):
    base = os.path.join(results, tag, label)
    times, failed, cpu = [], 0, 0.0
    for part in (1, 2):
        path = f"{base}.{part}.json"
        if not os.path.exists(path):
            continue
        r = json.load(open(path))["results"][0]
        times += r["times"]
        cpu += (r["user"] + r["system"]) * len(r["times"])
        # lbcheck exits 1 when it reports an error-level finding: an answer, not a failure
        ok_codes = (0, 1, None) if label.startswith("lbcheck") else (0, None)
        failed += sum(1 for code in (r.get("exit_codes") or []) if code not in ok_codes)
    rss = [int(line) for line in open(base + ".rss") if line.strip().isdigit()] if os.path.exists(base + ".rss") else []
    if not times:
        return None
    return {
        "mean": statistics.mean(times),
        "cpu": cpu / len(times),
        "sd": statistics.stdev(times) if len(times) > 1 else 0.0,
        "min": min(times),
        "max": max(times),
        "n": len(times),
        "failed": failed,
        "rss": max(rss) / 1024 if rss else None,
    }


tags = sorted(
    (t for t in os.listdir(results) if os.path.isdir(os.path.join(results, t))),
    key=lambda t: (t.startswith("synflood"), int(open(os.path.join(results, t, "bytes")).read()), t),
)
summary = {}
for tag in tags:
    size = int(open(os.path.join(results, tag, "bytes")).read())
    packets = int(open(os.path.join(results, tag, "packets")).read())
    rows = {c: load(tag, c) for c in COMMANDS}
    notes = []
    summary[tag] = (size, packets, rows)
    print(f"\n### {tag}: {size / MIB:.0f} MiB, {packets:,} packets\n")
    print("| command | mean s (± sd) | runs (min-max s) | CPU s (user+sys) | MB/s | packets/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for c in COMMANDS:
        r = rows[c]
        if r is None:
            print(f"| {c} | not run | | | | | |")
            continue
        note = f" ({r['failed']} failed)" if r["failed"] else ""
        note_file = os.path.join(results, tag, c + ".note")
        if os.path.exists(note_file):
            note += " (*)"
            notes.append(f"(*) {c}: " + open(note_file).read().strip())
        rss = f"{r['rss']:.1f}" if r["rss"] is not None else "?"
        print(
            f"| {c}{note} | {r['mean']:.3f} ± {r['sd']:.3f} | {r['n']} ({r['min']:.2f}-{r['max']:.2f}) "
            f"| {r['cpu']:.3f} | {size / 1e6 / r['mean']:.0f} | {packets / r['mean']:,.0f} | {rss} |"
        )
    for n in notes:
        print("\n" + n)
    j = rows["lbcheck-json"]
    if j:
        parts = []
        for c, word in (("tshark", "faster than"), ("tcpdump", "faster than")):
            if rows[c]:
                parts.append(f"{rows[c]['mean'] / j['mean']:.1f}× {word} {c}")
        if rows["cat"]:
            parts.append(f"{j['mean'] / rows['cat']['mean']:.1f}× slower than cat")
        print("\nlbcheck-json (wall-clock means): " + ", ".join(parts))
        if rows["tshark"] and rows["tcpdump"] and rows["cat"]:
            print(
                f"lbcheck-json (CPU time): {rows['tshark']['cpu'] / j['cpu']:.1f}× less than tshark, "
                f"{rows['tcpdump']['cpu'] / j['cpu']:.1f}× less than tcpdump, {j['cpu'] / rows['cat']['cpu']:.1f}× more than cat"
            )

# ---- targets
print("\n### Targets (issue 9)\n")


def verdict(ok):
    return "PASS" if ok else "FAIL"


mixed = [t for t in tags if t.startswith("mixed")]
for tag in mixed:
    size, packets, rows = summary[tag]
    j = rows["lbcheck-json"]
    if not j:
        continue
    checks = []
    if rows["tshark"]:
        x = rows["tshark"]["mean"] / j["mean"]
        checks.append(f"≥100× faster than tshark: {x:.1f}× {verdict(x >= 100)}")
    if rows["tcpdump"]:
        x = rows["tcpdump"]["mean"] / j["mean"]
        checks.append(f"≥5× faster than tcpdump: {x:.1f}× {verdict(x >= 5)}")
    if rows["cat"]:
        x = j["mean"] / rows["cat"]["mean"]
        checks.append(f"within 3× of cat: {x:.1f}× {verdict(x <= 3)}")
    print(f"- {tag}: " + "; ".join(checks))

pcap = [t for t in mixed if t.endswith(".pcap")]
ng = [t for t in mixed if t.endswith(".pcapng")]
for t in ng:
    twin = t[: -len("ng")]
    if twin in summary and summary[twin][2]["lbcheck-json"] and summary[t][2]["lbcheck-json"]:
        a = summary[twin][2]["lbcheck-json"]["mean"]
        b = summary[t][2]["lbcheck-json"]["mean"]
        print(f"- pcapng as fast as pcap (same packets, ±10 %): {t} {b:.3f} s vs {twin} {a:.3f} s = {b / a:.2f}× {verdict(b <= a * 1.10)}")

rss_rows = [(t, summary[t][2]["lbcheck-json"]["rss"]) for t in pcap if summary[t][2]["lbcheck-json"] and summary[t][2]["lbcheck-json"]["rss"]]
if len(rss_rows) >= 2:
    (small, a), (big, b) = rss_rows[0], rss_rows[-1]
    flat = abs(b - a) <= 0.10 * a and max(a, b) < 100
    print(f"- RSS flat and under 100 MiB: {small} {a:.1f} MiB, {big} {b:.1f} MiB ({b / a:.2f}×) {verdict(flat)}")
elif rss_rows:
    t, a = rss_rows[0]
    print(f"- RSS under 100 MiB: {t} {a:.1f} MiB {verdict(a < 100)}")
for t in tags:
    if t.startswith("synflood"):
        size, packets, rows = summary[t]
        for c in ("lbcheck-json", "lbcheck-text"):
            if rows[c] and rows[c]["rss"]:
                print(f"- SYN flood {t} {c}: peak RSS {rows[c]['rss']:.0f} MiB for {packets:,} flows ({rows[c]['rss'] * MIB / packets:.0f} bytes/flow); bounded: at most 65,536 flows open (split between the analysis threads), 50,000 summaries kept")
PY
}

if [ -n "$REPORT" ]; then
    render_tables "$REPORT"
    exit 0
fi
if [ "$QUICK" = 1 ]; then
    SIZES=100M RUNS=1 SYNFLOOD=0 SCAN=0 QUIC=0
fi

for tool in cargo hyperfine tshark tcpdump capinfos python3 /usr/bin/time timeout; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p "$DIR"
RESULTS="$DIR/results-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS"
echo "== results in $RESULTS"

echo "== cargo build --release"
cargo build --release --quiet
cargo build --release --quiet --example make_bench_capture
LBCHECK="$ROOT/target/release/lbcheck"
GEN="$ROOT/target/release/examples/make_bench_capture"

# ---- captures
FILES=()
make_capture() { # path, generator arguments...
    local path=$1; shift
    if [ ! -s "$path" ]; then
        echo "== generating $path"
        "$GEN" "$@" --seed "$SEED" --out "$path.part"
        mv "$path.part" "$path"
    fi
    FILES+=("$path")
}
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
LARGEST=""
for size in "${SIZE_LIST[@]}"; do
    make_capture "$DIR/mixed-$size-s$SEED.pcap" --kind mixed --size "$size" --format pcap
    LARGEST=$size
done
if [ "$QUICK" = 0 ] && [ -n "$LARGEST" ]; then
    make_capture "$DIR/mixed-$LARGEST-s$SEED.pcapng" --kind mixed --size "$LARGEST" --format pcapng
fi
if [ "$SYNFLOOD" != 0 ]; then
    make_capture "$DIR/synflood-$SYNFLOOD-s$SEED.pcap" --kind synflood --flows "$SYNFLOOD" --format pcap
fi
if [ "$SCAN" != 0 ]; then
    make_capture "$DIR/scan-$SCAN-s$SEED.pcap" --kind scan --flows "$SCAN" --format pcap
fi
if [ "$QUIC" != 0 ]; then
    make_capture "$DIR/quic-$QUIC-s$SEED.pcap" --kind quic --flows "$QUIC" --format pcap
fi

# ---- machine
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), $(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') MHz"
    echo "cpu details: $(lscpu 2>/dev/null | grep -E 'Hypervisor vendor|L2 cache|L3 cache' | tr -s ' ' | paste -sd';' -)"
    echo "kernel: $(uname -r)"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "lbcheck: $(git -C "$ROOT" rev-parse --short HEAD) $("$LBCHECK" --version 2>/dev/null || true)"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
    echo "hyperfine: $(hyperfine --version)"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt"

# ---- timing
# time_cmd FILE_TAG LABEL COMMAND: hyperfine export(s) and peak RSS (KiB, one line per run)
# under $RESULTS/FILE_TAG/LABEL.*. The command runs under /usr/bin/time (its fork/exec is
# a millisecond) and `timeout`, through hyperfine's shell.
time_cmd() {
    local tag=$1 label=$2 cmd=$3
    local out="$RESULTS/$tag/$label"
    mkdir -p "$RESULTS/$tag"
    : >"$out.rss"
    local wrapped="/usr/bin/time -f %M -a -o $out.rss timeout $CMD_TIMEOUT $cmd"
    echo "   $label: $cmd"
    hyperfine --runs 1 --ignore-failure --style none --export-json "$out.1.json" "$wrapped" >/dev/null
    if [ "$RUNS" -gt 1 ]; then
        local more=$((RUNS - 1))
        if python3 -c "import json,sys; t=json.load(open('$out.1.json'))['results'][0]['mean']; sys.exit(0 if t*$more <= $BUDGET else 1)"; then
            hyperfine --runs "$more" --ignore-failure --style none --export-json "$out.2.json" "$wrapped" >/dev/null
        else
            echo "   $label: first run over $BUDGET/$more s, timed once"
        fi
    fi
}

for file in "${FILES[@]}"; do
    tag=$(basename "$file")
    echo "== $tag ($(stat -c %s "$file") bytes)"
    mkdir -p "$RESULTS/$tag"
    count="$file.packets"
    if [ ! -s "$count" ]; then
        capinfos -M -c -T -r "$file" | awk -F'\t' 'NR==1 {print $2}' >"$count"
    fi
    cp "$count" "$RESULTS/$tag/packets"
    stat -c %s "$file" >"$RESULTS/$tag/bytes"
    cat "$file" >/dev/null # warm the page cache
    time_cmd "$tag" lbcheck-json "$LBCHECK pcap $file --format json >/dev/null"
    time_cmd "$tag" lbcheck-text "$LBCHECK pcap $file --format text >/dev/null"
    time_cmd "$tag" tshark "tshark -n -r $file -o tcp.try_heuristic_first:TRUE -Y proxy -T fields -e frame.number -e proxy.src.ipv4 -e proxy.srcport >/dev/null"
    time_cmd "$tag" tcpdump "tcpdump -nn -r $file >/dev/null 2>&1"
    time_cmd "$tag" cat "cat $file >/dev/null"
done

echo "== loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/machine.txt"

render_tables "$RESULTS" | tee "$RESULTS/tables.md"
