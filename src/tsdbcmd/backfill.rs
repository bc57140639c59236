//! `flint tsdb create-blocks-from`: blocks written from samples, those of
//! an OpenMetrics file or of recording rules evaluated by a running
//! server ([`super::rules`]), as promtool writes them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use tsdb::histogram::FloatHistogram;
use tsdb::labels::Labels;
use tsdb::tools::ReadOnly;

use super::{labels_string, print_blocks, rules, usage, Args, Failure, BLOCK_MS, DEFAULT_DB};

/// The block length promtool uses for `--max-block-duration`: 2 h, or the
/// largest of 2 h × 3ⁿ (n < 10) not above it.
pub(super) fn block_duration(max_ms: i64) -> i64 {
    if max_ms <= BLOCK_MS {
        return BLOCK_MS;
    }
    let ranges: Vec<i64> = (0..10).map(|i| BLOCK_MS * 3i64.pow(i)).collect();
    let mut idx = ranges.len() - 1;
    for (i, &r) in ranges.iter().enumerate() {
        if r > max_ms {
            idx = i - 1;
            break;
        }
    }
    ranges[idx]
}

pub(super) fn create_blocks_from(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    // the flags of `create-blocks-from` come before the source's name
    let at = args
        .iter()
        .position(|a| a == "openmetrics" || a == "rules")
        .ok_or_else(|| usage("expected command but got none"))?;
    let common = Args::parse(
        &args[..at],
        &[
            ("human-readable", false, Some('r')),
            ("quiet", false, Some('q')),
            ("max-block-duration", true, None),
        ],
    )
    .map_err(usage)?;
    let max_block = match common.get("max-block-duration") {
        None => 0,
        Some(d) => crate::flags::parse::go_duration(d)
            .map_err(usage)?
            .as_millis() as i64,
    };
    let human = common.on("human-readable");
    let quiet = common.on("quiet");
    match args[at].as_str() {
        "openmetrics" => {
            let a = Args::parse(&args[at + 1..], &[("label", true, None)]).map_err(usage)?;
            let Some(input) = a.pos(0) else {
                return Err(usage("required argument 'input file' not provided"));
            };
            let mut extra = Vec::new();
            for l in a.all("label") {
                let Some((n, v)) = l.split_once('=') else {
                    return Err(usage(format!("expected KEY=VALUE got '{l}'")));
                };
                extra.push((n.to_string(), v.to_string()));
            }
            let dir = PathBuf::from(a.pos(1).unwrap_or(DEFAULT_DB));
            let body = std::fs::read(input).map_err(|e| Failure::Run(format!("{input}: {e}")))?;
            let samples = parse_openmetrics(&body, &extra)?;
            // (OpenMetrics 1.0 text has no native histograms)
            let duration = block_duration(max_block);
            write_backfill(&dir, samples, BTreeMap::new(), duration, human, quiet, out)
        }
        // promtool prints no table for rules
        _ => rules::run(&args[at + 1..], max_block, human, true, out)
            .map_err(|e| Failure::Run(e.to_string())),
    }
}

/// Every sample of an OpenMetrics body by series, with `extra` labels
/// set; a sample without a timestamp is an error, as in promtool.
fn parse_openmetrics(
    body: &[u8],
    extra: &[(String, String)],
) -> Result<BTreeMap<Labels, Vec<(i64, f64)>>, Failure> {
    let mut p = textparse::Parser::OpenMetrics(textparse::OpenMetricsParser::syntax_only(body));
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut pairs = Vec::new();
    loop {
        match p.next() {
            Ok(None) => break,
            Ok(Some(textparse::Entry::Series)) => {}
            Ok(Some(_)) => continue,
            Err(e) => {
                return Err(Failure::Run(format!(
                    "getting min and max timestamp: next: {}",
                    e.msg
                )))
            }
        }
        pairs.clear();
        p.labels(&mut pairs);
        for (n, v) in extra {
            match pairs.iter_mut().find(|p| &p.0 == n) {
                Some(p) => p.1 = v.clone(),
                None => pairs.push((n.clone(), v.clone())),
            }
        }
        let labels = Labels::from_pairs(&pairs);
        let (_, ts, v) = p.series();
        let Some(ts) = ts else {
            return Err(Failure::Run(format!(
                "getting min and max timestamp: expected timestamp for series {}, got none",
                labels_string(&labels, ", ")
            )));
        };
        series.entry(labels).or_default().push((ts, v));
    }
    for s in series.values_mut() {
        // input order within a series is kept; later duplicates win
        s.sort_by_key(|x| x.0);
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(s.len());
        for &x in s.iter() {
            match out.last_mut() {
                Some(l) if l.0 == x.0 => *l = x,
                _ => out.push(x),
            }
        }
        *s = out;
    }
    Ok(series)
}

