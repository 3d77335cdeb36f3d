//! The command line as a user meets it: config directories and globs, -t exit codes, errors
//! naming the right file, `${VAR}` substitution, and `check --syntax-only`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn directory_files_are_concatenated_in_lexical_order() {
    let dir = tempfile::tempdir().unwrap();
    // Lexical order puts the output before the input: sections may come in any order.
    std::fs::write(
        dir.path().join("20-in.conf"),
        "input { stdin { codec => json_lines } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("10-out.conf"),
        "output { stdout { codec => json_lines } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("15-filter.conf"),
        "filter { mutate { add_tag => [\"first\"] } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("16-filter.conf"),
        "filter { mutate { add_tag => [\"second\"] } }\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = run(
        &[
            "-f",
            dir.path().to_str().unwrap(),
            "--path.data",
            data.to_str().unwrap(),
        ],
        "{\"a\":1}\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        v["tags"],
        serde_json::json!(["first", "second"]),
        "filters compose in file order"
    );
}

#[test]
fn globs_select_files_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.conf"), "input { stdin { } }\n").unwrap();
    std::fs::write(
        dir.path().join("b.conf"),
        "output {\n  stdout { codec => json_lines }\n  stdout { cdec => json }\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "this is not a config").unwrap();
    let pattern = format!("{}/*.conf", dir.path().display());
    let out = run(&["-t", "-f", &pattern], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let b = dir.path().join("b.conf");
    assert!(
        err.contains(&format!(
            "{}:3:12: output \"stdout\": unknown option \"cdec\"",
            b.display()
        )),
        "{err}"
    );
    assert!(err.contains("did you mean \"codec\"?"), "{err}");
    assert!(err.contains("3 |   stdout { cdec => json }"), "{err}");
}

#[test]
fn test_and_exit_codes() {
    let ok = run(&["-t", "-e", "input { stdin {} } output { null {} }"], "");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("Configuration OK"));
    let bad = run(
        &[
            "check",
            "-e",
            "input { stdin {} } filter { grok { match => { \"message\" => \"%{NOPE}\" } } }",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("NOPE"), "{}", text(&bad.stderr));
    // Syntax-only accepts plugins it does not know.
    let syntax = run(
        &[
            "check",
            "--syntax-only",
            "-e",
            "input { mystery { a => 1 } }",
        ],
        "",
    );
    assert_eq!(syntax.status.code(), Some(0), "{}", text(&syntax.stderr));
    let broken = run(
        &["check", "--syntax-only", "-e", "input { stdin { a => } }"],
        "",
    );
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stderr).starts_with("config string:1:"),
        "{}",
        text(&broken.stderr)
    );
}

#[test]
fn environment_substitution() {
    let out = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["-e", "input { generator { count => 1 message => \"${GREETING} ${WHO:world}\" } } output { stdout { codec => json_lines } }"])
        .env("GREETING", "hello")
        .env_remove("WHO")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["message"], "hello world");
    let missing = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args([
            "-t",
            "-e",
            "input { generator { message => \"${SURELY_UNDEFINED_VAR}\" } } output { null {} }",
        ])
        .env_remove("SURELY_UNDEFINED_VAR")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("SURELY_UNDEFINED_VAR"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn stdin_event_has_logstash_fields() {
    let out = run(
        &[
            "-e",
            "input { stdin {} } output { stdout { codec => json_lines } }",
        ],
        "hello\n",
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["message"], "hello");
    assert_eq!(v["@version"], "1");
    assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(v["host"]["hostname"].is_string());
    assert_eq!(v["event"]["original"], "hello");
}

/// Syntax only means syntax (Logstash 8): `${VAR}` is not resolved there, so a variable set
/// only where the pipeline runs is no error; plain `check` still names it.
#[test]
fn syntax_only_check_leaves_variables_alone() {
    let conf = "input { generator { message => \"${SURELY_UNDEFINED_VAR}\" } } output { null {} }";
    let syntax = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["check", "--syntax-only", "-e", conf])
        .env_remove("SURELY_UNDEFINED_VAR")
        .output()
        .unwrap();
    assert_eq!(syntax.status.code(), Some(0), "{}", text(&syntax.stderr));
    let full = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["check", "-e", conf])
        .env_remove("SURELY_UNDEFINED_VAR")
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(text(&full.stderr).contains("SURELY_UNDEFINED_VAR"));
}

