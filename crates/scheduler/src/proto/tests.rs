//! Round-trip every `body`, variant and transcript record in `shared/mesos` through the
//! typed model: a field dropped or renamed by a wrong serde attribute shows up as a diff.

use serde_json::Value;

use super::{Call, Event};
use crate::testutil::{api_dir, normalize};

fn instances(file: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(body) = file.get("body") {
        out.push(("body".to_string(), body.clone()));
    }
    for v in file
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(body) = v.get("body") {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
            out.push((format!("variant {name}"), body.clone()));
        }
    }
    for (i, r) in file
        .get("records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(text) = r.as_str() {
            let parsed: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("record {i}: {e}"));
            out.push((format!("record {i}"), parsed));
        }
    }
    out
}

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, v: &Value) {
    let typed: T =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what}: does not parse: {e}"));
    let back =
        serde_json::to_value(&typed).unwrap_or_else(|e| panic!("{what}: does not serialize: {e}"));
    assert_eq!(normalize(&back), normalize(v), "{what}: round trip differs");
}

#[test]
fn every_shared_instance_round_trips() {
    let dir = api_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("shared/mesos/scheduler-api exists")
        .chain(std::fs::read_dir(dir.join("examples")).expect("examples exists"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut calls, mut events) = (0, 0);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let file: Value = serde_json::from_str(&text).expect("valid json");
        let proto = file
            .get("proto_message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for (name, inst) in instances(&file) {
            let what = format!("{} {name}", path.display());
            match proto {
                "mesos.v1.scheduler.Call" => {
                    roundtrip::<Call>(&what, &inst);
                    calls += 1;
                }
                "mesos.v1.scheduler.Event" => {
                    roundtrip::<Event>(&what, &inst);
                    events += 1;
                }
                other => panic!("{what}: unexpected proto_message {other:?}"),
            }
        }
    }
    // 17 call files + 11 event files + the examples; catches a directory that silently moved.
    assert!(calls >= 25, "only {calls} call instances");
    assert!(events >= 35, "only {events} event instances");
}

#[test]
fn constructors_match_shared_bodies() {
    use super::*;
    let body = |f: &str| -> Value {
        let text = std::fs::read_to_string(api_dir().join(f)).expect("readable");
        let v: Value = serde_json::from_str(&text).expect("json");
        v["body"].clone()
    };
    let fid = Id::new("12220-3440-12532-2345");
    let cases: Vec<(&str, Call)> = vec![
        ("call-TEARDOWN.json", Call::teardown(&fid)),
        ("call-REVIVE.json", Call::revive(&fid, vec!["test1".into()])),
        (
            "call-SUPPRESS.json",
            Call::suppress(&fid, vec!["test2".into()]),
        ),
        (
            "call-KILL.json",
            Call::kill(
                &fid,
                Id::new("12220-3440-12532-my-task"),
                Some(Id::new("12220-3440-12532-S1233")),
            ),
        ),
        (
            "call-ACKNOWLEDGE.json",
            Call::acknowledge(
                &fid,
                Id::new("12220-3440-12532-S1233"),
                Id::new("12220-3440-12532-my-task"),
                "jhadf73jhakdlfha723adf".into(),
            ),
        ),
        (
            "call-DECLINE.json",
            Call::decline(
                &fid,
                vec![
                    Id::new("12220-3440-12532-O12"),
                    Id::new("12220-3440-12532-O13"),
                ],
                Filters::refuse(5.0),
            ),
        ),
        (
            "call-RECONCILE.json",
            Call::reconcile(
                &fid,
                vec![ReconcileTask {
                    task_id: Id::new("312325"),
                    agent_id: Some(Id::new("123535")),
                }],
            ),
        ),
    ];
    for (file, call) in cases {
        let ours = serde_json::to_value(&call).expect("serializes");
        assert_eq!(normalize(&ours), normalize(&body(file)), "{file}");
    }
    // Implicit reconciliation keeps an explicit (empty) `reconcile` object.
    let implicit = serde_json::to_value(Call::reconcile(&fid, vec![])).expect("serializes");
    assert_eq!(implicit["reconcile"], serde_json::json!({"tasks": []}));
    assert_eq!(
        serde_json::to_value(Event::heartbeat()).expect("serializes"),
        body("event-HEARTBEAT.json")
    );
}

#[test]
fn unknown_event_types_and_fields_are_tolerated() {
    let e: Event = serde_json::from_str(r#"{"type":"SOMETHING_NEW","something_new":{"x":1}}"#)
        .expect("parses");
    assert_eq!(e.kind, super::EventType::Unknown("SOMETHING_NEW".into()));
    let s: super::TaskStatus = serde_json::from_str(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","new_field":true}"#,
    )
    .expect("parses");
    assert_eq!(s.state, super::TaskState::Running);
}
