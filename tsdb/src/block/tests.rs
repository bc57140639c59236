//! Block tests: round trips against a brute-force model, matchers, time
//! ranges, corruption, atomic writing and ids.

use std::path::Path;

use proptest::prelude::*;

use super::format::{CHUNKS_FILE, INDEX_FILE, META_FILE};
use super::histograms;
use super::id::{id_time_ms, new_block_id};
use super::reader::ChunkRefData;
use super::*;
use crate::chunkenc::{XorEncoder, ENCODING_XOR};
use crate::labels::{Labels, MatchOp, Matcher};
use crate::reader::Reader;

/// Data bytes of a head chunk slot; chunks here are cut the same way.
const SLOT_DATA: usize = 216;

/// Encodes samples into chunks of at most 120 samples / 216 bytes.
fn make_chunks(samples: &[(i64, f64)]) -> Vec<ChunkData> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let mut buf = vec![0u8; SLOT_DATA];
        let mut enc = XorEncoder::new();
        let start = i;
        while i < samples.len()
            && enc.count() < 120
            && enc.append(&mut buf, samples[i].0, samples[i].1)
        {
            i += 1;
        }
        buf.truncate(enc.bit_len().div_ceil(8));
        out.push(ChunkData {
            mint: samples[start].0,
            maxt: samples[i - 1].0,
            encoding: ENCODING_XOR,
            count: enc.count(),
            bit_len: enc.bit_len() as u16,
            data: buf,
        });
    }
    out
}

type Input = Vec<(Labels, Vec<ChunkData>)>;

/// What a block stores for `input`: each series' chunks re-encoded, series
/// without chunks left out.
fn stored(input: &Input) -> Input {
    input
        .iter()
        .map(|(l, c)| (l.clone(), super::recode::recode(c)))
        .filter(|(_, c)| !c.is_empty())
        .collect()
}

/// What select should return, computed by brute force over the input.
fn model_select(
    input: &Input,
    ms: &[Matcher],
    mint: i64,
    maxt: i64,
) -> Vec<(Labels, Vec<ChunkData>)> {
    input
        .iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
        .map(|(l, cs)| {
            let cs: Vec<ChunkData> = cs
                .iter()
                .filter(|c| c.maxt >= mint && c.mint <= maxt)
                .cloned()
                .collect();
            (l.clone(), cs)
        })
        .filter(|(_, cs)| !cs.is_empty())
        .collect()
}

fn got_select(b: &Block, ms: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<ChunkData>)> {
    b.select(ms, mint, maxt)
        .unwrap()
        .into_iter()
        .map(|(l, cs)| {
            let cs = cs.into_iter().flat_map(ChunkRefData::into_owned_chunks);
            (l, cs.collect())
        })
        .collect()
}

