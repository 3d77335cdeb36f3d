//! `kv`: extracts `key=value` pairs from a field.
//!
//! The scanning regex is built once from the options exactly as Logstash's kv builds it
//! (keys and values may contain backslash-escaped characters; values may be quoted with
//! `"`, `'` or, with `include_brackets`, wrapped in `()`, `[]`, `<>`; in `lenient`
//! whitespace mode spaces around the value separator are ignored). Without the
//! `*_split_pattern` options the regex has no look-around and runs in linear time.
//! `timeout_millis` bounds one event: past it (or when the backtracking budget runs out)
//! the event is tagged `tag_on_timeout` and left unchanged.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
use fancy_regex::Regex;
use logstash_mesos_core::{Event, FieldRef, Map, Template, Value};
use std::time::{Duration, Instant};

const TRANSFORMS: &[&str] = &["lowercase", "uppercase", "capitalize"];

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Field, "the field to parse").default("message"),
    OptSpec::new(
        "target",
        OptKind::Field,
        "the field to put the pairs under (default: the event root)",
    ),
    OptSpec::new(
        "field_split",
        OptKind::String,
        "characters (a regex class) separating pairs",
    )
    .default("\" \""),
    OptSpec::new(
        "field_split_pattern",
        OptKind::String,
        "a regex separating pairs (overrides field_split)",
    ),
    OptSpec::new(
        "value_split",
        OptKind::String,
        "characters (a regex class) separating key and value",
    )
    .default("\"=\""),
    OptSpec::new(
        "value_split_pattern",
        OptKind::String,
        "a regex separating key and value (overrides value_split)",
    ),
    OptSpec::new("include_keys", OptKind::Array, "only these keys (sprintf)").default("[]"),
    OptSpec::new("exclude_keys", OptKind::Array, "never these keys (sprintf)").default("[]"),
    OptSpec::new(
        "default_keys",
        OptKind::Hash,
        "keys and values added when the source lacks them",
    )
    .default("{}"),
    OptSpec::new(
        "prefix",
        OptKind::String,
        "a string (sprintf) prepended to every key",
    )
    .default("\"\""),
    OptSpec::new(
        "trim_key",
        OptKind::String,
        "characters (a regex class) trimmed from both ends of keys",
    ),
    OptSpec::new(
        "trim_value",
        OptKind::String,
        "characters (a regex class) trimmed from both ends of values",
    ),
    OptSpec::new(
        "remove_char_key",
        OptKind::String,
        "characters (a regex class) removed from keys",
    ),
    OptSpec::new(
        "remove_char_value",
        OptKind::String,
        "characters (a regex class) removed from values",
    ),
    OptSpec::new(
        "transform_key",
        OptKind::Enum(TRANSFORMS),
        "lowercase, uppercase or capitalize keys",
    ),
    OptSpec::new(
        "transform_value",
        OptKind::Enum(TRANSFORMS),
        "lowercase, uppercase or capitalize values",
    ),
    OptSpec::new(
        "include_brackets",
        OptKind::Boolean,
        "values wrapped in (), [] or <> lose the brackets",
    )
    .default("true"),
    OptSpec::new(
        "recursive",
        OptKind::Boolean,
        "parse values for more key=value pairs",
    )
    .default("false"),
    OptSpec::new(
        "allow_duplicate_values",
        OptKind::Boolean,
        "keep repeated identical pairs",
    )
    .default("true"),
    OptSpec::new(
        "allow_empty_values",
        OptKind::Boolean,
        "keep keys whose value is empty",
    )
    .default("false"),
    OptSpec::new(
        "whitespace",
        OptKind::Enum(&["lenient", "strict"]),
        "lenient ignores spaces around value_split",
    )
    .default("lenient"),
    OptSpec::new(
        "timeout_millis",
        OptKind::Number,
        "time budget per event in ms (0: none)",
    )
    .default("30000"),
    OptSpec::new(
        "tag_on_timeout",
        OptKind::String,
        "tag added when the budget is exceeded",
    )
    .default("_kv_filter_timeout"),
    OptSpec::new(
        "tag_on_failure",
        OptKind::String,
        "tag added when the pairs cannot be set",
    )
    .default("_kv_filter_error"),
];

