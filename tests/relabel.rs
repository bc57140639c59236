//! Each relabel action, through the real binary, against the result the
//! Prometheus documentation describes: one job per action over the same
//! target, compared on the target's final labels.

use std::collections::BTreeMap;

use crate::common::{MockTarget, Server};

/// (job, relabel_configs YAML, expected labels besides job and instance;
/// None = the target is dropped).
/// Label names and values.
type Pairs = Vec<(&'static str, &'static str)>;

fn cases() -> Vec<(&'static str, &'static str, Option<Pairs>)> {
    vec![
        // replace: regex groups into target_label, defaults (separator ";")
        ("replace", "- source_labels: [team, env]\n  regex: '(.+);(.+)'\n  target_label: owner\n  replacement: '$2-$1'", Some(vec![("env", "prod"), ("owner", "prod-web"), ("team", "web")])),
        // replace with an empty result deletes the label
        ("replace-empty", "- target_label: team\n  replacement: ''", Some(vec![("env", "prod")])),
        ("keep", "- source_labels: [env]\n  regex: prod\n  action: keep", Some(vec![("env", "prod"), ("team", "web")])),
        ("keep-miss", "- source_labels: [env]\n  regex: dev\n  action: keep", None),
        ("drop", "- source_labels: [team]\n  regex: 'w.*'\n  action: drop", None),
        ("keepequal", "- source_labels: [team]\n  target_label: copy\n  action: keepequal", None),
        ("dropequal", "- source_labels: [team]\n  target_label: copy\n  action: dropequal", Some(vec![("env", "prod"), ("team", "web")])),
        // hashmod: md5 of "web" as a big-endian u64 of its last 8 bytes, mod 10
        ("hashmod", "- source_labels: [team]\n  modulus: 10\n  target_label: shard\n  action: hashmod", Some(vec![("env", "prod"), ("shard", "9"), ("team", "web")])),
        ("labelmap", "- regex: '__meta_(.+)'\n  action: labelmap", Some(vec![("env", "prod"), ("rack", "r1"), ("team", "web")])),
        ("labeldrop", "- regex: 'te.*'\n  action: labeldrop", Some(vec![("env", "prod")])),
        ("labelkeep", "- regex: '__.*|job|env'\n  action: labelkeep", Some(vec![("env", "prod")])),
        ("lowercase", "- source_labels: [mixed]\n  target_label: lower\n  action: lowercase", Some(vec![("env", "prod"), ("lower", "abc"), ("team", "web")])),
        ("uppercase", "- source_labels: [mixed]\n  target_label: upper\n  action: uppercase", Some(vec![("env", "prod"), ("team", "web"), ("upper", "ABC")])),
    ]
}

#[test]
fn every_relabel_action_as_documented() {
    // "web" hashed as the documentation describes, computed independently
    {
        use md5::Digest;
        let d = md5::Md5::digest(b"web");
        let n = u64::from_be_bytes(d[8..16].try_into().unwrap());
        assert_eq!(n % 10, 9, "the expected shard in the table");
    }
    let t = MockTarget::start("m 1\n");
    let mut cfg = String::from("scrape_configs:\n");
    for (job, rules, _) in cases() {
        cfg.push_str(&format!(
            "  - job_name: {job}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n        labels: {{team: web, env: prod, copy: other, mixed: aBc, __meta_rack: r1}}\n    relabel_configs:\n",
            t.addr
        ));
        for line in rules.lines() {
            cfg.push_str(&format!("      {line}\n"));
        }
        // the helper labels would otherwise show up in every case
        if job != "labelkeep" {
            cfg.push_str("      - regex: 'copy|mixed'\n        action: labeldrop\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &cfg, &[]);
    let (_, v) = s.api("/api/v1/targets");
    let active: BTreeMap<String, BTreeMap<String, String>> = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let labels = t["labels"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "job" && *k != "instance")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (t["scrapePool"].as_str().unwrap().to_string(), labels)
        })
        .collect();
    let dropped: Vec<String> = v["data"]["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapePool"].as_str().unwrap_or("").to_string())
        .collect();
    for (job, _, want) in cases() {
        match want {
            None => {
                assert!(
                    !active.contains_key(job),
                    "{job}: should be dropped, got {:?}",
                    active.get(job)
                );
                assert!(
                    dropped.contains(&job.to_string()),
                    "{job}: listed as dropped: {dropped:?}"
                );
            }
            Some(want) => {
                let want: BTreeMap<String, String> = want
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(active.get(job), Some(&want), "{job}");
            }
        }
    }
    // the kept targets are scraped with those labels
    s.eventually(15, "the hashmod job's series carries its shard", || {
        s.value(r#"m{job="hashmod",shard="9"}"#) == Some(1.0)
    });
}
