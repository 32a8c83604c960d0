//! Renders a [`VipConfig`] as a real keepalived.conf and its check script, for deployments
//! that run keepalived in front of the nodes (the scenario's step 6) instead of, or after
//! rehearsing with, the embedded VIP. Only what differs from keepalived's defaults is
//! written, apart from `interval` and `weight`, whose defaults changed across versions.

use core::net::IpAddr;
use std::fmt::Write as _;
use std::time::Duration;

use super::config::{VipConfig, VipConfigError};

/// Host-specific values keepalived needs and the embedded VIP does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepalivedDeployment {
    /// Network interface carrying the VIP (`interface enp0s3`).
    pub interface: String,
    /// The VIP with its prefix length (`192.168.0.20/24`).
    pub vip_cidr: String,
    /// Where the check script is installed (`/etc/keepalived/check_service.sh`).
    pub script_path: String,
    /// Source address for unicast adverts; `None` uses the interface's address.
    pub unicast_src_ip: Option<IpAddr>,
    /// Unicast peers; empty means multicast, as in the scenario.
    pub unicast_peers: Vec<IpAddr>,
    /// User keepalived runs scripts as; `Some` also turns on `enable_script_security`, without
    /// which keepalived 2.2 refuses (`keepalived -t` exits 5) to run root-owned scripts.
    /// `None` keeps the field report's empty `global_defs`.
    pub script_user: Option<String>,
    /// Script keepalived runs on every state change (`notify`), if any.
    pub notify_path: Option<String>,
}

/// Why a configuration cannot be expressed in keepalived.conf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The VIP configuration itself is invalid.
    #[error(transparent)]
    Config(#[from] VipConfigError),
    /// A deployment value would break keepalived's parser.
    #[error("keepalived {field}: {reason}")]
    Deployment {
        /// The offending field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A fractional advert_int needs VRRPv3, which keepalived runs without authentication.
    #[error(
        "keepalived: advert_int {0} s needs vrrp_version 3, which does not support auth_pass; \
         use whole seconds or drop auth_pass"
    )]
    FractionalAdvertWithAuth(String),
}

fn deployment_error(field: &'static str, reason: impl Into<String>) -> RenderError {
    RenderError::Deployment {
        field,
        reason: reason.into(),
    }
}

/// Seconds as keepalived reads them: an integer when whole, else a decimal (ms resolution).
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        let text = format!("{}.{:03}", ms / 1000, ms % 1000);
        text.trim_end_matches('0').to_string()
    }
}

/// Splits `address/prefix`, checking both parts.
pub(crate) fn parse_cidr(text: &str) -> Result<(IpAddr, u8), RenderError> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| deployment_error("vip_cidr", format!("{text:?} is not address/prefix")))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| deployment_error("vip_cidr", format!("{addr:?} is not an IP address")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 =
        prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
            deployment_error("vip_cidr", format!("prefix {prefix:?} is not 0-{max}"))
        })?;
    Ok((addr, prefix))
}

