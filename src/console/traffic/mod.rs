//! The traffic side of the fleet, pure: rates from counter deltas ([`rates`]), digests merged
//! across nodes ([`digests`]), hostgroups side by side ([`hostgroups`]), the merged
//! processlist ([`processlist`]). The TUI, the shell and batch all build these from the typed
//! rows of `client::traffic`, so the three front ends show the same figures.

pub mod digests;
pub mod hostgroups;
pub mod processlist;
pub mod rates;

/// How a listing is ordered, as `--sort` and the views' sort keys name it.
pub fn unknown_key(what: &str, key: &str, known: &[&str]) -> String {
    format!(
        "unknown {what} sort key {key:?}; one of: {}",
        known.join(", ")
    )
}
