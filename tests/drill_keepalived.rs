//! `pxadm drill failover --stack keepalived`: the field report's own stack, built by the
//! drill in network namespaces it creates and removes (Debian's keepalived with the configs
//! `pxadm keepalived render` writes, the SQL check, two `pxadm node` proxies, a client
//! namespace for the writer, the MariaDB lab through a relay).
//!
//! Needs root, `ip netns`, keepalived and the mariadb client; otherwise each test prints
//! SKIPPED with the reason and passes without running. Timings are printed, not asserted:
//! what is asserted is that writes resumed through the VIP, that no acknowledged write is
//! missing on the primary, that the VIP moved to the survivor and was never configured in
//! two namespaces at once, and that the drill left no namespace behind.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{lab, pxadm_bin};
use pxadm::console::drill::{run_failover, DrillOptions, DrillReport, Fault, Profile, Stack};

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root to create network namespaces".into());
    }
    for tool in ["ip", "keepalived", "mariadb"] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("PATH=$PATH:/usr/sbin:/sbin command -v {tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` is not installed (see .ci/install-deps)"));
        }
    }
    if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("`ip netns` is unavailable".into());
    }
    None
}

/// Namespaces this test process's drills would have created (`pxd<pid>x<run>...`).
fn leftover_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = format!("pxd{}x", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// One drill at a time: the leftover check below looks at every namespace of this process,
/// and two drills at once would only slow each other down on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn drill(profile: Profile, fault: Fault) -> DrillReport {
    let _turn = ONE_AT_A_TIME.lock().await;
    let lab = lab().await;
    let mut opts = DrillOptions::for_stack(profile, Stack::Keepalived);
    opts.pxadm_bin = pxadm_bin();
    opts.backend.port = lab.primary;
    opts.fault = fault;
    opts.warmup = Duration::from_secs(1);
    opts.settle = Duration::from_secs(1);
    let report = run_failover(opts, None).await.expect("drill failed");
    eprintln!("{}", pxadm::console::drill::render_table(&report));
    assert!(
        leftover_namespaces().is_empty(),
        "namespaces left behind: {:?}",
        leftover_namespaces()
    );
    report
}

/// What every keepalived-stack drill must show.
fn assert_failover(report: &DrillReport) {
    assert_eq!(report.settings.stack, Stack::Keepalived);
    assert_eq!(report.victim, "node1");
    assert!(
        report.victim_was_holder,
        "node1 (priority 100) held the VIP"
    );
    assert_eq!(report.new_holder.as_deref(), Some("node2"));
    assert!(report.detection_ms.is_some(), "keepalived logged no MASTER");
    assert!(report.writes_resumed_ms.is_some());
    let outage = report.outage.as_ref().expect("an outage window");
    assert!(outage.window_ms > 0);
    assert!(
        report.writes.failed > 0,
        "the fault must have cost some writes"
    );
    assert!(report.proof.holds, "missing: {:?}", report.proof.missing);
    assert!(report.proof.acknowledged >= 5);
    assert_eq!(report.double_holder, None, "two namespaces held the VIP");
    // Seen on the wire: both keepalived instances advertised, and node2 announced the VIP
    // with gratuitous ARPs after the fault.
    let wire = report.wire.as_ref().expect("frames captured on the bridge");
    assert!(
        wire.nodes.iter().all(|n| n.adverts > 0),
        "adverts per node: {wire:?}"
    );
    assert!(wire.nodes[1].gratuitous_arps_after_fault > 0, "{wire:?}");
    assert!(wire.announced_ms.is_some(), "{wire:?}");
    let failback = report.failback.as_ref().expect("the victim came back");
    assert!(failback.vip_returned, "preempt: node1 takes the VIP back");
    assert_eq!(failback.final_holder.as_deref(), Some("node1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_profile_kill_moves_the_vip_and_loses_no_acknowledged_write() {
    if let Some(reason) = skip_reason() {
        eprintln!(
            "SKIPPED scenario_profile_kill_moves_the_vip_and_loses_no_acknowledged_write: {reason}"
        );
        return;
    }
    let report = drill(Profile::Scenario, Fault::Kill).await;
    assert_failover(&report);
    assert_eq!(
        report.settings.timing.check_interval,
        Duration::from_secs(2)
    );
    assert_eq!(report.settings.timing.fall, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuned_profile_freeze_moves_the_vip_off_the_frozen_holder() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED tuned_profile_freeze_moves_the_vip_off_the_frozen_holder: {reason}");
        return;
    }
    // SIGSTOP of node1's proxy: keepalived on node1 runs on, its SQL check times out, the
    // VIP moves, and writes resume through node2 while node1 is still stopped (the drill
    // thaws it only once an INSERT after the freeze was acknowledged).
    let report = drill(Profile::Tuned, Fault::Freeze).await;
    assert_failover(&report);
    assert_eq!(
        report.settings.timing.advert_int,
        Duration::from_millis(100)
    );
}

#[test]
fn refuses_clearly_without_root() {
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: the refusal is what runs.
        let out = Command::new(pxadm_bin())
            .args(["drill", "failover", "--stack", "keepalived"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs root"));
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED refuses_clearly_without_root: setpriv is not installed");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(pxadm_bin())
        .args(["drill", "failover", "--stack", "keepalived"])
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot run here") && stderr.contains("needs root"),
        "{stderr}"
    );
}

#[test]
fn freeze_is_refused_on_the_embedded_stack_and_pause_on_keepalived() {
    let out = Command::new(pxadm_bin())
        .args(["drill", "failover", "--fault", "freeze"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stack keepalived"));
    let out = Command::new(pxadm_bin())
        .args([
            "drill",
            "failover",
            "--stack",
            "keepalived",
            "--fault",
            "pause",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kill or freeze"));
}
