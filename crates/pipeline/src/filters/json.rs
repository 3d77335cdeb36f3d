//! `json`: parses a field holding JSON into the event (or into `target`).
//!
//! Without a target the JSON must be an object; its keys are set as field references and
//! an `@timestamp` in it becomes the event's timestamp (an unparseable one moves to
//! `_@timestamp` and the event is tagged `_timestampparsefailure`). Invalid JSON tags the
//! event with `tag_on_failure` unless `skip_on_invalid_json` is set.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Timestamp, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Field, "the field holding the JSON text").required(),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where to put the parsed data (default: the event root)",
    ),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when the JSON cannot be parsed",
    )
    .default("[\"_jsonparsefailure\"]"),
    OptSpec::new(
        "skip_on_invalid_json",
        OptKind::Boolean,
        "leave invalid JSON alone, without tagging",
    )
    .default("false"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "accepted; only changes a warning in Logstash",
    ),
];

pub const TIMESTAMP_FAILURE_TAG: &str = "_timestampparsefailure";
pub const TIMESTAMP_FAILURE_FIELD: &str = "_@timestamp";

/// The compiled json filter.
pub struct Json {
    source: FieldRef,
    target: Option<FieldRef>,
    tag_on_failure: Vec<String>,
    skip_on_invalid_json: bool,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let source = args
        .field("source")?
        .ok_or_else(|| BuildError::option("source", "is required"))?;
    let tag_on_failure = if args.contains("tag_on_failure") {
        args.strings("tag_on_failure")
    } else {
        vec!["_jsonparsefailure".into()]
    };
    Ok(Box::new(Json {
        source,
        target: args.field("target")?,
        tag_on_failure,
        skip_on_invalid_json: args.flag("skip_on_invalid_json"),
    }))
}

impl Json {
    fn fail(&self, event: &mut Event) -> Outcome {
        for t in &self.tag_on_failure {
            event.add_tag(t);
        }
        Outcome::Failure
    }
}

impl Filter for Json {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let parsed: Value = match event.get(&self.source) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Outcome::Failure,
            // LogStash::Json.load of blank text is nil.
            Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(v) => v,
                Err(err) => {
                    if self.skip_on_invalid_json {
                        return Outcome::Failure;
                    }
                    tracing::warn!(source = %self.source, %err, "error parsing json");
                    return self.fail(event);
                }
            },
            Some(other) => {
                tracing::warn!(source = %self.source, kind = other.type_name(), "json source is not a string");
                return self.fail(event);
            }
        };

        if let Some(target) = &self.target {
            return match event.set(target, parsed) {
                Ok(()) => Outcome::Success,
                Err(_) => self.fail(event),
            };
        }

        let Value::Object(mut map) = parsed else {
            tracing::warn!(source = %self.source, "parsed JSON object/hash requires a target configuration option");
            return self.fail(event);
        };
        let ts = map.shift_remove("@timestamp");
        // Resolve every key first so a failure leaves the event untouched.
        let mut sets = Vec::with_capacity(map.len());
        for (k, v) in *map {
            let r = if k.contains('[') {
                FieldRef::parse(&k).unwrap_or_else(|_| FieldRef::top(&k))
            } else {
                FieldRef::top(&k)
            };
            sets.push((r, v));
        }
        for (r, v) in sets {
            if event.set(&r, v).is_err() {
                return self.fail(event);
            }
        }
        if let Some(raw) = ts {
            match coerce_timestamp(&raw) {
                Some(t) => event.set_timestamp(t),
                None => {
                    event.set_timestamp(Timestamp::now());
                    event.add_tag(TIMESTAMP_FAILURE_TAG);
                    let text = crate::ruby::to_s(&raw);
                    let _ = event.set(&FieldRef::top(TIMESTAMP_FAILURE_FIELD), Value::String(text));
                }
            }
        }
        Outcome::Success
    }
}

