//! geoip and useragent throughput, cached and uncached, on committed inputs; each bench
//! checks answers before timing. geoip needs the GeoLite2 files from
//! `scripts/setup/geoip.sh` (it panics, saying so, without them).
//!
//! `cargo bench --bench enrich`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Map, Value};
use logstash_mesos_pipeline::filters;
use logstash_mesos_pipeline::options::{Args, OptSpec};
use logstash_mesos_pipeline::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_pipeline::registry::Kind;
use std::hint::black_box;

fn args(schema: &'static [OptSpec], pairs: &[(&str, Value)]) -> Args {
    pairs
        .iter()
        .fold(Args::for_plugin(Kind::Filter, schema), |a, (k, v)| {
            a.with(k, v.clone())
        })
}

fn event(field: &str, v: &str) -> Event {
    let mut m = Map::new();
    m.insert(field, Value::from(v));
    Event::from_map(m)
}

/// Runs every input through `f` per iteration; throughput is events.
fn bench_batch(c: &mut Criterion, name: &str, f: &dyn Filter, inputs: &[Event]) {
    let mut g = c.benchmark_group("enrich");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function(name, |b| {
        let mut ctx = FilterContext::default();
        // The filter's own cost: fresh copies of the inputs are made (and dropped) outside
        // the timed part, as events reach a filter already built.
        b.iter_batched_ref(
            || inputs.to_vec(),
            |batch| {
                for e in batch.iter_mut() {
                    black_box(f.apply(e, &mut ctx));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn geoip_db(var: &str) -> String {
    if let Ok(p) = std::env::var(var) {
        return p;
    }
    let dir = std::env::var("LSM_ENV_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.cache/logstash-mesos/env",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    std::fs::read_to_string(format!("{dir}/geoip.env"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(&format!("{var}=")).map(String::from))
        })
        .expect("GeoLite2 databases missing: run scripts/setup/geoip.sh")
}

/// Public unicast addresses spread over the IPv4 space (deterministic).
fn addresses(n: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let a = rng.u8(1..224);
        if matches!(a, 10 | 127 | 172 | 192 | 100 | 169) {
            continue;
        }
        out.push(format!(
            "{a}.{}.{}.{}",
            rng.u8(..),
            rng.u8(..),
            rng.u8(1..255)
        ));
    }
    out
}

fn geoip(c: &mut Criterion) {
    let ctx = BuildContext::default();
    let city = geoip_db("GEOIP_CITY_DB");
    let build = |cache: i64| {
        filters::geoip::build(
            &args(
                filters::geoip::OPTIONS,
                &[
                    ("source", Value::from("[source][ip]")),
                    ("database", Value::from(city.as_str())),
                    ("cache_size", Value::Integer(cache)),
                ],
            ),
            &ctx,
        )
        .expect("geoip")
    };
    let cached = build(1000);
    let mut e = event("x", "");
    e.set(
        &FieldRef::parse("[source][ip]").expect("ref"),
        Value::from("8.8.8.8"),
    )
    .expect("set");
    let mut check = e.clone();
    assert_eq!(
        cached.apply(&mut check, &mut FilterContext::default()),
        Outcome::Success
    );
    assert_eq!(
        check
            .get(&FieldRef::parse("[source][geo][country_iso_code]").expect("ref"))
            .and_then(Value::as_str),
        Some("US")
    );
    let mk = |ips: &[String]| -> Vec<Event> {
        ips.iter()
            .map(|ip| {
                let mut e = Event::new();
                e.set(
                    &FieldRef::parse("[source][ip]").expect("ref"),
                    Value::from(ip.as_str()),
                )
                .expect("set");
                e
            })
            .collect()
    };
    // Cached: 500 distinct addresses (a busy site's working set) in a 1000-entry cache.
    let hot = mk(&addresses(500));
    let found = hot
        .iter()
        .filter(|e| {
            let mut e = (*e).clone();
            cached.apply(&mut e, &mut FilterContext::default()) == Outcome::Success
        })
        .count();
    assert!(found > 400, "only {found} of 500 addresses found");
    bench_batch(c, "geoip_city_cached", &*cached, &hot);
    // Uncached: 10,000 distinct addresses, no cache.
    let uncached = build(0);
    let cold = mk(&addresses(10_000));
    bench_batch(c, "geoip_city_uncached", &*uncached, &cold);
}

fn user_agents() -> Vec<(usize, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/bench/user_agents.txt"
    );
    std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(w, ua)| (w.parse().expect("weight"), ua.to_string()))
        .collect()
}

fn useragent(c: &mut Criterion) {
    let ctx = BuildContext::default();
    let corpus = user_agents();
    // The mix: each user agent as often as its weight, with a unique build tail on one
    // in 50 events (those always miss the cache, as long-tail agents do).
    let mut mix = Vec::new();
    let mut rng = fastrand::Rng::with_seed(3);
    for round in 0..40 {
        for (w, ua) in &corpus {
            for i in 0..*w {
                if rng.usize(..50) == 0 {
                    mix.push(event(
                        "ua",
                        &format!("{ua} build/{round}.{i}.{}", rng.u32(..)),
                    ));
                } else {
                    mix.push(event("ua", ua));
                }
            }
        }
    }
    rng.shuffle(&mut mix);
    let f = filters::useragent::build(
        &args(
            filters::useragent::OPTIONS,
            &[("source", Value::from("ua"))],
        ),
        &ctx,
    )
    .expect("useragent");
    let mut e = event("ua", &corpus[0].1);
    assert_eq!(
        f.apply(&mut e, &mut FilterContext::default()),
        Outcome::Success
    );
    assert_eq!(
        e.get(&FieldRef::parse("[user_agent][name]").expect("ref"))
            .and_then(Value::as_str),
        Some("Chrome")
    );
    assert_eq!(
        e.get(&FieldRef::parse("[user_agent][os][name]").expect("ref"))
            .and_then(Value::as_str),
        Some("Windows")
    );
    bench_batch(c, "useragent_mix_cached", &*f, &mix);
    let nocache = filters::useragent::build(
        &args(
            filters::useragent::OPTIONS,
            &[
                ("source", Value::from("ua")),
                ("lru_cache_size", Value::Integer(0)),
            ],
        ),
        &ctx,
    )
    .expect("useragent");
    let distinct: Vec<Event> = corpus.iter().map(|(_, ua)| event("ua", ua)).collect();
    bench_batch(c, "useragent_uncached", &*nocache, &distinct);
}

criterion_group! {
    name = enrich_benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = geoip, useragent
}
criterion_main!(enrich_benches);
