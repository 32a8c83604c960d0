//! ProxySQL's vocabulary and rules, pure: no tokio, no sockets, no SQLite.
//!
//! What a ProxySQL 2.7.2 node *is*, independent of any process: the schema DDL
//! ([`schema`]) and every column list ([`columns`]), the variables and their validation
//! ([`variables`]), checksums ([`checksum`]), the `proxysql.cnf` parser ([`config_file`]),
//! admin statement classification ([`statement`]), listener address lists ([`ifaces`]), result sets ([`resultset`]), the cluster
//! state and sync decision rule ([`cluster`]), the log line format ([`log`]), the clock of
//! epochs ([`clock`]), the Prometheus names of the node's figures ([`prometheus`]), and the keepalived/VRRP vocabulary of the HA stack ([`vrrp`]).
//!
//! Every other layer depends on this one; it depends on none of them.

pub mod checksum;
pub mod clock;
pub mod cluster;
pub mod columns;
pub mod config_file;
pub mod global_status;
pub mod ifaces;
pub mod log;
pub mod prometheus;
pub mod resultset;
pub mod schema;
pub mod statement;
pub mod variables;
pub mod vrrp;
