//! The persisted queue (`queue.type: persisted`): events are written to page files under
//! `<path.queue>/<pipeline id>/` before their sources are acknowledged, and removed only
//! once every output delivered them. Inputs that cannot replay (beats, tcp, udp, syslog,
//! http) then lose nothing when the process is killed, and the replayable inputs (file,
//! docker, mesos) keep reading into the queue while the outputs are down, so a file that
//! rotation deletes during an outage has already been read.
//!
//! ```text
//!  inputs ──mpsc──▶ writer ──▶ page files ──▶ reader ──mpsc──▶ workers ──▶ outputs
//!   (source acks fire       (record.rs,        (attaches a queue ack      │
//!    once written)           pages.rs)          per record)               ▼
//!                                  ▲                           acks.rs: low watermark
//!                                  └──── checkpointer: saves it, deletes acked pages
//! ```
//!
//! Semantics follow Logstash's queue: `queue.page_capacity` (a page is closed once this
//! full), `queue.max_bytes` and `queue.max_events` (inputs block while the queue holds
//! that much), `queue.checkpoint.writes` (an fsync every N written events; the write
//! itself happens before the source is acknowledged, so a killed process loses nothing —
//! only a power loss can lose what was not yet synced), `queue.checkpoint.acks` and
//! `queue.checkpoint.interval` (how often the acknowledged position is saved; after a
//! crash, events delivered since the last save are delivered again: at-least-once, and
//! the deterministic `[@metadata][_id]` of the file/docker/mesos inputs makes that
//! exactly-once in Elasticsearch), `queue.drain` (on shutdown, deliver everything queued
//! first; otherwise events stay queued for the next start). When all inputs end by
//! themselves (stdin at EOF, `exit_after_read`) the queue is always delivered in full.
//! A damaged page is set aside in `quarantine/` and reported; it never stops the start.
//! The format is this project's own (not Logstash's Java page format, which is refused
//! with a clear error when found).

pub mod acks;
pub mod pages;
pub mod record;

use acks::Acked;
use logstash_mesos_core::{state_file, Ack, AckSink, Event};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// `queue.type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueType {
    #[default]
    Memory,
    Persisted,
}

/// The `queue.*` settings of a pipeline, with Logstash's defaults.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    pub kind: QueueType,
    /// `path.queue`; `None`: `<path.data>/queue`.
    pub path: Option<PathBuf>,
    pub page_capacity: u64,
    /// 0: unlimited.
    pub max_events: u64,
    pub max_bytes: u64,
    /// 0: no forced save by count.
    pub checkpoint_acks: u64,
    /// 0: no forced fsync by count.
    pub checkpoint_writes: u64,
    pub checkpoint_interval: Duration,
    pub drain: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            kind: QueueType::Memory,
            path: None,
            page_capacity: 64 * 1024 * 1024,
            max_events: 0,
            max_bytes: 1024 * 1024 * 1024,
            checkpoint_acks: 1024,
            checkpoint_writes: 1024,
            checkpoint_interval: Duration::from_millis(1000),
            drain: false,
        }
    }
}

impl QueueSettings {
    /// The directory of one pipeline's queue.
    pub fn dir(&self, path_data: &Path, pipeline_id: &str) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| path_data.join("queue"))
            .join(pipeline_id)
    }

    /// Logstash's checks: a page must fit in the queue.
    pub fn validate(&self) -> Result<(), String> {
        if self.page_capacity == 0 {
            return Err("queue.page_capacity must be greater than 0".into());
        }
        if self.max_bytes < self.page_capacity {
            return Err(format!(
                "queue.max_bytes ({}) must be at least queue.page_capacity ({})",
                self.max_bytes, self.page_capacity
            ));
        }
        Ok(())
    }
}

const CHECKPOINT: &str = "checkpoint.json";
const CHECKPOINT_VERSION: u32 = 1;

/// The saved acknowledged position.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    version: u32,
    /// Every record below this was delivered.
    acked_below: u64,
    /// Records above `acked_below` delivered out of order, as half-open ranges.
    acked: Vec<(u64, u64)>,
    /// The next sequence number the writer will use.
    next_seq: u64,
}

struct State {
    acked: Acked,
    /// First sequence number → bytes, for every page on disk (the head included).
    pages: BTreeMap<u64, u64>,
    /// One past the last record written (the reader reads below it).
    committed: u64,
    writer_done: bool,
    acks_since_checkpoint: u64,
    /// Events an output gave up on (shutdown): they stay queued for the next start.
    failed: u64,
}

