//! `cargo fuzz run gelf`: any datagrams through the GELF reassembler (chunks, zlib, gzip)
//! and whatever completes into an event: refusals, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_mesos_pipeline::inputs::gelf::{decode::Reassembler, to_event};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::default();
    let start = Instant::now();
    // The input is split into datagrams at 0xff bytes, a second apart every few.
    for (i, d) in data.split(|b| *b == 0xff).enumerate() {
        let now = start + Duration::from_secs((i / 4) as u64);
        if let Ok(Some(doc)) = r.push(d, now) {
            let _ = to_event(&doc, "127.0.0.1", true, true);
        }
    }
    let _ = to_event(data, "::1", true, true);
});
