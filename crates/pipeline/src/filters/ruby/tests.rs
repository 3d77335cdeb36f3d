//! The ruby filter on the real interpreter. The first group ports logstash-filter-ruby's
//! own spec (spec/filters/ruby_spec.rb and its fixtures); then the Event API, snippets
//! typical of real configs, errors, and several workers at once.
//!
//! These tests need Ruby (scripts/setup/ruby.sh): without it the crate does not build
//! with the `ruby` feature, or the VM does not start and every test fails — never skips.

use super::*;
use crate::graph::{CompiledInput, CompiledOutput, Route};
use crate::input_context::InputContext;
use crate::lang::compile::compile;
use crate::lang::{parse, ParseOptions, Sources};
use crate::plugin::{BoxFuture, FilterContext, Input, Outcome, Output};
use crate::registry::{Kind, Registry};
use crate::runner::{run_steps, RunSettings, RunningPipeline};
use logstash_mesos_core::{Event, FieldRef, Map, Timestamp, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// --- helpers ------------------------------------------------------------------------

fn args(opts: &[(&str, Value)]) -> Args {
    let mut a = Args::for_plugin(Kind::Filter, OPTIONS);
    for (k, v) in opts {
        a = a.with(k, v.clone());
    }
    a
}

fn filter(opts: &[(&str, Value)]) -> Box<dyn Filter> {
    build(&args(opts), &BuildContext::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn code(c: &str) -> Box<dyn Filter> {
    filter(&[("code", c.into())])
}

fn build_err(opts: &[(&str, Value)]) -> BuildError {
    match build(&args(opts), &BuildContext::default()) {
        Ok(_) => panic!("expected a build error"),
        Err(e) => e,
    }
}

/// Applies `f` to `e`; returns the outcome and the new events.
fn apply(f: &dyn Filter, e: &mut Event) -> (Outcome, Vec<Event>) {
    let mut ctx = FilterContext::default();
    let o = f.apply(e, &mut ctx);
    (o, ctx.new_events)
}

fn ev(fields: &[(&str, Value)]) -> Event {
    let mut e = Event::new();
    for (k, v) in fields {
        e.set(&FieldRef::parse(k).expect("field ref"), v.clone())
            .expect("set");
    }
    e
}

fn get(e: &Event, f: &str) -> Option<Value> {
    e.get(&FieldRef::parse(f).expect("field ref")).cloned()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// Compiles `filter { <body> }` and runs `events` through it (no workers).
fn run_config(body: &str, events: Vec<Event>) -> Vec<Event> {
    let sources = Sources::from_string("t", &format!("filter {{\n{body}\n}}\n"));
    let ast = parse(&sources, &ParseOptions::default()).expect("test config parses");
    let p = compile(&ast, &Registry::builtin(), &BuildContext::default())
        .unwrap_or_else(|d| panic!("{}", sources.render_all(&d)));
    run_steps(&p.filters, events)
}

/// The rendered config errors of `filter { <body> }`.
fn config_errors(body: &str) -> String {
    let sources = Sources::from_string("t.conf", &format!("filter {{\n{body}\n}}\n"));
    let ast = parse(&sources, &ParseOptions::default()).expect("test config parses");
    match compile(&ast, &Registry::builtin(), &BuildContext::default()) {
        Ok(_) => panic!("expected config errors"),
        Err(d) => sources.render_all(&d),
    }
}

fn script(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".rb")
        .tempfile()
        .expect("temp script");
    f.write_all(content.as_bytes()).expect("write script");
    f
}

fn eval(code: &str) -> String {
    vm::vm().expect("ruby starts").eval(code).expect("eval")
}

// --- logstash-filter-ruby's spec ----------------------------------------------------

/// "generate pretty json on event.to_hash": `JSON.pretty_generate(event.to_hash)`, after
/// the date filter set @timestamp.
#[test]
fn spec_pretty_json_on_to_hash() {
    let out = run_config(
        r#"date { match => [ "mydate", "ISO8601" ] locale => "en" timezone => "UTC" }
           ruby { init => "require 'json'" code => "event.set('pretty', JSON.pretty_generate(event.to_hash))" }"#,
        vec![ev(&[
            ("message", s("hello world")),
            ("mydate", s("2014-09-23T00:00:00-0800")),
        ])],
    );
    assert_eq!(out.len(), 1);
    let pretty = get(&out[0], "pretty")
        .and_then(|v| v.as_str().map(String::from))
        .expect("pretty");
    assert_eq!(pretty.matches('\n').count(), 5, "{pretty}");
    let parsed: serde_json::Value = serde_json::from_str(&pretty).expect("json");
    let want: serde_json::Value = serde_json::json!({
        "message": "hello world",
        "mydate": "2014-09-23T00:00:00-0800",
        "@version": "1",
        "@timestamp": "2014-09-23T08:00:00.000Z"
    });
    assert_eq!(parsed, want);
}

/// "generate pretty json on event": `JSON.pretty_generate(event)` uses the event's own
/// compact `to_json`.
#[test]
fn spec_pretty_generate_of_the_event_is_compact() {
    let out = run_config(
        r#"date { match => [ "mydate", "ISO8601" ] locale => "en" timezone => "UTC" }
           ruby { init => "require 'json'" code => "event.set('pretty', JSON.pretty_generate(event))" }"#,
        vec![ev(&[
            ("message", s("hello world")),
            ("mydate", s("2014-09-23T00:00:00-0800")),
        ])],
    );
    let pretty = get(&out[0], "pretty")
        .and_then(|v| v.as_str().map(String::from))
        .expect("pretty");
    assert_eq!(pretty.matches('\n').count(), 0, "{pretty}");
    let parsed: serde_json::Value = serde_json::from_str(&pretty).expect("json");
    assert_eq!(parsed["@timestamp"], "2014-09-23T08:00:00.000Z");
    assert_eq!(parsed["message"], "hello world");
}

/// "catch all exceptions and don't let them ruin your day": tagged, common options not
/// applied, the event otherwise intact.
#[test]
fn spec_exception_tags_the_event_and_skips_common_options() {
    let out = run_config(
        r#"date { match => [ "mydate", "ISO8601" ] locale => "en" timezone => "UTC" }
           ruby { init => "require 'json'" code => "raise 'You shall not pass'" add_tag => ["ok"] }"#,
        vec![ev(&[
            ("message", s("hello world")),
            ("mydate", s("2014-09-23T00:00:00-0800")),
        ])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(get(&out[0], "mydate"), Some(s("2014-09-23T00:00:00-0800")));
    assert_eq!(
        get(&out[0], "tags"),
        Some(Value::Array(vec![s("_rubyexception")]))
    );
}

/// "with new event block": `new_event_block.call(event.clone)` adds a second event equal
/// to the first, after it.
#[test]
fn spec_new_event_block_creates_a_new_event() {
    let f = code("new_event_block.call(event.clone)");
    let mut e = ev(&[
        ("message", s("hello world")),
        ("mydate", s("2014-09-23T00:00:00-0800")),
    ]);
    let before = e.fields().clone();
    let (o, new) = apply(f.as_ref(), &mut e);
    assert_eq!(o, Outcome::Success);
    assert_eq!(new.len(), 1);
    assert_eq!(e.fields(), &before);
    assert_eq!(new[0].fields(), &before);
}

/// "allow to replace event by another one": the clone goes on, the cancelled original
/// does not.
#[test]
fn spec_replace_the_event_by_another() {
    let out = run_config(
        r#"ruby { code => "new_event_block.call(event.clone);
                          event.cancel;" add_tag => ["ok"] }"#,
        vec![ev(&[
            ("message", s("hello world")),
            ("mydate", s("2014-09-23T00:00:00-0800")),
        ])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(get(&out[0], "message"), Some(s("hello world")));
    assert_eq!(get(&out[0], "mydate"), Some(s("2014-09-23T00:00:00-0800")));
}

const FIELD_MULTIPLIER: &str = r#"
# Disables mutex around the `filter` function
def concurrency
  :shared
end

def register(params)
  @field = params['field']
  @multiplier = params['multiplier']
end

def filter(event)
  event.set(@field, event.get(@field) * @multiplier)
  [event]
end

test "standard flow" do
  parameters do
    { "field" => "myfield", "multiplier" => 3 }
  end

  in_event { { "myfield" => 123 } }

  expect("there to be only one result event") do |events|
    events.size == 1
  end

  expect("result to be equal to 123*3(369)") do |events|
    events.first.get("myfield") == 369
  end
end
"#;

fn script_params() -> Value {
    let mut m = Map::new();
    m.insert("field", s("foo"));
    m.insert("multiplier", Value::Integer(2));
    Value::Object(Box::new(m))
}

/// "when using file based script": registers (its own test passes), filters, and the
/// common options apply (filter_matched).
#[test]
fn spec_file_script_filters_and_applies_filter_matched() {
    let file = script(FIELD_MULTIPLIER);
    let path = file.path().display().to_string();
    let out = run_config(
        &format!(
            r#"ruby {{ path => "{path}" script_params => {{ "field" => "foo" "multiplier" => 2 }} add_field => {{ "success" => "yes" }} }}"#
        ),
        vec![ev(&[("foo", Value::Integer(42))])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(get(&out[0], "foo"), Some(Value::Integer(84)));
    assert_eq!(get(&out[0], "success"), Some(s("yes")));
    // And straight through the builder, with script_params as a hash value.
    let f = filter(&[("path", s(&path)), ("script_params", script_params())]);
    let mut e = ev(&[("foo", Value::Integer(42))]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Success);
    assert_eq!(get(&e, "foo"), Some(Value::Integer(84)));
}

/// "scripts with failing test suites ... should error out during register" (broken.rb).
#[test]
fn spec_script_with_a_failing_test_is_a_config_error() {
    let file = script(
        r#"
def filter(event)
  event.set('foo', 'bar')
  [event]
end

test "setting the field" do
  in_event { { "myfield" => 123 } }

  # This should fail!
  expect("foo to equal baz") do |events|
    events.first.get('foo') == 'baz'
  end
end
"#,
    );
    let err = build_err(&[("path", s(&file.path().display().to_string()))]);
    assert_eq!(err.option.as_deref(), Some("path"));
    assert!(err.message.contains("had 1 failing tests"), "{err}");
    assert!(
        err.message.contains("setting the field foo to equal baz"),
        "{err}"
    );
}

/// "should produce more multiple events" (multi_events.rb): three clones go on, the
/// original (not returned) is dropped.
#[test]
fn spec_script_returning_several_events() {
    let file = script("def register(params)\nend\n\ndef filter(event)\n  [event.clone, event.clone, event.clone]\nend\n");
    let f = filter(&[("path", s(&file.path().display().to_string()))]);
    let mut e = ev(&[("foo", Value::Integer(42))]);
    let (o, new) = apply(f.as_ref(), &mut e);
    assert_eq!(o, Outcome::Drop);
    assert_eq!(new.len(), 3);
    assert!(new
        .iter()
        .all(|n| get(n, "foo") == Some(Value::Integer(42))));
}

// --- options and config errors ------------------------------------------------------

#[test]
fn code_and_path_are_exclusive_and_one_is_required() {
    let e = build_err(&[("code", s("1")), ("path", s("/x.rb"))]);
    assert_eq!(e.option.as_deref(), Some("path"));
    assert!(e.message.contains("exclusive"), "{e}");
    let e = build_err(&[]);
    assert!(e.message.contains("either use an inline script"), "{e}");
    let e = build_err(&[("path", s("/nonexistent/script.rb"))]);
    assert!(e.message.contains("cannot read the script"), "{e}");
    let e = build_err(&[("path", s("/x.rb")), ("init", s("@a = 1"))]);
    assert_eq!(e.option.as_deref(), Some("init"));
}

/// A syntax error in `code` is a config error at the option's position in the config,
/// with the line and column inside the snippet.
#[test]
fn syntax_error_in_code_names_snippet_line_and_config_position() {
    let e = build_err(&[("code", s("x = 1\ny = (2 +\nevent.set('a', x))) ]"))]);
    assert_eq!(e.option.as_deref(), Some("code"));
    assert!(
        e.message.starts_with(
            "ruby syntax error at line 3, column 19 of `code`: syntax error, unexpected ')'"
        ),
        "{e}"
    );
    // A long line is shown cut by Ruby; the column is still the one in the snippet.
    let long = format!("x = '{}' + (1 2)", "a".repeat(200));
    let e = build_err(&[("code", s(&long))]);
    assert!(
        e.message
            .starts_with("ruby syntax error at line 1, column 213 "),
        "{e}"
    );

    let rendered = config_errors(
        "  mutate { add_tag => [\"x\"] }\n  ruby {\n    code => \"event.set('a', 1)\n  if (\"\n  }",
    );
    // The option's value starts on line 4 of the file (after `filter {`, mutate, `ruby {`);
    // the unclosed `if (` is at the end of the snippet's line 2.
    assert!(rendered.contains("t.conf:4:13"), "{rendered}");
    assert!(
        rendered.contains("ruby syntax error at line 2 of `code`"),
        "{rendered}"
    );
    assert!(rendered.contains("something is not closed"), "{rendered}");
}

#[test]
fn syntax_error_in_init_is_reported_on_init() {
    let e = build_err(&[("init", s("@a = {\n'x' => 1,,\n}")), ("code", s("event"))]);
    assert_eq!(e.option.as_deref(), Some("init"));
    assert!(
        e.message
            .starts_with("ruby syntax error at line 2, column 10 of `init`"),
        "{e}"
    );
}

#[test]
fn syntax_error_in_a_script_is_reported_on_path() {
    let file = script("def filter(event)\n  [event\nend\n");
    let e = build_err(&[("path", s(&file.path().display().to_string()))]);
    assert_eq!(e.option.as_deref(), Some("path"));
    assert!(e.message.contains("syntax error"), "{e}");
    assert!(
        e.message.contains(&format!("{}:", file.path().display())),
        "{e}"
    );
}

#[test]
fn an_exception_in_init_or_register_is_a_config_error() {
    let e = build_err(&[
        ("init", s("raise ArgumentError, 'bad init'")),
        ("code", s("event")),
    ]);
    assert!(e.message.contains("ArgumentError: bad init"), "{e}");
    let file = script(
        "def register(params)\n  raise 'no ' + params['x'].to_s\nend\ndef filter(e) = [e]\n",
    );
    let e = build_err(&[("path", s(&file.path().display().to_string()))]);
    assert!(e.message.contains("Error during register"), "{e}");
    let file = script("def register(params)\nend\n");
    let e = build_err(&[("path", s(&file.path().display().to_string()))]);
    assert!(e.message.contains("does not define a filter"), "{e}");
}

// --- exceptions at run time -------------------------------------------------------

#[test]
fn tag_with_exception_message_adds_both_tags() {
    let f = filter(&[
        ("code", s("raise ArgumentError, 'bad value'")),
        ("tag_with_exception_message", true.into()),
        ("tag_on_exception", s("_oops")),
    ]);
    let mut e = ev(&[]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Failure);
    assert_eq!(
        get(&e, "tags"),
        Some(Value::Array(vec![s("_oops: bad value"), s("_oops")]))
    );
}

#[test]
fn exceptions_never_stop_the_filter() {
    let f = code("raise 'odd' if event.get('n').odd?; event.set('ok', true)");
    for n in 0..10 {
        let mut e = ev(&[("n", Value::Integer(n))]);
        let (o, _) = apply(f.as_ref(), &mut e);
        if n % 2 == 1 {
            assert_eq!(o, Outcome::Failure);
            assert!(e.has_tag("_rubyexception"));
        } else {
            assert_eq!(o, Outcome::Success);
            assert_eq!(get(&e, "ok"), Some(Value::Bool(true)));
        }
    }
    // A NoMethodError on nil (the classic missing field), a stack overflow, an exit.
    for c in [
        "event.get('missing').upcase",
        "def f(n) = f(n + 1); f(0)",
        "exit 1",
    ] {
        let f = code(c);
        let mut e = ev(&[]);
        assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Failure, "{c}");
        assert!(e.has_tag("_rubyexception"), "{c}");
    }
}

#[test]
fn script_errors_tag_the_event() {
    let file = script("def filter(event)\n  raise 'boom' if event.get('boom')\n  event.get('bad') ? 'not an array' : [event]\nend\n");
    let f = filter(&[("path", s(&file.path().display().to_string()))]);
    let mut e = ev(&[("boom", true.into())]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Failure);
    assert!(e.has_tag("_rubyexception"));
    // A bad result: tagged, kept, and (as Logstash) filter_matched was applied.
    let mut e = ev(&[("bad", true.into())]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Success);
    assert!(e.has_tag("_rubyexception"));
    let mut e = ev(&[]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Success);
    assert!(!e.has_tag("_rubyexception"));
}

#[test]
fn storing_an_unsupported_object_raises() {
    let f = filter(&[
        ("code", s("event.set('x', Object.new)")),
        ("tag_with_exception_message", true.into()),
    ]);
    let mut e = ev(&[]);
    apply(f.as_ref(), &mut e);
    let tags = e.tags();
    assert!(
        tags.iter().any(|t| t.contains("cannot store a Object")),
        "{tags:?}"
    );
    assert_eq!(get(&e, "x"), None);
}

#[test]
fn an_event_kept_across_calls_raises_instead_of_reading_freed_data() {
    let f = filter(&[
        ("init", s("@last = nil")),
        (
            "code",
            s("prev = @last; @last = event; event.set('prev', prev.get('n')) if prev"),
        ),
        ("tag_with_exception_message", true.into()),
    ]);
    let mut a = ev(&[("n", Value::Integer(1))]);
    assert_eq!(apply(f.as_ref(), &mut a).0, Outcome::Success);
    let mut b = ev(&[("n", Value::Integer(2))]);
    assert_eq!(apply(f.as_ref(), &mut b).0, Outcome::Failure);
    assert!(b
        .tags()
        .iter()
        .any(|t| t.contains("handed back to the pipeline")));
}

// --- the Event API ------------------------------------------------------------------

#[test]
fn get_set_remove_include_with_field_references_and_metadata() {
    let f = code(
        r#"
        event.set('[a][b]', 1)
        event.set('[@metadata][m]', 'meta')
        event.set('copy', event.get('[a][b]') + 1)
        event.set('has_ab', event.include?('[a][b]'))
        event.set('has_zz', event.include?('zz'))
        event.set('nil_field', nil)
        event.set('has_nil', event.include?('nil_field'))
        event.set('removed', event.remove('gone'))
        event.set('meta_copy', event.get('[@metadata][m]'))
        event.set('meta_keys', event.get('@metadata').keys)
        event.set('list1', event.get('[list][1]'))
        event.set('with_meta', event.to_hash_with_metadata.key?('@metadata'))
        event.set('without_meta', event.to_hash.key?('@metadata'))
        "#,
    );
    let mut e = ev(&[
        ("gone", s("bye")),
        ("list", Value::Array(vec![s("x"), s("y")])),
    ]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Success);
    assert_eq!(get(&e, "[a][b]"), Some(Value::Integer(1)));
    assert_eq!(get(&e, "copy"), Some(Value::Integer(2)));
    assert_eq!(get(&e, "has_ab"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "has_zz"), Some(Value::Bool(false)));
    assert_eq!(get(&e, "has_nil"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "removed"), Some(s("bye")));
    assert_eq!(get(&e, "gone"), None);
    assert_eq!(get(&e, "[@metadata][m]"), Some(s("meta")));
    assert_eq!(get(&e, "meta_copy"), Some(s("meta")));
    assert_eq!(get(&e, "meta_keys"), Some(Value::Array(vec![s("m")])));
    assert_eq!(get(&e, "list1"), Some(s("y")));
    assert_eq!(get(&e, "with_meta"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "without_meta"), Some(Value::Bool(false)));
}

#[test]
fn get_returns_a_copy_as_logstash_does() {
    let f = code("s = event.get('message'); s << '!!'; h = event.get('h'); h['k'] = 2; event.set('changed', s)");
    let mut m = Map::new();
    m.insert("k", Value::Integer(1));
    let mut e = ev(&[("message", s("hi")), ("h", Value::Object(Box::new(m)))]);
    apply(f.as_ref(), &mut e);
    assert_eq!(get(&e, "message"), Some(s("hi")));
    assert_eq!(get(&e, "[h][k]"), Some(Value::Integer(1)));
    assert_eq!(get(&e, "changed"), Some(s("hi!!")));
}

/// `event.to_hash` and back keeps every kind of value exactly.
#[test]
fn to_hash_round_trips_every_value_kind() {
    let mut nested = Map::new();
    nested.insert(
        "deep",
        Value::Array(vec![Value::Null, Value::Bool(false), Value::Float(-0.5)]),
    );
    let ts = Timestamp::parse_iso8601("2024-02-29T12:34:56.123456789Z").expect("ts");
    let big = Value::integer_from_decimal(false, "123456789012345678901234567890");
    let neg_big = Value::integer_from_decimal(true, "98765432109876543210");
    assert!(matches!(big, Value::BigInteger(_)));
    let fields: Vec<(&str, Value)> = vec![
        ("s", s("héllo ✓")),
        ("empty", s("")),
        ("i", Value::Integer(i64::MIN)),
        ("imax", Value::Integer(i64::MAX)),
        ("big", big.clone()),
        ("negbig", neg_big.clone()),
        ("f", Value::Float(3.25)),
        ("t", Value::Bool(true)),
        ("n", Value::Null),
        (
            "a",
            Value::Array(vec![Value::Integer(1), s("two"), Value::Array(vec![])]),
        ),
        ("o", Value::Object(Box::new(nested))),
        ("ts", Value::Timestamp(ts)),
    ];
    let mut e = ev(&fields);
    let f = code("h = event.to_hash; h.each { |k, v| event.set(\"[copy][#{k}]\", v) }; event.set('classes', h.transform_values { |v| v.class.name })");
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    for (k, v) in &fields {
        assert_eq!(get(&e, &format!("[copy][{k}]")).as_ref(), Some(v), "{k}");
    }
    assert_eq!(get(&e, "[classes][big]"), Some(s("Integer")));
    assert_eq!(get(&e, "[classes][ts]"), Some(s("LogStash::Timestamp")));
    assert_eq!(get(&e, "[classes][o]"), Some(s("Hash")));
    assert_eq!(get(&e, "[classes][n]"), Some(s("NilClass")));
    // Ruby-only kinds convert: symbols to strings, Time to a timestamp, Rational to float,
    // integer keys to strings, arithmetic into bignums.
    let f = code("event.set('sym', :abc); event.set('time', Time.at(0, 5, :millisecond)); event.set('r', Rational(1, 4)); event.set('h', {1 => :x}); event.set('b', 2**70); event.set('neg', -(2**64))");
    let mut e = ev(&[]);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "sym"), Some(s("abc")));
    assert_eq!(
        get(&e, "time"),
        Some(Value::Timestamp(
            Timestamp::from_unix_millis(5).expect("ts")
        ))
    );
    assert_eq!(get(&e, "r"), Some(Value::Float(0.25)));
    assert_eq!(get(&e, "[h][1]"), Some(s("x")));
    assert_eq!(
        get(&e, "b"),
        Some(Value::integer_from_decimal(false, "1180591620717411303424"))
    );
    assert_eq!(
        get(&e, "neg"),
        Some(Value::integer_from_decimal(true, "18446744073709551616"))
    );
}

#[test]
fn timestamps() {
    let f = code(
        r#"
        ts = event.timestamp
        event.set('is_ts', ts.is_a?(LogStash::Timestamp) && event.get('@timestamp').is_a?(LogStash::Timestamp))
        event.set('to_i', ts.to_i)
        event.set('to_f', ts.to_f)
        event.set('iso', ts.to_iso8601)
        event.set('to_s', ts.to_s)
        event.set('year', ts.time.year)
        event.set('utc', ts.time.utc?)
        event.set('later', ts + 60)
        event.set('diff', (ts + 1.5) - ts)
        event.set('now_recent', (LogStash::Timestamp.now - ts) > 0)
        event.set('from_time', LogStash::Timestamp.new(Time.at(86400).utc))
        event.set('cmp', LogStash::Timestamp.new(Time.at(1)) < ts)
        event.timestamp = LogStash::Timestamp.new(Time.at(1_000_000_000, 250, :millisecond))
        event.set('json', ts.to_json)
        "#,
    );
    let ts = Timestamp::parse_iso8601("2014-09-23T08:00:00.000Z").expect("ts");
    let mut e = ev(&[]);
    e.set_timestamp(ts);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "is_ts"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "to_i"), Some(Value::Integer(1411459200)));
    assert_eq!(get(&e, "to_f"), Some(Value::Float(1411459200.0)));
    assert_eq!(get(&e, "iso"), Some(s("2014-09-23T08:00:00.000Z")));
    assert_eq!(get(&e, "to_s"), Some(s("2014-09-23T08:00:00.000Z")));
    assert_eq!(get(&e, "year"), Some(Value::Integer(2014)));
    assert_eq!(get(&e, "utc"), Some(Value::Bool(true)));
    assert_eq!(
        get(&e, "later"),
        Some(Value::Timestamp(
            Timestamp::parse_iso8601("2014-09-23T08:01:00.000Z").expect("ts")
        ))
    );
    assert_eq!(get(&e, "diff"), Some(Value::Float(1.5)));
    assert_eq!(get(&e, "now_recent"), Some(Value::Bool(true)));
    assert_eq!(
        get(&e, "from_time"),
        Some(Value::Timestamp(
            Timestamp::from_unix(86400, 0).expect("ts")
        ))
    );
    assert_eq!(get(&e, "cmp"), Some(Value::Bool(true)));
    assert_eq!(
        e.timestamp(),
        Timestamp::from_unix_millis(1_000_000_000_250)
    );
    assert_eq!(get(&e, "json"), Some(s("\"2014-09-23T08:00:00.000Z\"")));
    // @timestamp only takes a time.
    let f = filter(&[
        ("code", s("event.set('@timestamp', 'yesterday')")),
        ("tag_with_exception_message", true.into()),
    ]);
    let mut e = ev(&[]);
    assert_eq!(apply(f.as_ref(), &mut e).0, Outcome::Failure);
    assert!(
        e.tags()
            .iter()
            .any(|t| t.contains("expected LogStash::Timestamp")),
        "{:?}",
        e.tags()
    );
}

#[test]
fn tag_cancel_clone_append_sprintf_to_json_and_new() {
    let f = code(
        r#"
        event.tag('a'); event.tag('a'); event.tag('b')
        c = event.clone
        c.set('only_in_clone', 1)
        event.set('clone_independent', !event.include?('only_in_clone'))
        other = LogStash::Event.new('message' => 'second', 'extra' => [1], '@metadata' => {'k' => 'v'})
        event.set('new_has_ts', other.timestamp.is_a?(LogStash::Timestamp))
        event.set('new_meta', other.get('[@metadata][k]'))
        event.set('new_version', other.get('@version'))
        event.append(other)
        event.set('line', event.sprintf('%{host} said %{[nested][x]} at %{+YYYY}'))
        event.set('json_ok', JSON.parse(event.to_json)['host'] == 'web1')
        event.set('was_cancelled', event.cancelled?)
        event.cancel
        event.set('is_cancelled', event.cancelled?)
        event.uncancel
        "#,
    );
    let mut nested = Map::new();
    nested.insert("x", Value::Integer(7));
    let mut e = ev(&[
        ("host", s("web1")),
        ("message", s("first")),
        ("nested", Value::Object(Box::new(nested))),
    ]);
    e.set_timestamp(Timestamp::parse_iso8601("2020-01-01T00:00:00Z").expect("ts"));
    let (o, new) = apply(f.as_ref(), &mut e);
    assert_eq!(o, Outcome::Success, "{:?}", e.tags());
    assert!(new.is_empty());
    assert_eq!(e.tags(), vec!["a", "b"]);
    assert_eq!(get(&e, "clone_independent"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "new_has_ts"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "new_meta"), Some(s("v")));
    assert_eq!(get(&e, "new_version"), Some(s("1")));
    assert_eq!(
        get(&e, "message"),
        Some(Value::Array(vec![s("first"), s("second")]))
    );
    assert_eq!(
        get(&e, "extra"),
        Some(Value::Array(vec![Value::Integer(1)]))
    );
    assert_eq!(get(&e, "line"), Some(s("web1 said 7 at 2020")));
    assert_eq!(get(&e, "json_ok"), Some(Value::Bool(true)));
    assert_eq!(get(&e, "was_cancelled"), Some(Value::Bool(false)));
    assert_eq!(get(&e, "is_cancelled"), Some(Value::Bool(true)));
}

#[test]
fn cancel_drops_the_event() {
    let out = run_config(
        r#"ruby { code => "event.cancel if event.get('level') == 'debug'" add_tag => ["kept"] }"#,
        vec![
            ev(&[("level", s("debug"))]),
            ev(&[("level", s("info"))]),
            ev(&[("level", s("debug"))]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(get(&out[0], "level"), Some(s("info")));
    assert!(out[0].has_tag("kept"));
}

#[test]
fn logger_calls_reach_tracing_and_return_nil() {
    let f = code("r = [logger.info('hello', :n => 1), logger.warn('w'), logger.debug { 'lazy' }, logger.error('e'), @logger.info('ivar')]; event.set('r', r.compact.size); event.set('dbg', logger.debug?.to_s)");
    let mut e = ev(&[]);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "r"), Some(Value::Integer(0)));
    assert!(matches!(get(&e, "dbg"), Some(Value::String(_))));
}

// --- typical snippets ---------------------------------------------------------------

#[test]
fn typical_string_munging() {
    let out = run_config(
        r#"ruby { code => "
            msg = event.get('message')
            event.set('upper', msg.upcase)
            event.set('words', msg.split(/\s+/).size)
            event.set('user', msg[/user=(\w+)/, 1])
            event.set('masked', msg.gsub(/\d{4}-\d{4}/, 'XXXX-XXXX'))
            event.set('reversed', msg.reverse.strip)
            event.set('sym', msg.start_with?('GET') ? 'read' : 'write')
          " }"#,
        vec![ev(&[(
            "message",
            s("GET /index user=alice card 1234-5678 "),
        )])],
    );
    let e = &out[0];
    assert_eq!(
        get(e, "upper"),
        Some(s("GET /INDEX USER=ALICE CARD 1234-5678 "))
    );
    assert_eq!(get(e, "words"), Some(Value::Integer(5)));
    assert_eq!(get(e, "user"), Some(s("alice")));
    assert_eq!(
        get(e, "masked"),
        Some(s("GET /index user=alice card XXXX-XXXX "))
    );
    assert_eq!(
        get(e, "reversed"),
        Some(s("8765-4321 drac ecila=resu xedni/ TEG"))
    );
    assert_eq!(get(e, "sym"), Some(s("read")));
}

#[test]
fn typical_hash_iteration() {
    let f = code(
        "h = event.get('headers') || {}
         h.each { |k, v| event.set(\"[http][#{k.downcase.tr('-', '_')}]\", v) }
         event.set('n_headers', h.size)
         event.set('total', event.get('sizes').sum)
         event.set('big_keys', h.select { |_, v| v.to_s.size > 3 }.keys.sort)
         event.remove('headers')",
    );
    let mut h = Map::new();
    h.insert("Content-Type", s("text/html"));
    h.insert("X-Id", Value::Integer(7));
    let mut e = ev(&[
        ("headers", Value::Object(Box::new(h))),
        (
            "sizes",
            Value::Array(vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Integer(3),
            ]),
        ),
    ]);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "[http][content_type]"), Some(s("text/html")));
    assert_eq!(get(&e, "[http][x_id]"), Some(Value::Integer(7)));
    assert_eq!(get(&e, "n_headers"), Some(Value::Integer(2)));
    assert_eq!(get(&e, "total"), Some(Value::Integer(6)));
    assert_eq!(
        get(&e, "big_keys"),
        Some(Value::Array(vec![s("Content-Type")]))
    );
    assert_eq!(get(&e, "headers"), None);
}

#[test]
fn typical_time_arithmetic() {
    let f = code(
        "started = Time.parse(event.get('start'))
         ended = Time.iso8601(event.get('end'))
         event.set('duration_ms', ((ended - started) * 1000).round)
         event.set('age_s', (event.timestamp.time - started).to_i)
         event.set('day', started.strftime('%A'))
         event.set('deadline', LogStash::Timestamp.new(started + 3600))",
    );
    let mut e = ev(&[
        ("start", s("2024-03-01T10:00:00Z")),
        ("end", s("2024-03-01T10:00:02.500Z")),
    ]);
    e.set_timestamp(Timestamp::parse_iso8601("2024-03-01T10:01:00Z").expect("ts"));
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "duration_ms"), Some(Value::Integer(2500)));
    assert_eq!(get(&e, "age_s"), Some(Value::Integer(60)));
    assert_eq!(get(&e, "day"), Some(s("Friday")));
    assert_eq!(
        get(&e, "deadline"),
        Some(Value::Timestamp(
            Timestamp::parse_iso8601("2024-03-01T11:00:00Z").expect("ts")
        ))
    );
}

#[test]
fn a_path_script_splitting_an_event() {
    let file = script(
        r#"
def register(params)
  @field = params.fetch('field', 'items')
end

def filter(event)
  items = event.get(@field)
  return [event] unless items.is_a?(Array)
  items.map do |item|
    e = event.clone
    e.set(@field, item)
    e
  end
end

test "splits" do
  parameters { { 'field' => 'xs' } }
  in_event { { 'xs' => [1, 2] } }
  expect('two events') { |events| events.map { |e| e.get('xs') } == [1, 2] }
end
"#,
    );
    let mut p = Map::new();
    p.insert("field", s("xs"));
    let f = filter(&[
        ("path", s(&file.path().display().to_string())),
        ("script_params", Value::Object(Box::new(p))),
    ]);
    let mut e = ev(&[("xs", Value::Array(vec![s("a"), s("b"), s("c")]))]);
    let (o, new) = apply(f.as_ref(), &mut e);
    assert_eq!(o, Outcome::Drop);
    let xs: Vec<_> = new.iter().map(|n| get(n, "xs")).collect();
    assert_eq!(xs, vec![Some(s("a")), Some(s("b")), Some(s("c"))]);
    let mut e = ev(&[("xs", s("scalar"))]);
    let (o, new) = apply(f.as_ref(), &mut e);
    assert_eq!(o, Outcome::Success);
    assert!(new.is_empty());
}

#[test]
fn big_payloads() {
    let f = code("m = event.get('message'); event.set('len', m.bytesize); event.set('copy', m.tr('a', 'b')); h = event.get('wide'); event.set('wide_n', h.size); event.set('wide2', h.transform_values { |v| v * 2 })");
    let message = "a".repeat(4 << 20);
    let mut wide = Map::new();
    for i in 0..20_000 {
        wide.insert(format!("k{i}"), Value::Integer(i));
    }
    let mut e = ev(&[
        ("message", s(&message)),
        ("wide", Value::Object(Box::new(wide))),
    ]);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "len"), Some(Value::Integer(4 << 20)));
    assert_eq!(get(&e, "copy"), Some(s(&"b".repeat(4 << 20))));
    assert_eq!(get(&e, "wide_n"), Some(Value::Integer(20_000)));
    assert_eq!(get(&e, "[wide2][k19999]"), Some(Value::Integer(39_998)));
}

