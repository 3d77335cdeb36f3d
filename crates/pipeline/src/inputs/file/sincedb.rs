//! The sincedb: where reading of each generation (one content stream, see
//! [`super::identity`]) resumes. An entry names the file it was last read from and the
//! fingerprint of its first bytes, so after a restart a file is resumed by inode, and a
//! copy (copytruncate's `app.log.1`, a new inode) by content.
//!
//! ## Design constraints
//! - Positions only ever cover acknowledged lines (the reader's ack tracker decides), so a
//!   crash replays, never skips (at-least-once).
//! - Versioned JSON (`"version": "1"`) written atomically through
//!   [`logstash_mesos_core::state_file`]: a torn write never leaves a half-written file.
//!   An unreadable, corrupt or other-version file is reported and ignored, which restarts
//!   every file from its start position (safe: replays).
//! - `/dev/null` (Logstash's idiom) disables persistence.

use super::identity::{FileId, Fingerprint};
use logstash_mesos_core::state_file::{self, StateFileError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One generation's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Names the generation (follows its content into copies). Files of earlier versions
    /// have none: one is made up from the file id on load.
    #[serde(default)]
    pub generation: u64,
    /// The file it was last read from.
    pub id: FileId,
    /// Its first bytes, as far as seen.
    pub fingerprint: Fingerprint,
    /// Byte offset up to which every line was delivered.
    pub position: u64,
    /// The last path the file was seen at (informational).
    pub path: PathBuf,
    /// Unix seconds of the last activity, for `sincedb_clean_after`.
    pub last_active: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "version")]
enum OnDisk {
    #[serde(rename = "1")]
    V1 { entries: Vec<Entry> },
}

/// The checkpoint store of one input.
#[derive(Debug)]
pub struct SinceDb {
    /// `None`: persistence disabled (`/dev/null`).
    path: Option<PathBuf>,
    /// By generation.
    pub entries: HashMap<u64, Entry>,
}

impl SinceDb {
    /// Loads the sincedb at `path`; a missing file is an empty db, a corrupt one is
    /// reported and ignored.
    pub fn open(path: &Path) -> SinceDb {
        if path == Path::new("/dev/null") {
            return SinceDb {
                path: None,
                entries: HashMap::new(),
            };
        }
        let mut db = SinceDb {
            path: Some(path.to_path_buf()),
            entries: HashMap::new(),
        };
        match state_file::load::<OnDisk>(path, 1) {
            Ok(Some(OnDisk::V1 { entries })) => {
                for mut e in entries {
                    if e.generation == 0 || db.entries.contains_key(&e.generation) {
                        e.generation = super::identity::new_generation();
                    }
                    db.entries.insert(e.generation, e);
                }
            }
            Ok(None) => {}
            Err(e @ StateFileError::Io { .. }) => {
                tracing::warn!(error = %e, "cannot read sincedb; starting without it")
            }
            Err(e) => tracing::warn!(
                error = %e,
                "corrupt sincedb ignored: files are read again from their start position"
            ),
        }
        db
    }

    #[cfg(test)]
    pub fn get(&self, generation: u64) -> Option<&Entry> {
        self.entries.get(&generation)
    }

    /// Whether some generation was last read from the file `id`.
    pub fn knows_file(&self, id: FileId) -> bool {
        self.entries.values().any(|e| e.id == id)
    }

    pub fn put(&mut self, entry: Entry) {
        self.entries.insert(entry.generation, entry);
    }

    /// Drops entries inactive since before `cutoff` (unix seconds).
    pub fn clean(&mut self, cutoff: i64) {
        self.entries.retain(|_, e| e.last_active >= cutoff);
    }

    /// Writes the db atomically.
    pub fn save(&self) -> Result<(), StateFileError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut entries: Vec<&Entry> = self.entries.values().collect();
        entries.sort_by_key(|e| (e.id, e.generation));
        let doc = OnDisk::V1 {
            entries: entries.into_iter().cloned().collect(),
        };
        state_file::save(path, &doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u64, position: u64) -> Entry {
        Entry {
            id: FileId { dev: 1, ino },
            fingerprint: Fingerprint { len: 4, hash: 9 },
            generation: ino * 10,
            position,
            path: PathBuf::from("/var/log/a.log"),
            last_active: 100,
        }
    }

    #[test]
    fn round_trips_and_is_versioned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub/.sincedb_x");
        let mut db = SinceDb::open(&p);
        assert!(db.entries.is_empty());
        db.put(entry(5, 42));
        db.save().expect("save");
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(text.contains("\"version\": \"1\""), "{text}");
        let again = SinceDb::open(&p);
        assert_eq!(again.get(50), Some(&entry(5, 42)));
        assert!(again.knows_file(FileId { dev: 1, ino: 5 }));
        assert!(!again.knows_file(FileId { dev: 1, ino: 6 }));
    }

    #[test]
    fn corrupt_file_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(".sincedb");
        std::fs::write(&p, b"{\"version\":\"1\",\"entries\":[{\"id\":").expect("write");
        assert!(SinceDb::open(&p).entries.is_empty());
        std::fs::write(&p, b"1234 5 6 789\n").expect("write");
        assert!(
            SinceDb::open(&p).entries.is_empty(),
            "logstash's text format is not ours"
        );
    }

    #[test]
    fn dev_null_disables_persistence_and_clean_drops_old_entries() {
        let mut db = SinceDb::open(Path::new("/dev/null"));
        db.put(entry(1, 1));
        db.put(Entry {
            last_active: 500,
            ..entry(2, 2)
        });
        db.save().expect("no-op");
        db.clean(200);
        assert_eq!(db.entries.len(), 1);
        assert!(db.get(20).is_some());
    }

    #[test]
    fn entries_of_earlier_versions_get_generations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(".sincedb");
        // As written before generations named entries (one per inode, `generation` a
        // truncation counter, 0 mostly).
        std::fs::write(
            &p,
            br#"{"version":"1","entries":[
              {"id":{"dev":1,"ino":2},"fingerprint":{"len":4,"hash":9},"generation":0,"position":7,"path":"/a","last_active":1},
              {"id":{"dev":1,"ino":3},"fingerprint":{"len":4,"hash":8},"generation":0,"position":9,"path":"/b","last_active":1}]}"#,
        )
        .expect("write");
        let db = SinceDb::open(&p);
        assert_eq!(db.entries.len(), 2, "both kept, under distinct generations");
        assert!(db.entries.keys().all(|g| *g != 0));
        assert!(
            db.knows_file(FileId { dev: 1, ino: 2 }) && db.knows_file(FileId { dev: 1, ino: 3 })
        );
    }
}