fn model_names(input: &Input, ms: &[Matcher]) -> Vec<String> {
    let mut v: Vec<String> = input
        .iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
        .flat_map(|(l, _)| l.iter().map(|l| l.name.to_string()).collect::<Vec<_>>())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn model_values(input: &Input, name: &str, ms: &[Matcher]) -> Vec<String> {
    let mut v: Vec<String> = input
        .iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
        .filter_map(|(l, _)| l.get(name).map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A simple input: `n` series of metric `m` with job/instance labels.
fn simple_input(n: usize, samples: usize) -> Input {
    let mut input: Input = (0..n)
        .map(|i| {
            let l = Labels::from_pairs(&[
                (
                    "__name__",
                    if i % 2 == 0 {
                        "up"
                    } else {
                        "http_requests_total"
                    },
                ),
                ("job", if i % 3 == 0 { "api" } else { "web" }),
                ("instance", &format!("host-{i}:9100")),
            ]);
            let s: Vec<(i64, f64)> = (0..samples as i64)
                .map(|t| (t * 15_000, (t * i as i64) as f64))
                .collect();
            (l, make_chunks(&s))
        })
        .collect();
    input.sort_by(|a, b| a.0.cmp(&b.0));
    input
}

const NAMES: &[&str] = &["__name__", "job", "instance", "env", "a"];
const VALUES: &[&str] = &["a", "b", "fo", "foo", "foobar", "x1", "x2", "bar", "é"];
const PATTERNS: &[&str] = &[
    "", "a", "foo", "foo.*", "fo+", "foo.+", "a|b", "a|b|zz", "b|", ".*", ".+", "x.", "x\\d",
    "(?i)FOO", "fo?", "é|a", "x1|foo.*", "[ab]",
];

fn matcher_strategy() -> impl Strategy<Value = Matcher> {
    let names = prop::sample::select(vec!["__name__", "job", "instance", "env", "a", "missing"]);
    let ops = prop::sample::select(vec![
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::RegexMatch,
        MatchOp::RegexNoMatch,
    ]);
    (names, ops, prop::sample::select(PATTERNS.to_vec()))
        .prop_map(|(n, op, v)| Matcher::new(op, n, v).expect("valid pattern"))
}

fn input_strategy() -> impl Strategy<Value = Input> {
    let label_set = prop::collection::vec(
        (
            prop::sample::select(NAMES.to_vec()),
            prop::sample::select(VALUES.to_vec()),
        ),
        0..5,
    );
    let series = (label_set, 0usize..300, -100_000i64..100_000, 1i64..30_000);
    prop::collection::vec(series, 0..30).prop_map(|v| {
        let mut input: Input = v
            .into_iter()
            .map(|(pairs, n, start, step)| {
                let s: Vec<(i64, f64)> = (0..n as i64)
                    .map(|k| {
                        // runs of decimals and of values the delta encoding cannot hold
                        let v = if k % 50 >= 45 {
                            (k as f64).sqrt()
                        } else {
                            (k % 7) as f64 * 1.5
                        };
                        (start + k * step, v)
                    })
                    .collect();
                (Labels::from_pairs(&pairs), make_chunks(&s))
            })
            .collect();
        input.sort_by(|a, b| a.0.cmp(&b.0));
        input.dedup_by(|a, b| a.0 == b.0);
        input
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_roundtrip_against_model(
        input in input_strategy(),
        matcher_sets in prop::collection::vec(prop::collection::vec(matcher_strategy(), 0..4), 12),
        ranges in prop::collection::vec((-200_000i64..9_000_000, 0i64..5_000_000), 4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let meta = write_block(dir.path(), -200_000, 9_000_000, input.clone(), 1, vec![]).unwrap();
        let stored = stored(&input);
        prop_assert_eq!(meta.num_series, stored.len() as u64);
        let b = Block::open(&dir.path().join(&meta.id)).unwrap();
        prop_assert_eq!(b.meta(), &meta);
        b.verify().unwrap();
        let all: Input = b.all_series().unwrap().map(Result::unwrap).collect();
        prop_assert_eq!(&all, &stored);
        for ms in &matcher_sets {
            for &(mint, len) in &ranges {
                prop_assert_eq!(got_select(&b, ms, mint, mint + len), model_select(&stored, ms, mint, mint + len), "{:?}", ms);
            }
            prop_assert_eq!(got_select(&b, ms, i64::MIN, i64::MAX), model_select(&stored, ms, i64::MIN, i64::MAX), "{:?}", ms);
            prop_assert_eq!(b.label_names(ms).unwrap(), model_names(&stored, ms), "{:?}", ms);
            for name in ["job", "a", "missing", "__name__"] {
                prop_assert_eq!(b.label_values(name, ms).unwrap(), model_values(&stored, name, ms), "{} {:?}", name, ms);
            }
        }
    }
}

#[test]
fn select_each_matcher_kind() {
    let dir = tempfile::tempdir().unwrap();
    let input = simple_input(30, 10);
    let meta = write_block(dir.path(), 0, 150_000, input.clone(), 1, vec![]).unwrap();
    let b = Block::open(&dir.path().join(&meta.id)).unwrap();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    use MatchOp::*;
    let cases: Vec<(Vec<Matcher>, usize)> = vec![
        (vec![], 30),
        (vec![m(Equal, "__name__", "up")], 15),
        (vec![m(Equal, "__name__", "up"), m(Equal, "job", "api")], 5),
        (vec![m(NotEqual, "job", "api")], 20),
        (
            vec![m(RegexMatch, "instance", "host-1:9100|host-2:9100|nope")],
            2,
        ),
        (vec![m(RegexMatch, "instance", "host-1.*")], 11),
        (vec![m(RegexNoMatch, "instance", "host-1.*")], 19),
        (vec![m(RegexMatch, "instance", ".*-2\\d:.*")], 10),
        (vec![m(Equal, "env", "")], 30),
        (vec![m(NotEqual, "env", "")], 0),
        (vec![m(RegexMatch, "job", "api|")], 10),
        (vec![m(RegexMatch, "job", "nope|")], 0),
        (vec![m(RegexMatch, "env", "nope|")], 30),
        (vec![m(RegexMatch, "missing", ".+")], 0),
        (vec![m(Equal, "job", "nope")], 0),
    ];
    for (ms, n) in cases {
        let got = got_select(&b, &ms, 0, 150_000);
        assert_eq!(got.len(), n, "{ms:?}");
        assert_eq!(
            got,
            model_select(&stored(&input), &ms, 0, 150_000),
            "{ms:?}"
        );
    }
    assert_eq!(
        b.label_names(&[]).unwrap(),
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(b.label_values("job", &[]).unwrap(), vec!["api", "web"]);
    let up = [
        m(Equal, "__name__", "http_requests_total"),
        m(Equal, "job", "api"),
    ];
    assert_eq!(b.label_values("instance", &up).unwrap().len(), 5);
    assert_eq!(b.label_values("nope", &[]).unwrap(), Vec::<String>::new());
    // samples decode from the mapped file
    let sel = b
        .select(&[m(Equal, "instance", "host-3:9100")], 0, i64::MAX)
        .unwrap();
    let got: Vec<(i64, f64)> = sel[0].1.iter().flat_map(|c| c.iter()).collect();
    assert_eq!(
        got,
        (0..10)
            .map(|t| (t * 15_000, (t * 3) as f64))
            .collect::<Vec<_>>()
    );
}

#[test]
fn time_range_filters_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // 1000 samples per series, 15 s apart: written as 9 chunks of 120 (the
    // last shorter), stored as 480 + 480 + 40
    let input = simple_input(3, 1000);
    assert_eq!(input[0].1.len(), 9);
    let meta = write_block(dir.path(), 0, 15_000_000, input.clone(), 1, vec![]).unwrap();
    assert_eq!((meta.num_chunks, meta.num_samples), (9, 3000));
    let b = Block::open(&dir.path().join(&meta.id)).unwrap();
    let count = |mint, maxt| -> Vec<usize> {
        b.select(&[], mint, maxt)
            .unwrap()
            .iter()
            .map(|s| s.1.len())
            .collect()
    };
    assert_eq!(count(0, 0), vec![1, 1, 1]);
    // chunk k covers [k*480, k*480+479] × 15 s; the boundary is inclusive
    assert_eq!(count(479 * 15_000, 480 * 15_000), vec![2, 2, 2]);
    assert_eq!(
        count(479 * 15_000 + 1, 480 * 15_000 - 1),
        Vec::<usize>::new()
    );
    assert_eq!(count(-10, -1), Vec::<usize>::new());
    assert_eq!(count(999 * 15_000, i64::MAX), vec![1, 1, 1]);
    assert_eq!(count(i64::MIN, i64::MAX), vec![3, 3, 3]);
    assert_eq!(
        model_select(&stored(&input), &[], 5, 2_000_000),
        got_select(&b, &[], 5, 2_000_000)
    );
}

#[test]
fn series_of_many_labels_and_long_values_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a value much longer than the twenty-two bytes kept inline";
    let mut input: Input = [1usize, 15, 16, 17, 40]
        .iter()
        .map(|&n| {
            let pairs: Vec<(String, String)> = (0..n)
                .map(|k| (format!("label_{k:02}"), format!("{long} {n} {k}")))
                .collect();
            (
                Labels::from_pairs(&pairs),
                make_chunks(&[(1, 1.0), (2, 2.0)]),
            )
        })
        .collect();
    input.sort_by(|a, b| a.0.cmp(&b.0));
    let meta = write_block(dir.path(), 0, 10, input.clone(), 1, vec![]).unwrap();
    let b = Block::open(&dir.path().join(&meta.id)).unwrap();
    let got: Vec<Labels> = got_select(&b, &[], 0, 10)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    let want: Vec<Labels> = input.iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(
        got.iter().map(Labels::len).collect::<Vec<_>>(),
        [1, 15, 16, 17, 40]
    );
}

#[test]
fn empty_block_and_skipped_series() {
    let dir = tempfile::tempdir().unwrap();
    let input = vec![(Labels::from_pairs(&[("a", "1")]), vec![])];
    let meta = write_block(dir.path(), 0, 10, input, 1, vec![]).unwrap();
    assert_eq!(meta.num_series, 0);
    assert_eq!(meta.sources, vec![meta.id.clone()]);
    let b = Block::open(&dir.path().join(&meta.id)).unwrap();
    b.verify().unwrap();
    assert!(b.select(&[], i64::MIN, i64::MAX).unwrap().is_empty());
    assert!(b.label_names(&[]).unwrap().is_empty());
    assert_eq!(b.all_series().unwrap().count(), 0);
    assert!(b.size_bytes() > 0);
}

#[test]
fn out_of_order_input_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = simple_input(5, 3);
    input.swap(1, 2);
    assert!(write_block(dir.path(), 0, 10, input, 1, vec![]).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let mut input = simple_input(2, 3);
    input[1].1[0].data.truncate(3);
    assert!(write_block(dir.path(), 0, 10, input, 1, vec![]).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Every operation on a block, which must never panic; returns whether
/// any of them failed.
fn exercise(path: &Path) -> bool {
    let Ok(b) = Block::open(path) else {
        return true;
    };
    let mut failed = false;
    let ms = [
        vec![],
        vec![Matcher::equal("job", "api")],
        vec![Matcher::new(MatchOp::RegexMatch, "instance", "host-1.*").unwrap()],
        vec![Matcher::new(MatchOp::NotEqual, "__name__", "up").unwrap()],
    ];
    for m in &ms {
        match b.select(m, i64::MIN, i64::MAX) {
            Ok(sel) => {
                for (_, cs) in sel {
                    for c in cs {
                        c.iter().count();
                    }
                }
            }
            Err(_) => failed = true,
        }
        failed |= b.label_names(m).is_err();
        failed |= b.label_values("instance", m).is_err();
    }
    match b.all_series() {
        Ok(it) => failed |= it.collect::<Result<Vec<_>, _>>().is_err(),
        Err(_) => failed = true,
    }
    failed | b.verify().is_err()
}

#[test]
fn corruption_never_panics_and_verify_catches_it() {
    let dir = tempfile::tempdir().unwrap();
    let meta = write_block(dir.path(), 0, 100_000, simple_input(4, 5), 1, vec![]).unwrap();
    let path = dir.path().join(&meta.id);
    assert!(!exercise(&path), "intact block fails");
    for file in [INDEX_FILE, CHUNKS_FILE, META_FILE] {
        let fp = path.join(file);
        let orig = std::fs::read(&fp).unwrap();
        for i in 0..orig.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = orig.clone();
                bad[i] ^= bit;
                std::fs::write(&fp, &bad).unwrap();
                let failed = exercise(&path);
                // meta.json has no checksum: a changed digit can go unseen
                assert!(
                    failed || file == META_FILE,
                    "{file}: flip of byte {i} undetected"
                );
            }
        }
        // meta.json may lose its trailing newline and still parse
        let keep = if file == META_FILE {
            orig.len() - 1
        } else {
            orig.len()
        };
        for len in (0..keep).step_by(7).chain([keep - 1]) {
            std::fs::write(&fp, &orig[..len]).unwrap();
            assert!(exercise(&path), "{file}: truncation to {len} undetected");
        }
        let mut longer = orig.clone();
        longer.push(0);
        std::fs::write(&fp, &longer).unwrap();
        assert!(
            exercise(&path) || file == META_FILE,
            "{file}: extra byte undetected"
        );
        std::fs::write(&fp, &orig).unwrap();
    }
    std::fs::remove_file(path.join(INDEX_FILE)).unwrap();
    assert!(Block::open(&path).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn prop_random_damage_is_detected(
        input in input_strategy(),
        file in prop::sample::select(vec![INDEX_FILE, CHUNKS_FILE, META_FILE]),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let meta = write_block(dir.path(), 0, 10, input, 1, vec![]).unwrap();
        let path = dir.path().join(&meta.id);
        let fp = path.join(file);
        let orig = std::fs::read(&fp).unwrap();
        let mut bad = orig.clone();
        for (i, mask) in &flips {
            bad[i.index(orig.len())] ^= mask;
        }
        std::fs::write(&fp, &bad).unwrap();
        let failed = exercise(&path);
        prop_assert!(failed || file == META_FILE || bad == orig);
        let len = cut.index(orig.len());
        let keep = if file == META_FILE { len.min(orig.len() - 2) } else { len };
        std::fs::write(&fp, &orig[..keep]).unwrap();
        prop_assert!(exercise(&path));
    }
}

#[test]
fn tmp_blocks_are_removed_and_listing_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_block(dir.path(), 0, 10, simple_input(2, 2), 1, vec![]).unwrap();
    let leftover = dir.path().join(format!("{}.tmp", new_block_id()));
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join(INDEX_FILE), b"half").unwrap();
    std::fs::create_dir(dir.path().join("other.tmp")).unwrap();
    std::fs::write(dir.path().join("lock"), b"").unwrap();
    assert_eq!(
        list_blocks(dir.path()).unwrap(),
        vec![dir.path().join(&a.id)]
    );
    assert_eq!(remove_tmp_blocks(dir.path()).unwrap(), 1);
    assert!(!leftover.exists());
    assert!(dir.path().join("other.tmp").exists());
    assert!(dir.path().join(&a.id).join(META_FILE).exists());
    assert_eq!(remove_tmp_blocks(&dir.path().join("absent")).unwrap(), 0);
}

#[test]
fn ids_differ_and_order_by_creation() {
    let dir = tempfile::tempdir().unwrap();
    let metas: Vec<BlockMeta> = (0..5)
        .map(|_| write_block(dir.path(), 0, 10, vec![], 1, vec![]).unwrap())
        .collect();
    for w in metas.windows(2) {
        assert!(w[0].id < w[1].id);
        let (t0, t1) = (id_time_ms(&w[0].id).unwrap(), id_time_ms(&w[1].id).unwrap());
        assert!(t0 <= t1);
    }
    let listed = list_blocks(dir.path()).unwrap();
    let want: Vec<_> = metas.iter().map(|m| dir.path().join(&m.id)).collect();
    assert_eq!(listed, want);
    // a compacted block keeps the given sources and level
    let srcs: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
    let m = write_block(dir.path(), 0, 10, simple_input(1, 1), 2, srcs.clone()).unwrap();
    let b = Block::open(&dir.path().join(&m.id)).unwrap();
    assert_eq!((b.meta().level, &b.meta().sources), (2, &srcs));
    assert_eq!(b.dir(), dir.path().join(&m.id));
}

/// Scrape-like data: 15 s interval with ±`jitter` ms of jitter; a quarter each
/// of counters (steady rate, integer increments), constant gauges (`up`),
/// integer gauges that move now and then, and two-decimal gauges on a
/// random walk.
fn scrape_input(n_series: usize, n_samples: usize, jitter: u64) -> Input {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut input: Input = (0..n_series)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", format!("metric_{}", i % 50)),
                ("job", "node".to_string()),
                ("instance", format!("10.0.{}.{}:9100", i / 250, i % 250)),
            ]);
            let mut t = 1_700_000_000_000i64 + (next() % 15_000) as i64;
            let rate = (next() % 1000) as f64;
            let mut v = (next() % 100_000) as f64;
            let s: Vec<(i64, f64)> = (0..n_samples)
                .map(|_| {
                    t += 15_000 + (next() % (2 * jitter + 1)) as i64 - jitter as i64;
                    v = match i % 4 {
                        0 => v + rate + (next() % 10) as f64,
                        1 => 1.0,
                        2 if next() % 8 == 0 => v + (next() % 5) as f64 - 2.0,
                        2 => v,
                        _ => ((v * 100.0).round() + (next() % 201) as f64 - 100.0) / 100.0,
                    };
                    (t, v)
                })
                .collect();
            (l, make_chunks(&s))
        })
        .collect();
    input.sort_by(|a, b| a.0.cmp(&b.0));
    input
}

