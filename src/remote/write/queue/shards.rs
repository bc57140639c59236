//! The machinery a queue sends through: the shards (a task each, fed
//! samples in groups by a bounded channel, a series always to the same
//! one), the tracker of the journal records read and not yet all sent
//! (whose acknowledgements move the queue's position on), and the rates
//! from which the number of shards is computed, as Prometheus does.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tsdb::JournalPosition;

use super::{LabelCache, Pending, Queue, Stop, EWMA_WEIGHT, SHARD_UPDATE};
use crate::remote::write::metrics::QueueMetrics;

/// Journal records read and not yet all sent, in order.
pub(super) struct Tracker {
    next_seq: u64,
    /// (samples left, position after the record), from `front_seq` on.
    records: VecDeque<(usize, JournalPosition)>,
    front_seq: u64,
    in_flight: usize,
}

impl Tracker {
    pub(super) fn new() -> Tracker {
        Tracker {
            next_seq: 0,
            records: VecDeque::new(),
            front_seq: 0,
            in_flight: 0,
        }
    }

    pub(super) fn push(&mut self, samples: usize, end: JournalPosition) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.records.push_back((samples, end));
        self.in_flight += samples;
        seq
    }

    pub(super) fn ack(&mut self, seq: u64, n: usize) {
        if let Some(r) = seq
            .checked_sub(self.front_seq)
            .and_then(|i| self.records.get_mut(i as usize))
        {
            r.0 = r.0.saturating_sub(n);
            self.in_flight = self.in_flight.saturating_sub(n);
        }
    }

    /// The position up to which everything is sent, when it moved.
    pub(super) fn advance(&mut self) -> Option<JournalPosition> {
        let mut last = None;
        while let Some(&(0, end)) = self.records.front() {
            self.records.pop_front();
            self.front_seq += 1;
            last = Some(end);
        }
        last
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }
}

/// The shards of a queue: a task each, fed samples in groups by a bounded
/// channel.
pub(super) struct Shards {
    senders: Vec<mpsc::Sender<Vec<Pending>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(super) acks: mpsc::UnboundedReceiver<Vec<(u64, usize)>>,
    /// Samples gathered for each shard before they are handed over.
    pending: Vec<Vec<Pending>>,
}

