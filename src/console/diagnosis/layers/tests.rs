use super::*;

fn r(v: &[&str]) -> Vec<Option<String>> {
    v.iter()
        .map(|s| (*s != "NULL").then(|| (*s).to_owned()))
        .collect()
}

fn user(name: &str, pw: &str, backend: &str, frontend: &str) -> Vec<Option<String>> {
    r(&[
        name, pw, "0", "0", "", "0", "1", "0", backend, frontend, "10000", "", "",
    ])
}

fn server(hg: &str, port: &str, status: &str) -> Vec<Option<String>> {
    r(&[
        hg,
        "127.0.0.1",
        port,
        "0",
        status,
        "1",
        "0",
        "1000",
        "0",
        "0",
        "0",
        "",
    ])
}

fn node(module: ConfigModule, table: &str, memory: Rows, runtime: Rows, disk: Rows) -> NodeLayers {
    NodeLayers {
        node: "n1".into(),
        fetched_at: 0,
        modules: vec![ModuleLayers {
            module,
            tables: vec![TableLayers {
                table: table.into(),
                memory: Some(memory),
                runtime: Some(runtime),
                disk: Some(disk),
            }],
        }],
        notes: Vec::new(),
    }
}

fn kinds(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.class.kind()).collect()
}

#[test]
fn runtime_user_split_is_not_a_difference() {
    let both = vec![user("u1", "p1", "1", "1")];
    let split = vec![user("u1", "p1", "0", "1"), user("u1", "p1", "1", "0")];
    let l = node(
        ConfigModule::MysqlUsers,
        "mysql_users",
        both.clone(),
        split,
        both,
    );
    let a = &agreements(&l)[0];
    assert_eq!(a.memory_runtime, Agreement::Same);
    assert_eq!(a.runtime_disk, Agreement::Same);
    assert!(layer_findings(&l).is_empty());
}

#[test]
fn edited_not_loaded_and_loaded_not_saved() {
    // MEMORY edited (weight), RUNTIME and DISK old.
    let old = vec![server("1", "3306", "ONLINE")];
    let mut edited = old.clone();
    edited[0][5] = Some("5".into());
    let l = node(
        ConfigModule::MysqlServers,
        "mysql_servers",
        edited.clone(),
        old.clone(),
        old.clone(),
    );
    let f = layer_findings(&l);
    assert_eq!(kinds(&f), ["memory_not_loaded"]);
    let fix = f[0].fix.as_ref().unwrap();
    assert_eq!(
        fix.sql,
        [
            "LOAD MYSQL SERVERS TO RUNTIME",
            "SAVE MYSQL SERVERS TO DISK"
        ]
    );
    let Class::Config { evidence, .. } = &f[0].class else {
        panic!("not a config finding")
    };
    assert!(evidence
        .iter()
        .any(|e| e.layer == Some(Layer::Memory) && e.value.contains("| 5 |")));
    // Loaded, not saved.
    let l = node(
        ConfigModule::MysqlServers,
        "mysql_servers",
        edited.clone(),
        edited.clone(),
        old,
    );
    let f = layer_findings(&l);
    assert_eq!(kinds(&f), ["runtime_not_saved"]);
    assert_eq!(
        f[0].fix.as_ref().unwrap().sql,
        ["SAVE MYSQL SERVERS TO DISK"]
    );
    assert_eq!(f[0].module, Some(Module::MysqlServers));
}

#[test]
fn the_monitor_s_runtime_servers_are_not_edits() {
    // Replication hostgroups moved the writer into hg 0 at runtime; a server is shunned.
    let memory = vec![server("1", "3306", "ONLINE"), server("1", "3307", "ONLINE")];
    let runtime = vec![
        server("0", "3306", "ONLINE"),
        server("1", "3306", "ONLINE"),
        server("1", "3307", "SHUNNED"),
    ];
    let l = node(
        ConfigModule::MysqlServers,
        "mysql_servers",
        memory.clone(),
        runtime,
        memory,
    );
    assert!(layer_findings(&l).is_empty());
}

#[test]
fn passwords_are_masked_in_evidence() {
    let l = node(
        ConfigModule::MysqlUsers,
        "mysql_users",
        vec![user("u1", "secret", "1", "1")],
        vec![],
        vec![],
    );
    let f = layer_findings(&l);
    let text = serde_json::to_string(&f).unwrap();
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("\"kind\":\"memory_not_loaded\""), "{text}");
}

#[test]
fn doubled_users_with_a_hashed_password() {
    let hashed = "*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29";
    let rows = vec![user("u1", hashed, "0", "1"), user("u1", "p1", "1", "0")];
    let l = node(
        ConfigModule::MysqlUsers,
        "mysql_users",
        rows.clone(),
        rows.clone(),
        rows,
    );
    let f = layer_findings(&l);
    assert_eq!(kinds(&f), ["duplicate_users"]);
    let sql = &f[0].fix.as_ref().unwrap().sql;
    assert_eq!(
        sql[0],
        "DELETE FROM mysql_users WHERE username = 'u1' AND backend = 0"
    );
    assert!(sql.contains(&"LOAD MYSQL USERS TO RUNTIME".to_owned()));
    assert!(serde_json::to_string(&f).unwrap().contains("hashed"));
}

#[test]
fn shunned_only_is_information() {
    let a = node(
        ConfigModule::MysqlServers,
        "mysql_servers",
        vec![],
        vec![server("1", "3306", "ONLINE")],
        vec![],
    );
    let mut b = a.clone();
    b.node = "n2".into();
    b.modules[0].tables[0].runtime = Some(vec![server("1", "3306", "SHUNNED")]);
    let f = servers_shunned_only(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(f.severity, Severity::Ok);
    assert_eq!(f.class.kind(), "servers_shunned_only");
    assert!(f.why.contains("n2"));
    // A real difference (another port) is not "shunned only".
    b.modules[0].tables[0].runtime = Some(vec![server("1", "3307", "SHUNNED")]);
    assert!(servers_shunned_only(&[a.clone(), b]).is_none());
    // Identical lists: nothing to say.
    assert!(servers_shunned_only(&[a.clone(), a]).is_none());
}

#[test]
fn an_unreadable_layer_is_unknown_not_different() {
    let mut l = node(
        ConfigModule::ProxysqlServers,
        "proxysql_servers",
        vec![r(&["a"])],
        vec![r(&["a"])],
        vec![],
    );
    l.modules[0].tables[0].disk = None;
    let a = &agreements(&l)[0];
    assert_eq!(a.runtime_disk, Agreement::Unknown);
    assert!(layer_findings(&l).is_empty());
}
