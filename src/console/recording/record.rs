//! Recording live polls: `pxadm record` polls every node together each interval, and
//! `pxadm console --record` taps the console's own polls on their way to the screen.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::format::{Header, NodeInfo, Source, DEFAULT_KEYFRAME_EVERY, FORMAT_VERSION};
use super::moment::{fmt_duration_ms, parse_duration};
use super::writer::{BackgroundWriter, NodeUpdate, Writer};
use crate::client::conn::NodeAddr;
use crate::client::detail::{fetch_ha, HaInfo};
use crate::client::snapshot::fetch_snapshot;
use crate::console::config::Config;
use crate::console::nodes::{resolve_nodes, ConsoleNode, NodeArgs};
use crate::console::tui::action::Action;

/// Polls between two looks for VRRP on a node that has none (as the console does).
const HA_ABSENT_RECHECK: u32 = 30;
/// Longest the console tap holds polls before writing them as a tick.
const TAP_FLUSH: Duration = Duration::from_millis(250);

fn duration_arg(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err("the interval must be between 100ms and 1h".into());
    }
    Ok(d)
}

fn any_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// `pxadm record` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// Which nodes: -n, --cluster, --discover, or mysql-style -u/-p/-h/-P.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// The recording to write (must not exist yet).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Time between two polls of every node (e.g. 1s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration_arg)]
    pub interval: Duration,
    /// Stop after this long (e.g. 90s, 2h); without it, record until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = any_duration_arg)]
    pub duration: Option<Duration>,
    /// Prompt for the password (what a bare -p becomes).
    #[arg(long, hide = true)]
    pub ask_password: bool,
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The header of a new recording of `nodes`.
pub fn header(nodes: &[ConsoleNode], source: Source, interval: Duration) -> Header {
    Header {
        format_version: FORMAT_VERSION,
        pxadm_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at_ms: unix_ms(),
        source,
        interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        keyframe_every: DEFAULT_KEYFRAME_EVERY,
        nodes: nodes
            .iter()
            .map(|n| NodeInfo {
                name: n.addr.name.clone(),
                host: n.addr.host.clone(),
                port: n.addr.port,
                managed: n.managed,
            })
            .collect(),
    }
}

/// Polls a fixed set of nodes the way the console does: every node in parallel, then the
/// VRRP state of those that answered (nodes without VRRP only every 30th time).
pub struct Poller {
    addrs: Vec<NodeAddr>,
    ha_wait: Vec<u32>,
}

impl Poller {
    /// A poller over `addrs`.
    pub fn new(addrs: Vec<NodeAddr>) -> Poller {
        let n = addrs.len();
        Poller {
            addrs,
            ha_wait: vec![0; n],
        }
    }

    /// One round: what arrived for each node.
    pub async fn round(&mut self, timeout: Duration) -> Vec<NodeUpdate> {
        let snapshots = join_all(self.addrs.iter().map(|a| fetch_snapshot(a, timeout))).await;
        let ask: Vec<bool> = snapshots
            .iter()
            .zip(&self.ha_wait)
            .map(|(s, wait)| s.result.is_ok() && *wait == 0)
            .collect();
        let ha = join_all(self.addrs.iter().zip(&ask).map(|(a, ask)| async move {
            if *ask {
                Some(fetch_ha(a, timeout).await)
            } else {
                None
            }
        }))
        .await;
        let mut out = Vec::with_capacity(self.addrs.len());
        for (i, (snapshot, ha)) in snapshots.into_iter().zip(ha).enumerate() {
            let ok = snapshot.result.is_ok();
            self.ha_wait[i] = match &ha {
                Some(HaInfo::Absent) => HA_ABSENT_RECHECK,
                Some(_) => 0,
                None if ok => self.ha_wait[i].saturating_sub(1),
                None => self.ha_wait[i],
            };
            out.push(NodeUpdate {
                snapshot: Some(snapshot),
                ha,
                log: Vec::new(),
            });
        }
        out
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..=1023 => format!("{n} B"),
        1024..=1_048_575 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.2} MiB", n as f64 / 1_048_576.0),
    }
}

/// Megabytes (10^6 bytes) per node-hour of a recording of `bytes` over `span_ms` and `nodes`.
pub fn mb_per_node_hour(bytes: u64, span_ms: u64, nodes: usize) -> f64 {
    if span_ms == 0 || nodes == 0 {
        return 0.0;
    }
    bytes as f64 / 1e6 * (3_600_000.0 / span_ms as f64) / nodes as f64
}

/// `pxadm record`: resolves the nodes, then polls and writes until the duration is over or
/// a signal arrives. Progress goes to stderr when it is a terminal; a summary always does.
pub async fn run(mut args: RecordArgs) -> anyhow::Result<()> {
    crate::console::shell::password::ask_password_if_needed(args.ask_password, &mut args.nodes)
        .await?;
    let path = args.nodes.config.clone();
    let config = tokio::task::spawn_blocking(move || Config::load(path.as_deref())).await??;
    let nodes = resolve_nodes(&args.nodes, &config).await?;
    if nodes.is_empty() {
        anyhow::bail!("no nodes to record");
    }
    let header = header(&nodes, Source::Record, args.interval);
    let writer = Writer::create(&args.out, header)?;
    let addrs = nodes.iter().map(|n| n.addr.clone()).collect();
    let summary = record(writer, addrs, args.interval, args.duration, &args.out).await?;
    eprintln!("{summary}");
    Ok(())
}

