//! The host ports of the configs' network inputs (`tcp`, `udp`, `syslog`, `beats`,
//! `http`): what the configs ask for ([`PortPlan`], built by `crate::discovery` from the
//! config texts), what one agent task got out of its offer ([`AssignedPort`]), the
//! `DiscoveryInfo` that publishes them (Mesos-DNS / DC/OS SRV records), and the per-node
//! endpoints `GET /v1/endpoints` serves.
//!
//! Marathon's model: a config's `port => 514` is a fixed host port (`requirePorts`): the
//! task is launched only on an offer that has exactly that port. `port =>
//! "${LSM_PORT_<NAME>}"` is a dynamic port: any offered port (inside
//! `--input-port-range` when set), handed to the agent as the variable `LSM_PORT_<NAME>`
//! of its task, which the config's `${...}` substitution reads.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::proto::{DiscoveryInfo, Label, Labels, Port, Ports, Visibility};

/// Variables `LSM_PORT_<NAME>` in a config's `port` declare a dynamic port.
pub const ENV_PORT_PREFIX: &str = "LSM_PORT_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// How an input's host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortRequest {
    /// The config's `port` (or the plugin's default): exactly this host port.
    Fixed(u16),
    /// `port => "${LSM_PORT_<NAME>}"`: an offered port, passed in that variable.
    Dynamic(String),
}

/// One network input found in the configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPort {
    /// The discovery port name: the input's `id`, else its plugin name, as a DNS label,
    /// made unique among the inputs (`tcp`, `tcp-2`).
    pub name: String,
    pub plugin: String,
    pub pipeline: String,
    pub config: String,
    /// `syslog` listens on both.
    pub protocols: Vec<Protocol>,
    pub request: PortRequest,
    /// The input's `host` (bind address) when it is not all interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// True for a bind address only the node itself reaches: such a port is reserved (no
/// other task may take it) but not published.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl InputPort {
    pub fn published(&self) -> bool {
        !self.host.as_deref().is_some_and(is_loopback)
    }
}

/// What all configs of all pipelines need in host ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPlan {
    pub inputs: Vec<InputPort>,
    /// What cannot be reserved or published as written (e.g. `port => 0`), one line each.
    #[serde(default)]
    pub problems: Vec<String>,
}

impl PortPlan {
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The fixed host ports, each once (a `tcp` and a `udp` input may share a number:
    /// the `ports` resource has no protocol).
    pub fn fixed_ports(&self) -> Vec<u64> {
        let set: BTreeSet<u64> = self
            .inputs
            .iter()
            .filter_map(|i| match i.request {
                PortRequest::Fixed(p) => Some(u64::from(p)),
                PortRequest::Dynamic(_) => None,
            })
            .collect();
        set.into_iter().collect()
    }

    /// The dynamic ports' variables, each once, sorted: the order of the ports `pick`
    /// returns for them.
    pub fn dynamic_vars(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .inputs
            .iter()
            .filter_map(|i| match &i.request {
                PortRequest::Dynamic(v) => Some(v.as_str()),
                PortRequest::Fixed(_) => None,
            })
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// What the tasks depend on (ports, names, protocols; not which config file holds an
    /// input): a change of it relaunches the agents.
    pub fn digest_text(&self) -> String {
        let key: Vec<_> = self
            .inputs
            .iter()
            .map(|i| (&i.name, &i.plugin, &i.protocols, &i.request, &i.host))
            .collect();
        serde_json::to_string(&key).unwrap_or_default()
    }

    /// One assigned port per input and protocol; `dynamic[i]` is the port of
    /// `dynamic_vars()[i]`.
    pub fn assign(&self, dynamic: &[u64]) -> Vec<AssignedPort> {
        let vars = self.dynamic_vars();
        let mut out = Vec::new();
        for i in &self.inputs {
            let (port, env) = match &i.request {
                PortRequest::Fixed(p) => (Some(u64::from(*p)), None),
                PortRequest::Dynamic(v) => (
                    vars.iter()
                        .position(|x| x == v)
                        .and_then(|k| dynamic.get(k).copied()),
                    Some(v.clone()),
                ),
            };
            let Some(port) = port else { continue };
            for proto in &i.protocols {
                out.push(AssignedPort {
                    name: i.name.clone(),
                    plugin: i.plugin.clone(),
                    pipeline: i.pipeline.clone(),
                    protocol: *proto,
                    port,
                    env: env.clone(),
                    host: i.host.clone(),
                });
            }
        }
        out
    }
}

/// One input's port on one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedPort {
    pub name: String,
    pub plugin: String,
    pub pipeline: String,
    pub protocol: Protocol,
    pub port: u64,
    /// The variable the agent reads it from (dynamic ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl AssignedPort {
    pub fn published(&self) -> bool {
        !self.host.as_deref().is_some_and(is_loopback)
    }
}

/// Where a task runs and what it listens on; kept with its record (it survives a
/// scheduler restart, when no offer for a served node comes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default)]
    pub ports: Vec<AssignedPort>,
    /// Every host port of the task (the inputs' and the agent's status port).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved: Vec<u64>,
}

