//! `xml`: parses XML from `source`; stores XmlSimple's structure of it in `target`
//! (`store_xml`, default true) and/or the results of XPath 1.0 expressions (`xpath`).
//!
//! Logstash's behaviour, followed here:
//! - the source must be a string or a one-element array of one; anything else (or a
//!   longer array) tags `_xmlparsefailure`; a missing or blank source does nothing;
//! - for `xpath` the document is read the way Nokogiri reads it by default, recovering
//!   from errors (mismatched or missing end tags, duplicate attributes); `parse_options =>
//!   "strict"` makes any error a `_xmlparsefailure`; `remove_namespaces` drops prefixes
//!   and namespace declarations first; prefixes resolve through `namespaces`, or when it
//!   is empty through the root element's declarations; each result is stored as text:
//!   elements as their XML (namespace declarations they carry included), text nodes
//!   escaped, attributes by value, numbers as Ruby prints floats (`3.0`), `true` as
//!   `"true"` (`false` adds nothing); results go into an array (a single one as a string
//!   when `force_array => false`), and no field is set when there is none; an invalid
//!   expression or unknown prefix tags `_xmlparsefailure`;
//! - `store_xml` parses strictly (REXML): a malformed document tags `_xmlparsefailure`
//!   (xpath fields already set stay); `force_array`, `force_content`, `suppress_empty`
//!   shape the structure as XmlSimple's options of the same names do (see `simple.rs`);
//! - the common options run when something was stored.
//!
//! `parse_options` accepts Nokogiri's option names separated by `,` or `|`; only
//! `strict` (no `recover`) changes how documents are read, the others are accepted.

mod simple;
mod tree;

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Value};
use sxd_document::dom;
use sxd_xpath::nodeset::Node as XNode;
use tree::{Element, Node};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Field, "the field holding the XML").required(),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where the parsed structure goes (required with store_xml)",
    ),
    OptSpec::new(
        "xpath",
        OptKind::Hash,
        "XPath expression => field receiving its results",
    )
    .default("{}"),
    OptSpec::new(
        "parse_options",
        OptKind::String,
        "Nokogiri parse options, e.g. \"strict\" (default: recover)",
    ),
    OptSpec::new(
        "store_xml",
        OptKind::Boolean,
        "store the whole document in target",
    )
    .default("true"),
    OptSpec::new(
        "force_array",
        OptKind::Boolean,
        "always store child elements (and xpath results) as arrays",
    )
    .default("true"),
    OptSpec::new(
        "force_content",
        OptKind::Boolean,
        "store text-only elements as {\"content\" => text}",
    )
    .default("false"),
    OptSpec::new(
        "namespaces",
        OptKind::Hash,
        "prefix => URI used by the xpath expressions",
    )
    .default("{}"),
    OptSpec::new(
        "remove_namespaces",
        OptKind::Boolean,
        "drop namespaces before running the xpath expressions",
    )
    .default("false"),
    OptSpec::new(
        "suppress_empty",
        OptKind::Boolean,
        "leave out empty elements instead of storing {}",
    )
    .default("true"),
];

pub const FAILURE_TAG: &str = "_xmlparsefailure";

/// Nokogiri's `ParseOptions` constants (lowercase, without underscores).
const PARSE_OPTIONS: &[&str] = &[
    "strict",
    "recover",
    "noent",
    "dtdload",
    "dtdattr",
    "dtdvalid",
    "noerror",
    "nowarning",
    "pedantic",
    "noblanks",
    "sax1",
    "xinclude",
    "nonet",
    "nodict",
    "nsclean",
    "nocdata",
    "noxincnode",
    "compact",
    "old10",
    "nobasefix",
    "huge",
    "bigLines",
    "default_xml",
    "default_xslt",
    "default_html",
    "default_schema",
    "defaultxml",
    "defaultxslt",
    "defaulthtml",
    "defaultschema",
    "biglines",
];

