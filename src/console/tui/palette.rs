//! The `:` command palette: parsing what the operator typed into a command. Pure.

use std::time::Duration;

use super::action::View;
use super::contract::Fault;
use super::drill::DrillRequest;
use crate::console::drill::Profile;
use crate::proxysql::cluster::state::Module;
use crate::proxysql::statement::split_statements;

/// Which nodes a command addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The node selected in the views.
    Selected,
    /// One node by name.
    Node(String),
    /// Every node.
    All,
}

/// A parsed palette command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteCommand {
    /// Admin SQL, one or more `;`-separated statements, run in order on one connection.
    Sql {
        /// Where.
        target: Target,
        /// The statements.
        statements: Vec<String>,
    },
    /// `LOAD <module> TO RUNTIME`.
    Load {
        /// Which module.
        module: Module,
        /// Where.
        target: Target,
    },
    /// A fault on one node.
    Fault {
        /// Which fault.
        fault: Fault,
        /// Where (`All` is refused by the parser: faults are one node at a time).
        target: Target,
    },
    /// Run a failover drill.
    Drill(DrillRequest),
    /// Switch theme (`None`: the next one).
    Theme(Option<String>),
    /// Set the poll interval.
    Refresh(Duration),
    /// Show a view.
    View(View),
    /// Set (or with empty text clear) the filter.
    Filter(String),
    /// Apply the diagnosis's fix.
    Fix,
    /// Show the help.
    Help,
    /// Leave.
    Quit,
    /// Re-seed one node (`All` is refused by the parser: one authoritative node).
    Reseed(Target),
}

/// `(usage, description)` of every palette command, for the help and completion.
pub const COMMANDS: [(&str, &str); 18] = [
    (
        "sql [NODE|all] STATEMENT[; ...]",
        "run admin SQL (SELECT results are shown)",
    ),
    (
        "load MODULE [NODE|all]",
        "LOAD <MODULE> TO RUNTIME (e.g. load mysql query rules)",
    ),
    ("fix", "apply the diagnosis's fix"),
    (
        "reseed [NODE]",
        "make a node authoritative: LOAD modules at version 1, SAVE what DISK lacks",
    ),
    ("kill [NODE]", "kill a node"),
    ("freeze [NODE]", "freeze a node (SIGSTOP)"),
    ("thaw [NODE]", "thaw a frozen node (SIGCONT)"),
    ("pause [NODE]", "PROXYSQL PAUSE"),
    ("resume [NODE]", "PROXYSQL RESUME"),
    ("restart [NODE]", "restart a node"),
    (
        "drill [kill|pause] [scenario|tuned]",
        "failover drill on its own VIP nodes (default: kill, scenario timing)",
    ),
    ("theme [NAME]", "switch theme (next one without a name)"),
    ("refresh SECONDS", "poll interval, e.g. refresh 0.5"),
    ("view matrix|diagnosis|node|ha|events", "show a view"),
    ("filter [TEXT]", "filter rows (clear without text)"),
    ("help", "show the help"),
    ("quit", "leave the console"),
    ("q", "leave the console"),
];

/// Palette commands whose usage starts with what was typed so far.
pub fn completions(typed: &str) -> Vec<(&'static str, &'static str)> {
    let word = typed.split_whitespace().next().unwrap_or("");
    COMMANDS
        .iter()
        .filter(|(usage, _)| *usage != "q" && usage.starts_with(word))
        .copied()
        .collect()
}

/// Shortest poll interval accepted.
pub const MIN_REFRESH: Duration = Duration::from_millis(100);
/// Longest poll interval accepted.
pub const MAX_REFRESH: Duration = Duration::from_secs(3600);

