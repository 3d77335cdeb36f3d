//! The `/api/v1/scheduler` endpoint: HTTP rules, SUBSCRIBE, and every call.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use logstash_mesos_scheduler::proto::*;
use logstash_mesos_scheduler::recordio;
use tokio::sync::mpsc;

use super::{Filter, Framework, Launch, Server, Sim, SimTask};

/// `filters.refuse_seconds` as the master takes it: capped at one year, and a
/// negative or NaN value treated as the 5 s default.
fn refuse_for(secs: f64) -> Duration {
    if secs.is_finite() && secs >= 0.0 {
        Duration::from_secs_f64(secs.min(31_536_000.0))
    } else {
        Duration::from_secs(5)
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [("Content-Type", "text/plain")], body.to_string()).into_response()
}

pub(super) async fn scheduler_endpoint(
    State(srv): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = srv.sim.lock();
    if s.leader != srv.index {
        let leader = s.addrs[s.leader];
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [("Location", format!("//{leader}/api/v1/scheduler"))],
        )
            .into_response();
    }
    if let Some((user, pass)) = &s.credentials {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        if headers.get("Authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                [("WWW-Authenticate", "Basic realm=\"mesos\"")],
            )
                .into_response();
        }
    }
    match headers
        .get("Content-Type")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                "Expecting 'Content-Type' to be present",
            )
        }
        Some("application/json") => {}
        Some(_) => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expecting 'Content-Type' of application/json or application/x-protobuf",
            )
        }
    }
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Failed to parse body into JSON: {e}"),
            )
        }
    };
    let call: Call = match serde_json::from_value(json) {
        Ok(c) => c,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Failed to convert JSON into Call protobuf: {e}"),
            )
        }
    };
    s.calls.push(call.clone());
    let stream_header = headers
        .get("Mesos-Stream-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if call.kind == CallType::Subscribe {
        if stream_header.is_some() {
            return text(
                StatusCode::BAD_REQUEST,
                "Expecting 'Mesos-Stream-Id' to be absent for SUBSCRIBE",
            );
        }
        return subscribe(&mut s, call);
    }
    let Some(fid) = call.framework_id.clone() else {
        return text(
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
        );
    };
    let Some(stream_id) = stream_header else {
        return text(
            StatusCode::BAD_REQUEST,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    let Some(fw) = s.frameworks.get(&fid).filter(|f| !f.removed) else {
        return text(StatusCode::BAD_REQUEST, "Framework cannot be found");
    };
    if fw.stream.is_none() {
        return text(StatusCode::FORBIDDEN, "Framework is not subscribed");
    }
    if fw.stream_id.as_deref() != Some(stream_id.as_str()) {
        return text(StatusCode::BAD_REQUEST, &format!("The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {fid}"));
    }
    match handle_call(&mut s, &fid, call) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(msg) => text(
            StatusCode::BAD_REQUEST,
            &format!("Failed to validate scheduler::Call: {msg}"),
        ),
    }
}

