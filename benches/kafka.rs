//! The kafka output and input on loopback against a real Apache Kafka 4 broker (one KRaft
//! node started here from the jars of `scripts/setup/kafka.sh`): 200,000 events of ~120
//! bytes (json codec) produced through our output in batches of 1,000 (acks => 1, then
//! acks => all with lz4), then consumed by our input (a fresh consumer group, 4
//! partitions, one consumer thread, then two) until every event arrived. Each run checks
//! its count. A plain timing harness rather than criterion: one run moves enough data to
//! be stable, and the broker's own warm-up would dominate criterion's short samples.
//!
//! `cargo bench --bench kafka`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../crates/pipeline/tests/kafka_support/mod.rs"]
mod kafka_support;

use kafka_support::*;
use logstash_mesos_core::Value;
use logstash_mesos_pipeline::plugin::Output;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const N: u64 = 200_000;
const BATCH: u64 = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(broker) = Broker::start_for_bench() else {
        return;
    };
    let bs = broker.bootstrap();
    create_topic(&bs, "bench", 4).await;
    create_topic(&bs, "bench-all", 4).await;
    // Events built before timing: the figure is the output's, not event construction's.
    let batches: Vec<Vec<logstash_mesos_core::Event>> = (0..N / BATCH)
        .map(|b| events(b * BATCH, (b + 1) * BATCH))
        .collect();
    for (topic, acks, compression) in [("bench", "1", "none"), ("bench-all", "all", "lz4")] {
        let out = output(&[
            ("bootstrap_servers", Value::from(bs.as_str())),
            ("topic_id", Value::from(topic)),
            ("acks", Value::from(acks)),
            ("compression_type", Value::from(compression)),
        ]);
        let start = Instant::now();
        for b in batches.iter() {
            out.send(b.clone()).await;
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(out.stats.delivered.load(Ordering::Relaxed), N);
        println!(
            "kafka produce acks={acks} compression={compression}: {N} events in {secs:.2} s = {:.0} events/s",
            N as f64 / secs
        );
        out.close().await;
    }
    for threads in [1, 2] {
        let group = format!("bench-{threads}");
        let a = with_codec(
            args(
                logstash_mesos_pipeline::inputs::kafka::OPTIONS,
                &[
                    ("bootstrap_servers", Value::from(bs.as_str())),
                    ("topics", Value::Array(vec![Value::from("bench")])),
                    ("group_id", Value::from(group.as_str())),
                    ("auto_offset_reset", Value::from("earliest")),
                    ("consumer_threads", Value::from(threads)),
                ],
            ),
            "json",
        );
        let mut input = start_input(&a);
        // Timing starts at the first event: group join is not throughput.
        let first = input.take(1, Duration::from_secs(60)).await;
        assert_eq!(first.len(), 1);
        drop(first);
        let start = Instant::now();
        let mut got = 1;
        while got < N {
            let n = input.take(10_000, Duration::from_secs(20)).await.len() as u64;
            assert!(n > 0, "consumer stalled at {got} of {N}");
            got += n;
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(got, N);
        println!(
            "kafka consume consumer_threads={threads}: {N} events in {secs:.2} s = {:.0} events/s",
            (N - 1) as f64 / secs
        );
        input.stop().await;
    }
}
