//! The DC/OS Universe package in `dcos/` and the plain Marathon app `dcos/marathon-app.json`.
//!
//! * `package.json`, `config.json` and `resource.json` against the Universe schemas in
//!   `../shared/mesos/dcos/universe/schema/` (draft-04, as Universe's `validate_packages.py`).
//! * `marathon.json.mustache` rendered as Cosmos renders it (`config.json` defaults, then the
//!   user's options, validated against `config.json`, then `resource.json` under `resource`;
//!   mustache without HTML escaping, strings JSON-escaped without quotes) for several option
//!   sets, each result validated against Marathon's `AppDefinition.json`.
//! * Each app's command line and `LOGSTASH_MESOS_*` environment parsed by the real
//!   `SchedulerOptions` (so an invented flag or variable fails), and the labels checked against
//!   what the scheduler registers: `DCOS_PACKAGE_FRAMEWORK_NAME` is the framework name Cosmos
//!   tears down on uninstall.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use logstash_mesos_scheduler::options::OptionsError;
use logstash_mesos_scheduler::sched::EnvValue;
use logstash_mesos_scheduler::SchedulerOptions;
use serde_json::{json, Map, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pkg(file: &str) -> PathBuf {
    root().join("dcos").join(file)
}

fn shared(file: &str) -> PathBuf {
    root().join("../shared/mesos/dcos").join(file)
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} is invalid:\n  {}\n{}",
        errs.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

/// Cosmos' rendering of `marathon.json.mustache` (see `../shared/mesos/dcos/README.md`):
/// no HTML escaping (`{{x}}` = `{{{x}}}`), strings JSON-escaped without their quotes, arrays
/// and objects as JSON, numbers and booleans as they are. Falsy for sections, as in
/// mustache.java: missing, null, false, "" and []. Partials and delimiter changes are
/// refused rather than misrendered.
mod cosmos_mustache {
    use serde_json::Value;

    #[derive(Debug)]
    enum Node {
        Text(String),
        Var(String),
        Section {
            name: String,
            inverted: bool,
            body: Vec<Node>,
        },
    }

    pub fn render(template: &str, ctx: &Value) -> Result<String, String> {
        let nodes = parse(template)?;
        let mut out = String::new();
        let mut stack = vec![ctx];
        render_nodes(&nodes, &mut stack, &mut out);
        Ok(out)
    }

    /// Parses the whole template; Universe CI requires only this of a template.
    pub fn check(template: &str) -> Result<(), String> {
        parse(template).map(|_| ())
    }

    fn parse(template: &str) -> Result<Vec<Node>, String> {
        // (section name, inverted, nodes so far)
        let mut stack: Vec<(String, bool, Vec<Node>)> = vec![(String::new(), false, Vec::new())];
        let mut rest = template;
        let line_of = |rest: &str| template[..template.len() - rest.len()].lines().count();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                push(&mut stack, Node::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let (tag, next) = if let Some(inner) = after.strip_prefix('{') {
                let end = inner
                    .find("}}}")
                    .ok_or_else(|| format!("line {}: unclosed {{{{{{", line_of(rest)))?;
                (format!("&{}", &inner[..end]), &inner[end + 3..])
            } else {
                let end = after
                    .find("}}")
                    .ok_or_else(|| format!("line {}: unclosed {{{{", line_of(rest)))?;
                (after[..end].to_string(), &after[end + 2..])
            };
            let tag = tag.trim();
            let (sigil, name) = match tag.chars().next() {
                Some(c @ ('#' | '^' | '/' | '&' | '!' | '>' | '=')) => (Some(c), tag[1..].trim()),
                _ => (None, tag),
            };
            match sigil {
                Some('!') => {}
                Some('>' | '=') => {
                    let line = line_of(rest);
                    return Err(format!(
                        "line {line}: {{{{{tag}}}}} is not used by Cosmos packages"
                    ));
                }
                Some(c @ ('#' | '^')) => stack.push((name.to_string(), c == '^', Vec::new())),
                Some('/') => {
                    let (open, inverted, body) = stack.pop().unwrap_or_default();
                    if stack.is_empty() || open != name {
                        return Err(format!(
                            "line {}: {{{{/{name}}}}} closes {open:?}",
                            line_of(rest)
                        ));
                    }
                    push(
                        &mut stack,
                        Node::Section {
                            name: open,
                            inverted,
                            body,
                        },
                    );
                }
                _ => {
                    if name.is_empty() {
                        return Err(format!("line {}: empty tag", line_of(rest)));
                    }
                    push(&mut stack, Node::Var(name.to_string()));
                }
            }
            rest = next;
        }
        if !rest.is_empty() {
            push(&mut stack, Node::Text(rest.to_string()));
        }
        match stack.pop() {
            Some((name, _, nodes)) if stack.is_empty() && name.is_empty() => Ok(nodes),
            Some((name, ..)) => Err(format!("section {name:?} is never closed")),
            None => Err("unbalanced sections".into()),
        }
    }

    fn push(stack: &mut [(String, bool, Vec<Node>)], node: Node) {
        if let Some(top) = stack.last_mut() {
            top.2.push(node);
        }
    }

    fn lookup<'a>(stack: &[&'a Value], name: &str) -> Option<&'a Value> {
        if name == "." {
            return stack.last().copied();
        }
        let mut parts = name.split('.');
        let first = parts.next()?;
        let mut v = stack.iter().rev().find_map(|s| s.get(first))?;
        for p in parts {
            v = v.get(p)?;
        }
        Some(v)
    }

    fn truthy(v: Option<&Value>) -> bool {
        match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        }
    }

    fn render_nodes(nodes: &[Node], stack: &mut Vec<&Value>, out: &mut String) {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Var(name) => match lookup(stack, name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => {
                        let quoted = serde_json::to_string(s).unwrap_or_default();
                        out.push_str(&quoted[1..quoted.len() - 1]);
                    }
                    Some(v) => out.push_str(&v.to_string()),
                },
                Node::Section {
                    name,
                    inverted: true,
                    body,
                } => {
                    if !truthy(lookup(stack, name)) {
                        render_nodes(body, stack, out);
                    }
                }
                Node::Section { name, body, .. } => {
                    let v = lookup(stack, name);
                    if !truthy(v) {
                        continue;
                    }
                    match v {
                        Some(Value::Array(items)) => {
                            for item in items {
                                stack.push(item);
                                render_nodes(body, stack, out);
                                stack.pop();
                            }
                        }
                        Some(Value::Bool(true)) => render_nodes(body, stack, out),
                        Some(v) => {
                            stack.push(v);
                            render_nodes(body, stack, out);
                            stack.pop();
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

/// The defaults of a `config.json`, as Cosmos collects them: every `default` under nested
/// `properties`.
fn defaults(schema: &Value) -> Value {
    let mut out = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            if let Some(d) = p.get("default") {
                out.insert(k.clone(), d.clone());
            } else if p.get("properties").is_some() {
                out.insert(k.clone(), defaults(p));
            }
        }
    }
    Value::Object(out)
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

struct Package {
    config: Value,
    config_validator: jsonschema::Validator,
    resource: Value,
    template: String,
    marathon: jsonschema::Validator,
}

impl Package {
    fn load() -> Self {
        let config = json_file(&pkg("config.json"));
        Self {
            config_validator: validator(&config),
            config,
            resource: json_file(&pkg("resource.json")),
            template: text(&pkg("marathon.json.mustache")),
            marathon: marathon_validator(),
        }
    }

    /// Cosmos' options: defaults merged with the user's, then checked against config.json.
    fn options(&self, user: &Value) -> Result<Value, Vec<String>> {
        let mut opts = defaults(&self.config);
        merge(&mut opts, user);
        let errs = errors(&self.config_validator, &opts);
        if errs.is_empty() {
            Ok(opts)
        } else {
            Err(errs)
        }
    }

    /// Renders without the options check (to see what the scheduler would make of options
    /// the schema rejects).
    fn render_unchecked(&self, opts: &Value) -> Value {
        let mut ctx = opts.clone();
        merge(&mut ctx, &json!({ "resource": self.resource }));
        let rendered = cosmos_mustache::render(&self.template, &ctx).expect("template renders");
        serde_json::from_str(&rendered)
            .unwrap_or_else(|e| panic!("rendered template is not JSON: {e}\n{rendered}"))
    }

    /// What `dcos package install --options=<user>` would POST to Marathon.
    fn app(&self, user: &Value) -> Value {
        let opts = self
            .options(user)
            .unwrap_or_else(|e| panic!("options {user} rejected by config.json: {e:?}"));
        let app = self.render_unchecked(&opts);
        assert_valid(&self.marathon, &app, &format!("app rendered for {user}"));
        app
    }
}

fn marathon_validator() -> jsonschema::Validator {
    validator(&json_file(&shared("marathon/AppDefinition.json")))
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    opts: SchedulerOptions,
}

const PORT0: &str = "31005";
const HOST: &str = "node-7.cluster.example";

/// Runs the app's command line and environment through the real `SchedulerOptions`, as the
/// task on a node would: `$PORT0`/`$HOST` as Marathon sets them, each `LOGSTASH_MESOS_*`
/// variable as the flag that reads it, and a secret reference as a stand-in value.
fn scheduler_options(app: &Value) -> SchedulerOptions {
    let cmd = app["cmd"].as_str().expect("the app has a cmd");
    let cmd = cmd.replace("$PORT0", PORT0).replace("$HOST", HOST);
    assert!(!cmd.contains('$'), "unexpanded variable in {cmd:?}");
    let mut words = cmd.split_whitespace();
    assert_eq!(
        words.next(),
        Some("exec"),
        "{cmd}: exec keeps signals for the scheduler"
    );
    assert_eq!(words.next(), Some("logstash-mesos"));
    assert_eq!(words.next(), Some("scheduler"));
    let mut argv: Vec<String> = vec!["logstash-mesos-scheduler".into()];
    argv.extend(words.map(str::to_string));

    let flags: BTreeMap<String, String> = SchedulerOptions::augment_args(clap::Command::new("x"))
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?.to_string();
            Some((env, a.get_long()?.to_string()))
        })
        .collect();
    let env = app["env"].as_object().expect("the app has env");
    for (name, value) in env {
        let flag = flags.get(name).unwrap_or_else(|| {
            panic!("env {name} is not read by `logstash-mesos scheduler` (known: {flags:?})")
        });
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                let secret = o["secret"].as_str().expect("secret reference");
                assert!(
                    app["secrets"][secret]["source"].is_string(),
                    "env {name} refers to undeclared secret {secret}"
                );
                format!("<value of secret {secret}>")
            }
            other => panic!("env {name}: {other}"),
        };
        assert!(
            !argv.iter().any(|a| a == &format!("--{flag}")),
            "--{flag} is set both on the command line and as {name}"
        );
        argv.push(format!("--{flag}"));
        argv.push(value);
    }
    Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .opts
}

