//! Whole-file tests: a realistic cluster config, SQLite execution of the generated statements,
//! and broken files with their reported positions.

use super::*;

const NODE1: &str = include_str!("../../../tests/fixtures/proxysql-node1.cnf");

const SERVERS: &str = "INSERT OR REPLACE INTO mysql_servers (hostname, port, gtid_port, \
    hostgroup_id, compression, weight, status, max_connections, max_replication_lag, use_ssl, \
    max_latency_ms, comment) VALUES ";
const USERS: &str = "INSERT OR REPLACE INTO mysql_users (username, password, active, use_ssl, \
    default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, \
    max_connections, attributes, comment) VALUES ";
const RULES: &str = "INSERT OR REPLACE INTO mysql_query_rules (rule_id, active, username, \
    schemaname, flagIN, client_addr, proxy_addr, proxy_port, digest, match_digest, \
    match_pattern, negate_match_pattern, re_modifiers, flagOUT, replace_pattern, \
    destination_hostgroup, cache_ttl, cache_empty_result, cache_timeout, reconnect, timeout, \
    retries, delay, next_query_flagIN, mirror_flagOUT, mirror_hostgroup, error_msg, ok_msg, \
    sticky_conn, multiplex, gtid_from_hostgroup, log, apply, attributes, comment) VALUES ";

fn node1() -> ConfigFile {
    ConfigFile::parse(NODE1).unwrap_or_else(|e| panic!("fixture: {}", e.in_file("node1.cnf")))
}

fn strict(text: &str, section: Section) -> Result<Vec<String>, ConfigError> {
    ConfigFile::parse(text)
        .expect("test input parses")
        .section_statements(section)
}

fn strict_err(text: &str, section: Section) -> ConfigError {
    strict(text, section).expect_err("section should be refused")
}

#[test]
fn fixture_top_level_settings() {
    let cfg = node1();
    assert_eq!(
        cfg.top_level("datadir").and_then(Value::as_str),
        Some("/var/lib/proxysql")
    );
    assert_eq!(cfg.top_level("Datadir"), None, "names are case-sensitive");
    assert_eq!(
        cfg.global_settings().expect("valid settings"),
        GlobalSettings {
            datadir: Some("/var/lib/proxysql".into()),
            errorlog: Some("/var/lib/proxysql/proxysql.log".into()),
            pidfile: None,
            uuid: Some("5d1f3c2a-9b7e-4c1d-8a3f-0e6b2d4c8f10".into()),
            cluster_sync_interfaces: Some(false),
            restart_on_missing_heartbeats: Some(5),
            execute_on_exit_failure: None,
        }
    );
}

#[test]
fn fixture_admin_variables_get_prefix_and_text_renderings() {
    let statements = node1()
        .section_statements(Section::AdminVariables)
        .expect("valid");
    assert_eq!(statements.len(), 14);
    assert_eq!(
        statements[0],
        "INSERT OR REPLACE INTO global_variables VALUES \
         ('admin-admin_credentials','admin:admin;cluster_user:cluster_pass')"
    );
    assert!(statements.contains(
        &"INSERT OR REPLACE INTO global_variables VALUES ('admin-cluster_check_status_frequency','10')"
            .to_owned()
    ));
    assert!(statements.contains(
        &"INSERT OR REPLACE INTO global_variables VALUES ('admin-cluster_mysql_servers_save_to_disk','true')"
            .to_owned()
    ));
    let mysql = node1()
        .section_statements(Section::MysqlVariables)
        .expect("valid");
    assert_eq!(
        mysql[0],
        "INSERT OR REPLACE INTO global_variables VALUES ('mysql-threads','4')"
    );
    assert_eq!(
        mysql[9],
        "INSERT OR REPLACE INTO global_variables VALUES ('mysql-have_compress','true')"
    );
}

