//! `http`: events from HTTP requests, as Logstash 8's logstash-input-http (3.x): the body
//! is decoded by the codec its `Content-Type` maps to in `additional_codecs` (else
//! `codec`), headers and the client address are stored on each event (ECS or legacy
//! fields), basic auth, TLS, `max_content_length` (413), `max_pending_requests` (429).
//!
//! Unlike Logstash, the response is sent only once the request's events are safe (every
//! output delivered them, or the persisted queue holds them): a 200 means nothing is lost,
//! a 503 tells the client to resend. `decode.rs` is the pure part (body → events, header
//! map, ECS fields); `server.rs` the connections.

pub mod decode;
mod server;

use crate::input_context::InputContext;
use crate::net::tls::{self, ServerTls};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Input};
use logstash_mesos_core::{FieldRef, Value};
use std::sync::Arc;
use std::time::Duration;

pub use decode::{fuzz_decode, BodyDecoder, BodyError};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("host", OptKind::String, "the address to listen on").default("\"0.0.0.0\""),
    OptSpec::new("port", OptKind::Number, "the TCP port to listen on").default("8080"),
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "decodes bodies whose content type has no codec in additional_codecs",
    )
    .default("\"plain\""),
    OptSpec::new(
        "additional_codecs",
        OptKind::Hash,
        "content type (MIME type, without parameters) => codec name",
    )
    .default("{ \"application/json\" => \"json\" }"),
    OptSpec::new(
        "user",
        OptKind::String,
        "basic auth user name (with password)",
    ),
    OptSpec::new(
        "password",
        OptKind::Password,
        "basic auth password (with user)",
    ),
    OptSpec::new(
        "response_code",
        OptKind::Number,
        "the status sent once a request's events are safe: 200, 201, 202 or 204",
    )
    .default("200"),
    OptSpec::new(
        "response_headers",
        OptKind::Hash,
        "headers of the success response (Content-Type stays text/plain, as in Logstash)",
    )
    .default("{ \"Content-Type\" => \"text/plain\" }"),
    OptSpec::new(
        "remote_host_target_field",
        OptKind::String,
        "where the client's IP address goes",
    )
    .computed("`[host][ip]` with ECS, `host` without"),
    OptSpec::new(
        "request_headers_target_field",
        OptKind::String,
        "where the request headers go",
    )
    .computed("`[@metadata][input][http][request][headers]` with ECS, `headers` without"),
    OptSpec::new(
        "threads",
        OptKind::Number,
        "requests decoded and queued at the same time",
    )
    .computed("the number of CPU cores"),
    OptSpec::new(
        "max_pending_requests",
        OptKind::Number,
        "requests waiting beyond `threads` before new ones get 429",
    )
    .default("200"),
    OptSpec::new(
        "max_content_length",
        OptKind::Number,
        "largest body in bytes (after decompression); larger gets 413",
    )
    .default("104857600"),
    tls::SSL_ENABLED,
    tls::SSL_CERTIFICATE,
    tls::SSL_KEY,
    tls::SSL_KEY_PASSPHRASE,
    tls::SSL_CERTIFICATE_AUTHORITIES,
    tls::client_authentication("none"),
    tls::SSL_SUPPORTED_PROTOCOLS,
    tls::SSL_CIPHER_SUITES,
    OptSpec::new(
        "ssl_handshake_timeout",
        OptKind::Number,
        "milliseconds an incomplete TLS handshake may take",
    )
    .default("10000"),
    OptSpec::new(
        "ssl_keystore_path",
        OptKind::Path,
        "refused: Java keystores are not read; convert to PEM (ssl_certificate, ssl_key)",
    ),
    OptSpec::new(
        "ssl_keystore_password",
        OptKind::Password,
        "refused with ssl_keystore_path",
    ),
    OptSpec::new(
        "ssl_keystore_type",
        OptKind::Enum(&["pkcs12", "jks"]),
        "refused with ssl_keystore_path",
    ),
    OptSpec::new(
        "ssl_truststore_path",
        OptKind::Path,
        "refused: convert the trust store to PEM (ssl_certificate_authorities)",
    ),
    OptSpec::new(
        "ssl_truststore_password",
        OptKind::Password,
        "refused with ssl_truststore_path",
    ),
    OptSpec::new(
        "ssl_truststore_type",
        OptKind::Enum(&["pkcs12", "jks"]),
        "refused with ssl_truststore_path",
    ),
    // Deprecated in logstash-input-http 3.7 (Logstash 8), removed in 4.0.
    OptSpec::new("ssl", OptKind::Boolean, "deprecated: use ssl_enabled"),
    OptSpec::new(
        "ssl_verify_mode",
        OptKind::Enum(&["none", "peer", "force_peer"]),
        "deprecated: use ssl_client_authentication (peer = optional, force_peer = required)",
    ),
    OptSpec::new(
        "verify_mode",
        OptKind::Enum(&["none", "peer", "force_peer"]),
        "deprecated: use ssl_client_authentication",
    ),
    OptSpec::new(
        "cipher_suites",
        OptKind::Array,
        "deprecated: use ssl_cipher_suites",
    ),
    OptSpec::new(
        "tls_min_version",
        OptKind::Number,
        "deprecated: use ssl_supported_protocols",
    ),
    OptSpec::new(
        "tls_max_version",
        OptKind::Number,
        "deprecated: use ssl_supported_protocols",
    ),
    OptSpec::new(
        "keystore",
        OptKind::Path,
        "deprecated (ssl_keystore_path): refused",
    ),
    OptSpec::new(
        "keystore_password",
        OptKind::Password,
        "deprecated: refused",
    ),
];

