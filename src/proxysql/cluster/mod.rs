//! ProxySQL Cluster's vocabulary: per-peer checksum state and the sync decision rule (spec §6).
//!
//! Both the node (deciding whether to pull) and the console's diagnosis (explaining why a
//! node does not) run this one rule.

pub mod decision;
pub mod state;
pub mod trust;
