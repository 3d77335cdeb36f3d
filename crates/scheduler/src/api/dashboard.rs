//! The dashboard's figures: one [`Sample`] aggregated from the nodes the scheduler knows
//! and the reports their agents post (`POST /v1/agents/status`), taken every
//! [`SAMPLE_EVERY`] and kept for [`KEEP`] in a ring so a fresh page shows the last
//! 15 minutes at once.
//!
//! * `GET /v1/dashboard`: `{"current": Sample, "history": [Sample, ...]}` (oldest first)
//! * `GET /v1/dashboard/stream`: server-sent events; first `history` (the same document),
//!   then one `sample` event per sample.
//!
//! Figures no agent reports are `null`, never made up: today's agents send events in,
//! lag, errors and containers; `events_out_per_second`, `dlq_events`, `agent_version` and
//! `streams` are read from a report when present (see [`Dashboard::record`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::AppState;
use crate::sched::NodeView;

/// How often a sample is taken.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How long samples are kept.
pub const KEEP: Duration = Duration::from_secs(15 * 60);
/// Kept samples are at least this far apart (the newest is updated in place until then):
/// 180 points cover the 15 minutes.
pub const STEP: Duration = Duration::from_secs(5);
/// A report older than this is not counted (its agent stopped reporting).
pub const STALE: Duration = Duration::from_secs(30);

/// The whole fleet at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Nodes whose agent task is `TASK_RUNNING`.
    pub agents_running: u64,
    /// Nodes that should run an agent (every node the scheduler knows).
    pub agents_wanted: u64,
    /// Agents whose last report is fresh (within [`STALE`]).
    pub agents_reporting: u64,
    pub containers: u64,
    /// Sum over fresh reports.
    pub events_in_per_second: f64,
    /// Sum over the fresh reports that carry it; `null` when none does.
    pub events_out_per_second: Option<f64>,
    /// The largest lag of a fresh report, seconds.
    pub lag_seconds: f64,
    /// Errors since start, summed over fresh reports.
    pub errors: u64,
    /// Events in dead letter queues; `null` when no report carries it.
    pub dlq_events: Option<u64>,
}

/// `reports` are each agent's last report (as JSON) with its age. Pure, for tests.
pub fn aggregate(at_ms: i64, nodes: &[NodeView], reports: &[(Value, Duration)]) -> Sample {
    let fresh: Vec<&Value> = reports
        .iter()
        .filter(|(_, age)| *age <= STALE)
        .map(|(r, _)| r)
        .collect();
    let f = |r: &Value, k: &str| r.get(k).and_then(Value::as_f64).filter(|v| v.is_finite());
    let u = |r: &Value, k: &str| r.get(k).and_then(Value::as_u64);
    let sum_opt_f = |k: &str| {
        fresh
            .iter()
            .filter_map(|r| f(r, k))
            .fold(None, |acc: Option<f64>, v| Some(acc.unwrap_or(0.0) + v))
    };
    Sample {
        at_ms,
        agents_running: nodes
            .iter()
            .filter(|n| n.state.as_deref() == Some("TASK_RUNNING"))
            .count() as u64,
        agents_wanted: nodes.len() as u64,
        agents_reporting: fresh.len() as u64,
        containers: fresh.iter().filter_map(|r| u(r, "containers")).sum(),
        events_in_per_second: fresh.iter().filter_map(|r| f(r, "events_per_second")).sum(),
        events_out_per_second: sum_opt_f("events_out_per_second"),
        lag_seconds: fresh
            .iter()
            .filter_map(|r| f(r, "lag_seconds"))
            .fold(0.0, f64::max),
        errors: fresh.iter().filter_map(|r| u(r, "errors")).sum(),
        dlq_events: fresh
            .iter()
            .filter_map(|r| u(r, "dlq_events"))
            .fold(None, |acc: Option<u64>, v| Some(acc.unwrap_or(0) + v)),
    }
}

/// Samples of the last [`KEEP`], at least [`STEP`] apart, oldest first.
#[derive(Debug, Default)]
pub struct Ring {
    points: VecDeque<Sample>,
}

