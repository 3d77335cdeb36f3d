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
pub mod mesos;
pub mod plugins;
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
        let ok = Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Input,
            crate::OPTIONS,
        )
        .with("image", Value::from("nginx:*"))
        .with("path", Value::from("/var/log/*.log"));
        assert!((e.build)(&ok, &BuildContext::default()).is_ok());
        let bad = Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Input,
            crate::OPTIONS,
        )
        .with("path", Value::from("relative"));
        let err = (e.build)(&bad, &BuildContext::default())
            .err()
            .expect("error");
        assert_eq!(err.option.as_deref(), Some("path"));
    }
}

pub use config::OPTIONS;
pub use input::{build, DockerInput};
pub use mesos::MESOS_INPUT;

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
    example: r#"image => ["nginx:*"] path => ["/var/log/nginx/access.log"]"#,
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
    /// Address of the `GET /status` endpoint (under the scheduler: 0.0.0.0 and the port
    /// Mesos offered, from `LOGSTASH_MESOS_AGENT_PORT`).
    #[arg(long = "status.bind", default_value = "127.0.0.1:9601")]
    pub status_bind: SocketAddr,
    /// The local Mesos agent for the `mesos` input (`http(s)://host:port` or `host:port`);
    /// default $MESOS_AGENT_ENDPOINT (command tasks), else `<LIBPROCESS_IP or hostname>:5051`.
    #[arg(long = "mesos-agent", env = logstash_mesos_core::agent_protocol::ENV_MESOS_AGENT)]
    pub mesos_agent: Option<String>,
    /// This node's Mesos agent id, stamped on events as `[mesos][agent][id]`.
    #[arg(long = "mesos-agent-id", env = "LOGSTASH_MESOS_AGENT_ID")]
    pub mesos_agent_id: Option<String>,
}
