//! End to end: the console (the real `pxadm` binary in tmux) on two real `pxadm node`s that
//! route the scenario's user (svcusr) to the MariaDB lab. A client runs `SELECT SLEEP(30)`
//! through one node; in the Processlist view (8) the DBA filters to that session, presses x
//! and confirms with y: the client's query fails, its connection is gone, and the
//! processlist no longer shows it.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{admin_opts, lab, pxadm_bin, Lab, TestNode, HOST};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

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

    fn literal(&self, text: &str) {
        self.run(&["send-keys", "-t", "console", "-l", text]);
    }

    /// Waits until `ok(screen)`; panics with the screen otherwise.
    async fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("{what}: not within {timeout:?}; screen:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// A node with a traffic port and the lab's primary as its only backend (hostgroup 10).
async fn proxy(lab: &Lab) -> (TestNode, u16) {
    let port = common::free_port();
    let node = TestNode::builder()
        .arg("--mysql")
        .arg(format!("{HOST}:{port}"))
        .start()
        .await;
    let mut admin = node.admin().await;
    for s in [
        format!(
            "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}','{}',10)",
            Lab::APP.0,
            Lab::APP.1
        ),
        format!(
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (10,'{HOST}',{})",
            lab.primary
        ),
        "LOAD MYSQL SERVERS TO RUNTIME".to_owned(),
        "LOAD MYSQL USERS TO RUNTIME".to_owned(),
    ] {
        admin
            .query_drop(&s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    (node, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_connection_from_the_console_processlist_ends_the_clients_session() {
    let lab = lab().await;
    let (n1, _) = proxy(lab).await;
    let (n2, port2) = proxy(lab).await;

    // The sleeper, through node 2.
    let mut conn = Conn::new(admin_opts(port2, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)))
        .await
        .unwrap_or_else(|e| panic!("cannot connect through the proxy on {port2}: {e}"));
    let sleeper = tokio::spawn(async move {
        let r: Result<Vec<u64>, _> = conn.query("SELECT SLEEP(30)").await;
        // After a kill the connection must be unusable too.
        let after: Result<Vec<u64>, _> = conn.query("SELECT 1").await;
        (
            r.map_err(|e| e.to_string()),
            after.map_err(|e| e.to_string()),
        )
    });

    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let tmux = Tmux {
        socket: format!("pxadm-test-kill-{}", std::process::id()),
    };
    let command = format!(
        "env HOME={home} XDG_CONFIG_HOME={home} PXADM_LOOPBACK_ONLY=1 {bin} console -n n1=admin:admin@{a1} -n n2=admin:admin@{a2} 2>{tmp}/stderr",
        home = home.display(),
        tmp = tmp.path().display(),
        bin = pxadm_bin().display(),
        a1 = n1.admin_addr(),
        a2 = n2.admin_addr(),
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
    tmux.wait_until("the console is up", Duration::from_secs(60), |s| {
        s.contains("2/2 nodes up")
    })
    .await;

    // Processlist: the sleeping session shows, on node 2.
    tmux.keys("8");
    tmux.wait_until(
        "the sleeper in the processlist",
        Duration::from_secs(30),
        |s| s.contains("SELECT SLEEP(30)"),
    )
    .await;
    // Filter down to it so the cursor is on it whatever else runs.
    tmux.keys("/");
    tmux.literal("SLEEP(30)");
    tmux.keys("Enter");
    let screen = tmux
        .wait_until("only the sleeper listed", Duration::from_secs(20), |s| {
            s.contains("Processlist: 1 session(s)")
        })
        .await;
    let line = screen
        .lines()
        .find(|l| l.contains("SELECT SLEEP(30)"))
        .unwrap_or_default()
        .to_owned();
    assert!(line.contains("n2"), "owned by n2: {line}\n{screen}");

    tmux.keys("x");
    let confirm = tmux
        .wait_until("the confirmation", Duration::from_secs(10), |s| {
            s.contains("KILL CONNECTION") && s.contains("on n2")
        })
        .await;
    assert!(confirm.contains("SLEEP(30)"), "{confirm}");
    tmux.keys("y");

    // The client's query fails and its connection is gone.
    let (r, after) = tokio::time::timeout(Duration::from_secs(60), sleeper)
        .await
        .expect("the sleeper ends")
        .expect("sleeper task");
    assert!(r.is_err(), "the killed query still answered: {r:?}");
    assert!(
        after.is_err(),
        "the killed connection still answers: {after:?}"
    );

    // The processlist no longer shows it.
    tmux.wait_until(
        "the session gone from the processlist",
        Duration::from_secs(30),
        |s| s.contains("Processlist: 0 session(s)") && !s.contains("SELECT SLEEP(30)"),
    )
    .await;

    // X says that the admin port has no KILL QUERY rather than sending one.
    tmux.keys("Escape");
    tmux.keys("X");
    tmux.wait_until("the KILL QUERY notice", Duration::from_secs(10), |s| {
        s.contains("does not accept it")
    })
    .await;
    tmux.keys("q");
}
