//! A stand-in for a Eureka server (Spring Cloud Netflix's, under
//! `/eureka`): instances register and renew as Eureka clients do
//! (`POST /eureka/apps/<APP>` with an `<instance>` document,
//! `DELETE /eureka/apps/<APP>/<id>`), and `GET /eureka/apps` lists every
//! application in Eureka's XML (or JSON when asked for it alone), with
//! `versions__delta` and `apps__hashcode` as Eureka writes them. It can
//! require basic authentication (as Spring Security in front of it does)
//! and be told to fail.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{HttpServer, Request, Requests, Response};

/// How the server misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 503, as a Eureka server that is starting.
    Unavailable,
    /// 200 with a body that is not XML.
    Garbage,
}

/// One registered instance.
#[derive(Clone, Debug)]
pub struct Instance {
    pub app: String,
    pub instance_id: String,
    pub host_name: String,
    pub ip_addr: String,
    pub port: u16,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
}

impl Instance {
    pub fn new(app: &str, host: &str, port: u16) -> Instance {
        Instance {
            app: app.to_ascii_uppercase(),
            instance_id: format!("{host}:{}:{port}", app.to_ascii_lowercase()),
            host_name: host.into(),
            ip_addr: host.into(),
            port,
            status: "UP".into(),
            metadata: BTreeMap::new(),
        }
    }

    pub fn meta(mut self, k: &str, v: &str) -> Instance {
        self.metadata.insert(k.into(), v.into());
        self
    }

    /// The `<instance>` document a Eureka client registers.
    pub fn xml(&self) -> String {
        let app_lower = self.app.to_ascii_lowercase();
        let mut md = String::new();
        for (k, v) in &self.metadata {
            md.push_str(&format!("<{k}>{}</{k}>", escape(v)));
        }
        format!(
            "<instance>\
<instanceId>{id}</instanceId>\
<hostName>{host}</hostName>\
<app>{app}</app>\
<ipAddr>{ip}</ipAddr>\
<status>{status}</status>\
<overriddenstatus>UNKNOWN</overriddenstatus>\
<port enabled=\"true\">{port}</port>\
<securePort enabled=\"false\">443</securePort>\
<countryId>1</countryId>\
<dataCenterInfo class=\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\"><name>MyOwn</name></dataCenterInfo>\
<leaseInfo><renewalIntervalInSecs>30</renewalIntervalInSecs><durationInSecs>90</durationInSecs>\
<registrationTimestamp>1727776800000</registrationTimestamp><lastRenewalTimestamp>1727776830000</lastRenewalTimestamp>\
<evictionTimestamp>0</evictionTimestamp><serviceUpTimestamp>1727776800000</serviceUpTimestamp></leaseInfo>\
<metadata>{md}</metadata>\
<homePageUrl>http://{host}:{port}/</homePageUrl>\
<statusPageUrl>http://{host}:{port}/actuator/info</statusPageUrl>\
<healthCheckUrl>http://{host}:{port}/actuator/health</healthCheckUrl>\
<vipAddress>{app_lower}</vipAddress>\
<secureVipAddress>{app_lower}</secureVipAddress>\
<isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>\
<lastUpdatedTimestamp>1727776800000</lastUpdatedTimestamp>\
<lastDirtyTimestamp>1727776799000</lastDirtyTimestamp>\
<actionType>ADDED</actionType>\
</instance>",
            id = escape(&self.instance_id),
            host = escape(&self.host_name),
            app = escape(&self.app),
            ip = escape(&self.ip_addr),
            status = self.status,
            port = self.port,
        )
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of the first `<name>...</name>` in `doc` (registration
/// bodies are written by the test's own client, so a plain search does).
fn tag<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let start = doc.find(&open)?;
    let body = &doc[start..];
    let gt = body.find('>')?;
    let end = body.find(&format!("</{name}>"))?;
    Some(&body[gt + 1..end])
}

struct State {
    /// app → instance id → (instance, registration XML)
    apps: BTreeMap<String, BTreeMap<String, String>>,
    version: u64,
    fault: Fault,
}

/// The stand-in, serving until dropped.
pub struct Eureka {
    pub addr: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    _server: HttpServer,
}

fn handle(st: &Mutex<State>, auth: &Option<String>, req: &Request) -> Response {
    if let Some(want) = auth {
        if req.header("authorization") != Some(want.as_str()) {
            return Response::json(
                401,
                &serde_json::json!({"timestamp": "2024-10-01T10:00:00.000+00:00", "status": 401,
                                    "error": "Unauthorized", "path": req.path}),
            )
            .with_header("WWW-Authenticate", "Basic realm=\"Realm\"");
        }
    }
    let mut st = st.lock().unwrap();
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["eureka", "apps", app]) => {
            let body = String::from_utf8_lossy(&req.body).to_string();
            let Some(id) = tag(&body, "instanceId") else {
                return Response::text(400, "");
            };
            st.apps
                .entry(app.to_ascii_uppercase())
                .or_default()
                .insert(id.to_string(), body.clone());
            st.version += 1;
            Response::text(204, "")
        }
        ("DELETE", ["eureka", "apps", app, id]) => {
            let removed = st
                .apps
                .get_mut(&app.to_ascii_uppercase())
                .and_then(|a| a.remove(*id))
                .is_some();
            st.apps.retain(|_, a| !a.is_empty());
            st.version += 1;
            Response::text(if removed { 200 } else { 404 }, "")
        }
        ("GET", ["eureka", "apps"]) => {
            match st.fault {
                Fault::None => {}
                Fault::Unavailable => return Response::text(503, ""),
                Fault::Garbage => {
                    return Response::text(200, "{\"applications\": ")
                        .with_header("Content-Type", "application/xml")
                }
            }
            let up: usize = st.apps.values().map(BTreeMap::len).sum();
            let hash = if up == 0 {
                String::new()
            } else {
                format!("UP_{up}_")
            };
            if req.header("accept") == Some("application/json") {
                return Response::json(
                    200,
                    &serde_json::json!({"applications": {"versions__delta": "1", "apps__hashcode": hash,
                        "application": st.apps.keys().map(|a| serde_json::json!({"name": a})).collect::<Vec<_>>()}}),
                );
            }
            let mut xml = format!(
                "<applications>\n  <versions__delta>1</versions__delta>\n  <apps__hashcode>{hash}</apps__hashcode>\n"
            );
            for (app, instances) in &st.apps {
                xml.push_str(&format!("  <application>\n    <name>{app}</name>\n"));
                for doc in instances.values() {
                    xml.push_str("    ");
                    xml.push_str(doc);
                    xml.push('\n');
                }
                xml.push_str("  </application>\n");
            }
            xml.push_str("</applications>");
            let mut r = Response::text(200, &xml);
            r.headers = vec![("Content-Type".into(), "application/xml".into())];
            r
        }
        _ => Response::text(404, ""),
    }
}

