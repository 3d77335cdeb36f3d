//! The Logstash config language, the plugins (inputs, codecs, filters, outputs) and the
//! pipeline that runs them: inputs → bounded queue → workers (filters, then outputs).

pub mod common;
pub mod filters;
pub mod input_context;
pub mod lang;
pub mod options;
pub mod plugin;
