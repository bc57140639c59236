//! `flint tsdb create-blocks-from rules`: evaluates recording rules over a
//! past time range by range queries against a running server's API (flint
//! or Prometheus) and writes the results as blocks, as promtool does: each
//! rule's query steps at its group's interval, on the group's evaluation
//! slots, in windows of the block duration; the series are named by the
//! rule and carry its labels. Native histogram results are written as
//! native histograms (see [`super::rule_histograms`]); promtool (3.14)
//! writes the float samples of a result only and drops its histograms.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use tsdb::histogram::{CounterResetHint, FloatHistogram};
use tsdb::labels::Labels;

use super::rule_histograms::{self, JsonHistogram};

use super::error::{ImportError, RuleImportError};
use crate::rules::file::parse_file;
use crate::rules::group::Group;

/// Runs the command with its arguments after `rules`; `max_block_ms` is
/// `--max-block-duration` (0 when not given). Returns the message of a
/// failure.
pub fn run(
    args: &[String],
    max_block_ms: i64,
    human: bool,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), ImportError> {
    let mut url = "http://localhost:9090".to_string();
    let (mut start, mut end) = (None, None);
    let mut output = PathBuf::from("data/");
    let mut interval = Duration::from_secs(60);
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.strip_prefix("--") {
            Some(f) => match f.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (f.to_string(), None),
            },
            None => {
                files.push(a.clone());
                continue;
            }
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| ImportError::MissingValue(name.clone()))
        };
        match name.as_str() {
            "url" => url = value()?,
            "start" => start = Some(value()?),
            "end" => end = Some(value()?),
            "output-dir" => output = PathBuf::from(value()?),
            "eval-interval" => {
                interval = crate::flags::parse::go_duration(&value()?)
                    .map_err(ImportError::EvalInterval)?
            }
            "http.config.file" => return Err(ImportError::HttpConfig),
            _ => return Err(ImportError::UnknownFlag(name)),
        }
    }
    let Some(start) = start else {
        return Err(ImportError::NoStart);
    };
    if files.is_empty() {
        return Err(ImportError::NoRuleFiles);
    }
    let end_ms = match end {
        None => crate::rules::group::now_ns() / 1_000_000 - 3 * 3600 * 1000,
        Some(e) => crate::api::params::parse_time(&e).ok_or(ImportError::End(e))?,
    };
    let start_ms =
        crate::api::params::parse_time(&start).ok_or_else(|| ImportError::Start(start.clone()))?;
    if start_ms >= end_ms {
        return Err(ImportError::Range);
    }
    let mut groups = Vec::new();
    for f in &files {
        let defs = parse_file(std::path::Path::new(f)).map_err(ImportError::Parse)?;
        for d in defs {
            let iv = d.interval.unwrap_or(interval);
            groups.push(Group::new(d, iv, false));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ImportError::Runtime)?;
    let client = reqwest::Client::new();
    let block = super::backfill::block_duration(max_block_ms);
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut histograms: BTreeMap<Labels, HistogramSeries> = BTreeMap::new();
    let mut errors = Vec::new();
    for g in &groups {
        for r in g.def.rules.iter().filter(|r| !r.alerting) {
            if let Err(e) = rt.block_on(import_rule(
                &client,
                &url,
                g,
                &r.expr,
                &r.name,
                &r.labels,
                start_ms,
                end_ms,
                block,
                &mut series,
                &mut histograms,
            )) {
                errors.push(e);
            }
        }
    }
    for e in &errors {
        eprintln!("rule importer error: {e}");
    }
    if !errors.is_empty() {
        return Err(ImportError::Rules);
    }
    for s in series.values_mut() {
        s.sort_by_key(|x| x.0);
        s.dedup_by_key(|x| x.0);
    }
    let histograms: BTreeMap<Labels, Vec<(i64, FloatHistogram)>> = histograms
        .into_iter()
        .map(|(l, (hint, mut s))| {
            s.sort_by_key(|x| x.0);
            s.dedup_by_key(|x| x.0);
            (l, rule_histograms::rebuild(&s, hint))
        })
        .collect();
    super::backfill::write_backfill(&output, series, histograms, block, human, quiet, out)
        .map_err(|e| ImportError::Write(e.message()))
}

/// A series' histograms as the API answered them, with the hint its
/// rule's expression gives them.
type HistogramSeries = (CounterResetHint, Vec<(i64, JsonHistogram)>);

