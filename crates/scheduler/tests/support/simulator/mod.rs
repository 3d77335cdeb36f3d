//! A Mesos master simulator for tests (PROTOCOL.md §13). Test-only: never linked
//! into the product. It speaks the real wire protocol over HTTP (exact
//! Content-Type, Mesos-Stream-Id rules, RecordIO stream split at odd points,
//! reliable updates re-sent until ACKed, reconciliation table, filters,
//! SUPPRESS/REVIVE, 307 to the leader) and "runs" tasks in memory, or hands them
//! to a `task_launcher` that runs real processes.
//!
//! The inconvenient rules are kept to the letter, so that a scheduler relying on a
//! lenient master fails here (each has a test in `tests/simulator_rules.rs`):
//! * a suppressed framework gets no offers at all, not even for agents that register
//!   later; only REVIVE (or a SUBSCRIBE without `suppressed_roles`) ends it;
//! * a decline filter holds for `refuse_seconds` per agent, and, as the allocator's
//!   `RefusedOfferFilter` does, it only hides offers *contained in* the refused
//!   resources (freed resources make the agent offered again);
//! * with `offer_timeout` set, an offer left unanswered is rescinded (RESCIND) and
//!   its resources re-offered later; using it then gives TASK_DROPPED/LOST;
//! * a (re-)SUBSCRIBE drops every outstanding offer without RESCIND and clears the
//!   framework's filters (the allocator deactivates it), so offers are regenerated;
//! * reliable task updates are re-sent, with the interval doubling from `retry` up
//!   to `retry_max`, until acknowledged, and a task's next update waits for the ACK;
//! * offers carry the node's free `ports` ranges, and a task using a port that its
//!   offers did not hold (or that another task of the same ACCEPT uses) gets
//!   TASK_ERROR/REASON_TASK_INVALID, as the master's resource check gives.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use logstash_mesos_scheduler::proto::*;
use logstash_mesos_scheduler::recordio;
use tokio::sync::mpsc;

mod calls;
use calls::scheduler_endpoint;

#[derive(Debug, Clone)]
pub struct SimAgent {
    pub id: Id,
    pub hostname: String,
    pub cpus: f64,
    pub mem: f64,
    pub reachable: bool,
    /// This node's `ports` resource, inclusive ranges (disjoint per node: every
    /// simulated node shares the one loopback interface).
    pub ports: Vec<(u64, u64)>,
    /// The agent's own HTTP port (offers carry it in `url`); 5051 as Mesos defaults.
    pub agent_port: u16,
    /// What the agent's `--executor_environment_variables` gives every executor of
    /// this node (e.g. its own `DOCKER_HOST`).
    pub executor_env: Vec<(String, String)>,
}

/// An outstanding offer: its agent and what it offered.
#[derive(Debug, Clone)]
pub(crate) struct OfferRec {
    pub agent: Id,
    pub cpus: f64,
    pub mem: f64,
    /// The offered ports.
    pub ports: std::collections::BTreeSet<u64>,
    pub at: Instant,
}

/// A refuse filter on one agent: hides offers contained in these resources until `until`.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub until: Instant,
    pub cpus: f64,
    pub mem: f64,
    /// Refused ports: an offer with a port outside them is not contained (offered).
    pub ports: std::collections::BTreeSet<u64>,
}

/// What a `task_launcher` gets for each task the master sends to an agent.
#[derive(Debug, Clone)]
pub struct Launch {
    pub info: TaskInfo,
    pub framework_id: Id,
    pub agent: SimAgent,
}

#[derive(Debug, Clone)]
pub struct SimTask {
    pub info: TaskInfo,
    pub state: TaskState,
    /// Reliable updates not yet delivered+ACKed; the head is in flight.
    queue: Vec<TaskStatus>,
    last_sent: Option<Instant>,
    /// Wait before re-sending the head of `queue`; doubles per retry.
    retry_delay: Duration,
}

struct Framework {
    info: FrameworkInfo,
    stream: Option<mpsc::UnboundedSender<Bytes>>,
    stream_id: Option<String>,
    suppressed: bool,
    filters: HashMap<Id, Filter>,
    offers: HashMap<Id, OfferRec>,
    tasks: BTreeMap<Id, SimTask>,
    disconnected_at: Option<Instant>,
    removed: bool,
}

