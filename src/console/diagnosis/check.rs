//! The monitoring-plugin side of a diagnosis: `--grace`, `-w/-c` threshold ranges and the
//! performance data that follows `|` on the summary line (Nagios plugin guidelines, as
//! Icinga, Naemon and Zabbix read them too).
//!
//! Pure: counts come from findings and snapshots; nothing here polls.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::{Class, Finding, Severity};
use crate::client::snapshot::NodeSnapshot;
use crate::proxysql::cluster::state::Module;

/// A threshold range in the plugin syntax: `10` (alert outside 0..10), `10:` (below 10),
/// `~:10` (above 10), `10:20` (outside 10..20), `@10:20` (inside 10..20).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    inside: bool,
    text: String,
}

impl FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Range, String> {
        let bad = |why: &str| format!("threshold '{text}': {why} (e.g. 5, 5:, ~:5, 1:5, @1:5)");
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let number = |s: &str| -> Result<f64, String> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("'{s}' is not a number")))
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, number(body)?),
            Some((lo, hi)) => {
                let start = match lo {
                    "~" => f64::NEG_INFINITY,
                    "" => 0.0,
                    lo => number(lo)?,
                };
                let end = if hi.is_empty() {
                    f64::INFINITY
                } else {
                    number(hi)?
                };
                (start, end)
            }
        };
        if start > end {
            return Err(bad("its start is above its end"));
        }
        Ok(Range {
            start,
            end,
            inside,
            text: text.to_owned(),
        })
    }
}

impl Range {
    /// True when `value` should raise an alert.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `-w` and `-c`: ranges on the poll time in seconds, the one figure of a check that the
/// diagnosis has no opinion on (a slow admin interface is an early sign of a sick node).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    /// Alert WARNING when the poll time is outside (or with `@`, inside) this range.
    pub warning: Option<Range>,
    /// Alert CRITICAL likewise.
    pub critical: Option<Range>,
}

impl Thresholds {
    /// The severity of `poll_time_s` against the ranges.
    pub fn judge(&self, poll_time_s: f64) -> Severity {
        if self
            .critical
            .as_ref()
            .is_some_and(|r| r.alerts(poll_time_s))
        {
            Severity::Critical
        } else if self.warning.as_ref().is_some_and(|r| r.alerts(poll_time_s)) {
            Severity::Warning
        } else {
            Severity::Ok
        }
    }
}

/// Downgrades to OK each converging finding whose difference is younger than `grace_s`: a
/// routine `LOAD … TO RUNTIME` is followed by a few seconds of divergence that a check
/// should not page on. A failing pull, a stuck module or a divergence nobody acts on keeps
/// its severity whatever its age.
pub fn apply_grace(findings: Vec<Finding>, grace_s: u64) -> Vec<Finding> {
    if grace_s == 0 {
        return findings;
    }
    findings
        .into_iter()
        .map(|mut f| {
            if let Class::Converging {
                since_s: Some(age), ..
            } = f.class
            {
                if age < grace_s && f.severity == Severity::Warning {
                    f.severity = Severity::Ok;
                    f.why
                        .push_str(&format!(" ({age} s old, within --grace {grace_s} s.)"));
                }
            }
            f
        })
        .collect()
}

/// The figures a check reports as performance data.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    /// Nodes polled.
    pub nodes: usize,
    /// Nodes the console could poll.
    pub nodes_up: usize,
    /// Modules any polled node reports.
    pub modules: usize,
    /// Modules every node (and every peer they see) holds alike.
    pub modules_in_sync: usize,
    /// Modules whose checksums differ, for whatever reason.
    pub modules_diverged: usize,
    /// Diverged modules on their way to agreement (someone will pull).
    pub modules_converging: usize,
    /// Modules that will not agree by themselves: stuck at version 1, equal epochs, or a
    /// failing pull.
    pub modules_stuck: usize,
    /// Wall time of the poll in milliseconds: the slowest node, since nodes are polled in
    /// parallel.
    pub poll_time_ms: u64,
}

