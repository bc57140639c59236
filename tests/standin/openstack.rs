//! A stand-in for an OpenStack cloud as service discovery sees it, on one
//! port, laid out as devstack lays it out:
//!
//! - Keystone at `/identity`: the version list (300), and
//!   `POST /identity/v3/auth/tokens` by password (user by ID, or by name
//!   with its domain) or application credential (by ID, or by name with
//!   its user), scoped to a project (by ID, or by name with its domain) or
//!   not; tokens in `X-Subject-Token`, the catalog in the scoped ones, 401
//!   with Keystone's body for wrong credentials;
//! - Nova at `/compute/v2.1`: `servers/detail` (the token's project, or
//!   every project with `all_tenants` for admins, 403 for others), pages
//!   of `limit` with `marker` and `servers_links`, `os-hypervisors/detail`
//!   (admins only);
//! - Neutron at `/network`: `v2.0/ports`, `v2.0/floatingips`;
//! - Octavia at `/load-balancer`: `v2/lbaas/loadbalancers`,
//!   `v2/lbaas/listeners`.
//!
//! The catalog lists public endpoints for `RegionOne` and `RegionTwo` and
//! internal ones for `RegionOne` (under `/internal`); every request
//! records the interface and region it went to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{HttpServer, Request, Requests, Response};

/// How the cloud misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Keystone answers 503.
    KeystoneDown,
    /// Nova answers 500.
    NovaError,
}

pub const DOMAIN: &str = "Default";
pub const PROJECT: (&str, &str) = ("p-ops", "ops");
pub const OTHER_PROJECT: (&str, &str) = ("p-dev", "dev");
/// (id, name, password): a member of `ops`.
pub const USER: (&str, &str, &str) = ("u-prom", "prometheus", "s3cret-pw");
/// (id, name, password): an admin of `ops`.
pub const ADMIN: (&str, &str, &str) = ("u-admin", "admin", "admin-pw");
/// (id, name, secret): an application credential of `prometheus` on `ops`.
pub const APP_CRED: (&str, &str, &str) = ("ac-0001", "prom-sd", "ac-s3cret");

struct Token {
    user: &'static str,
    project: Option<&'static str>,
    admin: bool,
}

struct State {
    servers: Vec<Value>,
    hypervisors: Vec<Value>,
    ports: Vec<Value>,
    floatingips: Vec<Value>,
    loadbalancers: Vec<Value>,
    listeners: Vec<Value>,
    tokens: HashMap<String, Token>,
    issued: u64,
    page: usize,
    fault: Fault,
}

/// The stand-in, serving until dropped.
pub struct OpenStack {
    pub addr: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    _server: HttpServer,
}

fn unauthorized() -> Response {
    Response::json(
        401,
        &json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}),
    )
    .with_header(
        "WWW-Authenticate",
        "Keystone uri=\"http://keystone/identity\"",
    )
}

fn catalog(addr: &str) -> Value {
    let ep = |iface: &str, region: &str, url: String| {
        json!({"id": format!("ep-{iface}-{region}-{}", url.len()), "interface": iface,
               "region": region, "region_id": region, "url": url})
    };
    let service = |kind: &str, name: &str, path: &str| {
        json!({"id": format!("svc-{kind}"), "type": kind, "name": name, "endpoints": [
            ep("public", "RegionTwo", format!("http://{addr}/region-two{path}")),
            ep("internal", "RegionOne", format!("http://{addr}/internal{path}")),
            ep("public", "RegionOne", format!("http://{addr}{path}")),
        ]})
    };
    json!([
        service("identity", "keystone", "/identity"),
        service("compute", "nova", "/compute/v2.1"),
        service("network", "neutron", "/network"),
        service("load-balancer", "octavia", "/load-balancer"),
    ])
}

