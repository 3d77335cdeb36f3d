//! Parses a large realistic config: the committed `testdata/bench/large.conf` with its
//! filter section repeated until it holds several hundred plugins.
//!
//! `cargo bench --bench parse`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_pipeline::lang::ast::{Stmt, ValueKind};
use logstash_mesos_pipeline::lang::{check_syntax, parse, ParseOptions, Sources};
use std::hint::black_box;

const SAMPLE: &str = include_str!("../testdata/bench/large.conf");
const COPIES: usize = 40;

/// The sample with its filter section repeated `COPIES` times (as separate sections,
/// which Logstash concatenates).
fn large_config() -> String {
    let start = SAMPLE
        .find("\nfilter {")
        .expect("sample has a filter section");
    let end = SAMPLE
        .find("\noutput {")
        .expect("sample has an output section");
    let filter = &SAMPLE[start..end];
    let mut text = String::with_capacity(SAMPLE.len() * COPIES);
    text.push_str(&SAMPLE[..start]);
    for _ in 0..COPIES {
        text.push_str(filter);
    }
    text.push_str(&SAMPLE[end..]);
    text
}

fn count_plugins(body: &[Stmt]) -> usize {
    body.iter()
        .map(|s| match s {
            Stmt::Plugin(p) => {
                1 + p
                    .attributes
                    .iter()
                    .filter(|a| matches!(a.value.kind, ValueKind::Plugin(_)))
                    .count()
            }
            Stmt::If(chain) => {
                chain
                    .branches
                    .iter()
                    .map(|b| count_plugins(&b.body))
                    .sum::<usize>()
                    + chain.else_body.as_deref().map(count_plugins).unwrap_or(0)
            }
        })
        .sum()
}

fn bench_parse(c: &mut Criterion) {
    let text = large_config();
    let sources = Sources::from_string("large.conf", &text);
    let opts = ParseOptions::with_env(|_| None);
    // Check the answer once: 11 plugins per filter copy, 3 (+1 codec) in input, 2 in output.
    let config = parse(&sources, &opts).expect("the bench config parses");
    let plugins: usize = config.sections.iter().map(|s| count_plugins(&s.body)).sum();
    assert_eq!(
        plugins,
        11 * COPIES + 3 + 2,
        "plugin count of the generated config"
    );
    assert!(check_syntax(&config).is_empty());

    let mut group = c.benchmark_group("config");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| parse(black_box(&sources), &opts).map(|c| c.sections.len()))
    });
    group.bench_function("parse+check_syntax", |b| {
        b.iter(|| parse(black_box(&sources), &opts).map(|c| check_syntax(&c).len()))
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
