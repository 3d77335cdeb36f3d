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

/// Where the pages' screenshots go: `$LOGSTASH_MESOS_UI_SCREENSHOT_DIR`, else
/// `$CARGO_TARGET_DIR/ui-screenshots`.
fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("LOGSTASH_MESOS_UI_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
            tmp.parent().unwrap_or(tmp).join("ui-screenshots")
        });
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Writes a screenshot of the browser's viewport as `<screenshot_dir>/<name>.png`.
async fn shot(c: &fantoccini::Client, name: &str) -> Result<(), fantoccini::error::CmdError> {
    let png = c.screenshot().await?;
    let path = screenshot_dir().join(format!("{name}.png"));
    if let Err(e) = std::fs::write(&path, png) {
        eprintln!("screenshot {} not written: {e}", path.display());
    }
    Ok(())
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
            agent_version: None,
            streams: None,
        };
        r.insert("node-1".into(), (report, std::time::Instant::now()));
    }
    let base = serve(state).await;

    let c = browser.client();

    let result: Result<(), fantoccini::error::CmdError> = async {
        c.goto(&format!("{base}/#nodes")).await?;
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
        c.find(Locator::Id("nav-configs")).await?.click().await?;

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
        c.goto(&format!("{base}/#nodes")).await?;
        c.refresh().await?;
        c.wait()
            .for_element(Locator::XPath(
                "//table[@id='agents']//tr[td[1]='node-1']/td[7][text()='1 (behind 3)']",
            ))
            .await?;

        // Uninstall asks first, then shows what the scheduler did.
        c.find(Locator::Id("uninstall-btn")).await?.click().await?;
        c.accept_alert().await?;
        wait_text(c, "fw-result", "framework fw-1 torn down").await?;
        shot(c, "nodes-table").await?;
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
    let result: Result<(), fantoccini::error::CmdError> = async {
        c.goto(&format!("{base}/#configs")).await?;
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
        shot(c, "configs-history").await?;

        // Try it: the rolled-back grok runs on the sample lines.
        c.find(Locator::Id("try-lines"))
            .await?
            .send_keys("10.0.0.1 GET\nnot a log line\n")
            .await?;
        c.find(Locator::Id("try-btn")).await?.click().await?;
        wait_text(c, "try-output", "\"client\": \"10.0.0.1\"").await?;
        wait_text(c, "try-output", "_grokparsefailure").await?;
        shot(c, "configs-try").await?;
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

/// POSTs an agent report to the scheduler, as an agent does.
async fn post_report(base: &str, report: serde_json::Value) {
    let code = reqwest::Client::new()
        .post(format!("{base}/v1/agents/status"))
        .json(&report)
        .send()
        .await
        .expect("report posted")
        .status();
    assert_eq!(code.as_u16(), 204);
}

fn node_view(host: &str, state: &str, failures: u32, message: Option<&str>) -> NodeView {
    NodeView {
        hostname: host.into(),
        agent_id: Some(format!("agent-{host}")),
        task_id: Some(format!("task-{host}")),
        state: Some(state.into()),
        message: message.map(String::from),
        failures,
        up_to_date: true,
    }
}

/// Text of the first element matching `css`, waiting (30 s) until it contains `want`.
/// Found anew each time: the nodes page rebuilds its cards on every refresh.
async fn wait_css_text(
    c: &fantoccini::Client,
    css: &str,
    want: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let mut last = String::new();
    for _ in 0..600 {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if t.contains(want) {
                    return Ok(t);
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{css} never showed {want:?}; it shows {last:?}");
}

/// True when the page is wider than the window (something overflows horizontally).
async fn overflows(c: &fantoccini::Client) -> Result<(i64, i64), fantoccini::error::CmdError> {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    let n = |i: usize| v.get(i).and_then(serde_json::Value::as_i64).unwrap_or(-1);
    Ok((n(0), n(1)))
}

/// The dashboard's figures are the agents' reports, pushed live (server-sent events) with
/// their 15-minute charts; the nodes page shows one card per node (a failing one stands
/// out), with its streams and network endpoints; every page fits 1280 px and a 390 px
/// phone without horizontal scrolling; screenshots of each page are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_dashboard_is_live_and_nodes_show_their_state() {
    let Some(browser) = Browser::start("web UI dashboard/nodes test").await else {
        return;
    };
    let (_state_dir, configs) = config_service(Arc::new(BasicValidator)).await;
    configs
        .put("web", "input { tcp { port => 5044 } }\noutput { elasticsearch { password => \"hunter2\" } }\n")
        .await
        .expect("put");
    let shared = Arc::new(Shared::default());
    if let Ok(mut n) = shared.nodes.write() {
        n.push(node_view("node-1", "TASK_RUNNING", 0, None));
        n.push(node_view(
            "node-2",
            "TASK_FAILED",
            3,
            Some("Container exited with status 1"),
        ));
    }
    if let Ok(mut e) = shared.endpoints.write() {
        use logstash_mesos_scheduler::sched::ports::{EndpointPort, NodeEndpoint, Protocol};
        e.push(NodeEndpoint {
            hostname: "node-1".into(),
            agent_id: Some("agent-node-1".into()),
            task_id: Some("task-node-1".into()),
            ip: Some("10.0.0.1".into()),
            zone: None,
            region: None,
            running: true,
            pending: None,
            inputs: vec![EndpointPort {
                name: "tcp".into(),
                plugin: "tcp".into(),
                pipeline: "main".into(),
                protocol: Protocol::Tcp,
                port: 5044,
            }],
        });
    }
    let state = AppState::new(configs.clone(), shared, None);
    let base = serve(state).await;
    let report = |eps: f64| {
        serde_json::json!({
            "node": "node-1", "agent_id": "agent-node-1", "task_id": "task-node-1",
            "containers": 2, "events_per_second": eps, "lag_seconds": 0.5, "errors": 0,
            "config_version": 1, "agent_version": "0.9.1", "dlq_events": 3,
            "streams": [{"container": "web-1", "stream": "stdout", "offset": 1234, "lag_events": 5},
                        {"container": "web-1", "stream": "stderr", "offset": 77, "lag_events": 0,
                         "last_error": "read: permission denied"}],
        })
    };
    post_report(&base, report(42.5)).await;
    let c = browser.client();
    let result: Result<(), fantoccini::error::CmdError> = async {
        c.set_window_size(1280, 900).await?;
        c.goto(&format!("{base}/#dashboard")).await?;
        // The dashboard: the figures the agent reported; what no agent reports says so.
        wait_text(c, "fig-events-in", "42.5").await?;
        wait_text(c, "fig-agents", "1 / 2").await?;
        wait_text(c, "fig-dlq", "3").await?;
        wait_text(c, "fig-events-out", "not reported").await?;
        wait_text(c, "live-state", "live").await?;
        // A changed report reaches the open page without a reload.
        post_report(&base, report(99.0)).await;
        wait_text(c, "fig-events-in", "99").await?;
        let points = c
            .find(Locator::Css("#chart-events-in polyline"))
            .await?
            .attr("points")
            .await?
            .unwrap_or_default();
        assert!(points.split(' ').count() >= 2, "a chart with history: {points:?}");
        let (scroll, inner) = overflows(c).await?;
        assert!(scroll <= inner, "the dashboard overflows at {inner} px: {scroll} px wide");
        shot(c, "dashboard").await?;

        // Nodes: one card each; the failed one stands out, with its reason.
        c.find(Locator::Id("nav-nodes")).await?.click().await?;
        let failed = wait_css_text(
            c,
            "article.node-card.failing[data-node='node-2']",
            "FAILING: agent task TASK_FAILED: Container exited with status 1",
        )
        .await?;
        let dd = |node: &str, class: &str| {
            format!("article.node-card[data-node='{node}'] dd.{class}")
        };
        assert!(failed.contains("relaunches"), "{failed}");
        wait_css_text(c, &dd("node-2", "relaunches"), "3").await?;
        let ok = wait_css_text(c, "article.node-card[data-node='node-1']", "0.9.1").await?;
        // The healthy node does not stand out.
        wait_css_text(c, "article.node-card:not(.failing)[data-node='node-1']", "node-1").await?;
        for want in [
            "TASK_RUNNING",
            "web-1 stdout: offset 1234, lag 5",
            "web-1 stderr: offset 77, lag 0, last error: read: permission denied",
            "tcp (tcp, main): 10.0.0.1:5044/tcp",
        ] {
            assert!(ok.contains(want), "{want:?} missing from {ok}");
        }
        assert_eq!(wait_css_text(c, &dd("node-1", "config-version"), "1").await?, "1");
        assert_eq!(wait_css_text(c, &dd("node-1", "agent-version"), "0.9.1").await?, "0.9.1");
        // The cards follow the reports: the latest rate shows.
        wait_css_text(c, &dd("node-1", "eps"), "99").await?;
        shot(c, "nodes").await?;
        c.find(Locator::Id("nav-configs")).await?.click().await?;
        c.wait()
            .for_element(Locator::Css("#config-list li[data-name='web']"))
            .await?
            .click()
            .await?;
        // The editor shows the secret masked.
        let text = c.find(Locator::Id("editor")).await?.prop("value").await?.unwrap_or_default();
        assert!(text.contains("password => \"********\""), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        // Saving the masked text back keeps the stored secret (an unchanged config: the
        // set's version stays 1).
        c.find(Locator::Id("save-btn")).await?.click().await?;
        wait_text(c, "status", "saved, version 1").await?;
        assert_eq!(
            configs.get("web").as_deref(),
            Some("input { tcp { port => 5044 } }\noutput { elasticsearch { password => \"hunter2\" } }\n")
        );
        shot(c, "configs").await?;

        // The overflow check sees an element wider than the window.
        c.execute(
            "const d = document.createElement('div'); d.id = 'wide'; d.style.width = '3000px'; d.textContent = 'x'; document.querySelector('main').appendChild(d);",
            vec![],
        )
        .await?;
        let (scroll, inner) = overflows(c).await?;
        assert!(scroll > inner, "the overflow check cannot fail: {scroll} <= {inner}");
        c.execute("document.getElementById('wide').remove();", vec![]).await?;
        // A phone: nothing wider than the window on any page.
        c.set_window_size(390, 844).await?;
        for page in ["dashboard", "nodes", "configs"] {
            c.find(Locator::Id(&format!("nav-{page}"))).await?.click().await?;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let (scroll, inner) = overflows(c).await?;
            assert!(inner <= 400, "the window did not shrink: {inner}");
            assert!(scroll <= inner, "{page} overflows at {inner} px: {scroll} px wide");
            shot(c, &format!("{page}-phone")).await?;
        }
        Ok(())
    }
    .await;
    browser.close().await;
    result.expect("ui flow");
    for page in [
        "dashboard",
        "nodes",
        "configs",
        "dashboard-phone",
        "nodes-phone",
        "configs-phone",
    ] {
        let png = screenshot_dir().join(format!("{page}.png"));
        assert!(
            std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000),
            "no screenshot {}",
            png.display()
        );
    }
}
