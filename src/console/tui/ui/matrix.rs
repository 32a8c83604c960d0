//! The home view: the checksum matrix (modules × nodes), the diagnosis summary and the
//! selected cell's inspection (full values and how every other node sees it).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::common::{fit, grid, pane, GridCell};
use super::WIDE;
use crate::client::snapshot::NodeSnapshot;
use crate::console::diagnosis::Severity;
use crate::console::matrix::{self, CellState, MatrixCell, Reported};
use crate::console::tui::app::{class_label, App};
use crate::console::tui::keymap::Command;
use crate::console::tui::model::{self, Reach};
use crate::proxysql::cluster::state::Module;

/// Glyph of a module's overall severity.
pub fn severity_glyph(s: Severity) -> char {
    match s {
        Severity::Ok => '✓',
        Severity::Warning => '~',
        Severity::Critical => '✗',
    }
}

/// Draws the home view.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let rows = app.visible_modules().len() as u16;
    let legend = if area.width >= WIDE { 2 } else { 0 };
    let matrix_h = (rows + 3 + legend)
        .max(5)
        .min(area.height.saturating_sub(4).max(5));
    if area.width >= WIDE {
        let [top, rest] =
            Layout::vertical([Constraint::Length(matrix_h), Constraint::Fill(1)]).areas(area);
        let [mx, fx] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(top);
        draw_matrix(frame, app, mx);
        draw_summary(frame, app, fx);
        if rest.height >= 18 {
            let [insp, ev] =
                Layout::vertical([Constraint::Length(rest.height.min(16)), Constraint::Fill(1)])
                    .areas(rest);
            draw_inspection(frame, app, insp);
            let lines = super::events::event_lines(app, ev.width.saturating_sub(2) as usize);
            let take = ev.height.saturating_sub(2) as usize;
            let start = lines.len().saturating_sub(take);
            frame.render_widget(
                Paragraph::new(lines[start..].to_vec()).block(pane("Recent events", app.theme())),
                ev,
            );
        } else {
            draw_inspection(frame, app, rest);
        }
    } else {
        let [mx, rest] =
            Layout::vertical([Constraint::Length(matrix_h), Constraint::Fill(1)]).areas(area);
        draw_matrix(frame, app, mx);
        if app.inspect {
            draw_inspection(frame, app, rest);
        } else {
            draw_summary(frame, app, rest);
        }
    }
}

fn cell_text(
    row: Option<&Reported>,
    state: CellState,
    reach: &Reach,
    now: u64,
    width: usize,
) -> String {
    let g = state.glyph();
    match (row, reach) {
        (_, Reach::Pending) => format!("{g} polling…"),
        (_, Reach::Down(cause)) => format!("{g} {cause}"),
        (_, Reach::Refused) => format!("{g} login refused"),
        (None, Reach::Up) => format!("{g} —"),
        (Some(r), Reach::Up) => {
            // A poll always reads both columns; the defaults never show.
            let (version, epoch) = (r.version.unwrap_or_default(), r.epoch.unwrap_or_default());
            let age = model::age_since(now, epoch);
            if width >= 46 {
                format!("{g} v{version:<3} e{epoch}  {age:>4}  {}", r.checksum)
            } else if width >= 31 {
                format!("{g} v{version:<2} {age:>4}  {}", r.checksum)
            } else if width >= 22 {
                format!(
                    "{g} v{version:<2} {age:>4}  {}",
                    model::short_checksum(&r.checksum, 8)
                )
            } else {
                format!("{g} v{version} {}", model::short_checksum(&r.checksum, 4))
            }
        }
    }
}

/// Narrowest node column worth showing (glyph, version, age and a short checksum).
const MIN_NODE_COLUMN: u16 = 16;

