//! ProxySQL's tables created in SQLite: the DDL of [`crate::proxysql::schema`] executed on the
//! admin handle's attached databases, plus the rows ProxySQL inserts at every start.

use rusqlite::Connection;

use crate::proxysql::schema::{indexes, tables, Schema, COLLATIONS};

/// Creates every table (and ProxySQL's secondary indexes) of `schema` in the database attached
/// as `attached_as`, leaving existing tables untouched.
///
/// The statements are qualified with the database name and carry `IF NOT EXISTS`; SQLite strips
/// both (and collapses the spaces after `CREATE TABLE`) before storing the text, so
/// `sqlite_master` ends up with the same `CREATE TABLE <name> (...)` text a real node has.
pub fn create_all(conn: &Connection, attached_as: &str, schema: Schema) -> rusqlite::Result<()> {
    let db = quote_ident(attached_as);
    let mut batch = String::new();
    for t in tables(schema) {
        // Every DDL starts with "CREATE TABLE"; the rest (name and columns) is kept verbatim.
        let body = t.ddl["CREATE TABLE".len()..].trim_start();
        batch.push_str(&format!("CREATE TABLE IF NOT EXISTS {db}.{body};\n"));
    }
    for (index, on) in indexes(schema) {
        batch.push_str(&format!("CREATE INDEX IF NOT EXISTS {db}.{index} {on};\n"));
    }
    conn.execute_batch(&batch)
}

/// Inserts the rows ProxySQL writes into fresh tables at every start, in the database attached
/// as `attached_as`:
/// - [`Schema::Main`]: `mysql_collations`, rebuilt from scratch (see [`populate_mysql_collations`]);
/// - [`Schema::Stats`]: the `mysql-max_allowed_packet` row of `stats.global_variables`, which
///   exists so that `SELECT @@max_allowed_packet` works on stats sessions (issue #708);
/// - other schemas: nothing.
pub fn populate_builtin_rows(
    conn: &Connection,
    attached_as: &str,
    schema: Schema,
) -> rusqlite::Result<()> {
    match schema {
        Schema::Main => populate_mysql_collations(conn, attached_as),
        Schema::Stats => {
            let db = quote_ident(attached_as);
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO {db}.global_variables \
                     VALUES ('mysql-max_allowed_packet', 4194304)"
                ),
                [],
            )?;
            Ok(())
        }
        Schema::Disk | Schema::Monitor | Schema::StatsHistory => Ok(()),
    }
}

/// Fills `mysql_collations` the way ProxySQL does at every start: one row per collation
/// compiled into its MariaDB Connector/C 3.3.8 (with ProxySQL's patch naming `utf8mb3` as
/// `utf8`), `Default` empty except `'Yes'` on the lowest id of each charset.
///
/// Existing rows are replaced. ProxySQL fills only the admin memory copy; the `disk` table
/// stays empty.
pub fn populate_mysql_collations(conn: &Connection, attached_as: &str) -> rusqlite::Result<()> {
    let db = quote_ident(attached_as);
    conn.execute(&format!("DELETE FROM {db}.mysql_collations"), [])?;
    let mut insert = conn.prepare(&format!(
        "INSERT INTO {db}.mysql_collations VALUES (?1, ?2, ?3, '')"
    ))?;
    for &(id, collation, charset) in COLLATIONS {
        insert.execute(rusqlite::params![id, collation, charset])?;
    }
    conn.execute(
        &format!(
            "UPDATE {db}.mysql_collations SET `Default`='Yes' WHERE Id IN \
             (SELECT MIN(Id) FROM {db}.mysql_collations GROUP BY Charset)"
        ),
        [],
    )?;
    Ok(())
}

