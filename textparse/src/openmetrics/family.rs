//! The OpenMetrics semantics the parser checks beyond the syntax: metric
//! families (their names, types and sample names), metrics (label sets,
//! not interleaved, timestamps in order) and histogram points. The state
//! they keep (`Family`, `Groups`, `Point`) is declared with the
//! parser.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::super::lex::{go_quote, parse_value};
use super::super::{MetricType, ParseError};
use super::{Family, OpenMetricsParser, Point};

/// The sample name suffixes of a family of type `t`.
fn suffixes(t: MetricType) -> &'static [&'static [u8]] {
    match t {
        MetricType::Counter => &[b"_total", b"_created"],
        MetricType::Summary => &[b"", b"_count", b"_sum", b"_created"],
        MetricType::Histogram => &[b"_count", b"_sum", b"_bucket", b"_created"],
        MetricType::GaugeHistogram => &[b"_gcount", b"_gsum", b"_bucket"],
        MetricType::Info => &[b"_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[b""],
    }
}

fn hash_key(key: &[(&[u8], &[u8])]) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl<'a> OpenMetricsParser<'a> {
    pub(super) fn start_family(&mut self, name: &'a [u8]) {
        self.family = Family {
            active: true,
            name,
            line: self.line,
            ..Family::default()
        };
        self.groups.clear();
        self.point = Point::default();
    }

    /// Ends the current family: reserves its names if no sample did, checks
    /// its last histogram point.
    pub(super) fn end_family(&mut self) -> Result<(), ParseError> {
        if !self.family.active || self.syntax_only {
            return Ok(());
        }
        if !self.family.registered {
            self.register(self.family.line)?;
        }
        self.finish_point()?;
        self.family = Family::default();
        self.groups.clear();
        Ok(())
    }

    /// Reserves the family's name and sample names; they must not have been
    /// used by an earlier family.
    pub(super) fn register(&mut self, line: usize) -> Result<(), ParseError> {
        self.family.registered = true;
        let name = self.family.name;
        let t = self.family.mtype.unwrap_or(MetricType::Unknown);
        let extra = suffixes(t).iter().filter(|s| !s.is_empty());
        for suffix in std::iter::once(&&b""[..]).chain(extra) {
            let mut full = Vec::with_capacity(name.len() + suffix.len());
            full.extend_from_slice(name);
            full.extend_from_slice(suffix);
            if self.names.contains(&full) {
                return Err(self.err_at(
                    line,
                    format!(
                        "metric family {} clashes with an earlier metric family on name {} \
                         (families must not repeat or be interleaved)",
                        go_quote(name),
                        go_quote(&full)
                    ),
                ));
            }
            self.names.insert(full);
        }
        Ok(())
    }

    /// Checks the histogram point that just ended.
    pub(super) fn finish_point(&mut self) -> Result<(), ParseError> {
        let p = std::mem::take(&mut self.point);
        if !p.active {
            return Ok(());
        }
        let name = go_quote(self.family.name);
        let gauge = self.family.mtype == Some(MetricType::GaugeHistogram);
        let (kind, count, sum) = if gauge {
            ("gauge histogram", "_gcount", "_gsum")
        } else {
            ("histogram", "_count", "_sum")
        };
        let msg = if p.last_le != Some(f64::INFINITY) {
            format!("{kind} {name} has no +Inf bucket")
        } else if let Some(c) = p.count.filter(|&c| c != p.last_bucket) {
            format!(
                "{kind} {name}: {count} {c} does not match the +Inf bucket {}",
                p.last_bucket
            )
        } else if (p.has_sum || p.has_gsum) && p.count.is_none() {
            format!("{kind} {name} has {sum} but no {count}")
        } else if !(p.has_sum || p.has_gsum) && p.count.is_some() {
            format!("{kind} {name} has {count} but no {sum}")
        } else if p.negative_bucket && p.has_sum {
            format!("{kind} {name} has negative buckets and must not have _sum")
        } else if !p.negative_bucket && p.negative_gsum {
            format!("{kind} {name} has a negative _gsum but no negative bucket")
        } else {
            return Ok(());
        };
        Err(self.err_at(p.line, msg))
    }

    /// Family membership and the semantic checks of the current sample.
    pub(super) fn check_sample(&mut self) -> Result<(), ParseError> {
        if self.syntax_only {
            return Ok(());
        }
        let name = self.name;
        let in_family = self.family.active
            && name.starts_with(self.family.name)
            && suffixes(self.family.mtype.unwrap_or(MetricType::Unknown))
                .contains(&&name[self.family.name.len()..]);
        if !in_family {
            self.end_family()?;
            self.start_family(name);
        }
        if !self.family.registered {
            self.register(self.line)?;
        }
        self.family.has_samples = true;
        let family = self.family.name;
        let t = self.family.mtype.unwrap_or(MetricType::Unknown);
        let suffix = name.get(family.len()..).unwrap_or(&[]);
        let histogram = matches!(t, MetricType::Histogram | MetricType::GaugeHistogram);
        let bucket = histogram && suffix == b"_bucket";
        self.sample_type = t;
        let v = self.value;
        let label = |n: &[u8]| self.labels.iter().find(|(l, _)| *l == n).map(|&(_, v)| v);

        // Type-specific labels and values.
        let mut le = 0.0;
        match t {
            MetricType::StateSet => {
                if label(family).is_none() {
                    return Err(self.err(format!(
                        "state set sample must have a label named {}",
                        go_quote(family)
                    )));
                }
                if v != 0.0 && v != 1.0 {
                    return Err(self.err(format!("state set value must be 0 or 1, got {v}")));
                }
            }
            MetricType::Info if v != 1.0 => {
                return Err(self.err(format!("info value must be 1, got {v}")));
            }
            _ if bucket => {
                let raw = label(b"le");
                le = match raw.map(parse_value) {
                    Some(Ok(b)) if !b.is_nan() && (b != f64::INFINITY || raw == Some(b"+Inf")) => b,
                    _ => {
                        return Err(self.err(format!(
                            "invalid le label {} on histogram bucket",
                            go_quote(raw.unwrap_or(b"<missing>"))
                        )))
                    }
                };
            }
            MetricType::Summary if suffix.is_empty() => {
                let raw = label(b"quantile");
                if !matches!(raw.map(parse_value), Some(Ok(q)) if (0.0..=1.0).contains(&q)) {
                    return Err(self.err(format!(
                        "invalid quantile label {} on summary",
                        go_quote(raw.unwrap_or(b"<missing>"))
                    )));
                }
                if v < 0.0 {
                    return Err(self.err(format!("quantile value must not be negative, got {v}")));
                }
            }
            _ => {}
        }
        let counter_like = matches!(
            suffix,
            b"_total" | b"_sum" | b"_count" | b"_bucket" | b"_gcount" | b"_gsum"
        ) && t != MetricType::Unknown;
        if counter_like && v.is_nan() {
            return Err(self.err(format!(
                "{} value must not be NaN",
                String::from_utf8_lossy(suffix)
            )));
        }
        if counter_like && suffix != b"_gsum" && v < 0.0 {
            return Err(self.err(format!(
                "{} value must not be negative, got {v}",
                String::from_utf8_lossy(suffix)
            )));
        }
        if self.has_exemplar && !(bucket || (t == MetricType::Counter && suffix == b"_total")) {
            return Err(self.err(
                "exemplars are only allowed on counter _total and histogram _bucket samples",
            ));
        }

        // Metrics must not be interleaved; timestamps within one must be
        // consistent and not go backwards.
        let excluded: Option<&[u8]> = match t {
            _ if bucket => Some(b"le"),
            MetricType::Summary if suffix.is_empty() => Some(b"quantile"),
            MetricType::StateSet => Some(family),
            _ => None,
        };
        self.key.clear();
        if t != MetricType::Info {
            self.key.extend(
                self.labels
                    .iter()
                    .filter(|(n, _)| Some(*n) != excluded)
                    .copied(),
            );
            self.key.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        let ts = self.ts_secs;
        let same = self
            .family
            .group
            .is_some_and(|g| self.groups.get(g) == &self.key[..]);
        if same {
            if ts.is_some() != self.family.group_ts.is_some() {
                return Err(self.err("mix of samples with and without timestamp within a metric"));
            }
            if let (Some(prev), Some(now)) = (self.family.group_ts, ts) {
                if now < prev && t != MetricType::Info {
                    return Err(self.err(format!(
                        "timestamp {now} is before {prev}: timestamps must not go backwards \
                         within a metric"
                    )));
                }
            }
        } else {
            let h = hash_key(&self.key);
            if self.groups.contains(&self.key, h) {
                return Err(self.err(format!(
                    "invalid metric grouping: samples of {} are interleaved with another metric \
                     of family {}",
                    go_quote(self.series),
                    go_quote(family)
                )));
            }
            self.family.group = Some(self.groups.insert(&self.key, h));
        }
        self.family.group_ts = ts;

        if !histogram {
            return Ok(());
        }
        if !same || !self.point.active || self.point.ts != ts {
            self.finish_point()?;
            self.point = Point {
                active: true,
                line: self.line,
                ts,
                ..Point::default()
            };
        }
        let p = &mut self.point;
        match suffix {
            b"_bucket" => {
                if le < 0.0 {
                    p.negative_bucket = true;
                }
                if let Some(prev) = p.last_le.filter(|&prev| le <= prev) {
                    return Err(self.err(format!(
                        "histogram buckets out of order: le {le} after {prev}"
                    )));
                }
                let last = p.last_bucket;
                if v < last {
                    return Err(self.err(format!(
                        "histogram bucket counts must not decrease: {v} after {last}"
                    )));
                }
                p.last_le = Some(le);
                p.last_bucket = v;
            }
            b"_count" | b"_gcount" => p.count = Some(v),
            b"_sum" => p.has_sum = true,
            b"_gsum" => {
                p.has_gsum = true;
                p.negative_gsum |= v < 0.0;
            }
            _ => {}
        }
        Ok(())
    }
}
