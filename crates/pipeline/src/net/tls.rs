//! TLS for the network inputs, from Logstash 8's option names: `ssl_enabled`,
//! `ssl_certificate`, `ssl_key`, `ssl_certificate_authorities`, `ssl_client_authentication`
//! (`none`, `optional`, `required`), `ssl_supported_protocols`. PEM files only; an
//! encrypted key (`ssl_key_passphrase`) is refused with how to decrypt it, since rustls
//! takes plain PKCS#8/PKCS#1/SEC1 keys.
//!
//! Each plugin declares the options it takes (the defaults of `ssl_client_authentication`
//! differ: `required` for tcp, `none` for beats and http) from the specs here, and builds
//! its acceptor with [`ServerTls::from_args`].

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const SSL_ENABLED: OptSpec =
    OptSpec::new("ssl_enabled", OptKind::Boolean, "accept TLS connections").default("false");
pub const SSL_CERTIFICATE: OptSpec = OptSpec::new(
    "ssl_certificate",
    OptKind::Path,
    "the server certificate chain (PEM)",
);
pub const SSL_KEY: OptSpec = OptSpec::new(
    "ssl_key",
    OptKind::Path,
    "the server's private key (PEM, unencrypted)",
);
pub const SSL_KEY_PASSPHRASE: OptSpec = OptSpec::new(
    "ssl_key_passphrase",
    OptKind::Password,
    "refused: decrypt the key first (`openssl pkcs8 -in key.pem -nocrypt -out plain.pem`)",
);
pub const SSL_CERTIFICATE_AUTHORITIES: OptSpec = OptSpec::new(
    "ssl_certificate_authorities",
    OptKind::Array,
    "CA certificates (PEM files) that client certificates are verified against",
);
pub const SSL_SUPPORTED_PROTOCOLS: OptSpec = OptSpec::new(
    "ssl_supported_protocols",
    OptKind::Array,
    "allowed TLS versions: TLSv1.2, TLSv1.3 (older ones are refused)",
);
pub const SSL_CIPHER_SUITES: OptSpec = OptSpec::new(
    "ssl_cipher_suites",
    OptKind::Array,
    "accepted for compatibility: rustls' default suites are used",
);

/// `ssl_client_authentication` with the plugin's default.
pub const fn client_authentication(default: &'static str) -> OptSpec {
    OptSpec::new(
        "ssl_client_authentication",
        OptKind::Enum(&["none", "optional", "required"]),
        "verify client certificates against ssl_certificate_authorities",
    )
    .default(default)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Required,
}

/// A TLS server configuration, ready to accept connections.
#[derive(Clone)]
pub struct ServerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls(client_auth: {:?})", self.client_auth)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{}: the key is encrypted; decrypt it (`openssl pkcs8 -in {} -nocrypt -out plain.pem`)",
            path.display(),
            path.display()
        ));
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| format!("{}: no usable private key ({e})", path.display()))
}

impl ServerTls {
    /// Builds from PEM files. `cas` may be empty only with `ClientAuth::None`.
    pub fn new(
        certificate: &Path,
        key: &Path,
        cas: &[PathBuf],
        client_auth: ClientAuth,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<ServerTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| e.to_string())?;
        let builder = if client_auth == ClientAuth::None {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for ca in cas {
                for c in read_certs(ca)? {
                    roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
                }
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if client_auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        };
        let config = builder
            .with_single_cert(read_certs(certificate)?, read_key(key)?)
            .map_err(|e| format!("{}: {e}", certificate.display()))?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            client_auth,
        })
    }

    /// Reads the `ssl_*` options; `None` when `ssl_enabled` is false. Every problem is
    /// reported at once, naming its option; unreadable files are [`BuildError::file`]
    /// (a `-t` warning unless `--strict`, an error when the pipeline starts).
    pub fn from_args(args: &Args) -> BuildResult<Option<ServerTls>> {
        if !args.flag("ssl_enabled") {
            return Ok(None);
        }
        let mut errors = Vec::new();
        if args.contains("ssl_key_passphrase") {
            errors.push(BuildError::option(
                "ssl_key_passphrase",
                "encrypted keys are not supported: decrypt the key (`openssl pkcs8 -in key.pem -nocrypt -out plain.pem`) and drop ssl_key_passphrase",
            ));
        }
        let cert = args.string("ssl_certificate").map(PathBuf::from);
        let key = args.string("ssl_key").map(PathBuf::from);
        if cert.is_none() {
            errors.push(BuildError::option(
                "ssl_certificate",
                "is required when ssl_enabled is true",
            ));
        }
        if key.is_none() {
            errors.push(BuildError::option(
                "ssl_key",
                "is required when ssl_enabled is true",
            ));
        }
        let client_auth = match args.string("ssl_client_authentication").as_deref() {
            Some("required") => ClientAuth::Required,
            Some("optional") => ClientAuth::Optional,
            _ => ClientAuth::None,
        };
        let cas: Vec<PathBuf> = args
            .strings("ssl_certificate_authorities")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if client_auth != ClientAuth::None && cas.is_empty() {
            errors.push(BuildError::option(
                "ssl_certificate_authorities",
                "is required when ssl_client_authentication is optional or required",
            ));
        }
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        for v in args.strings("ssl_supported_protocols") {
            match v.as_str() {
                "TLSv1.2" => versions.push(&rustls::version::TLS12),
                "TLSv1.3" => versions.push(&rustls::version::TLS13),
                "TLSv1" | "TLSv1.1" => errors.push(BuildError::option(
                    "ssl_supported_protocols",
                    format!("{v} is not supported (insecure); use TLSv1.2 or TLSv1.3"),
                )),
                other => errors.push(BuildError::option(
                    "ssl_supported_protocols",
                    format!("unknown protocol {other:?}; expected TLSv1.2 or TLSv1.3"),
                )),
            }
        }
        if versions.is_empty() {
            versions = vec![&rustls::version::TLS13, &rustls::version::TLS12];
        }
        if !errors.is_empty() {
            return Err(BuildError::many(errors));
        }
        let (Some(cert), Some(key)) = (cert, key) else {
            return Ok(None);
        };
        ServerTls::new(&cert, &key, &cas, client_auth, &versions)
            .map(Some)
            .map_err(|e| BuildError::file("ssl_certificate", e))
    }
}
