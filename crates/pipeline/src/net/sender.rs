//! Who sent an event to a network input: on a Mesos node, the agent knows which task owns
//! which container IP (`container_status.network_infos` in the local agent's `/state`), so
//! an event whose sender's address is a task's own IP gets that task's `[mesos][task]` and
//! `[mesos][framework]` fields — the same fields the `mesos` input sets on sandbox lines.
//! Addresses shared by several tasks (host networking: every task has the agent's IP)
//! name no task: the event keeps only the address.
//!
//! The directory is filled by the agent (`logstash_mesos_agent::mesos::senders`); a plain
//! `logstash-mesos run` has none and inputs annotate nothing.

use logstash_mesos_core::{Event, FieldRef, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

/// The task behind an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderTask {
    pub task_id: String,
    pub task_name: String,
    pub framework_id: String,
    pub framework_name: String,
    pub executor_id: String,
}

/// Address → task, replaced whole by the agent at each refresh.
#[derive(Default)]
pub struct SenderDirectory {
    map: RwLock<Arc<HashMap<IpAddr, Arc<SenderTask>>>>,
}

impl SenderDirectory {
    /// Builds the map from `(ip, task)` pairs: addresses in `exclude` (the agent's own)
    /// and addresses claimed by more than one task are left out.
    pub fn replace(&self, pairs: Vec<(IpAddr, SenderTask)>, exclude: &[IpAddr]) {
        let mut map: HashMap<IpAddr, Option<Arc<SenderTask>>> = HashMap::new();
        for (ip, task) in pairs {
            if exclude.contains(&ip) || ip.is_unspecified() {
                continue;
            }
            map.entry(ip)
                .and_modify(|e| {
                    if e.as_ref().is_some_and(|t| t.task_id != task.task_id) {
                        *e = None;
                    }
                })
                .or_insert_with(|| Some(Arc::new(task)));
        }
        let map: HashMap<_, _> = map.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
        if let Ok(mut g) = self.map.write() {
            *g = Arc::new(map);
        }
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<Arc<SenderTask>> {
        let ip = match ip {
            // A v4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.map.read().ok()?.get(&ip).cloned()
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The node's directory as plugins see it (none outside the agent).
#[derive(Clone, Default)]
pub struct Senders(pub Option<Arc<SenderDirectory>>);

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(d) => write!(f, "Senders({} addresses)", d.len()),
            None => write!(f, "Senders(none)"),
        }
    }
}

impl Senders {
    /// Adds the task fields of the sender at `ip`, if it is a known task; true when it was.
    pub fn annotate(&self, event: &mut Event, ip: IpAddr) -> bool {
        let Some(task) = self.0.as_ref().and_then(|d| d.lookup(ip)) else {
            return false;
        };
        annotate_with(event, &task);
        true
    }
}

/// Sets the task's fields, never overwriting fields the event already has.
pub fn annotate_with(event: &mut Event, task: &SenderTask) {
    for (path, v) in [
        (["mesos", "task", "id"], &task.task_id),
        (["mesos", "task", "name"], &task.task_name),
        (["mesos", "framework", "id"], &task.framework_id),
        (["mesos", "framework", "name"], &task.framework_name),
        (["mesos", "executor", "id"], &task.executor_id),
    ] {
        let r = FieldRef::from_path(path);
        if !v.is_empty() && !event.contains(&r) {
            let _ = event.set(&r, Value::from(v.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> SenderTask {
        SenderTask {
            task_id: id.into(),
            task_name: format!("{id}-name"),
            framework_id: "fw-1".into(),
            framework_name: "marathon".into(),
            executor_id: String::new(),
        }
    }

    #[test]
    fn own_addresses_map_and_shared_or_agent_addresses_do_not() {
        let d = Arc::new(SenderDirectory::default());
        let agent: IpAddr = "10.0.1.23".parse().unwrap();
        d.replace(
            vec![
                ("172.17.0.3".parse().unwrap(), task("nginx")),
                (agent, task("worker")),
                ("172.17.0.9".parse().unwrap(), task("a")),
                ("172.17.0.9".parse().unwrap(), task("b")),
                // The same task twice (STARTING and RUNNING statuses) is still one owner.
                ("172.17.0.4".parse().unwrap(), task("c")),
                ("172.17.0.4".parse().unwrap(), task("c")),
            ],
            &[agent],
        );
        let s = Senders(Some(d));
        let mut e = Event::from_message("x");
        assert!(s.annotate(&mut e, "172.17.0.3".parse().unwrap()));
        assert_eq!(
            e.get(&FieldRef::from_path(["mesos", "task", "id"])),
            Some(&Value::from("nginx"))
        );
        assert_eq!(
            e.get(&FieldRef::from_path(["mesos", "framework", "name"])),
            Some(&Value::from("marathon"))
        );
        assert!(!s.annotate(&mut Event::from_message("y"), agent));
        assert!(!s.annotate(&mut Event::from_message("y"), "172.17.0.9".parse().unwrap()));
        assert!(s.annotate(&mut Event::from_message("y"), "172.17.0.4".parse().unwrap()));
        // A v4 peer seen through a v6 socket.
        assert!(s.annotate(
            &mut Event::from_message("z"),
            "::ffff:172.17.0.3".parse().unwrap()
        ));
        assert!(!Senders::default().annotate(&mut Event::from_message("w"), agent));
    }
}
