//! End to end through Mesos: the real scheduler subscribes to the master simulator (the
//! test fixture of crates/scheduler), which "launches" each agent task as a real
//! `logstash-mesos agent` process with the environment the scheduler put in the TaskInfo.
//! Configs PUT over the REST API reach every agent, whose pipelines run and then swap to a
//! changed config.

#[path = "../crates/scheduler/tests/support/simulator/mod.rs"]
mod simulator;

use logstash_mesos_scheduler::proto::TaskInfo;
use simulator::Simulator;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Agent processes started by the simulator; killed when the test ends.
#[derive(Default)]
struct Agents(Mutex<Vec<(String, Child)>>);
impl Drop for Agents {
    fn drop(&mut self) {
        for (_, c) in self.0.lock().unwrap().iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn launch(info: &TaskInfo, data: &std::path::Path, agents: &Agents) {
    let env = info
        .command
        .as_ref()
        .and_then(|c| c.environment.clone())
        .unwrap_or_default();
    let node = env
        .get("LOGSTASH_MESOS_NODE")
        .unwrap_or("unknown")
        .to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"));
    cmd.arg("agent")
        .arg("--path.data")
        .arg(data.join(&node))
        .arg("--status.bind")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("LOGSTASH_MESOS_TASK_ID", &info.task_id.value)
        .env("MESOS_TASK_ID", &info.task_id.value);
    for v in &env.variables {
        if let Some(val) = &v.value {
            cmd.env(&v.name, val);
        }
    }
    let child = cmd.spawn().expect("agent starts");
    agents
        .0
        .lock()
        .unwrap()
        .push((info.task_id.value.clone(), child));
}

async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_launches_agents_that_run_and_swap_pipelines() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: logstash_mesos_scheduler::SchedulerOptions,
    }
    let dir = tempfile::tempdir().unwrap();
    let agents = Arc::new(Agents::default());
    let sim = Simulator::start(1).await;
    {
        let agents_for_kill = agents.clone();
        let agents = agents.clone();
        let data = dir.path().join("agents");
        sim.lock().launcher = Some(Arc::new(move |info: &TaskInfo| {
            launch(info, &data, &agents)
        }));
        let agents = agents_for_kill;
        // What the Mesos agent does on kill/teardown: SIGKILL after the grace period.
        sim.lock().killer = Some(Arc::new(move |info: &TaskInfo| {
            for (id, c) in agents.0.lock().unwrap().iter_mut() {
                if *id == info.task_id.value {
                    let _ = c.kill();
                }
            }
        }));
    }
    sim.add_agent("node-a", 4.0, 4096.0);
    sim.add_agent("node-b", 4.0, 4096.0);
    let port = free_port();
    let cli = Cli::try_parse_from([
        "scheduler".to_string(),
        "--master".into(),
        sim.url(0),
        "--agent-command".into(),
        "./logstash-mesos agent".into(),
        "--state".into(),
        format!("file://{}", dir.path().join("state").display()),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--advertise-url".into(),
        format!("http://127.0.0.1:{port}"),
        // The API wants a token: the agents get it from their task environment.
        "--api-token".into(),
        "e2e-token".into(),
    ])
    .expect("flags");
    let sched = tokio::spawn(logstash_mesos_scheduler::run(
        cli.opts,
        logstash_mesos_agent::plugins::registry(),
    ));
    let base = format!("http://127.0.0.1:{port}");
    wait_for("two agent processes", 30, || {
        agents.0.lock().unwrap().len() == 2
    })
    .await;

    // Each agent writes to its own file, named by the node the scheduler gave it.
    let out = dir.path().join("out");
    let config = |msg: &str| {
        format!(
            "input {{ generator {{ count => 3 message => \"{msg}\" }} }}\n\
             output {{ file {{ path => \"{}/${{LOGSTASH_MESOS_NODE:unknown}}.log\" codec => line {{ format => \"%{{message}}\" }} }} }}\n",
            out.display()
        )
    };
    // Without the token nothing is served; with it, everything below.
    let anonymous = reqwest::Client::new()
        .get(format!("{base}/v1/configs"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let http = {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_static("Bearer e2e-token"),
        );
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .unwrap()
    };
    let resp = http
        .put(format!("{base}/v1/configs/main"))
        .body(config("v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let (a, b) = (out.join("node-a.log"), out.join("node-b.log"));
    wait_for("both agents ran version 1", 60, || {
        lines(&a).len() == 3 && lines(&b).len() == 3
    })
    .await;
    assert!(lines(&a).iter().all(|l| l == "v1"));

    // A changed config reaches the running agents, whose pipelines swap.
    let resp = http
        .put(format!("{base}/v1/configs/main"))
        .body(config("v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_for("both agents ran version 2", 60, || {
        lines(&a).iter().filter(|l| *l == "v2").count() == 3
            && lines(&b).iter().filter(|l| *l == "v2").count() == 3
    })
    .await;

    // Named pipelines (`?pipeline=`): each runs on its own in every agent, connected by
    // the `pipeline` output and input; adding them leaves `main` untouched (its finite
    // generator is not run again).
    let proc_out = |node: &str| out.join(format!("{node}-proc.log"));
    let put = |name: &str, pipeline: &str, body: String| {
        let req = http
            .put(format!("{base}/v1/configs/{name}?pipeline={pipeline}"))
            .body(body);
        async move { req.send().await.unwrap() }
    };
    let resp = put(
        "proc",
        "proc",
        format!(
            "input {{ pipeline {{ address => \"proc\" }} }}\n\
             output {{ file {{ path => \"{}/${{LOGSTASH_MESOS_NODE:unknown}}-proc.log\" codec => line {{ format => \"%{{message}}-proc\" }} }} }}\n",
            out.display()
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["pipeline"], "proc", "{body}");
    let resp = put(
        "intake",
        "intake",
        "input { generator { count => 5 message => \"hop\" } }\noutput { pipeline { send_to => [\"proc\"] } }\n"
            .to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    wait_for("both agents ran the two-pipeline chain", 60, || {
        lines(&proc_out("node-a")) == vec!["hop-proc"; 5]
            && lines(&proc_out("node-b")) == vec!["hop-proc"; 5]
    })
    .await;
    let listed: serde_json::Value = http
        .get(format!("{base}/v1/configs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["pipelines"]["main"], "main", "{listed}");
    assert_eq!(listed["pipelines"]["intake"], "intake", "{listed}");
    assert_eq!(
        lines(&a).iter().filter(|l| *l == "v2").count(),
        3,
        "an unchanged pipeline was restarted"
    );
    let resp = put("x", "../bad", "input {}".into()).await;
    assert_eq!(resp.status(), 400);

    // The agents report to the scheduler under their node names.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = http
            .get(format!("{base}/v1/agents"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reported: Vec<&str> = v["agents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|x| !x["report"].is_null())
                    .filter_map(|x| x["node"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if reported.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "agents did not report: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Uninstall: TEARDOWN kills both agent processes and the framework id is forgotten.
    let resp = http
        .delete(format!("{base}/v1/framework"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["report"]["teardown_sent"], true, "{report}");
    assert!(sim.live_tasks().is_empty());
    wait_for("agent processes to exit", 10, || {
        agents
            .0
            .lock()
            .unwrap()
            .iter_mut()
            .all(|(_, c)| matches!(c.try_wait(), Ok(Some(_))))
    })
    .await;
    let state = std::fs::read_to_string(dir.path().join("state").join("state.json")).unwrap();
    let fid = sim.framework_ids()[0].value.clone();
    assert!(!state.contains(&fid), "{state}");
    sched.abort();
}
