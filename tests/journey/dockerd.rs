//! One Docker daemon per simulated node, all on this machine: each with its own
//! `--data-root`, `--exec-root`, `--pidfile` and unix socket, so an agent pointed at
//! its node's socket sees only that node's containers. vfs storage and no
//! iptables/bridge, as `scripts/setup/docker.sh` starts the main daemon (containers
//! run with `--network none`). The test image is copied in from the main daemon
//! (`docker save | docker -H ... load`). Daemons and their containers are removed on
//! drop; a daemon left over by a killed run (same directory) is stopped first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "logstash-mesos-test:busybox";

/// A node's daemon.
pub struct Dockerd {
    pub name: String,
    pub dir: PathBuf,
    child: Child,
}

impl Dockerd {
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    /// `docker -H <this daemon> args...`; panics with stderr on failure.
    pub fn docker(&self, args: &[&str]) -> String {
        let o = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .expect("docker cli");
        assert!(
            o.status.success(),
            "docker -H {} {args:?}: {}",
            self.host(),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn answers(&self) -> bool {
        Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts (or restarts) the daemon of node `name` under `root/<name>`.
    pub fn start(root: &Path, name: &str) -> Dockerd {
        let dir = root.join(name);
        stop_stale(&dir);
        std::fs::create_dir_all(&dir).expect("node dir");
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .arg(format!("--data-root={}", dir.join("data").display()))
            .arg(format!("--exec-root={}", dir.join("exec").display()))
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--host=unix://{}", dir.join("sock").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let d = Dockerd {
            name: name.to_string(),
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !d.answers() {
            assert!(
                Instant::now() < deadline,
                "dockerd for {name} did not come up: {}",
                std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d.load_image();
        d
    }

    fn load_image(&self) {
        let mut save = Command::new("docker")
            .args(["save", IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let load = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(["load", "-q"])
            .stdin(save.stdout.take().expect("piped"))
            .output()
            .expect("docker load");
        let saved = save.wait().expect("docker save exits");
        assert!(saved.success(), "docker save {IMAGE}: {saved}");
        assert!(
            load.status.success(),
            "loading {IMAGE} into {}: {}",
            self.name,
            String::from_utf8_lossy(&load.stderr)
        );
    }

    /// Starts a container that writes `lines` numbered lines to `/var/log/app/app.log`
    /// and as many to stdout, then keeps running; `tag` names the lines.
    pub fn run_writer(&self, name: &str, tag: &str, lines: u32) -> String {
        let script = format!(
            "mkdir -p /var/log/app; i=1; while [ $i -le {lines} ]; do \
             echo \"$(date -u +%Y-%m-%dT%H:%M:%SZ) INFO {tag} file seq=$i\" >> /var/log/app/app.log; \
             echo \"$(date -u +%Y-%m-%dT%H:%M:%SZ) INFO {tag} stdout seq=$i\"; \
             i=$((i+1)); done; exec sleep 100000"
        );
        let _ = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(["rm", "-f", name])
            .output();
        self.docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            IMAGE,
            "/bin/sh",
            "-c",
            &script,
        ])
    }

    /// Appends `n` more lines (file and stdout, like `run_writer`) from `first` on.
    pub fn write_more(&self, container: &str, tag: &str, first: u32, n: u32) {
        let last = first + n - 1;
        // stdout of an exec'd process is not the container's stdout: write to PID 1's.
        let script = format!(
            "i={first}; while [ $i -le {last} ]; do \
             echo \"$(date -u +%Y-%m-%dT%H:%M:%SZ) INFO {tag} file seq=$i\" >> /var/log/app/app.log; \
             echo \"$(date -u +%Y-%m-%dT%H:%M:%SZ) INFO {tag} stdout seq=$i\" > /proc/1/fd/1; \
             i=$((i+1)); done"
        );
        self.docker(&["exec", container, "/bin/sh", "-c", &script]);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Ok(ids) = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(["ps", "-aq"])
            .output()
        {
            let ids = String::from_utf8_lossy(&ids.stdout).to_string();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = Command::new("docker")
                    .arg("-H")
                    .arg(self.host())
                    .args(["rm", "-f"])
                    .args(&ids)
                    .output();
            }
        }
        // SIGTERM lets dockerd stop its containerd; SIGKILL if it hangs.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // vfs layers are plain directories: remove them so /tmp does not fill up.
        let _ = std::fs::remove_dir_all(self.dir.join("data"));
    }
}

/// A daemon from an earlier, killed run in the same directory: stop it.
fn stop_stale(dir: &Path) {
    let Ok(pid) = std::fs::read_to_string(dir.join("pid")) else {
        return;
    };
    let pid = pid.trim();
    if pid.is_empty() || !Path::new(&format!("/proc/{pid}")).exists() {
        return;
    }
    let _ = Command::new("kill").arg(pid).status();
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-9", pid]).status();
}

/// Docker and the test image are there; `false` (said loudly) when not, and a
/// panic under `CI=true`.
pub fn available() -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("dockerd")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!("docker daemon, dockerd or {IMAGE} missing: run scripts/setup/docker.sh");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{msg} (CI=true)"
        );
        eprintln!("\n!!!!! SKIPPING journey test: {msg} !!!!!\n");
    }
    ok
}