impl Ring {
    /// Adds `s`: it replaces the newest sample while that one is less than [`STEP`] after
    /// the one before it (so the newest point is always current and the others are a
    /// step apart), and samples older than [`KEEP`] go.
    pub fn push(&mut self, s: Sample) {
        let step = STEP.as_millis() as i64;
        let keep = KEEP.as_millis() as i64;
        // A clock stepping back: start over rather than keep an unordered series.
        if self.points.back().is_some_and(|b| b.at_ms > s.at_ms) {
            self.points.clear();
        }
        match self.points.len() {
            // The newest point is provisional until it is a step past the one before.
            n if n >= 2 && self.points[n - 1].at_ms - self.points[n - 2].at_ms < step => {
                self.points[n - 1] = s.clone();
            }
            _ => self.points.push_back(s.clone()),
        }
        while self
            .points
            .front()
            .is_some_and(|f| f.at_ms < s.at_ms - keep)
        {
            self.points.pop_front();
        }
        let cap = (keep / step) as usize + 2;
        while self.points.len() > cap {
            self.points.pop_front();
        }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.points.iter().cloned().collect()
    }
}

/// The ring, the live feed, and what reports carry beyond [`super::AgentReport`].
pub struct Dashboard {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Sample>,
    sampler: OnceLock<()>,
    /// Node → its last report as posted (with the fields the typed report drops).
    raw: RwLock<HashMap<String, Value>>,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            ring: Mutex::default(),
            tx: broadcast::channel(64).0,
            sampler: OnceLock::new(),
            raw: RwLock::default(),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Dashboard {
    /// Keeps a report's raw JSON (fields such as `streams` or `agent_version` that newer
    /// agents send and the typed report does not know).
    pub fn record(&self, node: &str, raw: Value) {
        if let Ok(mut r) = self.raw.write() {
            r.insert(node.to_string(), raw);
        }
    }

    /// The node's last report as posted, when it came through the API.
    pub fn raw(&self, node: &str) -> Option<Value> {
        self.raw.read().ok().and_then(|r| r.get(node).cloned())
    }

    /// `report` as JSON with the fields of its raw report the typed one does not know.
    pub fn with_extras(&self, report: &super::AgentReport) -> Value {
        let mut v = serde_json::to_value(report).unwrap_or_default();
        if let (Some(obj), Some(Value::Object(extra))) = (v.as_object_mut(), self.raw(&report.node))
        {
            for (k, x) in extra {
                obj.entry(k).or_insert(x);
            }
        }
        v
    }

    pub fn history(&self) -> Vec<Sample> {
        self.ring.lock().map(|r| r.samples()).unwrap_or_default()
    }

    /// Takes a sample of `state` now, keeps and broadcasts it.
    pub fn sample(&self, state: &AppState) -> Sample {
        let reports: Vec<(Value, Duration)> = state
            .reports
            .read()
            .map(|r| {
                r.iter()
                    .map(|(_, (rep, at))| (self.with_extras(rep), at.elapsed()))
                    .collect()
            })
            .unwrap_or_default();
        let s = aggregate(now_ms(), &state.shared.nodes(), &reports);
        if let Ok(mut r) = self.ring.lock() {
            r.push(s.clone());
        }
        let _ = self.tx.send(s.clone());
        s
    }

    /// Starts sampling `state` every [`SAMPLE_EVERY`] (once; called by the handlers that
    /// need samples, as the router has no start hook). Ends when the dashboard is dropped.
    pub fn ensure_sampler(self: &Arc<Self>, state: &AppState) {
        if self.sampler.set(()).is_err() {
            return;
        }
        let weak: Weak<Dashboard> = Arc::downgrade(self);
        // The state without its own strong handle on the dashboard would be ideal; the
        // clone keeps the rest alive for as long as the task runs, which is the process.
        let state = state.clone();
        self.sample(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(d) = weak.upgrade() else { return };
                if Arc::strong_count(&d) <= 2 {
                    // Only this task and its own state clone hold it: nobody serves it.
                    return;
                }
                d.sample(&state);
            }
        });
    }
}

fn document(d: &Dashboard, current: Sample) -> Value {
    json!({
        "current": current,
        "history": d.history(),
        "sample_every_seconds": SAMPLE_EVERY.as_secs(),
        "keep_seconds": KEEP.as_secs(),
    })
}

pub(super) async fn dashboard(State(s): State<AppState>) -> Json<Value> {
    s.dashboard.ensure_sampler(&s);
    let current = s.dashboard.sample(&s);
    Json(document(&s.dashboard, current))
}

