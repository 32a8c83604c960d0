//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// pxadm: see and operate a ProxySQL cluster.
#[derive(Debug, Parser)]
#[command(name = "pxadm", version, about, long_about = None)]
pub struct Cli {
    /// Non-interactive: no colours, no TUI, machine-readable stdout; for the shell, as
    /// `mysql -B`: tab-separated results and no prompt even on a terminal.
    #[arg(short = 'B', long, global = true)]
    pub batch: bool,

    /// The demo console (no subcommand) with every action disabled, as `console --read-only`.
    #[arg(long = "read-only")]
    pub read_only: bool,

    /// What to do; without one, a local demo cluster opens in the console.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Connection and output options for `pxadm -e SQL` (the same as `pxadm shell`'s).
    #[command(flatten, next_help_heading = "Shell options (pxadm -e SQL)")]
    pub shell: crate::console::shell::ShellArgs,
}

impl Cli {
    /// Parses the process arguments with the mysql client's spellings (`-h HOST`, a bare `-p`
    /// asking for the password; see [`crate::console::shell::args`]). With `--batch`, a
    /// command-line error exits with 3 (UNKNOWN) instead of clap's 2, which a monitoring
    /// system would read as CRITICAL.
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let batch = raw
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--batch" || a == "-B");
        crate::console::option_files::choose(
            crate::console::shell::args::option_file_choice(&raw),
            crate::console::shell::args::login_path_choice(&raw),
        );
        let command = Cli::command();
        let names: Vec<String> = command
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let args = crate::console::shell::args::mysql_style(raw, &names);
        let parsed = command
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m));
        match parsed {
            Ok(cli) => cli,
            Err(e) if batch && e.use_stderr() => {
                let _ = e.print();
                std::process::exit(3)
            }
            Err(e) => e.exit(),
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one embedded ProxySQL-compatible node in the foreground.
    Node(NodeArgs),
    /// The `Admin>` shell on one node or a cluster (stdin not a terminal: run it as a script).
    Shell(crate::console::shell::ShellArgs),
    /// Render the README screenshots from a real demo cluster into DIR (SVG). A developer
    /// tool, hidden from --help.
    #[command(hide = true)]
    Screenshots {
        /// Output folder.
        #[arg(default_value = "screenshots")]
        dir: std::path::PathBuf,
    },
    /// Open the console on a cluster (nodes from -n, --cluster, --discover or -u/-p/-h/-P).
    Console(crate::console::tui::start::ConsoleArgs),
    /// Checks and actions for scripts and monitoring (see `--batch`).
    #[command(flatten)]
    Batch(crate::console::batch::BatchCommand),
    /// keepalived deployments: render keepalived.conf files and the check script.
    #[command(subcommand)]
    Keepalived(KeepalivedCommand),
    /// Serve the fleet's cross-node view as Prometheus metrics on --listen ADDR:PORT.
    Exporter(crate::console::exporter::ExporterArgs),
    /// Rehearse failures against local nodes and measure them.
    #[command(subcommand)]
    Drill(DrillCommand),
    /// Record every node's state to a file, one tick per interval (replay it with `replay`).
    Record(crate::console::recording::record::RecordArgs),
    /// The console on a recording, with a time cursor.
    Replay(crate::console::recording::replay::ReplayViewArgs),
    /// Every finding that appeared or cleared in a recording, with its time (`--batch`).
    Timeline(crate::console::recording::timeline::TimelineArgs),
    /// Print a shell completion script: `pxadm completions bash > /etc/bash_completion.d/pxadm`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (`pxadm man | man -l -`), or write one per subcommand into --out.
    Man {
        /// Directory for pxadm.1 and a pxadm-SUBCOMMAND.1 per subcommand (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `pxadm completions SHELL`: the completion script on `out`. Generated in memory first:
/// clap_complete panics on a failed write, and `| head` closes the pipe early.
pub fn write_completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pxadm", &mut script);
    out.write_all(&script)
}

/// `pxadm man`: the main page on `out`, or with `dir` the main page and one per visible
/// subcommand (nested ones as `pxadm-drill-failover.1`) written there; returns the files.
pub fn write_man_pages(
    dir: Option<&std::path::Path>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<Vec<PathBuf>> {
    use clap::CommandFactory;
    let command = Cli::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(command).render(out)?;
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    write_page(command, "pxadm", dir, &mut written)?;
    Ok(written)
}

fn write_page(
    command: clap::Command,
    name: &str,
    dir: &std::path::Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let command = command.display_name(name.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page)?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_page(sub.clone(), &sub_name, dir, written)?;
    }
    Ok(())
}

/// `pxadm keepalived` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeepalivedCommand {
    /// Write keepalived-<node>.conf, vip-<node>.toml (pxadm's embedded equivalent) and the
    /// check script for every node of a virtual router.
    Render(KeepalivedRenderArgs),
}