/// The class (series number mod 4) of input series `k`, from its labels.
fn input_class(input: &Input, k: usize) -> usize {
    let inst = input[k].0.get("instance").unwrap_or("");
    let ip: Vec<usize> = inst
        .trim_end_matches(":9100")
        .split('.')
        .filter_map(|x| x.parse().ok())
        .collect();
    (ip[2] * 250 + ip[3]) % 4
}

#[test]
fn bytes_per_sample_of_scrape_data() {
    for jitter in [3, 0] {
        let per = bytes_per_sample(scrape_input(1000, 720, jitter), jitter);
        assert!(per < 4.5, "{per} bytes per sample");
    }
}

/// Writes a block of `input` and reports its size per sample.
fn bytes_per_sample(input: Input, jitter: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut class = [(0usize, 0usize); 4];
    for k in 0..input.len() {
        let i = input_class(&input, k);
        for c in &input[k].1 {
            class[i].0 += c.data.len() + 9;
            class[i].1 += c.count as usize;
        }
    }
    let meta = write_block(dir.path(), 0, i64::MAX, input, 1, vec![]).unwrap();
    let b = Block::open(&dir.path().join(&meta.id)).unwrap();
    b.verify().unwrap();
    let p = b.dir();
    let len = |f: &str| std::fs::metadata(p.join(f)).unwrap().len();
    let (ix, ch, me) = (len(INDEX_FILE), len(CHUNKS_FILE), len(META_FILE));
    let per = b.size_bytes() as f64 / meta.num_samples as f64;
    eprintln!(
        "1000 x 720 scrape-like samples, jitter ±{jitter} ms: {} chunks, index {ix} B, \
         chunks {ch} B, meta {me} B, {per:.3} bytes/sample ({:.3} chunks file only)",
        meta.num_chunks,
        ch as f64 / meta.num_samples as f64
    );
    let names = [
        "counters",
        "constant gauges",
        "integer gauges",
        "2-decimal gauges",
    ];
    for (i, name) in names.iter().enumerate() {
        let (bytes, n) = class[i];
        eprintln!(
            "  {name}: {:.3} chunk bytes/sample",
            bytes as f64 / n as f64
        );
    }
    assert_eq!(meta.num_samples, 720_000);
    per
}