/// `-t` with an unset variable still reports the config's other errors, in one run; an
/// error on the option holding the placeholder itself (`count => "${N}"` is no number
/// until set) is not reported twice.
#[test]
fn config_test_reports_an_unset_variable_with_the_other_errors() {
    let conf = "input { generator { count => \"${SURELY_UNSET_N}\" id => \"${SURELY_UNSET_ID}\" } }\nfilter { mutate { bogus => 1 } }\noutput { null {} }";
    let out = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["-t", "-e", conf])
        .env_remove("SURELY_UNSET_N")
        .env_remove("SURELY_UNSET_ID")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`${SURELY_UNSET_N}`"), "{err}");
    assert!(err.contains("`${SURELY_UNSET_ID}`"), "{err}");
    assert!(err.contains("unknown option \"bogus\""), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("config string:")).count(),
        3,
        "two unset variables and one unknown option, no second error on the placeholder's option: {err}"
    );
}

/// Files plugins read when they start (grok `patterns_dir`, templates, dictionaries) may
/// exist only where the pipeline runs: `-t` warns about them and passes, as `logstash -t`
/// (which does not open them) would; `--strict` makes them errors; running fails.
#[test]
fn config_test_warns_about_files_read_at_start_unless_strict() {
    let conf = "filter { grok { patterns_dir => [\"/surely/missing/patterns\"] match => { \"message\" => \"%{MYPAT:x}\" } } translate { source => \"a\" target => \"b\" dictionary_path => \"/surely/missing/d.yml\" } }\noutput { elasticsearch { template => \"/surely/missing/t.json\" } }";
    let out = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["-t", "-e", conf])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: 4 problem(s) with files read when the plugins start"),
        "{err}"
    );
    for what in [
        "patterns_dir",
        "unknown pattern %{MYPAT}",
        "dictionary_path",
        "option \"template\"",
    ] {
        assert!(err.contains(what), "{what}: {err}");
    }
    let strict = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(["-t", "--strict", "-e", conf])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    // An unknown pattern with no unread pattern file is a plain error.
    let plain = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args([
            "-t",
            "-e",
            "filter { grok { match => { \"message\" => \"%{MYPAT:x}\" } } }",
        ])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain.stderr));
    // Running needs the files.
    let run = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args([
            "-e",
            &format!("input {{ generator {{ count => 1 }} }} {conf}"),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
}

/// Logstash's stdin switches `json` to `json_lines` and `plain` to `line`
/// (`fix_streaming_codecs`): one event per line, not per read; lines get the host.
#[test]
fn stdin_switches_to_line_oriented_codecs() {
    let out = run(
        &[
            "-e",
            "input { stdin { codec => json } } output { stdout { codec => json_lines } }",
        ],
        "{\"a\":1}\n{\"a\":2,\"host\":{\"hostname\":\"sender\"}}\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "one event per line: {events:?}");
    assert_eq!(events[0]["a"], 1);
    assert_eq!(events[1]["host"]["hostname"], "sender");
    let out = run(
        &[
            "-e",
            "input { stdin { codec => plain } } output { stdout { codec => json_lines } }",
        ],
        "one\ntwo\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .map(|v| v["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(messages, ["one", "two"]);
    assert!(events.iter().all(|v| v["host"]["hostname"].is_string()));
}

/// A conditional's regex with a `{` that opens no quantifier (`/^{.*}$/`, common in real
/// configs to spot JSON) is valid, as in Ruby.
#[test]
fn conditional_regex_braces_are_literal_as_in_ruby() {
    let conf = r#"input { stdin {} }
filter { if [message] =~ /^{.*}$/ { mutate { add_tag => "json" } } }
output { stdout { codec => json_lines } }"#;
    let out = run(&["-e", conf], "{\"a\":1}\nplain\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tags: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["tags"].clone())
        .collect();
    assert_eq!(tags, [serde_json::json!(["json"]), serde_json::Value::Null]);
}