#[test]
fn fixture_mysql_servers_with_aliases_defaults_and_quoting() {
    assert_eq!(
        node1()
            .section_statements(Section::MysqlServers)
            .expect("valid"),
        [
            format!("{SERVERS}('192.168.0.11', 3306, 0, 10, 0, 1, 'ONLINE', 200, 0, 0, 0, 'primary')"),
            format!("{SERVERS}('192.168.0.12', 3306, 0, 20, 0, 100, 'ONLINE', 1000, 0, 0, 0, 'replica ''a''')"),
            format!("{SERVERS}('192.168.0.13', 3306, 0, 20, 0, 1, 'OFFLINE_SOFT', 1000, 10, 1, 0, '')"),
        ]
    );
    assert_eq!(
        node1()
            .section_statements(Section::MysqlReplicationHostgroups)
            .expect("valid"),
        [
            "INSERT OR REPLACE INTO mysql_replication_hostgroups (writer_hostgroup, \
          reader_hostgroup, comment, check_type) VALUES (10, 20, 'async replication', 'read_only')"
        ]
    );
}

#[test]
fn fixture_users_rules_and_cluster_peers() {
    let cfg = node1();
    assert_eq!(
        cfg.section_statements(Section::MysqlUsers).expect("valid"),
        [
            format!("{USERS}('svcusr', 'svcusr', 1, 0, 10, 'duhokim', 0, 1, 0, 10000, '', '')"),
            format!(
                "{USERS}('reporter', '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7', 1, 0, 20, '', \
                 0, 0, 0, 10000, '', '')"
            ),
        ]
    );
    assert_eq!(
        cfg.section_statements(Section::MysqlQueryRules)
            .expect("valid"),
        [
            format!(
                "{RULES}(100, 1, NULL, NULL, 0, NULL, NULL, NULL, NULL, '^SELECT .* FOR UPDATE$', \
                 NULL, 0, 'CASELESS', NULL, NULL, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL)"
            ),
            format!(
                "{RULES}(200, 1, NULL, NULL, 0, NULL, NULL, NULL, NULL, \
                 '^SELECT\\s(?!.*FOR UPDATE)', NULL, 0, 'CASELESS', NULL, NULL, 20, NULL, NULL, \
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 NULL, 1, NULL, 'reads to replicas')"
            ),
        ]
    );
    assert_eq!(
        cfg.section_statements(Section::ProxysqlServers)
            .expect("valid"),
        [
            "INSERT OR REPLACE INTO proxysql_servers (hostname, port, weight, comment) VALUES \
             ('192.168.0.11', 6032, 0, 'proxysql_node1')",
            "INSERT OR REPLACE INTO proxysql_servers (hostname, port, weight, comment) VALUES \
             ('192.168.0.12', 6032, 0, 'proxysql_node2')",
        ]
    );
    for absent in [
        Section::MysqlGaleraHostgroups,
        Section::Scheduler,
        Section::Restapi,
        Section::MysqlServersSslParams,
    ] {
        assert_eq!(cfg.section_statements(absent), Ok(Vec::new()), "{absent}");
    }
    // Strict and lenient agree on a clean file.
    for section in Section::ALL {
        let lenient = cfg.section_statements_lenient(section);
        assert!(lenient.skipped.is_empty(), "{section}");
        assert_eq!(Ok(lenient.statements), cfg.section_statements(section));
    }
}

