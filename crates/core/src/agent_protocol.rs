//! What the scheduler and its agents say to each other, written once for both sides: the
//! environment the scheduler gives every agent task, the config set agents long-poll, and
//! the report they post back.
//!
//! ```text
//! agent  ── GET  {PIPELINE_PATH}?since=N&timeout=S ──▶ scheduler   → ConfigSet
//! agent  ── POST {STATUS_PATH} (AgentReport)       ──▶ scheduler   → 204
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Mesos agent (node) id the task runs on; stamped on events as `[mesos][agent][id]`.
pub const ENV_AGENT_ID: &str = "LOGSTASH_MESOS_AGENT_ID";
/// The scheduler's base URL, where the agent takes its configs from.
pub const ENV_SCHEDULER_URL: &str = "LOGSTASH_MESOS_SCHEDULER_URL";
/// The scheduler's API token (`--api-token`), for the agent's calls to it.
pub const ENV_API_TOKEN: &str = "LOGSTASH_MESOS_API_TOKEN";
/// The scheduler's API Basic credentials (`--api-user`/`--api-password`), used by the
/// agent when no token is given.
pub const ENV_API_USER: &str = "LOGSTASH_MESOS_API_USER";
pub const ENV_API_PASSWORD: &str = "LOGSTASH_MESOS_API_PASSWORD";
/// The node's hostname as Mesos knows it (the key of the agent's reports).
pub const ENV_NODE: &str = "LOGSTASH_MESOS_NODE";
/// The agent task's own id.
pub const ENV_TASK_ID: &str = "LOGSTASH_MESOS_TASK_ID";
/// The port reserved for the agent from the offer: its `/status` endpoint listens there.
pub const ENV_AGENT_PORT: &str = "LOGSTASH_MESOS_AGENT_PORT";
/// The node's Mesos agent (`host:port`, from the offer's `url`): where the `mesos` input
/// reads the agent API. Mesos sets `MESOS_AGENT_ENDPOINT` for command tasks only; Docker
/// containerizer tasks get this one from the scheduler.
pub const ENV_MESOS_AGENT: &str = "LOGSTASH_MESOS_MESOS_AGENT";
/// Set by Mesos on every task; a fallback for [`ENV_TASK_ID`].
pub const ENV_MESOS_TASK_ID: &str = "MESOS_TASK_ID";

/// `GET` with `since=<version>&timeout=<seconds>`: answers with the first [`ConfigSet`]
/// newer than `since`, or the current one when the timeout passes.
pub const PIPELINE_PATH: &str = "/v1/pipeline";
/// `POST` an [`AgentReport`]; answered 204.
pub const STATUS_PATH: &str = "/v1/agents/status";

/// The configs every agent runs, as one versioned set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfigSet {
    /// Increases with every accepted change.
    pub version: u64,
    /// Config name → Logstash config text; the configs of one pipeline are concatenated
    /// in name order (as `-f conf.d/` does).
    pub configs: BTreeMap<String, String>,
    /// Config name → the pipeline it belongs to, for configs outside [`DEFAULT_PIPELINE`]
    /// (older schedulers send none: everything is one pipeline).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pipelines: BTreeMap<String, String>,
}

/// The pipeline of configs that name none.
pub const DEFAULT_PIPELINE: &str = "main";

impl ConfigSet {
    /// The pipeline config `name` belongs to.
    pub fn pipeline_of(&self, name: &str) -> &str {
        self.pipelines
            .get(name)
            .map_or(DEFAULT_PIPELINE, String::as_str)
    }

    /// Pipeline id → its configs (name, text) in name order.
    pub fn grouped(&self) -> BTreeMap<&str, Vec<(&str, &str)>> {
        let mut out: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for (name, text) in &self.configs {
            out.entry(self.pipeline_of(name))
                .or_default()
                .push((name.as_str(), text.as_str()));
        }
        out
    }
}

/// What an agent posts to [`STATUS_PATH`] every few seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    /// Hostname of the node the agent runs on.
    pub node: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// Containers whose logs are being streamed.
    #[serde(default)]
    pub containers: u64,
    #[serde(default)]
    pub events_per_second: f64,
    /// Seconds the unacknowledged backlog takes to drain at the current rate.
    #[serde(default)]
    pub lag_seconds: f64,
    /// Errors since the agent started.
    #[serde(default)]
    pub errors: u64,
    /// The config version the agent runs.
    #[serde(default)]
    pub config_version: u64,
    /// The agent binary's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Each stream the agent reads (container stdout/stderr, files, sandboxes); `None`
    /// from agents that do not report them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<StreamReport>>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// One stream in an [`AgentReport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// The container (or Mesos task) the stream belongs to.
    pub container: String,
    /// `stdout`, `stderr`, `file`, ...
    pub stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The position up to which every line was delivered (a byte offset, or a timestamp
    /// for the logs API); a bare number is read too.
    #[serde(deserialize_with = "string_or_number")]
    pub offset: String,
    /// Lines read and not yet acknowledged.
    pub lag_events: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides read the other's JSON: the shapes are pinned here.
    #[test]
    fn wire_shapes() {
        let set: ConfigSet =
            serde_json::from_str(r#"{"version":3,"configs":{"a":"input { stdin {} }"}}"#)
                .expect("set");
        assert_eq!(set.version, 3);
        assert_eq!(set.configs["a"], "input { stdin {} }");
        let r: AgentReport = serde_json::from_str(r#"{"node":"n1"}"#).expect("minimal report");
        assert_eq!(r.node, "n1");
        assert_eq!(r.config_version, 0);
        let back = serde_json::to_value(&r).expect("json");
        assert_eq!(back["node"], "n1");
        assert!(back.get("lag_seconds").is_some());
        // Older agents send neither version nor streams: they stay absent, not empty.
        assert!(r.agent_version.is_none() && r.streams.is_none());
        assert!(back.get("streams").is_none());
        let r: AgentReport = serde_json::from_str(
            r#"{"node":"n1","agent_version":"0.1.0","streams":[{"container":"web","stream":"stdout","offset":"42","lag_events":3,"last_error":"boom"},{"container":"web","stream":"stderr","offset":7,"lag_events":0}]}"#,
        )
        .expect("report with streams");
        let s = &r.streams.as_ref().expect("streams")[0];
        assert_eq!(
            (s.container.as_str(), s.offset.as_str(), s.lag_events),
            ("web", "42", 3)
        );
        assert_eq!(s.last_error.as_deref(), Some("boom"));
        assert_eq!(r.streams.as_ref().expect("streams")[1].offset, "7");
    }
}
