//! EC2 discovery against the AWS stand-in (`tests/standin/ec2.rs`), which
//! checks every request's Signature Version 4 (and is itself checked with
//! boto3): instances page by page with filters and Prometheus's labels;
//! credentials from the configuration, a profile of the shared files, an
//! assumed role through STS at its real name, or the instance metadata
//! service; changes within the refresh interval; refused credentials are
//! logged and fetched again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::common::Server;
use crate::common::{discovered_targets as targets, wait_for};
use crate::standin::ec2::{Aws, Instance, KEYS, REGION, ROLE};

fn meta_names(t: &Value) -> BTreeSet<String> {
    t["discoveredLabels"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("__meta_"))
        .cloned()
        .collect()
}

fn fleet(aws: &Aws) {
    aws.add(
        Instance::new("i-0tagged", "10.0.1.10")
            .public("54.1.2.3")
            .tag("Name", "web-1")
            .tag("env", "prod")
            .ipv6("2600:1f18::10", true)
            .ipv6("2600:1f18::11", false),
    );
    for i in 1..=4 {
        aws.add(
            Instance::new(&format!("i-0web{i}"), &format!("10.0.1.{}", 20 + i)).tag("env", "prod"),
        );
    }
    aws.add(Instance::new("i-0dev", "10.0.2.1").tag("env", "dev"));
    aws.add(
        Instance::new("i-0stopped", "10.0.1.99")
            .tag("env", "prod")
            .state("stopped"),
    );
}

#[test]
fn instances_with_static_keys_and_filters() {
    let aws = Aws::start(2);
    fleet(&aws);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: ec2
    ec2_sd_configs:
      - region: {REGION}
        endpoint: http://{addr}
        access_key: {ak}
        secret_key: {sk}
        port: 9100
        refresh_interval: 500ms
        filters:
          - name: instance-state-name
            values: [running, pending]
          - name: tag:env
            values: [prod]
  - job_name: wrong
    ec2_sd_configs:
      - region: {REGION}
        endpoint: http://{addr}
        access_key: {ak}
        secret_key: not-the-secret
        refresh_interval: 200ms
",
        addr = aws.addr,
        ak = KEYS.0,
        sk = KEYS.1
    );
    // no shared files or metadata service of the machine in the way
    let home = dir.path().display().to_string();
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[("HOME", &home), ("AWS_EC2_METADATA_DISABLED", "true")],
    );
    wait_for("five running prod instances", 10, || {
        targets(&s, "ec2").len() == 5
    });
    let t = &targets(&s, "ec2")["10.0.1.10:9100"];
    let want: BTreeSet<String> = [
        "ami",
        "architecture",
        "availability_zone",
        "availability_zone_id",
        "instance_id",
        "instance_state",
        "instance_type",
        "ipv6_addresses",
        "owner_id",
        "default_ipv6_address",
        "primary_ipv6_addresses",
        "primary_subnet_id",
        "private_dns_name",
        "private_ip",
        "public_dns_name",
        "public_ip",
        "region",
        "subnet_id",
        "tag_Name",
        "tag_env",
        "vpc_id",
    ]
    .iter()
    .map(|n| format!("__meta_ec2_{n}"))
    .collect();
    assert_eq!(meta_names(t), want);
    let d = &t["discoveredLabels"];
    assert_eq!(d["__meta_ec2_availability_zone_id"], "use1-az6");
    assert_eq!(d["__meta_ec2_public_ip"], "54.1.2.3");
    assert_eq!(
        d["__meta_ec2_public_dns_name"],
        "ec2-54-1-2-3.compute-1.amazonaws.com"
    );
    assert_eq!(
        d["__meta_ec2_ipv6_addresses"],
        ",2600:1f18::10,2600:1f18::11,"
    );
    assert_eq!(d["__meta_ec2_primary_ipv6_addresses"], ",2600:1f18::10,");
    assert_eq!(d["__meta_ec2_default_ipv6_address"], "2600:1f18::10");
    assert_eq!(d["__meta_ec2_subnet_id"], ",subnet-0a1,");
    assert_eq!(d["__meta_ec2_owner_id"], "123456789012");
    assert_eq!(d["__meta_ec2_region"], REGION);
    assert_eq!(d["__meta_ec2_instance_state"], "running");

    // the filters as EC2's Query API takes them, pages of two followed
    let reqs = aws.requests();
    let bodies: Vec<BTreeMap<String, String>> = reqs
        .iter()
        .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
        .collect();
    let describe: Vec<&BTreeMap<String, String>> = bodies
        .iter()
        .filter(|b| {
            b.get("Action").map(String::as_str) == Some("DescribeInstances")
                && b.get("Filter.2.Name").map(String::as_str) == Some("tag:env")
        })
        .collect();
    let first = describe[0];
    assert_eq!(first["Version"], "2016-11-15");
    assert_eq!(first["Filter.1.Name"], "instance-state-name");
    assert_eq!(first["Filter.1.Value.1"], "running");
    assert_eq!(first["Filter.1.Value.2"], "pending");
    assert_eq!(first["Filter.2.Value.1"], "prod");
    let tokens: BTreeSet<Option<&String>> = describe.iter().map(|b| b.get("NextToken")).collect();
    assert!(tokens.len() >= 3, "{tokens:?}");
    // every request of the first job signed as AWS checks it
    assert!(reqs.iter().all(|r| r.header("authorization").is_some()));

    // the wrong secret: refused, logged once, no targets
    s.eventually(10, "the refusal logged", || {
        s.log_text().contains("api error SignatureDoesNotMatch")
    });
    assert!(targets(&s, "wrong").is_empty());
    assert!(aws
        .refused()
        .iter()
        .all(|r| r.starts_with("SignatureDoesNotMatch")));

    // changes within the refresh interval
    aws.add(Instance::new("i-0new", "10.0.1.50").tag("env", "prod"));
    let took = wait_for("the new instance", 5, || {
        targets(&s, "ec2").contains_key("10.0.1.50:9100")
    });
    println!("ec2: a new instance appeared in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    aws.remove("i-0web1");
    let took = wait_for("i-0web1 gone", 5, || {
        !targets(&s, "ec2").contains_key("10.0.1.21:9100")
    });
    println!("ec2: a terminated instance went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let log = s.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("discovery=ec2") && l.contains("SignatureDoesNotMatch"))
        .count();
    assert_eq!(lines, 1, "{log}");
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("secret_key: <secret>") && !yaml.contains(KEYS.1),
        "{yaml}"
    );
}

