//! What each batch subcommand does, from resolved nodes to a [`Report`].

use std::time::{Duration, Instant};

use futures::future::join_all;

use super::report::{
    problems_clause, ActionResult, Body, ChecksumsBody, DiagnoseBody, ErrorInfo, ExecBody,
    FaultBody, FixAction, FixBody, NodeError, NodeResult, NodeStatus, Report, ReseedBody, Rows,
    Status, StatusBody,
};
use super::traffic::{self, Kind, Options};
use super::{seconds_arg, BatchCommand, CommonArgs, Format, Progress};
use crate::client::conn::{self, NodeAddr};
use crate::client::layers::{fetch_layers, NodeLayers};
use crate::client::queries;
use crate::client::snapshot::{fetch_snapshot, NodeSnapshot};
use crate::console::config::Config;
use crate::console::diagnosis::check::{apply_grace, counts, perfdata, perfdata_text, Thresholds};
use crate::console::diagnosis::reseed;
use crate::console::diagnosis::{
    diagnose, diagnose_with_layers, fixes, overall, Finding, Severity,
};
use crate::console::exporter;
use crate::console::fault::{Fault, FaultInjector};
use crate::console::injector::Injector;
use crate::console::matrix::{reported_module_names, Matrix};
use crate::console::nodes::{listed_peers, names_a_node, resolve_nodes, ConsoleNode, NodeArgs};
use crate::console::shell::render::Phase;
use crate::console::shell::session::{err, out};
use crate::proxysql::cluster::state::Module as ClusterModule;
use crate::proxysql::statement::ConfigModule;

/// A usage or configuration error: reported as `UNKNOWN`, exit 3.
struct Usage(String);

impl<E: std::fmt::Display> From<E> for Usage {
    fn from(e: E) -> Self {
        Usage(e.to_string())
    }
}

/// Prints a report: stdout for table and JSON; TSV and CSV have no room for a usage error, so
/// that goes to stderr.
pub async fn emit(report: &Report, format: Format) {
    match (&report.body, format) {
        (Body::Error { error }, Format::Tsv | Format::Csv | Format::Prom) => {
            err(&format!("pxadm: {error}\n")).await;
        }
        _ => out(&report.render(format)).await,
    }
}

/// Runs `cmd`, prints its report(s) and returns the exit code.
pub async fn execute(cmd: BatchCommand) -> u8 {
    let name = cmd.name();
    let format = cmd.common().format;
    match dispatch(cmd).await {
        Ok(code) => code,
        Err(Usage(message)) => {
            emit(&Report::unknown(name, &message), format).await;
            Status::Unknown.exit_code()
        }
    }
}

async fn dispatch(cmd: BatchCommand) -> Result<u8, Usage> {
    let format = cmd.common().format;
    if let Some(report) = replayed(&cmd).await? {
        emit(&report, format).await;
        return Ok(report.exit_code);
    }
    let timeout = seconds_arg("timeout", cmd.common().timeout)?;
    if format == Format::Prom && !matches!(cmd, BatchCommand::Status(_)) {
        return Err(Usage(
            "--format prom is for status (and pxadm exporter) only".into(),
        ));
    }
    let report = match cmd {
        BatchCommand::Status(c) if format == Format::Prom => {
            let nodes = nodes(&c, Want::Cluster).await?;
            let started = Instant::now();
            let snaps = poll_cluster(&nodes, &c, timeout).await.snapshots;
            let findings = diagnose(&snaps);
            out(&exporter::metrics(&snaps, &findings, started.elapsed())).await;
            return Ok(Status::from(overall(&findings)).exit_code());
        }
        BatchCommand::Status(c) => {
            let nodes = nodes(&c, Want::Cluster).await?;
            status(&poll_cluster(&nodes, &c, timeout).await.snapshots, None)
        }
        BatchCommand::Checksums(c) => {
            let nodes = nodes(&c, Want::Cluster).await?;
            checksums(&poll_cluster(&nodes, &c, timeout).await.snapshots)
        }
        BatchCommand::Diagnose(a) => {
            let check = check_of(&a)?;
            let nodes = nodes(&a.common, Want::Cluster).await?;
            let mut polled = poll_cluster(&nodes, &a.common, timeout).await;
            polled.layers = read_layers(&nodes, &polled, timeout).await;
            diagnosis(&polled, &check)
        }
        BatchCommand::Reseed(a) => reseed(&a, timeout).await?,
        BatchCommand::Exec(a) => {
            let targets = nodes(&a.common, Want::OneOrAll { all: a.all }).await?;
            exec(&targets, &a.sql, None, timeout).await
        }
        BatchCommand::Reload(a) => {
            let (module, sql) = reload_statement(&a.module)?;
            let targets = nodes(&a.common, Want::One).await?;
            exec(&targets, &sql, Some(module), timeout).await
        }
        BatchCommand::Fix(a) => {
            let nodes = nodes(&a.common, Want::Cluster).await?;
            fix(&nodes, &a.common, a.dry_run, timeout).await
        }
        BatchCommand::Fault(a) => fault(&a.common, a.fault).await?,
        BatchCommand::Watch(a) => {
            let interval = seconds_arg("interval", a.interval)?;
            let nodes = nodes(&a.common, Want::Cluster).await?;
            return Ok(watch(&nodes, timeout, interval, a.count, format).await);
        }
        BatchCommand::Traffic(ref a)
        | BatchCommand::Hostgroups(ref a)
        | BatchCommand::Processlist(ref a)
        | BatchCommand::Digest(ref a)
        | BatchCommand::Commands(ref a)
        | BatchCommand::Errors(ref a) => {
            let kind = match &cmd {
                BatchCommand::Traffic(_) => Kind::Traffic,
                BatchCommand::Hostgroups(_) => Kind::Hostgroups,
                BatchCommand::Processlist(_) => Kind::Processlist,
                BatchCommand::Digest(_) => Kind::Digest,
                BatchCommand::Commands(_) => Kind::Commands,
                _ => Kind::Errors,
            };
            let options = Options {
                top: a.top,
                sort: a.sort.clone(),
                filter: a.filter.clone(),
                interval: seconds_arg("interval", a.interval)?,
            };
            traffic::check(kind, &options)?;
            let nodes = nodes(&a.common, Want::Cluster).await?;
            let addrs: Vec<NodeAddr> = nodes.iter().map(|n| n.addr.clone()).collect();
            let _note = Progress::start(&format!("reading {} node(s)...", addrs.len()));
            traffic::report(kind, &addrs, &options, timeout).await?
        }
    };
    emit(&report, format).await;
    Ok(report.exit_code)
}

