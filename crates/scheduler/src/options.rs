//! Command-line flags of `logstash-mesos scheduler`; each is also an environment
//! variable `LOGSTASH_MESOS_*` (handy under Marathon/DC/OS).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::sched::{AgentSpec, EnvValue, LaunchMode};

#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerOptions {
    /// Mesos masters: comma-separated `host:port` / URLs, or `zk://host:port,.../mesos`.
    #[arg(long, env = "LOGSTASH_MESOS_MASTER", default_value = "127.0.0.1:5050")]
    pub master: String,
    /// Framework name shown by Mesos.
    #[arg(
        long,
        env = "LOGSTASH_MESOS_FRAMEWORK_NAME",
        default_value = "logstash"
    )]
    pub framework_name: String,
    /// Mesos role whose resources the agents use.
    #[arg(long, env = "LOGSTASH_MESOS_ROLE", default_value = "*")]
    pub role: String,
    /// Unix user the agent tasks run as.
    #[arg(long, env = "LOGSTASH_MESOS_USER", default_value = "root")]
    pub user: String,
    /// Principal for framework authentication (HTTP basic auth).
    #[arg(long, env = "LOGSTASH_MESOS_PRINCIPAL")]
    pub principal: Option<String>,
    /// Secret for `--principal`.
    #[arg(long, env = "LOGSTASH_MESOS_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Seconds Mesos keeps the agents running while the scheduler is away.
    #[arg(
        long,
        env = "LOGSTASH_MESOS_FAILOVER_TIMEOUT",
        default_value_t = 604_800.0
    )]
    pub failover_timeout: f64,
    /// CPUs for each agent task.
    #[arg(long, env = "LOGSTASH_MESOS_AGENT_CPUS", default_value_t = 0.5)]
    pub agent_cpus: f64,
    /// Memory (MB) for each agent task.
    #[arg(long, env = "LOGSTASH_MESOS_AGENT_MEM", default_value_t = 256.0)]
    pub agent_mem: f64,
    /// Docker image of the agent (Docker containerizer, host network).
    #[arg(
        long,
        env = "LOGSTASH_MESOS_AGENT_IMAGE",
        conflicts_with = "agent_command"
    )]
    pub agent_image: Option<String>,
    /// Shell command that starts the agent as a command task; the binary is fetched
    /// from the scheduler as `./logstash-mesos`.
    #[arg(long, env = "LOGSTASH_MESOS_AGENT_COMMAND")]
    pub agent_command: Option<String>,
    /// Host directories with container logs, mounted read-only into a Docker agent.
    #[arg(
        long = "agent-log-dir",
        env = "LOGSTASH_MESOS_AGENT_LOG_DIRS",
        value_delimiter = ',',
        default_value = "/var/lib/docker/containers"
    )]
    pub agent_log_dirs: Vec<String>,
    /// Where the state is kept: `file:///dir` or `zk://host:port,.../path`.
    #[arg(
        long,
        env = "LOGSTASH_MESOS_STATE",
        default_value = "file:///var/lib/logstash-mesos"
    )]
    pub state: String,
    /// Directory of `*.conf` pipeline configs, watched for changes.
    #[arg(long, env = "LOGSTASH_MESOS_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// Address of the REST API and web UI.
    #[arg(long, env = "LOGSTASH_MESOS_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// URL agents and people use to reach this scheduler (default: http://<hostname>:<port>).
    #[arg(long, env = "LOGSTASH_MESOS_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Extra environment variable `NAME=VALUE` of every agent task (repeatable); configs
    /// read it as `${NAME}`.
    #[arg(long = "agent-env", value_name = "NAME=VALUE", value_parser = parse_env_pair)]
    pub agent_env: Vec<(String, String)>,
    /// Elasticsearch URL handed to the agents as `ELASTICSEARCH_HOSTS` (configs write
    /// `hosts => ["${ELASTICSEARCH_HOSTS}"]`).
    #[arg(long, env = "LOGSTASH_MESOS_ELASTICSEARCH_HOSTS")]
    pub elasticsearch_hosts: Option<String>,
    /// Elasticsearch user handed to the agents as `ELASTICSEARCH_USER`.
    #[arg(long, env = "LOGSTASH_MESOS_ELASTICSEARCH_USER")]
    pub elasticsearch_user: Option<String>,
    /// Elasticsearch password handed to the agents as `ELASTICSEARCH_PASSWORD` (in the
    /// task's environment; prefer --elasticsearch-password-secret on DC/OS).
    #[arg(
        long,
        env = "LOGSTASH_MESOS_ELASTICSEARCH_PASSWORD",
        hide_env_values = true,
        conflicts_with = "elasticsearch_password_secret"
    )]
    pub elasticsearch_password: Option<String>,
    /// Path of the Elasticsearch password in the DC/OS secret store: the agents get it
    /// as `ELASTICSEARCH_PASSWORD` through a Mesos secret reference resolved on the node.
    #[arg(long, env = "LOGSTASH_MESOS_ELASTICSEARCH_PASSWORD_SECRET")]
    pub elasticsearch_password_secret: Option<String>,
    /// Require `Authorization: Bearer <TOKEN>` on the API and web UI (agents get the token
    /// in their task's environment). Off when neither this nor --api-user is given.
    #[arg(long, env = "LOGSTASH_MESOS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Require Basic credentials (this user, --api-password) on the API and web UI.
    #[arg(long, env = "LOGSTASH_MESOS_API_USER", requires = "api_password")]
    pub api_user: Option<String>,
    /// The password of --api-user.
    #[arg(
        long,
        env = "LOGSTASH_MESOS_API_PASSWORD",
        hide_env_values = true,
        requires = "api_user"
    )]
    pub api_password: Option<String>,
    /// Host ports `BEGIN-END` (of the offered `ports`) for the inputs whose config says
    /// `port => "${LSM_PORT_<NAME>}"`; default: any offered port.
    #[arg(long, env = "LOGSTASH_MESOS_INPUT_PORT_RANGE", value_parser = parse_port_range)]
    pub input_port_range: Option<(u64, u64)>,
    /// `DiscoveryInfo.name` of the agent tasks (Mesos-DNS SRV records
    /// `_<input>._<name>._<tcp|udp>.<framework>.mesos`); default: --framework-name.
    #[arg(long, env = "LOGSTASH_MESOS_DISCOVERY_NAME")]
    pub discovery_name: Option<String>,
    /// `DiscoveryInfo.visibility` of the agent tasks: FRAMEWORK, CLUSTER or EXTERNAL.
    #[arg(
        long,
        env = "LOGSTASH_MESOS_DISCOVERY_VISIBILITY",
        default_value = "FRAMEWORK",
        value_parser = ["FRAMEWORK", "CLUSTER", "EXTERNAL"]
    )]
    pub discovery_visibility: String,
}

