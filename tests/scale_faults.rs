//! At scale, under faults (`--ignored`: the test command runs them after
//! the other tests, on their own): a million series (100,000 in a debug
//! build, the test command's; `FLINT_SCALE_SERIES` sets another
//! count) imported hour by hour over 10 h of sample time, so that the
//! head cuts four 2 h blocks and merges three of them, with `kill -9`
//! while each of those blocks is being written; and a disk that fills up
//! just as the head is to cut a block. Every acknowledged sample reads
//! back, once; no half-written block is left visible; restart times are
//! printed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{now_secs, Server};

const HOUR: i64 = 3_600_000;
const HOURS: i64 = 10;
const FLAGS: &[&str] = &["--web.enable-remote-write-receiver"];
/// Series per import request.
const BATCH: usize = 200_000;

/// A million series with an optimized build; 100,000 with a debug build
/// (the test command's), whose server is several times slower.
fn series_count() -> usize {
    std::env::var("FLINT_SCALE_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        })
}

/// The first sample's time: on a 6 h boundary (where a merged block
/// starts), the last of the 10 hours at least an hour ago.
fn first_time() -> i64 {
    let now = now_secs() as i64 * 1000;
    (now - (HOURS + 1) * HOUR).div_euclid(6 * HOUR) * (6 * HOUR)
}

fn value(i: usize, k: i64) -> i64 {
    (i as i64 % 1000) * 10 + k
}

/// Series `lo..hi` at hour `k`, in the text format with timestamps.
fn batch(lo: usize, hi: usize, k: i64, t0: i64) -> Vec<u8> {
    let mut out = String::with_capacity((hi - lo) * 80);
    let t = t0 + k * HOUR;
    for i in lo..hi {
        out.push_str(&format!(
            "bench_scale{{id=\"{i}\",instance=\"host{}:9100\",job=\"job{}\"}} {} {t}\n",
            i / 100,
            i % 100,
            value(i, k)
        ));
    }
    out.into_bytes()
}

/// POSTs an import body; `None` when the server went away.
fn import(addr: &str, body: &[u8]) -> Option<u16> {
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    let head = format!(
        "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // a refusal may come before the whole body is sent: read it anyway
    let _ = c
        .write_all(head.as_bytes())
        .and_then(|()| c.write_all(body));
    let mut r = String::new();
    let _ = c.read_to_string(&mut r);
    r.split_whitespace().nth(1)?.parse().ok()
}

/// The complete blocks of a data folder (not those being written), as
/// `(minTime, maxTime)`.
fn blocks(data: &Path) -> BTreeSet<(i64, i64)> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(data).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().ends_with(".tmp") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join("meta.json")) else {
            continue;
        };
        let Ok(m) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let (Some(a), Some(b)) = (m["minTime"].as_i64(), m["maxTime"].as_i64()) {
            out.insert((a, b));
        }
    }
    out
}

/// The block folders being written (`<id>.tmp`).
fn tmp_blocks(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.len() == 30 && f.ends_with(".tmp"))
        })
        .collect()
}

/// What the folder must hold once nothing is being written: no block
/// half-written, every block folder whole.
fn check_folder(data: &Path) {
    assert_eq!(
        tmp_blocks(data),
        Vec::<PathBuf>::new(),
        "a half-written block is visible"
    );
    for e in std::fs::read_dir(data).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.len() == 26 && e.path().is_dir() {
            for f in ["meta.json", "index", "chunks"] {
                assert!(e.path().join(f).exists(), "block {name} lacks {f}");
            }
        }
    }
}

