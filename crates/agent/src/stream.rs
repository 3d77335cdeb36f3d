//! What every stream shares: building events with their origin, acknowledgements and
//! checkpoint tracking, counting, and the optional multiline joining (the `multiline`
//! codec's [`Joiner`], so the options mean exactly what they mean there).

use crate::checkpoint::{Acker, Position, Tracker};
use crate::config::ContainerMeta;
use crate::status::Status;
use logstash_mesos_core::{Ack, Backoff, Event, FieldRef, Map, Value};
use logstash_mesos_pipeline::codecs::multiline::{Group, JoinLine, Joiner, MultilineOptions};
use logstash_mesos_pipeline::input_context::{Closed, InputContext};
use std::borrow::Cow;
use std::sync::Arc;

/// One readable unit (a line, or joined lines) ready to become an event.
#[derive(Debug, Clone)]
pub struct Record {
    pub message: Vec<u8>,
    /// `[log][offset]` for files.
    pub offset: Option<u64>,
    /// Identifies the record for `[@metadata][_id]` (file identity + offset, or timestamp).
    pub id_suffix: String,
    pub after: Position,
    pub truncated: bool,
    pub lines: usize,
    /// Tags for the event (the multiline tags of a joined record).
    pub tags: Vec<String>,
}

impl JoinLine for Record {
    fn join_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.message)
    }
}

/// The emitting side of one stream.
pub struct StreamCtx {
    pub input: InputContext,
    pub meta: Arc<ContainerMeta>,
    pub agent_id: Option<String>,
    /// `file:<path>`, `stdout`, `stderr`: names the stream in status and checkpoints.
    pub key: String,
    pub slot: u32,
    pub acker: Arc<Acker>,
    pub status: Arc<Status>,
    pub path: Option<String>,
    pub multiline: Option<Multiline>,
    pub store: Arc<std::sync::Mutex<crate::checkpoint::Store>>,
    /// The last error event sent: a failing reader retried with backoff reports once.
    pub last_error: Option<String>,
}

/// Sets `labels` as an object at `path`, unless there are none (container labels, Mesos
/// task labels).
pub(crate) fn set_labels(
    e: &mut Event,
    path: &'static str,
    labels: &std::collections::BTreeMap<String, String>,
) {
    if labels.is_empty() {
        return;
    }
    let m: Map = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    set(e, path, Value::from(m));
}

/// Sets the field at `path` (a literal); each path is parsed once per thread,
/// not once per line.
pub(crate) fn set(e: &mut Event, path: &'static str, v: Value) {
    thread_local! {
        static REFS: std::cell::RefCell<std::collections::HashMap<&'static str, Option<FieldRef>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    REFS.with(|refs| {
        let mut refs = refs.borrow_mut();
        let r = refs
            .entry(path)
            .or_insert_with(|| FieldRef::parse(path).ok());
        if let Some(r) = r {
            let _ = e.set(r, v);
        }
    });
}

impl StreamCtx {
    /// The backoff between reader restarts: 0.5 s doubling up to 30 s.
    pub fn reader_backoff() -> Backoff {
        Backoff::new(
            std::time::Duration::from_millis(500),
            std::time::Duration::from_secs(30),
        )
    }

    /// After a reader ended (container stopped, or the reader failed): waits the next delay
    /// of `backoff` and returns true when the container still runs and the stream should
    /// be retried.
    pub async fn retry_after_end(
        &self,
        docker: &bollard::Docker,
        cancel: &tokio_util::sync::CancellationToken,
        backoff: &mut Backoff,
    ) -> bool {
        let cid = &self.meta.id;
        let running = docker
            .inspect_container(cid, None)
            .await
            .ok()
            .and_then(|c| c.state.and_then(|s| s.running))
            .unwrap_or(false);
        if !running {
            return false;
        }
        self.status.stream(cid, &self.key, |s| s.restarts += 1);
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
        true
    }

    /// The stream is over: shown as stopped unless it ended in an error.
    pub fn mark_stopped(&self) {
        self.status.stream(&self.meta.id, &self.key, |s| {
            if s.state != "error" {
                s.state = "stopped".into();
            }
        });
    }

    /// The checkpoint key: container id + stream.
    pub fn checkpoint_key(&self) -> String {
        format!("{}:{}", self.meta.id, self.key)
    }

