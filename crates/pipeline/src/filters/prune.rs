//! `prune`: removes top-level fields by name or value, with whitelists and blacklists of
//! Ruby regexes.
//!
//! Logstash's behaviour, followed here: names are matched (unanchored) against
//! `whitelist_names` (a field matching none is removed) and `blacklist_names` (a field
//! matching any is removed; the default removes fields whose name still holds an
//! unresolved `%{...}`). `whitelist_values` / `blacklist_values` map a field name to a
//! regex for its value; for an array value, only the elements that fail (whitelist) or
//! match (blacklist) are removed, and the whole field when that is every element. With
//! `interpolate`, names and patterns are sprintf'd per event (otherwise `%{x}` is taken
//! literally). Only top-level fields are considered, `@timestamp` and `@version`
//! included, as in Logstash. Values that are not strings are matched by their string
//! form (Ruby would raise). The common options always run.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
use fancy_regex::Regex;
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use std::borrow::Cow;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "interpolate",
        OptKind::Boolean,
        "sprintf the names and patterns against each event",
    )
    .default("false"),
    OptSpec::new(
        "whitelist_names",
        OptKind::Array,
        "regexes; fields whose name matches none are removed",
    )
    .default("[]"),
    OptSpec::new(
        "blacklist_names",
        OptKind::Array,
        "regexes; fields whose name matches one are removed",
    )
    .default("[\"%\\\\{[^}]+\\\\}\"]"),
    OptSpec::new(
        "whitelist_values",
        OptKind::Hash,
        "field name => regex; values not matching are removed",
    )
    .default("{}"),
    OptSpec::new(
        "blacklist_values",
        OptKind::Hash,
        "field name => regex; values matching are removed",
    )
    .default("{}"),
];

/// A pattern list: compiled once, or templates rendered per event (`interpolate`).
enum Names {
    Fixed(Regex),
    Interpolated(Vec<Template>),
}

enum ValueRule {
    Fixed(String, Regex),
    Interpolated(Template, Template),
}

/// The compiled prune filter.
pub struct Prune {
    whitelist_names: Option<Names>,
    blacklist_names: Option<Names>,
    whitelist_values: Vec<ValueRule>,
    blacklist_values: Vec<ValueRule>,
}

/// Why a list of name patterns gives no regex.
#[derive(Debug, thiserror::Error)]
enum UnionError {
    /// One of the patterns does not compile alone.
    #[error(transparent)]
    Pattern(#[from] ruby::RegexError),
    /// Each compiles, their union does not.
    #[error("invalid regular expression: {0}")]
    Union(Box<fancy_regex::Error>),
}

/// Ruby's `Regexp.union` of the given patterns.
fn union(patterns: &[String]) -> Result<Regex, UnionError> {
    let joined = patterns
        .iter()
        .map(|p| format!("(?:{})", ruby::translate(p)))
        .collect::<Vec<_>>()
        .join("|");
    // Each pattern must compile alone too, so an error names the culprit.
    for p in patterns {
        ruby::compile(p)?;
    }
    fancy_regex::RegexBuilder::new(&format!("(?m){joined}"))
        .backtrack_limit(ruby::BACKTRACK_LIMIT)
        .build()
        .map_err(|e| UnionError::Union(Box::new(e)))
}

fn names(
    args: &Args,
    name: &str,
    default: &[&str],
    interpolate: bool,
) -> BuildResult<Option<Names>> {
    let list = if args.contains(name) {
        args.strings(name)
    } else {
        default.iter().map(|s| s.to_string()).collect()
    };
    if list.is_empty() {
        return Ok(None);
    }
    Ok(Some(if interpolate {
        Names::Interpolated(list.iter().map(|s| Template::compile(s)).collect())
    } else {
        Names::Fixed(union(&list).map_err(|e| BuildError::option(name, e))?)
    }))
}

fn values(args: &Args, name: &str, interpolate: bool) -> BuildResult<Vec<ValueRule>> {
    let mut out = Vec::new();
    for (k, v) in args.hash(name) {
        let pat = v.to_logstash_string();
        out.push(if interpolate {
            ValueRule::Interpolated(Template::compile(&k), Template::compile(&pat))
        } else {
            let re = ruby::compile(&pat).map_err(|e| BuildError::option(name, e))?;
            ValueRule::Fixed(k, re)
        });
    }
    Ok(out)
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let interpolate = args.flag("interpolate");
    Ok(Box::new(Prune {
        whitelist_names: names(args, "whitelist_names", &[], interpolate)?,
        blacklist_names: names(args, "blacklist_names", &["%\\{[^}]+\\}"], interpolate)?,
        whitelist_values: values(args, "whitelist_values", interpolate)?,
        blacklist_values: values(args, "blacklist_values", interpolate)?,
    }))
}

fn matches(re: &Regex, s: &str) -> bool {
    // A pattern that blows the backtracking budget counts as no match.
    re.is_match(s).unwrap_or(false)
}

/// What to remove: a whole field, or some elements of an array field.
enum Removal {
    Field(String),
    Elements(String, Vec<Value>),
}

impl Prune {
    fn names_regex<'a>(&self, n: &'a Names, event: &Event) -> Option<Cow<'a, Regex>> {
        match n {
            Names::Fixed(re) => Some(Cow::Borrowed(re)),
            Names::Interpolated(ts) => {
                let list: Vec<String> = ts.iter().map(|t| t.render(event)).collect();
                match union(&list) {
                    Ok(re) => Some(Cow::Owned(re)),
                    Err(e) => {
                        tracing::warn!(error = %e, "prune: interpolated pattern is invalid");
                        None
                    }
                }
            }
        }
    }

    fn value_rules(
        &self,
        rules: &[ValueRule],
        event: &Event,
        whitelist: bool,
        out: &mut Vec<Removal>,
    ) {
        for rule in rules {
            let (key, re) = match rule {
                ValueRule::Fixed(k, re) => (k.clone(), Cow::Borrowed(re)),
                ValueRule::Interpolated(k, p) => {
                    let key = k.render(event);
                    match ruby::compile(&p.render(event)) {
                        Ok(re) => (key, Cow::Owned(re)),
                        Err(e) => {
                            tracing::warn!(error = %e, "prune: interpolated pattern is invalid");
                            continue;
                        }
                    }
                }
            };
            // Remove a value when whitelisted and not matching, or blacklisted and matching.
            let drop = |v: &Value| matches(&re, &ruby::to_s(v)) != whitelist;
            match event.fields().get(key.as_str()) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => {}
                Some(Value::Array(a)) => {
                    let gone: Vec<Value> = a.iter().filter(|x| drop(x)).cloned().collect();
                    if gone.is_empty() {
                    } else if gone.len() == a.len() {
                        out.push(Removal::Field(key));
                    } else {
                        out.push(Removal::Elements(key, gone));
                    }
                }
                Some(v) => {
                    if drop(v) {
                        out.push(Removal::Field(key));
                    }
                }
            }
        }
    }
}