/// `LogStash::Timestamp.coerce`: a timestamp or an ISO-8601 string.
fn coerce_timestamp(v: &Value) -> Option<Timestamp> {
    match v {
        Value::Timestamp(t) => Some(*t),
        Value::String(s) => Timestamp::parse_iso8601(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: Args, msg: Value) -> (Event, Outcome) {
        let f = build(&args, &BuildContext::default()).expect("build");
        let mut e = Event::new();
        e.set(&FieldRef::top("message"), msg).expect("set");
        let out = f.apply(&mut e, &mut FilterContext::default());
        (e, out)
    }

    fn src() -> Args {
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("message"))
    }

    #[test]
    fn parses_into_root_with_nested_keys() {
        let (e, out) = run(
            src(),
            Value::from(r#"{"a":1,"[b][c]":"x","@timestamp":"2015-12-02T17:40:00.666Z"}"#),
        );
        assert_eq!(out, Outcome::Success);
        assert_eq!(e.get(&FieldRef::top("a")), Some(&Value::Integer(1)));
        assert_eq!(
            e.get(&FieldRef::parse("[b][c]").expect("ref")),
            Some(&Value::from("x"))
        );
        assert_eq!(
            e.timestamp().map(|t| t.to_string()).as_deref(),
            Some("2015-12-02T17:40:00.666Z")
        );
    }

    #[test]
    fn bad_timestamp_is_kept_aside() {
        let (e, out) = run(src(), Value::from(r#"{"@timestamp": 12}"#));
        assert_eq!(out, Outcome::Success);
        assert!(e.has_tag(TIMESTAMP_FAILURE_TAG));
        assert_eq!(
            e.get(&FieldRef::top("_@timestamp")),
            Some(&Value::from("12"))
        );
    }

    #[test]
    fn invalid_non_string_and_missing_sources() {
        let (e, out) = run(src(), Value::from("{not json"));
        assert_eq!(
            (out, e.tags()),
            (Outcome::Failure, vec!["_jsonparsefailure".to_string()])
        );
        let (e, out) = run(src(), Value::Integer(5));
        assert_eq!(
            (out, e.has_tag("_jsonparsefailure")),
            (Outcome::Failure, true)
        );
        let (e, out) = run(
            src().with("skip_on_invalid_json", Value::Bool(true)),
            Value::from("nope"),
        );
        assert_eq!((out, e.tags().len()), (Outcome::Failure, 0));
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("source", Value::from("missing")),
            &BuildContext::default(),
        )
        .expect("build");
        let mut e = Event::from_message("x");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
        assert!(e.tags().is_empty());
    }

    #[test]
    fn scalar_json_needs_a_target() {
        let (e, out) = run(src(), Value::from("[1,2]"));
        assert_eq!(
            (out, e.has_tag("_jsonparsefailure")),
            (Outcome::Failure, true)
        );
        let (e, out) = run(
            src().with("target", Value::from("[t][x]")),
            Value::from("[1,2]"),
        );
        assert_eq!(out, Outcome::Success);
        assert_eq!(
            e.get(&FieldRef::parse("[t][x]").expect("ref")),
            Some(&Value::Array(vec![1.into(), 2.into()]))
        );
    }

    #[test]
    fn config_errors_name_the_option() {
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &BuildContext::default(),
        )
        .err()
        .expect("source required");
        assert_eq!(err.option.as_deref(), Some("source"));
        let err = build(
            &src().with("target", Value::from("[bad")),
            &BuildContext::default(),
        )
        .err()
        .expect("bad target");
        assert_eq!(err.option.as_deref(), Some("target"));
    }

    #[test]
    fn big_and_odd_input() {
        let big = format!(
            r#"{{"k":"{}","u":"\ud83d\ude00 é \u0000"}}"#,
            "x".repeat(1 << 20)
        );
        let (e, out) = run(src().with("target", Value::from("t")), Value::from(big));
        assert_eq!(out, Outcome::Success);
        assert_eq!(
            e.get(&FieldRef::parse("[t][k]").expect("ref"))
                .and_then(Value::as_str)
                .map(str::len),
            Some(1 << 20)
        );
        assert_eq!(
            e.get(&FieldRef::parse("[t][u]").expect("ref")),
            Some(&Value::from("😀 é \u{0}"))
        );
        // A lone surrogate is invalid JSON text for serde: tagged, not a panic.
        let (e, _) = run(src(), Value::from(r#"{"a":"\ud800"}"#));
        assert!(e.has_tag("_jsonparsefailure"));
    }
}
