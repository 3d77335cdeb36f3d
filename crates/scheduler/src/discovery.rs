//! Finds the network inputs of the config set (every config of every pipeline) with the
//! real Logstash parser, and keeps the driver's port plan ([`PortPlan`]) in step with the
//! accepted configs.
//!
//! What counts (Logstash 8 option names and defaults):
//! * `tcp` (TCP; none in `mode => client`), `udp` (UDP), `syslog` (TCP and UDP, port
//!   514), `beats` (TCP, 5044), `http` (TCP, 8080), `gelf` (UDP unless `use_udp =>
//!   false`, TCP with `use_tcp => true`, port 12201, `port_udp`/`port_tcp` per protocol);
//! * `port => 5140` (a number or a numeric string) is a fixed host port;
//!   `port => "${LSM_PORT_<NAME>}"` a dynamic one, chosen from the offer and handed to
//!   the agent in the task's variable `LSM_PORT_<NAME>`;
//! * `${VAR}` from `--agent-env` is resolved as on the node; other variables are unknown
//!   here (the node's environment) and read as empty;
//! * `host` is the bind address: loopback-only inputs get their port reserved but not
//!   published; `id` names the port (else the plugin name).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use logstash_mesos_pipeline::lang::ast::{Plugin, SectionKind, Stmt, ValueKind};
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};

use crate::configs::ConfigService;
use crate::driver::Shared;
use crate::sched::ports::{InputPort, PortPlan, PortRequest, Protocol, ENV_PORT_PREFIX};
use crate::store::ConfigSet;

/// A dynamic port variable reads as this (and the name) while the configs are scanned.
const MARK: char = '\u{1}';

/// What one network input plugin listens on: (protocols, its port option's text, the
/// plugin's default port; `None`: required). Empty for other plugins, and for `tcp` in
/// `mode => client` (it connects out).
fn sockets(p: &Plugin) -> Vec<(Vec<Protocol>, Option<String>, Option<u16>)> {
    use Protocol::{Tcp, Udp};
    let port = scalar(p, "port");
    let flag = |name: &str, default: bool| {
        scalar(p, name).map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
    };
    match p.name.as_str() {
        "tcp" if scalar(p, "mode").is_some_and(|m| m.trim().eq_ignore_ascii_case("client")) => {
            vec![]
        }
        "tcp" => vec![(vec![Tcp], port, None)],
        "udp" => vec![(vec![Udp], port, None)],
        "syslog" => vec![(vec![Tcp, Udp], port, Some(514))],
        "beats" => vec![(vec![Tcp], port, Some(5044))],
        "http" => vec![(vec![Tcp], port, Some(8080))],
        // UDP by default, TCP with `use_tcp`; `port_udp`/`port_tcp` override `port`.
        "gelf" => {
            let mut out = Vec::new();
            if flag("use_udp", true) {
                out.push((
                    vec![Udp],
                    scalar(p, "port_udp").or(port.clone()),
                    Some(12201),
                ));
            }
            if flag("use_tcp", false) {
                let tcp = scalar(p, "port_tcp").or(port);
                match out.first_mut() {
                    Some(udp) if udp.1 == tcp => udp.0.insert(0, Tcp),
                    _ => out.push((vec![Tcp], tcp, Some(12201))),
                }
            }
            out
        }
        _ => vec![],
    }
}

