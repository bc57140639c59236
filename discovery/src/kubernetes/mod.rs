//! `kubernetes_sd_configs`: targets from the Kubernetes API server, for
//! the roles `node`, `pod`, `service`, `endpoints`, `endpointslice` and
//! `ingress`, with Prometheus's `__meta_kubernetes_*` labels.
//!
//! Each entry watches the collections its role needs ([`informer`]),
//! shared with other entries asking for the same ones; once every one has
//! been listed, and then within about 50 ms of each change, the role's
//! target groups are made again from the copies ([`roles`]) and handed to
//! discovery's sink, one source per object (`kubernetes/<i>/pod/ns/name`).
//! The groups of an object are made again only when it, or an object they
//! were made with (its service, its pods, their nodes, …), has changed.

pub mod client;
pub mod config;
pub mod informer;
pub mod roles;
pub mod selector;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use config::{KubernetesSdConfig, Role};

use super::{Sink, TargetGroup};
use client::ApiClient;
use informer::{Informer, Watched};
use roles::Objects;

/// How long changes are gathered before the groups are made again.
const SETTLE: Duration = Duration::from_millis(50);

fn collection(api: &str, ns: &str, plural: &str) -> String {
    if ns.is_empty() {
        format!("{api}/{plural}")
    } else {
        format!("{api}/namespaces/{ns}/{plural}")
    }
}

const CORE: &str = "/api/v1";
const DISCOVERY: &str = "/apis/discovery.k8s.io/v1";
const NETWORKING: &str = "/apis/networking.k8s.io/v1";
const APPS: &str = "/apis/apps/v1";
const BATCH: &str = "/apis/batch/v1";

/// The informers of one entry, by what they hold.
struct Sources {
    main: Vec<Arc<Informer>>,
    nodes: Option<Arc<Informer>>,
    namespaces: Option<Arc<Informer>>,
    services: Vec<Arc<Informer>>,
    pods: Vec<Arc<Informer>>,
    replicasets: Vec<Arc<Informer>>,
    jobs: Vec<Arc<Informer>>,
}

impl Sources {
    fn all(&self) -> Vec<&Arc<Informer>> {
        let mut v: Vec<&Arc<Informer>> = self.main.iter().collect();
        v.extend(self.nodes.iter());
        v.extend(self.namespaces.iter());
        v.extend(self.services.iter());
        v.extend(self.pods.iter());
        v.extend(self.replicasets.iter());
        v.extend(self.jobs.iter());
        v
    }

    fn objects(&self) -> Objects {
        let by_key = |list: &[Arc<Informer>]| {
            list.iter()
                .flat_map(|i| i.objects())
                .map(|o| (informer::object_key(&o), o))
                .collect()
        };
        let mut o = Objects::default();
        o.main = self.main.iter().flat_map(|i| i.objects()).collect();
        if let Some(n) = &self.nodes {
            o.nodes = by_key(std::slice::from_ref(n));
        }
        if let Some(n) = &self.namespaces {
            o.namespaces = by_key(std::slice::from_ref(n));
        }
        o.services = by_key(&self.services);
        o.pods = by_key(&self.pods);
        o.replicasets = by_key(&self.replicasets);
        o.jobs = by_key(&self.jobs);
        o
    }
}

