//! `dissect`: splits a field by a sequence of literal delimiters (no regex).
//!
//! A mapping such as `%{ts} %{+ts} [%{pid}] %{?skip}: %{&key} %{msg}` is compiled once into
//! fields and the delimiters between them. Field prefixes: none (normal), `?` or empty
//! (skip), `+` (append, with `/N` ordering), `&` (indirect: the key is another field's
//! value); the `->` suffix skips repeated delimiters after the field (padding). Values are
//! written after the whole line matched, normal fields first, then appends (by ordinal),
//! then indirects, as the Java dissector does. A line that does not match the delimiters
//! gets `tag_on_failure`; `convert_datatype` converts to `int`/`float` afterwards and tags
//! `_dataconversion{nullvalue,uncoercible}_<field>_<type>` when it cannot.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
use logstash_mesos_core::event::SetError;
use logstash_mesos_core::{Event, FieldRef, FieldRefError, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "mapping",
        OptKind::Hash,
        "field => dissect pattern (%{a} %{+a} %{?skip} %{&key} %{pad->})",
    )
    .default("{}"),
    OptSpec::new(
        "convert_datatype",
        OptKind::Hash,
        "field => int or float, applied after dissection",
    )
    .default("{}"),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when a mapping does not match",
    )
    .default("[\"_dissectfailure\"]"),
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Normal(FieldRef),
    Skip,
    /// Ordering key (`/N`, default 0).
    Append(FieldRef, u32),
    Indirect,
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    kind: Kind,
    /// Index into `Dissector::delims` of the delimiter before / after the field.
    prev: usize,
    next: Option<usize>,
}

#[derive(Clone, Debug)]
struct Delim {
    text: String,
    /// Set by `->` on the field before it: repeated occurrences are skipped.
    greedy: bool,
}

/// One compiled mapping.
#[derive(Clone, Debug)]
struct Dissector {
    fields: Vec<Field>,
    delims: Vec<Delim>,
    /// Indexes of the fields to write, in writing order.
    saveable: Vec<usize>,
    first_offset: usize,
}

/// A `mapping` string that cannot be compiled.
#[derive(Debug, thiserror::Error)]
enum MappingError {
    #[error("the mapping string cannot be empty")]
    Empty,
    #[error("mapping {0:?} has no %{{...}} field")]
    NoField(String),
    #[error("field %{{{text}}}: {source}")]
    FieldRef { text: String, source: FieldRefError },
    #[error("field %{{{0}}} cannot use both the append and the indirect prefix")]
    AppendAndIndirect(String),
    #[error("field %{{{0}}}: ordinal too large")]
    OrdinalTooLarge(String),
    #[error("a field cannot be a prefix on its own without further text")]
    BarePrefix,
}