/// `BEGIN-END` of `--input-port-range` (inclusive, 1-65535).
fn parse_port_range(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected BEGIN-END (e.g. 31000-31100), got {s:?}");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((u64::from(a), u64::from(b)))
}

/// A bad `--agent-env` value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvPairError {
    #[error("expected NAME=VALUE, got {0:?}")]
    NoEquals(String),
    #[error("{0:?} is not a variable name (letters, digits, _)")]
    BadName(String),
}

/// `NAME=VALUE` of `--agent-env`; NAME is a shell variable name.
fn parse_env_pair(s: &str) -> Result<(String, String), EnvPairError> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| EnvPairError::NoEquals(s.to_string()))?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(EnvPairError::BadName(name.to_string()));
    }
    Ok((name.to_string(), value.to_string()))
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionsError {
    #[error("one of --agent-image or --agent-command is required")]
    NoAgent,
    #[error("--{0}: expected a positive number, got {1}")]
    NotPositive(&'static str, f64),
    #[error("--secret needs --principal")]
    SecretWithoutPrincipal,
    #[error("--master: no master given")]
    NoMaster,
}

/// `--master` split into HTTP masters, or a ZooKeeper URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Masters {
    Http(Vec<String>),
    Zk(String),
}

impl SchedulerOptions {
    pub fn masters(&self) -> Result<Masters, OptionsError> {
        let m = self.master.trim();
        if m.starts_with("zk://") {
            return Ok(Masters::Zk(m.to_string()));
        }
        let list: Vec<String> = m
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() {
            return Err(OptionsError::NoMaster);
        }
        Ok(Masters::Http(list))
    }