#[test]
fn several_new_events_in_order() {
    let out = run_config(
        r#"ruby { code => "3.times { |i| e = LogStash::Event.new('n' => i); new_event_block.call(e) }; c = event.clone; c.cancel; new_event_block.call(c)" }
           mutate { add_tag => ["after"] }"#,
        vec![ev(&[("n", s("orig"))])],
    );
    let ns: Vec<_> = out.iter().map(|e| get(e, "n")).collect();
    assert_eq!(
        ns,
        vec![
            Some(s("orig")),
            Some(Value::Integer(0)),
            Some(Value::Integer(1)),
            Some(Value::Integer(2))
        ]
    );
    // New events run through the filters after this one.
    assert!(out.iter().all(|e| e.has_tag("after")));
}

#[test]
fn init_state_and_instances_are_separate_per_filter() {
    let a = filter(&[
        ("init", s("@n = 100")),
        ("code", s("@n += 1; event.set('n', @n)")),
    ]);
    let b = filter(&[
        ("init", s("@n = 0")),
        ("code", s("@n += 1; event.set('n', @n)")),
    ]);
    for want in 1..=3 {
        let mut e = ev(&[]);
        apply(a.as_ref(), &mut e);
        assert_eq!(get(&e, "n"), Some(Value::Integer(100 + want)));
        let mut e = ev(&[]);
        apply(b.as_ref(), &mut e);
        assert_eq!(get(&e, "n"), Some(Value::Integer(want)));
    }
    // Methods and constants defined by init are visible to code; locals are not.
    let f = code("event.set('x', 1)");
    drop(f);
    let f = filter(&[
        ("init", s("LIMIT = 3\ndef clamp(v) = [v, LIMIT].min\nlocal = 1")),
        ("code", s("event.set('c', clamp(event.get('v'))); event.set('local', defined?(local).inspect)")),
    ]);
    let mut e = ev(&[("v", Value::Integer(10))]);
    assert_eq!(
        apply(f.as_ref(), &mut e).0,
        Outcome::Success,
        "{:?}",
        e.tags()
    );
    assert_eq!(get(&e, "c"), Some(Value::Integer(3)));
    assert_eq!(get(&e, "local"), Some(s("nil")));
}

