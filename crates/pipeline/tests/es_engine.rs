//! The elasticsearch and opensearch outputs against a real OpenSearch 2.19 node (always,
//! whatever `LSM_SEARCH` says: these are the engine's own behaviours): a real mapping
//! conflict dead-lettered with the engine's reason, real `429
//! es_rejected_execution_exception`s retried to an exact count, composable and legacy
//! templates installed before the first document and applied, date-math index names,
//! a data stream written with `op_type: create`, and refresh.
//!
//! One node is shared by the tests of this binary (each uses its own index names); the
//! rejection test starts its own with a one-thread, one-slot write pool.

mod es_support;

use ::elasticsearch::http::Method;
use es_support::{with_ack, AckCounter, NodeOptions, Server};
use logstash_mesos_core::{Event, FieldRef, Timestamp, Value};
use logstash_mesos_pipeline::dlq::{self, DlqReader, Position};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::outputs::elasticsearch::{self, ElasticsearchOutput};
use logstash_mesos_pipeline::outputs::opensearch;
use logstash_mesos_pipeline::plugin::{BuildContext, Ecs, Output};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn ctx(dir: &std::path::Path) -> BuildContext {
    BuildContext {
        path_data: dir.to_path_buf(),
        ecs: Ecs::Disabled,
        ..BuildContext::default()
    }
}

fn es_args(url: &str) -> Args {
    Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    )
    .with("hosts", Value::Array(vec![Value::from(url)]))
    .with("retry_initial_interval", Value::Float(0.05))
    .with("retry_max_interval", Value::Float(0.5))
}

fn os_args(url: &str) -> Args {
    Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::opensearch::OPTIONS,
    )
    .with("hosts", Value::Array(vec![Value::from(url)]))
    .with("retry_initial_interval", Value::Float(0.05))
    .with("retry_max_interval", Value::Float(0.5))
}

fn event(i: usize) -> Event {
    let mut e = Event::from_message(format!("engine line {i}"));
    e.set(&FieldRef::top("n"), Value::Integer(i as i64))
        .expect("set n");
    e.set(
        &FieldRef::parse("[@metadata][_id]").expect("ref"),
        Value::from(format!("doc-{i}")),
    )
    .expect("set id");
    e
}

async fn send_all(out: &ElasticsearchOutput, events: Vec<Event>, batch: usize) {
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        out.send(it.by_ref().take(batch).collect()).await;
    }
}

fn dlq_entries(dir: &std::path::Path) -> Vec<Event> {
    let mut r = DlqReader::new(&dlq::queue_dir(dir, "main"), Position::default());
    let mut out = Vec::new();
    while let Some((entry, _)) = r.next_entry().expect("dlq entry") {
        out.push(entry.into_event());
    }
    out
}