    pub fn advertise_url(&self) -> String {
        if let Some(u) = &self.advertise_url {
            return u.trim_end_matches('/').to_string();
        }
        let host = if self.listen.ip().is_unspecified() {
            hostname().unwrap_or_else(|| "localhost".into())
        } else {
            self.listen.ip().to_string()
        };
        format!("http://{host}:{}", self.listen.port())
    }

    pub fn agent_spec(&self) -> Result<AgentSpec, OptionsError> {
        for (name, v) in [
            ("agent-cpus", self.agent_cpus),
            ("agent-mem", self.agent_mem),
            ("failover-timeout", self.failover_timeout),
        ] {
            if v.is_nan() || v <= 0.0 {
                return Err(OptionsError::NotPositive(name, v));
            }
        }
        if self.secret.is_some() && self.principal.is_none() {
            return Err(OptionsError::SecretWithoutPrincipal);
        }
        let launch = match (&self.agent_image, &self.agent_command) {
            (Some(image), _) => LaunchMode::Docker {
                image: image.clone(),
                force_pull: image.ends_with(":latest"),
            },
            (None, Some(command)) => LaunchMode::Command {
                command: command.clone(),
            },
            (None, None) => return Err(OptionsError::NoAgent),
        };
        Ok(AgentSpec {
            cpus: self.agent_cpus,
            mem: self.agent_mem,
            // The status endpoint's port, taken from the offer: two tasks on one host
            // network must not both assume 9601.
            ports: 1,
            launch,
            scheduler_url: self.advertise_url(),
            log_dirs: self.agent_log_dirs.clone(),
            kill_grace_secs: 30,
            env: self.agent_env_vars(),
        })
    }

