//! A plugin's attributes → its validated [`Args`]: the plugin is resolved in the registry,
//! each attribute is checked against the option schema and coerced the way Logstash
//! coerces it, repeated attributes are merged, and the schema's defaults fill the rest.
//! Every error is collected with its position.

use crate::lang::ast::{self, Span, ValueKind};
use crate::lang::source::Diagnostic;
use crate::options::{ArgValue, Args, CodecSpec, OptKind, OptSpec};
use crate::plugin::BuildContext;
use crate::registry::{suggest, Kind, Registry, Schema};
use logstash_mesos_core::{FieldRef, Map, Value};

/// Resolves plugins' options against a registry, collecting diagnostics.
pub(crate) struct Resolver<'a> {
    pub registry: &'a Registry,
    pub diags: Vec<Diagnostic>,
}

impl Resolver<'_> {
    /// Resolves the plugin and validates its attributes; `None` after reporting errors.
    pub(crate) fn args(&mut self, kind: Kind, p: &ast::Plugin) -> Option<Args> {
        let Some(schema) = self.registry.options_of(kind, &p.name) else {
            let names = self.registry.names(kind);
            let mut d = Diagnostic::new(
                p.name_span,
                format!("unknown {} plugin {:?}", kind.as_str(), p.name),
            );
            d = match suggest(names.iter().copied(), &p.name) {
                Some(s) => d.with_help(format!("did you mean {s:?}?")),
                None => d.with_help(format!(
                    "known {} plugins: {}",
                    kind.as_str(),
                    names.join(", ")
                )),
            };
            self.diags.push(d);
            return None;
        };
        let before = self.diags.len();
        let mut args = Args::new(&p.name, p.span);
        for (name, name_span, value) in merge_attributes(&p.attributes) {
            let Some(spec) = schema.find(&name) else {
                let all: Vec<&str> = schema.iter().map(|o| o.name).collect();
                let mut d = Diagnostic::new(
                    name_span,
                    format!("{} {:?}: unknown option {:?}", kind.as_str(), p.name, name),
                );
                let mut help = String::new();
                if let Some(s) = suggest(all.iter().copied(), &name) {
                    help.push_str(&format!("did you mean {s:?}? "));
                }
                help.push_str(&format!("allowed: {}", all.join(", ")));
                d = d.with_help(help);
                self.diags.push(d);
                continue;
            };
            match self.coerce(kind, &p.name, spec, &value) {
                Ok(v) => args.insert(&name, v, value.span),
                Err(d) => self.diags.push(d),
            }
        }
        for spec in schema.own.iter().filter(|o| o.required) {
            if !args.contains(spec.name) {
                self.diags.push(
                    Diagnostic::new(
                        p.name_span,
                        format!(
                            "{} {:?}: missing required option {:?}",
                            kind.as_str(),
                            p.name,
                            spec.name
                        ),
                    )
                    .with_help(format!("{}: {}", spec.name, spec.doc)),
                );
            }
        }
        if self.diags.len() != before {
            return None;
        }
        self.fill_defaults(kind, &p.name, schema, &mut args);
        (self.diags.len() == before).then_some(args)
    }

    /// Adds every schema default the user did not override, parsed and coerced exactly as
    /// a user's value would be.
    fn fill_defaults(&mut self, kind: Kind, plugin: &str, schema: Schema, args: &mut Args) {
        for spec in schema.iter() {
            let Some(text) = spec.default else { continue };
            if args.contains(spec.name) {
                continue;
            }
            match default_value(text) {
                Some(v) => match self.coerce(kind, plugin, spec, &v) {
                    Ok(val) => args.insert_default(spec.name, val, args.span),
                    Err(d) => self.diags.push(Diagnostic::new(
                        args.span,
                        format!(
                            "{} {plugin:?}: the default of option {:?} ({text}) is invalid: {}",
                            kind.as_str(),
                            spec.name,
                            d.message
                        ),
                    )),
                },
                None => self.diags.push(Diagnostic::new(
                    args.span,
                    format!(
                        "{} {plugin:?}: the default of option {:?} ({text}) is not a config value",
                        kind.as_str(),
                        spec.name
                    ),
                )),
            }
        }
    }

    pub(crate) fn coerce(
        &mut self,
        kind: Kind,
        plugin: &str,
        spec: &OptSpec,
        v: &ast::Value,
    ) -> Result<ArgValue, Diagnostic> {
        let wrong = |what: &str| {
            Diagnostic::new(
                v.span,
                format!(
                    "{} {plugin:?}: option {:?} expects {}, got {what}",
                    kind.as_str(),
                    spec.name,
                    spec.kind.describe()
                ),
            )
        };
        if spec.kind == OptKind::Codec {
            let (name, attrs, name_span, span) = match &v.kind {
                ValueKind::String(s) | ValueKind::Bareword(s) => {
                    (s.clone(), Vec::new(), v.span, v.span)
                }
                ValueKind::Plugin(p) => (p.name.clone(), p.attributes.clone(), p.name_span, p.span),
                _ => return Err(wrong(describe(&v.kind))),
            };
            let plugin = ast::Plugin {
                name,
                name_span,
                attributes: attrs,
                span,
            };
            let before = self.diags.len();
            let args = self.args(Kind::Codec, &plugin);
            return match args {
                Some(args) => Ok(ArgValue::Codec(CodecSpec {
                    name: plugin.name,
                    args: Box::new(args),
                    built: None,
                })),
                None => {
                    // The codec's own errors were reported; return the last one as this option's.
                    let d = self
                        .diags
                        .pop()
                        .unwrap_or_else(|| wrong("an invalid codec"));
                    debug_assert!(self.diags.len() >= before.saturating_sub(1));
                    Err(d)
                }
            };
        }
        if let ValueKind::Plugin(_) = v.kind {
            return Err(wrong("a plugin"));
        }
        let raw = to_value(v)?;
        let out = match spec.kind {
            OptKind::String | OptKind::Path | OptKind::Password | OptKind::Uri => match raw {
                Value::Array(mut a) if a.len() == 1 => match a.pop() {
                    Some(Value::String(s)) => Value::String(s),
                    Some(Value::Integer(i)) => Value::String(i.to_string()),
                    Some(Value::Float(f)) => Value::String(f.to_string()),
                    _ => return Err(wrong("an array")),
                },
                Value::String(s) => Value::String(s),
                Value::Integer(i) => Value::String(i.to_string()),
                Value::Float(f) => Value::String(logstash_mesos_core::value::format_float(f)),
                Value::Array(_) => return Err(wrong("an array")),
                Value::Object(_) => return Err(wrong("a hash")),
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Number => match raw {
                Value::Integer(_) | Value::Float(_) => raw,
                Value::String(s) => match s.trim().parse::<i64>() {
                    Ok(i) => Value::Integer(i),
                    Err(_) => match s.trim().parse::<f64>() {
                        Ok(f) => Value::Float(f),
                        Err(_) => return Err(wrong(&format!("{s:?}"))),
                    },
                },
                Value::Array(a)
                    if a.len() == 1 && matches!(a[0], Value::Integer(_) | Value::Float(_)) =>
                {
                    a[0].clone()
                }
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Boolean => match raw {
                Value::String(s) if s == "true" => Value::Bool(true),
                Value::String(s) if s == "false" => Value::Bool(false),
                Value::Bool(b) => Value::Bool(b),
                Value::String(s) => return Err(wrong(&format!("{s:?}"))),
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Array => match raw {
                Value::Array(a) => Value::Array(a),
                other => Value::Array(vec![other]),
            },
            OptKind::Hash => match raw {
                Value::Object(m) => Value::Object(m),
                Value::Array(a) if a.len() % 2 == 0 => {
                    let mut m = Map::default();
                    let mut it = a.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        let key = k.to_logstash_string();
                        match m.get_mut(&key) {
                            // The legacy array form may repeat a key: collect the values.
                            Some(Value::Array(existing)) => existing.push(v),
                            Some(existing) => {
                                let old = std::mem::take(existing);
                                *existing = Value::Array(vec![old, v]);
                            }
                            None => {
                                m.insert(key, v);
                            }
                        }
                    }
                    Value::from(m)
                }
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Enum(allowed) => {
                let s = match &raw {
                    Value::String(s) => s.clone(),
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    other => other.to_logstash_string(),
                };
                if !allowed.contains(&s.as_str()) {
                    let mut d = wrong(&format!("{s:?}"));
                    if let Some(sug) = suggest(allowed.iter().copied(), &s) {
                        d = d.with_help(format!("did you mean {sug:?}?"));
                    }
                    return Err(d);
                }
                Value::String(s)
            }
            OptKind::Field => {
                let s = match &raw {
                    Value::String(s) => s.clone(),
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    other => return Err(wrong(other.type_name())),
                };
                if let Err(e) = FieldRef::parse(&s) {
                    return Err(Diagnostic::new(
                        v.span,
                        format!("{} {plugin:?}: option {:?}: {e}", kind.as_str(), spec.name),
                    ));
                }
                Value::String(s)
            }
            OptKind::Duration(unit) => {
                let text = match &raw {
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    Value::Integer(_) | Value::Float(_) | Value::String(_) => {
                        raw.to_logstash_string()
                    }
                    other => return Err(wrong(other.type_name())),
                };
                match crate::units::parse_duration(&text, unit.seconds()) {
                    Some(d) => Value::Float(d.as_secs_f64()),
                    None => return Err(wrong(&format!("{text:?}"))),
                }
            }
            OptKind::Bytes => {
                let text = match &raw {
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    Value::Integer(_) | Value::Float(_) | Value::String(_) => {
                        raw.to_logstash_string()
                    }
                    other => return Err(wrong(other.type_name())),
                };
                match crate::units::parse_bytes(&text).and_then(|n| i64::try_from(n).ok()) {
                    Some(n) => Value::Integer(n),
                    None => return Err(wrong(&format!("{text:?}"))),
                }
            }
            OptKind::Any | OptKind::Codec => raw,
        };
        Ok(ArgValue::Value(out))
    }
}

/// Builds the codecs named by `args` (given or default), so the plugin receives codec
/// objects rather than names to look up again.
pub(crate) fn build_codecs(
    args: &mut Args,
    registry: &Registry,
    ctx: &BuildContext,
) -> Result<(), crate::options::BuildError> {
    for (option, spec) in args.codec_specs_mut() {
        let entry = registry.codec(&spec.name).ok_or_else(|| {
            crate::options::BuildError::option(option, format!("unknown codec {:?}", spec.name))
        })?;
        // A codec's own options may name codecs too (none do today); build them first.
        build_codecs(&mut spec.args, registry, ctx)?;
        let codec = (entry.build)(&spec.args, ctx).map_err(|e| {
            crate::options::BuildError::option(option, format!("codec {:?}: {e}", spec.name))
        })?;
        spec.built = Some(crate::options::BuiltCodec(codec));
    }
    Ok(())
}

/// What [`Args::for_plugin`] returns: no user option, every default filled in and the
/// default codecs built with this crate's registry.
pub(crate) fn defaults_for(kind: Kind, own: &'static [OptSpec]) -> Args {
    let registry = Registry::builtin();
    let common = match kind {
        Kind::Input => crate::registry::COMMON_INPUT,
        Kind::Filter => crate::registry::COMMON_FILTER,
        Kind::Output => crate::registry::COMMON_OUTPUT,
        Kind::Codec => crate::registry::COMMON_CODEC,
    };
    let mut r = Resolver {
        registry: &registry,
        diags: Vec::new(),
    };
    let mut args = Args::new("", Span::default());
    r.fill_defaults(kind, "", Schema { own, common }, &mut args);
    let _ = build_codecs(&mut args, &registry, &BuildContext::default());
    args
}

/// Parses a schema default (`"plain"`, `["a", "b"]`, `true`, `{}`) as the value of an
/// attribute, so it goes through the same coercion as what users write.
fn default_value(text: &str) -> Option<ast::Value> {
    let sources =
        crate::lang::Sources::from_string("default", &format!("input {{ x {{ v => {text} }} }}"));
    let ast = crate::lang::parse(&sources, &crate::lang::ParseOptions::default()).ok()?;
    let section = ast.sections.into_iter().next()?;
    match section.body.into_iter().next()? {
        ast::Stmt::Plugin(p) => p.attributes.into_iter().next().map(|a| a.value),
        ast::Stmt::If(_) => None,
    }
}

pub(crate) fn number(n: &str) -> Value {
    match n.parse::<i64>() {
        Ok(i) => Value::Integer(i),
        Err(_) => n
            .parse::<f64>()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::String(n.to_string())),
    }
}

fn describe(k: &ValueKind) -> &'static str {
    match k {
        ValueKind::String(_) => "a string",
        ValueKind::Number(_) => "a number",
        ValueKind::Bareword(_) => "a bareword",
        ValueKind::Array(_) => "an array",
        ValueKind::Hash(_) => "a hash",
        ValueKind::Plugin(_) => "a plugin",
    }
}

