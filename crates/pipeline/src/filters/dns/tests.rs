//! Against a DNS server the test starts on 127.0.0.1 (a UDP responder built with
//! hickory-proto); no test touches the network beyond loopback.

use super::*;
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::Record;
use logstash_mesos_core::Map;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A responder: `a.test` -> 10.0.0.1, `v6.test` -> AAAA only, `xn--bcher-kva.test`
/// (bücher) -> 10.0.0.3, PTR for 10.0.0.1 -> `a.test`; `slow.test` never answers;
/// anything else NXDOMAIN. Counts the queries it gets.
struct Server {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn start() -> Server {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = sock.local_addr().expect("addr");
    let queries = Arc::new(AtomicUsize::new(0));
    let q2 = queries.clone();
    // Ends with the test process; the read timeout keeps it from spinning.
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            q2.fetch_add(1, Ordering::SeqCst);
            let Some(q) = req.queries().first().cloned() else {
                continue;
            };
            let name = q.name().to_ascii().to_lowercase();
            if name == "slow.test." {
                continue;
            }
            let mut resp = Message::new();
            resp.set_id(req.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .add_query(q.clone());
            let rec = |data: RData| Record::from_rdata(q.name().clone(), 60, data);
            match (name.as_str(), q.query_type()) {
                ("a.test.", RecordType::A) => {
                    resp.add_answer(rec(RData::A(A::new(10, 0, 0, 1))));
                }
                ("a.test.", _) => {}
                ("v6.test.", RecordType::AAAA) => {
                    resp.add_answer(rec(RData::AAAA(AAAA::new(0xfd00, 0, 0, 0, 0, 0, 0, 6))));
                }
                ("v6.test.", _) => {}
                ("xn--bcher-kva.test.", RecordType::A) => {
                    resp.add_answer(rec(RData::A(A::new(10, 0, 0, 3))));
                }
                ("1.0.0.10.in-addr.arpa.", RecordType::PTR) => {
                    resp.add_answer(rec(RData::PTR(PTR(
                        Name::from_ascii("a.test.").expect("name")
                    ))));
                }
                ("3.0.0.10.in-addr.arpa.", RecordType::PTR) => {
                    resp.add_answer(rec(RData::PTR(PTR(Name::from_ascii(
                        "xn--bcher-kva.test.",
                    )
                    .expect("name")))));
                }
                _ => {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, from);
            }
        }
    });
    Server { addr, queries }
}

fn filter(server: &Server, extra: &[(&str, Value)]) -> Box<dyn Filter> {
    let mut ns = Map::new();
    ns.insert(
        "address",
        Value::Array(vec![Value::from(server.addr.to_string().as_str())]),
    );
    let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("nameserver", Value::from(ns))
        .with("timeout", Value::Float(0.2))
        .with("max_retries", Value::Integer(1));
    for (k, v) in extra {
        args = args.with(k, v.clone());
    }
    build(&args, &BuildContext::default()).expect("build")
}

fn run(f: &dyn Filter, fields: serde_json::Value) -> (Outcome, serde_json::Value) {
    let map: Map = serde_json::from_value(fields).expect("map");
    let mut e = Event::from_map(map);
    let o = f.apply(&mut e, &mut FilterContext::default());
    (o, serde_json::from_str(&e.to_json_string()).expect("json"))
}

fn arr(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| Value::from(*s)).collect())
}

#[test]
fn resolve_append_and_replace() {
    let s = start();
    let f = filter(&s, &[("resolve", arr(&["host"]))]);
    let (o, e) = run(&*f, json!({"host": "a.test"}));
    assert_eq!(o, Outcome::Success);
    assert_eq!(e["host"], json!(["a.test", "10.0.0.1"]));
    let f = filter(
        &s,
        &[
            ("resolve", arr(&["host"])),
            ("action", Value::from("replace")),
        ],
    );
    let (_, e) = run(&*f, json!({"host": "a.test"}));
    assert_eq!(e["host"], "10.0.0.1");
    let (_, e) = run(&*f, json!({"host": ["a.test"]}));
    assert_eq!(e["host"], json!(["10.0.0.1"]));
    // AAAA when there is no A record; IDN names go out as punycode.
    let (_, e) = run(&*f, json!({"host": "v6.test"}));
    assert_eq!(e["host"], "fd00::6");
    let (_, e) = run(&*f, json!({"host": "bücher.test"}));
    assert_eq!(e["host"], "10.0.0.3");
}

#[test]
fn reverse_and_idn() {
    let s = start();
    let f = filter(
        &s,
        &[
            ("reverse", arr(&["ip"])),
            ("action", Value::from("replace")),
        ],
    );
    let (o, e) = run(&*f, json!({"ip": "10.0.0.1"}));
    assert_eq!(o, Outcome::Success);
    assert_eq!(e["ip"], "a.test");
    let (_, e) = run(&*f, json!({"ip": "10.0.0.3"}));
    assert_eq!(e["ip"], "bücher.test");
    // Not an address: nothing is asked, nothing changes.
    let before = s.queries.load(Ordering::SeqCst);
    let (o, e) = run(&*f, json!({"ip": "not.an.ip"}));
    assert_eq!((o, &e["ip"]), (Outcome::Failure, &json!("not.an.ip")));
    assert_eq!(s.queries.load(Ordering::SeqCst), before);
}

