//! ProxySQL 2.7.2's Prometheus vocabulary for the node's own figures: which
//! `stats_mysql_global` / `stats_memory_metrics` variable feeds which series (name, type,
//! labels, help text exactly as a real 2.7.2 answers `SHOW PROMETHEUS METRICS`), the
//! per-server connection-pool series, and the classic text form ProxySQL's prometheus-cpp
//! exposer writes.
//!
//! Only what `pxadm node` counts for real is listed; what it cannot count (query cache,
//! GTID, mirroring, the firewall, the SQL-injection engine, Aurora, jemalloc's metadata,
//! prepared statements' memory, monitor DNS cache...) is left out rather than published as
//! a constant 0 (docs/monitoring/README.md lists the omissions).

/// The Prometheus type of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic; the series name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// How a variable's value becomes the series' value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// As is.
    Unit,
    /// Nanoseconds to seconds (`*_time_nsec` variables, `*_seconds_total` series).
    NanosToSeconds,
}

/// One series fed by one status variable.
#[derive(Debug, Clone, Copy)]
pub struct StatusSeries {
    /// The variable in `stats_mysql_global` or `stats_memory_metrics`.
    pub variable: &'static str,
    /// The series name as ProxySQL exposes it (counters with their `_total`).
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The constant labels that tell this variable apart within its family.
    pub labels: &'static [(&'static str, &'static str)],
    /// ProxySQL's help text.
    pub help: &'static str,
    /// Unit conversion.
    pub scale: Scale,
}

const fn c(
    variable: &'static str,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    help: &'static str,
) -> StatusSeries {
    StatusSeries {
        variable,
        name,
        kind: Kind::Counter,
        labels,
        help,
        scale: Scale::Unit,
    }
}

const fn g(variable: &'static str, name: &'static str, help: &'static str) -> StatusSeries {
    StatusSeries {
        variable,
        name,
        kind: Kind::Gauge,
        labels: &[],
        help,
        scale: Scale::Unit,
    }
}

const fn secs(variable: &'static str, name: &'static str, help: &'static str) -> StatusSeries {
    StatusSeries {
        variable,
        name,
        kind: Kind::Counter,
        labels: &[],
        help,
        scale: Scale::NanosToSeconds,
    }
}

const CLIENT_HELP: &str = "Total number of client connections created.";
const SERVER_HELP: &str = "Total number of server connections (created|delayed|aborted).";
const BACKEND_BYTES_HELP: &str = "Total number of bytes (sent|received) in backend connections.";
const FRONTEND_BYTES_HELP: &str = "Total number of bytes (sent|received) in frontend connections.";
const BACKEND_STMT_HELP: &str = "Represents the number of statements (PREPARE|EXECUTE|CLOSE) executed by ProxySQL against the backends.";
const FRONTEND_STMT_HELP: &str =
    "Represents the number of statements (PREPARE|EXECUTE|CLOSE) executed by clients.";
const CONNECT_HELP: &str =
    "Number of (succeed|failed) 'connect checks' from 'monitor_connect_thread'.";
const PING_HELP: &str = "Number of (succeed|failed) 'ping checks' from 'monitor_ping_thread'.";
const READ_ONLY_HELP: &str =
    "Number of (succeed|failed) 'read only checks' from 'monitor_read_only_thread'.";
const LAG_HELP: &str =
    "Number of (succeed|failed)'replication lag checks' from 'monitor_replication_lag_thread'.";
const JEMALLOC_HELP: &str = "Jemalloc memory usage stadistics (resident|active|mapped|metadata).";

