//! `pipeline`: sends events to the `pipeline` inputs of other pipelines of this process
//! (`send_to => [addresses]`), Logstash's pipeline-to-pipeline communication.
//!
//! Each address gets its own copy of every event, and all copies share the event's
//! acknowledgements: the source checkpoints the event once every downstream pipeline
//! delivered it. A full downstream queue blocks this output (back-pressure reaches the
//! first input). With `ensure_delivery => true` (the default) an address no pipeline
//! listens on is waited for, with a warning, until the pipeline comes (back) or shutdown;
//! with `false` such events are dropped with a warning, as Logstash does.

use crate::bus::{Attached, PipelineBus};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Output};
use logstash_mesos_core::Event;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "send_to",
        OptKind::Array,
        "the addresses of the downstream `pipeline` inputs",
    )
    .required(),
    OptSpec::new(
        "ensure_delivery",
        OptKind::Boolean,
        "wait for an address nobody listens on (true) or drop its events (false)",
    )
    .default("true"),
];

pub struct PipelineOutput {
    send_to: Vec<String>,
    ensure_delivery: bool,
    bus: PipelineBus,
    pipeline: String,
    /// Fired when the pipeline stops retrying (shutdown): undelivered events fail.
    shutdown: CancellationToken,
    _attached: Attached,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Output>> {
    let mut send_to: Vec<String> = args
        .strings("send_to")
        .into_iter()
        .map(|a| a.trim().to_string())
        .collect();
    if send_to.is_empty() || send_to.iter().any(String::is_empty) {
        return Err(BuildError::option(
            "send_to",
            "needs at least one non-empty address",
        ));
    }
    send_to.dedup();
    let attached = ctx.bus.attach(&send_to);
    Ok(Box::new(PipelineOutput {
        send_to,
        ensure_delivery: args.flag("ensure_delivery"),
        bus: ctx.bus.clone(),
        pipeline: ctx.pipeline_id.clone(),
        shutdown: ctx.shutdown.clone(),
        _attached: attached,
    }))
}

impl PipelineOutput {
    /// Moves `events` into the queue of the pipeline listening on `address`.
    async fn send_one(&self, address: &str, mut events: Vec<Event>) {
        let mut warned: Option<Instant> = None;
        while !events.is_empty() {
            let Some(listener) = self.bus.lookup(address) else {
                if !self.ensure_delivery {
                    tracing::warn!(pipeline = %self.pipeline, %address, dropped = events.len(),
                        "no pipeline listens on the address: events dropped (ensure_delivery => false)");
                    return;
                }
                if self.shutdown.is_cancelled() {
                    tracing::warn!(pipeline = %self.pipeline, %address, undelivered = events.len(),
                        "stopping with events no pipeline took: they are not acknowledged");
                    events.iter().for_each(Event::fail_acks);
                    return;
                }
                if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(pipeline = %self.pipeline, %address,
                        "no pipeline listens on the address; waiting for it (ensure_delivery => true)");
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    _ = self.bus.changed(Duration::from_millis(500)) => {}
                    _ = self.shutdown.cancelled() => {}
                }
                continue;
            };
            if !listener.decorator.is_empty() {
                events.iter_mut().for_each(|e| listener.decorator.apply(e));
            }
            // Move the events in chunks of reserved slots (one wake-up of the downstream
            // workers per chunk, not per event); a queue that closed under us (its
            // pipeline is reloading) leaves the rest to whoever listens next.
            let chunk = (listener.sender.max_capacity() / 2).max(1);
            let mut rest = events.into_iter().peekable();
            while rest.peek().is_some() {
                let want = rest.len().min(chunk);
                let Ok(permits) = listener.sender.reserve_many(want).await else {
                    break;
                };
                for (permit, e) in permits.zip(rest.by_ref()) {
                    permit.send(e);
                }
            }
            events = rest.collect();
            if !events.is_empty() {
                self.bus.changed(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Output for PipelineOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some((last, others)) = self.send_to.split_last() else {
                return;
            };
            // Copies for all addresses but the last, which takes the originals.
            for address in others {
                self.send_one(address, batch.clone()).await;
            }
            self.send_one(last, batch).await;
        })
    }
}
