#!/usr/bin/env python3
"""Native histograms scraped side by side: flint and Debian's Prometheus 2.42
(`--enable-feature=native-histograms`) scrape the same protobuf target,
whose histograms (exponential, schema 3, observations spread over ~30
buckets, a few added every second) grow as a busy service's would.

Reported per server after --duration seconds: histogram samples stored
(`count_over_time` over everything), CPU seconds of the server process,
bytes of its data folder once stopped, both per sample, and the bytes of
closed chunks per sample in them (flint's range files, Prometheus's
`chunks_head`; each cuts a series' chunk at 120 samples). Prometheus's folder holds
its write-ahead log (snappy) and the head chunks written so far; flint's
its histogram store (closed chunks by range and the log of the open ones)
and the rest of its data folder.

    python3 benches/native_histograms.py [--series 200] [--duration 300]
        [--interval 1] [--flint target/release/flint] [--json out.json]
"""

import argparse
import json
import math
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
CONTENT_TYPE = (
    "application/vnd.google.protobuf;"
    "proto=io.prometheus.client.MetricFamily;encoding=delimited"
)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --- protobuf by hand: varints, keys, fields --------------------------------


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def key(field, wire):
    return varint((field << 3) | wire)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_double(field, v):
    return key(field, 1) + struct.pack("<d", v)


def histogram_family(name, states):
    """A MetricFamily of type HISTOGRAM with one native histogram per
    state: (labels, count, sum, zero, {index: count})."""
    metrics = b""
    for labels, count, total, zero, buckets in states:
        h = f_varint(1, count) + f_double(2, total) + f_varint(5, zigzag(3))
        h += f_double(6, 1e-3) + f_varint(7, zero)
        # positive spans and deltas
        idx = sorted(buckets)
        spans = b""
        deltas = b""
        prev_i = None
        prev_c = 0
        span_list = []
        for i in idx:
            if prev_i is None:
                span_list.append([i, 1])
            elif i == prev_i + 1:
                span_list[-1][1] += 1
            else:
                span_list.append([i - prev_i - 1, 1])
            prev_i = i
            c = buckets[i]
            deltas += varint(zigzag(c - prev_c))
            prev_c = c
        for off, length in span_list:
            spans += f_bytes(12, f_varint(1, zigzag(off)) + f_varint(2, length))
        h += spans + f_bytes(13, deltas)
        m = b"".join(f_bytes(1, f_bytes(1, k.encode()) + f_bytes(2, v.encode())) for k, v in labels)
        m += f_bytes(7, h)
        metrics += f_bytes(4, m)
    mf = f_bytes(1, name.encode()) + f_bytes(2, b"Request latency.") + f_varint(3, 4) + metrics
    return varint(len(mf)) + mf


class Target:
    """Histograms that take observations every second; a scrape sees the
    state as of the last second."""

    def __init__(self, series, seed=1):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.states = []
        for i in range(series):
            self.states.append(
                {"labels": [("instance_id", str(i)), ("route", "/r%d" % (i % 20))], "count": 0, "sum": 0.0, "zero": 0, "buckets": {}}
            )
        self.body = b""
        self.tick()

    def tick(self):
        with self.lock:
            for st in self.states:
                for _ in range(self.rng.randint(0, 20)):
                    v = self.rng.lognormvariate(-2.5, 0.8)
                    st["count"] += 1
                    st["sum"] += v
                    if v <= 1e-3:
                        st["zero"] += 1
                        continue
                    i = math.ceil(math.log2(v) * 8)
                    st["buckets"][i] = st["buckets"].get(i, 0) + 1
            cum = []
            for st in self.states:
                cum.append((st["labels"], st["count"], st["sum"], st["zero"], dict(st["buckets"])))
            self.body = histogram_family("request_duration_seconds", cum)

    def run(self, stop):
        while not stop.is_set():
            time.sleep(1)
            self.tick()


