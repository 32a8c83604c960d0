//! `--batch`: the cluster checks and actions as non-interactive commands for cron, Nagios,
//! Zabbix and scripts.
//!
//! `pxadm --batch status | checksums | diagnose | exec SQL | reload MODULE | fix | fault F | watch`
//! with `--format table|json|tsv|csv`. Exit codes follow the monitoring-plugin convention:
//! 0 OK, 1 WARNING (diverged but converging), 2 CRITICAL (stuck, conflict, unreachable, refused,
//! a failed action), 3 UNKNOWN (usage or configuration error, including every command-line
//! error when `--batch` is given). Output carries no colours; progress goes to stderr and only
//! when stderr is a terminal.
//!
//! Nodes come from the shared resolver ([`crate::console::nodes`]). In `exec`, `reload` and
//! `fault` (and to narrow the others), `--node NAME` picks nodes by name from that list, while
//! `--node [name=]user:pass@host:port` adds a node to it, so both spellings of the contract
//! work: `exec SQL --cluster prod --node proxysql1` and `exec SQL -n admin:admin@10.0.0.1:6032`.

pub mod commands;
pub mod report;
pub mod traffic;

use std::io::IsTerminal;
use std::time::Duration;

use crate::console::fault::Fault;
use crate::console::nodes::NodeArgs;

/// A process exit status chosen by a command that already reported why (no further message).
/// `main` turns it into the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("exit status {0}")]
pub struct Exit(pub u8);

/// Output format of a batch command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A one-line summary, then boxed tables.
    #[default]
    Table,
    /// One JSON document (`watch`: one compact object per line), `"schema_version": 1`.
    Json,
    /// Tab-separated with a header line, escaped like `mysql --batch`.
    Tsv,
    /// RFC 4180 comma-separated with a header line.
    Csv,
    /// Prometheus exposition text, as `pxadm exporter` serves it (status only): for a
    /// node_exporter textfile collector.
    Prom,
}

/// Options every batch command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Which nodes: -n/--node (a spec adds a node, a bare name selects one), --cluster,
    /// --discover, or mysql-style -u/-p/-h/-P.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Seconds to wait for each node (connecting, and each query).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Set for a bare `-p`: ask for the password on the terminal.
    #[arg(long = "ask-password", hide = true)]
    pub ask_password: bool,
    /// With a single node, do not poll the peers its runtime_proxysql_servers lists: judge
    /// the cluster from that node's own view of them only.
    #[arg(long)]
    pub no_discover: bool,
    /// `--replay FILE --at TIME`: a moment of a recording instead of a live poll.
    #[command(flatten)]
    pub replay: crate::console::recording::moment::ReplayArgs,
}

