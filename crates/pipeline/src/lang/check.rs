//! The compile-stage rules Logstash applies after parsing that need no plugin registry:
//! duplicate keys in a hash literal, several codecs on one plugin, regular expressions
//! in conditions that do not compile, field references that do not parse, and method
//! calls (which the grammar accepts but Logstash cannot evaluate).

use crate::lang::ast::{Config, Expr, Plugin, Rvalue, RvalueKind, Stmt, Value, ValueKind};
use crate::lang::source::Diagnostic;
use logstash_mesos_core::fieldref::FieldRef;
use std::collections::HashMap;

/// Every violation in `config`, in source order.
pub fn check_syntax(config: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for section in &config.sections {
        stmts(&section.body, &mut diags);
    }
    diags.sort_by_key(|d| d.span.start);
    diags
}

fn stmts(body: &[Stmt], diags: &mut Vec<Diagnostic>) {
    for stmt in body {
        match stmt {
            Stmt::Plugin(p) => plugin(p, diags),
            Stmt::If(chain) => {
                for b in &chain.branches {
                    expr(&b.condition, diags);
                    stmts(&b.body, diags);
                }
                if let Some(body) = &chain.else_body {
                    stmts(body, diags);
                }
            }
        }
    }
}

fn plugin(p: &Plugin, diags: &mut Vec<Diagnostic>) {
    // Logstash merges repeated attributes into a list; a plugin's codec cannot be a list.
    let mut codecs = p.attributes.iter().filter(|a| a.name == "codec");
    if codecs.next().is_some() {
        for extra in codecs {
            diags.push(
                Diagnostic::new(
                    extra.name_span,
                    format!("plugin \"{}\" has more than one codec", p.name),
                )
                .with_help("a plugin takes a single `codec => ...`; remove the others"),
            );
        }
    }
    for a in &p.attributes {
        value(&a.value, diags);
    }
}

fn value(v: &Value, diags: &mut Vec<Diagnostic>) {
    match &v.kind {
        ValueKind::Array(items) => items.iter().for_each(|i| value(i, diags)),
        ValueKind::Hash(entries) => {
            // Like Logstash, each hash is checked on its own, nested hashes separately.
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for e in entries {
                let count = seen.entry(e.key.as_str()).or_insert(0);
                *count += 1;
                if *count == 2 {
                    diags.push(
                        Diagnostic::new(e.key_span, format!("duplicate key \"{}\" in hash", e.key))
                            .with_help(
                                "a key may appear once in a hash; put all its values in one entry",
                            ),
                    );
                }
                value(&e.value, diags);
            }
        }
        ValueKind::Plugin(p) => plugin(p, diags),
        ValueKind::String(_) | ValueKind::Number(_) | ValueKind::Bareword(_) => {}
    }
}

fn expr(e: &Expr, diags: &mut Vec<Diagnostic>) {
    match e {
        Expr::Bool { left, right, .. } => {
            expr(left, diags);
            expr(right, diags);
        }
        Expr::Not(inner) => expr(inner, diags),
        Expr::Compare { left, right, .. } | Expr::In { left, right, .. } => {
            rvalue(left, diags);
            rvalue(right, diags);
        }
        Expr::Match { left, right, .. } => {
            rvalue(left, diags);
            match &right.kind {
                RvalueKind::Regex(pattern) | RvalueKind::String(pattern) => {
                    if let Err(err) = crate::ruby::compile_linear(pattern) {
                        diags.push(Diagnostic::new(
                            right.span,
                            format!(
                                "invalid regular expression {pattern:?}: {}",
                                regex_error(&err)
                            ),
                        ));
                    }
                }
                _ => rvalue(right, diags),
            }
        }
        Expr::Value(v) => rvalue(v, diags),
    }
}

fn rvalue(v: &Rvalue, diags: &mut Vec<Diagnostic>) {
    match &v.kind {
        RvalueKind::Selector(s) => {
            if let Err(err) = FieldRef::parse(s) {
                diags.push(Diagnostic::new(
                    v.span,
                    format!("invalid field reference {s:?}: {}", err.reason),
                ));
            }
        }
        RvalueKind::Array(items) => items.iter().for_each(|i| rvalue(i, diags)),
        RvalueKind::MethodCall { name, .. } => diags.push(Diagnostic::new(
            v.span,
            format!("method call \"{name}(...)\" is not supported in a condition"),
        )),
        RvalueKind::String(_) | RvalueKind::Number(_) | RvalueKind::Regex(_) => {}
    }
}

/// The one-line reason from a `regex` error (its Display spans several lines).
fn regex_error(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.lines().last().unwrap_or("").trim().to_string())
}