/// `stats_mysql_global` variables the node counts, as ProxySQL 2.7.2's series.
#[rustfmt::skip]
pub const GLOBAL_SERIES: &[StatusSeries] = &[
    c("ProxySQL_Uptime", "proxysql_uptime_seconds_total", &[], "The total uptime of ProxySQL."),
    c("Questions", "proxysql_questions_total", &[], "The total number of client requests / statements executed."),
    c("Slow_queries", "proxysql_slow_queries_total", &[], "The total number of queries with an execution time greater than \"mysql-long_query_time\" milliseconds."),
    c("Client_Connections_aborted", "proxysql_client_connections_total", &[("status", "aborted")], CLIENT_HELP),
    c("Client_Connections_created", "proxysql_client_connections_total", &[("status", "created")], CLIENT_HELP),
    c("Server_Connections_aborted", "proxysql_server_connections_total", &[("status", "aborted")], SERVER_HELP),
    c("Server_Connections_created", "proxysql_server_connections_total", &[("status", "created")], SERVER_HELP),
    c("Servers_table_version", "proxysql_servers_table_version_total", &[], "Number of times the \"servers_table\" have been modified."),
    c("Access_Denied_Wrong_Password", "proxysql_access_denied_wrong_password_total", &[], "Total access denied \"wrong password\"."),
    c("Access_Denied_Max_Connections", "proxysql_access_denied_max_connections_total", &[], "Total access denied \"max connections\"."),
    c("Access_Denied_Max_User_Connections", "proxysql_access_denied_max_user_connections_total", &[], "Total access denied \"max user connections\"."),
    c("Com_autocommit", "proxysql_com_autocommit_total", &[], "Total queries autocommited."),
    c("Com_autocommit_filtered", "proxysql_com_autocommit_filtered_total", &[], "Total queries filtered autocommit."),
    c("Com_rollback", "proxysql_com_rollback_total", &[], "Total queries rollbacked."),
    c("Com_rollback_filtered", "proxysql_com_rollback_filtered_total", &[], "Total queries filtered rollbacked."),
    c("Com_backend_change_user", "proxysql_com_backend_change_user_total", &[], "Total CHANGE_USER queries backend."),
    c("Com_backend_init_db", "proxysql_com_backend_init_db_total", &[], "Total queries backend INIT DB."),
    c("Com_backend_set_names", "proxysql_com_backend_set_names_total", &[], "Total queries backend SET NAMES."),
    c("Com_frontend_init_db", "proxysql_com_frontend_init_db_total", &[], "Total INIT DB queries frontend."),
    c("Com_frontend_set_names", "proxysql_com_frontend_set_names_total", &[], "Total SET NAMES frontend queries."),
    c("Com_frontend_use_db", "proxysql_com_frontend_use_db_total", &[], "Total USE DB queries frontend."),
    c("Com_commit", "proxysql_com_commit_cnt_total", &[], "Total queries commit."),
    c("Com_commit_filtered", "proxysql_com_commit_cnt_filtered_total", &[], "Total queries commit filtered."),
    c("Selects_for_update__autocommit0", "proxysql_selects_for_update__autocommit0_total", &[], "Total queries that are SELECT for update or equivalent."),
    c("MyHGM_myconnpoll_get", "proxysql_myhgm_myconnpool_get_total", &[], "The number of requests made to the connection pool."),
    c("MyHGM_myconnpoll_get_ok", "proxysql_myhgm_myconnpool_get_ok_total", &[], "The number of successful requests to the connection pool (i.e. where a connection was available)."),
    c("MyHGM_myconnpoll_push", "proxysql_myhgm_myconnpool_push_total", &[], "The number of connections returned to the connection pool."),
    c("MyHGM_myconnpoll_reset", "proxysql_myhgm_myconnpool_reset_total", &[], "The number of connections that have been reset / re-initialized using \"COM_CHANGE_USER\""),
    c("MyHGM_myconnpoll_destroy", "proxysql_myhgm_myconnpool_destroy_total", &[], "The number of connections considered unhealthy and therefore closed."),
    c("Queries_backends_bytes_recv", "proxysql_queries_backends_bytes_total", &[("traffic_flow", "received")], BACKEND_BYTES_HELP),
    c("Queries_backends_bytes_sent", "proxysql_queries_backends_bytes_total", &[("traffic_flow", "sent")], BACKEND_BYTES_HELP),
    c("Queries_frontends_bytes_recv", "proxysql_queries_frontends_bytes_total", &[("traffic_flow", "received")], FRONTEND_BYTES_HELP),
    c("Queries_frontends_bytes_sent", "proxysql_queries_frontends_bytes_total", &[("traffic_flow", "sent")], FRONTEND_BYTES_HELP),
    secs("Query_Processor_time_nsec", "proxysql_query_processor_time_seconds_total", "The time spent inside the \"Query Processor\" to determine what action needs to be taken with the query (internal module)."),
    secs("Backend_query_time_nsec", "proxysql_backend_query_time_seconds_total", "Time spent making network calls to communicate with the backends."),
    c("Com_backend_stmt_close", "proxysql_com_backend_stmt_total", &[("op", "close")], BACKEND_STMT_HELP),
    c("Com_backend_stmt_execute", "proxysql_com_backend_stmt_total", &[("op", "execute")], BACKEND_STMT_HELP),
    c("Com_backend_stmt_prepare", "proxysql_com_backend_stmt_total", &[("op", "prepare")], BACKEND_STMT_HELP),
    c("Com_frontend_stmt_close", "proxysql_com_frontend_stmt_total", &[("op", "close")], FRONTEND_STMT_HELP),
    c("Com_frontend_stmt_execute", "proxysql_com_frontend_stmt_total", &[("op", "execute")], FRONTEND_STMT_HELP),
    c("Com_frontend_stmt_prepare", "proxysql_com_frontend_stmt_total", &[("op", "prepare")], FRONTEND_STMT_HELP),
    c("ConnPool_get_conn_immediate", "proxysql_connpool_get_conn_success_immediate_total", &[], "The connection is provided from per-thread cache."),
    c("ConnPool_get_conn_success", "proxysql_connpool_get_conn_success_total", &[], "The session is able to get a connection, either from per-thread cache or connection pool."),
    c("ConnPool_get_conn_failure", "proxysql_connpool_get_conn_failure_total", &[], "The connection pool cannot provide any connection."),
    c("generated_error_packets", "proxysql_generated_error_packets_total", &[], "Total generated error packets."),
    c("mysql_killed_backend_connections", "proxysql_mysql_killed_backend_connections_total", &[], "Number of backend connection killed."),
    c("mysql_killed_backend_queries", "proxysql_mysql_killed_backend_queries_total", &[], "Killed backend queries."),
    c("MySQL_Monitor_connect_check_ERR", "proxysql_mysql_monitor_connect_check_total", &[("status", "err")], CONNECT_HELP),
    c("MySQL_Monitor_connect_check_OK", "proxysql_mysql_monitor_connect_check_total", &[("status", "ok")], CONNECT_HELP),
    c("MySQL_Monitor_ping_check_ERR", "proxysql_mysql_monitor_ping_check_total", &[("status", "err")], PING_HELP),
    c("MySQL_Monitor_ping_check_OK", "proxysql_mysql_monitor_ping_check_total", &[("status", "ok")], PING_HELP),
    c("MySQL_Monitor_read_only_check_ERR", "proxysql_mysql_monitor_read_only_check_total", &[("status", "err")], READ_ONLY_HELP),
    c("MySQL_Monitor_read_only_check_OK", "proxysql_mysql_monitor_read_only_check_total", &[("status", "ok")], READ_ONLY_HELP),
    c("MySQL_Monitor_replication_lag_check_ERR", "proxysql_mysql_monitor_replication_lag_check_total", &[("status", "err")], LAG_HELP),
    c("MySQL_Monitor_replication_lag_check_OK", "proxysql_mysql_monitor_replication_lag_check_total", &[("status", "ok")], LAG_HELP),
    g("Server_Connections_connected", "proxysql_server_connections_connected", "Backend connections that are currently connected."),
    g("Client_Connections_connected", "proxysql_client_connections_connected", "Client connections that are currently connected."),
    g("Active_Transactions", "proxysql_active_transactions", "Provides a count of how many client connection are currently processing a transaction."),
    g("Client_Connections_non_idle", "proxysql_client_connections_non_idle", "Number of client connections that are currently handled by the main worker threads."),
    g("MySQL_Thread_Workers", "proxysql_mysql_thread_workers", "Number of MySQL Thread workers i.e. 'mysql-threads'"),
    g("mysql_backend_buffers_bytes", "proxysql_mysql_backend_buffers_bytes", "Buffers related to backend connections if \"fast_forward\" is used (0 means fast_forward is not used)."),
    g("mysql_frontend_buffers_bytes", "proxysql_mysql_frontend_buffers_bytes", "Buffers related to frontend connections (read/write buffers and other queues)."),
    g("mysql_session_internal_bytes", "proxysql_mysql_session_internal_bytes", "Other memory used by ProxySQL to handle MySQL Sessions."),
    g("ConnPool_memory_bytes", "proxysql_connpool_memory_bytes", "Memory used by the connection pool to store connections metadata."),
    g("mysql_listener_paused", "proxysql_mysql_listener_paused", "MySQL listener paused because of PROXYSQL PAUSE."),
];