/// `diagnose` arguments: the check a monitoring system runs.
#[derive(Debug, Clone, clap::Args)]
pub struct DiagnoseArgs {
    /// A divergence younger than this many seconds that is converging counts as OK (a
    /// routine LOAD ... TO RUNTIME takes a few checks to spread).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub grace: u64,
    /// WARNING range for the poll time in seconds (plugin syntax: 2, 2:, ~:2, 1:2, @1:2).
    #[arg(short = 'w', long = "warning", value_name = "RANGE")]
    pub warning: Option<String>,
    /// CRITICAL range for the poll time in seconds.
    #[arg(short = 'c', long = "critical", value_name = "RANGE")]
    pub critical: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `exec` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The statement.
    pub sql: String,
    /// Run it on every node (in parallel).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `reload` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReloadArgs {
    /// Module: a runtime_checksums_values name (mysql_query_rules, mysql_servers_v2...) or
    /// LOAD/SAVE words (`mysql query rules`, `scheduler`...).
    pub module: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `fix` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct FixArgs {
    /// Print the statements instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `reseed` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReseedArgs {
    /// Print the plan instead of running it.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse to change anything (only `--dry-run` is allowed).
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `fault` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct FaultArgs {
    /// The fault.
    #[arg(value_enum)]
    pub fault: Fault,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `watch` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Seconds between polls.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub interval: f64,
    /// Number of polls; 0 polls until Ctrl-C.
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// `traffic`, `hostgroups`, `processlist`, `digest`, `commands`, `errors` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TrafficArgs {
    /// Keep the first N rows (processlist, digest, commands, errors).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Sort key: processlist time|user|hostgroup|command|info|node; digest total|count|avg.
    #[arg(long, value_name = "KEY")]
    pub sort: Option<String>,
    /// Keep the sessions whose node, user, db, hosts, command or statement contain TEXT
    /// (processlist).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub filter: String,
    /// Seconds between the two readings that rates come from (traffic, hostgroups).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub interval: f64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// The batch subcommands (flattened into `pxadm`'s own).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BatchCommand {
    /// Reachability, version and sync state of every node; exit code from the diagnosis.
    Status(CommonArgs),
    /// Every module's checksum on every node, diverging cells marked.
    Checksums(CommonArgs),
    /// The diagnosis as a monitoring check: findings, why, the statements that fix them, and
    /// performance data after `|`.
    Diagnose(DiagnoseArgs),
    /// Run one statement on one node (--node NAME) or on every node (--all).
    Exec(ExecArgs),
    /// LOAD <MODULE> TO RUNTIME on one node (--node NAME).
    Reload(ReloadArgs),
    /// Apply the diagnosis's fixes (--dry-run prints them).
    Fix(FixArgs),
    /// Make one node (--node NAME) the cluster's source: LOAD every module at version 1
    /// there, SAVE to disk what differs (--dry-run prints the plan).
    Reseed(ReseedArgs),
    /// Inject a fault into one node (--node NAME): kill, freeze, thaw, pause, resume, restart.
    Fault(FaultArgs),
    /// Poll every --interval seconds, --count times; JSON gives one object per line.
    Watch(WatchArgs),
    /// Queries/s, connections, transactions, bytes/s, multiplexing and errors/s per node and
    /// in total, from two readings --interval apart.
    Traffic(TrafficArgs),
    /// Every backend of every node's connection pool side by side; SHUNNED on some nodes
    /// only is flagged (WARNING).
    Hostgroups(TrafficArgs),
    /// Every node's client sessions merged (--filter, --sort, --top).
    Processlist(TrafficArgs),
    /// Query digests of every node merged by digest (--sort total|count|avg, --top).
    Digest(TrafficArgs),
    /// stats_mysql_commands_counters of every node, with latency buckets.
    Commands(TrafficArgs),
    /// stats_mysql_errors of every node.
    Errors(TrafficArgs),
}

impl BatchCommand {
    /// The subcommand's name, as in the JSON `command` field.
    pub fn name(&self) -> &'static str {
        match self {
            BatchCommand::Status(_) => "status",
            BatchCommand::Checksums(_) => "checksums",
            BatchCommand::Diagnose(_) => "diagnose",
            BatchCommand::Exec(_) => "exec",
            BatchCommand::Reload(_) => "reload",
            BatchCommand::Fix(_) => "fix",
            BatchCommand::Reseed(_) => "reseed",
            BatchCommand::Fault(_) => "fault",
            BatchCommand::Watch(_) => "watch",
            BatchCommand::Traffic(_) => "traffic",
            BatchCommand::Hostgroups(_) => "hostgroups",
            BatchCommand::Processlist(_) => "processlist",
            BatchCommand::Digest(_) => "digest",
            BatchCommand::Commands(_) => "commands",
            BatchCommand::Errors(_) => "errors",
        }
    }

    /// The options shared by every subcommand.
    pub fn common(&self) -> &CommonArgs {
        match self {
            BatchCommand::Status(c) | BatchCommand::Checksums(c) => c,
            BatchCommand::Diagnose(a) => &a.common,
            BatchCommand::Exec(a) => &a.common,
            BatchCommand::Reload(a) => &a.common,
            BatchCommand::Fix(a) => &a.common,
            BatchCommand::Reseed(a) => &a.common,
            BatchCommand::Fault(a) => &a.common,
            BatchCommand::Watch(a) => &a.common,
            BatchCommand::Traffic(a)
            | BatchCommand::Hostgroups(a)
            | BatchCommand::Processlist(a)
            | BatchCommand::Digest(a)
            | BatchCommand::Commands(a)
            | BatchCommand::Errors(a) => &a.common,
        }
    }

    fn common_mut(&mut self) -> &mut CommonArgs {
        match self {
            BatchCommand::Status(c) | BatchCommand::Checksums(c) => c,
            BatchCommand::Diagnose(a) => &mut a.common,
            BatchCommand::Exec(a) => &mut a.common,
            BatchCommand::Reload(a) => &mut a.common,
            BatchCommand::Fix(a) => &mut a.common,
            BatchCommand::Reseed(a) => &mut a.common,
            BatchCommand::Fault(a) => &mut a.common,
            BatchCommand::Watch(a) => &mut a.common,
            BatchCommand::Traffic(a)
            | BatchCommand::Hostgroups(a)
            | BatchCommand::Processlist(a)
            | BatchCommand::Digest(a)
            | BatchCommand::Commands(a)
            | BatchCommand::Errors(a) => &mut a.common,
        }
    }
}

/// A progress note on stderr, shown only when stderr is a terminal and erased when done.
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Shows `message` if stderr is a terminal.
    pub fn start(message: &str) -> Progress {
        let shown = std::io::stderr().is_terminal();
        if shown {
            eprint!("{message}");
        }
        Progress { shown }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            // Carriage return and erase-line: the note leaves no trace in the scrollback.
            eprint!("\r\x1b[K");
        }
    }
}

/// Seconds from the command line as a duration: finite, positive, at most a day.
pub fn seconds_arg(what: &str, secs: f64) -> Result<Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "--{what} must be a number of seconds above 0 and at most 86400, not {secs}"
        ))
    }
}

/// Runs a batch subcommand: prints its report and returns `Err(Exit(code))` for a non-zero
/// exit code. `main` calls this for every [`BatchCommand`].
pub async fn run(mut cmd: BatchCommand) -> anyhow::Result<()> {
    let name = cmd.name();
    let format = cmd.common().format;
    let ask = cmd.common().ask_password;
    if let Err(e) =
        crate::console::shell::password::ask_password_if_needed(ask, &mut cmd.common_mut().nodes)
            .await
    {
        commands::emit(&report::Report::unknown(name, &e.to_string()), format).await;
        return Err(Exit(report::Status::Unknown.exit_code()).into());
    }
    let code = commands::execute(cmd).await;
    if code == 0 {
        Ok(())
    } else {
        Err(Exit(code).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_validated() {
        assert_eq!(seconds_arg("timeout", 1.5), Ok(Duration::from_millis(1500)));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(seconds_arg("timeout", bad).is_err(), "{bad}");
        }
    }
}
