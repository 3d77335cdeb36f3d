use super::*;
use crate::plugin::Ecs;

fn codec(args: Args, ecs: Ecs) -> Box<dyn Codec> {
    let ctx = BuildContext {
        ecs,
        ..BuildContext::default()
    };
    build(&args, &ctx).unwrap()
}

fn decode_one(c: &mut Box<dyn Codec>, s: &str) -> Event {
    let mut out = Vec::new();
    c.decode(s.as_bytes(), &mut out);
    assert_eq!(out.len(), 1, "{s}");
    out.pop().unwrap()
}

fn get(e: &Event, r: &str) -> Option<String> {
    e.get(&FieldRef::parse(r).unwrap())
        .map(|v| v.to_logstash_string())
}

#[test]
fn legacy_header_and_extensions() {
    let mut c = codec(
        Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
        Ecs::Disabled,
    );
    let e = decode_one(
        &mut c,
        "CEF:0|sec|tm|1.0|100|stopped|10|src=10.0.0.1 msg=a \\= b spt=12 unknownKey=x y",
    );
    assert_eq!(get(&e, "cefVersion").as_deref(), Some("0"));
    assert_eq!(get(&e, "deviceVendor").as_deref(), Some("sec"));
    assert_eq!(get(&e, "severity").as_deref(), Some("10"));
    assert_eq!(get(&e, "sourceAddress").as_deref(), Some("10.0.0.1"));
    assert_eq!(get(&e, "message").as_deref(), Some("a = b"));
    assert_eq!(get(&e, "sourcePort").as_deref(), Some("12"));
    assert_eq!(get(&e, "unknownKey").as_deref(), Some("x y"));
    assert!(!e.has_tag(FAILURE_TAG));
}

#[test]
fn ecs_mapping_device_host_and_timestamps() {
    let args =
        Args::for_plugin(crate::registry::Kind::Codec, OPTIONS).with("device", "host".into());
    let mut c = codec(args, Ecs::V8);
    let e = decode_one(
        &mut c,
        "CEF:1|v|p|2|sig|n|3|dvchost=box dvc=1.2.3.4 art=1500464384997 rt=Jul 19 2017 10:50:21.127 dtz=Europe/Moscow",
    );
    assert_eq!(get(&e, "[cef][version]").as_deref(), Some("1"));
    assert_eq!(get(&e, "[event][code]").as_deref(), Some("sig"));
    assert_eq!(get(&e, "[host][name]").as_deref(), Some("box"));
    assert_eq!(get(&e, "[host][ip]").as_deref(), Some("1.2.3.4"));
    assert_eq!(
        get(&e, "[event][timezone]").as_deref(),
        Some("Europe/Moscow")
    );
    assert_eq!(
        e.timestamp().map(|t| t.to_string()).as_deref(),
        Some("2017-07-19T07:50:21.127Z")
    );
    assert!(matches!(
        e.get(&FieldRef::parse("[event][created]").unwrap()),
        Some(Value::Timestamp(_))
    ));
}

#[test]
fn bad_input_is_tagged_not_panicking() {
    let mut c = codec(
        Args::for_plugin(crate::registry::Kind::Codec, OPTIONS),
        Ecs::V8,
    );
    for bad in [
        "",
        "|",
        "\"",
        "not cef at all",
        "CEF:0|a|b|c|d|e|f|=novalue",
        "CEF:0|a|b|c|d|e|f|key",
        "CEF:0|a|b|c|d|e|f|rt=yesterday",
        "CEF:0|a|b|c|d|e|f|rt=Jul 19 2017 10:50:21 dtz=Mars/Olympus",
        "CEF:0|a|b|c|d|e|f|x=1\nCEF:0|a|b|c|d|e|f|x=2",
        "CEF:0|a|b|c\\",
        "a\\|b\\|",
    ] {
        let e = decode_one(&mut c, bad);
        assert!(e.has_tag(FAILURE_TAG), "{bad:?} should fail");
    }
    // Not UTF-8.
    let mut out = Vec::new();
    c.decode(b"CEF:0|\xff|b|c|d|e|f|", &mut out);
    assert!(out[0].has_tag(FAILURE_TAG));
}

