//! `config.support_escapes`: backslash sequences in quoted strings, as Logstash's
//! `StringEscapeHelper` (mode `minimal`) processes them. With escapes off (Logstash's
//! default) strings are taken literally apart from their closing quote.

/// Processes `\\ \" \' \n \r \t \0`. Any other escaped character stands for itself (the
/// backslash is dropped), and a trailing lone backslash is kept, both as Logstash does.
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn logstash_escape_table() {
        // The table of logstash-core/spec/logstash/config/string_escape_spec.rb.
        let table = [
            ("\\\"", "\""),
            ("\\'", "'"),
            ("\\n", "\n"),
            ("\\r", "\r"),
            ("\\t", "\t"),
            ("\\\\", "\\"),
            ("\\0", "\0"),
            ("🙂", "🙂"),
            ("\\", "\\"),
            ("\\g", "g"),
            ("\\🙂", "🙂"),
        ];
        for (input, expected) in table {
            assert_eq!(unescape(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn mixed_text() {
        assert_eq!(
            unescape(r#"The computer says, \"No\""#),
            r#"The computer says, "No""#
        );
        assert_eq!(unescape(r"a\\nb"), r"a\nb");
    }
}
