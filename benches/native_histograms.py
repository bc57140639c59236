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


def spans_and_deltas(buckets):
    """The spans ([offset, length]) and the packed zigzag deltas of a
    histogram's {index: count} buckets, as both protobuf formats carry
    them."""
    spans = []
    deltas = b""
    prev_i = None
    prev_c = 0
    for i in sorted(buckets):
        if prev_i is None:
            spans.append([i, 1])
        elif i == prev_i + 1:
            spans[-1][1] += 1
        else:
            spans.append([i - prev_i - 1, 1])
        prev_i = i
        deltas += varint(zigzag(buckets[i] - prev_c))
        prev_c = buckets[i]
    return spans, deltas


def span_field(field, off, length):
    return f_bytes(field, f_varint(1, zigzag(off)) + f_varint(2, length))


def histogram_family(name, states):
    """A MetricFamily of type HISTOGRAM with one native histogram per
    state: (labels, count, sum, zero, {index: count})."""
    metrics = b""
    for labels, count, total, zero, buckets in states:
        h = f_varint(1, count) + f_double(2, total) + f_varint(5, zigzag(3))
        h += f_double(6, 1e-3) + f_varint(7, zero)
        spans, deltas = spans_and_deltas(buckets)
        h += b"".join(span_field(12, o, n) for o, n in spans) + f_bytes(13, deltas)
        m = b"".join(f_bytes(1, f_bytes(1, k.encode()) + f_bytes(2, v.encode())) for k, v in labels)
        m += f_bytes(7, h)
        metrics += f_bytes(4, m)
    mf = f_bytes(1, name.encode()) + f_bytes(2, b"Request latency.") + f_varint(3, 4) + metrics
    return varint(len(mf)) + mf


def write_request(name, steps):
    """A remote write 1.0 WriteRequest (uncompressed) holding, per series,
    its native histograms at each of `steps`: [(timestamp ms, states)],
    states as histogram_family takes them, in the same series order."""
    series = {}
    for ts, states in steps:
        for labels, count, total, zero, buckets in states:
            h = f_varint(1, count) + f_double(3, total) + f_varint(4, zigzag(3))
            h += f_double(5, 1e-3) + f_varint(6, zero)
            spans, deltas = spans_and_deltas(buckets)
            h += b"".join(span_field(11, o, n) for o, n in spans) + f_bytes(12, deltas)
            h += f_varint(15, ts)
            key_ = tuple(labels)
            if key_ not in series:
                ls = sorted([("__name__", name)] + list(labels))
                series[key_] = b"".join(f_bytes(1, f_bytes(1, k.encode()) + f_bytes(2, v.encode())) for k, v in ls)
            series[key_] += f_bytes(4, h)
    return b"".join(f_bytes(1, ts_) for ts_ in series.values())


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
            self.observe()
            self.body = histogram_family("request_duration_seconds", self.snapshot())

    def observe(self):
        """A second's observations (or an interval's, in --blocks mode)."""
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

    def snapshot(self):
        """(labels, count, sum, zero, {index: count}) of every histogram."""
        return [(st["labels"], st["count"], st["sum"], st["zero"], dict(st["buckets"])) for st in self.states]

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


def first_block(data, t0):
    """(folder, meta) of the block starting at t0 in a data folder, or None."""
    for d in sorted(os.listdir(data)) if os.path.isdir(data) else []:
        meta = os.path.join(data, d, "meta.json")
        if os.path.isfile(meta):
            with open(meta) as f:
                m = json.load(f)
            if m["minTime"] == t0:
                return os.path.join(data, d), m
    return None


def start_server(name, flint, d, addr, extra):
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n")
    cmd = [flint if name == "flint" else "prometheus", "--config.file=" + cfg,
           "--storage.tsdb.path=" + os.path.join(d, "data"), "--web.listen-address=" + addr] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    wait_ready(addr, p, name)
    return p


