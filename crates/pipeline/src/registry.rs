//! The plugin registry: one table per plugin kind, name → option schema + builder.
//! Adding a plugin means adding its file and one entry here.
//!
//! These are the pipeline crate's plugins. The product's one plugin set — these plus the
//! agent's inputs (`docker`) — is `logstash_mesos_agent::plugins::registry()`, the only
//! registry `run`, `check`, the agent, `-r` reload and the scheduler's validation use.

use crate::options::{OptKind, OptSpec};
use crate::plugin::{CodecBuilder, FilterBuilder, InputBuilder, OutputBuilder};
#[allow(unused_imports)]
use crate::{codecs, filters, inputs, outputs};

/// One registered plugin.
pub struct Entry<B> {
    pub name: &'static str,
    pub options: &'static [OptSpec],
    pub build: B,
    /// One line saying what the plugin does.
    pub doc: &'static str,
    /// The smallest body that builds (`match => {...}`), used by the registry test that
    /// builds every plugin and by the generated option reference.
    pub example: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Input,
    Filter,
    Output,
    Codec,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Filter => "filter",
            Kind::Output => "output",
            Kind::Codec => "codec",
        }
    }
}

/// Options every input accepts.
pub static COMMON_INPUT: &[OptSpec] = &[
    OptSpec::new(
        "id",
        OptKind::String,
        "a unique id for the plugin instance (names its checkpoints)",
    ),
    OptSpec::new(
        "type",
        OptKind::String,
        "sets [type] on events that have none",
    ),
    OptSpec::new("tags", OptKind::Array, "tags added to every event"),
    OptSpec::new(
        "add_field",
        OptKind::Hash,
        "fields added to every event (sprintf)",
    ),
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec that decodes the input's data",
    ),
    OptSpec::new(
        "enable_metric",
        OptKind::Boolean,
        "accepted for compatibility",
    )
    .default("true"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "ECS field names",
    ),
];

/// Options every filter accepts; they run only when the filter succeeded.
pub static COMMON_FILTER: &[OptSpec] = &[
    OptSpec::new("id", OptKind::String, "a unique id for the plugin instance"),
    OptSpec::new(
        "add_field",
        OptKind::Hash,
        "fields added on success (sprintf)",
    ),
    OptSpec::new(
        "remove_field",
        OptKind::Array,
        "fields removed on success (sprintf)",
    ),
    OptSpec::new("add_tag", OptKind::Array, "tags added on success (sprintf)"),
    OptSpec::new(
        "remove_tag",
        OptKind::Array,
        "tags removed on success (sprintf)",
    ),
    OptSpec::new(
        "enable_metric",
        OptKind::Boolean,
        "accepted for compatibility",
    )
    .default("true"),
    OptSpec::new(
        "periodic_flush",
        OptKind::Boolean,
        "accepted for compatibility; filters that need it (metrics, aggregate, elapsed) are flushed every 5 s",
    )
    .default("false"),
];

/// Options every output accepts.
pub static COMMON_OUTPUT: &[OptSpec] = &[
    OptSpec::new("id", OptKind::String, "a unique id for the plugin instance"),
    OptSpec::new("codec", OptKind::Codec, "the codec that encodes events"),
    OptSpec::new(
        "enable_metric",
        OptKind::Boolean,
        "accepted for compatibility",
    )
    .default("true"),
    OptSpec::new("workers", OptKind::Number, "accepted for compatibility").default("1"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "ECS field names",
    ),
];

/// Options every codec accepts.
pub static COMMON_CODEC: &[OptSpec] = &[
    OptSpec::new("id", OptKind::String, "a unique id for the codec instance"),
    OptSpec::new(
        "enable_metric",
        OptKind::Boolean,
        "accepted for compatibility",
    )
    .default("true"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "ECS field names",
    ),
];

/// `charset`, declared once for the text codecs that take it.
pub const CHARSET: OptSpec = OptSpec::new(
    "charset",
    OptKind::String,
    "accepted for compatibility: input is decoded as UTF-8 (invalid bytes replaced)",
)
.default("\"UTF-8\"");

