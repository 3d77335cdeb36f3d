//! `split`: turns one event into several, one per line of a string field (split on
//! `terminator`, default `"\n"`) or one per element of an array field.
//!
//! Logstash's behaviour, followed here: each piece is a copy of the event with `field`
//! (or `target`) set to the piece; empty strings and nulls are skipped; the original event
//! is cancelled. A string without the terminator (one piece) leaves the event as it is. A
//! field that is neither a string nor an array tags the event `_split_type_failure`; a
//! missing field too (Ruby's `nil` is neither). When there is no `target`, an array field
//! is removed before copying, as Logstash does, so each piece holds only its element.
//!
//! The common options (`add_tag`, ...) run on every piece (Logstash's `filter_matched`),
//! not on the cancelled original. Pieces share the original's acknowledgement, so the
//! source hears about the line only when every piece was delivered; a deterministic
//! `[@metadata][_id]` gets the piece's index appended, so pieces do not overwrite each
//! other in Elasticsearch and a replay still overwrites instead of duplicating.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "terminator",
        OptKind::String,
        "the string that separates the pieces of a string field",
    )
    .default("\"\n\""),
    OptSpec::new("field", OptKind::Field, "the field to split").default("\"message\""),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where each piece goes (default: the split field itself)",
    ),
];

pub const FAILURE_TAG: &str = "_split_type_failure";

/// The compiled split filter.
pub struct Split {
    terminator: String,
    field: FieldRef,
    target: Option<FieldRef>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let terminator = args
        .string("terminator")
        .unwrap_or_else(|| "\n".to_string());
    Ok(Box::new(Split {
        terminator,
        field: args
            .field("field")?
            .unwrap_or_else(|| FieldRef::top("message")),
        target: args.field("target")?,
    }))
}

/// Gives a produced event its own deterministic `[@metadata][_id]` (`<id>.<suffix>`):
/// copies must not overwrite each other (or the original) in Elasticsearch.
pub(crate) fn derive_id(event: &mut Event, suffix: &str) {
    if let Some(Value::String(id)) = event.metadata_mut().get_mut("_id") {
        id.push('.');
        id.push_str(suffix);
    }
}

