//! The Traffic, Hostgroups, Processlist, Digests and Stats views: the settled grid of
//! `tui::traffic`, paged around the cursor; the Traffic view adds the cluster's queries/s
//! sparkline, the Digests view the selected digest's per-node breakdown, the Stats view the
//! selected command's. Nothing is computed here.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use super::common::{grid, pane, GridCell};
use crate::console::tui::action::View;
use crate::console::tui::app::App;
use crate::console::tui::traffic::StatsPane;

/// Columns left out below 110 columns of width.
const NARROW_HIDDEN: [&str; 12] = [
    "free",
    "sent",
    "recv",
    "be in/s",
    "be out/s",
    "db",
    "max_us",
    "q/s history",
    "time_us",
    "mean_us",
    "schema",
    "first_seen",
];

/// Draws the traffic view on screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let t = app.traffic();
    let g = t.grid();
    let title = match app.view() {
        View::Traffic => "Traffic: per node and total (rates over the last poll)".to_owned(),
        View::Hostgroups => {
            "Hostgroups: every backend on every node (SHUNNED! = on some nodes only)".to_owned()
        }
        View::Processlist => format!(
            "Processlist: {} session(s), sort {} (o), x kill connection",
            g.rows.len(),
            t.session_sort.name()
        ),
        View::Stats => match t.stats_pane {
            StatsPane::Commands => format!(
                "Stats: {} command(s), executions per latency bucket (u=µs m=ms; o: errors)",
                g.rows.len()
            ),
            StatsPane::Errors(sort) => format!(
                "Stats: {} error row(s), sort {} (o: next)",
                g.rows.len(),
                sort.name()
            ),
        },
        _ => format!(
            "Digests: {} digest(s), sort {} (o), z reset",
            g.rows.len(),
            t.digest_sort.name()
        ),
    };
    let extra = match app.view() {
        View::Traffic => 5,
        View::Digests => (t.breakdown().len() as u16 + 2).min(area.height / 3),
        View::Stats if t.stats_pane == StatsPane::Commands => {
            (t.breakdown().len() as u16 + 2).min(area.height / 3)
        }
        _ => 0,
    };
    let [table_area, extra_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(extra)]).areas(area);
    let block = pane(title, theme);
    let inner = block.inner(table_area);
    frame.render_widget(block, table_area);
    if g.rows.is_empty() {
        frame.render_widget(
            Paragraph::new("waiting for the nodes' stats tables…").style(theme.muted()),
            inner,
        );
    } else {
        // Page so the cursor stays on screen: the header takes one line.
        let room = usize::from(inner.height.saturating_sub(1)).max(1);
        let first = (t.selected / room) * room;
        let cursor = matches!(
            app.view(),
            View::Processlist | View::Digests | View::Hostgroups | View::Stats
        );
        let rows: Vec<Vec<GridCell>> = g
            .rows
            .iter()
            .enumerate()
            .skip(first)
            .take(room)
            .map(|(i, r)| {
                let style = if cursor && i == t.selected {
                    theme.selected()
                } else if g.flagged.get(i).copied().unwrap_or(false) {
                    theme.severity(crate::console::diagnosis::Severity::Warning)
                } else {
                    theme.base()
                };
                r.iter().map(|c| (c.clone(), style)).collect()
            })
            .collect();
        // A narrow terminal drops the columns that matter least so the server, status and
        // statement stay readable.
        let narrow = inner.width < 110;
        let keep: Vec<bool> = g
            .headers
            .iter()
            .map(|h| !(narrow && NARROW_HIDDEN.contains(h)))
            .collect();
        let pick = |cells: &[GridCell]| -> Vec<GridCell> {
            cells
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c.clone())
                .collect()
        };
        let headers: Vec<&str> = g
            .headers
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(h, _)| *h)
            .collect();
        let rows: Vec<Vec<GridCell>> = rows.iter().map(|r| pick(r)).collect();
        let lines: Vec<Line> = grid(&headers, &rows, usize::from(inner.width), theme);
        frame.render_widget(Paragraph::new(lines), inner);
    }
    if extra == 0 {
        return;
    }
    match app.view() {
        View::Traffic => {
            let block = pane("Cluster queries/s", theme);
            let inner = block.inner(extra_area);
            frame.render_widget(block, extra_area);
            let data = t.qps_total();
            let w = usize::from(inner.width);
            let shown = &data[data.len().saturating_sub(w)..];
            frame.render_widget(
                Sparkline::default().data(shown).style(theme.accent()),
                inner,
            );
        }
        _ => {
            let title = if app.view() == View::Stats {
                "Selected command per node"
            } else {
                "Selected digest per node"
            };
            let block = pane(title, theme);
            let lines: Vec<Line> = t
                .breakdown()
                .iter()
                .map(|l| Line::from(l.clone()))
                .collect();
            frame.render_widget(
                Paragraph::new(lines).block(block).style(theme.base()),
                extra_area,
            );
        }
    }
}