impl Framework {
    fn partition_aware(&self) -> bool {
        self.info.has_capability("PARTITION_AWARE")
    }
}

/// Called with each task the simulator launches.
pub type Launcher = Arc<dyn Fn(&TaskInfo) + Send + Sync>;
/// Called (with the simulator locked: it must not call back) for each launched task,
/// with its framework and agent; a real process is started by it.
pub type TaskLauncher = Arc<dyn Fn(&Launch) + Send + Sync>;

pub struct Sim {
    pub agents: BTreeMap<Id, SimAgent>,
    frameworks: HashMap<Id, Framework>,
    /// Every call received, in order (for assertions).
    pub calls: Vec<Call>,
    /// Index into `addrs` of the leading master.
    pub leader: usize,
    pub addrs: Vec<SocketAddr>,
    pub heartbeat: Duration,
    pub heartbeats_enabled: bool,
    /// A stalled connection: nothing at all reaches the scheduler.
    pub mute: bool,
    /// `--authenticate_http_frameworks`: (principal, secret) required as Basic auth.
    pub credentials: Option<(String, String)>,
    /// Starts the "process" of every launched task (in-process agents in tests).
    pub launcher: Option<Launcher>,
    /// Stops the "process" of every task the simulator kills (KILL, TEARDOWN).
    pub killer: Option<Launcher>,
    /// Like `launcher`, with the framework id and the agent.
    pub task_launcher: Option<TaskLauncher>,
    /// First re-send interval of an unacknowledged update (the agent's 10 s).
    pub retry: Duration,
    /// Cap of its doubling (the agent's 10 min).
    pub retry_max: Duration,
    /// The master's `--offer_timeout`: unanswered offers are rescinded after it.
    pub offer_timeout: Option<Duration>,
    /// Offers sent to frameworks, and RESCINDs, since start.
    pub offers_sent: u64,
    pub rescinds_sent: u64,
    seq: u64,
    split: usize,
}

#[derive(Clone)]
pub struct Simulator(pub Arc<Mutex<Sim>>);

struct Server {
    sim: Simulator,
    index: usize,
}