/// Everything a connection needs, shared.
pub(crate) struct Config {
    pub host: String,
    pub port: u16,
    pub decoder: BodyDecoder,
    pub auth_token: Option<String>,
    pub response_code: u16,
    pub response_headers: Vec<(String, String)>,
    pub targets: decode::Targets,
    pub threads: usize,
    pub max_pending_requests: usize,
    pub tls: Option<ServerTls>,
    pub handshake_timeout: Duration,
    /// Logstash 3.10's proactive rate limit: new requests get 429 while an accepted one
    /// has been blocked on the full queue for longer than this.
    pub blocked_threshold: Duration,
}

pub struct HttpInput {
    config: Arc<Config>,
}

fn verify_mode_to_client_auth(v: Value) -> Value {
    match v.to_logstash_string().to_ascii_lowercase().as_str() {
        "peer" => Value::from("optional"),
        "force_peer" => Value::from("required"),
        _ => Value::from("none"),
    }
}

/// Logstash 8's deprecated SSL names, applied as its `normalize_config` does: aliases
/// moved to the new names (with a warning), keystores refused with what to do instead.
fn normalize_deprecated(args: &Args, errors: &mut Vec<BuildError>) -> Args {
    let mut a = args.clone();
    let mut push = |r: BuildResult<()>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    push(a.rename_deprecated("ssl", "ssl_enabled", |v| v));
    push(a.rename_deprecated("cipher_suites", "ssl_cipher_suites", |v| v));
    if a.contains("verify_mode") && a.contains("ssl_verify_mode") {
        errors.push(BuildError::option(
            "verify_mode",
            "Both (deprecated) `ssl_verify_mode` and `verify_mode` were set. Use only `ssl_verify_mode`",
        ));
    } else {
        let mut push = |r: BuildResult<()>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        push(a.rename_deprecated(
            "ssl_verify_mode",
            "ssl_client_authentication",
            verify_mode_to_client_auth,
        ));
        push(a.rename_deprecated(
            "verify_mode",
            "ssl_client_authentication",
            verify_mode_to_client_auth,
        ));
    }
    if a.contains("tls_min_version") || a.contains("tls_max_version") {
        if a.contains("ssl_supported_protocols") {
            errors.push(BuildError::option(
                "tls_min_version",
                "`tls_min_version`/`tls_max_version` are the deprecated form of `ssl_supported_protocols`: give only `ssl_supported_protocols`",
            ));
        } else {
            let min = a.f64("tls_min_version").unwrap_or(1.2);
            let max = a.f64("tls_max_version").unwrap_or(1.3);
            let versions: Vec<Value> = [
                (1.0, "TLSv1"),
                (1.1, "TLSv1.1"),
                (1.2, "TLSv1.2"),
                (1.3, "TLSv1.3"),
            ]
            .iter()
            .filter(|(n, _)| *n >= min - 1e-9 && *n <= max + 1e-9)
            .map(|(_, name)| Value::from(*name))
            .collect();
            tracing::warn!(
                "http: `tls_min_version`/`tls_max_version` are deprecated: use `ssl_supported_protocols`"
            );
            if versions.is_empty() {
                errors.push(BuildError::option(
                    "tls_min_version",
                    format!("no TLS version between {min} and {max}"),
                ));
            } else {
                a.insert(
                    "ssl_supported_protocols",
                    crate::options::ArgValue::Value(Value::Array(versions)),
                    a.span_of("tls_min_version")
                        .or_else(|| a.span_of("tls_max_version"))
                        .unwrap_or_default(),
                );
            }
        }
    }
    for (old, new) in [
        ("keystore", "ssl_keystore_path"),
        ("keystore_password", "ssl_keystore_password"),
        ("ssl_keystore_path", ""),
        ("ssl_keystore_password", ""),
        ("ssl_keystore_type", ""),
        ("ssl_truststore_path", ""),
        ("ssl_truststore_password", ""),
        ("ssl_truststore_type", ""),
    ] {
        if a.contains(old) {
            let renamed = if new.is_empty() {
                String::new()
            } else {
                format!(" (deprecated name of `{new}`)")
            };
            errors.push(BuildError::option(
                old,
                format!(
                    "`{old}`{renamed}: Java keystores and trust stores are not supported; give PEM files: \
                     `ssl_certificate` + `ssl_key` for the server \
                     (`openssl pkcs12 -in store.p12 -nokeys -out cert.pem`, `openssl pkcs12 -in store.p12 -nocerts -nodes -out key.pem`; \
                     a JKS first: `keytool -importkeystore -srckeystore store.jks -destkeystore store.p12 -deststoretype PKCS12`) \
                     and `ssl_certificate_authorities` for client CAs"
                ),
            ));
        }
    }
    a
}

