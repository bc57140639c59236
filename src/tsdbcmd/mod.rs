//! `flint tsdb …`: promtool's `tsdb` commands on flint's data folders,
//! with promtool's arguments, output and exit codes (`list`, `analyze`,
//! `dump`, `dump-openmetrics`, `create-blocks-from openmetrics|rules`),
//! and `export-prometheus`, which writes Prometheus-format blocks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use tsdb::histogram::{Bucket, FloatHistogram};
use tsdb::labels::{Labels, Matcher};
use tsdb::prom::writer::{Before, Value};
use tsdb::read::{HistogramSample, Queryable, SampleIterator as _};
use tsdb::tools::{BlockInfo, BlockView, ReadOnly};

mod backfill;
mod error;
mod rule_histograms;
mod rules;

use backfill::create_blocks_from;
use error::ArgsError;

use crate::gofmt::{go_float, go_time, quote_ascii};
use crate::rules::unittest::notation::go_duration;

/// promtool's default database path.
const DEFAULT_DB: &str = "data/";
/// promtool's default series selector for the dumps.
const DEFAULT_MATCH: &str = "{__name__=~'(?s:.*)'}";
/// Prometheus's shortest block range.
const BLOCK_MS: i64 = 2 * 3600 * 1000;

/// Usage of every subcommand, shown on a usage error and by `--help`.
pub const USAGE: &str = "\
usage: flint tsdb list [-r|--human-readable] [<db path>]
       flint tsdb analyze [--limit=20] [--extended] [--match=<selector>] [<db path>] [<block id>]
       flint tsdb dump [--min-time=<ms>] [--max-time=<ms>] [--match=<selector>...] [--format=prom|seriesjson] [--sandbox-dir-root=<dir>] [<db path>]
       flint tsdb dump-openmetrics [--min-time=<ms>] [--max-time=<ms>] [--match=<selector>...] [--sandbox-dir-root=<dir>] [<db path>]
       flint tsdb create-blocks-from [-r] [-q] [--max-block-duration=<duration>] openmetrics [--label=<name>=<value>...] <input file> [<output directory>]
       flint tsdb create-blocks-from [-r] [-q] [--max-block-duration=<duration>] rules --start=<time> [--end=<time>] [--url=<url>] [--output-dir=<dir>] [--eval-interval=1m] <rule files>...
       flint tsdb export-prometheus [--min-time=<ms>] [--max-time=<ms>] [--sandbox-dir-root=<dir>] <output directory> [<db path>]
";

/// Parsed command line of one subcommand: flags by name (repeatable ones
/// keep every value) and positional arguments.
#[derive(Default, Debug)]
struct Args {
    flags: HashMap<String, Vec<String>>,
    positional: Vec<String>,
}

impl Args {
    /// Parses `args` against the flags `known` (name, takes a value,
    /// short form).
    fn parse(args: &[String], known: &[(&str, bool, Option<char>)]) -> Result<Args, ArgsError> {
        let mut out = Args::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let spec = if let Some(long) = a.strip_prefix("--") {
                let (name, val) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let Some(&(n, takes, _)) = known.iter().find(|k| k.0 == name) else {
                    return Err(ArgsError::UnknownLong(name.to_string()));
                };
                Some((n, takes, val))
            } else if a.len() == 2 && a.starts_with('-') && a != "--" {
                let c = a.chars().nth(1).expect("two characters");
                let Some(&(n, takes, _)) = known.iter().find(|k| k.2 == Some(c)) else {
                    return Err(ArgsError::UnknownShort(c));
                };
                Some((n, takes, None))
            } else {
                None
            };
            match spec {
                Some((name, true, val)) => {
                    let v = match val {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| ArgsError::MissingValue(name.to_string()))?,
                    };
                    out.flags.entry(name.to_string()).or_default().push(v);
                }
                Some((name, false, val)) => {
                    let on = !matches!(val.as_deref(), Some("false"));
                    out.flags.insert(
                        name.to_string(),
                        vec![if on { "true" } else { "false" }.into()],
                    );
                }
                None => out.positional.push(a.clone()),
            }
        }
        Ok(out)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.flags.get(name).cloned().unwrap_or_default()
    }

    fn on(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    fn int(&self, name: &str, default: i64) -> Result<i64, ArgsError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ArgsError::Int(v.to_string())),
        }
    }

    fn pos(&self, i: usize) -> Option<&str> {
        self.positional.get(i).map(String::as_str)
    }
}

