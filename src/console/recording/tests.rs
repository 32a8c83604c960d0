//! The recorder on hand-made polls: round trips across keyframes, torn and damaged files,
//! the timeline, and the replay's cursor.

use std::path::Path;

use super::format::{Header, NodeInfo, Source, FILE_PREFIX, FORMAT_VERSION, FRAME_HEADER};
use super::reader::{End, Recording};
use super::replay::{feed, Replay};
use super::timeline::{scan, ChangeKind};
use super::writer::{BackgroundWriter, NodeUpdate, Writer};
use crate::client::detail::HaInfo;
use crate::console::tui::fixtures::{self, Scenario, T};
use crate::console::tui::{render_to_buffer, App, AppOptions, View};

/// The story, one state per tick: stuck, the fix converging, in sync, node1 killed, back.
fn story() -> Vec<Scenario> {
    let mut s = Vec::new();
    s.extend([Scenario::Stuck; 12]);
    s.extend([Scenario::Converging; 3]);
    s.extend([Scenario::InSync; 10]);
    s.extend([Scenario::Killed; 8]);
    s.extend([Scenario::InSync; 7]);
    s
}

/// What arrived in tick `i` of the story: both nodes polled (node1 not polled every third
/// tick, to have "nothing arrived" entries), VRRP read from the nodes that answered.
fn updates(i: usize, s: Scenario) -> Vec<NodeUpdate> {
    let snaps = fixtures::snapshots(s);
    let ha = fixtures::ha(s);
    snaps
        .into_iter()
        .zip(ha)
        .enumerate()
        .map(|(n, (mut snap, ha))| {
            if n == 0 && i % 3 == 2 {
                return NodeUpdate::default();
            }
            snap.fetched_at = T + i as u64;
            snap.elapsed_ms = 2 + (i as u64 % 4);
            let up = snap.result.is_ok();
            NodeUpdate {
                snapshot: Some(snap),
                ha: up.then_some(ha),
                log: if n == 1 && i == 4 {
                    vec!["a log line".into()]
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

fn header(keyframe_every: u32) -> Header {
    Header {
        format_version: FORMAT_VERSION,
        pxadm_version: "test".into(),
        created_at_ms: T * 1000,
        source: Source::Record,
        interval_ms: 1000,
        keyframe_every,
        nodes: fixtures::addrs()
            .iter()
            .map(|a| NodeInfo {
                name: a.name.clone(),
                host: a.host.clone(),
                port: a.port,
                managed: a.name == "node2",
            })
            .collect(),
    }
}

fn write_story(path: &Path, keyframe_every: u32) -> Vec<Vec<NodeUpdate>> {
    let mut w = Writer::create(path, header(keyframe_every)).unwrap();
    let mut all = Vec::new();
    for (i, s) in story().into_iter().enumerate() {
        let u = updates(i, s);
        w.write_tick((T + i as u64) * 1000 + 250, &u).unwrap();
        all.push(u);
    }
    assert_eq!(w.ticks(), all.len() as u64);
    assert_eq!(w.bytes(), std::fs::metadata(path).unwrap().len());
    all
}

#[test]
fn every_tick_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    let written = write_story(&path, 7);
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.end(), &End::Clean);
    assert_eq!(rec.len(), written.len());
    assert_eq!(rec.header().nodes.len(), 2);
    let mut latest = vec![None; 2];
    let mut ha = vec![HaInfo::Unknown; 2];
    let mut cursor = rec.cursor().unwrap();
    for (i, updates) in written.iter().enumerate() {
        let tick = cursor.next_tick().unwrap().unwrap();
        assert_eq!(tick.index, i);
        assert_eq!(tick.at_ms, (T + i as u64) * 1000 + 250);
        for (n, u) in updates.iter().enumerate() {
            if let Some(s) = &u.snapshot {
                latest[n] = Some(s.clone());
            }
            if let Some(h) = &u.ha {
                ha[n] = h.clone();
            }
            let got = &tick.nodes[n];
            assert_eq!(got.snapshot, latest[n], "tick {i} node {n}");
            assert_eq!(got.ha, ha[n], "tick {i} node {n}");
            assert_eq!(got.polled, u.snapshot.is_some(), "tick {i} node {n}");
            assert_eq!(got.ha_read, u.ha.is_some(), "tick {i} node {n}");
            assert_eq!(got.log, u.log, "tick {i} node {n}");
        }
        // Random access (from the nearest keyframe) agrees with reading in order.
        assert_eq!(rec.tick(i).unwrap(), tick, "tick {i}");
    }
    assert!(cursor.next_tick().unwrap().is_none());
    // Seeking backwards and forwards.
    let mut c = rec.cursor().unwrap();
    for i in [20, 3, 3, 29, 0, 14] {
        c.seek(i).unwrap();
        assert_eq!(c.next_tick().unwrap().unwrap(), rec.tick(i).unwrap());
    }
    assert_eq!(rec.index_at(T * 1000), None);
    assert_eq!(rec.index_at((T + 3) * 1000 + 250), Some(3));
    assert_eq!(rec.index_at((T + 3) * 1000 + 999), Some(3));
    assert_eq!(rec.index_at(u64::MAX), Some(written.len() - 1));
}

#[tokio::test]
async fn the_background_writer_writes_the_same_file_and_reports_a_failed_disk() {
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.pxrec");
    let written = write_story(&direct, 7);
    let queued = dir.path().join("queued.pxrec");
    let writer = BackgroundWriter::spawn(Writer::create(&queued, header(7)).unwrap()).unwrap();
    for (i, updates) in written.iter().enumerate() {
        assert!(
            writer
                .write_tick((T + i as u64) * 1000 + 250, updates.clone())
                .await
        );
    }
    let outcome = writer.finish().await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.ticks, written.len() as u64);
    assert_eq!(
        std::fs::read(&queued).unwrap(),
        std::fs::read(&direct).unwrap()
    );

    // A destination that stops accepting bytes (a pipe whose reader is gone): the writer
    // stops, later ticks are refused, and finish says why.
    let (reader, pipe) = std::io::pipe().unwrap();
    let file = std::fs::File::from(std::os::fd::OwnedFd::from(pipe));
    let writer = BackgroundWriter::spawn(Writer::start(file, header(7)).unwrap()).unwrap();
    drop(reader);
    for (i, updates) in written.iter().enumerate() {
        if !writer
            .write_tick((T + i as u64) * 1000 + 250, updates.clone())
            .await
        {
            break;
        }
    }
    let outcome = writer.finish().await;
    assert!(outcome.error.is_some());
    assert_eq!(
        outcome.ticks, 0,
        "every tick's frame goes to the file at once"
    );
}

/// Frame boundaries of a recording file: the end offset of every tick's frame.
fn frame_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = FILE_PREFIX;
    let mut first = true;
    while pos + FRAME_HEADER <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += FRAME_HEADER + len;
        if !first {
            ends.push(pos);
        }
        first = false;
    }
    ends
}

