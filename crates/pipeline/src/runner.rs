//! Runs a compiled pipeline: inputs (async tasks) → bounded queue → N worker tasks that
//! take batches, run the filters synchronously, then hand each output its share of the
//! batch and wait until every output accepted it (back-pressure reaches the inputs through
//! the full queue).
//!
//! With `queue.type: persisted` the queue between inputs and workers is the page files of
//! `queue/` (inputs → writer → pages → reader → workers); otherwise a bounded channel.
//!
//! Shutdown: inputs stop (EOF or the shutdown token), their queue senders drop, workers
//! drain what is queued through filters and outputs, then outputs close. Nothing already
//! read is lost (with the persisted queue and `queue.drain: false`, what is still on disk
//! waits there for the next start).

use crate::graph::{CompiledOutput, CompiledPipeline, Route, Step};
use crate::input_context::InputContext;
use crate::plugin::{BuildContext, FilterContext, Outcome};
// The settings a pipeline runs with live with the other settings; named here too, where
// `RunningPipeline::start` takes them.
pub use crate::settings::RunSettings;
use logstash_mesos_core::Event;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Pipeline counters, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events taken from the queue by workers.
    pub events_in: AtomicU64,
    /// Events that left the filters (after drops and splits).
    pub events_filtered: AtomicU64,
    /// Event deliveries accepted by outputs (an event sent to two outputs counts twice).
    pub events_out: AtomicU64,
}

/// Runs filters over a batch, in order; conditionals split the batch by branch.
pub fn run_steps(steps: &[Step], mut batch: Vec<Event>) -> Vec<Event> {
    for step in steps {
        if batch.is_empty() {
            break;
        }
        match step {
            Step::Filter(node) => {
                let mut out = Vec::with_capacity(batch.len());
                let mut ctx = FilterContext::default();
                for mut e in batch {
                    match node.filter.apply(&mut e, &mut ctx) {
                        Outcome::Success => {
                            node.common.apply(&mut e);
                            out.push(e);
                        }
                        Outcome::Failure => out.push(e),
                        // Dropped on purpose: its acknowledgement fires as delivered.
                        Outcome::Drop => drop(e),
                    }
                    for mut n in ctx.matched_events.drain(..) {
                        node.common.apply(&mut n);
                        out.push(n);
                    }
                    out.append(&mut ctx.new_events);
                }
                batch = out;
            }
            Step::If {
                branches,
                otherwise,
            } => {
                let mut buckets: Vec<Vec<Event>> =
                    (0..=branches.len()).map(|_| Vec::new()).collect();
                for e in batch {
                    let idx = branches
                        .iter()
                        .position(|(c, _)| c.eval(&e))
                        .unwrap_or(branches.len());
                    buckets[idx].push(e);
                }
                let mut out = Vec::new();
                for (i, bucket) in buckets.into_iter().enumerate() {
                    if bucket.is_empty() {
                        continue;
                    }
                    let steps = branches
                        .get(i)
                        .map(|(_, s)| s.as_slice())
                        .unwrap_or(otherwise);
                    out.extend(run_steps(steps, bucket));
                }
                batch = out;
            }
        }
    }
    batch
}

/// How often filters that want it are flushed (Logstash's periodic flusher: 5 s).
pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// True when some filter in `steps` wants periodic flushes.
pub fn wants_flush(steps: &[Step]) -> bool {
    steps.iter().any(|s| match s {
        Step::Filter(node) => node.filter.wants_flush(),
        Step::If {
            branches,
            otherwise,
        } => branches.iter().any(|(_, b)| wants_flush(b)) || wants_flush(otherwise),
    })
}

/// Flushes every filter in order; what a filter emits runs through the steps after it
/// (leaving a conditional branch, it continues after the conditional), as Logstash's
/// flush does.
pub fn flush_steps(steps: &[Step], final_flush: bool) -> Vec<Event> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let produced: Vec<Event> = match step {
            Step::Filter(node) => {
                if !node.filter.wants_flush() {
                    continue;
                }
                node.filter
                    .flush(final_flush)
                    .into_iter()
                    .filter_map(|(mut e, outcome)| match outcome {
                        Outcome::Success => {
                            node.common.apply(&mut e);
                            Some(e)
                        }
                        Outcome::Failure => Some(e),
                        Outcome::Drop => None,
                    })
                    .collect()
            }
            Step::If {
                branches,
                otherwise,
            } => {
                let mut v = Vec::new();
                for (_, b) in branches {
                    v.extend(flush_steps(b, final_flush));
                }
                v.extend(flush_steps(otherwise, final_flush));
                v
            }
        };
        if !produced.is_empty() {
            out.extend(run_steps(&steps[i + 1..], produced));
        }
    }
    out
}

