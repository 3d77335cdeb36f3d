//! The `grok` filter: parses fields with named regex patterns (the stock Logstash
//! library, `patterns_dir` files, `pattern_definitions`) into event fields.

use crate::grok::engine::{EngineKind, EnginePref, MatchResult};
use crate::grok::expand::Coerce;
use crate::grok::library::{PatternLibrary, PatternSet};
use crate::grok::matcher::{coerce, FieldMatcher, Grok};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Key, Map, Value};
use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

/// The grok options (Logstash names, kinds and defaults).
pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "match",
        OptKind::Hash,
        "field => pattern or [patterns]; the legacy [field, pattern] array is accepted",
    )
    .default("{}"),
    OptSpec::new(
        "pattern_definitions",
        OptKind::Hash,
        "extra patterns NAME => regex for this filter",
    )
    .default("{}"),
    OptSpec::new(
        "patterns_dir",
        OptKind::Array,
        "directories or files with extra pattern definitions",
    )
    .default("[]"),
    OptSpec::new(
        "patterns_files_glob",
        OptKind::String,
        "glob selecting the files read in each patterns_dir",
    )
    .default("\"*\""),
    OptSpec::new(
        "break_on_match",
        OptKind::Boolean,
        "stop at the first matching pattern",
    )
    .default("true"),
    OptSpec::new(
        "named_captures_only",
        OptKind::Boolean,
        "capture only %{SYNTAX:SEMANTIC} (not bare %{SYNTAX})",
    )
    .default("true"),
    OptSpec::new(
        "keep_empty_captures",
        OptKind::Boolean,
        "keep captures that matched the empty string",
    )
    .default("false"),
    OptSpec::new(
        "overwrite",
        OptKind::Array,
        "fields replaced by a capture instead of turned into arrays",
    )
    .default("[]"),
    OptSpec::new(
        "target",
        OptKind::String,
        "field under which captures are placed",
    ),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when no pattern matches",
    )
    .default("[\"_grokparsefailure\"]"),
    OptSpec::new(
        "tag_on_timeout",
        OptKind::String,
        "tag added when matching ran out of time",
    )
    .default("\"_groktimeout\""),
    OptSpec::new(
        "timeout_millis",
        OptKind::Number,
        "time budget for matching (0 disables)",
    )
    .default("30000"),
    OptSpec::new(
        "timeout_scope",
        OptKind::Enum(&["pattern", "event"]),
        "whether the budget is per pattern or per event",
    )
    .default("\"pattern\""),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "stock pattern set: legacy names or ECS names",
    ),
];

/// A built grok filter.
pub struct GrokFilter {
    matches: Vec<(FieldRef, FieldMatcher)>,
    /// `slots[field][pattern][capture]`: where each capture is written.
    slots: Vec<Vec<Vec<Slot>>>,
    break_on_match: bool,
    keep_empty_captures: bool,
    tag_on_failure: Vec<String>,
    tag_on_timeout: String,
    /// Set when `timeout_scope => event`: the wall-clock budget shared by the patterns.
    event_budget: Option<Duration>,
}

/// Where one capture is written, resolved at build time: events are addressed with a
/// prepared path instead of a `FieldRef` built and walked twice per capture.
struct Slot {
    /// The key path below `fields` (or below `@metadata` when `meta`), `target` included.
    path: Box<[Key]>,
    meta: bool,
    /// Named in `overwrite`: replaces instead of turning into an array.
    overwrite: bool,
    /// The whole reference, for the rare placement through an existing array.
    full: FieldRef,
    /// `caps[j]`: how many distinct keys the pattern writes below `path[..=j]`, the
    /// capacity of that hash when this capture creates it (no regrowth, no waste).
    caps: Box<[usize]>,
}

impl Slot {
    fn new(field: &FieldRef, name: &str, target: Option<&FieldRef>, overwrite: &[String]) -> Slot {
        let full = match target {
            Some(t) => field.under(t),
            None => field.clone(),
        };
        let meta = full.is_metadata();
        let path = if meta { &full.path()[1..] } else { full.path() };
        Slot {
            path: path.iter().map(|k| Key::from(k.as_str())).collect(),
            meta,
            overwrite: overwrite.iter().any(|o| o == name),
            full,
            caps: Box::default(),
        }
    }

