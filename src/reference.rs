//! `docs/cli.md`, the reference of every command, flag and environment variable, generated
//! from the clap definitions so it cannot drift from them: a unit test fails when the file
//! is stale (`LSM_UPDATE_DOCS=1 cargo test -p logstash-mesos --bin logstash-mesos reference`
//! rewrites it). Plugin options have their own generated page, `docs/plugins.md`.

use clap::CommandFactory;
use logstash_mesos_core::agent_protocol as proto;
use std::fmt::Write;

/// Variables read without a flag of their own: what Mesos, Docker and the scheduler give
/// the processes.
const OTHER_ENV: &[(&str, &str)] = &[
    (
        proto::ENV_AGENT_PORT,
        "agent: the port the scheduler reserved from the offer; `/status` listens on 0.0.0.0 there (overrides `--status.bind`)",
    ),
    (
        proto::ENV_NODE,
        "agent: the node's hostname as Mesos knows it, the key of its reports to the scheduler",
    ),
    (
        proto::ENV_TASK_ID,
        "agent: its own Mesos task id, sent with its reports",
    ),
    (
        proto::ENV_MESOS_TASK_ID,
        "agent: set by Mesos on every task; the fallback for `LOGSTASH_MESOS_TASK_ID`",
    ),
    (
        "MESOS_AGENT_ENDPOINT",
        "agent, `mesos` input: set by Mesos for command tasks; used when neither `agent_url` nor `--mesos-agent` is given",
    ),
    (
        "LIBPROCESS_IP",
        "agent, `mesos` input: the last fallback for the agent address (`<LIBPROCESS_IP>:5051`)",
    ),
    (
        "DOCKER_TLS_VERIFY, DOCKER_CERT_PATH",
        "agent, `docker` input: TLS to the Docker daemon, as the docker CLI reads them",
    ),
    (
        "HOSTNAME",
        "`host.hostname` of events, and the scheduler's default advertised host",
    ),
    (
        "ELASTICSEARCH_HOSTS, ELASTICSEARCH_USER, ELASTICSEARCH_PASSWORD",
        "agent tasks launched by the scheduler: set from `--elasticsearch-*`, for configs to read as `${ELASTICSEARCH_HOSTS}`",
    ),
    (
        "any `${NAME}` / `${NAME:default}`",
        "pipeline configs: substituted from the environment when the config is loaded, as Logstash does",
    ),
];

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn command_section(out: &mut String, title: &str, cmd: &clap::Command) {
    let _ = writeln!(out, "## `{title}`\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", about.to_string().trim());
    }
    let _ = writeln!(
        out,
        "| flag | environment | default | meaning |\n|---|---|---|---|"
    );
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" || a.is_hide_set() {
            continue;
        }
        let mut flag = String::new();
        if let Some(s) = a.get_short() {
            let _ = write!(flag, "`-{s}` ");
        }
        match a.get_long() {
            Some(l) => {
                let _ = write!(flag, "`--{l}`");
            }
            None => {
                let _ = write!(flag, "`<{}>`", id.to_uppercase());
            }
        }
        if a.get_num_args().is_some_and(|n| n.takes_values()) {
            let names = a
                .get_value_names()
                .map(|v| {
                    v.iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| id.to_uppercase());
            let _ = write!(flag, " {names}");
        }
        let env = a
            .get_env()
            .and_then(|e| e.to_str())
            .map(|e| format!("`{e}`"))
            .unwrap_or_default();
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .filter_map(|v| v.to_str())
            .map(|v| format!("`{v}`"))
            .collect();
        let help = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&flag),
            env,
            cell(&defaults.join(", ")),
            cell(help.trim())
        );
    }
    out.push('\n');
}

/// The whole page.
pub fn cli_markdown() -> String {
    let mut cli = crate::cli::Cli::command();
    // Fills in what clap derives lazily (how many values each flag takes).
    cli.build();
    let mut out = String::from(
        "# Command-line reference\n\n\
         Generated from the flag definitions by `src/reference.rs`; a test fails when this file \
         is stale (`LSM_UPDATE_DOCS=1 cargo test -p logstash-mesos --bin logstash-mesos \
         reference` rewrites it). Plugin options: [plugins.md](plugins.md).\n\n\
         Exit codes: 0 success, 1 invalid configuration or runtime failure, 2 usage error.\n\n",
    );
    command_section(&mut out, "logstash-mesos [run]", &cli);
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        if name == "run" || name == "help" {
            continue;
        }
        command_section(&mut out, &format!("logstash-mesos {name}"), sub);
    }
    out.push_str("## Other environment variables\n\n| variable | read by |\n|---|---|\n");
    for (name, what) in OTHER_ENV {
        let _ = writeln!(out, "| `{name}` | {} |", cell(what));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_docs_match_the_flags() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
        let want = super::cli_markdown();
        if std::env::var_os("LSM_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).expect("write docs/cli.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/cli.md is stale: run `LSM_UPDATE_DOCS=1 cargo test -p logstash-mesos --bin \
             logstash-mesos reference`"
        );
        for flag in [
            "--path.config",
            "--master",
            "--agent-env",
            "--elasticsearch-hosts",
        ] {
            assert!(want.contains(flag), "{flag} missing");
        }
    }
}
