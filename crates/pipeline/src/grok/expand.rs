//! Expansion of `%{SYNTAX:SEMANTIC:type}` references into one Oniguruma-syntax regex.
//!
//! Every capture gets a group named `_g<N>` (N indexes [`Capture`]s), so field names
//! that are not valid group names (`[source][address]`, `foo-bar`) and duplicates are
//! harmless to every engine.

use super::library::PatternLibrary;
use std::collections::HashMap;

/// How a captured string is converted (`%{NUMBER:n:int}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coerce {
    String,
    Int,
    Float,
}

/// One named capture of an expanded pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// The field name as written (`foo`, `[a][b]`).
    pub field: String,
    pub coerce: Coerce,
}

/// The result of expanding a grok pattern.
#[derive(Clone, Debug)]
pub struct Expanded {
    /// Oniguruma syntax; captures are `(?<_gN>...)`.
    pub regex: String,
    pub captures: Vec<Capture>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error("unknown pattern %{{{0}}}")]
    Unknown(String),
    #[error("pattern %{{{0}}} refers to itself (recursion too deep)")]
    TooDeep(String),
    #[error("unterminated %{{ in pattern")]
    Unterminated,
}

const MAX_DEPTH: usize = 64;

/// Expands `pattern` with `lib`. With `named_captures_only`, `%{NAME}` without a
/// semantic is not captured (Logstash's default).
pub fn expand(
    pattern: &str,
    lib: &PatternLibrary,
    named_captures_only: bool,
) -> Result<Expanded, ExpandError> {
    let mut ex = Expander {
        lib,
        inline: HashMap::new(),
        named_only: named_captures_only,
        captures: Vec::new(),
    };
    let mut out = String::with_capacity(pattern.len() * 4);
    ex.expand_into(pattern, &mut out, 0, "")?;
    Ok(Expanded {
        regex: out,
        captures: ex.captures,
    })
}

struct Expander<'a> {
    lib: &'a PatternLibrary,
    inline: HashMap<String, String>,
    named_only: bool,
    captures: Vec<Capture>,
}

/// A parsed `%{...}` reference.
struct Reference<'p> {
    name: &'p str,
    subname: Option<&'p str>,
    definition: Option<&'p str>,
    /// Bytes consumed from the `%`.
    len: usize,
}

fn is_subname_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'@' | b'[' | b']' | b'_' | b':' | b'.' | b'-' | b'\\' | b'^' | b'`'
        )
}

/// Parses the reference at `s` (which starts with `%{`); `None` when it is not one
/// (jls-grok leaves such text alone).
fn parse_reference(s: &str) -> Option<Reference<'_>> {
    let b = s.as_bytes();
    let mut i = 2;
    let start = i;
    // The name stops at brackets too, so `%{IP:[a][b]}` splits at the colon.
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let name = &s[start..i];
    let mut subname = None;
    if i < b.len() && b[i] == b':' {
        let s0 = i + 1;
        let mut j = s0;
        while j < b.len() && is_subname_byte(b[j]) {
            j += 1;
        }
        if j > s0 {
            subname = Some(&s[s0..j]);
            i = j;
        }
    }
    let mut definition = None;
    if i < b.len() && b[i] == b'=' {
        let d0 = i + 1;
        let mut j = d0;
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 1,
                b'{' => depth += 1,
                b'}' if depth == 0 => break,
                b'}' => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        let j = j.min(b.len());
        definition = Some(&s[d0..j]);
        i = j;
    }
    // Anything else up to the closing brace is ignored, as jls-grok's `[^}]*` does.
    let close = s[i..].find('}')? + i;
    Some(Reference {
        name,
        subname,
        definition,
        len: close + 1,
    })
}

/// Finds a raw named group `(?<name>` or `(?'name'` at the start of `s`; returns the
/// name and the length of the opener.
fn raw_named_group(s: &str) -> Option<(&str, usize)> {
    let rest = s.strip_prefix("(?")?;
    let (close, rest) = match rest.as_bytes().first()? {
        b'<' => ('>', &rest[1..]),
        b'\'' => ('\'', &rest[1..]),
        b'P' if rest.starts_with("P<") => ('>', &rest[2..]),
        _ => return None,
    };
    if rest.starts_with('=') || rest.starts_with('!') {
        return None;
    }
    let end = rest.find(close)?;
    let name = &rest[..end];
    if name.is_empty() || name.contains(['(', ')']) {
        return None;
    }
    Some((name, s.len() - rest.len() + end + 1))
}