pub static INPUTS: &[Entry<InputBuilder>] = &[
    Entry {
        name: "stdin",
        options: inputs::stdin::OPTIONS,
        build: inputs::stdin::build,
        doc: "reads events from standard input",
        example: "",
    },
    Entry {
        name: "generator",
        options: inputs::generator::OPTIONS,
        build: inputs::generator::build,
        doc: "generates events (tests, benchmarks)",
        example: r#"count => 1"#,
    },
    Entry {
        name: "file",
        options: inputs::file::OPTIONS,
        build: inputs::file::build,
        doc: "tails files on this host (rotation-safe, checkpointed)",
        example: r#"path => ["/var/log/app/*.log"]"#,
    },
    Entry {
        name: "dead_letter_queue",
        options: inputs::dead_letter_queue::OPTIONS,
        build: inputs::dead_letter_queue::build,
        doc: "replays events from the dead letter queue",
        example: r#"path => "/var/lib/logstash/dead_letter_queue""#,
    },
    Entry {
        name: "kafka",
        options: inputs::kafka::OPTIONS,
        build: inputs::kafka::build,
        doc: "reads Kafka topics as a consumer group member (commits after delivery)",
        example: r#"bootstrap_servers => "127.0.0.1:9092""#,
    },
    Entry {
        name: "pipeline",
        options: inputs::pipeline::OPTIONS,
        build: inputs::pipeline::build,
        doc: "receives events other pipelines of this process send to its address",
        example: r#"address => "parsed""#,
    },
    Entry {
        name: "beats",
        options: inputs::beats::OPTIONS,
        build: inputs::beats::build,
        doc: "receives events from Beats and other Lumberjack v2 senders",
        example: r#"port => 5044"#,
    },
    Entry {
        name: "tcp",
        options: inputs::tcp::OPTIONS,
        build: inputs::tcp::build,
        doc: "reads events from TCP connections (server or client mode)",
        example: r#"port => 5000"#,
    },
    Entry {
        name: "udp",
        options: inputs::udp::OPTIONS,
        build: inputs::udp::build,
        doc: "reads events from UDP datagrams",
        example: r#"port => 5000"#,
    },
    Entry {
        name: "syslog",
        options: inputs::syslog::OPTIONS,
        build: inputs::syslog::build,
        doc: "receives RFC 3164 and RFC 5424 syslog messages over TCP and UDP",
        example: r#"port => 5514"#,
    },
    Entry {
        name: "gelf",
        options: inputs::gelf::OPTIONS,
        build: inputs::gelf::build,
        doc: "receives GELF messages (Graylog, Docker's gelf log driver) over UDP and TCP",
        example: r#"port => 12201"#,
    },
    Entry {
        name: "http",
        options: inputs::http::OPTIONS,
        build: inputs::http::build,
        doc: "receives events in HTTP(S) requests, decoding each body by its content type; answers once the events are safe",
        example: r#"port => 8080 additional_codecs => { "application/json" => "json" "application/x-ndjson" => "json_lines" }"#,
    },
];

