//! The events view: what changed, oldest first, and the log tail of nodes pxadm started.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::common::{fit, pane};
use super::WIDE;
use crate::console::tui::action::View;
use crate::console::tui::app::App;
use crate::console::tui::model;

/// Every event (after the filter) as one line each, oldest first.
pub fn event_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let filter = app.filter.to_lowercase();
    app.events()
        .iter()
        .filter(|e| filter.is_empty() || e.text.to_lowercase().contains(&filter))
        .map(|e| {
            let head = format!("{} {:<8} ", model::clock(e.at, app.tz), e.kind.tag());
            let room = width.saturating_sub(head.chars().count());
            Line::from(vec![
                Span::styled(head, theme.muted()),
                Span::styled(fit(&e.text, room), theme.severity(e.kind.severity())),
            ])
        })
        .collect()
}

/// Draws the events view.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let node = app.selected_node();
    let any_managed = app.nodes().iter().any(|n| n.managed);
    let (ev_area, log_area) = if !any_managed {
        (area, None)
    } else if area.width >= WIDE * 3 / 2 {
        let [e, l] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(area);
        (e, Some(l))
    } else {
        let [e, l] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
        (e, Some(l))
    };

    let width = ev_area.width.saturating_sub(2) as usize;
    let height = ev_area.height.saturating_sub(2) as usize;
    let lines = event_lines(app, width);
    let total = lines.len();
    // Scroll counts back from the newest line.
    let back = app.scroll(View::Events).min(total.saturating_sub(height));
    let end = total - back;
    let start = end.saturating_sub(height);
    let mut title = format!("Events · {total}");
    if back > 0 {
        title += &format!(" · {back} newer below");
    }
    let body = if lines.is_empty() {
        vec![Line::from(Span::styled("nothing seen yet", theme.muted()))]
    } else {
        lines[start..end].to_vec()
    };
    frame.render_widget(Paragraph::new(body).block(pane(title, theme)), ev_area);

    let Some(log_area) = log_area else { return };
    let width = log_area.width.saturating_sub(2) as usize;
    let height = log_area.height.saturating_sub(2) as usize;
    // The selected node's log, or the first managed node's when it has none.
    let node = node
        .filter(|n| n.managed)
        .or_else(|| app.nodes().iter().find(|n| n.managed));
    let (title, body) = match node {
        Some(n) => {
            let lines: Vec<Line> = n
                .log
                .iter()
                .skip(n.log.len().saturating_sub(height))
                .map(|l| Line::from(Span::styled(fit(l, width), log_style(app, l))))
                .collect();
            let path = n
                .log_path
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "log".into());
            let body = if lines.is_empty() {
                vec![Line::from(Span::styled("(empty so far)", theme.muted()))]
            } else {
                lines
            };
            (
                format!("{} · {path} (tail; ← → picks a node)", n.name()),
                body,
            )
        }
        None => ("log".into(), Vec::new()),
    };
    frame.render_widget(Paragraph::new(body).block(pane(title, theme)), log_area);
}

fn log_style(app: &App, line: &str) -> ratatui::style::Style {
    use crate::console::diagnosis::Severity;
    let theme = app.theme();
    if line.contains("[ERROR]") {
        theme.severity(Severity::Critical)
    } else if line.contains("[WARNING]") {
        theme.severity(Severity::Warning)
    } else {
        theme.base()
    }
}
