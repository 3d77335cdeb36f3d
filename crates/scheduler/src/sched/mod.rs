//! The scheduler's decisions as a pure state machine: events (and clock ticks) in,
//! calls out. No I/O, and the time is passed in, so tests drive it step by step.
//!
//! Policy: exactly one agent task per node (keyed by hostname). Offers from nodes
//! lacking an agent are accepted with one LAUNCH; all others are declined with a long
//! per-node refuse filter. The framework never SUPPRESSes: a suppressed framework gets
//! no offers at all, so a node that joins later would wait for the next REVIVE, while a
//! node behind a decline filter is simply not offered and a new node (no filter) is
//! offered at the master's next allocation. A node whose agent died is re-offered
//! because its freed resources exceed what was refused (the master filters an offer
//! only when the refused resources contain it); REVIVE, which clears every filter, is
//! the fallback when a node we wait for is not offered in time. Failed agents are
//! relaunched after an exponential backoff, carried out by declining that node's
//! offers for the remaining wait. See docs/design/scheduler-offers.md.

pub mod ports;
pub mod resources;
pub mod task;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use logstash_mesos_core::Backoff;
use serde::{Deserialize, Serialize};

use crate::proto::{
    Call, Event, EventType, Filters, Id, Offer, Operation, ReconcileTask, TaskState, TaskStatus,
    Visibility,
};
use ports::{NodeEndpoint, PortPlan, TaskEndpoint};
use resources::Needs;
pub use task::{AgentSpec, EnvValue, LaunchMode};

/// Tunables of the policy; `Default` holds the production values.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: String,
    pub agent: AgentSpec,
    /// Refuse filter for offers from nodes that already have their agent (and for the
    /// rest of an accepted offer). Sets the steady offer churn: N nodes / this.
    pub refuse_seconds: f64,
    /// Refuse filter for offers too small for an agent.
    pub insufficient_refuse_seconds: f64,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// An agent that ran this long resets its node's failure count.
    pub stable_after: Duration,
    pub reconcile_initial: Duration,
    pub reconcile_max: Duration,
    pub implicit_reconcile_every: Duration,
    /// A node waiting for its agent that is not offered this long after we expected an
    /// offer (its backoff or our filter over) triggers a REVIVE; doubled per miss.
    pub revive_after: Duration,
    /// Cap of that doubling (a node that left for good costs one REVIVE per this).
    pub revive_max: Duration,
    /// Distinguishes task ids of this scheduler process from earlier ones.
    pub instance: String,
    /// `DiscoveryInfo.name` of the agent tasks (the framework name by default): Mesos-DNS
    /// names their SRV records `_<input>._<this>._<tcp|udp>.<framework>.mesos`.
    pub discovery_name: String,
    pub discovery_visibility: Visibility,
    /// `--input-port-range`: where the inputs' dynamic (`${LSM_PORT_*}`) ports come from.
    pub input_port_range: Option<(u64, u64)>,
}

impl Settings {
    pub fn new(role: impl Into<String>, agent: AgentSpec, instance: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            agent,
            refuse_seconds: 3600.0,
            insufficient_refuse_seconds: 600.0,
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            stable_after: Duration::from_secs(120),
            reconcile_initial: Duration::from_secs(5),
            reconcile_max: Duration::from_secs(120),
            implicit_reconcile_every: Duration::from_secs(900),
            revive_after: Duration::from_secs(15),
            revive_max: Duration::from_secs(3600),
            instance: instance.into(),
            discovery_name: "logstash".into(),
            discovery_visibility: Visibility::Framework,
            input_port_range: None,
        }
    }
}

/// What the scheduler knows about one agent task; persisted across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task_id: Id,
    pub agent_id: Id,
    pub hostname: String,
    pub state: TaskState,
    pub fingerprint: String,
    #[serde(default)]
    pub message: Option<String>,
    /// We asked for this kill (rolling update or duplicate): no failure backoff.
    #[serde(default)]
    pub kill_requested: bool,
    #[serde(skip)]
    pub running_since: Option<Instant>,
    /// Its node's address and the inputs' ports it got (for `/v1/endpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<TaskEndpoint>,
}

/// The durable part of the scheduler state (see `store`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Persisted {
    pub framework_id: Option<Id>,
    pub tasks: Vec<TaskRecord>,
    pub seq: u64,
}