/// Converts a config value (not a plugin) to a [`Value`].
fn to_value(v: &ast::Value) -> Result<Value, Diagnostic> {
    Ok(match &v.kind {
        ValueKind::String(s) | ValueKind::Bareword(s) => Value::String(s.clone()),
        ValueKind::Number(n) => number(n),
        ValueKind::Array(items) => {
            Value::Array(items.iter().map(to_value).collect::<Result<_, _>>()?)
        }
        ValueKind::Hash(entries) => {
            let mut m = Map::default();
            for e in entries {
                if m.contains_key(&e.key) {
                    return Err(Diagnostic::new(
                        e.key_span,
                        format!("duplicate key {:?} in hash", e.key),
                    ));
                }
                m.insert(e.key.clone(), to_value(&e.value)?);
            }
            Value::from(m)
        }
        ValueKind::Plugin(p) => {
            return Err(Diagnostic::new(
                p.span,
                "a plugin is only allowed as a codec",
            ))
        }
    })
}

/// Merges repeated attributes as Logstash's `lscl.rb` does: hashes merge, arrays append,
/// two different scalars become an array (`add_tag => "a" add_tag => "b"` is `["a", "b"]`)
/// and a scalar repeated with the same value stays one value (`unless v == existing`).
fn merge_attributes(attrs: &[ast::Attribute]) -> Vec<(String, Span, ast::Value)> {
    // A scalar as Ruby compares it: barewords and quoted strings are both strings.
    fn scalar(k: &ValueKind) -> Option<(bool, &str)> {
        match k {
            ValueKind::String(s) | ValueKind::Bareword(s) => Some((false, s)),
            ValueKind::Number(n) => Some((true, n)),
            _ => None,
        }
    }
    let mut out: Vec<(String, Span, ast::Value)> = Vec::new();
    for a in attrs {
        if let Some(existing) = out.iter_mut().find(|(n, _, _)| *n == a.name) {
            let merged_kind = match (&existing.2.kind, &a.value.kind) {
                (ValueKind::Hash(x), ValueKind::Hash(y)) => {
                    let mut entries = x.clone();
                    for e in y {
                        match entries.iter_mut().find(|o| o.key == e.key) {
                            Some(o) => *o = e.clone(),
                            None => entries.push(e.clone()),
                        }
                    }
                    ValueKind::Hash(entries)
                }
                (ValueKind::Array(x), ValueKind::Array(y)) => {
                    ValueKind::Array(x.iter().chain(y).cloned().collect())
                }
                (ValueKind::Array(x), _) => {
                    ValueKind::Array(x.iter().cloned().chain([a.value.clone()]).collect())
                }
                (_, ValueKind::Array(y)) => ValueKind::Array(
                    [existing.2.clone()]
                        .into_iter()
                        .chain(y.iter().cloned())
                        .collect(),
                ),
                (x, y) if scalar(x).is_some() && scalar(x) == scalar(y) => continue,
                _ => ValueKind::Array(vec![existing.2.clone(), a.value.clone()]),
            };
            existing.2 = ast::Value {
                kind: merged_kind,
                span: existing.2.span,
            };
        } else {
            out.push((a.name.clone(), a.name_span, a.value.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{parse, ParseOptions, Sources};

    /// The merged attributes of the first plugin of `text`, as (name, kind).
    fn merged(text: &str) -> Vec<(String, ValueKind)> {
        let s = Sources::from_string("t.conf", text);
        let cfg = parse(&s, &ParseOptions::with_env(|_| None)).expect("parses");
        let Some(ast::Stmt::Plugin(p)) = cfg.sections[0].body.first() else {
            panic!("no plugin in {text}");
        };
        merge_attributes(&p.attributes)
            .into_iter()
            .map(|(n, _, v)| (n, v.kind))
            .collect()
    }

    fn strings(kind: &ValueKind) -> Vec<String> {
        match kind {
            ValueKind::Array(items) => items.iter().flat_map(|v| strings(&v.kind)).collect(),
            ValueKind::String(s) | ValueKind::Bareword(s) | ValueKind::Number(s) => {
                vec![s.clone()]
            }
            other => panic!("not a scalar or array: {other:?}"),
        }
    }

    /// Logstash (`lscl.rb`): `hash[k] = [existing, v] unless v == existing`.
    #[test]
    fn a_repeated_option_with_the_same_value_stays_one_value() {
        let m = merged(
            r#"input { file { path => "/x" start_position => "beginning" start_position => beginning } }"#,
        );
        assert_eq!(m.len(), 2);
        assert!(
            matches!(&m[1].1, ValueKind::String(s) if s == "beginning"),
            "{m:?}"
        );
        // Different values still accumulate, and hashes still merge.
        let m = merged(
            r#"filter { mutate { add_tag => "a" add_tag => "a" add_tag => "b" add_tag => ["c"] } }"#,
        );
        assert_eq!(strings(&m[0].1), ["a", "b", "c"]);
        let m = merged(r#"filter { mutate { add_tag => "1" add_tag => 1 } }"#);
        assert_eq!(strings(&m[0].1), ["1", "1"], "a string and a number differ");
        let m = merged(r#"filter { grok { match => { "a" => "x" } match => { "b" => "y" } } }"#);
        assert!(
            matches!(&m[0].1, ValueKind::Hash(e) if e.len() == 2),
            "{m:?}"
        );
    }
}
