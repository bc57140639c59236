//! A stand-in for the Kubernetes API server, serving list and watch as the
//! real one does: `<Kind>List` answers with `metadata.resourceVersion`,
//! watches as chunked streams of newline-separated JSON events (`ADDED`,
//! `MODIFIED`, `DELETED`, `BOOKMARK`) from a resource version, an `ERROR`
//! event with a 410 `Status` for a version older than the history it keeps,
//! `timeoutSeconds`, label and field selectors, and 422 for
//! `sendInitialEvents` (as a server without the WatchList feature). It can
//! be told to fail: 401, 403, garbage, or watches cut every second.
//!
//! `tests/kube/client_check.py` checks it with the official Python client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How the stand-in misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// It does not.
    None,
    /// Every request: 401 Unauthorized.
    Unauthorized,
    /// Every request: 403 Forbidden.
    Forbidden,
    /// Lists and watches answer bytes that are not JSON.
    Garbage,
    /// Watches are cut after a second (and a bookmark).
    ShortWatches,
}

struct Event {
    rv: u64,
    kind: &'static str,
    collection: String,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    /// collection path (namespaced form) → name → object
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    history: Vec<Event>,
    /// events older than this are forgotten (410 for a watch from before)
    oldest_rv: u64,
    requests: Vec<String>,
    /// The Authorization header of each request ("" when none).
    authorizations: Vec<String>,
    watches_open: usize,
    /// Bumped to cut every open watch.
    cuts: u64,
}

/// The stand-in, serving on `addr` until dropped.
pub struct KubeApi {
    pub addr: String,
    state: Arc<(Mutex<State>, Condvar)>,
    fault: Arc<Mutex<Fault>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

fn kind_of(plural: &str) -> (&'static str, &'static str) {
    match plural {
        "pods" => ("Pod", "v1"),
        "services" => ("Service", "v1"),
        "endpoints" => ("Endpoints", "v1"),
        "nodes" => ("Node", "v1"),
        "namespaces" => ("Namespace", "v1"),
        "endpointslices" => ("EndpointSlice", "discovery.k8s.io/v1"),
        "ingresses" => ("Ingress", "networking.k8s.io/v1"),
        "replicasets" => ("ReplicaSet", "apps/v1"),
        "jobs" => ("Job", "batch/v1"),
        _ => ("Unknown", "v1"),
    }
}

/// `(api prefix, namespace or "", plural)` of a collection path.
fn split_path(path: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api, rest) = if parts.first() == Some(&"api") {
        (format!("/api/{}", parts.get(1)?), &parts[2..])
    } else if parts.first() == Some(&"apis") {
        (
            format!("/apis/{}/{}", parts.get(1)?, parts.get(2)?),
            &parts[3..],
        )
    } else {
        return None;
    };
    match rest {
        ["namespaces", ns, plural] => Some((api, ns.to_string(), plural.to_string())),
        [plural] => Some((api, String::new(), plural.to_string())),
        _ => None,
    }
}

fn selector_matches(o: &Value, label: &str, field: &str) -> bool {
    for req in label.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let labels = &o["metadata"]["labels"];
        let ok = if let Some((k, v)) = req.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = req.split_once('=') {
            labels[k.trim().trim_end_matches('=')].as_str()
                == Some(v.trim().trim_start_matches('='))
        } else if let Some(k) = req.strip_prefix('!') {
            labels[k.trim()].is_null()
        } else {
            !labels[req].is_null()
        };
        if !ok {
            return false;
        }
    }
    for req in field.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let (k, v, eq) = match req.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match req.split_once('=') {
                Some((k, v)) => (k, v.trim_start_matches('='), true),
                None => return false,
            },
        };
        let mut cur = o;
        for p in k.trim().split('.') {
            cur = &cur[p];
        }
        if (cur.as_str() == Some(v.trim())) != eq {
            return false;
        }
    }
    true
}

fn query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), pct_decode(v)))
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(code: u16, reason: &str, msg: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": msg, "reason": reason, "code": code})
}

