use super::*;
use crate::client::conn::{ClientError, Outcome};
use crate::console::tui::action::{NodeResult, StepResult};
use crate::console::tui::fixtures::{self, Scenario};
use crossterm::event::KeyEventState;

fn key(code: KeyCode) -> Action {
    let modifiers = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    Action::Key(KeyEvent {
        code,
        modifiers,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

fn ch(c: char) -> Action {
    key(KeyCode::Char(c))
}

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(ch(c));
    }
}

fn confirm_of(app: &App) -> &Confirm {
    match app.overlay() {
        Some(Overlay::Confirm(c)) => c,
        other => panic!("no confirmation: {other:?}"),
    }
}

fn read_only_app(s: Scenario) -> App {
    let mut app = App::new(
        fixtures::console_nodes(),
        AppOptions {
            read_only: true,
            ..fixtures::options()
        },
    );
    for (node, snapshot) in fixtures::snapshots(s).into_iter().enumerate() {
        app.update(Action::Snapshot { node, snapshot });
    }
    app
}

#[test]
fn q_quits_and_ctrl_c_quits_from_anywhere() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch(':'));
    typed(&mut app, "q");
    assert!(!app.should_quit(), "q typed into the palette is text");
    app.update(ctrl('c'));
    assert!(app.should_quit());
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch('q'));
    assert!(app.should_quit());
}

#[test]
fn navigation_clamps_rows_and_wraps_nodes() {
    let mut app = fixtures::app(Scenario::Stuck);
    assert_eq!(app.selected_module(), Some("admin_variables"));
    app.update(key(KeyCode::Up));
    assert_eq!(app.selected_module_index(), 0);
    for _ in 0..20 {
        app.update(ch('j'));
    }
    assert_eq!(app.selected_module(), Some("mysql_servers_v2"));
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.selected_module_index(), 0);
    assert_eq!(app.selected_node_index(), 0);
    app.update(key(KeyCode::Left));
    assert_eq!(app.selected_node_index(), 1, "wraps to the last node");
    app.update(ch('l'));
    assert_eq!(app.selected_node_index(), 0);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.view(), View::Diagnosis);
    app.update(key(KeyCode::BackTab));
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.view(), View::Stats);
    assert_eq!(
        app.traffic_target(),
        Some(crate::client::traffic::Table::Commands),
        "the commands counters are read only while the Stats view is on screen"
    );
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.view(), View::Digests);
    assert_eq!(
        app.traffic_target(),
        Some(crate::client::traffic::Table::Digests),
        "the digests are read only while their view is on screen"
    );
    app.update(key(KeyCode::BackTab));
    app.update(key(KeyCode::BackTab));
    app.update(key(KeyCode::BackTab));
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.view(), View::Events);
    assert_eq!(app.traffic_target(), None);
    app.update(ch('3'));
    assert_eq!(app.view(), View::Node);
    assert_eq!(app.detail_target(), Some(0));
    app.update(ch('1'));
    assert_eq!(
        app.detail_target(),
        None,
        "detail is fetched only for the node view"
    );
}

