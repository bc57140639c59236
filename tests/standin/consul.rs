//! A stand-in for a Consul agent's HTTP API, as far as service discovery
//! uses it: `/v1/agent/self`, `/v1/catalog/services`,
//! `/v1/catalog/service/<name>` and `/v1/health/service/<name>`, with
//! Consul's JSON shapes and blocking queries as Consul documents them:
//! every answer carries `X-Consul-Index`; a request with `?index=N` waits
//! while the index of what it asks for is still `N` or lower, up to `wait`
//! (Go duration; 5 minutes by default, at most 10), then answers with the
//! current state. Writes (registrations, deregistrations, check changes)
//! move a global index as Raft does; the catalog's service list follows
//! every service write, a service's instances follow the writes touching
//! that service. It filters by `tag`, `node-meta`, `passing`, and a
//! subset of the `filter` language (`==`, `!=`, `in`, `not in`,
//! `contains`, `is empty`, `is not empty`, joined by `and`); it checks
//! `dc` and an ACL token, can sit behind a path prefix and basic
//! authentication as behind a gateway, and can be told to fail (500, or
//! bodies that are not JSON).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{HttpServer, Request, Requests, Response};

/// How the agent misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every request: 500 with Consul's message when it has no leader.
    NoLeader,
    /// Every request: 200 with a body that is not JSON.
    Garbage,
}

/// A service instance on a node.
#[derive(Clone, Debug)]
pub struct Instance {
    pub service: String,
    pub id: String,
    pub node: String,
    pub node_address: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: BTreeMap<String, String>,
    pub node_meta: BTreeMap<String, String>,
    /// Service checks: (check id, status).
    pub checks: Vec<(String, String)>,
}

impl Instance {
    pub fn new(service: &str, id: &str, node: &str, node_address: &str, port: u16) -> Instance {
        Instance {
            service: service.into(),
            id: id.into(),
            node: node.into(),
            node_address: node_address.into(),
            address: String::new(),
            port,
            tags: Vec::new(),
            meta: BTreeMap::new(),
            node_meta: BTreeMap::new(),
            checks: Vec::new(),
        }
    }

    pub fn tags(mut self, tags: &[&str]) -> Instance {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }

    pub fn meta(mut self, k: &str, v: &str) -> Instance {
        self.meta.insert(k.into(), v.into());
        self
    }

    pub fn node_meta(mut self, k: &str, v: &str) -> Instance {
        self.node_meta.insert(k.into(), v.into());
        self
    }

    pub fn address(mut self, a: &str) -> Instance {
        self.address = a.into();
        self
    }

    pub fn check(mut self, id: &str, status: &str) -> Instance {
        self.checks.push((id.into(), status.into()));
        self
    }
}

struct State {
    index: u64,
    /// Index of the last write to any service (the catalog's list).
    services_index: u64,
    /// Index of the last write touching each service.
    service_index: BTreeMap<String, u64>,
    /// (service, id) → instance, with the index it was written at.
    instances: BTreeMap<(String, String), (Instance, u64)>,
    fault: Fault,
    stopped: bool,
}

/// What a stand-in agent is set up with.
#[derive(Clone, Debug)]
pub struct Setup {
    pub datacenter: String,
    /// Required `X-Consul-Token` (none: ACLs off).
    pub token: Option<String>,
    /// A prefix every path must have (a gateway in front).
    pub path_prefix: String,
    /// Required `Authorization` header (a gateway asking for it).
    pub authorization: Option<String>,
    /// Namespace and partition in the answers, as Consul Enterprise.
    pub enterprise: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            datacenter: "dc1".into(),
            token: None,
            path_prefix: String::new(),
            authorization: None,
            enterprise: false,
        }
    }
}

/// The stand-in, serving until dropped.
pub struct Consul {
    pub addr: String,
    state: Arc<(Mutex<State>, Condvar)>,
    requests: Requests,
    _server: HttpServer,
}