/// What every rendering must satisfy, whatever the options.
fn check_app(app: &Value) -> SchedulerOptions {
    let opts = scheduler_options(app);
    let spec = opts
        .agent_spec()
        .unwrap_or_else(|e| panic!("the scheduler would refuse to start: {e}"));
    opts.masters().expect("--master");
    logstash_mesos_scheduler::store::parse_url(&opts.state)
        .unwrap_or_else(|e| panic!("--state {}: {e}", opts.state));

    // The API listens on the port Marathon gave the task, and tells agents where it is.
    assert_eq!(opts.listen.to_string(), format!("0.0.0.0:{PORT0}"));
    assert_eq!(spec.scheduler_url, format!("http://{HOST}:{PORT0}"));
    assert_eq!(app["portDefinitions"].as_array().map(Vec::len), Some(1));

    // Health check on the scheduler's own HTTP API, on that port.
    let hc = &app["healthChecks"][0];
    assert_eq!(hc["portIndex"], 0);
    assert_eq!(hc["protocol"], "MESOS_HTTP");
    let path = hc["path"].as_str().expect("health path");
    let routes = text(&root().join("crates/scheduler/src/api/mod.rs"));
    assert!(
        routes.contains(&format!(".route(\"{path}\"")),
        "health check path {path} is not a route of the scheduler's API"
    );

    // A framework scheduler: never two at once (they would fight over the framework ID).
    assert_eq!(app["instances"], 1);
    assert_eq!(app["upgradeStrategy"]["minimumHealthCapacity"], 0);
    assert_eq!(app["upgradeStrategy"]["maximumOverCapacity"], 0);
    assert_eq!(app["labels"]["MARATHON_SINGLE_INSTANCE_APP"], "true");
    assert_eq!(app["container"]["type"], "DOCKER");
    assert_eq!(app["networks"][0]["mode"], "host");
    opts
}

