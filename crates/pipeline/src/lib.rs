//! The Logstash config language, the plugins (inputs, codecs, filters, outputs) and the
//! pipeline that runs them: inputs → bounded queue → workers (filters, then outputs).

pub mod bus;
pub mod codecs;
pub mod condition;
pub mod dlq;
pub mod filter_common;
pub mod filters;
pub mod framing;
pub mod graph;
pub mod grok;
pub mod input_context;
pub mod inputs;
pub mod kafka_config;
pub mod lang;
pub mod load;
pub mod net;
pub mod options;
pub mod outputs;
pub mod plugin;
pub mod queue;
pub mod registry;
pub mod ruby;
pub mod runner;
pub mod settings;
pub mod settings_file;
pub mod units;
