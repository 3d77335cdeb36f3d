//! The logstash-mesos Mesos framework: keeps one shipper agent on every node, serves
//! the pipeline configs the agents run, and pushes config changes to them.

pub mod proto;
pub mod recordio;
pub mod sched;

#[cfg(test)]
mod testutil;
