#!/usr/bin/env python3
"""RSS per active series and restart time with many series: N series get
a few samples each through /api/v1/import/prometheus (15 s apart, ending
now), then flint's RSS is read from /proc; flint is stopped and started
again on the same folder, timing start to /-/ready and to a first
answered query over all series, and reading RSS again.

    python3 benches/many_series.py [--series 1000000] [--samples 4]
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from seed_footprint import free_port, wait_http

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PAGE = os.sysconf("SC_PAGE_SIZE")
BATCH = 200_000


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def start(binary, data, port):
    cfg = os.path.join(os.path.dirname(data), "empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n")
    return subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def query(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(q)
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read().decode()


def value(answer):
    """The value of a one-sample instant query answer."""
    return answer.split('"value":')[1].split("]")[0].split(",")[1].strip('"')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/flint"))
    ap.add_argument("--keep", action="store_true", help="keep the data folder (printed)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="many-series-")
    data = os.path.join(tmp, "data")
    port = free_port()
    p = start(a.binary, data, port)
    if not wait_http(f"http://127.0.0.1:{port}/-/ready"):
        sys.exit("flint did not become ready")
    base = rss(p.pid)
    now_ms = int(time.time() * 1000)
    t0 = time.monotonic()
    for k in range(a.samples):
        ts = now_ms - (a.samples - 1 - k) * 15_000
        for lo in range(0, a.series, BATCH):
            hi = min(a.series, lo + BATCH)
            body = "".join(
                f'bench_series{{job="job{i % 100}",instance="host{i // 100}:9100",id="{i}"}} {i + k} {ts}\n'
                for i in range(lo, hi)).encode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/import/prometheus", data=body, method="POST")
            with urllib.request.urlopen(req, timeout=600) as r:
                assert r.status in (200, 204), r.status
    load_s = time.monotonic() - t0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        head = next(l.split()[1] for l in r.read().decode().splitlines()
                    if l.startswith("prometheus_tsdb_head_series "))
    loaded = rss(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    port = free_port()
    t1 = time.monotonic()
    p = start(a.binary, data, port)
    if not wait_http(f"http://127.0.0.1:{port}/-/ready", secs=600):
        sys.exit("flint did not become ready after the restart")
    ready_s = time.monotonic() - t1
    count = query(port, "count(bench_series)")
    first_query_s = time.monotonic() - t1
    after = rss(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    if a.keep:
        print(f"data kept in {data}")
    else:
        subprocess.run(["rm", "-rf", tmp])
    n = a.series
    print(f"series: {n}, samples each: {a.samples}, import: {load_s:.1f} s")
    print(f"head series reported: {head}")
    print(f"RSS empty: {base / 2**20:.1f} MiB; loaded: {loaded / 2**20:.1f} MiB; "
          f"per series: {(loaded - base) / n:.0f} bytes")
    print(f"restart: ready after {ready_s:.2f} s, count(bench_series) answered after "
          f"{first_query_s:.2f} s: {value(count)}")
    print(f"RSS after restart and one query over all series: {after / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
