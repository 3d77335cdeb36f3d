use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::configs::BasicValidator;
use crate::driver::Keeper;
use crate::store::{ConfigSet, FileStore};

async fn app() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keeper = Arc::new(
        Keeper::open(Arc::new(FileStore::new(dir.path())))
            .await
            .expect("keeper"),
    );
    let configs = Arc::new(ConfigService::new(
        Arc::new(BasicValidator),
        keeper,
        ConfigSet::default(),
        None,
    ));
    (
        dir,
        AppState::new(configs, Arc::new(Shared::default()), None),
    )
}

async fn call(state: &AppState, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = router(state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn js(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not json ({e}): {s}"))
}

#[tokio::test]
async fn config_crud_with_validation() {
    let (_d, st) = app().await;
    let (code, body) = call(&st, "PUT", "/v1/configs/main", "input { stdin {} }").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        js(&body),
        json!({"name": "main", "version": 1, "pipeline": "main"})
    );
    let (code, body) = call(&st, "GET", "/v1/configs/main", "").await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::OK, "input { stdin {} }")
    );
    let (code, body) = call(&st, "PUT", "/v1/configs/main", "input {\n  stdin {\n").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let errs = js(&body)["errors"].clone();
    let positions: Vec<(i64, i64)> = errs
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap_or(0),
                e["column"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(positions, vec![(1, 7), (2, 9)]);
    assert_eq!(errs[1]["file"], "main");
    assert!(errs[1]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("never closed"));
    // The invalid text was not accepted.
    let (_, body) = call(&st, "GET", "/v1/configs", "").await;
    assert_eq!(
        js(&body),
        json!({"version": 1, "configs": {"main": "input { stdin {} }"}, "pipelines": {"main": "main"}})
    );
    // Revisions and roll back.
    let (code, _) = call(&st, "PUT", "/v1/configs/main", "input { generator {} }").await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = call(&st, "GET", "/v1/configs/main/history", "").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let revs = js(&body)["revisions"].clone();
    assert_eq!(revs[0]["version"], 2);
    assert_eq!(revs[1]["text"], "input { stdin {} }");
    let (code, body) = call(&st, "POST", "/v1/configs/main/rollback?to=1", "").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(js(&body)["version"], 3);
    let (_, body) = call(&st, "GET", "/v1/configs/main", "").await;
    assert_eq!(body, "input { stdin {} }");
    let (code, _) = call(&st, "POST", "/v1/configs/main/rollback?to=99", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = call(&st, "GET", "/v1/configs/nope/history", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // `?pipeline=` puts a config in its own pipeline; a bad id is a 400.
    let (code, body) = call(&st, "PUT", "/v1/configs/edge?pipeline=edge", "output {}").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(js(&body)["pipeline"], "edge");
    let (code, body) = call(&st, "PUT", "/v1/configs/x?pipeline=a%2Fb", "output {}").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid pipeline id"), "{body}");
    let (code, _) = call(&st, "DELETE", "/v1/configs/edge", "").await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = call(&st, "POST", "/v1/configs/main/validate", "output {}").await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = call(&st, "PUT", "/v1/configs/..", "input {}").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, _) = call(&st, "DELETE", "/v1/configs/main", "").await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = call(&st, "DELETE", "/v1/configs/main", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(js(&body)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("main"));
    let (code, _) = call(&st, "GET", "/v1/configs/main", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pipeline_long_poll() {
    let (_d, st) = app().await;
    let (_, body) = call(&st, "GET", "/v1/pipeline?since=0&timeout=0", "").await;
    assert_eq!(js(&body)["version"], 0);
    let waiter = {
        let st = st.clone();
        tokio::spawn(async move { call(&st, "GET", "/v1/pipeline?since=0&timeout=10", "").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    call(&st, "PUT", "/v1/configs/a", "output {}").await;
    let (code, body) = waiter.await.expect("join");
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        js(&body),
        json!({"version": 1, "configs": {"a": "output {}"}})
    );
}

#[tokio::test]
async fn agents_report_and_listing() {
    let (_d, st) = app().await;
    if let Ok(mut n) = st.shared.nodes.write() {
        n.push(crate::sched::NodeView {
            hostname: "n1".into(),
            agent_id: Some("a1".into()),
            task_id: Some("t1".into()),
            state: Some("TASK_RUNNING".into()),
            message: None,
            failures: 0,
            up_to_date: true,
        });
    }
    let report = json!({"node": "n1", "containers": 3, "events_per_second": 120.5, "lag_seconds": 0.4, "errors": 1, "config_version": 2});
    let (code, _) = call(&st, "POST", "/v1/agents/status", &report.to_string()).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, _) = call(&st, "POST", "/v1/agents/status", "{\"node\": \"\"}").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (_, body) = call(&st, "GET", "/v1/agents", "").await;
    let a = &js(&body)["agents"][0];
    assert_eq!(a["node"], "n1");
    assert_eq!(a["task_state"], "TASK_RUNNING");
    assert_eq!(a["report"]["containers"], 3);
    assert_eq!(a["report"]["events_per_second"], 120.5);
    assert_eq!(
        a["config_version"], 2,
        "the pipeline swap is visible per agent"
    );
    // A report under another hostname but with the node's Mesos agent id joins that row.
    let report = json!({"node": "container-abc", "agent_id": "a1", "containers": 9});
    call(&st, "POST", "/v1/agents/status", &report.to_string()).await;
    let (_, body) = call(&st, "GET", "/v1/agents", "").await;
    let rows = js(&body)["agents"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["report"]["containers"], 3, "own hostname wins");
}

#[tokio::test]
async fn health_metrics_openapi_ui() {
    let (_d, st) = app().await;
    let (code, body) = call(&st, "GET", "/v1/health", "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(js(&body)["connected"], false);
    st.shared.metrics.offers.fetch_add(5, Ordering::Relaxed);
    let (code, body) = call(&st, "GET", "/metrics", "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        body.contains("logstash_mesos_scheduler_offers_total 5\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE logstash_mesos_scheduler_connected gauge"),
        "{body}"
    );
    let (code, body) = call(&st, "GET", "/v1/openapi.json", "").await;
    assert_eq!(code, StatusCode::OK);
    let doc = js(&body);
    // Every route of the router is documented.
    for path in [
        "/v1/configs",
        "/v1/configs/{name}",
        "/v1/pipeline",
        "/v1/agents",
        "/v1/agents/status",
        "/v1/endpoints",
        "/v1/dashboard",
        "/v1/dashboard/stream",
        "/v1/health",
        "/v1/framework",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} undocumented");
    }
    let (code, body) = call(&st, "GET", "/", "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(body.contains("id=\"editor\""));
    // Relative URLs only: behind the DC/OS admin router the page lives under
    // /service/<name>/, where "/v1/..." would miss the scheduler.
    assert!(body.contains("fetch(\"v1/configs\")"));
    for absolute in ["fetch(\"/", "src=\"/", "href=\"/", "EventSource(\"/"] {
        assert!(
            !body.contains(absolute),
            "the UI uses an absolute URL: {absolute}"
        );
    }
}

/// A request with extra headers; the response's status, `WWW-Authenticate` and body.
async fn call_with(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::from("input { }")).expect("request");
    let resp = router(state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let www = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, www, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn credentials_guard_every_route_but_health_and_the_agent_binary() {
    let (_d, st) = app().await;
    let st = st.with_auth(auth::Auth {
        token: Some("s3cret-token".into()),
        basic: Some(("ops".into(), "pw".into())),
    });
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:pw")
    );
    // Nothing without credentials, and the browser is told how to log in.
    for (m, uri) in [
        ("GET", "/"),
        ("GET", "/v1/configs"),
        ("GET", "/v1/pipeline?since=0&timeout=0"),
        ("PUT", "/v1/configs/x"),
        ("POST", "/v1/agents/status"),
        ("GET", "/metrics"),
    ] {
        let (code, www, _) = call_with(&st, m, uri, &[]).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{m} {uri}");
        assert_eq!(www.as_deref(), Some("Basic realm=\"logstash-mesos\""));
    }
    let (code, _, _) = call_with(
        &st,
        "GET",
        "/v1/configs",
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // The health check stays public (Marathon calls it without credentials).
    let (code, _, _) = call_with(&st, "GET", "/v1/health", &[]).await;
    assert_eq!(code, StatusCode::OK);
    // A token reads and writes.
    let bearer = [("authorization", "Bearer s3cret-token")];
    let (code, _, body) = call_with(&st, "PUT", "/v1/configs/x", &bearer).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // Basic credentials read; a write needs the header a foreign page cannot add.
    let (code, _, _) = call_with(&st, "GET", "/v1/configs", &[("authorization", &basic)]).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, body) =
        call_with(&st, "PUT", "/v1/configs/y", &[("authorization", &basic)]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("X-Requested-With"), "{body}");
    let (code, _, body) = call_with(
        &st,
        "PUT",
        "/v1/configs/y",
        &[
            ("authorization", &basic),
            ("x-requested-with", "logstash-mesos-ui"),
        ],
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// An app validating with the product's plugin set (whose schemas name the secrets).
async fn lang_app() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keeper = Arc::new(
        Keeper::open(Arc::new(FileStore::new(dir.path())))
            .await
            .expect("keeper"),
    );
    let configs = Arc::new(ConfigService::new(
        Arc::new(crate::lang_validator::LangValidator::new(
            logstash_mesos_agent::plugins::registry(),
        )),
        keeper,
        ConfigSet::default(),
        None,
    ));
    (
        dir,
        AppState::new(configs, Arc::new(Shared::default()), None),
    )
}

const SECRET_CONF: &str = "input { mesos { password => \"agent-pw\" } }\n\
output {\n  if [x] {\n    elasticsearch { hosts => [\"http://es:9200\"] user => \"u\" password => \"es-pw\" }\n  }\n\
  elasticsearch { password => 'other-pw' api_key => \"${ES_KEY}\" }\n}\n";

#[tokio::test]
async fn secrets_are_masked_in_answers_and_kept_on_put() {
    let (_d, st) = lang_app().await;
    let (code, body) = call(&st, "PUT", "/v1/configs/sec", SECRET_CONF).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let masked = "input { mesos { password => \"********\" } }\n\
output {\n  if [x] {\n    elasticsearch { hosts => [\"http://es:9200\"] user => \"u\" password => \"********\" }\n  }\n\
  elasticsearch { password => \"********\" api_key => \"${ES_KEY}\" }\n}\n";
    let (code, body) = call(&st, "GET", "/v1/configs/sec", "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, masked));
    let (_, body) = call(&st, "GET", "/v1/configs", "").await;
    assert_eq!(js(&body)["configs"]["sec"], masked);
    let (_, body) = call(&st, "GET", "/v1/configs/sec/history", "").await;
    assert_eq!(js(&body)["revisions"][0]["text"], masked);
    for secret in ["agent-pw", "es-pw", "other-pw"] {
        for uri in ["/v1/configs", "/v1/configs/sec", "/v1/configs/sec/history"] {
            let (_, body) = call(&st, "GET", uri, "").await;
            assert!(!body.contains(secret), "{uri} shows {secret}: {body}");
        }
    }
    // Agents still get the real values.
    let (_, body) = call(&st, "GET", "/v1/pipeline?since=0&timeout=0", "").await;
    assert_eq!(js(&body)["configs"]["sec"], SECRET_CONF);

    // The UI sends the masked text back with another change: the secrets stay.
    let edited = masked.replace("user => \"u\"", "user => \"admin\"");
    let (code, body) = call(&st, "PUT", "/v1/configs/sec", &edited).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let stored = st.configs.get("sec").expect("stored");
    assert_eq!(
        stored,
        SECRET_CONF.replace("user => \"u\"", "user => \"admin\"")
    );
    // A secret typed anew replaces the stored one; the others are kept.
    let retyped = edited.replacen(
        "password => \"********\"",
        "password => \"new-agent-pw\"",
        1,
    );
    let (code, _) = call(&st, "PUT", "/v1/configs/sec", &retyped).await;
    assert_eq!(code, StatusCode::OK);
    let stored = st.configs.get("sec").expect("stored");
    assert!(
        stored.contains("mesos { password => \"new-agent-pw\" }"),
        "{stored}"
    );
    assert!(stored.contains("password => \"es-pw\""), "{stored}");
    assert!(stored.contains("password => 'other-pw'"), "{stored}");
    // A mask where nothing was stored (a new plugin, a new config) is refused, not stored.
    let (code, body) = call(
        &st,
        "PUT",
        "/v1/configs/fresh",
        "output { elasticsearch { password => \"********\" } }",
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("no stored secret"), "{body}");
    assert!(st.configs.get("fresh").is_none());
    // A plain string option that happens to be the mask is left alone.
    let (code, body) = call(
        &st,
        "PUT",
        "/v1/configs/plain",
        "filter { mutate { add_tag => [\"********\"] } }",
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[test]
fn masking_by_name_when_the_text_does_not_parse() {
    let r = logstash_mesos_pipeline::registry::Registry::builtin();
    let text =
        "output { elasticsearch { password => \"a b\" ssl_key_passphrase=>pass user => x } \n";
    assert_eq!(
        masking::mask(&r, text),
        "output { elasticsearch { password => \"********\" ssl_key_passphrase=>\"********\" user => x } \n"
    );
    // Codec plugins and conditionals are walked in parseable texts; non-secret options kept.
    let ok = "filter { fingerprint { key => \"k1\" method => \"SHA256\" } }";
    assert_eq!(
        masking::mask(&r, ok),
        "filter { fingerprint { key => \"********\" method => \"SHA256\" } }"
    );
}

#[tokio::test]
async fn dashboard_figures_come_from_agent_reports_and_stream_as_sse() {
    let (_d, st) = app().await;
    if let Ok(mut n) = st.shared.nodes.write() {
        for (h, state) in [("n1", "TASK_RUNNING"), ("n2", "TASK_STAGING")] {
            n.push(crate::sched::NodeView {
                hostname: h.into(),
                agent_id: None,
                task_id: None,
                state: Some(state.into()),
                message: None,
                failures: 0,
                up_to_date: true,
            });
        }
    }
    let report = json!({"node": "n1", "containers": 3, "events_per_second": 120.5, "lag_seconds": 0.4, "errors": 2, "dlq_events": 7});
    let (code, _) = call(&st, "POST", "/v1/agents/status", &report.to_string()).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, body) = call(&st, "GET", "/v1/dashboard", "").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let doc = js(&body);
    let cur = &doc["current"];
    assert_eq!(cur["agents_running"], 1);
    assert_eq!(cur["agents_wanted"], 2);
    assert_eq!(cur["agents_reporting"], 1);
    assert_eq!(cur["events_in_per_second"], 120.5);
    assert_eq!(cur["errors"], 2);
    assert_eq!(cur["dlq_events"], 7, "extra report fields are kept");
    assert_eq!(
        cur["events_out_per_second"],
        Value::Null,
        "not reported: null"
    );
    assert!(doc["history"].as_array().is_some_and(|h| !h.is_empty()));

    // The stream starts with the history, then a sample per tick.
    let req = Request::builder()
        .uri("/v1/dashboard/stream")
        .body(Body::empty())
        .expect("request");
    let resp = router(st.clone()).oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = resp.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: sample") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("a sample within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.starts_with("event: history\ndata: {"), "{seen}");
    assert!(seen.contains("\"events_in_per_second\":120.5"), "{seen}");
}

/// Masking and unmasking never panic on garbage texts (unbalanced quotes, multibyte
/// characters, a secret name at the very end...), and a masked text shows no secret.
#[test]
fn masking_survives_garbage() {
    let r = logstash_mesos_pipeline::registry::Registry::builtin();
    let pieces = [
        "password",
        " => ",
        "=>",
        "\"",
        "'",
        "\\",
        "é",
        "日本",
        "{",
        "}",
        "[",
        "]",
        "#",
        "\n",
        " ",
        "hunter2",
        "output",
        "elasticsearch",
        "${X}",
        "********",
        ",",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        let mut text = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 24) as usize;
        for k in 0..n {
            let i = ((seed >> (k % 48)) as usize + k * 7) % pieces.len();
            text.push_str(pieces[i]);
        }
        let masked = masking::mask(&r, &text);
        let _ = masking::unmask(&r, &masked, Some(&text));
        let _ = masking::unmask(&r, &text, None);
    }
    let text = "output { elasticsearch { password => hunter2 } }";
    assert!(!masking::mask(&r, text).contains("hunter2"));
}
