#!/usr/bin/env python3
"""Summarises bench/same_run.sh output (files given, or stdin).

Every label is compared with the first label seen, round by round: the
median and geometric mean of the per-round rate ratios, their quartiles, how
many rounds reach 0.90, and the median of the paired differences in client
CPU per operation. Lines that are not samples are ignored.
"""

import fileinput
import json
import math
import statistics


def main():
    rows = {}
    big = False
    for line in fileinput.input():
        label, _, rest = line.partition(" ")
        if not rest.startswith("{"):
            continue
        sample, _, _ = rest.rpartition("}")
        s = json.loads(sample + "}")
        if s["ops"] == 1 and s["bytes"] > 1 << 20:
            # One large transfer (get_big): MB/s, and CPU seconds per GB.
            big = True
            rate, cpu = s["bytes"] / s["secs"] / 1e6, s["cpu_secs"] / (s["bytes"] / 1e9)
        else:
            rate, cpu = s["ops"] / s["secs"], s["cpu_secs"] / s["ops"] * 1e6
        rows.setdefault(label, []).append((rate, cpu))
    if not rows:
        raise SystemExit("no samples")
    unit, cpu_unit = ("MB/s", "s/GB") if big else ("ops/s", "µs/op")
    labels = list(rows)
    base = rows[labels[0]]
    for label in labels:
        r = rows[label]
        print(
            f"{label:10} n={len(r):3}  median {statistics.median(x[0] for x in r):10.1f} {unit}"
            f"  client CPU median {statistics.median(x[1] for x in r):6.2f} {cpu_unit}"
        )
    for label in labels[1:]:
        pairs = list(zip(base, rows[label]))
        ratios = [b[0] / a[0] for a, b in pairs]
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        cpu = statistics.median(b[1] - a[1] for a, b in pairs)
        lower = sum(b[1] < a[1] for a, b in pairs)
        print(
            f"{label}/{labels[0]}: median ratio {statistics.median(ratios):.3f},"
            f" geomean {geo:.3f}, quartiles {q[0]:.2f}-{q[2]:.2f},"
            f" >= 0.90 in {sum(x >= 0.9 for x in ratios)} of {len(ratios)};"
            f" client CPU {cpu:+.2f} {cpu_unit} (median of paired differences),"
            f" lower in {lower}"
        )


if __name__ == "__main__":
    main()
