//! The per-node shipper: reads logs out of Docker containers and feeds them to the
//! pipeline with checkpoints, so no line is lost across restarts and rotations.
//!
//! The `docker` input ([`input::DockerInput`], registry entry [`DOCKER_INPUT`]) finds
//! containers by image, name, labels and Mesos framework, tails files inside them with
//! one `docker exec` per file ([`filetail`]), follows stdout/stderr through the logs API
//! ([`logs`]) and advances per-stream checkpoints ([`checkpoint`]) only past lines every
//! output acknowledged.
//!
//! ```text
//! input {
//!   docker {
//!     image => ["nginx:*"]
//!     path  => ["/var/log/nginx/access.log"]
//!   }
//! }
//! ```

pub mod checkpoint;
pub mod client;
pub mod config;
pub mod filetail;
pub mod input;
pub mod lines;
pub mod logs;
pub mod status;
pub mod stream;

#[cfg(test)]
mod tests {
    use logstash_mesos_core::Value;
    use logstash_mesos_pipeline::options::Args;
    use logstash_mesos_pipeline::plugin::BuildContext;

    /// The entry builds from a sample config, and rejects a bad one naming the option.
    #[test]
    fn registry_entry_builds() {
        let e = &super::DOCKER_INPUT;
        assert_eq!(e.name, "docker");
        assert!(e.options.iter().all(|o| !o.doc.is_empty()));
        let ok = Args::default()
            .with("image", Value::from("nginx:*"))
            .with("path", Value::from("/var/log/*.log"));
        assert!((e.build)(&ok, &BuildContext::default()).is_ok());
        let bad = Args::default().with("path", Value::from("relative"));
        let err = (e.build)(&bad, &BuildContext::default())
            .err()
            .expect("error");
        assert_eq!(err.option.as_deref(), Some("path"));
    }
}

pub use config::OPTIONS;
pub use input::{build, DockerInput};

use std::net::SocketAddr;

/// The plugin name users write.
pub const NAME: &str = "docker";
/// One line for the registry.
pub const DOC: &str = "reads files and stdout/stderr of Docker containers with checkpoints";

/// The registry entry the binary adds to its input table.
pub static DOCKER_INPUT: logstash_mesos_pipeline::registry::Entry<
    logstash_mesos_pipeline::plugin::InputBuilder,
> = logstash_mesos_pipeline::registry::Entry {
    name: NAME,
    options: OPTIONS,
    build,
    doc: DOC,
};

/// Options of the `agent` subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct AgentOptions {
    /// Pipeline config files (`-f`); without them the agent waits for the scheduler.
    #[arg(short = 'f', long = "path.config")]
    pub config: Vec<std::path::PathBuf>,
    /// Where checkpoints live (`<path.data>/agent/`).
    #[arg(long = "path.data", default_value = "data")]
    pub path_data: std::path::PathBuf,
    /// Docker daemon address (unix:///..., tcp://host:2376); default $DOCKER_HOST.
    #[arg(long = "docker-host", env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Address of the `GET /status` endpoint (the scheduler sets it to the port Mesos
    /// offered).
    #[arg(
        long = "status.bind",
        env = "LOGSTASH_MESOS_STATUS_BIND",
        default_value = "127.0.0.1:9601"
    )]
    pub status_bind: SocketAddr,
    /// This node's Mesos agent id, stamped on events as `[mesos][agent][id]`.
    #[arg(long = "mesos-agent-id", env = "LOGSTASH_MESOS_AGENT_ID")]
    pub mesos_agent_id: Option<String>,
}

/// Serves `GET /status` until ctrl-c. The lead's binary runs the pipelines (from `-f` or
/// the scheduler) beside it; the docker inputs report into [`status::global`].
pub async fn run(opts: AgentOptions) -> anyhow::Result<()> {
    if let Some(h) = &opts.docker_host {
        // The docker inputs read it when their config names no host.
        if std::env::var("DOCKER_HOST").ok().as_deref() != Some(h) {
            tracing::info!(docker_host = %h, "using docker host");
        }
    }
    std::fs::create_dir_all(opts.path_data.join("agent"))?;
    let status = status::global();
    status.with(|s| s.agent_id = opts.mesos_agent_id.clone());
    let listener = tokio::net::TcpListener::bind(opts.status_bind).await?;
    tracing::info!(addr = %opts.status_bind, "status endpoint listening");
    axum::serve(listener, status::router(status))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
