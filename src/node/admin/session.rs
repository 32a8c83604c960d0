//! One admin client session: authentication against the running credentials (§1.2) and the
//! command loop that hands every statement to the engine (§1.4).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;

use super::engine::{After, ColumnKind, Reply, SessionCtx, SessionKind};
use super::shared::NodeShared;
use super::AdminHandle;
use crate::node::protocol::{
    AuthPlugin, AuthRejection, Authenticator, ClientStream, ColumnDef, Command, Credential,
    ErrorReply, HandshakeConfig, Login, Password, PeerAddr, ProtoError, ServerConn,
};
use crate::{px_error, px_warn};

static CONNECTION_IDS: AtomicU32 = AtomicU32::new(1);

/// Credentials of `admin-admin_credentials` and `admin-stats_credentials` as running now.
pub struct AdminAuth {
    admin: Vec<(String, String)>,
    stats: Vec<(String, String)>,
}

/// Parses `user:pass;user2:pass2` (a password may itself contain `:`).
pub fn parse_credentials(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|pair| {
            let pair = pair.trim();
            let (u, p) = pair.split_once(':').unwrap_or((pair, ""));
            (!u.is_empty()).then(|| (u.to_string(), p.to_string()))
        })
        .collect()
}

impl AdminAuth {
    /// Reads the running credential variables.
    pub fn from_shared(shared: &NodeShared) -> AdminAuth {
        AdminAuth {
            admin: parse_credentials(
                &shared
                    .admin_var("admin-admin_credentials")
                    .unwrap_or_default(),
            ),
            stats: parse_credentials(
                &shared
                    .admin_var("admin-stats_credentials")
                    .unwrap_or_default(),
            ),
        }
    }
}

impl Authenticator for AdminAuth {
    type Tag = SessionKind;

    fn lookup(
        &self,
        user: &str,
        _peer: &PeerAddr,
    ) -> Result<Credential<SessionKind>, AuthRejection> {
        let find = |list: &[(String, String)]| {
            list.iter().find(|(u, _)| u == user).map(|(_, p)| p.clone())
        };
        if let Some(p) = find(&self.admin) {
            return Ok(Credential {
                password: Password::Clear(p),
                tag: SessionKind::Admin,
            });
        }
        if let Some(p) = find(&self.stats) {
            return Ok(Credential {
                password: Password::Clear(p),
                tag: SessionKind::Stats,
            });
        }
        Err(AuthRejection::AccessDenied)
    }

    fn authorize(&self, login: &Login<SessionKind>, peer: &PeerAddr) -> Result<(), AuthRejection> {
        let local = match peer {
            // `::ffff:127.0.0.1` (an IPv4 client of a `[::]` listener) is loopback too.
            PeerAddr::Tcp(a) => a.ip().to_canonical().is_loopback(),
            PeerAddr::Unix => true,
        };
        let restricted = (login.user == "admin" && login.tag == SessionKind::Admin)
            || (login.user == "stats" && login.tag == SessionKind::Stats);
        if restricted && !local {
            return Err(AuthRejection::Reply(ErrorReply::new(
                1040,
                "42000",
                format!("User '{}' can only connect locally", login.user),
            )));
        }
        Ok(())
    }
}

