//! Remappable key bindings: which key triggers which console command.
//!
//! The configuration maps an action name (`reload_module`) to a key (`L`) or a comma-separated
//! list of keys (`k, up`). A remapped action loses its default keys; a key bound to two actions
//! is an error naming both, because the operator would otherwise get whichever came first.
//! Modal keys (typing in the palette, `y`/`n` in a confirmation) are not remappable.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A command a key can trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// Leave the console.
    Quit,
    /// Show the key list.
    Help,
    /// Open the `:` command palette.
    Palette,
    /// Type a `/` filter.
    Filter,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// Checksum matrix.
    ViewMatrix,
    /// Diagnosis findings.
    ViewDiagnosis,
    /// Node detail.
    ViewNode,
    /// HA (VRRP / VIP).
    ViewHa,
    /// Events and log tail.
    ViewEvents,
    /// Traffic rates.
    ViewTraffic,
    /// Hostgroups side by side.
    ViewHostgroups,
    /// Merged processlist.
    ViewProcesslist,
    /// Merged query digests.
    ViewDigests,
    /// Commands counters and errors merged.
    ViewStats,
    /// Next sort key of the processlist or digests.
    SortNext,
    /// `KILL CONNECTION` of the selected session, on its node.
    KillConnection,
    /// `KILL QUERY` of the selected session, on its node.
    KillQuery,
    /// Reset the query digests of every node.
    ResetDigests,
    /// Move up.
    Up,
    /// Move down.
    Down,
    /// Previous node.
    Left,
    /// Next node.
    Right,
    /// Scroll a page up.
    PageUp,
    /// Scroll a page down.
    PageDown,
    /// Show or hide the selected cell's details.
    Inspect,
    /// Close an overlay or clear the filter.
    Back,
    /// Poll more often.
    RefreshFaster,
    /// Poll less often.
    RefreshSlower,
    /// Poll every node now.
    RefreshNow,
    /// `LOAD <module> TO RUNTIME` on the selected node.
    ReloadModule,
    /// Run the diagnosis's fix.
    ApplyFix,
    /// Kill the selected node.
    Kill,
    /// Freeze (SIGSTOP) the selected node.
    Freeze,
    /// Thaw (SIGCONT) the selected node.
    Thaw,
    /// Pause traffic on the selected node.
    Pause,
    /// Resume traffic on the selected node.
    Resume,
    /// Restart the selected node.
    Restart,
    /// Run a failover drill (own nodes with a VIP, writes through it, holder killed).
    Drill,
    /// Switch to the next theme.
    CycleTheme,
    /// Re-seed the selected node: make it the cluster's authoritative source (issue #15).
    Reseed,
}

impl Command {
    /// Every command, in help order.
    pub const ALL: [Command; 42] = [
        Command::Quit,
        Command::Help,
        Command::Palette,
        Command::Filter,
        Command::NextView,
        Command::PrevView,
        Command::ViewMatrix,
        Command::ViewDiagnosis,
        Command::ViewNode,
        Command::ViewHa,
        Command::ViewEvents,
        Command::ViewTraffic,
        Command::ViewHostgroups,
        Command::ViewProcesslist,
        Command::ViewDigests,
        Command::SortNext,
        Command::KillConnection,
        Command::KillQuery,
        Command::ResetDigests,
        Command::Up,
        Command::Down,
        Command::Left,
        Command::Right,
        Command::PageUp,
        Command::PageDown,
        Command::Inspect,
        Command::Back,
        Command::RefreshFaster,
        Command::RefreshSlower,
        Command::RefreshNow,
        Command::ReloadModule,
        Command::ApplyFix,
        Command::Kill,
        Command::Freeze,
        Command::Thaw,
        Command::Pause,
        Command::Resume,
        Command::Restart,
        Command::Drill,
        Command::CycleTheme,
        Command::ViewStats,
        Command::Reseed,
    ];

