//! Pipeline-to-pipeline: the `pipeline` output of one running pipeline feeds the `pipeline`
//! inputs of others on the same bus. The forked-path pattern (one upstream, two addresses):
//! both downstream pipelines get every event, a blocked downstream holds the upstream back
//! (back-pressure reaches the first input), and the source hears an event delivered only
//! once both downstream pipelines delivered it. At shutdown the downstream pipelines end
//! after the upstream drained into them.

use logstash_mesos_core::{Ack, AckSink, Event, FieldRef, Value};
use logstash_mesos_pipeline::bus::PipelineBus;
use logstash_mesos_pipeline::graph::{CompiledInput, CompiledOutput, CompiledPipeline, Route};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Input, Output};
use logstash_mesos_pipeline::registry::Kind;
use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};
use logstash_mesos_pipeline::{inputs, outputs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Acked(Mutex<Vec<(u64, bool)>>);
impl AckSink for Acked {
    fn finished(&self, token: u64, delivered: bool) {
        self.0.lock().expect("lock").push((token, delivered));
    }
}

/// Emits `n` events (ack token = number), counting how many it got into the queue.
struct Source {
    n: u64,
    sink: Arc<Acked>,
    emitted: Arc<AtomicU64>,
}
impl Input for Source {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            for i in 0..self.n {
                let mut e = Event::from_message(format!("line {i}"));
                e.attach_ack(Ack::new(self.sink.clone(), i));
                ctx.emit(e).await?;
                self.emitted.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
    }
}

/// Records the messages it gets; while `open` is false it holds its batch.
struct Gated {
    open: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Event>>>,
}
impl Output for Gated {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            while !self.open.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Keep the fields, release the acks: this output delivered them.
            let mut got = self.got.lock().expect("lock");
            for mut e in batch {
                drop(e.take_acks());
                got.push(e);
            }
        })
    }
}

fn ctx(bus: &PipelineBus, id: &str) -> BuildContext {
    BuildContext {
        pipeline_id: id.into(),
        bus: bus.clone(),
        ..BuildContext::default()
    }
}

fn settings() -> RunSettings {
    RunSettings {
        workers: 1,
        batch_size: 20,
        ..RunSettings::default()
    }
}

fn downstream(bus: &PipelineBus, id: &str, address: &str, out: Gated) -> RunningPipeline {
    let c = ctx(bus, id);
    let args = Args::for_plugin(Kind::Input, inputs::pipeline::OPTIONS)
        .with("address", Value::from(address));
    let input = inputs::pipeline::build(&args, &c).expect("pipeline input builds");
    let decorator = logstash_mesos_pipeline::input_context::Decorator {
        tags: vec![format!("via_{id}")],
        ..Default::default()
    };
    let p = CompiledPipeline {
        inputs: vec![CompiledInput {
            name: "pipeline".into(),
            id: format!("{id}-in"),
            input,
            decorator,
        }],
        filters: vec![],
        outputs: vec![CompiledOutput {
            name: "gated".into(),
            id: format!("{id}-out"),
            output: Arc::new(out),
        }],
        routes: vec![Route::Output(0)],
    };
    RunningPipeline::start(p, &c, &settings()).expect("pipeline starts")
}

