//! Input plugins, one per file (or folder module).

pub mod file;
