//! `GET /v1/endpoints`: where the configs' network inputs listen, per node with a
//! running agent (its host IP and each input's name, protocol and port, as the task was
//! launched with them); `?agent_id=` or `?hostname=` answers with the one nearest node
//! instead (that node when its agent runs, else one in its zone, its region, anywhere).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::sched::ports;

#[derive(Deserialize)]
pub(super) struct EndpointsQuery {
    agent_id: Option<String>,
    hostname: Option<String>,
}

pub(super) async fn endpoints(
    State(s): State<AppState>,
    Query(q): Query<EndpointsQuery>,
) -> Response {
    let all = s.shared.endpoints();
    let agent_id = q.agent_id.as_deref().filter(|v| !v.is_empty());
    let hostname = q.hostname.as_deref().filter(|v| !v.is_empty());
    if agent_id.is_some() || hostname.is_some() {
        return match ports::nearest(&all, agent_id, hostname) {
            Some((node, nearness)) => Json(json!({
                "agent_id": agent_id,
                "hostname": hostname,
                "nearness": nearness,
                "node": node,
            }))
            .into_response(),
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no node runs an agent (TASK_RUNNING)"})),
            )
                .into_response(),
        };
    }
    let plan = s.shared.port_plan();
    let running: Vec<&ports::NodeEndpoint> = all.iter().filter(|n| n.running).collect();
    Json(json!({
        "nodes": running,
        "config_version": plan.as_ref().map(|(v, _)| v),
        "inputs": plan.as_ref().map(|(_, p)| &p.inputs),
        "problems": plan.as_ref().map(|(_, p)| &p.problems),
    }))
    .into_response()
}
