use std::time::{Duration, Instant};

use super::*;
use crate::proto::{CallType, Resource};

fn spec() -> AgentSpec {
    AgentSpec {
        cpus: 0.5,
        mem: 256.0,
        ports: 0,
        launch: LaunchMode::Docker {
            image: "img:1".into(),
            force_pull: false,
        },
        scheduler_url: "http://sched:8080".into(),
        log_dirs: vec![],
        kill_grace_secs: 30,
        env: vec![],
    }
}

fn settings() -> Settings {
    Settings::new("logging", spec(), "i0")
}

fn offer(id: &str, host: &str, cpus: f64, mem: f64) -> Offer {
    Offer {
        id: Id::new(id),
        framework_id: Id::new("fw"),
        agent_id: Id::new(format!("agent-{host}")),
        hostname: host.into(),
        url: None,
        domain: None,
        resources: vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)],
        attributes: vec![],
        executor_ids: vec![],
        unavailability: None,
        allocation_info: None,
    }
}

fn status(task: &Id, host: &str, state: TaskState, uuid: Option<&str>) -> Event {
    let mut s = TaskStatus::new(task.clone(), state);
    s.agent_id = Some(Id::new(format!("agent-{host}")));
    s.uuid = uuid.map(str::to_string);
    Event::update(s)
}

fn kinds(calls: &[Call]) -> Vec<CallType> {
    calls.iter().map(|c| c.kind.clone()).collect()
}

fn launched(calls: &[Call]) -> Vec<(String, Id)> {
    calls
        .iter()
        .filter_map(|c| c.accept.as_ref())
        .flat_map(|a| &a.operations)
        .flat_map(|o| o.launch.iter().flat_map(|l| &l.task_infos))
        .map(|t| (t.agent_id.value.clone(), t.task_id.clone()))
        .collect()
}

fn declined(calls: &[Call]) -> Vec<(String, f64)> {
    calls
        .iter()
        .filter_map(|c| c.decline.as_ref())
        .flat_map(|d| {
            d.offer_ids.iter().map(move |o| {
                (
                    o.value.clone(),
                    d.filters
                        .as_ref()
                        .and_then(|f| f.refuse_seconds)
                        .unwrap_or(-1.0),
                )
            })
        })
        .collect()
}

fn subscribed(now: Instant) -> Scheduler {
    let mut s = Scheduler::new(settings(), Persisted::default());
    let calls = s.handle(now, Event::subscribed(Id::new("fw"), 15.0));
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(s.framework_id(), Some(&Id::new("fw")));
    assert!(s.take_dirty());
    s
}

/// Launch one agent on each host and bring it to RUNNING; returns the task ids.
fn bring_up(s: &mut Scheduler, now: Instant, hosts: &[&str]) -> Vec<Id> {
    let offers = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| offer(&format!("o-{h}-{i}"), h, 1.0, 1024.0))
        .collect();
    let calls = s.handle(now, Event::offers(offers));
    let l = launched(&calls);
    assert_eq!(l.len(), hosts.len(), "{calls:?}");
    for (h, (_, tid)) in hosts.iter().zip(&l) {
        s.handle(now, status(tid, h, TaskState::Running, Some("dXVpZA==")));
    }
    l.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn one_launch_per_node_and_decline_the_rest() {
    let now = Instant::now();
    let mut s = subscribed(now);
    let calls = s.handle(
        now,
        Event::offers(vec![
            offer("o1", "a", 2.0, 2048.0),
            offer("o2", "a", 2.0, 2048.0),
            offer("o3", "b", 2.0, 2048.0),
        ]),
    );
    let l = launched(&calls);
    assert_eq!(
        l.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        vec!["agent-a", "agent-b"]
    );
    // The second offer from node a is declined with the long filter.
    assert_eq!(declined(&calls), vec![("o2".to_string(), 3600.0)]);
    // Every node now has its (staging) agent, yet no SUPPRESS: a suppressed framework
    // would not hear of new nodes.
    assert!(!calls
        .iter()
        .any(|c| matches!(c.kind, CallType::Suppress | CallType::Revive)));
    let accept = calls
        .iter()
        .find(|c| c.kind == CallType::Accept)
        .expect("accept");
    assert_eq!(accept.framework_id, Some(Id::new("fw")));
    let task = &accept.accept.as_ref().expect("accept").operations[0]
        .launch
        .as_ref()
        .expect("launch")
        .task_infos[0];
    assert_eq!(
        task.resources
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        vec!["cpus", "mem"]
    );
    let env = task
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .expect("env");
    assert_eq!(env.get(task::ENV_AGENT_ID), Some("agent-a"));
}