    /// The slots of one pattern, with the capacities of the hashes they create.
    fn for_pattern(g: &Grok, target: Option<&FieldRef>, overwrite: &[String]) -> Vec<Slot> {
        let mut slots: Vec<Slot> = (0..g.capture_count())
            .filter_map(|i| g.capture(i))
            .map(|(c, r)| Slot::new(r, &c.field, target, overwrite))
            .collect();
        let caps: Vec<Box<[usize]>> = slots
            .iter()
            .map(|s| {
                (0..s.path.len().saturating_sub(1))
                    .map(|j| {
                        let prefix = &s.path[..=j];
                        let mut keys: Vec<&str> = slots
                            .iter()
                            .filter(|o| o.meta == s.meta && o.path.len() > j + 1)
                            .filter(|o| &o.path[..=j] == prefix)
                            .map(|o| o.path[j + 1].as_str())
                            .collect();
                        keys.sort_unstable();
                        keys.dedup();
                        keys.len().max(1)
                    })
                    .collect()
            })
            .collect();
        for (s, c) in slots.iter_mut().zip(caps) {
            s.caps = c;
        }
        slots
    }
}

/// Per-thread buffers reused across events so matching allocates only what it keeps.
#[derive(Default)]
struct Scratch {
    /// `(pattern, capture, value)` of the captures to write, in match order.
    found: Vec<(u32, u32, Value)>,
    cands: Vec<bool>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = const {
        Cell::new(Scratch {
            found: Vec::new(),
            cands: Vec::new(),
        })
    };
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    build_with(args, ctx, EnginePref::Auto).map(|f| Box::new(f) as Box<dyn Filter>)
}

/// The `(field, pattern)` pairs of `match`, in order.
fn match_pairs(args: &Args) -> BuildResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<(String, String)>, field: &str, v: &Value| match v {
        Value::Array(pats) => {
            for p in pats {
                out.push((field.to_string(), p.to_logstash_string()));
            }
        }
        other => out.push((field.to_string(), other.to_logstash_string())),
    };
    match args.value("match") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m.iter() {
                push(&mut out, k, v);
            }
        }
        Some(Value::Array(a)) if a.len() % 2 == 0 => {
            for kv in a.chunks(2) {
                push(&mut out, &kv[0].to_logstash_string(), &kv[1]);
            }
        }
        Some(_) => {
            return Err(BuildError::option(
                "match",
                "expected a hash of field => pattern(s)",
            ))
        }
    }
    Ok(out)
}

