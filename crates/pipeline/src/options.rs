//! Plugin option schemas and the validated arguments a plugin is built from.
//!
//! Every plugin declares its options as a `&'static [OptSpec]` in the registry; `compile`
//! checks names and types against it (reporting every error at once) and hands the
//! plugin an [`Args`] whose values are already coerced the way Logstash coerces them.

use crate::lang::ast::Span;
use indexmap::IndexMap;
use logstash_mesos_core::{FieldRef, Map, Value};

/// The type of an option, with Logstash's coercions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptKind {
    /// One string (a one-element array is accepted).
    String,
    /// An integer or float, or a string holding one.
    Number,
    /// `true`/`false`, bare or quoted.
    Boolean,
    /// Any value; a single value becomes a one-element array.
    Array,
    /// A hash; an even-length array `[k, v, ...]` is accepted, as Logstash does.
    Hash,
    /// A codec: a name (`json`) or a plugin (`json { ... }`).
    Codec,
    /// A filesystem path (a string).
    Path,
    /// A secret string: never printed.
    Password,
    /// A URI string.
    Uri,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A field reference.
    Field,
    /// Anything, uncoerced.
    Any,
}

impl OptKind {
    pub fn describe(&self) -> String {
        match self {
            OptKind::String => "a string".into(),
            OptKind::Number => "a number".into(),
            OptKind::Boolean => "a boolean (true or false)".into(),
            OptKind::Array => "an array".into(),
            OptKind::Hash => "a hash".into(),
            OptKind::Codec => "a codec".into(),
            OptKind::Path => "a path".into(),
            OptKind::Password => "a password".into(),
            OptKind::Uri => "a URI".into(),
            OptKind::Enum(vals) => format!("one of {}", vals.join(", ")),
            OptKind::Field => "a field reference".into(),
            OptKind::Any => "any value".into(),
        }
    }
}

/// One option of a plugin.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    /// The Logstash option name.
    pub name: &'static str,
    pub kind: OptKind,
    pub required: bool,
    /// The default as a user would write it, for docs (`None`: no default).
    pub default: Option<&'static str>,
    /// One line of documentation.
    pub doc: &'static str,
}

impl OptSpec {
    pub const fn new(name: &'static str, kind: OptKind, doc: &'static str) -> Self {
        OptSpec {
            name,
            kind,
            required: false,
            default: None,
            doc,
        }
    }
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// A validated option value.
#[derive(Clone, Debug)]
pub enum ArgValue {
    Value(Value),
    /// A codec, already resolved and validated by `compile`.
    Codec(CodecSpec),
}

/// A codec named in an option: its name and its own validated options.
#[derive(Clone, Debug)]
pub struct CodecSpec {
    pub name: String,
    pub args: Box<Args>,
}

/// The validated options of one plugin instance.
#[derive(Clone, Debug, Default)]
pub struct Args {
    pub plugin: String,
    values: IndexMap<String, (ArgValue, Span)>,
    /// The plugin's own span, for errors not tied to one option.
    pub span: Span,
}

/// A plugin-specific config error, raised while building a plugin from its [`Args`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// The option the error is about (its position is reported), if any.
    pub option: Option<String>,
    pub message: String,
}

impl BuildError {
    pub fn option(name: &str, message: impl Into<String>) -> Self {
        BuildError {
            option: Some(name.to_string()),
            message: message.into(),
        }
    }
    pub fn general(message: impl Into<String>) -> Self {
        BuildError {
            option: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.option {
            Some(o) => write!(f, "option {o:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

pub type BuildResult<T> = Result<T, BuildError>;

impl Args {
    pub fn new(plugin: &str, span: Span) -> Self {
        Args {
            plugin: plugin.to_string(),
            values: IndexMap::new(),
            span,
        }
    }

    /// Used by `compile` after validation; tests may build `Args` by hand.
    pub fn insert(&mut self, name: &str, value: ArgValue, span: Span) {
        self.values.insert(name.to_string(), (value, span));
    }

    /// Convenience for tests and programmatic configs.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.insert(name, ArgValue::Value(value), Span::default());
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub fn span_of(&self, name: &str) -> Option<Span> {
        self.values.get(name).map(|(_, s)| *s)
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        match self.values.get(name) {
            Some((ArgValue::Value(v), _)) => Some(v),
            _ => None,
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.value(name).map(|v| match v {
            Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
            other => other.to_logstash_string(),
        })
    }

    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.string(name).unwrap_or_else(|| default.to_string())
    }

    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.value(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => default,
        }
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Integer(i) => Some(*i),
            Value::Float(f) => Some(*f as i64),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn i64_or(&self, name: &str, default: i64) -> i64 {
        self.i64(name).unwrap_or(default)
    }

    pub fn f64(&self, name: &str) -> Option<f64> {
        match self.value(name)? {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// An array option as strings (a single value gives one element).
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.value(name) {
            Some(Value::Array(a)) => a.iter().map(Value::to_logstash_string).collect(),
            Some(v) => vec![v.to_logstash_string()],
            None => Vec::new(),
        }
    }

    /// A hash option, in source order.
    pub fn hash(&self, name: &str) -> Vec<(String, Value)> {
        match self.value(name) {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    pub fn hash_map(&self, name: &str) -> Option<&Map> {
        self.value(name).and_then(Value::as_object)
    }

    /// A field-reference option.
    pub fn field(&self, name: &str) -> BuildResult<Option<FieldRef>> {
        match self.string(name) {
            None => Ok(None),
            Some(s) => FieldRef::parse(&s)
                .map(Some)
                .map_err(|e| BuildError::option(name, e.to_string())),
        }
    }

    /// The plugin's `ecs_compatibility`, or the pipeline's (`--pipeline.ecs_compatibility`)
    /// when the plugin does not set it.
    pub fn ecs(&self, ctx: &crate::plugin::BuildContext) -> BuildResult<crate::plugin::Ecs> {
        match self.string("ecs_compatibility") {
            None => Ok(ctx.ecs),
            Some(s) => crate::plugin::Ecs::parse(&s).ok_or_else(|| {
                BuildError::option(
                    "ecs_compatibility",
                    format!("expected disabled, v1 or v8, got {s:?}"),
                )
            }),
        }
    }

    pub fn codec(&self, name: &str) -> Option<&CodecSpec> {
        match self.values.get(name) {
            Some((ArgValue::Codec(p), _)) => Some(p),
            _ => None,
        }
    }
}
