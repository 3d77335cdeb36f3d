//! Every config of the conformance corpus (`config-parse.jsonl`, taken from Logstash's
//! own specs and grammar) must be accepted or rejected as Logstash does: `stage: parse`
//! cases by the grammar, `stage: compile` cases by `check_syntax`.

use logstash_mesos_pipeline::lang::{check_syntax, parse, ParseOptions, Sources};
use serde_json::Value;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/cases/config-parse.jsonl"
);

#[test]
fn conformance_config_parse_cases() {
    let text =
        std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("cannot read {CASES}: {e}"));
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let id = case["id"].as_str().expect("id");
        let config = case["config"].as_str().expect("config");
        let valid = case["valid"].as_bool().expect("valid");
        let stage = case["stage"].as_str().expect("stage");
        count += 1;
        let sources = Sources::from_string("config", config);
        let parsed = parse(&sources, &ParseOptions::with_env(|_| None));
        let (ok, detail) = match &parsed {
            Err(diags) => (
                false,
                format!("parse error:\n{}", sources.render_all(diags)),
            ),
            Ok(ast) => {
                let diags = check_syntax(ast);
                (diags.is_empty(), sources.render_all(&diags))
            }
        };
        if ok != valid {
            failures.push(format!(
                "{id} ({stage}): expected valid={valid}, got valid={ok}\n{detail}"
            ));
        }
        // A config the grammar rejects must fail in `parse`, not later.
        if !valid && stage == "parse" && parsed.is_ok() {
            failures.push(format!("{id}: must be rejected by the grammar, but parsed"));
        }
        if !valid && stage == "compile" && parsed.is_err() {
            failures.push(format!(
                "{id}: must parse and be rejected by check_syntax, but failed to parse"
            ));
        }
    }
    assert_eq!(count, 83, "the corpus has 83 config-parse cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
