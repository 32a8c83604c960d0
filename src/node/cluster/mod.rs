//! ProxySQL Cluster on the node: one monitor task per peer (spec §6.1–§6.2), verified pulls
//! (§6.6) and the small admin client they use to talk to peers ([`peer`]). The rules they
//! follow (per-peer state, the sync decision) are in [`crate::proxysql::cluster`].

pub mod counters;
pub mod monitor;
pub mod peer;
pub mod pull;