pub(super) async fn stream(
    State(s): State<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    s.dashboard.ensure_sampler(&s);
    let rx = s.dashboard.tx.subscribe();
    let current = s.dashboard.sample(&s);
    let first = Event::default()
        .event("history")
        .data(document(&s.dashboard, current).to_string());
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(sample) => {
                    let ev = Event::default()
                        .event("sample")
                        .data(serde_json::to_string(&sample).unwrap_or_default());
                    return Some((Ok(ev), rx));
                }
                // A slow page skips samples rather than holding the sender.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let all = futures_util::stream::StreamExt::chain(
        futures_util::stream::once(async move { Ok(first) }),
        live,
    );
    Sse::new(all).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(state: &str) -> NodeView {
        NodeView {
            hostname: "n".into(),
            agent_id: None,
            task_id: None,
            state: Some(state.into()),
            message: None,
            failures: 0,
            up_to_date: true,
        }
    }

    fn sample(at_ms: i64) -> Sample {
        aggregate(at_ms, &[], &[])
    }

    #[test]
    fn aggregates_fresh_reports_only_and_leaves_unreported_figures_null() {
        let nodes = [
            node("TASK_RUNNING"),
            node("TASK_RUNNING"),
            node("TASK_FAILED"),
        ];
        let reports = [
            (
                json!({"node": "a", "containers": 2, "events_per_second": 10.5, "lag_seconds": 0.5, "errors": 1}),
                Duration::from_secs(3),
            ),
            (
                json!({"node": "b", "containers": 1, "events_per_second": 4.0, "lag_seconds": 2.0, "errors": 0}),
                Duration::from_secs(1),
            ),
            // Stopped reporting a minute ago: not counted.
            (
                json!({"node": "c", "containers": 9, "events_per_second": 1000.0, "lag_seconds": 99.0, "errors": 7}),
                Duration::from_secs(60),
            ),
        ];
        let s = aggregate(5, &nodes, &reports);
        assert_eq!(
            s,
            Sample {
                at_ms: 5,
                agents_running: 2,
                agents_wanted: 3,
                agents_reporting: 2,
                containers: 3,
                events_in_per_second: 14.5,
                events_out_per_second: None,
                lag_seconds: 2.0,
                errors: 1,
                dlq_events: None,
            }
        );
        // A report that carries the optional figures makes them appear.
        let mut with = reports.to_vec();
        with[0].0["events_out_per_second"] = json!(9.0);
        with[1].0["dlq_events"] = json!(12);
        let s = aggregate(5, &nodes, &with);
        assert_eq!(s.events_out_per_second, Some(9.0));
        assert_eq!(s.dlq_events, Some(12));
    }

    #[test]
    fn ring_keeps_fifteen_minutes_a_step_apart() {
        let mut r = Ring::default();
        // A sample every 2 s for 20 minutes.
        for i in 0..600 {
            r.push(sample(i * 2000));
        }
        let pts = r.samples();
        let newest = pts.last().expect("points").at_ms;
        assert_eq!(
            newest,
            599 * 2000,
            "the newest sample is always the last one"
        );
        let oldest = pts[0].at_ms;
        assert!(
            newest - oldest <= KEEP.as_millis() as i64,
            "{oldest}..{newest}"
        );
        assert!(
            newest - oldest >= KEEP.as_millis() as i64 - 10_000,
            "{oldest}..{newest}"
        );
        for w in pts.windows(2).take(pts.len().saturating_sub(2)) {
            assert!(w[1].at_ms - w[0].at_ms >= STEP.as_millis() as i64, "{w:?}");
        }
        assert!(pts.len() <= 182, "{}", pts.len());
        assert!(pts.len() >= 140, "{}", pts.len());
        // The newest sample replaces the last point until a step has passed.
        let mut r = Ring::default();
        let at = |r: &Ring| r.samples().iter().map(|s| s.at_ms).collect::<Vec<_>>();
        r.push(sample(0));
        r.push(sample(2000));
        r.push(sample(4000));
        assert_eq!(at(&r), [0, 4000]);
        r.push(sample(6000));
        assert_eq!(at(&r), [0, 6000]);
        r.push(sample(8000));
        assert_eq!(at(&r), [0, 6000, 8000]);
        r.push(sample(11_000));
        assert_eq!(at(&r), [0, 6000, 11_000]);
        // A clock going back starts a new series.
        r.push(sample(1000));
        assert_eq!(r.samples().len(), 1);
    }
}