    fn base_event(&self, message: String) -> Event {
        let m = &self.meta;
        let mut e = Event::from_message(message);
        set(&mut e, "[container][id]", Value::from(m.id.as_str()));
        set(&mut e, "[container][name]", Value::from(m.name.as_str()));
        set(
            &mut e,
            "[container][image][name]",
            Value::from(m.image.as_str()),
        );
        set_labels(&mut e, "[container][labels]", &m.labels);
        if let Some(t) = &m.mesos_task_id {
            set(&mut e, "[mesos][task][id]", Value::from(t.as_str()));
        }
        if let Some(f) = &m.mesos_framework_id {
            set(&mut e, "[mesos][framework][id]", Value::from(f.as_str()));
        }
        if let Some(f) = &m.mesos_framework_name {
            set(&mut e, "[mesos][framework][name]", Value::from(f.as_str()));
        }
        if let Some(a) = &self.agent_id {
            set(&mut e, "[mesos][agent][id]", Value::from(a.as_str()));
        }
        match &self.path {
            Some(p) => set(&mut e, "[log][file][path]", Value::from(p.as_str())),
            None => set(&mut e, "[stream]", Value::from(self.key.as_str())),
        }
        e
    }

    /// Emits a record with an acknowledgement; waits while the queue is full.
    pub async fn emit(&self, rec: Record) -> Result<(), Closed> {
        let msg = match String::from_utf8(rec.message) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let bytes = msg.len() as u64;
        let mut e = self.base_event(msg);
        if let Some(o) = rec.offset {
            set(&mut e, "[log][offset]", Value::Integer(o as i64));
        }
        if rec.truncated {
            e.add_tag("_linetoolong");
        }
        for t in &rec.tags {
            e.add_tag(t);
        }
        set(
            &mut e,
            "[@metadata][_id]",
            Value::String(format!("{}/{}/{}", self.meta.id, self.key, rec.id_suffix)),
        );
        let seq = match self.acker.trackers.lock() {
            Ok(mut t) => t
                .entry(self.slot)
                .or_insert_with(Tracker::default)
                .register_next(rec.after),
            Err(_) => return Err(Closed),
        };
        e.attach_ack(Ack::new(self.acker.clone(), Acker::token(self.slot, seq)));
        self.status.stream(&self.meta.id, &self.key, |s| {
            s.lines += rec.lines as u64;
            s.bytes += bytes;
        });
        self.input.emit(e).await
    }

    /// Emits an event describing a stream error (no acknowledgement: nothing to resume).
    pub async fn emit_error(&mut self, message: &str) -> Result<(), Closed> {
        self.status
            .stream_error(&self.meta.id, &self.key, message.to_string());
        if self.last_error.as_deref() == Some(message) {
            return Ok(());
        }
        self.last_error = Some(message.to_string());
        let mut e = self.base_event(message.to_string());
        e.add_tag("_dockerinputerror");
        self.input.emit(e).await
    }

    /// Passes a line through multiline joining (if configured) and emits what is complete.
    pub async fn line(&mut self, rec: Record) -> Result<(), Closed> {
        let ready = match &mut self.multiline {
            None => Some(rec),
            Some(m) => m.push(rec),
        };
        match ready {
            Some(r) => self.emit(r).await,
            None => Ok(()),
        }
    }

    /// Emits a pending multiline group (idle timeout, end of a file).
    pub async fn flush(&mut self) -> Result<(), Closed> {
        if let Some(r) = self.multiline.as_mut().and_then(Multiline::flush) {
            self.emit(r).await?;
        }
        Ok(())
    }
}

/// The `multiline` option, per stream: the codec's joining rule over records, so the
/// joined record resumes after its last line and is identified by its first.
pub struct Multiline {
    joiner: Joiner<Record>,
}

impl Multiline {
    pub fn new(opts: Arc<MultilineOptions>) -> Self {
        Multiline {
            joiner: Joiner::new(opts),
        }
    }

    /// Adds a line; returns the record it completed, if any.
    pub fn push(&mut self, r: Record) -> Option<Record> {
        let group = self.joiner.push(r)?;
        self.merge(group)
    }

    /// The pending group as one record (idle timeout, end of a file).
    pub fn flush(&mut self) -> Option<Record> {
        let group = self.joiner.flush()?;
        self.merge(group)
    }

