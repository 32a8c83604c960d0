//! Snapshot tests: every view in every scenario state at 80×24 and 160×48, drawn into a test
//! buffer from hand-made snapshots (see `fixtures`). The `.snap` files under `snapshots/` are
//! committed; CI runs with `CI=true`, so a changed rendering fails instead of being written.

use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::fixtures::{self, Scenario};
use super::{render_to_buffer, Action, App, View};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// The buffer as plain text, one line per row, trailing blanks trimmed.
fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snap(name: &str, app: &App, (w, h): (u16, u16)) {
    let rendered = text(&render_to_buffer(app, w, h));
    insta::assert_snapshot!(format!("{name}_{w}x{h}"), rendered);
}

fn in_view(s: Scenario, view: View) -> App {
    let mut app = fixtures::app(s);
    app.select(view, Some("mysql_query_rules"), Some("node1"));
    app
}

#[test]
fn every_view_in_every_state() {
    for s in Scenario::ALL {
        // The traffic views depend on the stats tables, not on the sync state: see
        // `traffic_views_with_traffic`.
        for view in View::ALL.into_iter().filter(|v| !is_traffic(*v)) {
            let app = in_view(s, view);
            for size in SIZES {
                snap(
                    &format!("{}_{}", view.title().to_lowercase(), s.slug()),
                    &app,
                    size,
                );
            }
        }
    }
}

fn is_traffic(v: View) -> bool {
    matches!(
        v,
        View::Traffic | View::Hostgroups | View::Processlist | View::Digests | View::Stats
    )
}