/// The compiled xml filter.
pub struct Xml {
    source: FieldRef,
    target: Option<FieldRef>,
    xpath: Vec<(String, FieldRef)>,
    recover: bool,
    store_xml: bool,
    force_array: bool,
    simple: simple::Options,
    namespaces: Vec<(String, String)>,
    remove_namespaces: bool,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let source = args
        .field("source")?
        .ok_or_else(|| BuildError::option("source", "is required"))?;
    let store_xml = args.flag("store_xml");
    let target = args.field("target")?;
    if store_xml && target.is_none() {
        return Err(BuildError::option(
            "target",
            "when the 'store_xml' configuration option is true, 'target' must also be set",
        ));
    }
    let mut xpath = Vec::new();
    let factory = sxd_xpath::Factory::new();
    for (expr, dest) in args.hash("xpath") {
        match factory.build(&expr) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(BuildError::option("xpath", "empty XPath expression")),
            Err(e) => {
                return Err(BuildError::option(
                    "xpath",
                    format!("invalid XPath expression {expr:?}: {e}"),
                ))
            }
        }
        let dest = dest.to_logstash_string();
        let r = FieldRef::parse(&dest).map_err(|e| BuildError::option("xpath", e.to_string()))?;
        xpath.push((expr, r));
    }
    let mut recover = true;
    if let Some(opts) = args.string("parse_options") {
        let mut named = Vec::new();
        for opt in opts.split([',', '|']) {
            let name = opt.trim().replace('_', "").to_lowercase();
            if name.is_empty() {
                continue;
            }
            if !PARSE_OPTIONS
                .iter()
                .any(|o| o.replace('_', "").to_lowercase() == name)
            {
                return Err(BuildError::option(
                    "parse_options",
                    format!("unsupported parse option: {:?}", opt.trim()),
                ));
            }
            named.push(name);
        }
        // The options replace Nokogiri's default (RECOVER | NONET): without `recover`
        // (or a default set that has it) parsing is strict.
        recover = named
            .iter()
            .any(|n| n == "recover" || n == "defaultxml" || n == "defaulthtml");
    }
    let force_array = args.flag("force_array");
    Ok(Box::new(Xml {
        source,
        target,
        xpath,
        recover,
        store_xml,
        force_array,
        simple: simple::Options {
            force_array,
            force_content: args.flag("force_content"),
            suppress_empty: args.flag("suppress_empty"),
        },
        namespaces: args
            .hash("namespaces")
            .into_iter()
            .map(|(k, v)| (k, v.to_logstash_string()))
            .collect(),
        remove_namespaces: args.flag("remove_namespaces"),
    }))
}

/// The namespace prefixes an XPath expression uses (`p:name`, `p:*`, `p:fn()`); axes
/// (`child::`) and string literals are skipped. sxd-xpath panics on an unknown prefix,
/// so they are checked before evaluating.
fn prefixes(expr: &str) -> Vec<&str> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let name_char =
        |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' || c >= 0x80;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b':' => {
                let double = b.get(i + 1) == Some(&b':') || (i > 0 && b[i - 1] == b':');
                if double {
                    i += 2;
                    continue;
                }
                let mut start = i;
                while start > 0 && name_char(b[start - 1]) {
                    start -= 1;
                }
                if start < i && !b[start].is_ascii_digit() {
                    out.push(&expr[start..i]);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Ruby's `Float#to_s` for XPath numbers.
fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// The namespace declarations of `el` itself: `(prefix, uri)`, `""` for the default.
fn declarations(el: &Element) -> impl Iterator<Item = (&str, &str)> {
    el.attrs.iter().filter_map(|(k, v)| {
        if k == "xmlns" {
            Some(("", v.as_str()))
        } else {
            k.strip_prefix("xmlns:").map(|p| (p, v.as_str()))
        }
    })
}

/// Copies the tree into an sxd document so XPath can run over it.
fn to_sxd<'d>(
    doc: dom::Document<'d>,
    el: &Element,
    scope: &mut Vec<(String, String)>,
) -> dom::Element<'d> {
    let mark = scope.len();
    scope.extend(declarations(el).map(|(p, u)| (p.to_string(), u.to_string())));
    let lookup = |prefix: &str, scope: &[(String, String)]| {
        scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
            .filter(|u| !u.is_empty())
    };
    let (prefix, local) = match el.name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, el.name.as_str()),
    };
    let uri = lookup(prefix.unwrap_or(""), scope);
    let e = match (&uri, prefix) {
        (Some(u), _) => doc.create_element((u.as_str(), local)),
        // An undeclared prefix stays part of the name, as libxml2 keeps it.
        (None, Some(_)) => doc.create_element(el.name.as_str()),
        (None, None) => doc.create_element(local),
    };
    if uri.is_some() {
        e.set_preferred_prefix(prefix);
    }
    for (p, u) in declarations(el) {
        if p.is_empty() {
            e.set_default_namespace_uri(Some(u));
        } else {
            e.register_prefix(p, u);
        }
    }
    for (k, v) in &el.attrs {
        if k == "xmlns" || k.starts_with("xmlns:") {
            continue;
        }
        let a = match k.split_once(':') {
            Some((p, l)) => match lookup(p, scope) {
                Some(u) => {
                    let a = e.set_attribute_value((u.as_str(), l), v);
                    a.set_preferred_prefix(Some(p));
                    a
                }
                None => e.set_attribute_value(k.as_str(), v),
            },
            None => e.set_attribute_value(k.as_str(), v),
        };
        let _ = a;
    }
    for c in &el.children {
        match c {
            Node::Element(child) => e.append_child(to_sxd(doc, child, scope)),
            Node::Text(t) => e.append_child(doc.create_text(t)),
            Node::Comment(t) => e.append_child(doc.create_comment(t)),
        }
    }
    scope.truncate(mark);
    e
}

