//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod dissect;
pub mod drop;
pub mod fingerprint;
pub mod grok;
pub mod date;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod rubyre;
