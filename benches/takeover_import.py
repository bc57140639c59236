#!/usr/bin/env python3
"""How fast flint takes over a Prometheus data directory, against how fast
Debian's Prometheus 2.42 replays its own write-ahead log.

1. Blocks: SERIES series x DAYS days at 15 s, written as Prometheus blocks
   (generated window by window with `flint tsdb create-blocks-from
   openmetrics`, then `flint tsdb export-prometheus`); flint started on
   the Prometheus folder: time until ready, samples per second, peak RSS.
   Prometheus 2.42 started on the same folder for reference (it only opens
   blocks).
2. Write-ahead log: Prometheus 2.42 receives WAL_SERIES series x 1 h at
   15 s by remote write (sent by a flint fed through its import endpoint),
   is killed with SIGKILL, then (a) restarted: its WAL replay time, from
   its log, and peak RSS; (b) flint takes over the same folder: time until
   ready, peak RSS, and the samples it then holds.

    python3 benches/takeover_import.py [--series 10000] [--days 7]
        [--wal-series 10000] [--flint target/release/flint] [--json out.json]
"""

import argparse
import json
import os
import re
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
STEP = 15
WINDOW = 2 * 3600


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, timeout=600):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def query(addr, q):
    _, body = get(f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    r = json.loads(body)["data"]["result"]
    return float(r[0]["value"][1]) if r else 0.0


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_ready(proc, addr, secs=3600):
    """Seconds until /-/ready answers 200, and the peak RSS by then."""
    start = time.time()
    while time.time() - start < secs:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            if get(f"http://{addr}/-/ready", 2)[0] == 200:
                return time.time() - start, peak_rss_kib(proc.pid)
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.02)
    raise RuntimeError("not ready")


