//! Connecting to the Docker daemon through bollard.

use bollard::Docker;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to docker at {host}: {source}")]
    Connect {
        host: String,
        source: bollard::errors::Error,
    },
    #[error("unsupported docker host {0:?}: expected unix:///path, tcp://host:port or https://host:port")]
    Scheme(String),
}

/// Connects to `host` (default `$DOCKER_HOST`, else the local unix socket); TLS when
/// `tls` or `$DOCKER_TLS_VERIFY` is set, with `ca.pem`, `cert.pem` and `key.pem` from
/// `cert_path` (default `$DOCKER_CERT_PATH`, else `~/.docker`).
pub fn connect(
    host: Option<&str>,
    tls: bool,
    cert_path: Option<&str>,
) -> Result<Docker, ConnectError> {
    let host = host
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    let tls = tls || std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
    let err = |source| ConnectError::Connect {
        host: host.clone(),
        source,
    };
    // Long-lived streams (logs follow, exec) must not hit a request timeout.
    let timeout = 365 * 24 * 3600;
    if let Some(path) = host.strip_prefix("unix://") {
        return Docker::connect_with_unix(
            &format!("unix://{path}"),
            timeout,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(err);
    }
    if host.starts_with("tcp://") || host.starts_with("http://") || host.starts_with("https://") {
        if tls || host.starts_with("https://") {
            let dir = cert_path
                .map(PathBuf::from)
                .or_else(|| std::env::var("DOCKER_CERT_PATH").ok().map(PathBuf::from))
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".docker")
                });
            return Docker::connect_with_ssl(
                &host,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                timeout,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(err);
        }
        return Docker::connect_with_http(&host, timeout, bollard::API_DEFAULT_VERSION)
            .map_err(err);
    }
    Err(ConnectError::Scheme(host))
}

/// Connects and negotiates the API version with the daemon (older daemons reject the
/// client's default version).
pub async fn connect_negotiated(
    host: Option<&str>,
    tls: bool,
    cert_path: Option<&str>,
) -> anyhow::Result<Docker> {
    let d = connect(host, tls, cert_path)?;
    Ok(d.negotiate_version().await?)
}
