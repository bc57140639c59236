//! Azure discovery against the stand-in of Entra ID and Resource Manager
//! at their real HTTPS names (`tests/standin/azure.rs`), reached through
//! `proxy_url` and trusted through `tls_config.ca_file`, and of the
//! instance metadata service, named by `AZURE_POD_IDENTITY_AUTHORITY_HOST`
//! as the Azure SDK reads it: machines and scale sets page by page,
//! Prometheus's labels, a discovered machine scraped, a resource group
//! alone, each authentication method, changes within the refresh interval,
//! failures that keep the targets. Remote write's `azuread` against the
//! same stand-in, its client certificate method included.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{Answer, MockReceiver, MockTarget, Server};
use crate::standin::azure::{
    Azure, Fault, Vm, CERT_CLIENT_ID, CLIENT_ID, CLIENT_SECRET, FEDERATED_TOKEN, IDENTITY_HEADER,
    MANAGED_CLIENT_ID, MONITOR_SCOPE, SUBSCRIPTION, TENANT, WORKLOAD_CLIENT_ID,
};

/// A firing alert found no Alertmanager until discovery found one: it
/// is sent again after this, not after the default minute.
const RESEND: &str = "--rules.alert.resend-delay=1s";

fn meta(t: &Value) -> BTreeMap<String, String> {
    t["discoveredLabels"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("__meta_"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (format!("__meta_azure_{k}"), v.to_string()))
        .collect()
}

/// Seven standalone machines in two resource groups (one deallocated, one
/// whose interface is gone, one at 127.0.0.1 to be scraped) and a scale
/// set of three.
fn fleet(a: &Azure) {
    let mut web = Vm::new("rg-web", "web-1", "10.0.0.4");
    web.public_ip = Some("20.50.1.7".into());
    web.tags = json!({"env": "prod", "app.kubernetes.io/name": "web"});
    a.add_vm(&web);
    a.add_vm(&Vm::new("rg-web", "web-2", "10.0.0.5"));
    let mut local = Vm::new("rg-web", "local", "127.0.0.1");
    local.tags = json!({"env": "prod"});
    a.add_vm(&local);
    let mut off = Vm::new("rg-web", "stopped", "10.0.0.6");
    off.deallocated = true;
    a.add_vm(&off);
    let mut gone = Vm::new("rg-web", "gone-nic", "10.0.0.7");
    gone.nic_missing = true;
    a.add_vm(&gone);
    a.add_vm(&Vm::new("rg-db", "db-1", "10.2.0.4"));
    a.add_vm(&Vm::new("rg-db", "db-2", "10.2.0.5"));
    a.add_scale_set("rg-pool", "pool", &["10.1.0.4", "10.1.0.5", "10.1.0.6"]);
}

#[test]
fn machines_and_scale_sets_by_client_secret() {
    let a = Azure::start();
    fleet(&a);
    let mock = MockTarget::start("app_up 1\n");
    let port = mock.addr.rsplit(':').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: azure
    azure_sd_configs:
      - subscription_id: {SUBSCRIPTION}
        tenant_id: {TENANT}
        client_id: {CLIENT_ID}
        client_secret: '{CLIENT_SECRET}'
        port: {port}
        refresh_interval: 500ms
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
  - job_name: db
    azure_sd_configs:
      - subscription_id: {SUBSCRIPTION}
        environment: AzureCloud
        authentication_method: OAuth
        tenant_id: {TENANT}
        client_id: {CLIENT_ID}
        client_secret: '{CLIENT_SECRET}'
        resource_group: rg-db
        refresh_interval: 500ms
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
",
        proxy = a.proxy
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    // 7 machines less the deallocated one and the one without interface,
    // and the scale set's 3
    wait_for("8 machines", 10, || targets(&s, "azure").len() == 8);
    let all = targets(&s, "azure");
    let want: BTreeSet<String> = [
        "10.0.0.4",
        "10.0.0.5",
        "127.0.0.1",
        "10.2.0.4",
        "10.2.0.5",
        "10.1.0.4",
        "10.1.0.5",
        "10.1.0.6",
    ]
    .iter()
    .map(|ip| format!("{ip}:{port}"))
    .collect();
    assert_eq!(all.keys().cloned().collect::<BTreeSet<_>>(), want);

    let web = &all[&format!("10.0.0.4:{port}")];
    let id = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-1");
    assert_eq!(
        meta(web),
        labels(&[
            ("subscription_id", SUBSCRIPTION),
            ("tenant_id", TENANT),
            ("machine_id", &id),
            ("machine_name", "web-1"),
            ("machine_computer_name", "web-1-host"),
            ("machine_os_type", "Linux"),
            ("machine_location", "westeurope"),
            ("machine_resource_group", "rg-web"),
            ("machine_size", "Standard_B2s"),
            ("machine_private_ip", "10.0.0.4"),
            ("machine_public_ip", "20.50.1.7"),
            ("machine_tag_env", "prod"),
            ("machine_tag_app_kubernetes_io_name", "web"),
        ])
    );
    assert_eq!(web["labels"]["job"], "azure");
    let ss = &all[&format!("10.1.0.5:{port}")];
    let id = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-pool/providers/Microsoft.Compute/virtualMachineScaleSets/pool/virtualMachines/1");
    assert_eq!(
        meta(ss),
        labels(&[
            ("subscription_id", SUBSCRIPTION),
            ("tenant_id", TENANT),
            ("machine_id", &id),
            ("machine_name", "pool_1"),
            ("machine_computer_name", "pool000001"),
            ("machine_os_type", "Windows"),
            ("machine_location", "westeurope"),
            ("machine_resource_group", "rg-pool"),
            ("machine_scale_set", "pool"),
            ("machine_private_ip", "10.1.0.5"),
            ("machine_tag_pool", "pool"),
        ])
    );

    // the machine at 127.0.0.1 is scraped
    s.eventually(10, "the discovered machine scraped", || {
        s.value(&format!(
            "up{{job=\"azure\",instance=\"127.0.0.1:{port}\"}}"
        )) == Some(1.0)
            && s.value("app_up{job=\"azure\"}") == Some(1.0)
    });

    // one resource group alone, at the default port
    wait_for("the two db machines", 10, || targets(&s, "db").len() == 2);
    let db = targets(&s, "db");
    assert!(
        db.contains_key("10.2.0.4:80") && db.contains_key("10.2.0.5:80"),
        "{db:?}"
    );

    // the real names through the proxy, lists page by page, interfaces
    // expanded, scale set interfaces at their API version
    let connects: BTreeSet<String> = a.connects().into_iter().collect();
    assert!(
        connects.contains("login.microsoftonline.com:443"),
        "{connects:?}"
    );
    assert!(
        connects.contains("management.azure.com:443"),
        "{connects:?}"
    );
    let reqs = a.requests();
    let vm_pages: BTreeSet<Option<String>> = reqs
        .iter()
        .filter(|r| {
            r.path
                == format!(
                    "/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Compute/virtualMachines"
                )
        })
        .map(|r| r.param("$skiptoken").map(str::to_string))
        .collect();
    assert_eq!(
        vm_pages,
        [None, Some("2".into()), Some("4".into()), Some("6".into())]
            .into_iter()
            .collect()
    );
    assert!(reqs.iter().any(|r| r.path
        == format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-db/providers/Microsoft.Compute/virtualMachines")));
    assert!(reqs.iter().any(|r| r
        .path
        .ends_with("/virtualMachineScaleSets/pool/virtualMachines")));
    let nic_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.contains("networkInterfaces"))
        .collect();
    assert!(nic_reqs
        .iter()
        .all(|r| r.param("$expand") == Some("IPConfigurations/PublicIPAddress")));
    assert!(nic_reqs
        .iter()
        .any(|r| r.path.contains("virtualMachineScaleSets")));
    // interfaces are kept: web-1's asked for once by each job in a second
    // of refreshes every 500 ms
    std::thread::sleep(Duration::from_secs(1));
    let web1 = a
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/networkInterfaces/web-1-nic"))
        .count();
    assert_eq!(web1, 1);
    // one token per job, kept
    assert_eq!(a.tokens_issued(), 2);
    let (_, body) = crate::common::http_get(&s.addr, "/metrics").unwrap();
    assert!(
        body.contains("prometheus_sd_azure_cache_hit_total "),
        "{body}"
    );

    // a machine more, one less, within the refresh interval
    a.add_vm(&Vm::new("rg-web", "new", "10.0.0.99"));
    let took = wait_for("the new machine", 5, || {
        targets(&s, "azure").contains_key(&format!("10.0.0.99:{port}"))
    });
    println!("azure: a new machine appeared in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    a.remove_vm("web-2");
    let took = wait_for("web-2 gone", 5, || {
        !targets(&s, "azure").contains_key(&format!("10.0.0.5:{port}"))
    });
    println!("azure: a removed machine went in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // failures keep the targets, one line per cause, in Azure's words
    for (fault, cause) in [
        (Fault::Throttled, "TooManyRequests"),
        (Fault::ServerError, "InternalServerError"),
    ] {
        a.set_fault(fault);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(targets(&s, "azure").len(), 8, "under {fault:?}");
        assert_eq!(targets(&s, "db").len(), 2, "under {fault:?}");
        let log = s.log_text();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("discovery=azure") && l.contains(cause))
            .collect();
        // one line per job
        assert_eq!(lines.len(), 2, "{cause}:\n{log}");
        assert!(
            lines[0].contains("could not get virtual machines: could not list virtual machines"),
            "{}",
            lines[0]
        );
    }
    a.set_fault(Fault::None);
    // a revoked token: refused once, then a new one
    a.revoke_tokens();
    a.add_vm(&Vm::new("rg-web", "after", "10.0.0.100"));
    wait_for("a machine after a new token", 10, || {
        targets(&s, "azure").contains_key(&format!("10.0.0.100:{port}"))
    });
    assert!(a.tokens_issued() >= 3);
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(!yaml.contains(CLIENT_SECRET), "{yaml}");
    assert!(yaml.contains("azure_sd_configs"), "{yaml}");
}

#[test]
fn managed_identity_workload_identity_and_sdk() {
    let a = Azure::start();
    a.add_vm(&Vm::new("rg-a", "vm-a", "10.3.0.4"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, format!("{FEDERATED_TOKEN}\n")).unwrap();
    let job = |name: &str, auth: &str| {
        format!(
            "  - job_name: {name}
    azure_sd_configs:
      - subscription_id: {SUBSCRIPTION}
        {auth}
        refresh_interval: 500ms
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
",
            proxy = a.proxy
        )
    };
    let cfg = format!(
        "scrape_configs:\n{}{}{}{}",
        job("system", "authentication_method: ManagedIdentity"),
        job(
            "user",
            &format!("authentication_method: ManagedIdentity\n        client_id: {MANAGED_CLIENT_ID}")
        ),
        job(
            "stranger",
            "authentication_method: ManagedIdentity\n        client_id: 00000000-0000-0000-0000-000000000000"
        ),
        job("workload", "authentication_method: WorkloadIdentity"),
    );
    let imds = format!("http://{}", a.imds);
    let tf = token_file.display().to_string();
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds),
            ("AZURE_CLIENT_ID", WORKLOAD_CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_FEDERATED_TOKEN_FILE", &tf),
        ],
    );
    for job in ["system", "user", "workload"] {
        wait_for(job, 10, || targets(&s, job).contains_key("10.3.0.4:80"));
    }
    let t = &targets(&s, "user")["10.3.0.4:80"];
    // no tenant configured: no tenant label
    assert!(!meta(t).contains_key("__meta_azure_tenant_id"), "{t}");
    assert_eq!(meta(t)["__meta_azure_subscription_id"], SUBSCRIPTION);
    s.eventually(10, "the unknown identity logged", || {
        s.log_text().contains("Identity not found")
    });
    assert!(targets(&s, "stranger").is_empty());
    let imds_reqs: Vec<_> = a
        .requests()
        .into_iter()
        .filter(|r| r.path == "/metadata/identity/oauth2/token")
        .collect();
    assert!(imds_reqs
        .iter()
        .all(|r| r.header("metadata") == Some("true")));
    assert!(imds_reqs
        .iter()
        .any(|r| r.param("client_id") == Some(MANAGED_CLIENT_ID)));
    assert!(imds_reqs.iter().any(|r| r.param("client_id").is_none()));
    let log = s.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("discovery=azure"))
        .count();
    assert_eq!(lines, 1, "{log}");
    drop(s);

    // SDK: the client secret of the environment first
    let cfg = format!(
        "scrape_configs:\n{}",
        job("sdk", "authentication_method: SDK")
    );
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds),
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
        ],
    );
    wait_for("sdk", 10, || targets(&s, "sdk").contains_key("10.3.0.4:80"));
    drop(s);
    // SDK: nothing in the environment but the metadata service
    let before = a.requests().len();
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds)],
    );
    wait_for("sdk by managed identity", 10, || {
        targets(&s, "sdk").contains_key("10.3.0.4:80")
    });
    assert!(a.requests()[before..]
        .iter()
        .any(|r| r.path == "/metadata/identity/oauth2/token"));
    drop(s);

    // managed identity on App Service: its endpoint and header
    let before = a.requests().len();
    let endpoint = format!("http://{}/msi/token", a.imds);
    let cfg = format!(
        "scrape_configs:\n{}",
        job("app", "authentication_method: ManagedIdentity")
    );
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
        ],
    );
    wait_for("app service identity", 10, || {
        targets(&s, "app").contains_key("10.3.0.4:80")
    });
    let reqs = a.requests();
    let asked: Vec<_> = reqs[before..]
        .iter()
        .filter(|r| r.path == "/msi/token")
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("api-version"), Some("2019-08-01"));
}

