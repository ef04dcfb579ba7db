#!/usr/bin/env bash
# Same-run A/B: several clients, binaries or configurations measured against
# one emulator, round after round, with the order reversed every round. On a
# shared machine the rate drifts by tens of percent between minutes; a ratio
# taken within one round cancels most of that drift, which is why
# BENCHMARKS.md compares binaries this way rather than across driver runs.
#
# usage: bench/same_run.sh WORKLOAD COUNT CONCURRENCY ROUNDS VARIANT...
#   WORKLOAD  put_small | get_small (4 KiB objects) | get_big (1 GiB)
#   COUNT     requests per measurement (ignored by get_big)
#   VARIANT   LABEL:ENV:CLIENT:BINARY
#             LABEL   name in the output (the summary compares every label
#                     with the first)
#             ENV     VAR=value set for this variant, or empty
#             CLIENT  raw-reqwest | coscls | opendal
#             BINARY  a cos_throughput built from bench/ (any commit)
#
# The first variant's binary also runs the emulator (in memory for 4 KiB,
# on a temporary directory for 1 GiB). One line per measurement:
#   LABEL {the child's JSON sample} EMULATOR_CPU_TICKS
# Summarise with bench/same_run_summary.py.
#
# example:
#   B=bench/target/release/cos_throughput
#   bench/same_run.sh get_small 20000 64 40 raw::raw-reqwest:$B coscls::coscls:$B \
#     | tee /tmp/ab.txt | python3 bench/same_run_summary.py
set -euo pipefail

if [ $# -lt 6 ]; then
    sed -n '2,26p' "$0" >&2
    exit 2
fi
workload=$1 count=$2 concurrency=$3 rounds=$4
shift 4
variants=("$@")
IFS=: read -r _ _ _ emulator_bin <<<"${variants[0]}"

size=4096
data_dir=""
if [ "$workload" = get_big ]; then
    size=$((1024 * 1024 * 1024))
    data_dir=$(mktemp -d)
fi
endpoint_file=$(mktemp)
# The emulator serves until its stdin closes: a sleeping writer keeps it
# open, and killing the writer's process group stops both.
setsid bash -c "sleep infinity | exec '$emulator_bin' emulator $data_dir > '$endpoint_file'" \
    </dev/null >/dev/null 2>&1 &
server_group=$!
cleanup() {
    kill -- -"$server_group" 2>/dev/null || true
    rm -rf "$endpoint_file" ${data_dir:+"$data_dir"}
}
trap cleanup EXIT
for _ in $(seq 40); do
    [ -s "$endpoint_file" ] && break
    sleep 0.25
done
endpoint=$(head -1 "$endpoint_file")
[ -n "$endpoint" ] || { echo "the emulator did not start" >&2; exit 1; }
emulator_pid=$(pgrep -n -f "$emulator_bin emulator" || true)

emulator_ticks() {
    if [ -n "$emulator_pid" ] && [ -r "/proc/$emulator_pid/stat" ]; then
        awk '{print $14 + $15}' "/proc/$emulator_pid/stat"
    else
        echo 0
    fi
}

if [ "$workload" = get_big ]; then
    # Each variant reads the object its client wrote under big/<client>.
    for v in "${variants[@]}"; do
        IFS=: read -r _ envs client bin <<<"$v"
        env $envs "$bin" run "$client" put_big "$endpoint" 1 1 "$size" >/dev/null
    done
else
    "$emulator_bin" seed "$endpoint"
fi

n=${#variants[@]}
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 0 ]; then order=$(seq $((n - 1)) -1 0); else order=$(seq 0 $((n - 1))); fi
    for i in $order; do
        IFS=: read -r label envs client bin <<<"${variants[$i]}"
        before=$(emulator_ticks)
        sample=$(env $envs "$bin" run "$client" "$workload" "$endpoint" "$count" "$concurrency" "$size")
        echo "$label $sample $(($(emulator_ticks) - before))"
    done
done
