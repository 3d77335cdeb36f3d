//! Output plugins, one per file (or folder).

pub mod elasticsearch;
