//! The event: a tree of fields plus `@metadata`, and the acknowledgements of its source.

use crate::ack::{Ack, Acks};
use crate::fieldref::FieldRef;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

pub const TIMESTAMP: &str = "@timestamp";
pub const VERSION: &str = "@version";
pub const METADATA: &str = "@metadata";
pub const TAGS: &str = "tags";
pub const MESSAGE: &str = "message";

/// One log event.
#[derive(Clone, Debug, Default)]
pub struct Event {
    fields: Map,
    metadata: Map,
    acks: Acks,
}

/// Why a [`Event::set`] could not place a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot set {field}: {reason}")]
pub struct SetError {
    pub field: String,
    pub reason: String,
}

impl Event {
    /// An event with `@timestamp` now and `@version` "1", as Logstash creates them.
    pub fn new() -> Self {
        // Room for what inputs and a typical grok/date pass add without regrowing.
        let mut fields = Map::with_capacity(16);
        fields.insert(TIMESTAMP.to_string(), Value::Timestamp(Timestamp::now()));
        fields.insert(VERSION.to_string(), Value::from("1"));
        Event {
            fields,
            metadata: Map::default(),
            acks: Acks::None,
        }
    }

    /// An event holding `message`.
    pub fn from_message(msg: impl Into<String>) -> Self {
        let mut e = Event::new();
        e.fields
            .insert(MESSAGE.to_string(), Value::String(msg.into()));
        e
    }

    /// An event from a decoded JSON object, as the json codecs create them: `@timestamp`
    /// is parsed (an unparseable one is kept in `_@timestamp` and the event tagged
    /// `_timestampparsefailure`), `@version` defaults to "1", `@metadata` is split off.
    pub fn from_map(mut fields: Map) -> Self {
        let metadata = match fields.shift_remove(METADATA) {
            Some(Value::Object(m)) => *m,
            _ => Map::default(),
        };
        let mut bad_ts = None;
        let ts = match fields.shift_remove(TIMESTAMP) {
            Some(Value::String(s)) => match Timestamp::parse_iso8601(&s) {
                Some(t) => t,
                None => {
                    bad_ts = Some(Value::String(s));
                    Timestamp::now()
                }
            },
            Some(Value::Timestamp(t)) => t,
            Some(Value::Integer(ms)) => {
                Timestamp::from_unix_millis(ms).unwrap_or_else(Timestamp::now)
            }
            Some(other) => {
                bad_ts = Some(other);
                Timestamp::now()
            }
            None => Timestamp::now(),
        };
        let mut out = Map::with_capacity(fields.len() + 2);
        out.insert(TIMESTAMP.to_string(), Value::Timestamp(ts));
        for (k, v) in fields {
            out.insert(k, v);
        }
        if !out.contains_key(VERSION) {
            out.insert(VERSION.to_string(), Value::from("1"));
        }
        let mut e = Event {
            fields: out,
            metadata,
            acks: Acks::None,
        };
        if let Some(bad) = bad_ts {
            e.fields.insert("_@timestamp".to_string(), bad);
            e.add_tag("_timestampparsefailure");
        }
        e
    }

    /// An event from its stored parts, exactly as they are (the persisted queue's
    /// records): no `@timestamp` or `@version` is added, nothing is parsed.
    pub fn from_parts(fields: Map, metadata: Map) -> Self {
        Event {
            fields,
            metadata,
            acks: Acks::None,
        }
    }

    /// The top-level fields (without `@metadata`).
    pub fn fields(&self) -> &Map {
        &self.fields
    }

    pub fn fields_mut(&mut self) -> &mut Map {
        &mut self.fields
    }

    pub fn metadata(&self) -> &Map {
        &self.metadata
    }

    pub fn metadata_mut(&mut self) -> &mut Map {
        &mut self.metadata
    }

