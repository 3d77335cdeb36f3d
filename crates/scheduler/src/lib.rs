//! The logstash-mesos Mesos framework: keeps one shipper agent on every node, serves
//! the pipeline configs the agents run, and pushes config changes to them.

pub mod api;
pub mod client;
pub mod configs;
pub mod driver;
pub mod proto;
pub mod recordio;
pub mod sched;
pub mod store;

#[cfg(test)]
mod testutil;