#[test]
fn stuck_fix_key_applies_every_fix_on_node1_after_confirmation() {
    let mut app = fixtures::app(Scenario::Stuck);
    // admin_variables is selected and in sync: the key falls back to every fix.
    assert!(app.update(ch('f')).is_empty());
    let c = confirm_of(&app);
    assert_eq!(c.ops.len(), 1);
    assert_eq!(
        c.ops[0],
        Op::Sql {
            nodes: vec![0],
            statements: vec![
                "LOAD MYSQL QUERY RULES TO RUNTIME".into(),
                "LOAD MYSQL SERVERS TO RUNTIME".into()
            ],
            label: "fix on node1".into(),
        }
    );
    assert!(
        c.lines[0].starts_with("On node1 (192.168.0.11:6032)"),
        "{:?}",
        c.lines
    );
    // Other keys do not dismiss the question.
    assert!(app.update(ch('x')).is_empty());
    let effects = app.update(ch('y'));
    assert_eq!(
        effects,
        [Effect::Execute {
            job: 1,
            nodes: vec![0],
            statements: vec![
                "LOAD MYSQL QUERY RULES TO RUNTIME".into(),
                "LOAD MYSQL SERVERS TO RUNTIME".into()
            ],
        }]
    );
    assert!(app.overlay().is_none());
    assert_eq!(app.status().unwrap().text, "running: fix on node1");

    let ok = |sql: &str| StepResult {
        sql: sql.into(),
        result: Ok(Outcome::default()),
    };
    let effects = app.update(Action::JobDone {
        job: 1,
        outcome: JobOutcome::Sql(vec![NodeResult {
            node: "node1".into(),
            steps: vec![
                ok("LOAD MYSQL QUERY RULES TO RUNTIME"),
                ok("LOAD MYSQL SERVERS TO RUNTIME"),
            ],
            error: None,
        }]),
    });
    assert_eq!(effects, [Effect::PollNow], "the result is polled at once");
    match app.overlay() {
        Some(Overlay::Result { title, lines, .. }) => {
            assert_eq!(title, "fix on node1: done");
            assert_eq!(
                lines[0].text,
                "node1: LOAD MYSQL QUERY RULES TO RUNTIME → OK"
            );
        }
        other => panic!("{other:?}"),
    }
    let last = app.events().iter().last().unwrap();
    assert_eq!(
        (last.kind, last.text.as_str()),
        (EventKind::Action, "fix on node1: done")
    );
    assert!(app.running.is_empty());
}

#[test]
fn the_selected_module_fix_comes_first_and_no_cancels() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.select(View::Matrix, Some("mysql_servers_v2"), Some("node2"));
    app.update(ch('f'));
    assert_eq!(
        confirm_of(&app).ops,
        [Op::Sql {
            nodes: vec![0],
            statements: vec!["LOAD MYSQL SERVERS TO RUNTIME".into()],
            label: "fix on node1".into()
        }],
        "the fix acts on node1 whatever node is selected"
    );
    assert!(app.update(ch('n')).is_empty());
    assert!(app.overlay().is_none());
    assert_eq!(app.status().unwrap().text, "cancelled");
}

#[test]
fn in_sync_has_nothing_to_fix() {
    let mut app = fixtures::app(Scenario::InSync);
    app.update(ch('f'));
    assert!(app.overlay().is_none());
    assert!(app.status().unwrap().text.starts_with("nothing to fix"));
    app.update(ch('2'));
    app.update(ch('f'));
    assert!(app
        .status()
        .unwrap()
        .text
        .starts_with("no fix to apply for: in sync"));
}

#[test]
fn reload_and_faults_ask_first() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.select(View::Matrix, Some("mysql_query_rules"), Some("node2"));
    app.update(ch('L'));
    let c = confirm_of(&app);
    assert_eq!(c.title, "Reload mysql_query_rules");
    assert_eq!(
        c.ops,
        [Op::Sql {
            nodes: vec![1],
            statements: vec!["LOAD MYSQL QUERY RULES TO RUNTIME".into()],
            label: "LOAD MYSQL QUERY RULES TO RUNTIME on node2".into()
        }]
    );
    app.update(key(KeyCode::Esc));
    app.update(ch('K'));
    let c = confirm_of(&app);
    assert!(
        c.lines.iter().any(|l| l.contains("SIGKILL")),
        "node2 is managed: {:?}",
        c.lines
    );
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::Inject {
            job: 1,
            node: 1,
            fault: Fault::Kill
        }]
    );
    app.update(Action::JobDone {
        job: 1,
        outcome: JobOutcome::Fault(Err("no such process".into())),
    });
    let s = app.status().unwrap();
    assert_eq!(
        (s.text.as_str(), s.severity),
        ("Kill node2: FAILED: no such process", Severity::Critical)
    );
    // An unmanaged node is killed through its admin interface.
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Left));
    app.update(ch('K'));
    assert!(confirm_of(&app)
        .lines
        .iter()
        .any(|l| l.contains("PROXYSQL KILL")));
    for (k, fault) in [
        ('Z', Fault::Freeze),
        ('T', Fault::Thaw),
        ('P', Fault::Pause),
        ('U', Fault::Resume),
        ('R', Fault::Restart),
    ] {
        app.update(key(KeyCode::Esc));
        app.update(ch(k));
        assert!(
            matches!(&confirm_of(&app).ops[0], Op::Fault { fault: f, .. } if *f == fault),
            "{k}"
        );
    }
}

