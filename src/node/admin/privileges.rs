//! What admin and stats users may do to the node's SQLite handles, enforced by SQLite's
//! authorizer (`sqlite3_set_authorizer`) while each statement is prepared.
//!
//! A filter on the statement text (what ProxySQL does for the stats user: refuse what starts
//! with `PRAGMA` or `ATTACH`) is bypassed by a leading comment, a table-valued pragma or a
//! keyword it does not list; the authorizer sees what SQLite is about to do, whatever the
//! spelling. The rules (and where they are stricter than ProxySQL) are in `docs/security.md`.
//!
//! The engine's own statements run as [`Principal::Internal`] and are never restricted; a
//! client's statement runs as its session's principal for the time it is prepared and run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

use crate::proxysql::schema::{self, Schema};

/// Who the statement being prepared on a handle runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Principal {
    /// The node itself (start-up, LOAD/SAVE, refreshes, monitor writes): unrestricted.
    Internal = 0,
    /// A user of `admin-admin_credentials`.
    Admin = 1,
    /// A user of `admin-stats_credentials`: read-only.
    Stats = 2,
}

/// The schemas pxadm attaches itself; every session shares them, so none may be detached.
const BUILTIN_SCHEMAS: [&str; 6] = ["main", "disk", "stats", "monitor", "stats_history", "temp"];

/// The schemas a stats session reads (its `main` is the stats database).
const STATS_READABLE: [&str; 3] = ["main", "monitor", "stats_history"];

/// The authorizer state of one handle: the current principal and why the last statement was
/// refused, so the error names the rule instead of SQLite's bare "not authorized".
#[derive(Clone)]
pub struct Privileges {
    inner: Arc<Inner>,
}

struct Inner {
    principal: AtomicU8,
    refusal: Mutex<Option<String>>,
    datadir: PathBuf,
    config_tables: HashSet<&'static str>,
}