#[test]
fn small_offers_are_declined_and_nothing_is_sent_before_subscribed() {
    let now = Instant::now();
    let mut s = Scheduler::new(settings(), Persisted::default());
    assert!(s
        .handle(now, Event::offers(vec![offer("o1", "a", 2.0, 2048.0)]))
        .is_empty());
    let mut s = subscribed(now);
    let calls = s.handle(now, Event::offers(vec![offer("o1", "a", 0.1, 2048.0)]));
    assert!(launched(&calls).is_empty());
    assert_eq!(declined(&calls), vec![("o1".to_string(), 600.0)]);
    assert!(!calls.iter().any(|c| c.kind == CallType::Suppress));
    // A too-small node is not a reason to REVIVE while its filter holds.
    assert!(s.tick(now + Duration::from_secs(300)).is_empty());
    assert!(s.nodes()[0]
        .message
        .as_deref()
        .unwrap_or_default()
        .contains("cpus"));
}

#[test]
fn reliable_updates_are_acknowledged_and_others_not() {
    let now = Instant::now();
    let mut s = subscribed(now);
    let l = launched(&s.handle(now, Event::offers(vec![offer("o1", "a", 1.0, 1024.0)])));
    let calls = s.handle(
        now,
        status(
            &l[0].1,
            "a",
            TaskState::Running,
            Some("Twp8HjudTlqML20bngp/PA=="),
        ),
    );
    let ack = calls
        .iter()
        .find_map(|c| c.acknowledge.as_ref())
        .expect("ack");
    assert_eq!(ack.uuid, "Twp8HjudTlqML20bngp/PA==");
    assert_eq!(ack.agent_id, Id::new("agent-a"));
    let calls = s.handle(now, status(&l[0].1, "a", TaskState::Running, None));
    assert!(!calls.iter().any(|c| c.kind == CallType::Acknowledge));
}

#[test]
fn lost_agent_is_relaunched_with_exponential_backoff() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let ids = bring_up(&mut s, t0, &["a", "b"]);
    let calls = s.handle(
        t0,
        status(&ids[0], "a", TaskState::Failed, Some("dXVpZA==")),
    );
    // No REVIVE: it would clear node b's filter too; the freed resources bring node a back.
    assert_eq!(kinds(&calls), vec![CallType::Acknowledge]);
    // Within the 5 s backoff: declined for the remaining time.
    let calls = s.handle(
        t0 + Duration::from_secs(2),
        Event::offers(vec![offer("o2", "a", 1.0, 1024.0)]),
    );
    assert_eq!(declined(&calls), vec![("o2".to_string(), 3.0)]);
    // After it: relaunched.
    let t1 = t0 + Duration::from_secs(5);
    let l = launched(&s.handle(t1, Event::offers(vec![offer("o3", "a", 1.0, 1024.0)])));
    assert_eq!(l.len(), 1);
    assert_ne!(l[0].1, ids[0]);
    // Fails again before becoming stable: the backoff doubles to 10 s.
    s.handle(t1, status(&l[0].1, "a", TaskState::Lost, None));
    let calls = s.handle(
        t1 + Duration::from_secs(9),
        Event::offers(vec![offer("o4", "a", 1.0, 1024.0)]),
    );
    assert_eq!(declined(&calls), vec![("o4".to_string(), 1.0)]);
    assert_eq!(
        launched(&s.handle(
            t1 + Duration::from_secs(10),
            Event::offers(vec![offer("o5", "a", 1.0, 1024.0)])
        ))
        .len(),
        1
    );
    assert_eq!(s.nodes()[0].failures, 2);
}

