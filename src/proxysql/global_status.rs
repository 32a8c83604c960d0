//! The rows of `stats_mysql_global` and `stats_memory_metrics`: names and order exactly as
//! ProxySQL 2.7.2 lists them (`SELECT * FROM stats_mysql_global` on a fresh node, without a
//! `ORDER BY`), so third-party readers (dolphie, proxysql_exporter, netdata) and the
//! conformance corpus see the same list on `pxadm node` as on a real node.
//!
//! Reset semantics as ProxySQL's: the counters of `stats_mysql_global` only grow until the
//! process restarts (the table has no `_reset` twin); gauges (`*_connected`,
//! `Active_Transactions`, buffer bytes) follow the live state.

/// `stats_mysql_global` variable names, in ProxySQL 2.7.2's order.
pub const STATS_MYSQL_GLOBAL: [&str; 108] = [
    "ProxySQL_Uptime",
    "Active_Transactions",
    "Client_Connections_aborted",
    "Client_Connections_connected",
    "Client_Connections_created",
    "Server_Connections_aborted",
    "Server_Connections_connected",
    "Server_Connections_created",
    "Server_Connections_delayed",
    "Client_Connections_non_idle",
    "mysql_backend_buffers_bytes",
    "mysql_frontend_buffers_bytes",
    "mysql_session_internal_bytes",
    "Com_autocommit",
    "Com_autocommit_filtered",
    "Com_commit",
    "Com_commit_filtered",
    "Com_rollback",
    "Com_rollback_filtered",
    "Com_backend_change_user",
    "Com_backend_init_db",
    "Com_backend_set_names",
    "Com_frontend_init_db",
    "Com_frontend_set_names",
    "Com_frontend_use_db",
    "Com_backend_stmt_prepare",
    "Com_backend_stmt_execute",
    "Com_backend_stmt_close",
    "Com_frontend_stmt_prepare",
    "Com_frontend_stmt_execute",
    "Com_frontend_stmt_close",
    "Questions",
    "Slow_queries",
    "GTID_consistent_queries",
    "GTID_session_collected",
    "Queries_backends_bytes_recv",
    "Queries_backends_bytes_sent",
    "Queries_frontends_bytes_recv",
    "Queries_frontends_bytes_sent",
    "Query_Processor_time_nsec",
    "Backend_query_time_nsec",
    "ConnPool_get_conn_latency_awareness",
    "ConnPool_get_conn_immediate",
    "ConnPool_get_conn_success",
    "ConnPool_get_conn_failure",
    "mysql_killed_backend_connections",
    "mysql_killed_backend_queries",
    "hostgroup_locked_set_cmds",
    "hostgroup_locked_queries",
    "mysql_unexpected_frontend_com_quit",
    "mysql_unexpected_frontend_packets",
    "queries_with_max_lag_ms__total_wait_time_us",
    "queries_with_max_lag_ms__delayed",
    "queries_with_max_lag_ms",
    "backend_lagging_during_query",
    "backend_offline_during_query",
    "get_aws_aurora_replicas_skipped_during_query",
    "automatic_detected_sql_injection",
    "whitelisted_sqli_fingerprint",
    "max_connect_timeouts",
    "generated_error_packets",
    "client_host_error_killed_connections",
    "Client_Connections_hostgroup_locked",
    "Mirror_concurrency",
    "Mirror_queue_length",
    "Selects_for_update__autocommit0",
    "Servers_table_version",
    "MySQL_Thread_Workers",
    "Access_Denied_Wrong_Password",
    "Access_Denied_Max_Connections",
    "Access_Denied_Max_User_Connections",
    "MySQL_Monitor_Workers",
    "MySQL_Monitor_Workers_Aux",
    "MySQL_Monitor_Workers_Started",
    "MySQL_Monitor_connect_check_OK",
    "MySQL_Monitor_connect_check_ERR",
    "MySQL_Monitor_ping_check_OK",
    "MySQL_Monitor_ping_check_ERR",
    "MySQL_Monitor_read_only_check_OK",
    "MySQL_Monitor_read_only_check_ERR",
    "MySQL_Monitor_replication_lag_check_OK",
    "MySQL_Monitor_replication_lag_check_ERR",
    "MySQL_Monitor_dns_cache_queried",
    "MySQL_Monitor_dns_cache_lookup_success",
    "MySQL_Monitor_dns_cache_record_updated",
    "MyHGM_myconnpoll_get",
    "MyHGM_myconnpoll_get_ok",
    "MyHGM_myconnpoll_push",
    "MyHGM_myconnpoll_destroy",
    "MyHGM_myconnpoll_reset",
    "SQLite3_memory_bytes",
    "ConnPool_memory_bytes",
    "Stmt_Client_Active_Total",
    "Stmt_Client_Active_Unique",
    "Stmt_Server_Active_Total",
    "Stmt_Server_Active_Unique",
    "Stmt_Max_Stmt_id",
    "Stmt_Cached",
    "Query_Cache_Memory_bytes",
    "Query_Cache_count_GET",
    "Query_Cache_count_GET_OK",
    "Query_Cache_count_SET",
    "Query_Cache_bytes_IN",
    "Query_Cache_bytes_OUT",
    "Query_Cache_Purged",
    "Query_Cache_Entries",
    "new_req_conns_count",
    "mysql_listener_paused",
];

/// `stats_memory_metrics` variable names, in ProxySQL 2.7.2's order.
pub const STATS_MEMORY_METRICS: [&str; 19] = [
    "SQLite3_memory_bytes",
    "jemalloc_resident",
    "jemalloc_active",
    "jemalloc_allocated",
    "jemalloc_mapped",
    "jemalloc_metadata",
    "jemalloc_retained",
    "Auth_memory",
    "query_digest_memory",
    "mysql_query_rules_memory",
    "prepare_statement_metadata_memory",
    "prepare_statement_backend_memory",
    "mysql_firewall_users_table",
    "mysql_firewall_users_config",
    "mysql_firewall_rules_table",
    "mysql_firewall_rules_config",
    "stack_memory_mysql_threads",
    "stack_memory_admin_threads",
    "stack_memory_cluster_threads",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for list in [&STATS_MYSQL_GLOBAL[..], &STATS_MEMORY_METRICS[..]] {
            let mut seen = std::collections::HashSet::new();
            for n in list {
                assert!(seen.insert(*n), "{n} twice");
            }
        }
        assert_eq!(STATS_MYSQL_GLOBAL[0], "ProxySQL_Uptime");
        assert_eq!(STATS_MYSQL_GLOBAL[107], "mysql_listener_paused");
    }
}