impl Privileges {
    /// Installs the authorizer on `conn`; files may only be attached under `datadir`.
    pub fn install(conn: &Connection, datadir: &Path) -> Privileges {
        let datadir = datadir
            .canonicalize()
            .unwrap_or_else(|_| datadir.to_path_buf());
        let config_tables = [
            Schema::Main,
            Schema::Disk,
            Schema::Stats,
            Schema::Monitor,
            Schema::StatsHistory,
        ]
        .into_iter()
        .flat_map(|s| schema::tables(s).iter().map(|t| t.name))
        .collect();
        let privileges = Privileges {
            inner: Arc::new(Inner {
                principal: AtomicU8::new(Principal::Internal as u8),
                refusal: Mutex::new(None),
                datadir,
                config_tables,
            }),
        };
        let hook = privileges.clone();
        conn.authorizer(Some(move |ctx: AuthContext<'_>| hook.authorize(&ctx)));
        privileges
    }

    /// Runs `f` with statements prepared as `principal`; back to internal afterwards.
    pub fn run_as<T>(&self, principal: Principal, f: impl FnOnce() -> T) -> T {
        *self.inner.refusal.lock() = None;
        self.inner
            .principal
            .store(principal as u8, Ordering::SeqCst);
        let out = f();
        self.inner
            .principal
            .store(Principal::Internal as u8, Ordering::SeqCst);
        out
    }

    /// Why the last statement run through [`Privileges::run_as`] was refused, if it was.
    pub fn take_refusal(&self) -> Option<String> {
        self.inner.refusal.lock().take()
    }

    fn principal(&self) -> Principal {
        match self.inner.principal.load(Ordering::SeqCst) {
            1 => Principal::Admin,
            2 => Principal::Stats,
            _ => Principal::Internal,
        }
    }

    fn authorize(&self, ctx: &AuthContext<'_>) -> Authorization {
        let principal = self.principal();
        if principal == Principal::Internal {
            return Authorization::Allow;
        }
        match decide(
            principal,
            ctx,
            &self.inner.datadir,
            &self.inner.config_tables,
        ) {
            Ok(()) => Authorization::Allow,
            Err(reason) => {
                let mut refusal = self.inner.refusal.lock();
                if refusal.is_none() {
                    *refusal = Some(reason);
                }
                Authorization::Deny
            }
        }
    }
}

/// The privilege rule: `Ok` or the reason the action is refused.
fn decide(
    principal: Principal,
    ctx: &AuthContext<'_>,
    datadir: &Path,
    config_tables: &HashSet<&'static str>,
) -> Result<(), String> {
    let stats = principal == Principal::Stats;
    let db = ctx.database_name.unwrap_or("main");
    let read_only =
        || Err("attempt to write a readonly database (the stats user is read-only)".to_string());
    match ctx.action {
        AuthAction::Select | AuthAction::Recursive => Ok(()),
        AuthAction::Read { table_name, .. } => {
            if stats && table_name.starts_with("pragma_") {
                Err(format!("{table_name} is not readable by the stats user"))
            } else if stats && !STATS_READABLE.contains(&db) {
                Err(format!("schema {db} is not readable by the stats user"))
            } else {
                Ok(())
            }
        }
        AuthAction::Function { function_name } => {
            if function_name.eq_ignore_ascii_case("load_extension") {
                Err("loading SQLite extensions is not allowed".into())
            } else {
                Ok(())
            }
        }
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => {
            if stats {
                Err(format!("PRAGMA {pragma_name} is not allowed for the stats user"))
            } else if pragma_value.is_some() && !is_introspection_pragma(pragma_name) {
                Err(format!(
                    "PRAGMA {pragma_name} with a value is not allowed: the admin handle is shared by every session and the node itself"
                ))
            } else {
                Ok(())
            }
        }
        AuthAction::Attach { filename } => {
            if stats {
                return Err("ATTACH is not allowed for the stats user".into());
            }
            attach_allowed(filename, datadir)
        }
        AuthAction::Detach { database_name } => {
            if stats {
                Err("DETACH is not allowed for the stats user".into())
            } else if BUILTIN_SCHEMAS
                .iter()
                .any(|b| b.eq_ignore_ascii_case(database_name))
            {
                Err(format!(
                    "DETACH {database_name} is not allowed: every session and the node itself use it"
                ))
            } else {
                Ok(())
            }
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Err(
            "explicit transactions are not allowed: the handle is shared by every session, each statement commits on its own"
                .into(),
        ),
        AuthAction::DropTable { table_name }
        | AuthAction::DropIndex { table_name, .. }
        | AuthAction::DropTrigger { table_name, .. } => {
            if stats {
                read_only()
            } else if is_config_table(db, table_name, config_tables) {
                Err(format!(
                    "{db}.{table_name} is a ProxySQL table and cannot be dropped or changed"
                ))
            } else {
                Ok(())
            }
        }
        AuthAction::AlterTable {
            database_name,
            table_name,
        } => {
            if stats {
                read_only()
            } else if is_config_table(database_name, table_name, config_tables) {
                Err(format!(
                    "{database_name}.{table_name} is a ProxySQL table and cannot be dropped or changed"
                ))
            } else {
                Ok(())
            }
        }
        AuthAction::Insert { .. }
        | AuthAction::Update { .. }
        | AuthAction::Delete { .. }
        | AuthAction::CreateIndex { .. }
        | AuthAction::CreateTable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempTrigger { .. }
        | AuthAction::CreateTempView { .. }
        | AuthAction::CreateTrigger { .. }
        | AuthAction::CreateView { .. }
        | AuthAction::DropTempIndex { .. }
        | AuthAction::DropTempTable { .. }
        | AuthAction::DropTempTrigger { .. }
        | AuthAction::DropTempView { .. }
        | AuthAction::DropView { .. }
        | AuthAction::Reindex { .. }
        | AuthAction::Analyze { .. }
        | AuthAction::CreateVtable { .. }
        | AuthAction::DropVtable { .. } => {
            if stats {
                read_only()
            } else {
                Ok(())
            }
        }
        // An ATTACH of a computed file name, or an action this SQLite build adds: refused
        // rather than guessed at.
        AuthAction::Unknown { code, .. } if code == rusqlite::ffi::SQLITE_ATTACH => {
            Err("ATTACH needs a literal file name".into())
        }
        _ => Err("this statement is not allowed on the admin interface".into()),
    }
}

fn is_config_table(db: &str, table: &str, config_tables: &HashSet<&'static str>) -> bool {
    BUILTIN_SCHEMAS[..5]
        .iter()
        .any(|b| b.eq_ignore_ascii_case(db))
        && config_tables.iter().any(|t| t.eq_ignore_ascii_case(table))
}

/// ProxySQL attaches any file; pxadm only files inside its datadir, where a DBA expects the
/// node to write, and never a `file:` URI (whose options could reopen a built-in database).
fn attach_allowed(filename: &str, datadir: &Path) -> Result<(), String> {
    if filename.is_empty() || filename == ":memory:" {
        return Ok(());
    }
    if filename.len() >= 5 && filename[..5].eq_ignore_ascii_case("file:") {
        return Err(format!(
            "ATTACH of URI {filename:?} is not allowed: name a file inside the datadir"
        ));
    }
    let path = Path::new(filename);
    let inside = resolve(path).is_some_and(|p| p.starts_with(datadir));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "ATTACH of {filename:?} is not allowed: pxadm attaches only files inside its datadir {}",
            datadir.display()
        ))
    }
}

