//! Colour themes: three built in (`dark`, `light`, `high-contrast`) plus the user's own
//! `*.toml` files from a folder.
//!
//! A theme file has optional `name` and `description` strings and a `[colors]` table. A user
//! theme is known by its file name (`themes/mine.toml` is `theme = "mine"`, whatever `name`
//! says inside, so a copy of `dark.toml` is a new theme; `light.toml` replaces the built-in
//! `light`). A user theme may set only some colours: the rest come from `dark`. Anything unknown or malformed is
//! an error that names the file and the key, because a silently ignored typo would leave the
//! operator guessing why a colour did not change.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

use crate::console::diagnosis::Severity;

/// Built-in themes: (name, TOML text). The first is the default.
const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
];

/// The name of the default theme.
pub const DEFAULT_THEME: &str = "dark";

/// Every colour a theme sets, by its key under `[colors]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Background of every pane (`reset` = the terminal's own).
    pub background: Color,
    /// Ordinary text.
    pub text: Color,
    /// Secondary text: ages, hints, unknown states.
    pub muted: Color,
    /// Pane borders.
    pub border: Color,
    /// Pane titles and the title bar.
    pub title: Color,
    /// Table headers.
    pub header: Color,
    /// Highlights: the active tab, keys in hints, the node to act on.
    pub accent: Color,
    /// Text of the selected row or cell.
    pub selection_fg: Color,
    /// Background of the selected row or cell.
    pub selection_bg: Color,
    /// In sync, reachable, nothing to do.
    pub ok: Color,
    /// Converging, waiting or deliberate: watch it.
    pub warning: Color,
    /// Stuck, unreachable, refused: act.
    pub critical: Color,
    /// Informational events.
    pub info: Color,
}

/// The `[colors]` keys, in file order.
const COLOR_KEYS: [&str; 13] = [
    "background",
    "text",
    "muted",
    "border",
    "title",
    "header",
    "accent",
    "selection_fg",
    "selection_bg",
    "ok",
    "warning",
    "critical",
    "info",
];

impl Palette {
    fn slot(&mut self, key: &str) -> Option<&mut Color> {
        Some(match key {
            "background" => &mut self.background,
            "text" => &mut self.text,
            "muted" => &mut self.muted,
            "border" => &mut self.border,
            "title" => &mut self.title,
            "header" => &mut self.header,
            "accent" => &mut self.accent,
            "selection_fg" => &mut self.selection_fg,
            "selection_bg" => &mut self.selection_bg,
            "ok" => &mut self.ok,
            "warning" => &mut self.warning,
            "critical" => &mut self.critical,
            "info" => &mut self.info,
            _ => return None,
        })
    }
}

impl Default for Palette {
    /// Terminal defaults; only a starting point for parsing.
    fn default() -> Self {
        Self {
            background: Color::Reset,
            text: Color::Reset,
            muted: Color::DarkGray,
            border: Color::Gray,
            title: Color::Cyan,
            header: Color::Blue,
            accent: Color::Cyan,
            selection_fg: Color::Black,
            selection_bg: Color::Cyan,
            ok: Color::Green,
            warning: Color::Yellow,
            critical: Color::Red,
            info: Color::Blue,
        }
    }
}

/// A named palette with the styles the views use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Name shown in the title bar and used by `:theme`.
    pub name: String,
    /// One line for the theme list.
    pub description: String,
    /// The colours.
    pub colors: Palette,
}

