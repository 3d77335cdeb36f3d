//! The `mesos` input on the journey: the tasks the scheduler launches through the master
//! simulator are also tasks of their node's agent API (`agent_api.rs`, over the very
//! sandboxes the command executor made), the offers carry that API's address, and the
//! scheduler hands it to the agent task it launches (`LOGSTASH_MESOS_MESOS_AGENT`). A
//! config PUT to the scheduler selects the framework's own tasks with `mesos { ... }`:
//! the agent ships its own task's `stderr` from its sandbox, every line exactly once,
//! with the Mesos metadata of the launched task. No Docker involved.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::agent_api::AgentSim;
use super::executor::{lock, Executors, SandboxHook};
use super::simulator::{Launch, Simulator};
use super::{search, wait_for, SchedProc};

const FRAMEWORK: &str = "logstash-mesos-journey";
const INDEX: &str = "mesos-tasks";

fn config(engine_url: &str) -> String {
    format!(
        r#"input {{
  mesos {{
    framework => ["{FRAMEWORK}"]
    stdout => false
    poll_interval => 0.2
    state_interval => 0.5
  }}
}}
output {{
  elasticsearch {{ hosts => ["{engine_url}"] index => "{INDEX}" }}
}}
"#
    )
}

/// Complete lines of a file.
fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..i],
        None => "",
    };
    complete
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journey_mesos_input_ships_the_launched_tasks_sandbox_logs() {
    let Some(engine) = search::start() else {
        return;
    };
    let root = tempfile::Builder::new()
        .prefix("lsmm")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let work = std::fs::canonicalize(root.path())
        .expect("canon")
        .join("work");
    std::fs::create_dir_all(&work).expect("work dir");

    // The node: its master-side registration and its agent API over the same work dir.
    let sim = Simulator::start(1).await;
    let (api, api_url) = AgentSim::start(&work, None, None).await;
    let exec = Executors::new(&work);
    exec.install(&sim);
    let agent_id = sim.add_agent("node-m", 4.0, 4096.0);
    {
        let mut n = api.lock();
        n.agent_id = agent_id.value.clone();
        n.hostname = "node-m".into();
    }
    let api_port: u16 = api_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("agent API port");
    sim.set_agent_port(&agent_id, api_port);
    let hook_api = api.clone();
    let hook: SandboxHook = Arc::new(move |l: &Launch, dir: &Path| {
        hook_api.attach_task(
            &l.framework_id.value,
            FRAMEWORK,
            &l.info.task_id.value,
            &l.info.name,
            dir,
        );
    });
    *lock(&exec.on_sandbox) = Some(hook);

    let (_sched, base) =
        SchedProc::command_agents(&sim, root.path(), &["--framework-name", FRAMEWORK]);
    let guard = KillAll(exec.clone());

    wait_for("the agent task on node-m", 60, || {
        let n = exec.running().len();
        async move { n == 1 }
    })
    .await;
    // The scheduler told the agent where its node's Mesos agent is: from the offer's url.
    let info = sim
        .launched_infos()
        .into_iter()
        .last()
        .expect("a launched task");
    let env = info
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .expect("task environment");
    assert_eq!(
        env.get("LOGSTASH_MESOS_MESOS_AGENT"),
        Some(format!("127.0.0.1:{api_port}").as_str())
    );
    let task_id = info.task_id.value.clone();

    let http = reqwest::Client::new();
    let r = http
        .put(format!("{base}/v1/configs/tasks"))
        .body(config(&engine.url))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    let sandbox: PathBuf = lock(&exec.procs)
        .get(&task_id)
        .map(|p| p.sandbox.clone())
        .expect("the agent's sandbox");
    let stderr = sandbox.join("stderr");
    // The agent's own log lines: shipped until the index holds every complete line of
    // the file (shipping logs nothing of its own, so the file stops growing).
    let engine_ref = &engine;
    let stderr_ref = &stderr;
    wait_for("every line of the agent task's stderr", 90, || async move {
        let want = lines(stderr_ref).len() as u64;
        want >= 3 && engine_ref.count(INDEX).await == want
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let written = lines(&stderr);
    let docs = engine.docs(INDEX).await;
    let shipped: Vec<String> = docs
        .iter()
        .map(|(_, d)| d["message"].as_str().unwrap_or_default().to_string())
        .collect();
    eprintln!(
        "JOURNEY: {} lines of the agent task's stderr shipped through the mesos input",
        shipped.len()
    );
    let distinct: BTreeSet<&String> = shipped.iter().collect();
    assert_eq!(distinct.len(), shipped.len(), "a line was indexed twice");
    let want: BTreeSet<&String> = written.iter().collect();
    assert_eq!(distinct, want, "the index holds exactly the file's lines");
    for (_, d) in &docs {
        assert_eq!(d["mesos"]["framework"]["name"], FRAMEWORK, "{d}");
        assert_eq!(
            d["mesos"]["task"]["id"],
            Value::from(task_id.as_str()),
            "{d}"
        );
        assert_eq!(
            d["mesos"]["agent"]["id"],
            Value::from(agent_id.value.as_str()),
            "{d}"
        );
        assert_eq!(
            d["log"]["file"]["path"],
            Value::from(stderr.display().to_string()),
            "{d}"
        );
        assert!(d["log"]["offset"].is_number(), "{d}");
    }
    drop(guard);
}

/// Kills the task processes when the test ends (also on failure).
struct KillAll(Executors);

impl Drop for KillAll {
    fn drop(&mut self) {
        self.0.kill_all();
    }
}
