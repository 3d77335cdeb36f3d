//! `syslog_pri`: decodes a syslog PRI value into facility and severity codes and labels.
//!
//! Logstash's behaviour, followed here: the priority is read from `syslog_pri_field_name`
//! (legacy default `syslog_pri`, ECS default `[log][syslog][priority]`); a missing value
//! means 13 (user-level notice); strings go through Ruby's `to_i` (`"137"` is 137, `"x"`
//! is 0) and arrays use their first element. Severity is `pri & 7`, facility `pri >> 3`.
//! The codes are always set; with `use_labels` the labels are looked up and a facility
//! beyond the label table tags the event `_syslogpriparsefailure` (codes kept, labels not
//! set). Fields: legacy `syslog_facility_code`, `syslog_severity_code`, `syslog_facility`,
//! `syslog_severity`; ECS `[log][syslog][facility][code|name]`,
//! `[log][syslog][severity][code|name]`. The common options always run.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby::ruby_to_i;
use logstash_mesos_core::{Event, FieldRef, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "use_labels",
        OptKind::Boolean,
        "also set the facility and severity names",
    )
    .default("true"),
    OptSpec::new(
        "syslog_pri_field_name",
        OptKind::Field,
        "the field holding the PRI (legacy: syslog_pri, ECS: [log][syslog][priority])",
    ),
    OptSpec::new(
        "facility_labels",
        OptKind::Array,
        "facility names, indexed by code",
    )
    .default("[\"kernel\", \"user-level\", \"mail\", \"daemon\", \"security/authorization\", \"syslogd\", \"line printer\", \"network news\", \"uucp\", \"clock\", \"security/authorization\", \"ftp\", \"ntp\", \"log audit\", \"log alert\", \"clock\", \"local0\", \"local1\", \"local2\", \"local3\", \"local4\", \"local5\", \"local6\", \"local7\"]"),
    OptSpec::new(
        "severity_labels",
        OptKind::Array,
        "severity names, indexed by code",
    )
    .default("[\"emergency\", \"alert\", \"critical\", \"error\", \"warning\", \"notice\", \"informational\", \"debug\"]"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "field names: disabled = syslog_*, v1/v8 = [log][syslog][...]",
    ),
];

pub const FAILURE_TAG: &str = "_syslogpriparsefailure";