#[derive(Clone, Copy)]
enum Transform {
    Lower,
    Upper,
    Capitalize,
}

impl Transform {
    fn parse(args: &Args, name: &str) -> BuildResult<Option<Transform>> {
        Ok(match args.string(name).as_deref() {
            None => None,
            Some("lowercase") => Some(Transform::Lower),
            Some("uppercase") => Some(Transform::Upper),
            Some("capitalize") => Some(Transform::Capitalize),
            Some(other) => {
                return Err(BuildError::option(
                    name,
                    format!("expected one of lowercase, uppercase, capitalize, got {other:?}"),
                ))
            }
        })
    }
    fn apply(self, s: &str) -> String {
        match self {
            Transform::Lower => s.to_lowercase(),
            Transform::Upper => s.to_uppercase(),
            Transform::Capitalize => ruby::capitalize(s),
        }
    }
}

/// The compiled kv filter.
pub struct Kv {
    source: FieldRef,
    target: Option<FieldRef>,
    scan: Regex,
    value_split: Regex,
    include_keys: Vec<Template>,
    exclude_keys: Vec<Template>,
    default_keys: Vec<(String, Value)>,
    prefix: Template,
    trim_key: Option<Regex>,
    trim_value: Option<Regex>,
    remove_char_key: Option<Regex>,
    remove_char_value: Option<Regex>,
    transform_key: Option<Transform>,
    transform_value: Option<Transform>,
    recursive: bool,
    allow_duplicate_values: bool,
    allow_empty_values: bool,
    timeout: Option<Duration>,
    tag_on_timeout: String,
    tag_on_failure: String,
}

fn re(option: &str, pattern: &str) -> BuildResult<Regex> {
    ruby::compile(pattern).map_err(|e| BuildError::option(option, e))
}

fn optional(
    args: &Args,
    option: &str,
    wrap: impl Fn(&str) -> String,
) -> BuildResult<Option<Regex>> {
    args.string(option)
        .map(|s| re(option, &wrap(&s)))
        .transpose()
}

/// `(?:\\.|[^chars])+` captured: characters that are escaped or not in the class.
fn until_class(chars: &str) -> String {
    format!("((?:\\\\.|[^{chars}])+)")
}

/// Characters that are escaped or do not start a match of `pattern`.
fn until_pattern(pattern: &str) -> String {
    format!("((?:(?!{pattern})(?:\\\\.|.))+)")
}

fn quoted(open: &str, close: &str) -> String {
    format!(
        "{}{}?{}",
        regex_quote(open),
        until_class(&regex_quote(close)),
        regex_quote(close)
    )
}

