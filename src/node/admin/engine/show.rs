//! `SHOW ...` statements (§1.7.3): rewritten SQL and the forms answered here.

use super::{ColumnKind, Engine, Reply, SessionCtx};
use crate::node::admin::db::AdminDb;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::schema;
use crate::proxysql::statement::ShowCommand;

impl Engine {
    pub(super) fn show(&mut self, ctx: &SessionCtx, show: ShowCommand) -> Reply {
        match show {
            ShowCommand::Sql(sql) => self.plain_sql(ctx, &sql),
            ShowCommand::PrometheusMetrics => {
                let mut rs = ResultSet::with_columns(["Data"]);
                rs.push_row([Some(crate::node::metrics::render(&self.shared))]);
                Reply::Rows(rs, ColumnKind::Text)
            }
            // ProxySQL's answer is PRAGMA DATABASE_LIST of a handle without a temp schema; ours
            // has one (the variable-validation triggers are TEMP), which must not show.
            ShowCommand::Databases => self.plain_sql(
                ctx,
                "SELECT seq, name, file FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq",
            ),
            ShowCommand::CreateTable { schema, table } => {
                let db = schema.unwrap_or_else(|| "main".into());
                if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Reply::admin_err("ProxySQL Admin Error: unknown database");
                }
                let ddl: Option<String> = self
                    .conn(ctx)
                    .query_row(
                        &format!(
                            "SELECT sql FROM {db}.sqlite_master WHERE type='table' AND name=?1"
                        ),
                        [&table],
                        |r| r.get(0),
                    )
                    .ok();
                match ddl {
                    Some(ddl) => {
                        let mut rs = ResultSet::with_columns(["table", "Create Table"]);
                        rs.push_row([Some(table), Some(schema::show_create_table_format(&ddl))]);
                        Reply::Rows(rs, ColumnKind::Text)
                    }
                    // ProxySQL answers an empty result with the same columns.
                    None => Reply::Rows(
                        ResultSet::with_columns(["table", "Create Table"]),
                        ColumnKind::Text,
                    ),
                }
            }
            ShowCommand::Fields(table) => {
                if !table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Reply::admin_err("ProxySQL Admin Error: invalid table name");
                }
                match AdminDb::query(self.conn(ctx), &format!("PRAGMA table_info({table})")) {
                    Ok(info) => {
                        let mut rs = ResultSet::with_columns([
                            "Field", "Type", "Null", "Key", "Default", "Extra",
                        ]);
                        for r in info.rows {
                            let notnull = r[3].as_deref() == Some("1");
                            let pk = r[5].as_deref().is_some_and(|p| p != "0");
                            rs.push_row([
                                r[1].clone(),
                                Some("varchar(255)".into()),
                                Some(if notnull { "NO".into() } else { "YES".into() }),
                                Some(if pk { "PRI".into() } else { String::new() }),
                                r[4].clone(),
                                Some(String::new()),
                            ]);
                        }
                        Reply::Rows(rs, ColumnKind::Text)
                    }
                    Err(e) => Reply::sqlite_err(&e),
                }
            }
        }
    }
}
