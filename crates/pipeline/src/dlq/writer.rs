//! Appends entries to the dead letter queue (see the module docs for the layout).

use super::{segments, Entry, SEGMENT_MAX_BYTES};
use crate::plugin::{DlqSettings, DlqStoragePolicy};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a `write` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub written: usize,
    /// Refused because the queue is full (`drop_newer`) or an entry alone exceeds it.
    pub dropped: usize,
}

struct Open {
    seq: u64,
    file: File,
    size: u64,
}

struct State {
    open: Option<Open>,
    next_seq: u64,
}

/// The writer of one queue directory.
pub struct DlqWriter {
    dir: PathBuf,
    settings: DlqSettings,
    segment_max: u64,
    state: Mutex<State>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<DlqWriter>>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, Weak<DlqWriter>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

impl DlqWriter {
    /// The process's writer for `dir`, opened on first use.
    pub fn shared(dir: &Path, settings: &DlqSettings) -> io::Result<Arc<DlqWriter>> {
        let mut reg = registry()
            .lock()
            .map_err(|_| io::Error::other("dead letter queue registry poisoned"))?;
        if let Some(w) = reg.get(dir).and_then(Weak::upgrade) {
            return Ok(w);
        }
        let w = Arc::new(DlqWriter::open(dir, settings.clone(), SEGMENT_MAX_BYTES)?);
        reg.insert(dir.to_path_buf(), Arc::downgrade(&w));
        Ok(w)
    }

    /// Opens `dir` (created if missing); leftover open segments of an earlier run are
    /// sealed and writing continues in a new segment.
    pub fn open(dir: &Path, settings: DlqSettings, segment_max: u64) -> io::Result<DlqWriter> {
        std::fs::create_dir_all(dir)?;
        let mut next_seq = 1;
        for (seq, path) in segments(dir)? {
            next_seq = next_seq.max(seq + 1);
            if path.extension().is_some_and(|e| e == "tmp") {
                std::fs::rename(&path, dir.join(format!("{seq}.log")))?;
            }
        }
        Ok(DlqWriter {
            dir: dir.to_path_buf(),
            settings,
            segment_max,
            state: Mutex::new(State {
                open: None,
                next_seq,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Total bytes of every segment on disk.
    pub fn size_on_disk(&self) -> io::Result<u64> {
        let mut total = 0;
        for (_, p) in segments(&self.dir)? {
            total += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
        Ok(total)
    }

    /// Appends `entries` and fsyncs. Blocking: call from `spawn_blocking` in async code.
    pub fn write(&self, entries: &[Entry]) -> io::Result<WriteOutcome> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("dead letter queue writer poisoned"))?;
        let mut out = WriteOutcome::default();
        let mut total = self.size_on_disk()?;
        let mut line = Vec::with_capacity(1024);
        for e in entries {
            line.clear();
            serde_json::to_writer(&mut line, e).map_err(io::Error::other)?;
            line.push(b'\n');
            let len = line.len() as u64;
            if total + len > self.settings.max_bytes {
                if self.settings.storage_policy == DlqStoragePolicy::DropOlder {
                    total = self.drop_oldest_until(&mut st, len)?;
                }
                if total + len > self.settings.max_bytes {
                    out.dropped += 1;
                    continue;
                }
            }
            let needs_new = match &st.open {
                None => true,
                Some(o) => o.size > 0 && o.size + len > self.segment_max,
            };
            if needs_new {
                self.seal(&mut st)?;
                let seq = st.next_seq;
                st.next_seq += 1;
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(format!("{seq}.log.tmp")))?;
                st.open = Some(Open { seq, file, size: 0 });
            }
            if let Some(o) = st.open.as_mut() {
                o.file.write_all(&line)?;
                o.size += len;
                total += len;
                out.written += 1;
            }
        }
        if let Some(o) = st.open.as_mut() {
            o.file.sync_data()?;
        }
        Ok(out)
    }

    /// Deletes the oldest sealed segments until `need` more bytes fit; returns the new total.
    fn drop_oldest_until(&self, st: &mut State, need: u64) -> io::Result<u64> {
        let open_seq = st.open.as_ref().map(|o| o.seq);
        let mut segs = segments(&self.dir)?;
        let mut total: u64 = segs
            .iter()
            .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        segs.retain(|(seq, _)| Some(*seq) != open_seq);
        for (_, p) in segs {
            if total + need <= self.settings.max_bytes {
                break;
            }
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&p)?;
            tracing::warn!(segment = %p.display(), "dead letter queue full: dropped oldest segment (storage_policy drop_older)");
            total = total.saturating_sub(len);
        }
        // The open segment may be all that is left: seal it so it can go next time.
        if total + need > self.settings.max_bytes && open_seq.is_some() {
            self.seal(st)?;
        }
        Ok(total)
    }

    fn seal(&self, st: &mut State) -> io::Result<()> {
        if let Some(o) = st.open.take() {
            o.file.sync_all()?;
            drop(o.file);
            std::fs::rename(
                self.dir.join(format!("{}.log.tmp", o.seq)),
                self.dir.join(format!("{}.log", o.seq)),
            )?;
        }
        Ok(())
    }

    /// Seals the open segment.
    pub fn close(&self) -> io::Result<()> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("dead letter queue writer poisoned"))?;
        self.seal(&mut st)
    }
}

impl Drop for DlqWriter {
    fn drop(&mut self) {
        if let Ok(mut st) = self.state.lock() {
            if let Some(o) = st.open.take() {
                let _ = o.file.sync_all();
                drop(o.file);
                let _ = std::fs::rename(
                    self.dir.join(format!("{}.log.tmp", o.seq)),
                    self.dir.join(format!("{}.log", o.seq)),
                );
            }
        }
    }
}
