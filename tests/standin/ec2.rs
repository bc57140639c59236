//! A stand-in for the AWS APIs EC2 discovery uses, checking every
//! request's Signature Version 4 as AWS does (its own implementation of
//! the signing process, checked with boto3 by `ec2_check.py`):
//!
//! - EC2's Query API (`POST /`, form body, version 2016-11-15):
//!   `DescribeInstances` (filters `instance-state-name`, `instance-id`,
//!   `tag:<key>`, `tag-key`; pages of `MaxResults` or of the stand-in's
//!   page size with `NextToken`) and `DescribeAvailabilityZones`, in EC2's
//!   XML; errors as `<Response><Errors><Error>`;
//! - STS `AssumeRole` (role ARN and external ID checked), whose temporary
//!   credentials (with their session token) EC2 then takes;
//! - the instance metadata service (IMDSv2: a token from
//!   `PUT /latest/api/token`, then the role's credentials and the region).
//!
//! It answers on 127.0.0.1 (as `endpoint`, and as the metadata service)
//! and, through a TLS-intercepting proxy, at the real names
//! `ec2.<region>.amazonaws.com` and `sts.<region>.amazonaws.com`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ring::{digest, hmac};

use super::{HttpServer, Request, Requests, Response};

pub const REGION: &str = "us-east-1";
/// Long-term keys: (access key, secret).
pub const KEYS: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);
/// A role the keys may assume, with its external ID.
pub const ROLE: (&str, &str) = ("arn:aws:iam::123456789012:role/prometheus-sd", "ext-42");
/// The instance profile's role name (metadata service).
pub const INSTANCE_ROLE: &str = "flint-instance-role";

/// An instance of the stand-in's region.
#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub state: String,
    pub az: String,
    pub tags: Vec<(String, String)>,
    pub ipv6: Vec<(String, bool)>,
}

impl Instance {
    pub fn new(id: &str, private_ip: &str) -> Instance {
        Instance {
            id: id.into(),
            private_ip: Some(private_ip.into()),
            public_ip: None,
            state: "running".into(),
            az: format!("{REGION}a"),
            tags: Vec::new(),
            ipv6: Vec::new(),
        }
    }

    pub fn tag(mut self, k: &str, v: &str) -> Instance {
        self.tags.push((k.into(), v.into()));
        self
    }

    pub fn public(mut self, ip: &str) -> Instance {
        self.public_ip = Some(ip.into());
        self
    }

    pub fn state(mut self, s: &str) -> Instance {
        self.state = s.into();
        self
    }

    pub fn ipv6(mut self, addr: &str, primary: bool) -> Instance {
        self.ipv6.push((addr.into(), primary));
        self
    }

    fn xml(&self) -> String {
        let code = match self.state.as_str() {
            "pending" => 0,
            "running" => 16,
            "stopping" => 64,
            "stopped" => 80,
            _ => 48,
        };
        let mut x = format!(
            "<item><instanceId>{}</instanceId><imageId>ami-0abcdef1234567890</imageId>\
<instanceState><code>{code}</code><name>{}</name></instanceState>",
            self.id, self.state
        );
        let dns = self
            .private_ip
            .as_ref()
            .map(|ip| format!("ip-{}.ec2.internal", ip.replace('.', "-")))
            .unwrap_or_default();
        x.push_str(&format!("<privateDnsName>{dns}</privateDnsName>"));
        match &self.public_ip {
            Some(ip) => x.push_str(&format!(
                "<dnsName>ec2-{}.compute-1.amazonaws.com</dnsName>",
                ip.replace('.', "-")
            )),
            None => x.push_str("<dnsName/>"),
        }
        x.push_str(&format!(
            "<reason/><keyName>ops</keyName><amiLaunchIndex>0</amiLaunchIndex><productCodes/>\
<instanceType>t3.micro</instanceType><launchTime>2024-10-01T10:00:00.000Z</launchTime>\
<placement><availabilityZone>{}</availabilityZone><groupName/><tenancy>default</tenancy></placement>\
<monitoring><state>disabled</state></monitoring><subnetId>subnet-0a1</subnetId><vpcId>vpc-0b2</vpcId>",
            self.az
        ));
        if let Some(ip) = &self.private_ip {
            x.push_str(&format!("<privateIpAddress>{ip}</privateIpAddress>"));
        }
        if let Some(ip) = &self.public_ip {
            x.push_str(&format!("<ipAddress>{ip}</ipAddress>"));
        }
        x.push_str("<sourceDestCheck>true</sourceDestCheck><groupSet><item><groupId>sg-1</groupId><groupName>default</groupName></item></groupSet>\
<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>\
<blockDeviceMapping/><virtualizationType>hvm</virtualizationType><clientToken/>");
        if !self.tags.is_empty() {
            x.push_str("<tagSet>");
            for (k, v) in &self.tags {
                x.push_str(&format!("<item><key>{k}</key><value>{v}</value></item>"));
            }
            x.push_str("</tagSet>");
        }
        x.push_str("<hypervisor>xen</hypervisor><networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>\
<subnetId>subnet-0a1</subnetId><vpcId>vpc-0b2</vpcId><ownerId>123456789012</ownerId><status>in-use</status>\
<attachment><attachmentId>eni-attach-1</attachmentId><deviceIndex>0</deviceIndex><status>attached</status></attachment>");
        if !self.ipv6.is_empty() {
            x.push_str("<ipv6AddressesSet>");
            for (a, p) in &self.ipv6 {
                x.push_str(&format!(
                    "<item><ipv6Address>{a}</ipv6Address><isPrimaryIpv6>{p}</isPrimaryIpv6></item>"
                ));
            }
            x.push_str("</ipv6AddressesSet>");
        }
        x.push_str("</item></networkInterfaceSet><ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport></item>");
        x
    }
}