/// Opening many big blocks must be cheap; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn open_many_big_blocks_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let input: Input = (0..100_000)
        .map(|i| {
            let l = Labels::from_pairs(&[
                ("__name__", &format!("metric_{}", i % 100)),
                ("job", &format!("job_{}", i % 10)),
                ("instance", &format!("host-{i:06}")),
            ]);
            let s: Vec<(i64, f64)> = (0..120).map(|t| (t * 15_000, t as f64)).collect();
            (l, make_chunks(&s))
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let t = std::time::Instant::now();
    let meta = write_block(dir.path(), 0, 7_200_000, input, 1, vec![]).unwrap();
    eprintln!("write 100k series: {:?}", t.elapsed());
    let path = dir.path().join(&meta.id);
    let t = std::time::Instant::now();
    let blocks: Vec<Block> = (0..200).map(|_| Block::open(&path).unwrap()).collect();
    eprintln!("open 200 blocks: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    for b in &blocks {
        let sel = b
            .select(&[Matcher::equal("instance", "host-004242")], 0, 7_200_000)
            .unwrap();
        assert_eq!(sel.len(), 1);
    }
    eprintln!("first select (=) in each of 200 blocks: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let re = Matcher::new(MatchOp::RegexMatch, "instance", "host-0042.*").unwrap();
    for b in &blocks {
        assert_eq!(
            b.select(std::slice::from_ref(&re), 0, 7_200_000)
                .unwrap()
                .len(),
            100
        );
    }
    eprintln!(
        "prefix-regex select in each of 200 blocks: {:?}",
        t.elapsed()
    );
    let t = std::time::Instant::now();
    assert_eq!(
        blocks[0].label_values("instance", &[]).unwrap().len(),
        100_000
    );
    eprintln!("label_values(instance) of one block: {:?}", t.elapsed());
    eprintln!("block size: {} bytes", blocks[0].size_bytes());
}

/// The samples of a fixture series: `n` every 15 s from 1700000000000 ms,
/// the value of the `i`-th given by `value(name, i)`.
fn fixture_samples(n: i64, name: &str, value: fn(&str, i64) -> f64) -> Vec<(i64, f64)> {
    (0..n)
        .map(|i| (1_700_000_000_000 + i * 15_000, value(name, i)))
        .collect()
}

/// Writes `series` again as a block of `b`'s range (as a merge does) and
/// opens it: its folder, the block and its chunks file's version.
fn written_again(b: &Block, series: Input, sources: Vec<String>) -> (tempfile::TempDir, Block, u8) {
    let dir = tempfile::tempdir().unwrap();
    let m = b.meta();
    let meta = write_block(dir.path(), m.min_time, m.max_time, series, 2, sources).unwrap();
    let nb = Block::open(&dir.path().join(&meta.id)).unwrap();
    let bytes = std::fs::read(dir.path().join(&meta.id).join(CHUNKS_FILE)).unwrap();
    (dir, nb, bytes[4])
}

/// A block written by the version-1 writer (XOR chunks only): two series
/// imported every 15 s from 1700000000000 ms, a counter `3 i` and a gauge
/// `sqrt(i)`, cut at 1700006400000.
const V1_BLOCK: &str = "testdata/block_v1/01M89SA3MZ28WD8HCB580SMHMA";

#[test]
fn a_version_1_block_still_opens_and_merges_into_delta_chunks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(V1_BLOCK);
    let expected = |name: &str| {
        fixture_samples(427, name, |name, i| {
            if name == "fixture_gauge" {
                (i as f64).sqrt()
            } else {
                (3 * i) as f64
            }
        })
    };
    let samples = |series: &Input| -> Vec<(String, Vec<(i64, f64)>)> {
        series
            .iter()
            .map(|(l, cs)| {
                let name = l.get("__name__").unwrap().to_string();
                (name, super::recode::samples_of(cs))
            })
            .collect()
    };
    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    let old: Input = b.all_series().unwrap().map(Result::unwrap).collect();
    assert!(old
        .iter()
        .all(|(_, cs)| cs.iter().all(|c| c.encoding == ENCODING_XOR)));
    for (name, got) in samples(&old) {
        assert!(
            crate::chunkenc::same_samples(&got, &expected(&name)),
            "{name}"
        );
    }
    // written again (as a merge does): the newest version, the counter in
    // delta chunks
    let (_dir, nb, version) = written_again(&b, old, b.meta().sources.clone());
    assert_eq!(version, 4, "chunks file version");
    let new: Input = nb.all_series().unwrap().map(Result::unwrap).collect();
    let kinds: Vec<(String, u8)> = new
        .iter()
        .map(|(l, cs)| (l.get("__name__").unwrap().to_string(), cs[0].encoding))
        .collect();
    assert!(kinds.contains(&(
        "fixture_counter_total".into(),
        crate::chunkenc::ENCODING_DELTA2
    )));
    for (name, got) in samples(&new) {
        assert!(
            crate::chunkenc::same_samples(&got, &expected(&name)),
            "{name}"
        );
    }
}

/// A block written by the version-2 writer (delta chunks in the first
/// layout): three series every 15 s from 1700000000000 ms, 600 samples
/// each, a counter `3 i + i mod 7`, a gauge `sqrt(i)` (decimal only at
/// squares, so delta and XOR chunks alternate) and a ratio
/// `(37 i mod 1000) / 1000`.
const V2_BLOCK: &str = "testdata/block_v2/01M8A434AW87JX4159Y4ZH6HEY";

#[test]
fn a_version_2_block_still_opens_and_merges_into_the_second_layout() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(V2_BLOCK);
    let expected = |name: &str| {
        fixture_samples(600, name, |name, i| match name {
            "fixture_counter_total" => (3 * i + i % 7) as f64,
            "fixture_gauge" => (i as f64).sqrt(),
            _ => ((i * 37) % 1000) as f64 / 1000.0,
        })
    };
    let check = |series: &Input| {
        assert_eq!(series.len(), 3);
        for (l, cs) in series {
            let name = l.get("__name__").unwrap();
            let got = super::recode::samples_of(cs);
            assert!(
                crate::chunkenc::same_samples(&got, &expected(name)),
                "{name}"
            );
        }
    };
    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    let old: Input = b.all_series().unwrap().map(Result::unwrap).collect();
    let tags: std::collections::BTreeSet<u8> = old
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.encoding))
        .collect();
    assert_eq!(tags, [ENCODING_XOR, crate::chunkenc::ENCODING_DELTA].into());
    check(&old);
    let old_bytes: usize = old
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.data.len()))
        .sum();
    // written again: the newest version, delta chunks in the second layout, smaller
    let (_dir, nb, version) = written_again(&b, old, vec![]);
    nb.verify().unwrap();
    assert_eq!(version, 4, "chunks file version");
    let new: Input = nb.all_series().unwrap().map(Result::unwrap).collect();
    assert!(new.iter().all(|(_, cs)| cs
        .iter()
        .all(|c| c.encoding != crate::chunkenc::ENCODING_DELTA)));
    check(&new);
    let new_bytes: usize = new
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.data.len()))
        .sum();
    assert!(new_bytes < old_bytes, "{new_bytes} >= {old_bytes}");
}

