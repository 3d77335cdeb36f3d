//! Checkpoints: how far each stream was delivered, kept under `<path.data>/agent/`.
//!
//! ## Design constraints
//! - Advanced only past events every output acknowledged, and only past a contiguous run
//!   of them (at-least-once: a hole stops the checkpoint until it is filled), by core's
//!   [`DeliveryTracker`], one per stream.
//! - Written atomically and versioned (`#[serde(tag = "version")]`) through core's
//!   [`state_file`], so a crash leaves either the old or the new file.
//! - A corrupt (or other-version) file is reported and set aside (`.corrupt`); the streams
//!   then restart from the beginning of what Docker still has (duplicates, never a gap).

use crate::status::Status;
use logstash_mesos_core::state_file::{self, StateFileError};
use logstash_mesos_core::DeliveryTracker;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a stream stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// A file inside a container: which file (inode and the hex of its first bytes) and
    /// the offset just past the last delivered line.
    File {
        inode: u64,
        fingerprint: String,
        offset: u64,
    },
    /// stdout/stderr through the logs API: the RFC 3339 timestamp (nanoseconds) of the
    /// last delivered line.
    Logs { timestamp: String },
}

impl Position {
    /// The position as `/status` shows it: the file offset, or the logs timestamp.
    pub fn shown(&self) -> String {
        match self {
            Position::File { offset, .. } => offset.to_string(),
            Position::Logs { timestamp } => timestamp.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "version")]
enum OnDisk {
    #[serde(rename = "1")]
    V1 { streams: BTreeMap<String, Position> },
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("reading checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt checkpoint {path} (set aside as {aside}): {reason}")]
    Corrupt {
        path: PathBuf,
        aside: PathBuf,
        reason: String,
    },
}

/// The checkpoint file of one input.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    streams: BTreeMap<String, Position>,
    dirty: bool,
}