struct Shared {
    dir: PathBuf,
    settings: QueueSettings,
    state: Mutex<State>,
    /// Wakes the reader: records were written (or the writer finished).
    written: Notify,
    /// Wakes the writer: pages were deleted.
    freed: Notify,
    /// Wakes the checkpointer: enough acknowledgements.
    acks_due: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (plain counters).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the acknowledged position, then deletes the pages wholly below it.
    fn checkpoint(&self) -> std::io::Result<()> {
        let (doc, deletable) = {
            let mut s = self.lock();
            s.acks_since_checkpoint = 0;
            let low = s.acked.low;
            let firsts: Vec<u64> = s.pages.keys().copied().collect();
            // A page is done when the next one starts at or below the watermark.
            let deletable: Vec<u64> = firsts
                .windows(2)
                .filter(|w| w[1] <= low)
                .map(|w| w[0])
                .collect();
            (
                Checkpoint {
                    version: CHECKPOINT_VERSION,
                    acked_below: low,
                    acked: s.acked.ranges(),
                    next_seq: s.committed,
                },
                deletable,
            )
        };
        state_file::save(&self.dir.join(CHECKPOINT), &doc).map_err(std::io::Error::other)?;
        if !deletable.is_empty() {
            for first in &deletable {
                let p = pages::page_path(&self.dir, *first);
                if let Err(e) = std::fs::remove_file(&p) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(e);
                    }
                }
            }
            let mut s = self.lock();
            for first in &deletable {
                s.pages.remove(first);
            }
            drop(s);
            self.freed.notify_waiters();
        }
        Ok(())
    }
}

struct QueueAcks(Arc<Shared>);

impl AckSink for QueueAcks {
    fn finished(&self, seq: u64, delivered: bool) {
        let mut s = self.0.lock();
        if delivered {
            s.acked.ack(seq);
        } else {
            s.failed += 1;
        }
        s.acks_since_checkpoint += 1;
        let due = self.0.settings.checkpoint_acks > 0
            && s.acks_since_checkpoint >= self.0.settings.checkpoint_acks;
        drop(s);
        if due {
            self.0.acks_due.notify_one();
        }
    }
}

/// What opening found, for logs and tests.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Events queued but not yet delivered.
    pub pending: u64,
    pub quarantined: Vec<pages::Quarantined>,
    /// Sequence numbers lost to damage.
    pub lost: u64,
}

/// An opened queue directory, locked against a second process.
pub struct PersistedQueue {
    shared: Arc<Shared>,
    head: pages::Head,
    _lock: std::fs::File,
    pub report: OpenReport,
}

