//! A Mesos master simulator for tests (PROTOCOL.md §13). Test-only: never linked
//! into the product. It speaks the real wire protocol over HTTP (exact
//! Content-Type, Mesos-Stream-Id rules, RecordIO stream split at odd points,
//! reliable updates re-sent until ACKed, reconciliation table, filters,
//! SUPPRESS/REVIVE, 307 to the leader) and "runs" tasks in memory.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use logstash_mesos_scheduler::proto::*;
use logstash_mesos_scheduler::recordio;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct SimAgent {
    pub id: Id,
    pub hostname: String,
    pub cpus: f64,
    pub mem: f64,
    pub reachable: bool,
}

#[derive(Debug, Clone)]
pub struct SimTask {
    pub info: TaskInfo,
    pub state: TaskState,
    /// Reliable updates not yet delivered+ACKed; the head is in flight.
    queue: Vec<TaskStatus>,
    last_sent: Option<Instant>,
}

struct Framework {
    info: FrameworkInfo,
    stream: Option<mpsc::UnboundedSender<Bytes>>,
    stream_id: Option<String>,
    suppressed: bool,
    filters: HashMap<Id, Instant>,
    offers: HashMap<Id, Id>,
    tasks: BTreeMap<Id, SimTask>,
    disconnected_at: Option<Instant>,
    removed: bool,
}