impl Counts {
    /// The poll time in seconds, as thresholds and perfdata use it.
    pub fn poll_time_s(&self) -> f64 {
        // Milliseconds fit an f64 exactly far beyond any poll time.
        self.poll_time_ms as f64 / 1000.0
    }
}

/// Counts the figures of one poll and its findings.
pub fn counts(snaps: &[NodeSnapshot], findings: &[Finding]) -> Counts {
    let mut by_module: BTreeMap<Module, Vec<&Class>> = BTreeMap::new();
    for f in findings {
        if let Some(m) = f.module {
            by_module.entry(m).or_default().push(&f.class);
        }
    }
    let mut in_sync = BTreeSet::new();
    let mut converging = BTreeSet::new();
    let mut stuck = BTreeSet::new();
    for (m, classes) in &by_module {
        if classes
            .iter()
            .all(|c| matches!(c, Class::InSync | Class::RuntimeNotSynced { .. }))
        {
            in_sync.insert(*m);
        }
        if classes.iter().any(|c| {
            matches!(
                c,
                Class::StuckVersionOne { .. }
                    | Class::EqualEpochConflict { .. }
                    | Class::SyncFailing { .. }
            )
        }) {
            stuck.insert(*m);
        } else if classes
            .iter()
            .any(|c| matches!(c, Class::Converging { .. }))
        {
            converging.insert(*m);
        }
    }
    Counts {
        nodes: snaps.len(),
        nodes_up: snaps.iter().filter(|s| s.data().is_some()).count(),
        modules: by_module.len(),
        modules_in_sync: in_sync.len(),
        modules_diverged: by_module.len() - in_sync.len(),
        modules_converging: converging.len(),
        modules_stuck: stuck.len(),
        poll_time_ms: snaps.iter().map(|s| s.elapsed_ms).max().unwrap_or(0),
    }
}

/// One performance-data item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfDatum {
    /// Label (no `=` or `'`; quoted when it has spaces).
    pub label: &'static str,
    /// The value as written.
    pub value: String,
    /// Unit of measure: `s` or none.
    pub uom: &'static str,
    /// Warning range, as given.
    pub warn: Option<String>,
    /// Critical range, as given.
    pub crit: Option<String>,
    /// Minimum possible value.
    pub min: Option<String>,
    /// Maximum possible value.
    pub max: Option<String>,
}

impl fmt::Display for PerfDatum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let label = if self.label.contains(' ') {
            format!("'{}'", self.label)
        } else {
            self.label.to_owned()
        };
        let mut text = format!(
            "{label}={}{};{};{};{};{}",
            self.value,
            self.uom,
            opt(&self.warn),
            opt(&self.crit),
            opt(&self.min),
            opt(&self.max)
        );
        // Trailing empty fields may be dropped, and tools print them so.
        while text.ends_with(';') {
            text.pop();
        }
        f.write_str(&text)
    }
}

/// The performance data of a check, in a fixed order.
pub fn perfdata(c: &Counts, thresholds: &Thresholds) -> Vec<PerfDatum> {
    let count = |label, value: usize, max: usize| PerfDatum {
        label,
        value: value.to_string(),
        uom: "",
        warn: None,
        crit: None,
        min: Some("0".into()),
        max: Some(max.to_string()),
    };
    vec![
        count("nodes_up", c.nodes_up, c.nodes),
        count("modules_in_sync", c.modules_in_sync, c.modules),
        count("modules_diverged", c.modules_diverged, c.modules),
        count("modules_converging", c.modules_converging, c.modules),
        count("modules_stuck", c.modules_stuck, c.modules),
        PerfDatum {
            label: "poll_time",
            value: format!("{:.3}", c.poll_time_s()),
            uom: "s",
            warn: thresholds.warning.as_ref().map(Range::to_string),
            crit: thresholds.critical.as_ref().map(Range::to_string),
            min: Some("0".into()),
            max: None,
        },
    ]
}

