//! A stand-in for Hetzner's two APIs at their real names, reached through
//! a TLS-intercepting proxy ([`super::HttpServer::tls_proxy`]):
//!
//! - the Cloud API (`https://api.hetzner.cloud/v1`): `/servers` and
//!   `/networks` with a bearer token, pages (`page`, `per_page` up to 50,
//!   `meta.pagination`), `label_selector` (`k`, `!k`, `k=v`, `k==v`,
//!   `k!=v`, `k in (a,b)`, `k notin (a,b)`), errors as
//!   `{"error": {"code", "message"}}`;
//! - the Robot web service (`https://robot-ws.your-server.de`): `/server`
//!   with basic authentication, 404 `SERVER_NOT_FOUND` when there are
//!   none, as Robot answers.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{HttpServer, Request, Requests, Response};

/// How the APIs misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 429 `rate_limit_exceeded` from the Cloud API.
    RateLimited,
    /// 500 from both.
    ServerError,
}

struct State {
    servers: Vec<Value>,
    networks: Vec<Value>,
    robot: Vec<Value>,
    fault: Fault,
}

/// The stand-in: a proxy to give as `proxy_url`, and the CA to trust.
pub struct Hetzner {
    /// `127.0.0.1:port` of the proxy.
    pub proxy: String,
    /// The CA certificate (PEM) of the APIs' certificate.
    pub ca_pem: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    connects: Arc<Mutex<Vec<String>>>,
    _server: HttpServer,
}

pub const TOKEN: &str = "hcloud-token-0123456789";
pub const ROBOT_USER: &str = "#ws+robotuser";
pub const ROBOT_PASSWORD: &str = "robot-pass";

fn hcloud_error(status: u16, code: &str, msg: &str) -> Response {
    Response::json(
        status,
        &json!({"error": {"code": code, "message": msg, "details": null}}),
    )
}

