//! What a read_only result does to the runtime servers of `mysql_replication_hostgroups`
//! (§7.5, `MySQL_HostGroups_Manager::read_only_action_v2`), as a pure function over the
//! runtime `mysql_servers` rows.

use crate::core::resultset::ResultSet;

/// One `mysql_replication_hostgroups` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationPair {
    /// `writer_hostgroup`.
    pub writer: i32,
    /// `reader_hostgroup`.
    pub reader: i32,
    /// `check_type` index into [`CHECK_QUERIES`].
    pub check: usize,
}

/// The query of each `check_type`, in the DDL's order.
pub const CHECK_QUERIES: [(&str, &str); 5] = [
    ("read_only", "SELECT @@global.read_only read_only"),
    (
        "innodb_read_only",
        "SELECT @@global.innodb_read_only read_only",
    ),
    (
        "super_read_only",
        "SELECT @@global.super_read_only read_only",
    ),
    (
        "read_only|innodb_read_only",
        "SELECT @@global.read_only|@@global.innodb_read_only read_only",
    ),
    (
        "read_only&innodb_read_only",
        "SELECT @@global.read_only&@@global.innodb_read_only read_only",
    ),
];

/// Reads the pairs from the runtime `mysql_replication_hostgroups` table.
pub fn pairs(table: &ResultSet) -> Vec<ReplicationPair> {
    let (Some(w), Some(r)) = (
        table.column_index("writer_hostgroup"),
        table.column_index("reader_hostgroup"),
    ) else {
        return Vec::new();
    };
    let c = table.column_index("check_type");
    table
        .rows
        .iter()
        .filter_map(|row| {
            let num = |i: usize| row.get(i)?.as_deref()?.trim().parse::<i32>().ok();
            let check_type = c
                .and_then(|i| row.get(i).cloned().flatten())
                .unwrap_or_else(|| "read_only".into())
                .to_ascii_lowercase();
            Some(ReplicationPair {
                writer: num(w)?,
                reader: num(r)?,
                check: CHECK_QUERIES
                    .iter()
                    .position(|(name, _)| *name == check_type)
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// Applies one server's read_only result. Returns the new runtime servers table when
/// something moved, `None` when the table is already right.
///
/// * read_only=0: the server's reader entries are copied to the writer hostgroup when it is
///   missing there; with `writer_is_also_reader=false` its reader entries are removed.
/// * read_only=1: its writer entries are copied to the reader hostgroup when missing there,
///   and removed from the writer hostgroup.
pub fn apply_read_only(
    servers: &ResultSet,
    pairs: &[ReplicationPair],
    host: &str,
    port: u16,
    read_only: bool,
    writer_is_also_reader: bool,
) -> Option<ResultSet> {
    let (Some(hg_col), Some(host_col), Some(port_col)) = (
        servers.column_index("hostgroup_id"),
        servers.column_index("hostname"),
        servers.column_index("port"),
    ) else {
        return None;
    };
    let status_col = servers.column_index("status");
    let port_text = port.to_string();
    let is_server = |row: &Vec<Option<String>>| {
        row[host_col].as_deref() == Some(host) && row[port_col].as_deref() == Some(&port_text)
    };
    let hg_of =
        |row: &Vec<Option<String>>| row[hg_col].as_deref().and_then(|h| h.parse::<i32>().ok());
    let find = |rows: &[Vec<Option<String>>], hg: i32| {
        rows.iter()
            .position(|row| is_server(row) && hg_of(row) == Some(hg))
    };
    // OFFLINE_HARD entries do not count as present.
    let present = |rows: &[Vec<Option<String>>], hg: i32| {
        find(rows, hg).is_some_and(|i| {
            status_col.is_none_or(|s| rows[i][s].as_deref() != Some("OFFLINE_HARD"))
        })
    };
    let mut rows = servers.rows.clone();
    let mut changed = false;
    for pair in pairs {
        let (from, to) = if read_only {
            (pair.writer, pair.reader)
        } else {
            (pair.reader, pair.writer)
        };
        let Some(src) = find(&rows, from) else {
            continue;
        };
        // A writable server already in the writer hostgroup needs nothing.
        if !read_only && present(&rows, to) {
            continue;
        }
        if !present(&rows, to) {
            let mut copy = rows[src].clone();
            copy[hg_col] = Some(to.to_string());
            match find(&rows, to) {
                Some(existing) => rows[existing] = copy,
                None => rows.push(copy),
            }
        }
        if read_only || !writer_is_also_reader {
            if let Some(i) = find(&rows, from) {
                rows.remove(i);
            }
        }
        changed = true;
    }
    if !changed {
        return None;
    }
    // Keep the table in the order ProxySQL regenerates it.
    rows.sort_by(|a, b| {
        let key = |r: &Vec<Option<String>>| {
            (
                hg_of(r).unwrap_or(0),
                r[host_col].clone().unwrap_or_default(),
                r[port_col]
                    .as_deref()
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(0),
            )
        };
        key(a).cmp(&key(b))
    });
    Some(ResultSet {
        columns: servers.columns.clone(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str, &str)]) -> ResultSet {
        let mut rs =
            ResultSet::with_columns(["hostgroup_id", "hostname", "port", "status", "weight"]);
        for (hg, host, port) in rows {
            rs.push_row([
                Some(*hg),
                Some(*host),
                Some(*port),
                Some("ONLINE"),
                Some("1"),
            ]);
        }
        rs
    }

    fn hosts(rs: &ResultSet) -> Vec<(String, String)> {
        rs.rows
            .iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    }

    const PAIR: [ReplicationPair; 1] = [ReplicationPair {
        writer: 10,
        reader: 20,
        check: 0,
    }];

    #[test]
    fn replica_turning_writable_joins_the_writer_hostgroup() {
        let rs = table(&[("10", "p", "1"), ("20", "r1", "2"), ("20", "r2", "3")]);
        let out = apply_read_only(&rs, &PAIR, "r1", 2, false, true).unwrap();
        assert_eq!(
            hosts(&out),
            [
                ("10".into(), "p".into()),
                ("10".into(), "r1".into()),
                ("20".into(), "r1".into()),
                ("20".into(), "r2".into())
            ]
        );
        let out = apply_read_only(&rs, &PAIR, "r1", 2, false, false).unwrap();
        assert_eq!(
            hosts(&out),
            [
                ("10".into(), "p".into()),
                ("10".into(), "r1".into()),
                ("20".into(), "r2".into())
            ]
        );
        // Already a writer: nothing to do.
        assert!(apply_read_only(&rs, &PAIR, "p", 1, false, true).is_none());
    }

    #[test]
    fn writer_turning_read_only_moves_to_readers() {
        let rs = table(&[("10", "p", "1"), ("20", "r1", "2")]);
        let out = apply_read_only(&rs, &PAIR, "p", 1, true, true).unwrap();
        assert_eq!(
            hosts(&out),
            [("20".into(), "p".into()), ("20".into(), "r1".into())]
        );
        // A reader staying read-only changes nothing.
        assert!(apply_read_only(&rs, &PAIR, "r1", 2, true, true).is_none());
        // A writer also present as reader just leaves the writer hostgroup.
        let rs = table(&[("10", "p", "1"), ("20", "p", "1")]);
        let out = apply_read_only(&rs, &PAIR, "p", 1, true, true).unwrap();
        assert_eq!(hosts(&out), [("20".into(), "p".into())]);
    }

    #[test]
    fn pairs_and_check_queries() {
        let mut rs = ResultSet::with_columns([
            "writer_hostgroup",
            "reader_hostgroup",
            "check_type",
            "comment",
        ]);
        rs.push_row([Some("10"), Some("20"), Some("super_read_only"), Some("")]);
        rs.push_row([Some("x"), Some("20"), Some("read_only"), Some("")]);
        let p = pairs(&rs);
        assert_eq!(p.len(), 1);
        assert_eq!(
            CHECK_QUERIES[p[0].check].1,
            "SELECT @@global.super_read_only read_only"
        );
    }
}
