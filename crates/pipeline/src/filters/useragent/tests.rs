use super::parser::{Os, UserAgent};
use super::*;
use logstash_mesos_core::Map;
use serde_json::json;
use sha1::Digest;
use yaml_rust2::{Yaml, YamlLoader};

fn testdata(name: &str) -> String {
    format!("{}/testdata/uap-core/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn load_cases(name: &str) -> Vec<Yaml> {
    let path = testdata(name);
    let text = if name.ends_with(".gz") {
        use std::io::Read;
        let f = std::fs::File::open(&path).expect("open");
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .expect("gunzip");
        s
    } else {
        std::fs::read_to_string(&path).expect("read")
    };
    let docs = YamlLoader::load_from_str(&text).expect("yaml");
    match &docs[0]["test_cases"] {
        Yaml::Array(a) => a.clone(),
        _ => panic!("no test_cases in {name}"),
    }
}

fn opt(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

#[test]
fn embedded_rules_are_logstashs() {
    // The checksum Logstash's build verifies after its patch.
    let sum = sha1::Sha1::digest(REGEXES_YAML.as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "5a8ea18a9c9153e83159b8662e3f6650fbca60a8");
    assert!(default_rules().is_ok());
}

/// Logstash's `ParserTest.testParseUserAgent` (and `testParseFirefox`): js_ua cases are
/// skipped and patch_minor is not compared, as there.
#[test]
fn uap_core_user_agents() {
    let rules = default_rules().expect("rules");
    for file in ["test_ua.yaml", "firefox_user_agent_strings.yaml"] {
        let cases = load_cases(file);
        assert!(cases.len() > 100, "{file}");
        let mut bad = Vec::new();
        for c in &cases {
            if !c["js_ua"].is_badvalue() {
                continue;
            }
            let s = opt(&c["user_agent_string"]).expect("ua");
            let want = UserAgent {
                family: opt(&c["family"]).unwrap_or_default(),
                major: opt(&c["major"]),
                minor: opt(&c["minor"]),
                patch: opt(&c["patch"]),
                patch_minor: None,
            };
            let mut got = rules.parse_user_agent(&s);
            got.patch_minor = None;
            if got != want {
                bad.push(format!("{s}\n  want {want:?}\n  got  {got:?}"));
            }
        }
        assert!(
            bad.is_empty(),
            "{file}: {} of {} differ:\n{}",
            bad.len(),
            cases.len(),
            bad[..bad.len().min(10)].join("\n")
        );
    }
}

/// `ParserTest.testParseOS` / `testParseAdditionalOS`.
#[test]
fn uap_core_os() {
    let rules = default_rules().expect("rules");
    for file in ["test_os.yaml", "additional_os_tests.yaml"] {
        let cases = load_cases(file);
        let mut bad = Vec::new();
        for c in &cases {
            if !c["js_ua"].is_badvalue() {
                continue;
            }
            let s = opt(&c["user_agent_string"]).expect("ua");
            let want = Os {
                family: opt(&c["family"]).unwrap_or_default(),
                major: opt(&c["major"]),
                minor: opt(&c["minor"]),
                patch: opt(&c["patch"]),
                patch_minor: opt(&c["patch_minor"]),
            };
            let got = rules.parse_os(&s);
            if got != want {
                bad.push(format!("{s}\n  want {want:?}\n  got  {got:?}"));
            }
        }
        assert!(
            bad.is_empty(),
            "{file}: {} of {} differ:\n{}",
            bad.len(),
            cases.len(),
            bad[..bad.len().min(10)].join("\n")
        );
    }
}

/// `ParserTest.testParseDevice`: the device family.
#[test]
fn uap_core_devices() {
    let rules = default_rules().expect("rules");
    let cases = load_cases("test_device.yaml.gz");
    assert!(cases.len() > 10_000);
    let mut bad = Vec::new();
    for c in &cases {
        let s = opt(&c["user_agent_string"]).expect("ua");
        let want = opt(&c["family"]).unwrap_or_default();
        let got = rules.parse_device(&s);
        if got != want {
            bad.push(format!("{s}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad[..bad.len().min(10)].join("\n")
    );
}

/// `ParserTest.testReplacementQuoting`.
#[test]
fn replacement_quoting() {
    let yaml = "user_agent_parsers:\n  - regex: 'ABC([\\\\0-9]+)'\n    family_replacement: 'ABC ($1)'\nos_parsers:\n  - regex: 'CatOS OH-HAI=/\\^\\.\\^\\\\='\n    os_replacement: 'CatOS 9000'\ndevice_parsers:\n  - regex: 'CashPhone-([\\$0-9]+)\\.(\\d+)\\.(\\d+)'\n    device_replacement: 'CashPhone $1'\n";
    let rules = Rules::from_yaml(yaml).expect("rules");
    let c = rules.parse("ABC12\\34 (CashPhone-$9.0.1 CatOS OH-HAI=/^.^\\=)");
    assert_eq!(c.user_agent.family, "ABC (12\\34)");
    assert_eq!(c.os.family, "CatOS 9000");
    assert_eq!(c.device, "CashPhone $9");
}

#[test]
fn bad_rules_are_config_errors() {
    for (yaml, what) in [
        ("user_agent_parsers:\n  - family_replacement: 'a'\nos_parsers: []\ndevice_parsers: []\n", "no regex"),
        ("os_parsers: []\ndevice_parsers: []\n", "user_agent_parsers is missing"),
        ("user_agent_parsers:\n  - regex: '(unclosed'\nos_parsers: []\ndevice_parsers: []\n", "user_agent_parsers rule 1"),
        ("user_agent_parsers: [\n", "invalid YAML"),
    ] {
        let err = Rules::from_yaml(yaml).err().expect(what);
        assert!(err.0.contains(what), "{what}: {}", err.0);
    }
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path().join("r.yaml");
    std::fs::write(&p, "nothing: here\n").expect("write");
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ua"))
        .with("regexes", Value::from(p.to_string_lossy().as_ref()));
    let err = build(&args, &BuildContext::default())
        .err()
        .expect("bad file");
    assert_eq!(err.option.as_deref(), Some("regexes"));
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ua"))
        .with("regexes", Value::from("/nonexistent/regexes.yaml"));
    assert_eq!(
        build(&args, &BuildContext::default())
            .err()
            .and_then(|e| e.option)
            .as_deref(),
        Some("regexes")
    );
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ua"))
        .with("lru_cache_size", Value::Integer(-1));
    assert_eq!(
        build(&args, &BuildContext::default())
            .err()
            .and_then(|e| e.option)
            .as_deref(),
        Some("lru_cache_size")
    );
}

fn run(args: Args, fields: serde_json::Value) -> (Outcome, Event) {
    let f = build(&args, &BuildContext::default()).expect("build");
    let map: Map = serde_json::from_value(fields).expect("map");
    let mut e = Event::from_map(map);
    let o = f.apply(&mut e, &mut FilterContext::default());
    (o, e)
}

fn get(e: &Event, r: &str) -> Option<String> {
    e.get(&FieldRef::parse(r).expect("ref"))
        .and_then(Value::as_str)
        .map(String::from)
}

const CHROME: &str = "Mozilla/5.0 (X11; Linux i686) AppleWebKit/537.31 (KHTML, like Gecko) Chrome/26.0.1410.63 Safari/537.31";

#[test]
fn legacy_and_ecs_layout() {
    let legacy = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ua"))
        .with("prefix", Value::from("p_"))
        .with("ecs_compatibility", Value::from("disabled"));
    let (o, e) = run(legacy, json!({"ua": CHROME}));
    assert_eq!(o, Outcome::Success);
    assert_eq!(get(&e, "p_name").as_deref(), Some("Chrome"));
    assert_eq!(get(&e, "p_version").as_deref(), Some("26.0.1410.63"));
    assert_eq!(get(&e, "p_patch").as_deref(), Some("1410"));
    assert_eq!(get(&e, "p_os").as_deref(), Some("Linux"));
    assert_eq!(get(&e, "p_device").as_deref(), Some("Other"));

    let ecs = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("[http][ua]"));
    let (_, e) = run(
        ecs,
        json!({"http": {"ua": "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"}}),
    );
    assert_eq!(get(&e, "[user_agent][name]").as_deref(), Some("IE"));
    assert_eq!(
        get(&e, "[user_agent][os][version]").as_deref(),
        Some("Vista")
    );
    assert_eq!(
        get(&e, "[user_agent][os][full]").as_deref(),
        Some("Windows Vista")
    );
    assert_eq!(
        get(&e, "[@metadata][filter][user_agent][version][major]").as_deref(),
        Some("7")
    );
    assert!(e
        .get(&FieldRef::parse("[user_agent][major]").expect("ref"))
        .is_none());
}

#[test]
fn bad_input_leaves_event_alone() {
    let args = || {
        Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("source", Value::from("ua"))
            .with("target", Value::from("t"))
    };
    for input in [
        json!({}),
        json!({"ua": ""}),
        json!({"ua": 5}),
        json!({"ua": {"a": "b"}}),
        json!({"ua": []}),
        json!({"ua": [1]}),
    ] {
        let (o, e) = run(args(), input.clone());
        assert_eq!(o, Outcome::Failure, "{input}");
        assert!(e.get(&FieldRef::top("t")).is_none(), "{input}");
        assert!(e.tags().is_empty());
    }
    // Garbage still parses (as Other), never panics.
    for junk in [
        "\u{0}\u{1}",
        "ü🙂/1.0 (é)",
        &"x".repeat(100_000),
        "Mozilla/5.0 (",
        ")))(((",
    ] {
        let (o, e) = run(args(), json!({ "ua": junk }));
        assert_eq!(o, Outcome::Success);
        assert!(get(&e, "[t][name]").is_some());
    }
    // An array: its first element.
    let (_, e) = run(args(), json!({"ua": [CHROME, "x"]}));
    assert_eq!(get(&e, "[t][name]").as_deref(), Some("Chrome"));
}

#[test]
fn version_adjustment_and_cache() {
    assert_eq!(
        adjust_version("MacOutlook/16.24.0.190414 (Intel", "16.24.0").as_deref(),
        Some("16.24.0.190414")
    );
    assert_eq!(adjust_version("X/1.2.3.04 y", "1.2.3"), None);
    assert_eq!(adjust_version("X/1.2.3.4", "1.2.3"), None);
    assert_eq!(adjust_version("X/1.2.3 4", "1.2.3"), None);
    let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
        .with("source", Value::from("ua"))
        .with("lru_cache_size", Value::Integer(1));
    let f = build(&args, &BuildContext::default()).expect("build");
    for ua in [CHROME, "curl/7.64.1", CHROME, CHROME, "curl/7.64.1"] {
        let mut e = Event::from_map(serde_json::from_value(json!({ "ua": ua })).expect("map"));
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        let name = get(&e, "[user_agent][name]");
        assert_eq!(
            name.as_deref(),
            Some(if ua == CHROME { "Chrome" } else { "curl" })
        );
    }
}

/// The prefilter must leave few rules without a literal, or uncached parses get slow.
#[test]
fn most_rules_have_a_prefilter_literal() {
    let rules = default_rules().expect("rules");
    let (ua, os, dev) = rules.unfiltered();
    eprintln!("rules without literal: ua {ua}, os {os}, device {dev}");
    assert!(ua + os + dev < 120, "{ua} {os} {dev}");
}
