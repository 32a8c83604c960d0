//! Listener address lists: `admin-mysql_ifaces` and `mysql-interfaces` hold
//! `host:port;host:port` (a UNIX socket path may appear too).

/// Splits a `;`-separated address list into its `host:port` entries. Blank entries are
/// dropped, and so are UNIX socket paths (starting with `/`): pxadm serves TCP only.
pub fn parse_ifaces(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with('/'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifaces_split_and_sockets_skipped() {
        assert_eq!(
            parse_ifaces("0.0.0.0:6032; 127.0.0.1:16032;/tmp/proxysql_admin.sock;"),
            ["0.0.0.0:6032", "127.0.0.1:16032"]
        );
    }

    #[test]
    fn interfaces_split() {
        assert_eq!(
            parse_ifaces("0.0.0.0:6033; 127.0.0.1:16033;/tmp/proxysql.sock"),
            ["0.0.0.0:6033", "127.0.0.1:16033"]
        );
        assert!(parse_ifaces("").is_empty());
    }
}
