//! Tests against real GeoLite2 files (`scripts/setup/geoip.sh` installs them and writes
//! their paths to `$LSM_ENV_DIR/geoip.env`). Without them the tests that need a database
//! say so and return, except with `CI=true`, where they fail.

use super::*;
use serde_json::json;

/// The database path from `GEOIP_<KIND>_DB`, or from the setup script's env file.
pub(crate) fn db(kind: &str) -> Option<String> {
    let var = format!("GEOIP_{kind}_DB");
    if let Ok(p) = std::env::var(&var) {
        return Some(p);
    }
    let dir = std::env::var("LSM_ENV_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.cache/logstash-mesos/env",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let text = std::fs::read_to_string(format!("{dir}/geoip.env")).ok();
    let found = text.as_deref().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")).map(str::to_string))
    });
    match found {
        Some(p) if Path::new(&p).exists() => Some(p),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} not set and no geoip.env: run scripts/setup/geoip.sh")
        }
        _ => {
            eprintln!("skipped: {var} not set; run scripts/setup/geoip.sh");
            None
        }
    }
}

fn filter(db: &str, extra: &[(&str, Value)], ecs: &str) -> Box<dyn Filter> {
    let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ip"))
        .with("database", Value::from(db))
        .with("ecs_compatibility", Value::from(ecs));
    for (k, v) in extra {
        args = args.with(k, v.clone());
    }
    if ecs != "disabled" && !extra.iter().any(|(k, _)| *k == "target") {
        args = args.with("target", Value::from("source"));
    }
    build(&args, &BuildContext::default()).expect("build")
}

fn run(f: &dyn Filter, fields: serde_json::Value) -> (Outcome, serde_json::Value) {
    let map: Map = serde_json::from_value(fields).expect("map");
    let mut e = Event::from_map(map);
    let o = f.apply(&mut e, &mut FilterContext::default());
    (o, serde_json::from_str(&e.to_json_string()).expect("json"))
}

#[test]
fn java_address_forms() {
    assert_eq!(
        java_host_address("2607:f0d0:1002:51::4".parse().expect("v6")),
        "2607:f0d0:1002:51:0:0:0:4"
    );
    assert_eq!(
        java_host_address("::".parse().expect("v6")),
        "0:0:0:0:0:0:0:0"
    );
    assert_eq!(parse_ip("::ffff:8.8.8.8"), "8.8.8.8".parse().ok());
    assert_eq!(parse_ip("[::1]"), "::1".parse().ok());
    assert_eq!(parse_ip("fe80::1%eth0"), "fe80::1".parse().ok());
    for bad in [
        "",
        "-",
        "N/A",
        "1.2.3.4,5.6.7.8",
        "999.1.1.1",
        "example.com",
    ] {
        assert_eq!(parse_ip(bad), None, "{bad}");
    }
    assert_eq!(
        parse_field("AUTONOMOUS_SYSTEM_NUMBER"),
        Some(Field::AutonomousSystemNumber)
    );
    assert_eq!(parse_field("City_Name"), Some(Field::CityName));
    assert_eq!(parse_field("nope"), None);
}

#[test]
fn config_errors_name_the_option() {
    let ctx = BuildContext::default();
    let no_db = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("ip"))
            .with("target", Value::from("geo")),
        &ctx,
    )
    .err()
    .expect("no database");
    assert_eq!(no_db.option.as_deref(), Some("database"));
    assert!(
        no_db.message.contains("GeoLite2-City.mmdb"),
        "{}",
        no_db.message
    );
    let missing = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("ip"))
            .with("target", Value::from("geo"))
            .with("database", Value::from("/nonexistent/x.mmdb")),
        &ctx,
    )
    .err()
    .expect("missing file");
    assert_eq!(missing.option.as_deref(), Some("database"));
    // A file that is not a MaxMind DB.
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"not a database at all").expect("write");
    let bad = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("ip"))
            .with("target", Value::from("geo"))
            .with("database", Value::from(junk.to_string_lossy().as_ref())),
        &ctx,
    )
    .err()
    .expect("junk file");
    assert_eq!(bad.option.as_deref(), Some("database"));
    // ECS mode without a target and a source that is not [..][ip].
    let no_target = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("message"))
            .with("database", Value::from("/x.mmdb")),
        &ctx,
    )
    .err()
    .expect("no target");
    assert_eq!(no_target.option.as_deref(), Some("target"));
}

