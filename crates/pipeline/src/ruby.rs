//! Ruby compatibility helpers shared by the filters ported from Ruby plugins (mutate, kv,
//! fingerprint): Ruby (Onigmo) regex syntax on top of `fancy_regex`, Ruby's `gsub`
//! replacement escapes, Ruby's case mapping, Ruby's `to_s`/`inspect` of event values and
//! its `String#to_i`/`to_f` (grok's `:int`/`:float`, mutate's `convert`).
//!
//! Patterns are compiled with `(?m)` because Ruby's `^`/`$` always match at line
//! boundaries; `.` does not match `\n` in either engine.

use fancy_regex::{Captures, Regex, RegexBuilder};
use logstash_mesos_core::Value;

/// Backtracking budget per match attempt. Past it the match fails with an error that the
/// caller reports as a timeout or failure instead of spinning for minutes.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

/// A Ruby regex that cannot be compiled, or whose match the engine gave up.
#[derive(Debug, thiserror::Error)]
pub enum RegexError {
    /// The pattern does not compile.
    #[error("invalid regular expression {pattern:?}: {source}")]
    Invalid {
        pattern: String,
        source: Box<fancy_regex::Error>,
    },
    /// The engine gave up while matching (backtrack limit).
    #[error("{0}")]
    Aborted(Box<fancy_regex::Error>),
}

/// Compiles a Ruby regex. The error message is suitable for a `BuildError`.
pub fn compile(pattern: &str) -> Result<Regex, RegexError> {
    let translated = translate(pattern);
    RegexBuilder::new(&format!("(?m){translated}"))
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|source| RegexError::Invalid {
            pattern: pattern.to_string(),
            source: Box::new(source),
        })
}

/// A Ruby regex on the linear-time `regex` engine, for the places that only ask whether
/// it matches or where it is found (conditionals' `=~`, the multiline codec's `pattern`):
/// the same rewrites as [`translate`] (a `{` that opens no quantifier is a literal, as in
/// Ruby: `/^{.*}$/` is valid), `\Z` as `\n?\z` (no lookahead there; the same answer to
/// "does it match"), and `(?m)` for Ruby's line anchors.
pub fn compile_linear(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("(?m){}", translate_with(pattern, false)))
}

/// Rewrites the Onigmo constructs the Rust engines spell differently: `\h`/`\H` (hex
/// digit), `\Z`, and a `{` or `}` that is not part of a `{n,m}` quantifier (Ruby reads
/// those literally, Rust rejects them).
pub fn translate(p: &str) -> String {
    translate_with(p, true)
}