/// keepalived.conf for `cfg` on one host.
pub fn render_keepalived_conf(
    cfg: &VipConfig,
    deployment: &KeepalivedDeployment,
) -> Result<String, RenderError> {
    cfg.validate()?;
    if deployment.interface.is_empty()
        || !deployment
            .interface
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'@'))
    {
        return Err(deployment_error(
            "interface",
            format!("{:?} is not an interface name", deployment.interface),
        ));
    }
    if deployment.script_path.is_empty() || deployment.script_path.contains(['"', '\n']) {
        return Err(deployment_error(
            "script_path",
            "must be non-empty, without double quotes or newlines",
        ));
    }
    if let Some(user) = &deployment.script_user {
        if user.is_empty()
            || !user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(deployment_error(
                "script_user",
                format!("{user:?} is not a user name"),
            ));
        }
    }
    if let Some(path) = &deployment.notify_path {
        if path.is_empty() || path.contains(['"', '\n']) {
            return Err(deployment_error(
                "notify",
                "must be non-empty, without double quotes or newlines",
            ));
        }
    }
    let (vip_addr, vip_prefix) = parse_cidr(&deployment.vip_cidr)?;
    let fractional = cfg.advert_int.subsec_nanos() != 0;
    if fractional && cfg.auth_pass.is_some() {
        return Err(RenderError::FractionalAdvertWithAuth(seconds(
            cfg.advert_int,
        )));
    }

    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps the builder readable.
    out.push_str("global_defs {\n");
    if fractional {
        // VRRPv2 only knows whole seconds and would round the interval.
        out.push_str("    vrrp_version 3\n");
    }
    let runs_scripts = cfg.check.is_some() || deployment.notify_path.is_some();
    if let (Some(user), true) = (&deployment.script_user, runs_scripts) {
        let _ = writeln!(out, "    script_user {user}");
        out.push_str("    enable_script_security\n");
    }
    out.push_str("}\n");
    if let Some(check) = &cfg.check {
        let _ = writeln!(out, "vrrp_script {} {{", check.name);
        let _ = writeln!(out, "    script \"{}\"", deployment.script_path);
        let _ = writeln!(out, "    interval {}", seconds(check.interval));
        if let Some(timeout) = check.timeout {
            let _ = writeln!(out, "    timeout {}", seconds(timeout));
        }
        let _ = writeln!(out, "    weight {}", check.weight);
        if check.fall != 1 {
            let _ = writeln!(out, "    fall {}", check.fall);
        }
        if check.rise != 1 {
            let _ = writeln!(out, "    rise {}", check.rise);
        }
        if check.init_fail {
            out.push_str("    init_fail\n");
        }
        out.push_str("}\n");
    }
    let _ = writeln!(out, "vrrp_instance {} {{", cfg.instance);
    let _ = writeln!(out, "    state {}", cfg.state.as_str());
    let _ = writeln!(out, "    interface {}", deployment.interface);
    let _ = writeln!(out, "    virtual_router_id {}", cfg.virtual_router_id);
    let _ = writeln!(out, "    priority {}", cfg.priority);
    if !cfg.preempt {
        out.push_str("    nopreempt\n");
    }
    if !cfg.preempt_delay.is_zero() {
        let _ = writeln!(out, "    preempt_delay {}", seconds(cfg.preempt_delay));
    }
    if cfg.advert_int != Duration::from_secs(1) {
        let _ = writeln!(out, "    advert_int {}", seconds(cfg.advert_int));
    }
    if let Some(src) = deployment.unicast_src_ip {
        let _ = writeln!(out, "    unicast_src_ip {src}");
    }
    if !deployment.unicast_peers.is_empty() {
        out.push_str("    unicast_peer {\n");
        for peer in &deployment.unicast_peers {
            let _ = writeln!(out, "        {peer}");
        }
        out.push_str("    }\n");
    }
    if let Some(pass) = &cfg.auth_pass {
        out.push_str("    authentication {\n        auth_type PASS\n");
        let _ = writeln!(out, "        auth_pass {pass}");
        out.push_str("    }\n");
    }
    let _ = writeln!(
        out,
        "    virtual_ipaddress {{\n        {vip_addr}/{vip_prefix}\n    }}"
    );
    if let Some(check) = &cfg.check {
        let _ = writeln!(out, "    track_script {{\n        {}\n    }}", check.name);
    }
    if let Some(path) = &deployment.notify_path {
        let _ = writeln!(out, "    notify \"{path}\"");
    }
    out.push_str("}\n");
    Ok(out)
}

/// The check script keepalived runs: exit 0 while a process whose command line contains
/// `pattern` exists, 1 otherwise (the scenario uses `proxysql.cnf`).
pub fn render_check_script(pattern: &str) -> Result<String, RenderError> {
    // The pattern sits in double quotes, where these characters would be interpreted.
    if pattern.is_empty() || pattern.contains(['"', '\\', '$', '`', '\n']) {
        return Err(deployment_error(
            "pattern",
            "must be non-empty, without quotes, backslashes, '$', '`' or newlines",
        ));
    }
    Ok(format!(
        "#!/bin/bash\n\
         # exit 0 while a process whose command line contains {pattern} exists, 1 otherwise\n\
         count=$(ps -ef | grep \"{pattern}\" | grep -v grep | wc -l)\n\
         if [ \"$count\" -gt 0 ]; then exit 0; else exit 1; fi\n"
    ))
}

/// Where the SQL check finds the local proxy, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCheck {
    /// Host of the proxy port the check logs into (normally `127.0.0.1`).
    pub host: String,
    /// The proxy's traffic port (what clients experience) or its admin port.
    pub port: u16,
    /// Option file with the check's user and password (mode 0600), so the credentials are
    /// neither in the script nor on a command line that `ps` shows.
    pub defaults_file: String,
    /// The whole check, connection included, fails after this long.
    pub timeout: Duration,
}

