use super::*;
use logstash_mesos_core::Value;

fn args() -> Args {
    Args::for_plugin(crate::registry::Kind::Output, OPTIONS)
}

fn err(a: Args) -> BuildError {
    match build_output(&a, &BuildContext::default()) {
        Ok(_) => panic!("expected a config error"),
        Err(e) => e,
    }
}

#[test]
fn defaults_build_without_network() {
    let ctx = BuildContext::default();
    let o = build_output(&args(), &ctx).unwrap();
    assert_eq!(o.encoder.index.source(), "ecs-logstash-%{+yyyy.MM.dd}");
    assert_eq!(
        ctx.health.snapshot(),
        vec![(
            "elasticsearch".to_string(),
            "http://127.0.0.1:9200/".to_string(),
            true
        )]
    );
    let ctx = BuildContext {
        ecs: crate::plugin::Ecs::Disabled,
        ..BuildContext::default()
    };
    let o = build_output(&args(), &ctx).unwrap();
    assert_eq!(o.encoder.index.source(), "logstash-%{+yyyy.MM.dd}");
    assert_eq!(o.template.as_ref().unwrap().name, "logstash");
}

#[test]
fn malformed_url_is_a_config_error_without_secrets() {
    let e = err(args().with(
        "hosts",
        Value::Array(vec![
            Value::from("http://ok:9200"),
            Value::from("http://bob:hunter2@bad host:9200"),
        ]),
    ));
    assert_eq!(e.option.as_deref(), Some("hosts"));
    assert!(e.message.contains("host 2"), "{}", e.message);
    assert!(!e.message.contains("hunter2"), "{}", e.message);
}

#[test]
fn option_errors_name_the_option() {
    assert_eq!(
        err(args().with("action", Value::from("upsert")))
            .option
            .as_deref(),
        Some("action")
    );
    assert_eq!(
        err(args().with("api_key", Value::from("nocolon")))
            .option
            .as_deref(),
        Some("api_key")
    );
    assert_eq!(
        err(args()
            .with("user", Value::from("u"))
            .with("api_key", Value::from("a:b")))
        .option
        .as_deref(),
        Some("api_key")
    );
    assert_eq!(
        err(args().with("timeout", Value::from("soon")))
            .option
            .as_deref(),
        Some("timeout")
    );
    assert_eq!(
        err(args()
            .with("retry_initial_interval", Value::Integer(10))
            .with("retry_max_interval", Value::Integer(5)))
        .option
        .as_deref(),
        Some("retry_max_interval")
    );
    assert_eq!(
        err(args().with("dlq_custom_codes", Value::Array(vec![Value::from("200")])))
            .option
            .as_deref(),
        Some("dlq_custom_codes")
    );
    assert_eq!(
        err(args()
            .with("data_stream", Value::Bool(true))
            .with("index", Value::from("x")))
        .option
        .as_deref(),
        Some("index")
    );
    assert_eq!(
        err(args()
            .with("data_stream", Value::Bool(true))
            .with("data_stream_dataset", Value::from("a-b")))
        .option
        .as_deref(),
        Some("data_stream_dataset")
    );
    assert_eq!(
        err(args()
            .with("ssl_enabled", Value::Bool(true))
            .with("hosts", Value::from("http://x:9200")))
        .option
        .as_deref(),
        Some("ssl_enabled")
    );
    assert_eq!(
        err(args().with(
            "ssl_certificate_authorities",
            Value::from("/nonexistent/ca.pem")
        ))
        .option
        .as_deref(),
        Some("ssl_certificate_authorities")
    );
    let e = err(args()
        .with("user", Value::from("u"))
        .with("password", Value::from("s3cr3t"))
        .with("hosts", Value::from("ftp://x")));
    assert!(!e.to_string().contains("s3cr3t"));
}

