//! Reading the files a node starts from: `proxysql.cnf` (`--config`) and the VRRP settings
//! (`--vip`). The vocabulary layer parses; this module does the blocking I/O, so call it
//! before the runtime starts or on `tokio::task::spawn_blocking`.

use std::path::Path;

use crate::proxysql::config_file::{ConfigFile, ConfigFileError};
use crate::proxysql::vrrp::{VipConfig, VipFileError};

/// Reads and parses a ProxySQL config file; both errors name the file.
pub fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ConfigFile::parse_file(path, &bytes)
}

/// Reads and parses a `--vip` file; both errors name the file.
pub fn read_vip_file(path: &Path) -> Result<VipConfig, VipFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| VipFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    VipConfig::parse_file(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE1_CNF: &str = include_str!("../../tests/fixtures/proxysql-node1.cnf");

    const NODE1_VIP: &str = r#"
        virtual_router_id = 51
        priority = 100
        vip = "127.0.0.20:6033"
        bind = "127.0.0.11:5405"
        peers = ["127.0.0.12:5405"]
    "#;

    #[test]
    fn config_files_are_read_and_named_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("proxysql.cnf");
        std::fs::write(&good, NODE1_CNF).expect("write");
        let cfg = read_config_file(&good).expect("loads");
        assert_eq!(cfg.path(), Some(good.as_path()));
        assert_eq!(
            cfg.settings().len(),
            ConfigFile::parse(NODE1_CNF)
                .expect("parses")
                .settings()
                .len()
        );

        let bad = dir.path().join("broken.cnf");
        std::fs::write(
            &bad,
            "datadir = \"/x\";\nadmin_variables = {\n  a = 1 2\n}\n",
        )
        .expect("write");
        let err = read_config_file(&bad).expect_err("broken");
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3:9: expected ';' after value, found integer 2",
                bad.display()
            )
        );
        assert!(matches!(err, ConfigFileError::Parse { ref error, .. } if error.line == 3));

        let missing = dir.path().join("absent.cnf");
        let err = read_config_file(&missing).expect_err("absent");
        assert!(matches!(err, ConfigFileError::Io { .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read config file", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn vip_files_are_read_and_named_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.toml");
        std::fs::write(&path, NODE1_VIP).expect("write");
        assert_eq!(read_vip_file(&path).expect("reads").priority, 100);
        std::fs::write(&path, "virtual_router_id = 51\nvip = \"127.0.0.20:6033\"\n")
            .expect("write");
        let err = read_vip_file(&path).expect_err("no bind").to_string();
        assert!(err.contains("vip.toml") && err.contains("bind"), "{err}");
        let missing = read_vip_file(&dir.path().join("nope.toml")).expect_err("absent");
        assert!(matches!(missing, VipFileError::Read { .. }));
    }
}