#[derive(Debug, Clone, Default)]
struct Node {
    agent_id: Option<Id>,
    failures: u32,
    not_before: Option<Instant>,
    last_state: Option<TaskState>,
    last_message: Option<String>,
    /// The node has no agent and the master should offer it by then (our filters
    /// and its backoff are over); past it, REVIVE.
    expect_offer_by: Option<Instant>,
    /// REVIVEs made for this node since its last offer.
    revive_misses: u32,
    /// From its last offer: `url.address.ip` and the fault domain.
    ip: Option<String>,
    zone: Option<String>,
    region: Option<String>,
    /// The host ports this framework could have here, as last seen: the last offer's
    /// plus those of our task on the node (`None` until an offer came).
    known_ports: Option<(Vec<crate::proto::Range>, Vec<u64>)>,
}

/// A node as shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    pub hostname: String,
    pub agent_id: Option<String>,
    pub task_id: Option<String>,
    pub state: Option<String>,
    pub message: Option<String>,
    pub failures: u32,
    pub up_to_date: bool,
}

#[derive(Debug)]
struct Reconciliation {
    pending: BTreeSet<Id>,
    next_at: Instant,
    /// Delays between explicit reconciliation rounds (already past the first).
    delay: Backoff,
}

pub struct Scheduler {
    settings: Settings,
    needs: Needs,
    /// The tasks' shape: the agent spec's fingerprint, mixed with the port plan's.
    fingerprint: String,
    /// The inputs' ports the configs need (see `set_port_plan`).
    plan: PortPlan,
    plan_version: Option<u64>,
    /// Outdated agents not replaced, and why (their node lacks a port the new plan
    /// fixes: killing them would leave the node without an agent).
    held: BTreeMap<String, String>,
    framework_id: Option<Id>,
    subscribed: bool,
    nodes: BTreeMap<String, Node>,
    tasks: BTreeMap<Id, TaskRecord>,
    /// hostname → the node's one active task.
    active: HashMap<String, Id>,
    last_revive: Option<Instant>,
    revives: u64,
    reconcile: Option<Reconciliation>,
    next_implicit: Option<Instant>,
    /// Host whose agent was killed for a rolling update and is being replaced.
    rolling: Option<String>,
    seq: u64,
    dirty: bool,
}

impl Scheduler {
    pub fn new(settings: Settings, persisted: Persisted) -> Self {
        let needs = Needs {
            cpus: settings.agent.cpus,
            mem: settings.agent.mem,
            ports: settings.agent.ports,
            ..Needs::default()
        };
        let fingerprint = settings.agent.fingerprint();
        let mut s = Self {
            settings,
            needs,
            fingerprint,
            plan: PortPlan::default(),
            plan_version: None,
            held: BTreeMap::new(),
            framework_id: persisted.framework_id,
            subscribed: false,
            nodes: BTreeMap::new(),
            tasks: BTreeMap::new(),
            active: HashMap::new(),
            last_revive: None,
            revives: 0,
            reconcile: None,
            next_implicit: None,
            rolling: None,
            seq: persisted.seq,
            dirty: false,
        };
        for t in persisted.tasks {
            if is_gone(&t.state) {
                continue;
            }
            s.nodes.entry(t.hostname.clone()).or_default().agent_id = Some(t.agent_id.clone());
            s.active.insert(t.hostname.clone(), t.task_id.clone());
            s.tasks.insert(t.task_id.clone(), t);
        }
        s
    }

    pub fn framework_id(&self) -> Option<&Id> {
        self.framework_id.as_ref()
    }

    /// The config set version whose port plan is in force.
    pub fn plan_version(&self) -> Option<u64> {
        self.plan_version
    }

    pub fn port_plan(&self) -> &PortPlan {
        &self.plan
    }

    /// The inputs' ports the configs (of config set `version`) need. A change of the
    /// ports, names or protocols changes the tasks' fingerprint: the agents are replaced
    /// one node at a time, each on an offer that has the new ports.
    pub fn set_port_plan(&mut self, version: u64, plan: PortPlan) {
        self.plan_version = Some(version);
        if plan == self.plan {
            return;
        }
        for p in &plan.problems {
            tracing::warn!(config_version = version, "{p}");
        }
        self.needs.fixed_ports = plan.fixed_ports();
        self.needs.dynamic_ports = u32::try_from(plan.dynamic_vars().len()).unwrap_or(u32::MAX);
        self.needs.dynamic_range = self.settings.input_port_range;
        self.plan = plan;
        let fingerprint = self.task_fingerprint();
        if fingerprint != self.fingerprint {
            tracing::info!(
                config_version = version,
                inputs = self.plan.inputs.len(),
                "the inputs' ports changed: agents are replaced one node at a time"
            );
            self.fingerprint = fingerprint;
        }
    }