/// Runs `flint tsdb <command> …` with the arguments after `tsdb`; returns
/// the exit code.
pub fn run(args: &[String], out: &mut impl Write, err: &mut impl Write) -> i32 {
    let cmd = args.first().map(String::as_str).unwrap_or("");
    let rest = args.get(1..).unwrap_or(&[]);
    let res = match cmd {
        "list" => list(rest, out),
        "analyze" => analyze(rest, out),
        "dump" => dump(rest, out, false),
        "dump-openmetrics" => dump(rest, out, true),
        "create-blocks-from" => create_blocks_from(rest, out),
        "export-prometheus" => export(rest, out),
        _ => {
            let _ = write!(err, "{USAGE}");
            return 1;
        }
    };
    match res {
        Ok(()) => 0,
        Err(Failure::Usage(msg)) => {
            let _ = writeln!(err, "flint: error: {msg}, try --help");
            1
        }
        Err(Failure::Run(msg)) => {
            if !msg.is_empty() {
                let _ = writeln!(err, "{msg}");
            }
            1
        }
    }
}

/// Why a command failed: its command line, or the work.
enum Failure {
    /// The command line.
    Usage(String),
    /// The work.
    Run(String),
}

impl Failure {
    /// What to print.
    fn message(&self) -> String {
        match self {
            Failure::Usage(m) => format!("flint: error: {m}, try --help"),
            Failure::Run(m) => m.clone(),
        }
    }
}

impl From<tsdb::Error> for Failure {
    fn from(e: tsdb::Error) -> Self {
        Failure::Run(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // the reader went away (`| head`): nothing to say
            return Failure::Run(String::new());
        }
        Failure::Run(e.to_string())
    }
}

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}

/// `promtool tsdb list`'s table: Go's tabwriter with a minimum cell width
/// of 13 and a padding of 2 (the last column is not padded).
fn print_blocks(
    out: &mut impl Write,
    blocks: &[BlockInfo],
    header: bool,
    human: bool,
) -> std::io::Result<()> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    if header {
        rows.push(
            [
                "BLOCK ULID",
                "MIN TIME",
                "MAX TIME",
                "DURATION",
                "NUM SAMPLES",
                "NUM CHUNKS",
                "NUM SERIES",
                "SIZE",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        );
    }
    let time = |t: i64| {
        if human {
            go_time(t / 1000, 0)
        } else {
            t.to_string()
        }
    };
    for b in blocks {
        rows.push(vec![
            b.id.clone(),
            time(b.min_time),
            time(b.max_time),
            go_duration(b.max_time - b.min_time),
            b.num_samples.to_string(),
            b.num_chunks.to_string(),
            b.num_series.to_string(),
            if human {
                crate::app::base2_bytes(b.size_bytes)
            } else {
                b.size_bytes.to_string()
            },
        ]);
    }
    out.write_all(tabwrite(&rows, 13, 2).as_bytes())
}

/// Go's `text/tabwriter` for rows of equal length whose cells end in a
/// tab but the last: each column as wide as its widest cell plus
/// `padding`, at least `minwidth`.
fn tabwrite(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![minwidth; cols.saturating_sub(1)];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols.saturating_sub(1)) {
            widths[i] = widths[i].max(c.chars().count() + padding);
        }
    }
    let mut s = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            s.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i].saturating_sub(c.chars().count());
                s.push_str(&" ".repeat(pad));
            }
        }
        s.push('\n');
    }
    s
}