/// Checks that every series holds hours `0..hours` exactly.
fn check_samples(s: &Server, n: usize, t0: i64, hours: i64) {
    let at = (t0 + hours * HOUR) as f64 / 1000.0;
    let q = |e: &str| {
        let (code, v) = s.api(&format!(
            "/api/v1/query?query={}&time={at}",
            crate::common::enc(e)
        ));
        assert_eq!(code, 200, "{e}: {v}");
        v["data"]["result"]
            .as_array()
            .and_then(|r| r.first())
            .map(|x| crate::common::parse_value(&x["value"][1]))
    };
    let range = format!("{}h", hours + 1);
    let total = q(&format!("sum(count_over_time(bench_scale[{range}]))"));
    if total != Some((n as i64 * hours) as f64) {
        // which hours are short, and whether a second look differs
        let by_hour: Vec<_> = (0..hours)
            .map(|k| {
                let (code, v) = s.api(&format!(
                    "/api/v1/query?query={}&time={}",
                    crate::common::enc("count(last_over_time(bench_scale[1h]))"),
                    (t0 + k * HOUR + HOUR / 2) as f64 / 1000.0
                ));
                (k, code, v["data"]["result"][0]["value"][1].clone())
            })
            .collect();
        std::thread::sleep(Duration::from_secs(3));
        let again = q(&format!("sum(count_over_time(bench_scale[{range}]))"));
        println!("short: {total:?}; by hour: {by_hour:?}; again 3 s later: {again:?}");
    }
    assert_eq!(total, Some((n as i64 * hours) as f64), "samples read back");
    let off = q(&format!(
        "count(count_over_time(bench_scale[{range}]) != {hours})"
    ));
    assert_eq!(off, None, "series without exactly {hours} samples");
    let want: i64 = (0..n)
        .map(|i| (0..hours).map(|k| value(i, k)).sum::<i64>())
        .sum();
    let sum = q(&format!("sum(sum_over_time(bench_scale[{range}]))"));
    assert_eq!(sum, Some(want as f64), "the values read back");
}

/// A kill: the blocks on disk then, and whether it found a block
/// half-written.
type Kill = (BTreeSet<(i64, i64)>, bool);

/// A server whose pid a watcher may kill, restarted when it dies.
struct Restarting {
    dir: PathBuf,
    server: Option<Server>,
    pid: Arc<AtomicU32>,
    restarts: Vec<Duration>,
}

impl Restarting {
    fn start(dir: &Path) -> Restarting {
        let s = Server::start(dir, "", FLAGS);
        let pid = Arc::new(AtomicU32::new(s.child.id()));
        Restarting {
            dir: dir.to_path_buf(),
            server: Some(s),
            pid,
            restarts: Vec::new(),
        }
    }

    fn addr(&self) -> String {
        self.server.as_ref().expect("running").addr.clone()
    }

    /// Whether the process has died (killed); then it is started again.
    fn revive(&mut self) -> bool {
        let s = self.server.as_mut().expect("running");
        if s.child.try_wait().ok().flatten().is_none() {
            return false;
        }
        drop(self.server.take());
        // the blocks the killed server was writing: gone once the new one
        // is ready (which may start writing a block of its own)
        let data = self.dir.join("data");
        let half_written = tmp_blocks(&data);
        let t = Instant::now();
        let s = Server::start(&self.dir, "", FLAGS);
        self.restarts.push(t.elapsed());
        let left: Vec<&PathBuf> = half_written.iter().filter(|p| p.exists()).collect();
        assert!(
            left.is_empty(),
            "a half-written block is left visible: {left:?}"
        );
        self.pid.store(s.child.id(), Ordering::SeqCst);
        self.server = Some(s);
        true
    }