#[test]
fn city_legacy_and_ecs() {
    let Some(city) = db("CITY") else { return };
    let f = filter(&city, &[], "disabled");
    let (o, e) = run(&*f, json!({"ip": "8.8.8.8"}));
    assert_eq!(o, Outcome::Success);
    let g = &e["geoip"];
    assert_eq!(g["ip"], "8.8.8.8");
    assert_eq!(g["country_code2"], "US");
    assert_eq!(g["country_code3"], "US");
    assert_eq!(g["continent_code"], "NA");
    assert!(g["location"]["lat"].is_f64() && g["latitude"].is_f64());
    assert!(g.get("region_iso_code").is_none());

    let f = filter(&city, &[], "v8");
    let (_, e) = run(&*f, json!({"ip": "2607:f0d0:1002:51::4"}));
    let s = &e["source"];
    assert_eq!(s["ip"], "2607:f0d0:1002:51:0:0:0:4");
    assert_eq!(s["geo"]["continent_code"], "NA");
    assert!(s["geo"].get("country_code3").is_none());
    assert!(s["geo"]["location"]["lon"].is_f64());
}

#[test]
fn failures_are_tagged_never_fatal() {
    let Some(city) = db("CITY") else { return };
    let f = filter(&city, &[("target", Value::from("server"))], "v8");
    for (input, target) in [
        (json!({"ip": "127.0.0.1"}), Some(json!({}))),
        (json!({"ip": "10.1.2.3"}), Some(json!({}))),
        (json!({"ip": "::1"}), Some(json!({}))),
        (json!({"ip": "N/A"}), Some(json!({}))),
        (json!({"ip": "not.a.host.example"}), Some(json!({}))),
        (json!({"ip": ""}), None),
        (json!({"ip": "   "}), None),
        (json!({"ip": 42}), None),
        (json!({"ip": {"a": 1}}), None),
        (json!({"ip": []}), None),
        (json!({}), None),
    ] {
        let (o, e) = run(&*f, input.clone());
        assert_eq!(o, Outcome::Failure, "{input}");
        assert_eq!(e["tags"], json!(["_geoip_lookup_failure"]), "{input}");
        assert_eq!(e.get("server"), target.as_ref(), "{input}");
    }
    // An array: its first element.
    let (o, e) = run(&*f, json!({"ip": ["8.8.8.8", "junk"]}));
    assert_eq!(o, Outcome::Success);
    assert_eq!(e["server"]["geo"]["country_iso_code"], "US");
    // Existing target fields are kept, the new ones merged in.
    let (_, e) = run(
        &*f,
        json!({"ip": "8.8.8.8", "server": {"port": 80, "geo": {"x": 1}}}),
    );
    assert_eq!(e["server"]["port"], 80);
    assert_eq!(e["server"]["geo"]["x"], 1);
    assert_eq!(e["server"]["geo"]["country_iso_code"], "US");
    // Custom tags.
    let f = filter(
        &city,
        &[
            ("target", Value::from("server")),
            ("tag_on_failure", Value::Array(vec![Value::from("nogeo")])),
        ],
        "v8",
    );
    let (_, e) = run(&*f, json!({"ip": "0.0.0.0"}));
    assert_eq!(e["tags"], json!(["nogeo"]));
}

#[test]
fn asn_fields_and_cache() {
    let Some(asn) = db("ASN") else { return };
    let f = filter(&asn, &[("cache_size", Value::Integer(2))], "disabled");
    // Three addresses through a cache of two: evictions must not change any answer.
    let mut first = Vec::new();
    for round in 0..3 {
        for (i, ip) in ["8.8.8.8", "10.0.0.1", "8.8.4.4"].iter().enumerate() {
            let (o, mut e) = run(&*f, json!({ "ip": ip }));
            // @timestamp differs per event; the rest must not.
            e.as_object_mut().map(|m| m.remove("@timestamp"));
            if round == 0 {
                first.push((o, e));
            } else {
                assert_eq!((o, &e), (first[i].0, &first[i].1), "{ip}");
            }
        }
    }
    assert_eq!(first[0].0, Outcome::Success);
    assert_eq!(first[1].0, Outcome::Failure);
    assert!(first[2].1["geoip"]["asn"].is_i64());
    let (_, e) = run(&*f, json!({"ip": "8.8.8.8"}));
    assert_eq!(e["geoip"]["asn"], 15169);
    assert_eq!(e["geoip"]["as_org"], "Google LLC");
    let f = filter(
        &asn,
        &[
            (
                "fields",
                Value::Array(vec![Value::from("network"), Value::from("asn")]),
            ),
            ("cache_size", Value::Integer(0)),
        ],
        "v8",
    );
    let (_, e) = run(&*f, json!({"ip": "8.8.8.8"}));
    assert_eq!(e["source"]["as"]["number"], 15169);
    assert!(e["source"]["ip_traits"]["network"]
        .as_str()
        .is_some_and(|n| n.starts_with("8.8.") && n.contains('/')));
    assert!(e["source"].get("ip").is_none());
}

