//! What every stream shares: building events with their origin, acknowledgements and
//! checkpoint tracking, counting, and the optional multiline joining.

use crate::checkpoint::{Acker, Position, Tracker};
use crate::config::{ContainerMeta, MultilineConfig};
use crate::status::Status;
use logstash_mesos_core::{Ack, Event, FieldRef, Map, Value};
use logstash_mesos_pipeline::input_context::{Closed, InputContext};
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

fn set(e: &mut Event, path: &str, v: Value) {
    if let Ok(r) = FieldRef::parse(path) {
        let _ = e.set(&r, v);
    }
}

impl StreamCtx {
    /// After a reader ended (container stopped, or the reader failed): waits `backoff` and
    /// returns true when the container still runs and the stream should be retried;
    /// doubles `backoff` (up to 30 s) for the next time.
    pub async fn retry_after_end(
        &self,
        docker: &bollard::Docker,
        cancel: &tokio_util::sync::CancellationToken,
        backoff: &mut std::time::Duration,
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
            _ = tokio::time::sleep(*backoff) => {}
        }
        *backoff = (*backoff * 2).min(std::time::Duration::from_secs(30));
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
        if !m.labels.is_empty() {
            let labels: Map = m
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            set(&mut e, "[container][labels]", Value::from(labels));
        }
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
        if rec.lines > 1 {
            e.add_tag("multiline");
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
                .register(rec.after),
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
            None => vec![rec],
            Some(m) => m.push(rec),
        };
        for r in ready {
            self.emit(r).await?;
        }
        Ok(())
    }

    /// Emits a pending multiline group (idle timeout, end of a file).
    pub async fn flush(&mut self) -> Result<(), Closed> {
        if let Some(r) = self.multiline.as_mut().and_then(Multiline::flush) {
            self.emit(r).await?;
        }
        Ok(())
    }
}

/// Logstash's multiline codec, per stream: `pattern`, `negate`, `what`.
pub struct Multiline {
    cfg: MultilineConfig,
    pending: Option<Record>,
    /// `what => next`: the last line asked for its successor.
    open: bool,
}

impl Multiline {
    pub fn new(cfg: MultilineConfig) -> Self {
        Multiline {
            cfg,
            pending: None,
            open: false,
        }
    }

    fn append(into: &mut Record, r: Record) {
        into.message.push(b'\n');
        into.message.extend_from_slice(&r.message);
        into.after = r.after;
        into.truncated |= r.truncated;
        into.lines += r.lines;
    }

    pub fn push(&mut self, r: Record) -> Vec<Record> {
        let text = String::from_utf8_lossy(&r.message);
        let hit = self.cfg.pattern.is_match(&text) != self.cfg.negate;
        let mut out = Vec::new();
        if self.cfg.previous {
            // A matching line belongs to the previous one.
            match (&mut self.pending, hit) {
                (Some(p), true) if p.lines < self.cfg.max_lines => Self::append(p, r),
                _ => {
                    out.extend(self.pending.take());
                    self.pending = Some(r);
                }
            }
        } else {
            // A matching line asks for the next one to be joined to it.
            match &mut self.pending {
                Some(p) if self.open && p.lines < self.cfg.max_lines => Self::append(p, r),
                _ => {
                    out.extend(self.pending.take());
                    self.pending = Some(r);
                }
            }
            self.open = hit;
            if !hit {
                out.extend(self.pending.take());
            }
        }
        out
    }

    pub fn flush(&mut self) -> Option<Record> {
        self.open = false;
        self.pending.take()
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
        }
    }

    fn run(cfg: MultilineConfig, lines: &[&str]) -> Vec<String> {
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
        let cfg = MultilineConfig {
            pattern: regex::Regex::new(r"^\s").unwrap(),
            negate: false,
            previous: true,
            max_lines: 500,
        };
        let out = run(cfg, &["Exception: x", "  at a", "  at b", "next"]);
        assert_eq!(out, ["Exception: x\n  at a\n  at b", "next"]);
    }

    #[test]
    fn negate_previous_joins_until_timestamp() {
        let cfg = MultilineConfig {
            pattern: regex::Regex::new(r"^\d{4}-").unwrap(),
            negate: true,
            previous: true,
            max_lines: 500,
        };
        let out = run(cfg, &["2024-01 a", "b", "2024-02 c"]);
        assert_eq!(out, ["2024-01 a\nb", "2024-02 c"]);
    }

    #[test]
    fn next_joins_continued_lines() {
        // `pattern => "\\$" what => next`: a trailing backslash continues the line.
        let cfg = MultilineConfig {
            pattern: regex::Regex::new(r"\\$").unwrap(),
            negate: false,
            previous: false,
            max_lines: 500,
        };
        let out = run(cfg, &["a \\", "b \\", "c", "d"]);
        assert_eq!(out, ["a \\\nb \\\nc", "d"]);
    }
}
