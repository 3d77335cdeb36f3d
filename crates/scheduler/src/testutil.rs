//! Helpers shared by unit tests: where `shared/` is, JSON normalisation.

use serde_json::Value;
use std::path::PathBuf;

/// `shared/mesos/scheduler-api`, found relative to the crate (CI has `../shared`).
pub fn api_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/mesos/scheduler-api"
    ))
}

/// Protobuf-equivalence for comparing JSON: numbers compare as doubles (`2` == `2.0`)
/// and empty arrays equal absent fields (an empty repeated field is unset).
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !matches!(v, Value::Array(a) if a.is_empty()))
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        _ => v.clone(),
    }
}