/// [`translate`]; `lookaround` says whether the engine has lookahead (for `\Z`).
fn translate_with(p: &str, lookaround: bool) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = 0usize;
    let mut in_quantifier = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                match (n, in_class > 0) {
                    ('h', false) => out.push_str("[0-9a-fA-F]"),
                    ('H', false) => out.push_str("[^0-9a-fA-F]"),
                    ('h', true) => out.push_str("0-9a-fA-F"),
                    ('Z', false) if lookaround => out.push_str("(?=\\n?\\z)"),
                    ('Z', false) => out.push_str("\\n?\\z"),
                    ('p' | 'P' | 'x' | 'u', _) if chars.get(i + 2) == Some(&'{') => {
                        // `\p{Class}`, `\x{hex}`: copy through the closing brace.
                        let end = chars[i..]
                            .iter()
                            .position(|&c| c == '}')
                            .map_or(chars.len(), |e| i + e + 1);
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                i += 2;
                continue;
            }
            '[' => {
                in_class += 1;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal in both engines.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class > 0 => {
                in_class -= 1;
                out.push(']');
            }
            '{' if in_class == 0 => {
                if is_quantifier(&chars[i..]) && i > 0 {
                    in_quantifier = true;
                    out.push('{');
                } else {
                    out.push_str("\\{");
                }
            }
            '}' if in_class == 0 => {
                if in_quantifier {
                    in_quantifier = false;
                    out.push('}');
                } else {
                    out.push_str("\\}");
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn is_quantifier(s: &[char]) -> bool {
    // `{n}`, `{n,}`, `{n,m}`, `{,m}`
    let Some(end) = s.iter().position(|&c| c == '}') else {
        return false;
    };
    let inner: String = s[1..end].iter().collect();
    if inner.is_empty() {
        return false;
    }
    let (a, b) = match inner.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (inner.as_str(), None),
    };
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    match b {
        None => !a.is_empty() && digits(a),
        Some(b) => digits(a) && digits(b) && !(a.is_empty() && b.is_empty()),
    }
}

/// Appends Ruby's expansion of a `gsub` replacement string: `\0`/`\&` (whole match),
/// `\1`..`\9`, `\k<name>`, `` \` `` (pre-match), `\'` (post-match) and `\\`.
pub fn expand_replacement(rep: &str, caps: &Captures, text: &str, out: &mut String) {
    let mut chars = rep.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, n)) = chars.peek() else {
            out.push('\\');
            break;
        };
        let whole = caps.get(0);
        match n {
            '0'..='9' => {
                chars.next();
                let idx = n as usize - '0' as usize;
                if let Some(m) = caps.get(idx) {
                    out.push_str(m.as_str());
                }
            }
            '&' => {
                chars.next();
                if let Some(m) = whole {
                    out.push_str(m.as_str());
                }
            }
            '`' => {
                chars.next();
                if let Some(m) = whole {
                    out.push_str(&text[..m.start()]);
                }
            }
            '\'' => {
                chars.next();
                if let Some(m) = whole {
                    out.push_str(&text[m.end()..]);
                }
            }
            '\\' => {
                chars.next();
                out.push('\\');
            }
            'k' => {
                let rest = &rep[i + 2..];
                if let Some(close) = rest
                    .strip_prefix('<')
                    .and_then(|r| r.find('>').map(|e| (r, e)))
                {
                    let (r, e) = close;
                    let name = &r[..e];
                    if let Some(m) = caps.name(name) {
                        out.push_str(m.as_str());
                    }
                    // Skip `k<name>`.
                    let skip = 1 + 1 + e + 1;
                    for _ in 0..rep[i + 1..i + 1 + skip].chars().count() {
                        chars.next();
                    }
                } else {
                    out.push('\\');
                }
            }
            _ => out.push('\\'),
        }
    }
}

/// Ruby's `gsub(regex, replacement)`. `Err` when the regex engine gave up (backtrack
/// limit).
pub fn gsub(re: &Regex, text: &str, rep: &str) -> Result<String, RegexError> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let caps = caps.map_err(|e| RegexError::Aborted(Box::new(e)))?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        expand_replacement(rep, &caps, text, &mut out);
        last = m.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// Ruby's `String#capitalize`: the first character upper-cased, the rest lower-cased.
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(&chars.as_str().to_lowercase());
            out
        }
    }
}

/// Ruby's `to_s` of an event value: strings as they are, `nil` empty, arrays and hashes
/// in `inspect` form (`["a", 1]`, `{"k"=>"v"}`), as string interpolation shows them.
pub fn to_s(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            inspect(v, &mut out);
            out
        }
        other => other.to_logstash_string(),
    }
}

/// Ruby's `inspect` (JRuby 9.4 / Ruby 3.3 style: `{"k"=>v}`).
pub fn inspect(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::String(s) => inspect_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inspect(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inspect_str(k, out);
                out.push_str("=>");
                inspect(x, out);
            }
            out.push('}');
        }
        other => other.write_logstash_string(out),
    }
}

fn inspect_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x1b' => out.push_str("\\e"),
            '#' => out.push('#'),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An optional leading `-` or `+`: (negative, the rest).
pub fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// Ruby's `String#to_i`: leading whitespace, sign, digits (underscores allowed between
/// digits); anything else ends the number; no digits give 0.
pub fn ruby_to_i(s: &str) -> Value {
    // Fast path for the common plain number: no intermediate string.
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => (-1, d),
        None => (1, s),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n = digits
            .bytes()
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        return Value::Integer(sign * n);
    }
    let t = s.trim_start();
    let (neg, rest) = split_sign(t);
    let mut digits = String::new();
    let mut prev_digit = false;
    for ch in rest.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            prev_digit = true;
        } else if ch == '_' && prev_digit {
            prev_digit = false;
        } else {
            break;
        }
    }
    if digits.is_empty() {
        return Value::Integer(0);
    }
    // Ruby has big integers: beyond 64 bits the digits are kept exactly.
    Value::integer_from_decimal(neg, &digits)
}

