//! Filters: one plugin per file, registered in `registry.rs`.

pub mod date;
