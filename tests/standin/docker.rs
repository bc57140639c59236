//! A stand-in for the Docker Engine API as service discovery uses it, over
//! TCP and a unix socket: `/_ping` (with `Api-Version`), `/version`,
//! `/containers/json` (running containers unless `all`), `/networks`, and
//! for a swarm manager `/services`, `/tasks`, `/nodes` (else 503 as a
//! daemon outside a swarm answers), with Docker's JSON shapes, versioned
//! paths (`/v1.47/...`, refused when newer or older than the daemon's
//! range, with its messages), `filters` in both encodings Docker reads
//! (`{"label":{"a=b":true}}` and `{"label":["a=b"]}`), errors as
//! `{"message": ...}`, and bodies over 4 KiB sent chunked as Go's HTTP
//! server sends them. It can be told to fail (500, or bodies that are not
//! JSON).
//!
//! `tests/standin/docker_check.py` checks it with the official Python SDK.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{HttpServer, Request, Requests, Response};

/// How the daemon misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every API request (not `/_ping`): 500.
    ServerError,
    /// Every API request: 200 with a body that is not JSON.
    Garbage,
}

#[derive(Default)]
struct Swarm {
    services: Vec<Value>,
    tasks: Vec<Value>,
    nodes: Vec<Value>,
}

struct State {
    containers: Vec<Value>,
    networks: Vec<Value>,
    swarm: Option<Swarm>,
    fault: Fault,
}

/// The daemon's API versions.
const API_VERSION: (u32, u32) = (1, 47);
const MIN_API_VERSION: (u32, u32) = (1, 24);

/// The stand-in, serving until dropped.
pub struct DockerEngine {
    /// `127.0.0.1:port`.
    pub addr: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    _tcp: HttpServer,
    _unix: Option<HttpServer>,
}

fn error(code: u16, msg: &str) -> Response {
    Response::json(code, &json!({ "message": msg }))
}

fn with_daemon_headers(mut r: Response) -> Response {
    for (k, v) in [
        (
            "Api-Version",
            format!("{}.{}", API_VERSION.0, API_VERSION.1),
        ),
        ("Docker-Experimental", "false".into()),
        ("Ostype", "linux".into()),
        ("Server", "Docker/27.3.1 (linux)".into()),
    ] {
        r.headers.push((k.into(), v));
    }
    if r.body.len() > 4096 {
        r.chunked = true;
    }
    r
}

/// `filters` as the daemon reads it: name → values.
fn parse_filters(req: &Request) -> Result<BTreeMap<String, Vec<String>>, String> {
    let Some(f) = req.param("filters") else {
        return Ok(BTreeMap::new());
    };
    let v: Value = serde_json::from_str(f).map_err(|e| format!("invalid filter: {e}"))?;
    let mut out = BTreeMap::new();
    for (k, vals) in v.as_object().ok_or("invalid filter")? {
        let list: Vec<String> = match vals {
            Value::Object(m) => m.keys().cloned().collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => return Err(format!("invalid filter '{k}'")),
        };
        out.insert(k.clone(), list);
    }
    Ok(out)
}

fn labels_match(labels: &Value, wanted: &[String]) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels[k].as_str() == Some(v),
        None => !labels[w.as_str()].is_null(),
    })
}

