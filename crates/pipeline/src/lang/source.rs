//! Config sources: several files concatenated in lexical order (as Logstash does), with
//! byte offsets mapped back to file, line and column for error messages.

use crate::lang::ast::Span;
use std::fmt::Write;

#[derive(Clone, Debug)]
struct File {
    name: String,
    /// Offset of this file's first byte in the concatenated text.
    start: usize,
    len: usize,
}

/// The concatenated config text and where each file sits in it.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    text: String,
    files: Vec<File>,
}

/// A resolved position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The whole source line, without its line break.
    pub line_text: String,
}

/// A config error or warning at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// What was expected / the allowed values / a suggestion.
    pub help: Option<String>,
    /// About a file a plugin reads when it starts (patterns, templates, dictionaries,
    /// scripts): Logstash finds such problems only then, so `-t` reports them as warnings
    /// unless `--strict`.
    pub at_start: bool,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
            at_start: false,
        }
    }

    pub fn at_start(mut self, yes: bool) -> Self {
        self.at_start = yes;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl Sources {
    /// One config string (`-e`), named `name` in messages.
    pub fn from_string(name: &str, text: &str) -> Sources {
        let mut s = Sources::default();
        s.push(name, text);
        s
    }

    /// Appends a file's text. A newline separates files so a file without a final line
    /// break cannot glue its last token to the next file's first.
    pub fn push(&mut self, name: &str, text: &str) {
        let start = self.text.len();
        self.text.push_str(text);
        self.files.push(File {
            name: name.to_string(),
            start,
            len: text.len(),
        });
        self.text.push('\n');
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Resolves a byte offset of the concatenated text.
    pub fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let file = self
            .files
            .iter()
            .rev()
            .find(|f| f.start <= offset)
            .cloned()
            .unwrap_or(File {
                name: "config".into(),
                start: 0,
                len: self.text.len(),
            });
        let end = (file.start + file.len).min(self.text.len());
        let local_off = offset.min(end).saturating_sub(file.start);
        let text = self.text.get(file.start..end).unwrap_or("");
        let mut off = local_off.min(text.len());
        while !text.is_char_boundary(off) {
            off -= 1;
        }
        let before = &text[..off];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        let line_end = text[line_start..]
            .find('\n')
            .map(|p| line_start + p)
            .unwrap_or(text.len());
        let line_text = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        Location {
            file: file.name,
            line,
            column,
            line_text,
        }
    }

    /// `file:line:col: message`, the offending line, a caret under the column, and the
    /// help text.
    pub fn render(&self, d: &Diagnostic) -> String {
        let loc = self.locate(d.span.start);
        let mut out = format!("{}:{}:{}: {}\n", loc.file, loc.line, loc.column, d.message);
        let gutter = loc.line.to_string();
        let _ = writeln!(out, "{gutter} | {}", loc.line_text.replace('\t', " "));
        let _ = writeln!(
            out,
            "{} | {}^",
            " ".repeat(gutter.len()),
            " ".repeat(loc.column.saturating_sub(1))
        );
        if let Some(h) = &d.help {
            let _ = writeln!(out, "{} = {}", " ".repeat(gutter.len()), h);
        }
        out
    }

    /// Renders several diagnostics, each separated by a blank line.
    pub fn render_all(&self, ds: &[Diagnostic]) -> String {
        ds.iter()
            .map(|d| self.render(d))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_across_files() {
        let mut s = Sources::default();
        s.push("a.conf", "input {\n  stdin {}\n}");
        s.push("b.conf", "output {\n  bad\n}\n");
        let off = s.text().find("bad").unwrap();
        let loc = s.locate(off);
        assert_eq!((loc.file.as_str(), loc.line, loc.column), ("b.conf", 2, 3));
        assert_eq!(loc.line_text, "  bad");
        let r = s.render(
            &Diagnostic::new(
                Span {
                    start: off,
                    end: off + 3,
                },
                "oops",
            )
            .with_help("expected x"),
        );
        assert_eq!(r, "b.conf:2:3: oops\n2 |   bad\n  |   ^\n  = expected x\n");
    }
}