/// The encoding tags of a chunks file's records, with their offsets.
fn record_tags(chunks_file: &[u8]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut o = 8;
    while o + 5 <= chunks_file.len() {
        let bits = u16::from_le_bytes([chunks_file[o + 3], chunks_file[o + 4]]) as usize;
        out.push((o, chunks_file[o]));
        o += 5 + bits.div_ceil(8) + 4;
    }
    out
}

/// A classic histogram as one target's scrapes store it: buckets at five
/// bounds, `_count` and `_sum`, `n` samples every 15 s (the same
/// timestamps for all).
fn histogram_input(n: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let count = |i: i64| (7 * i + (i * i) % 11) as f64;
    let mut out: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    let series = |f: &dyn Fn(i64) -> f64| {
        fixture_samples(n, "", |_, _| 0.0)
            .into_iter()
            .enumerate()
            .map(|(i, (t, _))| (t, f(i as i64)))
            .collect::<Vec<_>>()
    };
    for (le, frac) in [
        ("0.1", 0.2),
        ("0.5", 0.7),
        ("1", 0.95),
        ("5", 0.999),
        ("+Inf", 1.0),
    ] {
        let l = Labels::from_pairs(&[("__name__", "h_bucket"), ("le", le)]);
        out.push((l, series(&|i| (count(i) * frac).floor())));
    }
    out.push((
        Labels::from_pairs(&[("__name__", "h_count")]),
        series(&count),
    ));
    let sum = |i: i64| (count(i) * 0.123 * 1000.0).round() / 1000.0;
    out.push((Labels::from_pairs(&[("__name__", "h_sum")]), series(&sum)));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn histogram_series_are_stored_against_each_other_and_read_back_exactly() {
    let hist = histogram_input(720);
    let input: Input = hist
        .iter()
        .map(|(l, s)| (l.clone(), make_chunks(s)))
        .collect();
    let alone: usize = hist
        .iter()
        .flat_map(|(_, s)| super::recode::encode_samples(s))
        .map(|c| c.data.len() + 9)
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let meta = write_block(dir.path(), 0, i64::MAX, input, 1, vec![]).unwrap();
    let path = dir.path().join(&meta.id);
    let bytes = std::fs::read(path.join(CHUNKS_FILE)).unwrap();
    assert_eq!(bytes[4], 4, "chunks file version");
    let tags = record_tags(&bytes);
    let kinds: Vec<u8> = tags.iter().map(|(_, t)| *t).collect();
    // two chunks a series (480 + 240 samples), in label order: buckets
    // +Inf, 0.1, 0.5, 1, 5, then `_count`, `_sum`. The first stands alone;
    // buckets 1 and 5 and `_count` (equal to +Inf) differ from +Inf by
    // little, and are stored against it.
    assert_eq!(kinds.len(), 14);
    assert_eq!(kinds[..2], [crate::chunkenc::ENCODING_DELTA2; 2]);
    assert_eq!(
        kinds[6..12],
        [crate::chunkenc::ENCODING_DELTA_REF; 6],
        "{kinds:?}"
    );
    let stored = bytes.len() - 8;
    eprintln!("histogram chunks: {stored} bytes, {alone} standing alone");
    assert!(
        stored * 4 < alone * 3,
        "{stored} bytes, {alone} standing alone"
    );

    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    let check = |b: &Block| {
        for (l, want) in &hist {
            let ms = [Matcher::equal("__name__", l.get("__name__").unwrap())];
            let le = l.get("le").map(|v| Matcher::equal("le", v));
            let ms: Vec<Matcher> = ms.into_iter().chain(le).collect();
            let sel = b.select(&ms, i64::MIN, i64::MAX).unwrap();
            assert_eq!(sel.len(), 1, "{l}");
            let got: Vec<(i64, f64)> = sel[0].1.iter().flat_map(|c| c.iter()).collect();
            assert!(crate::chunkenc::same_samples(&got, want), "{l}");
        }
        // all at once: a chunk others are stored against is decoded once
        // for all of them
        let all = b
            .select(
                &[Matcher::new(MatchOp::RegexMatch, "__name__", "h_.*").unwrap()],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(all.len(), hist.len());
        let shared = all
            .iter()
            .flat_map(|(_, cs)| cs)
            .filter(|c| c.shared.is_some())
            .count();
        assert!(shared >= 8, "{shared} chunks decoded for several");
        for ((l, cs), (wl, want)) in all.iter().zip(&hist) {
            assert_eq!(l, wl);
            let got: Vec<(i64, f64)> = cs.iter().flat_map(|c| c.iter()).collect();
            assert!(crate::chunkenc::same_samples(&got, want), "{l}");
        }
    };
    check(&b);
    // owned, every chunk stands alone; written again, the same samples
    let all: Input = b.all_series().unwrap().map(Result::unwrap).collect();
    assert!(all.iter().all(|(_, cs)| cs
        .iter()
        .all(|c| c.encoding != crate::chunkenc::ENCODING_DELTA_REF)));
    let (_dir, again, version) = written_again(&b, all, vec![]);
    assert_eq!(version, 4);
    again.verify().unwrap();
    check(&again);

    // a damaged chunk fails the chunks stored against it too
    let (at, _) = tags
        .iter()
        .find(|(_, t)| *t == crate::chunkenc::ENCODING_DELTA_REF)
        .copied()
        .unwrap();
    let mut cur = crate::encoding::Cursor::at(&bytes, at + 5);
    let base = at - cur.uvarint().unwrap() as usize;
    let mut bad = bytes.clone();
    bad[base + 7] ^= 0x10;
    std::fs::write(path.join(CHUNKS_FILE), &bad).unwrap();
    let b = Block::open(&path).unwrap();
    let failing = hist
        .iter()
        .filter(|(l, _)| {
            let mut ms = vec![Matcher::equal("__name__", l.get("__name__").unwrap())];
            ms.extend(l.get("le").map(|v| Matcher::equal("le", v)));
            b.select(&ms, i64::MIN, i64::MAX).is_err()
        })
        .count();
    assert!(failing >= 2, "{failing} series fail");
}

/// A block written by the version-3 writer (stand-alone delta chunks): a
/// histogram's buckets `le` 0.5, 1 and +Inf and its `_count`, imported
/// every 15 s from 1700000000000 ms, `_count` = `3 i + i mod 7` and the
/// buckets `floor(6 count / 10)`, `floor(9 count / 10)` and `count`.
const V3_BLOCK: &str = "testdata/block_v3/01M8AG1J1R5QSEH4394SDN1342";

#[test]
fn a_version_3_block_still_opens_and_merges_into_chunks_stored_against_others() {
    let expected = |l: &Labels, t: i64| {
        let i = (t - 1_700_000_000_000) / 15_000;
        let count = 3 * i + i % 7;
        match l.get("le") {
            Some("0.5") => (6 * count / 10) as f64,
            Some("1") => (9 * count / 10) as f64,
            _ => count as f64,
        }
    };
    let check = |series: &Input| {
        assert_eq!(series.len(), 4);
        for (l, cs) in series {
            let got = super::recode::samples_of(cs);
            assert!(got.len() > 400, "{l}: {} samples", got.len());
            for (t, v) in got {
                assert_eq!(v, expected(l, t), "{l} at {t}");
            }
        }
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(V3_BLOCK);
    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    let old: Input = b.all_series().unwrap().map(Result::unwrap).collect();
    assert!(old.iter().all(|(_, cs)| cs
        .iter()
        .all(|c| c.encoding == crate::chunkenc::ENCODING_DELTA2)));
    check(&old);
    // written again: version 4, `_count` (the last series, equal to +Inf)
    // stored against +Inf
    let (_dir, nb, version) = written_again(&b, old, vec![]);
    nb.verify().unwrap();
    assert_eq!(version, 4, "chunks file version");
    let bytes = std::fs::read(nb.dir().join(CHUNKS_FILE)).unwrap();
    let tags = record_tags(&bytes);
    assert_eq!(tags.len(), 4);
    assert_eq!(tags[3].1, crate::chunkenc::ENCODING_DELTA_REF, "{tags:?}");
    let old_len = std::fs::metadata(path.join(CHUNKS_FILE)).unwrap().len();
    assert!(
        (bytes.len() as u64) < old_len,
        "{} >= {old_len}",
        bytes.len()
    );
    check(&nb.all_series().unwrap().map(Result::unwrap).collect());
}

#[test]
fn a_histograms_count_is_stored_against_its_inf_bucket_beyond_the_window() {
    // three handlers' buckets (7 bounds each) come before all the counts
    let count = |h: i64, i: i64| ((5 + h) * i + (i * i) % 13) as f64;
    let mut hist: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for h in 0..3i64 {
        let handler = format!("/h{h}");
        for (le, frac) in [
            ("0.1", 0.1),
            ("0.5", 0.4),
            ("1", 0.6),
            ("2.5", 0.8),
            ("5", 0.9),
            ("10", 0.95),
            ("+Inf", 1.0),
        ] {
            let l =
                Labels::from_pairs(&[("__name__", "h_bucket"), ("handler", &handler), ("le", le)]);
            let s = fixture_samples(720, "", |_, _| 0.0)
                .into_iter()
                .enumerate()
                .map(|(i, (t, _))| (t, (count(h, i as i64) * frac).floor()))
                .collect();
            hist.push((l, s));
        }
        let l = Labels::from_pairs(&[("__name__", "h_count"), ("handler", &handler)]);
        let s = fixture_samples(720, "", |_, _| 0.0)
            .into_iter()
            .enumerate()
            .map(|(i, (t, _))| (t, count(h, i as i64)))
            .collect();
        hist.push((l, s));
    }
    hist.sort_by(|a, b| a.0.cmp(&b.0));
    let input: Input = hist
        .iter()
        .map(|(l, s)| (l.clone(), make_chunks(s)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let meta = write_block(dir.path(), 0, i64::MAX, input, 1, vec![]).unwrap();
    let path = dir.path().join(&meta.id);
    let bytes = std::fs::read(path.join(CHUNKS_FILE)).unwrap();
    let tags = record_tags(&bytes);
    // 24 series of two chunks; the last 6 records are the three counts',
    // each stored against its +Inf bucket, 7 to 21 series back
    assert_eq!(tags.len(), 48);
    for &(at, tag) in &tags[42..] {
        assert_eq!(tag, crate::chunkenc::ENCODING_DELTA_REF, "record at {at}");
        let mut cur = crate::encoding::Cursor::at(&bytes, at + 5);
        let back = cur.uvarint().unwrap() as usize;
        let base_series = tags.iter().position(|(o, _)| *o == at - back).unwrap() / 2;
        assert!(base_series < 21, "stored against series {base_series}");
        assert_eq!(hist[base_series].0.get("le"), Some("+Inf"));
    }
    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    for (l, want) in &hist {
        let ms: Vec<Matcher> = l
            .iter()
            .map(|l| Matcher::equal(&l.name, &l.value))
            .collect();
        let sel = b.select(&ms, i64::MIN, i64::MAX).unwrap();
        let got: Vec<(i64, f64)> = sel[0].1.iter().flat_map(|c| c.iter()).collect();
        assert!(crate::chunkenc::same_samples(&got, want), "{l}");
    }
}

/// Native histograms like a busy service's request latencies (schema 3,
/// a few observations a step spread over about 30 buckets) of `series`
/// series, one sample every `step` ms over the 2 h range starting at
/// `start`, stored in a histogram store in `dir`, plus one sample in the
/// next range so that every chunk of the range is closed in its range
/// file.
fn latency_histograms(
    dir: &Path,
    series: usize,
    step: i64,
    start: i64,
) -> crate::histstore::HistStore {
    use crate::histogram::FloatHistogram;
    let store = crate::histstore::HistStore::open(dir).unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let labels: Vec<Labels> = (0..series)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "request_duration_seconds"),
                ("instance", "127.0.0.1:9100"),
                ("instance_id", &i.to_string()),
                ("job", "histograms"),
                ("route", &format!("/r{}", i % 20)),
            ])
        })
        .collect();
    let mut state: Vec<(f64, f64, std::collections::BTreeMap<i32, f64>)> =
        vec![(0.0, 0.0, Default::default()); series];
    let steps = 2 * 3600 * 1000 / step + 1;
    for k in 0..steps {
        let t = start + k * step;
        let mut batch = Vec::with_capacity(series);
        for (i, l) in labels.iter().enumerate() {
            let st = &mut state[i];
            for _ in 0..next() % 21 {
                // about log-normal: the sum of uniforms, scaled
                let u: f64 = (0..4)
                    .map(|_| (next() % 10_000) as f64 / 10_000.0)
                    .sum::<f64>()
                    - 2.0;
                let v = (-2.5 + 0.8 * u * 1.7).exp();
                st.0 += 1.0;
                st.1 += v;
                *st.2.entry((v.log2() * 8.0).ceil() as i32).or_default() += 1.0;
            }
            batch.push((
                l.clone(),
                t,
                FloatHistogram {
                    schema: 3,
                    count: st.0,
                    sum: st.1,
                    positive: st.2.iter().map(|(&i, &c)| (i, c)).collect(),
                    ..Default::default()
                },
            ));
        }
        store.append(batch, None).unwrap();
    }
    store
}

