#!/usr/bin/env bash
# Instructions per 4 KiB put_object with telemetry off and on, counted by
# valgrind's callgrind: unlike wall-clock time, the count does not depend on
# what else the machine is doing. Each configuration runs twice (1000 and
# 3000 operations after start-up); the difference divided by 2000 is the cost
# of one operation, start-up (TLS roots, emulator, exporters) cancelled out.
#
# Usage: cd bench && ./telemetry_instructions.sh   (needs valgrind; ~10 min)
set -euo pipefail
cd "$(dirname "$0")"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../target} cargo bench --bench telemetry_overhead --no-run 2>/dev/null
bin=$(ls -t "${CARGO_TARGET_DIR:-../target}"/release/deps/telemetry_overhead-* | grep -v '\.d$' | head -1)
count() { # mode variant batch
  ROUNDS=4 BATCH=$3 ONLY=$1 VARIANT=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_op() { # mode variant -> instructions per operation (10 x batch operations per run)
  local small large
  small=$(count "$1" "$2" 100)
  large=$(count "$1" "$2" 300)
  echo $(( (large - small) / 2000 ))
}
off=$(per_op off full)
printf '%-34s %12s %10s\n' "configuration" "instr/op" "vs off"
printf '%-34s %12d %10s\n' "off (no subscriber, no-op meter)" "$off" "1.000"
for v in metrics registry layer full attempts; do
  on=$(per_op on "$v")
  printf '%-34s %12d %10s\n' "on: $v" "$on" "$(echo "scale=3; $on / $off" | bc)"
done