/// The DC/OS side of a rendering: labels for Cosmos and the admin router.
fn check_dcos_labels(app: &Value, opts: &SchedulerOptions) {
    let labels = &app["labels"];
    assert_eq!(
        labels["DCOS_PACKAGE_FRAMEWORK_NAME"], opts.framework_name,
        "Cosmos tears down the framework named by DCOS_PACKAGE_FRAMEWORK_NAME"
    );
    assert_eq!(labels["DCOS_SERVICE_NAME"], opts.framework_name);
    assert_eq!(
        app["id"].as_str().map(|id| id.trim_start_matches('/')),
        Some(opts.framework_name.as_str())
    );
    assert_eq!(labels["DCOS_SERVICE_PORT_INDEX"], "0");
    assert_eq!(labels["DCOS_SERVICE_SCHEME"], "http");
    for cosmos_owned in [
        "DCOS_PACKAGE_NAME",
        "DCOS_PACKAGE_VERSION",
        "DCOS_PACKAGE_SOURCE",
        "DCOS_PACKAGE_OPTIONS",
        "DCOS_PACKAGE_DEFINITION",
    ] {
        assert!(
            labels.get(cosmos_owned).is_none(),
            "{cosmos_owned} is set by Cosmos"
        );
    }
}

fn assert_ascii_json(path: &Path) {
    let t = text(path);
    assert!(
        t.is_ascii(),
        "{}: Universe files must be ASCII",
        path.display()
    );
    assert!(
        !t.contains("\\u"),
        "{}: Universe forbids escaped unicode literals",
        path.display()
    );
}

