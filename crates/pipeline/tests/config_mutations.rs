//! A bounded, deterministic no-panic check for normal `cargo test`: mutated versions of
//! real configs (the conformance corpus and the golden error cases) go through `parse`
//! and `check_syntax`. Every outcome must be a config or diagnostics whose spans lie in
//! the text and render. The open-ended version of this is the cargo-fuzz target in
//! `fuzz/`.

use logstash_mesos_pipeline::lang::{check_syntax, parse, ParseOptions, Sources};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/cases/config-parse.jsonl"
);
const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/config_errors/*.conf"
);

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    "=>",
    "\"",
    "'",
    "/",
    "\\",
    "#",
    "\n",
    "\r\n",
    " ",
    "\t",
    "if",
    "else",
    "else if",
    "and",
    "or",
    "xor",
    "nand",
    "not in",
    "in",
    "!",
    "==",
    "=~",
    "!~",
    "<=",
    "-1.5",
    "010",
    "x",
    "bareword",
    "[a][b]",
    "${VAR}",
    "${VAR:d}",
    "${",
    "é",
    "🙂",
    "\u{0}",
    "input",
    "filter",
    "output",
    "codec => json {",
];

fn samples() -> Vec<String> {
    let mut out = Vec::new();
    let corpus =
        std::fs::read_to_string(CORPUS).unwrap_or_else(|e| panic!("cannot read {CORPUS}: {e}"));
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        out.push(v["config"].as_str().expect("config").to_string());
    }
    for path in glob::glob(GOLDEN).expect("valid glob").flatten() {
        out.push(std::fs::read_to_string(path).expect("readable golden case"));
    }
    out
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(4) {
        let a = char_boundary(&s, rng.below(s.len() + 1));
        let b = char_boundary(&s, a + rng.below(12));
        match rng.below(5) {
            0 => s.replace_range(a..b, ""),
            1 => s.insert_str(a, TOKENS[rng.below(TOKENS.len())]),
            2 => {
                let chunk = s[a..b].to_string();
                s.insert_str(b, &chunk);
            }
            3 => s.truncate(a),
            _ => s.replace_range(a..b, TOKENS[rng.below(TOKENS.len())]),
        }
    }
    s
}

fn check(text: &str, escapes: bool) {
    let sources = Sources::from_string("m.conf", text);
    let opts = ParseOptions {
        support_escapes: escapes,
        ..ParseOptions::with_env(|k| (k == "VAR").then(|| "v".into()))
    };
    let diags = match parse(&sources, &opts) {
        Ok(config) => check_syntax(&config),
        Err(diags) => {
            assert!(
                !diags.is_empty(),
                "an error without diagnostics for {text:?}"
            );
            diags
        }
    };
    for d in &diags {
        assert!(
            d.span.start <= d.span.end && d.span.end <= sources.text().len(),
            "span {:?} out of range for {text:?}",
            d.span
        );
        assert!(!d.message.is_empty());
        let rendered = sources.render(d);
        assert!(rendered.starts_with("m.conf:"), "{rendered}");
    }
}

#[test]
fn mutated_configs_never_panic() {
    let samples = samples();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..4000 {
        let base = &samples[rng.below(samples.len())];
        let text = mutate(&mut rng, base);
        check(&text, i % 2 == 0);
    }
}

#[test]
fn pathological_inputs() {
    for text in [
        String::new(),
        "{".repeat(10_000),
        "[".repeat(10_000),
        format!("filter {{ if {} {{ }} }}", "(".repeat(10_000)),
        format!("filter {{ if {} {{ }} }}", "!(".repeat(3_000)),
        format!("filter {{ p {{ a => {} }} }}", "{ aa => ".repeat(3_000)),
        format!("filter {{ p {{ a => {} }} }}", "x { a => ".repeat(3_000)),
        "filter { p { a => \"".to_string() + &"\\\"".repeat(5_000),
        "#".repeat(10_000),
        "\u{feff}filter {}".to_string(),
        "filter { if [a] =~ /".to_string() + &"\\/".repeat(5_000),
    ] {
        check(&text, false);
    }
}