/// Starts the informers `cfg` needs on `client`.
fn informers(cfg: &KubernetesSdConfig, client: &Arc<ApiClient>, namespaces: &[String]) -> Sources {
    let role = cfg.role();
    let a = &cfg.attach_metadata;
    let sel = |kind: Role| {
        cfg.selector(kind)
            .map(|s| (s.label.clone(), s.field.clone()))
            .unwrap_or_default()
    };
    let watch = |path: String, kind: Role| {
        let (label, field) = sel(kind);
        informer::shared(
            client,
            Watched {
                path,
                label,
                field,
                kind: kind.name(),
            },
        )
    };
    let plain = |path: String, kind: &'static str| {
        informer::shared(
            client,
            Watched {
                path,
                label: String::new(),
                field: String::new(),
                kind,
            },
        )
    };
    let per_ns = |api: &str, plural: &str, kind: Role| -> Vec<Arc<Informer>> {
        namespaces
            .iter()
            .map(|ns| watch(collection(api, ns, plural), kind))
            .collect()
    };
    let per_ns_plain = |api: &str, plural: &str, kind: &'static str| -> Vec<Arc<Informer>> {
        namespaces
            .iter()
            .map(|ns| plain(collection(api, ns, plural), kind))
            .collect()
    };
    let pod_role = matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice);
    let mut s = Sources {
        main: Vec::new(),
        nodes: None,
        namespaces: None,
        services: Vec::new(),
        pods: Vec::new(),
        replicasets: Vec::new(),
        jobs: Vec::new(),
    };
    match role {
        Role::Node => s.main.push(watch(format!("{CORE}/nodes"), Role::Node)),
        Role::Pod => s.main = per_ns(CORE, "pods", Role::Pod),
        Role::Service => s.main = per_ns(CORE, "services", Role::Service),
        Role::Endpoints => {
            s.main = per_ns(CORE, "endpoints", Role::Endpoints);
            s.services = per_ns(CORE, "services", Role::Service);
            s.pods = per_ns(CORE, "pods", Role::Pod);
        }
        Role::EndpointSlice => {
            s.main = per_ns(DISCOVERY, "endpointslices", Role::EndpointSlice);
            s.services = per_ns(CORE, "services", Role::Service);
            s.pods = per_ns(CORE, "pods", Role::Pod);
        }
        Role::Ingress => s.main = per_ns(NETWORKING, "ingresses", Role::Ingress),
    }
    if pod_role && a.node {
        s.nodes = Some(watch(format!("{CORE}/nodes"), Role::Node));
    }
    if role != Role::Node && a.namespace {
        s.namespaces = Some(plain(format!("{CORE}/namespaces"), "namespace"));
    }
    if pod_role && a.deployment {
        s.replicasets = per_ns_plain(APPS, "replicasets", "replicaset");
    }
    if pod_role && (a.job || a.cronjob) {
        s.jobs = per_ns_plain(BATCH, "jobs", "job");
    }
    s
}

/// The role's groups of the objects `main`.
fn groups_of(
    cfg: &KubernetesSdConfig,
    objs: &Objects,
    main: &[Arc<serde_json::Value>],
) -> Vec<(String, TargetGroup)> {
    let a = &cfg.attach_metadata;
    match cfg.role() {
        Role::Node => objs.nodes_groups(main),
        Role::Pod => objs.pods_groups(main, a),
        Role::Service => objs.services_groups(main, a),
        Role::Endpoints => objs.endpoints_groups(main, a),
        Role::EndpointSlice => objs.endpointslices_groups(main, a),
        Role::Ingress => objs.ingresses_groups(main, a),
    }
}

/// Runs entry `index` of a job (or Alertmanager set), handing its groups
/// to `sink` under `kubernetes/<index>/`, until the sink is gone.
pub async fn run(index: usize, cfg: KubernetesSdConfig, base: std::path::PathBuf, sink: Sink) {
    let client = match ApiClient::new(&cfg, &base) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "kubernetes", err = %e, "Cannot create Kubernetes discovery");
            return;
        }
    };
    let mut namespaces = cfg.namespaces.names.clone();
    if cfg.namespaces.own_namespace {
        match client::own_namespace(Path::new(client::SERVICE_ACCOUNT_DIR)) {
            Ok(ns) => namespaces.push(ns),
            Err(e) => {
                tracing::error!(component = "discovery manager", discovery = "kubernetes", err = %e, "Cannot create Kubernetes discovery");
                return;
            }
        }
    }
    if namespaces.is_empty() || cfg.role() == Role::Node {
        namespaces = vec![String::new()];
    }
    let sources = informers(&cfg, &client, &namespaces);
    // any change of any collection wakes the loop (the forwarders end when
    // their informer does)
    let notify = Arc::new(tokio::sync::Notify::new());
    for inf in sources.all() {
        let mut rx = inf.subscribe();
        let n = Arc::clone(&notify);
        tokio::spawn(async move {
            n.notify_one();
            while rx.changed().await.is_ok() {
                n.notify_one();
            }
        });
    }
    let prefix = format!("kubernetes/{index}/");
    let mut sent = false;
    let mut made = roles::Made::default();
    loop {
        notify.notified().await;
        tokio::time::sleep(SETTLE).await;
        if !sources.all().iter().all(|i| i.synced()) {
            continue;
        }
        let objs = sources.objects();
        let (groups, changed) = objs.groups(&mut made, |objs, main| groups_of(&cfg, objs, main));
        if sent && !changed {
            continue;
        }
        sent = true;
        let keyed: Vec<(String, Vec<TargetGroup>)> = groups
            .into_iter()
            .map(|(src, g)| (format!("{prefix}{src}"), vec![g]))
            .collect();
        if !sink(&prefix, keyed) {
            return;
        }
    }
}
