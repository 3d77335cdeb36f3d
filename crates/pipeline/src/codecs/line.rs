//! `line`: one event per line on decode; `format` (sprintf) or the default text plus the
//! delimiter on encode.

use crate::framing::LineSplitter;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Event, Template};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("delimiter", OptKind::String, "the line delimiter").default("\"\n\""),
    OptSpec::new(
        "format",
        OptKind::String,
        "sprintf format for encoding; default: timestamp host message",
    ),
    crate::registry::CHARSET,
];

#[derive(Clone)]
pub struct LineCodec {
    delimiter: Vec<u8>,
    format: Option<Template>,
    original: bool,
    /// Splits decoded data, carrying a partial last line.
    lines: LineSplitter,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let ecs = args.ecs(ctx)?;
    let delimiter = args.string("delimiter").unwrap_or_default().into_bytes();
    if delimiter.is_empty() {
        return Err(BuildError::option("delimiter", "must not be empty"));
    }
    Ok(Box::new(LineCodec {
        lines: LineSplitter::new(&delimiter, 0),
        delimiter,
        format: args.string("format").map(|f| Template::compile(&f)),
        original: ecs.enabled(),
    }))
}

impl LineCodec {
    /// The `line` codec a stream input uses instead of `plain` with these settings.
    pub(crate) fn from_plain(format: Option<Template>, original: bool) -> LineCodec {
        LineCodec {
            delimiter: b"\n".to_vec(),
            format,
            original,
            lines: LineSplitter::new(b"\n", 0),
        }
    }
}

/// One line as an event (`[event][original]` too under ECS).
fn event(bytes: &[u8], original: bool) -> Event {
    let text = String::from_utf8_lossy(bytes);
    let mut e = Event::from_message(text.as_ref());
    if original {
        super::set_original(&mut e, &text);
    }
    e
}

impl Codec for LineCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let original = self.original;
        self.lines
            .push_each(data, |l| out.push(event(l.bytes, original)));
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        let original = self.original;
        self.lines
            .flush_each(|l| out.push(event(l.bytes, original)));
    }

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        match &self.format {
            Some(f) => out.extend_from_slice(f.render(event).as_bytes()),
            None => out.extend_from_slice(super::default_text(event).as_bytes()),
        }
        out.extend_from_slice(&self.delimiter);
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

    #[test]
    fn carries_partial_lines() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.decode(b"one\ntw", &mut out);
        c.decode(b"o\nthree", &mut out);
        assert_eq!(out.len(), 2);
        c.flush(&mut out);
        let msgs: Vec<String> = out
            .iter()
            .map(|e| e.get_top("message").unwrap().to_string())
            .collect();
        assert_eq!(msgs, ["one", "two", "three"]);
    }

    #[test]
    fn encodes_format() {
        let args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS)
            .with("format", "%{message}!".into());
        let mut c = build(&args, &BuildContext::default()).unwrap();
        let mut out = Vec::new();
        c.encode(&Event::from_message("hi"), &mut out);
        assert_eq!(out, b"hi!\n");
    }

    #[test]
    fn multi_byte_delimiter_across_chunks_and_empty_delimiter_refused() {
        let args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS)
            .with("delimiter", "\r\n".into());
        let mut c = build(&args, &BuildContext::default()).unwrap();
        let mut out = Vec::new();
        c.decode(b"a\r", &mut out);
        c.decode(b"\nb\r\n", &mut out);
        let msgs: Vec<String> = out
            .iter()
            .map(|e| e.get_top("message").unwrap().to_string())
            .collect();
        assert_eq!(msgs, ["a", "b"]);
        let empty =
            Args::for_plugin(crate::registry::Kind::Codec, OPTIONS).with("delimiter", "".into());
        let err = build(&empty, &BuildContext::default()).err().unwrap();
        assert_eq!(err.option.as_deref(), Some("delimiter"));
    }
}