impl PersistedQueue {
    /// Opens (creating) the queue of one pipeline and recovers it.
    pub fn open(dir: &Path, settings: &QueueSettings) -> anyhow::Result<PersistedQueue> {
        settings.validate().map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("queue directory {}: {e}", dir.display()))?;
        if dir.join("checkpoint.head").exists() {
            anyhow::bail!(
                "{} holds a Logstash (Java) persisted queue; drain it with Logstash (queue.drain: true) or move it away — this queue has its own format",
                dir.display()
            );
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "queue directory {} is in use by another process",
                dir.display()
            );
        }
        let cp_path = dir.join(CHECKPOINT);
        let cp: Checkpoint = match state_file::load(&cp_path, CHECKPOINT_VERSION) {
            Ok(Some(c)) => c,
            Ok(None) => Checkpoint::default(),
            Err(e) => {
                // Without a position every record still on disk is delivered again: a
                // duplicate is better than a loss.
                let aside = state_file::set_aside(&cp_path).ok();
                tracing::error!(error = %e, set_aside = ?aside, "queue: unreadable checkpoint; delivering every queued event again");
                Checkpoint::default()
            }
        };
        let (infos, quarantined) = pages::recover(dir)?;
        let mut acked = Acked::from_ranges(cp.acked_below, &cp.acked);
        let mut lost = 0u64;
        // Pages deleted after the last save were wholly delivered.
        if let Some(first) = infos.first() {
            if first.first_seq > acked.low {
                acked.ack_range(acked.low, first.first_seq);
            }
        }
        // Holes left by quarantined pages can never be delivered.
        for w in infos.windows(2) {
            if w[0].next_seq < w[1].first_seq {
                lost += w[1].first_seq - w[0].next_seq;
                acked.ack_range(w[0].next_seq, w[1].first_seq);
            }
        }
        let last_next = infos.last().map(|i| i.next_seq).unwrap_or(0);
        let next = last_next.max(cp.next_seq).max(acked.low);
        if last_next < next && infos.last().is_some_and(|_| !quarantined.is_empty()) {
            lost += next - last_next.max(acked.low);
        }
        acked.ack_range(last_next.max(acked.low), next);
        let mut page_map: BTreeMap<u64, u64> = infos.iter().map(|i| (i.first_seq, i.len)).collect();
        let head = match infos.last() {
            Some(last) if last.next_seq == next && last.len < settings.page_capacity => {
                pages::Head::open_existing(dir, last)?
            }
            _ => {
                let h = pages::Head::create(dir, next)?;
                page_map.insert(next, h.len);
                h
            }
        };
        let pending = (acked.low..next).filter(|s| !acked.is_acked(*s)).count() as u64;
        if pending > 0 || !quarantined.is_empty() {
            tracing::info!(dir = %dir.display(), pending, lost, quarantined = quarantined.len(), "queue: opened with events from an earlier run");
        }
        Ok(PersistedQueue {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                settings: settings.clone(),
                state: Mutex::new(State {
                    acked,
                    pages: page_map,
                    committed: next,
                    writer_done: false,
                    acks_since_checkpoint: 0,
                    failed: 0,
                }),
                written: Notify::new(),
                freed: Notify::new(),
                acks_due: Notify::new(),
            }),
            head,
            _lock: lock,
            report: OpenReport {
                pending,
                quarantined,
                lost,
            },
        })
    }

    /// Starts the writer, the reader and the checkpointer. Inputs send to the returned
    /// sender; the reader feeds `to_workers`. `shutdown` is the pipeline's shutdown
    /// request (with `queue.drain: false` the reader then stops taking new records).
    pub fn start(
        self,
        to_workers: mpsc::Sender<Event>,
        shutdown: CancellationToken,
        input_capacity: usize,
    ) -> (mpsc::Sender<Event>, RunningQueue) {
        let (tx, rx) = mpsc::channel(input_capacity.max(1));
        let shared = self.shared.clone();
        let writer = tokio::spawn(write_loop(shared.clone(), self.head, rx));
        let reader = tokio::spawn(read_loop(shared.clone(), to_workers, shutdown));
        let stop = CancellationToken::new();
        let checkpointer = tokio::spawn(checkpoint_loop(shared.clone(), stop.clone()));
        (
            tx,
            RunningQueue {
                shared,
                writer,
                reader,
                checkpointer: (stop, checkpointer),
                _lock: self._lock,
            },
        )
    }
}

/// A started queue.
pub struct RunningQueue {
    shared: Arc<Shared>,
    writer: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
    checkpointer: (CancellationToken, tokio::task::JoinHandle<()>),
    _lock: std::fs::File,
}

impl RunningQueue {
    /// Waits until the inputs' events are written and the reader has handed over what it
    /// will hand over (then the workers' channel is closed).
    pub async fn wait_io(&mut self) {
        if let Err(e) = (&mut self.writer).await {
            tracing::error!(error = %e, "queue writer failed");
        }
        if let Err(e) = (&mut self.reader).await {
            tracing::error!(error = %e, "queue reader failed");
        }
    }

    /// After the workers finished: saves the final position and releases the directory.
    pub async fn close(self) {
        let (stop, task) = self.checkpointer;
        stop.cancel();
        let _ = task.await;
        let shared = self.shared.clone();
        match tokio::task::spawn_blocking(move || shared.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "queue: final checkpoint failed"),
            Err(e) => tracing::error!(error = %e, "queue: final checkpoint failed"),
        }
        let s = self.shared.lock();
        let pending = s.committed.saturating_sub(s.acked.low);
        if pending > 0 {
            tracing::info!(
                pending,
                failed = s.failed,
                "queue: events stay queued for the next start"
            );
        }
    }

    /// Events written and not yet delivered.
    pub fn pending(&self) -> u64 {
        let s = self.shared.lock();
        (s.acked.low..s.committed)
            .filter(|q| !s.acked.is_acked(*q))
            .count() as u64
    }
}