const FACILITIES: &[&str] = &[
    "kernel",
    "user-level",
    "mail",
    "daemon",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "uucp",
    "clock",
    "security/authorization",
    "ftp",
    "ntp",
    "log audit",
    "log alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

const SEVERITIES: &[&str] = &[
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// The compiled syslog_pri filter.
pub struct SyslogPri {
    use_labels: bool,
    source: FieldRef,
    facility_labels: Vec<String>,
    severity_labels: Vec<String>,
    facility_code: FieldRef,
    severity_code: FieldRef,
    facility_label: FieldRef,
    severity_label: FieldRef,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let ecs = args.ecs(ctx)?.enabled();
    let f = |legacy: &str, ecs_path: &[&str]| {
        if ecs {
            FieldRef::from_path(ecs_path.iter().copied())
        } else {
            FieldRef::top(legacy)
        }
    };
    let labels = |name: &str, default: &[&str]| {
        if args.contains(name) {
            args.strings(name)
        } else {
            default.iter().map(|s| s.to_string()).collect()
        }
    };
    Ok(Box::new(SyslogPri {
        use_labels: args.flag("use_labels"),
        source: match args.field("syslog_pri_field_name")? {
            Some(r) => r,
            None => f("syslog_pri", &["log", "syslog", "priority"]),
        },
        facility_labels: labels("facility_labels", FACILITIES),
        severity_labels: labels("severity_labels", SEVERITIES),
        facility_code: f(
            "syslog_facility_code",
            &["log", "syslog", "facility", "code"],
        ),
        severity_code: f(
            "syslog_severity_code",
            &["log", "syslog", "severity", "code"],
        ),
        facility_label: f("syslog_facility", &["log", "syslog", "facility", "name"]),
        severity_label: f("syslog_severity", &["log", "syslog", "severity", "name"]),
    }))
}

/// Ruby's `to_i` of the field value; `None` when Ruby would raise (a hash, a boolean).
fn priority(v: Option<&Value>) -> Option<i64> {
    let v = match v {
        None | Some(Value::Null) => return Some(13),
        Some(Value::Array(a)) => match a.first() {
            // `nil.to_i` is 0.
            None | Some(Value::Null) => return Some(0),
            Some(first) => first,
        },
        Some(v) => v,
    };
    match v {
        Value::Integer(i) => Some(*i),
        Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        Value::String(s) => match ruby_to_i(s) {
            Value::Integer(i) => Some(i),
            // Beyond 64 bits: facility is far past any label either way.
            _ => Some(i64::MAX),
        },
        Value::BigInteger(_) => Some(i64::MAX),
        _ => None,
    }
}

/// Ruby array indexing: negative indexes count from the end.
fn label(labels: &[String], code: i64) -> Option<&String> {
    let idx = if code < 0 {
        labels.len() as i64 + code
    } else {
        code
    };
    usize::try_from(idx).ok().and_then(|i| labels.get(i))
}

impl Filter for SyslogPri {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let Some(pri) = priority(event.get(&self.source)) else {
            tracing::warn!(field = %self.source, "syslog_pri: priority is not a number");
            event.add_tag(FAILURE_TAG);
            return Outcome::Failure;
        };
        let severity = pri & 7;
        let facility = pri >> 3;
        let _ = event.set(&self.severity_code, Value::Integer(severity));
        let _ = event.set(&self.facility_code, Value::Integer(facility));
        if self.use_labels {
            if facility > self.facility_labels.len() as i64 - 1 {
                tracing::debug!(facility, "invalid facility code for event");
                event.add_tag(FAILURE_TAG);
            } else {
                if let Some(l) = label(&self.facility_labels, facility) {
                    let _ = event.set(&self.facility_label, Value::String(l.clone()));
                }
                if let Some(l) = label(&self.severity_labels, severity) {
                    let _ = event.set(&self.severity_label, Value::String(l.clone()));
                }
            }
        }
        // Logstash calls filter_matched whatever happened.
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Ecs;

    fn run(ecs: Ecs, args: Args, input: Option<Value>) -> Event {
        let ctx = BuildContext {
            ecs,
            ..BuildContext::default()
        };
        let f = build(&args, &ctx).unwrap();
        let mut e = Event::new();
        if let Some(v) = input {
            let r = if ecs.enabled() {
                FieldRef::parse("[log][syslog][priority]").unwrap()
            } else {
                FieldRef::top("syslog_pri")
            };
            e.set(&r, v).unwrap();
        }
        f.apply(&mut e, &mut FilterContext::default());
        e
    }

    fn get(e: &Event, r: &str) -> Option<Value> {
        e.get(&FieldRef::parse(r).unwrap()).cloned()
    }

    #[test]
    fn default_priority_is_user_notice() {
        let e = run(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            None,
        );
        assert_eq!(get(&e, "syslog_facility"), Some("user-level".into()));
        assert_eq!(get(&e, "syslog_severity"), Some("notice".into()));
    }

    #[test]
    fn ecs_fields_and_strings() {
        let e = run(
            Ecs::V8,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Some("137".into()),
        );
        assert_eq!(get(&e, "[log][syslog][facility][code]"), Some(17.into()));
        assert_eq!(
            get(&e, "[log][syslog][severity][name]"),
            Some("alert".into())
        );
    }

    #[test]
    fn bad_input() {
        // Out of range: codes set, labels not, tagged.
        let e = run(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Some(193.into()),
        );
        assert_eq!(get(&e, "syslog_facility_code"), Some(24.into()));
        assert!(get(&e, "syslog_facility").is_none());
        assert!(e.has_tag(FAILURE_TAG));
        // Not a number: Ruby's to_i gives 0 (kernel emergency).
        let e = run(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Some("junk".into()),
        );
        assert_eq!(get(&e, "syslog_facility"), Some("kernel".into()));
        // A hash cannot be a priority.
        let e = run(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Some(Value::Object(Box::default())),
        );
        assert!(e.has_tag(FAILURE_TAG));
        assert!(get(&e, "syslog_facility_code").is_none());
        // Negative: Ruby indexes labels from the end.
        let e = run(
            Ecs::Disabled,
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Some((-1).into()),
        );
        assert_eq!(get(&e, "syslog_severity"), Some("debug".into()));
        assert_eq!(get(&e, "syslog_facility"), Some("local7".into()));
    }

    #[test]
    fn labels_off_means_no_tag() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("use_labels", false.into());
        let e = run(Ecs::Disabled, args, Some(193.into()));
        assert!(e.tags().is_empty());
    }
}
