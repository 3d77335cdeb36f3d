//! Text → [`ast::Config`], with Logstash's grammar (`grammar/logstash.pest`, after
//! `lscl_grammar.treetop`), `${VAR}` substitution and optional escape processing.
//!
//! ```
//! use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
//! let sources = Sources::from_string("pipeline.conf", "input { stdin {} }");
//! let config = parse(&sources, &ParseOptions::default()).unwrap();
//! assert_eq!(config.sections.len(), 1);
//! ```

use crate::lang::ast::{
    self, Attribute, Config, HashEntry, IfChain, Plugin, Section, SectionKind, Span, Stmt, Value,
    ValueKind,
};
use crate::lang::source::{Diagnostic, Sources};
use crate::lang::{env, escapes, syntax_error};
use pest::iterators::Pair;
use pest::Parser;
use std::fmt;
use std::sync::Arc;

#[derive(pest_derive::Parser)]
#[grammar = "../../../grammar/logstash.pest"]
pub(crate) struct LogstashParser;

/// Deeper nesting (hashes in arrays in plugins in conditionals...) is refused rather than
/// risking the stack; real configs stay far below it.
const MAX_DEPTH: usize = 100;

/// Looks up a `${VAR}` substitution variable.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How to read config text.
#[derive(Clone)]
pub struct ParseOptions {
    /// Logstash's `config.support_escapes` (default false): process `\n`, `\"`, ... in
    /// quoted strings.
    pub support_escapes: bool,
    /// Where `${VAR}` values come from (default: the process environment).
    pub env: EnvLookup,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            support_escapes: false,
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }
}

impl ParseOptions {
    /// Options that read `${VAR}` from `lookup` instead of the process environment.
    pub fn with_env(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        ParseOptions {
            env: Arc::new(lookup),
            ..ParseOptions::default()
        }
    }
}

impl fmt::Debug for ParseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseOptions")
            .field("support_escapes", &self.support_escapes)
            .finish_non_exhaustive()
    }
}

/// Parses the concatenated sources. A syntax error stops at the first error (as in
/// Logstash); substitution errors are all reported together.
pub fn parse(sources: &Sources, opts: &ParseOptions) -> Result<Config, Vec<Diagnostic>> {
    let text = sources.text();
    let mut pairs = LogstashParser::parse(Rule::config, text)
        .map_err(|e| vec![syntax_error::diagnose(text, &e)])?;
    let Some(root) = pairs.next() else {
        return Ok(Config::default());
    };
    let mut b = Builder {
        opts,
        diags: Vec::new(),
    };
    let mut config = Config::default();
    for p in root.into_inner() {
        if p.as_rule() == Rule::section {
            config.sections.push(b.section(p));
        }
    }
    if b.diags.is_empty() {
        Ok(config)
    } else {
        Err(b.diags)
    }
}

pub(crate) fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span {
        start: s.start(),
        end: s.end(),
    }
}

