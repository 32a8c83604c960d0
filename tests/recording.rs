//! The incident recorder end to end, on the real demo cluster (two `pxadm node` processes in
//! the reference scenario):
//!
//! - the story stuck → fix → converged → node1 killed → back is recorded while a console is
//!   fed the same polls as they arrive; the recording is then replayed and, at every moment
//!   the live console was looked at, the replayed console draws the same screens and the
//!   batch checks on `--replay FILE --at TIME` print the same JSON the live polls give;
//!   the timeline lists every finding appearing and clearing in order;
//! - `pxadm record` killed with SIGKILL leaves a file that reads up to its last tick;
//! - `pxadm console --record` in a real terminal records what it polls;
//! - a small recording committed with the first format version still reads (and replays).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pxadm::client::conn;
use pxadm::client::queries;
use pxadm::console::batch::commands::{checksums, diagnosis_of_snapshots, status};
use pxadm::console::batch::report::Report;
use pxadm::console::demo::{DemoCluster, DemoOptions};
use pxadm::console::diagnosis::Class;
use pxadm::console::fault::Fault;
use pxadm::console::recording::format::Source;
use pxadm::console::recording::moment::fmt_rfc3339;
use pxadm::console::recording::reader::{End, Recording};
use pxadm::console::recording::record::{header, unix_ms, Poller};
use pxadm::console::recording::replay::{console_nodes, feed_live, Replay};
use pxadm::console::recording::timeline::scan;
use pxadm::console::recording::writer::{NodeUpdate, Writer};
use pxadm::console::tui::{render_to_buffer, App, AppOptions, View};
use pxadm::proxysql::cluster::state::Module;

const INTERVAL: Duration = Duration::from_millis(500);
const SIZE: (u16, u16) = (160, 48);

fn text(app: &App) -> String {
    let buf = render_to_buffer(app, SIZE.0, SIZE.1);
    (0..SIZE.1)
        .map(|y| {
            (0..SIZE.0)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_owned()
                + "\n"
        })
        .collect()
}

/// The screen with the header's mark ("REPLAY" or "READ-ONLY") taken out and its spacing
/// collapsed: everything else is the live console's, cell for cell.
fn comparable(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines[0]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replacen(" │ REPLAY", "", 1)
        .replacen(" │ READ-ONLY", "", 1);
    let mut out = vec![header.as_str()];
    out.extend(&lines[1..]);
    out.join("\n")
}

/// What the live console showed at one moment.
struct Seen {
    name: &'static str,
    tick: usize,
    at_ms: u64,
    screens: Vec<(View, String)>,
    reports: Vec<(&'static str, serde_json::Value)>,
}

/// The recorder and a live console fed the same polls.
struct Story {
    poller: Poller,
    writer: Writer,
    live: App,
    last: Vec<NodeUpdate>,
    last_at: u64,
    seen: Vec<Seen>,
}

fn report_json(mut report: Report, at_ms: u64) -> serde_json::Value {
    report.generated_at = at_ms / 1000;
    serde_json::to_value(&report).unwrap()
}

fn select(app: &mut App, view: View) {
    app.select(view, Some("mysql_query_rules"), Some("node1"));
}

impl Story {
    async fn tick(&mut self) {
        let at = unix_ms();
        let updates = self.poller.round(INTERVAL * 2).await;
        self.writer.write_tick(at, &updates).unwrap();
        feed_live(&mut self.live, at, &updates);
        self.last = updates;
        self.last_at = at;
        tokio::time::sleep(INTERVAL).await;
    }

