//! `urldecode`: decodes `%XX` escapes in a field (default `message`) or, with
//! `all_fields`, in every top-level field; hashes and arrays are decoded element by element,
//! other values are left alone.
//!
//! Logstash's behaviour, followed here: only runs of `%` + two hex digits are decoded (`+`
//! stays `+`; a lone `%` stays). When the decoded bytes are not valid UTF-8, Logstash's
//! charset converter replaces the text with its Ruby `inspect` form minus the quotes:
//! each invalid byte becomes the 4 characters `\xHH`, valid characters stay, and `"`,
//! `\` and control characters get Ruby's escapes. Only UTF-8 (`charset`) is supported.
//! The common options always run.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};
use std::fmt::Write;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("field", OptKind::Field, "the field to decode").default("\"message\""),
    OptSpec::new(
        "all_fields",
        OptKind::Boolean,
        "decode every top-level field",
    )
    .default("false"),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when decoding fails",
    )
    .default("[\"_urldecodefailure\"]"),
    OptSpec::new(
        "charset",
        OptKind::String,
        "the encoding of the decoded bytes (only UTF-8)",
    )
    .default("\"UTF-8\""),
];

/// The compiled urldecode filter.
pub struct Urldecode {
    field: FieldRef,
    all_fields: bool,
    tag_on_failure: Vec<String>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let charset = args
        .string("charset")
        .unwrap_or_else(|| "UTF-8".to_string());
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
        return Err(BuildError::option(
            "charset",
            format!("only UTF-8 is supported, got {charset:?}"),
        ));
    }
    let tag_on_failure = if args.contains("tag_on_failure") {
        args.strings("tag_on_failure")
    } else {
        vec!["_urldecodefailure".into()]
    };
    Ok(Box::new(Urldecode {
        field: args
            .field("field")?
            .unwrap_or_else(|| FieldRef::top("message")),
        all_fields: args.flag("all_fields"),
        tag_on_failure,
    }))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes; `None` when there is nothing to decode.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let first = memchr::memchr(b'%', b)?;
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    let mut changed = false;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                changed = true;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// Ruby's `String#inspect` of (possibly invalid) UTF-8 bytes, without the quotes.
fn inspect_bytes(mut bytes: &[u8], out: &mut String) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                inspect_valid(s, out);
                return;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                // Valid by construction.
                inspect_valid(std::str::from_utf8(good).unwrap_or_default(), out);
                let bad = e.error_len().unwrap_or(rest.len()).max(1);
                for b in &rest[..bad] {
                    let _ = write!(out, "\\x{b:02X}");
                }
                bytes = &rest[bad..];
            }
        }
    }
}

fn inspect_valid(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            '\x08' => out.push_str("\\b"),
            '\x07' => out.push_str("\\a"),
            '\x1b' => out.push_str("\\e"),
            // Ruby escapes what would start an interpolation.
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Decodes one string as Logstash's urldecode + charset converter do.
pub fn decode_str(s: &str) -> Option<String> {
    let bytes = unescape(s)?;
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let mut out = String::new();
            inspect_bytes(e.as_bytes(), &mut out);
            out
        }
    })
}

/// Decodes a value in place, recursing into hashes and arrays.
fn decode(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(d) = decode_str(s) {
                *s = d;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(decode),
        Value::Object(m) => m.values_mut().for_each(decode),
        _ => {}
    }
}

impl Filter for Urldecode {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        if self.all_fields {
            event.fields_mut().values_mut().for_each(decode);
        } else if let Some(v) = event.get_mut(&self.field) {
            decode(v);
        }
        // Decoding cannot fail here (Ruby's could only on a charset error);
        // `tag_on_failure` is kept for config compatibility.
        let _ = &self.tag_on_failure;
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_plus() {
        assert_eq!(decode_str("a%20b+c%2F").as_deref(), Some("a b+c/"));
        assert_eq!(decode_str("plain"), None);
    }

    #[test]
    fn bad_escapes_stay() {
        assert_eq!(decode_str("100%"), None);
        assert_eq!(decode_str("%zz%4"), None);
        assert_eq!(decode_str("%4").as_deref(), None);
        assert_eq!(decode_str("x%41%").as_deref(), Some("xA%"));
    }

    #[test]
    fn invalid_utf8_is_inspected() {
        assert_eq!(
            decode_str("%C3%BB%D3%D0\"").as_deref(),
            Some("û\\xD3\\xD0\\\"")
        );
        // Valid UTF-8 is not escaped.
        assert_eq!(decode_str("%22%0A").as_deref(), Some("\"\n"));
    }

    #[test]
    fn nested_values_and_all_fields() {
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("all_fields", true.into()),
            &BuildContext::default(),
        )
        .unwrap();
        let mut e = Event::new();
        e.set(&FieldRef::parse("[a][b]").unwrap(), "%41".into())
            .unwrap();
        e.set(&FieldRef::top("n"), 5.into()).unwrap();
        e.set(
            &FieldRef::top("l"),
            Value::Array(vec!["%42".into(), 1.into()]),
        )
        .unwrap();
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        assert_eq!(
            e.get(&FieldRef::parse("[a][b]").unwrap()),
            Some(&"A".into())
        );
        assert_eq!(
            e.get(&FieldRef::top("l")),
            Some(&Value::Array(vec!["B".into(), 1.into()]))
        );
        assert_eq!(e.get(&FieldRef::top("n")), Some(&5.into()));
    }

    #[test]
    fn other_charsets_are_refused() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("charset", "ISO-8859-1".into());
        assert!(build(&args, &BuildContext::default()).is_err());
    }
}
