//! Fault injection on a node: kill, freeze/thaw, pause/resume traffic, restart.
//!
//! Nodes pxadm started itself get signals (SIGKILL, SIGSTOP, SIGCONT) and a real restart;
//! other nodes get the admin commands ProxySQL offers (`PROXYSQL KILL`, `PROXYSQL PAUSE`,
//! `PROXYSQL RESUME`) or the per-node shell commands of the config file for what only the
//! host can do (freeze, thaw, restart).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::client::conn;
use crate::client::queries;

use super::demo::DemoCluster;
use super::fault::{Fault, FaultInjector};
use super::nodes::ConsoleNode;

/// The injector used by every front end.
pub struct Injector {
    nodes: Vec<ConsoleNode>,
    demo: Option<Arc<DemoCluster>>,
}

impl Injector {
    /// Faults for `nodes`; those of `demo` are handled with signals.
    pub fn new(nodes: Vec<ConsoleNode>, demo: Option<Arc<DemoCluster>>) -> Self {
        Injector { nodes, demo }
    }

    async fn admin_command(node: &ConsoleNode, sql: &str) -> anyhow::Result<String> {
        let mut c = conn::connect(&node.addr, Duration::from_secs(3)).await?;
        let result = conn::execute_text(&mut c, sql).await;
        match result {
            Ok(_) => {
                c.close().await;
                Ok(format!("{sql} sent to {}", node.addr.name))
            }
            // PROXYSQL KILL exits before answering: a dropped connection is success.
            Err(e) if sql == queries::PROXYSQL_KILL && e.is_fatal() => {
                Ok(format!("{sql} sent to {}", node.addr.name))
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", node.addr.name)),
        }
    }

    async fn shell_command(node: &ConsoleNode, fault: Fault) -> anyhow::Result<String> {
        let Some(cmd) = node.fault_commands.get(fault.name()) else {
            anyhow::bail!(
                "{}: no '{}' command configured for this node (fault_commands in the config file)",
                node.addr.name,
                fault.name()
            );
        };
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .await?;
        if out.status.success() {
            Ok(format!("{}: `{cmd}` done", node.addr.name))
        } else {
            anyhow::bail!(
                "{}: `{cmd}` failed ({}): {}",
                node.addr.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        }
    }
}

impl FaultInjector for Injector {
    fn inject<'a>(&'a self, node: &'a str, fault: Fault) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            let n = self
                .nodes
                .iter()
                .find(|n| n.addr.name == node)
                .ok_or_else(|| anyhow::anyhow!("no node named '{node}'"))?;
            if let (true, Some(demo)) = (n.managed, &self.demo) {
                if !matches!(fault, Fault::Pause | Fault::Resume) {
                    return demo.inject(node, fault).await;
                }
            }
            match fault {
                Fault::Kill if n.fault_commands.contains_key("kill") => {
                    Self::shell_command(n, fault).await
                }
                Fault::Kill => Self::admin_command(n, queries::PROXYSQL_KILL).await,
                Fault::Pause => Self::admin_command(n, queries::PROXYSQL_PAUSE).await,
                Fault::Resume => Self::admin_command(n, queries::PROXYSQL_RESUME).await,
                Fault::Freeze | Fault::Thaw | Fault::Restart => Self::shell_command(n, fault).await,
            }
        })
    }
}

/// Lists the fault names (help texts).
pub fn names() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        (
            "kill",
            "SIGKILL the process (PROXYSQL KILL on nodes pxadm did not start)",
        ),
        ("freeze", "SIGSTOP: the node stops answering"),
        ("thaw", "SIGCONT"),
        ("pause", "PROXYSQL PAUSE: stop accepting traffic"),
        ("resume", "PROXYSQL RESUME"),
        ("restart", "start the node again"),
    ])
}