/// One rule over `[start_ms, end_ms]`, window by window.
#[allow(clippy::too_many_arguments)]
async fn import_rule(
    client: &reqwest::Client,
    url: &str,
    g: &Group,
    expr: &str,
    name: &str,
    rule_labels: &Labels,
    start_ms: i64,
    end_ms: i64,
    block: i64,
    series: &mut BTreeMap<Labels, Vec<(i64, f64)>>,
    histograms: &mut BTreeMap<Labels, HistogramSeries>,
) -> Result<(), RuleImportError> {
    let hint = if rule_histograms::gauge_result(expr) {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    let step_s = g.interval.as_secs_f64();
    let iv_ns = g.interval.as_nanos() as i64;
    for (first_ms, hi) in windows(start_ms, end_ms, block, iv_ns, |t| g.eval_timestamp(t)) {
        let form = [
            ("query", expr.to_string()),
            ("start", common::rfc3339::format_millis(first_ms)),
            ("end", common::rfc3339::format_millis(hi)),
            ("step", format!("{step_s}")),
        ];
        let api = format!("{}/api/v1/query_range", url.trim_end_matches('/'));
        let resp = client
            .post(&api)
            .form(&form)
            .send()
            .await
            .map_err(RuleImportError::Request)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(RuleImportError::Request)?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| RuleImportError::Json { status, err })?;
        if v["status"] != "success" {
            return Err(RuleImportError::Query {
                kind: v["errorType"].as_str().unwrap_or("error").to_string(),
                message: v["error"].as_str().unwrap_or("").to_string(),
            });
        }
        let data = &v["data"];
        if data["resultType"] != "matrix" {
            return Err(RuleImportError::ResultType(
                data["resultType"].as_str().unwrap_or("").to_string(),
            ));
        }
        for s in data["result"].as_array().into_iter().flatten() {
            let mut pairs: Vec<(String, String)> = s["metric"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            for l in rule_labels.iter() {
                set(&mut pairs, &l.name, &l.value);
            }
            set(&mut pairs, "__name__", name);
            let labels = Labels::from_pairs(&pairs);
            if let Some(values) = s["values"].as_array() {
                let entry = series.entry(labels.clone()).or_default();
                for p in values {
                    let t = p[0].as_f64().unwrap_or(0.0);
                    let val = rule_histograms::parse_float(&p[1]).unwrap_or(f64::NAN);
                    entry.push(((t * 1000.0).round() as i64, val));
                }
            }
            if let Some(points) = s["histograms"].as_array() {
                let entry = &mut histograms.entry(labels).or_insert((hint, Vec::new())).1;
                for p in points {
                    let t = p[0].as_f64().unwrap_or(0.0);
                    let h = rule_histograms::parse(&p[1]).map_err(RuleImportError::Histogram)?;
                    entry.push(((t * 1000.0).round() as i64, h));
                }
            }
        }
    }
    Ok(())
}

/// The query windows of a rule over `[start_ms, end_ms]`, one a block
/// holding an evaluation: its first evaluation's and its last
/// millisecond. A window is the block's, within the range's whole seconds,
/// and runs to the block's last millisecond, so that an evaluation within
/// its last second is taken in it (promtool ends the window at the last
/// whole second and so skips such an evaluation, one per block boundary,
/// when the group's offset in its interval has a fraction of a second).
/// `eval_timestamp` gives the group's last evaluation at or before a time
/// in nanoseconds; the server takes a time to the nearest millisecond, so
/// an evaluation belongs to the block of its millisecond, and the later
/// ones in a window are whole intervals (whole milliseconds) on.
fn windows(
    start_ms: i64,
    end_ms: i64,
    block: i64,
    iv_ns: i64,
    eval_timestamp: impl Fn(i64) -> i64,
) -> Vec<(i64, i64)> {
    let (start_s, end_s) = (start_ms.div_euclid(1000), end_ms.div_euclid(1000));
    let ms = |ns: i64| (ns + 500_000).div_euclid(1_000_000);
    let mut out = Vec::new();
    let mut block_start = block * start_ms.div_euclid(block);
    while block_start <= end_ms {
        let lo = block_start.max(start_s * 1000);
        let hi = (block_start + block - 1).min(end_s * 1000);
        let mut aligned = eval_timestamp(lo * 1_000_000);
        while ms(aligned) < lo {
            aligned += iv_ns;
        }
        // none in what the range holds of this block: on to the next
        // (promtool stops there, importing nothing more when the range
        // starts in a block's last interval)
        let first = ms(aligned);
        if first <= hi {
            out.push((first, hi));
        }
        block_start += block;
    }
    out
}

fn set(pairs: &mut Vec<(String, String)>, n: &str, v: &str) {
    match pairs.iter_mut().find(|p| p.0 == n) {
        Some(p) => p.1 = v.to_string(),
        None => pairs.push((n.to_string(), v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::windows;

    /// The windows of a group evaluated every second at `offset_ns` in it,
    /// over 10 s either side of a 2 h block boundary: every evaluation's
    /// millisecond, window by window.
    fn evaluations(offset_ns: i64) -> Vec<i64> {
        let (iv, block, boundary) = (1_000_000_000i64, 7_200_000i64, 1_796_565_600_000i64);
        let eval = |t: i64| t - (t - offset_ns).rem_euclid(iv);
        let ws = windows(boundary - 10_000, boundary + 10_000, block, iv, eval);
        assert_eq!(ws.len(), 2, "{ws:?}");
        ws.iter()
            .flat_map(|&(first, hi)| (first..=hi).step_by(1000))
            .collect()
    }

    #[test]
    fn every_evaluation_falls_in_one_window() {
        // whole seconds; a fraction; a fraction rounding up to the next
        // second; the last millisecond of each second
        for (offset, first) in [
            (0, 1_796_565_590_000),
            (250_300_000, 1_796_565_590_250),
            (999_600_000, 1_796_565_590_000),
            (999_000_000, 1_796_565_590_999),
        ] {
            let ts = evaluations(offset);
            assert_eq!(ts[0], first, "offset {offset}");
            assert!(
                ts.windows(2).all(|w| w[1] - w[0] == 1000),
                "offset {offset}: {ts:?}"
            );
            // to the range's end, the evaluations of 20 or 21 seconds
            assert!(*ts.last().unwrap() <= 1_796_565_610_000, "offset {offset}");
            assert!(
                ts.last().unwrap() + 1000 > 1_796_565_610_000,
                "offset {offset}"
            );
        }
    }
}
