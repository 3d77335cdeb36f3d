//! `mutate`: rename, replace, convert and edit fields.
//!
//! The operations always run in Logstash's fixed order, whatever order the config lists
//! them in: coerce, rename, update, replace, convert, gsub, uppercase, capitalize,
//! lowercase, strip, split, join, merge, copy. An operation that raises in Logstash
//! (an uncoercible `convert`, `strip` on a non-string array element, an invalid field
//! reference built by sprintf) stops the filter and tags the event with
//! `tag_on_failure`; what already ran stays applied, as in Logstash.

mod convert;

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
pub use convert::{Conversion, ConvertError};
use fancy_regex::Regex;
use logstash_mesos_core::event::SetError;
use logstash_mesos_core::{Event, FieldRef, FieldRefError, Template, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "coerce",
        OptKind::Hash,
        "field => default: sets the default (sprintf) when the field exists but is null",
    ),
    OptSpec::new(
        "rename",
        OptKind::Hash,
        "old => new: renames fields (both sides sprintf)",
    ),
    OptSpec::new(
        "update",
        OptKind::Hash,
        "field => value: replaces the value (sprintf) only if the field exists",
    ),
    OptSpec::new(
        "replace",
        OptKind::Hash,
        "field => value: sets the field to the value (sprintf)",
    ),
    OptSpec::new(
        "convert",
        OptKind::Hash,
        "field => type: integer, float, integer_eu, float_eu, string or boolean",
    ),
    OptSpec::new(
        "gsub",
        OptKind::Array,
        "[field, regex, replacement, ...]: regex replacement in strings",
    ),
    OptSpec::new("uppercase", OptKind::Array, "fields to upper-case"),
    OptSpec::new("capitalize", OptKind::Array, "fields to capitalize"),
    OptSpec::new("lowercase", OptKind::Array, "fields to lower-case"),
    OptSpec::new(
        "strip",
        OptKind::Array,
        "fields to strip of leading and trailing whitespace",
    ),
    OptSpec::new(
        "split",
        OptKind::Hash,
        "field => separator: splits a string into an array",
    ),
    OptSpec::new(
        "join",
        OptKind::Hash,
        "field => separator: joins an array into a string",
    ),
    OptSpec::new(
        "merge",
        OptKind::Hash,
        "dest => added: appends the added field's values to dest",
    ),
    OptSpec::new(
        "copy",
        OptKind::Hash,
        "source => dest: copies a field, overwriting dest",
    ),
    OptSpec::new(
        "tag_on_failure",
        OptKind::String,
        "tag added when an operation fails",
    )
    .default("_mutate_error"),
];

/// A `gsub` needle: compiled once, or (when it contains `%{`) rendered and compiled per
/// event as Logstash does.
enum Needle {
    Static(Regex),
    Dynamic(Template),
}

struct Gsub {
    field: FieldRef,
    needle: Needle,
    replacement: Template,
}

/// The compiled mutate filter.
pub struct Mutate {
    coerce: Vec<(FieldRef, Template)>,
    rename: Vec<(Template, Template)>,
    update: Vec<(FieldRef, Template)>,
    replace: Vec<(FieldRef, Template)>,
    convert: Vec<(FieldRef, Conversion)>,
    gsub: Vec<Gsub>,
    uppercase: Vec<FieldRef>,
    capitalize: Vec<FieldRef>,
    lowercase: Vec<FieldRef>,
    strip: Vec<FieldRef>,
    split: Vec<(FieldRef, String)>,
    join: Vec<(FieldRef, String)>,
    merge: Vec<(FieldRef, Vec<FieldRef>)>,
    copy: Vec<(FieldRef, FieldRef)>,
    tag_on_failure: String,
    /// The keys of the common `add_field`: Logstash runs them inside mutate's rescue, so
    /// a key that is not a valid field reference tags the event `tag_on_failure`.
    add_field_keys: Vec<Template>,
}

