//! OTLP metrics bodies, protobuf or JSON (the first byte's low bit), plain
//! or gzip-compressed as sent, translated to series with the settings the
//! first byte's other bits pick.
#![no_main]

use flint::otlp::{self, names::Strategy, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let ct = if mode & 1 == 0 {
        "application/x-protobuf"
    } else {
        "application/json"
    };
    let encoding = (mode & 2 != 0).then_some("gzip");
    let Ok(req) = otlp::decode(Some(ct), encoding, body) else {
        return;
    };
    let s = Settings {
        strategy: match (mode >> 2) & 3 {
            0 => Strategy::UnderscoreEscapingWithSuffixes,
            1 => Strategy::UnderscoreEscapingWithoutSuffixes,
            2 => Strategy::NoUtf8EscapingWithSuffixes,
            _ => Strategy::NoTranslation,
        },
        promote_all: mode & 16 != 0,
        promote: vec!["service.namespace".into(), "k8s.pod.name".into()],
        ignore: vec!["host.name".into()],
        keep_identifying: mode & 32 != 0,
        promote_scope: mode & 32 != 0,
        underscore_sanitization: mode & 64 == 0,
        preserve_multiple_underscores: mode & 64 == 0,
        allow_delta: mode & 128 != 0,
        ..Settings::default()
    };
    let _ = otlp::translate(&req, &s);
});
