//! The server's own metrics in the text exposition format, with
//! Prometheus's metric names so existing dashboards work.

use std::fmt::Write as _;

use crate::app::App;
use crate::scrape::Health;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, v: f64) {
    let v = crate::expfmt::format_float(v);
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

/// Renders `/metrics`.
pub fn render(app: &App) -> String {
    let mut out = String::with_capacity(4096);
    if let Some(p) = process() {
        family(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        sample(&mut out, "process_cpu_seconds_total", "", p.cpu_seconds);
        family(
            &mut out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        sample(&mut out, "process_open_fds", "", p.open_fds);
        family(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        sample(&mut out, "process_resident_memory_bytes", "", p.rss_bytes);
        family(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        );
        sample(&mut out, "process_start_time_seconds", "", p.start_seconds);
        family(
            &mut out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
        );
        sample(&mut out, "process_virtual_memory_bytes", "", p.vsize_bytes);
    }
    family(&mut out, "prometheus_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which prometheus was built.");
    sample(
        &mut out,
        "prometheus_build_info",
        &format!(
            "branch=\"main\",goversion=\"\",revision=\"\",version=\"{}\"",
            env!("CARGO_PKG_VERSION")
        ),
        1.0,
    );
    family(&mut out, "prometheus_ready", "gauge", "Whether Prometheus startup was fully completed and the server is ready for normal operation.");
    sample(
        &mut out,
        "prometheus_ready",
        "",
        if app.is_ready() { 1.0 } else { 0.0 },
    );
    family(
        &mut out,
        "prometheus_config_last_reload_successful",
        "gauge",
        "Whether the last configuration reload attempt was successful.",
    );
    sample(
        &mut out,
        "prometheus_config_last_reload_successful",
        "",
        1.0,
    );
    family(
        &mut out,
        "prometheus_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Timestamp of the last successful configuration reload.",
    );
    sample(
        &mut out,
        "prometheus_config_last_reload_success_timestamp_seconds",
        "",
        (*app.config_loaded_ms.lock() / 1000) as f64,
    );

    let st = app.db.stats();
    family(
        &mut out,
        "prometheus_tsdb_head_series",
        "gauge",
        "Total number of series in the head block.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_head_series",
        "",
        st.series as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_head_series_created_total",
        "counter",
        "Total number of series created in the head",
    );
    sample(
        &mut out,
        "prometheus_tsdb_head_series_created_total",
        "",
        st.series_created as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_head_samples_appended_total",
        "counter",
        "Total number of appended samples.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_head_samples_appended_total",
        "type=\"float\"",
        st.samples_appended as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_head_chunks_created_total",
        "counter",
        "Total number of chunks created in the head",
    );
    sample(
        &mut out,
        "prometheus_tsdb_head_chunks_created_total",
        "",
        st.chunks_created as f64,
    );
    family(&mut out, "prometheus_tsdb_out_of_order_samples_total", "counter", "Total number of out of order samples ingestion failed attempts due to out of order being disabled.");
    sample(
        &mut out,
        "prometheus_tsdb_out_of_order_samples_total",
        "type=\"float\"",
        st.out_of_order as f64,
    );
    family(
        &mut out,
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "counter",
        "Total number of samples rejected due to duplicate timestamps but different values.",
    );
    sample(
        &mut out,
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "",
        st.duplicates as f64,
    );

    family(
        &mut out,
        "prometheus_target_scrape_pool_targets",
        "gauge",
        "Current number of targets in this scrape pool.",
    );
    let pools = app.scrape.pools();
    for (job, targets) in &pools {
        sample(
            &mut out,
            "prometheus_target_scrape_pool_targets",
            &format!("scrape_job=\"{}\"", escape(job)),
            targets.len() as f64,
        );
    }
    family(
        &mut out,
        "prometheus_sd_discovered_targets",
        "gauge",
        "Current number of discovered targets.",
    );
    for (job, targets) in &pools {
        sample(
            &mut out,
            "prometheus_sd_discovered_targets",
            &format!("config=\"{}\",name=\"scrape\"", escape(job)),
            targets.len() as f64,
        );
    }
    let up = pools
        .iter()
        .flat_map(|(_, t)| t)
        .filter(|t| t.status.lock().health == Health::Up)
        .count();
    family(
        &mut out,
        "flint_targets_up",
        "gauge",
        "Active targets whose last scrape succeeded.",
    );
    sample(&mut out, "flint_targets_up", "", up as f64);

    family(
        &mut out,
        "prometheus_http_requests_total",
        "counter",
        "Counter of HTTP requests.",
    );
    for ((handler, code), n) in app.http_requests.lock().iter() {
        sample(
            &mut out,
            "prometheus_http_requests_total",
            &format!("code=\"{code}\",handler=\"{handler}\""),
            *n as f64,
        );
    }
    family(
        &mut out,
        "prometheus_http_request_duration_seconds",
        "histogram",
        "Histogram of latencies for HTTP requests.",
    );
    for (handler, h) in app.http_durations.lock().iter() {
        h.render(
            &mut out,
            "prometheus_http_request_duration_seconds",
            &format!("handler=\"{handler}\""),
        );
    }
    family(
        &mut out,
        "prometheus_engine_query_duration_seconds",
        "summary",
        "Query timings",
    );
    for (slice, (sum, count)) in app.query_durations.lock().iter() {
        sample(
            &mut out,
            "prometheus_engine_query_duration_seconds_sum",
            &format!("slice=\"{slice}\""),
            *sum,
        );
        sample(
            &mut out,
            "prometheus_engine_query_duration_seconds_count",
            &format!("slice=\"{slice}\""),
            *count as f64,
        );
    }
    let st = app.db.stats();
    family(&mut out, "prometheus_tsdb_out_of_bound_samples_total", "counter", "Total number of out of bound samples ingestion failed attempts with out of order support disabled.");
    sample(
        &mut out,
        "prometheus_tsdb_out_of_bound_samples_total",
        "type=\"float\"",
        st.out_of_bounds as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_head_series_removed_total",
        "counter",
        "Total number of series removed in the head",
    );
    sample(
        &mut out,
        "prometheus_tsdb_head_series_removed_total",
        "",
        st.series_removed as f64,
    );
    family(
        &mut out,
        "prometheus_target_scrape_pools_total",
        "counter",
        "Total number of scrape pool creation attempts.",
    );
    sample(
        &mut out,
        "prometheus_target_scrape_pools_total",
        "",
        pools.len() as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_blocks_loaded",
        "gauge",
        "Number of currently loaded data blocks",
    );
    sample(
        &mut out,
        "prometheus_tsdb_blocks_loaded",
        "",
        st.blocks as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_compactions_total",
        "counter",
        "Total number of compactions that were executed for the partition.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_compactions_total",
        "",
        st.compactions as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_storage_blocks_bytes",
        "gauge",
        "The number of bytes that are currently used for local storage by all blocks.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_storage_blocks_bytes",
        "",
        st.block_bytes as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_time_retentions_total",
        "counter",
        "The number of times that blocks were deleted because the maximum time limit was exceeded.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_time_retentions_total",
        "",
        st.retention_deletions as f64,
    );
    // the series log's rewrite without forgotten series plays the part
    // of Prometheus's WAL checkpoint
    family(
        &mut out,
        "prometheus_tsdb_checkpoint_creations_total",
        "counter",
        "Total number of checkpoint creations attempted.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_checkpoint_creations_total",
        "",
        st.series_log_rewrites as f64,
    );
    family(
        &mut out,
        "prometheus_tsdb_checkpoint_creations_failed_total",
        "counter",
        "Total number of checkpoint creations that failed.",
    );
    sample(
        &mut out,
        "prometheus_tsdb_checkpoint_creations_failed_total",
        "",
        st.series_log_rewrite_failures as f64,
    );
    out.push_str(&app.rules.metrics_text());
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
