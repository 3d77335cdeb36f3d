//! `null`: discards events; they count as delivered.

use crate::options::{Args, BuildResult, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Output};
use logstash_mesos_core::Event;

pub static OPTIONS: &[OptSpec] = &[];

pub struct NullOutput;

pub fn build(_args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Output>> {
    Ok(Box::new(NullOutput))
}

impl Output for NullOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        drop(batch);
        Box::pin(async {})
    }
}
