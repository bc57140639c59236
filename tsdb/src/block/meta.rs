//! `meta.json`: a block's id, time range, statistics and compaction
//! history, written and parsed by hand (a tiny JSON subset: objects,
//! arrays, strings, integers, booleans, null; unknown fields are ignored).

use std::path::Path;

use super::format::corrupt;
use super::id::is_block_id;
use crate::Error;

/// Version of the meta file.
const META_VERSION: i128 = 1;
/// Deepest nesting the parser accepts.
const MAX_DEPTH: usize = 16;

/// What `meta.json` says about a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockMeta {
    /// The block id, also the folder name.
    pub id: String,
    /// First timestamp the block covers, ms, inclusive.
    pub min_time: i64,
    /// End of the range the block covers, ms, exclusive (as Prometheus).
    pub max_time: i64,
    /// Series in the block.
    pub num_series: u64,
    /// Chunks in the block.
    pub num_chunks: u64,
    /// Samples in the block.
    pub num_samples: u64,
    /// Native histogram series, chunks and samples in the block's
    /// `histograms` file (0 when it has none).
    pub hist: super::histograms::HistStats,
    /// Compaction level: 1 for a block cut from the head, parents' maximum
    /// plus one for a compacted block.
    pub level: u32,
    /// Ids of the level-1 blocks whose data this block holds (itself for a
    /// level-1 block).
    pub sources: Vec<String>,
}

impl BlockMeta {
    /// The JSON text, with a trailing newline.
    pub(crate) fn to_json(&self) -> String {
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|s| format!("      {}", quote(s)))
            .collect();
        let sources = if sources.is_empty() {
            "[]".to_string()
        } else {
            format!("[\n{}\n    ]", sources.join(",\n"))
        };
        let hist = if self.hist.series > 0 {
            format!(
                ",\n    \"numHistogramSeries\": {},\n    \"numHistogramChunks\": {},\n    \
                 \"numHistogramSamples\": {}",
                self.hist.series, self.hist.chunks, self.hist.samples
            )
        } else {
            String::new()
        };
        format!(
            "{{\n  \"version\": {META_VERSION},\n  \"id\": {},\n  \"minTime\": {},\n  \
             \"maxTime\": {},\n  \"stats\": {{\n    \"numSeries\": {},\n    \
             \"numChunks\": {},\n    \"numSamples\": {}{hist}\n  }},\n  \"compaction\": {{\n    \
             \"level\": {},\n    \"sources\": {sources}\n  }}\n}}\n",
            quote(&self.id),
            self.min_time,
            self.max_time,
            self.num_series,
            self.num_chunks,
            self.num_samples,
            self.level,
        )
    }

    /// Parses and checks the JSON text of the file at `path`.
    pub(crate) fn parse(path: &Path, text: &[u8]) -> Result<BlockMeta, Error> {
        let bad = |off: usize, detail: String| corrupt(path, off as u64, detail);
        let mut p = Parser { s: text, pos: 0 };
        let root = p.value(0).map_err(|(o, d)| bad(o, d))?;
        p.ws();
        if p.pos != text.len() {
            return Err(bad(p.pos, "trailing data after JSON".into()));
        }
        let field = |v: &Json, key: &str| -> Result<Json, Error> {
            match v {
                Json::Object(fields) => fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| bad(0, format!("missing field {key:?}"))),
                _ => Err(bad(0, format!("{key:?}: parent is not an object"))),
            }
        };
        let int = |v: &Json, key: &str, min: i128, max: i128| -> Result<i128, Error> {
            match field(v, key)? {
                Json::Int(i) if (min..=max).contains(&i) => Ok(i),
                _ => Err(bad(0, format!("{key:?}: not an integer in range"))),
            }
        };
        let version = int(&root, "version", 0, i128::MAX)?;
        if version != META_VERSION {
            return Err(bad(0, format!("unsupported meta version {version}")));
        }
        let Json::Str(id) = field(&root, "id")? else {
            return Err(bad(0, "\"id\": not a string".into()));
        };
        if !is_block_id(&id) {
            return Err(bad(0, format!("malformed block id {id:?}")));
        }
        let (i64min, i64max) = (i64::MIN as i128, i64::MAX as i128);
        let min_time = int(&root, "minTime", i64min, i64max)? as i64;
        let max_time = int(&root, "maxTime", i64min, i64max)? as i64;
        let stats = field(&root, "stats")?;
        let u64max = u64::MAX as i128;
        let num_series = int(&stats, "numSeries", 0, u64max)? as u64;
        let num_chunks = int(&stats, "numChunks", 0, u64max)? as u64;
        let num_samples = int(&stats, "numSamples", 0, u64max)? as u64;
        let opt = |key: &str| -> Result<u64, Error> {
            match &stats {
                Json::Object(f) if f.iter().any(|(k, _)| k == key) => {
                    Ok(int(&stats, key, 0, u64max)? as u64)
                }
                _ => Ok(0),
            }
        };
        let hist = super::histograms::HistStats {
            series: opt("numHistogramSeries")?,
            chunks: opt("numHistogramChunks")?,
            samples: opt("numHistogramSamples")?,
        };
        let comp = field(&root, "compaction")?;
        let level = int(&comp, "level", 0, u32::MAX as i128)? as u32;
        let Json::Array(items) = field(&comp, "sources")? else {
            return Err(bad(0, "\"sources\": not an array".into()));
        };
        let mut sources = Vec::with_capacity(items.len());
        for it in items {
            match it {
                Json::Str(s) if is_block_id(&s) => sources.push(s),
                _ => return Err(bad(0, "\"sources\": not all block ids".into())),
            }
        }
        Ok(BlockMeta {
            id,
            min_time,
            max_time,
            num_series,
            num_chunks,
            num_samples,
            hist,
            level,
            sources,
        })
    }
}

