//! The reference scenario's step-4 state, written once for every console test (diagnosis,
//! TUI snapshots, batch and the shared matrix): node1 and node2's `runtime_checksums_values`
//! as the reference scenario's README prints them, node2 freshly added and stuck
//! behind node1's version-1 query rules and servers.

/// One `runtime_checksums_values` row: name, version, epoch, checksum.
pub type ChecksumLine = (&'static str, u64, u64, &'static str);

/// node1 at step 4: query rules and servers never loaded since it started (version 1).
pub const STEP4_NODE1: [ChecksumLine; 7] = [
    ("admin_variables", 1, 1727968666, "0xB62B8D3CB14389C2"),
    ("mysql_query_rules", 1, 1727968666, "0x9DEAF45E6E662B5F"),
    ("mysql_servers", 1, 1727968666, "0x397CE208AB710D50"),
    ("mysql_users", 2, 1727969204, "0x4C50FB16DB34D2E5"),
    ("mysql_variables", 2, 1728014575, "0x4E71AB1ADF17EF70"),
    ("proxysql_servers", 1, 1727968666, "0xEB7F779029A89859"),
    ("mysql_servers_v2", 1, 1727968666, "0x74B77E00F44904CE"),
];

/// node2 at step 4: freshly added, empty query rules and servers at version 1.
pub const STEP4_NODE2: [ChecksumLine; 7] = [
    ("admin_variables", 2, 1728014600, "0xB62B8D3CB14389C2"),
    ("mysql_query_rules", 1, 1728013985, "0x0000000000000000"),
    ("mysql_servers", 1, 1728013985, "0x0000000000000000"),
    ("mysql_users", 2, 1727969204, "0x4C50FB16DB34D2E5"),
    ("mysql_variables", 2, 1728014575, "0x4E71AB1ADF17EF70"),
    ("proxysql_servers", 2, 1728014605, "0xEB7F779029A89859"),
    ("mysql_servers_v2", 1, 1728013985, "0x0000000000000000"),
];

/// The modules step 5's `LOAD … TO RUNTIME` on node1 fixes.
pub const STEP5_FIXED: [&str; 3] = ["mysql_query_rules", "mysql_servers", "mysql_servers_v2"];