/// ProxySQL 2.7.2's DDL for the tables the fixture touches (spec §3), so that the statements
/// are checked by a real SQLite: quoting, column names, CHECKs and REPLACE defaults.
#[test]
fn other_server_sections_follow_proxysql() {
    let text = r#"
        mysql_galera_hostgroups = ( { writer_hostgroup = 1; backup_writer_hostgroup = 2;
            reader_hostgroup = 3; offline_hostgroup = 4; active = 0; max_writers = 2 } )
        mysql_group_replication_hostgroups = ( { writer_hostgroup = 11; backup_writer_hostgroup = 12;
            reader_hostgroup = 13; offline_hostgroup = 14; writer_is_also_reader = 1; comment = "gr" } )
        mysql_aws_aurora_hostgroups = ( { writer_hostgroup = 21; reader_hostgroup = 22;
            domain_name = ".cluster-x.eu-west-1.rds.amazonaws.com" } )
        mysql_servers_ssl_params = ( { hostname = "db1"; username = "app"; ssl_ca = "/etc/ca.pem" } )
        scheduler = ( { id = 1; interval_ms = 5000; filename = "/usr/bin/check.sh"; arg1 = "--fast" } )
        restapi = ( { id = 2; timeout_ms = 2000; method = "GET"; uri = "metrics"; script = "/bin/m.sh" } )
    "#;
    let cfg = ConfigFile::parse(text).expect("parses");
    let one = |section| {
        let mut statements = cfg.section_statements(section).expect("valid");
        assert_eq!(statements.len(), 1, "{section}");
        statements.remove(0)
    };
    // `active` is not read by ProxySQL for these sections: always 1.
    assert_eq!(
        one(Section::MysqlGaleraHostgroups),
        "INSERT OR REPLACE INTO mysql_galera_hostgroups (writer_hostgroup, \
         backup_writer_hostgroup, reader_hostgroup, offline_hostgroup, active, max_writers, \
         writer_is_also_reader, max_transactions_behind, comment) VALUES (1, 2, 3, 4, 1, 2, 0, 0, '')"
    );
    assert!(one(Section::MysqlGroupReplicationHostgroups)
        .ends_with("VALUES (11, 12, 13, 14, 1, 1, 1, 0, 'gr')"));
    assert!(one(Section::MysqlAwsAuroraHostgroups).ends_with(
        "VALUES (21, 22, 1, 3306, '.cluster-x.eu-west-1.rds.amazonaws.com', 600000, 1000, \
         1000, 0, 1, 30, 30, 1, '')"
    ));
    assert!(one(Section::MysqlServersSslParams)
        .ends_with("VALUES ('db1', 3306, 'app', '/etc/ca.pem', '', '', '', '', '', '', '', '')"));
    assert_eq!(
        one(Section::Scheduler),
        "INSERT OR REPLACE INTO scheduler (id, active, interval_ms, filename, arg1, arg2, arg3, \
         arg4, arg5, comment) VALUES (1, 1, 5000, '/usr/bin/check.sh', '--fast', NULL, NULL, \
         NULL, NULL, '')"
    );
    assert_eq!(
        one(Section::Restapi),
        "INSERT OR REPLACE INTO restapi_routes (id, active, timeout_ms, method, uri, script, \
         comment) VALUES (2, 1, 2000, 'GET', 'metrics', '/bin/m.sh', '')"
    );
}

#[test]
fn error_display_is_compiler_style() {
    let e = ConfigFile::parse("a = 1;\nb = 2 3;").expect_err("broken");
    assert_eq!(
        e.to_string(),
        "2:7: expected ';' after value, found integer 3"
    );
    assert_eq!(
        e.in_file("proxysql.cnf").to_string(),
        "proxysql.cnf:2:7: expected ';' after value, found integer 3"
    );
}

