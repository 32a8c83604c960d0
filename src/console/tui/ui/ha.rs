//! The HA view: who holds the VIP, each node's VRRP state, and a timeline of availability and
//! VIP moves (the outage window of a failover drill).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::common::{grid, pane, GridCell};
use crate::client::detail::HaInfo;
use crate::console::diagnosis::Severity;
use crate::console::tui::app::App;
use crate::console::tui::events::EventKind;
use crate::console::tui::keymap::Command;
use crate::console::tui::model::{self, Reach};

/// Draws the HA view.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let nodes = app.nodes().len() as u16;
    if let Some(panel) = app.drill() {
        // During and after a drill its panel takes the room of the strip and timeline.
        let state_h = (nodes + 5).min(area.height / 3).max(4);
        let [state, drill_area] =
            Layout::vertical([Constraint::Length(state_h), Constraint::Fill(1)]).areas(area);
        draw_vrrp(frame, app, state);
        super::drill::draw(frame, panel, theme, drill_area);
        return;
    }
    let state_h = (nodes + 6).min(area.height / 2).max(6);
    let strip_h = (nodes + 3)
        .min(area.height.saturating_sub(state_h) / 2)
        .max(3);
    let [state, strip, timeline] = Layout::vertical([
        Constraint::Length(state_h),
        Constraint::Length(strip_h),
        Constraint::Fill(1),
    ])
    .areas(area);
    draw_vrrp(frame, app, state);
    draw_strip(frame, app, strip);
    draw_timeline(frame, app, timeline);
}