/// The upstream pipeline: `Source` of `n` events → a `pipeline` output to `send_to`.
fn upstream(
    bus: &PipelineBus,
    n: u64,
    send_to: &[&str],
    sink: &Arc<Acked>,
    emitted: &Arc<AtomicU64>,
) -> RunningPipeline {
    let up_ctx = ctx(bus, "up");
    let out_args = Args::for_plugin(Kind::Output, outputs::pipeline::OPTIONS).with(
        "send_to",
        Value::Array(send_to.iter().map(|a| Value::from(*a)).collect()),
    );
    let output = outputs::pipeline::build(&out_args, &up_ctx).expect("pipeline output builds");
    RunningPipeline::start(
        CompiledPipeline {
            inputs: vec![CompiledInput {
                name: "source".into(),
                id: "source".into(),
                input: Box::new(Source {
                    n,
                    sink: sink.clone(),
                    emitted: emitted.clone(),
                }),
                decorator: Default::default(),
            }],
            filters: vec![],
            outputs: vec![CompiledOutput {
                name: "pipeline".into(),
                id: "to-downstream".into(),
                output: Arc::from(output),
            }],
            routes: vec![Route::Output(0)],
        },
        &up_ctx,
        &settings(),
    )
    .expect("pipeline starts")
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forked_path_delivers_everything_twice_and_acks_after_both() {
    const N: u64 = 300;
    let bus = PipelineBus::default();
    let open_a = Arc::new(AtomicBool::new(false));
    let got_a = Arc::new(Mutex::new(Vec::new()));
    let got_b = Arc::new(Mutex::new(Vec::new()));
    let a = downstream(
        &bus,
        "a",
        "addr-a",
        Gated {
            open: open_a.clone(),
            got: got_a.clone(),
        },
    );
    let b = downstream(
        &bus,
        "b",
        "addr-b",
        Gated {
            open: Arc::new(AtomicBool::new(true)),
            got: got_b.clone(),
        },
    );
    eventually("both inputs listening", || {
        bus.lookup("addr-a").is_some() && bus.lookup("addr-b").is_some()
    })
    .await;

    let sink = Arc::new(Acked::default());
    let emitted = Arc::new(AtomicU64::new(0));
    let up = upstream(&bus, N, &["addr-a", "addr-b"], &sink, &emitted);

    // `a` holds its batch: nothing is acknowledged, and the source is held back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sink.0.lock().expect("lock").is_empty(),
        "acked before `a` delivered"
    );
    assert!(
        emitted.load(Ordering::SeqCst) < N,
        "no back-pressure: the source emitted everything while `a` was blocked"
    );

    open_a.store(true, Ordering::SeqCst);
    up.wait().await;
    eventually("every event acknowledged", || {
        sink.0.lock().expect("lock").len() as u64 == N
    })
    .await;
    let mut acked = sink.0.lock().expect("lock").clone();
    acked.sort();
    assert!(
        acked
            .iter()
            .enumerate()
            .all(|(i, (t, ok))| *t == i as u64 && *ok),
        "each event acknowledged once, as delivered"
    );
    for (name, got) in [("a", &got_a), ("b", &got_b)] {
        let got = got.lock().expect("lock");
        assert_eq!(got.len() as u64, N, "{name} got every event");
        let msg = FieldRef::top("message");
        let mut lines: Vec<&str> = got
            .iter()
            .filter_map(|e| e.get(&msg).and_then(Value::as_str))
            .collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len() as u64, N, "{name}: no duplicates");
        assert!(
            got.iter().all(|e| e.has_tag(&format!("via_{name}"))),
            "{name}: the input's own tags were applied"
        );
    }

    // Shutdown: with the upstream gone, the downstream inputs leave and their pipelines end.
    bus.begin_shutdown();
    a.shutdown();
    b.shutdown();
    tokio::time::timeout(Duration::from_secs(5), async {
        a.wait().await;
        b.wait().await;
    })
    .await
    .expect("downstream pipelines end once upstream is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_downstream_waits_for_upstream_to_drain() {
    const N: u64 = 200;
    let bus = PipelineBus::default();
    let got = Arc::new(Mutex::new(Vec::new()));
    let open = Arc::new(AtomicBool::new(false));
    let down = downstream(
        &bus,
        "down",
        "collect",
        Gated {
            open: open.clone(),
            got: got.clone(),
        },
    );
    eventually("input listening", || bus.lookup("collect").is_some()).await;
    let sink = Arc::new(Acked::default());
    let up = upstream(&bus, N, &["collect"], &sink, &Arc::new(AtomicU64::new(0)));
    // Stop everything while the downstream output is still blocked: the downstream
    // pipeline must not end (and drop what upstream still holds) before upstream drained.
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.begin_shutdown();
    down.shutdown();
    up.shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bus.lookup("collect").is_some(),
        "downstream left before upstream drained"
    );
    open.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), async {
        up.wait().await;
        down.wait().await;
    })
    .await
    .expect("both pipelines end");
    let acked = sink.0.lock().expect("lock").clone();
    let emitted = acked.len();
    assert!(acked.iter().all(|(_, ok)| *ok), "nothing read was lost");
    assert_eq!(
        got.lock().expect("lock").len(),
        emitted,
        "every event read arrived downstream"
    );
}

#[tokio::test]
async fn without_ensure_delivery_events_to_nobody_are_dropped() {
    let bus = PipelineBus::default();
    let c = ctx(&bus, "up");
    let out = outputs::pipeline::build(
        &Args::for_plugin(Kind::Output, outputs::pipeline::OPTIONS)
            .with("send_to", Value::Array(vec![Value::from("nobody")]))
            .with("ensure_delivery", Value::Bool(false)),
        &c,
    )
    .expect("builds");
    tokio::time::timeout(
        Duration::from_secs(2),
        out.send(vec![Event::from_message("x")]),
    )
    .await
    .expect("does not wait for a missing address");
}
