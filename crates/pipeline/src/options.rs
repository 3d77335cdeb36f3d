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
    /// A duration: `"500 ms"`, `"2 weeks"`, or a bare number in the given unit.
    Duration(DurationUnit),
    /// A byte size: `"10 MiB"`, `"2kB"` or a number of bytes.
    Bytes,
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
            OptKind::Duration(u) => format!(
                "a duration (a number of {}, or e.g. \"500 ms\", \"2 weeks\")",
                u.name()
            ),
            OptKind::Bytes => "a size (bytes, or e.g. \"10 MiB\")".into(),
            OptKind::Any => "any value".into(),
        }
    }
}

/// What a bare number means in a [`OptKind::Duration`] option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationUnit {
    Millis,
    Seconds,
    Days,
}

impl DurationUnit {
    pub fn seconds(self) -> f64 {
        match self {
            DurationUnit::Millis => 1e-3,
            DurationUnit::Seconds => 1.0,
            DurationUnit::Days => 86400.0,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DurationUnit::Millis => "milliseconds",
            DurationUnit::Seconds => "seconds",
            DurationUnit::Days => "days",
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
    /// The default as a config would write the value (`"plain"`, `["a"]`, `true`, `5`):
    /// `compile` parses and coerces it like a user's value, so plugins read it from here.
    pub default: Option<&'static str>,
    /// A default the plugin computes (it depends on other options or the ECS mode),
    /// described for the docs; the plugin handles the option's absence itself.
    pub computed_default: Option<&'static str>,
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
            computed_default: None,
            doc,
        }
    }
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    /// See [`OptSpec::computed_default`].
    pub const fn computed(mut self, doc: &'static str) -> Self {
        self.computed_default = Some(doc);
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

/// A codec named in an option: its name, its own validated options and, once the pipeline
/// is built, the codec itself (plugins take fresh copies of it with [`Args::codec`]).
#[derive(Clone, Debug)]
pub struct CodecSpec {
    pub name: String,
    pub args: Box<Args>,
    pub built: Option<BuiltCodec>,
}

/// A built codec; cloning it gives a fresh codec with the same settings.
pub struct BuiltCodec(pub Box<dyn crate::plugin::Codec>);

impl Clone for BuiltCodec {
    fn clone(&self) -> Self {
        BuiltCodec(self.0.clone_box())
    }
}

impl std::fmt::Debug for BuiltCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltCodec")
    }
}

/// One option's value and where it came from.
#[derive(Clone, Debug)]
struct Slot {
    value: ArgValue,
    span: Span,
    /// Written by the user (`false`: the schema's default).
    given: bool,
}

/// The validated options of one plugin instance: what the user wrote, coerced to each
/// option's kind, and every schema default the user did not override, so a plugin reads
/// a default from the one place it is written (its `OptSpec`).
#[derive(Clone, Debug)]
pub struct Args {
    pub plugin: String,
    values: IndexMap<String, Slot>,
    /// The plugin's own span, for errors not tied to one option.
    pub span: Span,
}

/// A plugin-specific config error, raised while building a plugin from its [`Args`].
/// A builder that finds several problems returns them all ([`BuildError::many`]); each
/// is reported at its option's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// The option the error is about (its position is reported), if any.
    pub option: Option<String>,
    pub message: String,
    /// Further errors found in the same plugin.
    pub more: Vec<BuildError>,
    /// A problem with a file the plugin reads when it starts (see
    /// [`crate::lang::Diagnostic::at_start`]).
    pub at_start: bool,
}

impl BuildError {
    /// An error about option `name`; `message` is text or a library error, whose message
    /// is kept word for word.
    pub fn option(name: &str, message: impl std::fmt::Display) -> Self {
        BuildError {
            option: Some(name.to_string()),
            message: message.to_string(),
            more: Vec::new(),
            at_start: false,
        }
    }
    /// An error about the plugin as a whole (text or a library error, as [`Self::option`]).
    pub fn general(message: impl std::fmt::Display) -> Self {
        BuildError {
            option: None,
            message: message.to_string(),
            more: Vec::new(),
            at_start: false,
        }
    }
    /// An error about a file option `name` names (missing, unreadable, or its content
    /// invalid): Logstash meets it only when the plugin starts.
    pub fn file(name: &str, message: impl std::fmt::Display) -> Self {
        BuildError {
            at_start: true,
            ..BuildError::option(name, message)
        }
    }

