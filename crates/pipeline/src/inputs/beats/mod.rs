//! `beats`: receives events from Elastic Beats (and any Lumberjack v2 sender), as Logstash
//! 8's logstash-input-beats 6.x does.
//!
//! - [`protocol`]: the pure frame decoder (window, JSON, key/value, compressed frames) and
//!   the ACK encoder; fuzzed (`fuzz/fuzz_targets/lumberjack.rs`).
//! - [`event`]: a document → event(s): codec on `message`, metadata, tags.
//! - [`conn`]: one connection: windows, receipts, ACKs and keep-alives.
//!
//! No lost event: the events of a window carry one receipt; the ACK for the window's
//! highest sequence is sent only once every event is safe (delivered, or persisted with
//! `queue.type: persisted`). A window given up on closes the connection without ACK, so
//! the sender resends it.

pub mod conn;
pub mod event;
pub mod protocol;

use crate::input_context::{Decorator, InputContext};
use crate::net::listener::NetStats;
use crate::net::tls::{self, ServerTls};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("host", OptKind::String, "the address to listen on").default("\"0.0.0.0\""),
    OptSpec::new("port", OptKind::Number, "the port to listen on (Beats use 5044)").required(),
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec applied to the `message` (or `line`) field of each document",
    )
    .default("\"plain\""),
    OptSpec::new(
        "client_inactivity_timeout",
        OptKind::Number,
        "close a connection after this many seconds without reads or writes",
    )
    .default("60"),
    OptSpec::new(
        "executor_threads",
        OptKind::Number,
        "accepted for compatibility: connections run on the shared runtime",
    )
    .computed("the number of CPU cores"),
    OptSpec::new(
        "event_loop_threads",
        OptKind::Number,
        "accepted for compatibility: connections run on the shared runtime",
    )
    .default("0"),
    OptSpec::new(
        "add_hostname",
        OptKind::Boolean,
        "deprecated: copy [beat][hostname] into host ([@metadata][input][beats][host][name] with ECS)",
    )
    .default("false"),
    OptSpec::new(
        "include_codec_tag",
        OptKind::Boolean,
        "deprecated (use enrich): tag events beats_input_codec_<codec>_applied / beats_input_raw_event",
    )
    .computed("true (from `enrich`)"),
    OptSpec::new(
        "enrich",
        OptKind::Array,
        "metadata to add: source_metadata, codec_metadata, ssl_peer_metadata, or all / none",
    )
    .computed("[source_metadata, codec_metadata]"),
    OptSpec::new(
        "ssl_peer_metadata",
        OptKind::Boolean,
        "deprecated (use enrich => ssl_peer_metadata): client certificate information in @metadata",
    )
    .computed("false (from `enrich`)"),
    OptSpec::new("ssl", OptKind::Boolean, "deprecated name of ssl_enabled"),
    OptSpec::new(
        "ssl_verify_mode",
        OptKind::Enum(&["none", "peer", "force_peer"]),
        "deprecated: none, peer (= ssl_client_authentication optional), force_peer (= required)",
    ),
    tls::SSL_ENABLED,
    tls::SSL_CERTIFICATE,
    tls::SSL_KEY,
    tls::SSL_KEY_PASSPHRASE,
    tls::SSL_CERTIFICATE_AUTHORITIES,
    tls::client_authentication("none"),
    tls::SSL_SUPPORTED_PROTOCOLS,
    tls::SSL_CIPHER_SUITES,
    OptSpec::new("cipher_suites", OptKind::Array, "deprecated name of ssl_cipher_suites"),
    OptSpec::new(
        "tls_min_version",
        OptKind::Number,
        "deprecated (use ssl_supported_protocols): the lowest TLS version, 1.2 or 1.3",
    ),
    OptSpec::new(
        "tls_max_version",
        OptKind::Number,
        "deprecated (use ssl_supported_protocols): the highest TLS version, 1.2 or 1.3",
    ),
    OptSpec::new(
        "ssl_handshake_timeout",
        OptKind::Number,
        "milliseconds a client may take for the TLS handshake",
    )
    .default("10000"),
];

const ENRICH_ALL: &[&str] = &["source_metadata", "codec_metadata", "ssl_peer_metadata"];