/// Two readings of every traffic table from the fixture's nodes: node2 sees replica 2
/// SHUNNED, node1 does not; a long query runs on node2.
fn with_traffic(view: View) -> App {
    use crate::client::traffic::{
        CommandRow, DigestRow, ErrorRow, PoolRow, ProcessRow, RuleRow, TrafficData,
    };
    use crate::console::tui::traffic::counters;
    let mut app = in_view(Scenario::InSync, view);
    let n = app.nodes().len();
    let pool = |node: usize, queries: u64| {
        let mut rows = Vec::new();
        for (hg, port, status) in [
            (10, 23306, "ONLINE"),
            (20, 23307, "ONLINE"),
            (20, 23308, if node == 1 { "SHUNNED" } else { "ONLINE" }),
        ] {
            rows.push(PoolRow {
                hostgroup: hg,
                srv_host: "127.0.0.1".into(),
                srv_port: port,
                status: status.into(),
                conn_used: 1,
                conn_free: 4,
                conn_ok: 5,
                conn_err: u64::from(status == "SHUNNED") * 3,
                queries: queries * (node as u64 + 1),
                bytes_sent: queries * 50,
                bytes_recv: queries * 400,
                latency_us: 180 + port as u64 % 10,
            });
        }
        rows
    };
    let session = |id: u64, info: &str, time_ms: u64| ProcessRow {
        session_id: id,
        user: "svcusr".into(),
        db: "duhokim".into(),
        cli_host: "127.0.0.1".into(),
        cli_port: 50000 + id as u16,
        hostgroup: 20,
        srv_host: "127.0.0.1".into(),
        srv_port: 23307,
        command: if info.is_empty() { "Sleep" } else { "Query" }.into(),
        time_ms,
        info: info.into(),
    };
    let digest = |d: &str, text: &str, hg: i64, count: u64, sum: u64| DigestRow {
        hostgroup: hg,
        schemaname: "duhokim".into(),
        username: "svcusr".into(),
        digest: d.into(),
        digest_text: text.into(),
        count_star: count,
        first_seen: 1,
        last_seen: 2,
        sum_time: sum,
        min_time: sum / count / 2,
        max_time: sum / count * 3,
        sum_rows_affected: 0,
        sum_rows_sent: count,
    };
    let rules = vec![RuleRow {
        rule_id: 2,
        active: true,
        username: String::new(),
        schemaname: String::new(),
        digest: String::new(),
        match_digest: "^SELECT".into(),
        match_pattern: String::new(),
        negate: false,
        destination_hostgroup: Some(20),
        apply: true,
    }];
    // Commands: SELECTs mostly fast, a few slow; INSERTs on node1 only; BEGIN never.
    let commands = |node: usize, step: u64| {
        let k = node as u64 + 1;
        let row = |command: &str, spread: [u64; 12]| CommandRow {
            command: command.into(),
            total_time_us: spread
                .iter()
                .zip([
                    50, 300, 800, 3000, 8000, 30_000, 80_000, 300_000, 800_000, 3_000_000,
                    8_000_000, 20_000_000,
                ])
                .map(|(n, t)| n * t)
                .sum(),
            total_cnt: spread.iter().sum(),
            buckets: spread,
        };
        vec![
            row(
                "SELECT",
                [
                    300 * k + step,
                    40 * k,
                    9,
                    3,
                    1,
                    0,
                    0,
                    0,
                    0,
                    u64::from(node == 1),
                    0,
                    0,
                ],
            ),
            row(
                "INSERT",
                if node == 0 {
                    [0, 20 + step, 12, 4, 0, 0, 0, 0, 0, 0, 0, 0]
                } else {
                    [0; 12]
                },
            ),
            row("BEGIN", [0; 12]),
        ]
    };
    let error = |errno: i64, count: u64, last_seen: u64, msg: &str| ErrorRow {
        hostgroup: 20,
        hostname: "127.0.0.1".into(),
        port: 23308,
        username: "svcusr".into(),
        client_address: "127.0.0.1".into(),
        schemaname: "duhokim".into(),
        errno,
        count_star: count,
        first_seen: 1_700_000_000,
        last_seen,
        last_error: msg.into(),
    };
    for step in 0..4u64 {
        for node in 0..n {
            let k = node as u64 + 1;
            let at_ms = step * 2000;
            let feed = [
                TrafficData::Globals(counters(100 + step * 2, 1000 + step * 300 * k, 12 * k, 3)),
                TrafficData::Pool(pool(node, 100 + step * 40)),
                TrafficData::Processlist(vec![
                    session(k * 10, "", 1200),
                    session(
                        k * 10 + 1,
                        if node == 1 {
                            "SELECT SLEEP(30)"
                        } else {
                            "SELECT col2 FROM tab1 WHERE col1=7"
                        },
                        900 * k * k,
                    ),
                ]),
                TrafficData::Digests(
                    vec![
                        digest(
                            "0x1A2B3C4D5E6F7081",
                            "SELECT col2 FROM tab1 WHERE col1=?",
                            20,
                            400 * k,
                            90_000 * k,
                        ),
                        digest(
                            "0x9F8E7D6C5B4A3921",
                            "INSERT INTO tab1 (col2,col3) VALUES (?,NOW())",
                            10,
                            50 * k,
                            120_000 * k,
                        ),
                    ],
                    rules.clone(),
                ),
                TrafficData::Commands(commands(node, step)),
                TrafficData::Errors(if node == 1 {
                    vec![
                        error(
                            2013,
                            3,
                            1_700_000_300,
                            "Lost connection to MySQL server during query",
                        ),
                        error(
                            1146,
                            12,
                            1_700_000_100,
                            "Table 'duhokim.nope' doesn't exist",
                        ),
                    ]
                } else {
                    vec![error(
                        1146,
                        2,
                        1_700_000_200,
                        "Table 'duhokim.nope' doesn't exist",
                    )]
                }),
            ];
            for data in feed {
                app.update(Action::Traffic {
                    node,
                    at_ms,
                    data: Ok(data),
                });
            }
        }
    }
    app
}

fn key(c: char) -> Action {
    Action::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    ))
}

#[test]
fn traffic_views_with_traffic() {
    for view in View::ALL.into_iter().filter(|v| is_traffic(*v)) {
        let app = with_traffic(view);
        for size in SIZES {
            snap(
                &format!("{}_traffic", view.title().to_lowercase()),
                &app,
                size,
            );
        }
    }
    // The Stats view's second pane: errors, by count then by last_seen (o cycles).
    let mut app = with_traffic(View::Stats);
    app.update(key('o'));
    for size in SIZES {
        snap("stats_errors_by_count_traffic", &app, size);
    }
    app.update(key('o'));
    snap("stats_errors_by_last_seen_traffic", &app, (160, 48));
    app.update(key('o'));
    assert_eq!(
        app.traffic_target(),
        Some(crate::client::traffic::Table::Commands)
    );
    // Before any answer the views say they are waiting.
    snap(
        "processlist_waiting",
        &in_view(Scenario::InSync, View::Processlist),
        (80, 24),
    );
}