/// `stats_memory_metrics` rows the node fills, as ProxySQL 2.7.2's series.
#[rustfmt::skip]
pub const MEMORY_SERIES: &[StatusSeries] = &[
    c("jemalloc_allocated", "proxysql_jemalloc_allocated_bytes_total", &[], "Bytes allocated by the application."),
    g("SQLite3_memory_bytes", "proxysql_sqlite3_memory_bytes", "Memory used by SQLite."),
    StatusSeries { labels: &[("type", "mapped")], ..g("jemalloc_mapped", "proxysql_jemalloc_bytes", JEMALLOC_HELP) },
    StatusSeries { labels: &[("type", "retained")], ..g("jemalloc_retained", "proxysql_jemalloc_bytes", JEMALLOC_HELP) },
    StatusSeries { labels: &[("type", "active")], ..g("jemalloc_active", "proxysql_jemalloc_bytes", JEMALLOC_HELP) },
    StatusSeries { labels: &[("type", "resident")], ..g("jemalloc_resident", "proxysql_jemalloc_bytes", JEMALLOC_HELP) },
    g("query_digest_memory", "proxysql_query_digest_memory_bytes", "Memory used to store data related to stats_mysql_query_digest."),
    g("Auth_memory", "proxysql_auth_memory_bytes", "Memory used by the authentication module to store user credentials and attributes."),
    g("mysql_query_rules_memory", "proxysql_mysql_query_rules_memory_bytes", "Number of bytes used by 'mysql_query_rules' rules."),
    g("stack_memory_mysql_threads", "proxysql_stack_memory_mysql_threads_bytes", "Stack size used by 'mysql_threads'."),
    g("stack_memory_admin_threads", "proxysql_stack_memory_admin_threads_bytes", "Stack size used by 'admin_threads'."),
];

