//! `json`: one JSON document per chunk (an array gives one event per element); invalid
//! JSON becomes an event with the text as `message`, tagged `_jsonparsefailure`.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Event, Value};

pub static OPTIONS: &[OptSpec] = &[
    crate::registry::CHARSET,
    OptSpec::new(
        "target",
        OptKind::Field,
        "put decoded fields under this field instead of the root",
    ),
];

#[derive(Clone)]
pub struct JsonCodec {
    target: Option<logstash_mesos_core::FieldRef>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    Ok(Box::new(JsonCodec {
        target: args.field("target")?,
    }))
}

/// Decodes one JSON text into events, as both json codecs do.
pub(crate) fn decode_json(
    text: &[u8],
    target: Option<&logstash_mesos_core::FieldRef>,
    out: &mut Vec<Event>,
) {
    match serde_json::from_slice::<Value>(text) {
        Ok(v) => match (v, target) {
            (v, Some(t)) => {
                let mut e = Event::new();
                let _ = e.set(t, v);
                out.push(e);
            }
            (Value::Object(m), None) => out.push(Event::from_map(*m)),
            (Value::Array(items), None) => {
                for item in items {
                    match item {
                        Value::Object(m) => out.push(Event::from_map(*m)),
                        other => out.push(failure(other.to_logstash_string().as_bytes())),
                    }
                }
            }
            (_, None) => out.push(failure(text)),
        },
        Err(_) => out.push(failure(text)),
    }
}

fn failure(text: &[u8]) -> Event {
    let mut e = Event::from_message(String::from_utf8_lossy(text).as_ref());
    e.add_tag("_jsonparsefailure");
    e
}

impl Codec for JsonCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if data.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        decode_json(data, self.target.as_ref(), out);
    }

    fn flush(&mut self, _out: &mut Vec<Event>) {}

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        event.write_json(out);
    }

    fn structured(&self) -> bool {
        true
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(self.clone())
    }

    fn for_streams(&self) -> Option<Box<dyn Codec>> {
        Some(Box::new(super::json_lines::JsonLinesCodec::from_json(
            self.target.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::FieldRef;

    #[test]
    fn decodes_objects_arrays_and_failures() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.decode(br#"{"a":1}"#, &mut out);
        c.decode(br#"[{"a":2},{"a":3}]"#, &mut out);
        c.decode(b"{nope", &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(out[2].get(&FieldRef::top("a")), Some(&Value::Integer(3)));
        assert!(out[3].has_tag("_jsonparsefailure"));
        assert_eq!(out[3].get_top("message"), Some(&Value::from("{nope")));
    }
}
