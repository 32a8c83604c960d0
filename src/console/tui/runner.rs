//! The console loop: input, poll results and job results arrive as actions; each is applied
//! to the [`App`]; the effects it returns are started as tasks; then one frame is drawn.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::action::{Action, Effect};
use super::app::App;
use super::contract::{Fault, FaultInjector};
use super::poller::{self, Signals};
use super::term::{self, InputThread, TerminalGuard};
use super::ui;
use crate::console::recording::writer::Writer;
use crate::proxysql::clock::unix_now;

/// Actions applied in one go at most before the loop looks at the clock again.
const BATCH: usize = 256;
/// Shortest time between two frames: fast enough to feel instant on a key press, slow enough
/// that 50 nodes answering one after another cost a few frames, not fifty.
const FRAME: Duration = Duration::from_millis(40);

/// Runs the console on the real terminal until the operator quits; with `record`, every
/// poll on its way to the screen is also written to that recording.
pub(super) async fn run(
    app: App,
    faults: Arc<dyn FaultInjector>,
    record: Option<Writer>,
) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::enter()?;
    let (tx, rx) = mpsc::channel::<Action>(1024);
    // With a recording, everything sent to the console passes the recorder's tap first.
    let (tx, recorder) = match record {
        Some(writer) => {
            let (tap_tx, tap_rx) = mpsc::channel::<Action>(1024);
            let task = tokio::spawn(crate::console::recording::record::tap(writer, tap_rx, tx));
            (tap_tx, Some(task))
        }
        None => (tx, None),
    };
    let input = InputThread::spawn(tx.clone())?;
    let result = drive(app, faults, tx, rx, |app| {
        guard.terminal().draw(|f| ui::draw(f, app))?;
        Ok(())
    })
    .await;
    input.stop();
    drop(guard);
    if let Some(task) = recorder {
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(summary))) => eprintln!("pxadm console: {summary}"),
            Ok(Ok(Err(e))) => eprintln!("pxadm console: {e}"),
            _ => eprintln!("pxadm console: the recorder did not finish writing"),
        }
    }
    result.map(|_| ())
}

