//! The simulator keeps the inconvenient master rules to the letter (PROTOCOL.md §5–§9,
//! §13), so a scheduler that only works against a lenient master fails in the
//! simulator first. Each test drives the simulator over raw HTTP, as a framework would.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use logstash_mesos_scheduler::recordio::Decoder;
use serde_json::{json, Value};
use support::simulator::Simulator;

/// A raw subscription: the event stream plus what calls need.
struct Sub {
    url: String,
    stream_id: String,
    fid: Value,
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    dec: Decoder,
    http: reqwest::Client,
}

fn subscribe_body(fid: Option<&Value>, suppressed: &[&str]) -> Value {
    let mut info = json!({
        "user": "root", "name": "rules", "roles": ["logging"],
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
        "failover_timeout": 3600.0, "checkpoint": true
    });
    let mut call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {}}});
    if let Some(f) = fid {
        info["id"] = f.clone();
        call["framework_id"] = f.clone();
    }
    call["subscribe"]["framework_info"] = info;
    if !suppressed.is_empty() {
        call["subscribe"]["suppressed_roles"] = json!(suppressed);
    }
    call
}

impl Sub {
    async fn open(sim: &Simulator, fid: Option<&Value>, suppressed: &[&str]) -> Sub {
        let url = sim.url(0);
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{url}/api/v1/scheduler"))
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&subscribe_body(fid, suppressed)).expect("ser"))
            .send()
            .await
            .expect("subscribe");
        assert_eq!(r.status(), 200);
        let stream_id = r
            .headers()
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .expect("stream id")
            .to_string();
        let mut sub = Sub {
            url,
            stream_id,
            fid: Value::Null,
            body: Box::pin(r.bytes_stream()),
            dec: Decoder::default(),
            http,
        };
        let first = sub.next(Duration::from_secs(5)).await.expect("SUBSCRIBED");
        assert_eq!(first["type"], "SUBSCRIBED", "{first}");
        sub.fid = first["subscribed"]["framework_id"].clone();
        sub
    }

    /// The next event within `wait`, or `None`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(rec) = self.dec.next_record().expect("framing") {
                return Some(serde_json::from_slice(&rec).expect("json"));
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => self.dec.push(&chunk.expect("chunk")),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Events other than HEARTBEAT arriving within `wait`.
    async fn collect(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return out;
            }
            match self.next(left).await {
                Some(ev) if ev["type"] == "HEARTBEAT" => {}
                Some(ev) => out.push(ev),
                None => return out,
            }
        }
    }

    /// The first event of `kind` within `wait`.
    async fn wait_for(&mut self, kind: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self.next(left).await?;
            if ev["type"] == kind {
                return Some(ev);
            }
        }
    }

    async fn call(&self, mut call: Value) -> u16 {
        call["framework_id"] = self.fid.clone();
        let r = self
            .http
            .post(format!("{}/api/v1/scheduler", self.url))
            .header("Content-Type", "application/json")
            .header("Mesos-Stream-Id", &self.stream_id)
            .body(serde_json::to_vec(&call).expect("ser"))
            .send()
            .await
            .expect("call");
        r.status().as_u16()
    }

    async fn decline(&self, offers: &[Value], refuse: f64) {
        let ids: Vec<Value> = offers.iter().map(|o| o["id"].clone()).collect();
        let st = self
            .call(json!({"type": "DECLINE", "decline": {"offer_ids": ids, "filters": {"refuse_seconds": refuse}}}))
            .await;
        assert_eq!(st, 202);
    }

    async fn launch(&self, offer: &Value, task: &str, cpus: f64) -> u16 {
        let call = json!({"type": "ACCEPT", "accept": {
            "offer_ids": [offer["id"].clone()],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{
                "name": task, "task_id": {"value": task}, "agent_id": offer["agent_id"].clone(),
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}}],
                "command": {"value": "true"}
            }]}}],
            "filters": {"refuse_seconds": 3600.0}
        }});
        self.call(call).await
    }
}

