//! The console's state and its pure update: `update(action) -> effects`.
//!
//! Nothing here does I/O or reads a clock: time arrives as [`Action::Tick`], poll results as
//! [`Action::Snapshot`], and work to do leaves as [`Effect`]s. Rendering reads the state and
//! never changes it, so the same `App` can be drawn on a terminal or into a test buffer.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use chrono::Offset as _;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::client::conn::NodeAddr;
use crate::client::queries;
use crate::client::snapshot::NodeSnapshot;
use crate::console::diagnosis::{self, Class, Finding, Fix, Severity};
use crate::proxysql::cluster::state::Module;
use crate::proxysql::resultset::ResultSet;

use super::action::{Action, Effect, JobId, JobOutcome, View};
use super::contract::{ConsoleNode, ConsoleSettings, Fault};
use super::drill::{DrillPanel, DrillRequest, Milestone};
use super::editor::LineEditor;
use super::events::{self, Event, EventKind, EventLog};
use super::keymap::{Command, KeyMap, KeyMapError};
use super::layers::{LayerState, NodeLayerView};
use super::model;
use super::palette::{self, PaletteCommand, Target};
use super::theme::{Theme, ThemeError, ThemeSet};
use crate::client::detail::{HaInfo, NodeDetail};
use crate::console::drill as failover;
use crate::console::matrix::{self, Matrix};

/// Poll intervals `+`/`-` step through.
const REFRESH_STEPS_MS: [u64; 8] = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
/// Polls kept per node for the availability strip.
const HISTORY: usize = 240;
/// Log lines kept per managed node.
const LOG_LINES: usize = 500;
/// Events kept.
const EVENTS: usize = 2000;
/// How long a status message stays in the footer.
const STATUS_SECS: u64 = 10;
/// Rows a page key moves.
const PAGE: usize = 10;
/// Rows of a result set shown in the result pane.
const RESULT_ROWS: usize = 200;

/// What the console knows about one node.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// How it is reached.
    pub addr: NodeAddr,
    /// Started by pxadm.
    pub managed: bool,
    /// Its log file, if tailed.
    pub log_path: Option<PathBuf>,
    /// The latest poll.
    pub snapshot: Option<NodeSnapshot>,
    /// The latest VRRP answer.
    pub ha: HaInfo,
    /// Whether each recent poll answered, oldest first.
    pub history: VecDeque<bool>,
    /// Tail of its log, oldest first.
    pub log: VecDeque<String>,
    /// All its runtime variables (read while the node view is open).
    pub variables: Option<Result<BTreeMap<String, String>, String>>,
    /// Console time of the first failed poll of the current outage.
    pub down_since: Option<u64>,
    /// Its MEMORY/RUNTIME/DISK layers as last read (only while it was on the node view);
    /// cleared when the console changes the node, since they are then unknown.
    pub layers: Option<LayerState>,
    /// Console time the console last changed the node: a layer read taken at or before it
    /// (already in flight then) is stale and dropped.
    layers_stale_until: u64,
}

impl NodeState {
    fn new(node: ConsoleNode) -> Self {
        Self {
            addr: node.addr,
            managed: node.managed,
            log_path: node.log_path,
            snapshot: None,
            ha: HaInfo::Unknown,
            history: VecDeque::with_capacity(HISTORY),
            log: VecDeque::new(),
            variables: None,
            down_since: None,
            layers: None,
            layers_stale_until: 0,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.addr.name
    }
}

/// A line of a result or help pane, with an optional severity colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneLine {
    /// The text.
    pub text: String,
    /// Colour by severity; `None` = ordinary text.
    pub severity: Option<Severity>,
}

impl PaneLine {
    fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            severity: None,
        }
    }

    fn sev(text: impl Into<String>, severity: Severity) -> Self {
        Self {
            text: text.into(),
            severity: Some(severity),
        }
    }
}

/// One thing a confirmed dialog will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Statements on nodes.
    Sql {
        /// Node indices.
        nodes: Vec<usize>,
        /// Statements.
        statements: Vec<String>,
        /// For the log and the result pane.
        label: String,
    },
    /// A fault on a node.
    Fault {
        /// Node index.
        node: usize,
        /// Which.
        fault: Fault,
        /// For the log and the result pane.
        label: String,
    },
    /// A failover drill on its own nodes.
    Drill(DrillRequest),
}

/// A question before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// Dialog title.
    pub title: String,
    /// What will happen, line by line.
    pub lines: Vec<String>,
    /// What runs on yes.
    pub ops: Vec<Op>,
}

/// Which text the input line edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// The `:` palette.
    Palette,
    /// The `/` filter (applied as typed).
    Filter,
}

/// A window over the views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Key and command list.
    Help {
        /// First line shown.
        scroll: usize,
    },
    /// Yes/no before acting.
    Confirm(Confirm),
    /// Palette or filter line.
    Input {
        /// Which.
        kind: InputKind,
        /// The text.
        editor: LineEditor,
        /// The filter before editing, restored by Esc.
        before: String,
    },
    /// A job's result.
    Result {
        /// Title.
        title: String,
        /// Body.
        lines: Vec<PaneLine>,
        /// First line shown.
        scroll: usize,
    },
}

/// What a key does to a scrollable overlay.
enum Pane {
    Scroll(usize),
    Close,
    Pass(Command),
}

/// The footer message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Text.
    pub text: String,
    /// Colour.
    pub severity: Severity,
    /// Console time it was set.
    pub at: u64,
}

/// How the console starts: everything but the node list.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Poll interval.
    pub refresh: Duration,
    /// Disable every action.
    pub read_only: bool,
    /// Key bindings.
    pub keymap: KeyMap,
    /// Themes `t` cycles through.
    pub themes: ThemeSet,
    /// The theme in use.
    pub theme: Theme,
    /// Time zone for clock times.
    pub tz: chrono::FixedOffset,
    /// Unix seconds at start.
    pub now: u64,
}

/// Why the settings cannot start a console.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A key binding is wrong.
    #[error(transparent)]
    Keys(#[from] KeyMapError),
    /// The theme cannot be loaded.
    #[error(transparent)]
    Theme(#[from] ThemeError),
}

impl AppOptions {
    /// Options from the configuration, with the themes already loaded (`themes`); a theme
    /// given as a path is read here, so call it off the async runtime.
    pub fn from_settings(
        settings: &ConsoleSettings,
        mut themes: ThemeSet,
        now: u64,
        tz: chrono::FixedOffset,
    ) -> Result<AppOptions, SettingsError> {
        let keymap = KeyMap::from_settings(&settings.keys)?;
        let wanted = if settings.theme.trim().is_empty() {
            super::theme::DEFAULT_THEME
        } else {
            settings.theme.trim()
        };
        let theme = themes.resolve(wanted)?;
        Ok(AppOptions {
            refresh: settings
                .refresh
                .clamp(palette::MIN_REFRESH, palette::MAX_REFRESH),
            read_only: settings.read_only,
            keymap,
            themes,
            theme,
            tz,
            now,
        })
    }
}

impl Default for AppOptions {
    /// Built-in defaults: 1 s, dark theme, default keys, UTC, time 0.
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(1),
            read_only: false,
            keymap: KeyMap::default(),
            themes: ThemeSet::builtin(),
            theme: Theme::default_theme(),
            tz: chrono::Utc.fix(),
            now: 0,
        }
    }
}

