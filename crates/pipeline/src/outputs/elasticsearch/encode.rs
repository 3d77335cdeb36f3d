//! Events → bulk NDJSON (pure: no I/O). Each event becomes one action line plus, except
//! for `delete`, one source line; the bytes of every item are kept as a range of one
//! buffer so a retry of a few items re-sends their bytes without re-encoding.

use bytes::{Bytes, BytesMut};
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use serde::Serialize;
use std::ops::Range;

/// Elasticsearch's bulk request target size: a batch is split above it.
pub const TARGET_BULK_BYTES: usize = 20 * 1024 * 1024;

/// A bulk action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Index,
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "index" => Some(Action::Index),
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// `action`: fixed, or a sprintf template resolved per event.
#[derive(Clone, Debug)]
pub enum ActionSpec {
    Fixed(Action),
    Template(Template),
}

/// `data_stream_type/dataset/namespace`, with `data_stream_auto_routing` from the event's
/// `[data_stream][...]` fields.
#[derive(Clone, Debug)]
pub struct DataStream {
    pub type_: String,
    pub dataset: String,
    pub namespace: String,
    pub auto_routing: bool,
}

/// The compiled per-event parts of the output's options.
#[derive(Clone, Debug)]
pub struct Encoder {
    pub index: Template,
    pub document_id: Option<Template>,
    pub action: ActionSpec,
    pub routing: Option<Template>,
    pub pipeline: Option<Template>,
    pub doc_as_upsert: bool,
    pub data_stream: Option<DataStream>,
}

/// Why an event could not be turned into a bulk item (it goes to the dead letter queue).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("unsupported action {0:?} (expected index, create, update or delete)")]
    BadAction(String),
    #[error("action {0} requires a document id")]
    MissingId(&'static str),
}

/// One encoded event: its action and where its lines are in the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Index of the event in the batch handed to `encode_batch`.
    pub event: usize,
    pub action: Action,
    pub range: Range<usize>,
}

/// One bulk request's worth of items, all in one buffer.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub bytes: Bytes,
    pub items: Vec<Item>,
}

impl Chunk {
    /// The request body for the items at positions `which` (ascending) of `self.items`:
    /// the chunk itself (no copy) when it is all of them and they are contiguous.
    pub fn body_for(&self, which: &[usize]) -> Bytes {
        if which.len() == self.items.len() {
            return self.bytes.clone();
        }
        let len = which.iter().map(|&i| self.items[i].range.len()).sum();
        let mut out = BytesMut::with_capacity(len);
        for &i in which {
            out.extend_from_slice(&self.bytes[self.items[i].range.clone()]);
        }
        out.freeze()
    }
}

/// The result of encoding a batch.
#[derive(Debug, Default)]
pub struct Encoded {
    pub chunks: Vec<Chunk>,
    /// Events that cannot be sent (index of the event, reason).
    pub rejected: Vec<(usize, EncodeError)>,
}

#[derive(Serialize)]
struct Meta<'a> {
    _index: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    _id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_on_conflict: Option<u32>,
}

/// `[@metadata][_id]`: the deterministic id sources attach (source + file identity + offset).
fn metadata_id() -> FieldRef {
    FieldRef::from_path(["@metadata", "_id"])
}

impl Encoder {
    /// Encodes `events`, splitting into chunks of about `target_bytes`.
    pub fn encode_batch(&self, events: &[Event], target_bytes: usize) -> Encoded {
        let meta_id = metadata_id();
        let mut out = Encoded::default();
        let mut buf: Vec<u8> =
            Vec::with_capacity(events.len().saturating_mul(256).min(target_bytes + 4096));
        let mut items = Vec::new();
        let mut scratch = Scratch::default();
        for (i, event) in events.iter().enumerate() {
            let start = buf.len();
            match self.encode_one(event, &meta_id, &mut scratch, &mut buf) {
                Ok(action) => items.push(Item {
                    event: i,
                    action,
                    range: start..buf.len(),
                }),
                Err(e) => {
                    buf.truncate(start);
                    out.rejected.push((i, e));
                }
            }
            if buf.len() >= target_bytes {
                out.chunks.push(Chunk {
                    bytes: Bytes::from(std::mem::take(&mut buf)),
                    items: std::mem::take(&mut items),
                });
            }
        }
        if !items.is_empty() {
            out.chunks.push(Chunk {
                bytes: Bytes::from(buf),
                items,
            });
        }
        out
    }

