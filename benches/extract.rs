//! Extraction throughput of the agent: the in-process line path (demux + split) on a
//! realistic access-log corpus, and end to end through a real Docker daemon (exec-tail of a
//! file and the logs API), counting that every line arrived.
//! `cargo bench --bench extract`; the Docker part needs `scripts/setup/docker.sh`.

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_agent::config::DockerConfig;
use logstash_mesos_agent::lines::{splitter, Demux, Piece};
use logstash_mesos_agent::status::Status;
use logstash_mesos_agent::DockerInput;
use logstash_mesos_core::Value;
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::Input;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LINES: usize = 20_000;

fn corpus() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..LINES {
        out.extend_from_slice(
            format!(
                "10.0.{}.{} - - [10/Oct/2024:13:55:{:02} +0000] \"GET /shop/item/{i} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"\n",
                i % 256,
                i % 200,
                i % 60,
                1000 + i % 5000
            )
            .as_bytes(),
        );
    }
    out
}

fn in_process(c: &mut Criterion) {
    let data = corpus();
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("demux+split (in process)", |b| {
        b.iter(|| {
            let mut d = Demux::new("0123456789abcdef");
            let mut s = splitter(0, 1 << 24);
            let (mut pieces, mut lines) = (Vec::new(), Vec::new());
            for chunk in data.chunks(8192) {
                d.push(chunk, &mut pieces);
                for p in pieces.drain(..) {
                    if let Piece::Data(b) = p {
                        s.push(&b, &mut lines);
                    }
                }
            }
            assert_eq!(lines.len(), LINES);
        })
    });
    g.finish();
}

fn docker_ok() -> bool {
    Command::new("docker")
        .args(["image", "inspect", "logstash-mesos-test:busybox"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Time until all LINES of one stream of a pre-filled container arrived.
fn through_docker(name: &str, file: bool) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Input,
            logstash_mesos_agent::OPTIONS,
        )
        .with("name", Value::from(name))
        .with("poll_interval", Value::Float(0.1));
        args = if file {
            args.with("path", Value::from("/tmp/access.log"))
                .with("stdout", Value::Bool(false))
                .with("stderr", Value::Bool(false))
        } else {
            args.with("stderr", Value::Bool(false))
        };
        let cfg = DockerConfig::from_args(&args).expect("config");
        let (mut ctx, mut rx) = InputContext::for_test(1024);
        ctx.build.path_data = dir.path().to_path_buf();
        let input: Box<dyn Input> =
            Box::new(DockerInput::new(cfg).with_status(Arc::new(Status::default())));
        let start = Instant::now();
        let task = tokio::spawn(input.run(ctx.clone()));
        let mut n = 0;
        while n < LINES {
            match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
                Ok(Some(_)) => n += 1,
                _ => panic!("only {n} of {LINES} lines arrived"),
            }
        }
        let took = start.elapsed();
        ctx.shutdown.cancel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let _ = task.await;
        took
    })
}

fn docker(c: &mut Criterion) {
    if !docker_ok() {
        eprintln!("\n!!!!! docker benches skipped: run scripts/setup/docker.sh !!!!!\n");
        return;
    }
    let name = "lsm-bench";
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    // The busybox image has no corpus: generate the same shape of lines inside.
    let script = format!(
        "i=0; while [ $i -lt {LINES} ]; do echo \"10.0.1.$((i % 200)) - - [10/Oct/2024:13:55:36 +0000] \\\"GET /shop/item/$i HTTP/1.1\\\" 200 $((1000 + i)) \\\"-\\\" \\\"Mozilla/5.0\\\"\"; i=$((i+1)); done > /tmp/access.log; cat /tmp/access.log; sleep 3600"
    );
    let ok = Command::new("docker")
        .args([
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "logstash-mesos-test:busybox",
            "/bin/busybox",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "starting the bench container failed");
    std::thread::sleep(Duration::from_secs(5));
    let mut g = c.benchmark_group("docker");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(LINES as u64));
    g.bench_function("exec-tail file", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_docker(name, true)).sum())
    });
    g.bench_function("logs api stdout", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_docker(name, false)).sum())
    });
    g.finish();
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
}

criterion_group!(benches, in_process, docker);
criterion_main!(benches);