/// `--replay FILE [--at TIME]`: the report of a recorded moment (`status`, `checksums`,
/// `diagnose`), made exactly as from a live poll; `generated_at` is the moment's time, and
/// which tick answered goes to stderr. `None` without `--replay`.
async fn replayed(cmd: &BatchCommand) -> Result<Option<Report>, Usage> {
    let c = cmd.common();
    let Some(file) = c.replay.replay.clone() else {
        return Ok(None);
    };
    if !matches!(
        cmd,
        BatchCommand::Status(_) | BatchCommand::Checksums(_) | BatchCommand::Diagnose(_)
    ) {
        return Err(Usage(format!(
            "--replay works with status, checksums and diagnose, not {}",
            cmd.name()
        )));
    }
    let (_, names) = split_names(&c.nodes);
    let at = c.replay.at.clone();
    let moment = tokio::task::spawn_blocking(move || {
        crate::console::recording::moment::load(&file, at.as_deref(), &names)
    })
    .await?
    .map_err(Usage)?;
    err(&format!("{}\n", moment.describe())).await;
    let mut report = match cmd {
        BatchCommand::Checksums(_) => checksums(&moment.snapshots),
        BatchCommand::Diagnose(a) => {
            // A recording holds what was polled; the peers were polled then or not at all.
            let polled = ClusterPoll {
                snapshots: moment.snapshots.clone(),
                not_polled: Vec::new(),
                discovered: Vec::new(),
                layers: Vec::new(),
            };
            diagnosis(&polled, &check_of(a)?)
        }
        _ => status(&moment.snapshots, None),
    };
    report.generated_at = moment.tick.at_secs();
    Ok(Some(report))
}

/// Splits `--node` values into specs (which add nodes) and bare names (which select).
fn split_names(args: &NodeArgs) -> (NodeArgs, Vec<String>) {
    let (specs, names): (Vec<String>, Vec<String>) =
        args.nodes.iter().cloned().partition(|n| n.contains('@'));
    (
        NodeArgs {
            nodes: specs,
            ..args.clone()
        },
        names,
    )
}

async fn resolve_all(args: &NodeArgs) -> Result<(Vec<ConsoleNode>, Vec<String>), Usage> {
    let (specs, names) = split_names(args);
    let path = specs.config.clone();
    let config = tokio::task::spawn_blocking(move || Config::load(path.as_deref())).await??;
    if !names_a_node(&specs, &config) && names.is_empty() {
        return Err(Usage(
            "no node given: name one with -n USER:PASS@HOST:PORT, --cluster, --discover or -H/-P (or a default_cluster in the config)".into(),
        ));
    }
    let list = resolve_nodes(&specs, &config).await?;
    if list.is_empty() {
        return Err(Usage("no nodes to talk to".into()));
    }
    Ok((list, names))
}