#[test]
fn a_torn_file_reads_up_to_its_last_whole_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    write_story(&path, 300);
    let bytes = std::fs::read(&path).unwrap();
    let ends = frame_ends(&bytes);
    assert_eq!(*ends.last().unwrap(), bytes.len());
    let full = Recording::open(&path).unwrap();
    let cut_path = dir.path().join("cut.pxrec");
    // Every cut inside the last four frames, plus every frame boundary.
    let from = ends[ends.len() - 5];
    let cuts: Vec<usize> = (from..bytes.len()).chain(ends.iter().copied()).collect();
    for cut in cuts {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let rec = Recording::open(&cut_path).unwrap();
        let whole = ends.iter().filter(|e| **e <= cut).count();
        assert_eq!(rec.len(), whole, "cut at {cut}");
        if ends.contains(&cut) {
            assert_eq!(rec.end(), &End::Clean, "cut at {cut}");
        } else {
            assert!(
                matches!(rec.end(), End::Damaged { ignored, .. } if *ignored as usize == cut - ends[whole - 1]),
                "cut at {cut}: {:?}",
                rec.end()
            );
        }
        // Every readable tick is the same as in the whole file.
        let last = rec.len() - 1;
        assert_eq!(rec.tick(last).unwrap(), full.tick(last).unwrap());
    }
}

#[test]
fn a_damaged_frame_ends_the_readable_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    write_story(&path, 5);
    let mut bytes = std::fs::read(&path).unwrap();
    let ends = frame_ends(&bytes);
    // Flip a byte inside tick 12's payload.
    let at = ends[11] + FRAME_HEADER + 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.len(), 12);
    assert!(
        matches!(rec.end(), End::Damaged { reason, offset, .. } if reason.contains("checksum") && *offset as usize == ends[11]),
        "{:?}",
        rec.end()
    );
    rec.tick(11).unwrap();
}

