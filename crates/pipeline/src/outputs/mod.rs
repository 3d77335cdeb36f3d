//! Outputs: where events leave the pipeline. One file per output.

pub mod elasticsearch;
pub mod file;
pub mod kafka;
pub mod null;
pub mod opensearch;
pub mod pipeline;
pub mod stdout;
