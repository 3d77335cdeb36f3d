//! Filters: synchronous event transformations, one file (or folder) per filter.

pub mod grok;
pub mod date;
