//! `de_dot`: renames fields whose names contain dots (`a.b` → `a_b`, or with `nested`
//! → `[a][b]`), as Elasticsearch 2.x required.
//!
//! Logstash's behaviour, followed here: `fields` lists the field references to process
//! (default: every top-level field); with `recursive` the hashes below are processed too.
//! A rename copies the value to the new reference (every `.` in the reference replaced by
//! `separator`), then removes the outermost path element that holds a dot. When the new
//! reference cannot be set (its parent is a string, e.g. `request` and `request.path` with
//! `nested`), the event is tagged `tag_on_failure` (`_de_dot_error`) and the common options
//! do not run; renames done before the failure stay, as in Logstash. `separator` may not
//! contain a dot.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "separator",
        OptKind::String,
        "what replaces each dot (may not contain a dot)",
    )
    .default("\"_\""),
    OptSpec::new(
        "nested",
        OptKind::Boolean,
        "turn dots into nesting: a.b becomes [a][b]",
    )
    .default("false"),
    OptSpec::new(
        "recursive",
        OptKind::Boolean,
        "also process the fields inside hashes",
    )
    .default("false"),
    OptSpec::new(
        "fields",
        OptKind::Array,
        "the field references to process (default: all top-level fields)",
    ),
    OptSpec::new(
        "tag_on_failure",
        OptKind::String,
        "tag added when a rename fails",
    )
    .default("\"_de_dot_error\""),
];

/// The compiled de_dot filter.
pub struct DeDot {
    separator: String,
    recursive: bool,
    fields: Option<Vec<String>>,
    tag_on_failure: String,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let separator = args.string("separator").unwrap_or_else(|| "_".to_string());
    if separator.contains('.') {
        return Err(BuildError::option(
            "separator",
            format!("cannot be or contain '.', got {separator:?}"),
        ));
    }
    let separator = if args.flag("nested") {
        "][".to_string()
    } else {
        separator
    };
    let fields = args.contains("fields").then(|| args.strings("fields"));
    if let Some(fs) = &fields {
        for f in fs {
            FieldRef::parse(f).map_err(|e| BuildError::option("fields", e.to_string()))?;
        }
    }
    Ok(Box::new(DeDot {
        separator,
        recursive: args.flag("recursive"),
        fields,
        tag_on_failure: args
            .string("tag_on_failure")
            .unwrap_or_else(|| "_de_dot_error".to_string()),
    }))
}

/// Why a rename failed.
type Failure = String;

fn parse(r: &str) -> Result<FieldRef, Failure> {
    FieldRef::parse(r).map_err(|e| e.to_string())
}

/// The reference of the outermost path element of `source` that holds a dot: what
/// Logstash removes after copying the value to its new name.
fn ref_for_delete(source: &str) -> String {
    let mut out = String::new();
    for part in source.replace('[', "").split(']') {
        out.push('[');
        out.push_str(part);
        out.push(']');
        if part.contains('.') {
            break;
        }
    }
    out
}

impl DeDot {
    fn rename(&self, event: &mut Event, fieldref: &str) -> Result<(), Failure> {
        let mut fieldref = fieldref.to_string();
        if self.separator == "][" || self.recursive {
            if !fieldref.starts_with('[') {
                fieldref.insert(0, '[');
            }
            if !fieldref.ends_with(']') {
                fieldref.push(']');
            }
        }
        if fieldref.contains('.') {
            let newref = fieldref.replace('.', &self.separator);
            let value = event
                .get(&parse(&fieldref)?)
                .cloned()
                .unwrap_or(Value::Null);
            event
                .set(&parse(&newref)?, value)
                .map_err(|e| e.to_string())?;
            event.remove(&parse(&ref_for_delete(&fieldref))?);
            fieldref = newref;
        }
        if self.recursive {
            let keys: Vec<String> = match event.get(&parse(&fieldref)?) {
                Some(Value::Object(m)) => m.keys().map(|k| k.to_string()).collect(),
                _ => Vec::new(),
            };
            for k in keys {
                self.rename(event, &format!("{fieldref}[{k}]"))?;
            }
        }
        Ok(())
    }

    fn run(&self, event: &mut Event) -> Result<(), Failure> {
        let fields: Vec<String> = match &self.fields {
            Some(f) => f.clone(),
            None => event.fields().keys().map(|k| k.to_string()).collect(),
        };
        for f in &fields {
            // Top-level names are taken literally when they hold no brackets.
            let present = match FieldRef::parse(f) {
                Ok(r) => event.contains(&r),
                Err(_) => false,
            };
            if present && (f.contains('.') || self.recursive) {
                self.rename(event, f)?;
            }
        }
        Ok(())
    }
}

impl Filter for DeDot {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        match self.run(event) {
            Ok(()) => Outcome::Success,
            Err(e) => {
                tracing::warn!(error = %e, "exception caught while applying de_dot filter");
                event.add_tag(&self.tag_on_failure);
                Outcome::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: Args, input: serde_json::Value) -> Event {
        let f = build(&args, &BuildContext::default()).unwrap();
        let Value::Object(m) = Value::from_json(input) else {
            panic!("object expected")
        };
        let mut e = Event::from_map(*m);
        f.apply(&mut e, &mut FilterContext::default());
        e
    }

    fn get(e: &Event, r: &str) -> Option<Value> {
        e.get(&FieldRef::parse(r).unwrap()).cloned()
    }

    #[test]
    fn renames_top_level_and_nested() {
        let e = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            serde_json::json!({"a.b.c": 1, "x": 2}),
        );
        assert_eq!(get(&e, "a_b_c"), Some(1.into()));
        assert!(get(&e, "[a.b.c]").is_none());
        let e = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("nested", true.into()),
            serde_json::json!({"a.b": {"c.d": 1}}),
        );
        // Not recursive: the inner key keeps its dot.
        assert_eq!(get(&e, "[a][b][c.d]"), Some(1.into()));
    }

    #[test]
    fn recursive_walks_hashes() {
        let e = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("recursive", true.into()),
            serde_json::json!({"a": {"b.c": {"d.e": "v"}}}),
        );
        assert_eq!(get(&e, "[a][b_c][d_e]"), Some("v".into()));
    }

    #[test]
    fn overlap_is_tagged() {
        let e = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("nested", true.into()),
            serde_json::json!({"request": "GET", "request.path": "/"}),
        );
        assert!(e.has_tag("_de_dot_error"));
        assert_eq!(get(&e, "request"), Some("GET".into()));
        assert_eq!(get(&e, "[request.path]"), Some("/".into()));
    }

    #[test]
    fn bad_config() {
        let ctx = BuildContext::default();
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("separator", ".".into()),
            &ctx
        )
        .is_err());
        let bad = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("fields", Value::Array(vec!["[a".into()]));
        assert!(build(&bad, &ctx).is_err());
        assert_eq!(ref_for_delete("[a][b.c][d.e]"), "[a][b.c]");
    }
}
