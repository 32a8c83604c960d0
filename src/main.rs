//! The `pxadm` binary: dispatches subcommands to the library.

use clap::Parser;

use pxadm::cli::{Cli, Command};
use pxadm::core::node::{Node, NodeOptions};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
            None => pxadm::console::demo::run_default().await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pxadm: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
