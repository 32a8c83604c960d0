//! The console/shell/batch configuration file: `$XDG_CONFIG_HOME/pxadm/config.toml`
//! (documented for users in `docs/config.md`, whose example a test parses).
//!
//! ```toml
//! theme = "dark"            # dark | light | high-contrast | a file in the themes dir
//! refresh_ms = 1000
//! read_only = false
//! default_cluster = "prod"
//!
//! [keys]                    # action = key (see `?` in the console)
//! reload_module = "F5"
//!
//! [clusters.prod]
//! user = "radmin"           # defaults for the cluster's nodes
//! password_env = "PXADM_PROD_PASS"
//! discover = "10.0.0.11:6032"   # or list nodes:
//! [[clusters.prod.nodes]]
//! name = "proxysql1"
//! host = "10.0.0.11"
//! port = 6032
//! fault_commands = { restart = "ssh 10.0.0.11 sudo systemctl restart proxysql" }
//! ```
//!
//! Credentials come from `password` (inline), `password_env`, `password_file`, or the
//! mysql client's option files (`~/.my.cnf` and the others the `mariadb` client reads,
//! `use_my_cnf = true`). Unknown keys are errors, reported
//! with the file, line and key, so a typo never silently changes behaviour.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Syntax or schema error, with TOML's line/column and key.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// toml's message (names line, column and key).
        message: String,
    },
    /// A value that parses but cannot be used (unknown cluster, missing password...).
    #[error("{0}")]
    Unusable(String),
}

/// Credentials of a node or cluster (the first set source wins).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Admin user.
    pub user: Option<String>,
    /// Inline password.
    pub password: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Take user/password from `~/.my.cnf` `[client]`.
    #[serde(default)]
    pub use_my_cnf: bool,
}

/// One node of a configured cluster.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(from = "RawNode")]
pub struct NodeConfig {
    /// Display name (defaults to host:port).
    pub name: Option<String>,
    /// Admin host.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// Per-node credentials (override the cluster's).
    pub credentials: Credentials,
    /// Shell commands for faults on real hosts: kill, freeze, thaw, restart.
    pub fault_commands: BTreeMap<String, String>,
}

/// A node table as written. The credential keys are listed here rather than through
/// `#[serde(flatten)]`, which loses the key's position: a misspelled `pasword` would be
/// reported at the table's header line instead of its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Option<String>,
    host: String,
    #[serde(default = "default_admin_port")]
    port: u16,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(default)]
    use_my_cnf: bool,
    #[serde(default)]
    fault_commands: BTreeMap<String, String>,
}

impl From<RawNode> for NodeConfig {
    fn from(r: RawNode) -> Self {
        NodeConfig {
            name: r.name,
            host: r.host,
            port: r.port,
            credentials: Credentials {
                user: r.user,
                password: r.password,
                password_env: r.password_env,
                password_file: r.password_file,
                use_my_cnf: r.use_my_cnf,
            },
            fault_commands: r.fault_commands,
        }
    }
}

fn default_admin_port() -> u16 {
    6032
}

/// A named cluster.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(from = "RawCluster")]
pub struct ClusterConfig {
    /// Default credentials for the nodes.
    pub credentials: Credentials,
    /// Explicit nodes.
    pub nodes: Vec<NodeConfig>,
    /// Or: discover the nodes from this node's `runtime_proxysql_servers` (`host:port`).
    pub discover: Option<String>,
}

/// A cluster table as written (see [`RawNode`] for why there is no flatten).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(default)]
    use_my_cnf: bool,
    #[serde(default)]
    nodes: Vec<NodeConfig>,
    discover: Option<String>,
}