#[test]
fn read_only_disables_every_action() {
    let mut app = read_only_app(Scenario::Stuck);
    for k in ['f', 'L', 'K', 'Z', 'T', 'P', 'U', 'R', 'D'] {
        assert!(app.update(ch(k)).is_empty());
        assert!(app.overlay().is_none(), "{k}");
        assert!(app.status().unwrap().text.starts_with("read-only"), "{k}");
    }
    for line in [
        "load users",
        "drill tuned",
        "kill node1",
        "fix",
        "sql node1 LOAD MYSQL USERS TO RUNTIME",
        "sql all SELECT 1; DELETE FROM mysql_users",
    ] {
        app.update(ch(':'));
        typed(&mut app, line);
        assert!(app.update(key(KeyCode::Enter)).is_empty(), "{line}");
        assert!(app.overlay().is_none(), "{line}");
        assert!(
            app.status().unwrap().text.starts_with("read-only"),
            "{line}"
        );
    }
    // Reading is not an action: it runs at once, without a question.
    app.update(ch(':'));
    typed(&mut app, "sql all SELECT * FROM runtime_checksums_values");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::Execute {
            job: 1,
            nodes: vec![0, 1],
            statements: vec!["SELECT * FROM runtime_checksums_values".into()]
        }]
    );
}

#[test]
fn palette_commands() {
    let mut app = fixtures::app(Scenario::Stuck);
    let run = |app: &mut App, line: &str| {
        app.update(ch(':'));
        typed(app, line);
        app.update(key(KeyCode::Enter))
    };
    run(&mut app, "theme light");
    assert_eq!(app.theme().name, "light");
    run(&mut app, "theme");
    assert_eq!(app.theme().name, "high-contrast");
    app.update(ch('t'));
    assert_eq!(app.theme().name, "dark");
    run(&mut app, "theme neon");
    assert!(app.status().unwrap().text.contains("no theme 'neon'"));
    run(&mut app, "view events");
    assert_eq!(app.view(), View::Events);
    run(&mut app, "refresh 5");
    assert_eq!(app.refresh(), Duration::from_secs(5));
    run(&mut app, "bogus");
    assert!(app.status().unwrap().text.starts_with("unknown command"));
    run(&mut app, "load mysql users all");
    assert_eq!(
        confirm_of(&app).ops,
        [Op::Sql {
            nodes: vec![0, 1],
            statements: vec!["LOAD MYSQL USERS TO RUNTIME".into()],
            label: "LOAD MYSQL USERS TO RUNTIME on node1, node2".into()
        }]
    );
    app.update(key(KeyCode::Esc));
    // Writes ask first; reads run at once.
    run(&mut app, "sql node2 PROXYSQL PAUSE");
    assert_eq!(confirm_of(&app).title, "Run admin SQL");
    app.update(key(KeyCode::Esc));
    let effects = run(&mut app, "sql SHOW TABLES");
    assert!(matches!(&effects[..], [Effect::Execute { nodes, .. }] if nodes == &[0]));
    // Tab completes a unique command; Esc abandons the line.
    app.update(ch(':'));
    typed(&mut app, "fr");
    app.update(key(KeyCode::Tab));
    match app.overlay() {
        Some(Overlay::Input { editor, .. }) => assert_eq!(editor.text(), "freeze "),
        other => panic!("{other:?}"),
    }
    app.update(key(KeyCode::Esc));
    assert!(app.overlay().is_none());
    run(&mut app, "quit");
    assert!(app.should_quit());
}

