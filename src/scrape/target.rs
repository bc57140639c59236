//! A scrape target: its labels, URL and last-scrape health.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use tsdb::labels::{Label, Labels};

use crate::config::{GlobalConfig, PromDuration, ScrapeConfig};
use discovery::TargetGroup;

/// Health of a target as the targets API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// Last scrape succeeded.
    Up,
    /// Last scrape failed.
    Down,
}

impl Health {
    /// The API's word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape left.
#[derive(Clone, Debug)]
pub struct ScrapeStatus {
    /// Up, down or unknown.
    pub health: Health,
    /// Error of the last scrape, empty if it succeeded.
    pub last_error: String,
    /// Start of the last scrape, Unix nanoseconds (0 = never).
    pub last_scrape_ns: i128,
    /// How long the last scrape took.
    pub last_duration: Duration,
}

/// Metadata of one metric family as scraped (HELP, TYPE, UNIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The TYPE word (`counter`, `gauge`, … `unknown`).
    pub kind: &'static str,
    /// HELP text.
    pub help: String,
    /// UNIT (OpenMetrics), empty otherwise.
    pub unit: String,
}

/// One target of a scrape pool.
pub struct Target {
    /// The scrape pool (job name).
    pub pool: String,
    /// Labels before relabeling (`__address__`, `__scheme__`, …), as the
    /// latest discovery gave them (a target that keeps its final labels
    /// keeps running when they change).
    pub discovered: parking_lot::Mutex<BTreeMap<String, String>>,
    /// The target's final labels (attached to every scraped series).
    pub labels: Labels,
    /// The URL scraped.
    pub url: String,
    /// Scrape interval.
    pub interval: Duration,
    /// Scrape timeout.
    pub timeout: Duration,
    /// Whether exposed labels win over target labels.
    pub honor_labels: bool,
    /// Whether exposed timestamps are used.
    pub honor_timestamps: bool,
    /// Rules applied to scraped series before storing.
    pub metric_relabel: Vec<relabel::RelabelConfig>,
    /// Limits in force.
    pub limits: crate::config::Limits,
    /// Whether series with explicit timestamps get stale markers.
    pub track_timestamps_staleness: bool,
    /// Format assumed for a missing or unknown Content-Type.
    pub fallback_protocol: Option<String>,
    /// How histograms are read.
    pub histograms: textparse::protobuf::HistogramOptions,
    /// Most buckets of a native histogram (0: no limit).
    pub bucket_limit: u64,
    /// Highest schema native histograms are stored at.
    pub max_schema: i32,
    /// An error that fails every scrape without fetching (target_limit).
    pub forced_error: Mutex<Option<String>>,
    /// Last scrape's outcome.
    pub status: Mutex<ScrapeStatus>,
    /// Metric family metadata from the target's exposition, by family name.
    pub metadata: Mutex<BTreeMap<String, Metadata>>,
}

/// A target dropped by relabeling, kept for the targets API.
#[derive(Clone, Debug)]
pub struct DroppedTarget {
    /// Its labels before relabeling.
    pub discovered: BTreeMap<String, String>,
}

impl Target {
    /// The job's static configs as target groups.
    pub fn static_groups(sc: &ScrapeConfig) -> Vec<TargetGroup> {
        sc.static_configs
            .iter()
            .map(|g| TargetGroup {
                targets: g.targets.clone(),
                labels: g.labels.clone(),
                ..TargetGroup::default()
            })
            .collect()
    }

    /// Builds a job's targets from its static configs only.
    pub fn from_config(
        sc: &ScrapeConfig,
        global: &GlobalConfig,
    ) -> (Vec<Target>, Vec<DroppedTarget>) {
        Target::from_groups(sc, global, &Target::static_groups(sc))
    }

