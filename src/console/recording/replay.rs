//! `pxadm replay FILE`: the console on a recording. The console's own [`App`] is fed the
//! recorded polls tick by tick, exactly as the live console was fed them, so every view shows
//! what it showed then; below it, a time cursor: play and pause, step, seek, 1×–60×, jump to
//! the next finding or change. Actions that would reach a node are refused with the reason.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::{Frame, Terminal};
use tokio::sync::mpsc;

use super::format::NodeInfo;
use super::moment::{fmt_duration_ms, local_offset, parse_time};
use super::reader::{Cursor, ReadError, Recording, Tick};
use super::timeline::{scan, Scan};
use super::writer::NodeUpdate;
use crate::client::conn::NodeAddr;
use crate::client::detail::HaInfo;
use crate::client::snapshot::NodeSnapshot;
use crate::console::config::Config;
use crate::console::diagnosis::Severity;
use crate::console::nodes::ConsoleNode;
use crate::console::tui::action::Action;
use crate::console::tui::action::View;
use crate::console::tui::app::{App, AppOptions};
use crate::console::tui::editor::LineEditor;
use crate::console::tui::svg::{buffer_to_svg, Palette};
use crate::console::tui::term::{InputThread, TerminalGuard};
use crate::console::tui::theme::{user_theme_dir, ThemeSet};

/// Playback speeds `>` and `<` step through.
pub const SPEEDS: [u32; 7] = [1, 2, 5, 10, 20, 30, 60];
/// A copy of the console is kept every this many ticks, so seeking back replays at most
/// this many ticks.
const CHECKPOINT_EVERY: usize = 120;
/// Longest real wait between two ticks while playing (a recording paused for hours plays on).
const MAX_WAIT: Duration = Duration::from_secs(3);
/// Rows the time cursor takes below the console.
pub const BAR_ROWS: u16 = 2;

/// `pxadm replay` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayViewArgs {
    /// The recording (`pxadm record`, `pxadm console --record`).
    pub file: PathBuf,
    /// Start at this moment (HH:MM[:SS], +DURATION, -DURATION, start, end, ...).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Start playing at this speed (1 to 60); without it, start paused.
    #[arg(long, value_name = "N")]
    pub speed: Option<u32>,
    /// Theme: dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
    /// Open on this view: matrix, diagnosis, node, ha, events.
    #[arg(long, value_name = "VIEW")]
    pub view: Option<String>,
    /// Instead of opening the replay, draw the moment (--at, --view) into this SVG file
    /// (for an incident report; no terminal needed).
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<PathBuf>,
    /// Size of the --svg picture, in terminal cells.
    #[arg(long, value_name = "WxH", default_value = "160x48", value_parser = parse_size)]
    pub size: (u16, u16),
}

fn parse_size(text: &str) -> Result<(u16, u16), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{text}' is not WIDTHxHEIGHT (e.g. 160x48)"))?;
    let num = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|n| (20..=1000).contains(n))
            .ok_or_else(|| format!("'{text}': each side must be 20 to 1000 cells"))
    };
    Ok((num(w)?, num(h)?))
}

/// The console nodes a recording's nodes stand for: no credentials, nothing to connect to.
pub fn console_nodes(nodes: &[NodeInfo]) -> Vec<ConsoleNode> {
    nodes
        .iter()
        .map(|n| ConsoleNode {
            addr: NodeAddr {
                name: n.name.clone(),
                host: n.host.clone(),
                port: n.port,
                user: String::new(),
                password: String::new(),
            },
            managed: n.managed,
            log_path: None,
            fault_commands: Default::default(),
        })
        .collect()
}

/// What arrived for one node in one tick, borrowed.
type Arrived<'a> = (Option<&'a NodeSnapshot>, Option<&'a HaInfo>, &'a [String]);

/// The one order in which a tick reaches a console: the clock, then per node its poll, its
/// VRRP answer and its log lines.
fn apply<'a>(app: &mut App, at_secs: u64, nodes: impl Iterator<Item = Arrived<'a>>) {
    app.update(Action::Tick(at_secs));
    for (node, (snapshot, ha, log)) in nodes.enumerate() {
        if let Some(snapshot) = snapshot {
            app.update(Action::Snapshot {
                node,
                snapshot: snapshot.clone(),
            });
        }
        if let Some(info) = ha {
            app.update(Action::Ha {
                node,
                info: info.clone(),
            });
        }
        if !log.is_empty() {
            app.update(Action::LogLines {
                node,
                lines: log.to_vec(),
            });
        }
    }
}