/// The SQL check keepalived runs: exit 0 while the proxy answers `SELECT 1` within the
/// timeout. Unlike the report's `ps | grep`, a paused, hung or overloaded proxy fails it.
pub fn render_sql_check_script(check: &SqlCheck) -> Result<String, RenderError> {
    if check.host.is_empty()
        || !check
            .host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
    {
        return Err(deployment_error(
            "check.host",
            format!("{:?} is not a host name or address", check.host),
        ));
    }
    if check.defaults_file.is_empty() || check.defaults_file.contains(['"', '\\', '$', '`', '\n']) {
        return Err(deployment_error(
            "check.script",
            "must be non-empty, without quotes, backslashes, '$', '`' or newlines",
        ));
    }
    if check.timeout.is_zero() {
        return Err(deployment_error("check.timeout", "must be above 0"));
    }
    // The client's --connect-timeout takes whole seconds; timeout(1) bounds the whole run.
    let connect_secs = check.timeout.as_secs_f64().ceil().max(1.0) as u64;
    Ok(format!(
        "#!/bin/sh\n\
         # exit 0 while the proxy at {host}:{port} answers SELECT 1 within {t} s, 1 otherwise:\n\
         # a dead, paused or hung proxy fails it. Credentials: {file} (mode 0600).\n\
         client=$(command -v mariadb || command -v mysql) || exit 1\n\
         timeout -k 1 {t} \"$client\" --defaults-extra-file=\"{file}\" --protocol=TCP \\\n\
         \x20   -h {host} -P {port} --connect-timeout={connect_secs} -N -e 'SELECT 1' >/dev/null 2>&1 \\\n\
         \x20   || exit 1\n",
        host = check.host,
        port = check.port,
        t = seconds(check.timeout),
        file = check.defaults_file,
    ))
}

/// The `[client]` option file the SQL check reads its credentials from.
pub fn render_check_credentials(user: &str, password: Option<&str>) -> Result<String, RenderError> {
    let bad = |v: &str| v.contains(['\n', '\r', '\0']);
    if user.is_empty() || bad(user) || password.is_some_and(bad) {
        return Err(deployment_error(
            "check.user",
            "user must be non-empty; user and password without newlines",
        ));
    }
    // Option files unescape \\ and \" inside double quotes.
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from(
        "# credentials of keepalived's SQL check; keep this file mode 0600\n[client]\n",
    );
    let _ = writeln!(out, "user={}", quote(user));
    if let Some(password) = password {
        let _ = writeln!(out, "password={}", quote(password));
    }
    Ok(out)
}

/// The `notify` script: every VRRP state change of the instance goes to syslog (journal) with
/// the tag `keepalived-notify`, so transitions can be read back beside the proxy's log.
pub fn render_notify_script() -> String {
    "#!/bin/sh\n\
     # keepalived notify: $1 is INSTANCE or GROUP, $2 its name, $3 the new state (MASTER,\n\
     # BACKUP, FAULT, STOP), $4 the priority. Logged to syslog with the tag keepalived-notify.\n\
     logger -t keepalived-notify -- \"$1 $2 is now $3 (priority ${4:-?})\"\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::vrrp::config::{CheckKind, InitialState, TrackConfig};

    const NODE1_CONF: &str = r#"global_defs {
}
vrrp_script chk_service {
    script "/etc/keepalived/check_service.sh"
    interval 2
    weight -20
    fall 2
}
vrrp_instance VI_1 {
    state MASTER
    interface enp0s3
    virtual_router_id 51
    priority 100
    authentication {
        auth_type PASS
        auth_pass 1234
    }
    virtual_ipaddress {
        192.168.0.20/24
    }
    track_script {
        chk_service
    }
}
"#;

    const NODE2_CONF: &str = r#"global_defs {
}
vrrp_script chk_service {
    script "/etc/keepalived/check_service.sh"
    interval 2
    weight -20
    fall 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface enp0s3
    virtual_router_id 51
    priority 90
    authentication {
        auth_type PASS
        auth_pass 1234
    }
    virtual_ipaddress {
        192.168.0.20/24
    }
    track_script {
        chk_service
    }
}
"#;

    const CHECK_SCRIPT: &str = r#"#!/bin/bash