    /// The event's `@timestamp`.
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self.fields.get(TIMESTAMP) {
            Some(Value::Timestamp(t)) => Some(*t),
            Some(Value::String(s)) => Timestamp::parse_iso8601(s),
            _ => None,
        }
    }

    pub fn set_timestamp(&mut self, ts: Timestamp) {
        self.fields
            .insert(TIMESTAMP.to_string(), Value::Timestamp(ts));
    }

    fn root_and_path<'a>(&self, r: &'a FieldRef) -> (&Map, &'a [String]) {
        let p = r.path();
        if r.is_metadata() {
            (&self.metadata, &p[1..])
        } else {
            (&self.fields, p)
        }
    }

    /// The value at `r`, if present. Numeric path elements index arrays (negative from
    /// the end).
    pub fn get(&self, r: &FieldRef) -> Option<&Value> {
        let (root, path) = self.root_and_path(r);
        let Some((first, rest)) = path.split_first() else {
            // `[@metadata]` itself: not addressable as a single value here.
            return None;
        };
        let mut cur = root.get(first)?;
        for key in rest {
            cur = child(cur, key)?;
        }
        Some(cur)
    }

    /// The value at `r`, mutable.
    pub fn get_mut(&mut self, r: &FieldRef) -> Option<&mut Value> {
        let meta = r.is_metadata();
        let path = if meta { &r.path()[1..] } else { r.path() };
        let root = if meta {
            &mut self.metadata
        } else {
            &mut self.fields
        };
        let (first, rest) = path.split_first()?;
        let mut cur = root.get_mut(first)?;
        for key in rest {
            cur = child_mut(cur, key)?;
        }
        Some(cur)
    }

    /// Convenience: `get` by a top-level key.
    pub fn get_top(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    pub fn contains(&self, r: &FieldRef) -> bool {
        self.get(r).is_some()
    }

    /// Sets `r` to `v`, creating intermediate hashes. Setting through a non-hash
    /// intermediate fails, leaving the event unchanged.
    pub fn set(&mut self, r: &FieldRef, v: Value) -> Result<(), SetError> {
        let meta = r.is_metadata();
        let path = if meta { &r.path()[1..] } else { r.path() };
        let root = if meta {
            &mut self.metadata
        } else {
            &mut self.fields
        };
        let Some((last, parents)) = path.split_last() else {
            if meta {
                if let Value::Object(m) = v {
                    self.metadata = *m;
                    return Ok(());
                }
            }
            return Err(SetError {
                field: r.to_string(),
                reason: "not a settable field".into(),
            });
        };
        let mut map = root;
        for key in parents {
            // Look up before inserting: cloning the key for `entry` costs an allocation
            // per level even when the hash already exists.
            if !map.contains_key(key.as_str()) {
                // Nested objects rarely stay at one key (ECS: [http][request][method], ...).
                map.insert(key.clone(), Value::Object(Box::new(Map::with_capacity(4))));
            }
            let Some(entry) = map.get_mut(key.as_str()) else {
                unreachable!("inserted above")
            };
            match entry {
                Value::Object(m) => map = m,
                other => {
                    return Err(SetError {
                        field: r.to_string(),
                        reason: format!("[{key}] is a {}, not a hash", other.type_name()),
                    })
                }
            }
        }
        match map.get_mut(last.as_str()) {
            Some(slot) => *slot = v,
            None => {
                map.insert(last.clone(), v);
            }
        }
        Ok(())
    }

    /// Removes and returns the value at `r`.
    pub fn remove(&mut self, r: &FieldRef) -> Option<Value> {
        let meta = r.is_metadata();
        let path = if meta { &r.path()[1..] } else { r.path() };
        let root = if meta {
            &mut self.metadata
        } else {
            &mut self.fields
        };
        let (last, parents) = path.split_last()?;
        if parents.is_empty() {
            return root.shift_remove(last);
        }
        let (first, mid) = parents.split_first()?;
        let mut cur = root.get_mut(first)?;
        for key in mid {
            cur = child_mut(cur, key)?;
        }
        match cur {
            Value::Object(m) => m.shift_remove(last),
            Value::Array(a) => {
                let idx = key_index(last, a.len())?;
                Some(a.remove(idx))
            }
            _ => None,
        }
    }

    /// The tags, if any.
    pub fn tags(&self) -> Vec<String> {
        match self.fields.get(TAGS) {
            Some(Value::Array(a)) => a.iter().map(|v| v.to_logstash_string()).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        match self.fields.get(TAGS) {
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(tag)),
            Some(Value::String(s)) => s == tag,
            _ => false,
        }
    }

    /// Adds `tag` unless already present (Logstash keeps tags unique).
    pub fn add_tag(&mut self, tag: &str) {
        match self.fields.get_mut(TAGS) {
            Some(Value::Array(a)) => {
                if !a.iter().any(|v| v.as_str() == Some(tag)) {
                    a.push(Value::from(tag));
                }
            }
            Some(Value::String(s)) => {
                if s != tag {
                    let old = std::mem::take(s);
                    self.fields.insert(
                        TAGS,
                        Value::Array(vec![Value::String(old), Value::from(tag)]),
                    );
                }
            }
            _ => {
                self.fields
                    .insert(TAGS, Value::Array(vec![Value::from(tag)]));
            }
        }
    }

    pub fn remove_tag(&mut self, tag: &str) {
        match self.fields.get_mut(TAGS) {
            Some(Value::Array(a)) => a.retain(|v| v.as_str() != Some(tag)),
            Some(Value::String(s)) if s == tag => {
                self.fields.insert(TAGS, Value::Array(Vec::new()));
            }
            _ => {}
        }
    }

    /// Attaches a source acknowledgement.
    pub fn attach_ack(&mut self, ack: Ack) {
        self.acks.push(ack);
    }

    /// Takes over the acknowledgements of `other` (events merged by multiline, aggregate).
    pub fn merge_acks(&mut self, other: &mut Event) {
        let taken = std::mem::take(&mut other.acks);
        self.acks.extend(taken);
    }

    pub fn acks(&self) -> &Acks {
        &self.acks
    }

    /// Marks every acknowledgement held by this event as not delivered: the source must
    /// not advance past it (shutdown before delivery).
    pub fn fail_acks(&self) {
        self.acks.fail();
    }

    /// Drops the acknowledgements without touching the fields (they fire when the last
    /// holder is gone).
    pub fn take_acks(&mut self) -> Acks {
        std::mem::take(&mut self.acks)
    }

    /// The event as JSON without `@metadata`: what outputs emit.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.fields).unwrap_or_default()
    }

    /// Writes the event as JSON (without `@metadata`) into `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        crate::json_out::write_map(out, &self.fields);
    }

    /// The event as a value tree (without `@metadata`).
    pub fn to_value(&self) -> Value {
        Value::Object(Box::new(self.fields.clone()))
    }
}