/// The text of a plugin option given as a string, number or bareword.
fn scalar(p: &Plugin, name: &str) -> Option<String> {
    let a = p.attributes.iter().rev().find(|a| a.name == name)?;
    match &a.value.kind {
        ValueKind::String(s) | ValueKind::Number(s) | ValueKind::Bareword(s) => Some(s.clone()),
        ValueKind::Array(v) if v.len() == 1 => match &v[0].kind {
            ValueKind::String(s) | ValueKind::Number(s) | ValueKind::Bareword(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A DNS label (what Mesos-DNS puts between `_` and `.`): lower case, `a-z0-9-`.
fn dns_label(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Parses one config; `${VAR}` of the agents' fixed environment as on the node, dynamic
/// port variables as markers, others unset (then, if that fails, empty).
fn parse_config(
    name: &str,
    text: &str,
    env: &Arc<BTreeMap<String, String>>,
) -> Option<logstash_mesos_pipeline::lang::ast::Config> {
    let sources = Sources::from_string(name, text);
    let lookup = |fallback: bool| {
        let env = env.clone();
        ParseOptions::with_env(move |var| {
            if var.starts_with(ENV_PORT_PREFIX) {
                return Some(format!("{MARK}{var}{MARK}"));
            }
            env.get(var).cloned().or_else(|| fallback.then(String::new))
        })
    };
    parse(&sources, &lookup(false))
        .or_else(|_| parse(&sources, &lookup(true)))
        .ok()
}

fn walk<'a>(body: &'a [Stmt], out: &mut Vec<&'a Plugin>) {
    for stmt in body {
        match stmt {
            Stmt::Plugin(p) => out.push(p),
            Stmt::If(chain) => {
                for b in &chain.branches {
                    walk(&b.body, out);
                }
                if let Some(e) = &chain.else_body {
                    walk(e, out);
                }
            }
        }
    }
}

/// The port plan of a config set: its network inputs in pipeline, config and source
/// order, with unique port names, and what cannot be reserved.
pub fn plan_of(set: &ConfigSet, env: &BTreeMap<String, String>) -> PortPlan {
    let env = Arc::new(env.clone());
    let mut plan = PortPlan::default();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut used: BTreeMap<(u16, Protocol), String> = BTreeMap::new();
    for (pipeline, configs) in set.grouped() {
        for (config, text) in configs {
            let Some(ast) = parse_config(config, text, &env) else {
                plan.problems.push(format!(
                    "config {config}: not parsed; its inputs' ports are not reserved"
                ));
                continue;
            };
            let mut plugins = Vec::new();
            for s in ast.sections.iter().filter(|s| s.kind == SectionKind::Input) {
                walk(&s.body, &mut plugins);
            }
            for p in plugins {
                let what = format!("{} input of config {config} (pipeline {pipeline})", p.name);
                let mut requests = Vec::new();
                for (protocols, port, default) in sockets(p) {
                    let request = match port {
                        None => match default {
                            Some(d) => Ok(PortRequest::Fixed(d)),
                            None => Err("no port".to_string()),
                        },
                        Some(v) => port_request(v.trim()),
                    };
                    match request {
                        Ok(r) => requests.push((protocols, r)),
                        Err(why) => plan.problems.push(format!("{what}: {why}")),
                    }
                }
                if requests.is_empty() {
                    continue;
                }
                let base = scalar(p, "id")
                    .map(|id| dns_label(&id))
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| p.name.clone());
                let mut name = base.clone();
                let mut n = 2;
                while !names.insert(name.clone()) {
                    name = format!("{base}-{n}");
                    n += 1;
                }
                let host = scalar(p, "host")
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty() && h != "0.0.0.0" && h != "::" && h != "[::]");
                for (protocols, request) in requests {
                    if let PortRequest::Fixed(port) = request {
                        for proto in &protocols {
                            if let Some(other) = used.insert((port, *proto), name.clone()) {
                                plan.problems.push(format!(
                                    "port {port}/{} is bound by two inputs ({other}, {name}): one of them fails on every node",
                                    proto.as_str()
                                ));
                            }
                        }
                    }
                    plan.inputs.push(InputPort {
                        name: name.clone(),
                        plugin: p.name.clone(),
                        pipeline: pipeline.to_string(),
                        config: config.to_string(),
                        protocols,
                        request,
                        host: host.clone(),
                    });
                }
            }
        }
    }
    plan
}

fn port_request(v: &str) -> Result<PortRequest, String> {
    if let Some(var) = v
        .strip_prefix(MARK)
        .and_then(|r| r.strip_suffix(MARK))
        .filter(|var| !var.contains(MARK))
    {
        return Ok(PortRequest::Dynamic(var.to_string()));
    }
    if v.contains(MARK) {
        return Err(format!(
            "port {:?} mixes a ${{{ENV_PORT_PREFIX}*}} variable with other text; write port => \"${{{ENV_PORT_PREFIX}<NAME>}}\" alone",
            v.replace(MARK, "")
        ));
    }
    match v.parse::<u16>() {
        Ok(0) => Err(format!(
            "port 0 binds an ephemeral port no one is told about: not reserved nor published; \
             write port => \"${{{ENV_PORT_PREFIX}<NAME>}}\" for a port from the offer"
        )),
        Ok(p) => Ok(PortRequest::Fixed(p)),
        Err(_) => Err(format!("port {v:?} is not a port number: not reserved")),
    }
}

/// Publishes the plan of `set` for the driver.
pub fn publish(set: &ConfigSet, shared: &Shared, env: &BTreeMap<String, String>) {
    shared.set_port_plan(set.version, plan_of(set, env));
}

/// Re-plans on every accepted config change, until the task is dropped.
pub async fn follow_configs(
    configs: Arc<ConfigService>,
    shared: Arc<Shared>,
    env: BTreeMap<String, String>,
) {
    let mut seen = None;
    loop {
        let set = match seen {
            None => configs.current(),
            Some(v) => configs.wait_newer(v, Duration::from_secs(300)).await,
        };
        if seen != Some(set.version) {
            seen = Some(set.version);
            publish(&set, &shared, &env);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(configs: &[(&str, &str, &str)]) -> ConfigSet {
        let mut s = ConfigSet {
            version: 1,
            ..ConfigSet::default()
        };
        for (pipeline, name, text) in configs {
            s.configs.insert((*name).into(), (*text).into());
            if *pipeline != "main" {
                s.pipelines.insert((*name).into(), (*pipeline).into());
            }
        }
        s
    }

    type Row = (String, String, Vec<Protocol>, PortRequest, Option<String>);

    fn short(plan: &PortPlan) -> Vec<Row> {
        plan.inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.pipeline.clone(),
                    i.protocols.clone(),
                    i.request.clone(),
                    i.host.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn network_inputs_fixed_default_and_dynamic_ports() {
        let s = set(&[
            (
                "main",
                "a",
                r#"input {
                    syslog { }
                    tcp { port => 5000 id => "App Logs" }
                    tcp { port => "${LSM_PORT_JSON}" codec => json_lines }
                    tcp { mode => "client" host => "x" port => 9 }
                    stdin { }
                    if [x] { udp { port => "5140" host => "127.0.0.1" } }
                  }
                  output { tcp { host => "y" port => 7 } }"#,
            ),
            (
                "edge",
                "b",
                "input { beats { } http { port => \"${HTTP_PORT}\" } }",
            ),
            ("edge", "c", "input { http { } }"),
        ]);
        let env: BTreeMap<String, String> = [("HTTP_PORT".to_string(), "9080".to_string())].into();
        let plan = plan_of(&s, &env);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let both = vec![Protocol::Tcp, Protocol::Udp];
        assert_eq!(
            short(&plan),
            vec![
                (
                    "beats".into(),
                    "edge".into(),
                    vec![Protocol::Tcp],
                    PortRequest::Fixed(5044),
                    None
                ),
                (
                    "http".into(),
                    "edge".into(),
                    vec![Protocol::Tcp],
                    PortRequest::Fixed(9080),
                    None
                ),
                (
                    "http-2".into(),
                    "edge".into(),
                    vec![Protocol::Tcp],
                    PortRequest::Fixed(8080),
                    None
                ),
                (
                    "syslog".into(),
                    "main".into(),
                    both,
                    PortRequest::Fixed(514),
                    None
                ),
                (
                    "app-logs".into(),
                    "main".into(),
                    vec![Protocol::Tcp],
                    PortRequest::Fixed(5000),
                    None
                ),
                (
                    "tcp".into(),
                    "main".into(),
                    vec![Protocol::Tcp],
                    PortRequest::Dynamic("LSM_PORT_JSON".into()),
                    None
                ),
                (
                    "udp".into(),
                    "main".into(),
                    vec![Protocol::Udp],
                    PortRequest::Fixed(5140),
                    Some("127.0.0.1".into())
                ),
            ]
        );
        assert_eq!(plan.fixed_ports(), vec![514, 5000, 5044, 5140, 8080, 9080]);
        assert_eq!(plan.dynamic_vars(), vec!["LSM_PORT_JSON"]);
    }

    #[test]
    fn unusable_ports_are_reported_not_reserved() {
        let s = set(&[(
            "main",
            "a",
            r#"input {
                tcp { port => 0 }
                udp { }
                udp { port => "x${LSM_PORT_A}" }
                tcp { port => "${NODE_PORT}" }
                tcp { port => 7000 } udp { port => 7000 } tcp { port => 7000 }
              }"#,
        )]);
        let plan = plan_of(&s, &BTreeMap::new());
        assert_eq!(plan.fixed_ports(), vec![7000]);
        assert_eq!(plan.inputs.len(), 3, "{:?}", plan.inputs);
        let p = plan.problems.join("\n");
        assert!(p.contains("port 0 binds an ephemeral port"), "{p}");
        assert!(
            p.contains("udp input of config a (pipeline main): no port"),
            "{p}"
        );
        assert!(p.contains("mixes a ${LSM_PORT_*} variable"), "{p}");
        assert!(p.contains("port \"\" is not a port number"), "{p}");
        assert!(
            p.contains("port 7000/tcp is bound by two inputs (tcp, tcp-2)"),
            "{p}"
        );
        assert_eq!(plan.problems.len(), 5, "{p}");
        // An unparsable text (the scheduler's validator never accepts one) is reported.
        let bad = plan_of(&set(&[("main", "z", "input { tcp {")]), &BTreeMap::new());
        assert!(bad.inputs.is_empty());
        assert_eq!(bad.problems.len(), 1);
    }

    #[test]
    fn gelf_ports_per_protocol() {
        let s = set(&[(
            "main",
            "g",
            r#"input {
                gelf { }
                gelf { use_tcp => true port => 12300 }
                gelf { use_tcp => true use_udp => false port_tcp => 12400 }
                gelf { use_tcp => "true" port_udp => 12500 port_tcp => "${LSM_PORT_GELF}" }
              }"#,
        )]);
        let plan = plan_of(&s, &BTreeMap::new());
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let got: Vec<(&str, Vec<Protocol>, PortRequest)> = plan
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.protocols.clone(), i.request.clone()))
            .collect();
        use Protocol::{Tcp, Udp};
        assert_eq!(
            got,
            vec![
                ("gelf", vec![Udp], PortRequest::Fixed(12201)),
                ("gelf-2", vec![Tcp, Udp], PortRequest::Fixed(12300)),
                ("gelf-3", vec![Tcp], PortRequest::Fixed(12400)),
                ("gelf-4", vec![Udp], PortRequest::Fixed(12500)),
                (
                    "gelf-4",
                    vec![Tcp],
                    PortRequest::Dynamic("LSM_PORT_GELF".into())
                ),
            ]
        );
    }

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label("My_Syslog.In"), "my-syslog-in");
        assert_eq!(dns_label("--x--"), "x");
        assert_eq!(dns_label("é"), "");
        assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
    }
}
