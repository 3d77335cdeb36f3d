//! `cargo fuzz run queue_record`: any bytes as a persisted-queue record (a damaged page):
//! a refusal or an event, never a panic, and an event re-encodes to an intact record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_mesos_pipeline::queue::record::{decode, encode, frame, Frame};

fuzz_target!(|data: &[u8]| {
    if let Frame::Record { size, .. } = frame(data) {
        if let Ok(event) = decode(&data[..size]) {
            let mut again = Vec::new();
            encode(1, &event, &mut again);
            assert!(matches!(frame(&again), Frame::Record { .. }));
        }
    }
    let _ = decode(data);
});
