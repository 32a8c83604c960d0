//! The embedded VIP across real `pxadm node` processes: election, kill -9 failover, preempt
//! and nopreempt, tracked checks with a weight or FAULT, the priority-0 advert on SIGTERM,
//! `stats_pxadm_vrrp` through the admin port, `pxadm keepalived render`, and the failover
//! drill against the MariaDB lab. Every node runs with PXADM_LOOPBACK_ONLY=1; adverts travel
//! between 127.0.0.11-13 and the VIP lives on 127.0.0.20-29.
//!
//! "Never two holders" is checked two ways: between steps the test itself tries to bind the
//! VIP (with SO_REUSEADDR, as a holder would) and must fail while a node holds it, and a
//! sampler polls every node's `stats_pxadm_vrrp` throughout and fails the test if two nodes
//! report the VIP at the same time.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    lab, pxadm_bin, query_resultset, query_rows, try_admin_conn, try_query_rows, wait_until,
    write_file, Lab, Signal, TestNode, ADMIN_PASS, ADMIN_USER,
};
use mysql_async::prelude::Queryable;
use pxadm::node::vip::STATS_PXADM_VRRP_COLUMNS;

/// Limit of every wait for a VRRP transition (sub-second timing: normally well under 1 s).
const TRANSITION: Duration = Duration::from_secs(10);

/// One virtual router of a test: its VIP, advert port and scratch directory.
struct Router {
    vip: SocketAddr,
    advert_port: u16,
    dir: tempfile::TempDir,
}

/// Each test gets its own VIP address so parallel tests never see each other's listeners.
fn router(vip_last_octet: u8) -> Router {
    let vip_ip = Ipv4Addr::new(127, 0, 0, vip_last_octet);
    let vip = std::net::TcpListener::bind((vip_ip, 0))
        .and_then(|l| l.local_addr())
        .expect("free port on the VIP address");
    // One UDP port free on every advert address, so node N is 127.0.0.(10+N):port.
    let advert_port = loop {
        let first = std::net::UdpSocket::bind((advert_ip(0), 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        if (1..3).all(|i| std::net::UdpSocket::bind((advert_ip(i), port)).is_ok()) {
            break port;
        }
    };
    Router {
        vip,
        advert_port,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn advert_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 11 + i as u8)
}

/// How one node's instance is configured.
#[derive(Clone)]
struct Spec {
    priority: u8,
    master: bool,
    preempt: bool,
    advert_int: f64,
    /// The `[check]` table, if any.
    check: Option<String>,
}

impl Spec {
    fn new(priority: u8, master: bool) -> Self {
        Spec {
            priority,
            master,
            preempt: true,
            advert_int: 0.1,
            check: None,
        }
    }
}

impl Router {
    fn advert(&self, i: usize) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(advert_ip(i)), self.advert_port)
    }

    /// Writes node `i`'s `--vip` file (of `n` nodes).
    fn vip_file(&self, i: usize, n: usize, spec: &Spec) -> PathBuf {
        let peers: Vec<String> = (0..n)
            .filter(|&j| j != i)
            .map(|j| format!("\"{}\"", self.advert(j)))
            .collect();
        let mut text = format!(
            "virtual_router_id = 51\npriority = {}\nstate = \"{}\"\nadvert_int = {}\n\
             auth_pass = \"1234\"\nvip = \"{}\"\nbind = \"{}\"\npeers = [{}]\n",
            spec.priority,
            if spec.master { "MASTER" } else { "BACKUP" },
            spec.advert_int,
            self.vip,
            self.advert(i),
            peers.join(", ")
        );
        if !spec.preempt {
            text.push_str("nopreempt = true\n");
        }
        if let Some(check) = &spec.check {
            text.push_str("\n[check]\n");
            text.push_str(check);
            text.push('\n');
        }
        write_file(self.dir.path(), &format!("vip-node{}.toml", i + 1), &text)
    }

    /// A ProxySQL config giving node `i` its own traffic port and, when a lab is given, the
    /// lab primary as backend and svcusr as user.
    fn node_cnf(&self, i: usize, lab: Option<&Lab>) -> PathBuf {
        let traffic = common::free_port();
        let mut text = format!("mysql_variables =\n{{\n    interfaces = \"127.0.0.1:{traffic}\"\n");
        if let Some(lab) = lab {
            text.push_str(&format!(
                "    monitor_username = \"monitor\"\n    monitor_password = \"monitor\"\n}}\n\
                 mysql_servers =\n(\n    {{ address = \"127.0.0.1\", port = {}, hostgroup = 0 }},\n)\n\
                 mysql_users =\n(\n    {{ username = \"svcusr\", password = \"svcusr\", default_hostgroup = 0, default_schema = \"duhokim\" }},\n)\n",
                lab.primary
            ));
        } else {
            text.push_str("}\n");
        }
        write_file(self.dir.path(), &format!("node{}.cnf", i + 1), &text)
    }

    /// Starts node `i` of `n`.
    async fn start(&self, i: usize, n: usize, spec: &Spec, lab: Option<&Lab>) -> TestNode {
        TestNode::builder()
            .config(self.node_cnf(i, lab))
            .initial(true)
            .arg("--vip")
            .arg(self.vip_file(i, n, spec))
            .env("PXADM_LOOPBACK_ONLY", "1")
            .start()
            .await
    }

    /// A check script that fails while `flag` exists (`check_service.sh` semantics: exit 0
    /// healthy, 1 failed).
    fn flag_script(&self, name: &str) -> (PathBuf, PathBuf) {
        let flag = self.dir.path().join(format!("{name}.fail"));
        let path = write_file(
            self.dir.path(),
            &format!("{name}.sh"),
            &format!("#!/bin/sh\n[ ! -e '{}' ]\n", flag.display()),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (path, flag)
    }
}

/// One node's `stats_pxadm_vrrp` row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vrrp {
    state: String,
    vip_held: bool,
    effective_priority: u8,
    check_status: String,
}