def start_flint(flint, data, cfg, log, extra=()):
    addr = f"127.0.0.1:{free_port()}"
    p = subprocess.Popen(
        [flint, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
         f"--web.listen-address={addr}", "--storage.tsdb.retention.time=100y", *extra],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    return p, addr


def start_prometheus(data, cfg, log, extra=()):
    addr = f"127.0.0.1:{free_port()}"
    p = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
         f"--web.listen-address={addr}", "--storage.tsdb.retention.time=100y", *extra],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    return p, addr


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def gen_window(path, series, t0):
    """OpenMetrics for one 2 h window: a counter per series."""
    with open(path, "w") as f:
        f.write("# TYPE bench_requests counter\n")
        for i in range(series):
            lab = f'bench_requests_total{{instance="host-{i % 200}",job="job-{i % 7}",series="{i}"}} '
            base = (t0 // STEP) * (i % 13 + 1)
            lines = []
            for k in range(WINDOW // STEP):
                t = t0 + k * STEP
                lines.append(f"{lab}{base + k * (i % 13 + 1)} {t}\n")
            f.write("".join(lines))
        f.write("# EOF\n")


def blocks_part(args, tmp, results):
    flint = args.flint
    windows = args.days * 24 * 3600 // WINDOW
    samples = args.series * windows * (WINDOW // STEP)
    # the Prometheus folder is kept in --work between runs (it takes long)
    work = args.work or tmp
    prom = os.path.join(work, f"prom-{args.series}x{args.days}d")
    t_gen = time.time()
    if not os.path.exists(os.path.join(prom, "wal")):
        gen = os.path.join(work, "gen")
        shutil.rmtree(gen, ignore_errors=True)
        shutil.rmtree(prom, ignore_errors=True)
        om = os.path.join(work, "window.om")
        end = int(time.time()) - 6 * 3600
        end -= end % WINDOW
        for w in range(windows):
            gen_window(om, args.series, end - (windows - w) * WINDOW)
            subprocess.run([flint, "tsdb", "create-blocks-from", "-q", "openmetrics", om, gen],
                           check=True)
            print(f"generated window {w + 1}/{windows}", file=sys.stderr, flush=True)
        os.remove(om)
        subprocess.run([flint, "tsdb", "export-prometheus", prom + ".tmp", gen], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(gen)
        os.makedirs(os.path.join(prom + ".tmp", "wal"), exist_ok=True)
        os.rename(prom + ".tmp", prom)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(prom) for f in fs)
    print(f"Prometheus folder: {samples} samples, {size} bytes, made in "
          f"{time.time() - t_gen:.0f} s", file=sys.stderr)
    cfg = os.path.join(tmp, "empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")

    # Prometheus on its folder (a copy: it may compact)
    pcopy = os.path.join(tmp, "prom-run")
    subprocess.run(["cp", "-al", prom, pcopy], check=True)
    p, addr = start_prometheus(pcopy, cfg, os.path.join(tmp, "prom.log"))
    p_secs, p_rss = wait_ready(p, addr)
    stop(p)
    shutil.rmtree(pcopy)

    # flint taking it over (hard links: the take-over only moves files)
    fdir = os.path.join(tmp, "flint-run")
    subprocess.run(["cp", "-al", prom, fdir], check=True)
    f, addr = start_flint(flint, fdir, cfg, os.path.join(tmp, "flint-blocks.log"),
                          ["--query.max-samples=2000000000", "--query.timeout=10m"])
    f_secs, f_rss = wait_ready(f, addr)
    print(f"flint ready after {f_secs:.2f} s, peak RSS {f_rss / 1024:.1f} MiB", file=sys.stderr,
          flush=True)
    held = query(addr, "sum(count_over_time(bench_requests_total[%dd]))" % (args.days + 1))
    stop(f)
    shutil.rmtree(fdir)
    if not args.work:
        shutil.rmtree(prom)
    results["blocks"] = {
        "series": args.series, "days": args.days, "samples": samples,
        "prometheus_folder_bytes": size,
        "flint_seconds": round(f_secs, 2), "flint_samples_per_s": round(samples / f_secs),
        "flint_peak_rss_mib": round(f_rss / 1024, 1), "flint_samples_held": int(held),
        "prometheus_open_seconds": round(p_secs, 2),
        "prometheus_peak_rss_mib": round(p_rss / 1024, 1),
    }


def wal_part(args, tmp, results):
    flint = args.flint
    pdata = os.path.join(tmp, "wal-prom")
    pcfg = os.path.join(tmp, "empty.yml")
    with open(pcfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    p, paddr = start_prometheus(pdata, pcfg, os.path.join(tmp, "wal-prom.log"),
                                ["--web.enable-remote-write-receiver"])
    wait_ready(p, paddr)
    # a flint that forwards what it is given
    fcfg = os.path.join(tmp, "sender.yml")
    with open(fcfg, "w") as f:
        f.write(f"global:\n  scrape_interval: 1h\nremote_write:\n"
                f"  - url: http://{paddr}/api/v1/write\n")
    s, saddr = start_flint(flint, os.path.join(tmp, "sender"), fcfg,
                           os.path.join(tmp, "sender.log"),
                           ["--web.enable-remote-write-receiver"])
    wait_ready(s, saddr)
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - 3600 * 1000
    per_post = 20
    points = 3600 // STEP
    for k0 in range(0, points, per_post):
        lines = []
        for i in range(args.wal_series):
            lab = f'bench_wal{{job="job-{i % 7}",series="{i}"}} '
            for k in range(k0, min(points, k0 + per_post)):
                lines.append(f"{lab}{i + k} {start_ms + k * STEP * 1000}\n")
        req = urllib.request.Request(f"http://{saddr}/api/v1/import/prometheus",
                                     data="".join(lines).encode(), method="POST")
        urllib.request.urlopen(req, timeout=120).read()
    samples = args.wal_series * points
    deadline = time.time() + 600
    while time.time() < deadline:
        if query(paddr, "sum(count_over_time(bench_wal[2h]))") >= samples:
            break
        time.sleep(1)
    else:
        raise RuntimeError("Prometheus did not receive every sample")
    stop(s)
    stop(p, signal.SIGKILL)
    wal_bytes = sum(os.path.getsize(os.path.join(d, f))
                    for d, _, fs in os.walk(os.path.join(pdata, "wal")) for f in fs)

    # (a) Prometheus replays its log
    pcopy = os.path.join(tmp, "wal-prom-replay")
    subprocess.run(["cp", "-a", pdata, pcopy], check=True)
    log = os.path.join(tmp, "wal-replay.log")
    p, paddr = start_prometheus(pcopy, pcfg, log)
    p_secs, p_rss = wait_ready(p, paddr)
    stop(p)
    text = open(log).read()
    m = re.search(r'msg="WAL replay completed".*?total_replay_duration=([0-9.a-zµ]+)', text)
    replay = m.group(1) if m else "?"

    # (b) flint takes the same folder over
    fcopy = os.path.join(tmp, "wal-flint")
    subprocess.run(["cp", "-a", pdata, fcopy], check=True)
    f, faddr = start_flint(flint, fcopy, pcfg, os.path.join(tmp, "wal-flint.log"))
    f_secs, f_rss = wait_ready(f, faddr)
    held = query(faddr, "sum(count_over_time(bench_wal[2h]))")
    stop(f)
    results["wal"] = {
        "series": args.wal_series, "samples": samples, "wal_bytes": wal_bytes,
        "prometheus_ready_seconds": round(p_secs, 2),
        "prometheus_total_replay_duration": replay,
        "prometheus_peak_rss_mib": round(p_rss / 1024, 1),
        "flint_seconds": round(f_secs, 2), "flint_samples_per_s": round(samples / f_secs),
        "flint_peak_rss_mib": round(f_rss / 1024, 1), "flint_samples_held": int(held),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--wal-series", type=int, default=10000)
    ap.add_argument("--flint", default=os.path.join(ROOT, "target", "release", "flint"))
    ap.add_argument("--parts", default="blocks,wal")
    ap.add_argument("--work", help="folder that keeps the generated Prometheus blocks between runs")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        if "wal" in args.parts:
            wal_part(args, tmp, results)
            print(json.dumps(results["wal"], indent=1), flush=True)
        if "blocks" in args.parts:
            blocks_part(args, tmp, results)
            print(json.dumps(results["blocks"], indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
