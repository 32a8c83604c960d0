//! `pxadm --batch timeline --replay FILE`: the diagnosis run on every tick of a recording, and
//! every finding that appeared or cleared, with its time. The same scan gives the replay its
//! severity strip and its "next finding" / "next change" jumps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::moment::{fmt_datetime, fmt_duration_ms, fmt_rfc3339, local_offset, parse_time};
use super::reader::{End, ReadError, Recording, Tick};
use crate::client::detail::HaInfo;
use crate::console::batch::report::class_name;
use crate::console::batch::{Exit, Format};
use crate::console::diagnosis::{diagnose, overall, Class, Finding, Severity};
use crate::proxysql::cluster::state::Module;

/// Version of the timeline's JSON shape.
pub const TIMELINE_SCHEMA_VERSION: u32 = 1;

/// `pxadm --batch timeline` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TimelineArgs {
    /// The recording.
    #[arg(long, value_name = "FILE")]
    pub replay: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only changes at or after this time (same syntax as --at).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only changes at or before this time.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

/// Appeared or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The finding is there from this tick on.
    Appeared,
    /// The finding is gone from this tick on.
    Cleared,
}

/// One finding appearing or clearing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Tick index (from 0).
    pub tick: usize,
    /// Unix milliseconds.
    pub at_ms: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Milliseconds since the recording's first tick.
    pub offset_ms: u64,
    /// Appeared or cleared.
    pub change: ChangeKind,
    /// The finding as it was when it appeared, or last seen before it cleared.
    pub finding: Finding,
}

/// What a pass over the whole recording found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Every finding change, in time order.
    pub changes: Vec<Change>,
    /// The diagnosis's overall severity per tick (Ok before any poll).
    pub severity: Vec<Severity>,
    /// Ticks where the cluster's state changed: a finding, a checksum, a node's
    /// reachability, a VIP holder.
    pub state_changes: Vec<usize>,
    /// Findings (other than in-sync) still present at the last tick.
    pub open: Vec<Finding>,
}

impl Scan {
    /// Ticks where a finding appeared or cleared.
    pub fn finding_ticks(&self) -> Vec<usize> {
        let mut t: Vec<usize> = self.changes.iter().map(|c| c.tick).collect();
        t.dedup();
        t
    }
}

/// Who a finding is about, so that one situation keeps one identity while its counters move
/// (`checks_left`, `diff_check`, who sees a node down).
pub fn finding_key(f: &Finding) -> String {
    let who = match &f.class {
        Class::Converging { puller, source, .. } | Class::SyncFailing { puller, source, .. } => {
            format!("{puller}<-{source}")
        }
        Class::StuckVersionOne { node_to_act_on, .. } => node_to_act_on.clone(),
        Class::EqualEpochConflict { nodes }
        | Class::SyncDisabled { nodes }
        | Class::RuntimeNotSynced { nodes } => nodes.join(","),
        Class::PeerUnreachable { node, .. } | Class::Config { node, .. } => node.clone(),
        Class::CredentialsRefused { node, user, .. } => {
            format!("{node}/{}", user.as_deref().unwrap_or(""))
        }
        Class::Diverged { .. } | Class::VersionMismatch { .. } | Class::InSync => String::new(),
    };
    format!(
        "{}|{}|{who}",
        class_name(&f.class),
        f.module.map_or("", Module::name)
    )
}

/// The findings worth a line: everything but "in sync".
fn tracked(findings: Vec<Finding>) -> BTreeMap<String, Finding> {
    findings
        .into_iter()
        .filter(|f| !matches!(f.class, Class::InSync))
        .map(|f| (finding_key(&f), f))
        .collect()
}

/// What, besides findings, counts as a change of state: reachability, checksums, VIP holders.
fn signature(tick: &Tick) -> Vec<String> {
    let mut sig = Vec::new();
    for (i, n) in tick.nodes.iter().enumerate() {
        match n.snapshot.as_ref().map(|s| s.result.as_ref()) {
            None => sig.push(format!("{i}:never")),
            Some(Err(_)) => sig.push(format!("{i}:down")),
            Some(Ok(d)) => {
                for r in &d.checksums {
                    sig.push(format!("{i}:{}={}", r.name, r.checksum));
                }
            }
        }
        if let HaInfo::Rows(rows) = &n.ha {
            for r in rows.iter().filter(|r| r.vip_held) {
                sig.push(format!("{i}:holds {}", r.vip));
            }
        }
    }
    sig
}