/// Feeds one recorded tick to a console, as the live console received it.
pub fn feed(app: &mut App, tick: &Tick) {
    let nodes = tick.nodes.iter().map(|n| {
        (
            n.snapshot.as_ref().filter(|_| n.polled),
            n.ha_read.then_some(&n.ha),
            n.log.as_slice(),
        )
    });
    apply(app, tick.at_secs(), nodes);
}

/// Feeds what a recorder is about to write at `at_ms` to a live console, in the order
/// [`feed`] gives it back: the live side of "the replay shows what the console showed".
pub fn feed_live(app: &mut App, at_ms: u64, updates: &[NodeUpdate]) {
    let nodes = updates
        .iter()
        .map(|u| (u.snapshot.as_ref(), u.ha.as_ref(), u.log.as_slice()));
    apply(app, at_ms / 1000, nodes);
}

/// The replay's state: the console at the cursor, and the cursor.
pub struct Replay<'a> {
    rec: &'a Recording,
    cursor: Cursor<'a>,
    scan: Scan,
    app: App,
    pos: usize,
    checkpoints: BTreeMap<usize, App>,
    playing: bool,
    speed: u32,
    prompt: Option<LineEditor>,
    tz: chrono::FixedOffset,
}

impl<'a> Replay<'a> {
    /// The console after the first tick of `rec`, paused. `options` as for the live console
    /// (its time zone is also the cursor's); `scan` from [`scan`].
    pub fn new(rec: &'a Recording, options: AppOptions, scan: Scan) -> Result<Self, ReadError> {
        let tz = options.tz;
        let mut app = App::new(console_nodes(&rec.header().nodes), options);
        app.set_replay(true);
        let mut checkpoints = BTreeMap::new();
        let mut cursor = rec.cursor()?;
        let tick = cursor.next_tick()?.ok_or_else(|| ReadError::Format {
            path: rec.path().display().to_string(),
            message: "the recording holds no tick".into(),
        })?;
        feed(&mut app, &tick);
        checkpoints.insert(0, app.clone());
        Ok(Replay {
            rec,
            cursor,
            scan,
            app,
            pos: 0,
            checkpoints,
            playing: false,
            speed: 1,
            prompt: None,
            tz,
        })
    }