fn prefixed(prefix: Option<&str>, local: &str, out: &mut String) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

/// libxml2's serialization of an element (what Nokogiri's `to_s` gives).
fn serialize(e: dom::Element, out: &mut String) {
    let mut name = String::new();
    prefixed(e.preferred_prefix(), e.name().local_part(), &mut name);
    out.push('<');
    out.push_str(&name);
    if let Some(u) = e.default_namespace_uri() {
        out.push_str(" xmlns=\"");
        tree::escape_attr(u, out);
        out.push('"');
    }
    // Declarations made on this element: in scope here but not in the parent.
    let parent_ns: Vec<(String, String)> = match e.parent() {
        Some(dom::ParentOfChild::Element(p)) => p
            .namespaces_in_scope()
            .iter()
            .map(|n| (n.prefix().to_string(), n.uri().to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let mut own: Vec<(String, String)> = e
        .namespaces_in_scope()
        .iter()
        .map(|n| (n.prefix().to_string(), n.uri().to_string()))
        .filter(|pu| pu.0 != "xml" && !parent_ns.contains(pu))
        .collect();
    own.sort();
    for (p, u) in own {
        out.push_str(" xmlns:");
        out.push_str(&p);
        out.push_str("=\"");
        tree::escape_attr(&u, out);
        out.push('"');
    }
    for a in e.attributes() {
        out.push(' ');
        prefixed(a.preferred_prefix(), a.name().local_part(), out);
        out.push_str("=\"");
        tree::escape_attr(a.value(), out);
        out.push('"');
    }
    let children = e.children();
    if children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in children {
        match c {
            dom::ChildOfElement::Element(ce) => serialize(ce, out),
            dom::ChildOfElement::Text(t) => tree::escape_text(t.text(), out),
            dom::ChildOfElement::Comment(t) => {
                out.push_str("<!--");
                out.push_str(t.text());
                out.push_str("-->");
            }
            dom::ChildOfElement::ProcessingInstruction(p) => {
                out.push_str("<?");
                out.push_str(p.target());
                if let Some(v) = p.value() {
                    out.push(' ');
                    out.push_str(v);
                }
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

/// Nokogiri's `to_s` of one XPath result node.
fn node_text(n: XNode) -> String {
    match n {
        XNode::Element(e) => {
            let mut s = String::new();
            serialize(e, &mut s);
            s
        }
        XNode::Text(t) => {
            let mut s = String::new();
            tree::escape_text(t.text(), &mut s);
            s
        }
        XNode::Attribute(a) => a.value().to_string(),
        XNode::Comment(c) => format!("<!--{}-->", c.text()),
        XNode::Root(_) => {
            let mut s = String::from("<?xml version=\"1.0\"?>\n");
            for c in n.children() {
                s.push_str(&node_text(c));
            }
            s.push('\n');
            s
        }
        other => other.string_value(),
    }
}

impl Xml {
    fn fail(&self, event: &mut Event, why: &dyn std::fmt::Display) -> Outcome {
        tracing::warn!(source = %self.source, error = %why, "error parsing xml");
        event.add_tag(FAILURE_TAG);
        Outcome::Failure
    }

    /// Runs the xpath expressions; the results per destination, or why it failed.
    fn run_xpath(&self, root: Option<Element>) -> Result<Vec<(usize, Vec<String>)>, XpathError> {
        let Some(mut root) = root else {
            return Ok(Vec::new());
        };
        if self.remove_namespaces {
            root.remove_namespaces();
        }
        let package = sxd_document::Package::new();
        let doc = package.as_document();
        let mut context = sxd_xpath::Context::new();
        if self.namespaces.is_empty() {
            for (p, u) in declarations(&root) {
                // Nokogiri names the root's default namespace `xmlns`.
                context.set_namespace(if p.is_empty() { "xmlns" } else { p }, u);
            }
        } else {
            for (p, u) in &self.namespaces {
                context.set_namespace(p, u);
            }
        }
        let sx = to_sxd(doc, &root, &mut Vec::new());
        doc.root().append_child(sx);
        let factory = sxd_xpath::Factory::new();
        let mut out = Vec::with_capacity(self.xpath.len());
        for (i, (expr, _)) in self.xpath.iter().enumerate() {
            let xp = match factory.build(expr) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) => {
                    return Err(XpathError::Invalid {
                        expr: expr.clone(),
                        message: e.to_string(),
                    })
                }
            };
            let known = |p: &str| {
                if self.namespaces.is_empty() {
                    declarations(&root).any(|(d, _)| d == p || (d.is_empty() && p == "xmlns"))
                } else {
                    self.namespaces.iter().any(|(d, _)| d == p)
                }
            };
            if let Some(p) = prefixes(expr).into_iter().find(|p| !known(p)) {
                return Err(XpathError::UndefinedPrefix {
                    expr: expr.clone(),
                    prefix: p.to_string(),
                });
            }
            // A safety net: sxd-xpath reports some errors by panicking.
            let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                xp.evaluate(&context, doc.root())
                    .map_err(|e| XpathError::Evaluate {
                        expr: expr.clone(),
                        message: e.to_string(),
                    })
            }));
            let value = match evaluated {
                Ok(r) => r?,
                Err(_) => return Err(XpathError::Panicked { expr: expr.clone() }),
            };
            let data = match value {
                sxd_xpath::Value::Nodeset(ns) => {
                    ns.document_order().into_iter().map(node_text).collect()
                }
                sxd_xpath::Value::String(s) => vec![s],
                sxd_xpath::Value::Number(f) => vec![ruby_float(f)],
                sxd_xpath::Value::Boolean(true) => vec!["true".to_string()],
                sxd_xpath::Value::Boolean(false) => Vec::new(),
            };
            out.push((i, data));
        }
        Ok(out)
    }
}

/// Why the `xpath` expressions gave no result (the event is tagged `_xmlparsefailure`).
#[derive(Debug, thiserror::Error)]
enum XpathError {
    #[error("invalid XPath expression {expr:?}: {message}")]
    Invalid { expr: String, message: String },
    #[error("XPath {expr:?}: undefined namespace prefix {prefix:?}")]
    UndefinedPrefix { expr: String, prefix: String },
    #[error("XPath {expr:?}: {message}")]
    Evaluate { expr: String, message: String },
    /// sxd-xpath panicked on it.
    #[error("XPath {expr:?} could not be evaluated")]
    Panicked { expr: String },
}

impl Filter for Xml {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let text = match event.get(&self.source) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Outcome::Failure,
            Some(Value::Array(a)) if a.len() != 1 => {
                return self.fail(event, &"XML filter expects single item array")
            }
            Some(Value::Array(a)) => match &a[0] {
                Value::String(s) => s.clone(),
                other => {
                    let kind = other.type_name();
                    return self.fail(event, &format_args!("expects a string, got a {kind}"));
                }
            },
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                let kind = other.type_name();
                return self.fail(event, &format_args!("expects a string, got a {kind}"));
            }
        };
        if text.trim().is_empty() {
            return Outcome::Failure;
        }
        let mut matched = false;
        // Nokogiri parses even without xpath expressions (strict mode can fail here).
        let doc = match tree::parse(&text, !self.recover) {
            Ok(d) => d,
            Err(e) => return self.fail(event, &e),
        };
        if !self.xpath.is_empty() {
            let results = match self.run_xpath(doc) {
                Ok(r) => r,
                Err(e) => return self.fail(event, &e),
            };
            for (i, data) in results {
                let dest = &self.xpath[i].1;
                matched |= !data.is_empty();
                let value = if data.len() == 1 && !self.force_array {
                    data.into_iter().next().map(Value::String)
                } else if data.is_empty() {
                    None
                } else {
                    Some(Value::Array(data.into_iter().map(Value::String).collect()))
                };
                if let Some(v) = value {
                    if event.set(dest, v).is_err() {
                        return self.fail(event, &format_args!("cannot set {dest}"));
                    }
                }
            }
        }
        if self.store_xml {
            let root = match tree::parse(&text, true) {
                Ok(Some(r)) => r,
                Ok(None) => return self.fail(event, &"no root element"),
                Err(e) => return self.fail(event, &e),
            };
            let value = simple::xml_in(&root, self.simple).unwrap_or(Value::Null);
            if let Some(t) = &self.target {
                if event.set(t, value).is_err() {
                    return self.fail(event, &format_args!("cannot set {t}"));
                }
            }
            matched = true;
        }
        if matched {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: Args, xml: Value) -> (Outcome, Event) {
        let f = build(&args, &BuildContext::default()).unwrap();
        let mut e = Event::new();
        e.set(&FieldRef::top("x"), xml).unwrap();
        let o = f.apply(&mut e, &mut FilterContext::default());
        (o, e)
    }

    fn xp(exprs: &[(&str, &str)]) -> Value {
        let mut m = logstash_mesos_core::Map::new();
        for (k, v) in exprs {
            m.insert(*k, Value::from(*v));
        }
        Value::Object(Box::new(m))
    }

    fn base() -> Args {
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", "x".into())
            .with("store_xml", false.into())
    }

    #[test]
    fn xpath_values_and_kinds() {
        let args = base().with(
            "xpath",
            xp(&[
                ("count(/a/b)", "n"),
                ("/a/b/@k", "attr"),
                ("/a/b[1]", "el"),
                ("string(/a/c)", "s"),
                ("/a/nothing", "none"),
                ("1 = 2", "f"),
            ]),
        );
        let (o, e) = run(
            args,
            "<a><b k=\"1\">x &amp; y</b><b k=\"2\"/><c>t</c></a>".into(),
        );
        assert_eq!(o, Outcome::Success);
        let get = |k: &str| e.get(&FieldRef::top(k)).cloned();
        assert_eq!(get("n"), Some(Value::Array(vec!["2.0".into()])));
        assert_eq!(
            get("attr"),
            Some(Value::Array(vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            get("el"),
            Some(Value::Array(vec!["<b k=\"1\">x &amp; y</b>".into()]))
        );
        assert_eq!(get("s"), Some(Value::Array(vec!["t".into()])));
        assert_eq!(get("none"), None);
        assert_eq!(get("f"), None);
    }

    #[test]
    fn default_namespace_prefix_is_xmlns() {
        let args = base().with("xpath", xp(&[("/xmlns:a/xmlns:b/text()", "v")]));
        let (_, e) = run(args, "<a xmlns=\"urn:x\"><b>1</b></a>".into());
        assert_eq!(
            e.get(&FieldRef::top("v")),
            Some(&Value::Array(vec!["1".into()]))
        );
    }

    #[test]
    fn bad_input_is_tagged() {
        // Unknown prefix in an expression.
        let args = base().with("xpath", xp(&[("/q:a", "v")]));
        let (o, e) = run(args, "<a/>".into());
        assert_eq!(o, Outcome::Failure);
        assert!(e.has_tag(FAILURE_TAG));
        // Strict parsing of a broken document.
        let args = base()
            .with("parse_options", "strict".into())
            .with("xpath", xp(&[("/a", "v")]));
        let (_, e) = run(args, "<a><b></a>".into());
        assert!(e.has_tag(FAILURE_TAG));
        // store_xml on a broken document.
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", "x".into())
            .with("target", "t".into());
        let (_, e) = run(args.clone(), "<a><b></a>".into());
        assert!(e.has_tag(FAILURE_TAG));
        assert!(e.get(&FieldRef::top("t")).is_none());
        // Not a string.
        let (_, e) = run(args.clone(), Value::Integer(1));
        assert!(e.has_tag(FAILURE_TAG));
        // Blank: nothing happens.
        let (o, e) = run(args, "  ".into());
        assert_eq!(o, Outcome::Failure);
        assert!(e.tags().is_empty());
    }

    #[test]
    fn finds_prefixes() {
        assert_eq!(
            prefixes("/a:b/child::c[@x:y='p:q']/d:*"),
            vec!["a", "x", "d"]
        );
        assert!(prefixes("count(//x) > 1").is_empty());
    }

    #[test]
    fn bad_config() {
        let ctx = BuildContext::default();
        // store_xml without target.
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("source", "x".into()),
            &ctx
        )
        .is_err());
        let bad = base().with("xpath", xp(&[("/a[", "v")]));
        assert_eq!(
            build(&bad, &ctx).err().unwrap().option.as_deref(),
            Some("xpath")
        );
        let bad = base().with("parse_options", "strict|bogus".into());
        assert!(build(&bad, &ctx).is_err());
        let ok = base().with("parse_options", "noerror, nowarning".into());
        assert!(build(&ok, &ctx).is_ok());
    }
}
