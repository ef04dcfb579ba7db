"""One COS throughput measurement with the official Python SDK (cos-python-sdk-v5).

Run by `cos_throughput` (bench/src/bin/cos_throughput.rs), once per workload,
in its own process so that its peak RSS (VmHWM) is its own:

    cos_ops.py ENDPOINT BUCKET WORKLOAD COUNT CONCURRENCY SIZE

WORKLOAD: put_small / get_small (COUNT objects of SIZE bytes, CONCURRENCY
threads sharing one client) or put_big / get_big (one object of SIZE bytes,
streamed from a generator / into a sink, never held whole in memory).
Credentials: env BENCH_SECRET_ID / BENCH_SECRET_KEY.

The SDK reaches the emulator through its `Proxies` setting (absolute-form
request targets, virtual-hosted Host header), exactly as it would reach COS.
Prints one JSON line: {"ops", "bytes", "secs", "cpu_secs", "vmhwm_kib"}.
"""

import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from qcloud_cos import CosConfig, CosS3Client
from urllib3.connection import HTTPConnection

ENDPOINT, BUCKET, WORKLOAD = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
COUNT, CONCURRENCY, SIZE = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
CHUNK = 1024 * 1024
GET_KEYS = 256  # the driver pre-populates get/0 .. get/255

logging.getLogger("qcloud_cos").setLevel(logging.CRITICAL)


def vmhwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class NoDelayProxyAdapter(requests.adapters.HTTPAdapter):
    """urllib3 turns Nagle's algorithm back on for proxied connections; with
    the request head and a small body sent as two writes, each PUT then waits
    for the server's delayed ACK (~40 ms). The proxy is only our way into the
    emulator (a direct connection to COS keeps TCP_NODELAY), so keep
    urllib3's default socket options."""

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs.setdefault("socket_options", HTTPConnection.default_socket_options)
        return super().proxy_manager_for(proxy, **proxy_kwargs)


def client():
    pool = max(CONCURRENCY, 10)
    session = requests.Session()
    session.mount("http://", NoDelayProxyAdapter(pool_connections=pool, pool_maxsize=pool))
    config = CosConfig(Region="ap-guangzhou", SecretId=os.environ["BENCH_SECRET_ID"],
                       SecretKey=os.environ["BENCH_SECRET_KEY"], Scheme="http",
                       Proxies={"http": ENDPOINT})
    return CosS3Client(config, retry=1, session=session)


class Generated:
    """SIZE bytes handed out a reused 1 MiB block at a time; requests sees
    `__len__` and sends a Content-Length."""

    def __init__(self, size):
        self.left = size
        self.size = size
        self.block = bytes(range(256)) * (CHUNK // 256)

    def __len__(self):
        return self.size

    def __iter__(self):
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                return
            yield chunk

    def read(self, n=-1):
        if self.left == 0:
            return b""
        n = CHUNK if n is None or n < 0 else min(n, CHUNK)
        n = min(n, self.left)
        self.left -= n
        return self.block if n == CHUNK else self.block[:n]


def small(cos, op):
    body = b"x" * SIZE
    tag = "python-sdk"

    def one(i):
        if op == "put":
            cos.put_object(Bucket=BUCKET, Body=body, Key=f"put/{tag}/{i % 1000}")
            return SIZE
        data = cos.get_object(Bucket=BUCKET, Key=f"get/{i % GET_KEYS}")["Body"].get_raw_stream().read()
        if len(data) != SIZE:
            raise RuntimeError(f"got {len(data)} bytes, expected {SIZE}")
        return len(data)

    next_i = [0]
    lock = threading.Lock()

    def worker(limit):
        total = 0
        while True:
            with lock:
                i = next_i[0]
                if i >= limit:
                    return total
                next_i[0] = i + 1
            total += one(i)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        # Warm-up: one request per thread opens the connections (untimed).
        list(pool.map(one, range(CONCURRENCY)))
        cpu, start = time.process_time(), time.perf_counter()
        futures = [pool.submit(worker, COUNT) for _ in range(CONCURRENCY)]
        done = sum(f.result() for f in futures)
        secs = time.perf_counter() - start
    return COUNT, done, secs, time.process_time() - cpu


def big(cos, op):
    key = "big/python-sdk"
    cpu, start = time.process_time(), time.perf_counter()
    if op == "put":
        cos.put_object(Bucket=BUCKET, Body=Generated(SIZE), Key=key)
        done = SIZE
    else:
        stream = cos.get_object(Bucket=BUCKET, Key=key)["Body"].get_raw_stream()
        done = 0
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            done += len(chunk)
        if done != SIZE:
            raise RuntimeError(f"got {done} bytes, expected {SIZE}")
    return 1, done, time.perf_counter() - start, time.process_time() - cpu


def main():
    cos = client()
    kind, op = WORKLOAD.split("_")[1], WORKLOAD.split("_")[0]
    ops, done, secs, cpu = (small if kind == "small" else big)(cos, op)
    print(json.dumps({"ops": ops, "bytes": done, "secs": secs, "cpu_secs": cpu,
                      "vmhwm_kib": vmhwm_kib()}))


if __name__ == "__main__":
    main()