pub static FILTERS: &[Entry<FilterBuilder>] = &[
    Entry {
        name: "mutate",
        options: filters::mutate::OPTIONS,
        build: filters::mutate::build,
        doc: "renames, replaces, converts and edits fields",
        example: r#"rename => { "host" => "[host][name]" }"#,
    },
    Entry {
        name: "kv",
        options: filters::kv::OPTIONS,
        build: filters::kv::build,
        doc: "parses key=value pairs",
        example: "",
    },
    Entry {
        name: "dissect",
        options: filters::dissect::OPTIONS,
        build: filters::dissect::build,
        doc: "splits a field by literal delimiters",
        example: r#"mapping => { "message" => "%{a} %{b}" }"#,
    },
    Entry {
        name: "json",
        options: filters::json::OPTIONS,
        build: filters::json::build,
        doc: "parses a field holding JSON",
        example: r#"source => "message""#,
    },
    Entry {
        name: "drop",
        options: filters::drop::OPTIONS,
        build: filters::drop::build,
        doc: "drops events (all or a percentage)",
        example: "",
    },
    Entry {
        name: "fingerprint",
        options: filters::fingerprint::OPTIONS,
        build: filters::fingerprint::build,
        doc: "hashes fields into a consistent fingerprint",
        example: "",
    },
    Entry {
        name: "grok",
        options: filters::grok::OPTIONS,
        build: filters::grok::build,
        doc: "parses fields with named regex patterns",
        example: r#"match => { "message" => "%{COMBINEDAPACHELOG}" }"#,
    },
    Entry {
        name: "date",
        options: filters::date::OPTIONS,
        build: filters::date::build,
        doc: "parses dates from fields into @timestamp",
        example: r#"match => ["timestamp", "ISO8601"]"#,
    },
    // enrich filters (geoip, useragent, cidr, tld, dns).
    Entry {
        name: "cidr",
        options: filters::cidr::OPTIONS,
        build: filters::cidr::build,
        doc: "matches IP addresses against networks",
        example: r#"address => ["%{clientip}"] network => ["10.0.0.0/8"] add_tag => ["internal"]"#,
    },
    Entry {
        name: "tld",
        options: filters::tld::OPTIONS,
        build: filters::tld::build,
        doc: "splits domain names with the public suffix list",
        example: r#"source => "domain""#,
    },
    Entry {
        name: "geoip",
        options: filters::geoip::OPTIONS,
        build: filters::geoip::build,
        doc: "adds geographical and AS data for IP addresses (MaxMind DB)",
        example: r#"source => "[client][ip]" database => "${GEOIP_CITY_DB}""#,
    },
    Entry {
        name: "useragent",
        options: filters::useragent::OPTIONS,
        build: filters::useragent::build,
        doc: "parses user agent strings (ua-parser rules)",
        example: r#"source => "agent" target => "user_agent""#,
    },
    Entry {
        name: "dns",
        options: filters::dns::OPTIONS,
        build: filters::dns::build,
        doc: "resolves names and reverses addresses",
        example: r#"reverse => ["[source][ip]"] action => "replace""#,
    },
    Entry {
        name: "csv",
        options: filters::csv::OPTIONS,
        build: filters::csv::build,
        doc: "parses a CSV line into fields",
        example: r#"columns => ["ts", "host", "status"] separator => ",""#,
    },
    Entry {
        name: "translate",
        options: filters::translate::OPTIONS,
        build: filters::translate::build,
        doc: "replaces field values using a dictionary (inline or a reloaded file)",
        example: r#"source => "status" target => "status_text" dictionary => { "200" => "OK" "404" => "Not Found" }"#,
    },
    Entry {
        name: "xml",
        options: filters::xml::OPTIONS,
        build: filters::xml::build,
        doc: "parses XML into fields (XmlSimple structure and XPath)",
        example: r#"source => "message" target => "doc""#,
    },
    Entry {
        name: "split",
        options: filters::split::OPTIONS,
        build: filters::split::build,
        doc: "splits a string or array field into one event per piece",
        example: r#"field => "items""#,
    },
    Entry {
        name: "clone",
        options: filters::clone::OPTIONS,
        build: filters::clone::build,
        doc: "emits copies of the event (typed in legacy mode, tagged in ECS mode)",
        example: r#"clones => ["copy"]"#,
    },
    Entry {
        name: "syslog_pri",
        options: filters::syslog_pri::OPTIONS,
        build: filters::syslog_pri::build,
        doc: "decodes a syslog PRI into facility and severity",
        example: "",
    },
    Entry {
        name: "urldecode",
        options: filters::urldecode::OPTIONS,
        build: filters::urldecode::build,
        doc: "decodes %XX escapes in fields",
        example: r#"field => "request""#,
    },
    Entry {
        name: "uuid",
        options: filters::uuid::OPTIONS,
        build: filters::uuid::build,
        doc: "sets a field to a random UUID",
        example: r#"target => "[event][id]""#,
    },
    Entry {
        name: "truncate",
        options: filters::truncate::OPTIONS,
        build: filters::truncate::build,
        doc: "shortens strings to a byte length at character boundaries",
        example: r#"fields => ["message"] length_bytes => 1024"#,
    },
    Entry {
        name: "prune",
        options: filters::prune::OPTIONS,
        build: filters::prune::build,
        doc: "removes fields by name or value (white/blacklists)",
        example: r#"whitelist_names => ["^message$", "^@timestamp$"]"#,
    },
    Entry {
        name: "de_dot",
        options: filters::de_dot::OPTIONS,
        build: filters::de_dot::build,
        doc: "renames fields whose names contain dots",
        example: r#"separator => "_""#,
    },
    Entry {
        name: "elapsed",
        options: filters::elapsed::OPTIONS,
        build: filters::elapsed::build,
        doc: "time between a start and an end event with the same id",
        example: r#"start_tag => "task_start" end_tag => "task_end" unique_id_field => "task_id""#,
    },
    Entry {
        name: "aggregate",
        options: filters::aggregate::OPTIONS,
        build: filters::aggregate::build,
        doc: "aggregates the events of one task into a map (needs one worker)",
        example: r#"task_id => "%{task_id}" code => "map['n'] ||= 0; map['n'] += 1""#,
    },
    Entry {
        name: "ruby",
        options: filters::ruby::OPTIONS,
        build: filters::ruby::build,
        doc: "runs Ruby code on every event (embedded CRuby; cargo feature `ruby`)",
        example: r#"code => "event.set('ruby', true)""#,
    },
    Entry {
        name: "metrics",
        options: filters::metrics::OPTIONS,
        build: filters::metrics::build,
        doc: "counts and times events, emitting rates and percentiles periodically",
        example: r#"meter => ["events"] add_tag => ["metric"]"#,
    },
];