impl Filter for Split {
    fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome {
        let pieces: Vec<Value> = match event.get(&self.field) {
            Some(Value::Array(_)) => {
                if self.target.is_none() {
                    match event.remove(&self.field) {
                        Some(Value::Array(a)) => a,
                        _ => Vec::new(),
                    }
                } else {
                    match event.get(&self.field) {
                        Some(Value::Array(a)) => a.clone(),
                        _ => Vec::new(),
                    }
                }
            }
            Some(Value::String(s)) => {
                // Ruby's `split(t, -1)`: an empty terminator splits into characters.
                let parts: Vec<Value> = if self.terminator.is_empty() {
                    s.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    s.split(self.terminator.as_str())
                        .map(|p| Value::String(p.to_string()))
                        .collect()
                };
                if parts.len() == 1 {
                    return Outcome::Failure;
                }
                parts
            }
            other => {
                let kind = other.map_or("nil", |v| v.type_name());
                tracing::warn!(
                    field = %self.field,
                    kind,
                    "only String and Array types are splittable"
                );
                event.add_tag(FAILURE_TAG);
                return Outcome::Failure;
            }
        };
        let dest = self.target.as_ref().unwrap_or(&self.field);
        let mut n = 0usize;
        for piece in pieces {
            match &piece {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                _ => {}
            }
            let mut copy = event.clone();
            if copy.set(dest, piece).is_err() {
                // The destination's parent is not a hash: keep the piece out rather than
                // emit a copy that lacks it.
                tracing::warn!(target = %dest, "split cannot set the piece");
                continue;
            }
            derive_id(&mut copy, &n.to_string());
            n += 1;
            ctx.matched_events.push(copy);
        }
        // The original is cancelled; the pieces hold clones of its acknowledgement.
        Outcome::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::{Ack, AckSink};
    use std::sync::{Arc, Mutex};

    fn split(args: Args, event: &mut Event) -> (Outcome, Vec<Event>) {
        let f = build(&args, &BuildContext::default()).unwrap();
        let mut ctx = FilterContext::default();
        let o = f.apply(event, &mut ctx);
        (o, ctx.matched_events)
    }

    fn msg(e: &Event) -> Value {
        e.get(&FieldRef::top("message"))
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn splits_lines_and_drops_original() {
        let mut e = Event::from_message("a\nb\n\nc\n");
        let (o, out) = split(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &mut e,
        );
        assert_eq!(o, Outcome::Drop);
        let got: Vec<Value> = out.iter().map(msg).collect();
        assert_eq!(got, vec!["a".into(), "b".into(), "c".into()] as Vec<Value>);
    }

    #[test]
    fn one_piece_leaves_event_alone() {
        let mut e = Event::from_message("no terminator");
        let (o, out) = split(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &mut e,
        );
        assert_eq!(o, Outcome::Failure);
        assert!(out.is_empty());
        assert_eq!(msg(&e), Value::from("no terminator"));
    }

    #[test]
    fn bad_types_are_tagged() {
        for v in [
            Value::Integer(10),
            Value::Bool(true),
            Value::Object(Box::default()),
        ] {
            let mut e = Event::new();
            e.set(&FieldRef::top("message"), v).unwrap();
            let (o, out) = split(
                Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
                &mut e,
            );
            assert_eq!(o, Outcome::Failure);
            assert!(out.is_empty());
            assert!(e.has_tag(FAILURE_TAG));
        }
        // A missing field is not splittable either.
        let mut e = Event::new();
        let (_, out) = split(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &mut e,
        );
        assert!(out.is_empty() && e.has_tag(FAILURE_TAG));
    }

    #[test]
    fn array_with_target_keeps_source() {
        let mut e = Event::new();
        let arr = Value::Array(vec![1.into(), Value::Null, "".into(), "x".into()]);
        e.set(&FieldRef::top("a"), arr.clone()).unwrap();
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("field", "a".into())
            .with("target", "el".into());
        let (_, out) = split(args, &mut e);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].get(&FieldRef::top("el")), Some(&Value::from("x")));
        assert_eq!(out[1].get(&FieldRef::top("a")), Some(&arr));
    }

    #[test]
    fn setting_through_a_string_skips_the_piece() {
        let mut e = Event::from_message("a\nb");
        e.set(&FieldRef::top("s"), "str".into()).unwrap();
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("target", "[s][x]".into());
        let (o, out) = split(args, &mut e);
        assert_eq!(o, Outcome::Drop);
        assert!(out.is_empty());
    }

    struct Sink(Mutex<Vec<(u64, bool)>>);
    impl AckSink for Sink {
        fn finished(&self, token: u64, delivered: bool) {
            self.0.lock().unwrap().push((token, delivered));
        }
    }

    #[test]
    fn ack_fires_after_last_piece_and_ids_differ() {
        let sink = Arc::new(Sink(Mutex::new(Vec::new())));
        let mut e = Event::from_message("a\nb\nc");
        e.attach_ack(Ack::new(sink.clone(), 7));
        e.metadata_mut().insert("_id", Value::from("file:1:42"));
        let (o, mut out) = split(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &mut e,
        );
        assert_eq!(o, Outcome::Drop);
        drop(e); // the runner drops the cancelled original
        let ids: Vec<Value> = out
            .iter()
            .map(|p| p.metadata().get("_id").cloned().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![
                Value::from("file:1:42.0"),
                Value::from("file:1:42.1"),
                Value::from("file:1:42.2")
            ]
        );
        out.pop();
        out.pop();
        assert!(sink.0.lock().unwrap().is_empty(), "ack fired too early");
        out[0].fail_acks();
        out.clear();
        assert_eq!(*sink.0.lock().unwrap(), vec![(7, false)]);
    }
}
