//! Which backends each check kind looks at, read from the runtime `mysql_servers` rows.
//!
//! A backend is monitored once per `hostname:port`, whatever hostgroups it appears in, as in
//! ProxySQL (`... GROUP BY hostname, port`).

use std::collections::BTreeMap;
use std::fmt;

use crate::proxysql::resultset::ResultSet;

/// One backend address as the monitor logs name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerAddr {
    /// `hostname` (a unix socket path when `port` is 0).
    pub host: String,
    /// `port`.
    pub port: u16,
}

impl ServerAddr {
    /// An address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> ServerAddr {
        ServerAddr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Positions of the columns the monitor reads in a runtime servers result set.
#[derive(Debug, Clone, Copy)]
pub struct ServerColumns {
    /// `hostgroup_id`.
    pub hostgroup: usize,
    /// `hostname`.
    pub host: usize,
    /// `port`.
    pub port: usize,
    /// `status`.
    pub status: usize,
}

impl ServerColumns {
    /// Finds the columns; `None` when the result set is not a servers table.
    pub fn find(rs: &ResultSet) -> Option<ServerColumns> {
        Some(ServerColumns {
            hostgroup: rs.column_index("hostgroup_id")?,
            host: rs.column_index("hostname")?,
            port: rs.column_index("port")?,
            status: rs.column_index("status")?,
        })
    }

    /// The address of a row; `None` for a malformed port.
    pub fn addr(&self, row: &[Option<String>]) -> Option<ServerAddr> {
        let host = row.get(self.host)?.clone()?;
        let port = row.get(self.port)?.as_deref()?.trim().parse().ok()?;
        Some(ServerAddr { host, port })
    }

    /// The hostgroup of a row.
    pub fn hostgroup(&self, row: &[Option<String>]) -> Option<u32> {
        row.get(self.hostgroup)?.as_deref()?.trim().parse().ok()
    }

    /// The status of a row (`ONLINE` when unset).
    pub fn status<'a>(&self, row: &'a [Option<String>]) -> &'a str {
        row.get(self.status)
            .and_then(|s| s.as_deref())
            .unwrap_or("ONLINE")
    }
}

/// True for addresses that stay on this machine: loopback IPs, `localhost`, unix sockets.
pub fn is_local(addr: &ServerAddr) -> bool {
    addr.port == 0
        || addr.host.eq_ignore_ascii_case("localhost")
        || addr
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// True for `OFFLINE_HARD`: a server being removed, never monitored.
pub fn is_offline_hard(status: &str) -> bool {
    status.eq_ignore_ascii_case("OFFLINE_HARD")
}

/// True for `OFFLINE_SOFT` and `OFFLINE_HARD`.
pub fn is_offline(status: &str) -> bool {
    status.to_ascii_uppercase().starts_with("OFFLINE")
}

/// Backends for the connect and ping checks: every address with a row that is not
/// `OFFLINE_HARD`, once, in address order.
pub fn monitored_servers(servers: &ResultSet) -> Vec<ServerAddr> {
    let Some(cols) = ServerColumns::find(servers) else {
        return Vec::new();
    };
    let mut out: Vec<ServerAddr> = servers
        .rows
        .iter()
        .filter(|row| !is_offline_hard(cols.status(row)))
        .filter_map(|row| cols.addr(row))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a read_only check asks (`mysql_replication_hostgroups.check_type`, §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckType {
    /// `read_only` (the default).
    ReadOnly,
    /// `innodb_read_only`.
    InnodbReadOnly,
    /// `super_read_only`.
    SuperReadOnly,
    /// `read_only|innodb_read_only`.
    ReadOnlyOrInnodbReadOnly,
    /// `read_only&innodb_read_only`.
    ReadOnlyAndInnodbReadOnly,
}

impl CheckType {
    /// Parses a `check_type` value; anything unknown checks `read_only`, as ProxySQL does.
    pub fn parse(value: &str) -> CheckType {
        match value.trim().to_ascii_lowercase().as_str() {
            "innodb_read_only" => CheckType::InnodbReadOnly,
            "super_read_only" => CheckType::SuperReadOnly,
            "read_only|innodb_read_only" => CheckType::ReadOnlyOrInnodbReadOnly,
            "read_only&innodb_read_only" => CheckType::ReadOnlyAndInnodbReadOnly,
            _ => CheckType::ReadOnly,
        }
    }

    /// The query sent to the backend; its single column is named `read_only`.
    pub fn query(self) -> &'static str {
        match self {
            CheckType::ReadOnly => "SELECT @@global.read_only read_only",
            CheckType::InnodbReadOnly => "SELECT @@global.innodb_read_only read_only",
            CheckType::SuperReadOnly => "SELECT @@global.super_read_only read_only",
            CheckType::ReadOnlyOrInnodbReadOnly => {
                "SELECT @@global.read_only|@@global.innodb_read_only read_only"
            }
            CheckType::ReadOnlyAndInnodbReadOnly => {
                "SELECT @@global.read_only&@@global.innodb_read_only read_only"
            }
        }
    }
}

/// One `mysql_replication_hostgroups` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationHostgroup {
    /// `writer_hostgroup`.
    pub writer: u32,
    /// `reader_hostgroup`.
    pub reader: u32,
    /// `check_type`.
    pub check_type: CheckType,
}

/// The entries of a `mysql_replication_hostgroups` result set (malformed rows skipped).
pub fn replication_hostgroups(rs: &ResultSet) -> Vec<ReplicationHostgroup> {
    let (Some(w), Some(r)) = (
        rs.column_index("writer_hostgroup"),
        rs.column_index("reader_hostgroup"),
    ) else {
        return Vec::new();
    };
    let ct = rs.column_index("check_type");
    let num = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<u32>().ok());
    rs.rows
        .iter()
        .filter_map(|row| {
            Some(ReplicationHostgroup {
                writer: num(row.get(w)?)?,
                reader: num(row.get(r)?)?,
                check_type: ct
                    .and_then(|i| row.get(i).cloned().flatten())
                    .map(|v| CheckType::parse(&v))
                    .unwrap_or(CheckType::ReadOnly),
            })
        })
        .collect()
}