#[test]
fn unreachable_keeps_the_node_and_a_returning_duplicate_is_killed() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let ids = bring_up(&mut s, t0, &["a"]);
    let calls = s.handle(t0, status(&ids[0], "a", TaskState::Unreachable, None));
    assert!(!calls.iter().any(|c| c.kind == CallType::Revive));
    // Same agent offering again while the task is unreachable: still declined.
    let calls = s.handle(t0, Event::offers(vec![offer("o2", "a", 1.0, 1024.0)]));
    assert!(launched(&calls).is_empty());
    // The agent came back under a new id: the old task will not return there.
    let mut o = offer("o3", "a", 1.0, 1024.0);
    o.agent_id = Id::new("agent-a-2");
    let l = launched(&s.handle(t0, Event::offers(vec![o])));
    assert_eq!(l.len(), 1);
    // Now the old one resurfaces as RUNNING: it is the duplicate and gets killed.
    let calls = s.handle(t0, status(&ids[0], "a", TaskState::Running, None));
    let kill = calls.iter().find_map(|c| c.kill.as_ref()).expect("kill");
    assert_eq!(kill.task_id, ids[0]);
    // Its TASK_KILLED does not count as a failure.
    s.handle(t0, status(&ids[0], "a", TaskState::Killed, None));
    assert_eq!(s.nodes()[0].failures, 0);
    assert_eq!(s.nodes()[0].task_id.as_deref(), Some(l[0].1.value.as_str()));
}

#[test]
fn resubscribe_reconciles_explicitly_with_backoff_then_implicitly() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let ids = bring_up(&mut s, t0, &["a", "b"]);
    // Restart: a new state machine from the persisted state.
    let mut s = Scheduler::new(settings(), s.persisted());
    assert!(s.tick(t0).is_empty(), "nothing before SUBSCRIBED");
    let calls = s.handle(t0, Event::subscribed(Id::new("fw"), 15.0));
    let rec = calls
        .iter()
        .find_map(|c| c.reconcile.as_ref())
        .expect("reconcile");
    let mut asked: Vec<_> = rec.tasks.iter().map(|t| t.task_id.clone()).collect();
    asked.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(asked, want);
    assert!(rec.tasks.iter().all(|t| t.agent_id.is_some()));
    // Only one answer arrives: retried after 5 s for the other, then 10 s later.
    s.handle(t0, status(&ids[0], "a", TaskState::Running, None));
    assert!(s
        .tick(t0 + Duration::from_secs(4))
        .iter()
        .all(|c| c.kind != CallType::Reconcile));
    let calls = s.tick(t0 + Duration::from_secs(5));
    let rec = calls
        .iter()
        .find_map(|c| c.reconcile.as_ref())
        .expect("retry");
    assert_eq!(rec.tasks.len(), 1);
    assert_eq!(rec.tasks[0].task_id, ids[1]);
    assert!(s
        .tick(t0 + Duration::from_secs(14))
        .iter()
        .all(|c| c.kind != CallType::Reconcile));
    assert!(s
        .tick(t0 + Duration::from_secs(15))
        .iter()
        .any(|c| c.kind == CallType::Reconcile));
    s.handle(t0, status(&ids[1], "b", TaskState::Running, None));
    // No launches for nodes whose agents survived the restart.
    let calls = s.handle(t0, Event::offers(vec![offer("o9", "a", 1.0, 1024.0)]));
    assert!(launched(&calls).is_empty());
    // Implicit reconciliation every 15 min.
    let calls = s.tick(t0 + Duration::from_secs(900));
    let rec = calls
        .iter()
        .find_map(|c| c.reconcile.as_ref())
        .expect("implicit");
    assert!(rec.tasks.is_empty());
}

#[test]
fn reconciliation_answer_gone_frees_the_node() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let ids = bring_up(&mut s, t0, &["a"]);
    let mut s = Scheduler::new(settings(), s.persisted());
    s.handle(t0, Event::subscribed(Id::new("fw"), 15.0));
    s.handle(t0, status(&ids[0], "a", TaskState::Gone, None));
    assert!(s.nodes()[0].task_id.is_none());
    assert_eq!(s.nodes()[0].state.as_deref(), Some("TASK_GONE"));
}

#[test]
fn unknown_tasks_of_ours_are_killed() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let calls = s.handle(
        t0,
        status(
            &Id::new("logstash-agent.x.old-1"),
            "x",
            TaskState::Running,
            None,
        ),
    );
    assert_eq!(kinds(&calls), vec![CallType::Kill]);
    let calls = s.handle(
        t0,
        status(&Id::new("someone-else"), "x", TaskState::Running, None),
    );
    assert!(calls.is_empty());
}