impl Eureka {
    /// A server; with `user`, requests need that basic authentication.
    pub fn start(user: Option<(&str, &str)>) -> Eureka {
        let state = Arc::new(Mutex::new(State {
            apps: BTreeMap::new(),
            version: 0,
            fault: Fault::None,
        }));
        let auth = user.map(|(u, p)| {
            format!(
                "Basic {}",
                crate::common::base64_encode(format!("{u}:{p}").as_bytes())
            )
        });
        let requests = Requests::default();
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let server = HttpServer::tcp(Arc::new(move |req: &Request| {
            rq.push(req);
            handle(&st, &auth, req)
        }));
        Eureka {
            addr: server.addr.clone(),
            state,
            requests,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/eureka", self.addr)
    }

    /// Registers an instance as a Eureka client does (over HTTP).
    pub fn register(&self, i: &Instance, auth: Option<(&str, &str)>) {
        let body = i.xml();
        let mut headers = vec![("Content-Type", "application/xml".to_string())];
        if let Some((u, p)) = auth {
            headers.push((
                "Authorization",
                format!(
                    "Basic {}",
                    crate::common::base64_encode(format!("{u}:{p}").as_bytes())
                ),
            ));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _) = crate::common::post_bytes(
            &self.addr,
            &format!("/eureka/apps/{}", i.app),
            &h,
            body.as_bytes(),
        );
        assert_eq!(code, 204, "registration of {}", i.instance_id);
    }

    /// Removes an instance (as a client shutting down does).
    pub fn deregister(&self, app: &str, id: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(a) = st.apps.get_mut(&app.to_ascii_uppercase()) {
            a.remove(id);
        }
        st.apps.retain(|_, a| !a.is_empty());
        st.version += 1;
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.lock().unwrap().fault = f;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }
}