#[test]
fn an_assumed_role_at_the_real_names_through_a_proxy() {
    let aws = Aws::start(100);
    fleet(&aws);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &aws.ca_pem).unwrap();
    // the base keys from a profile of the shared credentials file
    std::fs::write(
        dir.path().join("credentials"),
        format!(
            "[default]\naws_access_key_id = AKIADEFAULTNOTUSED\naws_secret_access_key = x\n\n[sd]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            KEYS.0, KEYS.1
        ),
    )
    .unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: ec2
    ec2_sd_configs:
      - profile: sd
        role_arn: {role}
        external_id: {ext}
        refresh_interval: 500ms
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
",
        role = ROLE.0,
        ext = ROLE.1,
        proxy = aws.proxy
    );
    let home = dir.path().display().to_string();
    let creds_file = dir.path().join("credentials").display().to_string();
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("HOME", &home),
            ("AWS_REGION", REGION),
            ("AWS_SHARED_CREDENTIALS_FILE", &creds_file),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    wait_for("every instance with an address", 10, || {
        targets(&s, "ec2").len() == 7
    });
    let reqs = aws.requests();
    // one AssumeRole with the profile's keys, then EC2 with the
    // temporary credentials and their session token, at the real names
    let assume: Vec<_> = reqs
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("Action=AssumeRole"))
        .collect();
    assert_eq!(assume.len(), 1, "credentials kept until they expire");
    assert_eq!(
        assume[0].header("host"),
        Some("sts.us-east-1.amazonaws.com")
    );
    assert!(assume[0]
        .header("authorization")
        .unwrap()
        .contains(&format!("Credential={}/", KEYS.0)));
    let ec2: Vec<_> = reqs
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("Action=DescribeInstances"))
        .collect();
    assert!(ec2
        .iter()
        .all(|r| r.header("host") == Some("ec2.us-east-1.amazonaws.com")
            && r.header("x-amz-security-token")
                .is_some_and(|t| t.starts_with("sts-session-token-"))
            && r.header("authorization")
                .unwrap()
                .contains("Credential=ASIASTS")));
    assert!(aws.refused().is_empty(), "{:?}", aws.refused());
}

#[test]
fn credentials_and_region_from_the_instance_metadata_service() {
    let aws = Aws::start(100);
    fleet(&aws);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: ec2\n    ec2_sd_configs:\n      - endpoint: http://{}\n        refresh_interval: 500ms\n",
        aws.addr
    );
    let home = dir.path().display().to_string();
    let imds = format!("http://{}", aws.addr);
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("HOME", &home),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
        ],
    );
    wait_for("the instances", 10, || targets(&s, "ec2").len() == 7);
    let t = &targets(&s, "ec2")["10.0.1.10:80"];
    assert_eq!(t["discoveredLabels"]["__meta_ec2_region"], REGION);
    let reqs = aws.requests();
    // IMDSv2: a token, then the region and the role's credentials
    assert!(reqs
        .iter()
        .any(|r| r.method == "PUT" && r.path == "/latest/api/token"));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/latest/meta-data/placement/region"));
    assert!(reqs.iter().filter(|r| r.path == "/").all(|r| r
        .header("authorization")
        .unwrap()
        .contains("Credential=ASIAIMDS")));
    assert!(aws.refused().is_empty(), "{:?}", aws.refused());
}