    /// A few more ticks in the same state, as an incident lingers.
    async fn dwell(&mut self, ticks: usize) {
        for _ in 0..ticks {
            self.tick().await;
        }
    }

    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let start = Instant::now();
        while !done(&self.live) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the demo did not reach '{what}' within 60 s:\n{}",
                text(&self.live)
            );
            self.tick().await;
        }
    }

    /// Looks at the live console as an operator would: four views, and the batch checks on
    /// the same polls.
    fn look(&mut self, name: &'static str) {
        let mut screens = Vec::new();
        for view in [View::Matrix, View::Diagnosis, View::Ha, View::Events] {
            select(&mut self.live, view);
            screens.push((view, text(&self.live)));
        }
        select(&mut self.live, View::Matrix);
        let snaps: Vec<_> = self
            .last
            .iter()
            .filter_map(|u| u.snapshot.clone())
            .collect();
        let at = self.last_at;
        self.seen.push(Seen {
            name,
            tick: self.writer.ticks() as usize - 1,
            at_ms: at,
            screens,
            reports: vec![
                ("status", report_json(status(&snaps, None), at)),
                ("checksums", report_json(checksums(&snaps), at)),
                ("diagnose", report_json(diagnosis_of_snapshots(&snaps), at)),
            ],
        });
    }
}

fn has(app: &App, f: impl Fn(&Class) -> bool) -> bool {
    app.findings().iter().any(|x| f(&x.class))
}

fn all_in_sync(app: &App) -> bool {
    app.nodes()
        .iter()
        .all(|n| n.snapshot.as_ref().is_some_and(|s| s.result.is_ok()))
        && app
            .findings()
            .iter()
            .all(|f| matches!(f.class, Class::InSync))
}

fn pxadm(args: &[&str]) -> std::process::Output {
    Command::new(common::pxadm_bin())
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run pxadm")
}

async fn run_sql(addr: &conn::NodeAddr, sqls: &[&str]) {
    let mut c = conn::connect(addr, Duration::from_secs(5)).await.unwrap();
    for sql in sqls {
        conn::execute_text(&mut c, sql).await.unwrap();
    }
    c.close().await;
}

