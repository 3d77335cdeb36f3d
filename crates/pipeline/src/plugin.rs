//! The plugin interfaces. Filters are synchronous and run on worker threads; inputs and
//! outputs are async tasks.

use crate::options::BuildResult;
use logstash_mesos_core::{Acks, Event};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// What a plugin is built with lives in `settings.rs`; every plugin names it together with
// the traits, so it is re-exported here.
pub use crate::settings::{
    BuildContext, DlqSettings, DlqStoragePolicy, Ecs, HealthBoard, HealthEntry, NodeSettings,
};

/// What a filter did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied: the common options (add_field, add_tag, ...) run.
    Success,
    /// Not applied (no match, parse failure; the filter tagged the event itself): the
    /// common options do not run.
    Failure,
    /// The event is dropped on purpose (its acknowledgement counts as delivered).
    Drop,
}

/// Per-call context for a filter: a place to put new events (split, clone).
#[derive(Default)]
pub struct FilterContext {
    /// Events created by the filter; they continue through the filters after it.
    pub new_events: Vec<Event>,
    /// Events created by the filter on which Logstash calls `filter_matched` (split's
    /// pieces, clone's copies, elapsed's match event, aggregate's pushed maps): the
    /// runner applies the filter's common options (`add_field`, `add_tag`, ...) to each,
    /// then they continue like `new_events`.
    pub matched_events: Vec<Event>,
}

/// A filter: synchronous, shared by all workers (use interior mutability for state).
pub trait Filter: Send + Sync {
    fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome;

    /// True for filters that emit events on their own (metrics, aggregate and elapsed
    /// timeouts): the runner then calls [`Filter::flush`] periodically.
    fn wants_flush(&self) -> bool {
        false
    }

    /// Logstash's periodic flush: called every [`crate::runner::FLUSH_INTERVAL`] (5 s, the
    /// tick Logstash filters count in) with `final_flush == false`, and once more with
    /// `true` when the pipeline shuts down, after the last batch. Returned events continue
    /// through the filters after this one; with `Outcome::Success` the filter's common
    /// options (add_tag, ...) are applied to them first (Logstash's `filter_matched`).
    fn flush(&self, _final_flush: bool) -> Vec<(Event, Outcome)> {
        Vec::new()
    }
}

/// Decodes bytes into events and encodes events into bytes.
pub trait Codec: Send {
    /// Decodes a chunk of a stream; line-oriented codecs carry a partial last line over
    /// to the next call.
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>);
    /// End of stream: decodes whatever was carried over.
    fn flush(&mut self, out: &mut Vec<Event>);
    /// Encodes one event, appending to `out`.
    fn encode(&mut self, event: &Event, out: &mut Vec<u8>);
    /// A fresh codec with the same settings (each input stream gets its own).
    fn clone_box(&self) -> Box<dyn Codec>;
    /// True for codecs that decode whole documents (json): stdin then leaves the event's
    /// fields as the document has them rather than adding its own (host).
    fn structured(&self) -> bool {
        false
    }

    /// Logstash's `fix_streaming_codecs`: the line-oriented codec a stream input (stdin)
    /// switches to from this one (`plain` → `line`, `json` → `json_lines`), if any.
    fn for_streams(&self) -> Option<Box<dyn Codec>> {
        None
    }

    /// Decodes one complete record (a file line without its delimiter) that carries the
    /// source's acknowledgements. Every event decoded from it gets a clone of `acks`;
    /// codecs that hold records back across calls (multiline) override this to keep the
    /// acks with the data they hold and release them only with the event built from it.
    fn decode_acked(&mut self, record: &[u8], acks: Acks, out: &mut Vec<Event>) {
        let start = out.len();
        self.decode(record, out);
        for event in &mut out[start..] {
            match &acks {
                Acks::None => {}
                Acks::One(a) => event.attach_ack(a.clone()),
                Acks::Many(v) => v.iter().for_each(|a| event.attach_ack(a.clone())),
            }
        }
    }

    /// Emits data held back for longer than the codec allows (multiline's
    /// `auto_flush_interval`); inputs call it periodically while their source is idle.
    fn flush_expired(&mut self, _out: &mut Vec<Event>) {}
}

/// An output: receives batches of events; returns when every event in the batch was
/// accepted. Dropping the events releases their acknowledgements; an output that gives up
/// on an event (only at shutdown) must call `event.fail_acks()` first.
pub trait Output: Send + Sync {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()>;
    /// Flush and release resources at shutdown.
    fn close<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// An input: runs until its source ends or shutdown is requested.
pub trait Input: Send {
    fn run(
        self: Box<Self>,
        ctx: crate::input_context::InputContext,
    ) -> BoxFuture<'static, anyhow::Result<()>>;
}

/// Builder signatures used by the registry.
pub type FilterBuilder = fn(&crate::options::Args, &BuildContext) -> BuildResult<Box<dyn Filter>>;
pub type OutputBuilder = fn(&crate::options::Args, &BuildContext) -> BuildResult<Box<dyn Output>>;
pub type InputBuilder = fn(&crate::options::Args, &BuildContext) -> BuildResult<Box<dyn Input>>;
pub type CodecBuilder = fn(&crate::options::Args, &BuildContext) -> BuildResult<Box<dyn Codec>>;
