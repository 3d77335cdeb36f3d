//! `cargo fuzz run http_body`: any request body (first line its Content-Type, second its
//! Content-Encoding) through the http input's decoding — decompression, charset, the codec
//! of the content type, the ECS/header fields — must give events or a refusal, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = logstash_mesos_pipeline::inputs::http::fuzz_decode(data);
});
