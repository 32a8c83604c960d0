//! Windows over the views: help, confirmation, the palette/filter line and job results.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::common::{fit, pane};
use crate::console::diagnosis::Severity;
use crate::console::matrix::CellState;
use crate::console::tui::app::{App, InputKind, Overlay, PaneLine};
use crate::console::tui::keymap::Command;
use crate::console::tui::palette;

/// Draws the open overlay, if any, over `body` (the input line sits on `footer`).
pub fn draw(frame: &mut Frame, app: &App, body: Rect, footer: Rect) {
    match app.overlay() {
        None => {}
        Some(Overlay::Help { scroll }) => {
            let lines = help_lines(app);
            let area = body.centered(Constraint::Percentage(90), Constraint::Percentage(100));
            scrolled_box(frame, app, "Help · Esc closes", lines, *scroll, area);
        }
        Some(Overlay::Result {
            title,
            lines,
            scroll,
        }) => {
            let theme = app.theme();
            let mut body_lines: Vec<Line> = lines.iter().map(|l| pane_line(app, l)).collect();
            body_lines.push(Line::raw(""));
            body_lines.push(Line::from(Span::styled("Esc closes", theme.muted())));
            // Sized to what it says (a one-line "done" is a small box that hides little of the
            // cluster converging behind it), at most 80 % × 70 % of the screen.
            let max_w = (body.width * 4 / 5).max(10);
            let max_h = (body.height * 7 / 10).max(3);
            let content_w = body_lines
                .iter()
                .map(Line::width)
                .max()
                .unwrap_or(0)
                .max(title.chars().count() + 14);
            let width = (u16::try_from(content_w)
                .unwrap_or(u16::MAX)
                .saturating_add(4))
            .clamp(max_w.min(40), max_w);
            let height = (u16::try_from(body_lines.len())
                .unwrap_or(u16::MAX)
                .saturating_add(2))
            .clamp(3, max_h);
            let area = body.centered(Constraint::Length(width), Constraint::Length(height));
            scrolled_box(frame, app, title, body_lines, *scroll, area);
        }
        Some(Overlay::Confirm(c)) => {
            let theme = app.theme();
            let lines: Vec<Line> = c
                .lines
                .iter()
                .map(|l| {
                    let style = if l.starts_with("  ") {
                        theme.accent()
                    } else {
                        theme.base()
                    };
                    Line::from(Span::styled(l.clone(), style))
                })
                .collect();
            let prompt = Line::from(vec![
                Span::styled(" y ", theme.selected()),
                Span::styled(" yes, do it    ", theme.base()),
                Span::styled(" n ", theme.selected()),
                Span::styled(" no (Esc)", theme.base()),
            ]);
            let width = (lines.iter().map(Line::width).max().unwrap_or(20) as u16 + 4)
                .clamp(40, body.width.saturating_sub(2).max(10));
            // Long lines wrap: count the rows they take, so the question keeps its answer
            // line on small terminals (+1 row of slack for word breaks).
            let inner = usize::from(width.saturating_sub(2)).max(1);
            let text_rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
            let wraps = lines.iter().any(|l| l.width() > inner);
            let height = (text_rows as u16 + u16::from(wraps) + 4).min(body.height);
            let area = body.centered(Constraint::Length(width), Constraint::Length(height));
            frame.render_widget(Clear, area);
            let block =
                pane(c.title.clone(), theme).border_style(theme.severity(Severity::Warning));
            let inside = block.inner(area);
            frame.render_widget(block, area);
            // The answer line is pinned to the bottom; the question gets the rest.
            let [question, _, answer] = Layout::vertical([
                Constraint::Fill(1),
                Constraint::Length(1),
                Constraint::Length(1),
            ])
            .areas(inside);
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), question);
            frame.render_widget(Paragraph::new(prompt), answer);
        }
        Some(Overlay::Input { kind, editor, .. }) => {
            let theme = app.theme();
            let prompt = match kind {
                InputKind::Palette => ":",
                InputKind::Filter => "/",
            };
            let room = (footer.width as usize).saturating_sub(prompt.len() + 1);
            let (shown, cursor) = editor.window(room);
            frame.render_widget(Clear, footer);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(prompt, theme.accent().add_modifier(Modifier::BOLD)),
                    Span::styled(shown, theme.base()),
                ]))
                .style(theme.base()),
                footer,
            );
            frame.set_cursor_position((footer.x + prompt.len() as u16 + cursor as u16, footer.y));
            if *kind == InputKind::Palette {
                let hints = palette::completions(editor.text());
                if !hints.is_empty() && body.height > 4 {
                    let h = (hints.len() as u16 + 2).min(body.height / 2);
                    let area = Rect {
                        x: body.x,
                        y: body.y + body.height - h,
                        width: body.width.min(80),
                        height: h,
                    };
                    let w = area.width.saturating_sub(2) as usize;
                    let lines: Vec<Line> = hints
                        .iter()
                        .map(|(usage, desc)| {
                            Line::from(vec![
                                Span::styled(format!("{usage:<38}"), theme.accent()),
                                Span::styled(fit(desc, w.saturating_sub(38)), theme.muted()),
                            ])
                        })
                        .collect();
                    frame.render_widget(Clear, area);
                    frame.render_widget(
                        Paragraph::new(lines).block(pane("Commands · Tab completes", theme)),
                        area,
                    );
                }
            }
        }
    }
}

