//! File identity.
//!
//! Two identities, for two questions:
//! - *Which file is this?* Device + inode ([`FileId`]): a renamed file keeps it, so a
//!   rename rotation is followed without reading anything twice.
//! - *Which content is this?* The first bytes ([`Head`], up to [`FINGERPRINT_BYTES`]):
//!   copytruncate makes a new inode (`app.log.1`) holding bytes already read from
//!   `app.log`, and truncates `app.log`, whose new first bytes then differ. A file whose
//!   first bytes continue those of a generation already (partly) read is that generation,
//!   wherever it lives: reading goes on from that generation's position.
//!
//! Event ids derive from content only (host, the first bytes, the offset), never from
//! the inode, the path or the order files were found in: a line has the same
//! `[@metadata][_id]` whichever file it is read from and however often, so a replay
//! overwrites in Elasticsearch instead of duplicating.
//!
//! The choice this makes (documented in the README): files on one host whose content is
//! byte-identical from their start through a line are the same content, and that line is
//! one document. Files that differ anywhere in their first [`FINGERPRINT_BYTES`] stay
//! apart (a shared CSV header merges only the header line); files identical over the
//! whole window share the ids of lines at equal offsets, as Filebeat's fingerprint mode
//! takes such files for one file.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// How many leading bytes identify content (Filebeat's fingerprint length).
pub const FINGERPRINT_BYTES: u64 = 1024;

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

/// A hash of a generation's first `len` bytes (as far as they were seen, at most
/// [`FINGERPRINT_BYTES`]): what the sincedb keeps to recognise the content again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of a file with no data yet: recognises nothing.
    pub const EMPTY: Fingerprint = Fingerprint { len: 0, hash: 0 };

    pub fn of(bytes: &[u8]) -> Fingerprint {
        if bytes.is_empty() {
            return Fingerprint::EMPTY;
        }
        Fingerprint {
            len: bytes.len() as u64,
            hash: xxhash_rust::xxh3::xxh3_64(bytes),
        }
    }

    /// Whether `file` (of `size` bytes) still starts with the fingerprinted bytes.
    pub fn matches(&self, file: &File, size: u64) -> io::Result<bool> {
        if self.len == 0 {
            return Ok(true);
        }
        if size < self.len {
            return Ok(false);
        }
        Ok(Fingerprint::of(&read_prefix(file, self.len)?) == *self)
    }
}

/// Up to `len` bytes from the start of `file` (fewer when it is shorter).
fn read_prefix(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len.min(FINGERPRINT_BYTES) as usize];
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// The first bytes of one generation's content, up to [`FINGERPRINT_BYTES`], as far as
/// they were seen: they recognise the generation in another file (a copy) and key the
/// ids of its lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    bytes: Vec<u8>,
    /// The key of every line ending past the window (computed once the window is full).
    full_key: Option<u64>,
}

impl Head {
    /// The first `min(size, FINGERPRINT_BYTES)` bytes of `file`.
    pub fn read(file: &File, size: u64) -> io::Result<Head> {
        let mut h = Head::default();
        h.set(read_prefix(file, size)?);
        Ok(h)
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Head {
        let mut h = Head::default();
        h.set(bytes[..bytes.len().min(FINGERPRINT_BYTES as usize)].to_vec());
        h
    }

    fn set(&mut self, bytes: Vec<u8>) {
        self.full_key =
            (bytes.len() as u64 == FINGERPRINT_BYTES).then(|| xxhash_rust::xxh3::xxh3_64(&bytes));
        self.bytes = bytes;
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_full(&self) -> bool {
        self.full_key.is_some()
    }

    /// Takes in `data`, read at offset `at`, where it extends the head.
    pub fn absorb(&mut self, at: u64, data: &[u8]) {
        let have = self.len();
        if self.is_full() || at > have {
            return;
        }
        let from = (have - at) as usize;
        let want = (FINGERPRINT_BYTES - have) as usize;
        if from >= data.len() {
            return;
        }
        let take = &data[from..data.len().min(from + want)];
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.extend_from_slice(take);
        self.set(bytes);
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.bytes)
    }

    /// Whether this content continues the generation `fp` describes: it starts with the
    /// same `fp.len` bytes. An empty fingerprint (nothing was read) continues nothing.
    pub fn continues(&self, fp: &Fingerprint) -> bool {
        fp.len > 0
            && self.len() >= fp.len
            && xxhash_rust::xxh3::xxh3_64(&self.bytes[..fp.len as usize]) == fp.hash
    }

    /// The content key of the line ending at `end`: a hash of the bytes from the start
    /// through the line (for lines in the window), else of the whole window.
    pub fn key(&self, end: u64) -> u64 {
        if end >= FINGERPRINT_BYTES {
            if let Some(k) = self.full_key {
                return k;
            }
        }
        let upto = end.min(self.len()) as usize;
        xxhash_rust::xxh3::xxh3_64(&self.bytes[..upto])
    }
}

/// A deterministic event id from content only: the host, the content key of the line
/// (see [`Head::key`]) and its offset. 128 bits keep collisions out of reach.
pub fn event_id(host: &str, key: u64, offset: u64) -> String {
    let mut key_bytes = Vec::with_capacity(host.len() + 17);
    key_bytes.extend_from_slice(host.as_bytes());
    key_bytes.push(0);
    for n in [key, offset] {
        key_bytes.extend_from_slice(&n.to_le_bytes());
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key_bytes))
}

