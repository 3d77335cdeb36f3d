use super::*;
use logstash_mesos_core::Map;

fn obj(json: &str) -> Value {
    serde_json::from_str(json).expect("test json")
}

fn run(config: &[(&str, Value)], input: &str) -> (Event, Outcome) {
    let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS);
    for (k, v) in config {
        args = args.with(k, v.clone());
    }
    let f = build(&args, &BuildContext::default()).expect("build");
    let Value::Object(m) = obj(input) else {
        panic!("input must be an object")
    };
    let mut e = Event::from_map(*m);
    let out = f.apply(&mut e, &mut FilterContext::default());
    (e, out)
}

fn get<'a>(e: &'a Event, r: &str) -> Option<&'a Value> {
    e.get(&FieldRef::parse(r).expect("ref"))
}

#[test]
fn fixed_order_regardless_of_config_order() {
    // copy runs after uppercase even though it is listed first.
    let (e, out) = run(
        &[
            ("copy", obj(r#"{"a":"b"}"#)),
            ("uppercase", obj(r#"["a"]"#)),
            ("rename", obj(r#"{"x":"a"}"#)),
        ],
        r#"{"x":"hello"}"#,
    );
    assert_eq!(out, Outcome::Success);
    assert_eq!(get(&e, "b"), Some(&Value::from("HELLO")));
    assert!(get(&e, "x").is_none());
}

#[test]
fn convert_arrays_and_failures() {
    let (e, out) = run(
        &[("convert", obj(r#"{"a":"integer","h":"integer"}"#))],
        r#"{"a":["1", null, 2.5], "h":{"k":1}}"#,
    );
    assert_eq!(out, Outcome::Success);
    assert_eq!(get(&e, "a"), Some(&obj("[1, null, 2]")));
    assert_eq!(
        get(&e, "h"),
        Some(&obj(r#"{"k":1}"#)),
        "hashes are left alone"
    );

    let (e, out) = run(
        &[("convert", obj(r#"{"a":"float"}"#))],
        r#"{"a":"not a number"}"#,
    );
    assert_eq!(out, Outcome::Failure);
    assert!(e.has_tag("_mutate_error"));
    assert_eq!(get(&e, "a"), Some(&Value::from("not a number")));
}

#[test]
fn bad_config_names_the_option() {
    let err = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("gsub", obj(r#"["f", "(unclosed", "x"]"#)),
        &BuildContext::default(),
    )
    .err();
    assert_eq!(err.as_ref().and_then(|e| e.option.as_deref()), Some("gsub"));
    let err = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("gsub", obj(r#"["f", "x"]"#)),
        &BuildContext::default(),
    )
    .err();
    assert_eq!(err.and_then(|e| e.option), Some("gsub".to_string()));
    let err = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("convert", obj(r#"{"f":"bignum"}"#)),
        &BuildContext::default(),
    )
    .err();
    let err = err.expect("bad conversion type is rejected");
    assert_eq!(err.option.as_deref(), Some("convert"));
    assert!(err.message.contains("bignum"), "{}", err.message);
    let err = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("uppercase", obj(r#"["[a"]"#)),
        &BuildContext::default(),
    )
    .err();
    assert_eq!(err.and_then(|e| e.option), Some("uppercase".to_string()));
}

#[test]
fn non_string_and_missing_fields_are_left_alone() {
    let (e, out) = run(
        &[
            ("uppercase", obj(r#"["n", "missing"]"#)),
            ("split", obj(r#"{"n":","}"#)),
            ("join", obj(r#"{"s":","}"#)),
            ("gsub", obj(r#"["n", "1", "2"]"#)),
            ("strip", obj(r#"["n"]"#)),
        ],
        r#"{"n": 12, "s": "a,b"}"#,
    );
    assert_eq!(out, Outcome::Success);
    assert_eq!(get(&e, "n"), Some(&Value::Integer(12)));
    assert_eq!(get(&e, "s"), Some(&Value::from("a,b")));
    assert!(get(&e, "missing").is_none());
}

#[test]
fn strip_on_array_with_number_fails_like_ruby() {
    let (e, out) = run(
        &[
            ("strip", obj(r#"["a"]"#)),
            ("tag_on_failure", Value::from("bad")),
        ],
        r#"{"a":[" x ", 1]}"#,
    );
    assert_eq!(out, Outcome::Failure);
    assert!(e.has_tag("bad"));
}

#[test]
fn split_join_merge() {
    let (e, _) = run(
        &[("split", obj(r#"{"a":" ","b":""}"#))],
        r#"{"a":"  x  y ", "b":"héllo"}"#,
    );
    assert_eq!(get(&e, "a"), Some(&obj(r#"["x","y"]"#)));
    assert_eq!(get(&e, "b"), Some(&obj(r#"["h","é","l","l","o"]"#)));
    let (e, _) = run(
        &[("join", obj(r#"{"a":"-"}"#))],
        r#"{"a":[1, [2, "x"], null, 1.5]}"#,
    );
    assert_eq!(get(&e, "a"), Some(&Value::from("1-2-x--1.5")));
    let (e, _) = run(
        &[("merge", obj(r#"{"d":"s"}"#))],
        r#"{"d":{"a":1}, "s":{"b":2}}"#,
    );
    assert_eq!(get(&e, "d"), Some(&obj(r#"{"a":1,"b":2}"#)));
    let (e, _) = run(
        &[("merge", obj(r#"{"d":"s"}"#))],
        r#"{"d":{"a":1}, "s":"x"}"#,
    );
    assert_eq!(
        get(&e, "d"),
        Some(&obj(r#"{"a":1}"#)),
        "hash and non-hash are not merged"
    );
}

#[test]
fn gsub_backrefs_and_dynamic_needle() {
    let (e, _) = run(
        &[("gsub", obj(r#"["a", "(\\w+)@(\\w+)", "\\2 at \\1"]"#))],
        r#"{"a":"joe@home"}"#,
    );
    assert_eq!(get(&e, "a"), Some(&Value::from("home at joe")));
    // A sprintf'd needle that renders to an invalid regex fails the event, not the pipeline.
    let (e, out) = run(
        &[("gsub", obj(r#"["a", "%{n}", "x"]"#))],
        r#"{"a":"abc", "n":"(("}"#,
    );
    assert_eq!(out, Outcome::Failure);
    assert!(e.has_tag("_mutate_error"));
}

#[test]
fn invalid_add_field_key_is_a_mutate_error() {
    let (e, out) = run(
        &[("add_field", obj(r#"{"[[][[[[]message":"nope"}"#))],
        r#"{"message":"foo"}"#,
    );
    assert_eq!(out, Outcome::Failure);
    assert!(e.has_tag("_mutate_error"));
    let (_, out) = run(
        &[("add_field", obj(r#"{"[ok]":"yes"}"#))],
        r#"{"message":"foo"}"#,
    );
    assert_eq!(out, Outcome::Success);
}

#[test]
fn huge_and_odd_utf8_values() {
    let big = "ab,".repeat(350_000); // ~1 MiB
    let mut m = Map::default();
    m.insert("a", Value::String(big.clone()));
    m.insert("u", Value::from("\u{0}ǅ\u{FFFD}ß\u{1F600}"));
    let f = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("split", obj(r#"{"a":","}"#))
            .with("uppercase", obj(r#"["u"]"#))
            .with("gsub", obj(r#"["u", "\\p{So}", "?"]"#)),
        &BuildContext::default(),
    )
    .expect("build");
    let mut e = Event::from_map(m);
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Success
    );
    assert_eq!(
        get(&e, "a").and_then(Value::as_array).map(Vec::len),
        Some(350_000)
    );
    assert_eq!(
        get(&e, "u"),
        Some(&Value::from("\u{0}Ǆ?SS?")),
        "U+FFFD is a symbol (So) too"
    );
}

#[test]
fn coerce_update_replace() {
    let (e, _) = run(
        &[
            ("coerce", obj(r#"{"a":"def %{b}", "b":"no"}"#)),
            ("update", obj(r#"{"missing":"x", "b":"u-%{b}"}"#)),
            ("replace", obj(r#"{"[n][new]":"%{b}"}"#)),
        ],
        r#"{"a":null, "b":"v"}"#,
    );
    assert_eq!(get(&e, "a"), Some(&Value::from("def v")));
    assert_eq!(get(&e, "b"), Some(&Value::from("u-v")));
    assert_eq!(get(&e, "[n][new]"), Some(&Value::from("u-v")));
    assert!(get(&e, "missing").is_none());
}
