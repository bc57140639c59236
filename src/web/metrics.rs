//! The server's own metrics in the text exposition format, with
//! Prometheus's metric names so existing dashboards work.

use std::fmt::Write as _;

use crate::app::App;
use crate::scrape::Health;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, v: f64) {
    let v = crate::gofmt::go_float(v);
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {v}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {v}");
    }
}

/// Process figures from /proc (Linux); absent elsewhere.
struct Process {
    cpu_seconds: f64,
    rss_bytes: f64,
    vsize_bytes: f64,
    start_seconds: f64,
    open_fds: f64,
}

fn process() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name, which is in parentheses
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let start_ticks: f64 = f.get(19)?.parse().ok()?;
    let vsize: f64 = f.get(20)?.parse().ok()?;
    let rss_pages: f64 = f.get(21)?.parse().ok()?;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("btime ")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })?;
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as f64)
        .unwrap_or(0.0);
    Some(Process {
        cpu_seconds: (utime + stime) / ticks,
        rss_bytes: rss_pages * 4096.0,
        vsize_bytes: vsize,
        start_seconds: boot + start_ticks / ticks,
        open_fds,
    })
}

/// Builds a text exposition: a family's header, then its samples.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Exposition {
            out: String::with_capacity(8192),
        }
    }

    /// Starts a family: `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        family(&mut self.out, name, kind, help);
        self
    }

    /// One sample with labels given as name/value pairs (values escaped).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) -> &mut Self {
        let mut l = String::new();
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                l.push(',');
            }
            l.push_str(k);
            l.push_str("=\"");
            textparse::push_label_value(&mut l, val);
            l.push('"');
        }
        sample(&mut self.out, name, &l, v);
        self
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, v: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], v)
    }

    /// Appends text already in the exposition format.
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self
    }

    /// The text, for histograms rendered in place.
    pub fn text_mut(&mut self) -> &mut String {
        &mut self.out
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Renders `/metrics`.
pub fn render(app: &App) -> String {
    let mut e = Exposition::new();
    if let Some(p) = process() {
        e.single(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        )
        .single(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            p.open_fds,
        )
        .single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.rss_bytes,
        )
        .single(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            p.start_seconds,
        )
        .single(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            p.vsize_bytes,
        );
    }
    use crate::buildinfo as bi;
    e.family("prometheus_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.")
        .sample(
            "prometheus_build_info",
            &[
                ("branch", bi::BRANCH),
                ("goarch", bi::goarch()),
                ("goos", std::env::consts::OS),
                ("goversion", bi::toolchain_version()),
                ("revision", bi::REVISION),
                ("version", bi::VERSION),
            ],
            1.0,
        );
    let on = |b: bool| if b { 1.0 } else { 0.0 };
    e.single(
        "prometheus_ready",
        "gauge",
        "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
        on(app.is_ready()),
    )
    .single(
        "prometheus_config_last_reload_successful",
        "gauge",
        "Whether the last configuration reload attempt was successful.",
        on(app.reload_ok()),
    )
    .single(
        "prometheus_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Timestamp of the last successful configuration reload.",
        (*app.config_loaded_ms.lock() / 1000) as f64,
    );

    let st = app.db.stats();
    let (head_chunks, range) = app.db.time_range();
    e.single(
        "prometheus_tsdb_head_series",
        "gauge",
        "Total number of series in the head block.",
        st.series as f64,
    )
    .single(
        "prometheus_tsdb_head_series_created_total",
        "counter",
        "Total number of series created in the head",
        st.series_created as f64,
    )
    .single(
        "prometheus_tsdb_head_series_removed_total",
        "counter",
        "Total number of series removed in the head",
        st.series_removed as f64,
    )
    .family(
        "prometheus_tsdb_head_samples_appended_total",
        "counter",
        "Total number of appended samples.",
    )
    .sample(
        "prometheus_tsdb_head_samples_appended_total",
        &[("type", "float")],
        st.samples_appended as f64,
    )
    .single(
        "prometheus_tsdb_head_chunks",
        "gauge",
        "Total number of chunks in the head block.",
        head_chunks as f64,
    )
    .single(
        "prometheus_tsdb_head_chunks_created_total",
        "counter",
        "Total number of chunks created in the head",
        st.chunks_created as f64,
    );
    // as Prometheus, an empty head reports the extremes of int64
    let (hmin, hmax) = range.unwrap_or((i64::MAX, i64::MIN));
    e.single(
        "prometheus_tsdb_head_min_time",
        "gauge",
        "Minimum time bound of the head block.",
        hmin as f64,
    )
    .single(
        "prometheus_tsdb_head_max_time",
        "gauge",
        "Maximum timestamp of the head block.",
        hmax as f64,
    )
    .family("prometheus_tsdb_out_of_order_samples_total", "counter", "Total number of out of order samples ingestion failed attempts due to out of order being disabled.")
    .sample(
        "prometheus_tsdb_out_of_order_samples_total",
        &[("type", "float")],
        st.out_of_order as f64,
    )
    .family("prometheus_tsdb_out_of_bound_samples_total", "counter", "Total number of out of bound samples ingestion failed attempts with out of order support disabled.")
    .sample(
        "prometheus_tsdb_out_of_bound_samples_total",
        &[("type", "float")],
        st.out_of_bounds as f64,
    )
    .single(
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "counter",
        "Total number of samples rejected due to duplicate timestamps but different values.",
        st.duplicates as f64,
    )
    .single(
        "prometheus_target_scrapes_exemplar_out_of_order_total",
        "counter",
        "Total number of exemplar rejected due to not being out of the expected order.",
        crate::scrape::EXEMPLARS_OUT_OF_ORDER.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    let ex = app.db.exemplar_stats();
    e.single(
        "prometheus_tsdb_exemplar_exemplars_appended_total",
        "counter",
        "Total number of appended exemplars.",
        ex.appended as f64,
    )
    .single(
        "prometheus_tsdb_exemplar_exemplars_in_storage",
        "gauge",
        "Number of exemplars currently in circular storage.",
        ex.stored as f64,
    )
    .single(
        "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
        "gauge",
        "The timestamp of the oldest exemplar stored in circular storage. Useful to check for what timerange the current exemplar buffer limit allows. This usually means the last timestampfor all exemplars for a typical setup. This is not true though if one of the series timestamp is in future compared to rest series.",
        ex.oldest_ts as f64 / 1000.0,
    )
    .single(
        "prometheus_tsdb_exemplar_max_exemplars",
        "gauge",
        "Total number of exemplars the exemplar storage can store, resizeable.",
        ex.max as f64,
    )
    .single(
        "prometheus_tsdb_exemplar_out_of_order_exemplars_total",
        "counter",
        "Total number of out of order exemplar ingestion failed attempts.",
        ex.out_of_order as f64,
    )
    .single(
        "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
        "gauge",
        "Number of series with exemplars currently in circular storage.",
        ex.series as f64,
    )
    .single(
        "prometheus_tsdb_blocks_loaded",
        "gauge",
        "Number of currently loaded data blocks",
        st.blocks as f64,
    )
    .single(
        "prometheus_tsdb_compactions_total",
        "counter",
        "Total number of compactions that were executed for the partition.",
        st.compactions as f64,
    )
    .single(
        "prometheus_tsdb_compactions_failed_total",
        "counter",
        "Total number of compactions that failed for the partition.",
        st.compactions_failed as f64,
    )
    .single(
        "prometheus_tsdb_storage_blocks_bytes",
        "gauge",
        "The number of bytes that are currently used for local storage by all blocks.",
        st.block_bytes as f64,
    )
    .single(
        "prometheus_tsdb_retention_limit_seconds",
        "gauge",
        "How long to retain samples in storage.",
        app.db.retention().0.max(0) as f64 / 1000.0,
    )
    .single(
        "prometheus_tsdb_retention_limit_bytes",
        "gauge",
        "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
        app.db.retention().1 as f64,
    )
    .single(
        "prometheus_tsdb_retention_limit_percentage",
        "gauge",
        "Max percentage of total storage space to be retained in the tsdb blocks, configured 0 means disabled",
        app.retention_percentage(),
    )
    .single(
        "prometheus_tsdb_time_retentions_total",
        "counter",
        "The number of times that blocks were deleted because the maximum time limit was exceeded.",
        st.retention_deletions as f64,
    )
    // the series log's rewrite without forgotten series plays the part
    // of Prometheus's WAL checkpoint
    .single(
        "prometheus_tsdb_checkpoint_creations_total",
        "counter",
        "Total number of checkpoint creations attempted.",
        st.series_log_rewrites as f64,
    )
    .single(
        "prometheus_tsdb_checkpoint_creations_failed_total",
        "counter",
        "Total number of checkpoint creations that failed.",
        st.series_log_rewrite_failures as f64,
    );

    let pools = app.scrape.pools();
    let counts = app.scrape.counters();
    e.family(
        "prometheus_target_scrape_pool_targets",
        "gauge",
        "Current number of targets in this scrape pool.",
    );
    for (job, targets) in &pools {
        e.sample(
            "prometheus_target_scrape_pool_targets",
            &[("scrape_job", job)],
            targets.len() as f64,
        );
    }
    e.family(
        "prometheus_sd_discovered_targets",
        "gauge",
        "Current number of discovered targets.",
    );
    for (job, targets) in &pools {
        e.sample(
            "prometheus_sd_discovered_targets",
            &[("config", job), ("name", "scrape")],
            targets.len() as f64,
        );
    }
    e.single(
        "prometheus_target_scrape_pools_total",
        "counter",
        "Total number of scrape pool creation attempts.",
        counts.pools_created as f64,
    )
    .single(
        "prometheus_target_scrape_pools_failed_total",
        "counter",
        "Total number of scrape pool creations that failed.",
        counts.pools_failed as f64,
    )
    .single(
        "prometheus_target_scrape_pool_reloads_total",
        "counter",
        "Total number of scrape pool reloads.",
        counts.pool_reloads as f64,
    )
    .single(
        "prometheus_target_scrape_pool_reloads_failed_total",
        "counter",
        "Total number of failed scrape pool reloads.",
        counts.pool_reloads_failed as f64,
    );
    // Kubernetes discovery: every role and event, zero until counted
    e.family(
        "prometheus_sd_kubernetes_events_total",
        "counter",
        "The number of Kubernetes events handled.",
    );
    {
        let counted = discovery::kubernetes::informer::COUNTERS
            .events
            .lock()
            .clone();
        for role in [
            "endpointslice",
            "endpoints",
            "node",
            "pod",
            "service",
            "ingress",
        ] {
            for event in ["add", "delete", "update"] {
                let n = counted.get(&(role, event)).copied().unwrap_or(0);
                e.sample(
                    "prometheus_sd_kubernetes_events_total",
                    &[("event", event), ("role", role)],
                    n as f64,
                );
            }
        }
    }
    e.single(
        "prometheus_sd_kubernetes_failures_total",
        "counter",
        "The number of failed WATCH/LIST requests.",
        discovery::kubernetes::informer::COUNTERS
            .failures
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    e.single(
        "prometheus_sd_azure_failures_total",
        "counter",
        "Number of Azure service discovery refresh failures.",
        discovery::azure::FAILURES.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    e.single(
        "prometheus_sd_azure_cache_hit_total",
        "counter",
        "Number of cache hit during refresh.",
        discovery::azure::CACHE_HITS.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    e.single(
        "prometheus_sd_consul_rpc_failures_total",
        "counter",
        "The number of Consul RPC call failures.",
        discovery::consul::RPC_FAILURES.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    let up = pools
        .iter()
        .flat_map(|(_, t)| t)
        .filter(|t| t.status.lock().health == Health::Up)
        .count();
    e.single(
        "flint_targets_up",
        "gauge",
        "Active targets whose last scrape succeeded.",
        up as f64,
    );

    e.family(
        "prometheus_http_requests_total",
        "counter",
        "Counter of HTTP requests.",
    );
    for ((handler, code), n) in app.http_requests.lock().iter() {
        e.sample(
            "prometheus_http_requests_total",
            &[("code", &code.to_string()), ("handler", handler)],
            *n as f64,
        );
    }
    e.family(
        "prometheus_http_request_duration_seconds",
        "histogram",
        "Histogram of latencies for HTTP requests.",
    );
    for (handler, h) in app.http_durations.lock().iter() {
        h.render(
            e.text_mut(),
            "prometheus_http_request_duration_seconds",
            &format!("handler=\"{handler}\""),
        );
    }
    e.family(
        "prometheus_engine_query_duration_seconds",
        "summary",
        "Query timings",
    );
    for (slice, (sum, count)) in app.query_durations.lock().iter() {
        e.sample(
            "prometheus_engine_query_duration_seconds_sum",
            &[("slice", slice)],
            *sum,
        )
        .sample(
            "prometheus_engine_query_duration_seconds_count",
            &[("slice", slice)],
            *count as f64,
        );
    }
    e.raw(&app.rules.metrics_text());
    app.remote_write.render_metrics(&mut e);
    e.finish()
}