#[test]
fn kill_from_the_processlist_asks_then_runs_on_the_owning_node_and_is_refused_read_only() {
    use super::action::Effect;
    let key = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    let mut app = with_traffic(View::Processlist);
    // The longest-running session is node2's SLEEP: x asks first.
    assert!(app.update(key('x')).is_empty());
    for size in SIZES {
        snap("confirm_kill_connection", &app, size);
    }
    let effects = app.update(key('y'));
    let Some(Effect::Execute {
        nodes, statements, ..
    }) = effects.first()
    else {
        panic!("no statement ran: {effects:?}");
    };
    assert_eq!(nodes, &[1]);
    assert_eq!(statements, &["KILL CONNECTION 21".to_owned()]);
    // X: ProxySQL 2.7's admin port has no KILL QUERY (near "KILL": syntax error), so the
    // console says so and sends nothing rather than pretend.
    assert!(app.update(key('X')).is_empty());
    assert!(app.overlay.is_none());
    assert!(app.update(key('y')).is_empty());
    let status = app.status().map(|s| s.text.clone()).unwrap_or_default();
    assert!(status.contains("KILL QUERY"), "{status}");
    // Read-only refuses both before asking.
    let mut ro = with_traffic(View::Processlist);
    ro.read_only = true;
    assert!(ro.update(key('x')).is_empty());
    assert!(ro.update(key('y')).is_empty());
    assert!(ro.overlay.is_none());
}

#[test]
fn node_view_with_layers_their_findings_and_the_reseed_confirmation() {
    let key = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::SHIFT,
        ))
    };
    let mut app = in_view(Scenario::Stuck, View::Node);
    app.update(Action::Layers {
        node: 0,
        layers: Ok(fixtures::layers_node1()),
    });
    for size in SIZES {
        snap("node_layers_stuck", &app, size);
    }
    let mut diag = app.clone();
    diag.select(View::Diagnosis, None, None);
    snap("diagnosis_layers_stuck", &diag, (160, 48));
    app.update(key('S'));
    for size in SIZES {
        snap("confirm_reseed_stuck", &app, size);
    }
}

#[test]
fn matrix_inspection_at_80x24() {
    for s in Scenario::ALL {
        let mut app = in_view(s, View::Matrix);
        app.set_inspect(true);
        snap(&format!("inspect_{}", s.slug()), &app, (80, 24));
    }
}

#[test]
fn overlays() {
    let key = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    let mut app = in_view(Scenario::Stuck, View::Matrix);
    app.update(key('f'));
    for size in SIZES {
        snap("confirm_fix_stuck", &app, size);
    }
    let mut app = in_view(Scenario::Stuck, View::Matrix);
    app.update(key('?'));
    snap("help", &app, (80, 24));
    snap("help", &app, (160, 48));
    let mut app = in_view(Scenario::Stuck, View::Matrix);
    for c in ":lo".chars() {
        app.update(key(c));
    }
    snap("palette", &app, (80, 24));
}

