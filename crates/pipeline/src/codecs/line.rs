//! `line`: one event per line on decode; `format` (sprintf) or the default text plus the
//! delimiter on encode.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
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
    buf: Vec<u8>,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let ecs = args.ecs(ctx)?;
    Ok(Box::new(LineCodec {
        delimiter: args.string("delimiter").unwrap_or_default().into_bytes(),
        format: args.string("format").map(|f| Template::compile(&f)),
        original: ecs.enabled(),
        buf: Vec::new(),
    }))
}

impl LineCodec {
    fn event(&self, bytes: &[u8]) -> Event {
        let text = String::from_utf8_lossy(bytes);
        let mut e = Event::from_message(text.as_ref());
        if self.original {
            super::set_original(&mut e, &text);
        }
        e
    }
}

impl Codec for LineCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let mut buf = std::mem::take(&mut self.buf);
        let delim = self.delimiter.clone();
        super::split_lines(&mut buf, data, &delim, |line| out.push(self.event(line)));
        self.buf = buf;
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            out.push(self.event(&rest));
        }
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
        c.buf.clear();
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
}