/// Writes `series` (float samples) and `histograms` (native histogram
/// samples) as flint blocks of `duration` (aligned to it) into `dir`,
/// refusing what would overlap the data already there, and prints each
/// block as `tsdb list` does unless `quiet`.
pub(super) fn write_backfill(
    dir: &Path,
    series: BTreeMap<Labels, Vec<(i64, f64)>>,
    histograms: BTreeMap<Labels, Vec<(i64, FloatHistogram)>>,
    duration: i64,
    human: bool,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let firsts = series
        .values()
        .filter_map(|s| s.first().map(|x| x.0))
        .chain(histograms.values().filter_map(|s| s.first().map(|x| x.0)));
    let lasts = series
        .values()
        .filter_map(|s| s.last().map(|x| x.0))
        .chain(histograms.values().filter_map(|s| s.last().map(|x| x.0)));
    let (Some(mint), Some(maxt)) = (firsts.min(), lasts.max()) else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| Failure::Run(format!("create output dir: {e}")))?;
    check_no_overlap(dir, mint, maxt)?;
    let mut wrote_header = false;
    let mut t = duration * mint.div_euclid(duration);
    while t <= maxt {
        let upper = t + duration;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let part = in_range(&series, t, upper, &mut lo, &mut hi);
        let hist_part = in_range(&histograms, t, upper, &mut lo, &mut hi);
        if !part.is_empty() || !hist_part.is_empty() {
            let info = tsdb::tools::write_block_with_histograms(dir, lo, hi + 1, part, hist_part)
                .map_err(|e| Failure::Run(format!("block creation: process blocks: {e}")))?;
            if !quiet {
                print_blocks(out, &[info], !wrote_header, human)?;
                wrote_header = true;
            }
        }
        t = upper;
    }
    Ok(())
}

/// The samples of `series` in `[from, to)`, by series; `lo` and `hi` take
/// in their first and last timestamps.
fn in_range<T: Clone>(
    series: &BTreeMap<Labels, Vec<(i64, T)>>,
    from: i64,
    to: i64,
    lo: &mut i64,
    hi: &mut i64,
) -> Vec<(Labels, Vec<(i64, T)>)> {
    let mut part = Vec::new();
    for (labels, samples) in series {
        let a = samples.partition_point(|x| x.0 < from);
        let b = samples.partition_point(|x| x.0 < to);
        if a < b {
            *lo = (*lo).min(samples[a].0);
            *hi = (*hi).max(samples[b - 1].0);
            part.push((labels.clone(), samples[a..b].to_vec()));
        }
    }
    part
}

/// A flint data folder cannot hold overlapping blocks, and a block newer
/// than the head's oldest sample would hide the head's older samples:
/// refuses both, naming what is in the way.
fn check_no_overlap(dir: &Path, mint: i64, maxt: i64) -> Result<(), Failure> {
    let blocks = tsdb::tools::list_blocks(dir)?;
    if let Some(b) = blocks
        .iter()
        .find(|b| b.min_time <= maxt && mint < b.max_time)
    {
        return Err(Failure::Run(format!(
            "block creation: samples from {mint} to {maxt} overlap block {} ({} to {}) in {}; \
             flint does not merge overlapping blocks: write them to an empty folder or leave that range out",
            b.id,
            b.min_time,
            b.max_time,
            dir.display()
        )));
    }
    if dir.join("series").exists() {
        let ro = ReadOnly::open(dir, None)?;
        if let (_, Some((hmin, _))) = ro.db().time_range() {
            if maxt >= hmin {
                return Err(Failure::Run(format!(
                    "block creation: samples up to {maxt} reach the head of {}, which holds samples from {hmin}; \
                     flint only takes blocks older than the head's data",
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}