#[test]
fn a_result_box_is_sized_to_its_text() {
    use super::action::{JobOutcome, NodeResult, StepResult};
    let key = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    let mut app = in_view(Scenario::Stuck, View::Matrix);
    app.update(key('f'));
    app.update(key('y'));
    let ok = |sql: &str| StepResult {
        sql: sql.into(),
        result: Ok(crate::client::conn::Outcome::default()),
    };
    app.update(Action::JobDone {
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
    for (w, h) in SIZES {
        let screen = text(&render_to_buffer(&app, w, h));
        let rows: Vec<&str> = screen.lines().collect();
        let top = rows
            .iter()
            .position(|l| l.contains("fix on node1: done"))
            .expect("the result box");
        let title_row: Vec<char> = rows[top].chars().collect();
        let title_at = rows[top].find("fix on node1").unwrap();
        let left = rows[top][..title_at].chars().count() - 2;
        assert_eq!(title_row[left], '╭', "{screen}");
        let bottom = rows[top + 1..]
            .iter()
            .position(|l| l.chars().nth(left) == Some('╰'))
            .map(|i| top + 1 + i)
            .expect("its bottom border");
        let right = title_row[left..].iter().position(|c| *c == '╮').unwrap();
        // Two result lines, a blank and "Esc closes": the box is that tall, and narrower than
        // the screen, so the matrix converging behind it stays in view.
        assert_eq!(bottom - top - 1, 4, "{screen}");
        assert!(right + 1 < usize::from(w) * 3 / 4, "{screen}");
        snap("fix_result_stuck", &app, (w, h));
    }
}

#[test]
fn the_active_filter_is_shown_in_the_header() {
    let press = |app: &mut App, code: crossterm::event::KeyCode| {
        app.update(Action::Key(crossterm::event::KeyEvent::new(
            code,
            crossterm::event::KeyModifiers::NONE,
        )));
    };
    let mut app = in_view(Scenario::Stuck, View::Matrix);
    press(&mut app, crossterm::event::KeyCode::Char('/'));
    for c in "servers".chars() {
        press(&mut app, crossterm::event::KeyCode::Char(c));
    }
    press(&mut app, crossterm::event::KeyCode::Enter);
    assert_eq!(app.filter, "servers");
    for size in SIZES {
        let header = text(&render_to_buffer(&app, size.0, size.1));
        let first = header.lines().next().unwrap_or_default().to_owned();
        assert!(first.contains("filter: servers"), "{first}");
        snap("filtered_stuck", &app, size);
    }
}

#[test]
fn failover_drill_from_confirmation_to_report() {
    use super::action::Effect;
    use super::drill::tests::{kill_sequence, report};
    use super::drill::DrillRequest;

    let key = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    let mut app = in_view(Scenario::InSync, View::Ha);
    for size in SIZES {
        snap("ha_before_drill", &app, size);
    }
    app.update(key('D'));
    snap("confirm_drill", &app, (80, 24));
    assert_eq!(
        app.update(key('y')),
        vec![Effect::Drill(DrillRequest::default())]
    );
    // Mid-outage: the holder was killed and writes fail.
    let events = kill_sequence(true);
    let cut = events
        .iter()
        .position(|e| {
            matches!(
                e.kind,
                crate::console::drill::EventKind::WritesResumed { .. }
            )
        })
        .unwrap()
        - 5;
    for e in &events[..cut] {
        app.update(Action::Drill(e.clone()));
    }
    for size in SIZES {
        snap("ha_drill_outage", &app, size);
    }
    for e in &events[cut..] {
        app.update(Action::Drill(e.clone()));
    }
    app.update(Action::DrillDone(Ok(Box::new(report()))));
    for size in SIZES {
        snap("ha_drill_finished", &app, size);
    }
    // The events view lists the drill's steps.
    app.select(View::Events, None, None);
    snap("events_after_drill", &app, (160, 48));
}

#[test]
fn too_small_says_so() {
    let app = fixtures::app(Scenario::Stuck);
    snap("too_small", &app, (50, 12));
}

#[test]
fn cells_are_coloured_by_state() {
    let app = in_view(Scenario::Stuck, View::Matrix);
    let theme = app.theme().clone();
    let buf = render_to_buffer(&app, 160, 48);
    // Find the row of mysql_servers and the columns of its two cells by their glyphs.
    let rows = text(&buf);
    let y = rows
        .lines()
        .position(|l| l.contains("mysql_servers "))
        .unwrap() as u16;
    let line: Vec<&str> = (0..160).map(|x| buf[(x, y)].symbol()).collect();
    let act = line.iter().position(|s| *s == "▶").unwrap() as u16;
    let wait = line.iter().position(|s| *s == "…").unwrap() as u16;
    assert_eq!(buf[(act, y)].fg, theme.colors.critical, "node1: act here");
    assert_eq!(buf[(wait, y)].fg, theme.colors.warning, "node2: waiting");
    let y = rows
        .lines()
        .position(|l| l.contains("mysql_users"))
        .unwrap() as u16;
    let x = (0..160)
        .find(|x| buf[(*x, y)].symbol() == "✓" && *x > 20)
        .unwrap();
    assert_eq!(buf[(x, y)].fg, theme.colors.ok);
    // The high-contrast theme changes colours, not glyphs.
    let mut hc = app.clone();
    for _ in 0..2 {
        hc.update(Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('t'),
            crossterm::event::KeyModifiers::NONE,
        )));
    }
    assert_eq!(hc.theme().name, "high-contrast");
    let hb = render_to_buffer(&hc, 160, 48);
    let y = rows
        .lines()
        .position(|l| l.contains("mysql_servers "))
        .unwrap() as u16;
    let line = |t: &str| t.lines().nth(y as usize).unwrap_or("").to_owned();
    assert_eq!(line(&text(&hb)), line(&rows), "same glyphs and text");
    assert_eq!(hb[(act, y)].fg, hc.theme().colors.critical);
    assert_eq!(hb[(act, y)].fg, Color::Rgb(0xd5, 0x5e, 0x00));
}