#[test]
fn served_nodes_make_no_calls_and_a_new_node_is_launched_from_its_first_offer() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    bring_up(&mut s, t0, &["a", "b", "c"]);
    // Idle: no timer-driven offer calls at all (no SUPPRESS/REVIVE cycle), only the
    // periodic implicit reconciliation.
    for m in 1..=120 {
        let calls = s.tick(t0 + Duration::from_secs(30 * m));
        assert!(
            calls.iter().all(|c| c.kind == CallType::Reconcile),
            "{calls:?}"
        );
    }
    assert_eq!(s.revives(), 0);
    let t1 = t0 + Duration::from_secs(3601);
    let calls = s.handle(
        t1,
        Event::offers(vec![
            offer("o1", "a", 1.0, 1024.0),
            offer("o2", "d", 1.0, 1024.0),
        ]),
    );
    assert_eq!(launched(&calls).len(), 1);
    assert_eq!(launched(&calls)[0].0, "agent-d");
    assert_eq!(declined(&calls), vec![("o1".to_string(), 3600.0)]);
    assert!(!calls.iter().any(|c| c.kind == CallType::Suppress));
}

#[test]
fn a_node_not_offered_in_time_triggers_one_revive_with_growing_waits() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let ids = bring_up(&mut s, t0, &["a", "b"]);
    s.handle(t0, status(&ids[0], "a", TaskState::Failed, None));
    // Backoff 5 s + revive_after 15 s: nothing before 20 s.
    assert!(s.tick(t0 + Duration::from_secs(19)).is_empty());
    assert_eq!(
        kinds(&s.tick(t0 + Duration::from_secs(20))),
        vec![CallType::Revive]
    );
    // Still not offered: the next REVIVE for it waits 30 s, then 60 s.
    assert!(s.tick(t0 + Duration::from_secs(49)).is_empty());
    assert_eq!(
        kinds(&s.tick(t0 + Duration::from_secs(50))),
        vec![CallType::Revive]
    );
    assert!(s.tick(t0 + Duration::from_secs(109)).is_empty());
    assert_eq!(
        kinds(&s.tick(t0 + Duration::from_secs(110))),
        vec![CallType::Revive]
    );
    assert_eq!(s.revives(), 3);
    // An offer resets it: the agent is launched and nothing is revived any more.
    let l = launched(&s.handle(
        t0 + Duration::from_secs(111),
        Event::offers(vec![offer("o9", "a", 1.0, 1024.0)]),
    ));
    assert_eq!(l.len(), 1);
    let calls = s.tick(t0 + Duration::from_secs(4000));
    assert!(
        calls.iter().all(|c| c.kind == CallType::Reconcile),
        "{calls:?}"
    );
}

#[test]
fn changed_settings_roll_one_node_at_a_time() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    let old = bring_up(&mut s, t0, &["a", "b"]);
    let mut new_settings = settings();
    new_settings.agent.launch = LaunchMode::Docker {
        image: "img:2".into(),
        force_pull: false,
    };
    let mut s = Scheduler::new(new_settings, s.persisted());
    s.handle(t0, Event::subscribed(Id::new("fw"), 15.0));
    for (id, h) in old.iter().zip(["a", "b"]) {
        s.handle(t0, status(id, h, TaskState::Running, None));
    }
    let calls = s.tick(t0);
    let kills: Vec<_> = calls
        .iter()
        .filter_map(|c| c.kill.as_ref())
        .map(|k| k.task_id.clone())
        .collect();
    assert_eq!(kills, vec![old[0].clone()]);
    // Nothing else is killed while node a is being replaced.
    assert!(s.tick(t0).iter().all(|c| c.kind != CallType::Kill));
    let calls = s.handle(t0, status(&old[0], "a", TaskState::Killed, None));
    assert!(calls.iter().all(|c| c.kind != CallType::Kill));
    // Relaunched at once (no failure backoff) with the new image.
    let calls = s.handle(t0, Event::offers(vec![offer("o1", "a", 1.0, 1024.0)]));
    let accept = calls
        .iter()
        .find_map(|c| c.accept.as_ref())
        .expect("relaunch");
    let task = &accept.operations[0]
        .launch
        .as_ref()
        .expect("launch")
        .task_infos[0];
    assert_eq!(
        task.container
            .as_ref()
            .and_then(|c| c.docker.as_ref())
            .map(|d| d.image.as_str()),
        Some("img:2")
    );
    let new_a = task.task_id.clone();
    assert!(
        s.tick(t0).iter().all(|c| c.kind != CallType::Kill),
        "waits for the new agent to run"
    );
    let calls = s.handle(t0, status(&new_a, "a", TaskState::Running, None));
    let kills: Vec<_> = calls
        .iter()
        .filter_map(|c| c.kill.as_ref())
        .map(|k| k.task_id.clone())
        .collect();
    assert_eq!(kills, vec![old[1].clone()]);
}

