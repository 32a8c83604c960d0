//! One client session on the traffic port: authentication against runtime `mysql_users`,
//! then a command loop that routes each statement (§7.4), borrows a backend connection of
//! the chosen hostgroup, replays the session state on it, forwards the command and relays
//! the answer byte for byte.
//!
//! Backend connections go back to their pool after each statement unless the session needs
//! that very connection again: an open transaction, prepared statements (the session then
//! stays on that connection, with statement ids translated), or state that cannot be
//! replayed elsewhere (user variables, temporary tables, locks). That is ProxySQL's
//! multiplexing, with its usual exceptions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mysql_common::constants::{CapabilityFlags, ColumnFlags, ColumnType};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::backend::LiveConnection;
use super::backend::{
    BackendConn, BackendIoError, ConnectError, ConnectParams, RelayError, FLAVOR_MASK,
};
use super::config::{TrafficConfig, UserEntry};
use super::counters::bump;
use super::digest::{digest_hash, digest_text_into};
use super::hostgroups::{pick_server, ServerEntry};
use super::packets::{BackendError, Expect, ResponseParser};
use super::rules::{QueryInput, QueryOutcome};
use super::state::{
    backend_handshake_collation, command_type, is_version_comment_query, last_insert_id_column,
    mentions_last_insert_id, names_fallbacks, parse_kill, parse_set, parse_use, pins_connection,
    SessionVars, SetItem, CMD_SELECT, CMD_SET, CMD_USE, COMMAND_NAMES,
};
use super::stats::{ErrorRecord, ProcessEntry, ProcessState, QueryRecord};
use super::TrafficShared;
use crate::node::protocol::{
    AuthPlugin, AuthRejection, Authenticator, ClientStream, ColumnDef, Command, Credential,
    ErrorReply, HandshakeConfig, Login, PeerAddr, ProtoError, ServerConn,
};
use crate::{px_error, px_info, px_warn};

const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_FIELD_LIST: u8 = 0x04;
const COM_STATISTICS: u8 = 0x09;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_STMT_RESET: u8 = 0x1a;
const COM_SET_OPTION: u8 = 0x1b;

/// Authentication against the frontend accounts of the configuration in force.
struct TrafficAuth<'a> {
    cfg: &'a TrafficConfig,
    shared: &'a TrafficShared,
}

impl Authenticator for TrafficAuth<'_> {
    type Tag = Arc<UserEntry>;

    fn lookup(&self, user: &str, _peer: &PeerAddr) -> Result<Credential<Self::Tag>, AuthRejection> {
        match self.cfg.users.get(user) {
            Some(u) => Ok(Credential {
                password: u.password.clone(),
                tag: u.clone(),
            }),
            None => Err(AuthRejection::AccessDenied),
        }
    }

    fn authorize(&self, login: &Login<Self::Tag>, _peer: &PeerAddr) -> Result<(), AuthRejection> {
        let connected = self
            .shared
            .node
            .counters
            .client_connected
            .load(Ordering::Relaxed);
        if connected >= u64::from(self.cfg.vars.max_connections) {
            px_warn!("mysql-max_connections reached. Returning 'Too many connections'");
            bump(&self.shared.node.counters.access_denied_max_connections, 1);
            return Err(AuthRejection::Reply(ErrorReply::new(
                1040,
                "08004",
                "Too many connections",
            )));
        }
        let used = self
            .shared
            .stats
            .user_counter(&login.user)
            .load(Ordering::Relaxed);
        if used >= login.tag.max_connections {
            let msg = format!(
                "User '{}' has exceeded the 'max_user_connections' resource (current value: {})",
                login.user, used
            );
            px_warn!("{}", msg);
            bump(
                &self.shared.stats.global.access_denied_max_user_connections,
                1,
            );
            return Err(AuthRejection::Reply(ErrorReply::new(1226, "42000", msg)));
        }
        Ok(())
    }

    fn access_denied(&self, user: &str, peer: &PeerAddr, using_password: bool) -> ErrorReply {
        self.shared
            .node
            .counters
            .access_denied_wrong_password
            .fetch_add(1, Ordering::Relaxed);
        ErrorReply::access_denied(user, peer, using_password)
    }
}

/// A prepared statement as the client knows it.
struct ClientStmt {
    sql: Bytes,
    hostgroup: i32,
    digest: u64,
    digest_text: Arc<str>,
    command: usize,
    params: u16,
    /// Parameter types from the last execute that sent them (2 bytes per parameter).
    param_types: Option<Vec<u8>>,
}

/// A backend statement on an attached connection.
#[derive(Clone, Copy)]
struct BackendStmt {
    id: u32,
    /// Whether parameter types were sent to it (later executes may omit them).
    types_sent: bool,
}

/// A backend connection the session holds.
struct Attached {
    hostgroup: i32,
    server: Arc<ServerEntry>,
    conn: BackendConn,
    /// Client statement id → backend statement.
    stmts: HashMap<u32, BackendStmt>,
    /// Taken for the current statement (not held from before): a failure before any
    /// answer was relayed can be retried on another connection.
    fresh: bool,
    /// The server's OFFLINE_HARD token when the connection was taken.
    fence: CancellationToken,
    /// Statements the connection stays with the session after it generated an insert id
    /// (`mysql-auto_increment_delay_multiplex`).
    insert_id_delay: u32,
}

/// Why the session's state could not be replayed on a connection.
enum SyncError {
    /// The backend refused a statement (e.g. unknown schema): tell the client.
    Refused(BackendError),
    /// The connection broke.
    Broken(BackendIoError),
}

/// What a statement needs from the backend.
struct Request<'a> {
    hostgroup: i32,
    cmd: u8,
    payload: &'a [u8],
    expect: Expect,
    prepare_id: Option<u32>,
}