fn regex_quote(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "()[]{}.*+?^$|\\-".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let field_split = args.string("field_split").unwrap_or_default();
    let value_split = args.string("value_split").unwrap_or_default();
    if value_split.is_empty() {
        return Err(BuildError::option(
            "value_split",
            "must be a non-empty string",
        ));
    }
    let fsp = args.string("field_split_pattern");
    let vsp = args.string("value_split_pattern");
    for (name, p) in [("field_split_pattern", &fsp), ("value_split_pattern", &vsp)] {
        if let Some(p) = p {
            if p.is_empty() {
                return Err(BuildError::option(name, "must be a non-empty string"));
            }
            // Checked on its own so the error names the option that is wrong.
            re(name, p)?;
        }
    }
    let fs = format!(
        "(?:{})",
        fsp.clone().unwrap_or_else(|| format!("[{field_split}]"))
    );
    let mut vs = format!(
        "(?:{})",
        vsp.clone().unwrap_or_else(|| format!("[{value_split}]"))
    );
    let whitespace = args.string("whitespace").unwrap_or_default();
    match whitespace.as_str() {
        "lenient" => vs = format!("(?: *{vs} *)"),
        "strict" => {}
        other => {
            return Err(BuildError::option(
                "whitespace",
                format!("expected lenient or strict, got {other:?}"),
            ))
        }
    }
    let key = if fsp.is_some() || vsp.is_some() {
        until_pattern(&format!("{vs}|{fs}"))
    } else {
        until_class(&format!("{value_split}{field_split}"))
    };
    let mut values = vec![quoted("\"", "\""), quoted("'", "'")];
    if args.flag("include_brackets") {
        values.extend([quoted("(", ")"), quoted("[", "]"), quoted("<", ">")]);
    }
    values.push(if fsp.is_some() {
        until_pattern(&fs)
    } else {
        until_class(&field_split)
    });
    let value = values
        .iter()
        .map(|v| format!("(?:{v})"))
        .collect::<Vec<_>>()
        .join("|");
    let scan_src = format!("{key}{vs}(?:{value})?(?:{fs}|$)");
    let option = if fsp.is_some() {
        "field_split_pattern"
    } else if vsp.is_some() {
        "value_split_pattern"
    } else {
        "field_split"
    };
    let scan = re(option, &scan_src)?;
    let value_split_re = re(
        if vsp.is_some() {
            "value_split_pattern"
        } else {
            "value_split"
        },
        &vs,
    )?;

    let timeout_ms = args.i64("timeout_millis").unwrap_or_default();
    if timeout_ms < 0 {
        return Err(BuildError::option(
            "timeout_millis",
            "must be 0 (no timeout) or a positive number",
        ));
    }
    let templates = |name: &str| {
        args.strings(name)
            .iter()
            .map(|s| Template::compile(s))
            .collect::<Vec<_>>()
    };
    Ok(Box::new(Kv {
        source: args
            .field("source")?
            .unwrap_or_else(|| FieldRef::top("message")),
        target: args.field("target")?,
        scan,
        value_split: value_split_re,
        include_keys: templates("include_keys"),
        exclude_keys: templates("exclude_keys"),
        default_keys: crate::filters::mutate::pairs(args, "default_keys")?,
        prefix: Template::compile(&args.string("prefix").unwrap_or_default()),
        trim_key: optional(args, "trim_key", |c| format!("^[{c}]+|[{c}]+$"))?,
        trim_value: optional(args, "trim_value", |c| format!("^[{c}]+|[{c}]+$"))?,
        remove_char_key: optional(args, "remove_char_key", |c| format!("[{c}]"))?,
        remove_char_value: optional(args, "remove_char_value", |c| format!("[{c}]"))?,
        transform_key: Transform::parse(args, "transform_key")?,
        transform_value: Transform::parse(args, "transform_value")?,
        recursive: args.flag("recursive"),
        allow_duplicate_values: args.flag("allow_duplicate_values"),
        allow_empty_values: args.flag("allow_empty_values"),
        timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms as u64)),
        tag_on_timeout: args.string("tag_on_timeout").unwrap_or_default(),
        tag_on_failure: args.string("tag_on_failure").unwrap_or_default(),
    }))
}

/// Why parsing stopped.
enum Abort {
    Timeout,
    Error(String),
}

/// Per-event state: the sprintf'd key lists and the deadline.
struct Scope {
    include: Vec<String>,
    exclude: Vec<String>,
    prefix: String,
    deadline: Option<Instant>,
}

fn strip(re: &Option<Regex>, s: String) -> Result<String, Abort> {
    match re {
        None => Ok(s),
        Some(r) => ruby::gsub(r, &s, "").map_err(|_| Abort::Timeout),
    }
}