/// Routes `events` to the outputs and waits until each accepted its share.
async fn deliver(routes: &[Route], outputs: &[CompiledOutput], stats: &Stats, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let per_output = route_batch(routes, outputs.len(), events);
    let delivered: u64 = per_output.iter().map(|b| b.len() as u64).sum();
    futures::future::join_all(
        per_output
            .into_iter()
            .zip(outputs.iter())
            .filter(|(b, _)| !b.is_empty())
            .map(|(b, o)| o.output.send(b)),
    )
    .await;
    stats.events_out.fetch_add(delivered, Ordering::Relaxed);
}

fn route(routes: &[Route], e: &Event, dest: &mut Vec<usize>) {
    for r in routes {
        match r {
            Route::Output(i) => dest.push(*i),
            Route::If {
                branches,
                otherwise,
            } => match branches.iter().find(|(c, _)| c.eval(e)) {
                Some((_, rs)) => route(rs, e, dest),
                None => route(otherwise, e, dest),
            },
        }
    }
}

/// Splits a filtered batch into one batch per output (events going to several outputs
/// are cloned; clones share the source acknowledgement).
pub fn route_batch(routes: &[Route], n_outputs: usize, batch: Vec<Event>) -> Vec<Vec<Event>> {
    let mut per: Vec<Vec<Event>> = (0..n_outputs).map(|_| Vec::new()).collect();
    let mut dest = Vec::with_capacity(4);
    for e in batch {
        dest.clear();
        route(routes, &e, &mut dest);
        if let Some((last, rest)) = dest.split_last() {
            for i in rest {
                per[*i].push(e.clone());
            }
            per[*last].push(e);
        }
        // No output wanted it: dropping acknowledges it as delivered.
    }
    per
}

/// A started pipeline.
pub struct RunningPipeline {
    shutdown: CancellationToken,
    inputs: JoinSet<()>,
    workers: JoinSet<()>,
    filters: Arc<Vec<Step>>,
    routes: Arc<Vec<Route>>,
    outputs: Arc<Vec<CompiledOutput>>,
    /// The periodic flusher (only when a filter wants flushes) and its stop signal.
    flusher: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    /// The persisted queue, when the pipeline has one.
    queue: Option<crate::queue::RunningQueue>,
    pub stats: Arc<Stats>,
}

impl RunningPipeline {
    /// Starts inputs and workers on the current tokio runtime. Fails only when the
    /// persisted queue cannot be opened (its directory unwritable or in use).
    pub fn start(
        p: CompiledPipeline,
        build: &BuildContext,
        settings: &RunSettings,
    ) -> anyhow::Result<RunningPipeline> {
        Self::start_with_flush_interval(p, build, settings, FLUSH_INTERVAL)
    }

