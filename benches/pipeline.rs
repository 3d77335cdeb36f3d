//! Pipeline throughput: generator → null through the whole runner, json_lines bytes
//! decoded → pipeline → json_lines bytes encoded (what `stdin { codec => json_lines }` →
//! `stdout { codec => json_lines }` does, minus the pipes), and the same generator → null
//! through a chain of one, two and three pipelines joined by the `pipeline` output and
//! input (the cost of a hop), and generator → null with the memory queue against the
//! persisted one (pages on disk: the cost of `queue.type: persisted`, in events and MiB/s).

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::Event;
use logstash_mesos_pipeline::graph::{CompiledInput, CompiledOutput, CompiledPipeline, Route};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::lang::compile::compile;
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Codec, Input, Output};
use logstash_mesos_pipeline::registry::{Kind, Registry};
use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const EVENTS: usize = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn generator_to_null(c: &mut Criterion) {
    let rt = runtime();
    let text = format!("input {{ generator {{ count => {EVENTS} message => \"127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] \\\"GET /xampp/status.php HTTP/1.1\\\" 200 3891\" }} }} output {{ null {{}} }}");
    let sources = Sources::from_string("bench.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).expect("valid config");
    let ctx = BuildContext {
        workers: 1,
        ..BuildContext::default()
    };
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    g.bench_function("generator_to_null", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = compile(&ast, &Registry::builtin(), &ctx).expect("compiles");
                let running = RunningPipeline::start(
                    p,
                    &ctx,
                    &RunSettings {
                        workers: 1,
                        batch_size: 125,
                        ..RunSettings::default()
                    },
                )
                .expect("pipeline starts");
                let stats = running.stats.clone();
                running.wait().await;
                assert_eq!(stats.events_out.load(Ordering::Relaxed), EVENTS as u64);
            })
        })
    });
    g.finish();
}

/// Decodes a json_lines buffer with the real codec.
struct MemoryInput {
    data: Arc<Vec<u8>>,
    codec: Box<dyn Codec>,
}
impl Input for MemoryInput {
    fn run(mut self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let mut events = Vec::with_capacity(1024);
            for chunk in self.data.chunks(64 * 1024) {
                self.codec.decode(chunk, &mut events);
                for e in events.drain(..) {
                    ctx.emit(e).await?;
                }
            }
            self.codec.flush(&mut events);
            for e in events.drain(..) {
                ctx.emit(e).await?;
            }
            Ok(())
        })
    }
}

/// Encodes with the real json_lines codec into memory.
struct MemoryOutput {
    codec: Mutex<Box<dyn Codec>>,
    bytes: AtomicUsize,
}
impl Output for MemoryOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut buf = Vec::with_capacity(batch.len() * 200);
            let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
            for e in &batch {
                codec.encode(e, &mut buf);
            }
            self.bytes.fetch_add(buf.len(), Ordering::Relaxed);
        })
    }
}

fn json_lines_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let mut data = Vec::new();
    for i in 0..EVENTS {
        data.extend_from_slice(
            format!("{{\"message\":\"GET /index.html {i}\",\"@timestamp\":\"2013-12-11T08:01:45.000Z\",\"status\":200,\"host\":{{\"name\":\"web-{}\"}}}}\n", i % 7)
                .as_bytes(),
        );
    }
    let data = Arc::new(data);
    let ctx = BuildContext {
        workers: 1,
        ..BuildContext::default()
    };
    let codec_args = logstash_mesos_pipeline::options::Args::for_plugin(
        Kind::Codec,
        logstash_mesos_pipeline::codecs::json_lines::OPTIONS,
    );
    let codec = (Registry::builtin()
        .codec("json_lines")
        .expect("registered")
        .build)(&codec_args, &ctx)
    .expect("codec");
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    g.bench_function("json_lines_in_json_lines_out", |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = Arc::new(MemoryOutput {
                    codec: Mutex::new(codec.clone_box()),
                    bytes: AtomicUsize::new(0),
                });
                let p = CompiledPipeline {
                    inputs: vec![CompiledInput {
                        name: "memory".into(),
                        id: "memory".into(),
                        input: Box::new(MemoryInput {
                            data: data.clone(),
                            codec: codec.clone_box(),
                        }),
                        decorator: Default::default(),
                    }],
                    filters: vec![],
                    outputs: vec![CompiledOutput {
                        name: "memory".into(),
                        id: "memory".into(),
                        output: out.clone(),
                    }],
                    routes: vec![Route::Output(0)],
                };
                let running = RunningPipeline::start(
                    p,
                    &ctx,
                    &RunSettings {
                        workers: 1,
                        batch_size: 125,
                        ..RunSettings::default()
                    },
                )
                .expect("pipeline starts");
                let stats = running.stats.clone();
                running.wait().await;
                assert_eq!(stats.events_out.load(Ordering::Relaxed), EVENTS as u64);
                assert!(out.bytes.load(Ordering::Relaxed) > data.len() / 2);
            })
        })
    });
    g.finish();
}

