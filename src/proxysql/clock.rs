//! ProxySQL's clock: epochs, `changed_at` and `updated_at` are unix seconds.

/// Current unix time in seconds (0 if the system clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