async fn demo(tmp: &Path) -> std::sync::Arc<DemoCluster> {
    DemoCluster::start(DemoOptions {
        dir: Some(tmp.join("demo")),
        exe: common::pxadm_bin(),
        ..DemoOptions::default()
    })
    .await
    .expect("the demo cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_replays_as_the_live_console_showed_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = demo(tmp.path()).await;
    let nodes = cluster.console_nodes().await;
    let path = tmp.path().join("story.pxrec");
    let writer = Writer::create(&path, header(&nodes, Source::Record, INTERVAL)).unwrap();
    // The live console runs read-only (`pxadm console --read-only`): a replay can act on
    // nothing, so the action hints a writable console shows ("press f") are the one thing a
    // replay cannot show as they were.
    let options = AppOptions {
        refresh: INTERVAL,
        now: unix_ms() / 1000,
        read_only: true,
        ..AppOptions::default()
    };
    let live = App::new(console_nodes(&writer.header().nodes), options.clone());
    let mut story = Story {
        poller: Poller::new(nodes.iter().map(|n| n.addr.clone()).collect()),
        writer,
        live,
        last: Vec::new(),
        last_at: 0,
        seen: Vec::new(),
    };

    // Step 4: stuck at version 1.
    story
        .until("stuck version 1", |a| {
            has(a, |c| matches!(c, Class::StuckVersionOne { .. }))
        })
        .await;
    story.dwell(6).await;
    story.look("stuck");
    // The fix on node1; node2 pulls after a few checks.
    let node1 = nodes[0].addr.clone();
    run_sql(
        &node1,
        &[
            queries::load_to_runtime(Module::MysqlServers),
            queries::load_to_runtime(Module::MysqlQueryRules),
        ],
    )
    .await;
    story.until("in sync", all_in_sync).await;
    story.dwell(4).await;
    story.look("fixed");
    // node1 (the VIP holder) killed.
    cluster.inject("node1", Fault::Kill).await.unwrap();
    story
        .until("node1 unreachable", |a| {
            has(a, |c| matches!(c, Class::PeerUnreachable { .. }))
        })
        .await;
    story.dwell(6).await;
    story.look("killed");
    // node1 back.
    cluster.inject("node1", Fault::Restart).await.unwrap();
    story.until("back in sync", all_in_sync).await;
    story.dwell(4).await;
    story.look("back");
    let Story { writer, seen, .. } = story;
    let ticks = writer.ticks() as usize;
    drop(writer);
    cluster.stop().await;
    if let Ok(copy) = std::env::var("PXADM_RECORDING_FIXTURE") {
        std::fs::copy(&path, copy).unwrap();
    }

    // The replay: every view as the live console drew it, at every moment looked at.
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.end(), &End::Clean);
    assert_eq!(rec.len(), ticks);
    let scanned = scan(&rec).unwrap();
    let mut replay = Replay::new(&rec, options, scanned).unwrap();
    // Out of order, as an operator seeking around would.
    for k in [3, 0, 1, 2, 3, 2] {
        let s = &seen[k];
        replay.seek_time(s.at_ms).unwrap();
        assert_eq!(replay.position(), s.tick, "{}", s.name);
        for (view, live_screen) in &s.screens {
            select(replay.app_mut(), *view);
            let replayed = text(replay.app());
            assert!(replayed.lines().next().unwrap().contains("REPLAY"));
            assert_eq!(
                comparable(&replayed),
                comparable(live_screen),
                "{} in the {view:?} view differs from the live console",
                s.name
            );
        }
    }

    // The batch checks on each recorded moment print what the live polls gave.
    let file = path.to_str().unwrap();
    for s in &seen {
        let at = fmt_rfc3339(s.at_ms);
        for (command, live_json) in &s.reports {
            let out = pxadm(&[
                "--batch", command, "--replay", file, "--at", &at, "--format", "json",
            ]);
            let replayed: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "{command} at {}: {e}: {}{}",
                        s.name,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            assert_eq!(&replayed, live_json, "{command} at {}", s.name);
            let code = live_json["exit_code"].as_i64().unwrap() as i32;
            assert_eq!(out.status.code(), Some(code), "{command} at {}", s.name);
            let note = String::from_utf8_lossy(&out.stderr);
            assert!(
                note.contains(&format!("tick {} of {ticks}", s.tick + 1)),
                "{note}"
            );
        }
    }
    let stuck = &seen[0].reports[2].1;
    assert_eq!(stuck["status"], "CRITICAL", "{stuck}");
    assert_eq!(seen[1].reports[0].1["status"], "OK");
    assert_eq!(seen[2].reports[0].1["status"], "CRITICAL");

    // The timeline: stuck appeared, cleared by the fix; node1 unreachable, then back.
    let out = pxadm(&["--batch", "timeline", "--replay", file, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timeline: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = timeline["changes"].as_array().unwrap();
    let find = |class: &str, change: &str| {
        changes
            .iter()
            .find(|c| c["finding"]["class"] == class && c["change"] == change)
            .unwrap_or_else(|| panic!("no {class} {change} in {timeline:#}"))["tick"]
            .as_u64()
            .unwrap() as usize
    };
    let stuck_on = find("stuck_version_one", "appeared");
    let stuck_off = find("stuck_version_one", "cleared");
    let down = find("peer_unreachable", "appeared");
    let up = find("peer_unreachable", "cleared");
    assert!(stuck_on <= seen[0].tick, "{timeline:#}");
    assert!(
        seen[0].tick < stuck_off && stuck_off <= seen[1].tick,
        "{timeline:#}"
    );
    assert!(seen[1].tick < down && down <= seen[2].tick, "{timeline:#}");
    assert!(seen[2].tick < up && up <= seen[3].tick, "{timeline:#}");
    assert!(timeline["open_at_end"].as_array().unwrap().is_empty());
    let table = pxadm(&["--batch", "timeline", "--replay", file]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("appeared") && table.contains("cleared"),
        "{table}"
    );

    // An incident report's picture of a moment, without a terminal.
    let svg = tmp.path().join("killed.svg");
    let at = fmt_rfc3339(seen[2].at_ms);
    let out = pxadm(&[
        "replay",
        file,
        "--at",
        &at,
        "--view",
        "diagnosis",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.contains("REPLAY") && picture.contains("node1"),
        "{picture}"
    );
}

/// Ticks readable in `path` right now (0 while it is being created).
fn ticks_in(path: &Path) -> usize {
    Recording::open(path).map(|r| r.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_recorder_and_the_console_recorder_leave_readable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = demo(tmp.path()).await;
    let nodes = cluster.console_nodes().await;
    let specs: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}=admin:admin@127.0.0.1:{}", n.addr.name, n.addr.port))
        .collect();

    // `pxadm record`, killed with SIGKILL at three different moments.
    for round in 0..3 {
        let path = tmp.path().join(format!("killed-{round}.pxrec"));
        let mut cmd = Command::new(common::pxadm_bin());
        cmd.arg("record")
            .args(specs.iter().flat_map(|s| ["-n", s.as_str()]))
            .args(["--interval", "100ms", "--out", path.to_str().unwrap()])
            .env("XDG_CONFIG_HOME", "/nonexistent");
        let mut child = cmd.spawn().expect("start pxadm record");
        let want = 8 + 3 * round;
        let start = Instant::now();
        while ticks_in(&path) < want {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no ticks recorded"
            );
            std::thread::sleep(Duration::from_millis(20 + 7 * round as u64));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let rec = Recording::open(&path).unwrap();
        assert!(rec.len() >= want, "{} ticks", rec.len());
        let size = std::fs::metadata(&path).unwrap().len();
        match rec.end() {
            End::Clean => {}
            End::Damaged {
                offset, ignored, ..
            } => assert_eq!(offset + ignored, size),
        }
        let last = rec.tick(rec.len() - 1).unwrap();
        assert_eq!(last.nodes.len(), 2);
        assert!(last.nodes.iter().all(|n| n.snapshot.is_some()));
        // Every tick up to the last decodes, and the batch checks read the end.
        let mut c = rec.cursor().unwrap();
        while c.next_tick().unwrap().is_some() {}
        let out = pxadm(&["--batch", "diagnose", "--replay", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("stuck_version_one"));
    }

    // `pxadm console --record` in a real terminal, quit after a few seconds.
    let path = tmp.path().join("console.pxrec");
    let socket = format!("pxadm-rec-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux is required (installed by .ci/install-deps)")
    };
    let command = format!(
        "env XDG_CONFIG_HOME=/nonexistent {} console {} --refresh-ms 250 --record {} 2>{}",
        common::pxadm_bin().display(),
        specs
            .iter()
            .map(|s| format!("-n {s}"))
            .collect::<Vec<_>>()
            .join(" "),
        path.display(),
        tmp.path().join("console.stderr").display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "c",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success());
    let start = Instant::now();
    while ticks_in(&path) < 10 {
        let screen =
            String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "c"]).stdout).into_owned();
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the console recorded nothing; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux(&["send-keys", "-t", "c", "q"]);
    let start = Instant::now();
    while tmux(&["has-session", "-t", "c"]).status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the console did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux(&["kill-server"]);
    let stderr = std::fs::read_to_string(tmp.path().join("console.stderr")).unwrap_or_default();
    assert!(stderr.contains("recorded"), "{stderr}");
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.end(), &End::Clean);
    assert_eq!(
        rec.header().source,
        pxadm::console::recording::format::Source::Console
    );
    let s = scan(&rec).unwrap();
    assert!(
        s.open
            .iter()
            .any(|f| matches!(f.class, Class::StuckVersionOne { .. })),
        "{:?}",
        s.open
    );
    cluster.stop().await;
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recording/demo-story-v1.pxrec")
}

