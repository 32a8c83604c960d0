//! The node view: peers, backends with pool statistics, users (passwords masked), query rules
//! with hits, the variables that differ between nodes, and the cluster settings.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::common::{grid, heading, pane, GridCell};
use super::WIDE;
use crate::client::detail::NodeDetail;
use crate::console::diagnosis::Severity;
use crate::console::tui::app::{App, NodeState};
use crate::console::tui::detail::{differing_variables, NodeDetailRows};
use crate::console::tui::keymap::Command;
use crate::console::tui::layers::LayerState;
use crate::console::tui::model::{self, Reach};
use crate::console::tui::theme::Theme;

/// Draws the node view.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme();
    let Some(node) = app.selected_node() else {
        frame.render_widget(Paragraph::new("no nodes").block(pane("Node", theme)), area);
        return;
    };
    let title = title(app, node);
    let block = pane(title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let scroll = app.scroll(crate::console::tui::action::View::Node);
    if area.width >= WIDE {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .spacing(2)
            .areas(inner);
        let w = l.width as usize;
        let mut left = status_lines(app, node);
        left.extend(layers(app, node, w));
        left.extend(peers(app, node, w));
        left.extend(backends(app, w));
        left.extend(users(app, w));
        let mut right = rules(app, r.width as usize);
        right.extend(variables(app, r.width as usize));
        right.extend(cluster_settings(app, node, r.width as usize));
        render_scrolled(frame, left, l, scroll);
        render_scrolled(frame, right, r, scroll);
    } else {
        let w = inner.width as usize;
        let mut doc = status_lines(app, node);
        doc.extend(layers(app, node, w));
        doc.extend(peers(app, node, w));
        doc.extend(backends(app, w));
        doc.extend(users(app, w));
        doc.extend(rules(app, w));
        doc.extend(variables(app, w));
        doc.extend(cluster_settings(app, node, w));
        render_scrolled(frame, doc, inner, scroll);
    }
}

fn render_scrolled(frame: &mut Frame, lines: Vec<Line<'static>>, area: Rect, scroll: usize) {
    let max = lines.len().saturating_sub(area.height as usize);
    let start = scroll.min(max);
    frame.render_widget(Paragraph::new(lines[start..].to_vec()), area);
}

fn title(app: &App, node: &NodeState) -> String {
    let mut t = format!("{} · {}", node.name(), node.addr.endpoint());
    if let Some(d) = node.snapshot.as_ref().and_then(|s| s.data()) {
        t += &format!(" · ProxySQL {}", d.version);
    }
    if node.managed {
        t += " · started by pxadm";
    }
    let n = app.nodes().len();
    if n > 1 {
        t += &format!(" · {}/{n}", app.selected_node_index() + 1);
    }
    t
}

fn status_lines(app: &App, node: &NodeState) -> Vec<Line<'static>> {
    let theme = app.theme();
    let mut out = Vec::new();
    match Reach::of(node.snapshot.as_ref()) {
        Reach::Up => {
            if let Some(s) = &node.snapshot {
                out.push(Line::from(Span::styled(
                    format!(
                        "● answering · polled {} ago in {} ms",
                        model::age_since(app.now, s.fetched_at),
                        s.elapsed_ms
                    ),
                    theme.severity(Severity::Ok),
                )));
                for note in s.data().map(|d| d.notes.clone()).unwrap_or_default() {
                    out.push(Line::from(Span::styled(
                        format!("  note: {note}"),
                        theme.muted(),
                    )));
                }
            }
        }
        Reach::Pending => out.push(Line::from(Span::styled("? not polled yet", theme.muted()))),
        Reach::Refused => out.push(Line::from(Span::styled(
            "⊘ refuses the console's login: check the user and password configured for it",
            theme.severity(Severity::Critical),
        ))),
        Reach::Down(cause) => {
            let since = node
                .down_since
                .map(|t| format!(" for {}", model::age_since(app.now, t)))
                .unwrap_or_default();
            out.push(Line::from(Span::styled(
                format!("✗ not answering{since}: {cause}"),
                theme.severity(Severity::Critical),
            )));
            if let Some(Ok(d)) = app.detail() {
                out.push(Line::from(Span::styled(
                    format!(
                        "  tables below as last read at {}",
                        model::clock(d.fetched_at, app.tz)
                    ),
                    theme.severity(Severity::Warning),
                )));
            }
        }
    }
    out.push(Line::raw(""));
    out
}