#[test]
fn framework_removed_forgets_everything() {
    let t0 = Instant::now();
    let mut s = subscribed(t0);
    bring_up(&mut s, t0, &["a"]);
    s.handle(t0, Event::error("Framework has been removed"));
    assert!(!s.is_subscribed());
    s.forget_framework();
    assert_eq!(s.persisted().framework_id, None);
    assert!(s.persisted().tasks.is_empty());
}

fn syslog_plan() -> PortPlan {
    use ports::{InputPort, PortRequest, Protocol};
    PortPlan {
        inputs: vec![
            InputPort {
                name: "syslog".into(),
                plugin: "syslog".into(),
                pipeline: "main".into(),
                config: "c".into(),
                protocols: vec![Protocol::Tcp, Protocol::Udp],
                request: PortRequest::Fixed(514),
                host: None,
            },
            InputPort {
                name: "app".into(),
                plugin: "tcp".into(),
                pipeline: "main".into(),
                config: "c".into(),
                protocols: vec![Protocol::Tcp],
                request: PortRequest::Dynamic("LSM_PORT_APP".into()),
                host: None,
            },
        ],
        problems: vec![],
    }
}

fn with_ports(mut o: Offer, ranges: &[(u64, u64)]) -> Offer {
    o.resources.push(Resource::ranges(
        "ports",
        ranges
            .iter()
            .map(|(b, e)| crate::proto::Range { begin: *b, end: *e })
            .collect(),
    ));
    o
}