/// A 50-node cluster: only the columns that fit are laid out, the selected node stays in
/// view, and the title says which slice is shown (a full 51-column layout took minutes).
#[test]
fn matrix_with_fifty_nodes_shows_a_window_of_columns() {
    let nodes: Vec<_> = (1..=50)
        .map(|i| {
            super::ConsoleNode::plain(crate::client::conn::NodeAddr {
                name: format!("node{i}"),
                host: "127.0.0.1".into(),
                port: 16000 + i,
                user: "admin".into(),
                password: "admin".into(),
            })
        })
        .collect();
    let mut app = super::App::new(nodes, super::fixtures::options());
    app.select(super::View::Matrix, None, Some("node42"));
    let buf = super::render_to_buffer(&app, 160, 48);
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("of 50"), "no window title");
    assert!(text.contains("node42"), "the selected node is not shown");
    assert!(
        !text.contains("node1 "),
        "the first node should have scrolled out"
    );
}

/// A ProxySQL 3.x node answers `runtime_checksums_values` with four more modules
/// (`pgsql_query_rules`, `pgsql_servers`, `pgsql_users`, `pgsql_variables`, in the order 3.0
/// lists them after `proxysql_servers`). The client parses them like any row and the matrix
/// shows each as a row of its own, compared across nodes like the 2.7 modules, instead of
/// failing the poll.
#[test]
fn proxysql_3_modules_are_matrix_rows() {
    use crate::proxysql::resultset::ResultSet;
    // What a 3.x node returns, by position (name, version, epoch, checksum).
    let answer = |pgsql_users: &str| {
        ResultSet::literal(
            &["name", "version", "epoch", "checksum"],
            &[
                &[
                    Some("pgsql_query_rules"),
                    Some("2"),
                    Some("1728014600"),
                    Some("0x3F1D2A0B9C8E7D6A"),
                ],
                &[
                    Some("pgsql_servers"),
                    Some("2"),
                    Some("1728014600"),
                    Some("0x0000000000000000"),
                ],
                &[
                    Some("pgsql_users"),
                    Some("3"),
                    Some("1728014650"),
                    Some(pgsql_users),
                ],
                &[
                    Some("pgsql_variables"),
                    Some("1"),
                    Some("1728014500"),
                    Some("0x9B3E4F5A6B7C8D9E"),
                ],
            ],
        )
    };
    let mut app = super::App::new(fixtures::console_nodes(), fixtures::options());
    for (node, mut snapshot) in fixtures::snapshots(Scenario::InSync)
        .into_iter()
        .enumerate()
    {
        // node2 holds other pgsql users: a 3.x module can differ like any other.
        let users = if node == 0 {
            "0x1111111111111111"
        } else {
            "0x2222222222222222"
        };
        let extra = crate::client::queries::parse_runtime_checksums(&answer(users))
            .expect("3.x rows parse");
        if let Ok(data) = snapshot.result.as_mut() {
            data.checksums.extend(extra);
        }
        app.update(Action::Tick(fixtures::T + 1));
        app.update(Action::Snapshot { node, snapshot });
    }
    app.select(View::Matrix, Some("pgsql_users"), Some("node1"));
    let names: Vec<&str> = app.matrix().rows.iter().map(|r| r.name.as_str()).collect();
    for m in [
        "pgsql_query_rules",
        "pgsql_servers",
        "pgsql_users",
        "pgsql_variables",
    ] {
        assert!(names.contains(&m), "{m} is not a row: {names:?}");
    }
    let users = app
        .matrix()
        .rows
        .iter()
        .find(|r| r.name == "pgsql_users")
        .expect("pgsql_users row");
    assert!(
        users.module.is_none(),
        "an unknown module carries no 2.7 sync rule"
    );
    assert!(
        !users.in_sync,
        "two different pgsql_users checksums are not in sync"
    );
    let rules = app
        .matrix()
        .rows
        .iter()
        .find(|r| r.name == "pgsql_query_rules")
        .expect("pgsql_query_rules row");
    assert!(
        rules.in_sync,
        "equal pgsql_query_rules checksums are in sync"
    );
    for size in SIZES {
        snap("matrix_proxysql_3_modules", &app, size);
    }
}