#[test]
fn shared_reader_and_bad_fields() {
    let Some(city) = db("CITY") else { return };
    let a = open_shared(Path::new(&city)).expect("open");
    let b = open_shared(Path::new(&city)).expect("open");
    assert!(Arc::ptr_eq(&a, &b));
    let err = build(
        &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("ip"))
            .with("target", Value::from("geo"))
            .with("database", Value::from(city.as_str()))
            .with("fields", Value::Array(vec![Value::from("bogus")])),
        &BuildContext::default(),
    )
    .err()
    .expect("bad field");
    assert_eq!(err.option.as_deref(), Some("fields"));
}

/// The field-by-field way (each field's path set on its own, creating objects as
/// needed), as Logstash does it: the reference for [`Layout`].
fn reference_lookup(f: &GeoIp, ip: IpAddr) -> Option<Map> {
    let found = f.reader.lookup(ip).ok()?;
    let rec: Record = found.decode().ok()??;
    if f.kind == DbKind::City && rec.location.latitude.is_none() && rec.location.longitude.is_none()
    {
        return None;
    }
    reference_map(f, &rec, ip, &found)
}

fn reference_map(f: &GeoIp, rec: &Record, ip: IpAddr, found: &Found) -> Option<Map> {
    fn put(out: &mut Map, path: &[&str], v: Value) {
        match path {
            [] => {}
            [last] => {
                out.insert(*last, v);
            }
            [first, rest @ ..] => {
                if !matches!(out.get(first), Some(Value::Object(_))) {
                    out.insert(*first, Value::from(Map::new()));
                }
                if let Some(Value::Object(m)) = out.get_mut(first) {
                    put(m, rest, v);
                }
            }
        }
    }
    let mut out = Map::new();
    for (field, path) in &f.fields {
        if let Some(v) = f.field_value(*field, rec, ip, found) {
            put(&mut out, path, v);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Addresses over the whole IPv4 space and some IPv6 ones (deterministic).
fn sample_addresses(n: usize) -> Vec<IpAddr> {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut out: Vec<IpAddr> = (0..n)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.u32(..))))
        .collect();
    for s in [
        "2607:f0d0:1002:51::4",
        "2a00:1450:4001:81c::200e",
        "2001:4860:4860::8888",
    ] {
        out.push(s.parse().expect("v6"));
    }
    out
}

fn geoip_with(db: &str, fields: &[&str], ecs: &str) -> GeoIp {
    let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ip"))
        .with("database", Value::from(db))
        .with("ecs_compatibility", Value::from(ecs))
        .with("target", Value::from("source"));
    if !fields.is_empty() {
        args = args.with(
            "fields",
            Value::Array(fields.iter().map(|f| Value::from(*f)).collect()),
        );
    }
    build_geoip(&args, &BuildContext::default()).expect("build")
}

#[test]
fn layout_matches_setting_each_field() {
    let all: Vec<&str> = ALL_FIELDS.iter().map(|(_, n, _)| *n).collect();
    let city_sets: &[&[&str]] = &[
        &[],
        &all,
        &["location"],
        &["latitude"],
        &["longitude"],
        &["location", "longitude"],
        &["latitude", "longitude"],
        &["longitude", "city_name", "location", "ip"],
        &["region_iso_code", "region_code", "region_name", "dma_code"],
    ];
    let asn_sets: &[&[&str]] = &[&[], &all];
    let mut dbs = Vec::new();
    if let Some(city) = db("CITY") {
        dbs.push((city, city_sets));
    }
    if let Some(asn) = db("ASN") {
        dbs.push((asn, asn_sets));
    }
    let ips = sample_addresses(3000);
    for (path, sets) in &dbs {
        for fields in sets.iter() {
            for ecs in ["disabled", "v8"] {
                let f = geoip_with(path, fields, ecs);
                let mut found = 0;
                for ip in &ips {
                    let want = reference_lookup(&f, *ip);
                    let got = f.lookup(*ip);
                    found += usize::from(want.is_some());
                    assert_eq!(
                        got.as_ref()
                            .map(|m| Value::Object(Box::new(m.clone())).to_json()),
                        want.as_ref()
                            .map(|m| Value::Object(Box::new(m.clone())).to_json()),
                        "{ip} {fields:?} {ecs}"
                    );
                    // Same key order too.
                    assert_eq!(
                        got.map(|m| serde_json::to_string(&m).expect("json")),
                        want.map(|m| serde_json::to_string(&m).expect("json")),
                        "{ip} {fields:?} {ecs}"
                    );
                }
                assert!(found > 1000, "{path} {fields:?}: only {found} found");
            }
        }
    }
}

