//! `pxadm screenshots DIR`: README images rendered from real states of a real demo cluster.
//!
//! The demo cluster is driven through the scenario (stuck version-1, the fix on node1,
//! convergence, a failover drill started from the console, a node killed) and after each step the console's own renderer draws the state
//! into an off-screen buffer, saved as SVG. Nothing is drawn by hand.

use std::path::Path;
use std::time::Duration;

use chrono::Offset as _;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

use super::config::ConsoleSettings;
use super::demo::{DemoCluster, DemoOptions};
use super::diagnosis::Class;
use super::drill as failover;
use super::fault::Fault;
use super::tui::svg::{buffer_to_svg, Palette};
use super::tui::{self, Action, App, AppOptions, Effect, View};
use crate::client::conn;
use crate::client::queries;
use crate::proxysql::cluster::state::Module;

const POLL_TIMEOUT: Duration = Duration::from_secs(2);

fn save(app: &App, dir: &Path, name: &str, width: u16, height: u16) -> anyhow::Result<()> {
    let buf = tui::render_to_buffer(app, width, height);
    let path = dir.join(format!("{name}.svg"));
    std::fs::write(&path, buffer_to_svg(&buf, Palette::default()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Polls until `done` holds for the app's findings (bounded).
async fn poll_until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tui::poll_once(app, POLL_TIMEOUT).await;
        if done(app) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the demo cluster did not reach '{what}' within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn has_class(app: &App, f: impl Fn(&Class) -> bool) -> bool {
    app.findings().iter().any(|x| f(&x.class))
}

/// Renders the scenario's states into `dir`.
pub async fn run(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cluster = DemoCluster::start(DemoOptions::default()).await?;
    let result = shoot(&cluster, dir).await;
    cluster.stop().await;
    result
}

async fn shoot(cluster: &DemoCluster, dir: &Path) -> anyhow::Result<()> {
    let nodes = cluster.console_nodes().await;
    let settings = ConsoleSettings {
        refresh: Duration::from_secs(1),
        theme: "dark".into(),
        read_only: false,
        keys: Default::default(),
    };
    let themes = tui::theme::ThemeSet::load(None)?;
    let now = crate::proxysql::clock::unix_now();
    let tz = chrono::Local::now().offset().fix();
    let options = AppOptions::from_settings(&settings, themes, now, tz)?;
    let mut app = App::new(nodes.clone(), options);

    // 1. The scenario's step 4: stuck at version 1.
    poll_until(&mut app, "stuck version 1", |a| {
        has_class(a, |c| matches!(c, Class::StuckVersionOne { .. }))
    })
    .await?;
    app.select(View::Matrix, Some("mysql_query_rules"), Some("node1"));
    save(&app, dir, "stuck", 160, 48)?;
    save(&app, dir, "stuck-80x24", 80, 24)?;
    app.select(View::Diagnosis, None, None);
    save(&app, dir, "diagnosis", 160, 48)?;

    // 2. The fix on the candidate master, then the pull on node2.
    let node1 = nodes
        .iter()
        .find(|n| n.addr.name == "node1")
        .map(|n| n.addr.clone());
    let node1 = node1.ok_or_else(|| anyhow::anyhow!("no node1 in the demo"))?;
    let mut c = conn::connect(&node1, POLL_TIMEOUT).await?;
    for sql in [
        queries::load_to_runtime(Module::MysqlServers),
        queries::load_to_runtime(Module::MysqlQueryRules),
    ] {
        conn::execute_text(&mut c, sql).await?;
    }
    c.close().await;
    let in_sync = |a: &App| {
        a.findings()
            .iter()
            .all(|f| matches!(f.class, Class::InSync))
    };
    poll_until(&mut app, "in sync", in_sync).await?;
    app.select(View::Matrix, Some("mysql_query_rules"), Some("node2"));
    save(&app, dir, "in-sync", 160, 48)?;

    // 3. A change on node1 propagating: node2 sees a new checksum and pulls after
    // diffs_before_sync checks.
    let mut c = conn::connect(&node1, POLL_TIMEOUT).await?;
    for sql in [
        queries::SCREENSHOT_RULE_COMMENT,
        queries::load_to_runtime(Module::MysqlQueryRules),
    ] {
        conn::execute_text(&mut c, sql).await?;
    }
    c.close().await;
    poll_until(&mut app, "converging", |a| {
        has_class(a, |c| matches!(c, Class::Converging { .. }))
    })
    .await?;
    save(&app, dir, "converging", 160, 48)?;
    poll_until(&mut app, "in sync again", in_sync).await?;

    // 4. A failover drill started from the console: its own VIP nodes, writes through the
    // VIP to the lab primary, the holder killed and restarted.
    drill(&mut app, dir).await?;

    // 5. A node killed with SIGKILL.
    cluster.inject("node2", Fault::Kill).await?;
    poll_until(&mut app, "node2 down", |a| {
        has_class(a, |c| matches!(c, Class::PeerUnreachable { .. }))
    })
    .await?;
    app.select(View::Matrix, None, Some("node2"));
    save(&app, dir, "node-killed", 160, 48)?;
    app.select(View::Events, None, None);
    save(&app, dir, "events", 160, 48)?;
    Ok(())
}

/// Runs a failover drill as the console does (its key, its confirmation, its progress
/// events) and saves the HA view mid-outage and at the end.
async fn drill(app: &mut App, dir: &Path) -> anyhow::Result<()> {
    let key = |c: char| Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    app.select(View::Ha, None, None);
    app.update(key('D'));
    let request = match app.update(key('y')).as_slice() {
        [Effect::Drill(request)] => *request,
        other => anyhow::bail!("the console did not start a drill: {other:?}"),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = failover::run_failover(request.options(), Some(tx));
    tokio::pin!(run);
    let mut outage_saved = false;
    let result = loop {
        tokio::select! {
            Some(event) = rx.recv() => {
                // The console's clock ticks every second; here each event brings it along.
                app.update(Action::Tick(crate::proxysql::clock::unix_now()));
                app.update(Action::Drill(event));
                let deep_in_outage = app.drill().is_some_and(|p| p.in_outage() && p.failed >= 10);
                if deep_in_outage && !outage_saved {
                    save(app, dir, "failover-outage", 160, 48)?;
                    outage_saved = true;
                }
            }
            result = &mut run => break result,
        }
    };
    while let Ok(event) = rx.try_recv() {
        app.update(Action::Drill(event));
    }
    let failed = result.as_ref().err().map(|e| e.to_string());
    app.update(Action::DrillDone(
        result.map(Box::new).map_err(|e| e.to_string()),
    ));
    save(app, dir, "failover-timeline", 160, 48)?;
    save(app, dir, "failover-timeline-80x24", 80, 24)?;
    match failed {
        Some(e) => anyhow::bail!("the failover drill failed: {e}"),
        None => Ok(()),
    }
}