fn draw_matrix(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let modules = app.visible_modules();
    let nodes = app.nodes();
    let sel_row = app.selected_module_index();
    let sel_col = app.selected_node_index();
    let name_w = modules
        .iter()
        .map(|m| m.chars().count())
        .max()
        .unwrap_or(6)
        .max(6) as u16
        + 2;
    let inner = area.width.saturating_sub(2);
    // Only the node columns that fit are laid out (the selected one always among them):
    // a 50-node cluster must not cost a 51-column constraint solve per frame.
    let fits = (inner.saturating_sub(name_w) / (MIN_NODE_COLUMN + 1)).max(1) as usize;
    let shown = nodes.len().clamp(1, fits);
    let first = (sel_col + 1)
        .saturating_sub(shown)
        .min(nodes.len().saturating_sub(shown));
    let window = first..(first + shown).min(nodes.len());
    let nodes = &nodes[window.clone()];
    let sel_col = sel_col.wrapping_sub(first);
    let n = nodes.len().max(1) as u16;
    let col_w = (inner.saturating_sub(name_w + n) / n) as usize;

    let mut header = vec![Cell::from(Span::styled("module", theme.header()))];
    for n in nodes {
        let reach = Reach::of(n.snapshot.as_ref());
        let mut text = format!("{} {}", reach.glyph(), n.name());
        if col_w >= text.chars().count() + n.addr.endpoint().len() + 3 {
            text += &format!("  {}", n.addr.endpoint());
        }
        let style = match reach.severity() {
            Severity::Ok => theme.header(),
            sev => theme.severity(sev),
        };
        header.push(Cell::from(Span::styled(fit(&text, col_w), style)));
    }

    let rows: Vec<Row> = modules
        .iter()
        .enumerate()
        .map(|(ri, name)| {
            let row = app.matrix().row(name);
            let sev = row.map_or(Severity::Ok, |r| r.severity);
            let mut name_style = theme.severity(sev);
            if ri == sel_row {
                name_style = name_style.add_modifier(Modifier::REVERSED);
            }
            let mut cells = vec![Cell::from(Span::styled(
                format!("{} {name}", severity_glyph(sev)),
                name_style,
            ))];
            for (ci, n) in nodes.iter().enumerate() {
                let cell = row.and_then(|r| r.cells.get(first + ci));
                let state = cell.map_or(CellState::Unknown, |c| c.state);
                let reach = Reach::of(n.snapshot.as_ref());
                let reported = cell.and_then(|c| c.reported.as_ref());
                let text = cell_text(reported, state, &reach, app.now, col_w);
                let style = if ri == sel_row && ci == sel_col {
                    theme.selected()
                } else {
                    theme.severity(state.severity())
                };
                cells.push(Cell::from(Span::styled(fit(&text, col_w), style)));
            }
            Row::new(cells)
        })
        .collect();

    let mut widths = vec![Constraint::Length(name_w)];
    widths.extend(nodes.iter().map(|_| Constraint::Fill(1)));
    let km = app.keymap();
    let hint = format!(
        " {} details · {} fix · {} help ",
        km.short(Command::Inspect),
        km.short(Command::ApplyFix),
        km.short(Command::Help)
    );
    let total = app.nodes().len();
    let title = if total > nodes.len() {
        format!(
            "Checksums · runtime_checksums_values · nodes {}–{} of {total} (←/→)",
            window.start + 1,
            window.end
        )
    } else {
        "Checksums · runtime_checksums_values".to_string()
    };
    let block = pane(&title, theme).title_bottom(Line::from(Span::styled(hint, theme.muted())));
    let inner_area = block.inner(area);
    frame.render_widget(block, area);
    let table = if modules.is_empty() {
        Table::new(
            vec![Row::new(vec![Cell::from(Span::styled(
                format!("no module matches '{}'", app.filter),
                theme.muted(),
            ))])],
            [Constraint::Fill(1)],
        )
    } else {
        Table::new(rows, widths).header(Row::new(header))
    };
    // Spare rows below the table hold the legend of the cell glyphs.
    let spare = inner_area.height.saturating_sub(modules.len() as u16 + 1);
    let (table_area, legend_area) = if spare >= 2 {
        let [t, l] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(2)]).areas(inner_area);
        (t, Some(l))
    } else {
        (inner_area, None)
    };
    frame.render_widget(table.column_spacing(1).style(theme.base()), table_area);
    if let Some(l) = legend_area {
        let spans: Vec<Span> = CellState::LEGEND
            .iter()
            .flat_map(|s| {
                [
                    Span::styled(format!("{} ", s.glyph()), theme.severity(s.severity())),
                    Span::styled(format!("{}  ", s.short_label()), theme.muted()),
                ]
            })
            .collect();
        frame.render_widget(
            Paragraph::new(vec![Line::raw(""), Line::from(spans)]).wrap(Wrap { trim: true }),
            l,
        );
    }
}

