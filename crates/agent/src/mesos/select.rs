//! Which tasks to read, and where their output files are (PROTOCOL.md §2, §4.1, §10).
//!
//! Selection has the docker input's shape: globs and regexes on framework (name or id)
//! and task name, label globs that must all match, role globs, container types. With no
//! selector every task on the node is taken.

use super::api::{ContainerId, Executor, Framework, State, Task};
use std::collections::BTreeMap;

/// The facts stamped on every event of a task's streams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskMeta {
    pub agent_id: String,
    pub agent_hostname: String,
    pub framework_id: String,
    pub framework_name: String,
    pub executor_id: String,
    pub task_id: String,
    pub task_name: String,
    pub labels: BTreeMap<String, String>,
    /// The container whose stdout/stderr is read: the executor's, or the task's nested
    /// container for task-group tasks.
    pub container_id: String,
    pub role: String,
    /// `docker`, `mesos` or `none` (no ContainerInfo).
    pub container_type: String,
}

/// One task's output directory, as listed by `/state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    pub meta: TaskMeta,
    /// Host path of the directory holding `stdout`/`stderr`.
    pub dir: String,
    /// The task is terminal (its files grow no more once the loggers drained).
    pub terminal: bool,
}

/// Glob-or-regex selectors; an empty selector matches anything.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    pub globs: Vec<glob::Pattern>,
    pub regexes: Vec<regex::Regex>,
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty() && self.regexes.is_empty()
    }

    /// Any of `values` matching any pattern.
    pub fn matches_any(&self, values: &[&str]) -> bool {
        self.is_empty()
            || values.iter().any(|v| {
                self.globs.iter().any(|g| g.matches(v))
                    || self.regexes.iter().any(|r| r.is_match(v))
            })
    }
}

#[derive(Clone, Debug, Default)]
pub struct Matcher {
    pub framework: Selector,
    pub task_name: Selector,
    pub labels: Vec<(String, glob::Pattern)>,
    pub role: Selector,
    /// Lower-case container types; empty = any.
    pub container_types: Vec<String>,
}

impl Matcher {
    pub fn matches(&self, m: &TaskMeta) -> bool {
        self.framework
            .matches_any(&[&m.framework_name, &m.framework_id])
            && self.task_name.matches_any(&[&m.task_name])
            && self.role.matches_any(&[&m.role])
            && self
                .labels
                .iter()
                .all(|(k, p)| m.labels.get(k).is_some_and(|v| p.matches(v)))
            && (self.container_types.is_empty()
                || self.container_types.iter().any(|t| *t == m.container_type))
    }
}

/// The path of a nested container below its executor's sandbox:
/// `containers/<child>` (and `containers/<a>/containers/<b>` for deeper nesting).
fn nested_path(id: &ContainerId, executor_container: &str) -> Option<String> {
    let mut chain = vec![id.value.as_str()];
    let mut cur = id.parent.as_deref();
    while let Some(p) = cur {
        if p.value == executor_container {
            let mut s = String::new();
            for c in chain.iter().rev() {
                s.push_str("/containers/");
                s.push_str(c);
            }
            return Some(s);
        }
        chain.push(p.value.as_str());
        cur = p.parent.as_deref();
    }
    None
}

fn task_sandbox(
    state: &State,
    fw: &Framework,
    ex: &Executor,
    t: &Task,
    executor_done: bool,
) -> Option<Sandbox> {
    if ex.directory.is_empty() {
        return None;
    }
    let nested = t
        .container_id()
        .and_then(|c| nested_path(c, &ex.container).map(|p| (c.value.clone(), p)));
    let (container_id, dir) = match nested {
        Some((cid, sub)) => (cid, format!("{}{sub}", ex.directory)),
        None => (ex.container.clone(), ex.directory.clone()),
    };
    let container_type = t
        .container
        .as_ref()
        .and_then(|c| c.kind.as_deref())
        .unwrap_or("none")
        .to_ascii_lowercase();
    let role = t
        .role
        .clone()
        .or_else(|| ex.role.clone())
        .or_else(|| fw.role.clone())
        .unwrap_or_default();
    Some(Sandbox {
        meta: TaskMeta {
            agent_id: state.id.clone(),
            agent_hostname: state.hostname.clone(),
            framework_id: fw.id.clone(),
            framework_name: fw.name.clone(),
            executor_id: ex.id.clone(),
            task_id: t.id.clone(),
            task_name: t.name.clone(),
            labels: t
                .labels
                .iter()
                .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
                .collect(),
            container_id,
            role,
            container_type,
        },
        dir,
        terminal: executor_done || t.is_terminal(),
    })
}