/// The task's `DiscoveryInfo`: named ports per input and protocol, so Mesos-DNS serves
/// `_<port name>._<name>._<tcp|udp>.<framework>.mesos` (and DC/OS the same). Ports
/// bound to loopback are left out.
pub fn discovery_info(
    name: &str,
    visibility: &Visibility,
    ports: &[AssignedPort],
) -> DiscoveryInfo {
    let ports: Vec<Port> = ports
        .iter()
        .filter(|p| p.published())
        .filter_map(|p| {
            Some(Port {
                number: u32::try_from(p.port).ok()?,
                name: Some(p.name.clone()),
                protocol: Some(p.protocol.as_str().to_string()),
                visibility: None,
                labels: Some(Labels {
                    labels: vec![
                        Label {
                            key: "plugin".into(),
                            value: Some(p.plugin.clone()),
                        },
                        Label {
                            key: "pipeline".into(),
                            value: Some(p.pipeline.clone()),
                        },
                    ],
                }),
            })
        })
        .collect();
    DiscoveryInfo {
        visibility: visibility.clone(),
        name: Some(name.to_string()),
        environment: None,
        location: None,
        version: None,
        ports: (!ports.is_empty()).then_some(Ports { ports }),
        labels: None,
    }
}

/// One input port as `GET /v1/endpoints` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointPort {
    pub name: String,
    pub plugin: String,
    pub pipeline: String,
    pub protocol: Protocol,
    pub port: u64,
}

/// A node as `GET /v1/endpoints` shows it: every node known from offers, `running`
/// when its agent task is TASK_RUNNING (only those are listed and chosen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeEndpoint {
    pub hostname: String,
    pub agent_id: Option<String>,
    pub task_id: Option<String>,
    pub ip: Option<String>,
    pub zone: Option<String>,
    pub region: Option<String>,
    #[serde(skip)]
    pub running: bool,
    /// Why the agent still runs with the previous ports (see `/v1/endpoints`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    pub inputs: Vec<EndpointPort>,
}

impl NodeEndpoint {
    fn is(&self, agent_id: Option<&str>, hostname: Option<&str>) -> bool {
        agent_id.is_some_and(|a| self.agent_id.as_deref() == Some(a))
            || hostname.is_some_and(|h| self.hostname.eq_ignore_ascii_case(h))
    }
}

/// Why [`nearest`] picked its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Nearness {
    /// The node asked about runs an agent.
    SameNode,
    /// Another node of its fault-domain zone (the offers' `domain`).
    SameZone,
    SameRegion,
    /// Any running node (the node is unknown, or nothing is closer).
    Any,
}

