//! Replication hostgroups (§7.5): moving servers between writer and reader hostgroups by the
//! read_only value the monitor found, as `MySQL_HostGroups_Manager::read_only_action_v2`.
//!
//! A server's *nodes* are its rows (not `OFFLINE_HARD`) in the writer or reader hostgroup of a
//! `mysql_replication_hostgroups` entry, each tagged with that entry's (writer, reader) pair:
//!
//! * `read_only=0`: every reader node without a writer node of the same pair is copied into the
//!   writer hostgroup; when anything was copied and `writer_is_also_reader` is off, all reader
//!   nodes are removed.
//! * `read_only=1`: if the server has writer nodes, each one without a reader node of the same
//!   pair is copied into the reader hostgroup, then all writer nodes are removed.
//!
//! Copies take every column of their source; a `SHUNNED` source comes back `ONLINE` (the
//! backend just answered), and a leftover `OFFLINE_HARD` row at the destination is replaced.
//! The function is idempotent: applied again to its own output with the same results it
//! changes nothing, so it can run after every check round, including after a `LOAD MYSQL
//! SERVERS TO RUNTIME` that put the configured layout back.

use crate::proxysql::resultset::ResultSet;

use super::servers::{is_offline_hard, ReplicationHostgroup, ServerAddr, ServerColumns};

/// The read_only value a check found (or assumed after repeated timeouts) for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyResult {
    /// The backend.
    pub addr: ServerAddr,
    /// `true` for read_only=1.
    pub read_only: bool,
}

/// Something a move did, in order, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveEvent {
    /// read_only=0 on a server with no writer node at all.
    WriterNotFound(ServerAddr),
    /// read_only=0 on a writer missing from some writer hostgroup.
    WriterMissing(ServerAddr),
    /// read_only=1 on a server that has writer nodes.
    ReaderNotFound(ServerAddr),
    /// A row was created (or revived) in `hostgroup`; `status` is the row's status.
    Created {
        /// Destination hostgroup.
        hostgroup: u32,
        /// The server.
        addr: ServerAddr,
        /// `gtid_port` of the new row.
        gtid_port: String,
        /// `weight` of the new row.
        weight: String,
        /// Status of the new row.
        status: String,
    },
    /// The row in `hostgroup` was removed.
    Removed {
        /// The hostgroup it left.
        hostgroup: u32,
        /// The server.
        addr: ServerAddr,
    },
    /// The runtime table must be regenerated because of this server.
    Regenerating(ServerAddr),
}

/// The result of applying a round of read_only results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveOutcome {
    /// The new runtime servers (`ORDER BY hostgroup_id, hostname, port`); equal to the input
    /// when nothing moved.
    pub servers: ResultSet,
    /// What happened, in order.
    pub events: Vec<MoveEvent>,
}