/// The findings and matrix of the nodes' latest snapshots, with what the layers read so far
/// tell (`memory_not_loaded`, `runtime_not_saved`...).
fn derive(nodes: &[NodeState]) -> model::Derived {
    let columns: Vec<(String, Option<&NodeSnapshot>)> = nodes
        .iter()
        .map(|n| (n.name().to_owned(), n.snapshot.as_ref()))
        .collect();
    let layers: Vec<crate::client::layers::NodeLayers> = nodes
        .iter()
        .filter_map(|n| n.layers.as_ref().and_then(LayerState::layers).cloned())
        .collect();
    model::Derived::with_layers(&columns, &layers)
}

/// The console's whole state.
#[derive(Debug, Clone)]
pub struct App {
    pub(super) nodes: Vec<NodeState>,
    /// Findings and matrix of the latest snapshots, rebuilt whenever a poll result is applied
    /// so that drawing a frame derives nothing.
    derived: model::Derived,
    pub(super) view: View,
    pub(super) sel_module: usize,
    pub(super) sel_node: usize,
    pub(super) sel_finding: usize,
    pub(super) inspect: bool,
    pub(super) scroll: [usize; 9],
    pub(super) traffic: super::traffic::TrafficState,
    pub(super) events: EventLog,
    pub(super) detail: Option<(usize, Result<NodeDetail, String>)>,
    pub(super) overlay: Option<Overlay>,
    pub(super) filter: String,
    pub(super) refresh: Duration,
    pub(super) read_only: bool,
    pub(super) themes: ThemeSet,
    pub(super) theme: Theme,
    pub(super) keymap: KeyMap,
    pub(super) now: u64,
    pub(super) tz: chrono::FixedOffset,
    pub(super) status: Option<Status>,
    pub(super) running: BTreeMap<JobId, String>,
    pub(super) drill: Option<DrillPanel>,
    /// Showing a recording (`pxadm replay`): nothing can reach a node.
    pub(super) replay: bool,
    next_job: JobId,
    quit: bool,
}

impl App {
    /// A console over `nodes`, nothing polled yet.
    pub fn new(nodes: Vec<ConsoleNode>, options: AppOptions) -> App {
        let nodes: Vec<NodeState> = nodes.into_iter().map(NodeState::new).collect();
        App {
            derived: derive(&nodes),
            nodes,
            view: View::Matrix,
            sel_module: 0,
            sel_node: 0,
            sel_finding: 0,
            inspect: false,
            scroll: [0; 9],
            traffic: super::traffic::TrafficState::default(),
            events: EventLog::new(EVENTS),
            detail: None,
            overlay: None,
            filter: String::new(),
            refresh: options.refresh,
            read_only: options.read_only,
            themes: options.themes,
            theme: options.theme,
            keymap: options.keymap,
            now: options.now,
            tz: options.tz,
            status: None,
            running: BTreeMap::new(),
            drill: None,
            replay: false,
            next_job: 1,
            quit: false,
        }
    }

    /// Marks the console as showing a recording: every action that would change a node (or
    /// run anything on one) is refused with the reason, as under `--read-only`.
    pub fn set_replay(&mut self, on: bool) {
        self.replay = on;
        self.read_only |= on;
    }