impl Simulator {
    /// Starts `masters` HTTP listeners on loopback sharing one state; master 0 leads.
    pub async fn start(masters: usize) -> Self {
        let sim = Simulator(Arc::new(Mutex::new(Sim {
            agents: BTreeMap::new(),
            frameworks: HashMap::new(),
            calls: Vec::new(),
            leader: 0,
            addrs: Vec::new(),
            heartbeat: Duration::from_millis(300),
            heartbeats_enabled: true,
            mute: false,
            credentials: None,
            launcher: None,
            killer: None,
            task_launcher: None,
            retry: Duration::from_millis(300),
            retry_max: Duration::from_secs(5),
            offer_timeout: None,
            offers_sent: 0,
            rescinds_sent: 0,
            seq: 0,
            split: 0,
        })));
        for index in 0..masters {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            sim.lock().addrs.push(listener.local_addr().expect("addr"));
            let app = axum::Router::new()
                .route("/api/v1/scheduler", axum::routing::post(scheduler_endpoint))
                .with_state(Arc::new(Server {
                    sim: sim.clone(),
                    index,
                }));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        let ticker = sim.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ticker.lock().tick();
            }
        });
        let hb = sim.clone();
        tokio::spawn(async move {
            loop {
                let every = hb.lock().heartbeat;
                tokio::time::sleep(every).await;
                let mut s = hb.lock();
                if s.heartbeats_enabled {
                    for fw in s.frameworks.keys().cloned().collect::<Vec<_>>() {
                        s.emit(&fw, &Event::heartbeat());
                    }
                }
            }
        });
        sim
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn url(&self, index: usize) -> String {
        format!("http://{}", self.lock().addrs[index])
    }

    /// A node registers; it is offered at the next allocation (50 ms).
    pub fn add_agent(&self, hostname: &str, cpus: f64, mem: f64) -> Id {
        self.add_agent_with_env(hostname, cpus, mem, Vec::new())
    }

    /// A node whose executors get `env` (the agent's `--executor_environment_variables`).
    pub fn add_agent_with_env(
        &self,
        hostname: &str,
        cpus: f64,
        mem: f64,
        env: Vec<(String, String)>,
    ) -> Id {
        let mut s = self.lock();
        let n = s.next();
        let id = Id::new(format!("agent-{hostname}-{n}"));
        // 100 ports per node from 31000 (Mesos's default range starts there). Every node
        // shares the one loopback interface, and tests of one binary run side by side with
        // their own simulators: ranges are numbered process-wide so no two nodes overlap.
        static NEXT_RANGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let range = NEXT_RANGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = 31_000 + 100 * (range % 300);
        s.agents.insert(
            id.clone(),
            SimAgent {
                id: id.clone(),
                hostname: hostname.into(),
                cpus,
                mem,
                reachable: true,
                ports: vec![(base, base + 99)],
                agent_port: 5051,
                executor_env: env,
            },
        );
        id
    }

    /// Replaces the node's `ports` resource (the agent's `--resources=ports:[...]`), e.g.
    /// to offer a well-known port like 514 besides its range.
    pub fn set_agent_ports(&self, id: &Id, ranges: Vec<(u64, u64)>) {
        if let Some(a) = self.lock().agents.get_mut(id) {
            a.ports = ranges;
        }
    }

    /// The DiscoveryInfo of every non-terminal task, by hostname.
    pub fn live_discovery(&self) -> Vec<(String, Option<DiscoveryInfo>)> {
        let s = self.lock();
        let mut out = Vec::new();
        for fw in s.frameworks.values() {
            for t in fw.tasks.values().filter(|t| !t.state.is_terminal()) {
                let host = s
                    .agents
                    .get(&t.info.agent_id)
                    .map(|a| a.hostname.clone())
                    .unwrap_or_default();
                out.push((host, t.info.discovery.clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Points the node's offers (`url`) at the node's agent API, e.g. an
    /// `agent_api::AgentSim` serving this node's sandboxes.
    pub fn set_agent_port(&self, id: &Id, port: u16) {
        if let Some(a) = self.lock().agents.get_mut(id) {
            a.agent_port = port;
        }
    }

    /// The process of a task exited on its own (the command executor's report):
    /// a reliable TASK_FINISHED for status 0, otherwise TASK_FAILED. Ignored for
    /// tasks already terminal or being killed.
    pub fn task_exited(&self, task: &Id, code: Option<i32>, signal: Option<i32>) {
        let mut s = self.lock();
        let (state, msg) = match (code, signal) {
            (Some(0), _) => (
                TaskState::Finished,
                "Command exited with status 0".to_string(),
            ),
            (Some(c), _) => (TaskState::Failed, format!("Command exited with status {c}")),
            (None, Some(sig)) => (
                TaskState::Failed,
                format!("Command terminated with signal {sig}"),
            ),
            (None, None) => (TaskState::Failed, "Command terminated".to_string()),
        };
        s.finish_task(task, state, &msg);
    }

    /// Agent ids by hostname.
    pub fn agent_id(&self, hostname: &str) -> Option<Id> {
        self.lock()
            .agents
            .values()
            .find(|a| a.hostname == hostname)
            .map(|a| a.id.clone())
    }

    /// Health checks fail: tasks become UNREACHABLE (PA) / LOST, plus FAILURE and RESCIND.
    pub fn make_unreachable(&self, agent: &Id) {
        let mut s = self.lock();
        if let Some(a) = s.agents.get_mut(agent) {
            a.reachable = false;
        }
        s.agent_removed(agent);
    }

    /// The agent's task dies on its own (reliable TASK_FAILED from the executor).
    pub fn fail_task(&self, task: &Id) {
        let mut s = self.lock();
        s.finish_task(task, TaskState::Failed, "Command exited with status 1");
    }

    /// Closes every framework's event stream (the scheduler must re-subscribe).
    pub fn drop_connections(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        for fw in s.frameworks.values_mut() {
            if fw.stream.take().is_some() {
                fw.disconnected_at = Some(now);
            }
            fw.offers.clear();
            fw.filters.clear();
        }
    }

    /// Master failover: another listener becomes leader; streams are dropped.
    pub fn fail_over_to(&self, index: usize) {
        self.lock().leader = index;
        self.drop_connections();
    }

    pub fn calls_of(&self, kind: CallType) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.kind == kind)
            .cloned()
            .collect()
    }

    /// (hostname, task id, state) of every non-terminal task.
    pub fn live_tasks(&self) -> Vec<(String, Id, TaskState)> {
        let s = self.lock();
        let mut out = Vec::new();
        for fw in s.frameworks.values() {
            for (id, t) in &fw.tasks {
                if !t.state.is_terminal() {
                    let host = s
                        .agents
                        .get(&t.info.agent_id)
                        .map(|a| a.hostname.clone())
                        .unwrap_or_default();
                    out.push((host, id.clone(), t.state.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Removed frameworks (torn down or failover timed out).
    pub fn removed_frameworks(&self) -> Vec<Id> {
        self.lock()
            .frameworks
            .iter()
            .filter(|(_, f)| f.removed)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn framework_ids(&self) -> Vec<Id> {
        self.lock().frameworks.keys().cloned().collect()
    }

    pub fn launched_infos(&self) -> Vec<TaskInfo> {
        self.lock()
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values().map(|t| t.info.clone()))
            .collect()
    }
}

impl Sim {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn uuid(&mut self) -> String {
        let mut b = *uuid::Uuid::new_v4().as_bytes();
        b[0] = b[0].wrapping_add(1);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// Sends one event, split into two HTTP chunks at a moving point.
    fn emit(&mut self, fid: &Id, ev: &Event) {
        if self.mute {
            return;
        }
        let json = serde_json::to_vec(ev).expect("event serializes");
        let framed = recordio::encode(&json);
        self.split = (self.split + 7) % framed.len().max(1);
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        let Some(tx) = &fw.stream else { return };
        let (a, b) = framed.split_at(self.split);
        let ok = tx.send(Bytes::copy_from_slice(a)).is_ok()
            && tx.send(Bytes::copy_from_slice(b)).is_ok();
        if !ok {
            fw.stream = None;
            fw.disconnected_at = Some(Instant::now());
            fw.offers.clear();
        }
    }

    fn status(&self, task: &TaskInfo, state: TaskState, source: &str) -> TaskStatus {
        let mut s = TaskStatus::new(task.task_id.clone(), state);
        s.agent_id = Some(task.agent_id.clone());
        s.source = Some(source.into());
        s.timestamp = Some(1_735_689_600.0);
        s
    }

    /// Queues a reliable (uuid-carrying) update; sent when the previous one is ACKed.
    fn reliable(&mut self, fid: &Id, task_id: &Id, mut status: TaskStatus) {
        status.uuid = Some(self.uuid());
        status.executor_id = Some(task_id.clone());
        if let Some(t) = self
            .frameworks
            .get_mut(fid)
            .and_then(|f| f.tasks.get_mut(task_id))
        {
            t.state = status.state.clone();
            t.queue.push(status);
        }
        self.flush(fid);
    }

    fn flush(&mut self, fid: &Id) {
        let now = Instant::now();
        let (retry, retry_max) = (self.retry, self.retry_max);
        let mut out = Vec::new();
        if let Some(fw) = self.frameworks.get_mut(fid) {
            if fw.stream.is_none() {
                return;
            }
            for t in fw.tasks.values_mut() {
                if let Some(head) = t.queue.first() {
                    match t.last_sent {
                        None => t.retry_delay = retry,
                        Some(l) if now.duration_since(l) >= t.retry_delay => {
                            t.retry_delay = (t.retry_delay * 2).min(retry_max);
                        }
                        Some(_) => continue,
                    }
                    t.last_sent = Some(now);
                    out.push(head.clone());
                }
            }
        }
        for s in out {
            self.emit(fid, &Event::update(s));
        }
    }

    /// TEARDOWN (PROTOCOL.md §6): every task killed, offers gone, the stream
    /// closed, the id refused from now on. Torn-down frameworks get no updates.
    fn teardown(&mut self, fid: &Id) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        fw.removed = true;
        fw.stream = None;
        fw.stream_id = None;
        fw.offers.clear();
        let mut killed = Vec::new();
        for t in fw.tasks.values_mut() {
            t.queue.clear();
            if !t.state.is_terminal() {
                t.state = TaskState::Killed;
                killed.push(t.info.clone());
            }
        }
        if let Some(kill) = &self.killer {
            for info in &killed {
                kill(info);
            }
        }
    }

    fn finish_task(&mut self, task: &Id, state: TaskState, message: &str) {
        let fids: Vec<Id> = self
            .frameworks
            .iter()
            .filter(|(_, f)| {
                f.tasks
                    .get(task)
                    .is_some_and(|t| !t.state.is_terminal() && t.state != TaskState::Killing)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for fid in fids {
            let Some(info) = self
                .frameworks
                .get(&fid)
                .and_then(|f| f.tasks.get(task))
                .map(|t| t.info.clone())
            else {
                continue;
            };
            let mut st = self.status(&info, state.clone(), "SOURCE_EXECUTOR");
            st.message = Some(message.into());
            self.reliable(&fid, task, st);
        }
    }

    fn agent_removed(&mut self, agent: &Id) {
        for fid in self.frameworks.keys().cloned().collect::<Vec<_>>() {
            let Some(fw) = self.frameworks.get_mut(&fid) else {
                continue;
            };
            let pa = fw.partition_aware();
            let rescinded: Vec<Id> = fw
                .offers
                .iter()
                .filter(|(_, r)| &r.agent == agent)
                .map(|(o, _)| o.clone())
                .collect();
            for o in &rescinded {
                fw.offers.remove(o);
            }
            let mut updates = Vec::new();
            for t in fw.tasks.values_mut() {
                if &t.info.agent_id == agent && !t.state.is_terminal() {
                    t.state = if pa {
                        TaskState::Unreachable
                    } else {
                        TaskState::Lost
                    };
                    t.queue.clear();
                    updates.push(t.info.clone());
                }
            }
            for info in updates {
                let state = if pa {
                    TaskState::Unreachable
                } else {
                    TaskState::Lost
                };
                let mut st = self.status(&info, state, "SOURCE_MASTER");
                st.reason = Some("REASON_AGENT_REMOVED".into());
                st.message = Some("health check timed out".into());
                st.unreachable_time = Some(TimeInfo {
                    nanoseconds: 1_735_690_000_000_000_000,
                });
                self.emit(&fid, &Event::update(st));
            }
            self.emit(&fid, &Event::failure(agent.clone()));
            for o in rescinded {
                self.rescinds_sent += 1;
                self.emit(&fid, &Event::rescind(o));
            }
        }
    }

    fn used(&self, agent: &Id) -> (f64, f64) {
        let mut used = (0.0, 0.0);
        for fw in self.frameworks.values() {
            for t in fw
                .tasks
                .values()
                .filter(|t| &t.info.agent_id == agent && !t.state.is_terminal())
            {
                for r in &t.info.resources {
                    let v = r.scalar.as_ref().map_or(0.0, |s| s.value);
                    match r.name.as_str() {
                        "cpus" => used.0 += v,
                        "mem" => used.1 += v,
                        _ => {}
                    }
                }
            }
        }
        used
    }

    fn tick(&mut self) {
        let now = Instant::now();
        for fid in self.frameworks.keys().cloned().collect::<Vec<_>>() {
            self.flush(&fid);
            // failover_timeout expiry: the framework and its tasks are removed.
            let expired = self.frameworks.get(&fid).is_some_and(|f| {
                !f.removed
                    && f.disconnected_at.is_some_and(|d| {
                        now.duration_since(d).as_secs_f64() > f.info.failover_timeout.unwrap_or(0.0)
                    })
            });
            if expired {
                if let Some(f) = self.frameworks.get_mut(&fid) {
                    f.removed = true;
                    for t in f.tasks.values_mut() {
                        t.state = TaskState::Killed;
                        t.queue.clear();
                    }
                }
            }
            self.expire_offers(&fid, now);
            self.offer(&fid, now);
        }
    }

    /// `--offer_timeout`: offers unanswered that long are rescinded; their resources
    /// go back to the pool with no filter (offered again at a later allocation).
    fn expire_offers(&mut self, fid: &Id, now: Instant) {
        let Some(timeout) = self.offer_timeout else {
            return;
        };
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        let old: Vec<Id> = fw
            .offers
            .iter()
            .filter(|(_, r)| now.duration_since(r.at) >= timeout)
            .map(|(o, _)| o.clone())
            .collect();
        for o in &old {
            fw.offers.remove(o);
        }
        for o in old {
            self.rescinds_sent += 1;
            self.emit(fid, &Event::rescind(o));
        }
    }

    fn offer(&mut self, fid: &Id, now: Instant) {
        let agents: Vec<SimAgent> = self
            .agents
            .values()
            .filter(|a| a.reachable)
            .cloned()
            .collect();
        let Some(fw) = self.frameworks.get(fid) else {
            return;
        };
        if fw.stream.is_none() || fw.suppressed || fw.removed {
            return;
        }
        // One pass over the tasks (not one per agent: benches run 1,000 nodes).
        let mut usage: HashMap<Id, (f64, f64, Vec<u64>)> = HashMap::new();
        for fw in self.frameworks.values() {
            for t in fw.tasks.values().filter(|t| !t.state.is_terminal()) {
                let u = usage.entry(t.info.agent_id.clone()).or_default();
                for r in &t.info.resources {
                    let v = r.scalar.as_ref().map_or(0.0, |x| x.value);
                    match r.name.as_str() {
                        "cpus" => u.0 += v,
                        "mem" => u.1 += v,
                        "ports" => {
                            for range in r.ranges.iter().flat_map(|rs| &rs.range) {
                                u.2.extend(range.begin..=range.end);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut offers = Vec::new();
        for a in agents {
            let (uc, um, used_ports) = usage.remove(&a.id).unwrap_or_default();
            let id = Id::new(format!("offer-{}", self.next()));
            let Some(fw) = self.frameworks.get_mut(fid) else {
                return;
            };
            if fw.stream.is_none() || fw.suppressed || fw.removed {
                return;
            }
            if fw.offers.values().any(|o| o.agent == a.id) {
                continue;
            }
            let (cpus, mem) = (a.cpus - uc, a.mem - um);
            if cpus < 0.01 || mem < 1.0 {
                continue;
            }
            let free: std::collections::BTreeSet<u64> = a
                .ports
                .iter()
                .flat_map(|&(b, e)| b..=e)
                .filter(|p| !used_ports.contains(p))
                .collect();
            if let Some(f) = fw.filters.get(&a.id) {
                if f.until <= now {
                    fw.filters.remove(&a.id);
                } else if cpus <= f.cpus + 1e-9 && mem <= f.mem + 1e-9 && free.is_subset(&f.ports) {
                    // Refused resources contain this offer: filtered.
                    continue;
                }
            }
            let ranges = to_ranges(&free);
            let role = fw.info.roles.first().cloned().unwrap_or_else(|| "*".into());
            let alloc = AllocationInfo { role: Some(role) };
            let mut res = vec![
                Resource::scalar("cpus", cpus),
                Resource::scalar("mem", mem),
                Resource::ranges("ports", ranges),
            ];
            for r in &mut res {
                r.role = Some("*".into());
                r.allocation_info = Some(alloc.clone());
            }
            fw.offers.insert(
                id.clone(),
                OfferRec {
                    agent: a.id.clone(),
                    cpus,
                    mem,
                    ports: free,
                    at: now,
                },
            );
            offers.push(Offer {
                id,
                framework_id: fid.clone(),
                agent_id: a.id.clone(),
                hostname: a.hostname.clone(),
                // What a real master sends: the agent's libprocess address.
                url: Some(serde_json::json!({
                    "scheme": "http",
                    "address": {"hostname": a.hostname, "ip": "127.0.0.1", "port": a.agent_port},
                    "path": "/slave(1)"
                })),
                domain: None,
                resources: res,
                attributes: vec![],
                executor_ids: vec![],
                unavailability: None,
                allocation_info: Some(alloc),
            });
        }
        if !offers.is_empty() {
            self.offers_sent += offers.len() as u64;
            self.emit(fid, &Event::offers(offers));
        }
    }
}

/// Consecutive ports as `Range`s.
pub(crate) fn to_ranges(ports: &std::collections::BTreeSet<u64>) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some(r) if r.end + 1 == p => r.end = p,
            _ => out.push(Range { begin: p, end: p }),
        }
    }
    out
}

/// The ports of a task's `ports` resources.
pub(crate) fn task_ports(info: &TaskInfo) -> Vec<u64> {
    info.resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.iter().flat_map(|rs| &rs.range))
        .flat_map(|r| r.begin..=r.end.min(r.begin.saturating_add(65_535)))
        .collect()
}