    /// One record from a group (never empty): the first line's identity, the last line's
    /// resume position.
    fn merge(&self, group: Group<Record>) -> Option<Record> {
        let tags: Vec<String> = group
            .tags(self.joiner.options())
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut items = group.items.into_iter();
        let mut into = items.next()?;
        for r in items {
            into.message.push(b'\n');
            into.message.extend_from_slice(&r.message);
            into.after = r.after;
            into.truncated |= r.truncated;
            into.lines += r.lines;
        }
        into.tags.extend(tags);
        Some(into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str, o: u64) -> Record {
        Record {
            message: s.as_bytes().to_vec(),
            offset: Some(o),
            id_suffix: o.to_string(),
            after: Position::File {
                inode: 1,
                fingerprint: String::new(),
                offset: o + 1,
            },
            truncated: false,
            lines: 1,
            tags: Vec::new(),
        }
    }

    /// The options as a `multiline => { ... }` hash gives them.
    fn options(pattern: &str, negate: bool, what: &str) -> Arc<MultilineOptions> {
        let args = logstash_mesos_pipeline::options::Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Codec,
            logstash_mesos_pipeline::codecs::multiline::OPTIONS,
        )
        .with("pattern", pattern.into())
        .with("negate", negate.into())
        .with("what", what.into());
        Arc::new(logstash_mesos_pipeline::codecs::multiline::options(&args).unwrap())
    }

    fn run(cfg: Arc<MultilineOptions>, lines: &[&str]) -> Vec<String> {
        let mut m = Multiline::new(cfg);
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            out.extend(m.push(rec(l, i as u64)));
        }
        out.extend(m.flush());
        out.into_iter()
            .map(|r| String::from_utf8(r.message).unwrap())
            .collect()
    }

    #[test]
    fn previous_joins_indented_lines() {
        // Logstash's docs example: stack traces, `pattern => "^\s" what => previous`.
        let cfg = options(r"^\s", false, "previous");
        let out = run(cfg, &["Exception: x", "  at a", "  at b", "next"]);
        assert_eq!(out, ["Exception: x\n  at a\n  at b", "next"]);
    }

    #[test]
    fn negate_previous_joins_until_timestamp() {
        let cfg = options(r"^\d{4}-", true, "previous");
        let out = run(cfg, &["2024-01 a", "b", "2024-02 c"]);
        assert_eq!(out, ["2024-01 a\nb", "2024-02 c"]);
    }

    #[test]
    fn next_joins_continued_lines() {
        // `pattern => "\\$" what => next`: a trailing backslash continues the line.
        let cfg = options(r"\\$", false, "next");
        let out = run(cfg, &["a \\", "b \\", "c", "d"]);
        assert_eq!(out, ["a \\\nb \\\nc", "d"]);
    }

    #[test]
    fn joined_record_keeps_first_identity_and_last_position_and_codec_limits() {
        let args = logstash_mesos_pipeline::options::Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Codec,
            logstash_mesos_pipeline::codecs::multiline::OPTIONS,
        )
        .with("pattern", r"^\s".into())
        .with("what", "previous".into())
        .with("max_lines", 2.into());
        let opts = Arc::new(logstash_mesos_pipeline::codecs::multiline::options(&args).unwrap());
        let mut m = Multiline::new(opts);
        let mut out: Vec<Record> = Vec::new();
        for (i, l) in ["a", " 1", " 2", " 3", "b"].iter().enumerate() {
            out.extend(m.push(rec(l, i as u64 * 10)));
        }
        // As the codec: a group is cut once it holds more than max_lines lines.
        assert_eq!(out.len(), 2);
        let first = &out[0];
        assert_eq!(first.message, b"a\n 1\n 2");
        assert_eq!(
            (first.offset, first.id_suffix.as_str(), first.lines),
            (Some(0), "0", 3)
        );
        assert_eq!(
            first.after,
            Position::File {
                inode: 1,
                fingerprint: String::new(),
                offset: 21
            }
        );
        assert_eq!(
            first.tags,
            ["multiline", "multiline_codec_max_lines_reached"]
        );
        assert_eq!(out[1].message, b" 3");
        assert!(out[1].tags.is_empty(), "a single line is not tagged");
        let last = m.flush().expect("b is pending");
        assert_eq!(
            (last.message.as_slice(), last.offset),
            (&b"b"[..], Some(40))
        );
    }
}
