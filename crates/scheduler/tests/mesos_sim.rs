//! End-to-end: the real driver + HTTP client against the master simulator.

mod support;

use std::sync::Arc;
use std::time::Duration;

use logstash_mesos_scheduler::client::Client;
use logstash_mesos_scheduler::driver::{Driver, DriverConfig, Keeper, Shared};
use logstash_mesos_scheduler::proto::*;
use logstash_mesos_scheduler::sched::{AgentSpec, LaunchMode, Scheduler, Settings};
use logstash_mesos_scheduler::store::FileStore;
use support::simulator::Simulator;

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

fn settings(cpus: f64) -> Settings {
    let agent = AgentSpec {
        cpus,
        mem: 128.0,
        ports: 0,
        launch: LaunchMode::Docker {
            image: "logstash-mesos:test".into(),
            force_pull: false,
        },
        scheduler_url: "http://127.0.0.1:1".into(),
        log_dirs: vec!["/var/lib/docker/containers".into()],
        kill_grace_secs: 5,
        env: vec![],
    };
    let mut s = Settings::new("logging", agent, uuid::Uuid::new_v4().simple().to_string());
    // The production filters (an hour): a scheduler that relies on them running out
    // (or on a lenient master) fails here. Only the timers are shortened.
    s.backoff_initial = Duration::from_millis(300);
    s.backoff_max = Duration::from_secs(2);
    s.reconcile_initial = Duration::from_millis(300);
    s.revive_after = Duration::from_secs(1);
    s.revive_max = Duration::from_secs(4);
    s
}

