//! Tailing one sandbox stream (`stdout` or `stderr`) across the container loggers'
//! rotations (PROTOCOL.md §5.4), from the host path or through `GET /files/read`.
//!
//! A generation is identified by its first bytes (up to [`FP_BYTES`]) and, on the host,
//! its inode. Each poll probes `stdout`: the same generation is read on from the offset;
//! a different one means a rotation (rename or copytruncate): the old generation is
//! finished first (through the still-open descriptor on the host, which also survives
//! logrotate's default `rotate 0` deletion; else found again as `stdout.k` by identity),
//! then every newer generation oldest first, then the new `stdout` from 0. A line split
//! by a rotation (the loggers rotate at chunk, not line, boundaries) is carried over and
//! completed in the next generation. Positions are checkpointed as
//! [`Position::File`] (inode, hex of the first bytes, offset) only past delivered lines.

use super::api::{AgentClient, ApiError};
use super::select::TaskMeta;
use crate::checkpoint::{Acker, Position, Tracker};
use crate::lines::{splitter, Line};
use crate::status::Status;
use crate::stream::{set, set_labels, Multiline, Record};
use logstash_mesos_core::{Ack, Event, Value};
use logstash_mesos_pipeline::framing::LineSplitter;
use logstash_mesos_pipeline::input_context::{Closed, InputContext};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Bytes of a generation's start that identify it.
pub const FP_BYTES: usize = 64;
/// `GET /files/read` returns at most 16 pages per call.
pub const READ_CHUNK: usize = 65536;
/// Rotated generations looked at (`stdout.1` … `stdout.N`); DC/OS keeps 9.
pub const MAX_GENERATIONS: usize = 32;

/// What a probe of one file name found.
#[derive(Clone, Debug)]
pub struct Probe {
    pub size: u64,
    /// 0 through the API (no inodes there).
    pub ino: u64,
    /// The first `min(size, FP_BYTES)` bytes.
    pub head: Vec<u8>,
}

#[derive(Debug)]
pub enum SrcErr {
    /// The sandbox directory is gone (GC) or the agent says 404.
    Gone,
    Other(String),
}

impl From<ApiError> for SrcErr {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound => SrcErr::Gone,
            e => SrcErr::Other(e.to_string()),
        }
    }
}

/// Where the files are read from.
pub enum Backend {
    Host {
        dir: PathBuf,
        /// The descriptor of the generation being read: renamed or even deleted by
        /// logrotate, it still reads to the generation's end.
        held: Option<(u64, Arc<File>)>,
        /// The descriptors this poll's probes opened, by inode: a generation is read
        /// through the descriptor its probe saw, so a rotation that renames it between
        /// the probe and the read (the logger shifting `stdout.k` to `stdout.k+1`) neither
        /// hides it nor makes another generation's bytes be read in its place.
        probed: Vec<(u64, Arc<File>)>,
    },
    Remote {
        client: AgentClient,
        dir: String,
    },
}

fn io_err(e: std::io::Error) -> SrcErr {
    if e.kind() == std::io::ErrorKind::NotFound {
        SrcErr::Gone
    } else {
        SrcErr::Other(e.to_string())
    }
}

impl Backend {
    pub fn is_host(&self) -> bool {
        matches!(self, Backend::Host { .. })
    }

    /// The path events name in `[log][file][path]`.
    pub fn path_of(&self, name: &str) -> String {
        match self {
            Backend::Host { dir, .. } => dir.join(name).to_string_lossy().into_owned(),
            Backend::Remote { dir, .. } => format!("{dir}/{name}"),
        }
    }

    /// True when the sandbox directory itself is gone (host only; the API can't tell).
    pub fn dir_gone(&self) -> bool {
        match self {
            Backend::Host { dir, .. } => !dir.is_dir(),
            Backend::Remote { .. } => false,
        }
    }

