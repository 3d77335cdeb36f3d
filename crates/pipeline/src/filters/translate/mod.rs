//! `translate`: replaces a field's value using a dictionary, inline (`dictionary`) or from
//! a YAML, JSON or CSV file (`dictionary_path`) reloaded every `refresh_interval` seconds.
//!
//! Logstash 8's behaviour, followed here:
//! - `source` is the field looked up (`field` is its deprecated alias) and `target` where
//!   the result goes (`destination` is its deprecated alias); the default target is
//!   `translation` in legacy mode and the source itself in ECS mode (v1, v8), where
//!   `override` then defaults to true. Setting both an option and its alias is an error.
//! - The source is coerced to a string first (`200` finds `"200"`, an array uses its first
//!   element). Lookups: `exact => true` (default) is an exact key match; with
//!   `regex => true` each key is a Ruby regex and the first key (in dictionary order) that
//!   matches anywhere wins; `exact => false` replaces every occurrence of any key inside
//!   the value (Ruby's `gsub` with the union of the keys taken literally).
//! - No match: `fallback` (sprintf'd) is used when set, otherwise nothing happens.
//! - The target is not touched when it already exists, unless `override`.
//! - `iterate_on` names an array: when it equals `source`, each element is translated
//!   into the same position of the target array (unmatched ones are the fallback or null);
//!   otherwise each element is a hash whose `source` key is translated into its `target`.
//! - File dictionaries: the type comes from the extension (`.yml`/`.yaml`, `.json`,
//!   `.csv` with `key,value` rows); a file that cannot be read at startup is a config
//!   error; later reloads that fail keep the old dictionary (logged). With
//!   `refresh_interval` ≤ 300 the file is reloaded only when its mtime changed;
//!   `refresh_behaviour => merge` (default) adds and updates entries, `replace` swaps the
//!   whole dictionary. Reloads run on their own thread and swap the dictionary in one
//!   step, so workers never wait for a file to be parsed.
//!
//! The common options run when a translation (or the fallback) was set, and always for an
//! in-place translation (source == target), as in Logstash.

use crate::filters::csv::Dialect;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
use fancy_regex::Regex;
use logstash_mesos_core::{Event, FieldRef, Map, Template, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, SystemTime};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Field, "the field to look up"),
    OptSpec::new("field", OptKind::String, "deprecated: use source"),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where the translation goes (legacy: translation, ECS: the source)",
    ),
    OptSpec::new("destination", OptKind::String, "deprecated: use target"),
    OptSpec::new(
        "override",
        OptKind::Boolean,
        "replace an existing target (default false; true when source == target)",
    ),
    OptSpec::new("dictionary", OptKind::Hash, "key => value pairs").default("{}"),
    OptSpec::new(
        "dictionary_path",
        OptKind::Path,
        "a YAML, JSON or CSV dictionary file",
    ),
    OptSpec::new(
        "yaml_dictionary_code_point_limit",
        OptKind::Number,
        "maximum size of a YAML dictionary, in characters",
    )
    .default("134217728"),
    OptSpec::new(
        "yaml_load_strategy",
        OptKind::Enum(&["streaming", "one_shot"]),
        "accepted; YAML files are always read whole",
    )
    .default("one_shot"),
    OptSpec::new(
        "refresh_interval",
        OptKind::Number,
        "seconds between dictionary file reloads (0: never)",
    )
    .default("300"),
    OptSpec::new("exact", OptKind::Boolean, "match whole values").default("true"),
    OptSpec::new("regex", OptKind::Boolean, "keys are regexes").default("false"),
    OptSpec::new(
        "fallback",
        OptKind::String,
        "the value when nothing matches (sprintf)",
    ),
    OptSpec::new(
        "refresh_behaviour",
        OptKind::Enum(&["merge", "replace"]),
        "how a reloaded file updates the dictionary",
    )
    .default("merge"),
    OptSpec::new(
        "iterate_on",
        OptKind::String,
        "an array field whose elements (values or hashes) are translated",
    ),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "default target: disabled = translation, v1/v8 = the source",
    ),
];

/// How keys match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Exact,
    ExactRegex,
    Union,
}

