//! The configuration checksums ProxySQL nodes publish and compare (spec §5).
//!
//! Everything here is a pure function of already-fetched data: the callers run the SQL of
//! spec §5.3 (or receive a peer's rows) and pass the text result sets in. Every value must be
//! bit-identical to what a real ProxySQL 2.7 computes, because peers compare the rendered
//! strings verbatim and would otherwise keep syncing forever.

pub mod spooky;
pub mod table;

use std::collections::BTreeMap;

use crate::proxysql::resultset::ResultSet;
use spooky::SpookyHasher;

/// Module names in the row order of `runtime_checksums_values` (spec §3.2).
pub const MODULES: [&str; 7] = [
    "admin_variables",
    "mysql_query_rules",
    "mysql_servers",
    "mysql_users",
    "mysql_variables",
    "proxysql_servers",
    "mysql_servers_v2",
];

/// Module names in the order [`global_checksum`] hashes them (spec §5.5).
pub const GLOBAL_CHECKSUM_ORDER: [&str; 7] = [
    "admin_variables",
    "mysql_query_rules",
    "mysql_servers",
    "mysql_servers_v2",
    "mysql_users",
    "mysql_variables",
    "proxysql_servers",
];

/// The columns, in order, that [`mysql_users_checksum`] expects (spec §5.3); select them
/// `FROM main.mysql_users WHERE active=1 AND default_hostgroup>=0`.
pub const MYSQL_USERS_COLUMNS: [&str; 13] = [
    "username",
    "password",
    "use_ssl",
    "default_hostgroup",
    "default_schema",
    "schema_locked",
    "transaction_persistent",
    "fast_forward",
    "backend",
    "frontend",
    "max_connections",
    "attributes",
    "comment",
];

/// Seeds of the raw result-set checksum and of the `mysql_servers_v2` combination.
const RAW_SEEDS: (u64, u64) = (19, 3);
/// Seeds of the per-map user account hash.
const ACCOUNTS_SEEDS: (u64, u64) = (13, 4);
/// Seeds of the username key of the user maps.
const USER_KEY_SEEDS: (u64, u64) = (1, 2);
/// Seeds of `GLOBAL_CHECKSUM()`.
const GLOBAL_SEEDS: (u64, u64) = (9, 5);
/// Seeds and delimiter of the cluster node key.
const NODE_KEY_SEEDS: (u64, u64) = (21, 12);
const NODE_KEY_DELIMITER: &[u8] = b"-gtyw23a-";

/// Length of a rendered checksum: `0x` and 16 hex digits.
const RENDERED_LEN: usize = 18;

/// Raw checksum of a result set (`SQLite3_result::raw_checksum`, spec §5.1).
///
/// Zero rows give 0; otherwise the field texts of all rows are hashed back to back with no
/// separator, NULL contributing nothing.
pub fn raw_checksum(rs: &ResultSet) -> u64 {
    raw_checksum_rows(rs.rows.iter().map(Vec::as_slice))
}

/// [`raw_checksum`] over rows that are not held in a [`ResultSet`] (e.g. a peer's reply).
pub fn raw_checksum_rows<'a>(rows: impl IntoIterator<Item = &'a [Option<String>]>) -> u64 {
    let mut hasher = SpookyHasher::new(RAW_SEEDS.0, RAW_SEEDS.1);
    let mut any_row = false;
    for row in rows {
        any_row = true;
        for field in row.iter().flatten() {
            hasher.update(field.as_bytes());
        }
    }
    // An empty table is 0 rather than the hash of no bytes; peers rely on that value.
    if any_row {
        hasher.finish().0
    } else {
        0
    }
}

