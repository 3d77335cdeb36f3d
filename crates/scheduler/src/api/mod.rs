//! REST API and web UI under one axum router.
//!
//! * `GET /v1/configs`, `GET/PUT/DELETE /v1/configs/{name}`, `POST /v1/configs/{name}/validate`
//! * `GET /v1/configs/{name}/history` (revisions, newest first), `POST /v1/configs/{name}/rollback?to=V`
//! * `POST /v1/try` (`{"config": ..., "lines": [...]}`): sample lines through a config's filters
//! * `GET /v1/pipeline?since=N&timeout=S`: agents long-poll the config set
//! * `POST /v1/agents/status` (agents report), `GET /v1/agents`
//! * `DELETE /v1/framework`: uninstall (TEARDOWN: the master kills every agent)
//! * `GET /v1/endpoints[?agent_id=|?hostname=]`: the inputs' ports per running node, or the
//!   nearest node's
//! * `GET /v1/dashboard`, `GET /v1/dashboard/stream` (server-sent events): fleet figures
//!   from the agents' reports, the last 15 minutes kept (`dashboard.rs`)
//! * `GET /v1/health`, `GET /metrics`, `GET /v1/openapi.json`
//!
//! Config texts in answers show secret option values as `"********"`; a PUT sending the
//! mask back keeps the stored secret (`masking.rs`).
//! * `GET /v1/artifacts/logstash-mesos`: this binary, for command tasks
//! * `GET /`: the embedded UI

pub mod auth;
pub mod dashboard;
mod endpoints;
mod error;
mod masking;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub use error::ApiError;

use crate::configs::ConfigService;
use crate::driver::Shared;

pub use logstash_mesos_core::agent_protocol::AgentReport;
use logstash_mesos_core::agent_protocol::{ConfigSet, PIPELINE_PATH, STATUS_PATH};

#[derive(Clone)]
pub struct AppState {
    pub configs: Arc<ConfigService>,
    pub shared: Arc<Shared>,
    pub reports: Arc<RwLock<HashMap<String, (AgentReport, Instant)>>>,
    /// The file served as the command task's binary.
    pub artifact: Option<PathBuf>,
    /// Who may call the API (`--api-token`, `--api-user`/`--api-password`); off by default.
    pub auth: auth::Auth,
    /// The dashboard's samples and live feed (`/v1/dashboard`).
    pub dashboard: Arc<dashboard::Dashboard>,
}

impl AppState {
    pub fn new(
        configs: Arc<ConfigService>,
        shared: Arc<Shared>,
        artifact: Option<PathBuf>,
    ) -> Self {
        Self {
            configs,
            shared,
            reports: Arc::default(),
            artifact,
            auth: auth::Auth::default(),
            dashboard: Arc::default(),
        }
    }

    /// The same state, with the API requiring `auth`.
    pub fn with_auth(self, auth: auth::Auth) -> Self {
        Self { auth, ..self }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(ui))
        .route("/v1/configs", get(list_configs))
        .route(
            "/v1/configs/{name}",
            get(get_config).put(put_config).delete(delete_config),
        )
        .route("/v1/configs/{name}/validate", post(validate_config))
        .route("/v1/configs/{name}/history", get(config_history))
        .route("/v1/configs/{name}/rollback", post(rollback_config))
        .route("/v1/try", post(try_config))
        .route(PIPELINE_PATH, get(pipeline))
        .route("/v1/agents", get(agents))
        .route("/v1/endpoints", get(endpoints::endpoints))
        .route("/v1/dashboard", get(dashboard::dashboard))
        .route("/v1/dashboard/stream", get(dashboard::stream))
        .route(STATUS_PATH, post(agent_status))
        .route("/v1/framework", axum::routing::delete(uninstall))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route(crate::sched::task::ARTIFACT_PATH, get(artifact))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::require,
        ))
        .with_state(state)
}

async fn ui() -> Html<&'static str> {
    Html(include_str!("../../assets/index.html"))
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../assets/openapi.json"),
    )
        .into_response()
}

async fn list_configs(State(s): State<AppState>) -> Json<serde_json::Value> {
    let mut set = s.configs.current();
    let plugins = masking::registry(&s.configs);
    for text in set.configs.values_mut() {
        *text = masking::mask(plugins, text);
    }
    let pipelines: BTreeMap<&str, &str> = set
        .configs
        .keys()
        .map(|n| (n.as_str(), set.pipeline_of(n)))
        .collect();
    Json(json!({"version": set.version, "configs": set.configs, "pipelines": pipelines}))
}

async fn get_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let text = s
        .configs
        .get(&name)
        .ok_or(crate::configs::ConfigError::NotFound(name))?;
    let text = masking::mask(masking::registry(&s.configs), &text);
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

