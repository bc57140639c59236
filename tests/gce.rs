//! Google Compute Engine discovery against the stand-in of Google's token
//! endpoint and Compute API at their real HTTPS names
//! (`tests/standin/gce.rs`), reached as Prometheus reaches them: through
//! the environment's `HTTPS_PROXY`, trusting the CA in `SSL_CERT_FILE`
//! (`gce_sd_configs` has no HTTP client settings); and of the metadata
//! server at `GCE_METADATA_HOST`. Credentials from a service account's
//! key (`GOOGLE_APPLICATION_CREDENTIALS`), gcloud's well-known file and
//! the metadata server; instances page by page, a filter, Prometheus's
//! labels, a discovered instance scraped, changes within the refresh
//! interval, refused tokens and credentials that keep the targets. Remote
//! write's `google_iam` against the same stand-in, giving Cloud
//! Monitoring tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{Answer, MockReceiver, MockTarget, Server};
use crate::standin::gce::{
    key_file, user_file, Gce, Instance, KEY_ID, PROJECT, SA_EMAIL, SCOPE, ZONE,
};

/// The scope of remote write's `google_iam` tokens.
const MONITORING_WRITE: &str = "https://www.googleapis.com/auth/monitoring.write";

fn meta(t: &Value) -> BTreeMap<String, String> {
    t["discoveredLabels"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("__meta_"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// A new RSA key (PKCS #8 PEM) made by openssl; `None` (the test skips)
/// without openssl.
fn rsa_key(dir: &Path, name: &str) -> Option<String> {
    let path = dir.join(name);
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(std::fs::read_to_string(&path).unwrap()),
        _ if crate::common::must_run() => panic!("openssl is needed to make RSA keys"),
        _ => None,
    }
}

/// The environment flint gets: the stand-in's proxy and CA, a home of
/// its own (no gcloud file unless the test writes one), and `extra`.
fn env<'a>(g: &'a Gce, dir: &Path, extra: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    std::fs::write(dir.join("ca.pem"), &g.ca_pem).unwrap();
    let mut v = vec![
        ("HTTPS_PROXY", format!("http://{}", g.proxy)),
        ("SSL_CERT_FILE", dir.join("ca.pem").display().to_string()),
        ("HOME", dir.display().to_string()),
        ("CLOUDSDK_CONFIG", String::new()),
        ("GOOGLE_APPLICATION_CREDENTIALS", String::new()),
        ("GCE_METADATA_HOST", String::new()),
    ];
    for (k, val) in extra {
        v.retain(|(n, _)| n != k);
        v.push((k, val.clone()));
    }
    v
}

fn start(dir: &Path, cfg: &str, env: &[(&str, String)]) -> Server {
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // a firing alert that found no Alertmanager yet is sent again after
    // a second, not after the default minute
    Server::start_env(dir, cfg, &["--rules.alert.resend-delay=1s"], &e)
}

fn fleet(g: &Gce) {
    let mut web = Instance::new("web-1", 8_012_345_678_901_234_561, "10.132.0.2");
    web.nat_ip = Some("34.76.1.2".into());
    web.labels = [("env", "prod"), ("team-name", "core")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    web.tags = vec!["http-server".into(), "monitored".into()];
    web.metadata = vec![
        ("startup-script".into(), Some("echo hi".into())),
        ("enable-oslogin".into(), None),
    ];
    web.nics.push(("nic1".into(), "10.10.0.3".into()));
    g.add(&web);
    let mut web2 = Instance::new("web-2", 1002, "10.132.0.3");
    web2.labels.insert("env".into(), "prod".into());
    g.add(&web2);
    let mut local = Instance::new("local", 1003, "127.0.0.1");
    local.labels.insert("env".into(), "prod".into());
    local.labels.insert("role".into(), "app".into());
    local.tags = vec!["monitored".into(), "db".into()];
    g.add(&local);
    let mut dev = Instance::new("dev-1", 1004, "10.132.0.5");
    dev.labels.insert("env".into(), "dev".into());
    g.add(&dev);
    let mut stopped = Instance::new("stopped", 1005, "10.132.0.6");
    stopped.status = "TERMINATED".into();
    stopped.labels.insert("env".into(), "prod".into());
    g.add(&stopped);
    let mut bare = Instance::new("no-nic", 1006, "");
    bare.nics.clear();
    bare.labels.insert("env".into(), "prod".into());
    g.add(&bare);
}

fn job(name: &str, extra: &str) -> String {
    format!(
        "  - job_name: {name}
    gce_sd_configs:
      - project: {PROJECT}
        zone: {ZONE}
        refresh_interval: 500ms
{extra}"
    )
}

#[test]
fn instances_by_a_service_account_key() {
    let dir = tempfile::tempdir().unwrap();
    let Some(key) = rsa_key(dir.path(), "key.pem") else {
        println!("SKIP gce::instances_by_a_service_account_key: openssl not found");
        return;
    };
    let g = Gce::start(&key);
    fleet(&g);
    let mock = MockTarget::start("app_up 1\n");
    let port = mock.addr.rsplit(':').next().unwrap().to_string();
    std::fs::write(dir.path().join("sa.json"), key_file(&key)).unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n{}{}",
        job(
            "gce",
            &format!(
                "        port: {port}
    relabel_configs:
      - source_labels: [__meta_gce_label_env]
        regex: prod
        action: keep
      - source_labels: [__meta_gce_instance_name]
        target_label: instance_name
      - source_labels: [__meta_gce_tags]
        regex: '.*,monitored,.*'
        target_label: monitored
        replacement: 'yes'
"
            )
        ),
        job(
            "app",
            "        filter: 'labels.role = app'\n        tag_separator: '|'\n"
        ),
    );
    let sa = dir.path().join("sa.json").display().to_string();
    let s = start(
        dir.path(),
        &cfg,
        &env(&g, dir.path(), &[("GOOGLE_APPLICATION_CREDENTIALS", sa)]),
    );
    // six instances: the one without interfaces is no target, the dev one
    // is dropped by relabeling, the terminated one stays
    wait_for("4 instances", 10, || targets(&s, "gce").len() == 4);
    let all = targets(&s, "gce");
    let want: BTreeSet<String> = ["10.132.0.2", "10.132.0.3", "127.0.0.1", "10.132.0.6"]
        .iter()
        .map(|ip| format!("{ip}:{port}"))
        .collect();
    assert_eq!(all.keys().cloned().collect::<BTreeSet<_>>(), want);

    let zone = Instance::zone_url();
    let api = crate::standin::gce::API;
    let web = &all[&format!("10.132.0.2:{port}")];
    let want: BTreeMap<String, String> = [
        ("project", PROJECT.to_string()),
        ("zone", zone.clone()),
        ("instance_id", "8012345678901234561".into()),
        ("instance_name", "web-1".into()),
        ("instance_status", "RUNNING".into()),
        ("machine_type", format!("{zone}/machineTypes/e2-small")),
        (
            "network",
            format!("{api}/projects/{PROJECT}/global/networks/net0"),
        ),
        (
            "subnetwork",
            format!("{api}/projects/{PROJECT}/regions/europe-west1/subnetworks/subnet0"),
        ),
        ("private_ip", "10.132.0.2".into()),
        ("interface_ipv4_nic0", "10.132.0.2".into()),
        ("interface_ipv4_nic1", "10.10.0.3".into()),
        ("public_ip", "34.76.1.2".into()),
        ("tags", ",http-server,monitored,".into()),
        ("label_env", "prod".into()),
        ("label_team_name", "core".into()),
        ("metadata_startup_script", "echo hi".into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("__meta_gce_{k}"), v))
    .collect();
    assert_eq!(meta(web), want);
    assert_eq!(web["labels"]["instance_name"], "web-1");
    assert_eq!(web["labels"]["monitored"], "yes");
    assert_eq!(
        meta(&all[&format!("10.132.0.6:{port}")])["__meta_gce_instance_status"],
        "TERMINATED"
    );

    // the instance at 127.0.0.1 is scraped, with the labels relabeling
    // made of its meta labels
    s.eventually(10, "the discovered instance scraped", || {
        s.value(&format!("up{{job=\"gce\",instance=\"127.0.0.1:{port}\"}}")) == Some(1.0)
            && s.value("app_up{job=\"gce\",instance_name=\"local\",monitored=\"yes\"}") == Some(1.0)
    });

    // the filter, at the default port, with its tag separator
    wait_for("the filtered instance", 10, || {
        targets(&s, "app").len() == 1
    });
    let app = targets(&s, "app");
    let local = &app["127.0.0.1:80"];
    assert_eq!(meta(local)["__meta_gce_tags"], "|monitored|db|");
    assert_eq!(meta(local)["__meta_gce_label_role"], "app");

    // the real names through the proxy; pages; the filter passed on
    let connects: BTreeSet<String> = g.connects().into_iter().collect();
    assert!(
        connects.contains("compute.googleapis.com:443"),
        "{connects:?}"
    );
    assert!(
        connects.contains("oauth2.googleapis.com:443"),
        "{connects:?}"
    );
    let reqs = g.requests();
    let path = format!("/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances");
    let lists: Vec<_> = reqs.iter().filter(|r| r.path == path).collect();
    assert!(lists
        .iter()
        .all(|r| r.param("alt") == Some("json") && r.param("prettyPrint") == Some("false")));
    let pages: BTreeSet<Option<String>> = lists
        .iter()
        .filter(|r| r.param("filter").is_none())
        .map(|r| r.param("pageToken").map(str::to_string))
        .collect();
    assert_eq!(
        pages,
        [None, Some("page-2".into()), Some("page-4".into())]
            .into_iter()
            .collect()
    );
    assert!(lists
        .iter()
        .any(|r| r.param("filter") == Some("labels.role = app")));
    // one token per entry, kept across refreshes
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(g.tokens_issued(), 2);

    // an instance more, one less, within the refresh interval
    let mut new = Instance::new("web-3", 1007, "10.132.0.7");
    new.labels.insert("env".into(), "prod".into());
    g.add(&new);
    let took = wait_for("the new instance", 5, || {
        targets(&s, "gce").contains_key(&format!("10.132.0.7:{port}"))
    });
    println!("gce: a new instance appeared in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    g.remove("web-2");
    let took = wait_for("web-2 gone", 5, || {
        !targets(&s, "gce").contains_key(&format!("10.132.0.3:{port}"))
    });
    println!("gce: a removed instance went in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // revoked tokens: refused once (logged in the Go client's words),
    // then new ones
    g.revoke_tokens();
    s.eventually(10, "the refused token logged", || {
        s.log_text()
            .contains("googleapi: Error 401: Request had invalid authentication credentials")
    });
    let mut after = Instance::new("web-4", 1008, "10.132.0.8");
    after.labels.insert("env".into(), "prod".into());
    g.add(&after);
    wait_for("an instance after a new token", 10, || {
        targets(&s, "gce").contains_key(&format!("10.132.0.8:{port}"))
    });
    assert!(g.tokens_issued() >= 4, "{}", g.tokens_issued());
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("discovery=gce") && l.contains("Error 401"))
        .unwrap();
    assert!(
        line.contains("Unable to refresh target groups")
            && line.contains("error retrieving refresh targets from gce: googleapi: Error 401"),
        "{line}"
    );

    // credentials refused: logged, the targets kept
    g.refuse_grants(true);
    g.revoke_tokens();
    s.eventually(10, "the refused credentials logged", || {
        s.log_text().contains("Invalid grant: account not found")
    });
    std::thread::sleep(Duration::from_secs(2));
    let kept = targets(&s, "gce");
    assert_eq!(kept.len(), 5, "{:?}", kept.keys());
    assert_eq!(targets(&s, "app").len(), 1);
    let log = s.log_text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("discovery=gce") && l.contains("Invalid grant"))
        .collect();
    // one line per entry, not one per refresh
    assert_eq!(refused.len(), 2, "{log}");
    assert!(
        refused[0].contains("oauth2: cannot fetch token: 400 Bad Request"),
        "{}",
        refused[0]
    );
    // and back
    g.refuse_grants(false);
    g.remove("web-4");
    wait_for("web-4 gone with new credentials", 10, || {
        !targets(&s, "gce").contains_key(&format!("10.132.0.8:{port}"))
    });
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("gce_sd_configs"), "{yaml}");
    assert!(yaml.contains("tag_separator: '|'"), "{yaml}");
}

