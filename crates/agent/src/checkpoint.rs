//! Checkpoints: how far each stream was delivered, kept under `<path.data>/agent/`.
//!
//! ## Design constraints
//! - Advanced only past events every output acknowledged, and only past a contiguous run
//!   of them (at-least-once: a hole stops the checkpoint until it is filled).
//! - Written atomically (temp file, fsync, rename, fsync of the directory) and versioned
//!   (`#[serde(tag = "version")]`), so a crash leaves either the old or the new file.
//! - A corrupt file is reported and set aside (`.corrupt`); the streams then restart from
//!   the beginning of what Docker still has (duplicates, never a gap).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
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
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (store, None),
            Err(source) => return (store, Some(CheckpointError::Io { path, source })),
        };
        match serde_json::from_slice::<OnDisk>(&text) {
            Ok(OnDisk::V1 { streams }) => {
                store.streams = streams;
                (store, None)
            }
            Err(e) => {
                let aside = path.with_extension("json.corrupt");
                let _ = std::fs::rename(&path, &aside);
                (
                    store,
                    Some(CheckpointError::Corrupt {
                        path,
                        aside,
                        reason: e.to_string(),
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
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let data = serde_json::to_vec_pretty(&OnDisk::V1 {
            streams: self.streams.clone(),
        })
        .map_err(std::io::Error::other)?;
        write_atomic(&self.path, &data)?;
        self.dirty = false;
        Ok(())
    }
}

/// temp + fsync + rename + fsync(dir): the file is either the old or the new one.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Tracks the in-flight events of one stream and yields the position after the last
/// contiguous delivered one. Acknowledgement tokens are per-stream sequence numbers.
#[derive(Debug, Default)]
pub struct Tracker {
    /// seq → (position after the event, finished?)
    pending: BTreeMap<u64, (Position, bool)>,
    next_seq: u64,
    /// A failed (undelivered) event: the checkpoint never passes it in this run.
    blocked: bool,
    committed: Option<Position>,
    pub delivered: u64,
    pub failed: u64,
}

impl Tracker {
    /// Registers an event about to be emitted; returns its token.
    pub fn register(&mut self, after: Position) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.insert(seq, (after, false));
        seq
    }

    pub fn finished(&mut self, seq: u64, delivered: bool) {
        if !delivered {
            self.failed += 1;
            self.blocked = true;
            return;
        }
        self.delivered += 1;
        if let Some(e) = self.pending.get_mut(&seq) {
            e.1 = true;
        }
        if self.blocked {
            return;
        }
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().1 {
                break;
            }
            let (pos, _) = entry.remove();
            self.committed = Some(pos);
        }
    }

    /// The newest delivered position not yet handed to the store.
    pub fn take_committed(&mut self) -> Option<Position> {
        self.committed.take()
    }

    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

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
                tr.finished(seq, delivered);
            }
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
        let a = t.register(pos(10));
        let b = t.register(pos(20));
        let c = t.register(pos(30));
        t.finished(b, true);
        assert_eq!(t.take_committed(), None);
        t.finished(a, true);
        assert_eq!(t.take_committed(), Some(pos(20)));
        t.finished(c, true);
        assert_eq!(t.take_committed(), Some(pos(30)));
    }

    #[test]
    fn a_failed_event_blocks_the_checkpoint() {
        let mut t = Tracker::default();
        let a = t.register(pos(10));
        let b = t.register(pos(20));
        t.finished(a, false);
        t.finished(b, true);
        assert_eq!(t.take_committed(), None);
        assert_eq!(t.failed, 1);
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
