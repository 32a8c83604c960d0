//! TLS on the traffic and admin ports of `pxadm node` (issue #13 item 11): the certificate
//! generated in the datadir at first start, the stock `mariadb` client and PyMySQL over TLS
//! with and without certificate verification, `mysql-have_ssl=false`, `PROXYSQL RELOAD TLS`,
//! and the real ProxySQL 2.7.2 side by side when `PXADM_REAL_PROXYSQL` is set.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{
    free_port, lab, mariadb_cli_args, query_rows, real_proxysql_bin, ConfigExtras, Lab, RealNode,
    TestNode, ADMIN_PASS, ADMIN_USER, HOST,
};
use mysql_async::prelude::Queryable;

const FILES: [&str; 3] = ["proxysql-ca.pem", "proxysql-cert.pem", "proxysql-key.pem"];

/// A node with a traffic port whose user `svcusr` goes to the lab primary, on `datadir`
/// (the node's own scratch directory when `None`, removed with it).
async fn node_with_traffic(lab: &Lab, datadir: Option<&Path>) -> (TestNode, u16) {
    let port = free_port();
    let mut builder = TestNode::builder();
    if let Some(dir) = datadir {
        builder = builder.datadir(dir);
    }
    let node = builder
        .arg("--mysql")
        .arg(format!("{HOST}:{port}"))
        .start()
        .await;
    configure_traffic(node.admin_port(), lab).await;
    (node, port)
}