pub static OUTPUTS: &[Entry<OutputBuilder>] = &[
    Entry {
        name: "stdout",
        options: outputs::stdout::OPTIONS,
        build: outputs::stdout::build,
        doc: "prints events to standard output",
        example: "",
    },
    Entry {
        name: "file",
        options: outputs::file::OPTIONS,
        build: outputs::file::build,
        doc: "writes events to files (sprintf path)",
        example: r#"path => "/tmp/out.log""#,
    },
    Entry {
        name: "pipeline",
        options: outputs::pipeline::OPTIONS,
        build: outputs::pipeline::build,
        doc: "sends events to the pipeline inputs of other pipelines of this process",
        example: r#"send_to => ["parsed"]"#,
    },
    Entry {
        name: "null",
        options: outputs::null::OPTIONS,
        build: outputs::null::build,
        doc: "discards events (acknowledged)",
        example: "",
    },
    Entry {
        name: "elasticsearch",
        options: outputs::elasticsearch::OPTIONS,
        build: outputs::elasticsearch::build,
        doc: "bulk-indexes events into Elasticsearch",
        example: r#"hosts => ["http://127.0.0.1:9200"]"#,
    },
    Entry {
        name: "opensearch",
        options: outputs::opensearch::OPTIONS,
        build: outputs::opensearch::build,
        doc: "bulk-indexes events into OpenSearch (the elasticsearch output's code)",
        example: r#"hosts => ["http://127.0.0.1:9200"]"#,
    },
    Entry {
        name: "kafka",
        options: outputs::kafka::OPTIONS,
        build: outputs::kafka::build,
        doc: "writes events to Kafka topics (returns once Kafka acknowledged)",
        example: r#"bootstrap_servers => "127.0.0.1:9092" topic_id => "logs""#,
    },
];

pub static CODECS: &[Entry<CodecBuilder>] = &[
    Entry {
        name: "line",
        options: codecs::line::OPTIONS,
        build: codecs::line::build,
        doc: "one event per line",
        example: "",
    },
    Entry {
        name: "multiline",
        options: codecs::multiline::OPTIONS,
        build: codecs::multiline::build,
        doc: "joins related lines into one event",
        example: r#"pattern => "^\s" what => "previous""#,
    },
    Entry {
        name: "plain",
        options: codecs::plain::OPTIONS,
        build: codecs::plain::build,
        doc: "the data as the message",
        example: "",
    },
    Entry {
        name: "json",
        options: codecs::json::OPTIONS,
        build: codecs::json::build,
        doc: "one JSON document",
        example: "",
    },
    Entry {
        name: "json_lines",
        options: codecs::json_lines::OPTIONS,
        build: codecs::json_lines::build,
        doc: "newline-delimited JSON",
        example: "",
    },
    Entry {
        name: "rubydebug",
        options: codecs::rubydebug::OPTIONS,
        build: codecs::rubydebug::build,
        doc: "pretty-printed events",
        example: "",
    },
    Entry {
        name: "cef",
        options: codecs::cef::OPTIONS,
        build: codecs::cef::build,
        doc: "ArcSight Common Event Format",
        example: "",
    },
    Entry {
        name: "dots",
        options: codecs::dots::OPTIONS,
        build: codecs::dots::build,
        doc: "one dot per event (encode only)",
        example: "",
    },
    Entry {
        name: "es_bulk",
        options: codecs::es_bulk::OPTIONS,
        build: codecs::es_bulk::build,
        doc: "Elasticsearch bulk API NDJSON",
        example: "",
    },
];

