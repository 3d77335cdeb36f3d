//! The TaskInfo for one agent: a Docker-containerizer task or a command task.

use serde::{Deserialize, Serialize};

use crate::proto::{
    CommandInfo, CommandUri, ContainerInfo, ContainerType, DockerInfo, DockerNetwork, DurationInfo,
    Environment, Id, KillPolicy, Label, Labels, Resource, Secret, SecretReference, TaskInfo,
    Variable, Volume, VolumeMode,
};

pub use logstash_mesos_core::agent_protocol::{
    ENV_AGENT_ID, ENV_AGENT_PORT, ENV_MESOS_AGENT, ENV_MESOS_TASK_ID, ENV_NODE, ENV_SCHEDULER_URL,
    ENV_TASK_ID,
};
pub const TASK_NAME: &str = "logstash-agent";
/// Prefix of every task id this framework creates (lets us recognise our own orphans).
pub const TASK_ID_PREFIX: &str = "logstash-agent.";
pub const FINGERPRINT_LABEL: &str = "logstash-mesos.fingerprint";
/// Where the command task's binary is served by the scheduler's HTTP API.
pub const ARTIFACT_PATH: &str = "/v1/artifacts/logstash-mesos";

/// How the agent process is started on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchMode {
    /// Docker containerizer, host network, docker.sock and the log dirs mounted read-only.
    Docker { image: String, force_pull: bool },
    /// Built-in command executor; the binary is fetched from the scheduler.
    Command { command: String },
}

/// Everything that shapes the agent task. A change here rolls the agents one node at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub cpus: f64,
    pub mem: f64,
    pub ports: u32,
    pub launch: LaunchMode,
    /// Scheduler's base URL as the agents reach it (no trailing slash).
    pub scheduler_url: String,
    /// Host directories with container logs, mounted read-only into a Docker agent.
    pub log_dirs: Vec<String>,
    /// SIGTERM-to-SIGKILL grace period, so the agent can flush its buffers.
    pub kill_grace_secs: u64,
    /// Extra environment of every agent task (`--agent-env`, the Elasticsearch
    /// settings), which its configs read as `${NAME}`.
    #[serde(default)]
    pub env: Vec<(String, EnvValue)>,
}

/// The value of one extra agent variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Value(String),
    /// A path in the cluster's secret store (DC/OS): a Mesos `SECRET` variable of
    /// type `REFERENCE`, resolved on the node.
    SecretRef(String),
}

