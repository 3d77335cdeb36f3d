//! What the `kafka` input and output share: the client options of
//! logstash-integration-kafka (connection, SASL, SSL) and their translation into
//! librdkafka settings.
//!
//! ## Why `rdkafka` (librdkafka)
//!
//! The plugins need consumer groups with rebalancing, manual offset storage, an
//! idempotent-capable producer with per-message delivery reports, SASL (PLAIN, SCRAM,
//! OAUTHBEARER), TLS and all compression codecs. librdkafka, through the `rdkafka` crate, is
//! the client most Kafka users outside the JVM run in production, and it keeps up with the
//! protocol (KIP-848 `group_protocol => consumer`). The pure-Rust clients fall short:
//! `rskafka` has no consumer groups, `kafka` (kafka-rust) is unmaintained and lacks SASL and
//! the current group protocol, `samsa` is young. The crate builds librdkafka 2.12 from its
//! bundled sources (`cmake-build`), because Debian's `librdkafka-dev` (2.0) is older than
//! what the crate binds; `scripts/setup/kafka.sh` installs the build dependencies.
//!
//! Java-only settings have no librdkafka meaning and are refused with a clear error rather
//! than ignored: JKS stores (use PEM or PKCS#12), GSSAPI (the library is built without
//! Cyrus SASL), callback handler classes, custom (de)serializer classes.

use crate::options::{Args, BuildError, BuildResult};
use rdkafka::ClientConfig;

