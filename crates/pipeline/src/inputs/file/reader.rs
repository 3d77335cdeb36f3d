//! Tail reading: the synchronous [`Watcher`] the input polls on a blocking thread.
//!
//! Each watched file is identified by device + inode (confirmed by a fingerprint). Lines
//! are read with positional reads from an open descriptor, so a file renamed away keeps
//! being read to its end; a file whose size shrinks or whose first bytes change
//! (copytruncate) restarts at 0; a new file at a watched path is read from its beginning.
//! Every line gets an [`Ack`] whose token is the line's end offset; [`LineAcks`] advances
//! the checkpoint only past contiguous delivered lines.

use super::discover::Globs;
use super::identity::{event_id, FileId, Fingerprint};
use super::sincedb::{Entry, SinceDb};
use crate::plugin::Codec;
use logstash_mesos_core::{Ack, AckSink, Acks, Event, FieldRef, Value};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The compiled options the watcher runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub globs: Globs,
    /// `start_position => end`: files found by the first discovery start at their end.
    pub start_at_end: bool,
    pub stat_interval: Duration,
    pub discover_interval: Duration,
    pub close_older: Option<Duration>,
    pub ignore_older: Option<Duration>,
    pub delimiter: Vec<u8>,
    pub max_open_files: usize,
    pub chunk_size: usize,
    pub sincedb_write_interval: Duration,
    pub sincedb_clean_after: Duration,
    pub host: String,
    pub ecs: bool,
    /// Set `[log][offset]` (ECS) on events: only for one-event-per-line codecs.
    pub line_offsets: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug)]
struct AckState {
    /// End offsets of emitted lines not yet contiguous with `committed`, in file order.
    pending: VecDeque<(u64, Status)>,
    committed: u64,
}

/// Tracks the delivery of one file's lines (one tracker per file generation).
#[derive(Debug)]
pub struct LineAcks {
    state: Mutex<AckState>,
}