/// Help texts of the per-server connection-pool series (`stats_mysql_connection_pool`),
/// labelled `{endpoint="host:port",hostgroup}` as in ProxySQL.
pub mod connpool {
    /// `proxysql_connpool_conns{status=used|free}` (gauge).
    pub const CONNS: &str = "How many backend connections are currently (free|used).";
    /// `proxysql_connpool_conns_total{status=ok|err}`.
    pub const CONNS_TOTAL: &str = "How many connections have been tried to be established.";
    /// `proxysql_connpool_conns_queries_total`.
    pub const QUERIES: &str =
        "The number of queries routed towards this particular backend server.";
    /// `proxysql_connpool_data_bytes_total{traffic_flow=sent|recv}`.
    pub const DATA_BYTES: &str = "Amount of data (sent|recv) from the backend, excluding metadata.";
    /// `proxysql_connpool_conns_latency_us` (gauge).
    pub const LATENCY: &str = "The currently ping time in microseconds, as reported from Monitor.";
    /// `proxysql_connpool_conns_status` (gauge).
    pub const STATUS: &str = "The status of the backend server (1 - ONLINE, 2 - SHUNNED, 3 - OFFLINE_SOFT, 4 - OFFLINE_HARD, 5 - SHUNNED_REPLICATION_LAG).";

