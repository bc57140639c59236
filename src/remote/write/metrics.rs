//! A queue's self-metrics, with Prometheus's `prometheus_remote_storage_*`
//! names and `remote_name`/`url` labels, so remote write dashboards and
//! alerts (the mixin's `PrometheusRemoteWriteBehind`, …) work unchanged.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::web::{Exposition, Histogram};
use textparse::escape_label_value;

/// Buckets of `prometheus_remote_storage_sent_batch_duration_seconds`.
pub const BATCH_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

/// Counters and gauges of one queue.
pub struct QueueMetrics {
    /// Samples in requests sent, every attempt counted.
    pub samples: AtomicU64,
    /// Samples in requests refused for good.
    pub failed: AtomicU64,
    /// Samples in requests tried again.
    pub retried: AtomicU64,
    /// Samples not sent: older than `sample_age_limit`.
    pub dropped_too_old: AtomicU64,
    /// Samples not sent: their series was dropped by `write_relabel_configs`.
    pub dropped_relabel: AtomicU64,
    /// Samples not sent: the head no longer knew their series.
    pub dropped_unknown: AtomicU64,
    /// Times the reader waited for a full shard.
    pub enqueue_retries: AtomicU64,
    /// Samples read and not yet sent.
    pub pending: AtomicI64,
    /// Exemplars read from the journal for sending.
    pub exemplars_in: AtomicU64,
    /// Exemplars in requests sent, every attempt counted.
    pub exemplars: AtomicU64,
    /// Exemplars in requests refused for good.
    pub exemplars_failed: AtomicU64,
    /// Exemplars in requests tried again.
    pub exemplars_retried: AtomicU64,
    /// Native histograms read from the journal for sending.
    pub histograms_in: AtomicU64,
    /// Native histograms sent.
    pub histograms: AtomicU64,
    /// Native histograms that failed for good.
    pub histograms_failed: AtomicU64,
    /// Native histograms retried.
    pub histograms_retried: AtomicU64,
    /// Compressed bytes of sample requests.
    pub bytes: AtomicU64,
    /// Metadata entries sent, failed, retried; their bytes.
    pub metadata: AtomicU64,
    /// Metadata entries refused for good.
    pub metadata_failed: AtomicU64,
    /// Metadata entries tried again.
    pub metadata_retried: AtomicU64,
    /// Compressed bytes of metadata requests.
    pub metadata_bytes: AtomicU64,
    /// Shards running.
    pub shards: AtomicU64,
    /// Shards the last calculation wanted (f64 bits).
    pub shards_desired: AtomicU64,
    /// Newest timestamp read from storage for sending (ms).
    pub highest_enqueued_ms: AtomicI64,
    /// Newest timestamp of a request the receiver took (ms).
    pub highest_sent_ms: AtomicI64,
    /// Series whose skipped samples are still to be read from storage.
    pub catch_up_series: AtomicU64,
    /// Duration of each send attempt.
    pub batch_duration: Mutex<Histogram>,
}

impl Default for QueueMetrics {
    fn default() -> Self {
        QueueMetrics {
            samples: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dropped_too_old: AtomicU64::new(0),
            dropped_relabel: AtomicU64::new(0),
            dropped_unknown: AtomicU64::new(0),
            enqueue_retries: AtomicU64::new(0),
            pending: AtomicI64::new(0),
            exemplars_in: AtomicU64::new(0),
            exemplars: AtomicU64::new(0),
            exemplars_failed: AtomicU64::new(0),
            exemplars_retried: AtomicU64::new(0),
            histograms_in: AtomicU64::new(0),
            histograms: AtomicU64::new(0),
            histograms_failed: AtomicU64::new(0),
            histograms_retried: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            metadata: AtomicU64::new(0),
            metadata_failed: AtomicU64::new(0),
            metadata_retried: AtomicU64::new(0),
            metadata_bytes: AtomicU64::new(0),
            shards: AtomicU64::new(0),
            shards_desired: AtomicU64::new(0),
            highest_enqueued_ms: AtomicI64::new(0),
            highest_sent_ms: AtomicI64::new(0),
            catch_up_series: AtomicU64::new(0),
            batch_duration: Mutex::new(Histogram::new(&BATCH_BUCKETS)),
        }
    }
}

/// What a queue shows besides its counters: its settings.
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// The URL, password hidden.
    pub url: String,
    /// `min_shards`, `max_shards`, `capacity`, `max_samples_per_send`.
    pub min_shards: u64,
    /// See above.
    pub max_shards: u64,
    /// See above.
    pub capacity: u64,
    /// See above.
    pub max_samples_per_send: u64,
}

fn secs(ms: i64) -> f64 {
    (ms / 1000) as f64
}

