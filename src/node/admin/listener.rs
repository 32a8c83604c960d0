//! Admin listeners on the addresses of `admin-mysql_ifaces`, rebound when it changes (§1.1).
//!
//! The set of listeners follows the running admin variables through a `watch` channel: after
//! `LOAD ADMIN VARIABLES TO RUNTIME` the new address list is diffed against the bound one,
//! new addresses are served and dropped ones closed. Sessions already accepted keep running.
//! The LOAD itself binds the new addresses first (`NodeShared::prebound_admin`) and is refused
//! if one fails, so the change is all or nothing and the old listeners are never closed for an
//! address that cannot be served.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::session::serve_admin_connection;
use super::shared::NodeShared;
use super::AdminHandle;
use crate::proxysql::ifaces::parse_ifaces;
use crate::{px_error, px_info};

/// The running admin listeners.
pub struct AdminListeners {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

struct Bound {
    cancel: CancellationToken,
}

impl AdminListeners {
    /// Binds the current `admin-mysql_ifaces` (failing if none can be bound) and follows changes.
    pub async fn start(
        admin: AdminHandle,
        shared: Arc<NodeShared>,
    ) -> anyhow::Result<AdminListeners> {
        let mut vars = shared.admin_vars.subscribe();
        let initial = parse_ifaces(
            &vars
                .borrow_and_update()
                .get("admin-mysql_ifaces")
                .cloned()
                .unwrap_or_default(),
        );
        let mut bound: BTreeMap<String, Bound> = BTreeMap::new();
        for addr in &initial {
            let b = bind(addr, admin.clone(), shared.clone()).await?;
            bound.insert(addr.clone(), b);
        }
        if bound.is_empty() {
            anyhow::bail!("admin-mysql_ifaces is empty: no admin listener to start");
        }
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    changed = vars.changed() => if changed.is_err() { break },
                }
                let wanted = parse_ifaces(
                    &vars
                        .borrow_and_update()
                        .get("admin-mysql_ifaces")
                        .cloned()
                        .unwrap_or_default(),
                );
                bound.retain(|addr, b| {
                    let keep = wanted.contains(addr);
                    if !keep {
                        px_info!("Stopping admin listener on {}", addr);
                        b.cancel.cancel();
                    }
                    keep
                });
                let mut prebound = std::mem::take(&mut *shared.prebound_admin.lock());
                for addr in wanted {
                    if bound.contains_key(&addr) {
                        continue;
                    }
                    let ready = match prebound.remove(&addr) {
                        Some(socket) => TcpListener::from_std(socket).map_err(|e| {
                            anyhow::anyhow!("cannot serve admin interface {addr}: {e}")
                        }),
                        None => TcpListener::bind(&addr).await.map_err(|e| {
                            anyhow::anyhow!("cannot bind admin interface {addr}: {e}")
                        }),
                    };
                    match ready.map(|l| serve(l, &addr, admin.clone(), shared.clone())) {
                        Ok(b) => {
                            bound.insert(addr, b);
                        }
                        Err(e) => px_error!("Unable to bind admin listener on {}: {:#}", addr, e),
                    }
                }
            }
            for b in bound.values() {
                b.cancel.cancel();
            }
        });
        Ok(AdminListeners {
            cancel,
            task: Some(task),
        })
    }

    /// Closes every listener (sessions in progress are not interrupted).
    pub async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

async fn bind(addr: &str, admin: AdminHandle, shared: Arc<NodeShared>) -> anyhow::Result<Bound> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind admin interface {addr}: {e}"))?;
    Ok(serve(listener, addr, admin, shared))
}

/// Accepts admin sessions on `listener` until the returned handle is cancelled.
fn serve(listener: TcpListener, addr: &str, admin: AdminHandle, shared: Arc<NodeShared>) -> Bound {
    px_info!(
        "Admin listening on {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| addr.into())
    );
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => break,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let admin = admin.clone();
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        serve_admin_connection(stream, peer, admin, shared).await
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    px_error!("Admin accept failed: {}", e);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Bound { cancel }
}

/// Whether `user` may log in from `peer` (§1.2: `admin` and `stats` only from loopback).
pub fn local_only_violation(user: &str, peer: SocketAddr) -> bool {
    (user == "admin" || user == "stats") && !peer.ip().to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_and_stats_are_local_only() {
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(local_only_violation("admin", remote));
        assert!(local_only_violation("stats", remote));
        assert!(!local_only_violation("admin", local));
        assert!(!local_only_violation("cluster_user", remote));
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert!(!local_only_violation("admin", mapped));
        let mapped_remote: SocketAddr = "[::ffff:192.0.2.1]:5000".parse().unwrap();
        assert!(local_only_violation("admin", mapped_remote));
    }
}
