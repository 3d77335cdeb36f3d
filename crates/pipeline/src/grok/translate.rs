//! Rewrites an expanded grok regex (Oniguruma/Ruby syntax) for another engine.
//!
//! * [`Dialect::Rust`]: the `regex` crate, only when the meaning is kept exactly
//!   (no look-around, atomic groups, possessive quantifiers or back-references).
//! * [`Dialect::Pcre2`]: PCRE2; nested classes are flattened, `\h` spelled out.
//! * [`Dialect::Relaxed`]: a `regex`-crate pattern matching a superset of the original
//!   (assertions dropped, atomic/possessive made ordinary): a sound prefilter.
//!
//! Ruby semantics kept: `.` matches newline (the engines are built dot-all), `\d \w \s`
//! and POSIX classes are ASCII, `(?m)` means dot-all.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Rust,
    Pcre2,
    Relaxed,
}

/// A construct the dialect cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported: {0}")]
pub struct Unsupported(pub &'static str);

type R<T> = Result<T, Unsupported>;

/// Translates `re` into `dialect`.
pub fn translate(re: &str, dialect: Dialect) -> R<String> {
    let mut t = T {
        c: re.chars().collect(),
        p: 0,
        d: dialect,
    };
    let mut out = String::with_capacity(re.len() * 2);
    t.seq(&mut out)?;
    if t.p < t.c.len() {
        return Err(Unsupported("unbalanced parenthesis"));
    }
    Ok(out)
}

struct T {
    c: Vec<char>,
    p: usize,
    d: Dialect,
}

const RUST_META: &str = "\\.+*?()|[]{}^$#&-~";

fn push_char(out: &mut String, ch: char, in_class: bool, d: Dialect) {
    if ch.is_ascii_control() || ch == ' ' {
        out.push_str(&format!("\\x{{{:X}}}", ch as u32));
    } else if ch.is_ascii_punctuation() && (d == Dialect::Pcre2 || RUST_META.contains(ch)) {
        out.push('\\');
        out.push(ch);
    } else {
        let _ = in_class;
        out.push(ch);
    }
}

/// Unicode class contents for Ruby's POSIX brackets that are not ASCII-only.
fn posix_unicode(name: &str) -> Option<&'static str> {
    Some(match name {
        "alnum" => "\\p{L}\\p{M}\\p{Nd}",
        "alpha" => "\\p{L}\\p{M}",
        "digit" => "\\p{Nd}",
        "upper" => "\\p{Lu}",
        "lower" => "\\p{Ll}",
        "word" => "\\p{L}\\p{M}\\p{Nd}\\p{Pc}",
        _ => return None,
    })
}

/// Class contents (inside `[...]`) for the ASCII shorthands.
fn shorthand_items(ch: char) -> Option<(&'static str, bool)> {
    Some(match ch {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        's' => ("\\t\\n\\x0B\\x0C\\r ", false),
        'S' => ("\\t\\n\\x0B\\x0C\\r ", true),
        'h' => ("0-9a-fA-F", false),
        'H' => ("0-9a-fA-F", true),
        _ => return None,
    })
}

