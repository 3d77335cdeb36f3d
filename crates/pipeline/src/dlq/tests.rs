use super::*;
use crate::plugin::{DlqSettings, DlqStoragePolicy};
use logstash_mesos_core::FieldRef;
use std::io::Write;

fn settings(max: u64, policy: DlqStoragePolicy) -> DlqSettings {
    DlqSettings {
        enable: true,
        max_bytes: max,
        storage_policy: policy,
    }
}

fn entry(msg: &str) -> Entry {
    let mut e = Event::from_message(msg);
    e.set(
        &FieldRef::parse("[@metadata][_id]").unwrap(),
        Value::from(format!("id-{msg}")),
    )
    .unwrap();
    Entry::new(&e, &format!("status 400 for {msg}"), "elasticsearch", "es1")
}

fn read_all(dir: &Path, from: Position) -> (Vec<String>, Position) {
    let mut r = DlqReader::new(dir, from);
    let mut out = Vec::new();
    while let Some((e, _)) = r.next_entry().unwrap() {
        out.push(
            e.into_event()
                .get(&FieldRef::top("message"))
                .unwrap()
                .to_logstash_string(),
        );
    }
    (out, r.position())
}

#[test]
fn round_trip_keeps_event_metadata_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let w = DlqWriter::open(
        dir.path(),
        settings(1 << 30, DlqStoragePolicy::DropNewer),
        1 << 20,
    )
    .unwrap();
    assert_eq!(
        w.write(&[entry("a"), entry("b")]).unwrap(),
        WriteOutcome {
            written: 2,
            dropped: 0
        }
    );
    let mut r = DlqReader::new(dir.path(), Position::default());
    let (e, _) = r.next_entry().unwrap().unwrap();
    let ev = e.into_event();
    assert_eq!(ev.get(&FieldRef::top("message")), Some(&Value::from("a")));
    assert_eq!(
        ev.get(&FieldRef::parse("[@metadata][_id]").unwrap()),
        Some(&Value::from("id-a"))
    );
    assert_eq!(
        ev.get(&FieldRef::parse("[@metadata][dead_letter_queue][reason]").unwrap()),
        Some(&Value::from("status 400 for a"))
    );
    assert_eq!(
        ev.get(&FieldRef::parse("[@metadata][dead_letter_queue][plugin_type]").unwrap()),
        Some(&Value::from("elasticsearch"))
    );
    assert!(ev.timestamp().is_some());
}

#[test]
fn segments_roll_and_reader_follows_writer_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let w = DlqWriter::open(
        dir.path(),
        settings(1 << 30, DlqStoragePolicy::DropNewer),
        600,
    )
    .unwrap();
    for i in 0..10 {
        w.write(&[entry(&format!("m{i}"))]).unwrap();
    }
    assert!(segments(dir.path()).unwrap().len() > 2);
    let (got, pos) = read_all(dir.path(), Position::default());
    assert_eq!(got, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
    // More arrives; a reader resuming from the saved position sees only the new entries.
    w.write(&[entry("late")]).unwrap();
    let (got, _) = read_all(dir.path(), pos);
    assert_eq!(got, vec!["late"]);
}

#[test]
fn restart_seals_open_segment_and_skips_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    {
        let w = DlqWriter::open(
            dir.path(),
            settings(1 << 30, DlqStoragePolicy::DropNewer),
            1 << 20,
        )
        .unwrap();
        w.write(&[entry("before")]).unwrap();
        std::mem::forget(w); // a crash: no seal
    }
    // A torn half line at the end of the open segment.
    let (_, open) = segments(dir.path()).unwrap().pop().unwrap();
    assert!(open.to_string_lossy().ends_with(".log.tmp"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&open)
        .unwrap()
        .write_all(b"{\"version\":\"1\",\"ti")
        .unwrap();
    // Before a later segment exists the reader waits at the torn line.
    let (got, pos) = read_all(dir.path(), Position::default());
    assert_eq!(got, vec!["before"]);
    let w = DlqWriter::open(
        dir.path(),
        settings(1 << 30, DlqStoragePolicy::DropNewer),
        1 << 20,
    )
    .unwrap();
    assert!(segments(dir.path())
        .unwrap()
        .iter()
        .all(|(_, p)| p.extension().unwrap() == "log"));
    w.write(&[entry("after")]).unwrap();
    let (got, _) = read_all(dir.path(), pos);
    assert_eq!(got, vec!["after"]);
}

#[test]
fn corrupt_lines_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.log"), b"not json\n").unwrap();
    let w = DlqWriter::open(
        dir.path(),
        settings(1 << 30, DlqStoragePolicy::DropNewer),
        1 << 20,
    )
    .unwrap();
    w.write(&[entry("ok")]).unwrap();
    let mut r = DlqReader::new(dir.path(), Position::default());
    let (e, _) = r.next_entry().unwrap().unwrap();
    assert_eq!(e.v1().reason, "status 400 for ok");
    assert_eq!(r.corrupt, 1);
}

#[test]
fn max_bytes_drop_newer_and_drop_older() {
    let one = {
        let mut v = serde_json::to_vec(&entry("m0")).unwrap();
        v.push(b'\n');
        v.len() as u64
    };
    let dir = tempfile::tempdir().unwrap();
    let w = DlqWriter::open(
        dir.path(),
        settings(one * 3, DlqStoragePolicy::DropNewer),
        one,
    )
    .unwrap();
    let out = w
        .write(&(0..5).map(|i| entry(&format!("m{i}"))).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(
        out,
        WriteOutcome {
            written: 3,
            dropped: 2
        }
    );
    assert_eq!(
        read_all(dir.path(), Position::default()).0,
        vec!["m0", "m1", "m2"]
    );

    let dir = tempfile::tempdir().unwrap();
    let w = DlqWriter::open(
        dir.path(),
        settings(one * 3, DlqStoragePolicy::DropOlder),
        one,
    )
    .unwrap();
    let out = w
        .write(&(0..5).map(|i| entry(&format!("m{i}"))).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(out.written, 5);
    assert!(w.size_on_disk().unwrap() <= one * 3);
    assert_eq!(
        read_all(dir.path(), Position::default()).0,
        vec!["m2", "m3", "m4"]
    );
}
