//! Evaluation, alert state, notifier and API tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tsdb::labels::{Labels, Matcher};
use tsdb::read::{Queryable, SampleIterator as _};

use super::alerting::{AlertEnv, AlertState, AlertingState, OutAlert};
use super::file::{parse_rules, GroupDef};
use super::group::{xxh64, Group};
use super::manager::{Manager, ManagerOptions};
use super::notifier::{AlertingConfig, Notifier};
use crate::api::rules::{alertmanagers_json, alerts_json, rules_json, RulesFilter};

const MIN: i64 = 60 * 1_000_000_000;

fn group(src: &str) -> GroupDef {
    parse_rules("f.yml", src).unwrap().remove(0)
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

#[test]
fn xxh64_vectors() {
    assert_eq!(xxh64(b""), 0xEF46DB3751D8E999);
    assert_eq!(xxh64(b"a"), 0xd24ec4f1a98c6e5b);
    assert_eq!(xxh64(b"abc"), 0x44BC2CF5AD770999);
    assert_eq!(
        xxh64(b"Nobody inspects the spammish repetition"),
        0xfbcea83c8a378bf1
    );
}

#[test]
fn eval_timestamps_are_slotted_by_group_hash() {
    let g = Group::new(
        group("groups:\n- name: g\n  rules: []\n"),
        Duration::from_secs(60),
        true,
    );
    let iv = 60_000_000_000i64;
    let offset = (g.hash() % iv as u64) as i64;
    for start in [
        1_700_000_000_123_456_789i64,
        1_700_000_033_000_000_000,
        offset + 10 * iv,
    ] {
        let ts = g.eval_timestamp(start);
        assert!(ts <= start && start < ts + iv);
        assert_eq!(ts.rem_euclid(iv), offset);
    }
}

fn no_query(_: &str) -> Result<Vec<gotemplate::Sample>, String> {
    Ok(Vec::new())
}

const ALERT: &str = r#"
groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 2m
    keep_firing_for: 1m
    labels:
      severity: page
      instance_copy: "{{ $labels.instance }}"
    annotations:
      summary: "{{ $labels.instance }} down, value {{ $value }}"
"#;

#[test]
fn alert_goes_pending_firing_kept_then_resolved() {
    let def = group(ALERT);
    let rule = &def.rules[0];
    let ext = ls(&[("cluster", "eu1")]);
    let env = AlertEnv {
        external_labels: &ext,
        external_url: "http://flint:9090",
        query: &no_query,
    };
    let mut st = AlertingState {
        active: HashMap::new(),
        restored: true,
    };
    let v = || vec![(ls(&[("__name__", "up"), ("instance", "a")]), 0.0)];
    let t0 = 1_000 * MIN;
    let out = st.eval(rule, v(), t0, 0, 0, &env).unwrap();
    assert_eq!(st.state(), AlertState::Pending);
    let alerts = st.active_alerts();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        a.labels,
        ls(&[
            ("alertname", "Down"),
            ("instance", "a"),
            ("instance_copy", "a"),
            ("severity", "page")
        ])
    );
    assert_eq!(a.annotations.get("summary"), Some("a down, value 0"));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0.get("__name__"), Some("ALERTS"));
    assert_eq!(out[0].0.get("alertstate"), Some("pending"));
    assert_eq!(out[0].1, t0 / 1_000_000);
    assert_eq!(out[1].0.get("__name__"), Some("ALERTS_FOR_STATE"));
    assert_eq!(out[1].2, (t0 / 1_000_000_000) as f64);
    // pending alerts are not sent
    assert!(st.to_send(t0, MIN, MIN, "u").is_empty());

    st.eval(rule, v(), t0 + MIN, 0, 0, &env).unwrap();
    assert_eq!(st.state(), AlertState::Pending);
    let out = st.eval(rule, v(), t0 + 2 * MIN, 0, 0, &env).unwrap();
    assert_eq!(st.state(), AlertState::Firing);
    assert_eq!(out[0].0.get("alertstate"), Some("firing"));
    let sent = st.to_send(t0 + 2 * MIN, MIN, MIN, "http://x/graph");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ms, (t0 + 2 * MIN) / 1_000_000);
    assert_eq!(sent[0].ends_at_ms, (t0 + 2 * MIN + 4 * MIN) / 1_000_000);
    // not re-sent before the resend delay
    assert!(st.to_send(t0 + 2 * MIN + 1, MIN, MIN, "u").is_empty());

    // condition gone: keep_firing_for keeps it firing for 1m
    let out = st.eval(rule, vec![], t0 + 3 * MIN, 0, 0, &env).unwrap();
    assert_eq!(st.state(), AlertState::Firing);
    assert_eq!(out.len(), 2);
    assert!(st.active_alerts()[0].keep_firing_since.is_some());
    let out = st.eval(rule, vec![], t0 + 4 * MIN, 0, 0, &env).unwrap();
    assert!(out.is_empty());
    assert_eq!(st.state(), AlertState::Inactive);
    assert!(st.active_alerts().is_empty());
    let sent = st.to_send(t0 + 4 * MIN, MIN, MIN, "u");
    assert_eq!(sent.len(), 1, "resolved alerts are sent");
    assert_eq!(sent[0].ends_at_ms, (t0 + 4 * MIN) / 1_000_000);
    // kept for the resolved retention, then forgotten
    st.eval(rule, vec![], t0 + 10 * MIN, 0, 0, &env).unwrap();
    assert_eq!(st.active.len(), 1);
    st.eval(rule, vec![], t0 + 20 * MIN, 0, 0, &env).unwrap();
    assert!(st.active.is_empty());
}