    /// Appends one event's lines to `out`.
    pub fn encode_one(
        &self,
        event: &Event,
        meta_id: &FieldRef,
        s: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Result<Action, EncodeError> {
        let action = match &self.action {
            ActionSpec::Fixed(a) => *a,
            ActionSpec::Template(t) => {
                let name = t.render(event);
                Action::parse(&name).ok_or(EncodeError::BadAction(name))?
            }
        };
        s.index.clear();
        match &self.data_stream {
            Some(ds) => {
                let pick = |field: &str, default: &str| -> String {
                    if ds.auto_routing {
                        if let Some(Value::String(v)) =
                            event.get(&FieldRef::from_path(["data_stream", field]))
                        {
                            if !v.is_empty() {
                                return v.clone();
                            }
                        }
                    }
                    default.to_string()
                };
                s.index.push_str(&pick("type", &ds.type_));
                s.index.push('-');
                s.index.push_str(&pick("dataset", &ds.dataset));
                s.index.push('-');
                s.index.push_str(&pick("namespace", &ds.namespace));
            }
            None => self.index.render_into(event, &mut s.index),
        }
        let id: Option<String> = match &self.document_id {
            Some(t) => Some(t.render(event)),
            None => match event.get(meta_id) {
                Some(Value::Null) | None => None,
                Some(v) => Some(v.to_logstash_string()),
            },
        };
        if matches!(action, Action::Update | Action::Delete) && id.is_none() {
            return Err(EncodeError::MissingId(action.as_str()));
        }
        let routing = self.routing.as_ref().map(|t| t.render(event));
        let pipeline = self
            .pipeline
            .as_ref()
            .map(|t| t.render(event))
            .filter(|p| !p.is_empty());
        let meta = Meta {
            _index: &s.index,
            _id: id.as_deref(),
            routing: routing.as_deref(),
            pipeline: pipeline.as_deref(),
            retry_on_conflict: (action == Action::Update).then_some(1),
        };
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(action.as_str().as_bytes());
        out.extend_from_slice(b"\":");
        // Serialising plain strings into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &meta);
        out.extend_from_slice(b"}\n");
        match action {
            Action::Delete => {}
            Action::Update => {
                out.extend_from_slice(b"{\"doc\":");
                event.write_json(out);
                if self.doc_as_upsert {
                    out.extend_from_slice(b",\"doc_as_upsert\":true");
                }
                out.extend_from_slice(b"}\n");
            }
            Action::Index | Action::Create => {
                event.write_json(out);
                out.push(b'\n');
            }
        }
        Ok(action)
    }
}

/// Buffers reused across events.
#[derive(Default)]
pub struct Scratch {
    index: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Timestamp;

    fn enc(index: &str) -> Encoder {
        Encoder {
            index: Template::compile(index),
            document_id: None,
            action: ActionSpec::Fixed(Action::Index),
            routing: None,
            pipeline: None,
            doc_as_upsert: false,
            data_stream: None,
        }
    }

    fn event(msg: &str) -> Event {
        let mut e = Event::from_message(msg);
        e.set_timestamp(Timestamp::parse_iso8601("2024-03-05T10:00:00Z").unwrap());
        e
    }