impl Kv {
    fn parse(&self, text: &str, scope: &Scope, kv: &mut Map) -> Result<(), Abort> {
        // Short cut: no value separator, no pairs.
        if !self
            .value_split
            .is_match(text)
            .map_err(|_| Abort::Timeout)?
        {
            return Ok(());
        }
        for caps in self.scan.captures_iter(text) {
            let caps = caps.map_err(|_| Abort::Timeout)?;
            if scope.deadline.is_some_and(|d| Instant::now() > d) {
                return Err(Abort::Timeout);
            }
            let Some(key) = caps.get(1) else { continue };
            let value = (2..caps.len())
                .find_map(|i| caps.get(i))
                .map(|m| m.as_str());
            let value = match value {
                Some(v) if !v.is_empty() => v.to_string(),
                _ if self.allow_empty_values => String::new(),
                _ => continue,
            };
            let mut key = strip(&self.trim_key, key.as_str().to_string())?;
            key = strip(&self.remove_char_key, key)?;
            if let Some(t) = self.transform_key {
                key = t.apply(&key);
            }
            if !scope.include.is_empty() && !scope.include.contains(&key) {
                continue;
            }
            if scope.exclude.contains(&key) {
                continue;
            }
            let key = format!("{}{key}", scope.prefix);
            let mut value = strip(&self.trim_value, value)?;
            value = strip(&self.remove_char_value, value)?;
            if let Some(t) = self.transform_value {
                value = t.apply(&value);
            }
            if !self.allow_duplicate_values {
                // Ruby's `include?`: substring for a string, membership for an array.
                let dup = match kv.get(&key) {
                    Some(Value::String(s)) => s.contains(&value),
                    Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(value.as_str())),
                    _ => false,
                };
                if dup {
                    continue;
                }
            }
            let mut v = Value::String(value);
            if self.recursive {
                let mut inner = Map::default();
                if let Value::String(s) = &v {
                    self.parse(s, scope, &mut inner)?;
                }
                if !inner.is_empty() {
                    v = Value::from(inner);
                }
            }
            match kv.get_mut(&key) {
                Some(Value::Array(a)) => a.push(v),
                Some(existing) => {
                    let old = std::mem::take(existing);
                    *existing = Value::Array(vec![old, v]);
                }
                None => {
                    kv.insert(key, v);
                }
            }
        }
        Ok(())
    }

    fn collect(&self, event: &Event) -> Result<Map, Abort> {
        let scope = Scope {
            include: self.include_keys.iter().map(|t| t.render(event)).collect(),
            exclude: self.exclude_keys.iter().map(|t| t.render(event)).collect(),
            prefix: self.prefix.render(event),
            deadline: self.timeout.map(|t| Instant::now() + t),
        };
        let mut kv = Map::default();
        match event.get(&self.source) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => self.parse(s, &scope, &mut kv)?,
            Some(Value::Array(a)) => {
                for v in a {
                    match v {
                        Value::String(s) => self.parse(s, &scope, &mut kv)?,
                        other => {
                            return Err(Abort::Error(format!(
                                "cannot parse a {} element",
                                other.type_name()
                            )))
                        }
                    }
                }
            }
            Some(other) => tracing::warn!(
                kind = other.type_name(),
                "kv filter has no support for this type of data"
            ),
        }
        // Default keys first, parsed keys override them.
        let mut out: Map = self.default_keys.iter().cloned().collect();
        for (k, v) in kv {
            out.insert(k, v);
        }
        Ok(out)
    }
}