#[test]
fn alertmanagers_on_azure_machines() {
    let a = Azure::start();
    let am = MockReceiver::start(Answer::status(200));
    let port = am.addr.rsplit(':').next().unwrap().to_string();
    a.add_vm(&Vm::new("rg-am", "alertmanager-0", "127.0.0.1"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
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
    - azure_sd_configs:
        - subscription_id: {SUBSCRIPTION}
          tenant_id: {TENANT}
          client_id: {CLIENT_ID}
          client_secret: '{CLIENT_SECRET}'
          resource_group: rg-am
          port: {port}
          refresh_interval: 500ms
          proxy_url: http://{proxy}
          tls_config: {{ca_file: ca.pem}}
      relabel_configs:
        - source_labels: [__meta_azure_machine_name]
          regex: alertmanager-.*
          action: keep
",
        proxy = a.proxy
    );
    let s = Server::start(dir.path(), &cfg, &[RESEND]);
    let want = format!("http://127.0.0.1:{port}/api/v2/alerts");
    s.eventually(10, "the Alertmanager on an Azure machine", || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|x| x.iter().any(|m| m["url"] == want.as_str()))
    });
    s.eventually(15, "an alert sent", || {
        am.requests().iter().any(|r| {
            r.path == "/api/v2/alerts" && String::from_utf8_lossy(&r.body).contains("Always")
        })
    });
}

