//! The failover drill panel of the HA view: the drill nodes' VRRP state, a strip of every
//! INSERT through the VIP, the outage window, the timeline, and the report's figures.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::common::{fit, grid, pane, GridCell};
use crate::console::diagnosis::Severity;
use crate::console::drill::{secs, DrillReport};
use crate::console::tui::drill::DrillPanel;
use crate::console::tui::theme::Theme;

/// Draws `panel` into `area`.
pub fn draw(frame: &mut Frame, panel: &DrillPanel, theme: &Theme, area: Rect) {
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let b = theme.base();
    let mut lines: Vec<Line> = Vec::new();

    // The drill's nodes.
    let rows: Vec<Vec<GridCell>> = panel
        .nodes
        .iter()
        .map(|n| {
            let sev = match n.state.as_str() {
                "MASTER" | "BACKUP" | "started" => Severity::Ok,
                "?" | "INIT" => Severity::Warning,
                _ => Severity::Critical,
            };
            vec![
                (n.name.clone(), b),
                (n.state.clone(), theme.severity(sev)),
                (format!("{}/{}", n.effective_priority, n.priority), b),
                if n.vip_held {
                    ("● holds the VIP".to_owned(), theme.accent())
                } else {
                    (String::new(), b)
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        lines.push(Line::from(Span::styled(
            "starting the drill nodes…",
            theme.muted(),
        )));
    } else {
        lines.extend(grid(
            &["drill node", "state", "prio", "VIP"],
            &rows,
            width,
            theme,
        ));
    }

    // Every INSERT, newest right.
    let label = "writes ";
    let cells = width.saturating_sub(label.len());
    let shown: Vec<bool> = panel
        .writes
        .iter()
        .skip(panel.writes.len().saturating_sub(cells))
        .copied()
        .collect();
    let mut strip = vec![Span::styled(label, theme.header())];
    strip.extend(shown.iter().map(|ok| {
        if *ok {
            Span::styled("█", theme.severity(Severity::Ok))
        } else {
            Span::styled("░", theme.severity(Severity::Critical))
        }
    }));
    lines.push(Line::from(strip));
    lines.push(status_line(panel, theme, width));

    // The report's figures once it is in.
    match &panel.outcome {
        Some(Ok(report)) => lines.extend(report_lines(report, theme, width)),
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            fit(e.lines().next().unwrap_or(e), width),
            theme.severity(Severity::Critical),
        ))),
        None => {}
    }

    // The timeline fills what is left, newest last.
    let room = height.saturating_sub(lines.len());
    if room >= 2 {
        lines.push(Line::raw(""));
        let skip = panel.milestones.len().saturating_sub(room - 1);
        for m in panel.milestones.iter().skip(skip) {
            let at = format!("{:>10} ", format!("+{}", secs(m.at_ms)));
            let text = fit(&m.text, width.saturating_sub(at.chars().count()));
            lines.push(Line::from(vec![
                Span::styled(at, theme.muted()),
                Span::styled(text, theme.severity(m.severity)),
            ]));
        }
    }

    let state = if panel.running() {
        format!("running {}", secs(panel.elapsed_ms))
    } else {
        "finished".to_owned()
    };
    let title = format!(
        "Failover drill · {} timing · {} the holder · {state}",
        panel.request.profile_name(),
        panel.request.fault_name()
    );
    frame.render_widget(Paragraph::new(lines).block(pane(title, theme)), area);
}

/// Counts and the outage as it stands.
fn status_line<'a>(panel: &DrillPanel, theme: &Theme, width: usize) -> Line<'a> {
    let mut spans = vec![
        Span::styled(format!("{} acknowledged", panel.acknowledged), theme.base()),
        Span::styled(" · ", theme.muted()),
        Span::styled(
            format!("{} failed", panel.failed),
            if panel.failed > 0 {
                theme.severity(Severity::Warning)
            } else {
                theme.base()
            },
        ),
        Span::styled(" · ", theme.muted()),
    ];
    let (text, sev) = match (panel.fault_at_ms, panel.resumed, panel.in_outage()) {
        (None, _, _) => ("writing through the VIP".to_owned(), Severity::Ok),
        (Some(f), _, true) => (
            format!(
                "OUTAGE: writes failing for {}",
                secs(panel.elapsed_ms.saturating_sub(f))
            ),
            Severity::Critical,
        ),
        (Some(f), Some((at, _)), false) => (
            format!(
                "writes resumed {} after the fault",
                secs(at.saturating_sub(f))
            ),
            Severity::Ok,
        ),
        (Some(_), None, false) => ("fault injected".to_owned(), Severity::Warning),
    };
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(Span::styled(
        fit(&text, width.saturating_sub(used)),
        theme.severity(sev),
    ));
    Line::from(spans)
}

/// The report's figures: detection, takeover, outage, and the durability proof.
fn report_lines<'a>(r: &DrillReport, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let opt = |v: Option<u64>| v.map(secs).unwrap_or_else(|| "-".into());
    let mut out = vec![Line::from(Span::styled(
        fit(
            &format!(
                "detection {} · takeover {} (RFC 5798 model: at most {})",
                opt(r.detection_ms),
                opt(r.takeover_ms),
                secs(r.model_takeover_max_ms)
            ),
            width,
        ),
        theme.base(),
    ))];
    if let Some(o) = &r.outage {
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    "outage {} ({} → {}), {} INSERTs failed",
                    secs(o.window_ms),
                    o.last_success_before,
                    o.first_success_after,
                    o.failed_attempts
                ),
                width,
            ),
            theme.base(),
        )));
    }
    let proof = &r.proof;
    let (text, sev) = if proof.holds {
        (
            format!(
                "✓ {} of {} acknowledged INSERTs on the primary: none lost",
                proof.found, proof.acknowledged
            ),
            Severity::Ok,
        )
    } else {
        (
            format!(
                "✗ {} acknowledged INSERTs missing on the primary",
                proof.missing.len()
            ),
            Severity::Critical,
        )
    };
    out.push(Line::from(Span::styled(
        fit(&text, width),
        theme.severity(sev),
    )));
    out
}