/// Parses one palette line. `nodes` are the node names, to tell a target from SQL.
pub fn parse(line: &str, nodes: &[&str]) -> Result<PaletteCommand, String> {
    let line = line.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    let target_of = |text: &str| -> Result<Target, String> {
        match text {
            "" => Ok(Target::Selected),
            "all" => Ok(Target::All),
            n if nodes.contains(&n) => Ok(Target::Node(n.to_owned())),
            n => Err(format!("no node named '{n}' (nodes: {})", nodes.join(", "))),
        }
    };
    match word.to_ascii_lowercase().as_str() {
        "" => Err("type a command; :help lists them".into()),
        "sql" => {
            let (target, sql) = match rest.split_once(char::is_whitespace) {
                Some((first, more)) if first == "all" || nodes.contains(&first) => {
                    (target_of(first)?, more)
                }
                _ => (Target::Selected, rest),
            };
            let statements = split_statements(sql);
            if statements.is_empty() {
                return Err(
                    "sql needs a statement, e.g. sql all SELECT * FROM runtime_checksums_values"
                        .into(),
                );
            }
            Ok(PaletteCommand::Sql { target, statements })
        }
        "load" => {
            let mut words: Vec<&str> = rest.split_whitespace().collect();
            let mut target = Target::Selected;
            if let Some(last) = words.last() {
                if *last == "all" || nodes.contains(last) {
                    target = target_of(last)?;
                    words.pop();
                }
            }
            let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
            let mut lower: Vec<&str> = lower.iter().map(String::as_str).collect();
            if lower.ends_with(&["to", "runtime"]) {
                lower.truncate(lower.len() - 2);
            }
            let module = module_from_words(&lower).ok_or_else(|| {
                format!(
                    "load needs a module: {}",
                    Module::ALL.map(Module::name).join(", ")
                )
            })?;
            Ok(PaletteCommand::Load { module, target })
        }
        w @ ("kill" | "freeze" | "thaw" | "pause" | "resume" | "restart") => {
            let fault = match w {
                "kill" => Fault::Kill,
                "freeze" => Fault::Freeze,
                "thaw" => Fault::Thaw,
                "pause" => Fault::Pause,
                "resume" => Fault::Resume,
                _ => Fault::Restart,
            };
            if rest == "all" {
                return Err(format!("{w} works on one node at a time"));
            }
            Ok(PaletteCommand::Fault {
                fault,
                target: target_of(rest)?,
            })
        }
        "drill" => parse_drill(rest).map(PaletteCommand::Drill),
        "theme" => Ok(PaletteCommand::Theme(
            (!rest.is_empty()).then(|| rest.to_owned()),
        )),
        "refresh" => parse_interval(rest).map(PaletteCommand::Refresh),
        "view" => View::from_name(rest)
            .map(PaletteCommand::View)
            .ok_or_else(|| "view needs one of: matrix, diagnosis, node, ha, events".into()),
        "filter" => Ok(PaletteCommand::Filter(rest.to_owned())),
        "fix" => Ok(PaletteCommand::Fix),
        "reseed" => {
            if rest == "all" {
                return Err("reseed makes one node authoritative: name one (reseed NODE)".into());
            }
            Ok(PaletteCommand::Reseed(target_of(rest)?))
        }
        "help" | "?" => Ok(PaletteCommand::Help),
        "quit" | "q" | "exit" => Ok(PaletteCommand::Quit),
        other => Err(format!("unknown command '{other}'; :help lists them")),
    }
}

/// `drill` arguments, in any order: a fault (`kill`, `pause`) and a timing (`scenario`,
/// `tuned`).
fn parse_drill(rest: &str) -> Result<DrillRequest, String> {
    let mut request = DrillRequest::default();
    for word in rest.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "kill" => request.fault = Fault::Kill,
            "pause" => request.fault = Fault::Pause,
            "scenario" => request.profile = Profile::Scenario,
            "tuned" => request.profile = Profile::Tuned,
            other => {
                return Err(format!(
                    "drill: unknown '{other}' (drill [kill|pause] [scenario|tuned])"
                ))
            }
        }
    }
    Ok(request)
}

/// A module from `mysql_query_rules`, `mysql query rules`, `query_rules`, `servers`...
fn module_from_words(words: &[&str]) -> Option<Module> {
    let joined = words.join("_");
    if joined.is_empty() {
        return None;
    }
    Module::from_name(&joined)
        .or_else(|| Module::from_name(&format!("mysql_{joined}")))
        .or(match joined.as_str() {
            "admin" => Some(Module::AdminVariables),
            "proxysql" => Some(Module::ProxysqlServers),
            "servers_v2" | "mysql_servers_v2" => Some(Module::MysqlServersV2),
            _ => None,
        })
}