/// Why a theme could not be loaded: the file (or built-in name), the key when one is to
/// blame, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    /// File path, or `built-in <name>`.
    pub source: String,
    /// Dotted key such as `colors.ok`, when the problem is one key.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "theme {}: key `{key}`: {}", self.source, self.message),
            None => write!(f, "theme {}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ThemeError {}

impl Theme {
    /// The default theme.
    pub fn default_theme() -> Theme {
        Theme::builtin(DEFAULT_THEME).unwrap_or_else(|| Theme {
            name: DEFAULT_THEME.into(),
            description: String::new(),
            colors: Palette::default(),
        })
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        // Built-ins are checked by a unit test, so this cannot fail in a release.
        Theme::parse(n, text, &format!("built-in {n}"), None).ok()
    }

    /// Parses a theme file's text. `fallback` fills colours the file leaves out; without one
    /// every colour is required. `default_name` is used when the file has no `name`.
    pub fn parse(
        default_name: &str,
        text: &str,
        source: &str,
        fallback: Option<&Palette>,
    ) -> Result<Theme, ThemeError> {
        let err = |key: Option<&str>, message: String| ThemeError {
            source: source.to_owned(),
            key: key.map(str::to_owned),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            // toml's message already holds the line and column.
            err(None, e.message().to_owned() + &line_of(text, e.span()))
        })?;
        let mut name = default_name.to_owned();
        let mut description = String::new();
        let mut colors = fallback.copied().unwrap_or_default();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in &table {
            match (key.as_str(), value) {
                ("name", toml::Value::String(s)) if !s.trim().is_empty() => name = s.clone(),
                ("description", toml::Value::String(s)) => description = s.clone(),
                ("name" | "description", _) => {
                    return Err(err(Some(key), "expected a non-empty string".into()))
                }
                ("colors", toml::Value::Table(t)) => {
                    for (ck, cv) in t {
                        let dotted = format!("colors.{ck}");
                        let slot = colors.slot(ck).ok_or_else(|| {
                            err(
                                Some(&dotted),
                                format!("unknown colour key (known: {})", COLOR_KEYS.join(", ")),
                            )
                        })?;
                        let toml::Value::String(s) = cv else {
                            return Err(err(
                                Some(&dotted),
                                "expected a string such as \"light-red\" or \"#d55e00\"".into(),
                            ));
                        };
                        *slot = Color::from_str(s.trim()).map_err(|_| {
                            err(
                                Some(&dotted),
                                format!("'{s}' is not a colour (use a name such as light-red, an index 0-255 or #rrggbb)"),
                            )
                        })?;
                        if let Some(k) = COLOR_KEYS.iter().find(|k| **k == ck.as_str()) {
                            seen.push(k);
                        }
                    }
                }
                ("colors", _) => return Err(err(Some("colors"), "expected a table".into())),
                _ => {
                    return Err(err(
                        Some(key),
                        "unknown key (a theme has name, description and [colors])".into(),
                    ))
                }
            }
        }
        if fallback.is_none() {
            if let Some(missing) = COLOR_KEYS.iter().find(|k| !seen.contains(k)) {
                return Err(err(Some(&format!("colors.{missing}")), "missing".into()));
            }
        }
        Ok(Theme {
            name,
            description,
            colors,
        })
    }

    /// Reads a user theme file, filling missing colours from the default theme.
    pub fn from_file(path: &Path) -> Result<Theme, ThemeError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ThemeError {
            source: source.clone(),
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "custom".into());
        Theme::parse(&stem, &text, &source, Some(&Theme::default_theme().colors))
    }

    /// Base style: text on the background.
    pub fn base(&self) -> Style {
        Style::new().fg(self.colors.text).bg(self.colors.background)
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        self.base().fg(self.colors.muted)
    }

    /// Pane borders.
    pub fn border(&self) -> Style {
        self.base().fg(self.colors.border)
    }

    /// Pane titles.
    pub fn title(&self) -> Style {
        self.base()
            .fg(self.colors.title)
            .add_modifier(Modifier::BOLD)
    }

    /// Table headers.
    pub fn header(&self) -> Style {
        self.base()
            .fg(self.colors.header)
            .add_modifier(Modifier::BOLD)
    }

    /// Highlights.
    pub fn accent(&self) -> Style {
        self.base().fg(self.colors.accent)
    }

    /// The selected row or cell.
    pub fn selected(&self) -> Style {
        Style::new()
            .fg(self.colors.selection_fg)
            .bg(self.colors.selection_bg)
            .add_modifier(Modifier::BOLD)
    }

    /// Text coloured by severity.
    pub fn severity(&self, severity: Severity) -> Style {
        let fg = match severity {
            Severity::Ok => self.colors.ok,
            Severity::Warning => self.colors.warning,
            Severity::Critical => self.colors.critical,
        };
        let style = self.base().fg(fg);
        if severity == Severity::Critical {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// Informational text.
    pub fn info(&self) -> Style {
        self.base().fg(self.colors.info)
    }
}

/// Excerpt `" (line N)"` for a TOML error span.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) if r.start <= text.len() => {
            format!(" (line {})", text[..r.start].matches('\n').count() + 1)
        }
        _ => String::new(),
    }
}