struct Running {
    handle: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

async fn start_scheduler(
    masters: &[String],
    state_dir: &std::path::Path,
    settings: Settings,
) -> Running {
    let keeper = Arc::new(
        Keeper::open(Arc::new(FileStore::new(state_dir)))
            .await
            .expect("state"),
    );
    let persisted = keeper.snapshot().await.scheduler;
    let shared = Arc::new(Shared::default());
    let mut config = DriverConfig::new(framework());
    config.tick = Duration::from_millis(50);
    config.resubscribe_initial = Duration::from_millis(100);
    config.resubscribe_max = Duration::from_millis(500);
    let driver = Driver {
        client: Arc::new(Client::new(masters, None).expect("client")),
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
    Running { handle, shared }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_per_node_and_a_new_node_gets_one() {
    let sim = Simulator::start(1).await;
    for h in ["n1", "n2", "n3"] {
        sim.add_agent(h, 4.0, 4096.0);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("three running agents", || {
        running_hosts(&sim) == ["n1", "n2", "n3"]
    })
    .await;
    // Served nodes stay behind their decline filters: no offer churn, no SUPPRESS.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let offers = sim.lock().offers_sent;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sim.lock().offers_sent,
        offers,
        "offers while every node is served"
    );
    assert!(sim.calls_of(CallType::Suppress).is_empty());
    assert!(sim.calls_of(CallType::Revive).is_empty());
    assert_eq!(sim.live_tasks().len(), 3, "{:?}", sim.live_tasks());
    // Every reliable update was acknowledged with the uuid the master sent.
    assert!(!sim.calls_of(CallType::Acknowledge).is_empty());
    let ids = sim.framework_ids();
    assert_eq!(ids.len(), 1);
    // A node joining after every known node has its agent is served at once (the
    // simulator's allocation runs every 50 ms; a real master's every second).
    let joined = std::time::Instant::now();
    sim.add_agent("n4", 4.0, 4096.0);
    wait_for("a fourth agent", || {
        running_hosts(&sim) == ["n1", "n2", "n3", "n4"]
    })
    .await;
    assert!(
        joined.elapsed() < Duration::from_secs(2),
        "new node waited {:?}",
        joined.elapsed()
    );
    assert_eq!(sim.live_tasks().len(), 4);
    // The launched tasks carry the node's agent id.
    for info in sim.launched_infos() {
        let env = info
            .command
            .as_ref()
            .and_then(|c| c.environment.clone())
            .expect("env");
        assert_eq!(
            env.get("LOGSTASH_MESOS_AGENT_ID"),
            Some(info.agent_id.value.as_str())
        );
    }
    wait_for("four nodes published", || sched.shared.nodes().len() == 4).await;
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_lacking_resources_are_declined() {
    let sim = Simulator::start(1).await;
    sim.add_agent("small", 0.2, 4096.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("a decline", || !sim.calls_of(CallType::Decline).is_empty()).await;
    // Declined with a long filter: not offered again, and no REVIVE for it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.calls_of(CallType::Decline).len(), 1);
    assert_eq!(sim.lock().offers_sent, 1);
    assert!(sim.calls_of(CallType::Revive).is_empty());
    assert!(sim.calls_of(CallType::Accept).is_empty());
    assert!(sim.live_tasks().is_empty());
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_agent_is_relaunched_after_backoff() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("agent", || running_hosts(&sim) == ["n1"]).await;
    let first = sim.live_tasks()[0].1.clone();
    let failed_at = std::time::Instant::now();
    sim.fail_task(&first);
    wait_for("replacement", || {
        sim.live_tasks()
            .iter()
            .any(|t| t.1 != first && t.2 == TaskState::Running)
    })
    .await;
    assert!(
        failed_at.elapsed() >= Duration::from_millis(300),
        "relaunched before the backoff"
    );
    // Second failure: the backoff doubles.
    let second = sim.live_tasks()[0].1.clone();
    let failed_at = std::time::Instant::now();
    sim.fail_task(&second);
    wait_for("second replacement", || {
        sim.live_tasks()
            .iter()
            .any(|t| t.1 != first && t.1 != second && t.2 == TaskState::Running)
    })
    .await;
    assert!(
        failed_at.elapsed() >= Duration::from_millis(600),
        "backoff did not grow"
    );
    assert_eq!(sim.live_tasks().len(), 1);
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resubscribes_with_same_id_and_launches_no_duplicates() {
    let sim = Simulator::start(1).await;
    for h in ["n1", "n2", "n3"] {
        sim.add_agent(h, 4.0, 4096.0);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("three agents", || running_hosts(&sim).len() == 3).await;
    let before = sim.live_tasks();
    sched.handle.abort();
    let _ = sched.handle.await;
    let subscribes = sim.calls_of(CallType::Subscribe).len();
    let accepts = sim.calls_of(CallType::Accept).len();

    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("resubscribe", || {
        sim.calls_of(CallType::Subscribe).len() > subscribes
    })
    .await;
    let resub = sim.calls_of(CallType::Subscribe).pop().expect("subscribe");
    let fid = sim.framework_ids()[0].clone();
    assert_eq!(resub.framework_id.as_ref(), Some(&fid));
    assert_eq!(
        resub
            .subscribe
            .as_ref()
            .and_then(|s| s.framework_info.id.as_ref()),
        Some(&fid)
    );
    wait_for("explicit reconciliation", || {
        sim.calls_of(CallType::Reconcile)
            .iter()
            .any(|c| c.reconcile.as_ref().is_some_and(|r| r.tasks.len() == 3))
    })
    .await;
    // Offers are regenerated for the new subscription but nothing new is launched.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.calls_of(CallType::Accept).len(), accepts);
    assert_eq!(sim.live_tasks(), before);
    assert_eq!(sim.framework_ids().len(), 1);
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_307_to_the_new_leader_and_survives_dropped_streams() {
    let sim = Simulator::start(2).await;
    sim.add_agent("n1", 4.0, 4096.0);
    sim.lock().leader = 1;
    let dir = tempfile::tempdir().expect("tempdir");
    // Only the non-leader is configured: the 307 leads to the leader.
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("agent via redirect", || running_hosts(&sim) == ["n1"]).await;
    let subs = sim.calls_of(CallType::Subscribe).len();
    sim.fail_over_to(0);
    wait_for("resubscribed to the new leader", || {
        sim.calls_of(CallType::Subscribe).len() > subs
    })
    .await;
    sim.add_agent("n2", 4.0, 4096.0);
    wait_for("agent on n2", || running_hosts(&sim) == ["n1", "n2"]).await;
    assert_eq!(sim.framework_ids().len(), 1);
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_heartbeats_trigger_resubscribe() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("agent", || running_hosts(&sim) == ["n1"]).await;
    let subs = sim.calls_of(CallType::Subscribe).len();
    {
        let mut s = sim.lock();
        s.mute = true;
    }
    // A stalled stream: 5 × 0.3 s without any event and the scheduler gives up on it.
    wait_for("resubscribe after silence", || {
        sim.calls_of(CallType::Subscribe).len() > subs
    })
    .await;
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_node_keeps_its_agent_slot() {
    let sim = Simulator::start(1).await;
    let a1 = sim.add_agent("n1", 4.0, 4096.0);
    sim.add_agent("n2", 4.0, 4096.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = start_scheduler(&[sim.url(0)], dir.path(), settings(0.5)).await;
    wait_for("agents", || running_hosts(&sim).len() == 2).await;
    sim.make_unreachable(&a1);
    wait_for("unreachable seen", || {
        sched
            .shared
            .nodes()
            .iter()
            .any(|n| n.hostname == "n1" && n.state.as_deref() == Some("TASK_UNREACHABLE"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sim.live_tasks().len(),
        2,
        "no replacement for an unreachable (not gone) agent"
    );
    sched.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wires_flags_state_api_and_driver() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: logstash_mesos_scheduler::SchedulerOptions,
    }
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    sim.lock().credentials = Some(("me".into(), "s3cret".into()));
    let state = tempfile::tempdir().expect("tempdir");
    let confs = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        confs.path().join("main.conf"),
        "input { stdin {} }\noutput { stdout {} }\n",
    )
    .expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let state_url = format!("file://{}", state.path().display());
    let listen = format!("127.0.0.1:{port}");
    let cli = Cli::try_parse_from([
        "x",
        "--master",
        &sim.url(0),
        "--agent-image",
        "logstash-mesos:test",
        "--state",
        &state_url,
        "--listen",
        &listen,
        "--config-dir",
        &confs.path().display().to_string(),
        "--role",
        "logging",
        "--principal",
        "me",
        "--secret",
        "s3cret",
    ])
    .expect("flags");
    let handle = tokio::spawn(logstash_mesos_scheduler::run(
        cli.opts,
        logstash_mesos_agent::plugins::registry(),
    ));
    wait_for("agent", || running_hosts(&sim) == ["n1"]).await;
    let sub = sim
        .calls_of(CallType::Subscribe)
        .remove(0)
        .subscribe
        .expect("subscribe");
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        sub.framework_info.webui_url.as_deref(),
        Some(format!("{base}/").as_str())
    );
    assert_eq!(sub.framework_info.principal.as_deref(), Some("me"));
    assert_eq!(sub.framework_info.checkpoint, Some(true));
    let info = sim.launched_infos().remove(0);
    let env = info
        .command
        .as_ref()
        .and_then(|c| c.environment.clone())
        .expect("env");
    assert_eq!(env.get("LOGSTASH_MESOS_SCHEDULER_URL"), Some(base.as_str()));
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["connected"], true);
    assert_eq!(
        health["framework_id"],
        serde_json::json!(sim.framework_ids()[0].value)
    );
    let pipeline: serde_json::Value = http
        .get(format!("{base}/v1/pipeline?since=0&timeout=5"))
        .send()
        .await
        .expect("pipeline")
        .json()
        .await
        .expect("json");
    assert_eq!(
        pipeline["configs"]["main"],
        "input { stdin {} }\noutput { stdout {} }\n"
    );
    // The framework id is durable.
    let saved = std::fs::read_to_string(state.path().join("state.json")).expect("state");
    assert!(saved.contains(&sim.framework_ids()[0].value));
    handle.abort();
}

/// A stand-in for the agent process: reads the env the scheduler gave it, reports
/// its status, and long-polls the pipeline, recording every version it receives.
fn fake_agent(info: &TaskInfo, seen: Arc<std::sync::Mutex<Vec<u64>>>) {
    let env = info
        .command
        .as_ref()
        .and_then(|c| c.environment.clone())
        .unwrap_or_default();
    let url = env
        .get("LOGSTASH_MESOS_SCHEDULER_URL")
        .unwrap_or_default()
        .to_string();
    let node = env
        .get("LOGSTASH_MESOS_NODE")
        .unwrap_or_default()
        .to_string();
    let agent_id = env.get("LOGSTASH_MESOS_AGENT_ID").map(str::to_string);
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut version = 0u64;
        for _ in 0..200 {
            let report = serde_json::json!({"node": node, "agent_id": agent_id, "containers": 2,
                "events_per_second": 10.0, "lag_seconds": 0.1, "errors": 0, "config_version": version});
            let _ = http
                .post(format!("{url}/v1/agents/status"))
                .json(&report)
                .send()
                .await;
            let Ok(resp) = http
                .get(format!("{url}/v1/pipeline?since={version}&timeout=2"))
                .send()
                .await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(body) = resp.json::<serde_json::Value>().await else {
                continue;
            };
            let v = body["version"].as_u64().unwrap_or(0);
            if v > version {
                version = v;
                if let Ok(mut s) = seen.lock() {
                    s.push(v);
                }
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_reach_the_agents() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: logstash_mesos_scheduler::SchedulerOptions,
    }
    let sim = Simulator::start(1).await;
    let seen: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
    {
        let seen = seen.clone();
        sim.lock().launcher = Some(Arc::new(move |info: &TaskInfo| {
            fake_agent(info, seen.clone())
        }));
    }
    sim.add_agent("n1", 4.0, 4096.0);
    let state = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cli = Cli::try_parse_from([
        "x".to_string(),
        "--master".into(),
        sim.url(0),
        "--agent-image".into(),
        "logstash-mesos:test".into(),
        "--state".into(),
        format!("file://{}", state.path().display()),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ])
    .expect("flags");
    let handle = tokio::spawn(logstash_mesos_scheduler::run(
        cli.opts,
        logstash_mesos_agent::plugins::registry(),
    ));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for("agent running", || running_hosts(&sim) == ["n1"]).await;
    // An invalid config (unknown plugin option) is refused and never reaches the agent.
    let bad = http
        .put(format!("{base}/v1/configs/main"))
        .body("input { stdin { nosuch => 1 } }\noutput { stdout {} }\n")
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.expect("json");
    assert_eq!(body["errors"][0]["file"], "main");
    assert_eq!(body["errors"][0]["line"], 1);
    let ok = http
        .put(format!("{base}/v1/configs/main"))
        .body("input { stdin {} }\noutput { stdout {} }\n")
        .send()
        .await
        .expect("put");
    assert_eq!(ok.status(), 200);
    wait_for("agent got version 1", || {
        seen.lock().map(|s| s.contains(&1)).unwrap_or(false)
    })
    .await;
    let ok = http
        .delete(format!("{base}/v1/configs/main"))
        .send()
        .await
        .expect("delete");
    assert_eq!(ok.status(), 200);
    wait_for("agent got version 2", || {
        seen.lock().map(|s| s.contains(&2)).unwrap_or(false)
    })
    .await;
    // Its status reports show up next to the task state.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agents: serde_json::Value = http
            .get(format!("{base}/v1/agents"))
            .send()
            .await
            .expect("agents")
            .json()
            .await
            .expect("json");
        let a = &agents["agents"][0];
        if a["task_state"] == "TASK_RUNNING" && a["report"]["containers"] == 2 {
            assert_eq!(a["node"], "n1");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no merged agent row: {agents}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_framework_tears_down_and_forgets_the_id() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: logstash_mesos_scheduler::SchedulerOptions,
    }
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    sim.add_agent("n2", 4.0, 4096.0);
    let killed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let killed = killed.clone();
        sim.lock().killer = Some(Arc::new(move |info: &TaskInfo| {
            killed
                .lock()
                .expect("lock")
                .push(info.task_id.value.clone());
        }));
    }
    let state = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cli = Cli::try_parse_from([
        "x".to_string(),
        "--master".into(),
        sim.url(0),
        "--agent-image".into(),
        "logstash-mesos:test".into(),
        "--state".into(),
        format!("file://{}", state.path().display()),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ])
    .expect("flags");
    let handle = tokio::spawn(logstash_mesos_scheduler::run(
        cli.opts,
        logstash_mesos_agent::plugins::registry(),
    ));
    wait_for("both agents", || running_hosts(&sim) == ["n1", "n2"]).await;
    let fid = sim.framework_ids()[0].value.clone();
    let state_file = state.path().join("state.json");
    let saved = std::fs::read_to_string(&state_file).expect("state");
    assert!(saved.contains(&fid));

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let resp = http
        .delete(format!("{base}/v1/framework"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["uninstalled"], true, "{body}");
    assert_eq!(body["report"]["framework_id"], fid.as_str());
    assert_eq!(body["report"]["teardown_sent"], true);
    assert_eq!(body["report"]["agent_tasks"], 2);
    assert_eq!(body["report"]["state_cleared"], true);

    // The master got TEARDOWN and killed every agent.
    let teardowns = sim.calls_of(CallType::Teardown);
    assert_eq!(teardowns.len(), 1);
    assert_eq!(
        teardowns[0].framework_id.as_ref().map(|f| f.value.as_str()),
        Some(fid.as_str())
    );
    assert!(sim.live_tasks().is_empty(), "{:?}", sim.live_tasks());
    assert_eq!(killed.lock().expect("lock").len(), 2);
    let removed: Vec<String> = sim
        .removed_frameworks()
        .iter()
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(removed, vec![fid.clone()]);
    // The id is gone from the state file; the configs part stays.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).expect("state")).expect("json");
    assert!(!saved.to_string().contains(&fid), "{saved}");
    assert!(saved["scheduler"]["framework_id"].is_null(), "{saved}");

    // Health says so, and the scheduler stays idle: no new framework registers.
    let health: serde_json::Value = http
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "uninstalled", "{health}");
    assert_eq!(health["connected"], false);
    assert!(health["framework_id"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.calls_of(CallType::Subscribe).len(), 1);
    assert!(
        !handle.is_finished(),
        "the API must stay up after uninstall"
    );
    let again = http
        .delete(format!("{base}/v1/framework"))
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status(), 409);
    handle.abort();
}