impl AgentSpec {
    /// Stable digest of the spec (FNV-1a over its JSON); the scheduler URL is left out
    /// so that moving the scheduler does not restart every agent.
    pub fn fingerprint(&self) -> String {
        let mut v = self.clone();
        v.scheduler_url.clear();
        let json = serde_json::to_vec(&v).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    pub fn artifact_uri(&self) -> String {
        format!("{}{ARTIFACT_PATH}", self.scheduler_url)
    }

    pub fn build(
        &self,
        task_id: &Id,
        agent_id: &Id,
        hostname: &str,
        mesos_agent: &str,
        resources: Vec<Resource>,
    ) -> TaskInfo {
        let agent_port = super::resources::first_port(&resources);
        self.build_with(
            task_id,
            agent_id,
            hostname,
            mesos_agent,
            TaskPorts {
                resources,
                agent_port,
                inputs: &[],
                discovery: None,
            },
        )
    }

    /// The task with its ports: the status port, the inputs' dynamic ports as their
    /// `LSM_PORT_*` variables, and the DiscoveryInfo publishing the inputs.
    pub fn build_with(
        &self,
        task_id: &Id,
        agent_id: &Id,
        hostname: &str,
        mesos_agent: &str,
        ports: TaskPorts<'_>,
    ) -> TaskInfo {
        let TaskPorts {
            resources,
            agent_port,
            inputs,
            discovery,
        } = ports;
        let mut vars = vec![
            var(ENV_AGENT_ID, &agent_id.value),
            var(ENV_SCHEDULER_URL, &self.scheduler_url),
            var(ENV_NODE, hostname),
            var(ENV_TASK_ID, &task_id.value),
            var(ENV_MESOS_TASK_ID, &task_id.value),
            var(ENV_MESOS_AGENT, mesos_agent),
        ];
        if let Some(port) = agent_port {
            vars.push(var(ENV_AGENT_PORT, &port.to_string()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in inputs {
            if let Some(name) = &p.env {
                if seen.insert(name.as_str()) {
                    vars.push(var(name, &p.port.to_string()));
                }
            }
        }
        for (name, value) in &self.env {
            vars.push(match value {
                EnvValue::Value(v) => var(name, v),
                EnvValue::SecretRef(path) => Variable {
                    name: name.clone(),
                    kind: Some("SECRET".into()),
                    value: None,
                    secret: Some(Secret {
                        kind: "REFERENCE".into(),
                        reference: Some(SecretReference {
                            name: path.clone(),
                            key: None,
                        }),
                    }),
                },
            });
        }
        let environment = Some(Environment { variables: vars });
        let (command, container) = match &self.launch {
            LaunchMode::Docker { image, force_pull } => {
                let mut volumes = vec![ro("/var/run/docker.sock")];
                volumes.extend(self.log_dirs.iter().map(|d| ro(d)));
                (
                    CommandInfo {
                        shell: Some(false),
                        arguments: vec!["agent".into()],
                        environment,
                        ..CommandInfo::default()
                    },
                    Some(ContainerInfo {
                        kind: ContainerType::Docker,
                        docker: Some(DockerInfo {
                            image: image.clone(),
                            network: Some(DockerNetwork::Host),
                            privileged: Some(false),
                            force_pull_image: Some(*force_pull),
                            parameters: Vec::new(),
                            port_mappings: Vec::new(),
                        }),
                        mesos: None,
                        volumes,
                        network_infos: Vec::new(),
                        linux_info: None,
                        hostname: None,
                    }),
                )
            }
            LaunchMode::Command { command } => (
                CommandInfo {
                    shell: Some(true),
                    value: Some(command.clone()),
                    uris: vec![CommandUri {
                        value: self.artifact_uri(),
                        executable: Some(true),
                        extract: Some(false),
                        cache: Some(false),
                        output_file: Some("logstash-mesos".into()),
                    }],
                    environment,
                    ..CommandInfo::default()
                },
                None,
            ),
        };
        TaskInfo {
            name: TASK_NAME.into(),
            task_id: task_id.clone(),
            agent_id: agent_id.clone(),
            resources,
            command: Some(command),
            executor: None,
            container,
            health_check: None,
            check: None,
            kill_policy: Some(KillPolicy {
                grace_period: Some(DurationInfo {
                    nanoseconds: i64::try_from(self.kill_grace_secs.saturating_mul(1_000_000_000))
                        .unwrap_or(i64::MAX),
                }),
            }),
            labels: Some(Labels {
                labels: vec![Label {
                    key: FINGERPRINT_LABEL.into(),
                    value: Some(self.fingerprint()),
                }],
            }),
            discovery,
            data: None,
            max_completion_time: None,
            limits: None,
        }
    }
}

/// What [`AgentSpec::build_with`] puts in a task besides the spec.
#[derive(Debug, Clone)]
pub struct TaskPorts<'a> {
    pub resources: Vec<Resource>,
    /// The agent's status port (`LOGSTASH_MESOS_AGENT_PORT`).
    pub agent_port: Option<u64>,
    pub inputs: &'a [super::ports::AssignedPort],
    pub discovery: Option<crate::proto::DiscoveryInfo>,
}

/// The offer's agent as `[scheme://]host:port` for the `mesos` input: from the offer's
/// `url` (its `address.ip`, else `address.hostname`, and `port`; `https` kept), else the
/// offer's hostname on Mesos's default agent port 5051.
pub fn agent_endpoint(offer: &crate::proto::Offer) -> String {
    let from_url = offer.url.as_ref().and_then(|u| {
        let a = u.get("address")?;
        let host = a
            .get("ip")
            .and_then(|v| v.as_str())
            .or_else(|| a.get("hostname").and_then(|v| v.as_str()))
            .filter(|h| !h.is_empty())?;
        let port = a.get("port").and_then(|v| v.as_u64()).unwrap_or(5051);
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Some(match u.get("scheme").and_then(|v| v.as_str()) {
            Some("https") => format!("https://{host}:{port}"),
            _ => format!("{host}:{port}"),
        })
    });
    from_url.unwrap_or_else(|| format!("{}:5051", offer.hostname))
}

fn var(name: &str, value: &str) -> Variable {
    Variable {
        name: name.into(),
        kind: None,
        value: Some(value.into()),
        secret: None,
    }
}

fn ro(path: &str) -> Volume {
    Volume {
        container_path: path.into(),
        mode: VolumeMode::Ro,
        host_path: Some(path.into()),
        source: None,
        image: None,
    }
}

/// Task ids must be unique, ≤255 chars, and free of `/`, `\` and control characters.
pub fn task_id(hostname: &str, instance: &str, seq: u64) -> Id {
    let host: String = hostname
        .chars()
        .take(180)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Id::new(format!("{TASK_ID_PREFIX}{host}.{instance}-{seq}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{api_dir, normalize};
    use serde_json::Value;

    fn spec(launch: LaunchMode) -> AgentSpec {
        AgentSpec {
            cpus: 0.5,
            mem: 256.0,
            ports: 0,
            launch,
            scheduler_url: "http://sched:8080".into(),
            log_dirs: vec!["/var/lib/docker/containers".into()],
            kill_grace_secs: 30,
            env: vec![],
        }
    }

    /// Extra variables: plain ones as values, secret-store paths as Mesos `SECRET`
    /// references (mesos.proto `Environment.Variable`), never as values.
    #[test]
    fn extra_env_values_and_secret_references() {
        let mut s = spec(LaunchMode::Command {
            command: "./logstash-mesos agent".into(),
        });
        s.env = vec![
            (
                "ELASTICSEARCH_HOSTS".into(),
                EnvValue::Value("http://es:9200".into()),
            ),
            (
                "ELASTICSEARCH_PASSWORD".into(),
                EnvValue::SecretRef("logstash-mesos/es-password".into()),
            ),
        ];
        let t = s.build(
            &Id::new("t"),
            &Id::new("a"),
            "node-1",
            "10.0.0.1:5051",
            vec![],
        );
        let v = serde_json::to_value(&t).expect("ser");
        let vars = v
            .pointer("/command/environment/variables")
            .and_then(Value::as_array)
            .expect("env");
        let find = |n: &str| vars.iter().find(|v| v["name"] == n).cloned().expect(n);
        assert_eq!(find("ELASTICSEARCH_HOSTS")["value"], "http://es:9200");
        assert!(find("ELASTICSEARCH_HOSTS").get("type").is_none());
        let pw = find("ELASTICSEARCH_PASSWORD");
        assert_eq!(pw["type"], "SECRET");
        assert!(pw.get("value").is_none());
        assert_eq!(pw["secret"]["type"], "REFERENCE");
        assert_eq!(
            pw["secret"]["reference"]["name"],
            "logstash-mesos/es-password"
        );
        // A changed secret path or value rolls the agents.
        let before = s.fingerprint();
        s.env[0].1 = EnvValue::Value("http://es2:9200".into());
        assert_ne!(before, s.fingerprint());
    }

    /// Our Docker task has the shape of the shared Docker example: the same keys at
    /// the same nesting (values differ), so no field is misnamed.
    #[test]
    fn docker_task_matches_shared_example_shape() {
        let text =
            std::fs::read_to_string(api_dir().join("examples/accept-launch-docker-task.json"))
                .expect("read");
        let v: Value = serde_json::from_str(&text).expect("json");
        let example = &v["body"]["accept"]["operations"][0]["launch"]["task_infos"][0];
        let res = vec![
            Resource::scalar("cpus", 0.5),
            Resource::scalar("mem", 256.0),
        ];
        let ours = spec(LaunchMode::Docker {
            image: "img:1".into(),
            force_pull: false,
        })
        .build(&Id::new("t"), &Id::new("a"), "node-1", "10.0.0.1:5051", res);
        let ours = normalize(&serde_json::to_value(&ours).expect("ser"));
        for path in [
            "/container/type",
            "/container/docker/network",
            "/container/docker/image",
            "/container/volumes/0/container_path",
            "/container/volumes/0/host_path",
            "/command/shell",
            "/command/environment/variables/0/name",
            "/kill_policy/grace_period/nanoseconds",
        ] {
            assert!(example.pointer(path).is_some(), "example lacks {path}");
            assert!(ours.pointer(path).is_some(), "ours lacks {path}");
        }
        assert_eq!(
            ours.pointer("/container/docker/network"),
            Some(&Value::from("HOST"))
        );
        assert_eq!(
            ours.pointer("/container/volumes/0/host_path"),
            Some(&Value::from("/var/run/docker.sock"))
        );
        assert_eq!(
            ours.pointer("/container/volumes/0/mode"),
            Some(&Value::from("RO"))
        );
        assert_eq!(
            ours.pointer("/container/volumes/1/mode"),
            Some(&Value::from("RO"))
        );
        let env = ours
            .pointer("/command/environment/variables")
            .and_then(Value::as_array)
            .expect("env");
        assert!(env
            .iter()
            .any(|v| v["name"] == ENV_AGENT_ID && v["value"] == "a"));
        assert!(env
            .iter()
            .any(|v| v["name"] == ENV_SCHEDULER_URL && v["value"] == "http://sched:8080"));
    }

    #[test]
    fn command_task_fetches_binary_from_scheduler() {
        let t = spec(LaunchMode::Command {
            command: "./logstash-mesos agent".into(),
        })
        .build(&Id::new("t"), &Id::new("a"), "n", "n:5051", vec![]);
        let cmd = t.command.expect("command");
        assert_eq!(cmd.value.as_deref(), Some("./logstash-mesos agent"));
        assert_eq!(
            cmd.uris[0].value,
            "http://sched:8080/v1/artifacts/logstash-mesos"
        );
        assert_eq!(cmd.uris[0].executable, Some(true));
        assert!(t.container.is_none());
    }

    #[test]
    fn fingerprint_tracks_task_shape_not_scheduler_url() {
        let a = spec(LaunchMode::Docker {
            image: "img:1".into(),
            force_pull: false,
        });
        let mut b = a.clone();
        b.scheduler_url = "http://elsewhere:1".into();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.launch = LaunchMode::Docker {
            image: "img:2".into(),
            force_pull: false,
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn task_ids_are_sanitised() {
        assert_eq!(task_id("a/b c", "x", 3).value, "logstash-agent.a_b_c.x-3");
    }

    /// The Docker task learns its node's agent from the offer: `url.address` (the shape
    /// of `../shared/mesos/scheduler-api/examples/offers-resource-shapes.json`), the IP
    /// before the hostname; without `url`, the hostname on 5051.
    #[test]
    fn agent_endpoint_comes_from_the_offer() {
        let text = std::fs::read_to_string(api_dir().join("examples/offers-resource-shapes.json"))
            .expect("read");
        let v: Value = serde_json::from_str(&text).expect("json");
        let record = v["recordio_record"].as_str().expect("record");
        let body = record.split_once('\n').expect("length prefix").1;
        let ev: Value = serde_json::from_str(body).expect("event");
        let mut offer: crate::proto::Offer =
            serde_json::from_value(ev["offers"]["offers"][0].clone()).expect("offer");
        assert_eq!(agent_endpoint(&offer), "10.0.1.5:5051");
        offer.url = None;
        assert_eq!(agent_endpoint(&offer), "agent-1.example.com:5051");
        let t = spec(LaunchMode::Docker {
            image: "img:1".into(),
            force_pull: false,
        })
        .build(
            &Id::new("t"),
            &Id::new("a"),
            "n",
            &agent_endpoint(&offer),
            vec![],
        );
        let vars = t
            .command
            .and_then(|c| c.environment)
            .expect("env")
            .variables;
        assert!(vars
            .iter()
            .any(|v| v.name == ENV_MESOS_AGENT
                && v.value.as_deref() == Some("agent-1.example.com:5051")));
    }
}
