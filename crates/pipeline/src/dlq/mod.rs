//! The dead letter queue: events an output could not deliver (a mapping error, a bad index
//! name), kept on disk with the reason so users can fix them and replay them with the
//! `dead_letter_queue` input.
//!
//! ## Design constraints
//! - Append-only segment files under `<path.data>/dead_letter_queue/<pipeline_id>/`:
//!   `<seq>.log.tmp` while being written, renamed to `<seq>.log` once sealed (full, or at
//!   close). A reader may read both; a later segment exists only once the earlier is sealed.
//! - One entry per line: a versioned JSON object (`"version":"1"`) holding the event (its
//!   fields and `@metadata`), the reason, the plugin and the time. A torn last line (crash
//!   mid-write) is never returned: readers wait for its newline, a restarted writer starts a
//!   new segment, so the torn line is skipped once a later segment exists.
//! - The writer fsyncs before `write` returns: an output acknowledges a dead-lettered event
//!   to its source only once it is on disk.
//! - `dead_letter_queue.max_bytes` bounds the sum of segment sizes; `drop_newer` refuses
//!   new entries, `drop_older` deletes the oldest segments.
//! - One writer per directory per process (outputs of one pipeline share it).

pub mod reader;
pub mod writer;

pub use reader::{DlqReader, Position};
pub use writer::{DlqWriter, WriteOutcome};

use logstash_mesos_core::{Event, Map, Timestamp, Value};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A segment larger than this is sealed and a new one started.
pub const SEGMENT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// The directory of one pipeline's queue.
pub fn queue_dir(path_data: &Path, pipeline_id: &str) -> PathBuf {
    path_data.join("dead_letter_queue").join(pipeline_id)
}

/// One entry as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "version")]
pub enum Entry {
    #[serde(rename = "1")]
    V1(EntryV1),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntryV1 {
    /// When the entry was written (ISO-8601, UTC).
    pub time: String,
    pub reason: String,
    pub plugin_type: String,
    pub plugin_id: String,
    /// The event's fields.
    pub event: Map,
    /// The event's `@metadata`.
    #[serde(default)]
    pub metadata: Map,
}

impl Entry {
    pub fn new(event: &Event, reason: &str, plugin_type: &str, plugin_id: &str) -> Entry {
        Entry::V1(EntryV1 {
            time: Timestamp::now().to_string(),
            reason: reason.to_string(),
            plugin_type: plugin_type.to_string(),
            plugin_id: plugin_id.to_string(),
            event: event.fields().clone(),
            metadata: event.metadata().clone(),
        })
    }

    pub fn v1(&self) -> &EntryV1 {
        match self {
            Entry::V1(e) => e,
        }
    }

    pub fn time(&self) -> Option<Timestamp> {
        Timestamp::parse_iso8601(&self.v1().time)
    }

    /// The event as it was, plus `[@metadata][dead_letter_queue]` with `entry_time`,
    /// `reason`, `plugin_id` and `plugin_type`, as Logstash's input sets them.
    pub fn into_event(self) -> Event {
        let Entry::V1(e) = self;
        let mut event = Event::from_map(e.event);
        let meta = event.metadata_mut();
        for (k, v) in e.metadata {
            meta.insert(k, v);
        }
        let mut dlq = Map::default();
        dlq.insert("entry_time", Value::String(e.time));
        dlq.insert("reason", Value::String(e.reason));
        dlq.insert("plugin_id", Value::String(e.plugin_id));
        dlq.insert("plugin_type", Value::String(e.plugin_type));
        meta.insert("dead_letter_queue", Value::from(dlq));
        event
    }
}

/// Segment files of `dir` by sequence number, ascending (both sealed and open ones).
pub fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for ent in rd {
        let ent = ent?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        let stem = name
            .strip_suffix(".log.tmp")
            .or_else(|| name.strip_suffix(".log"));
        if let Some(seq) = stem.and_then(|s| s.parse::<u64>().ok()) {
            out.push((seq, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