/// Checks a token request; the user ID, the project ID and whether admin.
fn authenticate(body: &Value) -> Result<(&'static str, Option<&'static str>, bool), Response> {
    let id = &body["auth"]["identity"];
    let methods = id["methods"].as_array().cloned().unwrap_or_default();
    let domain_ok = |d: &Value| d["id"] == "default" || d["name"] == DOMAIN;
    let find_user = |u: &Value| -> Option<(&'static str, &'static str, &'static str)> {
        [USER, ADMIN].into_iter().find(|(uid, name, _)| {
            u["id"] == *uid || (u["name"] == *name && domain_ok(&u["domain"]))
        })
    };
    let (user, implied_project) = if methods == vec![json!("password")] {
        let u = &id["password"]["user"];
        let Some(found) = find_user(u) else {
            return Err(unauthorized());
        };
        if u["password"] != found.2 {
            return Err(unauthorized());
        }
        (found.0, None)
    } else if methods == vec![json!("application_credential")] {
        let c = &id["application_credential"];
        let named = c["name"] == APP_CRED.1 && find_user(&c["user"]).is_some_and(|u| u.0 == USER.0);
        if !(c["id"] == APP_CRED.0 || named) || c["secret"] != APP_CRED.2 {
            return Err(unauthorized());
        }
        (USER.0, Some(PROJECT.0))
    } else {
        return Err(Response::json(
            400,
            &json!({"error": {"code": 400, "title": "Bad Request", "message": "Invalid input for field 'identity'"}}),
        ));
    };
    let scope = &body["auth"]["scope"]["project"];
    let project = if scope.is_null() {
        implied_project
    } else if scope["id"] == PROJECT.0
        || (scope["name"] == PROJECT.1 && domain_ok(&scope["domain"]))
    {
        Some(PROJECT.0)
    } else {
        return Err(unauthorized());
    };
    Ok((user, project, user == ADMIN.0))
}

fn paged(req: &Request, base: &str, key: &str, items: Vec<Value>, page: usize) -> Response {
    let limit: usize = req
        .param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(page);
    let start = match req.param("marker") {
        Some(m) => match items.iter().position(|i| i["id"] == m) {
            Some(p) => p + 1,
            None => {
                return Response::json(
                    400,
                    &json!({"badRequest": {"code": 400, "message": format!("marker [{m}] not found")}}),
                )
            }
        },
        None => 0,
    };
    let slice: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let mut v = json!({ key: slice });
    if start + limit < items.len() {
        let mut href = format!(
            "{base}?limit={limit}&marker={}",
            slice.last().unwrap()["id"].as_str().unwrap()
        );
        for (k, val) in &req.query {
            if k != "limit" && k != "marker" {
                href.push_str(&format!("&{k}={val}"));
            }
        }
        v[format!("{key}_links")] = json!([{"rel": "next", "href": href}]);
    }
    Response::json(200, &v)
}