    /// The console at the cursor.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The console at the cursor, to select views and cells.
    pub fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }

    /// The tick shown.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Playing (not paused).
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Playback speed.
    pub fn speed(&self) -> u32 {
        self.speed
    }

    /// Sets the speed (clamped to 1–60) and starts playing.
    pub fn play(&mut self, speed: u32) {
        self.speed = speed.clamp(1, 60);
        self.playing = self.pos + 1 < self.rec.len();
    }

    /// True once the operator asked to leave.
    pub fn should_quit(&self) -> bool {
        self.app.should_quit()
    }

    fn forward(&mut self) -> Result<bool, ReadError> {
        if self.cursor.position() != self.pos + 1 {
            self.cursor.seek(self.pos + 1)?;
        }
        let Some(tick) = self.cursor.next_tick()? else {
            return Ok(false);
        };
        feed(&mut self.app, &tick);
        self.pos = tick.index;
        if self.pos % CHECKPOINT_EVERY == 0 {
            self.checkpoints
                .entry(self.pos)
                .or_insert_with(|| self.app.clone());
        }
        Ok(true)
    }

    /// Moves the cursor to tick `target` (clamped to the recording).
    pub fn seek(&mut self, target: usize) -> Result<(), ReadError> {
        let target = target.min(self.rec.len().saturating_sub(1));
        if target < self.pos || target - self.pos > CHECKPOINT_EVERY {
            // The map always holds tick 0.
            if let Some((k, base)) = self.checkpoints.range(..=target).next_back() {
                if target < self.pos || *k > self.pos {
                    let mut base = base.clone();
                    base.keep_view_of(&self.app);
                    self.app = base;
                    self.pos = *k;
                }
            }
        }
        while self.pos < target {
            if !self.forward()? {
                break;
            }
        }
        Ok(())
    }

    /// Moves the cursor to the last tick at or before `at_ms`.
    pub fn seek_time(&mut self, at_ms: u64) -> Result<(), ReadError> {
        self.seek(self.rec.index_at(at_ms).unwrap_or(0))
    }

    /// When the next tick is due while playing, from the time the current one was shown.
    pub fn wait(&self) -> Option<Duration> {
        if !self.playing {
            return None;
        }
        let now = self.rec.time_of(self.pos)?;
        let next = self.rec.time_of(self.pos + 1)?;
        let real = Duration::from_millis(next.saturating_sub(now)) / self.speed.max(1);
        Some(real.min(MAX_WAIT))
    }

    /// Plays one tick; pauses at the end.
    pub fn advance(&mut self) -> Result<(), ReadError> {
        if !self.forward()? || self.pos + 1 >= self.rec.len() {
            self.playing = false;
        }
        Ok(())
    }

    fn notify(&mut self, text: impl Into<String>, severity: Severity) {
        self.app.notify(text, severity);
    }

    fn jump(&mut self, ticks: &[usize], forward: bool, what: &str) -> Result<(), ReadError> {
        let target = if forward {
            ticks.iter().copied().find(|t| *t > self.pos)
        } else {
            ticks.iter().rev().copied().find(|t| *t < self.pos)
        };
        match target {
            Some(t) => {
                self.playing = false;
                self.seek(t)?;
                let at = self.rec.time_of(t).unwrap_or(0);
                let first = self.rec.time_of(0).unwrap_or(0);
                self.notify(
                    format!(
                        "{what} at {} (+{})",
                        crate::console::tui::model::clock(at / 1000, self.tz),
                        fmt_duration_ms(at - first)
                    ),
                    Severity::Ok,
                );
            }
            None => self.notify(
                format!(
                    "no {what} {} this point",
                    if forward { "after" } else { "before" }
                ),
                Severity::Warning,
            ),
        }
        Ok(())
    }

    fn change_speed(&mut self, faster: bool) {
        let i = SPEEDS.iter().position(|s| *s >= self.speed).unwrap_or(0);
        let i = if faster {
            (i + 1).min(SPEEDS.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        self.speed = SPEEDS[i];
        self.notify(format!("speed {}×", self.speed), Severity::Ok);
    }

    /// Handles a key: the cursor's own keys, the seek prompt, or the console's keys.
    pub fn key(&mut self, key: KeyEvent) -> Result<(), ReadError> {
        if key.kind == KeyEventKind::Release {
            return Ok(());
        }
        if let Some(mut editor) = self.prompt.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    let (start, end) = self.rec.span_ms().unwrap_or((0, 0));
                    match parse_time(editor.text(), start, end, self.tz) {
                        Ok(at) => {
                            self.playing = false;
                            self.seek_time(at)?;
                        }
                        Err(e) => self.notify(e, Severity::Warning),
                    }
                }
                KeyCode::Backspace => {
                    editor.backspace();
                    self.prompt = Some(editor);
                }
                KeyCode::Left => {
                    editor.move_by(-1);
                    self.prompt = Some(editor);
                }
                KeyCode::Right => {
                    editor.move_by(1);
                    self.prompt = Some(editor);
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    editor.insert(&c.to_string());
                    self.prompt = Some(editor);
                }
                _ => self.prompt = Some(editor),
            }
            return Ok(());
        }
        // The console's own overlays (help, palette, filter) take every key.
        if self.app.overlay().is_some() {
            self.app.update(Action::Key(key));
            return Ok(());
        }
        let last = self.rec.len().saturating_sub(1);
        match key.code {
            KeyCode::Char(' ') => {
                if self.playing {
                    self.playing = false;
                } else if self.pos >= last {
                    self.notify(
                        "at the end of the recording: Home goes back to its start",
                        Severity::Warning,
                    );
                } else {
                    self.playing = true;
                }
            }
            KeyCode::Char('.') => {
                self.playing = false;
                self.seek(self.pos + 1)?;
            }
            KeyCode::Char(',') => {
                self.playing = false;
                self.seek(self.pos.saturating_sub(1))?;
            }
            KeyCode::Char('>' | '+' | '=') => self.change_speed(true),
            KeyCode::Char('<' | '-') => self.change_speed(false),
            KeyCode::Char('n') => {
                let ticks = self.scan.finding_ticks();
                self.jump(&ticks, true, "finding change")?;
            }
            KeyCode::Char('N') => {
                let ticks = self.scan.finding_ticks();
                self.jump(&ticks, false, "finding change")?;
            }
            KeyCode::Char(']') => {
                let ticks = self.scan.state_changes.clone();
                self.jump(&ticks, true, "change")?;
            }
            KeyCode::Char('[') => {
                let ticks = self.scan.state_changes.clone();
                self.jump(&ticks, false, "change")?;
            }
            KeyCode::Char('g') => self.prompt = Some(LineEditor::default()),
            KeyCode::Home => {
                self.playing = false;
                self.seek(0)?;
            }
            KeyCode::End => {
                self.playing = false;
                self.seek(last)?;
            }
            _ => {
                self.app.update(Action::Key(key));
            }
        }
        Ok(())
    }

    /// Draws the console and the time cursor below it.
    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        if area.height <= BAR_ROWS + 4 {
            crate::console::tui::draw_in(frame, &self.app, area);
            return;
        }
        let [main, bar] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(BAR_ROWS)]).areas(area);
        crate::console::tui::draw_in(frame, &self.app, main);
        self.draw_bar(frame, bar);
    }

    fn draw_bar(&self, frame: &mut Frame, area: Rect) {
        let theme = self.app.theme();
        let [strip_area, line_area] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        let len = self.rec.len().max(1);
        let first = self.rec.time_of(0).unwrap_or(0);
        let last = self.rec.time_of(len - 1).unwrap_or(first);
        let now = self.rec.time_of(self.pos).unwrap_or(first);
        let clock = |ms: u64| crate::console::tui::model::clock(ms / 1000, self.tz);
        let left = format!(" {} ", clock(first));
        let right = format!(" {} ", clock(last));
        let width =
            (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
        let mut spans = vec![Span::styled(left, theme.muted())];
        if width > 0 {
            let cursor_col = self.pos * width / len;
            for col in 0..width {
                let from = col * len / width;
                let to = ((col + 1) * len / width).max(from + 1).min(len);
                let worst = self.scan.severity[from.min(self.scan.severity.len().saturating_sub(1))
                    ..to.min(self.scan.severity.len())]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(Severity::Ok);
                let glyph = match worst {
                    Severity::Ok => "▁",
                    Severity::Warning => "▄",
                    Severity::Critical => "█",
                };
                if col == cursor_col {
                    spans.push(Span::styled("┃", theme.accent()));
                } else {
                    spans.push(Span::styled(glyph, theme.severity(worst)));
                }
            }
        }
        spans.push(Span::styled(right, theme.muted()));
        frame.render_widget(
            Paragraph::new(Line::from(spans)).style(theme.base()),
            strip_area,
        );

        let line = if let Some(editor) = &self.prompt {
            Line::from(vec![
                Span::styled(" seek to ", theme.accent()),
                Span::raw(editor.text().to_owned()),
                Span::styled("▏", theme.accent()),
                Span::styled(
                    "  (HH:MM[:SS], +90s, -5m, start, end; Enter, Esc)",
                    theme.muted(),
                ),
            ])
        } else {
            let state = if self.playing {
                format!("▶ {}×", self.speed)
            } else {
                format!("|| {}×", self.speed)
            };
            let mut spans = vec![
                Span::styled(format!(" {state} "), theme.title()),
                Span::styled("│ ", theme.border()),
                Span::raw(format!(
                    "{} +{} tick {}/{}",
                    clock(now),
                    fmt_duration_ms(now - first),
                    self.pos + 1,
                    self.rec.len()
                )),
                Span::styled(" │", theme.border()),
            ];
            let keys: &[(&str, &str)] = if area.width >= 120 {
                &[
                    ("space", "play"),
                    (",.", "step"),
                    ("<>", "speed"),
                    ("nN", "finding"),
                    ("[]", "change"),
                    ("g", "seek"),
                    ("home/end", ""),
                    ("q", "quit"),
                ]
            } else {
                &[
                    ("space", "play"),
                    (",.", "step"),
                    ("<>", "speed"),
                    ("nN", "next"),
                    ("g", "seek"),
                ]
            };
            for (k, what) in keys {
                spans.push(Span::raw(" "));
                spans.push(Span::styled(*k, theme.accent()));
                if !what.is_empty() {
                    spans.push(Span::styled(format!(" {what}"), theme.muted()));
                }
            }
            Line::from(spans)
        };
        frame.render_widget(Paragraph::new(line).style(theme.base()), line_area);
    }

    /// The screen as a `width`×`height` buffer (tests, screenshots).
    pub fn render(&self, width: u16, height: u16) -> Buffer {
        let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
        let _ = terminal.draw(|f| self.draw(f));
        terminal.backend().buffer().clone()
    }
}