impl Framework {
    fn partition_aware(&self) -> bool {
        self.info.has_capability("PARTITION_AWARE")
    }
}

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
    pub retry: Duration,
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
            retry: Duration::from_millis(300),
            seq: 0,
            split: 0,
        })));
        for index in 0..masters {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            sim.lock().addrs.push(listener.local_addr().expect("addr"));
            let app = axum::Router::new()
                .route("/api/v1/scheduler", axum::routing::post(scheduler_endpoint))
                .with_state(Arc::new(Server { sim: sim.clone(), index }));
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
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn url(&self, index: usize) -> String {
        format!("http://{}", self.lock().addrs[index])
    }

    pub fn add_agent(&self, hostname: &str, cpus: f64, mem: f64) -> Id {
        let mut s = self.lock();
        let id = Id::new(format!("agent-{hostname}-{}", s.next()));
        s.agents.insert(id.clone(), SimAgent { id: id.clone(), hostname: hostname.into(), cpus, mem, reachable: true });
        id
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
        }
    }

    /// Master failover: another listener becomes leader; streams are dropped.
    pub fn fail_over_to(&self, index: usize) {
        self.lock().leader = index;
        self.drop_connections();
    }

    pub fn calls_of(&self, kind: CallType) -> Vec<Call> {
        self.lock().calls.iter().filter(|c| c.kind == kind).cloned().collect()
    }

    /// (hostname, task id, state) of every non-terminal task.
    pub fn live_tasks(&self) -> Vec<(String, Id, TaskState)> {
        let s = self.lock();
        let mut out = Vec::new();
        for fw in s.frameworks.values() {
            for (id, t) in &fw.tasks {
                if !t.state.is_terminal() {
                    let host = s.agents.get(&t.info.agent_id).map(|a| a.hostname.clone()).unwrap_or_default();
                    out.push((host, id.clone(), t.state.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn framework_ids(&self) -> Vec<Id> {
        self.lock().frameworks.keys().cloned().collect()
    }

    pub fn launched_infos(&self) -> Vec<TaskInfo> {
        self.lock().frameworks.values().flat_map(|f| f.tasks.values().map(|t| t.info.clone())).collect()
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
        let Some(fw) = self.frameworks.get_mut(fid) else { return };
        let Some(tx) = &fw.stream else { return };
        let (a, b) = framed.split_at(self.split);
        let ok = tx.send(Bytes::copy_from_slice(a)).is_ok() && tx.send(Bytes::copy_from_slice(b)).is_ok();
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
        if let Some(t) = self.frameworks.get_mut(fid).and_then(|f| f.tasks.get_mut(task_id)) {
            t.state = status.state.clone();
            t.queue.push(status);
        }
        self.flush(fid);
    }

    fn flush(&mut self, fid: &Id) {
        let now = Instant::now();
        let retry = self.retry;
        let mut out = Vec::new();
        if let Some(fw) = self.frameworks.get_mut(fid) {
            if fw.stream.is_none() {
                return;
            }
            for t in fw.tasks.values_mut() {
                if let Some(head) = t.queue.first() {
                    if t.last_sent.is_none_or(|l| now.duration_since(l) >= retry) {
                        t.last_sent = Some(now);
                        out.push(head.clone());
                    }
                }
            }
        }
        for s in out {
            self.emit(fid, &Event::update(s));
        }
    }

    fn finish_task(&mut self, task: &Id, state: TaskState, message: &str) {
        let fids: Vec<Id> = self.frameworks.iter().filter(|(_, f)| f.tasks.contains_key(task)).map(|(k, _)| k.clone()).collect();
        for fid in fids {
            let Some(info) = self.frameworks.get(&fid).and_then(|f| f.tasks.get(task)).map(|t| t.info.clone()) else {
                continue;
            };
            let mut st = self.status(&info, state.clone(), "SOURCE_EXECUTOR");
            st.message = Some(message.into());
            self.reliable(&fid, task, st);
        }
    }

    fn agent_removed(&mut self, agent: &Id) {
        for fid in self.frameworks.keys().cloned().collect::<Vec<_>>() {
            let Some(fw) = self.frameworks.get_mut(&fid) else { continue };
            let pa = fw.partition_aware();
            let rescinded: Vec<Id> = fw.offers.iter().filter(|(_, a)| *a == agent).map(|(o, _)| o.clone()).collect();
            for o in &rescinded {
                fw.offers.remove(o);
            }
            let mut updates = Vec::new();
            for t in fw.tasks.values_mut() {
                if &t.info.agent_id == agent && !t.state.is_terminal() {
                    t.state = if pa { TaskState::Unreachable } else { TaskState::Lost };
                    t.queue.clear();
                    updates.push(t.info.clone());
                }
            }
            for info in updates {
                let state = if pa { TaskState::Unreachable } else { TaskState::Lost };
                let mut st = self.status(&info, state, "SOURCE_MASTER");
                st.reason = Some("REASON_AGENT_REMOVED".into());
                st.message = Some("health check timed out".into());
                st.unreachable_time = Some(TimeInfo { nanoseconds: 1_735_690_000_000_000_000 });
                self.emit(&fid, &Event::update(st));
            }
            self.emit(&fid, &Event::failure(agent.clone()));
            for o in rescinded {
                self.emit(&fid, &Event::rescind(o));
            }
        }
    }

    fn used(&self, agent: &Id) -> (f64, f64) {
        let mut used = (0.0, 0.0);
        for fw in self.frameworks.values() {
            for t in fw.tasks.values().filter(|t| &t.info.agent_id == agent && !t.state.is_terminal()) {
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
            self.offer(&fid, now);
        }
    }

    fn offer(&mut self, fid: &Id, now: Instant) {
        let agents: Vec<SimAgent> = self.agents.values().filter(|a| a.reachable).cloned().collect();
        let mut offers = Vec::new();
        for a in agents {
            let (uc, um) = self.used(&a.id);
            let id = Id::new(format!("offer-{}", self.next()));
            let Some(fw) = self.frameworks.get_mut(fid) else { return };
            if fw.stream.is_none() || fw.suppressed || fw.removed {
                return;
            }
            if fw.offers.values().any(|o| *o == a.id) || fw.filters.get(&a.id).is_some_and(|u| *u > now) {
                continue;
            }
            let (cpus, mem) = (a.cpus - uc, a.mem - um);
            if cpus < 0.01 || mem < 1.0 {
                continue;
            }
            let role = fw.info.roles.first().cloned().unwrap_or_else(|| "*".into());
            let alloc = AllocationInfo { role: Some(role) };
            let mut res = vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem), Resource::ranges("ports", vec![Range { begin: 31000, end: 32000 }])];
            for r in &mut res {
                r.role = Some("*".into());
                r.allocation_info = Some(alloc.clone());
            }
            fw.offers.insert(id.clone(), a.id.clone());
            offers.push(Offer {
                id,
                framework_id: fid.clone(),
                agent_id: a.id.clone(),
                hostname: a.hostname.clone(),
                url: None,
                domain: None,
                resources: res,
                attributes: vec![],
                executor_ids: vec![],
                unavailability: None,
                allocation_info: Some(alloc),
            });
        }
        if !offers.is_empty() {
            self.emit(fid, &Event::offers(offers));
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [("Content-Type", "text/plain")], body.to_string()).into_response()
}

async fn scheduler_endpoint(State(srv): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = srv.sim.lock();
    if s.leader != srv.index {
        let leader = s.addrs[s.leader];
        return (StatusCode::TEMPORARY_REDIRECT, [("Location", format!("//{leader}/api/v1/scheduler"))]).into_response();
    }
    if let Some((user, pass)) = &s.credentials {
        let want = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
        if headers.get("Authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
            return (StatusCode::UNAUTHORIZED, [("WWW-Authenticate", "Basic realm=\"mesos\"")]).into_response();
        }
    }
    match headers.get("Content-Type").map(|v| v.to_str().unwrap_or_default()) {
        None => return text(StatusCode::BAD_REQUEST, "Expecting 'Content-Type' to be present"),
        Some("application/json") => {}
        Some(_) => {
            return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Expecting 'Content-Type' of application/json or application/x-protobuf")
        }
    }
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("Failed to parse body into JSON: {e}")),
    };
    let call: Call = match serde_json::from_value(json) {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("Failed to convert JSON into Call protobuf: {e}")),
    };
    s.calls.push(call.clone());
    let stream_header = headers.get("Mesos-Stream-Id").and_then(|v| v.to_str().ok()).map(str::to_string);
    if call.kind == CallType::Subscribe {
        if stream_header.is_some() {
            return text(StatusCode::BAD_REQUEST, "Expecting 'Mesos-Stream-Id' to be absent for SUBSCRIBE");
        }
        return subscribe(&mut s, call);
    }
    let Some(fid) = call.framework_id.clone() else {
        return text(StatusCode::BAD_REQUEST, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present");
    };
    let Some(stream_id) = stream_header else {
        return text(StatusCode::BAD_REQUEST, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    };
    let Some(fw) = s.frameworks.get(&fid).filter(|f| !f.removed) else {
        return text(StatusCode::BAD_REQUEST, "Framework cannot be found");
    };
    if fw.stream.is_none() {
        return text(StatusCode::FORBIDDEN, "Framework is not subscribed");
    }
    if fw.stream_id.as_deref() != Some(stream_id.as_str()) {
        return text(StatusCode::BAD_REQUEST, &format!("The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {fid}"));
    }
    match handle_call(&mut s, &fid, call) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(msg) => text(StatusCode::BAD_REQUEST, &format!("Failed to validate scheduler::Call: {msg}")),
    }
}

fn subscribe(s: &mut Sim, call: Call) -> Response {
    let Some(sub) = call.subscribe else {
        return text(StatusCode::BAD_REQUEST, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present");
    };
    let mut info = sub.framework_info;
    if call.framework_id != info.id {
        return text(StatusCode::BAD_REQUEST, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'");
    }
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let fid = info.id.clone().unwrap_or_else(|| Id::new(format!("fw-{}", s.next())));
    let stream_id = uuid::Uuid::new_v4().to_string();
    let removed = s.frameworks.get(&fid).is_some_and(|f| f.removed);
    if removed {
        let ev = serde_json::to_vec(&Event::error("Framework has been removed")).expect("ser");
        let _ = tx.send(Bytes::from(recordio::encode(&ev)));
        drop(tx);
    } else {
        if s.frameworks.contains_key(&fid) {
            s.emit(&fid, &Event::error("Framework failed over"));
        }
        info.id = Some(fid.clone());
        s.mute = false;
        let fw = s.frameworks.entry(fid.clone()).or_insert_with(|| Framework {
            info: info.clone(),
            stream: None,
            stream_id: None,
            suppressed: false,
            filters: HashMap::new(),
            offers: HashMap::new(),
            tasks: BTreeMap::new(),
            disconnected_at: None,
            removed: false,
        });
        fw.info = info;
        fw.stream = Some(tx);
        fw.stream_id = Some(stream_id.clone());
        fw.suppressed = sub.suppressed_roles.iter().any(|r| fw.info.roles.contains(r));
        fw.offers.clear();
        fw.disconnected_at = None;
        for t in fw.tasks.values_mut() {
            t.last_sent = None;
        }
        let hb = s.heartbeat.as_secs_f64();
        s.emit(&fid, &Event::subscribed(fid.clone(), hb));
        s.emit(&fid, &Event::heartbeat());
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn handle_call(s: &mut Sim, fid: &Id, call: Call) -> Result<(), String> {
    let now = Instant::now();
    match call.kind {
        CallType::Accept => {
            let acc = call.accept.ok_or("Expecting 'accept' to be present")?;
            let refuse = acc.filters.as_ref().and_then(|f| f.refuse_seconds).unwrap_or(5.0);
            let fw = s.frameworks.get_mut(fid).ok_or("unknown framework")?;
            let mut valid = !acc.offer_ids.is_empty();
            let mut agent = None;
            for o in &acc.offer_ids {
                match fw.offers.remove(o) {
                    Some(a) => agent = Some(a),
                    None => valid = false,
                }
            }
            if let Some(a) = &agent {
                fw.filters.insert(a.clone(), now + Duration::from_secs_f64(refuse));
            }
            let pa = fw.partition_aware();
            for op in acc.operations {
                for info in op.launch.map(|l| l.task_infos).unwrap_or_default() {
                    let mut st = s.status(&info, TaskState::Dropped, "SOURCE_MASTER");
                    if !valid || agent.as_ref() != Some(&info.agent_id) {
                        st.state = if pa { TaskState::Dropped } else { TaskState::Lost };
                        st.reason = Some("REASON_INVALID_OFFERS".into());
                        st.message = Some("Task launched with invalid offers".into());
                        s.emit(fid, &Event::update(st));
                        continue;
                    }
                    let problem = if info.resources.is_empty() {
                        Some("Task uses no resources")
                    } else if info.command.is_none() && info.executor.is_none() {
                        Some("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        st.state = TaskState::Error;
                        st.reason = Some("REASON_TASK_INVALID".into());
                        st.message = Some(p.into());
                        s.emit(fid, &Event::update(st));
                        continue;
                    }
                    let id = info.task_id.clone();
                    let starting = s.status(&info, TaskState::Starting, "SOURCE_EXECUTOR");
                    let running = s.status(&info, TaskState::Running, "SOURCE_EXECUTOR");
                    if let Some(fw) = s.frameworks.get_mut(fid) {
                        fw.tasks.insert(id.clone(), SimTask { info, state: TaskState::Staging, queue: vec![], last_sent: None });
                    }
                    s.reliable(fid, &id, starting);
                    s.reliable(fid, &id, running);
                }
            }
        }
        CallType::Decline => {
            let d = call.decline.ok_or("Expecting 'decline' to be present")?;
            let refuse = d.filters.as_ref().and_then(|f| f.refuse_seconds).unwrap_or(5.0);
            let fw = s.frameworks.get_mut(fid).ok_or("unknown framework")?;
            for o in d.offer_ids {
                if let Some(a) = fw.offers.remove(&o) {
                    fw.filters.insert(a, now + Duration::from_secs_f64(refuse));
                }
            }
        }
        CallType::Suppress => {
            if let Some(fw) = s.frameworks.get_mut(fid) {
                fw.suppressed = true;
            }
        }
        CallType::Revive => {
            if let Some(fw) = s.frameworks.get_mut(fid) {
                fw.suppressed = false;
                fw.filters.clear();
            }
        }
        CallType::Acknowledge => {
            let a = call.acknowledge.ok_or("Expecting 'acknowledge' to be present")?;
            let raw = base64::engine::general_purpose::STANDARD.decode(a.uuid.as_bytes()).map_err(|e| e.to_string())?;
            if raw.len() != 16 {
                return Err("Expecting 'uuid' to be 16 bytes".into());
            }
            let mut next = false;
            if let Some(t) = s.frameworks.get_mut(fid).and_then(|f| f.tasks.get_mut(&a.task_id)) {
                if t.queue.first().and_then(|h| h.uuid.as_deref()) == Some(a.uuid.as_str()) {
                    t.queue.remove(0);
                    t.last_sent = None;
                    next = true;
                }
            }
            if next {
                s.flush(fid);
            }
        }
        CallType::Kill => {
            let k = call.kill.ok_or("Expecting 'kill' to be present")?;
            let known = s.frameworks.get(fid).and_then(|f| f.tasks.get(&k.task_id)).map(|t| (t.info.clone(), t.state.clone()));
            match known {
                Some((info, state)) if !state.is_terminal() => {
                    let killing = s.status(&info, TaskState::Killing, "SOURCE_EXECUTOR");
                    let killed = s.status(&info, TaskState::Killed, "SOURCE_EXECUTOR");
                    s.reliable(fid, &k.task_id, killing);
                    s.reliable(fid, &k.task_id, killed);
                }
                Some(_) => {}
                None => reconcile(s, fid, vec![ReconcileTask { task_id: k.task_id, agent_id: k.agent_id }]),
            }
        }
        CallType::Reconcile => {
            let r = call.reconcile.ok_or("Expecting 'reconcile' to be present")?;
            reconcile(s, fid, r.tasks);
        }
        CallType::Teardown => {
            if let Some(fw) = s.frameworks.get_mut(fid) {
                fw.removed = true;
                fw.stream = None;
                for t in fw.tasks.values_mut() {
                    t.state = TaskState::Killed;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn reconcile(s: &mut Sim, fid: &Id, tasks: Vec<ReconcileTask>) {
    let Some(fw) = s.frameworks.get(fid) else { return };
    let pa = fw.partition_aware();
    let mut out = Vec::new();
    let pick: Vec<ReconcileTask> = if tasks.is_empty() {
        fw.tasks.values().map(|t| ReconcileTask { task_id: t.info.task_id.clone(), agent_id: Some(t.info.agent_id.clone()) }).collect()
    } else {
        tasks
    };
    for rt in pick {
        let mut st = TaskStatus::new(rt.task_id.clone(), TaskState::TaskUnknown);
        st.source = Some("SOURCE_MASTER".into());
        st.reason = Some("REASON_RECONCILIATION".into());
        st.agent_id = rt.agent_id.clone();
        st.timestamp = Some(1_735_689_900.0);
        if let Some(t) = fw.tasks.get(&rt.task_id) {
            st.state = t.state.clone();
            st.agent_id = Some(t.info.agent_id.clone());
            st.message = Some("Reconciliation: Latest task state".into());
        } else {
            let agent = rt.agent_id.as_ref().and_then(|a| s.agents.get(a));
            let (state, msg) = match agent {
                Some(a) if a.reachable => (TaskState::Gone, "Reconciliation: Task is unknown to the agent"),
                Some(_) => (TaskState::Unreachable, "Reconciliation: Task is unreachable"),
                None => (TaskState::TaskUnknown, "Reconciliation: Task is unknown"),
            };
            st.state = if pa { state } else { TaskState::Lost };
            st.message = Some(msg.into());
        }
        out.push(st);
    }
    for st in out {
        s.emit(fid, &Event::update(st));
    }
}