fn body_text(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("config text is not UTF-8: {e}")))
}

#[derive(Deserialize)]
struct PutQuery {
    /// The pipeline the config belongs to; without it a new config goes to `main` and an
    /// existing one stays where it is.
    pipeline: Option<String>,
}

async fn put_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PutQuery>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    // A secret sent back masked keeps its stored value.
    let text = masking::unmask(
        masking::registry(&s.configs),
        body_text(&body)?,
        s.configs.get(&name).as_deref(),
    )
    .map_err(ApiError::BadRequest)?;
    let version = s
        .configs
        .put_in(&name, &text, q.pipeline.as_deref())
        .await?;
    let pipeline = s.configs.current().pipeline_of(&name).to_string();
    Ok(Json(
        json!({"name": name, "version": version, "pipeline": pipeline}),
    ))
}

/// The config's revisions, newest first (deleted ones with `text: null`).
async fn config_history(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut revisions = s.configs.history(&name).await;
    let plugins = masking::registry(&s.configs);
    for r in &mut revisions {
        if let Some(t) = &mut r.text {
            *t = masking::mask(plugins, t);
        }
    }
    if revisions.is_empty() && s.configs.get(&name).is_none() {
        return Err(crate::configs::ConfigError::NotFound(name).into());
    }
    Ok(Json(json!({"name": name, "revisions": revisions})))
}

#[derive(Deserialize)]
struct TryRequest {
    /// A config text; only its `filter` sections run.
    config: String,
    /// Sample log lines, one event each (`message`).
    lines: Vec<String>,
}

/// "Try it": the events the config's filters make of the sample lines (no input or output
/// runs; at most `lang_validator::TRY_MAX_LINES` lines).
async fn try_config(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: TryRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"config\": \"...\", \"lines\": [\"...\"]}}: {e}"
        ))
    })?;
    let configs = s.configs.clone();
    // Filters are CPU work (grok on a thousand lines): off the async threads.
    let ran = tokio::task::spawn_blocking(move || configs.try_filters(&req.config, &req.lines))
        .await
        .map_err(|e| ApiError::Internal(format!("try: {e}")))?;
    match ran {
        None => Err(ApiError::Internal(
            "this scheduler validates configs structurally only and cannot run filters".into(),
        )),
        Some(Err(errors)) => Err(crate::configs::ConfigError::Invalid {
            name: "try".into(),
            errors,
        }
        .into()),
        Some(Ok(events)) => Ok(Json(json!({ "events": events }))),
    }
}

#[derive(Deserialize)]
struct RollbackQuery {
    /// The set version whose revision of the config becomes current again.
    to: u64,
}

async fn rollback_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RollbackQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let version = s.configs.rollback(&name, q.to).await?;
    let pipeline = s.configs.current().pipeline_of(&name).to_string();
    Ok(Json(
        json!({"name": name, "version": version, "pipeline": pipeline, "restored": q.to}),
    ))
}

async fn validate_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.configs.validate(&name, body_text(&body)?)?;
    Ok(Json(json!({"name": name, "valid": true})))
}

async fn delete_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let version = s.configs.delete(&name).await?;
    Ok(Json(json!({"name": name, "version": version})))
}

#[derive(Deserialize)]
struct PipelineQuery {
    #[serde(default)]
    since: u64,
    /// Seconds to wait for a newer version (default 30, at most 300).
    #[serde(default)]
    timeout: Option<u64>,
}

async fn pipeline(State(s): State<AppState>, Query(q): Query<PipelineQuery>) -> Json<ConfigSet> {
    let wait = Duration::from_secs(q.timeout.unwrap_or(30).min(300));
    let set = s.configs.wait_newer(q.since, wait).await;
    Json(set)
}

/// Parsed by hand so an agent that forgets the Content-Type still gets through.
async fn agent_status(State(s): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let report: AgentReport = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid agent report: {e}")))?;
    if report.node.is_empty() {
        return Err(ApiError::BadRequest(
            "field \"node\" must not be empty".into(),
        ));
    }
    if let Ok(raw) = serde_json::from_slice(&body) {
        s.dashboard.record(&report.node, raw);
    }
    if let Ok(mut r) = s.reports.write() {
        r.insert(report.node.clone(), (report, Instant::now()));
    }
    s.dashboard.ensure_sampler(&s);
    Ok(StatusCode::NO_CONTENT)
}

