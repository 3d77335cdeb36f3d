//! The configs' network inputs through Mesos: their host ports are reserved from the
//! offers (fixed `port`, or `${LSM_PORT_*}` from the offer), published in the task's
//! DiscoveryInfo, served by `GET /v1/endpoints`, and a config change adding a port
//! relaunches the agents onto offers with it. The real driver, config service and router
//! against the master simulator (which rejects a task using ports its offer lacks).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use logstash_mesos_scheduler::api::{self, AppState};
use logstash_mesos_scheduler::client::Client;
use logstash_mesos_scheduler::configs::ConfigService;
use logstash_mesos_scheduler::driver::{Driver, DriverConfig, Keeper, Shared};
use logstash_mesos_scheduler::proto::*;
use logstash_mesos_scheduler::sched::{AgentSpec, LaunchMode, Scheduler, Settings};
use logstash_mesos_scheduler::store::{ConfigSet, FileStore};
use logstash_mesos_scheduler::{discovery, BasicValidator};
use serde_json::{json, Value};
use support::simulator::Simulator;
use tower::ServiceExt;

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        id: None,
        user: "root".into(),
        name: "logstash".into(),
        roles: vec!["logging".into()],
        role: None,
        capabilities: ["MULTI_ROLE", "PARTITION_AWARE", "TASK_KILLING_STATE"]
            .iter()
            .map(|c| Capability { kind: (*c).into() })
            .collect(),
        failover_timeout: Some(3600.0),
        checkpoint: Some(true),
        principal: None,
        hostname: None,
        webui_url: None,
        labels: None,
    }
}

fn settings() -> Settings {
    let agent = AgentSpec {
        cpus: 0.5,
        mem: 128.0,
        // The status port, as in production: it must not collide with the inputs'.
        ports: 1,
        launch: LaunchMode::Docker {
            image: "logstash-mesos:test".into(),
            force_pull: false,
        },
        scheduler_url: "http://127.0.0.1:1".into(),
        log_dirs: vec![],
        kill_grace_secs: 5,
        env: vec![],
    };
    let mut s = Settings::new("logging", agent, uuid::Uuid::new_v4().simple().to_string());
    s.backoff_initial = Duration::from_millis(300);
    s.backoff_max = Duration::from_secs(2);
    s.reconcile_initial = Duration::from_millis(300);
    s.revive_after = Duration::from_secs(1);
    s.revive_max = Duration::from_secs(4);
    s
}

struct Running {
    handle: tokio::task::JoinHandle<()>,
    follow: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
    configs: Arc<ConfigService>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
        self.follow.abort();
    }
}

/// The scheduler as `run` wires it: configs first (`configs` = name → text), the port
/// plan published before the driver starts and followed on every change.
async fn start(sim: &Simulator, settings: Settings, configs: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let keeper = Arc::new(
        Keeper::open(Arc::new(FileStore::new(dir.path())))
            .await
            .expect("state"),
    );
    let svc = Arc::new(ConfigService::new(
        Arc::new(BasicValidator),
        keeper.clone(),
        ConfigSet::default(),
        None,
    ));
    for (name, text) in configs {
        svc.put(name, text).await.expect("config accepted");
    }
    let shared = Arc::new(Shared::default());
    discovery::publish(&svc.current(), &shared, &BTreeMap::new());
    let follow = tokio::spawn(discovery::follow_configs(
        svc.clone(),
        shared.clone(),
        BTreeMap::new(),
    ));
    let persisted = keeper.snapshot().await.scheduler;
    let mut config = DriverConfig::new(framework());
    config.tick = Duration::from_millis(50);
    config.resubscribe_initial = Duration::from_millis(100);
    config.resubscribe_max = Duration::from_millis(500);
    let driver = Driver {
        client: Arc::new(Client::new(&[sim.url(0)], None).expect("client")),
        sched: Scheduler::new(settings, persisted),
        keeper,
        shared: shared.clone(),
        config,
    };
    let handle = tokio::spawn(async move {
        if let Err(e) = driver.run().await {
            panic!("driver failed: {e}");
        }
    });
    Running {
        handle,
        follow,
        shared,
        configs: svc,
        _dir: dir,
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    // Generous: the machine is shared with builds; a pass takes well under a second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running_hosts(sim: &Simulator) -> Vec<String> {
    sim.live_tasks()
        .into_iter()
        .filter(|t| t.2 == TaskState::Running)
        .map(|t| t.0)
        .collect()
}

/// The live task of `host`.
fn live_info(sim: &Simulator, host: &str) -> Option<TaskInfo> {
    let id = sim
        .live_tasks()
        .into_iter()
        .find(|t| t.0 == host && t.2 == TaskState::Running)?
        .1;
    sim.launched_infos().into_iter().find(|i| i.task_id == id)
}

fn ports_of(info: &TaskInfo) -> Vec<u64> {
    info.resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.clone().unwrap_or_default().range)
        .flat_map(|r| r.begin..=r.end)
        .collect()
}