/// The (key, value) pairs of a hash option; an even-length array `[k, v, ...]` is read
/// pairwise as Logstash does.
pub(crate) fn pairs(args: &Args, name: &str) -> BuildResult<Vec<(String, Value)>> {
    match args.value(name) {
        None => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
        Some(Value::Array(a)) if a.len() % 2 == 0 => Ok(a
            .chunks(2)
            .map(|c| (c[0].to_logstash_string(), c[1].clone()))
            .collect()),
        Some(other) => Err(BuildError::option(
            name,
            format!("expected a hash, got {}", other.type_name()),
        )),
    }
}

fn field(option: &str, name: &str) -> BuildResult<FieldRef> {
    FieldRef::parse(name).map_err(|e| BuildError::option(option, e.to_string()))
}

fn fields(args: &Args, option: &str) -> BuildResult<Vec<FieldRef>> {
    args.strings(option)
        .iter()
        .map(|f| field(option, f))
        .collect()
}

fn field_templates(args: &Args, option: &str) -> BuildResult<Vec<(FieldRef, Template)>> {
    pairs(args, option)?
        .into_iter()
        .map(|(k, v)| {
            Ok((
                field(option, &k)?,
                Template::compile(&v.to_logstash_string()),
            ))
        })
        .collect()
}

fn field_strings(args: &Args, option: &str) -> BuildResult<Vec<(FieldRef, String)>> {
    pairs(args, option)?
        .into_iter()
        .map(|(k, v)| Ok((field(option, &k)?, v.to_logstash_string())))
        .collect()
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let mut convert = Vec::new();
    for (k, v) in pairs(args, "convert")? {
        let ty = v.to_logstash_string();
        let c = Conversion::parse(&ty).ok_or_else(|| {
            BuildError::option(
                "convert",
                format!(
                    "invalid conversion type {ty:?} for {k:?}, expected one of {}",
                    Conversion::NAMES.join(", ")
                ),
            )
        })?;
        convert.push((field("convert", &k)?, c));
    }

    let raw_gsub = match args.value("gsub") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    if raw_gsub.len() % 3 != 0 {
        return Err(BuildError::option(
            "gsub",
            format!(
                "expected [field, regex, replacement] triples, got {} elements",
                raw_gsub.len()
            ),
        ));
    }
    let mut gsub = Vec::new();
    for t in raw_gsub.chunks(3) {
        let needle_src = t[1].to_logstash_string();
        let needle = if needle_src.contains("%{") {
            Needle::Dynamic(Template::compile(&needle_src))
        } else {
            Needle::Static(ruby::compile(&needle_src).map_err(|e| BuildError::option("gsub", e))?)
        };
        gsub.push(Gsub {
            field: field("gsub", &t[0].to_logstash_string())?,
            needle,
            replacement: Template::compile(&t[2].to_logstash_string()),
        });
    }

    let mut merge = Vec::new();
    for (k, v) in pairs(args, "merge")? {
        let added = match v {
            Value::Array(a) => a
                .iter()
                .map(|x| field("merge", &x.to_logstash_string()))
                .collect::<BuildResult<_>>()?,
            one => vec![field("merge", &one.to_logstash_string())?],
        };
        merge.push((field("merge", &k)?, added));
    }

    let copy = pairs(args, "copy")?
        .into_iter()
        .map(|(k, v)| Ok((field("copy", &k)?, field("copy", &v.to_logstash_string())?)))
        .collect::<BuildResult<_>>()?;

    let rename = pairs(args, "rename")?
        .into_iter()
        .map(|(k, v)| {
            (
                Template::compile(&k),
                Template::compile(&v.to_logstash_string()),
            )
        })
        .collect();

    let add_field_keys = pairs(args, "add_field")
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| Template::compile(k))
        .collect();

    Ok(Box::new(Mutate {
        coerce: field_templates(args, "coerce")?,
        rename,
        update: field_templates(args, "update")?,
        replace: field_templates(args, "replace")?,
        convert,
        gsub,
        uppercase: fields(args, "uppercase")?,
        capitalize: fields(args, "capitalize")?,
        lowercase: fields(args, "lowercase")?,
        strip: fields(args, "strip")?,
        split: field_strings(args, "split")?,
        join: field_strings(args, "join")?,
        merge,
        copy,
        tag_on_failure: args.string("tag_on_failure").unwrap_or_default(),
        add_field_keys,
    }))
}

