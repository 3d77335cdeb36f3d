//! `beats`: not implemented yet (issue 20).

use crate::input_context::InputContext;
use crate::options::{Args, BuildError, BuildResult, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Input};

pub static OPTIONS: &[OptSpec] = &[];

pub struct Stub;

pub fn build(_args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    Err(BuildError::option("beats", "the beats input is not implemented yet"))
}

impl Input for Stub {
    fn run(self: Box<Self>, _ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
