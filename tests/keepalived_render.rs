//! `pxadm keepalived render` against the real tools: Debian's keepalived accepts every
//! rendered config (`keepalived -t`), and the rendered SQL check passes on a live `pxadm node`,
//! fails while the node is paused (SIGSTOP: the report's `ps | grep` check still passes then)
//! and passes again once it runs. Needs the MariaDB lab for the proxy's backend; the
//! `keepalived -t` part needs root and keepalived and says SKIPPED otherwise.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, lab, pxadm_bin, query_rows, write_file, Lab, Signal, TestNode, HOST};

/// Renders `nodes` into `dir/rendered` with the CLI and returns that directory.
fn render(dir: &Path, nodes: &str, extra: &[&str]) -> PathBuf {
    let nodes_file = write_file(dir, "nodes.toml", nodes);
    let rendered = dir.join("rendered");
    let out = Command::new(pxadm_bin())
        .args(["keepalived", "render", "--nodes"])
        .arg(&nodes_file)
        .arg("--out")
        .arg(&rendered)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    rendered
}

/// A two-node description on `lo` whose scripts live in `rendered`.
fn description(rendered: &Path, traffic_port: u16) -> String {
    format!(
        "virtual_router_id = 51\nauth_pass = \"1234\"\nvip = \"127.0.0.99/32\"\n\
         port = {traffic_port}\ninterface = \"lo\"\nnotify = \"{r}/notify.sh\"\n\n\
         [check]\nscript = \"{r}/check_proxy.sh\"\nkind = \"sql\"\nuser = \"{user}\"\n\
         password = \"{pass}\"\ninterval = 2\nfall = 2\nweight = -20\n\n\
         [[node]]\nname = \"node1\"\naddress = \"127.0.0.11\"\nstate = \"MASTER\"\npriority = 100\n\n\
         [[node]]\nname = \"node2\"\naddress = \"127.0.0.12\"\nstate = \"BACKUP\"\npriority = 90\n",
        r = rendered.display(),
        user = Lab::APP.0,
        pass = Lab::APP.1,
    )
}

/// Runs the check script to its end (it bounds itself with timeout(1); 30 s here only
/// guards against a script that does not) and returns whether it passed.
fn check_passes(script: &Path) -> bool {
    let mut child = Command::new(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not end within 30 s", script.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rendered_files_have_the_right_modes_and_keep_secrets_out_of_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered");
    let out = render(dir.path(), &description(&rendered, 6033), &[]);
    let mode = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("check_proxy.sh"), 0o755);
    assert_eq!(mode("notify.sh"), 0o755);
    assert_eq!(mode("check_proxy.cnf"), 0o600);
    assert_eq!(mode("keepalived-node1.conf"), 0o644);
    let script = std::fs::read_to_string(out.join("check_proxy.sh")).unwrap();
    assert!(
        !script.contains(Lab::APP.1),
        "password in the script:\n{script}"
    );

    // --check process puts the report's ps | grep check back, without credentials.
    let again = render(
        dir.path(),
        &description(&rendered, 6033),
        &["--check", "process"],
    );
    let script = std::fs::read_to_string(again.join("check_proxy.sh")).unwrap();
    assert!(script.contains("ps -ef | grep"), "{script}");
}

#[test]
fn keepalived_accepts_every_rendered_config() {
    let Some(keepalived) = ["/usr/sbin/keepalived", "/sbin/keepalived"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        eprintln!("SKIPPED keepalived_accepts_every_rendered_config: keepalived is not installed");
        return;
    };
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED keepalived_accepts_every_rendered_config: iproute2's ip is missing");
        return;
    }
    if !running_as_root() {
        eprintln!("SKIPPED keepalived_accepts_every_rendered_config: keepalived -t needs root");
        return;
    }
    // keepalived refuses a loopback interface and the host's own must not be used: the configs
    // name `eth0`, one end of a veth pair inside a namespace this test creates and removes.
    let ns = Namespace::new();
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered");
    for (nodes, extra) in [
        (description(&rendered, 6033), vec![]),
        (description(&rendered, 6033), vec!["--check", "process"]),
    ] {
        let out = render(dir.path(), &nodes.replace("\"lo\"", "\"eth0\""), &extra);
        for conf in ["keepalived-node1.conf", "keepalived-node2.conf"] {
            let path = out.join(conf);
            let test = Command::new("ip")
                .args(["netns", "exec", &ns.0])
                .arg(&keepalived)
                .arg("-t")
                .arg("-f")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                test.status.success(),
                "keepalived -t rejects {conf} ({extra:?}): {}{}\n{}",
                String::from_utf8_lossy(&test.stdout),
                String::from_utf8_lossy(&test.stderr),
                std::fs::read_to_string(&path).unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_check_fails_on_a_paused_proxy_and_passes_again_when_it_runs() {
    let lab = lab().await;
    let traffic_port = free_port();
    let mut node = TestNode::builder()
        .arg("--mysql")
        .arg(format!("{HOST}:{traffic_port}"))
        .start()
        .await;
    {
        let mut admin = node.admin().await;
        for sql in [
            format!(
                "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, '{HOST}', {})",
                lab.primary
            ),
            format!(
                "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}', '{}', 0)",
                Lab::APP.0,
                Lab::APP.1
            ),
            "LOAD MYSQL SERVERS TO RUNTIME".into(),
            "LOAD MYSQL USERS TO RUNTIME".into(),
        ] {
            query_rows(&mut admin, &sql).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered");
    let out = render(dir.path(), &description(&rendered, traffic_port), &[]);
    let script = out.join("check_proxy.sh");
    let blocking = |script: PathBuf| tokio::task::spawn_blocking(move || check_passes(&script));

    assert!(
        blocking(script.clone()).await.unwrap(),
        "the check fails on a running proxy; node log:\n{}",
        common::tail(&node.log(), 20)
    );
    node.kill(Signal::Stop);
    let paused = blocking(script.clone()).await.unwrap();
    node.kill(Signal::Cont);
    assert!(!paused, "the check passed while the proxy was paused");
    // Running again: the check passes again (polled: the node needs a moment after SIGCONT).
    let mut passed = false;
    for _ in 0..20 {
        if blocking(script.clone()).await.unwrap() {
            passed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(passed, "the check still fails after SIGCONT");
}

/// Whether the test runs as root (keepalived -t checks script security as the user it runs as).
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A network namespace with a veth pair (`eth0`, `eth1`) inside it, deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Self {
        let ns = Namespace(format!("pxadm-render-{}", std::process::id()));
        for args in [
            vec!["netns", "add", &ns.0],
            vec![
                "-n", &ns.0, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
            ],
            vec!["-n", &ns.0, "link", "set", "eth0", "up"],
        ] {
            let out = Command::new("ip").args(&args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
