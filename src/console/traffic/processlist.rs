//! The processlist of every node merged, each session with its node (the node a kill must go
//! to), filtered and sorted.

use serde::Serialize;

use crate::client::traffic::ProcessRow;

/// One client session and the node that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The node that owns the session: `KILL` must be sent there.
    pub node: String,
    /// The session.
    #[serde(flatten)]
    pub row: ProcessRow,
}

/// How sessions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSort {
    /// Longest running first.
    #[default]
    Time,
    /// By user.
    User,
    /// By hostgroup.
    Hostgroup,
    /// By command.
    Command,
    /// By statement text.
    Info,
    /// By node, then session id.
    Node,
}

impl SessionSort {
    /// The keys `--sort` takes.
    pub const KEYS: [&'static str; 6] = ["time", "user", "hostgroup", "command", "info", "node"];

    /// From a `--sort` key.
    pub fn parse(key: &str) -> Result<SessionSort, String> {
        Ok(match key.to_ascii_lowercase().as_str() {
            "time" | "time_ms" => SessionSort::Time,
            "user" => SessionSort::User,
            "hostgroup" | "hg" => SessionSort::Hostgroup,
            "command" => SessionSort::Command,
            "info" => SessionSort::Info,
            "node" => SessionSort::Node,
            _ => return Err(super::unknown_key("processlist", key, &Self::KEYS)),
        })
    }

    /// The next key (the view's sort toggle).
    pub fn next(self) -> SessionSort {
        match self {
            SessionSort::Time => SessionSort::User,
            SessionSort::User => SessionSort::Hostgroup,
            SessionSort::Hostgroup => SessionSort::Command,
            SessionSort::Command => SessionSort::Info,
            SessionSort::Info => SessionSort::Node,
            SessionSort::Node => SessionSort::Time,
        }
    }

    /// The key's name.
    pub fn name(self) -> &'static str {
        Self::KEYS[self as usize]
    }
}

/// True when `filter` (case-insensitive) occurs in the session's node, user, db, client host,
/// backend host, command or statement, or equals its hostgroup; an empty filter keeps all.
pub fn matches(s: &Session, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let f = filter.to_ascii_lowercase();
    let r = &s.row;
    [
        &s.node,
        &r.user,
        &r.db,
        &r.cli_host,
        &r.srv_host,
        &r.command,
        &r.info,
    ]
    .iter()
    .any(|t| t.to_ascii_lowercase().contains(&f))
        || r.hostgroup.to_string() == f
}

/// Every node's sessions (in node order) merged, filtered and sorted.
pub fn merge(nodes: &[(String, Vec<ProcessRow>)], filter: &str, sort: SessionSort) -> Vec<Session> {
    let mut all: Vec<Session> = nodes
        .iter()
        .flat_map(|(node, rows)| {
            rows.iter().map(|row| Session {
                node: node.clone(),
                row: row.clone(),
            })
        })
        .filter(|s| matches(s, filter))
        .collect();
    all.sort_by(|a, b| {
        let (x, y) = (&a.row, &b.row);
        let primary = match sort {
            SessionSort::Time => y.time_ms.cmp(&x.time_ms),
            SessionSort::User => x.user.cmp(&y.user),
            SessionSort::Hostgroup => x.hostgroup.cmp(&y.hostgroup),
            SessionSort::Command => x.command.cmp(&y.command),
            SessionSort::Info => x.info.cmp(&y.info),
            SessionSort::Node => std::cmp::Ordering::Equal,
        };
        primary
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| x.session_id.cmp(&y.session_id))
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u64, user: &str, hg: i64, command: &str, time_ms: u64, info: &str) -> ProcessRow {
        ProcessRow {
            session_id: id,
            user: user.into(),
            db: "duhokim".into(),
            cli_host: "127.0.0.1".into(),
            cli_port: 4000,
            hostgroup: hg,
            srv_host: String::new(),
            srv_port: 0,
            command: command.into(),
            time_ms,
            info: info.into(),
        }
    }

    #[test]
    fn sessions_merge_with_their_node_then_filter_and_sort() {
        let nodes = vec![
            (
                "n1".to_owned(),
                vec![
                    s(1, "svcusr", 0, "Sleep", 10, ""),
                    s(2, "app", 1, "Query", 900, "SELECT SLEEP(5)"),
                ],
            ),
            (
                "n2".to_owned(),
                vec![s(1, "svcusr", 1, "Query", 50, "SELECT 1")],
            ),
        ];
        let all = merge(&nodes, "", SessionSort::Time);
        assert_eq!(all.len(), 3);
        assert_eq!((all[0].node.as_str(), all[0].row.session_id), ("n1", 2));
        let by_user = merge(&nodes, "", SessionSort::User);
        assert_eq!(by_user[0].row.user, "app");
        assert_eq!(by_user[1].node, "n1");
        let q = merge(&nodes, "sleep(", SessionSort::Node);
        assert_eq!(q.len(), 1);
        assert_eq!(merge(&nodes, "N2", SessionSort::Node).len(), 1);
        assert_eq!(
            merge(&nodes, "1", SessionSort::Node).len(),
            3,
            "hostgroup 1 or text with 1"
        );
        assert_eq!(
            merge(&nodes, "", SessionSort::Hostgroup)[0].row.hostgroup,
            0
        );
    }

    #[test]
    fn sort_keys_round_trip() {
        for k in SessionSort::KEYS {
            assert_eq!(SessionSort::parse(k).unwrap().name(), k);
        }
        assert!(SessionSort::parse("cpu").is_err());
        assert_eq!(SessionSort::Node.next(), SessionSort::Time);
    }
}
