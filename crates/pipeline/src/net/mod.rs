//! What the network inputs (tcp, udp, syslog, beats, http) share: TLS server settings read
//! from Logstash 8's `ssl_*` options (`tls.rs`), the receipt an input waits on before it
//! tells its sender that events are safe (`receipt.rs`), and the Mesos task behind a
//! sender's address (`sender.rs`).

pub mod listener;
pub mod receipt;
pub mod sender;
pub mod tls;
