//! The elasticsearch output during a server outage (through the fault proxy): back-pressure
//! holds the input, memory stays bounded, everything arrives afterwards. Its own test
//! binary so the process's memory is this test's alone. `ES_OUTAGE_SECS` (default 30).

mod es_support;

use es_support::{rss_kib, with_ack, AckCounter, FaultProxy, Server};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::outputs::elasticsearch::build_output;
use logstash_mesos_pipeline::plugin::{BuildContext, Ecs, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn event(i: usize) -> Event {
    let mut e = Event::from_message(format!("log line {i}"));
    e.set(
        &FieldRef::parse("[@metadata][_id]").unwrap(),
        Value::from(format!("file:inode7:{}", i * 100)),
    )
    .unwrap();
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_applies_backpressure_with_bounded_memory_then_delivers_everything() {
    let Some(server) = Server::shared() else {
        return;
    };
    let outage = Duration::from_secs(
        std::env::var("ES_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    );
    let proxy = FaultProxy::start(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    )
    .with("hosts", Value::Array(vec![Value::from(proxy.url.as_str())]))
    .with("index", Value::from("outage"))
    .with("manage_template", Value::Bool(false))
    .with("retry_initial_interval", Value::Float(0.1))
    .with("retry_max_interval", Value::Integer(2))
    .with("timeout", Value::Integer(10));
    let context = BuildContext {
        path_data: dir.path().to_path_buf(),
        ecs: Ecs::Disabled,
        ..BuildContext::default()
    };
    let out = Arc::new(build_output(&args, &context).unwrap());
    let acks = Arc::new(AckCounter::default());
    let total: usize = 12_000;
    let (cap, batch, nworkers) = (1000usize, 125usize, 2usize);
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(cap);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let produced = Arc::new(AtomicU64::new(0));

    // The input: 400 events/s, waiting when the queue is full.
    let (p, a) = (produced.clone(), acks.clone());
    let producer = tokio::spawn(async move {
        for i in 0..total {
            if tx.send(with_ack(event(i), &a, i as u64)).await.is_err() {
                return;
            }
            p.fetch_add(1, Ordering::Relaxed);
            if i % 40 == 39 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    // The pipeline workers: take up to a batch, send.
    let mut workers = Vec::new();
    for _ in 0..nworkers {
        let (rx, o) = (rx.clone(), out.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let mut b = Vec::with_capacity(batch);
                {
                    let mut rx = rx.lock().await;
                    if rx.recv_many(&mut b, batch).await == 0 {
                        return;
                    }
                }
                o.send(b).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_before = rss_kib();
    proxy.down.store(true, Ordering::Relaxed);
    let down_at = Instant::now();
    let mut max_in_flight = 0;
    let mut max_rss = rss_before;
    let produced_at_down = produced.load(Ordering::Relaxed);
    while down_at.elapsed() < outage {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let in_flight = produced.load(Ordering::Relaxed) - acks.delivered.load(Ordering::Relaxed);
        max_in_flight = max_in_flight.max(in_flight);
        max_rss = max_rss.max(rss_kib());
        if std::env::var("ES_TRACE_RSS").is_ok() {
            eprintln!(
                "{:?} in flight {in_flight} rss {}",
                down_at.elapsed(),
                rss_kib()
            );
        }
    }
    let produced_during = produced.load(Ordering::Relaxed) - produced_at_down;
    proxy.down.store(false, Ordering::Relaxed);
    eprintln!(
        "outage {:?}: produced {produced_during} during it, max in flight {max_in_flight}, rss {rss_before} → {max_rss} KiB",
        outage
    );
    // Back-pressure: the input was held back; at most the queue plus one batch per worker
    // (plus the one the producer holds) waited in memory.
    let bound = (cap + nworkers * batch + 1) as u64;
    assert!(
        max_in_flight <= bound,
        "in flight {max_in_flight} > {bound}"
    );
    assert!(
        produced_during < 400 * outage.as_secs() / 2,
        "the input was not held back: {produced_during}"
    );
    assert!(
        max_rss.saturating_sub(rss_before) < 64 * 1024,
        "memory grew by {} KiB",
        max_rss - rss_before
    );

    producer.await.unwrap();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(300), w)
            .await
            .expect("drained after the outage")
            .unwrap();
    }
    assert_eq!(server.count("outage").await, total as u64);
    assert_eq!(acks.delivered.load(Ordering::Relaxed), total as u64);
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
}
