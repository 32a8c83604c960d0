//! The `pxadm` binary: dispatches subcommands to the library.

use std::path::Path;

use pxadm::cli::{Cli, Command, DrillCommand, KeepalivedCommand, KeepalivedRenderArgs};
use pxadm::node::server::{Node, NodeOptions};
use pxadm::proxysql::vrrp::cluster::{CheckScriptKind, VipCluster};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_args();
    // Parsed: the passwords of -p, --password= and node specs leave the visible argv.
    pxadm::console::argv::mask_process_args();
    let result = match cli.command {
        // Plain file work: no runtime needed.
        Some(Command::Keepalived(KeepalivedCommand::Render(args))) => render_keepalived(&args),
        Some(Command::Completions { shell }) => {
            quiet_on_closed_pipe(pxadm::cli::write_completions(shell, &mut std::io::stdout()))
        }
        Some(Command::Man { out }) => quiet_on_closed_pipe(
            pxadm::cli::write_man_pages(out.as_deref(), &mut std::io::stdout()).map(|files| {
                for f in files {
                    println!("{}", f.display());
                }
            }),
        ),
        command => run_async(command, cli.batch, cli.read_only, cli.shell),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Commands that chose their exit status have already said why.
        Err(e) if e.downcast_ref::<pxadm::console::batch::Exit>().is_some() => {
            let code = e
                .downcast_ref::<pxadm::console::batch::Exit>()
                .map_or(1, |x| x.0);
            std::process::ExitCode::from(code)
        }
        Err(e) => {
            say(&format!("pxadm: {e:#}"));
            std::process::ExitCode::from(1)
        }
    }
}

fn run_async(
    command: Option<Command>,
    batch: bool,
    read_only: bool,
    shell: pxadm::console::shell::ShellArgs,
) -> anyhow::Result<()> {
    if read_only && command.is_some() {
        say("pxadm: --read-only before a subcommand applies to the demo only; give it after `console` (pxadm console --read-only)");
        return Err(pxadm::console::batch::Exit(2).into());
    }
    // Read before the runtime starts: a bad --vip file fails fast, without blocking a worker.
    let vip = match &command {
        Some(Command::Node(args)) => args
            .vip
            .as_deref()
            .map(pxadm::node::files::read_vip_file)
            .transpose()?,
        _ => None,
    };
    // Batch commands are one short burst of parallel round trips: a single-threaded runtime
    // starts without spawning (and later joining) worker threads, which is a visible part of
    // a run that takes a few milliseconds (benches/RESULTS-batch.md).
    let runtime = match &command {
        Some(Command::Batch(_)) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        match command {
            Some(Command::Node(args)) => {
                let node = Node::start(NodeOptions {
                    datadir: args.datadir,
                    config: args.config,
                    admin: args.admin,
                    mysql: args.mysql,
                    initial: args.initial,
                    version: args.version_string,
                    no_monitor: args.no_monitor,
                    peer_map: args.peer_map,
                    vip,
                    limits: pxadm::node::admin::limits::StatementLimits {
                        timeout: std::time::Duration::from_millis(args.statement_timeout_ms),
                        max_result_bytes: args.max_result_bytes,
                    },
                })
                .await?;
                node.run().await
            }
            Some(Command::Shell(args)) => pxadm::console::shell::run(args, batch).await,
            Some(Command::Batch(command)) => pxadm::console::batch::run(command).await,
            Some(Command::Exporter(args)) => pxadm::console::exporter::run(args).await,
            Some(Command::Drill(DrillCommand::Failover(args))) => {
                pxadm::console::drill::run_cli(*args, batch).await
            }
            Some(Command::Record(args)) => pxadm::console::recording::record::run(args).await,
            Some(Command::Replay(args)) => pxadm::console::recording::replay::run(args).await,
            Some(Command::Timeline(args)) => pxadm::console::recording::timeline::run(args).await,
            Some(Command::Keepalived(_) | Command::Completions { .. } | Command::Man { .. }) => {
                unreachable!("handled without a runtime")
            }
            None if shell.execute.is_some() || shell.print_defaults => pxadm::console::shell::run(shell, batch).await,
            // `pxadm -B -u admin -p... < file.sql`: the mysql client's batch mode, when
            // connection options say it is meant for the shell.
            None if batch && shell.targets_a_node() => {
                pxadm::console::shell::run(shell, batch).await
            }
            None if batch => {
                say("pxadm: --batch needs a command (status, checksums, diagnose, exec, reload, fix, fault, watch, timeline)");
                Err(pxadm::console::batch::Exit(3).into())
            }
            Some(Command::Screenshots { dir }) => pxadm::console::screenshots::run(&dir).await,
            Some(Command::Console(args)) => pxadm::console::tui::start::console(args).await,
            None => pxadm::console::tui::start::demo(read_only).await,
        }
    })
}

/// A line on stderr; a closed stderr (`2>&1 | head`) must not turn into a panic and exit 101,
/// which `eprintln!` would.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A reader that stopped reading (`pxadm man | head`) is not an error worth a message.
fn quiet_on_closed_pipe(result: std::io::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| anyhow::anyhow!("cannot write: {e}")),
    }
}

/// `pxadm keepalived render`: every node's keepalived.conf and pxadm `--vip` file, plus the
/// check script, into `--out`.
fn render_keepalived(args: &KeepalivedRenderArgs) -> anyhow::Result<()> {
    let cluster = match &args.nodes {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            VipCluster::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => VipCluster::scenario(),
    };
    let mut cluster = cluster;
    if let Some(kind) = args.check.as_deref() {
        let check = cluster.check.as_mut().ok_or_else(|| {
            anyhow::anyhow!("--check {kind}: the description has no [check] section")
        })?;
        check.kind = if kind == "sql" {
            CheckScriptKind::Sql
        } else {
            CheckScriptKind::Process
        };
    }
    let files = cluster.render()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    for file in files {
        let path = args.out.join(&file.name);
        write_file(&path, &file.contents, file.mode)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // Created with its final mode, and an existing file gets it before the new contents are
    // written, so a credentials file is never readable by others, even for a moment.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| anyhow::anyhow!("cannot chmod {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
