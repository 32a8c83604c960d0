//! One description of a whole virtual router, rendered for every node both as pxadm's own
//! `--vip` file and as a real keepalived.conf plus its check script (`pxadm keepalived
//! render`). Both come from the same values, so a deployment can move between the embedded
//! VIP and keepalived without the two drifting apart.
//!
//! ```toml
//! instance = "VI_1"                 # optional, default VI_1
//! virtual_router_id = 51
//! auth_pass = "1234"                # optional
//! advert_int = 1                    # optional, seconds (default 1)
//! nopreempt = false                 # optional (default false: preempt)
//! vip = "192.168.0.20/24"           # the VIP with its prefix length
//! port = 6033                       # optional: traffic port served on the VIP (default 6033)
//! interface = "enp0s3"              # keepalived's interface (a node may override it)
//! advert_port = 5405                # optional: UDP port of pxadm's adverts (default 5405)
//! unicast = false                   # optional: keepalived unicast_src_ip/unicast_peer
//!
//! script_user = "root"              # optional: keepalived's script_user (default root, with
//!                                   #   enable_script_security); "" renders an empty global_defs
//! notify = "/etc/keepalived/notify.sh"  # optional: log every VRRP transition (syslog)
//!
//! [check]                           # optional
//! name = "chk_service"              # optional, default chk_service
//! script = "/etc/keepalived/check_service.sh"   # optional: where keepalived finds it
//! kind = "process"                  # optional: "process" (the report's ps | grep) or "sql"
//! pattern = "proxysql.cnf"          # optional, process: the script looks for this process
//! host = "127.0.0.1"                # optional, sql: where the local proxy listens
//! port = 6033                       # optional, sql: default the VIP's traffic port
//! user = "svcusr"                   # sql: a user the proxy accepts on that port
//! password = "svcusr"               # sql: written to <script>.cnf (mode 0600), not the script
//! interval = 2                      # optional, seconds (default 1)
//! fall = 2                          # optional (default 1)
//! rise = 1                          # optional (default 1)
//! weight = -20                      # optional (default 0: FAULT while failed)
//!
//! [[node]]
//! name = "node1"                    # file names: keepalived-node1.conf, vip-node1.toml
//! address = "192.168.0.11"          # the node's own address (adverts, unicast)
//! state = "MASTER"
//! priority = 100
//!
//! [[node]]
//! name = "node2"
//! address = "192.168.0.12"
//! state = "BACKUP"
//! priority = 90
//! ```
//!
//! In the pxadm file the check becomes `kind = "builtin"`: the embedded instance dies with
//! the process, so "is the proxy process alive" is implied and the node checks its own
//! listener instead.

use core::net::{IpAddr, SocketAddr};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

use super::config::{InitialState, VipConfig};
use super::keepalived::{
    parse_cidr, render_check_credentials, render_check_script, render_keepalived_conf,
    render_notify_script, render_sql_check_script, KeepalivedDeployment, RenderError, SqlCheck,
};

/// The scenario's two nodes (steps 6-7): `pxadm keepalived render` without `--nodes`.
pub const SCENARIO: &str = r#"virtual_router_id = 51
auth_pass = "1234"
vip = "192.168.0.20/24"
interface = "enp0s3"

[check]
script = "/etc/keepalived/check_service.sh"
interval = 2
weight = -20
fall = 2

[[node]]
name = "node1"
address = "192.168.0.11"
state = "MASTER"
priority = 100

[[node]]
name = "node2"
address = "192.168.0.12"
state = "BACKUP"
priority = 90
"#;