#[test]
fn pending_alert_that_clears_is_dropped_and_limit_applies() {
    let def = group(ALERT);
    let rule = &def.rules[0];
    let ext = Labels::empty();
    let env = AlertEnv {
        external_labels: &ext,
        external_url: "",
        query: &no_query,
    };
    let mut st = AlertingState {
        active: HashMap::new(),
        restored: false,
    };
    let two = vec![
        (ls(&[("instance", "a")]), 0.0),
        (ls(&[("instance", "b")]), 0.0),
    ];
    let out = st.eval(rule, two.clone(), MIN, 0, 0, &env).unwrap();
    assert!(
        out.is_empty(),
        "no ALERTS series before the for state is restored"
    );
    st.eval(rule, vec![], 2 * MIN, 0, 0, &env).unwrap();
    assert!(st.active.is_empty());
    let err = st.eval(rule, two, 3 * MIN, 0, 1, &env).unwrap_err();
    assert_eq!(err.to_string(), "exceeded limit of 1 with 2 alerts");
    assert!(st.active.is_empty());
}

#[test]
fn for_state_is_restored() {
    let mut st = AlertingState::default();
    let labels = ls(&[("alertname", "A")]);
    let a = super::alerting::Alert {
        state: AlertState::Pending,
        labels: labels.clone(),
        annotations: Labels::empty(),
        value: 1.0,
        active_at: 300 * 1_000_000_000,
        fired_at: None,
        resolved_at: None,
        last_sent_at: None,
        valid_until: None,
        keep_firing_since: None,
    };
    st.active.insert(labels.clone(), a);
    let mut last = HashMap::new();
    // active since 50s, down at 100s; now 300s; for 10m, grace 1m
    last.insert(labels.clone(), (100_000i64, 50.0));
    let s = 1_000_000_000i64;
    st.restore(600 * s, &last, 300 * s, 60 * s);
    assert!(st.restored);
    assert_eq!(st.active[&labels].active_at, 250 * s);
    // little time left: pushed out to the grace period
    last.insert(labels.clone(), (640_000i64, 50.0));
    st.restore(600 * s, &last, 700 * s, 60 * s);
    assert_eq!(st.active[&labels].active_at, 700 * s + 60 * s - 600 * s);
}

fn open_db() -> (tempfile::TempDir, Arc<tsdb::Db>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap());
    (dir, db)
}

fn add(db: &tsdb::Db, l: &Labels, t_ms: i64, v: f64) {
    let mut app = db.appender();
    app.append_labels(l, t_ms, v).unwrap();
    app.commit().unwrap();
}

fn instant(db: &tsdb::Db, q: &str, t_ms: i64) -> Vec<(Labels, f64)> {
    let e = promql::Engine::new(promql::EngineOptions::default());
    match e
        .instant_query(db as &dyn Queryable, q, t_ms)
        .unwrap()
        .value
    {
        promql::Value::Vector(v) => v.into_iter().map(|s| (s.metric, s.v)).collect(),
        other => panic!("{other:?}"),
    }
}