fn section(title: &str, theme: &Theme, mut body: Vec<Line<'static>>) -> Vec<Line<'static>> {
    let mut out = vec![heading(title, theme)];
    out.append(&mut body);
    out.push(Line::raw(""));
    out
}

fn note(text: impl Into<String>, theme: &Theme) -> Vec<Line<'static>> {
    vec![Line::from(Span::styled(
        format!("  {}", text.into()),
        theme.muted(),
    ))]
}

fn indent(lines: Vec<Line<'static>>) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .map(|mut l| {
            l.spans.insert(0, Span::raw("  "));
            l
        })
        .collect()
}

/// Per module, whether MEMORY, RUNTIME and DISK agree (rows settled in `App::update`).
fn layers(app: &App, node: &NodeState, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Layers · MEMORY (M) · RUNTIME (R) · DISK (D)";
    let view = match &node.layers {
        None if app.is_replay() => return section(title, theme, note(NOT_RECORDED, theme)),
        None => return section(title, theme, note("reading…", theme)),
        Some(LayerState::Failed { error, at }) => {
            return section(
                title,
                theme,
                note(
                    format!("unreadable at {}: {error}", model::clock(*at, app.tz)),
                    theme,
                ),
            )
        }
        Some(LayerState::Read(v)) => v,
    };
    let rows: Vec<Vec<GridCell>> = view
        .rows
        .iter()
        .map(|r| {
            vec![
                (r.module.to_owned(), theme.base()),
                (r.summary.clone(), theme.severity(r.severity)),
                (r.tables.clone(), theme.muted()),
            ]
        })
        .collect();
    let mut body = indent(grid(
        &["module", "layers", "differing tables"],
        &rows,
        width.saturating_sub(2),
        theme,
    ));
    body.push(Line::from(Span::styled(
        format!(
            "  read at {} · {} re-seeds this node",
            model::clock(view.layers.fetched_at, app.tz),
            app.keymap().label(Command::Reseed)
        ),
        theme.muted(),
    )));
    for n in &view.layers.notes {
        body.extend(note(format!("note: {n}"), theme));
    }
    section(title, theme, body)
}

fn peers(app: &App, node: &NodeState, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Peers · runtime_proxysql_servers + stats_proxysql_servers_metrics";
    let Some(data) = node.snapshot.as_ref().and_then(|s| s.data()) else {
        return section(
            title,
            theme,
            note("unknown while the node does not answer", theme),
        );
    };
    let Some(servers) = &data.proxysql_servers else {
        return section(
            title,
            theme,
            note("runtime_proxysql_servers unreadable", theme),
        );
    };
    if servers.is_empty() {
        return section(
            title,
            theme,
            note("none: this node is not in a cluster", theme),
        );
    }
    let b = theme.base();
    let rows: Vec<Vec<GridCell>> = servers
        .iter()
        .map(|p| {
            let m = data
                .peer_metrics
                .iter()
                .flatten()
                .find(|m| m.hostname == p.hostname && m.port == p.port);
            let (up, check, q) = match m {
                Some(m) => (
                    model::age(m.uptime_s),
                    if m.last_check_ms > 86_400_000 {
                        "never".into()
                    } else {
                        format!("{} ms", m.last_check_ms)
                    },
                    m.queries.to_string(),
                ),
                None => ("?".into(), "?".into(), "?".into()),
            };
            let stale = m.is_some_and(|m| m.last_check_ms > 10_000);
            vec![
                (format!("{}:{}", p.hostname, p.port), b),
                (p.comment.clone(), b),
                (up, b),
                (
                    check,
                    if stale {
                        theme.severity(Severity::Critical)
                    } else {
                        b
                    },
                ),
                (q, b),
            ]
        })
        .collect();
    section(
        title,
        theme,
        indent(grid(
            &["peer", "comment", "uptime", "last check", "queries"],
            &rows,
            width.saturating_sub(2),
            theme,
        )),
    )
}