/// Points `svcusr` at the lab primary through admin SQL (works on pxadm and on ProxySQL).
async fn configure_traffic(admin_port: u16, lab: &Lab) {
    let mut admin = common::admin_conn(admin_port, ADMIN_USER, ADMIN_PASS).await;
    for sql in [
        format!(
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (10,'{HOST}',{})",
            lab.primary
        ),
        format!(
            "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}','{}',10)",
            Lab::APP.0,
            Lab::APP.1
        ),
        "UPDATE global_variables SET variable_value='monitor' WHERE variable_name IN ('mysql-monitor_username','mysql-monitor_password')".to_owned(),
        "LOAD MYSQL VARIABLES TO RUNTIME".to_owned(),
        "LOAD MYSQL SERVERS TO RUNTIME".to_owned(),
        "LOAD MYSQL USERS TO RUNTIME".to_owned(),
    ] {
        admin
            .query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Runs the mariadb CLI with `flags` (after the harness's `--skip-ssl`, so they win).
async fn cli(port: u16, user: &str, pass: &str, sql: &str, flags: &[&str]) -> common::CliOutput {
    mariadb_cli_args(port, user, pass, sql, flags).await
}

/// The cipher the mariadb CLI's `\s` reports, `None` when it says SSL is not in use.
fn cipher_in_status(status: &str) -> Option<String> {
    let line = status.lines().find(|l| l.starts_with("SSL:"))?;
    line.split("Cipher in use is ")
        .nth(1)
        .map(|c| c.trim().to_owned())
}

fn verify_flags(ca: &Path) -> Vec<String> {
    vec![
        "--ssl".to_owned(),
        "--ssl-verify-server-cert".to_owned(),
        format!("--ssl-ca={}", ca.display()),
    ]
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn both_ports_serve_tls_with_a_certificate_generated_in_the_datadir() {
    let lab = lab().await;
    // A datadir of the test's own: it must outlive the first node.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("data");
    let (node, port) = node_with_traffic(lab, Some(&dir)).await;
    for f in FILES {
        assert!(dir.join(f).is_file(), "{f} generated at first start");
    }
    let mode = std::fs::metadata(dir.join("proxysql-key.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the private key is private");
    assert!(
        !node
            .log_lines("No SSL keys/certificates found in datadir")
            .is_empty(),
        "the generation is logged as ProxySQL logs it:\n{}",
        node.log()
    );

    // Traffic port, certificate verified against the generated CA (name 127.0.0.1).
    let verify = verify_flags(&dir.join("proxysql-ca.pem"));
    let out = cli(
        port,
        Lab::APP.0,
        Lab::APP.1,
        "SELECT @@port; \\s",
        &as_strs(&verify),
    )
    .await;
    let stdout = out.expect_success();
    assert!(
        stdout.contains(&lab.primary.to_string()),
        "the query ran on the lab primary:\n{stdout}"
    );
    let cipher = cipher_in_status(stdout).unwrap_or_else(|| panic!("no cipher in:\n{stdout}"));
    assert!(cipher.starts_with("TLS_"), "TLS 1.3 cipher, got {cipher}");

    // Admin port, opportunistic TLS (`--ssl`) and verified.
    for flags in [vec!["--ssl".to_owned()], verify.clone()] {
        let out = cli(
            node.admin_port(),
            ADMIN_USER,
            ADMIN_PASS,
            "SELECT COUNT(*) FROM global_variables; \\s",
            &as_strs(&flags),
        )
        .await;
        let stdout = out.expect_success();
        assert!(
            cipher_in_status(stdout).is_some(),
            "admin over TLS with {flags:?}:\n{stdout}"
        );
    }

    // Plain clients are unaffected.
    let out = cli(port, Lab::APP.0, Lab::APP.1, "SELECT 7*6; \\s", &[]).await;
    let stdout = out.expect_success();
    assert!(stdout.contains("42"), "{stdout}");
    assert_eq!(cipher_in_status(stdout), None, "{stdout}");

    // A second start reuses the files.
    let cert = std::fs::read(dir.join("proxysql-cert.pem")).unwrap();
    drop(node);
    let again = TestNode::builder().datadir(&dir).start().await;
    assert_eq!(std::fs::read(dir.join("proxysql-cert.pem")).unwrap(), cert);
    assert!(
        !again
            .log_lines("SSL keys/certificates found in datadir")
            .is_empty(),
        "{}",
        again.log()
    );
}

#[tokio::test]
async fn have_ssl_false_offers_no_tls_and_clients_that_require_it_fail_clearly() {
    let lab = lab().await;
    let (node, port) = node_with_traffic(lab, None).await;
    let mut admin = node.admin().await;
    admin
        .query_drop("UPDATE global_variables SET variable_value='false' WHERE variable_name='mysql-have_ssl'")
        .await
        .unwrap();
    admin
        .query_drop("LOAD MYSQL VARIABLES TO RUNTIME")
        .await
        .unwrap();
    let verify = verify_flags(&node.datadir().join("proxysql-ca.pem"));
    for (p, user, pass) in [
        (port, Lab::APP.0, Lab::APP.1),
        (node.admin_port(), ADMIN_USER, ADMIN_PASS),
    ] {
        let out = cli(p, user, pass, "SELECT 1", &as_strs(&verify)).await;
        assert!(!out.success(), "TLS required but not offered on {p}");
        assert!(
            out.stderr.contains("2026") && out.stderr.contains("does not support it"),
            "ProxySQL's failure (2026, server does not support SSL) on {p}:\n{}",
            out.stderr
        );
        // `--ssl` alone falls back to plain text, as against ProxySQL.
        let out = cli(p, user, pass, "SELECT 1; \\s", &["--ssl"]).await;
        let stdout = out.expect_success();
        assert_eq!(cipher_in_status(stdout), None, "{stdout}");
    }
    // Back on: new connections get TLS again.
    admin
        .query_drop("UPDATE global_variables SET variable_value='true' WHERE variable_name='mysql-have_ssl'")
        .await
        .unwrap();
    admin
        .query_drop("LOAD MYSQL VARIABLES TO RUNTIME")
        .await
        .unwrap();
    let out = cli(port, Lab::APP.0, Lab::APP.1, "\\s", &as_strs(&verify)).await;
    assert!(cipher_in_status(out.expect_success()).is_some());
}

/// Writes a CA, a server certificate for 127.0.0.1 signed by it and an RSA key (PKCS#1, as
/// ProxySQL writes its own) into `dir` with the openssl CLI; `false` when openssl is missing.
fn openssl_certificate_set(dir: &Path) -> bool {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| {
                assert!(
                    o.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            })
            .is_ok()
    };
    if !run(&["genrsa", "-traditional", "-out", "proxysql-key.pem", "2048"]) {
        return false;
    }
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "proxysql-key.pem",
        "-days",
        "30",
        "-subj",
        "/CN=DBA CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=keyCertSign,cRLSign,digitalSignature",
        "-out",
        "proxysql-ca.pem",
    ]) && run(&[
        "req",
        "-new",
        "-key",
        "proxysql-key.pem",
        "-subj",
        "/CN=proxy.example",
        "-out",
        "server.csr",
    ]) && {
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "proxysql-ca.pem",
            "-CAkey",
            "proxysql-key.pem",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-out",
            "proxysql-cert.pem",
        ])
    }
}