/// Appends every queue's metrics, family by family.
pub fn render(e: &mut Exposition, queues: &[(QueueInfo, std::sync::Arc<QueueMetrics>)]) {
    type Get = fn(&QueueInfo, &QueueMetrics) -> f64;
    let families: &[(&str, &str, &str, Get)] = &[
        ("prometheus_remote_storage_samples_total", "counter", "Total number of samples sent to remote storage.", |_, m| m.samples.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_samples_failed_total", "counter", "Total number of samples which failed on send to remote storage, non-recoverable errors.", |_, m| m.failed.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_samples_retried_total", "counter", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.", |_, m| m.retried.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_samples_pending", "gauge", "The number of samples pending in the queues shards to be sent to the remote storage.", |_, m| m.pending.load(Ordering::Relaxed).max(0) as f64),
        ("prometheus_remote_storage_exemplars_in_total", "counter", "Exemplars read from the journal (the write-ahead log in Prometheus) for sending.", |_, m| m.exemplars_in.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_exemplars_total", "counter", "Total number of exemplars sent to remote storage.", |_, m| m.exemplars.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_exemplars_failed_total", "counter", "Total number of exemplars which failed on send to remote storage, non-recoverable errors.", |_, m| m.exemplars_failed.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_exemplars_retried_total", "counter", "Total number of exemplars which failed on send to remote storage but were retried because the send error was recoverable.", |_, m| m.exemplars_retried.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_histograms_in_total", "counter", "HistogramSamples in to remote storage, compare to histograms out for queue managers.", |_, m| m.histograms_in.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_histograms_total", "counter", "Total number of histograms sent to remote storage.", |_, m| m.histograms.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_histograms_failed_total", "counter", "Total number of histograms which failed on send to remote storage, non-recoverable errors.", |_, m| m.histograms_failed.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_histograms_retried_total", "counter", "Total number of histograms which failed on send to remote storage but were retried because the send error was recoverable.", |_, m| m.histograms_retried.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_enqueue_retries_total", "counter", "Total number of times enqueue has failed because a shards queue was full.", |_, m| m.enqueue_retries.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_bytes_total", "counter", "The total number of bytes of data (not metadata) sent by the queue after compression.", |_, m| m.bytes.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_metadata_total", "counter", "Total number of metadata entries sent to remote storage.", |_, m| m.metadata.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_metadata_failed_total", "counter", "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.", |_, m| m.metadata_failed.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_metadata_retried_total", "counter", "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.", |_, m| m.metadata_retried.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_metadata_bytes_total", "counter", "The total number of bytes of metadata sent by the queue after compression.", |_, m| m.metadata_bytes.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_queue_highest_timestamp_seconds", "gauge", "Highest timestamp that was enqueued, in seconds since epoch. Initialized to 0 when no data has been received yet.", |_, m| secs(m.highest_enqueued_ms.load(Ordering::Relaxed))),
        ("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "gauge", "Highest timestamp successfully sent by this queue, in seconds since epoch. Initialized to 0 when no data has been sent yet.", |_, m| secs(m.highest_sent_ms.load(Ordering::Relaxed))),
        ("prometheus_remote_storage_shards", "gauge", "The number of shards used for parallel sending to the remote storage.", |_, m| m.shards.load(Ordering::Relaxed) as f64),
        ("prometheus_remote_storage_shards_min", "gauge", "The minimum number of shards that the queue is allowed to run.", |i, _| i.min_shards as f64),
        ("prometheus_remote_storage_shards_max", "gauge", "The maximum number of shards that the queue is allowed to run.", |i, _| i.max_shards as f64),
        ("prometheus_remote_storage_shards_desired", "gauge", "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.", |_, m| f64::from_bits(m.shards_desired.load(Ordering::Relaxed))),
        ("prometheus_remote_storage_shard_capacity", "gauge", "The capacity of each shard of the queue used for parallel sending to the remote storage.", |i, _| i.capacity as f64),
        ("prometheus_remote_storage_max_samples_per_send", "gauge", "The maximum number of samples to be sent, in a single request, to the remote storage.", |i, _| i.max_samples_per_send as f64),
        ("flint_remote_storage_catch_up_series", "gauge", "Series whose unsent samples the queue reads from the blocks and head before the journal, after the journal outgrew its limit.", |_, m| m.catch_up_series.load(Ordering::Relaxed) as f64),
    ];
    for (name, kind, help, get) in families {
        e.family(name, kind, help);
        for (info, m) in queues {
            e.sample(
                name,
                &[("remote_name", &info.name), ("url", &info.url)],
                get(info, m),
            );
        }
    }
    e.family(
        "prometheus_remote_storage_samples_dropped_total",
        "counter",
        "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.",
    );
    for (info, m) in queues {
        for (reason, v) in [
            ("too_old", &m.dropped_too_old),
            ("dropped_series", &m.dropped_relabel),
            ("unintentionally_dropped_series", &m.dropped_unknown),
        ] {
            e.sample(
                "prometheus_remote_storage_samples_dropped_total",
                &[
                    ("reason", reason),
                    ("remote_name", &info.name),
                    ("url", &info.url),
                ],
                v.load(Ordering::Relaxed) as f64,
            );
        }
    }
    e.family(
        "prometheus_remote_storage_sent_batch_duration_seconds",
        "histogram",
        "Duration of send calls to the remote storage.",
    );
    for (info, m) in queues {
        let labels = format!(
            "remote_name=\"{}\",url=\"{}\"",
            escape_label_value(&info.name),
            escape_label_value(&info.url)
        );
        m.batch_duration.lock().render(
            e.text_mut(),
            "prometheus_remote_storage_sent_batch_duration_seconds",
            &labels,
        );
    }
}