#[test]
fn every_layout_is_prefix_free() {
    let all: Vec<Field> = ALL_FIELDS.iter().map(|(f, _, _)| *f).collect();
    for ecs in [false, true] {
        let l = Layout::new(&all, ecs).expect("layout");
        assert!(l.nodes.len() <= MAX_NODES);
        let width: usize = l.nodes.iter().map(|n| n.width).sum();
        assert_eq!(width, l.leaves.len() + l.nodes.len() - 1);
    }
}

#[test]
fn last_subdivision_as_the_full_record() {
    let Some(city) = db("CITY") else { return };
    let reader = open_shared(Path::new(&city)).expect("open");
    let mut several = 0;
    for ip in sample_addresses(5000) {
        let found = reader.lookup(ip).expect("lookup");
        let full: Option<maxminddb::geoip2::City> = found.decode().expect("decode");
        let ours: Option<Record> = found.decode().expect("decode");
        let (Some(full), Some(ours)) = (full, ours) else {
            continue;
        };
        let subs = full.subdivisions;
        several += usize::from(subs.len() > 1);
        let want = subs.last().map(|s| (s.iso_code, s.names.english));
        let got = ours.subdivision.0.map(|s| (s.iso_code, s.names.en));
        assert_eq!(got, want, "{ip}");
    }
    assert!(several > 0, "no address with several subdivisions");
}

#[test]
fn cached_results_equal_fresh_ones() {
    let Some(city) = db("CITY") else { return };
    let cached = filter(&city, &[("cache_size", Value::Integer(50))], "v8");
    let fresh = filter(&city, &[("cache_size", Value::Integer(0))], "v8");
    let ips = sample_addresses(200);
    for round in 0..3 {
        for ip in &ips {
            for start in [
                json!({ "ip": ip.to_string() }),
                json!({ "ip": ip.to_string(), "source": {"port": 1, "geo": {"x": 1}} }),
                json!({ "ip": ip.to_string(), "source": "text" }),
            ] {
                let (o1, mut e1) = run(&*cached, start.clone());
                let (o2, mut e2) = run(&*fresh, start.clone());
                for e in [&mut e1, &mut e2] {
                    e.as_object_mut().map(|m| m.remove("@timestamp"));
                }
                assert_eq!(o1, o2, "{ip} round {round}");
                assert_eq!(e1.to_string(), e2.to_string(), "{ip} round {round}");
            }
        }
    }
}

#[test]
fn dotted_quad_is_display() {
    let mut rng = fastrand::Rng::with_seed(5);
    for a in [0u32, 1, u32::MAX, 0x0a00_0001, 0x6464_6464, 0x0909_6363]
        .into_iter()
        .chain((0..2000).map(|_| rng.u32(..)))
    {
        let ip = Ipv4Addr::from(a);
        assert_eq!(dotted_quad(ip), ip.to_string());
    }
}

#[test]
fn coordinates_alone_as_field_by_field() {
    // No database record has one coordinate without the other; records made up here do.
    let Some(city) = db("CITY") else { return };
    let ip: IpAddr = "8.8.8.8".parse().expect("ip");
    let sets: &[&[&str]] = &[
        &["location"],
        &["latitude"],
        &["longitude"],
        &["location", "latitude"],
        &["location", "longitude"],
        &["latitude", "longitude"],
        &["location", "latitude", "longitude", "timezone", "ip"],
    ];
    for fields in sets {
        for ecs in ["disabled", "v8"] {
            let f = geoip_with(&city, fields, ecs);
            let found = f.reader.lookup(ip).expect("lookup");
            for (lat, lon) in [
                (Some(1.5), None),
                (None, Some(2.5)),
                (Some(1.5), Some(2.5)),
                (None, None),
            ] {
                let rec = Record {
                    location: Location {
                        latitude: lat,
                        longitude: lon,
                        time_zone: Some("UTC"),
                        ..Location::default()
                    },
                    ..Record::default()
                };
                let json = |m: Option<Map>| m.map(|m| serde_json::to_string(&m).expect("json"));
                assert_eq!(
                    json(f.result_map(&rec, ip, &found)),
                    json(reference_map(&f, &rec, ip, &found)),
                    "{fields:?} {ecs} {lat:?} {lon:?}"
                );
            }
        }
    }
}
