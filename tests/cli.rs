//! The `pxadm` command line itself: shell completions, the man page, what `--help` shows, and
//! behaviour with closed pipes, run as real processes.

mod common;

use std::process::{Command, Stdio};

use common::pxadm_bin;

fn pxadm(args: &[&str]) -> std::process::Output {
    Command::new(pxadm_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pxadm")
}

#[test]
fn bash_loads_the_completion_script_and_completes_subcommands() {
    let out = pxadm(&["completions", "bash"]);
    assert!(out.status.success());
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    // Source it, ask for the completions of `pxadm dri`, as bash does on TAB.
    let check = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\" && COMP_WORDS=(pxadm dri) COMP_CWORD=1 && _pxadm pxadm dri pxadm \
             && printf '%s\\n' \"${COMPREPLY[@]}\" && complete -p pxadm",
        )
        .arg("bash")
        .arg(script.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(text.lines().any(|l| l == "drill"), "{text}");
    assert!(text.contains("-F _pxadm pxadm"), "{text}");
    for shell in ["zsh", "fish"] {
        let out = pxadm(&["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let bad = pxadm(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_man_page_renders_and_developer_commands_stay_hidden() {
    let page = pxadm(&["man"]);
    assert!(page.status.success());
    let roff = String::from_utf8_lossy(&page.stdout);
    assert!(roff.contains(".TH pxadm 1"), "{roff}");
    assert!(roff.contains("completions") && !roff.contains("screenshots"));
    let help = String::from_utf8_lossy(&pxadm(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("completions") && help.contains("man"),
        "{help}"
    );
    assert!(!help.contains("screenshots"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let out = pxadm(&["man", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    for page in ["pxadm.1", "pxadm-shell.1", "pxadm-drill-failover.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.starts_with(".ie") && text.contains(".TH"), "{page}");
    }
    assert!(!dir.path().join("pxadm-screenshots.1").exists());
    // `man` renders it, when installed.
    if Command::new("man").arg("--version").output().is_ok() {
        let rendered = Command::new("man")
            .arg("-l")
            .arg(dir.path().join("pxadm-shell.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("--vertical"), "{text}");
    }
}

/// `cmd 2>&1 | head -1`: the reader goes away, and pxadm must exit with its own status, not
/// panic with 101 writing to the closed pipe.
fn exit_status_into_head(args: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "\"$0\" {args} 2>&1 | head -1 >/dev/null; echo \"${{PIPESTATUS[0]}}\""
        ))
        .arg(pxadm_bin())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_closed_pipe_is_no_panic() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let status = exit_status_into_head(&format!(
        "node --datadir {} --admin 127.0.0.1:{port}",
        dir.path().display()
    ));
    assert_eq!(status, "1", "the bind error's status, not a panic");
    assert_eq!(exit_status_into_head("man"), "0");
    assert_eq!(exit_status_into_head("completions bash"), "0");
}

#[test]
fn the_mysql_clients_tls_options_are_refused_with_a_reason() {
    let out = pxadm(&["--no-defaults", "--ssl-ca", "/etc/ca.pem", "-e", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ssl-ca /etc/ca.pem: pxadm connects to admin interfaces without TLS"),
        "{err}"
    );
}

#[test]
fn read_only_is_accepted_for_the_demo_and_explained_elsewhere() {
    let out = pxadm(&["--read-only", "status", "-n", "a:b@127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pxadm console --read-only"), "{err}");
    let help = String::from_utf8_lossy(&pxadm(&["--help"]).stdout).into_owned();
    assert!(help.contains("--read-only"), "{help}");
}
