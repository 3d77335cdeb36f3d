//! Turns pest's "expected one of these rules at this position" into a message in the
//! words of the config language (`expected one of: "=>", "}", found ","`), with a hint
//! for the mistakes people make most (commas in hashes, `elsif`, one-letter barewords).

use crate::lang::ast::Span;
use crate::lang::parse::Rule;
use crate::lang::source::Diagnostic;
use pest::error::{Error, ErrorVariant, InputLocation};

/// What a rule stands for in an error message, and where it sorts in the list (so the
/// message does not depend on the order pest tried things in).
fn describe(rule: Rule) -> &'static [(u8, &'static str)] {
    match rule {
        Rule::section_kind => &[(1, "\"input\""), (2, "\"filter\""), (3, "\"output\"")],
        Rule::plugin_name => &[(10, "a plugin name")],
        Rule::kw_if => &[(11, "\"if\"")],
        Rule::kw_else => &[(12, "\"else\"")],
        Rule::attr_name => &[(13, "an option name")],
        Rule::hash_key => &[(14, "a hash key")],
        Rule::arrow => &[(20, "\"=>\"")],
        Rule::value => &[(30, "a value")],
        Rule::condition | Rule::paren_condition | Rule::negative | Rule::binary => &[(31, "a condition")],
        Rule::rvalue => &[(32, "a value")],
        Rule::string => &[(33, "a string")],
        Rule::regexp => &[(34, "a regular expression /.../")],
        Rule::number => &[(35, "a number")],
        Rule::bareword => &[(36, "a bareword")],
        Rule::selector => &[(37, "a field reference [name]")],
        Rule::array => &[(38, "an array")],
        Rule::hash => &[(39, "a hash")],
        Rule::plugin => &[(40, "a plugin")],
        Rule::method_call => &[(41, "a method call")],
        Rule::compare_op => &[(50, "a comparison (==, !=, <, >, <=, >=)")],
        Rule::regexp_op => &[(51, "=~ or !~")],
        Rule::in_op => &[(52, "\"in\"")],
        Rule::not_in_op => &[(53, "\"not in\"")],
        Rule::bool_op => &[(54, "\"and\""), (55, "\"or\""), (56, "\"xor\""), (57, "\"nand\"")],
        Rule::lbrace => &[(60, "\"{\"")],
        Rule::rbrace => &[(61, "\"}\"")],
        Rule::lbracket => &[(62, "\"[\"")],
        Rule::rbracket => &[(63, "\"]\"")],
        Rule::lparen => &[(64, "\"(\"")],
        Rule::rparen => &[(65, "\")\"")],
        Rule::comma => &[(66, "\",\"")],
        Rule::bang => &[(67, "\"!\"")],
        Rule::sep => &[(70, "whitespace")],
        Rule::EOI => &[(80, "end of input")],
        _ => &[],
    }
}

/// Describes the text at `pos` for "found ...", and how many bytes it covers.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return ("end of input".into(), 0);
    };
    if rest.trim().is_empty() {
        return ("end of input".into(), 0);
    }
    let word_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len());
    if word_len > 0 {
        let word = &rest[..word_len];
        let shown: String = word.chars().take(30).collect();
        return (format!("\"{shown}\""), word_len);
    }
    match c {
        '\n' => ("a line break".into(), 1),
        '\r' => ("a line break".into(), 1),
        '\t' => ("a tab".into(), 1),
        ' ' => ("a space".into(), 1),
        '"' | '\'' => ("a quoted string".into(), 1),
        _ => {
            let op_len = rest.find(|c: char| !"=<>!~".contains(c)).unwrap_or(rest.len());
            let len = if op_len > 1 { op_len.min(2) } else { c.len_utf8() };
            (format!("\"{}\"", &rest[..len]), len)
        }
    }
}

/// The last word before `pos` (skipping whitespace), and what precedes that word.
fn previous_word(text: &str, pos: usize) -> (&str, &str) {
    let before = text.get(..pos).unwrap_or("").trim_end();
    let start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(|i| i + 1).unwrap_or(0);
    (&before[start..], before[..start].trim_end())
}

fn hint(text: &str, pos: usize, found: &str, expected: &[&str]) -> Option<String> {
    let before = text.get(..pos).unwrap_or("").trim_end();
    let (word, before_word) = previous_word(text, pos);
    if word == "elsif" || found == "\"elsif\"" {
        return Some("\"elsif\" is not a keyword; write \"else if\"".into());
    }
    if found == "\",\"" && !expected.contains(&"\",\"") {
        return Some("commas separate array elements only; attributes and hash entries are separated by whitespace".into());
    }
    if found == "\"]\"" && before.ends_with(',') {
        return Some("an array cannot end with a comma".into());
    }
    if word.len() == 1 && before_word.ends_with("=>") {
        return Some(format!("a bareword needs at least two characters; quote it: \"{word}\""));
    }
    if expected.contains(&"\"input\"") && found != "end of input" {
        return Some("a config holds only input, filter and output sections".into());
    }
    if found == "end of input" && expected.contains(&"\"}\"") {
        return Some("a \"}\" is missing: check that every \"{\" is closed".into());
    }
    None
}

/// The diagnostic for a pest error on `text`.
pub(crate) fn diagnose(text: &str, err: &Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let (found, len) = found_at(text, pos);
    let span = Span { start: pos, end: pos + len };
    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { message } => {
            // pest's own limits ("stack limit reached"): only pathological nesting gets here.
            return Diagnostic::new(span, format!("config nested too deeply to parse ({message})"));
        }
    };
    let mut items: Vec<(u8, &str)> = positives.iter().flat_map(|r| describe(*r).iter().copied()).collect();
    items.sort();
    items.dedup();
    // "end of input" is only worth saying when nothing else fits.
    if items.len() > 1 {
        items.retain(|(_, s)| *s != "end of input");
    }
    let expected: Vec<&str> = items.iter().map(|(_, s)| *s).collect();
    let message = match expected.as_slice() {
        [] => format!("syntax error: unexpected {found}"),
        [one] => format!("expected {one}, found {found}"),
        many => format!("expected one of: {}, found {found}", many.join(", ")),
    };
    let d = Diagnostic::new(span, message);
    match hint(text, pos, &found, &expected) {
        Some(h) => d.with_help(h),
        None => d,
    }
}
