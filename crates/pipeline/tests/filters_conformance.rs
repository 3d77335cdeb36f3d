//! Runs the shared Logstash conformance cases for mutate, kv, dissect and json directly
//! against the filter builders (no CLI needed): each case's `filter { ... }` body is read
//! with a small ad-hoc reader of plugin blocks (enough for these cases; the real config
//! compiler lives in `lang`), the filter is built, applied to the input event, the common
//! options run on success, and the expectations are checked with strict JSON types.
//!
//! Every case must pass except the ones listed in `KNOWN_FAILURES`, each with the reason.

use logstash_mesos_core::{Event, FieldRef, Template, Value};
use logstash_mesos_pipeline::common::CommonFilterOptions;
use logstash_mesos_pipeline::filters;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{
    BuildContext, Filter, FilterBuilder, FilterContext, Outcome,
};
use serde_json::Value as J;
use std::path::PathBuf;

/// Cases that fail by design, with the reason. Anything else failing fails the test.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "mutate-120",
        "integer beyond 64 bits: core Value has no big integers",
    ),
    (
        "mutate-121",
        "integer beyond 64 bits: core Value has no big integers",
    ),
    (
        "mutate-122",
        "integer beyond 64 bits: core Value has no big integers",
    ),
    (
        "mutate-123",
        "integer beyond 64 bits: core Value has no big integers",
    ),
    (
        "dissect-005",
        "integer beyond 64 bits: core Value has no big integers",
    ),
    (
        "json-004",
        "Logstash 7.0-8.2 only: since 8.3 field references accept such keys, so 8.x parses it",
    ),
];

fn cases_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/cases"
    ))
}

// ---------------------------------------------------------------- config reader

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => self.i += 1,
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }
    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && !b" \t\r\n{}[]=,#\"'".contains(&self.s[self.i]) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    /// A quoted string, quotes removed, escapes kept (config.support_escapes is false).
    fn quoted(&mut self) -> String {
        let q = self.s[self.i];
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            if self.s[self.i] == b'\\' {
                self.i += 1;
            }
            self.i += 1;
        }
        let out = String::from_utf8_lossy(&self.s[start..self.i.min(self.s.len())]).into_owned();
        self.i += 1;
        out
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'"' | b'\'') => Ok(Value::String(self.quoted())),
            Some(b'[') => {
                self.i += 1;
                let mut out = Vec::new();
                while self.peek() != Some(b']') {
                    if self.peek().is_none() {
                        return Err("unterminated array".into());
                    }
                    out.push(self.value()?);
                }
                self.i += 1;
                Ok(Value::Array(out))
            }
            Some(b'{') => {
                self.i += 1;
                let mut m = logstash_mesos_core::Map::default();
                while self.peek() != Some(b'}') {
                    let k = self.value()?.to_logstash_string();
                    self.expect(b'=')?;
                    self.expect(b'>')?;
                    let v = self.value()?;
                    m.insert(k, v);
                }
                self.i += 1;
                Ok(Value::from(m))
            }
            Some(_) => {
                let w = self.word();
                if let Ok(i) = w.parse::<i64>() {
                    Ok(Value::Integer(i))
                } else if let Ok(f) = w.parse::<f64>() {
                    Ok(Value::Float(f))
                } else if w == "true" || w == "false" {
                    Ok(Value::Bool(w == "true"))
                } else {
                    Ok(Value::String(w))
                }
            }
            None => Err("unexpected end".into()),
        }
    }
}

/// The plugins of a filter body: name and options (repeated options merged as Logstash
/// does: hashes merge, arrays concatenate).
type Plugins = Vec<(String, Vec<(String, Value)>)>;