/// A Go duration as Consul's `wait` takes it (`120000ms`, `5s`, `1m`).
fn go_duration(s: &str) -> Option<Duration> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s[..digits].parse().ok()?;
    Some(match &s[digits..] {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

/// One clause of a filter expression.
enum Clause {
    Eq(String, String, bool),
    In(String, String, bool),
    Empty(String, bool),
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    s.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
}

/// Parses the subset of Consul's filter language the stand-in knows;
/// None for anything else (answered with 400 as Consul does).
fn parse_filter(f: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    for c in f.split(" and ") {
        let c = c.trim();
        let clause = if let Some((sel, v)) = c.split_once("!=") {
            Clause::Eq(sel.trim().into(), unquote(v)?, false)
        } else if let Some((sel, v)) = c.split_once("==") {
            Clause::Eq(sel.trim().into(), unquote(v)?, true)
        } else if let Some((v, sel)) = c.split_once(" not in ") {
            Clause::In(sel.trim().into(), unquote(v)?, false)
        } else if let Some((v, sel)) = c.split_once(" in ") {
            Clause::In(sel.trim().into(), unquote(v)?, true)
        } else if let Some((sel, v)) = c.split_once(" contains ") {
            Clause::In(sel.trim().into(), unquote(v)?, true)
        } else if let Some(sel) = c.strip_suffix(" is not empty") {
            Clause::Empty(sel.trim().into(), false)
        } else if let Some(sel) = c.strip_suffix(" is empty") {
            Clause::Empty(sel.trim().into(), true)
        } else {
            return None;
        };
        out.push(clause);
    }
    Some(out)
}

fn select<'a>(v: &'a Value, sel: &str) -> &'a Value {
    let mut cur = v;
    for p in sel.split('.') {
        cur = &cur[p];
    }
    cur
}

fn matches(v: &Value, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match c {
        Clause::Eq(sel, want, eq) => {
            let got = select(v, sel);
            let s = match got {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (s == *want) == *eq
        }
        Clause::In(sel, want, yes) => {
            let got = select(v, sel);
            let found = match got {
                Value::Array(a) => a.iter().any(|x| x.as_str() == Some(want)),
                Value::Object(m) => m.contains_key(want),
                Value::String(s) => s.contains(want.as_str()),
                _ => false,
            };
            found == *yes
        }
        Clause::Empty(sel, yes) => {
            let got = select(v, sel);
            let empty = match got {
                Value::Array(a) => a.is_empty(),
                Value::Object(m) => m.is_empty(),
                Value::String(s) => s.is_empty(),
                Value::Null => true,
                _ => false,
            };
            empty == *yes
        }
    })
}

fn node_json(setup: &Setup, i: &Instance, index: u64) -> Value {
    let mut meta = json!({"consul-network-segment": ""});
    for (k, v) in &i.node_meta {
        meta[k] = json!(v);
    }
    let a = &i.node_address;
    let mut n = json!({
        "ID": format!("{:0>8}-0000-0000-0000-000000000000", i.node.len()),
        "Node": i.node, "Address": a, "Datacenter": setup.datacenter,
        "TaggedAddresses": {"lan": a, "lan_ipv4": a, "wan": a, "wan_ipv4": a},
        "Meta": meta, "CreateIndex": index, "ModifyIndex": index
    });
    if setup.enterprise {
        n["Partition"] = json!("default");
    }
    n
}

fn service_json(setup: &Setup, i: &Instance, index: u64) -> Value {
    let mut s = json!({
        "Kind": "", "ID": i.id, "Service": i.service,
        "Tags": if i.tags.is_empty() { Value::Null } else { json!(i.tags) },
        "Address": i.address, "Meta": if i.meta.is_empty() { Value::Null } else { json!(i.meta) },
        "Port": i.port, "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": false, "Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
        "Connect": {}, "PeerName": "", "CreateIndex": index, "ModifyIndex": index
    });
    if setup.enterprise {
        s["Namespace"] = json!("default");
        s["Partition"] = json!("default");
    }
    s
}

