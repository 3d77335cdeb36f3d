//! Headless Chromium driven through WebDriver (chromedriver), for the tests of the
//! scheduler's web UI (`scripts/setup/chromium.sh` installs `chromium` and
//! `chromium-driver`). Included with `#[path]` by `crates/scheduler/tests/web_ui.rs`, and
//! written so `tests/journey/ui.rs` can include it the same way.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

/// `$env`, else the first of `names` found on `PATH`.
fn find(env: &str, names: &[&str]) -> Option<String> {
    if let Ok(p) = std::env::var(env) {
        return Some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A chromedriver process, its browser profile and one WebDriver session.
pub struct Browser {
    client: fantoccini::Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session on headless Chromium. `None` (loudly,
    /// naming `test`) without chromium/chromedriver; a panic under `CI=true`.
    pub async fn start(test: &str) -> Option<Browser> {
        let (Some(driver), Some(browser)) = (
            find("CHROMEDRIVER", &["chromedriver"]),
            find("CHROMIUM", &["chromium", "chromium-browser"]),
        ) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromium/chromedriver missing: run scripts/setup/chromium.sh (CI=true)"
            );
            eprintln!("\n!!!!! SKIPPING {test}: chromium/chromedriver missing (scripts/setup/chromium.sh) !!!!!\n");
            return None;
        };
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile");
        let child = tokio::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": browser,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        // Up to 15 s for chromedriver to listen and the browser to start.
        for _ in 0..150 {
            if let Ok(c) =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
            {
                return Some(Browser {
                    client: c,
                    driver: child,
                    _profile: profile,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no webdriver session from chromedriver");
    }

    /// The WebDriver session.
    pub fn client(&self) -> &fantoccini::Client {
        &self.client
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

/// Waits until element `#id` shows `want` (up to 30 s: CI machines are shared and slow);
/// panics with what it shows otherwise.
pub async fn wait_text(
    c: &fantoccini::Client,
    id: &str,
    want: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let el = c.find(Locator::Id(id)).await?;
    for _ in 0..600 {
        if el.text().await?.contains(want) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "#{id} never showed {want:?}; it shows {:?}",
        el.text().await?
    );
}