/// Backends for the read_only check: addresses with a row in a writer or reader hostgroup
/// that is neither `OFFLINE_SOFT` nor `OFFLINE_HARD`, with the check type of the first entry
/// they belong to.
pub fn read_only_targets(
    servers: &ResultSet,
    hostgroups: &[ReplicationHostgroup],
) -> Vec<(ServerAddr, CheckType)> {
    let Some(cols) = ServerColumns::find(servers) else {
        return Vec::new();
    };
    let mut out: BTreeMap<ServerAddr, CheckType> = BTreeMap::new();
    for row in &servers.rows {
        if is_offline(cols.status(row)) {
            continue;
        }
        let (Some(addr), Some(hg)) = (cols.addr(row), cols.hostgroup(row)) else {
            continue;
        };
        if let Some(entry) = hostgroups.iter().find(|e| e.writer == hg || e.reader == hg) {
            out.entry(addr).or_insert(entry.check_type);
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proxysql::columns::SERVERS_COLUMNS;

    /// A runtime servers result set from `(hostgroup, host, port, status)` tuples.
    pub(crate) fn servers(rows: &[(u32, &str, u16, &str)]) -> ResultSet {
        let mut rs = ResultSet::with_columns(SERVERS_COLUMNS.split(", "));
        for (hg, host, port, status) in rows {
            rs.push_row([
                Some(hg.to_string()),
                Some(host.to_string()),
                Some(port.to_string()),
                Some("0".into()),
                Some(status.to_string()),
                Some("1".into()),
                Some("0".into()),
                Some("1000".into()),
                Some("0".into()),
                Some("0".into()),
                Some("0".into()),
                Some(format!("{host}:{port}")),
            ]);
        }
        rs
    }

    pub(crate) fn repl(rows: &[(u32, u32, &str)]) -> ResultSet {
        let mut rs = ResultSet::with_columns([
            "writer_hostgroup",
            "reader_hostgroup",
            "check_type",
            "comment",
        ]);
        for (w, r, ct) in rows {
            rs.push_row([
                Some(w.to_string()),
                Some(r.to_string()),
                Some(ct.to_string()),
                Some(String::new()),
            ]);
        }
        rs
    }

    #[test]
    fn connect_and_ping_look_at_each_address_once_except_offline_hard() {
        let rs = servers(&[
            (0, "db1", 3306, "ONLINE"),
            (1, "db1", 3306, "ONLINE"),
            (1, "db2", 3306, "OFFLINE_SOFT"),
            (1, "db3", 3306, "OFFLINE_HARD"),
            (2, "db0", 3307, "SHUNNED"),
        ]);
        assert_eq!(
            monitored_servers(&rs),
            [
                ServerAddr::new("db0", 3307),
                ServerAddr::new("db1", 3306),
                ServerAddr::new("db2", 3306)
            ]
        );
    }

    #[test]
    fn read_only_checks_only_replication_members_not_offline() {
        let rs = servers(&[
            (0, "p", 1, "ONLINE"),
            (1, "r1", 2, "SHUNNED"),
            (1, "r2", 3, "OFFLINE_SOFT"),
            (5, "other", 4, "ONLINE"),
            (3, "x", 5, "ONLINE"),
        ]);
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only"), (2, 3, "innodb_read_only")]));
        assert_eq!(
            read_only_targets(&rs, &hgs),
            [
                (ServerAddr::new("p", 1), CheckType::ReadOnly),
                (ServerAddr::new("r1", 2), CheckType::ReadOnly),
                (ServerAddr::new("x", 5), CheckType::InnodbReadOnly),
            ]
        );
    }

    #[test]
    fn check_types_map_to_proxysqls_queries() {
        assert_eq!(
            CheckType::parse("READ_ONLY&innodb_read_only").query(),
            "SELECT @@global.read_only&@@global.innodb_read_only read_only"
        );
        assert_eq!(
            CheckType::parse("read_only|innodb_read_only").query(),
            "SELECT @@global.read_only|@@global.innodb_read_only read_only"
        );
        assert_eq!(
            CheckType::parse("super_read_only").query(),
            "SELECT @@global.super_read_only read_only"
        );
        assert_eq!(CheckType::parse("bogus"), CheckType::ReadOnly);
    }

    #[test]
    fn local_addresses() {
        assert!(is_local(&ServerAddr::new("127.0.0.1", 3306)));
        assert!(is_local(&ServerAddr::new("127.9.9.9", 3306)));
        assert!(is_local(&ServerAddr::new("::1", 3306)));
        assert!(is_local(&ServerAddr::new("LOCALHOST", 3306)));
        assert!(is_local(&ServerAddr::new("/run/mysqld/mysqld.sock", 0)));
        assert!(!is_local(&ServerAddr::new("10.0.0.1", 3306)));
        assert!(!is_local(&ServerAddr::new("db.example", 3306)));
    }

    #[test]
    fn malformed_rows_are_skipped_not_fatal() {
        let mut rs = servers(&[(0, "ok", 1, "ONLINE")]);
        rs.rows.push(vec![None; rs.columns.len()]);
        assert_eq!(monitored_servers(&rs), [ServerAddr::new("ok", 1)]);
        assert!(monitored_servers(&ResultSet::with_columns(["x"])).is_empty());
    }
}
