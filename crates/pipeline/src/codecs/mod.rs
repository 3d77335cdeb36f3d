//! Codecs: bytes ↔ events. One file per codec.

pub mod cef;
pub mod dots;
pub mod es_bulk;
pub mod json;
pub mod json_lines;
pub mod line;
pub mod multiline;
pub mod plain;
pub mod rubydebug;

/// The text form Logstash's line/plain codecs print for an event without `format`:
/// `<@timestamp> <host> <message>`.
pub(crate) fn default_text(event: &logstash_mesos_core::Event) -> String {
    use logstash_mesos_core::{FieldRef, Value};
    let ts = event.timestamp().map(|t| t.to_string()).unwrap_or_default();
    let host = ["[host][name]", "[host][hostname]", "host"]
        .iter()
        .filter_map(|r| FieldRef::parse(r).ok())
        .find_map(|r| match event.get(&r) {
            Some(Value::Object(_)) | None => None,
            Some(v) => Some(v.to_logstash_string()),
        })
        .unwrap_or_else(|| "%{host}".into());
    let msg = event
        .get_top("message")
        .map(|v| v.to_logstash_string())
        .unwrap_or_else(|| "%{message}".into());
    format!("{ts} {host} {msg}")
}

/// Marks a decoded event with `[event][original]` as Logstash 8's plain/line codecs do in
/// ECS mode.
pub(crate) fn set_original(event: &mut logstash_mesos_core::Event, text: &str) {
    use logstash_mesos_core::{FieldRef, Value};
    let _ = event.set(
        &FieldRef::from_path(["event", "original"]),
        Value::from(text),
    );
}
