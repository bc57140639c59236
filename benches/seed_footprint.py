#!/usr/bin/env python3
"""Side by side: the sample FastAPI app scraped every 5 s for a minute by
flint and by another server (Debian's prometheus by default); prints each
server's RSS and CPU seconds read from /proc.

    python3 benches/seed_footprint.py [--seconds 60] [--other prometheus]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, secs=30):
    end = time.time() + secs
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    return False


def proc_figures(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, rss, hwm


def run(name, argv_fn, app_addr, seconds):
    work = tempfile.mkdtemp(prefix="seedfp-")
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n"
                "scrape_configs:\n  - job_name: sample\n    scrape_interval: 5s\n"
                "    static_configs:\n      - targets: ['%s']\n" % app_addr)
    port = free_port()
    argv = argv_fn(cfg, os.path.join(work, "data"), "127.0.0.1:%d" % port)
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_http("http://127.0.0.1:%d/-/ready" % port):
            raise SystemExit("%s did not become ready" % name)
        time.sleep(seconds)
        # keep the app busy a little, like the seed does
        for _ in range(5):
            urllib.request.urlopen("http://%s/api/v1/health" % app_addr).read()
        cpu, rss, hwm = proc_figures(p.pid)
        q = urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=count_over_time(up[10m])" % port).read()
        return {"name": name, "cpu_s": cpu, "rss": rss, "hwm": hwm, "up_samples": q.decode()[-40:]}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--flint", default=os.path.join(ROOT, "target", "release", "flint"))
    ap.add_argument("--other", default="prometheus")
    a = ap.parse_args()
    app_port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1",
                            "--port", str(app_port), "--log-level", "warning"],
                           cwd=os.path.join(ROOT, "tests", "seed_app"))
    try:
        addr = "127.0.0.1:%d" % app_port
        if not wait_http("http://%s/metrics" % addr):
            raise SystemExit("seed app did not start")
        tmpl = lambda exe: (lambda c, d, l: [exe, "--config.file=" + c, "--storage.tsdb.path=" + d,
                                              "--web.listen-address=" + l])
        rows = [run("flint", tmpl(a.flint), addr, a.seconds)]
        if shutil.which(a.other):
            rows.append(run(a.other, tmpl(shutil.which(a.other)), addr, a.seconds))
        else:
            print("skipping %s: not on PATH" % a.other)
        print("%-12s %10s %12s %12s" % ("server", "CPU s", "RSS MiB", "RSS HWM MiB"))
        for r in rows:
            print("%-12s %10.2f %12.1f %12.1f" % (r["name"], r["cpu_s"], r["rss"] / 2**20, r["hwm"] / 2**20))
    finally:
        app.terminate()
        app.wait(10)


if __name__ == "__main__":
    main()
