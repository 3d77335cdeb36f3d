//! `${VAR}` and `${VAR:default}` in config strings, as Logstash's `SubstitutionVariables`
//! replaces them: the name matches `[a-zA-Z_.][a-zA-Z0-9_.]*`, the default runs to the
//! first `}`, and text that does not fit the pattern is left alone.

/// A `${NAME}` whose variable is not set and that has no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undefined {
    /// Byte offset of `$` in the input string.
    pub offset: usize,
    /// The placeholder as written, e.g. `${HOME}`.
    pub placeholder: String,
    pub name: String,
}

/// One placeholder found in a string.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    default: Option<&'a str>,
}

/// Matches a placeholder at `start` (which points at `${`).
fn placeholder_at(s: &str, start: usize) -> Option<Placeholder<'_>> {
    let rest = s.get(start..)?.strip_prefix("${")?;
    let bytes = rest.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'.') {
        return None;
    }
    let name_len = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.'))
        .unwrap_or(bytes.len());
    let name = &rest[..name_len];
    let after = &rest[name_len..];
    let (default, tail_len) = if let Some(d) = after.strip_prefix(':') {
        let close = d.find('}')?;
        (Some(&d[..close]), 1 + close + 1)
    } else if after.starts_with('}') {
        (None, 1)
    } else {
        return None;
    };
    Some(Placeholder {
        start,
        end: start + 2 + name_len + tail_len,
        name,
        default,
    })
}

/// Replaces every placeholder in `s`. Every undefined variable is reported, not only the
/// first. Replacement values are inserted as they are (no escape processing, no
/// re-substitution), as Logstash's `gsub` does.
pub fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<Undefined>> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(rel) = s.get(search..).and_then(|r| r.find("${")) {
        let at = search + rel;
        match placeholder_at(s, at) {
            Some(p) => {
                out.push_str(&s[copied..p.start]);
                match lookup(p.name).or_else(|| p.default.map(str::to_string)) {
                    Some(v) => out.push_str(&v),
                    None => errors.push(Undefined {
                        offset: p.start,
                        placeholder: s[p.start..p.end].to_string(),
                        name: p.name.to_string(),
                    }),
                }
                copied = p.end;
                search = p.end;
            }
            None => search = at + 1,
        }
    }
    out.push_str(&s[copied..]);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/ls".into()),
            "EMPTY" => Some(String::new()),
            "a.b_c" => Some("dotted".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_defined_and_defaults() {
        assert_eq!(substitute("${HOME}/x", &env).unwrap(), "/home/ls/x");
        assert_eq!(substitute("${NOPE:fallback}", &env).unwrap(), "fallback");
        assert_eq!(substitute("${NOPE:}", &env).unwrap(), "");
        assert_eq!(substitute("${HOME:unused}", &env).unwrap(), "/home/ls");
        assert_eq!(substitute("${EMPTY:unused}", &env).unwrap(), "");
        assert_eq!(substitute("${a.b_c}", &env).unwrap(), "dotted");
        assert_eq!(
            substitute("a${HOME}b${NOPE:c}d", &env).unwrap(),
            "a/home/lsbcd"
        );
        // The default runs to the first `}`.
        assert_eq!(substitute("${NOPE:a:b}}", &env).unwrap(), "a:b}");
    }

    #[test]
    fn leaves_non_placeholders_alone() {
        for s in [
            "$HOME",
            "${}",
            "${1A}",
            "${HOME",
            "${HO ME}",
            "%{HOME}",
            "$${HOME}x",
        ] {
            let expected = s.replace("${HOME}", "/home/ls");
            assert_eq!(substitute(s, &env).unwrap(), expected, "input {s:?}");
        }
    }

    #[test]
    fn reports_every_undefined_variable() {
        let err = substitute("x ${A} ${HOME} ${B}", &env).unwrap_err();
        let found: Vec<_> = err
            .iter()
            .map(|u| (u.offset, u.name.as_str(), u.placeholder.as_str()))
            .collect();
        assert_eq!(found, vec![(2, "A", "${A}"), (15, "B", "${B}")]);
    }
}