fn number(
    args: &Args,
    name: &str,
    min: i64,
    max: i64,
    errors: &mut Vec<BuildError>,
) -> Option<i64> {
    let v = args.i64(name)?;
    if v < min || v > max {
        errors.push(BuildError::option(
            name,
            format!("must be between {min} and {max}, got {v}"),
        ));
        return None;
    }
    Some(v)
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    Ok(Box::new(HttpInput {
        config: Arc::new(build_config(args, ctx)?),
    }))
}

pub(crate) fn build_config(args: &Args, ctx: &BuildContext) -> BuildResult<Config> {
    let mut errors = Vec::new();
    let args = normalize_deprecated(args, &mut errors);
    let ecs = args.ecs(ctx)?.enabled();

    let host = args.string("host").unwrap_or_else(|| "0.0.0.0".into());
    let port = number(&args, "port", 0, 65535, &mut errors).unwrap_or(8080) as u16;
    let response_code = match args.i64("response_code") {
        Some(c @ (200 | 201 | 202 | 204)) => c as u16,
        other => {
            errors.push(BuildError::option(
                "response_code",
                format!("expected one of 200, 201, 202, 204, got {other:?}"),
            ));
            200
        }
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = if args.contains("threads") {
        number(&args, "threads", 1, 4096, &mut errors).unwrap_or(1) as usize
    } else {
        cores
    };
    let max_pending_requests =
        number(&args, "max_pending_requests", 0, 1 << 20, &mut errors).unwrap_or(200) as usize;
    let max_content_length = number(
        &args,
        "max_content_length",
        0,
        i64::from(u32::MAX),
        &mut errors,
    )
    .unwrap_or(100 << 20) as usize;
    let handshake_ms =
        number(&args, "ssl_handshake_timeout", 1, 3_600_000, &mut errors).unwrap_or(10_000);

    let auth_token = match (args.string("user"), args.string("password")) {
        (Some(u), Some(p)) => {
            use base64::Engine;
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
        }
        // As Logstash: basic auth needs both; one alone is ignored, which we say.
        (Some(_), None) | (None, Some(_)) => {
            tracing::warn!("http: basic auth needs both `user` and `password`; it is off");
            None
        }
        (None, None) => None,
    };

    let field = |name: &str, ecs_default: &str, legacy: &str, errors: &mut Vec<BuildError>| {
        let text = args
            .string(name)
            .unwrap_or_else(|| if ecs { ecs_default } else { legacy }.to_string());
        FieldRef::parse(&text).unwrap_or_else(|e| {
            errors.push(BuildError::option(name, e.to_string()));
            FieldRef::top(legacy)
        })
    };
    let targets = decode::Targets {
        ecs,
        remote_host: field(
            "remote_host_target_field",
            "[host][ip]",
            "host",
            &mut errors,
        ),
        request_headers: field(
            "request_headers_target_field",
            "[@metadata][input][http][request][headers]",
            "headers",
            &mut errors,
        ),
    };

    let mut additional = Vec::new();
    for (content_type, codec) in args.hash("additional_codecs") {
        let name = codec.to_logstash_string();
        match decode::build_codec(&name, ctx) {
            Ok(c) => additional.push((content_type, c)),
            Err(e) => errors.push(BuildError::option(
                "additional_codecs",
                format!("{content_type:?}: {e}"),
            )),
        }
    }
    let response_headers = args
        .hash("response_headers")
        .into_iter()
        .map(|(k, v)| (k, v.to_logstash_string()))
        .filter(|(k, v)| {
            let ok = hyper::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && hyper::header::HeaderValue::from_str(v).is_ok();
            ok
        })
        .collect::<Vec<_>>();
    if response_headers.len() != args.hash("response_headers").len() {
        errors.push(BuildError::option(
            "response_headers",
            "a header name or value is not valid HTTP",
        ));
    }

    // As Logstash's `validate_ssl_settings!`.
    if args.flag("ssl_enabled") {
        let client_auth = args.string("ssl_client_authentication").unwrap_or_default();
        if client_auth == "none" && !args.strings("ssl_certificate_authorities").is_empty() {
            errors.push(BuildError::option(
                "ssl_certificate_authorities",
                "The configuration of `ssl_certificate_authorities` requires setting `ssl_client_authentication` to `optional` or 'required'",
            ));
        }
    } else {
        let ignored: Vec<&str> = args
            .names()
            .filter(|n| n.starts_with("ssl_") && *n != "ssl_enabled")
            .collect();
        if !ignored.is_empty() {
            tracing::warn!(
                ?ignored,
                "http: Configured SSL settings are not used when `ssl_enabled` is set to `false`"
            );
        }
    }
    let tls = match ServerTls::from_args(&args) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let codec = match args.codec("codec") {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if !errors.is_empty() {
        return Err(BuildError::many(errors));
    }
    let Some(codec) = codec else {
        return Err(BuildError::option("codec", "no codec configured"));
    };
    Ok(Config {
        host,
        port,
        decoder: BodyDecoder::new(codec, additional, max_content_length),
        auth_token,
        response_code,
        response_headers,
        targets,
        threads,
        max_pending_requests,
        tls,
        handshake_timeout: Duration::from_millis(handshake_ms as u64),
        blocked_threshold: Duration::from_secs(10),
    })
}

impl Input for HttpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(server::run(self.config, ctx))
    }
}
