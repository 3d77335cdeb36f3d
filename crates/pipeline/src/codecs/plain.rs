//! `plain`: the data as the message (no line splitting); `format` or the default text on
//! encode, without a delimiter.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Event, Template};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "format",
        OptKind::String,
        "sprintf format for encoding; default: timestamp host message",
    ),
    crate::registry::CHARSET,
];

#[derive(Clone)]
pub struct PlainCodec {
    format: Option<Template>,
    original: bool,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let ecs = args.ecs(ctx)?;
    Ok(Box::new(PlainCodec {
        format: args.string("format").map(|f| Template::compile(&f)),
        original: ecs.enabled(),
    }))
}

impl Codec for PlainCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let text = String::from_utf8_lossy(data);
        let mut e = Event::from_message(text.as_ref());
        if self.original {
            super::set_original(&mut e, &text);
        }
        out.push(e);
    }

    fn flush(&mut self, _out: &mut Vec<Event>) {}

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        match &self.format {
            Some(f) => out.extend_from_slice(f.render(event).as_bytes()),
            None => out.extend_from_slice(super::default_text(event).as_bytes()),
        }
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(self.clone())
    }

    fn for_streams(&self) -> Option<Box<dyn Codec>> {
        Some(Box::new(super::line::LineCodec::from_plain(
            self.format.clone(),
            self.original,
        )))
    }
}
