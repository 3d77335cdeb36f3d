//! `logstash-mesos agent`: the per-node shipper. Serves `GET /status`, runs the pipeline
//! (with the `docker` input) from local `-f` files — reloaded when they change — or from the
//! scheduler's config set (long-poll on its version number), and reports its health to the
//! scheduler every few seconds.

use crate::cli::RunArgs;
use crate::pipeline::{build_context, run_settings, stop_on_signals, supervise};
use anyhow::{Context, Result};
use clap::Args;
use logstash_mesos_core::agent_protocol::{
    AgentReport, ConfigSet, StreamReport, ENV_AGENT_PORT, ENV_MESOS_TASK_ID, ENV_NODE, ENV_TASK_ID,
    PIPELINE_PATH, STATUS_PATH,
};
use logstash_mesos_core::Backoff;
use logstash_mesos_pipeline::lang::ParseOptions;
use logstash_mesos_pipeline::load::{self, Loaded};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(flatten)]
    pub agent: logstash_mesos_agent::AgentOptions,
    /// The scheduler to take configs from when no -f is given (set by the scheduler on
    /// the tasks it launches).
    #[arg(
        long = "scheduler",
        env = "LOGSTASH_MESOS_SCHEDULER_URL",
        value_name = "URL"
    )]
    pub scheduler: Option<String>,
    /// Workers running filters and outputs [default: number of cores].
    #[arg(short = 'w', long = "pipeline.workers")]
    pub workers: Option<usize>,
    /// Events per worker batch.
    #[arg(short = 'b', long = "pipeline.batch.size", default_value_t = 125)]
    pub batch_size: usize,
    /// ECS compatibility of plugins: disabled, v1 or v8.
    #[arg(long = "pipeline.ecs_compatibility", default_value = "v8")]
    pub ecs: String,
    /// How often to look for changed -f files, in seconds.
    #[arg(long = "config.reload.interval", default_value_t = 3)]
    pub reload_interval: u64,
    /// Log level.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// `queue.*`: with `--queue.type persisted` the agent's pipelines keep reading into
    /// page files under `<path.data>/queue/<pipeline>/` while the outputs are down.
    #[command(flatten)]
    pub queue: crate::cli::QueueArgs,
}

fn run_args(a: &AgentArgs) -> RunArgs {
    RunArgs {
        path_config: a
            .agent
            .config
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        workers: a.workers,
        batch_size: a.batch_size,
        batch_delay: 50,
        reload: true,
        reload_interval: a.reload_interval,
        path_data: a.agent.path_data.clone(),
        pipeline_id: "main".into(),
        ecs: a.ecs.clone(),
        log_level: a.log_level.clone(),
        dlq_enable: true,
        dlq_max_bytes: 1 << 30,
        dlq_storage_policy: "drop_newer".into(),
        queue: a.queue.clone(),
        ..RunArgs::default()
    }
}

/// Parses one pipeline's configs from the scheduler's set; `None` (logged) when they do
/// not parse — the scheduler validates before accepting, so this only happens across
/// version skew.
fn parse_group(version: u64, pipeline: &str, configs: &[(&str, &str)]) -> Option<Loaded> {
    let sources = load::from_texts(configs.iter().copied());
    if sources.is_empty() {
        return None;
    }
    match load::parse_checked(sources, &ParseOptions::default()) {
        Ok(loaded) => Some(loaded),
        Err(rejected) => {
            tracing::error!(
                version,
                pipeline,
                "pipeline rejected:\n{}",
                rejected.render()
            );
            None
        }
    }
}

