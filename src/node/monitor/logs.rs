//! Rows of `monitor.mysql_server_connect_log`, `..._ping_log`, `..._read_only_log` and
//! `..._replication_lag_log` (§3.6), written once per round as multi-row statements, and the
//! purge by `mysql-monitor_history`.
//!
//! Column values follow ProxySQL's monitor: `time_start_us` is the wall-clock start of the
//! check; on success the error is NULL; on failure the success time is 0 (ProxySQL binds
//! `error ? 0 : t2-t1`), `read_only` is NULL and the error text is stored.

use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::ToSql;

use super::checks::Probe;
use super::lag::LagReading;

/// Rows per INSERT: far below SQLite's bound-parameter limit, large enough that a round over
/// a few hundred servers is a handful of statements.
const ROWS_PER_STATEMENT: usize = 100;

/// One of the monitor log tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTable {
    /// `monitor.mysql_server_connect_log`.
    Connect,
    /// `monitor.mysql_server_ping_log`.
    Ping,
    /// `monitor.mysql_server_read_only_log`.
    ReadOnly,
    /// `monitor.mysql_server_replication_lag_log`.
    ReplicationLag,
}

impl LogTable {
    /// Qualified table name.
    pub fn name(self) -> &'static str {
        match self {
            LogTable::Connect => "monitor.mysql_server_connect_log",
            LogTable::Ping => "monitor.mysql_server_ping_log",
            LogTable::ReadOnly => "monitor.mysql_server_read_only_log",
            LogTable::ReplicationLag => "monitor.mysql_server_replication_lag_log",
        }
    }
}

/// One SQL statement with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// SQL text with `?` placeholders.
    pub sql: String,
    /// Parameters in order.
    pub params: Vec<SqlValue>,
}

impl Statement {
    /// Runs it through `exec` (the engine's `internal_sql`, or a plain connection).
    pub fn run(
        &self,
        exec: &mut impl FnMut(&str, &[&dyn ToSql]) -> rusqlite::Result<usize>,
    ) -> rusqlite::Result<usize> {
        let params: Vec<&dyn ToSql> = self.params.iter().map(|p| p as &dyn ToSql).collect();
        exec(&self.sql, &params)
    }
}

fn base_values<T>(p: &Probe<T>) -> [SqlValue; 4] {
    [
        SqlValue::Text(p.addr.host.clone()),
        SqlValue::Integer(i64::from(p.addr.port)),
        SqlValue::Integer(p.start_us),
        SqlValue::Integer(p.success_us().unwrap_or(0)),
    ]
}

fn error_value<T>(p: &Probe<T>) -> SqlValue {
    p.error()
        .map(|e| SqlValue::Text(e.to_string()))
        .unwrap_or(SqlValue::Null)
}

/// `INSERT OR REPLACE` statements for connect or ping probes.
pub fn insert_probes(table: LogTable, probes: &[Probe<()>]) -> Vec<Statement> {
    inserts(table, 5, probes, |p, out| {
        out.extend(base_values(p));
        out.push(error_value(p));
    })
}

/// `INSERT OR REPLACE` statements for read_only probes.
pub fn insert_read_only(probes: &[Probe<bool>]) -> Vec<Statement> {
    inserts(LogTable::ReadOnly, 6, probes, |p, out| {
        out.extend(base_values(p));
        out.push(match &p.outcome {
            Ok((read_only, _)) => SqlValue::Integer(i64::from(*read_only)),
            Err(_) => SqlValue::Null,
        });
        out.push(error_value(p));
    })
}

/// `INSERT OR REPLACE` statements for replication-lag probes: `repl_lag` is NULL unless the
/// server reported a number.
pub fn insert_replication_lag(probes: &[Probe<LagReading>]) -> Vec<Statement> {
    inserts(LogTable::ReplicationLag, 6, probes, |p, out| {
        out.extend(base_values(p));
        out.push(match &p.outcome {
            Ok((reading, _)) => reading
                .logged()
                .map(SqlValue::Integer)
                .unwrap_or(SqlValue::Null),
            Err(_) => SqlValue::Null,
        });
        out.push(error_value(p));
    })
}

fn inserts<T>(
    table: LogTable,
    width: usize,
    probes: &[Probe<T>],
    mut values: impl FnMut(&Probe<T>, &mut Vec<SqlValue>),
) -> Vec<Statement> {
    let placeholders = format!("({})", vec!["?"; width].join(","));
    probes
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            let mut params = Vec::with_capacity(chunk.len() * width);
            for p in chunk {
                values(p, &mut params);
            }
            Statement {
                sql: format!(
                    "INSERT OR REPLACE INTO {} VALUES {}",
                    table.name(),
                    vec![placeholders.as_str(); chunk.len()].join(",")
                ),
                params,
            }
        })
        .collect()
}

