//! End to end: the real `pxadm` binary (the embedded default) in a real terminal (tmux):
//! the demo cluster comes up in the scenario's stuck state, the console shows it, the fix key
//! applies the diagnosis's fix, the console shows convergence, and quitting stops every node;
//! and a failover drill started from the console runs live in its HA view.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is required for the console test (installed by .ci/install-deps)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "console"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "console", keys]);
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "console"]).status.success()
    }

    /// Waits until the screen contains `needle`; panics with the screen otherwise.
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("'{needle}' not shown within {timeout:?}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn demo_nodes_running(tmp: &Path) -> usize {
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(format!("node --datadir {}", tmp.display()))
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Starts the demo console (`pxadm` without arguments) in a 160×48 tmux session whose
/// temporary files, demo and drill nodes included, land under `tmp`.
fn start_demo(tmp: &Path, name: &str) -> Tmux {
    let home = tmp.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tmux = Tmux {
        socket: format!("pxadm-test-{name}-{}", std::process::id()),
    };
    // The demo's temporary folder lands under TMPDIR, so its nodes are recognisable.
    let command = format!(
        "env HOME={home} XDG_CONFIG_HOME={home} TMPDIR={tmp} PXADM_LOOPBACK_ONLY=1 {bin} 2>{tmp}/stderr",
        home = home.display(),
        tmp = tmp.display(),
        bin = common::pxadm_bin().display()
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "console",
        "-x",
        "160",
        "-y",
        "48",
        &command,
    ]);
    assert!(
        started.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    tmux
}

/// Quits with `q` and checks that the console and every node it started are gone.
fn quit_and_check_clean_exit(tmux: &Tmux, tmp: &Path) {
    tmux.keys("Escape");
    // An Escape followed at once by `q` can reach the terminal as one Alt-q sequence (on a
    // loaded machine), so wait until the pop-up is gone before quitting.
    let start = Instant::now();
    while tmux.screen().contains("Esc closes") && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(500));
        if tmux.screen().contains("Esc closes") {
            tmux.keys("Escape");
        }
    }
    tmux.keys("q");
    let start = Instant::now();
    while (tmux.alive() || demo_nodes_running(tmp) > 0) && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !tmux.alive(),
        "pxadm did not exit after q; screen:\n{}",
        tmux.screen()
    );
    assert_eq!(demo_nodes_running(tmp), 0, "nodes left running after quit");
}

#[test]
fn demo_console_shows_stuck_state_applies_fix_and_shows_convergence() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = start_demo(tmp.path(), "fix");

    // The scenario's step 4: exactly the three version-1 modules are stuck.
    let screen = tmux.wait_for("CRITICAL 3 findings", Duration::from_secs(60));
    assert!(screen.contains("stuck at version 1"), "{screen}");
    assert!(screen.contains("act on node1"), "{screen}");
    assert!(screen.contains("CRITICAL"), "{screen}");
    assert_eq!(demo_nodes_running(tmp.path()), 2, "both demo nodes run");

    tmux.keys("f");
    let confirm = tmux.wait_for("LOAD MYSQL QUERY RULES TO RUNTIME", Duration::from_secs(10));
    assert!(confirm.contains("node1"), "{confirm}");
    tmux.keys("y");

    let converged = tmux.wait_for(
        "Every module holds the same checksum",
        Duration::from_secs(60),
    );
    assert!(converged.contains("OK"), "{converged}");
    assert!(!converged.contains("stuck at version 1"), "{converged}");

    quit_and_check_clean_exit(&tmux, tmp.path());
}

#[tokio::test]
async fn a_failover_drill_started_from_the_console_shows_the_outage_and_the_proof() {
    // The drill writes to the lab primary through its VIP.
    common::lab().await;
    let tmp = tempfile::tempdir().unwrap();
    let tmux = start_demo(tmp.path(), "drill");
    tmux.wait_for("CRITICAL 3 findings", Duration::from_secs(60));

    tmux.keys("4");
    // The demo nodes run the scenario's VRRP instance: node1 (priority 100) holds the VIP.
    tmux.wait_for("VRRP · stats_pxadm_vrrp", Duration::from_secs(10));
    let ha = tmux.wait_for("MASTER", Duration::from_secs(20));
    assert!(ha.contains("held by node1"), "{ha}");
    assert!(ha.contains("BACKUP"), "{ha}");
    tmux.wait_for("(or :drill) runs a failover drill", Duration::from_secs(10));
    tmux.keys("D");
    let confirm = tmux.wait_for("Failover drill", Duration::from_secs(10));
    assert!(confirm.contains("kill -9 the VIP holder"), "{confirm}");
    tmux.keys("y");

    // Live: the holder is killed, the survivor takes the VIP, writes resume.
    tmux.wait_for("Failover drill · scenario timing", Duration::from_secs(10));
    let live = tmux.wait_for(", the VIP holder)", Duration::from_secs(60));
    assert!(live.contains("kill -9"), "{live}");
    let resumed = tmux.wait_for("INSERTs acknowledged again after", Duration::from_secs(60));
    assert!(resumed.contains("holds the VIP"), "{resumed}");
    // The end: the report's figures and the proof that nothing acknowledged was lost.
    let done = tmux.wait_for(
        "drill finished: every acknowledged INSERT",
        Duration::from_secs(90),
    );
    assert!(done.contains("none lost"), "{done}");
    assert!(done.contains("outage "), "{done}");
    assert!(done.contains("detection "), "{done}");
    assert!(!done.contains("MISSING"), "{done}");

    // A fault on a watched node: kill node1 (the VIP holder) and see the VIP move to node2.
    tmux.keys("K");
    tmux.wait_for("Kill node1", Duration::from_secs(10));
    tmux.keys("y");
    let moved = tmux.wait_for("held by node2", Duration::from_secs(30));
    assert!(
        moved.contains("node1 unreachable") || moved.contains("down"),
        "{moved}"
    );

    quit_and_check_clean_exit(&tmux, tmp.path());
}

#[test]
fn reseed_from_the_node_view_fixes_the_stuck_demo_in_one_step() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = start_demo(tmp.path(), "reseed");
    tmux.wait_for("CRITICAL 3 findings", Duration::from_secs(60));

    // The node view of node1 reads its layers (the first read comes at once).
    tmux.keys("3");
    let node = tmux.wait_for("re-seeds this node", Duration::from_secs(30));
    assert!(
        node.contains("Layers · MEMORY (M) · RUNTIME (R) · DISK (D)"),
        "{node}"
    );
    assert!(node.contains("MYSQL QUERY RULES"), "{node}");

    tmux.keys("S");
    let confirm = tmux.wait_for("Re-seed node1", Duration::from_secs(10));
    assert!(
        confirm.contains("LOAD MYSQL QUERY RULES TO RUNTIME"),
        "{confirm}"
    );
    assert!(
        confirm.contains("LOAD MYSQL SERVERS TO RUNTIME"),
        "{confirm}"
    );
    tmux.keys("y");
    tmux.wait_for("re-seed node1: done", Duration::from_secs(30));

    tmux.keys("1");
    let converged = tmux.wait_for(
        "Every module holds the same checksum",
        Duration::from_secs(60),
    );
    assert!(!converged.contains("stuck at version 1"), "{converged}");

    quit_and_check_clean_exit(&tmux, tmp.path());
}
