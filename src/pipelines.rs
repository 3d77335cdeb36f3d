//! Several pipelines in one process (`pipelines.yml`): each is loaded, supervised and
//! reloaded on its own, through the same load path and supervisor as a single pipeline;
//! they share the process's pipeline bus (the `pipeline` input and output).
//!
//! A pipeline whose config is invalid is reported and does not stop the others; with
//! `config.reload.automatic` it starts once its files hold a valid config. At the first
//! SIGINT/SIGTERM the bus is told the process is stopping, so every `pipeline` input
//! waits for its upstream pipelines to drain into it before it ends.

use crate::cli::RunArgs;
use crate::pipeline::{
    build_context, load_and_parse, run_settings, stop_on_signals, supervise, Ended,
};
use logstash_mesos_pipeline::bus::PipelineBus;

/// Runs every pipeline until all have ended or a signal stops them. Exit code 1 when a
/// pipeline never got a valid config.
pub fn run_many(list: Vec<RunArgs>) -> i32 {
    let ended = crate::runtime::block_on(crate::runtime::Threads::PerCore, async move {
        let bus = PipelineBus::default();
        let signal = stop_on_signals();
        let stop = tokio_util::sync::CancellationToken::new();
        {
            let (signal, stop, bus) = (signal.clone(), stop.clone(), bus.clone());
            tokio::spawn(async move {
                signal.cancelled().await;
                // Inputs first learn that this is the end, then every pipeline stops.
                bus.begin_shutdown();
                stop.cancel();
            });
        }
        let ids: Vec<String> = list.iter().map(|a| a.pipeline_id.clone()).collect();
        tracing::info!(pipelines = ?ids, "starting pipelines");
        let mut tasks = tokio::task::JoinSet::new();
        for args in list {
            tasks.spawn(run_pipeline(args, bus.clone(), stop.clone()));
        }
        let mut code = 0;
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok((id, Ended::InvalidConfig)) => {
                    tracing::error!(pipeline = %id, "pipeline did not run: invalid configuration");
                    code = 1;
                }
                Ok((id, ended)) => tracing::info!(pipeline = %id, ?ended, "pipeline ended"),
                Err(e) => {
                    tracing::error!(error = %e, "a pipeline task failed");
                    code = 1;
                }
            }
        }
        code
    });
    ended.unwrap_or(1)
}

/// One pipeline of the process, from its first valid config to its end.
async fn run_pipeline(
    args: RunArgs,
    bus: PipelineBus,
    stop: tokio_util::sync::CancellationToken,
) -> (String, Ended) {
    let id = args.pipeline_id.clone();
    let mut ctx = match build_context(&args) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(pipeline = %id, "{e}");
            return (id, Ended::InvalidConfig);
        }
    };
    ctx.bus = bus;
    let first = match (load_and_parse(&args), crate::reload::watching(&args)) {
        (Some(l), _) => l,
        (None, Some(interval)) => {
            tracing::error!(pipeline = %id, "invalid configuration (errors above): waiting for a valid one");
            tokio::select! {
                l = crate::reload::wait_for_change(&args, "", interval) => l,
                _ = stop.cancelled() => return (id, Ended::Stopped),
            }
        }
        (None, None) => return (id, Ended::InvalidConfig),
    };
    let settings = run_settings(&ctx, &args);
    let plugins = logstash_mesos_agent::plugins::registry();
    let next = |text: String| crate::reload::next_config(args.clone(), text);
    let ended = supervise(first, &plugins, &ctx, &settings, stop, next).await;
    (id, ended)
}
