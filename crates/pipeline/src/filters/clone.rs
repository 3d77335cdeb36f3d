//! `clone`: emits one copy of the event per entry of `clones`, after the original.
//!
//! Logstash's behaviour, followed here: in legacy mode (`ecs_compatibility => disabled`)
//! each copy's `type` is set to the clone name; in ECS mode (v1, v8: Logstash 8's
//! default) `type` is left alone and the name is added to the copy's `tags`. The common
//! options (`add_tag`, `remove_field`, ...) run on the copies only, never on the original
//! (Logstash calls `filter_matched` on each clone). An empty `clones` emits nothing.
//!
//! Copies share the original's acknowledgement: the source hears about the line once the
//! original and every copy are delivered. A deterministic `[@metadata][_id]` gets
//! `.clone<N>` appended on copy N, so a copy indexed next to its original does not
//! overwrite it, and a replay still overwrites rather than duplicates.

use crate::filters::split::derive_id;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "clones",
        OptKind::Array,
        "one copy per entry; the entry is the copy's type (legacy) or tag (ECS)",
    )
    .required(),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "disabled: set [type] on copies; v1/v8: tag them instead",
    ),
];

/// The compiled clone filter.
pub struct Clone {
    clones: Vec<String>,
    /// ECS mode: tag copies instead of setting `type`.
    tag: bool,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    if !args.contains("clones") {
        return Err(BuildError::option("clones", "is required"));
    }
    let clones = args.strings("clones");
    if clones.is_empty() {
        tracing::warn!("the parameter 'clones' is empty, so no clones will be created");
    }
    Ok(Box::new(Clone {
        clones,
        tag: args.ecs(ctx)?.enabled(),
    }))
}

impl Filter for Clone {
    fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome {
        for (i, name) in self.clones.iter().enumerate() {
            let mut copy = event.clone();
            if self.tag {
                copy.add_tag(name);
            } else {
                let _ = copy.set(&FieldRef::top("type"), Value::String(name.clone()));
            }
            derive_id(&mut copy, &format!("clone{i}"));
            ctx.matched_events.push(copy);
        }
        // The original goes on unchanged: Logstash does not run the common options on it.
        Outcome::Failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Ecs;

    fn run(clones: &[&str], ecs: Ecs, e: &mut Event) -> (Outcome, Vec<Event>) {
        let list = Value::Array(clones.iter().map(|c| Value::from(*c)).collect());
        let ctx = BuildContext {
            ecs,
            ..BuildContext::default()
        };
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("clones", list),
            &ctx,
        )
        .unwrap();
        let mut fc = FilterContext::default();
        let o = f.apply(e, &mut fc);
        (o, fc.matched_events)
    }

    #[test]
    fn legacy_sets_type() {
        let mut e = Event::from_message("m");
        let (o, out) = run(&["a", "b"], Ecs::Disabled, &mut e);
        assert_eq!(o, Outcome::Failure);
        let types: Vec<_> = out
            .iter()
            .map(|c| c.get(&FieldRef::top("type")).cloned())
            .collect();
        assert_eq!(types, vec![Some("a".into()), Some("b".into())]);
        assert!(e.get(&FieldRef::top("type")).is_none());
    }

    #[test]
    fn ecs_tags_copies() {
        let mut e = Event::from_message("m");
        e.set(&FieldRef::top("type"), "orig".into()).unwrap();
        let (_, out) = run(&["x"], Ecs::V8, &mut e);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].tags(), ["x"]);
        assert_eq!(out[0].get(&FieldRef::top("type")), Some(&"orig".into()));
        assert!(e.tags().is_empty());
    }

    #[test]
    fn ids_are_distinct_and_required_option() {
        let mut e = Event::from_message("m");
        e.metadata_mut().insert("_id", "k".into());
        let (_, out) = run(&["a", "a"], Ecs::V1, &mut e);
        let ids: Vec<_> = out
            .iter()
            .map(|c| c.metadata().get("_id").cloned())
            .collect();
        assert_eq!(ids, vec![Some("k.clone0".into()), Some("k.clone1".into())]);
        assert_eq!(e.metadata().get("_id"), Some(&"k".into()));
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &BuildContext::default()
        )
        .is_err());
        let (_, none) = run(&[], Ecs::V1, &mut e);
        assert!(none.is_empty());
    }
}
