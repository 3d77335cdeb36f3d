//! Inputs: where events enter the pipeline. One file (or folder) per input.

pub mod beats;
pub mod dead_letter_queue;
pub mod file;
pub mod gelf;
pub mod generator;
pub mod http;
pub mod kafka;
pub mod pipeline;
pub mod stdin;
pub mod syslog;
pub mod tcp;
pub mod udp;

/// This host's name, as inputs record it.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Sets the host field the way Logstash 8 inputs do: `[host][hostname]` in ECS mode,
/// `host` otherwise, never overwriting one the event already has.
pub fn set_host(event: &mut logstash_mesos_core::Event, host: &str, ecs: bool) {
    use logstash_mesos_core::{FieldRef, Value};
    let r = if ecs {
        FieldRef::from_path(["host", "hostname"])
    } else {
        FieldRef::top("host")
    };
    if !event.contains(&r) && (ecs || !event.contains(&FieldRef::top("host"))) {
        let _ = event.set(&r, Value::from(host));
    }
}
