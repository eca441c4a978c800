#!/usr/bin/env bash
# The project's test command (named in README.md; .ci/run calls it).
# Unit, golden and CLI tests always; the network-namespace lab and the live-capture tests too
# when run as root with the lab's packages installed (set LBCHECK_LAB=0 to skip them,
# LBCHECK_LAB=1 to require them).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
cargo test --all-targets

lab_possible() { [ "$(id -u)" = 0 ] && [ -x lab/ci.sh ] && command -v haproxy >/dev/null && command -v nginx >/dev/null; }
case "${LBCHECK_LAB:-auto}" in
  0) echo "== lab skipped (LBCHECK_LAB=0)" ;;
  1) lab_possible || { echo "lab required but not possible (root? lab/ci.sh? haproxy/nginx?)" >&2; exit 1; } ;&
  *)
    if lab_possible; then
      out=$(mktemp -d /tmp/lbcheck-lab.XXXXXX)
      echo "== lab: fresh captures from real HAProxy/nginx in network namespaces ($out)"
      bash lab/ci.sh "$out"
      echo "== lab: lbcheck on the fresh captures"
      LBCHECK_LAB_OUT="$out" cargo test --test lab -- --nocapture
      echo "== confirm commands: every finding's tcpdump/tshark command, run with the real tools"
      LBCHECK_REQUIRE_TOOLS=1 cargo test --test finding_codes every_confirm_command -- --nocapture
      echo "== live: lbcheck live against real HAProxy/nginx traffic in namespaces (both builds)"
      bash scripts/live-test.sh
    else
      echo "== lab skipped (needs root and lab/packages.txt installed)"
    fi
    ;;
esac
