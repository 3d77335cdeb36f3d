//! Events per second through the ruby filter on the embedded CRuby:
//! `code => "event.set('x', event.get('a').to_i * 2)"`.
//!
//! - `ruby/one_worker`: one caller thread, `Filter::apply` per event (each call hands the
//!   event to the Ruby thread and waits for it);
//! - `ruby/four_workers`: four caller threads at once on the same filter, as `-w 4`
//!   (Ruby still runs on one thread: this measures how the hand-off scales);
//! - `ruby/noop_code`: `code => ""`, the hand-off and wrapping alone.
//!
//! Each bench checks the filter's answer before timing it. `cargo bench --bench ruby`
//! (needs Ruby: scripts/setup/ruby.sh).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::filters::ruby;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_pipeline::registry::Kind;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CODE: &str = "event.set('x', event.get('a').to_i * 2)";

fn filter(code: &str) -> Arc<dyn Filter> {
    let args = Args::for_plugin(Kind::Filter, ruby::OPTIONS).with("code", code.into());
    Arc::from(ruby::build(&args, &BuildContext::default()).expect("ruby filter builds"))
}

fn event() -> Event {
    let mut e = Event::from_message("GET /index.html 200 1234");
    e.set(&FieldRef::top("a"), Value::from("21")).expect("set");
    e
}

fn check(f: &dyn Filter) {
    let mut e = event();
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Success
    );
    assert_eq!(e.get(&FieldRef::top("x")), Some(&Value::Integer(42)));
}

/// `iters` events through `f` from `threads` threads at once; returns the wall time.
fn parallel(f: &Arc<dyn Filter>, threads: u64, iters: u64) -> Duration {
    let per = iters.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let f = f.clone();
            s.spawn(move || {
                let mut ctx = FilterContext::default();
                let template = event();
                for _ in 0..per {
                    let mut e = template.clone();
                    black_box(f.apply(&mut e, &mut ctx));
                }
            });
        }
    });
    start.elapsed()
}

fn benches(c: &mut Criterion) {
    let f = filter(CODE);
    check(f.as_ref());
    let noop = filter("");
    let mut g = c.benchmark_group("ruby");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_worker", |b| {
        let mut ctx = FilterContext::default();
        let template = event();
        b.iter(|| {
            let mut e = template.clone();
            black_box(f.apply(&mut e, &mut ctx));
            e
        })
    });
    g.bench_function("noop_code", |b| {
        let mut ctx = FilterContext::default();
        let template = event();
        b.iter(|| {
            let mut e = template.clone();
            black_box(noop.apply(&mut e, &mut ctx));
            e
        })
    });
    g.bench_function("four_workers", |b| {
        b.iter_custom(|iters| parallel(&f, 4, iters))
    });
    g.finish();
    // Not under `cargo test --benches`, which runs each bench once as a smoke test.
    if std::env::args().any(|a| a == "--bench") {
        for threads in [1, 4] {
            cpu_report(&f, threads);
        }
    }
}

/// The process's CPU time (user + system, every thread: the callers and Ruby's), from
/// /proc/self/stat in clock ticks (100 per second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of the file; 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Events per wall second and CPU per event, for the per-core figure in BENCHMARKS.md.
fn cpu_report(f: &Arc<dyn Filter>, threads: u64) {
    let n = 1_000_000;
    let cpu0 = cpu_seconds();
    let wall = parallel(f, threads, n);
    let cpu = cpu_seconds() - cpu0;
    println!(
        "ruby/cpu {threads} worker(s): {n} events in {:.2} s = {:.0} events/s; CPU {:.2} s = {:.2} µs/event = {:.0} events per CPU-second",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        cpu,
        cpu * 1e6 / n as f64,
        n as f64 / cpu.max(1e-9)
    );
}

criterion_group! {
    name = ruby_benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(ruby_benches);
