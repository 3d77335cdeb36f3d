//! The kafka input and output against a real Apache Kafka 4 broker (KRaft, loopback):
//! exact counts through our output and input, commits only after delivery, a broker
//! restart in the middle, and a consumer group rebalance over a 4-partition topic.
//! Each test starts its own broker (scripts/setup/kafka.sh installs the jars); with
//! `CI=true` a missing broker fails the test.

mod kafka_support;

use kafka_support::*;
use logstash_mesos_core::{FieldRef, Value};
use logstash_mesos_pipeline::plugin::Output;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn input_args(
    bootstrap: &str,
    topic: &str,
    group: &str,
    extra: &[(&str, Value)],
) -> logstash_mesos_pipeline::options::Args {
    let mut pairs: Vec<(&str, Value)> = vec![
        ("bootstrap_servers", Value::from(bootstrap)),
        ("topics", Value::Array(vec![Value::from(topic)])),
        ("group_id", Value::from(group)),
        ("auto_offset_reset", Value::from("earliest")),
    ];
    pairs.extend(extra.iter().cloned());
    with_codec(
        args(logstash_mesos_pipeline::inputs::kafka::OPTIONS, &pairs),
        "json",
    )
}

fn meta(e: &logstash_mesos_core::Event, k: &str) -> Option<Value> {
    e.get(&FieldRef::from_path(["@metadata", "kafka", k]))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_exact_counts_with_metadata() {
    let _serial = serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    let bs = broker.bootstrap();
    create_topic(&bs, "rt", 3).await;
    let mut headers = logstash_mesos_core::Map::default();
    headers.insert("source", Value::from("test-%{seq}"));
    let out = output(&[
        ("bootstrap_servers", Value::from(bs.as_str())),
        ("topic_id", Value::from("%{kind}")),
        ("message_key", Value::from("%{seq}")),
        ("message_headers", Value::Object(Box::new(headers))),
        ("compression_type", Value::from("zstd")),
        ("acks", Value::from("all")),
    ]);
    const N: u64 = 3000;
    let mut batch = events(0, N);
    for e in &mut batch {
        e.set(&FieldRef::top("kind"), Value::from("rt")).unwrap();
    }
    for chunk in batch.chunks(500) {
        out.send(chunk.to_vec()).await;
    }
    assert_eq!(out.stats.delivered.load(Ordering::Relaxed), N);
    let stored = read_topic(&bs, "rt");
    assert_eq!(
        stored.len() as u64,
        N,
        "the topic holds exactly what was sent"
    );
    assert_eq!(tally(stored.iter().map(|p| seq_of(p))), (N as usize, 0));

    let mut input = start_input(&input_args(
        &bs,
        "rt",
        "g-rt",
        &[
            ("decorate_events", Value::from("extended")),
            ("consumer_threads", Value::from(2)),
        ],
    ));
    let got = input.take(N as usize, Duration::from_secs(30)).await;
    let first = &got[0];
    let seq = seq_field(first);
    assert_eq!(meta(first, "topic"), Some(Value::from("rt")));
    assert_eq!(meta(first, "consumer_group"), Some(Value::from("g-rt")));
    assert_eq!(meta(first, "key"), Some(Value::from(seq.to_string())));
    assert!(matches!(meta(first, "partition"), Some(Value::Integer(p)) if (0..3).contains(&p)));
    assert!(matches!(meta(first, "offset"), Some(Value::Integer(o)) if o >= 0));
    assert!(matches!(meta(first, "timestamp"), Some(Value::Integer(t)) if t > 1_600_000_000_000));
    assert_eq!(
        first.get(&FieldRef::from_path([
            "@metadata",
            "kafka",
            "headers",
            "source"
        ])),
        Some(&Value::from(format!("test-{seq}")))
    );
    assert!(first.metadata().contains_key("_id"));
    let ids: std::collections::HashSet<String> = got
        .iter()
        .map(|e| e.metadata().get("_id").unwrap().to_logstash_string())
        .collect();
    assert_eq!(ids.len() as u64, N, "document ids are distinct per record");
    let seqs: Vec<u64> = got.iter().map(seq_field).collect();
    drop(got); // delivered: offsets may be committed
    assert_eq!(tally(seqs), (N as usize, 0));
    input.stop().await;

    // Everything was delivered and committed: the group has nothing left to read.
    let mut again = start_input(&input_args(&bs, "rt", "g-rt", &[]));
    let more = again.take(1, Duration::from_secs(8)).await;
    assert!(more.is_empty(), "re-read {} committed events", more.len());
    again.stop().await;
    out.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_only_past_delivered_events() {
    let _serial = serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    let bs = broker.bootstrap();
    create_topic(&bs, "ud", 1).await;
    let out = output(&[
        ("bootstrap_servers", Value::from(bs.as_str())),
        ("topic_id", Value::from("ud")),
    ]);
    produce(&out, 0, 100, 100).await;
    for auto_commit in [false, true] {
        let group = format!("g-ud-{auto_commit}");
        let extra = [
            ("enable_auto_commit", Value::Bool(auto_commit)),
            ("auto_commit_interval_ms", Value::from(100)),
        ];
        let mut input = start_input(&input_args(&bs, "ud", &group, &extra));
        let mut got = input.take(100, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 100);
        let undelivered = got.split_off(50);
        for e in &undelivered {
            e.fail_acks(); // an output gave up on these
        }
        drop(undelivered);
        drop(got); // 0..50 delivered
        input.stop().await;

        let mut again = start_input(&input_args(&bs, "ud", &group, &extra));
        let seqs: Vec<u64> = again
            .take(100, Duration::from_secs(8))
            .await
            .iter()
            .map(seq_field)
            .collect();
        again.stop().await;
        assert_eq!(
            seqs,
            (50..100).collect::<Vec<_>>(),
            "auto_commit={auto_commit}: exactly the undelivered events come back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing() {
    let _serial = serial();
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let bs = broker.bootstrap();
    create_topic(&bs, "br", 2).await;
    const N: u64 = 4000;
    let out = Arc::new(output(&[
        ("bootstrap_servers", Value::from(bs.as_str())),
        ("topic_id", Value::from("br")),
        ("message_key", Value::from("%{seq}")),
        ("retry_backoff_ms", Value::from(200)),
        ("acks", Value::from("all")), // idempotent: the restart duplicates nothing
    ]));
    let mut input = start_input(&input_args(
        &bs,
        "br",
        "g-br",
        &[("enable_auto_commit", Value::Bool(false))],
    ));
    // The consumer runs throughout; it collects seqs and delivers at once.
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let collector = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(150);
            while Instant::now() < deadline {
                let got = input.take(500, Duration::from_millis(500)).await;
                let mut s = seen.lock().unwrap();
                s.extend(got.iter().map(seq_field));
                if tally(s.iter().copied()).0 as u64 == N {
                    break;
                }
            }
            input
        })
    };
    produce(&*out, 0, N / 2, 250).await;
    // Stop the broker mid-stream (the producer's connections are live from the first
    // half), then produce the second half: the output holds its batches and retries until
    // the broker is back. Stopping first keeps the test independent of how fast the
    // second half would otherwise be delivered.
    broker.stop();
    let producer = {
        let out = out.clone();
        tokio::spawn(async move { produce(&*out, N / 2, N, 250).await })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !producer.is_finished(),
        "the output returned while the broker was down"
    );
    broker.restart();
    tokio::time::timeout(Duration::from_secs(120), producer)
        .await
        .expect("output did not finish after the broker came back")
        .unwrap();
    assert_eq!(out.stats.delivered.load(Ordering::Relaxed), N);
    let input = collector.await.unwrap();
    input.stop().await;
    let seqs = seen.lock().unwrap().clone();
    let (distinct, dups) = tally(seqs);
    let stored = read_topic(&bs, "br");
    let (stored_distinct, stored_dups) = tally(stored.iter().map(|p| seq_of(p)));
    eprintln!("broker restart: consumed {distinct} distinct, {dups} duplicates; topic holds {stored_distinct} distinct, {stored_dups} duplicates");
    assert_eq!(
        stored.len() as u64,
        N,
        "the topic holds exactly what was sent"
    );
    assert_eq!(stored_distinct as u64, N, "every event reached Kafka");
    assert_eq!(stored_dups, 0);
    assert_eq!(distinct as u64, N, "every event was consumed");
    // At-least-once on the consumer side: if the restart cost the consumer its group
    // membership, it re-reads what it had not committed (at most the queue's 1,000 events
    // plus one poll's 500).
    assert!(dups <= 1500, "{dups} duplicates consumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_four_partitions_through_a_rebalance() {
    let _serial = serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    let bs = broker.bootstrap();
    create_topic(&bs, "rb", 4).await;
    const N: u64 = 4000;
    let out = output(&[
        ("bootstrap_servers", Value::from(bs.as_str())),
        ("topic_id", Value::from("rb")),
        ("message_key", Value::from("%{seq}")),
    ]);
    produce(&out, 0, N / 2, 500).await;
    let extra = [("max_poll_records", Value::from(50))];
    let mut a = start_input(&input_args(&bs, "rb", "g-rb", &extra));
    let mut seqs_a: Vec<u64> = a
        .take(500, Duration::from_secs(30))
        .await
        .iter()
        .map(seq_field)
        .collect();
    assert_eq!(seqs_a.len(), 500);
    // The second instance joins: the group rebalances while A is mid-stream.
    let mut b = start_input(&input_args(&bs, "rb", "g-rb", &extra));
    let mut seqs_b: Vec<u64> = Vec::new();
    let mut produced_rest = false;
    let deadline = Instant::now() + Duration::from_secs(90);
    while tally(seqs_a.iter().chain(&seqs_b).copied()).0 < N as usize {
        assert!(
            Instant::now() < deadline,
            "timed out: {} of {N}",
            tally(seqs_a.iter().chain(&seqs_b).copied()).0
        );
        tokio::select! {
            Some(e) = a.rx.recv() => seqs_a.push(seq_field(&e)),
            Some(e) = b.rx.recv() => seqs_b.push(seq_field(&e)),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if !produced_rest && !seqs_b.is_empty() {
            // B owns partitions now: the second half is spread over both instances.
            produce(&out, N / 2, N, 500).await;
            produced_rest = true;
        }
        if !produced_rest && Instant::now() + Duration::from_secs(75) > deadline {
            // B got nothing of the first half (A read it all before the rebalance).
            produce(&out, N / 2, N, 500).await;
            produced_rest = true;
        }
    }
    // Let stragglers (re-deliveries) arrive before counting.
    let tail_a = a.take(usize::MAX, Duration::from_secs(2)).await;
    seqs_a.extend(tail_a.iter().map(seq_field));
    let tail_b = b.take(usize::MAX, Duration::from_secs(1)).await;
    seqs_b.extend(tail_b.iter().map(seq_field));
    drop((tail_a, tail_b));
    a.stop().await;
    b.stop().await;
    let (distinct, dups) = tally(seqs_a.iter().chain(&seqs_b).copied());
    eprintln!(
        "rebalance: A {} events, B {} events, {distinct} distinct, {dups} duplicates",
        seqs_a.len(),
        seqs_b.len()
    );
    assert_eq!(distinct as u64, N, "no event lost");
    assert!(!seqs_b.is_empty(), "the second instance got partitions");
    // A let its in-flight events finish before handing partitions over: nothing
    // delivered was read twice.
    assert_eq!(dups, 0, "duplicates after a clean rebalance");
}