fn subscribe(s: &mut Sim, call: Call) -> Response {
    let Some(sub) = call.subscribe else {
        return text(
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'subscribe' to be present",
        );
    };
    let mut info = sub.framework_info;
    if call.framework_id != info.id {
        return text(StatusCode::BAD_REQUEST, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'");
    }
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let fid = info
        .id
        .clone()
        .unwrap_or_else(|| Id::new(format!("fw-{}", s.next())));
    let stream_id = uuid::Uuid::new_v4().to_string();
    let removed = s.frameworks.get(&fid).is_some_and(|f| f.removed);
    if removed {
        let ev = serde_json::to_vec(&Event::error("Framework has been removed")).expect("ser");
        let _ = tx.send(Bytes::from(recordio::encode(&ev)));
        drop(tx);
    } else {
        if s.frameworks.contains_key(&fid) {
            s.emit(&fid, &Event::error("Framework failed over"));
        }
        info.id = Some(fid.clone());
        s.mute = false;
        let fw = s
            .frameworks
            .entry(fid.clone())
            .or_insert_with(|| Framework {
                info: info.clone(),
                stream: None,
                stream_id: None,
                suppressed: false,
                filters: HashMap::new(),
                offers: HashMap::new(),
                tasks: BTreeMap::new(),
                disconnected_at: None,
                removed: false,
            });
        fw.info = info;
        fw.stream = Some(tx);
        fw.stream_id = Some(stream_id.clone());
        fw.suppressed = sub
            .suppressed_roles
            .iter()
            .any(|r| fw.info.roles.contains(r));
        // Offers of the old subscription are dropped without RESCIND; the allocator
        // deactivated the framework, which clears its filters: offers come afresh.
        fw.offers.clear();
        fw.filters.clear();
        fw.disconnected_at = None;
        for t in fw.tasks.values_mut() {
            t.last_sent = None;
        }
        let hb = s.heartbeat.as_secs_f64();
        s.emit(&fid, &Event::subscribed(fid.clone(), hb));
        s.emit(&fid, &Event::heartbeat());
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn handle_call(s: &mut Sim, fid: &Id, call: Call) -> Result<(), String> {
    let now = Instant::now();
    match call.kind {
        CallType::Accept => {
            let acc = call.accept.ok_or("Expecting 'accept' to be present")?;
            let refuse = acc
                .filters
                .as_ref()
                .and_then(|f| f.refuse_seconds)
                .unwrap_or(5.0);
            let fw = s.frameworks.get_mut(fid).ok_or("unknown framework")?;
            let mut valid = !acc.offer_ids.is_empty();
            let mut agent = None;
            let (mut cpus, mut mem) = (0.0, 0.0);
            let mut ports = std::collections::BTreeSet::new();
            for o in &acc.offer_ids {
                match fw.offers.remove(o) {
                    Some(r) => {
                        if agent.as_ref().is_some_and(|a| *a != r.agent) {
                            valid = false;
                        }
                        cpus += r.cpus;
                        mem += r.mem;
                        ports.extend(r.ports);
                        agent = Some(r.agent);
                    }
                    None => valid = false,
                }
            }
            // Ports: each task's must be offered and not taken by an earlier task of
            // this ACCEPT (the master subtracts each launched task from what is left).
            let mut port_problem: HashMap<Id, String> = HashMap::new();
            for info in acc
                .operations
                .iter()
                .filter_map(|op| op.launch.as_ref())
                .flat_map(|l| &l.task_infos)
            {
                let want = super::task_ports(info);
                if want.iter().all(|p| ports.contains(p)) {
                    for p in &want {
                        ports.remove(p);
                    }
                } else {
                    let want: std::collections::BTreeSet<u64> = want.into_iter().collect();
                    port_problem.insert(
                        info.task_id.clone(),
                        format!(
                            "Task uses more resources ports:{} than available ports:{}",
                            ranges_text(&want),
                            ranges_text(&ports)
                        ),
                    );
                }
            }

            // What the operations use; the rest is refused for `refuse_seconds`.
            let (mut ucpus, mut umem) = (0.0, 0.0);
            for info in acc
                .operations
                .iter()
                .filter_map(|op| op.launch.as_ref())
                .flat_map(|l| &l.task_infos)
            {
                for r in &info.resources {
                    let v = r.scalar.as_ref().map_or(0.0, |x| x.value);
                    match r.name.as_str() {
                        "cpus" => ucpus += v,
                        "mem" => umem += v,
                        _ => {}
                    }
                }
            }
            let too_much = ucpus > cpus + 1e-9 || umem > mem + 1e-9;
            if let Some(a) = &agent {
                fw.filters.insert(
                    a.clone(),
                    Filter {
                        until: now + refuse_for(refuse),
                        cpus: (cpus - ucpus).max(0.0),
                        mem: (mem - umem).max(0.0),
                        ports: ports.clone(),
                    },
                );
            }
            let pa = fw.partition_aware();
            for op in acc.operations {
                for info in op.launch.map(|l| l.task_infos).unwrap_or_default() {
                    let mut st = s.status(&info, TaskState::Dropped, "SOURCE_MASTER");
                    if !valid || agent.as_ref() != Some(&info.agent_id) {
                        st.state = if pa {
                            TaskState::Dropped
                        } else {
                            TaskState::Lost
                        };
                        st.reason = Some("REASON_INVALID_OFFERS".into());
                        st.message = Some("Task launched with invalid offers".into());
                        s.emit(fid, &Event::update(st));
                        continue;
                    }
                    let problem = if info.resources.is_empty() {
                        Some("Task uses no resources".to_string())
                    } else if too_much {
                        Some(
                            "Total resources required by the tasks exceed the offered resources"
                                .to_string(),
                        )
                    } else if let Some(p) = port_problem.get(&info.task_id) {
                        Some(p.clone())
                    } else if info.command.is_none() && info.executor.is_none() {
                        Some("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".to_string())
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        st.state = TaskState::Error;
                        st.reason = Some("REASON_TASK_INVALID".into());
                        st.message = Some(p);
                        s.emit(fid, &Event::update(st));
                        continue;
                    }
                    let id = info.task_id.clone();
                    let starting = s.status(&info, TaskState::Starting, "SOURCE_EXECUTOR");
                    let running = s.status(&info, TaskState::Running, "SOURCE_EXECUTOR");
                    if let Some(launch) = &s.launcher {
                        launch(&info);
                    }
                    if let Some(launch) = &s.task_launcher {
                        if let Some(agent) = s.agents.get(&info.agent_id) {
                            launch(&Launch {
                                info: info.clone(),
                                framework_id: fid.clone(),
                                agent: agent.clone(),
                            });
                        }
                    }
                    if let Some(fw) = s.frameworks.get_mut(fid) {
                        fw.tasks.insert(
                            id.clone(),
                            SimTask {
                                info,
                                state: TaskState::Staging,
                                queue: vec![],
                                last_sent: None,
                                retry_delay: Duration::ZERO,
                            },
                        );
                    }
                    s.reliable(fid, &id, starting);
                    s.reliable(fid, &id, running);
                }
            }
        }
        CallType::Decline => {
            let d = call.decline.ok_or("Expecting 'decline' to be present")?;
            let refuse = d
                .filters
                .as_ref()
                .and_then(|f| f.refuse_seconds)
                .unwrap_or(5.0);
            let fw = s.frameworks.get_mut(fid).ok_or("unknown framework")?;
            for o in d.offer_ids {
                if let Some(r) = fw.offers.remove(&o) {
                    fw.filters.insert(
                        r.agent,
                        Filter {
                            until: now + refuse_for(refuse),
                            cpus: r.cpus,
                            mem: r.mem,
                            ports: r.ports,
                        },
                    );
                }
            }
        }
        CallType::Suppress => {
            if let Some(fw) = s.frameworks.get_mut(fid) {
                fw.suppressed = true;
            }
        }
        CallType::Revive => {
            if let Some(fw) = s.frameworks.get_mut(fid) {
                fw.suppressed = false;
                fw.filters.clear();
            }
        }
        CallType::Acknowledge => {
            let a = call
                .acknowledge
                .ok_or("Expecting 'acknowledge' to be present")?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.uuid.as_bytes())
                .map_err(|e| e.to_string())?;
            if raw.len() != 16 {
                return Err("Expecting 'uuid' to be 16 bytes".into());
            }
            let mut next = false;
            if let Some(t) = s
                .frameworks
                .get_mut(fid)
                .and_then(|f| f.tasks.get_mut(&a.task_id))
            {
                if t.queue.first().and_then(|h| h.uuid.as_deref()) == Some(a.uuid.as_str()) {
                    t.queue.remove(0);
                    t.last_sent = None;
                    next = true;
                }
            }
            if next {
                s.flush(fid);
            }
        }
        CallType::Kill => {
            let k = call.kill.ok_or("Expecting 'kill' to be present")?;
            let known = s
                .frameworks
                .get(fid)
                .and_then(|f| f.tasks.get(&k.task_id))
                .map(|t| (t.info.clone(), t.state.clone()));
            match known {
                Some((info, state)) if !state.is_terminal() => {
                    let killing = s.status(&info, TaskState::Killing, "SOURCE_EXECUTOR");
                    let killed = s.status(&info, TaskState::Killed, "SOURCE_EXECUTOR");
                    s.reliable(fid, &k.task_id, killing);
                    s.reliable(fid, &k.task_id, killed);
                    if let Some(kill) = &s.killer {
                        kill(&info);
                    }
                }
                Some(_) => {}
                None => reconcile(
                    s,
                    fid,
                    vec![ReconcileTask {
                        task_id: k.task_id,
                        agent_id: k.agent_id,
                    }],
                ),
            }
        }
        CallType::Reconcile => {
            let r = call
                .reconcile
                .ok_or("Expecting 'reconcile' to be present")?;
            reconcile(s, fid, r.tasks);
        }
        CallType::Teardown => s.teardown(fid),
        _ => {}
    }
    Ok(())
}

fn reconcile(s: &mut Sim, fid: &Id, tasks: Vec<ReconcileTask>) {
    let Some(fw) = s.frameworks.get(fid) else {
        return;
    };
    let pa = fw.partition_aware();
    let mut out = Vec::new();
    let pick: Vec<ReconcileTask> = if tasks.is_empty() {
        fw.tasks
            .values()
            .map(|t| ReconcileTask {
                task_id: t.info.task_id.clone(),
                agent_id: Some(t.info.agent_id.clone()),
            })
            .collect()
    } else {
        tasks
    };
    for rt in pick {
        let mut st = TaskStatus::new(rt.task_id.clone(), TaskState::TaskUnknown);
        st.source = Some("SOURCE_MASTER".into());
        st.reason = Some("REASON_RECONCILIATION".into());
        st.agent_id = rt.agent_id.clone();
        st.timestamp = Some(1_735_689_900.0);
        if let Some(t) = fw.tasks.get(&rt.task_id) {
            st.state = t.state.clone();
            st.agent_id = Some(t.info.agent_id.clone());
            st.message = Some("Reconciliation: Latest task state".into());
        } else {
            let agent = rt.agent_id.as_ref().and_then(|a| s.agents.get(a));
            let (state, msg) = match agent {
                Some(a) if a.reachable => (
                    TaskState::Gone,
                    "Reconciliation: Task is unknown to the agent",
                ),
                Some(_) => (
                    TaskState::Unreachable,
                    "Reconciliation: Task is unreachable",
                ),
                None => (TaskState::TaskUnknown, "Reconciliation: Task is unknown"),
            };
            st.state = if pa { state } else { TaskState::Lost };
            st.message = Some(msg.into());
        }
        out.push(st);
    }
    for st in out {
        s.emit(fid, &Event::update(st));
    }
}

/// `[a-b, c-c]` as Mesos prints ranges.
fn ranges_text(ports: &std::collections::BTreeSet<u64>) -> String {
    let parts: Vec<String> = super::to_ranges(ports)
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", parts.join(", "))
}