/// Performance data as it follows `|`: items separated by single spaces.
pub fn perfdata_text(items: &[PerfDatum]) -> String {
    items
        .iter()
        .map(PerfDatum::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_follow_the_plugin_rules() {
        // 10: alert outside 0..10.
        assert!(!r("10").alerts(0.0) && !r("10").alerts(10.0));
        assert!(r("10").alerts(10.5) && r("10").alerts(-1.0));
        assert!(r("10:").alerts(9.9) && !r("10:").alerts(1e9));
        assert!(r("~:10").alerts(11.0) && !r("~:10").alerts(-1e9));
        assert!(r("10:20").alerts(9.0) && !r("10:20").alerts(15.0) && r("10:20").alerts(21.0));
        assert!(!r("@10:20").alerts(9.0) && r("@10:20").alerts(15.0));
        for bad in ["", "x", "20:10", "1:y", "nan", "@"] {
            assert!(bad.parse::<Range>().is_err(), "{bad:?}");
        }
        assert_eq!(r("~:2.5").to_string(), "~:2.5");
    }

    #[test]
    fn thresholds_judge_the_worst() {
        let t = Thresholds {
            warning: Some(r("1")),
            critical: Some(r("5")),
        };
        assert_eq!(t.judge(0.2), Severity::Ok);
        assert_eq!(t.judge(2.0), Severity::Warning);
        assert_eq!(t.judge(6.0), Severity::Critical);
        assert_eq!(Thresholds::default().judge(1e6), Severity::Ok);
    }

    fn converging(since_s: Option<u64>) -> Finding {
        Finding {
            severity: Severity::Warning,
            class: Class::Converging {
                puller: "node2".into(),
                source: "node1".into(),
                checks_left: 2,
                since_s,
            },
            module: Some(Module::MysqlQueryRules),
            node_to_act_on: None,
            why: "node2 will pull.".into(),
            fix: None,
        }
    }

    #[test]
    fn grace_forgives_only_young_convergence() {
        let out = apply_grace(
            vec![converging(Some(3)), converging(Some(30)), converging(None)],
            10,
        );
        let severities: Vec<Severity> = out.iter().map(|f| f.severity).collect();
        assert_eq!(
            severities,
            [Severity::Ok, Severity::Warning, Severity::Warning]
        );
        assert!(out[0].why.ends_with("(3 s old, within --grace 10 s.)"));
        assert_eq!(
            apply_grace(vec![converging(Some(3))], 0)[0].severity,
            Severity::Warning
        );
    }

    #[test]
    fn counts_and_perfdata() {
        let stuck = Finding {
            severity: Severity::Critical,
            class: Class::StuckVersionOne {
                node_to_act_on: "node1".into(),
                nodes_waiting: vec!["node2".into()],
            },
            module: Some(Module::MysqlUsers),
            node_to_act_on: Some("node1".into()),
            why: String::new(),
            fix: None,
        };
        let ok = Finding {
            severity: Severity::Ok,
            class: Class::InSync,
            module: Some(Module::AdminVariables),
            node_to_act_on: None,
            why: String::new(),
            fix: None,
        };
        let c = counts(&[], &[converging(Some(1)), stuck, ok]);
        assert_eq!(
            (c.modules, c.modules_in_sync, c.modules_diverged),
            (3, 1, 2)
        );
        assert_eq!((c.modules_converging, c.modules_stuck), (1, 1));
        let text = perfdata_text(&perfdata(
            &c,
            &Thresholds {
                warning: Some(r("2")),
                critical: None,
            },
        ));
        assert_eq!(
            text,
            "nodes_up=0;;;0;0 modules_in_sync=1;;;0;3 modules_diverged=2;;;0;3 modules_converging=1;;;0;3 modules_stuck=1;;;0;3 poll_time=0.000s;2;;0"
        );
    }
}
