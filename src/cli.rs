//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// pxadm: see and operate a ProxySQL cluster.
#[derive(Debug, Parser)]
#[command(name = "pxadm", version, about, long_about = None)]
pub struct Cli {
    /// Non-interactive: no colours, no TUI, machine-readable stdout.
    #[arg(long, global = true)]
    pub batch: bool,

    /// What to do; without one, a local demo cluster opens in the console.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one embedded ProxySQL-compatible node in the foreground.
    Node(NodeArgs),
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
    /// Connect to peer FROM_HOST:PORT at TO_HOST:PORT instead (repeatable); maps a
    /// multi-host layout such as the scenario's 192.168.0.x onto loopback ports.
    #[arg(long = "peer-map", value_name = "FROM=TO", value_parser = crate::core::node::parse_peer_map)]
    pub peer_map: Vec<crate::core::node::PeerMapping>,
}