#[test]
fn metadata_server_tokens_and_alertmanagers() {
    let g = Gce::start("");
    let am = MockReceiver::start(Answer::status(200));
    let am_port = am.addr.rsplit(':').next().unwrap().to_string();
    let mut a = Instance::new("alertmanager-0", 2001, "127.0.0.1");
    a.labels.insert("role".into(), "alertmanager".into());
    g.add(&a);
    let mut b = Instance::new("web-1", 2002, "10.132.0.2");
    b.labels.insert("role".into(), "web".into());
    g.add(&b);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let cfg = format!(
        "global:
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - gce_sd_configs:
        - project: {PROJECT}
          zone: {ZONE}
          port: {am_port}
          refresh_interval: 500ms
      relabel_configs:
        - source_labels: [__meta_gce_label_role]
          regex: alertmanager
          action: keep
scrape_configs:
{}",
        job("gce", "")
    );
    // the metadata server is asked directly, not through HTTP_PROXY
    let s = start(
        dir.path(),
        &cfg,
        &env(
            &g,
            dir.path(),
            &[
                ("GCE_METADATA_HOST", g.metadata.clone()),
                ("HTTP_PROXY", format!("http://{}", g.proxy)),
            ],
        ),
    );
    wait_for("the instances", 10, || targets(&s, "gce").len() == 2);
    let want = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    s.eventually(10, "the Alertmanager on an instance", || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|x| x.len() == 1 && x[0]["url"] == want.as_str())
    });
    s.eventually(15, "an alert sent", || {
        am.requests().iter().any(|r| {
            r.path == "/api/v2/alerts" && String::from_utf8_lossy(&r.body).contains("Always")
        })
    });
    let reqs = g.requests();
    let md: Vec<_> = reqs
        .iter()
        .filter(|r| r.path == "/computeMetadata/v1/instance/service-accounts/default/token")
        .collect();
    // one token for the job, one for the Alertmanagers
    assert_eq!(md.len(), 2, "{md:?}");
    assert!(
        md.iter()
            .all(|r| r.header("metadata-flavor") == Some("Google")
                && r.param("scopes") == Some(SCOPE))
    );
    assert!(!reqs.iter().any(|r| r.path == "/token"));
}

