//! What a Mesos agent's command executor does with a command task, for the
//! simulator's `task_launcher`: a sandbox under the agent's work dir
//! (`<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<task>/runs/<container>`), the
//! fetcher downloading `CommandInfo.uris` into it (`executable`, `output_file`), then
//! `/bin/sh -c <value>` in the sandbox with stdout/stderr to `stdout`/`stderr` files and
//! the environment Mesos builds (agent-api PROTOCOL.md §1.3): `MESOS_AGENT_ENDPOINT`,
//! `MESOS_SANDBOX`, `MESOS_DIRECTORY`, `MESOS_SLAVE_ID`, `MESOS_FRAMEWORK_ID`,
//! `MESOS_EXECUTOR_ID`, `MESOS_CHECKPOINT`, ... plus the node's
//! `--executor_environment_variables` and then `CommandInfo.environment`. Nothing of
//! the test's own environment leaks in. The process runs in its own process group
//! (Mesos kills the container's cgroup); its exit becomes TASK_FINISHED/FAILED.

use std::collections::HashMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::simulator::{Launch, Simulator};

/// One running task process.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub hostname: String,
    pub sandbox: PathBuf,
}

/// The command executors of every simulated node.
#[derive(Clone, Default)]
pub struct Executors {
    pub work_dir: PathBuf,
    /// task id → its process while it runs.
    pub procs: Arc<Mutex<HashMap<String, Proc>>>,
    /// Every task ever started: (task id, hostname).
    pub started: Arc<Mutex<Vec<(String, String)>>>,
    /// Told of each task's sandbox once it is made (e.g. to list the task in a node's
    /// agent API).
    pub on_sandbox: Arc<Mutex<Option<SandboxHook>>>,
}

pub type SandboxHook = Arc<dyn Fn(&Launch, &Path) + Send + Sync>;

/// A poisoned lock only means another test thread panicked: keep the data.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn signal_group(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

impl Executors {
    pub fn new(work_dir: &Path) -> Self {
        Executors {
            work_dir: work_dir.to_path_buf(),
            ..Default::default()
        }
    }

    /// Installs the executor as the simulator's launcher and killer.
    pub fn install(&self, sim: &Simulator) {
        let me = self.clone();
        let simc = sim.clone();
        let launcher: super::simulator::TaskLauncher =
            Arc::new(move |l: &Launch| me.launch(l.clone(), simc.clone()));
        let me = self.clone();
        let killer: super::simulator::Launcher = Arc::new(move |info| {
            // KILL: SIGTERM to the group, SIGKILL after the grace period (kill_policy).
            let grace = info
                .kill_policy
                .as_ref()
                .and_then(|k| k.grace_period.as_ref())
                .map_or(Duration::from_secs(3), |g| {
                    Duration::from_nanos(u64::try_from(g.nanoseconds).unwrap_or(0))
                })
                .min(Duration::from_secs(5));
            if let Some(p) = lock(&me.procs).get(&info.task_id.value).cloned() {
                signal_group(p.pid, "-TERM");
                std::thread::spawn(move || {
                    std::thread::sleep(grace);
                    signal_group(p.pid, "-KILL");
                });
            }
        });
        let mut s = sim.lock();
        s.task_launcher = Some(launcher);
        s.killer = Some(killer);
    }

    /// Called with the simulator locked: everything slow happens on a thread.
    fn launch(&self, l: Launch, sim: Simulator) {
        let me = self.clone();
        std::thread::spawn(move || {
            let task = l.info.task_id.value.clone();
            lock(&me.started).push((task.clone(), l.agent.hostname.clone()));
            let sandbox = me.sandbox(&l);
            match me.spawn(&l, &sandbox) {
                Ok(mut child) => {
                    let hook = lock(&me.on_sandbox).clone();
                    if let Some(hook) = hook {
                        hook(&l, &sandbox);
                    }
                    let pid = child.id();
                    lock(&me.procs).insert(
                        task.clone(),
                        Proc {
                            pid,
                            hostname: l.agent.hostname.clone(),
                            sandbox,
                        },
                    );
                    let status = child.wait();
                    lock(&me.procs).remove(&task);
                    // Whatever the shell left behind goes with the container.
                    signal_group(pid, "-KILL");
                    let (code, sig) = match status {
                        Ok(s) => (s.code(), s.signal()),
                        Err(_) => (None, None),
                    };
                    sim.task_exited(&l.info.task_id, code, sig);
                }
                Err(e) => {
                    eprintln!("executor: task {task} failed to start: {e}");
                    sim.task_exited(&l.info.task_id, Some(127), None);
                }
            }
        });
    }

