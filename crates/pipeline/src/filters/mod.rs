//! Filter plugins: one file (or folder) per plugin, registered in `registry.rs`.

pub mod dissect;
pub mod drop;
pub mod fingerprint;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod rubyre;