/// Everything a connection needs, shared by all of them.
pub struct Config {
    pub host: String,
    pub port: u16,
    pub transform: event::Transform,
    /// A template: each connection decodes with its own copy.
    codec: Mutex<Box<dyn Codec>>,
    pub inactivity: Duration,
    /// How often a window still waiting for its output gets an ACK 0 (Logstash's
    /// `IDLESTATE_WRITER_IDLE_TIME_SECONDS`): the sender's read timeout restarts with
    /// each ACK, so a slow output does not make it give up and resend.
    pub keepalive: Duration,
    pub tls: Option<ServerTls>,
    pub handshake_timeout: Duration,
    pub limits: protocol::Limits,
    pub stats: Arc<NetStats>,
}

impl Config {
    pub fn codec(&self) -> Box<dyn Codec> {
        match self.codec.lock() {
            Ok(c) => c.clone_box(),
            Err(poisoned) => poisoned.into_inner().clone_box(),
        }
    }
}

pub struct BeatsInput {
    config: Arc<Config>,
}

impl BeatsInput {
    /// The counters (connections, windows' events, rejected connections).
    pub fn stats(&self) -> Arc<NetStats> {
        self.config.stats.clone()
    }
}

/// The TLS versions between two deprecated `tls_*_version` numbers.
fn versions_between(min: f64, max: f64) -> Vec<Value> {
    [(1.2, "TLSv1.2"), (1.3, "TLSv1.3")]
        .iter()
        .filter(|(v, _)| *v >= min - 1e-9 && *v <= max + 1e-9)
        .map(|(_, n)| Value::from(*n))
        .collect()
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    build_input(args, ctx).map(|i| Box::new(i) as Box<dyn Input>)
}

