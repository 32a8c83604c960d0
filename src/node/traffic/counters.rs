//! The traffic side's counters of `stats_mysql_global`: relaxed atomics shared by the
//! sessions, the server entries (pool events, backend bytes) and the admin's rendering.
//! Kept apart from `stats.rs` so the server entries can count without depending on it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The traffic side's counters of `stats_mysql_global` (names in the field docs). Relaxed
/// atomics bumped once per statement or connection event, never per packet: frontend bytes
/// are counted by the packet codec and added here when a command ends, backend bytes when
/// a connection goes back to its pool.
#[derive(Default)]
pub struct GlobalCounters {
    /// `Queries_frontends_bytes_sent`.
    pub frontend_bytes_sent: AtomicU64,
    /// `Queries_frontends_bytes_recv`.
    pub frontend_bytes_recv: AtomicU64,
    /// `Queries_backends_bytes_sent`.
    pub backend_bytes_sent: AtomicU64,
    /// `Queries_backends_bytes_recv`.
    pub backend_bytes_recv: AtomicU64,
    /// `Com_autocommit`: `SET autocommit` sent to a backend.
    pub com_autocommit: AtomicU64,
    /// `Com_autocommit_filtered`: `SET autocommit` answered by the proxy.
    pub com_autocommit_filtered: AtomicU64,
    /// `Com_commit`: `COMMIT` sent to a backend.
    pub com_commit: AtomicU64,
    /// `Com_commit_filtered`: `COMMIT` answered by the proxy (no transaction anywhere).
    pub com_commit_filtered: AtomicU64,
    /// `Com_rollback`.
    pub com_rollback: AtomicU64,
    /// `Com_rollback_filtered`.
    pub com_rollback_filtered: AtomicU64,
    /// `Com_backend_change_user` (a backend connection reset for another session).
    pub com_backend_change_user: AtomicU64,
    /// `Com_backend_init_db`.
    pub com_backend_init_db: AtomicU64,
    /// `Com_backend_set_names`.
    pub com_backend_set_names: AtomicU64,
    /// `Com_frontend_init_db`.
    pub com_frontend_init_db: AtomicU64,
    /// `Com_frontend_set_names`.
    pub com_frontend_set_names: AtomicU64,
    /// `Com_frontend_use_db`.
    pub com_frontend_use_db: AtomicU64,
    /// `Com_backend_stmt_prepare`.
    pub com_backend_stmt_prepare: AtomicU64,
    /// `Com_backend_stmt_execute`.
    pub com_backend_stmt_execute: AtomicU64,
    /// `Com_backend_stmt_close`.
    pub com_backend_stmt_close: AtomicU64,
    /// `Com_frontend_stmt_prepare`.
    pub com_frontend_stmt_prepare: AtomicU64,
    /// `Com_frontend_stmt_execute`.
    pub com_frontend_stmt_execute: AtomicU64,
    /// `Com_frontend_stmt_close`.
    pub com_frontend_stmt_close: AtomicU64,
    /// `Query_Processor_time_nsec`: time spent in the query rules.
    pub query_processor_time_nsec: AtomicU64,
    /// `Backend_query_time_nsec`: time from sending a statement to its last answer packet.
    pub backend_query_time_nsec: AtomicU64,
    /// `ConnPool_get_conn_immediate`: a statement reused the connection its session held.
    pub connpool_get_conn_immediate: AtomicU64,
    /// `ConnPool_get_conn_success`: a connection came from the pool or was opened.
    pub connpool_get_conn_success: AtomicU64,
    /// `ConnPool_get_conn_failure`: no connection could be had.
    pub connpool_get_conn_failure: AtomicU64,
    /// `mysql_killed_backend_connections`.
    pub killed_backend_connections: AtomicU64,
    /// `mysql_killed_backend_queries`.
    pub killed_backend_queries: AtomicU64,
    /// `generated_error_packets`: errors the proxy itself answered.
    pub generated_error_packets: AtomicU64,
    /// `Access_Denied_Max_User_Connections`.
    pub access_denied_max_user_connections: AtomicU64,
    /// `Selects_for_update__autocommit0`.
    pub selects_for_update_autocommit0: AtomicU64,
    /// `MyHGM_myconnpoll_get`: asks to the pool.
    pub myconnpoll_get: AtomicU64,
    /// `MyHGM_myconnpoll_get_ok`: asks answered with an idle connection.
    pub myconnpoll_get_ok: AtomicU64,
    /// `MyHGM_myconnpoll_push`: connections returned to the pool.
    pub myconnpoll_push: AtomicU64,
    /// `MyHGM_myconnpoll_destroy`: connections dropped instead of pooled.
    pub myconnpoll_destroy: AtomicU64,
    /// `MyHGM_myconnpoll_reset`: connections reset before going back to the pool.
    pub myconnpoll_reset: AtomicU64,
}

/// Adds `n` to a counter (relaxed: totals, not synchronisation).
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