#[test]
fn user_credentials_from_gclouds_well_known_file() {
    let g = Gce::start("");
    g.add(&Instance::new("vm-1", 3001, "10.132.0.9"));
    let dir = tempfile::tempdir().unwrap();
    let gcloud = dir.path().join(".config/gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        user_file(),
    )
    .unwrap();
    let cfg = format!("scrape_configs:\n{}", job("gce", ""));
    let s = start(dir.path(), &cfg, &env(&g, dir.path(), &[]));
    wait_for("the instance", 10, || {
        targets(&s, "gce").contains_key("10.132.0.9:80")
    });
    let tokens: Vec<_> = g
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token")
        .collect();
    assert_eq!(tokens.len(), 1);
    assert!(String::from_utf8_lossy(&tokens[0].body).contains("grant_type=refresh_token"));
}

#[test]
fn a_wrong_key_or_no_key_file_is_logged_and_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (Some(right), Some(wrong)) = (
        rsa_key(dir.path(), "right.pem"),
        rsa_key(dir.path(), "wrong.pem"),
    ) else {
        println!(
            "SKIP gce::a_wrong_key_or_no_key_file_is_logged_and_finds_nothing: openssl not found"
        );
        return;
    };
    let g = Gce::start(&right);
    g.add(&Instance::new("vm-1", 4001, "10.132.0.9"));
    std::fs::write(dir.path().join("sa.json"), key_file(&wrong)).unwrap();
    let cfg = format!("scrape_configs:\n{}", job("gce", ""));
    let sa = dir.path().join("sa.json").display().to_string();
    let s = start(
        dir.path(),
        &cfg,
        &env(&g, dir.path(), &[("GOOGLE_APPLICATION_CREDENTIALS", sa)]),
    );
    s.eventually(10, "the refused signature logged", || {
        s.log_text().contains("Invalid JWT Signature.")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(targets(&s, "gce").is_empty());
    let log = s.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("discovery=gce"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("invalid_grant"), "{}", lines[0]);
    assert_eq!(g.tokens_issued(), 0);
    // the assertion flint sent: the key's ID and account, for the
    // read-only scope, at the token endpoint
    let reqs = g.requests();
    let body = String::from_utf8_lossy(&reqs.iter().find(|r| r.path == "/token").unwrap().body)
        .to_string();
    let assertion = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("assertion="))
        .unwrap();
    let seg = |i: usize| -> Value {
        let mut p = assertion
            .split('.')
            .nth(i)
            .unwrap()
            .replace('-', "+")
            .replace('_', "/");
        while p.len() % 4 != 0 {
            p.push('=');
        }
        serde_json::from_slice(&crate::common::base64_decode(&p)).unwrap()
    };
    assert_eq!(seg(0)["kid"], KEY_ID);
    assert_eq!(seg(1)["iss"], SA_EMAIL);
    assert_eq!(seg(1)["scope"], SCOPE);
    drop(s);

    // a named key file that is not there: the entry is not started
    let missing = dir.path().join("missing.json").display().to_string();
    let s = start(
        dir.path(),
        &cfg,
        &env(
            &g,
            dir.path(),
            &[("GOOGLE_APPLICATION_CREDENTIALS", missing)],
        ),
    );
    s.eventually(10, "the missing file logged", || {
        s.log_text().contains("Cannot create service discovery")
    });
    let log = s.log_text();
    assert!(
        log.contains("error setting up communication with GCE service: google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS environment variable: open "),
        "{log}"
    );
    assert!(
        log.contains("missing.json: no such file or directory"),
        "{log}"
    );
}

