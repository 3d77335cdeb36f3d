//! The embedded web UI driven in headless Chromium through WebDriver
//! (`scripts/setup/chromium.sh` installs `chromium` and `chromium-driver`).

#[path = "support/chromium.rs"]
mod chromium;

use std::sync::Arc;

use chromium::{wait_text, Browser};
use fantoccini::Locator;
use logstash_mesos_scheduler::api::{router, AgentReport, AppState};
use logstash_mesos_scheduler::configs::{BasicValidator, ConfigService};
use logstash_mesos_scheduler::control::UninstallReport;
use logstash_mesos_scheduler::driver::{Keeper, Shared};
use logstash_mesos_scheduler::sched::NodeView;
use logstash_mesos_scheduler::store::{ConfigSet, FileStore};

/// A config service on a fresh state directory (kept while the returned guard lives).
async fn config_service(
    validator: Arc<dyn logstash_mesos_scheduler::configs::ConfigValidator>,
) -> (tempfile::TempDir, Arc<ConfigService>) {
    let state_dir = tempfile::tempdir().expect("tempdir");
    let keeper = Arc::new(
        Keeper::open(Arc::new(FileStore::new(state_dir.path())))
            .await
            .expect("keeper"),
    );
    let configs = Arc::new(ConfigService::new(
        validator,
        keeper,
        ConfigSet::default(),
        None,
    ));
    (state_dir, configs)
}

/// Serves the API and UI of `state` on a free loopback port; returns its base URL.
async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_lists_edits_validates_configs_and_lists_agents() {
    let Some(browser) = Browser::start("web UI test").await else {
        return;
    };

    // The scheduler's API with one known node and its agent's report.
    let (_state_dir, configs) = config_service(Arc::new(BasicValidator)).await;
    configs
        .put("existing", "input { stdin {} }\n")
        .await
        .expect("put");
    let shared = Arc::new(Shared::default());
    if let Ok(mut n) = shared.nodes.write() {
        n.push(NodeView {
            hostname: "node-1".into(),
            agent_id: Some("a1".into()),
            task_id: Some("t1".into()),
            state: Some("TASK_RUNNING".into()),
            message: None,
            failures: 0,
            up_to_date: true,
        });
    }
    // Stands in for the driver: answers the UI's uninstall request.
    let mut control = shared.control.take_receiver().expect("receiver");
    tokio::spawn(async move {
        while let Some(reply) = control.recv().await {
            let _ = reply.send(Ok(UninstallReport {
                framework_id: Some("fw-1".into()),
                teardown_sent: true,
                agent_tasks: 1,
                state_cleared: true,
                driver_stopped: true,
                message: "framework fw-1 torn down".into(),
            }));
        }
    });
    let state = AppState::new(configs.clone(), shared, None);
    if let Ok(mut r) = state.reports.write() {
        let report = AgentReport {
            node: "node-1".into(),
            agent_id: Some("a1".into()),
            task_id: Some("t1".into()),
            containers: 7,
            events_per_second: 42.5,
            lag_seconds: 0.25,
            errors: 0,
            config_version: 1,
        };
        r.insert("node-1".into(), (report, std::time::Instant::now()));
    }
    let base = serve(state).await;

    let c = browser.client();

    let result: Result<(), fantoccini::error::CmdError> = async {
        c.goto(&base).await?;
        // Existing config listed; agents table filled from /v1/agents.
        c.wait()
            .for_element(Locator::Css("#config-list li[data-name='existing']"))
            .await?;
        let row = c
            .wait()
            .for_element(Locator::XPath("//table[@id='agents']//tr[td[1]='node-1']"))
            .await?;
        let cells: Vec<String> = {
            let mut v = Vec::new();
            for td in row.find_all(Locator::Css("td")).await? {
                v.push(td.text().await?);
            }
            v
        };
        assert_eq!(
            cells,
            ["node-1", "TASK_RUNNING", "7", "42.5", "0.25", "0", "1"]
        );

        wait_text(c, "fw-status", "not connected to a master").await?;

        // New config with a syntax error: Validate shows file:line:col.
        c.find(Locator::Id("new-name"))
            .await?
            .send_keys("web")
            .await?;
        c.find(Locator::Id("new-btn")).await?.click().await?;
        let editor = c.find(Locator::Id("editor")).await?;
        editor.clear().await?;
        editor.send_keys("input {\n  stdin {\n").await?;
        c.find(Locator::Id("validate-btn")).await?.click().await?;
        wait_text(c, "status", "web:1:7:").await?;
        // Saving is refused too.
        c.find(Locator::Id("save-btn")).await?.click().await?;
        wait_text(c, "status", "never closed").await?;
        assert!(configs.get("web").is_none());

        editor.clear().await?;
        editor
            .send_keys("input { stdin {} }\noutput { stdout {} }\n")
            .await?;
        c.find(Locator::Id("validate-btn")).await?.click().await?;
        wait_text(c, "status", "valid").await?;
        c.find(Locator::Id("save-btn")).await?.click().await?;
        wait_text(c, "status", "saved, version 2").await?;
        assert_eq!(
            configs.get("web").as_deref(),
            Some("input { stdin {} }\noutput { stdout {} }\n")
        );
        c.wait()
            .for_element(Locator::Css("#config-list li[data-name='web']"))
            .await?;

        // Select the other one, then delete it.
        c.find(Locator::Css("#config-list li[data-name='existing']"))
            .await?
            .click()
            .await?;
        assert_eq!(
            c.find(Locator::Id("current-name")).await?.text().await?,
            "existing"
        );
        c.find(Locator::Id("delete-btn")).await?.click().await?;
        wait_text(c, "status", "deleted").await?;
        assert!(configs.get("existing").is_none());
        // The agent still reports version 1 while the accepted set is at 3 now.
        c.goto(&base).await?;
        c.wait()
            .for_element(Locator::XPath(
                "//table[@id='agents']//tr[td[1]='node-1']/td[7][text()='1 (behind 3)']",
            ))
            .await?;

        // Uninstall asks first, then shows what the scheduler did.
        c.find(Locator::Id("uninstall-btn")).await?.click().await?;
        c.accept_alert().await?;
        wait_text(c, "fw-result", "framework fw-1 torn down").await?;
        if let Ok(dir) = std::env::var("LOGSTASH_MESOS_UI_SCREENSHOT") {
            let png = c.screenshot().await?;
            let _ = std::fs::write(dir, png);
        }
        Ok(())
    }
    .await;
    browser.close().await;
    result.expect("ui flow");
}