/// Serves one admin connection until the client quits or the connection breaks.
pub async fn serve_admin_connection(
    stream: TcpStream,
    peer: SocketAddr,
    admin: AdminHandle,
    shared: Arc<NodeShared>,
) {
    let config = HandshakeConfig {
        server_version: shared
            .mysql_var("mysql-server_version")
            .unwrap_or_else(|| "8.0.11".into()),
        connection_id: CONNECTION_IDS.fetch_add(1, Ordering::Relaxed),
        default_auth_plugin: AuthPlugin::MysqlNative,
        // The admin port offers TLS on the same condition as the traffic port, as ProxySQL's
        // admin module shares its MySQL protocol code.
        tls: shared.tls_offer(
            shared
                .mysql_var("mysql-have_ssl")
                .is_none_or(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            shared
                .mysql_var("mysql-default_authentication_plugin")
                .is_some_and(|v| v.eq_ignore_ascii_case("caching_sha2_password")),
        ),
        ..HandshakeConfig::default()
    };
    let auth = AdminAuth::from_shared(&shared);
    let (mut conn, login) = match ServerConn::accept(
        ClientStream::from(stream),
        PeerAddr::Tcp(peer),
        config,
        &auth,
    )
    .await
    {
        Ok(ok) => ok,
        // Refused logins already got their ERR and are logged as ProxySQL logs them
        // (`ProxySQL Error: Access denied for user 'U'@'H' (using password: YES)`);
        // garbage just drops.
        Err(ProtoError::AuthFailed { reply, .. }) => {
            px_error!("{}", reply.message);
            return;
        }
        Err(_) => return,
    };
    let mut ctx = SessionCtx {
        kind: login.tag,
        user: login.user,
        client: Some(peer),
        cluster_peer: None,
        cancel: None,
    };
    let _ = command_loop(&mut conn, &mut ctx, &admin, &shared).await;
}

async fn command_loop(
    conn: &mut ServerConn<ClientStream>,
    ctx: &mut SessionCtx,
    admin: &AdminHandle,
    shared: &Arc<NodeShared>,
) -> Result<(), ProtoError> {
    loop {
        let cmd = match conn.next_command().await {
            Ok(Some(cmd)) => cmd,
            Ok(None) => break,
            Err(ProtoError::PacketSkipped { limit }) => {
                px_warn!(
                    "Admin client {} (user '{}') sent a packet bigger than 'max_allowed_packet' ({} bytes): answered ERROR 1153",
                    conn.peer().host(),
                    ctx.user,
                    limit
                );
                conn.send_packet_too_large().await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        match cmd {
            Command::Query(bytes) => {
                let sql = String::from_utf8_lossy(&bytes).into_owned();
                let cancel = Arc::new(AtomicBool::new(false));
                ctx.cancel = Some(cancel.clone());
                let query = admin.query(ctx.clone(), sql);
                tokio::pin!(query);
                let answered = tokio::select! {
                    answered = &mut query => answered,
                    () = hung_up(conn.stream()) => {
                        // Nobody will read the answer: stop the statement so the engine is
                        // free for everyone else, then drop the connection.
                        cancel.store(true, Ordering::Relaxed);
                        let _ = query.await;
                        return Ok(());
                    }
                };
                let Ok((reply, after, mut new_ctx)) = answered else {
                    conn.send_err(1045, "28000", "ProxySQL Admin Error: shutting down").await?;
                    return Ok(());
                };
                new_ctx.cancel = None;
                *ctx = new_ctx;
                send_reply(conn, &reply).await?;
                if after == After::Disconnect {
                    return Ok(());
                }
            }
            Command::InitDb(_) | Command::Ping | Command::SetOption(_) => conn.send_simple_ok().await?,
            Command::FieldList { .. } => conn.send_field_list(&[]).await?,
            Command::StmtPrepare(_) => conn.send_err(1045, "28000", "Command not supported").await?,
            Command::StmtClose(_) => {} // no reply by protocol
            Command::ResetConnection => {
                conn.send_err(
                    1047,
                    "08S01",
                    "Received unsupported 'COM_RESET_CONNECTION' for session type 'PROXYSQL_SESSION_ADMIN'",
                )
                .await?
            }
            Command::ChangeUser(req) => {
                let auth = AdminAuth::from_shared(shared);
                match conn.change_user(&auth, req).await {
                    Ok(login) => {
                        ctx.kind = login.tag;
                        ctx.user = login.user;
                        ctx.cluster_peer = None;
                    }
                    Err(ProtoError::AuthFailed { reply, .. }) => {
                        px_error!("{}", reply.message);
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
            Command::Statistics => {
                conn.write_packet(format!("Uptime: {}", shared.started.elapsed().as_secs()).as_bytes())
                    .await?;
                conn.flush().await?;
            }
            other => {
                conn.send_err(1047, "08S01", &format!("Received unsupported command {}", command_name(&other)))
                    .await?
            }
        }
    }
    Ok(())
}

/// Resolves when the client closes its side (or the socket fails); stays pending while it is
/// open, including when it has already sent its next command (pipelining is not a hang-up).
async fn hung_up(stream: &ClientStream) {
    // Under TLS the peek sees records, not statements: a close_notify counts as "still
    // there", so only the TCP close is noticed (which is what a killed client does).
    let Some(stream) = stream.tcp() else {
        return;
    };
    let mut byte = [0u8; 1];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.peek(&mut byte).await {
            Ok(0) => return,
            Ok(_) => std::future::pending::<()>().await,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

fn command_name(cmd: &Command) -> String {
    match cmd {
        Command::Other { code, .. } => format!("0x{code:02X}"),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("")
            .to_string(),
    }
}

/// Writes one engine reply: OK, ERR or an admin-style text result set.
pub async fn send_reply(
    conn: &mut ServerConn<ClientStream>,
    reply: &Reply,
) -> Result<(), ProtoError> {
    match reply {
        Reply::Ok { affected, info } => {
            conn.send_ok(*affected, 0, conn.status_flags(), 0, info)
                .await
        }
        Reply::Err { code, state, msg } => conn.send_err(*code, state, msg).await,
        Reply::Rows(rs, kind) => {
            let columns: Vec<ColumnDef> = rs
                .columns
                .iter()
                .map(|c| match kind {
                    ColumnKind::Text => ColumnDef::admin_text(c.clone()),
                    ColumnKind::LongLong => ColumnDef::admin_longlong(c.clone()),
                })
                .collect();
            let mut writer = conn.begin_resultset(&columns).await?;
            for row in &rs.rows {
                let fields: Vec<Option<&[u8]>> = row
                    .iter()
                    .map(|f| f.as_ref().map(|s| s.as_bytes()))
                    .collect();
                writer.write_row(fields).await?;
            }
            writer.finish(false).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_like_proxysql() {
        assert_eq!(
            parse_credentials("admin:admin;cluster_user:cluster_pass"),
            [
                ("admin".into(), "admin".into()),
                ("cluster_user".into(), "cluster_pass".into())
            ]
        );
        assert_eq!(
            parse_credentials("u:p:w;;"),
            [("u".to_string(), "p:w".to_string())]
        );
    }
}