/// Whether `labels` satisfy a label selector.
fn selects(labels: &Value, selector: &str) -> Result<bool, String> {
    // split on commas outside parentheses
    let mut reqs = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                reqs.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    reqs.push(&selector[start..]);
    for r in reqs.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let get = |k: &str| labels[k.trim()].as_str().map(str::to_string);
        let set = |v: &str| -> Vec<String> {
            v.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|x| x.trim().to_string())
                .collect()
        };
        let ok = if let Some((k, v)) = r.split_once(" notin ") {
            !get(k).is_some_and(|x| set(v).contains(&x))
        } else if let Some((k, v)) = r.split_once(" in ") {
            get(k).is_some_and(|x| set(v).contains(&x))
        } else if let Some((k, v)) = r.split_once("!=") {
            get(k).as_deref() != Some(v.trim())
        } else if let Some((k, v)) = r.split_once("==") {
            get(k).as_deref() == Some(v.trim())
        } else if let Some((k, v)) = r.split_once('=') {
            get(k).as_deref() == Some(v.trim())
        } else if let Some(k) = r.strip_prefix('!') {
            get(k).is_none()
        } else if r
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            get(r).is_some()
        } else {
            return Err(format!("invalid label_selector: {r}"));
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn page(req: &Request, key: &str, items: Vec<Value>) -> Response {
    let page: usize = req
        .param("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let per: usize = req
        .param("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(25)
        .clamp(1, 50);
    let total = items.len();
    let last = total.div_ceil(per).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let next = if page < last {
        json!(page + 1)
    } else {
        Value::Null
    };
    let prev = if page > 1 {
        json!(page - 1)
    } else {
        Value::Null
    };
    Response::json(
        200,
        &json!({key: slice, "meta": {"pagination": {"page": page, "per_page": per,
            "previous_page": prev, "next_page": next, "last_page": last, "total_entries": total}}}),
    )
}

fn handle(st: &Mutex<State>, req: &Request) -> Response {
    let host = req
        .header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    let st = st.lock().unwrap();
    match host.as_str() {
        "api.hetzner.cloud" => {
            if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                return hcloud_error(401, "unauthorized", "unable to authenticate");
            }
            match st.fault {
                Fault::None => {}
                Fault::RateLimited => {
                    return hcloud_error(
                        429,
                        "rate_limit_exceeded",
                        "limit of 3600 requests per hour reached",
                    )
                }
                Fault::ServerError => return hcloud_error(500, "server_error", "internal error"),
            }
            match req.path.as_str() {
                "/v1/servers" => {
                    let sel = req.param("label_selector").unwrap_or("");
                    let mut out = Vec::new();
                    for s in &st.servers {
                        match selects(&s["labels"], sel) {
                            Ok(true) => out.push(s.clone()),
                            Ok(false) => {}
                            Err(e) => return hcloud_error(400, "invalid_input", &e),
                        }
                    }
                    page(req, "servers", out)
                }
                "/v1/networks" => page(req, "networks", st.networks.clone()),
                _ => hcloud_error(404, "not_found", "not found"),
            }
        }
        "robot-ws.your-server.de" => {
            let want = format!(
                "Basic {}",
                crate::common::base64_encode(format!("{ROBOT_USER}:{ROBOT_PASSWORD}").as_bytes())
            );
            if req.header("authorization") != Some(want.as_str()) {
                return Response::json(
                    401,
                    &json!({"error": {"status": 401, "code": "UNAUTHORIZED", "message": "Unauthorized"}}),
                );
            }
            if st.fault == Fault::ServerError {
                return Response::json(
                    500,
                    &json!({"error": {"status": 500, "code": "INTERNAL_ERROR", "message": "Internal error"}}),
                );
            }
            if req.path != "/server" {
                return Response::json(
                    404,
                    &json!({"error": {"status": 404, "code": "NOT_FOUND", "message": "Not found"}}),
                );
            }
            if st.robot.is_empty() {
                return Response::json(
                    404,
                    &json!({"error": {"status": 404, "code": "SERVER_NOT_FOUND", "message": "No server found"}}),
                );
            }
            Response::json(200, &json!(st.robot))
        }
        _ => Response::text(421, "Misdirected Request"),
    }
}

impl Hetzner {
    pub fn start() -> Hetzner {
        let state = Arc::new(Mutex::new(State {
            servers: Vec::new(),
            networks: Vec::new(),
            robot: Vec::new(),
            fault: Fault::None,
        }));
        let requests = Requests::default();
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let (server, ca_pem, connects) = HttpServer::tls_proxy(
            &["api.hetzner.cloud", "robot-ws.your-server.de"],
            Arc::new(move |req: &Request| {
                rq.push(req);
                handle(&st, req)
            }),
        );
        Hetzner {
            proxy: server.addr.clone(),
            ca_pem,
            state,
            requests,
            connects,
            _server: server,
        }
    }

    pub fn add_server(&self, s: Value) {
        self.state.lock().unwrap().servers.push(s);
    }

    pub fn remove_server(&self, id: i64) {
        self.state.lock().unwrap().servers.retain(|s| s["id"] != id);
    }

    pub fn add_network(&self, n: Value) {
        self.state.lock().unwrap().networks.push(n);
    }

    pub fn add_robot_server(&self, s: Value) {
        self.state.lock().unwrap().robot.push(s);
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.lock().unwrap().fault = f;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    /// The `CONNECT` targets the proxy was asked for.
    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

/// A Cloud server as `/v1/servers` lists it.
pub fn server(
    id: i64,
    name: &str,
    ipv4: Option<&str>,
    labels: Value,
    private: &[(i64, &str)],
) -> Value {
    let location = json!({"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1",
        "country": "DE", "city": "Falkenstein", "latitude": 50.47612, "longitude": 12.370071,
        "network_zone": "eu-central"});
    json!({
        "id": id, "name": name, "status": "running", "created": "2024-10-01T10:00:00+00:00",
        "public_net": {
            "ipv4": ipv4.map(|ip| json!({"id": id * 10, "ip": ip, "blocked": false, "dns_ptr": format!("static.{ip}.clients.your-server.de")})).unwrap_or(Value::Null),
            "ipv6": {"id": id * 10 + 1, "ip": format!("2a01:4f8:c012:{:x}::/64", id), "blocked": false, "dns_ptr": []},
            "floating_ips": [], "firewalls": []
        },
        "private_net": private.iter().map(|(n, ip)| json!({"network": n, "ip": ip, "alias_ips": [], "mac_address": "86:00:00:00:00:01"})).collect::<Vec<_>>(),
        "server_type": {"id": 104, "name": "cx22", "description": "CX22", "cores": 2, "memory": 4.0,
                        "disk": 40, "deprecated": false, "prices": [], "storage_type": "local",
                        "cpu_type": "shared", "architecture": "x86"},
        "datacenter": {"id": 4, "name": "fsn1-dc14", "description": "Falkenstein 1 virtual DC 14",
                       "location": location},
        "location": location,
        "image": {"id": 161547269, "type": "system", "status": "available", "name": "ubuntu-24.04",
                  "description": "Ubuntu 24.04", "image_size": null, "disk_size": 5,
                  "created": "2024-04-25T15:26:27+00:00", "created_from": null, "bound_to": null,
                  "os_flavor": "ubuntu", "os_version": "24.04", "rapid_deploy": true,
                  "protection": {"delete": false}, "deprecated": null, "labels": {},
                  "deleted": null, "architecture": "x86"},
        "iso": null, "rescue_enabled": false, "locked": false, "backup_window": null,
        "outgoing_traffic": 0, "ingoing_traffic": 0, "included_traffic": 21990232555520u64,
        "protection": {"delete": false, "rebuild": false}, "labels": labels,
        "volumes": [], "load_balancers": [], "primary_disk_size": 40, "placement_group": null
    })
}

/// A network as `/v1/networks` lists it.
pub fn network(id: i64, name: &str) -> Value {
    json!({"id": id, "name": name, "ip_range": "10.0.0.0/16", "subnets": [], "routes": [],
           "servers": [], "load_balancers": [], "protection": {"delete": false}, "labels": {},
           "created": "2024-10-01T10:00:00+00:00", "expose_routes_to_vswitch": false})
}

/// A dedicated server as Robot's `/server` lists it.
pub fn robot_server(number: i64, name: &str, ip: &str, dc: &str) -> Value {
    json!({"server": {"server_ip": ip, "server_ipv6_net": "2a01:4f8:111:4221::", "server_number": number,
        "server_name": name, "product": "EX44", "dc": dc, "traffic": "unlimited", "status": "ready",
        "cancelled": false, "paid_until": "2025-12-31",
        "ip": [ip], "subnet": [{"ip": "2a01:4f8:111:4221::", "mask": "64"}]}})
}
