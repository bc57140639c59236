//! A stand-in for the Azure APIs `azure_sd_configs` asks, at their real
//! names behind a TLS-intercepting proxy ([`super::HttpServer::tls_proxy`]),
//! and a managed identity endpoint on a plain port of its own:
//!
//! - Microsoft Entra ID (`https://login.microsoftonline.com`):
//!   `POST /<tenant>/oauth2/v2.0/token` for the client credentials grant,
//!   by client secret, by a federated client assertion, or by a client
//!   assertion of [`CERT_CLIENT_ID`] signed with the key of a certificate
//!   registered with [`Azure::register_certificate`] (the certificate
//!   found by the header's `x5t`, its `x5t#S256` and any `x5c` checked,
//!   the RS256 signature verified with the certificate's public key, the
//!   audience, issuer, subject and lifetime checked), for Resource
//!   Manager's scope or Azure Monitor's (remote write's `azuread`); errors as `{"error", "error_description"}` with
//!   Entra ID's `AADSTS` codes;
//! - Azure Resource Manager (`https://management.azure.com`): virtual
//!   machines and scale sets of the subscription or of a resource group,
//!   a scale set's machines, network interfaces (the public address only
//!   with `$expand=IPConfigurations/PublicIPAddress`, scale set machines'
//!   interfaces only with API version 2018-10-01, as Azure serves them),
//!   lists in pages of [`PAGE`] with `nextLink` and `$skiptoken`, bearer
//!   tokens it issued, errors as `{"error": {"code", "message"}}`;
//! - the instance metadata service's token endpoint
//!   (`GET /metadata/identity/oauth2/token` with `Metadata: true`), for the
//!   system-assigned identity or the user-assigned [`MANAGED_CLIENT_ID`],
//!   for either resource, and App Service's (`/msi/token` with
//!   `X-IDENTITY-HEADER`) for `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`,
//!   to point `AZURE_POD_IDENTITY_AUTHORITY_HOST` at.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{pct_decode, HttpServer, Request, Requests, Response};

pub const TENANT: &str = "0f3d2c1b-aaaa-4bbb-8ccc-123456789abc";
pub const SUBSCRIPTION: &str = "9a8b7c6d-1111-4222-8333-abcdefabcdef";
pub const CLIENT_ID: &str = "5e4d3c2b-2222-4333-8444-0123456789ab";
pub const CLIENT_SECRET: &str = "app~secret.0123456789";
/// The client ID of the workload identity's application.
pub const WORKLOAD_CLIENT_ID: &str = "7c6b5a49-3333-4444-8555-0123456789cd";
/// The federated token the workload identity presents.
pub const FEDERATED_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e30.federated";
/// The application whose client certificates are registered.
pub const CERT_CLIENT_ID: &str = "3f2e1d0c-5555-4666-8777-0123456789aa";
/// The user-assigned managed identity.
pub const MANAGED_CLIENT_ID: &str = "1a2b3c4d-4444-4555-8666-0123456789ef";
/// The secret of App Service's identity endpoint (`IDENTITY_HEADER`).
pub const IDENTITY_HEADER: &str = "app-service-identity-secret";
/// Items per page of a list.
pub const PAGE: usize = 2;
/// Resource Manager's scope, as the Azure SDK asks for it.
pub const SCOPE: &str = "https://management.core.windows.net//.default";
/// Azure Monitor's ingestion scope (remote write's `azuread`).
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";

/// How the APIs misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 429 `TooManyRequests` from Resource Manager.
    Throttled,
    /// 500 from Resource Manager.
    ServerError,
}

struct State {
    vms: Vec<Value>,
    /// Scale sets with their machines.
    scale_sets: Vec<(Value, Vec<Value>)>,
    /// Interfaces by lower-cased ID.
    nics: BTreeMap<String, Value>,
    /// Tokens issued, with their scope.
    tokens: HashMap<String, String>,
    issued: u64,
    fault: Fault,
    /// Registered certificates (DER) by their SHA-1 thumbprint, base64url.
    certificates: HashMap<String, Vec<u8>>,
    /// The headers of the certificate assertions accepted.
    cert_assertions: Vec<Value>,
}

