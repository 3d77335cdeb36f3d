//! `cargo fuzz run syslog`: any bytes through the syslog input's TCP framer (in chunks
//! split where the first byte says), the RFC 5424 parser and the whole relay (grok, date,
//! priority) in both ECS modes must give frames and events, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_mesos_pipeline::inputs::syslog::parse::{
    parse, parse_rfc5424, Frame, ParserSettings, SyslogFramer, SyslogParser,
};
use std::sync::OnceLock;

fn parsers() -> &'static [SyslogParser; 2] {
    static P: OnceLock<[SyslogParser; 2]> = OnceLock::new();
    P.get_or_init(|| {
        let make = |ecs| SyslogParser::new(&ParserSettings::defaults(ecs)).expect("stock parser");
        [make(true), make(false)]
    })
}

fuzz_target!(|data: &[u8]| {
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut framer = SyslogFramer::new();
    let mut frames = Vec::new();
    for chunk in data.chunks(step) {
        framer.push(chunk, &mut frames);
    }
    framer.finish(&mut frames);
    for f in &frames {
        if let Frame::Message(m) = f {
            for p in parsers() {
                let _ = parse(p, m);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Some(m) = parse_rfc5424(&text) {
        assert!(m.priority <= 191);
    }
});
