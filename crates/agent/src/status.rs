//! What the agent is doing, for `GET /status`: containers, streams, offsets, lag, errors.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

/// One stream's counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StreamStatus {
    /// `file`, `stdout` or `stderr`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `running`, `stopped` or `error`.
    pub state: String,
    /// Lines extracted (events emitted).
    pub lines: u64,
    pub bytes: u64,
    /// Byte offset (files) or timestamp (logs) read so far.
    pub read_position: String,
    /// The checkpointed (delivered) position.
    pub acked_position: String,
    /// Events emitted but not yet acknowledged.
    pub lag_events: u64,
    /// Lines seen again after a restart or retry (at-least-once re-reads) that were
    /// skipped (logs) or re-sent (files, counted when the checkpoint was behind).
    pub duplicates: u64,
    pub restarts: u64,
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ContainerStatus {
    pub name: String,
    pub image: String,
    pub streams: BTreeMap<String, StreamStatus>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StatusReport {
    pub agent_id: Option<String>,
    pub docker: String,
    /// The `mesos` input's connection to the local Mesos agent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mesos_agent: String,
    pub errors: Vec<String>,
    pub containers: BTreeMap<String, ContainerStatus>,
}

/// Shared by every docker input of the process.
#[derive(Default)]
pub struct Status {
    inner: Mutex<StatusReport>,
}

static GLOBAL: LazyLock<Arc<Status>> = LazyLock::new(|| Arc::new(Status::default()));

/// The process-wide status the `/status` endpoint serves.
pub fn global() -> Arc<Status> {
    GLOBAL.clone()
}

const MAX_ERRORS: usize = 20;

fn push_err(v: &mut Vec<String>, e: String) {
    if v.last() != Some(&e) {
        v.push(e);
    }
    if v.len() > MAX_ERRORS {
        v.remove(0);
    }
}

impl Status {
    pub fn snapshot(&self) -> StatusReport {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut StatusReport) -> R) -> Option<R> {
        self.inner.lock().ok().map(|mut g| f(&mut g))
    }

    pub fn set_docker(&self, state: &str) {
        self.with(|s| s.docker = state.to_string());
    }

    pub fn set_mesos_agent(&self, state: &str) {
        self.with(|s| s.mesos_agent = state.to_string());
    }

    pub fn error(&self, e: String) {
        tracing::warn!("{e}");
        self.with(|s| push_err(&mut s.errors, e));
    }

    pub fn container(&self, id: &str, name: &str, image: &str) {
        self.with(|s| {
            let c = s.containers.entry(id.to_string()).or_default();
            c.name = name.to_string();
            c.image = image.to_string();
        });
    }

    pub fn remove_container(&self, id: &str) {
        self.with(|s| s.containers.remove(id));
    }

    pub fn stream(&self, container: &str, key: &str, f: impl FnOnce(&mut StreamStatus)) {
        self.with(|s| {
            f(s.containers
                .entry(container.to_string())
                .or_default()
                .streams
                .entry(key.to_string())
                .or_default())
        });
    }

    pub fn stream_error(&self, container: &str, key: &str, e: String) {
        tracing::warn!(container, stream = key, "{e}");
        self.stream(container, key, |st| {
            st.state = "error".into();
            push_err(&mut st.errors, e);
        });
    }
}

/// `GET /status` as JSON.
pub fn router(status: Arc<Status>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new().route(
        "/status",
        get(move || async move { axum::Json(status.snapshot()) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_service_shim::call;

    mod tower_service_shim {
        pub async fn call(r: axum::Router, path: &str) -> (u16, String) {
            use tower::ServiceExt;
            let req = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = r.oneshot(req).await.unwrap();
            let code = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (code, String::from_utf8_lossy(&body).into_owned())
        }
    }

    #[tokio::test]
    async fn status_lists_streams() {
        let s = Arc::new(Status::default());
        s.container("c1", "web", "nginx:1");
        s.stream("c1", "file:/var/log/a.log", |st| {
            st.kind = "file".into();
            st.lines = 3;
        });
        s.stream_error("c1", "file:/var/log/a.log", "tail: not found".into());
        let (code, body) = call(router(s), "/status").await;
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let st = &v["containers"]["c1"]["streams"]["file:/var/log/a.log"];
        assert_eq!(st["lines"], 3);
        assert_eq!(st["state"], "error");
        assert_eq!(st["errors"][0], "tail: not found");
    }
}
