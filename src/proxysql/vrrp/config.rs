//! VRRP instance configuration, read from TOML or built from command-line flags.
//!
//! Field names and defaults follow keepalived's `vrrp_instance` / `vrrp_script` keywords so an
//! operator can move between `pxadm node --vip ...` and a real keepalived without relearning
//! anything; [`super::keepalived`] renders the same values back into keepalived.conf.
//!
//! # The `--vip` file
//!
//! ```toml
//! instance = "VI_1"              # optional, default VI_1 (the "(VI_1)" of log lines)
//! virtual_router_id = 51         # required, 1-255, the same on every node
//! state = "MASTER"               # optional: MASTER or BACKUP (default BACKUP)
//! priority = 100                 # optional: 1-254, 255 = address owner (default 100,
//!                                # or 255 when only state = "MASTER" is given)
//! advert_int = 1                 # optional, seconds, 0.01-40.95 in 0.01 steps (default 1)
//! preempt = true                 # optional (default true); or nopreempt = true
//! preempt_delay = 0              # optional, seconds (0-1000), BACKUP with preempt only
//! auth_pass = "1234"             # optional, 1-8 printable characters, same on every node
//! vip = "127.0.0.20:6033"        # required: address:port the MASTER listens on for traffic
//! bind = "127.0.0.11:5405"       # required: this node's UDP address for adverts
//! peers = ["127.0.0.12:5405"]    # the other nodes' `bind` addresses (unicast adverts)
//!
//! [check]                        # optional tracked check (vrrp_script + track_script)
//! name = "chk_service"           # optional, default chk_service
//! kind = "builtin"               # the node's own health; or
//!                                # kind = { script = "/etc/keepalived/check_service.sh" }
//! interval = 2                   # seconds between runs (default 1)
//! timeout = 2                    # optional, seconds; default = interval
//! fall = 2                       # failures in a row before "failed" (default 1)
//! rise = 1                       # successes in a row before "healthy" again (default 1)
//! weight = -20                   # priority change while failed (<0) or healthy (>0);
//!                                # 0 (default) = FAULT state while failed
//! init_fail = false              # count as failed until the first success
//! ```
//!
//! Unknown keys are errors, and so is every combination keepalived would silently rewrite
//! (see [`VipConfig::validate`]), so the file means exactly what it says.

use core::net::SocketAddr;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Priority of the address owner (RFC 5798 §5.2.4): never reduced by tracking, master at once.
pub const PRIORITY_OWNER: u8 = 255;
/// keepalived's default priority for an instance that is not the address owner.
pub const DEFAULT_PRIORITY: u8 = 100;
/// keepalived's default advertisement interval.
pub const DEFAULT_ADVERT_INT: Duration = Duration::from_secs(1);
/// Shortest advertisement interval: VRRPv3 counts in centiseconds.
pub const MIN_ADVERT_INT: Duration = Duration::from_millis(10);
/// Longest advertisement interval: the 12-bit VRRPv3 field, 4095 centiseconds.
pub const MAX_ADVERT_INT: Duration = Duration::from_millis(40_950);
/// keepalived's upper bound for `preempt_delay`.
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// Longest `auth_pass` keepalived keeps (the VRRPv2 authentication data field is 8 bytes).
pub const MAX_AUTH_PASS_LEN: usize = 8;
/// Largest absolute tracking weight keepalived accepts for a `vrrp_script`.
pub const MAX_WEIGHT: i32 = 253;

/// The state an instance is configured to start in (keepalived `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum InitialState {
    /// `state MASTER`: take over after one advertisement interval if nobody else advertises.
    #[serde(rename = "MASTER", alias = "master")]
    Master,
    /// `state BACKUP`: wait a full Master_Down_Interval before taking over.
    #[serde(rename = "BACKUP", alias = "backup")]
    Backup,
}

impl InitialState {
    /// The keyword keepalived uses.
    pub fn as_str(self) -> &'static str {
        match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        }
    }
}

/// What the tracked check runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A caller-supplied [`HealthCheck`](super::HealthCheck) (`kind = "builtin"`).
    Builtin,
    /// An executable run without a shell; exit status 0 means healthy
    /// (`kind = { script = "/etc/keepalived/check_service.sh" }`).
    Script(PathBuf),
}

