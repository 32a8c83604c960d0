//! `stats_mysql_query_digest` of every node merged by digest: sums of executions and time,
//! the fastest and slowest execution anywhere, the per-node breakdown, and the query rule that
//! routes the digest (matched on the digest text, as ProxySQL's `match_digest` is).

use std::collections::{BTreeMap, BTreeSet};

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use crate::client::traffic::{DigestRow, RuleRow};

/// One node's share of a merged digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeShare {
    /// Node name.
    pub node: String,
    /// Executions on that node.
    pub count_star: u64,
    /// Total time on that node, microseconds.
    pub sum_time: u64,
    /// Slowest execution there, microseconds.
    pub max_time: u64,
}

/// A digest across the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedDigest {
    /// The digest (`0x...`).
    pub digest: String,
    /// The normalised text.
    pub digest_text: String,
    /// Executions, summed.
    pub count_star: u64,
    /// Total time, microseconds, summed.
    pub sum_time: u64,
    /// Average time, microseconds.
    pub avg_time: u64,
    /// Fastest execution on any node.
    pub min_time: u64,
    /// Slowest execution on any node.
    pub max_time: u64,
    /// Rows sent, summed.
    pub sum_rows_sent: u64,
    /// Latest execution anywhere (unix seconds).
    pub last_seen: u64,
    /// Hostgroups the digest went to.
    pub hostgroups: BTreeSet<i64>,
    /// Users that ran it.
    pub users: BTreeSet<String>,
    /// The first rule (by rule_id, of the first node with rules) that matches the digest and
    /// sets a destination hostgroup, with that hostgroup; `None`: the user's default hostgroup.
    pub rule: Option<(i64, i64)>,
    /// Per node, in node order.
    pub nodes: Vec<NodeShare>,
}

/// How merged digests are ordered (largest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestSort {
    /// Total time.
    #[default]
    Total,
    /// Executions.
    Count,
    /// Average time.
    Avg,
}

impl DigestSort {
    /// The keys `--sort` takes.
    pub const KEYS: [&'static str; 3] = ["total", "count", "avg"];

    /// From a `--sort` key.
    pub fn parse(key: &str) -> Result<DigestSort, String> {
        match key.to_ascii_lowercase().as_str() {
            "total" | "sum_time" => Ok(DigestSort::Total),
            "count" | "count_star" => Ok(DigestSort::Count),
            "avg" | "average" => Ok(DigestSort::Avg),
            _ => Err(super::unknown_key("digest", key, &Self::KEYS)),
        }
    }

    /// The next key (the view's sort toggle).
    pub fn next(self) -> DigestSort {
        match self {
            DigestSort::Total => DigestSort::Count,
            DigestSort::Count => DigestSort::Avg,
            DigestSort::Avg => DigestSort::Total,
        }
    }

    /// The key's name.
    pub fn name(self) -> &'static str {
        match self {
            DigestSort::Total => "total",
            DigestSort::Count => "count",
            DigestSort::Avg => "avg",
        }
    }
}

/// A rule compiled once for matching.
struct Matcher<'a> {
    rule: &'a RuleRow,
    match_digest: Option<Regex>,
}

fn compile(pattern: &str) -> Option<Regex> {
    if pattern.is_empty() {
        return None;
    }
    // ProxySQL's default re_modifiers is CASELESS.
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .ok()
}

fn matchers(rules: &[RuleRow]) -> Vec<Matcher<'_>> {
    rules
        .iter()
        .filter(|r| r.active)
        .map(|rule| Matcher {
            rule,
            match_digest: compile(&rule.match_digest),
        })
        .collect()
}

