//! End-to-end tests of the file input on real files in a temporary directory.

use super::*;
use crate::options::{ArgValue, CodecSpec};
use logstash_mesos_core::{Event, FieldRef, Value};
use std::io::Write;
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

struct Running {
    ctx: InputContext,
    rx: Receiver<Event>,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn recv(&mut self, n: usize) -> Vec<Event> {
        let mut got = Vec::new();
        while got.len() < n {
            match tokio::time::timeout(WAIT, self.rx.recv()).await {
                Ok(Some(e)) => got.push(e),
                Ok(None) => panic!("input ended after {} of {n} events", got.len()),
                Err(_) => panic!(
                    "timed out after {} of {n} events: {:?}",
                    got.len(),
                    messages(&got)
                ),
            }
        }
        got
    }

    /// Asserts nothing more arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), self.rx.recv()).await
        {
            panic!("unexpected event {:?}", message(&e));
        }
    }

    async fn stop(self) -> Receiver<Event> {
        self.ctx.shutdown.cancel();
        let r = tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("input stops promptly")
            .expect("no panic");
        r.expect("input ran without error");
        self.rx
    }
}

fn message(e: &Event) -> String {
    e.get_top("message")
        .map(Value::to_logstash_string)
        .unwrap_or_default()
}

fn messages(events: &[Event]) -> Vec<String> {
    events.iter().map(message).collect()
}

fn get(e: &Event, path: &str) -> Option<String> {
    let r = FieldRef::parse(path).expect("field ref");
    e.get(&r).map(Value::to_logstash_string)
}

/// Options with fast intervals; `path` globs are relative to `dir`.
fn args(dir: &Path, globs: &[&str]) -> Args {
    let paths: Vec<Value> = globs
        .iter()
        .map(|g| Value::from(format!("{}/{g}", dir.display())))
        .collect();
    Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
        .with("path", Value::Array(paths))
        .with("stat_interval", Value::from("10 ms"))
        .with("discover_interval", Value::Integer(2))
        .with("sincedb_write_interval", Value::from("20 ms"))
        .with(
            "sincedb_path",
            Value::from(dir.join("state/.sincedb").display().to_string()),
        )
}

fn beginning(a: Args) -> Args {
    a.with("start_position", Value::from("beginning"))
}

fn start(args: &Args) -> Running {
    start_with_queue(args, 1000)
}

fn start_with_queue(args: &Args, capacity: usize) -> Running {
    let input = build(args, &BuildContext::default()).expect("valid config");
    let (ctx, rx) = InputContext::for_test(capacity);
    let handle = tokio::spawn(input.run(ctx.clone()));
    Running { ctx, rx, handle }
}

fn append(path: &Path, data: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(data).expect("append");
}

#[tokio::test]
async fn reads_existing_lines_then_appended_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"first\nsecond\n").expect("write");
    let mut run = start(&beginning(args(dir.path(), &["*.log"])));
    let got = run.recv(2).await;
    assert_eq!(messages(&got), vec!["first", "second"]);
    let e = &got[0];
    assert_eq!(
        get(e, "[log][file][path]").as_deref(),
        Some(log.to_string_lossy().as_ref())
    );
    assert!(get(e, "[host][name]").is_some_and(|h| !h.is_empty()));
    assert_eq!(get(e, "[log][offset]").as_deref(), Some("0"));
    assert_eq!(
        get(e, "[event][original]").as_deref(),
        Some("first"),
        "the plain codec's ECS field"
    );
    assert_eq!(get(&got[1], "[log][offset]").as_deref(), Some("6"));
    let id = get(e, "[@metadata][_id]").expect("_id");
    assert_eq!(id.len(), 32);
    assert_ne!(Some(id), get(&got[1], "[@metadata][_id]"));

    append(&log, b"third\npart");
    assert_eq!(messages(&run.recv(1).await), vec!["third"]);
    run.quiet().await;
    append(&log, b"ial\r\n");
    assert_eq!(
        messages(&run.recv(1).await),
        vec!["partial\r"],
        "a trailing \\r is kept, as Logstash does"
    );
    run.stop().await;
}

#[tokio::test]
async fn start_position_end_skips_existing_content_but_not_new_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.log");
    std::fs::write(&old, b"old 1\nold 2\n").expect("write");
    let mut run = start(&args(dir.path(), &["*.log"]));
    run.quiet().await;
    append(&old, b"old 3\n");
    assert_eq!(messages(&run.recv(1).await), vec!["old 3"]);
    // A file appearing after start is read from its beginning.
    std::fs::write(dir.path().join("new.log"), b"new 1\nnew 2\n").expect("write");
    assert_eq!(messages(&run.recv(2).await), vec!["new 1", "new 2"]);
    run.stop().await;
}