fn draw_summary(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let km = app.keymap();
    let mut lines: Vec<Line> = Vec::new();
    if app.nodes().iter().all(|n| n.snapshot.is_none()) {
        lines.push(Line::from(Span::styled(
            "Waiting for the first poll…",
            theme.muted(),
        )));
    } else {
        let problems: Vec<_> = app
            .visible_findings()
            .into_iter()
            .filter(|f| f.severity != Severity::Ok)
            .collect();
        if problems.is_empty() {
            lines.push(Line::from(Span::styled(
                "✓ Every module holds the same checksum on every node.",
                theme.severity(Severity::Ok),
            )));
        }
        for f in &problems {
            let what = f.module.map_or("cluster", Module::name);
            let mut spans = vec![
                Span::styled(
                    format!("{} ", severity_glyph(f.severity)),
                    theme.severity(f.severity),
                ),
                Span::styled(format!("{what}: "), theme.severity(f.severity)),
                Span::styled(class_label(&f.class), theme.base()),
            ];
            if f.fix.is_some() && !app.read_only {
                spans.push(Span::styled(
                    format!("  [{}]", km.short(Command::ApplyFix)),
                    theme.accent(),
                ));
            }
            lines.push(Line::from(spans));
        }
        // The why of the selected module's most severe finding (or the first problem).
        let selected = app
            .selected_module()
            .and_then(Module::from_name)
            .and_then(|m| {
                matrix::module_findings(app.findings(), m).find(|f| f.severity != Severity::Ok)
            });
        if let Some(f) = selected.or_else(|| problems.first().copied()) {
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("Why: ", theme.header()),
                Span::styled(f.why.clone(), theme.base()),
            ]));
            if let Some(fix) = &f.fix {
                let action = if app.read_only {
                    "read-only".to_owned()
                } else {
                    format!("press {}", km.short(Command::ApplyFix))
                };
                lines.push(Line::from(vec![
                    Span::styled("Fix: ", theme.header()),
                    Span::styled(
                        format!("{} on {}", fix.sql.join("; "), fix.node),
                        theme.accent(),
                    ),
                    Span::styled(format!(" ({action})"), theme.muted()),
                ]));
            }
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane("Diagnosis", theme))
            .style(theme.base()),
        area,
    );
}

fn draw_inspection(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let width = area.width.saturating_sub(2) as usize;
    let (Some(module), Some(node)) = (app.selected_module(), app.selected_node()) else {
        frame.render_widget(Paragraph::new("").block(pane("Cell", theme)), area);
        return;
    };
    let snap = node.snapshot.as_ref();
    let known = Module::from_name(module);
    let cell: Option<&MatrixCell> = app
        .matrix()
        .row(module)
        .and_then(|r| r.cells.get(app.selected_node_index()));
    let state = cell.map_or(CellState::Unknown, |c| c.state);
    let mut lines: Vec<Line> = Vec::new();
    let mut head = vec![Span::styled(
        format!("{} {}", state.glyph(), state.label()),
        theme.severity(state.severity()),
    )];
    if let Some(f) = known.and_then(|m| matrix::module_findings(app.findings(), m).next()) {
        head.push(Span::styled(
            format!("  ·  {}", class_label(&f.class)),
            theme.muted(),
        ));
    }
    lines.push(Line::from(head));
    match (model::own_row(snap, module), snap.map(|s| &s.result)) {
        (Some(r), _) => {
            let when = model::datetime(r.epoch, app.tz);
            let age = model::age_since(app.now, r.epoch);
            lines.push(Line::from(vec![
                Span::styled("version ", theme.muted()),
                Span::styled(r.version.to_string(), theme.base()),
                Span::styled("  epoch ", theme.muted()),
                Span::styled(format!("{} ({when}, {age} ago)", r.epoch), theme.base()),
            ]));
            lines.push(Line::from(vec![
                Span::styled("checksum ", theme.muted()),
                Span::styled(r.checksum.clone(), theme.accent()),
            ]));
        }
        (None, Some(Err(e))) => lines.push(Line::from(Span::styled(
            format!("{} does not answer: {e}", node.name()),
            theme.severity(Severity::Critical),
        ))),
        (None, None) => lines.push(Line::from(Span::styled("not polled yet", theme.muted()))),
        (None, Some(Ok(_))) => lines.push(Line::from(Span::styled(
            format!("{} does not report {module}", node.name()),
            theme.muted(),
        ))),
    }
    if let Some(f) = known.and_then(|m| {
        matrix::module_findings(app.findings(), m).find(|f| f.severity != Severity::Ok)
    }) {
        lines.push(Line::from(vec![
            Span::styled("why ", theme.muted()),
            Span::styled(f.why.clone(), theme.base()),
        ]));
    }
    lines.push(Line::raw(""));
    if let Some(target) = snap {
        let named: Vec<(String, Option<&NodeSnapshot>)> = app
            .nodes()
            .iter()
            .map(|n| (n.name().to_owned(), n.snapshot.as_ref()))
            .collect();
        lines.push(Line::from(Span::styled(
            format!(
                "How the other nodes see {}'s {module} (their stats_proxysql_servers_checksums):",
                node.name()
            ),
            theme.header(),
        )));
        lines.extend(peer_lines(
            app,
            &model::peer_views(&named, target, module),
            "seen by",
            width,
        ));
        if target.data().is_some() {
            lines.push(Line::raw(""));
            lines.push(Line::from(Span::styled(
                format!("What {} sees of the others' {module}:", node.name()),
                theme.header(),
            )));
            lines.extend(peer_lines(
                app,
                &model::outgoing_views(&named, target, module),
                "peer",
                width,
            ));
        }
    }
    let title = format!("{module} on {}", node.name());
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane(title, theme))
            .style(theme.base()),
        area,
    );
}

