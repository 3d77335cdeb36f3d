//! `useragent`: parses a user agent string into browser, version, OS and device.
//!
//! Follows logstash-filter-useragent 3.x (Logstash 8): the rules are uap-core's
//! `regexes.yaml` v0.12.0 with Logstash's one patch (embedded; `data/uap-core/README.md`
//! gives source and licence), or a custom file given by `regexes`; the parser keeps the
//! Java parser's semantics (`parser.rs`). Fields, with `ecs_compatibility`:
//! - `disabled`: `name`, `version`, `major`, `minor`, `patch`, `os` and `os_name` (the OS
//!   family), `os_version`, `os_full` (name and version), `os_major`, `os_minor`,
//!   `os_patch`, `device`; each name prefixed with `prefix`, written under `target` or at
//!   the event's root.
//! - `v1`/`v8`: under `target` (default `[user_agent]`): `name`, `version`,
//!   `[os][name]`, `[os][version]`, `[os][full]`, `[device][name]`; the version parts go to
//!   `[@metadata][filter][user_agent][version][major|minor|patch]` and
//!   `[@metadata][filter][user_agent][os][version][major|minor|patch]`; `prefix` is ignored
//!   (with a warning).
//!
//! `version` joins major.minor.patch(.patch_minor); when the string holds the version
//! followed by `.<digits> `, those digits are appended (Logstash's `check_and_adjust_version`).
//! A missing, empty or non-string source leaves the event untouched (no tag, as Logstash);
//! an array uses its first element. With `target` equal to `source` the source string is
//! replaced by the hash. Results are kept in an LRU cache of `lru_cache_size` strings
//! (default 100000).

pub mod parser;

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::event::SetError;
use logstash_mesos_core::{Event, FieldRef, Value};
use parser::{Client, Rules, RulesError};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "source",
        OptKind::Field,
        "the field holding the user agent string",
    )
    .required(),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where the fields go (legacy: the event root; ECS: [user_agent])",
    ),
    OptSpec::new(
        "regexes",
        OptKind::Path,
        "a regexes.yaml to use instead of the embedded uap-core rules",
    ),
    OptSpec::new(
        "prefix",
        OptKind::String,
        "prefix for the field names (legacy mode only)",
    )
    .default("\"\""),
    OptSpec::new(
        "lru_cache_size",
        OptKind::Number,
        "how many parsed user agents to keep (LRU)",
    )
    .default("100000"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "field names: legacy (disabled) or ECS (v1, v8)",
    ),
];

/// The embedded rules (uap-core 0.12.0 as Logstash patches it).
pub const REGEXES_YAML: &str = include_str!("../../../data/uap-core/regexes.yaml");

/// The embedded rules, compiled once per process and shared by every filter.
pub fn default_rules() -> Result<Arc<Rules>, RulesError> {
    static RULES: OnceLock<Result<Arc<Rules>, RulesError>> = OnceLock::new();
    RULES
        .get_or_init(|| Rules::from_yaml(REGEXES_YAML).map(Arc::new))
        .clone()
}

/// Field references, resolved once at build time.
struct Fields {
    name: FieldRef,
    device: FieldRef,
    version: FieldRef,
    major: FieldRef,
    minor: FieldRef,
    patch: FieldRef,
    os_full: FieldRef,
    os_name: FieldRef,
    legacy_os: Option<FieldRef>,
    os_version: FieldRef,
    os_major: FieldRef,
    os_minor: FieldRef,
    os_patch: FieldRef,
}

