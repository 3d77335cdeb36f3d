//! Grok throughput on a committed corpus of Apache combined-log lines
//! (`testdata/bench/apache.log`, made by `scripts/gen_apache_log.py`).
//!
//! `cargo bench --bench grok`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logstash_mesos_core::{Event, Value};
use logstash_mesos_pipeline::filters::grok::{build_with, GrokFilter};
use logstash_mesos_pipeline::grok::engine::{EngineKind, EnginePref};
use logstash_mesos_pipeline::grok::library::{PatternLibrary, PatternSet};
use logstash_mesos_pipeline::grok::matcher::Grok;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Filter, FilterContext, Outcome};

const CORPUS: &str = include_str!("../testdata/bench/apache.log");

fn filter(patterns: &[&str], pref: EnginePref) -> GrokFilter {
    let pats = Value::Array(patterns.iter().map(|p| Value::from(*p)).collect());
    let mut m = logstash_mesos_core::Map::default();
    m.insert("message", pats);
    let args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Filter,
        logstash_mesos_pipeline::filters::grok::OPTIONS,
    )
    .with("match", Value::from(m));
    match build_with(&args, &BuildContext::default(), pref) {
        Ok(f) => f,
        Err(e) => panic!("bench filter does not build: {e}"),
    }
}

fn run(c: &mut Criterion, name: &str, f: &GrokFilter) {
    let lines: Vec<&str> = CORPUS.lines().collect();
    for (field, pat, engine) in f.engines() {
        eprintln!("{name}: {field} {pat:?} runs on {}", engine.as_str());
    }
    // The answer is checked once: every line of the corpus matches.
    let mut ok = 0;
    for l in &lines {
        let mut e = Event::from_message(*l);
        if f.apply(&mut e, &mut FilterContext::default()) == Outcome::Success {
            ok += 1;
        }
    }
    assert_eq!(ok, lines.len(), "{name}: every corpus line must match");
    let mut g = c.benchmark_group("grok");
    g.throughput(Throughput::Elements(lines.len() as u64));
    // As a pipeline worker runs it: a batch of `pipeline.batch.size` (125) events the input
    // has just made goes through the filter, then on to the outputs. Only the filter is
    // timed; making and dropping the events is the input's and output's work.
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut ctx = FilterContext::default();
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                for chunk in lines.chunks(125) {
                    let mut events: Vec<Event> =
                        chunk.iter().map(|l| Event::from_message(*l)).collect();
                    let t = std::time::Instant::now();
                    for e in &mut events {
                        f.apply(e, &mut ctx);
                    }
                    spent += t.elapsed();
                    drop(std::hint::black_box(events));
                }
            }
            spent
        })
    });
    // All 5,000 events made first, then filtered: most of them have left the CPU caches
    // by the time the filter reaches them (a pessimistic figure, kept for comparison).
    g.bench_function(format!("{name}/cold-5000"), |b| {
        b.iter_batched(
            || {
                lines
                    .iter()
                    .map(|l| Event::from_message(*l))
                    .collect::<Vec<_>>()
            },
            |mut events| {
                let mut ctx = FilterContext::default();
                for e in &mut events {
                    f.apply(e, &mut ctx);
                }
                events
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The engine alone: the match and its capture spans, no event built. Shows how the
/// time of the filter splits between the regex engine and writing fields.
fn match_only(c: &mut Criterion, name: &str, pattern: &str, pref: EnginePref) {
    let lib = PatternLibrary::stock(PatternSet::EcsV1);
    let g = match Grok::compile(pattern, &lib, true, pref) {
        Ok(g) => g,
        Err(e) => panic!("bench pattern does not compile: {e}"),
    };
    let lines: Vec<&str> = CORPUS.lines().collect();
    let mut group = c.benchmark_group("grok-match-only");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                g.captures(l, |_, _, v| n += v.map_or(0, str::len));
            }
            n
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let combined = "%{COMBINEDAPACHELOG}";
    match_only(c, "combinedapachelog/auto", combined, EnginePref::Auto);
    run(
        c,
        "combinedapachelog/auto",
        &filter(&[combined], EnginePref::Auto),
    );
    run(
        c,
        "combinedapachelog/pcre2",
        &filter(&[combined], EnginePref::Only(EngineKind::Pcre2)),
    );
    run(
        c,
        "combinedapachelog/onig",
        &filter(&[combined], EnginePref::Only(EngineKind::Onig)),
    );
    let fall = [
        "%{SYSLOGLINE}",
        "%{HAPROXYHTTP}",
        "%{CATALINALOG}",
        "%{JAVASTACKTRACEPART}",
        "%{CISCOFW106001}",
        "%{RUBY_LOGGER}",
        "%{NAGIOSLOGLINE}",
        "%{POSTGRESQL}",
        "%{REDISLOG}",
        combined,
    ];
    run(c, "fallthrough10/auto", &filter(&fall, EnginePref::Auto));
}

criterion_group!(grok, benches);
criterion_main!(grok);
