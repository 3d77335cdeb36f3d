//! The TaskInfo for one agent: a Docker-containerizer task or a command task.

use serde::{Deserialize, Serialize};

use crate::proto::{
    CommandInfo, CommandUri, ContainerInfo, ContainerType, DockerInfo, DockerNetwork, DurationInfo,
    Environment, Id, KillPolicy, Label, Labels, Resource, TaskInfo, Variable, Volume, VolumeMode,
};

pub const ENV_AGENT_ID: &str = "LOGSTASH_MESOS_AGENT_ID";
pub const ENV_SCHEDULER_URL: &str = "LOGSTASH_MESOS_SCHEDULER_URL";
pub const ENV_NODE: &str = "LOGSTASH_MESOS_NODE";
pub const ENV_TASK_ID: &str = "LOGSTASH_MESOS_TASK_ID";
pub const ENV_AGENT_PORT: &str = "LOGSTASH_MESOS_AGENT_PORT";
/// Where the agent serves `GET /status`: the port taken from the offer (host network).
pub const ENV_STATUS_BIND: &str = "LOGSTASH_MESOS_STATUS_BIND";
/// Mesos itself does not set it; Marathon's convention, which tools (and the agent's
/// status report) expect.
pub const ENV_MESOS_TASK_ID: &str = "MESOS_TASK_ID";
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
        resources: Vec<Resource>,
    ) -> TaskInfo {
        let mut vars = vec![
            var(ENV_AGENT_ID, &agent_id.value),
            var(ENV_SCHEDULER_URL, &self.scheduler_url),
            var(ENV_NODE, hostname),
            var(ENV_TASK_ID, &task_id.value),
            var(ENV_MESOS_TASK_ID, &task_id.value),
        ];
        if let Some(port) = super::resources::first_port(&resources) {
            vars.push(var(ENV_AGENT_PORT, &port.to_string()));
            vars.push(var(ENV_STATUS_BIND, &format!("0.0.0.0:{port}")));
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
            discovery: None,
            data: None,
            max_completion_time: None,
            limits: None,
        }
    }
}

fn var(name: &str, value: &str) -> Variable {
    Variable {
        name: name.into(),
        value: Some(value.into()),
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
        }
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
        .build(&Id::new("t"), &Id::new("a"), "node-1", res);
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
        .build(&Id::new("t"), &Id::new("a"), "n", vec![]);
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
}
