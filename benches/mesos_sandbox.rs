//! Lines per second the `mesos` input reads from one task's sandbox `stdout`, from the
//! host path and through the agent's `/files/read`, into the pipeline queue (events with
//! their `[mesos]` metadata and acknowledgements; the queue is drained by a counting
//! consumer that drops them, so checkpoints advance as in production).
//!
//! The agent API is the project's simulator (`crates/scheduler/tests/support/simulator/
//! agent_api.rs`) with a real sandbox on disk. Each iteration starts a fresh input (new
//! checkpoint directory) and times it until every line of the file arrived; the count is
//! checked, so a reader that drops lines cannot look fast.
//!
//! `cargo bench --bench mesos_sandbox`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../crates/scheduler/tests/support/simulator/agent_api.rs"]
#[allow(dead_code)]
mod agent_api;

use agent_api::{AgentSim, Logger, StreamWriter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_agent::mesos::{MesosConfig, MesosInput, OPTIONS};
use logstash_mesos_core::Value;
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::Input;
use logstash_mesos_pipeline::registry::Kind;
use std::path::Path;
use std::time::{Duration, Instant};

const LINES: usize = 100_000;
const FRAMEWORK: &str = "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-0001";

fn config(url: &str, mode: &str) -> MesosConfig {
    let args = [
        ("agent_url", Value::from(url)),
        ("read_mode", Value::from(mode)),
        ("poll_interval", Value::Float(0.05)),
        ("state_interval", Value::Float(0.2)),
        ("stderr", Value::Bool(false)),
    ]
    .into_iter()
    .fold(Args::for_plugin(Kind::Input, OPTIONS), |a, (k, v)| {
        a.with(k, v)
    });
    match MesosConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => panic!("mesos config: {e:?}"),
    }
}

/// Runs one input until `LINES` events arrived; returns the time it took.
async fn read_all(cfg: MesosConfig, data: &Path) -> Duration {
    let (mut ctx, mut rx): (InputContext, _) = InputContext::for_test(4096);
    ctx.build.path_data = data.to_path_buf();
    let status = std::sync::Arc::new(logstash_mesos_agent::status::Status::default());
    let input = Box::new(MesosInput::new(cfg).with_status(status));
    let shutdown = ctx.shutdown.clone();
    let start = Instant::now();
    let task = tokio::spawn(input.run(ctx));
    let mut got = 0usize;
    let deadline = start + Duration::from_secs(120);
    while got < LINES {
        assert!(
            Instant::now() < deadline,
            "only {got} of {LINES} lines in 120 s"
        );
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            got += 1;
        }
    }
    let took = start.elapsed();
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert_eq!(got, LINES);
    took
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let work = std::fs::canonicalize(&work).expect("canon");
    let (sim, url) = rt.block_on(AgentSim::start(&work, None, None));
    sim.add_framework(FRAMEWORK, "marathon", "*");
    let dir = sim.launch_task(FRAMEWORK, "web.1", "web", &[], Some("MESOS"));
    // A sandbox stdout of typical access-log lines (~120 bytes), written once.
    let mut w = StreamWriter::new(dir.join("stdout"), Logger::Sandbox);
    let mut buf = String::with_capacity(LINES * 130);
    for i in 0..LINES {
        buf.push_str(&format!(
            "10.0.{}.{} - - [02/Dec/2026:10:00:00 +0000] \"GET /api/v1/items/{i} HTTP/1.1\" 200 {} \"-\" \"curl/8.5\"\n",
            i % 250,
            i % 199,
            500 + i % 4000
        ));
    }
    w.write(buf.as_bytes());

    let mut g = c.benchmark_group("mesos_sandbox");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for mode in ["host", "api"] {
        g.bench_function(format!("stdout_{mode}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let data = tempfile::tempdir().expect("data");
                    total += rt.block_on(read_all(config(&url, mode), data.path()));
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(mesos, benches);
criterion_main!(mesos);
