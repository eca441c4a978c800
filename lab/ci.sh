#!/usr/bin/env bash
# lab/ci.sh OUTDIR
# Runs every lab scenario into OUTDIR and, for every capture, saves tshark's view
# of the PROXY headers next to it as <capture>.tshark.tsv (lab/tshark-proxy.sh).
# Installs nothing: CI installs lab/packages.txt first
#   (DEBIAN_FRONTEND=noninteractive apt-get install -y $(cat lab/packages.txt)).
# Exits non-zero, loudly, when any scenario fails or a capture named in a
# statement.json is missing or empty.
set -Eeuo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -ne 1 ]]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
OUTDIR=$1
mkdir -p "$OUTDIR"
start=$(date +%s)
fail() { echo "lab/ci.sh: FAILED: $*" >&2; echo "LAB FAILED" >&2; exit 1; }

if ! "$LAB_DIR/run.sh" all --out "$OUTDIR"; then
  fail "lab/run.sh all reported failing scenarios (see the log above)"
fi

captures=0 bad=0
for stmt in "$OUTDIR"/*/statement.json; do
  [[ -f "$stmt" ]] || continue
  sdir=$(dirname "$stmt")
  while read -r f; do
    if [[ ! -s "$sdir/$f" ]]; then
      echo "lab/ci.sh: missing or empty capture $sdir/$f" >&2; bad=$((bad + 1)); continue
    fi
    "$LAB_DIR/tshark-proxy.sh" "$sdir/$f" >"$sdir/$f.tshark.tsv" \
      || { echo "lab/ci.sh: tshark failed on $sdir/$f" >&2; bad=$((bad + 1)); }
    captures=$((captures + 1))
  done < <(jq -r '.captures | keys[]' "$stmt")
done
nscen=$(ls "$OUTDIR"/*/statement.json 2>/dev/null | wc -l)
expected=$("$LAB_DIR/run.sh" --list | wc -l)
[[ "$nscen" -eq "$expected" ]] || fail "only $nscen of $expected scenarios wrote statement.json"
[[ "$bad" -eq 0 ]] || fail "$bad capture(s) missing, empty or unreadable"
[[ "$captures" -gt 0 ]] || fail "no captures"
end=$(date +%s)
echo "lab/ci.sh: $nscen scenarios, $captures captures, tshark TSVs written, $((end - start)) s"
echo "$nscen passed, 0 failed"
