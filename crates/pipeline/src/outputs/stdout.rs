//! `stdout`: events encoded by the codec (default `rubydebug`) on standard output.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Output};
use logstash_mesos_core::Event;
use std::io::Write;
use std::sync::Mutex;

pub static OPTIONS: &[OptSpec] =
    &[
        OptSpec::new("codec", OptKind::Codec, "the codec that encodes events")
            .default("\"rubydebug\""),
    ];

pub struct StdoutOutput {
    codec: Mutex<Box<dyn Codec>>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Output>> {
    Ok(Box::new(StdoutOutput {
        codec: Mutex::new(args.codec("codec")?),
    }))
}

impl Output for StdoutOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut buf = Vec::with_capacity(batch.len() * 256);
            {
                let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
                for e in &batch {
                    codec.encode(e, &mut buf);
                }
            }
            let mut out = std::io::stdout().lock();
            if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                // stdout closed (a pipe reader went away): these events were not delivered.
                batch.iter().for_each(Event::fail_acks);
            }
        })
    }
}