/// Who holds the VIP and each watched node's VRRP row.
fn draw_vrrp(frame: &mut Frame, app: &App, state: Rect) {
    let theme = app.theme();
    let width = state.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let holders = app.vip_holders();
    if holders.is_empty() {
        lines.push(Line::from(Span::styled(
            "no VIP information: no node exposes stats_pxadm_vrrp (pxadm nodes do when they run a VIP)",
            theme.muted(),
        )));
    }
    for (vip, holder) in &holders {
        lines.push(match holder {
            Some(n) => Line::from(vec![
                Span::styled(format!("VIP {vip} "), theme.header()),
                Span::styled(format!("held by {n}"), theme.severity(Severity::Ok)),
            ]),
            None => Line::from(vec![
                Span::styled(format!("VIP {vip} "), theme.header()),
                Span::styled(
                    "held by no node that answers",
                    theme.severity(Severity::Critical),
                ),
            ]),
        });
    }
    lines.push(Line::raw(""));
    let b = theme.base();
    let wide = width >= 100;
    let mut rows: Vec<Vec<GridCell>> = Vec::new();
    for n in app.nodes() {
        let reach = Reach::of(n.snapshot.as_ref());
        let reach_cell = (
            match &reach {
                Reach::Up => "up".to_owned(),
                Reach::Pending => "?".to_owned(),
                Reach::Refused => "refused".to_owned(),
                Reach::Down(c) if wide => format!("down: {c}"),
                Reach::Down(_) => "down".to_owned(),
            },
            theme.severity(reach.severity()),
        );
        match &n.ha {
            HaInfo::Rows(vrrp) if !vrrp.is_empty() => {
                for r in vrrp {
                    let sev = match r.state.as_str() {
                        "MASTER" => Severity::Ok,
                        "BACKUP" => Severity::Ok,
                        _ => Severity::Critical,
                    };
                    let advert = match (&r.last_advert_from, r.last_advert_age_ms) {
                        (Some(from), Some(ms)) => format!("{from}, {ms} ms ago"),
                        (Some(from), None) => from.clone(),
                        _ => "—".into(),
                    };
                    let mut row = vec![(n.name().to_owned(), b), reach_cell.clone()];
                    if wide {
                        row.push((r.instance.clone(), b));
                    }
                    row.extend([
                        (r.state.clone(), theme.severity(sev)),
                        (format!("{}/{}", r.effective_priority, r.priority), b),
                        (r.vip.clone(), b),
                        (
                            if r.vip_held {
                                "● yes".into()
                            } else {
                                "no".into()
                            },
                            if r.vip_held {
                                theme.accent()
                            } else {
                                theme.muted()
                            },
                        ),
                        (
                            r.check_status.clone(),
                            theme.severity(if r.check_status == "BAD" {
                                Severity::Critical
                            } else {
                                Severity::Ok
                            }),
                        ),
                    ]);
                    if wide {
                        row.push((advert, theme.muted()));
                    }
                    rows.push(row);
                }
            }
            other => {
                let text = match other {
                    HaInfo::Unknown if reach == Reach::Up => "not read yet".to_owned(),
                    HaInfo::Unknown => "—".to_owned(),
                    HaInfo::Absent => "no VRRP (no stats_pxadm_vrrp)".to_owned(),
                    HaInfo::Error(e) => format!("unreadable: {e}"),
                    HaInfo::Rows(_) => "no VRRP instance".to_owned(),
                };
                let mut row = vec![(n.name().to_owned(), b), reach_cell, (text, theme.muted())];
                row.resize(if wide { 9 } else { 7 }, (String::new(), b));
                rows.push(row);
            }
        }
    }
    let headers: &[&str] = if wide {
        &[
            "node",
            "reach",
            "instance",
            "state",
            "prio eff/cfg",
            "VIP",
            "holds",
            "check",
            "last advert",
        ]
    } else {
        &["node", "reach", "state", "prio", "VIP", "holds", "check"]
    };
    lines.extend(grid(headers, &rows, width, theme));
    if app.drill().is_none() {
        lines.push(Line::from(Span::styled(
            format!(
                "{} (or :drill) runs a failover drill on VIP nodes of its own, shown here",
                app.keymap().label(Command::Drill)
            ),
            theme.muted(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane("VRRP · stats_pxadm_vrrp", theme)),
        state,
    );
}

/// Availability of each watched node, newest on the right.
fn draw_strip(frame: &mut Frame, app: &App, strip: Rect) {
    let theme = app.theme();
    let b = theme.base();
    let name_w = app
        .nodes()
        .iter()
        .map(|n| n.name().chars().count())
        .max()
        .unwrap_or(4)
        + 1;
    let cells = (strip.width.saturating_sub(2) as usize).saturating_sub(name_w);
    let mut strip_lines = Vec::new();
    for n in app.nodes() {
        let hist: Vec<bool> = n.history.iter().copied().collect();
        let shown = &hist[hist.len().saturating_sub(cells)..];
        let mut spans = vec![Span::styled(format!("{:<name_w$}", n.name()), b)];
        spans.push(Span::raw(" ".repeat(cells - shown.len())));
        for ok in shown {
            spans.push(if *ok {
                Span::styled("█", theme.severity(Severity::Ok))
            } else {
                Span::styled("░", theme.severity(Severity::Critical))
            });
        }
        strip_lines.push(Line::from(spans));
    }
    let title = format!(
        "Availability · a mark per poll ({}), newest right · █ up ░ down",
        crate::console::tui::app::fmt_interval(app.refresh())
    );
    frame.render_widget(Paragraph::new(strip_lines).block(pane(title, theme)), strip);
}

/// Reachability, VIP and action events.
fn draw_timeline(frame: &mut Frame, app: &App, timeline: Rect) {
    let theme = app.theme();
    let w = timeline.width.saturating_sub(2) as usize;
    let mut tl: Vec<Line> = app
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Up | EventKind::Down | EventKind::Vip | EventKind::Action
            )
        })
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{} ", model::clock(e.at, app.tz)), theme.muted()),
                Span::styled(
                    super::common::fit(&e.text, w.saturating_sub(9)),
                    theme.severity(e.kind.severity()),
                ),
            ])
        })
        .collect();
    if tl.is_empty() {
        tl.push(Line::from(Span::styled("nothing yet", theme.muted())));
    }
    let take = timeline.height.saturating_sub(2) as usize;
    let start = tl.len().saturating_sub(take);
    frame.render_widget(
        Paragraph::new(tl.split_off(start))
            .wrap(Wrap { trim: false })
            .block(pane("Timeline · nodes down/up, VIP moves, actions", theme)),
        timeline,
    );
}
