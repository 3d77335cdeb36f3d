//! One test per construct, comparing the AST.

use super::*;
use crate::lang::ast::{BoolOp, Branch, CmpOp, Expr, Rvalue, RvalueKind};

fn opts() -> ParseOptions {
    ParseOptions::with_env(|name| match name {
        "HOST" => Some("es.local".into()),
        "BACKSLASH" => Some("a\\\\nb".into()),
        _ => None,
    })
}

fn parse_str(text: &str) -> Config {
    parse_with(text, &opts())
}

fn parse_with(text: &str, o: &ParseOptions) -> Config {
    let s = Sources::from_string("t.conf", text);
    match parse(&s, o) {
        Ok(c) => c,
        Err(d) => panic!("parse failed:\n{}", s.render_all(&d)),
    }
}

fn parse_err(text: &str) -> String {
    let s = Sources::from_string("t.conf", text);
    match parse(&s, &opts()) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(d) => s.render_all(&d),
    }
}

fn sp(text: &str, needle: &str) -> Span {
    let start = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    Span {
        start,
        end: start + needle.len(),
    }
}

/// The single plugin of the single section.
fn only_plugin(c: &Config) -> &Plugin {
    match c.sections[0].body.as_slice() {
        [Stmt::Plugin(p)] => p,
        other => panic!("expected one plugin, got {other:?}"),
    }
}

fn attr_value(text: &str) -> ValueKind {
    let c = parse_str(&format!("filter {{ p {{ a => {text} }} }}"));
    only_plugin(&c).attributes[0].value.kind.clone()
}

fn s(v: &str) -> ValueKind {
    ValueKind::String(v.into())
}

/// The condition of the first `if` of a filter section.
fn cond(text: &str) -> Expr {
    let c = parse_str(&format!("filter {{ if {text} {{ }} }}"));
    match c.sections[0].body.as_slice() {
        [Stmt::If(chain)] => chain.branches[0].condition.clone(),
        other => panic!("expected an if, got {other:?}"),
    }
}

/// A compact rendering of a condition, to compare structure without spans.
fn show(e: &Expr) -> String {
    fn rv(r: &Rvalue) -> String {
        match &r.kind {
            RvalueKind::String(s) => format!("{s:?}"),
            RvalueKind::Number(n) => n.clone(),
            RvalueKind::Selector(s) => s.clone(),
            RvalueKind::Regex(r) => format!("/{r}/"),
            RvalueKind::Array(items) => {
                format!("[{}]", items.iter().map(rv).collect::<Vec<_>>().join(","))
            }
            RvalueKind::MethodCall { name, args } => {
                format!(
                    "{name}({})",
                    args.iter().map(rv).collect::<Vec<_>>().join(",")
                )
            }
        }
    }
    match e {
        Expr::Bool { op, left, right } => format!("({} {op:?} {})", show(left), show(right))
            .replace("And", "and")
            .replace("Or", "or")
            .replace("Xor", "xor")
            .replace("Nand", "nand"),
        Expr::Not(inner) => format!("!{}", show(inner)),
        Expr::Compare { op, left, right } => format!("{} {op:?} {}", rv(left), rv(right)),
        Expr::Match {
            negate,
            left,
            right,
        } => format!(
            "{} {} {}",
            rv(left),
            if *negate { "!~" } else { "=~" },
            rv(right)
        ),
        Expr::In {
            negate,
            left,
            right,
        } => format!(
            "{} {} {}",
            rv(left),
            if *negate { "not in" } else { "in" },
            rv(right)
        ),
        Expr::Value(v) => rv(v),
    }
}

#[test]
fn sections_in_order_with_spans() {
    let text = "input { stdin {} }\nfilter {}\noutput { stdout {} }\nfilter { }";
    let c = parse_str(text);
    let kinds: Vec<_> = c.sections.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        vec![
            SectionKind::Input,
            SectionKind::Filter,
            SectionKind::Output,
            SectionKind::Filter
        ]
    );
    assert_eq!(c.sections[0].span, sp(text, "input { stdin {} }"));
    assert_eq!(c.sections[3].span, sp(text, "filter { }"));
}