struct Temp {
    secret: String,
    token: String,
}

struct State {
    instances: Vec<Instance>,
    page: usize,
    /// Temporary credentials: access key → secret, session token.
    temp: HashMap<String, Temp>,
    issued: u64,
    imds_tokens: Vec<String>,
    /// The signatures the stand-in refused, with why.
    refused: Vec<String>,
    /// Bodies of the remote write requests taken (Amazon Managed
    /// Service for Prometheus's endpoint).
    remote_writes: Vec<Vec<u8>>,
}

/// The stand-in.
pub struct Aws {
    /// `127.0.0.1:port`: EC2 and STS as `endpoint`, and the metadata service.
    pub addr: String,
    /// The TLS-intercepting proxy for the real names, and its CA (PEM).
    pub proxy: String,
    pub ca_pem: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    _tcp: HttpServer,
    _proxy: HttpServer,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

fn encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn xml_error(status: u16, code: &str, msg: &str) -> Response {
    let mut r = Response::text(
        status,
        &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message></Error></Errors><RequestID>0f1e2d3c-stand-in</RequestID></Response>"),
    );
    r.headers = vec![("Content-Type".into(), "text/xml;charset=UTF-8".into())];
    r
}

fn sts_error(status: u16, code: &str, msg: &str) -> Response {
    let mut r = Response::text(
        status,
        &format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{msg}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>"),
    );
    r.headers = vec![("Content-Type".into(), "text/xml".into())];
    r
}

/// Checks a request's Signature Version 4 for `service`; the access key
/// on success, else why not.
fn verify(st: &State, req: &Request, service: &str) -> Result<String, (u16, &'static str, String)> {
    let auth = req.header("authorization").ok_or((
        401,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token".to_string(),
    ))?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or((
        400,
        "IncompleteSignature",
        "unknown algorithm".to_string(),
    ))?;
    let mut cred = "";
    let mut signed = "";
    let mut sig = "";
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').unwrap_or(("", ""));
        match k {
            "Credential" => cred = v,
            "SignedHeaders" => signed = v,
            "Signature" => sig = v,
            _ => {}
        }
    }
    let c: Vec<&str> = cred.split('/').collect();
    if c.len() != 5 || c[4] != "aws4_request" {
        return Err((400, "IncompleteSignature", format!("bad credential {cred}")));
    }
    let (ak, date, region, svc) = (c[0], c[1], c[2], c[3]);
    if region != REGION || svc != service {
        return Err((
            401,
            "AuthFailure",
            format!("credential scope {region}/{svc}"),
        ));
    }
    let (secret, token) = if ak == KEYS.0 {
        (KEYS.1.to_string(), None)
    } else if let Some(t) = st.temp.get(ak) {
        (t.secret.clone(), Some(t.token.clone()))
    } else {
        return Err((
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials".into(),
        ));
    };
    if token.as_deref() != req.header("x-amz-security-token") {
        return Err((
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials".into(),
        ));
    }
    let amz_date = req.header("x-amz-date").unwrap_or("");
    if !amz_date.starts_with(date) {
        return Err((403, "SignatureDoesNotMatch", "date mismatch".into()));
    }
    // the canonical request
    let mut q: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    q.sort();
    let query = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for h in signed.split(';') {
        let v = req.header(h).unwrap_or("");
        headers.push_str(&format!(
            "{h}:{}\n",
            v.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    let canonical = format!(
        "{}\n{}\n{query}\n{headers}\n{signed}\n{}",
        req.method,
        req.path,
        hex(digest::digest(&digest::SHA256, &req.body).as_ref())
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{svc}/aws4_request\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, svc, "aws4_request"] {
        k = hmac_sha256(&k, part);
    }
    if hex(&hmac_sha256(&k, &to_sign)) != sig {
        return Err((
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into(),
        ));
    }
    if !signed.split(';').any(|h| h == "host") {
        return Err((403, "SignatureDoesNotMatch", "host not signed".into()));
    }
    Ok(ak.to_string())
}

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

fn handle(st: &Mutex<State>, req: &Request) -> Response {
    let mut st = st.lock().unwrap();
    // the instance metadata service
    if req.path.starts_with("/latest/") {
        if req.method == "PUT" && req.path == "/latest/api/token" {
            if req.header("x-aws-ec2-metadata-token-ttl-seconds").is_none() {
                return Response::text(400, "");
            }
            let t = format!("imds-token-{}", st.imds_tokens.len() + 1);
            st.imds_tokens.push(t.clone());
            return Response::text(200, &t);
        }
        if !req
            .header("x-aws-ec2-metadata-token")
            .is_some_and(|t| st.imds_tokens.iter().any(|x| x == t))
        {
            return Response::text(401, "");
        }
        return match req.path.as_str() {
            "/latest/meta-data/placement/region" => Response::text(200, REGION),
            "/latest/meta-data/iam/security-credentials/" => Response::text(200, INSTANCE_ROLE),
            p if p == format!("/latest/meta-data/iam/security-credentials/{INSTANCE_ROLE}") => {
                st.issued += 1;
                let ak = format!("ASIAIMDS{:08}", st.issued);
                let (secret, token) = (
                    format!("imds-secret-{}", st.issued),
                    format!("imds-session-{}", st.issued),
                );
                st.temp.insert(
                    ak.clone(),
                    Temp {
                        secret: secret.clone(),
                        token: token.clone(),
                    },
                );
                Response::json(
                    200,
                    &serde_json::json!({"Code": "Success", "LastUpdated": "2024-10-01T10:00:00Z", "Type": "AWS-HMAC",
                        "AccessKeyId": ak, "SecretAccessKey": secret, "Token": token,
                        "Expiration": "2099-01-01T00:00:00Z"}),
                )
            }
            _ => Response::text(404, ""),
        };
    }
    // Amazon Managed Service for Prometheus: remote write, signed for "aps"
    if req.method == "POST"
        && req.path.starts_with("/workspaces/")
        && req.path.ends_with("/api/v1/remote_write")
    {
        return match verify(&st, req, "aps") {
            Ok(_) => {
                st.remote_writes.push(req.body.clone());
                Response::text(200, "")
            }
            Err((code, c, m)) => {
                st.refused.push(format!("{c}: {m}"));
                Response::json(code, &serde_json::json!({ "message": m }))
            }
        };
    }
    if req.method != "POST" || req.path != "/" {
        return xml_error(
            400,
            "InvalidAction",
            "The action is not valid for this web service.",
        );
    }
    let f = form(req);
    let action = f.get("Action").cloned().unwrap_or_default();
    if action == "AssumeRole" {
        if let Err((code, c, m)) = verify(&st, req, "sts") {
            st.refused.push(format!("{c}: {m}"));
            return sts_error(code, c, &m);
        }
        if f.get("RoleArn").map(String::as_str) != Some(ROLE.0)
            || f.get("ExternalId").map(String::as_str) != Some(ROLE.1)
            || f.get("RoleSessionName").is_none_or(|s| s.is_empty())
        {
            return sts_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
            );
        }
        st.issued += 1;
        let ak = format!("ASIASTS{:09}", st.issued);
        let (secret, token) = (
            format!("sts-secret-{}", st.issued),
            format!("sts-session-token-{}", st.issued),
        );
        st.temp.insert(
            ak.clone(),
            Temp {
                secret: secret.clone(),
                token: token.clone(),
            },
        );
        let mut r = Response::text(
            200,
            &format!("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
<AssumedRoleUser><AssumedRoleId>AROA:{session}</AssumedRoleId><Arn>{arn}/{session}</Arn></AssumedRoleUser>\
<Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>\
<SessionToken>{token}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
</AssumeRoleResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></AssumeRoleResponse>",
                session = f["RoleSessionName"],
                arn = ROLE.0
            ),
        );
        r.headers = vec![("Content-Type".into(), "text/xml".into())];
        return r;
    }
    if let Err((code, c, m)) = verify(&st, req, "ec2") {
        st.refused.push(format!("{c}: {m}"));
        return xml_error(code, c, &m);
    }
    if f.get("Version").map(String::as_str) != Some("2016-11-15") {
        return xml_error(400, "InvalidParameterValue", "version");
    }
    let ns = "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";
    let body = match action.as_str() {
        "DescribeAvailabilityZones" => {
            let mut x = format!("<DescribeAvailabilityZonesResponse {ns}><requestId>stand-in</requestId><availabilityZoneInfo>");
            for (z, id) in [("a", "use1-az6"), ("b", "use1-az1"), ("c", "use1-az2")] {
                x.push_str(&format!("<item><zoneName>{REGION}{z}</zoneName><zoneState>available</zoneState><regionName>{REGION}</regionName><zoneId>{id}</zoneId><zoneType>availability-zone</zoneType></item>"));
            }
            x.push_str("</availabilityZoneInfo></DescribeAvailabilityZonesResponse>");
            x
        }
        "DescribeInstances" => {
            // filters: Filter.N.Name, Filter.N.Value.M
            let mut filters: Vec<(String, Vec<String>)> = Vec::new();
            for n in 1.. {
                let Some(name) = f.get(&format!("Filter.{n}.Name")) else {
                    break;
                };
                let vals = (1..)
                    .map_while(|m| f.get(&format!("Filter.{n}.Value.{m}")).cloned())
                    .collect();
                filters.push((name.clone(), vals));
            }
            let mut list = Vec::new();
            for i in &st.instances {
                let mut keep = true;
                for (name, vals) in &filters {
                    let ok = match name.as_str() {
                        "instance-state-name" => vals.contains(&i.state),
                        "instance-id" => vals.contains(&i.id),
                        "tag-key" => i.tags.iter().any(|(k, _)| vals.contains(k)),
                        n if n.starts_with("tag:") => {
                            i.tags.iter().any(|(k, v)| k == &n[4..] && vals.contains(v))
                        }
                        other => {
                            return xml_error(
                                400,
                                "InvalidParameterValue",
                                &format!("The filter '{other}' is invalid"),
                            )
                        }
                    };
                    keep &= ok;
                }
                if keep {
                    list.push(i.clone());
                }
            }
            let page = f
                .get("MaxResults")
                .and_then(|m| m.parse().ok())
                .unwrap_or(st.page);
            let start: usize = f
                .get("NextToken")
                .and_then(|t| t.strip_prefix("tok-")?.parse().ok())
                .unwrap_or(0);
            let mut x = format!(
                "<DescribeInstancesResponse {ns}><requestId>stand-in</requestId><reservationSet>"
            );
            for i in list.iter().skip(start).take(page) {
                x.push_str(&format!("<item><reservationId>r-{}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>{}</instancesSet></item>", i.id, i.xml()));
            }
            x.push_str("</reservationSet>");
            if start + page < list.len() {
                x.push_str(&format!("<nextToken>tok-{}</nextToken>", start + page));
            }
            x.push_str("</DescribeInstancesResponse>");
            x
        }
        _ => {
            return xml_error(
                400,
                "InvalidAction",
                &format!("The action {action} is not valid for this web service."),
            )
        }
    };
    let mut r = Response::text(200, &body);
    r.headers = vec![("Content-Type".into(), "text/xml;charset=UTF-8".into())];
    r
}

impl Aws {
    /// The stand-in; DescribeInstances answers in pages of `page`.
    pub fn start(page: usize) -> Aws {
        let state = Arc::new(Mutex::new(State {
            instances: Vec::new(),
            page,
            temp: HashMap::new(),
            issued: 0,
            imds_tokens: Vec::new(),
            refused: Vec::new(),
            remote_writes: Vec::new(),
        }));
        let requests = Requests::default();
        let handler: super::Handler = {
            let (st, rq) = (Arc::clone(&state), requests.clone());
            Arc::new(move |req: &Request| {
                rq.push(req);
                handle(&st, req)
            })
        };
        let tcp = HttpServer::tcp(Arc::clone(&handler));
        let (proxy, ca_pem, _) = HttpServer::tls_proxy(
            &[
                &format!("ec2.{REGION}.amazonaws.com"),
                &format!("sts.{REGION}.amazonaws.com"),
            ],
            handler,
        );
        Aws {
            addr: tcp.addr.clone(),
            proxy: proxy.addr.clone(),
            ca_pem,
            state,
            requests,
            _tcp: tcp,
            _proxy: proxy,
        }
    }

    pub fn add(&self, i: Instance) {
        self.state.lock().unwrap().instances.push(i);
    }

    pub fn remove(&self, id: &str) {
        self.state.lock().unwrap().instances.retain(|i| i.id != id);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    /// Requests refused for their signature or credentials, with why.
    pub fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    /// The remote write bodies taken, as sent (snappy).
    pub fn remote_writes(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().remote_writes.clone()
    }

    /// Temporary credentials issued (STS and the metadata service).
    pub fn issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }
}