    /// The name used in the configuration's key table.
    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        self.info().1
    }

    /// Default keys.
    fn default_keys(self) -> &'static [&'static str] {
        self.info().2
    }

    /// True for commands that change a node (disabled by `--read-only`).
    pub fn is_action(self) -> bool {
        matches!(
            self,
            Command::ReloadModule
                | Command::ApplyFix
                | Command::Kill
                | Command::Freeze
                | Command::Thaw
                | Command::Pause
                | Command::Resume
                | Command::Restart
                | Command::Drill
                | Command::KillConnection
                | Command::KillQuery
                | Command::ResetDigests
                | Command::Reseed
        )
    }

    fn info(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Command::Quit => ("quit", "quit the console", &["q"]),
            Command::Help => ("help", "show this help", &["?"]),
            Command::Palette => ("palette", "command palette (:help for commands)", &[":"]),
            Command::Filter => ("filter", "filter rows by text", &["/"]),
            Command::NextView => ("next_view", "next view", &["tab"]),
            Command::PrevView => ("prev_view", "previous view", &["backtab"]),
            Command::ViewMatrix => ("view_matrix", "checksum matrix", &["1"]),
            Command::ViewDiagnosis => ("view_diagnosis", "diagnosis findings", &["2"]),
            Command::ViewNode => ("view_node", "node detail", &["3"]),
            Command::ViewHa => ("view_ha", "HA: VRRP state and VIP", &["4"]),
            Command::ViewEvents => ("view_events", "events and log tail", &["5"]),
            Command::ViewTraffic => ("view_traffic", "traffic: q/s, connections, bytes/s", &["6"]),
            Command::ViewHostgroups => ("view_hostgroups", "hostgroups on every node", &["7"]),
            Command::ViewProcesslist => ("view_processlist", "processlist of every node", &["8"]),
            Command::ViewDigests => ("view_digests", "query digests merged", &["9"]),
            Command::ViewStats => ("view_stats", "commands counters and errors merged", &["0"]),
            Command::SortNext => (
                "sort_next",
                "next sort key (processlist, digests; stats: commands/errors)",
                &["o"],
            ),
            Command::KillConnection => (
                "kill_connection",
                "KILL CONNECTION of the selected session (processlist)",
                &["x"],
            ),
            Command::KillQuery => (
                "kill_query",
                "KILL QUERY (processlist): not on ProxySQL 2.7's admin port, says so",
                &["X"],
            ),
            Command::ResetDigests => (
                "reset_digests",
                "reset the query digests of every node (digests)",
                &["z"],
            ),
            Command::Up => ("up", "move up / scroll up", &["up", "k"]),
            Command::Down => ("down", "move down / scroll down", &["down", "j"]),
            Command::Left => ("left", "previous node", &["left", "h"]),
            Command::Right => ("right", "next node", &["right", "l"]),
            Command::PageUp => ("page_up", "scroll a page up", &["pageup"]),
            Command::PageDown => ("page_down", "scroll a page down", &["pagedown"]),
            Command::Inspect => (
                "inspect",
                "show / hide the selected cell's details",
                &["enter"],
            ),
            Command::Back => ("back", "close / clear the filter", &["esc"]),
            Command::RefreshFaster => ("refresh_faster", "poll more often", &["+", "="]),
            Command::RefreshSlower => ("refresh_slower", "poll less often", &["-"]),
            Command::RefreshNow => ("refresh_now", "poll every node now", &["r"]),
            Command::ReloadModule => (
                "reload_module",
                "LOAD <module> TO RUNTIME on the selected node",
                &["L"],
            ),
            Command::ApplyFix => ("apply_fix", "apply the diagnosis's fix", &["f"]),
            Command::Kill => ("kill", "kill the selected node", &["K"]),
            Command::Freeze => ("freeze", "freeze the selected node (SIGSTOP)", &["Z"]),
            Command::Thaw => ("thaw", "thaw the selected node (SIGCONT)", &["T"]),
            Command::Pause => ("pause", "pause traffic on the selected node", &["P"]),
            Command::Resume => ("resume", "resume traffic on the selected node", &["U"]),
            Command::Restart => ("restart", "restart the selected node", &["R"]),
            Command::Drill => (
                "drill",
                "failover drill: VIP nodes, writes, holder killed (see HA view)",
                &["D"],
            ),
            Command::CycleTheme => ("cycle_theme", "next colour theme", &["t"]),
            Command::Reseed => (
                "reseed",
                "re-seed the selected node: LOAD modules at version 1, SAVE what DISK lacks",
                &["S"],
            ),
        }
    }

    /// A command by its configuration name.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One key with its modifiers, normalised so `K` and `shift-k` are the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    code: KeyCodeOrd,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` subset we bind, made orderable for the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

