//! `pxadm node`: an embedded ProxySQL 2.7-compatible process.
//!
//! The admin plane on SQLite ([`admin`]), cluster sync with its peers ([`cluster`]), MySQL
//! traffic ([`traffic`]), the backend monitor ([`monitor`]), the VRRP-like VIP ([`vip`]), the
//! wire protocol they share ([`protocol`]), the files it starts from ([`files`]) and the error
//! log ([`logging`]), its Prometheus metrics ([`metrics`]), the TLS certificate ([`tls`]); [`server`] starts
//! them together. ProxySQL's rules come from [`crate::proxysql`]; the node never uses the
//! client or console layers.

pub mod admin;
pub mod cluster;
pub mod files;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod monitor;
pub mod protocol;
pub mod server;
pub mod tls;
pub mod traffic;
pub mod vip;

pub use server::{Node, NodeOptions};
