//! `elapsed`: the time between a start event and an end event that share an id, as
//! Logstash's elapsed filter.
//!
//! An event tagged `start_tag` with a `unique_id_field` is remembered (the first one per id,
//! or the last with `keep_start_event => last`). An event tagged `end_tag` with the same id
//! gets `elapsed_time` (seconds, a float), `elapsed_timestamp_start` and the tags `elapsed`
//! and `elapsed_match` — or, with `new_event_on_match => true`, a new event carrying them
//! (plus `host` and the id) is emitted and the end event is left alone. An end event whose
//! start was never seen is tagged `elapsed_end_without_start`. Starts whose end does not
//! come within `timeout` seconds are dropped at a periodic flush, each emitting an event
//! tagged `elapsed` and `elapsed_expired_error` with the id, `elapsed_time` (the age in
//! seconds, counted in 5-second flush ticks as Logstash does), `elapsed_timestamp_start`
//! and `host`. Events without the id field pass through untouched (no add_tag).
//!
//! Like Logstash's, the filter keeps its starts in memory and needs start and end of an id
//! to reach the same filter instance: run the pipeline with one worker (`-w 1`) if start
//! and end can arrive in the same batch out of order.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Timestamp, Value};
use std::collections::HashMap;
use std::sync::Mutex;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "start_tag",
        OptKind::String,
        "the tag that marks start events",
    )
    .required(),
    OptSpec::new("end_tag", OptKind::String, "the tag that marks end events").required(),
    OptSpec::new(
        "unique_id_field",
        OptKind::String,
        "the field that pairs start and end events",
    )
    .required(),
    OptSpec::new(
        "timeout",
        OptKind::Number,
        "seconds after which a start without end expires",
    )
    .default("1800"),
    OptSpec::new(
        "new_event_on_match",
        OptKind::Boolean,
        "emit a new event on a match instead of changing the end event",
    )
    .default("false"),
    OptSpec::new(
        "keep_start_event",
        OptKind::Enum(&["first", "last"]),
        "which start event to keep when several share an id",
    )
    .default("first"),
];

const ELAPSED_FIELD: &str = "elapsed_time";
const START_FIELD: &str = "elapsed_timestamp_start";
const ELAPSED_TAG: &str = "elapsed";
const EXPIRED_TAG: &str = "elapsed_expired_error";
const END_WITHOUT_START_TAG: &str = "elapsed_end_without_start";
const MATCH_TAG: &str = "elapsed_match";
/// What one periodic flush adds to the age of a start event (Logstash's flush period).
const FLUSH_TICK_SECS: i64 = 5;

struct Start {
    id: Value,
    timestamp: Option<Timestamp>,
    /// Seconds, in flush ticks.
    age: i64,
}

pub struct Elapsed {
    start_tag: String,
    end_tag: String,
    id_field: FieldRef,
    timeout: i64,
    new_event_on_match: bool,
    keep_last: bool,
    host: String,
    /// Id (its JSON text, so `1` and `"1"` differ as in Ruby) → the start kept for it.
    starts: Mutex<HashMap<String, Start>>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let timeout = match args.value("timeout") {
        None => 1800,
        Some(_) => args
            .i64("timeout")
            .ok_or_else(|| BuildError::option("timeout", "expected a number of seconds"))?,
    };
    let id = args
        .string("unique_id_field")
        .unwrap_or_else(|| "".to_string());
    let id_field =
        FieldRef::parse(&id).map_err(|e| BuildError::option("unique_id_field", e.to_string()))?;
    Ok(Box::new(Elapsed {
        start_tag: args.string("start_tag").unwrap_or_else(|| "".to_string()),
        end_tag: args.string("end_tag").unwrap_or_else(|| "".to_string()),
        id_field,
        timeout,
        new_event_on_match: args.flag("new_event_on_match"),
        keep_last: args
            .string("keep_start_event")
            .unwrap_or_else(|| "first".to_string())
            == "last",
        host: crate::inputs::hostname(),
        starts: Mutex::new(HashMap::new()),
    }))
}