fn checks_json(setup: &Setup, i: &Instance, index: u64) -> Value {
    let mut checks = vec![json!({
        "Node": i.node, "CheckID": "serfHealth", "Name": "Serf Health Status",
        "Status": "passing", "Notes": "", "Output": "Agent alive and reachable",
        "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
        "Definition": {}, "CreateIndex": index, "ModifyIndex": index
    })];
    for (id, status) in &i.checks {
        checks.push(json!({
            "Node": i.node, "CheckID": id, "Name": format!("check {id}"),
            "Status": status, "Notes": "", "Output": "",
            "ServiceID": i.id, "ServiceName": i.service, "ServiceTags": i.tags, "Type": "http",
            "Definition": {}, "CreateIndex": index, "ModifyIndex": index
        }));
    }
    if setup.enterprise {
        for c in &mut checks {
            c["Namespace"] = json!("default");
            c["Partition"] = json!("default");
        }
    }
    json!(checks)
}

/// A catalog `ServiceNode`, the objects `/v1/catalog/...` filters see.
fn service_node_json(setup: &Setup, i: &Instance, index: u64) -> Value {
    let n = node_json(setup, i, index);
    json!({
        "ID": n["ID"], "Node": i.node, "Address": i.node_address, "Datacenter": setup.datacenter,
        "TaggedAddresses": n["TaggedAddresses"], "NodeMeta": n["Meta"],
        "ServiceKind": "", "ServiceID": i.id, "ServiceName": i.service,
        "ServiceTags": i.tags, "ServiceAddress": i.address, "ServiceMeta": i.meta,
        "ServicePort": i.port, "ServiceEnableTagOverride": false,
        "CreateIndex": index, "ModifyIndex": index
    })
}

fn node_meta_ok(req: &Request, i: &Instance) -> bool {
    req.params("node-meta").iter().all(|kv| {
        let (k, v) = kv.split_once(':').unwrap_or((kv, ""));
        i.node_meta.get(k).map(String::as_str) == Some(v)
    })
}

fn answer(index: u64, body: Value) -> Response {
    Response::json(200, &body)
        .with_header("X-Consul-Index", &index.to_string())
        .with_header("X-Consul-Knownleader", "true")
        .with_header("X-Consul-Lastcontact", "0")
        .with_header("Vary", "Accept-Encoding")
}

