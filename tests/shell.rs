//! `pxadm shell` and `pxadm -e` against real `pxadm node` processes: through a pseudo-terminal
//! (rexpect) for what a person types, and through pipes for what scripts do, compared byte for
//! byte with the real `mariadb` client where both apply.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    admin_conn, free_port, mariadb_cli, mariadb_cli_args, pxadm_bin, query_rows, TestNode,
    ADMIN_PASS, ADMIN_USER, HOST,
};
use mysql_async::prelude::Queryable;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// Longest a piped pxadm run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest any expectation on the terminal may wait.
const PTY_TIMEOUT_MS: u64 = 30_000;
/// A statement that keeps a debug-built node busy for many seconds.
const SLOW: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50000000) SELECT count(*) FROM c;";

fn scenario(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scenario")
        .join(file)
}

/// A node that may be given the scenario's cluster SQL: it refuses non-loopback peers, and the
/// scenario's 192.168.0.11/12 are mapped onto loopback ports nobody listens on.
async fn scenario_node() -> TestNode {
    TestNode::builder()
        .env("PXADM_LOOPBACK_ONLY", "1")
        .arg("--peer-map")
        .arg(format!("192.168.0.11:6032={HOST}:{}", free_port()))
        .arg("--peer-map")
        .arg(format!("192.168.0.12:6032={HOST}:{}", free_port()))
        .start()
        .await
}

async fn plain_node() -> TestNode {
    TestNode::builder()
        .env("PXADM_LOOPBACK_ONLY", "1")
        .start()
        .await
}

/// A private HOME, so no `~/.my.cnf`, config or history of the machine leaks into a test.
fn home() -> TempDir {
    tempfile::Builder::new()
        .prefix("pxadm-shell-home-")
        .tempdir()
        .expect("temporary HOME")
}

fn isolate(cmd: &mut std::process::Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TERM", "xterm")
        .env_remove("MYSQL_PWD");
}