/// The rule that routes a digest, evaluated on what the digest row knows: user, schema,
/// digest and digest text (`match_pattern` applies to the query's text, which the digest does
/// not keep, so a rule with only a `match_pattern` is matched against the digest text too).
fn route(matchers: &[Matcher<'_>], d: &DigestRow) -> Option<(i64, i64)> {
    for m in matchers {
        let r = m.rule;
        if !r.username.is_empty() && r.username != d.username {
            continue;
        }
        if !r.schemaname.is_empty() && r.schemaname != d.schemaname {
            continue;
        }
        if !r.digest.is_empty() && !r.digest.eq_ignore_ascii_case(&d.digest) {
            continue;
        }
        if !r.match_digest.is_empty() {
            match &m.match_digest {
                Some(re) if re.is_match(&d.digest_text) => {}
                _ => continue,
            }
        }
        if !r.match_pattern.is_empty() {
            let hit = compile(&r.match_pattern).is_some_and(|re| re.is_match(&d.digest_text));
            if hit == r.negate {
                continue;
            }
        }
        if let Some(hg) = r.destination_hostgroup {
            return Some((r.rule_id, hg));
        }
        if r.apply {
            return None;
        }
    }
    None
}

/// Merges the digests of every node (`(node, digests, rules)` in node order) by digest.
pub fn merge(nodes: &[(String, Vec<DigestRow>, Vec<RuleRow>)]) -> Vec<MergedDigest> {
    let mut by: BTreeMap<String, MergedDigest> = BTreeMap::new();
    let rules = nodes
        .iter()
        .find(|(_, _, r)| !r.is_empty())
        .map_or(&[][..], |(_, _, r)| r.as_slice());
    let matchers = matchers(rules);
    for (node, rows, _) in nodes {
        for d in rows {
            let m = by.entry(d.digest.clone()).or_insert_with(|| MergedDigest {
                digest: d.digest.clone(),
                digest_text: d.digest_text.clone(),
                count_star: 0,
                sum_time: 0,
                avg_time: 0,
                min_time: u64::MAX,
                max_time: 0,
                sum_rows_sent: 0,
                last_seen: 0,
                hostgroups: BTreeSet::new(),
                users: BTreeSet::new(),
                rule: route(&matchers, d),
                nodes: Vec::new(),
            });
            m.count_star += d.count_star;
            m.sum_time += d.sum_time;
            m.min_time = m.min_time.min(d.min_time);
            m.max_time = m.max_time.max(d.max_time);
            m.sum_rows_sent += d.sum_rows_sent;
            m.last_seen = m.last_seen.max(d.last_seen);
            m.hostgroups.insert(d.hostgroup);
            m.users.insert(d.username.clone());
            // One digest has a row per (hostgroup, schema, user, client): one share per node.
            match m.nodes.iter_mut().find(|s| &s.node == node) {
                Some(s) => {
                    s.count_star += d.count_star;
                    s.sum_time += d.sum_time;
                    s.max_time = s.max_time.max(d.max_time);
                }
                None => m.nodes.push(NodeShare {
                    node: node.clone(),
                    count_star: d.count_star,
                    sum_time: d.sum_time,
                    max_time: d.max_time,
                }),
            }
        }
    }
    by.into_values()
        .map(|mut m| {
            m.avg_time = m.sum_time.checked_div(m.count_star).unwrap_or(0);
            if m.min_time == u64::MAX {
                m.min_time = 0;
            }
            m
        })
        .collect()
}

/// Orders merged digests by `sort` (largest first, then by digest) and keeps the first `top`
/// (all when `None`).
pub fn top(
    mut digests: Vec<MergedDigest>,
    sort: DigestSort,
    top: Option<usize>,
) -> Vec<MergedDigest> {
    digests.sort_by(|a, b| {
        let key = |d: &MergedDigest| match sort {
            DigestSort::Total => d.sum_time,
            DigestSort::Count => d.count_star,
            DigestSort::Avg => d.avg_time,
        };
        key(b).cmp(&key(a)).then_with(|| a.digest.cmp(&b.digest))
    });
    if let Some(n) = top {
        digests.truncate(n);
    }
    digests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(digest: &str, text: &str, hg: i64, count: u64, sum: u64, min: u64, max: u64) -> DigestRow {
        DigestRow {
            hostgroup: hg,
            schemaname: "duhokim".into(),
            username: "svcusr".into(),
            digest: digest.into(),
            digest_text: text.into(),
            count_star: count,
            first_seen: 1,
            last_seen: 2,
            sum_time: sum,
            min_time: min,
            max_time: max,
            sum_rows_affected: 0,
            sum_rows_sent: count,
        }
    }

    fn rule(id: i64, match_digest: &str, hg: i64) -> RuleRow {
        RuleRow {
            rule_id: id,
            active: true,
            username: String::new(),
            schemaname: String::new(),
            digest: String::new(),
            match_digest: match_digest.into(),
            match_pattern: String::new(),
            negate: false,
            destination_hostgroup: Some(hg),
            apply: true,
        }
    }

    #[test]
    fn digests_merge_across_nodes_with_a_per_node_breakdown_and_their_rule() {
        let rules = vec![rule(1, "^SELECT.*FOR UPDATE$", 0), rule(2, "^SELECT", 1)];
        let merged = merge(&[
            (
                "n1".into(),
                vec![
                    d("0xA", "SELECT ?", 1, 10, 1000, 50, 300),
                    d("0xB", "UPDATE t SET a=?", 0, 2, 5000, 2000, 3000),
                ],
                rules.clone(),
            ),
            (
                "n2".into(),
                vec![
                    d("0xA", "SELECT ?", 1, 30, 1500, 20, 100),
                    d("0xA", "SELECT ?", 0, 1, 10, 10, 10),
                ],
                rules,
            ),
        ]);
        let a = merged.iter().find(|m| m.digest == "0xA").unwrap();
        assert_eq!(a.count_star, 41);
        assert_eq!(a.sum_time, 2510);
        assert_eq!((a.min_time, a.max_time), (10, 300));
        assert_eq!(a.avg_time, 2510 / 41);
        assert_eq!(a.hostgroups, BTreeSet::from([0, 1]));
        assert_eq!(a.nodes.len(), 2);
        assert_eq!(a.nodes[1].count_star, 31);
        assert_eq!(a.rule, Some((2, 1)));
        let b = merged.iter().find(|m| m.digest == "0xB").unwrap();
        assert_eq!(b.rule, None);

        let by_total = top(merged.clone(), DigestSort::Total, None);
        assert_eq!(by_total[0].digest, "0xB");
        let by_count = top(merged.clone(), DigestSort::Count, Some(1));
        assert_eq!(by_count.len(), 1);
        assert_eq!(by_count[0].digest, "0xA");
        assert_eq!(top(merged, DigestSort::Avg, None)[0].digest, "0xB");
    }

    #[test]
    fn sort_keys_parse_and_reject_unknown_ones() {
        assert_eq!(DigestSort::parse("COUNT"), Ok(DigestSort::Count));
        assert!(DigestSort::parse("speed")
            .unwrap_err()
            .contains("total, count, avg"));
        assert_eq!(DigestSort::Avg.next(), DigestSort::Total);
    }
}