/// Broken versions of a realistic file, each with the position the error must name.
#[test]
fn broken_files_report_the_right_line() {
    let cases: &[(&str, &str, u32, u32, &str)] = &[
        (
            "garbage after a value",
            "datadir = \"/var/lib/proxysql\"\nadmin_variables = {\n  mysql_ifaces = \"0.0.0.0:6032\" 6033\n}\n",
            3, 33, "expected ';' after value",
        ),
        (
            "string missing its closing quote",
            "admin_variables = {\n  admin_credentials = \"admin:admin\n  mysql_ifaces = \"0.0.0.0:6032\"\n}\n",
            3, 19, "(the string starting at 2:23 runs over several lines: is its closing '\"' missing?)",
        ),
        (
            "string never closed at all",
            "datadir = \"/var/lib/proxysql\nmysql_variables = { threads = 4 }\n",
            1, 11, "unterminated string",
        ),
        (
            "missing closing brace",
            "mysql_servers = (\n  { address = \"db1\", hostgroup = 10 ,\n  { address = \"db2\", hostgroup = 20 }\n)\n",
            3, 3, "expected a setting name, found '{'",
        ),
        (
            "group never closed",
            "admin_variables = {\n  a = 1\n\nmysql_variables = {\n  threads = 4\n}\n",
            7, 1, "expected '}' to close the group opened at 1:19",
        ),
        (
            "extra closing brace",
            "admin_variables = {\n  a = 1\n}\n}\n",
            4, 1, "unmatched '}'",
        ),
        (
            "list closed by a brace",
            "mysql_users = (\n  { username = \"u\" }\n}\n",
            3, 1, "expected ',' or ')' after list element, found '}'",
        ),
        (
            "bad number",
            "mysql_variables = {\n  threads = 4x\n}\n",
            2, 13, "invalid number '4x'",
        ),
        (
            "octal trap",
            "mysql_variables = {\n  threads = 4\n  max_connections = 09000\n}\n",
            3, 21, "invalid number '09000': a leading 0 means octal",
        ),
        (
            "missing '='",
            "mysql_variables = {\n  threads 4\n}\n",
            2, 11, "expected '=' or ':' after setting name 'threads'",
        ),
        (
            "duplicate setting",
            "mysql_variables = {\n  threads = 4\n  threads = 8\n}\n",
            3, 3, "duplicate setting 'threads' (first defined at line 2)",
        ),
    ];
    for (what, text, line, column, message) in cases {
        let e = ConfigFile::parse(text).expect_err(what);
        assert_eq!((e.line, e.column), (*line, *column), "{what}: {e}");
        assert!(e.message.contains(message), "{what}: {e}");
    }
}

#[test]
fn semicolons_are_optional_like_in_libconfig() {
    let cfg = ConfigFile::parse("a = 1 b = \"x\" c = { d = 1, e = 2 } f = (1, 2)")
        .expect("terminators are optional");
    assert_eq!(cfg.settings().len(), 4);
}

#[test]
fn missing_mandatory_keys_name_the_entry() {
    let text = "mysql_servers =\n(\n  { address = \"db1\"; hostgroup = 1 },\n  {\n    port = 3307\n    hostgroup = 2\n  }\n)\n";
    let e = strict_err(text, Section::MysqlServers);
    assert_eq!((e.line, e.column), (4, 3));
    assert_eq!(
        e.message,
        "'mysql_servers' entry is missing the mandatory 'address' (or 'hostname')"
    );
    // ProxySQL skips the entry and loads the rest.
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlServers);
    assert_eq!(lenient.statements.len(), 1);
    assert_eq!(lenient.skipped, [e]);

    let cases: &[(&str, Section, &str)] = &[
        ("mysql_servers = ({ address = \"a\" })", Section::MysqlServers, "'hostgroup' (or 'hostgroup_id')"),
        ("mysql_users = ({ password = \"p\" })", Section::MysqlUsers, "'username'"),
        ("mysql_query_rules = ({ active = 1 })", Section::MysqlQueryRules, "'rule_id'"),
        ("proxysql_servers = ({ hostname = \"a\" })", Section::ProxysqlServers, "'port'"),
        ("proxysql_servers = ({ port = 6032 })", Section::ProxysqlServers, "'address' (or 'hostname')"),
        ("mysql_replication_hostgroups = ({ writer_hostgroup = 1 })", Section::MysqlReplicationHostgroups, "'reader_hostgroup'"),
        ("mysql_galera_hostgroups = ({ writer_hostgroup = 1; backup_writer_hostgroup = 2; reader_hostgroup = 3 })", Section::MysqlGaleraHostgroups, "'offline_hostgroup'"),
        ("mysql_servers_ssl_params = ({ address = \"a\" })", Section::MysqlServersSslParams, "'hostname'"),
        ("scheduler = ({ id = 1 })", Section::Scheduler, "'filename'"),
        ("restapi = ({ id = 1; method = \"GET\"; uri = \"x\" })", Section::Restapi, "'script'"),
    ];
    for (text, section, missing) in cases {
        let e = strict_err(text, *section);
        assert!(
            e.message.ends_with(&format!("mandatory {missing}")),
            "{text}: {e}"
        );
        assert_eq!(
            (e.line, e.column),
            (1, text.find('{').expect("entry") as u32 + 1)
        );
    }
}

