//! A network input end to end through Mesos: the real scheduler against the master
//! simulator, which runs each agent task as a real `logstash-mesos agent` process with the
//! TaskInfo's environment. A config adding `tcp { port => "${LSM_PORT_APP}" }` makes the
//! scheduler replace the agents with tasks that reserve a port from their offer and pass
//! it in `LSM_PORT_APP`; `GET /v1/endpoints` tells where each node listens, and a line
//! sent there reaches that node's pipeline.

#[path = "../crates/scheduler/tests/support/simulator/mod.rs"]
mod simulator;

use logstash_mesos_scheduler::proto::TaskInfo;
use simulator::Simulator;
use std::io::Write;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Agent processes started by the simulator; killed when the test ends.
#[derive(Default)]
struct Agents(Mutex<Vec<(String, Child)>>);
impl Drop for Agents {
    fn drop(&mut self) {
        for (_, c) in self.0.lock().expect("agents lock").iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("e2e step")
        .local_addr()
        .expect("e2e step")
        .port()
}

/// What the command executor does: the task's environment, the agent started in it.
fn launch(info: &TaskInfo, data: &std::path::Path, agents: &Agents) {
    let env = info
        .command
        .as_ref()
        .and_then(|c| c.environment.clone())
        .unwrap_or_default();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"));
    cmd.arg("agent")
        .arg("--path.data")
        .arg(data.join(&info.task_id.value))
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
        .expect("e2e step")
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
async fn a_tcp_input_gets_its_port_from_the_offer_and_is_found_through_endpoints() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: logstash_mesos_scheduler::SchedulerOptions,
    }
    let dir = tempfile::tempdir().expect("e2e step");
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
        sim.lock().killer = Some(Arc::new(move |info: &TaskInfo| {
            for (id, c) in agents.0.lock().expect("agents lock").iter_mut() {
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
        agents.0.lock().expect("agents lock").len() == 2
    })
    .await;
    let http = {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_static("Bearer e2e-token"),
        );
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .expect("e2e step")
    };
    let out = dir.path().join("out");
    let config = format!(
        "input {{ tcp {{ id => \"app\" port => \"${{LSM_PORT_APP}}\" }} }}\n\
         output {{ file {{ path => \"{}/${{LOGSTASH_MESOS_NODE:unknown}}.log\" codec => line {{ format => \"%{{message}}\" }} }} }}\n",
        out.display()
    );
    let resp = http
        .put(format!("{base}/v1/configs/net"))
        .body(config)
        .send()
        .await
        .expect("e2e step");
    assert_eq!(
        resp.status(),
        200,
        "the validator accepts a ${{LSM_PORT_*}} port: {}",
        resp.text().await.unwrap_or_default()
    );
    // The agents are replaced (one node at a time) by tasks reserving the port.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let endpoints = loop {
        let v: serde_json::Value = http
            .get(format!("{base}/v1/endpoints"))
            .send()
            .await
            .expect("e2e step")
            .json()
            .await
            .expect("e2e step");
        let ready = v["nodes"].as_array().is_some_and(|n| {
            n.len() == 2
                && n.iter()
                    .all(|n| n["inputs"].as_array().is_some_and(|i| i.len() == 1))
        });
        if ready {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "endpoints never listed both nodes with the input: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        sim.calls_of(logstash_mesos_scheduler::proto::CallType::Kill)
            .len(),
        2
    );
    for n in endpoints["nodes"].as_array().expect("e2e step") {
        let node = n["hostname"].as_str().expect("e2e step").to_string();
        let input = &n["inputs"][0];
        assert_eq!(input["name"], "app", "{n}");
        assert_eq!(input["protocol"], "tcp", "{n}");
        let port = u16::try_from(input["port"].as_u64().expect("e2e step")).expect("e2e step");
        let ip = n["ip"].as_str().expect("e2e step");
        // The agent binds once it has the config: retry until it listens.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut conn = loop {
            match std::net::TcpStream::connect((ip, port)) {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{node}: nothing listens on {ip}:{port}: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        writeln!(conn, "hello {node} on {port}").expect("e2e step");
        drop(conn);
        let file = out.join(format!("{node}.log"));
        let want = format!("hello {node} on {port}");
        wait_for(&format!("{node}'s line"), 30, || {
            lines(&file).contains(&want)
        })
        .await;
    }
    // Nearest: a node asking by hostname is answered with itself.
    let v: serde_json::Value = http
        .get(format!("{base}/v1/endpoints?hostname=node-b"))
        .send()
        .await
        .expect("e2e step")
        .json()
        .await
        .expect("e2e step");
    assert_eq!(v["node"]["hostname"], "node-b", "{v}");
    assert_eq!(v["nearness"], "same_node", "{v}");
    sched.abort();
}