impl Elapsed {
    fn add_info(&self, e: &mut Event, elapsed: f64, id: Value, start: Option<Timestamp>) {
        e.add_tag(ELAPSED_TAG);
        e.add_tag(MATCH_TAG);
        let _ = e.set(&FieldRef::top(ELAPSED_FIELD), Value::Float(elapsed));
        let _ = e.set(&self.id_field, id);
        let _ = e.set(
            &FieldRef::top(START_FIELD),
            start.map(Value::Timestamp).unwrap_or(Value::Null),
        );
    }
}

fn seconds_between(end: Option<Timestamp>, start: Option<Timestamp>) -> f64 {
    match (end, start) {
        (Some(e), Some(s)) => (e.unix_nanos() - s.unix_nanos()) as f64 / 1e9,
        _ => 0.0,
    }
}

impl Filter for Elapsed {
    fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome {
        let id = match event.get(&self.id_field) {
            None | Some(Value::Null) => return Outcome::Failure,
            Some(v) => v.clone(),
        };
        let key = id.to_json().to_string();
        let Ok(mut starts) = self.starts.lock() else {
            return Outcome::Failure;
        };
        if event.has_tag(&self.start_tag) {
            if self.keep_last || !starts.contains_key(&key) {
                starts.insert(
                    key,
                    Start {
                        id,
                        timestamp: event.timestamp(),
                        age: 0,
                    },
                );
            }
            return Outcome::Success;
        }
        if !event.has_tag(&self.end_tag) {
            return Outcome::Failure;
        }
        match starts.remove(&key) {
            None => event.add_tag(END_WITHOUT_START_TAG),
            Some(start) => {
                drop(starts);
                let elapsed = seconds_between(event.timestamp(), start.timestamp);
                if self.new_event_on_match {
                    let mut e = Event::new();
                    let _ = e.set(&FieldRef::top("host"), Value::from(self.host.as_str()));
                    self.add_info(&mut e, elapsed, id, start.timestamp);
                    ctx.matched_events.push(e);
                } else {
                    self.add_info(event, elapsed, id, start.timestamp);
                }
            }
        }
        Outcome::Success
    }

    fn wants_flush(&self) -> bool {
        true
    }

