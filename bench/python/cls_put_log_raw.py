"""The CLS throughput workload through the official Python SDK's put_log_raw.

Usage: cls_put_log_raw.py ENDPOINT TOPIC LOGS BATCH SECRET_ID SECRET_KEY

Builds the same logs as bench/src/bin/cls_throughput.rs (`workload_log`),
BATCH logs per LogGroupList, and sends each with LogClient.put_log_raw (lz4,
signed, one request at a time: the SDK has no async producer). Prints one
JSON line: {"secs": wall time from the first log built to the last response,
"cpu_secs": CPU time of the process (interpreter start included),
"vmhwm_kb": peak resident memory of this process}.
"""

import json
import sys
import time

from tencentcloud.log.cls_pb2 import LogGroupList
from tencentcloud.log.logclient import LogClient

LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")


def fields(i):
    latency = i % 997
    user = i % 10007
    return (
        ("level", LEVELS[i % 4]),
        ("msg", f"GET /api/v1/orders/{i} completed with status 200 in {latency} ms for user u{user}"),
        ("user", f"u{user}"),
        ("latency_ms", str(latency)),
        ("trace", f"{(i * 2654435761) % (1 << 128):032x}"),
    )


def cpu_secs():
    """CPU time of this process's live threads, from schedstat (as the Rust runner)."""
    import os
    total = 0
    for t in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    endpoint, topic, n, batch, secret_id, secret_key = sys.argv[1:7]
    n, batch = int(n), int(batch)
    client = LogClient(endpoint, secret_id, secret_key, source="127.0.0.1")
    start = time.perf_counter()
    for first in range(0, n, batch):
        lgl = LogGroupList()
        group = lgl.logGroupList.add()
        for i in range(first, min(n, first + batch)):
            log = group.logs.add()
            log.time = 1700000000000 + i
            for k, v in fields(i):
                c = log.contents.add()
                c.key = k
                c.value = v
        client.put_log_raw(topic, lgl)
    secs = time.perf_counter() - start
    print(json.dumps({"secs": secs, "cpu_secs": cpu_secs(), "vmhwm_kb": vmhwm_kb()}), flush=True)


if __name__ == "__main__":
    main()