/// Long-polls the scheduler until it serves a config set newer than `since`.
async fn next_set(http: &reqwest::Client, base: &str, since: u64) -> ConfigSet {
    // Jittered: after a scheduler restart every agent retries, and they should not all
    // come back in the same instant.
    let mut backoff =
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).with_jitter(0.2);
    loop {
        let url = format!(
            "{}{PIPELINE_PATH}?since={since}&timeout=30",
            base.trim_end_matches('/')
        );
        let got = async {
            http.get(&url)
                .send()
                .await?
                .error_for_status()?
                .json::<ConfigSet>()
                .await
        }
        .await;
        match got {
            Ok(set) if set.version > since => return set,
            Ok(_) => backoff.reset(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the scheduler for configs; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// One pipeline of the scheduler's set, running under [`supervise`].
struct Running {
    /// The config text it runs (or was last handed).
    text: String,
    /// Hands the supervisor a replacement config (drained and swapped in).
    replace: tokio::sync::mpsc::Sender<Loaded>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<crate::pipeline::Ended>,
}

/// Starts pipeline `id` with `first` under its own supervisor.
fn start_pipeline(
    id: &str,
    text: String,
    first: Loaded,
    ctx: &logstash_mesos_pipeline::plugin::BuildContext,
    settings: &logstash_mesos_pipeline::runner::RunSettings,
    parent: &tokio_util::sync::CancellationToken,
) -> Running {
    let (replace, rx) = tokio::sync::mpsc::channel::<Loaded>(1);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut ctx = ctx.clone();
    // Each pipeline keeps its state (checkpoints, dead letters) under its own id.
    ctx.pipeline_id = id.to_string();
    let settings = settings.clone();
    let stop = parent.child_token();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let plugins = logstash_mesos_agent::plugins::registry();
        let next = |_text: String| {
            let rx = rx.clone();
            async move {
                match rx.lock().await.recv().await {
                    Some(l) => l,
                    None => std::future::pending().await,
                }
            }
        };
        supervise(first, &plugins, &ctx, &settings, token, next).await
    });
    Running {
        text,
        replace,
        stop,
        task,
    }
}

/// Brings the running pipelines in line with `set`: new pipelines start, changed ones are
/// drained and replaced, removed ones stop; unchanged ones keep running untouched.
async fn apply_set(
    set: &ConfigSet,
    running: &mut std::collections::BTreeMap<String, Running>,
    ctx: &logstash_mesos_pipeline::plugin::BuildContext,
    settings: &logstash_mesos_pipeline::runner::RunSettings,
    parent: &tokio_util::sync::CancellationToken,
) {
    let groups = set.grouped();
    let gone: Vec<String> = running
        .keys()
        .filter(|id| !groups.contains_key(id.as_str()))
        .cloned()
        .collect();
    for id in gone {
        if let Some(r) = running.remove(&id) {
            tracing::info!(pipeline = %id, "pipeline removed from the config set: stopping it");
            r.stop.cancel();
            let _ = r.task.await;
        }
    }
    for (id, configs) in groups {
        let text = load::from_texts(configs.iter().copied()).text().to_string();
        // Unchanged: it keeps running (or stays ended: finite inputs, invalid here).
        if running.get(id).is_some_and(|r| r.text == text) {
            continue;
        }
        let Some(loaded) = parse_group(set.version, id, &configs) else {
            continue;
        };
        match running.get_mut(id) {
            Some(r) if !r.task.is_finished() => {
                tracing::info!(pipeline = %id, version = set.version, "pipeline changed: replacing it");
                r.text = text;
                if r.replace.send(loaded).await.is_err() {
                    tracing::warn!(pipeline = %id, "pipeline ended before its replacement arrived");
                }
            }
            _ => {
                tracing::info!(pipeline = %id, version = set.version, "starting pipeline");
                let r = start_pipeline(id, text, loaded, ctx, settings, parent);
                running.insert(id.to_string(), r);
            }
        }
    }
}

/// Posts this agent's health to the scheduler (`POST /v1/agents/status`) every 5 s.
async fn report_loop(
    http: reqwest::Client,
    base: String,
    version: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    // The scheduler names the node as Mesos knows it; fall back to our hostname.
    let node = std::env::var(ENV_NODE)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(logstash_mesos_pipeline::inputs::hostname);
    let status = logstash_mesos_agent::status::global();
    let mut last: Option<(std::time::Instant, u64)> = None;
    loop {
        let snap = status.snapshot();
        let (mut errors, mut lag_events, mut lines) = (snap.errors.len() as u64, 0u64, 0u64);
        for s in snap.containers.values().flat_map(|c| c.streams.values()) {
            errors += s.errors.len() as u64;
            lag_events += s.lag_events;
            lines += s.lines;
        }
        // Rate of extracted lines since the last report; lag as the time the unacknowledged
        // backlog takes at that rate.
        let now = std::time::Instant::now();
        let eps = match last {
            Some((t, n)) if now > t => lines.saturating_sub(n) as f64 / (now - t).as_secs_f64(),
            _ => 0.0,
        };
        last = Some((now, lines));
        let lag_seconds = if lag_events == 0 {
            0.0
        } else {
            lag_events as f64 / eps.max(1.0)
        };
        let report = AgentReport {
            node: node.clone(),
            agent_id: snap.agent_id.clone(),
            task_id: std::env::var(ENV_TASK_ID)
                .or_else(|_| std::env::var(ENV_MESOS_TASK_ID))
                .ok(),
            containers: snap.containers.len() as u64,
            events_per_second: eps,
            lag_seconds,
            errors,
            config_version: version.load(std::sync::atomic::Ordering::Relaxed),
            agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            streams: Some(
                snap.containers
                    .iter()
                    .flat_map(|(id, c)| {
                        let container = if c.name.is_empty() {
                            id.clone()
                        } else {
                            c.name.clone()
                        };
                        c.streams.values().map(move |s| StreamReport {
                            container: container.clone(),
                            stream: s.kind.clone(),
                            path: s.path.clone(),
                            offset: s.acked_position.clone(),
                            lag_events: s.lag_events,
                            last_error: s.errors.last().cloned(),
                        })
                    })
                    .collect(),
            ),
        };
        let url = format!("{}{STATUS_PATH}", base.trim_end_matches('/'));
        if let Err(e) = http.post(&url).json(&report).send().await {
            tracing::debug!(error = %e, "status report not delivered");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The credentials the scheduler handed this agent (`--api-token`, else
/// `--api-user`/`--api-password` of the scheduler), sent on every call to it.
fn scheduler_auth_headers() -> Result<reqwest::header::HeaderMap> {
    use base64::Engine;
    use logstash_mesos_core::agent_protocol::{ENV_API_PASSWORD, ENV_API_TOKEN, ENV_API_USER};
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let value = match (var(ENV_API_TOKEN), var(ENV_API_USER), var(ENV_API_PASSWORD)) {
        (Some(t), _, _) => Some(format!("Bearer {t}")),
        (None, Some(u), Some(p)) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )),
        _ => None,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(v) = value {
        let mut v = reqwest::header::HeaderValue::from_str(&v)
            .context("the scheduler API credentials are not a valid header value")?;
        v.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, v);
        // A write authenticated with Basic credentials must say it is no browser form.
        headers.insert(
            "x-requested-with",
            reqwest::header::HeaderValue::from_static("logstash-mesos-agent"),
        );
    }
    Ok(headers)
}

/// Where `/status` listens: `--status.bind`, except that under the scheduler (which
/// reserves a port for it from the offer) the reserved port on all interfaces.
fn status_bind(a: &AgentArgs) -> std::net::SocketAddr {
    match std::env::var(ENV_AGENT_PORT)
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
    {
        Some(port) if a.scheduler.is_some() => std::net::SocketAddr::from(([0, 0, 0, 0], port)),
        _ => a.agent.status_bind,
    }
}

pub fn run(a: AgentArgs) -> i32 {
    crate::pipeline::init_logging(&a.log_level);
    crate::runtime::exit_code(crate::runtime::block_on(
        crate::runtime::Threads::PerCore,
        run_async(a),
    ))
}

async fn run_async(a: AgentArgs) -> Result<i32> {
    let args = run_args(&a);
    let mut ctx = build_context(&args).map_err(anyhow::Error::msg)?;
    ctx.node = logstash_mesos_pipeline::plugin::NodeSettings {
        docker_host: a.agent.docker_host.clone(),
        mesos_agent_id: a.agent.mesos_agent_id.clone(),
        mesos_agent: a.agent.mesos_agent.clone(),
        senders: logstash_mesos_pipeline::net::sender::Senders(Some(
            logstash_mesos_agent::mesos::senders::for_node(a.agent.mesos_agent.as_deref()),
        )),
    };
    let plugins = logstash_mesos_agent::plugins::registry();
    std::fs::create_dir_all(args.path_data.join("agent"))
        .context("cannot create the data directory")?;
    let status = logstash_mesos_agent::status::global();
    status.with(|s| s.agent_id = a.agent.mesos_agent_id.clone());
    let bind = status_bind(&a);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!(addr = %bind, "status endpoint listening on /status");
    tokio::spawn(async move {
        let _ = axum::serve(listener, logstash_mesos_agent::status::router(status)).await;
    });

    let settings = run_settings(&ctx, &args);
    let stop = stop_on_signals();

    if !args.path_config.is_empty() {
        let Some(first) = crate::pipeline::load_and_parse(&args) else {
            return Ok(1);
        };
        // `run_args` turns reload on: -f files are always watched.
        let next = |text: String| crate::reload::next_config(args.clone(), text);
        return Ok(supervise(first, &plugins, &ctx, &settings, stop, next)
            .await
            .exit_code());
    }

    let Some(base) = a.scheduler.clone() else {
        anyhow::bail!(
            "no configuration: give -f PATH or --scheduler URL (LOGSTASH_MESOS_SCHEDULER_URL)"
        );
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .default_headers(scheduler_auth_headers()?)
        .build()?;
    let version = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::spawn(report_loop(http.clone(), base.clone(), version.clone()));
    // The set's pipelines share the process's pipeline bus (ctx.bus); at a signal the bus
    // learns first, so `pipeline` inputs wait for their upstream pipelines to drain.
    let pipelines_stop = tokio_util::sync::CancellationToken::new();
    let mut running = std::collections::BTreeMap::new();
    let mut since = 0;
    // An agent outlives its pipelines: one that ends (finite inputs) or is invalid on this
    // node waits for the scheduler's next config set.
    loop {
        let set = tokio::select! {
            set = next_set(&http, &base, since) => set,
            _ = stop.cancelled() => break,
        };
        since = set.version;
        version.store(set.version, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(version = set.version, "running the scheduler's config set");
        apply_set(&set, &mut running, &ctx, &settings, &pipelines_stop).await;
    }
    ctx.bus.begin_shutdown();
    pipelines_stop.cancel();
    for (_, r) in running {
        let _ = r.task.await;
    }
    Ok(0)
}