/// Which nodes a command works on when no `--node NAME` narrows the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Every node (status, checksums, diagnose, fix, watch).
    Cluster,
    /// One node (reload, fault).
    One,
    /// One node, or every node with `--all` (exec).
    OneOrAll {
        /// `--all` was given.
        all: bool,
    },
}

/// Picks nodes from the resolved list: by name (or `host:port`) when names were given,
/// otherwise as `want` says; a single-node command on a list of several is a usage error.
fn select(list: Vec<ConsoleNode>, names: &[String], want: Want) -> Result<Vec<ConsoleNode>, Usage> {
    let known = || {
        list.iter()
            .map(|n| n.addr.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = want == Want::OneOrAll { all: true };
    if all && !names.is_empty() {
        return Err(Usage("give either --node NAME or --all, not both".into()));
    }
    if !names.is_empty() {
        let mut picked = Vec::new();
        for name in names {
            let n = list
                .iter()
                .find(|n| &n.addr.name == name || n.addr.endpoint() == *name)
                .ok_or_else(|| {
                    let shown = crate::console::nodes::shown_node_name(name);
                    Usage(format!(
                        "no node named '{shown}' (nodes: {}); a node to connect to is given as \
                         -n [name=]user:password@host:port",
                        known()
                    ))
                })?;
            picked.push(n.clone());
        }
        return Ok(picked);
    }
    match want {
        Want::One | Want::OneOrAll { all: false } if list.len() > 1 => Err(Usage(format!(
            "several nodes ({}): choose one with --node NAME{}",
            known(),
            if want == Want::One {
                ""
            } else {
                ", or use --all"
            }
        ))),
        _ => Ok(list),
    }
}

async fn nodes(c: &CommonArgs, want: Want) -> Result<Vec<ConsoleNode>, Usage> {
    let (list, names) = resolve_all(&c.nodes).await?;
    select(list, &names, want)
}

/// Polls every node in parallel.
async fn poll(nodes: &[ConsoleNode], timeout: Duration) -> Vec<NodeSnapshot> {
    let _note = Progress::start(&format!("polling {} node(s)...", nodes.len()));
    join_all(nodes.iter().map(|n| fetch_snapshot(&n.addr, timeout))).await
}

/// One poll of the selected nodes, grown by discovery when a single node was given.
struct ClusterPoll {
    /// The polled nodes, the given one first.
    snapshots: Vec<NodeSnapshot>,
    /// Listed peers the console could not poll, as `name: error`.
    not_polled: Vec<String>,
    /// The listed peers it did poll, with the given node's credentials.
    discovered: Vec<ConsoleNode>,
    /// The MEMORY/RUNTIME/DISK layers of the reachable nodes, when read (`diagnose`).
    layers: Vec<NodeLayers>,
}

/// Reads the layers of every reachable polled node, in parallel; a node whose layers cannot
/// be read is left out (its snapshot findings still count).
async fn read_layers(
    given: &[ConsoleNode],
    polled: &ClusterPoll,
    timeout: Duration,
) -> Vec<NodeLayers> {
    let _note = Progress::start("reading MEMORY/RUNTIME/DISK layers...");
    let addrs: Vec<&NodeAddr> = given
        .iter()
        .chain(&polled.discovered)
        .map(|n| &n.addr)
        .filter(|a| {
            polled
                .snapshots
                .iter()
                .any(|s| s.name == a.name && s.data().is_some())
        })
        .collect();
    join_all(addrs.into_iter().map(|a| fetch_layers(a, timeout)))
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}

/// `reseed --node N [--dry-run]`: the plan for N, then (unless a dry run) its statements
/// in order on N, stopping at the first failure.
async fn reseed(a: &super::ReseedArgs, timeout: Duration) -> Result<Report, Usage> {
    if a.read_only && !a.dry_run {
        return Err(Usage(
            "reseed changes the node's configuration and --read-only forbids it; add --dry-run to see the plan".into(),
        ));
    }
    let targets = nodes(&a.common, Want::One).await?;
    let [target] = targets.as_slice() else {
        return Err(Usage("reseed needs exactly one node (--node NAME)".into()));
    };
    let snap = fetch_snapshot(&target.addr, timeout).await;
    let layers = match snap.data() {
        Some(_) => fetch_layers(&target.addr, timeout).await.ok(),
        None => None,
    };
    let plan = reseed::plan(&snap, layers.as_ref()).map_err(|e| Usage(e.to_string()))?;
    let mut actions: Vec<FixAction> = plan
        .steps
        .iter()
        .map(|s| FixAction {
            node: plan.node.clone(),
            sql: s.sql.clone(),
            result: ActionResult::Planned,
            error: None,
        })
        .collect();
    if !a.dry_run && !actions.is_empty() {
        let endpoint = target.addr.endpoint();
        match conn::connect(&target.addr, timeout).await {
            Err(e) => {
                for action in &mut actions {
                    action.result = ActionResult::NotRun;
                }
                if let Some(first) = actions.first_mut() {
                    first.result = ActionResult::Failed;
                    first.error = Some(ErrorInfo::from_client(&e, Phase::Connect, &endpoint));
                }
            }
            Ok(mut c) => {
                let mut broken = false;
                for action in &mut actions {
                    if broken {
                        action.result = ActionResult::NotRun;
                        continue;
                    }
                    match conn::execute_text(&mut c, &action.sql).await {
                        Ok(_) => action.result = ActionResult::Applied,
                        Err(e) => {
                            action.result = ActionResult::Failed;
                            action.error =
                                Some(ErrorInfo::from_client(&e, Phase::Query, &endpoint));
                            broken = true;
                        }
                    }
                }
                c.close().await;
            }
        }
    }
    let applied = actions
        .iter()
        .filter(|x| x.result == ActionResult::Applied)
        .count();
    let statements = plural(actions.len(), "statement", "statements");
    let (status, summary) = if actions.is_empty() {
        (Status::Ok, format!("{} needs no re-seed", plan.node))
    } else if a.dry_run {
        (
            Status::Ok,
            format!("re-seed of {}: {statements} (dry run)", plan.node),
        )
    } else if applied == actions.len() {
        (
            Status::Ok,
            format!("re-seeded {}: applied {statements}", plan.node),
        )
    } else {
        (
            Status::Critical,
            format!(
                "re-seed of {} failed: {applied} of {statements} applied",
                plan.node
            ),
        )
    };
    Ok(Report::new(
        "reseed",
        status,
        &summary,
        Body::Reseed(ReseedBody {
            dry_run: a.dry_run,
            plan,
            actions,
        }),
    ))
}

/// Polls the nodes; with a single node (and no `--no-discover`), also the peers its
/// `runtime_proxysql_servers` lists, with its credentials. A listed peer the console cannot
/// poll is left out rather than reported down: the node's own view of it still counts, and
/// the console's reach is not the cluster's health.
async fn poll_cluster(nodes: &[ConsoleNode], c: &CommonArgs, timeout: Duration) -> ClusterPoll {
    let mut polled = ClusterPoll {
        snapshots: poll(nodes, timeout).await,
        not_polled: Vec::new(),
        discovered: Vec::new(),
        layers: Vec::new(),
    };
    let servers = match (nodes, polled.snapshots.first().and_then(NodeSnapshot::data)) {
        ([only], Some(data)) if !c.no_discover => (only, data.proxysql_servers.clone()),
        _ => return polled,
    };
    let peers = listed_peers(&servers.0.addr, servers.1.as_deref().unwrap_or_default());
    let extra = {
        let _note = Progress::start(&format!("polling {} listed peer(s)...", peers.len()));
        join_all(peers.iter().map(|p| fetch_snapshot(p, timeout))).await
    };
    for (snap, addr) in extra.into_iter().zip(peers) {
        match snap.error() {
            Some(e) => polled.not_polled.push(format!("{}: {e}", snap.name)),
            None => {
                polled.snapshots.push(snap);
                polled.discovered.push(ConsoleNode::plain(addr));
            }
        }
    }
    polled
}

/// The monitoring options of `diagnose`.
struct Check {
    grace_s: u64,
    thresholds: Thresholds,
}

/// The check `diagnose`'s `--grace`, `-w` and `-c` ask for.
fn check_of(a: &super::DiagnoseArgs) -> Result<Check, Usage> {
    Ok(Check {
        grace_s: a.grace,
        thresholds: Thresholds {
            warning: a.warning.as_deref().map(str::parse).transpose()?,
            critical: a.critical.as_deref().map(str::parse).transpose()?,
        },
    })
}

/// The checksum matrix of one poll, rows in the order the nodes report the modules.
fn checksum_matrix(snaps: &[NodeSnapshot], findings: &[Finding]) -> Matrix {
    let columns: Vec<(String, Option<&NodeSnapshot>)> =
        snaps.iter().map(|s| (s.name.clone(), Some(s))).collect();
    Matrix::from_snapshots(&columns, findings, reported_module_names(snaps))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn problems(findings: &[Finding]) -> Vec<Finding> {
    let mut p: Vec<Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .cloned()
        .collect();
    p.sort_by_key(|f| std::cmp::Reverse(f.severity));
    p
}

/// The `status` report of one poll (`iteration` set for `watch`).
pub fn status(snaps: &[NodeSnapshot], iteration: Option<u64>) -> Report {
    let findings = diagnose(snaps);
    let matrix = checksum_matrix(snaps, &findings);
    let nodes: Vec<NodeStatus> = snaps
        .iter()
        .map(|s| NodeStatus {
            name: s.name.clone(),
            host: s.host.clone(),
            port: s.port,
            reachable: s.data().is_some(),
            version: s.data().map(|d| d.version.clone()),
            elapsed_ms: s.elapsed_ms,
            error: s
                .error()
                .map(|e| ErrorInfo::from_client(e, Phase::Connect, &s.endpoint())),
        })
        .collect();
    let reachable = nodes.iter().filter(|n| n.reachable).count();
    let problems = problems(&findings);
    let summary = format!(
        "{reachable}/{} nodes reachable, {}/{} modules in sync{}",
        nodes.len(),
        matrix.in_sync_count(),
        matrix.rows.len(),
        problems_clause(&problems)
    );
    let body = StatusBody {
        iteration,
        modules_in_sync: matrix.in_sync_count(),
        modules: matrix.rows.len(),
        nodes,
        problems,
    };
    let command = if iteration.is_some() {
        "watch"
    } else {
        "status"
    };
    Report::new(
        command,
        overall(&findings).into(),
        &summary,
        Body::Status(body),
    )
}

/// The `checksums` report of one poll.
pub fn checksums(snaps: &[NodeSnapshot]) -> Report {
    let findings = diagnose(snaps);
    let matrix = checksum_matrix(snaps, &findings);
    let unreachable: Vec<NodeError> = snaps
        .iter()
        .filter_map(|s| {
            Some(NodeError {
                node: s.name.clone(),
                error: ErrorInfo::from_client(s.error()?, Phase::Connect, &s.endpoint()),
            })
        })
        .collect();
    let differ = matrix.differing_modules();
    let mut summary = format!(
        "{}/{} modules in sync on {}/{} nodes",
        matrix.in_sync_count(),
        matrix.rows.len(),
        snaps.len() - unreachable.len(),
        snaps.len()
    );
    if !differ.is_empty() {
        summary.push_str(&format!("; differ: {}", differ.join(", ")));
    }
    if let Some(u) = unreachable.first() {
        summary.push_str(&format!("; unreachable: {}", u.node));
        if unreachable.len() > 1 {
            summary.push_str(&format!(" and {} more", unreachable.len() - 1));
        }
    }
    Report::new(
        "checksums",
        overall(&findings).into(),
        &summary,
        Body::Checksums(ChecksumsBody::new(matrix, unreachable)),
    )
}

/// The `diagnose` check: findings after `--grace`, the poll time against `-w/-c`, and the
/// figures as performance data.
/// The `diagnose` report of snapshots polled elsewhere (a recording, a test), with no grace
/// and no thresholds: what `diagnose` without options prints for them.
pub fn diagnosis_of_snapshots(snaps: &[NodeSnapshot]) -> Report {
    let polled = ClusterPoll {
        snapshots: snaps.to_vec(),
        not_polled: Vec::new(),
        discovered: Vec::new(),
        layers: Vec::new(),
    };
    let check = Check {
        grace_s: 0,
        thresholds: Thresholds::default(),
    };
    diagnosis(&polled, &check)
}

fn diagnosis(polled: &ClusterPoll, check: &Check) -> Report {
    let snaps = &polled.snapshots;
    let findings = apply_grace(diagnose_with_layers(snaps, &polled.layers), check.grace_s);
    let figures = counts(snaps, &findings);
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let merged = fixes(&findings);
    let mut summary = format!(
        "{}/{} nodes up, {}/{} modules in sync",
        figures.nodes_up, figures.nodes, figures.modules_in_sync, figures.modules
    );
    if figures.modules_stuck > 0 {
        summary.push_str(&format!(", {} stuck", figures.modules_stuck));
    }
    if figures.modules_converging > 0 {
        summary.push_str(&format!(", {} converging", figures.modules_converging));
    }
    summary.push_str(&format!(
        "; {} critical, {} warning, {} ok; {}{}",
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Ok),
        plural(merged.len(), "node to fix", "nodes to fix"),
        problems_clause(&problems(&findings))
    ));
    if let Some(first) = polled.not_polled.first() {
        summary.push_str(&format!(
            "; listed peer{} not polled ({first}{}), judged from the node's view",
            if polled.not_polled.len() == 1 {
                ""
            } else {
                "s"
            },
            match polled.not_polled.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            }
        ));
    }
    let slow = check.thresholds.judge(figures.poll_time_s());
    if slow != Severity::Ok {
        summary.push_str(&format!("; poll took {:.3} s", figures.poll_time_s()));
    }
    let status = overall(&findings).max(slow);
    let perf = perfdata_text(&perfdata(&figures, &check.thresholds));
    let mut report = Report::new(
        "diagnose",
        status.into(),
        &summary,
        Body::Diagnose(DiagnoseBody {
            findings,
            fixes: merged,
            figures,
            not_polled: polled.not_polled.clone(),
        }),
    );
    report.perfdata = Some(perf);
    report
}

/// Runs `sql` on one node with a fresh connection.
async fn run_on(addr: &NodeAddr, sql: &str, timeout: Duration) -> NodeResult {
    let started = Instant::now();
    let result = async {
        let mut c = conn::connect(addr, timeout)
            .await
            .map_err(|e| ErrorInfo::from_client(&e, Phase::Connect, &addr.endpoint()))?;
        let o = conn::execute_text(&mut c, sql).await;
        match o {
            Ok(o) => {
                c.close().await;
                Ok(o)
            }
            Err(e) => {
                if !e.is_fatal() {
                    c.close().await;
                }
                Err(ErrorInfo::from_client(&e, Phase::Query, &addr.endpoint()))
            }
        }
    }
    .await;
    NodeResult::new(
        addr,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        result,
    )
}

async fn exec(
    targets: &[ConsoleNode],
    sql: &str,
    module: Option<String>,
    timeout: Duration,
) -> Report {
    let results = {
        let _note = Progress::start(&format!("running on {} node(s)...", targets.len()));
        join_all(targets.iter().map(|n| run_on(&n.addr, sql, timeout))).await
    };
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.node.as_str())
        .collect();
    let what = if module.is_some() { sql } else { "statement" };
    let (status, summary) = if failed.is_empty() {
        (
            Status::Ok,
            format!(
                "{what} succeeded on {}",
                if results.len() == 1 {
                    results[0].node.clone()
                } else {
                    format!("{}/{} nodes", results.len(), results.len())
                }
            ),
        )
    } else {
        let first = results
            .iter()
            .find_map(|r| r.error.as_ref())
            .map(ErrorInfo::line)
            .unwrap_or_default();
        (
            Status::Critical,
            format!(
                "{what} failed on {} ({} of {}): {first}",
                failed.join(", "),
                failed.len(),
                results.len()
            ),
        )
    };
    let command = if module.is_some() { "reload" } else { "exec" };
    Report::new(
        command,
        status,
        &summary,
        Body::Exec(ExecBody {
            module,
            sql: sql.to_owned(),
            results,
        }),
    )
}