#[test]
fn bad_entries_are_refused_in_prometheus_words() {
    let dir = tempfile::tempdir().unwrap();
    for (entry, want) in [
        ("{zone: z}", "GCE SD configuration requires a project"),
        ("{project: p}", "GCE SD configuration requires a zone"),
        (
            "{project: p, zone: z, proxy_url: 'http://p:3128'}",
            "field proxy_url not found in type gce.plain",
        ),
    ] {
        for section in [
            format!("scrape_configs:\n  - job_name: k\n    gce_sd_configs: [{entry}]\n"),
            format!("alerting:\n  alertmanagers:\n    - gce_sd_configs: [{entry}]\n"),
        ] {
            let (status, err) = crate::common::refused(dir.path(), &section);
            assert_eq!(status.code(), Some(2), "{err}");
            assert!(err.contains(want), "{entry}: {err}");
        }
    }
}

/// The bearer tokens a receiver got, each request's.
fn bearer_tokens(rx: &MockReceiver) -> Vec<String> {
    rx.got
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            r.header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
                .expect("a bearer token")
                .to_string()
        })
        .collect()
}

#[test]
fn remote_write_with_google_iam_from_a_key_file_and_the_well_known_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some(key) = rsa_key(dir.path(), "key.pem") else {
        println!("SKIP gce::remote_write_with_google_iam_from_a_key_file_and_the_well_known_file: openssl not found");
        return;
    };
    let g = Gce::start_for(&key, MONITORING_WRITE);
    let mock = MockTarget::start("app_up 1\n");
    let by_key = MockReceiver::start(Answer::status(204));
    let by_user = MockReceiver::start(Answer::status(204));
    std::fs::write(dir.path().join("sa.json"), key_file(&key)).unwrap();
    let gcloud = dir.path().join("gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        user_file(),
    )
    .unwrap();
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{target}']}}]
remote_write:
  - url: http://{r1}/api/v1/write
    name: key
    queue_config: {{batch_send_deadline: 200ms}}
    google_iam: {{credentials_file: sa.json}}
  - url: http://{r2}/api/v1/write
    name: adc
    queue_config: {{batch_send_deadline: 200ms}}
    google_iam: {{}}
