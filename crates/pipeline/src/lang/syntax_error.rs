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
        // pest names a rule instead of its parts when several parts failed at its start.
        Rule::config | Rule::section | Rule::section_kind => {
            &[(1, "\"input\""), (2, "\"filter\""), (3, "\"output\"")]
        }
        Rule::plugin_name => &[(10, "a plugin name")],
        Rule::kw_if | Rule::branch | Rule::if_branch => &[(11, "\"if\"")],
        Rule::kw_else | Rule::else_if_branch | Rule::else_branch => &[(12, "\"else\"")],
        Rule::attr_name | Rule::attribute => &[(13, "an option name")],
        Rule::hash_key | Rule::hashentry => &[(14, "a hash key")],
        Rule::arrow => &[(20, "\"=>\"")],
        Rule::value => &[(30, "a value")],
        Rule::condition | Rule::paren_condition | Rule::negative | Rule::binary => {
            &[(31, "a condition")]
        }
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
        Rule::compare_op | Rule::compare_tail => &[(50, "a comparison (==, !=, <, >, <=, >=)")],
        Rule::regexp_op | Rule::regexp_tail => &[(51, "=~ or !~")],
        Rule::in_op | Rule::in_tail => &[(52, "\"in\"")],
        Rule::not_in_op | Rule::not_in_tail => &[(53, "\"not in\"")],
        Rule::bool_op => &[
            (54, "\"and\""),
            (55, "\"or\""),
            (56, "\"xor\""),
            (57, "\"nand\""),
        ],
        Rule::lbrace | Rule::block => &[(60, "\"{\"")],
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
    let word_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
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
            let op_len = rest
                .find(|c: char| !"=<>!~".contains(c))
                .unwrap_or(rest.len());
            let len = if op_len > 1 {
                op_len.min(2)
            } else {
                c.len_utf8()
            };
            (format!("\"{}\"", &rest[..len]), len)
        }
    }
}

/// The last word before `pos` (skipping whitespace): its offset, the word, and the text
/// before it.
fn previous_word(text: &str, pos: usize) -> (usize, &str, &str) {
    let before = text.get(..pos).unwrap_or("").trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    (start, &before[start..], before[..start].trim_end())
}

fn hint(text: &str, pos: usize, found: &str, expected: &[&str]) -> Option<String> {
    let before = text.get(..pos).unwrap_or("").trim_end();
    if found == "\"=\"" {
        return Some("compare with \"==\"".into());
    }
    if found == "\",\"" && !expected.contains(&"\",\"") {
        return Some("commas separate array elements only; attributes and hash entries are separated by whitespace".into());
    }
    if found == "\"not\"" {
        return Some("write \"not in\" with a space after \"not\"".into());
    }
    if expected.contains(&"\",\"")
        && expected.contains(&"\"]\"")
        && (found == "a quoted string" || found.starts_with("\""))
    {
        return Some("array elements are separated by commas".into());
    }
    if found == "\"]\"" && before.ends_with(',') {
        return Some("an array cannot end with a comma".into());
    }
    let one_letter =
        found.len() == 3 && found.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic);
    if one_letter && (expected.contains(&"a hash key") || expected.contains(&"a value")) {
        return Some(format!(
            "a bareword needs at least two characters; quote it: {found}"
        ));
    }
    if expected.contains(&"\"input\"") && found != "end of input" {
        return Some("a config holds only input, filter and output sections".into());
    }
    if found == "end of input" && expected.contains(&"\"}\"") {
        return Some("a \"}\" is missing: check that every \"{\" is closed".into());
    }
    None
}

/// Mistakes whose error position (where parsing got stuck) is past the real culprit: the
/// diagnostic then points at the culprit and says what is wrong with it.
fn culprit(text: &str, pos: usize) -> Option<Diagnostic> {
    let (start, word, before_word) = previous_word(text, pos);
    let span = Span {
        start,
        end: start + word.len(),
    };
    if word == "elsif" {
        return Some(
            Diagnostic::new(span, "\"elsif\" is not a keyword").with_help("write \"else if\""),
        );
    }
    if word.len() == 1 && word.as_bytes()[0].is_ascii_alphabetic() && before_word.ends_with("=>") {
        return Some(
            Diagnostic::new(
                span,
                format!("\"{word}\" is not a value: a bareword needs at least two characters"),
            )
            .with_help(format!("quote it: \"{word}\"")),
        );
    }
    None
}

/// The diagnostic for a pest error on `text`.
pub(crate) fn diagnose(text: &str, err: &Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(d) = culprit(text, pos) {
        return d;
    }
    let (found, len) = found_at(text, pos);
    let span = Span {
        start: pos,
        end: pos + len,
    };
    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { message } => {
            // pest's own limits ("stack limit reached"): only pathological nesting gets here.
            return Diagnostic::new(
                span,
                format!("config nested too deeply to parse ({message})"),
            );
        }
    };
    let mut items: Vec<(u8, &str)> = positives
        .iter()
        .flat_map(|r| describe(*r).iter().copied())
        .collect();
    items.sort();
    items.dedup();
    // After a quoted string, "{" would make the string a plugin name (`"json" { }`): legal,
    // but never what someone meant, so it only clutters the list.
    let after_quote = text
        .get(..pos)
        .unwrap_or("")
        .trim_end()
        .ends_with(['"', '\'']);
    let in_condition = items.iter().any(|(order, _)| (50..=57).contains(order));
    if after_quote && !in_condition && items.len() > 1 {
        items.retain(|(_, s)| *s != "\"{\"");
    }
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