#[test]
fn results_show_rows_and_errors() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch(':'));
    typed(
        &mut app,
        "sql all SELECT name, version FROM runtime_checksums_values",
    );
    let effects = app.update(key(KeyCode::Enter));
    let Effect::Execute { job, .. } = effects[0] else {
        panic!()
    };
    let rs = ResultSet::literal(&["name", "version"], &[&[Some("admin_variables"), None]]);
    app.update(Action::JobDone {
        job,
        outcome: JobOutcome::Sql(vec![
            NodeResult {
                node: "node1".into(),
                steps: vec![StepResult {
                    sql: "SELECT name, version FROM runtime_checksums_values".into(),
                    result: Ok(Outcome {
                        result: rs,
                        ..Outcome::default()
                    }),
                }],
                error: None,
            },
            NodeResult {
                node: "node2".into(),
                steps: Vec::new(),
                error: Some(
                    ClientError::Io {
                        cause: "Connection refused".into(),
                    }
                    .to_string(),
                ),
            },
        ]),
    });
    let Some(Overlay::Result { lines, title, .. }) = app.overlay() else {
        panic!()
    };
    assert!(title.ends_with("FAILED"), "{title}");
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "node1: SELECT name, version FROM runtime_checksums_values → 1 rows",
            "  name             version",
            "  admin_variables  NULL",
            "node2: connection failed: Connection refused",
        ]
    );
    // Scroll keys move, Esc closes.
    app.update(ch('j'));
    assert!(matches!(
        app.overlay(),
        Some(Overlay::Result { scroll: 1, .. })
    ));
    app.update(key(KeyCode::Esc));
    assert!(app.overlay().is_none());
}

#[test]
fn refresh_steps() {
    let mut app = fixtures::app(Scenario::Stuck);
    assert_eq!(app.refresh(), Duration::from_secs(1));
    app.update(ch('+'));
    assert_eq!(app.refresh(), Duration::from_millis(500));
    app.update(ch('='));
    app.update(ch('+'));
    assert_eq!(
        app.refresh(),
        Duration::from_millis(250),
        "the fastest step holds"
    );
    for _ in 0..20 {
        app.update(ch('-'));
    }
    assert_eq!(app.refresh(), Duration::from_secs(60));
    assert_eq!(app.status().unwrap().text, "polling every 60s");
    assert_eq!(app.update(ch('r')), [Effect::PollNow]);
}

#[test]
fn filter_narrows_rows_live_and_esc_restores() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch('/'));
    typed(&mut app, "serv");
    assert_eq!(
        app.visible_modules(),
        ["mysql_servers", "proxysql_servers", "mysql_servers_v2"]
    );
    app.update(key(KeyCode::Enter));
    assert_eq!(app.filter, "serv");
    app.update(ch('/'));
    typed(&mut app, "xyz");
    assert!(app.visible_modules().is_empty());
    app.update(key(KeyCode::Esc));
    assert_eq!(
        app.filter, "serv",
        "Esc restores the filter from before editing"
    );
    app.update(ch('2'));
    assert!(app
        .visible_findings()
        .iter()
        .all(|f| f.module.is_some_and(|m| m.name().contains("serv"))));
    app.update(key(KeyCode::Esc));
    assert_eq!(app.filter, "", "Back clears the filter");
}

#[test]
fn enter_on_a_finding_shows_its_cell() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch('2'));
    let f = app.selected_finding().unwrap();
    assert_eq!(f.severity, Severity::Critical);
    app.update(key(KeyCode::Enter));
    assert_eq!(app.view(), View::Matrix);
    assert!(app.inspect);
    assert_eq!(app.selected_module(), Some("mysql_query_rules"));
    assert_eq!(app.selected_node().unwrap().name(), "node1");
    app.update(key(KeyCode::Esc));
    assert!(!app.inspect);
}