    fn lines(c: &Chunk) -> Vec<serde_json::Value> {
        c.bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn index_with_date_math_and_metadata_id() {
        let mut e = event("hello");
        e.set(
            &FieldRef::parse("[@metadata][_id]").unwrap(),
            Value::from("file:1:42"),
        )
        .unwrap();
        let out =
            enc("logstash-%{+yyyy.MM.dd}").encode_batch(&[e, event("two")], TARGET_BULK_BYTES);
        assert_eq!(out.chunks.len(), 1);
        let l = lines(&out.chunks[0]);
        assert_eq!(
            l[0],
            serde_json::json!({"index":{"_index":"logstash-2024.03.05","_id":"file:1:42"}})
        );
        assert_eq!(l[1]["message"], "hello");
        assert!(l[1].get("@metadata").is_none());
        assert_eq!(
            l[2],
            serde_json::json!({"index":{"_index":"logstash-2024.03.05"}})
        );
        assert_eq!(out.chunks[0].items.len(), 2);
    }

    #[test]
    fn document_id_option_wins_over_metadata_id() {
        let mut e = event("x");
        e.set(
            &FieldRef::parse("[@metadata][_id]").unwrap(),
            Value::from("meta"),
        )
        .unwrap();
        e.set(&FieldRef::top("uid"), Value::from("u1")).unwrap();
        let mut en = enc("i");
        en.document_id = Some(Template::compile("%{uid}"));
        en.routing = Some(Template::compile("r-%{uid}"));
        en.pipeline = Some(Template::compile("p"));
        let l = lines(&en.encode_batch(&[e], TARGET_BULK_BYTES).chunks[0]);
        assert_eq!(
            l[0],
            serde_json::json!({"index":{"_index":"i","_id":"u1","routing":"r-u1","pipeline":"p"}})
        );
    }

    #[test]
    fn update_upsert_delete_and_bad_actions() {
        let mut e = event("x");
        e.set(&FieldRef::top("uid"), Value::from("7")).unwrap();
        e.set(&FieldRef::top("act"), Value::from("update")).unwrap();
        let mut del = e.clone();
        del.set(&FieldRef::top("act"), Value::from("delete"))
            .unwrap();
        let mut bad = e.clone();
        bad.set(&FieldRef::top("act"), Value::from("explode"))
            .unwrap();
        let mut en = enc("i");
        en.document_id = Some(Template::compile("%{uid}"));
        en.action = ActionSpec::Template(Template::compile("%{act}"));
        en.doc_as_upsert = true;
        let out = en.encode_batch(&[e, del, bad], TARGET_BULK_BYTES);
        let l = lines(&out.chunks[0]);
        assert_eq!(
            l[0],
            serde_json::json!({"update":{"_index":"i","_id":"7","retry_on_conflict":1}})
        );
        assert_eq!(l[1]["doc"]["message"], "x");
        assert_eq!(l[1]["doc_as_upsert"], true);
        assert_eq!(l[2], serde_json::json!({"delete":{"_index":"i","_id":"7"}}));
        assert_eq!(l.len(), 3);
        assert_eq!(
            out.rejected,
            vec![(2, EncodeError::BadAction("explode".into()))]
        );
        // update without an id is rejected, not sent.
        let mut en2 = enc("i");
        en2.action = ActionSpec::Fixed(Action::Update);
        let out = en2.encode_batch(&[event("y")], TARGET_BULK_BYTES);
        assert!(out.chunks.is_empty());
        assert_eq!(out.rejected, vec![(0, EncodeError::MissingId("update"))]);
    }

    #[test]
    fn data_stream_name_and_auto_routing() {
        let mut en = enc("ignored");
        en.action = ActionSpec::Fixed(Action::Create);
        en.data_stream = Some(DataStream {
            type_: "logs".into(),
            dataset: "generic".into(),
            namespace: "default".into(),
            auto_routing: true,
        });
        let mut e = event("x");
        e.set(
            &FieldRef::parse("[data_stream][dataset]").unwrap(),
            Value::from("nginx"),
        )
        .unwrap();
        let l = lines(&en.encode_batch(&[event("y"), e], TARGET_BULK_BYTES).chunks[0]);
        assert_eq!(
            l[0],
            serde_json::json!({"create":{"_index":"logs-generic-default"}})
        );
        assert_eq!(
            l[2],
            serde_json::json!({"create":{"_index":"logs-nginx-default"}})
        );
    }

    #[test]
    fn splits_above_target_and_rebuilds_subsets() {
        let events: Vec<Event> = (0..10)
            .map(|i| event(&format!("event number {i}")))
            .collect();
        let out = enc("i").encode_batch(&events, 300);
        assert!(out.chunks.len() > 1);
        let total: usize = out.chunks.iter().map(|c| c.items.len()).sum();
        assert_eq!(total, 10);
        for c in &out.chunks {
            assert!(c.bytes.len() < 300 + 200);
            let all: Vec<usize> = (0..c.items.len()).collect();
            assert_eq!(c.body_for(&all), c.bytes);
        }
        let c = &out.chunks[0];
        let sub = c.body_for(&[1]);
        assert_eq!(&sub[..], &c.bytes[c.items[1].range.clone()]);
        assert!(std::str::from_utf8(&sub)
            .unwrap()
            .contains(&format!("event number {}", c.items[1].event)));
    }
}