def blocks(a):
    """--blocks: the same histograms remote-written to both servers, --blocks
    hours of them ending half an hour ago, so that each cuts its first 2 h
    block; the bytes of that block's histogram chunks per sample, and of
    the block as a whole."""
    import cramjam  # snappy for remote write bodies (pip install cramjam)

    two_h = 7_200_000
    now = int(time.time() * 1000)
    t0 = (now - int((a.blocks + 0.5) * 3_600_000)) // two_h * two_h
    end = t0 + int(a.blocks * 3_600_000)
    work = tempfile.mkdtemp(prefix="nh-blocks-")
    procs = {}
    try:
        for name in ("flint", "prometheus"):
            d = os.path.join(work, name)
            os.makedirs(d)
            addr = "127.0.0.1:%d" % free_port()
            extra = ["--web.enable-remote-write-receiver"]
            if name == "prometheus":
                extra.append("--enable-feature=native-histograms")
            procs[name] = (start_server(name, a.flint, d, addr, extra), addr, os.path.join(d, "data"))
        target = Target(a.series)
        steps = []
        t = t0
        while t < end:
            target.observe()
            steps.append((t, target.snapshot()))
            t += a.interval * 1000
            if len(steps) == 60 or t >= end:
                body = bytes(cramjam.snappy.compress_raw(write_request("request_duration_seconds", steps)))
                for name, (p, addr, data) in procs.items():
                    req = urllib.request.Request("http://%s/api/v1/write" % addr, data=body, headers={
                        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                        "X-Prometheus-Remote-Write-Version": "0.1.0"})
                    with urllib.request.urlopen(req, timeout=60) as r:
                        if r.status // 100 != 2:
                            sys.exit("%s answered %d" % (name, r.status))
                steps = []
        found = {}
        deadline = time.time() + 300
        while len(found) < len(procs) and time.time() < deadline:
            for name, (p, addr, data) in procs.items():
                if name not in found:
                    b = first_block(data, t0)
                    if b:
                        found[name] = b
            time.sleep(1)
        if len(found) < len(procs):
            sys.exit("no block cut by %s" % ", ".join(n for n in procs if n not in found))
        time.sleep(2)
        for p, _, _ in procs.values():
            p.terminate()
            p.wait(timeout=60)
        rows = []
        for name, (folder, meta) in sorted(found.items()):
            st = meta["stats"]
            if name == "flint":
                samples, chunks = st["numHistogramSamples"], st["numHistogramChunks"]
                chunk_bytes = os.path.getsize(os.path.join(folder, "histograms"))
            else:
                samples, chunks = st["numSamples"], st["numChunks"]
                chunk_bytes = folder_bytes(os.path.join(folder, "chunks"))
            rows.append((name, samples, chunks, chunk_bytes, folder_bytes(folder)))
        # the same samples as Prometheus 3 cuts its histogram chunks: flint's
        # export of the block's range
        out = os.path.join(work, "export")
        r = subprocess.run([a.flint, "tsdb", "export-prometheus", "--min-time=%d" % t0,
                            "--max-time=%d" % (t0 + two_h - 1), out, procs["flint"][2]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit("export-prometheus failed: " + r.stderr)
        b = first_block(out, t0)
        if b:
            st = b[1]["stats"]
            rows.append(("export", st["numSamples"], st["numChunks"],
                         folder_bytes(os.path.join(b[0], "chunks")), folder_bytes(b[0])))
        print("%d histograms (schema 3, ~30 buckets) every %d s for %.1f h, remote-written;"
              " the first 2 h block" % (a.series, a.interval, a.blocks))
        print("%-11s %9s %7s %12s %14s %12s %14s" % (
            "block of", "samples", "chunks", "chunk bytes", "chunk B/sample", "block bytes", "block B/sample"))
        for name, samples, chunks, cb, bb in rows:
            print("%-11s %9d %7d %12d %14.2f %12d %14.2f" % (
                name, samples, chunks, cb, cb / max(samples, 1), bb, bb / max(samples, 1)))
        if a.json:
            with open(a.json, "w") as f:
                json.dump([dict(zip(("block", "samples", "chunks", "chunk_bytes", "block_bytes"), r)) for r in rows], f, indent=1)
    finally:
        for p, _, _ in procs.values():
            if p.poll() is None:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--flint", default=os.path.join(ROOT, "target", "release", "flint"))
    ap.add_argument("--json")
    ap.add_argument("--blocks", type=float, help="remote-write this many hours instead of scraping (at least 3.5)")
    a = ap.parse_args()
    if not shutil.which("prometheus"):
        sys.exit("prometheus (Debian's 2.42) is needed")
    if a.blocks:
        return blocks(a)
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
