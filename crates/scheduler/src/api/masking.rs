//! Secrets in config texts (`password => "..."`, `ssl_key_passphrase`, ...: the options
//! the plugins' schemas declare `OptKind::Password`) are shown as `"********"` in API
//! answers; a text sent back with the mask in place keeps the stored secret, so editing a
//! config in the UI does not destroy its password. The stored config (and what agents
//! receive from `/v1/pipeline`) keeps the real values.

use std::sync::OnceLock;

use logstash_mesos_pipeline::lang::ast::{Plugin, Span, Stmt, ValueKind};
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::options::OptKind;
use logstash_mesos_pipeline::registry::{Kind, Registry};

/// What a secret value is shown as (unquoted).
pub const MASK: &str = "********";

/// The plugin set whose schemas say which options are secrets: the validator's, else the
/// pipeline crate's own (a structural validator knows none; masking too much beats too
/// little).
pub fn registry(configs: &crate::configs::ConfigService) -> &Registry {
    static BUILTIN: OnceLock<Registry> = OnceLock::new();
    configs
        .plugins()
        .unwrap_or_else(|| BUILTIN.get_or_init(Registry::builtin))
}

/// One secret value: which plugin option (`kind`, plugin name, option name, how many
/// earlier values had the same three) and where its value is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Secret {
    key: (&'static str, String, String, usize),
    span: Span,
    /// The value is the mask itself (a text coming back from the UI).
    masked: bool,
}

fn is_secret(registry: &Registry, kind: Kind, plugin: &str, option: &str) -> bool {
    registry
        .options_of(kind, plugin)
        .and_then(|s| s.find(option))
        .is_some_and(|o| o.kind == OptKind::Password)
}