/// `2`, `0.5`, `500ms`, `2s`.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let d = if let Some(ms) = t.strip_suffix("ms") {
        ms.trim().parse::<u64>().ok().map(Duration::from_millis)
    } else {
        t.strip_suffix('s')
            .unwrap_or(t)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    match d {
        Some(d) if (MIN_REFRESH..=MAX_REFRESH).contains(&d) => Ok(d),
        Some(_) => Err(format!(
            "refresh must be between {} ms and {} s",
            MIN_REFRESH.as_millis(),
            MAX_REFRESH.as_secs()
        )),
        None => Err(format!("'{t}' is not an interval (e.g. 2, 0.5, 500ms)")),
    }
}

/// True for statements that only read (allowed in read-only mode, no confirmation needed).
pub fn is_read_only(statement: &str) -> bool {
    let first = statement
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "SHOW" | "DESCRIBE" | "DESC")
}

/// True when a fix statement holds a `<placeholder>` only the operator can fill in.
pub fn has_placeholder(statement: &str) -> bool {
    statement
        .find('<')
        .is_some_and(|i| statement[i..].contains('>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: [&str; 2] = ["node1", "node2"];

    fn p(line: &str) -> Result<PaletteCommand, String> {
        parse(line, &NODES)
    }

    #[test]
    fn drill_takes_a_fault_and_a_timing_in_any_order() {
        assert_eq!(
            p("drill"),
            Ok(PaletteCommand::Drill(DrillRequest::default()))
        );
        assert_eq!(
            p("drill tuned pause"),
            Ok(PaletteCommand::Drill(DrillRequest {
                profile: Profile::Tuned,
                fault: Fault::Pause,
            }))
        );
        assert_eq!(
            p("drill fast"),
            Err("drill: unknown 'fast' (drill [kill|pause] [scenario|tuned])".into())
        );
    }

    #[test]
    fn sql_targets() {
        assert_eq!(
            p("sql all SELECT 1; SELECT 2").unwrap(),
            PaletteCommand::Sql {
                target: Target::All,
                statements: vec!["SELECT 1".into(), "SELECT 2".into()]
            }
        );
        assert_eq!(
            p("sql node2 PROXYSQL PAUSE").unwrap(),
            PaletteCommand::Sql {
                target: Target::Node("node2".into()),
                statements: vec!["PROXYSQL PAUSE".into()]
            }
        );
        assert_eq!(
            p("sql SELECT * FROM runtime_checksums_values").unwrap(),
            PaletteCommand::Sql {
                target: Target::Selected,
                statements: vec!["SELECT * FROM runtime_checksums_values".into()]
            }
        );
        assert!(p("sql").is_err());
        assert!(p("sql all ;").is_err());
    }

    #[test]
    fn load_accepts_proxysql_phrasing() {
        for (line, module, target) in [
            (
                "load mysql_query_rules",
                Module::MysqlQueryRules,
                Target::Selected,
            ),
            (
                "load MYSQL QUERY RULES TO RUNTIME node1",
                Module::MysqlQueryRules,
                Target::Node("node1".into()),
            ),
            ("load servers all", Module::MysqlServers, Target::All),
            (
                "load admin variables",
                Module::AdminVariables,
                Target::Selected,
            ),
            (
                "load proxysql servers",
                Module::ProxysqlServers,
                Target::Selected,
            ),
            ("load users", Module::MysqlUsers, Target::Selected),
        ] {
            assert_eq!(
                p(line).unwrap(),
                PaletteCommand::Load { module, target },
                "{line}"
            );
        }
        assert!(p("load").unwrap_err().contains("admin_variables"));
        assert!(p("load things").is_err());
    }

    #[test]
    fn faults_and_others() {
        assert_eq!(
            p("kill node1").unwrap(),
            PaletteCommand::Fault {
                fault: Fault::Kill,
                target: Target::Node("node1".into())
            }
        );
        assert_eq!(
            p("freeze").unwrap(),
            PaletteCommand::Fault {
                fault: Fault::Freeze,
                target: Target::Selected
            }
        );
        assert!(p("kill all").unwrap_err().contains("one node at a time"));
        assert!(p("kill node9")
            .unwrap_err()
            .contains("no node named 'node9'"));
        assert_eq!(
            p("theme light").unwrap(),
            PaletteCommand::Theme(Some("light".into()))
        );
        assert_eq!(p("theme").unwrap(), PaletteCommand::Theme(None));
        assert_eq!(
            p("refresh 0.5").unwrap(),
            PaletteCommand::Refresh(Duration::from_millis(500))
        );
        assert_eq!(
            p("refresh 250ms").unwrap(),
            PaletteCommand::Refresh(Duration::from_millis(250))
        );
        assert_eq!(
            p("refresh 2s").unwrap(),
            PaletteCommand::Refresh(Duration::from_secs(2))
        );
        assert!(p("refresh 0").is_err());
        assert!(p("refresh soon").is_err());
        assert!(p("refresh -1").is_err());
        assert_eq!(p("view ha").unwrap(), PaletteCommand::View(View::Ha));
        assert_eq!(
            p("filter users").unwrap(),
            PaletteCommand::Filter("users".into())
        );
        assert_eq!(p("q").unwrap(), PaletteCommand::Quit);
        assert_eq!(p("fix").unwrap(), PaletteCommand::Fix);
        assert_eq!(
            p("reseed").unwrap(),
            PaletteCommand::Reseed(Target::Selected)
        );
        assert_eq!(
            p("reseed node2").unwrap(),
            PaletteCommand::Reseed(Target::Node("node2".into()))
        );
        assert!(p("reseed all").unwrap_err().contains("one node"));
        assert!(p("reseed nope").unwrap_err().contains("no node named"));
        assert!(p("frobnicate")
            .unwrap_err()
            .contains("unknown command 'frobnicate'"));
        assert!(p("   ").is_err());
    }

    #[test]
    fn statements_split_outside_quotes() {
        let fix = "UPDATE global_variables SET variable_value = variable_value || ';cluster_user:x' WHERE variable_name = 'admin-admin_credentials'; LOAD ADMIN VARIABLES TO RUNTIME;SAVE ADMIN VARIABLES TO DISK";
        let parts = split_statements(fix);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].ends_with("'admin-admin_credentials'"));
        assert_eq!(
            split_statements("SELECT 'a;''b'; SELECT \"c;\""),
            ["SELECT 'a;''b'", "SELECT \"c;\""]
        );
        assert_eq!(split_statements("SELECT 'x\\';y'"), ["SELECT 'x\\';y'"]);
    }

    #[test]
    fn a_semicolon_in_a_comment_or_string_does_not_split() {
        assert_eq!(
            p("sql all SELECT 1 /* a; b */; SELECT ';' -- c; d").unwrap(),
            PaletteCommand::Sql {
                target: Target::All,
                statements: vec!["SELECT 1".into(), "SELECT ';'".into()]
            }
        );
    }

    #[test]
    fn read_only_and_placeholders() {
        assert!(is_read_only("  select 1"));
        assert!(is_read_only("SHOW TABLES"));
        assert!(is_read_only("SELECT(1)"));
        assert!(!is_read_only("LOAD MYSQL USERS TO RUNTIME"));
        assert!(!is_read_only("PROXYSQL KILL"));
        assert!(has_placeholder("x || ';u:<password of u>'"));
        assert!(!has_placeholder("a < b"));
    }

    #[test]
    fn completion_by_prefix() {
        let c = completions("re");
        let usages: Vec<&str> = c.iter().map(|(u, _)| *u).collect();
        assert_eq!(
            usages,
            [
                "reseed [NODE]",
                "resume [NODE]",
                "restart [NODE]",
                "refresh SECONDS"
            ]
        );
        assert_eq!(completions("").len(), COMMANDS.len() - 1);
    }
}