impl Shards {
    pub(super) fn start(queue: &Arc<Queue>, n: usize, stop: &watch::Receiver<Stop>) -> Shards {
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let q = &queue.cfg.queue_config;
        let max = q.max_samples_per_send.max(1) as usize;
        let deadline = q.batch_send_deadline.0.max(Duration::from_millis(1));
        // groups of about a request each: the capacity in samples
        let slots = ((q.capacity as usize) / max).max(2);
        let mut senders = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, mut rx) = mpsc::channel::<Vec<Pending>>(slots);
            senders.push(tx);
            let queue = Arc::clone(queue);
            let ack_tx = ack_tx.clone();
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut cache = LabelCache::new();
                let mut batch: Vec<Pending> = Vec::with_capacity(max);
                let mut closed = false;
                loop {
                    if batch.is_empty() {
                        match rx.recv().await {
                            Some(group) => batch.extend(group),
                            None => return,
                        }
                    }
                    let due = tokio::time::Instant::now() + deadline;
                    while batch.len() < max && !closed {
                        match tokio::time::timeout_at(due, rx.recv()).await {
                            Ok(Some(group)) => batch.extend(group),
                            Ok(None) => closed = true,
                            Err(_) => break,
                        }
                    }
                    let n = batch.len().min(max);
                    let done = queue.send_batch(&batch[..n], &mut cache, &stop).await;
                    batch.drain(..n);
                    let _ = ack_tx.send(done);
                    if closed && batch.is_empty() {
                        return;
                    }
                }
            }));
        }
        queue.metrics.shards.store(n as u64, Ordering::Relaxed);
        Shards {
            senders,
            tasks,
            acks,
            pending: (0..n).map(|_| Vec::new()).collect(),
        }
    }

    /// Gathers a sample for its series' shard.
    pub(super) fn enqueue(&mut self, p: Pending) {
        let i = (p.series.0 % self.senders.len() as u64) as usize;
        self.pending[i].push(p);
    }

    /// Hands the gathered samples to their shards, waiting while one is
    /// full.
    pub(super) async fn flush(&mut self, m: &QueueMetrics) {
        for (i, tx) in self.senders.iter().enumerate() {
            if self.pending[i].is_empty() {
                continue;
            }
            let group = std::mem::take(&mut self.pending[i]);
            match tx.try_send(group) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(group)) => {
                    m.enqueue_retries.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(group).await;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Lets the shards send what they hold, for at most `limit`, recording
    /// their acknowledgements; then stops them.
    pub(super) async fn finish(&mut self, limit: Duration, tracker: &mut Tracker) {
        self.senders.clear();
        let all = futures_join(std::mem::take(&mut self.tasks));
        let deadline = if limit == Duration::MAX {
            None
        } else {
            Some(tokio::time::Instant::now() + limit)
        };
        tokio::pin!(all);
        loop {
            tokio::select! {
                _ = &mut all => break,
                Some(done) = self.acks.recv() => {
                    for (seq, n) in done { tracker.ack(seq, n); }
                }
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => break,
            }
        }
        while let Ok(done) = self.acks.try_recv() {
            for (seq, n) in done {
                tracker.ack(seq, n);
            }
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Waits for every task.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// Rates for resharding: samples read, samples sent and the time sending
/// took, as exponentially weighted rates over [`SHARD_UPDATE`].
pub(super) struct Rates {
    pub(super) samples_in: u64,
    in_rate: Option<f64>,
    out_rate: Option<f64>,
    duration_rate: Option<f64>,
    last_out: u64,
    last_duration: f64,
    last_send: Option<Instant>,
    last_sent_total: u64,
}

fn ewma(rate: &mut Option<f64>, count: f64) {
    let instant = count / SHARD_UPDATE.as_secs_f64();
    *rate = Some(match *rate {
        None if instant == 0.0 => return,
        None => instant,
        Some(r) => r + EWMA_WEIGHT * (instant - r),
    });
}

impl Rates {
    pub(super) fn new() -> Rates {
        Rates {
            samples_in: 0,
            in_rate: None,
            out_rate: None,
            duration_rate: None,
            last_out: 0,
            last_duration: 0.0,
            last_send: None,
            last_sent_total: 0,
        }
    }

    /// Whether a request completed within the last update interval.
    pub(super) fn recent_send(&self) -> bool {
        self.last_send
            .is_some_and(|t| t.elapsed() < SHARD_UPDATE + Duration::from_secs(1))
    }

    /// The shards wanted now (Prometheus's calculation: the time one
    /// sample takes to send, times the rate in plus a twentieth of the
    /// backlog, changed only beyond 30 %, never down while more than 10 s
    /// behind), within the configured bounds.
    pub(super) fn desired(&mut self, q: &Queue, current: usize) -> usize {
        let m = &q.metrics;
        let out_total = m.samples.load(Ordering::Relaxed);
        let sum = m.batch_duration.lock().sum();
        if out_total != self.last_sent_total {
            self.last_send = Some(Instant::now());
            self.last_sent_total = out_total;
        }
        ewma(
            &mut self.in_rate,
            std::mem::take(&mut self.samples_in) as f64,
        );
        ewma(&mut self.out_rate, (out_total - self.last_out) as f64);
        ewma(&mut self.duration_rate, sum - self.last_duration);
        self.last_out = out_total;
        self.last_duration = sum;
        let (Some(inr), Some(outr), Some(dur)) = (self.in_rate, self.out_rate, self.duration_rate)
        else {
            return current;
        };
        if outr <= 0.0 {
            return current;
        }
        let newest_in = q.db.time_range().1.map_or(0, |r| r.1);
        let delay =
            ((newest_in - m.highest_sent_ms.load(Ordering::Relaxed)) as f64 / 1000.0).max(0.0);
        let pending = delay * inr;
        let time_per_sample = dur / outr;
        let desired = time_per_sample * (inr + 0.05 * pending);
        m.shards_desired.store(desired.to_bits(), Ordering::Relaxed);
        let mut want = desired.ceil().max(1.0) as usize;
        let (lo, hi) = (current as f64 * 0.7, current as f64 * 1.3);
        if (want as f64) >= lo && (want as f64) <= hi {
            return current;
        }
        if want < current && delay > 10.0 {
            return current;
        }
        let qc = &q.cfg.queue_config;
        want = want.clamp(qc.min_shards.max(1) as usize, qc.max_shards.max(1) as usize);
        want
    }
}