/// `LOAD … TO RUNTIME` for a module named as in `runtime_checksums_values` or by its
/// LOAD/SAVE words, in any case, with `_`, `-` or spaces.
fn reload_statement(module: &str) -> Result<(String, String), Usage> {
    let norm = module.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    if let Some(m) = ClusterModule::from_name(&norm) {
        return Ok((m.name().to_owned(), queries::load_to_runtime(m).to_owned()));
    }
    if let Some(m) = ConfigModule::ALL
        .into_iter()
        .find(|m| m.keyword().to_ascii_lowercase().replace(' ', "_") == norm)
    {
        return Ok((norm, queries::load_admin_module_to_runtime(m)));
    }
    let mut known: Vec<String> = ClusterModule::ALL
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    known.extend(
        ConfigModule::ALL
            .iter()
            .map(|m| m.keyword().to_ascii_lowercase().replace(' ', "_")),
    );
    known.sort();
    known.dedup();
    Err(Usage(format!(
        "unknown module '{module}' (modules: {})",
        known.join(", ")
    )))
}

/// True for a statement the operator must complete first (`<password of x>`).
fn needs_operator(sql: &str) -> bool {
    sql.contains('<') && sql.contains('>')
}

/// Applies the diagnosis's fixes; with a single node given, on the peers it lists too.
async fn fix(given: &[ConsoleNode], c: &CommonArgs, dry_run: bool, timeout: Duration) -> Report {
    let polled = poll_cluster(given, c, timeout).await;
    let snaps = polled.snapshots;
    let nodes: Vec<ConsoleNode> = given.iter().cloned().chain(polled.discovered).collect();
    let findings = diagnose(&snaps);
    let problems = problems(&findings);
    let merged = fixes(&findings);
    let mut actions = Vec::new();
    for f in &merged {
        let target = nodes.iter().find(|n| n.addr.name == f.node);
        let mut conn = None;
        let mut broken = false;
        for sql in &f.sql {
            let mut action = FixAction {
                node: f.node.clone(),
                sql: sql.clone(),
                result: ActionResult::Planned,
                error: None,
            };
            if dry_run {
                actions.push(action);
                continue;
            }
            let Some(target) = target else {
                action.result = ActionResult::Skipped;
                action.error = Some(ErrorInfo::action(format!(
                    "{} is not in the node list",
                    f.node
                )));
                actions.push(action);
                continue;
            };
            if broken {
                action.result = ActionResult::NotRun;
                actions.push(action);
                continue;
            }
            if needs_operator(sql) {
                action.result = ActionResult::Skipped;
                action.error = Some(ErrorInfo::action(
                    "needs the operator's input in <angle brackets>; run it by hand",
                ));
                broken = true;
                actions.push(action);
                continue;
            }
            let endpoint = target.addr.endpoint();
            if conn.is_none() {
                match conn::connect(&target.addr, timeout).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        action.result = ActionResult::Failed;
                        action.error = Some(ErrorInfo::from_client(&e, Phase::Connect, &endpoint));
                        broken = true;
                        actions.push(action);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            match conn::execute_text(c, sql).await {
                Ok(_) => action.result = ActionResult::Applied,
                Err(e) => {
                    action.result = ActionResult::Failed;
                    action.error = Some(ErrorInfo::from_client(&e, Phase::Query, &endpoint));
                    broken = true;
                }
            }
            actions.push(action);
        }
        if let Some(c) = conn {
            c.close().await;
        }
    }
    let diagnosed: Status = overall(&findings).into();
    let count = |r: ActionResult| actions.iter().filter(|a| a.result == r).count();
    let statements = plural(actions.len(), "statement", "statements");
    let on_nodes = plural(merged.len(), "node", "nodes");
    let (status, summary) = if actions.is_empty() {
        (
            diagnosed,
            format!("nothing to fix{}", problems_clause(&problems)),
        )
    } else if dry_run {
        (
            diagnosed,
            format!(
                "{statements} to run on {on_nodes} (dry run){}",
                problems_clause(&problems)
            ),
        )
    } else if count(ActionResult::Applied) == actions.len() {
        (Status::Ok, format!("applied {statements} on {on_nodes}"))
    } else {
        (
            Status::Critical,
            format!(
                "{} applied, {} failed, {} skipped, {} not run of {statements}",
                count(ActionResult::Applied),
                count(ActionResult::Failed),
                count(ActionResult::Skipped),
                count(ActionResult::NotRun)
            ),
        )
    };
    Report::new(
        "fix",
        status,
        &summary,
        Body::Fix(FixBody {
            dry_run,
            actions,
            problems,
        }),
    )
}

async fn fault(c: &CommonArgs, fault: Fault) -> Result<Report, Usage> {
    let (list, names) = resolve_all(&c.nodes).await?;
    let target = select(list.clone(), &names, Want::One)?;
    let [target] = target.as_slice() else {
        return Err(Usage(
            "a fault applies to one node: give one --node NAME".into(),
        ));
    };
    let needs_host = matches!(fault, Fault::Freeze | Fault::Thaw | Fault::Restart);
    if needs_host && !target.managed && !target.fault_commands.contains_key(fault.name()) {
        return Err(Usage(format!(
            "{} has no '{}' command: pxadm can {} only nodes it started, or nodes with fault_commands.{} in the config file",
            target.addr.name,
            fault.name(),
            fault.name(),
            fault.name()
        )));
    }
    let name = target.addr.name.clone();
    let injector = Injector::new(list, None);
    let result = {
        let _note = Progress::start(&format!("{} on {name}...", fault.name()));
        injector.inject(&name, fault).await
    };
    let (status, ok, message) = match result {
        Ok(m) => (Status::Ok, true, m),
        Err(e) => (Status::Critical, false, format!("{e:#}")),
    };
    let summary = if ok {
        format!("{} on {name}: {message}", fault.name())
    } else {
        format!("{} on {name} failed: {message}", fault.name())
    };
    Ok(Report::new(
        "fault",
        status,
        &summary,
        Body::Fault(FaultBody {
            node: name,
            fault,
            ok,
            message,
        }),
    ))
}

/// `watch`: a status per interval; returns the last exit code. Ctrl-C ends it early.
async fn watch(
    nodes: &[ConsoleNode],
    timeout: Duration,
    interval: Duration,
    count: u64,
    format: Format,
) -> u8 {
    let mut last = Status::Unknown.exit_code();
    let mut i = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        i += 1;
        let started = tokio::time::Instant::now();
        let report = tokio::select! {
            snaps = poll(nodes, timeout) => status(&snaps, Some(i)),
            _ = &mut ctrl_c => return last,
        };
        last = report.exit_code;
        let text = match format {
            Format::Json => report.json_line(),
            Format::Table => format!("{}\n", report.render(Format::Table)),
            Format::Tsv | Format::Csv | Format::Prom => watch_rows(&report, format, i == 1),
        };
        out(&text).await;
        if count != 0 && i >= count {
            return last;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + interval) => {}
            _ = &mut ctrl_c => return last,
        }
    }
}

