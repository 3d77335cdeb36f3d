//! `truncate`: shortens strings to at most `length_bytes` bytes, never cutting inside a
//! UTF-8 character.
//!
//! Logstash's behaviour, followed here: `fields` names the fields to shorten (default:
//! every top-level field); a hash is walked recursively, an array has its string elements
//! shortened, and anything else (numbers, booleans, timestamps) is left alone. The common
//! options run only when something was actually shortened (Logstash compares each field
//! before and after).

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "fields",
        OptKind::Array,
        "the fields to shorten (default: all top-level fields)",
    ),
    OptSpec::new(
        "length_bytes",
        OptKind::Number,
        "the maximum length of a string, in bytes",
    )
    .required(),
];

/// The compiled truncate filter.
pub struct Truncate {
    fields: Option<Vec<FieldRef>>,
    length: usize,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let length = match args.i64("length_bytes") {
        Some(n) if n >= 0 => n as usize,
        Some(n) => {
            return Err(BuildError::option(
                "length_bytes",
                format!("must be zero or more, got {n}"),
            ))
        }
        None => return Err(BuildError::option("length_bytes", "is required (a number)")),
    };
    let fields = if args.contains("fields") {
        let mut refs = Vec::new();
        for f in args.strings("fields") {
            refs.push(
                FieldRef::parse(&f).map_err(|e| BuildError::option("fields", e.to_string()))?,
            );
        }
        Some(refs)
    } else {
        None
    };
    Ok(Box::new(Truncate { fields, length }))
}

/// Shortens `s` to at most `max` bytes at a character boundary; true if it changed.
pub fn trim(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

/// Shortens the strings in `v` (recursing into hashes, one level into arrays).
fn truncate(v: &mut Value, max: usize) -> bool {
    match v {
        Value::String(s) => trim(s, max),
        Value::Array(a) => a.iter_mut().fold(false, |changed, x| match x {
            Value::String(s) => trim(s, max) | changed,
            _ => changed,
        }),
        Value::Object(m) => m
            .values_mut()
            .fold(false, |changed, x| truncate(x, max) | changed),
        _ => false,
    }
}

impl Filter for Truncate {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let mut changed = false;
        match &self.fields {
            Some(fields) => {
                for f in fields {
                    if let Some(v) = event.get_mut(f) {
                        changed |= truncate(v, self.length);
                    }
                }
            }
            None => {
                for v in event.fields_mut().values_mut() {
                    changed |= truncate(v, self.length);
                }
            }
        }
        if changed {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_cuts_inside_a_character() {
        let text = "añb✓c日本";
        for max in 0..=text.len() {
            let mut s = text.to_string();
            trim(&mut s, max);
            assert!(s.len() <= max);
            assert!(text.starts_with(&s));
            // Not shorter than needed: one more character would not fit.
            let next = text[s.len()..].chars().next().map_or(0, char::len_utf8);
            assert!(s.len() == text.len() || s.len() + next > max);
        }
    }

    #[test]
    fn walks_hashes_and_arrays_and_skips_others() {
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("length_bytes", 2.into()),
            &BuildContext::default(),
        )
        .unwrap();
        let mut e = Event::new();
        e.set(&FieldRef::parse("[a][b][c]").unwrap(), "xyz".into())
            .unwrap();
        e.set(&FieldRef::top("n"), 12345.into()).unwrap();
        e.set(
            &FieldRef::top("l"),
            Value::Array(vec!["abc".into(), 7.into()]),
        )
        .unwrap();
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        assert_eq!(
            e.get(&FieldRef::parse("[a][b][c]").unwrap()),
            Some(&"xy".into())
        );
        assert_eq!(e.get(&FieldRef::top("n")), Some(&12345.into()));
        assert_eq!(
            e.get(&FieldRef::top("l")),
            Some(&Value::Array(vec!["ab".into(), 7.into()]))
        );
        // Nothing left to shorten: no success, so no add_tag.
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
    }

    #[test]
    fn bad_config() {
        let ctx = BuildContext::default();
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &ctx
        )
        .is_err());
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("length_bytes", (-1).into()),
            &ctx
        )
        .is_err());
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("length_bytes", "x".into()),
            &ctx
        )
        .is_err());
    }
}