#[test]
fn a_fix_with_a_placeholder_opens_the_palette_to_edit() {
    // Scenario step 3: node2 lacks the cluster user; node1 has never checked it.
    let mut snaps = fixtures::snapshots(Scenario::InSync);
    if let Ok(d) = &mut snaps[1].result {
        d.admin_users = Some(vec!["admin".into()]);
    }
    if let Ok(d) = &mut snaps[0].result {
        for r in d
            .peer_checksums
            .iter_mut()
            .flatten()
            .filter(|r| r.hostname == "192.168.0.12")
        {
            r.state.updated_at = 0;
        }
    }
    let mut app = App::new(fixtures::console_nodes(), fixtures::options());
    for (node, snapshot) in snaps.into_iter().enumerate() {
        app.update(Action::Snapshot { node, snapshot });
    }
    app.update(ch('f'));
    match app.overlay() {
        Some(Overlay::Input {
            kind: InputKind::Palette,
            editor,
            ..
        }) => {
            assert!(
                editor
                    .text()
                    .starts_with("sql node2 UPDATE global_variables"),
                "{}",
                editor.text()
            );
            assert!(editor.text().contains("<password of cluster_user>"));
            assert!(editor
                .text()
                .ends_with("; LOAD ADMIN VARIABLES TO RUNTIME; SAVE ADMIN VARIABLES TO DISK"));
        }
        other => panic!("{other:?}"),
    }
    assert!(app.status().unwrap().text.contains("fill in"));
}

#[test]
fn polls_become_events_history_and_vip_moves() {
    let app = fixtures::app(Scenario::Killed);
    let texts: Vec<&str> = app.events().iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"node1 down: connection refused"),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&"VIP 192.168.0.20 now held by node1"),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&"VIP 192.168.0.20 moved node1 → node2")
            || texts.iter().any(|t| t.contains("now held by node2")),
        "{texts:#?}"
    );
    let n1 = &app.nodes()[0];
    assert_eq!(n1.history.back(), Some(&false));
    assert_eq!(n1.down_since, Some(fixtures::T + 1));
    assert_eq!(
        n1.ha,
        HaInfo::Unknown,
        "an unreachable node holds nothing we can trust"
    );
    assert_eq!(app.vip_holders()["192.168.0.20"].as_deref(), Some("node2"));

    let conv = fixtures::app(Scenario::InSync);
    let syncs = conv
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Sync)
        .count();
    assert_eq!(syncs, 3, "node2 pulled three modules");
}

#[test]
fn help_opens_and_closes_and_ticks_expire_the_status() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(ch('?'));
    assert!(matches!(app.overlay(), Some(Overlay::Help { .. })));
    app.update(key(KeyCode::PageDown));
    assert!(matches!(app.overlay(), Some(Overlay::Help { scroll: 10 })));
    app.update(ch('?'));
    assert!(app.overlay().is_none());
    app.update(ch('+'));
    assert!(app.status().is_some());
    app.update(Action::Tick(fixtures::T + 60));
    assert!(app.status().is_none());
}

#[test]
fn options_from_settings_report_bad_keys_and_themes() {
    let mut settings = ConsoleSettings {
        refresh: Duration::from_millis(10),
        theme: "light".into(),
        read_only: true,
        keys: BTreeMap::new(),
    };
    let o =
        AppOptions::from_settings(&settings, ThemeSet::builtin(), 5, chrono::Utc.fix()).unwrap();
    assert_eq!(
        (o.theme.name.as_str(), o.read_only, o.refresh),
        ("light", true, palette::MIN_REFRESH)
    );
    settings.keys.insert("kill".into(), "q".into());
    let e = AppOptions::from_settings(&settings, ThemeSet::builtin(), 5, chrono::Utc.fix())
        .unwrap_err();
    assert_eq!(e.to_string(), "keys.kill: 'q' is also bound to quit");
    settings.keys.clear();
    settings.theme = "neon".into();
    let e = AppOptions::from_settings(&settings, ThemeSet::builtin(), 5, chrono::Utc.fix())
        .unwrap_err();
    assert!(
        e.to_string().starts_with("theme neon: no such theme"),
        "{e}"
    );
}