#[test]
fn wrong_types_are_errors_in_strict_mode_and_defaults_in_proxysql_mode() {
    let text = "mysql_servers = (\n  { address = \"db1\"; hostgroup = 1; port = \"3307\"; max_connections = 10000000000 }\n)";
    let e = strict_err(text, Section::MysqlServers);
    assert_eq!((e.line, e.column), (2, 44));
    assert_eq!(
        e.message,
        "'mysql_servers.port' must be an integer, found string \"3307\""
    );
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlServers);
    assert_eq!(
        lenient.statements,
        [format!(
            "{SERVERS}('db1', 3306, 0, 1, 0, 1, 'ONLINE', 1000, 0, 0, 0, '')"
        )]
    );

    let e = strict_err(
        "mysql_servers = ({ address = \"db1\"; hostgroup = 1; max_connections = 10000000000 })",
        Section::MysqlServers,
    );
    assert!(
        e.message.contains("ProxySQL reads 32-bit integers only"),
        "{e}"
    );

    // A mandatory key of the wrong type is missing as far as ProxySQL is concerned.
    let text = "mysql_servers = ({ address = \"db1\"; hostgroup = \"10\" })";
    assert!(strict_err(text, Section::MysqlServers)
        .message
        .starts_with("'mysql_servers.hostgroup' must be an integer"));
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlServers);
    assert!(lenient.statements.is_empty());
    assert_eq!(lenient.skipped.len(), 1);
}

#[test]
fn enumerations_are_checked_case_insensitively() {
    let ok = strict(
        "mysql_servers = ({ address = \"a\"; hostgroup = 1; status = \"offline_hard\" })\n\
         mysql_replication_hostgroups = ({ writer_hostgroup = 1; reader_hostgroup = 2; check_type = \"Super_Read_Only\" })",
        Section::MysqlServers,
    )
    .expect("valid");
    assert!(
        ok[0].contains("'offline_hard'"),
        "kept as written: {}",
        ok[0]
    );

    let text = "mysql_servers = ({ address = \"a\"; hostgroup = 1; status = \"DOWN\" })";
    let e = strict_err(text, Section::MysqlServers);
    assert_eq!(e.column, 59);
    assert!(
        e.message
            .contains("ONLINE, SHUNNED, OFFLINE_SOFT, OFFLINE_HARD"),
        "{e}"
    );
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlServers);
    assert!(lenient.statements[0].contains("'ONLINE'"));

    let text = "mysql_replication_hostgroups = ({ writer_hostgroup = 1; reader_hostgroup = 2; check_type = \"read_only|innodb_read_only\" })";
    assert!(strict_err(text, Section::MysqlReplicationHostgroups)
        .message
        .contains("read_only, innodb_read_only, super_read_only"));
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlReplicationHostgroups);
    assert!(lenient.statements[0].ends_with("'', 'read_only')"));
}

#[test]
fn variables_render_like_proxysql() {
    let text = "mysql_variables = {\n  threads = 4\n  ping_ratio = 1.5\n  max_allowed_packet = 67108864L\n  sessions_sort = false\n  monitor_password = \"it's\"\n}";
    let e = strict_err(text, Section::MysqlVariables);
    assert_eq!((e.line, e.column), (3, 16));
    assert!(e.message.contains("would store an empty string"), "{e}");
    let lenient = ConfigFile::parse(text)
        .expect("parses")
        .section_statements_lenient(Section::MysqlVariables);
    assert!(lenient.skipped.is_empty());
    assert_eq!(
        lenient.statements,
        [
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-threads','4')",
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-ping_ratio','')",
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-max_allowed_packet','')",
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-sessions_sort','false')",
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-monitor_password','it''s')",
        ]
    );

    let e = strict_err("admin_variables = ( 1, 2 )", Section::AdminVariables);
    assert_eq!(e.column, 19);
    assert!(
        e.message.starts_with("'admin_variables' must be a group"),
        "{e}"
    );
}

