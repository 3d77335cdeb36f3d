//! The stock grok pattern library (logstash-plugins/logstash-patterns-core, Apache-2.0;
//! see `patterns/README.md` for the attribution).

/// The stock `legacy` pattern files, embedded so the binary is self-contained.
pub static LEGACY: &[(&str, &str)] = &[
    ("aws", include_str!("../../patterns/legacy/aws")),
    ("bacula", include_str!("../../patterns/legacy/bacula")),
    ("bind", include_str!("../../patterns/legacy/bind")),
    ("bro", include_str!("../../patterns/legacy/bro")),
    ("exim", include_str!("../../patterns/legacy/exim")),
    ("firewalls", include_str!("../../patterns/legacy/firewalls")),
    (
        "grok-patterns",
        include_str!("../../patterns/legacy/grok-patterns"),
    ),
    ("haproxy", include_str!("../../patterns/legacy/haproxy")),
    ("httpd", include_str!("../../patterns/legacy/httpd")),
    ("java", include_str!("../../patterns/legacy/java")),
    ("junos", include_str!("../../patterns/legacy/junos")),
    (
        "linux-syslog",
        include_str!("../../patterns/legacy/linux-syslog"),
    ),
    ("maven", include_str!("../../patterns/legacy/maven")),
    (
        "mcollective",
        include_str!("../../patterns/legacy/mcollective"),
    ),
    (
        "mcollective-patterns",
        include_str!("../../patterns/legacy/mcollective-patterns"),
    ),
    ("mongodb", include_str!("../../patterns/legacy/mongodb")),
    ("nagios", include_str!("../../patterns/legacy/nagios")),
    (
        "postgresql",
        include_str!("../../patterns/legacy/postgresql"),
    ),
    ("rails", include_str!("../../patterns/legacy/rails")),
    ("redis", include_str!("../../patterns/legacy/redis")),
    ("ruby", include_str!("../../patterns/legacy/ruby")),
    ("squid", include_str!("../../patterns/legacy/squid")),
];

/// The stock `ecs-v1` pattern files, embedded so the binary is self-contained.
pub static ECS_V1: &[(&str, &str)] = &[
    ("aws", include_str!("../../patterns/ecs-v1/aws")),
    ("bacula", include_str!("../../patterns/ecs-v1/bacula")),
    ("bind", include_str!("../../patterns/ecs-v1/bind")),
    ("bro", include_str!("../../patterns/ecs-v1/bro")),
    ("exim", include_str!("../../patterns/ecs-v1/exim")),
    ("firewalls", include_str!("../../patterns/ecs-v1/firewalls")),
    (
        "grok-patterns",
        include_str!("../../patterns/ecs-v1/grok-patterns"),
    ),
    ("haproxy", include_str!("../../patterns/ecs-v1/haproxy")),
    ("httpd", include_str!("../../patterns/ecs-v1/httpd")),
    ("java", include_str!("../../patterns/ecs-v1/java")),
    ("junos", include_str!("../../patterns/ecs-v1/junos")),
    (
        "linux-syslog",
        include_str!("../../patterns/ecs-v1/linux-syslog"),
    ),
    ("maven", include_str!("../../patterns/ecs-v1/maven")),
    (
        "mcollective",
        include_str!("../../patterns/ecs-v1/mcollective"),
    ),
    ("mongodb", include_str!("../../patterns/ecs-v1/mongodb")),
    ("nagios", include_str!("../../patterns/ecs-v1/nagios")),
    (
        "postgresql",
        include_str!("../../patterns/ecs-v1/postgresql"),
    ),
    ("rails", include_str!("../../patterns/ecs-v1/rails")),
    ("redis", include_str!("../../patterns/ecs-v1/redis")),
    ("ruby", include_str!("../../patterns/ecs-v1/ruby")),
    ("squid", include_str!("../../patterns/ecs-v1/squid")),
    ("zeek", include_str!("../../patterns/ecs-v1/zeek")),
];
