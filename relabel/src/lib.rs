//! Relabeling: Prometheus's `<relabel_config>` rules, applied to target
//! label sets (`relabel_configs`) and to scraped series
//! (`metric_relabel_configs`).
//!
//! The semantics follow Prometheus 3 (`model/relabel/relabel.go`) with its
//! default UTF-8 name validation scheme:
//!
//! * regular expressions are anchored as `^(?s:REGEX)$` (so `.` also matches
//!   a newline) and serialize back as written;
//! * source label values are joined with the separator, absent labels
//!   counting as the empty string;
//! * `$1`, `${1}`, `$name` and `${name}` in `replacement` (and in
//!   `target_label` for `replace`) expand exactly like Go's
//!   `Regexp.Expand`: `$1x` names the group `1x`, not group 1 followed by
//!   `x`; write `${1}x` for that;
//! * setting a label to the empty value deletes it;
//! * a label name is valid when it is non-empty (UTF-8 scheme), so
//!   `target_label: foo.bar` is accepted.
//!
//! Rules are applied to a small copy-on-write builder over the input label
//! set, so a chain of rules copies the labels at most once, at the end.
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use md5::{Digest, Md5};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tsdb::labels::{Label, Labels};

mod error;

pub use error::{RegexpError, UnknownAction, ValidateError};

/// The default `regex` of a rule.
const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` of a rule.
const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement` of a rule.
const DEFAULT_REPLACEMENT: &str = "$1";