/// Serves one accepted client connection until it quits or fails.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<TrafficShared>,
) {
    let _ = stream.set_nodelay(true);
    let cfg_rx = shared.subscribe();
    let cfg = cfg_rx.borrow().clone();
    let id = shared.next_session_id();
    let handshake = HandshakeConfig {
        server_version: cfg.vars.server_version.clone(),
        connection_id: id,
        default_auth_plugin: if cfg.vars.caching_sha2_default {
            AuthPlugin::CachingSha2
        } else {
            AuthPlugin::MysqlNative
        },
        deprecate_eof: cfg.vars.client_deprecate_eof,
        max_allowed_packet: cfg.vars.max_allowed_packet,
        handshake_timeout: Some(Duration::from_millis(
            cfg.vars.connect_timeout_client_ms.max(1),
        )),
        tls: shared
            .node
            .tls_offer(cfg.vars.have_ssl, cfg.vars.caching_sha2_default),
        ..HandshakeConfig::default()
    };
    let auth = TrafficAuth {
        cfg: &cfg,
        shared: &shared,
    };
    let counters = &shared.node.counters;
    let (client, login) = match ServerConn::accept(
        ClientStream::from(stream),
        PeerAddr::Tcp(peer),
        handshake,
        &auth,
    )
    .await
    {
        Ok(ok) => ok,
        Err(e) => {
            counters.client_aborted.fetch_add(1, Ordering::Relaxed);
            if let ProtoError::AuthFailed { reply, .. } = &e {
                px_error!("{}", reply.message);
            }
            return;
        }
    };
    counters.client_created.fetch_add(1, Ordering::Relaxed);
    counters.client_connected.fetch_add(1, Ordering::Relaxed);
    let user_counter = shared.stats.user_counter(&login.user);
    user_counter.fetch_add(1, Ordering::Relaxed);

    let user = login.tag.clone();
    let schema = login
        .schema
        .clone()
        .or_else(|| user.default_schema.clone())
        .or_else(|| Some(cfg.vars.default_schema.clone()));
    let flavor = client.capabilities() & FLAVOR_MASK;
    let proc = Arc::new(ProcessEntry {
        session_id: id,
        user: login.user.clone(),
        cli_host: peer.ip().to_string(),
        cli_port: peer.port(),
        kill: CancellationToken::new(),
        backend_thread: AtomicU32::new(0),
        state: parking_lot::Mutex::new(ProcessState {
            db: schema.clone(),
            hostgroup: -1,
            backend: None,
            command: "Sleep",
            started: Instant::now(),
            info: None,
        }),
    });
    shared.stats.register_process(proc.clone());
    let collation = if login.collation == 0 {
        33
    } else {
        login.collation
    };
    let mut session = ClientSession {
        vars: SessionVars::initial(
            collation,
            schema,
            flavor.contains(CapabilityFlags::CLIENT_MULTI_STATEMENTS),
        ),
        vars_gen: 1,
        shared: shared.clone(),
        cfg,
        cfg_rx,
        client,
        id,
        user,
        client_addr: peer.ip().to_string(),
        proxy_addr: local.ip().to_string(),
        proxy_port: local.port(),
        collation,
        flavor,
        attached: Vec::new(),
        stmts: HashMap::new(),
        next_stmt_id: 1,
        next_flag_in: None,
        hold_for_next_transaction: false,
        in_transaction: false,
        last_insert_id: 0,
        reading: false,
        locked_hostgroup: None,
        last_write_hostgroup: None,
        state_lost: false,
        proc,
        digest_buf: String::with_capacity(256),
        scratch: Vec::with_capacity(256),
        user_counter,
    };
    // KILL CONNECTION (from either port) closes the session at once, even mid-statement.
    let killed = session.proc.kill.clone();
    let outcome = tokio::select! {
        outcome = session.run() => Some(outcome),
        () = killed.cancelled() => None,
    };
    let Some(outcome) = outcome else {
        // KILL CONNECTION: the statement may have stopped halfway, so no backend
        // connection of this session goes back to the pool.
        px_info!(
            "Closing client connection {}:{} killed by KILL CONNECTION {id}",
            peer.ip(),
            peer.port()
        );
        session.discard_all();
        session.close().await;
        return;
    };
    if let Err(e) = outcome {
        if !matches!(e, ProtoError::Io(_) | ProtoError::UnexpectedEof) {
            px_warn!(
                "Closing client connection {}:{}: {}",
                peer.ip(),
                peer.port(),
                e
            );
        }
    }
    session.close().await;
}

/// One client connection's MySQL session (named apart from the console shell's `Session`).
/// Bytes of one session's own state (`mysql_session_internal_bytes` per session).
pub(super) const SESSION_BYTES: usize = std::mem::size_of::<ClientSession>();

/// Buffer bytes a client connection holds from its start: tokio's initial 8 KiB read buffer
/// and as much for writes (`mysql_frontend_buffers_bytes` per session).
pub(super) const CLIENT_BUFFER_BYTES: usize = 16 * 1024;

struct ClientSession {
    shared: Arc<TrafficShared>,
    cfg: Arc<TrafficConfig>,
    cfg_rx: watch::Receiver<Arc<TrafficConfig>>,
    client: ServerConn<ClientStream>,
    id: u32,
    user: Arc<UserEntry>,
    client_addr: String,
    proxy_addr: String,
    proxy_port: u16,
    collation: u16,
    flavor: CapabilityFlags,
    vars: SessionVars,
    /// Bumped whenever `vars` changes; connections remember the generation they match.
    vars_gen: u64,
    attached: Vec<Attached>,
    stmts: HashMap<u32, ClientStmt>,
    next_stmt_id: u32,
    next_flag_in: Option<i64>,
    /// `SET TRANSACTION ...` applies to the next transaction of that connection only.
    hold_for_next_transaction: bool,
    /// Counted in `Active_Transactions`.
    in_transaction: bool,
    last_insert_id: u64,
    /// The current statement is a `SELECT` without `FOR UPDATE` (autocommit rule).
    reading: bool,
    /// `mysql-set_query_lock_on_hostgroup`: the hostgroup a non-replayable `SET` locked the
    /// session on.
    locked_hostgroup: Option<i32>,
    /// Hostgroup of the last statement that affected rows (where `LAST_INSERT_ID()` runs).
    last_write_hostgroup: Option<i32>,
    /// A backend connection holding a transaction or unreplayable state was lost: the
    /// client connection is closed after the error, as ProxySQL does, so no later `COMMIT`
    /// can report success for work that was rolled back.
    state_lost: bool,
    proc: Arc<ProcessEntry>,
    digest_buf: String,
    scratch: Vec<u8>,
    user_counter: Arc<AtomicU32>,
}

/// ProxySQL does not count authentication and schema errors against a server (§7.3).
fn is_config_error(code: u16) -> bool {
    matches!(code,
        1007 | 1008 | 1044 | 1045 | 1049..=1052 | 1054..=1075 | 1099..=1104 | 1106..=1113
        | 1116..=1118 | 1120 | 1136 | 1138..=1149 | 1203 | 1226 | 3118)
}

impl ClientSession {
    /// What the session watches besides the client: its own `KILL CONNECTION` token and
    /// the OFFLINE_HARD tokens of the connections it holds.
    fn watched(&self) -> Vec<CancellationToken> {
        let mut tokens = vec![self.proc.kill.clone()];
        tokens.extend(self.attached.iter().map(|a| a.fence.clone()));
        tokens
    }

    /// Drops every held backend connection without reusing it (its state is unknown after
    /// an interrupted command); the client connection closes when the session ends.
    fn cut(&mut self) {
        if self.proc.kill.is_cancelled() {
            bump(
                &self.shared.stats.global.killed_backend_connections,
                self.attached.len() as u64,
            );
        }
        for a in std::mem::take(&mut self.attached) {
            a.server.discard(a.conn);
        }
        self.set_in_transaction(false);
    }

