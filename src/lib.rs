//! pxadm: operate ProxySQL clusters.
//!
//! Four layers, one folder each; dependencies only point down (docs/architecture.md):
//! - [`proxysql`]: ProxySQL's vocabulary and rules, pure (schema, variables, checksums, the
//!   sync decision, statement classification, keepalived/VRRP);
//! - [`node`]: `pxadm node`, an embedded ProxySQL-compatible node (admin plane, cluster sync,
//!   traffic, monitor, VIP);
//! - [`client`]: every conversation with a node's admin interface (real ProxySQL or
//!   `pxadm node`): connections, the admin queries pxadm sends, snapshots and details;
//! - [`console`]: the operator-facing front ends (TUI console, `Admin>` shell, `--batch`
//!   mode) and what they share (nodes, configuration, diagnosis, faults, demo, drill).
//!
//! [`cli`] is the binary's command line, wiring the layers together.

pub mod cli;
pub mod client;
pub mod console;
pub mod node;
pub mod proxysql;