/// The canonical path `path` names (relative paths are relative to the working directory, as
/// SQLite opens them), resolving symbolic links of the file and of its folder.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Pragmas whose argument names a table or an index to describe: they read the schema and
/// change nothing, so the admin user may run them as on ProxySQL (`PRAGMA table_info(t)`).
fn is_introspection_pragma(name: &str) -> bool {
    [
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
    ]
    .iter()
    .any(|p| p.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Connection, Privileges) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "ATTACH DATABASE '{}' AS disk; CREATE TABLE mysql_servers(a); CREATE TABLE disk.mysql_servers(a); CREATE TABLE mine(a);",
            dir.path().join("proxysql.db").display()
        ))
        .unwrap();
        let privileges = Privileges::install(&conn, dir.path());
        (dir, conn, privileges)
    }

    fn run(conn: &Connection, p: &Privileges, who: Principal, sql: &str) -> Result<(), String> {
        p.run_as(who, || conn.execute_batch(sql))
            .map_err(|e| p.take_refusal().unwrap_or_else(|| e.to_string()))
    }

    #[test]
    fn stats_user_is_read_only_whatever_the_spelling() {
        let (dir, conn, p) = setup();
        let target = dir.path().join("x.db");
        for sql in [
            format!("/**/ ATTACH DATABASE '{}' AS d", target.display()),
            "/* c */ PRAGMA query_only=OFF".into(),
            "PRAGMA database_list".into(),
            "SELECT file FROM pragma_database_list".into(),
            "DETACH disk".into(),
            "INSERT INTO mine VALUES (1)".into(),
            "CREATE TEMP TABLE t(a)".into(),
            "BEGIN".into(),
            "SELECT load_extension('x')".into(),
        ] {
            let refused = run(&conn, &p, Principal::Stats, &sql);
            assert!(refused.is_err(), "{sql} was accepted");
        }
        assert!(!target.exists());
        run(&conn, &p, Principal::Stats, "SELECT * FROM mine").unwrap();
    }

    #[test]
    fn admin_attaches_inside_the_datadir_only() {
        let (dir, conn, p) = setup();
        let inside = dir.path().join("extra.db");
        run(
            &conn,
            &p,
            Principal::Admin,
            &format!("ATTACH DATABASE '{}' AS extra", inside.display()),
        )
        .unwrap();
        run(&conn, &p, Principal::Admin, "DETACH extra").unwrap();
        let outside = tempfile::tempdir().unwrap();
        let err = run(
            &conn,
            &p,
            Principal::Admin,
            &format!(
                "ATTACH DATABASE '{}' AS o",
                outside.path().join("o.db").display()
            ),
        )
        .unwrap_err();
        assert!(err.contains("only files inside its datadir"), "{err}");
        let escape = format!("{}/../o.db", dir.path().display());
        assert!(run(
            &conn,
            &p,
            Principal::Admin,
            &format!("ATTACH '{escape}' AS o")
        )
        .is_err());
        assert!(run(&conn, &p, Principal::Admin, "ATTACH 'a' || 'b' AS o").is_err());
        let err = run(&conn, &p, Principal::Admin, "DETACH disk").unwrap_err();
        assert!(err.contains("DETACH disk is not allowed"), "{err}");
    }

    #[test]
    fn admin_reads_pragmas_but_cannot_set_them_nor_drop_proxysql_tables() {
        let (_dir, conn, p) = setup();
        run(&conn, &p, Principal::Admin, "PRAGMA database_list").unwrap();
        // Describing a table takes an argument but changes nothing.
        run(
            &conn,
            &p,
            Principal::Admin,
            "PRAGMA table_info(mysql_servers)",
        )
        .unwrap();
        assert!(run(
            &conn,
            &p,
            Principal::Stats,
            "PRAGMA table_info(mysql_servers)"
        )
        .is_err());
        let err = run(&conn, &p, Principal::Admin, "PRAGMA query_only=ON").unwrap_err();
        assert!(err.contains("PRAGMA query_only with a value"), "{err}");
        let err = run(&conn, &p, Principal::Admin, "DROP TABLE mysql_servers").unwrap_err();
        assert!(
            err.contains("main.mysql_servers is a ProxySQL table"),
            "{err}"
        );
        assert!(run(&conn, &p, Principal::Admin, "DROP TABLE disk.mysql_servers").is_err());
        assert!(run(
            &conn,
            &p,
            Principal::Admin,
            "ALTER TABLE mysql_servers ADD COLUMN b"
        )
        .is_err());
        run(
            &conn,
            &p,
            Principal::Admin,
            "CREATE TABLE scratch(a); DROP TABLE scratch",
        )
        .unwrap();
        // The node itself is never restricted.
        run(&conn, &p, Principal::Internal, "PRAGMA query_only=OFF").unwrap();
    }

    #[test]
    fn vacuum_into_is_refused_outside_the_datadir() {
        let (_dir, conn, p) = setup();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("v.db");
        for who in [Principal::Admin, Principal::Stats] {
            let refused = run(
                &conn,
                &p,
                who,
                &format!("VACUUM INTO '{}'", target.display()),
            );
            assert!(refused.is_err(), "{who:?}");
            assert!(!target.exists(), "{who:?}");
        }
    }
}