/// `pxadm keepalived render` arguments.
#[derive(Debug, clap::Args)]
pub struct KeepalivedRenderArgs {
    /// Directory to write into (created if missing; existing files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// TOML description of the virtual router and its nodes (format in docs/vip.md);
    /// without it, the scenario's two nodes.
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// Check script to render, overriding the file's `[check] kind`: `process` (the report's
    /// `ps | grep`, blind to a hung proxy) or `sql` (`SELECT 1` through the proxy with a
    /// timeout; needs `[check] user`).
    #[arg(long, value_name = "KIND", value_parser = ["process", "sql"])]
    pub check: Option<String>,
}

/// `pxadm drill` subcommands.
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Kill the VIP holder under a steady write load and measure the failover.
    Failover(Box<crate::console::drill::FailoverArgs>),
}

/// `pxadm node` arguments.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// Data directory (proxysql.db, proxysql.log, proxysql.pid).
    #[arg(long, short = 'D')]
    pub datadir: PathBuf,
    /// Config file in ProxySQL's format (used when the datadir has no proxysql.db, or with --initial).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Admin listener address, overriding admin-mysql_ifaces (e.g. 127.0.0.1:6032).
    #[arg(long)]
    pub admin: Option<String>,
    /// MySQL traffic listener address, overriding mysql-interfaces (e.g. 127.0.0.1:6033).
    #[arg(long)]
    pub mysql: Option<String>,
    /// Start from the config file, discarding proxysql.db.
    #[arg(long)]
    pub initial: bool,
    /// Version string for SELECT @@version (real peers only cluster with an identical one).
    #[arg(long = "version-string")]
    pub version_string: Option<String>,
    /// Do not start the backend monitor (ProxySQL's `-M`/`--no-monitor`); with
    /// `admin-cluster_mysql_servers_sync_algorithm=3` the node then also pulls the peers'
    /// runtime `mysql_servers` (algorithm 1), as ProxySQL does.
    #[arg(short = 'M', long = "no-monitor")]
    pub no_monitor: bool,
    /// Connect to peer FROM_HOST:PORT at TO_HOST:PORT instead (repeatable); maps a
    /// multi-host layout such as the scenario's 192.168.0.x onto loopback ports.
    #[arg(long = "peer-map", value_name = "FROM=TO", value_parser = crate::node::server::parse_peer_map)]
    pub peer_map: Vec<crate::node::server::PeerMapping>,
    /// Run a VRRP instance that moves a virtual address between nodes, configured like
    /// keepalived in a TOML file (format in docs/vip.md).
    #[arg(long, value_name = "FILE.toml")]
    pub vip: Option<PathBuf>,
    /// Time limit of one admin or stats statement in milliseconds, 0 for none (pxadm's own:
    /// ProxySQL has no limit and one runaway query freezes its admin plane).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub statement_timeout_ms: u64,
    /// Largest result set an admin or stats statement may return, in bytes, 0 for no cap.
    #[arg(long, value_name = "BYTES", default_value_t = crate::node::admin::limits::DEFAULT_MAX_RESULT_BYTES)]
    pub max_result_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn node_takes_proxysqls_no_monitor_flag() {
        for flag in ["-M", "--no-monitor"] {
            let cli = Cli::try_parse_from(["pxadm", "node", "-D", "d", flag]).unwrap();
            let Some(Command::Node(args)) = cli.command else {
                panic!("not the node command")
            };
            assert!(args.no_monitor, "{flag}");
        }
        let cli = Cli::try_parse_from(["pxadm", "node", "-D", "d"]).unwrap();
        let Some(Command::Node(args)) = cli.command else {
            panic!("not the node command")
        };
        assert!(!args.no_monitor);
    }

    #[test]
    fn read_only_opens_the_demo_without_actions() {
        let cli = Cli::try_parse_from(["pxadm", "--read-only"]).unwrap();
        assert!(cli.read_only && cli.command.is_none());
    }
}