fn env_of(info: &TaskInfo, name: &str) -> Option<String> {
    info.command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .and_then(|e| e.get(name))
        .map(str::to_string)
}

/// A node offering 514 besides its own range (`--resources=ports:[514-514,...]`).
fn add_node_with_514(sim: &Simulator, host: &str) -> Id {
    let id = sim.add_agent(host, 4.0, 4096.0);
    let own = sim.lock().agents[&id].ports.clone();
    let mut ranges = vec![(514, 514)];
    ranges.extend(own);
    sim.set_agent_ports(&id, ranges);
    id
}

const SYSLOG_AND_APP: &str = r#"input {
  syslog { }
  tcp { id => "app" port => "${LSM_PORT_APP}" codec => json_lines }
}
output { stdout { } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_ports_are_reserved_and_published_in_discovery_info() {
    let sim = Simulator::start(1).await;
    add_node_with_514(&sim, "n1");
    add_node_with_514(&sim, "n2");
    let mut s = settings();
    s.discovery_name = "logstash".into();
    let sched = start(&sim, s, &[("net", SYSLOG_AND_APP)]).await;
    wait_for("two running agents", || running_hosts(&sim) == ["n1", "n2"]).await;
    for host in ["n1", "n2"] {
        let info = live_info(&sim, host).expect("task");
        let ports = ports_of(&info);
        let app: u64 = env_of(&info, "LSM_PORT_APP")
            .expect("LSM_PORT_APP in the task env")
            .parse()
            .expect("a number");
        let status: u64 = env_of(&info, "LOGSTASH_MESOS_AGENT_PORT")
            .expect("status port")
            .parse()
            .expect("a number");
        assert!(ports.contains(&514), "{host}: {ports:?}");
        assert!(
            ports.contains(&app),
            "{host}: {app} not reserved in {ports:?}"
        );
        assert!(ports.contains(&status), "{host}: {ports:?}");
        assert_eq!(
            ports.len(),
            3,
            "514, the app port, the status port: {ports:?}"
        );
        assert!(app != 514 && status != 514 && app != status);
        // The exact DiscoveryInfo JSON (mesos.proto field names), as the master stores it.
        let d = serde_json::to_value(info.discovery.as_ref().expect("discovery")).expect("ser");
        let labels = |plugin: &str| json!({"labels": [{"key": "plugin", "value": plugin}, {"key": "pipeline", "value": "main"}]});
        assert_eq!(
            d,
            json!({
                "visibility": "FRAMEWORK",
                "name": "logstash",
                "ports": {"ports": [
                    {"number": 514, "name": "syslog", "protocol": "tcp", "labels": labels("syslog")},
                    {"number": 514, "name": "syslog", "protocol": "udp", "labels": labels("syslog")},
                    {"number": app, "name": "app", "protocol": "tcp", "labels": labels("tcp")},
                ]}
            }),
            "{host}"
        );
    }
    // The simulator keeps it, as the master's state does.
    let kept = sim.live_discovery();
    assert_eq!(kept.len(), 2);
    assert!(kept
        .iter()
        .all(|(_, d)| d.as_ref().is_some_and(|d| d.ports.is_some())));
    drop(sched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_the_port_is_declined_until_one_has_it() {
    let sim = Simulator::start(1).await;
    let id = sim.add_agent("n1", 4.0, 4096.0);
    // The production refuse filter (600 s) for offers too small: what ends it here is
    // the bigger offer, as on a real master (the filter hides only contained offers).
    let sched = start(
        &sim,
        settings(),
        &[("net", "input { syslog { port => 1514 } }")],
    )
    .await;
    wait_for("a decline", || !sim.calls_of(CallType::Decline).is_empty()).await;
    assert!(sim.calls_of(CallType::Accept).is_empty());
    wait_for("the node's message", || {
        sched.shared.nodes().iter().any(|n| {
            n.message.as_deref().is_some_and(|m| {
                m.contains("port(s) 1514 not offered") && m.contains("syslog 1514 (main/net)")
            })
        })
    })
    .await;
    // The operator adds the port to the agent's resources: the offer is no longer
    // contained in what was refused, so it comes at once, and the agent launches on it.
    let own = sim.lock().agents[&id].ports.clone();
    let mut ranges = own;
    ranges.push((1514, 1514));
    sim.set_agent_ports(&id, ranges);
    wait_for("the agent", || running_hosts(&sim) == ["n1"]).await;
    let info = live_info(&sim, "n1").expect("task");
    assert!(ports_of(&info).contains(&1514));
    assert_eq!(sim.calls_of(CallType::Accept).len(), 1);
    drop(sched);
}

async fn get(app: &axum::Router, uri: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = axum::http::Request::get(uri);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_per_running_node_and_the_nearest_one() {
    let sim = Simulator::start(1).await;
    add_node_with_514(&sim, "n1");
    let n2 = add_node_with_514(&sim, "n2");
    // n3 lacks 514: declined, no agent; it is answered with another node.
    sim.add_agent("n3", 4.0, 4096.0);
    let sched = start(&sim, settings(), &[("net", SYSLOG_AND_APP)]).await;
    wait_for("two running agents", || running_hosts(&sim) == ["n1", "n2"]).await;
    wait_for("n3 declined", || {
        sched
            .shared
            .nodes()
            .iter()
            .any(|n| n.hostname == "n3" && n.message.is_some())
    })
    .await;
    let state = AppState::new(sched.configs.clone(), sched.shared.clone(), None).with_auth(
        api::auth::Auth {
            token: Some("s3cret".into()),
            basic: None,
        },
    );
    let app = api::router(state);
    // A read like the others: the token is required.
    assert_eq!(get(&app, "/v1/endpoints", None).await.0, 401);
    wait_for("endpoints published", || {
        sched
            .shared
            .endpoints()
            .iter()
            .filter(|e| e.running)
            .count()
            == 2
    })
    .await;
    let (status, body) = get(&app, "/v1/endpoints", Some("s3cret")).await;
    assert_eq!(status, 200, "{body}");
    let nodes = body["nodes"].as_array().expect("nodes");
    let hosts: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["hostname"].as_str())
        .collect();
    assert_eq!(hosts, ["n1", "n2"], "running nodes only: {body}");
    for n in nodes {
        let host = n["hostname"].as_str().expect("hostname");
        let info = live_info(&sim, host).expect("task");
        assert_eq!(n["ip"], "127.0.0.1", "the offer's url.address.ip");
        assert_eq!(n["agent_id"], info.agent_id.value.as_str());
        assert_eq!(n["task_id"], info.task_id.value.as_str());
        let app: u64 = env_of(&info, "LSM_PORT_APP")
            .expect("env")
            .parse()
            .expect("number");
        assert_eq!(
            n["inputs"],
            json!([
                {"name": "syslog", "plugin": "syslog", "pipeline": "main", "protocol": "tcp", "port": 514},
                {"name": "syslog", "plugin": "syslog", "pipeline": "main", "protocol": "udp", "port": 514},
                {"name": "app", "plugin": "tcp", "pipeline": "main", "protocol": "tcp", "port": app},
            ]),
            "{host}"
        );
    }
    assert_eq!(body["inputs"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(body["problems"], json!([]));
    // Nearest: the node itself when it runs an agent ...
    let (status, one) = get(&app, "/v1/endpoints?hostname=n1", Some("s3cret")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["nearness"], "same_node");
    assert_eq!(one["node"]["hostname"], "n1");
    let (_, one) = get(
        &app,
        &format!("/v1/endpoints?agent_id={}", n2.value),
        Some("s3cret"),
    )
    .await;
    assert_eq!(one["nearness"], "same_node", "{one}");
    assert_eq!(one["node"]["hostname"], "n2");
    // ... else another running node (the same one each time).
    let (_, a) = get(&app, "/v1/endpoints?hostname=n3", Some("s3cret")).await;
    assert_eq!(a["nearness"], "any", "{a}");
    let picked = a["node"]["hostname"].as_str().expect("host").to_string();
    assert!(picked == "n1" || picked == "n2", "{a}");
    let (_, b) = get(&app, "/v1/endpoints?hostname=n3", Some("s3cret")).await;
    assert_eq!(b["node"]["hostname"], picked.as_str());
    let (_, u) = get(&app, "/v1/endpoints?hostname=elsewhere", Some("s3cret")).await;
    assert!(
        u["node"]["running"].is_null(),
        "internal flag not serialised: {u}"
    );
    assert!(
        u["node"]["hostname"] == "n1" || u["node"]["hostname"] == "n2",
        "{u}"
    );
    drop(sched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_adding_a_port_relaunches_the_agents_onto_it() {
    let sim = Simulator::start(1).await;
    add_node_with_514(&sim, "n1");
    add_node_with_514(&sim, "n2");
    // n3 does not offer 514: its agent is kept, not killed for a replacement that could
    // never launch there.
    sim.add_agent("n3", 4.0, 4096.0);
    let sched = start(&sim, settings(), &[("base", "input { generator { } }")]).await;
    wait_for("three running agents", || {
        running_hosts(&sim) == ["n1", "n2", "n3"]
    })
    .await;
    let before: Vec<Id> = sim.live_tasks().into_iter().map(|t| t.1).collect();
    for h in ["n1", "n2", "n3"] {
        let info = live_info(&sim, h).expect("task");
        assert_eq!(ports_of(&info).len(), 1, "only the status port");
        assert!(info.discovery.as_ref().is_some_and(|d| d.ports.is_none()));
    }
    // A change that adds no port relaunches nothing.
    sched
        .configs
        .put("base", "input { generator { count => 1 } }")
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.calls_of(CallType::Kill).is_empty());
    sched
        .configs
        .put("net", "input { syslog { } }")
        .await
        .expect("put");
    // On a timeout, what the simulator and the scheduler saw.
    let dump = || {
        format!(
            "both agents replaced with 514: timed out\nlive {:?}\nnodes {:?}\nendpoints {:?}\ncalls {:?}",
            sim.live_tasks(),
            sched.shared.nodes(),
            sched.shared.endpoints(),
            sim.lock().calls.iter().map(|c| c.kind.to_string()).collect::<Vec<_>>()
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !["n1", "n2"].iter().all(|h| {
        live_info(&sim, h)
            .is_some_and(|i| !before.contains(&i.task_id) && ports_of(&i).contains(&514))
    }) {
        assert!(tokio::time::Instant::now() < deadline, "{}", dump());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Rolled: one kill per node, never both nodes down at once (the second kill came
    // after the first node's replacement ran).
    assert_eq!(sim.calls_of(CallType::Kill).len(), 2);
    for h in ["n1", "n2"] {
        let d = live_info(&sim, h)
            .and_then(|i| i.discovery)
            .expect("discovery");
        let names: Vec<(String, String)> = d
            .ports
            .expect("ports")
            .ports
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.protocol.unwrap_or_default()))
            .collect();
        assert_eq!(
            names,
            [
                ("syslog".to_string(), "tcp".to_string()),
                ("syslog".into(), "udp".into())
            ]
        );
    }
    wait_for("n1 and n2 up to date", || {
        let n = sched.shared.nodes();
        n.len() == 3 && n.iter().all(|n| n.up_to_date == (n.hostname != "n3"))
    })
    .await;
    let n3 = live_info(&sim, "n3").expect("n3 keeps its agent");
    assert!(before.contains(&n3.task_id));
    let held = sched
        .shared
        .endpoints()
        .into_iter()
        .find(|e| e.hostname == "n3")
        .expect("n3");
    assert!(held.running && held.inputs.is_empty());
    assert_eq!(
        held.pending.as_deref(),
        Some("keeps its previous agent: the inputs' port(s) 514 are not among the ports this node offered")
    );
    drop(sched);
}

/// The simulator's resource check: a task whose ports its offer did not hold gets
/// TASK_ERROR (REASON_TASK_INVALID, no uuid), as from a real master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_rejects_a_task_using_a_port_not_offered() {
    let sim = Simulator::start(1).await;
    let agent = sim.add_agent("n1", 4.0, 4096.0);
    let client = Client::new(&[sim.url(0)], None).expect("client");
    let mut sub = client
        .subscribe(&Call::subscribe(framework()))
        .await
        .expect("subscribe");
    let mut fid = None;
    let mut offer = None;
    while offer.is_none() {
        let ev = tokio::time::timeout(Duration::from_secs(5), sub.next_event())
            .await
            .expect("an event in time")
            .expect("event");
        if let Some(s) = ev.subscribed {
            fid = Some(s.framework_id);
        }
        if let Some(o) = ev.offers {
            offer = o.offers.into_iter().next();
        }
    }
    let (fid, offer) = (fid.expect("subscribed"), offer.expect("offer"));
    let offered: Vec<Range> = offer
        .resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.clone().unwrap_or_default().range)
        .collect();
    assert_eq!(offered.len(), 1, "the node's one range: {offered:?}");
    let task = |id: &str, port: u64| TaskInfo {
        name: "t".into(),
        task_id: Id::new(id),
        agent_id: agent.clone(),
        resources: vec![
            Resource::scalar("cpus", 0.1),
            Resource::scalar("mem", 16.0),
            Resource::ranges(
                "ports",
                vec![Range {
                    begin: port,
                    end: port,
                }],
            ),
        ],
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..CommandInfo::default()
        }),
        executor: None,
        container: None,
        health_check: None,
        check: None,
        kill_policy: None,
        labels: None,
        discovery: None,
        data: None,
        max_completion_time: None,
        limits: None,
    };
    let first = offered[0].begin;
    client
        .send(&Call::accept(
            &fid,
            vec![offer.id.clone()],
            vec![Operation::launch(vec![
                task("ok", first),
                task("taken", first),
                task("unoffered", 514),
            ])],
            Filters::refuse(5.0),
        ))
        .await
        .expect("accept");
    let mut states: BTreeMap<String, (TaskState, Option<String>, bool)> = BTreeMap::new();
    while states.len() < 3 || states.get("ok").is_some_and(|s| s.0 != TaskState::Starting) {
        let ev = tokio::time::timeout(Duration::from_secs(5), sub.next_event())
            .await
            .expect("an update in time")
            .expect("event");
        if let Some(u) = ev.update {
            let st = u.status;
            states.entry(st.task_id.value.clone()).or_insert((
                st.state.clone(),
                st.message.clone(),
                st.uuid.is_some(),
            ));
        }
    }
    assert_eq!(states["ok"].0, TaskState::Starting, "{states:?}");
    for bad in ["taken", "unoffered"] {
        let (state, msg, uuid) = &states[bad];
        assert_eq!(*state, TaskState::Error, "{bad}: {states:?}");
        assert!(!uuid, "master-generated: no uuid");
        let msg = msg.as_deref().unwrap_or_default();
        assert!(msg.starts_with("Task uses more resources ports:["), "{msg}");
    }
}

/// `--input-port-range`: the dynamic ports come from that part of the offered ports;
/// the status port from anywhere else; a range the offer cannot serve declines it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_ports_come_from_the_input_port_range() {
    let sim = Simulator::start(1).await;
    // In-memory tasks bind nothing: nodes may offer the same ports here.
    let n1 = sim.add_agent("n1", 4.0, 4096.0);
    sim.set_agent_ports(&n1, vec![(31000, 31099), (32000, 32010)]);
    let n2 = sim.add_agent("n2", 4.0, 4096.0);
    sim.set_agent_ports(&n2, vec![(31000, 31099)]);
    let mut s = settings();
    s.input_port_range = Some((32000, 32010));
    let config = r#"input {
      udp { id => "metrics" port => "${LSM_PORT_METRICS}" }
      tcp { id => "app" port => "${LSM_PORT_APP}" }
    }"#;
    let sched = start(&sim, s, &[("net", config)]).await;
    wait_for("n1's agent", || running_hosts(&sim) == ["n1"]).await;
    let info = live_info(&sim, "n1").expect("task");
    // Variables in name order get the range's ports in order.
    assert_eq!(env_of(&info, "LSM_PORT_APP").as_deref(), Some("32000"));
    assert_eq!(env_of(&info, "LSM_PORT_METRICS").as_deref(), Some("32001"));
    assert_eq!(
        env_of(&info, "LOGSTASH_MESOS_AGENT_PORT").as_deref(),
        Some("31000")
    );
    assert_eq!(ports_of(&info), vec![31000, 32000, 32001]);
    wait_for("n2 declined", || {
        sched.shared.nodes().iter().any(|n| {
            n.hostname == "n2"
                && n.message.as_deref().is_some_and(|m| {
                    m.contains(
                        "need 2 for the inputs' ${LSM_PORT_*} variables in 32000-32010, offered 0",
                    )
                })
        })
    })
    .await;
    assert_eq!(running_hosts(&sim), ["n1"]);
}