    /// The state machine's settings: the agent spec, discovery and port options.
    pub fn settings(&self, spec: AgentSpec, instance: String) -> crate::sched::Settings {
        let mut s = crate::sched::Settings::new(self.role.clone(), spec, instance);
        s.discovery_name = self
            .discovery_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.framework_name.clone());
        s.discovery_visibility = crate::proto::Visibility::from(self.discovery_visibility.clone());
        s.input_port_range = self.input_port_range;
        s
    }

    /// Who may call the API, from `--api-token`, `--api-user` and `--api-password`.
    pub fn auth(&self) -> crate::api::auth::Auth {
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        crate::api::auth::Auth {
            token: nonempty(&self.api_token),
            basic: nonempty(&self.api_user).zip(nonempty(&self.api_password)),
        }
    }

    /// `--agent-env` pairs, then the Elasticsearch settings under their fixed names, then
    /// the API credentials the agents call the scheduler with.
    fn agent_env_vars(&self) -> Vec<(String, EnvValue)> {
        let mut env: Vec<(String, EnvValue)> = self
            .agent_env
            .iter()
            .map(|(k, v)| (k.clone(), EnvValue::Value(v.clone())))
            .collect();
        let plain = [
            ("ELASTICSEARCH_HOSTS", &self.elasticsearch_hosts),
            ("ELASTICSEARCH_USER", &self.elasticsearch_user),
            ("ELASTICSEARCH_PASSWORD", &self.elasticsearch_password),
        ];
        for (name, value) in plain {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                env.push((name.into(), EnvValue::Value(v.clone())));
            }
        }
        if let Some(path) = self
            .elasticsearch_password_secret
            .as_ref()
            .filter(|p| !p.is_empty())
        {
            env.push((
                "ELASTICSEARCH_PASSWORD".into(),
                EnvValue::SecretRef(path.clone()),
            ));
        }
        let auth = self.auth();
        let creds = [
            (
                logstash_mesos_core::agent_protocol::ENV_API_TOKEN,
                auth.token.clone(),
            ),
            (
                logstash_mesos_core::agent_protocol::ENV_API_USER,
                auth.basic.as_ref().map(|(u, _)| u.clone()),
            ),
            (
                logstash_mesos_core::agent_protocol::ENV_API_PASSWORD,
                auth.basic.as_ref().map(|(_, p)| p.clone()),
            ),
        ];
        for (name, value) in creds {
            if let Some(v) = value {
                env.push((name.into(), EnvValue::Value(v)));
            }
        }
        env
    }
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: SchedulerOptions,
    }

    fn parse(args: &[&str]) -> Result<SchedulerOptions, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.opts)
    }

    #[test]
    fn defaults_and_agent_modes() {
        let o = parse(&[
            "--agent-image",
            "repo/logstash-mesos:1.0",
            "--listen",
            "10.0.0.5:9090",
        ])
        .expect("parse");
        assert_eq!(o.framework_name, "logstash");
        assert_eq!(o.state, "file:///var/lib/logstash-mesos");
        assert_eq!(
            o.masters(),
            Ok(Masters::Http(vec!["127.0.0.1:5050".into()]))
        );
        let spec = o.agent_spec().expect("spec");
        assert_eq!(spec.scheduler_url, "http://10.0.0.5:9090");
        assert!(
            matches!(spec.launch, LaunchMode::Docker { ref image, force_pull: false } if image == "repo/logstash-mesos:1.0")
        );
        let o = parse(&[
            "--agent-command",
            "./logstash-mesos agent",
            "--master",
            "m1:5050, m2:5050",
        ])
        .expect("parse");
        assert_eq!(
            o.masters(),
            Ok(Masters::Http(vec!["m1:5050".into(), "m2:5050".into()]))
        );
        assert!(matches!(
            o.agent_spec().expect("spec").launch,
            LaunchMode::Command { .. }
        ));
        assert!(parse(&["--agent-image", "a", "--agent-command", "b"]).is_err());
        assert_eq!(
            parse(&[]).expect("parse").agent_spec(),
            Err(OptionsError::NoAgent)
        );
        let o = parse(&["--agent-image", "a", "--agent-cpus", "0"]).expect("parse");
        assert_eq!(
            o.agent_spec(),
            Err(OptionsError::NotPositive("agent-cpus", 0.0))
        );
        let o = parse(&[
            "--agent-image",
            "a",
            "--agent-env",
            "KAFKA=k1:9092,k2:9092",
            "--elasticsearch-hosts",
            "http://es:9200",
            "--elasticsearch-password-secret",
            "svc/es",
        ])
        .expect("parse");
        assert_eq!(
            o.agent_spec().expect("spec").env,
            vec![
                ("KAFKA".into(), EnvValue::Value("k1:9092,k2:9092".into())),
                (
                    "ELASTICSEARCH_HOSTS".into(),
                    EnvValue::Value("http://es:9200".into())
                ),
                (
                    "ELASTICSEARCH_PASSWORD".into(),
                    EnvValue::SecretRef("svc/es".into())
                ),
            ]
        );
        assert!(parse(&["--agent-env", "1X=y"]).is_err());
        assert!(parse(&["--agent-env", "novalue"]).is_err());
        assert!(parse(&[
            "--elasticsearch-password",
            "p",
            "--elasticsearch-password-secret",
            "s"
        ])
        .is_err());
        let o = parse(&[
            "--agent-image",
            "a",
            "--framework-name",
            "logs",
            "--input-port-range",
            "31000-31100",
            "--discovery-visibility",
            "EXTERNAL",
        ])
        .expect("parse");
        let s = o.settings(o.agent_spec().expect("spec"), "i".into());
        assert_eq!(s.input_port_range, Some((31000, 31100)));
        assert_eq!(s.discovery_name, "logs");
        assert_eq!(s.discovery_visibility, crate::proto::Visibility::External);
        for bad in ["31100-31000", "0-5", "x", "1-70000"] {
            assert!(parse(&["--input-port-range", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--discovery-visibility", "PUBLIC"]).is_err());
        let o = parse(&["--master", "zk://z1:2181,z2:2181/mesos"]).expect("parse");
        assert_eq!(
            o.masters(),
            Ok(Masters::Zk("zk://z1:2181,z2:2181/mesos".into()))
        );
    }
}