/// The options every plugin of `kind` takes besides its own.
pub fn common_options(kind: Kind) -> &'static [OptSpec] {
    match kind {
        Kind::Input => COMMON_INPUT,
        Kind::Filter => COMMON_FILTER,
        Kind::Output => COMMON_OUTPUT,
        Kind::Codec => COMMON_CODEC,
    }
}

/// The plugins a pipeline may use: the tables of this crate plus plugins registered by
/// other crates (the agent's inputs). `logstash_mesos_agent::plugins::registry()` builds
/// the product's one set; this crate's own tests use [`Registry::builtin`].
#[derive(Clone)]
pub struct Registry {
    pub inputs: Vec<&'static Entry<InputBuilder>>,
    pub filters: Vec<&'static Entry<FilterBuilder>>,
    pub outputs: Vec<&'static Entry<OutputBuilder>>,
    pub codecs: Vec<&'static Entry<CodecBuilder>>,
}

impl Registry {
    /// The plugins of this crate.
    pub fn builtin() -> Registry {
        Registry {
            inputs: INPUTS.iter().collect(),
            filters: FILTERS.iter().collect(),
            outputs: OUTPUTS.iter().collect(),
            codecs: CODECS.iter().collect(),
        }
    }

    /// The option reference of every plugin as Markdown (`docs/plugins.md` is this text;
    /// a test fails when the file and the schemas differ, so the docs cannot drift).
    pub fn reference_markdown(&self) -> String {
        use std::fmt::Write;
        fn cell(s: &str) -> String {
            s.replace('|', "\\|").replace('\n', "\\n")
        }
        fn table(out: &mut String, opts: &[OptSpec]) {
            out.push_str("| option | type | default | |\n|---|---|---|---|\n");
            for o in opts {
                let default = match (o.required, o.default, o.computed_default) {
                    (true, _, _) => "required".to_string(),
                    (_, Some(d), _) => format!("`{}`", cell(d)),
                    (_, None, Some(c)) => cell(c),
                    _ => "—".to_string(),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    o.name,
                    cell(&o.kind.describe()),
                    default,
                    cell(o.doc)
                );
            }
        }
        let mut out = String::from(
            "# Plugin option reference\n\n\
             Generated from the plugins' schemas (`Registry::reference_markdown`); do not edit:\n\
             `LSM_UPDATE_DOCS=1 cargo test -p logstash-mesos-agent reference` rewrites it.\n\
             Every plugin also takes the common options of its kind, listed at the end.\n",
        );
        let kinds: [(&str, Kind, Vec<(&str, &str, &[OptSpec])>); 4] = [
            (
                "Inputs",
                Kind::Input,
                self.inputs
                    .iter()
                    .map(|e| (e.name, e.doc, e.options))
                    .collect(),
            ),
            (
                "Filters",
                Kind::Filter,
                self.filters
                    .iter()
                    .map(|e| (e.name, e.doc, e.options))
                    .collect(),
            ),
            (
                "Outputs",
                Kind::Output,
                self.outputs
                    .iter()
                    .map(|e| (e.name, e.doc, e.options))
                    .collect(),
            ),
            (
                "Codecs",
                Kind::Codec,
                self.codecs
                    .iter()
                    .map(|e| (e.name, e.doc, e.options))
                    .collect(),
            ),
        ];
        for (title, _, mut entries) in kinds.clone() {
            entries.sort_by_key(|e| e.0);
            let _ = write!(out, "\n## {title}\n");
            for (name, doc, opts) in entries {
                let mut chars = doc.chars();
                let doc: String = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                let _ = write!(out, "\n### {name}\n\n{doc}.\n\n");
                if opts.is_empty() {
                    out.push_str("No options of its own.\n");
                } else {
                    table(&mut out, opts);
                }
            }
        }
        out.push_str("\n## Common options\n");
        for (title, kind, _) in kinds {
            let _ = write!(out, "\n### {title}\n\n");
            table(&mut out, common_options(kind));
        }
        out
    }