/// A dictionary compiled for its lookup mode.
pub struct Lookup {
    entries: Map,
    /// Key → index into `entries` (foldhash: lookups are the hot path).
    exact: HashMap<String, usize, foldhash::fast::RandomState>,
    regexes: Vec<Regex>,
    union: Option<Regex>,
    mode: Mode,
}

impl Lookup {
    fn new(entries: Map, mode: Mode) -> Result<Lookup, DictionaryError> {
        let mut l = Lookup {
            exact: HashMap::default(),
            regexes: Vec::new(),
            union: None,
            mode,
            entries,
        };
        match mode {
            Mode::Exact => {
                l.exact.reserve(l.entries.len());
                for (i, (k, _)) in l.entries.iter().enumerate() {
                    l.exact.entry(k.to_string()).or_insert(i);
                }
            }
            Mode::ExactRegex => {
                for (k, _) in l.entries.iter() {
                    l.regexes.push(ruby::compile(k)?);
                }
            }
            Mode::Union => {
                if !l.entries.is_empty() {
                    let alt = l
                        .entries
                        .keys()
                        .map(|k| fancy_regex::escape(k).into_owned())
                        .collect::<Vec<_>>()
                        .join("|");
                    l.union =
                        Some(Regex::new(&alt).map_err(|e| DictionaryError::Union(Box::new(e)))?);
                }
            }
        }
        Ok(l)
    }

    /// The translation of `source`, if any.
    pub fn fetch(&self, source: &str) -> Option<Value> {
        match self.mode {
            Mode::Exact => self
                .exact
                .get(source)
                .and_then(|i| self.entries.get_index(*i))
                .map(|(_, v)| v.clone()),
            Mode::ExactRegex => self
                .regexes
                .iter()
                .position(|re| re.is_match(source).unwrap_or(false))
                .and_then(|i| self.entries.get_index(i))
                .map(|(_, v)| v.clone()),
            Mode::Union => {
                let re = self.union.as_ref()?;
                let mut out = String::with_capacity(source.len());
                let mut last = 0;
                for m in re.find_iter(source) {
                    let Ok(m) = m else { break };
                    out.push_str(&source[last..m.start()]);
                    if let Some(v) = self.entries.get(m.as_str()) {
                        out.push_str(&ruby::to_s(v));
                    }
                    last = m.end();
                }
                if last == 0 && out.is_empty() {
                    return None;
                }
                out.push_str(&source[last..]);
                (out != source).then_some(Value::String(out))
            }
        }
    }
}

/// The current dictionary, swapped whole by reloads.
type Shared = Arc<RwLock<Arc<Lookup>>>;

/// How the translated value is placed.
enum Updater {
    Single,
    /// `iterate_on == source`: an array of values.
    Values(FieldRef),
    /// `iterate_on` is an array of hashes; `source`/`target` name keys inside them.
    Maps(FieldRef),
}

/// The compiled translate filter.
pub struct Translate {
    source: FieldRef,
    target: FieldRef,
    in_place: bool,
    override_: bool,
    fallback: Option<Template>,
    updater: Updater,
    lookup: Shared,
    /// Dropping it stops the reload thread.
    _reloader: Option<mpsc::Sender<()>>,
}

/// A dictionary that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    #[error("cannot read {name}: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} is larger than yaml_dictionary_code_point_limit ({limit})")]
    TooLarge { name: String, limit: usize },
    #[error("invalid YAML in {name}: {source}")]
    Yaml {
        name: String,
        source: yaml_rust2::ScanError,
    },
    #[error("{name}: the YAML document is not a mapping")]
    YamlNotMapping { name: String },
    #[error("invalid JSON in {name}: {source}")]
    Json {
        name: String,
        source: serde_json::Error,
    },
    #[error("{name}: the JSON document is not an object")]
    JsonNotObject { name: String },
    #[error("invalid CSV in {name}: {source}")]
    Csv {
        name: String,
        source: crate::filters::csv::CsvError,
    },
    #[error("dictionary {name} has a non valid format (expected .yml, .yaml, .json or .csv)")]
    Format { name: String },
    /// A key of an `exact => true, regex => true` dictionary is no regex.
    #[error(transparent)]
    Key(#[from] ruby::RegexError),
    /// The keys' union (`exact => false`) does not compile.
    #[error("{0}")]
    Union(Box<fancy_regex::Error>),
}