impl Filter for Prune {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let mut removals = Vec::new();
        if let Some(n) = &self.whitelist_names {
            if let Some(re) = self.names_regex(n, event) {
                for k in event.fields().keys() {
                    if !matches(&re, k) {
                        removals.push(Removal::Field(k.to_string()));
                    }
                }
            }
        }
        if let Some(n) = &self.blacklist_names {
            if let Some(re) = self.names_regex(n, event) {
                for k in event.fields().keys() {
                    if matches(&re, k) {
                        removals.push(Removal::Field(k.to_string()));
                    }
                }
            }
        }
        self.value_rules(&self.whitelist_values, event, true, &mut removals);
        self.value_rules(&self.blacklist_values, event, false, &mut removals);
        for r in removals {
            match r {
                Removal::Field(k) => {
                    event.remove(&FieldRef::top(&k));
                }
                Removal::Elements(k, gone) => {
                    if let Some(Value::Array(a)) = event.get_mut(&FieldRef::top(&k)) {
                        // Ruby's `Array#-`: every element equal to a removed one goes.
                        a.retain(|x| !gone.contains(x));
                    }
                }
            }
        }
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: Args, fields: &[(&str, Value)]) -> Event {
        let f = build(&args, &BuildContext::default()).unwrap();
        let mut e = Event::new();
        for (k, v) in fields {
            e.set(&FieldRef::top(k), v.clone()).unwrap();
        }
        f.apply(&mut e, &mut FilterContext::default());
        e
    }

    fn has(e: &Event, k: &str) -> bool {
        e.get(&FieldRef::top(k)).is_some()
    }

    #[test]
    fn default_removes_unresolved_references() {
        let e = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &[("%{x}", "a".into()), ("ok", "b".into())],
        );
        assert!(!has(&e, "%{x}") && has(&e, "ok"));
    }

    #[test]
    fn whitelist_names_keep_only_matches() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("whitelist_names", Value::Array(vec!["^a".into()]));
        let e = run(args, &[("abc", 1.into()), ("b", 2.into())]);
        assert!(has(&e, "abc") && !has(&e, "b"));
    }

    #[test]
    fn array_values_lose_only_matching_elements() {
        let mut m = logstash_mesos_core::Map::new();
        m.insert("s", Value::from("^2"));
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("blacklist_values", Value::Object(Box::new(m)));
        let list = Value::Array(vec!["200".into(), "404".into(), "201".into(), 5.into()]);
        let e = run(args, &[("s", list)]);
        assert_eq!(
            e.get(&FieldRef::top("s")),
            Some(&Value::Array(vec!["404".into(), 5.into()]))
        );
    }

    #[test]
    fn bad_regex_is_a_config_error() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("blacklist_names", Value::Array(vec!["(".into()]));
        let err = build(&args, &BuildContext::default()).err().unwrap();
        assert_eq!(err.option.as_deref(), Some("blacklist_names"));
        // Interpolated patterns are checked per event: an invalid one is skipped.
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("interpolate", true.into())
            .with("whitelist_names", Value::Array(vec!["%{p}".into()]));
        let e = run(args, &[("p", "(".into()), ("q", 1.into())]);
        assert!(has(&e, "q"));
    }
}