impl Fields {
    fn new(target: &[String], ecs: bool, prefix: &str) -> Fields {
        let at = |parts: &[&str]| {
            FieldRef::from_path(
                target
                    .iter()
                    .cloned()
                    .chain(parts.iter().map(|s| s.to_string())),
            )
        };
        let meta = |parts: &[&str]| {
            FieldRef::from_path(
                ["@metadata", "filter", "user_agent"]
                    .iter()
                    .chain(parts)
                    .map(|s| s.to_string()),
            )
        };
        if ecs {
            Fields {
                name: at(&["name"]),
                device: at(&["device", "name"]),
                version: at(&["version"]),
                major: meta(&["version", "major"]),
                minor: meta(&["version", "minor"]),
                patch: meta(&["version", "patch"]),
                os_full: at(&["os", "full"]),
                os_name: at(&["os", "name"]),
                legacy_os: None,
                os_version: at(&["os", "version"]),
                os_major: meta(&["os", "version", "major"]),
                os_minor: meta(&["os", "version", "minor"]),
                os_patch: meta(&["os", "version", "patch"]),
            }
        } else {
            let p = |n: &str| at(&[format!("{prefix}{n}").as_str()]);
            Fields {
                name: p("name"),
                device: p("device"),
                version: p("version"),
                major: p("major"),
                minor: p("minor"),
                patch: p("patch"),
                os_full: p("os_full"),
                os_name: p("os_name"),
                legacy_os: Some(p("os")),
                os_version: p("os_version"),
                os_major: p("os_major"),
                os_minor: p("os_minor"),
                os_patch: p("os_patch"),
            }
        }
    }
}

/// The compiled useragent filter.
pub struct UserAgentFilter {
    source: FieldRef,
    /// `target == source` as written: the source field is replaced.
    replace_source: bool,
    fields: Fields,
    rules: Arc<Rules>,
    cache: Option<Mutex<lru::LruCache<String, Arc<Client>>>>,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let source_s = args
        .string("source")
        .ok_or_else(|| BuildError::option("source", "useragent needs source => the field"))?;
    let source =
        FieldRef::parse(&source_s).map_err(|e| BuildError::option("source", e.to_string()))?;
    let ecs = args.ecs(ctx)?.enabled();
    let prefix = args.string("prefix").unwrap_or_else(|| "".to_string());
    if ecs && !prefix.is_empty() {
        tracing::warn!(
            prefix = %prefix,
            "useragent: prefix is not supported in ECS compatibility mode and is ignored"
        );
    }
    let target_s = args.string("target");
    let target: Vec<String> = match (&target_s, ecs) {
        (Some(t), _) => FieldRef::parse(t)
            .map_err(|e| BuildError::option("target", e.to_string()))?
            .path()
            .to_vec(),
        (None, true) => vec!["user_agent".to_string()],
        (None, false) => Vec::new(),
    };
    let rules = match args.string("regexes") {
        None => {
            default_rules().map_err(|e| BuildError::general(format!("embedded regexes: {e}")))?
        }
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| BuildError::file("regexes", format!("cannot read {path:?}: {e}")))?;
            Arc::new(
                Rules::from_yaml(&text)
                    .map_err(|e| BuildError::file("regexes", format!("{path:?}: {e}")))?,
            )
        }
    };
    let size = args.i64("lru_cache_size").unwrap_or(100_000);
    if size < 0 {
        return Err(BuildError::option(
            "lru_cache_size",
            "expected a number >= 0",
        ));
    }
    let cache = usize::try_from(size)
        .ok()
        .and_then(NonZeroUsize::new)
        .map(|n| Mutex::new(lru::LruCache::new(n)));
    Ok(Box::new(UserAgentFilter {
        replace_source: target_s.as_deref() == Some(source_s.as_str()),
        source,
        fields: Fields::new(&target, ecs, &prefix),
        rules,
        cache,
    }))
}

/// `check_and_adjust_version`: `16.24.0` followed by `.190414 ` in the string becomes
/// `16.24.0.190414`.
fn adjust_version(ua: &str, version: &str) -> Option<String> {
    let i = ua.find(version)? + version.len();
    let rest = ua.get(i..)?;
    let after = rest.strip_prefix('.')?;
    let end = after.find(' ')?;
    let digits = &after[..end];
    // Ruby's `s.eql?(s.to_i.to_s)`: a canonical decimal integer.
    let canonical = match digits.parse::<i64>() {
        Ok(n) => n.to_string() == digits,
        Err(_) => false,
    };
    canonical.then(|| format!("{version}.{digits}"))
}