/// What a relabeling rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Sets `target_label` to the expanded `replacement` when `regex`
    /// matches the joined source value (the default).
    #[default]
    Replace,
    /// Drops the set unless `regex` matches the joined source value.
    Keep,
    /// Drops the set when `regex` matches the joined source value.
    Drop,
    /// Drops the set unless the joined source value equals the value of
    /// `target_label`.
    KeepEqual,
    /// Drops the set when the joined source value equals the value of
    /// `target_label`.
    DropEqual,
    /// Sets `target_label` to the MD5 hash of the joined source value
    /// modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the name given by
    /// expanding `replacement` against that name.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the lower-cased joined source value.
    Lowercase,
    /// Sets `target_label` to the upper-cased joined source value.
    Uppercase,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The configuration name of the action (`replace`, `keepequal`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownAction;

    /// Parses an action name case-insensitively, as Prometheus does.
    fn from_str(s: &str) -> Result<Self, UnknownAction> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| UnknownAction(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A relabeling regular expression: anchored at both ends when matching,
/// compared, printed and serialized as the source the user wrote.
#[derive(Clone)]
pub struct Regexp {
    source: String,
    re: regex::Regex,
    /// True only for the default of an omitted `regex` key. Prometheus tells
    /// an omitted regex from an explicit `(.*)` (`keepequal` and
    /// `dropequal` reject the latter); so do we.
    default: bool,
}

impl Regexp {
    /// Compiles `source` as `^(?s:source)$`. The error reads like
    /// Prometheus's: ``error parsing regexp: <reason>: `<anchored pattern>` ``.
    pub fn new(source: &str) -> Result<Self, RegexpError> {
        let anchored = format!("^(?s:{source})$");
        match regex::Regex::new(&anchored) {
            Ok(re) => Ok(Regexp {
                source: source.to_string(),
                re,
                default: false,
            }),
            Err(e) => Err(RegexpError {
                reason: regex_error_reason(&e),
                anchored,
            }),
        }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the anchored expression matches `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// Whether this is the default of an omitted `regex` key.
    pub fn is_default(&self) -> bool {
        self.default
    }
}

impl Default for Regexp {
    /// `(.*)`, marked as the default.
    fn default() -> Self {
        static DEFAULT: OnceLock<regex::Regex> = OnceLock::new();
        let re = DEFAULT
            .get_or_init(|| {
                regex::Regex::new(&format!("^(?s:{DEFAULT_REGEX})$"))
                    .expect("the default relabel regex is valid")
            })
            .clone();
        Regexp {
            source: DEFAULT_REGEX.to_string(),
            re,
            default: true,
        }
    }
}

impl PartialEq for Regexp {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Regexp {}

impl fmt::Debug for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regexp").field(&self.source).finish()
    }
}

impl fmt::Display for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Regexp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Regexp {
    /// A string compiles as written; an explicit null (`regex:` with no
    /// value) is the empty expression, which only matches the empty string,
    /// as in Prometheus.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Regexp::new(&s).map_err(D::Error::custom)
    }
}

/// The one-line reason out of a `regex` error (whose syntax errors span
/// several lines, pointing at the offending position).
fn regex_error_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(msg) => msg
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(msg)
            .trim()
            .to_string(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}

/// One relabeling rule, as written under `relabel_configs` or
/// `metric_relabel_configs`. Omitted keys take Prometheus's defaults; keys
/// given as an explicit null take the zero value (empty string, 0), as in
/// Prometheus. Call [`RelabelConfig::validate`] after parsing.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    /// Labels whose values are joined (with `separator`) into the input of
    /// the rule; an absent label contributes the empty string.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_labels: Vec<String>,
    /// Placed between the source label values; default `;`.
    #[serde(deserialize_with = "null_as_default")]
    pub separator: String,
    /// Matched against the joined value (or against label names for
    /// `labelmap`, `labeldrop` and `labelkeep`); default `(.*)`.
    #[serde(skip_serializing_if = "Regexp::is_default")]
    pub regex: Regexp,
    /// Divisor for `hashmod`; default 0, which `hashmod` rejects.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase` and
    /// `uppercase`, or compared by `keepequal` and `dropequal`. For `replace`
    /// it may refer to capture groups.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub target_label: String,
    /// The value written by `replace` or the name written by `labelmap`,
    /// with capture group references; default `$1`.
    #[serde(deserialize_with = "null_as_default")]
    pub replacement: String,
    /// What the rule does; default `replace`.
    #[serde(deserialize_with = "action_not_null")]
    pub action: Action,
}

impl Default for RelabelConfig {
    /// Prometheus's defaults: `replace` with regex `(.*)`, separator `;` and
    /// replacement `$1`, no source or target labels.
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: Regexp::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
        }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn action_not_null<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
    Option::<Action>::deserialize(d)?
        .ok_or_else(|| D::Error::custom("relabel action cannot be empty"))
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether `name` is a valid label name under Prometheus 3's default UTF-8
/// validation scheme: any non-empty string.
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

impl RelabelConfig {
    /// The checks Prometheus makes when it loads a configuration, with its
    /// messages, in its order.
    pub fn validate(&self) -> Result<(), ValidateError> {
        let action = self.action;
        let target = self.target_label.as_str();
        // Prometheus checks this while parsing `source_labels`.
        if let Some(name) = self.source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(ValidateError::SourceLabel(name.clone()));
        }
        if action == Action::HashMod && self.modulus == 0 {
            return Err(ValidateError::ZeroModulus);
        }
        let writes_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if writes_target && target.is_empty() {
            return Err(ValidateError::NoTarget(action));
        }
        // Prometheus checks a templated `replace` target and a literal one
        // separately; under the UTF-8 scheme both are a plain name check.
        // (Under the legacy scheme a templated target must match
        // `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`.)
        let single_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if (action == Action::Replace || single_target) && !is_valid_label_name(target) {
            return Err(ValidateError::Target {
                target: target.to_string(),
                action,
            });
        }
        if single_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err(ValidateError::ReplacementSet(action));
        }
        if action == Action::LabelMap && !is_valid_label_name(&self.replacement) {
            return Err(ValidateError::Replacement {
                replacement: self.replacement.clone(),
                action,
            });
        }
        if action == Action::HashMod && !is_valid_label_name(target) {
            return Err(ValidateError::Target {
                target: target.to_string(),
                action,
            });
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (!self.regex.is_default()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(ValidateError::EqualFields(action));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(ValidateError::LabelFields(action));
        }
        Ok(())
    }
}

/// Applies the configs in order; `None` when the set is dropped.
///
/// Configs are expected to have passed [`RelabelConfig::validate`]; an
/// unvalidated one never panics (a `hashmod` with modulus 0 does nothing).
/// As in Prometheus, the result is not checked for valid label names:
/// `labelmap` can produce an empty name if its replacement expands to
/// nothing, so callers that store the result should validate it.
pub fn relabel(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    match process(labels, cfgs) {
        Outcome::Dropped => None,
        Outcome::Unchanged => Some(labels.clone()),
        Outcome::Changed(ls) => Some(ls),
    }
}

/// Like [`relabel`], but takes the set by value and hands it back without a
/// copy when no rule changes it.
pub fn relabel_owned(labels: Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    match process(&labels, cfgs) {
        Outcome::Dropped => None,
        Outcome::Unchanged => Some(labels),
        Outcome::Changed(ls) => Some(ls),
    }
}

enum Outcome {
    Dropped,
    Unchanged,
    Changed(Labels),
}

fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Outcome {
    let mut b = Builder::new(labels.as_slice());
    for cfg in cfgs {
        if !apply(cfg, &mut b) {
            return Outcome::Dropped;
        }
    }
    if b.changed {
        Outcome::Changed(b.finish())
    } else {
        Outcome::Unchanged
    }
}

/// Applies one rule; false when the set is dropped.
fn apply(cfg: &RelabelConfig, b: &mut Builder<'_>) -> bool {
    let mut val = String::new();
    for (i, name) in cfg.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&cfg.separator);
        }
        val.push_str(b.get(name));
    }
    match cfg.action {
        Action::Drop => return !cfg.regex.is_match(&val),
        Action::Keep => return cfg.regex.is_match(&val),
        Action::DropEqual => return b.get(&cfg.target_label) != val,
        Action::KeepEqual => return b.get(&cfg.target_label) == val,
        Action::Replace => replace(cfg, &val, b),
        Action::Lowercase => b.set(cfg.target_label.clone(), go_to_lower(&val)),
        Action::Uppercase => b.set(cfg.target_label.clone(), go_to_upper(&val)),
        Action::HashMod => {
            let digest = Md5::digest(val.as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&digest[8..]);
            // A modulus of 0 fails validation; unvalidated, it does nothing.
            if let Some(m) = u64::from_be_bytes(tail).checked_rem(cfg.modulus) {
                b.set(cfg.target_label.clone(), m.to_string());
            }
        }
        Action::LabelMap => {
            // Every new name is computed from the labels as they stood before
            // the rule, then set in iteration order (later wins on clashes).
            let sets: Vec<(String, String)> = b
                .iter()
                .filter(|l| cfg.regex.is_match(&l.name))
                .map(|l| {
                    let name = replace_all(&cfg.regex.re, &l.name, &cfg.replacement);
                    (name, l.value.to_string())
                })
                .collect();
            for (name, value) in sets {
                b.set(name, value);
            }
        }
        Action::LabelDrop | Action::LabelKeep => {
            let drop_matching = cfg.action == Action::LabelDrop;
            let names: Vec<String> = b
                .iter()
                .filter(|l| cfg.regex.is_match(&l.name) == drop_matching)
                .map(|l| l.name.to_string())
                .collect();
            for name in &names {
                b.del(name);
            }
        }
    }
    true
}