fn detail_or<'a>(app: &'a App, theme: &Theme) -> Result<&'a NodeDetail, Vec<Line<'static>>> {
    match app.detail() {
        Some(Ok(d)) => Ok(d),
        Some(Err(e)) => Err(note(format!("unreadable: {e}"), theme)),
        None if app.is_replay() => Err(note(NOT_RECORDED, theme)),
        None => Err(note("loading…", theme)),
    }
}

fn backends(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Backends · runtime_mysql_servers + stats_mysql_connection_pool";
    let d = match detail_or(app, theme) {
        Ok(d) => d,
        Err(lines) => return section(title, theme, lines),
    };
    match d.server_rows() {
        Err(e) => section(title, theme, note(format!("unreadable: {e}"), theme)),
        Ok(rows) if rows.is_empty() => section(title, theme, note("no servers", theme)),
        Ok(rows) => {
            let b = theme.base();
            let cells: Vec<Vec<GridCell>> = rows
                .into_iter()
                .map(|r| {
                    let sev = match r.status.as_str() {
                        "ONLINE" => Severity::Ok,
                        "OFFLINE_SOFT" => Severity::Warning,
                        _ => Severity::Critical,
                    };
                    vec![
                        (r.hostgroup, b),
                        (r.endpoint, b),
                        (r.status, theme.severity(sev)),
                        (r.weight, b),
                        (r.conns, b),
                        (r.ok_err, b),
                        (r.queries, b),
                        (r.latency_ms, b),
                    ]
                })
                .collect();
            section(
                title,
                theme,
                indent(grid(
                    &[
                        "hg",
                        "server",
                        "status",
                        "wt",
                        "used/free",
                        "ok/err",
                        "queries",
                        "lat ms",
                    ],
                    &cells,
                    width.saturating_sub(2),
                    theme,
                )),
            )
        }
    }
}