/// A value that only names an environment variable (`"${ES_PW}"`) is no secret itself,
/// and seeing it helps; one with a default (`"${ES_PW:hunter2}"`) may carry one.
fn env_reference(raw: &str) -> bool {
    let inner = raw.trim_matches(|c| c == '"' || c == '\'');
    inner.starts_with("${")
        && inner.ends_with('}')
        && inner[2..inner.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn walk_plugin(registry: &Registry, kind: Kind, p: &Plugin, text: &str, out: &mut Vec<Secret>) {
    for a in &p.attributes {
        if let ValueKind::Plugin(codec) = &a.value.kind {
            walk_plugin(registry, Kind::Codec, codec, text, out);
            continue;
        }
        if !is_secret(registry, kind, &p.name, &a.name) {
            continue;
        }
        let raw = text.get(a.value.span.start..a.value.span.end).unwrap_or("");
        if env_reference(raw) {
            continue;
        }
        let seen = out
            .iter()
            .filter(|s| s.key.0 == kind.as_str() && s.key.1 == p.name && s.key.2 == a.name)
            .count();
        out.push(Secret {
            key: (kind.as_str(), p.name.clone(), a.name.clone(), seen),
            span: a.value.span,
            masked: matches!(&a.value.kind, ValueKind::String(v) if v == MASK),
        });
    }
}

fn walk(registry: &Registry, kind: Kind, body: &[Stmt], text: &str, out: &mut Vec<Secret>) {
    for stmt in body {
        match stmt {
            Stmt::Plugin(p) => walk_plugin(registry, kind, p, text, out),
            Stmt::If(chain) => {
                for b in &chain.branches {
                    walk(registry, kind, &b.body, text, out);
                }
                if let Some(e) = &chain.else_body {
                    walk(registry, kind, e, text, out);
                }
            }
        }
    }
}

/// The secret values of `text` in source order; `None` when it does not parse.
fn secrets(registry: &Registry, text: &str) -> Option<Vec<Secret>> {
    let sources = Sources::from_string("config", text);
    // `${VAR}` need not be set here: spans, not values, matter.
    let ast = parse(&sources, &ParseOptions::with_env(|_| Some(String::new()))).ok()?;
    let mut out = Vec::new();
    for section in &ast.sections {
        let kind = match section.kind {
            logstash_mesos_pipeline::lang::ast::SectionKind::Input => Kind::Input,
            logstash_mesos_pipeline::lang::ast::SectionKind::Filter => Kind::Filter,
            logstash_mesos_pipeline::lang::ast::SectionKind::Output => Kind::Output,
        };
        walk(registry, kind, &section.body, text, &mut out);
    }
    // Spans index the text given (one source starts at 0); drop any that would not.
    out.retain(|s| s.span.start <= s.span.end && text.get(s.span.start..s.span.end).is_some());
    Some(out)
}

/// `text` with each of `spans` (sorted, disjoint) replaced by its string.
fn splice(text: &str, spans: &[(Span, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, with) in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(with);
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `text` with every secret value shown as `"********"`. A text that does not parse (a
/// config accepted by a structural validator) is masked by name instead: the value after
/// any option name that is a secret in some plugin.
pub fn mask(registry: &Registry, text: &str) -> String {
    match secrets(registry, text) {
        Some(found) => {
            let spans: Vec<(Span, String)> = found
                .into_iter()
                .map(|s| (s.span, format!("\"{MASK}\"")))
                .collect();
            splice(text, &spans)
        }
        None => mask_by_name(registry, text),
    }
}

/// Every option name some plugin of `registry` declares a password.
fn secret_names(registry: &Registry) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut add = |kind: Kind, plugin: &str| {
        if let Some(schema) = registry.options_of(kind, plugin) {
            for o in schema.iter().filter(|o| o.kind == OptKind::Password) {
                if !names.contains(&o.name) {
                    names.push(o.name);
                }
            }
        }
    };
    for kind in [Kind::Input, Kind::Filter, Kind::Output, Kind::Codec] {
        for plugin in registry.names(kind) {
            add(kind, plugin);
        }
    }
    names
}

/// The fallback of [`mask`]: `name => "value"` / `'value'` / bareword, for secret names.
fn mask_by_name(registry: &Registry, text: &str) -> String {
    let names = secret_names(registry);
    let bytes = text.as_bytes();
    let mut spans: Vec<(Span, String)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == word_start {
            i += 1;
            continue;
        }
        let before_ok = word_start == 0
            || !(bytes[word_start - 1].is_ascii_alphanumeric() || bytes[word_start - 1] == b'_');
        if !before_ok || !names.contains(&&text[word_start..i]) {
            continue;
        }
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if !text[j..].starts_with("=>") {
            continue;
        }
        j += 2;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let start = j;
        let end = match bytes.get(j) {
            Some(q @ (b'"' | b'\'')) => {
                let mut k = j + 1;
                while k < bytes.len() && bytes[k] != *q {
                    k += if bytes[k] == b'\\' { 2 } else { 1 };
                }
                (k + 1).min(bytes.len())
            }
            Some(_) => {
                let mut k = j;
                while k < bytes.len()
                    && !bytes[k].is_ascii_whitespace()
                    && !matches!(bytes[k], b'}' | b']' | b',' | b'#')
                {
                    k += 1;
                }
                k
            }
            None => j,
        };
        if end > start && !env_reference(&text[start..end]) {
            spans.push((Span { start, end }, format!("\"{MASK}\"")));
        }
        i = end.max(i);
    }
    splice(text, &spans)
}

/// The text to store for `incoming` (a PUT): each secret value still showing the mask
/// takes the value the same option has in `stored` (the same plugin and option, counted
/// in source order). A mask with no stored value to keep is an error: storing the mask
/// as the password would silently break the plugin.
pub fn unmask(registry: &Registry, incoming: &str, stored: Option<&str>) -> Result<String, String> {
    if !incoming.contains(MASK) {
        return Ok(incoming.to_string());
    }
    let Some(found) = secrets(registry, incoming) else {
        // It will not validate either; the validator says why.
        return Ok(incoming.to_string());
    };
    let old = stored.and_then(|t| secrets(registry, t).map(|s| (t, s)));
    let mut spans = Vec::new();
    for s in found.into_iter().filter(|s| s.masked) {
        let kept = old.as_ref().and_then(|(t, olds)| {
            olds.iter()
                .find(|o| o.key == s.key && !o.masked)
                .and_then(|o| t.get(o.span.start..o.span.end))
        });
        match kept {
            Some(v) => spans.push((s.span, v.to_string())),
            None => {
                return Err(format!(
                    "{} {} option {}: the value is the mask \"{MASK}\" but there is no stored secret to keep; type the secret",
                    s.key.0, s.key.1, s.key.2
                ))
            }
        }
    }
    Ok(splice(incoming, &spans))
}