#[tokio::test]
async fn rename_rotation_reads_old_file_to_its_end_and_new_file_from_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"before\n").expect("write");
    let mut run = start(&beginning(args(dir.path(), &["app.log"])));
    assert_eq!(messages(&run.recv(1).await), vec!["before"]);
    // The writer still holds the renamed file and writes a last line into it.
    let mut writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    let rotated = dir.path().join("app.log.1");
    std::fs::rename(&log, &rotated).expect("rename");
    writer.write_all(b"late line\n").expect("write");
    std::fs::write(&log, b"fresh 1\nfresh 2\n").expect("write");
    let mut got = messages(&run.recv(3).await);
    got.sort();
    assert_eq!(got, vec!["fresh 1", "fresh 2", "late line"]);
    append(&log, b"fresh 3\n");
    assert_eq!(messages(&run.recv(1).await), vec!["fresh 3"]);
    run.quiet().await;
    run.stop().await;
}

#[tokio::test]
async fn copytruncate_restarts_from_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"line one\nline two\n").expect("write");
    let mut run = start(&beginning(args(dir.path(), &["app.log"])));
    let first = run.recv(2).await;
    // Shorter than what was read: a plain truncation.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    append(&log, b"after\n");
    let got = run.recv(1).await;
    assert_eq!(messages(&got), vec!["after"]);
    assert_ne!(
        get(&got[0], "[@metadata][_id]"),
        get(&first[0], "[@metadata][_id]"),
        "new content gets new ids"
    );
    // Truncated and rewritten past the old position before we looked: the changed
    // first bytes give it away.
    std::fs::write(&log, b"rewritten content that is longer\n").expect("rewrite");
    assert_eq!(
        messages(&run.recv(1).await),
        vec!["rewritten content that is longer"]
    );
    run.stop().await;
}

#[tokio::test]
async fn restart_resumes_after_delivered_lines_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"a\nb\n").expect("write");
    let a = beginning(args(dir.path(), &["app.log"]));

    // Delivered (dropped) events are checkpointed.
    let mut run = start(&a);
    drop(run.recv(2).await);
    run.stop().await;
    append(&log, b"c\n");
    let mut run = start(&a);
    assert_eq!(messages(&run.recv(1).await), vec!["c"]);
    run.quiet().await;

    // Events still held (not acknowledged) at shutdown are read again after a restart,
    // with the same ids.
    append(&log, b"d\ne\n");
    let held = run.recv(2).await;
    assert_eq!(messages(&held), vec!["d", "e"]);
    run.stop().await;
    let mut run = start(&a);
    let again = run.recv(2).await;
    assert_eq!(messages(&again), vec!["d", "e"]);
    assert_eq!(
        get(&again[0], "[@metadata][_id]"),
        get(&held[0], "[@metadata][_id]")
    );
    drop(held);
    drop(again);
    run.stop().await;

    // A failed delivery is not checkpointed either.
    let mut run = start(&a);
    run.quiet().await;
    append(&log, b"f\n");
    let f = run.recv(1).await;
    f[0].fail_acks();
    drop(f);
    run.stop().await;
    let mut run = start(&a);
    assert_eq!(messages(&run.recv(1).await), vec!["f"]);
    run.stop().await;
}

#[tokio::test]
async fn corrupt_sincedb_restarts_safely() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("app.log"), b"x\ny\n").expect("write");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    std::fs::write(dir.path().join("state/.sincedb"), b"\x00garbage{").expect("write");
    let mut run = start(&beginning(args(dir.path(), &["app.log"])));
    assert_eq!(messages(&run.recv(2).await), vec!["x", "y"]);
    run.stop().await;
    let text = std::fs::read_to_string(dir.path().join("state/.sincedb")).expect("rewritten");
    assert!(text.contains("\"version\""), "{text}");
}

#[tokio::test]
async fn exclude_skips_matching_file_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keep.log"), b"kept\n").expect("write");
    std::fs::write(dir.path().join("skip.gz"), b"skipped\n").expect("write");
    let a = beginning(args(dir.path(), &["*"])).with("exclude", Value::from("*.gz"));
    let mut run = start(&a);
    assert_eq!(messages(&run.recv(1).await), vec!["kept"]);
    run.quiet().await;
    run.stop().await;
}