    /// True when showing a recording.
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Takes over what the operator chose to look at in `other` (view, selections, filter,
    /// scroll, theme), leaving the polled state alone; a replay seeking to another moment
    /// keeps the operator where they were.
    pub fn keep_view_of(&mut self, other: &App) {
        self.view = other.view;
        self.sel_module = other.sel_module;
        self.sel_node = other.sel_node;
        self.sel_finding = other.sel_finding;
        self.inspect = other.inspect;
        self.scroll = other.scroll;
        self.filter = other.filter.clone();
        self.theme = other.theme.clone();
        self.overlay = other.overlay.clone();
        self.status = other.status.clone();
        self.quit = other.quit;
    }

    /// Shows a message in the footer (the replay's own notices).
    pub fn notify(&mut self, text: impl Into<String>, severity: Severity) {
        self.set_status(text, severity);
    }

    /// The failover drill started from the console, running or finished.
    pub fn drill(&self) -> Option<&DrillPanel> {
        self.drill.as_ref()
    }

    /// True once the operator asked to leave.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The poll interval pollers should use now.
    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    /// The node whose detail tables should be fetched (only while the node view is shown).
    pub fn detail_target(&self) -> Option<usize> {
        (self.view == View::Node && !self.nodes.is_empty()).then(|| self.selected_node_index())
    }

    /// The node whose MEMORY/RUNTIME/DISK layers should be read: the selected one, only
    /// while the node view is shown (a read is three selects per table).
    pub fn layers_target(&self) -> Option<usize> {
        self.detail_target()
    }

    /// The stats table the traffic view on screen reads, for the traffic poller; `None`
    /// on the other views, so the heavier tables are read only while shown.
    pub fn traffic_target(&self) -> Option<crate::client::traffic::Table> {
        use crate::client::traffic::Table;
        match self.view {
            View::Traffic => Some(Table::Globals),
            View::Hostgroups => Some(Table::Pool),
            View::Processlist => Some(Table::Processlist),
            View::Digests => Some(Table::Digests),
            View::Stats => Some(self.traffic.stats_pane.table()),
            _ => None,
        }
    }

    /// The traffic views' state.
    pub fn traffic(&self) -> &super::traffic::TrafficState {
        &self.traffic
    }

    /// Settles the traffic views' rows (after new data, a key, a filter change).
    fn settle_traffic(&mut self) {
        let names: Vec<String> = self.nodes.iter().map(|n| n.name().to_owned()).collect();
        let target = self.traffic_target();
        self.traffic.tz_offset_s = self.tz.local_minus_utc();
        self.traffic.settle(target, &names, &self.filter);
    }

    /// Asks to end the selected session (`KILL CONNECTION`) on the node that owns it.
    fn ask_kill_session(&mut self) {
        let Some(s) = self.traffic.selected_session().cloned() else {
            self.set_status("no session selected", Severity::Warning);
            return;
        };
        let Some(node) = self.nodes.iter().position(|n| n.name() == s.node) else {
            return;
        };
        let what = "KILL CONNECTION";
        let sql = crate::client::queries::kill_connection(s.row.session_id);
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: format!("{what} {} on {}", s.row.session_id, s.node),
            lines: vec![
                format!("{what} session {} on {}?", s.row.session_id, s.node),
                String::new(),
                format!(
                    "  user {} db {} command {} ({} ms)",
                    s.row.user, s.row.db, s.row.command, s.row.time_ms
                ),
                format!("  {}", s.row.info),
            ],
            ops: vec![Op::Sql {
                nodes: vec![node],
                statements: vec![sql],
                label: format!("{what} {} on {}", s.row.session_id, s.node),
            }],
        }));
    }

    /// Asks to reset the query digests of every node.
    fn ask_reset_digests(&mut self) {
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: "Reset query digests".into(),
            lines: vec![
                format!(
                    "Reset stats_mysql_query_digest on all {} node(s)?",
                    self.nodes.len()
                ),
                String::new(),
                format!("  {}", crate::client::queries::QUERY_DIGEST_RESET),
            ],
            ops: vec![Op::Sql {
                nodes: (0..self.nodes.len()).collect(),
                statements: vec![crate::client::queries::QUERY_DIGEST_RESET.to_owned()],
                label: "reset query digests".into(),
            }],
        }));
    }

    /// The view shown.
    pub fn view(&self) -> View {
        self.view
    }

    /// The diagnosis of the latest snapshots.
    pub fn findings(&self) -> &[Finding] {
        &self.derived.findings
    }

    /// Matrix rows: the known modules, then any other name a node reports.
    pub fn modules(&self) -> &[String] {
        &self.derived.modules
    }

    /// The checksum matrix of the latest snapshots, one column per node in node order.
    pub fn matrix(&self) -> &Matrix {
        &self.derived.matrix
    }

    /// The events seen so far.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// The open overlay.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    /// The footer message, while fresh.
    pub fn status(&self) -> Option<&Status> {
        self.status
            .as_ref()
            .filter(|s| self.now.saturating_sub(s.at) < STATUS_SECS)
    }

    /// The theme in use.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The key bindings.
    pub fn keymap(&self) -> &KeyMap {
        &self.keymap
    }

    /// Per-node state, in node order.
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// Index of the selected node (0 when there is none).
    pub fn selected_node_index(&self) -> usize {
        self.sel_node.min(self.nodes.len().saturating_sub(1))
    }

    /// The selected node.
    pub fn selected_node(&self) -> Option<&NodeState> {
        self.nodes.get(self.selected_node_index())
    }

    /// Every node's latest snapshot.
    pub fn snapshots(&self) -> Vec<Option<&NodeSnapshot>> {
        self.nodes.iter().map(|n| n.snapshot.as_ref()).collect()
    }

    fn matches_filter(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }

    /// Matrix rows after the filter.
    pub fn visible_modules(&self) -> Vec<&str> {
        self.modules()
            .iter()
            .map(String::as_str)
            .filter(|m| self.matches_filter(m))
            .collect()
    }

    /// The selected matrix row's module name.
    pub fn selected_module(&self) -> Option<&str> {
        let visible = self.visible_modules();
        visible
            .get(self.sel_module.min(visible.len().saturating_sub(1)))
            .copied()
    }

    /// Index of the selected row among the visible modules.
    pub fn selected_module_index(&self) -> usize {
        self.sel_module
            .min(self.visible_modules().len().saturating_sub(1))
    }

    /// Findings after the filter, most severe first.
    pub fn visible_findings(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self
            .findings()
            .iter()
            .filter(|f| {
                self.filter.is_empty()
                    || self.matches_filter(&format!(
                        "{} {} {} {}",
                        f.module.map_or("", Module::name),
                        class_label(&f.class),
                        f.why,
                        f.node_to_act_on.as_deref().unwrap_or("")
                    ))
            })
            .collect();
        v.sort_by_key(|f| std::cmp::Reverse(f.severity));
        v
    }

    /// The selected finding in the diagnosis view.
    pub fn selected_finding(&self) -> Option<&Finding> {
        let v = self.visible_findings();
        v.get(self.sel_finding.min(v.len().saturating_sub(1)))
            .copied()
    }

    /// Index of the selected finding among the visible ones.
    pub fn selected_finding_index(&self) -> usize {
        self.sel_finding
            .min(self.visible_findings().len().saturating_sub(1))
    }

    /// Scroll offset of a view.
    pub fn scroll(&self, view: View) -> usize {
        self.scroll[view_slot(view)]
    }

    /// The detail tables, when they belong to the selected node.
    pub fn detail(&self) -> Option<&Result<NodeDetail, String>> {
        match &self.detail {
            Some((i, d)) if *i == self.selected_node_index() => Some(d),
            _ => None,
        }
    }

    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name() == name)
    }

    fn node_names(&self) -> Vec<&str> {
        self.nodes.iter().map(NodeState::name).collect()
    }

    fn set_status(&mut self, text: impl Into<String>, severity: Severity) {
        self.status = Some(Status {
            text: text.into(),
            severity,
            at: self.now,
        });
    }

    fn log(&mut self, node: Option<&str>, kind: EventKind, text: String) {
        self.events.push(Event {
            at: self.now,
            node: node.map(str::to_owned),
            kind,
            text,
        });
    }

    fn log_drill(&mut self, m: Milestone) {
        let text = format!("drill +{}: {}", failover::secs(m.at_ms), m.text);
        self.log(None, EventKind::Drill, text);
    }

    /// Settles what the views show of the snapshots; called whenever one changes.
    fn rederive(&mut self) {
        self.derived = derive(&self.nodes);
    }

    /// Applies one action; returns the work it asks for.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => {
                let effects = self.on_key(key);
                if self.traffic_target().is_some() {
                    self.settle_traffic();
                }
                effects
            }
            Action::Paste(text) => {
                if let Some(Overlay::Input { editor, kind, .. }) = &mut self.overlay {
                    editor.insert(&text);
                    if *kind == InputKind::Filter {
                        self.filter = editor.text().to_owned();
                    }
                }
                if self.traffic_target().is_some() {
                    self.settle_traffic();
                }
                Vec::new()
            }
            Action::Resize => Vec::new(),
            Action::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Action::Snapshot { node, snapshot } => {
                self.on_snapshot(node, snapshot);
                Vec::new()
            }
            Action::Ha { node, info } => {
                self.on_ha(node, info);
                Vec::new()
            }
            Action::Traffic { node, at_ms, data } => {
                if node < self.nodes.len() {
                    self.traffic.on_data(node, at_ms, data);
                    self.settle_traffic();
                }
                Vec::new()
            }
            Action::Detail { node, detail } => {
                if node < self.nodes.len() {
                    self.detail = Some((node, detail));
                }
                Vec::new()
            }
            Action::Variables { node, variables } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.variables = Some(variables);
                }
                Vec::new()
            }
            Action::LogLines { node, lines } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    for line in lines {
                        if n.log.len() == LOG_LINES {
                            n.log.pop_front();
                        }
                        n.log.push_back(line);
                    }
                }
                Vec::new()
            }
            Action::Drill(event) => {
                let added = self.drill.as_mut().and_then(|p| p.apply(&event));
                if let Some(m) = added {
                    self.log_drill(m);
                }
                Vec::new()
            }
            Action::DrillDone(outcome) => {
                if let Some(panel) = self.drill.as_mut() {
                    let m = panel.finish(outcome.map(|r| *r));
                    let severity = m.severity;
                    self.set_status(m.text.clone(), severity);
                    self.log_drill(m);
                }
                vec![Effect::PollNow]
            }
            Action::JobDone { job, outcome } => self.on_job_done(job, outcome),
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Layers { node, layers } => {
                self.on_layers(node, layers);
                Vec::new()
            }
        }
    }

    /// Settles a layer read: the node view's rows and, through the diagnosis, its findings.
    fn on_layers(&mut self, i: usize, layers: Result<crate::client::layers::NodeLayers, String>) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(i) else {
            return;
        };
        if layers
            .as_ref()
            .is_ok_and(|l| l.fetched_at <= n.layers_stale_until)
        {
            return;
        }
        n.layers = Some(match layers {
            Ok(l) => LayerState::Read(NodeLayerView::of(l)),
            Err(error) => LayerState::Failed { error, at: now },
        });
        self.rederive();
    }

    fn on_snapshot(&mut self, i: usize, snapshot: NodeSnapshot) {
        let Some(node) = self.nodes.get(i) else {
            return;
        };
        let others: Vec<&NodeSnapshot> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, n)| n.snapshot.as_ref())
            .collect();
        let new_events = events::diff(node.snapshot.as_ref(), &snapshot, &others);
        for e in new_events {
            self.events.push(e);
        }
        let ok = snapshot.result.is_ok();
        let at = snapshot.fetched_at;
        let ha_before = self.vip_holders();
        let node = &mut self.nodes[i];
        if node.history.len() == HISTORY {
            node.history.pop_front();
        }
        node.history.push_back(ok);
        node.down_since = match (ok, node.down_since) {
            (true, _) => None,
            (false, Some(t)) => Some(t),
            (false, None) => Some(at),
        };
        if !ok {
            // A node that does not answer cannot be trusted to hold anything.
            node.ha = HaInfo::Unknown;
        }
        node.snapshot = Some(snapshot);
        self.vip_events(ha_before, at);
        self.rederive();
    }

    fn on_ha(&mut self, i: usize, info: HaInfo) {
        if i >= self.nodes.len() {
            return;
        }
        let before = self.vip_holders();
        self.nodes[i].ha = info;
        self.vip_events(before, self.now);
    }

    /// VIP → the first node reporting it holds it; every VIP any node knows appears.
    pub fn vip_holders(&self) -> BTreeMap<String, Option<String>> {
        let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
        for n in &self.nodes {
            if let HaInfo::Rows(rows) = &n.ha {
                for r in rows {
                    let slot = out.entry(r.vip.clone()).or_default();
                    if r.vip_held && slot.is_none() {
                        *slot = Some(n.name().to_owned());
                    }
                }
            }
        }
        out
    }

    fn vip_events(&mut self, before: BTreeMap<String, Option<String>>, at: u64) {
        let after = self.vip_holders();
        let mut vips: Vec<&String> = before.keys().chain(after.keys()).collect();
        vips.sort();
        vips.dedup();
        let evs: Vec<Event> = vips
            .into_iter()
            .filter_map(|vip| {
                let from = before.get(vip).cloned().flatten();
                let to = after.get(vip).cloned().flatten();
                events::vip_moved(at, vip, from.as_deref(), to.as_deref())
            })
            .collect();
        for e in evs {
            self.events.push(e);
        }
    }

    fn on_job_done(&mut self, job: JobId, outcome: JobOutcome) -> Vec<Effect> {
        let label = self
            .running
            .remove(&job)
            .unwrap_or_else(|| format!("job {job}"));
        let ok = outcome.ok();
        if let JobOutcome::Sql(results) = &outcome {
            // What ran may have changed any layer there: forget the old read rather than
            // show (and diagnose) it until the next one.
            let mut changed = false;
            let now = self.now;
            for r in results {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.name() == r.node) {
                    n.layers_stale_until = now;
                    changed |= n.layers.take().is_some();
                }
            }
            if changed {
                self.rederive();
            }
        }
        let severity = if ok { Severity::Ok } else { Severity::Critical };
        let verdict = if ok { "done" } else { "FAILED" };
        let mut lines = Vec::new();
        match &outcome {
            JobOutcome::Fault(Ok(text)) => lines.push(PaneLine::sev(text.clone(), Severity::Ok)),
            JobOutcome::Fault(Err(e)) => lines.push(PaneLine::sev(e.clone(), Severity::Critical)),
            JobOutcome::Sql(nodes) => {
                for n in nodes {
                    if let Some(e) = &n.error {
                        lines.push(PaneLine::sev(
                            format!("{}: {e}", n.node),
                            Severity::Critical,
                        ));
                        continue;
                    }
                    for step in &n.steps {
                        match &step.result {
                            Ok(o) if !o.result.columns.is_empty() => {
                                lines.push(PaneLine::sev(
                                    format!(
                                        "{}: {} → {} rows",
                                        n.node,
                                        step.sql,
                                        o.result.rows.len()
                                    ),
                                    Severity::Ok,
                                ));
                                lines.extend(
                                    result_table(&o.result).into_iter().map(PaneLine::plain),
                                );
                            }
                            Ok(o) => {
                                let mut text = format!("{}: {} → OK", n.node, step.sql);
                                if o.affected_rows > 0 {
                                    text += &format!(", {} rows affected", o.affected_rows);
                                }
                                if !o.info.is_empty() {
                                    text += &format!(" ({})", o.info);
                                }
                                lines.push(PaneLine::sev(text, Severity::Ok));
                            }
                            Err(e) => lines.push(PaneLine::sev(
                                format!("{}: {} → {e}", n.node, step.sql),
                                Severity::Critical,
                            )),
                        }
                    }
                }
            }
        }
        let summary = match (&outcome, lines.first()) {
            (JobOutcome::Fault(_), Some(first)) => format!("{label}: {verdict}: {}", first.text),
            _ => format!("{label}: {verdict}"),
        };
        self.log(None, EventKind::Action, summary.clone());
        self.set_status(summary, severity);
        if !matches!(
            self.overlay,
            Some(Overlay::Confirm(_) | Overlay::Input { .. })
        ) {
            self.overlay = Some(Overlay::Result {
                title: format!("{label}: {verdict}"),
                lines,
                scroll: 0,
            });
        }
        // Show the consequences now rather than at the next interval.
        vec![Effect::PollNow]
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        // Ctrl-C always leaves, whatever the bindings and overlays.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Vec::new();
        }
        match self.overlay.take() {
            None => match self.keymap.command(&key) {
                Some(c) => self.command(c),
                None => Vec::new(),
            },
            Some(Overlay::Input {
                kind,
                mut editor,
                before,
            }) => self.on_input_key(key, kind, &mut editor, before),
            Some(Overlay::Confirm(confirm)) => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => self.run_ops(confirm.ops),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.set_status("cancelled", Severity::Ok);
                    Vec::new()
                }
                _ => {
                    self.overlay = Some(Overlay::Confirm(confirm));
                    Vec::new()
                }
            },
            Some(Overlay::Help { scroll }) => match self.scroll_overlay(&key, scroll) {
                Pane::Scroll(s) => {
                    self.overlay = Some(Overlay::Help { scroll: s });
                    Vec::new()
                }
                Pane::Close => Vec::new(),
                Pane::Pass(c) => self.command(c),
            },
            Some(Overlay::Result {
                title,
                lines,
                scroll,
            }) => match self.scroll_overlay(&key, scroll) {
                Pane::Scroll(s) => {
                    self.overlay = Some(Overlay::Result {
                        title,
                        lines,
                        scroll: s,
                    });
                    Vec::new()
                }
                Pane::Close => Vec::new(),
                Pane::Pass(c) => self.command(c),
            },
        }
    }

    /// What a key does to a scrollable pane: scroll keys scroll it, closing keys close it, and
    /// any other command closes it and then runs, so the pane never swallows a key.
    fn scroll_overlay(&self, key: &KeyEvent, scroll: usize) -> Pane {
        match self.keymap.command(key) {
            Some(Command::Up) => Pane::Scroll(scroll.saturating_sub(1)),
            Some(Command::Down) => Pane::Scroll(scroll + 1),
            Some(Command::PageUp) => Pane::Scroll(scroll.saturating_sub(PAGE)),
            Some(Command::PageDown) => Pane::Scroll(scroll + PAGE),
            Some(Command::Back | Command::Help | Command::Quit | Command::Inspect) => Pane::Close,
            Some(other) => Pane::Pass(other),
            None if key.code == KeyCode::Esc => Pane::Close,
            None => Pane::Scroll(scroll),
        }
    }

    fn on_input_key(
        &mut self,
        key: KeyEvent,
        kind: InputKind,
        editor: &mut LineEditor,
        before: String,
    ) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                if kind == InputKind::Filter {
                    self.filter = before;
                }
                return Vec::new();
            }
            KeyCode::Enter => {
                let text = editor.text().to_owned();
                return match kind {
                    InputKind::Filter => {
                        self.filter = text.trim().to_owned();
                        Vec::new()
                    }
                    InputKind::Palette => self.run_palette(&text),
                };
            }
            KeyCode::Backspace => editor.backspace(),
            KeyCode::Delete => editor.delete(),
            KeyCode::Left => editor.move_by(-1),
            KeyCode::Right => editor.move_by(1),
            KeyCode::Home => editor.home(),
            KeyCode::End => editor.end(),
            KeyCode::Char('u') if ctrl => editor.clear(),
            KeyCode::Char('a') if ctrl => editor.home(),
            KeyCode::Char('e') if ctrl => editor.end(),
            KeyCode::Tab if kind == InputKind::Palette => {
                // Complete the command word when exactly one command fits.
                let c = palette::completions(editor.text());
                if let [(usage, _)] = c.as_slice() {
                    let word = usage.split_whitespace().next().unwrap_or("");
                    *editor = LineEditor::with_text(&format!("{word} "));
                }
            }
            KeyCode::Char(c) if !ctrl => editor.insert(&c.to_string()),
            _ => {}
        }
        if kind == InputKind::Filter {
            self.filter = editor.text().trim().to_owned();
            self.sel_module = 0;
            self.sel_finding = 0;
        }
        self.overlay = Some(Overlay::Input {
            kind,
            editor: editor.clone(),
            before,
        });
        Vec::new()
    }

    /// Runs a command from the key map.
    pub fn command(&mut self, command: Command) -> Vec<Effect> {
        if self.replay && (command.is_action() || command == Command::RefreshNow) {
            self.set_status(
                format!(
                    "replay: {} is disabled, it would act on a node and this is a recording",
                    command.name()
                ),
                Severity::Warning,
            );
            return Vec::new();
        }
        if command.is_action() && self.read_only {
            self.set_status(
                format!("read-only: {} is disabled", command.name()),
                Severity::Warning,
            );
            return Vec::new();
        }
        let v = view_slot(self.view);
        match command {
            Command::Quit => self.quit = true,
            Command::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Command::Palette => {
                self.overlay = Some(Overlay::Input {
                    kind: InputKind::Palette,
                    editor: LineEditor::default(),
                    before: self.filter.clone(),
                })
            }
            Command::Filter => {
                self.overlay = Some(Overlay::Input {
                    kind: InputKind::Filter,
                    editor: LineEditor::with_text(&self.filter),
                    before: self.filter.clone(),
                })
            }
            Command::NextView => self.show(self.view.next()),
            Command::PrevView => self.show(self.view.prev()),
            Command::ViewMatrix => self.show(View::Matrix),
            Command::ViewDiagnosis => self.show(View::Diagnosis),
            Command::ViewNode => self.show(View::Node),
            Command::ViewHa => self.show(View::Ha),
            Command::ViewEvents => self.show(View::Events),
            Command::ViewTraffic => self.show(View::Traffic),
            Command::ViewHostgroups => self.show(View::Hostgroups),
            Command::ViewProcesslist => self.show(View::Processlist),
            Command::ViewDigests => self.show(View::Digests),
            Command::ViewStats => self.show(View::Stats),
            Command::SortNext => match self.view {
                View::Processlist => {
                    self.traffic.session_sort = self.traffic.session_sort.next();
                    self.set_status(
                        format!("sorted by {}", self.traffic.session_sort.name()),
                        Severity::Ok,
                    );
                }
                View::Digests => {
                    self.traffic.digest_sort = self.traffic.digest_sort.next();
                    self.set_status(
                        format!("sorted by {}", self.traffic.digest_sort.name()),
                        Severity::Ok,
                    );
                }
                View::Stats => {
                    self.traffic.stats_pane = self.traffic.stats_pane.next();
                    self.traffic.selected = 0;
                    self.set_status(
                        format!("showing {}", self.traffic.stats_pane.name()),
                        Severity::Ok,
                    );
                }
                _ => {}
            },
            Command::KillConnection if self.view == View::Processlist => {
                self.ask_kill_session()
            }
            // ProxySQL 2.7's admin port answers `KILL QUERY` with `near "KILL": syntax error`
            // (only `KILL CONNECTION` is an admin command): say so instead of sending a
            // statement that fails on every real node.
            Command::KillQuery if self.view == View::Processlist => self.set_status(
                "KILL QUERY: ProxySQL 2.7's admin port does not accept it; x ends the whole connection",
                Severity::Warning,
            ),
            Command::KillConnection | Command::KillQuery => {
                self.set_status("kill a session from the processlist (8)", Severity::Warning)
            }
            Command::ResetDigests if self.view == View::Digests => self.ask_reset_digests(),
            Command::ResetDigests => {
                self.set_status("reset digests from the digests view (9)", Severity::Warning)
            }
            Command::Up => self.vertical(-1),
            Command::Down => self.vertical(1),
            Command::PageUp => self.vertical(-(PAGE as isize)),
            Command::PageDown => self.vertical(PAGE as isize),
            Command::Left => self.move_node(-1),
            Command::Right => self.move_node(1),
            Command::Inspect => match self.view {
                View::Matrix => self.inspect = !self.inspect,
                View::Diagnosis => self.jump_to_finding(),
                _ => {}
            },
            Command::Back => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                } else if self.inspect {
                    self.inspect = false;
                } else {
                    self.scroll[v] = 0;
                }
            }
            Command::RefreshFaster => self.step_refresh(false),
            Command::RefreshSlower => self.step_refresh(true),
            Command::RefreshNow => {
                self.set_status("polling every node now", Severity::Ok);
                return vec![Effect::PollNow];
            }
            Command::ReloadModule => self.ask_reload(),
            Command::ApplyFix => self.ask_fix(),
            Command::Kill => self.ask_fault(Fault::Kill, None),
            Command::Freeze => self.ask_fault(Fault::Freeze, None),
            Command::Thaw => self.ask_fault(Fault::Thaw, None),
            Command::Pause => self.ask_fault(Fault::Pause, None),
            Command::Resume => self.ask_fault(Fault::Resume, None),
            Command::Restart => self.ask_fault(Fault::Restart, None),
            Command::Drill => self.ask_drill(DrillRequest::default()),
            Command::Reseed => {
                if !self.nodes.is_empty() {
                    self.ask_reseed(self.selected_node_index());
                }
            }
            Command::CycleTheme => {
                if let Some(t) = self.themes.next_after(&self.theme.name).cloned() {
                    self.set_status(format!("theme {}", t.name), Severity::Ok);
                    self.theme = t;
                }
            }
        }
        Vec::new()
    }

    fn show(&mut self, view: View) {
        self.view = view;
    }

    fn vertical(&mut self, delta: isize) {
        let v = view_slot(self.view);
        match self.view {
            View::Matrix => {
                let n = self.visible_modules().len();
                self.sel_module = clamp_step(self.selected_module_index(), delta, n);
            }
            View::Diagnosis => {
                let n = self.visible_findings().len();
                self.sel_finding = clamp_step(self.selected_finding_index(), delta, n);
            }
            // The events list grows at the bottom; scrolling up goes back in time.
            View::Events => self.scroll[v] = self.scroll[v].saturating_add_signed(-delta),
            View::Node | View::Ha => self.scroll[v] = self.scroll[v].saturating_add_signed(delta),
            View::Traffic | View::Hostgroups | View::Processlist | View::Digests | View::Stats => {
                self.traffic.step(delta)
            }
        }
    }

    fn move_node(&mut self, delta: isize) {
        let n = self.nodes.len();
        if n == 0 {
            return;
        }
        let i = self.selected_node_index() as isize + delta;
        self.sel_node = i.rem_euclid(n as isize) as usize;
        if self.view == View::Node {
            self.scroll[view_slot(View::Node)] = 0;
        }
    }

    fn jump_to_finding(&mut self) {
        let Some(f) = self.selected_finding().cloned() else {
            return;
        };
        let node = f.node_to_act_on.clone().or_else(|| match &f.class {
            Class::Converging { puller, .. } | Class::SyncFailing { puller, .. } => {
                Some(puller.clone())
            }
            Class::PeerUnreachable { node, .. }
            | Class::CredentialsRefused { node, .. }
            | Class::Config { node, .. } => Some(node.clone()),
            _ => None,
        });
        if let Some(i) = node.and_then(|n| self.node_index(&n)) {
            self.sel_node = i;
        }
        if let Some(m) = f.module {
            self.filter.clear();
            if let Some(i) = self.modules().iter().position(|x| x == m.name()) {
                self.sel_module = i;
            }
            self.inspect = true;
            self.view = View::Matrix;
        } else {
            self.view = View::Node;
        }
    }

    fn step_refresh(&mut self, slower: bool) {
        let cur = self.refresh.as_millis() as u64;
        let next = if slower {
            REFRESH_STEPS_MS.iter().copied().find(|s| *s > cur)
        } else {
            REFRESH_STEPS_MS.iter().rev().copied().find(|s| *s < cur)
        };
        if let Some(ms) = next {
            self.refresh = Duration::from_millis(ms);
        }
        self.set_status(
            format!("polling every {}", fmt_interval(self.refresh)),
            Severity::Ok,
        );
    }

    fn describe_node(&self, i: usize) -> String {
        let n = &self.nodes[i];
        let mut s = format!("{} ({})", n.name(), n.addr.endpoint());
        if let model::Reach::Down(cause) = model::Reach::of(n.snapshot.as_ref()) {
            s += &format!(" — unreachable now: {cause}");
        }
        s
    }

    fn ask_reload(&mut self) {
        let Some(name) = self.selected_module().map(str::to_owned) else {
            self.set_status("no module selected", Severity::Warning);
            return;
        };
        let Some(module) = Module::from_name(&name) else {
            self.set_status(
                format!("{name} cannot be loaded from the console"),
                Severity::Warning,
            );
            return;
        };
        let node = self.selected_node_index();
        self.ask_load(module, vec![node]);
    }

    fn ask_load(&mut self, module: Module, nodes: Vec<usize>) {
        if nodes.is_empty() {
            return;
        }
        let sql = queries::load_to_runtime(module).to_owned();
        let names: Vec<&str> = nodes.iter().map(|i| self.nodes[*i].name()).collect();
        let label = format!("{sql} on {}", names.join(", "));
        let mut lines = vec!["Run on".to_owned()];
        lines.extend(
            nodes
                .iter()
                .map(|i| format!("  {}", self.describe_node(*i))),
        );
        lines.push(String::new());
        lines.push(format!("  {sql}"));
        lines.push(String::new());
        lines.push(format!(
            "This bumps {module}'s version and epoch there, making it the newest sync source."
        ));
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: format!("Reload {module}"),
            lines,
            ops: vec![Op::Sql {
                nodes,
                statements: vec![sql],
                label,
            }],
        }));
    }

    /// The fix the `apply_fix` key means here: the selected finding's in the diagnosis view;
    /// elsewhere the selected module's, or every fix when that module has none.
    pub fn current_fixes(&self) -> Result<Vec<Fix>, String> {
        if self.view == View::Diagnosis {
            let f = self.selected_finding().ok_or("no finding selected")?;
            return f
                .fix
                .clone()
                .map(|f| vec![f])
                .ok_or_else(|| format!("no fix to apply for: {}", class_label(&f.class)));
        }
        if let Some(module) = self.selected_module().and_then(Module::from_name) {
            if let Some(fix) =
                matrix::module_findings(self.findings(), module).find_map(|f| f.fix.clone())
            {
                return Ok(vec![fix]);
            }
        }
        let all = diagnosis::fixes(self.findings());
        if all.is_empty() {
            Err("nothing to fix: the diagnosis has no fix to apply".into())
        } else {
            Ok(all)
        }
    }

    fn ask_fix(&mut self) {
        let fixes = match self.current_fixes() {
            Ok(f) => f,
            Err(e) => {
                self.set_status(e, Severity::Ok);
                return;
            }
        };
        // A fix with a value only the operator knows goes to the palette for editing.
        if let Some(fix) = fixes
            .iter()
            .find(|f| f.sql.iter().any(|s| palette::has_placeholder(s)))
        {
            let line = format!("sql {} {}", fix.node, fix.sql.join("; "));
            self.overlay = Some(Overlay::Input {
                kind: InputKind::Palette,
                editor: LineEditor::with_text(&line),
                before: self.filter.clone(),
            });
            self.set_status("fill in the <…> value, then Enter", Severity::Warning);
            return;
        }
        let mut ops = Vec::new();
        let mut lines = Vec::new();
        for fix in &fixes {
            let Some(i) = self.node_index(&fix.node) else {
                self.set_status(
                    format!(
                        "the fix names {}, which the console does not poll",
                        fix.node
                    ),
                    Severity::Warning,
                );
                return;
            };
            lines.push(format!("On {}:", self.describe_node(i)));
            lines.extend(fix.sql.iter().map(|s| format!("  {s}")));
            ops.push(Op::Sql {
                nodes: vec![i],
                statements: fix.sql.clone(),
                label: format!("fix on {}", fix.node),
            });
        }
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: "Apply the diagnosis's fix".into(),
            lines,
            ops,
        }));
    }

    fn ask_fault(&mut self, fault: Fault, node: Option<usize>) {
        if self.nodes.is_empty() {
            return;
        }
        let i = node.unwrap_or_else(|| self.selected_node_index());
        let n = &self.nodes[i];
        let (verb, how) = fault_text(fault, n.managed);
        let label = format!("{verb} {}", n.name());
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: format!("{verb} {}", n.name()),
            lines: vec![
                format!("{verb} {}?", self.describe_node(i)),
                String::new(),
                format!("  {how}"),
            ],
            ops: vec![Op::Fault {
                node: i,
                fault,
                label,
            }],
        }));
    }

    fn ask_drill(&mut self, request: DrillRequest) {
        if self.drill.as_ref().is_some_and(DrillPanel::running) {
            self.set_status("a failover drill is already running", Severity::Warning);
            return;
        }
        let t = request.profile.timing();
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: "Failover drill".into(),
            lines: vec![
                format!(
                    "Start {} drill nodes with a VIP on loopback ({} timing: advert {} s, check {} s, fall {}),",
                    failover::DEFAULT_NODES,
                    request.profile_name(),
                    t.advert_int.as_secs_f64(),
                    t.check_interval.as_secs_f64(),
                    t.fall
                ),
                format!(
                    "INSERT through the VIP every {} ms into tab1 on the MariaDB lab's primary,",
                    failover::DEFAULT_WRITE_INTERVAL.as_millis()
                ),
                format!(
                    "{} the VIP holder, bring it back, and check every acknowledged row.",
                    request.fault_name()
                ),
                String::new(),
                "The watched nodes are not touched; the HA view follows the drill.".into(),
            ],
            ops: vec![Op::Drill(request)],
        }));
    }

    /// Asks to re-seed node `i`: the plan of `diagnosis::reseed` from its latest snapshot and
    /// its layers when read (the node view reads them), every statement listed; on yes they
    /// run in order on one connection, stopping at the first failure.
    fn ask_reseed(&mut self, i: usize) {
        let n = &self.nodes[i];
        let Some(snapshot) = n.snapshot.as_ref() else {
            self.set_status(
                format!("{} not polled yet: nothing to re-seed from", n.name()),
                Severity::Warning,
            );
            return;
        };
        let layers = n.layers.as_ref().and_then(LayerState::layers);
        let plan = match diagnosis::reseed::plan(snapshot, layers) {
            Ok(p) => p,
            Err(e) => {
                self.set_status(format!("re-seed: {e}"), Severity::Warning);
                return;
            }
        };
        if plan.steps.is_empty() {
            let why = if layers.is_some() {
                "no module at version 1, DISK holds what runs"
            } else {
                "no module at version 1 (layers not read: open the node view (3) to check DISK)"
            };
            self.set_status(
                format!("nothing to re-seed on {}: {why}", plan.node),
                Severity::Ok,
            );
            return;
        }
        let mut lines = vec![
            format!(
                "Make {} the cluster's authoritative source:",
                self.describe_node(i)
            ),
            String::new(),
        ];
        // One line per statement, so the whole list fits an 80x24 terminal; the full
        // reasons are those of `pxadm --batch reseed --dry-run`.
        let width = plan.steps.iter().map(|s| s.sql.len()).max().unwrap_or(0);
        for (k, step) in plan.steps.iter().enumerate() {
            let why = if step.sql.starts_with("SAVE ") {
                "DISK differs: a restart reverts it"
            } else {
                "version 1: no peer syncs from it"
            };
            lines.push(format!("  {}. {:<width$}  {why}", k + 1, step.sql));
        }
        if !plan.notes.is_empty() {
            lines.push(String::new());
            lines.extend(plan.notes.iter().map(|note| format!("Note: {note}")));
        }
        let label = format!("re-seed {}", plan.node);
        self.overlay = Some(Overlay::Confirm(Confirm {
            title: format!("Re-seed {}", plan.node),
            lines,
            ops: vec![Op::Sql {
                nodes: vec![i],
                statements: plan.steps.into_iter().map(|s| s.sql).collect(),
                label,
            }],
        }));
    }

    fn run_ops(&mut self, ops: Vec<Op>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for op in ops {
            let job = self.next_job;
            self.next_job += 1;
            match op {
                Op::Sql {
                    nodes,
                    statements,
                    label,
                } => {
                    self.running.insert(job, label);
                    effects.push(Effect::Execute {
                        job,
                        nodes,
                        statements,
                    });
                }
                Op::Fault { node, fault, label } => {
                    self.running.insert(job, label);
                    effects.push(Effect::Inject { job, node, fault });
                }
                Op::Drill(request) => {
                    self.drill = Some(DrillPanel::new(request, self.now));
                    self.view = View::Ha;
                    self.log(
                        None,
                        EventKind::Drill,
                        format!(
                            "failover drill started ({} timing, {})",
                            request.profile_name(),
                            request.fault_name()
                        ),
                    );
                    effects.push(Effect::Drill(request));
                }
            }
        }
        if self.running.is_empty() {
            self.set_status("failover drill running: HA view", Severity::Ok);
            return effects;
        }
        let labels: Vec<&str> = self.running.values().map(String::as_str).collect();
        self.set_status(format!("running: {}", labels.join("; ")), Severity::Ok);
        effects
    }

    fn targets(&self, target: &Target) -> Result<Vec<usize>, String> {
        match target {
            Target::All => Ok((0..self.nodes.len()).collect()),
            Target::Selected if self.nodes.is_empty() => Err("no nodes".into()),
            Target::Selected => Ok(vec![self.selected_node_index()]),
            Target::Node(name) => self
                .node_index(name)
                .map(|i| vec![i])
                .ok_or_else(|| format!("no node named '{name}'")),
        }
    }

    fn run_palette(&mut self, line: &str) -> Vec<Effect> {
        let names: Vec<String> = self.node_names().into_iter().map(str::to_owned).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let cmd = match palette::parse(line, &names) {
            Ok(c) => c,
            Err(e) => {
                self.set_status(e, Severity::Warning);
                return Vec::new();
            }
        };
        let is_action = matches!(
            &cmd,
            PaletteCommand::Load { .. }
                | PaletteCommand::Fault { .. }
                | PaletteCommand::Fix
                | PaletteCommand::Drill(_)
                | PaletteCommand::Reseed(_)
        ) || matches!(&cmd, PaletteCommand::Sql { statements, .. } if !statements.iter().all(|s| palette::is_read_only(s)));
        if self.replay
            && matches!(
                &cmd,
                PaletteCommand::Sql { .. }
                    | PaletteCommand::Load { .. }
                    | PaletteCommand::Fault { .. }
                    | PaletteCommand::Fix
                    | PaletteCommand::Drill(_)
                    | PaletteCommand::Reseed(_)
                    | PaletteCommand::Refresh(_)
            )
        {
            self.set_status(
                "replay: this is a recording, no node can be reached from it",
                Severity::Warning,
            );
            return Vec::new();
        }
        if is_action && self.read_only {
            self.set_status(
                "read-only: only SELECT and SHOW statements may run",
                Severity::Warning,
            );
            return Vec::new();
        }
        match cmd {
            PaletteCommand::Sql { target, statements } => {
                let nodes = match self.targets(&target) {
                    Ok(n) => n,
                    Err(e) => {
                        self.set_status(e, Severity::Warning);
                        return Vec::new();
                    }
                };
                let names: Vec<&str> = nodes.iter().map(|i| self.nodes[*i].name()).collect();
                let label = format!(
                    "{} on {}",
                    abbreviate(&statements.join("; "), 60),
                    names.join(", ")
                );
                let op = Op::Sql {
                    nodes: nodes.clone(),
                    statements: statements.clone(),
                    label,
                };
                if !is_action {
                    return self.run_ops(vec![op]);
                }
                let mut lines = vec!["Run on".to_owned()];
                lines.extend(
                    nodes
                        .iter()
                        .map(|i| format!("  {}", self.describe_node(*i))),
                );
                lines.push(String::new());
                lines.extend(statements.iter().map(|s| format!("  {s}")));
                self.overlay = Some(Overlay::Confirm(Confirm {
                    title: "Run admin SQL".into(),
                    lines,
                    ops: vec![op],
                }));
            }
            PaletteCommand::Load { module, target } => match self.targets(&target) {
                Ok(nodes) => self.ask_load(module, nodes),
                Err(e) => self.set_status(e, Severity::Warning),
            },
            PaletteCommand::Fault { fault, target } => match self.targets(&target) {
                Ok(nodes) => self.ask_fault(fault, nodes.first().copied()),
                Err(e) => self.set_status(e, Severity::Warning),
            },
            PaletteCommand::Drill(request) => self.ask_drill(request),
            PaletteCommand::Reseed(target) => match self.targets(&target) {
                Ok(nodes) => {
                    if let Some(i) = nodes.first() {
                        self.ask_reseed(*i);
                    }
                }
                Err(e) => self.set_status(e, Severity::Warning),
            },
            PaletteCommand::Theme(None) => return self.command(Command::CycleTheme),
            PaletteCommand::Theme(Some(name)) => match self.themes.get(&name).cloned() {
                Some(t) => {
                    self.theme = t;
                    self.set_status(format!("theme {name}"), Severity::Ok);
                }
                None => self.set_status(
                    format!(
                        "no theme '{name}' (themes: {})",
                        self.themes.names().join(", ")
                    ),
                    Severity::Warning,
                ),
            },
            PaletteCommand::Refresh(d) => {
                self.refresh = d;
                self.set_status(format!("polling every {}", fmt_interval(d)), Severity::Ok);
            }
            PaletteCommand::View(v) => self.show(v),
            PaletteCommand::Filter(f) => {
                self.filter = f;
                self.sel_module = 0;
                self.sel_finding = 0;
            }
            PaletteCommand::Fix => self.ask_fix(),
            PaletteCommand::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            PaletteCommand::Quit => self.quit = true,
        }
        Vec::new()
    }

    /// Test and screenshot helper: selects a view and a cell.
    pub fn select(&mut self, view: View, module: Option<&str>, node: Option<&str>) {
        self.view = view;
        if let Some(i) = module.and_then(|m| self.visible_modules().iter().position(|x| *x == m)) {
            self.sel_module = i;
        }
        if let Some(i) = node.and_then(|n| self.node_index(n)) {
            self.sel_node = i;
        }
    }

    /// Test and screenshot helper: shows or hides the matrix's inspection pane.
    pub fn set_inspect(&mut self, on: bool) {
        self.inspect = on;
    }
}