impl Store {
    /// Opens `<dir>/<id>.json`. A corrupt file is renamed aside and reported in the
    /// second value; the store then starts empty.
    pub fn open(dir: &Path, id: &str) -> (Store, Option<CheckpointError>) {
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.json"));
        let mut store = Store {
            path: path.clone(),
            streams: BTreeMap::new(),
            dirty: false,
        };
        match state_file::load::<OnDisk>(&path, 1) {
            Ok(None) => (store, None),
            Ok(Some(OnDisk::V1 { streams })) => {
                store.streams = streams;
                (store, None)
            }
            Err(StateFileError::Io { source, .. }) => {
                (store, Some(CheckpointError::Io { path, source }))
            }
            Err(e) => {
                // Corrupt or written by another version: keep it for inspection and start
                // over (a replay, never a gap).
                let reason = e.to_string();
                let aside = state_file::set_aside(&path).unwrap_or_else(|_| path.clone());
                (
                    store,
                    Some(CheckpointError::Corrupt {
                        path,
                        aside,
                        reason,
                    }),
                )
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Position> {
        self.streams.get(key)
    }

    pub fn set(&mut self, key: &str, pos: Position) {
        if self.streams.get(key) != Some(&pos) {
            self.streams.insert(key.to_string(), pos);
            self.dirty = true;
        }
    }

    /// Forgets streams whose key starts with `prefix` (a destroyed container).
    pub fn remove_prefix(&mut self, prefix: &str) {
        let before = self.streams.len();
        self.streams.retain(|k, _| !k.starts_with(prefix));
        self.dirty |= before != self.streams.len();
    }

    pub fn streams(&self) -> &BTreeMap<String, Position> {
        &self.streams
    }

    /// Writes the file if anything changed since the last save.
    pub fn save(&mut self) -> Result<(), StateFileError> {
        if !self.dirty {
            return Ok(());
        }
        state_file::save(
            &self.path,
            &OnDisk::V1 {
                streams: self.streams.clone(),
            },
        )?;
        self.dirty = false;
        Ok(())
    }
}

/// The delivery of one stream's events: tokens are per-stream sequence numbers.
pub type Tracker = DeliveryTracker<Position>;

/// The ack sink shared by all streams of one input: `token` packs stream slot and seq.
pub struct Acker {
    pub trackers: Mutex<HashMap<u32, Tracker>>,
}

impl Acker {
    pub fn new() -> Arc<Acker> {
        Arc::new(Acker {
            trackers: Mutex::new(HashMap::new()),
        })
    }

    pub fn token(slot: u32, seq: u64) -> u64 {
        (u64::from(slot) << 40) | (seq & ((1 << 40) - 1))
    }
}

impl logstash_mesos_core::AckSink for Acker {
    fn finished(&self, token: u64, delivered: bool) {
        let slot = (token >> 40) as u32;
        let seq = token & ((1 << 40) - 1);
        if let Ok(mut t) = self.trackers.lock() {
            if let Some(tr) = t.get_mut(&slot) {
                tr.finish(seq, delivered);
            }
        }
    }
}

/// How a stream's `lag_events` on `/status` is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lag {
    /// Events not yet passed by the checkpoint (failed ones included): the docker input.
    Outstanding,
    /// Events whose fate is still unknown: the mesos input.
    InFlight,
}

/// The stream behind one ack slot.
struct SlotStream {
    /// Its key in the checkpoint file.
    checkpoint: String,
    /// Its container and stream name on `/status`.
    container: String,
    stream: String,
}

/// What every stream of one input shares to checkpoint: the file, the ack sink, and the
/// stream behind each ack slot. The docker and mesos inputs commit through it.
pub struct Checkpoints {
    pub store: Arc<Mutex<Store>>,
    pub acker: Arc<Acker>,
    slots: HashMap<String, u32>,
    streams: HashMap<u32, SlotStream>,
}

impl Checkpoints {
    /// Opens input `id`'s checkpoint file under `dir`; a corrupt file is reported on
    /// `status` (and set aside by [`Store::open`]).
    pub fn open(dir: &Path, id: &str, status: &Status) -> Checkpoints {
        let (store, err) = Store::open(dir, id);
        if let Some(e) = err {
            status.error(e.to_string());
        }
        Checkpoints {
            store: Arc::new(Mutex::new(store)),
            acker: Acker::new(),
            slots: HashMap::new(),
            streams: HashMap::new(),
        }
    }

    /// The ack slot of the stream checkpointed as `checkpoint` (the same slot each time
    /// its reader starts again), shown on `/status` as `container`'s `stream`.
    pub fn slot(&mut self, checkpoint: &str, container: &str, stream: &str) -> u32 {
        let next = self.slots.len() as u32;
        let slot = *self.slots.entry(checkpoint.to_string()).or_insert(next);
        self.streams.insert(
            slot,
            SlotStream {
                checkpoint: checkpoint.to_string(),
                container: container.to_string(),
                stream: stream.to_string(),
            },
        );
        slot
    }

    /// Moves delivered positions into the checkpoint file and `/status`. A stream for
    /// which `forgotten(key, store)` holds keeps its late acknowledgements out of the file.
    pub fn commit(&self, status: &Status, lag: Lag, forgotten: impl Fn(&str, &Store) -> bool) {
        let mut updates = Vec::new();
        if let Ok(mut t) = self.acker.trackers.lock() {
            for (slot, tr) in t.iter_mut() {
                let Some(s) = self.streams.get(slot) else {
                    continue;
                };
                let pos = tr.take_advanced();
                let lag = match lag {
                    Lag::Outstanding => tr.outstanding(),
                    Lag::InFlight => tr.in_flight(),
                };
                updates.push((s, pos, lag as u64));
            }
        }
        let Ok(mut store) = self.store.lock() else {
            return;
        };
        for (s, pos, lag) in updates {
            let shown = pos.as_ref().map(Position::shown);
            if let Some(p) = pos {
                if !forgotten(&s.checkpoint, &store) {
                    store.set(&s.checkpoint, p);
                }
            }
            status.stream(&s.container, &s.stream, |st| {
                st.lag_events = lag;
                if let Some(p) = shown {
                    st.acked_position = p;
                }
            });
        }
        if let Err(e) = store.save() {
            status.error(format!("writing checkpoint: {e}"));
        }
    }

    /// Events handed to the pipeline whose fate is unknown yet, over every stream.
    pub fn in_flight(&self) -> usize {
        self.acker
            .trackers
            .lock()
            .map(|t| t.values().map(|t| t.in_flight()).sum())
            .unwrap_or(0)
    }

    /// Once the readers stopped: gives the outputs a moment (3 s at most) to acknowledge
    /// what is in flight, committing meanwhile, so a clean stop does not cause re-reads.
    pub async fn drain(&self, status: &Status, lag: Lag, forgotten: impl Fn(&str, &Store) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            self.commit(status, lag, &forgotten);
            if self.in_flight() == 0 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(o: u64) -> Position {
        Position::File {
            inode: 1,
            fingerprint: "ab".into(),
            offset: o,
        }
    }

    #[test]
    fn advances_only_past_contiguous_deliveries() {
        let mut t = Tracker::default();
        let a = t.register_next(pos(10));
        let b = t.register_next(pos(20));
        let c = t.register_next(pos(30));
        t.finish(b, true);
        assert_eq!(t.take_advanced(), None);
        t.finish(a, true);
        assert_eq!(t.take_advanced(), Some(pos(20)));
        t.finish(c, true);
        assert_eq!(t.take_advanced(), Some(pos(30)));
    }

    #[test]
    fn a_failed_event_blocks_the_checkpoint() {
        let mut t = Tracker::default();
        let a = t.register_next(pos(10));
        let b = t.register_next(pos(20));
        t.finish(a, false);
        t.finish(b, true);
        assert_eq!(t.take_advanced(), None);
        assert_eq!(t.failed(), 1);
    }

    #[test]
    fn store_round_trips_and_survives_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, err) = Store::open(dir.path(), "in/1");
        assert!(err.is_none());
        s.set("file:c:/x", pos(42));
        s.set(
            "stdout:c",
            Position::Logs {
                timestamp: "2024-01-01T00:00:00.123456789Z".into(),
            },
        );
        s.save().unwrap();
        let (s2, err) = Store::open(dir.path(), "in/1");
        assert!(err.is_none());
        assert_eq!(s2.get("file:c:/x"), Some(&pos(42)));
        let text = std::fs::read_to_string(dir.path().join("in_1.json")).unwrap();
        assert!(text.contains("\"version\": \"1\""), "{text}");

        std::fs::write(
            dir.path().join("in_1.json"),
            b"{\"version\":\"1\",\"streams\":{tru",
        )
        .unwrap();
        let (s3, err) = Store::open(dir.path(), "in/1");
        assert!(matches!(err, Some(CheckpointError::Corrupt { .. })));
        assert!(s3.streams().is_empty());
        assert!(dir.path().join("in_1.json.corrupt").exists());
    }
}