fn node_flag(name: &str, node: &TestNode) -> String {
    format!(
        "{name}={ADMIN_USER}:{ADMIN_PASS}@{HOST}:{}",
        node.admin_port()
    )
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs pxadm with `stdin` piped in (so it is not a terminal).
async fn run_piped(args: &[String], stdin: &str, home: &Path, env: &[(&str, &str)]) -> Run {
    let mut std_cmd = std::process::Command::new(pxadm_bin());
    isolate(&mut std_cmd, home);
    std_cmd.args(args).envs(env.iter().copied());
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn pxadm");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("pxadm ran too long")
        .expect("pxadm output");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

fn mysql_flags(node: &TestNode) -> Vec<String> {
    vec![
        "-u".into(),
        ADMIN_USER.into(),
        format!("-p{ADMIN_PASS}"),
        "-h".into(),
        HOST.into(),
        "-P".into(),
        node.admin_port().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_source_runs_the_scenario_sql_files() {
    let node = scenario_node().await;
    let home = home();
    let script = format!(
        "\\source {}\n\\. {}\nsource {};\nSELECT hostname, port, comment FROM runtime_proxysql_servers ORDER BY hostname;\nSELECT variable_value FROM runtime_global_variables WHERE variable_name IN ('admin-cluster_username', 'mysql-monitor_username') ORDER BY variable_name;\n",
        scenario("node-cluster-setup.sql").display(),
        scenario("node2-monitor.sql").display(),
        scenario("fix-on-candidate-master.sql").display(),
    );
    let mut args = vec!["shell".to_owned()];
    args.extend(mysql_flags(&node));
    let run = run_piped(&args, &script, home.path(), &[]).await;
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "hostname\tport\tcomment\n192.168.0.11\t6032\tproxysql_node1\n192.168.0.12\t6032\tproxysql_node2\nvariable_value\ncluster_user\nmonitor\n"
    );
    // The same SELECTs through the real client print exactly the same bytes.
    let selects = script.lines().skip(3).collect::<Vec<_>>().join("\n");
    let maria = mariadb_cli(node.admin_port(), ADMIN_USER, ADMIN_PASS, selects.as_str()).await;
    assert_eq!(maria.expect_success(), run.stdout);
    // And the node really holds what the files configured.
    let mut conn = node.admin().await;
    let rows = query_rows(
        &mut conn,
        "SELECT variable_value FROM global_variables WHERE variable_name = 'admin-cluster_check_interval_ms'",
    )
    .await;
    assert_eq!(rows, [[Some("1000".to_owned())]]);
    conn.disconnect().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_errors_stop_the_script_like_the_mysql_client() {
    let node = plain_node().await;
    let home = home();
    let dir = home.path().to_path_buf();
    let script = "SELECT 1 AS a;\nSELECT *\n  FROM nosuch;\nSELECT 2 AS b;\n";
    let file = common::write_file(&dir, "errors.sql", script);
    let mut args = vec!["shell".to_owned()];
    args.extend(mysql_flags(&node));
    let run = run_piped(&args, script, home.path(), &[]).await;
    // MariaDB's client also echoes the failing statement unless told not to; the mysql client
    // (and pxadm) print the error line alone.
    let maria = mariadb_cli_args(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        &file,
        &["--skip-print-query-on-error"],
    )
    .await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "ERROR 1045 (28000) at line 2: ProxySQL Admin Error: no such table: nosuch\n"
    );
    assert_eq!(run.stdout, "a\n1\n");
    assert_eq!(maria.stdout, run.stdout, "same output as mariadb < file");
    assert_eq!(
        maria.stderr, run.stderr,
        "same error line as mariadb < file"
    );
    assert_eq!(maria.status.code(), run.code);

    // -f goes on after the error but still reports the failure in the exit status.
    args.push("-f".into());
    let forced = run_piped(&args, script, home.path(), &[]).await;
    assert_eq!(forced.code, Some(1));
    assert_eq!(forced.stdout, "a\n1\nb\n2\n");

    // A sourced file's error names the file.
    let sourcing = format!("\\source {}\n", file.display());
    args.pop();
    let run = run_piped(&args, &sourcing, home.path(), &[]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "ERROR 1045 (28000) at line 2 in file: '{}': ProxySQL Admin Error: no such table: nosuch\n",
            file.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_all_runs_on_three_nodes() {
    let nodes = [plain_node().await, plain_node().await, plain_node().await];
    let home = home();
    let mut args = vec!["shell".to_owned()];
    for (i, n) in nodes.iter().enumerate() {
        args.push("-n".into());
        args.push(node_flag(&format!("node{}", i + 1), n));
    }
    let script = "\\all SELECT name, version FROM runtime_checksums_values WHERE name = 'mysql_query_rules';\n\\all UPDATE global_variables SET variable_value = 'pxadm' WHERE variable_name = 'mysql-monitor_username';\n\\all SELECT variable_value FROM global_variables WHERE variable_name = 'mysql-monitor_username';\n";
    let run = run_piped(&args, script, home.path(), &[]).await;
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(
        run.stdout,
        "node\tname\tversion\nnode1\tmysql_query_rules\t1\nnode2\tmysql_query_rules\t1\nnode3\tmysql_query_rules\t1\n\
         node\tvariable_value\nnode1\tpxadm\nnode2\tpxadm\nnode3\tpxadm\n"
    );
    // Every node really ran the UPDATE.
    for n in &nodes {
        let mut c = n.admin().await;
        let rows = query_rows(
            &mut c,
            "SELECT variable_value FROM global_variables WHERE variable_name = 'mysql-monitor_username'",
        )
        .await;
        assert_eq!(rows, [[Some("pxadm".to_owned())]]);
        c.disconnect().await.ok();
    }

    // A node that is down: the others still answer; the failure is reported and fails the run.
    let dead = free_port();
    args.push("-n".into());
    args.push(format!("node4={ADMIN_USER}:{ADMIN_PASS}@{HOST}:{dead}"));
    let run = run_piped(&args, "\\all SELECT 1 AS one;\n", home.path(), &[]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "node\tone\nnode1\t1\nnode2\t1\nnode3\t1\n");
    assert!(
        run.stderr.starts_with(&format!(
            "node4: ERROR 2003 (HY000): Can't connect to server on '{HOST}:{dead}'"
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dash_e_and_the_mysql_connection_options() {
    let node = plain_node().await;
    let home = home();
    let sql = "SELECT name, version, checksum FROM runtime_checksums_values ORDER BY name";
    let mut args = mysql_flags(&node);
    args.extend(["-e".to_owned(), sql.to_owned()]);
    let run = run_piped(&args, "", home.path(), &[]).await;
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let maria = mariadb_cli(node.admin_port(), ADMIN_USER, ADMIN_PASS, sql).await;
    assert_eq!(run.stdout, maria.expect_success(), "same bytes as mysql -e");
    assert_eq!(run.stdout.lines().count(), 8);

    // -N and -t like the mysql client.
    let mut args = mysql_flags(&node);
    args.extend(["-N".into(), "-e".into(), "SELECT 1 AS x".into()]);
    assert_eq!(run_piped(&args, "", home.path(), &[]).await.stdout, "1\n");
    let mut args = mysql_flags(&node);
    args.extend(["-t".into(), "-e".into(), "SELECT 1 AS x".into()]);
    let table = run_piped(&args, "", home.path(), &[]).await.stdout;
    let maria = mariadb_cli_args(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1 AS x",
        &["-t"],
    )
    .await;
    assert_eq!(table, maria.expect_success());

    // MYSQL_PWD instead of -p.
    let port = node.admin_port().to_string();
    let args: Vec<String> = ["-u", ADMIN_USER, "-P", &port, "-e", "SELECT 2 AS y"]
        .map(str::to_owned)
        .to_vec();
    let run = run_piped(&args, "", home.path(), &[("MYSQL_PWD", ADMIN_PASS)]).await;
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "y\n2\n"));

    // ~/.my.cnf's [client] section.
    common::write_file(
        home.path(),
        ".my.cnf",
        &format!("[mysqld]\nport=1\n[client]\nuser={ADMIN_USER}\npassword=\"{ADMIN_PASS}\"\nport={port}\n"),
    );
    let args: Vec<String> = ["-e", "SELECT 3 AS z"].map(str::to_owned).to_vec();
    let run = run_piped(&args, "", home.path(), &[]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), "z\n3\n"),
        "{}",
        run.stderr
    );

    // A refused login: the server's error, exit 1, and the password appears nowhere.
    let args: Vec<String> = [
        "-u",
        ADMIN_USER,
        "-pN0tThePassword",
        "-P",
        &port,
        "-e",
        "SELECT 1",
    ]
    .map(str::to_owned)
    .to_vec();
    let run = run_piped(&args, "", home.path(), &[]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "ERROR 1045 (28000): ProxySQL Error: Access denied for user 'admin'@'127.0.0.1' (using password: YES)\n"
    );
    assert!(!run.stdout.contains("N0tThePassword") && !run.stderr.contains("N0tThePassword"));

    // A bare -p with no terminal to ask on fails cleanly instead of reading stdin.
    let mut cmd = std::process::Command::new(pxadm_bin());
    isolate(&mut cmd, home.path());
    cmd.args(["-u", ADMIN_USER, "-p", "-P", &port, "-e", "SELECT 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid in the child before exec; it only detaches from the controlling terminal.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no terminal to ask for the password"),
        "{stderr}"
    );
}

/// `sh -c 'stty echo; exec pxadm ...'`: rexpect turns the terminal's echo off, a real terminal
/// has it on, and the password test must prove pxadm itself keeps the password off the screen.
fn terminal_command(args: &[String], home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("stty echo cols 200 rows 50 && exec \"$0\" \"$@\"")
        .arg(pxadm_bin())
        .args(args);
    isolate(&mut cmd, home);
    cmd
}

fn read_history(home: &Path) -> String {
    std::fs::read_to_string(home.join("data/pxadm/shell_history")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_shell_through_a_terminal() {
    let nodes = [plain_node().await, plain_node().await, plain_node().await];
    let home = home();
    let mut args = vec!["shell".to_owned()];
    for (i, n) in nodes.iter().enumerate() {
        args.push("-n".into());
        args.push(node_flag(&format!("node{}", i + 1), n));
    }
    let cmd = terminal_command(&args, home.path());
    let home_path = home.path().to_path_buf();
    let transcript = tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
        let mut s = rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS))?;
        let mut seen = s.exp_string("Admin> ")?;
        assert!(seen.contains("Connected to node1"), "{seen}");

        // TAB completes a table name read from the node.
        s.send("SELECT * FROM runtime_checksums_v")?;
        s.send("\t")?;
        s.flush()?;
        s.exp_string("runtime_checksums_values")?;
        s.send_line(" WHERE name = 'mysql_users';")?;
        seen = s.exp_string("1 row in set")?;
        assert!(seen.contains("| mysql_users |"), "{seen}");
        s.exp_string("Admin> ")?;

        // A statement over two lines, shown vertically.
        s.send_line("SELECT 1 AS a,")?;
        s.exp_string("    -> ")?;
        s.send_line("22 AS bb\\G")?;
        seen = s.exp_string("1 row in set")?;
        assert!(seen.contains(" a: 1") && seen.contains("bb: 22"), "{seen}");

        // An error from the node.
        s.send_line("SELECT * FROM nosuch;")?;
        s.exp_string("ERROR 1045 (28000): ProxySQL Admin Error: no such table: nosuch")?;

        // \all on the three nodes, with the merged checksum table.
        s.send_line("\\all SELECT * FROM runtime_checksums_values;")?;
        seen = s.exp_string("Merged across nodes:")?;
        for n in ["node1 (", "node2 (", "node3 ("] {
            assert!(seen.contains(n), "{seen}");
        }
        seen = s.exp_string("Admin> ")?;
        assert!(seen.contains("| node1 ") && seen.contains("| in sync |"), "{seen}");

        s.send_line("\\nodes")?;
        seen = s.exp_string("Admin> ")?;
        assert!(seen.contains("| * | 1 | node1 |") && seen.contains("| node3 "), "{seen}");

        // Fresh nodes have no cluster user: the diagnosis says so.
        s.send_line("\\diag")?;
        seen = s.exp_string("Admin> ")?;
        assert!(seen.contains("sync_disabled"), "{seen}");

        // Ctrl-C cancels a slow statement, not the shell.
        s.send_line(SLOW)?;
        std::thread::sleep(Duration::from_millis(1500));
        let interrupted = Instant::now();
        s.send_control('c')?;
        s.exp_string("Ctrl-C -- query aborted")?;
        assert!(
            interrupted.elapsed() < Duration::from_secs(5),
            "the statement was cancelled, not waited for"
        );
        s.exp_string("Admin> ")?;
        // node1 is still busy with it; node2 answers at once.
        s.send_line("\\use node2")?;
        s.exp_string("Now on node2")?;
        s.send_line("SELECT 7 AS seven;")?;
        seen = s.exp_string("1 row in set")?;
        assert!(seen.contains("| 7     |"), "{seen}");

        // A statement with a password is run but kept out of the history.
        s.send_line(
            "UPDATE global_variables SET variable_value = 'x' WHERE variable_name = 'admin-cluster_password';",
        )?;
        s.exp_string("Query OK, 1 row affected")?;

        // Ctrl-D leaves.
        s.send_control('d')?;
        s.exp_string("Bye")?;
        s.exp_eof()?;
        let status = s.process().wait()?;
        assert!(
            matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
            "{status:?}"
        );
        Ok(read_history(&home_path))
    })
    .await
    .expect("terminal thread");
    let history = transcript.unwrap_or_else(|e| panic!("terminal session: {e}"));
    assert!(
        history.contains("SELECT 1 AS a, 22 AS bb\\\\G"),
        "{history}"
    );
    assert!(history.contains("\\\\use node2"), "{history}");
    assert!(!history.contains("cluster_password"), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_prompt_never_shows_the_password() {
    const SECRET: &str = "Pa55-never-on-screen";
    let node = plain_node().await;
    let mut conn = admin_conn(node.admin_port(), ADMIN_USER, ADMIN_PASS).await;
    conn.query_drop(format!(
        "UPDATE global_variables SET variable_value = 'admin:{SECRET}' WHERE variable_name = 'admin-admin_credentials'"
    ))
    .await
    .unwrap();
    conn.query_drop("LOAD ADMIN VARIABLES TO RUNTIME")
        .await
        .unwrap();
    conn.disconnect().await.ok();

    let home = home();
    let port = node.admin_port().to_string();
    let args: Vec<String> = ["shell", "-u", ADMIN_USER, "-p", "-h", HOST, "-P", &port]
        .map(str::to_owned)
        .to_vec();
    let cmd = terminal_command(&args, home.path());
    let transcript =
        tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
            let mut s = rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS))?;
            let mut all = s.exp_string("Enter password: ")?;
            s.send_line(SECRET)?;
            all += &s.exp_string("Admin> ")?;
            s.send_line("SELECT 5 AS five;")?;
            all += &s.exp_string("1 row in set")?;
            s.send_line("\\q")?;
            all += &s.exp_eof()?;
            Ok(all)
        })
        .await
        .expect("terminal thread")
        .unwrap_or_else(|e| panic!("terminal session: {e}"));
    assert!(transcript.contains("Connected to"), "{transcript}");
    assert!(!transcript.contains(SECRET), "{transcript}");
}

/// Runs `program` with `args` under a private HOME and returns stdout, stderr and the status.
async fn run_program(program: &Path, args: &[String], home: &Path) -> Run {
    let mut std_cmd = std::process::Command::new(program);
    isolate(&mut std_cmd, home);
    std_cmd.args(args);
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
        .await
        .expect("ran too long")
        .expect("output");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_options_print_what_the_mariadb_client_prints() {
    let node = plain_node().await;
    let home = home();
    // A tab inside a value, an empty result (nothing at all, not a header) and a \G record.
    let sql = "SELECT 1 AS x, 'a' || char(9) || 'b\\c' AS y; SELECT * FROM mysql_servers; \
               SELECT 2 AS z, NULL AS n\\G";
    for options in [
        &[][..],
        &["-s"],
        &["-r"],
        &["-N"],
        &["-E"],
        &["-N", "-E"],
        &["-B"],
        &["-s", "-r"],
        &["-t"],
        &["--vertical", "--skip-column-names"],
        &["-D", "main"],
    ] {
        // --skip-ssl as the client is given it: accepted, pxadm never uses TLS.
        let mut args = vec!["--no-defaults".to_owned(), "--skip-ssl".to_owned()];
        args.extend(mysql_flags(&node));
        args.extend(options.iter().map(|o| o.to_string()));
        args.extend(["-e".to_owned(), sql.to_owned()]);
        let run = run_piped(&args, "", home.path(), &[]).await;
        let maria = mariadb_cli_args(node.admin_port(), ADMIN_USER, ADMIN_PASS, sql, options).await;
        let expected = maria.expect_success();
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (Some(0), expected),
            "pxadm {options:?} vs mariadb {options:?}; stderr: {}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn option_files_are_read_like_the_mariadb_client() {
    let node = plain_node().await;
    let home = home();
    let h = home.path();
    std::fs::create_dir_all(h.join("my.cnf.d")).unwrap();
    common::write_file(
        h,
        "my.cnf.d/10-port.cnf",
        &format!(
            "[client-mariadb]\nport = {} # the node\n",
            node.admin_port()
        ),
    );
    common::write_file(h, "my.cnf.d/ignored.txt", "[client]\nport=1\n");
    common::write_file(
        h,
        "password.cnf",
        &format!("[mysql]\npassword=\"{ADMIN_PASS}\"\n"),
    );
    common::write_file(h, "extra.cnf", "[client]\nloose-skip-column-names\n");
    common::write_file(
        h,
        ".my.cnf",
        &format!(
            "# written by hand\n[mysqld]\nport=3306\n[client]\nuser={ADMIN_USER}\nhost={HOST}\n\
             [client-mariadb]\nskip-ssl\n[mariadb-client]\nconnect-timeout=10\n\
             !include {0}/password.cnf\n!include {0}/missing.cnf\n!includedir {0}/my.cnf.d\n\
             [mysql]\nvertical\n",
            h.display()
        ),
    );
    let mariadb = PathBuf::from("mariadb");
    let print = |extra: &[&str]| {
        let mut a: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        a.push("--print-defaults".into());
        a
    };
    for choice in [
        vec![],
        vec!["--no-defaults".to_owned()],
        vec![format!("--defaults-file={}/password.cnf", h.display())],
        vec![format!("--defaults-extra-file={}/extra.cnf", h.display())],
    ] {
        let choice: Vec<&str> = choice.iter().map(String::as_str).collect();
        let ours = run_program(&pxadm_bin(), &print(&choice), h).await;
        let theirs = run_program(&mariadb, &print(&choice), h).await;
        assert_eq!(ours.code, Some(0), "{}", ours.stderr);
        assert_eq!(
            ours.stdout.replacen("pxadm", "mariadb", 1),
            theirs.stdout,
            "the same options for {choice:?}"
        );
    }
    // The options at work: user, host, port, password and \G records all from the files,
    // the same output as the client's.
    let sql = "SELECT 7 AS seven";
    let args = vec!["-e".to_owned(), sql.to_owned()];
    let ours = run_program(&pxadm_bin(), &args, h).await;
    let theirs = run_program(&mariadb, &args, h).await;
    assert_eq!(
        (theirs.code, ours.code),
        (Some(0), Some(0)),
        "{}",
        ours.stderr
    );
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(ours.stdout.contains("seven: 7"), "{}", ours.stdout);

    // Errors the client also refuses, worded as it words them.
    common::write_file(h, "bad.cnf", "\nuser=x\n[client]\n");
    let bad = format!("--defaults-file={}/bad.cnf", h.display());
    let ours = run_program(&pxadm_bin(), &[bad.clone(), "-e".into(), sql.into()], h).await;
    let theirs = run_program(&mariadb, &[bad, "-e".into(), sql.into()], h).await;
    assert_eq!((ours.code, theirs.code), (Some(1), Some(1)));
    let why = format!(
        "Found option without preceding group in config file: {}/bad.cnf at line: 2",
        h.display()
    );
    assert!(theirs.stderr.contains(&why), "{}", theirs.stderr);
    assert!(ours.stderr.contains(&why), "{}", ours.stderr);
    let missing = format!("--defaults-file={}/absent.cnf", h.display());
    let ours = run_program(&pxadm_bin(), &[missing, "-e".into(), sql.into()], h).await;
    assert_eq!(ours.code, Some(1));
    assert!(
        ours.stderr
            .contains("Could not open required defaults file"),
        "{}",
        ours.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_word_after_a_bare_p_is_the_database_as_for_the_mariadb_client() {
    let node = plain_node().await;
    let home = home();
    let port = node.admin_port().to_string();
    let args: Vec<String> = [
        "--no-defaults",
        "-u",
        ADMIN_USER,
        "-p",
        "admin",
        "-h",
        HOST,
        "-P",
        &port,
        "-e",
        "SELECT 8 AS eight",
    ]
    .map(str::to_owned)
    .to_vec();
    // Both ask for the password on the terminal; what was typed there logs in.
    let session = |program: PathBuf, extra: &'static [&'static str], args: Vec<String>| {
        let home = home.path().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
            let mut cmd = std::process::Command::new(program);
            isolate(&mut cmd, &home);
            cmd.args(&args[..1]).args(extra).args(&args[1..]);
            let mut s = rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS))?;
            let mut all = s.exp_string("Enter password: ")?;
            s.send_line(ADMIN_PASS)?;
            all += &s.exp_eof()?;
            Ok(all)
        })
    };
    let ours = session(pxadm_bin(), &[], args.clone())
        .await
        .unwrap()
        .unwrap();
    let theirs = session("mariadb".into(), &["--skip-ssl", "--protocol=TCP"], args)
        .await
        .unwrap()
        .unwrap();
    let table = |t: &str| -> String {
        t.lines()
            .filter(|l| l.starts_with('|') || l.starts_with('+'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(ours.contains("| eight |"), "{ours}");
    assert_eq!(
        table(&ours),
        table(&theirs),
        "pxadm:\n{ours}\nmariadb:\n{theirs}"
    );
    assert!(
        ours.contains("'admin' after -p is the database") && ours.contains("-padmin"),
        "{ours}"
    );
}

/// Types `lines` into `cmd` on a terminal, waiting for the prompt (or `->` where a statement
/// stays open) after each, and returns the transcript.
fn type_at_the_prompt(
    cmd: std::process::Command,
    lines: &[(&str, &str)],
) -> Result<String, rexpect::error::Error> {
    let mut s = rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS))?;
    let mut all = s.exp_string("Admin> ")?;
    for (line, wait_for) in lines {
        s.send_line(line)?;
        all += &s.exp_string(wait_for)?;
    }
    s.send_line("\\q")?;
    all += &s.exp_eof()?;
    Ok(all.replace('\r', ""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pager_tee_clear_edit_system_and_status_as_in_the_mariadb_client() {
    let node = plain_node().await;
    let home = home();
    let h = home.path().to_path_buf();
    let port = node.admin_port().to_string();
    let script = move |tee: String| -> Vec<(String, &'static str)> {
        vec![
            ("pager sed 's/^/P: /'".into(), "Admin> "),
            ("SELECT 1 AS x;".into(), "Admin> "),
            ("nopager".into(), "Admin> "),
            (format!("tee {tee}"), "Admin> "),
            ("SELECT 2 AS y;".into(), "Admin> "),
            ("notee".into(), "Admin> "),
            ("SELECT 3 AS z \\c".into(), "Admin> "),
            ("SELECT 41 AS v \\e".into(), "-> "),
            (";".into(), "Admin> "),
            ("\\! echo sys-$((40+2))".into(), "Admin> "),
            ("\\s".into(), "Admin> "),
        ]
    };
    let run = |program: PathBuf, args: Vec<String>, tee: String| {
        let h = h.clone();
        let lines = script(tee);
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c")
                .arg("stty echo cols 200 rows 50 && exec \"$0\" \"$@\"")
                .arg(program)
                .args(args);
            isolate(&mut cmd, &h);
            // The edit: 41 becomes 42 in the file the editor is given.
            cmd.env("EDITOR", "sed -i s/41/42/").env_remove("VISUAL");
            let lines: Vec<(&str, &str)> = lines.iter().map(|(l, w)| (l.as_str(), *w)).collect();
            type_at_the_prompt(cmd, &lines)
        })
    };
    let ours_tee = h.join("pxadm.tee").display().to_string();
    let theirs_tee = h.join("mariadb.tee").display().to_string();
    let mut ours_args: Vec<String> = vec!["shell".into(), "--no-defaults".into()];
    ours_args.extend(mysql_flags(&node));
    let ours = run(pxadm_bin(), ours_args, ours_tee.clone())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("pxadm on a terminal: {e}"));
    let theirs_args: Vec<String> = [
        "--no-defaults",
        "--skip-ssl",
        "--protocol=TCP",
        "-u",
        ADMIN_USER,
        &format!("-p{ADMIN_PASS}"),
        "-h",
        HOST,
        "-P",
        &port,
        "--prompt=Admin> ",
    ]
    .map(str::to_owned)
    .to_vec();
    let theirs = run("mariadb".into(), theirs_args, theirs_tee.clone())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("mariadb on a terminal: {e}"));

    // The lines both print for the commands and the tables, in order.
    let shown = |t: &str, tee: &str| -> Vec<String> {
        t.replace(tee, "TEE")
            .lines()
            .map(str::trim_end)
            .filter(|l| {
                [
                    "P: +",
                    "P: |",
                    "PAGER set",
                    "Logging to",
                    "Outfile",
                    "| ",
                    "+-",
                    "sys-",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .map(str::to_owned)
            .collect()
    };
    let ours_lines = shown(&ours, &ours_tee);
    assert_eq!(
        ours_lines,
        shown(&theirs, &theirs_tee),
        "pxadm:\n{ours}\nmariadb:\n{theirs}"
    );
    for expected in [
        "P: | x |",
        "PAGER set to stdout",
        "| y |",
        "| 42 |",
        "sys-42",
    ] {
        assert!(
            ours_lines.iter().any(|l| l == expected),
            "{expected}: {ours}"
        );
    }
    assert!(!ours.contains("| z |"), "\\c dropped the statement: {ours}");
    // \s: the client's layout for what applies to an admin connection.
    for label in [
        "Connection id:\t\t",
        "Current user:\t\t",
        "Current database:\t",
        "Using delimiter:\t;",
    ] {
        assert!(
            ours.contains(label) && theirs.contains(label),
            "{label}: {ours}"
        );
    }
    // The tee files hold the same tables.
    let table_lines = |path: &str| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with('|') || l.starts_with('+'))
            .map(str::to_owned)
            .collect()
    };
    let teed = table_lines(&ours_tee);
    assert!(teed.iter().any(|l| l == "| y |"), "{teed:?}");
    assert_eq!(teed, table_lines(&theirs_tee));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dash_b_with_a_script_on_stdin_is_the_mariadb_clients_batch_mode() {
    let node = plain_node().await;
    let home = home();
    let script = "SELECT 1 AS a, 'x' AS b;\nSELECT * FROM mysql_servers;\nSELECT 2 AS c\\G\n";
    let path = common::write_file(home.path(), "script.sql", script);
    let mut args = vec!["--no-defaults".to_owned(), "-B".to_owned()];
    args.extend(mysql_flags(&node));
    let run = run_piped(&args, script, home.path(), &[]).await;
    let maria = mariadb_cli_args(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        common::CliInput::File(&path),
        &["-B"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, maria.expect_success());
    // Without a connection option, --batch alone still asks for a batch command.
    let run = run_piped(&["--batch".to_owned()], "", home.path(), &[]).await;
    assert_eq!(run.code, Some(3));
    assert!(
        run.stderr.contains("--batch needs a command"),
        "{}",
        run.stderr
    );
}

/// `~/.mylogin.cnf` as MySQL's `mysql_config_editor` writes it: 4 unused bytes, a 20-byte key
/// folded into an AES-128 key, then each line AES-128-ECB encrypted with its length before it.
fn mylogin_cnf(text: &str) -> Vec<u8> {
    use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
    let key: [u8; 20] = *b"integration-test-key";
    let mut aes_key = [0u8; 16];
    for (i, b) in key.iter().enumerate() {
        aes_key[i % 16] ^= b;
    }
    let cipher = aes::Aes128::new(&GenericArray::from(aes_key));
    let mut out = vec![0u8; 4];
    out.extend_from_slice(&key);
    for line in text.split_inclusive('\n') {
        let mut plain = line.as_bytes().to_vec();
        let pad = 16 - plain.len() % 16;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        for block in plain.chunks_mut(16) {
            cipher.encrypt_block(GenericArray::from_mut_slice(block));
        }
        out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        out.extend_from_slice(&plain);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_path_of_mylogin_cnf_logs_in() {
    let node = plain_node().await;
    let home = home();
    let closed_port = free_port();
    std::fs::write(
        home.path().join(".mylogin.cnf"),
        mylogin_cnf(&format!(
            "[client]\nuser = \"{ADMIN_USER}\"\nport = {closed_port}\n[lab]\npassword = \"{ADMIN_PASS}\"\nhost = \"{HOST}\"\nport = {}\n",
            node.admin_port()
        )),
    )
    .unwrap();
    let sql = "SELECT 9 AS nine";
    let run = run_piped(
        &["--login-path=lab".into(), "-e".into(), sql.into()],
        "",
        home.path(),
        &[],
    )
    .await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), "nine\n9\n"),
        "{}",
        run.stderr
    );
    // Without the login path only [client] applies: its port has no listener.
    let run = run_piped(&["-e".into(), sql.into()], "", home.path(), &[]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains(&format!(":{closed_port}")),
        "{}",
        run.stderr
    );
}