fn handle(setup: &Setup, state: &(Mutex<State>, Condvar), req: &Request) -> Response {
    if let Some(want) = &setup.authorization {
        if req.header("authorization") != Some(want.as_str()) {
            return Response::text(401, "Unauthorized");
        }
    }
    let Some(path) = req.path.strip_prefix(setup.path_prefix.as_str()) else {
        return Response::text(404, "404 page not found");
    };
    if let Some(t) = &setup.token {
        if req.header("x-consul-token") != Some(t.as_str()) {
            return Response::text(403, "ACL not found");
        }
    }
    if let Some(dc) = req.param("dc") {
        if dc != setup.datacenter {
            return Response::text(500, "No path to datacenter");
        }
    }
    let filter = match req.param("filter") {
        Some(f) => match parse_filter(f) {
            Some(c) => c,
            None => {
                return Response::text(
                    400,
                    &format!("Failed to create boolean expression evaluator: {f:?}"),
                )
            }
        },
        None => Vec::new(),
    };
    // what the request is for, and the index it follows
    enum Query {
        Services,
        Health(String),
        Catalog(String),
        SelfInfo,
    }
    let q = if path == "/v1/agent/self" {
        Query::SelfInfo
    } else if path == "/v1/catalog/services" {
        Query::Services
    } else if let Some(name) = path.strip_prefix("/v1/health/service/") {
        Query::Health(name.to_string())
    } else if let Some(name) = path.strip_prefix("/v1/catalog/service/") {
        Query::Catalog(name.to_string())
    } else {
        return Response::text(404, "404 page not found");
    };
    let (m, c) = state;
    let mut st = m.lock().unwrap();
    let index_of = |st: &State| match &q {
        Query::Services | Query::SelfInfo => st.services_index,
        Query::Health(n) | Query::Catalog(n) => st
            .service_index
            .get(n)
            .copied()
            .unwrap_or(st.services_index),
    };
    let wait_from: u64 = req.param("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    if wait_from > 0 {
        let wait = req
            .param("wait")
            .and_then(go_duration)
            .unwrap_or(Duration::from_secs(300))
            .min(Duration::from_secs(600));
        let deadline = Instant::now() + wait;
        while index_of(&st) <= wait_from && st.fault == Fault::None && !st.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = c.wait_timeout(st, left).unwrap().0;
        }
    }
    match st.fault {
        Fault::None => {}
        Fault::NoLeader => {
            return Response::text(500, "rpc error making call: No cluster leader");
        }
        Fault::Garbage => {
            return Response::text(200, "<html><body>502 Bad Gateway</body></html>")
                .with_header("X-Consul-Index", &st.index.to_string());
        }
    }
    let index = index_of(&st).max(1);
    match q {
        Query::SelfInfo => answer(
            index,
            json!({
                "Config": {"Datacenter": setup.datacenter, "NodeName": "agent-one",
                           "NodeID": "0000", "Revision": "stand-in", "Server": true, "Version": "1.20.0"},
                "Member": {"Name": "agent-one", "Addr": "127.0.0.1", "Port": 8301, "Status": 1},
                "Meta": {"consul-network-segment": ""}
            }),
        ),
        Query::Services => {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (inst, at) in st.instances.values() {
                if !node_meta_ok(req, inst)
                    || !matches(&service_node_json(setup, inst, *at), &filter)
                {
                    continue;
                }
                let tags = out.entry(inst.service.clone()).or_default();
                for t in &inst.tags {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
            }
            answer(index, json!(out))
        }
        Query::Catalog(name) => {
            let tags = req.params("tag");
            let list: Vec<Value> = st
                .instances
                .values()
                .filter(|(i, _)| i.service == name)
                .filter(|(i, _)| tags.iter().all(|t| i.tags.iter().any(|x| x == t)))
                .filter(|(i, _)| node_meta_ok(req, i))
                .map(|(i, at)| service_node_json(setup, i, *at))
                .filter(|v| matches(v, &filter))
                .collect();
            answer(index, json!(list))
        }
        Query::Health(name) => {
            let tags = req.params("tag");
            let passing = req.has_param("passing");
            let list: Vec<Value> = st
                .instances
                .values()
                .filter(|(i, _)| i.service == name)
                .filter(|(i, _)| tags.iter().all(|t| i.tags.iter().any(|x| x == t)))
                .filter(|(i, _)| node_meta_ok(req, i))
                .filter(|(i, _)| !passing || i.checks.iter().all(|(_, s)| s == "passing"))
                .map(|(i, at)| {
                    json!({
                        "Node": node_json(setup, i, *at),
                        "Service": service_json(setup, i, *at),
                        "Checks": checks_json(setup, i, *at),
                    })
                })
                .filter(|v| matches(v, &filter))
                .collect();
            answer(index, json!(list))
        }
    }
}

impl Consul {
    pub fn start() -> Consul {
        Self::start_with(Setup::default())
    }

    pub fn start_with(setup: Setup) -> Consul {
        let state = Arc::new((
            Mutex::new(State {
                index: 10,
                services_index: 10,
                service_index: BTreeMap::new(),
                instances: BTreeMap::new(),
                fault: Fault::None,
                stopped: false,
            }),
            Condvar::new(),
        ));
        let requests = Requests::default();
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let server = HttpServer::tcp(Arc::new(move |req: &Request| {
            rq.push(req);
            handle(&setup, &st, req)
        }));
        Consul {
            addr: server.addr.clone(),
            state,
            requests,
            _server: server,
        }
    }