#[test]
fn a_wrong_secret_is_logged_and_finds_nothing() {
    let a = Azure::start();
    a.add_vm(&Vm::new("rg-a", "vm-a", "10.3.0.4"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: azure\n    azure_sd_configs:\n      - subscription_id: {SUBSCRIPTION}\n        tenant_id: {TENANT}\n        client_id: {CLIENT_ID}\n        client_secret: wrong\n        refresh_interval: 200ms\n        proxy_url: http://{}\n        tls_config: {{ca_file: ca.pem}}\n  - job_name: mars\n    azure_sd_configs:\n      - subscription_id: {SUBSCRIPTION}\n        environment: MarsCloud\n        authentication_method: ManagedIdentity\n",
        a.proxy
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the error logged", || {
        s.log_text().contains("AADSTS7000215")
            && s.log_text()
                .contains("there is no cloud configuration matching the name")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(targets(&s, "azure").is_empty());
    let log = s.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("discovery=azure"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ClientSecretCredential: authentication failed")),
        "{log}"
    );
}

#[test]
fn bad_entries_are_refused_in_prometheus_words() {
    let dir = tempfile::tempdir().unwrap();
    for (entry, want) in [
        (
            "{tenant_id: t}",
            "azure SD configuration requires a subscription_id",
        ),
        (
            "{subscription_id: s, tenant_id: t, client_id: c}",
            "azure SD configuration requires a client_secret",
        ),
        (
            "{subscription_id: s, authentication_method: Cert}",
            "unknown authentication_type \\\"Cert\\\"",
        ),
    ] {
        let (status, err) = crate::common::refused(
            dir.path(),
            &format!("alerting:\n  alertmanagers:\n    - azure_sd_configs: [{entry}]\n"),
        );
        assert_eq!(status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{entry}: {err}");
    }
}

#[test]
fn remote_write_with_entra_id_tokens() {
    let a = Azure::start();
    let mock = MockTarget::start("app_up 1\n");
    let by_secret = MockReceiver::start(Answer::status(204));
    let by_identity = MockReceiver::start(Answer::status(204));
    let refused = MockReceiver::start(Answer::status(204));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{target}']}}]
remote_write:
  - url: http://{r1}/api/v1/write
    name: secret
    proxy_url: http://{proxy}
    no_proxy: 127.0.0.1
    tls_config: {{ca_file: ca.pem}}
    queue_config: {{batch_send_deadline: 200ms}}
    azuread:
      oauth: {{client_id: {CLIENT_ID}, client_secret: '{CLIENT_SECRET}', tenant_id: {TENANT}}}
  - url: http://{r2}/api/v1/write
    name: identity
    queue_config: {{batch_send_deadline: 200ms}}
    azuread:
      cloud: AzurePublic
      managed_identity: {{client_id: {MANAGED_CLIENT_ID}}}
  - url: http://{r3}/api/v1/write
    name: wrong
    proxy_url: http://{proxy}
    no_proxy: 127.0.0.1
    tls_config: {{ca_file: ca.pem}}
    queue_config: {{batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 200ms}}
    azuread:
      oauth: {{client_id: {CLIENT_ID}, client_secret: wrong, tenant_id: {TENANT}}}
",
        target = mock.addr,
        r1 = by_secret.addr,
        r2 = by_identity.addr,
        r3 = refused.addr,
        proxy = a.proxy
    );
    let imds = format!("http://{}", a.imds);
    let s = Server::start_env(
        dir.path(),
        &cfg,
        &[],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds)],
    );
    for rx in [&by_secret, &by_identity] {
        s.eventually(15, "samples sent with a token", || {
            rx.requests().iter().any(|r| r.path == "/api/v1/write")
        });
        let tokens: BTreeSet<String> = rx
            .requests()
            .iter()
            .map(|r| {
                r.header("authorization")
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .expect("a bearer token")
                    .to_string()
            })
            .collect();
        // one token, kept, for Azure Monitor
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        let t = tokens.iter().next().unwrap();
        assert_eq!(a.token_scope(t).as_deref(), Some(MONITOR_SCOPE));
    }
    // the refused secret: nothing sent, Entra ID's words in the log
    s.eventually(10, "the refused secret logged", || {
        s.log_text().contains("AADSTS7000215")
    });
    assert!(refused.requests().is_empty());
    assert!(
        s.log_text().contains("Failed to get access token"),
        "{}",
        s.log_text()
    );
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(!yaml.contains(CLIENT_SECRET), "{yaml}");
    assert!(yaml.contains("azuread"), "{yaml}");
}

