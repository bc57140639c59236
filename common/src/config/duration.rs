//! Prometheus's duration syntax: `1y2w3d4h5m6s7ms` units in descending
//! order, each at most once; `0` alone is zero.

use std::fmt;
use std::time::Duration;

use super::error::DurationError;

/// A duration written in Prometheus's syntax; printed back the same way
/// (`1m30s`, `900ms`, `0s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PromDuration(pub Duration);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    /// Parses `s`; the error text is Prometheus's.
    pub fn parse(s: &str) -> Result<PromDuration, DurationError> {
        let bad = || DurationError::Invalid(s.to_string());
        if s == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        let mut last_unit = usize::MAX;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad());
            }
            let n: u64 = s[start..i].parse().map_err(|_| bad())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[ustart..i];
            let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
            if last_unit != usize::MAX && idx <= last_unit {
                return Err(bad());
            }
            last_unit = idx;
            total = n
                .checked_mul(UNITS[idx].1)
                .and_then(|v| total.checked_add(v))
                .ok_or(DurationError::OutOfRange)?;
        }
        Ok(PromDuration(Duration::from_millis(total)))
    }

    /// Milliseconds.
    pub fn as_millis(&self) -> i64 {
        self.0.as_millis() as i64
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in UNITS {
            // Prometheus prints weeks and years only when they divide exactly
            if (unit == "y" || unit == "w") && !ms.is_multiple_of(size) {
                continue;
            }
            if ms >= size {
                write!(f, "{}{}", ms / size, unit)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        PromDuration::parse(s).unwrap().as_millis()
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(ms("15s"), 15_000);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("5d"), 5 * 86_400_000);
        assert_eq!(ms("900ms"), 900);
        assert_eq!(ms("0"), 0);
        for bad in ["", "1", "1.5m", "5x", "30s1m", "1m1m", "-1s", "s"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad}");
        }
        for s in ["1m30s", "900ms", "15s", "1h", "2w", "1y", "0s", "1d1h"] {
            assert_eq!(PromDuration::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(PromDuration::parse("90s").unwrap().to_string(), "1m30s");
    }
}