#[test]
fn nxdomain_and_timeout() {
    let s = start();
    let f = filter(&s, &[("resolve", arr(&["host"])), ("add_tag", arr(&["x"]))]);
    let (o, e) = run(&*f, json!({"host": "missing.test"}));
    assert_eq!(o, Outcome::Failure);
    assert_eq!(e["host"], "missing.test");
    assert!(e.get("tags").is_none());
    let t0 = Instant::now();
    let (o, e) = run(&*f, json!({"host": "slow.test"}));
    assert_eq!(o, Outcome::Failure);
    assert_eq!(e["tags"], json!(["_dnstimeout"]));
    // 0.2 s per try, two tries (max_retries 1), A only: bounded.
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A server that is not there (nothing listens) counts as a timeout too.
    let dead = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let gone = Server {
        addr: dead_addr,
        queries: Arc::new(AtomicUsize::new(0)),
    };
    let f = filter(
        &gone,
        &[
            ("resolve", arr(&["host"])),
            ("tag_on_timeout", arr(&["t1"])),
        ],
    );
    let (_, e) = run(&*f, json!({"host": "a.test"}));
    assert_eq!(e["tags"], json!(["t1"]));
}

#[test]
fn caches_spare_queries() {
    let s = start();
    let f = filter(
        &s,
        &[
            ("resolve", arr(&["host"])),
            ("action", Value::from("replace")),
            ("hit_cache_size", Value::Integer(10)),
            ("failed_cache_size", Value::Integer(10)),
        ],
    );
    for _ in 0..5 {
        let (_, e) = run(&*f, json!({"host": "a.test"}));
        assert_eq!(e["host"], "10.0.0.1");
    }
    assert_eq!(s.queries.load(Ordering::SeqCst), 1);
    for _ in 0..5 {
        let (o, _) = run(&*f, json!({"host": "missing.test"}));
        assert_eq!(o, Outcome::Failure);
    }
    // NXDOMAIN for A stops the candidate; one query, then the failed cache.
    assert_eq!(s.queries.load(Ordering::SeqCst), 2);
}

#[test]
fn hostsfile_search_and_shapes() {
    let s = start();
    let dir = tempfile::tempdir().expect("dir");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "# comment\n192.0.2.7 box.local box\nbad line\n").expect("write");
    let mut ns = Map::new();
    ns.insert(
        "address",
        Value::Array(vec![Value::from(s.addr.to_string().as_str())]),
    );
    ns.insert("search", Value::Array(vec![Value::from("test")]));
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("nameserver", Value::from(ns))
        .with(
            "hostsfile",
            Value::Array(vec![Value::from(hosts.to_string_lossy().as_ref())]),
        )
        .with("resolve", arr(&["h"]))
        .with("action", Value::from("replace"))
        .with("timeout", Value::Float(0.2));
    let f = build(&args, &BuildContext::default()).expect("build");
    let (_, e) = run(&*f, json!({"h": "BOX"}));
    assert_eq!(e["h"], "192.0.2.7");
    // "a" has fewer dots than ndots (1): tried under the search domain.
    let (_, e) = run(&*f, json!({"h": "a"}));
    assert_eq!(e["h"], "10.0.0.1");
    for bad in [
        json!({"h": ["a.test", "b.test"]}),
        json!({"h": 5}),
        json!({"h": {"x": "a.test"}}),
    ] {
        let (o, e) = run(&*f, bad.clone());
        assert_eq!(o, Outcome::Failure);
        assert_eq!(e["h"], bad["h"]);
    }
    // A missing field is skipped and the filter still succeeds.
    let (o, _) = run(&*f, json!({}));
    assert_eq!(o, Outcome::Success);
}

#[test]
fn config_errors() {
    let ctx = BuildContext::default();
    let mut no_addr = Map::new();
    no_addr.insert("search", Value::Array(vec![]));
    let mut bad_key = Map::new();
    bad_key.insert("address", Value::from("127.0.0.1"));
    bad_key.insert("port", Value::Integer(53));
    let mut bad_ndots = Map::new();
    bad_ndots.insert("address", Value::from("127.0.0.1"));
    bad_ndots.insert("ndots", Value::Integer(0));
    for (k, v) in [
        ("nameserver", Value::from(no_addr)),
        ("nameserver", Value::from(bad_key)),
        ("nameserver", Value::from(bad_ndots)),
        ("nameserver", Value::from("not-an-ip")),
        ("nameserver", Value::Array(vec![])),
        ("timeout", Value::Integer(0)),
        ("max_retries", Value::Integer(-1)),
        ("action", Value::from("merge")),
        ("hostsfile", Value::from("/nonexistent/hosts")),
    ] {
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with(k, v.clone()),
            &ctx,
        )
        .err();
        assert_eq!(
            err.and_then(|e| e.option).as_deref(),
            Some(k),
            "{k} = {v:?}"
        );
    }
    let c = DnsConfig::from_resolv_conf(
        "nameserver 127.0.0.53\nsearch a.example b.example\noptions edns0 ndots:2\n",
    );
    assert_eq!(
        c.servers,
        vec!["127.0.0.53:53".parse::<SocketAddr>().expect("addr")]
    );
    assert_eq!(c.ndots, 2);
    assert_eq!(
        c.candidates("x.y"),
        vec!["x.y.a.example", "x.y.b.example", "x.y"]
    );
    assert_eq!(
        c.candidates("x.y.z"),
        vec!["x.y.z", "x.y.z.a.example", "x.y.z.b.example"]
    );
    assert_eq!(c.candidates("abs."), vec!["abs"]);
}