async fn vrrp(port: u16) -> Option<Vrrp> {
    let mut conn = try_admin_conn(port, ADMIN_USER, ADMIN_PASS).await.ok()?;
    let rows = try_query_rows(
        &mut conn,
        "SELECT state, vip_held, effective_priority, check_status FROM stats_pxadm_vrrp",
    )
    .await
    .ok()?;
    let _ = conn.disconnect().await;
    let row = rows.first()?;
    let text = |i: usize| row[i].clone().unwrap_or_default();
    Some(Vrrp {
        state: text(0),
        vip_held: text(1) == "1",
        effective_priority: text(2).parse().ok()?,
        check_status: text(3),
    })
}

/// The test's own bind attempt on the VIP, with SO_REUSEADDR like a holder would use: it
/// can only succeed while no node holds the VIP.
fn vip_is_free(vip: SocketAddr) -> bool {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    match socket.bind(&vip.into()).and_then(|()| socket.listen(1)) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => false,
        Err(e) => panic!("unexpected error binding {vip}: {e}"),
    }
}

/// Waits until node `holder` (index into `ports`) reports the VIP and every other node
/// does not, then checks that the kernel agrees: the VIP cannot be bound.
async fn expect_holder(ports: &[u16], holder: usize, vip: SocketAddr, what: &str) {
    let ok = wait_until(TRANSITION, || async {
        let mut held = Vec::new();
        for &p in ports {
            held.push(vrrp(p).await.is_some_and(|v| v.vip_held));
        }
        held.iter().enumerate().all(|(i, h)| *h == (i == holder))
    })
    .await;
    let mut states = Vec::new();
    for &p in ports {
        states.push(vrrp(p).await);
    }
    assert!(
        ok,
        "{what}: node{} should hold {vip}: {states:?}",
        holder + 1
    );
    assert!(
        !vip_is_free(vip),
        "{what}: node{} reports the VIP but it can be bound",
        holder + 1
    );
}

/// Polls every node's stats table until stopped; fails if two nodes report the VIP at the
/// same time.
struct Sampler {
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u32>,
}