    /// The agent spec's fingerprint alone while no input needs a port (so agents from
    /// before port plans are not replaced), else mixed with what shapes the ports.
    fn task_fingerprint(&self) -> String {
        let base = self.settings.agent.fingerprint();
        if self.plan.is_empty() {
            return base;
        }
        let text = format!(
            "{base}|{}|{:?}|{}|{}",
            self.plan.digest_text(),
            self.settings.input_port_range,
            self.settings.discovery_name,
            self.settings.discovery_visibility
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Every node known from offers or task records, with its agent's address and input
    /// ports; `running` when the agent task is TASK_RUNNING.
    pub fn endpoints(&self) -> Vec<NodeEndpoint> {
        let mut hosts: BTreeSet<&String> = self.nodes.keys().collect();
        hosts.extend(self.active.keys());
        hosts
            .into_iter()
            .map(|host| {
                let node = self.nodes.get(host);
                let t = self.active.get(host).and_then(|id| self.tasks.get(id));
                let ep = t.and_then(|t| t.endpoint.as_ref());
                let running = t.is_some_and(|t| t.state == TaskState::Running);
                NodeEndpoint {
                    hostname: host.clone(),
                    agent_id: t.map(|t| t.agent_id.value.clone()).or_else(|| {
                        node.and_then(|n| n.agent_id.as_ref())
                            .map(|a| a.value.clone())
                    }),
                    task_id: t.map(|t| t.task_id.value.clone()),
                    ip: ep
                        .and_then(|e| e.ip.clone())
                        .or_else(|| node.and_then(|n| n.ip.clone())),
                    zone: ep
                        .and_then(|e| e.zone.clone())
                        .or_else(|| node.and_then(|n| n.zone.clone())),
                    region: ep
                        .and_then(|e| e.region.clone())
                        .or_else(|| node.and_then(|n| n.region.clone())),
                    running,
                    pending: self.held.get(host).cloned(),
                    inputs: ep
                        .map(|e| {
                            e.ports
                                .iter()
                                .filter(|p| p.published())
                                .map(|p| ports::EndpointPort {
                                    name: p.name.clone(),
                                    plugin: p.plugin.clone(),
                                    pipeline: p.pipeline.clone(),
                                    protocol: p.protocol,
                                    port: p.port,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// REVIVE calls made so far (each clears every decline filter: offer churn).
    pub fn revives(&self) -> u64 {
        self.revives
    }

    /// True once since the last call when something durable changed.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn persisted(&self) -> Persisted {
        Persisted {
            framework_id: self.framework_id.clone(),
            tasks: self.tasks.values().cloned().collect(),
            seq: self.seq,
        }
    }

    pub fn tasks(&self) -> impl Iterator<Item = &TaskRecord> {
        self.tasks.values()
    }

    pub fn nodes(&self) -> Vec<NodeView> {
        self.nodes
            .iter()
            .map(|(host, n)| {
                let t = self.active.get(host).and_then(|id| self.tasks.get(id));
                NodeView {
                    hostname: host.clone(),
                    agent_id: n.agent_id.as_ref().map(|a| a.value.clone()),
                    task_id: t.map(|t| t.task_id.value.clone()),
                    state: t
                        .map(|t| t.state.to_string())
                        .or_else(|| n.last_state.as_ref().map(ToString::to_string)),
                    message: t
                        .and_then(|t| t.message.clone())
                        .or_else(|| n.last_message.clone()),
                    failures: n.failures,
                    up_to_date: t.is_some_and(|t| t.fingerprint == self.fingerprint),
                }
            })
            .collect()
    }

    /// The stream broke: nothing may be sent until the next SUBSCRIBED.
    pub fn disconnected(&mut self) {
        self.subscribed = false;
        self.reconcile = None;
    }

    /// Drops the framework id (after "Framework has been removed"): the master killed
    /// every task, so the next SUBSCRIBE registers a new framework.
    pub fn forget_framework(&mut self) {
        self.framework_id = None;
        self.subscribed = false;
        self.tasks.clear();
        self.active.clear();
        self.rolling = None;
        self.dirty = true;
    }

    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Call> {
        let mut calls = Vec::new();
        match event.kind {
            EventType::Subscribed => {
                if let Some(sub) = event.subscribed {
                    self.on_subscribed(now, sub.framework_id, &mut calls);
                }
            }
            EventType::Offers => {
                if let Some(offers) = event.offers {
                    self.on_offers(now, offers.offers, &mut calls);
                }
            }
            EventType::Update => {
                if let Some(update) = event.update {
                    self.on_update(now, update.status, &mut calls);
                }
            }
            EventType::Error => self.subscribed = false,
            // RESCIND needs nothing: offers are answered at once, never held. FAILURE
            // is advisory; the task updates that go with it carry the news.
            _ => {}
        }
        self.after_step(now, &mut calls);
        calls
    }

    /// Timers: reconciliation retries, periodic implicit reconciliation, the REVIVE
    /// fallback for nodes not offered in time, rolling updates.
    pub fn tick(&mut self, now: Instant) -> Vec<Call> {
        let mut calls = Vec::new();
        let Some(fid) = self.live_fid() else {
            return calls;
        };
        if let Some(rec) = &mut self.reconcile {
            if rec.pending.is_empty() {
                self.reconcile = None;
            } else if now >= rec.next_at {
                let tasks = rec
                    .pending
                    .iter()
                    .map(|id| ReconcileTask {
                        task_id: id.clone(),
                        agent_id: self.tasks.get(id).map(|t| t.agent_id.clone()),
                    })
                    .collect();
                calls.push(Call::reconcile(&fid, tasks));
                rec.next_at = now + rec.delay.next_delay();
            }
        }
        if self.reconcile.is_none() && self.next_implicit.is_some_and(|t| now >= t) {
            calls.push(Call::reconcile(&fid, Vec::new()));
            self.next_implicit = Some(now + self.settings.implicit_reconcile_every);
        }
        self.revive_if_starved(now, &fid, &mut calls);
        self.after_step(now, &mut calls);
        calls
    }

    fn live_fid(&self) -> Option<Id> {
        if self.subscribed {
            self.framework_id.clone()
        } else {
            None
        }
    }

    fn on_subscribed(&mut self, now: Instant, fid: Id, calls: &mut Vec<Call>) {
        if self.framework_id.as_ref() != Some(&fid) {
            self.framework_id = Some(fid.clone());
            self.dirty = true;
        }
        self.subscribed = true;
        // Offers are generated afresh after a SUBSCRIBE: give them time to come.
        for (host, node) in &mut self.nodes {
            if !self.active.contains_key(host) {
                let from = node.not_before.map_or(now, |t| t.max(now));
                node.expect_offer_by = Some(from + self.settings.revive_after);
            }
        }
        self.next_implicit = Some(now + self.settings.implicit_reconcile_every);
        let pending: BTreeSet<Id> = self.tasks.keys().cloned().collect();
        if pending.is_empty() {
            self.reconcile = None;
            return;
        }
        let tasks = pending
            .iter()
            .map(|id| ReconcileTask {
                task_id: id.clone(),
                agent_id: self.tasks.get(id).map(|t| t.agent_id.clone()),
            })
            .collect();
        calls.push(Call::reconcile(&fid, tasks));
        self.reconcile = Some(Reconciliation {
            pending,
            next_at: now + self.settings.reconcile_initial,
            delay: {
                let mut b =
                    Backoff::new(self.settings.reconcile_initial, self.settings.reconcile_max);
                b.next_delay();
                b
            },
        });
    }

    fn on_offers(&mut self, now: Instant, offers: Vec<Offer>, calls: &mut Vec<Call>) {
        let Some(fid) = self.live_fid() else { return };
        // refuse seconds (as millis, to group exactly) → offers declined with it
        let mut declines: BTreeMap<u64, Vec<Id>> = BTreeMap::new();
        for offer in offers {
            let host = offer.hostname.clone();
            let node = self.nodes.entry(host.clone()).or_default();
            node.agent_id = Some(offer.agent_id.clone());
            let (ip, zone, region) = location(&offer);
            node.ip = ip;
            node.zone = zone;
            node.region = region;
            // Our own task's ports are not in the offer but would be free for its
            // replacement; a task from before port records hides which it holds.
            let ours = match self.active.get(&host).and_then(|id| self.tasks.get(id)) {
                None => Some(Vec::new()),
                Some(t) => t.endpoint.as_ref().map(|e| e.reserved.clone()),
            };
            node.known_ports =
                ours.map(|ours| (resources::offered_ports(&offer, &self.settings.role), ours));
            node.revive_misses = 0;
            node.expect_offer_by = None;
            let not_before = node.not_before;
            if let Some(tid) = self.active.get(&host).cloned() {
                // A task left UNREACHABLE on a previous incarnation of this agent will
                // not come back under the new agent id: count the node as empty.
                let stale = self.tasks.get(&tid).is_some_and(|t| {
                    t.state == TaskState::Unreachable && t.agent_id != offer.agent_id
                });
                if !stale {
                    declines
                        .entry(secs_key(self.settings.refuse_seconds))
                        .or_default()
                        .push(offer.id);
                    continue;
                }
                self.active.remove(&host);
            }
            if let Some(wait) = not_before.filter(|t| *t > now).map(|t| t - now) {
                let secs = wait.as_secs_f64().max(1.0);
                if let Some(n) = self.nodes.get_mut(&host) {
                    n.expect_offer_by =
                        Some(now + Duration::from_secs_f64(secs) + self.settings.revive_after);
                }
                declines.entry(secs_key(secs)).or_default().push(offer.id);
                continue;
            }
            match resources::pick(&offer, &self.settings.role, &self.needs) {
                Ok(picked) => {
                    self.seq += 1;
                    let task_id = task::task_id(&host, &self.settings.instance, self.seq);
                    let assigned = self.plan.assign(&picked.dynamic);
                    let discovery = ports::discovery_info(
                        &self.settings.discovery_name,
                        &self.settings.discovery_visibility,
                        &assigned,
                    );
                    let info = self.settings.agent.build_with(
                        &task_id,
                        &offer.agent_id,
                        &host,
                        &task::agent_endpoint(&offer),
                        task::TaskPorts {
                            resources: picked.resources,
                            agent_port: picked.any.first().copied(),
                            inputs: &assigned,
                            discovery: Some(discovery),
                        },
                    );
                    let (ip, zone, region) = location(&offer);
                    let endpoint = TaskEndpoint {
                        ip,
                        zone,
                        region,
                        ports: assigned,
                        reserved: resources::port_list(&info.resources),
                    };
                    tracing::info!(node = %host, task = %task_id, ports = ?endpoint.ports.iter().map(|p| format!("{}/{}={}", p.name, p.protocol.as_str(), p.port)).collect::<Vec<_>>(), "launching agent");
                    self.tasks.insert(
                        task_id.clone(),
                        TaskRecord {
                            task_id: task_id.clone(),
                            agent_id: offer.agent_id.clone(),
                            hostname: host.clone(),
                            state: TaskState::Staging,
                            fingerprint: self.fingerprint.clone(),
                            message: None,
                            kill_requested: false,
                            running_since: None,
                            endpoint: Some(endpoint),
                        },
                    );
                    self.active.insert(host, task_id);
                    self.dirty = true;
                    calls.push(Call::accept(
                        &fid,
                        vec![offer.id],
                        vec![Operation::launch(vec![info])],
                        Filters::refuse(self.settings.refuse_seconds),
                    ));
                }
                Err(missing) => {
                    let missing: Vec<String> = missing.iter().map(|m| self.explain(m)).collect();
                    tracing::warn!(node = %host, missing = ?missing, "offer too small for an agent");
                    if let Some(n) = self.nodes.get_mut(&host) {
                        n.last_message = Some(format!("offer too small: {}", missing.join("; ")));
                        n.expect_offer_by = Some(
                            now + Duration::from_secs_f64(
                                self.settings.insufficient_refuse_seconds,
                            ) + self.settings.revive_after,
                        );
                    }
                    declines
                        .entry(secs_key(self.settings.insufficient_refuse_seconds))
                        .or_default()
                        .push(offer.id);
                }
            }
        }
        for (millis, ids) in declines {
            #[allow(clippy::cast_precision_loss)]
            calls.push(Call::decline(
                &fid,
                ids,
                Filters::refuse(millis as f64 / 1000.0),
            ));
        }
    }

    fn on_update(&mut self, now: Instant, status: TaskStatus, calls: &mut Vec<Call>) {
        let fid = self.live_fid();
        // Reliable updates are re-sent until acknowledged, whatever we make of them.
        if let (Some(fid), Some(uuid), Some(agent)) = (&fid, &status.uuid, &status.agent_id) {
            calls.push(Call::acknowledge(
                fid,
                agent.clone(),
                status.task_id.clone(),
                uuid.clone(),
            ));
        }
        if let Some(rec) = &mut self.reconcile {
            rec.pending.remove(&status.task_id);
        }
        let Some(t) = self.tasks.get_mut(&status.task_id) else {
            // A live task of ours we have no record of (state lost, or a duplicate
            // we already forgot): kill it, the node gets a fresh one.
            if !is_gone(&status.state) && status.task_id.value.starts_with(task::TASK_ID_PREFIX) {
                if let Some(fid) = &fid {
                    tracing::warn!(task = %status.task_id, "killing unknown agent task");
                    calls.push(Call::kill(
                        fid,
                        status.task_id.clone(),
                        status.agent_id.clone(),
                    ));
                }
            }
            return;
        };
        let changed = t.state != status.state;
        t.state = status.state.clone();
        if let Some(a) = status.agent_id {
            t.agent_id = a;
        }
        if status.message.is_some() {
            t.message = status.message;
        }
        if t.state == TaskState::Running && t.running_since.is_none() {
            t.running_since = Some(now);
        }
        if changed {
            self.dirty = true;
        }
        let host = t.hostname.clone();
        let task_id = t.task_id.clone();
        if is_gone(&t.state) {
            let t = self.tasks.remove(&task_id);
            if self.active.get(&host) == Some(&task_id) {
                self.active.remove(&host);
            }
            let Some(t) = t else { return };
            let node = self.nodes.entry(host.clone()).or_default();
            node.last_state = Some(t.state.clone());
            node.last_message = t.message.clone();
            if !t.kill_requested {
                let stable = t
                    .running_since
                    .is_some_and(|s| now.duration_since(s) >= self.settings.stable_after);
                node.failures = if stable {
                    1
                } else {
                    node.failures.saturating_add(1)
                };
                node.not_before = Some(now + backoff(&self.settings, node.failures));
                tracing::warn!(node = %host, task = %task_id, state = %t.state, failures = node.failures, "agent lost");
            }
            // No REVIVE here (it would clear every node's filter): the freed resources
            // get this node offered again; `revive_if_starved` covers a master that
            // does not.
            let from = node.not_before.map_or(now, |t| t.max(now));
            node.expect_offer_by = Some(from + self.settings.revive_after);
            node.revive_misses = 0;
            return;
        }
        match self.active.get(&host) {
            None => {
                self.active.insert(host, task_id);
            }
            Some(current) if *current != task_id => {
                // An unreachable agent came back while its replacement runs.
                if let (Some(fid), Some(t)) = (&fid, self.tasks.get_mut(&task_id)) {
                    if !t.kill_requested {
                        tracing::info!(node = %host, task = %task_id, "killing duplicate agent");
                        t.kill_requested = true;
                        calls.push(Call::kill(fid, task_id, Some(t.agent_id.clone())));
                    }
                }
            }
            Some(_) => {}
        }
    }

    /// REVIVE when a node without an agent was not offered by the time we expected
    /// (the master should have: its resources were freed, or our filter ran out). At
    /// most one REVIVE per `revive_after`; each node's wait doubles per miss up to
    /// `revive_max`, so a node that left for good does not cause steady churn.
    fn revive_if_starved(&mut self, now: Instant, fid: &Id, calls: &mut Vec<Call>) {
        if self
            .last_revive
            .is_some_and(|t| now.duration_since(t) < self.settings.revive_after)
        {
            return;
        }
        let mut starved = Vec::new();
        for (host, node) in &self.nodes {
            if !self.active.contains_key(host) && node.expect_offer_by.is_some_and(|t| now >= t) {
                starved.push(host.clone());
            }
        }
        if starved.is_empty() {
            return;
        }
        tracing::info!(nodes = ?starved, "nodes without an agent were not offered in time: REVIVE");
        calls.push(Call::revive(fid, vec![self.settings.role.clone()]));
        self.last_revive = Some(now);
        self.revives += 1;
        for host in starved {
            if let Some(n) = self.nodes.get_mut(&host) {
                n.revive_misses = n.revive_misses.saturating_add(1);
                let wait = (self.settings.revive_after * 2u32.pow(n.revive_misses.min(16)))
                    .min(self.settings.revive_max);
                n.expect_offer_by = Some(now + wait);
            }
        }
    }

    fn after_step(&mut self, _now: Instant, calls: &mut Vec<Call>) {
        let Some(fid) = self.live_fid() else { return };
        self.roll(&fid, calls);
    }

    /// Replaces agents whose spec changed, one node at a time: kill one, wait until
    /// its replacement runs, then the next.
    fn roll(&mut self, fid: &Id, calls: &mut Vec<Call>) {
        if let Some(host) = &self.rolling {
            let done = self
                .active
                .get(host)
                .and_then(|id| self.tasks.get(id))
                .is_some_and(|t| {
                    t.fingerprint == self.fingerprint && t.state == TaskState::Running
                });
            if !done {
                return;
            }
            self.rolling = None;
        }
        // Only roll while everything else is healthy, so an update never takes down
        // more than one node at a time.
        let all_running = self.tasks.values().all(|t| t.state == TaskState::Running);
        if !all_running || self.reconcile.is_some() {
            return;
        }
        let mut held = BTreeMap::new();
        let mut next = None;
        for t in self
            .tasks
            .values()
            .filter(|t| t.fingerprint != self.fingerprint && !t.kill_requested)
        {
            match self.unplaceable(&t.hostname) {
                Some(missing) => {
                    held.insert(
                        t.hostname.clone(),
                        format!(
                            "keeps its previous agent: the inputs' port(s) {missing} are not among the ports this node offered"
                        ),
                    );
                }
                None => {
                    if next.is_none() {
                        next = Some(t.task_id.clone());
                    }
                }
            }
        }
        for (host, why) in &held {
            if self.held.get(host) != Some(why) {
                tracing::warn!(node = %host, "{why}");
            }
        }
        self.held = held;
        let outdated = next.and_then(|id| self.tasks.get_mut(&id));
        if let Some(t) = outdated {
            tracing::info!(node = %t.hostname, task = %t.task_id, "replacing agent with changed settings");
            t.kill_requested = true;
            self.rolling = Some(t.hostname.clone());
            calls.push(Call::kill(fid, t.task_id.clone(), Some(t.agent_id.clone())));
        }
    }
}

impl Scheduler {
    /// The plan's fixed ports this node did not offer the last time we saw it (`None`:
    /// it has them all, or we do not know).
    fn unplaceable(&self, host: &str) -> Option<String> {
        let (ranges, ours) = self.nodes.get(host)?.known_ports.as_ref()?;
        let missing: Vec<String> = self
            .needs
            .fixed_ports
            .iter()
            .filter(|p| !ours.contains(p) && !ranges.iter().any(|r| r.begin <= **p && **p <= r.end))
            .map(u64::to_string)
            .collect();
        (!missing.is_empty()).then(|| missing.join(", "))
    }

    /// A shortfall, with the inputs that need the missing fixed ports.
    fn explain(&self, m: &resources::Shortfall) -> String {
        let resources::Shortfall::FixedPorts { missing } = m else {
            return m.to_string();
        };
        let who: Vec<String> = missing
            .iter()
            .flat_map(|p| {
                self.plan
                    .inputs
                    .iter()
                    .filter_map(move |i| match i.request {
                        ports::PortRequest::Fixed(f) if u64::from(f) == *p => {
                            Some(format!("{} {} ({}/{})", i.plugin, p, i.pipeline, i.config))
                        }
                        _ => None,
                    })
            })
            .collect();
        format!("{m}; needed by {}", who.join(", "))
    }
}

/// The offer's agent address (`url.address.ip`) and fault domain (zone, region names).
fn location(offer: &Offer) -> (Option<String>, Option<String>, Option<String>) {
    let ip = offer
        .url
        .as_ref()
        .and_then(|u| u.pointer("/address/ip"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let name = |path: &str| {
        offer
            .domain
            .as_ref()
            .and_then(|d| d.pointer(path))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (
        ip,
        name("/fault_domain/zone/name"),
        name("/fault_domain/region/name"),
    )
}

/// States after which the node no longer has this agent. TASK_UNKNOWN is not
/// terminal for Mesos but means the master has never heard of the task.
fn is_gone(state: &TaskState) -> bool {
    state.is_terminal() || *state == TaskState::TaskUnknown
}

fn backoff(s: &Settings, failures: u32) -> Duration {
    Backoff::nth(s.backoff_initial, s.backoff_max, failures.saturating_sub(1))
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn secs_key(secs: f64) -> u64 {
    (secs * 1000.0).round() as u64
}

#[cfg(test)]
mod tests;
