use super::*;

fn ctx(pipeline: &str) -> BuildContext {
    BuildContext {
        pipeline_id: pipeline.to_string(),
        ..BuildContext::default()
    }
}

fn agg(pipeline: &str, opts: &[(&str, Value)]) -> Box<dyn Filter> {
    let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("task_id", "%{taskid}".into());
    for (k, v) in opts {
        args = args.with(k, v.clone());
    }
    build(&args, &ctx(pipeline)).unwrap_or_else(|e| panic!("{e}"))
}

fn ev(task: &str, fields: &[(&str, Value)]) -> Event {
    let mut e = Event::new();
    let _ = e.set(&FieldRef::top("taskid"), task.into());
    for (k, v) in fields {
        let _ = e.set(&FieldRef::top(k), v.clone());
    }
    e
}

fn top(e: &Event, k: &str) -> Option<Value> {
    e.get_top(k).cloned()
}

#[test]
fn start_update_end_share_one_map() {
    let p = "agg-test-sql";
    let start = agg(
        p,
        &[
            ("code", "map['sql_duration'] = 0".into()),
            ("map_action", "create".into()),
        ],
    );
    let update = agg(
        p,
        &[
            (
                "code",
                "map['sql_duration'] += event.get('duration')".into(),
            ),
            ("map_action", "update".into()),
        ],
    );
    let end = agg(
        p,
        &[
            (
                "code",
                "event.set('sql_duration', map['sql_duration'])".into(),
            ),
            ("map_action", "update".into()),
            ("end_of_task", true.into()),
        ],
    );
    let mut c = FilterContext::default();
    // Update before create does nothing.
    let mut early = ev("1", &[("duration", Value::Integer(99))]);
    assert_eq!(update.apply(&mut early, &mut c), Outcome::Failure);
    assert_eq!(start.apply(&mut ev("1", &[]), &mut c), Outcome::Success);
    // A second create for an existing map does nothing either.
    assert_eq!(start.apply(&mut ev("1", &[]), &mut c), Outcome::Failure);
    for d in [12, 30] {
        let mut e = ev("1", &[("duration", Value::Integer(d))]);
        assert_eq!(update.apply(&mut e, &mut c), Outcome::Success);
    }
    let mut e = ev("1", &[]);
    assert_eq!(end.apply(&mut e, &mut c), Outcome::Success);
    assert_eq!(top(&e, "sql_duration"), Some(Value::Integer(42)));
    // The map is gone after end_of_task.
    let mut again = ev("1", &[]);
    assert_eq!(end.apply(&mut again, &mut c), Outcome::Failure);
    assert_eq!(top(&again, "sql_duration"), None);
    assert!(c.new_events.is_empty());
}

#[test]
fn unresolved_task_id_and_code_errors() {
    let f = agg("agg-test-err", &[("code", "map['n'] += 1".into())]);
    let mut c = FilterContext::default();
    let mut no_id = Event::new();
    assert_eq!(f.apply(&mut no_id, &mut c), Outcome::Failure);
    assert!(no_id.tags().is_empty());
    let mut e = ev("a", &[]);
    assert_eq!(f.apply(&mut e, &mut c), Outcome::Failure);
    assert!(e.has_tag(EXCEPTION_TAG));
}

#[test]
fn cancel_drops_the_event() {
    let f = agg(
        "agg-test-cancel",
        &[(
            "code",
            "map['m'] = event.get('message'); event.cancel()".into(),
        )],
    );
    let mut c = FilterContext::default();
    assert_eq!(f.apply(&mut ev("a", &[]), &mut c), Outcome::Drop);
}

#[test]
fn push_previous_map_and_final_flush() {
    let f = agg(
        "agg-test-prev",
        &[
            (
                "code",
                "map['n'] ||= 0; map['n'] += 1; map['last'] = event.get('v')".into(),
            ),
            ("push_previous_map_as_event", true.into()),
            ("timeout_task_id_field", "task".into()),
            ("timeout_tags", Value::Array(vec!["pushed".into()])),
            ("timeout_code", "event.set('done', true)".into()),
        ],
    );
    let mut c = FilterContext::default();
    f.apply(&mut ev("a", &[("v", "x".into())]), &mut c);
    f.apply(&mut ev("a", &[("v", "y".into())]), &mut c);
    assert!(c.new_events.is_empty());
    f.apply(&mut ev("b", &[("v", "z".into())]), &mut c);
    assert_eq!(c.new_events.len(), 1);
    let pushed = c.new_events.remove(0);
    assert_eq!(top(&pushed, "n"), Some(Value::Integer(2)));
    assert_eq!(top(&pushed, "last"), Some("y".into()));
    assert_eq!(top(&pushed, "task"), Some("a".into()));
    assert_eq!(top(&pushed, "done"), Some(Value::Bool(true)));
    assert!(pushed.has_tag("pushed"));
    assert!(pushed.timestamp().is_some());
    // Periodic flush: nothing expired. Final flush: the last map.
    assert!(f.flush(false).is_empty());
    let out = f.flush(true);
    assert_eq!(out.len(), 1);
    let (e, outcome) = &out[0];
    assert_eq!(*outcome, Outcome::Failure);
    assert_eq!(top(e, "task"), Some("b".into()));
    assert!(e.has_tag(FINAL_FLUSH_TAG));
    assert!(f.flush(true).is_empty());
}