/// `watch` rows: each status row prefixed by the iteration and the poll time; the header
/// only once.
fn watch_rows(report: &Report, format: Format, header: bool) -> String {
    let Some(rows) = report.tables().into_iter().next() else {
        return String::new();
    };
    let mut header_names = vec!["iteration".to_owned(), "generated_at".to_owned()];
    header_names.extend(rows.header);
    let iteration = match &report.body {
        Body::Status(b) => b.iteration.unwrap_or(0),
        _ => 0,
    };
    let prefixed = Rows {
        header: header_names,
        rows: rows
            .rows
            .into_iter()
            .map(|r| {
                let mut v = vec![
                    Some(iteration.to_string()),
                    Some(report.generated_at.to_string()),
                ];
                v.extend(r);
                v
            })
            .collect(),
    };
    match format {
        Format::Csv => prefixed.csv(header),
        _ => prefixed.tsv(header),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, port: u16) -> ConsoleNode {
        ConsoleNode::plain(NodeAddr {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
            user: "admin".into(),
            password: "admin".into(),
        })
    }

    #[test]
    fn names_select_and_specs_add() {
        let args = NodeArgs {
            nodes: vec![
                "node1=admin:admin@127.0.0.1:1".into(),
                "node1".into(),
                "x:y@h:2".into(),
            ],
            ..Default::default()
        };
        let (specs, names) = split_names(&args);
        assert_eq!(specs.nodes, ["node1=admin:admin@127.0.0.1:1", "x:y@h:2"]);
        assert_eq!(names, ["node1"]);

        let list = vec![node("node1", 1), node("node2", 2)];
        let one = |names: &[&str], want| {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            select(list.clone(), &names, want)
                .map(|v| v.into_iter().map(|n| n.addr.name).collect::<Vec<_>>())
                .map_err(|u| u.0)
        };
        assert_eq!(one(&["node2"], Want::One), Ok(vec!["node2".to_owned()]));
        assert_eq!(
            one(&["127.0.0.1:1"], Want::One),
            Ok(vec!["node1".to_owned()])
        );
        assert_eq!(
            one(&[], Want::One),
            Err("several nodes (node1, node2): choose one with --node NAME".to_owned())
        );
        assert!(one(&[], Want::OneOrAll { all: false })
            .unwrap_err()
            .ends_with(", or use --all"));
        assert_eq!(one(&[], Want::OneOrAll { all: true }).unwrap().len(), 2);
        assert_eq!(one(&[], Want::Cluster).unwrap().len(), 2);
        assert_eq!(
            one(&["nope"], Want::Cluster),
            Err(
                "no node named 'nope' (nodes: node1, node2); a node to connect to is given as \
                 -n [name=]user:password@host:port"
                    .to_owned()
            )
        );
        assert!(one(&["node1"], Want::OneOrAll { all: true }).is_err());
    }

    #[test]
    fn reload_accepts_both_module_spellings() {
        let sql = |m: &str| reload_statement(m).ok().map(|(_, s)| s);
        assert_eq!(
            sql("mysql_query_rules").unwrap(),
            "LOAD MYSQL QUERY RULES TO RUNTIME"
        );
        assert_eq!(
            sql("mysql_servers_v2").unwrap(),
            "LOAD MYSQL SERVERS TO RUNTIME"
        );
        assert_eq!(sql("MYSQL USERS").unwrap(), "LOAD MYSQL USERS TO RUNTIME");
        assert_eq!(
            sql("admin-variables").unwrap(),
            "LOAD ADMIN VARIABLES TO RUNTIME"
        );
        assert_eq!(sql("scheduler").unwrap(), "LOAD SCHEDULER TO RUNTIME");
        let e = reload_statement("servers").err().unwrap().0;
        assert!(
            e.contains("unknown module 'servers'") && e.contains("mysql_firewall"),
            "{e}"
        );
    }

    #[test]
    fn placeholders_need_an_operator() {
        assert!(needs_operator(
            "UPDATE global_variables SET variable_value = variable_value || ';cluster_user:<password of cluster_user>' WHERE variable_name = 'admin-admin_credentials'"
        ));
        assert!(!needs_operator("LOAD MYSQL SERVERS TO RUNTIME"));
    }
}
