//! The one task that owns the state machine: reads the event stream, feeds events
//! and clock ticks to `Scheduler`, sends the calls it returns, persists its state,
//! and re-subscribes (with backoff) when the stream dies or goes quiet. It also
//! carries out uninstall requests from the API (`control`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use logstash_mesos_core::Backoff;
use tokio::sync::mpsc;

use crate::client::{Client, ClientError, Subscription};
use crate::control::{Control, Reply, UninstallError, UninstallReport};
use crate::proto::{Call, CallType, EventType, FrameworkInfo};
use crate::sched::ports::{NodeEndpoint, PortPlan};
use crate::sched::{NodeView, Scheduler};
use crate::store::{ConfigSet, State, StateStore, StoreError};

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub subscribes: AtomicU64,
    pub events: AtomicU64,
    pub offers: AtomicU64,
    pub launches: AtomicU64,
    pub declines: AtomicU64,
    /// REVIVE calls: each clears every decline filter (a burst of offers).
    pub revives: AtomicU64,
    pub kills: AtomicU64,
    pub updates: AtomicU64,
    pub call_errors: AtomicU64,
}

/// What the driver publishes for the HTTP API.
#[derive(Debug, Default)]
pub struct Shared {
    pub nodes: RwLock<Vec<NodeView>>,
    pub framework_id: RwLock<Option<String>>,
    pub connected: AtomicBool,
    /// Set once the framework was torn down; the driver has stopped.
    pub uninstalled: AtomicBool,
    pub metrics: Metrics,
    pub control: Control,
    /// The inputs' ports the accepted configs need, with the config set version
    /// (`discovery::follow_configs` writes it; the driver applies it on its next tick).
    pub port_plan: RwLock<Option<(u64, PortPlan)>>,
    /// Every known node with its agent's address and input ports, for `/v1/endpoints`.
    pub endpoints: RwLock<Vec<NodeEndpoint>>,
}

impl Shared {
    pub fn nodes(&self) -> Vec<NodeView> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }

    pub fn framework_id(&self) -> Option<String> {
        self.framework_id.read().ok().and_then(|f| f.clone())
    }

    pub fn set_port_plan(&self, version: u64, plan: PortPlan) {
        if let Ok(mut p) = self.port_plan.write() {
            *p = Some((version, plan));
        }
    }

    pub fn port_plan(&self) -> Option<(u64, PortPlan)> {
        self.port_plan.read().ok().and_then(|p| p.clone())
    }

    pub fn endpoints(&self) -> Vec<NodeEndpoint> {
        self.endpoints.read().map(|e| e.clone()).unwrap_or_default()
    }
}

/// The whole durable document, written by the driver (scheduler part) and the
/// config service (configs part); saves are serialised.
pub struct Keeper {
    store: Arc<dyn StateStore>,
    state: tokio::sync::Mutex<State>,
}

impl Keeper {
    pub async fn open(store: Arc<dyn StateStore>) -> Result<Self, StoreError> {
        let state = store.load().await?.unwrap_or_default();
        Ok(Self {
            store,
            state: tokio::sync::Mutex::new(state),
        })
    }

    pub async fn snapshot(&self) -> State {
        self.state.lock().await.clone()
    }

    pub async fn save_scheduler(&self, s: crate::sched::Persisted) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        st.scheduler = s;
        self.store.save(&st).await
    }

    pub async fn save_configs(
        &self,
        c: ConfigSet,
        history: crate::store::ConfigHistory,
    ) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        st.configs = c;
        st.config_history = history;
        self.store.save(&st).await
    }
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Without `id`; the driver fills it in from the state machine.
    pub framework: FrameworkInfo,
    pub tick: Duration,
    /// The stream is dead after this many heartbeat intervals without any event.
    pub missed_heartbeats: u32,
    pub resubscribe_initial: Duration,
    pub resubscribe_max: Duration,
}

impl DriverConfig {
    pub fn new(framework: FrameworkInfo) -> Self {
        Self {
            framework,
            tick: Duration::from_secs(1),
            missed_heartbeats: 5,
            resubscribe_initial: Duration::from_millis(500),
            resubscribe_max: Duration::from_secs(15),
        }
    }
}

pub struct Driver {
    pub client: Arc<Client>,
    pub sched: Scheduler,
    pub keeper: Arc<Keeper>,
    pub shared: Arc<Shared>,
    pub config: DriverConfig,
}

enum StreamEnd {
    /// Re-subscribe after a backoff.
    Retry(String),
    /// The master removed the framework: register anew.
    Removed,
    /// Torn down on request: the driver stops.
    Uninstalled,
}

