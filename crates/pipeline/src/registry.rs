//! The plugin registry: one table per plugin kind, name → option schema + builder.
//! Adding a plugin means adding its file and one line here.

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

pub static INPUTS: &[Entry<InputBuilder>] = &[
    Entry {
        name: "stdin",
        options: inputs::stdin::OPTIONS,
        build: inputs::stdin::build,
        doc: "reads events from standard input",
    },
    Entry {
        name: "generator",
        options: inputs::generator::OPTIONS,
        build: inputs::generator::build,
        doc: "generates events (tests, benchmarks)",
    },
    Entry {
        name: "file",
        options: inputs::file::OPTIONS,
        build: inputs::file::build,
        doc: "tails files on this host (rotation-safe, checkpointed)",
    },
    Entry {
        name: "dead_letter_queue",
        options: inputs::dead_letter_queue::OPTIONS,
        build: inputs::dead_letter_queue::build,
        doc: "replays events from the dead letter queue",
    },
];

pub static FILTERS: &[Entry<FilterBuilder>] = &[
    Entry {
        name: "mutate",
        options: filters::mutate::OPTIONS,
        build: filters::mutate::build,
        doc: "renames, replaces, converts and edits fields",
    },
    Entry {
        name: "kv",
        options: filters::kv::OPTIONS,
        build: filters::kv::build,
        doc: "parses key=value pairs",
    },
    Entry {
        name: "dissect",
        options: filters::dissect::OPTIONS,
        build: filters::dissect::build,
        doc: "splits a field by literal delimiters",
    },
    Entry {
        name: "json",
        options: filters::json::OPTIONS,
        build: filters::json::build,
        doc: "parses a field holding JSON",
    },
    Entry {
        name: "drop",
        options: filters::drop::OPTIONS,
        build: filters::drop::build,
        doc: "drops events (all or a percentage)",
    },
    Entry {
        name: "fingerprint",
        options: filters::fingerprint::OPTIONS,
        build: filters::fingerprint::build,
        doc: "hashes fields into a consistent fingerprint",
    },
    Entry {
        name: "grok",
        options: filters::grok::OPTIONS,
        build: filters::grok::build,
        doc: "parses fields with named regex patterns",
    },
    Entry {
        name: "date",
        options: filters::date::OPTIONS,
        build: filters::date::build,
        doc: "parses dates from fields into @timestamp",
    },
    Entry {
        name: "elapsed",
        options: filters::elapsed::OPTIONS,
        build: filters::elapsed::build,
        doc: "time between a start and an end event with the same id",
    },
    Entry {
        name: "aggregate",
        options: filters::aggregate::OPTIONS,
        build: filters::aggregate::build,
        doc: "aggregates the events of one task into a map (needs one worker)",
    },
    Entry {
        name: "metrics",
        options: filters::metrics::OPTIONS,
        build: filters::metrics::build,
        doc: "counts and times events, emitting rates and percentiles periodically",
    },
];

pub static OUTPUTS: &[Entry<OutputBuilder>] = &[
    Entry {
        name: "stdout",
        options: outputs::stdout::OPTIONS,
        build: outputs::stdout::build,
        doc: "prints events to standard output",
    },
    Entry {
        name: "file",
        options: outputs::file::OPTIONS,
        build: outputs::file::build,
        doc: "writes events to files (sprintf path)",
    },
    Entry {
        name: "null",
        options: outputs::null::OPTIONS,
        build: outputs::null::build,
        doc: "discards events (acknowledged)",
    },
    Entry {
        name: "elasticsearch",
        options: outputs::elasticsearch::OPTIONS,
        build: outputs::elasticsearch::build,
        doc: "bulk-indexes events into Elasticsearch",
    },
];