/// Most events taken from the inputs per round (one write call, one wake-up of the reader).
const WRITE_BATCH: usize = 4096;

/// The writer's side: encodes into a buffer, writes it to the head page, and publishes
/// what was written to the reader.
struct Writer {
    shared: Arc<Shared>,
    head: pages::Head,
    buf: Vec<u8>,
    /// The sequence number of the next record encoded.
    next: u64,
    unsynced: u64,
    /// Events encoded into `buf` or written since the last publish: dropped (their
    /// sources acknowledged) only once written.
    held: Vec<Event>,
    /// An fsync of the head page is running.
    syncing: Arc<std::sync::atomic::AtomicBool>,
}

impl Writer {
    /// Writes the buffer and tells the reader; then the held events go (their sources
    /// hear they are safe).
    fn commit(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            if let Err(e) = self.head.append(&self.buf) {
                // Keep the page readable: cut a partial write off.
                let _ = self.head.file.set_len(self.head.len);
                self.buf.clear();
                return Err(e);
            }
            self.buf.clear();
        }
        let s = &self.shared.settings;
        if s.checkpoint_writes > 0 && self.unsynced >= s.checkpoint_writes {
            self.sync_in_background();
            self.unsynced = 0;
        }
        {
            let mut st = self.shared.lock();
            st.pages.insert(self.head.first_seq, self.head.len);
            st.committed = self.next;
        }
        self.shared.written.notify_one();
        self.held.clear();
        Ok(())
    }

    /// Starts an fsync of the head page without waiting for it. Sources are acknowledged
    /// once their records are written (a killed process loses nothing); the sync only
    /// narrows what a power loss can take, so the writer does not stall on the disk.
    /// While one sync runs, the next is skipped (the running one covers those bytes too
    /// once it is issued after them, and the next threshold starts another).
    fn sync_in_background(&self) {
        if self.syncing.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let syncing = self.syncing.clone();
        match self.head.file.try_clone() {
            Ok(f) => {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = f.sync_data() {
                        tracing::error!(error = %e, "queue: fsync failed");
                    }
                    syncing.store(false, std::sync::atomic::Ordering::Release);
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "queue: fsync failed");
                syncing.store(false, std::sync::atomic::Ordering::Release);
            }
        }
    }

    /// Bytes the queue holds, counting what is encoded but not yet written.
    fn full(&self) -> bool {
        let st = self.shared.lock();
        let bytes: u64 = st.pages.values().sum::<u64>() + self.buf.len() as u64;
        bytes >= self.shared.settings.max_bytes
            || (self.shared.settings.max_events > 0
                && self.next.saturating_sub(st.acked.low) >= self.shared.settings.max_events)
    }

    /// Waits while the queue is full (inputs then block on their full channel, as with
    /// the memory queue). What is encoded is written first, so it can be delivered.
    async fn wait_for_room(&mut self) -> std::io::Result<()> {
        if !self.full() {
            return Ok(());
        }
        self.commit()?;
        loop {
            let freed = self.shared.freed.notified();
            if !self.full() {
                return Ok(());
            }
            tokio::select! {
                _ = freed => {}
                // Acknowledgements free pages only when saved: ask for a save.
                _ = tokio::time::sleep(Duration::from_millis(100)) => self.shared.acks_due.notify_one(),
            }
        }
    }

    fn encode(&mut self, e: Event) -> std::io::Result<()> {
        let start = self.buf.len();
        record::encode(self.next, &e, &mut self.buf);
        if self.buf.len() - start - record::HEADER > record::MAX_PAYLOAD {
            let size = self.buf.len() - start;
            self.buf.truncate(start);
            // Never written: its source hears it was not delivered.
            e.fail_acks();
            tracing::error!(
                bytes = size,
                "queue: event too large for a record; not queued"
            );
            return Ok(());
        }
        self.next += 1;
        self.unsynced += 1;
        self.held.push(e);
        if self.head.len + self.buf.len() as u64 >= self.shared.settings.page_capacity {
            // This page is full: write it out, sync it, and start the next one.
            self.head.append(&self.buf).inspect_err(|_| {
                let _ = self.head.file.set_len(self.head.len);
            })?;
            self.buf.clear();
            self.unsynced = 0;
            let next_head = pages::Head::create(&self.shared.dir, self.next)?;
            let old = std::mem::replace(&mut self.head, next_head);
            {
                let mut st = self.shared.lock();
                st.pages.insert(old.first_seq, old.len);
            }
            // The closed page is synced without holding up the next one.
            tokio::task::spawn_blocking(move || {
                if let Err(e) = old.file.sync_data() {
                    tracing::error!(error = %e, "queue: fsync of a closed page failed");
                }
            });
            self.commit()?;
        }
        Ok(())
    }
}