/// A block's `histograms` file: what goes in comes back (samples, series,
/// stats, merged parts), it is smaller than the range file of the same
/// chunks, and a damaged one fails the block's opening.
#[test]
fn histograms_file_round_trip_size_and_damage() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_006_400_000i64;
    let end = start + 2 * 3600 * 1000;
    let store = latency_histograms(dir.path(), 20, 15_000, start);
    let hist = store.collect_range(start, end).unwrap();
    assert_eq!(hist.len(), 20);
    let chunks: usize = hist.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(chunks, 20 * 4, "480 samples a series, 120 a chunk");
    let blocks = dir.path().join("blocks");
    let floats = simple_input(3, 50);
    let meta = write_block_with(&blocks, start, end, floats.clone(), &hist, 1, vec![]).unwrap();
    assert_eq!(
        (meta.hist.series, meta.hist.chunks, meta.hist.samples),
        (20, 80, 20 * 480)
    );
    let path = blocks.join(&meta.id);
    let b = Block::open(&path).unwrap();
    b.verify().unwrap();
    assert_eq!(b.meta(), &meta);
    // the size (for size retention) counts every file, histograms included
    let files: u64 = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(b.size_bytes(), files);
    let h = b.histograms().unwrap();
    let all = [Matcher::equal("__name__", "request_duration_seconds")];
    assert_eq!(h.all(), hist);
    // the samples as the store gives them, hints included
    assert_eq!(
        h.select(&all, i64::MIN, i64::MAX).unwrap(),
        store.select(&all, start, end - 1).unwrap()
    );
    let some = [Matcher::equal("route", "/r3")];
    let got = h
        .select(&some, start + 3600 * 1000, start + 3600 * 1000 + 60_000)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.len(), 5, "4 samples a minute, both ends in");
    assert_eq!(h.series(&some, i64::MIN, i64::MAX).len(), 1);
    assert!(h.series(&some, end, i64::MAX).is_empty());
    assert!(h.holds(&hist[0].0, hist[0].1[1].mint));
    assert!(!h.holds(&hist[0].0, hist[0].1[1].mint + 1));
    // the floats are untouched
    assert_eq!(got_select(&b, &[], i64::MIN, i64::MAX), stored(&floats));
    // a block without histograms has no file, and its meta no stats
    let plain = write_block(&blocks, start, end, floats, 1, vec![]).unwrap();
    assert!(!blocks.join(&plain.id).join("histograms").exists());
    assert!(Block::open(&blocks.join(&plain.id))
        .unwrap()
        .histograms()
        .is_none());

    // the same chunks take fewer bytes than in the range file (labels
    // once a series instead of once a chunk)
    let range_file = std::fs::metadata(dir.path().join("histograms").join(format!("p{start}")))
        .unwrap()
        .len();
    let block_file = std::fs::metadata(path.join("histograms")).unwrap().len();
    assert!(block_file < range_file, "{block_file} vs {range_file}");

    // damage: a flipped byte, a missing file
    let mut bytes = std::fs::read(path.join("histograms")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(path.join("histograms"), &bytes).unwrap();
    assert!(matches!(
        Block::open(&path),
        Err(crate::Error::Corruption { .. })
    ));
    std::fs::remove_file(path.join("histograms")).unwrap();
    assert!(Block::open(&path).is_err());
}

