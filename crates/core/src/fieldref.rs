//! Field references: `message`, `[a][b]`, `[@metadata][x]`, `[list][0]`.
//!
//! Parsed once at config load; events are addressed with the parsed path so no string is
//! re-parsed per event.

use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// A parsed field reference: the path of keys from the event root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    path: Arc<[String]>,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid field reference {input:?}: {reason}")]
pub struct FieldRefError {
    pub input: String,
    pub reason: &'static str,
}

impl FieldRef {
    /// Parses Logstash field-reference syntax. A plain word is a top-level key (it may
    /// contain spaces); `[a][b]` nests; `a[b]` is read as `[a][b]` as Logstash does.
    pub fn parse(input: &str) -> Result<FieldRef, FieldRefError> {
        let err = |reason| FieldRefError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(err("empty field reference"));
        }
        if !input.contains('[') && !input.contains(']') {
            return Ok(FieldRef {
                path: Arc::from(vec![input.to_string()]),
            });
        }
        let mut path = Vec::new();
        let mut rest = input;
        // An optional leading bare word: `a[b]`.
        if let Some(open) = rest.find('[') {
            if open > 0 {
                let head = &rest[..open];
                if head.contains(']') {
                    return Err(err("unbalanced brackets"));
                }
                path.push(head.to_string());
                rest = &rest[open..];
            }
        }
        while !rest.is_empty() {
            let Some(inner) = rest.strip_prefix('[') else {
                return Err(err("expected '[' after ']'"));
            };
            let Some(close) = inner.find(']') else {
                return Err(err("unbalanced brackets"));
            };
            let key = &inner[..close];
            if key.contains('[') {
                return Err(err("nested '[' inside a path element"));
            }
            if key.is_empty() {
                return Err(err("empty path element '[]'"));
            }
            path.push(key.to_string());
            rest = &inner[close + 1..];
        }
        if path.is_empty() {
            return Err(err("empty field reference"));
        }
        Ok(FieldRef {
            path: Arc::from(path),
        })
    }

    /// A reference to one top-level key, taken literally (no bracket parsing).
    pub fn top(key: &str) -> FieldRef {
        FieldRef {
            path: Arc::from(vec![key.to_string()]),
        }
    }

    /// A reference from path elements.
    pub fn from_path<I: IntoIterator<Item = S>, S: Into<String>>(parts: I) -> FieldRef {
        FieldRef {
            path: Arc::from(parts.into_iter().map(Into::into).collect::<Vec<_>>()),
        }
    }

    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// True when the reference points into `@metadata`.
    pub fn is_metadata(&self) -> bool {
        self.path.first().is_some_and(|p| p == "@metadata")
    }

    /// This reference with `key` appended.
    pub fn child(&self, key: &str) -> FieldRef {
        let mut v: Vec<String> = self.path.to_vec();
        v.push(key.to_string());
        FieldRef { path: Arc::from(v) }
    }

    /// `target` prefixed to this reference, as filters with a `target` option nest output.
    pub fn under(&self, target: &FieldRef) -> FieldRef {
        let mut v: Vec<String> = target.path.to_vec();
        v.extend(self.path.iter().cloned());
        FieldRef { path: Arc::from(v) }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.path.iter() {
            write!(f, "[{p}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(FieldRef::parse("message").unwrap().path(), ["message"]);
        assert_eq!(
            FieldRef::parse("field with space").unwrap().path(),
            ["field with space"]
        );
        assert_eq!(FieldRef::parse("[a][b]").unwrap().path(), ["a", "b"]);
        assert_eq!(FieldRef::parse("a[b][c]").unwrap().path(), ["a", "b", "c"]);
        assert!(FieldRef::parse("[@metadata][x]").unwrap().is_metadata());
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "[a", "[]", "[a]b", "a]", "[a[b]]"] {
            assert!(FieldRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