#[test]
fn section_shapes_are_checked() {
    let e = strict_err("mysql_servers = { address = \"a\" }", Section::MysqlServers);
    assert!(
        e.message.starts_with("'mysql_servers' must be a list"),
        "{e}"
    );
    let e = strict_err("mysql_users = ( \"bob\" )", Section::MysqlUsers);
    assert_eq!(e.column, 17);
    assert!(
        e.message
            .starts_with("'mysql_users' entries must be groups"),
        "{e}"
    );
    // ProxySQL iterates a scalar entry, finds no username and skips it.
    let lenient = ConfigFile::parse("mysql_users = ( \"bob\" )")
        .expect("parses")
        .section_statements_lenient(Section::MysqlUsers);
    assert!(lenient.statements.is_empty());
    assert!(lenient.skipped[0].message.contains("mandatory 'username'"));
}

#[test]
fn global_settings_are_type_checked() {
    let e = ConfigFile::parse("datadir = 5")
        .expect("parses")
        .global_settings()
        .expect_err("wrong type");
    assert_eq!((e.line, e.column), (1, 11));
    assert_eq!(e.message, "'datadir' must be a string, found integer 5");
    let e = ConfigFile::parse("\nuuid = \"not-a-uuid\"")
        .expect("parses")
        .global_settings()
        .expect_err("bad uuid");
    assert_eq!((e.line, e.column), (2, 8));
    let e = ConfigFile::parse("cluster_sync_interfaces = 1")
        .expect("parses")
        .global_settings()
        .expect_err("not a boolean");
    assert!(e.message.contains("must be a boolean"));
    assert_eq!(
        ConfigFile::parse("").expect("empty").global_settings(),
        Ok(GlobalSettings::default())
    );
}

#[test]
fn section_metadata() {
    let mut names: Vec<_> = Section::ALL.iter().map(|s| s.config_name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Section::ALL.len());
    assert_eq!(Section::Restapi.table(), "restapi_routes");
    assert_eq!(Section::AdminVariables.table(), "global_variables");
    assert_eq!(
        Section::ALL
            .iter()
            .filter(|s| s.module() == "MYSQL SERVERS")
            .count(),
        6
    );
}

#[test]
fn errors_never_show_the_value_of_a_secret_setting() {
    let cases = [
        // Unquoted: the lexer reads a name.
        "admin_variables = { admin_credentials = S3cretPW; };",
        "admin_variables = { monitor_password = \"S3cretPW\" \"x\" 5; };",
        "admin_variables = { admin_credentials = \"admin:S3cretPW };",
        "admin_variables = { cluster_password = [ \"S3cretPW\", 1 }; };",
    ];
    for text in cases {
        let e = ConfigFile::parse(text).expect_err(text);
        assert!(!e.to_string().contains("S3cretPW"), "{text}: {e}");
    }
    let text = "mysql_users = ( { username = \"u\"; password = 12345678 } )\nadmin_variables = { admin_credentials = ( \"S3cretPW\" ) };";
    let cfg = ConfigFile::parse(text).expect("parses");
    let e = cfg.section_statements(Section::MysqlUsers).unwrap_err();
    assert!(!e.to_string().contains("12345678"), "{e}");
    assert!(e.to_string().contains("password"), "{e}");
    let e = cfg.section_statements(Section::AdminVariables).unwrap_err();
    assert!(!e.to_string().contains("S3cretPW"), "{e}");
}
