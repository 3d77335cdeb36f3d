//! File identity: device + inode, confirmed by a fingerprint of the file's first bytes so
//! that a reused inode (delete + create) or a truncated-and-rewritten file
//! (copytruncate) is not mistaken for the file we were reading.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// How many leading bytes the fingerprint covers at most.
pub const FINGERPRINT_BYTES: u64 = 255;

/// Device and inode of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A hash of the first `len` bytes of a file. `len` is fixed once taken (see
/// [`Fingerprint::take`]) so the event ids derived from it stay stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    /// The empty fingerprint of a file with no data yet: matches anything.
    pub const EMPTY: Fingerprint = Fingerprint { len: 0, hash: 0 };

    /// Fingerprints the first `min(size, FINGERPRINT_BYTES)` bytes.
    pub fn take(file: &File, size: u64) -> io::Result<Fingerprint> {
        Self::of_prefix(file, size.min(FINGERPRINT_BYTES))
    }

    fn of_prefix(file: &File, len: u64) -> io::Result<Fingerprint> {
        if len == 0 {
            return Ok(Fingerprint::EMPTY);
        }
        let mut buf = vec![0u8; len as usize];
        let mut done = 0;
        while done < buf.len() {
            let n = file.read_at(&mut buf[done..], done as u64)?;
            if n == 0 {
                // Shorter than the fingerprint: a different (truncated) file.
                return Ok(Fingerprint {
                    len: done as u64,
                    hash: xxhash_rust::xxh3::xxh3_64(&buf[..done]),
                });
            }
            done += n;
        }
        Ok(Fingerprint {
            len,
            hash: xxhash_rust::xxh3::xxh3_64(&buf),
        })
    }

    /// Whether `file` (of `size` bytes) still starts with the fingerprinted bytes.
    pub fn matches(&self, file: &File, size: u64) -> io::Result<bool> {
        if self.len == 0 {
            return Ok(true);
        }
        if size < self.len {
            return Ok(false);
        }
        Ok(Self::of_prefix(file, self.len)? == *self)
    }
}

/// A deterministic event id: the same line of the same file content gets the same id
/// after a replay, so an Elasticsearch output indexing with it overwrites instead of
/// duplicating. 128 bits keep collisions out of reach for any realistic index.
pub fn event_id(host: &str, id: FileId, fp: Fingerprint, generation: u64, offset: u64) -> String {
    let mut key = Vec::with_capacity(host.len() + 48);
    key.extend_from_slice(host.as_bytes());
    key.push(0);
    for n in [id.dev, id.ino, fp.len, fp.hash, generation, offset] {
        key.extend_from_slice(&n.to_le_bytes());
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_detects_rewritten_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"first line\n").expect("write");
        let f = File::open(&p).expect("open");
        let fp = Fingerprint::take(&f, 11).expect("fp");
        assert_eq!(fp.len, 11);
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("open");
        w.write_all(b"more\n").expect("append");
        assert!(
            fp.matches(&f, 16).expect("match"),
            "appending keeps the fingerprint"
        );
        std::fs::write(&p, b"other line\nxxxxx").expect("rewrite");
        assert!(
            !fp.matches(&f, 16).expect("match"),
            "rewritten content differs"
        );
        assert!(
            !fp.matches(&f, 5).expect("match"),
            "shorter than the fingerprint"
        );
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let id = FileId { dev: 1, ino: 2 };
        let fp = Fingerprint { len: 3, hash: 4 };
        assert_eq!(event_id("h", id, fp, 0, 10), event_id("h", id, fp, 0, 10));
        assert_ne!(event_id("h", id, fp, 0, 10), event_id("h", id, fp, 0, 11));
        assert_ne!(event_id("h", id, fp, 0, 10), event_id("h", id, fp, 1, 10));
        assert_eq!(event_id("h", id, fp, 0, 10).len(), 32);
    }
}
