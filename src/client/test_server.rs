//! A throwaway MariaDB server for tests that need a real MySQL-protocol peer.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::conn::{connect, NodeAddr};

/// A `mariadbd` running on a free loopback port, data in a temporary directory; killed on drop.
pub(crate) struct TestServer {
    // Declared before `dir` so the process dies before its directory is removed.
    _child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

pub(crate) const USER: &str = "px";
pub(crate) const PASSWORD: &str = "pxpass";

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn root_args() -> Vec<&'static str> {
    // mariadbd refuses to run as root unless told to.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        vec!["--user=root"]
    } else {
        Vec::new()
    }
}

impl TestServer {
    /// Installs and starts a server, or `None` when MariaDB is not installed.
    pub(crate) async fn start() -> Option<TestServer> {
        let mariadbd = find("mariadbd")?;
        let install = find("mariadb-install-db")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let status = Command::new(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(root_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run mariadb-install-db");
        assert!(status.success(), "mariadb-install-db failed");
        let init = dir.path().join("init.sql");
        tokio::fs::write(
            &init,
            format!(
                "CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
                 GRANT ALL ON *.* TO '{USER}'@'%';\n"
            ),
        )
        .await
        .expect("write init file");
        let port = free_port();
        let child = Command::new(mariadbd)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", path_in(dir.path(), "mysqld.sock")))
            .arg(format!("--pid-file={}", path_in(dir.path(), "mysqld.pid")))
            .arg(format!("--log-error={}", path_in(dir.path(), "error.log")))
            .arg(format!("--init-file={}", init.display()))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(root_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn mariadbd");
        let server = TestServer {
            _child: child,
            _dir: dir,
            port,
        };
        let addr = server.addr("probe");
        for _ in 0..300 {
            if let Ok(c) = connect(&addr, Duration::from_secs(1)).await {
                c.close().await;
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mariadbd did not come up on port {port}");
    }

    /// Address of this server for the test user.
    pub(crate) fn addr(&self, name: &str) -> NodeAddr {
        NodeAddr {
            name: name.to_owned(),
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }
    }
}

fn path_in(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}