/// A virtual router and its nodes, as written in a `--nodes` file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VipCluster {
    /// Instance name.
    #[serde(default = "default_instance")]
    pub instance: String,
    /// VRID shared by the nodes.
    pub virtual_router_id: u8,
    /// Shared password.
    pub auth_pass: Option<String>,
    /// Advertisement interval in seconds.
    #[serde(default = "default_advert_int")]
    pub advert_int: f64,
    /// Whether a higher-priority node leaves a running master alone.
    #[serde(default)]
    pub nopreempt: bool,
    /// The VIP with its prefix length (`192.168.0.20/24`).
    pub vip: String,
    /// Traffic port served on the VIP.
    #[serde(default = "default_port")]
    pub port: u16,
    /// keepalived's `interface`.
    pub interface: String,
    /// UDP port of pxadm's adverts on every node's address.
    #[serde(default = "default_advert_port")]
    pub advert_port: u16,
    /// Render keepalived's unicast_src_ip/unicast_peer instead of multicast.
    #[serde(default)]
    pub unicast: bool,
    /// User keepalived runs scripts as, with `enable_script_security`; empty for neither.
    #[serde(default = "default_script_user")]
    pub script_user: String,
    /// Where the `notify` script that logs transitions is installed, if wanted.
    pub notify: Option<String>,
    /// The tracked check.
    pub check: Option<ClusterCheck>,
    /// The nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<ClusterNode>,
}

/// The tracked check of every node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterCheck {
    /// `vrrp_script` name.
    #[serde(default = "default_check_name")]
    pub name: String,
    /// Where keepalived finds the rendered script.
    #[serde(default = "default_script")]
    pub script: String,
    /// What the script checks.
    #[serde(default)]
    pub kind: CheckScriptKind,
    /// Process command-line fragment the `process` script looks for.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// Host the `sql` check connects to.
    #[serde(default = "default_check_host")]
    pub host: String,
    /// Port the `sql` check connects to; default the VIP's traffic port.
    pub port: Option<u16>,
    /// User of the `sql` check.
    pub user: Option<String>,
    /// Password of the `sql` check (rendered into a 0600 option file, not the script).
    pub password: Option<String>,
    /// Seconds between runs.
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Run timeout in seconds (default: the interval).
    pub timeout: Option<f64>,
    /// Failures in a row before the check counts as failed.
    #[serde(default = "one")]
    pub fall: u32,
    /// Successes in a row before it counts as healthy again.
    #[serde(default = "one")]
    pub rise: u32,
    /// Priority adjustment; 0 means FAULT while failed.
    #[serde(default)]
    pub weight: i32,
}

/// What keepalived's check script tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckScriptKind {
    /// A process whose command line holds `pattern` exists (the field report's `ps | grep`);
    /// blind to a paused or hung proxy.
    #[default]
    Process,
    /// The local proxy answers `SELECT 1` within the timeout.
    Sql,
}

/// One node of the virtual router.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    /// Name used in the rendered file names.
    pub name: String,
    /// The node's own address.
    pub address: IpAddr,
    /// Initial state.
    pub state: InitialState,
    /// Priority.
    pub priority: u8,
    /// Overrides the cluster's `interface` for this host.
    pub interface: Option<String>,
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// File name, without directory.
    pub name: String,
    /// Contents.
    pub contents: String,
    /// Unix permissions: 0755 for scripts, 0600 for credentials, 0644 otherwise.
    pub mode: u32,
}

