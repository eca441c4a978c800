#!/usr/bin/env bash
# lab/curate.sh OUTDIR DEST
# Copies a lab run (lab/run.sh or lab/ci.sh output) into DEST (testdata/lab):
# per scenario the captures named in statement.json, their .tshark.tsv (if
# present), statement.json, client-output.txt and the nginx evidence logs,
# and writes DEST/README.md with one line per capture.
set -Eeuo pipefail
if [[ $# -ne 2 ]]; then echo "usage: $0 OUTDIR DEST" >&2; exit 2; fi
src=$1 dest=$2
mkdir -p "$dest"
readme="$dest/README.md"
{
  cat <<'HDR'
# Lab captures

Made by `lab/run.sh all` (real HAProxy 2.6, nginx 1.22, nftables/iptables and Linux routing in
network namespaces; see `lab/README.md` for the topology and addresses) and copied here by
`lab/curate.sh`. Each scenario directory holds the captures, `statement.json` (what was built and
what a correct analysis must say; format in `lab/README.md`), `client-output.txt` (what the
clients got back; the backend echoes the source address / PROXY address / X-Forwarded-For it saw),
`*.tshark.tsv` (tshark's view of the PROXY headers: frame, version, v2 command 0=LOCAL 1=PROXY,
src IPv4, src IPv6, src port — `lab/tshark-proxy.sh`) and, where relevant, nginx's logs as evidence.

Regenerate: `lab/ci.sh /tmp/lab && lab/curate.sh /tmp/lab testdata/lab` (captures differ run to run
in ports, timestamps, MAC addresses and health-check timing; the verdicts do not).

One line per capture: scenario · capture point · exact command · what a correct analysis says
(verdicts at that capture point; `findings` that must be reported).

| scenario | capture | taken at | command | correct analysis |
|---|---|---|---|---|
HDR
  for stmt in "$src"/*/statement.json; do
    sdir=$(dirname "$stmt"); scen=$(basename "$sdir")
    mkdir -p "$dest/$scen"
    cp "$stmt" "$dest/$scen/"
    for f in client-output.txt backend-nginx-error.log backend-nginx-access.log; do
      [[ -f "$sdir/$f" ]] && cp "$sdir/$f" "$dest/$scen/"
    done
    while read -r f; do
      cp "$sdir/$f" "$dest/$scen/"
      [[ -f "$sdir/$f.tshark.tsv" ]] && cp "$sdir/$f.tshark.tsv" "$dest/$scen/"
    done < <(jq -r '.captures | keys[]' "$stmt")
    jq -r --arg scen "$scen" '.captures | to_entries[] |
      "| \($scen) | `\(.key)` | \(.value.side): \(.value.capture.namespace) | `\(.value.capture.command)` | " +
      "\(.value.proto)/\(.value.service_port): " +
      ([.value.expect | to_entries[] | "\(.key)=\(.value)"] | join(", ")) +
      (if (.value.findings | length) > 0 then "; findings: " + (.value.findings | join(", ")) else "" end) +
      (if .value.note then " — " + (.value.note | gsub("\\|"; "/")) else "" end) + " |"' "$stmt"
  done
} >"$readme"
du -sh "$dest"
