//! The embedded default (`pxadm` with no arguments): a local node to try things on.

use crate::core::node::{Node, NodeOptions};

/// Starts a local embedded node in a temporary folder and tells how to connect to it.
pub async fn run_default() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("pxadm-demo-").tempdir()?;
    let admin = std::env::var("PXADM_DEMO_ADMIN").unwrap_or_else(|_| "127.0.0.1:6032".into());
    let node = Node::start(NodeOptions {
        datadir: dir.path().to_path_buf(),
        config: None,
        admin: Some(admin.clone()),
        mysql: None,
        initial: false,
        version: None,
        peer_map: Vec::new(),
    })
    .await?;
    let (host, port) = admin.rsplit_once(':').unwrap_or(("127.0.0.1", "6032"));
    println!(
        "pxadm: embedded ProxySQL-compatible node running (datadir {})",
        dir.path().display()
    );
    println!("Connect with:  mariadb -u admin -padmin -h {host} -P{port} --prompt='Admin> '");
    println!("Press Ctrl-C to stop.");
    node.run().await
}
