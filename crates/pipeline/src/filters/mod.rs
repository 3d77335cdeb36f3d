//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod aggregate;
pub mod clone;
pub mod csv;
pub mod date;
pub mod de_dot;
pub mod dissect;
pub mod drop;
pub mod elapsed;
pub mod fingerprint;
pub mod grok;
pub mod json;
pub mod kv;
pub mod metrics;
pub mod mutate;
pub mod prune;
pub mod ruby;
// enrich: lookups against networks, databases and lists.
pub mod cidr;
pub mod dns;
pub mod geoip;
pub mod split;
pub mod syslog_pri;
pub mod tld;
pub mod translate;
pub mod truncate;
pub mod urldecode;
pub mod useragent;
pub mod uuid;
pub mod xml;
