//! Rendering: a pure function of [`App`] onto a frame. Every view adapts to the area it gets:
//! 80×24 shows one pane at a time with the essentials, wide terminals show panes side by side.

mod common;
mod detail;
mod diagnosis;
mod drill;
mod events;
mod ha;
mod matrix;
mod overlay;
mod traffic;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Tabs};
use ratatui::Frame;

use super::action::View;
use super::app::{fmt_interval, App};
use super::keymap::Command;
use super::model;
use crate::console::diagnosis::{overall, Severity};

/// Smallest area the views are laid out for.
pub const MIN_WIDTH: u16 = 60;
/// Smallest height the views are laid out for.
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, panes sit side by side.
pub const WIDE: u16 = 120;

/// Draws the whole console.
pub fn draw(frame: &mut Frame, app: &App) {
    draw_in(frame, app, frame.area());
}

/// Draws the whole console into `area` of the frame (the replay keeps rows for its cursor).
pub fn draw_in(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    frame.render_widget(Block::new().style(theme.base()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small: {}×{} (needs {MIN_WIDTH}×{MIN_HEIGHT}). Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(theme.base())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, header);
    draw_tabs(frame, app, tabs);
    match app.view() {
        View::Matrix => matrix::draw(frame, app, body),
        View::Diagnosis => diagnosis::draw(frame, app, body),
        View::Node => detail::draw(frame, app, body),
        View::Ha => ha::draw(frame, app, body),
        View::Events => events::draw(frame, app, body),
        View::Traffic | View::Hostgroups | View::Processlist | View::Digests | View::Stats => {
            traffic::draw(frame, app, body)
        }
    }
    draw_footer(frame, app, footer);
    overlay::draw(frame, app, body, footer);
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let findings = app.findings();
    let worst = overall(findings);
    let problems = findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .count();
    let up = app
        .nodes()
        .iter()
        .filter(|n| model::Reach::of(n.snapshot.as_ref()) == model::Reach::Up)
        .count();
    let polled = app.nodes().iter().any(|n| n.snapshot.is_some());
    let (word, glyph) = match (polled, worst) {
        (false, _) => ("WAITING", '?'),
        (true, Severity::Ok) => ("OK", '✓'),
        (true, Severity::Warning) => ("WARNING", '~'),
        (true, Severity::Critical) => ("CRITICAL", '✗'),
    };
    let mut left = vec![
        Span::styled(" pxadm ", theme.title()),
        Span::styled("│ ", theme.border()),
        Span::styled(format!("{glyph} {word}"), theme.severity(worst)),
    ];
    if problems > 0 {
        left.push(Span::styled(
            format!(
                " {problems} finding{}",
                if problems == 1 { "" } else { "s" }
            ),
            theme.severity(worst),
        ));
    }
    left.push(Span::styled(" │ ", theme.border()));
    left.push(Span::styled(
        format!("{up}/{} nodes up", app.nodes().len()),
        theme.severity(if up == app.nodes().len() {
            Severity::Ok
        } else {
            Severity::Critical
        }),
    ));
    if app.replay {
        left.push(Span::styled(" │ ", theme.border()));
        left.push(Span::styled("REPLAY", theme.severity(Severity::Warning)));
    } else if app.read_only {
        left.push(Span::styled(" │ ", theme.border()));
        left.push(Span::styled("READ-ONLY", theme.severity(Severity::Warning)));
    }
    // The active `/` filter hides rows in every view: say so where it is always visible (the
    // footer's copy is replaced by status messages and cut on narrow terminals).
    if !app.filter.is_empty() {
        left.push(Span::styled(" │ ", theme.border()));
        left.push(Span::styled(
            format!("filter: {}", app.filter),
            theme.severity(Severity::Warning),
        ));
    }
    let clock = model::clock(app.now, app.tz);
    let right = if area.width >= 100 {
        format!(
            "every {} │ theme {} │ {clock} ",
            fmt_interval(app.refresh()),
            theme.name
        )
    } else {
        format!("every {} │ {clock} ", fmt_interval(app.refresh()))
    };
    let used: usize = left.iter().map(|s| s.content.chars().count()).sum();
    // The state on the left matters more than the interval and clock: they give way first.
    let width = area.width as usize;
    let right = if used + right.chars().count() < width {
        right
    } else if used + clock.chars().count() + 2 < width {
        format!("{clock} ")
    } else {
        String::new()
    };
    let gap = width.saturating_sub(used + right.chars().count());
    left.push(Span::raw(" ".repeat(gap)));
    left.push(Span::styled(right, theme.muted()));
    frame.render_widget(Paragraph::new(Line::from(left)).style(theme.base()), area);
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let km = app.keymap();
    let keys = [
        Command::ViewMatrix,
        Command::ViewDiagnosis,
        Command::ViewNode,
        Command::ViewHa,
        Command::ViewEvents,
        Command::ViewTraffic,
        Command::ViewHostgroups,
        Command::ViewProcesslist,
        Command::ViewDigests,
        Command::ViewStats,
    ];
    // Full titles when they fit; otherwise short titles without padding, so that all nine
    // views stay visible at 80 columns.
    let labels = |short: bool| -> Vec<(String, String)> {
        View::ALL
            .iter()
            .zip(keys)
            .map(|(v, c)| {
                let mut title = if short { v.short_title() } else { v.title() }.to_owned();
                if *v == View::Diagnosis {
                    let n = app
                        .findings()
                        .iter()
                        .filter(|f| f.severity != Severity::Ok)
                        .count();
                    if n > 0 {
                        title += &if short {
                            format!(" {n}")
                        } else {
                            format!(" ({n})")
                        };
                    }
                }
                (km.short(c).to_string(), title)
            })
            .collect()
    };
    // Each tab is "key title" plus its padding (two columns when full), a divider between tabs.
    let width = |labels: &[(String, String)], padding: usize| -> usize {
        labels
            .iter()
            .map(|(k, t)| k.chars().count() + 1 + t.chars().count() + padding)
            .sum::<usize>()
            + labels.len().saturating_sub(1)
    };
    let full = labels(false);
    let compact = width(&full, 2) > usize::from(area.width);
    let labels = if compact { labels(true) } else { full };
    let titles: Vec<Line> = labels
        .into_iter()
        .map(|(key, title)| {
            Line::from(vec![
                Span::styled(key, theme.accent()),
                Span::raw(" "),
                Span::raw(title),
            ])
        })
        .collect();
    let selected = View::ALL.iter().position(|v| *v == app.view());
    let mut tabs = Tabs::new(titles)
        .select(selected)
        .style(theme.muted())
        .highlight_style(theme.selected())
        .divider(Span::styled("│", theme.border()));
    if compact {
        tabs = tabs.padding("", "");
    }
    frame.render_widget(tabs, area);
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let km = app.keymap();
    if let Some(status) = app.status() {
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(status.text.clone(), theme.severity(status.severity)),
        ]);
        frame.render_widget(Paragraph::new(line).style(theme.base()), area);
        return;
    }
    let mut hints: Vec<(Command, &str)> = vec![
        (Command::Help, "help"),
        (Command::Palette, "cmd"),
        (Command::Filter, "filter"),
    ];
    if !app.read_only {
        hints.push((Command::ApplyFix, "fix"));
        hints.push((Command::ReloadModule, "load"));
        if area.width >= 100 {
            hints.push((Command::Kill, "kill"));
            hints.push((Command::Freeze, "freeze"));
        }
    }
    hints.push((Command::Quit, "quit"));
    let mut spans = vec![Span::raw(" ")];
    for (c, label) in hints {
        spans.push(Span::styled(km.short(c), theme.accent()));
        spans.push(Span::styled(format!(" {label}  "), theme.muted()));
    }
    if !app.filter.is_empty() {
        spans.push(Span::styled(
            format!("filter: {}", app.filter),
            theme.severity(Severity::Warning),
        ));
    }
    if !app.running.is_empty() {
        spans.push(Span::styled(
            format!("  running {}…", app.running.len()),
            theme.severity(Severity::Warning),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
}
