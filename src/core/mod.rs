//! The embedded proxy node: a ProxySQL 2.7-compatible process (`pxadm node`).

pub mod admin;
pub mod checksum;
pub mod cluster;
pub mod config_file;
pub mod monitor;
pub mod node;
pub mod protocol;
pub mod resultset;
pub mod schema;
pub mod traffic;
pub mod variables;
pub mod vip;