async fn write_loop(shared: Arc<Shared>, head: pages::Head, mut rx: mpsc::Receiver<Event>) {
    let next = shared.lock().committed;
    let mut w = Writer {
        shared: shared.clone(),
        head,
        buf: Vec::with_capacity(1 << 20),
        next,
        unsynced: 0,
        held: Vec::new(),
        syncing: Arc::default(),
    };
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        if rx.recv_many(&mut batch, WRITE_BATCH).await == 0 {
            break;
        }
        let mut result = Ok(());
        let mut rest = batch.drain(..);
        for e in rest.by_ref() {
            result = match w.wait_for_room().await {
                Ok(()) => w.encode(e),
                Err(err) => {
                    e.fail_acks();
                    Err(err)
                }
            };
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = w.commit();
        }
        if let Err(err) = result {
            // Not acknowledged to their sources: they read it again (file, docker,
            // kafka) or resend it (beats, http). Records committed before the failure
            // are delivered too: at-least-once, never a loss.
            tracing::error!(error = %err, dir = %shared.dir.display(), "queue: cannot write a page; events not queued");
            for e in w.held.drain(..).chain(rest) {
                e.fail_acks();
            }
            w.buf.clear();
            // Encoded but unwritten records are gone: reuse their numbers.
            w.next = shared.lock().committed;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let _ = w.head.file.sync_data();
    shared.lock().writer_done = true;
    shared.written.notify_one();
}

/// Most records handed to the workers per round.
const READ_BATCH: usize = 1024;

async fn read_loop(
    shared: Arc<Shared>,
    to_workers: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) {
    let sink: Arc<dyn AckSink> = Arc::new(QueueAcks(shared.clone()));
    let mut reader = pages::PageReader::new(&shared.dir);
    let mut seq = shared.lock().acked.low;
    let mut expected = u64::MAX;
    let drain = shared.settings.drain;
    let mut out = Vec::with_capacity(READ_BATCH);
    loop {
        if shutdown.is_cancelled() && !drain {
            break;
        }
        let written = shared.written.notified();
        let (committed, done, firsts) = {
            let s = shared.lock();
            (
                s.committed,
                s.writer_done,
                s.pages.keys().copied().collect::<Vec<_>>(),
            )
        };
        if seq >= committed {
            if done {
                break;
            }
            tokio::select! {
                _ = written => {}
                _ = shutdown.cancelled(), if !drain => {}
            }
            continue;
        }
        let end = committed.min(seq + READ_BATCH as u64);
        while seq < end {
            let s = seq;
            seq += 1;
            if shared.lock().acked.is_acked(s) {
                continue;
            }
            // Page-cache reads of records just written: short, so done inline.
            let decoded = reader
                .read(s, &mut expected, &firsts)
                .map_err(|e| e.to_string())
                .and_then(|bytes| record::decode(bytes).map_err(str::to_string));
            match decoded {
                Ok(mut e) => {
                    e.attach_ack(Ack::new(sink.clone(), s));
                    out.push(e);
                }
                Err(why) => {
                    // Damage found while reading (recovery checked the pages at open, so
                    // this means the disk changed under us): count it as lost, go on.
                    tracing::error!(seq = s, error = %why, "queue: unreadable record skipped");
                    expected = u64::MAX;
                    shared.lock().acked.ack(s);
                }
            }
        }
        if out.is_empty() {
            continue;
        }
        // In chunks the channel can hold (`reserve_many` wants no more than its capacity).
        let chunk = to_workers.max_capacity().max(1);
        let mut closed = false;
        while !out.is_empty() {
            let n = out.len().min(chunk);
            match to_workers.reserve_many(n).await {
                Ok(permits) => {
                    for (p, e) in permits.zip(out.drain(..n)) {
                        p.send(e);
                    }
                }
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            break;
        }
    }
}

async fn checkpoint_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let interval = shared
        .settings
        .checkpoint_interval
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = shared.acks_due.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "queue: checkpoint failed"),
            Err(e) => tracing::error!(error = %e, "queue: checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests;