/// The loop itself, with drawing left to `draw` (the terminal, or a test buffer): starts the
/// background tasks, applies actions until the app quits, stops the tasks, returns the app.
pub(super) async fn drive(
    mut app: App,
    faults: Arc<dyn FaultInjector>,
    tx: mpsc::Sender<Action>,
    mut rx: mpsc::Receiver<Action>,
    mut draw: impl FnMut(&App) -> anyhow::Result<()>,
) -> anyhow::Result<App> {
    let cancel = CancellationToken::new();
    let (refresh_tx, refresh_rx) = watch::channel(app.refresh());
    let (detail_tx, detail_rx) = watch::channel(app.detail_target());
    let (traffic_tx, traffic_rx) = watch::channel(app.traffic_target());
    let (layers_tx, layers_rx) = watch::channel(app.layers_target());
    let signals = Signals {
        refresh: refresh_rx,
        poke: Arc::new(Notify::new()),
        cancel: cancel.clone(),
    };
    let addrs: Vec<_> = app.nodes().iter().map(|n| n.addr.clone()).collect();
    let mut tasks = JoinSet::new();
    poller::spawn_pollers(&mut tasks, &addrs, &tx, &signals);
    poller::spawn_detail(
        &mut tasks,
        addrs.clone(),
        tx.clone(),
        detail_rx,
        signals.clone(),
    );
    poller::spawn_traffic(
        &mut tasks,
        addrs.clone(),
        tx.clone(),
        traffic_rx,
        signals.clone(),
    );
    poller::spawn_layers(
        &mut tasks,
        addrs.clone(),
        tx.clone(),
        layers_rx,
        signals.clone(),
    );
    for (i, n) in app.nodes().iter().enumerate() {
        if let (true, Some(path)) = (n.managed, &n.log_path) {
            poller::spawn_tail(&mut tasks, i, path.clone(), tx.clone(), cancel.clone());
        }
    }
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let result: anyhow::Result<()> = async {
        draw(&app)?;
        let mut last_draw = Instant::now();
        let mut dirty = false;
        loop {
            let next_frame = last_draw + FRAME;
            let action = tokio::select! {
                Some(a) = rx.recv() => Some(a),
                _ = tick.tick() => Some(Action::Tick(unix_now())),
                _ = sigterm.recv() => Some(Action::Quit),
                _ = sighup.recv() => Some(Action::Quit),
                _ = sigint.recv() => Some(Action::Quit),
                _ = tokio::time::sleep_until(next_frame), if dirty => None,
            };
            if let Some(first) = action {
                let mut effects = app.update(first);
                for _ in 0..BATCH {
                    match rx.try_recv() {
                        Ok(a) => effects.extend(app.update(a)),
                        Err(_) => break,
                    }
                }
                for effect in effects {
                    start(effect, &app, &mut tasks, &tx, &signals, &faults);
                }
                refresh_tx
                    .send_if_modified(|r| std::mem::replace(r, app.refresh()) != app.refresh());
                detail_tx.send_if_modified(|d| {
                    std::mem::replace(d, app.detail_target()) != app.detail_target()
                });
                traffic_tx.send_if_modified(|t| {
                    std::mem::replace(t, app.traffic_target()) != app.traffic_target()
                });
                layers_tx.send_if_modified(|l| {
                    std::mem::replace(l, app.layers_target()) != app.layers_target()
                });
                // Finished jobs leave their results in the set; drop them as they come.
                while tasks.try_join_next().is_some() {}
                if app.should_quit() {
                    return Ok(());
                }
                if term::panicked() {
                    anyhow::bail!(
                        "the console stopped after an internal error (see the message above)"
                    );
                }
                dirty = true;
            }
            // At most one frame per FRAME: polls arriving one by one share a frame.
            if dirty && Instant::now() >= next_frame {
                draw(&app)?;
                last_draw = Instant::now();
                dirty = false;
            }
        }
    }
    .await;

    cancel.cancel();
    tasks.shutdown().await;
    result.map(|()| app)
}

/// What [`run_headless`] saw: frames drawn and when the first answer and frames came.
#[derive(Debug, Clone, Default)]
pub struct HeadlessRun {
    /// Frames drawn (the first, empty one included).
    pub frames: u32,
    /// From the start to the first successful node snapshot reaching the loop.
    pub first_answer: Option<Duration>,
    /// From the start to the first frame drawn after that answer.
    pub first_frame_after_answer: Option<Duration>,
}

/// The console's own loop ([`drive`]: pollers, actions, frame pacing) for `duration`, drawn
/// into a `width`×`height` off-screen buffer instead of a terminal; for benchmarks, which
/// need the real per-tick work without a terminal.
pub async fn run_headless(app: App, duration: Duration, width: u16, height: u16) -> HeadlessRun {
    struct NoFaults;
    impl FaultInjector for NoFaults {
        fn inject<'a>(&'a self, _: &'a str, _: Fault) -> BoxFuture<'a, anyhow::Result<String>> {
            Box::pin(async { anyhow::bail!("no fault injection in a headless run") })
        }
    }
    let started = Instant::now();
    let (tx, mut tap) = mpsc::channel::<Action>(1024);
    let (fwd, rx) = mpsc::channel::<Action>(1024);
    let first_answer = Arc::new(parking_lot::Mutex::new(None));
    let seen = first_answer.clone();
    // Timestamps the first answer on its way to the loop, and ends the run.
    let forward = tokio::spawn(async move {
        let end = tokio::time::sleep(duration);
        tokio::pin!(end);
        loop {
            tokio::select! {
                Some(a) = tap.recv() => {
                    if let Action::Snapshot { snapshot, .. } = &a {
                        if snapshot.result.is_ok() {
                            seen.lock().get_or_insert_with(|| started.elapsed());
                        }
                    }
                    if fwd.send(a).await.is_err() {
                        return;
                    }
                }
                _ = &mut end => {
                    let _ = fwd.send(Action::Quit).await;
                    return;
                }
            }
        }
    });
    let mut run = HeadlessRun::default();
    let backend = ratatui::backend::TestBackend::new(width, height);
    let Ok(mut terminal) = ratatui::Terminal::new(backend);
    let faults: Arc<dyn FaultInjector> = Arc::new(NoFaults);
    let _ = drive(app, faults, tx, rx, |app| {
        terminal.draw(|f| ui::draw(f, app))?;
        run.frames += 1;
        if run.first_frame_after_answer.is_none() && first_answer.lock().is_some() {
            run.first_frame_after_answer = Some(started.elapsed());
        }
        Ok(())
    })
    .await;
    forward.abort();
    run.first_answer = *first_answer.lock();
    run
}

