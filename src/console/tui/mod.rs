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
pub mod editor;
pub mod events;
pub mod keymap;
pub mod model;
pub mod palette;
pub mod poller;
pub mod term;
pub mod theme;

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

pub use action::{Action, Effect, View};
pub use app::{App, AppOptions};
pub use contract::{ConsoleNode, ConsoleSettings, Fault, FaultInjector};

/// Opens the console on `nodes` and runs it until the operator quits. Bad settings (a key
/// binding, a theme) are reported before the terminal is touched.
pub async fn run_console(
    nodes: Vec<ConsoleNode>,
    settings: ConsoleSettings,
    faults: Arc<dyn FaultInjector>,
) -> anyhow::Result<()> {
    if nodes.is_empty() {
        anyhow::bail!("no nodes to watch");
    }
    let now = runner::unix_now();
    let tz = chrono::Local::now().offset().fix();
    // Theme files are read from disk: keep that off the async workers.
    let options = tokio::task::spawn_blocking(move || {
        let themes = theme::ThemeSet::load(theme::user_theme_dir().as_deref())?;
        AppOptions::from_settings(&settings, themes, now, tz).map_err(anyhow::Error::from)
    })
    .await??;
    runner::run(App::new(nodes, options), faults).await
}

/// Draws `app` into a `width`×`height` buffer, exactly as the terminal would show it.
pub fn render_to_buffer(app: &App, width: u16, height: u16) -> Buffer {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let _ = terminal.draw(|f| ui::draw(f, app));
    terminal.backend().buffer().clone()
}