const CHAIN: &str = r#"
groups:
- name: chain
  rules:
  - record: job:x:sum
    expr: sum(x)
    labels:
      src: rule
  - record: job:x:double
    expr: job:x:sum * 2
  - record: x:big
    expr: x > 1.5
  - alert: TooBig
    expr: job:x:double > 5
    annotations:
      v: "{{ $value }}"
"#;

#[test]
fn recording_rules_chain_and_mark_stale() {
    let (_dir, db) = open_db();
    let opts = ManagerOptions {
        external_labels: ls(&[("cluster", "eu1")]),
        external_url: "http://flint:9090".into(),
        ..Default::default()
    };
    let m = Manager::new(db.clone(), opts);
    let g = Group::new(group(CHAIN), Duration::from_secs(60), true);
    let (xa, xb) = (
        ls(&[("__name__", "x"), ("job", "a")]),
        ls(&[("__name__", "x"), ("job", "b")]),
    );
    let t1 = 1_000_000i64;
    add(&db, &xa, t1, 1.0);
    add(&db, &xb, t1, 2.0);
    m.eval_group_at(&g, t1 * 1_000_000);
    for r in &g.rules {
        let st = r.status.lock();
        assert_eq!(
            st.health,
            super::group::Health::Good,
            "{}: {:?}",
            r.def.name,
            st.last_error
        );
    }
    assert_eq!(
        instant(&db, "job:x:sum", t1),
        vec![(ls(&[("__name__", "job:x:sum"), ("src", "rule")]), 3.0)]
    );
    // the second rule saw the first one's output at the same timestamp
    assert_eq!(
        instant(&db, "job:x:double", t1),
        vec![(ls(&[("__name__", "job:x:double"), ("src", "rule")]), 6.0)]
    );
    assert_eq!(
        instant(&db, "x:big", t1),
        vec![(ls(&[("__name__", "x:big"), ("job", "b")]), 2.0)]
    );
    let alerts = instant(&db, "ALERTS", t1);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0.get("alertstate"), Some("firing"));
    assert_eq!(alerts[0].0.get("alertname"), Some("TooBig"));
    assert_eq!(
        instant(&db, "ALERTS_FOR_STATE", t1)[0].1,
        (t1 / 1000) as f64
    );
    assert_eq!(
        m.notifier().queue_len(),
        1,
        "firing alert queued for Alertmanager"
    );

    // x{job="b"} drops below the threshold: x:big{job="b"} gets a stale marker
    let t2 = t1 + 60_000;
    add(&db, &xa, t2, 1.0);
    add(&db, &xb, t2, 1.0);
    m.eval_group_at(&g, t2 * 1_000_000);
    assert!(instant(&db, "x:big", t2).is_empty());
    let q = db.querier(t2, t2).unwrap();
    let mut s = q.select(&[Matcher::equal("__name__", "x:big")]).unwrap();
    let (t, v) = s[0].samples.next().unwrap();
    assert_eq!(t, t2);
    assert!(tsdb::is_stale_nan(v));
    // the alert resolved, so ALERTS went stale too
    assert!(instant(&db, "ALERTS", t2).is_empty());
    assert_eq!(m.notifier().queue_len(), 2, "resolved alert queued");

    // API JSON
    let groups = vec![Arc::new(g)];
    let json = rules_json(&groups, &RulesFilter::default()).unwrap();
    assert!(
        json.starts_with(r#"{"groups":[{"name":"chain","file":"f.yml","rules":[{"name":"job:x:sum","query":"sum(x)","labels":{"src":"rule"},"health":"ok","evaluationTime":"#),
        "{json}"
    );
    assert!(json.contains(r#""type":"recording"}"#), "{json}");
    assert!(
        json.contains(r#"{"state":"inactive","name":"TooBig","query":"job:x:double > 5","duration":0,"keepFiringFor":0,"labels":{},"annotations":{"v":"{{ $value }}"},"alerts":[],"health":"ok","evaluationTime":"#),
        "{json}"
    );
    assert!(
        json.contains(r#""interval":60,"limit":0,"evaluationTime":"#),
        "{json}"
    );
    let only_alerts = rules_json(
        &groups,
        &RulesFilter {
            typ: Some("alert".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!only_alerts.contains("recording"), "{only_alerts}");
    let none = rules_json(
        &groups,
        &RulesFilter {
            group_names: vec!["other".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(none, r#"{"groups":[]}"#);
    let named = rules_json(
        &groups,
        &RulesFilter {
            rule_names: vec!["x:big".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(named.matches("\"name\":").count(), 2, "{named}");
    assert_eq!(
        rules_json(
            &groups,
            &RulesFilter {
                typ: Some("x".into()),
                ..Default::default()
            }
        )
        .unwrap_err()
        .to_string(),
        "invalid parameter \"type\": not supported value \"x\""
    );
    assert_eq!(alerts_json(&groups), r#"{"alerts":[]}"#);
}

#[test]
fn alerts_api_shape() {
    let (_dir, db) = open_db();
    let m = Manager::new(db.clone(), ManagerOptions::default());
    let g = Group::new(
        group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 5m\n    annotations:\n      s: hi\n"),
        Duration::from_secs(60),
        true,
    );
    add(&db, &ls(&[("__name__", "x"), ("i", "1")]), 1_500, 2.5);
    m.eval_group_at(&g, 1_500_000_000);
    let groups = vec![Arc::new(g)];
    assert_eq!(
        alerts_json(&groups),
        r#"{"alerts":[{"labels":{"alertname":"A","i":"1"},"annotations":{"s":"hi"},"state":"pending","activeAt":"1970-01-01T00:00:01.5Z","value":"2.5e+00"}]}"#
    );
    let json = rules_json(&groups, &RulesFilter::default()).unwrap();
    assert!(
        json.contains(r#"{"state":"pending","name":"A","query":"x > 0","duration":300,"#),
        "{json}"
    );
}

/// A POST as the recorder saw it: path, body, `Authorization` header.
type Recorded = Arc<parking_lot::Mutex<Vec<(String, String, String)>>>;

/// A tiny HTTP server recording POSTed bodies, paths and credentials.
async fn recorder() -> (String, Recorded) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let got = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let g2 = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let got = g2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut tmp).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let head = &text[..i];
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                            let body =
                                String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string();
                            let auth = head
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("authorization")
                                        .then(|| v.trim().to_string())
                                })
                                .unwrap_or_default();
                            got.lock().push((path, body, auth));
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, got)
}

fn out_alert(name: &str) -> OutAlert {
    OutAlert {
        labels: ls(&[("alertname", name), ("severity", "page")]),
        annotations: ls(&[("summary", "it broke")]),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: 1_700_000_240_000,
        generator_url: "http://flint:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
    }
}

#[tokio::test]
async fn notifier_posts_to_alertmanager() {
    let (addr, got) = recorder().await;
    let cfg: AlertingConfig = serde_yaml::from_str(&format!(
        r#"
alert_relabel_configs:
  - source_labels: [alertname]
    regex: Dropped
    action: drop
alertmanagers:
  - path_prefix: /am/
    timeout: 5s
    api_version: v2
    static_configs:
      - targets: ["{addr}"]
"#
    ))
    .unwrap();
    cfg.validate().unwrap();
    let n = Notifier::new(100, ls(&[("cluster", "eu1"), ("severity", "ignored")]));
    n.apply(&cfg, Path::new("."));
    assert_eq!(
        alertmanagers_json(&n),
        format!(
            r#"{{"activeAlertmanagers":[{{"url":"http://{addr}/am/api/v2/alerts"}}],"droppedAlertmanagers":[]}}"#
        )
    );
    let task = tokio::spawn(n.clone().run());
    n.send(vec![out_alert("Down"), out_alert("Dropped")]);
    let mut waited = 0;
    while got.lock().is_empty() && waited < 1000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    n.stop();
    let _ = task.await;
    let got = got.lock().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "/am/api/v2/alerts");
    let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{v}");
    let a = &arr[0];
    assert_eq!(a["labels"]["alertname"], "Down");
    assert_eq!(a["labels"]["cluster"], "eu1", "external labels added");
    assert_eq!(
        a["labels"]["severity"], "page",
        "alert labels win over external ones"
    );
    assert_eq!(a["annotations"]["summary"], "it broke");
    assert_eq!(a["startsAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(a["endsAt"], "2023-11-14T22:17:20.000Z");
    assert_eq!(
        a["generatorURL"],
        "http://flint:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    assert_eq!(
        n.metrics().sent.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn queue_overflow_drops_oldest_and_counts() {
    let n = Notifier::new(3, Labels::empty());
    n.send((0..5).map(|i| out_alert(&format!("A{i}"))).collect());
    assert_eq!(n.queue_len(), 3);
    assert_eq!(
        n.metrics()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    n.send(vec![out_alert("B1"), out_alert("B2")]);
    assert_eq!(n.queue_len(), 3);
    assert_eq!(
        n.metrics()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
}

#[test]
fn alerting_config_is_validated() {
    let bad: AlertingConfig =
        serde_yaml::from_str("alertmanagers:\n- api_version: v1\n  static_configs: []\n").unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("api version"));
    let unknown: AlertingConfig = serde_yaml::from_str("alertmanagers:\n- nope: 1\n").unwrap();
    assert_eq!(
        unknown.validate().unwrap_err().to_string(),
        "alerting: field nope not found in type config.AlertmanagerConfig"
    );
    let unsupported: AlertingConfig =
        serde_yaml::from_str("alertmanagers:\n- nomad_sd_configs: []\n").unwrap();
    assert!(unsupported
        .validate()
        .unwrap_err()
        .to_string()
        .contains("nomad_sd_configs is not supported yet"));
    let two_auths: AlertingConfig = serde_yaml::from_str(
        "alertmanagers:\n- bearer_token: a\n  basic_auth: {username: u, password: p}\n",
    )
    .unwrap();
    assert!(two_auths
        .validate()
        .unwrap_err()
        .to_string()
        .contains("at most one of"));
    let bad_sd: AlertingConfig =
        serde_yaml::from_str("alertmanagers:\n- file_sd_configs: [{files: [am.txt]}]\n").unwrap();
    assert!(bad_sd
        .validate()
        .unwrap_err()
        .to_string()
        .contains("file_sd_configs"));
}

/// Waits up to 5 s for the notifier's active Alertmanager URLs to be `want`.
async fn wait_for_alertmanagers(n: &Notifier, want: &[String]) {
    for _ in 0..100 {
        let urls: Vec<String> = n.alertmanagers().0.into_iter().map(|e| e.url).collect();
        if urls == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "active Alertmanagers are {:?}, want {want:?}",
        n.alertmanagers().0
    );
}

#[tokio::test]
async fn notifier_finds_alertmanagers_in_files_and_sends_credentials() {
    let (addr, got) = recorder().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("am")).unwrap();
    std::fs::write(dir.path().join("token.txt"), "t0ken\n").unwrap();
    let cfg: AlertingConfig = serde_yaml::from_str(
        r#"
alertmanagers:
  - authorization:
      credentials_file: token.txt
    file_sd_configs:
      - files: [am/*.yml]
  - bearer_token: inline
    path_prefix: /second
    file_sd_configs:
      - files: [am/*.yml]
    relabel_configs:
      - source_labels: [role]
        regex: primary
        action: keep
"#,
    )
    .unwrap();
    cfg.validate().unwrap();
    let n = Notifier::new(100, Labels::empty());
    n.apply(&cfg, dir.path());
    assert!(n.alertmanagers().0.is_empty());
    // a file appearing after the configuration is applied is picked up
    std::fs::write(
        dir.path().join("am/a.yml"),
        format!("- targets: ['{addr}']\n  labels: {{role: primary}}\n"),
    )
    .unwrap();
    let want = vec![
        format!("http://{addr}/api/v2/alerts"),
        format!("http://{addr}/second/api/v2/alerts"),
    ];
    wait_for_alertmanagers(&n, &want).await;
    let task = tokio::spawn(n.clone().run());
    n.send(vec![out_alert("Down")]);
    for _ in 0..500 {
        if got.lock().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut seen: Vec<(String, String)> = got
        .lock()
        .iter()
        .map(|(p, _, a)| (p.clone(), a.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("/api/v2/alerts".to_string(), "Bearer t0ken".to_string()),
            (
                "/second/api/v2/alerts".to_string(),
                "Bearer inline".to_string()
            ),
        ]
    );
    // relabeling on the file's labels drops the second set's endpoint
    std::fs::write(
        dir.path().join("am/a.yml"),
        format!("- targets: ['{addr}']\n  labels: {{role: standby}}\n"),
    )
    .unwrap();
    wait_for_alertmanagers(&n, &want[..1]).await;
    assert_eq!(
        n.alertmanagers()
            .1
            .iter()
            .map(|e| e.url.clone())
            .collect::<Vec<_>>(),
        vec![format!("http://{addr}/second/api/v2/alerts")]
    );
    // and the file's removal removes the endpoints
    std::fs::remove_file(dir.path().join("am/a.yml")).unwrap();
    wait_for_alertmanagers(&n, &[]).await;
    n.stop();
    let _ = task.await;
}

#[tokio::test]
async fn manager_apply_keeps_old_groups_on_error() {
    let (dir, db) = open_db();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.yml"), CHAIN).unwrap();
    let m = Manager::new(db, ManagerOptions::default());
    let files = vec!["rules/*.yml".to_string()];
    m.apply(
        &files,
        dir.path(),
        Duration::from_secs(15),
        &AlertingConfig::default(),
    )
    .unwrap();
    let gs = m.groups();
    assert_eq!(gs.len(), 1);
    assert_eq!(gs[0].interval, Duration::from_secs(15));
    assert!(gs[0].def.file.ends_with("rules/a.yml"));
    std::fs::write(
        rules.join("b.yml"),
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: 'sum('\n",
    )
    .unwrap();
    let err = m
        .apply(
            &files,
            dir.path(),
            Duration::from_secs(15),
            &AlertingConfig::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("could not parse expression"),
        "{err}"
    );
    assert_eq!(m.groups().len(), 1);
    assert!(
        Arc::ptr_eq(&m.groups()[0], &gs[0]),
        "old group still running"
    );
    // unchanged group keeps running; a changed one is replaced
    std::fs::remove_file(rules.join("b.yml")).unwrap();
    m.apply(
        &files,
        dir.path(),
        Duration::from_secs(15),
        &AlertingConfig::default(),
    )
    .unwrap();
    assert!(Arc::ptr_eq(&m.groups()[0], &gs[0]));
    m.apply(
        &files,
        dir.path(),
        Duration::from_secs(30),
        &AlertingConfig::default(),
    )
    .unwrap();
    assert!(!Arc::ptr_eq(&m.groups()[0], &gs[0]));
    m.stop();
    assert!(m.groups().is_empty());
}

#[tokio::test]
async fn self_metrics_text() {
    let (dir, db) = open_db();
    std::fs::write(dir.path().join("a.yml"), CHAIN).unwrap();
    let m = Manager::new(db, ManagerOptions::default());
    m.apply(
        &["a.yml".to_string()],
        dir.path(),
        Duration::from_secs(60),
        &AlertingConfig::default(),
    )
    .unwrap();
    let text = m.metrics_text();
    let key = format!("{};chain", dir.path().join("a.yml").display());
    assert!(
        text.contains(&format!(
            "prometheus_rule_group_rules{{rule_group=\"{key}\"}} 4\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("prometheus_rule_group_interval_seconds{rule_group="),
        "{text}"
    );
    assert!(
        text.contains("prometheus_notifications_queue_capacity 10000\n"),
        "{text}"
    );
    m.set_external_labels(ls(&[("a", "b")]));
    m.stop();
}

#[tokio::test]
async fn notifier_batches_and_drains_its_queue_when_stopping() {
    let (addr, got) = recorder().await;
    let cfg: AlertingConfig = serde_yaml::from_str(&format!(
        "alertmanagers:\n  - static_configs:\n      - targets: ['{addr}']\n"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for drain in [true, false] {
        got.lock().clear();
        let n = Notifier::new(100, Labels::empty());
        n.set_batching(2, drain);
        n.apply(&cfg, dir.path());
        // queued before the sending task starts, stopped right after
        n.send((0..5).map(|i| out_alert(&format!("A{i}"))).collect());
        n.stop();
        let task = tokio::spawn(n.clone().run());
        tokio::time::timeout(Duration::from_secs(10), n.wait_stopped())
            .await
            .expect("the sending task ends");
        let _ = task.await;
        let sizes: Vec<usize> = got
            .lock()
            .iter()
            .map(|(_, body, _)| {
                serde_json::from_str::<serde_json::Value>(body)
                    .unwrap()
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        if drain {
            assert_eq!(sizes, [2, 2, 1], "drained in batches of 2");
        } else {
            assert!(sizes.is_empty(), "dropped when not draining: {sizes:?}");
        }
    }
}