fn start(
    effect: Effect,
    app: &App,
    tasks: &mut JoinSet<()>,
    tx: &mpsc::Sender<Action>,
    signals: &Signals,
    faults: &Arc<dyn FaultInjector>,
) {
    let nodes = app.nodes();
    match effect {
        Effect::PollNow => signals.poke.notify_waiters(),
        Effect::Execute {
            job,
            nodes: which,
            statements,
        } => {
            let addrs = which
                .iter()
                .filter_map(|i| nodes.get(*i))
                .map(|n| n.addr.clone())
                .collect();
            poller::spawn_sql_job(tasks, job, addrs, statements, tx.clone());
        }
        Effect::Drill(request) => poller::spawn_drill(tasks, request, tx.clone()),
        Effect::Inject { job, node, fault } => {
            if let Some(n) = nodes.get(node) {
                poller::spawn_fault_job(
                    tasks,
                    job,
                    n.name().to_owned(),
                    fault,
                    faults.clone(),
                    tx.clone(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use futures::future::BoxFuture;

    use super::*;
    use crate::client::conn::NodeAddr;
    use crate::console::tui::app::{AppOptions, Overlay};
    use crate::console::tui::contract::{ConsoleNode, Fault};
    use crate::console::tui::{render_to_buffer, View};
    use crate::node::server::{Node, NodeOptions};

    /// Faults are the demo's business; this loop test never asks for one.
    struct NoFaults;

    impl FaultInjector for NoFaults {
        fn inject<'a>(&'a self, _: &'a str, _: Fault) -> BoxFuture<'a, anyhow::Result<String>> {
            Box::pin(async { anyhow::bail!("no fault injection in this test") })
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(16_032)
    }

    fn key(c: char) -> Action {
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn screen(app: &App) -> String {
        let buf = render_to_buffer(app, 100, 30);
        (0..30)
            .map(|y| (0..100).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    fn version(app: &App, module: &str) -> Option<u64> {
        crate::console::tui::model::own_row(app.nodes()[0].snapshot.as_ref(), module)
            .map(|r| r.version)
    }

    /// The whole loop against a real embedded node: polls arrive, the reload key asks, `y`
    /// runs `LOAD MYSQL QUERY RULES TO RUNTIME` on the node, the result is polled at once and
    /// shows version 2; the node view fetches its tables; the log is tailed; `q` stops it all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drives_a_real_node() {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let node = Node::start(NodeOptions {
            datadir: dir.path().to_path_buf(),
            config: None,
            admin: Some(format!("127.0.0.1:{port}")),
            initial: false,
            version: None,
            no_monitor: false,
            peer_map: Vec::new(),
            mysql: Some("127.0.0.1:0".into()),
            vip: None,
            limits: Default::default(),
        })
        .await
        .expect("start an embedded node");
        let node_task = tokio::spawn(node.run());

        let nodes = vec![ConsoleNode {
            addr: NodeAddr {
                name: "n1".into(),
                host: "127.0.0.1".into(),
                port,
                user: "admin".into(),
                password: "admin".into(),
            },
            managed: true,
            log_path: Some(dir.path().join("proxysql.log")),
            fault_commands: Default::default(),
        }];
        let app = App::new(
            nodes,
            AppOptions {
                refresh: Duration::from_millis(250),
                now: unix_now(),
                ..AppOptions::default()
            },
        );
        let (tx, rx) = mpsc::channel(1024);
        let script = tx.clone();
        let mut step = 0;
        let seen = Arc::new(parking_lot::Mutex::new(String::new()));
        let first_screen = seen.clone();
        let drive = drive(app, Arc::new(NoFaults), tx, rx, move |app| {
            let send = |a: Action| {
                let _ = script.try_send(a);
            };
            match step {
                0 if version(app, "mysql_query_rules") == Some(1) => {
                    *first_screen.lock() = screen(app);
                    send(key('j')); // admin_variables → mysql_query_rules
                    send(Action::Key(KeyEvent::new(
                        KeyCode::Char('L'),
                        KeyModifiers::SHIFT,
                    )));
                    step = 1;
                }
                1 if matches!(app.overlay(), Some(Overlay::Confirm(_))) => {
                    send(key('y'));
                    step = 2;
                }
                2 if version(app, "mysql_query_rules") == Some(2) => {
                    send(Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
                    send(key('3'));
                    step = 3;
                }
                3 if app.view() == View::Node
                    && matches!(app.detail(), Some(Ok(_)))
                    && app.nodes()[0].variables.is_some() =>
                {
                    send(key('5'));
                    step = 4;
                }
                4 if !app.nodes()[0].log.is_empty() => {
                    send(key('q'));
                    step = 5;
                }
                _ => {}
            }
            Ok(())
        });
        let app = tokio::time::timeout(Duration::from_secs(30), drive)
            .await
            .expect("the scripted session finishes")
            .expect("the loop ends cleanly");

        assert!(app.should_quit());
        let seen = seen.lock().clone();
        assert!(seen.contains("n1"), "{seen}");
        assert!(seen.contains("mysql_query_rules"), "{seen}");
        assert_eq!(version(&app, "mysql_query_rules"), Some(2));
        let texts: Vec<&str> = app.events().iter().map(|e| e.text.as_str()).collect();
        assert!(
            texts.iter().any(|t| t.starts_with("n1 reachable")),
            "{texts:#?}"
        );
        assert!(
            texts.contains(&"LOAD MYSQL QUERY RULES TO RUNTIME on n1: done"),
            "{texts:#?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("n1 mysql_query_rules reloaded (v1→v2")),
            "{texts:#?}"
        );
        assert_eq!(app.nodes()[0].ha, crate::client::detail::HaInfo::Absent);
        let Some(Ok(detail)) = app.detail() else {
            panic!("no detail")
        };
        assert!(detail.servers.is_ok(), "{:?}", detail.servers);
        assert!(detail.users.is_ok(), "{:?}", detail.users);
        assert!(detail.rules.is_ok(), "{:?}", detail.rules);
        let vars = app.nodes()[0].variables.clone();
        assert!(
            matches!(vars, Some(Ok(ref v)) if v.contains_key("admin-cluster_username")),
            "{vars:?}"
        );

        // One-shot polling for screenshots reads the same state without the loop.
        let mut fresh = App::new(
            vec![ConsoleNode {
                addr: app.nodes()[0].addr.clone(),
                managed: false,
                log_path: None,
                fault_commands: Default::default(),
            }],
            AppOptions::default(),
        );
        crate::console::tui::poll_once(&mut fresh, Duration::from_secs(5)).await;
        assert_eq!(version(&fresh, "mysql_query_rules"), Some(2));
        assert!(matches!(fresh.detail(), Some(Ok(_))));
        assert!(screen(&fresh).contains("n1"));
        node_task.abort();
    }
}
