//! The elasticsearch output through a fault proxy in front of a real search engine
//! (OpenSearch by default, see es_support): request and item failures, a and shutdown while retrying.

mod es_support;

use es_support::{with_ack, AckCounter, Fault, FaultProxy, Server};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::dlq::{self, DlqReader, Position};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::outputs::elasticsearch::build_output;
use logstash_mesos_pipeline::plugin::{BuildContext, Ecs, Output};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn ctx(dir: &std::path::Path) -> BuildContext {
    BuildContext {
        path_data: dir.to_path_buf(),
        ecs: Ecs::Disabled,
        ..BuildContext::default()
    }
}

/// An event as the file input would emit it: a deterministic id in `[@metadata][_id]`.
fn event(i: usize, bad: bool) -> Event {
    let mut e = Event::from_message(format!("log line {i}"));
    e.set(
        &FieldRef::parse("[@metadata][_id]").unwrap(),
        Value::from(format!("file:inode42:{}", i * 100)),
    )
    .unwrap();
    // `n` is mapped as a number by the first document; a string there is a 400 item.
    e.set(
        &FieldRef::top("n"),
        if bad {
            Value::from("not a number")
        } else {
            Value::Integer(i as i64)
        },
    )
    .unwrap();
    e
}

fn args(url: &str, index: &str) -> Args {
    Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    )
    .with("hosts", Value::Array(vec![Value::from(url)]))
    .with("index", Value::from(index))
    .with("manage_template", Value::Bool(false))
    .with("retry_initial_interval", Value::Float(0.05))
    .with("retry_max_interval", Value::Float(0.5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_nothing_duplicate_nothing_and_dead_letter_400s() {
    let Some(server) = Server::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&server.url).await;
    for f in [
        Fault::Status(429),
        Fault::Status(503),
        Fault::CloseAfterForward,
        Fault::Slow(Duration::from_secs(8)),
        Fault::ItemRejected(vec![0, 3, 7]),
        Fault::Status(413),
        Fault::CloseAfterForward,
        Fault::ItemRejected(vec![1]),
        Fault::Status(502),
    ] {
        proxy.push(f);
    }
    let dir = tempfile::tempdir().unwrap();
    let a = args(&proxy.url, "faults")
        .with("timeout", Value::Integer(5))
        .with("http_compression", Value::Bool(true));
    let out = Arc::new(build_output(&a, &ctx(dir.path())).unwrap());
    let n = 3000;
    let bad = |i: usize| i % 100 == 99;
    let acks = Arc::new(AckCounter::default());
    let mut batches = Vec::new();
    for start in (0..n).step_by(125) {
        batches.push(
            (start..(start + 125).min(n))
                .map(|i| with_ack(event(i, bad(i)), &acks, i as u64))
                .collect::<Vec<_>>(),
        );
    }
    let queue = Arc::new(std::sync::Mutex::new(
        batches.into_iter().rev().collect::<Vec<_>>(),
    ));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (q, o) = (queue.clone(), out.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let b = q.lock().unwrap().pop();
                match b {
                    Some(b) => o.send(b).await,
                    None => return,
                }
            }
        }));
    }
    for w in workers {
        tokio::time::timeout(Duration::from_secs(240), w)
            .await
            .expect("delivery finished")
            .unwrap();
    }
    let n_bad = (0..n).filter(|&i| bad(i)).count();
    assert_eq!(
        proxy.injected.load(Ordering::Relaxed),
        9,
        "every fault was exercised"
    );
    // Exact: every good event once (replays overwrite by id), no bad one.
    assert_eq!(server.count("faults").await, (n - n_bad) as u64);
    // Sources hear "delivered" for everything: indexed or safely dead-lettered.
    assert_eq!(acks.delivered.load(Ordering::Relaxed), n as u64);
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
    eprintln!("{:?}", out.stats);
    assert!(out.stats.request_failures.load(Ordering::Relaxed) >= 7);
    // Per-item 429s are retried alone (a slow machine may time a rewritten response out
    // before it is read, so at least one, at most all four, are seen as item failures).
    let item_retries = out.stats.item_retries.load(Ordering::Relaxed);
    assert!((1..=4).contains(&item_retries), "{item_retries}");
    assert_eq!(
        out.stats.dead_lettered.load(Ordering::Relaxed),
        n_bad as u64
    );
    out.close().await;

    // The dead letter queue holds exactly the bad events, with the reason.
    let mut r = DlqReader::new(&dlq::queue_dir(dir.path(), "main"), Position::default());
    let mut seen = Vec::new();
    while let Some((entry, _)) = r.next_entry().unwrap() {
        let e = entry.into_event();
        let reason = e
            .get(&FieldRef::parse("[@metadata][dead_letter_queue][reason]").unwrap())
            .unwrap()
            .to_logstash_string();
        assert!(
            reason.contains("status 400") && reason.contains("mapper_parsing_exception"),
            "{reason}"
        );
        assert_eq!(
            e.get(&FieldRef::top("n")),
            Some(&Value::from("not a number"))
        );
        seen.push(
            e.get(&FieldRef::parse("[@metadata][_id]").unwrap())
                .unwrap()
                .to_logstash_string(),
        );
    }
    seen.sort();
    let mut expected: Vec<String> = (0..n)
        .filter(|&i| bad(i))
        .map(|i| format!("file:inode42:{}", i * 100))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_retrying_fails_acks() {
    let Some(server) = Server::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&server.url).await;
    proxy.down.store(true, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let context = ctx(dir.path());
    let out = Arc::new(build_output(&args(&proxy.url, "shut"), &context).unwrap());
    let acks = Arc::new(AckCounter::default());
    let events: Vec<Event> = (0..50)
        .map(|i| with_ack(event(i, false), &acks, i as u64))
        .collect();
    let o = out.clone();
    let sending = tokio::spawn(async move { o.send(events).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!sending.is_finished());
    context.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), sending)
        .await
        .expect("send returned on shutdown")
        .unwrap();
    assert_eq!(acks.failed.load(Ordering::Relaxed), 50);
    assert_eq!(acks.delivered.load(Ordering::Relaxed), 0);
    assert_eq!(out.stats.abandoned.load(Ordering::Relaxed), 50);
}