#[test]
fn package_files_are_valid_universe_files() {
    let package = json_file(&pkg("package.json"));
    assert_valid(
        &validator(&json_file(&shared("universe/schema/package-schema.json"))),
        &package,
        "package.json",
    );
    assert_eq!(package["packagingVersion"], "4.0");
    assert_eq!(
        package["framework"], true,
        "the scheduler is a Mesos framework"
    );
    let name = package["name"].as_str().expect("name");
    assert_ne!(name, "logstash", "taken in Universe by plain Logstash");
    assert_eq!(
        package["version"],
        env!("CARGO_PKG_VERSION"),
        "package version follows the crates"
    );

    let config = json_file(&pkg("config.json"));
    assert_valid(
        &validator(&json_file(&shared("universe/schema/config-schema.json"))),
        &config,
        "config.json",
    );
    validator(&config); // and it is a draft-04 schema itself

    let resource = json_file(&pkg("resource.json"));
    assert_valid(
        &validator(&json_file(&shared(
            "universe/schema/v3-resource-schema.json",
        ))),
        &resource,
        "resource.json",
    );
    // The images `scripts/build-images.sh` builds from docker/*.Dockerfile.
    for (asset, dockerfile) in [("scheduler", "scheduler"), ("agent", "agent")] {
        let image = resource["assets"]["container"]["docker"][asset]
            .as_str()
            .unwrap_or_else(|| panic!("resource.json names the {asset} image"));
        assert_eq!(
            image,
            format!("logstash-mesos/{asset}:{}", env!("CARGO_PKG_VERSION")),
            "a pinned tag, the one scripts/build-images.sh gives"
        );
        assert!(root()
            .join(format!("docker/{dockerfile}.Dockerfile"))
            .is_file());
    }

    cosmos_mustache::check(&text(&pkg("marathon.json.mustache"))).expect("template parses");
    for f in [
        "package.json",
        "config.json",
        "resource.json",
        "marathon.json.mustache",
    ] {
        assert_ascii_json(&pkg(f));
    }
}

