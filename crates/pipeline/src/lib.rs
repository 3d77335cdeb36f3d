//! The Logstash config language, the plugins (inputs, codecs, filters, outputs) and the
//! pipeline that runs them: inputs → bounded queue → workers (filters, then outputs).

pub mod common;
pub mod input_context;
pub mod lang;
pub mod options;
pub mod plugin;
pub mod dlq;
pub mod inputs;
pub mod outputs;