fn peer_lines(
    app: &App,
    views: &[model::PeerView],
    first: &'static str,
    width: usize,
) -> Vec<Line<'static>> {
    let theme = app.theme();
    if views.is_empty() {
        return vec![Line::from(Span::styled("  (no other node)", theme.muted()))];
    }
    let wide = width >= 100;
    let mut rows: Vec<Vec<GridCell>> = Vec::new();
    for v in views {
        let mut row: Vec<GridCell> = vec![(v.other.clone(), theme.base())];
        match (&v.row, &v.unreachable) {
            (_, Some(why)) => {
                row.push((
                    format!("cannot tell: {why}"),
                    theme.severity(Severity::Critical),
                ));
                row.resize(if wide { 7 } else { 5 }, (String::new(), theme.base()));
            }
            (None, None) => {
                row.push(("does not monitor it".into(), theme.muted()));
                row.resize(if wide { 7 } else { 5 }, (String::new(), theme.base()));
            }
            (Some(r), None) => {
                let s = &r.state;
                let note = model::diff_check_note(s.diff_check, v.diffs_before_sync, s.version);
                let sev = match note {
                    "same" => Severity::Ok,
                    "counting" | "due" => Severity::Warning,
                    _ => Severity::Critical,
                };
                let stale = app.now.saturating_sub(s.updated_at) > 10;
                row.push((s.version.to_string(), theme.base()));
                if wide {
                    row.push((s.epoch.to_string(), theme.base()));
                    row.push((s.checksum.clone(), theme.base()));
                } else {
                    row.push((model::short_checksum(&s.checksum, 8), theme.base()));
                }
                row.push((
                    format!("{}/{} {note}", s.diff_check, v.diffs_before_sync),
                    theme.severity(sev),
                ));
                if wide {
                    row.push((model::age_since(app.now, s.changed_at), theme.muted()));
                }
                row.push((
                    format!("{} ago", model::age_since(app.now, s.updated_at)),
                    if stale {
                        theme.severity(Severity::Critical)
                    } else {
                        theme.muted()
                    },
                ));
            }
        }
        rows.push(row);
    }
    let headers: Vec<&str> = if wide {
        vec![
            first,
            "version",
            "epoch",
            "checksum",
            "diff_check/D",
            "changed",
            "updated",
        ]
    } else {
        vec![first, "ver", "checksum", "diff_check/D", "updated"]
    };
    grid(&headers, &rows, width.saturating_sub(2), theme)
        .into_iter()
        .map(|mut l| {
            l.spans.insert(0, Span::raw("  "));
            l
        })
        .collect()
}