impl From<RawCluster> for ClusterConfig {
    fn from(r: RawCluster) -> Self {
        ClusterConfig {
            credentials: Credentials {
                user: r.user,
                password: r.password,
                password_env: r.password_env,
                password_file: r.password_file,
                use_my_cnf: r.use_my_cnf,
            },
            nodes: r.nodes,
            discover: r.discover,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Theme name.
    #[serde(default = "default_theme")]
    pub theme: String,
    /// Poll interval in milliseconds.
    #[serde(default = "default_refresh_ms")]
    pub refresh_ms: u64,
    /// Disable every action (reload, fix, faults).
    #[serde(default)]
    pub read_only: bool,
    /// Cluster used when none is named.
    pub default_cluster: Option<String>,
    /// Key bindings: action = key.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// Named clusters.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// Where it was read from (not a key).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

fn default_theme() -> String {
    "dark".into()
}

fn default_refresh_ms() -> u64 {
    1000
}

impl Default for Config {
    fn default() -> Self {
        Config {
            theme: default_theme(),
            refresh_ms: default_refresh_ms(),
            read_only: false,
            default_cluster: None,
            keys: BTreeMap::new(),
            clusters: BTreeMap::new(),
            path: None,
        }
    }
}

/// What the console needs from the configuration (and its flags).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Poll interval.
    pub refresh: Duration,
    /// Theme name, or a path to a theme file.
    pub theme: String,
    /// Disable every action.
    pub read_only: bool,
    /// Key bindings: action = key(s).
    pub keys: BTreeMap<String, String>,
}

impl Config {
    /// The console settings of this configuration.
    pub fn console_settings(&self) -> ConsoleSettings {
        ConsoleSettings {
            refresh: self.refresh(),
            theme: self.theme.clone(),
            read_only: self.read_only,
            keys: self.keys.clone(),
        }
    }
}

/// The 1-based line of `[keys] action = ...` in a config text (toml keeps the span).
fn key_binding_line(text: &str, action: &str) -> Option<usize> {
    #[derive(Deserialize)]
    struct KeysOnly {
        #[serde(default)]
        keys: BTreeMap<String, toml::Spanned<toml::Value>>,
    }
    let parsed: KeysOnly = toml::from_str(text).ok()?;
    let start = parsed.keys.get(action)?.span().start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

/// `$XDG_CONFIG_HOME/pxadm` (or `~/.config/pxadm`).
pub fn config_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("pxadm"))
}

/// `$XDG_DATA_HOME/pxadm` (or `~/.local/share/pxadm`): history files.
pub fn data_dir() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("pxadm"))
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// toml's error (message and source excerpt) with the value of every password-like key of
/// the file masked as `***`: `password`, a misspelt `pasword`, `password_file`... wherever
/// toml quotes it (`invalid type: integer `123``, the excerpt of the line).
fn toml_error_message(text: &str, e: &toml::de::Error) -> String {
    static SECRET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)[a-z0-9_-]*(?:pass|pasw|pwd|secret|credential)[a-z0-9_-]*"?\s*=\s*(?:"((?:[^"\\\n]|\\.)*)"?|'([^'\n]*)'?|([^\s,}#]+))"#,
        )
        .expect("valid regex")
    });
    let mut message = e.to_string().trim_end().to_string();
    for c in SECRET.captures_iter(text) {
        let Some(value) = c.get(1).or(c.get(2)).or(c.get(3)).map(|m| m.as_str()) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        if value.chars().count() >= 4 {
            message = message.replace(value, "***");
        } else {
            for q in ['"', '`', '\''] {
                message = message.replace(&format!("{q}{value}{q}"), &format!("{q}***{q}"));
            }
        }
    }
    message
}

