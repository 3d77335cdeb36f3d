//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod aggregate;
pub mod date;
pub mod dissect;
pub mod drop;
pub mod elapsed;
pub mod fingerprint;
pub mod grok;
pub mod json;
pub mod kv;
pub mod metrics;
pub mod mutate;
pub mod rubyre;