    /// All of `errors` as one error (the first carries the rest). `errors` must not be
    /// empty; an empty list gives a general "invalid options" error.
    pub fn many(errors: Vec<BuildError>) -> Self {
        let mut it = errors.into_iter();
        match it.next() {
            Some(mut first) => {
                first.more.extend(it);
                first
            }
            None => BuildError::general("invalid options"),
        }
    }
    /// This error and every one it carries, flattened.
    pub fn all(&self) -> Vec<&BuildError> {
        let mut out = vec![self];
        for m in &self.more {
            out.extend(m.all());
        }
        out
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.option {
            Some(o) => write!(f, "option {o:?}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        for m in &self.more {
            write!(f, "; {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

pub type BuildResult<T> = Result<T, BuildError>;

impl Args {
    /// Empty options for plugin `plugin`; `compile` fills them. Outside this crate use
    /// [`Args::for_plugin`], which applies the schema's defaults.
    pub(crate) fn new(plugin: &str, span: Span) -> Self {
        Args {
            plugin: plugin.to_string(),
            values: IndexMap::new(),
            span,
        }
    }

    /// The options of a plugin whose schema is `own` (plus the common options of
    /// `kind`), as if the user wrote none: every default filled in, default codecs built
    /// from this crate's registry. For tests, benches and programmatic configs; add
    /// options with [`Args::with`].
    pub fn for_plugin(kind: crate::registry::Kind, own: &'static [OptSpec]) -> Self {
        crate::lang::args::defaults_for(kind, own)
    }

    /// A value the user wrote (used by `compile` after validation; tests may build `Args`
    /// by hand).
    pub fn insert(&mut self, name: &str, value: ArgValue, span: Span) {
        self.values.insert(
            name.to_string(),
            Slot {
                value,
                span,
                given: true,
            },
        );
    }

    /// A schema default, filled in by `compile` for an option the user did not write.
    pub(crate) fn insert_default(&mut self, name: &str, value: ArgValue, span: Span) {
        self.values.insert(
            name.to_string(),
            Slot {
                value,
                span,
                given: false,
            },
        );
    }

    /// Convenience for tests and programmatic configs.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.insert(name, ArgValue::Value(value), Span::default());
        self
    }

    /// A deprecated option name: what the user wrote under `old` moves to `new` (through
    /// `convert`, for a changed value type), with a deprecation warning. Giving both is an
    /// error, as in Logstash.
    pub fn rename_deprecated(
        &mut self,
        old: &str,
        new: &str,
        convert: impl FnOnce(Value) -> Value,
    ) -> BuildResult<()> {
        if !self.contains(old) {
            return Ok(());
        }
        if self.contains(new) {
            return Err(BuildError::option(
                old,
                format!("`{old}` is the deprecated name of `{new}`: give only `{new}`"),
            ));
        }
        let Some(slot) = self.values.shift_remove(old) else {
            return Ok(());
        };
        let ArgValue::Value(v) = slot.value else {
            return Ok(());
        };
        tracing::warn!(plugin = %self.plugin, "`{old}` is deprecated: use `{new}` (applied as `{new}`)");
        self.insert(new, ArgValue::Value(convert(v)), slot.span);
        Ok(())
    }

    /// True when the user wrote the option (a schema default does not count).
    pub fn contains(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|s| s.given)
    }

    /// The options the user wrote.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, s)| s.given)
            .map(|(k, _)| k.as_str())
    }

    pub fn span_of(&self, name: &str) -> Option<Span> {
        self.values.get(name).map(|s| s.span)
    }

    /// Codec options, for `compile` to build them.
    pub(crate) fn codec_specs_mut(&mut self) -> impl Iterator<Item = (&str, &mut CodecSpec)> {
        self.values
            .iter_mut()
            .filter_map(|(k, s)| match &mut s.value {
                ArgValue::Codec(c) => Some((k.as_str(), c)),
                ArgValue::Value(_) => None,
            })
    }

    /// The option's value: what the user wrote, else the schema default.
    pub fn value(&self, name: &str) -> Option<&Value> {
        match self.values.get(name) {
            Some(Slot {
                value: ArgValue::Value(v),
                ..
            }) => Some(v),
            _ => None,
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.value(name).map(|v| match v {
            Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
            other => other.to_logstash_string(),
        })
    }

    /// A boolean option (its schema default when not written; false without one).
    pub fn flag(&self, name: &str) -> bool {
        match self.value(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
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

    /// A `Duration` option (coerced by `compile` to seconds).
    /// Hand-built options (tests) may hold the text form; bare numbers are then seconds.
    pub fn duration(&self, name: &str) -> Option<std::time::Duration> {
        match self.value(name)? {
            Value::String(s) => crate::units::parse_duration(s, 1.0),
            _ => self
                .f64(name)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(std::time::Duration::from_secs_f64),
        }
    }

    /// A `Bytes` option (coerced by `compile` to a number of bytes).
    pub fn bytes(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            Value::String(s) => crate::units::parse_bytes(s).map(|n| n as u64),
            _ => self.i64(name).and_then(|n| u64::try_from(n).ok()),
        }
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

    /// The codec option `name` as configured (its name and options).
    pub fn codec_spec(&self, name: &str) -> Option<&CodecSpec> {
        match self.values.get(name) {
            Some(Slot {
                value: ArgValue::Codec(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    /// A fresh copy of the codec of option `name` (the user's or the plugin's default,
    /// built by `compile`).
    pub fn codec(&self, name: &str) -> BuildResult<Box<dyn crate::plugin::Codec>> {
        match self.codec_spec(name) {
            Some(CodecSpec { built: Some(b), .. }) => Ok(b.0.clone_box()),
            Some(spec) => Err(BuildError::option(
                name,
                format!("codec {:?} was not built", spec.name),
            )),
            None => Err(BuildError::option(name, "no codec configured")),
        }
    }
}
