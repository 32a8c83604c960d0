//! pxadm: operate ProxySQL clusters.
//!
//! The crate has three layers, one folder each:
//! - [`core`]: an embedded ProxySQL-compatible node (admin plane, cluster sync, traffic, monitor, VIP);
//! - [`client`]: talking to nodes' admin interfaces (real ProxySQL or `pxadm node`) with mysql_async;
//! - [`console`]: the operator-facing front ends (TUI console, `Admin>` shell, `--batch` mode),
//!   built on a shared node list, configuration and diagnosis engine.

pub mod cli;
pub mod client;
pub mod console;
pub mod core;
pub mod logging;
