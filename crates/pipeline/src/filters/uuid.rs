//! `uuid`: sets `target` to a random (version 4) UUID, e.g.
//! `"2c9d3c59-8f1f-4c4c-9b1e-8e1a6f0c6b1d"`.
//!
//! Logstash's behaviour, followed here: an existing non-null value is kept unless
//! `overwrite` is set; the common options always run.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("target", OptKind::Field, "the field that receives the UUID").required(),
    OptSpec::new(
        "overwrite",
        OptKind::Boolean,
        "replace a value already in target",
    )
    .default("false"),
];

/// The compiled uuid filter.
pub struct Uuid {
    target: FieldRef,
    overwrite: bool,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let target = args
        .field("target")?
        .ok_or_else(|| BuildError::option("target", "is required"))?;
    Ok(Box::new(Uuid {
        target,
        overwrite: args.flag("overwrite"),
    }))
}

impl Filter for Uuid {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let present = !matches!(event.get(&self.target), None | Some(Value::Null));
        if self.overwrite || !present {
            let id = uuid::Uuid::new_v4().hyphenated().to_string();
            if event.set(&self.target, Value::String(id)).is_err() {
                // Logstash would raise; a parent that is not a hash leaves the event as is.
                tracing::warn!(target = %self.target, "uuid: cannot set target");
            }
        }
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: Args, e: &mut Event) {
        build(&args, &BuildContext::default())
            .unwrap()
            .apply(e, &mut FilterContext::default());
    }

    fn is_uuid(v: Option<&Value>) -> bool {
        let Some(Value::String(s)) = v else {
            return false;
        };
        s.len() == 36 && uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4)
    }

    #[test]
    fn sets_keeps_and_overwrites() {
        let t = FieldRef::top("t");
        let mut e = Event::new();
        run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("target", "t".into()),
            &mut e,
        );
        assert!(is_uuid(e.get(&t)));
        let first = e.get(&t).cloned();
        run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("target", "t".into()),
            &mut e,
        );
        assert_eq!(e.get(&t).cloned(), first);
        run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("target", "t".into())
                .with("overwrite", true.into()),
            &mut e,
        );
        assert!(is_uuid(e.get(&t)));
        assert_ne!(e.get(&t).cloned(), first);
    }

    #[test]
    fn bad_config_and_unsettable_target() {
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &BuildContext::default()
        )
        .is_err());
        let mut e = Event::from_message("m");
        run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("target", "[message][id]".into()),
            &mut e,
        );
        assert_eq!(e.get(&FieldRef::top("message")), Some(&"m".into()));
    }
}
