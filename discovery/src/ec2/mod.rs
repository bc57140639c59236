//! `ec2_sd_configs`: the instances of an AWS region (EC2's
//! `DescribeInstances`, page by page, with `filters`), every
//! `refresh_interval`, with Prometheus's `__meta_ec2_*` labels, the
//! availability zone IDs from `DescribeAvailabilityZones` (read once).
//! Requests are EC2 Query API calls signed with AWS Signature Version 4
//! ([`common::httpclient::sigv4`]) with the credentials the SDK's default
//! chain would find ([`credentials`]); the HTTP client options (proxy,
//! TLS) apply to EC2, STS and the instance metadata service alike.

pub mod credentials;
mod error;

pub use error::AwsError;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::refresh::{self, join_host_port, SdError};
use super::{sanitize, Sink, TargetGroup};
use common::config::http::{HttpClientConfig, Secret};
use common::config::{CheckError, PromDuration};
use common::httpclient::sigv4::{self, Credentials};
use common::httpclient::HttpClient;

const P: &str = "__meta_ec2_";
/// The EC2 API version of the Query API.
const EC2_VERSION: &str = "2016-11-15";

/// One `filters` entry.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The filter (`tag:env`, `instance-state-name`, …).
    #[serde(default)]
    pub name: String,
    /// Its values (any matches).
    #[serde(default)]
    pub values: Vec<String>,
}

/// One `ec2_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Ec2SdConfig {
    /// The EC2 endpoint (default: the region's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// The region (default: the environment's, the profile's, or the
    /// instance's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Access key ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_key: String,
    /// Secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
    /// A profile of the shared credentials and config files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// A role to assume.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    /// The external ID of the role.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// The port scraped (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Filters of the instance list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// TLS and proxy settings.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn default_port() -> u16 {
    80
}

impl Ec2SdConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "aws.plain",
            });
        }
        if self.filters.iter().any(|f| f.values.is_empty()) {
            return Err("EC2 SD configuration filter values cannot be empty".into());
        }
        if !self.endpoint.is_empty() {
            url::Url::parse(&self.endpoint).map_err(|err| CheckError::Url {
                what: "endpoint",
                url: self.endpoint.clone(),
                err,
            })?;
        }
        self.http.validate()
    }
}

/// The text of the first child element named `name` (local name).
pub fn xml_text(n: roxmltree::Node, name: &str) -> String {
    xml_child(n, name)
        .and_then(|c| c.text())
        .unwrap_or("")
        .to_string()
}

fn xml_child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.tag_name().name() == name)
}

/// The `item`s of a `...Set` child.
fn items<'a, 'i>(n: roxmltree::Node<'a, 'i>, set: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    xml_child(n, set)
        .map(|s| {
            s.children()
                .filter(|c| c.tag_name().name() == "item")
                .collect()
        })
        .unwrap_or_default()
}

/// An AWS error answer (`<Errors><Error><Code>…`, or STS's
/// `<ErrorResponse><Error>…`) as the SDK words it.
fn api_error(status: u16, body: &str) -> SdError {
    let (mut code, mut msg, mut request) = (String::new(), String::new(), String::new());
    if let Ok(doc) = roxmltree::Document::parse(body) {
        if let Some(e) = doc.descendants().find(|n| n.tag_name().name() == "Error") {
            code = xml_text(e, "Code");
            msg = xml_text(e, "Message");
        }
        if let Some(r) = doc
            .descendants()
            .find(|n| matches!(n.tag_name().name(), "RequestID" | "RequestId"))
        {
            request = r.text().unwrap_or("").to_string();
        }
    }
    let body = if code.is_empty() {
        refresh::body_excerpt(body.as_bytes())
    } else {
        format!("https response error StatusCode: {status}, RequestID: {request}, api error {code}: {msg}")
    };
    SdError::Status { code: status, body }
}

/// POSTs a Query API call (`form`) to `endpoint`, signed for `service` in
/// `region`; returns the XML answer.
pub async fn signed_post(
    http: &HttpClient,
    endpoint: &str,
    region: &str,
    service: &str,
    creds: &Credentials,
    form: &[(String, String)],
) -> Result<String, SdError> {
    let url = url::Url::parse(endpoint).map_err(|e| SdError::Decode(e.to_string()))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return Err(SdError::Decode(format!("no host in {endpoint}"))),
    };
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let signed = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            path: url.path(),
            query: &query,
            host: &host,
            headers: &[("Content-Type", ct)],
            body: body.as_bytes(),
        },
        creds,
        region,
        service,
        &sigv4::amz_date(tsdb::time::now_ms()),
    );
    let mut req = http
        .client()
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, ct)
        .body(body);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let resp = req
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| SdError::transport(&e))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| SdError::transport(&e))?;
    if status != 200 {
        return Err(api_error(status, &text));
    }
    Ok(text)
}