/// Reads a dictionary file by its extension.
pub fn load_file(path: &Path, code_point_limit: usize) -> Result<Map, DictionaryError> {
    let name = path.to_string_lossy();
    let text = std::fs::read_to_string(path).map_err(|source| DictionaryError::Read {
        name: name.to_string(),
        source,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        if text.chars().count() > code_point_limit {
            return Err(DictionaryError::TooLarge {
                name: name.to_string(),
                limit: code_point_limit,
            });
        }
        let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|source| {
            DictionaryError::Yaml {
                name: name.to_string(),
                source,
            }
        })?;
        match docs.into_iter().next() {
            None | Some(yaml_rust2::Yaml::Null) => Ok(Map::new()),
            Some(yaml_rust2::Yaml::Hash(h)) => {
                let mut m = Map::with_capacity(h.len());
                for (k, v) in h {
                    m.insert(yaml_key(&k), yaml_value(v));
                }
                Ok(m)
            }
            Some(_) => Err(DictionaryError::YamlNotMapping {
                name: name.to_string(),
            }),
        }
    } else if name.ends_with(".json") {
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|source| DictionaryError::Json {
                name: name.to_string(),
                source,
            })?;
        match Value::from_json(v) {
            Value::Object(m) => Ok(*m),
            _ => Err(DictionaryError::JsonNotObject {
                name: name.to_string(),
            }),
        }
    } else if name.ends_with(".csv") {
        let d = Dialect {
            separator: ",".into(),
            quote: '"',
        };
        let rows = d.parse_rows(text).map_err(|source| DictionaryError::Csv {
            name: name.to_string(),
            source,
        })?;
        let mut m = Map::with_capacity(rows.len());
        for row in rows {
            let mut it = row.into_iter();
            // Ruby's `|k, v|`: blank rows give a nil key, which no string ever matches.
            let Some(Some(k)) = it.next() else { continue };
            let v = it.next().flatten().map_or(Value::Null, Value::String);
            m.insert(k, v);
        }
        Ok(m)
    } else {
        Err(DictionaryError::Format {
            name: name.to_string(),
        })
    }
}

fn yaml_key(k: &yaml_rust2::Yaml) -> String {
    match yaml_value(k.clone()) {
        Value::String(s) => s,
        other => ruby::to_s(&other),
    }
}

fn yaml_value(y: yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s.parse().map(Value::Float).unwrap_or(Value::String(s)),
        Yaml::Integer(i) => Value::Integer(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(yaml_value).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::with_capacity(h.len());
            for (k, v) in h {
                m.insert(yaml_key(&k), yaml_value(v));
            }
            Value::Object(Box::new(m))
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reloads the file every `interval` until the filter is dropped.
fn spawn_reloader(
    path: PathBuf,
    interval: Duration,
    replace: bool,
    mode: Mode,
    limit: usize,
    shared: Shared,
) -> Option<mpsc::Sender<()>> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut last = mtime(&path);
    let only_when_changed = interval <= Duration::from_secs(300);
    let spawned = std::thread::Builder::new()
        .name("translate-reload".into())
        .spawn(move || loop {
            match rx.recv_timeout(interval) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The filter is gone.
                _ => return,
            }
            let now = mtime(&path);
            if now.is_none() {
                tracing::warn!(path = %path.display(), "dictionary file read failure, continuing with old dictionary");
                continue;
            }
            if only_when_changed && now == last {
                continue;
            }
            last = now;
            let fresh = match load_file(&path, limit) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "translate: continuing with old dictionary");
                    continue;
                }
            };
            let entries = if replace {
                fresh
            } else {
                let mut merged = match shared.read() {
                    Ok(g) => g.entries.clone(),
                    Err(_) => return,
                };
                for (k, v) in fresh {
                    merged.insert(k, v);
                }
                merged
            };
            match Lookup::new(entries, mode) {
                Ok(l) => {
                    // Built outside the lock: workers only wait for a pointer swap.
                    if let Ok(mut g) = shared.write() {
                        *g = Arc::new(l);
                    }
                    tracing::info!(path = %path.display(), "translate dictionary reloaded");
                }
                Err(e) => tracing::warn!(error = %e, "translate: continuing with old dictionary"),
            }
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!(error = %e, "translate: cannot start the reload thread; the dictionary will not be refreshed");
            None
        }
    }
}

