//! Input plugins, one per file (or folder).

pub mod dead_letter_queue;
