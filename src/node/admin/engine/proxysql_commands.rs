//! `PROXYSQL ...` commands (§1.6): traffic control, process control, read-only, and the
//! `CLUSTER_NODE_UUID` a peer announces itself with.

use std::sync::atomic::Ordering;

use super::{After, Engine, Reply, SessionCtx};
use crate::node::admin::shared::NodeControl;
use crate::proxysql::clock::unix_now;
use crate::proxysql::statement::ProxysqlCommand;
use crate::{px_error, px_info, px_warn};

impl Engine {
    pub(super) fn proxysql(
        &mut self,
        ctx: &mut SessionCtx,
        cmd: ProxysqlCommand,
    ) -> (Reply, After) {
        let control = |c: NodeControl| {
            let _ = self.shared.control.send(c);
        };
        let reply = match cmd {
            ProxysqlCommand::ClusterNodeUuid(args) => return self.cluster_node_uuid(ctx, &args),
            // The shared flag flips before the OK, so `mysql_listener_paused` reads true right
            // after PAUSE (ProxySQL pauses synchronously); the supervisor then closes or
            // reopens the listeners.
            ProxysqlCommand::Pause if self.shared.traffic_stopped.load(Ordering::SeqCst) => {
                Reply::admin_err(
                    "ProxySQL Admin Error: ProxySQL MySQL module not running, impossible to pause",
                )
            }
            ProxysqlCommand::Pause => {
                if self.shared.traffic_paused.swap(true, Ordering::SeqCst) {
                    Reply::admin_err("ProxySQL Admin Error: ProxySQL MySQL module is already paused, impossible to pause")
                } else {
                    control(NodeControl::PauseTraffic);
                    Reply::ok()
                }
            }
            ProxysqlCommand::Resume => {
                if !self.shared.traffic_paused.swap(false, Ordering::SeqCst) {
                    Reply::admin_err("ProxySQL Admin Error: ProxySQL MySQL module is not paused, impossible to resume")
                } else {
                    control(NodeControl::ResumeTraffic);
                    Reply::ok()
                }
            }
            ProxysqlCommand::Stop => {
                self.shared.traffic_stopped.store(true, Ordering::SeqCst);
                control(NodeControl::StopTraffic);
                Reply::ok()
            }
            ProxysqlCommand::Start => {
                if self.shared.traffic_stopped.swap(false, Ordering::SeqCst) {
                    control(NodeControl::StartTraffic);
                    Reply::ok()
                } else {
                    px_warn!("ProxySQL was already started when received PROXYSQL START command");
                    Reply::admin_err("ProxySQL Admin Error: ProxySQL already started")
                }
            }
            ProxysqlCommand::Restart => {
                control(NodeControl::Restart);
                Reply::ok()
            }
            ProxysqlCommand::Kill => {
                px_warn!("Received PROXYSQL KILL command. Exiting immediately");
                control(NodeControl::Kill);
                Reply::ok()
            }
            ProxysqlCommand::ShutdownSlow => {
                control(NodeControl::Shutdown);
                Reply::ok()
            }
            ProxysqlCommand::FlushLogs => match crate::node::logging::reopen() {
                Ok(()) => Reply::ok(),
                Err(e) => Reply::admin_err(format!("Unable to reopen the log: {e}")),
            },
            ProxysqlCommand::ReloadTls => {
                px_info!("Received PROXYSQL RELOAD TLS command");
                match self.shared.tls.reload(&self.opts.datadir) {
                    Ok(()) => Reply::ok(),
                    Err(e) => {
                        px_error!("Aborting PROXYSQL RELOAD TLS: {}", e);
                        Reply::admin_err(format!("RELOAD TLS failed: {e}"))
                    }
                }
            }
            ProxysqlCommand::ReadOnly => {
                self.read_only = true;
                Reply::ok()
            }
            ProxysqlCommand::ReadWrite => {
                self.read_only = false;
                Reply::ok()
            }
            ProxysqlCommand::NoOp => Reply::ok(),
        };
        (reply, After::Continue)
    }

    /// `PROXYSQL CLUSTER_NODE_UUID <uuid> <ifaces>` (§1.6).
    fn cluster_node_uuid(&mut self, ctx: &mut SessionCtx, args: &str) -> (Reply, After) {
        let bad = || {
            (
                Reply::admin_err("Received PROXYSQL CLUSTER_NODE_UUID with invalid format"),
                After::Disconnect,
            )
        };
        if ctx.client.is_none() {
            return bad();
        }
        let Some((uuid, ifaces)) = args.split_once(' ') else {
            return bad();
        };
        if uuid::Uuid::parse_str(uuid).is_err() || ifaces.trim().is_empty() {
            return bad();
        }
        match &ctx.cluster_peer {
            Some((existing, _)) if existing != uuid => (
                Reply::admin_err("Received PROXYSQL CLUSTER_NODE_UUID with a different UUID"),
                After::Disconnect,
            ),
            _ => {
                ctx.cluster_peer = Some((uuid.to_string(), ifaces.trim().to_string()));
                self.touch_cluster_client(ctx, uuid.to_string(), ifaces.trim().to_string());
                (Reply::ok(), After::Continue)
            }
        }
    }

    pub(super) fn touch_cluster_client(&self, ctx: &SessionCtx, uuid: String, ifaces: String) {
        if let Some(addr) = ctx.client {
            let _ = self.db.admin.execute(
                "INSERT OR REPLACE INTO stats.stats_proxysql_servers_clients_status VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![uuid, addr.ip().to_string(), addr.port(), ifaces, unix_now() as i64],
            );
        }
    }
}

impl Engine {
    /// `KILL CONNECTION <id>`: closes that MySQL session of this node, as ProxySQL does.
    pub(super) fn kill_connection(&mut self, id: u32) -> Reply {
        if crate::node::traffic::kill_session(&self.shared, id) {
            px_info!("Killed MySQL session {id} following KILL CONNECTION");
            Reply::ok()
        } else {
            Reply::admin_err(format!("ProxySQL Admin Error: Unknown thread id: {id}"))
        }
    }

    /// `LOAD COREDUMP TO RUNTIME`: the filters become the runtime ones (this node writes no
    /// core dumps, so they are only shown in `runtime_coredump_filters`).
    pub(super) fn load_coredump(&mut self) -> Reply {
        let copied = super::in_transaction(&self.db.admin, |c| {
            c.execute("DELETE FROM main.runtime_coredump_filters", [])?;
            c.execute(
                "INSERT INTO main.runtime_coredump_filters SELECT * FROM main.coredump_filters",
                [],
            )
        });
        match copied {
            Ok(_) => Reply::ok(),
            Err(e) => Reply::sqlite_err(&e),
        }
    }

    /// `LOAD MYSQL USER <name> TO RUNTIME`: ProxySQL accepts names of letters, digits, `-`,
    /// `+` and `_` only.
    pub(super) fn load_one_user(&mut self, name: &str) -> Reply {
        let legit = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '_'));
        if legit {
            Reply::ok()
        } else {
            Reply::admin_err(format!("ProxySQL Admin Error: Invalid name {name}"))
        }
    }
}
