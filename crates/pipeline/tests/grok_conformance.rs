//! Runs the grok cases of the shared conformance corpus through the `grok` filter.
//!
//! The config parser is not on this branch yet, so the simple `grok { ... }` bodies of
//! these cases are read with a small ad-hoc reader (test-only). The common options the
//! pipeline would run on success (`add_tag`, `add_field`, `remove_field`) are applied here.

use logstash_mesos_core::{Event, FieldRef, Map, Template, Value};
use logstash_mesos_pipeline::filters::grok;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, FilterContext, Outcome};
use serde_json::Value as J;

fn corpus(name: &str) -> Option<String> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/cases/"
    );
    std::fs::read_to_string(format!("{p}{name}")).ok()
}

struct Reader<'a> {
    s: &'a [u8],
    p: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.p < self.s.len()
            && (self.s[self.p].is_ascii_whitespace() || self.s[self.p] == b',')
        {
            self.p += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.p) == Some(&c) {
            self.p += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.ws();
        let st = self.p;
        while self.p < self.s.len()
            && (self.s[self.p].is_ascii_alphanumeric() || b"_-.@".contains(&self.s[self.p]))
        {
            self.p += 1;
        }
        String::from_utf8_lossy(&self.s[st..self.p]).into_owned()
    }
    fn value(&mut self) -> Value {
        self.ws();
        match self.s.get(self.p) {
            Some(q @ (b'"' | b'\'')) => {
                let q = *q;
                self.p += 1;
                let st = self.p;
                while self.p < self.s.len() && self.s[self.p] != q {
                    if self.s[self.p] == b'\\' {
                        self.p += 1;
                    }
                    self.p += 1;
                }
                let v = String::from_utf8_lossy(&self.s[st..self.p]).into_owned();
                self.p += 1;
                // Logstash keeps escapes except an escaped quote of the same kind.
                Value::String(v.replace(&format!("\\{}", q as char), &(q as char).to_string()))
            }
            Some(b'[') => {
                self.p += 1;
                let mut a = Vec::new();
                while !self.eat(b']') {
                    a.push(self.value());
                }
                Value::Array(a)
            }
            Some(b'{') => {
                self.p += 1;
                let mut m = Map::default();
                while !self.eat(b'}') {
                    let k = self.value().to_logstash_string();
                    self.ws();
                    self.p += 2; // =>
                    m.insert(k, self.value());
                }
                Value::from(m)
            }
            _ => {
                let w = self.word();
                w.parse::<i64>()
                    .map(Value::Integer)
                    .unwrap_or(Value::String(w))
            }
        }
    }
}

/// The options of the single `grok { ... }` in `filter`.
fn parse_grok(filter: &str) -> Vec<(String, Value)> {
    let mut r = Reader {
        s: filter.as_bytes(),
        p: 0,
    };
    assert_eq!(r.word(), "grok");
    assert!(r.eat(b'{'));
    let mut out = Vec::new();
    while !r.eat(b'}') {
        let k = r.word();
        r.ws();
        r.p += 2;
        out.push((k, r.value()));
    }
    out
}

fn to_hash_if_pairs(v: Value) -> Value {
    match v {
        Value::Array(a) if a.len() % 2 == 0 => Value::from(
            a.chunks(2)
                .map(|kv| (kv[0].to_logstash_string(), kv[1].clone()))
                .collect::<Map>(),
        ),
        other => other,
    }
}

