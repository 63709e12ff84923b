#!/usr/bin/env bash
# Registrations/s of the load generator (`imscore bench`) and of one SIPp process against the
# same trivial IMS-AKA registrar (examples/aka_responder.rs), issue #8.
# Usage: crates/ue/examples/compare_sipp.sh [SIPP_RATE] [BENCH_RATE]   (defaults 15000 20000)
# Needs: sipp (sip-tester), a release build of imscore and of the example:
#   cargo build --release -p imscore -p ue --examples --bins
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=${CARGO_TARGET_DIR:-target}/release
SR=${1:-15000}
BR=${2:-20000}
K=696d73636f72652d64656d6f2d6b6579   # "imscore-demo-key"
OP=696d73636f72652d64656d6f2d6f702e  # "imscore-demo-op."
W=$(mktemp -d)
"$T/examples/aka_responder" 127.0.0.1:25070 $K $OP 3830 >"$W/resp.log" 2>&1 &
RP=$!
trap 'kill $RP 2>/dev/null; rm -rf "$W"' EXIT
sleep 0.5
s=$(date +%s.%N)
sipp 127.0.0.1:25070 -sf crates/ue/examples/sipp_aka_register.xml -i 127.0.0.1 -p 25080 \
  -r "$SR" -m $((SR * 4)) -l 30000 -nostdin -timeout 90s >"$W/sipp.out" 2>&1 || true
e=$(date +%s.%N)
ok=$(grep "Successful call" "$W/sipp.out" | tail -1 | awk '{print $NF}')
echo "SIPp: $ok registrations in $(echo "$e - $s" | bc) s = $(echo "$ok / ($e - $s)" | bc) registrations/s"
printf 'impi,impus,k,op,amf\nbench@ims.test,sip:bench@ims.test,%s,%s,3830\n' $K $OP >"$W/subs.csv"
"$T/imscore" bench --pcscf 127.0.0.1:25070 --ues $((BR * 3)) --rate "$BR" --duration 3s \
  --subscribers "$W/subs.csv" || true