#[tokio::test]
async fn invalid_utf8_and_huge_lines_and_custom_delimiter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let big = "x".repeat(1024 * 1024);
    let mut data = b"bad \xff\xfe byte|".to_vec();
    data.extend_from_slice(big.as_bytes());
    data.extend_from_slice(b"|end|");
    std::fs::write(&log, &data).expect("write");
    let a = beginning(args(dir.path(), &["app.log"])).with("delimiter", Value::from("|"));
    let mut run = start(&a);
    let got = run.recv(3).await;
    assert_eq!(message(&got[0]), "bad \u{fffd}\u{fffd} byte");
    assert_eq!(message(&got[1]).len(), 1024 * 1024);
    assert_eq!(message(&got[2]), "end");
    run.stop().await;
}

#[tokio::test]
async fn ecs_disabled_uses_host_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"m\n").expect("write");
    let a = beginning(args(dir.path(), &["app.log"]))
        .with("ecs_compatibility", Value::from("disabled"));
    let mut run = start(&a);
    let got = run.recv(1).await;
    assert_eq!(
        get(&got[0], "path").as_deref(),
        Some(log.to_string_lossy().as_ref())
    );
    assert!(get(&got[0], "host").is_some());
    assert!(get(&got[0], "[log][offset]").is_none());
    assert_eq!(
        get(&got[0], "[@metadata][path]").as_deref(),
        Some(log.to_string_lossy().as_ref())
    );
    run.stop().await;
}

#[tokio::test]
async fn multiline_codec_merges_lines_and_their_acks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"E boom\n  at a\n  at b\nnext\n").expect("write");
    let codec_args = Args::for_plugin(
        crate::registry::Kind::Codec,
        crate::codecs::multiline::OPTIONS,
    )
    .with("pattern", Value::from("^\\s"))
    .with("what", Value::from("previous"));
    let mut a = beginning(args(dir.path(), &["app.log"]));
    a.insert(
        "codec",
        ArgValue::Codec(CodecSpec {
            name: "multiline".into(),
            built: Some(crate::options::BuiltCodec(
                crate::codecs::multiline::build(&codec_args, &BuildContext::default())
                    .expect("codec"),
            )),
            args: Box::new(codec_args),
        }),
        Default::default(),
    );
    let mut run = start(&a);
    let got = run.recv(1).await;
    assert_eq!(messages(&got), vec!["E boom\n  at a\n  at b"]);
    assert!(got[0].has_tag("multiline"));
    assert_eq!(
        get(&got[0], "[log][file][path]").as_deref(),
        Some(log.to_string_lossy().as_ref())
    );
    drop(got);
    run.quiet().await;
    // "next" is held by the codec: not delivered, so it is read again after a restart.
    run.stop().await;
    let mut run = start(&a);
    append(&log, b"last\n");
    assert_eq!(messages(&run.recv(1).await), vec!["next"]);
    run.stop().await;
}

#[test]
fn config_errors() {
    let err = |a: Args| {
        build(&a, &BuildContext::default())
            .err()
            .expect("config error")
    };
    let e = err(Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
        .with("path", Value::from("logs/*.log")));
    assert_eq!(e.option.as_deref(), Some("path"));
    assert!(e.message.contains("absolute"), "{}", e.message);
    let e = err(Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
        .with("path", Value::from("/tmp/x.log"))
        .with("stat_interval", Value::from("soon")));
    assert_eq!(e.option.as_deref(), Some("stat_interval"));
    let e = err(Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
        .with("path", Value::from("/tmp/x.log"))
        .with("mode", Value::from("read"))
        .with("file_completed_action", Value::from("log_and_delete"))
        .with("file_completed_log_path", Value::from("done.log")));
    assert_eq!(e.option.as_deref(), Some("file_completed_log_path"));
    assert!(e.message.contains("absolute"), "{}", e.message);
    assert_eq!(
        crate::units::parse_duration("500 ms", 1.0),
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        crate::units::parse_duration("2", 1.0),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        crate::units::parse_duration("1 hour", 1.0),
        Some(Duration::from_secs(3600))
    );
}