impl Expander<'_> {
    fn expand_into(
        &mut self,
        pat: &str,
        out: &mut String,
        depth: usize,
        within: &str,
    ) -> Result<(), ExpandError> {
        if depth > MAX_DEPTH {
            return Err(ExpandError::TooDeep(within.to_string()));
        }
        let mut i = 0;
        let bytes = pat.as_bytes();
        while i < pat.len() {
            let b = bytes[i];
            if b == b'\\' {
                // Copy the escape with the character it escapes.
                let next = pat[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&pat[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            if b == b'%' && bytes.get(i + 1) == Some(&b'{') {
                if let Some(r) = parse_reference(&pat[i..]) {
                    self.expand_reference(&r, out, depth)?;
                    i += r.len;
                    continue;
                }
            }
            if b == b'(' {
                if let Some((name, len)) = raw_named_group(&pat[i..]) {
                    let idx = self.captures.len();
                    self.captures.push(Capture {
                        field: name.to_string(),
                        coerce: Coerce::String,
                    });
                    out.push_str("(?<_g");
                    out.push_str(&idx.to_string());
                    out.push('>');
                    i += len;
                    continue;
                }
            }
            let ch = pat[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&pat[i..i + ch]);
            i += ch;
        }
        Ok(())
    }

    fn expand_reference(
        &mut self,
        r: &Reference<'_>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), ExpandError> {
        if let Some(def) = r.definition {
            self.inline.insert(r.name.to_string(), def.to_string());
        }
        let body = match self.inline.get(r.name) {
            Some(p) => p.clone(),
            None => match self.lib.get(r.name) {
                Some(p) => p.to_string(),
                None => return Err(ExpandError::Unknown(r.name.to_string())),
            },
        };
        let capture = match r.subname {
            Some(sub) => {
                let mut parts = sub.splitn(2, ':');
                let field = parts.next().unwrap_or(sub);
                let coerce = match parts.next() {
                    Some("int") => Coerce::Int,
                    Some("float") => Coerce::Float,
                    _ => Coerce::String,
                };
                Some(Capture {
                    field: field.to_string(),
                    coerce,
                })
            }
            None if !self.named_only => Some(Capture {
                field: r.name.to_string(),
                coerce: Coerce::String,
            }),
            None => None,
        };
        match capture {
            Some(c) => {
                let idx = self.captures.len();
                self.captures.push(c);
                out.push_str("(?<_g");
                out.push_str(&idx.to_string());
                out.push('>');
            }
            None => out.push_str("(?:"),
        }
        self.expand_into(&body, out, depth + 1, r.name)?;
        out.push(')');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grok::library::PatternSet;

    fn lib() -> PatternLibrary {
        let mut l = PatternLibrary::new();
        l.add("INT", "(?:[+-]?(?:[0-9]+))");
        l.add("WORD", "\\b\\w+\\b");
        l.add("LOOP", "%{LOOP}");
        l
    }

    #[test]
    fn expands_semantics_types_and_raw_groups() {
        let e = expand("%{INT:a:int} %{WORD} (?<[x][y]>\\d)", &lib(), true).unwrap();
        assert_eq!(
            e.regex,
            "(?<_g0>(?:[+-]?(?:[0-9]+))) (?:\\b\\w+\\b) (?<_g1>\\d)"
        );
        assert_eq!(
            e.captures[0],
            Capture {
                field: "a".into(),
                coerce: Coerce::Int
            }
        );
        assert_eq!(e.captures[1].field, "[x][y]");
        let e = expand("%{WORD}", &lib(), false).unwrap();
        assert_eq!(e.captures[0].field, "WORD");
    }

    #[test]
    fn inline_definitions_trailing_text_and_errors() {
        let e = expand("%{FIZZLE=\\d+}", &lib(), false).unwrap();
        assert_eq!(e.regex, "(?<_g0>\\d+)");
        let e = expand("%{INT - ignored text}", &lib(), true).unwrap();
        assert_eq!(e.regex, "(?:(?:[+-]?(?:[0-9]+)))");
        assert_eq!(
            expand("%{NOPE:x}", &lib(), true).unwrap_err(),
            ExpandError::Unknown("NOPE".into())
        );
        assert!(matches!(
            expand("%{LOOP}", &lib(), true),
            Err(ExpandError::TooDeep(_))
        ));
        // Look-behind is not a named group.
        let e = expand("(?<![0-9])a", &lib(), true).unwrap();
        assert!(e.captures.is_empty());
    }

    #[test]
    fn every_stock_pattern_expands() {
        for set in [PatternSet::Legacy, PatternSet::EcsV1] {
            let l = PatternLibrary::stock(set);
            let stock = match set {
                PatternSet::Legacy => crate::grok::stock::LEGACY,
                PatternSet::EcsV1 => crate::grok::stock::ECS_V1,
            };
            for (_, text) in stock {
                for line in text
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                {
                    let name = line.split_whitespace().next().unwrap_or_default();
                    let r = expand(&format!("%{{{name}}}"), &l, true);
                    assert!(r.is_ok(), "{set:?} {name}: {r:?}");
                }
            }
        }
    }
}
