//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod clone;
pub mod csv;
pub mod date;
pub mod de_dot;
pub mod dissect;
pub mod drop;
pub mod fingerprint;
pub mod grok;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod prune;
pub mod rubyre;
pub mod split;
pub mod syslog_pri;
pub mod translate;
pub mod truncate;
pub mod urldecode;
pub mod uuid;
pub mod xml;