fn pane_line(app: &App, l: &PaneLine) -> Line<'static> {
    let theme = app.theme();
    let style = l.severity.map_or(theme.base(), |s| theme.severity(s));
    Line::from(Span::styled(l.text.clone(), style))
}

fn scrolled_box(
    frame: &mut Frame,
    app: &App,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: usize,
    area: Rect,
) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let start = scroll.min(lines.len().saturating_sub(inner_h));
    let mut title = title.to_owned();
    if lines.len() > inner_h {
        title += &format!(
            " · ↑↓ {}/{}",
            start + 1,
            lines.len().saturating_sub(inner_h) + 1
        );
    }
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines[start..].to_vec()).block(pane(title, app.theme())),
        area,
    );
}

/// The help text, generated from the key map.
pub fn help_lines(app: &App) -> Vec<Line<'static>> {
    let theme = app.theme();
    let km = app.keymap();
    let mut lines = vec![Line::from(Span::styled(
        "Keys (remap them under [keys] in the config)",
        theme.header(),
    ))];
    let key_w = km
        .help_rows()
        .iter()
        .map(|(k, _, _)| k.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    for c in Command::ALL {
        let keys = km.label(c);
        let mut spans = vec![
            Span::styled(format!("  {keys:<key_w$}  "), theme.accent()),
            Span::styled(c.description().to_owned(), theme.base()),
            Span::styled(format!("  ({})", c.name()), theme.muted()),
        ];
        if c.is_action() && app.read_only {
            spans.push(Span::styled(
                "  disabled: read-only",
                theme.severity(Severity::Warning),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!("Command palette ({})", km.short(Command::Palette)),
        theme.header(),
    )));
    for (usage, desc) in palette::COMMANDS.iter().filter(|(u, _)| *u != "q") {
        lines.push(Line::from(vec![
            Span::styled(format!("  {usage:<38}"), theme.accent()),
            Span::styled((*desc).to_owned(), theme.base()),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Matrix cells", theme.header())));
    for s in CellState::LEGEND.iter().chain(&[
        CellState::Unreachable,
        CellState::Diverged,
        CellState::RuntimeOnly,
        CellState::Unknown,
    ]) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}  ", s.glyph()), theme.severity(s.severity())),
            Span::styled(s.label().to_owned(), theme.base()),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "  cell: version, age of the epoch, checksum (wider columns show the epoch and the full checksum)",
        theme.muted(),
    )));
    lines
}
