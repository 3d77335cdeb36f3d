//! `drop`: drops events, all of them or a random `percentage`.
//!
//! Logstash's drop never calls `filter_matched`, so `add_tag`/`add_field` never run on
//! the events it lets through: those return [`Outcome::Failure`] (no tag is added).

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::Event;

pub static OPTIONS: &[OptSpec] = &[OptSpec::new(
    "percentage",
    OptKind::Number,
    "the probability, in percent, that an event is dropped",
)
.default("100")];

/// The compiled drop filter.
pub struct Drop {
    /// Probability in [0, 1].
    probability: f64,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let pct = match args.value("percentage") {
        None => 100.0,
        Some(_) => args.f64("percentage").ok_or_else(|| {
            BuildError::option("percentage", "expected a number between 0 and 100")
        })?,
    };
    if !(0.0..=100.0).contains(&pct) {
        return Err(BuildError::option(
            "percentage",
            format!("expected a number between 0 and 100, got {pct}"),
        ));
    }
    Ok(Box::new(Drop {
        probability: pct / 100.0,
    }))
}

impl Filter for Drop {
    fn apply(&self, _event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        if self.probability >= 1.0 || fastrand::f64() < self.probability {
            Outcome::Drop
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Value;

    fn drop_with(pct: Option<Value>) -> BuildResult<Box<dyn Filter>> {
        let args = match pct {
            Some(v) => {
                Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("percentage", v)
            }
            None => Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
        };
        build(&args, &BuildContext::default())
    }

    #[test]
    fn drops_everything_by_default() {
        let f = drop_with(None).expect("build");
        for _ in 0..100 {
            assert_eq!(
                f.apply(&mut Event::from_message("x"), &mut FilterContext::default()),
                Outcome::Drop
            );
        }
    }

    #[test]
    fn zero_percent_keeps_everything_and_runs_no_common_options() {
        let f = drop_with(Some(Value::Integer(0))).expect("build");
        for _ in 0..100 {
            assert_eq!(
                f.apply(&mut Event::from_message("x"), &mut FilterContext::default()),
                Outcome::Failure
            );
        }
    }

    #[test]
    fn percentage_is_a_probability() {
        let f = drop_with(Some(Value::from("40"))).expect("build");
        let dropped = (0..5000)
            .filter(|_| {
                f.apply(&mut Event::from_message("x"), &mut FilterContext::default())
                    == Outcome::Drop
            })
            .count();
        // 40 % of 5000 = 2000; the bound is > 10 standard deviations wide.
        assert!((1650..2350).contains(&dropped), "dropped {dropped}");
    }

    #[test]
    fn rejects_bad_percentages() {
        for bad in [Value::Integer(101), Value::from("lots"), Value::Float(-1.0)] {
            let err = drop_with(Some(bad)).err().expect("rejected");
            assert_eq!(err.option.as_deref(), Some("percentage"));
        }
    }
}
