//! ProxySQL Cluster: per-peer checksum state and the sync decision (spec §6).

pub mod decision;
pub mod monitor;
pub mod pull;
pub mod state;