/// `mode => read`: whole files, the last line without its delimiter; a file is deleted
/// (and logged) only after every line of it was delivered; `exit_after_read` ends the
/// input once all are done; the default start_position (end) does not apply.
#[tokio::test]
async fn read_mode_completes_files_only_after_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, b"a1\na2\na3").expect("write");
    std::fs::write(&b, b"b1\n").expect("write");
    let done = dir.path().join("state/completed.log");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    let mut run = start(
        &args(dir.path(), &["*.csv"])
            .with("mode", Value::from("read"))
            .with("file_completed_action", Value::from("log_and_delete"))
            .with(
                "file_completed_log_path",
                Value::from(done.display().to_string()),
            )
            .with("exit_after_read", Value::Bool(true)),
    );
    let mut got = run.recv(4).await;
    let mut msgs = messages(&got);
    msgs.sort();
    assert_eq!(msgs, vec!["a1", "a2", "a3", "b1"]);
    // Nothing delivered yet (the events are held here): the files stay.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        a.exists() && b.exists(),
        "a file was completed before delivery"
    );
    assert!(!run.handle.is_finished(), "exited before delivery");
    // Deliver: dropping the events releases their acks.
    got.clear();
    tokio::time::timeout(WAIT, &mut run.handle)
        .await
        .expect("exit_after_read ends the input")
        .expect("no panic")
        .expect("no error");
    assert!(!a.exists() && !b.exists(), "completed files are deleted");
    let mut logged: Vec<String> = std::fs::read_to_string(&done)
        .expect("completed log")
        .lines()
        .map(String::from)
        .collect();
    logged.sort();
    assert_eq!(
        logged,
        vec![a.display().to_string(), b.display().to_string()]
    );
}

/// `file_completed_action => log` keeps the file and does not read it again; a log action
/// without its path is a config error.
#[tokio::test]
async fn read_mode_log_keeps_the_file_and_reads_it_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.txt");
    std::fs::write(&a, b"only\n").expect("write");
    let done = dir.path().join("done.log");
    let base = args(dir.path(), &["*.txt"])
        .with("mode", Value::from("read"))
        .with("file_completed_action", Value::from("log"));
    let e = build(&base, &BuildContext::default())
        .err()
        .expect("log needs a path");
    assert_eq!(e.option.as_deref(), Some("file_completed_log_path"));
    let mut run = start(&base.with(
        "file_completed_log_path",
        Value::from(done.display().to_string()),
    ));
    let got = run.recv(1).await;
    assert_eq!(messages(&got), vec!["only"]);
    drop(got);
    let deadline = std::time::Instant::now() + WAIT;
    while !done.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&done).expect("logged"),
        format!("{}\n", a.display())
    );
    assert!(a.exists(), "log keeps the file");
    run.quiet().await;
    run.stop().await;
}

/// copytruncate with the rotated copies watched too (`app.log*`, as users glob): a copy
/// holds lines already read from the live file, under a new inode. Each line must come
/// out once, whether the copy is found before or after the truncation is seen.
#[tokio::test]
async fn copytruncate_with_copies_watched_reads_each_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let mut writer = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("open");
    let mut run = start(&beginning(args(dir.path(), &["app.log*"])));
    let mut expected = Vec::new();
    let mut got = Vec::new();
    for round in 0..6 {
        for i in 0..20 {
            let l = format!("r{round} line {i}");
            writeln!(writer, "{l}").expect("write");
            expected.push(l);
        }
        if round % 2 == 0 {
            // Let the reader catch up before this rotation; on odd rounds it lags.
            let n = expected.len() - got.len();
            got.extend(run.recv(n).await);
        }
        for k in (1..4).rev() {
            let from = dir.path().join(format!("app.log.{k}"));
            if from.exists() {
                std::fs::rename(&from, dir.path().join(format!("app.log.{}", k + 1)))
                    .expect("shift");
            }
        }
        std::fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
        writer.set_len(0).expect("truncate");
    }
    writeln!(writer, "last").expect("write");
    expected.push("last".into());
    let n = expected.len() - got.len();
    got.extend(run.recv(n).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(e) = run.rx.try_recv() {
        got.push(e);
    }
    let mut msgs = messages(&got);
    msgs.sort();
    expected.sort();
    assert_eq!(msgs, expected, "every line exactly once");
    let mut ids: Vec<String> = got
        .iter()
        .map(|e| get(e, "[@metadata][_id]").expect("_id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected.len(), "distinct lines get distinct ids");
    run.stop().await;
}

/// A line read from `app.log` and read again from its copy `app.log.1` (the first read
/// was never delivered, so the restart reads it again) gets the same `_id`: the
/// elasticsearch output overwrites instead of duplicating.
#[tokio::test]
async fn a_line_keeps_its_id_whichever_file_it_is_read_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"one\ntwo\n").expect("write");
    let a = beginning(args(dir.path(), &["app.log*"]));
    let mut run = start(&a);
    let held = run.recv(2).await;
    run.stop().await;
    // Rotated by copytruncate while the shipper was down; new content follows.
    std::fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
    std::fs::write(&log, b"three\n").expect("truncate and write");
    let mut run = start(&a);
    let mut again = run.recv(3).await;
    again.sort_by_key(message);
    assert_eq!(messages(&again), vec!["one", "three", "two"]);
    let id = |e: &Event| get(e, "[@metadata][_id]").expect("_id");
    assert_eq!(id(&again[0]), id(&held[0]), "one: same id from the copy");
    assert_eq!(id(&again[2]), id(&held[1]), "two: same id from the copy");
    assert_ne!(id(&again[1]), id(&held[0]));
    assert_eq!(
        get(&again[0], "[log][file][path]").as_deref(),
        Some(dir.path().join("app.log.1").to_string_lossy().as_ref()),
        "the path is the file it was read from"
    );
    drop((held, again));
    run.stop().await;
}

