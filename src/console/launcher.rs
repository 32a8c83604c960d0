//! Starting `pxadm node` child processes: the one launcher behind the demo cluster, the
//! failover drill and the integration tests.
//!
//! A node runs as a child process of the `pxadm` executable rather than in-process, so a
//! fault (SIGKILL, SIGSTOP, `PROXYSQL KILL`) hits one node and not the console. Every child
//! gets the parent-death guard: it dies with its parent even when the parent is killed and
//! never runs its cleanup, so no node outlives a console, drill or test binary holding ports
//! or the VIP.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How to start one `pxadm node`: `pxadm node --datadir D --admin A [--mysql M] [--config C]
/// [--vip V] [--initial] [extra arguments]`, always with `PXADM_LOOPBACK_ONLY=1`.
#[derive(Debug, Clone)]
pub struct NodeLauncher {
    exe: PathBuf,
    datadir: PathBuf,
    admin: String,
    traffic: Option<String>,
    config: Option<PathBuf>,
    vip_file: Option<PathBuf>,
    initial: bool,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    death_signal: libc::c_int,
}

impl NodeLauncher {
    /// A node of executable `exe` keeping its state in `datadir` and serving its admin
    /// interface on `admin` (`host:port`). It gets SIGKILL when its parent dies.
    pub fn new(exe: impl Into<PathBuf>, datadir: impl Into<PathBuf>, admin: String) -> Self {
        NodeLauncher {
            exe: exe.into(),
            datadir: datadir.into(),
            admin,
            traffic: None,
            config: None,
            vip_file: None,
            initial: false,
            args: Vec::new(),
            envs: Vec::new(),
            death_signal: libc::SIGKILL,
        }
    }

    /// Serves client traffic on `address` (`--mysql`).
    pub fn traffic(mut self, address: String) -> Self {
        self.traffic = Some(address);
        self
    }

    /// Bootstraps from a ProxySQL-format config file (`--config`).
    pub fn config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// Runs the VRRP instance described in `path` (`--vip`).
    pub fn vip_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.vip_file = Some(path.into());
        self
    }

    /// Passes `--initial` (the config file wins over the datadir) when `initial` is true.
    pub fn initial(mut self, initial: bool) -> Self {
        self.initial = initial;
        self
    }

    /// Appends an extra command-line argument after the standard ones.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the node.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The signal the node gets when its parent dies (SIGKILL by default; SIGTERM lets it
    /// shut down gracefully, e.g. give up the VIP with a priority-0 advert).
    pub fn death_signal(mut self, signal: libc::c_int) -> Self {
        self.death_signal = signal;
        self
    }

    /// The command that starts the node, stdin closed; the caller chooses stdout and stderr
    /// and spawns it (`tokio::process::Command::from` for async callers).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("node")
            .arg("--datadir")
            .arg(&self.datadir)
            .arg("--admin")
            .arg(&self.admin);
        if let Some(traffic) = &self.traffic {
            cmd.arg("--mysql").arg(traffic);
        }
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        if let Some(vip_file) = &self.vip_file {
            cmd.arg("--vip").arg(vip_file);
        }
        if self.initial {
            cmd.arg("--initial");
        }
        // Peer connections never leave loopback, whatever addresses the node's SQL lists
        // (unmapped non-loopback peers are refused by the node, not dialled).
        cmd.args(&self.args)
            .env("PXADM_LOOPBACK_ONLY", "1")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        die_with_parent(&mut cmd, self.death_signal);
        cmd
    }
}

/// Makes the child of `cmd` receive `signal` when the thread that spawned it ends
/// (prctl(PR_SET_PDEATHSIG)), and refuses to start it if the parent already died between
/// fork and prctl, which the kernel would otherwise never report.
pub fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(io::Error::last_os_error());
            }
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(io::Error::other("the parent exited during spawn"));
            }
            Ok(())
        });
    }
}
