//! The scheduler's web UI in headless Chromium through WebDriver (chromedriver): the
//! browser session is `crates/scheduler/tests/support/chromium.rs`, shared with
//! `crates/scheduler/tests/web_ui.rs`; here only the journey's step through the UI.

#[path = "../../crates/scheduler/tests/support/chromium.rs"]
mod chromium;

use chromium::wait_text;
pub use chromium::Browser;
use fantoccini::Locator;

impl Browser {
    /// New config `name` with `text`, typed into the editor, validated, saved.
    pub async fn save_config(&self, base: &str, name: &str, text: &str) {
        let c = self.client();
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
}
