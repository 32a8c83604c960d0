//! The admin's SQLite databases, laid out as ProxySQL lays them out (§2.1).
//!
//! `main` is in memory, `disk` is `DATADIR/proxysql.db`, `stats` and `monitor` are in memory,
//! `stats_history` is `DATADIR/proxysql_stats.db`. Stats sessions need `stats` as *their* `main`,
//! so the stats and monitor databases are named shared-cache in-memory databases that a second
//! connection opens directly; the names carry a random token so several nodes in one process
//! (unit tests) never share them.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::tables;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::schema::Schema;

/// Outcome of one SQL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlOutcome {
    /// A statement with a result set.
    Rows(ResultSet),
    /// A statement without one, with SQLite's change count.
    Done {
        /// `sqlite3_changes()` after the statement.
        affected: u64,
    },
}

/// The two connections of one node: the admin handle and the stats handle.
pub struct AdminDb {
    /// Admin handle: `main` + `disk`, `stats`, `monitor`, `stats_history`.
    pub admin: Connection,
    /// Stats handle: `stats` as main, `monitor` and `stats_history` attached.
    pub stats: Connection,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl AdminDb {
    /// Opens (creating if needed) every database under `datadir` and creates the tables.
    /// `wipe_disk` implements `--initial`: the on-disk database starts empty.
    pub fn open(datadir: &Path, wipe_disk: bool) -> rusqlite::Result<(AdminDb, bool)> {
        let disk_path = datadir.join("proxysql.db");
        if wipe_disk {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let p = datadir.join(format!("proxysql.db{suffix}"));
                let _ = std::fs::remove_file(p);
            }
        }
        let disk_existed = disk_path.exists();
        // proxysql.db holds every password in clear text: new files are the owner's only.
        for name in ["proxysql.db", "proxysql_stats.db"] {
            create_private(&datadir.join(name)).map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!(
                        "cannot create {}: {e}",
                        datadir.join(name).display()
                    )),
                )
            })?;
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let stats_uri = format!("file:pxadm_stats_{token}?mode=memory&cache=shared");
        let monitor_uri = format!("file:pxadm_monitor_{token}?mode=memory&cache=shared");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;

        let stats = Connection::open_with_flags(&stats_uri, flags)?;
        let admin = Connection::open_in_memory_with_flags(flags)?;
        admin.execute_batch(&format!(
            "ATTACH DATABASE {} AS disk; ATTACH DATABASE {} AS stats; ATTACH DATABASE {} AS monitor; ATTACH DATABASE {} AS stats_history;",
            quote(&disk_path.to_string_lossy()),
            quote(&stats_uri),
            quote(&monitor_uri),
            quote(&datadir.join("proxysql_stats.db").to_string_lossy()),
        ))?;
        stats.execute_batch(&format!(
            "ATTACH DATABASE {} AS monitor; ATTACH DATABASE {} AS stats_history;",
            quote(&monitor_uri),
            quote(&datadir.join("proxysql_stats.db").to_string_lossy()),
        ))?;
        // Durability: a SAVE is one transaction; WAL would leave a -wal file to lose on copy,
        // the rollback journal with FULL sync survives SIGKILL at any point.
        admin.execute_batch("PRAGMA disk.journal_mode=DELETE; PRAGMA disk.synchronous=FULL;")?;
        // Shared-cache connections on one thread never contend, but be explicit anyway.
        admin.busy_timeout(std::time::Duration::from_secs(5))?;
        stats.busy_timeout(std::time::Duration::from_secs(5))?;

        tables::create_all(&admin, "main", Schema::Main)?;
        tables::create_all(&admin, "disk", Schema::Disk)?;
        tables::create_all(&admin, "stats", Schema::Stats)?;
        tables::create_all(&admin, "monitor", Schema::Monitor)?;
        tables::create_all(&admin, "stats_history", Schema::StatsHistory)?;
        tables::populate_builtin_rows(&admin, "main", Schema::Main)?;
        tables::populate_builtin_rows(&admin, "stats", Schema::Stats)?;
        Ok((AdminDb { admin, stats }, disk_existed))
    }

    /// Runs one statement on a handle and returns its rows as text, like `SQLite3_to_MySQL`.
    pub fn run(conn: &Connection, sql: &str) -> rusqlite::Result<SqlOutcome> {
        Self::run_capped(conn, sql, 0)
    }

    /// Like [`AdminDb::run`], refusing a result set whose field text exceeds `max_bytes`
    /// (zero: no cap) with `SQLITE_TOOBIG` and a message naming the limit, before it is
    /// all held in memory.
    pub fn run_capped(
        conn: &Connection,
        sql: &str,
        max_bytes: usize,
    ) -> rusqlite::Result<SqlOutcome> {
        let mut stmt = conn.prepare(sql)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        if columns.is_empty() {
            stmt.raw_execute()?;
            return Ok(SqlOutcome::Done {
                affected: conn.changes(),
            });
        }
        let ncols = columns.len();
        let mut rs = ResultSet {
            columns,
            rows: Vec::new(),
        };
        let mut rows = stmt.raw_query();
        let mut held = 0usize;
        while let Some(row) = rows.next()? {
            let mut out = Vec::with_capacity(ncols);
            for i in 0..ncols {
                let text = value_text(row.get_ref(i)?);
                // A row costs at least its fields' length bytes on the wire.
                held += 1 + text.as_ref().map_or(0, String::len);
                out.push(text);
            }
            if max_bytes > 0 && held > max_bytes {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_TOOBIG),
                    Some(format!(
                        "result set larger than {max_bytes} bytes refused (pxadm node --max-result-bytes); add a WHERE or LIMIT"
                    )),
                ));
            }
            rs.rows.push(out);
        }
        Ok(SqlOutcome::Rows(rs))
    }

    /// Runs a query that must return rows.
    pub fn query(conn: &Connection, sql: &str) -> rusqlite::Result<ResultSet> {
        match Self::run(conn, sql)? {
            SqlOutcome::Rows(rs) => Ok(rs),
            SqlOutcome::Done { .. } => Ok(ResultSet::default()),
        }
    }

    /// Replaces the content of `table` with the rows of `rs` (columns by name).
    pub fn replace_table(conn: &Connection, table: &str, rs: &ResultSet) -> rusqlite::Result<()> {
        conn.execute(&format!("DELETE FROM {table}"), [])?;
        Self::insert_rows(conn, table, rs)
    }

    /// Inserts the rows of `rs` into `table` (columns by name).
    pub fn insert_rows(conn: &Connection, table: &str, rs: &ResultSet) -> rusqlite::Result<()> {
        if rs.rows.is_empty() {
            return Ok(());
        }
        let cols = rs.columns.join(",");
        let marks = vec!["?"; rs.columns.len()].join(",");
        let mut stmt =
            conn.prepare_cached(&format!("INSERT INTO {table} ({cols}) VALUES ({marks})"))?;
        for row in &rs.rows {
            stmt.execute(rusqlite::params_from_iter(row.iter()))?;
        }
        Ok(())
    }
}