/// `pxadm replay FILE`.
pub async fn run(args: ReplayViewArgs) -> anyhow::Result<()> {
    let path = args.file.clone();
    let (rec, scan) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Recording, Scan)> {
        let rec = Recording::open(&path)?;
        if rec.is_empty() {
            anyhow::bail!("{}: the recording holds no tick", path.display());
        }
        let scan = scan(&rec)?;
        Ok((rec, scan))
    })
    .await??;
    let config = tokio::task::spawn_blocking(|| Config::load(None)).await??;
    let mut settings = config.console_settings();
    if let Some(theme) = args.theme {
        settings.theme = theme;
    }
    settings.refresh = Duration::from_millis(rec.header().interval_ms.max(100));
    let first_secs = rec.time_of(0).unwrap_or(0) / 1000;
    let tz = local_offset(first_secs);
    let options = tokio::task::spawn_blocking(move || -> anyhow::Result<AppOptions> {
        let themes = ThemeSet::load(user_theme_dir().as_deref())?;
        Ok(AppOptions::from_settings(
            &settings, themes, first_secs, tz,
        )?)
    })
    .await??;
    let mut replay = Replay::new(&rec, options, scan)?;
    if let Some(at) = &args.at {
        let (start, end) = rec.span_ms().unwrap_or((0, 0));
        let at = parse_time(at, start, end, tz).map_err(|e| anyhow::anyhow!(e))?;
        replay.seek_time(at)?;
    }
    if let Some(name) = &args.view {
        let view = View::from_name(name).ok_or_else(|| {
            anyhow::anyhow!("no view '{name}' (views: matrix, diagnosis, node, ha, events)")
        })?;
        replay.app_mut().select(view, None, None);
    }
    if let Some(svg) = &args.svg {
        let (w, h) = args.size;
        let picture = buffer_to_svg(&replay.render(w, h), Palette::default());
        std::fs::write(svg, picture)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", svg.display()))?;
        eprintln!(
            "pxadm replay: tick {} of {} drawn into {}",
            replay.position() + 1,
            rec.len(),
            svg.display()
        );
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the replay needs a terminal; for scripts use `pxadm --batch diagnose --replay FILE --at TIME`, `pxadm --batch timeline --replay FILE` or `pxadm replay FILE --at TIME --svg FILE.svg`"
        );
    }
    if let Some(speed) = args.speed {
        replay.play(speed);
    }
    if let crate::console::recording::reader::End::Damaged { reason, .. } = rec.end() {
        replay.notify(
            format!("the file ends with {reason}: replaying up to its last whole tick"),
            Severity::Warning,
        );
    }
    let mut guard = TerminalGuard::enter()?;
    let (tx, mut rx) = mpsc::channel::<Action>(256);
    let input = InputThread::spawn(tx)?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result: anyhow::Result<()> = async {
        let mut due = replay.wait().map(|w| tokio::time::Instant::now() + w);
        loop {
            guard.terminal().draw(|f| replay.draw(f))?;
            tokio::select! {
                action = rx.recv() => match action {
                    Some(Action::Key(k)) => replay.key(k)?,
                    Some(Action::Paste(text)) => {
                        replay.app_mut().update(Action::Paste(text));
                    }
                    Some(Action::Quit) | None => break,
                    Some(_) => {}
                },
                _ = sleep_until(due) => replay.advance()?,
                _ = sigterm.recv() => break,
            }
            if replay.should_quit() {
                break;
            }
            // Each tick waits its recorded gap (divided by the speed) from when it was shown.
            due = match (due, replay.wait()) {
                (_, None) => None,
                (Some(d), Some(_)) if d > tokio::time::Instant::now() => Some(d),
                (_, Some(w)) => Some(tokio::time::Instant::now() + w),
            };
        }
        Ok(())
    }
    .await;
    input.stop();
    drop(guard);
    result
}

async fn sleep_until(due: Option<tokio::time::Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
