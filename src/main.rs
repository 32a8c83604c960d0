//! The `pxadm` binary: dispatches subcommands to the library.

use pxadm::cli::{Cli, Command};
use pxadm::core::node::{Node, NodeOptions};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pxadm: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Node(args)) => {
                let node = Node::start(NodeOptions {
                    datadir: args.datadir,
                    config: args.config,
                    admin: args.admin,
                    mysql: args.mysql,
                    initial: args.initial,
                    version: args.version_string,
                    peer_map: args.peer_map,
                })
                .await?;
                node.run().await
            }
            Some(Command::Shell(args)) => pxadm::console::shell::run(args, cli.batch).await,
            Some(Command::Batch(command)) => pxadm::console::batch::run(command).await,
            None if cli.shell.execute.is_some() => {
                pxadm::console::shell::run(cli.shell, cli.batch).await
            }
            None if cli.batch => {
                eprintln!("pxadm: --batch needs a command (status, checksums, diagnose, exec, reload, fix, fault, watch)");
                Err(pxadm::console::batch::Exit(3).into())
            }
            Some(Command::Screenshots { dir }) => pxadm::console::screenshots::run(&dir).await,
            Some(Command::Console(args)) => pxadm::console::launch::console(args).await,
            None => pxadm::console::launch::demo().await,
        }
    });
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
            eprintln!("pxadm: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