/// Applies `filters` to `items`: each filter name maps to a test of one
/// value against an item; an unknown name is refused as the daemon does.
fn filtered(
    items: &[Value],
    filters: &BTreeMap<String, Vec<String>>,
    test: impl Fn(&str, &str, &Value) -> Option<bool>,
) -> Result<Vec<Value>, Response> {
    let mut out = Vec::new();
    for it in items {
        let mut keep = true;
        for (name, values) in filters {
            let ok = if name == "label" {
                None
            } else {
                let mut any = false;
                for v in values {
                    match test(name, v, it) {
                        Some(b) => any |= b,
                        None => return Err(error(400, &format!("invalid filter '{name}'"))),
                    }
                }
                Some(any)
            };
            keep &= ok.unwrap_or(true);
        }
        if let Some(l) = filters.get("label") {
            let labels = if it["Spec"].is_object() {
                &it["Spec"]["Labels"]
            } else {
                &it["Labels"]
            };
            keep &= labels_match(labels, l);
        }
        if keep {
            out.push(it.clone());
        }
    }
    Ok(out)
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn handle(state: &Mutex<State>, req: &Request) -> Response {
    let mut path = req.path.as_str();
    // versioned paths: /v1.47/containers/json
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((v, tail)) = rest.split_once('/') {
            if let Some(ver) = parse_version(v) {
                if ver > API_VERSION {
                    return error(
                        400,
                        &format!(
                            "client version {v} is too new. Maximum supported API version is {}.{}",
                            API_VERSION.0, API_VERSION.1
                        ),
                    );
                }
                if ver < MIN_API_VERSION {
                    return error(400, &format!("client version {v} is too old. Minimum supported API version is {}.{}, please upgrade your client to a newer version", MIN_API_VERSION.0, MIN_API_VERSION.1));
                }
                path = &req.path[req.path.len() - tail.len() - 1..];
            }
        }
    }
    if path == "/_ping" {
        let mut r = Response::text(200, "OK");
        r.headers.push((
            "Cache-Control".into(),
            "no-cache, no-store, must-revalidate".into(),
        ));
        r.headers.push(("Pragma".into(), "no-cache".into()));
        if req.method == "HEAD" {
            r.body.clear();
        }
        return r;
    }
    let st = state.lock().unwrap();
    match st.fault {
        Fault::None => {}
        Fault::ServerError => return error(500, "an internal error in the stand-in daemon"),
        Fault::Garbage => return Response::text(200, "<html>Bad Gateway</html>"),
    }
    let filters = match parse_filters(req) {
        Ok(f) => f,
        Err(e) => return error(400, &e),
    };
    let not_swarm = || {
        error(503, "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.")
    };
    let result = match path {
        "/version" => Ok(json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Version": "27.3.1", "ApiVersion": format!("{}.{}", API_VERSION.0, API_VERSION.1),
            "MinAPIVersion": format!("{}.{}", MIN_API_VERSION.0, MIN_API_VERSION.1),
            "GitCommit": "stand-in", "GoVersion": "go1.22.7", "Os": "linux", "Arch": "amd64",
            "KernelVersion": "6.1.0", "BuildTime": "2024-09-20T11:41:11.000000000+00:00"
        })),
        "/containers/json" => {
            let all = req.param("all").is_some_and(|a| a == "1" || a == "true");
            let running: Vec<Value> = st
                .containers
                .iter()
                .filter(|c| all || c["State"] == "running")
                .cloned()
                .collect();
            filtered(&running, &filters, |name, v, c| {
                Some(match name {
                    "id" => c["Id"].as_str()?.starts_with(v),
                    "name" => c["Names"]
                        .as_array()?
                        .iter()
                        .any(|n| n.as_str().unwrap_or("").trim_start_matches('/').contains(v)),
                    "status" => c["State"] == v,
                    "network" => c["NetworkSettings"]["Networks"]
                        .as_object()?
                        .iter()
                        .any(|(k, n)| k == v || n["NetworkID"] == v),
                    _ => return None,
                })
            })
            .map(Value::Array)
        }
        "/networks" => filtered(&st.networks, &filters, |name, v, n| {
            Some(match name {
                "id" => n["Id"].as_str()?.starts_with(v),
                "name" => n["Name"].as_str()?.contains(v),
                "scope" => n["Scope"] == v,
                "driver" => n["Driver"] == v,
                _ => return None,
            })
        })
        .map(Value::Array),
        "/services" => match &st.swarm {
            None => Err(not_swarm()),
            Some(s) => filtered(&s.services, &filters, |name, v, it| {
                Some(match name {
                    "id" => it["ID"].as_str()?.starts_with(v),
                    "name" => it["Spec"]["Name"].as_str()?.starts_with(v),
                    "mode" => !it["Spec"]["Mode"][if v == "global" {
                        "Global"
                    } else {
                        "Replicated"
                    }]
                    .is_null(),
                    _ => return None,
                })
            })
            .map(Value::Array),
        },
        "/tasks" => match &st.swarm {
            None => Err(not_swarm()),
            Some(s) => filtered(&s.tasks, &filters, |name, v, it| {
                Some(match name {
                    "id" => it["ID"].as_str()?.starts_with(v),
                    "service" => it["ServiceID"] == v,
                    "node" => it["NodeID"] == v,
                    "desired-state" => it["DesiredState"] == v,
                    _ => return None,
                })
            })
            .map(Value::Array),
        },
        "/nodes" => match &st.swarm {
            None => Err(not_swarm()),
            Some(s) => filtered(&s.nodes, &filters, |name, v, it| {
                Some(match name {
                    "id" => it["ID"].as_str()?.starts_with(v),
                    "role" => it["Spec"]["Role"] == v,
                    "name" => it["Description"]["Hostname"] == v,
                    "membership" => it["Spec"]["Membership"] == v,
                    _ => return None,
                })
            })
            .map(Value::Array),
        },
        _ => Err(error(404, "page not found")),
    };
    match result {
        Ok(v) => Response::json(200, &v),
        Err(r) => r,
    }
}

