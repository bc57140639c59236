#!/usr/bin/env python3
"""What sending by remote write costs: flint and Debian's Prometheus 2.42,
each scraping the bench farm (../shared/bench/farm.py: 50 targets x 1000
series at 1 s by default) and sending everything to Debian's VictoriaMetrics.

For each server, in one run:
  1. scrape only (no remote_write): CPU seconds over the window;
  2. scrape and send: CPU seconds and samples sent over the window;
     the CPU of sending = (2) - (1), per million samples sent;
  3. the receiver stopped for --backlog seconds while scraping goes on:
     RSS growth (the memory a backlog costs), then the receiver started
     again and the time until the queue has caught up.

    python3 benches/remote_write.py [--targets 50] [--series 1000]
        [--warmup 30] [--window 60] [--backlog 600] [--servers flint,prometheus]
        [--json out.json]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
TICK = os.sysconf("SC_CLK_TCK")
FARM_BASE = 19100
FARM_CONTROL = 19090


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_http(url, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            if get(url, 2)[0] == 200:
                return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def metric_sum(addr, name):
    """Sum of a metric's samples on a server's /metrics."""
    _, body = get(f"http://{addr}/metrics")
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Proc:
    def __init__(self, argv, log):
        self.log = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


class Vm:
    def __init__(self, work):
        self.work = work
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.proc = Proc(["victoria-metrics", f"-storageDataPath={self.work}/vm",
                          f"-httpListenAddr={self.addr}", "-retentionPeriod=100y"],
                         f"{self.work}/vm.log")
        wait_http(f"http://{self.addr}/health")

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


def config(path, targets, url):
    lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
             "scrape_configs:", "  - job_name: farm", "    static_configs:", "      - targets:"]
    lines += [f"          - '127.0.0.1:{FARM_BASE + i}'" for i in range(targets)]
    if url:
        lines += ["remote_write:", f"  - url: {url}", "    name: vm"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def server_argv(name, cfg, data, addr):
    if name == "flint":
        return [os.path.join(ROOT, "target", "release", "flint"), f"--config.file={cfg}",
                f"--storage.tsdb.path={data}", f"--web.listen-address={addr}"]
    return ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
            f"--web.listen-address={addr}"]


def phase(name, work, targets, url, warmup, window, tag):
    cfg = f"{work}/{name}-{tag}.yml"
    data = f"{work}/{name}-{tag}-data"
    shutil.rmtree(data, ignore_errors=True)
    config(cfg, targets, url)
    addr = f"127.0.0.1:{free_port()}"
    srv = Proc(server_argv(name, cfg, data, addr), f"{work}/{name}-{tag}.log")
    wait_http(f"http://{addr}/-/ready")
    time.sleep(warmup)
    return srv, addr, data


def run(name, args, work, vm):
    out = {}
    # 1. scrape only
    srv, addr, _ = phase(name, work, args.targets, None, args.warmup, 0, "plain")
    c0, t0 = cpu(srv.p.pid), time.time()
    time.sleep(args.window)
    out["scrape_cpu_s"] = round(cpu(srv.p.pid) - c0, 2)
    out["window_s"] = round(time.time() - t0, 1)
    out["scrape_rss_bytes"] = rss(srv.p.pid)
    srv.stop()
    # 2. scrape and send
    url = f"http://{vm.addr}/api/v1/write"
    srv, addr, _ = phase(name, work, args.targets, url, args.warmup, 0, "rw")
    c0, t0 = cpu(srv.p.pid), time.time()
    s0 = metric_sum(addr, "prometheus_remote_storage_samples_total")
    time.sleep(args.window)
    c1, t1 = cpu(srv.p.pid), time.time()
    s1 = metric_sum(addr, "prometheus_remote_storage_samples_total")
    scale = (t1 - t0) / out["window_s"]
    out["send_cpu_s"] = round(c1 - c0, 2)
    out["samples_sent"] = int(s1 - s0)
    extra = (c1 - c0) - out["scrape_cpu_s"] * scale
    out["send_cpu_s_per_million_sent"] = round(extra / max(1, s1 - s0) * 1e6, 3)
    out["rss_bytes_sending"] = rss(srv.p.pid)
    # 3. a backlog: the receiver away
    if args.backlog > 0:
        r0 = rss(srv.p.pid)
        vm.stop()
        time.sleep(args.backlog)
        r1 = rss(srv.p.pid)
        out["backlog_s"] = args.backlog
        out["backlog_rss_growth_bytes"] = r1 - r0
        vm.start()
        t_back = time.time()
        deadline = t_back + 1800
        caught = None
        while time.time() < deadline:
            sent = metric_sum(addr, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            if sent >= t_back - 5:
                caught = round(time.time() - t_back, 1)
                break
            time.sleep(2)
        out["catch_up_s"] = caught
        out["rss_bytes_after_catch_up"] = rss(srv.p.pid)
    srv.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--backlog", type=float, default=600)
    ap.add_argument("--servers", default="flint,prometheus")
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(SHARED_BENCH, "farm.py")):
        sys.exit(f"the bench farm is not at {SHARED_BENCH}")
    work = tempfile.mkdtemp(prefix="rwbench-")
    farm = Proc([sys.executable, os.path.join(SHARED_BENCH, "farm.py"), "--targets", str(args.targets),
                 "--series", str(args.series), "--interval", "1", "--base-port", str(FARM_BASE),
                 "--control-port", str(FARM_CONTROL), "--max-runtime", "14400"], f"{work}/farm.log")
    wait_http(f"http://127.0.0.1:{FARM_CONTROL}/stats?from=0&to=1")
    vm = Vm(work)
    vm.start()
    results = {}
    try:
        for name in args.servers.split(","):
            print(f"{name} ...", file=sys.stderr, flush=True)
            results[name] = run(name, args, work, vm)
            print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
    finally:
        vm.stop()
        farm.stop()
        shutil.rmtree(work, ignore_errors=True)
    keys = ["samples_sent", "send_cpu_s_per_million_sent", "scrape_cpu_s", "send_cpu_s",
            "backlog_rss_growth_bytes", "catch_up_s", "rss_bytes_sending"]
    print("| figure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for k in keys:
        print(f"| {k} | " + " | ".join(str(results[n].get(k)) for n in results) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
