//! The traffic side of the fleet, pure: rates from counter deltas ([`rates`]), digests merged
//! across nodes ([`digests`]), hostgroups side by side ([`hostgroups`]), the merged
//! processlist ([`processlist`]), the commands counters and errors merged ([`stats`]). The TUI, the shell and batch all build these from the typed
//! rows of `client::traffic`, so the three front ends show the same figures.

pub mod digests;
pub mod hostgroups;
pub mod processlist;
pub mod rates;
pub mod stats;

/// How a listing is ordered, as `--sort` and the views' sort keys name it.
pub fn unknown_key(what: &str, key: &str, known: &[&str]) -> String {
    format!(
        "unknown {what} sort key {key:?}; one of: {}",
        known.join(", ")
    )
}
