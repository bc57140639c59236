//! The loop that scrapes one target on its interval and stores the result.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cache::SeriesCache;
use tokio::sync::watch;
use tracing::debug;
use tsdb::histogram::{ClassicHistogram, FloatHistogram};
use tsdb::labels::{Label, Labels};
use tsdb::time::now_ns;
use tsdb::{Db, SeriesHandle, SeriesRef, STALE_NAN_BITS};

use super::client::JobClient;
use super::error::{go_style_error, FetchError, JobClientError, LabelLimitError, StoreError};
use super::target::{Health, Metadata, Target};
use textparse::{Entry, MetricType, Parser};

/// A sample of a scrape body: its series' cache key, timestamp, value and
/// place in the series cache.
type ScrapedSample<'a> = (&'a [u8], Option<i64>, f64, Option<usize>);

/// Label names and values, in order.
type LabelPairs = Vec<(String, String)>;

/// The `Accept` header for the formats we parse: OpenMetrics 1.0.0 and
/// 0.0.1, then the text format 0.0.4 (Prometheus 2.x's default header;
/// without the UTF-8 escaping offers of 3.x, since quoted metric names are
/// not parsed yet).
pub const ACCEPT_HEADER: &str =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Where a target's scrapes fall on its schedule, for stamping them as
/// Prometheus does: a scrape that starts at most `tolerance` after its slot
/// (`start + n × interval`) is stamped with the slot itself, so that the
/// steps between a target's samples are exactly its interval and cost no
/// bits in the chunk encodings (timer wake-ups are late by a millisecond or
/// so). A later scrape keeps its own time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    slot_ns: i128,
    interval_ns: i128,
    tolerance_ns: i128,
}

impl Schedule {
    /// A schedule whose first slot is `start_ns`. The tolerance is at most
    /// 1% of the interval; `None` or zero stamps every scrape with its own
    /// time.
    pub(crate) fn new(start_ns: i128, interval: Duration, tolerance: Option<Duration>) -> Self {
        let interval_ns = interval.as_nanos() as i128;
        let tolerance_ns = tolerance.map_or(0, |t| (t.as_nanos() as i128).min(interval_ns / 100));
        Schedule {
            slot_ns: start_ns,
            interval_ns,
            tolerance_ns,
        }
    }

    /// The time to stamp a scrape starting at `now_ns` with.
    pub(crate) fn stamp(&mut self, now_ns: i128) -> i128 {
        if self.tolerance_ns <= 0 || self.interval_ns <= 0 {
            return now_ns;
        }
        if now_ns < self.slot_ns {
            // the clock went back: the schedule starts again from here
            self.slot_ns = now_ns;
            return now_ns;
        }
        // skipped ticks (or a clock that jumped forward) move several slots
        self.slot_ns += (now_ns - self.slot_ns) / self.interval_ns * self.interval_ns;
        if now_ns - self.slot_ns <= self.tolerance_ns {
            self.slot_ns
        } else {
            now_ns
        }
    }
}

/// How a loop is told to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Keep scraping.
    Run,
    /// Stop and mark every series of the target stale (target removed).
    StopWithStaleness,
    /// Stop without stale markers (shutdown).
    Stop,
}

/// A cached series: the series (`None` when metric relabeling drops it),
/// and whether the sample carried its own timestamp (no stale marker then,
/// unless `track_timestamps_staleness`).
#[derive(Clone)]
struct CacheEntry {
    series: Option<SeriesHandle>,
    explicit_ts: bool,
}

/// Per-target state kept between scrapes.
pub(crate) struct ScrapeLoop {
    target: Arc<Target>,
    db: Arc<Db>,
    client: Result<Arc<JobClient>, JobClientError>,
    /// Raw series text → series, so a known series costs no label parsing.
    cache: SeriesCache<CacheEntry>,
    /// Series of the synthetic `up`, `scrape_*` metrics.
    report_refs: Option<[SeriesRef; 5]>,
    scratch: Vec<(String, String)>,
    /// `--scrape.timestamp-tolerance`, or `None` with
    /// `--no-scrape.adjust-timestamps`.
    tolerance: Option<Duration>,
    /// Native histogram series: key → labels after relabeling (`None`:
    /// dropped), as of the last scrape.
    hist_labels: HashMap<Vec<u8>, Option<Labels>>,
    /// The histogram series the last scrape stored, for stale markers.
    hist_series: HashSet<Labels>,
    /// Zero samples at start times (see [`super::ScrapeManager::with_start_zero`]).
    start_zero: bool,
}