/// Runs the diagnosis on every tick.
pub fn scan(rec: &Recording) -> Result<Scan, ReadError> {
    let mut out = Scan::default();
    let mut cursor = rec.cursor()?;
    let mut current: BTreeMap<String, Finding> = BTreeMap::new();
    let mut last_sig: Option<Vec<String>> = None;
    let first = rec.time_of(0).unwrap_or(0);
    while let Some(tick) = cursor.next_tick()? {
        let snaps = tick.snapshots();
        let findings = diagnose(&snaps);
        out.severity.push(if snaps.is_empty() {
            Severity::Ok
        } else {
            overall(&findings)
        });
        let now = tracked(findings);
        let keys: BTreeSet<&String> = current.keys().chain(now.keys()).collect();
        let mut changed = false;
        let change = |kind, finding: &Finding| Change {
            tick: tick.index,
            at_ms: tick.at_ms,
            time: fmt_rfc3339(tick.at_ms),
            offset_ms: tick.at_ms.saturating_sub(first),
            change: kind,
            finding: finding.clone(),
        };
        let mut cleared = Vec::new();
        let mut appeared = Vec::new();
        for k in keys {
            match (current.get(k), now.get(k)) {
                (Some(before), None) => cleared.push(change(ChangeKind::Cleared, before)),
                (None, Some(after)) => appeared.push(change(ChangeKind::Appeared, after)),
                _ => {}
            }
        }
        changed |= !cleared.is_empty() || !appeared.is_empty();
        // Within a tick: what cleared, then what appeared, each worst first.
        for list in [&mut cleared, &mut appeared] {
            list.sort_by_key(|c| std::cmp::Reverse(c.finding.severity));
        }
        out.changes.extend(cleared);
        out.changes.extend(appeared);
        current = now;
        let sig = signature(&tick);
        if last_sig.as_ref().is_some_and(|s| *s != sig) {
            changed = true;
        }
        last_sig = Some(sig);
        if changed {
            out.state_changes.push(tick.index);
        }
    }
    let mut open: Vec<Finding> = current.into_values().collect();
    open.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out.open = open;
    Ok(out)
}

/// A finding in a few words: its class and whom it is about.
pub fn label(f: &Finding) -> String {
    let who = match &f.class {
        Class::Converging { puller, source, .. } | Class::SyncFailing { puller, source, .. } => {
            format!("{puller} ← {source}")
        }
        Class::StuckVersionOne { node_to_act_on, .. } => format!("act on {node_to_act_on}"),
        Class::EqualEpochConflict { nodes }
        | Class::SyncDisabled { nodes }
        | Class::RuntimeNotSynced { nodes } => nodes.join(", "),
        Class::PeerUnreachable { node, .. }
        | Class::CredentialsRefused { node, .. }
        | Class::Config { node, .. } => node.clone(),
        Class::Diverged { .. } | Class::VersionMismatch { .. } | Class::InSync => String::new(),
    };
    if who.is_empty() {
        class_name(&f.class).to_owned()
    } else {
        format!("{} ({who})", class_name(&f.class))
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "OK",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

fn change_word(c: ChangeKind) -> &'static str {
    match c {
        ChangeKind::Appeared => "appeared",
        ChangeKind::Cleared => "cleared",
    }
}

/// The JSON document of `timeline --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineReport {
    /// [`TIMELINE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `timeline`.
    pub command: &'static str,
    /// The recording.
    pub file: String,
    /// Its format version.
    pub format_version: u16,
    /// Node names, in recording order.
    pub nodes: Vec<String>,
    /// Ticks readable.
    pub ticks: usize,
    /// First tick, RFC 3339.
    pub start: String,
    /// Last tick, RFC 3339.
    pub end: String,
    /// `null`, or what the file ends with after its last whole tick.
    pub damaged_end: Option<String>,
    /// Changes in the asked window, in time order.
    pub changes: Vec<Change>,
    /// Findings still present at the last tick.
    pub open_at_end: Vec<Finding>,
}