#[test]
fn one_drill_at_a_time_and_its_end_is_reported() {
    use crate::console::tui::drill::tests::report;
    use crate::console::tui::drill::DrillRequest;

    let mut app = fixtures::app(Scenario::InSync);
    app.update(ch(':'));
    typed(&mut app, "drill pause tuned");
    app.update(key(KeyCode::Enter));
    let request = DrillRequest {
        profile: crate::console::drill::Profile::Tuned,
        fault: crate::console::drill::Fault::Pause,
    };
    assert!(matches!(app.overlay(), Some(Overlay::Confirm(c)) if c.ops == [Op::Drill(request)]));
    assert_eq!(app.update(ch('y')), vec![Effect::Drill(request)]);
    assert_eq!(app.view(), View::Ha, "the HA view follows the drill");
    assert!(app.drill().unwrap().running());

    // A second drill is refused while the first runs.
    assert!(app.update(ch('D')).is_empty());
    assert!(app.overlay().is_none());
    assert_eq!(
        app.status().unwrap().text,
        "a failover drill is already running"
    );

    // The end: status, event log, a fresh poll.
    assert_eq!(
        app.update(Action::DrillDone(Ok(Box::new(report())))),
        vec![Effect::PollNow]
    );
    assert!(!app.drill().unwrap().running());
    assert_eq!(
        app.status().unwrap().text,
        "drill finished: every acknowledged INSERT (31) is on the primary"
    );
    assert!(app
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Drill && e.text.contains("every acknowledged INSERT")));

    // Once finished, another may start.
    app.update(ch('D'));
    assert!(matches!(app.overlay(), Some(Overlay::Confirm(_))));
}

fn with_node1_layers(s: Scenario) -> App {
    let mut app = fixtures::app(s);
    app.select(View::Node, None, Some("node1"));
    app.update(Action::Layers {
        node: 0,
        layers: Ok(fixtures::layers_node1()),
    });
    app
}

fn kinds_on(app: &App, node: &str) -> Vec<&'static str> {
    app.findings()
        .iter()
        .filter_map(|f| match &f.class {
            Class::Config { kind, node: n, .. } if n == node => Some(kind.name()),
            _ => None,
        })
        .collect()
}

#[test]
fn layers_are_read_only_for_the_node_view_and_feed_the_diagnosis() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.select(View::Matrix, None, Some("node2"));
    assert_eq!(app.layers_target(), None);
    app.update(ch('3'));
    assert_eq!(app.layers_target(), Some(1));
    assert!(kinds_on(&app, "node1").is_empty());
    let app = with_node1_layers(Scenario::Stuck);
    let kinds = kinds_on(&app, "node1");
    assert!(kinds.contains(&"runtime_not_saved"), "{kinds:?}");
    assert!(kinds.contains(&"memory_not_loaded"), "{kinds:?}");
    let rows = match &app.nodes()[0].layers {
        Some(LayerState::Read(v)) => &v.rows,
        other => panic!("layers not settled: {other:?}"),
    };
    let summary = |m: &str| {
        rows.iter()
            .find(|r| r.module == m)
            .map(|r| r.summary.clone())
    };
    assert_eq!(
        summary("MYSQL QUERY RULES").as_deref(),
        Some("M=R · R≠D 1 row")
    );
    assert_eq!(summary("MYSQL SERVERS").as_deref(), Some("M≠R 1 row · R=D"));
    assert_eq!(summary("MYSQL USERS").as_deref(), Some("M=R=D"));
}

#[test]
fn a_failed_layer_read_is_kept_with_its_error_and_adds_no_finding() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.update(Action::Layers {
        node: 0,
        layers: Err("connection refused".into()),
    });
    assert!(matches!(
        &app.nodes()[0].layers,
        Some(LayerState::Failed { error, .. }) if error == "connection refused"
    ));
    assert!(kinds_on(&app, "node1").is_empty());
    // An index the console does not know is ignored.
    app.update(Action::Layers {
        node: 9,
        layers: Err("x".into()),
    });
}

