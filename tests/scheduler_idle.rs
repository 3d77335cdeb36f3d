//! Benchmark, not run by default (`scripts/bench-scheduler-idle.sh`): the real
//! `logstash-mesos scheduler` process against the master simulator with many nodes
//! (1,000 by default), every node served, then idle. Reports per minute the
//! scheduler's CPU time and RSS (from /proc) and the offer churn (offers the master
//! sent, DECLINE/REVIVE/SUPPRESS calls it received). Tasks run in the simulator's
//! memory; heartbeats every 15 s as a real master sends them.
//!
//! Env: `IDLE_NODES` (1000), `IDLE_MINUTES` (10), `LOGSTASH_MESOS_BIN` (the binary
//! to measure; default the debug build next to this test).

#[path = "../crates/scheduler/tests/support/simulator/mod.rs"]
mod simulator;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logstash_mesos_scheduler::proto::{CallType, TaskState};
use simulator::Simulator;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (utime + stime in seconds, VmRSS in KiB) of `pid`.
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    (ticks / 100.0, rss)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-scheduler-idle.sh"]
async fn scheduler_idle_with_many_nodes() {
    let nodes = env_num("IDLE_NODES", 1000);
    let minutes = env_num("IDLE_MINUTES", 10);
    let bin = std::env::var("LOGSTASH_MESOS_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_logstash-mesos").to_string());
    let sim = Simulator::start(1).await;
    sim.lock().heartbeat = Duration::from_secs(15);
    for i in 0..nodes {
        sim.add_agent(&format!("node-{i:04}"), 4.0, 8192.0);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = Command::new(&bin)
        .args([
            "scheduler",
            "--master",
            &sim.url(0),
            "--agent-command",
            "./logstash-mesos agent",
        ])
        .arg("--state")
        .arg(format!("file://{}", dir.path().join("state").display()))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--advertise-url", &format!("http://127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("scheduler starts");
    let pid = child.id();
    let t0 = Instant::now();
    let running = || {
        sim.live_tasks()
            .iter()
            .filter(|t| t.2 == TaskState::Running)
            .count() as u64
    };
    while running() < nodes {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "only {} of {nodes} agents running",
            running()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let up = t0.elapsed();
    let count = |k: CallType| sim.calls_of(k).len();
    // Let the last ACKs and declines settle before the idle window starts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu0, rss0) = usage(pid);
    println!(
        "{nodes} nodes: all agents running after {:.1} s; scheduler CPU so far {cpu0:.2} s, RSS {} MiB",
        up.as_secs_f64(),
        rss0 / 1024
    );
    println!("minute | scheduler CPU s | CPU % | RSS MiB | offers sent | DECLINE | REVIVE | SUPPRESS | ACCEPT");
    // Each read takes the simulator's lock on its own: a guard held across `count` (which
    // locks too) would deadlock.
    let offers_sent = || sim.lock().offers_sent;
    let mut last = (
        cpu0,
        offers_sent(),
        count(CallType::Decline),
        count(CallType::Revive),
        count(CallType::Suppress),
        count(CallType::Accept),
    );
    let accepts_at_start = last.5;
    let mut total_offers = 0;
    for m in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (cpu, rss) = usage(pid);
        let now = (
            cpu,
            offers_sent(),
            count(CallType::Decline),
            count(CallType::Revive),
            count(CallType::Suppress),
            count(CallType::Accept),
        );
        total_offers += now.1 - last.1;
        println!(
            "{m:>6} | {:>15.3} | {:>5.2} | {:>7} | {:>11} | {:>7} | {:>6} | {:>8} | {:>6}",
            now.0 - last.0,
            (now.0 - last.0) / 60.0 * 100.0,
            rss / 1024,
            now.1 - last.1,
            now.2 - last.2,
            now.3 - last.3,
            now.4 - last.4,
            now.5 - last.5,
        );
        last = now;
    }
    let (cpu, rss) = usage(pid);
    println!(
        "idle {minutes} min: CPU {:.2} s ({:.3} % of a core), RSS {} MiB, offers {:.1}/min",
        cpu - cpu0,
        (cpu - cpu0) / (minutes as f64 * 60.0) * 100.0,
        rss / 1024,
        total_offers as f64 / minutes as f64
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(last.5, accepts_at_start, "launches while idle");
    assert_eq!(
        sim.live_tasks().len() as u64,
        nodes,
        "exactly one agent per node"
    );
}
