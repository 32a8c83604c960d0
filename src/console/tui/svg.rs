//! Renders a ratatui [`Buffer`] to SVG, so README screenshots come from real rendered states
//! (the same buffers the snapshot tests check), not hand-drawn pictures.
//!
//! Each row becomes background rectangles (runs of equal colour) and text runs (equal
//! foreground and weight) whose width is pinned with `textLength`, so box-drawing characters
//! line up in any monospace font.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const FONT_SIZE: f32 = 14.0;

/// Colours used for `Color::Reset` and the 16 named colours (xterm defaults).
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Default background.
    pub background: (u8, u8, u8),
    /// Default foreground.
    pub foreground: (u8, u8, u8),
}

impl Default for Palette {
    fn default() -> Self {
        Palette {
            background: (0x1e, 0x1e, 0x2e),
            foreground: (0xd0, 0xd0, 0xd0),
        }
    }
}

fn named(c: Color) -> Option<(u8, u8, u8)> {
    Some(match c {
        Color::Black => (0, 0, 0),
        Color::Red => (205, 49, 49),
        Color::Green => (13, 188, 121),
        Color::Yellow => (229, 229, 16),
        Color::Blue => (36, 114, 200),
        Color::Magenta => (188, 63, 188),
        Color::Cyan => (17, 168, 205),
        Color::Gray => (204, 204, 204),
        Color::DarkGray => (118, 118, 118),
        Color::LightRed => (241, 76, 76),
        Color::LightGreen => (35, 209, 139),
        Color::LightYellow => (245, 245, 67),
        Color::LightBlue => (59, 142, 234),
        Color::LightMagenta => (214, 112, 214),
        Color::LightCyan => (41, 184, 219),
        Color::White => (229, 229, 229),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => indexed(i),
        Color::Reset => return None,
    })
}

/// The xterm 256-colour cube and grey ramp.
fn indexed(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => {
            const BASE: [Color; 16] = [
                Color::Black,
                Color::Red,
                Color::Green,
                Color::Yellow,
                Color::Blue,
                Color::Magenta,
                Color::Cyan,
                Color::Gray,
                Color::DarkGray,
                Color::LightRed,
                Color::LightGreen,
                Color::LightYellow,
                Color::LightBlue,
                Color::LightMagenta,
                Color::LightCyan,
                Color::White,
            ];
            named(BASE[i as usize]).unwrap_or((0, 0, 0))
        }
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `buf` as a standalone SVG document.
pub fn buffer_to_svg(buf: &Buffer, palette: Palette) -> String {
    let area = buf.area;
    let (w, h) = (area.width as usize, area.height as usize);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" viewBox="0 0 {:.1} {:.1}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_SIZE}">"#,
        w as f32 * CELL_W,
        h as f32 * CELL_H,
        w as f32 * CELL_W,
        h as f32 * CELL_H
    );
    let _ = write!(
        out,
        r#"<rect width="100%" height="100%" fill="{}"/>"#,
        hex(palette.background)
    );
    for y in 0..h {
        let cell = |x: usize| &buf[(area.x + x as u16, area.y + y as u16)];
        let bg_of = |x: usize| {
            let c = cell(x);
            named(if c.modifier.contains(Modifier::REVERSED) {
                c.fg
            } else {
                c.bg
            })
        };
        // Background runs.
        let mut x = 0;
        while x < w {
            let bg = bg_of(x);
            let start = x;
            while x < w && bg_of(x) == bg {
                x += 1;
            }
            if let Some(bg) = bg {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{CELL_H}" fill="{}"/>"#,
                    start as f32 * CELL_W,
                    y as f32 * CELL_H,
                    (x - start) as f32 * CELL_W,
                    hex(bg)
                );
            }
        }
        // Text runs.
        let fg_of = |x: usize| {
            let c = cell(x);
            let fg = if c.modifier.contains(Modifier::REVERSED) {
                c.bg
            } else {
                c.fg
            };
            let fg = named(fg).unwrap_or(if c.modifier.contains(Modifier::REVERSED) {
                palette.background
            } else {
                palette.foreground
            });
            (fg, c.modifier.contains(Modifier::BOLD))
        };
        let mut x = 0;
        while x < w {
            let style = fg_of(x);
            let start = x;
            let mut text = String::new();
            while x < w && fg_of(x) == style {
                let sym = cell(x).symbol();
                text.push_str(if sym.is_empty() { " " } else { sym });
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" fill="{}"{} textLength="{:.1}" lengthAdjust="spacingAndGlyphs" xml:space="preserve">{}</text>"#,
                start as f32 * CELL_W,
                y as f32 * CELL_H + FONT_SIZE,
                hex(style.0),
                if style.1 {
                    r#" font-weight="bold""#
                } else {
                    ""
                },
                (x - start) as f32 * CELL_W,
                escape(&text)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn renders_text_colours_and_escapes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 2));
        buf.set_string(
            0,
            0,
            "a<b & c",
            Style::default().fg(Color::Red).bg(Color::Blue),
        );
        buf.set_string(0, 1, "ok", Style::default().add_modifier(Modifier::BOLD));
        let svg = buffer_to_svg(&buf, Palette::default());
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("a&lt;b &amp; c"), "{svg}");
        assert!(svg.contains(r##"fill="#cd3131""##), "red text");
        assert!(svg.contains(r##"fill="#2472c8""##), "blue background");
        assert!(svg.contains(r#"font-weight="bold""#));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn indexed_colours_follow_xterm() {
        assert_eq!(indexed(16), (0, 0, 0));
        assert_eq!(indexed(231), (255, 255, 255));
        assert_eq!(indexed(232), (8, 8, 8));
    }
}
