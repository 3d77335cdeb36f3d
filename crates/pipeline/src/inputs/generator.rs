//! `generator`: emits `lines` (or `message`) `count` times; for tests and benchmarks.

use crate::input_context::InputContext;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::{FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec that decodes each generated line",
    )
    .default("\"plain\""),
    OptSpec::new("message", OptKind::String, "the message to emit").default("\"Hello world!\""),
    OptSpec::new(
        "lines",
        OptKind::Array,
        "messages emitted in turn (overrides message)",
    ),
    OptSpec::new(
        "count",
        OptKind::Number,
        "how many times to emit; 0 means forever",
    )
    .default("0"),
    OptSpec::new("threads", OptKind::Number, "accepted for compatibility").default("1"),
];

pub struct GeneratorInput {
    lines: Vec<String>,
    count: u64,
    codec: Box<dyn Codec>,
    ecs: bool,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let mut lines = args.strings("lines");
    if lines.is_empty() {
        lines.push(args.string("message").unwrap_or_default());
    }
    let count = args.i64("count").unwrap_or_default();
    if count < 0 {
        return Err(BuildError::option(
            "count",
            "must be 0 (forever) or positive",
        ));
    }
    let ecs = args.ecs(ctx)?;
    Ok(Box::new(GeneratorInput {
        lines,
        count: count as u64,
        codec: args.codec("codec")?,
        ecs: ecs.enabled(),
    }))
}

impl Input for GeneratorInput {
    fn run(mut self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let host = super::hostname();
            let seq_ref = if self.ecs {
                FieldRef::from_path(["event", "sequence"])
            } else {
                FieldRef::top("sequence")
            };
            let mut seq: u64 = 0;
            let mut events = Vec::new();
            let mut out = Vec::with_capacity(128);
            while self.count == 0 || seq < self.count {
                if ctx.is_shutdown() {
                    break;
                }
                for line in &self.lines {
                    self.codec.decode(line.as_bytes(), &mut events);
                    self.codec.flush(&mut events);
                    for mut e in events.drain(..) {
                        let _ = e.set(&seq_ref, Value::Integer(seq as i64));
                        super::set_host(&mut e, &host, self.ecs);
                        out.push(e);
                    }
                }
                seq += 1;
                if out.len() >= 128 && ctx.emit_batch(std::mem::take(&mut out)).await.is_err() {
                    return Ok(());
                }
            }
            if !out.is_empty() {
                let _ = ctx.emit_batch(out).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emits_count_times_each_line() {
        let args = Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
            .with(
                "lines",
                Value::Array(vec![Value::from("a"), Value::from("b")]),
            )
            .with("count", Value::Integer(3));
        let input = build(&args, &BuildContext::default()).unwrap();
        let (ctx, mut rx) = InputContext::for_test(100);
        input.run(ctx).await.unwrap();
        let mut msgs = Vec::new();
        while let Ok(e) = rx.try_recv() {
            msgs.push(e.get_top("message").unwrap().to_string());
        }
        assert_eq!(msgs, ["a", "b", "a", "b", "a", "b"]);
    }
}
