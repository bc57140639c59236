//! A scrape target: its labels, URL and last-scrape health.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use tsdb::labels::{Label, Labels};

use crate::config::{GlobalConfig, PromDuration, ScrapeConfig};

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
    /// Labels before relabeling (`__address__`, `__scheme__`, …).
    pub discovered: BTreeMap<String, String>,
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
    /// Last scrape's outcome.
    pub status: Mutex<ScrapeStatus>,
    /// Metric family metadata from the target's exposition, by family name.
    pub metadata: Mutex<BTreeMap<String, Metadata>>,
}

impl Target {
    /// Builds the targets of one job from its static configs.
    pub fn from_config(sc: &ScrapeConfig, global: &GlobalConfig) -> Vec<Target> {
        let interval = sc.interval(global);
        let timeout = sc.timeout(global);
        let mut out = Vec::new();
        for group in &sc.static_configs {
            for addr in &group.targets {
                let mut d = BTreeMap::new();
                d.insert("__address__".to_string(), addr.clone());
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
                for (k, v) in &group.labels {
                    d.insert(k.clone(), v.clone());
                }
                out.push(Target::from_discovered(sc, d, interval, timeout));
            }
        }
        out
    }

    fn from_discovered(
        sc: &ScrapeConfig,
        d: BTreeMap<String, String>,
        interval: Duration,
        timeout: Duration,
    ) -> Target {
        let addr = d.get("__address__").cloned().unwrap_or_default();
        let scheme = d
            .get("__scheme__")
            .cloned()
            .unwrap_or_else(|| "http".into());
        let path = d
            .get("__metrics_path__")
            .cloned()
            .unwrap_or_else(|| "/metrics".into());
        let mut query: Vec<(String, String)> = Vec::new();
        for (k, vs) in &sc.params {
            for v in vs {
                query.push((k.clone(), v.clone()));
            }
        }
        let host = if addr.contains(':') || addr.starts_with('[') {
            addr.clone()
        } else {
            format!("{addr}:{}", if scheme == "https" { 443 } else { 80 })
        };
        let mut url = format!("{scheme}://{host}{path}");
        if !query.is_empty() {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            url.push('?');
            url.push_str(&q);
        }
        // final labels: non-reserved discovered labels plus instance
        let mut labels: Vec<Label> = d
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
            .collect();
        if !d.contains_key("instance") {
            labels.push(Label::new("instance", addr.as_str()));
        }
        Target {
            pool: sc.job_name.clone(),
            discovered: d,
            labels: Labels::new(labels),
            url,
            interval,
            timeout,
            honor_labels: sc.honor_labels,
            honor_timestamps: sc.honor_timestamps,
            status: Mutex::new(ScrapeStatus {
                health: Health::Unknown,
                last_error: String::new(),
                last_scrape_ns: 0,
                last_duration: Duration::ZERO,
            }),
            metadata: Mutex::new(BTreeMap::new()),
        }
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
        let ts = Target::from_config(&cfg.scrape_configs[0], &cfg.global);
        assert_eq!(ts.len(), 1);
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
        assert_eq!(t.discovered["__scrape_interval__"], "5s");
        assert_eq!(t.discovered["__param_format"], "prometheus");
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