fn handle(addr: &str, st: &Mutex<State>, req: &Request) -> Response {
    let mut st = st.lock().unwrap();
    // the endpoint a request went to: interface and region from the path
    let path = req
        .path
        .strip_prefix("/internal")
        .or_else(|| req.path.strip_prefix("/region-two"))
        .unwrap_or(&req.path)
        .to_string();
    if path.starts_with("/identity") {
        if st.fault == Fault::KeystoneDown {
            return Response::text(503, "Service Unavailable");
        }
        return match (req.method.as_str(), path.as_str()) {
            ("GET", "/identity" | "/identity/") => Response::json(
                300,
                &json!({"versions": {"values": [{"id": "v3.14", "status": "stable",
                    "updated": "2020-04-07T00:00:00Z",
                    "links": [{"rel": "self", "href": format!("http://{addr}/identity/v3/")}],
                    "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}]}}),
            ),
            ("POST", "/identity/v3/auth/tokens") => {
                let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                    return Response::json(
                        400,
                        &json!({"error": {"code": 400, "title": "Bad Request", "message": "Malformed JSON"}}),
                    );
                };
                let (user, project, admin) = match authenticate(&body) {
                    Ok(x) => x,
                    Err(r) => return r,
                };
                st.issued += 1;
                let token = format!("gAAAAA-token-{}", st.issued);
                st.tokens.insert(
                    token.clone(),
                    Token {
                        user,
                        project,
                        admin,
                    },
                );
                let mut t = json!({
                    "methods": body["auth"]["identity"]["methods"],
                    "user": {"id": user, "name": if user == USER.0 { USER.1 } else { ADMIN.1 },
                             "domain": {"id": "default", "name": DOMAIN}, "password_expires_at": null},
                    "audit_ids": [format!("audit-{}", st.issued)],
                    "expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2024-10-01T10:00:00.000000Z"
                });
                if let Some(p) = project {
                    t["project"] = json!({"id": p, "name": PROJECT.1, "domain": {"id": "default", "name": DOMAIN}});
                    t["is_domain"] = json!(false);
                    t["roles"] = if admin {
                        json!([{"id": "r-admin", "name": "admin"}, {"id": "r-member", "name": "member"}])
                    } else {
                        json!([{"id": "r-member", "name": "member"}, {"id": "r-reader", "name": "reader"}])
                    };
                    t["catalog"] = catalog(addr);
                }
                let mut r = Response::json(201, &json!({ "token": t }));
                r.headers.push(("X-Subject-Token".into(), token));
                r
            }
            _ => Response::json(
                404,
                &json!({"error": {"code": 404, "title": "Not Found", "message": "Could not find"}}),
            ),
        };
    }
    // every other service wants a scoped token
    let Some(tok) = req.header("x-auth-token").and_then(|t| st.tokens.get(t)) else {
        return unauthorized();
    };
    let Some(project) = tok.project else {
        return unauthorized();
    };
    let admin = tok.admin;
    let _ = tok.user;
    let mine = |v: &Value| v["tenant_id"] == project || v["project_id"] == project;
    let base = format!("http://{addr}{}", req.path);
    match path.as_str() {
        "/compute/v2.1/servers/detail" => {
            if st.fault == Fault::NovaError {
                return Response::json(
                    500,
                    &json!({"computeFault": {"code": 500, "message": "Unexpected API Error."}}),
                );
            }
            let all = req
                .param("all_tenants")
                .is_some_and(|v| v == "true" || v == "1" || v.is_empty());
            if all && !admin {
                return Response::json(
                    403,
                    &json!({"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."}}),
                );
            }
            let list: Vec<Value> = st
                .servers
                .iter()
                .filter(|s| all || mine(s))
                .cloned()
                .collect();
            paged(req, &base, "servers", list, st.page)
        }
        "/compute/v2.1/os-hypervisors/detail" => {
            if !admin {
                return Response::json(
                    403,
                    &json!({"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:os-hypervisors:list-detail to be performed."}}),
                );
            }
            paged(req, &base, "hypervisors", st.hypervisors.clone(), st.page)
        }
        "/network/v2.0/ports" => {
            let list = st
                .ports
                .iter()
                .filter(|p| admin || mine(p))
                .cloned()
                .collect();
            Response::json(200, &json!({ "ports": Value::Array(list) }))
        }
        "/network/v2.0/floatingips" => {
            let list = st
                .floatingips
                .iter()
                .filter(|p| admin || mine(p))
                .cloned()
                .collect();
            Response::json(200, &json!({ "floatingips": Value::Array(list) }))
        }
        "/load-balancer/v2/lbaas/loadbalancers" => {
            let list = st
                .loadbalancers
                .iter()
                .filter(|p| admin || mine(p))
                .cloned()
                .collect();
            Response::json(200, &json!({ "loadbalancers": Value::Array(list) }))
        }
        "/load-balancer/v2/lbaas/listeners" => {
            let list = st
                .listeners
                .iter()
                .filter(|p| admin || mine(p))
                .cloned()
                .collect();
            Response::json(200, &json!({ "listeners": Value::Array(list) }))
        }
        _ => Response::json(
            404,
            &json!({"itemNotFound": {"code": 404, "message": "The resource could not be found."}}),
        ),
    }
}

impl OpenStack {
    /// A cloud whose lists come in pages of `page` items.
    pub fn start(page: usize) -> OpenStack {
        let state = Arc::new(Mutex::new(State {
            servers: Vec::new(),
            hypervisors: Vec::new(),
            ports: Vec::new(),
            floatingips: Vec::new(),
            loadbalancers: Vec::new(),
            listeners: Vec::new(),
            tokens: HashMap::new(),
            issued: 0,
            page,
            fault: Fault::None,
        }));
        let requests = Requests::default();
        let addr_cell: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
        let (st, rq, ac) = (Arc::clone(&state), requests.clone(), Arc::clone(&addr_cell));
        let server = HttpServer::tcp(Arc::new(move |req: &Request| {
            rq.push(req);
            let addr = ac.lock().unwrap().clone();
            handle(&addr, &st, req)
        }));
        *addr_cell.lock().unwrap() = server.addr.clone();
        OpenStack {
            addr: server.addr.clone(),
            state,
            requests,
            _server: server,
        }
    }

    pub fn identity_url(&self) -> String {
        format!("http://{}/identity", self.addr)
    }

    pub fn add_server(&self, s: Value) {
        self.state.lock().unwrap().servers.push(s);
    }

    pub fn remove_server(&self, id: &str) {
        self.state.lock().unwrap().servers.retain(|s| s["id"] != id);
    }

    pub fn add_hypervisor(&self, h: Value) {
        self.state.lock().unwrap().hypervisors.push(h);
    }

    pub fn add_port(&self, p: Value) {
        self.state.lock().unwrap().ports.push(p);
    }

    pub fn add_floating_ip(&self, f: Value) {
        self.state.lock().unwrap().floatingips.push(f);
    }

    pub fn add_loadbalancer(&self, lb: Value, listeners: &[Value]) {
        let mut st = self.state.lock().unwrap();
        st.loadbalancers.push(lb);
        st.listeners.extend(listeners.iter().cloned());
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.lock().unwrap().fault = f;
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }
}

/// A server as Nova lists it (microversion 2.1: the flavor by ID, unless
/// `flavor_name` is given as 2.47 and later give it).
pub fn server(
    id: &str,
    name: &str,
    project: &str,
    addresses: &[(&str, &str)],
    flavor_name: Option<&str>,
    metadata: Value,
) -> Value {
    let mut pools = serde_json::Map::new();
    for (pool, ip) in addresses {
        pools
            .entry(pool.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!({"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed",
                          "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}));
    }
    let flavor = match flavor_name {
        Some(n) => {
            json!({"original_name": n, "vcpus": 1, "ram": 2048, "disk": 20, "ephemeral": 0, "swap": 0, "extra_specs": {}})
        }
        None => {
            json!({"id": "d2", "links": [{"rel": "bookmark", "href": "http://nova/flavors/d2"}]})
        }
    };
    json!({
        "id": id, "name": name, "status": "ACTIVE", "tenant_id": project, "user_id": USER.0,
        "metadata": metadata, "hostId": "h0st", "image": {"id": "img-ubuntu", "links": []},
        "flavor": flavor, "created": "2024-10-01T10:00:00Z", "updated": "2024-10-01T10:01:00Z",
        "addresses": pools, "accessIPv4": "", "accessIPv6": "", "links": [],
        "OS-DCF:diskConfig": "MANUAL", "progress": 0, "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "", "key_name": null, "security_groups": [{"name": "default"}],
        "OS-EXT-STS:task_state": null, "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1,
        "os-extended-volumes:volumes_attached": []
    })
}

/// A hypervisor as Nova 2.1 lists it (numeric ID).
pub fn hypervisor(id: u64, hostname: &str, ip: &str) -> Value {
    json!({"id": id, "hypervisor_hostname": hostname, "host_ip": ip, "state": "up",
           "status": "enabled", "hypervisor_type": "QEMU", "hypervisor_version": 8002000,
           "vcpus": 16, "memory_mb": 64000, "local_gb": 500, "vcpus_used": 4,
           "memory_mb_used": 8192, "local_gb_used": 40, "running_vms": 3,
           "service": {"host": hostname, "id": id + 100, "disabled_reason": null},
           "cpu_info": "{}", "current_workload": 0, "disk_available_least": 400,
           "free_disk_gb": 460, "free_ram_mb": 55808})
}

/// A Neutron port of an instance.
pub fn port(id: &str, device: &str, project: &str, ip: &str) -> Value {
    json!({"id": id, "name": "", "network_id": "net-1", "tenant_id": project, "project_id": project,
           "mac_address": "fa:16:3e:00:00:01", "admin_state_up": true, "status": "ACTIVE",
           "device_id": device, "device_owner": "compute:nova",
           "fixed_ips": [{"subnet_id": "sub-1", "ip_address": ip}]})
}

/// A floating IP bound to a port.
pub fn floating_ip(id: &str, port: &str, project: &str, fixed: &str, floating: &str) -> Value {
    json!({"id": id, "tenant_id": project, "project_id": project, "floating_network_id": "public",
           "router_id": "r-1", "port_id": port, "fixed_ip_address": fixed,
           "floating_ip_address": floating, "status": "ACTIVE", "description": ""})
}
