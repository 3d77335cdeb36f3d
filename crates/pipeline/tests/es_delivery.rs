//! The elasticsearch output against a real search engine (OpenSearch 2.19 by default, see
//! scripts/setup/opensearch.sh; `LSM_SEARCH=osmem` for osmem-server): volume with
//! sprintf/date-math index names, and hosts that are unreachable at startup.

mod es_support;

use es_support::{free_port, with_ack, AckCounter, Server};
use logstash_mesos_core::{Event, FieldRef, Timestamp, Value};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::outputs::elasticsearch::{build_output, ElasticsearchOutput};
use logstash_mesos_pipeline::plugin::{BuildContext, Ecs, Output};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn hosts(urls: &[&str]) -> Value {
    Value::Array(urls.iter().map(|u| Value::from(*u)).collect())
}

fn fast_retries(a: Args) -> Args {
    a.with("retry_initial_interval", Value::Float(0.1))
        .with("retry_max_interval", Value::Float(0.5))
        .with("timeout", Value::Integer(5))
}

fn ctx(dir: &std::path::Path) -> BuildContext {
    BuildContext {
        path_data: dir.to_path_buf(),
        ecs: Ecs::Disabled,
        ..BuildContext::default()
    }
}

const DAYS: [&str; 3] = [
    "2024-03-01T10:00:00Z",
    "2024-03-02T10:00:00Z",
    "2024-03-03T23:59:59.999Z",
];
const SERVICES: [&str; 2] = ["web", "db"];

fn event(i: usize) -> Event {
    let mut e = Event::from_message(format!("line {i} of the volume test"));
    e.set_timestamp(Timestamp::parse_iso8601(DAYS[i % 3]).unwrap());
    e.set(&FieldRef::top("service"), Value::from(SERVICES[i % 2]))
        .unwrap();
    e.set(&FieldRef::top("n"), Value::Integer(i as i64))
        .unwrap();
    // A deterministic id as the file and docker inputs set it: a request that timed out
    // after the server indexed it is re-sent without creating a duplicate.
    e.set(
        &FieldRef::parse("[@metadata][_id]").unwrap(),
        Value::from(format!("vol:{i}")),
    )
    .unwrap();
    e
}

/// Sends `events` in pipeline-sized batches from `workers` concurrent senders.
async fn pump(out: Arc<ElasticsearchOutput>, events: Vec<Event>, batch: usize, workers: usize) {
    let batches: Vec<Vec<Event>> = {
        let mut v = Vec::new();
        let mut it = events.into_iter().peekable();
        while it.peek().is_some() {
            v.push(it.by_ref().take(batch).collect());
        }
        v
    };
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (q, o) = (queue.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = q.lock().unwrap().pop();
                match b {
                    Some(b) => o.send(b).await,
                    None => return,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_exact_count_and_index_names() {
    // Its own node: 100,000 documents would slow the other tests' shared node down.
    let Some(server) = Server::start() else {
        return;
    };
    let total: usize = std::env::var("ES_VOLUME_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    )
    .with("hosts", hosts(&[&server.url]))
    .with("retry_initial_interval", Value::Float(0.1))
    .with("index", Value::from("logstash-%{service}-%{+yyyy.MM.dd}"));
    let out = Arc::new(build_output(&args, &ctx(dir.path())).unwrap());
    let acks = Arc::new(AckCounter::default());
    let events: Vec<Event> = (0..total)
        .map(|i| with_ack(event(i), &acks, i as u64))
        .collect();
    let started = Instant::now();
    pump(out.clone(), events, 125, 2).await;
    let took = started.elapsed();
    eprintln!(
        "elasticsearch output volume: {total} events in {:.1} s ({:.0} events/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );

    assert_eq!(acks.delivered.load(Ordering::Relaxed), total as u64);
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
    assert_eq!(server.count("logstash-*").await, total as u64);
    for (d, day) in ["2024.03.01", "2024.03.02", "2024.03.03"]
        .iter()
        .enumerate()
    {
        for (s, svc) in SERVICES.iter().enumerate() {
            let expected = (0..total).filter(|i| i % 3 == d && i % 2 == s).count() as u64;
            assert_eq!(
                server.count(&format!("logstash-{svc}-{day}")).await,
                expected,
                "logstash-{svc}-{day}"
            );
        }
    }
    // manage_template installed the default template for the index pattern.
    let t = server.get_json("_index_template/logstash").await;
    assert_eq!(
        t["index_templates"][0]["index_template"]["index_patterns"][0], "logstash-*",
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_host_at_startup_is_retried_until_it_comes_up() {
    // Check for the server before anything else.
    if !Server::check() {
        return;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let context = ctx(dir.path());
    let args = fast_retries(Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    ))
    .with("hosts", hosts(&[&url]))
    .with("index", Value::from("late"))
    .with("manage_template", Value::Bool(false));
    // Not fatal: building does no I/O.
    let out = Arc::new(build_output(&args, &context).unwrap());
    let acks = Arc::new(AckCounter::default());
    let events: Vec<Event> = (0..10)
        .map(|i| with_ack(event(i), &acks, i as u64))
        .collect();
    let o = out.clone();
    let sending = tokio::spawn(async move { o.send(events).await });
    // The host is reported down while the batch waits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while context.health.snapshot()[0].2 {
        assert!(Instant::now() < deadline, "host never reported down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !sending.is_finished(),
        "send returned while the host was down"
    );
    assert_eq!(acks.delivered.load(Ordering::Relaxed), 0);
    let server = Server::start_at_port(port).expect("a server on the reserved port");
    tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("send finished after the host came up")
        .unwrap();
    assert_eq!(server.count("late").await, 10);
    assert_eq!(acks.delivered.load(Ordering::Relaxed), 10);
    assert!(context.health.snapshot()[0].2, "host reported up again");
    assert!(out.stats.request_failures.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_host_is_skipped_round_robin() {
    let Some(server) = Server::shared() else {
        return;
    };
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let context = ctx(dir.path());
    let args = fast_retries(Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    ))
    .with("hosts", hosts(&[&dead, &server.url]))
    .with("index", Value::from("rr"))
    .with("manage_template", Value::Bool(false));
    let out = Arc::new(build_output(&args, &context).unwrap());
    let started = Instant::now();
    pump(out.clone(), (0..2000).map(event).collect(), 100, 1).await;
    assert_eq!(server.count("rr").await, 2000);
    // The dead host cost one failed request, not one per batch.
    assert_eq!(out.stats.request_failures.load(Ordering::Relaxed), 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let h = context.health.snapshot();
    assert!(!h[0].2 && h[1].2, "{h:?}");
}
