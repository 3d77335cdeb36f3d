//! On a Mesos node, events from a network input name the task that sent them: the agent
//! maps the sender's address to a task through the local Mesos agent's `/state`
//! (`container_status.network_infos`). Here a small stand-in agent serves a state whose
//! bridged task owns 127.0.0.2; curl sends from that address (and from the agent's own).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `GET /state` with `body` until the test ends.
fn fake_agent(body: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
        }
    });
    port
}

struct Agent(Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn events(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn curl(from: &str, port: u16, body: &str) -> bool {
    Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            from,
        ])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .is_ok_and(|o| o.stdout == b"200")
}

#[test]
fn events_name_the_mesos_task_behind_the_sender_address() {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "curl is missing (scripts/setup/nettools.sh)"
        );
        eprintln!("\n!!!!!!!! SKIPPING: curl is missing !!!!!!!!\n");
        return;
    }
    let state = serde_json::json!({
        "id": "agent-1",
        "pid": "slave(1)@127.0.0.1:5051",
        "hostname": "node-1",
        "frameworks": [{
            "id": "fw-marathon",
            "name": "marathon",
            "executors": [{
                "id": "shop.1",
                "container": "c-1",
                "directory": "/tmp/none",
                "tasks": [{
                    "id": "shop.1",
                    "name": "shop",
                    "framework_id": "fw-marathon",
                    "executor_id": "",
                    "state": "TASK_RUNNING",
                    "statuses": [
                        {"state": "TASK_STARTING", "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "127.0.0.1"}]}]}},
                        {"state": "TASK_RUNNING", "container_status": {"network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "127.0.0.2"}]}]}}
                    ]
                }, {
                    "id": "worker.1",
                    "name": "worker",
                    "framework_id": "fw-marathon",
                    "state": "TASK_RUNNING",
                    "statuses": [{"state": "TASK_RUNNING", "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "127.0.0.1"}]}]}}]
                }]
            }]
        }]
    });
    let agent_port = fake_agent(state.to_string());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let conf = dir.path().join("node.conf");
    let port = free_port();
    std::fs::write(
        &conf,
        format!(
            "input {{ http {{ host => \"127.0.0.1\" port => {port} }} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ),
    )
    .unwrap();
    let _agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
            .arg("agent")
            .arg("-f")
            .arg(&conf)
            .arg("--path.data")
            .arg(dir.path().join("data"))
            .args(["--status.bind", "127.0.0.1:0", "--mesos-agent"])
            .arg(format!("http://127.0.0.1:{agent_port}"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The task map is read at start: resend until an event names the task.
    let start = Instant::now();
    let mut n = 0;
    let named = loop {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "no event named its task: {:#?}",
            events(&out)
        );
        if curl("127.0.0.2", port, &format!("{{\"n\":{n}}}")) {
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(300));
        if let Some(e) = events(&out)
            .into_iter()
            .find(|e| !e["mesos"]["task"]["id"].is_null())
        {
            break e;
        }
    };
    assert_eq!(named["mesos"]["task"]["id"], "shop.1");
    assert_eq!(named["mesos"]["task"]["name"], "shop");
    assert_eq!(named["mesos"]["framework"]["id"], "fw-marathon");
    assert_eq!(named["mesos"]["framework"]["name"], "marathon");
    assert_eq!(named["mesos"]["executor"]["id"], "shop.1");
    assert_eq!(named["host"]["ip"], "127.0.0.2");
    // The agent's own address is every host-network task's: it names none.
    assert!(curl("127.0.0.1", port, "{\"from\":\"agent\"}"));
    let start = Instant::now();
    let own = loop {
        if let Some(e) = events(&out).into_iter().find(|e| e["from"] == "agent") {
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the agent-address event never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(own.get("mesos").is_none(), "{own}");
    assert_eq!(own["host"]["ip"], "127.0.0.1");
}
