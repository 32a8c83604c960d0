//! Which nodes a console, shell or batch run talks to: from `-n` flags, a configured cluster,
//! or discovery from one node's `runtime_proxysql_servers`. One resolver for all front ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::client::conn::{self, NodeAddr};
use crate::client::queries;
use crate::client::snapshot::ProxysqlServerRow;

use super::config::{Config, ConfigError, Credentials};

/// Node-selection flags shared by `console`, `shell` and the batch commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NodeArgs {
    /// A node as `[name=]user:password@host:port` (repeatable).
    #[arg(short = 'n', long = "node", value_name = "USER:PASS@HOST:PORT")]
    pub nodes: Vec<String>,
    /// A cluster from the config file.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Discover the cluster from this node's runtime_proxysql_servers.
    #[arg(long, value_name = "USER:PASS@HOST:PORT")]
    pub discover: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/pxadm/config.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Admin user (like the mysql client's -u).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Admin password (like -p; MYSQL_PWD and ~/.my.cnf also work).
    #[arg(
        short = 'p',
        long = "password",
        env = "MYSQL_PWD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Admin host (like -h).
    #[arg(short = 'H', long = "host")]
    pub host: Option<String>,
    /// Admin port (like -P).
    #[arg(short = 'P', long = "port")]
    pub port: Option<u16>,
    /// Unix socket (like -S): refused with an explanation, as pxadm connects over TCP only.
    #[arg(short = 'S', long = "socket", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// A TLS option of the mysql client (`--ssl`, `--ssl-ca`...), kept to refuse it clearly.
    #[arg(long = "mysql-tls-option", hide = true, value_name = "OPTION")]
    pub tls_options: Vec<String>,
    /// Also read the [NAME] group of ~/.mylogin.cnf (like the mysql client's --login-path).
    #[arg(long = "login-path", value_name = "NAME")]
    pub login_path: Option<String>,
    /// Read no option files (like the mysql client's --no-defaults).
    #[arg(long = "no-defaults")]
    pub no_defaults: bool,
    /// Read only this option file (like the mysql client's --defaults-file).
    #[arg(long = "defaults-file", value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file too, before ~/.my.cnf (like --defaults-extra-file).
    #[arg(long = "defaults-extra-file", value_name = "FILE")]
    pub defaults_extra_file: Option<PathBuf>,
}

/// A node as the front ends see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleNode {
    /// Where and how to connect.
    pub addr: NodeAddr,
    /// Started by pxadm itself (signals apply directly).
    pub managed: bool,
    /// Its error log, when pxadm knows it.
    pub log_path: Option<PathBuf>,
    /// Shell commands for faults on real hosts (`kill`, `freeze`, `thaw`, `restart`).
    pub fault_commands: BTreeMap<String, String>,
}

impl ConsoleNode {
    /// A node known only by address.
    pub fn plain(addr: NodeAddr) -> Self {
        ConsoleNode {
            addr,
            managed: false,
            log_path: None,
            fault_commands: BTreeMap::new(),
        }
    }
}

/// A node spec as it may be shown (errors, reports, logs): the password replaced by `***`,
/// even when the spec is malformed (`radmin:S3cret@h:1` -> `radmin:***@h:1`).
pub fn masked_node_spec(spec: &str) -> String {
    let (prefix, rest) = match spec.split_once('=') {
        // `name=` prefixes never contain `@`; a `=` after it belongs to the password.
        Some((n, r)) if !n.contains('@') && !n.contains(':') => (format!("{n}="), r),
        _ => (String::new(), spec),
    };
    let (creds, tail) = match rest.rsplit_once('@') {
        Some((c, h)) => (c, format!("@{h}")),
        None => (rest, String::new()),
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{prefix}{user}:***{tail}"),
        None => format!("{prefix}{creds}{tail}"),
    }
}