# exit 0 while a proxysql process started with proxysql.cnf exists, 1 otherwise
count=$(ps -ef | grep "proxysql.cnf" | grep -v grep | wc -l)
if [ "$count" -gt 0 ]; then exit 0; else exit 1; fi
"#;

    fn normalise(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn scenario_node(last: u8, priority: u8, state: InitialState) -> VipConfig {
        let mut cfg = VipConfig::new(
            51,
            "192.168.0.20:6033".parse().unwrap(),
            format!("192.168.0.{last}:5405").parse().unwrap(),
        );
        cfg.priority = priority;
        cfg.state = state;
        cfg.auth_pass = Some("1234".into());
        let mut check = TrackConfig::new(
            "chk_service",
            CheckKind::Script("/etc/keepalived/check_service.sh".into()),
        );
        check.interval = Duration::from_secs(2);
        check.weight = -20;
        check.fall = 2;
        cfg.check = Some(check);
        cfg
    }

    fn deployment() -> KeepalivedDeployment {
        KeepalivedDeployment {
            interface: "enp0s3".into(),
            vip_cidr: "192.168.0.20/24".into(),
            script_path: "/etc/keepalived/check_service.sh".into(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            script_user: None,
            notify_path: None,
        }
    }

    #[test]
    fn scenario_nodes_render_as_the_field_report() {
        let node1 =
            render_keepalived_conf(&scenario_node(11, 100, InitialState::Master), &deployment())
                .unwrap();
        assert_eq!(normalise(&node1), normalise(NODE1_CONF));
        let node2 =
            render_keepalived_conf(&scenario_node(12, 90, InitialState::Backup), &deployment())
                .unwrap();
        assert_eq!(normalise(&node2), normalise(NODE2_CONF));
    }

    #[test]
    fn check_script_matches_the_scenario() {
        let code = |text: &str| -> Vec<String> {
            normalise(text)
                .into_iter()
                .filter(|l| !l.starts_with("# "))
                .collect()
        };
        assert_eq!(
            code(&render_check_script("proxysql.cnf").unwrap()),
            code(CHECK_SCRIPT)
        );
        assert!(render_check_script("x\" ; rm -rf / ; \"").is_err());
    }

    #[test]
    fn non_default_options_are_rendered() {
        let mut cfg = scenario_node(12, 90, InitialState::Backup);
        cfg.preempt = false;
        cfg.advert_int = Duration::from_secs(3);
        let check = cfg.check.as_mut().unwrap();
        check.rise = 3;
        check.interval = Duration::from_millis(500);
        check.timeout = Some(Duration::from_millis(1500));
        check.init_fail = true;
        let mut dep = deployment();
        dep.unicast_src_ip = Some("192.168.0.12".parse().unwrap());
        dep.unicast_peers = vec!["192.168.0.11".parse().unwrap()];
        let text = normalise(&render_keepalived_conf(&cfg, &dep).unwrap());
        for line in [
            "interval 0.5",
            "timeout 1.5",
            "rise 3",
            "init_fail",
            "nopreempt",
            "advert_int 3",
            "unicast_src_ip 192.168.0.12",
            "unicast_peer {",
            "192.168.0.11",
        ] {
            assert!(text.iter().any(|l| l == line), "{line} missing in {text:?}");
        }
        assert!(!text.iter().any(|l| l == "vrrp_version 3"));
    }

    #[test]
    fn fractional_advert_int_needs_vrrp3_without_auth() {
        let mut cfg = scenario_node(11, 100, InitialState::Master);
        cfg.advert_int = Duration::from_millis(100);
        assert!(matches!(
            render_keepalived_conf(&cfg, &deployment()),
            Err(RenderError::FractionalAdvertWithAuth(ref s)) if s == "0.1"
        ));
        cfg.auth_pass = None;
        let text = normalise(&render_keepalived_conf(&cfg, &deployment()).unwrap());
        assert_eq!(text[..3], ["global_defs {", "vrrp_version 3", "}"]);
        assert!(text.iter().any(|l| l == "advert_int 0.1"));
        assert!(!text.iter().any(|l| l.starts_with("authentication")));
    }

    #[test]
    fn bad_deployment_values_are_rejected() {
        let cfg = scenario_node(11, 100, InitialState::Master);
        for (field, mutate) in [
            (
                "interface",
                Box::new(|d: &mut KeepalivedDeployment| d.interface = "en p0".into())
                    as Box<dyn Fn(&mut KeepalivedDeployment)>,
            ),
            (
                "vip_cidr",
                Box::new(|d: &mut KeepalivedDeployment| d.vip_cidr = "192.168.0.20".into()),
            ),
            (
                "vip_cidr",
                Box::new(|d: &mut KeepalivedDeployment| d.vip_cidr = "192.168.0.20/33".into()),
            ),
            (
                "script_path",
                Box::new(|d: &mut KeepalivedDeployment| d.script_path = "a\"b".into()),
            ),
        ] {
            let mut dep = deployment();
            mutate(&mut dep);
            let err = render_keepalived_conf(&cfg, &dep).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }
}