fn replace(cfg: &RelabelConfig, val: &str, b: &mut Builder<'_>) {
    // Prometheus's shortcut for the common "set a constant" rule; it
    // bypasses the name check of the general path, which validation makes
    // redundant for a literal target.
    if val.is_empty()
        && cfg.regex.is_default()
        && !cfg.target_label.contains('$')
        && !cfg.replacement.contains('$')
    {
        b.set(cfg.target_label.clone(), cfg.replacement.clone());
        return;
    }
    let Some(caps) = cfg.regex.re.captures(val) else {
        return;
    };
    let mut target = String::new();
    expand(&cfg.target_label, &caps, &mut target);
    if !is_valid_label_name(&target) {
        return;
    }
    let mut value = String::new();
    expand(&cfg.replacement, &caps, &mut value);
    b.set(target, value);
}

/// Appends `template` to `out`, expanding capture references as Go's
/// `Regexp.Expand` does: `$$` is a literal `$`; `$name` takes the longest
/// run of letters, digits and `_` as the name; `${name}` delimits it; a name
/// of ASCII digits without a leading zero (and below 10^9) is a group index;
/// unknown or unmatched groups expand to nothing; a malformed reference
/// leaves its `$` as text.
fn expand(template: &str, caps: &regex::Captures<'_>, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, index, after)) = extract_reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match index {
            Some(i) => caps.get(i),
            None => caps.name(name),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
}

/// Parses the reference after a `$`: the name, its group index when it is
/// numeric, and the text after it. `None` when malformed.
fn extract_reference(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = name_prefix_len(body);
    if len == 0 {
        return None;
    }
    let (name, mut rest) = body.split_at(len);
    if braced {
        rest = rest.strip_prefix('}')?;
    }
    let mut index = Some(0usize);
    for b in name.bytes() {
        index = match index {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => {
                Some(n * 10 + usize::from(b - b'0'))
            }
            _ => None,
        };
        if index.is_none() {
            break;
        }
    }
    if name.len() > 1 && name.starts_with('0') {
        index = None;
    }
    Some((name, index, rest))
}

/// Length in bytes of the leading run of characters Go accepts in a
/// template name: `_`, Unicode letters (category L) and decimal digits (Nd).
fn name_prefix_len(s: &str) -> usize {
    for (i, c) in s.char_indices() {
        let ok = if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_'
        } else {
            is_letter_or_decimal_digit(c)
        };
        if !ok {
            return i;
        }
    }
    s.len()
}