async fn agents(State(s): State<AppState>) -> Json<serde_json::Value> {
    let reports = s.reports.read().map(|r| r.clone()).unwrap_or_default();
    let mut out = Vec::new();
    let nodes = s.shared.nodes();
    for n in &nodes {
        // Agents report their own hostname; fall back to the Mesos agent id in case
        // the container's hostname differs from the node's.
        let rep = reports.get(&n.hostname).or_else(|| {
            n.agent_id.as_ref().and_then(|id| {
                reports
                    .values()
                    .find(|(r, _)| r.agent_id.as_ref() == Some(id))
            })
        });
        out.push(json!({
            "node": n.hostname,
            "agent_id": n.agent_id,
            "task_id": n.task_id,
            "task_state": n.state,
            "message": n.message,
            "failures": n.failures,
            "up_to_date": n.up_to_date,
            // The config set the agent runs: equal to /v1/health's once it swapped.
            "config_version": rep.map(|(r, _)| r.config_version),
            "report": rep.map(|(r, _)| s.dashboard.with_extras(r)),
            "report_age_seconds": rep.map(|(_, at)| at.elapsed().as_secs_f64()),
        }));
    }
    // Agents that report but that the scheduler does not (yet) know as a node.
    for (node, (r, at)) in &reports {
        let matched = nodes
            .iter()
            .any(|n| &n.hostname == node || (n.agent_id.is_some() && n.agent_id == r.agent_id));
        if !matched {
            out.push(json!({"node": node, "agent_id": r.agent_id, "task_id": r.task_id, "task_state": null,
                "config_version": r.config_version, "report": s.dashboard.with_extras(r), "report_age_seconds": at.elapsed().as_secs_f64()}));
        }
    }
    Json(json!({"agents": out}))
}

/// Tears the framework down; the agents die with it. Irreversible for this
/// framework id, hence a DELETE on the framework resource rather than a flag.
async fn uninstall(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if s.shared.uninstalled.load(Ordering::Relaxed) {
        return Err(crate::control::UninstallError::AlreadyUninstalled.into());
    }
    let report = s.shared.control.uninstall(Duration::from_secs(30)).await?;
    Ok(Json(json!({"uninstalled": true, "report": report})))
}

async fn health(State(s): State<AppState>) -> Json<serde_json::Value> {
    let uninstalled = s.shared.uninstalled.load(Ordering::Relaxed);
    Json(json!({
        "status": if uninstalled { "uninstalled" } else { "ok" },
        "uninstalled": uninstalled,
        "connected": s.shared.connected.load(Ordering::Relaxed),
        "framework_id": s.shared.framework_id(),
        "config_version": s.configs.current().version,
    }))
}

async fn metrics(State(s): State<AppState>) -> Response {
    use std::fmt::Write;
    let m = &s.shared.metrics;
    let mut out = String::new();
    let counters = [
        ("subscribes", "SUBSCRIBE streams opened", &m.subscribes),
        ("events", "events received from the master", &m.events),
        ("offers", "offers received", &m.offers),
        ("launches", "agent tasks launched", &m.launches),
        ("declines", "offers declined", &m.declines),
        (
            "revives",
            "REVIVE calls (each clears every filter)",
            &m.revives,
        ),
        ("kills", "kill calls sent", &m.kills),
        ("updates", "task status updates received", &m.updates),
        (
            "call_errors",
            "calls the master did not accept",
            &m.call_errors,
        ),
    ];
    for (name, help, c) in counters {
        let _ = writeln!(out, "# HELP logstash_mesos_scheduler_{name}_total {help}");
        let _ = writeln!(out, "# TYPE logstash_mesos_scheduler_{name}_total counter");
        let _ = writeln!(
            out,
            "logstash_mesos_scheduler_{name}_total {}",
            c.load(Ordering::Relaxed)
        );
    }
    let nodes = s.shared.nodes();
    let running = nodes
        .iter()
        .filter(|n| n.state.as_deref() == Some("TASK_RUNNING"))
        .count();
    let gauges = [
        (
            "connected",
            "1 while subscribed to the master",
            u64::from(s.shared.connected.load(Ordering::Relaxed)),
        ),
        ("nodes", "nodes known from offers", nodes.len() as u64),
        (
            "agents_running",
            "nodes whose agent is running",
            running as u64,
        ),
        (
            "config_version",
            "version of the accepted config set",
            s.configs.current().version,
        ),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP logstash_mesos_scheduler_{name} {help}");
        let _ = writeln!(out, "# TYPE logstash_mesos_scheduler_{name} gauge");
        let _ = writeln!(out, "logstash_mesos_scheduler_{name} {v}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn artifact(State(s): State<AppState>) -> Result<Response, ApiError> {
    let Some(path) = &s.artifact else {
        return Err(ApiError::BadRequest(
            "no artifact is served (Docker agents)".into(),
        ));
    };
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[cfg(test)]
mod tests;
