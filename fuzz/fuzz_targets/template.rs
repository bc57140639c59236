//! The alert template engine (Go's text/template): parsed, then executed
//! for an alert with a few labels and a query that returns one sample.
#![no_main]

use std::collections::BTreeMap;

use flint::config::PromDuration;
use gotemplate::{AlertData, Env, Sample, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Template::parse("fuzz", text) else {
        return;
    };
    let labels: BTreeMap<String, String> = [
        ("__name__", "up"),
        ("instance", "localhost:9090"),
        ("job", "prometheus"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let data = AlertData {
        labels: labels.clone(),
        external_labels: BTreeMap::from([("region".to_string(), "eu".to_string())]),
        external_url: "http://localhost:9090".into(),
        value: 1.5,
    };
    let query = |_: &str| -> Result<Vec<Sample>, String> {
        Ok(vec![Sample {
            labels: labels.clone(),
            value: 42.0,
        }])
    };
    let env = Env {
        query: &query,
        external_url: "http://localhost:9090",
        parse_duration: &|s| PromDuration::parse(s).map(|d| d.0).map_err(|e| e.to_string()),
    };
    let _ = t.execute(&data, &env);
});