    fn sandbox(&self, l: &Launch) -> PathBuf {
        self.work_dir
            .join("slaves")
            .join(&l.agent.id.value)
            .join("frameworks")
            .join(&l.framework_id.value)
            .join("executors")
            .join(&l.info.task_id.value)
            .join("runs")
            .join(uuid::Uuid::new_v4().to_string())
    }

    fn spawn(&self, l: &Launch, sandbox: &Path) -> std::io::Result<std::process::Child> {
        let cmd = l
            .info
            .command
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no CommandInfo"))?;
        std::fs::create_dir_all(sandbox)?;
        for uri in &cmd.uris {
            fetch(
                &uri.value,
                sandbox,
                uri.output_file.as_deref(),
                uri.executable == Some(true),
            )?;
        }
        let mut c = if cmd.shell != Some(false) {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(cmd.value.clone().unwrap_or_default());
            c
        } else {
            let mut c = Command::new(cmd.value.clone().unwrap_or_default());
            c.args(&cmd.arguments);
            c
        };
        let sb = sandbox.display().to_string();
        c.current_dir(sandbox)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("MESOS_AGENT_ENDPOINT", format!("127.0.0.1:{}", 5051))
            .env("MESOS_SLAVE_PID", "slave(1)@127.0.0.1:5051")
            .env("MESOS_SLAVE_ID", &l.agent.id.value)
            .env("MESOS_FRAMEWORK_ID", &l.framework_id.value)
            .env("MESOS_EXECUTOR_ID", &l.info.task_id.value)
            .env("MESOS_DIRECTORY", &sb)
            .env("MESOS_SANDBOX", &sb)
            .env("MESOS_CHECKPOINT", "1")
            .env("MESOS_ALLOCATION_ROLE", "*")
            .env("LIBPROCESS_PORT", "0");
        for (k, v) in &l.agent.executor_env {
            c.env(k, v);
        }
        for v in cmd.environment.iter().flat_map(|e| &e.variables) {
            c.env(&v.name, v.value.clone().unwrap_or_default());
        }
        c.stdin(Stdio::null())
            .stdout(std::fs::File::create(sandbox.join("stdout"))?)
            .stderr(std::fs::File::create(sandbox.join("stderr"))?)
            .process_group(0)
            .spawn()
    }

    /// SIGKILLs the process group of the task running on `hostname`; its task id.
    pub fn sigkill_on(&self, hostname: &str) -> Option<String> {
        let procs = lock(&self.procs);
        let (task, p) = procs.iter().find(|(_, p)| p.hostname == hostname)?;
        signal_group(p.pid, "-KILL");
        Some(task.clone())
    }

    /// Running task processes per hostname.
    pub fn running(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = lock(&self.procs)
            .iter()
            .map(|(t, p)| (p.hostname.clone(), t.clone()))
            .collect();
        v.sort();
        v
    }

    /// Stops every task process (end of test).
    pub fn kill_all(&self) {
        for p in lock(&self.procs).values() {
            signal_group(p.pid, "-KILL");
        }
    }
}

/// The Mesos fetcher for `http(s)://` and local paths.
fn fetch(uri: &str, sandbox: &Path, output: Option<&str>, executable: bool) -> std::io::Result<()> {
    let name = output
        .map(str::to_string)
        .unwrap_or_else(|| uri.rsplit('/').next().unwrap_or("download").to_string());
    let dest = sandbox.join(name);
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let st = Command::new("curl")
            .args(["-fsS", "--retry", "3", "-o"])
            .arg(&dest)
            .arg(uri)
            .status()?;
        if !st.success() {
            return Err(std::io::Error::other(format!("fetching {uri}: curl {st}")));
        }
    } else {
        std::fs::copy(uri, &dest)?;
    }
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