/// Renders a hash the way `runtime_checksums_values` shows it (spec §5.2).
///
/// This is ProxySQL's `0x%X%X` of the low then the high 32-bit half, right-padded with `'0'` to
/// 18 characters, so it is *not* the hex of the u64: `0x0000000200000001` renders as
/// `0x1200000000000000`.
pub fn render(hash: u64) -> String {
    let mut out = render_unpadded(hash);
    while out.len() < RENDERED_LEN {
        out.push('0');
    }
    out
}

/// [`render`] without the zero fill, as the `CHECKSUM …` admin command prints it (spec §1.7.4).
pub fn render_unpadded(hash: u64) -> String {
    let lo = hash as u32;
    let hi = (hash >> 32) as u32;
    format!("0x{lo:X}{hi:X}")
}

/// Key of an account in ProxySQL's user maps: `SpookyHash128(username, 1, 2).hash1`.
///
/// The maps are ordered by this key, which fixes the order accounts enter the user checksum.
pub fn mysql_user_key(username: &str) -> u64 {
    spooky::hash128(username.as_bytes(), USER_KEY_SEEDS.0, USER_KEY_SEEDS.1).0
}

/// One `mysql_users` row as ProxySQL's authentication module stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAccount {
    /// Login name.
    pub username: String,
    /// Password as stored (clear text or `*HEX`); NULL becomes empty.
    pub password: String,
    /// Whether the client must use TLS.
    pub use_ssl: bool,
    /// Hostgroup for queries no rule routes.
    pub default_hostgroup: i32,
    /// Default schema; NULL becomes empty.
    pub default_schema: String,
    /// Whether the user may not change schema.
    pub schema_locked: bool,
    /// Whether transactions stick to one backend connection.
    pub transaction_persistent: bool,
    /// Whether the session bypasses query processing.
    pub fast_forward: bool,
    /// Whether the account authenticates ProxySQL to backends.
    pub backend: bool,
    /// Whether the account authenticates clients to ProxySQL.
    pub frontend: bool,
    /// Connection limit; negative values are clamped to 0 as ProxySQL does.
    pub max_connections: i32,
    /// JSON attributes; NULL becomes empty.
    pub attributes: String,
    /// Free text; NULL becomes empty.
    pub comment: String,
}

impl UserAccount {
    /// Parses a row laid out as [`MYSQL_USERS_COLUMNS`].
    ///
    /// Conversions follow `ProxySQL_Admin::__add_active_users`: a flag is true only for the exact
    /// text `1`, integers are read like C `atoi`, and missing or NULL fields read as empty text.
    pub fn from_row(row: &[Option<String>]) -> Self {
        let text = |i: usize| row.get(i).and_then(Option::as_deref).unwrap_or("");
        let flag = |i: usize| text(i) == "1";
        Self {
            username: text(0).to_owned(),
            password: text(1).to_owned(),
            use_ssl: flag(2),
            default_hostgroup: c_atoi(text(3)),
            default_schema: text(4).to_owned(),
            schema_locked: flag(5),
            transaction_persistent: flag(6),
            fast_forward: flag(7),
            backend: flag(8),
            frontend: flag(9),
            max_connections: c_atoi(text(10)).max(0),
            attributes: text(11).to_owned(),
            comment: text(12).to_owned(),
        }
    }
}

/// Hash of one user map (`compute_accounts_hash`, spec §5.3), accounts given in map order
/// (ascending [`mysql_user_key`]).
///
/// Accounts with a negative default hostgroup are skipped; if none remain the hash is 0.
pub fn mysql_users_map_hash<'a>(accounts: impl IntoIterator<Item = &'a UserAccount>) -> u64 {
    let mut hasher = SpookyHasher::new(ACCOUNTS_SEEDS.0, ACCOUNTS_SEEDS.1);
    let mut any = false;
    for ad in accounts {
        if ad.default_hostgroup < 0 {
            continue;
        }
        any = true;
        // Field order and widths are those of ProxySQL's in-memory struct: bools are one byte,
        // ints four bytes little-endian, strings without terminator.
        hasher.update(&[u8::from(ad.use_ssl)]);
        hasher.update(&ad.default_hostgroup.to_le_bytes());
        hasher.update(&[u8::from(ad.schema_locked)]);
        hasher.update(&[u8::from(ad.transaction_persistent)]);
        hasher.update(&[u8::from(ad.fast_forward)]);
        hasher.update(&ad.max_connections.to_le_bytes());
        hasher.update(ad.username.as_bytes());
        hasher.update(ad.password.as_bytes());
        hasher.update(ad.default_schema.as_bytes());
        hasher.update(ad.comment.as_bytes());
        hasher.update(ad.attributes.as_bytes());
    }
    if any {
        hasher.finish().0
    } else {
        0
    }
}