    /// Adds (or replaces, by name) an input plugin of another crate.
    pub fn add_input(&mut self, e: &'static Entry<InputBuilder>) {
        self.inputs.retain(|x| x.name != e.name);
        self.inputs.push(e);
    }

    /// Adds (or replaces, by name) an output plugin of another crate.
    pub fn add_output(&mut self, e: &'static Entry<OutputBuilder>) {
        self.outputs.retain(|x| x.name != e.name);
        self.outputs.push(e);
    }

    pub fn input(&self, name: &str) -> Option<&'static Entry<InputBuilder>> {
        self.inputs.iter().copied().find(|e| e.name == name)
    }
    pub fn filter(&self, name: &str) -> Option<&'static Entry<FilterBuilder>> {
        self.filters.iter().copied().find(|e| e.name == name)
    }
    pub fn output(&self, name: &str) -> Option<&'static Entry<OutputBuilder>> {
        self.outputs.iter().copied().find(|e| e.name == name)
    }
    pub fn codec(&self, name: &str) -> Option<&'static Entry<CodecBuilder>> {
        self.codecs.iter().copied().find(|e| e.name == name)
    }

    /// The option schema of plugin `name` of `kind`: its own options and the options every
    /// plugin of the kind accepts. A plugin's own option of the same name as a common one
    /// (`codec` with the plugin's default codec) takes its place.
    pub fn options_of(&self, kind: Kind, name: &str) -> Option<Schema> {
        let (own, common) = match kind {
            Kind::Input => (self.input(name)?.options, COMMON_INPUT),
            Kind::Filter => (self.filter(name)?.options, COMMON_FILTER),
            Kind::Output => (self.output(name)?.options, COMMON_OUTPUT),
            Kind::Codec => (self.codec(name)?.options, COMMON_CODEC),
        };
        Some(Schema { own, common })
    }

    /// Every plugin name of `kind` (for suggestions).
    pub fn names(&self, kind: Kind) -> Vec<&'static str> {
        match kind {
            Kind::Input => self.inputs.iter().map(|e| e.name).collect(),
            Kind::Filter => self.filters.iter().map(|e| e.name).collect(),
            Kind::Output => self.outputs.iter().map(|e| e.name).collect(),
            Kind::Codec => self.codecs.iter().map(|e| e.name).collect(),
        }
    }
}

impl Registry {
    /// Checks every schema: each plugin and option documented, option names unique within
    /// a plugin, at most one of `default` and `computed_default`. One message per fault.
    pub fn check_schemas(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut check = |kind: Kind, name: &str, doc: &str| {
            if doc.is_empty() {
                failures.push(format!("{} {name}: no doc", kind.as_str()));
            }
            let Some(schema) = self.options_of(kind, name) else {
                return;
            };
            let mut seen = std::collections::HashSet::new();
            for o in schema.own {
                if !seen.insert(o.name) {
                    failures.push(format!(
                        "{} {name}: option {} declared twice",
                        kind.as_str(),
                        o.name
                    ));
                }
            }
            for o in schema.iter() {
                if o.doc.is_empty() {
                    failures.push(format!(
                        "{} {name}: option {} has no doc",
                        kind.as_str(),
                        o.name
                    ));
                }
                if o.default.is_some() && o.computed_default.is_some() {
                    failures.push(format!(
                        "{} {name}: option {} has both a default and a computed default",
                        kind.as_str(),
                        o.name
                    ));
                }
            }
        };
        for e in &self.inputs {
            check(Kind::Input, e.name, e.doc);
        }
        for e in &self.filters {
            check(Kind::Filter, e.name, e.doc);
        }
        for e in &self.outputs {
            check(Kind::Output, e.name, e.doc);
        }
        for e in &self.codecs {
            check(Kind::Codec, e.name, e.doc);
        }
        failures
    }