/// Exactly one of an option and its deprecated alias.
fn aliased(args: &Args, name: &str, alias: &str) -> BuildResult<Option<String>> {
    match (args.string(name), args.string(alias)) {
        (Some(_), Some(a)) => Err(BuildError::option(
            alias,
            format!(
                "please remove `{alias} => {a:?}` and only set the `{name} => ...` option instead"
            ),
        )),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(a)) => {
            tracing::warn!("`{alias}` option is deprecated; use `{name}` instead");
            Ok(Some(a))
        }
        (None, None) => Ok(None),
    }
}

fn parse_ref(name: &str, s: &str) -> BuildResult<FieldRef> {
    FieldRef::parse(s).map_err(|e| BuildError::option(name, e.to_string()))
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let ecs = args.ecs(ctx)?.enabled();
    let source_s = aliased(args, "source", "field")?.ok_or_else(|| {
        BuildError::option(
            "source",
            "no source field specified, please provide the `source => ...` option",
        )
    })?;
    let target_s = aliased(args, "target", "destination")?.unwrap_or_else(|| {
        if ecs {
            source_s.clone()
        } else {
            "translation".into()
        }
    });
    let source = parse_ref("source", &source_s)?;
    let target = parse_ref("target", &target_s)?;
    let in_place = source == target;
    let override_ = match args.value("override") {
        None => in_place,
        Some(_) => {
            let o = args.flag("override");
            if in_place && !o {
                return Err(BuildError::option(
                    "override",
                    "configuring `override => false` with in-place translation has no effect, please remove the option",
                ));
            }
            o
        }
    };
    let exact = args.flag("exact");
    let mode = match (exact, args.flag("regex")) {
        (true, true) => Mode::ExactRegex,
        (true, false) => Mode::Exact,
        (false, _) => Mode::Union,
    };
    let has_inline = args.hash_map("dictionary").is_some_and(|m| !m.is_empty());
    let path = args.string("dictionary_path");
    let limit = args.i64("yaml_dictionary_code_point_limit");
    if let Some(l) = limit {
        if l <= 0 {
            return Err(BuildError::option(
                "yaml_dictionary_code_point_limit",
                format!("please set a positive number, got {l}"),
            ));
        }
        // Only a limit the user wrote is an error here, not the schema default.
        if args.contains("yaml_dictionary_code_point_limit")
            && path
                .as_deref()
                .is_some_and(|p| !p.ends_with(".yml") && !p.ends_with(".yaml"))
        {
            return Err(BuildError::option(
                "yaml_dictionary_code_point_limit",
                "please remove it for a dictionary file in JSON or CSV format",
            ));
        }
    }
    let limit = limit.map_or(134_217_728, |l| l as usize);
    let entries = match &path {
        Some(p) if has_inline => {
            let _ = p;
            return Err(BuildError::option(
                "dictionary_path",
                "the configuration options 'dictionary' and 'dictionary_path' are mutually exclusive",
            ));
        }
        Some(p) => {
            load_file(Path::new(p), limit).map_err(|e| BuildError::file("dictionary_path", e))?
        }
        None => args.hash_map("dictionary").cloned().unwrap_or_default(),
    };
    let lookup = Lookup::new(entries, mode).map_err(|e| {
        BuildError::option(
            if path.is_some() {
                "dictionary_path"
            } else {
                "dictionary"
            },
            e,
        )
    })?;
    let shared: Shared = Arc::new(RwLock::new(Arc::new(lookup)));
    let refresh = args.f64("refresh_interval").unwrap_or(300.0);
    let reloader = match &path {
        Some(p) if refresh > 0.0 => spawn_reloader(
            PathBuf::from(p),
            Duration::from_secs_f64(refresh),
            args.string("refresh_behaviour")
                .unwrap_or_else(|| "merge".to_string())
                == "replace",
            mode,
            limit,
            shared.clone(),
        ),
        _ => None,
    };
    let updater = match args.string("iterate_on") {
        None => Updater::Single,
        Some(it) if it == source_s => Updater::Values(parse_ref("iterate_on", &it)?),
        Some(it) => Updater::Maps(parse_ref("iterate_on", &it)?),
    };
    Ok(Box::new(Translate {
        source,
        target,
        in_place,
        override_,
        fallback: args.string("fallback").map(|f| Template::compile(&f)),
        updater,
        lookup: shared,
        _reloader: reloader,
    }))
}