/// The `mysql_users` module checksum (spec §5.3) of rows laid out as [`MYSQL_USERS_COLUMNS`].
///
/// Accounts go into a backend map and a frontend map keyed by [`mysql_user_key`] (an account with
/// both flags is in both); the value is the wrapping sum of the two map hashes. On a key clash the
/// first row wins, as `std::map::insert` does in ProxySQL's peer path.
pub fn mysql_users_checksum(rs: &ResultSet) -> u64 {
    let mut backends = BTreeMap::new();
    let mut frontends = BTreeMap::new();
    for row in &rs.rows {
        let account = UserAccount::from_row(row);
        let key = mysql_user_key(&account.username);
        if account.backend {
            backends.entry(key).or_insert_with(|| account.clone());
        }
        if account.frontend {
            frontends.entry(key).or_insert(account);
        }
    }
    mysql_users_map_hash(backends.values()).wrapping_add(mysql_users_map_hash(frontends.values()))
}

/// The `mysql_servers_v2` module checksum (spec §5.3).
///
/// `parts` are the raw checksums of `mysql_servers` (v) then of the replication, group
/// replication, Galera, Aurora, hostgroup attributes and SSL params tables (t1..t6). Only the
/// non-zero parts are hashed, as 8-byte little-endian words; all zero gives 0.
pub fn mysql_servers_v2_checksum(parts: [u64; 7]) -> u64 {
    let mut hasher = SpookyHasher::new(RAW_SEEDS.0, RAW_SEEDS.1);
    let mut any = false;
    for part in parts.into_iter().filter(|&p| p != 0) {
        any = true;
        hasher.update(&part.to_le_bytes());
    }
    if any {
        hasher.finish().0
    } else {
        0
    }
}

/// The `mysql_query_rules` module checksum: raw checksum of the active rules plus raw checksum
/// of the fast-routing rows, wrapping (spec §5.3).
pub fn query_rules_checksum(rules: &ResultSet, fast_routing: &ResultSet) -> u64 {
    raw_checksum(rules).wrapping_add(raw_checksum(fast_routing))
}

/// `GLOBAL_CHECKSUM()` (spec §5.5) of `(rendered checksum, version)` pairs given in
/// [`GLOBAL_CHECKSUM_ORDER`].
///
/// Modules at version 0 are skipped; the others contribute their checksum text and then their
/// version as a little-endian u64. The hash is halved so it fits a signed 64-bit column. Like
/// ProxySQL's function this hashes even when every version is 0; a node that never loaded
/// anything reports 0 without calling it.
pub fn global_checksum(modules: &[(&str, u64)]) -> u64 {
    let mut hasher = SpookyHasher::new(GLOBAL_SEEDS.0, GLOBAL_SEEDS.1);
    for &(checksum, version) in modules {
        if version != 0 {
            hasher.update(checksum.as_bytes());
            hasher.update(&version.to_le_bytes());
        }
    }
    hasher.finish().0 >> 1
}