const NAMED: [(&str, KeyCodeOrd); 17] = [
    ("enter", KeyCodeOrd::Enter),
    ("esc", KeyCodeOrd::Esc),
    ("tab", KeyCodeOrd::Tab),
    ("backtab", KeyCodeOrd::BackTab),
    ("backspace", KeyCodeOrd::Backspace),
    ("delete", KeyCodeOrd::Delete),
    ("insert", KeyCodeOrd::Insert),
    ("up", KeyCodeOrd::Up),
    ("down", KeyCodeOrd::Down),
    ("left", KeyCodeOrd::Left),
    ("right", KeyCodeOrd::Right),
    ("home", KeyCodeOrd::Home),
    ("end", KeyCodeOrd::End),
    ("pageup", KeyCodeOrd::PageUp),
    ("pagedown", KeyCodeOrd::PageDown),
    ("space", KeyCodeOrd::Char(' ')),
    ("comma", KeyCodeOrd::Char(',')),
];

const ALIASES: [(&str, &str); 6] = [
    ("return", "enter"),
    ("escape", "esc"),
    ("pgup", "pageup"),
    ("pgdn", "pagedown"),
    ("pgdown", "pagedown"),
    ("del", "delete"),
];

impl Key {
    /// Parses `q`, `K`, `?`, `ctrl-r`, `alt+x`, `shift-tab`, `f5`, `pgup`, `space`...
    pub fn parse(text: &str) -> Result<Key, String> {
        let t = text.trim();
        if t.chars().count() == 1 {
            return Ok(Key::char(t.chars().next().unwrap_or(' ')));
        }
        let mut parts: Vec<&str> = t.split(['-', '+']).collect();
        // "ctrl--" / "ctrl-+": the key itself is the separator character.
        if t.len() > 1 && (t.ends_with("--") || t.ends_with("-+") || t.ends_with("++")) {
            parts.truncate(parts.len().saturating_sub(2));
            parts.push(&t[t.len() - 1..]);
        }
        let (last, mods) = parts
            .split_last()
            .ok_or_else(|| format!("empty key '{text}'"))?;
        let (mut ctrl, mut alt, mut shift) = (false, false, false);
        for m in mods {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "c" => ctrl = true,
                "alt" | "meta" | "m" => alt = true,
                "shift" | "s" => shift = true,
                other => return Err(format!("unknown modifier '{other}' in '{text}'")),
            }
        }
        let code = if last.chars().count() == 1 {
            let c = last.chars().next().unwrap_or(' ');
            KeyCodeOrd::Char(if shift { c.to_ascii_uppercase() } else { c })
        } else {
            let lower = last.to_ascii_lowercase();
            let lower = ALIASES
                .iter()
                .find(|(a, _)| *a == lower)
                .map_or(lower.as_str(), |(_, n)| n)
                .to_owned();
            if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                if (1..=12).contains(&n) {
                    KeyCodeOrd::F(n)
                } else {
                    return Err(format!("no function key '{last}'"));
                }
            } else if lower == "tab" && shift {
                KeyCodeOrd::BackTab
            } else {
                NAMED
                    .iter()
                    .find(|(n, _)| *n == lower)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| format!("unknown key '{last}' in '{text}'"))?
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    fn char(c: char) -> Key {
        Key {
            code: KeyCodeOrd::Char(c),
            ctrl: false,
            alt: false,
        }
    }

    /// The key of a terminal key event, if it is one we can bind.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCodeOrd::BackTab,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
            KeyCodeOrd::BackTab => f.write_str("shift-tab"),
            other => {
                let name = NAMED
                    .iter()
                    .find(|(_, c)| *c == other)
                    .map_or("?", |(n, _)| n);
                f.write_str(name)
            }
        }
    }
}

