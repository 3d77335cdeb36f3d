//! `json_lines`: newline-delimited JSON, one event per line.

use crate::framing::LineSplitter;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::Event;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("delimiter", OptKind::String, "the line delimiter").default("\"\n\""),
    crate::registry::CHARSET,
    OptSpec::new(
        "target",
        OptKind::Field,
        "put decoded fields under this field instead of the root",
    ),
];

#[derive(Clone)]
pub struct JsonLinesCodec {
    delimiter: Vec<u8>,
    target: Option<logstash_mesos_core::FieldRef>,
    /// Splits decoded data, carrying a partial last line.
    lines: LineSplitter,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let delimiter = args.string("delimiter").unwrap_or_default().into_bytes();
    if delimiter.is_empty() {
        return Err(BuildError::option("delimiter", "must not be empty"));
    }
    Ok(Box::new(JsonLinesCodec {
        lines: LineSplitter::new(&delimiter, 0),
        delimiter,
        target: args.field("target")?,
    }))
}

impl JsonLinesCodec {
    /// The `json_lines` codec a stream input uses instead of `json` with this target.
    pub(crate) fn from_json(target: Option<logstash_mesos_core::FieldRef>) -> JsonLinesCodec {
        JsonLinesCodec {
            delimiter: b"\n".to_vec(),
            target,
            lines: LineSplitter::new(b"\n", 0),
        }
    }
}

/// Blank lines are skipped, as Logstash's codec does.
fn decode_line(line: &[u8], target: Option<&logstash_mesos_core::FieldRef>, out: &mut Vec<Event>) {
    if !line.iter().all(u8::is_ascii_whitespace) {
        super::json::decode_json(line, target, out);
    }
}

impl Codec for JsonLinesCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let target = self.target.as_ref();
        self.lines
            .push_each(data, |l| decode_line(l.bytes, target, out));
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        let target = self.target.as_ref();
        self.lines.flush_each(|l| decode_line(l.bytes, target, out));
    }

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        event.write_json(out);
        out.extend_from_slice(&self.delimiter);
    }

    fn structured(&self) -> bool {
        true
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        let mut c = self.clone();
        c.lines.reset(0);
        Box::new(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Value;

    #[test]
    fn lines_and_round_trip() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.decode(b"{\"message\":\"a\"}\n{\"mess", &mut out);
        c.decode(b"age\":\"b\"}\n\n", &mut out);
        c.flush(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].get_top("message"), Some(&Value::from("b")));
        let mut bytes = Vec::new();
        c.encode(&out[0], &mut bytes);
        let s = String::from_utf8(bytes).unwrap();
        assert!(
            s.ends_with("\n")
                && s.contains("\"message\":\"a\"")
                && s.contains("\"@version\":\"1\""),
            "{s}"
        );
    }
}