fn users(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Users · runtime_mysql_users (passwords masked)";
    let d = match detail_or(app, theme) {
        Ok(d) => d,
        Err(lines) => return section(title, theme, lines),
    };
    let rs = match &d.users {
        Ok(rs) => rs,
        Err(e) => return section(title, theme, note(format!("unreadable: {e}"), theme)),
    };
    if rs.rows.is_empty() {
        return section(title, theme, note("no users", theme));
    }
    let b = theme.base();
    let col = |row: &[Option<String>], name: &str| {
        rs.column_index(name)
            .and_then(|i| row.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let rows: Vec<Vec<GridCell>> = rs
        .rows
        .iter()
        .map(|r| {
            let pw = match col(r, "password").as_str() {
                "" => "(none)".to_owned(),
                _ => "********".to_owned(),
            };
            let fe_be = format!("{}/{}", col(r, "frontend"), col(r, "backend"));
            vec![
                (col(r, "username"), b),
                (pw, theme.muted()),
                (col(r, "active"), b),
                (col(r, "default_hostgroup"), b),
                (fe_be, b),
                (col(r, "max_connections"), b),
            ]
        })
        .collect();
    section(
        title,
        theme,
        indent(grid(
            &["user", "password", "active", "def hg", "fe/be", "max conns"],
            &rows,
            width.saturating_sub(2),
            theme,
        )),
    )
}

fn rules(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Query rules · runtime_mysql_query_rules + hits";
    let d = match detail_or(app, theme) {
        Ok(d) => d,
        Err(lines) => return section(title, theme, lines),
    };
    match d.rule_rows() {
        Err(e) => section(title, theme, note(format!("unreadable: {e}"), theme)),
        Ok(rows) if rows.is_empty() => section(title, theme, note("no rules", theme)),
        Ok(rows) => {
            let b = theme.base();
            let cells: Vec<Vec<GridCell>> = rows
                .into_iter()
                .filter(|r| {
                    app.filter.is_empty()
                        || r.matches
                            .to_lowercase()
                            .contains(&app.filter.to_lowercase())
                })
                .map(|r| {
                    vec![
                        (r.id, b),
                        (r.active, b),
                        (r.user, b),
                        (r.destination, b),
                        (r.apply, b),
                        (r.hits, theme.accent()),
                        (r.matches, b),
                    ]
                })
                .collect();
            section(
                title,
                theme,
                indent(grid(
                    &["id", "on", "user", "→hg", "apply", "hits", "match"],
                    &cells,
                    width.saturating_sub(2),
                    theme,
                )),
            )
        }
    }
}

/// What a replay says where the live console reads tables on demand.
const NOT_RECORDED: &str =
    "not in the recording: it keeps the polls (checksums, peer views, cluster variables, VRRP)";

fn variables(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Variables that differ between nodes · runtime_global_variables";
    let per_node: Vec<Option<&std::collections::BTreeMap<String, String>>> = app
        .nodes()
        .iter()
        .map(|n| n.variables.as_ref().and_then(|v| v.as_ref().ok()))
        .collect();
    let read = per_node.iter().filter(|v| v.is_some()).count();
    if read == 0 && app.is_replay() {
        return section(title, theme, note(NOT_RECORDED, theme));
    }
    if read == 0 {
        return section(title, theme, note("loading…", theme));
    }
    if read < 2 {
        return section(
            title,
            theme,
            note("only one node could be read: nothing to compare", theme),
        );
    }
    let diff: Vec<_> = differing_variables(&per_node)
        .into_iter()
        .filter(|d| app.filter.is_empty() || d.name.contains(&app.filter))
        .collect();
    if diff.is_empty() {
        return section(
            title,
            theme,
            note(
                format!("none: the {read} nodes read agree on every variable"),
                theme,
            ),
        );
    }
    let b = theme.base();
    let mut headers: Vec<&str> = vec!["variable"];
    headers.extend(app.nodes().iter().map(NodeState::name));
    let rows: Vec<Vec<GridCell>> = diff
        .into_iter()
        .map(|d| {
            let mut row = vec![(d.name, b)];
            row.extend(d.values.into_iter().map(|v| match v {
                Some(v) => (v, theme.severity(Severity::Warning)),
                None => ("—".into(), theme.muted()),
            }));
            row
        })
        .collect();
    section(
        title,
        theme,
        indent(grid(&headers, &rows, width.saturating_sub(2), theme)),
    )
}

fn cluster_settings(app: &App, node: &NodeState, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme();
    let title = "Cluster settings · admin-cluster_% at runtime";
    let Some(vars) = node
        .snapshot
        .as_ref()
        .and_then(|s| s.data())
        .and_then(|d| d.cluster_variables.as_ref())
    else {
        return section(title, theme, note("unknown", theme));
    };
    let b = theme.base();
    let rows: Vec<Vec<GridCell>> = vars
        .iter()
        .filter(|(k, _)| k.starts_with("admin-cluster"))
        .filter(|(k, _)| app.filter.is_empty() || k.contains(&app.filter))
        .map(|(k, v)| {
            let style = if k.ends_with("_diffs_before_sync") && v == "0" {
                theme.severity(Severity::Warning)
            } else {
                b
            };
            vec![
                (k.trim_start_matches("admin-").to_owned(), theme.muted()),
                (v.clone(), style),
            ]
        })
        .collect();
    section(
        title,
        theme,
        indent(grid(
            &["variable", "value"],
            &rows,
            width.saturating_sub(2),
            theme,
        )),
    )
}