impl MoveOutcome {
    /// True when any server moved.
    pub fn changed(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, MoveEvent::Regenerating(_)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    role: Role,
    pair: (u32, u32),
    row: usize,
}

/// Applies read_only results to the runtime servers (pure; see the module docs).
pub fn apply_read_only(
    servers: &ResultSet,
    hostgroups: &[ReplicationHostgroup],
    results: &[ReadOnlyResult],
    writer_is_also_reader: bool,
) -> MoveOutcome {
    let unchanged = MoveOutcome {
        servers: servers.clone(),
        events: Vec::new(),
    };
    let Some(cols) = ServerColumns::find(servers) else {
        return unchanged;
    };
    let mut rows = servers.rows.clone();
    let mut events = Vec::new();
    for result in results {
        let nodes = nodes_of(&rows, &cols, hostgroups, &result.addr);
        let (from, to) = if result.read_only {
            (Role::Writer, Role::Reader)
        } else {
            (Role::Reader, Role::Writer)
        };
        let has = |role: Role| nodes.iter().any(|n| n.role == role);
        let missing: Vec<Node> = nodes
            .iter()
            .filter(|n| n.role == from)
            .filter(|n| !nodes.iter().any(|d| d.role == to && d.pair == n.pair))
            .copied()
            .collect();
        let act = if result.read_only {
            has(Role::Writer)
        } else {
            !missing.is_empty()
        };
        if !act {
            continue;
        }
        events.push(match (result.read_only, has(Role::Writer)) {
            (true, _) => MoveEvent::ReaderNotFound(result.addr.clone()),
            (false, false) => MoveEvent::WriterNotFound(result.addr.clone()),
            (false, true) => MoveEvent::WriterMissing(result.addr.clone()),
        });
        let mut copies = Vec::with_capacity(missing.len());
        for node in &missing {
            let hostgroup = match to {
                Role::Writer => node.pair.0,
                Role::Reader => node.pair.1,
            };
            let status = &mut rows[node.row][cols.status];
            if status
                .as_deref()
                .is_some_and(|s| s.to_ascii_uppercase().starts_with("SHUNNED"))
            {
                *status = Some("ONLINE".into());
            }
            let mut copy = rows[node.row].clone();
            copy[cols.hostgroup] = Some(hostgroup.to_string());
            copies.push((hostgroup, copy));
        }
        for (hostgroup, copy) in copies {
            // A removed server still listed at the destination is revived in its place.
            rows.retain(|row| {
                !(cols.hostgroup(row) == Some(hostgroup)
                    && cols.addr(row).as_ref() == Some(&result.addr)
                    && is_offline_hard(cols.status(row)))
            });
            events.push(MoveEvent::Created {
                hostgroup,
                addr: result.addr.clone(),
                gtid_port: field(&copy, servers.column_index("gtid_port")),
                weight: field(&copy, servers.column_index("weight")),
                status: cols.status(&copy).to_string(),
            });
            rows.push(copy);
        }
        if result.read_only || !writer_is_also_reader {
            let before = nodes_of(&rows, &cols, hostgroups, &result.addr);
            let mut drop: Vec<usize> = before
                .iter()
                .filter(|n| n.role == from)
                .map(|n| n.row)
                .collect();
            drop.sort_unstable();
            drop.dedup();
            for &i in drop.iter().rev() {
                let row = rows.remove(i);
                events.push(MoveEvent::Removed {
                    hostgroup: cols.hostgroup(&row).unwrap_or_default(),
                    addr: result.addr.clone(),
                });
            }
        }
        events.push(MoveEvent::Regenerating(result.addr.clone()));
    }
    if events.is_empty() {
        return unchanged;
    }
    sort_rows(&mut rows, &cols);
    MoveOutcome {
        servers: ResultSet {
            columns: servers.columns.clone(),
            rows,
        },
        events,
    }
}

fn field(row: &[Option<String>], idx: Option<usize>) -> String {
    idx.and_then(|i| row.get(i).cloned().flatten())
        .unwrap_or_default()
}

/// The server's nodes: one per (row, replication entry) the row belongs to.
fn nodes_of(
    rows: &[Vec<Option<String>>],
    cols: &ServerColumns,
    hostgroups: &[ReplicationHostgroup],
    addr: &ServerAddr,
) -> Vec<Node> {
    let mut nodes = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if is_offline_hard(cols.status(row)) || cols.addr(row).as_ref() != Some(addr) {
            continue;
        }
        let Some(hg) = cols.hostgroup(row) else {
            continue;
        };
        for entry in hostgroups {
            let pair = (entry.writer, entry.reader);
            if hg == entry.writer {
                nodes.push(Node {
                    role: Role::Writer,
                    pair,
                    row: i,
                });
            } else if hg == entry.reader {
                nodes.push(Node {
                    role: Role::Reader,
                    pair,
                    row: i,
                });
            }
        }
    }
    nodes
}

