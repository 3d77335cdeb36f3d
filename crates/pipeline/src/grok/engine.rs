//! The regex engines a grok pattern may run on, fastest first: the `regex` crate (linear
//! time), PCRE2 with JIT, Oniguruma (the engine Logstash's Joni mirrors) as the last
//! resort for syntax only it understands.

use super::translate::{translate, Dialect};
use std::cell::RefCell;
use thread_local::ThreadLocal;

/// Capture buffers, one per worker thread: a shared pool behind a lock cost two atomic
/// round trips per match, which showed in profiles at a million matches per second.
type PerThread<T> = ThreadLocal<RefCell<Option<T>>>;

/// Runs `f` with this thread's buffer (made by `make` on first use). A nested call on
/// the same thread (not done today) gets a fresh buffer instead of failing.
fn with_locs<T: Send, R>(
    tl: &PerThread<T>,
    make: impl Fn() -> T,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let cell = tl.get_or(|| RefCell::new(None));
    match cell.try_borrow_mut() {
        Ok(mut slot) => f(slot.get_or_insert_with(&make)),
        Err(_) => f(&mut make()),
    }
}

/// Which engine runs a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Regex,
    Pcre2,
    Onig,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Regex => "regex",
            EngineKind::Pcre2 => "pcre2-jit",
            EngineKind::Onig => "oniguruma",
        }
    }
}

/// Which engines to consider (tests and benches force one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EnginePref {
    #[default]
    Auto,
    Only(EngineKind),
}

/// The result of one match attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchResult {
    NoMatch,
    Match,
    /// The backtracking budget ran out (catastrophic backtracking).
    Timeout,
}

/// Backtracking budget for PCRE2/Oniguruma, so a pathological pattern cannot stall a
/// worker; PCRE2's own default match limit is the same figure.
const RETRY_LIMIT: u32 = 10_000_000;

// One per compiled pattern, built once and never moved on the match path: the size of the
// per-thread buffer tables does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Regex {
        re: regex::Regex,
        pool: PerThread<regex::CaptureLocations>,
    },
    Pcre2 {
        re: Pcre2Regex,
        /// The same pattern compiled without UTF mode, for ASCII subjects: PCRE2 then
        /// skips its UTF-8 validity scan of the subject, which showed in profiles.
        ascii: Option<Pcre2Regex>,
    },
    Onig {
        re: onig::Regex,
    },
}

struct Pcre2Regex {
    re: pcre2::bytes::Regex,
    pool: PerThread<pcre2::bytes::CaptureLocations>,
}

impl Pcre2Regex {
    fn build(pattern: &str, utf: bool) -> Result<Pcre2Regex, pcre2::Error> {
        let re = pcre2::bytes::RegexBuilder::new()
            .utf(utf)
            .dotall(true)
            .multi_line(true)
            .jit_if_available(true)
            .max_jit_stack_size(Some(8 << 20))
            .build(pattern)?;
        Ok(Pcre2Regex {
            re,
            pool: ThreadLocal::new(),
        })
    }
}