impl DockerEngine {
    /// A daemon on TCP, and on a unix socket at `socket` when given.
    pub fn start(socket: Option<&Path>) -> DockerEngine {
        let state = Arc::new(Mutex::new(State {
            containers: Vec::new(),
            networks: vec![
                network("7a2c9d1f0e55", "bridge", "local", false, false, json!({})),
                network("0c1f2e3d4a5b", "host", "local", false, false, json!({})),
            ],
            swarm: None,
            fault: Fault::None,
        }));
        let requests = Requests::default();
        let handler: super::Handler = {
            let (st, rq) = (Arc::clone(&state), requests.clone());
            Arc::new(move |req: &Request| {
                rq.push(req);
                with_daemon_headers(handle(&st, req))
            })
        };
        let tcp = HttpServer::tcp(Arc::clone(&handler));
        let unix = socket.map(|p| HttpServer::unix(p, handler));
        DockerEngine {
            addr: tcp.addr.clone(),
            state,
            requests,
            _tcp: tcp,
            _unix: unix,
        }
    }

    /// Makes it a swarm manager (empty swarm).
    pub fn init_swarm(&self) {
        self.state.lock().unwrap().swarm = Some(Swarm::default());
    }

    pub fn add_container(&self, c: Value) {
        self.state.lock().unwrap().containers.push(c);
    }

    pub fn remove_container(&self, id: &str) {
        self.state
            .lock()
            .unwrap()
            .containers
            .retain(|c| c["Id"] != id);
    }

    pub fn add_network(&self, n: Value) {
        self.state.lock().unwrap().networks.push(n);
    }

    pub fn add_service(&self, s: Value) {
        self.state
            .lock()
            .unwrap()
            .swarm
            .as_mut()
            .unwrap()
            .services
            .push(s);
    }

    pub fn add_task(&self, t: Value) {
        self.state
            .lock()
            .unwrap()
            .swarm
            .as_mut()
            .unwrap()
            .tasks
            .push(t);
    }

    pub fn remove_task(&self, id: &str) {
        self.state
            .lock()
            .unwrap()
            .swarm
            .as_mut()
            .unwrap()
            .tasks
            .retain(|t| t["ID"] != id);
    }

    pub fn add_node(&self, n: Value) {
        self.state
            .lock()
            .unwrap()
            .swarm
            .as_mut()
            .unwrap()
            .nodes
            .push(n);
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.lock().unwrap().fault = f;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }
}

/// A network as `/networks` lists it.
pub fn network(
    id: &str,
    name: &str,
    scope: &str,
    internal: bool,
    ingress: bool,
    labels: Value,
) -> Value {
    json!({
        "Name": name, "Id": id, "Created": "2024-10-01T10:00:00.000000000Z",
        "Scope": scope, "Driver": if scope == "swarm" { "overlay" } else { "bridge" },
        "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": internal, "Attachable": false, "Ingress": ingress,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false, "Containers": {},
        "Options": {}, "Labels": labels
    })
}

/// A running container as `/containers/json` lists it: its networks as
/// (name, network id, IPv4 address), its ports as (private, public, type)
/// (public 0: not published).
pub fn container(
    id: &str,
    name: &str,
    image: &str,
    labels: Value,
    networks: &[(&str, &str, &str)],
    ports: &[(u16, u16, &str)],
) -> Value {
    let mut nets = serde_json::Map::new();
    for (n, nid, ip) in networks {
        nets.insert(
            n.to_string(),
            json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "02:42:ac:11:00:02",
                "DriverOpts": null, "NetworkID": nid, "EndpointID": format!("ep-{id}-{n}"),
                "Gateway": "", "IPAddress": ip, "IPPrefixLen": if ip.is_empty() { 0 } else { 16 },
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
            }),
        );
    }
    let mode = networks.first().map(|n| n.0).unwrap_or("none");
    let ports: Vec<Value> = ports
        .iter()
        .flat_map(|(private, public, typ)| {
            if *public == 0 {
                vec![json!({"PrivatePort": private, "Type": typ})]
            } else {
                // published on IPv4 and IPv6, as the daemon lists it
                vec![
                    json!({"IP": "0.0.0.0", "PrivatePort": private, "PublicPort": public, "Type": typ}),
                    json!({"IP": "::", "PrivatePort": private, "PublicPort": public, "Type": typ}),
                ]
            }
        })
        .collect();
    json!({
        "Id": id, "Names": [format!("/{name}")], "Image": image,
        "ImageID": format!("sha256:{:0>64}", image.len()),
        "Command": "/bin/app", "Created": 1727776800, "Ports": ports, "Labels": labels,
        "State": "running", "Status": "Up 2 minutes",
        "HostConfig": {"NetworkMode": mode},
        "NetworkSettings": {"Networks": nets}, "Mounts": []
    })
}