impl Filter for Kv {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let kv = match self.collect(event) {
            Ok(kv) => kv,
            Err(Abort::Timeout) => {
                event.add_tag(&self.tag_on_timeout);
                return Outcome::Failure;
            }
            Err(Abort::Error(e)) => {
                tracing::warn!(error = %e, "exception while parsing kv");
                event.add_tag(&self.tag_on_failure);
                return Outcome::Failure;
            }
        };
        if kv.is_empty() {
            return Outcome::Failure;
        }
        if let Some(t) = &self.target {
            return match event.set(t, Value::from(kv)) {
                Ok(()) => Outcome::Success,
                Err(_) => {
                    event.add_tag(&self.tag_on_failure);
                    Outcome::Failure
                }
            };
        }
        // Keys are field references, as Logstash's `event.set(k, v)` reads them; resolve all
        // before setting any so a bad key leaves the event unchanged.
        let mut sets = Vec::with_capacity(kv.len());
        for (k, v) in kv {
            let r = if k.contains(['[', ']']) {
                FieldRef::parse(&k)
            } else {
                Ok(FieldRef::top(&k))
            };
            match r {
                Ok(r) => sets.push((r, v)),
                Err(_) => {
                    event.add_tag(&self.tag_on_failure);
                    return Outcome::Failure;
                }
            }
        }
        for (r, v) in sets {
            if event.set(&r, v).is_err() {
                event.add_tag(&self.tag_on_failure);
                return Outcome::Failure;
            }
        }
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(config: &[(&str, Value)], msg: &str) -> (Event, Outcome) {
        let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS);
        for (k, v) in config {
            args = args.with(k, v.clone());
        }
        let f = build(&args, &BuildContext::default()).expect("build");
        let mut e = Event::from_message(msg);
        let out = f.apply(&mut e, &mut FilterContext::default());
        (e, out)
    }

    fn get<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
        e.get(&FieldRef::parse(k).expect("ref"))
            .and_then(Value::as_str)
    }

    #[test]
    fn quoting_and_brackets() {
        let (e, out) = kv(&[], r#"a=1 b="x y" c='z w' d=(p q) e=[r] f=<s> g=h\ i"#);
        assert_eq!(out, Outcome::Success);
        for (k, v) in [
            ("a", "1"),
            ("b", "x y"),
            ("c", "z w"),
            ("d", "p q"),
            ("e", "r"),
            ("f", "s"),
            ("g", r"h\ i"),
        ] {
            assert_eq!(get(&e, k), Some(v), "{k}");
        }
    }

    #[test]
    fn no_pairs_is_not_a_match() {
        let (e, out) = kv(&[], "nothing to see");
        assert_eq!(out, Outcome::Failure);
        assert!(e.tags().is_empty());
    }

    #[test]
    fn bad_patterns_name_the_option() {
        for (opt, bad) in [
            ("field_split_pattern", "(("),
            ("value_split_pattern", "[a"),
            ("trim_key", "]["),
            ("value_split", ""),
        ] {
            let err = build(
                &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                    .with(opt, Value::from(bad)),
                &BuildContext::default(),
            )
            .err();
            assert_eq!(err.and_then(|e| e.option).as_deref(), Some(opt), "{opt}");
        }
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("transform_key", Value::from("reverse")),
            &BuildContext::default(),
        )
        .err();
        assert_eq!(err.and_then(|e| e.option).as_deref(), Some("transform_key"));
    }

    #[test]
    fn non_string_source_and_array_source() {
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("source", Value::from("n")),
            &BuildContext::default(),
        )
        .expect("build");
        let mut e = Event::new();
        e.set(&FieldRef::top("n"), Value::Integer(3)).expect("set");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
        e.set(
            &FieldRef::top("n"),
            Value::Array(vec!["a=1".into(), "a=2 b=3".into()]),
        )
        .expect("set");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        assert_eq!(
            e.get(&FieldRef::top("a")),
            Some(&Value::Array(vec!["1".into(), "2".into()]))
        );
        e.set(
            &FieldRef::top("n"),
            Value::Array(vec!["a=1".into(), Value::Integer(1)]),
        )
        .expect("set");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
        assert!(e.has_tag("_kv_filter_error"));
    }

    #[test]
    fn bracketed_keys_are_field_references() {
        let (e, out) = kv(&[], "[a][b]=1 x[y=2");
        assert_eq!(out, Outcome::Failure, "x[y is not a valid field reference");
        assert!(e.has_tag("_kv_filter_error"));
        let (e, _) = kv(&[], "[a][b]=1");
        assert_eq!(get(&e, "[a][b]"), Some("1"));
    }

    #[test]
    fn huge_line_and_odd_utf8() {
        let line: String = (0..20_000)
            .map(|i| format!("k{i}=välue\u{0}{i}😀 "))
            .collect();
        assert!(line.len() > 300_000);
        let big = format!("{line}{}", "x".repeat(1 << 20));
        let (e, out) = kv(&[("target", Value::from("t"))], &big);
        assert_eq!(out, Outcome::Success);
        assert_eq!(get(&e, "[t][k19999]"), Some("välue\u{0}19999😀"));
    }

    #[test]
    fn pathological_pattern_ends_as_timeout_not_hang() {
        let (e, out) = kv(
            &[
                ("value_split_pattern", Value::from("(?:=+=+)+:")),
                ("timeout_millis", Value::Integer(250)),
            ],
            &format!("foo{}:bar baz{}bingo", "=".repeat(8), "=".repeat(48)),
        );
        // The look-ahead key pattern backtracks catastrophically on the `=` run; the
        // backtracking budget stops it and the event is tagged, not changed.
        assert_eq!(out, Outcome::Failure);
        assert!(e.has_tag("_kv_filter_timeout"));
        assert!(get(&e, "foo").is_none());
        let (e, out) = kv(
            &[
                ("value_split_pattern", Value::from("(?:=+=+)+:")),
                ("timeout_millis", Value::Integer(250)),
            ],
            "foo==:bar baz==:bingo",
        );
        assert_eq!(
            (out, get(&e, "foo"), get(&e, "baz")),
            (Outcome::Success, Some("bar"), Some("bingo"))
        );
    }
}
