//! What the network inputs (tcp, udp, syslog, beats, http) share: TLS server settings read
//! from Logstash 8's `ssl_*` options, and a receipt an input waits on before it tells its
//! sender that events are safe.

pub mod receipt;
pub mod tls;