fn list(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let a = Args::parse(args, &[("human-readable", false, Some('r'))]).map_err(usage)?;
    let dir = PathBuf::from(a.pos(0).unwrap_or(DEFAULT_DB));
    let blocks = tsdb::tools::list_blocks(&dir)?;
    print_blocks(out, &blocks, true, a.on("human-readable"))?;
    Ok(())
}

/// A series selector's matchers, as promtool's parser reads it.
fn selector(s: &str) -> Result<Vec<Matcher>, Failure> {
    promql::parser::parse_metric_selector(s).map_err(|e| Failure::Run(e.to_string()))
}

/// Sorts by count, highest first (names break ties), and prints the first
/// `limit` as `count key`.
fn print_info(
    out: &mut impl Write,
    mut items: Vec<(String, u64)>,
    limit: usize,
) -> std::io::Result<()> {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (k, n) in items.into_iter().take(limit) {
        writeln!(out, "{n} {k}")?;
    }
    Ok(())
}

fn analyze(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let a = Args::parse(
        args,
        &[
            ("limit", true, None),
            ("extended", false, None),
            ("match", true, None),
        ],
    )
    .map_err(usage)?;
    let limit = a.int("limit", 20).map_err(usage)?.max(0) as usize;
    let dir = PathBuf::from(a.pos(0).unwrap_or(DEFAULT_DB));
    let matchers_text = a.get("match").unwrap_or("");
    let matchers = if matchers_text.is_empty() {
        Vec::new()
    } else {
        selector(matchers_text)?
    };
    let view = BlockView::open(&dir, a.pos(1))?;
    let meta = view.info()?;
    let range = meta.max_time - meta.min_time;
    writeln!(out, "Block ID: {}", meta.id)?;
    writeln!(out, "Duration: {}", go_duration(range))?;
    writeln!(out, "Total Series: {}", meta.num_series)?;
    if !matchers_text.is_empty() {
        writeln!(out, "Matcher: {matchers_text}")?;
    }
    let series = view.series(&matchers)?;
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (labels, _, _) in &series {
        for l in labels.iter() {
            values.entry(&l.name).or_default().insert(&l.value);
        }
    }
    writeln!(out, "Label names: {}", values.len())?;
    if !matchers_text.is_empty() {
        writeln!(out, "Matched series: {}", series.len())?;
    }
    let mut labels_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_count: HashMap<String, u64> = HashMap::new();
    let mut entries = 0u64;
    for (labels, mint, maxt) in &series {
        let uncovered = (range as u64).wrapping_sub((maxt - mint) as u64);
        for l in labels.iter() {
            let key = format!("{}={}", l.name, l.value);
            *labels_uncovered.entry(l.name.to_string()).or_default() += uncovered;
            *pairs_uncovered.entry(key.clone()).or_default() += uncovered;
            *pairs_count.entry(key).or_default() += 1;
            entries += 1;
        }
    }
    writeln!(
        out,
        "Postings (unique label pairs): {}",
        pairs_uncovered.len()
    )?;
    writeln!(out, "Postings entries (total label pairs): {entries}")?;
    let per_range = |m: HashMap<String, u64>| -> Vec<(String, u64)> {
        m.into_iter()
            .map(|(k, v)| (k, (v as f64 / range as f64) as u64))
            .collect()
    };
    write!(out, "\nLabel pairs most involved in churning:\n")?;
    print_info(out, per_range(pairs_uncovered), limit)?;
    write!(out, "\nLabel names most involved in churning:\n")?;
    print_info(out, per_range(labels_uncovered), limit)?;
    write!(out, "\nMost common label pairs:\n")?;
    print_info(out, pairs_count.into_iter().collect(), limit)?;
    write!(
        out,
        "\nLabel names with highest cumulative label value length:\n"
    )?;
    print_info(
        out,
        values
            .iter()
            .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.len() as u64).sum()))
            .collect(),
        limit,
    )?;
    write!(out, "\nHighest cardinality labels:\n")?;
    print_info(
        out,
        values
            .iter()
            .map(|(n, vs)| (n.to_string(), vs.len() as u64))
            .collect(),
        limit,
    )?;
    let mut by_name: BTreeMap<&str, u64> = BTreeMap::new();
    for (labels, _, _) in &series {
        if let Some(n) = labels.metric_name() {
            *by_name.entry(n).or_default() += 1;
        }
    }
    write!(out, "\nHighest cardinality metric names:\n")?;
    print_info(
        out,
        by_name
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect(),
        limit,
    )?;
    if a.on("extended") {
        let sizes = view.chunk_sizes(&matchers)?;
        let hist = view.histogram_chunk_sizes(&matchers)?;
        let total = sizes.len() + hist.len();
        write!(out, "\nCompaction analysis:\n\n")?;
        let samples: Vec<i64> = sizes.iter().map(|s| i64::from(s.0)).collect();
        let bytes: Vec<i64> = sizes.iter().map(|s| s.1 as i64).collect();
        display_histogram(out, "samples per float chunk", samples, total)?;
        display_histogram(out, "bytes per float chunk", bytes, total)?;
        let samples: Vec<i64> = hist.iter().map(|s| i64::from(s.0)).collect();
        let bytes: Vec<i64> = hist.iter().map(|s| s.1 as i64).collect();
        let buckets: Vec<i64> = hist.iter().map(|s| s.2 as i64).collect();
        display_histogram(out, "samples per histogram chunk", samples, total)?;
        display_histogram(out, "bytes per histogram chunk", bytes, total)?;
        display_histogram(out, "buckets per histogram chunk", buckets, total)?;
    }
    Ok(())
}

