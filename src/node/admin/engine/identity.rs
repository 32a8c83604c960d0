//! Identity queries answered from the session: `SELECT @@version`, `DATABASE()`, `USER()`,
//! read-only state (§1.7.1).

use super::{ColumnKind, Engine, Reply, SessionCtx, SessionKind};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::IdentityQuery;

impl Engine {
    pub(super) fn identity(&self, ctx: &SessionCtx, q: IdentityQuery) -> Reply {
        let version = self.shared.version.clone();
        let database = match ctx.kind {
            SessionKind::Admin => "admin",
            SessionKind::Stats => "stats",
        };
        let user_at = format!(
            "{}@{}",
            ctx.user,
            ctx.client
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "localhost".into())
        );
        match q {
            IdentityQuery::Version { column } => Reply::single(&column, version),
            IdentityQuery::VersionComment => {
                // ProxySQL answers it as `SELECT '(ProxySQL Admin Module)'`, so SQLite names
                // the column after the literal.
                Reply::single("'(ProxySQL Admin Module)'", "(ProxySQL Admin Module)")
            }
            IdentityQuery::VersionConcat => Reply::single(
                "concat(@@version, ' ', @@version_comment)",
                format!("{version} Admin Module"),
            ),
            IdentityQuery::Database { column } => Reply::single(&column, database),
            IdentityQuery::DatabaseUser => {
                let mut rs = ResultSet::with_columns(["DATABASE()", "USER()"]);
                rs.push_row([Some(database.to_string()), Some(ctx.user.clone())]);
                Reply::Rows(rs, ColumnKind::Text)
            }
            IdentityQuery::User { column } => Reply::single(&column, user_at),
            IdentityQuery::TimeDiff => {
                let offset = chrono::Local::now().offset().local_minus_utc();
                let sign = if offset < 0 { "-" } else { "" };
                let o = offset.abs();
                Reply::single(
                    "TIMEDIFF(NOW(), UTC_TIMESTAMP())",
                    format!("{sign}{:02}:{:02}:00", o / 3600, (o % 3600) / 60),
                )
            }
            IdentityQuery::ReadOnly { show } => {
                if show {
                    let mut rs = ResultSet::with_columns(["Variable_name", "Value"]);
                    rs.push_row([
                        Some("read_only"),
                        Some(if self.read_only { "ON" } else { "OFF" }),
                    ]);
                    Reply::Rows(rs, ColumnKind::Text)
                } else {
                    // An integer column, as ProxySQL's canned packet: clients compare it with 0/1.
                    let mut rs = ResultSet::with_columns(["@@global.read_only"]);
                    rs.push_row([Some(if self.read_only { "1" } else { "0" })]);
                    Reply::Rows(rs, ColumnKind::LongLong)
                }
            }
        }
    }
}
