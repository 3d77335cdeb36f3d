//! The periodic filter flush (`Filter::flush`): the runner calls it on a timer and once
//! more at shutdown, and what a filter emits runs through the filters after it (also after
//! leaving a conditional) with the filter's common options applied.

use logstash_mesos_core::{Event, FieldRef};
use logstash_mesos_pipeline::graph::{CompiledInput, CompiledOutput, Route};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::lang::compile::compile;
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Input, Output};
use logstash_mesos_pipeline::registry::Registry;
use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Emits the given events, then stays alive for `linger`.
struct Source {
    events: Vec<Event>,
    linger: Duration,
}
impl Input for Source {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            for e in self.events {
                ctx.emit(e).await?;
            }
            tokio::time::sleep(self.linger).await;
            Ok(())
        })
    }
}

#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<Event>>>);
impl Output for Collect {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.0.lock().expect("collector lock").extend(batch) })
    }
}

fn start_event(id: &str, tag: &str) -> Event {
    let mut e = Event::from_message("start");
    e.add_tag(tag);
    let _ = e.set(&FieldRef::top("id"), id.into());
    e
}

async fn run(filter: &str, events: Vec<Event>, linger: Duration, interval: Duration) -> Vec<Event> {
    let sources = Sources::from_string("t", &format!("filter {{\n{filter}\n}}\n"));
    let ast = parse(&sources, &ParseOptions::default()).expect("test config parses");
    let mut p = compile(&ast, &Registry::builtin(), &BuildContext::default())
        .unwrap_or_else(|d| panic!("{}", sources.render_all(&d)));
    let out = Collect::default();
    p.inputs.push(CompiledInput {
        name: "source".into(),
        id: "source".into(),
        input: Box::new(Source { events, linger }),
        decorator: Default::default(),
    });
    p.outputs.push(CompiledOutput {
        name: "collect".into(),
        id: "collect".into(),
        output: Arc::new(out.clone()),
    });
    p.routes.push(Route::Output(0));
    let running = RunningPipeline::start_with_flush_interval(
        p,
        &BuildContext::default(),
        &RunSettings::default(),
        interval,
    )
    .expect("pipeline starts");
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .expect("pipeline finished");
    let v = out.0.lock().expect("collector lock").clone();
    v
}

const ELAPSED: &str = r#"
  if [id] {
    elapsed { start_tag => "S" end_tag => "E" unique_id_field => "id" timeout => 10 add_tag => ["common"] }
  }
  mutate { add_tag => ["after"] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_flush_runs_on_a_timer_and_downstream() {
    // Two 5-second ticks expire the start: at 50 ms per tick that is well inside 1 s.
    let events = run(
        ELAPSED,
        vec![start_event("a", "S")],
        Duration::from_millis(1000),
        Duration::from_millis(50),
    )
    .await;
    let expired: Vec<&Event> = events
        .iter()
        .filter(|e| e.has_tag("elapsed_expired_error"))
        .collect();
    assert_eq!(expired.len(), 1, "{events:?}");
    let e = expired[0];
    assert!(
        e.has_tag("common"),
        "common options applied: {:?}",
        e.tags()
    );
    assert!(
        e.has_tag("after"),
        "ran through the filters after the conditional"
    );
    assert_eq!(e.get_top("id").map(|v| v.to_string()), Some("a".into()));
    // The start event itself went through too.
    assert!(events.iter().any(|e| e.has_tag("S") && e.has_tag("after")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_flush_at_shutdown() {
    // timeout 5 = one tick: the flush at shutdown (interval far away) expires it.
    let filter = r#"elapsed { start_tag => "S" end_tag => "E" unique_id_field => "id" timeout => 5 }
                    mutate { add_tag => ["after"] }"#;
    let events = run(
        filter,
        vec![start_event("b", "S")],
        Duration::ZERO,
        Duration::from_secs(3600),
    )
    .await;
    let expired: Vec<&Event> = events
        .iter()
        .filter(|e| e.has_tag("elapsed_expired_error"))
        .collect();
    assert_eq!(expired.len(), 1, "{events:?}");
    assert!(expired[0].has_tag("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_event_gets_common_options() {
    let filter = r#"elapsed { start_tag => "S" end_tag => "E" unique_id_field => "id" new_event_on_match => true add_tag => ["common"] }"#;
    let events = run(
        filter,
        vec![start_event("c", "S"), start_event("c", "E")],
        Duration::ZERO,
        Duration::from_secs(3600),
    )
    .await;
    let matched: Vec<&Event> = events
        .iter()
        .filter(|e| e.has_tag("elapsed_match"))
        .collect();
    assert_eq!(matched.len(), 1, "{events:?}");
    assert!(matched[0].has_tag("common"));
    assert_eq!(events.len(), 3);
}