/// Builds the report of `rec` for changes between `from_ms` and `to_ms`.
pub fn report(rec: &Recording, scan: &Scan, from_ms: u64, to_ms: u64) -> TimelineReport {
    let (start, end) = rec.span_ms().unwrap_or((0, 0));
    TimelineReport {
        schema_version: TIMELINE_SCHEMA_VERSION,
        command: "timeline",
        file: rec.path().display().to_string(),
        format_version: rec.version(),
        nodes: rec.header().nodes.iter().map(|n| n.name.clone()).collect(),
        ticks: rec.len(),
        start: fmt_rfc3339(start),
        end: fmt_rfc3339(end),
        damaged_end: match rec.end() {
            End::Clean => None,
            End::Damaged {
                reason, ignored, ..
            } => Some(format!("{reason}; {ignored} bytes ignored")),
        },
        changes: scan
            .changes
            .iter()
            .filter(|c| c.at_ms >= from_ms && c.at_ms <= to_ms)
            .cloned()
            .collect(),
        open_at_end: scan.open.clone(),
    }
}

impl TimelineReport {
    /// The table format: a summary line, then one row per change.
    pub fn table(&self, tz: chrono::FixedOffset) -> String {
        let mut out = format!(
            "timeline of {}: {} change{} over {} ticks of {}; still open at the end: {}\n",
            self.file,
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" },
            self.ticks,
            self.nodes.join(", "),
            if self.open_at_end.is_empty() {
                "nothing".to_owned()
            } else {
                self.open_at_end
                    .iter()
                    .map(crate::console::batch::report::finding_label)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        if let Some(d) = &self.damaged_end {
            out += &format!("the file ends with {d}\n");
        }
        if self.changes.is_empty() {
            return out;
        }
        let mut t = crate::console::shell::render::new_table();
        t.set_header([
            "time",
            "since start",
            "change",
            "severity",
            "finding",
            "module",
            "why",
        ]);
        for c in &self.changes {
            t.add_row([
                fmt_datetime(c.at_ms, tz),
                format!("+{}", fmt_duration_ms(c.offset_ms)),
                change_word(c.change).to_owned(),
                severity_word(c.finding.severity).to_owned(),
                label(&c.finding),
                c.finding.module.map_or("", Module::name).to_owned(),
                c.finding.why.clone(),
            ]);
        }
        out += &t.to_string();
        out.push('\n');
        out
    }

    /// TSV or CSV: a header line, then one line per change.
    pub fn delimited(&self, sep: char) -> String {
        let cell = |s: &str| -> String {
            if sep == '\t' {
                s.replace('\\', "\\\\")
                    .replace('\t', "\\t")
                    .replace('\n', "\\n")
            } else if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let mut out = [
            "time",
            "offset_ms",
            "tick",
            "change",
            "severity",
            "class",
            "module",
            "node",
            "why",
        ]
        .join(&sep.to_string());
        out.push('\n');
        for c in &self.changes {
            let row = [
                c.time.clone(),
                c.offset_ms.to_string(),
                c.tick.to_string(),
                change_word(c.change).to_owned(),
                severity_word(c.finding.severity).to_owned(),
                class_name(&c.finding.class).to_owned(),
                c.finding.module.map_or("", Module::name).to_owned(),
                c.finding.node_to_act_on.clone().unwrap_or_default(),
                c.finding.why.clone(),
            ];
            let cells: Vec<String> = row.iter().map(|s| cell(s)).collect();
            out += &cells.join(&sep.to_string());
            out.push('\n');
        }
        out
    }
}

/// `pxadm --batch timeline`: prints the timeline; exit 3 (UNKNOWN) when the file cannot be
/// read or a time is wrong.
pub async fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let result = tokio::task::spawn_blocking(move || render(&args)).await?;
    match result {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            Ok(())
        }
        Err(e) => {
            eprintln!("pxadm: {e}");
            Err(Exit(3).into())
        }
    }
}

/// The timeline of `args.replay` in `args.format`.
pub fn render(args: &TimelineArgs) -> Result<String, String> {
    let rec = Recording::open(&args.replay).map_err(|e| e.to_string())?;
    let (start, end) = rec
        .span_ms()
        .ok_or_else(|| format!("{}: the recording holds no tick", args.replay.display()))?;
    let tz = local_offset(start / 1000);
    let from = match &args.from {
        Some(t) => parse_time(t, start, end, tz)?,
        None => start,
    };
    let to = match &args.to {
        Some(t) => parse_time(t, start, end, tz)?,
        None => end,
    };
    let scan = scan(&rec).map_err(|e| e.to_string())?;
    let report = report(&rec, &scan, from, to);
    Ok(match args.format {
        Format::Table => report.table(tz),
        Format::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n",
        Format::Tsv => report.delimited('\t'),
        Format::Csv => report.delimited(','),
        Format::Prom => {
            return Err("--format prom is for status (and pxadm exporter) only".to_owned())
        }
    })
}