fn run_case(case: &J) -> Result<(), String> {
    let opts = parse_grok(case["filter"].as_str().unwrap_or_default());
    let mut args = Args::new("grok", Default::default());
    let mut common = Vec::new();
    for (k, v) in opts {
        match k.as_str() {
            "add_tag" | "add_field" | "remove_field" => common.push((k, v)),
            "match" | "pattern_definitions" => args = args.with(&k, to_hash_if_pairs(v)),
            "overwrite" | "tag_on_failure" | "patterns_dir" => {
                args = args.with(
                    &k,
                    if matches!(v, Value::Array(_)) {
                        v
                    } else {
                        Value::Array(vec![v])
                    },
                )
            }
            _ => args = args.with(&k, v),
        }
    }
    let f = grok::build(&args, &BuildContext::default()).map_err(|e| format!("build: {e}"))?;
    let input: Map = serde_json::from_value(case["input"].clone()).map_err(|e| e.to_string())?;
    let mut ev = Event::from_map(input);
    if f.apply(&mut ev, &mut FilterContext::default()) == Outcome::Success {
        for (k, v) in common {
            match k.as_str() {
                "add_tag" => match v {
                    Value::Array(a) => a.iter().for_each(|t| ev.add_tag(&t.to_logstash_string())),
                    t => ev.add_tag(&t.to_logstash_string()),
                },
                "add_field" => {
                    if let Value::Object(m) = to_hash_if_pairs(v) {
                        for (fk, fv) in *m {
                            let val = Template::compile(&fv.to_logstash_string()).render(&ev);
                            if let Ok(r) = FieldRef::parse(&fk) {
                                let _ = ev.set(&r, Value::String(val));
                            }
                        }
                    }
                }
                _ => {
                    let list = match v {
                        Value::Array(a) => a,
                        o => vec![o],
                    };
                    for r in list {
                        if let Ok(r) = FieldRef::parse(&r.to_logstash_string()) {
                            ev.remove(&r);
                        }
                    }
                }
            }
        }
    }
    let out = ev.to_value().to_json();
    let get = |path: &str| -> Option<J> {
        let r = FieldRef::parse(path).ok()?;
        ev.get(&r).map(Value::to_json)
    };
    let mut errs = Vec::new();
    if let Some(exp) = case["expect"].as_object() {
        for (k, v) in exp {
            let got = get(k);
            if got.as_ref() != Some(v) {
                errs.push(format!(
                    "{k}: expected {v}, got {}",
                    got.map_or("nothing".into(), |g| g.to_string())
                ));
            }
        }
    }
    for k in case["expect_absent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if get(k).is_some_and(|v| !v.is_null()) {
            errs.push(format!(
                "{k}: expected absent, got {}",
                get(k).unwrap_or_default()
            ));
        }
    }
    for k in case["expect_present"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if get(k).is_none() {
            errs.push(format!("{k}: expected present"));
        }
    }
    let tags = ev.tags();
    for t in case["expect_tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if !tags.iter().any(|x| x == t) {
            errs.push(format!("tag {t} missing (tags {tags:?})"));
        }
    }
    for t in case["expect_tags_absent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
    {
        if tags.iter().any(|x| x == t) {
            errs.push(format!("tag {t} present"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n    event: {out}", errs.join("\n    ")))
    }
}

fn run_file(name: &str) -> Option<(usize, usize)> {
    let Some(text) = corpus(name) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "conformance corpus {name} not found beside the repository"
        );
        eprintln!("NOTICE: conformance corpus {name} not found; skipping");
        return None;
    };
    let (mut pass, mut total) = (0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: J = serde_json::from_str(line).expect("corpus line is JSON");
        total += 1;
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let filter = case["filter"].as_str().unwrap_or_default().to_string();
        match std::panic::catch_unwind(|| run_case(&case)) {
            Ok(Ok(())) => pass += 1,
            Ok(Err(e)) => eprintln!("FAIL {id}: {filter}\n    {e}"),
            Err(_) => eprintln!("PANIC {id}: {filter}"),
        }
    }
    eprintln!("{name}: {pass}/{total} passed");
    Some((pass, total))
}

#[test]
fn grok_patterns_corpus() {
    if let Some((pass, total)) = run_file("grok-patterns.jsonl") {
        assert_eq!(total, 456);
        assert!(pass >= 456, "only {pass}/{total} grok-patterns cases pass");
    }
}

#[test]
fn grok_filter_corpus() {
    if let Some((pass, total)) = run_file("grok-filter.jsonl") {
        assert_eq!(total, 108);
        assert!(pass >= 106, "only {pass}/{total} grok-filter cases pass");
    }
}