#[test]
fn empty_config_and_comments_only() {
    assert_eq!(parse_str(""), Config::default());
    assert_eq!(parse_str("# nothing here\n  # at all"), Config::default());
}

#[test]
fn plugin_with_attributes() {
    let text = "filter {\n  mutate { 'add_tag' => \"a\" \"x-y\" => 1 }\n}";
    let c = parse_str(text);
    let p = only_plugin(&c);
    assert_eq!(p.name, "mutate");
    assert_eq!(p.name_span, sp(text, "mutate"));
    assert_eq!(
        p.span,
        sp(text, "mutate { 'add_tag' => \"a\" \"x-y\" => 1 }")
    );
    assert_eq!(p.attributes.len(), 2);
    assert_eq!(p.attributes[0].name, "add_tag");
    assert_eq!(p.attributes[0].name_span, sp(text, "'add_tag'"));
    assert_eq!(
        p.attributes[0].value,
        Value {
            kind: s("a"),
            span: sp(text, "\"a\"")
        }
    );
    assert_eq!(p.attributes[1].name, "x-y");
    assert_eq!(p.attributes[1].value.kind, ValueKind::Number("1".into()));
}

#[test]
fn scalar_values() {
    assert_eq!(attr_value("\"double\""), s("double"));
    assert_eq!(attr_value("'single'"), s("single"));
    assert_eq!(attr_value("-1.5"), ValueKind::Number("-1.5".into()));
    assert_eq!(attr_value("010"), ValueKind::Number("010".into()));
    assert_eq!(attr_value("3."), ValueKind::Number("3.".into()));
    assert_eq!(attr_value("true"), ValueKind::Bareword("true".into()));
    assert_eq!(attr_value("_x1"), ValueKind::Bareword("_x1".into()));
    // Strings may span lines and hold anything but their closing quote.
    assert_eq!(
        attr_value("\"a\nb # not a comment\""),
        s("a\nb # not a comment")
    );
}