/// Bytes per native histogram sample of the same closed chunks in a
/// range file (labels with each chunk) and in a block's `histograms`
/// file (labels once a series), for the latency histograms of 200 series
/// scraped every 15 s and every second over one 2 h range. Printed with
/// `--nocapture`.
#[test]
fn histogram_bytes_per_sample_range_file_and_block() {
    for (series, step) in [(200, 15_000), (20, 1_000)] {
        let dir = tempfile::tempdir().unwrap();
        let start = 1_700_006_400_000i64;
        let end = start + 2 * 3600 * 1000;
        let store = latency_histograms(dir.path(), series, step, start);
        let hist = store.collect_range(start, end).unwrap();
        let samples: u64 = hist
            .iter()
            .flat_map(|(_, c)| c)
            .map(|c| u64::from(c.count))
            .sum();
        let range_file = std::fs::metadata(dir.path().join("histograms").join(format!("p{start}")))
            .unwrap()
            .len();
        let (block_file, _) = histograms::encode(&hist).unwrap();
        let (r, b) = (
            range_file as f64 / samples as f64,
            block_file.len() as f64 / samples as f64,
        );
        println!(
            "{series} series every {} s: {samples} samples, range file {range_file} B ({r:.2} B/sample), block file {} B ({b:.2} B/sample), {:.1} % smaller",
            step / 1000,
            block_file.len(),
            (1.0 - b / r) * 100.0
        );
        assert!(b < r);
    }
}