/// A self-signed certificate and its RSA key made by openssl, as
/// `<name>.crt` and `<name>.key` in `dir`, and both in `<name>.pem`; `None`
/// (the test skips) without openssl.
fn rsa_certificate(dir: &std::path::Path, name: &str) -> Option<String> {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={name}"), "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let cert = std::fs::read_to_string(&cert).unwrap();
            let both = format!("{cert}{}", std::fs::read_to_string(&key).unwrap());
            std::fs::write(dir.join(format!("{name}.pem")), both).unwrap();
            Some(cert)
        }
        _ if crate::common::must_run() => panic!("openssl is needed to make RSA certificates"),
        _ => None,
    }
}

/// The SHA-1 fingerprint openssl gives a certificate file, base64url.
fn openssl_thumbprint(cert: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.trim().rsplit('=').next().unwrap().replace(':', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    crate::common::base64_encode(&bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

#[test]
fn remote_write_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cert) = rsa_certificate(dir.path(), "app") else {
        println!("SKIP azure::remote_write_with_a_client_certificate: openssl not found");
        return;
    };
    rsa_certificate(dir.path(), "other").unwrap();
    let a = Azure::start();
    let thumbprint = a.register_certificate(&cert);
    assert_eq!(thumbprint, openssl_thumbprint(&dir.path().join("app.crt")));
    let mock = MockTarget::start("app_up 1\n");
    let one_file = MockReceiver::start(Answer::status(204));
    let key_apart = MockReceiver::start(Answer::status(204));
    let unregistered = MockReceiver::start(Answer::status(204));
    std::fs::write(dir.path().join("ca.pem"), &a.ca_pem).unwrap();
    let entry = |name: &str, rx: &MockReceiver, cert: &str| {
        format!(
            "  - url: http://{}/api/v1/write
    name: {name}
    proxy_url: http://{}
    no_proxy: 127.0.0.1
    tls_config: {{ca_file: ca.pem}}
    queue_config: {{batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 200ms}}
    azuread:
      cloud: AzurePublic
      certificate: {{client_id: {CERT_CLIENT_ID}, tenant_id: {TENANT}, {cert}}}
",
            rx.addr, a.proxy
        )
    };
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{}']}}]
remote_write:
{}{}{}",
        mock.addr,
        entry("one-file", &one_file, "certificate_path: app.pem"),
        entry(
            "key-apart",
            &key_apart,
            "certificate_path: app.crt, certificate_key_path: app.key, send_certificate_chain: true"
        ),
        entry("unregistered", &unregistered, "certificate_path: other.pem"),
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    for rx in [&one_file, &key_apart] {
        s.eventually(15, "samples sent with a token", || {
            rx.requests().iter().any(|r| r.path == "/api/v1/write")
        });
        let tokens: BTreeSet<String> = rx
            .requests()
            .iter()
            .map(|r| {
                r.header("authorization")
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .expect("a bearer token")
                    .to_string()
            })
            .collect();
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        let t = tokens.iter().next().unwrap();
        assert_eq!(a.token_scope(t).as_deref(), Some(MONITOR_SCOPE));
    }
    // the stand-in verified each assertion's signature with the
    // certificate's public key; one entry sent the certificate along
    let headers = a.cert_assertions();
    assert_eq!(headers.len(), 2, "{headers:?}");
    assert!(headers.iter().all(|h| h["x5t"] == thumbprint.as_str()));
    assert_eq!(
        headers.iter().filter(|h| h.get("x5c").is_some()).count(),
        1,
        "{headers:?}"
    );
    // a certificate Entra ID does not know: nothing sent, its words logged
    s.eventually(10, "the unregistered certificate logged", || {
        s.log_text().contains("AADSTS700027")
    });
    assert!(unregistered.requests().is_empty());
}

#[test]
fn client_certificates_flint_cannot_read_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    if rsa_certificate(dir.path(), "app").is_none() {
        println!(
            "SKIP azure::client_certificates_flint_cannot_read_are_refused: openssl not found"
        );
        return;
    }
    let p12 = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:pw", "-in"])
        .arg(dir.path().join("app.crt"))
        .arg("-inkey")
        .arg(dir.path().join("app.key"))
        .arg("-out")
        .arg(dir.path().join("app.pfx"))
        .output()
        .unwrap();
    assert!(
        p12.status.success(),
        "{}",
        String::from_utf8_lossy(&p12.stderr)
    );
    for (cert, want) in [
        (
            "certificate_path: app.pfx, certificate_password: pw",
            "failed to parse certificate data: certificate_password is for PKCS #12 (PFX) files, which flint does not read",
        ),
        (
            "certificate_path: app.pfx",
            "failed to parse certificate data: no PEM data found; PKCS #12 (PFX) files are not read by flint",
        ),
        (
            "certificate_path: app.crt",
            "failed to parse certificate data: no private key found",
        ),
        (
            "certificate_path: app.crt, certificate_key_path: gone.key",
            "failed to read private key file ",
        ),
        (
            "certificate_path: gone.pem",
            "failed to read certificate file ",
        ),
    ] {
        let (status, err) = crate::common::refused(
            dir.path(),
            &format!(
                "remote_write:\n  - url: http://127.0.0.1:9/api/v1/write\n    azuread:\n      certificate: {{client_id: {CERT_CLIENT_ID}, tenant_id: {TENANT}, {cert}}}\n"
            ),
        );
        assert!(!status.success(), "{cert}: {err}");
        assert!(err.contains(want), "{cert}: {err}");
    }
}