pub static CODECS: &[Entry<CodecBuilder>] = &[
    Entry {
        name: "line",
        options: codecs::line::OPTIONS,
        build: codecs::line::build,
        doc: "one event per line",
    },
    Entry {
        name: "multiline",
        options: codecs::multiline::OPTIONS,
        build: codecs::multiline::build,
        doc: "joins related lines into one event",
    },
    Entry {
        name: "plain",
        options: codecs::plain::OPTIONS,
        build: codecs::plain::build,
        doc: "the data as the message",
    },
    Entry {
        name: "json",
        options: codecs::json::OPTIONS,
        build: codecs::json::build,
        doc: "one JSON document",
    },
    Entry {
        name: "json_lines",
        options: codecs::json_lines::OPTIONS,
        build: codecs::json_lines::build,
        doc: "newline-delimited JSON",
    },
    Entry {
        name: "rubydebug",
        options: codecs::rubydebug::OPTIONS,
        build: codecs::rubydebug::build,
        doc: "pretty-printed events",
    },
    Entry {
        name: "cef",
        options: codecs::cef::OPTIONS,
        build: codecs::cef::build,
        doc: "ArcSight Common Event Format",
    },
    Entry {
        name: "dots",
        options: codecs::dots::OPTIONS,
        build: codecs::dots::build,
        doc: "one dot per event (encode only)",
    },
    Entry {
        name: "es_bulk",
        options: codecs::es_bulk::OPTIONS,
        build: codecs::es_bulk::build,
        doc: "Elasticsearch bulk API NDJSON",
    },
];

/// The plugins a pipeline may use: the built-in tables plus plugins registered by other
/// crates (the agent's `docker` input), assembled by the binary.
#[derive(Clone)]
pub struct Registry {
    pub inputs: Vec<&'static Entry<InputBuilder>>,
    pub filters: Vec<&'static Entry<FilterBuilder>>,
    pub outputs: Vec<&'static Entry<OutputBuilder>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The plugins of this crate.
    pub fn builtin() -> Registry {
        Registry {
            inputs: INPUTS.iter().collect(),
            filters: FILTERS.iter().collect(),
            outputs: OUTPUTS.iter().collect(),
        }
    }

    pub fn add_input(&mut self, e: &'static Entry<InputBuilder>) {
        self.inputs.retain(|x| x.name != e.name);
        self.inputs.push(e);
    }

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

    /// The option schema of plugin `name` of `kind`: its own and the common options.
    pub fn options_of(
        &self,
        kind: Kind,
        name: &str,
    ) -> Option<(&'static [OptSpec], &'static [OptSpec])> {
        match kind {
            Kind::Input => self.input(name).map(|e| (e.options, COMMON_INPUT)),
            Kind::Filter => self.filter(name).map(|e| (e.options, COMMON_FILTER)),
            Kind::Output => self.output(name).map(|e| (e.options, COMMON_OUTPUT)),
            Kind::Codec => codec(name).map(|e| (e.options, &[][..])),
        }
    }

    /// Every plugin name of `kind` (for suggestions).
    pub fn names(&self, kind: Kind) -> Vec<&'static str> {
        match kind {
            Kind::Input => self.inputs.iter().map(|e| e.name).collect(),
            Kind::Filter => self.filters.iter().map(|e| e.name).collect(),
            Kind::Output => self.outputs.iter().map(|e| e.name).collect(),
            Kind::Codec => CODECS.iter().map(|e| e.name).collect(),
        }
    }
}

pub fn codec(name: &str) -> Option<&'static Entry<CodecBuilder>> {
    CODECS.iter().find(|e| e.name == name)
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
        fn check<B>(kind: &str, t: &'static [Entry<B>], common: &[OptSpec]) {
            for e in t {
                let mut seen = std::collections::HashSet::new();
                for o in e.options.iter().chain(common) {
                    assert!(
                        !o.doc.is_empty(),
                        "{kind} {}: option {} has no doc",
                        e.name,
                        o.name
                    );
                    assert!(
                        seen.insert(o.name),
                        "{kind} {}: option {} declared twice",
                        e.name,
                        o.name
                    );
                }
                assert!(!e.doc.is_empty());
            }
        }
        check("input", INPUTS, COMMON_INPUT);
        check("filter", FILTERS, COMMON_FILTER);
        check("output", OUTPUTS, COMMON_OUTPUT);
        check("codec", CODECS, &[]);
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(suggest(["match", "overwrite"], "mach"), Some("match"));
        assert_eq!(suggest(["match", "overwrite"], "zzz"), None);
    }
}
