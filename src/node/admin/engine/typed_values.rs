//! Refuses `LOAD <module> TO RUNTIME` while a config table holds a value its integer column
//! cannot hold (issue 14, item 3).
//!
//! SQLite keeps `'abc'` or `'10abc'` in an `INT` column as text. ProxySQL's loaders read such a
//! value with `atoi` and run with 0 or 10 where memory shows 'abc' or '10abc'; pxadm refuses the
//! load instead, naming the table, column, row and the value ProxySQL would have used, so a
//! node never runs with a value other than what memory shows (a deliberate deviation, listed
//! in docs/compatibility.md). Rows pulled from a peer are never checked: they come from its
//! runtime, which only holds integers.

use rusqlite::Connection;

use super::Engine;
use crate::node::admin::db::AdminDb;
use crate::proxysql::statement::ConfigModule;

/// One value of an integer column that is not an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonIntegerValue {
    /// The config table (`mysql_servers`).
    pub table: String,
    /// The column (`hostgroup_id`).
    pub column: String,
    /// The value as SQLite quotes it (`'abc'`, `1.5`).
    pub quoted: String,
    /// The row's rowid, so the DBA can find it.
    pub rowid: i64,
}

impl NonIntegerValue {
    /// The admin error for `LOAD <keyword> TO RUNTIME`.
    pub fn message(&self, keyword: &str) -> String {
        let unquoted = self.quoted.trim_matches('\'');
        format!(
            "ProxySQL Admin Error: {table}.{column} is {quoted} (rowid {rowid}), not an integer; \
             LOAD {keyword} TO RUNTIME refused (ProxySQL would silently run with {coerced}). \
             Fix it with UPDATE {table} SET {column}=... WHERE rowid={rowid}",
            table = self.table,
            column = self.column,
            quoted = self.quoted,
            rowid = self.rowid,
            coerced = leading_integer(unquoted),
        )
    }
}

/// What C's `atoi` makes of `text` (ProxySQL's reading): optional blanks and sign, then the
/// leading digits; 0 when there are none.
pub fn leading_integer(text: &str) -> i64 {
    let trimmed = text.trim_start();
    let (sign, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (-1, &trimmed[1..]),
        Some(b'+') => (1, &trimmed[1..]),
        _ => (1, trimmed),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map(|n| sign * n).unwrap_or(0)
}

/// The first value in an `INT`-declared column of `table` (in `main`) that SQLite stores as
/// anything but an integer or NULL.
pub fn first_non_integer(
    conn: &Connection,
    table: &str,
) -> rusqlite::Result<Option<NonIntegerValue>> {
    let info = AdminDb::query(conn, &format!("PRAGMA main.table_info({table})"))?;
    let (Some(name_at), Some(type_at)) = (info.column_index("name"), info.column_index("type"))
    else {
        return Ok(None);
    };
    for row in &info.rows {
        let (Some(column), Some(declared)) = (&row[name_at], &row[type_at]) else {
            continue;
        };
        if !declared.to_ascii_uppercase().contains("INT") {
            continue;
        }
        let found = conn.query_row(
            &format!(
                "SELECT quote(\"{column}\"), rowid FROM main.{table} \
                 WHERE typeof(\"{column}\") NOT IN ('integer', 'null') ORDER BY rowid LIMIT 1"
            ),
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        );
        match found {
            Ok((quoted, rowid)) => {
                return Ok(Some(NonIntegerValue {
                    table: table.to_owned(),
                    column: column.clone(),
                    quoted,
                    rowid,
                }))
            }
            Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

impl Engine {
    /// The first non-integer value in an integer column of `module`'s tables, for a local
    /// `LOAD ... TO RUNTIME` (variables have their own validation).
    pub(super) fn non_integer_value(
        &self,
        module: ConfigModule,
    ) -> rusqlite::Result<Option<NonIntegerValue>> {
        if module.variable_prefix().is_some() {
            return Ok(None);
        }
        for table in module.tables() {
            if let Some(found) = first_non_integer(&self.db.admin, table)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_integer_reads_like_atoi() {
        assert_eq!(leading_integer("abc"), 0);
        assert_eq!(leading_integer("10abc"), 10);
        assert_eq!(leading_integer("  -7x"), -7);
        assert_eq!(leading_integer("+3"), 3);
        assert_eq!(leading_integer("1.5"), 1);
        assert_eq!(leading_integer(""), 0);
    }

    #[test]
    fn finds_text_and_reals_in_integer_columns_only() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INT PRIMARY KEY, port INTEGER, name VARCHAR, w INT);
             INSERT INTO t VALUES (1, 3306, 'abc', NULL);
             INSERT INTO t VALUES ('2', '3307', 'x', 5);",
        )
        .unwrap();
        assert_eq!(first_non_integer(&conn, "t").unwrap(), None);
        conn.execute("INSERT INTO t VALUES (3, '10abc', 'y', 1)", [])
            .unwrap();
        conn.execute("INSERT INTO t VALUES (4, 1, 'z', 1.5)", [])
            .unwrap();
        let found = first_non_integer(&conn, "t").unwrap().unwrap();
        assert_eq!(
            (found.column.as_str(), found.quoted.as_str(), found.rowid),
            ("port", "'10abc'", 3)
        );
        let message = found.message("MYSQL SERVERS");
        assert!(message.starts_with("ProxySQL Admin Error: t.port is '10abc' (rowid 3)"));
        assert!(message.contains("would silently run with 10"), "{message}");
        conn.execute("DELETE FROM t WHERE id=3", []).unwrap();
        let found = first_non_integer(&conn, "t").unwrap().unwrap();
        assert_eq!((found.column.as_str(), found.quoted.as_str()), ("w", "1.5"));
    }
}