#[tokio::test]
async fn reload_tls_serves_a_dba_s_own_certificate_and_refuses_a_partial_set() {
    // A datadir of the test's own: the last step starts a node on it again.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("data");
    let node = TestNode::builder().datadir(&dir).start().await;
    let own = tempfile::tempdir().unwrap();
    if !openssl_certificate_set(own.path()) {
        println!("SKIPPED reload_tls_...: no openssl CLI to make a certificate with");
        return;
    }
    let old_ca = own.path().join("generated-ca.pem");
    std::fs::copy(dir.join("proxysql-ca.pem"), &old_ca).unwrap();
    for f in FILES {
        std::fs::copy(own.path().join(f), dir.join(f)).unwrap();
    }
    let mut admin = node.admin().await;
    // Until the reload, the generated certificate is still served.
    let check = |ca: &Path| verify_flags(ca);
    let out = cli(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1",
        &as_strs(&check(&old_ca)),
    )
    .await;
    out.expect_success();
    admin.query_drop("PROXYSQL RELOAD TLS").await.unwrap();
    let new_ca = dir.join("proxysql-ca.pem");
    let out = cli(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1; \\s",
        &as_strs(&check(&new_ca)),
    )
    .await;
    assert!(cipher_in_status(out.expect_success()).is_some());
    let out = cli(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1",
        &as_strs(&check(&old_ca)),
    )
    .await;
    assert!(
        !out.success() && out.stderr.contains("2026"),
        "the old CA no longer verifies the reloaded certificate:\n{}",
        out.stderr
    );

    // A partial set is refused with ProxySQL's text; the certificate in force stays.
    std::fs::remove_file(dir.join("proxysql-ca.pem")).unwrap();
    let err = admin
        .query_drop("PROXYSQL RELOAD TLS")
        .await
        .expect_err("a partial set must be refused");
    assert!(
        err.to_string()
            .contains("RELOAD TLS failed: 2 TLS files are present. Expected: 3"),
        "{err}"
    );
    std::fs::copy(
        own.path().join("proxysql-ca.pem"),
        own.path().join("ca.pem"),
    )
    .unwrap();
    let out = cli(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1",
        &as_strs(&check(&own.path().join("ca.pem"))),
    )
    .await;
    out.expect_success();
    drop(admin);

    // A datadir with a partial set does not start, and says why.
    let rows = query_rows(&mut node.admin().await, "SELECT 1").await;
    assert_eq!(rows.len(), 1);
    drop(node);
    let start = tokio::process::Command::new(common::pxadm_bin())
        .args(["node", "--datadir"])
        .arg(&dir)
        .args(["--admin", &format!("{HOST}:{}", free_port())])
        .env("PXADM_LOOPBACK_ONLY", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(common::NODE_START_TIMEOUT, start)
        .await
        .expect("a node on a partial TLS set must exit, not serve")
        .unwrap();
    assert!(
        !out.status.success(),
        "a partial TLS set must stop the start"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 TLS files are present. Expected: 3"),
        "{stderr}"
    );
}

/// PyMySQL with `ssl={"ca": ...}` (verified) through the traffic port: the socket is TLS
/// and queries run on the lab primary.
const PYMYSQL_TLS: &str = r#"
import os, pymysql
conn = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user=os.environ["USER"],
                       password=os.environ["PASSWORD"], database=os.environ["DB"],
                       ssl={"ca": os.environ["CA"], "check_hostname": True})
cur = conn.cursor()
cur.execute("SELECT @@port")
print("port", cur.fetchone()[0])
print("tls", conn._sock.version())
conn.close()
"#;

#[tokio::test]
async fn pymysql_connects_over_verified_tls() {
    let lab = lab().await;
    let Some(python) = python_with_pymysql() else {
        return;
    };
    let (node, port) = node_with_traffic(lab, None).await;
    let out = Command::new(python)
        .args(["-c", PYMYSQL_TLS])
        .env("PORT", port.to_string())
        .env("USER", Lab::APP.0)
        .env("PASSWORD", Lab::APP.1)
        .env("DB", Lab::APP_DB)
        .env("CA", node.datadir().join("proxysql-ca.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("port {}", lab.primary)),
        "{stdout}"
    );
    assert!(stdout.contains("tls TLSv1."), "{stdout}");
}

#[tokio::test]
async fn the_real_proxysql_serves_tls_too_and_its_datadir_files_load_in_pxadm() {
    let Some(bin) = real_proxysql_bin("the_real_proxysql_serves_tls_too") else {
        return;
    };
    let (admin_port, mysql_port) = (free_port(), free_port());
    let real = RealNode::start(&bin, admin_port, mysql_port, ConfigExtras::default()).await;
    let out = cli(admin_port, ADMIN_USER, ADMIN_PASS, "\\s", &["--ssl"]).await;
    assert!(
        cipher_in_status(out.expect_success()).is_some(),
        "the real admin port offers TLS"
    );
    // Documented difference: ProxySQL's certificate names no host, so verification fails
    // there; pxadm's names loopback and the host (see the first test).
    let real_dir = real.datadir().to_path_buf();
    let out = cli(
        admin_port,
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT 1",
        &as_strs(&verify_flags(&real_dir.join("proxysql-ca.pem"))),
    )
    .await;
    assert!(
        !out.success(),
        "ProxySQL 2.7.2's certificate is not valid for 127.0.0.1"
    );

    // Its files (RSA, PKCS#1 key) are loaded as they are by pxadm, never rewritten.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let originals: Vec<Vec<u8>> = FILES
        .iter()
        .map(|f| std::fs::read(real_dir.join(f)).unwrap())
        .collect();
    for (f, bytes) in FILES.iter().zip(&originals) {
        std::fs::write(dir.join(f), bytes).unwrap();
    }
    drop(real);
    let node = TestNode::builder().datadir(&dir).start().await;
    let out = cli(node.admin_port(), ADMIN_USER, ADMIN_PASS, "\\s", &["--ssl"]).await;
    assert!(cipher_in_status(out.expect_success()).is_some());
    for (f, bytes) in FILES.iter().zip(&originals) {
        assert_eq!(
            &std::fs::read(dir.join(f)).unwrap(),
            bytes,
            "{f} kept as is"
        );
    }
}

/// A Python interpreter with PyMySQL, installed from PyPI into a virtualenv under the target
/// directory once; `None` (the caller skips, saying why) when python3 or PyPI is missing.
fn python_with_pymysql() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("pytls");
    let python = dir.join("bin").join("python3");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import pymysql"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Some(python);
    }
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        println!("SKIPPED pymysql_connects_over_verified_tls: python3 -m venv failed");
        return None;
    }
    let pip = Command::new(dir.join("bin").join("pip"))
        .args(["install", "-q", "--disable-pip-version-check", "PyMySQL"])
        .status();
    if !pip.is_ok_and(|s| s.success()) || !ready(&python) {
        println!("SKIPPED pymysql_connects_over_verified_tls: PyPI is not reachable");
        return None;
    }
    Some(python)
}