/// A `--node` value that was taken for a node name, as it may be shown: a name or a
/// `host:port` as is, anything else with a `user:password` shape masked (`radmin:S3cret` ->
/// `radmin:***`, someone who forgot the `@host`).
pub fn shown_node_name(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_err() => masked_node_spec(name),
        _ if name.contains('@') => masked_node_spec(name),
        _ => name.to_string(),
    }
}

/// Parses `[name=]user:password@host:port` (the password may contain `:` and `@`).
pub fn parse_node_spec(spec: &str) -> Result<NodeAddr, ConfigError> {
    let bad = |why: &str| {
        ConfigError::Unusable(format!(
            "node '{}': {why} (expected [name=]user:password@host:port)",
            masked_node_spec(spec)
        ))
    };
    // A name may be a plain word or the `host:port` the node is known by in its peers'
    // proxysql_servers (so the diagnosis can match peer rows when the address we connect to
    // differs, e.g. through NAT or a port map). A `user:pa=ss@...` spec has no such prefix.
    let looks_like_name = |n: &str| {
        !n.is_empty()
            && !n.contains('@')
            && match n.rsplit_once(':') {
                None => true,
                Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
            }
    };
    let (name, rest) = match spec.split_once('=') {
        Some((n, r)) if looks_like_name(n) => (Some(n.to_string()), r),
        _ => (None, spec),
    };
    let (creds, hostport) = rest.rsplit_once('@').ok_or_else(|| bad("missing '@'"))?;
    let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
    if user.is_empty() {
        return Err(bad("empty user"));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => (hostport, 6032),
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(NodeAddr {
        name: name.unwrap_or_else(|| format!("{host}:{port}")),
        host,
        port,
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// Resolves the node list: `-n` flags, else `--discover`, else `--cluster` (or the config's
/// default cluster), else `-H/-P` (default 127.0.0.1:6032) like the mysql client.
pub async fn resolve_nodes(
    args: &NodeArgs,
    config: &Config,
) -> Result<Vec<ConsoleNode>, ConfigError> {
    if let Some(option) = args.tls_options.first() {
        return Err(ConfigError::Unusable(format!(
            "{option}: pxadm connects to admin interfaces without TLS (it has no TLS client yet); \
             leave the TLS options out, or use the mariadb client for a TLS-only admin port"
        )));
    }
    let flag_creds = Credentials {
        user: args.user.clone(),
        password: args.password.clone(),
        use_my_cnf: true,
        ..Default::default()
    };
    if !args.nodes.is_empty() {
        return args
            .nodes
            .iter()
            .map(|s| parse_node_spec(s).map(ConsoleNode::plain))
            .collect();
    }
    if let Some(seed) = &args.discover {
        return discover(parse_node_spec(seed)?).await;
    }
    let cluster_name = args.cluster.clone().or_else(|| {
        // Explicit connection flags win over a default cluster.
        (args.host.is_none() && args.port.is_none())
            .then(|| config.default_cluster.clone())
            .flatten()
    });
    if let Some(name) = cluster_name {
        let cluster = config.clusters.get(&name).ok_or_else(|| {
            ConfigError::Unusable(format!(
                "no cluster '{name}' in {}",
                config
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the config".into())
            ))
        })?;
        let cluster_creds = flag_creds.or(&cluster.credentials);
        if cluster.nodes.is_empty() {
            let seed = cluster.discover.as_ref().ok_or_else(|| {
                ConfigError::Unusable(format!("cluster '{name}' has neither nodes nor discover"))
            })?;
            let (host, port) = seed.rsplit_once(':').unwrap_or((seed, "6032"));
            let (user, password) = cluster_creds.resolve()?;
            return discover(NodeAddr {
                name: seed.clone(),
                host: host.to_string(),
                port: port.parse().map_err(|_| {
                    ConfigError::Unusable(format!("cluster '{name}': bad discover port '{port}'"))
                })?,
                user,
                password,
            })
            .await;
        }
        return cluster
            .nodes
            .iter()
            .map(|n| {
                let (user, password) = n.credentials.or(&cluster_creds).resolve()?;
                Ok(ConsoleNode {
                    addr: NodeAddr {
                        name: n
                            .name
                            .clone()
                            .unwrap_or_else(|| format!("{}:{}", n.host, n.port)),
                        host: n.host.clone(),
                        port: n.port,
                        user,
                        password,
                    },
                    managed: false,
                    log_path: None,
                    fault_commands: n.fault_commands.clone(),
                })
            })
            .collect();
    }
    let cnf = super::config::my_cnf()?;
    let (user, password) = flag_creds.resolve()?;
    let host = args.host.clone().or_else(|| cnf.get("host").cloned());
    // The mysql client uses the socket only for `localhost` (or no host); an option file's
    // `socket` (Debian's [client-server] has one) is for the local MariaDB and never applies.
    if let Some(socket) = &args.socket {
        if host.as_deref().is_none_or(|h| h == "localhost") {
            return Err(ConfigError::Unusable(format!(
                "-S {}: pxadm reaches admin interfaces over TCP only; give the admin \
                 listener's address with -h HOST -P PORT (ProxySQL's default is 127.0.0.1:6032)",
                socket.display()
            )));
        }
    }
    let host = host.unwrap_or_else(|| "127.0.0.1".into());
    let port = args
        .port
        .or_else(|| cnf.get("port").and_then(|p| p.parse().ok()))
        .unwrap_or(6032);
    Ok(vec![ConsoleNode::plain(NodeAddr {
        name: format!("{host}:{port}"),
        host,
        port,
        user,
        password,
    })])
}

/// True when the flags, the config's default cluster or `~/.my.cnf` name a node. Checks need
/// one: silently checking 127.0.0.1:6032 would page CRITICAL for a missing argument.
pub fn names_a_node(args: &NodeArgs, config: &Config) -> bool {
    if !args.nodes.is_empty()
        || args.discover.is_some()
        || args.cluster.is_some()
        || args.host.is_some()
        || args.port.is_some()
        || config.default_cluster.is_some()
    {
        return true;
    }
    // An unreadable option file names no node here; resolving the nodes reports its error.
    super::config::my_cnf()
        .map(|cnf| cnf.contains_key("host") || cnf.contains_key("port"))
        .unwrap_or(false)
}

/// `PXADM_LOOPBACK_ONLY=1` (tests, labs) keeps the console's own discovery on loopback, as it
/// keeps a node's peer connections there.
fn loopback_only() -> bool {
    std::env::var_os("PXADM_LOOPBACK_ONLY").is_some_and(|v| v != "0")
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The peers a node lists in its `runtime_proxysql_servers`, other than itself, to poll with
/// its credentials (named `host:port`, as the node's own stats rows name them). Under
/// `PXADM_LOOPBACK_ONLY`, peers off this machine are left out (the node's view of them
/// still counts).
pub fn listed_peers(seed: &NodeAddr, servers: &[ProxysqlServerRow]) -> Vec<NodeAddr> {
    let confined = loopback_only();
    servers
        .iter()
        .filter(|r| !(r.hostname == seed.host && r.port == seed.port))
        .filter(|r| !confined || is_loopback(&r.hostname))
        .map(|r| NodeAddr {
            name: format!("{}:{}", r.hostname, r.port),
            host: r.hostname.clone(),
            port: r.port,
            user: seed.user.clone(),
            password: seed.password.clone(),
        })
        .collect()
}

/// Reads `runtime_proxysql_servers` from `seed` and returns every listed node with the seed's
/// credentials (the seed itself first if it is not listed).
pub async fn discover(seed: NodeAddr) -> Result<Vec<ConsoleNode>, ConfigError> {
    let unusable = |e: conn::ClientError| {
        ConfigError::Unusable(format!("discovery from {}: {e}", seed.endpoint()))
    };
    let mut c = conn::connect(&seed, Duration::from_secs(3))
        .await
        .map_err(unusable)?;
    let rs = conn::query_text(&mut c, queries::PROXYSQL_SERVER_ADDRESSES)
        .await
        .map_err(unusable)?;
    c.close().await;
    let mut nodes: Vec<ConsoleNode> = rs
        .rows
        .iter()
        .filter_map(|r| {
            let host = r.first().cloned().flatten()?;
            let port = r.get(1).cloned().flatten()?.parse().ok()?;
            Some(ConsoleNode::plain(NodeAddr {
                name: format!("{host}:{port}"),
                host,
                port,
                user: seed.user.clone(),
                password: seed.password.clone(),
            }))
        })
        .collect();
    if !nodes
        .iter()
        .any(|n| n.addr.host == seed.host && n.addr.port == seed.port)
    {
        nodes.insert(0, ConsoleNode::plain(seed));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {

    #[test]
    fn names_that_look_like_credentials_are_masked() {
        assert_eq!(shown_node_name("node1"), "node1");
        assert_eq!(shown_node_name("10.0.0.1:6032"), "10.0.0.1:6032");
        assert_eq!(shown_node_name("radmin:S3cretPW"), "radmin:***");
    }

    #[test]
    fn masked_specs_never_show_the_password() {
        for (spec, shown) in [
            (
                "radmin:S3cretPW@127.0.0.1:99999",
                "radmin:***@127.0.0.1:99999",
            ),
            ("n1=radmin:S3cretPW@h:6032", "n1=radmin:***@h:6032"),
            ("radmin:S3c:r@et=PW@h", "radmin:***@h"),
            ("radmin:S3cretPW", "radmin:***"),
            ("admin@h:1", "admin@h:1"),
        ] {
            assert_eq!(masked_node_spec(spec), shown);
        }
        let err = parse_node_spec("radmin:S3cretPW@127.0.0.1:99999")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("S3cretPW") && err.contains("radmin:***@"),
            "{err}"
        );
    }

    use super::*;

    #[test]
    fn node_specs() {
        let a = parse_node_spec("admin:admin@127.0.0.1:16032").unwrap();
        assert_eq!(
            (
                a.user.as_str(),
                a.password.as_str(),
                a.host.as_str(),
                a.port
            ),
            ("admin", "admin", "127.0.0.1", 16032)
        );
        assert_eq!(a.name, "127.0.0.1:16032");
        let b = parse_node_spec("node1=radmin:p:w@d@db1").unwrap();
        assert_eq!(
            (
                b.name.as_str(),
                b.password.as_str(),
                b.host.as_str(),
                b.port
            ),
            ("node1", "p:w@d", "db1", 6032)
        );
        assert!(parse_node_spec("nohost")
            .unwrap_err()
            .to_string()
            .contains("missing '@'"));
        assert!(parse_node_spec("u:p@h:notaport")
            .unwrap_err()
            .to_string()
            .contains("bad port"));
    }

    #[tokio::test]
    async fn cluster_from_config_and_flag_fallback() {
        let cfg = Config::parse(
            "default_cluster = \"lab\"\n[clusters.lab]\nuser = \"radmin\"\npassword = \"x\"\n[[clusters.lab.nodes]]\nhost = \"127.0.0.1\"\nport = 16032\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let nodes = resolve_nodes(&NodeArgs::default(), &cfg).await.unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].addr.user, "radmin");
        let args = NodeArgs {
            host: Some("127.0.0.2".into()),
            port: Some(7032),
            user: Some("u".into()),
            password: Some("p".into()),
            ..Default::default()
        };
        let nodes = resolve_nodes(&args, &cfg).await.unwrap();
        assert_eq!(nodes[0].addr.endpoint(), "127.0.0.2:7032");
        let err = resolve_nodes(
            &NodeArgs {
                cluster: Some("nope".into()),
                ..Default::default()
            },
            &cfg,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("no cluster 'nope'"));
    }
}