/// A JSON string literal for `s`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A parsed JSON value (numbers: integers only).
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A parse error: byte offset and what was wrong.
type PErr = (usize, String);

/// A recursive-descent parser over the bytes of a JSON text.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, PErr> {
        Err((self.pos, what.to_string()))
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, PErr> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.ws();
        match self.s.get(self.pos) {
            None => self.err("unexpected end"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'-' | b'0'..=b'9') => self.int(),
            _ if self.eat(b"true") => Ok(Json::Bool(true)),
            _ if self.eat(b"false") => Ok(Json::Bool(false)),
            _ if self.eat(b"null") => Ok(Json::Null),
            _ => self.err("unexpected character"),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, PErr> {
        self.pos += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(Json::Object(fields));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return self.err("expected a key");
            }
            let k = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return self.err("expected ':'");
            }
            let v = self.value(depth + 1)?;
            fields.push((k, v));
            self.ws();
            if self.eat(b"}") {
                return Ok(Json::Object(fields));
            }
            if !self.eat(b",") {
                return self.err("expected ',' or '}'");
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, PErr> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b"]") {
                return Ok(Json::Array(items));
            }
            if !self.eat(b",") {
                return self.err("expected ',' or ']'");
            }
        }
    }

    fn int(&mut self) -> Result<Json, PErr> {
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let n = self.pos - digits;
        if n == 0 || n > 30 || (n > 1 && self.s[digits] == b'0') {
            return self.err("malformed integer");
        }
        if matches!(self.s.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return self.err("only integers are supported");
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse::<i128>().ok())
            .map(Json::Int)
            .ok_or((start, "malformed integer".to_string()))
    }

    fn hex4(&mut self) -> Result<u32, PErr> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return self.err("short \\u escape");
        };
        let v = std::str::from_utf8(h)
            .ok()
            .and_then(|t| u32::from_str_radix(t, 16).ok());
        match v {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String, PErr> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return self.err("unterminated string");
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return self.err("unterminated escape");
                    };
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp) && self.eat(b"\\u") {
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return self.err("bad surrogate pair");
                                }
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            }
                            match char::from_u32(cp) {
                                Some(ch) => ch,
                                None => return self.err("bad code point"),
                            }
                        }
                        _ => return self.err("unknown escape"),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                c if c < 0x20 => return self.err("control character in string"),
                c => out.push(c),
            }
        }
        String::from_utf8(out).or_else(|_| self.err("invalid UTF-8 in string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BlockMeta {
        BlockMeta {
            id: "01HZX5Q6M8V4N2K3J7T9R0WXYZ".into(),
            min_time: -5,
            max_time: 7_200_000,
            num_series: 3,
            num_chunks: u64::MAX,
            num_samples: 0,
            hist: Default::default(),
            level: 2,
            sources: vec![
                "01HZX5Q6M8V4N2K3J7T9R0WXYA".into(),
                "01HZX5Q6M8V4N2K3J7T9R0WXYB".into(),
            ],
        }
    }

    #[test]
    fn roundtrip() {
        let p = Path::new("meta.json");
        let m = meta();
        let text = m.to_json();
        assert_eq!(BlockMeta::parse(p, text.as_bytes()).unwrap(), m);
        let m0 = BlockMeta {
            sources: vec![],
            ..meta()
        };
        assert_eq!(BlockMeta::parse(p, m0.to_json().as_bytes()).unwrap(), m0);
        let m1 = BlockMeta {
            hist: super::super::histograms::HistStats {
                series: 2,
                chunks: 5,
                samples: 400,
            },
            ..meta()
        };
        let text = m1.to_json();
        assert!(text.contains("\"numHistogramSamples\": 400"), "{text}");
        assert_eq!(BlockMeta::parse(p, text.as_bytes()).unwrap(), m1);
        assert!(!meta().to_json().contains("Histogram"));
    }

    #[test]
    fn accepts_other_layouts_and_unknown_fields() {
        let text = r#" {"compaction":{"sources":["01HZX5Q6M8V4N2K3J7T9R0WXYA"],"level":1,
            "parents":[{"x":null}]},"extra":[true,false,"a\u00e9\ud83d\ude00\n"],
            "stats":{"numSamples":1,"numChunks":2,"numSeries":3},
            "maxTime":10,"minTime":0,"id":"01HZX5Q6M8V4N2K3J7T9R0WXYZ","version":1} "#;
        let m = BlockMeta::parse(Path::new("m"), text.as_bytes()).unwrap();
        assert_eq!((m.num_series, m.num_chunks, m.num_samples), (3, 2, 1));
        assert_eq!(m.level, 1);
    }

    #[test]
    fn rejects_bad_input() {
        let p = Path::new("m");
        let good = meta().to_json();
        for bad in [
            "",
            "{",
            "[1,2]",
            "{\"version\":1}",
            &good.replace("\"version\": 1", "\"version\": 2"),
            &good.replace("\"level\": 2", "\"level\": -2"),
            &good.replace("\"minTime\": -5", "\"minTime\": 1.5"),
            &good.replace("\"minTime\": -5", "\"minTime\": 99999999999999999999"),
            &good.replace("01HZX5Q6M8V4N2K3J7T9R0WXYZ", "nope"),
            &format!("{good}x"),
            &"[".repeat(100),
        ] {
            assert!(BlockMeta::parse(p, bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