fn offers_of(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "OFFERS")
        .flat_map(|e| {
            e["offers"]["offers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn hosts(offers: &[Value]) -> Vec<String> {
    let mut h: Vec<String> = offers
        .iter()
        .filter_map(|o| o["hostname"].as_str().map(str::to_string))
        .collect();
    h.sort();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_framework_gets_no_offers_not_even_for_new_agents() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let first = offers_of(&sub.collect(Duration::from_millis(500)).await);
    assert_eq!(hosts(&first), ["n1"]);
    assert_eq!(
        sub.call(json!({"type": "SUPPRESS", "suppress": {"roles": ["logging"]}}))
            .await,
        202
    );
    // Outstanding offers are kept; declining them leaves nothing on offer.
    sub.decline(&first, 0.0).await;
    sim.add_agent("n2", 4.0, 4096.0);
    let events = sub.collect(Duration::from_millis(1500)).await;
    assert!(offers_of(&events).is_empty(), "{events:?}");
    // REVIVE un-suppresses: both agents are offered.
    assert_eq!(
        sub.call(json!({"type": "REVIVE", "revive": {"roles": ["logging"]}}))
            .await,
        202
    );
    let events = sub.collect(Duration::from_millis(500)).await;
    assert_eq!(hosts(&offers_of(&events)), ["n1", "n2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_with_suppressed_roles_starts_suppressed() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &["logging"]).await;
    let events = sub.collect(Duration::from_millis(800)).await;
    assert!(offers_of(&events).is_empty(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_filter_holds_for_refuse_seconds_on_that_agent_only() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    sim.add_agent("n2", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let first = offers_of(&sub.collect(Duration::from_millis(400)).await);
    assert_eq!(hosts(&first), ["n1", "n2"]);
    let (n1, n2): (Vec<Value>, Vec<Value>) = first.into_iter().partition(|o| o["hostname"] == "n1");
    sub.decline(&n1, 1.5).await;
    sub.decline(&n2, 0.0).await;
    // n2 (no filter) comes back at the next allocation; n1 not before 1.5 s.
    let t0 = tokio::time::Instant::now();
    let events = sub.collect(Duration::from_millis(1200)).await;
    assert_eq!(hosts(&offers_of(&events)), ["n2"], "{events:?}");
    let again = sub
        .wait_for("OFFERS", Duration::from_secs(3))
        .await
        .expect("n1 re-offered");
    assert_eq!(hosts(&offers_of(&[again])), ["n1"]);
    assert!(
        t0.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_hides_only_offers_contained_in_what_was_refused() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let first = offers_of(&sub.collect(Duration::from_millis(400)).await);
    assert_eq!(sub.launch(&first[0], "t1", 1.0).await, 202);
    // The rest of the offer (3 cpus) is refused for an hour: no offers.
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Some(ev) = sub
        .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        assert_ne!(ev["type"], "OFFERS", "{ev}");
        if ev["type"] == "UPDATE" {
            let st = &ev["update"]["status"];
            let ack = json!({"type": "ACKNOWLEDGE", "acknowledge": {
                "agent_id": st["agent_id"].clone(), "task_id": st["task_id"].clone(), "uuid": st["uuid"].clone()}});
            assert_eq!(sub.call(ack).await, 202);
            acked += 1;
        }
    }
    assert_eq!(acked, 2, "STARTING and RUNNING");
    // The task dies: its freed cpu makes the offer larger than what was refused.
    let task = sim.live_tasks()[0].1.clone();
    sim.fail_task(&task);
    let offer = sub
        .wait_for("OFFERS", Duration::from_secs(2))
        .await
        .expect("re-offered");
    let cpus = offers_of(&[offer])[0]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "cpus"))
        .map(|r| r["scalar"]["value"].as_f64().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(cpus, 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_offers_are_rescinded_after_the_offer_timeout() {
    let sim = Simulator::start(1).await;
    sim.lock().offer_timeout = Some(Duration::from_millis(500));
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let offer = sub
        .wait_for("OFFERS", Duration::from_secs(2))
        .await
        .expect("offer");
    let offer = offers_of(&[offer])[0].clone();
    let t0 = tokio::time::Instant::now();
    let rescind = sub
        .wait_for("RESCIND", Duration::from_secs(2))
        .await
        .expect("rescind");
    assert_eq!(rescind["rescind"]["offer_id"], offer["id"]);
    assert!(t0.elapsed() >= Duration::from_millis(350));
    // Using it now drops the task (no uuid: the master made the update).
    assert_eq!(sub.launch(&offer, "late", 1.0).await, 202);
    let events = sub.collect(Duration::from_millis(400)).await;
    let upd = events
        .iter()
        .find(|e| e["type"] == "UPDATE")
        .expect("update");
    assert_eq!(upd["update"]["status"]["state"], "TASK_DROPPED");
    assert_eq!(upd["update"]["status"]["reason"], "REASON_INVALID_OFFERS");
    assert!(upd["update"]["status"].get("uuid").is_none());
    // The resources come back (unfiltered) as a new offer.
    let again = offers_of(&events);
    assert!(!again.is_empty(), "{events:?}");
    assert_ne!(again[0]["id"], offer["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubscribe_drops_offers_silently_and_regenerates_them() {
    let sim = Simulator::start(1).await;
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let first = offers_of(&sub.collect(Duration::from_millis(400)).await);
    // A long filter before the failover...
    sub.decline(&first, 3600.0).await;
    let fid = sub.fid.clone();
    let mut old = sub;
    let mut sub = Sub::open(&sim, Some(&fid), &[]).await;
    let ev = old
        .wait_for("ERROR", Duration::from_secs(2))
        .await
        .expect("old stream told");
    assert_eq!(ev["error"]["message"], "Framework failed over");
    // ...does not survive it: the agent is offered to the new subscription.
    let offers = offers_of(&sub.collect(Duration::from_millis(500)).await);
    assert_eq!(hosts(&offers), ["n1"]);
    assert_ne!(offers[0]["id"], first[0]["id"]);
    // And an offer of the old subscription is invalid now (no RESCIND was sent for it).
    let mut sub2 = Sub::open(&sim, Some(&fid), &[]).await;
    let _ = sub.collect(Duration::from_millis(100)).await;
    assert_eq!(sub2.launch(&offers[0], "stale", 1.0).await, 202);
    let events = sub2.collect(Duration::from_millis(500)).await;
    assert!(events.iter().all(|e| e["type"] != "RESCIND"), "{events:?}");
    let upd = events
        .iter()
        .find(|e| e["type"] == "UPDATE")
        .expect("update");
    assert_eq!(upd["update"]["status"]["state"], "TASK_DROPPED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_updates_are_re_sent_with_backoff_until_acknowledged() {
    let sim = Simulator::start(1).await;
    {
        let mut s = sim.lock();
        s.retry = Duration::from_millis(200);
        s.retry_max = Duration::from_millis(800);
    }
    sim.add_agent("n1", 4.0, 4096.0);
    let mut sub = Sub::open(&sim, None, &[]).await;
    let offer = offers_of(&[sub
        .wait_for("OFFERS", Duration::from_secs(2))
        .await
        .expect("offer")])[0]
        .clone();
    assert_eq!(sub.launch(&offer, "t1", 1.0).await, 202);
    // Not acknowledged: the same STARTING (same uuid) again and again, at growing intervals;
    // RUNNING waits behind it.
    let mut seen = Vec::new();
    let t0 = tokio::time::Instant::now();
    while seen.len() < 4 {
        let ev = sub
            .wait_for("UPDATE", Duration::from_secs(3))
            .await
            .expect("re-sent");
        seen.push((t0.elapsed(), ev["update"]["status"].clone()));
    }
    assert!(
        seen.iter().all(|(_, s)| s["state"] == "TASK_STARTING"),
        "{seen:?}"
    );
    assert!(seen.iter().all(|(_, s)| s["uuid"] == seen[0].1["uuid"]));
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        gaps[2] > gaps[0] + Duration::from_millis(150),
        "no backoff: {gaps:?}"
    );
    // The ACK releases the next update.
    let st = &seen[0].1;
    let ack = json!({"type": "ACKNOWLEDGE", "acknowledge": {
        "agent_id": st["agent_id"].clone(), "task_id": st["task_id"].clone(), "uuid": st["uuid"].clone()}});
    assert_eq!(sub.call(ack).await, 202);
    let next = sub
        .wait_for("UPDATE", Duration::from_secs(2))
        .await
        .expect("next");
    assert_eq!(next["update"]["status"]["state"], "TASK_RUNNING");
    assert_ne!(next["update"]["status"]["uuid"], st["uuid"]);
}