def serve(target):
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            with target.lock:
                body = target.body
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def folder_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def query(addr, q):
    url = "http://%s/api/v1/query?%s" % (addr, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=30) as r:
        res = json.load(r)["data"]["result"]
    return float(res[0]["value"][1]) if res else 0.0


def wait_ready(addr, proc, what):
    end = time.time() + 60
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("%s exited" % what)
        try:
            with urllib.request.urlopen("http://%s/-/ready" % addr, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.2)
    sys.exit("%s not ready" % what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--flint", default=os.path.join(ROOT, "target", "release", "flint"))
    ap.add_argument("--json")
    a = ap.parse_args()
    if not shutil.which("prometheus"):
        sys.exit("prometheus (Debian's 2.42) is needed")
    target = Target(a.series)
    stop = threading.Event()
    threading.Thread(target=target.run, args=(stop,), daemon=True).start()
    srv = serve(target)
    taddr = "127.0.0.1:%d" % srv.server_address[1]
    work = tempfile.mkdtemp(prefix="nh-bench-")
    servers = {}
    try:
        for name in ("flint", "prometheus"):
            d = os.path.join(work, name)
            os.makedirs(d)
            extra = "    scrape_native_histograms: true\n" if name == "flint" else ""
            cfg = os.path.join(d, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write(
                    "global:\n  scrape_interval: %ds\nscrape_configs:\n  - job_name: app\n%s    static_configs:\n      - targets: ['%s']\n"
                    % (a.interval, extra, taddr)
                )
            addr = "127.0.0.1:%d" % free_port()
            data = os.path.join(d, "data")
            cmd = [a.flint if name == "flint" else "prometheus", "--config.file=" + cfg,
                   "--storage.tsdb.path=" + data, "--web.listen-address=" + addr]
            if name == "prometheus":
                cmd.append("--enable-feature=native-histograms")
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
            wait_ready(addr, p, name)
            servers[name] = (p, addr, data, cpu_seconds(p.pid))
        time.sleep(a.duration)
        results = {}
        for name, (p, addr, data, cpu0) in servers.items():
            samples = query(addr, "sum(count_over_time(request_duration_seconds[1d]))")
            results[name] = {"samples": samples, "cpu_s": cpu_seconds(p.pid) - cpu0}
        # sizes once stopped: Prometheus writes the head chunks it has cut
        # through a buffer that it flushes when it stops
        for name, (p, addr, data, cpu0) in servers.items():
            p.terminate()
            p.wait(timeout=60)
        for name, (p, addr, data, cpu0) in servers.items():
            # closed chunks: flint's range files, Prometheus's head chunks
            # written to chunks_head (both cut chunks at 120 samples)
            chunk_dir = os.path.join(data, "histograms" if name == "flint" else "chunks_head")
            chunk_bytes = sum(
                os.path.getsize(os.path.join(chunk_dir, f))
                for f in os.listdir(chunk_dir)
                if name != "flint" or f.startswith("p")
            ) if os.path.isdir(chunk_dir) else 0
            r = results[name]
            closed = a.series * 120 * int(r["samples"] / a.series // 120)
            r.update({"bytes": folder_bytes(data), "chunk_bytes": chunk_bytes, "closed_samples": closed})
        print("%d histograms (schema 3, ~30 buckets), scraped every %d s for %d s"
              % (a.series, a.interval, a.duration))
        print("%-11s %10s %8s %12s %13s %13s %13s" % (
            "server", "samples", "cpu s", "disk bytes", "bytes/sample", "cpu us/sample", "chunk B/sample"))
        for name, r in results.items():
            n = max(r["samples"], 1)
            c = r["chunk_bytes"] / r["closed_samples"] if r["closed_samples"] else float("nan")
            print("%-11s %10d %8.2f %12d %13.1f %13.1f %13.2f" % (
                name, r["samples"], r["cpu_s"], r["bytes"], r["bytes"] / n, r["cpu_s"] / n * 1e6, c))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        stop.set()
        for p, *_ in servers.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        srv.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