/// The renderer reproduces Cosmos on packages known to render to valid apps (README of
/// `../shared/mesos/dcos/`: chronos/7 and time-server/0 validate against AppDefinition.json).
#[test]
fn renderer_matches_cosmos_on_reference_packages() {
    let marathon = marathon_validator();
    for dir in [
        "universe/packages/chronos/7",
        "universe/tutorial/time-server/0",
    ] {
        let config = json_file(&shared(&format!("{dir}/config.json")));
        let mut ctx = defaults(&config);
        assert_valid(&validator(&config), &ctx, &format!("{dir} defaults"));
        merge(
            &mut ctx,
            &json!({ "resource": json_file(&shared(&format!("{dir}/resource.json"))) }),
        );
        let tpl = text(&shared(&format!("{dir}/marathon.json.mustache")));
        let rendered = cosmos_mustache::render(&tpl, &ctx).expect("renders");
        let app: Value = serde_json::from_str(&rendered)
            .unwrap_or_else(|e| panic!("{dir}: not JSON: {e}\n{rendered}"));
        assert_valid(&marathon, &app, dir);
    }

    // Cosmos' string rule: escaped for JSON, quotes left to the template; arrays as JSON.
    let ctx = json!({"s": "a\"b\\c", "e": "", "l": ["x", "y"], "n": 2.5, "t": true});
    let out = cosmos_mustache::render(
        r#"{"s": "{{s}}", "u": "{{{s}}}", "l": {{l}}, "n": {{n}}, "t": {{t}}, "m": "{{missing.x}}"{{#e}}, "e": 1{{/e}}{{^e}}, "ne": 1{{/e}}}"#,
        &ctx,
    )
    .expect("renders");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("JSON"),
        json!({"s": "a\"b\\c", "u": "a\"b\\c", "l": ["x", "y"], "n": 2.5, "t": true, "m": "", "ne": 1})
    );
    assert!(cosmos_mustache::check("{{#a}}{{/b}}").is_err());
    assert!(cosmos_mustache::check("{{#a}}").is_err());
    assert!(cosmos_mustache::check("{{>partial}}").is_err());
}

#[test]
fn defaults_render_a_dcos_framework_app() {
    let p = Package::load();
    let app = p.app(&json!({}));
    let opts = check_app(&app);
    check_dcos_labels(&app, &opts);
    let image = p.resource["assets"]["container"]["docker"]["scheduler"].clone();
    let agent_image = p.resource["assets"]["container"]["docker"]["agent"].clone();

    assert_eq!(opts.framework_name, "logstash-mesos");
    assert_eq!(opts.master, "zk://master.mesos:2181/mesos");
    assert_eq!(
        opts.state,
        "zk://master.mesos:2181/logstash-mesos/logstash-mesos"
    );
    assert_eq!(opts.role, "*");
    assert_eq!(opts.user, "root");
    assert_eq!(opts.failover_timeout, 604_800.0);
    assert_eq!((opts.agent_cpus, opts.agent_mem), (0.5, 256.0));
    assert_eq!(opts.agent_image.as_deref(), agent_image.as_str());
    assert_eq!(app["container"]["docker"]["image"], image);
    assert_eq!(opts.elasticsearch_hosts, None);
    assert_eq!(opts.agent_log_dirs, ["/var/lib/docker/containers"]);
    assert_eq!(opts.principal, None);
    assert_eq!(opts.secret, None);
    assert_eq!(opts.config_dir, None);
    assert!(app.get("secrets").is_none());
    assert_eq!(app["container"]["volumes"], json!([]));
    assert_eq!(app["portDefinitions"][0]["port"], 0);
    assert_eq!(app["requirePorts"], false);
}