/// Rotated by copytruncate while the shipper was down: the copy continues from the
/// checkpoint of the generation it copies (only its unread lines), the truncated file is
/// read from its start.
#[tokio::test]
async fn restart_after_copytruncate_continues_in_the_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"a1\na2\n").expect("write");
    let a = beginning(args(dir.path(), &["app.log*"]));
    let mut run = start(&a);
    drop(run.recv(2).await);
    run.stop().await;
    append(&log, b"a3 unread\n");
    std::fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
    std::fs::write(&log, b"b1\n").expect("truncate and write");
    let mut run = start(&a);
    let mut got = messages(&run.recv(2).await);
    got.sort();
    assert_eq!(got, vec!["a3 unread", "b1"]);
    run.quiet().await;
    // Rotated again by rename while running: app.log.1 -> .2, app.log -> .1, a new
    // app.log. Nothing is read twice.
    std::fs::rename(dir.path().join("app.log.1"), dir.path().join("app.log.2")).expect("mv");
    std::fs::rename(&log, dir.path().join("app.log.1")).expect("mv");
    std::fs::write(&log, b"c1\n").expect("write");
    assert_eq!(messages(&run.recv(1).await), vec!["c1"]);
    run.quiet().await;
    run.stop().await;
    let mut run = start(&a);
    run.quiet().await;
    run.stop().await;
}

/// Content identity does not merge files that differ within the fingerprint window, even
/// when their first lines are the same (a CSV header): both are read whole, with
/// distinct ids.
#[tokio::test]
async fn files_sharing_a_first_line_are_still_different_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.csv"), b"id,name\n1,alice\n").expect("write");
    let a = beginning(args(dir.path(), &["*.csv"]));
    let mut run = start(&a);
    let first = run.recv(2).await;
    std::fs::write(dir.path().join("b.csv"), b"id,name\n1,bob\n2,carol\n").expect("write");
    let second = run.recv(3).await;
    assert_eq!(messages(&second), vec!["id,name", "1,bob", "2,carol"]);
    let id = |e: &Event| get(e, "[@metadata][_id]").expect("_id");
    assert_eq!(
        id(&first[0]),
        id(&second[0]),
        "the identical first line (same bytes from the start) is one line"
    );
    assert_ne!(id(&first[1]), id(&second[1]));
    run.stop().await;
}

/// copytruncate while the shipper lags (the queue is full): the lines it had not read yet
/// are only in the copy by then. The generation goes on in the copy from where it was,
/// and the truncated file's new content is read from its start.
#[tokio::test]
async fn lagging_reader_finishes_a_truncated_generation_in_its_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    // More than one polling round reads (4,096 lines, two 32 KiB chunks), so the rest is unread
    // while the input waits for queue space.
    let total = 20_000;
    let text: String = (0..total).map(|i| format!("old {i}\n")).collect();
    std::fs::write(&log, text.as_bytes()).expect("write");
    let mut run = start_with_queue(&beginning(args(dir.path(), &["app.log*"])), 8);
    let mut got = run.recv(4).await;
    std::fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    append(&log, b"new 0\nnew 1\n");
    got.extend(run.recv(total + 2 - 4).await);
    run.quiet().await;
    let mut msgs = messages(&got);
    msgs.sort();
    let mut expected: Vec<String> = (0..total).map(|i| format!("old {i}")).collect();
    expected.extend(["new 0".to_string(), "new 1".to_string()]);
    expected.sort();
    assert_eq!(msgs.len(), expected.len());
    assert!(msgs == expected, "every line once");
    let rest = got
        .iter()
        .find(|e| message(e) == format!("old {}", total - 1))
        .expect("last old line");
    assert_eq!(
        get(rest, "[log][file][path]").as_deref(),
        Some(dir.path().join("app.log.1").to_string_lossy().as_ref()),
        "the unread rest came from the copy"
    );
    run.stop().await;
}
