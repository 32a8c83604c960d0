//! `stats_memory_metrics`: the node's memory figures with ProxySQL 2.7.2's 19 row names.
//!
//! ProxySQL reads jemalloc; this node runs on the system allocator, so the `jemalloc_*` rows
//! carry the closest figures the process has: `/proc/self/statm` (resident and mapped
//! pages) and glibc's `mallinfo2` (bytes allocated, in use by the allocator, kept free).
//! `SQLite3_memory_bytes` is SQLite's own count; the table rows are estimates from the
//! live structures; the firewall and cluster-thread rows are 0 (not implemented).

use crate::node::admin::shared::NodeShared;
use crate::proxysql::global_status::STATS_MEMORY_METRICS;
use crate::proxysql::resultset::ResultSet;

/// Bytes SQLite has allocated in this process (all admin databases).
pub fn sqlite_memory_used() -> u64 {
    // SAFETY: sqlite3_memory_used only reads SQLite's global counter; it takes no pointer
    // and is safe to call from any thread at any time.
    let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
    u64::try_from(used).unwrap_or(0)
}

/// `(size, resident)` of the process in bytes, from `/proc/self/statm` (zeros elsewhere).
fn statm() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return (0, 0);
    };
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let size = fields.next().unwrap_or(0);
    let resident = fields.next().unwrap_or(0);
    (size * page, resident * page)
}

/// `(allocated, active, retained)` bytes of the C allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_figures() -> (u64, u64, u64) {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    let n = |v: usize| v as u64;
    (
        n(m.uordblks) + n(m.hblkhd),
        n(m.arena) + n(m.hblkhd),
        n(m.fordblks),
    )
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_figures() -> (u64, u64, u64) {
    (0, 0, 0)
}

/// Stack size tokio gives each worker thread (its default, which the node keeps).
const TOKIO_STACK_BYTES: u64 = 2 * 1024 * 1024;

/// The rows of `stats_memory_metrics` now, in ProxySQL's order.
pub fn memory_metrics(node: &NodeShared) -> ResultSet {
    let (mapped, resident) = statm();
    let (allocated, active, retained) = malloc_figures();
    let (auth, digests, rules) = crate::node::traffic::memory_figures(node);
    let workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers() as u64)
        .unwrap_or(1);
    let value = |name: &str| -> u64 {
        match name {
            "SQLite3_memory_bytes" => sqlite_memory_used(),
            "jemalloc_resident" => resident,
            "jemalloc_active" => active,
            "jemalloc_allocated" => allocated,
            "jemalloc_mapped" => mapped,
            "jemalloc_retained" => retained,
            "Auth_memory" => auth,
            "query_digest_memory" => digests,
            "mysql_query_rules_memory" => rules,
            // The traffic workers and the admin share tokio's worker threads.
            "stack_memory_mysql_threads" | "stack_memory_admin_threads" => {
                workers * TOKIO_STACK_BYTES
            }
            _ => 0,
        }
    };
    let mut rs = ResultSet::with_columns(["Variable_Name", "Variable_Value"]);
    for name in STATS_MEMORY_METRICS {
        rs.push_row([Some(name.to_string()), Some(value(name).to_string())]);
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_figures_are_real() {
        let (mapped, resident) = statm();
        assert!(resident > 0 && mapped >= resident);
        let _db = rusqlite::Connection::open_in_memory().unwrap();
        assert!(sqlite_memory_used() > 0);
        let (allocated, _, _) = malloc_figures();
        assert!(allocated > 0);
    }
}