/// Builds the filter with a chosen engine policy (benches and tests force engines).
pub fn build_with(args: &Args, ctx: &BuildContext, pref: EnginePref) -> BuildResult<GrokFilter> {
    let ecs = args.ecs(ctx)?;
    let mut lib = PatternLibrary::stock(if ecs.enabled() {
        PatternSet::EcsV1
    } else {
        PatternSet::Legacy
    });
    let glob = args.string("patterns_files_glob").unwrap_or_default();
    // Pattern files are read when the filter starts (Logstash: at register, not `-t`);
    // a missing one is reported with the patterns that may need it.
    let mut file_errors = Vec::new();
    for dir in args.strings("patterns_dir") {
        if let Err(e) = lib.add_path(Path::new(&dir), &glob) {
            file_errors.push(BuildError::file("patterns_dir", e));
        }
    }
    for (name, v) in args.hash("pattern_definitions") {
        lib.add(&name, &v.to_logstash_string());
    }
    let named_only = args.flag("named_captures_only");
    let mut errors = Vec::new();
    let mut matches: Vec<(FieldRef, Vec<Grok>)> = Vec::new();
    for (field, pattern) in match_pairs(args)? {
        let fref =
            FieldRef::parse(&field).map_err(|e| BuildError::option("match", e.to_string()))?;
        match Grok::compile(&pattern, &lib, named_only, pref) {
            Ok(g) => {
                tracing::debug!(field = %field, pattern = %pattern, engine = g.engine().as_str(), "grok pattern compiled");
                match matches.iter_mut().find(|(f, _)| *f == fref) {
                    Some((_, v)) => v.push(g),
                    None => matches.push((fref, vec![g])),
                }
            }
            Err(e) => errors.push(format!("pattern {pattern:?} for field {field:?}: {e}")),
        }
    }
    if !errors.is_empty() {
        let mut e = BuildError::option("match", errors.join("; "));
        // Names the unread pattern files may define are not known to be wrong.
        e.at_start = !file_errors.is_empty();
        file_errors.push(e);
    }
    if !file_errors.is_empty() {
        return Err(BuildError::many(file_errors));
    }
    let timeout = args.i64("timeout_millis").unwrap_or_default();
    let scope = args.string("timeout_scope").unwrap_or_default();
    let mut tag_on_failure = args.strings("tag_on_failure");
    if !args.contains("tag_on_failure") {
        tag_on_failure = vec!["_grokparsefailure".to_string()];
    }
    let overwrite = args.strings("overwrite");
    let target = args.field("target")?;
    let slots = matches
        .iter()
        .map(|(_, groks)| {
            groks
                .iter()
                .map(|g| Slot::for_pattern(g, target.as_ref(), &overwrite))
                .collect()
        })
        .collect();
    Ok(GrokFilter {
        matches: matches
            .into_iter()
            .map(|(f, g)| (f, FieldMatcher::new(g)))
            .collect(),
        slots,
        break_on_match: args.flag("break_on_match"),
        keep_empty_captures: args.flag("keep_empty_captures"),
        tag_on_failure,
        tag_on_timeout: args.string("tag_on_timeout").unwrap_or_default(),
        event_budget: (scope == "event" && timeout > 0)
            .then(|| Duration::from_millis(timeout as u64)),
    })
}

impl GrokFilter {
    /// Which engine runs each pattern: `(field, pattern, engine)`.
    pub fn engines(&self) -> Vec<(String, String, EngineKind)> {
        let mut out = Vec::new();
        for (f, m) in &self.matches {
            for g in &m.patterns {
                out.push((f.to_string(), g.source.clone(), g.engine()));
            }
        }
        out
    }

    /// Runs the patterns of one field over one input string, appending the captures to
    /// write to `s.found`. Returns whether one matched.
    fn match_text(
        &self,
        fi: usize,
        text: &str,
        start: Option<Instant>,
        s: &mut Scratch,
        timed_out: &mut bool,
    ) -> bool {
        let m = &self.matches[fi].1;
        m.candidates(text, &mut s.cands);
        let keep_empty = self.keep_empty_captures;
        let found = &mut s.found;
        let mut matched = false;
        for (pi, g) in m.patterns.iter().enumerate() {
            if !s.cands.get(pi).copied().unwrap_or(true) {
                continue;
            }
            if let (Some(s), Some(b)) = (start, self.event_budget) {
                if s.elapsed() > b {
                    *timed_out = true;
                    return matched;
                }
            }
            let before = found.len();
            let r = g.captures(text, |ci, c, v| {
                // Empty and absent captures are dropped here, before any allocation.
                let v = match v {
                    Some("") if c.coerce == Coerce::String && !keep_empty => return,
                    Some(s) => coerce(c.coerce, s),
                    None if keep_empty => Value::Null,
                    None => return,
                };
                found.push((pi as u32, ci as u32, v));
            });
            match r {
                MatchResult::Match => {
                    matched = true;
                    if self.break_on_match {
                        return true;
                    }
                }
                MatchResult::NoMatch => found.truncate(before),
                MatchResult::Timeout => {
                    found.truncate(before);
                    *timed_out = true;
                    return matched;
                }
            }
        }
        matched
    }

