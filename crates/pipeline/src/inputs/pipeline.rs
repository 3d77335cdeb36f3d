//! `pipeline`: receives the events other pipelines of this process send to `address` with
//! their `pipeline` output (Logstash's pipeline-to-pipeline communication).
//!
//! Events arrive in this pipeline's queue as they left the upstream pipeline, with their
//! acknowledgements: the upstream source checkpoints an event only once this pipeline's
//! outputs delivered it. The input's own `type`, `tags` and `add_field` are applied on
//! arrival. Only one input in the process may listen on an address.

use crate::input_context::InputContext;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Input};

pub static OPTIONS: &[OptSpec] = &[OptSpec::new(
    "address",
    OptKind::String,
    "the virtual address upstream `pipeline` outputs send to (`send_to`)",
)
.required()];

pub struct PipelineInput {
    address: String,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let address = args.string("address").unwrap_or_default();
    if address.trim().is_empty() {
        return Err(BuildError::option("address", "cannot be empty"));
    }
    Ok(Box::new(PipelineInput { address }))
}

impl Input for PipelineInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let bus = ctx.build.bus.clone();
            let listening = bus.listen(
                &self.address,
                &ctx.build.pipeline_id,
                ctx.sender.clone(),
                ctx.decorator.clone(),
            )?;
            tracing::info!(address = %self.address, pipeline = %ctx.build.pipeline_id, "pipeline input listening");
            ctx.shutdown_requested().await;
            listening.close().await;
            Ok(())
        })
    }
}