/// promtool's text histogram of `data` (min/avg/max, then ten-ish
/// buckets with a bar of `#`, one per percent of `total`).
fn display_histogram(
    out: &mut impl Write,
    kind: &str,
    mut data: Vec<i64>,
    total: usize,
) -> std::io::Result<()> {
    if data.is_empty() {
        return write!(out, "{kind}: N/A\n\n");
    }
    data.sort_unstable();
    let (lo, hi) = (data[0], data[data.len() - 1]);
    let s = (hi - lo) / 10;
    let mut step = 10i64;
    while step < s && step <= 10000 {
        step *= 10;
    }
    let start = lo - lo % step;
    let end = hi - hi % step + step;
    let mut buckets = vec![0i64; ((end - start) / step + 1) as usize];
    let mut max_count = 0;
    let mut sum = 0i64;
    for &c in &data {
        sum += c;
        let b = &mut buckets[((c - start) / step) as usize];
        *b += 1;
        max_count = max_count.max(*b);
    }
    writeln!(
        out,
        "{kind} (min/avg/max): {lo}/{}/{hi}",
        sum / data.len() as i64
    )?;
    let lw = end.to_string().len();
    let rw = (end + step).to_string().len();
    let cw = max_count.to_string().len();
    for (i, &count) in buckets.iter().enumerate() {
        let pct = (100 * count) as usize / total.max(1);
        writeln!(
            out,
            "[{:>lw$}, {:>rw$}]: {:>cw$} {}",
            i as i64 * step + start + 1,
            (i as i64 + 1) * step + start,
            count,
            "#".repeat(pct)
        )?;
    }
    writeln!(out)
}

/// Prometheus's `Labels.String()`: `{__name__="up", job="a"}`.
fn labels_string(l: &Labels, sep: &str) -> String {
    let mut s = String::from("{");
    for (i, l) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        if is_legacy_name(&l.name) {
            s.push_str(&l.name);
        } else {
            s.push_str(&quote_ascii(&l.name));
        }
        s.push('=');
        s.push_str(&quote_ascii(&l.value));
    }
    s.push('}');
    s
}

fn is_legacy_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
}

/// Go's `encoding/json` string: HTML-safe, `\u2028`/`\u2029` escaped.
fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                o.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A series' float samples and native histogram samples.
type Samples = (Vec<(i64, f64)>, Vec<HistogramSample>);

/// A series, its float samples and its native histogram samples.
type SeriesSamples = (Labels, Vec<(i64, f64)>, Vec<HistogramSample>);