impl Config {
    /// Parses a config text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: toml_error_message(text, &e),
        })?;
        if cfg.refresh_ms < 100 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "key `refresh_ms`: {} is below the minimum of 100",
                    cfg.refresh_ms
                ),
            });
        }
        // Key bindings are checked here, where the file and line are known, rather than when
        // the console starts.
        if let Err(e) = crate::console::tui::keymap::KeyMap::from_settings(&cfg.keys) {
            let at = key_binding_line(text, e.action())
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("{e}{at}"),
            });
        }
        if let Some(name) = &cfg.default_cluster {
            if !cfg.clusters.contains_key(name) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("key `default_cluster`: no [clusters.{name}] section"),
                });
            }
        }
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Loads `path`, or the default file when `path` is None (a missing default file is an
    /// empty configuration; a missing explicit file is an error).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match config_dir() {
                Some(d) => (d.join("config.toml"), false),
                None => return Ok(Config::default()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// The poll interval.
    pub fn refresh(&self) -> Duration {
        Duration::from_millis(self.refresh_ms)
    }
}

/// The mysql client's options from its option files (see [`super::option_files`]): user,
/// password, host, port... by their normalised names, the last mention winning.
pub fn my_cnf() -> Result<BTreeMap<String, String>, ConfigError> {
    let options =
        super::option_files::loaded().map_err(|e| ConfigError::Unusable(e.to_string()))?;
    Ok(options
        .iter()
        .filter_map(|o| Some((o.key(), o.value.clone()?)))
        .collect())
}

impl Credentials {
    /// Fills unset fields from `fallback` (node over cluster).
    pub fn or(&self, fallback: &Credentials) -> Credentials {
        Credentials {
            user: self.user.clone().or_else(|| fallback.user.clone()),
            password: self.password.clone().or_else(|| fallback.password.clone()),
            password_env: self
                .password_env
                .clone()
                .or_else(|| fallback.password_env.clone()),
            password_file: self
                .password_file
                .clone()
                .or_else(|| fallback.password_file.clone()),
            use_my_cnf: self.use_my_cnf || fallback.use_my_cnf,
        }
    }

    /// Resolves to (user, password), defaulting to ProxySQL's `admin`/`admin`.
    pub fn resolve(&self) -> Result<(String, String), ConfigError> {
        let cnf = if self.use_my_cnf {
            my_cnf()?
        } else {
            BTreeMap::new()
        };
        let user = self
            .user
            .clone()
            .or_else(|| cnf.get("user").cloned())
            .unwrap_or_else(|| "admin".into());
        let password = if let Some(p) = &self.password {
            p.clone()
        } else if let Some(var) = &self.password_env {
            std::env::var(var).map_err(|_| {
                ConfigError::Unusable(format!(
                    "password_env: environment variable {var} is not set"
                ))
            })?
        } else if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                ConfigError::Unusable(format!("password_file {}: {e}", file.display()))
            })?;
            text.lines().next().unwrap_or("").to_string()
        } else if let Some(p) = cnf.get("password") {
            p.clone()
        } else {
            "admin".into()
        };
        Ok((user, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
theme = "light"
refresh_ms = 2000
default_cluster = "prod"

[keys]
reload_module = "F5"

[clusters.prod]
user = "radmin"
password = "s3cret"

[[clusters.prod.nodes]]
name = "proxysql1"
host = "10.0.0.11"

[[clusters.prod.nodes]]
host = "10.0.0.12"
port = 16032
password_env = "NODE2_PASS"
fault_commands = { restart = "ssh 10.0.0.12 sudo systemctl restart proxysql" }
"#;

    #[test]
    fn parses_clusters_nodes_and_credentials() {
        let cfg = Config::parse(SAMPLE, Path::new("config.toml")).unwrap();
        assert_eq!(cfg.theme, "light");
        assert_eq!(cfg.refresh(), Duration::from_secs(2));
        let prod = &cfg.clusters["prod"];
        assert_eq!(prod.nodes.len(), 2);
        assert_eq!(prod.nodes[0].port, 6032);
        assert_eq!(
            prod.nodes[1].fault_commands["restart"],
            "ssh 10.0.0.12 sudo systemctl restart proxysql"
        );
        let c = prod.nodes[0].credentials.or(&prod.credentials);
        assert_eq!(c.resolve().unwrap(), ("radmin".into(), "s3cret".into()));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::parse(
            "theme = \"dark\"\nrefresh = 5\n",
            Path::new("/etc/pxadm.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/pxadm.toml: "), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("refresh"), "{msg}");
    }

    #[test]
    fn a_misspelled_credential_key_is_reported_at_its_own_line() {
        let text = "[clusters.x]\nuser = \"radmin\"\npasword = \"s\"\n\n[[clusters.x.nodes]]\nhost = \"h\"\npassword_evn = \"P\"\n";
        let msg = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 3") && msg.contains("pasword"), "{msg}");
        let text = "[clusters.x]\n[[clusters.x.nodes]]\nhost = \"h\"\npassword_evn = \"P\"\n";
        let msg = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 4") && msg.contains("password_evn"),
            "{msg}"
        );
    }

    #[test]
    fn the_documented_example_is_a_valid_config() {
        let doc = include_str!("../../docs/config.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a toml block in docs/config.md");
        let cfg = Config::parse(example, Path::new("docs/config.md")).unwrap();
        assert_eq!(cfg.clusters["prod"].nodes.len(), 2);
        assert_eq!(cfg.keys["reload_module"], "F5");
    }

    #[test]
    fn key_binding_errors_name_the_file_and_line() {
        let text = "theme = \"dark\"\n\n[keys]\nreload_module = \"r\"\nrelaod = \"R\"\n";
        let msg = Config::parse(text, Path::new("/etc/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("/etc/c.toml: keys.relaod: unknown action")
                && msg.ends_with("at line 5"),
            "{msg}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let err = Config::parse("refresh_ms = \"fast\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("refresh_ms") && err.contains("line 1"),
            "{err}"
        );
        let err = Config::parse("refresh_ms = 5\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("refresh_ms"), "{err}");
        let err = Config::parse("default_cluster = \"nope\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("default_cluster"), "{err}");
    }

    #[test]
    fn errors_never_show_a_password_value() {
        for text in [
            "[clusters.p]\npassword = 12345678\n",
            "[clusters.p]\nx = { password = \"S3cretPW\", port = \"a\" }\n",
            "[clusters.p]\npassword = 123\n",
            "[clusters.p]\npasword = \"S3cretPW\"\n",
            "[clusters.p]\npassword = \"S3cretPW\nuser = \"x\"\n",
        ] {
            let err = Config::parse(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                !err.contains("S3cretPW") && !err.contains("12345678") && !err.contains("`123`"),
                "{text:?}: {err}"
            );
            assert!(err.contains("line "), "{err}");
        }
    }

    #[test]
    fn password_sources() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\nignored\n").unwrap();
        let c = Credentials {
            password_file: Some(f),
            ..Default::default()
        };
        assert_eq!(c.resolve().unwrap().1, "from-file");
        let c = Credentials {
            password_env: Some("PXADM_TEST_SURELY_UNSET_VAR".into()),
            ..Default::default()
        };
        assert!(c
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("PXADM_TEST_SURELY_UNSET_VAR"));
    }
}
