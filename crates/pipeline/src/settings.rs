//! The pipeline's settings: what a plugin is built with (`BuildContext`: ECS mode, data
//! path, pipeline id, dead letter queue, the node's Docker and Mesos addresses), what the
//! runner runs with (`RunSettings`: workers, batch size and delay) and the board where
//! outputs report whether their destinations are up.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

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
    /// Facts about the node, for the agent's inputs (`logstash-mesos agent` flags).
    pub node: NodeSettings,
    /// The process's pipeline bus (`pipeline` input and output); shared by every
    /// pipeline of the process.
    pub bus: crate::bus::PipelineBus,
}

/// The node an agent runs on, as its flags and the scheduler's task environment say.
#[derive(Clone, Debug, Default)]
pub struct NodeSettings {
    /// `--docker-host`: the daemon inputs use when their config names none.
    pub docker_host: Option<String>,
    /// `--mesos-agent-id`: stamped on events as `[mesos][agent][id]`.
    pub mesos_agent_id: Option<String>,
    /// `--mesos-agent`: the local Mesos agent the `mesos` input reads when its config
    /// names none.
    pub mesos_agent: Option<String>,
    /// The Mesos tasks behind sender addresses (filled by the agent; network inputs add
    /// `[mesos][task]` fields with it).
    pub senders: crate::net::sender::Senders,
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
    /// Adds an output's destination. Entries of outputs that are gone (a reload dropped
    /// their pipeline, so the board holds the last reference to their `up` flag) and an
    /// older entry for the same plugin and target are removed: the board does not grow.
    pub fn register(&self, entry: HealthEntry) {
        if let Ok(mut v) = self.0.lock() {
            v.retain(|e| {
                Arc::strong_count(&e.up) > 1
                    && !(e.plugin == entry.plugin && e.target == entry.target)
            });
            v.push(entry);
        }
    }
    /// A snapshot of the live outputs' destinations: (plugin, target, up).
    pub fn snapshot(&self) -> Vec<(String, String, bool)> {
        match self.0.lock() {
            Ok(mut v) => {
                v.retain(|e| Arc::strong_count(&e.up) > 1);
                v.iter()
                    .map(|e| {
                        (
                            e.plugin.clone(),
                            e.target.clone(),
                            e.up.load(std::sync::atomic::Ordering::Relaxed),
                        )
                    })
                    .collect()
            }
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
            node: NodeSettings::default(),
            bus: crate::bus::PipelineBus::default(),
        }
    }
}

/// Settings of a running pipeline (`pipeline.workers`, `pipeline.batch.size`,
/// `pipeline.batch.delay`), read by `runner.rs`.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// Worker tasks taking batches from the queue (at least 1).
    pub workers: usize,
    /// Most events a worker takes at once (at least 1).
    pub batch_size: usize,
    /// How long a worker, once it holds one event, waits for the batch to fill before it
    /// dispatches an undersized batch (`pipeline.batch.delay`, Logstash's default 50 ms).
    pub batch_delay: std::time::Duration,
    /// `queue.*`: the memory queue, or the persisted one (`queue/`).
    pub queue: crate::queue::QueueSettings,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            workers: 1,
            batch_size: 125,
            batch_delay: std::time::Duration::from_millis(50),
            queue: crate::queue::QueueSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(plugin: &str, up: &Arc<AtomicBool>) -> HealthEntry {
        HealthEntry {
            plugin: plugin.into(),
            target: "http://es:9200/".into(),
            up: up.clone(),
        }
    }

    /// Reloads register the outputs again: the board keeps only the live ones.
    #[test]
    fn health_board_does_not_grow_on_reload() {
        let board = HealthBoard::default();
        let first = Arc::new(AtomicBool::new(true));
        board.register(entry("es", &first));
        for _ in 0..5 {
            // A reload: the old output is dropped, a new one registers.
            let next = Arc::new(AtomicBool::new(true));
            board.register(entry("es", &next));
            assert_eq!(board.snapshot().len(), 1);
        }
        let kept = Arc::new(AtomicBool::new(false));
        board.register(entry("other", &kept));
        drop(first);
        assert_eq!(
            board.snapshot(),
            vec![("other".to_string(), "http://es:9200/".to_string(), false)]
        );
    }
}
