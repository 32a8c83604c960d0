//! Starting the TUI console: `pxadm console` on real clusters, and `pxadm` (no arguments) on the
//! embedded demo cluster.

use std::io::IsTerminal;
use std::sync::Arc;

use super::run_console;
use crate::console::config::Config;
use crate::console::demo::{DemoCluster, DemoOptions};
use crate::console::injector::Injector;
use crate::console::nodes::{resolve_nodes, NodeArgs};

/// `pxadm console` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// Which nodes: -n, --cluster, --discover, or mysql-style -u/-p/-h/-P.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Theme: dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
    /// Disable every action (reload, fix, faults).
    #[arg(long)]
    pub read_only: bool,
    /// Poll interval in milliseconds.
    #[arg(long, value_name = "MS")]
    pub refresh_ms: Option<u64>,
    /// Prompt for the password (what a bare -p becomes).
    #[arg(long, hide = true)]
    pub ask_password: bool,
    /// Also write every poll to this recording (must not exist yet; `pxadm replay FILE`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
}

fn require_terminal() -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the console needs a terminal; for scripts use `pxadm --batch status|checksums|diagnose`");
    }
    Ok(())
}

/// `pxadm console`: resolve the nodes and open the console on them.
pub async fn console(mut args: ConsoleArgs) -> anyhow::Result<()> {
    crate::console::shell::password::ask_password_if_needed(args.ask_password, &mut args.nodes)
        .await?;
    let path = args.nodes.config.clone();
    let config = tokio::task::spawn_blocking(move || Config::load(path.as_deref())).await??;
    let nodes = resolve_nodes(&args.nodes, &config).await?;
    let mut settings = config.console_settings();
    if let Some(theme) = args.theme {
        settings.theme = theme;
    }
    if let Some(ms) = args.refresh_ms {
        settings.refresh = std::time::Duration::from_millis(ms.max(100));
    }
    settings.read_only |= args.read_only;
    require_terminal()?;
    let record = match &args.record {
        Some(path) => {
            let header = crate::console::recording::record::header(
                &nodes,
                crate::console::recording::format::Source::Console,
                settings.refresh,
            );
            Some(crate::console::recording::writer::Writer::create(
                path, header,
            )?)
        }
        None => None,
    };
    let faults = Arc::new(Injector::new(nodes.clone(), None));
    run_console(nodes, settings, faults, record).await
}

/// `pxadm`: the demo cluster in the console; every child stops when the console exits. Without
/// a terminal it prints how to reach the nodes and waits for Ctrl-C instead.
pub async fn demo(read_only: bool) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        return crate::console::demo::run_default().await;
    }
    eprintln!("pxadm: starting the demo cluster (two pxadm nodes, the reference scenario)...");
    let cluster = DemoCluster::start(DemoOptions::default()).await?;
    let nodes = cluster.console_nodes().await;
    let config = tokio::task::spawn_blocking(|| Config::load(None)).await??;
    let faults = Arc::new(Injector::new(nodes.clone(), Some(cluster.clone())));
    let mut settings = config.console_settings();
    settings.read_only |= read_only;
    let result = run_console(nodes, settings, faults, None).await;
    cluster.stop().await;
    result
}
