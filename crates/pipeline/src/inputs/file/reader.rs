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
use crate::framing::LineSplitter;
use crate::plugin::Codec;
use logstash_mesos_core::{Ack, Acks, Event, FieldRef, SharedDelivery, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
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
    /// `mode => read`: what to do with files read to their end.
    pub read: Option<ReadMode>,
}

/// `mode => read`: every file is read from its start to its end (the last line needs no
/// delimiter), then, once every line of it was delivered, completed as
/// `file_completed_action` says.
#[derive(Clone, Debug)]
pub struct ReadMode {
    /// `delete` or `log_and_delete`.
    pub delete: bool,
    /// `file_completed_log_path`, for `log` and `log_and_delete`.
    pub log_path: Option<PathBuf>,
    /// `exit_after_read`: the input ends once every file found is completed.
    pub exit_after_read: bool,
}

/// Tracks the delivery of one file's lines (one tracker per file generation): tokens and
/// positions are line end offsets, so the checkpoint is the offset up to which every line
/// was delivered.
pub type LineAcks = SharedDelivery<u64>;

/// The offset up to which every line of `acks` was delivered.
fn committed(acks: &LineAcks) -> u64 {
    acks.lock().committed().copied().unwrap_or(0)
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
    /// Cuts what was read into lines; holds a line still being written.
    lines: LineSplitter,
    acks: Arc<LineAcks>,
    codec: Box<dyn Codec>,
    last_activity: Instant,
    last_size: u64,
    /// The path no longer leads to this file: read it to its end, then let go.
    rotated: bool,
    /// Done with (closed after rotation): dropped once every ack settled.
    finished: bool,
    /// Read mode: read to its end, the last partial line and the codec flushed; completed
    /// once every line is delivered.
    drained: bool,
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
    /// Read mode: files completed by this process (not read again while their file stays).
    completed: std::collections::HashSet<FileId>,
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
            completed: Default::default(),
        }
    }

    /// Read mode with `exit_after_read`: every file found was read, delivered and
    /// completed.
    pub fn all_read(&self) -> bool {
        self.settings
            .read
            .as_ref()
            .is_some_and(|r| r.exit_after_read)
            && self.discovered_once
            && self
                .files
                .values()
                .all(|t| t.finished && t.acks.lock().outstanding() == 0)
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
            .retain(|_, t| !(t.finished && t.acks.lock().outstanding() == 0));
        if self.last_db_write.elapsed() >= self.settings.sincedb_write_interval {
            self.checkpoint();
        }
        more
    }

    /// Writes every file's delivered position to the sincedb.
    /// Lines emitted from any file whose delivery is still unknown.
    pub fn in_flight(&self) -> usize {
        self.files.values().map(|t| t.acks.lock().in_flight()).sum()
    }

    pub fn checkpoint(&mut self) {
        let now = unix_now();
        for t in self.files.values() {
            self.db.put(Entry {
                id: t.id,
                fingerprint: t.fingerprint,
                generation: t.generation,
                position: committed(&t.acks),
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
            if self.completed.contains(&id) {
                continue;
            }
            if self.settings.read.is_some() && self.too_old(&found.meta) {
                // Read mode skips old files altogether: not read, never deleted.
                self.completed.insert(id);
                continue;
            }
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

    /// `ignore_older`: last modified longer ago than the limit.
    fn too_old(&self, meta: &std::fs::Metadata) -> bool {
        self.settings.ignore_older.is_some_and(|limit| {
            meta.modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > limit)
        })
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
        let ignored = self.too_old(meta);
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
            None if ignored
                || (first && self.settings.start_at_end && self.settings.read.is_none()) =>
            {
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
            lines: LineSplitter::new(&self.settings.delimiter, pos),
            acks: LineAcks::new(Some(pos)),
            codec: self.codec.clone_box(),
            last_activity: Instant::now(),
            last_size: size,
            rotated: false,
            finished: false,
            drained: false,
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
        if t.drained {
            if let Some(read) = &settings.read {
                let delivered = {
                    let acks = t.acks.lock();
                    acks.outstanding() == 0 && acks.committed().copied().unwrap_or(0) >= t.read_pos
                };
                if delivered {
                    complete(read, t);
                    self.completed.insert(id);
                }
            }
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
            t.lines.reset(0);
            t.acks = LineAcks::new(Some(0));
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
        if at_eof && !more && settings.read.is_some() {
            // The file is complete: its last line needs no delimiter.
            let (rest, start) = t.lines.take_partial();
            if !rest.is_empty() {
                let end = t.read_pos;
                emit_line(&settings, t, &rest, start, end, out);
            }
            let first = out.len();
            t.codec.flush(out);
            decorate_all(&settings, t, &mut out[first..]);
            t.drained = true;
            return false;
        }
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

/// Read mode: a file whose every line was delivered is logged and/or deleted, then let go.
fn complete(read: &ReadMode, t: &mut Tracked) {
    if let Some(log) = &read.log_path {
        use std::io::Write;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| writeln!(f, "{}", t.path.display()));
        if let Err(e) = written {
            tracing::warn!(log = %log.display(), path = %t.path.display(), error = %e, "cannot write file_completed_log_path");
        }
    }
    if read.delete {
        // Only the file that was read: the name may lead to a new file by now.
        let same = std::fs::metadata(&t.path).is_ok_and(|m| FileId::of(&m) == t.id);
        if same {
            if let Err(e) = std::fs::remove_file(&t.path) {
                tracing::warn!(path = %t.path.display(), error = %e, "cannot delete a completed file");
            }
        }
    }
    tracing::debug!(path = %t.path.display(), "file completed");
    t.file = None;
    t.finished = true;
}

/// Reads complete lines from `t` until EOF or the event budget is used.
fn read_lines(
    settings: &Settings,
    t: &mut Tracked,
    buf: &mut [u8],
    out: &mut Vec<Event>,
    max_events: usize,
) -> bool {
    let mut lines = Vec::new();
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
        t.lines.push(&buf[..n], &mut lines);
        for l in lines.drain(..) {
            emit_line(settings, t, &l.bytes, l.start, l.end, out);
        }
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
    t.acks.lock().register(end, end);
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
        use logstash_mesos_core::AckSink;
        let acks = LineAcks::new(Some(0));
        for end in [10, 20, 30, 40] {
            acks.lock().register(end, end);
        }
        acks.finished(20, true);
        assert_eq!(committed(&acks), 0, "line ending at 10 still pending");
        acks.finished(10, true);
        assert_eq!(committed(&acks), 20);
        acks.finished(30, false);
        acks.finished(40, true);
        assert_eq!(committed(&acks), 20, "a failed line blocks the checkpoint");
        assert_eq!(acks.lock().outstanding(), 2);
    }
}
