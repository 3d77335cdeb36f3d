//! A source hears about an event's delivery only after every output finished with it, and
//! shutdown flushes everything already read.

use logstash_mesos_core::{Ack, AckSink, Event};
use logstash_mesos_pipeline::graph::{CompiledInput, CompiledOutput, CompiledPipeline, Route};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Input, Output};
use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Acked(Mutex<Vec<(u64, bool)>>);
impl AckSink for Acked {
    fn finished(&self, token: u64, delivered: bool) {
        self.0.lock().unwrap().push((token, delivered));
    }
}

/// Emits `n` events, each with an ack token = its number.
struct Source {
    n: u64,
    sink: Arc<Acked>,
}
impl Input for Source {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            for i in 0..self.n {
                let mut e = Event::from_message(format!("line {i}"));
                e.attach_ack(Ack::new(self.sink.clone(), i));
                ctx.emit(e).await?;
            }
            Ok(())
        })
    }
}

/// Holds each batch for a while, recording how many acks the source had seen when it
/// started and finished the batch.
struct SlowOutput {
    sink: Arc<Acked>,
    seen: Arc<AtomicUsize>,
    violations: Arc<Mutex<Vec<String>>>,
}
impl Output for SlowOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let tokens: Vec<u64> = batch
                .iter()
                .map(|e| match e.acks() {
                    logstash_mesos_core::Acks::One(a) => a.token(),
                    _ => u64::MAX,
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let acked = self.sink.0.lock().unwrap().clone();
            for t in &tokens {
                if acked.iter().any(|(a, _)| a == t) {
                    self.violations
                        .lock()
                        .unwrap()
                        .push(format!("token {t} acked before the output finished"));
                }
            }
            self.seen.fetch_add(batch.len(), Ordering::SeqCst);
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_fire_only_after_outputs_finish_and_shutdown_flushes() {
    let sink = Arc::new(Acked::default());
    let seen = Arc::new(AtomicUsize::new(0));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let p = CompiledPipeline {
        inputs: vec![CompiledInput {
            name: "source".into(),
            id: "source".into(),
            input: Box::new(Source {
                n: 500,
                sink: sink.clone(),
            }),
            decorator: Default::default(),
        }],
        filters: vec![],
        outputs: vec![
            CompiledOutput {
                name: "slow".into(),
                id: "slow1".into(),
                output: Arc::new(SlowOutput {
                    sink: sink.clone(),
                    seen: seen.clone(),
                    violations: violations.clone(),
                }),
            },
            CompiledOutput {
                name: "slow".into(),
                id: "slow2".into(),
                output: Arc::new(SlowOutput {
                    sink: sink.clone(),
                    seen: seen.clone(),
                    violations: violations.clone(),
                }),
            },
        ],
        routes: vec![Route::Output(0), Route::Output(1)],
    };
    let running = RunningPipeline::start(
        p,
        &BuildContext::default(),
        &RunSettings {
            workers: 2,
            batch_size: 50,
            ..RunSettings::default()
        },
    )
    .expect("pipeline starts");
    running.wait().await;
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1000,
        "both outputs saw every event"
    );
    let mut acked = sink.0.lock().unwrap().clone();
    acked.sort();
    assert_eq!(acked.len(), 500, "each event acknowledged exactly once");
    assert!(acked
        .iter()
        .enumerate()
        .all(|(i, (t, ok))| *t == i as u64 && *ok));
}
