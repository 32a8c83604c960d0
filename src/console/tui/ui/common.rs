//! Small rendering helpers shared by the views.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use crate::console::tui::theme::Theme;

/// A bordered pane with a title.
pub fn pane<'a>(title: impl Into<String>, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border())
        .style(theme.base())
        .title(Span::styled(format!(" {} ", title.into()), theme.title()))
}

/// Cuts `text` to `width` chars, marking the cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        text.to_owned()
    } else if width == 0 {
        String::new()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

/// Pads or cuts `text` to exactly `width` chars.
pub fn pad(text: &str, width: usize) -> String {
    let s = fit(text, width);
    let n = s.chars().count();
    s + &" ".repeat(width.saturating_sub(n))
}

/// One cell of a [`grid`]: text and style.
pub type GridCell = (String, Style);

/// An aligned text table as lines: column widths fit the content, and when the table is
/// wider than `width` the widest columns give way first (cut with `…`).
pub fn grid(
    headers: &[&str],
    rows: &[Vec<GridCell>],
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, (text, _)) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(text.chars().count());
        }
    }
    let gap = 2;
    let total = |w: &[usize]| w.iter().sum::<usize>() + gap * w.len().saturating_sub(1);
    while total(&widths) > width {
        let (i, w) = widths
            .iter()
            .copied()
            .enumerate()
            .max_by_key(|(i, w)| (*w, *i))
            .unwrap_or((0, 0));
        if w <= 4 {
            break;
        }
        widths[i] -= 1;
    }
    let render = |cells: Vec<GridCell>| -> Line<'static> {
        let mut spans = Vec::with_capacity(cols * 2);
        for (i, (text, style)) in cells.into_iter().enumerate().take(cols) {
            if i > 0 {
                spans.push(Span::raw(" ".repeat(gap)));
            }
            let last = i + 1 == cols;
            let shown = if last {
                fit(&text, widths[i])
            } else {
                pad(&text, widths[i])
            };
            spans.push(Span::styled(shown, style));
        }
        Line::from(spans)
    };
    let mut out = Vec::with_capacity(rows.len() + 1);
    out.push(render(
        headers
            .iter()
            .map(|h| ((*h).to_owned(), theme.header()))
            .collect(),
    ));
    for row in rows {
        out.push(render(row.clone()));
    }
    out
}

/// A section heading line.
pub fn heading(text: &str, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(text.to_owned(), theme.title()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_and_pad() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab");
        assert_eq!(fit("ab", 0), "");
        assert_eq!(pad("ab", 4), "ab  ");
    }

    #[test]
    fn grid_shrinks_the_widest_column() {
        let t = Theme::default_theme();
        let s = t.base();
        let rows = vec![vec![
            ("a".to_owned(), s),
            ("a very long value here".to_owned(), s),
        ]];
        let lines = grid(&["h1", "h2"], &rows, 14, &t);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["h1  h2", "a   a very lo…"]);
        let lines = grid(&["h1", "h2"], &rows, 80, &t);
        assert_eq!(lines[1].to_string(), "a   a very long value here");
    }
}