/// [`build`], keeping the concrete type (tests read its counters).
pub fn build_input(args: &Args, ctx: &BuildContext) -> BuildResult<BeatsInput> {
    let mut errors = Vec::new();
    let mut args = args.clone();
    // Logstash 8 (plugin 6.x) deprecated names, mapped as its `normalize_config` does.
    let explicit_client_auth = args.contains("ssl_client_authentication");
    if let Err(e) = args.rename_deprecated("ssl", "ssl_enabled", |v| v) {
        errors.push(e);
    }
    if let Err(e) = args.rename_deprecated("cipher_suites", "ssl_cipher_suites", |v| v) {
        errors.push(e);
    }
    if let Err(e) = args.rename_deprecated("ssl_verify_mode", "ssl_client_authentication", |v| {
        Value::from(match v.to_logstash_string().as_str() {
            "peer" => "optional",
            "force_peer" => "required",
            _ => "none",
        })
    }) {
        errors.push(e);
    }
    if args.contains("tls_min_version") || args.contains("tls_max_version") {
        if args.contains("ssl_supported_protocols") {
            errors.push(BuildError::option(
                "tls_min_version",
                "`tls_min_version`/`tls_max_version` are the deprecated form of `ssl_supported_protocols`: give only `ssl_supported_protocols`",
            ));
        } else {
            let min = args.f64("tls_min_version").unwrap_or(1.2);
            let max = args.f64("tls_max_version").unwrap_or(1.3);
            let v = versions_between(min, max);
            if v.is_empty() {
                errors.push(BuildError::option(
                    "tls_min_version",
                    format!("no supported TLS version (1.2, 1.3) between {min} and {max}"),
                ));
            } else {
                tracing::warn!("beats: `tls_min_version`/`tls_max_version` are deprecated: use `ssl_supported_protocols`");
                args = args.with("ssl_supported_protocols", Value::Array(v));
            }
        }
    }
    let cas = args.strings("ssl_certificate_authorities");
    // What the user asked for (through either name), before the implicit `required` below.
    let asked_client_auth = args
        .string("ssl_client_authentication")
        .unwrap_or_else(|| "none".into());
    if !explicit_client_auth
        && !cas.is_empty()
        && args.string("ssl_client_authentication").as_deref() == Some("none")
    {
        // Backward compatibility kept by Logstash 8: CAs without `ssl_client_authentication`
        // (even with `ssl_verify_mode => none`) mean client certificates are required.
        args = args.with("ssl_client_authentication", Value::from("required"));
    }
    let client_auth = args
        .string("ssl_client_authentication")
        .unwrap_or_else(|| "none".into());
    if explicit_client_auth && client_auth == "none" && !cas.is_empty() && args.flag("ssl_enabled")
    {
        errors.push(BuildError::option(
            "ssl_certificate_authorities",
            "configuring ssl_certificate_authorities requires ssl_client_authentication => to be configured with 'optional' or 'required'",
        ));
    }
    if !args.flag("ssl_enabled") {
        let ignored: Vec<&str> = args
            .names()
            .filter(|n| n.starts_with("ssl_") && *n != "ssl_enabled")
            .collect();
        if !ignored.is_empty() {
            tracing::warn!(settings = ?ignored, "beats: configured SSL settings are not used when `ssl_enabled` is set to `false`");
        }
    }

    // enrich / include_codec_tag / ssl_peer_metadata, as `resolve_enriches`.
    let enrich: Vec<String> = args.strings("enrich");
    let deprecated: Vec<&str> = ["ssl_peer_metadata", "include_codec_tag"]
        .into_iter()
        .filter(|n| args.contains(n))
        .collect();
    if !deprecated.is_empty() && args.contains("enrich") {
        errors.push(BuildError::option(
            "enrich",
            format!(
                "both `enrich` and (deprecated) {} were provided; use only `enrich`",
                deprecated.join(",")
            ),
        ));
    }
    for e in &enrich {
        if !ENRICH_ALL.contains(&e.as_str()) && e != "all" && e != "none" {
            errors.push(BuildError::option(
                "enrich",
                format!("unknown value {e:?}: expected source_metadata, codec_metadata, ssl_peer_metadata, all or none"),
            ));
        }
    }
    let aliases: Vec<&String> = enrich
        .iter()
        .filter(|e| *e == "all" || *e == "none")
        .collect();
    if !aliases.is_empty() && enrich.len() > 1 {
        errors.push(BuildError::option(
            "enrich",
            format!("when an alias is provided to `enrich`, it must be the only value given (got: {enrich:?})"),
        ));
    }
    let active: Vec<String> = if aliases.iter().any(|a| *a == "all") {
        ENRICH_ALL.iter().map(|s| s.to_string()).collect()
    } else if aliases.iter().any(|a| *a == "none") {
        Vec::new()
    } else if args.contains("enrich") {
        enrich.clone()
    } else {
        vec!["source_metadata".into(), "codec_metadata".into()]
    };
    let has = |n: &str| active.iter().any(|a| a == n);
    let include_codec_tag = if args.contains("include_codec_tag") {
        args.flag("include_codec_tag")
    } else {
        has("codec_metadata")
    };
    let ssl_peer_metadata = if args.contains("ssl_peer_metadata") {
        args.flag("ssl_peer_metadata")
    } else {
        has("ssl_peer_metadata")
    };
    // Logstash's `validate_ssl_config!`: peer metadata with client authentication enabled
    // only by the CAs (not asked for) is an error; with no client authentication at all
    // it is silently off.
    if ssl_peer_metadata
        && args.flag("ssl_enabled")
        && !cas.is_empty()
        && asked_client_auth == "none"
    {
        errors.push(BuildError::option(
            if args.contains("ssl_peer_metadata") { "ssl_peer_metadata" } else { "enrich" },
            "configuring `enrich => [ssl_peer_metadata]` requires `ssl_client_authentication` to be configured with 'optional' or 'required'",
        ));
    }

    let ecs = match args.ecs(ctx) {
        Ok(e) => e.enabled(),
        Err(e) => {
            errors.push(e);
            false
        }
    };
    let codec_name = args
        .codec_spec("codec")
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "plain".into());
    if codec_name == "multiline" {
        errors.push(BuildError::option(
            "codec",
            "Multiline codec with beats input is not supported. Please refer to the beats documentation for how to best manage multiline data. See https://www.elastic.co/guide/en/beats/filebeat/current/multiline-examples.html",
        ));
    }
    let codec: Option<Box<dyn Codec>> = if !has("codec_metadata") && !args.contains("codec") {
        // Logstash: without codec_metadata the default codec is a plain one with
        // `ecs_compatibility => disabled` (no [event][original]).
        let plain = Args::for_plugin(crate::registry::Kind::Codec, crate::codecs::plain::OPTIONS)
            .with("ecs_compatibility", Value::from("disabled"));
        match crate::codecs::plain::build(&plain, ctx) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    } else {
        if !has("codec_metadata") {
            tracing::warn!("beats: an explicit `codec` is specified but `enrich` does not include `codec_metadata`");
        }
        match args.codec("codec") {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };

    let port = match args.i64("port") {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        Some(p) => {
            errors.push(BuildError::option(
                "port",
                format!("{p} is not a port number (0-65535)"),
            ));
            0
        }
        None => {
            errors.push(BuildError::option("port", "is required"));
            0
        }
    };
    let inactivity = match args.f64("client_inactivity_timeout") {
        Some(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        other => {
            errors.push(BuildError::option(
                "client_inactivity_timeout",
                format!("must be a positive number of seconds, got {other:?}"),
            ));
            Duration::from_secs(60)
        }
    };
    let handshake_timeout = match args.f64("ssl_handshake_timeout") {
        Some(ms) if ms > 0.0 && ms.is_finite() => Duration::from_secs_f64(ms / 1000.0),
        other => {
            errors.push(BuildError::option(
                "ssl_handshake_timeout",
                format!("must be a positive number of milliseconds, got {other:?}"),
            ));
            Duration::from_secs(10)
        }
    };
    let tls = match ServerTls::from_args(&args) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if !errors.is_empty() {
        return Err(BuildError::many(errors));
    }
    let Some(codec) = codec else {
        return Err(BuildError::option("codec", "no codec"));
    };
    let transform = event::Transform {
        ecs,
        source_metadata: has("source_metadata"),
        ssl_peer_metadata: ssl_peer_metadata
            && tls
                .as_ref()
                .is_some_and(|t| t.client_auth != tls::ClientAuth::None),
        include_codec_tag,
        add_hostname: args.flag("add_hostname"),
        codec_name,
        decorator: Decorator::default(),
    };
    Ok(BeatsInput {
        config: Arc::new(Config {
            host: args.string("host").unwrap_or_else(|| "0.0.0.0".into()),
            port,
            transform,
            codec: Mutex::new(codec),
            inactivity,
            keepalive: Duration::from_secs(5),
            tls,
            handshake_timeout,
            limits: protocol::Limits::default(),
            stats: Arc::new(NetStats::default()),
        }),
    })
}

impl Input for BeatsInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let listener =
                crate::net::listener::bind_tcp("beats", &self.config.host, self.config.port)
                    .await?;
            conn::serve(listener, self.config.clone(), ctx).await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls::ClientAuth;
    use crate::registry::Kind;

    fn args() -> Args {
        Args::for_plugin(Kind::Input, OPTIONS).with("port", Value::Integer(5044))
    }

    fn errors(a: &Args) -> Vec<String> {
        match build_input(a, &BuildContext::default()) {
            Ok(_) => Vec::new(),
            Err(e) => e.all().iter().map(|e| e.to_string()).collect(),
        }
    }

    fn input(a: &Args) -> BeatsInput {
        match build_input(a, &BuildContext::default()) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    struct Pem(tempfile::TempDir);
    impl Pem {
        fn new() -> Pem {
            let dir = tempfile::tempdir().expect("tmp");
            let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
            std::fs::write(dir.path().join("c.pem"), c.cert.pem()).expect("write");
            std::fs::write(dir.path().join("k.pem"), c.key_pair.serialize_pem()).expect("write");
            Pem(dir)
        }
        fn tls(&self, a: Args) -> Args {
            let p = |n: &str| Value::from(self.0.path().join(n).display().to_string());
            a.with("ssl_certificate", p("c.pem"))
                .with("ssl_key", p("k.pem"))
        }
        fn ca(&self) -> Value {
            Value::Array(vec![Value::from(
                self.0.path().join("c.pem").display().to_string(),
            )])
        }
    }

    #[test]
    fn defaults() {
        let i = input(&args());
        let c = &i.config;
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.port, 5044);
        assert_eq!(c.inactivity, Duration::from_secs(60));
        assert_eq!(c.handshake_timeout, Duration::from_secs(10));
        assert!(c.tls.is_none());
        let t = &c.transform;
        assert!(t.ecs && t.source_metadata && t.include_codec_tag);
        assert!(!t.add_hostname && !t.ssl_peer_metadata);
        assert_eq!(t.codec_name, "plain");
        // The ECS plain codec keeps [event][original].
        let mut out = Vec::new();
        c.codec().decode(b"x", &mut out);
        assert!(out[0]
            .get(&logstash_mesos_core::FieldRef::from_path([
                "event", "original"
            ]))
            .is_some());
    }

    #[test]
    fn port_is_required_and_checked() {
        let a = Args::for_plugin(Kind::Input, OPTIONS);
        assert!(
            errors(&a).iter().any(|e| e.contains("\"port\"")),
            "{:?}",
            errors(&a)
        );
        assert!(errors(&args().with("port", Value::Integer(70000)))
            .iter()
            .any(|e| e.contains("port")));
    }

    #[test]
    fn ssl_options_errors_all_at_once() {
        let e = errors(&args().with("ssl_enabled", Value::Bool(true)));
        assert!(e.iter().any(|m| m.contains("ssl_certificate")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("ssl_key")), "{e:?}");
        // The deprecated name together with the new one.
        let e = errors(
            &args()
                .with("ssl", Value::Bool(true))
                .with("ssl_enabled", Value::Bool(true)),
        );
        assert!(
            e.iter()
                .any(|m| m.contains("deprecated name of `ssl_enabled`")),
            "{e:?}"
        );
    }

    #[test]
    fn deprecated_ssl_verify_mode_and_ca_defaults() {
        let pem = Pem::new();
        let on = |a: Args| pem.tls(a.with("ssl", Value::Bool(true)));
        let auth = |a: &Args| input(a).config.tls.as_ref().map(|t| t.client_auth);
        assert_eq!(auth(&on(args())), Some(ClientAuth::None));
        assert_eq!(
            auth(
                &on(args())
                    .with("ssl_verify_mode", Value::from("peer"))
                    .with("ssl_certificate_authorities", pem.ca())
            ),
            Some(ClientAuth::Optional)
        );
        assert_eq!(
            auth(
                &on(args())
                    .with("ssl_verify_mode", Value::from("force_peer"))
                    .with("ssl_certificate_authorities", pem.ca())
            ),
            Some(ClientAuth::Required)
        );
        // CAs alone (even with ssl_verify_mode => none): required, as Logstash 8 keeps it.
        assert_eq!(
            auth(&on(args()).with("ssl_certificate_authorities", pem.ca())),
            Some(ClientAuth::Required)
        );
        assert_eq!(
            auth(
                &on(args())
                    .with("ssl_verify_mode", Value::from("none"))
                    .with("ssl_certificate_authorities", pem.ca())
            ),
            Some(ClientAuth::Required)
        );
        // Explicitly none with CAs is a contradiction.
        let e = errors(
            &on(args())
                .with("ssl_client_authentication", Value::from("none"))
                .with("ssl_certificate_authorities", pem.ca()),
        );
        assert!(
            e.iter().any(|m| m.contains("ssl_certificate_authorities")),
            "{e:?}"
        );
        // Peer metadata needs client authentication that was asked for: CAs alone are an
        // error, no client authentication at all turns it off.
        let peer = || Value::Array(vec![Value::from("ssl_peer_metadata")]);
        let e = errors(
            &on(args())
                .with("enrich", peer())
                .with("ssl_certificate_authorities", pem.ca()),
        );
        assert!(e.iter().any(|m| m.contains("ssl_peer_metadata")), "{e:?}");
        assert!(
            !input(&on(args()).with("enrich", peer()))
                .config
                .transform
                .ssl_peer_metadata
        );
        let i = input(
            &on(args())
                .with("enrich", peer())
                .with("ssl_certificate_authorities", pem.ca())
                .with("ssl_client_authentication", Value::from("optional")),
        );
        assert!(i.config.transform.ssl_peer_metadata);
        // tls_min_version/tls_max_version → ssl_supported_protocols.
        assert!(input(
            &on(args())
                .with("tls_min_version", Value::Float(1.2))
                .with("tls_max_version", Value::Float(1.3))
        )
        .config
        .tls
        .is_some());
        assert!(!errors(&on(args()).with("tls_max_version", Value::Float(1.1))).is_empty());
    }

    #[test]
    fn enrich_resolution() {
        let list = |v: &[&str]| Value::Array(v.iter().map(|s| Value::from(*s)).collect());
        let t = input(&args().with("enrich", list(&["none"])))
            .config
            .transform
            .clone();
        assert!(!t.source_metadata && !t.include_codec_tag && !t.ssl_peer_metadata);
        // Without codec_metadata the default codec is plain with ECS off: no [event][original].
        let mut out = Vec::new();
        input(&args().with("enrich", list(&["none"])))
            .config
            .codec()
            .decode(b"x", &mut out);
        assert!(out[0]
            .get(&logstash_mesos_core::FieldRef::from_path([
                "event", "original"
            ]))
            .is_none());
        let t = input(&args().with("enrich", list(&["source_metadata"])))
            .config
            .transform
            .clone();
        assert!(t.source_metadata && !t.include_codec_tag);
        let t = input(&args().with("include_codec_tag", Value::Bool(false)))
            .config
            .transform
            .clone();
        assert!(t.source_metadata && !t.include_codec_tag);
        assert!(!errors(&args().with("enrich", list(&["all", "none"]))).is_empty());
        assert!(!errors(&args().with("enrich", list(&["bogus"]))).is_empty());
        let e = errors(
            &args()
                .with("enrich", list(&["all"]))
                .with("include_codec_tag", Value::Bool(true)),
        );
        assert!(e.iter().any(|m| m.contains("use only `enrich`")), "{e:?}");
    }
}