/// A tracked health check (keepalived `vrrp_script` plus its `track_script` reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// Name used in log lines: `VRRP_Script(<name>) failed`.
    pub name: String,
    /// Time between two runs.
    pub interval: Duration,
    /// A run taking longer fails as `timed_out`; `None` means the interval, like keepalived.
    pub timeout: Option<Duration>,
    /// Consecutive failures before the check counts as failed.
    pub fall: u32,
    /// Consecutive successes before a failed check counts as healthy again.
    pub rise: u32,
    /// Priority adjustment: negative is applied while failed, positive while healthy;
    /// 0 puts the instance in FAULT while the check is failed.
    pub weight: i32,
    /// Assume the check failed until its first success (keepalived `init_fail`).
    pub init_fail: bool,
    /// What runs.
    pub kind: CheckKind,
}

impl TrackConfig {
    /// A check with keepalived's defaults: interval 1 s, fall 1, rise 1, weight 0.
    pub fn new(name: impl Into<String>, kind: CheckKind) -> Self {
        Self {
            name: name.into(),
            interval: Duration::from_secs(1),
            timeout: None,
            fall: 1,
            rise: 1,
            weight: 0,
            init_fail: false,
            kind,
        }
    }

    /// The effective run timeout.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

/// One VRRP instance of a pxadm node.
///
/// Construct it from TOML (validated while deserialising) or with [`VipConfig::new`] plus
/// field assignments followed by [`VipConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawVipConfig")]
pub struct VipConfig {
    /// Instance name, the `(VI_1)` prefix of every log line.
    pub instance: String,
    /// VRID shared by all nodes of this virtual router (1-255).
    pub virtual_router_id: u8,
    /// Configured priority: 1-254, or 255 for the address owner.
    pub priority: u8,
    /// Advertisement interval; sub-second values are allowed in 10 ms steps (VRRPv3).
    pub advert_int: Duration,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// Extra time a backup keeps accepting a lower-priority master before preempting it.
    pub preempt_delay: Duration,
    /// Shared password (keepalived `auth_type PASS`); `None` disables authentication.
    pub auth_pass: Option<String>,
    /// Initial state.
    pub state: InitialState,
    /// Address:port the traffic listener is bound on while MASTER.
    pub vip: SocketAddr,
    /// This node's UDP address for adverts; also its "primary address" in tie-breaks.
    pub bind: SocketAddr,
    /// Other nodes' UDP advert addresses (keepalived `unicast_peer`).
    pub peers: Vec<SocketAddr>,
    /// Tracked health check, if any.
    pub check: Option<TrackConfig>,
}

/// A configuration value keepalived would reject or silently rewrite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vip {field}: {reason}")]
pub struct VipConfigError {
    /// The offending field.
    pub field: &'static str,
    /// Why it is rejected.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> VipConfigError {
    VipConfigError {
        field,
        reason: reason.into(),
    }
}

/// Why a `--vip` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum VipFileError {
    /// The file could not be read.
    #[error("cannot read vip config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid VIP configuration (syntax, unknown key or rule violation).
    #[error("vip config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// TOML's or validation's message, with the position when known.
        message: String,
    },
}