fn view_slot(view: View) -> usize {
    View::ALL.iter().position(|v| *v == view).unwrap_or(0)
}

fn clamp_step(i: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        i.saturating_add_signed(delta).min(len - 1)
    }
}

/// `1s`, `500ms`, `2.5s`.
pub fn fmt_interval(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Shortens text to `max` chars with an ellipsis.
pub fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// What a fault does, for the confirmation: (verb, how).
pub fn fault_text(fault: Fault, managed: bool) -> (&'static str, &'static str) {
    match (fault, managed) {
        (Fault::Kill, true) => ("Kill", "SIGKILL to the node process pxadm started"),
        (Fault::Kill, false) => ("Kill", "PROXYSQL KILL on its admin interface"),
        (Fault::Freeze, _) => (
            "Freeze",
            "SIGSTOP: the process stops answering but keeps its sockets",
        ),
        (Fault::Thaw, _) => ("Thaw", "SIGCONT: the process continues"),
        (Fault::Pause, _) => ("Pause", "PROXYSQL PAUSE: stop accepting client traffic"),
        (Fault::Resume, _) => ("Resume", "PROXYSQL RESUME: accept client traffic again"),
        (Fault::Restart, _) => ("Restart", "stop the node and start it again"),
    }
}

/// A short description of a finding's class.
pub fn class_label(class: &Class) -> String {
    match class {
        Class::InSync => "in sync".into(),
        Class::Converging {
            puller,
            source,
            checks_left,
            ..
        } => match checks_left {
            0 => format!("converging: {puller} pulls from {source} now"),
            n => format!(
                "converging: {puller} pulls from {source} in {n} check{}",
                if *n == 1 { "" } else { "s" }
            ),
        },
        Class::SyncFailing {
            puller,
            source,
            diff_check,
        } => format!("pull failing: {puller} ← {source} (diff_check {diff_check})"),
        Class::StuckVersionOne { node_to_act_on, .. } => {
            format!("stuck at version 1: act on {node_to_act_on}")
        }
        Class::EqualEpochConflict { nodes } => {
            format!("equal-epoch conflict: {}", nodes.join(", "))
        }
        Class::SyncDisabled { nodes } => format!("sync disabled on {}", nodes.join(", ")),
        Class::RuntimeNotSynced { .. } => "runtime list not synced (algorithm 2)".into(),
        Class::Diverged { .. } => "diverged, nobody syncing".into(),
        Class::PeerUnreachable { node, seen_by, .. } => {
            format!("{node} unreachable (by {})", seen_by.join(", "))
        }
        Class::CredentialsRefused { node, refused, .. } => {
            format!("{node} refuses {}", refused.join(", "))
        }
        Class::VersionMismatch { .. } => "@@version differs".into(),
        Class::Config { kind, node, .. } => format!("{} on {node}", kind.name().replace('_', " ")),
    }
}

/// A result set as aligned text lines (at most [`RESULT_ROWS`] rows).
fn result_table(rs: &ResultSet) -> Vec<String> {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for row in rs.rows.iter().take(RESULT_ROWS) {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell(v).chars().count()).min(60);
            }
        }
    }
    let line = |vals: Vec<String>| {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{:<w$}", abbreviate(v, *w), w = *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![format!("  {}", line(rs.columns.clone()))];
    for row in rs.rows.iter().take(RESULT_ROWS) {
        out.push(format!("  {}", line(row.iter().map(cell).collect())));
    }
    if rs.rows.len() > RESULT_ROWS {
        out.push(format!("  … {} more rows", rs.rows.len() - RESULT_ROWS));
    }
    out
}

#[cfg(test)]
mod tests;
