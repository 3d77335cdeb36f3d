//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod date;
pub mod dissect;
pub mod drop;
pub mod fingerprint;
pub mod grok;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod rubyre;
// enrich: lookups against networks, databases and lists.
pub mod cidr;
pub mod dns;
pub mod geoip;
pub mod tld;
pub mod useragent;