impl T {
    fn peek(&self) -> Option<char> {
        self.c.get(self.p).copied()
    }
    fn at(&self, s: &str) -> bool {
        let mut i = self.p;
        for ch in s.chars() {
            if self.c.get(i) != Some(&ch) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// A sequence of alternatives, up to an unmatched `)` or the end.
    fn seq(&mut self, out: &mut String) -> R<()> {
        // Start of the last atom in `out` and whether it already carries a quantifier.
        let mut atom: Option<usize> = None;
        let mut quantified = false;
        while let Some(ch) = self.peek() {
            match ch {
                ')' => return Ok(()),
                '|' => {
                    self.p += 1;
                    out.push('|');
                    atom = None;
                    quantified = false;
                }
                '*' | '+' | '?' | '{' => {
                    let Some(q) = self.quantifier() else {
                        // A `{` that is not a repetition is a literal.
                        self.p += 1;
                        atom = Some(out.len());
                        quantified = false;
                        out.push_str("\\{");
                        continue;
                    };
                    let Some(start) = atom else {
                        return Err(Unsupported("quantifier without a target"));
                    };
                    if quantified {
                        // Ruby reads `.?*` as `(?:.?)*`.
                        out.insert_str(start, "(?:");
                        out.push(')');
                    }
                    out.push_str(&q);
                    quantified = true;
                    let is_brace = q.starts_with('{');
                    match self.peek() {
                        Some('?') => {
                            self.p += 1;
                            out.push('?');
                        }
                        Some('+') if !is_brace => {
                            self.p += 1;
                            match self.d {
                                Dialect::Pcre2 => out.push('+'),
                                Dialect::Relaxed => {}
                                Dialect::Rust => return Err(Unsupported("possessive quantifier")),
                            }
                        }
                        _ => {}
                    }
                }
                _ => {
                    let start = out.len();
                    self.atom(out)?;
                    atom = Some(start);
                    quantified = false;
                }
            }
        }
        Ok(())
    }

    /// A quantifier at the cursor (`*`, `+`, `?`, `{n,m}`), consumed; `None` for a `{`
    /// that is not one.
    fn quantifier(&mut self) -> Option<String> {
        let ch = self.peek()?;
        if ch != '{' {
            self.p += 1;
            return Some(ch.to_string());
        }
        let mut i = self.p + 1;
        let mut lo = String::new();
        while let Some(d) = self.c.get(i).filter(|c| c.is_ascii_digit()) {
            lo.push(*d);
            i += 1;
        }
        let mut hi = None;
        if self.c.get(i) == Some(&',') {
            i += 1;
            let mut h = String::new();
            while let Some(d) = self.c.get(i).filter(|c| c.is_ascii_digit()) {
                h.push(*d);
                i += 1;
            }
            hi = Some(h);
        }
        if self.c.get(i) != Some(&'}') || (lo.is_empty() && hi.as_deref().is_none_or(str::is_empty))
        {
            return None;
        }
        self.p = i + 1;
        let lo = if lo.is_empty() { "0".to_string() } else { lo };
        Some(match hi {
            None => format!("{{{lo}}}"),
            Some(h) => format!("{{{lo},{h}}}"),
        })
    }

    fn atom(&mut self, out: &mut String) -> R<()> {
        let Some(ch) = self.peek() else { return Ok(()) };
        match ch {
            '(' => self.group(out),
            '[' => {
                self.p += 1;
                self.class(out)
            }
            '\\' => self.escape(out),
            '.' | '^' | '$' => {
                self.p += 1;
                out.push(ch);
                Ok(())
            }
            _ => {
                self.p += 1;
                push_char(out, ch, false, self.d);
                Ok(())
            }
        }
    }

    fn close_group(&mut self, out: &mut String) -> R<()> {
        if self.peek() != Some(')') {
            return Err(Unsupported("unbalanced parenthesis"));
        }
        self.p += 1;
        out.push(')');
        Ok(())
    }

    fn group(&mut self, out: &mut String) -> R<()> {
        self.p += 1; // (
        if self.peek() != Some('?') {
            out.push_str("(?:");
            self.seq(out)?;
            return self.close_group(out);
        }
        for (opener, kind) in [
            ("?<=", 'l'),
            ("?<!", 'l'),
            ("?=", 'l'),
            ("?!", 'l'),
            ("?>", 'a'),
            ("?:", 'n'),
        ] {
            if self.at(opener) {
                self.p += opener.chars().count();
                match (kind, self.d) {
                    ('n', _) | (_, Dialect::Pcre2) => {
                        out.push('(');
                        out.push_str(opener);
                        self.seq(out)?;
                        return self.close_group(out);
                    }
                    (_, Dialect::Rust) => {
                        return Err(Unsupported(if kind == 'l' {
                            "look-around"
                        } else {
                            "atomic group"
                        }))
                    }
                    ('a', Dialect::Relaxed) => {
                        out.push_str("(?:");
                        self.seq(out)?;
                        return self.close_group(out);
                    }
                    _ => {
                        // Relaxed: an assertion is dropped (matches a superset).
                        let mut scratch = String::new();
                        self.seq(&mut scratch)?;
                        out.push_str("(?:");
                        return self.close_group(out);
                    }
                }
            }
        }
        if self.at("?<") || self.at("?P<") {
            // Only the `_gN` names the expander wrote reach here.
            let skip = if self.at("?P<") { 3 } else { 2 };
            self.p += skip;
            let mut name = String::new();
            while let Some(ch) = self.peek() {
                self.p += 1;
                if ch == '>' {
                    break;
                }
                name.push(ch);
            }
            if !name.starts_with("_g") || !name[2..].bytes().all(|b| b.is_ascii_digit()) {
                return Err(Unsupported("named group with an unexpected name"));
            }
            out.push_str("(?<");
            out.push_str(&name);
            out.push('>');
            self.seq(out)?;
            return self.close_group(out);
        }
        if self.at("?#") {
            while let Some(ch) = self.peek() {
                self.p += 1;
                if ch == ')' {
                    return Ok(());
                }
            }
            return Err(Unsupported("unterminated comment"));
        }
        // Inline flags: (?imx-imx) or (?imx-imx:...). Ruby's `m` is dot-all.
        self.p += 1; // ?
        let mut flags = String::new();
        loop {
            match self.peek() {
                Some(f @ ('i' | 'x' | '-')) => {
                    flags.push(f);
                    self.p += 1;
                }
                Some('m') => {
                    flags.push('s');
                    self.p += 1;
                }
                Some(':') => {
                    self.p += 1;
                    out.push_str("(?");
                    out.push_str(&flags);
                    out.push(':');
                    self.seq(out)?;
                    return self.close_group(out);
                }
                Some(')') => {
                    self.p += 1;
                    // `(?-)` or a lone dot-all flag: nothing to say, dot-all is on.
                    let meaningful: String = flags.chars().filter(|c| *c != 's').collect();
                    if !meaningful.trim_matches('-').is_empty() {
                        out.push_str("(?");
                        out.push_str(&flags);
                        out.push(')');
                    }
                    return Ok(());
                }
                _ => return Err(Unsupported("group construct")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> R<()> {
        self.p += 1; // backslash
        let Some(ch) = self.peek() else {
            return Err(Unsupported("trailing backslash"));
        };
        self.p += 1;
        let rust = self.d != Dialect::Pcre2;
        match ch {
            'h' | 'H' => {
                let neg = ch == 'H';
                out.push_str(if neg { "[^0-9a-fA-F]" } else { "[0-9a-fA-F]" });
            }
            'd' | 'D' | 'w' | 'W' | 's' | 'S' if rust => {
                let (items, neg) = shorthand_items(ch).ok_or(Unsupported("shorthand"))?;
                out.push('[');
                if neg {
                    out.push('^');
                }
                out.push_str(items);
                out.push(']');
            }
            'b' | 'B' if rust => out.push_str(if ch == 'b' { "(?-u:\\b)" } else { "(?-u:\\B)" }),
            'A' | 'z' => {
                out.push('\\');
                out.push(ch);
            }
            'Z' | 'G' | 'K' => match self.d {
                Dialect::Pcre2 => {
                    out.push('\\');
                    out.push(ch);
                }
                Dialect::Relaxed => {}
                Dialect::Rust => return Err(Unsupported("\\Z, \\G or \\K")),
            },
            'k' | '1'..='9' => match self.d {
                Dialect::Rust => return Err(Unsupported("back-reference")),
                Dialect::Relaxed => {
                    if ch == 'k' {
                        self.skip_group_name();
                    }
                    out.push_str("(?:.*?)");
                }
                Dialect::Pcre2 => {
                    out.push('\\');
                    out.push(ch);
                }
            },
            'e' => out.push_str("\\x1B"),
            'a' => out.push_str("\\x07"),
            'u' => {
                let hex: String = self.c[self.p..].iter().take(4).collect();
                if hex.len() != 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Unsupported("\\u escape"));
                }
                self.p += 4;
                out.push_str(&format!("\\x{{{hex}}}"));
            }
            'x' | 'p' | 'P' | 't' | 'n' | 'r' | 'f' | 'v' | 'd' | 'D' | 'w' | 'W' | 's' | 'S'
            | 'b' | 'B' | '0' => {
                out.push('\\');
                out.push(ch);
            }
            'R' | 'X' | 'N' | 'O' | 'y' | 'Y' | 'g' => {
                return Err(Unsupported("escape not supported"))
            }
            c if c.is_ascii_alphanumeric() => return Err(Unsupported("unknown escape")),
            c => push_char(out, c, false, self.d),
        }
        Ok(())
    }

    fn skip_group_name(&mut self) {
        if matches!(self.peek(), Some('<' | '\'')) {
            while let Some(ch) = self.peek() {
                self.p += 1;
                if ch == '>' || ch == '\'' && self.p > 0 {
                    break;
                }
            }
        }
    }

    /// A character class after its `[`; writes a complete class.
    fn class(&mut self, out: &mut String) -> R<()> {
        let mut items = String::new();
        let neg = self.peek() == Some('^');
        if neg {
            self.p += 1;
        }
        let mut first = true;
        loop {
            let Some(ch) = self.peek() else {
                return Err(Unsupported("unterminated class"));
            };
            if ch == ']' && !first {
                self.p += 1;
                break;
            }
            first = false;
            if self.at("[:") {
                let rest: String = self.c[self.p..].iter().take(16).collect();
                if let Some(end) = rest[2..].find(":]") {
                    let name = &rest[2..2 + end];
                    self.p += 2 + name.chars().count() + 2;
                    // Ruby's POSIX brackets are Unicode-aware (unlike `\w`).
                    match posix_unicode(name) {
                        Some(props) => items.push_str(props),
                        None => {
                            items.push_str("[:");
                            items.push_str(name);
                            items.push_str(":]");
                        }
                    }
                    continue;
                }
            }
            if ch == '[' {
                self.p += 1;
                let mut nested = String::new();
                self.class(&mut nested)?;
                if self.d == Dialect::Pcre2 {
                    // Flatten a nested union: `[[[:alnum:]]_]` is `[[:alnum:]_]`.
                    let inner = nested
                        .strip_prefix('[')
                        .and_then(|s| s.strip_suffix(']'))
                        .unwrap_or("");
                    if inner.starts_with('^') {
                        return Err(Unsupported("negated nested class"));
                    }
                    items.push_str(inner);
                } else {
                    items.push_str(&nested);
                }
                continue;
            }
            if self.at("&&") {
                if self.d == Dialect::Pcre2 {
                    return Err(Unsupported("class intersection"));
                }
                self.p += 2;
                items.push_str("&&");
                continue;
            }
            // One element, maybe the start of a range.
            let lo = self.class_atom(&mut items)?;
            if let Some(lo) = lo {
                if self.peek() == Some('-') && self.c.get(self.p + 1).is_some_and(|c| *c != ']') {
                    self.p += 1;
                    let mut hi_out = String::new();
                    match self.class_atom(&mut hi_out)? {
                        Some(_) => {
                            items.push('-');
                            items.push_str(&hi_out);
                        }
                        None => return Err(Unsupported("range to a class")),
                    }
                    let _ = lo;
                }
            }
        }
        out.push('[');
        if neg {
            out.push('^');
        }
        out.push_str(&items);
        out.push(']');
        Ok(())
    }

    /// One class element; returns the character when it is a single character (so a
    /// range may follow).
    fn class_atom(&mut self, items: &mut String) -> R<Option<char>> {
        let Some(ch) = self.peek() else {
            return Err(Unsupported("unterminated class"));
        };
        self.p += 1;
        if ch != '\\' {
            push_char(items, ch, true, self.d);
            return Ok(Some(ch));
        }
        let Some(e) = self.peek() else {
            return Err(Unsupported("trailing backslash"));
        };
        self.p += 1;
        if let Some((set, neg)) = shorthand_items(e) {
            let keep = self.d == Dialect::Pcre2 && !matches!(e, 'h' | 'H');
            if keep {
                items.push('\\');
                items.push(e);
            } else if !neg {
                items.push_str(set);
            } else if self.d == Dialect::Pcre2 {
                return Err(Unsupported("\\H in a class"));
            } else {
                items.push_str("[^");
                items.push_str(set);
                items.push(']');
            }
            return Ok(None);
        }
        match e {
            'x' => {
                let digits: String = if self.peek() == Some('{') {
                    let d: String = self.c[self.p + 1..]
                        .iter()
                        .take_while(|c| **c != '}')
                        .collect();
                    self.p += d.chars().count() + 2;
                    d
                } else {
                    let d: String = self.c[self.p..]
                        .iter()
                        .take(2)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    self.p += d.len();
                    d
                };
                let ch = u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(Unsupported("\\x escape"))?;
                Ok(Some(self.lit(items, ch)))
            }
            'p' | 'P' => {
                items.push('\\');
                items.push(e);
                if self.peek() == Some('{') {
                    while let Some(c) = self.peek() {
                        self.p += 1;
                        items.push(c);
                        if c == '}' {
                            break;
                        }
                    }
                } else {
                    let n = if e == 'x' { 2 } else { 1 };
                    for _ in 0..n {
                        if let Some(c) = self.peek() {
                            self.p += 1;
                            items.push(c);
                        }
                    }
                }
                Ok(None)
            }
            't' => Ok(Some(self.lit(items, '\t'))),
            'n' => Ok(Some(self.lit(items, '\n'))),
            'r' => Ok(Some(self.lit(items, '\r'))),
            'f' => Ok(Some(self.lit(items, '\x0C'))),
            'v' => Ok(Some(self.lit(items, '\x0B'))),
            'e' => Ok(Some(self.lit(items, '\x1B'))),
            'a' => Ok(Some(self.lit(items, '\x07'))),
            'b' => Ok(Some(self.lit(items, '\x08'))),
            c if c.is_ascii_alphanumeric() => Err(Unsupported("unknown escape in class")),
            c => Ok(Some(self.lit(items, c))),
        }
    }

    fn lit(&self, items: &mut String, c: char) -> char {
        push_char(items, c, true, self.d);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_rewrites_ruby_constructs() {
        assert_eq!(translate(r"\h+", Dialect::Rust).unwrap(), "[0-9a-fA-F]+");
        assert_eq!(
            translate(r"[[[:alnum:]]_%!$@:.,+~-]+", Dialect::Rust).unwrap(),
            r"[[\p{L}\p{M}\p{Nd}]_%!\$@:\.,\+\~\-]+"
        );
        assert_eq!(translate(".?*", Dialect::Rust).unwrap(), "(?:.?)*");
        assert_eq!(translate("(a)(?m)x{", Dialect::Rust).unwrap(), "(?:a)x\\{");
        assert!(translate("(?>a)", Dialect::Rust).is_err());
        assert!(translate("(?<![0-9])a", Dialect::Rust).is_err());
        assert!(translate("a*+", Dialect::Rust).is_err());
    }

    #[test]
    fn pcre2_flattens_classes() {
        assert_eq!(
            translate(r"[[[:alnum:]]_\h]", Dialect::Pcre2).unwrap(),
            r"[\p{L}\p{M}\p{Nd}\_0-9a-fA-F]"
        );
        assert_eq!(
            translate(r"(?>a+)(?<![0-9])\d", Dialect::Pcre2).unwrap(),
            r"(?>a+)(?<![0-9])\d"
        );
        assert!(translate(r"[a[^b]]", Dialect::Pcre2).is_err());
    }

    #[test]
    fn relaxed_drops_assertions() {
        assert_eq!(
            translate(r"(?<![0-9])1(?![0-9])", Dialect::Relaxed).unwrap(),
            "(?:)1(?:)"
        );
        assert_eq!(translate(r"(?>a)b*+", Dialect::Relaxed).unwrap(), "(?:a)b*");
    }
}