/// Key of a peer in the cluster node list (`generate_hash_proxysql_node`, spec §6.1): the
/// hostname, `-gtyw23a-`, then the port as two little-endian bytes, seeds (21, 12).
pub fn cluster_node_key(hostname: &str, port: u16) -> u64 {
    let mut hasher = SpookyHasher::new(NODE_KEY_SEEDS.0, NODE_KEY_SEEDS.1);
    hasher.update(hostname.as_bytes());
    hasher.update(NODE_KEY_DELIMITER);
    hasher.update(&port.to_le_bytes());
    hasher.finish().0
}

/// C `atoi` as glibc implements it (`(int) strtol(s, NULL, 10)`): leading whitespace, optional
/// sign, digits up to the first non-digit, saturating at the `long` range, then truncated to
/// `int`. Anything unparsable is 0.
fn c_atoi(s: &str) -> i32 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut value: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(d - b'0');
        value = if negative {
            value.saturating_mul(10).saturating_sub(d)
        } else {
            value.saturating_mul(10).saturating_add(d)
        };
    }
    // Truncation, not saturation, is what the C cast does.
    value as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(columns: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
        let mut out = ResultSet::with_columns(columns.iter().copied());
        for row in rows {
            out.push_row(row.iter().copied());
        }
        out
    }

    const PROXYSQL_SERVERS: [&str; 4] = ["hostname", "port", "weight", "comment"];

    const SERVERS_COLUMNS: [&str; 12] = [
        "hostgroup_id",
        "hostname",
        "port",
        "gtid_port",
        "status",
        "weight",
        "compression",
        "max_connections",
        "max_replication_lag",
        "use_ssl",
        "max_latency_ms",
        "comment",
    ];

    /// The §5.7 server row `(0,'127.0.0.1',3306,0,'ONLINE',1,0,1000,0,0,0,'')`.
    fn one_server() -> ResultSet {
        let row = [
            "0",
            "127.0.0.1",
            "3306",
            "0",
            "ONLINE",
            "1",
            "0",
            "1000",
            "0",
            "0",
            "0",
            "",
        ]
        .map(Some);
        rs(&SERVERS_COLUMNS, &[&row])
    }

    fn one_user(backend: &str, frontend: &str, default_hostgroup: &str) -> ResultSet {
        let row = [
            Some("app"),
            Some("pass"),
            Some("0"),
            Some(default_hostgroup),
            None,
            Some("0"),
            Some("1"),
            Some("0"),
            Some(backend),
            Some(frontend),
            Some("10000"),
            Some(""),
            Some(""),
        ];
        rs(&MYSQL_USERS_COLUMNS, &[&row])
    }

    #[test]
    fn render_swaps_halves_and_pads_right() {
        assert_eq!(render(0), "0x0000000000000000");
        assert_eq!(render(0x0000_0002_0000_0001), "0x1200000000000000");
        assert_eq!(render(u64::MAX), "0xFFFFFFFFFFFFFFFF");
        assert_eq!(render(0x2b52_c489_3720_475d), "0x3720475D2B52C489");
        // A high half with leading zeros loses them too, and the fill goes at the end.
        assert_eq!(render(0x0000_00ff_1234_5678), "0x12345678FF000000");
    }

    #[test]
    fn render_unpadded_has_no_zero_fill() {
        assert_eq!(render_unpadded(0), "0x00");
        assert_eq!(render_unpadded(0x0000_0002_0000_0001), "0x12");
        assert_eq!(render_unpadded(0x2b52_c489_3720_475d), "0x3720475D2B52C489");
    }

    #[test]
    fn empty_table_is_zero_but_a_null_row_is_not() {
        assert_eq!(raw_checksum(&ResultSet::with_columns(PROXYSQL_SERVERS)), 0);
        assert_eq!(raw_checksum_rows(std::iter::empty()), 0);
        let nulls = rs(&PROXYSQL_SERVERS, &[&[None, None, None, None]]);
        assert_eq!(raw_checksum(&nulls), spooky::hash128(b"", 19, 3).0);
        assert_ne!(raw_checksum(&nulls), 0);
    }

    #[test]
    fn proxysql_servers_single_row_vector() {
        let t = rs(
            &PROXYSQL_SERVERS,
            &[&[Some("127.0.0.1"), Some("6032"), Some("0"), Some("")]],
        );
        assert_eq!(raw_checksum(&t), 0x2b52_c489_3720_475d);
        assert_eq!(render(raw_checksum(&t)), "0x3720475D2B52C489");
        // The documented concatenation: fields back to back, no separators.
        assert_eq!(
            spooky::hash128(b"127.0.0.160320", 19, 3).0,
            raw_checksum(&t)
        );
    }

    #[test]
    fn proxysql_servers_three_rows_vector() {
        let t = rs(
            &PROXYSQL_SERVERS,
            &[
                &[Some("10.0.0.1"), Some("6032"), Some("0"), Some("core1")],
                &[Some("10.0.0.2"), Some("6032"), Some("0"), Some("core2")],
                &[Some("10.0.0.3"), Some("6032"), Some("0"), Some("core3")],
            ],
        );
        assert_eq!(raw_checksum(&t), 0x8572_dcf6_7bd7_cc17);
        assert_eq!(render(raw_checksum(&t)), "0x7BD7CC178572DCF6");
    }

    #[test]
    fn runtime_mysql_servers_vector() {
        let t = one_server();
        assert_eq!(raw_checksum(&t), 0xea7a_b6c0_584b_d0e1);
        assert_eq!(render(raw_checksum(&t)), "0x584BD0E1EA7AB6C0");
        assert_eq!(
            spooky::hash128(b"0127.0.0.133060ONLINE101000000", 19, 3).0,
            raw_checksum(&t)
        );
    }

    #[test]
    fn null_and_empty_and_field_boundaries_are_indistinguishable() {
        let a = rs(&["a", "b"], &[&[Some("ab"), None], &[Some("c"), Some("")]]);
        let b = rs(&["a", "b"], &[&[Some("a"), Some("b")], &[None, Some("c")]]);
        assert_eq!(raw_checksum(&a), raw_checksum(&b));
        let rows: Vec<Vec<Option<String>>> = a.rows.clone();
        assert_eq!(
            raw_checksum_rows(rows.iter().map(Vec::as_slice)),
            raw_checksum(&a)
        );
    }

    #[test]
    fn mysql_servers_v2_vectors() {
        let v = raw_checksum(&one_server());
        let only_servers = mysql_servers_v2_checksum([v, 0, 0, 0, 0, 0, 0]);
        assert_eq!(only_servers, 0x1235_139b_f906_9973);
        assert_eq!(render(only_servers), "0xF90699731235139B");

        let repl = rs(
            &[
                "writer_hostgroup",
                "reader_hostgroup",
                "check_type",
                "comment",
            ],
            &[&[Some("0"), Some("1"), Some("read_only"), Some("")]],
        );
        let t1 = raw_checksum(&repl);
        assert_eq!(t1, 0x9ae1_aebc_23d3_5c1f);
        let with_repl = mysql_servers_v2_checksum([v, t1, 0, 0, 0, 0, 0]);
        assert_eq!(with_repl, 0x9052_8092_2f88_2b73);
        assert_eq!(render(with_repl), "0x2F882B7390528092");
    }

    #[test]
    fn mysql_servers_v2_skips_zero_parts() {
        assert_eq!(mysql_servers_v2_checksum([0; 7]), 0);
        let v = raw_checksum(&one_server());
        // Only non-zero parts are hashed, so a zero part shifts nothing.
        assert_eq!(
            mysql_servers_v2_checksum([0, 0, v, 0, 0, 0, 0]),
            mysql_servers_v2_checksum([v, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            mysql_servers_v2_checksum([0, 0, 0, 0, 0, 0, 7]),
            spooky::hash128(&7u64.to_le_bytes(), 19, 3).0
        );
    }

    const QUERY_RULE_COLUMNS: [&str; 34] = [
        "rule_id",
        "username",
        "schemaname",
        "flagIN",
        "client_addr",
        "proxy_addr",
        "proxy_port",
        "digest",
        "match_digest",
        "match_pattern",
        "negate_match_pattern",
        "re_modifiers",
        "flagOUT",
        "replace_pattern",
        "destination_hostgroup",
        "cache_ttl",
        "cache_empty_result",
        "cache_timeout",
        "reconnect",
        "timeout",
        "retries",
        "delay",
        "next_query_flagIN",
        "mirror_flagOUT",
        "mirror_hostgroup",
        "error_msg",
        "ok_msg",
        "sticky_conn",
        "multiplex",
        "gtid_from_hostgroup",
        "log",
        "apply",
        "attributes",
        "comment",
    ];

    #[test]
    fn query_rules_vector() {
        let mut row: Vec<Option<&str>> = vec![None; QUERY_RULE_COLUMNS.len()];
        let set = |row: &mut Vec<Option<&'static str>>, col: &str, v: &'static str| {
            let i = QUERY_RULE_COLUMNS.iter().position(|c| *c == col).unwrap();
            row[i] = Some(v);
        };
        set(&mut row, "rule_id", "1");
        set(&mut row, "flagIN", "0");
        set(&mut row, "match_digest", "^SELECT");
        set(&mut row, "negate_match_pattern", "0");
        set(&mut row, "re_modifiers", "CASELESS");
        set(&mut row, "destination_hostgroup", "1");
        set(&mut row, "apply", "1");
        set(&mut row, "attributes", "");
        let rules = rs(&QUERY_RULE_COLUMNS, &[&row]);
        let fast = ResultSet::with_columns([
            "username",
            "schemaname",
            "flagIN",
            "destination_hostgroup",
            "comment",
        ]);
        let sum = query_rules_checksum(&rules, &fast);
        assert_eq!(sum, 0x52bb_a9c6_ccff_0ce8);
        assert_eq!(render(sum), "0xCCFF0CE852BBA9C6");
        assert_eq!(spooky::hash128(b"10^SELECT0CASELESS11", 19, 3).0, sum);

        // With fast-routing rows the two raw checksums add, wrapping.
        let mut fast_rows = fast.clone();
        fast_rows.push_row([Some("app"), Some("db"), Some("0"), Some("2"), Some("")]);
        assert_eq!(
            query_rules_checksum(&rules, &fast_rows),
            sum.wrapping_add(raw_checksum(&fast_rows))
        );
    }

    #[test]
    fn mysql_users_vector() {
        let users = one_user("1", "1", "0");
        let account = UserAccount::from_row(&users.rows[0]);
        assert_eq!(
            mysql_users_map_hash([&account]),
            0x9a01_db8b_9e6d_8216,
            "per-map hash"
        );
        let sum = mysql_users_checksum(&users);
        assert_eq!(sum, 0x3403_b717_3cdb_042c);
        assert_eq!(render(sum), "0x3CDB042C3403B717");
    }

    #[test]
    fn mysql_users_counts_each_map_once_per_flag() {
        assert_eq!(
            mysql_users_checksum(&one_user("1", "0", "0")),
            0x9a01_db8b_9e6d_8216
        );
        assert_eq!(
            mysql_users_checksum(&one_user("0", "1", "0")),
            0x9a01_db8b_9e6d_8216
        );
        assert_eq!(mysql_users_checksum(&one_user("0", "0", "0")), 0);
        // Negative default hostgroups never enter the hash; an all-skipped map is 0.
        assert_eq!(mysql_users_checksum(&one_user("1", "1", "-1")), 0);
        assert_eq!(
            mysql_users_checksum(&ResultSet::with_columns(MYSQL_USERS_COLUMNS)),
            0
        );
    }

    #[test]
    fn mysql_users_orders_by_username_key_not_row_order() {
        let row = |name: &'static str| {
            [
                Some(name),
                Some("pw"),
                Some("0"),
                Some("1"),
                Some("db"),
                Some("0"),
                Some("1"),
                Some("0"),
                Some("1"),
                Some("0"),
                Some("100"),
                Some(""),
                Some("c"),
            ]
        };
        let (a, b) = (row("alice"), row("bob"));
        let ab = mysql_users_checksum(&rs(&MYSQL_USERS_COLUMNS, &[&a, &b]));
        let ba = mysql_users_checksum(&rs(&MYSQL_USERS_COLUMNS, &[&b, &a]));
        assert_eq!(ab, ba);

        let mut accounts = [
            UserAccount::from_row(&rs(&MYSQL_USERS_COLUMNS, &[&a]).rows[0]),
            UserAccount::from_row(&rs(&MYSQL_USERS_COLUMNS, &[&b]).rows[0]),
        ];
        accounts.sort_by_key(|acc| mysql_user_key(&acc.username));
        assert_eq!(ab, mysql_users_map_hash(&accounts));
        accounts.reverse();
        assert_ne!(ab, mysql_users_map_hash(&accounts));
    }

    #[test]
    fn user_account_parsing_follows_proxysql() {
        let row = [
            Some("u"),
            None,
            Some("1"),
            Some(" 12abc"),
            None,
            Some("true"),
            Some("1"),
            Some("0"),
            Some("1"),
            Some("1"),
            Some("-5"),
            None,
        ];
        let acc = UserAccount::from_row(&rs(&MYSQL_USERS_COLUMNS[..12], &[&row]).rows[0]);
        assert_eq!(
            acc,
            UserAccount {
                username: "u".into(),
                use_ssl: true,
                default_hostgroup: 12,
                transaction_persistent: true,
                backend: true,
                frontend: true,
                ..UserAccount::default()
            }
        );
    }

    #[test]
    fn c_atoi_matches_glibc() {
        assert_eq!(c_atoi("10000"), 10000);
        assert_eq!(c_atoi("  -42x"), -42);
        assert_eq!(c_atoi("+7"), 7);
        assert_eq!(c_atoi(""), 0);
        assert_eq!(c_atoi("x1"), 0);
        assert_eq!(c_atoi("2147483648"), i32::MIN);
        assert_eq!(c_atoi("99999999999999999999999"), -1);
    }

    #[test]
    fn global_checksum_vector() {
        let modules: Vec<(&str, u64)> = GLOBAL_CHECKSUM_ORDER
            .iter()
            .map(|_| ("0x0000000000000000", 1))
            .collect();
        assert_eq!(global_checksum(&modules), 1_227_464_649_817_090_930);
    }

    #[test]
    fn global_checksum_skips_version_zero_and_hashes_versions() {
        let base = [("0x0000000000000000", 1u64); 7];
        let mut with_unloaded = base.to_vec();
        with_unloaded.push(("0x1234567890ABCDEF", 0));
        assert_eq!(global_checksum(&with_unloaded), global_checksum(&base));

        let mut bumped = base;
        bumped[3].1 = 2;
        assert_ne!(global_checksum(&bumped), global_checksum(&base));
        assert!(global_checksum(&bumped) <= i64::MAX as u64);
    }

    #[test]
    fn cluster_node_key_layout() {
        let expected = spooky::hash128(b"10.0.0.1-gtyw23a-\x94\x17", 21, 12).0;
        assert_eq!(cluster_node_key("10.0.0.1", 6036), expected);
        assert_ne!(
            cluster_node_key("10.0.0.1", 6032),
            cluster_node_key("10.0.0.1", 6033)
        );
    }

    #[test]
    fn module_lists_name_the_same_modules() {
        let mut a = MODULES;
        let mut b = GLOBAL_CHECKSUM_ORDER;
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
