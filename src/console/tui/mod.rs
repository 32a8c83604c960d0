//! The console: a TUI over every node's admin interface (issue 6).
//!
//! Structure (event → action → update → draw):
//! - [`term`] owns the terminal (restored on drop, error and panic) and turns key presses into
//!   [`Action`]s on an input thread;
//! - [`poller`] runs one task per node (parallel, with timeouts and exponential back-off), the
//!   node view's detail fetcher, log tailers and operator jobs, all reporting as actions;
//! - [`App::update`] is pure: it folds an action into the state and returns [`Effect`]s;
//! - [`ui`] draws the state; [`render_to_buffer`] draws it without a terminal (tests,
//!   screenshots).

pub mod action;
pub mod app;
pub mod contract;
pub mod detail;
pub mod drill;
pub mod editor;
pub mod events;
pub mod keymap;
pub mod layers;
pub mod model;
pub mod palette;
pub mod poller;
pub mod start;
pub mod svg;
pub mod term;
pub mod theme;
pub mod traffic;

mod runner;
mod ui;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod snapshot_tests;

use std::sync::Arc;

use chrono::Offset as _;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use crate::client::detail::{fetch_detail, fetch_variables};
use crate::proxysql::clock::unix_now;
pub use action::{Action, Effect, View};
pub use app::{App, AppOptions};
pub use contract::{ConsoleNode, ConsoleSettings, Fault, FaultInjector};
pub use runner::{run_headless, HeadlessRun};

/// Opens the console on `nodes` and runs it until the operator quits. Bad settings (a key
/// binding, a theme) are reported before the terminal is touched.
pub async fn run_console(
    nodes: Vec<ConsoleNode>,
    settings: ConsoleSettings,
    faults: Arc<dyn FaultInjector>,
    record: Option<crate::console::recording::writer::Writer>,
) -> anyhow::Result<()> {
    if nodes.is_empty() {
        anyhow::bail!("no nodes to watch");
    }
    let now = unix_now();
    let tz = chrono::Local::now().offset().fix();
    // Theme files are read from disk: keep that off the async workers.
    let options = tokio::task::spawn_blocking(move || {
        let themes = theme::ThemeSet::load(theme::user_theme_dir().as_deref())?;
        AppOptions::from_settings(&settings, themes, now, tz).map_err(anyhow::Error::from)
    })
    .await??;
    runner::run(App::new(nodes, options), faults, record).await
}

/// Draws `app` into `area` of a frame, as the terminal would show it there (the replay draws
/// its time cursor below).
pub fn draw_in(frame: &mut ratatui::Frame, app: &App, area: ratatui::layout::Rect) {
    ui::draw_in(frame, app, area);
}

/// Draws `app` into a `width`×`height` buffer, exactly as the terminal would show it.
pub fn render_to_buffer(app: &App, width: u16, height: u16) -> Buffer {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let _ = terminal.draw(|f| ui::draw(f, app));
    terminal.backend().buffer().clone()
}

/// Polls every node once, in parallel, and feeds the answers into `app`: snapshots, VRRP
/// state, and the selected node's detail tables with every node's variables. With
/// [`render_to_buffer`] this renders real states without a terminal (screenshots).
pub async fn poll_once(app: &mut App, timeout: std::time::Duration) {
    let mut kept = KeptConns::default();
    poll_once_keeping(app, &mut kept, timeout, true).await;
    kept.close().await;
}

/// The admin connections a headless poll loop keeps between ticks, one slot per node, as
/// the console's pollers do (see [`crate::client::snapshot::fetch_snapshot_keeping`]).
#[derive(Default)]
pub struct KeptConns(Vec<Option<crate::client::conn::Conn>>);

impl KeptConns {
    /// Closes every kept connection.
    pub async fn close(self) {
        futures::future::join_all(self.0.into_iter().flatten().map(|c| c.close())).await;
    }
}

/// [`poll_once`] reusing the connections in `kept` (what the console's pollers do every
/// tick); `detail` adds the selected node's detail tables and every node's variables, which
/// the console reads only while the node view is open.
pub async fn poll_once_keeping(
    app: &mut App,
    kept: &mut KeptConns,
    timeout: std::time::Duration,
    detail: bool,
) {
    use crate::client::detail::fetch_ha_keeping;
    use crate::client::snapshot::fetch_snapshot_keeping;
    use futures::future::join_all;

    let addrs: Vec<_> = app.nodes().iter().map(|n| n.addr.clone()).collect();
    kept.0.resize_with(addrs.len(), || None);
    let snapshots = join_all(
        addrs
            .iter()
            .zip(kept.0.iter_mut())
            .map(|(a, k)| fetch_snapshot_keeping(a, timeout, k)),
    )
    .await;
    let up: Vec<bool> = snapshots.iter().map(|s| s.result.is_ok()).collect();
    app.update(Action::Tick(unix_now()));
    for (node, snapshot) in snapshots.into_iter().enumerate() {
        app.update(Action::Snapshot { node, snapshot });
    }
    let ha = join_all(
        addrs
            .iter()
            .zip(kept.0.iter_mut())
            .zip(&up)
            .filter(|(_, up)| **up)
            .map(|((a, k), _)| fetch_ha_keeping(a, timeout, k)),
    )
    .await;
    let answering = up.iter().enumerate().filter(|(_, u)| **u).map(|(i, _)| i);
    for (node, info) in answering.zip(ha) {
        app.update(Action::Ha { node, info });
    }
    if !detail {
        return;
    }
    let selected = app.selected_node_index();
    if let Some(addr) = addrs.get(selected) {
        let detail = fetch_detail(addr, timeout).await.map_err(|e| e.to_string());
        app.update(Action::Detail {
            node: selected,
            detail,
        });
        let vars = join_all(addrs.iter().map(|a| fetch_variables(a, timeout))).await;
        for (node, variables) in vars.into_iter().enumerate() {
            app.update(Action::Variables { node, variables });
        }
    }
}