    /// Size, inode and first bytes of `name`; `None` when there is no such file.
    pub async fn probe(&mut self, name: &str) -> Result<Option<Probe>, SrcErr> {
        match self {
            Backend::Host { dir, probed, .. } => {
                let p = dir.join(name);
                let f = match File::open(&p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(SrcErr::Other(format!("{}: {e}", p.display()))),
                };
                let m = f.metadata().map_err(io_err)?;
                let n = (m.len() as usize).min(FP_BYTES);
                let mut head = vec![0; n];
                let got = read_full_at(&f, &mut head, 0).map_err(io_err)?;
                head.truncate(got);
                let ino = m.ino();
                probed.retain(|(i, _)| *i != ino);
                probed.push((ino, Arc::new(f)));
                Ok(Some(Probe {
                    size: m.len(),
                    ino,
                    head,
                }))
            }
            Backend::Remote { client, dir } => {
                let path = format!("{dir}/{name}");
                let size = match client.read(&path, None, 0).await {
                    Ok(r) => r.offset,
                    Err(ApiError::NotFound) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let head = if size == 0 {
                    Vec::new()
                } else {
                    match client
                        .read(&path, Some(0), (size as usize).min(FP_BYTES))
                        .await
                    {
                        Ok(r) => r.data,
                        Err(ApiError::NotFound) => return Ok(None),
                        Err(e) => return Err(e.into()),
                    }
                };
                Ok(Some(Probe { size, ino: 0, head }))
            }
        }
    }

    /// Up to `max` bytes of `name` (generation `ino` on the host) from `offset`.
    pub async fn read(
        &mut self,
        name: &str,
        ino: u64,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, SrcErr> {
        match self {
            Backend::Host { dir, held, probed } => {
                // This poll's probe of the inode wins over an older held descriptor: a
                // deleted generation's inode number can be reused by a new file.
                if let Some((_, f)) = probed.iter().find(|(i, _)| *i == ino) {
                    if !held.as_ref().is_some_and(|h| Arc::ptr_eq(&h.1, f)) {
                        *held = Some((ino, f.clone()));
                    }
                } else if held.as_ref().map(|h| h.0) != Some(ino) {
                    {
                        let f = File::open(dir.join(name)).map_err(io_err)?;
                        let m = f.metadata().map_err(io_err)?;
                        if m.ino() != ino {
                            // Rotated between the probe and now: the next poll sorts it out.
                            return Ok(Vec::new());
                        }
                        *held = Some((ino, Arc::new(f)));
                    }
                }
                let Some((_, f)) = held.as_ref() else {
                    return Ok(Vec::new());
                };
                let mut buf = vec![0; max];
                let n = f.read_at(&mut buf, offset).map_err(io_err)?;
                buf.truncate(n);
                Ok(buf)
            }
            Backend::Remote { client, dir } => {
                let r = client
                    .read(&format!("{dir}/{name}"), Some(offset), max)
                    .await?;
                Ok(r.data)
            }
        }
    }

    /// Drops the descriptors of the last poll's probes (the held one stays).
    pub fn forget_probes(&mut self) {
        if let Backend::Host { probed, .. } = self {
            probed.clear();
        }
    }

    /// Reads on from the held descriptor of generation `ino` (host only).
    fn read_held(&self, ino: u64, offset: u64, max: usize) -> Option<Vec<u8>> {
        let Backend::Host {
            held: Some((h, f)), ..
        } = self
        else {
            return None;
        };
        if *h != ino {
            return None;
        }
        let mut buf = vec![0; max];
        let n = f.read_at(&mut buf, offset).ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

fn read_full_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = f.read_at(&mut buf[done..], at + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

pub fn hex(b: &[u8]) -> String {
    // Called for every line (the checkpoint position names its file's fingerprint):
    // no formatting machinery per byte.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for x in b {
        out.push(char::from(DIGITS[usize::from(x >> 4)]));
        out.push(char::from(DIGITS[usize::from(x & 0x0f)]));
    }
    out
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Shared between the input's discovery loop and a reader.
#[derive(Debug, Default)]
pub struct Flags {
    /// The task is terminal (or its executor left `/state`).
    pub terminal: AtomicBool,
}

/// How a reader ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Terminal task read to its last line.
    Completed,
    /// The sandbox was removed (GC) or never had this file.
    Gone,
    /// Shutdown or a closed pipeline.
    Cancelled,
}

/// Tunables of a reader.
#[derive(Clone, Debug)]
pub struct TailSettings {
    pub poll_interval: Duration,
    /// A terminal task's stream is released after this long without growth.
    pub completed_grace: Duration,
    pub max_line_bytes: usize,
}

/// The emitting side of one stream: events with the task's metadata, acknowledgements
/// tracked for the checkpoint (the docker input's [`Acker`]/[`Tracker`]).
pub struct Emitter {
    pub input: InputContext,
    pub meta: Arc<TaskMeta>,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub slot: u32,
    pub acker: Arc<Acker>,
    pub status: Arc<Status>,
    pub multiline: Option<Multiline>,
    /// Events built but not yet queued (sent per chunk).
    batch: Vec<Event>,
}

impl Emitter {
    pub fn new(
        input: InputContext,
        meta: Arc<TaskMeta>,
        stream: &str,
        slot: u32,
        acker: Arc<Acker>,
        status: Arc<Status>,
        multiline: Option<Multiline>,
    ) -> Self {
        Emitter {
            input,
            meta,
            stream: stream.to_string(),
            slot,
            acker,
            status,
            multiline,
            batch: Vec::new(),
        }
    }

    /// The status key of this stream.
    pub fn key(&self) -> &str {
        &self.stream
    }

    fn event(&self, rec: Record, path: &str) -> Result<Event, Closed> {
        let m = &self.meta;
        let msg = match String::from_utf8(rec.message) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let bytes = msg.len() as u64;
        let mut e = Event::from_message(msg);
        set(
            &mut e,
            "[mesos][agent][id]",
            Value::from(m.agent_id.as_str()),
        );
        set(
            &mut e,
            "[mesos][agent][hostname]",
            Value::from(m.agent_hostname.as_str()),
        );
        set(
            &mut e,
            "[mesos][framework][id]",
            Value::from(m.framework_id.as_str()),
        );
        set(
            &mut e,
            "[mesos][framework][name]",
            Value::from(m.framework_name.as_str()),
        );
        set(
            &mut e,
            "[mesos][executor][id]",
            Value::from(m.executor_id.as_str()),
        );
        set(&mut e, "[mesos][task][id]", Value::from(m.task_id.as_str()));
        set(
            &mut e,
            "[mesos][task][name]",
            Value::from(m.task_name.as_str()),
        );
        set_labels(&mut e, "[mesos][task][labels]", &m.labels);
        set(
            &mut e,
            "[mesos][container][id]",
            Value::from(m.container_id.as_str()),
        );
        set(&mut e, "[log][file][path]", Value::from(path));
        if let Some(o) = rec.offset {
            set(&mut e, "[log][offset]", Value::Integer(o as i64));
        }
        if rec.truncated {
            e.add_tag("_linetoolong");
        }
        for t in &rec.tags {
            e.add_tag(t);
        }
        set(&mut e, "[@metadata][_id]", Value::String(rec.id_suffix));
        let seq = match self.acker.trackers.lock() {
            Ok(mut t) => t
                .entry(self.slot)
                .or_insert_with(Tracker::default)
                .register_next(rec.after),
            Err(_) => return Err(Closed),
        };
        e.attach_ack(Ack::new(self.acker.clone(), Acker::token(self.slot, seq)));
        self.status.stream(&m.container_id, &self.stream, |s| {
            s.lines += rec.lines as u64;
            s.bytes += bytes;
        });
        Ok(e)
    }

    fn push(&mut self, rec: Record, path: &str) -> Result<(), Closed> {
        let ready = match &mut self.multiline {
            None => Some(rec),
            Some(m) => m.push(rec),
        };
        if let Some(r) = ready {
            let e = self.event(r, path)?;
            self.batch.push(e);
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<(), Closed> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.batch);
        self.input.emit_batch(events).await
    }

    async fn flush(&mut self, path: &str) -> Result<(), Closed> {
        if let Some(r) = self.multiline.as_mut().and_then(Multiline::flush) {
            let e = self.event(r, path)?;
            self.batch.push(e);
        }
        self.send().await
    }
}

/// The deterministic `[@metadata][_id]` of a line: container, stream, the generation's
/// first `min(64, end)` bytes (fixed forever once the line is written) and the line's
/// start, so a replay after a restart gets the same id.
pub fn line_id(container: &str, stream: &str, fp: &[u8], end: u64, start: u64) -> String {
    let n = fp.len().min(end as usize);
    let mut key = Vec::with_capacity(container.len() + stream.len() + n + 10);
    key.extend_from_slice(container.as_bytes());
    key.push(0);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&fp[..n]);
    key.extend_from_slice(&start.to_le_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

/// One stream's reader.
pub struct Tail {
    pub backend: Backend,
    pub emitter: Emitter,
    pub settings: TailSettings,
    /// Identity of the generation being read.
    ino: u64,
    fp: Vec<u8>,
    /// The file name the current generation was last seen under.
    name: String,
    splitter: LineSplitter,
    /// A line begun in an earlier generation: (bytes, start offset there).
    carry: Option<(Vec<u8>, u64)>,
    adopted: bool,
    /// The head of the newest rotated generation (`stdout.1`) when the current one was
    /// taken up. While nothing of the current generation is read (its fingerprint is
    /// empty) a rotation can't be told from growth by content, and copytruncate (or the
    /// API, which has no inodes) keeps the inode: a changed `stdout.1` tells it instead.
    newest_rotated: Option<Vec<u8>>,
    lines: Vec<Line>,
}

enum Poll {
    Progress,
    Idle,
    NoFile,
}

impl Tail {
    /// A reader starting at `from` (a checkpoint), or at the beginning.
    pub fn new(
        backend: Backend,
        emitter: Emitter,
        settings: TailSettings,
        from: Option<&Position>,
    ) -> Tail {
        let (ino, fp, offset) = match from {
            Some(Position::File {
                inode,
                fingerprint,
                offset,
            }) => (*inode, unhex(fingerprint).unwrap_or_default(), *offset),
            _ => (0, Vec::new(), 0),
        };
        let name = emitter.stream.clone();
        Tail {
            backend,
            emitter,
            splitter: splitter(offset, settings.max_line_bytes),
            settings,
            ino,
            fp,
            name,
            carry: None,
            adopted: from.is_some(),
            newest_rotated: None,
            lines: Vec::new(),
        }
    }

    fn base(&self) -> String {
        self.emitter.stream.clone()
    }

    /// Runs until the stream is complete, gone, or cancelled.
    pub async fn run(mut self, flags: Arc<Flags>, cancel: CancellationToken) -> Outcome {
        let mut last_growth = Instant::now();
        let mut backoff = self.settings.poll_interval;
        let cid = self.emitter.meta.container_id.clone();
        let key = self.emitter.key().to_string();
        let path = self.backend.path_of(&self.base());
        self.emitter.status.stream(&cid, &key, |s| {
            s.kind = key.clone();
            s.path = Some(path.clone());
            s.state = "running".into();
        });
        let outcome = loop {
            if cancel.is_cancelled() {
                break Outcome::Cancelled;
            }
            let terminal = flags.terminal.load(Ordering::Relaxed);
            let wait = match self.poll().await {
                Ok(Poll::Progress) => {
                    last_growth = Instant::now();
                    backoff = self.settings.poll_interval;
                    Duration::ZERO
                }
                Ok(Poll::Idle) => {
                    if terminal && last_growth.elapsed() >= self.settings.completed_grace {
                        if self.finish().await.is_err() {
                            break Outcome::Cancelled;
                        }
                        break Outcome::Completed;
                    }
                    self.settings.poll_interval
                }
                Ok(Poll::NoFile) | Err(SrcErr::Gone) => {
                    if self.backend.dir_gone()
                        || (terminal && last_growth.elapsed() >= self.settings.completed_grace)
                    {
                        // GC'd (or the logger wrote no files): what was read is all there is.
                        let _ = self.finish().await;
                        break Outcome::Gone;
                    }
                    self.settings.poll_interval
                }
                Err(SrcErr::Other(e)) => {
                    if e == "closed" {
                        break Outcome::Cancelled;
                    }
                    self.emitter
                        .status
                        .stream_error(&cid, &key, format!("{path}: {e}"));
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => break Outcome::Cancelled,
                _ = tokio::time::sleep(wait) => {}
            }
        };
        let state = match outcome {
            Outcome::Completed => "completed",
            Outcome::Gone => "gone",
            Outcome::Cancelled => "stopped",
        };
        self.emitter.status.stream(&cid, &key, |s| {
            s.state = state.into();
            s.read_position = self.splitter.position().to_string();
        });
        outcome
    }

    fn same_generation(&self, p: &Probe) -> bool {
        let off = self.splitter.position();
        let host = self.backend.is_host();
        (!host || p.ino == self.ino) && p.size >= off && p.head.starts_with(&self.fp)
    }

    fn is_old_generation(&self, p: &Probe) -> bool {
        let off = self.splitter.position();
        let by_content = !self.fp.is_empty() && p.head.starts_with(&self.fp) && p.size >= off;
        if self.backend.is_host() {
            p.ino == self.ino || by_content
        } else {
            by_content
        }
    }

    /// Moves to another generation, carrying an unfinished line over.
    fn switch_to(&mut self, name: &str, p: &Probe) {
        let (bytes, start) = self.splitter.take_partial();
        if !bytes.is_empty() {
            match &mut self.carry {
                Some((c, _)) => c.extend_from_slice(&bytes),
                None => self.carry = Some((bytes, start)),
            }
        }
        self.splitter = splitter(0, self.settings.max_line_bytes);
        self.ino = p.ino;
        self.fp = p.head.clone();
        self.name = name.to_string();
    }

    async fn poll(&mut self) -> Result<Poll, SrcErr> {
        self.backend.forget_probes();
        let base = self.base();
        let Some(mut cur) = self.backend.probe(&base).await? else {
            return Ok(Poll::NoFile);
        };
        if !self.adopted {
            // First sight of the stream: its rotated history comes first, oldest first.
            self.adopted = true;
            let gens;
            (gens, cur) = self.stable_generations(&base, cur).await?;
            self.newest_rotated = gens.first().map(|(_, p)| p.head.clone());
            for (name, p) in gens.into_iter().rev() {
                self.switch_to(&name, &p);
                self.read_range(&name, 0, p.size).await?;
            }
            self.switch_to(&base, &cur);
        } else if self.fp.is_empty() && cur.size > 0 && self.newest_rotated.is_some() {
            // Taken up empty: generations rotated since then were never seen.
            let gens;
            (gens, cur) = self.stable_generations(&base, cur).await?;
            let unseen = match &self.newest_rotated {
                Some(h) if !h.is_empty() => gens
                    .iter()
                    .position(|(_, p)| p.head.starts_with(h))
                    .unwrap_or(gens.len()),
                _ => gens.len(),
            };
            if unseen > 0 {
                self.newest_rotated = gens.first().map(|(_, p)| p.head.clone());
                for (name, p) in gens[..unseen].iter().rev().cloned().collect::<Vec<_>>() {
                    self.switch_to(&name, &p);
                    self.read_range(&name, 0, p.size).await?;
                }
                self.switch_to(&base, &cur);
                self.read_range(&base, 0, cur.size).await?;
                return Ok(Poll::Progress);
            }
        }
        if self.same_generation(&cur) {
            if cur.head.len() > self.fp.len() {
                self.fp = cur.head.clone();
            }
            self.name = base.clone();
            let from = self.splitter.position();
            if cur.size <= from {
                return Ok(Poll::Idle);
            }
            self.read_range(&base, from, cur.size).await?;
            return Ok(Poll::Progress);
        }
        // Rotated (or truncated): finish the old generation, then the newer ones.
        let off = self.splitter.position();
        let mut drained_fd = false;
        // Renamed (or deleted) away: the held descriptor still reads it to its end. After
        // a copytruncate the inode is the same but its old bytes are only in the copy.
        let held = if cur.ino != self.ino {
            self.backend.read_held(self.ino, off, READ_CHUNK)
        } else {
            None
        };
        if let Some(first) = held {
            drained_fd = true;
            let mut data = first;
            while !data.is_empty() {
                let name = self.name.clone();
                self.feed(&name, &data)?;
                self.emit_pending(&name).await?;
                let pos = self.splitter.position();
                data = self
                    .backend
                    .read_held(self.ino, pos, READ_CHUNK)
                    .unwrap_or_default();
            }
        }
        let gens;
        (gens, cur) = self.stable_generations(&base, cur).await?;
        let found = gens.iter().position(|(_, p)| self.is_old_generation(p));
        let newer = match found {
            Some(i) => {
                if !drained_fd {
                    let (name, p) = gens[i].clone();
                    if p.head.len() > self.fp.len() {
                        self.fp = p.head.clone();
                    }
                    // A copytruncate copy has its own inode.
                    self.ino = p.ino;
                    self.name = name.clone();
                    let from = self.splitter.position();
                    if p.size > from {
                        self.read_range(&name, from, p.size).await?;
                    }
                }
                i
            }
            None => {
                if !drained_fd && !self.fp.is_empty() {
                    tracing::warn!(
                        path = %self.backend.path_of(&base),
                        offset = off,
                        "the generation being read was rotated away and deleted; its unread rest is lost"
                    );
                }
                gens.len()
            }
        };
        self.newest_rotated = gens.first().map(|(_, p)| p.head.clone());
        for (name, p) in gens[..newer].iter().rev().cloned().collect::<Vec<_>>() {
            self.switch_to(&name, &p);
            self.read_range(&name, 0, p.size).await?;
        }
        self.switch_to(&base, &cur);
        if cur.size > 0 {
            self.read_range(&base, 0, cur.size).await?;
        }
        Ok(Poll::Progress)
    }

    /// The rotated generations, listed while `stdout` stayed the generation `cur` probed:
    /// a rotation during the listing (copytruncate copies and truncates between our
    /// probes) would pair a listing with the wrong current file, so the listing is taken
    /// again until `stdout` is unchanged around it (a few tries; rotations are seconds
    /// apart). Returns the listing and the fresh probe of `stdout`.
    async fn stable_generations(
        &mut self,
        base: &str,
        mut cur: Probe,
    ) -> Result<(Vec<(String, Probe)>, Probe), SrcErr> {
        for _ in 0..5 {
            let gens = self.generations(base).await?;
            let Some(again) = self.backend.probe(base).await? else {
                return Ok((gens, cur));
            };
            let n = cur.head.len().min(again.head.len());
            let unchanged =
                again.ino == cur.ino && again.size >= cur.size && again.head[..n] == cur.head[..n];
            if unchanged {
                return Ok((gens, again));
            }
            cur = again;
        }
        let gens = self.generations(base).await?;
        Ok((gens, cur))
    }

    /// The rotated generations present, newest (`stdout.1`) first. A logger shifts its
    /// generations while we list them (`.3` → `.4`, then `.2` → `.3`, ...): a name can be
    /// missing for an instant, so the listing looks past a gap, and a file renamed during
    /// the listing is seen twice: the first sight (the newer position) is kept.
    async fn generations(&mut self, base: &str) -> Result<Vec<(String, Probe)>, SrcErr> {
        const GAP: usize = 2;
        let mut gens: Vec<(String, Probe)> = Vec::new();
        let mut missing = 0;
        for k in 1..=MAX_GENERATIONS {
            let name = format!("{base}.{k}");
            match self.backend.probe(&name).await? {
                Some(p) => {
                    missing = 0;
                    let seen = p.ino != 0 && gens.iter().any(|(_, q)| q.ino == p.ino);
                    if !seen {
                        gens.push((name, p));
                    }
                }
                None => {
                    missing += 1;
                    if missing > GAP {
                        break;
                    }
                }
            }
        }
        Ok(gens)
    }

    /// Reads `[from, to)` of the current generation under `name`.
    async fn read_range(&mut self, name: &str, from: u64, to: u64) -> Result<(), SrcErr> {
        let mut pos = from;
        while pos < to {
            let want = ((to - pos) as usize).min(READ_CHUNK);
            let data = self.backend.read(name, self.ino, pos, want).await?;
            if data.is_empty() {
                break;
            }
            // Copytruncate keeps the inode: if the file was truncated and rewritten since
            // it was probed, what was just read belongs to the next generation (the old
            // bytes now live in the copy, where the next poll finds them at this offset).
            // Checked after the read, so bytes read before a truncation are not kept
            // either: the copy has them too.
            if !self.fp.is_empty() {
                let head = self.backend.read(name, self.ino, 0, self.fp.len()).await?;
                if head != self.fp {
                    break;
                }
            }
            pos += data.len() as u64;
            self.feed(name, &data)?;
            self.emit_pending(name).await?;
        }
        Ok(())
    }

    fn feed(&mut self, _name: &str, data: &[u8]) -> Result<(), SrcErr> {
        let mut out = std::mem::take(&mut self.lines);
        self.splitter.push(data, &mut out);
        self.lines = out;
        Ok(())
    }

    fn record(&mut self, line: Line) -> Record {
        let (message, start) = match self.carry.take() {
            Some((mut c, s)) => {
                c.extend_from_slice(&line.bytes);
                (c, s)
            }
            None => (line.bytes, line.start),
        };
        let id = line_id(
            &self.emitter.meta.container_id,
            &self.emitter.stream,
            &self.fp,
            line.end,
            line.start,
        );
        Record {
            message,
            offset: Some(start),
            id_suffix: id,
            after: Position::File {
                inode: self.ino,
                fingerprint: hex(&self.fp),
                offset: line.end,
            },
            truncated: line.truncated,
            lines: 1,
            tags: Vec::new(),
        }
    }

    async fn emit_pending(&mut self, name: &str) -> Result<(), SrcErr> {
        let path = self.backend.path_of(name);
        let lines = std::mem::take(&mut self.lines);
        for l in lines {
            let r = self.record(l);
            self.emitter
                .push(r, &path)
                .map_err(|_| SrcErr::Other("closed".into()))?;
        }
        self.emitter
            .send()
            .await
            .map_err(|_| SrcErr::Other("closed".into()))
    }

    /// The stream is over: the last line without a newline and any multiline group go out.
    async fn finish(&mut self) -> Result<(), Closed> {
        let name = self.name.clone();
        let path = self.backend.path_of(&name);
        let mut out = Vec::new();
        self.splitter.flush(&mut out);
        if out.is_empty() {
            if let Some((c, s)) = self.carry.take() {
                let end = self.splitter.position();
                out.push(Line {
                    bytes: c,
                    start: s,
                    end,
                    truncated: false,
                });
            }
        }
        for l in out {
            let r = self.record(l);
            self.emitter.push(r, &path)?;
        }
        self.emitter.flush(&path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let b = b"\x00\xffab";
        assert_eq!(unhex(&hex(b)).as_deref(), Some(&b[..]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn ids_are_stable_across_fingerprint_growth() {
        // A line ending at 10 depends only on the first 10 bytes, however many are known.
        let a = line_id("c", "stdout", b"0123456789", 10, 0);
        let b = line_id("c", "stdout", b"0123456789abcdef", 10, 0);
        assert_eq!(a, b);
        assert_ne!(a, line_id("c", "stderr", b"0123456789", 10, 0));
        assert_ne!(a, line_id("c", "stdout", b"0123456789", 20, 10));
    }
}
