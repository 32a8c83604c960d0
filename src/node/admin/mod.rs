//! The admin plane: SQLite-backed configuration layers, the admin query pipeline, LOAD/SAVE,
//! checksums and the admin listener (spec §1–§5).
//!
//! [`AdminHandle`] is the async face of the [`engine::Engine`], which runs on its own thread.

pub mod db;
pub mod engine;
pub mod limits;
pub mod listener;
pub mod privileges;
pub mod runtime_layer;
pub mod session;
pub mod shared;
pub mod tables;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use engine::{After, Engine, EngineOptions, Reply, SessionCtx};
use shared::NodeShared;

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// The engine thread stopped (node shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the admin engine has stopped")]
pub struct EngineGone;

/// Cheap, cloneable handle to the admin engine thread.
#[derive(Clone)]
pub struct AdminHandle {
    tx: mpsc::UnboundedSender<Job>,
}

impl AdminHandle {
    /// Starts the engine thread; returns once start-up (§2.2) finished or failed.
    pub fn spawn(opts: EngineOptions, shared: Arc<NodeShared>) -> anyhow::Result<AdminHandle> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        std::thread::Builder::new()
            .name("pxadm-admin".into())
            .spawn(move || {
                let mut engine = match Engine::start(opts, shared) {
                    Ok(e) => {
                        let _ = ready_tx.send(Ok(()));
                        e
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = rx.blocking_recv() {
                    job(&mut engine);
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("admin engine thread died during start-up"))??;
        Ok(AdminHandle { tx })
    }

    /// Runs `f` on the engine thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, EngineGone>
    where
        R: Send + 'static,
        F: FnOnce(&mut Engine) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |e: &mut Engine| {
                let _ = tx.send(f(e));
            }))
            .map_err(|_| EngineGone)?;
        rx.await.map_err(|_| EngineGone)
    }

    /// Executes one statement for a session; the session context comes back updated.
    pub async fn query(
        &self,
        mut ctx: SessionCtx,
        sql: String,
    ) -> Result<(Reply, After, SessionCtx), EngineGone> {
        self.call(move |e| {
            let (reply, after) = e.execute(&mut ctx, &sql);
            (reply, after, ctx)
        })
        .await
    }
}