    /// Builds every registered plugin from its `example` through the real parser and
    /// compiler (so every schema default is parsed and coerced too); returns one message
    /// per plugin that fails. Needs a tokio runtime (outputs open clients).
    pub fn check_examples(&self) -> Vec<String> {
        use crate::lang::{compile::compile, parse, ParseOptions, Sources};
        let ctx = crate::plugin::BuildContext {
            path_data: std::env::temp_dir().join("logstash-mesos-registry-check"),
            ..Default::default()
        };
        let mut configs = Vec::new();
        for e in &self.inputs {
            configs.push((
                e.name,
                format!("input {{ {} {{ {} }} }}", e.name, e.example),
            ));
        }
        for e in &self.filters {
            // Without the `ruby` feature the ruby filter is registered but cannot build.
            if cfg!(not(feature = "ruby")) && e.name == "ruby" {
                continue;
            }
            configs.push((
                e.name,
                format!("filter {{ {} {{ {} }} }}", e.name, e.example),
            ));
        }
        for e in &self.outputs {
            configs.push((
                e.name,
                format!("output {{ {} {{ {} }} }}", e.name, e.example),
            ));
        }
        for e in &self.codecs {
            let body = if e.example.is_empty() {
                format!("codec => {}", e.name)
            } else {
                format!("codec => {} {{ {} }}", e.name, e.example)
            };
            configs.push((e.name, format!("input {{ stdin {{ {body} }} }}")));
        }
        let mut failures = Vec::new();
        for (name, text) in configs {
            let sources = Sources::from_string(name, &text);
            let result = parse(&sources, &ParseOptions::default())
                .and_then(|ast| compile(&ast, self, &ctx).map(drop));
            if let Err(d) = result {
                failures.push(format!("{name}: {}", sources.render_all(&d)));
            }
        }
        failures
    }
}

/// The options one plugin accepts: its own, then the common options of its kind that it
/// does not redeclare.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    pub own: &'static [OptSpec],
    pub common: &'static [OptSpec],
}

impl Schema {
    /// Every option, own first; a redeclared common option appears once, as declared by
    /// the plugin.
    pub fn iter(&self) -> impl Iterator<Item = &'static OptSpec> + '_ {
        let own = self.own;
        own.iter().chain(
            self.common
                .iter()
                .filter(move |c| !own.iter().any(|o| o.name == c.name)),
        )
    }

    pub fn find(&self, name: &str) -> Option<&'static OptSpec> {
        self.iter().find(|o| o.name == name)
    }
}

/// The nearest known name, for "did you mean" hints.
pub fn suggest<'a>(candidates: impl IntoIterator<Item = &'a str>, wrong: &str) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(c, wrong), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every plugin is documented and names are unique per plugin.
    #[test]
    fn every_option_documented_and_unique() {
        let failures = Registry::builtin().check_schemas();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every entry builds from its example with every schema default applied.
    #[tokio::test]
    async fn every_plugin_builds_from_its_schema() {
        let failures = without_missing_geoip_db(Registry::builtin().check_examples());
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// The geoip example names its database through `${GEOIP_CITY_DB}` (the binary ships
    /// none; `scripts/setup/geoip.sh` installs test files). Outside CI a machine without
    /// them skips that one example, saying so; with `CI=true` it fails.
    pub(crate) fn without_missing_geoip_db(failures: Vec<String>) -> Vec<String> {
        let ci = std::env::var("CI").as_deref() == Ok("true");
        failures
            .into_iter()
            .filter(|f| {
                let skip = !ci && f.contains("GEOIP_CITY_DB");
                if skip {
                    eprintln!("skipped the geoip example: GEOIP_CITY_DB is not set (scripts/setup/geoip.sh)");
                }
                !skip
            })
            .collect()
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(suggest(["match", "overwrite"], "mach"), Some("match"));
        assert_eq!(suggest(["match", "overwrite"], "zzz"), None);
    }
}