#[test]
fn timeout_on_event_timestamps() {
    let f = agg(
        "agg-test-evts",
        &[
            ("code", "map['c'] ||= 0; map['c'] += 1".into()),
            ("timeout", Value::Integer(60)),
            ("timeout_timestamp_field", "@timestamp".into()),
            ("push_map_as_event_on_timeout", true.into()),
        ],
    );
    let mut c = FilterContext::default();
    let at = |s: &str| {
        let mut e = ev("t", &[]);
        e.set_timestamp(Timestamp::parse_iso8601(s).unwrap());
        e
    };
    f.apply(&mut at("2020-01-01T00:00:00Z"), &mut c);
    f.apply(&mut at("2020-01-01T00:00:30Z"), &mut c);
    assert!(c.new_events.is_empty());
    // 100 s after creation: the old map expires and is pushed, a new one starts.
    f.apply(&mut at("2020-01-01T00:01:40Z"), &mut c);
    assert_eq!(c.new_events.len(), 1);
    assert_eq!(top(&c.new_events[0], "c"), Some(Value::Integer(2)));
}

#[test]
fn periodic_timeout_pushes_expired_maps() {
    let f = agg(
        "agg-test-periodic",
        &[
            ("code", "map['x'] = 1".into()),
            ("timeout", Value::Integer(0)),
            ("push_map_as_event_on_timeout", true.into()),
        ],
    );
    let mut c = FilterContext::default();
    f.apply(&mut ev("p", &[]), &mut c);
    // Timeouts are measured in whole seconds.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = f.flush(false);
    assert_eq!(out.len(), 1);
    assert_eq!(top(&out[0].0, "x"), Some(Value::Integer(1)));
    assert!(!out[0].0.has_tag(FINAL_FLUSH_TAG));
}

#[test]
fn maps_survive_a_restart_through_aggregate_maps_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maps.json");
    let opts = |code: &str| {
        vec![
            ("code", Value::from(code)),
            (
                "aggregate_maps_path",
                Value::from(path.to_string_lossy().as_ref()),
            ),
        ]
    };
    {
        let f = agg(
            "agg-test-persist",
            &opts("map['total'] ||= 0; map['total'] += event.get('n')"),
        );
        let mut c = FilterContext::default();
        f.apply(&mut ev("k", &[("n", Value::Integer(5))]), &mut c);
        f.apply(&mut ev("k", &[("n", Value::Integer(7))]), &mut c);
    } // dropped: the pipeline's maps are stored
    assert!(path.exists());
    let f = agg(
        "agg-test-persist",
        &opts("event.set('total', map['total'])"),
    );
    assert!(!path.exists(), "the file is consumed at start");
    let mut e = ev("k", &[]);
    f.apply(&mut e, &mut FilterContext::default());
    assert_eq!(top(&e, "total"), Some(Value::Integer(12)));
}

#[test]
fn corrupt_maps_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maps.json");
    std::fs::write(&path, b"{not json").unwrap();
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("task_id", "%{id}".into())
        .with("code", "map['a'] = 1".into())
        .with(
            "aggregate_maps_path",
            path.to_string_lossy().as_ref().into(),
        );
    let err = build(&args, &ctx("agg-test-corrupt")).err().unwrap();
    assert_eq!(err.option.as_deref(), Some("aggregate_maps_path"));
}

#[test]
fn config_errors() {
    let base = || {
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("task_id", "%{id}".into())
            .with("code", "map['a'] = 1".into())
    };
    let c = ctx("agg-test-config");
    let err = build(&base().with("task_id", "static".into()), &c)
        .err()
        .unwrap();
    assert_eq!(err.option.as_deref(), Some("task_id"));
    let err = build(
        &base().with("code", "map['a'] = event.get('x') * 2".into()),
        &c,
    )
    .err()
    .unwrap();
    assert_eq!(err.option.as_deref(), Some("code"));
    assert!(err.message.contains("needs Ruby"), "{}", err.message);
    let err = build(&base().with("inactivity_timeout", Value::Integer(2000)), &c)
        .err()
        .unwrap();
    assert_eq!(err.option.as_deref(), Some("inactivity_timeout"));
    let err = build(&base().with("timeout_code", "map['x'] = 1".into()), &c)
        .err()
        .unwrap();
    assert_eq!(err.option.as_deref(), Some("timeout_code"));
}