/// What one scrape produced.
/// Exemplars of scrapes refused as out of order
/// (`prometheus_target_scrapes_exemplar_out_of_order_total`).
pub static EXEMPLARS_OUT_OF_ORDER: AtomicU64 = AtomicU64::new(0);

struct Scraped {
    samples_scraped: u64,
    samples_post_relabel: u64,
    series_added: u64,
}

impl ScrapeLoop {
    pub(crate) fn new(
        target: Arc<Target>,
        db: Arc<Db>,
        client: Result<Arc<JobClient>, JobClientError>,
        tolerance: Option<Duration>,
    ) -> Self {
        ScrapeLoop {
            target,
            db,
            client,
            cache: SeriesCache::default(),
            report_refs: None,
            scratch: Vec::new(),
            tolerance,
            hist_labels: HashMap::new(),
            hist_series: HashSet::new(),
            start_zero: false,
        }
    }

    pub(crate) fn with_start_zero(mut self, on: bool) -> Self {
        self.start_zero = on;
        self
    }

    /// Scrapes until told to stop; a removed target's series are marked
    /// stale.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<StopMode>) {
        let start_delay = self.target.offset(now_ns().max(0) as u128);
        tokio::select! {
            _ = tokio::time::sleep(start_delay) => {}
            _ = stop.changed() => return,
        }
        let mut ticker = tokio::time::interval(self.target.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut schedule = Schedule::new(now_ns(), self.target.interval, self.tolerance);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            self.scrape_once(schedule.stamp(now_ns())).await;
        }
        if *stop.borrow() == StopMode::StopWithStaleness {
            let ts = (now_ns() / 1_000_000) as i64;
            self.mark_all_stale(ts);
            self.mark_report_stale(ts);
        }
    }

    fn mark_report_stale(&mut self, ts: i64) {
        let Some(refs) = self.report_refs else { return };
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut app = self.db.appender();
        for r in refs {
            let _ = app.append(r, ts, stale);
        }
        let _ = app.commit();
    }

    /// One scrape stamped `started` (ns since the epoch): fetch, parse,
    /// append, report.
    pub(crate) async fn scrape_once(&mut self, started: i128) {
        let ts = (started / 1_000_000) as i64;
        let clock = Instant::now();
        let result = match self.fetch().await {
            Ok((content_type, body)) => match self.store(content_type.as_deref(), &body, ts) {
                // the head forgot a cached series (its data all went into
                // blocks): resolve every series again, once
                Err(StoreError::UnknownSeries) => {
                    self.cache.clear();
                    self.store(content_type.as_deref(), &body, ts)
                        .map_err(|e| e.to_string())
                }
                r => r.map_err(|e| e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        let duration = clock.elapsed();
        let t = &self.target;
        let scraped = match result {
            Ok(s) => {
                let mut st = t.status.lock();
                st.health = Health::Up;
                st.last_error.clear();
                st.last_scrape_ns = started;
                st.last_duration = duration;
                Some(s)
            }
            Err(err) => {
                debug!(component = "scrape manager", scrape_pool = %t.pool, target = %t.url, err = %err, "Scrape failed");
                let mut st = t.status.lock();
                st.health = Health::Down;
                st.last_error = err;
                st.last_scrape_ns = started;
                st.last_duration = duration;
                drop(st);
                self.mark_all_stale(ts);
                None
            }
        };
        self.report(ts, duration, scraped.as_ref());
    }

    async fn fetch(&self) -> Result<(Option<String>, Vec<u8>), FetchError> {
        let t = &self.target;
        if let Some(e) = t.forced_error.lock().clone() {
            return Err(FetchError::Forced(e));
        }
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let url = &t.url;
        let req = client.get(url, t.timeout).await?;
        let mut resp = req
            .send()
            .await
            .map_err(|e| FetchError::Transport(go_style_error(url, &e, t.timeout)))?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let limit = t.limits.body_size;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Transport(go_style_error(url, &e, t.timeout)))?
        {
            if limit > 0 && (body.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::BodyLimit);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((content_type, body))
    }

    /// The format to parse: by Content-Type, else the fallback protocol;
    /// as Prometheus 3, a missing or unknown type without a fallback fails.
    fn content_type_in_force<'c>(&'c self, ct: Option<&'c str>) -> Result<&'c str, StoreError> {
        let fallback = self.target.fallback_protocol.as_deref();
        let known = |c: &str| {
            let base = c
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            base == "text/plain"
                || base == "application/openmetrics-text"
                || textparse::protobuf::is_protobuf(c)
        };
        match ct {
            Some(c) if known(c) => Ok(c),
            _ => match fallback {
                Some(p) => Ok(crate::config::protocol_header(p)?),
                None => Err(match ct {
                    None | Some("") => StoreError::BlankContentType,
                    Some(c) => StoreError::UnsupportedContentType(c.to_string()),
                }),
            },
        }
    }

    /// Parses the whole body first (a malformed body stores nothing), then
    /// appends, then marks series that vanished as stale.
    fn store(
        &mut self,
        content_type: Option<&str>,
        body: &[u8],
        ts: i64,
    ) -> Result<Scraped, StoreError> {
        let t = Arc::clone(&self.target);
        let content_type = self.content_type_in_force(content_type)?.to_string();
        let decoded;
        let mut parser = if textparse::protobuf::is_protobuf(&content_type) {
            decoded = textparse::protobuf::decode(body, t.histograms).map_err(|e| e.msg)?;
            Parser::Proto(textparse::protobuf::ProtoParser::new(&decoded))
        } else {
            Parser::for_content_type(Some(&content_type), body)
        };
        // native histogram samples: (labels, timestamp, histogram)
        let mut hists: Vec<(Labels, i64, FloatHistogram)> = Vec::new();
        // (histogram's place in `hists`, its exemplars), when they are stored
        let mut hist_exemplars: Vec<(usize, &[textparse::openmetrics::Exemplar])> = Vec::new();
        let mut hists_scraped = 0u64;
        let mut hist_labels: HashMap<Vec<u8>, Option<Labels>> = HashMap::new();
        // classic histograms of a text body becoming ones with custom
        // bounds (`convert_classic_histograms_to_nhcb`): the family being
        // read when it is a histogram, and its series by their labels
        // without `le` and name
        let to_nhcb = t.histograms.convert_to_nhcb && !matches!(parser, Parser::Proto(_));
        let mut nhcb_family: Option<(String, bool)> = None;
        let mut nhcb = Nhcb::default();
        // (cache key, timestamp, value, place in the cache); resolved to
        // series after parsing
        // a target's next scrape is mostly the size of its last
        let mut samples: Vec<ScrapedSample<'_>> = Vec::with_capacity(self.cache.len());
        // start (created) times: (sample's place in `samples`, ms)
        let mut starts: Vec<(usize, i64)> = Vec::new();
        let mut hist_starts: Vec<(usize, i64)> = Vec::new();
        let mut pass = self.cache.pass();
        let mut new_labels: HashMap<&[u8], Option<Labels>> = HashMap::new();
        let mut kept_so_far = 0u64;
        // (sample's place in `samples`, exemplar), when they are stored
        let keep_exemplars = self.db.stores_exemplars();
        let mut exemplars: Vec<(usize, textparse::openmetrics::Exemplar)> = Vec::new();
        loop {
            match parser.next_hinted(self.cache.expected(&pass)) {
                Ok(None) => break,
                Ok(Some(Entry::Series)) => {
                    if self.start_zero && parser.is_created_sample() {
                        continue;
                    }
                    let (raw, pts, v) = parser.series();
                    if let Some((family, gauge)) = &nhcb_family {
                        parser.labels(&mut self.scratch);
                        if nhcb.collect(family, *gauge, &self.scratch, pts, v)
                            && !t.histograms.always_classic
                        {
                            continue;
                        }
                    }
                    let pos = if parser.hint_taken() {
                        Some(self.cache.take_expected(&mut pass))
                    } else {
                        self.cache.find(&mut pass, raw)
                    };
                    if pos.is_none() && !new_labels.contains_key(raw) {
                        parser.labels(&mut self.scratch);
                        new_labels.insert(raw, stored_labels(&self.scratch, &t)?);
                    }
                    // fail as soon as the limit is passed, before any
                    // series of this scrape is created
                    let kept = match pos {
                        Some(p) => self.cache.entry(p).series.is_some(),
                        None => new_labels.get(raw).is_some_and(Option::is_some),
                    };
                    if kept {
                        kept_so_far += 1;
                        if t.limits.samples > 0 && kept_so_far > t.limits.samples {
                            return Err("sample limit exceeded".into());
                        }
                    }
                    if keep_exemplars && kept {
                        if let Some(e) = parser.exemplar() {
                            exemplars.push((samples.len(), e));
                        }
                    }
                    if self.start_zero && kept {
                        if let Some(st) = parser.start_timestamp() {
                            starts.push((samples.len(), st));
                        }
                    }
                    samples.push((raw, pts, v, pos));
                }
                Ok(Some(Entry::Histogram)) => {
                    let Some((key, pts, h)) = parser.histogram() else {
                        continue;
                    };
                    hists_scraped += 1;
                    // the last scrape's entry moves over, its key with it
                    let (key, labels) = match self.hist_labels.remove_entry(key) {
                        Some(e) => e,
                        None => {
                            parser.labels(&mut self.scratch);
                            (key.to_vec(), stored_labels(&self.scratch, &t)?)
                        }
                    };
                    hist_labels.insert(key, labels.clone());
                    let Some(labels) = labels else { continue };
                    kept_so_far += 1;
                    if t.limits.samples > 0 && kept_so_far > t.limits.samples {
                        return Err("sample limit exceeded".into());
                    }
                    let h = limit_buckets(h.clone(), t.bucket_limit, t.max_schema)?;
                    let when = if t.honor_timestamps {
                        pts.unwrap_or(ts)
                    } else {
                        ts
                    };
                    let ex = parser.histogram_exemplars();
                    if keep_exemplars && !ex.is_empty() {
                        hist_exemplars.push((hists.len(), ex));
                    }
                    if self.start_zero {
                        if let Some(st) = parser.start_timestamp() {
                            hist_starts.push((hists.len(), st));
                        }
                    }
                    hists.push((labels, when, h));
                }
                Ok(Some(Entry::Help)) => {
                    let (name, help) = parser.help();
                    update_metadata(&t, name, |m| {
                        if m.help != help {
                            m.help = help.into_owned();
                        }
                    });
                }
                Ok(Some(Entry::Type)) => {
                    let (name, kind) = parser.metric_type();
                    update_metadata(&t, name, |m| m.kind = kind.as_str());
                    if to_nhcb {
                        nhcb_family =
                            matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram)
                                .then(|| {
                                    (
                                        String::from_utf8_lossy(name).into_owned(),
                                        kind == MetricType::GaugeHistogram,
                                    )
                                });
                    }
                }
                Ok(Some(Entry::Unit)) => {
                    if let Some((name, unit)) = parser.unit() {
                        update_metadata(&t, name, |m| {
                            if m.unit != unit {
                                m.unit = unit.to_string();
                            }
                        });
                    }
                }
                Ok(Some(_)) => {}
                Err(e) => return Err(StoreError::Other(e.to_string())),
            }
        }
        // the classic histograms collected, as histograms with custom
        // bounds (one that does not convert is left out, as Prometheus)
        for (labels, pts, c, gauge) in nhcb.found {
            let Ok(mut h) = c.convert() else { continue };
            if gauge {
                h.counter_reset_hint = tsdb::histogram::CounterResetHint::Gauge;
            }
            hists_scraped += 1;
            let Some(labels) = stored_labels(&labels, &t)? else {
                continue;
            };
            kept_so_far += 1;
            if t.limits.samples > 0 && kept_so_far > t.limits.samples {
                return Err("sample limit exceeded".into());
            }
            let when = if t.honor_timestamps {
                pts.unwrap_or(ts)
            } else {
                ts
            };
            hists.push((labels, when, h));
        }
        let unchanged = self.cache.unchanged(&pass);
        // this scrape's entries in order, when the cache is to be rebuilt
        let mut entries: Vec<CacheEntry> = Vec::new();
        if !unchanged {
            entries.reserve(samples.len());
        }
        // series new to the cache first, so that the samples can then be
        // stored in the order scraped with every handle borrowed
        let mut created: HashMap<&[u8], CacheEntry> = HashMap::new();
        let mut app = self.db.appender();
        let mut series_added = 0;
        for (raw, pts, _, pos) in &samples {
            if pos.is_some() || created.contains_key(raw) {
                continue;
            }
            let h = match &new_labels[raw] {
                Some(labels) => {
                    let (h, new) = app.series_handle(labels)?;
                    if new {
                        series_added += 1;
                    }
                    Some(h)
                }
                None => None,
            };
            let e = CacheEntry {
                series: h,
                explicit_ts: pts.is_some(),
            };
            created.insert(raw, e);
        }
        // (series, timestamp, value) to store
        let mut batch = Vec::with_capacity(samples.len() + self.cache.len());
        let mut kept = hists.len() as u64;
        let mut starts = starts.into_iter().peekable();
        for (i, (raw, pts, v, pos)) in samples.iter().enumerate() {
            let entry = match pos {
                Some(p) => self.cache.entry(*p),
                None => &created[raw],
            };
            if !unchanged {
                entries.push(entry.clone());
            }
            let Some(series) = &entry.series else {
                continue;
            };
            kept += 1;
            let when = if t.honor_timestamps {
                pts.unwrap_or(ts)
            } else {
                ts
            };
            while starts.next_if(|s| s.0 < i).is_some() {}
            if let Some((_, st)) = starts.next_if(|s| s.0 == i) {
                // stored before the batch, so before this sample
                if st < when {
                    app.append_start_zero(series, st);
                }
            }
            batch.push((series, when, *v));
        }
        if t.limits.samples > 0 && kept > t.limits.samples {
            // nothing of this scrape is stored: the appender is dropped
            return Err("sample limit exceeded".into());
        }
        // series that were in the previous scrape but not in this one
        let stale = f64::from_bits(STALE_NAN_BITS);
        let track = t.track_timestamps_staleness;
        for e in self.cache.missing(&pass) {
            if let Some(h) = e.series.as_ref().filter(|_| track || !e.explicit_ts) {
                batch.push((h, ts, stale));
            }
        }
        for (i, e) in exemplars {
            let (raw, pts, _, pos) = &samples[i];
            let entry = match pos {
                Some(p) => self.cache.entry(*p),
                None => &created[raw],
            };
            let Some(series) = &entry.series else {
                continue;
            };
            let when = if t.honor_timestamps {
                pts.unwrap_or(ts)
            } else {
                ts
            };
            let labels = e
                .labels
                .into_iter()
                .map(|(name, value)| Label::new(name, value))
                .collect();
            app.append_exemplar_handle(
                series,
                tsdb::Exemplar {
                    labels: Labels::new(labels),
                    value: e.value,
                    ts: e.ts.unwrap_or(when),
                    has_ts: e.ts.is_some(),
                },
            );
        }
        // histogram series: this scrape's, and stale markers for the
        // last scrape's that are gone
        let mut now_hists = HashSet::with_capacity(hists.len());
        for (i, ex) in hist_exemplars {
            // exemplars belong to a series of the head: a histogram
            // series gets one (it holds no float samples)
            let (handle, _) = app.series_handle(&hists[i].0)?;
            for e in ex {
                let labels = e
                    .labels
                    .iter()
                    .map(|(name, value)| Label::new(name.as_str(), value.as_str()))
                    .collect();
                app.append_exemplar_handle(
                    &handle,
                    tsdb::Exemplar {
                        labels: Labels::new(labels),
                        value: e.value,
                        ts: e.ts.unwrap_or(hists[i].1),
                        has_ts: true,
                    },
                );
            }
        }
        let mut hist_starts = hist_starts.into_iter().peekable();
        for (i, (labels, when, h)) in hists.into_iter().enumerate() {
            if let Some((_, st)) = hist_starts.next_if(|s| s.0 == i) {
                if st < when {
                    app.append_histogram_start_zero(&labels, st, &h);
                }
            }
            app.append_histogram(&labels, when, h);
            now_hists.insert(labels);
        }
        for gone in self.hist_series.difference(&now_hists) {
            app.append_labels(gone, ts, stale)?;
        }
        let stats = app.commit_with(&batch)?;
        self.hist_series = now_hists;
        self.hist_labels = hist_labels;
        if stats.exemplars_out_of_order > 0 {
            EXEMPLARS_OUT_OF_ORDER.fetch_add(stats.exemplars_out_of_order, Ordering::Relaxed);
            tracing::warn!(component = "scrape manager", scrape_pool = %t.pool, target = %t.url, num_dropped = stats.exemplars_out_of_order, "Error on ingesting out-of-order exemplars");
        }
        drop(batch);
        if !unchanged {
            let order = samples.iter().map(|s| s.0).zip(entries).collect();
            self.cache.rebuild(order);
        }
        Ok(Scraped {
            samples_scraped: samples.len() as u64 + hists_scraped,
            samples_post_relabel: kept,
            series_added,
        })
    }

    fn mark_all_stale(&mut self, ts: i64) {
        if self.cache.is_empty() && self.hist_series.is_empty() {
            return;
        }
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut app = self.db.appender();
        for h in self.cache.entries().filter_map(|e| e.series.as_ref()) {
            app.append_handle(h, ts, stale);
        }
        for l in self.hist_series.drain() {
            let _ = app.append_labels(&l, ts, stale);
        }
        self.cache.clear();
        if let Err(e) = app.commit() {
            tracing::error!(err = %e, "Appending stale markers failed");
        }
    }

    /// Appends `up` and the `scrape_*` series.
    fn report(&mut self, ts: i64, duration: Duration, s: Option<&Scraped>) {
        // the head may have forgotten them while the target was silent
        if self
            .report_refs
            .is_some_and(|r| r.iter().any(|x| !self.db.has_series(*x)))
        {
            self.report_refs = None;
        }
        let mut app = self.db.appender();
        let refs = match self.report_refs {
            Some(r) => r,
            None => {
                let mut refs = [SeriesRef(0); 5];
                for (i, name) in REPORT_METRICS.iter().enumerate() {
                    let labels = self.target.labels.with(tsdb::labels::METRIC_NAME, name);
                    match app.series(&labels) {
                        Ok((r, _)) => refs[i] = r,
                        Err(e) => {
                            tracing::error!(err = %e, "Creating report series failed");
                            return;
                        }
                    }
                }
                self.report_refs = Some(refs);
                refs
            }
        };
        let values = [
            if s.is_some() { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            s.map_or(0.0, |s| s.samples_scraped as f64),
            s.map_or(0.0, |s| s.samples_post_relabel as f64),
            s.map_or(0.0, |s| s.series_added as f64),
        ];
        for (r, v) in refs.iter().zip(values) {
            let _ = app.append(*r, ts, v);
        }
        if let Err(e) = app.commit() {
            tracing::error!(err = %e, "Appending scrape report failed");
        }
    }
}

/// Applies `f` to the metadata of family `name`, creating it if new.
fn update_metadata(t: &Target, name: &[u8], f: impl FnOnce(&mut Metadata)) {
    let Ok(name) = std::str::from_utf8(name) else {
        return;
    };
    let mut md = t.metadata.lock();
    match md.get_mut(name) {
        Some(m) => f(m),
        None => {
            let mut m = Metadata {
                kind: "unknown",
                help: String::new(),
                unit: String::new(),
            };
            f(&mut m);
            md.insert(name.to_string(), m);
        }
    }
}

const REPORT_METRICS: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Prometheus's label limit checks, with its messages.
/// A scraped series' labels as stored: the target's joined
/// (`honor_labels`), then `metric_relabel_configs` (`None`: dropped, also
/// when relabeling leaves no name or an empty label name), the label
/// limits checked.
fn stored_labels(
    parsed: &[(String, String)],
    t: &Target,
) -> Result<Option<Labels>, LabelLimitError> {
    let labels = target_labels(parsed, &t.labels, t.honor_labels);
    let labels = if t.metric_relabel.is_empty() {
        Some(labels)
    } else {
        relabel::relabel(&labels, &t.metric_relabel).filter(|l| {
            l.metric_name().is_some_and(|n| !n.is_empty()) && l.iter().all(|x| !x.name.is_empty())
        })
    };
    if let Some(l) = &labels {
        check_label_limits(l, &t.limits)?;
    }
    Ok(labels)
}

fn check_label_limits(l: &Labels, limits: &crate::config::Limits) -> Result<(), LabelLimitError> {
    let met: String = l.metric_name().unwrap_or("").chars().take(50).collect();
    if limits.labels > 0 && l.len() as u64 > limits.labels {
        return Err(LabelLimitError::Count {
            metric: met,
            count: l.len(),
            limit: limits.labels,
        });
    }
    for x in l {
        let short = |s: &str| s.chars().take(50).collect::<String>();
        if limits.label_name_length > 0 && x.name.len() as u64 > limits.label_name_length {
            return Err(LabelLimitError::NameLength {
                metric: met,
                name: short(&x.name),
                length: x.name.len(),
                limit: limits.label_name_length,
            });
        }
        if limits.label_value_length > 0 && x.value.len() as u64 > limits.label_value_length {
            return Err(LabelLimitError::ValueLength {
                metric: met,
                name: short(&x.name),
                value: short(&x.value),
                length: x.value.len(),
                limit: limits.label_value_length,
            });
        }
    }
    Ok(())
}

/// Merges exposed labels with the target's labels. Without honor_labels,
/// an exposed label that clashes with a target label is kept as
/// `exported_<name>`; with it, the exposed label wins.
pub(crate) fn target_labels(exposed: &[(String, String)], target: &Labels, honor: bool) -> Labels {
    let mut out: Vec<Label> = exposed
        .iter()
        .map(|(n, v)| Label::new(n.as_str(), v.as_str()))
        .collect();
    for tl in target {
        let clash = out
            .iter()
            .position(|l| l.name == tl.name && !l.value.is_empty());
        match clash {
            Some(_) if honor => {}
            Some(i) => {
                let mut name = format!("exported_{}", tl.name);
                while out.iter().any(|l| l.name == name) {
                    name = format!("exported_{name}");
                }
                out[i].name = name.into();
                out.push(tl.clone());
            }
            None => {
                out.retain(|l| l.name != tl.name);
                out.push(tl.clone());
            }
        }
    }
    Labels::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn honor_labels_and_exported() {
        let target = Labels::from_pairs(&[("job", "sample"), ("instance", "h:1")]);
        let exposed = pairs(&[("__name__", "m"), ("job", "pushed"), ("a", "b")]);
        let l = target_labels(&exposed, &target, false);
        assert_eq!(l.get("job"), Some("sample"));
        assert_eq!(l.get("exported_job"), Some("pushed"));
        assert_eq!(l.get("instance"), Some("h:1"));
        let l = target_labels(&exposed, &target, true);
        assert_eq!(l.get("job"), Some("pushed"));
        assert_eq!(l.get("exported_job"), None);
        assert_eq!(l.get("instance"), Some("h:1"));
        // an empty exposed value does not clash
        let l = target_labels(&pairs(&[("__name__", "m"), ("job", "")]), &target, false);
        assert_eq!(l.get("job"), Some("sample"));
        assert_eq!(l.get("exported_job"), None);
    }

    #[test]
    fn late_scrapes_within_tolerance_take_their_slot() {
        const MS: i128 = 1_000_000;
        let start = 1_700_000_000_000 * MS;
        let mut s = Schedule::new(
            start,
            Duration::from_secs(15),
            Some(Duration::from_millis(2)),
        );
        assert_eq!(s.stamp(start + MS / 2), start);
        assert_eq!(s.stamp(start + 15_000 * MS + 2 * MS), start + 15_000 * MS);
        // too late: its own time, and the next on-time scrape is aligned again
        assert_eq!(s.stamp(start + 30_000 * MS + 3 * MS), start + 30_003 * MS);
        assert_eq!(s.stamp(start + 45_000 * MS + MS), start + 45_000 * MS);
        // two skipped ticks
        assert_eq!(s.stamp(start + 90_000 * MS + MS), start + 90_000 * MS);
        // the clock went back a minute: stamped as it is, then aligned from there
        let back = start + 30_000 * MS + 7;
        assert_eq!(s.stamp(back), back);
        assert_eq!(s.stamp(back + 15_000 * MS + MS), back + 15_000 * MS);
    }

    #[test]
    fn tolerance_is_at_most_a_hundredth_of_the_interval() {
        const MS: i128 = 1_000_000;
        // 100 ms interval: 1 ms tolerance, not 2
        let mut s = Schedule::new(
            0,
            Duration::from_millis(100),
            Some(Duration::from_millis(2)),
        );
        assert_eq!(s.stamp(100 * MS + MS), 100 * MS);
        assert_eq!(s.stamp(200 * MS + MS + 1), 200 * MS + MS + 1);
        // off
        let mut s = Schedule::new(0, Duration::from_secs(1), None);
        assert_eq!(s.stamp(1_000 * MS + 1), 1_000 * MS + 1);
    }
}

/// A native histogram within the job's limits: merged down to the highest
/// schema allowed (`native_histogram_min_bucket_factor`), then while it has
/// more buckets than `limit` (0: none) merged further; an error failing
/// the scrape when it cannot be merged enough (custom bounds, or schema
/// -4 reached), as Prometheus's.
fn limit_buckets(
    mut h: FloatHistogram,
    limit: u64,
    max_schema: i32,
) -> Result<FloatHistogram, StoreError> {
    if !h.uses_custom_buckets() && h.schema > max_schema {
        h.reduce_resolution(max_schema);
    }
    if limit == 0 {
        return Ok(h);
    }
    let n = |h: &FloatHistogram| (h.positive.len() + h.negative.len()) as u64;
    while n(&h) > limit {
        if h.uses_custom_buckets() || h.schema <= -4 {
            return Err(StoreError::BucketLimit);
        }
        let to = h.schema - 1;
        h.reduce_resolution(to);
    }
    Ok(h)
}

/// Classic histograms of a text body collected to become histograms with
/// custom bounds: labels (without `le`, with the family's name), the
/// first timestamp, the buckets, count and sum, whether a gauge histogram.
#[derive(Default)]
struct Nhcb {
    found: Vec<(LabelPairs, Option<i64>, ClassicHistogram, bool)>,
    index: HashMap<Vec<(String, String)>, usize>,
}

impl Nhcb {
    /// Adds a series of the classic histogram family `family` (labels as
    /// parsed, `__name__` included); false when it is not one of the
    /// family's `_bucket` (with an `le`), `_count` or `_sum` series.
    fn collect(
        &mut self,
        family: &str,
        gauge: bool,
        labels: &[(String, String)],
        pts: Option<i64>,
        v: f64,
    ) -> bool {
        let Some(name) = labels
            .iter()
            .find(|l| l.0 == "__name__")
            .map(|l| l.1.as_str())
        else {
            return false;
        };
        let Some(suffix) = name.strip_prefix(family) else {
            return false;
        };
        let le = match suffix {
            "_bucket" => {
                let le = labels.iter().find(|l| l.0 == "le");
                match le.and_then(|l| gotemplate::value::parse_go_float(&l.1)) {
                    Some(le) => Some(le),
                    None => return false,
                }
            }
            "_count" | "_sum" => None,
            _ => return false,
        };
        let mut key: Vec<(String, String)> = labels
            .iter()
            .filter(|l| l.0 != "__name__" && l.0 != "le")
            .cloned()
            .collect();
        key.sort();
        key.insert(0, ("__name__".to_string(), family.to_string()));
        let i = match self.index.get(&key) {
            Some(i) => *i,
            None => {
                self.found
                    .push((key.clone(), pts, ClassicHistogram::default(), gauge));
                self.index.insert(key, self.found.len() - 1);
                self.found.len() - 1
            }
        };
        let c = &mut self.found[i].2;
        match (suffix, le) {
            ("_bucket", Some(le)) => c.set_bucket(le, v),
            ("_count", _) => c.set_count(v),
            _ => c.set_sum(v),
        }
        true
    }
}