/// A client that sends its TLS ClientHello in the same write as the `SSLRequest` (as fast
/// clients do without waiting) is served: the bytes the MySQL framing read past the request
/// reach the TLS layer, and the handshake response inside TLS gets its answer.
#[tokio::test]
async fn a_client_hello_sent_together_with_the_ssl_request_is_not_lost() {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

    /// Prepends `prefix` to the first write, so both leave in one segment.
    struct Coalesce {
        prefix: Option<Vec<u8>>,
        inner: tokio::net::TcpStream,
    }
    impl AsyncRead for Coalesce {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
        }
    }
    impl AsyncWrite for Coalesce {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            if let Some(prefix) = this.prefix.take() {
                let mut all = prefix;
                all.extend_from_slice(buf);
                // Small enough for one non-blocking write on loopback.
                let mut fut = Box::pin(this.inner.write_all(&all));
                return match fut.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.len())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => {
                        Poll::Ready(Err(std::io::Error::other("loopback write blocked")))
                    }
                };
            }
            Pin::new(&mut this.inner).poll_write(cx, buf)
        }
        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_flush(cx)
        }
        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
        }
    }
    use std::future::Future;

    let node = TestNode::start().await;
    let mut tcp = tokio::net::TcpStream::connect((HOST, node.admin_port()))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    // The server's handshake: 3-byte length, sequence id, payload.
    let mut header = [0u8; 4];
    tcp.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut greeting = vec![0u8; len];
    tcp.read_exact(&mut greeting).await.unwrap();

    // CLIENT_LONG_PASSWORD | PROTOCOL_41 | SSL | SECURE_CONNECTION | PLUGIN_AUTH
    let caps: u32 = 0x1 | 0x200 | 0x800 | 0x8000 | 0x80000;
    let mut body = Vec::new();
    body.extend_from_slice(&caps.to_le_bytes());
    body.extend_from_slice(&(16u32 << 20).to_le_bytes());
    body.push(33);
    body.extend_from_slice(&[0u8; 23]);
    let packet = |seq: u8, body: &[u8]| {
        let mut p = (body.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(seq);
        p.extend_from_slice(body);
        p
    };
    let ssl_request = packet(1, &body);

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(node.datadir().join("proxysql-ca.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(
            name,
            Coalesce {
                prefix: Some(ssl_request),
                inner: tcp,
            },
        )
        .await
        .expect("TLS handshake with the ClientHello right behind the SSLRequest");

    // Handshake response inside TLS, sequence id 2, user admin with an empty password.
    let mut response = body.clone();
    response.extend_from_slice(b"admin\0");
    response.push(0);
    response.extend_from_slice(b"mysql_native_password\0");
    tls.write_all(&packet(2, &response)).await.unwrap();
    tls.flush().await.unwrap();
    let mut header = [0u8; 4];
    tls.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut reply = vec![0u8; len];
    tls.read_exact(&mut reply).await.unwrap();
    assert_eq!(
        header[3], 3,
        "the answer follows the response's sequence id"
    );
    assert_eq!(reply[0], 0xFF, "an ERR packet");
    assert_eq!(u16::from_le_bytes([reply[1], reply[2]]), 1045);
    let text = String::from_utf8_lossy(&reply[9..]);
    assert!(text.contains("Access denied for user 'admin'"), "{text}");
}