fn meta(e: &Event, key: &str) -> String {
    e.get(&FieldRef::parse(&format!("[@metadata][dead_letter_queue][{key}]")).expect("ref"))
        .map(|v| v.to_logstash_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_mapping_conflict_is_dead_lettered_with_the_engines_reason() {
    let Some(server) = Server::opensearch() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Through the opensearch output: the dead letter entries carry its name.
    let a = os_args(&server.url)
        .with("index", Value::from("conflict"))
        .with("manage_template", Value::Bool(false));
    let out = opensearch::build_output(&a, &ctx(dir.path())).unwrap();
    let acks = Arc::new(AckCounter::default());
    let n = 500;
    let bad = |i: usize| i % 50 == 49;
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let mut e = event(i);
            if bad(i) {
                // `n` is a long from the first document on: the engine refuses the string.
                e.set(&FieldRef::top("n"), Value::from("forty-nine"))
                    .unwrap();
            }
            with_ack(e, &acks, i as u64)
        })
        .collect();
    send_all(&out, events, 125).await;
    out.close().await;
    let n_bad = (0..n).filter(|&i| bad(i)).count();
    assert_eq!(server.count("conflict").await, (n - n_bad) as u64);
    assert_eq!(acks.delivered.load(Ordering::Relaxed), n as u64);
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
    assert_eq!(
        out.stats.dead_lettered.load(Ordering::Relaxed),
        n_bad as u64
    );
    assert_eq!(out.stats.item_retries.load(Ordering::Relaxed), 0);
    let entries = dlq_entries(dir.path());
    assert_eq!(entries.len(), n_bad);
    for e in &entries {
        let reason = meta(e, "reason");
        // The engine's own words: the type and the field it could not parse.
        assert!(
            reason.contains("status 400")
                && reason.contains("mapper_parsing_exception")
                && reason.contains("[n]"),
            "{reason}"
        );
        assert_eq!(meta(e, "plugin_type"), "opensearch");
        assert_eq!(meta(e, "plugin_id"), "opensearch");
        assert_eq!(e.get(&FieldRef::top("n")), Some(&Value::from("forty-nine")));
    }
    // The engine agrees: the refused documents are not there, the others are.
    let (status, _) = server
        .send_json(Method::Get, "conflict/_doc/doc-49", None)
        .await;
    assert_eq!(status, 404);
    let (status, doc) = server
        .send_json(Method::Get, "conflict/_doc/doc-48", None)
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["_source"]["n"], 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_429_rejections_are_retried_to_an_exact_count() {
    // A write pool of one thread and one queue slot, and an index of six shards: every
    // bulk fans out into six shard requests, so the engine rejects most of them with
    // es_rejected_execution_exception (per item, status 429).
    let opts = NodeOptions::default()
        .setting("thread_pool.write.size", "1")
        .setting("thread_pool.write.queue_size", "1");
    let Some(server) = Server::opensearch_with(&opts) else {
        return;
    };
    let (status, body) = server
        .send_json(
            Method::Put,
            "rejections",
            Some(json!({"settings": {"number_of_shards": 6, "refresh_interval": "1s"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let a = es_args(&server.url)
        .with("index", Value::from("rejections"))
        .with("manage_template", Value::Bool(false))
        .with("retry_initial_interval", Value::Float(0.01))
        .with("retry_max_interval", Value::Float(0.1));
    let out = Arc::new(elasticsearch::build_output(&a, &ctx(dir.path())).unwrap());
    let acks = Arc::new(AckCounter::default());
    let n = 6000;
    let batches: Vec<Vec<Event>> = (0..n)
        .step_by(200)
        .map(|start| {
            (start..start + 200)
                .map(|i| with_ack(event(i), &acks, i as u64))
                .collect()
        })
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (q, o) = (queue.clone(), out.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let b = q.lock().unwrap().pop();
                match b {
                    Some(b) => o.send(b).await,
                    None => return,
                }
            }
        }));
    }
    for w in workers {
        tokio::time::timeout(Duration::from_secs(300), w)
            .await
            .expect("delivered despite rejections")
            .unwrap();
    }
    // The engine itself counted the rejections.
    let stats = server
        .get_json("_nodes/stats/thread_pool?filter_path=nodes.*.thread_pool.write")
        .await;
    let rejected = stats["nodes"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|n| n["thread_pool"]["write"]["rejected"].as_u64())
        .unwrap_or_else(|| panic!("no write pool stats in {stats}"));
    let retries = out.stats.item_retries.load(Ordering::Relaxed)
        + out.stats.request_failures.load(Ordering::Relaxed);
    eprintln!(
        "engine rejected {rejected} shard requests; output retried {retries} items/requests; {:?}",
        out.stats
    );
    assert!(rejected > 0, "the engine rejected nothing: {stats}");
    assert!(
        out.stats.item_retries.load(Ordering::Relaxed) > 0,
        "{:?}",
        out.stats
    );
    // Exactly once each: retried items carry their ids.
    assert_eq!(server.count("rejections").await, n as u64);
    assert_eq!(acks.delivered.load(Ordering::Relaxed), n as u64);
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
    assert_eq!(out.stats.dead_lettered.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composable_and_legacy_templates_are_installed_first_and_applied() {
    let Some(server) = Server::opensearch() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // A composable template from a file: its settings (no refresh) and mappings apply.
    let file = dir.path().join("tplc.json");
    std::fs::write(
        &file,
        json!({
            "index_patterns": ["tplc-*"],
            "priority": 300,
            "template": {
                "settings": {"index.refresh_interval": "-1", "number_of_shards": 2},
                "mappings": {"properties": {"n": {"type": "keyword"}}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let a = es_args(&server.url)
        .with("index", Value::from("tplc-%{+yyyy}"))
        .with("template", Value::from(file.display().to_string()))
        .with("template_name", Value::from("tplc"));
    let out = elasticsearch::build_output(&a, &ctx(dir.path())).unwrap();
    send_all(&out, (0..300).map(event).collect(), 100).await;
    let year = Timestamp::now().to_string()[..4].to_string();
    let idx = format!("tplc-{year}");
    let t = server.get_json("_index_template/tplc").await;
    assert_eq!(
        t["index_templates"][0]["index_template"]["index_patterns"],
        json!(["tplc-*"]),
        "{t}"
    );
    let m = server.get_json(&format!("{idx}/_mapping")).await;
    assert_eq!(
        m[&idx]["mappings"]["properties"]["n"]["type"], "keyword",
        "{m}"
    );
    let s = server.get_json(&format!("{idx}/_settings")).await;
    assert_eq!(s[&idx]["settings"]["index"]["number_of_shards"], "2", "{s}");
    // Refresh: with refresh_interval -1 nothing is searchable until a refresh ...
    assert_eq!(server.count_no_refresh(&idx).await, 0);
    // ... and everything is after one.
    assert_eq!(server.count(&idx).await, 300);

    // The opensearch output's default: Logstash's template through the legacy API.
    let a = os_args(&server.url)
        .with("index", Value::from("tpll-%{service}"))
        .with("template_name", Value::from("tpll"));
    let out = opensearch::build_output(&a, &ctx(dir.path())).unwrap();
    let events: Vec<Event> = (0..200)
        .map(|i| {
            let mut e = event(i);
            e.set(&FieldRef::top("service"), Value::from("web"))
                .unwrap();
            e
        })
        .collect();
    send_all(&out, events, 100).await;
    let (status, t) = server.send_json(Method::Get, "_template/tpll", None).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["tpll"]["index_patterns"], json!(["tpll-*"]), "{t}");
    assert_eq!(t["tpll"]["order"], 0, "{t}");
    let (status, _) = server
        .send_json(Method::Get, "_index_template/tpll", None)
        .await;
    assert_eq!(status, 404, "not installed as a composable template");
    let m = server.get_json("tpll-web/_mapping").await;
    let props = &m["tpll-web"]["mappings"]["properties"];
    // Logstash's dynamic templates: strings are text with a keyword sub-field.
    assert_eq!(props["service"]["type"], "text", "{m}");
    assert_eq!(
        props["service"]["fields"]["keyword"]["type"], "keyword",
        "{m}"
    );
    assert_eq!(props["@version"]["type"], "keyword", "{m}");
    let s = server.get_json("tpll-web/_settings").await;
    assert_eq!(
        s["tpll-web"]["settings"]["index"]["refresh_interval"], "5s",
        "{s}"
    );
    assert_eq!(server.count("tpll-web").await, 200);

    // An existing template is left alone unless template_overwrite.
    let (status, _) = server
        .send_json(
            Method::Put,
            "_template/tpll",
            Some(json!({"index_patterns": ["tpll-*"], "order": 7})),
        )
        .await;
    assert_eq!(status, 200);
    let out = opensearch::build_output(&a, &ctx(dir.path())).unwrap();
    send_all(&out, (0..10).map(event).collect(), 10).await;
    let t = server.get_json("_template/tpll").await;
    assert_eq!(t["tpll"]["order"], 7, "{t}");
    let a = a.with("template_overwrite", Value::Bool(true));
    let out = opensearch::build_output(&a, &ctx(dir.path())).unwrap();
    send_all(&out, (0..10).map(event).collect(), 10).await;
    let t = server.get_json("_template/tpll").await;
    assert_eq!(t["tpll"]["order"], 0, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_math_index_names_route_each_event_by_its_timestamp() {
    let Some(server) = Server::opensearch() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = es_args(&server.url)
        .with("index", Value::from("dm-%{+yyyy.MM.dd.HH}"))
        .with("manage_template", Value::Bool(false));
    let out = elasticsearch::build_output(&a, &ctx(dir.path())).unwrap();
    let stamps = [
        "2024-12-31T23:59:59.999Z",
        "2025-01-01T00:00:00Z",
        "2025-01-01T01:30:00Z",
    ];
    let events: Vec<Event> = (0..300)
        .map(|i| {
            let mut e = event(i);
            e.set_timestamp(Timestamp::parse_iso8601(stamps[i % 3]).unwrap());
            e
        })
        .collect();
    send_all(&out, events, 125).await;
    let _ = server.count("dm-*").await;
    let cat = server
        .get_json("_cat/indices/dm-*?format=json&h=index,docs.count&s=index")
        .await;
    assert_eq!(
        cat,
        json!([
            {"index": "dm-2024.12.31.23", "docs.count": "100"},
            {"index": "dm-2025.01.01.00", "docs.count": "100"},
            {"index": "dm-2025.01.01.01", "docs.count": "100"},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_stream_is_written_with_op_type_create() {
    let Some(server) = Server::opensearch() else {
        return;
    };
    // OpenSearch has no built-in logs-*-* template: the operator installs one.
    let (status, body) = server
        .send_json(
            Method::Put,
            "_index_template/lsm-ds",
            Some(json!({"index_patterns": ["logs-lsmds-*"], "data_stream": {}, "priority": 500})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let a = es_args(&server.url)
        .with("data_stream", Value::Bool(true))
        .with("data_stream_dataset", Value::from("lsmds"));
    let out = elasticsearch::build_output(&a, &ctx(dir.path())).unwrap();
    let acks = Arc::new(AckCounter::default());
    let events: Vec<Event> = (0..400)
        .map(|i| {
            let mut e = Event::from_message(format!("ds line {i}"));
            if i % 4 == 3 {
                // Auto-routing by the event's own data_stream fields.
                e.set(
                    &FieldRef::parse("[data_stream][namespace]").unwrap(),
                    Value::from("other"),
                )
                .unwrap();
            }
            with_ack(e, &acks, i as u64)
        })
        .collect();
    send_all(&out, events, 100).await;
    assert_eq!(acks.delivered.load(Ordering::Relaxed), 400);
    assert_eq!(out.stats.dead_lettered.load(Ordering::Relaxed), 0);
    let ds = server.get_json("_data_stream/logs-lsmds-*").await;
    let mut names: Vec<String> = ds["data_streams"]
        .as_array()
        .unwrap_or_else(|| panic!("{ds}"))
        .iter()
        .map(|d| d["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["logs-lsmds-default", "logs-lsmds-other"],
        "{ds}"
    );
    let backing = ds["data_streams"][0]["indices"][0]["index_name"]
        .as_str()
        .unwrap_or("");
    assert!(backing.starts_with(".ds-logs-lsmds-"), "{ds}");
    assert_eq!(server.count("logs-lsmds-default").await, 300);
    assert_eq!(server.count("logs-lsmds-other").await, 100);
    // Why `create`: the engine refuses any other op type on a data stream.
    let (status, body) = server
        .send_json(
            Method::Put,
            "logs-lsmds-default/_doc/by-hand",
            Some(json!({"@timestamp": "2025-01-01T00:00:00Z", "message": "index op"})),
        )
        .await;
    assert!(status >= 400, "{status} {body}");
    assert!(body.to_string().contains("op_type"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_output_from_a_config_file() {
    use logstash_mesos_pipeline::lang::compile::compile;
    use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
    use logstash_mesos_pipeline::registry::Registry;
    let Some(server) = Server::opensearch() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let context = ctx(dir.path());
    let text = format!(
        r#"output {{ opensearch {{
            hosts => ["{}"]
            index => "oscfg-%{{[service]}}"
            legacy_template => false
            template_name => "oscfg"
            ssl_certificate_verification => true
            pool_max => 50
            failure_type_logging_whitelist => ["version_conflict_engine_exception"]
        }} }}"#,
        server.url
    );
    let sources = Sources::from_string("os.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).unwrap();
    let compiled = match compile(&ast, &Registry::builtin(), &context) {
        Ok(c) => c,
        Err(d) => panic!("{}", sources.render_all(&d)),
    };
    let out = compiled.outputs[0].output.clone();
    let events: Vec<Event> = (0..250)
        .map(|i| {
            let mut e = event(i);
            e.set(&FieldRef::top("service"), Value::from("api"))
                .unwrap();
            e
        })
        .collect();
    out.send(events).await;
    assert_eq!(server.count("oscfg-api").await, 250);
    // legacy_template => false: a composable template.
    let t = server.get_json("_index_template/oscfg").await;
    assert_eq!(
        t["index_templates"][0]["index_template"]["index_patterns"],
        json!(["oscfg-*"]),
        "{t}"
    );

    // An unsupported upstream option is a config error at its position.
    let bad = "output { opensearch { hosts => [\"http://127.0.0.1:1\"]\n  script => \"ctx._source.n++\" } }";
    let sources = Sources::from_string("bad.conf", bad);
    let ast = parse(&sources, &ParseOptions::default()).unwrap();
    let msg = match compile(&ast, &Registry::builtin(), &context) {
        Ok(_) => panic!("script accepted"),
        Err(d) => sources.render_all(&d),
    };
    assert!(
        msg.contains("script") && msg.contains("not supported"),
        "{msg}"
    );
    assert!(msg.contains("bad.conf:2"), "{msg}");
}
