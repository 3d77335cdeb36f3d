//! Durable scheduler state: the framework id, the agent tasks, and the accepted
//! pipeline configs.
//!
//! ## Design constraints
//! * Losing the framework id means registering a new framework and starting a
//!   second agent on every node, so a corrupt or unreadable state is an error that
//!   stops the scheduler, never a silent fresh start.
//! * Writes are atomic (core's `state_file`: temp file in the same directory, fsync,
//!   rename, fsync dir).
//! * The JSON carries a `version`; an unknown version is refused, not guessed at.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use logstash_mesos_core::state_file::{self, DecodeError};
use serde::{Deserialize, Serialize};

use crate::sched::Persisted;

pub const STATE_VERSION: u32 = 1;

/// The accepted config set (a monotonically increasing version and name → text) is what
/// agents long-poll, persisted as is.
pub use logstash_mesos_core::agent_protocol::ConfigSet;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub scheduler: Persisted,
    pub configs: ConfigSet,
    /// Earlier texts of each config, newest last (older states have none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub config_history: ConfigHistory,
}

/// Config name → its revisions, oldest first, at most [`HISTORY_PER_CONFIG`] each.
pub type ConfigHistory = std::collections::BTreeMap<String, Vec<Revision>>;

/// How many revisions of one config are kept.
pub const HISTORY_PER_CONFIG: usize = 20;

/// One accepted state of a config: what it was from set version `version` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The config set's version that made this revision.
    pub version: u64,
    /// The text; `None` when the config was deleted.
    pub text: Option<String>,
    pub pipeline: String,
    /// When it was accepted, Unix milliseconds.
    pub at_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    version: u32,
    #[serde(flatten)]
    data: T,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state {location} is corrupt: {source}")]
    Corrupt {
        location: String,
        source: serde_json::Error,
    },
    #[error("state {location} has version {found}, this build reads version {STATE_VERSION}")]
    Version { location: String, found: u32 },
    #[error("state {location}: {source}")]
    Io {
        location: String,
        source: std::io::Error,
    },
    #[error("unsupported state url {0:?}: expected file:///path or zk://host:port/path")]
    Url(String),
    #[error("state {location}: {message}")]
    Backend { location: String, message: String },
}

/// A place to keep one JSON document.
pub trait StateStore: Send + Sync {
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StoreError>>;
    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StoreError>>;
    fn location(&self) -> String;
}

pub fn encode(state: &State) -> Vec<u8> {
    // Serializing plain data structs cannot fail.
    serde_json::to_vec_pretty(&Envelope {
        version: STATE_VERSION,
        data: state,
    })
    .unwrap_or_default()
}

pub fn decode(location: &str, bytes: &[u8]) -> Result<State, StoreError> {
    let env: Envelope<State> = state_file::decode(bytes, STATE_VERSION).map_err(|e| match e {
        DecodeError::Corrupt(source) => StoreError::Corrupt {
            location: location.into(),
            source,
        },
        DecodeError::Version { found, .. } => StoreError::Version {
            location: location.into(),
            found,
        },
    })?;
    Ok(env.data)
}

/// `file:///dir`: the state lives in `dir/state.json`.
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            path: dir.as_ref().join("state.json"),
        }
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            location: self.path.display().to_string(),
            source,
        }
    }

    fn load_sync(&self) -> Result<Option<State>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => decode(&self.path.display().to_string(), &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    fn save_sync(&self, state: &State) -> Result<(), StoreError> {
        state_file::write_atomic(&self.path, &encode(state)).map_err(|e| self.io(e))
    }
}

impl StateStore for FileStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StoreError>> {
        Box::pin(async move { self.load_sync() })
    }

    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.save_sync(state) })
    }

    fn location(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

/// Parses `--state`.
pub enum StateUrl {
    File(PathBuf),
    Zk { hosts: String, path: String },
}

pub fn parse_url(url: &str) -> Result<StateUrl, StoreError> {
    if let Some(p) = url.strip_prefix("file://") {
        if p.starts_with('/') {
            return Ok(StateUrl::File(PathBuf::from(p)));
        }
    } else if let Some(rest) = url.strip_prefix("zk://") {
        if let Some((hosts, path)) = rest.split_once('/') {
            if !hosts.is_empty() && !path.is_empty() {
                return Ok(StateUrl::Zk {
                    hosts: hosts.into(),
                    path: format!("/{path}"),
                });
            }
        }
    }
    Err(StoreError::Url(url.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Id, TaskState};
    use crate::sched::TaskRecord;

    fn sample() -> State {
        State {
            scheduler: Persisted {
                framework_id: Some(Id::new("fw-1")),
                tasks: vec![TaskRecord {
                    task_id: Id::new("t1"),
                    agent_id: Id::new("a1"),
                    hostname: "h1".into(),
                    state: TaskState::Running,
                    fingerprint: "f".into(),
                    message: None,
                    kill_requested: false,
                    running_since: None,
                    endpoint: None,
                }],
                seq: 7,
            },
            configs: ConfigSet {
                version: 3,
                configs: [("main".to_string(), "input {}".to_string())].into(),
                pipelines: [("main".to_string(), "web".to_string())].into(),
            },
            config_history: [(
                "main".to_string(),
                vec![Revision {
                    version: 3,
                    text: Some("input {}".into()),
                    pipeline: "web".into(),
                    at_ms: 1_700_000_000_000,
                }],
            )]
            .into(),
        }
    }

    #[tokio::test]
    async fn save_then_load_in_a_new_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(FileStore::new(dir.path()).load().await.expect("load"), None);
        FileStore::new(dir.path())
            .save(&sample())
            .await
            .expect("save");
        let back = FileStore::new(dir.path()).load().await.expect("load");
        assert_eq!(back, Some(sample()));
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).expect("read"))
                .expect("json");
        assert_eq!(raw["version"], 1);
        assert_eq!(raw["scheduler"]["framework_id"]["value"], "fw-1");
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[tokio::test]
    async fn corrupt_and_future_files_are_errors_not_fresh_starts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(dir.path());
        std::fs::write(
            dir.path().join("state.json"),
            b"{\"version\":1,\"scheduler\":{\"framework_id\":",
        )
        .expect("write");
        let err = store.load().await.expect_err("corrupt");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("state.json"), "{err}");
        std::fs::write(dir.path().join("state.json"), b"{\"version\":99}").expect("write");
        let err = store.load().await.expect_err("future");
        assert!(
            matches!(err, StoreError::Version { found: 99, .. }),
            "{err}"
        );
        // A good save replaces the corrupt file.
        store.save(&sample()).await.expect("save");
        assert_eq!(store.load().await.expect("load"), Some(sample()));
    }

    #[test]
    fn urls() {
        assert!(
            matches!(parse_url("file:///var/lib/x"), Ok(StateUrl::File(p)) if p == Path::new("/var/lib/x"))
        );
        assert!(
            matches!(parse_url("zk://a:2181,b:2181/logstash"), Ok(StateUrl::Zk { hosts, path }) if hosts == "a:2181,b:2181" && path == "/logstash")
        );
        assert!(parse_url("file://relative").is_err());
        assert!(parse_url("s3://x").is_err());
    }
}
