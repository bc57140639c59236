//! The container image, the compose file and the promtool link: the
//! image's runtime stage (`Dockerfile`) is run as the image would run it —
//! its entrypoint and default arguments, its paths under a temporary root,
//! as user 65534 with an empty environment — since no container engine
//! runs on every machine the tests run on; `docker-compose.yml` is checked
//! against the prom/prometheus setup it replaces.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, free_port, http_get};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The instructions of the Dockerfile's last stage, as (keyword, rest).
fn runtime_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    lines[last_from..]
        .iter()
        .map(|l| {
            let (k, r) = l.split_once(char::is_whitespace).unwrap();
            (k.to_string(), r.trim().to_string())
        })
        .collect()
}

fn instruction(stage: &[(String, String)], k: &str) -> String {
    stage
        .iter()
        .find(|(kk, _)| kk == k)
        .unwrap_or_else(|| panic!("no {k} in the runtime stage"))
        .1
        .clone()
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn image_runtime_stage_runs_as_nobody_from_its_paths() {
    let stage = runtime_stage();
    assert_eq!(instruction(&stage, "FROM"), "scratch");
    assert_eq!(instruction(&stage, "USER"), "nobody");
    assert_eq!(instruction(&stage, "EXPOSE"), "9090");
    assert_eq!(
        json_list(&instruction(&stage, "VOLUME")),
        vec!["/prometheus"]
    );
    assert_eq!(instruction(&stage, "WORKDIR"), "/prometheus");
    let entry = json_list(&instruction(&stage, "ENTRYPOINT"));
    assert_eq!(entry, vec!["/bin/prometheus"]);
    let cmd = json_list(&instruction(&stage, "CMD"));
    assert_eq!(
        &cmd[..2],
        &[
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus"
        ]
    );
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    for needed in [
        "ln -s prometheus /root-fs/bin/flint",
        "ln -s prometheus /root-fs/bin/promtool",
        "nobody:x:65534:65534",
        "chown -R 65534:65534",
        "+crt-static",
    ] {
        assert!(dockerfile.contains(needed), "{needed}");
    }
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target"), "{ignore}");

    if Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("a Docker engine runs here: `docker build .` is left to the release process");
    } else {
        println!(
            "SKIP packaging::docker build: no container engine runs here; \
             the runtime stage is run from a temporary root instead"
        );
    }
    if !nix_root() {
        println!("SKIP packaging::image_runtime_stage as user 65534: not running as root");
        return;
    }

    // the image's root, as the build stage lays it out
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["bin", "etc/prometheus", "prometheus"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(bin(), root.join("bin/prometheus")).unwrap();
    std::os::unix::fs::symlink("prometheus", root.join("bin/promtool")).unwrap();
    std::os::unix::fs::symlink("prometheus", root.join("bin/flint")).unwrap();
    let port = free_port();
    // the default configuration, its self-scrape pointed at this port
    let cfg = std::fs::read_to_string(repo().join("contrib/prometheus.yml"))
        .unwrap()
        .replace("localhost:9090", &format!("127.0.0.1:{port}"));
    std::fs::write(root.join("etc/prometheus/prometheus.yml"), cfg).unwrap();
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(root.join("etc/prometheus"))
        .arg(root.join("prometheus"))
        .status()
        .unwrap();
    let rooted = |arg: &str| -> String {
        match arg.split_once("=/") {
            Some((flag, path)) => format!("{flag}={}/{path}", root.display()),
            None => arg.to_string(),
        }
    };
    let mut args: Vec<String> = cmd.iter().map(|a| rooted(a)).collect();
    args.push(format!("--web.listen-address=127.0.0.1:{port}"));
    let as_nobody = |exe: &Path| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe)
            .env_clear()
            .current_dir(root.join("prometheus"));
        c
    };
    let log = root.join("log");
    let mut child = as_nobody(&root.join("bin/prometheus"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut up = false;
    while Instant::now() < deadline && !up {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok((200, body)) = http_get(&addr, "/api/v1/query?query=up") {
            up = body.contains(r#""job":"prometheus""#) && body.contains(r#""1"]"#);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(up, "not scraping itself as nobody:\n{log_text}");
    assert!(
        log_text.contains("console"),
        "the console flags are accepted and named as doing nothing:\n{log_text}"
    );
    // what it wrote belongs to 65534, as an existing volume's files do
    use std::os::unix::fs::MetadataExt;
    let series = std::fs::metadata(root.join("prometheus/series")).unwrap();
    assert_eq!((series.uid(), series.gid()), (65534, 65534));
    // promtool's commands through the link
    let out = as_nobody(&root.join("bin/promtool"))
        .args(["check", "config"])
        .arg(root.join("etc/prometheus/prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS"));
    let out = as_nobody(&root.join("bin/promtool"))
        .args(["tsdb", "list"])
        .arg(root.join("prometheus"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("BLOCK ULID"));
    let out = as_nobody(&root.join("bin/promtool"))
        .args(["query", "instant", "http://x", "up"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("check, test and tsdb"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn nix_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn compose_file_is_the_prometheus_setup_with_flint() {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let services = &doc["services"];
    for s in ["app", "prometheus", "grafana", "alertmanager"] {
        assert!(services.get(s).is_some(), "service {s}");
    }
    let p = &services["prometheus"];
    assert_eq!(p["build"].as_str(), Some("."));
    let strs = |v: &serde_yaml::Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let volumes = strs(&p["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|v| v.contains(":/etc/prometheus/prometheus.yml")),
        "{volumes:?}"
    );
    assert!(volumes.contains(&"prometheus-data:/prometheus".to_string()));
    let command = strs(&p["command"]);
    assert_eq!(
        &command[..2],
        &[
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus"
        ]
    );
    assert_eq!(strs(&p["ports"]), vec!["9090:9090"]);
    assert_eq!(strs(&services["app"]["ports"]), vec!["8000:8000"]);
    assert!(doc["volumes"].get("prometheus-data").is_some());
    // the configuration it mounts scrapes the app every 5 s and is valid
    let mounted = volumes
        .iter()
        .find(|v| v.ends_with(":/etc/prometheus/prometheus.yml:ro"))
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let cfg_path = repo().join(mounted.trim_start_matches("./"));
    let cfg: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    let job = &cfg["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some("sample"));
    assert_eq!(job["scrape_interval"].as_str(), Some("5s"));
    assert_eq!(
        job["static_configs"][0]["targets"][0].as_str(),
        Some("app:8000")
    );
    let out = Command::new(bin())
        .args(["check", "config"])
        .arg(&cfg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Grafana's provisioned data source points at the service
    let ds = std::fs::read_to_string(repo().join("contrib/grafana/datasource.yml")).unwrap();
    let ds: serde_yaml::Value = serde_yaml::from_str(&ds).unwrap();
    assert_eq!(ds["datasources"][0]["type"].as_str(), Some("prometheus"));
    assert_eq!(
        ds["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
    // the systemd unit reloads by SIGHUP and logs to the journal
    let unit = std::fs::read_to_string(repo().join("contrib/flint.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("--storage.tsdb.path="));
    assert!(!unit.contains("StandardOutput=file"));
}