/// Double-quotes an SQLite identifier (schema names may be anything the caller attached).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::config_file::{ConfigFile, Section};
    use crate::proxysql::schema::table;
    use crate::proxysql::schema::tests::{inventory, SPEC_DDL};
    use std::collections::BTreeSet;

    /// An admin-like connection: in-memory `main` with the four other schemas attached.
    fn node_db() -> Connection {
        let conn = Connection::open_in_memory().expect("open in-memory db");
        for schema in &Schema::ALL[1..] {
            conn.execute_batch(&format!(
                "ATTACH DATABASE ':memory:' AS {}",
                schema.default_name()
            ))
            .expect("attach");
        }
        for schema in Schema::ALL {
            create_all(&conn, schema.default_name(), schema).expect("create schema");
        }
        conn
    }

    fn stored_tables(conn: &Connection, db: &str) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, sql FROM \"{db}\".sqlite_master WHERE type='table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ))
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn attached_schemas_hold_every_inventory_table() {
        let conn = node_db();
        for schema in Schema::ALL {
            let stored: BTreeSet<String> = stored_tables(&conn, schema.default_name())
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            for name in inventory(schema) {
                assert!(stored.contains(name), "{schema:?} lacks {name}");
            }
            assert_eq!(
                stored.len(),
                tables(schema).len(),
                "{schema:?} has extra tables"
            );
        }
    }

    #[test]
    fn ddl_matches_spec_section_3() {
        let conn = node_db();
        for spec in SPEC_DDL {
            let name = spec["CREATE TABLE ".len()..]
                .split(' ')
                .next()
                .unwrap_or_default();
            let homes: Vec<Schema> = Schema::ALL
                .into_iter()
                .filter(|&s| table(s, name).is_some())
                .collect();
            assert!(!homes.is_empty(), "{name} is in no schema");
            for schema in homes {
                assert_eq!(
                    table(schema, name).map(|t| t.ddl),
                    Some(*spec),
                    "{schema:?}.{name}"
                );
                let stored = stored_tables(&conn, schema.default_name());
                let sql = stored
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, sql)| sql.as_str());
                assert_eq!(sql, Some(*spec), "sqlite_master text of {schema:?}.{name}");
            }
        }
    }

    #[test]
    fn sqlite_master_keeps_the_unqualified_text() {
        let conn = node_db();
        for schema in Schema::ALL {
            for (name, sql) in stored_tables(&conn, schema.default_name()) {
                let ddl = table(schema, &name).expect("known table").ddl;
                assert_eq!(sql, ddl.replacen("CREATE TABLE  ", "CREATE TABLE ", 1));
            }
        }
    }

    #[test]
    fn create_all_is_idempotent_and_keeps_rows() {
        let conn = node_db();
        conn.execute(
            "INSERT INTO disk.proxysql_servers (hostname) VALUES ('10.0.0.1')",
            [],
        )
        .expect("insert");
        create_all(&conn, "disk", Schema::Disk).expect("second run");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM disk.proxysql_servers", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(n, 1);
    }

    #[test]
    fn indexes_are_created_with_proxysql_names() {
        let conn = node_db();
        let count = |db: &str| -> i64 {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {db}.sqlite_master WHERE type='index' AND name LIKE 'idx_%'"),
                [],
                |r| r.get(0),
            )
            .expect("count")
        };
        assert_eq!(count("monitor"), 7);
        assert_eq!(count("stats_history"), 3);
        assert_eq!(count("main"), 0);
    }

    #[test]
    fn odd_schema_names_are_quoted() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("ATTACH DATABASE ':memory:' AS \"my \"\"db\"")
            .expect("attach");
        create_all(&conn, "my \"db", Schema::Monitor).expect("create");
        let stored = stored_tables(&conn, "my \"\"db");
        assert_eq!(stored.len(), tables(Schema::Monitor).len());
    }

    #[test]
    fn unknown_schema_name_is_an_error_not_a_panic() {
        let conn = Connection::open_in_memory().expect("open");
        assert!(create_all(&conn, "nope", Schema::Disk).is_err());
    }

    #[test]
    fn builtin_rows_fill_collations_and_stats_workaround() {
        let conn = node_db();
        populate_builtin_rows(&conn, "main", Schema::Main).expect("collations");
        populate_builtin_rows(&conn, "main", Schema::Main).expect("collations twice");
        populate_builtin_rows(&conn, "stats", Schema::Stats).expect("stats");
        populate_builtin_rows(&conn, "disk", Schema::Disk).expect("disk is a no-op");

        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(count("SELECT COUNT(*) FROM main.mysql_collations"), 375);
        assert_eq!(
            count("SELECT COUNT(*) FROM main.mysql_collations WHERE `Default`='Yes'"),
            count("SELECT COUNT(DISTINCT Charset) FROM main.mysql_collations")
        );
        assert_eq!(count("SELECT COUNT(*) FROM disk.mysql_collations"), 0);
        let row = |id: i64| -> (String, String, String) {
            conn.query_row(
                "SELECT Collation, Charset, `Default` FROM main.mysql_collations WHERE Id=?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row")
        };
        assert_eq!(
            row(33),
            ("utf8_general_ci".into(), "utf8".into(), "Yes".into())
        );
        assert_eq!(
            row(192),
            ("utf8_unicode_ci".into(), "utf8".into(), String::new())
        );
        assert_eq!(
            row(255),
            ("utf8mb4_0900_ai_ci".into(), "utf8mb4".into(), String::new())
        );
        // ProxySQL marks the lowest id per charset, not MySQL's default collation.
        assert_eq!(
            row(5),
            ("latin1_german1_ci".into(), "latin1".into(), "Yes".into())
        );
        assert_eq!(
            row(8),
            ("latin1_swedish_ci".into(), "latin1".into(), String::new())
        );

        let packet: String = conn
            .query_row(
                "SELECT variable_value FROM stats.global_variables \
                 WHERE variable_name='mysql-max_allowed_packet'",
                [],
                |r| r.get(0),
            )
            .expect("workaround row");
        assert_eq!(packet, "4194304");
    }

    fn query(db: &Connection, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut stmt = db.prepare(sql).expect("prepare");
        let columns = stmt.column_count();
        stmt.query_map([], |row| {
            (0..columns)
                .map(|i| {
                    row.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                        rusqlite::types::Value::Null => None,
                        rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                        rusqlite::types::Value::Text(t) => Some(t),
                        other => Some(format!("{other:?}")),
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    /// The statements a `proxysql.cnf` turns into run on the node's own `main` tables, with
    /// ProxySQL's defaults filling what the file leaves out.
    #[test]
    fn config_file_statements_run_on_the_main_tables() {
        let db = Connection::open_in_memory().expect("sqlite");
        create_all(&db, "main", Schema::Main).expect("main tables");
        let cfg = ConfigFile::parse(include_str!("../../../tests/fixtures/proxysql-node1.cnf"))
            .expect("parses");
        let mut loaded = 0;
        for section in Section::ALL {
            for statement in cfg.section_statements(section).expect("valid") {
                loaded += db
                    .execute(&statement, [])
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
        }
        assert_eq!(loaded, 14 + 11 + 3 + 1 + 2 + 2 + 2);

        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            query(
                &db,
                "SELECT hostgroup_id, hostname, port, status, weight, comment FROM mysql_servers \
                 ORDER BY hostname"
            ),
            [
                [
                    s("10"),
                    s("192.168.0.11"),
                    s("3306"),
                    s("ONLINE"),
                    s("1"),
                    s("primary")
                ],
                [
                    s("20"),
                    s("192.168.0.12"),
                    s("3306"),
                    s("ONLINE"),
                    s("100"),
                    s("replica 'a'")
                ],
                [
                    s("20"),
                    s("192.168.0.13"),
                    s("3306"),
                    s("OFFLINE_SOFT"),
                    s("1"),
                    s("")
                ],
            ]
        );
        // ProxySQL writes '' (not the table's NULL) for an absent default_schema.
        assert_eq!(
            query(
                &db,
                "SELECT username, default_schema, backend, frontend FROM mysql_users ORDER BY username"
            ),
            [
                [s("reporter"), s(""), s("1"), s("1")],
                [s("svcusr"), s("duhokim"), s("1"), s("1")],
            ]
        );
        // NULL into NOT NULL `attributes` becomes the column default under INSERT OR REPLACE.
        assert_eq!(
            query(
                &db,
                "SELECT rule_id, match_digest, attributes, comment FROM mysql_query_rules ORDER BY rule_id"
            ),
            [
                [s("100"), s("^SELECT .* FOR UPDATE$"), s(""), None],
                [s("200"), s(r"^SELECT\s(?!.*FOR UPDATE)"), s(""), s("reads to replicas")],
            ]
        );
        assert_eq!(
            query(
                &db,
                "SELECT variable_value FROM global_variables WHERE variable_name='admin-cluster_username'"
            ),
            [[s("cluster_user")]]
        );
    }
}