impl Sampler {
    fn start(ports: Vec<u16>) -> Sampler {
        let running = Arc::new(AtomicBool::new(true));
        let keep = running.clone();
        let rounds = Arc::new(AtomicU32::new(0));
        let task = tokio::spawn(async move {
            while keep.load(Ordering::SeqCst) {
                let mut holders = Vec::new();
                for (i, &p) in ports.iter().enumerate() {
                    if vrrp(p).await.is_some_and(|v| v.vip_held) {
                        holders.push(i);
                    }
                }
                // The reads are sequential: an earlier holder may have handed over before a
                // later node was read. Only if it still holds after the later one was seen
                // holding did the two overlap.
                if let Some((&last, earlier)) = holders.split_last() {
                    for &i in earlier {
                        let still = vrrp(ports[i]).await.is_some_and(|v| v.vip_held);
                        assert!(
                            !still,
                            "two VIP holders at once: node{} and node{}",
                            i + 1,
                            last + 1
                        );
                    }
                }
                rounds.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            rounds.load(Ordering::SeqCst)
        });
        Sampler { running, task }
    }

    async fn finish(self) {
        self.running.store(false, Ordering::SeqCst);
        let rounds = self.task.await.expect("sampler saw two holders");
        assert!(rounds > 5, "only {rounds} sampling rounds");
    }
}

async fn wait_log(node: &TestNode, needle: &str) -> String {
    node.wait_for_log(needle, TRANSITION).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_master_moves_the_vip_and_writes_resume() {
    let lab = lab().await;
    let r = router(20);
    let check = "kind = \"builtin\"\ninterval = 0.1\nweight = -20".to_string();
    let specs: Vec<Spec> = [(100, true), (90, false), (80, false)]
        .iter()
        .map(|&(p, m)| Spec {
            check: Some(check.clone()),
            ..Spec::new(p, m)
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        nodes.push(r.start(i, 3, spec, Some(lab)).await);
    }
    let ports: Vec<u16> = nodes.iter().map(TestNode::admin_port).collect();
    let sampler = Sampler::start(ports.clone());
    expect_holder(&ports, 0, r.vip, "start-up").await;

    let writer = Writer::start(r.vip, "vip-test");
    assert!(
        writer.wait_acked(3).await,
        "no INSERT through the VIP succeeded\n{}",
        nodes[0].log()
    );

    nodes[0].kill(Signal::Kill);
    let killed_at = Instant::now();
    nodes[0].wait_exit(Duration::from_secs(5)).await;
    // node2 (90) beats node3 (80): it times out first (smaller skew) and wins.
    expect_holder(&ports[1..], 0, r.vip, "after kill -9 of node1").await;
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(3), "takeover took {took:?}");
    wait_log(&nodes[1], "(VI_1) Receive advertisement timeout").await;
    wait_log(&nodes[1], "(VI_1) Entering MASTER STATE").await;
    assert!(
        writer.resumed_after(killed_at).await,
        "writes did not resume after the failover"
    );

    sampler.finish().await;
    writer.finish_and_prove(lab).await;
}

/// The scenario's client: one INSERT through the VIP every 50 ms, a fresh connection each
/// time, each attempt bounded by 2 s (a frozen holder's queued connection would hang).
struct Writer {
    prefix: String,
    acked: Arc<parking_lot::Mutex<Vec<(String, Instant)>>>,
    writing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(vip: SocketAddr, tag: &str) -> Writer {
        let prefix = format!("{tag}-{}-{}-", std::process::id(), vip.port());
        let acked = Arc::new(parking_lot::Mutex::new(Vec::<(String, Instant)>::new()));
        let writing = Arc::new(AtomicBool::new(true));
        let task = {
            let (acked, writing, prefix) = (acked.clone(), writing.clone(), prefix.clone());
            tokio::spawn(async move {
                let mut seq = 0;
                while writing.load(Ordering::SeqCst) {
                    seq += 1;
                    let value = format!("{prefix}{seq}");
                    let opts = mysql_async::OptsBuilder::default()
                        .ip_or_hostname(vip.ip().to_string())
                        .tcp_port(vip.port())
                        .user(Some("svcusr"))
                        .pass(Some("svcusr"))
                        .db_name(Some("duhokim"))
                        .prefer_socket(false);
                    let attempt = async {
                        let mut c = mysql_async::Conn::new(opts).await?;
                        c.query_drop(format!("INSERT INTO duhokim.tab1(col2) VALUES('{value}')"))
                            .await?;
                        c.disconnect().await
                    };
                    if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), attempt).await
                    {
                        acked.lock().push((value, Instant::now()));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        Writer {
            prefix,
            acked,
            writing,
            task,
        }
    }

    async fn wait_acked(&self, n: usize) -> bool {
        wait_until(TRANSITION, || async { self.acked.lock().len() >= n }).await
    }

    /// Whether an INSERT acknowledged after `since` arrives within [`TRANSITION`].
    async fn resumed_after(&self, since: Instant) -> bool {
        wait_until(TRANSITION, || async {
            self.acked.lock().iter().any(|(_, at)| *at > since)
        })
        .await
    }

    /// Stops writing and checks that every acknowledged insert is on the primary.
    async fn finish_and_prove(self, lab: &Lab) {
        self.writing.store(false, Ordering::SeqCst);
        self.task.await.unwrap();
        let mut primary = common::admin_conn(lab.primary, Lab::APP.0, Lab::APP.1).await;
        let rows = query_rows(
            &mut primary,
            &format!(
                "SELECT col2 FROM duhokim.tab1 WHERE col2 LIKE '{}%'",
                self.prefix
            ),
        )
        .await;
        let present: std::collections::HashSet<String> =
            rows.into_iter().filter_map(|r| r[0].clone()).collect();
        let acked = self.acked.lock();
        assert!(!acked.is_empty(), "no INSERT was acknowledged");
        let missing: Vec<&String> = acked
            .iter()
            .map(|(v, _)| v)
            .filter(|v| !present.contains(*v))
            .collect();
        assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    }
}

/// `stats_pxadm_vrrp` of a node that may be frozen: a stopped process's kernel still
/// completes the TCP handshake, so the admin login would hang without a bound.
async fn vrrp_bounded(port: u16) -> Option<Vrrp> {
    tokio::time::timeout(Duration::from_secs(1), vrrp(port))
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_holder_loses_the_vip_and_writes_resume_through_the_survivor() {
    let lab = lab().await;
    let r = router(29);
    let specs = [Spec::new(100, true), Spec::new(90, false)];
    let mut nodes = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        nodes.push(r.start(i, 2, spec, Some(lab)).await);
    }
    let ports: Vec<u16> = nodes.iter().map(TestNode::admin_port).collect();
    expect_holder(&ports, 0, r.vip, "start-up").await;
    let writer = Writer::start(r.vip, "vip-frozen");
    assert!(
        writer.wait_acked(3).await,
        "no INSERT through the VIP succeeded\n{}",
        nodes[0].log()
    );

    // SIGSTOP: node1 keeps its VIP socket open but neither adverts nor accepts.
    nodes[0].kill(Signal::Stop);
    let frozen_at = Instant::now();
    let took_over = wait_until(TRANSITION, || async {
        vrrp_bounded(ports[1])
            .await
            .is_some_and(|v| v.state == "MASTER" && v.vip_held)
    })
    .await;
    assert!(
        took_over,
        "node2 did not take the VIP over\n{}",
        nodes[1].log()
    );
    wait_log(&nodes[1], "taken over from a previous master").await;
    assert!(
        writer.resumed_after(frozen_at).await,
        "writes did not resume through the VIP while node1 is frozen\n{}",
        nodes[1].log()
    );
    // Still frozen, and the survivor keeps serving: several more writes succeed.
    let after_takeover = Instant::now();
    assert!(
        wait_until(TRANSITION, || async {
            writer
                .acked
                .lock()
                .iter()
                .filter(|(_, at)| *at > after_takeover)
                .count()
                >= 5
        })
        .await,
        "writes through the survivor stalled"
    );
    assert!(
        vrrp_bounded(ports[0]).await.is_none(),
        "node1 is not frozen"
    );

    // SIGCONT: node1 (100) preempts and takes the VIP back; writes go on.
    nodes[0].kill(Signal::Cont);
    expect_holder(&ports, 0, r.vip, "after node1 thaws").await;
    let thawed_at = Instant::now();
    assert!(
        writer.resumed_after(thawed_at).await,
        "writes did not resume after node1 thawed"
    );
    writer.finish_and_prove(lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_master_takes_the_vip_back_with_preempt() {
    let r = router(21);
    let specs = [Spec::new(100, true), Spec::new(90, false)];
    let mut n1 = r.start(0, 2, &specs[0], None).await;
    let n2 = r.start(1, 2, &specs[1], None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    let sampler = Sampler::start(ports.to_vec());
    expect_holder(&ports, 0, r.vip, "start-up").await;

    n1.kill(Signal::Kill);
    n1.wait_exit(Duration::from_secs(5)).await;
    expect_holder(&ports[1..], 0, r.vip, "after kill -9").await;

    n1.restart().await;
    expect_holder(&ports, 0, r.vip, "after restart with preempt").await;
    wait_log(
        &n1,
        "(VI_1) received lower priority (90) advert from 127.0.0.12 - discarding",
    )
    .await;
    wait_log(
        &n2,
        "(VI_1) Master received advert from 127.0.0.11 with higher priority 100, ours 90",
    )
    .await;
    wait_log(&n2, "(VI_1) Entering BACKUP STATE").await;
    sampler.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_master_leaves_the_vip_alone_with_nopreempt() {
    let r = router(22);
    let spec = |p| Spec {
        preempt: false,
        ..Spec::new(p, false)
    };
    let specs = [spec(100), spec(90)];
    let mut n1 = r.start(0, 2, &specs[0], None).await;
    let n2 = r.start(1, 2, &specs[1], None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    let sampler = Sampler::start(ports.to_vec());
    // Both start as BACKUP (nopreempt requires it); the higher priority still wins.
    expect_holder(&ports, 0, r.vip, "start-up").await;

    n1.kill(Signal::Kill);
    n1.wait_exit(Duration::from_secs(5)).await;
    expect_holder(&ports[1..], 0, r.vip, "after kill -9").await;

    n1.restart().await;
    // Far longer than node1's Master_Down_Interval (0.36 s): it had every chance.
    tokio::time::sleep(Duration::from_secs(2)).await;
    expect_holder(&ports, 1, r.vip, "after restart with nopreempt").await;
    let v1 = vrrp(ports[0]).await.unwrap();
    assert_eq!((v1.state.as_str(), v1.effective_priority), ("BACKUP", 100));
    assert!(!n1.log().contains("- discarding"), "{}", n1.log());
    sampler.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_check_with_weight_minus_20_hands_the_vip_to_a_higher_effective_priority() {
    let r = router(23);
    let (script1, flag1) = r.flag_script("node1");
    let (script2, _) = r.flag_script("node2");
    let check = |script: &Path| {
        format!(
            "kind = {{ script = \"{}\" }}\ninterval = 0.1\nfall = 2\nweight = -20",
            script.display()
        )
    };
    let s1 = Spec {
        check: Some(check(&script1)),
        ..Spec::new(100, true)
    };
    let s2 = Spec {
        check: Some(check(&script2)),
        ..Spec::new(90, false)
    };
    let n1 = r.start(0, 2, &s1, None).await;
    let n2 = r.start(1, 2, &s2, None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    let sampler = Sampler::start(ports.to_vec());
    expect_holder(&ports, 0, r.vip, "start-up").await;

    std::fs::write(&flag1, "").unwrap();
    expect_holder(&ports, 1, r.vip, "node1's check failing").await;
    let v1 = vrrp(ports[0]).await.unwrap();
    assert_eq!(
        (
            v1.state.as_str(),
            v1.effective_priority,
            v1.check_status.as_str()
        ),
        ("BACKUP", 80, "BAD")
    );
    wait_log(
        &n1,
        "VRRP_Script(chk_service) failed (exited with status 1)",
    )
    .await;
    wait_log(&n1, "(VI_1) Changing effective priority from 100 to 80").await;
    wait_log(
        &n1,
        "(VI_1) Master received advert from 127.0.0.12 with higher priority 90, ours 80",
    )
    .await;

    // Healthy again: back to 100, and preempt returns the VIP.
    std::fs::remove_file(&flag1).unwrap();
    expect_holder(&ports, 0, r.vip, "node1's check recovered").await;
    wait_log(&n1, "(VI_1) Changing effective priority from 80 to 100").await;
    sampler.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_check_with_weight_0_puts_the_node_in_fault() {
    let r = router(24);
    let (script1, flag1) = r.flag_script("node1");
    let s1 = Spec {
        check: Some(format!(
            "kind = {{ script = \"{}\" }}\ninterval = 0.1\nweight = 0",
            script1.display()
        )),
        ..Spec::new(100, true)
    };
    let n1 = r.start(0, 2, &s1, None).await;
    let n2 = r.start(1, 2, &Spec::new(90, false), None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    let sampler = Sampler::start(ports.to_vec());
    expect_holder(&ports, 0, r.vip, "start-up").await;

    std::fs::write(&flag1, "").unwrap();
    expect_holder(&ports, 1, r.vip, "node1 in FAULT").await;
    let v1 = vrrp(ports[0]).await.unwrap();
    assert_eq!(
        (
            v1.state.as_str(),
            v1.effective_priority,
            v1.check_status.as_str()
        ),
        ("FAULT", 100, "BAD"),
        "weight 0 changes no priority, it faults"
    );
    wait_log(&n1, "(VI_1) Entering FAULT STATE").await;
    wait_log(&n1, "(VI_1) sent 0 priority").await;

    std::fs::remove_file(&flag1).unwrap();
    expect_holder(&ports, 0, r.vip, "node1 healthy again").await;
    sampler.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sends_the_priority_0_advert_for_a_fast_handover() {
    let r = router(25);
    // The scenario's 1 s adverts: Master_Down_Interval for node2 is 3.65 s, its skew 0.65 s.
    let spec = |p, m| Spec {
        advert_int: 1.0,
        ..Spec::new(p, m)
    };
    let mut n1 = r.start(0, 2, &spec(100, true), None).await;
    let n2 = r.start(1, 2, &spec(90, false), None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    expect_holder(&ports, 0, r.vip, "start-up").await;
    // Let node2 hear a few adverts so it is a settled backup.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    n1.kill(Signal::Term);
    let stopped_at = Instant::now();
    n1.wait_exit(Duration::from_secs(10)).await;
    expect_holder(&ports[1..], 0, r.vip, "after SIGTERM").await;
    let took = stopped_at.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?}: the priority-0 advert should beat Master_Down_Interval (3.65 s)"
    );
    wait_log(&n1, "(VI_1) sent 0 priority").await;
    wait_log(&n2, "(VI_1) Backup received priority 0 advertisement").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_pxadm_vrrp_is_readable_through_the_admin_port() {
    let r = router(26);
    let n1 = r.start(0, 2, &Spec::new(100, true), None).await;
    let n2 = r.start(1, 2, &Spec::new(90, false), None).await;
    let ports = [n1.admin_port(), n2.admin_port()];
    expect_holder(&ports, 0, r.vip, "start-up").await;

    let mut admin = n2.admin().await;
    // node2 may have opened its admin port a moment before hearing node1's first advert.
    let admin_port = n2.admin_port();
    let heard = wait_until(TRANSITION, || async move {
        let mut c = common::admin_conn(admin_port, ADMIN_USER, ADMIN_PASS).await;
        let rows = query_rows(&mut c, "SELECT last_advert_from FROM stats_pxadm_vrrp").await;
        rows.first().is_some_and(|r| r[0].is_some())
    })
    .await;
    assert!(heard, "node2 never heard node1's adverts");
    let rs = query_resultset(&mut admin, "SELECT * FROM stats_pxadm_vrrp").await;
    assert_eq!(rs.columns, STATS_PXADM_VRRP_COLUMNS);
    let row = &rs.rows[0];
    let vip = r.vip.to_string();
    let advert1 = r.advert(0).to_string();
    assert_eq!(row[0].as_deref(), Some("VI_1"));
    assert_eq!(row[1].as_deref(), Some("BACKUP"));
    assert_eq!(row[2].as_deref(), Some("90"));
    assert_eq!(row[4].as_deref(), Some(vip.as_str()));
    assert_eq!(row[5].as_deref(), Some("0"));
    assert_eq!(row[6].as_deref(), Some(advert1.as_str()));
    let age: u64 = row[7].as_deref().unwrap().parse().unwrap();
    assert!(age < 1000, "last advert {age} ms ago with 0.1 s adverts");
    assert_eq!(row[8].as_deref(), Some("NONE"));
    // Also with the stats schema as main (the stats user) and schema-qualified.
    let mut stats = common::admin_conn(ports[0], "stats", "stats").await;
    let rows = query_rows(&mut stats, "SELECT state, vip_held FROM stats_pxadm_vrrp").await;
    assert_eq!(rows, [[Some("MASTER".to_string()), Some("1".to_string())]]);
    let rows = query_rows(
        &mut admin,
        "SELECT COUNT(*) FROM stats.stats_pxadm_vrrp WHERE vip_held = 0",
    )
    .await;
    assert_eq!(rows, [[Some("1".to_string())]]);
}

fn normalise(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn keepalived_render_reproduces_the_scenario_configs() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario");
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(pxadm_bin())
        .args(["keepalived", "render", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let listed = String::from_utf8_lossy(&run.stdout).lines().count();
    assert_eq!(listed, 5, "two confs, two --vip files, one script");
    // The report's configs, plus the two global_defs lines without which keepalived 2.2
    // refuses to run root-owned scripts (docs/vip.md).
    for name in ["keepalived-node1.conf", "keepalived-node2.conf"] {
        let rendered = std::fs::read_to_string(out.path().join(name)).unwrap();
        let expected = std::fs::read_to_string(fixtures.join(name))
            .unwrap()
            .replacen(
                "global_defs {\n",
                "global_defs {\n    script_user root\n    enable_script_security\n",
                1,
            );
        assert_eq!(normalise(&rendered), normalise(&expected), "{name}");
    }
    // The check script: the same commands (its comment is worded differently).
    let code = |text: &str| -> Vec<String> {
        normalise(text)
            .into_iter()
            .filter(|l| !l.starts_with("# "))
            .collect()
    };
    let script = out.path().join("check_service.sh");
    assert_eq!(
        code(&std::fs::read_to_string(&script).unwrap()),
        code(&std::fs::read_to_string(fixtures.join("check_service.sh")).unwrap())
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o111,
        0o111
    );
    // The pxadm equivalent of each node is a valid --vip file with the same values.
    let node2 = pxadm::node::files::read_vip_file(&out.path().join("vip-node2.toml")).unwrap();
    assert_eq!((node2.priority, node2.virtual_router_id), (90, 51));
    assert_eq!(node2.peers, ["192.168.0.11:5405".parse().unwrap()]);
}

#[test]
fn keepalived_render_reads_a_nodes_file_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = write_file(
        dir.path(),
        "nodes.toml",
        "virtual_router_id = 7\nvip = \"10.0.0.100/24\"\ninterface = \"eth0\"\nunicast = true\n\
         [check]\ninterval = 1\nweight = -30\n\
         [[node]]\nname = \"a\"\naddress = \"10.0.0.1\"\nstate = \"MASTER\"\npriority = 150\n\
         [[node]]\nname = \"b\"\naddress = \"10.0.0.2\"\nstate = \"BACKUP\"\npriority = 140\n\
         [[node]]\nname = \"c\"\naddress = \"10.0.0.3\"\nstate = \"BACKUP\"\npriority = 130\n",
    );
    let out = dir.path().join("out");
    let run = |nodes: &Path| {
        std::process::Command::new(pxadm_bin())
            .args(["keepalived", "render", "--out"])
            .arg(&out)
            .arg("--nodes")
            .arg(nodes)
            .output()
            .unwrap()
    };
    let ok = run(&nodes);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let listed = String::from_utf8_lossy(&ok.stdout).lines().count();
    assert_eq!(listed, 7, "3 confs, 3 vip files, 1 script");
    let c = normalise(&std::fs::read_to_string(out.join("keepalived-c.conf")).unwrap());
    for line in [
        "unicast_src_ip 10.0.0.3",
        "10.0.0.1",
        "10.0.0.2",
        "weight -30",
    ] {
        assert!(c.iter().any(|l| l == line), "{line} missing: {c:?}");
    }
    let bad = write_file(dir.path(), "bad.toml", "virtual_router_id = 7\n");
    let failed = run(&bad);
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("missing field"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_measures_a_tuned_failover_and_proves_no_acknowledged_write_is_lost() {
    use pxadm::console::drill::{run_failover, DrillOptions, EventKind, Profile};
    let lab = lab().await;
    let mut opts = DrillOptions::new(Profile::Tuned);
    opts.pxadm_bin = pxadm_bin();
    opts.backend.port = lab.primary;
    opts.nodes = 3;
    opts.vip = Some(router(27).vip);
    opts.warmup = Duration::from_secs(1);
    opts.settle = Duration::from_secs(1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = run_failover(opts, Some(tx)).await.expect("drill failed");
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e.kind);
    }

    assert_eq!(report.victim, "node1");
    assert!(report.victim_was_holder);
    assert_eq!(report.new_holder.as_deref(), Some("node2"));
    let takeover = report.takeover_ms.unwrap();
    assert!(takeover < 1000, "tuned takeover {takeover} ms");
    assert!(report.detection_ms.unwrap() <= takeover + 20);
    let outage = report.outage.as_ref().unwrap();
    assert!(
        outage.window_ms < 1500,
        "tuned outage {} ms",
        outage.window_ms
    );
    let failback = report.failback.as_ref().unwrap();
    assert!(failback.vip_returned, "preempt: node1 takes the VIP back");
    assert_eq!(failback.final_holder.as_deref(), Some("node1"));
    assert!(report.proof.holds, "missing: {:?}", report.proof.missing);
    assert!(report.proof.acknowledged >= 10);
    assert_eq!(report.double_holder, None);
    assert!(events
        .iter()
        .any(|e| matches!(e, EventKind::Killed { node, .. } if node == "node1")));
    assert!(events
        .iter()
        .any(|e| matches!(e, EventKind::WritesResumed { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_proxy_loses_the_vip_through_its_builtin_check() {
    use pxadm::console::drill::{run_failover, DrillOptions, Fault, Profile};
    let lab = lab().await;
    let mut opts = DrillOptions::new(Profile::Tuned);
    opts.pxadm_bin = pxadm_bin();
    opts.backend.port = lab.primary;
    opts.fault = Fault::Pause;
    opts.vip = Some(router(28).vip);
    opts.warmup = Duration::from_secs(1);
    opts.settle = Duration::from_secs(1);
    let report = run_failover(opts, None).await.expect("drill failed");
    // The VRRP instance of node1 lives on: only its check (traffic listener closed) can
    // have moved the VIP, within fall × interval + Master_Down_Interval (0.46 s) plus slack.
    assert_eq!(report.new_holder.as_deref(), Some("node2"));
    let takeover = report.takeover_ms.unwrap();
    assert!(takeover < 1500, "takeover {takeover} ms");
    let failback = report.failback.as_ref().unwrap();
    assert!(
        failback.vip_returned,
        "RESUME: the check recovers, node1 preempts"
    );
    assert!(report.proof.holds, "missing: {:?}", report.proof.missing);
    assert_eq!(report.double_holder, None);
}