fn read_plugins(text: &str) -> Result<Plugins, String> {
    let mut r = Reader {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    while r.peek().is_some() {
        let name = r.word();
        r.expect(b'{')?;
        let mut opts: Vec<(String, Value)> = Vec::new();
        while r.peek() != Some(b'}') {
            let key = r.word();
            if key.is_empty() {
                return Err(format!("bad option at {}", r.i));
            }
            r.expect(b'=')?;
            r.expect(b'>')?;
            let v = r.value()?;
            match opts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, existing)) => merge(existing, v),
                None => opts.push((key, v)),
            }
        }
        r.i += 1;
        out.push((name, opts));
    }
    Ok(out)
}

fn merge(existing: &mut Value, v: Value) {
    match (existing, v) {
        (Value::Object(a), Value::Object(b)) => a.extend(*b),
        (Value::Array(a), Value::Array(b)) => a.extend(b),
        (e, v) => *e = v,
    }
}

// ---------------------------------------------------------------- running

fn builder(name: &str) -> Option<FilterBuilder> {
    Some(match name {
        "mutate" => filters::mutate::build,
        "kv" => filters::kv::build,
        "dissect" => filters::dissect::build,
        "json" => filters::json::build,
        "drop" => filters::drop::build,
        "fingerprint" => filters::fingerprint::build,
        "grok" => filters::grok::build,
        _ => return None,
    })
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(Value::to_logstash_string).collect(),
        other => vec![other.to_logstash_string()],
    }
}