/// The series the selectors pick over `[mint, maxt]`, merged as promtool
/// merges several selectors (a series picked twice appears once).
fn select_all(
    ro: &ReadOnly,
    mint: i64,
    maxt: i64,
    selectors: &[Vec<Matcher>],
) -> Result<Vec<SeriesSamples>, Failure> {
    let q = ro
        .db()
        .querier(mint, maxt)
        .map_err(|e| Failure::Run(e.to_string()))?;
    let mut merged: BTreeMap<Labels, Samples> = BTreeMap::new();
    for m in selectors {
        for mut s in q.select(m).map_err(|e| Failure::Run(e.to_string()))? {
            if merged.contains_key(&s.labels) {
                continue;
            }
            let samples = s.samples.collect_between(mint, maxt);
            let mut histograms = std::mem::take(&mut s.histograms);
            histograms.retain(|h| h.0 >= mint && h.0 <= maxt);
            if !samples.is_empty() || !histograms.is_empty() {
                merged.insert(s.labels, (samples, histograms));
            }
        }
    }
    Ok(merged.into_iter().map(|(l, (f, h))| (l, f, h)).collect())
}

/// A series' float and histogram samples in time order.
fn in_time_order(floats: &[(i64, f64)], histograms: &[HistogramSample]) -> Vec<(i64, Value)> {
    let mut out = Vec::with_capacity(floats.len() + histograms.len());
    let (mut i, mut j) = (0, 0);
    while i < floats.len() || j < histograms.len() {
        if j == histograms.len() || (i < floats.len() && floats[i].0 <= histograms[j].0) {
            out.push((floats[i].0, Value::Float(floats[i].1)));
            i += 1;
        } else {
            out.push((histograms[j].0, Value::Histogram(histograms[j].1.clone())));
            j += 1;
        }
    }
    out
}