/// The stand-in: a proxy to give as `proxy_url`, the CA to trust, and the
/// managed identity endpoint's address.
pub struct Azure {
    /// `127.0.0.1:port` of the proxy.
    pub proxy: String,
    /// The CA certificate (PEM) of the APIs' certificate.
    pub ca_pem: String,
    /// `127.0.0.1:port` of the instance metadata service.
    pub imds: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    connects: Arc<Mutex<Vec<String>>>,
    _proxy: HttpServer,
    _imds: HttpServer,
}

fn entra_error(status: u16, code: &str, desc: &str) -> Response {
    Response::json(
        status,
        &json!({"error": code, "error_description": desc, "error_codes": [],
                "timestamp": "2026-01-01 00:00:00Z", "trace_id": "0", "correlation_id": "0"}),
    )
}

fn arm_error(status: u16, code: &str, msg: &str) -> Response {
    Response::json(status, &json!({"error": {"code": code, "message": msg}}))
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (pct_decode(k), pct_decode(v)))
        .collect()
}

fn issue(st: &mut State, scope: &str) -> String {
    st.issued += 1;
    let t = format!("entra-token-{}", st.issued);
    st.tokens.insert(t.clone(), scope.to_string());
    t
}

/// Entra ID's token endpoint.
fn token(st: &mut State, req: &Request) -> Response {
    if req.method != "POST" || req.path != format!("/{TENANT}/oauth2/v2.0/token") {
        if req.path.ends_with("/oauth2/v2.0/token") {
            return entra_error(
                400,
                "invalid_tenant",
                "AADSTS90002: Tenant not found. Check to make sure you have the correct tenant ID.",
            );
        }
        return Response::text(404, "not found");
    }
    let f = form(&req.body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return entra_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if get("scope") != SCOPE && get("scope") != MONITOR_SCOPE {
        return entra_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    if get("client_id") == CERT_CLIENT_ID {
        if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return entra_error(
                401,
                "invalid_client",
                "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            );
        }
        match check_cert_assertion(st, get("client_assertion")) {
            Ok(header) => st.cert_assertions.push(header),
            Err(why) => return entra_error(401, "invalid_client", why),
        }
        let t = issue(st, get("scope"));
        return Response::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": t}),
        );
    }
    let ok = if f.contains_key("client_assertion") {
        get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            && get("client_id") == WORKLOAD_CLIENT_ID
            && get("client_assertion") == FEDERATED_TOKEN
    } else {
        get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET
    };
    if !ok {
        return entra_error(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let t = issue(st, get("scope"));
    Response::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": t}),
    )
}

/// A digest of `data`, base64url without padding (a thumbprint).
fn sha_b64url(alg: &'static ring::digest::Algorithm, data: &[u8]) -> String {
    crate::common::base64_encode(ring::digest::digest(alg, data).as_ref())
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// The certificate assertion's header when Entra ID would take it, else
/// why not in its words.
fn check_cert_assertion(st: &State, jwt: &str) -> Result<Value, &'static str> {
    use super::gce::{b64url_decode, now};
    const BAD_SIGNATURE: &str = "AADSTS7000274: Client assertion contains an invalid signature.";
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("AADSTS50027: JWT token is invalid or malformed.");
    }
    let (Some(h), Some(c), Some(sig)) = (
        b64url_decode(parts[0]),
        b64url_decode(parts[1]),
        b64url_decode(parts[2]),
    ) else {
        return Err("AADSTS50027: JWT token is invalid or malformed.");
    };
    let (Ok(h), Ok(c)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return Err("AADSTS50027: JWT token is invalid or malformed.");
    };
    if h["alg"] != "RS256" {
        return Err(BAD_SIGNATURE);
    }
    let Some(cert) = h["x5t"].as_str().and_then(|t| st.certificates.get(t)) else {
        return Err("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.");
    };
    if let Some(t) = h.get("x5t#S256") {
        if t.as_str() != Some(sha_b64url(&ring::digest::SHA256, cert).as_str()) {
            return Err("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.");
        }
    }
    if let Some(x5c) = h.get("x5c") {
        let first = x5c[0].as_str().unwrap_or_default();
        if crate::common::base64_decode(first) != *cert {
            return Err("AADSTS700027: The certificate in x5c does not match the one of x5t.");
        }
    }
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|_| BAD_SIGNATURE)?;
    let public = parsed.public_key().subject_public_key.data.to_vec();
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| BAD_SIGNATURE)?;
    let audience = format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token");
    if c["aud"] != audience.as_str() {
        return Err("AADSTS700212: No matching federated identity record found for presented assertion audience.");
    }
    if c["iss"] != CERT_CLIENT_ID || c["sub"] != CERT_CLIENT_ID {
        return Err("AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    if c["jti"].as_str().unwrap_or_default().is_empty() {
        return Err("AADSTS700025: Client assertion has no jti.");
    }
    let (nbf, exp) = (
        c["nbf"].as_i64().unwrap_or(0),
        c["exp"].as_i64().unwrap_or(0),
    );
    let t = now();
    if exp <= t || nbf > t + 300 || exp - nbf > 3600 {
        return Err("AADSTS700024: Client assertion is not within its valid time range.");
    }
    Ok(h)
}

