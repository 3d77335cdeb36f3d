//! `es_bulk`: decodes the Elasticsearch bulk API format (newline-delimited JSON: an action
//! line such as `{"index":{"_index":"logs","_id":"1"}}` followed by the document, except
//! for `delete`, which has none), as Logstash's es_bulk codec. Each document becomes an
//! event (under `target` when set); the action's metadata, plus `action` (`index`,
//! `create`, `update`, `delete`), goes to `[@metadata]` (legacy) or
//! `[@metadata][codec][es_bulk]` (ECS). A `delete` gives an event holding only that
//! metadata. A line that is not JSON is logged and skipped, as Logstash does; an action
//! that is not an object is logged and skipped too.
//!
//! Logstash's codec cannot encode; this one writes each event as an `index` action with
//! the event as the document, which a bulk request (or the decoder) accepts.

use crate::framing::LineSplitter;
use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Event, FieldRef, Map, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "target",
        OptKind::Field,
        "put the document under this field instead of the root",
    ),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "where the action metadata goes: [@metadata] (disabled) or [@metadata][codec][es_bulk]",
    ),
];

#[derive(Clone)]
pub struct EsBulkCodec {
    target: Option<FieldRef>,
    metadata_field: FieldRef,
    /// The action line waiting for its document.
    pending: Option<Map>,
    lines: LineSplitter,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let ecs = args.ecs(ctx)?.enabled();
    let metadata_field = if ecs {
        FieldRef::from_path(["@metadata", "codec", "es_bulk"])
    } else {
        FieldRef::from_path(["@metadata"])
    };
    Ok(Box::new(EsBulkCodec {
        target: args.field("target")?,
        metadata_field,
        pending: None,
        lines: LineSplitter::new(b"\n", 0),
    }))
}

impl EsBulkCodec {
    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let value: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, data = %String::from_utf8_lossy(line), "JSON parse failure. ES Bulk messages must be UTF-8 JSON");
                return;
            }
        };
        match self.pending.take() {
            Some(meta) => {
                let mut event = match (value, &self.target) {
                    (v, Some(t)) => {
                        let mut e = Event::new();
                        let _ = e.set(t, v);
                        e
                    }
                    (Value::Object(m), None) => Event::from_map(*m),
                    (other, None) => {
                        tracing::error!(
                            kind = other.type_name(),
                            "es_bulk document is not a JSON object; skipped"
                        );
                        return;
                    }
                };
                let _ = event.set(&self.metadata_field, Value::Object(Box::new(meta)));
                out.push(event);
            }
            None => {
                let Value::Object(action) = value else {
                    tracing::error!("es_bulk action line is not a JSON object; skipped");
                    return;
                };
                let Some((name, body)) = action.first() else {
                    tracing::error!("es_bulk action line is empty; skipped");
                    return;
                };
                let name = name.to_string();
                let mut meta = match body {
                    Value::Object(m) => (**m).clone(),
                    _ => {
                        tracing::error!(action = %name, "es_bulk action metadata is not an object; skipped");
                        return;
                    }
                };
                meta.insert("action", Value::from(name.as_str()));
                if name == "delete" {
                    let mut event = Event::new();
                    let _ = event.set(&self.metadata_field, Value::Object(Box::new(meta)));
                    out.push(event);
                } else {
                    self.pending = Some(meta);
                }
            }
        }
    }
}

impl Codec for EsBulkCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let mut lines = Vec::new();
        self.lines.push(data, &mut lines);
        for l in lines {
            self.line(&l.bytes, out);
        }
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        let mut rest = Vec::new();
        self.lines.flush(&mut rest);
        for l in rest {
            self.line(&l.bytes, out);
        }
    }

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"index\":{}}\n");
        event.write_json(out);
        out.push(b'\n');
    }

    fn structured(&self) -> bool {
        true
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        let mut c = self.clone();
        c.lines = LineSplitter::new(b"\n", 0);
        c.pending = None;
        Box::new(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Ecs;

    fn decode(ecs: Ecs, args: Args, data: &str) -> Vec<Event> {
        let ctx = BuildContext {
            ecs,
            ..BuildContext::default()
        };
        let mut c = build(&args, &ctx).unwrap();
        let mut out = Vec::new();
        // Split across calls to exercise the carried partial line.
        let (a, b) = data.split_at(data.len() / 2);
        c.decode(a.as_bytes(), &mut out);
        c.decode(b.as_bytes(), &mut out);
        c.flush(&mut out);
        out
    }

    fn get(e: &Event, r: &str) -> Option<Value> {
        e.get(&FieldRef::parse(r).unwrap()).cloned()
    }

    const BULK: &str = "{\"index\":{\"_index\":\"test\",\"_type\":\"type1\",\"_id\":\"1\"}}\n{\"field1\":\"value1\"}\n{\"delete\":{\"_index\":\"test\",\"_id\":\"2\"}}\n{\"create\":{\"_index\":\"test\",\"_id\":\"3\"}}\n{\"field1\":\"value3\"}\n";

    #[test]
    fn legacy_metadata_at_root_of_metadata() {
        let out = decode(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            BULK,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(get(&out[0], "field1"), Some("value1".into()));
        assert_eq!(get(&out[0], "[@metadata][_index]"), Some("test".into()));
        assert_eq!(get(&out[0], "[@metadata][_id]"), Some("1".into()));
        assert_eq!(get(&out[0], "[@metadata][action]"), Some("index".into()));
        assert_eq!(get(&out[1], "[@metadata][action]"), Some("delete".into()));
        assert_eq!(get(&out[1], "field1"), None);
        assert_eq!(get(&out[2], "[@metadata][action]"), Some("create".into()));
    }

    #[test]
    fn ecs_metadata_and_target() {
        let args =
            Args::for_plugin(crate::registry::Kind::Codec, OPTIONS).with("target", "[doc]".into());
        let out = decode(Ecs::V8, args, BULK);
        assert_eq!(get(&out[0], "[doc][field1]"), Some("value1".into()));
        assert_eq!(
            get(&out[0], "[@metadata][codec][es_bulk][_id]"),
            Some("1".into())
        );
    }

    #[test]
    fn bad_lines_are_skipped() {
        let data = "not json\n[1]\n{\"index\":5}\n{\"index\":{\"_id\":\"9\"}}\n{\"a\":1}\n";
        let out = decode(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            data,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(get(&out[0], "[@metadata][_id]"), Some("9".into()));
    }

    #[test]
    fn encode_writes_index_actions() {
        let ctx = BuildContext::default();
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &ctx,
        )
        .unwrap();
        let mut e = Event::new();
        let _ = e.set(&FieldRef::top("a"), Value::Integer(1));
        let mut out = Vec::new();
        c.encode(&e, &mut out);
        let mut d = Vec::new();
        c.decode(&out, &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!(get(&d[0], "a"), Some(Value::Integer(1)));
        assert_eq!(
            get(&d[0], "[@metadata][codec][es_bulk][action]"),
            Some("index".into())
        );
    }
}
