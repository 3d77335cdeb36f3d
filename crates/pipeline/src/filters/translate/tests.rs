use super::*;
use crate::plugin::Ecs;
use std::io::Write;

fn dict(pairs: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(*k, v.clone());
    }
    Value::Object(Box::new(m))
}

fn build_with(args: Args, ecs: Ecs) -> BuildResult<Box<dyn Filter>> {
    let ctx = BuildContext {
        ecs,
        ..BuildContext::default()
    };
    build(&args, &ctx)
}

fn get(e: &Event, r: &str) -> Option<Value> {
    e.get(&FieldRef::parse(r).unwrap()).cloned()
}

#[test]
fn exact_regex_and_union() {
    let d = dict(&[("^2\\d\\d$", "OK".into()), ("^5", "ERR".into())]);
    let f = build_with(
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", "s".into())
            .with("dictionary", d)
            .with("regex", true.into()),
        Ecs::Disabled,
    )
    .unwrap();
    let mut e = Event::new();
    e.set(&FieldRef::top("s"), 204.into()).unwrap();
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Success
    );
    assert_eq!(get(&e, "translation"), Some("OK".into()));

    let d = dict(&[("a", 1.into()), ("bb", "B".into())]);
    let f = build_with(
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", "s".into())
            .with("dictionary", d)
            .with("exact", false.into()),
        Ecs::Disabled,
    )
    .unwrap();
    let mut e = Event::new();
    e.set(&FieldRef::top("s"), "a-bb-c".into()).unwrap();
    f.apply(&mut e, &mut FilterContext::default());
    assert_eq!(get(&e, "translation"), Some("1-B-c".into()));
    // No key inside: no translation, no success.
    let mut e = Event::new();
    e.set(&FieldRef::top("s"), "zzz".into()).unwrap();
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Failure
    );
    assert!(get(&e, "translation").is_none());
}

#[test]
fn existing_target_kept_unless_override() {
    let d = dict(&[("k", "v".into())]);
    let base = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "s".into())
        .with("target", "t".into())
        .with("dictionary", d);
    let mut e = Event::new();
    e.set(&FieldRef::top("s"), "k".into()).unwrap();
    e.set(&FieldRef::top("t"), "old".into()).unwrap();
    let f = build_with(base.clone(), Ecs::V8).unwrap();
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Failure
    );
    assert_eq!(get(&e, "t"), Some("old".into()));
    let f = build_with(base.with("override", true.into()), Ecs::V8).unwrap();
    f.apply(&mut e, &mut FilterContext::default());
    assert_eq!(get(&e, "t"), Some("v".into()));
}

#[test]
fn bad_config() {
    let ecs = Ecs::V8;
    // No source.
    assert!(build_with(
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
        ecs
    )
    .is_err());
    // An option and its deprecated alias.
    let both = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("field", "b".into());
    assert_eq!(
        build_with(both, ecs).err().unwrap().option.as_deref(),
        Some("field")
    );
    let both = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("target", "t".into())
        .with("destination", "d".into());
    assert!(build_with(both, ecs).is_err());
    // In-place translation with override => false.
    let inplace = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("override", false.into());
    assert!(build_with(inplace, ecs).is_err());
    // Invalid regex key.
    let bad = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("regex", true.into())
        .with("dictionary", dict(&[("(", "x".into())]));
    assert_eq!(
        build_with(bad, ecs).err().unwrap().option.as_deref(),
        Some("dictionary")
    );
    // Unreadable and unknown-format files.
    let missing = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("dictionary_path", "/nonexistent/dict.yml".into());
    assert!(build_with(missing, ecs).is_err());
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("d.txt");
    std::fs::write(&txt, "a: b").unwrap();
    let wrong = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("dictionary_path", txt.to_string_lossy().as_ref().into());
    assert!(build_with(wrong, ecs).is_err());
    // Bad YAML.
    let y = dir.path().join("d.yml");
    std::fs::write(&y, "a: [unclosed").unwrap();
    let bad_yaml = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", "a".into())
        .with("dictionary_path", y.to_string_lossy().as_ref().into());
    assert!(build_with(bad_yaml, ecs).is_err());
}