    /// Writes one capture: a new field is set; an existing string becomes an array of
    /// both, an array gets the value appended, other values stay (Logstash's rules);
    /// `overwrite` fields are replaced.
    fn place(event: &mut Event, slot: &Slot, value: Value) {
        let root = if slot.meta {
            event.metadata_mut()
        } else {
            event.fields_mut()
        };
        if let Err(value) = place_in(root, slot, value) {
            // Through an existing array: numeric keys index it, as `get_mut` does.
            match event.get_mut(&slot.full) {
                Some(Value::Array(a)) => a.push(value),
                Some(v @ Value::String(_)) => {
                    let old = std::mem::take(v);
                    *v = Value::Array(vec![old, value]);
                }
                // `set` cannot go through an array: nothing is written.
                _ => {}
            }
        }
    }
}

/// [`GrokFilter::place`] with one hash lookup per level. `Err` hands the value back when
/// the path runs through an existing array and the generic lookup must decide.
fn place_in(root: &mut Map, slot: &Slot, value: Value) -> Result<(), Value> {
    let overwrite = slot.overwrite;
    let cap = |j: usize| slot.caps.get(j).copied().unwrap_or(4);
    // `[@metadata]` itself is never settable from a capture.
    let Some((last, parents)) = slot.path.split_last() else {
        return Ok(());
    };
    // Positions, not entry handles: this runs for every capture of every event, and
    // small index lookups stay in registers where entry structs went through memory.
    let mut map = root;
    for (depth, key) in parents.iter().enumerate() {
        let Some(i) = map.get_index_of(key) else {
            // Nothing exists below: build the rest of the chain and insert it once.
            let mut inner = Map::with_first(cap(parents.len() - 1), last.clone(), value);
            for (j, k) in parents.iter().enumerate().skip(depth + 1).rev() {
                inner = Map::with_first(cap(j - 1), k.clone(), Value::from(inner));
            }
            map.insert_absent(key.clone(), Value::from(inner));
            return Ok(());
        };
        match map.get_index_mut(i).map(|(_, v)| v) {
            Some(Value::Object(m)) => map = m,
            Some(Value::Array(_)) if !overwrite => return Err(value),
            // `set` fails through a non-hash: nothing is written.
            _ => return Ok(()),
        }
    }
    let Some(i) = map.get_index_of(last) else {
        map.insert_absent(last.clone(), value);
        return Ok(());
    };
    let Some((_, slot)) = map.get_index_mut(i) else {
        return Ok(());
    };
    if overwrite {
        *slot = value;
        return Ok(());
    }
    match slot {
        Value::Null => *slot = value,
        Value::Array(a) => a.push(value),
        Value::String(_) => {
            let old = std::mem::take(slot);
            *slot = Value::Array(vec![old, value]);
        }
        // Logstash leaves other existing values alone.
        _ => {}
    }
    Ok(())
}

