//! `dots`: one `.` per encoded event (a progress indicator, e.g. `stdout { codec => dots }`),
//! as Logstash's dots codec. Like Logstash's, it cannot decode: input given to it is not
//! parsed but kept as a `message` tagged `_dotsdecodeunsupported` (Logstash raises "Not
//! implemented"), so no data disappears silently.

use crate::options::{Args, BuildResult, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::Event;

pub static OPTIONS: &[OptSpec] = &[];

#[derive(Clone, Default)]
pub struct DotsCodec {
    warned: bool,
}

pub fn build(_args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    Ok(Box::new(DotsCodec::default()))
}

impl Codec for DotsCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if data.is_empty() {
            return;
        }
        if !self.warned {
            self.warned = true;
            tracing::error!("the dots codec only encodes; input data is passed on tagged _dotsdecodeunsupported");
        }
        let mut e = Event::from_message(String::from_utf8_lossy(data).into_owned());
        e.add_tag("_dotsdecodeunsupported");
        out.push(e);
    }

    fn flush(&mut self, _out: &mut Vec<Event>) {}

    fn encode(&mut self, _event: &Event, out: &mut Vec<u8>) {
        out.push(b'.');
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(DotsCodec::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dot_per_event() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..3 {
            c.encode(&Event::from_message("x"), &mut out);
        }
        assert_eq!(out, b"...");
    }

    #[test]
    fn decode_is_tagged_not_lost() {
        let mut c = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
            &BuildContext::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.decode(b"some \xff data", &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].has_tag("_dotsdecodeunsupported"));
        assert_eq!(
            out[0].get_top("message").map(|v| v.to_logstash_string()),
            Some("some \u{fffd} data".to_string())
        );
    }
}