fn respond(s: &mut TcpStream, code: u16, body: &str) {
    let text = match code {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        422 => "Unprocessable Entity",
        _ => "Error",
    };
    let _ = write!(
        s,
        "HTTP/1.1 {code} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let state = Arc::new((
            Mutex::new(State {
                rv: 1000,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let fault = Arc::new(Mutex::new(Fault::None));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (st, fa, sp) = (Arc::clone(&state), Arc::clone(&fault), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let Ok(c) = conn else { continue };
                let (st, fa, sp) = (Arc::clone(&st), Arc::clone(&fa), Arc::clone(&sp));
                std::thread::spawn(move || serve(c, st, fa, sp));
            }
        });
        KubeApi {
            addr,
            state,
            fault,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets how the server misbehaves from now on; open watches are cut,
    /// so that the next requests meet the fault.
    pub fn set_fault(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
        self.cut_watches();
    }

    /// Ends every open watch (as an API server restarting does).
    pub fn cut_watches(&self) {
        let (m, c) = &*self.state;
        m.lock().unwrap().cuts += 1;
        c.notify_all();
    }

    /// The request lines received (method, path and query).
    pub fn requests(&self) -> Vec<String> {
        self.state.0.lock().unwrap().requests.clone()
    }

    /// The Authorization header of each request, in order ("" for none).
    pub fn authorizations(&self) -> Vec<String> {
        self.state.0.lock().unwrap().authorizations.clone()
    }

    /// Watches open now.
    pub fn watches_open(&self) -> usize {
        self.state.0.lock().unwrap().watches_open
    }

    /// Forgets the history before now and cuts the open watches: watches
    /// started again from older versions get 410.
    pub fn compact(&self) {
        let (m, c) = &*self.state;
        let mut st = m.lock().unwrap();
        st.history.clear();
        st.oldest_rv = st.rv;
        st.cuts += 1;
        c.notify_all();
    }

    /// Adds or replaces an object in the collection at `path` (namespaced
    /// form for namespaced kinds); returns its resource version.
    pub fn put(&self, path: &str, mut object: Value) -> u64 {
        let (m, c) = &*self.state;
        let mut st = m.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let (_, ns, plural) = split_path(path).unwrap();
        let (kind, api_version) = kind_of(&plural);
        object["kind"] = json!(kind);
        object["apiVersion"] = json!(api_version);
        if !ns.is_empty() {
            object["metadata"]["namespace"] = json!(ns);
        }
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(format!("uid-{name}-{rv}"));
        }
        let coll = st.objects.entry(path.to_string()).or_default();
        let kind_ev = if coll.insert(name, object.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        st.history.push(Event {
            rv,
            kind: kind_ev,
            collection: path.to_string(),
            object,
        });
        c.notify_all();
        rv
    }

    /// Deletes an object.
    pub fn delete(&self, path: &str, name: &str) {
        let (m, c) = &*self.state;
        let mut st = m.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        let Some(mut object) = st.objects.get_mut(path).and_then(|o| o.remove(name)) else {
            return;
        };
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        st.history.push(Event {
            rv,
            kind: "DELETED",
            collection: path.to_string(),
            object,
        });
        c.notify_all();
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.state.1.notify_all();
        let _ = TcpStream::connect(&self.addr);
    }
}

/// Whether an object of collection `coll` belongs in a request for
/// `(api, ns, plural)` (all namespaces when `ns` is empty).
fn in_request(coll: &str, api: &str, ns: &str, plural: &str) -> bool {
    match split_path(coll) {
        Some((a, n, p)) => a == api && p == plural && (ns.is_empty() || n == ns),
        None => false,
    }
}

fn serve(
    mut s: TcpStream,
    state: Arc<(Mutex<State>, Condvar)>,
    fault: Arc<Mutex<Fault>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = v.trim().to_string();
            }
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    {
        let mut st = state.0.lock().unwrap();
        st.requests.push(target.clone());
        st.authorizations.push(auth);
    }
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let q = query(q);
    match *fault.lock().unwrap() {
        Fault::Unauthorized => {
            return respond(&mut s, 401, &status(401, "Unauthorized", "Unauthorized").to_string())
        }
        Fault::Forbidden => {
            return respond(
                &mut s,
                403,
                &status(403, "Forbidden", "pods is forbidden: User \"system:serviceaccount:monitoring:flint\" cannot list resource \"pods\"").to_string(),
            )
        }
        Fault::Garbage => return respond(&mut s, 200, "{\"kind\": \"PodList\", \"items\": [{"),
        _ => {}
    }
    let Some((api, ns, plural)) = split_path(path) else {
        return respond(
            &mut s,
            404,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
            .to_string(),
        );
    };
    let (kind, api_version) = kind_of(&plural);
    let label = q.get("labelSelector").cloned().unwrap_or_default();
    let field = q.get("fieldSelector").cloned().unwrap_or_default();
    if q.get("watch").map(String::as_str) != Some("true") {
        let st = state.0.lock().unwrap();
        let items: Vec<Value> = st
            .objects
            .iter()
            .filter(|(c, _)| in_request(c, &api, &ns, &plural))
            .flat_map(|(_, objs)| objs.values())
            .filter(|o| selector_matches(o, &label, &field))
            .map(|o| {
                let mut o = o.clone();
                // items of a list carry no kind
                o.as_object_mut().unwrap().remove("kind");
                o.as_object_mut().unwrap().remove("apiVersion");
                o
            })
            .collect();
        let body = json!({"kind": format!("{kind}List"), "apiVersion": api_version,
            "metadata": {"resourceVersion": st.rv.to_string()}, "items": items});
        return respond(&mut s, 200, &body.to_string());
    }
    if q.contains_key("sendInitialEvents") {
        return respond(&mut s, 422, &status(422, "Invalid", "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled").to_string());
    }
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let short = *fault.lock().unwrap() == Fault::ShortWatches;
    let deadline = Instant::now()
        + if short {
            Duration::from_secs(1)
        } else {
            timeout
        };
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let chunk = |s: &mut TcpStream, text: &str| -> bool {
        write!(s, "{:x}\r\n{text}\r\n", text.len()).is_ok() && s.flush().is_ok()
    };
    let (m, c) = &*state;
    let mut st = m.lock().unwrap();
    if from != 0 && from < st.oldest_rv {
        let ev = json!({"type": "ERROR", "object": status(410, "Expired",
            &format!("too old resource version: {from} ({})", st.oldest_rv))});
        drop(st);
        chunk(&mut s, &format!("{ev}\n"));
        let _ = write!(s, "0\r\n\r\n");
        return;
    }
    st.watches_open += 1;
    let cuts = st.cuts;
    let mut sent_to = from;
    let mut last_bookmark = Instant::now();
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) || st.cuts != cuts {
            break;
        }
        let mut out = String::new();
        // a watch without a version starts with the current objects
        if sent_to == 0 {
            for (coll, objs) in &st.objects {
                if in_request(coll, &api, &ns, &plural) {
                    for o in objs
                        .values()
                        .filter(|o| selector_matches(o, &label, &field))
                    {
                        out.push_str(&json!({"type": "ADDED", "object": o}).to_string());
                        out.push('\n');
                    }
                }
            }
            sent_to = st.rv;
        }
        let start = st.history.partition_point(|e| e.rv <= sent_to);
        for ev in &st.history[start..] {
            if in_request(&ev.collection, &api, &ns, &plural)
                && selector_matches(&ev.object, &label, &field)
            {
                out.push_str(&json!({"type": ev.kind, "object": ev.object}).to_string());
                out.push('\n');
            }
        }
        sent_to = sent_to.max(st.rv);
        let now = Instant::now();
        let bookmark = now.duration_since(last_bookmark) >= Duration::from_millis(500)
            && q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
        if bookmark {
            last_bookmark = now;
            out.push_str(
                &json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                    "metadata": {"resourceVersion": sent_to.to_string()}}})
                .to_string(),
            );
            out.push('\n');
        }
        if !out.is_empty() {
            drop(st);
            if !chunk(&mut s, &out) {
                st = m.lock().unwrap();
                break;
            }
            st = m.lock().unwrap();
            continue;
        }
        if now >= deadline {
            break;
        }
        let wait = (deadline - now).min(Duration::from_millis(200));
        st = c.wait_timeout(st, wait).unwrap().0;
    }
    st.watches_open -= 1;
    drop(st);
    let _ = write!(s, "0\r\n\r\n");
}