/// Every task's sandbox in `/state`, walking the four framework/executor combinations
/// (PROTOCOL.md §2). Queued tasks have no sandbox yet and are skipped. Several tasks of
/// one custom executor share its files: the first listed names them.
pub fn sandboxes(state: &State) -> Vec<Sandbox> {
    let mut out: Vec<Sandbox> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let fws = state
        .frameworks
        .iter()
        .chain(state.completed_frameworks.iter());
    for fw in fws {
        let exs = fw
            .executors
            .iter()
            .map(|e| (e, false))
            .chain(fw.completed_executors.iter().map(|e| (e, true)));
        for (ex, done) in exs {
            let tasks = ex.tasks.iter().chain(ex.completed_tasks.iter());
            for t in tasks {
                if let Some(s) = task_sandbox(state, fw, ex, t, done) {
                    if seen.insert(s.dir.clone()) {
                        out.push(s);
                    } else if let Some(prev) = out.iter_mut().find(|p| p.dir == s.dir) {
                        // A custom executor's files end when all its tasks ended.
                        prev.terminal &= s.terminal;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_state() -> State {
        let p = format!(
            "{}/../../../shared/mesos/agent-api/state.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
        serde_json::from_value(v["body"].clone()).expect("state")
    }

    #[test]
    fn every_task_kind_gets_its_sandbox() {
        let s = shared_state();
        let all = sandboxes(&s);
        let by_name = |n: &str| all.iter().find(|s| s.meta.task_name == n).expect(n);
        // A) Docker task: the executor sandbox, executor id = task id.
        let nginx = by_name("nginx");
        assert_eq!(nginx.meta.container_type, "docker");
        assert_eq!(nginx.meta.executor_id, nginx.meta.task_id);
        assert!(nginx
            .dir
            .ends_with("/runs/7c9b5a3e-2f1d-4e6b-8a0c-9d4e3f2a1b60"));
        assert_eq!(nginx.meta.labels["HAPROXY_GROUP"], "external");
        assert!(!nginx.terminal);
        // B) UCR command task.
        assert_eq!(by_name("worker").meta.container_type, "mesos");
        // C) Task group: nested sandboxes, the child's container id.
        let app = by_name("app");
        assert_eq!(
            app.meta.container_id,
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
        );
        assert!(app.dir.ends_with(
            "/runs/9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b/containers/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
        ));
        assert_eq!(by_name("sidecar").meta.container_type, "none");
        // D) and E): completed executors, also of a completed framework.
        assert!(by_name("hello").terminal);
        let backup = by_name("nightly-backup");
        assert!(backup.terminal);
        assert_eq!(backup.meta.framework_name, "metronome");
        assert_eq!(backup.meta.agent_id, s.id);
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn matcher_selects_like_the_docker_input() {
        let all = sandboxes(&shared_state());
        let pick = |m: &Matcher| -> Vec<String> {
            all.iter()
                .filter(|s| m.matches(&s.meta))
                .map(|s| s.meta.task_name.clone())
                .collect()
        };
        let glob = |s: &str| glob::Pattern::new(s).expect("glob");
        assert_eq!(pick(&Matcher::default()).len(), 6);
        let m = Matcher {
            framework: Selector {
                globs: vec![glob("metro*")],
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(pick(&m), ["nightly-backup"]);
        let m = Matcher {
            task_name: Selector {
                regexes: vec![regex::Regex::new("^(app|side)").expect("re")],
                ..Default::default()
            },
            container_types: vec!["none".into()],
            ..Default::default()
        };
        assert_eq!(pick(&m), ["sidecar"]);
        let m = Matcher {
            labels: vec![("app".into(), glob("d*"))],
            ..Default::default()
        };
        assert_eq!(pick(&m), ["app"]);
    }
}