/// Creates `path` empty with mode 0600 if it does not exist (SQLite gives its journal the
/// same mode); an existing file keeps the mode its owner chose.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Renders a SQLite value as the text ProxySQL sends (`sqlite3_column_text`).
pub fn value_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(render_real(f)),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// SQLite renders reals with `%!.15g`; integral values keep a `.0`.
fn render_real(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        let s = format!("{f}");
        if s.len() > 17 {
            format!("{f:.15e}")
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_all_schemas_and_renders_text() {
        let dir = tempfile::tempdir().unwrap();
        let (db, existed) = AdminDb::open(dir.path(), false).unwrap();
        assert!(!existed);
        for name in ["proxysql.db", "proxysql_stats.db"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let rs = AdminDb::query(&db.admin, "PRAGMA database_list").unwrap();
        let names: Vec<_> = rs.rows.iter().map(|r| r[1].clone().unwrap()).collect();
        assert_eq!(names, ["main", "disk", "stats", "monitor", "stats_history"]);
        AdminDb::run(
            &db.admin,
            "INSERT INTO proxysql_servers VALUES ('h',6032,0,'c')",
        )
        .unwrap();
        let rs = AdminDb::query(
            &db.admin,
            "SELECT port, NULL, 1.5, 2.0 FROM proxysql_servers",
        )
        .unwrap();
        assert_eq!(
            rs.rows[0],
            [
                Some("6032".into()),
                None,
                Some("1.5".into()),
                Some("2.0".into())
            ]
        );
        // The stats handle sees what the admin handle writes into `stats`.
        AdminDb::run(
            &db.admin,
            "INSERT INTO stats.stats_mysql_global VALUES ('Questions','7')",
        )
        .unwrap();
        let rs =
            AdminDb::query(&db.stats, "SELECT Variable_Value FROM stats_mysql_global").unwrap();
        assert_eq!(rs.rows[0][0].as_deref(), Some("7"));
    }

    #[test]
    fn reopen_finds_disk_and_initial_wipes_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (db, _) = AdminDb::open(dir.path(), false).unwrap();
            AdminDb::run(
                &db.admin,
                "INSERT INTO disk.proxysql_servers VALUES ('h',6032,0,'')",
            )
            .unwrap();
        }
        let (db, existed) = AdminDb::open(dir.path(), false).unwrap();
        assert!(existed);
        assert_eq!(
            AdminDb::query(&db.admin, "SELECT * FROM disk.proxysql_servers")
                .unwrap()
                .rows
                .len(),
            1
        );
        drop(db);
        let (db, _) = AdminDb::open(dir.path(), true).unwrap();
        assert!(
            AdminDb::query(&db.admin, "SELECT * FROM disk.proxysql_servers")
                .unwrap()
                .rows
                .is_empty()
        );
    }
}
