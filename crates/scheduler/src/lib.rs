//! The logstash-mesos Mesos framework: keeps one shipper agent on every node, serves
//! the pipeline configs the agents run, and pushes config changes to them.
//!
//! Layout: `proto` (scheduler API JSON types) and `recordio` (stream framing);
//! `sched` (the pure state machine: events in, calls out); `client` (HTTP to the
//! master) and `driver` (the one task owning the state machine); `store` (durable
//! state); `configs` + `api` (config service, REST API, web UI).
//!
//! ```no_run
//! # async fn f(opts: logstash_mesos_scheduler::SchedulerOptions, plugins: logstash_mesos_pipeline::registry::Registry) -> anyhow::Result<()> {
//! logstash_mesos_scheduler::run(opts, plugins).await
//! # }
//! ```

pub mod api;
pub mod client;
pub mod configs;
pub mod control;
pub mod discovery;
pub mod driver;
pub mod lang_validator;
pub mod options;
pub mod proto;
pub mod recordio;
pub mod sched;
pub mod store;
pub mod zk;

#[cfg(test)]
mod testutil;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use configs::{BasicValidator, ConfigValidator, ValidationError};
pub use options::SchedulerOptions;

use crate::options::Masters;
use crate::proto::{Capability, FrameworkInfo};

/// Runs the scheduler; configs are checked with the real Logstash grammar and the option
/// schemas of `plugins` (`lang_validator::LangValidator`): the product's one plugin set,
/// `logstash_mesos_agent::plugins::registry()`, handed over by the binary.
pub async fn run(
    opts: SchedulerOptions,
    plugins: logstash_mesos_pipeline::registry::Registry,
) -> anyhow::Result<()> {
    run_with(opts, Arc::new(lang_validator::LangValidator::new(plugins))).await
}

/// Runs the scheduler; `validator` checks every config before it is accepted.
pub async fn run_with(
    opts: SchedulerOptions,
    validator: Arc<dyn ConfigValidator>,
) -> anyhow::Result<()> {
    let spec = opts.agent_spec()?;
    let masters = opts.masters()?;
    let store: Arc<dyn store::StateStore> = match store::parse_url(&opts.state)? {
        store::StateUrl::File(dir) => Arc::new(store::FileStore::new(dir)),
        store::StateUrl::Zk { hosts, path } => Arc::new(zk::ZkStore::open(&hosts, &path).await?),
    };
    let keeper = Arc::new(
        driver::Keeper::open(store.clone())
            .await
            .with_context(|| format!("loading {}", store.location()))?,
    );
    let state = keeper.snapshot().await;
    tracing::info!(
        state = %store.location(),
        framework_id = ?state.scheduler.framework_id.as_ref().map(|f| f.value.clone()),
        tasks = state.scheduler.tasks.len(),
        config_version = state.configs.version,
        "state loaded"
    );

    let configs = Arc::new(
        configs::ConfigService::new(
            validator,
            keeper.clone(),
            state.configs.clone(),
            opts.config_dir.clone(),
        )
        .with_history(state.config_history.clone()),
    );
    if opts.config_dir.is_some() {
        tokio::spawn(configs.clone().watch_dir(Duration::from_secs(2)));
    }
    let shared = Arc::new(driver::Shared::default());
    // The inputs' ports: planned from the configs now (before any offer) and on change.
    let agent_env: std::collections::BTreeMap<String, String> = spec
        .env
        .iter()
        .filter_map(|(k, v)| match v {
            sched::EnvValue::Value(v) => Some((k.clone(), v.clone())),
            sched::EnvValue::SecretRef(_) => None,
        })
        .collect();
    discovery::publish(&configs.current(), &shared, &agent_env);
    tokio::spawn(discovery::follow_configs(
        configs.clone(),
        shared.clone(),
        agent_env,
    ));
    let artifact = matches!(spec.launch, sched::LaunchMode::Command { .. })
        .then(std::env::current_exe)
        .transpose()?;
    let auth = opts.auth();
    if !auth.enabled() && !opts.listen.ip().is_loopback() {
        tracing::warn!(listen = %opts.listen, "the API and web UI accept anyone: set --api-token or --api-user/--api-password, or serve them behind the DC/OS admin router");
    }
    let app = api::router(api::AppState::new(configs, shared.clone(), artifact).with_auth(auth));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding --listen {}", opts.listen))?;
    tracing::info!(listen = %opts.listen, url = %opts.advertise_url(), "API and web UI up");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (http_masters, zk_masters) = match masters {
        Masters::Http(list) => (list, None),
        Masters::Zk(url) => {
            let (hosts, path) = zk::parse_url(&url)?;
            let zk = zk::connect(&hosts).await?;
            let leader = loop {
                match zk::detect_leader(&zk, &hosts, &path).await {
                    Ok(l) => break l,
                    Err(e) => {
                        tracing::warn!(error = %e, "waiting for a leading master in zookeeper");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            };
            tracing::info!(%leader, "leading master from zookeeper");
            (vec![leader], Some((zk, hosts, path)))
        }
    };
    let auth = opts
        .principal
        .clone()
        .map(|p| (p, opts.secret.clone().unwrap_or_default()));
    let client = Arc::new(client::Client::new(&http_masters, auth)?);
    if let Some((zk, hosts, path)) = zk_masters {
        // Follow leader changes; the client also follows 307s on its own.
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                match zk::detect_leader(&zk, &hosts, &path).await {
                    Ok(l) if client.leader().as_deref() != Some(l.as_str()) => {
                        tracing::info!(leader = %l, "zookeeper reports a new leading master");
                        client.set_leader(l);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "master detection failed"),
                }
            }
        });
    }
    let settings = opts.settings(
        spec,
        uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    );
    let framework = FrameworkInfo {
        id: None,
        user: opts.user.clone(),
        name: opts.framework_name.clone(),
        roles: vec![opts.role.clone()],
        role: None,
        capabilities: ["MULTI_ROLE", "PARTITION_AWARE", "TASK_KILLING_STATE"]
            .iter()
            .map(|c| Capability {
                kind: (*c).to_string(),
            })
            .collect(),
        failover_timeout: Some(opts.failover_timeout),
        checkpoint: Some(true),
        principal: opts.principal.clone(),
        hostname: None,
        webui_url: Some(format!("{}/", opts.advertise_url())),
        labels: None,
    };
    let driver = driver::Driver {
        client,
        sched: sched::Scheduler::new(settings, state.scheduler),
        keeper,
        shared,
        config: driver::DriverConfig::new(framework),
    };
    let mut server = server;
    tokio::select! {
        r = driver.run() => r.context("scheduler stopped")?,
        r = &mut server => return server_ended(r),
        r = tokio::signal::ctrl_c() => {
            r.context("waiting for ctrl-c")?;
            tracing::info!("interrupted; agents keep running until the failover timeout");
            return Ok(());
        }
    }
    // Uninstalled. Exiting would make a supervisor (Marathon, systemd) restart us
    // and register a new framework, re-installing the agents: stay up, idle, with
    // the API reporting "uninstalled", until stopped.
    tracing::warn!("framework uninstalled; the API stays up until the scheduler is stopped");
    tokio::select! {
        r = &mut server => server_ended(r),
        r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c"),
    }
}

fn server_ended(r: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    match r {
        Ok(Ok(())) => anyhow::bail!("API server stopped"),
        Ok(Err(e)) => Err(e).context("API server failed"),
        Err(e) => Err(e).context("API server task failed"),
    }
}
