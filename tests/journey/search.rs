//! The search engine the journey ships into, behind one small interface so that
//! switching servers is the one line in [`start`]. Today: osmem-server (an
//! Elasticsearch-compatible server, `scripts/setup/osmem.sh`), started on a free port
//! and killed on drop. Missing under `CI=true` is a failure; otherwise a loud skip.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// The server every journey test uses. Change this line to switch engines.
pub fn start() -> Option<Engine> {
    Engine::osmem()
}

pub struct Engine {
    pub url: String,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn missing(msg: &str) -> Option<Engine> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{msg} (CI=true: a missing search engine fails the test)"
    );
    eprintln!("\n!!!!! SKIPPING journey test: {msg} !!!!!\n");
    None
}

impl Engine {
    /// osmem-server on a free port (`OSMEM_SERVER_BIN` or `osmem-server` on PATH).
    pub fn osmem() -> Option<Engine> {
        let bin = std::env::var("OSMEM_SERVER_BIN").unwrap_or_else(|_| "osmem-server".into());
        let spawned = Command::new(&bin)
            .args(["-addr", "127.0.0.1:0", "-no-stdin-watch", "-parent-pid"])
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return missing(&format!(
                    "osmem-server not available ({e}): run scripts/setup/osmem.sh"
                ))
            }
        };
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("osmem-server ready line");
        let v: Value = serde_json::from_str(&line).expect("ready line is json");
        let url = v["url"].as_str().expect("url").to_string();
        Some(Engine {
            url,
            child: Some(child),
            http: reqwest::Client::new(),
        })
    }

    async fn refresh(&self, index: &str) {
        let _ = self
            .http
            .post(format!("{}/{index}/_refresh", self.url))
            .send()
            .await;
    }

    /// Documents in `index` (0 when it does not exist yet).
    pub async fn count(&self, index: &str) -> u64 {
        self.refresh(index).await;
        let Ok(r) = self
            .http
            .get(format!("{}/{index}/_count", self.url))
            .send()
            .await
        else {
            return 0;
        };
        let v: Value = r.json().await.unwrap_or_default();
        v["count"].as_u64().unwrap_or(0)
    }

    /// Every document of `index` as (`_id`, `_source`).
    pub async fn docs(&self, index: &str) -> Vec<(String, Value)> {
        self.refresh(index).await;
        let r = self
            .http
            .post(format!("{}/{index}/_search", self.url))
            .json(&json!({"size": 10000, "query": {"match_all": {}}}))
            .send()
            .await
            .expect("search");
        let v: Value = r.json().await.expect("search json");
        v["hits"]["hits"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|d| {
                        (
                            d["_id"].as_str().unwrap_or_default().to_string(),
                            d["_source"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
