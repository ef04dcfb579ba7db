#!/usr/bin/env bash
# What coscls's telemetry costs per 4 KiB put_object (issue 16, "Cost"), in
# instructions (callgrind) and CPU time (getrusage), every configuration in
# the same run. See the top of src/bin/telemetry_cost.rs for what each
# configuration is; BENCHMARKS.md ("Telemetry cost") for how to read it.
#
# usage: bench/telemetry_cost.sh          (needs valgrind and python3; ~3-5 min)
#   ROUNDS=6      CPU rounds (each runs every configuration once, in one
#                 process each, the order reversed every other round)
#   CPU_OPS=1000  operations per CPU measurement (after 200 warm-up ones)
#   SMALL=100 LARGE=500
#                 operations in the two callgrind runs of each
#                 configuration; (instructions(LARGE) - instructions(SMALL))
#                 / (LARGE - SMALL) is the cost of one operation, start-up,
#                 warm-up and shutdown cancelled out
#   JOBS=2        callgrind runs at once
#   CONFIGS="off metrics default default_nolog sampled floor floor_metrics"
#   KEEP=dir      keep the raw results there (default: a temporary directory,
#                 removed at exit)
#
# Every process starts with OTEL_* and RUST_LOG cleared, then
# OTEL_METRIC_EXPORT_INTERVAL=3600000 and OTEL_BSP_SCHEDULE_DELAY=3600000:
# metrics are exported by the flushes only and spans in full batches of 512
# (as a busy application sends them) plus the flushes, instead of on timers,
# so the number of exports does not depend on how slowly callgrind or a
# loaded machine runs the process (the per-span cost is unchanged); "sampled" adds
# OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01
# to "default". The emulator, the OTLP sink and the client share the
# process, so the figures are the whole loopback operation, both sides.
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-6} CPU_OPS=${CPU_OPS:-1000} SMALL=${SMALL:-100} LARGE=${LARGE:-500}
JOBS=${JOBS:-2}
CONFIGS=${CONFIGS:-"off metrics default default_nolog sampled floor floor_metrics"}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

nice cargo build --release --quiet --bin telemetry_cost
bin="${CARGO_TARGET_DIR:-target}/release/telemetry_cost"

if [ -n "${KEEP:-}" ]; then
    out=$KEEP
    mkdir -p "$out"
else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi

for v in $(env | sed -n 's/^\(OTEL_[A-Za-z0-9_]*\)=.*/\1/p') RUST_LOG; do
    unset "$v"
done
export OTEL_METRIC_EXPORT_INTERVAL=3600000 OTEL_BSP_SCHEDULE_DELAY=3600000

# config label -> command prefix (environment) and the binary's config name
run_env() {
    case $1 in
        sampled) echo "env OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01" ;;
        *) echo "env" ;;
    esac
}
bin_config() {
    case $1 in
        sampled) echo default ;;
        *) echo "$1" ;;
    esac
}

echo "$(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/')" >"$out/load"
read -r -a configs <<<"$CONFIGS"
n=${#configs[@]}

# CPU time: every configuration once per round, order reversed every round.
: >"$out/cpu"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 0 ]; then order=$(seq $((n - 1)) -1 0); else order=$(seq 0 $((n - 1))); fi
    for i in $order; do
        c=${configs[$i]}
        echo "$r $c $($(run_env "$c") nice "$bin" "$(bin_config "$c")" "$CPU_OPS" 200 2>>"$out/stderr")" >>"$out/cpu"
    done
done

# Instructions: two callgrind runs per configuration.
callgrind_one() { # label ops
    local log="$out/callgrind.$1.$2"
    $(run_env "$1") nice valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$log" \
        "$bin" "$(bin_config "$1")" "$2" 20 >"$log.json" 2>>"$out/stderr"
    echo "$1 $2 $(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log")" >"$log.count"
}
export -f callgrind_one run_env bin_config
export out bin
for c in "${configs[@]}"; do
    printf '%s %s\n' "$c" "$SMALL" "$c" "$LARGE"
done | xargs -P "$JOBS" -n 2 bash -c 'callgrind_one "$0" "$1"'
cat "$out"/callgrind.*.count >"$out/instructions"
echo "$(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/')" >>"$out/load"

python3 telemetry_cost_summary.py "$out"
