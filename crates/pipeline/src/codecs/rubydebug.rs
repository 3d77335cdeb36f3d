//! `rubydebug`: events pretty-printed the way Logstash's awesome_print output looks.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Event, Value};

pub static OPTIONS: &[OptSpec] =
    &[OptSpec::new("metadata", OptKind::Boolean, "also print @metadata").default("false")];

#[derive(Clone)]
pub struct RubyDebug {
    metadata: bool,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    Ok(Box::new(RubyDebug {
        metadata: args.flag("metadata"),
    }))
}

fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::String(s) => {
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
        }
        Value::Timestamp(t) => out.push_str(&t.to_string()),
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            let width = (a.len() - 1).to_string().len();
            for (i, item) in a.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 4));
                out.push_str(&format!("[{i:>width$}] "));
                write_value(out, item, indent + 4);
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Value::Object(m) => write_map(out, m.iter().map(|(k, v)| (k.as_str(), v)), indent),
        other => out.push_str(&other.to_logstash_string()),
    }
}

fn write_map<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a str, &'a Value)>,
    indent: usize,
) {
    let entries: Vec<_> = entries.collect();
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    let width = entries
        .iter()
        .map(|(k, _)| k.chars().count() + 2)
        .max()
        .unwrap_or(0);
    out.push_str("{\n");
    for (i, (k, v)) in entries.iter().enumerate() {
        let key = format!("\"{k}\"");
        out.push_str(&" ".repeat(indent + 4 + width - key.chars().count()));
        out.push_str(&key);
        out.push_str(" => ");
        write_value(out, v, indent + 4 + width + 4);
        if i + 1 < entries.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent));
    out.push('}');
}

impl Codec for RubyDebug {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        out.push(Event::from_message(String::from_utf8_lossy(data).as_ref()));
    }

    fn flush(&mut self, _out: &mut Vec<Event>) {}

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        let mut s = String::new();
        let meta = Value::from(event.metadata().clone());
        let extra = self.metadata.then_some(("@metadata", &meta));
        let fields = event.fields().iter().map(|(k, v)| (k.as_str(), v));
        write_map(&mut s, fields.chain(extra), 0);
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_keys() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut e = Event::from_message("hello");
        e.fields_mut().shift_remove("@timestamp");
        let mut out = Vec::new();
        c.encode(&e, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n    \"@version\" => \"1\",\n     \"message\" => \"hello\"\n}\n"
        );
    }
}
