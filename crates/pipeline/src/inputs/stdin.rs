//! `stdin`: events from standard input, decoded by the codec (default `line`).

use crate::input_context::InputContext;
use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use tokio::io::AsyncReadExt;

pub static OPTIONS: &[OptSpec] = &[OptSpec::new(
    "codec",
    OptKind::Codec,
    "the codec that decodes standard input",
)
.default("\"line\"")];

pub struct StdinInput {
    codec: Box<dyn Codec>,
    ecs: bool,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let ecs = args.ecs(ctx)?;
    let mut codec = args.codec("codec")?;
    // As Logstash's stdin (`fix_streaming_codecs`): standard input is a stream of lines, so
    // `plain` becomes `line` and `json` becomes `json_lines` (one event per line, not per
    // read chunk).
    if let Some(streaming) = codec.for_streams() {
        if let Some(name) = args.codec_spec("codec").map(|s| s.name.clone()) {
            tracing::info!(from = %name, "stdin: switching to the line-oriented codec, as Logstash does");
        }
        codec = streaming;
    }
    Ok(Box::new(StdinInput {
        codec,
        ecs: ecs.enabled(),
    }))
}

impl Input for StdinInput {
    fn run(mut self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let host = super::hostname();
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 64 * 1024];
            let mut events = Vec::new();
            loop {
                let n = tokio::select! {
                    r = stdin.read(&mut buf) => r?,
                    _ = ctx.shutdown_requested() => break,
                };
                if n == 0 {
                    self.codec.flush(&mut events);
                } else {
                    self.codec.decode(&buf[..n], &mut events);
                }
                // Text lines get this host (`[host][hostname]`, or `host` without ECS); a
                // JSON document keeps the fields it brings, so the conformance cases fed as
                // JSON lines see exactly their input.
                if !self.codec.structured() {
                    for e in events.iter_mut() {
                        super::set_host(e, &host, self.ecs);
                    }
                }
                if ctx.emit_batch(std::mem::take(&mut events)).await.is_err() {
                    return Ok(());
                }
                if n == 0 {
                    break;
                }
            }
            Ok(())
        })
    }
}