impl LineAcks {
    pub fn new(start: u64) -> Arc<LineAcks> {
        Arc::new(LineAcks {
            state: Mutex::new(AckState {
                pending: VecDeque::new(),
                committed: start,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, AckState> {
        // A panic elsewhere while holding the lock leaves consistent data: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an emitted line ending at `end`, before its ack can fire.
    pub fn register(&self, end: u64) {
        self.lock().pending.push_back((end, Status::Pending));
    }

    /// The offset up to which every line was delivered.
    pub fn committed(&self) -> u64 {
        self.lock().committed
    }

    /// Lines emitted and not yet settled (a failed line stays outstanding for good).
    pub fn outstanding(&self) -> usize {
        self.lock().pending.len()
    }

    /// Lines emitted whose fate is still unknown (neither delivered nor failed).
    pub fn in_flight(&self) -> usize {
        self.lock()
            .pending
            .iter()
            .filter(|(_, st)| *st == Status::Pending)
            .count()
    }
}

impl AckSink for LineAcks {
    fn finished(&self, token: u64, delivered: bool) {
        let mut s = self.lock();
        if let Ok(i) = s.pending.binary_search_by_key(&token, |(t, _)| *t) {
            s.pending[i].1 = if delivered {
                Status::Delivered
            } else {
                Status::Failed
            };
        }
        // A failed line blocks the checkpoint until restart, which replays it.
        while let Some(&(end, Status::Delivered)) = s.pending.front() {
            s.committed = end;
            s.pending.pop_front();
        }
    }
}

/// One watched file.
struct Tracked {
    path: PathBuf,
    id: FileId,
    file: Option<File>,
    fingerprint: Fingerprint,
    generation: u64,
    /// Next byte to read.
    read_pos: u64,
    /// Bytes read after the last delimiter (a line still being written).
    partial: Vec<u8>,
    /// How much of `partial` was already searched for the delimiter.
    scanned: usize,
    acks: Arc<LineAcks>,
    codec: Box<dyn Codec>,
    last_activity: Instant,
    last_size: u64,
    /// The path no longer leads to this file: read it to its end, then let go.
    rotated: bool,
    /// Done with (closed after rotation): dropped once every ack settled.
    finished: bool,
}

/// Polls the watched files: discovery, rotation and truncation checks, reading.
pub struct Watcher {
    settings: Arc<Settings>,
    /// The input's codec; each file decodes with its own clone.
    codec: Box<dyn Codec>,
    db: SinceDb,
    files: BTreeMap<FileId, Tracked>,
    discovered_once: bool,
    last_discover: Option<Instant>,
    last_db_write: Instant,
    rediscover: bool,
    warned_max_open: bool,
    buf: Vec<u8>,
    round: usize,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Watcher {
    pub fn new(settings: Arc<Settings>, codec: Box<dyn Codec>, db: SinceDb) -> Watcher {
        let chunk = settings.chunk_size.max(1);
        Watcher {
            settings,
            codec,
            db,
            files: BTreeMap::new(),
            discovered_once: false,
            last_discover: None,
            last_db_write: Instant::now(),
            rediscover: false,
            warned_max_open: false,
            buf: vec![0; chunk],
            round: 0,
        }
    }

    /// One polling round. Appends at most about `max_events` events to `out` and returns
    /// true when it stopped early because of that budget (more data is waiting).
    pub fn poll(&mut self, out: &mut Vec<Event>, max_events: usize) -> bool {
        let due = self
            .last_discover
            .is_none_or(|t| t.elapsed() >= self.settings.discover_interval);
        if due || self.rediscover {
            self.discover();
        }
        let mut ids: Vec<FileId> = self.files.keys().copied().collect();
        // Start with a different file each round so a busy file cannot starve the others.
        if !ids.is_empty() {
            self.round = self.round.wrapping_add(1);
            let k = self.round % ids.len();
            ids.rotate_left(k);
        }
        let mut more = false;
        for id in ids {
            if out.len() >= max_events {
                more = true;
                break;
            }
            more |= self.service(id, out, max_events);
        }
        self.files
            .retain(|_, t| !(t.finished && t.acks.outstanding() == 0));
        if self.last_db_write.elapsed() >= self.settings.sincedb_write_interval {
            self.checkpoint();
        }
        more
    }

    /// Writes every file's delivered position to the sincedb.
    /// Lines emitted from any file whose delivery is still unknown.
    pub fn in_flight(&self) -> usize {
        self.files.values().map(|t| t.acks.in_flight()).sum()
    }

    pub fn checkpoint(&mut self) {
        let now = unix_now();
        for t in self.files.values() {
            self.db.put(Entry {
                id: t.id,
                fingerprint: t.fingerprint,
                generation: t.generation,
                position: t.acks.committed(),
                path: t.path.clone(),
                last_active: now,
            });
        }
        self.db
            .clean(now - self.settings.sincedb_clean_after.as_secs() as i64);
        if let Err(e) = self.db.save() {
            tracing::warn!(error = %e, "cannot write sincedb");
        }
        self.last_db_write = Instant::now();
    }

    fn open_count(&self) -> usize {
        self.files.values().filter(|t| t.file.is_some()).count()
    }

    fn discover(&mut self) {
        self.last_discover = Some(Instant::now());
        self.rediscover = false;
        let first = !self.discovered_once;
        self.discovered_once = true;
        for found in self.settings.globs.discover() {
            let id = FileId::of(&found.meta);
            if let Some(t) = self.files.get_mut(&id) {
                // Renamed to another watched name, or back: keep reading where we are.
                if !t.finished {
                    t.path = found.path;
                    t.rotated = false;
                }
                continue;
            }
            for t in self.files.values_mut() {
                if t.path == found.path {
                    t.rotated = true;
                }
            }
            if self.open_count() >= self.settings.max_open_files {
                if !self.warned_max_open {
                    tracing::warn!(max_open_files = self.settings.max_open_files, path = %found.path.display(), "too many open files; waiting for some to close");
                    self.warned_max_open = true;
                }
                continue;
            }
            match self.start(found.path.clone(), id, &found.meta, first) {
                Ok(t) => {
                    self.files.insert(id, t);
                }
                Err(e) => {
                    tracing::warn!(path = %found.path.display(), error = %e, "cannot open file")
                }
            }
        }
    }

    /// Opens a newly found file and decides where reading starts.
    fn start(
        &self,
        path: PathBuf,
        id: FileId,
        meta: &std::fs::Metadata,
        first: bool,
    ) -> std::io::Result<Tracked> {
        let file = File::open(&path)?;
        let size = file.metadata()?.len();
        let ignored = self.settings.ignore_older.is_some_and(|limit| {
            meta.modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > limit)
        });
        let (pos, fingerprint, generation) = match self.db.get(id) {
            Some(e) if e.fingerprint.matches(&file, size)? => {
                if e.position > size {
                    (0, Fingerprint::take(&file, size)?, e.generation + 1)
                } else if e.fingerprint.len == 0 {
                    (e.position, Fingerprint::take(&file, size)?, e.generation)
                } else {
                    (e.position, e.fingerprint, e.generation)
                }
            }
            // Our inode, other content: rewritten while we were away; read it all.
            Some(e) => (0, Fingerprint::take(&file, size)?, e.generation + 1),
            None if ignored || (first && self.settings.start_at_end) => {
                (size, Fingerprint::take(&file, size)?, 0)
            }
            None => (0, Fingerprint::take(&file, size)?, 0),
        };
        tracing::debug!(path = %path.display(), position = pos, "watching file");
        Ok(Tracked {
            path,
            id,
            file: Some(file),
            fingerprint,
            generation,
            read_pos: pos,
            partial: Vec::new(),
            scanned: 0,
            acks: LineAcks::new(pos),
            codec: self.codec.clone_box(),
            last_activity: Instant::now(),
            last_size: size,
            rotated: false,
            finished: false,
        })
    }

    /// Checks one file for rotation/truncation and reads its new lines.
    fn service(&mut self, id: FileId, out: &mut Vec<Event>, max_events: usize) -> bool {
        let settings = self.settings.clone();
        let Some(t) = self.files.get_mut(&id) else {
            return false;
        };
        if t.finished {
            return false;
        }
        if !t.rotated {
            match std::fs::metadata(&t.path) {
                Ok(m) if FileId::of(&m) == t.id => {
                    if t.file.is_none() && m.len() != t.read_pos {
                        // Closed by close_older and written to again.
                        match File::open(&t.path) {
                            Ok(f) => t.file = Some(f),
                            Err(e) => {
                                tracing::warn!(path = %t.path.display(), error = %e, "cannot reopen file")
                            }
                        }
                    }
                }
                _ => {
                    t.rotated = true;
                    self.rediscover = true;
                }
            }
        }
        let Some(file) = t.file.as_ref() else {
            if t.rotated {
                t.finished = true;
            }
            return false;
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(path = %t.path.display(), error = %e, "cannot stat open file");
                return false;
            }
        };
        let size = meta.len();
        let rewritten = size != t.last_size && !t.fingerprint.matches(file, size).unwrap_or(true);
        if size < t.read_pos || rewritten {
            tracing::info!(path = %t.path.display(), "file truncated or rewritten; reading it from the start");
            let start = out.len();
            t.codec.flush(out);
            decorate_all(&settings, t, &mut out[start..]);
            t.generation += 1;
            t.read_pos = 0;
            t.partial.clear();
            t.scanned = 0;
            t.acks = LineAcks::new(0);
            t.fingerprint = Fingerprint::take(file, size).unwrap_or(Fingerprint::EMPTY);
        } else if t.fingerprint.len == 0 && size > 0 && t.read_pos == 0 {
            // First data in a file that was empty when found: fingerprint it now, before
            // any event id is derived from it.
            t.fingerprint = Fingerprint::take(file, size).unwrap_or(Fingerprint::EMPTY);
        }
        t.last_size = size;
        let more = read_lines(&settings, t, &mut self.buf, out, max_events);
        let start = out.len();
        t.codec.flush_expired(out);
        decorate_all(&settings, t, &mut out[start..]);
        let at_eof = t.read_pos >= size;
        let idle = t.last_activity.elapsed();
        if at_eof && !more {
            if t.rotated && (meta.nlink() == 0 || settings.close_older.is_some_and(|c| idle >= c)) {
                // Rotated away and drained: nothing more will come.
                let start = out.len();
                t.codec.flush(out);
                decorate_all(&settings, t, &mut out[start..]);
                t.file = None;
                t.finished = true;
            } else if !t.rotated && settings.close_older.is_some_and(|c| idle >= c) {
                t.file = None;
            }
        }
        more
    }
}

/// Reads complete lines from `t` until EOF or the event budget is used.
fn read_lines(
    settings: &Settings,
    t: &mut Tracked,
    buf: &mut [u8],
    out: &mut Vec<Event>,
    max_events: usize,
) -> bool {
    let delim = settings.delimiter.as_slice();
    loop {
        if out.len() >= max_events {
            return true;
        }
        let Some(file) = t.file.as_ref() else {
            return false;
        };
        let n = match file.read_at(buf, t.read_pos) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(path = %t.path.display(), error = %e, "read failed");
                return false;
            }
        };
        t.read_pos += n as u64;
        t.last_activity = Instant::now();
        t.partial.extend_from_slice(&buf[..n]);
        let base = t.read_pos - t.partial.len() as u64;
        let mut start = 0;
        // Resume the search where the last one stopped (minus a delimiter's overlap).
        let mut from = t.scanned.saturating_sub(delim.len().saturating_sub(1));
        while let Some(i) = memchr::memmem::find(&t.partial[from..], delim) {
            let end = from + i;
            let line = t.partial[start..end].to_vec();
            let line_end = base + (end + delim.len()) as u64;
            emit_line(settings, t, &line, base + start as u64, line_end, out);
            start = end + delim.len();
            from = start;
        }
        t.partial.drain(..start);
        t.scanned = t.partial.len();
    }
}

fn emit_line(
    settings: &Settings,
    t: &mut Tracked,
    line: &[u8],
    start: u64,
    end: u64,
    out: &mut Vec<Event>,
) {
    t.acks.register(end);
    let ack = Ack::new(t.acks.clone(), end);
    let first = out.len();
    t.codec.decode_acked(line, Acks::One(ack), out);
    if settings.ecs && settings.line_offsets {
        for e in &mut out[first..] {
            let _ = e.set(
                &FieldRef::from_path(["log", "offset"]),
                Value::Integer(start as i64),
            );
        }
    }
    decorate_all(settings, t, &mut out[first..]);
}

/// Adds the source fields (only where absent, as Logstash does) and the deterministic id.
fn decorate_all(settings: &Settings, t: &Tracked, events: &mut [Event]) {
    let (host_field, path_field) = if settings.ecs {
        (
            FieldRef::from_path(["host", "name"]),
            FieldRef::from_path(["log", "file", "path"]),
        )
    } else {
        (FieldRef::top("host"), FieldRef::top("path"))
    };
    let path = t.path.to_string_lossy().into_owned();
    for e in events {
        let meta = e.metadata_mut();
        meta.insert("path", Value::from(path.as_str()));
        meta.insert("host", Value::from(settings.host.as_str()));
        if let Some(first) = first_token(e.acks()) {
            let id = event_id(&settings.host, t.id, t.fingerprint, t.generation, first);
            e.metadata_mut().insert("_id", Value::String(id));
        }
        if !e.contains(&host_field) {
            let _ = e.set(&host_field, Value::from(settings.host.as_str()));
        }
        if !e.contains(&path_field) {
            let _ = e.set(&path_field, Value::from(path.as_str()));
        }
    }
}

/// The lowest token (the first line's end offset) among an event's acks.
fn first_token(acks: &Acks) -> Option<u64> {
    match acks {
        Acks::None => None,
        Acks::One(a) => Some(a.token()),
        Acks::Many(v) => v.iter().map(Ack::token).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_advances_only_over_contiguous_delivered_lines() {
        let acks = LineAcks::new(0);
        for end in [10, 20, 30, 40] {
            acks.register(end);
        }
        acks.finished(20, true);
        assert_eq!(acks.committed(), 0, "line ending at 10 still pending");
        acks.finished(10, true);
        assert_eq!(acks.committed(), 20);
        acks.finished(30, false);
        acks.finished(40, true);
        assert_eq!(acks.committed(), 20, "a failed line blocks the checkpoint");
        assert_eq!(acks.outstanding(), 2);
    }
}