    fn flush(&self, _final_flush: bool) -> Vec<(Event, Outcome)> {
        let Ok(mut starts) = self.starts.lock() else {
            return Vec::new();
        };
        let mut expired = Vec::new();
        starts.retain(|_, s| {
            s.age += FLUSH_TICK_SECS;
            if s.age >= self.timeout {
                expired.push((s.id.clone(), s.timestamp, s.age));
                false
            } else {
                true
            }
        });
        drop(starts);
        expired
            .into_iter()
            .map(|(id, ts, age)| {
                let mut e = Event::new();
                e.add_tag(ELAPSED_TAG);
                e.add_tag(EXPIRED_TAG);
                let _ = e.set(&FieldRef::top("host"), Value::from(self.host.as_str()));
                let _ = e.set(&self.id_field, id);
                let _ = e.set(&FieldRef::top(ELAPSED_FIELD), Value::Integer(age));
                let _ = e.set(
                    &FieldRef::top(START_FIELD),
                    ts.map(Value::Timestamp).unwrap_or(Value::Null),
                );
                (e, Outcome::Success)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(extra: &[(&str, Value)]) -> Box<dyn Filter> {
        let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("start_tag", "S".into())
            .with("end_tag", "E".into())
            .with("unique_id_field", "id".into());
        for (k, v) in extra {
            args = args.with(k, v.clone());
        }
        build(&args, &BuildContext::default()).unwrap()
    }

    fn ev(tag: &str, id: Option<Value>, ts: &str) -> Event {
        let mut e = Event::new();
        e.add_tag(tag);
        if let Some(id) = id {
            let _ = e.set(&FieldRef::top("id"), id);
        }
        e.set_timestamp(Timestamp::parse_iso8601(ts).unwrap());
        e
    }

    fn top(e: &Event, k: &str) -> Option<Value> {
        e.get_top(k).cloned()
    }

    #[test]
    fn start_then_end_sets_elapsed() {
        let f = filter(&[]);
        let mut ctx = FilterContext::default();
        let mut s = ev("S", Some("a".into()), "2020-01-01T00:00:00Z");
        assert_eq!(f.apply(&mut s, &mut ctx), Outcome::Success);
        // A second start for the same id is ignored (keep_start_event => first).
        let mut s2 = ev("S", Some("a".into()), "2020-01-01T00:00:05Z");
        f.apply(&mut s2, &mut ctx);
        let mut e = ev("E", Some("a".into()), "2020-01-01T00:00:10.5Z");
        assert_eq!(f.apply(&mut e, &mut ctx), Outcome::Success);
        assert_eq!(top(&e, ELAPSED_FIELD), Some(Value::Float(10.5)));
        assert!(e.has_tag(MATCH_TAG) && e.has_tag(ELAPSED_TAG));
        assert!(matches!(top(&e, START_FIELD), Some(Value::Timestamp(_))));
        // The start was consumed: a second end has none.
        let mut e2 = ev("E", Some("a".into()), "2020-01-01T00:00:11Z");
        f.apply(&mut e2, &mut ctx);
        assert!(e2.has_tag(END_WITHOUT_START_TAG));
    }

    #[test]
    fn keep_last_and_new_event() {
        let f = filter(&[
            ("keep_start_event", "last".into()),
            ("new_event_on_match", true.into()),
        ]);
        let mut ctx = FilterContext::default();
        f.apply(
            &mut ev("S", Some(Value::Integer(1)), "2020-01-01T00:00:00Z"),
            &mut ctx,
        );
        f.apply(
            &mut ev("S", Some(Value::Integer(1)), "2020-01-01T00:00:04Z"),
            &mut ctx,
        );
        // "1" is not 1.
        let mut other = ev("E", Some("1".into()), "2020-01-01T00:00:05Z");
        f.apply(&mut other, &mut ctx);
        assert!(other.has_tag(END_WITHOUT_START_TAG));
        let mut e = ev("E", Some(Value::Integer(1)), "2020-01-01T00:00:05Z");
        f.apply(&mut e, &mut ctx);
        assert!(!e.has_tag(MATCH_TAG));
        assert_eq!(ctx.matched_events.len(), 1);
        let m = &ctx.matched_events[0];
        assert_eq!(top(m, ELAPSED_FIELD), Some(Value::Float(1.0)));
        assert_eq!(top(m, "id"), Some(Value::Integer(1)));
        assert!(top(m, "host").is_some());
    }

    #[test]
    fn expires_on_flush_ticks() {
        let f = filter(&[("timeout", Value::Integer(10))]);
        let mut ctx = FilterContext::default();
        f.apply(
            &mut ev("S", Some("x".into()), "2020-01-01T00:00:00Z"),
            &mut ctx,
        );
        assert!(f.flush(false).is_empty()); // age 5
        let out = f.flush(false); // age 10
        assert_eq!(out.len(), 1);
        let (e, outcome) = &out[0];
        assert_eq!(*outcome, Outcome::Success);
        assert!(e.has_tag(EXPIRED_TAG) && e.has_tag(ELAPSED_TAG));
        assert_eq!(top(e, ELAPSED_FIELD), Some(Value::Integer(10)));
        assert_eq!(top(e, "id"), Some("x".into()));
        assert!(f.flush(true).is_empty());
        let mut end = ev("E", Some("x".into()), "2020-01-01T00:00:30Z");
        f.apply(&mut end, &mut ctx);
        assert!(end.has_tag(END_WITHOUT_START_TAG));
    }

    #[test]
    fn events_without_id_or_tags_are_untouched() {
        let f = filter(&[]);
        let mut ctx = FilterContext::default();
        let mut e = ev("E", None, "2020-01-01T00:00:00Z");
        assert_eq!(f.apply(&mut e, &mut ctx), Outcome::Failure);
        assert_eq!(e.tags(), vec!["E".to_string()]);
        let mut n = ev("other", Some("a".into()), "2020-01-01T00:00:00Z");
        assert_eq!(f.apply(&mut n, &mut ctx), Outcome::Failure);
    }

    #[test]
    fn bad_options() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("start_tag", "S".into())
            .with("end_tag", "E".into())
            .with("unique_id_field", "[bad".into());
        assert!(build(&args, &BuildContext::default()).is_err());
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("start_tag", "S".into())
            .with("end_tag", "E".into())
            .with("unique_id_field", "id".into())
            .with("timeout", "soon".into());
        let err = build(&args, &BuildContext::default()).err().unwrap();
        assert_eq!(err.option.as_deref(), Some("timeout"));
    }
}
