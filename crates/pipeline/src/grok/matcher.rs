//! Compiled grok patterns and the per-field matcher that picks candidate patterns with a
//! `RegexSet` prefilter before running the full (capturing) engines.

use super::engine::{build_rust, Engine, EngineError, EngineKind, EnginePref, MatchResult};
use super::expand::{expand, Capture, Coerce, ExpandError};
use super::library::PatternLibrary;
use super::translate::{translate, Dialect};
use crate::ruby::{ruby_to_f, ruby_to_i};
use logstash_mesos_core::FieldRef;

/// One compiled grok pattern.
pub struct Grok {
    /// The pattern as written in the config.
    pub source: String,
    engine: Engine,
    captures: Vec<(Capture, FieldRef)>,
    /// A `regex`-crate pattern matching a superset of this one (look-arounds dropped,
    /// atomic groups made ordinary), usable as a sound prefilter.
    relaxed: Option<String>,
}

/// Why a pattern could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{0}")]
    Expand(#[from] ExpandError),
    #[error("invalid regex: {0}")]
    Regex(#[source] EngineError),
}

impl Grok {
    pub fn compile(
        pattern: &str,
        lib: &PatternLibrary,
        named_captures_only: bool,
        pref: EnginePref,
    ) -> Result<Grok, CompileError> {
        let ex = expand(pattern, lib, named_captures_only)?;
        let engine =
            Engine::compile(&ex.regex, ex.captures.len(), pref).map_err(CompileError::Regex)?;
        let relaxed = translate(&ex.regex, Dialect::Relaxed).ok();
        let captures = ex
            .captures
            .into_iter()
            .map(|c| {
                let r = FieldRef::parse(&c.field).unwrap_or_else(|_| FieldRef::top(&c.field));
                (c, r)
            })
            .collect();
        Ok(Grok {
            source: pattern.to_string(),
            engine,
            captures,
            relaxed,
        })
    }

    pub fn engine(&self) -> EngineKind {
        self.engine.kind()
    }

    /// Matches `text`, calling `each(index, capture, value)` for every capture (`None`
    /// when its group did not take part).
    pub fn captures<'t>(
        &self,
        text: &'t str,
        mut each: impl FnMut(usize, &Capture, Option<&'t str>),
    ) -> MatchResult {
        self.engine.captures(text, |i, span| {
            if let Some((c, _)) = self.captures.get(i) {
                each(i, c, span.and_then(|(s, e)| text.get(s..e)));
            }
        })
    }

    pub fn capture_count(&self) -> usize {
        self.captures.len()
    }

    /// Capture `i` and its parsed field reference.
    pub fn capture(&self, i: usize) -> Option<(&Capture, &FieldRef)> {
        self.captures.get(i).map(|(c, r)| (c, r))
    }
}

/// The patterns of one `match` field, in order, with a prefilter.
pub struct FieldMatcher {
    pub patterns: Vec<Grok>,
    prefilter: Option<Prefilter>,
}

struct Prefilter {
    set: regex::RegexSet,
    /// Set member → pattern index.
    members: Vec<usize>,
    /// Patterns the set cannot judge (always tried).
    always: Vec<bool>,
}

impl FieldMatcher {
    pub fn new(patterns: Vec<Grok>) -> FieldMatcher {
        let prefilter = Self::build_prefilter(&patterns);
        FieldMatcher {
            patterns,
            prefilter,
        }
    }

    fn build_prefilter(patterns: &[Grok]) -> Option<Prefilter> {
        // A single pattern runs directly: a set scan would only add work on matching lines.
        if patterns.len() <= 1 {
            return None;
        }
        let mut members = Vec::new();
        let mut sources = Vec::new();
        let mut always = vec![false; patterns.len()];
        for (i, g) in patterns.iter().enumerate() {
            match g.relaxed.as_deref().filter(|r| build_rust(r).is_ok()) {
                Some(r) => {
                    members.push(i);
                    sources.push(r.to_string());
                }
                None => always[i] = true,
            }
        }
        if sources.is_empty() {
            return None;
        }
        let set = regex::RegexSetBuilder::new(&sources)
            .dot_matches_new_line(true)
            .multi_line(true)
            .size_limit(64 << 20)
            .dfa_size_limit(32 << 20)
            .build()
            .ok()?;
        Some(Prefilter {
            set,
            members,
            always,
        })
    }

    /// Which patterns may match `text`, in order (a bitmap over `patterns`; empty when
    /// every pattern is a candidate).
    pub fn candidates(&self, text: &str, out: &mut Vec<bool>) {
        out.clear();
        match &self.prefilter {
            // Callers treat a missing entry as a candidate: nothing to compute.
            None => {}
            Some(p) => {
                out.extend_from_slice(&p.always);
                if p.members.len() == 1 {
                    if p.set.is_match(text) {
                        out[p.members[0]] = true;
                    }
                } else {
                    for m in p.set.matches(text).iter() {
                        out[p.members[m]] = true;
                    }
                }
            }
        }
    }
}

/// Converts a captured string as the capture's type says.
pub fn coerce(c: Coerce, s: &str) -> logstash_mesos_core::Value {
    use logstash_mesos_core::Value;
    match c {
        Coerce::String => Value::String(s.to_string()),
        Coerce::Int => ruby_to_i(s),
        Coerce::Float => Value::Float(ruby_to_f(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grok::library::PatternSet;

    #[test]
    fn prefilter_selects_candidates_soundly() {
        let lib = PatternLibrary::stock(PatternSet::Legacy);
        let pats = ["%{IP:ip} x", "%{WORD:w} y", "(?>a+)z"];
        let groks: Vec<Grok> = pats
            .iter()
            .map(|p| Grok::compile(p, &lib, true, EnginePref::Auto).unwrap())
            .collect();
        assert_eq!(groks[0].engine(), EngineKind::Pcre2);
        assert_eq!(groks[1].engine(), EngineKind::Regex);
        let m = FieldMatcher::new(groks);
        let mut c = Vec::new();
        m.candidates("10.0.0.1 x", &mut c);
        assert_eq!(c, [true, false, false]);
        m.candidates("hello y", &mut c);
        assert_eq!(c, [false, true, false]);
        m.candidates("aaz", &mut c);
        assert_eq!(c, [false, false, true]);
    }
}