    /// [`RunningPipeline::start`] with another periodic flush interval (tests).
    pub fn start_with_flush_interval(
        p: CompiledPipeline,
        build: &BuildContext,
        settings: &RunSettings,
        flush_interval: std::time::Duration,
    ) -> anyhow::Result<RunningPipeline> {
        let workers = settings.workers.max(1);
        let batch_size = settings.batch_size.max(1);
        let batch_delay = settings.batch_delay;
        // Room for every worker's batch plus as much again, so inputs keep reading while
        // workers process.
        let (tx, rx) = mpsc::channel::<Event>(2 * workers * batch_size);
        let shutdown = CancellationToken::new();
        let (tx, queue) = match settings.queue.kind {
            crate::queue::QueueType::Memory => (tx, None),
            crate::queue::QueueType::Persisted => {
                let dir = settings.queue.dir(&build.path_data, &build.pipeline_id);
                let q = crate::queue::PersistedQueue::open(&dir, &settings.queue)?;
                // The inputs' side stays small: the pages are the buffer.
                let (input_tx, running) = q.start(tx, shutdown.clone(), batch_size.max(1024));
                (input_tx, Some(running))
            }
        };
        let stats = Arc::new(Stats::default());
        let mut inputs = JoinSet::new();
        for ci in p.inputs {
            let ctx = InputContext {
                build: build.clone(),
                id: ci.id.clone(),
                sender: tx.clone(),
                shutdown: shutdown.clone(),
                decorator: ci.decorator,
            };
            let name = ci.name.clone();
            let input = ci.input;
            inputs.spawn(async move {
                if let Err(e) = input.run(ctx).await {
                    tracing::error!(input = %name, error = %e, "input stopped with an error");
                }
            });
        }
        // Only inputs hold senders now: when they all end, the queue closes.
        drop(tx);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let filters = Arc::new(p.filters);
        let routes = Arc::new(p.routes);
        let outputs = Arc::new(p.outputs);
        let mut worker_tasks = JoinSet::new();
        for _ in 0..workers {
            worker_tasks.spawn(worker(
                rx.clone(),
                filters.clone(),
                routes.clone(),
                outputs.clone(),
                stats.clone(),
                batch_size,
                batch_delay,
            ));
        }
        let flusher = wants_flush(&filters).then(|| {
            let stop = CancellationToken::new();
            let task = tokio::spawn(flusher(
                stop.clone(),
                flush_interval,
                filters.clone(),
                routes.clone(),
                outputs.clone(),
                stats.clone(),
            ));
            (stop, task)
        });
        Ok(RunningPipeline {
            shutdown,
            inputs,
            workers: worker_tasks,
            filters,
            routes,
            outputs,
            flusher,
            queue,
            stats,
        })
    }

    /// Asks the inputs to stop; queued events still flow through to the outputs.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until every input ended and everything queued was delivered, flushes the
    /// filters a last time (Logstash's final flush: aggregate maps, pending elapsed starts,
    /// metrics), then closes the outputs.
    pub async fn wait(mut self) {
        while self.inputs.join_next().await.is_some() {}
        if let Some(q) = self.queue.as_mut() {
            q.wait_io().await;
        }
        while let Some(r) = self.workers.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a pipeline worker failed");
            }
        }
        if let Some((stop, task)) = self.flusher.take() {
            stop.cancel();
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the filter flusher failed");
            }
            let events = flush_steps(&self.filters, true);
            self.stats
                .events_filtered
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            deliver(&self.routes, &self.outputs, &self.stats, events).await;
        }
        for o in self.outputs.iter() {
            o.output.close().await;
        }
        // Last: the outputs' final acknowledgements are in the saved position.
        if let Some(q) = self.queue.take() {
            q.close().await;
        }
    }
}

/// Flushes the filters every `interval` until stopped; what they emit goes to the outputs.
async fn flusher(
    stop: CancellationToken,
    interval: std::time::Duration,
    filters: Arc<Vec<Step>>,
    routes: Arc<Vec<Route>>,
    outputs: Arc<Vec<CompiledOutput>>,
    stats: Arc<Stats>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let events = flush_steps(&filters, false);
        stats
            .events_filtered
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        deliver(&routes, &outputs, &stats, events).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Event>>>,
    filters: Arc<Vec<Step>>,
    routes: Arc<Vec<Route>>,
    outputs: Arc<Vec<CompiledOutput>>,
    stats: Arc<Stats>,
    batch_size: usize,
    batch_delay: std::time::Duration,
) {
    loop {
        let mut batch = Vec::with_capacity(batch_size);
        {
            let mut rx = rx.lock().await;
            // recv_many frees queue slots in bulk, so a blocked input wakes once per
            // batch rather than once per event.
            if rx.recv_many(&mut batch, batch_size).await == 0 {
                return;
            }
            // Give the batch up to `batch_delay` to fill: per-batch costs (output round
            // trips) dominate when batches stay tiny.
            let deadline = tokio::time::Instant::now() + batch_delay;
            while batch.len() < batch_size {
                let want = batch_size - batch.len();
                match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, want)).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        stats
            .events_in
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        // Filters are synchronous and CPU-bound; a batch takes well under a millisecond,
        // short enough to run inline on the runtime (as Vector runs its sync transforms).
        let filtered = run_steps(&filters, batch);
        stats
            .events_filtered
            .fetch_add(filtered.len() as u64, Ordering::Relaxed);
        deliver(&routes, &outputs, &stats, filtered).await;
    }
}