fn default_instance() -> String {
    "VI_1".into()
}
fn default_advert_int() -> f64 {
    1.0
}
fn default_port() -> u16 {
    6033
}
fn default_advert_port() -> u16 {
    5405
}
fn default_check_name() -> String {
    "chk_service".into()
}
fn default_script() -> String {
    "/etc/keepalived/check_service.sh".into()
}
fn default_script_user() -> String {
    "root".into()
}
fn default_check_host() -> String {
    "127.0.0.1".into()
}
fn default_pattern() -> String {
    "proxysql.cnf".into()
}
fn default_interval() -> f64 {
    1.0
}
fn one() -> u32 {
    1
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RenderError {
    RenderError::Deployment {
        field,
        reason: reason.into(),
    }
}

impl VipCluster {
    /// Parses a `--nodes` file and checks what concerns the cluster as a whole; per-node
    /// rules are checked when rendering.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let cluster: VipCluster =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        cluster.validate().map_err(|e| e.to_string())?;
        Ok(cluster)
    }

    /// The scenario's two nodes.
    pub fn scenario() -> Self {
        // The constant is part of this build and covered by the tests below.
        Self::from_toml(SCENARIO).unwrap_or_else(|e| unreachable!("built-in scenario: {e}"))
    }

    fn validate(&self) -> Result<(), RenderError> {
        if self.nodes.is_empty() {
            return Err(invalid("node", "at least one [[node]] is needed"));
        }
        parse_cidr(&self.vip)?;
        let mut names = HashSet::new();
        let mut addresses = HashSet::new();
        for node in &self.nodes {
            // The name becomes part of a file name.
            if node.name.is_empty()
                || !node
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                || node.name.starts_with('.')
            {
                return Err(invalid(
                    "node.name",
                    format!(
                        "{:?} must use only letters, digits, '_', '-' and '.'",
                        node.name
                    ),
                ));
            }
            if !names.insert(&node.name) {
                return Err(invalid(
                    "node.name",
                    format!("{} is listed twice", node.name),
                ));
            }
            if !addresses.insert(node.address) {
                return Err(invalid(
                    "node.address",
                    format!("{} is listed twice", node.address),
                ));
            }
        }
        Ok(())
    }

    /// pxadm's `--vip` file for `node`, in the format of [`super::config`].
    pub fn vip_toml(&self, node: &ClusterNode) -> Result<String, RenderError> {
        let (vip_ip, _) = parse_cidr(&self.vip)?;
        let mut out = String::new();
        let _ = writeln!(out, "# pxadm node --vip for {}", node.name);
        let _ = writeln!(out, "instance = {}", toml_str(&self.instance));
        let _ = writeln!(out, "virtual_router_id = {}", self.virtual_router_id);
        let _ = writeln!(out, "state = \"{}\"", node.state.as_str());
        let _ = writeln!(out, "priority = {}", node.priority);
        let _ = writeln!(out, "advert_int = {}", self.advert_int);
        if self.nopreempt {
            out.push_str("nopreempt = true\n");
        }
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(out, "auth_pass = {}", toml_str(pass));
        }
        let _ = writeln!(out, "vip = \"{}\"", SocketAddr::new(vip_ip, self.port));
        let _ = writeln!(
            out,
            "bind = \"{}\"",
            SocketAddr::new(node.address, self.advert_port)
        );
        let peers: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.name != node.name)
            .map(|n| format!("\"{}\"", SocketAddr::new(n.address, self.advert_port)))
            .collect();
        let _ = writeln!(out, "peers = [{}]", peers.join(", "));
        if let Some(check) = &self.check {
            out.push_str("\n[check]\n");
            let _ = writeln!(out, "name = {}", toml_str(&check.name));
            out.push_str("kind = \"builtin\"\n");
            let _ = writeln!(out, "interval = {}", check.interval);
            if let Some(timeout) = check.timeout {
                let _ = writeln!(out, "timeout = {timeout}");
            }
            let _ = writeln!(out, "fall = {}", check.fall);
            let _ = writeln!(out, "rise = {}", check.rise);
            let _ = writeln!(out, "weight = {}", check.weight);
        }
        Ok(out)
    }

    /// The validated pxadm configuration of `node`.
    pub fn vip_config(&self, node: &ClusterNode) -> Result<VipConfig, RenderError> {
        VipConfig::from_toml(&self.vip_toml(node)?).map_err(|reason| {
            invalid(
                "node",
                format!("{}: {}", node.name, reason.replace('\n', " ")),
            )
        })
    }

    /// keepalived's host-specific values for `node`.
    pub fn deployment(&self, node: &ClusterNode) -> KeepalivedDeployment {
        let others = self
            .nodes
            .iter()
            .filter(|n| n.name != node.name)
            .map(|n| n.address);
        KeepalivedDeployment {
            interface: node
                .interface
                .clone()
                .unwrap_or_else(|| self.interface.clone()),
            vip_cidr: self.vip.clone(),
            script_path: self
                .check
                .as_ref()
                .map(|c| c.script.clone())
                .unwrap_or_default(),
            unicast_src_ip: self.unicast.then_some(node.address),
            unicast_peers: if self.unicast {
                others.collect()
            } else {
                Vec::new()
            },
            script_user: (!self.script_user.is_empty()).then(|| self.script_user.clone()),
            notify_path: self.notify.clone(),
        }
    }

    /// Every file of the deployment: per node `keepalived-<name>.conf` and `vip-<name>.toml`,
    /// plus the check script once (named after its install path).
    pub fn render(&self) -> Result<Vec<RenderedFile>, RenderError> {
        self.validate()?;
        let mut files = Vec::new();
        for node in &self.nodes {
            let cfg = self.vip_config(node)?;
            let mut deployment = self.deployment(node);
            if deployment.script_path.is_empty() {
                // No check: the renderer never prints the path, any valid one will do.
                deployment.script_path = "unused".into();
            }
            files.push(RenderedFile {
                name: format!("keepalived-{}.conf", node.name),
                contents: render_keepalived_conf(&cfg, &deployment)?,
                mode: 0o644,
            });
            files.push(RenderedFile {
                name: format!("vip-{}.toml", node.name),
                contents: self.vip_toml(node)?,
                mode: 0o644,
            });
        }
        if let Some(check) = &self.check {
            let name = file_name(&check.script, "check.script")?;
            let contents = match check.kind {
                CheckScriptKind::Process => render_check_script(&check.pattern)?,
                CheckScriptKind::Sql => {
                    let user = check
                        .user
                        .as_deref()
                        .ok_or_else(|| invalid("check.user", "kind = \"sql\" needs a user"))?;
                    let stem = name.strip_suffix(".sh").unwrap_or(name);
                    let dir = &check.script[..check.script.len() - name.len()];
                    let defaults_file = format!("{dir}{stem}.cnf");
                    files.push(RenderedFile {
                        name: format!("{stem}.cnf"),
                        contents: render_check_credentials(user, check.password.as_deref())?,
                        mode: 0o600,
                    });
                    render_sql_check_script(&SqlCheck {
                        host: check.host.clone(),
                        port: check.port.unwrap_or(self.port),
                        defaults_file,
                        // keepalived kills a script that outlives its own timeout (default:
                        // the interval); the check gives up a little before.
                        timeout: Duration::from_secs_f64(
                            check.timeout.unwrap_or(check.interval).max(0.1),
                        ),
                    })?
                }
            };
            files.push(RenderedFile {
                name: name.to_string(),
                contents,
                mode: 0o755,
            });
        }
        if let Some(notify) = &self.notify {
            files.push(RenderedFile {
                name: file_name(notify, "notify")?.to_string(),
                contents: render_notify_script(),
                mode: 0o755,
            });
        }
        Ok(files)
    }
}

