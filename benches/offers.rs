//! Offer handling at 1,000 nodes: one OFFERS event with an offer from every node,
//! (a) when every node still needs its agent (1,000 LAUNCHes) and (b) in steady
//! state when every node has one (1,000 declines). Each iteration checks its answer.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logstash_mesos_scheduler::proto::{
    AllocationInfo, CallType, Event, Id, Offer, Range, Resource, TaskState, TaskStatus,
};
use logstash_mesos_scheduler::sched::{AgentSpec, LaunchMode, Scheduler, Settings};

const NODES: usize = 1_000;

fn settings() -> Settings {
    let agent = AgentSpec {
        cpus: 0.5,
        mem: 256.0,
        ports: 1,
        launch: LaunchMode::Docker {
            image: "logstash-mesos:bench".into(),
            force_pull: false,
        },
        scheduler_url: "http://scheduler:8080".into(),
        log_dirs: vec!["/var/lib/docker/containers".into()],
        kill_grace_secs: 30,
        env: vec![],
    };
    Settings::new("logging", agent, "bench")
}

/// Offers shaped like a real agent's: cpus, mem, disk, ports, all allocated to the role.
fn offers(round: usize) -> Vec<Offer> {
    (0..NODES)
        .map(|i| {
            let alloc = AllocationInfo {
                role: Some("logging".into()),
            };
            let mut res = vec![
                Resource::scalar("cpus", 8.0),
                Resource::scalar("mem", 30_000.0),
                Resource::scalar("disk", 100_000.0),
                Resource::ranges(
                    "ports",
                    vec![Range {
                        begin: 31_000,
                        end: 32_000,
                    }],
                ),
            ];
            for r in &mut res {
                r.role = Some("*".into());
                r.allocation_info = Some(alloc.clone());
            }
            Offer {
                id: Id::new(format!("offer-{round}-{i}")),
                framework_id: Id::new("fw"),
                agent_id: Id::new(format!("agent-{i:04}")),
                hostname: format!("node-{i:04}.example.com"),
                url: None,
                domain: None,
                resources: res,
                attributes: vec![],
                executor_ids: vec![],
                unavailability: None,
                allocation_info: Some(alloc),
            }
        })
        .collect()
}

fn subscribed() -> Scheduler {
    let mut s = Scheduler::new(settings(), Default::default());
    s.handle(Instant::now(), Event::subscribed(Id::new("fw"), 15.0));
    s
}

fn count(calls: &[logstash_mesos_scheduler::proto::Call], kind: CallType) -> usize {
    calls
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| match kind {
            CallType::Accept => c.accept.as_ref().map_or(0, |a| a.operations.len()),
            CallType::Decline => c.decline.as_ref().map_or(0, |d| d.offer_ids.len()),
            _ => 1,
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("offers_1000_nodes");
    g.throughput(Throughput::Elements(NODES as u64));

    g.bench_function("launch_all", |b| {
        b.iter_batched(
            || (subscribed(), Event::offers(offers(0))),
            |(mut s, ev)| {
                let calls = s.handle(Instant::now(), black_box(ev));
                assert_eq!(count(&calls, CallType::Accept), NODES);
                calls
            },
            BatchSize::SmallInput,
        );
    });

    // Steady state: every node runs its agent.
    let mut s = subscribed();
    let calls = s.handle(Instant::now(), Event::offers(offers(0)));
    for call in &calls {
        for op in call.accept.iter().flat_map(|a| &a.operations) {
            for t in op.launch.iter().flat_map(|l| &l.task_infos) {
                let mut st = TaskStatus::new(t.task_id.clone(), TaskState::Running);
                st.agent_id = Some(t.agent_id.clone());
                s.handle(Instant::now(), Event::update(st));
            }
        }
    }
    let mut round = 1;
    g.bench_function("decline_all", |b| {
        b.iter_batched(
            || {
                round += 1;
                Event::offers(offers(round))
            },
            |ev| {
                let calls = s.handle(Instant::now(), black_box(ev));
                assert_eq!(count(&calls, CallType::Decline), NODES);
                calls
            },
            BatchSize::SmallInput,
        );
    });

    // The wire side: decoding one OFFERS event of 1,000 offers from JSON.
    let json = serde_json::to_vec(&Event::offers(offers(0))).expect("serializes");
    g.throughput(Throughput::Elements(NODES as u64));
    g.bench_function("decode_offers_event", |b| {
        b.iter(|| {
            let ev: Event = serde_json::from_slice(black_box(&json)).expect("decodes");
            assert_eq!(ev.offers.map_or(0, |o| o.offers.len()), NODES);
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