    /// Imports hour `k` of series `0..n`, again after each kill until
    /// acknowledged.
    fn import_hour(&mut self, n: usize, k: i64, t0: i64) {
        for lo in (0..n).step_by(BATCH) {
            let body = batch(lo, (lo + BATCH).min(n), k, t0);
            for attempt in 0.. {
                assert!(attempt < 20, "import of hour {k} failed 20 times");
                match import(&self.addr(), &body) {
                    Some(204) | Some(200) => break,
                    Some(code) if code < 500 => panic!("import refused with {code}"),
                    _ => {
                        // killed (or 5xx): wait for the death, start again
                        let deadline = Instant::now() + Duration::from_secs(10);
                        while !self.revive() && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[ignore = "minutes of load that would make other tests' timing flaky: the test command runs them after the others, alone (`cargo test -p flint --test integration -- --ignored scale_faults`; with `--release`, a million series)"]
fn kill_9_while_blocks_are_cut_and_merged_at_scale() {
    let n = series_count();
    let dir = tempfile::tempdir().unwrap();
    let t0 = first_time();
    let mut srv = Restarting::start(dir.path());
    let data = srv.server.as_ref().unwrap().data.clone();
    // the watcher: once for each state of the folder's blocks, a block
    // being written is killed, a little later each time
    let stop = Arc::new(AtomicBool::new(false));
    let kills: Arc<Mutex<Vec<Kill>>> = Arc::default();
    let watcher = {
        let (data, pid, stop, kills) = (
            data.clone(),
            Arc::clone(&srv.pid),
            Arc::clone(&stop),
            Arc::clone(&kills),
        );
        std::thread::spawn(move || {
            let mut done: BTreeSet<BTreeSet<(i64, i64)>> = BTreeSet::new();
            // cutting [0, 2 h), [2, 4 h), [4, 6 h), merging, cutting [6, 8 h)
            let delays = [0u64, 150, 40, 0, 80];
            while !stop.load(Ordering::SeqCst) {
                // the blocks before the block being written: read first, so
                // that a block renamed into place in between is not counted
                let state = blocks(&data);
                let tmp = tmp_blocks(&data);
                if !tmp.is_empty() && done.insert(state.clone()) {
                    let d = delays[(done.len() - 1) % delays.len()];
                    std::thread::sleep(Duration::from_millis(d));
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.load(Ordering::SeqCst).to_string()])
                        .status();
                    // whether the kill found the block still half-written
                    std::thread::sleep(Duration::from_millis(20));
                    let mid = tmp.iter().any(|p| p.exists());
                    kills.lock().unwrap().push((state, mid));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // hours 0-3 make the head span 3 h: it cuts [0, 2 h); 4-5: [2, 4 h);
    // 6-7: [4, 6 h), then the three are merged; 8-9: [6, 8 h)
    let b = |a: i64, z: i64| (t0 + a * HOUR, t0 + z * HOUR);
    let stages = [
        (0, 4, vec![b(0, 2)]),
        (4, 6, vec![b(0, 2), b(2, 4)]),
        (6, 8, vec![b(0, 6)]),
        (8, 10, vec![b(0, 6), b(6, 8)]),
    ];
    let started = Instant::now();
    for (from, to, want) in stages {
        for k in from..to {
            srv.import_hour(n, k, t0);
        }
        let want: BTreeSet<(i64, i64)> = want.into_iter().collect();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            srv.revive();
            if blocks(&data) == want && tmp_blocks(&data).is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "blocks after hours {from}..{to}: {:?}, want {want:?}",
                blocks(&data)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    srv.revive();
    let elapsed = started.elapsed();
    let s = srv.server.take().unwrap();
    check_folder(&data);
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_samples(&s, n, t0, HOURS)
    }));
    if let Err(e) = checked {
        println!(
            "kills: {:?}\nserver log:\n{}",
            kills.lock().unwrap(),
            s.log_text()
        );
        std::panic::resume_unwind(e);
    }
    let kills = kills.lock().unwrap().clone();
    println!(
        "{n} series, {} samples in {elapsed:.1?}; kills (blocks on disk, block half-written): {kills:?}; restarts to ready: {:?}",
        n as i64 * HOURS,
        srv.restarts
    );
    assert_eq!(kills.len(), 5, "one kill for each block written: {kills:?}");
    let parts = BTreeSet::from([b(0, 2), b(2, 4), b(4, 6)]);
    assert!(
        kills.iter().any(|(state, mid)| *state == parts && *mid),
        "no kill while the three blocks were merged: {kills:?}"
    );
    assert!(
        kills.iter().any(|(state, mid)| *state != parts && *mid),
        "no kill while the head cut a block: {kills:?}"
    );
    // and once more after a clean stop
    s.stop();
    let s = Server::start(dir.path(), "", FLAGS);
    check_folder(&data);
    check_samples(&s, n, t0, HOURS);
}

/// Unmounts a file system when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Bytes free on the file system holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df's answer")
}

#[test]
#[ignore = "minutes of load that would make other tests' timing flaky: the test command runs them after the others, alone (`cargo test -p flint --test integration -- --ignored scale_faults`; with `--release`, a million series)"]
fn a_disk_filling_up_as_a_block_is_cut_at_scale() {
    let n = series_count();
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs");
    std::fs::create_dir(&fs).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8g", "tmpfs"])
        .arg(&fs)
        .output();
    let _fs = match mounted {
        Ok(o) if o.status.success() => Mounted(fs.clone()),
        Ok(o) => {
            println!(
                "skipped: cannot mount a small file system to fill: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("skipped: cannot run mount: {e}");
            return;
        }
    };
    let t0 = first_time();
    let mut srv = Restarting::start(&fs);
    let data = fs.join("data");
    // hours 0-2: the head spans 2 h, no block yet
    for k in 0..3 {
        srv.import_hour(n, k, t0);
    }
    assert!(blocks(&data).is_empty());
    // the disk filled to within a little of full: room for an hour's
    // samples in the journal, not for a block of the series
    let margin = n as u64 * 24;
    let filler = fs.join("filler");
    let fill = free_bytes(&fs).saturating_sub(margin);
    let st = std::process::Command::new("fallocate")
        .args(["-l", &fill.to_string()])
        .arg(&filler)
        .status()
        .expect("fallocate");
    assert!(st.success());
    // hour 3 makes the head span 3 h: the block [0, 2 h) cannot be written
    let mut acked = 0;
    for lo in (0..n).step_by(BATCH) {
        let body = batch(lo, (lo + BATCH).min(n), 3, t0);
        if matches!(import(&srv.addr(), &body), Some(200 | 204)) {
            acked += 1;
        }
    }
    let s = srv.server.as_ref().unwrap();
    s.eventually(120, "a failed compaction logged", || {
        s.log_text().contains("Compaction failed")
    });
    let alive = srv
        .server
        .as_mut()
        .unwrap()
        .child
        .try_wait()
        .unwrap()
        .is_none();
    assert!(alive, "flint stopped on a full disk");
    let s = srv.server.as_ref().unwrap();
    check_folder(&data);
    assert!(blocks(&data).is_empty(), "{:?}", blocks(&data));
    let hours = if acked == n.div_ceil(BATCH) { 4 } else { 3 };
    println!(
        "with the disk full: hour 3 acknowledged for {acked} of {} requests",
        n.div_ceil(BATCH)
    );
    check_samples(s, n, t0, hours);
    // killed while the disk is full, started again on it
    let pid = srv.pid.load(Ordering::SeqCst);
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    wait_dead(&mut srv);
    check_samples(srv.server.as_ref().unwrap(), n, t0, hours);
    // room again: the block is written at the next attempt
    std::fs::remove_file(&filler).unwrap();
    if hours == 3 {
        srv.import_hour(n, 3, t0);
    }
    let s = srv.server.as_ref().unwrap();
    s.eventually(120, "the block written once there is room", || {
        blocks(&data) == BTreeSet::from([(t0, t0 + 2 * HOUR)])
    });
    check_folder(&data);
    check_samples(s, n, t0, 4);
    let failed: Vec<String> = s
        .log_text()
        .lines()
        .filter(|l| l.contains("Compaction failed"))
        .map(str::to_string)
        .collect();
    println!(
        "{n} series; restart on the full disk: {:?}; after the restart: {failed:?}",
        srv.restarts
    );
}

/// Waits until the killed server has died and has been started again.
fn wait_dead(srv: &mut Restarting) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.revive() {
        assert!(Instant::now() < deadline, "the server did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
}