/// Ruby's `String#to_f`: the longest leading decimal number, else 0.0.
pub fn ruby_to_f(s: &str) -> f64 {
    let t = s.trim_start().as_bytes();
    let mut i = 0;
    if matches!(t.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < t.len() && t[i].is_ascii_digit() {
        i += 1;
    }
    let mut end = i;
    if i < t.len() && t[i] == b'.' && t.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        end = i;
    }
    if end > int_start && i < t.len() && (t[i] == b'e' || t[i] == b'E') {
        let mut j = i + 1;
        if matches!(t.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if t.get(j).is_some_and(u8::is_ascii_digit) {
            while j < t.len() && t[j].is_ascii_digit() {
                j += 1;
            }
            end = j;
        }
    }
    std::str::from_utf8(&t[..end])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_number_conversions() {
        assert_eq!(ruby_to_i(" 12abc"), Value::Integer(12));
        assert_eq!(ruby_to_i("-1_000"), Value::Integer(-1000));
        assert_eq!(ruby_to_i("x"), Value::Integer(0));
        assert_eq!(ruby_to_i("-0042"), Value::Integer(-42));
        assert_eq!(
            ruby_to_i("999999999999999999"),
            Value::Integer(999_999_999_999_999_999)
        );
        assert_eq!(ruby_to_i("9223372036854775807"), Value::Integer(i64::MAX));
        assert_eq!(ruby_to_i("-"), Value::Integer(0));
        assert_eq!(ruby_to_f("1.5e3ms"), 1500.0);
        assert_eq!(ruby_to_f("3."), 3.0);
        assert_eq!(ruby_to_f("abc"), 0.0);
    }

    use logstash_mesos_core::Map;

    #[test]
    fn linear_regexes_read_braces_and_anchors_as_ruby_does() {
        // The patterns real configs use in conditionals (Ruby reads these `{` literally).
        for (pattern, text, want) in [
            (r"^{.*}$", r#"{"a": 1}"#, true),
            (r"^{", "{x", true),
            (r"{name=", "a{name=b", true),
            (r"^{.*}$", "plain", false),
            (r"^b$", "a\nb", true),
            (r"x\Z", "ax\n", true),
            (r"\h{2}", "zz0f", true),
            (r"a{2}", "aa", true),
            (r"a{2}", "a{2}", false),
        ] {
            let re = compile_linear(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(re.is_match(text), want, "{pattern} on {text:?}");
        }
        assert!(compile_linear("(unclosed").is_err());
    }

    #[test]
    fn translates_onigmo_forms() {
        assert_eq!(translate(r"\h+"), "[0-9a-fA-F]+");
        assert_eq!(translate(r"[\h_]"), "[0-9a-fA-F_]");
        assert_eq!(translate("a{2,3}"), "a{2,3}");
        assert_eq!(translate("a{x}"), "a\\{x\\}");
        assert!(compile(r"\d$").is_ok());
        assert!(compile("{......").is_ok());
        assert!(compile("(unclosed").is_err());
    }

    #[test]
    fn ruby_anchors_are_line_anchors() {
        let re = compile("^b$").expect("test");
        assert!(re.is_match("a\nb\nc").expect("test"));
    }

    #[test]
    fn gsub_with_backrefs() {
        let re = compile(r"(\w+)@(?<host>\w+)").expect("test");
        assert_eq!(
            gsub(&re, "joe@example x", r"\2:\1 [\0] \k<host>").expect("test"),
            "example:joe [joe@example] example x"
        );
        assert_eq!(gsub(&re, "none here!", "x").expect("test"), "none here!");
        assert_eq!(
            gsub(&compile("a").expect("test"), "banana", r"\\").expect("test"),
            "b\\n\\n\\"
        );
    }

    #[test]
    fn inspect_like_ruby() {
        let mut m = Map::default();
        m.insert(
            "k",
            Value::Array(vec![
                Value::from("a\"b"),
                Value::Integer(1),
                Value::Null,
                Value::Float(2.0),
            ]),
        );
        assert_eq!(to_s(&Value::from(m)), r#"{"k"=>["a\"b", 1, nil, 2.0]}"#);
        assert_eq!(to_s(&Value::from("plain")), "plain");
        assert_eq!(capitalize("nÎcË GÛŸ"), "Nîcë gûÿ");
        assert_eq!(capitalize(""), "");
    }
}