/// The options both plugins accept, with Logstash's defaults. Used as
/// `kafka_options!(plugin-specific entries...)` so each plugin has one `OPTIONS` slice.
macro_rules! kafka_options {
    ($($own:expr),* $(,)?) => {
        &[
            $($own,)*
            OptSpec::new("bootstrap_servers", OptKind::String, "comma-separated host:port list of brokers to bootstrap from").default("\"localhost:9092\""),
            OptSpec::new("client_id", OptKind::String, "the client id sent with every request").default("\"logstash\""),
            OptSpec::new("client_dns_lookup", OptKind::Enum(&["default", "use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"]), "how broker host names are resolved").default("\"use_all_dns_ips\""),
            OptSpec::new("connections_max_idle_ms", OptKind::Number, "close idle connections after this many ms").default("540000"),
            OptSpec::new("metadata_max_age_ms", OptKind::Number, "refresh metadata at least this often (ms)").default("300000"),
            OptSpec::new("request_timeout_ms", OptKind::Number, "how long to wait for a request's response (ms)").default("40000"),
            OptSpec::new("receive_buffer_bytes", OptKind::Number, "socket receive buffer (bytes)").default("32768"),
            OptSpec::new("send_buffer_bytes", OptKind::Number, "socket send buffer (bytes)").default("131072"),
            OptSpec::new("reconnect_backoff_ms", OptKind::Number, "first wait before reconnecting to a broker (ms)").default("50"),
            OptSpec::new("reconnect_backoff_max_ms", OptKind::Number, "longest wait before reconnecting to a broker (ms)").default("1000"),
            OptSpec::new("retry_backoff_ms", OptKind::Number, "wait before retrying a failed request (ms)").default("100"),
            OptSpec::new("security_protocol", OptKind::Enum(&["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]), "how to talk to the brokers").default("\"PLAINTEXT\""),
            OptSpec::new("sasl_mechanism", OptKind::String, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (GSSAPI is not built in)").default("\"GSSAPI\""),
            OptSpec::new("sasl_jaas_config", OptKind::Password, "JAAS line whose username= and password= are used, e.g. PlainLoginModule required username=\"u\" password=\"p\";"),
            OptSpec::new("jaas_path", OptKind::Path, "a JAAS file whose KafkaClient section gives username= and password="),
            OptSpec::new("sasl_kerberos_service_name", OptKind::String, "Kerberos service name (GSSAPI; not supported)"),
            OptSpec::new("kerberos_config", OptKind::Path, "krb5.conf (GSSAPI; not supported)"),
            OptSpec::new("sasl_oauthbearer_token_endpoint_url", OptKind::String, "OIDC token endpoint for OAUTHBEARER"),
            OptSpec::new("sasl_oauthbearer_scope_claim_name", OptKind::String, "scope requested from the OIDC endpoint").default("\"scope\""),
            OptSpec::new("ssl_truststore_location", OptKind::Path, "CA certificates (PEM) that verify the brokers"),
            OptSpec::new("ssl_truststore_password", OptKind::Password, "accepted for PEM truststores (not needed)"),
            OptSpec::new("ssl_truststore_type", OptKind::String, "PEM (JKS and PKCS12 truststores are not supported)"),
            OptSpec::new("ssl_keystore_location", OptKind::Path, "client certificate and key: PKCS12 or PEM"),
            OptSpec::new("ssl_keystore_password", OptKind::Password, "password of a PKCS12 keystore"),
            OptSpec::new("ssl_keystore_type", OptKind::String, "PKCS12 or PEM (JKS is not supported)"),
            OptSpec::new("ssl_key_password", OptKind::Password, "password of the private key"),
            OptSpec::new("ssl_endpoint_identification_algorithm", OptKind::String, "https checks the broker's host name; empty disables the check").default("\"https\""),
        ]
    };
}
pub(crate) use kafka_options;

/// Client settings common to consumer and producer. `client_id` is passed separately
/// because each consumer thread gets its own (`<client_id>-<n>`, as Logstash does).
pub fn common_config(args: &Args) -> BuildResult<ClientConfig> {
    let mut c = ClientConfig::new();
    let servers = args.string("bootstrap_servers").unwrap_or_default();
    if servers.split(',').all(|s| s.trim().is_empty()) {
        return Err(BuildError::option(
            "bootstrap_servers",
            "expected host:port[,host:port...]",
        ));
    }
    c.set("bootstrap.servers", servers.trim());
    c.set("client.id", args.string("client_id").unwrap_or_default());
    match args
        .string("client_dns_lookup")
        .unwrap_or_default()
        .as_str()
    {
        "default" => {}
        other => {
            c.set("client.dns.lookup", other);
        }
    }
    for (opt, key) in [
        ("connections_max_idle_ms", "connections.max.idle.ms"),
        ("metadata_max_age_ms", "metadata.max.age.ms"),
        ("receive_buffer_bytes", "socket.receive.buffer.bytes"),
        ("send_buffer_bytes", "socket.send.buffer.bytes"),
        ("reconnect_backoff_ms", "reconnect.backoff.ms"),
        ("reconnect_backoff_max_ms", "reconnect.backoff.max.ms"),
        ("retry_backoff_ms", "retry.backoff.ms"),
    ] {
        if let Some(n) = non_negative(args, opt)? {
            c.set(key, n.to_string());
        }
    }
    security(args, &mut c)?;
    Ok(c)
}

/// A number option that must be >= 0 when given.
pub fn non_negative(args: &Args, name: &str) -> BuildResult<Option<i64>> {
    if !args.contains(name) {
        return Ok(None);
    }
    match args.i64(name) {
        Some(n) if n >= 0 => Ok(Some(n)),
        _ => Err(BuildError::option(name, "expected a number >= 0")),
    }
}

fn security(args: &Args, c: &mut ClientConfig) -> BuildResult<()> {
    let proto = args.string("security_protocol").unwrap_or_default();
    c.set("security.protocol", proto.to_ascii_lowercase());
    let sasl = proto.starts_with("SASL_");
    let ssl = proto.ends_with("SSL");
    if sasl {
        let mech = args.string("sasl_mechanism").unwrap_or_default();
        match mech.as_str() {
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
                let (user, pass) = jaas_credentials(args)?.ok_or_else(|| {
                    BuildError::option(
                        "sasl_jaas_config",
                        format!("{mech} needs username= and password= in sasl_jaas_config or jaas_path"),
                    )
                })?;
                c.set("sasl.username", user);
                c.set("sasl.password", pass);
            }
            "OAUTHBEARER" => {
                if let Some(url) = args.string("sasl_oauthbearer_token_endpoint_url") {
                    c.set("sasl.oauthbearer.method", "oidc");
                    c.set("sasl.oauthbearer.token.endpoint.url", url);
                    if let Some((id, secret)) = jaas_credentials(args)? {
                        c.set("sasl.oauthbearer.client.id", id);
                        c.set("sasl.oauthbearer.client.secret", secret);
                    }
                    if let Some(scope) = args.string("sasl_oauthbearer_scope_claim_name") {
                        c.set("sasl.oauthbearer.scope", scope);
                    }
                }
            }
            "GSSAPI" => {
                return Err(BuildError::option(
                    "sasl_mechanism",
                    "GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
                ))
            }
            other => {
                return Err(BuildError::option(
                    "sasl_mechanism",
                    format!("unknown mechanism {other:?}; expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
                ))
            }
        }
        c.set("sasl.mechanism", mech);
    }
    if ssl {
        if let Some(loc) = args.string("ssl_truststore_location") {
            let ty = args.string("ssl_truststore_type").unwrap_or_else(|| {
                if loc.ends_with(".jks") {
                    "JKS".into()
                } else {
                    "PEM".into()
                }
            });
            if !ty.eq_ignore_ascii_case("PEM") {
                return Err(BuildError::option(
                    "ssl_truststore_type",
                    format!("{ty} truststores are not supported; give CA certificates as PEM (keytool -exportcert -rfc)"),
                ));
            }
            c.set("ssl.ca.location", loc);
        }
        if let Some(loc) = args.string("ssl_keystore_location") {
            let ty = args.string("ssl_keystore_type").unwrap_or_else(|| {
                if loc.ends_with(".pem") || loc.ends_with(".crt") {
                    "PEM".into()
                } else if loc.ends_with(".jks") {
                    "JKS".into()
                } else {
                    "PKCS12".into()
                }
            });
            match ty.to_ascii_uppercase().as_str() {
                "PKCS12" => {
                    c.set("ssl.keystore.location", &loc);
                    if let Some(p) = args.string("ssl_keystore_password") {
                        c.set("ssl.keystore.password", p);
                    }
                }
                // One PEM file with the certificate chain and the private key.
                "PEM" => {
                    c.set("ssl.certificate.location", &loc);
                    c.set("ssl.key.location", &loc);
                }
                _ => {
                    return Err(BuildError::option(
                        "ssl_keystore_type",
                        format!("{ty} keystores are not supported; use PKCS12 or PEM"),
                    ))
                }
            }
        }
        if let Some(p) = args.string("ssl_key_password") {
            c.set("ssl.key.password", p);
        }
        let algo = args
            .string("ssl_endpoint_identification_algorithm")
            .unwrap_or_default();
        c.set(
            "ssl.endpoint.identification.algorithm",
            if algo.is_empty() { "none" } else { "https" },
        );
    }
    Ok(())
}

/// `username=` and `password=` from `sasl_jaas_config`, or from the `KafkaClient`
/// section of the `jaas_path` file.
fn jaas_credentials(args: &Args) -> BuildResult<Option<(String, String)>> {
    let (opt, text) = match (args.string("sasl_jaas_config"), args.string("jaas_path")) {
        (Some(t), _) => ("sasl_jaas_config", t),
        (None, Some(p)) => match std::fs::read_to_string(&p) {
            Ok(t) => ("jaas_path", t),
            Err(e) => {
                return Err(BuildError::option(
                    "jaas_path",
                    format!("cannot read {p}: {e}"),
                ))
            }
        },
        (None, None) => return Ok(None),
    };
    let user = jaas_value(&text, "username");
    let pass = jaas_value(&text, "password");
    match (user, pass) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        _ => Err(BuildError::option(
            opt,
            "expected both username=\"...\" and password=\"...\"",
        )),
    }
}

/// The quoted value of `key="..."` in a JAAS entry (`\"` and `\\` unescaped).
pub fn jaas_value(text: &str, key: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find(key) {
        let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        let after = rest[i + key.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                if let Some(q) = v.strip_prefix('"') {
                    let mut out = String::new();
                    let mut chars = q.chars();
                    while let Some(ch) = chars.next() {
                        match ch {
                            '\\' => out.push(chars.next()?),
                            '"' => return Some(out),
                            c => out.push(c),
                        }
                    }
                    return None;
                }
            }
        }
        rest = &rest[i + key.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Value;

    fn get(c: &ClientConfig, k: &str) -> Option<String> {
        c.get(k).map(str::to_string)
    }

    #[test]
    fn jaas_values_are_unquoted() {
        let j = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p\"w";"#;
        assert_eq!(jaas_value(j, "username").as_deref(), Some("alice"));
        assert_eq!(jaas_value(j, "password").as_deref(), Some("p\"w"));
        assert_eq!(jaas_value(j, "user"), None);
        assert_eq!(jaas_value("username=\"unterminated", "username"), None);
    }

    #[test]
    fn sasl_plain_over_ssl_maps_to_librdkafka() {
        let args = Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
            .with("bootstrap_servers", Value::from("k1:9093,k2:9093"))
            .with("security_protocol", Value::from("SASL_SSL"))
            .with("sasl_mechanism", Value::from("SCRAM-SHA-512"))
            .with(
                "sasl_jaas_config",
                Value::from("ScramLoginModule required username=\"u\" password=\"p\";"),
            )
            .with("ssl_truststore_location", Value::from("/etc/ca.pem"))
            .with("ssl_endpoint_identification_algorithm", Value::from(""));
        let c = common_config(&args).unwrap();
        assert_eq!(
            get(&c, "bootstrap.servers").as_deref(),
            Some("k1:9093,k2:9093")
        );
        assert_eq!(get(&c, "security.protocol").as_deref(), Some("sasl_ssl"));
        assert_eq!(get(&c, "sasl.mechanism").as_deref(), Some("SCRAM-SHA-512"));
        assert_eq!(get(&c, "sasl.username").as_deref(), Some("u"));
        assert_eq!(get(&c, "sasl.password").as_deref(), Some("p"));
        assert_eq!(get(&c, "ssl.ca.location").as_deref(), Some("/etc/ca.pem"));
        assert_eq!(
            get(&c, "ssl.endpoint.identification.algorithm").as_deref(),
            Some("none")
        );
    }

    #[test]
    fn unsupported_security_settings_are_errors() {
        let gss = Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
            .with("security_protocol", Value::from("SASL_PLAINTEXT"));
        assert_eq!(
            common_config(&gss).unwrap_err().option.as_deref(),
            Some("sasl_mechanism")
        );
        let no_creds =
            Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
                .with("security_protocol", Value::from("SASL_PLAINTEXT"))
                .with("sasl_mechanism", Value::from("PLAIN"));
        assert_eq!(
            common_config(&no_creds).unwrap_err().option.as_deref(),
            Some("sasl_jaas_config")
        );
        let jks = Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
            .with("security_protocol", Value::from("SSL"))
            .with("ssl_truststore_location", Value::from("/etc/trust.jks"));
        assert_eq!(
            common_config(&jks).unwrap_err().option.as_deref(),
            Some("ssl_truststore_type")
        );
        let neg = Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
            .with("retry_backoff_ms", Value::from(-1));
        assert_eq!(
            common_config(&neg).unwrap_err().option.as_deref(),
            Some("retry_backoff_ms")
        );
        let empty = Args::for_plugin(crate::registry::Kind::Input, crate::inputs::kafka::OPTIONS)
            .with("bootstrap_servers", Value::from(" , "));
        assert!(common_config(&empty).is_err());
    }
}
