#!/usr/bin/env python3
"""Summarises a telemetry_cost.sh run: one row per configuration, then the
ratios issue 16's targets are stated in.

usage: telemetry_cost_summary.py DIR   (the directory telemetry_cost.sh wrote)

Instructions per operation: (count(LARGE) - count(SMALL)) / (LARGE - SMALL)
from the two callgrind runs. CPU per operation: median over rounds; "CPU vs
off" is the median of the per-round ratios (each round ran every
configuration, so a ratio within a round cancels most of the machine's drift).
"""

import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]

    # instructions: label ops count
    runs = {}
    for label, ops, count in (r for r in load(os.path.join(out, "instructions")) if len(r) == 3):
        runs.setdefault(label, []).append((int(ops), int(count)))
    instr = {}
    for label, pairs in runs.items():
        pairs.sort()
        if len(pairs) >= 2 and pairs[-1][0] > pairs[0][0]:
            (n0, c0), (n1, c1) = pairs[0], pairs[-1]
            instr[label] = (c1 - c0) / (n1 - n0)

    # cpu: round label {json}
    cpu, samples, order, rounds = {}, {}, [], {}
    with open(os.path.join(out, "cpu")) as f:
        for line in f:
            parts = line.split(" ", 2)
            if len(parts) < 3 or not parts[2].strip():
                continue
            r, label, sample = parts[0], parts[1], json.loads(parts[2])
            if label not in order:
                order.append(label)
            cpu.setdefault(label, []).append(sample["cpu_us_per_op"])
            samples.setdefault(label, []).append(sample)
            rounds.setdefault(r, {})[label] = sample["cpu_us_per_op"]
    for label in instr:
        if label not in order:
            order.append(label)

    def cpu_ratio(label, base):
        ratios = [v[label] / v[base] for v in rounds.values() if label in v and base in v]
        return statistics.median(ratios) if ratios else None

    def fmt(v, spec):
        return "–" if v is None else format(v, spec)

    print(open(os.path.join(out, "load")).read().strip())
    print()
    print("| configuration | instructions / op | vs off | + vs off | CPU µs / op (median) | CPU vs off (median ratio) | OTLP trace bytes / op | spans exported / op (est.) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    off_i = instr.get("off")
    default_bytes = (
        statistics.median(s["trace_bytes"] / s["ops"] for s in samples["default"])
        if "default" in samples
        else None
    )
    for label in order:
        i = instr.get(label)
        c = statistics.median(cpu[label]) if label in cpu else None
        tb = statistics.median(s["trace_bytes"] / s["ops"] for s in samples[label]) if label in samples else None
        spans = tb / default_bytes if tb is not None and default_bytes else None
        print(
            f"| {label} | {fmt(i, ',.0f')} | {fmt(i / off_i if i and off_i else None, '.3f')} "
            f"| {fmt(i - off_i if i and off_i else None, '+,.0f')} | {fmt(c, '.1f')} "
            f"| {fmt(cpu_ratio(label, 'off') if 'off' in cpu else None, '.3f')} | {fmt(tb, '.1f')} "
            f"| {fmt(spans, '.3f')} |"
        )
    print()

    def added(label, source):
        if source == "instructions":
            v, off = instr.get(label), instr.get("off")
        else:
            v = statistics.median(cpu[label]) if label in cpu else None
            off = statistics.median(cpu["off"]) if "off" in cpu else None
        return None if v is None or off is None else v - off

    def whole(label, source):
        if source == "instructions":
            return instr.get(label)
        return statistics.median(cpu[label]) if label in cpu else None

    for source in ("instructions", "CPU"):
        d, f, fm = added("default", source), added("floor", source), added("floor_metrics", source)
        if source == "instructions":
            s, m = whole("sampled", source), whole("metrics", source)
            unsampled = s / m if s and m else None
        else:
            unsampled = cpu_ratio("sampled", "metrics") if "sampled" in cpu and "metrics" in cpu else None
        print(f"{source}:")
        print(f"  (default - off) / (floor - off)          = {fmt(d / f if d and f else None, '.3f')}   target <= 1.15")
        print(f"  (default - off) / (floor_metrics - off)  = {fmt(d / fm if d and fm else None, '.3f')}")
        print(f"  sampled 0.01 / metrics only              = {fmt(unsampled, '.4f')}  target <= 1.03")
    for label in order:
        for s in samples.get(label, []):
            if s.get("emulator_requests", 0) < s["ops"]:
                print(f"warning: {label}: the emulator saw fewer requests than operations", file=sys.stderr)


if __name__ == "__main__":
    main()
