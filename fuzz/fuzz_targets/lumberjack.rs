//! `cargo fuzz run lumberjack`: any bytes through the beats input's frame decoder must give
//! frames or a protocol error, never a panic, and the same frames however the bytes are
//! split into reads (the first byte picks the split size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_mesos_pipeline::inputs::beats::protocol::{decode_all, Decoder, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_frame: 1 << 20, ..Limits::default() };
    let (frames, end) = decode_all(data, limits);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut d = Decoder::new(limits);
    let mut got = Vec::new();
    let mut failed = false;
    'outer: for chunk in data.chunks(step) {
        d.feed(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => got.push(f),
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(got, frames);
    assert_eq!(failed, end.is_err());
});