    /// Builds a job's targets from target groups, applying its
    /// `relabel_configs`. Returns the active targets and the dropped ones.
    pub fn from_groups<'a>(
        sc: &ScrapeConfig,
        global: &GlobalConfig,
        groups: impl IntoIterator<Item = &'a TargetGroup>,
    ) -> (Vec<Target>, Vec<DroppedTarget>) {
        let interval = sc.interval(global);
        let timeout = sc.timeout(global);
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for group in groups {
            for discovered in group.each_target() {
                let mut d = BTreeMap::new();
                d.insert("__metrics_path__".to_string(), sc.metrics_path.clone());
                d.insert("__scheme__".to_string(), sc.scheme.clone());
                d.insert(
                    "__scrape_interval__".to_string(),
                    PromDuration(interval).to_string(),
                );
                d.insert(
                    "__scrape_timeout__".to_string(),
                    PromDuration(timeout).to_string(),
                );
                d.insert("job".to_string(), sc.job_name.clone());
                for (k, v) in &sc.params {
                    if let Some(first) = v.first() {
                        d.insert(format!("__param_{k}"), first.clone());
                    }
                }
                // discovery's labels (the address included) over the
                // job's defaults
                d.extend(discovered);
                match Target::from_discovered(sc, global, d, interval, timeout) {
                    Ok(t) => active.push(t),
                    Err(d) => dropped.push(DroppedTarget { discovered: d }),
                }
            }
        }
        (active, dropped)
    }

    /// Relabels discovered labels into a target; the labels given back
    /// when dropped (by a rule, or for lack of an address).
    fn from_discovered(
        sc: &ScrapeConfig,
        global: &GlobalConfig,
        d: BTreeMap<String, String>,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Target, BTreeMap<String, String>> {
        let discovered_set = Labels::new(
            d.iter()
                .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
                .collect(),
        );
        let Some(relabeled) = relabel::relabel(&discovered_set, &sc.relabel_configs) else {
            return Err(d);
        };
        let Some(addr) = relabeled.get("__address__").map(str::to_string) else {
            return Err(d);
        };
        let scheme = relabeled.get("__scheme__").unwrap_or("http").to_string();
        let path = relabeled
            .get("__metrics_path__")
            .unwrap_or("/metrics")
            .to_string();
        // relabeling may change the interval and timeout
        let interval = relabeled
            .get("__scrape_interval__")
            .and_then(|v| PromDuration::parse(v).ok())
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
            .unwrap_or(interval);
        let timeout = relabeled
            .get("__scrape_timeout__")
            .and_then(|v| PromDuration::parse(v).ok())
            .map(|d| d.0)
            .filter(|d| !d.is_zero() && *d <= interval)
            .unwrap_or(timeout.min(interval));
        // URL parameters: the config's, with __param_<name> labels overriding
        let mut query: Vec<(String, String)> = Vec::new();
        for (k, vs) in &sc.params {
            for v in vs {
                query.push((k.clone(), v.clone()));
            }
        }
        for l in relabeled.iter() {
            if let Some(name) = l.name.strip_prefix("__param_") {
                match query.iter_mut().find(|(k, _)| k == name) {
                    Some(q) => q.1 = l.value.to_string(),
                    None => query.push((name.to_string(), l.value.to_string())),
                }
            }
        }
        // as Prometheus 3: no default port is added
        let mut url = format!("{scheme}://{addr}{path}");
        if !query.is_empty() {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            url.push('?');
            url.push_str(&q);
        }
        // final labels: no reserved ones, instance defaults to the address
        let mut labels: Vec<Label> = relabeled
            .iter()
            .filter(|l| !l.name.starts_with("__"))
            .cloned()
            .collect();
        if !labels.iter().any(|l| l.name == "instance") {
            labels.push(Label::new("instance", addr.as_str()));
        }
        Ok(Target {
            pool: sc.job_name.clone(),
            discovered: parking_lot::Mutex::new(d),
            labels: Labels::new(labels),
            url,
            interval,
            timeout,
            honor_labels: sc.honor_labels,
            honor_timestamps: sc.honor_timestamps,
            metric_relabel: sc.metric_relabel_configs.clone(),
            limits: sc.limits(global),
            track_timestamps_staleness: sc.track_timestamps_staleness,
            fallback_protocol: sc.fallback_scrape_protocol.clone(),
            histograms: sc.histogram_options(global),
            bucket_limit: sc.native_histogram_bucket_limit.unwrap_or(0),
            max_schema: sc.max_histogram_schema(),
            forced_error: Mutex::new(None),
            status: Mutex::new(ScrapeStatus {
                health: Health::Unknown,
                last_error: String::new(),
                last_scrape_ns: 0,
                last_duration: Duration::ZERO,
            }),
            metadata: Mutex::new(BTreeMap::new()),
        })
    }

    /// A hash of the target's identity, used to spread scrapes over the
    /// interval (FNV-1a of labels and URL).
    pub fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for &x in b {
                h ^= x as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for l in &self.labels {
            eat(l.name.as_bytes());
            eat(&[0xff]);
            eat(l.value.as_bytes());
            eat(&[0xff]);
        }
        eat(self.url.as_bytes());
        h
    }

    /// Delay from `now_ns` to this target's first scrape, so that each
    /// target scrapes at a stable offset inside its interval.
    pub fn offset(&self, now_ns: u128) -> Duration {
        let iv = self.interval.as_nanos().max(1);
        let base = iv - now_ns % iv;
        let off = self.hash() as u128 % iv;
        let mut next = base + off;
        if next > iv {
            next -= iv;
        }
        Duration::from_nanos(next as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    #[test]
    fn labels_url_and_offset() {
        let cfg = load_str(
            "scrape_configs:\n  - job_name: sample\n    scrape_interval: 5s\n    params:\n      format: [prometheus]\n    static_configs:\n      - targets: ['localhost:8000']\n        labels: {team: a}\n",
            "t.yml",
        )
        .unwrap();
        let (ts, dropped) = Target::from_config(&cfg.scrape_configs[0], &cfg.global);
        assert_eq!((ts.len(), dropped.len()), (1, 0));
        let t = &ts[0];
        assert_eq!(t.url, "http://localhost:8000/metrics?format=prometheus");
        assert_eq!(
            t.labels,
            Labels::from_pairs(&[
                ("instance", "localhost:8000"),
                ("job", "sample"),
                ("team", "a")
            ])
        );
        assert_eq!(t.discovered.lock()["__scrape_interval__"], "5s");
        assert_eq!(t.discovered.lock()["__param_format"], "prometheus");
        let cfg = load_str(
            "scrape_configs:\n  - job_name: j\n    static_configs:\n      - targets: ['a:1', 'b:2']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'b:.*'\n        action: drop\n      - target_label: __metrics_path__\n        replacement: /m\n      - target_label: __param_x\n        replacement: 'y z'\n      - source_labels: [__address__]\n        target_label: instance\n        regex: '(.*):1'\n        replacement: host-$1\n",
            "t.yml",
        )
        .unwrap();
        let (active, dropped) = Target::from_config(&cfg.scrape_configs[0], &cfg.global);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].discovered["__address__"], "b:2");
        assert_eq!(active[0].url, "http://a:1/m?x=y+z");
        assert_eq!(
            active[0].labels,
            Labels::from_pairs(&[("instance", "host-a"), ("job", "j")])
        );
        for now in [0u128, 1, 4_999_999_999, 123_456_789_012] {
            let o = t.offset(now);
            assert!(o <= Duration::from_secs(5));
            // the scrape lands at the same phase of the interval every time
            assert_eq!(
                (now + o.as_nanos()) % 5_000_000_000,
                t.hash() as u128 % 5_000_000_000
            );
        }
    }
}