/// Prometheus's `Histogram.String()` (and `FloatHistogram.String()`,
/// which reads the same for whole counts): count, sum, then the buckets
/// holding observations from the lowest up, as `(lower,upper]:count`.
fn histogram_string(h: &FloatHistogram) -> String {
    let bucket = |b: &Bucket| {
        format!(
            "{}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            go_float(b.lower),
            go_float(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            go_float(b.count)
        )
    };
    let mut s = format!("{{count:{}, sum:{}", go_float(h.count), go_float(h.sum));
    let negative: Vec<Bucket> = h.negative_buckets().filter(|b| b.count != 0.0).collect();
    for b in negative.iter().rev() {
        s.push_str(", ");
        s.push_str(&bucket(b));
    }
    if h.zero_count != 0.0 {
        s.push_str(", ");
        s.push_str(&bucket(&h.zero_bucket()));
    }
    for b in h.positive_buckets().filter(|b| b.count != 0.0) {
        s.push_str(", ");
        s.push_str(&bucket(&b));
    }
    s.push('}');
    s
}

fn dump(args: &[String], out: &mut impl Write, openmetrics: bool) -> Result<(), Failure> {
    let mut known = vec![
        ("sandbox-dir-root", true, None),
        ("min-time", true, None),
        ("max-time", true, None),
        ("match", true, None),
    ];
    if !openmetrics {
        known.push(("format", true, None));
    }
    let a = Args::parse(args, &known).map_err(usage)?;
    let dir = PathBuf::from(a.pos(0).unwrap_or(DEFAULT_DB));
    let mint = a.int("min-time", i64::MIN).map_err(usage)?;
    let maxt = a.int("max-time", i64::MAX).map_err(usage)?;
    let format = a.get("format").unwrap_or("prom");
    if format != "prom" && format != "seriesjson" {
        return Err(usage(format!(
            "enum value must be one of prom,seriesjson, got '{format}'"
        )));
    }
    let mut matches = a.all("match");
    if matches.is_empty() {
        matches.push(DEFAULT_MATCH.to_string());
    }
    let selectors = matches
        .iter()
        .map(|m| selector(m))
        .collect::<Result<Vec<_>, _>>()?;
    let sandbox = a
        .get("sandbox-dir-root")
        .filter(|s| !s.is_empty())
        .map(Path::new);
    let ro = ReadOnly::open(&dir, sandbox)?;
    let series = select_all(&ro, mint, maxt, &selectors)?;
    let mut w = std::io::BufWriter::new(out);
    for (labels, samples, histograms) in &series {
        if openmetrics {
            // promtool writes a series' float samples up to its first
            // histogram sample, and nothing of it after that
            let name = labels.metric_name().unwrap_or("");
            let rest = labels_string(&labels.without_metric_name(), ",");
            let until = histograms.first().map_or(i64::MAX, |h| h.0);
            for (t, v) in samples.iter().take_while(|s| s.0 < until) {
                writeln!(w, "{name}{rest} {} {:.3}", go_float(*v), *t as f64 / 1000.0)?;
            }
        } else if format == "seriesjson" {
            let fields: Vec<String> = labels
                .iter()
                .map(|l| format!("{}:{}", json_string(&l.name), json_string(&l.value)))
                .collect();
            writeln!(w, "{{{}}}", fields.join(","))?;
        } else {
            // histograms as Prometheus 3's promtool prints them; a stale
            // marker after a histogram is a histogram one in Prometheus
            let ls = labels_string(labels, ", ");
            let mut after_histogram = false;
            for (t, v) in in_time_order(samples, histograms) {
                match v {
                    Value::Float(v) if after_histogram && tsdb::is_stale_nan(v) => {
                        writeln!(w, "{ls} {{count:0, sum:NaN}} {t}")?;
                    }
                    Value::Float(v) => {
                        after_histogram = false;
                        writeln!(w, "{ls} {} {t}", go_float(v))?;
                    }
                    Value::Histogram(h) => {
                        after_histogram = true;
                        writeln!(w, "{ls} {} {t}", histogram_string(&h))?;
                    }
                }
            }
        }
    }
    if openmetrics {
        writeln!(w, "# EOF")?;
    }
    w.flush()?;
    Ok(())
}

fn export(args: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let a = Args::parse(
        args,
        &[
            ("sandbox-dir-root", true, None),
            ("min-time", true, None),
            ("max-time", true, None),
        ],
    )
    .map_err(usage)?;
    let Some(target) = a.pos(0) else {
        return Err(usage("required argument 'output directory' not provided"));
    };
    let target = PathBuf::from(target);
    let dir = PathBuf::from(a.pos(1).unwrap_or(DEFAULT_DB));
    let mint = a.int("min-time", i64::MIN).map_err(usage)?;
    let maxt = a.int("max-time", i64::MAX).map_err(usage)?;
    std::fs::create_dir_all(&target)
        .map_err(|e| Failure::Run(format!("{}: {e}", target.display())))?;
    let sandbox = a
        .get("sandbox-dir-root")
        .filter(|s| !s.is_empty())
        .map(Path::new);
    let blocks = tsdb::tools::list_blocks(&dir)?;
    let ro = ReadOnly::open(&dir, sandbox)?;
    // each block as one Prometheus block with its id, then the head
    let mut ranges: Vec<(Option<String>, i64, i64)> = blocks
        .iter()
        .map(|b| (Some(b.id.clone()), b.min_time, b.max_time))
        .collect();
    if let (_, Some((hmin, hmax))) = ro.db().time_range() {
        let from = blocks
            .iter()
            .map(|b| b.max_time)
            .max()
            .unwrap_or(i64::MIN)
            .max(hmin);
        ranges.push((None, from, hmax + 1));
    }
    let all = selector(DEFAULT_MATCH)?;
    let mut written = Vec::new();
    let mut ended: HashMap<Labels, Before> = HashMap::new();
    for (id, lo, hi) in ranges {
        let (lo, hi) = (lo.max(mint), hi.min(maxt.saturating_add(1)));
        if lo >= hi {
            continue;
        }
        let series = select_all(&ro, lo, hi - 1, std::slice::from_ref(&all))?;
        if series.is_empty() {
            continue;
        }
        let id = id.unwrap_or_else(tsdb::tools::new_block_id);
        // each series' first histogram chunk goes on from how it ended
        // in the block before, as in Prometheus's blocks
        let series = series.into_iter().map(|(l, f, h)| {
            let samples = in_time_order(&f, &h);
            let before = ended.get(&l).cloned().unwrap_or_default();
            ended.insert(l.clone(), before.after(&samples));
            Ok((l, samples, before))
        });
        let w = tsdb::prom::writer::write_block_after(&target, &id, lo, hi, series)?;
        written.push(BlockInfo {
            id: w.ulid,
            min_time: w.min_time,
            max_time: w.max_time,
            num_samples: w.num_samples,
            num_chunks: w.num_chunks,
            num_series: w.num_series,
            num_histogram_samples: w.num_histogram_samples,
            // (not printed)
            num_histogram_chunks: 0,
            num_histogram_series: 0,
            size_bytes: w.bytes,
            dir: target.join(&id),
        });
    }
    print_blocks(out, &written, true, false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_pads_like_go() {
        let rows = vec![
            vec!["BLOCK ULID".to_string(), "MIN TIME".into(), "SIZE".into()],
            vec!["01ABC".into(), "1700000000000".into(), "123".into()],
        ];
        assert_eq!(
            tabwrite(&rows, 13, 2),
            "BLOCK ULID   MIN TIME       SIZE\n01ABC        1700000000000  123\n"
        );
    }

    #[test]
    fn block_durations_follow_promtool() {
        use super::backfill::block_duration;
        assert_eq!(block_duration(0), BLOCK_MS);
        assert_eq!(block_duration(BLOCK_MS * 3), BLOCK_MS * 3);
        assert_eq!(block_duration(BLOCK_MS * 8), BLOCK_MS * 3);
        assert_eq!(block_duration(BLOCK_MS * 9), BLOCK_MS * 9);
    }

    #[test]
    fn labels_print_as_prometheus() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b"), ("le", "+Inf")]);
        assert_eq!(
            labels_string(&l, ", "),
            r#"{__name__="up", job="a\"b", le="+Inf"}"#
        );
        assert_eq!(json_string("a<b>&"), r#""a\u003cb\u003e\u0026""#);
    }

    #[test]
    fn histograms_print_as_prometheus() {
        let h = FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 10.0,
            sum: 12.5,
            positive: vec![(0, 2.0), (1, 3.0), (2, 0.0)],
            negative: vec![(0, 4.0), (3, 0.25)],
            ..FloatHistogram::default()
        };
        assert_eq!(
            histogram_string(&h),
            "{count:10, sum:12.5, [-8,-4):0.25, [-1,-0.5):4, [-0.001,0.001]:1, (0.5,1]:2, (1,2]:3}"
        );
        let c = FloatHistogram {
            schema: tsdb::histogram::CUSTOM_BUCKETS_SCHEMA,
            count: 3.0,
            sum: -0.5,
            positive: vec![(0, 1.0), (2, 2.0)],
            custom_values: vec![0.1, 1.0],
            ..FloatHistogram::default()
        };
        assert_eq!(
            histogram_string(&c),
            "{count:3, sum:-0.5, [-Inf,0.1]:1, (1,+Inf]:2}"
        );
        let empty = FloatHistogram {
            schema: 3,
            sum: 1e-7,
            ..FloatHistogram::default()
        };
        assert_eq!(histogram_string(&empty), "{count:0, sum:1e-07}");
    }

    #[test]
    fn flags_parse_long_short_and_repeated() {
        let args: Vec<String> = ["-r", "--match", "a", "--match=b", "dir"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = Args::parse(
            &args,
            &[("human-readable", false, Some('r')), ("match", true, None)],
        )
        .unwrap();
        assert!(a.on("human-readable"));
        assert_eq!(a.all("match"), vec!["a", "b"]);
        assert_eq!(a.pos(0), Some("dir"));
        assert!(Args::parse(&["--nope".to_string()], &[]).is_err());
    }
}