/// A fresh generation number: names one content stream in the sincedb (it follows the
/// content into copies); never part of an event id.
pub fn new_generation() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&nanos.to_le_bytes());
    key[8..16].copy_from_slice(&c.to_le_bytes());
    key[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&key) | 1
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
        let fp = Head::read(&f, 11).expect("head").fingerprint();
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
    fn a_head_continues_the_generations_it_extends() {
        let seen = Head::from_bytes(b"2026-12-04 one\n").fingerprint();
        assert!(Head::from_bytes(b"2026-12-04 one\n2026-12-04 two\n").continues(&seen));
        assert!(Head::from_bytes(b"2026-12-04 one\n").continues(&seen));
        assert!(
            !Head::from_bytes(b"2026-12-04 on").continues(&seen),
            "shorter"
        );
        assert!(!Head::from_bytes(b"2026-12-04 ONE\n").continues(&seen));
        assert!(
            !Head::from_bytes(b"anything").continues(&Fingerprint::EMPTY),
            "an empty generation is recognised in nothing"
        );
    }

    #[test]
    fn absorb_extends_the_head_up_to_the_window() {
        let mut h = Head::default();
        h.absorb(0, b"abc");
        h.absorb(3, b"def");
        h.absorb(2, b"cdefg");
        h.absorb(100, b"gap: ignored");
        assert_eq!(h, Head::from_bytes(b"abcdefg"));
        let big = vec![b'x'; 3000];
        h.absorb(7, &big);
        assert_eq!(h.len(), FINGERPRINT_BYTES);
        assert!(h.is_full());
        let mut all = b"abcdefg".to_vec();
        all.extend_from_slice(&big);
        assert_eq!(h, Head::from_bytes(&all));
    }

    #[test]
    fn event_ids_depend_on_content_and_offset_only() {
        let long: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let a = Head::from_bytes(&long);
        let b = Head::from_bytes(&long[..FINGERPRINT_BYTES as usize]);
        let mut c = Head::default();
        c.absorb(0, &long[..10]);
        c.absorb(10, &long[10..]);
        for end in [5, 500, 1024, 1500] {
            assert_eq!(
                event_id("h", a.key(end), end),
                event_id("h", c.key(end), end),
                "however the head was assembled"
            );
        }
        assert_eq!(a.key(1500), b.key(1500), "past the window: the window");
        assert_ne!(
            a.key(5),
            a.key(6),
            "in the window: the bytes through the line"
        );
        let other = Head::from_bytes(b"other content");
        assert_ne!(event_id("h", a.key(5), 5), event_id("h", other.key(5), 5));
        assert_ne!(event_id("h", a.key(5), 5), event_id("g", a.key(5), 5));
        assert_ne!(
            event_id("h", a.key(1500), 1500),
            event_id("h", a.key(1500), 1501)
        );
        assert_eq!(event_id("h", 1, 2).len(), 32);
        assert_ne!(new_generation(), new_generation());
    }
}