    fn write(&self, f: impl FnOnce(&mut State, u64)) {
        let (m, c) = &*self.state;
        let mut st = m.lock().unwrap();
        st.index += 1;
        let index = st.index;
        f(&mut st, index);
        c.notify_all();
    }

    /// Registers (or replaces) an instance.
    pub fn register(&self, i: Instance) {
        self.write(|st, index| {
            st.services_index = index;
            st.service_index.insert(i.service.clone(), index);
            st.instances
                .insert((i.service.clone(), i.id.clone()), (i, index));
        });
    }

    /// Removes an instance.
    pub fn deregister(&self, service: &str, id: &str) {
        self.write(|st, index| {
            st.instances.remove(&(service.to_string(), id.to_string()));
            st.services_index = index;
            st.service_index.insert(service.to_string(), index);
        });
    }

    /// Sets a check's status (the instance's health changes, the list of
    /// services does not).
    pub fn set_check(&self, service: &str, id: &str, check: &str, status: &str) {
        self.write(|st, index| {
            if let Some((i, at)) = st.instances.get_mut(&(service.to_string(), id.to_string())) {
                i.checks.retain(|(c, _)| c != check);
                i.checks.push((check.to_string(), status.to_string()));
                *at = index;
            }
            st.service_index.insert(service.to_string(), index);
        });
    }

    /// Sets how the agent misbehaves from now on; waiting queries answer
    /// at once with the fault.
    pub fn set_fault(&self, f: Fault) {
        let (m, c) = &*self.state;
        m.lock().unwrap().fault = f;
        c.notify_all();
    }

    /// The current index.
    pub fn index(&self) -> u64 {
        self.state.0.lock().unwrap().index
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.requests.len()
    }
}

impl Drop for Consul {
    fn drop(&mut self) {
        let (m, c) = &*self.state;
        m.lock().unwrap().stopped = true;
        c.notify_all();
    }
}

#[test]
fn blocking_queries_wait_for_a_change_or_the_wait() {
    use std::io::{Read, Write};
    let consul = Consul::start();
    consul.register(Instance::new("web", "web-1", "n1", "10.0.0.1", 80).tags(&["a"]));
    let get = |path: &str| -> (u64, Value, Duration) {
        let t = Instant::now();
        let mut s = std::net::TcpStream::connect(&consul.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let index = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Consul-Index: "))
            .unwrap()
            .parse()
            .unwrap();
        (index, serde_json::from_str(body).unwrap(), t.elapsed())
    };
    let (i1, v, took) = get("/v1/catalog/services");
    assert_eq!(v, json!({"web": ["a"]}));
    assert!(took < Duration::from_millis(500));
    // nothing changes: the wait runs out and the index stays
    let (i2, _, took) = get(&format!("/v1/catalog/services?index={i1}&wait=300ms"));
    assert_eq!(i2, i1);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    // a change answers a waiting query at once
    let c = std::thread::spawn({
        let addr = consul.addr.clone();
        move || {
            let t = Instant::now();
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            write!(s, "GET /v1/health/service/web?index={i1}&wait=10s HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            (out, t.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    consul.register(Instance::new("web", "web-2", "n2", "10.0.0.2", 80));
    let (out, took) = c.join().unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(out.contains("web-2"), "{out}");
    // a write to another service does not wake a query on this one
    let (i3, _, _) = get("/v1/health/service/web");
    consul.register(Instance::new("db", "db-1", "n1", "10.0.0.1", 5432));
    let (i4, _, took) = get(&format!("/v1/health/service/web?index={i3}&wait=300ms"));
    assert_eq!(i4, i3);
    assert!(took >= Duration::from_millis(300));
    // filters
    let (_, v, _) = get("/v1/health/service/web?tag=a");
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (_, v, _) = get("/v1/catalog/services?filter=ServiceName%20%3D%3D%20%22db%22");
    assert_eq!(v, json!({"db": []}));
    let (_, v, _) = get("/v1/health/service/web?filter=%22a%22%20in%20Service.Tags");
    assert_eq!(v.as_array().unwrap().len(), 1);
}