fn ua_version(ua_string: &str, c: &Client) -> Option<String> {
    let ua = &c.user_agent;
    let mut v = ua.major.clone()?;
    if let Some(minor) = &ua.minor {
        v.push('.');
        v.push_str(minor);
        if let Some(patch) = &ua.patch {
            v.push('.');
            v.push_str(patch);
            match &ua.patch_minor {
                Some(pm) => {
                    v.push('.');
                    v.push_str(pm);
                }
                None => {
                    if let Some(adj) = adjust_version(ua_string, &v) {
                        v = adj;
                    }
                }
            }
        }
    }
    Some(v)
}

/// `build_os_version`: numeric majors join with `.`, others (`Vista`) with a space.
fn os_version(c: &Client) -> Option<String> {
    let os = &c.os;
    let major = os.major.clone()?;
    let numeric = major
        .parse::<i64>()
        .map(|n| n.to_string() == major)
        .unwrap_or(false);
    let mut v = major;
    if let Some(minor) = &os.minor {
        v.push(if numeric { '.' } else { ' ' });
        v.push_str(minor);
        if let Some(patch) = &os.patch {
            v.push('.');
            v.push_str(patch);
            if let Some(pm) = &os.patch_minor {
                v.push('.');
                v.push_str(pm);
            }
        }
    }
    Some(v)
}

impl UserAgentFilter {
    fn parse(&self, ua: &str) -> Arc<Client> {
        let Some(cache) = &self.cache else {
            return Arc::new(self.rules.parse(ua));
        };
        if let Ok(mut c) = cache.lock() {
            if let Some(hit) = c.get(ua) {
                return hit.clone();
            }
        }
        let parsed = Arc::new(self.rules.parse(ua));
        if let Ok(mut c) = cache.lock() {
            c.put(ua.to_string(), parsed.clone());
        }
        parsed
    }

    fn write(&self, event: &mut Event, ua: &str, c: &Client) -> Result<(), SetError> {
        let f = &self.fields;
        let mut set = |r: &FieldRef, v: &str| event.set(r, Value::String(v.to_string()));
        set(&f.name, &c.user_agent.family)?;
        set(&f.device, &c.device)?;
        let u = &c.user_agent;
        for (r, v) in [
            (&f.major, &u.major),
            (&f.minor, &u.minor),
            (&f.patch, &u.patch),
        ] {
            if let Some(v) = v {
                set(r, v)?;
            }
        }
        if let Some(v) = ua_version(ua, c) {
            set(&f.version, &v)?;
        }
        let o = &c.os;
        for (r, v) in [
            (&f.os_major, &o.major),
            (&f.os_minor, &o.minor),
            (&f.os_patch, &o.patch),
        ] {
            if let Some(v) = v {
                set(r, v)?;
            }
        }
        let osv = os_version(c);
        if let Some(v) = &osv {
            set(&f.os_version, v)?;
        }
        set(&f.os_name, &o.family)?;
        if let Some(l) = &f.legacy_os {
            set(l, &o.family)?;
        }
        let full = match &osv {
            Some(v) => format!("{} {v}", o.family),
            None => o.family.clone(),
        };
        set(&f.os_full, &full)
    }
}

impl Filter for UserAgentFilter {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let ua = match event.get(&self.source) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => match a.first() {
                Some(Value::String(s)) => s.clone(),
                _ => return Outcome::Failure,
            },
            _ => return Outcome::Failure,
        };
        if ua.is_empty() {
            return Outcome::Failure;
        }
        let client = self.parse(&ua);
        if self.replace_source {
            event.remove(&self.source);
        }
        match self.write(event, &ua, &client) {
            Ok(()) => Outcome::Success,
            Err(e) => {
                tracing::warn!(error = %e, "useragent: cannot write the fields");
                Outcome::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests;
