//! Tail reading: the synchronous [`Watcher`] the input polls on a blocking thread.
//!
//! What is tracked is a *generation*: one content stream, read from a file found by its
//! device and inode and recognised by its first bytes (see [`super::identity`]). Lines are read
//! with positional reads from an open descriptor, so a file renamed away keeps being read
//! to its end. A file whose size shrinks or whose first bytes change (copytruncate) ends
//! its generation there: the generation goes on in the copy when one is watched (a file
//! whose first bytes are the generation's, past what was read), and the truncated file
//! starts a new generation at 0. A file found later that holds a generation's content (a
//! copy, after a restart too, through the sincedb) continues that generation or, when it
//! holds nothing unread, is only remembered. Every line gets an [`Ack`] whose token is
//! the line's end offset; [`LineAcks`] advances the checkpoint only past contiguous
//! delivered lines.

use super::discover::Globs;
use super::identity::{event_id, new_generation, FileId, Fingerprint, Head};
use super::sincedb::{Entry, SinceDb};
use crate::framing::LineSplitter;
use crate::plugin::Codec;
use logstash_mesos_core::{Ack, Acks, Event, FieldRef, SharedDelivery, Value};
use std::collections::{BTreeMap, HashMap};
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

/// One generation being read (see the module doc).
struct Tracked {
    /// The file it is read from now (a copy after copytruncate).
    path: PathBuf,
    id: FileId,
    file: Option<File>,
    generation: u64,
    /// Its first bytes as far as read: recognise it in copies, key its event ids.
    head: Head,
    /// Of `head`.
    fingerprint: Fingerprint,
    /// Next byte to read.
    read_pos: u64,
    /// Cuts what was read into lines; holds a line still being written.
    lines: LineSplitter,
    acks: Arc<LineAcks>,
    codec: Box<dyn Codec>,
    last_activity: Instant,
    last_size: u64,
    /// The modification time with `last_size`: a file rewritten to the same size
    /// (copytruncate of equally long content) still changes it.
    last_mtime: Option<SystemTime>,
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
    /// By generation.
    files: BTreeMap<u64, Tracked>,
    /// Files holding only content of a generation read elsewhere (copies), with their
    /// size and modification time when seen: not read while they keep them. (The time
    /// tells a new copy from an old one deleted in between whose inode it reuses.)
    copies: HashMap<FileId, (u64, Option<SystemTime>)>,
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
            copies: HashMap::new(),
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
        let mut ids: Vec<u64> = self.files.keys().copied().collect();
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
            match self.service(id, out, max_events) {
                Serviced::Read { more: m } => more |= m,
                Serviced::Truncated => {
                    self.truncated(id, out);
                    more = true;
                }
            }
        }
        // Generations let go of: their final position first.
        let done: Vec<u64> = self
            .files
            .iter()
            .filter(|(_, t)| t.finished && t.acks.lock().outstanding() == 0)
            .map(|(g, _)| *g)
            .collect();
        let now = unix_now();
        for g in done {
            if let Some(t) = self.files.remove(&g) {
                self.db.put(entry_of(&t, now));
            }
        }
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
            self.db.put(entry_of(t, now));
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

    /// The generation being read from the file `id`, if any.
    fn reading(&self, id: FileId) -> Option<u64> {
        self.files
            .iter()
            .find(|(_, t)| t.id == id && !t.finished)
            .map(|(g, _)| *g)
    }

    fn discover(&mut self) {
        self.last_discover = Some(Instant::now());
        self.rediscover = false;
        let first = !self.discovered_once;
        self.discovered_once = true;
        let mut found_all = self.settings.globs.discover();
        // Files a generation was last read from come first: when a copy and its original
        // are both found after a restart, the original goes on being read.
        found_all.sort_by_key(|f| !self.db.knows_file(FileId::of(&f.meta)));
        let present: std::collections::HashSet<FileId> =
            found_all.iter().map(|f| FileId::of(&f.meta)).collect();
        self.copies.retain(|id, _| present.contains(id));
        for found in found_all {
            let id = FileId::of(&found.meta);
            if self.completed.contains(&id) {
                continue;
            }
            if self.settings.read.is_some() && self.too_old(&found.meta) {
                // Read mode skips old files altogether: not read, never deleted.
                self.completed.insert(id);
                continue;
            }
            if let Some(g) = self.reading(id) {
                // Renamed to another watched name, or back: keep reading where we are.
                if let Some(t) = self.files.get_mut(&g) {
                    t.path = found.path;
                    t.rotated = false;
                }
                continue;
            }
            if self.copies.get(&id) == Some(&(found.meta.len(), found.meta.modified().ok())) {
                continue;
            }
            // A copy that changed (truncated, written to) is looked at again.
            self.copies.remove(&id);
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
                Ok(Started::Tracked(t)) => {
                    self.files.insert(t.generation, *t);
                }
                Ok(Started::Copy(size, mtime)) => {
                    self.copies.insert(id, (size, mtime));
                }
                Ok(Started::Continues(g, file, size)) => {
                    if let Some(t) = self.files.get_mut(&g) {
                        tracing::info!(generation = g, path = %found.path.display(), position = t.read_pos, "reading a truncated file's rest from its copy");
                        t.file = Some(file);
                        t.id = id;
                        t.path = found.path.clone();
                        t.finished = false;
                        t.rotated = true;
                        t.last_size = size;
                        t.last_mtime = None;
                        t.last_activity = Instant::now();
                    }
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

    /// Opens a newly found file and decides what it is: a generation to read (new, or one
    /// it continues: checkpointed, or let go of after a truncation), or a copy holding
    /// nothing unread.
    fn start(
        &self,
        path: PathBuf,
        id: FileId,
        meta: &std::fs::Metadata,
        first: bool,
    ) -> std::io::Result<Started> {
        let file = File::open(&path)?;
        let fmeta = file.metadata()?;
        let (size, mtime) = (fmeta.len(), fmeta.modified().ok());
        let head = Head::read(&file, size)?;
        // Read mode reads (and completes) every file it is given, as Logstash does: a
        // file dropped again is read again, not taken for a copy (its lines keep their
        // ids, so Elasticsearch overwrites them).
        let tail = self.settings.read.is_none();
        // A generation tracked now whose content this file starts with: a copy.
        let tracked = self
            .files
            .iter()
            .filter(|(_, t)| tail && head.continues(&t.fingerprint))
            .max_by_key(|(_, t)| (t.fingerprint.len, !t.finished));
        if let Some((g, t)) = tracked {
            if t.finished && size > t.read_pos {
                return Ok(Started::Continues(*g, file, size));
            }
            return Ok(Started::Copy(size, mtime));
        }
        // A checkpointed generation (an earlier run's, or one let go of).
        let entry = self
            .db
            .entries
            .values()
            .filter(|e| (tail || e.id == id) && head.continues(&e.fingerprint))
            .max_by_key(|e| (e.fingerprint.len, e.id == id, e.last_active));
        let ignored = self.too_old(meta);
        let (generation, pos) = match entry {
            // Its own file, grown or as it was.
            Some(e) if e.id == id && size >= e.position => (e.generation, e.position),
            // Its own file, shorter but starting the same: truncated and rewritten.
            Some(e) if e.id == id => (new_generation(), 0),
            // A copy with a rest not read yet (copytruncate while we were away).
            Some(e) if size > e.position => (e.generation, e.position),
            // A copy of what was read.
            Some(_) => return Ok(Started::Copy(size, mtime)),
            // Our file, other content: rewritten while we were away; read it all.
            None if self.db.knows_file(id) => (new_generation(), 0),
            None if ignored
                || (first && self.settings.start_at_end && self.settings.read.is_none()) =>
            {
                (new_generation(), size)
            }
            None => (new_generation(), 0),
        };
        tracing::debug!(path = %path.display(), position = pos, "watching file");
        Ok(Started::Tracked(Box::new(
            self.track(path, id, file, generation, head, pos, size),
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &self,
        path: PathBuf,
        id: FileId,
        file: File,
        generation: u64,
        head: Head,
        pos: u64,
        size: u64,
    ) -> Tracked {
        Tracked {
            path,
            id,
            file: Some(file),
            generation,
            fingerprint: head.fingerprint(),
            head,
            read_pos: pos,
            lines: LineSplitter::new(&self.settings.delimiter, pos),
            acks: LineAcks::new(Some(pos)),
            codec: self.codec.clone_box(),
            last_activity: Instant::now(),
            last_size: size,
            last_mtime: None,
            rotated: false,
            finished: false,
            drained: false,
        }
    }

    /// The file generation `g` was read from was truncated or rewritten: `g` goes on in
    /// its copy when one is watched (copytruncate), else ends; the file starts a new
    /// generation at 0.
    fn truncated(&mut self, g: u64, out: &mut Vec<Event>) {
        let settings = self.settings.clone();
        let Some(t) = self.files.get(&g) else {
            return;
        };
        let (old_id, read_pos, fp) = (t.id, t.read_pos, t.fingerprint);
        // The copy: a watched file, read for no other generation, whose first bytes are
        // this generation's, longer than what was read. Copytruncate copies before it
        // truncates, so the copy is there by now.
        let mut copy = None;
        let candidates = if settings.read.is_none() {
            settings.globs.discover()
        } else {
            Vec::new()
        };
        for found in candidates {
            let id = FileId::of(&found.meta);
            if id == old_id || self.reading(id).is_some() || found.meta.len() <= read_pos {
                continue;
            }
            let Ok(file) = File::open(&found.path) else {
                continue;
            };
            let size = found.meta.len();
            if Head::read(&file, size).is_ok_and(|h| h.continues(&fp)) {
                copy = Some((found.path, id, file, size));
                break;
            }
        }
        let Some(t) = self.files.get_mut(&g) else {
            return;
        };
        let old = t.file.take();
        let path = t.path.clone();
        match copy {
            Some((cpath, cid, file, size)) => {
                tracing::info!(path = %path.display(), copy = %cpath.display(), position = read_pos, "file truncated (copytruncate); reading the rest from its copy");
                t.file = Some(file);
                t.id = cid;
                t.path = cpath;
                t.rotated = true;
                t.last_size = size;
                t.last_mtime = None;
                self.copies.remove(&cid);
            }
            None => {
                tracing::info!(path = %path.display(), "file truncated or rewritten; reading it from the start");
                let start = out.len();
                t.codec.flush(out);
                decorate_all(&settings, t, &mut out[start..]);
                t.finished = true;
            }
        }
        let Some(file) = old else {
            return;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        match Head::read(&file, size) {
            Ok(head) => {
                let t = self.track(path, old_id, file, new_generation(), head, 0, size);
                self.files.insert(t.generation, t);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read file"),
        }
    }

    /// Checks one file for rotation/truncation and reads its new lines.
    fn service(&mut self, g: u64, out: &mut Vec<Event>, max_events: usize) -> Serviced {
        let settings = self.settings.clone();
        let Some(t) = self.files.get_mut(&g) else {
            return Serviced::Read { more: false };
        };
        if t.finished {
            return Serviced::Read { more: false };
        }
        if t.drained {
            if let Some(read) = &settings.read {
                let delivered = {
                    let acks = t.acks.lock();
                    acks.outstanding() == 0 && acks.committed().copied().unwrap_or(0) >= t.read_pos
                };
                if delivered {
                    complete(read, t);
                    self.completed.insert(t.id);
                }
            }
            return Serviced::Read { more: false };
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
            return Serviced::Read { more: false };
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(path = %t.path.display(), error = %e, "cannot stat open file");
                return Serviced::Read { more: false };
            }
        };
        let size = meta.len();
        let mtime = meta.modified().ok();
        let changed = size != t.last_size || mtime != t.last_mtime;
        let rewritten = changed && !t.fingerprint.matches(file, size).unwrap_or(true);
        if size < t.read_pos || rewritten {
            return Serviced::Truncated;
        }
        t.last_size = size;
        t.last_mtime = mtime;
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
            return Serviced::Read { more: false };
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
        Serviced::Read { more }
    }
}

/// What [`Watcher::start`] makes of a file found.
enum Started {
    Tracked(Box<Tracked>),
    /// Holds only content read (or being read) from another file; its size and mtime.
    Copy(u64, Option<SystemTime>),
    /// Continues this generation, let go of after its file was truncated: its rest.
    Continues(u64, File, u64),
}

/// What servicing a generation found.
enum Serviced {
    Read {
        more: bool,
    },
    /// Its file was truncated or rewritten: see [`Watcher::truncated`].
    Truncated,
}

fn entry_of(t: &Tracked, now: i64) -> Entry {
    Entry {
        generation: t.generation,
        id: t.id,
        fingerprint: t.fingerprint,
        position: committed(&t.acks),
        path: t.path.clone(),
        last_active: now,
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
        if !t.head.is_full() {
            // Before any line of these bytes gets its id from the head.
            t.head.absorb(t.read_pos, &buf[..n]);
            t.fingerprint = t.head.fingerprint();
        }
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
            let id = event_id(&settings.host, t.head.key(first), first);
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