#[test]
fn escaped_pipe_at_end_ends_the_field() {
    // No unescaped pipe is left: the lazy header pattern ends the field at the escaped one.
    let (f, rest) = header_field("abc\\|def").unwrap();
    assert_eq!((f, rest), ("abc\\", "def"));
    assert_eq!(header_field("a\\|b|c"), Some(("a\\|b", "c")));
    assert_eq!(header_field("abc"), None);
}

#[test]
fn delimiter_buffers_across_chunks() {
    let args =
        Args::for_plugin(crate::registry::Kind::Codec, OPTIONS).with("delimiter", "\\r\\n".into());
    let mut c = codec(args, Ecs::Disabled);
    let mut out = Vec::new();
    c.decode(b"CEF:0|a|b|c|d|e|1|x=1\r\nCEF:0|a|b|", &mut out);
    assert_eq!(out.len(), 1);
    c.decode(b"c|d|e|2|x=2\r\n", &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(get(&out[1], "severity").as_deref(), Some("2"));
    c.decode(b"CEF:0|a|b|c|d|e|3|", &mut out);
    c.flush(&mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn encode_escapes_and_maps_keys() {
    let mut e = Event::new();
    let _ = e.set(&FieldRef::parse("[source][ip]").unwrap(), "1.2.3.4".into());
    let _ = e.set(&FieldRef::top("message"), "a=b\nc\\d".into());
    let _ = e.set(&FieldRef::top("vendorname"), "ven|dor".into());
    let args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS)
        .with("vendor", "%{vendorname}".into())
        .with("severity", "12".into())
        .with(
            "fields",
            Value::Array(vec![
                "[source][ip]".into(),
                "message".into(),
                "missing".into(),
            ]),
        );
    let mut c = codec(args.clone(), Ecs::V8);
    let mut out = Vec::new();
    c.encode(&e, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "CEF:0|ven\\|dor|Logstash|1.0|Logstash|Logstash|6|sourceAddress=1.2.3.4 message=a\\=b\\nc\\\\d"
    );
    let mut c = codec(args.with("reverse_mapping", true.into()), Ecs::V8);
    let mut out = Vec::new();
    c.encode(&e, &mut out);
    let s = String::from_utf8(out).unwrap();
    assert!(s.ends_with("|src=1.2.3.4 msg=a\\=b\\nc\\\\d"), "{s}");
}

#[test]
fn encode_then_decode_round_trips() {
    let mut e = Event::new();
    let _ = e.set(&FieldRef::parse("[source][port]").unwrap(), "80".into());
    let _ = e.set(&FieldRef::top("message"), "x = y".into());
    let args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS)
        .with("severity", "7.0".into())
        .with(
            "fields",
            Value::Array(vec!["[source][port]".into(), "message".into()]),
        );
    let mut c = codec(args, Ecs::V8);
    let mut out = Vec::new();
    c.encode(&e, &mut out);
    let d = decode_one(&mut c, std::str::from_utf8(&out).unwrap());
    assert_eq!(get(&d, "[event][severity]").as_deref(), Some("7"));
    assert_eq!(get(&d, "[source][port]").as_deref(), Some("80"));
    assert_eq!(get(&d, "message").as_deref(), Some("x = y"));
}

#[test]
fn config_errors() {
    let ctx = BuildContext::default();
    for (opt, v) in [
        ("default_timezone", "Nowhere/City"),
        ("locale", "de_DE"),
        ("delimiter", ""),
        ("raw_data_field", "[bad"),
    ] {
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Codec, OPTIONS).with(opt, v.into()),
            &ctx,
        )
        .err()
        .unwrap();
        assert_eq!(err.option.as_deref(), Some(opt));
    }
}