/// A configuration entry that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMapError {
    /// The action name is not one the console knows.
    #[error("keys.{action}: unknown action (known: {known})")]
    UnknownAction {
        /// The name given.
        action: String,
        /// The valid names.
        known: String,
    },
    /// The key text does not parse.
    #[error("keys.{action}: {message}")]
    BadKey {
        /// Action being bound.
        action: String,
        /// What is wrong.
        message: String,
    },
    /// Two actions share a key.
    #[error("keys.{action}: '{key}' is also bound to {other}")]
    Conflict {
        /// Action being bound.
        action: String,
        /// The shared key.
        key: String,
        /// The action already holding it.
        other: String,
    },
}

impl KeyMapError {
    /// The action (the key of the `[keys]` table) the error is about.
    pub fn action(&self) -> &str {
        match self {
            KeyMapError::UnknownAction { action, .. }
            | KeyMapError::BadKey { action, .. }
            | KeyMapError::Conflict { action, .. } => action,
        }
    }
}

/// Key → command, plus each command's keys for the help and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    by_key: BTreeMap<Key, Command>,
    by_command: BTreeMap<Command, Vec<Key>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        Self::from_settings(&BTreeMap::new()).unwrap_or_else(|_| KeyMap {
            by_key: BTreeMap::new(),
            by_command: BTreeMap::new(),
        })
    }
}