/// The pattern to compile without UTF mode for ASCII subjects, when that provably
/// matches the same (else `None`). On ASCII text a non-ASCII pattern character never
/// matches in either mode, but without UTF it is several bytes: each is wrapped in
/// `(?:...)` so a quantifier after it still applies to the whole character. Inside a
/// class its bytes are all non-ASCII, so the class keeps its ASCII members. Caseless
/// matching is excluded: there `ſ` matches `s` in UTF mode only.
fn ascii_twin(t: &str) -> Option<String> {
    if t.is_ascii() {
        return Some(t.to_string());
    }
    if t.contains("\\Q") || t.contains("(*") || t.contains("(?#") || has_caseless_flag(t) {
        return None;
    }
    let mut out = String::with_capacity(t.len() + 32);
    let mut chars = t.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                if !n.is_ascii() && !in_class {
                    out.push_str("(?:\\");
                    out.push(n);
                    out.push(')');
                } else {
                    out.push('\\');
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                // A `]` right after the opening bracket is a literal member.
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class `[:name:]` inside a class.
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c if !c.is_ascii() && !in_class => {
                out.push_str("(?:");
                out.push(c);
                out.push(')');
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Whether an inline option group turns on caseless matching (`(?i)`, `(?mi:...)`).
fn has_caseless_flag(t: &str) -> bool {
    t.match_indices("(?").any(|(i, _)| {
        t[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '^')
            .any(|c| c == 'i')
    })
}

/// A compiled regex with named groups `_g0.._gN`.
pub struct Engine {
    inner: Inner,
    /// Engine group number of capture `i` (`_g{i}`).
    groups: Vec<Option<usize>>,
}

fn group_index<'a>(
    names: impl Iterator<Item = (usize, Option<&'a str>)>,
    n: usize,
) -> Vec<Option<usize>> {
    let mut groups = vec![None; n];
    for (i, name) in names {
        if let Some(idx) = name
            .and_then(|nm| nm.strip_prefix("_g"))
            .and_then(|d| d.parse::<usize>().ok())
        {
            if idx < n {
                groups[idx] = Some(i);
            }
        }
    }
    groups
}

/// Builds a `regex`-crate regex with Ruby's `.`/`^`/`$` semantics.
pub fn build_rust(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .dot_matches_new_line(true)
        .multi_line(true)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
}

/// Why no engine compiled a pattern: the messages of the engines that rejected it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The Rust engine rejected it and no other engine was allowed.
    #[error("no engine accepted the pattern")]
    NoEngine,
    /// PCRE2 (translation or compilation) rejected it.
    #[error("{0}")]
    Pcre2(String),
    /// Oniguruma rejected it (the only engine tried after the Rust one, or the one chosen).
    #[error("{0}")]
    Onig(String),
    /// PCRE2, then Oniguruma rejected it.
    #[error("{pcre2}; oniguruma: {onig}")]
    Both { pcre2: String, onig: String },
}

impl Engine {
    /// Compiles `expanded` (Oniguruma syntax) with `captures` named groups on the first
    /// engine that accepts it. The error is the one of the most capable engine tried.
    pub fn compile(
        expanded: &str,
        captures: usize,
        pref: EnginePref,
    ) -> Result<Engine, EngineError> {
        let allowed = |k| pref == EnginePref::Auto || pref == EnginePref::Only(k);
        if allowed(EngineKind::Regex) {
            if let Ok(t) = translate(expanded, Dialect::Rust) {
                if let Ok(re) = build_rust(&t) {
                    let groups = group_index(re.capture_names().enumerate(), captures);
                    return Ok(Engine {
                        inner: Inner::Regex {
                            re,
                            pool: ThreadLocal::new(),
                        },
                        groups,
                    });
                }
            }
        }
        let mut last_err = EngineError::NoEngine;
        if allowed(EngineKind::Pcre2) {
            match translate(expanded, Dialect::Pcre2) {
                Ok(t) => match Pcre2Regex::build(&t, true) {
                    Ok(re) => {
                        let names = re.re.capture_names().iter().map(|n| n.as_deref());
                        let groups = group_index(names.enumerate(), captures);
                        let ascii = ascii_twin(&t).and_then(|a| Pcre2Regex::build(&a, false).ok());
                        return Ok(Engine {
                            inner: Inner::Pcre2 { re, ascii },
                            groups,
                        });
                    }
                    Err(e) => last_err = EngineError::Pcre2(e.to_string()),
                },
                Err(e) => last_err = EngineError::Pcre2(e.to_string()),
            }
        }
        if allowed(EngineKind::Onig) {
            let opts = onig::RegexOptions::REGEX_OPTION_MULTILINE
                | onig::RegexOptions::REGEX_OPTION_CAPTURE_GROUP;
            match onig::Regex::with_options(expanded, opts, onig::Syntax::ruby()) {
                Ok(re) => {
                    let mut groups = vec![None; captures];
                    re.foreach_name(|name, idxs| {
                        if let Some(i) = name
                            .strip_prefix("_g")
                            .and_then(|d| d.parse::<usize>().ok())
                        {
                            if i < captures {
                                groups[i] = idxs.first().map(|g| *g as usize);
                            }
                        }
                        true
                    });
                    return Ok(Engine {
                        inner: Inner::Onig { re },
                        groups,
                    });
                }
                Err(e) => {
                    let onig = e.description().to_string();
                    last_err = match last_err {
                        EngineError::Pcre2(pcre2) if pref == EnginePref::Auto => {
                            EngineError::Both { pcre2, onig }
                        }
                        _ => EngineError::Onig(onig),
                    };
                }
            }
        }
        Err(last_err)
    }

    pub fn kind(&self) -> EngineKind {
        match self.inner {
            Inner::Regex { .. } => EngineKind::Regex,
            Inner::Pcre2 { .. } => EngineKind::Pcre2,
            Inner::Onig { .. } => EngineKind::Onig,
        }
    }

    /// Matches `text`; on a match calls `each(capture_index, Some(span) | None)` for every
    /// capture, in order.
    pub fn captures(
        &self,
        text: &str,
        mut each: impl FnMut(usize, Option<(usize, usize)>),
    ) -> MatchResult {
        match &self.inner {
            Inner::Regex { re, pool } => with_locs(
                pool,
                || re.capture_locations(),
                |locs| {
                    if re.captures_read(locs, text).is_none() {
                        return MatchResult::NoMatch;
                    }
                    for (i, g) in self.groups.iter().enumerate() {
                        each(i, g.and_then(|g| locs.get(g)));
                    }
                    MatchResult::Match
                },
            ),
            Inner::Pcre2 { re, ascii } => {
                let Pcre2Regex { re, pool } = match ascii {
                    Some(a) if text.is_ascii() => a,
                    _ => re,
                };
                with_locs(
                    pool,
                    || re.capture_locations(),
                    |locs| {
                        match re.captures_read(locs, text.as_bytes()) {
                            Ok(Some(_)) => {
                                for (i, g) in self.groups.iter().enumerate() {
                                    each(i, g.and_then(|g| locs.get(g)));
                                }
                                MatchResult::Match
                            }
                            Ok(None) => MatchResult::NoMatch,
                            // Match, depth, heap and JIT-stack limits: the budget ran out.
                            Err(e) if matches!(e.code(), -47 | -52 | -63 | -46) => {
                                MatchResult::Timeout
                            }
                            Err(_) => MatchResult::NoMatch,
                        }
                    },
                )
            }
            Inner::Onig { re } => {
                let mut region = onig::Region::new();
                let mut param = onig::MatchParam::default();
                param.set_retry_limit_in_match(RETRY_LIMIT);
                let r = re.search_with_param(
                    text,
                    0,
                    text.len(),
                    onig::SearchOptions::SEARCH_OPTION_NONE,
                    Some(&mut region),
                    param,
                );
                match r {
                    Ok(Some(_)) => {
                        for (i, g) in self.groups.iter().enumerate() {
                            each(i, g.and_then(|g| region.pos(g)));
                        }
                        MatchResult::Match
                    }
                    Ok(None) => MatchResult::NoMatch,
                    Err(_) => MatchResult::Timeout,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(e: &Engine, text: &str) -> (MatchResult, Vec<Option<(usize, usize)>>) {
        let mut v = Vec::new();
        let r = e.captures(text, |_, s| v.push(s));
        (r, v)
    }

    #[test]
    fn picks_fastest_engine_that_accepts() {
        let e = Engine::compile("(?<_g0>\\h+)", 1, EnginePref::Auto).unwrap();
        assert_eq!(e.kind(), EngineKind::Regex);
        let e = Engine::compile("(?<![0-9])(?<_g0>\\d+)", 1, EnginePref::Auto).unwrap();
        assert_eq!(e.kind(), EngineKind::Pcre2);
        assert_eq!(spans(&e, "a12").1, vec![Some((1, 3))]);
        let e = Engine::compile("(?~ab)(?<_g0>x)", 1, EnginePref::Auto).unwrap();
        assert_eq!(e.kind(), EngineKind::Onig);
        assert_eq!(spans(&e, "cx"), (MatchResult::Match, vec![Some((1, 2))]));
    }

    #[test]
    fn all_engines_agree_on_ruby_semantics() {
        for k in [EngineKind::Regex, EngineKind::Pcre2, EngineKind::Onig] {
            let e = Engine::compile("a(?<_g0>.*)b|(?<_g1>z)", 2, EnginePref::Only(k)).unwrap();
            assert_eq!(
                spans(&e, "xa\nyb"),
                (MatchResult::Match, vec![Some((2, 4)), None]),
                "{k:?}"
            );
            assert_eq!(spans(&e, "none").0, MatchResult::NoMatch);
        }
    }

    #[test]
    fn pcre2_ascii_and_utf_subjects_agree() {
        let e = Engine::compile(
            "(?<_g0>.)(?<_g1>\\S+)$",
            2,
            EnginePref::Only(EngineKind::Pcre2),
        )
        .unwrap();
        assert_eq!(spans(&e, "ab c").1, vec![Some((2, 3)), Some((3, 4))]);
        assert_eq!(spans(&e, "a é").1, vec![Some((1, 2)), Some((2, 4))]);
        // A non-ASCII pattern keeps UTF mode for every subject.
        // A quantifier after a non-ASCII character applies to the whole character.
        let e = Engine::compile(
            "(?<_g0>Mä?rz|[ä-]+)",
            1,
            EnginePref::Only(EngineKind::Pcre2),
        )
        .unwrap();
        assert!(matches!(&e.inner, Inner::Pcre2 { ascii: Some(_), .. }));
        assert_eq!(spans(&e, "x Mrz").1, vec![Some((2, 5))]);
        assert_eq!(spans(&e, "x März").1, vec![Some((2, 7))]);
        assert_eq!(spans(&e, "x --").1, vec![Some((2, 4))]);
        // Caseless: a non-ASCII pattern character may match ASCII (`ſ` is `s`).
        let e = Engine::compile("(?i)(?<_g0>ſ)", 1, EnginePref::Only(EngineKind::Pcre2)).unwrap();
        assert!(matches!(&e.inner, Inner::Pcre2 { ascii: None, .. }));
        assert_eq!(
            ascii_twin("a[^]ä[:alpha:]]ü\\é"),
            Some("a[^]ä[:alpha:]](?:ü)(?:\\é)".into())
        );
    }

    #[test]
    fn catastrophic_backtracking_times_out() {
        for k in [EngineKind::Pcre2, EngineKind::Onig] {
            let e = Engine::compile("^(\\w+\\s?)*$", 0, EnginePref::Only(k)).unwrap();
            let text = format!("{}!", "a".repeat(5000).replace("aaaa", "aaa "));
            assert_eq!(spans(&e, &text).0, MatchResult::Timeout, "{k:?}");
        }
    }
}