#[test]
fn vm_runs_the_real_interpreter() {
    // Not a subset: the standard library, blocks, classes, string formatting.
    assert_eq!(
        eval("require 'digest'; Digest::MD5.hexdigest('a')"),
        "\"0cc175b9c0f1b6a831c399e269772661\""
    );
    assert_eq!(eval("Struct.new(:a).new(5).a * 2"), "10");
    assert_eq!(eval("format('%05.1f', 3.14159)"), "\"003.1\"");
    assert!(eval("RUBY_ENGINE + ' ' + RUBY_VERSION").starts_with("\"ruby "));
}

// --- several workers ----------------------------------------------------------------

struct Source(Vec<Event>);
impl Input for Source {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            for e in self.0 {
                ctx.emit(e).await?;
            }
            Ok(())
        })
    }
}

#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<Event>>>);
impl Output for Collect {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.0.lock().expect("collector lock").extend(batch) })
    }
}

/// `-w 4`: four workers run the filter at once; `init`'s state (a counter) is one for
/// all of them, so every event gets a distinct number, as with Logstash's shared filter
/// instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_workers_share_init_state() {
    let body = r#"ruby {
        init => "@count = 0"
        code => "@count += 1; event.set('n', @count); event.set('x', event.get('i') * 2)"
    }"#;
    let sources = Sources::from_string("t", &format!("filter {{\n{body}\n}}\n"));
    let ast = parse(&sources, &ParseOptions::default()).expect("parses");
    let mut p = compile(&ast, &Registry::builtin(), &BuildContext::default())
        .unwrap_or_else(|d| panic!("{}", sources.render_all(&d)));
    let total = 20_000i64;
    let events: Vec<Event> = (0..total)
        .map(|i| ev(&[("i", Value::Integer(i))]))
        .collect();
    let out = Collect::default();
    p.inputs.push(CompiledInput {
        name: "source".into(),
        id: "source".into(),
        input: Box::new(Source(events)),
        decorator: Default::default(),
    });
    p.outputs.push(CompiledOutput {
        name: "collect".into(),
        id: "collect".into(),
        output: Arc::new(out.clone()),
    });
    p.routes.push(Route::Output(0));
    let settings = RunSettings {
        workers: 4,
        batch_size: 50,
        ..RunSettings::default()
    };
    let running =
        RunningPipeline::start(p, &BuildContext::default(), &settings).expect("pipeline starts");
    tokio::time::timeout(Duration::from_secs(60), running.wait())
        .await
        .expect("pipeline finished");
    let got = out.0.lock().expect("lock").clone();
    assert_eq!(got.len() as i64, total);
    let mut ns: Vec<i64> = got
        .iter()
        .map(|e| match get(e, "n") {
            Some(Value::Integer(n)) => n,
            other => panic!("n = {other:?} tags {:?}", e.tags()),
        })
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (1..=total).collect::<Vec<_>>());
    assert!(got.iter().all(|e| get(e, "x")
        == get(e, "i").map(|v| match v {
            Value::Integer(i) => Value::Integer(i * 2),
            other => other,
        })));
}