impl KeyMap {
    /// The defaults with the configuration's `action → keys` entries applied.
    pub fn from_settings(overrides: &BTreeMap<String, String>) -> Result<KeyMap, KeyMapError> {
        let mut by_command: BTreeMap<Command, Vec<Key>> = BTreeMap::new();
        for c in Command::ALL {
            let keys = c
                .default_keys()
                .iter()
                .filter_map(|k| Key::parse(k).ok())
                .collect();
            by_command.insert(c, keys);
        }
        for (action, spec) in overrides {
            let command = Command::from_name(action).ok_or_else(|| KeyMapError::UnknownAction {
                action: action.clone(),
                known: Command::ALL.map(Command::name).join(", "),
            })?;
            let keys = parse_key_list(spec).map_err(|message| KeyMapError::BadKey {
                action: action.clone(),
                message,
            })?;
            by_command.insert(command, keys);
        }
        let mut by_key = BTreeMap::new();
        // Overridden actions first, so a conflict is reported against the configured name.
        let order = overrides
            .keys()
            .filter_map(|a| Command::from_name(a))
            .chain(Command::ALL);
        for command in order {
            for key in &by_command[&command] {
                match by_key.insert(*key, command) {
                    Some(other) if other != command => {
                        let (action, other) = if overrides.contains_key(command.name()) {
                            (command, other)
                        } else {
                            (other, command)
                        };
                        return Err(KeyMapError::Conflict {
                            action: action.name().into(),
                            key: key.to_string(),
                            other: other.name().into(),
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(KeyMap { by_key, by_command })
    }

    /// The command a key event triggers.
    pub fn command(&self, ev: &KeyEvent) -> Option<Command> {
        let key = Key::from_event(ev)?;
        self.by_key.get(&key).copied()
    }

    /// The keys of a command.
    pub fn keys(&self, command: Command) -> &[Key] {
        self.by_command.get(&command).map_or(&[], Vec::as_slice)
    }

    /// The keys of a command as text (`k/up`), or `unbound`.
    pub fn label(&self, command: Command) -> String {
        let keys = self.keys(command);
        if keys.is_empty() {
            "unbound".into()
        } else {
            keys.iter()
                .map(Key::to_string)
                .collect::<Vec<_>>()
                .join("/")
        }
    }

    /// The first key of a command, for compact hints.
    pub fn short(&self, command: Command) -> String {
        self.keys(command)
            .first()
            .map_or_else(|| "-".into(), Key::to_string)
    }

    /// Help rows `(keys, action name, description)` in help order.
    pub fn help_rows(&self) -> Vec<(String, &'static str, &'static str)> {
        Command::ALL
            .iter()
            .map(|c| (self.label(*c), c.name(), c.description()))
            .collect()
    }
}

fn parse_key_list(spec: &str) -> Result<Vec<Key>, String> {
    if spec.trim() == "," {
        return Ok(vec![Key::char(',')]);
    }
    let keys: Vec<Key> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Key::parse)
        .collect::<Result<_, _>>()?;
    if keys.is_empty() && !spec.is_empty() {
        return Err(format!("no key in '{spec}'"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: mods,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_cover_every_command_without_conflict() {
        let km = KeyMap::default();
        for c in Command::ALL {
            assert!(!km.keys(c).is_empty(), "{c:?} unbound");
            assert_eq!(Command::from_name(c.name()), Some(c));
        }
        assert_eq!(
            km.command(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Command::Quit)
        );
        // Terminals report an upper-case letter with SHIFT; the char already says it.
        assert_eq!(
            km.command(&ev(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(Command::Kill)
        );
        assert_eq!(
            km.command(&ev(KeyCode::Char('k'), KeyModifiers::NONE)),
            Some(Command::Up)
        );
        assert_eq!(
            km.command(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Command::PrevView)
        );
        assert_eq!(
            km.command(&ev(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(km.label(Command::Up), "up/k");
    }

    #[test]
    fn parses_key_names() {
        for (text, shown) in [
            ("ctrl-r", "ctrl-r"),
            ("Ctrl+R", "ctrl-R"),
            ("shift-k", "K"),
            ("shift-tab", "shift-tab"),
            ("F5", "F5"),
            ("pgup", "pageup"),
            ("space", "space"),
            ("alt-x", "alt-x"),
            ("ctrl--", "ctrl--"),
            ("+", "+"),
        ] {
            assert_eq!(Key::parse(text).unwrap().to_string(), shown, "{text}");
        }
        assert!(Key::parse("hyper-x")
            .unwrap_err()
            .contains("modifier 'hyper'"));
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("banana")
            .unwrap_err()
            .contains("unknown key 'banana'"));
    }

    #[test]
    fn remapping_replaces_the_defaults() {
        let km =
            KeyMap::from_settings(&map(&[("reload_module", "ctrl-l, F2"), ("kill", "Y")])).unwrap();
        assert_eq!(km.label(Command::ReloadModule), "ctrl-l/F2");
        assert_eq!(
            km.command(&ev(KeyCode::Char('l'), KeyModifiers::CONTROL)),
            Some(Command::ReloadModule)
        );
        assert_eq!(
            km.command(&ev(KeyCode::F(2), KeyModifiers::NONE)),
            Some(Command::ReloadModule)
        );
        assert_eq!(
            km.command(&ev(KeyCode::Char('L'), KeyModifiers::SHIFT)),
            None
        );
        assert_eq!(
            km.command(&ev(KeyCode::Char('K'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            km.command(&ev(KeyCode::Char('Y'), KeyModifiers::NONE)),
            Some(Command::Kill)
        );
        // Unbinding is allowed.
        let km = KeyMap::from_settings(&map(&[("kill", "")])).unwrap();
        assert_eq!(km.label(Command::Kill), "unbound");
    }

    #[test]
    fn bad_entries_are_named() {
        let e = KeyMap::from_settings(&map(&[("explode", "x")])).unwrap_err();
        assert!(
            e.to_string().starts_with("keys.explode: unknown action"),
            "{e}"
        );
        let e = KeyMap::from_settings(&map(&[("kill", "ctrl-")])).unwrap_err();
        assert!(matches!(e, KeyMapError::BadKey { .. }), "{e}");
        let e = KeyMap::from_settings(&map(&[("kill", "q")])).unwrap_err();
        assert_eq!(e.to_string(), "keys.kill: 'q' is also bound to quit");
        let e = KeyMap::from_settings(&map(&[("kill", "j"), ("up", "w")])).unwrap_err();
        assert_eq!(e.to_string(), "keys.kill: 'j' is also bound to down");
        // Moving a key from one action to another is fine when both are remapped.
        assert!(KeyMap::from_settings(&map(&[("quit", "Q"), ("kill", "q")])).is_ok());
    }

    #[test]
    fn help_lists_every_command() {
        let rows = KeyMap::default().help_rows();
        assert_eq!(rows.len(), Command::ALL.len());
        assert!(rows.contains(&("f".into(), "apply_fix", "apply the diagnosis's fix")));
    }
}