/// generator → `hops` pipeline-to-pipeline hops → null; every pipeline one worker.
fn pipeline_hops(c: &mut Criterion) {
    let rt = runtime();
    let message = "127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] \\\"GET /xampp/status.php HTTP/1.1\\\" 200 3891";
    let mut g = c.benchmark_group("pipeline_hops");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    for hops in [0usize, 1, 2] {
        // Pipeline 0 generates; pipeline i > 0 listens on "hop<i>"; the last one discards.
        let texts: Vec<String> = (0..=hops)
            .map(|i| {
                let input = if i == 0 {
                    format!("generator {{ count => {EVENTS} message => \"{message}\" }}")
                } else {
                    format!("pipeline {{ address => \"hop{i}\" }}")
                };
                let output = if i == hops {
                    "null {}".to_string()
                } else {
                    format!("pipeline {{ send_to => [\"hop{}\"] }}", i + 1)
                };
                format!("input {{ {input} }} output {{ {output} }}")
            })
            .collect();
        let asts: Vec<_> = texts
            .iter()
            .map(|t| {
                parse(
                    &Sources::from_string("bench.conf", t),
                    &ParseOptions::default(),
                )
                .expect("valid config")
            })
            .collect();
        g.bench_function(format!("{hops}_hops"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let bus = logstash_mesos_pipeline::bus::PipelineBus::default();
                    let settings = RunSettings {
                        workers: 1,
                        batch_size: 125,
                        ..RunSettings::default()
                    };
                    // Downstream first, so every address is listened on before events flow.
                    let mut running = Vec::new();
                    for (i, ast) in asts.iter().enumerate().rev() {
                        let ctx = BuildContext {
                            workers: 1,
                            pipeline_id: format!("p{i}"),
                            bus: bus.clone(),
                            ..BuildContext::default()
                        };
                        let p = compile(ast, &Registry::builtin(), &ctx).expect("compiles");
                        running.push(
                            RunningPipeline::start(p, &ctx, &settings).expect("pipeline starts"),
                        );
                        if i > 0 {
                            while bus.lookup(&format!("hop{i}")).is_none() {
                                tokio::task::yield_now().await;
                            }
                        }
                    }
                    let last = running[0].stats.clone();
                    let first = running.pop().expect("the generating pipeline");
                    first.wait().await;
                    bus.begin_shutdown();
                    // The rest end upstream first: each input waits for its upstream.
                    for p in running.iter() {
                        p.shutdown();
                    }
                    while let Some(p) = running.pop() {
                        p.wait().await;
                    }
                    assert_eq!(last.events_out.load(Ordering::Relaxed), EVENTS as u64);
                })
            })
        });
    }
    g.finish();
}

/// generator → null, memory queue against persisted (page files in a temp dir, default
/// checkpoint settings). Throughput in bytes is the records' size on disk.
fn queue_cost(c: &mut Criterion) {
    use logstash_mesos_pipeline::queue::{QueueSettings, QueueType};
    let rt = runtime();
    let message = "127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] \\\"GET /xampp/status.php HTTP/1.1\\\" 200 3891";
    let text = format!("input {{ generator {{ count => {EVENTS} message => \"{message}\" }} }} output {{ null {{}} }}");
    let sources = Sources::from_string("bench.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).expect("valid config");
    let sample = {
        let mut e = Event::from_message(message.replace('\\', ""));
        e.set(
            &logstash_mesos_core::FieldRef::parse("[host][hostname]").expect("ref"),
            "bench-host".into(),
        )
        .expect("set");
        e.set(
            &logstash_mesos_core::FieldRef::parse("[event][sequence]").expect("ref"),
            logstash_mesos_core::Value::Integer(12345),
        )
        .expect("set");
        let mut b = Vec::new();
        logstash_mesos_pipeline::queue::record::encode(1, &e, &mut b);
        b.len() as u64
    };
    let mut g = c.benchmark_group("queue");
    g.sample_size(10);
    for (name, kind) in [
        ("memory", QueueType::Memory),
        ("persisted", QueueType::Persisted),
    ] {
        g.throughput(Throughput::Elements(EVENTS as u64));
        g.bench_function(format!("generator_to_null_{name}"), |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().expect("tempdir");
                let ctx = BuildContext {
                    workers: 1,
                    path_data: dir.path().to_path_buf(),
                    ..BuildContext::default()
                };
                rt.block_on(async {
                    let p = compile(&ast, &Registry::builtin(), &ctx).expect("compiles");
                    let running = RunningPipeline::start(
                        p,
                        &ctx,
                        &RunSettings {
                            workers: 1,
                            batch_size: 125,
                            queue: QueueSettings {
                                kind,
                                ..QueueSettings::default()
                            },
                            ..RunSettings::default()
                        },
                    )
                    .expect("pipeline starts");
                    let stats = running.stats.clone();
                    running.wait().await;
                    assert_eq!(stats.events_out.load(Ordering::Relaxed), EVENTS as u64);
                })
            })
        });
    }
    g.throughput(Throughput::Bytes(sample * EVENTS as u64));
    g.bench_function("persisted_write_bytes", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let ctx = BuildContext {
                workers: 1,
                path_data: dir.path().to_path_buf(),
                ..BuildContext::default()
            };
            rt.block_on(async {
                let p = compile(&ast, &Registry::builtin(), &ctx).expect("compiles");
                let running = RunningPipeline::start(
                    p,
                    &ctx,
                    &RunSettings {
                        workers: 1,
                        batch_size: 125,
                        queue: QueueSettings {
                            kind: QueueType::Persisted,
                            ..QueueSettings::default()
                        },
                        ..RunSettings::default()
                    },
                )
                .expect("pipeline starts");
                running.wait().await;
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    generator_to_null,
    json_lines_round_trip,
    pipeline_hops,
    queue_cost
);
criterion_main!(benches);