/// The metadata service's token endpoint, and App Service's at
/// `/msi/token`.
fn imds(st: &mut State, req: &Request) -> Response {
    let app_service = req.path == "/msi/token";
    if !app_service && req.path != "/metadata/identity/oauth2/token" {
        return Response::text(404, "not found");
    }
    if app_service {
        if req.header("x-identity-header") != Some(IDENTITY_HEADER) {
            return Response::json(401, &json!({"statusCode": 401, "message": "Unauthorized"}));
        }
    } else if req.header("metadata") != Some("true") {
        return entra_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if req.param("api-version").is_none() {
        return entra_error(
            400,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let resource = req.param("resource").unwrap_or("");
    if resource != "https://management.core.windows.net/"
        && resource != "https://monitor.azure.com/"
    {
        return entra_error(
            400,
            "invalid_resource",
            "AADSTS500011: The resource principal was not found",
        );
    }
    if let Some(id) = req.param("client_id") {
        if id != MANAGED_CLIENT_ID {
            return entra_error(400, "invalid_request", "Identity not found");
        }
    }
    let t = issue(st, &format!("{resource}/.default"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if app_service {
        // App Service says when, not how long
        return Response::json(
            200,
            &json!({"access_token": t, "client_id": req.param("client_id").unwrap_or("system"),
                    "expires_on": (now + 86399).to_string(), "resource": resource, "token_type": "Bearer"}),
        );
    }
    Response::json(
        200,
        &json!({"access_token": t, "client_id": req.param("client_id").unwrap_or("system"),
                "expires_in": "86399", "expires_on": (now + 86399).to_string(),
                "ext_expires_in": "86399", "not_before": now.to_string(),
                "resource": resource, "token_type": "Bearer"}),
    )
}

/// A page of `items` and the link to the next.
fn page(req: &Request, items: Vec<Value>) -> Response {
    let from: usize = req
        .param("$skiptoken")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let slice: Vec<Value> = items.iter().skip(from).take(PAGE).cloned().collect();
    let mut body = json!({ "value": slice });
    if from + PAGE < items.len() {
        body["nextLink"] = json!(format!(
            "https://management.azure.com{}?api-version={}&$skiptoken={}",
            req.path,
            req.param("api-version").unwrap_or(""),
            from + PAGE
        ));
    }
    Response::json(200, &body)
}

fn resource_group(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .map(|i| parts[i + 1].to_lowercase())
        .unwrap_or_default()
}

/// An interface as Resource Manager answers it: the public address's
/// properties only when expanded.
fn nic_answer(nic: &Value, expand: bool) -> Value {
    let mut n = nic.clone();
    if !expand {
        if let Some(ips) = n["properties"]["ipConfigurations"].as_array_mut() {
            for ip in ips {
                if let Some(p) = ip["properties"]["publicIPAddress"].as_object_mut() {
                    p.remove("properties");
                }
            }
        }
    }
    n
}

fn arm(st: &mut State, req: &Request) -> Response {
    let auth = req.header("authorization").unwrap_or("");
    if auth
        .strip_prefix("Bearer ")
        .is_none_or(|t| st.tokens.get(t).map(String::as_str) != Some(SCOPE))
    {
        return arm_error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        );
    }
    match st.fault {
        Fault::None => {}
        Fault::Throttled => {
            return arm_error(
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:03:00.",
            )
        }
        Fault::ServerError => {
            return arm_error(500, "InternalServerError", "Encountered internal server error.")
        }
    }
    let Some(version) = req.param("api-version") else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    if l.len() < 2 || l[0] != "subscriptions" {
        return arm_error(404, "NotFound", "not found");
    }
    if parts[1] != SUBSCRIPTION {
        return arm_error(
            404,
            "SubscriptionNotFound",
            &format!("The subscription '{}' could not be found.", parts[1]),
        );
    }
    let expand = req.param("$expand") == Some("IPConfigurations/PublicIPAddress");
    let rg_of = |v: &Value| resource_group(v["id"].as_str().unwrap_or(""));
    match &l[2..] {
        ["providers", "microsoft.compute", "virtualmachines"] => page(req, st.vms.clone()),
        ["resourcegroups", rg, "providers", "microsoft.compute", "virtualmachines"] => page(
            req,
            st.vms.iter().filter(|v| rg_of(v) == *rg).cloned().collect(),
        ),
        ["providers", "microsoft.compute", "virtualmachinescalesets"] => {
            page(req, st.scale_sets.iter().map(|(s, _)| s.clone()).collect())
        }
        ["resourcegroups", rg, "providers", "microsoft.compute", "virtualmachinescalesets"] => {
            page(
                req,
                st.scale_sets
                    .iter()
                    .filter(|(s, _)| rg_of(s) == *rg)
                    .map(|(s, _)| s.clone())
                    .collect(),
            )
        }
        ["resourcegroups", rg, "providers", "microsoft.compute", "virtualmachinescalesets", ss, "virtualmachines"] => {
            match st
                .scale_sets
                .iter()
                .find(|(s, _)| rg_of(s) == *rg && s["name"].as_str().map(str::to_lowercase).as_deref() == Some(*ss))
            {
                Some((_, vms)) => page(req, vms.clone()),
                None => arm_error(404, "ResourceNotFound", "The Resource was not found."),
            }
        }
        ["resourcegroups", _, "providers", "microsoft.network", "networkinterfaces", _] => {
            match st.nics.get(&format!("/{}", l.join("/"))) {
                Some(n) => Response::json(200, &nic_answer(n, expand)),
                None => arm_error(
                    404,
                    "ResourceNotFound",
                    &format!("The Resource 'Microsoft.Network/networkInterfaces/{}' under resource group '{}' was not found.", parts[7], parts[3]),
                ),
            }
        }
        ["resourcegroups", _, "providers", "microsoft.compute", "virtualmachinescalesets", _, "virtualmachines", _, "networkinterfaces", _] => {
            if version != "2018-10-01" {
                return arm_error(
                    400,
                    "NoRegisteredProviderFound",
                    &format!("No registered resource provider found for location 'westeurope' and API version '{version}' for type 'virtualMachineScaleSets/virtualMachines/networkInterfaces'."),
                );
            }
            match st.nics.get(&format!("/{}", l.join("/"))) {
                Some(n) => Response::json(200, &nic_answer(n, expand)),
                None => arm_error(404, "ResourceNotFound", "The Resource was not found."),
            }
        }
        _ => arm_error(404, "NotFound", "not found"),
    }
}

fn handle(st: &Mutex<State>, req: &Request) -> Response {
    let host = req
        .header("host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    let mut st = st.lock().unwrap();
    match host.as_str() {
        "login.microsoftonline.com" => token(&mut st, req),
        "management.azure.com" => arm(&mut st, req),
        _ => Response::text(421, "Misdirected Request"),
    }
}

/// Options of a machine the stand-in makes.
#[derive(Clone, Debug, Default)]
pub struct Vm {
    pub resource_group: String,
    pub name: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub tags: Value,
    /// The interface says nothing of `primary`, as for a deallocated
    /// machine.
    pub deallocated: bool,
    /// The interface the machine names does not exist.
    pub nic_missing: bool,
}

impl Vm {
    pub fn new(rg: &str, name: &str, private_ip: &str) -> Vm {
        Vm {
            resource_group: rg.into(),
            name: name.into(),
            private_ip: private_ip.into(),
            tags: json!({}),
            ..Vm::default()
        }
    }
}

fn sub_path(rg: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers")
}

/// An interface's JSON.
fn nic_json(
    id: &str,
    name: &str,
    primary: Option<bool>,
    private: &str,
    public: Option<&str>,
) -> Value {
    let mut ip = json!({"name": "ipconfig1", "id": format!("{id}/ipConfigurations/ipconfig1"),
        "properties": {"privateIPAddress": private, "privateIPAllocationMethod": "Dynamic",
                       "privateIPAddressVersion": "IPv4", "primary": true, "provisioningState": "Succeeded"}});
    if let Some(p) = public {
        ip["properties"]["publicIPAddress"] = json!({
            "id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/publicIPAddresses/{name}-ip"),
            "properties": {"ipAddress": p, "publicIPAllocationMethod": "Static", "provisioningState": "Succeeded"}});
    }
    let mut props = json!({"provisioningState": "Succeeded", "ipConfigurations": [ip],
        "enableAcceleratedNetworking": false, "enableIPForwarding": false});
    if let Some(p) = primary {
        props["primary"] = json!(p);
    }
    json!({"name": name, "id": id, "location": "westeurope", "type": "Microsoft.Network/networkInterfaces", "properties": props})
}

impl Azure {
    pub fn start() -> Azure {
        let state = Arc::new(Mutex::new(State {
            vms: Vec::new(),
            scale_sets: Vec::new(),
            nics: BTreeMap::new(),
            tokens: HashMap::new(),
            issued: 0,
            fault: Fault::None,
            certificates: HashMap::new(),
            cert_assertions: Vec::new(),
        }));
        let requests = Requests::default();
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let (proxy, ca_pem, connects) = HttpServer::tls_proxy(
            &["login.microsoftonline.com", "management.azure.com"],
            Arc::new(move |req: &Request| {
                rq.push(req);
                handle(&st, req)
            }),
        );
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let imds_server = HttpServer::tcp(Arc::new(move |req: &Request| {
            rq.push(req);
            imds(&mut st.lock().unwrap(), req)
        }));
        Azure {
            proxy: proxy.addr.clone(),
            ca_pem,
            imds: imds_server.addr.clone(),
            state,
            requests,
            connects,
            _proxy: proxy,
            _imds: imds_server,
        }
    }

    /// Adds a standalone machine with its interface.
    pub fn add_vm(&self, vm: &Vm) {
        let base = sub_path(&vm.resource_group);
        let nic_id = format!("{base}/Microsoft.Network/networkInterfaces/{}-nic", vm.name);
        let v = json!({
            "name": vm.name,
            "id": format!("{base}/Microsoft.Compute/virtualMachines/{}", vm.name),
            "type": "Microsoft.Compute/virtualMachines",
            "location": "westeurope",
            "tags": vm.tags,
            "properties": {
                "vmId": format!("00000000-0000-4000-8000-{:012}", vm.name.len()),
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {"osDisk": {"osType": "Linux", "name": format!("{}-osdisk", vm.name),
                    "createOption": "FromImage", "caching": "ReadWrite"}},
                "osProfile": {"computerName": format!("{}-host", vm.name), "adminUsername": "azureuser"},
                "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": true}}]},
                "provisioningState": "Succeeded"
            }
        });
        let mut st = self.state.lock().unwrap();
        st.vms.push(v);
        if !vm.nic_missing {
            let primary = if vm.deallocated { None } else { Some(true) };
            st.nics.insert(
                nic_id.to_lowercase(),
                nic_json(
                    &nic_id,
                    &format!("{}-nic", vm.name),
                    primary,
                    &vm.private_ip,
                    vm.public_ip.as_deref(),
                ),
            );
        }
    }

    /// Removes a standalone machine by name.
    pub fn remove_vm(&self, name: &str) {
        self.state.lock().unwrap().vms.retain(|v| v["name"] != name);
    }

    /// Adds a scale set with machines of these private addresses
    /// (instance IDs 0, 1, …).
    pub fn add_scale_set(&self, rg: &str, name: &str, ips: &[&str]) {
        let base = sub_path(rg);
        let ss_id = format!("{base}/Microsoft.Compute/virtualMachineScaleSets/{name}");
        let set = json!({"name": name, "id": ss_id, "type": "Microsoft.Compute/virtualMachineScaleSets",
            "location": "westeurope", "sku": {"name": "Standard_D2s_v3", "tier": "Standard", "capacity": ips.len()},
            "properties": {"upgradePolicy": {"mode": "Manual"}, "provisioningState": "Succeeded"}});
        let mut vms = Vec::new();
        let mut st = self.state.lock().unwrap();
        for (i, ip) in ips.iter().enumerate() {
            let vm_id = format!("{ss_id}/virtualMachines/{i}");
            let nic_id = format!("{vm_id}/networkInterfaces/{name}-nic");
            vms.push(json!({
                "name": format!("{name}_{i}"), "id": vm_id, "instanceId": i.to_string(),
                "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                "location": "westeurope", "tags": {"pool": name},
                "sku": {"name": "Standard_D2s_v3", "tier": "Standard"},
                "properties": {
                    "latestModelApplied": true,
                    "storageProfile": {"osDisk": {"osType": "Windows"}},
                    "osProfile": {"computerName": format!("{name}{i:06}")},
                    "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
                    "provisioningState": "Succeeded"
                }
            }));
            st.nics.insert(
                nic_id.to_lowercase(),
                nic_json(&nic_id, &format!("{name}-nic"), Some(true), ip, None),
            );
        }
        st.scale_sets.push((set, vms));
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.lock().unwrap().fault = f;
    }

    /// Registers a client certificate (PEM) of [`CERT_CLIENT_ID`]; its
    /// SHA-1 thumbprint, base64url.
    pub fn register_certificate(&self, pem: &str) -> String {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("a PEM certificate")
            .as_ref()
            .to_vec();
        let t = sha_b64url(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        self.state
            .lock()
            .unwrap()
            .certificates
            .insert(t.clone(), der);
        t
    }

    /// The headers of the certificate assertions accepted.
    pub fn cert_assertions(&self) -> Vec<Value> {
        self.state.lock().unwrap().cert_assertions.clone()
    }

    /// Forgets every token issued (as if they had expired).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    /// The scope of a token issued (none for a token not issued).
    pub fn token_scope(&self, token: &str) -> Option<String> {
        self.state.lock().unwrap().tokens.get(token).cloned()
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    /// The `CONNECT` targets the proxy was asked for.
    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(
        method: &str,
        host: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Request {
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            method: method.into(),
            path: pct_decode(path),
            raw_query: raw_query.into(),
            query: raw_query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (pct_decode(k), pct_decode(v))
                })
                .collect(),
            headers: std::iter::once(("host".to_string(), host.to_string()))
                .chain(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn token_for(a: &Azure) -> String {
        let body = format!(
            "client_id={CLIENT_ID}&client_secret={}&grant_type=client_credentials&scope={}",
            CLIENT_SECRET.replace('~', "%7E"),
            SCOPE.replace(':', "%3A").replace('/', "%2F")
        );
        let r = handle(
            &a.state,
            &req(
                "POST",
                "login.microsoftonline.com",
                &format!("/{TENANT}/oauth2/v2.0/token"),
                &[],
                &body,
            ),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    fn b64u(data: &[u8]) -> String {
        crate::common::base64_encode(data)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    }

    /// An RSA key (PKCS #8 DER) and a self-signed certificate of it (PEM)
    /// made by openssl.
    fn openssl_certificate(dir: &std::path::Path, name: &str) -> Option<(Vec<u8>, String)> {
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        let out = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-keyout",
            ])
            .arg(&k)
            .arg("-out")
            .arg(&c)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        use rustls_pki_types::pem::PemObject;
        let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(&k).unwrap();
        Some((
            key.secret_pkcs8_der().to_vec(),
            std::fs::read_to_string(&c).unwrap(),
        ))
    }

    fn sign(key: &[u8], header: &Value, claims: &Value) -> String {
        let pair = ring::rsa::KeyPair::from_pkcs8(key).unwrap();
        let input = format!(
            "{}.{}",
            b64u(header.to_string().as_bytes()),
            b64u(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64u(&sig))
    }

    #[test]
    fn certificate_assertions_need_the_registered_key() {
        let dir = tempfile::tempdir().unwrap();
        let Some((key, cert)) = openssl_certificate(dir.path(), "app") else {
            assert!(!crate::common::must_run(), "openssl is needed");
            return;
        };
        let (other_key, _) = openssl_certificate(dir.path(), "other").unwrap();
        let a = Azure::start();
        let x5t = a.register_certificate(&cert);
        let now = super::super::gce::now();
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
        let claims = json!({
            "aud": format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
            "iss": CERT_CLIENT_ID, "sub": CERT_CLIENT_ID, "jti": "1",
            "nbf": now, "exp": now + 600,
        });
        let check = |jwt: &str| check_cert_assertion(&a.state.lock().unwrap(), jwt);
        assert!(check(&sign(&key, &header, &claims)).is_ok());
        // signed by another key
        let e = check(&sign(&other_key, &header, &claims)).unwrap_err();
        assert!(e.starts_with("AADSTS7000274"), "{e}");
        // claims changed after signing
        let good = sign(&key, &header, &claims);
        let parts: Vec<&str> = good.split('.').collect();
        let mut other = claims.clone();
        other["sub"] = json!("someone-else");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64u(other.to_string().as_bytes()),
            parts[2]
        );
        assert!(check(&forged).unwrap_err().starts_with("AADSTS7000274"));
        // an unknown thumbprint, a wrong audience, an expired assertion
        let e = check(&sign(
            &key,
            &json!({"alg": "RS256", "x5t": "AAAA"}),
            &claims,
        ))
        .unwrap_err();
        assert!(e.starts_with("AADSTS700027:"), "{e}");
        let mut c = claims.clone();
        c["aud"] = json!("https://login.microsoftonline.com/other/oauth2/v2.0/token");
        assert!(check(&sign(&key, &header, &c))
            .unwrap_err()
            .starts_with("AADSTS700212"));
        let mut c = claims.clone();
        c["exp"] = json!(now - 1);
        assert!(check(&sign(&key, &header, &c))
            .unwrap_err()
            .starts_with("AADSTS700024"));
    }

    #[test]
    fn tokens_by_secret_only_when_right() {
        let a = Azure::start();
        token_for(&a);
        let r = handle(
            &a.state,
            &req("POST", "login.microsoftonline.com", &format!("/{TENANT}/oauth2/v2.0/token"), &[],
                 &format!("client_id={CLIENT_ID}&client_secret=wrong&grant_type=client_credentials&scope={SCOPE}")),
        );
        assert_eq!(r.status, 401);
        assert!(String::from_utf8_lossy(&r.body).contains("AADSTS7000215"));
    }

    #[test]
    fn lists_page_by_page() {
        let a = Azure::start();
        for i in 0..5 {
            a.add_vm(&Vm::new("rg-a", &format!("vm{i}"), &format!("10.0.0.{i}")));
        }
        let t = token_for(&a);
        let auth = format!("Bearer {t}");
        let mut url = format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Compute/virtualMachines?api-version=2024-03-01");
        let mut names = Vec::new();
        loop {
            let r = handle(
                &a.state,
                &req(
                    "GET",
                    "management.azure.com",
                    &url,
                    &[("authorization", &auth)],
                    "",
                ),
            );
            assert_eq!(r.status, 200);
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            names.extend(
                v["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["name"].as_str().unwrap().to_string()),
            );
            match v["nextLink"].as_str() {
                Some(n) => {
                    url = n
                        .strip_prefix("https://management.azure.com")
                        .unwrap()
                        .to_string()
                }
                None => break,
            }
        }
        assert_eq!(names, ["vm0", "vm1", "vm2", "vm3", "vm4"]);
        // without a token, refused
        let r = handle(&a.state, &req("GET", "management.azure.com", &url, &[], ""));
        assert_eq!(r.status, 401);
    }

    #[test]
    fn interfaces_expand_public_addresses_and_scale_sets_want_their_version() {
        let a = Azure::start();
        let mut vm = Vm::new("rg-a", "web", "10.0.0.4");
        vm.public_ip = Some("20.0.0.1".into());
        a.add_vm(&vm);
        a.add_scale_set("rg-b", "pool", &["10.1.0.4"]);
        let auth = format!("Bearer {}", token_for(&a));
        let nic = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/Microsoft.Network/networkInterfaces/web-nic");
        let get = |url: &str| {
            let r = handle(
                &a.state,
                &req(
                    "GET",
                    "management.azure.com",
                    url,
                    &[("authorization", &auth)],
                    "",
                ),
            );
            (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
        };
        let (code, v) = get(&format!("{nic}?api-version=2023-09-01"));
        assert_eq!(code, 200);
        assert!(
            v["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["properties"]
                .is_null()
        );
        let (_, v) = get(&format!(
            "{nic}?api-version=2023-09-01&$expand=IPConfigurations%2FPublicIPAddress"
        ));
        assert_eq!(
            v["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["properties"]
                ["ipAddress"],
            "20.0.0.1"
        );
        let ss_nic = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-b/providers/Microsoft.Compute/virtualMachineScaleSets/pool/virtualMachines/0/networkInterfaces/pool-nic");
        assert_eq!(get(&format!("{ss_nic}?api-version=2023-09-01")).0, 400);
        let (code, v) = get(&format!("{ss_nic}?api-version=2018-10-01"));
        assert_eq!(code, 200);
        assert_eq!(v["properties"]["primary"], true);
    }

    #[test]
    fn the_metadata_service_wants_its_header() {
        let a = Azure::start();
        let mut st = a.state.lock().unwrap();
        let path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.core.windows.net%2F";
        assert_eq!(
            imds(&mut st, &req("GET", "169.254.169.254", path, &[], "")).status,
            400
        );
        assert_eq!(
            imds(
                &mut st,
                &req("GET", "169.254.169.254", path, &[("metadata", "true")], "")
            )
            .status,
            200
        );
        let other = format!("{path}&client_id=nobody");
        assert_eq!(
            imds(
                &mut st,
                &req(
                    "GET",
                    "169.254.169.254",
                    &other,
                    &[("metadata", "true")],
                    ""
                )
            )
            .status,
            400
        );
    }
}