/// A namespaced collection path of the core API.
pub fn core(ns: &str, plural: &str) -> String {
    format!("/api/v1/namespaces/{ns}/{plural}")
}

/// A pod with one container port, ready, on `node`.
pub fn pod(name: &str, ip: &str, port: u16, node: &str, labels: Value) -> Value {
    json!({
        "metadata": {"name": name, "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-rs"), "uid": "rs1", "controller": true}]},
        "spec": {"nodeName": node,
            "containers": [{"name": "app", "image": "example/app:1",
                "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.0.10",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "containerID": format!("containerd://{name}"), "ready": true,
                "image": "example/app:1", "imageID": "docker.io/example/app@sha256:0a1b", "restartCount": 0,
                "started": true, "state": {"running": {"startedAt": "2026-12-04T10:00:00Z"}}}]}
    })
}

/// One object of each kind the discovery roles read, in namespace `ns`:
/// node `n1`, the namespace, pod `web-0` behind service `web` (its
/// endpoints and endpoint slice; its ReplicaSet `web-0-rs` belongs to
/// Deployment `web`) and ingress `site`.
pub fn cluster(ns: &str) -> Vec<(String, Value)> {
    vec![
        (
            format!("/apis/apps/v1/namespaces/{ns}/replicasets"),
            json!({
                "metadata": {"name": "web-0-rs", "labels": {"app": "web"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
                "spec": {"selector": {"matchLabels": {"app": "web"}}}
            }),
        ),
        (
            "/api/v1/nodes".to_string(),
            json!({
                "metadata": {"name": "n1", "labels": {"zone": "a"}},
                "spec": {"providerID": "aws:///a/i-1"},
                "status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.1.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "conditions": [{"type": "Ready", "status": "True"}]}
            }),
        ),
        (
            "/api/v1/namespaces".to_string(),
            json!({"metadata": {"name": ns, "labels": {"team": "shop"}}}),
        ),
        (
            core(ns, "pods"),
            pod("web-0", "10.0.0.5", 8080, "n1", json!({"app": "web"})),
        ),
        (
            core(ns, "services"),
            json!({
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                    "ports": [{"name": "http", "protocol": "TCP", "port": 80}, {"name": "metrics", "protocol": "TCP", "port": 9100}]}
            }),
        ),
        (
            core(ns, "endpoints"),
            json!({
                "metadata": {"name": "web"},
                "subsets": [{"addresses": [{"ip": "10.0.0.5", "nodeName": "n1",
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": "web-0"}}],
                    "notReadyAddresses": [{"ip": "10.0.0.6"}],
                    "ports": [{"name": "metrics", "port": 8080, "protocol": "TCP"}]}]
            }),
        ),
        (
            format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
            json!({
                "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
                    "nodeName": "n1", "zone": "z1", "targetRef": {"kind": "Pod", "namespace": ns, "name": "web-0"}}],
                "ports": [{"name": "metrics", "protocol": "TCP", "port": 8080, "appProtocol": "http"}]
            }),
        ),
        (
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"),
            json!({
                "metadata": {"name": "site"},
                "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["*.example.com"]}],
                    "rules": [{"host": "www.example.com", "http": {"paths": [{"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}, {"pathType": "ImplementationSpecific", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}},
                              {"host": "plain.test"}]}
            }),
        ),
    ]
}