/// Ruby's own handler for SIGHUP (and QUIT, ALRM, USR1, USR2) is removed at start: those
/// signals act on the process as without Ruby instead of raising inside a snippet.
#[test]
fn ruby_leaves_hup_to_the_process() {
    vm::vm().expect("ruby starts");
    assert_eq!(
        eval("Signal.trap('HUP', 'SYSTEM_DEFAULT')"),
        "\"SYSTEM_DEFAULT\""
    );
}

/// The docs' `drop_percentage.rb` with its `test` block (which passes at load): with
/// percentage 1 every event is dropped, with 0 every event goes on.
#[test]
fn docs_drop_percentage_script() {
    let file = script(
        r#"
def register(params)
  @drop_percentage = params["percentage"]
end

def filter(event)
  if rand >= @drop_percentage
    return [event]
  else
    return [] # return empty array to cancel event
  end
end

test "drop percentage 100%" do
  parameters do
    { "percentage" => 1 }
  end

  in_event { { "message" => "hello" } }

  expect("drops the event") do |events|
    events.size == 0
  end
end
"#,
    );
    let path = file.path().display().to_string();
    for (pct, dropped) in [(1.0, true), (0.0, false)] {
        let mut p = Map::new();
        p.insert("percentage", Value::Float(pct));
        let f = filter(&[
            ("path", s(&path)),
            ("script_params", Value::Object(Box::new(p))),
        ]);
        for _ in 0..20 {
            let mut e = ev(&[("message", s("hello"))]);
            let (o, new) = apply(f.as_ref(), &mut e);
            assert!(new.is_empty());
            assert_eq!(o == Outcome::Drop, dropped, "percentage {pct}");
        }
    }
}