/// The running node nearest to the one named by agent id or hostname: itself when it
/// runs an agent, else one in its zone, its region, or anywhere. Among equals the choice
/// is a hash of the name asked about, so different nodes spread over the candidates and
/// each keeps its answer while the set does not change.
pub fn nearest<'a>(
    all: &'a [NodeEndpoint],
    agent_id: Option<&str>,
    hostname: Option<&str>,
) -> Option<(&'a NodeEndpoint, Nearness)> {
    let me = all.iter().find(|n| n.is(agent_id, hostname));
    if let Some(me) = me.filter(|n| n.running) {
        return Some((me, Nearness::SameNode));
    }
    let running: Vec<&NodeEndpoint> = all.iter().filter(|n| n.running).collect();
    let key = agent_id.or(hostname).unwrap_or_default();
    let pick = |c: Vec<&'a NodeEndpoint>| -> Option<&'a NodeEndpoint> {
        if c.is_empty() {
            return None;
        }
        let n = u64::try_from(c.len()).unwrap_or(1);
        let i = usize::try_from(fnv(key) % n).unwrap_or(0);
        c.get(i).copied()
    };
    if let Some(me) = me {
        if let Some(zone) = &me.zone {
            let c: Vec<_> = running
                .iter()
                .copied()
                .filter(|n| n.zone.as_ref() == Some(zone) && n.region == me.region)
                .collect();
            if let Some(n) = pick(c) {
                return Some((n, Nearness::SameZone));
            }
        }
        if let Some(region) = &me.region {
            let c: Vec<_> = running
                .iter()
                .copied()
                .filter(|n| n.region.as_ref() == Some(region))
                .collect();
            if let Some(n) = pick(c) {
                return Some((n, Nearness::SameRegion));
            }
        }
    }
    pick(running).map(|n| (n, Nearness::Any))
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, plugin: &str, protos: &[Protocol], req: PortRequest) -> InputPort {
        InputPort {
            name: name.into(),
            plugin: plugin.into(),
            pipeline: "main".into(),
            config: "c".into(),
            protocols: protos.to_vec(),
            request: req,
            host: None,
        }
    }

    #[test]
    fn fixed_and_dynamic_ports_are_assigned_per_protocol() {
        let plan = PortPlan {
            inputs: vec![
                input(
                    "syslog",
                    "syslog",
                    &[Protocol::Tcp, Protocol::Udp],
                    PortRequest::Fixed(514),
                ),
                input(
                    "app",
                    "tcp",
                    &[Protocol::Tcp],
                    PortRequest::Dynamic("LSM_PORT_B".into()),
                ),
                input(
                    "metrics",
                    "udp",
                    &[Protocol::Udp],
                    PortRequest::Dynamic("LSM_PORT_A".into()),
                ),
                input("u514", "udp", &[Protocol::Udp], PortRequest::Fixed(514)),
            ],
            problems: vec![],
        };
        assert_eq!(plan.fixed_ports(), vec![514]);
        assert_eq!(plan.dynamic_vars(), vec!["LSM_PORT_A", "LSM_PORT_B"]);
        let got = plan.assign(&[31000, 31001]);
        let short: Vec<(&str, &str, u64, Option<&str>)> = got
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.protocol.as_str(),
                    p.port,
                    p.env.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            short,
            vec![
                ("syslog", "tcp", 514, None),
                ("syslog", "udp", 514, None),
                ("app", "tcp", 31001, Some("LSM_PORT_B")),
                ("metrics", "udp", 31000, Some("LSM_PORT_A")),
                ("u514", "udp", 514, None),
            ]
        );
    }

    #[test]
    fn discovery_json_has_the_mesos_proto_shape() {
        let plan = PortPlan {
            inputs: vec![
                input(
                    "syslog",
                    "syslog",
                    &[Protocol::Tcp, Protocol::Udp],
                    PortRequest::Fixed(514),
                ),
                InputPort {
                    host: Some("127.0.0.1".into()),
                    ..input("local", "tcp", &[Protocol::Tcp], PortRequest::Fixed(7000))
                },
            ],
            problems: vec![],
        };
        let d = discovery_info("logstash", &Visibility::Framework, &plan.assign(&[]));
        let v = serde_json::to_value(&d).expect("ser");
        assert_eq!(
            v,
            serde_json::json!({
                "visibility": "FRAMEWORK",
                "name": "logstash",
                "ports": {"ports": [
                    {"number": 514, "name": "syslog", "protocol": "tcp",
                     "labels": {"labels": [{"key": "plugin", "value": "syslog"}, {"key": "pipeline", "value": "main"}]}},
                    {"number": 514, "name": "syslog", "protocol": "udp",
                     "labels": {"labels": [{"key": "plugin", "value": "syslog"}, {"key": "pipeline", "value": "main"}]}}
                ]}
            })
        );
        let back: DiscoveryInfo = serde_json::from_value(v).expect("de");
        assert_eq!(back, d);
        // Without ports, no `ports` message at all.
        let bare = discovery_info("logstash", &Visibility::External, &[]);
        assert_eq!(
            serde_json::to_value(&bare).expect("ser"),
            serde_json::json!({"visibility": "EXTERNAL", "name": "logstash"})
        );
    }

    fn node(host: &str, running: bool, zone: Option<&str>, region: Option<&str>) -> NodeEndpoint {
        NodeEndpoint {
            hostname: host.into(),
            agent_id: Some(format!("a-{host}")),
            task_id: None,
            ip: None,
            zone: zone.map(str::to_string),
            region: region.map(str::to_string),
            running,
            pending: None,
            inputs: vec![],
        }
    }

    #[test]
    fn nearest_prefers_the_node_then_its_zone_then_region() {
        let all = vec![
            node("a", true, Some("z1"), Some("r1")),
            node("b", false, Some("z1"), Some("r1")),
            node("c", true, Some("z2"), Some("r1")),
            node("d", true, Some("z9"), Some("r2")),
            node("e", false, Some("z8"), Some("r3")),
        ];
        let (n, why) = nearest(&all, None, Some("a")).expect("a");
        assert_eq!((n.hostname.as_str(), why), ("a", Nearness::SameNode));
        let (n, why) = nearest(&all, Some("a-b"), None).expect("b");
        assert_eq!((n.hostname.as_str(), why), ("a", Nearness::SameZone));
        let all2: Vec<_> = all.iter().filter(|n| n.hostname != "a").cloned().collect();
        let (n, why) = nearest(&all2, None, Some("b")).expect("b");
        assert_eq!((n.hostname.as_str(), why), ("c", Nearness::SameRegion));
        let (n, why) = nearest(&all, None, Some("e")).expect("e");
        assert!(n.running);
        assert_eq!(why, Nearness::Any);
        // Unknown names get a running node, the same one each time.
        let first = nearest(&all, None, Some("unknown"))
            .expect("any")
            .0
            .hostname
            .clone();
        for _ in 0..3 {
            assert_eq!(
                nearest(&all, None, Some("unknown"))
                    .expect("any")
                    .0
                    .hostname,
                first
            );
        }
        let none: Vec<NodeEndpoint> = vec![node("x", false, None, None)];
        assert!(nearest(&none, None, Some("x")).is_none());
    }

    #[test]
    fn loopback_binds_are_not_published() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "10.0.0.1", "::", "node-1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