#[test]
fn service_account_with_secret() {
    let p = Package::load();
    let app = p.app(&json!({"service": {
        "service_account": "logstash-mesos-principal",
        "service_account_secret": "logstash-mesos/account-secret"
    }}));
    let opts = check_app(&app);
    check_dcos_labels(&app, &opts);
    assert_eq!(opts.principal.as_deref(), Some("logstash-mesos-principal"));
    // The secret comes from the secret store through the environment, never the command line.
    let reference = app["env"]["LOGSTASH_MESOS_SECRET"]["secret"]
        .as_str()
        .expect("LOGSTASH_MESOS_SECRET is a secret reference");
    assert_eq!(
        app["secrets"][reference]["source"],
        "logstash-mesos/account-secret"
    );
    assert_eq!(
        opts.secret.as_deref(),
        Some(format!("<value of secret {reference}>").as_str())
    );
    assert!(!app["cmd"].as_str().unwrap_or_default().contains("secret"));
}

#[test]
fn non_default_framework_name_and_every_option() {
    let p = Package::load();
    let user = json!({
        "service": {
            "name": "logs-prod",
            "cpus": 1,
            "mem": 512,
            "role": "logging",
            "failover_timeout": 3600,
            "ui_port": 10080,
            "require_ui_port": true,
            "state": "zk://zk-1.example:2181,zk-2.example:2181/logging/logs-prod",
            "config_dir": "/etc/logstash-mesos/conf.d"
        },
        "mesos": {"master": "m1.example:5050,m2.example:5050"},
        "agent": {
            "cpus": 1.5,
            "mem": 768,
            "image": "registry.example:5000/logstash-mesos:0.1.0-custom",
            "user": "logship",
            "log_dirs": "/var/lib/docker/containers,/srv/logs with \"quotes\" and \\"
        },
        "elasticsearch": {
            "hosts": "https://coordinator.elastic.l4lb.thisdcos.directory:9200",
            "user": "logship",
            "password_secret": "logs-prod/es-password"
        }
    });
    let app = p.app(&user);
    let opts = check_app(&app);
    check_dcos_labels(&app, &opts);
    assert_eq!(opts.framework_name, "logs-prod");
    assert_eq!(app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"], "logs-prod");
    assert_eq!(app["id"], "logs-prod");
    assert_eq!(
        (app["cpus"].as_f64(), app["mem"].as_f64()),
        (Some(1.0), Some(512.0))
    );
    assert_eq!(opts.role, "logging");
    assert_eq!(opts.failover_timeout, 3600.0);
    assert_eq!(
        opts.state,
        "zk://zk-1.example:2181,zk-2.example:2181/logging/logs-prod"
    );
    assert_eq!(opts.master, "m1.example:5050,m2.example:5050");
    assert_eq!((opts.agent_cpus, opts.agent_mem), (1.5, 768.0));
    assert_eq!(
        opts.agent_image.as_deref(),
        Some("registry.example:5000/logstash-mesos:0.1.0-custom")
    );
    assert_eq!(opts.user, "logship");
    // Cosmos escapes strings for JSON; the value arrives as typed.
    assert_eq!(
        opts.agent_log_dirs,
        [
            "/var/lib/docker/containers",
            "/srv/logs with \"quotes\" and \\"
        ]
    );
    assert_eq!(
        opts.config_dir.as_deref(),
        Some(Path::new("/etc/logstash-mesos/conf.d"))
    );
    assert_eq!(
        app["container"]["volumes"],
        json!([{"containerPath": "/etc/logstash-mesos/conf.d",
                "hostPath": "/etc/logstash-mesos/conf.d", "mode": "RO"}])
    );
    assert_eq!(app["portDefinitions"][0]["port"], 10080);
    assert_eq!(app["requirePorts"], true);
    // The Elasticsearch settings reach every agent task; the password only as a
    // secret-store reference, which the scheduler never reads.
    let env = opts.agent_spec().expect("spec").env;
    assert_eq!(
        env,
        vec![
            (
                "ELASTICSEARCH_HOSTS".to_string(),
                EnvValue::Value("https://coordinator.elastic.l4lb.thisdcos.directory:9200".into())
            ),
            (
                "ELASTICSEARCH_USER".to_string(),
                EnvValue::Value("logship".into())
            ),
            (
                "ELASTICSEARCH_PASSWORD".to_string(),
                EnvValue::SecretRef("logs-prod/es-password".into())
            ),
        ]
    );
    assert!(
        app.get("secrets").is_none(),
        "the scheduler gets no ES secret"
    );
    // Two instances under different names keep apart: own framework, own state.
    let other = p.app(&json!({"service": {"name": "logs-staging"}}));
    assert_eq!(
        scheduler_options(&other).state,
        "zk://master.mesos:2181/logstash-mesos/logs-staging"
    );
}

#[test]
fn invalid_options_are_rejected() {
    let p = Package::load();
    for bad in [
        json!({"service": {"name": "Logstash Mesos"}}),
        json!({"service": {"name": "logs/prod"}}),
        json!({"service": {"service_account_secret": "a/secret"}}),
        json!({"service": {"state": "s3://bucket/state"}}),
        json!({"service": {"state": "zk://zk-only-hosts:2181"}}),
        json!({"service": {"config_dir": "relative/dir"}}),
        json!({"service": {"ui_port": 70000}}),
        json!({"service": {"cpus": "1"}}),
        json!({"service": {"frameworkname": "typo"}}),
        json!({"agent": {"cpus": 0}}),
        json!({"agent": {"mem": -1}}),
        json!({"mesos": {"master": ""}}),
        json!({"elasticsearch": {"hosts": ["https://es.example:9200"], "user": "elastic"}}),
        json!({"elasticsearch": {"hosts": "es.example:9200"}}),
        json!({"elasticsearch": {"password": "in clear"}}),
    ] {
        assert!(p.options(&bad).is_err(), "config.json accepted {bad}");
    }

    // What the schema keeps out, the scheduler would refuse too.
    let mut opts = p.options(&json!({})).expect("defaults");
    merge(
        &mut opts,
        &json!({"service": {"service_account_secret": "a/secret"}}),
    );
    let app = p.render_unchecked(&opts);
    assert_eq!(
        scheduler_options(&app).agent_spec().map(|_| ()),
        Err(OptionsError::SecretWithoutPrincipal)
    );
    let mut opts = p.options(&json!({})).expect("defaults");
    merge(&mut opts, &json!({"agent": {"cpus": 0}}));
    let app = p.render_unchecked(&opts);
    assert_eq!(
        scheduler_options(&app).agent_spec().map(|_| ()),
        Err(OptionsError::NotPositive("agent-cpus", 0.0))
    );

    // And the Marathon schema does bite.
    let mut app = p.app(&json!({}));
    app["bogus"] = json!(1);
    assert!(!errors(&p.marathon, &app).is_empty());
    let mut app = p.app(&json!({}));
    app["labels"]["DCOS_SERVICE_PORT_INDEX"] = json!(0);
    assert!(!errors(&p.marathon, &app).is_empty(), "labels are strings");
}

#[test]
fn plain_marathon_app_for_mesos_without_dcos() {
    let p = Package::load();
    let path = pkg("marathon-app.json");
    assert_ascii_json(&path);
    let plain = json_file(&path);
    assert_valid(&p.marathon, &plain, "dcos/marathon-app.json");
    let opts = check_app(&plain);
    assert_eq!(opts.framework_name, "logstash-mesos");
    assert!(opts.master.starts_with("zk://"));
    assert!(
        opts.state.starts_with("zk://"),
        "state survives a move of the scheduler"
    );
    let labels = plain["labels"].as_object().expect("labels");
    assert!(
        labels.keys().all(|k| !k.starts_with("DCOS_")),
        "no DC/OS labels without DC/OS"
    );

    // Same command, health check and variables as the package's defaults.
    let packaged = p.app(&json!({}));
    for key in [
        "cmd",
        "healthChecks",
        "upgradeStrategy",
        "portDefinitions",
        "networks",
    ] {
        assert_eq!(plain[key], packaged[key], "{key} differs from the package");
    }
    let keys = |app: &Value| -> Vec<String> {
        app["env"]
            .as_object()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    };
    // The plain app also names an Elasticsearch (the package leaves it empty by default).
    let mut plain_keys = keys(&plain);
    plain_keys.retain(|k| k != "LOGSTASH_MESOS_ELASTICSEARCH_HOSTS");
    assert_eq!(plain_keys, keys(&packaged));
    assert_eq!(
        plain["container"]["docker"]["image"],
        packaged["container"]["docker"]["image"]
    );
}