/// Polls `addrs` every `interval` into `writer` until `duration` is over or SIGINT, SIGTERM
/// or SIGHUP arrives; returns a one-line summary.
pub async fn record(
    writer: Writer,
    addrs: Vec<NodeAddr>,
    interval: Duration,
    duration: Option<Duration>,
    out: &Path,
) -> anyhow::Result<String> {
    let n = addrs.len();
    let writer = BackgroundWriter::spawn(writer)?;
    let mut poller = Poller::new(addrs);
    let timeout = crate::console::tui::poller::poll_timeout(interval);
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let started = tokio::time::Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let progress = std::io::stderr().is_terminal();
    let first_ms = unix_ms();
    let mut last_ms = first_ms;
    let stopped_by = loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = sigint.recv() => break "Ctrl-C",
            _ = sigterm.recv() => break "SIGTERM",
            _ = sighup.recv() => break "SIGHUP",
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break "the duration";
        }
        let at = unix_ms();
        let updates = tokio::select! {
            u = poller.round(timeout) => u,
            _ = sigint.recv() => break "Ctrl-C",
            _ = sigterm.recv() => break "SIGTERM",
        };
        if !writer.write_tick(at, updates).await {
            break "a write error";
        }
        last_ms = at;
        if progress {
            eprint!(
                "\r\x1b[Krecording {n} node(s) into {}: {} ticks, {}",
                out.display(),
                writer.ticks(),
                human_bytes(writer.bytes())
            );
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    let outcome = writer.finish().await;
    if let Some(e) = outcome.error {
        anyhow::bail!(
            "writing {} stopped after {} ticks: {e}",
            out.display(),
            outcome.ticks
        );
    }
    let span = last_ms.saturating_sub(first_ms) + u64::try_from(interval.as_millis()).unwrap_or(0);
    Ok(format!(
        "pxadm record: {} ticks of {n} node(s) over {} into {}: {} ({:.2} MB per node-hour); stopped by {stopped_by}",
        outcome.ticks,
        fmt_duration_ms(span),
        out.display(),
        human_bytes(outcome.bytes),
        mb_per_node_hour(outcome.bytes, span, n),
    ))
}

/// The console's recorder: sits between the pollers and the console, forwards every action
/// unchanged, and writes the polls, VRRP answers and log lines that passed as ticks: at most
/// [`TAP_FLUSH`] after they arrived, and at once when a node's second poll arrives first.
/// Ends when every sender is gone; returns a summary, or why the recording stopped early (the
/// console goes on regardless, and the file ends at its last whole tick).
pub async fn tap(
    writer: Writer,
    mut rx: mpsc::Receiver<Action>,
    tx: mpsc::Sender<Action>,
) -> Result<String, String> {
    let writer =
        BackgroundWriter::spawn(writer).map_err(|e| format!("the recording did not start: {e}"))?;
    let n = writer.nodes();
    let mut pending = vec![NodeUpdate::default(); n];
    let mut flush = tokio::time::interval(TAP_FLUSH);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // False once the writer stopped on an error: the console goes on without recording.
    let mut writing = true;
    async fn write(pending: &mut Vec<NodeUpdate>, writer: &BackgroundWriter, writing: &mut bool) {
        if !*writing || pending.iter().all(NodeUpdate::is_empty) {
            return;
        }
        let updates = std::mem::replace(pending, vec![NodeUpdate::default(); pending.len()]);
        *writing = writer.write_tick(unix_ms(), updates).await;
    }
    loop {
        tokio::select! {
            action = rx.recv() => {
                let Some(action) = action else { break };
                match &action {
                    Action::Snapshot { node, snapshot } if *node < n => {
                        if pending[*node].snapshot.is_some() {
                            write(&mut pending, &writer, &mut writing).await;
                        }
                        pending[*node].snapshot = Some(snapshot.clone());
                    }
                    Action::Ha { node, info } if *node < n => {
                        if pending[*node].ha.is_some() {
                            write(&mut pending, &writer, &mut writing).await;
                        }
                        pending[*node].ha = Some(info.clone());
                    }
                    Action::LogLines { node, lines } if *node < n => {
                        pending[*node].log.extend(lines.iter().cloned());
                    }
                    _ => {}
                }
                if tx.send(action).await.is_err() {
                    break;
                }
            }
            _ = flush.tick() => write(&mut pending, &writer, &mut writing).await,
        }
    }
    write(&mut pending, &writer, &mut writing).await;
    let outcome = writer.finish().await;
    match outcome.error {
        Some(e) => Err(format!(
            "the recording stopped after {} ticks: {e}",
            outcome.ticks
        )),
        None => Ok(format!(
            "recorded {} ticks ({})",
            outcome.ticks,
            human_bytes(outcome.bytes)
        )),
    }
}