/// Old files stay readable: a recording written by the first version of the format (the demo
/// story above, at 500 ms), committed, reads and gives the same timeline.
#[test]
fn a_committed_version_1_recording_still_reads() {
    let rec = Recording::open(&fixture()).unwrap();
    assert_eq!(rec.version(), 1);
    assert_eq!(rec.end(), &End::Clean);
    let names: Vec<&str> = rec.header().nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2"]);
    let mut c = rec.cursor().unwrap();
    let mut n = 0;
    while let Some(t) = c.next_tick().unwrap() {
        assert_eq!(t.index, n);
        n += 1;
    }
    assert_eq!(n, rec.len());
    let out = pxadm(&[
        "--batch",
        "timeline",
        "--replay",
        fixture().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timeline: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // What the file says, in a form that outlives rewordings of the diagnosis's sentences.
    let mut lines = vec![format!(
        "format {} · {} ticks · {} → {} · nodes {}",
        timeline["format_version"],
        timeline["ticks"],
        timeline["start"],
        timeline["end"],
        timeline["nodes"]
    )];
    for c in timeline["changes"].as_array().unwrap() {
        let f = &c["finding"];
        lines.push(format!(
            "tick {:>2} +{:>5} ms {:<8} {:<8} {} {} {}",
            c["tick"].as_u64().unwrap(),
            c["offset_ms"].as_u64().unwrap(),
            c["change"].as_str().unwrap(),
            f["severity"].as_str().unwrap(),
            f["class"].as_str().unwrap(),
            f["module"].as_str().unwrap_or("-"),
            f["node_to_act_on"]
                .as_str()
                .or(f["node"].as_str())
                .unwrap_or("-"),
        ));
    }
    insta::assert_snapshot!("demo_story_v1_timeline", lines.join("\n"));
}

/// `pxadm replay` in a real terminal on the committed recording: it opens paused on the first
/// tick, steps, jumps to the next finding change, seeks, refuses the fix, plays, and quits.
#[test]
fn the_replay_runs_in_a_terminal() {
    let socket = format!("pxadm-replay-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux is required (installed by .ci/install-deps)")
    };
    let screen =
        || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "r"]).stdout).into_owned();
    let wait_for = |needle: &str| {
        let start = Instant::now();
        loop {
            let s = screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "'{needle}' not shown; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let command = format!(
        "env XDG_CONFIG_HOME=/nonexistent TZ=UTC {} replay {}",
        common::pxadm_bin().display(),
        fixture().display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "r",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success());
    let first = wait_for("tick 1/25");
    assert!(
        first.contains("REPLAY") && first.contains("|| 1×"),
        "{first}"
    );
    tmux(&["send-keys", "-t", "r", "."]);
    wait_for("tick 2/25");
    tmux(&["send-keys", "-t", "r", "n"]);
    let fixed = wait_for("tick 9/25");
    assert!(fixed.contains("finding change at"), "{fixed}");
    tmux(&["send-keys", "-t", "r", "g"]);
    wait_for("seek to");
    let killed_at = fmt_rfc3339(Recording::open(&fixture()).unwrap().time_of(16).unwrap());
    tmux(&["send-keys", "-t", "r", &killed_at, "Enter"]);
    let killed = wait_for("tick 17/25");
    assert!(killed.contains("1/2 nodes up"), "{killed}");
    tmux(&["send-keys", "-t", "r", "f"]);
    wait_for("replay: apply_fix is disabled");
    tmux(&["send-keys", "-t", "r", "End"]);
    wait_for("tick 25/25");
    tmux(&["send-keys", "-t", "r", "Home", ">", ">", ">", ">", "Space"]);
    wait_for("▶ 20×");
    // At 20× the 12 s recording plays out in well under the wait.
    let end = wait_for("|| 20×");
    assert!(end.contains("tick 25/25"), "{end}");
    tmux(&["send-keys", "-t", "r", "q"]);
    let start = Instant::now();
    while tmux(&["has-session", "-t", "r"]).status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the replay did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux(&["kill-server"]);
}