/// `ORDER BY hostgroup_id, hostname, port` with SQLite's numeric order for the integers, the
/// order the runtime table and its checksum use.
pub fn sort_rows(rows: &mut [Vec<Option<String>>], cols: &ServerColumns) {
    rows.sort_by(|a, b| {
        let key = |r: &Vec<Option<String>>| {
            (
                cols.hostgroup(r).unwrap_or(u32::MAX),
                r.get(cols.host).cloned().flatten(),
                cols.addr(r).map(|a| a.port).unwrap_or(u16::MAX),
            )
        };
        key(a).cmp(&key(b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::monitor::servers::replication_hostgroups;
    use crate::node::monitor::servers::tests::{repl, servers};

    fn layout(rs: &ResultSet) -> Vec<(String, String, String, String)> {
        rs.rows
            .iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].clone().unwrap(),
                    r[2].clone().unwrap(),
                    r[4].clone().unwrap(),
                )
            })
            .collect()
    }

    fn l(rows: &[(u32, &str, u16, &str)]) -> Vec<(String, String, String, String)> {
        rows.iter()
            .map(|(hg, h, p, s)| (hg.to_string(), h.to_string(), p.to_string(), s.to_string()))
            .collect()
    }

    fn ro(host: &str, port: u16, read_only: bool) -> ReadOnlyResult {
        ReadOnlyResult {
            addr: ServerAddr::new(host, port),
            read_only,
        }
    }

    fn lab() -> ResultSet {
        servers(&[
            (0, "127.0.0.1", 23306, "ONLINE"),
            (1, "127.0.0.1", 23306, "ONLINE"),
            (1, "127.0.0.1", 23307, "ONLINE"),
            (1, "127.0.0.1", 23308, "ONLINE"),
        ])
    }

    #[test]
    fn steady_state_changes_nothing() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let results = [
            ro("127.0.0.1", 23306, false),
            ro("127.0.0.1", 23307, true),
            ro("127.0.0.1", 23308, true),
        ];
        let out = apply_read_only(&lab(), &hgs, &results, true);
        assert!(!out.changed());
        assert!(out.events.is_empty());
        assert_eq!(out.servers, lab());
    }

    #[test]
    fn replica_turning_writable_joins_the_writer_hostgroup_and_stays_reader() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let out = apply_read_only(&lab(), &hgs, &[ro("127.0.0.1", 23307, false)], true);
        assert!(out.changed());
        assert_eq!(
            layout(&out.servers),
            l(&[
                (0, "127.0.0.1", 23306, "ONLINE"),
                (0, "127.0.0.1", 23307, "ONLINE"),
                (1, "127.0.0.1", 23306, "ONLINE"),
                (1, "127.0.0.1", 23307, "ONLINE"),
                (1, "127.0.0.1", 23308, "ONLINE"),
            ])
        );
        // The copy keeps every other column of the reader row.
        let copy = &out.servers.rows[1];
        assert_eq!(copy[11].as_deref(), Some("127.0.0.1:23307"));
        assert_eq!(
            out.events.first(),
            Some(&MoveEvent::WriterNotFound(ServerAddr::new(
                "127.0.0.1",
                23307
            )))
        );
        assert_eq!(
            out.events.last(),
            Some(&MoveEvent::Regenerating(ServerAddr::new(
                "127.0.0.1",
                23307
            )))
        );
        // Idempotent: the same result again changes nothing.
        let again = apply_read_only(&out.servers, &hgs, &[ro("127.0.0.1", 23307, false)], true);
        assert!(!again.changed());
    }

    #[test]
    fn and_back_when_read_only_again() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let moved = apply_read_only(&lab(), &hgs, &[ro("127.0.0.1", 23307, false)], true);
        let back = apply_read_only(&moved.servers, &hgs, &[ro("127.0.0.1", 23307, true)], true);
        assert!(back.changed());
        assert_eq!(back.servers, lab());
        assert!(back.events.contains(&MoveEvent::Removed {
            hostgroup: 0,
            addr: ServerAddr::new("127.0.0.1", 23307)
        }));
    }

    #[test]
    fn writer_is_not_also_reader_leaves_the_reader_hostgroup() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let out = apply_read_only(&lab(), &hgs, &[ro("127.0.0.1", 23307, false)], false);
        assert_eq!(
            layout(&out.servers),
            l(&[
                (0, "127.0.0.1", 23306, "ONLINE"),
                (0, "127.0.0.1", 23307, "ONLINE"),
                (1, "127.0.0.1", 23306, "ONLINE"),
                (1, "127.0.0.1", 23308, "ONLINE"),
            ])
        );
        // A configured writer that is also listed as reader is left alone (nothing missing),
        // as ProxySQL does.
        assert!(!apply_read_only(&lab(), &hgs, &[ro("127.0.0.1", 23306, false)], false).changed());
        // Back to read_only=1: moved to the reader hostgroup from the writer row.
        let back = apply_read_only(&out.servers, &hgs, &[ro("127.0.0.1", 23307, true)], false);
        assert_eq!(back.servers, lab());
    }

    #[test]
    fn read_only_writer_without_reader_row_is_moved_and_shunned_copies_come_back_online() {
        let hgs = replication_hostgroups(&repl(&[(10, 20, "read_only")]));
        let rs = servers(&[(10, "w", 3306, "SHUNNED"), (20, "r", 3306, "ONLINE")]);
        let out = apply_read_only(&rs, &hgs, &[ro("w", 3306, true)], true);
        assert_eq!(
            layout(&out.servers),
            l(&[(20, "r", 3306, "ONLINE"), (20, "w", 3306, "ONLINE")])
        );
        assert_eq!(
            out.events[0],
            MoveEvent::ReaderNotFound(ServerAddr::new("w", 3306))
        );
    }

    #[test]
    fn offline_hard_rows_are_not_nodes_and_are_revived_at_the_destination() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let rs = servers(&[(0, "a", 1, "OFFLINE_HARD"), (1, "a", 1, "ONLINE")]);
        let out = apply_read_only(&rs, &hgs, &[ro("a", 1, false)], true);
        assert_eq!(
            layout(&out.servers),
            l(&[(0, "a", 1, "ONLINE"), (1, "a", 1, "ONLINE")])
        );
        // read_only=1 with only an OFFLINE_HARD writer row: nothing to move.
        assert!(!apply_read_only(&rs, &hgs, &[ro("a", 1, true)], true).changed());
    }

    #[test]
    fn every_replication_pair_is_served() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only"), (2, 3, "read_only")]));
        let rs = servers(&[(1, "a", 1, "ONLINE"), (3, "a", 1, "ONLINE")]);
        let out = apply_read_only(&rs, &hgs, &[ro("a", 1, false)], true);
        assert_eq!(
            layout(&out.servers),
            l(&[
                (0, "a", 1, "ONLINE"),
                (1, "a", 1, "ONLINE"),
                (2, "a", 1, "ONLINE"),
                (3, "a", 1, "ONLINE"),
            ])
        );
    }

    #[test]
    fn offline_soft_writer_counts_as_present_and_unknown_servers_are_ignored() {
        let hgs = replication_hostgroups(&repl(&[(0, 1, "read_only")]));
        let rs = servers(&[(0, "a", 1, "OFFLINE_SOFT"), (1, "a", 1, "ONLINE")]);
        assert!(!apply_read_only(&rs, &hgs, &[ro("a", 1, false)], true).changed());
        assert!(!apply_read_only(&rs, &hgs, &[ro("zzz", 9, false)], true).changed());
        assert!(!apply_read_only(&rs, &[], &[ro("a", 1, true)], true).changed());
    }

    #[test]
    fn rows_sort_numerically_like_sqlite() {
        let hgs = replication_hostgroups(&repl(&[(10, 9, "read_only")]));
        let rs = servers(&[
            (2, "b", 100, "ONLINE"),
            (9, "a", 20, "ONLINE"),
            (9, "a", 3, "ONLINE"),
        ]);
        let out = apply_read_only(&rs, &hgs, &[ro("a", 20, false)], true);
        assert_eq!(
            layout(&out.servers),
            l(&[
                (2, "b", 100, "ONLINE"),
                (9, "a", 3, "ONLINE"),
                (9, "a", 20, "ONLINE"),
                (10, "a", 20, "ONLINE"),
            ])
        );
    }
}
