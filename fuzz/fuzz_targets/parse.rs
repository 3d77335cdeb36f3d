//! `cargo fuzz run parse`: any text through `parse` and `check_syntax` must give a
//! config or diagnostics whose spans lie in the text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_mesos_pipeline::lang::{check_syntax, parse, ParseOptions, Sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sources = Sources::from_string("fuzz.conf", text);
    for escapes in [false, true] {
        let opts = ParseOptions { support_escapes: escapes, ..ParseOptions::with_env(|k| (k == "VAR").then(|| "v".into())) };
        let diags = match parse(&sources, &opts) {
            Ok(config) => check_syntax(&config),
            Err(diags) => diags,
        };
        for d in &diags {
            assert!(d.span.start <= d.span.end && d.span.end <= sources.text().len());
            let _ = sources.render(d);
        }
    }
});