#[test]
fn file_formats() {
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("d.yaml");
    std::fs::write(&y, "\"a\": 1\nb: two\nc: {x: 1}\n").unwrap();
    let m = load_file(&y, 1000).unwrap();
    assert_eq!(m.get("a"), Some(&Value::Integer(1)));
    assert_eq!(m.get("b"), Some(&"two".into()));
    assert!(matches!(m.get("c"), Some(Value::Object(_))));
    assert!(load_file(&y, 5).is_err(), "code point limit");
    let j = dir.path().join("d.json");
    std::fs::write(&j, "{\"a\": 10, \"b\": [1]}").unwrap();
    assert_eq!(
        load_file(&j, 0).unwrap().get("a"),
        Some(&Value::Integer(10))
    );
    let c = dir.path().join("d.csv");
    std::fs::write(&c, "\u{feff}100,OK\n\"2,00\",\"x\"\"y\"\n\nlonely\n").unwrap();
    let m = load_file(&c, 0).unwrap();
    assert_eq!(m.get("100"), Some(&"OK".into()));
    assert_eq!(m.get("2,00"), Some(&"x\"y".into()));
    assert_eq!(m.get("lonely"), Some(&Value::Null));
    let bad = dir.path().join("b.json");
    std::fs::write(&bad, "[1,2]").unwrap();
    assert!(load_file(&bad, 0).is_err());
}

fn wait_for(f: &dyn Filter, want: &str) -> bool {
    for _ in 0..100 {
        let mut e = Event::new();
        e.set(&FieldRef::top("s"), "k".into()).unwrap();
        f.apply(&mut e, &mut FilterContext::default());
        if get(&e, "translation") == Some(want.into()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn reloads_file_merge_and_replace() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.json");
    std::fs::write(&p, r#"{"k": "v1", "old": "o"}"#).unwrap();
    let args = |behaviour: &str| {
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", "s".into())
            .with("dictionary_path", p.to_string_lossy().as_ref().into())
            .with("refresh_interval", Value::Float(0.1))
            .with("refresh_behaviour", behaviour.into())
    };
    let merge = build_with(args("merge"), Ecs::Disabled).unwrap();
    let replace = build_with(args("replace"), Ecs::Disabled).unwrap();
    assert!(wait_for(merge.as_ref(), "v1"));
    // A new mtime: make sure it differs from the first write.
    std::thread::sleep(Duration::from_millis(20));
    let mut fh = std::fs::File::create(&p).unwrap();
    fh.write_all(br#"{"k": "v2"}"#).unwrap();
    fh.sync_all().unwrap();
    let t = SystemTime::now() + Duration::from_secs(5);
    fh.set_modified(t).unwrap();
    drop(fh);
    assert!(wait_for(merge.as_ref(), "v2"), "merge reload");
    assert!(wait_for(replace.as_ref(), "v2"), "replace reload");
    let old = |f: &dyn Filter| {
        let mut e = Event::new();
        e.set(&FieldRef::top("s"), "old".into()).unwrap();
        f.apply(&mut e, &mut FilterContext::default());
        get(&e, "translation")
    };
    assert_eq!(
        old(merge.as_ref()),
        Some("o".into()),
        "merge keeps old keys"
    );
    assert_eq!(old(replace.as_ref()), None, "replace drops old keys");
    // A broken file keeps the last good dictionary.
    std::fs::write(&p, "{broken").unwrap();
    let fh = std::fs::File::options().write(true).open(&p).unwrap();
    fh.set_modified(t + Duration::from_secs(5)).unwrap();
    drop(fh);
    std::thread::sleep(Duration::from_millis(400));
    assert!(wait_for(merge.as_ref(), "v2"));
}