/// An empty plan keeps the spec's fingerprint (agents from before port plans stay); a
/// plan with ports changes it, so running agents are replaced one node at a time, and
/// the replacement waits for an offer with the fixed port.
#[test]
fn a_port_plan_rolls_agents_onto_offers_with_the_ports() {
    let now = Instant::now();
    let mut s = subscribed(now);
    let before = s.fingerprint.clone();
    s.set_port_plan(1, PortPlan::default());
    assert_eq!(s.fingerprint, before);
    // Node a offered 514, node b never did.
    let calls = s.handle(
        now,
        Event::offers(vec![
            with_ports(
                offer("o-a", "a", 1.0, 1024.0),
                &[(514, 514), (31000, 31010)],
            ),
            with_ports(offer("o-b", "b", 1.0, 1024.0), &[(31000, 31010)]),
        ]),
    );
    let ids: Vec<Id> = launched(&calls).into_iter().map(|(_, t)| t).collect();
    assert_eq!(ids.len(), 2);
    s.handle(
        now,
        status(&ids[0], "a", TaskState::Running, Some("dXVpZA==")),
    );
    s.handle(
        now,
        status(&ids[1], "b", TaskState::Running, Some("dXVpZA==")),
    );
    s.set_port_plan(2, syslog_plan());
    assert_ne!(s.fingerprint, before);
    assert_eq!(s.plan_version(), Some(2));
    let calls = s.tick(now);
    assert_eq!(kinds(&calls), vec![CallType::Kill], "one node at a time");
    let killed = calls[0].kill.as_ref().expect("kill").task_id.clone();
    assert_eq!(
        killed, ids[0],
        "b lacks 514: killing its agent would leave it with none"
    );
    let host = "a";
    let b = s
        .endpoints()
        .into_iter()
        .find(|e| e.hostname == "b")
        .expect("b");
    assert!(b.running);
    assert_eq!(
        b.pending.as_deref(),
        Some("keeps its previous agent: the inputs' port(s) 514 are not among the ports this node offered")
    );
    s.handle(now, status(&killed, host, TaskState::Killed, None));
    // An offer without 514: declined, and the node says why.
    let calls = s.handle(
        now,
        Event::offers(vec![with_ports(
            offer("o-no514", host, 1.0, 1024.0),
            &[(31000, 31010)],
        )]),
    );
    assert!(launched(&calls).is_empty());
    assert_eq!(declined(&calls), vec![("o-no514".into(), 600.0)]);
    let msg = s
        .nodes()
        .into_iter()
        .find(|n| n.hostname == host)
        .and_then(|n| n.message)
        .expect("message");
    assert!(
        msg.contains("port(s) 514 not offered") && msg.contains("syslog 514 (main/c)"),
        "{msg}"
    );
    // One with it: launched with 514 and a dynamic port, env and discovery.
    let calls = s.handle(
        now,
        Event::offers(vec![with_ports(
            offer("o-514", host, 1.0, 1024.0),
            &[(514, 514), (31000, 31010)],
        )]),
    );
    let info = calls
        .iter()
        .filter_map(|c| c.accept.as_ref())
        .flat_map(|a| &a.operations)
        .flat_map(|o| o.launch.iter().flat_map(|l| &l.task_infos))
        .next()
        .cloned()
        .expect("launch");
    let ports: Vec<_> = info
        .resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.clone().unwrap_or_default().range)
        .map(|r| (r.begin, r.end))
        .collect();
    assert_eq!(ports, vec![(514, 514), (31000, 31000)]);
    let env = info.command.and_then(|c| c.environment).expect("env");
    assert_eq!(env.get("LSM_PORT_APP"), Some("31000"));
    let d = info.discovery.expect("discovery");
    let named: Vec<(u32, String, String)> = d
        .ports
        .expect("ports")
        .ports
        .into_iter()
        .map(|p| {
            (
                p.number,
                p.name.unwrap_or_default(),
                p.protocol.unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (514, "syslog".into(), "tcp".into()),
            (514, "syslog".into(), "udp".into()),
            (31000, "app".into(), "tcp".into()),
        ]
    );
    // Not yet running: not an endpoint.
    assert!(s
        .endpoints()
        .iter()
        .all(|e| e.hostname != host || !e.running));
}

/// A task recorded before port records (no `endpoint`) may hold any port (its status
/// port was the offer's first): its node is not judged from offers, it is replaced.
#[test]
fn agents_from_before_port_records_are_replaced() {
    let now = Instant::now();
    let task = TaskRecord {
        task_id: Id::new("logstash-agent.a.old-1"),
        agent_id: Id::new("agent-a"),
        hostname: "a".into(),
        state: TaskState::Running,
        fingerprint: spec().fingerprint(),
        message: None,
        kill_requested: false,
        running_since: None,
        endpoint: None,
    };
    let persisted = Persisted {
        framework_id: Some(Id::new("fw")),
        tasks: vec![task.clone()],
        seq: 1,
    };
    let mut s = Scheduler::new(settings(), persisted);
    s.handle(now, Event::subscribed(Id::new("fw"), 15.0));
    s.handle(now, status(&task.task_id, "a", TaskState::Running, None));
    s.tick(now);
    let calls = s.handle(
        now,
        Event::offers(vec![with_ports(
            offer("o1", "a", 1.0, 1024.0),
            &[(31000, 31010)],
        )]),
    );
    assert_eq!(kinds(&calls), vec![CallType::Decline]);
    s.set_port_plan(1, syslog_plan());
    let calls = s.tick(now);
    assert_eq!(kinds(&calls), vec![CallType::Kill], "{calls:?}");
}

/// The node's address and fault domain come from the offer, in the shape of the shared
/// `offers-resource-shapes.json` (`url.address.ip`, `domain.fault_domain.{zone,region}`).
#[test]
fn location_comes_from_the_offer() {
    let path = crate::testutil::api_dir().join("examples/offers-resource-shapes.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json");
    let e: Event = serde_json::from_value(v["body"].clone()).expect("event");
    let mut o = e.offers.expect("offers").offers.remove(0);
    assert_eq!(
        location(&o),
        (
            Some("10.0.1.5".to_string()),
            Some("us-east-1a".to_string()),
            Some("us-east-1".to_string())
        )
    );
    o.url = None;
    o.domain = None;
    assert_eq!(location(&o), (None, None, None));
}