impl Driver {
    /// Runs until the framework is uninstalled (`Ok`) or the state store fails
    /// (continuing without durable state risks duplicate agents).
    pub async fn run(mut self) -> Result<(), StoreError> {
        // Without the receiver (a second driver on the same `Shared`) no uninstall
        // request can arrive; the sender is kept so `recv` just waits.
        let (_keep, fallback) = mpsc::channel(1);
        let mut control = self.shared.control.take_receiver().unwrap_or(fallback);
        let mut delay = Backoff::new(self.config.resubscribe_initial, self.config.resubscribe_max);
        self.apply_port_plan();
        loop {
            let mut info = self.config.framework.clone();
            info.id = self.sched.framework_id().cloned();
            let call = Call::subscribe(info);
            let client = self.client.clone();
            let subscribed = tokio::select! {
                r = client.subscribe(&call) => r,
                Some(reply) = control.recv() => {
                    if self.uninstall_offline(reply).await? {
                        return Ok(());
                    }
                    continue;
                }
            };
            match subscribed {
                Ok(sub) => {
                    self.shared
                        .metrics
                        .subscribes
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(master = %sub.master, "subscribed");
                    match self.serve(sub, &mut delay, &mut control).await? {
                        StreamEnd::Uninstalled => return Ok(()),
                        StreamEnd::Retry(why) => tracing::warn!(reason = %why, "event stream lost"),
                        StreamEnd::Removed => {
                            tracing::error!("master removed the framework; registering a new one");
                            self.sched.forget_framework();
                            self.persist().await?;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "subscribe failed");
                    if let ClientError::Status { body, .. } = &e {
                        if body.contains("Framework has been removed") {
                            self.sched.forget_framework();
                            self.persist().await?;
                        }
                    }
                }
            }
            self.sched.disconnected();
            self.client.clear_stream();
            self.shared.connected.store(false, Ordering::Relaxed);
            tokio::select! {
                () = tokio::time::sleep(delay.next_delay()) => {}
                Some(reply) = control.recv() => {
                    if self.uninstall_offline(reply).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// An uninstall request while no stream is up. Without a framework id nothing
    /// runs under this scheduler, so it just stops; with one, TEARDOWN needs a
    /// subscription, so the caller is told to retry. True when the driver stops.
    async fn uninstall_offline(&mut self, reply: Reply) -> Result<bool, StoreError> {
        if let Some(fid) = self.sched.framework_id() {
            let _ = reply.send(Err(UninstallError::NotSubscribed(format!(
                "framework {} is registered but the event stream is down; retry once connected",
                fid.value
            ))));
            return Ok(false);
        }
        self.finish_uninstall(
            reply,
            UninstallReport {
                framework_id: None,
                teardown_sent: false,
                agent_tasks: 0,
                state_cleared: true,
                driver_stopped: true,
                message: "no framework was registered; the scheduler stopped".into(),
            },
        )
        .await?;
        Ok(true)
    }

    /// TEARDOWN on the live stream, then forget the framework and stop.
    async fn uninstall_online(&mut self, reply: Reply) -> Result<Option<StreamEnd>, StoreError> {
        let Some(fid) = self.sched.framework_id().cloned() else {
            let stopped = self.uninstall_offline(reply).await?;
            return Ok(stopped.then_some(StreamEnd::Uninstalled));
        };
        if let Err(e) = self.client.send(&Call::teardown(&fid)).await {
            tracing::warn!(error = %e, "TEARDOWN failed");
            let retry = e
                .needs_resubscribe()
                .then(|| StreamEnd::Retry(e.to_string()));
            let _ = reply.send(Err(UninstallError::Master(e.to_string())));
            return Ok(retry);
        }
        let agent_tasks = self.sched.tasks().count();
        tracing::warn!(framework_id = %fid, agent_tasks, "framework torn down; forgetting its id and stopping");
        self.finish_uninstall(
            reply,
            UninstallReport {
                framework_id: Some(fid.value.clone()),
                teardown_sent: true,
                agent_tasks,
                state_cleared: true,
                driver_stopped: true,
                message: format!(
                    "framework {} torn down: the master kills its {agent_tasks} agent task(s); \
                     the next start registers a new framework",
                    fid.value
                ),
            },
        )
        .await?;
        Ok(Some(StreamEnd::Uninstalled))
    }

    async fn finish_uninstall(
        &mut self,
        reply: Reply,
        report: UninstallReport,
    ) -> Result<(), StoreError> {
        self.sched.forget_framework();
        self.sched.disconnected();
        self.client.clear_stream();
        self.shared.connected.store(false, Ordering::Relaxed);
        if let Err(e) = self.persist().await {
            let _ = reply.send(Err(UninstallError::Store(e.to_string())));
            return Err(e);
        }
        self.shared.uninstalled.store(true, Ordering::Relaxed);
        self.publish();
        let _ = reply.send(Ok(report));
        Ok(())
    }

    async fn serve(
        &mut self,
        mut sub: Subscription,
        delay: &mut Backoff,
        control: &mut mpsc::Receiver<Reply>,
    ) -> Result<StreamEnd, StoreError> {
        let mut heartbeat = Duration::from_secs(15);
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The deadline survives loop turns: ticks must not restart the watchdog.
        let mut last_event = tokio::time::Instant::now();
        // The node views the API serves cost O(nodes) to rebuild: after an event they are
        // rebuilt at most every PUBLISH_EVERY (and on every tick). Rebuilding them per event
        // made a 1,000-node start-up quadratic: the burst of status updates was processed
        // slower than the master re-sends unacknowledged ones, and never drained.
        const PUBLISH_EVERY: Duration = Duration::from_millis(200);
        let mut published = tokio::time::Instant::now();
        loop {
            let quiet = heartbeat * self.config.missed_heartbeats;
            tokio::select! {
                // `next_event` is cancel-safe: the decoder keeps partial records.
                ev = tokio::time::timeout_at(last_event + quiet, sub.next_event()) => {
                    let ev = match ev {
                        Err(_) => return Ok(StreamEnd::Retry(format!("no event for {quiet:?}"))),
                        Ok(Err(e)) => return Ok(StreamEnd::Retry(e.to_string())),
                        Ok(Ok(ev)) => ev,
                    };
                    last_event = tokio::time::Instant::now();
                    self.shared.metrics.events.fetch_add(1, Ordering::Relaxed);
                    match ev.kind {
                        EventType::Subscribed => {
                            if let Some(s) = &ev.subscribed {
                                if let Some(h) = s.heartbeat_interval_seconds.filter(|h| *h > 0.0 && h.is_finite()) {
                                    heartbeat = Duration::from_secs_f64(h);
                                }
                            }
                            delay.reset();
                            self.shared.connected.store(true, Ordering::Relaxed);
                        }
                        EventType::Error => {
                            let msg = ev.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
                            if msg.contains("Framework has been removed") {
                                return Ok(StreamEnd::Removed);
                            }
                            return Ok(StreamEnd::Retry(format!("master error: {msg}")));
                        }
                        EventType::Offers => {
                            let n = ev.offers.as_ref().map_or(0, |o| o.offers.len());
                            self.shared.metrics.offers.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        EventType::Update => {
                            self.shared.metrics.updates.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                    let subscribed = ev.kind == EventType::Subscribed;
                    let calls = self.sched.handle(Instant::now(), ev);
                    // The framework id MUST be durable before anything is launched under it.
                    if subscribed || self.sched.take_dirty() {
                        self.persist().await?;
                    }
                    if published.elapsed() >= PUBLISH_EVERY {
                        self.publish();
                        published = tokio::time::Instant::now();
                    }
                    if let Some(end) = self.send_all(calls).await {
                        return Ok(end);
                    }
                }
                Some(reply) = control.recv() => {
                    if let Some(end) = self.uninstall_online(reply).await? {
                        return Ok(end);
                    }
                }
                _ = ticker.tick() => {
                    self.apply_port_plan();
                    let calls = self.sched.tick(Instant::now());
                    if self.sched.take_dirty() {
                        self.persist().await?;
                    }
                    self.publish();
                    published = tokio::time::Instant::now();
                    if let Some(end) = self.send_all(calls).await {
                        return Ok(end);
                    }
                }
            }
        }
    }

    async fn send_all(&self, calls: Vec<Call>) -> Option<StreamEnd> {
        for call in calls {
            match call.kind {
                CallType::Accept => {
                    let n = call.accept.as_ref().map_or(0, |a| a.operations.len());
                    self.shared
                        .metrics
                        .launches
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                CallType::Decline => {
                    let n = call.decline.as_ref().map_or(0, |d| d.offer_ids.len());
                    self.shared
                        .metrics
                        .declines
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                CallType::Kill => {
                    self.shared.metrics.kills.fetch_add(1, Ordering::Relaxed);
                }
                CallType::Revive => {
                    self.shared.metrics.revives.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            if let Err(e) = self.client.send(&call).await {
                self.shared
                    .metrics
                    .call_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(call = %call.kind, error = %e, "call failed");
                if e.needs_resubscribe() {
                    return Some(StreamEnd::Retry(e.to_string()));
                }
            }
        }
        None
    }

    async fn persist(&mut self) -> Result<(), StoreError> {
        let _ = self.sched.take_dirty();
        if let Ok(mut f) = self.shared.framework_id.write() {
            *f = self.sched.framework_id().map(|i| i.value.clone());
        }
        self.keeper.save_scheduler(self.sched.persisted()).await
    }

    fn publish(&self) {
        if let Ok(mut n) = self.shared.nodes.write() {
            *n = self.sched.nodes();
        }
        if let Ok(mut e) = self.shared.endpoints.write() {
            *e = self.sched.endpoints();
        }
    }

    /// Hands a new port plan (a config change) to the state machine.
    fn apply_port_plan(&mut self) {
        let applied = self.sched.plan_version();
        let newer = self
            .shared
            .port_plan
            .read()
            .ok()
            .and_then(|p| p.as_ref().filter(|(v, _)| applied != Some(*v)).cloned());
        if let Some((version, plan)) = newer {
            self.sched.set_port_plan(version, plan);
        }
    }
}