fn common_of(opts: &[(String, Value)]) -> CommonFilterOptions {
    let mut c = CommonFilterOptions::default();
    for (k, v) in opts {
        match k.as_str() {
            "add_tag" => c.add_tag = strings(v).iter().map(|s| Template::compile(s)).collect(),
            "remove_tag" => {
                c.remove_tag = strings(v).iter().map(|s| Template::compile(s)).collect()
            }
            "remove_field" => {
                c.remove_field = strings(v).iter().map(|s| Template::compile(s)).collect()
            }
            "add_field" => {
                c.add_field = match v {
                    Value::Object(m) => m
                        .iter()
                        .map(|(k, v)| {
                            (
                                Template::compile(k),
                                Template::compile(&v.to_logstash_string()),
                            )
                        })
                        .collect(),
                    Value::Array(a) => a
                        .chunks(2)
                        .filter(|p| p.len() == 2)
                        .map(|p| {
                            (
                                Template::compile(&p[0].to_logstash_string()),
                                Template::compile(&p[1].to_logstash_string()),
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            }
            _ => {}
        }
    }
    c
}

fn run_case(case: &J) -> Result<Option<J>, String> {
    let plugins = read_plugins(case["filter"].as_str().unwrap_or_default())?;
    let mut chain: Vec<(Box<dyn Filter>, CommonFilterOptions)> = Vec::new();
    for (name, opts) in &plugins {
        let build = builder(name)
            .ok_or_else(|| format!("plugin {name} is not one of this suite's filters"))?;
        let mut args = Args::default();
        for (k, v) in opts {
            args = args.with(k, v.clone());
        }
        let f = build(&args, &BuildContext::default()).map_err(|e| format!("build {name}: {e}"))?;
        chain.push((f, common_of(opts)));
    }
    let input: Value = serde_json::from_value(case["input"].clone()).map_err(|e| e.to_string())?;
    let Value::Object(m) = input else {
        return Err("input is not an object".into());
    };
    let mut event = Event::from_map(*m);
    for (f, common) in &chain {
        match f.apply(&mut event, &mut FilterContext::default()) {
            Outcome::Success => common.apply(&mut event),
            Outcome::Failure => {}
            Outcome::Drop => return Ok(None),
        }
    }
    serde_json::from_str(&event.to_json_string())
        .map(Some)
        .map_err(|e| e.to_string())
}

fn resolve<'a>(event: &'a J, r: &str) -> Option<&'a J> {
    let parts: Vec<String> = if r.starts_with('[') {
        FieldRef::parse(r).ok()?.path().to_vec()
    } else {
        vec![r.to_string()]
    };
    let mut cur = event;
    for p in &parts {
        cur = match cur {
            J::Object(m) => m.get(p)?,
            J::Array(a) => {
                let i: i64 = p.parse().ok()?;
                let idx = if i < 0 { a.len() as i64 + i } else { i };
                a.get(usize::try_from(idx).ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn norm_ts(s: &str) -> String {
    // "2013-01-01T00:00:00.000Z" and "2013-01-01T00:00:00Z" are the same instant.
    match s.strip_suffix('Z').and_then(|b| b.split_once('.')) {
        Some((base, frac)) if s.len() > 19 => format!("{base}.{}", frac.trim_end_matches('0')),
        _ => s
            .strip_suffix('Z')
            .map(|b| format!("{b}."))
            .unwrap_or_else(|| s.to_string()),
    }
}

fn same(want: &J, got: &J) -> bool {
    match (want, got) {
        (J::Number(a), J::Number(b)) => {
            (a.is_f64() == b.is_f64())
                && if a.is_f64() {
                    a.as_f64() == b.as_f64()
                } else {
                    a == b
                }
        }
        (J::String(a), J::String(b)) => a == b || norm_ts(a) == norm_ts(b),
        (J::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (J::Object(a), J::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => want == got,
    }
}

fn check(case: &J, event: &J) -> Vec<String> {
    let mut diffs = Vec::new();
    if let Some(m) = case["expect"].as_object() {
        for (r, want) in m {
            match resolve(event, r) {
                None => diffs.push(format!("{r}: expected {want}, missing")),
                Some(got) if !same(want, got) => {
                    diffs.push(format!("{r}: expected {want}, got {got}"))
                }
                _ => {}
            }
        }
    }
    for r in case["expect_absent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if let Some(got) = resolve(event, r).filter(|g| !g.is_null()) {
            diffs.push(format!("{r}: expected absent, got {got}"));
        }
    }
    for r in case["expect_present"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if resolve(event, r).is_none() {
            diffs.push(format!("{r}: expected present"));
        }
    }
    let tags: Vec<String> = match event.get("tags") {
        Some(J::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        Some(J::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    for t in case["expect_tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if !tags.iter().any(|x| x == t) {
            diffs.push(format!("tags: expected {t:?} in {tags:?}"));
        }
    }
    for t in case["expect_tags_absent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if tags.iter().any(|x| x == t) {
            diffs.push(format!("tags: expected no {t:?} in {tags:?}"));
        }
    }
    diffs
}

fn run_file(name: &str) {
    let path = cases_dir().join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (mut passed, mut failed, mut unexpected) = (0, 0, Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: J = serde_json::from_str(line).expect("case json");
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let diffs = match run_case(&case) {
            Ok(Some(event)) => check(&case, &event),
            Ok(None) if case["expect_no_event"].as_bool() == Some(true) => Vec::new(),
            Ok(None) => vec!["event dropped".to_string()],
            Err(e) => vec![e],
        };
        let known = KNOWN_FAILURES.iter().find(|(k, _)| *k == id);
        if diffs.is_empty() {
            passed += 1;
            if known.is_some() {
                println!("NOTE {id} passes although listed as a known failure");
            }
        } else {
            failed += 1;
            match known {
                Some((_, why)) => println!("known failure {id}: {why}: {}", diffs.join("; ")),
                None => {
                    println!("FAIL {id}: {}", diffs.join("; "));
                    unexpected.push(id);
                }
            }
        }
    }
    let total = passed + failed;
    println!(
        "{name}.jsonl: {passed}/{total} passed ({:.1} %)",
        100.0 * passed as f64 / total.max(1) as f64
    );
    assert!(total > 0, "no cases in {}", path.display());
    assert!(
        unexpected.is_empty(),
        "{name}: unexpected failures: {unexpected:?}"
    );
}

#[test]
fn mutate_conformance() {
    run_file("mutate");
}

#[test]
fn kv_conformance() {
    run_file("kv");
}

#[test]
fn dissect_conformance() {
    run_file("dissect");
}

#[test]
fn json_conformance() {
    run_file("json");
}