#[test]
fn strings_are_literal_without_escapes() {
    assert_eq!(
        attr_value(r#""The computer says, \"No\"""#),
        s(r#"The computer says, \"No\""#)
    );
    assert_eq!(attr_value(r"'It\'s'"), s(r"It\'s"));
    assert_eq!(attr_value(r#""\d+\n""#), s(r"\d+\n"));
}

#[test]
fn escapes_when_enabled() {
    let o = ParseOptions {
        support_escapes: true,
        ..opts()
    };
    let c = parse_with(
        r#"filter { p { a => "The computer says, \"No\"" b => 'It\'s\t1' } }"#,
        &o,
    );
    let p = only_plugin(&c);
    assert_eq!(p.attributes[0].value.kind, s("The computer says, \"No\""));
    assert_eq!(p.attributes[1].value.kind, s("It's\t1"));
}

#[test]
fn arrays_and_hashes() {
    let text = r#"filter { p { a => [ "x", 1 , [bb] , {kk => vv} ] } }"#;
    let c = parse_str(text);
    let ValueKind::Array(items) = &only_plugin(&c).attributes[0].value.kind else {
        panic!("not an array")
    };
    assert_eq!(items[0].kind, s("x"));
    assert_eq!(items[1].kind, ValueKind::Number("1".into()));
    assert_eq!(
        items[2].kind,
        ValueKind::Array(vec![Value {
            kind: ValueKind::Bareword("bb".into()),
            span: sp(text, "bb")
        }])
    );
    let ValueKind::Hash(entries) = &items[3].kind else {
        panic!("not a hash")
    };
    assert_eq!(entries[0].key, "kk");
    assert_eq!(entries[0].key_span, sp(text, "kk"));
    assert_eq!(entries[0].value.kind, ValueKind::Bareword("vv".into()));
    assert_eq!(attr_value("[]"), ValueKind::Array(vec![]));
    assert_eq!(attr_value("{}"), ValueKind::Hash(vec![]));
}

#[test]
fn hash_keys_of_every_kind() {
    let text = "filter { p { h => { \"q\" => 1 'sq' => 2 bare => 3 42 => 4 } } }";
    let c = parse_str(text);
    let ValueKind::Hash(entries) = &only_plugin(&c).attributes[0].value.kind else {
        panic!("not a hash")
    };
    let keys: Vec<_> = entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["q", "sq", "bare", "42"]);
    assert_eq!(entries[0].key_span, sp(text, "\"q\""));
}

#[test]
fn plugin_as_value() {
    let text = "input { stdin { codec => json_lines { charset => \"UTF-8\" } } }";
    let c = parse_str(text);
    let ValueKind::Plugin(codec) = &only_plugin(&c).attributes[0].value.kind else {
        panic!("not a plugin")
    };
    assert_eq!(codec.name, "json_lines");
    assert_eq!(codec.attributes[0].name, "charset");
    assert_eq!(codec.attributes[0].value.kind, s("UTF-8"));
    // A bareword followed by a line break is a bareword, not a plugin.
    assert_eq!(attr_value("plain\n"), ValueKind::Bareword("plain".into()));
}

#[test]
fn no_whitespace_needed_and_crlf() {
    let text = "filter{mutate{add_tag=>[\"a\",\"b\"]}}";
    let c = parse_str(text);
    assert_eq!(
        only_plugin(&c).attributes[0].value.kind,
        ValueKind::Array(vec![
            Value {
                kind: s("a"),
                span: sp(text, "\"a\"")
            },
            Value {
                kind: s("b"),
                span: sp(text, "\"b\"")
            },
        ])
    );
    let c = parse_str("filter {\r\n  mutate { add_tag => \"a\" } # c\r\n}\r\n");
    assert_eq!(only_plugin(&c).name, "mutate");
}

#[test]
fn env_substitution_in_values_not_keys() {
    let c = parse_str(
        r#"output { es { hosts => ["${HOST}:9200"] m => { "${HOST}" => "${NOPE:dflt}" } } }"#,
    );
    let p = only_plugin(&c);
    let ValueKind::Array(hosts) = &p.attributes[0].value.kind else {
        panic!("not an array")
    };
    assert_eq!(hosts[0].kind, s("es.local:9200"));
    let ValueKind::Hash(m) = &p.attributes[1].value.kind else {
        panic!("not a hash")
    };
    assert_eq!(m[0].key, "${HOST}");
    assert_eq!(m[0].value.kind, s("dflt"));
}

#[test]
fn env_values_are_not_escape_processed() {
    let o = ParseOptions {
        support_escapes: true,
        ..opts()
    };
    let c = parse_with(r#"filter { p { a => "${BACKSLASH}\t" } }"#, &o);
    assert_eq!(only_plugin(&c).attributes[0].value.kind, s("a\\\\nb\t"));
}

#[test]
fn undefined_env_is_an_error_at_the_placeholder() {
    let err = parse_err("filter {\n  p { a => \"x${NOPE}\" b => \"${ALSO}\" }\n}");
    assert!(
        err.starts_with("t.conf:2:14: cannot evaluate `${NOPE}`"),
        "{err}"
    );
    assert!(
        err.contains("t.conf:2:29: cannot evaluate `${ALSO}`"),
        "{err}"
    );
}

#[test]
fn if_else_if_else() {
    let text = "filter {\n  if [a] { p1 {} } else if [b] { p2 {} }\n  else { p3 {} }\n}";
    let c = parse_str(text);
    let [Stmt::If(chain)] = c.sections[0].body.as_slice() else {
        panic!("not one if")
    };
    assert_eq!(chain.branches.len(), 2);
    assert_eq!(show(&chain.branches[1].condition), "[b]");
    let Branch { body, .. } = &chain.branches[0];
    assert!(matches!(body.as_slice(), [Stmt::Plugin(p)] if p.name == "p1"));
    assert!(matches!(chain.else_body.as_deref(), Some([Stmt::Plugin(p)]) if p.name == "p3"));
    assert_eq!(
        chain.span,
        sp(
            text,
            "if [a] { p1 {} } else if [b] { p2 {} }\n  else { p3 {} }"
        )
    );
}

#[test]
fn nested_ifs() {
    let c = parse_str("filter { if [a] { if [b] { x1 {} } else { x2 {} } } }");
    let [Stmt::If(outer)] = c.sections[0].body.as_slice() else {
        panic!("not one if")
    };
    assert!(
        matches!(outer.branches[0].body.as_slice(), [Stmt::If(inner)] if inner.else_body.is_some())
    );
}

#[test]
fn comparisons() {
    assert_eq!(show(&cond("[a] == 1")), "[a] Eq 1");
    assert_eq!(show(&cond("[a]!='x'")), "[a] Ne \"x\"");
    assert_eq!(show(&cond("[a] < 1")), "[a] Lt 1");
    assert_eq!(show(&cond("[a] > 1")), "[a] Gt 1");
    assert_eq!(show(&cond("[a] <= -1.5")), "[a] Le -1.5");
    assert_eq!(show(&cond("[a] >= [b]")), "[a] Ge [b]");
    assert!(matches!(
        cond("[a] == 1"),
        Expr::Compare { op: CmpOp::Eq, .. }
    ));
}

#[test]
fn regex_matches() {
    assert_eq!(show(&cond("[a] =~ /^x\\/y$/")), "[a] =~ /^x/y$/");
    assert_eq!(show(&cond("[a] !~ \"\\.\\.\"")), "[a] !~ \"\\\\.\\\\.\"");
    // `${VAR}` is not substituted in a pattern.
    assert_eq!(show(&cond("[a] =~ \"${HOST}\"")), "[a] =~ \"${HOST}\"");
}

#[test]
fn in_and_not_in() {
    assert_eq!(
        show(&cond("[a] in [\"x\", yy, 1]")),
        "[a] in [\"x\",\"yy\",1]"
    );
    assert_eq!(show(&cond("\"x\" not in [tags]")), "\"x\" not in [tags]");
    assert_eq!(
        show(&cond("\"x\" not # c\n  in [tags]")),
        "\"x\" not in [tags]"
    );
    assert_eq!(show(&cond("[a] in \"${HOST}\"")), "[a] in \"es.local\"");
}

#[test]
fn selectors() {
    assert_eq!(show(&cond("[@metadata][x]")), "[@metadata][x]");
    assert_eq!(
        show(&cond("[field with spaces][y]")),
        "[field with spaces][y]"
    );
    let Expr::Value(Rvalue { span, .. }) = cond("[a][b]") else {
        panic!("not a value")
    };
    assert_eq!(span.end - span.start, 6);
}

#[test]
fn negation_and_parentheses() {
    assert_eq!(show(&cond("![a]")), "![a]");
    assert_eq!(show(&cond("!([a] == 1)")), "![a] Eq 1");
    assert_eq!(show(&cond("(([a]))")), "[a]");
    assert_eq!(
        show(&cond("!(\"foo\" in [\"hello\"])")),
        "!\"foo\" in [\"hello\"]"
    );
}

#[test]
fn method_calls_parse() {
    assert_eq!(show(&cond("foo([a], \"b\")")), "foo([a],\"b\")");
}

#[test]
fn boolean_precedence_follows_logstash() {
    assert_eq!(show(&cond("[a] and [b] or [c]")), "(([a] and [b]) or [c])");
    assert_eq!(show(&cond("[a] or [b] and [c]")), "([a] or ([b] and [c]))");
    assert_eq!(show(&cond("[a] or [b] or [c]")), "([a] or ([b] or [c]))");
    assert_eq!(
        show(&cond("[a] and ([b] or ![c]) nand [d] xor [e]")),
        "([a] and ((([b] or ![c]) nand [d]) xor [e]))"
    );
    // lscl.rb pops a single operator on lower precedence, which groups this as below
    // (not as `a or (b and c and d) or e`).
    assert_eq!(
        show(&cond("[a] or [b] and [c] and [d] or [e]")),
        "([a] or ([b] and (([c] and [d]) or [e])))"
    );
    assert!(matches!(
        cond("[a] xor [b]"),
        Expr::Bool {
            op: BoolOp::Xor,
            ..
        }
    ));
    assert!(matches!(
        cond("[a] nand [b]"),
        Expr::Bool {
            op: BoolOp::Nand,
            ..
        }
    ));
}

#[test]
fn treetop_oddities_are_kept() {
    // `if` with no condition is a plugin named "if", `else` after an else a plugin
    // named "else": treetop's plugin names are any `[A-Za-z0-9_-]+`.
    let c = parse_str("filter { if { } }");
    assert_eq!(only_plugin(&c).name, "if");
    // An array of one quoted string in a condition reads as a field reference.
    assert_eq!(show(&cond("[a] in [\"x\"]")), "[a] in [\"x\"]");
    assert!(matches!(
        cond("[a] in [\"x\"]"),
        Expr::In {
            right: Rvalue {
                kind: RvalueKind::Selector(_),
                ..
            },
            ..
        }
    ));
}

#[test]
fn keywords_need_exact_spelling() {
    let err = parse_err("filter { if [a] == 1 { } elsif [b] == 2 { } }");
    assert!(err.contains("\"elsif\" is not a keyword"), "{err}");
    // `not` must be followed by a space, as in Logstash's grammar.
    parse_err("filter { if \"x\" not\tin [tags] { } }");
}

#[test]
fn rejects_what_treetop_rejects() {
    for bad in [
        "filter { mutate { add_tag => [\"a\",] } }",
        "filter { mutate { add_field => { \"a\" => \"1\", \"b\" => \"2\" } } }",
        "filters { }",
        "filter { mutate { }",
        "filter { mutate { add_tag => x } }",
        "filter { mutate { a => 1 b => 2 } } }",
        "filter { mutate { a => 1b => 2 } }",
        "filter { if [a] { } else if { } }",
        "filter { if !\"x\" { } }",
        "filter { if [a] =~ [b] { } }",
        "filter { mutate { h => { a => 1 } } }",
        "filter { mutate { h => { aa => b } } }",
        "filter { mutate { \"unterminated => 1 } }",
        "input { } }",
        "input",
    ] {
        let s = Sources::from_string("t.conf", bad);
        assert!(parse(&s, &opts()).is_err(), "accepted: {bad}");
    }
}

#[test]
fn error_spans_point_at_the_offending_token() {
    let text = "filter {\n  mutate { add_field => { \"a\" => \"1\", \"b\" => \"2\" } }\n}";
    let s = Sources::from_string("t.conf", text);
    let err = parse(&s, &opts()).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(
        err[0].span,
        Span {
            start: text.find(',').unwrap(),
            end: text.find(',').unwrap() + 1
        }
    );
    assert_eq!(
        err[0].message,
        "expected one of: \"}\", whitespace, found \",\""
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "filter {{ p {{ a => {}1{} }} }}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let s = Sources::from_string("t.conf", &deep);
    assert!(parse(&s, &opts()).is_err());
    let cond = format!(
        "filter {{ if {}[a]{} {{ }} }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let s = Sources::from_string("t.conf", &cond);
    assert!(parse(&s, &opts()).is_err());
}