/// Walks pest's pairs into the AST, collecting substitution errors.
pub(crate) struct Builder<'o> {
    pub(crate) opts: &'o ParseOptions,
    pub(crate) diags: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn section(&mut self, p: Pair<'_, Rule>) -> Section {
        let span = span_of(&p);
        let mut kind = SectionKind::Filter;
        let mut body = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::section_kind => {
                    kind = match c.as_str() {
                        "input" => SectionKind::Input,
                        "output" => SectionKind::Output,
                        _ => SectionKind::Filter,
                    }
                }
                Rule::plugin | Rule::branch => body.push(self.statement(c, 1)),
                _ => {}
            }
        }
        Section { kind, body, span }
    }

    pub(crate) fn statement(&mut self, p: Pair<'_, Rule>, depth: usize) -> Stmt {
        if p.as_rule() == Rule::branch {
            Stmt::If(self.branch(p, depth))
        } else {
            Stmt::Plugin(self.plugin(p, depth))
        }
    }

    pub(crate) fn block(&mut self, p: Pair<'_, Rule>, depth: usize) -> Vec<Stmt> {
        p.into_inner()
            .filter(|c| matches!(c.as_rule(), Rule::plugin | Rule::branch))
            .map(|c| self.statement(c, depth + 1))
            .collect()
    }

    fn branch(&mut self, p: Pair<'_, Rule>, depth: usize) -> IfChain {
        let span = span_of(&p);
        let mut chain = IfChain {
            branches: Vec::new(),
            else_body: None,
            span,
        };
        if self.too_deep(&p, depth) {
            return chain;
        }
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::if_branch | Rule::else_if_branch => {
                    let mut condition = None;
                    let mut body = Vec::new();
                    for part in c.into_inner() {
                        match part.as_rule() {
                            Rule::condition => condition = Some(self.condition(part, depth + 1)),
                            Rule::block => body = self.block(part, depth),
                            _ => {}
                        }
                    }
                    if let Some(condition) = condition {
                        chain.branches.push(ast::Branch { condition, body });
                    }
                }
                Rule::else_branch => {
                    if let Some(block) = c.into_inner().find(|x| x.as_rule() == Rule::block) {
                        chain.else_body = Some(self.block(block, depth));
                    }
                }
                _ => {}
            }
        }
        chain
    }

    fn plugin(&mut self, p: Pair<'_, Rule>, depth: usize) -> Plugin {
        let span = span_of(&p);
        let mut plugin = Plugin {
            name: String::new(),
            name_span: span,
            attributes: Vec::new(),
            span,
        };
        if self.too_deep(&p, depth) {
            return plugin;
        }
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::plugin_name => {
                    plugin.name_span = span_of(&c);
                    plugin.name = name_text(c);
                }
                Rule::attribute => {
                    let mut inner = c.into_inner();
                    let (Some(name), Some(value)) =
                        (inner.next(), inner.find(|x| x.as_rule() == Rule::value))
                    else {
                        continue;
                    };
                    let name_span = span_of(&name);
                    plugin.attributes.push(Attribute {
                        name: name_text(name),
                        name_span,
                        value: self.value(value, depth + 1),
                    });
                }
                _ => {}
            }
        }
        plugin
    }

    /// A `value` pair (or one of its alternatives) as a config value, with `${VAR}`
    /// substituted in strings (Logstash substitutes plugin settings, not hash keys).
    pub(crate) fn value(&mut self, p: Pair<'_, Rule>, depth: usize) -> Value {
        let p = if p.as_rule() == Rule::value {
            p.clone().into_inner().next().unwrap_or(p)
        } else {
            p
        };
        let span = span_of(&p);
        if self.too_deep(&p, depth) {
            return Value {
                kind: ValueKind::Array(Vec::new()),
                span,
            };
        }
        let kind = match p.as_rule() {
            Rule::plugin => ValueKind::Plugin(Box::new(self.plugin(p, depth + 1))),
            Rule::bareword => ValueKind::Bareword(p.as_str().to_string()),
            Rule::number => ValueKind::Number(p.as_str().to_string()),
            Rule::string => ValueKind::String(self.string(&p, true)),
            Rule::array => ValueKind::Array(
                p.into_inner()
                    .filter(|c| c.as_rule() == Rule::value)
                    .map(|c| self.value(c, depth + 1))
                    .collect(),
            ),
            Rule::hash => ValueKind::Hash(
                p.into_inner()
                    .filter(|c| c.as_rule() == Rule::hashentry)
                    .filter_map(|e| self.hash_entry(e, depth + 1))
                    .collect(),
            ),
            _ => ValueKind::String(p.as_str().to_string()),
        };
        Value { kind, span }
    }

    fn hash_entry(&mut self, e: Pair<'_, Rule>, depth: usize) -> Option<HashEntry> {
        let mut inner = e.into_inner();
        let key = inner.next()?;
        let value = inner.find(|x| x.as_rule() == Rule::value)?;
        let key_span = span_of(&key);
        let key_tok = key.into_inner().next()?;
        let key = if key_tok.as_rule() == Rule::string {
            self.string(&key_tok, false)
        } else {
            key_tok.as_str().to_string()
        };
        Some(HashEntry {
            key,
            key_span,
            value: self.value(value, depth),
        })
    }

    /// A quoted string's content: quotes stripped, escapes processed when enabled, then
    /// (if `substitute`) `${VAR}` replaced.
    pub(crate) fn string(&mut self, p: &Pair<'_, Rule>, substitute: bool) -> String {
        let text = p.as_str();
        let raw = unquote(text);
        let content = if self.opts.support_escapes {
            escapes::unescape(raw)
        } else {
            raw.to_string()
        };
        if !substitute {
            return content;
        }
        match env::substitute(&content, &*self.opts.env) {
            Ok(s) => s,
            Err(undefined) => {
                let content_start = p.as_span().start() + 1;
                for u in undefined {
                    // With escapes on, offsets in `content` may differ from the source;
                    // find the placeholder in the raw text instead.
                    let at = if self.opts.support_escapes {
                        raw.find(&u.placeholder).unwrap_or(0)
                    } else {
                        u.offset
                    };
                    let start = content_start + at;
                    self.diags.push(
                        Diagnostic::new(
                            Span { start, end: start + u.placeholder.len() },
                            format!(
                                "cannot evaluate `{}`: replacement variable `{}` is not defined in the environment and there is no default value",
                                u.placeholder, u.name
                            ),
                        )
                        .with_help(format!("set {} or give a default: ${{{}:default}}", u.name, u.name)),
                    );
                }
                content
            }
        }
    }

    pub(crate) fn too_deep(&mut self, p: &Pair<'_, Rule>, depth: usize) -> bool {
        if depth <= MAX_DEPTH {
            return false;
        }
        if !self
            .diags
            .iter()
            .any(|d| d.message.starts_with("config nested too deeply"))
        {
            self.diags.push(Diagnostic::new(
                span_of(p),
                format!("config nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        true
    }
}

/// A plugin or attribute name: a bare name, or a string taken without its quotes (and
/// without escape processing, as Logstash does).
fn name_text(p: Pair<'_, Rule>) -> String {
    let text = p.as_str();
    match p.into_inner().next() {
        Some(inner) if inner.as_rule() == Rule::string => unquote(inner.as_str()).to_string(),
        _ => text.to_string(),
    }
}

/// Strips the quotes of a string token (the grammar guarantees both are there).
pub(crate) fn unquote(s: &str) -> &str {
    if s.len() >= 2 {
        s.get(1..s.len() - 1).unwrap_or("")
    } else {
        ""
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
