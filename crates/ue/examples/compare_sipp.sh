#!/usr/bin/env bash
# Registrations/s of the load generator (`imscore bench`) and of one SIPp process against the
# same trivial IMS-AKA registrar (examples/aka_responder.rs, multi-threaded), issue #8: RUNS runs
# of each, medians, and the ratio; then the kernel's ceiling for the same datagrams
# (examples/udp_floor.rs: loopback UDP alone, no SIP work).
# Usage: crates/ue/examples/compare_sipp.sh [SIPP_RATES] [BENCH_RATE] [RUNS] [BENCH_THREADS]
#        (defaults "10000 15000 20000 25000" 150000 3 1; RESPONDER_THREADS=n overrides the
#        responder's, default nproc; SIPP_BUFF=bytes SIPp's -buff_size, default 8388608, the
#        size the generator asks for its own sockets; SIPP_BUFF=default leaves SIPp's 65535)
# SIPp is run at each offered rate of SIPP_RATES (-r); its figure at a rate is the achieved rate
# (successful calls / wall time of the run), and SIPp's figure is its best median over the rates.
# With SIPp's default 64 kB socket buffer, bursts of answers overflow it: every lost answer costs
# a 500 ms retransmission and the achieved rate collapses above ~10k/s, so the default compares
# against a handicapped SIPp. The generator is offered BENCH_RATE arrivals/s open-loop; its
# figure is `registrations_per_s` of the JSON summary (successful initial registrations / time to
# the last one). A registration is REGISTER -> 401 (AKA) -> REGISTER -> 200 for both; imscore
# additionally de-registers every UE at the end (not counted, but in its CPU time).
# Needs: sipp (sip-tester), python3, a release build of imscore and of the examples:
#   cargo build --release -p imscore -p ue --examples --bins
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=${CARGO_TARGET_DIR:-target}/release
SRATES=${1:-10000 15000 20000 25000}
BR=${2:-150000}
RUNS=${3:-3}
BT=${4:-1}
RT=${RESPONDER_THREADS:-$(nproc)}
SB=${SIPP_BUFF:-8388608}
SIPP_OPTS=()
[ "$SB" = default ] || SIPP_OPTS=(-buff_size "$SB")
K=696d73636f72652d64656d6f2d6b6579   # "imscore-demo-key"
OP=696d73636f72652d64656d6f2d6f702e  # "imscore-demo-op."
W=$(mktemp -d)
"$T/examples/aka_responder" 127.0.0.1:25070 $K $OP 3830 "$RT" >"$W/resp.log" 2>&1 &
RP=$!
trap 'kill $RP 2>/dev/null; rm -rf "$W"' EXIT
sleep 0.5
load() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU seconds (user + system) the responder has used so far
rcpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$RP/stat"; }
# registrations per CPU-second of the generator (from /usr/bin/time's "user system" output):
# independent of how much of the shared machine the generator was given
percpu() { python3 -c "u, s = open('$1').read().split()[-2:]; print(round($2 / max(float(u) + float(s), 1e-3)))"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$W/sipp.best"
for SR in $SRATES; do
  : >"$W/sipp.rates"; : >"$W/sipp.percpu"
  for r in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    c=$(rcpu)
    /usr/bin/time -f "%U %S" -o "$W/sipp.time" sipp 127.0.0.1:25070 -sf crates/ue/examples/sipp_aka_register.xml -i 127.0.0.1 -p 25080 \
      -r "$SR" -m $((SR * 3)) -l 30000 -nostdin -timeout 90s "${SIPP_OPTS[@]}" >"$W/sipp.out" 2>&1 || true
    e=$(date +%s.%N)
    ok=$(grep "Successful call" "$W/sipp.out" | tail -1 | awk '{print $NF}')
    fail=$(grep "Failed call" "$W/sipp.out" | tail -1 | awk '{print $NF}')
    # the Retrans column of the two REGISTER rows of SIPp's screen
    rt=$(grep -E "^ +REGISTER" "$W/sipp.out" | tail -2 | awk '{s += $4} END {print s + 0}')
    rate=$(python3 -c "print(round(${ok:-0} / ($e - $s)))")
    rc=$(python3 -c "print(round($(rcpu) - $c, 1))")
    echo "SIPp -r $SR run $r: $ok registrations ($fail failed, $rt retransmissions) in $(python3 -c "print(round($e - $s, 2))") s = $rate registrations/s; $(percpu "$W/sipp.time" "${ok:-0}") per SIPp CPU-second, responder CPU $rc s  (load $(load))"
    echo "$rate" >>"$W/sipp.rates"
    percpu "$W/sipp.time" "${ok:-0}" >>"$W/sipp.percpu"
  done
  echo "SIPp -r $SR: median $(median <"$W/sipp.rates") registrations/s, $(median <"$W/sipp.percpu") per CPU-second"
  echo "$(median <"$W/sipp.rates") $(median <"$W/sipp.percpu") $SR" >>"$W/sipp.best"
done
read -r S SC SBEST < <(sort -g -r "$W/sipp.best" | head -1)
echo "SIPp best: $S registrations/s at -r $SBEST (-buff_size ${SB})"

printf 'impi,impus,k,op,amf\nbench@ims.test,sip:bench@ims.test,%s,%s,3830\n' $K $OP >"$W/subs.csv"
: >"$W/bench.rates"; : >"$W/bench.percpu"
for r in $(seq "$RUNS"); do
  c=$(rcpu)
  /usr/bin/time -f "%U %S" -o "$W/bench.time" "$T/imscore" bench --pcscf 127.0.0.1:25070 --ues $((BR * 2)) --rate "$BR" --duration 3s \
    --threads "$BT" --subscribers "$W/subs.csv" --json "$W/bench.json" >"$W/bench.out" 2>&1 || true
  read -r rate reg failed p99 < <(python3 -c "
import json; s = json.load(open('$W/bench.json'))
print(round(s['registrations_per_s']), s['registered'], s['failed'], s['latency']['p99_ms'])")
  rc=$(python3 -c "print(round($(rcpu) - $c, 1))")
  echo "imscore bench run $r: $reg registrations ($failed failed, p99 $p99 ms) = $rate registrations/s; $(percpu "$W/bench.time" "$reg") per generator CPU-second (registration + de-registration), responder CPU $rc s  (load $(load))"
  grep "failed [0-9]*:" "$W/bench.out" | head -3 || true
  echo "$rate" >>"$W/bench.rates"
  percpu "$W/bench.time" "$reg" >>"$W/bench.percpu"
done

B=$(median <"$W/bench.rates")
echo "median: SIPp $S registrations/s (its best rate), imscore bench $B registrations/s, ratio $(python3 -c "print(round($B / max($S, 1), 2))")x"
BC=$(median <"$W/bench.percpu")
echo "per CPU-second of the load generator: SIPp $SC, imscore bench $BC (registration and de-registration), ratio $(python3 -c "print(round($BC / max($SC, 1), 2))")x"
kill $RP 2>/dev/null || true
"$T/examples/udp_floor" 5