/// Why a matching line could not be written into the event.
#[derive(Debug, thiserror::Error)]
enum DissectError {
    #[error(transparent)]
    Set(#[from] SetError),
    /// An indirect field's key is no field reference.
    #[error(transparent)]
    FieldRef(#[from] FieldRefError),
}

impl Dissector {
    fn compile(mapping: &str) -> Result<Dissector, MappingError> {
        if mapping.is_empty() {
            return Err(MappingError::Empty);
        }
        let mut raw: Vec<(String, String)> = Vec::new(); // (delimiter before, field text)
        let mut rest = mapping;
        while let Some(open) = rest.find("%{") {
            let Some(close) = rest[open + 2..].find('}') else {
                break;
            };
            raw.push((
                rest[..open].to_string(),
                rest[open + 2..open + 2 + close].to_string(),
            ));
            rest = &rest[open + 2 + close + 1..];
        }
        if raw.is_empty() {
            return Err(MappingError::NoField(mapping.to_string()));
        }
        // Text after the last field becomes a delimiter followed by a hidden skip field.
        let trailing = mapping.rfind('}').map_or("", |i| &mapping[i + 1..]);
        if !trailing.is_empty() {
            raw.push((trailing.to_string(), "?auto_added_skip".to_string()));
        }
        let mut delims = Vec::with_capacity(raw.len());
        let mut fields = Vec::with_capacity(raw.len());
        for (i, (delim, text)) in raw.iter().enumerate() {
            delims.push(Delim {
                text: delim.clone(),
                greedy: false,
            });
            let text = text.strip_suffix("->").unwrap_or(text);
            let (name, kind) = parse_field(text)?;
            fields.push(Field {
                name,
                kind,
                prev: i,
                next: (i + 1 < raw.len()).then_some(i + 1),
            });
        }
        // `->` makes the delimiter after the field skip its repetitions (padding).
        for (i, (_, text)) in raw.iter().enumerate() {
            if text.ends_with("->") && i + 1 < delims.len() {
                delims[i + 1].greedy = true;
            }
        }
        let first_offset = raw[0].0.len();
        let mut saveable: Vec<usize> = (0..fields.len())
            .filter(|&i| fields[i].kind != Kind::Skip)
            .collect();
        let rank = |f: &Field| match f.kind {
            Kind::Normal(_) => 1u64,
            Kind::Append(_, n) => 100 + u64::from(n),
            Kind::Indirect => 100_000,
            Kind::Skip => 0,
        };
        saveable.sort_by_key(|&i| rank(&fields[i]));
        Ok(Dissector {
            fields,
            delims,
            saveable,
            first_offset,
        })
    }

    /// The (start, len) byte span of every field, or `None` when the line does not match.
    fn spans(&self, src: &str) -> Option<Vec<(usize, usize)>> {
        if src.is_empty() {
            return None;
        }
        let find = |d: &Delim, from: usize| -> Option<usize> {
            if d.text.is_empty() {
                return None;
            }
            src.get(from..)
                .and_then(|s| s.find(&d.text))
                .map(|p| p + from)
        };
        let mut spans = vec![(0usize, 0usize); self.fields.len()];
        let (mut left, mut start) = (0usize, 0usize);
        let last = self.fields.len() - 1;
        for (idx, f) in self.fields.iter().enumerate() {
            // Move past the delimiter before the field.
            let prev = &self.delims[f.prev];
            if prev.greedy {
                // The first occurrence was consumed as the previous field's end; skip
                // the repetitions (padding) that follow it.
                while find(prev, left) == Some(left) {
                    left += prev.text.len();
                }
            } else if left == 0 && self.first_offset > 0 {
                // The line must start with the mapping's leading delimiter.
                if find(prev, 0) != Some(0) {
                    return None;
                }
                left = prev.text.len();
            }
            start = left;
            if idx == last {
                break;
            }
            let next = &self.delims[f.next?];
            let pos = find(next, left)?;
            let mut len = 0;
            if pos > 0 {
                len = pos - left;
                left = pos + next.text.len();
            }
            spans[idx] = (start, len);
        }
        spans[last] = (start, src.len() - start);
        Some(spans)
    }

    /// Dissects `src` into `event`; false when the line does not match.
    fn dissect(&self, src: &str, event: &mut Event) -> Result<bool, DissectError> {
        let Some(spans) = self.spans(src) else {
            return Ok(false);
        };
        let value = |i: usize| -> &str {
            let (s, l) = spans[i];
            src.get(s..s + l).unwrap_or("")
        };
        for &i in &self.saveable {
            let f = &self.fields[i];
            match &f.kind {
                Kind::Normal(r) => event.set(r, Value::from(value(i)))?,
                Kind::Append(r, _) => {
                    let v = match event.get(r) {
                        Some(old) => {
                            let join = match self.delims[f.prev].text.as_str() {
                                "" => " ",
                                d => d,
                            };
                            format!("{}{join}{}", ruby::to_s(old), value(i))
                        }
                        None => value(i).to_string(),
                    };
                    event.set(r, Value::String(v))?;
                }
                Kind::Indirect => {
                    let key = match FieldRef::parse(&f.name)
                        .ok()
                        .and_then(|r| event.get(&r).cloned())
                    {
                        Some(v) => ruby::to_s(&v),
                        None => self
                            .fields
                            .iter()
                            .enumerate()
                            .find(|(j, g)| *j != i && g.name == f.name)
                            .map(|(j, _)| value(j).to_string())
                            .unwrap_or_default(),
                    };
                    if !key.is_empty() {
                        let r = FieldRef::parse(&key)?;
                        event.set(&r, Value::from(value(i)))?;
                    }
                }
                Kind::Skip => {}
            }
        }
        Ok(true)
    }
}

fn parse_field(text: &str) -> Result<(String, Kind), MappingError> {
    let field_ref = |n: &str| {
        FieldRef::parse(n).map_err(|source| MappingError::FieldRef {
            text: text.to_string(),
            source,
        })
    };
    if text.is_empty() {
        return Ok((String::new(), Kind::Skip));
    }
    if let Some(n) = text.strip_prefix('?') {
        return Ok((n.to_string(), Kind::Skip));
    }
    if text.starts_with("+&") || text.starts_with("&+") {
        return Err(MappingError::AppendAndIndirect(text.to_string()));
    }
    if let Some(n) = text.strip_prefix('+') {
        let (name, ord) = match n.rsplit_once('/') {
            Some((name, o)) if o.chars().all(|c| c.is_ascii_digit()) && !o.is_empty() => (
                name,
                o.parse()
                    .map_err(|_| MappingError::OrdinalTooLarge(text.to_string()))?,
            ),
            _ => (n, 0),
        };
        if name.is_empty() {
            return Err(MappingError::BarePrefix);
        }
        return Ok((name.to_string(), Kind::Append(field_ref(name)?, ord)));
    }
    if let Some(n) = text.strip_prefix('&') {
        if n.is_empty() {
            return Err(MappingError::BarePrefix);
        }
        return Ok((n.to_string(), Kind::Indirect));
    }
    Ok((text.to_string(), Kind::Normal(field_ref(text)?)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Int,
    Float,
}

/// The compiled dissect filter.
pub struct Dissect {
    mappings: Vec<(FieldRef, Dissector)>,
    conversions: Vec<(String, FieldRef, Target)>,
    tag_on_failure: Vec<String>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let mut mappings = Vec::new();
    for (k, v) in args.hash("mapping") {
        let pattern = v.to_logstash_string();
        if pattern.is_empty() {
            continue;
        }
        let src = FieldRef::parse(&k).map_err(|e| BuildError::option("mapping", e.to_string()))?;
        let d = Dissector::compile(&pattern).map_err(|e| BuildError::option("mapping", e))?;
        mappings.push((src, d));
    }
    let mut conversions = Vec::new();
    for (k, v) in args.hash("convert_datatype") {
        let ty = match v.to_logstash_string().as_str() {
            "int" => Target::Int,
            "float" => Target::Float,
            other => {
                return Err(BuildError::option(
                    "convert_datatype",
                    format!("unknown type {other:?} for {k:?}, expected int or float"),
                ))
            }
        };
        let r = FieldRef::parse(&k)
            .map_err(|e| BuildError::option("convert_datatype", e.to_string()))?;
        conversions.push((k, r, ty));
    }
    let tag_on_failure = if args.contains("tag_on_failure") {
        args.strings("tag_on_failure")
    } else {
        vec!["_dissectfailure".into()]
    };
    Ok(Box::new(Dissect {
        mappings,
        conversions,
        tag_on_failure,
    }))
}

/// Java's `Double.parseDouble` (surrounding whitespace allowed).
fn java_double(s: &str) -> Option<f64> {
    let t = s.trim().trim_end_matches(['d', 'D', 'f', 'F']);
    match t {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E')) =>
        {
            None
        }
        _ => t.parse().ok(),
    }
}

fn convert(v: &Value, ty: Target) -> Option<Value> {
    let s = match v {
        Value::Integer(i) if ty == Target::Int => return Some(Value::Integer(*i)),
        Value::Null => return None,
        other => ruby::to_s(other),
    };
    match ty {
        Target::Float => java_double(&s).map(Value::Float),
        Target::Int => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Some(Value::Integer(i));
            }
            // An integer beyond 64 bits is kept exactly, as Ruby's Integer() does.
            let (neg, digits) = ruby::split_sign(t);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return Some(Value::integer_from_decimal(neg, digits));
            }
            let f = java_double(&s)?;
            (f.is_finite() && f.trunc().abs() < 9.2e18).then(|| Value::Integer(f.trunc() as i64))
        }
    }
}

impl Filter for Dissect {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        for (src, d) in &self.mappings {
            let text = match event.get(src) {
                None => {
                    tracing::warn!(field = %src, "dissector mapping, key not found in event");
                    continue;
                }
                Some(Value::String(s)) => s.clone(),
                Some(other) => ruby::to_s(other),
            };
            match d.dissect(&text, event) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    for t in &self.tag_on_failure {
                        event.add_tag(t);
                    }
                    return Outcome::Failure;
                }
            }
        }
        for (name, r, ty) in &self.conversions {
            let ty_name = if *ty == Target::Int { "int" } else { "float" };
            let current = event.get(r).cloned().unwrap_or(Value::Null);
            match convert(&current, *ty) {
                Some(v) => {
                    let _ = event.set(r, v);
                }
                None if current.is_null() => {
                    event.add_tag(&format!("_dataconversionnullvalue_{name}_{ty_name}"))
                }
                None => event.add_tag(&format!("_dataconversionuncoercible_{name}_{ty_name}")),
            }
        }
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dissect(mapping: &str, msg: &str) -> Option<Event> {
        let d = Dissector::compile(mapping).expect("compile");
        let mut e = Event::new();
        d.dissect(msg, &mut e).expect("no error").then_some(e)
    }

    fn s<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
        e.get(&FieldRef::parse(k).expect("ref"))
            .and_then(Value::as_str)
    }

    #[test]
    fn append_ordering_indirect_and_padding() {
        let e = dissect("%{+key/3} %{+key/1} %{+key/2}", "1 2 3").expect("match");
        assert_eq!(s(&e, "key"), Some("2 3 1"));
        let e = dissect("%{a} %{b->} %{c}", "foo bar   baz").expect("match");
        assert_eq!(
            (s(&e, "a"), s(&e, "b"), s(&e, "c")),
            (Some("foo"), Some("bar"), Some("baz"))
        );
        let e = dissect("%{?k}=%{&k}", "cpu=95").expect("match");
        assert_eq!(s(&e, "cpu"), Some("95"));
        assert!(s(&e, "k").is_none());
    }

    #[test]
    fn mismatches() {
        assert!(
            dissect("%{a}%{b} %{c}", "foo bar   baz").is_none(),
            "adjacent fields never match"
        );
        assert!(
            dissect("[%{a}]", "x[y]").is_none(),
            "the leading delimiter must start the line"
        );
        assert!(dissect("%{a}|%{b}", "no bar here").is_none());
        assert!(dissect("%{a} %{b}", "").is_none());
        assert!(dissect("/var/%{key}/log", "/var/foobar/log").is_some());
    }

    #[test]
    fn bad_mappings_are_config_errors() {
        for bad in ["", "no fields", "%{+&x} %{y}", "%{+} %{y}", "%{[bad} x"] {
            let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with(
                "mapping",
                serde_json::from_str(&format!("{{\"message\":{bad:?}}}")).expect("json"),
            );
            let r = build(&args, &BuildContext::default());
            if bad.is_empty() {
                assert!(r.is_ok(), "an empty mapping is ignored as in Logstash");
            } else {
                assert_eq!(
                    r.err().and_then(|e| e.option).as_deref(),
                    Some("mapping"),
                    "{bad:?}"
                );
            }
        }
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with(
            "convert_datatype",
            serde_json::from_str(r#"{"a":"bool"}"#).expect("json"),
        );
        assert_eq!(
            build(&args, &BuildContext::default())
                .err()
                .and_then(|e| e.option)
                .as_deref(),
            Some("convert_datatype")
        );
    }

    #[test]
    fn non_string_huge_and_multibyte_sources() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with(
                "mapping",
                serde_json::from_str(r#"{"n":"%{a}.%{b}","big":"%{x}é%{y}"}"#).expect("json"),
            )
            .with(
                "convert_datatype",
                serde_json::from_str(r#"{"a":"int","y":"int"}"#).expect("json"),
            );
        let f = build(&args, &BuildContext::default()).expect("build");
        let mut e = Event::new();
        e.set(&FieldRef::top("n"), Value::Float(3.25)).expect("set");
        e.set(
            &FieldRef::top("big"),
            Value::String(format!("{}é{}", "z".repeat(1 << 20), "ü")),
        )
        .expect("set");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        assert_eq!(e.get(&FieldRef::top("a")), Some(&Value::Integer(3)));
        assert_eq!(s(&e, "b"), Some("25"));
        assert_eq!(s(&e, "x").map(str::len), Some(1 << 20));
        assert!(e.has_tag("_dataconversionuncoercible_y_int"));
    }
}
