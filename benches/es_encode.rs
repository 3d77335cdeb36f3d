//! Bulk encoding of the elasticsearch output: events → NDJSON bytes (and gzip), into an
//! in-process sink, on a committed corpus of docker-style log events
//! (`testdata/es/bench_events.ndjson`, 2,000 events with `[@metadata][_id]`).
//!
//! `cargo bench --bench es_encode`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::Template;
use logstash_mesos_core::{Event, Map};
use logstash_mesos_pipeline::outputs::elasticsearch::encode::{
    Action, ActionSpec, Encoder, TARGET_BULK_BYTES,
};
use std::hint::black_box;

const BATCH: usize = 125;

fn corpus() -> Vec<Event> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/es/bench_events.ndjson"
    );
    let text = std::fs::read_to_string(path).expect("bench corpus");
    text.lines()
        .map(|l| Event::from_map(serde_json::from_str::<Map>(l).expect("corpus line")))
        .collect()
}

fn encoder() -> Encoder {
    Encoder {
        index: Template::compile("logs-%{[container][name]}-%{+yyyy.MM.dd}"),
        document_id: None,
        action: ActionSpec::Fixed(Action::Index),
        routing: None,
        pipeline: None,
        doc_as_upsert: false,
        data_stream: None,
    }
}

/// Encodes every batch and hands the bodies to a sink; returns (items, bytes).
fn run(enc: &Encoder, batches: &[Vec<Event>], gzip: bool) -> (usize, usize) {
    let (mut items, mut bytes) = (0, 0);
    for b in batches {
        let out = enc.encode_batch(b, TARGET_BULK_BYTES);
        for c in out.chunks {
            items += c.items.len();
            let body = if gzip {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(c.bytes.len() / 4),
                    flate2::Compression::fast(),
                );
                std::io::Write::write_all(&mut e, &c.bytes).expect("gzip to memory");
                e.finish().expect("gzip to memory").len()
            } else {
                c.bytes.len()
            };
            bytes += black_box(body);
        }
    }
    (items, bytes)
}

fn bench(c: &mut Criterion) {
    let events = corpus();
    assert_eq!(events.len(), 2000);
    let batches: Vec<Vec<Event>> = events.chunks(BATCH).map(|c| c.to_vec()).collect();
    let enc = encoder();
    let (items, bytes) = run(&enc, &batches, false);
    // The answer is checked: every event became one item with its metadata id.
    assert_eq!(items, events.len());
    let sample = enc.encode_batch(&batches[0], TARGET_BULK_BYTES);
    let first = std::str::from_utf8(&sample.chunks[0].bytes).expect("utf-8");
    assert!(first.starts_with("{\"index\":{\"_index\":\"logs-shop-web-0-2024.03.01\",\"_id\":\"docker:0:stdout:0\"}}\n"), "{}", &first[..120]);

    let mut g = c.benchmark_group("es_encode");
    g.sample_size(20)
        .measurement_time(std::time::Duration::from_secs(4));
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("events", |b| {
        b.iter(|| assert_eq!(run(&enc, &batches, false).0, events.len()))
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("ndjson_bytes", |b| b.iter(|| run(&enc, &batches, false)));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("ndjson_gzip_input_bytes", |b| {
        b.iter(|| run(&enc, &batches, true))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