/// Every theme the console can switch to: the built-ins, then the user's, by name.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: Vec<Theme>,
}

impl Default for ThemeSet {
    fn default() -> Self {
        Self::builtin()
    }
}

impl ThemeSet {
    /// Only the built-in themes.
    pub fn builtin() -> ThemeSet {
        ThemeSet {
            themes: BUILTIN
                .iter()
                .filter_map(|(n, _)| Theme::builtin(n))
                .collect(),
        }
    }

    /// The built-ins plus every `*.toml` in `user_dir` (a missing folder is fine); a user theme
    /// with a built-in's name replaces it. Blocking: call it off the async runtime.
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ThemeError> {
        let mut set = ThemeSet::builtin();
        let Some(dir) = user_dir else {
            return Ok(set);
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(e) => {
                return Err(ThemeError {
                    source: dir.display().to_string(),
                    key: None,
                    message: format!("cannot list the theme folder: {e}"),
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let mut theme = Theme::from_file(&path)?;
            // The file name is what the operator types in `theme = "..."`.
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                theme.name = stem.to_owned();
            }
            set.insert(theme);
        }
        Ok(set)
    }

    /// Adds a theme, replacing one of the same name.
    pub fn insert(&mut self, theme: Theme) {
        match self.themes.iter_mut().find(|t| t.name == theme.name) {
            Some(slot) => *slot = theme,
            None => self.themes.push(theme),
        }
    }

    /// A theme by name.
    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name == name)
    }

    /// Theme names, in cycling order.
    pub fn names(&self) -> Vec<&str> {
        self.themes.iter().map(|t| t.name.as_str()).collect()
    }

    /// The theme after `name` in cycling order (wrapping).
    pub fn next_after(&self, name: &str) -> Option<&Theme> {
        let i = self.themes.iter().position(|t| t.name == name);
        let next = i.map_or(0, |i| (i + 1) % self.themes.len().max(1));
        self.themes.get(next)
    }

    /// Resolves the configured theme: a path to a file (contains `/` or ends in `.toml`),
    /// else a name in this set. Blocking for a path.
    pub fn resolve(&mut self, wanted: &str) -> Result<Theme, ThemeError> {
        if wanted.contains('/') || wanted.ends_with(".toml") {
            let theme = Theme::from_file(Path::new(wanted))?;
            self.insert(theme.clone());
            return Ok(theme);
        }
        self.get(wanted).cloned().ok_or_else(|| ThemeError {
            source: wanted.to_owned(),
            key: None,
            message: format!("no such theme (available: {})", self.names().join(", ")),
        })
    }
}