    async fn run(&mut self) -> Result<(), ProtoError> {
        loop {
            let watched = self.watched();
            let next = tokio::select! {
                r = self.client.next_command() => Some(r),
                _ = any_cancelled(&watched) => None,
            };
            let Some(next) = next else {
                self.cut();
                return Ok(());
            };
            let cmd = match next {
                Ok(Some(cmd)) => cmd,
                Ok(None) => return Ok(()),
                Err(ProtoError::Malformed(msg)) => {
                    self.client
                        .send_err(1047, "08S01", &format!("Malformed packet: {msg}"))
                        .await?;
                    continue;
                }
                Err(ProtoError::PacketSkipped { limit }) => {
                    px_warn!(
                        "Client {} (user '{}') sent a packet bigger than 'max_allowed_packet' ({} bytes): answered ERROR 1153",
                        self.client.peer().host(),
                        self.user.username,
                        limit
                    );
                    self.client.send_packet_too_large().await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if self.cfg_rx.has_changed().unwrap_or(false) {
                self.cfg = self.cfg_rx.borrow_and_update().clone();
            }
            let done = tokio::select! {
                r = self.dispatch(cmd) => Some(r),
                _ = any_cancelled(&watched) => None,
            };
            self.flush_frontend_traffic();
            match done {
                Some(r) => r?,
                None => {
                    self.cut();
                    return Ok(());
                }
            }
            if self.state_lost {
                self.cut();
                return Ok(());
            }
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> Result<(), ProtoError> {
        self.reading = false;
        {
            match cmd {
                Command::Query(sql) => self.on_query(sql).await?,
                Command::StmtPrepare(sql) => self.on_prepare(sql).await?,
                Command::StmtExecute { stmt_id, payload } => {
                    self.on_execute(stmt_id, payload).await?
                }
                Command::StmtClose(id) => self.on_stmt_close(id).await,
                Command::StmtReset(id) => self.on_stmt_reset(id).await?,
                Command::StmtSendLongData { stmt_id, .. } => {
                    let payload = self.client.last_packet().slice(1..);
                    self.on_long_data(stmt_id, payload).await;
                }
                Command::InitDb(db) => self.on_init_db(db).await?,
                Command::Ping => self.client.send_simple_ok().await?,
                Command::FieldList { .. } => {
                    let payload = self.client.last_packet().slice(1..);
                    let hg = self.route(None);
                    self.simple_forward(hg, COM_FIELD_LIST, &payload, Expect::FieldList)
                        .await?;
                }
                Command::Statistics => {
                    let hg = self.route(None);
                    self.simple_forward(hg, COM_STATISTICS, &[], Expect::Single)
                        .await?;
                }
                Command::SetOption(option) => {
                    self.vars.multi_statements = option == 0;
                    self.vars_gen += 1;
                    self.client.send_eof().await?;
                }
                Command::ResetConnection => {
                    self.reset_session(self.vars.schema.clone()).await;
                    self.client.send_simple_ok().await?;
                }
                Command::ChangeUser(request) => {
                    let cfg = self.cfg.clone();
                    let auth = TrafficAuth {
                        cfg: &cfg,
                        shared: &self.shared,
                    };
                    let login = self.client.change_user(&auth, request).await?;
                    self.user_counter.fetch_sub(1, Ordering::Relaxed);
                    self.user_counter = self.shared.stats.user_counter(&login.user);
                    self.user_counter.fetch_add(1, Ordering::Relaxed);
                    self.user = login.tag.clone();
                    let schema = login
                        .schema
                        .clone()
                        .or_else(|| self.user.default_schema.clone())
                        .or_else(|| Some(self.cfg.vars.default_schema.clone()));
                    self.reset_session(schema).await;
                }
                Command::Other { code, .. } => {
                    self.client
                        .send_err(1047, "08S01", &format!("Unknown command {code:#04x}"))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Releases every backend connection (reset when dirty) and returns the session to the
    /// state of a fresh login with `schema`.
    async fn reset_session(&mut self, schema: Option<String>) {
        self.release_all().await;
        self.stmts.clear();
        self.next_flag_in = None;
        self.hold_for_next_transaction = false;
        self.locked_hostgroup = None;
        self.last_write_hostgroup = None;
        self.vars = SessionVars::initial(
            self.collation,
            schema,
            self.flavor
                .contains(CapabilityFlags::CLIENT_MULTI_STATEMENTS),
        );
        self.vars_gen += 1;
        self.proc.state.lock().db = self.vars.schema.clone();
    }

    /// Adds the client connection's bytes since the last call to the global counters (once
    /// per command, not per packet).
    fn flush_frontend_traffic(&mut self) {
        let (sent, recv) = self.client.take_traffic();
        let g = &self.shared.stats.global;
        bump(&g.frontend_bytes_sent, sent);
        bump(&g.frontend_bytes_recv, recv);
    }

    async fn close(&mut self) {
        self.flush_frontend_traffic();
        self.release_all().await;
        self.set_in_transaction(false);
        let counters = &self.shared.node.counters;
        counters.client_connected.fetch_sub(1, Ordering::Relaxed);
        self.user_counter.fetch_sub(1, Ordering::Relaxed);
        self.shared.stats.unregister_process(self.id);
    }

    /// Drops every attached backend connection without returning it to the pool.
    fn discard_all(&mut self) {
        bump(
            &self.shared.stats.global.killed_backend_connections,
            self.attached.len() as u64,
        );
        for a in std::mem::take(&mut self.attached) {
            a.server.release(a.conn, false);
        }
    }

    async fn release_all(&mut self) {
        for mut a in std::mem::take(&mut self.attached) {
            let needs_reset = a.conn.in_transaction || a.conn.dirty || !a.stmts.is_empty();
            if needs_reset {
                bump(&self.shared.stats.global.myconnpoll_reset, 1);
            }
            let ok = !needs_reset || a.conn.reset().await;
            a.server.release(a.conn, ok);
        }
    }

    fn set_in_transaction(&mut self, on: bool) {
        if on != self.in_transaction {
            self.in_transaction = on;
            let c = &self.shared.node.counters.active_transactions;
            if on {
                c.fetch_add(1, Ordering::Relaxed);
            } else {
                c.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The hostgroup of an open transaction, if any.
    fn transaction_hostgroup(&self) -> Option<i32> {
        self.attached
            .iter()
            .find(|a| a.conn.in_transaction)
            .map(|a| a.hostgroup)
    }

    /// Where a statement goes: an open transaction keeps it (transaction_persistent),
    /// else the rules' destination, else the user's default hostgroup.
    fn route(&self, destination: Option<i32>) -> i32 {
        if self.user.transaction_persistent {
            if let Some(hg) = self.transaction_hostgroup() {
                return hg;
            }
        }
        destination.unwrap_or(self.user.default_hostgroup)
    }

    /// Digest text (into `digest_buf`) and hash of a statement.
    fn digest(&mut self, sql: &[u8]) -> u64 {
        digest_text_into(sql, &self.cfg.vars.digest, &mut self.digest_buf);
        digest_hash(&self.digest_buf)
    }

    fn run_rules(&self, sql: &str, digest: u64, is_execute: bool) -> QueryOutcome {
        if self.user.fast_forward || self.cfg.rules.is_empty() {
            return QueryOutcome::default();
        }
        let started = Instant::now();
        let outcome = self.cfg.rules.process(&QueryInput {
            username: &self.user.username,
            schemaname: self.vars.schema.as_deref().unwrap_or(""),
            client_addr: &self.client_addr,
            proxy_addr: &self.proxy_addr,
            proxy_port: self.proxy_port,
            query: sql,
            digest_text: &self.digest_buf,
            digest,
            flag_in: self.next_flag_in.unwrap_or(0),
            is_execute,
        });
        bump(
            &self.shared.stats.global.query_processor_time_nsec,
            started.elapsed().as_nanos() as u64,
        );
        outcome
    }

    fn mark_running(&self, hostgroup: i32, info: Option<Bytes>) {
        let mut st = self.proc.state.lock();
        st.command = "Query";
        st.started = Instant::now();
        st.hostgroup = hostgroup;
        st.info = info;
    }

    fn mark_idle(&self) {
        let mut st = self.proc.state.lock();
        st.command = "Sleep";
        st.started = Instant::now();
        st.info = None;
        st.backend = None;
        self.proc.backend_thread.store(0, Ordering::Relaxed);
    }

    /// Adds an error a server of `hostgroup` answered to `stats_mysql_errors`; the server
    /// is the one the session's last statement ran on.
    fn record_backend_error(&self, hostgroup: i32, errno: u16, message: &str) {
        let server = self
            .proc
            .state
            .lock()
            .backend
            .as_ref()
            .map(|(s, _)| s.clone());
        let (host, port) = server
            .as_ref()
            .map_or(("", 0), |s| (s.host.as_str(), s.port));
        self.record_error(hostgroup, host, port, errno, message);
    }

    fn record_error(&self, hostgroup: i32, host: &str, port: u16, errno: u16, message: &str) {
        self.shared.stats.record_error(&ErrorRecord {
            hostgroup,
            hostname: host,
            port,
            username: &self.user.username,
            client_address: &self.client_addr,
            schemaname: self.vars.schema.as_deref().unwrap_or(""),
            errno,
            message,
        });
    }

    /// The `Com_*` counters of `stats_mysql_global` a client statement moves (every one of
    /// these is forwarded to a backend by this node, so none counts as `_filtered`).
    fn count_frontend_com(&self, command: usize, set_items: Option<&[SetItem]>) {
        let g = &self.shared.stats.global;
        match COMMAND_NAMES.get(command).copied() {
            Some("COMMIT") => bump(&g.com_commit, 1),
            Some("ROLLBACK") => bump(&g.com_rollback, 1),
            Some("USE") => bump(&g.com_frontend_use_db, 1),
            Some("SELECT_FOR_UPDATE") if !self.vars.autocommit => {
                bump(&g.selects_for_update_autocommit0, 1)
            }
            _ => {}
        }
        for item in set_items.unwrap_or_default() {
            match item {
                SetItem::Names(_) => bump(&g.com_frontend_set_names, 1),
                SetItem::Autocommit(_) => bump(&g.com_autocommit, 1),
                _ => {}
            }
        }
    }

    /// Counts an error the proxy answers itself (`generated_error_packets`).
    fn generated_error(&self) {
        bump(&self.shared.stats.global.generated_error_packets, 1);
    }

    fn record(
        &self,
        command: usize,
        hostgroup: i32,
        digest: u64,
        digest_text: &str,
        started: Instant,
        parser: Option<&ResponseParser>,
    ) {
        let elapsed = started.elapsed().as_micros() as u64;
        if elapsed / 1_000 > self.cfg.vars.long_query_time_ms {
            bump(&self.shared.node.counters.slow_queries, 1);
        }
        if let Some(e) = parser.and_then(|p| p.error.as_ref()) {
            self.record_backend_error(hostgroup, e.code, &e.message);
        }
        if self.cfg.vars.commands_stats {
            self.shared.stats.record_command(command, elapsed);
        }
        if self.cfg.vars.query_digests {
            self.shared.stats.record_query(&QueryRecord {
                hostgroup,
                schemaname: self.vars.schema.as_deref().unwrap_or(""),
                username: &self.user.username,
                client_address: if self.cfg.vars.digests_track_hostname {
                    &self.client_addr
                } else {
                    ""
                },
                digest,
                digest_text,
                elapsed_us: elapsed,
                rows_affected: parser.map_or(0, |p| p.affected_rows),
                rows_sent: parser.map_or(0, |p| p.rows),
            });
        }
    }

    // ------------------------------------------------------------------------------------
    // COM_QUERY
    // ------------------------------------------------------------------------------------

    async fn on_query(&mut self, sql: Bytes) -> Result<(), ProtoError> {
        let started = Instant::now();
        self.shared
            .node
            .counters
            .questions
            .fetch_add(1, Ordering::Relaxed);
        if is_version_comment_query(&sql) {
            let mut col = ColumnDef::new("@@version_comment", ColumnType::MYSQL_TYPE_VAR_STRING);
            col.length = 24;
            col.decimals = 0x1f;
            self.client
                .send_resultset(&[col], [[Some("(ProxySQL)")]])
                .await?;
            self.shared
                .stats
                .record_command(CMD_SELECT, started.elapsed().as_micros() as u64);
            return Ok(());
        }
        if let Some(target) = parse_kill(&sql) {
            self.kill_by_proxy_id(target).await?;
            self.shared
                .stats
                .record_command(super::state::CMD_KILL, started.elapsed().as_micros() as u64);
            return Ok(());
        }
        if let Some(name) = last_insert_id_column(&sql) {
            let mut col = ColumnDef::new(&name, ColumnType::MYSQL_TYPE_LONGLONG);
            col.charset = 63;
            col.length = 20;
            col.flags =
                ColumnFlags::NOT_NULL_FLAG | ColumnFlags::BINARY_FLAG | ColumnFlags::UNSIGNED_FLAG;
            let id = self.last_insert_id.to_string();
            self.client.send_resultset(&[col], [[Some(id)]]).await?;
            self.shared
                .stats
                .record_command(CMD_SELECT, started.elapsed().as_micros() as u64);
            return Ok(());
        }
        let command = command_type(&sql);
        let digest = self.digest(&sql);
        let text = String::from_utf8_lossy(&sql);
        let outcome = self.run_rules(&text, digest, false);
        self.next_flag_in = outcome.next_query_flag_in;
        if let Some(msg) = &outcome.ok_msg {
            let status = self.client.status_flags();
            self.client.send_ok(0, 0, status, 0, msg).await?;
            return Ok(());
        }
        if let Some(msg) = &outcome.error_msg {
            self.generated_error();
            self.client.send_err(1148, "42000", msg).await?;
            return Ok(());
        }
        let set_items = (command == CMD_SET).then(|| parse_set(&text)).flatten();
        self.count_frontend_com(command, set_items.as_deref());
        if let Some([SetItem::Names(names)]) = set_items.as_deref() {
            if !names_fallbacks(names).is_empty() {
                // A MySQL 8 collation MariaDB lacks: adopted here, replayed with the closest
                // utf8mb4 collation each backend has (see `sync`).
                self.vars.names = Some(names.clone());
                self.vars_gen += 1;
                let status = self.client.status_flags();
                self.client.send_ok(0, 0, status, 0, "").await?;
                return Ok(());
            }
        }
        let use_db = (command == CMD_USE).then(|| parse_use(&text)).flatten();
        let pins = outcome.multiplex == Some(0) || pins_connection(&sql);
        drop(text);
        let query: Bytes = match outcome.new_query {
            Some(q) => Bytes::from(q),
            None => sql,
        };
        let mut hostgroup = self.route(outcome.destination_hostgroup);
        if mentions_last_insert_id(&query) {
            // Where the last write ran, if the session still holds that connection.
            if let Some(hg) = self.last_write_hostgroup {
                if self.attached.iter().any(|a| a.hostgroup == hg) {
                    hostgroup = hg;
                }
            }
        }
        if let Some(reply) = self.check_hostgroup_lock(hostgroup) {
            self.generated_error();
            self.client.send_error(&reply).await?;
            return Ok(());
        }
        let locks = self.cfg.vars.set_query_lock_on_hostgroup
            && set_items.as_ref().is_some_and(|items| {
                items
                    .iter()
                    .any(|i| matches!(i, SetItem::UserVariable | SetItem::Opaque))
            });
        self.reading = command == CMD_SELECT;
        self.mark_running(hostgroup, Some(query.clone()));
        let result = self
            .execute(Request {
                hostgroup,
                cmd: COM_QUERY,
                payload: &query,
                expect: Expect::ResultSet,
                prepare_id: None,
            })
            .await;
        let digest_text = std::mem::take(&mut self.digest_buf);
        let outcome = match result {
            Ok(Some((idx, parser))) => {
                if parser.error.is_none() {
                    self.apply_effects(idx, set_items.as_deref(), use_db, pins);
                    self.note_write(idx, &parser);
                    if locks && self.locked_hostgroup.is_none() {
                        self.locked_hostgroup = Some(hostgroup);
                    }
                }
                self.finish(idx);
                self.record(
                    command,
                    hostgroup,
                    digest,
                    &digest_text,
                    started,
                    Some(&parser),
                );
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        self.digest_buf = digest_text;
        self.mark_idle();
        outcome
    }

    /// Remembers the insert id and where the write ran; a connection that generated an id
    /// stays with the session for `mysql-auto_increment_delay_multiplex` statements.
    fn note_write(&mut self, idx: usize, parser: &ResponseParser) {
        if parser.affected_rows > 0 || parser.last_insert_id > 0 {
            self.last_insert_id = parser.last_insert_id;
        }
        if parser.affected_rows > 0 {
            let a = &mut self.attached[idx];
            self.last_write_hostgroup = Some(a.hostgroup);
            if parser.last_insert_id > 0 {
                // One more than the count: this statement's own finish uses one up.
                a.insert_id_delay = self
                    .cfg
                    .vars
                    .auto_increment_delay_multiplex
                    .saturating_add(1);
            }
        }
    }

    /// ProxySQL's error 9006 when a session locked on a hostgroup is routed elsewhere.
    fn check_hostgroup_lock(&self, hostgroup: i32) -> Option<ErrorReply> {
        let locked = self.locked_hostgroup?;
        (self.cfg.vars.set_query_lock_on_hostgroup && locked != hostgroup).then(|| {
            ErrorReply::new(
                9006,
                "Y0000",
                format!(
                    "ProxySQL Error: connection is locked to hostgroup {locked} but trying to reach hostgroup {hostgroup}"
                ),
            )
        })
    }

    /// `KILL [CONNECTION|QUERY] <id>` with a proxy session id, as ProxySQL: only sessions of
    /// the same user. `KILL QUERY` interrupts the statement on its backend; `KILL
    /// CONNECTION` does that too and closes the session.
    async fn kill_by_proxy_id(
        &mut self,
        target: super::state::KillTarget,
    ) -> Result<(), ProtoError> {
        let victim = self
            .shared
            .stats
            .process(target.session_id)
            .filter(|p| p.user == self.user.username);
        let Some(victim) = victim else {
            // ProxySQL answers OK even for an unknown id; saying so is more useful.
            return self
                .client
                .send_err(
                    1094,
                    "HY000",
                    &format!("Unknown thread id: {}", target.session_id),
                )
                .await;
        };
        let thread = victim.backend_thread.load(Ordering::Relaxed);
        let server = victim.state.lock().backend.as_ref().map(|(s, _)| s.clone());
        if let (Some(server), true) = (server, thread != 0) {
            let killed = self.kill_backend_query(&server, thread).await;
            if killed.is_ok() {
                bump(&self.shared.stats.global.killed_backend_queries, 1);
            }
            if let Err(e) = killed {
                px_warn!(
                    "KILL QUERY {} on {}:{} failed: {}",
                    thread,
                    server.host,
                    server.port,
                    e
                );
            }
        }
        if !target.query_only {
            victim.kill.cancel();
        }
        if target.session_id == self.id && !target.query_only {
            // Killing oneself: the client gets the error MySQL gives, then the connection ends.
            self.state_lost = true;
            return self
                .client
                .send_err(1927, "70100", "Connection was killed")
                .await;
        }
        let status = self.client.status_flags();
        self.client.send_ok(0, 0, status, 0, "").await
    }

    /// Runs `KILL QUERY <thread>` on `server` over a new connection with this session's
    /// backend credentials (the thread belongs to the same user).
    async fn kill_backend_query(
        &self,
        server: &Arc<ServerEntry>,
        thread: u32,
    ) -> Result<(), ConnectError> {
        let mut conn = self.connect(server).await?;
        let r = conn.query(&format!("KILL QUERY {thread}")).await;
        server.discard(conn);
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ConnectError::Refused(e)),
            Err(e) => Err(ConnectError::Protocol(e.to_string())),
        }
    }

    /// Adopts what a successful statement changed: tracked `SET`s, `USE`, pinning.
    fn apply_effects(
        &mut self,
        idx: usize,
        set_items: Option<&[SetItem]>,
        use_db: Option<String>,
        pins: bool,
    ) {
        let a = &mut self.attached[idx];
        let mut changed = false;
        if let Some(items) = set_items {
            for item in items {
                match item {
                    SetItem::Session { key, statement } => {
                        self.vars.vars.insert(key.clone(), statement.clone());
                        a.conn.vars.vars.insert(key.clone(), statement.clone());
                        changed = true;
                    }
                    SetItem::Names(statement) => {
                        self.vars.names = Some(statement.clone());
                        a.conn.vars.names = Some(statement.clone());
                        changed = true;
                    }
                    SetItem::Autocommit(_) => {}
                    SetItem::Global => {}
                    SetItem::NextTransaction => self.hold_for_next_transaction = true,
                    SetItem::UserVariable | SetItem::Opaque => a.conn.dirty = true,
                }
            }
        }
        // Autocommit follows what the server reports after the statement.
        if a.conn.vars.autocommit != self.vars.autocommit {
            if set_items.is_some() {
                self.vars.autocommit = a.conn.vars.autocommit;
                changed = true;
            } else {
                a.conn.synced = (0, 0);
            }
        }
        if let Some(db) = use_db {
            self.vars.schema = Some(db.clone());
            a.conn.vars.schema = Some(db);
            self.proc.state.lock().db = self.vars.schema.clone();
            changed = true;
        }
        if pins {
            a.conn.dirty = true;
        }
        if changed {
            self.vars_gen += 1;
            if a.conn.synced.0 == u64::from(self.id) {
                a.conn.synced = (u64::from(self.id), self.vars_gen);
            }
        }
    }

    /// After a statement: keep the connection if the session still needs it, else pool it.
    fn finish(&mut self, idx: usize) {
        let in_tx = self.attached.iter().any(|a| a.conn.in_transaction);
        if in_tx {
            self.hold_for_next_transaction = false;
        }
        self.set_in_transaction(in_tx);
        for a in &mut self.attached {
            a.insert_id_delay = a.insert_id_delay.saturating_sub(1);
        }
        let a = &mut self.attached[idx];
        a.fresh = false;
        let keep = a.conn.in_transaction
            || a.insert_id_delay > 0
            || a.conn.dirty
            || !a.stmts.is_empty()
            || self.hold_for_next_transaction;
        if !keep {
            let a = self.attached.swap_remove(idx);
            a.server.release(a.conn, true);
        }
    }

    // ------------------------------------------------------------------------------------
    // Backend execution
    // ------------------------------------------------------------------------------------

    /// Runs `req` on a connection of its hostgroup and relays the answer. `Ok(None)` when an
    /// error was already sent to the client instead; `Ok(Some)` with the index of the
    /// attached connection and what the answer contained.
    async fn execute(
        &mut self,
        req: Request<'_>,
    ) -> Result<Option<(usize, ResponseParser)>, ProtoError> {
        for attempt in 0..2 {
            let idx = match self.acquire(req.hostgroup).await {
                Ok(idx) => idx,
                Err(reply) => {
                    self.generated_error();
                    self.client.send_error(&reply).await?;
                    return Ok(None);
                }
            };
            match self.sync(idx).await {
                Ok(()) => {}
                Err(SyncError::Refused(e)) => {
                    self.client
                        .send_err(e.code, &e.sqlstate, &e.message)
                        .await?;
                    self.finish(idx);
                    return Ok(None);
                }
                Err(SyncError::Broken(e)) => {
                    let retry = attempt == 0 && self.attached[idx].fresh;
                    self.drop_broken(idx, &e.to_string());
                    if retry {
                        continue;
                    }
                    self.lost_connection().await?;
                    return Ok(None);
                }
            }
            let a = &mut self.attached[idx];
            a.server.count_query();
            {
                let mut st = self.proc.state.lock();
                st.backend = Some((a.server.clone(), a.conn.local_port));
            }
            self.proc
                .backend_thread
                .store(a.conn.thread_id, Ordering::Relaxed);
            let backend_started = Instant::now();
            let sent = a.conn.send_command(req.cmd, req.payload).await;
            let relayed = match sent {
                Ok(()) => {
                    a.conn
                        .relay(&mut self.client, req.expect, req.prepare_id)
                        .await
                }
                Err(e) => Err(RelayError::Backend {
                    error: e.into(),
                    forwarded: false,
                }),
            };
            bump(
                &self.shared.stats.global.backend_query_time_nsec,
                backend_started.elapsed().as_nanos() as u64,
            );
            match relayed {
                Ok(parser) => return Ok(Some((idx, parser))),
                Err(RelayError::Client(e)) => {
                    // The client is gone mid-answer: this connection holds unread data.
                    let a = self.attached.swap_remove(idx);
                    a.server.discard(a.conn);
                    return Err(e);
                }
                Err(RelayError::Backend { error, forwarded }) => {
                    let a = &self.attached[idx];
                    let retry = attempt == 0
                        && !forwarded
                        && a.fresh
                        && !a.conn.in_transaction
                        && a.stmts.is_empty();
                    self.drop_broken(idx, &error.to_string());
                    if retry {
                        continue;
                    }
                    self.lost_connection().await?;
                    return Ok(None);
                }
            }
        }
        self.lost_connection().await?;
        Ok(None)
    }

    async fn lost_connection(&mut self) -> Result<(), ProtoError> {
        self.generated_error();
        self.client
            .send_err(
                2013,
                "HY000",
                "Lost connection to MySQL server during query",
            )
            .await
    }

    fn drop_broken(&mut self, idx: usize, why: &str) {
        let a = self.attached.swap_remove(idx);
        if a.conn.in_transaction || a.conn.dirty {
            self.state_lost = true;
        }
        px_error!(
            "Detected a broken connection while running query on ({},{},{},{}) , user {} : {}",
            a.hostgroup,
            a.server.host,
            a.server.port,
            a.conn.thread_id,
            self.user.username,
            why
        );
        // Statements prepared there are prepared again on their next execute.
        a.server.discard(a.conn);
        let in_tx = self.attached.iter().any(|a| a.conn.in_transaction);
        self.set_in_transaction(in_tx);
    }

    /// Finds or opens a connection to `hostgroup`; returns its index in `attached`.
    async fn acquire(&mut self, hostgroup: i32) -> Result<usize, ErrorReply> {
        if let Some(idx) = self.attached.iter().position(|a| a.hostgroup == hostgroup) {
            bump(&self.shared.stats.global.connpool_get_conn_immediate, 1);
            return Ok(idx);
        }
        let got = self.acquire_new(hostgroup).await;
        let g = &self.shared.stats.global;
        match &got {
            Ok(_) => bump(&g.connpool_get_conn_success, 1),
            Err(_) => bump(&g.connpool_get_conn_failure, 1),
        }
        got
    }

    /// [`acquire`](Self::acquire) without a held connection: from the pool or a new one.
    async fn acquire_new(&mut self, hostgroup: i32) -> Result<usize, ErrorReply> {
        let started = Instant::now();
        let max_wait = Duration::from_millis(self.cfg.vars.connect_timeout_server_max_ms);
        let mut logged = false;
        loop {
            if self.cfg_rx.has_changed().unwrap_or(false) {
                self.cfg = self.cfg_rx.borrow_and_update().clone();
            }
            let vars = &self.cfg.vars;
            let server =
                self.cfg.hostgroups.get(&hostgroup).and_then(|servers| {
                    pick_server(servers, &vars.shun, vars.default_max_latency_ms)
                });
            if let Some(server) = server {
                if let Some(conn) = server.take_free(&self.user.username, self.flavor) {
                    return Ok(self.attach(hostgroup, server, conn));
                }
                match self.connect(&server).await {
                    Ok(conn) => return Ok(self.attach(hostgroup, server, conn)),
                    Err(ConnectError::Refused(e)) if is_config_error(e.code) => {
                        self.record_error(hostgroup, &server.host, server.port, e.code, &e.message);
                        return Err(ErrorReply::new(e.code, &e.sqlstate, e.message));
                    }
                    Err(e) => {
                        let (errno, message) = match &e {
                            ConnectError::Refused(b) => (b.code, b.message.clone()),
                            other => (2003, other.to_string()),
                        };
                        self.record_error(hostgroup, &server.host, server.port, errno, &message);
                        px_error!(
                            "Failed to connect to server {}:{} of hostgroup {}: {}",
                            server.host,
                            server.port,
                            hostgroup,
                            e
                        );
                        server.connect_error(&self.cfg.vars.shun);
                    }
                }
            } else {
                if !logged {
                    px_error!(
                        "Hostgroup {} has no servers available! Checking servers shunned for more than {} second",
                        hostgroup,
                        self.cfg.vars.shun.shun_recovery_time_sec
                    );
                    logged = true;
                }
                let left = max_wait.saturating_sub(started.elapsed());
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
            if started.elapsed() >= max_wait {
                return Err(ErrorReply::new(
                    9001,
                    "HY000",
                    format!(
                        "Max connect timeout reached while reaching hostgroup {} after {}ms",
                        hostgroup,
                        started.elapsed().as_millis()
                    ),
                ));
            }
        }
    }

    fn attach(&mut self, hostgroup: i32, server: Arc<ServerEntry>, conn: BackendConn) -> usize {
        let fence = server.fence_token();
        self.attached.push(Attached {
            hostgroup,
            server,
            conn,
            stmts: HashMap::new(),
            fresh: true,
            fence,
            insert_id_delay: 0,
        });
        self.attached.len() - 1
    }

    async fn connect(&self, server: &Arc<ServerEntry>) -> Result<BackendConn, ConnectError> {
        let password = match self.cfg.backend_passwords.get(&self.user.username) {
            Some(crate::node::protocol::Password::Clear(p)) => p.clone(),
            Some(crate::node::protocol::Password::NativeHash(_)) => {
                return Err(ConnectError::Refused(BackendError {
                    code: 1045,
                    sqlstate: "28000".into(),
                    message: format!(
                        "ProxySQL Error: the backend password of user '{}' is stored as a hash; backend connections need it in clear text",
                        self.user.username
                    ),
                }))
            }
            None => {
                return Err(ConnectError::Refused(BackendError {
                    code: 1045,
                    sqlstate: "28000".into(),
                    message: format!(
                        "ProxySQL Error: user '{}' has no backend entry in mysql_users",
                        self.user.username
                    ),
                }))
            }
        };
        let addr = resolve(&server.host, server.port).await?;
        let epoch = server.kill_epoch();
        let mut conn = BackendConn::connect(
            &ConnectParams {
                addr,
                user: &self.user.username,
                password: &password,
                schema: self.vars.schema.as_deref(),
                collation: backend_handshake_collation(self.collation),
                flavor: self.flavor,
                timeout: Duration::from_millis(self.cfg.vars.connect_timeout_server_ms.max(1)),
            },
            self.shared.next_conn_id(),
        )
        .await?;
        conn.born_epoch = epoch;
        conn.live = Some(LiveConnection::new(self.shared.node.clone()));
        server.note_connected();
        Ok(conn)
    }

    /// Replays the session state on an attached connection where it differs.
    async fn sync(&mut self, idx: usize) -> Result<(), SyncError> {
        let me = (u64::from(self.id), self.vars_gen);
        let a = &mut self.attached[idx];
        // ProxySQL (`handler_again___verify_backend_autocommit`): with autocommit=0 and
        // `mysql-enforce_autocommit_on_reads=false`, a SELECT without FOR UPDATE outside a
        // transaction runs with autocommit on, so a read on a replica opens no transaction
        // that would pin the session there.
        let autocommit = if !self.vars.autocommit
            && self.reading
            && !self.cfg.vars.enforce_autocommit_on_reads
            && !a.conn.in_transaction
        {
            true
        } else {
            self.vars.autocommit
        };
        if a.conn.synced == me && a.conn.vars.autocommit == autocommit {
            return Ok(());
        }
        let conn = &mut a.conn;
        let want = &self.vars;
        let check = |r: Result<Result<(), BackendError>, BackendIoError>| match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SyncError::Refused(e)),
            Err(e) => Err(SyncError::Broken(e)),
        };
        // Settings the session does not have can only be undone by a reset.
        if conn.vars.vars.keys().any(|k| !want.vars.contains_key(k)) && !conn.reset().await {
            return Err(SyncError::Broken(BackendIoError::Io(
                std::io::Error::other("COM_RESET_CONNECTION failed"),
            )));
        }
        if want.schema.is_some() && conn.vars.schema != want.schema {
            let db = want.schema.as_deref().unwrap_or_default();
            bump(&self.shared.stats.global.com_backend_init_db, 1);
            let r = conn
                .execute(COM_INIT_DB, db.as_bytes(), Expect::Single)
                .await;
            check(r.map(|r| r.map(|_| ())))?;
            conn.vars.schema = want.schema.clone();
        }
        if want.names.is_some() && conn.vars.names != want.names {
            let sql = want.names.as_deref().unwrap_or_default();
            bump(&self.shared.stats.global.com_backend_set_names, 1);
            let mut r = conn.query(sql).await;
            // A collation the backend lacks (MySQL 8's utf8mb4_0900_*): the closest utf8mb4
            // one it has.
            for fallback in names_fallbacks(sql) {
                match &r {
                    Ok(Err(e)) if e.code == 1273 => r = conn.query(&fallback).await,
                    _ => break,
                }
            }
            check(r)?;
            conn.vars.names = want.names.clone();
        }
        if conn.vars.autocommit != autocommit {
            let sql = if autocommit {
                "SET autocommit=1"
            } else {
                "SET autocommit=0"
            };
            check(conn.query(sql).await)?;
        }
        for (key, statement) in &want.vars {
            if conn.vars.vars.get(key) != Some(statement) {
                check(conn.query(statement).await)?;
                conn.vars.vars.insert(key.clone(), statement.clone());
            }
        }
        if conn.vars.multi_statements != want.multi_statements {
            let option: u16 = if want.multi_statements { 0 } else { 1 };
            let r = conn
                .execute(COM_SET_OPTION, &option.to_le_bytes(), Expect::Single)
                .await;
            check(r.map(|r| r.map(|_| ())))?;
            conn.vars.multi_statements = want.multi_statements;
        }
        // Synchronised only if the session's own autocommit is what the connection has.
        conn.synced = if autocommit == want.autocommit {
            me
        } else {
            (0, 0)
        };
        Ok(())
    }

    async fn simple_forward(
        &mut self,
        hostgroup: i32,
        cmd: u8,
        payload: &[u8],
        expect: Expect,
    ) -> Result<(), ProtoError> {
        self.mark_running(hostgroup, None);
        let r = self
            .execute(Request {
                hostgroup,
                cmd,
                payload,
                expect,
                prepare_id: None,
            })
            .await;
        if let Ok(Some((idx, _))) = &r {
            self.finish(*idx);
        }
        self.mark_idle();
        r.map(|_| ())
    }

    async fn on_init_db(&mut self, db: String) -> Result<(), ProtoError> {
        bump(&self.shared.stats.global.com_frontend_init_db, 1);
        let hostgroup = self.route(None);
        self.mark_running(hostgroup, None);
        let r = self
            .execute(Request {
                hostgroup,
                cmd: COM_INIT_DB,
                payload: db.as_bytes(),
                expect: Expect::Single,
                prepare_id: None,
            })
            .await;
        if let Ok(Some((idx, parser))) = &r {
            if parser.error.is_none() {
                self.apply_effects(*idx, None, Some(db), false);
            }
            self.finish(*idx);
        }
        self.mark_idle();
        r.map(|_| ())
    }

    // ------------------------------------------------------------------------------------
    // Prepared statements
    // ------------------------------------------------------------------------------------

    async fn on_prepare(&mut self, sql: Bytes) -> Result<(), ProtoError> {
        let g = &self.shared.stats.global;
        bump(&g.com_frontend_stmt_prepare, 1);
        // Prepared on the backend here (the first prepare goes to a server).
        bump(&g.com_backend_stmt_prepare, 1);
        let digest = self.digest(&sql);
        let text = String::from_utf8_lossy(&sql).into_owned();
        let outcome = self.run_rules(&text, digest, false);
        if let Some(msg) = &outcome.error_msg {
            self.generated_error();
            self.client.send_err(1148, "42000", msg).await?;
            return Ok(());
        }
        let hostgroup = self.route(outcome.destination_hostgroup);
        let client_id = self.next_stmt_id;
        self.mark_running(hostgroup, Some(sql.clone()));
        let r = self
            .execute(Request {
                hostgroup,
                cmd: COM_STMT_PREPARE,
                payload: &sql,
                expect: Expect::Prepare,
                prepare_id: Some(client_id),
            })
            .await;
        if let Ok(Some((idx, parser))) = &r {
            if let Some(ok) = parser.prepare {
                self.next_stmt_id = self.next_stmt_id.wrapping_add(1).max(1);
                self.attached[*idx].stmts.insert(
                    client_id,
                    BackendStmt {
                        id: ok.stmt_id,
                        types_sent: false,
                    },
                );
                self.stmts.insert(
                    client_id,
                    ClientStmt {
                        command: command_type(&sql),
                        sql: sql.clone(),
                        hostgroup,
                        digest,
                        digest_text: Arc::from(self.digest_buf.as_str()),
                        params: ok.params,
                        param_types: None,
                    },
                );
            }
            self.finish(*idx);
        }
        self.mark_idle();
        r.map(|_| ())
    }

    /// Prepares client statement `client_id` on attached connection `idx` if it is not
    /// prepared there yet, without telling the client.
    async fn ensure_prepared(
        &mut self,
        idx: usize,
        client_id: u32,
    ) -> Result<BackendStmt, SyncError> {
        if let Some(b) = self.attached[idx].stmts.get(&client_id) {
            return Ok(*b);
        }
        let sql = match self.stmts.get(&client_id) {
            Some(st) => st.sql.clone(),
            None => {
                return Err(SyncError::Refused(unknown_stmt(
                    client_id,
                    "mysqld_stmt_execute",
                )));
            }
        };
        bump(&self.shared.stats.global.com_backend_stmt_prepare, 1);
        let a = &mut self.attached[idx];
        match a
            .conn
            .execute(COM_STMT_PREPARE, &sql, Expect::Prepare)
            .await
        {
            Ok(Ok(parser)) => {
                let ok = parser.prepare.ok_or_else(|| {
                    SyncError::Broken(BackendIoError::Io(std::io::Error::other(
                        "prepare without statement id",
                    )))
                })?;
                let b = BackendStmt {
                    id: ok.stmt_id,
                    types_sent: false,
                };
                a.stmts.insert(client_id, b);
                Ok(b)
            }
            Ok(Err(e)) => Err(SyncError::Refused(e)),
            Err(e) => Err(SyncError::Broken(e)),
        }
    }

    async fn on_execute(&mut self, stmt_id: u32, payload: Bytes) -> Result<(), ProtoError> {
        let started = Instant::now();
        bump(&self.shared.stats.global.com_frontend_stmt_execute, 1);
        self.shared
            .node
            .counters
            .questions
            .fetch_add(1, Ordering::Relaxed);
        let Some(st) = self.stmts.get_mut(&stmt_id) else {
            let e = unknown_stmt(stmt_id, "mysqld_stmt_execute");
            return self.client.send_err(e.code, &e.sqlstate, &e.message).await;
        };
        // Remember parameter types: a re-prepared statement needs them on its first execute.
        let params = usize::from(st.params);
        let types_at = 9 + params.div_ceil(8);
        let bound = params > 0 && payload.get(types_at) == Some(&1);
        if bound {
            if let Some(types) = payload.get(types_at + 1..types_at + 1 + 2 * params) {
                st.param_types = Some(types.to_vec());
            }
        }
        let (digest, digest_text, command, stmt_hg, sql) = (
            st.digest,
            st.digest_text.clone(),
            st.command,
            st.hostgroup,
            st.sql.clone(),
        );
        let hostgroup = self.route(Some(stmt_hg));
        if let Some(reply) = self.check_hostgroup_lock(hostgroup) {
            return self.client.send_error(&reply).await;
        }
        self.reading = command == CMD_SELECT;
        self.mark_running(hostgroup, Some(sql));
        let mut outcome = Ok(());
        let mut result = None;
        for attempt in 0..2 {
            let idx = match self.acquire(hostgroup).await {
                Ok(i) => i,
                Err(reply) => {
                    outcome = self.client.send_error(&reply).await;
                    break;
                }
            };
            let prepared = match self.sync(idx).await {
                Ok(()) => self.ensure_prepared(idx, stmt_id).await,
                Err(e) => Err(e),
            };
            let backend = match prepared {
                Ok(b) => b,
                Err(SyncError::Refused(e)) => {
                    outcome = self.client.send_err(e.code, &e.sqlstate, &e.message).await;
                    self.finish(idx);
                    break;
                }
                Err(SyncError::Broken(e)) => {
                    let retry = attempt == 0 && self.attached[idx].fresh;
                    self.drop_broken(idx, &e.to_string());
                    if retry {
                        continue;
                    }
                    outcome = self.lost_connection().await;
                    break;
                }
            };
            // The execute packet with the backend's statement id, without a cursor, and with
            // the parameter types if this backend statement has not seen them yet.
            self.scratch.clear();
            self.scratch.extend_from_slice(&payload);
            if self.scratch.len() >= 5 {
                self.scratch[..4].copy_from_slice(&backend.id.to_le_bytes());
                self.scratch[4] = 0;
            }
            if params > 0 && !bound && !backend.types_sent {
                if let Some(types) = self
                    .stmts
                    .get(&stmt_id)
                    .and_then(|s| s.param_types.as_ref())
                {
                    if self.scratch.len() > types_at {
                        self.scratch[types_at] = 1;
                        let at = types_at + 1;
                        self.scratch.splice(at..at, types.iter().copied());
                    }
                }
            }
            let a = &mut self.attached[idx];
            if let Some(b) = a.stmts.get_mut(&stmt_id) {
                b.types_sent |= params == 0 || self.scratch.get(types_at) == Some(&1);
            }
            a.server.count_query();
            bump(&self.shared.stats.global.com_backend_stmt_execute, 1);
            let backend_started = Instant::now();
            let sent = a.conn.send_command(COM_STMT_EXECUTE, &self.scratch).await;
            let relayed = match sent {
                Ok(()) => {
                    a.conn
                        .relay(&mut self.client, Expect::ResultSet, None)
                        .await
                }
                Err(e) => Err(RelayError::Backend {
                    error: e.into(),
                    forwarded: false,
                }),
            };
            bump(
                &self.shared.stats.global.backend_query_time_nsec,
                backend_started.elapsed().as_nanos() as u64,
            );
            match relayed {
                Ok(parser) => {
                    result = Some((idx, parser));
                    break;
                }
                Err(RelayError::Client(e)) => {
                    let a = self.attached.swap_remove(idx);
                    a.server.discard(a.conn);
                    return Err(e);
                }
                Err(RelayError::Backend { error, forwarded }) => {
                    let a = &self.attached[idx];
                    let retry = attempt == 0 && !forwarded && a.fresh && !a.conn.in_transaction;
                    self.drop_broken(idx, &error.to_string());
                    if retry {
                        continue;
                    }
                    outcome = self.lost_connection().await;
                    break;
                }
            }
        }
        if let Some((idx, parser)) = result {
            if parser.error.is_none() {
                self.note_write(idx, &parser);
            }
            self.finish(idx);
            self.record(
                command,
                hostgroup,
                digest,
                &digest_text,
                started,
                Some(&parser),
            );
        }
        self.mark_idle();
        outcome
    }

    async fn on_stmt_close(&mut self, stmt_id: u32) {
        bump(&self.shared.stats.global.com_frontend_stmt_close, 1);
        self.stmts.remove(&stmt_id);
        let mut i = 0;
        while i < self.attached.len() {
            if let Some(b) = self.attached[i].stmts.remove(&stmt_id) {
                bump(&self.shared.stats.global.com_backend_stmt_close, 1);
                let a = &mut self.attached[i];
                if a.conn
                    .send_no_reply(COM_STMT_CLOSE, &b.id.to_le_bytes())
                    .await
                    .is_err()
                {
                    self.drop_broken(i, "COM_STMT_CLOSE failed");
                    continue;
                }
                let before = self.attached.len();
                self.finish(i);
                if self.attached.len() < before {
                    continue;
                }
            }
            i += 1;
        }
    }

    async fn on_stmt_reset(&mut self, stmt_id: u32) -> Result<(), ProtoError> {
        if !self.stmts.contains_key(&stmt_id) {
            let e = unknown_stmt(stmt_id, "mysqld_stmt_reset");
            return self.client.send_err(e.code, &e.sqlstate, &e.message).await;
        }
        let Some(idx) = self
            .attached
            .iter()
            .position(|a| a.stmts.contains_key(&stmt_id))
        else {
            // Not prepared on any connection right now: nothing to reset.
            return self.client.send_simple_ok().await;
        };
        let backend = self.attached[idx].stmts[&stmt_id];
        let a = &mut self.attached[idx];
        let sent = a
            .conn
            .send_command(COM_STMT_RESET, &backend.id.to_le_bytes())
            .await;
        let relayed = match sent {
            Ok(()) => a.conn.relay(&mut self.client, Expect::Single, None).await,
            Err(e) => Err(RelayError::Backend {
                error: e.into(),
                forwarded: false,
            }),
        };
        match relayed {
            Ok(_) => Ok(()),
            Err(RelayError::Client(e)) => Err(e),
            Err(RelayError::Backend { error, .. }) => {
                self.drop_broken(idx, &error.to_string());
                self.lost_connection().await
            }
        }
    }

    async fn on_long_data(&mut self, stmt_id: u32, payload: Bytes) {
        let Some(hostgroup) = self.stmts.get(&stmt_id).map(|s| s.hostgroup) else {
            return;
        };
        let hostgroup = self.route(Some(hostgroup));
        let Ok(idx) = self.acquire(hostgroup).await else {
            return;
        };
        if self.sync(idx).await.is_err() {
            return;
        }
        let Ok(backend) = self.ensure_prepared(idx, stmt_id).await else {
            return;
        };
        let mut data = payload.to_vec();
        if data.len() >= 4 {
            data[..4].copy_from_slice(&backend.id.to_le_bytes());
        }
        let a = &mut self.attached[idx];
        if a.conn
            .send_no_reply(COM_STMT_SEND_LONG_DATA, &data)
            .await
            .is_err()
        {
            self.drop_broken(idx, "COM_STMT_SEND_LONG_DATA failed");
        }
    }
}

/// Resolves when any of `tokens` is cancelled (never when there are none).
async fn any_cancelled(tokens: &[CancellationToken]) {
    if tokens.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(tokens.iter().map(|t| Box::pin(t.cancelled()))).await;
}

fn unknown_stmt(id: u32, func: &str) -> BackendError {
    BackendError {
        code: 1243,
        sqlstate: "HY000".into(),
        message: format!("Unknown prepared statement handler ({id}) given to {func}"),
    }
}

/// Resolves a backend address without blocking the runtime.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| ConnectError::Protocol(format!("cannot resolve {host}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_do_not_count_against_servers() {
        for code in [1045, 1049, 1054, 1146, 1226, 3118, 1007] {
            assert!(is_config_error(code), "{code}");
        }
        for code in [2003, 2013, 1040, 1205, 1213] {
            assert!(!is_config_error(code), "{code}");
        }
    }
}