#[test]
fn what_is_not_a_readable_recording_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    write_story(&path, 300);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let newer = dir.path().join("newer.pxrec");
    std::fs::write(&newer, &bytes).unwrap();
    let e = Recording::open(&newer).unwrap_err().to_string();
    assert!(e.contains("newer pxadm"), "{e}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"hello, world").unwrap();
    let e = Recording::open(&junk).unwrap_err().to_string();
    assert!(e.contains("not a pxadm recording"), "{e}");
    let short = dir.path().join("short");
    std::fs::write(&short, &std::fs::read(&path).unwrap()[..FILE_PREFIX + 5]).unwrap();
    let e = Recording::open(&short).unwrap_err().to_string();
    assert!(e.contains("header"), "{e}");
    // An existing file is never overwritten.
    let e = Writer::create(&path, header(300))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cannot create"), "{e}");
}

#[test]
fn the_timeline_follows_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    write_story(&path, 7);
    let rec = Recording::open(&path).unwrap();
    let s = scan(&rec).unwrap();
    let lines: Vec<(usize, ChangeKind, String)> = s
        .changes
        .iter()
        .map(|c| {
            (
                c.tick,
                c.change,
                format!(
                    "{} {}",
                    crate::console::batch::report::class_name(&c.finding.class),
                    c.finding.module.map_or("-", |m| m.name())
                ),
            )
        })
        .collect();
    let has = |tick: usize, kind: ChangeKind, what: &str| {
        assert!(
            lines
                .iter()
                .any(|l| l.0 == tick && l.1 == kind && l.2 == what),
            "{tick} {kind:?} {what} not in {lines:#?}"
        );
    };
    has(
        0,
        ChangeKind::Appeared,
        "stuck_version_one mysql_query_rules",
    );
    has(
        12,
        ChangeKind::Cleared,
        "stuck_version_one mysql_query_rules",
    );
    has(12, ChangeKind::Appeared, "converging mysql_query_rules");
    has(15, ChangeKind::Cleared, "converging mysql_query_rules");
    has(25, ChangeKind::Appeared, "peer_unreachable -");
    has(33, ChangeKind::Cleared, "peer_unreachable -");
    assert!(s.open.is_empty(), "{:?}", s.open);
    assert_eq!(s.severity.len(), rec.len());
    assert_eq!(s.severity[0], crate::console::diagnosis::Severity::Critical);
    assert_eq!(s.severity[20], crate::console::diagnosis::Severity::Ok);
    for t in [12, 15, 25, 33] {
        assert!(s.state_changes.contains(&t), "{t}: {:?}", s.state_changes);
    }
    assert!(!s.state_changes.contains(&5), "{:?}", s.state_changes);
}

fn options() -> AppOptions {
    AppOptions {
        now: T,
        ..AppOptions::default()
    }
}

fn screen(app: &App) -> String {
    let buf = render_to_buffer(app, 120, 40);
    (0..40)
        .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn the_replay_shows_each_moment_as_the_live_console_did() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    let written = write_story(&path, 7);
    let rec = Recording::open(&path).unwrap();
    // The live console: the same polls, fed as they arrived.
    let mut live = App::new(super::replay::console_nodes(&rec.header().nodes), options());
    live.set_replay(true);
    let mut live_screens = Vec::new();
    let mut c = rec.cursor().unwrap();
    for i in 0..written.len() {
        feed(&mut live, &c.next_tick().unwrap().unwrap());
        live.select(View::ALL[i % 5], Some("mysql_query_rules"), Some("node2"));
        live_screens.push(screen(&live));
    }
    let mut replay = Replay::new(&rec, options(), scan(&rec).unwrap()).unwrap();
    for i in [29, 3, 3, 12, 0, 33, 20, 21, 2] {
        replay.seek(i).unwrap();
        assert_eq!(replay.position(), i);
        replay
            .app_mut()
            .select(View::ALL[i % 5], Some("mysql_query_rules"), Some("node2"));
        assert_eq!(screen(replay.app()), live_screens[i], "tick {i}");
    }
}

fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    )
}