/// The lookup key of a value: strings as they are, arrays by their first element, the
/// rest by Ruby's `to_s`.
fn key_of(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        Value::Array(a) => std::borrow::Cow::Owned(a.first().map(ruby::to_s).unwrap_or_default()),
        other => std::borrow::Cow::Owned(ruby::to_s(other)),
    }
}

impl Translate {
    fn current(&self) -> Arc<Lookup> {
        match self.lookup.read() {
            Ok(g) => g.clone(),
            // A reload thread that panicked mid-swap leaves the last good dictionary.
            Err(p) => p.into_inner().clone(),
        }
    }

    fn single(&self, event: &mut Event, lookup: &Lookup) -> bool {
        let Some(v) = event.get(&self.source) else {
            return false;
        };
        let found = lookup.fetch(&key_of(v));
        let value = match found {
            Some(t) => t,
            None => match &self.fallback {
                Some(f) => Value::String(f.render(event)),
                None => return false,
            },
        };
        event.set(&self.target, value).is_ok()
    }

    fn values(&self, event: &mut Event, lookup: &Lookup, it: &FieldRef) -> bool {
        let items: Vec<Value> = match event.get(it) {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        let fallback = self.fallback.as_ref().map(|f| f.render(event));
        let out: Vec<Value> = items
            .iter()
            .map(|x| {
                lookup
                    .fetch(&ruby::to_s(x))
                    .or_else(|| fallback.clone().map(Value::String))
                    .unwrap_or(Value::Null)
            })
            .collect();
        // Ruby's `target.any?`: true when some element is neither nil nor false.
        let any = out
            .iter()
            .any(|v| !matches!(v, Value::Null | Value::Bool(false)));
        let _ = event.set(&self.target, Value::Array(out));
        any
    }

    fn maps(&self, event: &mut Event, lookup: &Lookup, it: &FieldRef) -> bool {
        // The fallback is rendered against the whole event, before the elements change.
        let fallback = self.fallback.as_ref().map(|f| f.render(event));
        let items: Vec<&mut Value> = match event.get_mut(it) {
            Some(Value::Array(a)) => a.iter_mut().collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![one],
        };
        let mut any = false;
        for item in items {
            let Some(v) = value_at(item, self.source.path()) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let value = match lookup.fetch(&ruby::to_s(v)) {
                Some(t) => t,
                None => match &fallback {
                    Some(f) => Value::String(f.clone()),
                    None => continue,
                },
            };
            any |= set_at(item, self.target.path(), value);
        }
        any
    }
}

/// The value at `path` inside `v` (hashes only).
fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.as_object()?.get(k))
}

/// Sets `path` inside `v`, creating hashes; false when a parent is not a hash.
fn set_at(v: &mut Value, path: &[String], value: Value) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = v;
    for k in parents {
        let Value::Object(m) = cur else {
            return false;
        };
        if !m.contains_key(k) {
            m.insert(k.as_str(), Value::Object(Box::default()));
        }
        match m.get_mut(k) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.as_str(), value);
            true
        }
        _ => false,
    }
}

impl Filter for Translate {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let lookup = self.current();
        let matched = match &self.updater {
            Updater::Single | Updater::Values(_)
                if !self.override_ && event.contains(&self.target) =>
            {
                return Outcome::Failure;
            }
            Updater::Single => {
                if !event.contains(&self.source) {
                    return Outcome::Failure;
                }
                self.single(event, &lookup)
            }
            Updater::Values(it) => {
                if !event.contains(it) {
                    return Outcome::Failure;
                }
                self.values(event, &lookup, it)
            }
            Updater::Maps(it) => {
                if !event.contains(it) {
                    return Outcome::Failure;
                }
                self.maps(event, &lookup, it)
            }
        };
        if matched || self.in_place {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests;