/// Why mutate gave up on an event (it is tagged with `tag_on_failure`).
#[derive(Debug, thiserror::Error)]
enum MutateError {
    #[error(transparent)]
    Set(#[from] SetError),
    #[error(transparent)]
    FieldRef(#[from] FieldRefError),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// A `gsub` pattern rendered from the event does not compile.
    #[error(transparent)]
    Pattern(#[from] ruby::RegexError),
    #[error("gsub on {field}: {source}")]
    Gsub {
        field: String,
        source: ruby::RegexError,
    },
    #[error("undefined method `strip' for {0}")]
    Strip(&'static str),
    #[error("add_field: {0}")]
    AddField(FieldRefError),
}

type Step = Result<(), MutateError>;

/// Sets `r`, replacing in place when it exists (so `[list][0]` addresses an element).
fn set(event: &mut Event, r: &FieldRef, v: Value) -> Step {
    match event.get_mut(r) {
        Some(slot) => {
            *slot = v;
            Ok(())
        }
        None => Ok(event.set(r, v)?),
    }
}

impl Mutate {
    fn run(&self, e: &mut Event) -> Step {
        for (f, default) in &self.coerce {
            if matches!(e.get(f), Some(Value::Null)) {
                let v = default.render(e);
                set(e, f, Value::String(v))?;
            }
        }
        for (old, new) in &self.rename {
            let old = FieldRef::parse(&old.render(e))?;
            let new = FieldRef::parse(&new.render(e))?;
            if let Some(v) = e.remove(&old) {
                set(e, &new, v)?;
            }
        }
        for (f, v) in &self.update {
            if e.contains(f) {
                let v = v.render(e);
                set(e, f, Value::String(v))?;
            }
        }
        for (f, v) in &self.replace {
            let v = v.render(e);
            set(e, f, Value::String(v))?;
        }
        for (f, conv) in &self.convert {
            let converted = match e.get(f) {
                None | Some(Value::Null) | Some(Value::Object(_)) => continue,
                Some(Value::Array(a)) => Value::Array(
                    a.iter()
                        .map(|v| {
                            if v.is_null() {
                                Ok(Value::Null)
                            } else {
                                conv.convert(v)
                            }
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Some(v) => conv.convert(v)?,
            };
            set(e, f, converted)?;
        }
        for g in &self.gsub {
            self.gsub_one(e, g)?;
        }
        map_strings(e, &self.uppercase, |s| s.to_uppercase())?;
        map_strings(e, &self.capitalize, ruby::capitalize)?;
        map_strings(e, &self.lowercase, |s| s.to_lowercase())?;
        for f in &self.strip {
            let stripped = match e.get(f) {
                Some(Value::String(s)) => Value::String(ruby_strip(s).to_string()),
                Some(Value::Array(a)) => Value::Array(
                    a.iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(Value::String(ruby_strip(s).to_string())),
                            other => Err(MutateError::Strip(other.type_name())),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => continue,
            };
            set(e, f, stripped)?;
        }
        for (f, sep) in &self.split {
            if let Some(Value::String(s)) = e.get(f) {
                let parts = ruby_split(s, sep).into_iter().map(Value::String).collect();
                set(e, f, Value::Array(parts))?;
            }
        }
        for (f, sep) in &self.join {
            if let Some(Value::Array(a)) = e.get(f) {
                let mut out = String::new();
                ruby_join(a, sep, &mut out);
                set(e, f, Value::String(out))?;
            }
        }
        for (dest, added) in &self.merge {
            self.merge_one(e, dest, added)?;
        }
        for (src, dest) in &self.copy {
            match e.get(src) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let v = v.clone();
                    set(e, dest, v)?;
                }
            }
        }
        for k in &self.add_field_keys {
            let key = k.render(e);
            FieldRef::parse(&key).map_err(MutateError::AddField)?;
        }
        Ok(())
    }

    fn gsub_one(&self, e: &mut Event, g: &Gsub) -> Step {
        if !matches!(e.get(&g.field), Some(Value::String(_) | Value::Array(_))) {
            return Ok(());
        }
        let dynamic;
        let re = match &g.needle {
            Needle::Static(re) => re,
            Needle::Dynamic(t) => {
                dynamic = ruby::compile(&t.render(e))?;
                &dynamic
            }
        };
        let rep = g.replacement.render(e);
        let sub = |s: &str| {
            ruby::gsub(re, s, &rep).map_err(|source| MutateError::Gsub {
                field: g.field.to_string(),
                source,
            })
        };
        let result = match e.get(&g.field) {
            Some(Value::String(s)) => Value::String(sub(s)?),
            Some(Value::Array(a)) => Value::Array(
                a.iter()
                    .map(|v| match v {
                        Value::String(s) => sub(s).map(Value::String),
                        other => Ok(other.clone()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Ok(()),
        };
        set(e, &g.field, result)
    }

    fn merge_one(&self, e: &mut Event, dest: &FieldRef, added: &[FieldRef]) -> Step {
        for a in added {
            let dest_v = e.get(dest).cloned();
            let added_v = e.get(a).cloned();
            let dest_hash = matches!(dest_v, Some(Value::Object(_)));
            let added_hash = matches!(added_v, Some(Value::Object(_)));
            if dest_hash != added_hash {
                // Logstash logs "not possible to merge an array and a hash" and goes on.
                continue;
            }
            let merged = match (dest_v, added_v) {
                (Some(Value::Object(mut d)), Some(Value::Object(x))) => {
                    d.extend(*x);
                    Value::Object(d)
                }
                (d, x) => {
                    let mut out = ruby_array(d);
                    out.extend(ruby_array(x));
                    Value::Array(out)
                }
            };
            set(e, dest, merged)?;
        }
        Ok(())
    }
}

/// Ruby's `Array(x)`: nil is empty, an array is itself, anything else a one-element array.
fn ruby_array(v: Option<Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => vec![other],
    }
}

/// Applies a string function to a string field or the string elements of an array field.
fn map_strings(e: &mut Event, fields: &[FieldRef], f: impl Fn(&str) -> String) -> Step {
    for r in fields {
        let Some(v) = e.get_mut(r) else { continue };
        match v {
            Value::String(s) => *s = f(s),
            Value::Array(a) => {
                for x in a.iter_mut() {
                    if let Value::String(s) = x {
                        *s = f(s);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Ruby's `String#strip` (whitespace and NUL).
fn ruby_strip(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, '\0' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' '))
}

/// Ruby's `String#split(sep)` with a string separator: `" "` splits on whitespace runs
/// (awk style), `""` into characters; trailing empty strings are dropped.
fn ruby_split(s: &str, sep: &str) -> Vec<String> {
    let mut parts: Vec<String> = if sep == " " {
        s.split([' ', '\t', '\n', '\x0b', '\x0c', '\r', '\0'])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    } else if sep.is_empty() {
        s.chars().map(String::from).collect()
    } else {
        s.split(sep).map(str::to_string).collect()
    };
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

/// Ruby's `Array#join`: nested arrays are joined recursively, nil is empty.
fn ruby_join(a: &[Value], sep: &str, out: &mut String) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        match v {
            Value::Array(inner) => ruby_join(inner, sep, out),
            other => out.push_str(&ruby::to_s(other)),
        }
    }
}

impl Filter for Mutate {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        match self.run(event) {
            Ok(()) => Outcome::Success,
            Err(reason) => {
                tracing::warn!(%reason, "exception caught while applying mutate filter");
                event.add_tag(&self.tag_on_failure);
                Outcome::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests;
