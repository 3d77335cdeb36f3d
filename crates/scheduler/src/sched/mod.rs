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

pub mod resources;
pub mod task;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use logstash_mesos_core::Backoff;
use serde::{Deserialize, Serialize};

use crate::proto::{
    Call, Event, EventType, Filters, Id, Offer, Operation, ReconcileTask, TaskState, TaskStatus,
};
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
    fingerprint: String,
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
        };
        let fingerprint = settings.agent.fingerprint();
        let mut s = Self {
            settings,
            needs,
            fingerprint,
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
                Ok(res) => {
                    self.seq += 1;
                    let task_id = task::task_id(&host, &self.settings.instance, self.seq);
                    let info = self.settings.agent.build(
                        &task_id,
                        &offer.agent_id,
                        &host,
                        &task::agent_endpoint(&offer),
                        res,
                    );
                    tracing::info!(node = %host, task = %task_id, "launching agent");
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
                    let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
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
        let outdated = self
            .tasks
            .values_mut()
            .find(|t| t.fingerprint != self.fingerprint && !t.kill_requested);
        if let Some(t) = outdated {
            tracing::info!(node = %t.hostname, task = %t.task_id, "replacing agent with changed settings");
            t.kill_requested = true;
            self.rolling = Some(t.hostname.clone());
            calls.push(Call::kill(fid, t.task_id.clone(), Some(t.agent_id.clone())));
        }
    }
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
