//! Fills the node's [`SenderDirectory`] from the local Mesos agent's `GET /state`: each
//! running task's own container IPs (the last status's `container_status.network_infos`)
//! → the task. The agent's own IP (from `pid`, `slave(1)@10.0.1.23:5051`) is left out:
//! host-network tasks all report it, so it names no single task.

use super::api::{AgentClient, State};
use logstash_mesos_pipeline::net::sender::{SenderDirectory, SenderTask};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The agent's own address from `pid`.
fn agent_ip(state: &State) -> Option<IpAddr> {
    let (_, addr) = state.pid.rsplit_once('@')?;
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    host.trim_matches(['[', ']']).parse().ok()
}

/// `(ip, task)` for every running task's own addresses, and the addresses to exclude.
pub fn pairs(state: &State) -> (Vec<(IpAddr, SenderTask)>, Vec<IpAddr>) {
    let mut out = Vec::new();
    for fw in &state.frameworks {
        for ex in &fw.executors {
            for t in ex.tasks.iter().filter(|t| !t.is_terminal()) {
                let Some(cs) = t.statuses.last().and_then(|s| s.container_status.as_ref()) else {
                    continue;
                };
                for ip in cs
                    .network_infos
                    .iter()
                    .flat_map(|n| &n.ip_addresses)
                    .filter_map(|a| a.ip_address.as_deref()?.parse::<IpAddr>().ok())
                {
                    out.push((
                        ip,
                        SenderTask {
                            task_id: t.id.clone(),
                            task_name: t.name.clone(),
                            framework_id: fw.id.clone(),
                            framework_name: fw.name.clone(),
                            executor_id: if t.executor_id.is_empty() {
                                ex.id.clone()
                            } else {
                                t.executor_id.clone()
                            },
                        },
                    ));
                }
            }
        }
    }
    (out, agent_ip(state).into_iter().collect())
}

/// Starts the directory of this node when the process runs under Mesos (`--mesos-agent`,
/// or the environment Mesos gives its tasks); an empty one otherwise.
pub fn for_node(flag: Option<&str>) -> Arc<SenderDirectory> {
    let dir = Arc::new(SenderDirectory::default());
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let under_mesos = flag.is_some()
        || [
            "LOGSTASH_MESOS_MESOS_AGENT",
            "MESOS_AGENT_ENDPOINT",
            "MESOS_TASK_ID",
        ]
        .iter()
        .any(|k| env(k).is_some());
    if !under_mesos {
        return dir;
    }
    let addr = flag
        .map(str::to_string)
        .unwrap_or_else(super::default_agent);
    let client = super::api::normalize_base(&addr)
        .map_err(|e| e.to_string())
        .and_then(|base| {
            AgentClient::new(super::api::ClientConfig {
                base,
                timeout: Duration::from_secs(10),
                ..Default::default()
            })
            .map_err(|e| e.to_string())
        });
    match client {
        Ok(c) => spawn_refresh(c, dir.clone(), Duration::from_secs(10)),
        Err(e) => {
            tracing::warn!(agent = %addr, error = %e, "network inputs will not name the Mesos tasks of senders")
        }
    }
    dir
}

/// Refreshes `dir` from the agent every `every` (a failed poll keeps the last map).
pub fn spawn_refresh(client: AgentClient, dir: Arc<SenderDirectory>, every: Duration) {
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            match client.state().await {
                Ok(state) => {
                    let (p, exclude) = pairs(&state);
                    dir.replace(p, &exclude);
                    warned = false;
                }
                Err(e) if !warned => {
                    tracing::warn!(error = %e, agent = client.base(), "cannot read the Mesos agent's state; senders keep their last task mapping");
                    warned = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_state_maps_the_bridged_task_only() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/mesos/agent-api/state.json"
        ))
        .expect("shared state.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let body = v.get("body").cloned().unwrap_or(v);
        let state: State = serde_json::from_value(body).expect("state");
        let (p, exclude) = pairs(&state);
        assert_eq!(exclude, vec!["10.0.1.23".parse::<IpAddr>().unwrap()]);
        let dir = SenderDirectory::default();
        dir.replace(p, &exclude);
        assert_eq!(dir.len(), 1);
        let t = dir
            .lookup("172.17.0.3".parse().unwrap())
            .expect("nginx mapped");
        assert!(t.task_id.starts_with("nginx."), "{t:?}");
        assert_eq!(t.framework_name, "marathon");
        assert!(dir.lookup("10.0.1.23".parse().unwrap()).is_none());
    }
}