fn key_index(key: &str, len: usize) -> Option<usize> {
    let i: i64 = key.parse().ok()?;
    if i >= 0 {
        let i = i as usize;
        (i < len).then_some(i)
    } else {
        let back = i.unsigned_abs() as usize;
        (back <= len).then(|| len - back)
    }
}

fn child<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => a.get(key_index(key, a.len())?),
        _ => None,
    }
}

fn child_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(m) => m.get_mut(key),
        Value::Array(a) => {
            let i = key_index(key, a.len())?;
            a.get_mut(i)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> FieldRef {
        FieldRef::parse(s).unwrap()
    }

    #[test]
    fn new_event_has_logstash_fields() {
        let e = Event::from_message("hello");
        assert!(matches!(e.get(&r("@timestamp")), Some(Value::Timestamp(_))));
        assert_eq!(e.get(&r("@version")), Some(&Value::from("1")));
        assert_eq!(e.get(&r("message")), Some(&Value::from("hello")));
    }

    #[test]
    fn set_autovivifies_and_get_indexes_arrays() {
        let mut e = Event::new();
        e.set(&r("[a][b][c]"), Value::Integer(1)).unwrap();
        assert_eq!(e.get(&r("[a][b][c]")), Some(&Value::Integer(1)));
        e.set(
            &r("list"),
            Value::Array(vec![Value::from("x"), Value::from("y")]),
        )
        .unwrap();
        assert_eq!(e.get(&r("[list][1]")), Some(&Value::from("y")));
        assert_eq!(e.get(&r("[list][-1]")), Some(&Value::from("y")));
        assert_eq!(e.get(&r("[list][2]")), None);
        assert!(e.set(&r("[list][x][y]"), Value::Null).is_err());
        assert_eq!(
            e.remove(&r("[a][b]")),
            Some(Value::from(
                [("c".to_string(), Value::Integer(1))]
                    .into_iter()
                    .collect::<Map>()
            ))
        );
        assert_eq!(e.get(&r("[a]")), Some(&Value::from(Map::default())));
    }

    #[test]
    fn metadata_is_separate_and_never_serialised() {
        let mut e = Event::from_message("m");
        e.set(&r("[@metadata][index]"), Value::from("x")).unwrap();
        assert_eq!(e.get(&r("[@metadata][index]")), Some(&Value::from("x")));
        assert!(!e.to_json_string().contains("@metadata"));
    }

    #[test]
    fn tags_are_unique() {
        let mut e = Event::new();
        e.add_tag("a");
        e.add_tag("a");
        e.add_tag("b");
        assert_eq!(e.tags(), ["a", "b"]);
        e.remove_tag("a");
        assert_eq!(e.tags(), ["b"]);
    }

    #[test]
    fn from_map_parses_timestamp_or_tags_failure() {
        let m: Map = serde_json::from_str(
            r#"{"@timestamp":"2013-01-01T00:00:00.000Z","message":"x","@metadata":{"k":1}}"#,
        )
        .unwrap();
        let e = Event::from_map(m);
        assert_eq!(e.timestamp().unwrap().unix_seconds(), 1_356_998_400);
        assert_eq!(e.get(&r("[@metadata][k]")), Some(&Value::Integer(1)));
        let m: Map = serde_json::from_str(r#"{"@timestamp":"garbage"}"#).unwrap();
        let e = Event::from_map(m);
        assert!(e.has_tag("_timestampparsefailure"));
        assert_eq!(e.get(&r("_@timestamp")), Some(&Value::from("garbage")));
    }
}
