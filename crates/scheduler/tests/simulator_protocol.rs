//! The simulator itself follows PROTOCOL.md: its wire output matches the shared
//! examples and it enforces the HTTP rules a real master enforces.

mod support;

use futures_util::StreamExt;
use logstash_mesos_scheduler::recordio::Decoder;
use serde_json::Value;
use support::simulator::Simulator;

fn shared(file: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/mesos/scheduler-api/"
    );
    serde_json::from_str(&std::fs::read_to_string(format!("{path}{file}")).expect("readable"))
        .expect("json")
}

/// Key paths of a JSON value (array indices collapsed), to compare shapes.
fn shape(v: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let p = format!("{prefix}/{k}");
                out.insert(p.clone());
                shape(v, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| shape(v, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    let mut out = Default::default();
    shape(v, "", &mut out);
    out
}

async fn post(url: &str, body: &Value, ct: &str, stream: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut rb = client
        .post(format!("{url}/api/v1/scheduler"))
        .header("Content-Type", ct)
        .body(serde_json::to_vec(body).expect("ser"));
    if let Some(s) = stream {
        rb = rb.header("Mesos-Stream-Id", s);
    }
    rb.send().await.expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_matches_shared_examples_and_http_rules_hold() {
    let sim = Simulator::start(2).await;
    sim.add_agent("agent-1.example.com", 4.0, 7680.0);
    let url = sim.url(0);
    let sub_body = shared("call-SUBSCRIBE.json")["variants"][0]["body"].clone();

    // Exact Content-Type only.
    let r = post(&url, &sub_body, "application/json; charset=utf-8", None).await;
    assert_eq!(r.status(), 415);
    // The non-leader redirects with a scheme-relative Location.
    let r = post(&sim.url(1), &sub_body, "application/json", None).await;
    assert_eq!(r.status(), 307);
    let loc = r
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        loc,
        format!("{}/api/v1/scheduler", url.trim_start_matches("http:"))
    );

    let r = post(&url, &sub_body, "application/json", None).await;
    assert_eq!(r.status(), 200);
    let stream_id = r
        .headers()
        .get("Mesos-Stream-Id")
        .and_then(|v| v.to_str().ok())
        .expect("stream id")
        .to_string();
    let mut body = r.bytes_stream();
    let mut dec = Decoder::default();
    let mut records: Vec<Value> = Vec::new();
    while records.len() < 3 {
        while let Some(rec) = dec.next_record().expect("framing") {
            records.push(serde_json::from_slice(&rec).expect("json"));
        }
        if records.len() >= 3 {
            break;
        }
        let chunk = body.next().await.expect("more").expect("chunk");
        dec.push(&chunk);
    }
    let subscribed = shared("event-SUBSCRIBED.json")["body"].clone();
    assert_eq!(keys(&records[0]), keys(&subscribed));
    assert_eq!(records[1], shared("event-HEARTBEAT.json")["body"]);
    // Offers: every key we send is one a shared OFFERS record uses (the transcript's, or
    // the resource-shapes example's, which also carries the agent's `url`).
    let transcript = shared("examples/subscribe-stream-transcript.json");
    let offers: Value =
        serde_json::from_str(transcript["records"][2].as_str().expect("record")).expect("json");
    let shapes = shared("examples/offers-resource-shapes.json");
    let shapes_record = shapes["recordio_record"].as_str().expect("record");
    let with_url: Value =
        serde_json::from_str(shapes_record.split_once('\n').expect("length prefix").1)
            .expect("json");
    let mut allowed = keys(&offers);
    allowed.extend(keys(&with_url));
    assert_eq!(records[2]["type"], "OFFERS");
    assert!(
        keys(&records[2]).is_subset(&allowed),
        "{:?} vs {:?}",
        keys(&records[2]),
        allowed
    );

    let fid = records[0]["subscribed"]["framework_id"].clone();
    let revive = serde_json::json!({"framework_id": fid, "type": "REVIVE", "revive": {"roles": ["my-role"]}});
    let r = post(&url, &revive, "application/json", None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap_or_default(),
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
    );
    let r = post(&url, &revive, "application/json", Some("wrong")).await;
    assert_eq!(r.status(), 400);
    let r = post(&url, &revive, "application/json", Some(&stream_id)).await;
    assert_eq!(r.status(), 202);
    // An ACK whose uuid is not 16 bytes is a 400.
    let ack = serde_json::json!({"framework_id": fid, "type": "ACKNOWLEDGE", "acknowledge": {
        "agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "jhadf73jhakdlfha723adf"}});
    let r = post(&url, &ack, "application/json", Some(&stream_id)).await;
    assert_eq!(r.status(), 400);
    // Unknown framework.
    let other =
        serde_json::json!({"framework_id": {"value": "nope"}, "type": "REVIVE", "revive": {}});
    let r = post(&url, &other, "application/json", Some(&stream_id)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap_or_default(),
        "Framework cannot be found"
    );
}

/// Reads records until the stream ends (or `max` records).
async fn drain(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    max: usize,
) -> Vec<Value> {
    let mut dec = Decoder::default();
    let mut records = Vec::new();
    loop {
        while let Some(rec) = dec.next_record().expect("framing") {
            records.push(serde_json::from_slice(&rec).expect("json"));
        }
        if records.len() >= max {
            return records;
        }
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .expect("stream neither ends nor sends");
        match next {
            Some(chunk) => dec.push(&chunk.expect("chunk")),
            None => return records,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_closes_the_stream_and_removes_the_framework() {
    let sim = Simulator::start(1).await;
    let url = sim.url(0);
    let sub_body = shared("call-SUBSCRIBE.json")["variants"][0]["body"].clone();
    let r = post(&url, &sub_body, "application/json", None).await;
    assert_eq!(r.status(), 200);
    let stream_id = r
        .headers()
        .get("Mesos-Stream-Id")
        .and_then(|v| v.to_str().ok())
        .expect("stream id")
        .to_string();
    let mut body = r.bytes_stream();
    let first = drain(&mut body, 1).await;
    let fid = first[0]["subscribed"]["framework_id"].clone();

    let teardown = serde_json::json!({"framework_id": fid, "type": "TEARDOWN"});
    let r = post(&url, &teardown, "application/json", Some(&stream_id)).await;
    assert_eq!(r.status(), 202);
    // The stream ends (whatever was still queued before it).
    let rest = drain(&mut body, usize::MAX).await;
    assert!(rest.iter().all(|e| e["type"] != "SUBSCRIBED"), "{rest:?}");
    // Further calls for that id are refused.
    let revive = serde_json::json!({"framework_id": fid, "type": "REVIVE", "revive": {}});
    let r = post(&url, &revive, "application/json", Some(&stream_id)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap_or_default(),
        "Framework cannot be found"
    );
    // Re-subscribing with it gets ERROR "Framework has been removed", then EOF.
    let mut again = sub_body.clone();
    again["framework_id"] = fid.clone();
    again["subscribe"]["framework_info"]["id"] = fid.clone();
    let r = post(&url, &again, "application/json", None).await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let events = drain(&mut body, usize::MAX).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["error"]["message"], "Framework has been removed");
    assert_eq!(sim.removed_frameworks().len(), 1);
}