fn is_letter_or_decimal_digit(c: char) -> bool {
    static CLASS: OnceLock<regex::Regex> = OnceLock::new();
    let re = CLASS.get_or_init(|| {
        regex::Regex::new(r"\A[\p{L}\p{Nd}]\z").expect("the letter/digit class is valid")
    });
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// Go's `Regexp.ReplaceAllString`: every match of `re` in `src` replaced by
/// the expanded template, including Go's handling of empty matches. With an
/// anchored expression that is a single whole-string match, but a pattern
/// such as `a)|(b` escapes the anchoring.
fn replace_all(re: &regex::Regex, src: &str, template: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut last_end = 0;
    let mut pos = 0;
    while pos <= src.len() {
        let Some(caps) = re.captures_at(src, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        out.push_str(&src[last_end..m.start()]);
        // No replacement for an empty match right after the previous match.
        if m.end() > last_end || m.start() == 0 {
            expand(template, &caps, &mut out);
        }
        last_end = m.end();
        let width = src[pos..].chars().next().map_or(0, char::len_utf8);
        if pos + width > m.end() {
            pos += width;
        } else if pos + 1 > m.end() {
            pos += 1;
        } else {
            pos = m.end();
        }
    }
    out.push_str(&src[last_end..]);
    out
}

/// Go's `strings.ToLower`: simple (one-to-one) case mapping, rune by rune,
/// with no context rules (a final `Σ` becomes `σ`, not `ς`).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut it = c.to_lowercase();
            match (it.next(), it.next()) {
                (Some(l), None) => l,
                // The only multi-character lowercase mapping: U+0130 `İ`,
                // whose simple mapping is `i`.
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToUpper`: simple (one-to-one) case mapping, rune by rune
/// (`ß` stays `ß`, `ﬁ` stays `ﬁ`).
fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => u,
                _ => simple_upper_of_expanding(c),
            }
        })
        .collect()
}

/// The simple uppercase mapping of a character whose full mapping expands
/// to several characters: the Greek letters with ypogegrammeni map to their
/// title-case forms; all others (`ß`, ligatures, ...) map to themselves.
fn simple_upper_of_expanding(c: char) -> char {
    let shifted = match u32::from(c) {
        cp @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => cp + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return c,
    };
    char::from_u32(shifted).unwrap_or(c)
}

/// A label set under modification, over a borrowed sorted base: base labels
/// that were overwritten or deleted are hidden, new values are kept in
/// insertion order. This mirrors Prometheus's `labels.Builder`, including
/// the order in which rules see the labels (untouched base labels by name,
/// then set labels in the order they were first set), which decides which
/// label wins when `labelmap` maps two names onto one.
struct Builder<'a> {
    base: &'a [Label],
    /// Per base label: overwritten or deleted. Empty until the first change.
    hidden: Vec<bool>,
    /// Labels set by rules, in the order first set; values are non-empty.
    added: Vec<Label>,
    changed: bool,
}

impl<'a> Builder<'a> {
    fn new(base: &'a [Label]) -> Self {
        Builder {
            base,
            hidden: Vec::new(),
            added: Vec::new(),
            changed: false,
        }
    }

    fn base_index(&self, name: &str) -> Option<usize> {
        self.base
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
    }

    fn is_hidden(&self, i: usize) -> bool {
        self.hidden.get(i).copied().unwrap_or(false)
    }

    fn hide(&mut self, name: &str) {
        if let Some(i) = self.base_index(name) {
            if self.hidden.is_empty() {
                self.hidden = vec![false; self.base.len()];
            }
            if let Some(h) = self.hidden.get_mut(i) {
                *h = true;
            }
        }
    }

    /// The current value of `name`; empty when absent.
    fn get(&self, name: &str) -> &str {
        if let Some(l) = self.added.iter().find(|l| l.name == name) {
            return &l.value;
        }
        match self.base_index(name) {
            Some(i) if !self.is_hidden(i) => &self.base[i].value,
            _ => "",
        }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    fn set(&mut self, name: String, value: String) {
        if value.is_empty() {
            self.del(&name);
            return;
        }
        self.changed = true;
        if let Some(l) = self.added.iter_mut().find(|l| l.name == name) {
            l.value = value.into();
            return;
        }
        self.hide(&name);
        self.added.push(Label::new(name, value));
    }

    fn del(&mut self, name: &str) {
        let before = self.added.len();
        self.added.retain(|l| l.name != name);
        let had_base = matches!(self.base_index(name), Some(i) if !self.is_hidden(i));
        if had_base || self.added.len() != before {
            self.changed = true;
        }
        self.hide(name);
    }

    /// The current labels: untouched base labels by name, then set labels
    /// in the order first set.
    fn iter(&self) -> impl Iterator<Item = &Label> + '_ {
        self.base
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_hidden(*i))
            .map(|(_, l)| l)
            .chain(self.added.iter())
    }

    fn finish(self) -> Labels {
        let mut out: Vec<Label> = Vec::with_capacity(self.base.len() + self.added.len());
        out.extend(
            self.base
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.is_hidden(*i))
                .map(|(_, l)| l.clone()),
        );
        out.extend(self.added);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Labels::from_sorted(out)
    }
}

#[cfg(test)]
mod tests;