    /// The value of `proxysql_connpool_conns_status` for a `status` column.
    pub fn status_value(status: &str) -> i64 {
        match status {
            "ONLINE" => 1,
            "SHUNNED" => 2,
            "OFFLINE_SOFT" => 3,
            "OFFLINE_HARD" => 4,
            "SHUNNED_REPLICATION_LAG" => 5,
            _ => 0,
        }
    }
}

/// A series value from a variable's text (`true`/`false` count as 1/0, as ProxySQL's
/// `mysql_listener_paused`).
pub fn value_of(text: &str, scale: Scale) -> f64 {
    let raw = match text {
        "true" => 1.0,
        "false" => 0.0,
        t => t.parse::<f64>().unwrap_or(0.0),
    };
    match scale {
        Scale::Unit => raw,
        Scale::NanosToSeconds => raw / 1e9,
    }
}

/// Rewrites OpenMetrics text (what the `prometheus-client` encoder writes) into the classic
/// text format ProxySQL's exposer writes: a counter's `# HELP`/`# TYPE` lines carry its full
/// `_total` name (OpenMetrics names the family without it), help texts lose the `.` the
/// encoder appends to every one (ProxySQL's are written as they are), and there is no
/// `# EOF`. Both forms give Prometheus the same series names.
pub fn openmetrics_to_classic(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let help = help.strip_suffix('.').unwrap_or(help);
            // A family's # TYPE line follows its # HELP line.
            let counter = lines.get(i + 1) == Some(&format!("# TYPE {name} counter").as_str());
            let suffix = if counter { "_total" } else { "" };
            out.push_str(&format!("# HELP {name}{suffix} {help}\n"));
            continue;
        }
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|l| l.strip_suffix(" counter"))
        {
            out.push_str(&format!("# TYPE {name}_total counter\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::global_status::{STATS_MEMORY_METRICS, STATS_MYSQL_GLOBAL};

    #[test]
    fn every_series_reads_a_real_variable_and_counters_end_in_total() {
        for s in GLOBAL_SERIES {
            assert!(STATS_MYSQL_GLOBAL.contains(&s.variable), "{}", s.variable);
        }
        for s in MEMORY_SERIES {
            assert!(STATS_MEMORY_METRICS.contains(&s.variable), "{}", s.variable);
        }
        for s in GLOBAL_SERIES.iter().chain(MEMORY_SERIES) {
            assert_eq!(
                s.kind == Kind::Counter,
                s.name.ends_with("_total"),
                "{}",
                s.name
            );
        }
        // One help text per family, as the exposition has one # HELP line per family.
        let mut helps = std::collections::HashMap::new();
        for s in GLOBAL_SERIES.iter().chain(MEMORY_SERIES) {
            let h = helps.entry(s.name).or_insert(s.help);
            assert_eq!(*h, s.help, "{}", s.name);
        }
    }

    #[test]
    fn classic_text_names_counters_with_total() {
        // A gauge and a counter may share a base name (proxysql_connpool_conns and
        // proxysql_connpool_conns_total): only the counter's lines are renamed.
        let om = "# HELP a_b Help..\n# TYPE a_b counter\na_b_total{x=\"1\"} 3\n# HELP a_b A gauge.\n# TYPE a_b gauge\na_b 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_classic(om),
            "# HELP a_b_total Help.\n# TYPE a_b_total counter\na_b_total{x=\"1\"} 3\n# HELP a_b A gauge\n# TYPE a_b gauge\na_b 1\n"
        );
    }

    #[test]
    fn values() {
        assert_eq!(value_of("true", Scale::Unit), 1.0);
        assert_eq!(value_of("1500000000", Scale::NanosToSeconds), 1.5);
        assert_eq!(connpool::status_value("OFFLINE_SOFT"), 3);
    }
}