#[test]
fn the_stand_in_speaks_as_boto3_expects() {
    let have = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if crate::common::must_run() {
            panic!("boto3 is not installed (scripts/test.sh installs it)");
        }
        println!("SKIP ec2::the_stand_in_speaks_as_boto3_expects: python3 -m pip install boto3");
        return;
    }
    let aws = Aws::start(2);
    fleet(&aws);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/standin/ec2_check.py");
    let out = std::process::Command::new("python3")
        .args([
            script,
            &format!("http://{}", aws.addr),
            KEYS.0,
            KEYS.1,
            ROLE.0,
            ROLE.1,
        ])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["running"],
        serde_json::json!([
            "i-0dev",
            "i-0tagged",
            "i-0web1",
            "i-0web2",
            "i-0web3",
            "i-0web4"
        ])
    );
    assert_eq!(v["pages"], 3);
    assert_eq!(v["tagged"]["tags"]["env"], "prod");
    assert_eq!(v["tagged"]["private_ip"], "10.0.1.10");
    assert_eq!(v["tagged"]["az"], "us-east-1a");
    assert_eq!(v["zones"]["us-east-1a"], "use1-az6");
    assert_eq!(v["wrong_secret"], "SignatureDoesNotMatch");
    // the first page of two
    assert_eq!(v["assumed"], 2);
}

/// The series names in the remote write bodies the stand-in took.
fn written_names(aws: &Aws) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for body in aws.remote_writes() {
        let req = flint::remote::decode_write_request(&body, 64 << 20).unwrap();
        for ts in req.timeseries {
            if let Some(l) = ts.labels.iter().find(|l| l.name == "__name__") {
                names.insert(l.value.clone());
            }
        }
    }
    names
}

#[test]
fn remote_write_to_amazon_managed_prometheus_is_signed() {
    let aws = Aws::start(100);
    let target = crate::common::MockTarget::start("amp_test_metric 42\n");
    let dir = tempfile::tempdir().unwrap();
    // keys in the configuration
    let cfg = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{}/workspaces/ws-1/api/v1/remote_write\n    sigv4:\n      region: {REGION}\n      access_key: {}\n      secret_key: {}\n    queue_config: {{batch_send_deadline: 200ms}}\n",
        target.addr, aws.addr, KEYS.0, KEYS.1
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("signed remote writes", 15, || {
        written_names(&aws).contains("amp_test_metric")
    });
    assert!(aws.refused().is_empty(), "{:?}", aws.refused());
    let r = aws
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/remote_write"))
        .unwrap();
    let auth = r.header("authorization").unwrap();
    assert!(
        auth.contains(&format!("Credential={}/", KEYS.0)) && auth.contains("/aps/aws4_request"),
        "{auth}"
    );
    // the secret is not shown
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("secret_key: <secret>") && !yaml.contains(KEYS.1),
        "{yaml}"
    );
    s.stop();

    // keys from the environment, region from the configuration
    let aws = Aws::start(100);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{}/workspaces/ws-1/api/v1/remote_write\n    sigv4:\n      region: {REGION}\n    queue_config: {{batch_send_deadline: 200ms}}\n",
        target.addr, aws.addr
    );
    let home = dir.path().display().to_string();
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("HOME", &home),
            ("AWS_ACCESS_KEY_ID", KEYS.0),
            ("AWS_SECRET_ACCESS_KEY", KEYS.1),
        ],
    );
    wait_for("signed remote writes", 15, || {
        written_names(&aws).contains("amp_test_metric")
    });
    assert!(aws.refused().is_empty(), "{:?}", aws.refused());
    s.stop();

    // a wrong secret: refused for its signature, logged, nothing taken
    let aws = Aws::start(100);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{}/workspaces/ws-1/api/v1/remote_write\n    sigv4:\n      region: {REGION}\n      access_key: {}\n      secret_key: wrong\n    queue_config: {{batch_send_deadline: 200ms}}\n",
        target.addr, aws.addr, KEYS.0
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("refused remote writes", 15, || {
        aws.refused()
            .iter()
            .any(|r| r.starts_with("SignatureDoesNotMatch"))
    });
    assert!(aws.remote_writes().is_empty());
    s.eventually(10, "the refusal in the log", || {
        s.log_text().contains("403")
    });
}