",
        target = mock.addr,
        r1 = by_key.addr,
        r2 = by_user.addr,
    );
    let s = start(
        dir.path(),
        &cfg,
        &env(
            &g,
            dir.path(),
            &[("CLOUDSDK_CONFIG", gcloud.display().to_string())],
        ),
    );
    for rx in [&by_key, &by_user] {
        s.eventually(15, "samples sent with a Google token", || {
            rx.got.lock().unwrap().len() >= 2
        });
        // one token, issued by the stand-in, reused
        let tokens: BTreeSet<String> = bearer_tokens(rx).into_iter().collect();
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        assert!(g.token_good(tokens.iter().next().unwrap()), "{tokens:?}");
    }
    assert_ne!(bearer_tokens(&by_key)[0], bearer_tokens(&by_user)[0]);
    // the key's assertion (its signature, issuer, audience and the
    // monitoring scope checked by the stand-in) and the user's refresh
    // token, once each
    let grants: Vec<String> = g
        .requests()
        .iter()
        .filter(|r| r.path == "/token")
        .map(|r| {
            let body = String::from_utf8_lossy(&r.body).to_string();
            body.split('&')
                .find_map(|kv| kv.strip_prefix("grant_type="))
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(grants.len(), 2, "{grants:?}");
    assert!(grants.iter().any(|g| g == "refresh_token"), "{grants:?}");
    assert!(
        grants
            .iter()
            .any(|g| g == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{grants:?}"
    );
    // a revoked token: the receiver's 401 drops it and a new one is fetched
    let before = g.tokens_issued();
    g.revoke_tokens();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(0u32));
    let (n, good) = (std::sync::Arc::clone(&accepted), g.token_checker());
    *by_key.answer.lock().unwrap() = Box::new(move |r| {
        let t = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        if good(t) {
            *n.lock().unwrap() += 1;
            Answer::status(204)
        } else {
            Answer::status(401)
        }
    });
    s.eventually(15, "a new token fetched after a 401", || {
        *accepted.lock().unwrap() > 0
    });
    assert!(g.tokens_issued() > before);
}

#[test]
fn remote_write_with_google_iam_from_the_metadata_server() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gce::start_for("", MONITORING_WRITE);
    let mock = MockTarget::start("app_up 1\n");
    let rx = MockReceiver::start(Answer::status(204));
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{target}']}}]
remote_write:
  - url: http://{r}/api/v1/write
    queue_config: {{batch_send_deadline: 200ms}}
    google_iam: {{}}
",
        target = mock.addr,
        r = rx.addr,
    );
    let s = start(
        dir.path(),
        &cfg,
        &env(&g, dir.path(), &[("GCE_METADATA_HOST", g.metadata.clone())]),
    );
    s.eventually(15, "samples sent with the metadata server's token", || {
        !rx.got.lock().unwrap().is_empty()
    });
    let tokens: BTreeSet<String> = bearer_tokens(&rx).into_iter().collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(g.token_good(tokens.iter().next().unwrap()));
    let md: Vec<_> = g
        .requests()
        .into_iter()
        .filter(|r| r.path == "/computeMetadata/v1/instance/service-accounts/default/token")
        .collect();
    assert_eq!(md.len(), 1, "{md:?}");
    assert_eq!(md[0].param("scopes"), Some(MONITORING_WRITE));
    assert!(!g.requests().iter().any(|r| r.path == "/token"));
}

#[test]
fn google_iam_entries_refused_in_prometheus_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"type": "external_account"}"#,
    )
    .unwrap();
    for (entry, want) in [
        (
            "google_iam: {credentials_file: missing.json}",
            "error reading Google credentials file: open ",
        ),
        (
            "google_iam: {credentials_file: bad.json}",
            "error parsing Google credentials file: unknown credential type: \\\"external_account",
        ),
        (
            "google_iam: {}\n    basic_auth: {username: u, password: p}",
            "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [basic_auth google_iam]",
        ),
    ] {
        let (status, err) = crate::common::refused(
            dir.path(),
            &format!("remote_write:\n  - url: http://127.0.0.1:9/api/v1/write\n    {entry}\n"),
        );
        assert!(!status.success(), "{entry}: {err}");
        assert!(err.contains(want), "{entry}: {err}");
        if entry.contains("missing.json") {
            assert!(err.contains("missing.json: no such file or directory"), "{err}");
        }
    }
}