#[test]
fn data_stream_defaults_to_create() {
    let o = build_output(
        &args().with("data_stream", Value::Bool(true)),
        &BuildContext::default(),
    )
    .unwrap();
    assert!(matches!(
        o.encoder.action,
        ActionSpec::Fixed(Action::Create)
    ));
    assert!(o.template.is_none());
    assert_eq!(o.encoder.data_stream.as_ref().unwrap().dataset, "generic");
}

#[test]
fn every_option_is_documented() {
    for o in OPTIONS {
        assert!(!o.doc.is_empty(), "{}", o.name);
    }
}

/// Mistakes in different sections are all reported, each under its own option.
#[test]
fn every_bad_option_is_reported() {
    let e = err(args()
        .with("api_key", Value::from("nocolon"))
        .with("action", Value::from("upsert"))
        .with("retry_max_interval", Value::Float(0.5))
        .with(
            "dlq_custom_codes",
            Value::Array(vec![Value::from("200"), Value::from("x")]),
        ));
    let mut named: Vec<&str> = e.all().iter().filter_map(|e| e.option.as_deref()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "action",
            "api_key",
            "dlq_custom_codes",
            "dlq_custom_codes",
            "retry_max_interval"
        ]
    );
}

/// The option names of Logstash 7/8.x configs: deprecated aliases reach the current
/// options (so their checks apply under the new name), retired settings are accepted.
#[test]
fn deprecated_names_map_to_the_current_options() {
    let a = current_names(
        &args()
            .with("ssl", Value::Bool(true))
            .with("cacert", Value::from("/etc/ca.pem"))
            .with("ssl_certificate_verification", Value::Bool(false))
            .with(
                "failure_type_logging_whitelist",
                Value::Array(vec![Value::from("version_conflict_engine_exception")]),
            ),
    )
    .unwrap();
    assert!(a.flag("ssl_enabled"));
    assert_eq!(
        a.strings("ssl_certificate_authorities"),
        vec!["/etc/ca.pem".to_string()]
    );
    assert_eq!(a.string("ssl_verification_mode").as_deref(), Some("none"));
    assert_eq!(
        a.strings("silence_errors_in_log"),
        vec!["version_conflict_engine_exception".to_string()]
    );
    // The alias is checked as the option it stands for.
    assert_eq!(
        err(args()
            .with("ssl", Value::Bool(true))
            .with("hosts", Value::from("http://x:9200")))
        .option
        .as_deref(),
        Some("ssl_enabled")
    );
    assert_eq!(
        err(args().with("cacert", Value::from("/nonexistent/ca.pem")))
            .option
            .as_deref(),
        Some("ssl_certificate_authorities")
    );
    // Both names at once is ambiguous.
    let e = err(args()
        .with("ssl", Value::Bool(true))
        .with("ssl_enabled", Value::Bool(true)));
    assert_eq!(e.option.as_deref(), Some("ssl"));
    // A PEM truststore is used as the CA list; JKS/PKCS12 are refused with the way out.
    let a = current_names(&args().with("truststore", Value::from("/etc/ca-bundle.pem"))).unwrap();
    assert_eq!(
        a.strings("ssl_certificate_authorities"),
        vec!["/etc/ca-bundle.pem".to_string()]
    );
    let e = err(args().with("truststore", Value::from("/etc/truststore.jks")));
    assert_eq!(e.option.as_deref(), Some("ssl_truststore_path"));
    assert!(e.message.contains("PEM"), "{e}");
    // Retired settings build.
    let ctx = BuildContext::default();
    assert!(build_output(
        &args()
            .with("document_type", Value::from("_doc"))
            .with("sniffing", Value::Bool(true))
            .with("ilm_enabled", Value::from("false"))
            .with("ilm_rollover_alias", Value::from("logs"))
            .with("ilm_policy", Value::from("hot-warm")),
        &ctx
    )
    .is_ok());
    let e = err(args().with("ilm_enabled", Value::from("true")));
    assert_eq!(e.option.as_deref(), Some("ilm_enabled"));
}