impl Filter for GrokFilter {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let start = self.event_budget.map(|_| Instant::now());
        let mut matched = false;
        let mut timed_out = false;
        let mut s = SCRATCH.with(Cell::take);
        for fi in 0..self.matches.len() {
            s.found.clear();
            let field_matched = match event.get(&self.matches[fi].0) {
                None => false,
                Some(Value::Array(items)) => {
                    let mut any = false;
                    for item in items {
                        let text = match item {
                            Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                            other => std::borrow::Cow::Owned(other.to_logstash_string()),
                        };
                        any |= self.match_text(fi, &text, start, &mut s, &mut timed_out);
                        if timed_out {
                            break;
                        }
                    }
                    any
                }
                Some(Value::String(t)) => self.match_text(fi, t, start, &mut s, &mut timed_out),
                Some(other) => {
                    let text = other.to_logstash_string();
                    self.match_text(fi, &text, start, &mut s, &mut timed_out)
                }
            };
            let slots = &self.slots[fi];
            for (pi, ci, v) in s.found.drain(..) {
                if let Some(slot) = slots.get(pi as usize).and_then(|p| p.get(ci as usize)) {
                    Self::place(event, slot, v);
                }
            }
            if timed_out {
                break;
            }
            if field_matched {
                matched = true;
                if self.break_on_match {
                    break;
                }
            }
        }
        SCRATCH.with(|c| c.set(s));
        if timed_out {
            event.add_tag(&self.tag_on_timeout);
            return Outcome::Failure;
        }
        if matched {
            Outcome::Success
        } else {
            for t in &self.tag_on_failure {
                event.add_tag(t);
            }
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, Value)]) -> Args {
        let mut a = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS);
        for (k, v) in pairs {
            a = a.with(k, v.clone());
        }
        a
    }

    fn matcher(field: &str, pat: &str) -> Value {
        let mut m = Map::default();
        m.insert(field.to_string(), Value::from(pat));
        Value::from(m)
    }

    fn run(f: &dyn Filter, e: &mut Event) -> Outcome {
        f.apply(e, &mut FilterContext::default())
    }

    #[test]
    fn invalid_regex_and_unknown_pattern_are_build_errors() {
        let ctx = BuildContext::default();
        let err = build(
            &args(&[("match", matcher("message", "(unclosed %{WORD:w}"))]),
            &ctx,
        )
        .err()
        .expect("must fail");
        assert_eq!(err.option.as_deref(), Some("match"));
        assert!(
            err.message.contains("(unclosed %{WORD:w}"),
            "{}",
            err.message
        );
        let err = build(
            &args(&[("match", matcher("message", "%{NO_SUCH_PATTERN:x}"))]),
            &ctx,
        )
        .err()
        .expect("must fail");
        assert!(err.message.contains("NO_SUCH_PATTERN"), "{}", err.message);
    }

    #[test]
    fn captures_types_targets_and_arrays() {
        let ctx = BuildContext::default();
        let f = build(
            &args(&[(
                "match",
                matcher("message", "%{INT:[a][n]:int} %{WORD:message}"),
            )]),
            &ctx,
        )
        .expect("builds");
        let mut e = Event::from_message("42 word");
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(
            e.get(&FieldRef::parse("[a][n]").expect("ref")),
            Some(&Value::Integer(42))
        );
        assert_eq!(
            e.get(&FieldRef::top("message")),
            Some(&Value::Array(vec![
                Value::from("42 word"),
                Value::from("word")
            ]))
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        let ctx = BuildContext::default();
        let f = build(
            &args(&[("match", matcher("message", "%{COMBINEDAPACHELOG}"))]),
            &ctx,
        )
        .expect("builds");
        let mut missing = Event::new();
        assert_eq!(run(f.as_ref(), &mut missing), Outcome::Failure);
        assert!(missing.has_tag("_grokparsefailure"));
        let mut m = Map::default();
        m.insert("message", Value::Integer(7));
        assert_eq!(run(f.as_ref(), &mut Event::from_map(m)), Outcome::Failure);
        let mut obj = Map::default();
        obj.insert("message", Value::from(Map::default()));
        assert_eq!(run(f.as_ref(), &mut Event::from_map(obj)), Outcome::Failure);
        let lossy = String::from_utf8_lossy(b"1.2.3.4 - - [\xff\xfe] \"GET /\xc3 HTTP/1.1\" 200 1")
            .into_owned();
        assert_eq!(
            run(f.as_ref(), &mut Event::from_message(lossy)),
            Outcome::Failure
        );
        let big = format!("{}{}", "x ".repeat(512 * 1024), "end");
        let mut e = Event::from_message(big);
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Failure);
        let f = build(
            &args(&[("match", matcher("message", "%{GREEDYDATA:rest}"))]),
            &ctx,
        )
        .expect("builds");
        let mut e = Event::from_message("é".repeat(1 << 19));
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
    }

    #[test]
    fn catastrophic_pattern_tags_timeout() {
        let ctx = BuildContext::default();
        let f = build(
            &args(&[("match", matcher("message", "^(?>x?)(\\w+\\s?)*$"))]),
            &ctx,
        )
        .expect("builds");
        let text = format!("{}!", "aaa ".repeat(2000));
        let mut e = Event::from_message(text);
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Failure);
        assert!(e.has_tag("_groktimeout"), "{:?}", e.tags());
        assert!(!e.has_tag("_grokparsefailure"));
    }

    #[test]
    fn ecs_selects_the_stock_set() {
        let f = build(
            &args(&[
                ("match", matcher("message", "%{SYSLOGPROG}")),
                ("ecs_compatibility", Value::from("disabled")),
            ]),
            &BuildContext::default(),
        )
        .expect("builds");
        let mut e = Event::from_message("sshd[12]");
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(e.get(&FieldRef::top("program")), Some(&Value::from("sshd")));
        let f = build(
            &args(&[("match", matcher("message", "%{SYSLOGPROG}"))]),
            &BuildContext::default(),
        )
        .expect("builds");
        let mut e = Event::from_message("sshd[12]");
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(
            e.get(&FieldRef::parse("[process][name]").expect("ref")),
            Some(&Value::from("sshd"))
        );
    }

    #[test]
    fn placement_follows_logstash_rules() {
        let ctx = BuildContext::default();
        let r = |s: &str| FieldRef::parse(s).expect("ref");
        let f = build(
            &args(&[
                (
                    "match",
                    matcher(
                        "message",
                        "%{WORD:[a][b]} %{WORD:[l][0]} %{WORD:[s][x]} %{WORD:[o][p]} %{WORD:n} %{WORD:[@metadata][m]}",
                    ),
                ),
                ("overwrite", Value::Array(vec![Value::from("[o][p]")])),
            ]),
            &ctx,
        )
        .expect("builds");
        let mut m = Map::default();
        m.insert("message", Value::from("b1 l1 s1 p1 n1 m1"));
        // An existing string under an array index: turned into an array through it.
        m.insert("l", Value::Array(vec![Value::from("old")]));
        // A scalar where a hash is needed: nothing is written.
        m.insert("s", Value::Integer(3));
        let mut o = Map::default();
        o.insert("p", Value::from("old"));
        m.insert("o", Value::from(o));
        m.insert("n", Value::Integer(1));
        let mut e = Event::from_map(m);
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(e.get(&r("[a][b]")), Some(&Value::from("b1")));
        assert_eq!(
            e.get(&r("[l][0]")),
            Some(&Value::Array(vec![Value::from("old"), Value::from("l1")]))
        );
        assert_eq!(e.get(&r("s")), Some(&Value::Integer(3)));
        assert_eq!(e.get(&r("[o][p]")), Some(&Value::from("p1")));
        assert_eq!(e.get(&r("n")), Some(&Value::Integer(1)));
        assert_eq!(e.get(&r("[@metadata][m]")), Some(&Value::from("m1")));
        // Key order: new hashes come after the existing fields, in capture order.
        let keys: Vec<&str> = e.fields().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.last(), Some(&"a"));
    }

    #[test]
    fn target_and_empty_captures() {
        let ctx = BuildContext::default();
        let r = |s: &str| FieldRef::parse(s).expect("ref");
        let pat = "%{WORD:[x][y]}-%{DATA:e}-(?:%{WORD:opt})?$";
        let f = build(
            &args(&[
                ("match", matcher("message", pat)),
                ("target", Value::from("[t]")),
            ]),
            &ctx,
        )
        .expect("builds");
        let mut e = Event::from_message("w--");
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(e.get(&r("[t][x][y]")), Some(&Value::from("w")));
        assert_eq!(e.get(&r("[t][e]")), None);
        assert_eq!(e.get(&r("[t][opt]")), None);
        let f = build(
            &args(&[
                ("match", matcher("message", pat)),
                ("keep_empty_captures", Value::Bool(true)),
            ]),
            &ctx,
        )
        .expect("builds");
        let mut e = Event::from_message("w--");
        assert_eq!(run(f.as_ref(), &mut e), Outcome::Success);
        assert_eq!(e.get(&r("e")), Some(&Value::from("")));
        assert_eq!(e.get(&r("opt")), Some(&Value::Null));
    }
}