#[test]
fn reseed_asks_with_every_statement_then_runs_them_in_order_on_the_node() {
    let mut app = with_node1_layers(Scenario::Stuck);
    assert!(app.update(ch('S')).is_empty());
    let confirm = confirm_of(&app).clone();
    assert_eq!(confirm.title, "Re-seed node1");
    // node1 restarted from DISK: four modules at version 1 are loaded; the two whose DISK
    // lacks what will run (a rule loaded but not saved, a server only in MEMORY) are saved.
    let expected: Vec<String> = [
        "LOAD ADMIN VARIABLES TO RUNTIME",
        "LOAD MYSQL QUERY RULES TO RUNTIME",
        "LOAD MYSQL SERVERS TO RUNTIME",
        "LOAD PROXYSQL SERVERS TO RUNTIME",
        "SAVE MYSQL QUERY RULES TO DISK",
        "SAVE MYSQL SERVERS TO DISK",
    ]
    .map(str::to_owned)
    .to_vec();
    for sql in &expected {
        assert!(
            confirm.lines.iter().any(|l| l.contains(sql.as_str())),
            "{sql} not listed: {:?}",
            confirm.lines
        );
    }
    let effects = app.update(ch('y'));
    let Some(Effect::Execute {
        job,
        nodes,
        statements,
    }) = effects.first()
    else {
        panic!("nothing ran: {effects:?}");
    };
    assert_eq!(nodes, &[0]);
    assert_eq!(statements, &expected);
    // The result forgets the layers read before the change (they are unknown now).
    let job = *job;
    app.update(Action::JobDone {
        job,
        outcome: JobOutcome::Sql(vec![NodeResult {
            node: "node1".into(),
            steps: expected
                .iter()
                .map(|sql| StepResult {
                    sql: sql.clone(),
                    result: Ok(Outcome::default()),
                })
                .collect(),
            error: None,
        }]),
    });
    assert!(app.nodes()[0].layers.is_none());
    assert!(kinds_on(&app, "node1").is_empty());
    // A read taken before the change (in flight while it ran) is dropped; a later one is not.
    app.update(Action::Layers {
        node: 0,
        layers: Ok(fixtures::layers_node1()),
    });
    assert!(app.nodes()[0].layers.is_none());
    let mut later = fixtures::layers_node1();
    later.fetched_at = app.now + 1;
    app.update(Action::Layers {
        node: 0,
        layers: Ok(later),
    });
    assert!(app.nodes()[0].layers.is_some());
    assert!(app
        .status()
        .is_some_and(|s| s.text == "re-seed node1: done"));
}

#[test]
fn reseed_is_refused_read_only_and_in_a_replay_and_says_when_there_is_nothing_to_do() {
    let mut ro = with_node1_layers(Scenario::Stuck);
    ro.read_only = true;
    assert!(ro.update(ch('S')).is_empty());
    assert!(ro.overlay().is_none());
    assert!(ro.status().is_some_and(|s| s.text.contains("read-only")));
    typed(&mut ro, ":reseed node1");
    assert!(ro.update(key(KeyCode::Enter)).is_empty());
    assert!(ro.overlay().is_none());
    assert!(ro.status().is_some_and(|s| s.text.contains("read-only")));

    let mut replay = with_node1_layers(Scenario::Stuck);
    replay.set_replay(true);
    assert!(replay.update(ch('S')).is_empty());
    assert!(replay.overlay().is_none());

    // Not polled yet: nothing to build a plan from.
    let mut app = App::new(fixtures::console_nodes(), fixtures::options());
    assert!(app.update(ch('S')).is_empty());
    assert!(app.overlay().is_none());
    assert!(app
        .status()
        .is_some_and(|s| s.text == "node1 not polled yet: nothing to re-seed from"));
}

#[test]
fn the_palette_reseeds_a_named_node() {
    let mut app = fixtures::app(Scenario::Stuck);
    app.select(View::Matrix, None, Some("node2"));
    typed(&mut app, ":reseed node1");
    app.update(key(KeyCode::Enter));
    let confirm = confirm_of(&app);
    assert_eq!(confirm.title, "Re-seed node1");
    // Without the layers read, only the LOADs, and a note saying why.
    assert!(confirm
        .lines
        .iter()
        .any(|l| l.contains("were not read: no SAVE")));
    assert!(matches!(
        confirm.ops.as_slice(),
        [Op::Sql { nodes, statements, .. }]
            if nodes == &[0] && statements.iter().all(|s| s.starts_with("LOAD ")) && statements.len() == 4
    ));
    typed(&mut app, "n");
    typed(&mut app, ":reseed all");
    app.update(key(KeyCode::Enter));
    assert!(app.overlay().is_none());
    assert!(app.status().is_some_and(|s| s.text.contains("one node")));
}