/// History, roll back and "Try it" in the browser, on the product's validator (the real
/// grammar and filters): a config's revisions are listed, one click makes an earlier one
/// current again, and sample lines run through the editor's filters show their events or
/// the config's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_rolls_back_a_config_and_tries_sample_lines() {
    let Some(browser) = Browser::start("web UI history/try test").await else {
        return;
    };
    let (_state_dir, configs) = config_service(Arc::new(
        logstash_mesos_scheduler::lang_validator::LangValidator::new(
            logstash_mesos_agent::plugins::registry(),
        ),
    ))
    .await;
    let v1 = "filter { grok { match => { \"message\" => \"%{IP:client} %{WORD:verb}\" } } }\n";
    let v2 = "filter { mutate { add_tag => [\"v2\"] } }\n";
    configs.put("web", v1).await.expect("v1");
    configs.put("web", v2).await.expect("v2");
    let state = AppState::new(configs.clone(), Arc::new(Shared::default()), None);
    let base = serve(state).await;
    let c = browser.client();
    let shots = std::env::var("LOGSTASH_MESOS_UI_SCREENSHOT_DIR").ok();
    let result: Result<(), fantoccini::error::CmdError> = async {
        c.goto(&base).await?;
        c.wait()
            .for_element(Locator::Css("#config-list li[data-name='web']"))
            .await?
            .click()
            .await?;
        // Both revisions, newest first.
        c.wait()
            .for_element(Locator::Css(
                "#history li[data-version='1'] button.rollback",
            ))
            .await?;
        let listed: Vec<String> = {
            let mut v = Vec::new();
            for li in c.find_all(Locator::Css("#history li")).await? {
                v.push(li.attr("data-version").await?.unwrap_or_default());
            }
            v
        };
        assert_eq!(listed, ["2", "1"]);
        c.find(Locator::Css(
            "#history li[data-version='1'] button.rollback",
        ))
        .await?
        .click()
        .await?;
        wait_text(c, "status", "rolled back to version 1: now version 3").await?;
        assert_eq!(configs.get("web").as_deref(), Some(v1));
        assert_eq!(
            c.find(Locator::Id("editor"))
                .await?
                .prop("value")
                .await?
                .as_deref(),
            Some(v1)
        );
        c.wait()
            .for_element(Locator::Css("#history li[data-version='3']"))
            .await?;
        if let Some(dir) = &shots {
            let _ = std::fs::write(format!("{dir}/history.png"), c.screenshot().await?);
        }

        // Try it: the rolled-back grok runs on the sample lines.
        c.find(Locator::Id("try-lines"))
            .await?
            .send_keys("10.0.0.1 GET\nnot a log line\n")
            .await?;
        c.find(Locator::Id("try-btn")).await?.click().await?;
        wait_text(c, "try-output", "\"client\": \"10.0.0.1\"").await?;
        wait_text(c, "try-output", "_grokparsefailure").await?;
        if let Some(dir) = &shots {
            let _ = std::fs::write(format!("{dir}/try.png"), c.screenshot().await?);
        }
        // A broken filter shows its position instead.
        let editor = c.find(Locator::Id("editor")).await?;
        editor.clear().await?;
        editor.send_keys("filter { mutate { bogus => 1 } }").await?;
        c.find(Locator::Id("try-btn")).await?.click().await?;
        wait_text(c, "try-output", "try:1:19:").await?;
        wait_text(c, "try-output", "unknown option").await?;
        Ok(())
    }
    .await;
    browser.close().await;
    result.expect("ui flow");
}
