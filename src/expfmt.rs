//! Writing the text exposition format (`/metrics`, `/federate`) as
//! Prometheus's encoder writes it.

use std::fmt::Write as _;

use textparse::push_label_value;
use tsdb::labels::Labels;

/// Appends `name{labels} value [timestamp]\n`, without `__name__` in the
/// braces and with label values escaped.
pub fn write_sample(out: &mut String, labels: &Labels, v: f64, ts: Option<i64>) {
    out.push_str(labels.metric_name().unwrap_or(""));
    let mut first = true;
    for l in labels
        .iter()
        .filter(|l| l.name != tsdb::labels::METRIC_NAME)
    {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(&l.name);
        out.push_str("=\"");
        push_label_value(out, &l.value);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    out.push_str(&crate::gofmt::go_float(v));
    if let Some(t) = ts {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines() {
        let mut s = String::new();
        write_sample(
            &mut s,
            &Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b")]),
            1.0,
            Some(1000),
        );
        write_sample(
            &mut s,
            &Labels::from_pairs(&[("__name__", "x")]),
            0.25,
            None,
        );
        assert_eq!(s, "up{job=\"a\\\"b\"} 1 1000\nx 0.25\n");
    }
}
