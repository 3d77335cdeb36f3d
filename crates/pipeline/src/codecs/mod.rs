//! Codec plugins, one per file.

pub mod multiline;
