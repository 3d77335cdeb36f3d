//! The scheduler's web UI in headless Chromium through WebDriver (chromedriver),
//! as `crates/scheduler/tests/web_ui.rs` drives it.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

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

pub struct Browser {
    client: fantoccini::Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (loudly) without chromium/chromedriver; a panic under CI=true.
    pub async fn start() -> Option<Browser> {
        let (Some(driver), Some(browser)) = (
            find("CHROMEDRIVER", &["chromedriver"]),
            find("CHROMIUM", &["chromium", "chromium-browser"]),
        ) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromium/chromedriver missing: run scripts/setup/chromium.sh (CI=true)"
            );
            eprintln!("\n!!!!! SKIPPING journey UI test: chromium/chromedriver missing (scripts/setup/chromium.sh) !!!!!\n");
            return None;
        };
        let port = super::free_port();
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

    /// New config `name` with `text`, typed into the editor, validated, saved.
    pub async fn save_config(&self, base: &str, name: &str, text: &str) {
        let c = &self.client;
        let r: Result<(), fantoccini::error::CmdError> = async {
            c.goto(base).await?;
            c.wait().for_element(Locator::Id("new-name")).await?;
            c.find(Locator::Id("new-name"))
                .await?
                .send_keys(name)
                .await?;
            c.find(Locator::Id("new-btn")).await?.click().await?;
            let editor = c.find(Locator::Id("editor")).await?;
            editor.clear().await?;
            editor.send_keys(text).await?;
            c.find(Locator::Id("validate-btn")).await?.click().await?;
            wait_text(c, "status", "valid").await?;
            c.find(Locator::Id("save-btn")).await?.click().await?;
            wait_text(c, "status", "saved, version").await?;
            c.wait()
                .for_element(Locator::Css(&format!(
                    "#config-list li[data-name='{name}']"
                )))
                .await?;
            Ok(())
        }
        .await;
        r.expect("config saved through the web UI");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

async fn wait_text(
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