/// `DELETE` of the rows that started more than `history` before `now_us`.
pub fn purge(table: LogTable, now_us: i64, history: Duration) -> Statement {
    let keep_us = i64::try_from(history.as_micros()).unwrap_or(i64::MAX);
    Statement {
        sql: format!("DELETE FROM {} WHERE time_start_us < ?", table.name()),
        params: vec![SqlValue::Integer(now_us.saturating_sub(keep_us))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::monitor::checks::CheckError;
    use crate::node::monitor::servers::ServerAddr;
    use crate::proxysql::schema::Schema;
    use rusqlite::Connection;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("ATTACH DATABASE ':memory:' AS monitor")
            .unwrap();
        crate::node::admin::tables::create_all(&conn, "monitor", Schema::Monitor).unwrap();
        conn
    }

    fn run(conn: &Connection, stmts: &[Statement]) {
        let mut exec = |sql: &str, p: &[&dyn ToSql]| conn.execute(sql, p);
        for s in stmts {
            s.run(&mut exec).unwrap();
        }
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, Option<rusqlite::types::Value>>(i).map(|v| {
                        v.map(|v| match v {
                            SqlValue::Integer(i) => i.to_string(),
                            SqlValue::Text(t) => t,
                            other => format!("{other:?}"),
                        })
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    fn ok<T>(port: u16, start: i64, v: T, us: u64) -> Probe<T> {
        Probe {
            addr: ServerAddr::new("127.0.0.1", port),
            start_us: start,
            outcome: Ok((v, Duration::from_micros(us))),
        }
    }

    fn failed<T>(port: u16, start: i64, msg: &str) -> Probe<T> {
        Probe {
            addr: ServerAddr::new("127.0.0.1", port),
            start_us: start,
            outcome: Err(CheckError {
                message: msg.into(),
                timeout: msg.starts_with("timeout"),
            }),
        }
    }

    #[test]
    fn replication_lag_rows_log_null_unless_a_number_was_read() {
        let conn = db();
        run(
            &conn,
            &insert_replication_lag(&[
                ok(1, 10, LagReading::Seconds(7), 300),
                ok(2, 11, LagReading::Null, 200),
                ok(3, 12, LagReading::NotReplica, 100),
                failed(4, 13, "timeout check"),
            ]),
        );
        let got = rows(
            &conn,
            "SELECT port, success_time_us, repl_lag, error FROM monitor.mysql_server_replication_lag_log ORDER BY port",
        );
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            [
                vec![s("1"), s("300"), s("7"), None],
                vec![s("2"), s("200"), None, None],
                vec![s("3"), s("100"), None, None],
                vec![s("4"), s("0"), None, s("timeout check")],
            ]
        );
    }

    #[test]
    fn probes_land_in_the_real_tables_with_proxysqls_null_rules() {
        let conn = db();
        run(
            &conn,
            &insert_probes(
                LogTable::Ping,
                &[
                    ok(1, 10, (), 250),
                    failed(2, 11, "Can't connect to server on '127.0.0.1' (111)"),
                ],
            ),
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT * FROM monitor.mysql_server_ping_log ORDER BY port"
            ),
            [
                vec![
                    Some("127.0.0.1".into()),
                    Some("1".into()),
                    Some("10".into()),
                    Some("250".into()),
                    None
                ],
                vec![
                    Some("127.0.0.1".into()),
                    Some("2".into()),
                    Some("11".into()),
                    Some("0".into()),
                    Some("Can't connect to server on '127.0.0.1' (111)".into())
                ],
            ]
        );
        run(
            &conn,
            &insert_read_only(&[
                ok(1, 10, false, 300),
                ok(2, 10, true, 300),
                failed(3, 10, "timeout check"),
            ]),
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT port, success_time_us, read_only, error FROM monitor.mysql_server_read_only_log ORDER BY port"
            ),
            [
                vec![Some("1".into()), Some("300".into()), Some("0".into()), None],
                vec![Some("2".into()), Some("300".into()), Some("1".into()), None],
                vec![Some("3".into()), Some("0".into()), None, Some("timeout check".into())],
            ]
        );
    }

    #[test]
    fn big_rounds_are_split_and_purge_keeps_the_history_window() {
        let conn = db();
        let probes: Vec<Probe<()>> = (0..250)
            .map(|i| ok(i as u16, i64::from(i), (), 1))
            .collect();
        let stmts = insert_probes(LogTable::Connect, &probes);
        assert_eq!(stmts.len(), 3);
        run(&conn, &stmts);
        let count = |c: &Connection| {
            c.query_row(
                "SELECT COUNT(*) FROM monitor.mysql_server_connect_log",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
        };
        assert_eq!(count(&conn), 250);
        // now = 1_000_249 µs, history 1 s: rows with time_start_us < 249 go.
        run(
            &conn,
            &[purge(LogTable::Connect, 1_000_249, Duration::from_secs(1))],
        );
        assert_eq!(count(&conn), 1);
        assert!(insert_probes(LogTable::Connect, &[]).is_empty());
    }
}
