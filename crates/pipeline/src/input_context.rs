//! What an input gets to run: the queue to push events into, the shutdown signal, and
//! the common input options (`type`, `tags`, `add_field`) applied to every event.

use crate::plugin::BuildContext;
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The common input decorations, applied as Logstash applies them: `type` only when the
/// event has none, `tags` added, `add_field` sprintf'd (appending to an existing field).
#[derive(Clone, Debug, Default)]
pub struct Decorator {
    pub type_name: Option<String>,
    pub tags: Vec<String>,
    pub add_field: Vec<(FieldRef, Template)>,
}

impl Decorator {
    pub fn is_empty(&self) -> bool {
        self.type_name.is_none() && self.tags.is_empty() && self.add_field.is_empty()
    }

    pub fn apply(&self, event: &mut Event) {
        if let Some(t) = &self.type_name {
            let r = FieldRef::top("type");
            if !event.contains(&r) {
                let _ = event.set(&r, Value::from(t.as_str()));
            }
        }
        for t in &self.tags {
            event.add_tag(t);
        }
        for (r, tmpl) in &self.add_field {
            let v = tmpl.render_value(event);
            crate::filter_common::append_field(event, r, v);
        }
    }
}

/// The input's end of the queue.
#[derive(Clone)]
pub struct InputContext {
    pub build: BuildContext,
    /// The plugin's `id` (or a generated one): names checkpoint files.
    pub id: String,
    pub sender: mpsc::Sender<Event>,
    pub shutdown: CancellationToken,
    pub decorator: Decorator,
}

/// The pipeline is gone: stop reading.
#[derive(Debug, thiserror::Error)]
#[error("pipeline closed")]
pub struct Closed;

impl InputContext {
    /// Queues one event, waiting while the queue is full (back-pressure).
    pub async fn emit(&self, mut event: Event) -> Result<(), Closed> {
        if !self.decorator.is_empty() {
            self.decorator.apply(&mut event);
        }
        self.sender.send(event).await.map_err(|_| Closed)
    }

    /// Queues several events at once. Prefer this for inputs that read in chunks: the
    /// workers are woken once per chunk rather than once per event, which is most of
    /// the cost of a hand-off between threads.
    pub async fn emit_batch(&self, mut events: Vec<Event>) -> Result<(), Closed> {
        if !self.decorator.is_empty() {
            events.iter_mut().for_each(|e| self.decorator.apply(e));
        }
        let chunk = (self.sender.max_capacity() / 2).max(1);
        let mut it = events.into_iter().peekable();
        while it.peek().is_some() {
            let want = it.len().min(chunk);
            let permits = self.sender.reserve_many(want).await.map_err(|_| Closed)?;
            for (permit, e) in permits.zip(it.by_ref()) {
                permit.send(e);
            }
        }
        Ok(())
    }

    pub fn is_shutdown(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Completes when shutdown is requested.
    pub async fn shutdown_requested(&self) {
        self.shutdown.cancelled().await
    }

    /// A context for tests: returns the receiving end of the queue.
    pub fn for_test(capacity: usize) -> (InputContext, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            InputContext {
                build: BuildContext::default(),
                id: "test".into(),
                sender: tx,
                shutdown: CancellationToken::new(),
                decorator: Decorator::default(),
            },
            rx,
        )
    }
}