/// An entry's client: region, endpoint and credentials, settled once.
struct Ec2 {
    http: HttpClient,
    region: String,
    endpoint: String,
    creds: credentials::Provider,
    /// Zone name → zone ID, once read.
    az_ids: tokio::sync::Mutex<Option<HashMap<String, String>>>,
}

impl Ec2 {
    async fn call(&self, action: &str, mut form: Vec<(String, String)>) -> Result<String, SdError> {
        let creds = self.creds.get(&self.http).await?;
        form.insert(0, ("Action".into(), action.into()));
        form.insert(1, ("Version".into(), EC2_VERSION.into()));
        let r = signed_post(
            &self.http,
            &self.endpoint,
            &self.region,
            "ec2",
            &creds,
            &form,
        )
        .await;
        if let Err(SdError::Status { body, .. }) = &r {
            // refused credentials are fetched again next time
            if body.contains("api error AuthFailure")
                || body.contains("api error UnauthorizedOperation")
            {
                self.creds.forget().await;
            }
        }
        r.map_err(|e| e.context(&format!("operation error EC2: {action}")))
    }

    async fn az_ids(&self) -> Option<HashMap<String, String>> {
        let mut cached = self.az_ids.lock().await;
        if cached.is_none() {
            match self.call("DescribeAvailabilityZones", Vec::new()).await {
                Ok(xml) => {
                    let doc = roxmltree::Document::parse(&xml).ok()?;
                    let root = doc.root_element();
                    *cached = Some(
                        items(root, "availabilityZoneInfo")
                            .into_iter()
                            .map(|z| (xml_text(z, "zoneName"), xml_text(z, "zoneId")))
                            .filter(|(n, i)| !n.is_empty() && !i.is_empty())
                            .collect(),
                    );
                }
                Err(e) => {
                    tracing::debug!(component = "discovery manager", discovery = "ec2", err = %e, "Unable to describe availability zones");
                }
            }
        }
        cached.clone()
    }