#[test]
fn the_cursor_keys_move_and_actions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.pxrec");
    let n = write_story(&path, 7).len();
    let rec = Recording::open(&path).unwrap();
    let mut r = Replay::new(&rec, options(), scan(&rec).unwrap()).unwrap();
    r.key(key('.')).unwrap();
    r.key(key('.')).unwrap();
    assert_eq!(r.position(), 2);
    r.key(key(',')).unwrap();
    assert_eq!(r.position(), 1);
    r.key(key('n')).unwrap();
    assert_eq!(
        r.position(),
        12,
        "the fix: stuck cleared, converging appeared"
    );
    r.key(key('n')).unwrap();
    assert_eq!(r.position(), 15);
    r.key(key('N')).unwrap();
    assert_eq!(r.position(), 12);
    r.key(key(']')).unwrap();
    assert_eq!(r.position(), 15);
    // Seek by time.
    r.key(key('g')).unwrap();
    for c in "+25s".chars() {
        r.key(key(c)).unwrap();
    }
    r.key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ))
    .unwrap();
    assert_eq!(r.position(), 25);
    assert!(r.app().findings().iter().any(|f| matches!(
        f.class,
        crate::console::diagnosis::Class::PeerUnreachable { .. }
    )));
    // Play: speeds, and the wait between ticks.
    r.key(key('>')).unwrap();
    r.key(key('>')).unwrap();
    assert_eq!(r.speed(), 5);
    r.key(key(' ')).unwrap();
    assert!(r.playing());
    assert_eq!(r.wait(), Some(std::time::Duration::from_millis(200)));
    r.advance().unwrap();
    assert_eq!(r.position(), 26);
    r.key(key(' ')).unwrap();
    assert!(!r.playing());
    // Anything that would reach a node says why it cannot.
    for (k, what) in [
        ('f', "apply_fix"),
        ('K', "kill"),
        ('L', "reload_module"),
        ('r', "refresh_now"),
    ] {
        r.key(key(k)).unwrap();
        let status = r.app().status().expect("a reason").text.clone();
        assert!(
            status.contains(&format!("replay: {what} is disabled")) && status.contains("recording"),
            "{status}"
        );
        assert!(r.app().overlay().is_none(), "{k}");
    }
    r.key(key(':')).unwrap();
    for c in "sql all SELECT 1".chars() {
        r.key(key(c)).unwrap();
    }
    r.key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ))
    .unwrap();
    let status = r.app().status().unwrap().text.clone();
    assert!(status.starts_with("replay: "), "{status}");
    // The end: play stops there.
    r.play(60);
    while r.playing() {
        r.advance().unwrap();
    }
    assert_eq!(r.position(), n - 1);
    r.key(key('q')).unwrap();
    assert!(r.should_quit());
}

/// The replay view drawn from the committed recording of the demo story (real polls of two
/// `pxadm node`s), at its moments, in the console's two reference sizes. The `.snap` files
/// under `snapshots/` are committed; CI runs with `CI=true`, so a changed rendering fails.
mod snapshots {
    use super::*;

    fn fixture() -> Recording {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recording/demo-story-v1.pxrec");
        Recording::open(&path).unwrap()
    }

    fn text(buf: &ratatui::buffer::Buffer) -> String {
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

    fn at(rec: &Recording, tick: usize, view: View) -> Replay<'_> {
        let options = AppOptions {
            refresh: std::time::Duration::from_millis(rec.header().interval_ms),
            now: rec.time_of(0).unwrap() / 1000,
            ..AppOptions::default()
        };
        let mut r = Replay::new(rec, options, scan(rec).unwrap()).unwrap();
        r.seek(tick).unwrap();
        r.app_mut()
            .select(view, Some("mysql_query_rules"), Some("node1"));
        r
    }

    #[test]
    fn the_replay_view_at_the_story_s_moments() {
        let rec = fixture();
        // Stuck (tick 5), fixed (10), node1 killed (16), back (22).
        for (name, tick, view) in [
            ("stuck_matrix", 5, View::Matrix),
            ("stuck_diagnosis", 5, View::Diagnosis),
            ("killed_ha", 16, View::Ha),
            ("back_events", 22, View::Events),
        ] {
            let r = at(&rec, tick, view);
            for (w, h) in [(80, 24), (160, 48)] {
                insta::assert_snapshot!(format!("replay_{name}_{w}x{h}"), text(&r.render(w, h)));
            }
        }
    }

    #[test]
    fn the_replay_s_prompt_and_refusals() {
        let rec = fixture();
        let mut r = at(&rec, 5, View::Matrix);
        r.key(key('f')).unwrap();
        insta::assert_snapshot!("replay_refused_fix_80x24", text(&r.render(80, 24)));
        r.key(key('g')).unwrap();
        for c in "+7s".chars() {
            r.key(key(c)).unwrap();
        }
        insta::assert_snapshot!("replay_seek_prompt_80x24", text(&r.render(80, 24)));
        r.key(key(' ')).unwrap();
        r.key(key('>')).unwrap();
        assert_eq!(r.speed(), 1, "typing goes to the prompt");
    }
}
