//! Golden error messages: each `testdata/config_errors/<case>.conf` must be rejected with
//! exactly the text in `<case>.stderr` (written by hand, not captured from the code).
//! No `${VAR}` is defined while these run.

use logstash_mesos_pipeline::lang::{check_syntax, parse, ParseOptions, Sources};
use std::path::Path;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/config_errors");

fn render(name: &str, text: &str) -> Option<String> {
    let sources = Sources::from_string(name, text);
    let diags = match parse(&sources, &ParseOptions::with_env(|_| None)) {
        Err(diags) => diags,
        Ok(config) => check_syntax(&config),
    };
    (!diags.is_empty()).then(|| sources.render_all(&diags))
}

#[test]
fn golden_config_errors() {
    let pattern = format!("{DIR}/*.conf");
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in glob::glob(&pattern).expect("valid glob") {
        let conf = entry.expect("readable directory entry");
        let name = conf
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name")
            .to_string();
        let text = std::fs::read_to_string(&conf).expect("readable .conf");
        let stderr_path = conf.with_extension("stderr");
        let Ok(expected) = std::fs::read_to_string(&stderr_path) else {
            failures.push(format!("{name}: missing {}", stderr_path.display()));
            continue;
        };
        count += 1;
        match render(&name, &text) {
            None => failures.push(format!("{name}: accepted, expected:\n{expected}")),
            Some(actual) if actual != expected => failures.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{actual}"
            )),
            Some(_) => {}
        }
    }
    assert!(
        count >= 10,
        "found only {count} golden cases under {}",
        Path::new(DIR).display()
    );
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