/// The user's theme folder: `$XDG_CONFIG_HOME/pxadm/themes`, else `~/.config/pxadm/themes`.
pub fn user_theme_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("pxadm").join("themes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_complete_and_distinct() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(name, text, name, None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.name, name);
            assert!(!t.description.is_empty());
            let c = t.colors;
            assert!(c.ok != c.warning && c.warning != c.critical && c.ok != c.critical);
            assert_ne!(c.selection_fg, c.selection_bg);
        }
        assert_eq!(
            ThemeSet::builtin().names(),
            ["dark", "light", "high-contrast"]
        );
        assert_eq!(Theme::default_theme().name, "dark");
    }

    #[test]
    fn high_contrast_uses_the_okabe_ito_state_colours() {
        let c = Theme::builtin("high-contrast").unwrap().colors;
        assert_eq!(c.ok, Color::Rgb(0x56, 0xb4, 0xe9));
        assert_eq!(c.warning, Color::Rgb(0xf0, 0xe4, 0x42));
        assert_eq!(c.critical, Color::Rgb(0xd5, 0x5e, 0x00));
    }

    #[test]
    fn errors_name_the_bad_key() {
        let fb = Theme::default_theme().colors;
        let e = Theme::parse("x", "[colors]\nok = \"gren\"\n", "my.toml", Some(&fb)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colors.ok"));
        assert!(
            e.to_string()
                .starts_with("theme my.toml: key `colors.ok`: 'gren' is not a colour"),
            "{e}"
        );

        let e = Theme::parse("x", "[colors]\nokk = \"red\"\n", "my.toml", Some(&fb)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colors.okk"));

        let e = Theme::parse("x", "colour = 1\n", "my.toml", Some(&fb)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colour"));

        let e = Theme::parse("x", "[colors]\nok = 3\n", "my.toml", Some(&fb)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colors.ok"));

        let e = Theme::parse("x", "name = \"\"\n", "my.toml", Some(&fb)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("name"));

        let e = Theme::parse("x", "[colors]\nok = \"red\"\n", "b", None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colors.background"), "{e}");
        assert_eq!(e.message, "missing");
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let e =
            Theme::parse("x", "[colors]\nok = \"red\"\nwarning = \n", "t.toml", None).unwrap_err();
        assert_eq!(e.key, None);
        assert!(e.to_string().contains("(line 3)"), "{e}");
    }

    #[test]
    fn partial_user_theme_falls_back_to_dark() {
        let fb = Theme::default_theme().colors;
        let t = Theme::parse(
            "mine",
            "[colors]\nok = \"#00ff00\"\n",
            "mine.toml",
            Some(&fb),
        )
        .unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(t.colors.ok, Color::Rgb(0, 255, 0));
        assert_eq!(t.colors.critical, fb.critical);
    }

    #[test]
    fn user_folder_adds_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("solar.toml"),
            "[colors]\ntext = \"yellow\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("light.toml"), "description = \"mine\"\n").unwrap();
        // A copy of a built-in under another file name is a theme of that name.
        std::fs::write(
            dir.path().join("mine.toml"),
            include_str!("../../../themes/dark.toml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let mut set = ThemeSet::load(Some(dir.path())).unwrap();
        assert_eq!(
            set.names(),
            ["dark", "light", "high-contrast", "mine", "solar"]
        );
        assert_eq!(
            set.resolve("mine").unwrap().colors,
            set.get("dark").unwrap().colors
        );
        assert_eq!(set.get("light").unwrap().description, "mine");
        assert_eq!(set.next_after("solar").unwrap().name, "dark");
        assert_eq!(set.next_after("mine").unwrap().name, "solar");
        assert_eq!(set.next_after("dark").unwrap().name, "light");
        assert_eq!(set.resolve("solar").unwrap().colors.text, Color::Yellow);
        let e = set.resolve("nope").unwrap_err();
        assert!(e.to_string().contains("available: dark, light"), "{e}");

        std::fs::write(
            dir.path().join("bad.toml"),
            "[colors]\nborder = \"plaid\"\n",
        )
        .unwrap();
        let e = ThemeSet::load(Some(dir.path())).unwrap_err();
        assert!(e.source.ends_with("bad.toml"));
        assert_eq!(e.key.as_deref(), Some("colors.border"));

        assert!(ThemeSet::load(Some(&dir.path().join("missing"))).is_ok());
    }
}
