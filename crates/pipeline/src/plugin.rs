//! The plugin interfaces. Filters are synchronous and run on worker threads; inputs and
//! outputs are async tasks.

use crate::options::BuildResult;
use logstash_mesos_core::{Acks, Event};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// ECS compatibility mode (`ecs_compatibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ecs {
    Disabled,
    V1,
    /// Logstash 8's default; same field names as v1.
    #[default]
    V8,
}

impl Ecs {
    pub fn parse(s: &str) -> Option<Ecs> {
        match s {
            "disabled" => Some(Ecs::Disabled),
            "v1" => Some(Ecs::V1),
            "v8" => Some(Ecs::V8),
            _ => None,
        }
    }
    pub fn enabled(self) -> bool {
        self != Ecs::Disabled
    }
}

/// Pipeline-wide settings plugins may need while being built.
#[derive(Clone, Debug)]
pub struct BuildContext {
    pub pipeline_id: String,
    /// `--path.data`: every piece of persistent state lives under it.
    pub path_data: PathBuf,
    /// `--pipeline.ecs_compatibility`.
    pub ecs: Ecs,
    pub workers: usize,
    pub batch_size: usize,
    /// `config.support_escapes`.
    pub support_escapes: bool,
    /// Fired when outputs must stop retrying: an output still retrying fails the acks of
    /// what it holds (so sources do not checkpoint past it) and returns.
    pub shutdown: CancellationToken,
    /// `dead_letter_queue.*` settings.
    pub dead_letter_queue: DlqSettings,
    /// Where outputs report whether their destinations are reachable.
    pub health: HealthBoard,
}

/// `dead_letter_queue.enable`, `dead_letter_queue.max_bytes`, `dead_letter_queue.storage_policy`.
#[derive(Clone, Debug)]
pub struct DlqSettings {
    /// Logstash defaults to false; we default to true because no event may be lost
    /// silently (the queue is bounded by `max_bytes`).
    pub enable: bool,
    /// Total size of the segment files of one pipeline (default 1024mb).
    pub max_bytes: u64,
    /// What to do when the queue is full.
    pub storage_policy: DlqStoragePolicy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlqStoragePolicy {
    /// Refuse new entries (they are logged and counted as dropped).
    DropNewer,
    /// Delete the oldest segments to make room.
    DropOlder,
}

impl Default for DlqSettings {
    fn default() -> Self {
        DlqSettings {
            enable: true,
            max_bytes: 1024 * 1024 * 1024,
            storage_policy: DlqStoragePolicy::DropNewer,
        }
    }
}

/// One destination of one output and whether it is reachable.
#[derive(Clone, Debug)]
pub struct HealthEntry {
    /// The plugin's id or name.
    pub plugin: String,
    /// The destination, without credentials.
    pub target: String,
    pub up: Arc<AtomicBool>,
}

/// Shared list of destinations outputs report on (read by the agent's health endpoint).
#[derive(Clone, Debug, Default)]
pub struct HealthBoard(pub Arc<Mutex<Vec<HealthEntry>>>);

impl HealthBoard {
    pub fn register(&self, entry: HealthEntry) {
        if let Ok(mut v) = self.0.lock() {
            v.push(entry);
        }
    }
    /// A snapshot: (plugin, target, up).
    pub fn snapshot(&self) -> Vec<(String, String, bool)> {
        match self.0.lock() {
            Ok(v) => v
                .iter()
                .map(|e| {
                    (
                        e.plugin.clone(),
                        e.target.clone(),
                        e.up.load(std::sync::atomic::Ordering::Relaxed),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Default for BuildContext {
    fn default() -> Self {
        BuildContext {
            pipeline_id: "main".into(),
            path_data: PathBuf::from("data"),
            ecs: Ecs::V8,
            workers: 1,
            batch_size: 125,
            support_escapes: false,
            shutdown: CancellationToken::new(),
            dead_letter_queue: DlqSettings::default(),
            health: HealthBoard::default(),
        }
    }
}

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
    /// Events created by the filter that Logstash passes to `filter_matched` (elapsed's
    /// match event, aggregate's pushed maps): the filter's common options (add_tag, ...)
    /// are applied to them, then they continue like `new_events`.
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
    /// True for codecs that decode whole documents (json): inputs then leave the event's
    /// fields as the document has them rather than adding their own (host).
    fn structured(&self) -> bool {
        false
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

/// Builds a codec from its plugin value (used by inputs and outputs with a `codec` option).
pub type CodecFactory = Arc<dyn Fn() -> Box<dyn Codec> + Send + Sync>;

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
