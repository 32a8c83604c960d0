//! The diagnosis view: every finding, and for the selected one why, where to act and the fix.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::common::{fit, pane};
use super::matrix::severity_glyph;
use super::WIDE;
use crate::console::diagnosis::{Class, Finding, Severity};
use crate::console::tui::app::{class_label, App};
use crate::console::tui::keymap::Command;
use crate::proxysql::cluster::state::Module;

/// Draws the diagnosis view.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let findings = app.visible_findings();
    let (list_area, detail_area) = if area.width >= WIDE {
        let [l, d] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
            .areas(area);
        (l, d)
    } else {
        let want = (findings.len() as u16 + 2).clamp(3, (area.height / 3).max(5));
        let [l, d] = Layout::vertical([Constraint::Length(want), Constraint::Fill(1)]).areas(area);
        (l, d)
    };
    draw_list(frame, app, &findings, list_area);
    draw_finding(frame, app, app.selected_finding(), detail_area);
}

fn draw_list(frame: &mut Frame, app: &App, findings: &[&Finding], area: Rect) {
    let theme = app.theme();
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let sel = app.selected_finding_index();
    // Keep the selection visible.
    let start = sel.saturating_sub(height.saturating_sub(1));
    let mut lines: Vec<Line> = Vec::new();
    if findings.is_empty() {
        let text = if app.nodes().iter().all(|n| n.snapshot.is_none()) {
            "Waiting for the first poll…".to_owned()
        } else {
            format!("no finding matches '{}'", app.filter)
        };
        lines.push(Line::from(Span::styled(text, theme.muted())));
    }
    for (i, f) in findings.iter().enumerate().skip(start).take(height) {
        let what = f.module.map_or("cluster", Module::name);
        let text = fit(
            &format!(
                "{} {:<17} {}",
                severity_glyph(f.severity),
                what,
                class_label(&f.class)
            ),
            width,
        );
        let style = if i == sel {
            theme.selected()
        } else if f.severity == Severity::Ok {
            theme.muted()
        } else {
            theme.severity(f.severity)
        };
        lines.push(Line::from(Span::styled(format!("{text:<width$}"), style)));
    }
    let problems = findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .count();
    let title = format!(
        "Findings · {problems} to look at, {} in sync",
        findings.len() - problems
    );
    frame.render_widget(Paragraph::new(lines).block(pane(title, theme)), area);
}

fn draw_finding(frame: &mut Frame, app: &App, finding: Option<&Finding>, area: Rect) {
    let theme = app.theme();
    let km = app.keymap();
    let Some(f) = finding else {
        frame.render_widget(Paragraph::new("").block(pane("Finding", theme)), area);
        return;
    };
    let mut head = vec![
        Span::styled(
            format!("{} {:?}", severity_glyph(f.severity), f.severity).to_uppercase(),
            theme.severity(f.severity),
        ),
        Span::styled(format!(" · {}", class_label(&f.class)), theme.base()),
    ];
    if let Some(m) = f.module {
        head.push(Span::styled(format!(" · {m}"), theme.muted()));
    }
    let mut lines = vec![Line::from(head)];
    let mut second = vec![
        Span::styled("act on ", theme.header()),
        Span::styled(
            f.node_to_act_on
                .clone()
                .unwrap_or_else(|| "nobody: it resolves by itself or needs a decision".into()),
            if f.node_to_act_on.is_some() {
                theme.accent().add_modifier(Modifier::BOLD)
            } else {
                theme.muted()
            },
        ),
    ];
    match &f.class {
        Class::Converging { checks_left, .. } => second.push(Span::styled(
            format!("   checks left {checks_left}"),
            theme.base(),
        )),
        Class::StuckVersionOne { nodes_waiting, .. } => {
            second.push(Span::styled("   waiting ", theme.header()));
            second.push(Span::styled(nodes_waiting.join(", "), theme.base()));
        }
        _ => {}
    }
    lines.push(Line::from(second));
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Why", theme.header())));
    lines.push(Line::from(Span::styled(f.why.clone(), theme.base())));
    lines.push(Line::raw(""));
    match &f.fix {
        Some(fix) => {
            lines.push(Line::from(Span::styled(
                format!("Fix, on {}", fix.node),
                theme.header(),
            )));
            for stmt in &fix.sql {
                lines.push(Line::from(Span::styled(
                    format!("  {stmt}"),
                    theme.accent(),
                )));
            }
            let how = if app.read_only {
                "read-only: run it yourself, or restart the console without --read-only".to_owned()
            } else {
                format!(
                    "press {} to apply it (you will be asked to confirm)",
                    km.short(Command::ApplyFix)
                )
            };
            lines.push(Line::from(Span::styled(how, theme.muted())));
        }
        None if f.severity == Severity::Ok => {}
        None => lines.push(Line::from(Span::styled(
            "No statement to run: see why above.",
            theme.muted(),
        ))),
    }
    if f.module.is_some() {
        lines.push(Line::from(Span::styled(
            format!("{}: show it in the matrix", km.short(Command::Inspect)),
            theme.muted(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane("Finding", theme)),
        area,
    );
}