impl VipConfig {
    /// Parses and validates the TOML format described in the [module docs](self).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Parses the text of the `--vip` file at `path` (read by the caller: this layer does no
    /// I/O; the node reads it with `node::files::read_vip_file`).
    pub fn parse_file(path: &Path, text: &str) -> Result<Self, VipFileError> {
        Self::from_toml(text).map_err(|message| VipFileError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// A BACKUP instance `VI_1` with keepalived's defaults (priority 100, advert_int 1 s,
    /// preempt on), no peers, no authentication and no check.
    pub fn new(virtual_router_id: u8, vip: SocketAddr, bind: SocketAddr) -> Self {
        Self {
            instance: "VI_1".to_string(),
            virtual_router_id,
            priority: DEFAULT_PRIORITY,
            advert_int: DEFAULT_ADVERT_INT,
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth_pass: None,
            state: InitialState::Backup,
            vip,
            bind,
            peers: Vec::new(),
            check: None,
        }
    }

    /// Whether this instance is the address owner (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == PRIORITY_OWNER
    }

    /// Checks every rule; combinations keepalived would "fix" with a warning are errors here,
    /// so what runs is what the operator wrote.
    pub fn validate(&self) -> Result<(), VipConfigError> {
        check_name("instance", &self.instance)?;
        if self.virtual_router_id == 0 {
            return Err(invalid("virtual_router_id", "must be 1-255"));
        }
        if self.priority == 0 {
            return Err(invalid(
                "priority",
                "must be 1-254, or 255 for the address owner (0 is reserved for \"master stopping\")",
            ));
        }
        check_advert_int(self.advert_int)?;
        if self.preempt_delay > MAX_PREEMPT_DELAY {
            return Err(invalid("preempt_delay", "must be 0-1000 seconds"));
        }
        if !self.preempt && self.state == InitialState::Master {
            return Err(invalid(
                "nopreempt",
                "does not work with state MASTER (keepalived clears it); use state BACKUP on every node",
            ));
        }
        if !self.preempt && self.is_owner() {
            return Err(invalid("nopreempt", "is incompatible with priority 255"));
        }
        if !self.preempt_delay.is_zero() {
            if !self.preempt {
                return Err(invalid("preempt_delay", "is incompatible with nopreempt"));
            }
            if self.state == InitialState::Master {
                return Err(invalid(
                    "preempt_delay",
                    "does not work with state MASTER (keepalived clears it)",
                ));
            }
        }
        if let Some(pass) = &self.auth_pass {
            if pass.is_empty() || pass.len() > MAX_AUTH_PASS_LEN {
                return Err(invalid(
                    "auth_pass",
                    "must be 1-8 characters (keepalived truncates longer passwords)",
                ));
            }
            if !pass
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return Err(invalid(
                    "auth_pass",
                    "may only contain printable ASCII without spaces, quotes or backslashes",
                ));
            }
        }
        check_endpoint("vip", self.vip)?;
        check_endpoint("bind", self.bind)?;
        let mut seen = HashSet::new();
        for peer in &self.peers {
            check_endpoint("peers", *peer)?;
            if *peer == self.bind {
                return Err(invalid(
                    "peers",
                    format!("{peer} is this node's own bind address"),
                ));
            }
            if !seen.insert(*peer) {
                return Err(invalid("peers", format!("{peer} is listed twice")));
            }
        }
        if let Some(check) = &self.check {
            check_name("check.name", &check.name)?;
            if check.interval < Duration::from_millis(1) {
                return Err(invalid("check.interval", "must be at least 1 ms"));
            }
            if check.timeout.is_some_and(|t| t < Duration::from_millis(1)) {
                return Err(invalid("check.timeout", "must be at least 1 ms"));
            }
            if check.fall == 0 {
                return Err(invalid("check.fall", "must be at least 1"));
            }
            if check.rise == 0 {
                return Err(invalid("check.rise", "must be at least 1"));
            }
            if !(-MAX_WEIGHT..=MAX_WEIGHT).contains(&check.weight) {
                return Err(invalid("check.weight", "must be between -253 and 253"));
            }
            if check.weight != 0 && self.is_owner() {
                return Err(invalid(
                    "check.weight",
                    "must be 0 for the address owner (priority 255 is never adjusted)",
                ));
            }
            if let CheckKind::Script(path) = &check.kind {
                let text = path.to_string_lossy();
                if text.is_empty() || text.contains('"') {
                    return Err(invalid(
                        "check.kind",
                        "script path must be non-empty and contain no double quote",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Names end up in log lines and keepalived.conf, where spaces or braces would break parsing.
fn check_name(field: &'static str, name: &str) -> Result<(), VipConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid(
            field,
            format!("{name:?} must be non-empty and use only letters, digits, '_', '-' and '.'"),
        ));
    }
    Ok(())
}

fn check_advert_int(advert_int: Duration) -> Result<(), VipConfigError> {
    if !(MIN_ADVERT_INT..=MAX_ADVERT_INT).contains(&advert_int) {
        return Err(invalid(
            "advert_int",
            "must be between 0.01 and 40.95 seconds",
        ));
    }
    if advert_int.as_nanos() % 10_000_000 != 0 {
        return Err(invalid("advert_int", "must be a multiple of 0.01 seconds"));
    }
    Ok(())
}

/// An unspecified address or port 0 cannot identify a node or a VIP.
fn check_endpoint(field: &'static str, addr: SocketAddr) -> Result<(), VipConfigError> {
    if addr.ip().is_unspecified() || addr.port() == 0 {
        return Err(invalid(
            field,
            format!("{addr} needs a specific address and a non-zero port"),
        ));
    }
    Ok(())
}

/// Seconds as written in TOML (integer or decimal), at millisecond resolution like keepalived.
fn seconds(field: &'static str, value: f64) -> Result<Duration, VipConfigError> {
    if !(0.0..=1e6).contains(&value) {
        return Err(invalid(
            field,
            format!("{value} is not a valid number of seconds"),
        ));
    }
    Ok(Duration::from_millis((value * 1000.0).round() as u64))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrack {
    name: Option<String>,
    interval: Option<f64>,
    timeout: Option<f64>,
    fall: Option<u32>,
    rise: Option<u32>,
    weight: Option<i32>,
    #[serde(default)]
    init_fail: bool,
    kind: CheckKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVipConfig {
    instance: Option<String>,
    virtual_router_id: u8,
    priority: Option<u8>,
    advert_int: Option<f64>,
    preempt: Option<bool>,
    nopreempt: Option<bool>,
    preempt_delay: Option<f64>,
    auth_pass: Option<String>,
    state: Option<InitialState>,
    vip: SocketAddr,
    bind: SocketAddr,
    #[serde(default)]
    peers: Vec<SocketAddr>,
    check: Option<RawTrack>,
}

impl TryFrom<RawVipConfig> for VipConfig {
    type Error = VipConfigError;

    fn try_from(raw: RawVipConfig) -> Result<Self, Self::Error> {
        // keepalived derives a missing priority from the state and vice versa.
        let (state, priority) = match (raw.state, raw.priority) {
            (Some(s), Some(p)) => (s, p),
            (Some(InitialState::Master), None) => (InitialState::Master, PRIORITY_OWNER),
            (Some(InitialState::Backup), None) => (InitialState::Backup, DEFAULT_PRIORITY),
            (None, Some(PRIORITY_OWNER)) => (InitialState::Master, PRIORITY_OWNER),
            (None, Some(p)) => (InitialState::Backup, p),
            (None, None) => (InitialState::Backup, DEFAULT_PRIORITY),
        };
        let preempt = match (raw.preempt, raw.nopreempt) {
            (Some(p), Some(n)) if p == n => {
                return Err(invalid("nopreempt", "contradicts preempt"));
            }
            (Some(p), _) => p,
            (None, Some(n)) => !n,
            (None, None) => true,
        };
        let check = match raw.check {
            None => None,
            Some(t) => Some(TrackConfig {
                name: t.name.unwrap_or_else(|| "chk_service".to_string()),
                interval: match t.interval {
                    Some(v) => seconds("check.interval", v)?,
                    None => Duration::from_secs(1),
                },
                timeout: t.timeout.map(|v| seconds("check.timeout", v)).transpose()?,
                fall: t.fall.unwrap_or(1),
                rise: t.rise.unwrap_or(1),
                weight: t.weight.unwrap_or(0),
                init_fail: t.init_fail,
                kind: t.kind,
            }),
        };
        let cfg = VipConfig {
            instance: raw.instance.unwrap_or_else(|| "VI_1".to_string()),
            virtual_router_id: raw.virtual_router_id,
            priority,
            advert_int: match raw.advert_int {
                Some(v) => seconds("advert_int", v)?,
                None => DEFAULT_ADVERT_INT,
            },
            preempt,
            preempt_delay: match raw.preempt_delay {
                Some(v) => seconds("preempt_delay", v)?,
                None => Duration::ZERO,
            },
            auth_pass: raw.auth_pass,
            state,
            vip: raw.vip,
            bind: raw.bind,
            peers: raw.peers,
            check,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<VipConfig, String> {
        toml::from_str::<VipConfig>(text).map_err(|e| e.to_string())
    }

    const NODE1: &str = r#"
        virtual_router_id = 51
        priority = 100
        state = "MASTER"
        auth_pass = "1234"
        vip = "127.0.0.20:6033"
        bind = "127.0.0.11:5405"
        peers = ["127.0.0.12:5405"]
        [check]
        interval = 2
        weight = -20
        fall = 2
        kind = { script = "/etc/keepalived/check_service.sh" }
    "#;

    #[test]
    fn scenario_node_parses_with_keepalived_defaults() {
        let cfg = parse(NODE1).unwrap();
        assert_eq!(cfg.instance, "VI_1");
        assert_eq!(cfg.advert_int, Duration::from_secs(1));
        assert!(cfg.preempt);
        assert_eq!(cfg.state, InitialState::Master);
        let check = cfg.check.unwrap();
        assert_eq!(check.name, "chk_service");
        assert_eq!((check.fall, check.rise, check.weight), (2, 1, -20));
        assert_eq!(check.effective_timeout(), Duration::from_secs(2));
        assert_eq!(
            check.kind,
            CheckKind::Script(PathBuf::from("/etc/keepalived/check_service.sh"))
        );
    }

    #[test]
    fn sub_second_advert_int_and_builtin_check() {
        let cfg = parse(
            r#"
            virtual_router_id = 7
            advert_int = 0.1
            nopreempt = true
            vip = "127.0.0.20:6033"
            bind = "127.0.0.11:5405"
            check = { kind = "builtin", interval = 0.25 }
            "#,
        )
        .unwrap();
        assert_eq!(cfg.advert_int, Duration::from_millis(100));
        assert!(!cfg.preempt);
        assert_eq!(cfg.priority, DEFAULT_PRIORITY);
        assert_eq!(cfg.check.unwrap().interval, Duration::from_millis(250));
    }

    #[test]
    fn missing_priority_follows_state_like_keepalived() {
        let base = r#"
            virtual_router_id = 7
            vip = "127.0.0.20:6033"
            bind = "127.0.0.11:5405"
        "#;
        let master = parse(&format!("state = \"MASTER\"\n{base}")).unwrap();
        assert_eq!(master.priority, PRIORITY_OWNER);
        let owner = parse(&format!("priority = 255\n{base}")).unwrap();
        assert_eq!(owner.state, InitialState::Master);
    }

    #[test]
    fn rejects_what_keepalived_would_rewrite() {
        let cases = [
            ("advert_int = 0.005", "advert_int"),
            ("advert_int = 0.105", "advert_int"),
            ("advert_int = 41", "advert_int"),
            ("priority = 0", "priority"),
            ("virtual_router_id = 0", "virtual_router_id"),
            ("state = \"MASTER\"\nnopreempt = true", "nopreempt"),
            ("preempt = true\nnopreempt = true", "nopreempt"),
            ("nopreempt = true\npreempt_delay = 5", "preempt_delay"),
            ("auth_pass = \"123456789\"", "auth_pass"),
            ("auth_pass = \"\"", "auth_pass"),
            ("peers = [\"127.0.0.11:5405\"]", "peers"),
            ("peers = [\"0.0.0.0:5405\"]", "peers"),
            ("instance = \"VI 1\"", "instance"),
            (
                "priority = 255\ncheck = { kind = \"builtin\", weight = -2 }",
                "check.weight",
            ),
            (
                "check = { kind = \"builtin\", weight = 254 }",
                "check.weight",
            ),
            ("check = { kind = \"builtin\", fall = 0 }", "check.fall"),
            ("bogus = 1", "unknown field"),
        ];
        for (extra, field) in cases {
            let mut text = String::from(extra);
            if !extra.contains("virtual_router_id") {
                text.push_str("\nvirtual_router_id = 9");
            }
            text.push_str("\nvip = \"127.0.0.20:6033\"\nbind = \"127.0.0.11:5405\"\n");
            let err = parse(&text).expect_err(extra);
            assert!(err.contains(field), "{extra}: {err}");
        }
    }

    #[test]
    fn built_config_validates() {
        let mut cfg = VipConfig::new(
            51,
            "127.0.0.20:6033".parse().unwrap(),
            "127.0.0.11:5405".parse().unwrap(),
        );
        assert_eq!(cfg.validate(), Ok(()));
        cfg.bind = "0.0.0.0:5405".parse().unwrap();
        assert_eq!(cfg.validate().unwrap_err().field, "bind");
    }
}