/// The file name at the end of an install path.
fn file_name<'a>(path: &'a str, field: &'static str) -> Result<&'a str, RenderError> {
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| invalid(field, "must end with a file name"))
}

/// A TOML basic string.
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::vrrp::config::CheckKind;
    use std::time::Duration;

    fn file<'a>(files: &'a [RenderedFile], name: &str) -> &'a RenderedFile {
        files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} not rendered"))
    }

    #[test]
    fn scenario_renders_keepalived_and_pxadm_files() {
        let files = VipCluster::scenario().render().unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "keepalived-node1.conf",
                "vip-node1.toml",
                "keepalived-node2.conf",
                "vip-node2.toml",
                "check_service.sh"
            ]
        );
        let conf = &file(&files, "keepalived-node2.conf").contents;
        assert!(conf.contains("    state BACKUP\n    interface enp0s3\n"));
        assert!(conf.contains("        192.168.0.20/24\n"));
        assert_eq!(file(&files, "check_service.sh").mode, 0o755);
    }

    #[test]
    fn pxadm_file_round_trips_to_the_same_instance() {
        let cluster = VipCluster::scenario();
        let cfg = cluster.vip_config(&cluster.nodes[1]).unwrap();
        assert_eq!(cfg.priority, 90);
        assert_eq!(cfg.state, InitialState::Backup);
        assert_eq!(cfg.vip, "192.168.0.20:6033".parse().unwrap());
        assert_eq!(cfg.bind, "192.168.0.12:5405".parse().unwrap());
        assert_eq!(cfg.peers, ["192.168.0.11:5405".parse().unwrap()]);
        assert_eq!(cfg.auth_pass.as_deref(), Some("1234"));
        let check = cfg.check.unwrap();
        assert_eq!(check.kind, CheckKind::Builtin);
        assert_eq!(check.interval, Duration::from_secs(2));
        assert_eq!((check.fall, check.rise, check.weight), (2, 1, -20));
    }

    #[test]
    fn unicast_and_sub_second_adverts() {
        let text = SCENARIO
            .replace(
                "auth_pass = \"1234\"\n",
                "unicast = true\nadvert_int = 0.1\n",
            )
            .replace("interval = 2", "interval = 0.1");
        let cluster = VipCluster::from_toml(&text).unwrap();
        let files = cluster.render().unwrap();
        let conf = &file(&files, "keepalived-node1.conf").contents;
        for line in [
            "vrrp_version 3",
            "advert_int 0.1",
            "unicast_src_ip 192.168.0.11",
            "192.168.0.12",
            "interval 0.1",
        ] {
            assert!(conf.contains(line), "{line} missing:\n{conf}");
        }
        let cfg = cluster.vip_config(&cluster.nodes[0]).unwrap();
        assert_eq!(cfg.advert_int, Duration::from_millis(100));
    }

    #[test]
    fn bad_descriptions_are_explained() {
        for (text, expect) in [
            (SCENARIO.replace("node2", "node1"), "listed twice"),
            (
                SCENARIO.replace("192.168.0.12", "192.168.0.11"),
                "listed twice",
            ),
            (SCENARIO.replace("\"node2\"", "\"../x\""), "node.name"),
            (SCENARIO.replace("/24", ""), "vip_cidr"),
            (
                SCENARIO.replace("fall = 2", "fall = 2\ncolour = 1"),
                "colour",
            ),
            (
                SCENARIO.replace("priority = 90", "priority = 0"),
                "priority",
            ),
        ] {
            let err = VipCluster::from_toml(&text)
                .and_then(|c| c.render().map_err(|e| e.to_string()))
                .unwrap_err();
            assert!(err.contains(expect), "{expect}: {err}");
        }
    }

    #[test]
    fn script_security_is_on_by_default_and_can_be_left_out() {
        let files = VipCluster::scenario().render().unwrap();
        let conf = &file(&files, "keepalived-node1.conf").contents;
        assert!(conf
            .starts_with("global_defs {\n    script_user root\n    enable_script_security\n}\n"));
        let report = VipCluster::from_toml(&format!("script_user = \"\"\n{SCENARIO}")).unwrap();
        let files = report.render().unwrap();
        let conf = &file(&files, "keepalived-node1.conf").contents;
        assert!(conf.starts_with("global_defs {\n}\n"), "{conf}");
    }

    #[test]
    fn sql_check_renders_a_script_and_a_private_credentials_file() {
        let text = SCENARIO.replace(
            "fall = 2\n",
            "fall = 2\nkind = \"sql\"\nuser = \"svcusr\"\npassword = 'p\"w'\n",
        );
        let files = VipCluster::from_toml(&text).unwrap().render().unwrap();
        let script = file(&files, "check_service.sh");
        assert_eq!(script.mode, 0o755);
        for needle in [
            "--defaults-extra-file=\"/etc/keepalived/check_service.cnf\"",
            "-h 127.0.0.1 -P 6033",
            "timeout -k 1 2 ",
            "-e 'SELECT 1'",
        ] {
            assert!(
                script.contents.contains(needle),
                "{needle} in {}",
                script.contents
            );
        }
        assert!(
            !script.contents.contains("svcusr"),
            "no credentials in the script"
        );
        let cnf = file(&files, "check_service.cnf");
        assert_eq!(cnf.mode, 0o600);
        assert!(
            cnf.contents
                .contains("[client]\nuser=\"svcusr\"\npassword=\"p\\\"w\"\n"),
            "{}",
            cnf.contents
        );

        let no_user = SCENARIO.replace("fall = 2\n", "fall = 2\nkind = \"sql\"\n");
        let err = VipCluster::from_toml(&no_user)
            .unwrap()
            .render()
            .unwrap_err();
        assert!(err.to_string().contains("check.user"), "{err}");
    }

    #[test]
    fn notify_script_logs_transitions() {
        let text = format!("notify = \"/etc/keepalived/notify.sh\"\n{SCENARIO}");
        let files = VipCluster::from_toml(&text).unwrap().render().unwrap();
        let conf = &file(&files, "keepalived-node2.conf").contents;
        assert!(
            conf.contains("    notify \"/etc/keepalived/notify.sh\"\n}\n"),
            "{conf}"
        );
        let notify = file(&files, "notify.sh");
        assert_eq!(notify.mode, 0o755);
        assert!(notify.contents.contains("logger -t keepalived-notify"));
    }
}