    async fn refresh(&self, cfg: &Ec2SdConfig) -> Result<Vec<TargetGroup>, SdError> {
        let az_ids = self.az_ids().await;
        let mut filters = Vec::new();
        for (i, f) in cfg.filters.iter().enumerate() {
            filters.push((format!("Filter.{}.Name", i + 1), f.name.clone()));
            for (j, v) in f.values.iter().enumerate() {
                filters.push((format!("Filter.{}.Value.{}", i + 1, j + 1), v.clone()));
            }
        }
        let mut g = TargetGroup::default();
        let mut token: Option<String> = None;
        loop {
            let mut form = filters.clone();
            if let Some(t) = &token {
                form.push(("NextToken".into(), t.clone()));
            }
            let xml = self
                .call("DescribeInstances", form)
                .await
                .map_err(|e| e.context("could not describe instances"))?;
            let doc =
                roxmltree::Document::parse(&xml).map_err(|e| SdError::Decode(e.to_string()))?;
            let root = doc.root_element();
            for r in items(root, "reservationSet") {
                let owner = xml_child(r, "ownerId").map(|o| o.text().unwrap_or("").to_string());
                for inst in items(r, "instancesSet") {
                    if let Some((addr, l)) = instance_labels(
                        cfg.port,
                        &self.region,
                        owner.as_deref(),
                        inst,
                        az_ids.as_ref(),
                    ) {
                        g.targets.push(addr);
                        g.target_labels.push(l);
                    }
                }
            }
            token = Some(xml_text(root, "nextToken")).filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(vec![g])
    }
}

/// An instance's address and labels, as Prometheus makes them (none for
/// an instance without a private IPv4 or an IPv6 address).
fn instance_labels(
    port: u16,
    region: &str,
    owner: Option<&str>,
    inst: roxmltree::Node,
    az_ids: Option<&HashMap<String, String>>,
) -> Option<(String, BTreeMap<String, String>)> {
    let t = |name: &str| xml_text(inst, name);
    let has = |name: &str| xml_child(inst, name).is_some();
    let vpc = has("vpcId");
    // IPv6: every address of the interfaces, the primary ones by device
    // index, and the first of those (else the first of all) as default
    let mut all6: Vec<String> = Vec::new();
    let mut primary6: Vec<String> = Vec::new();
    if vpc {
        for eni in items(inst, "networkInterfaceSet") {
            if xml_child(eni, "subnetId").is_none() {
                continue;
            }
            let index: usize = xml_child(eni, "attachment")
                .map(|a| xml_text(a, "deviceIndex"))
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            for a in items(eni, "ipv6AddressesSet") {
                let addr = xml_text(a, "ipv6Address");
                all6.push(addr.clone());
                if xml_text(a, "isPrimaryIpv6") == "true" {
                    if primary6.len() <= index {
                        primary6.resize(index + 1, String::new());
                    }
                    primary6[index] = addr;
                }
            }
        }
    }
    let default6 = primary6
        .iter()
        .chain(all6.iter())
        .find(|a| !a.is_empty())
        .cloned();
    let private = has("privateIpAddress").then(|| t("privateIpAddress"));
    if private.is_none() && default6.is_none() {
        return None;
    }
    let mut l = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        l.insert(format!("{P}{k}"), v);
    };
    put("instance_id", t("instanceId"));
    put("region", region.to_string());
    if let Some(o) = owner {
        put("owner_id", o.to_string());
    }
    if let Some(d) = &default6 {
        put("default_ipv6_address", d.clone());
    }
    let addr = match &private {
        Some(p) => {
            put("private_ip", p.clone());
            join_host_port(p, port)
        }
        None => join_host_port(default6.as_deref().unwrap_or(""), port),
    };
    if has("privateDnsName") {
        put("private_dns_name", t("privateDnsName"));
    }
    if !t("platform").is_empty() {
        put("platform", t("platform"));
    }
    if has("ipAddress") {
        put("public_ip", t("ipAddress"));
        put("public_dns_name", t("dnsName"));
    }
    let sep = |v: &[String]| format!(",{},", v.join(","));
    if !primary6.is_empty() {
        put("primary_ipv6_addresses", sep(&primary6));
    }
    if !all6.is_empty() {
        put("ipv6_addresses", sep(&all6));
    }
    put("ami", t("imageId"));
    let az = xml_child(inst, "placement")
        .map(|p| xml_text(p, "availabilityZone"))
        .unwrap_or_default();
    put(
        "availability_zone_id",
        az_ids.and_then(|m| m.get(&az)).cloned().unwrap_or_default(),
    );
    put("availability_zone", az);
    put(
        "instance_state",
        xml_child(inst, "instanceState")
            .map(|s| xml_text(s, "name"))
            .unwrap_or_default(),
    );
    put("instance_type", t("instanceType"));
    if !t("instanceLifecycle").is_empty() {
        put("instance_lifecycle", t("instanceLifecycle"));
    }
    if !t("architecture").is_empty() {
        put("architecture", t("architecture"));
    }
    if vpc {
        put("vpc_id", t("vpcId"));
        put("primary_subnet_id", t("subnetId"));
        let mut subnets: Vec<String> = Vec::new();
        for eni in items(inst, "networkInterfaceSet") {
            if let Some(s) = xml_child(eni, "subnetId").and_then(|s| s.text()) {
                if !subnets.iter().any(|x| x == s) {
                    subnets.push(s.to_string());
                }
            }
        }
        put("subnet_id", sep(&subnets));
    }
    for tag in items(inst, "tagSet") {
        if xml_child(tag, "key").is_none() || xml_child(tag, "value").is_none() {
            continue;
        }
        put(
            &format!("tag_{}", sanitize(&xml_text(tag, "key"))),
            xml_text(tag, "value"),
        );
    }
    Some((addr, l))
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `ec2/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: Ec2SdConfig, base: PathBuf, sink: Sink) {
    run_with_env(index, cfg, base, sink, credentials::process_env()).await
}

async fn run_with_env(
    index: usize,
    cfg: Ec2SdConfig,
    base: PathBuf,
    sink: Sink,
    env: credentials::Env,
) {
    let fail = |e: String| {
        tracing::error!(component = "discovery manager", discovery = "ec2", err = %e, "Cannot create EC2 discovery");
    };
    let http = match HttpClient::new(&cfg.http, &base, true) {
        Ok(h) => h,
        Err(e) => return fail(e.to_string()),
    };
    // the region may need the instance metadata service: retried each
    // refresh interval until known
    let mut log = refresh::ErrorLog::default();
    let region = loop {
        match credentials::region(&cfg.region, &cfg.profile, &env, http.client()).await {
            Ok(r) => break r,
            Err(e) => {
                if log.should_log("region") {
                    tracing::error!(component = "discovery manager", discovery = "ec2", err = %e, "Unable to refresh target groups");
                }
                tokio::time::sleep(cfg.refresh_interval.0.max(Duration::from_secs(1))).await;
            }
        }
    };
    let secret = cfg.secret_key.as_ref().map(|s| s.0.as_str()).unwrap_or("");
    let creds = match credentials::Provider::new(
        &cfg.access_key,
        secret,
        &cfg.profile,
        &cfg.role_arn,
        &cfg.external_id,
        &region,
        false,
        &env,
    ) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let endpoint = if cfg.endpoint.is_empty() {
        format!("https://ec2.{region}.amazonaws.com")
    } else {
        cfg.endpoint.clone()
    };
    let ec2 = Ec2 {
        http,
        region,
        endpoint,
        creds,
        az_ids: tokio::sync::Mutex::new(None),
    };
    let key = format!("ec2/{index}/");
    let (ec2, cfg) = (&ec2, &cfg);
    refresh::poll("ec2", key, cfg.refresh_interval.0, sink, || {
        ec2.refresh(cfg)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> Ec2SdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        let c = cfg("region: eu-west-1\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.refresh_interval.0, Duration::from_secs(60));
        assert!(c.validate().is_ok());
        assert_eq!(
            cfg("filters: [{name: tag:env, values: []}]\n")
                .validate()
                .unwrap_err()
                .to_string(),
            "EC2 SD configuration filter values cannot be empty"
        );
        assert_eq!(
            cfg("role: ec2\n").validate().unwrap_err().to_string(),
            "field role not found in type aws.plain"
        );
        let out = serde_yaml::to_string(&cfg("access_key: AK\nsecret_key: hunter2\n")).unwrap();
        assert!(
            out.contains("secret_key: <secret>") && !out.contains("hunter2"),
            "{out}"
        );
    }

    #[test]
    fn instances_as_prometheus_labels_them() {
        let xml = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet><item>
    <reservationId>r-0a</reservationId><ownerId>123456789012</ownerId>
    <instancesSet>
      <item>
        <instanceId>i-0abc</instanceId><imageId>ami-1</imageId>
        <instanceState><code>16</code><name>running</name></instanceState>
        <privateDnsName>ip-10-0-0-5.ec2.internal</privateDnsName><dnsName>ec2-1-2-3-4.compute.amazonaws.com</dnsName>
        <instanceType>t3.micro</instanceType>
        <placement><availabilityZone>us-east-1a</availabilityZone></placement>
        <subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId>
        <privateIpAddress>10.0.0.5</privateIpAddress><ipAddress>1.2.3.4</ipAddress>
        <architecture>x86_64</architecture>
        <tagSet><item><key>Name</key><value>web</value></item><item><key>aws:autoscaling:groupName</key><value>asg</value></item></tagSet>
        <networkInterfaceSet>
          <item><subnetId>subnet-1</subnetId><attachment><deviceIndex>0</deviceIndex></attachment>
            <ipv6AddressesSet><item><ipv6Address>2600::1</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item>
                              <item><ipv6Address>2600::2</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item></ipv6AddressesSet></item>
          <item><subnetId>subnet-2</subnetId><attachment><deviceIndex>1</deviceIndex></attachment></item>
        </networkInterfaceSet>
      </item>
      <item>
        <instanceId>i-0def</instanceId><imageId>ami-2</imageId>
        <instanceState><code>80</code><name>stopped</name></instanceState>
        <instanceType>t3.micro</instanceType><placement><availabilityZone>us-east-1b</availabilityZone></placement>
      </item>
    </instancesSet>
  </item></reservationSet>
</DescribeInstancesResponse>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let root = doc.root_element();
        let ids = HashMap::from([("us-east-1a".to_string(), "use1-az6".to_string())]);
        let mut out = Vec::new();
        for r in items(root, "reservationSet") {
            for i in items(r, "instancesSet") {
                out.extend(instance_labels(
                    9100,
                    "us-east-1",
                    Some("123456789012"),
                    i,
                    Some(&ids),
                ));
            }
        }
        assert_eq!(out.len(), 1, "the instance without an address is left out");
        let (addr, l) = &out[0];
        assert_eq!(addr, "10.0.0.5:9100");
        assert_eq!(l["__meta_ec2_availability_zone_id"], "use1-az6");
        assert_eq!(l["__meta_ec2_owner_id"], "123456789012");
        assert_eq!(l["__meta_ec2_subnet_id"], ",subnet-1,subnet-2,");
        assert_eq!(l["__meta_ec2_primary_ipv6_addresses"], ",2600::1,");
        assert_eq!(l["__meta_ec2_ipv6_addresses"], ",2600::1,2600::2,");
        assert_eq!(l["__meta_ec2_default_ipv6_address"], "2600::1");
        assert_eq!(l["__meta_ec2_tag_aws_autoscaling_groupName"], "asg");
        assert_eq!(
            l["__meta_ec2_public_dns_name"],
            "ec2-1-2-3-4.compute.amazonaws.com"
        );
        assert_eq!(l["__meta_ec2_instance_state"], "running");
    }

    #[test]
    fn errors_in_the_sdk_words() {
        let e = api_error(
            401,
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>req-1</RequestID></Response>",
        );
        assert_eq!(
            e.to_string(),
            "server returned HTTP status 401: https response error StatusCode: 401, RequestID: req-1, api error AuthFailure: AWS was not able to validate the provided access credentials"
        );
    }
}
