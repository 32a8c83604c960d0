//! One server-side client connection: handshake, authentication, command reading and response
//! writing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::{BufMutExt, ParseBuf};
use mysql_common::packets::{AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use super::auth::{
    is_empty_response, new_nonce, verify, AuthPlugin, AuthRejection, Authenticator, ErrorReply,
    Login, Password, PeerAddr, NONCE_LEN,
};
use super::codec::{Frame, PacketCodec};
use super::command::{parse_command, ChangeUserRequest, Command, Parsed};
use super::stream::StartTls;
use super::wire::{
    put_column_def, put_eof, put_err, put_ok, put_text_row, ColumnDef, EOF_HEADER, OK_HEADER,
};
use super::ProtoError;

/// Protocol version byte of every handshake since MySQL 3.21.
const PROTOCOL_VERSION: u8 = 10;

/// Largest packet accepted before the client is authenticated. A handshake response is a few
/// hundred bytes (connection attributes included), so this only bounds what an anonymous peer
/// can make the server buffer.
const PRE_AUTH_MAX_PACKET: usize = 1 << 20;

/// ProxySQL's text of ERR 1153 (`MySQL_Session::handler_WCD_SS_MCQ_qpo_LargePacket`).
pub const PACKET_TOO_LARGE: &str = "Got a packet bigger than 'max_allowed_packet' bytes";

/// Write-buffer size beyond which queued packets are flushed; result sets larger than this
/// stream out instead of accumulating.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// `caching_sha2_password` "fast authentication succeeded" message (`AuthMoreData` 0x03).
const FAST_AUTH_SUCCESS: [u8; 2] = [0x01, 0x03];

/// Capabilities always offered. Deliberately absent: `CLIENT_SSL` and `CLIENT_COMPRESS` (see
/// the module documentation), `CLIENT_LOCAL_FILES` (`LOAD DATA LOCAL` is not served) and
/// `CLIENT_SESSION_TRACK` (no session-state tracking is produced).
const BASE_CAPABILITIES: CapabilityFlags = CapabilityFlags::CLIENT_LONG_PASSWORD
    .union(CapabilityFlags::CLIENT_FOUND_ROWS)
    .union(CapabilityFlags::CLIENT_LONG_FLAG)
    .union(CapabilityFlags::CLIENT_CONNECT_WITH_DB)
    .union(CapabilityFlags::CLIENT_PROTOCOL_41)
    .union(CapabilityFlags::CLIENT_TRANSACTIONS)
    .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
    .union(CapabilityFlags::CLIENT_MULTI_STATEMENTS)
    .union(CapabilityFlags::CLIENT_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PS_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
    .union(CapabilityFlags::CLIENT_CONNECT_ATTRS)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);

/// Per-connection handshake settings.
#[derive(Debug, Clone)]
pub struct HandshakeConfig {
    /// Version string in the handshake (ProxySQL: `mysql-server_version`, default `8.0.11`).
    pub server_version: String,
    /// Connection (thread) id announced to the client.
    pub connection_id: u32,
    /// Plugin announced in the handshake and required for clear-text credentials.
    pub default_auth_plugin: AuthPlugin,
    /// Offer `CLIENT_DEPRECATE_EOF` (ProxySQL: `mysql-enable_client_deprecate_eof`, default on).
    pub deprecate_eof: bool,
    /// Collation id in the handshake (ProxySQL default `utf8_general_ci` = 33).
    pub collation: u8,
    /// Largest packet accepted from an authenticated client (ProxySQL:
    /// `mysql-max_allowed_packet`, default 64 MiB).
    pub max_allowed_packet: usize,
    /// Time allowed from accept to the end of authentication; `None` waits forever.
    /// Default 10 s, ProxySQL's `mysql-connect_timeout_client`.
    pub handshake_timeout: Option<Duration>,
    /// TLS offered to the client (`CLIENT_SSL`), ProxySQL's `mysql-have_ssl`; `None` offers
    /// none. The stream must then be able to switch ([`StartTls`]), as [`ClientStream`] can.
    ///
    /// [`ClientStream`]: super::ClientStream
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        Self {
            server_version: "8.0.11".to_owned(),
            connection_id: 1,
            default_auth_plugin: AuthPlugin::MysqlNative,
            deprecate_eof: true,
            collation: 33,
            max_allowed_packet: 64 << 20,
            handshake_timeout: Some(Duration::from_secs(10)),
            tls: None,
        }
    }
}

impl HandshakeConfig {
    /// Sets the time allowed for the whole handshake and authentication.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }

    /// Capabilities this configuration offers.
    pub fn server_capabilities(&self) -> CapabilityFlags {
        let mut caps = BASE_CAPABILITIES;
        caps.set(CapabilityFlags::CLIENT_DEPRECATE_EOF, self.deprecate_eof);
        caps.set(CapabilityFlags::CLIENT_SSL, self.tls.is_some());
        caps
    }
}

/// What the client presented, from a handshake response or `COM_CHANGE_USER`.
struct AuthRequest {
    user: String,
    schema: Option<String>,
    /// The plugin that produced `response`; `None` for a plugin this server cannot verify.
    client_plugin: Option<AuthPlugin>,
    /// Whether an `AuthSwitchRequest` may be sent (the client has `CLIENT_PLUGIN_AUTH`).
    can_switch: bool,
    response: Bytes,
    collation: u16,
    client_capabilities: CapabilityFlags,
    attributes: HashMap<String, String>,
}

/// An authenticated client connection in the command phase.
///
/// Writers queue packets and flush at the end of each complete response (OK, ERR, the last
/// packet of a result set); the raw methods leave flushing to the caller, except that reading
/// always flushes first so a forgotten flush cannot deadlock a request/response exchange.
pub struct ServerConn<S> {
    framed: Framed<S, PacketCodec>,
    peer: PeerAddr,
    connection_id: u32,
    default_auth_plugin: AuthPlugin,
    nonce: [u8; NONCE_LEN],
    capabilities: CapabilityFlags,
    status: StatusFlags,
    last_packet: Bytes,
    /// Scratch space for encoding payloads, reused so rows do not allocate.
    buf: Vec<u8>,
}

impl<S: StartTls> ServerConn<S> {
    /// Runs the handshake and authentication on a freshly accepted stream.
    ///
    /// On a refused login the ERR packet has already been sent and
    /// [`ProtoError::AuthFailed`] carries it; drop the stream either way on error.
    pub async fn accept<A: Authenticator>(
        stream: S,
        peer: PeerAddr,
        config: HandshakeConfig,
        auth: &A,
    ) -> Result<(Self, Login<A::Tag>), ProtoError> {
        let mut framed = Framed::new(stream, PacketCodec::new(PRE_AUTH_MAX_PACKET));
        framed.set_backpressure_boundary(FLUSH_THRESHOLD);
        let mut conn = Self {
            framed,
            peer,
            connection_id: config.connection_id,
            default_auth_plugin: config.default_auth_plugin,
            nonce: new_nonce(),
            capabilities: CapabilityFlags::empty(),
            status: StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            last_packet: Bytes::new(),
            buf: Vec::new(),
        };
        let login = match config.handshake_timeout {
            Some(limit) => tokio::time::timeout(limit, conn.handshake(&config, auth))
                .await
                .map_err(|_| ProtoError::HandshakeTimeout(limit))??,
            None => conn.handshake(&config, auth).await?,
        };
        conn.framed.codec_mut().max_packet = config.max_allowed_packet;
        // Logged in: an oversized command is skipped and answered, not fatal.
        conn.framed.codec_mut().skip_oversized = true;
        Ok((conn, login))
    }

    async fn handshake<A: Authenticator>(
        &mut self,
        config: &HandshakeConfig,
        auth: &A,
    ) -> Result<Login<A::Tag>, ProtoError> {
        let server_caps = config.server_capabilities();
        // scramble_2 carries the last 12 nonce bytes plus the NUL that makes
        // auth_plugin_data_len 21, as MySQL and ProxySQL send it.
        let mut scramble_2 = [0u8; NONCE_LEN - 8 + 1];
        scramble_2[..NONCE_LEN - 8].copy_from_slice(&self.nonce[8..]);
        let scramble_1: [u8; 8] = self.nonce[..8].try_into().unwrap_or_default();
        let handshake = HandshakePacket::new(
            PROTOCOL_VERSION,
            config.server_version.as_bytes(),
            config.connection_id,
            scramble_1,
            Some(&scramble_2[..]),
            server_caps,
            config.collation,
            self.status,
            Some(config.default_auth_plugin.name().as_bytes()),
        );
        self.buf.clear();
        handshake.serialize(&mut self.buf);
        self.send_scratch().await?;
        self.flush().await?;

        let mut packet = self
            .read_packet()
            .await?
            .ok_or(ProtoError::ClosedDuringAuth)?;
        let announced = ParseBuf(&packet)
            .checked_eat_u32_le()
            .map(CapabilityFlags::from_bits_truncate)
            .unwrap_or_else(CapabilityFlags::empty);
        if announced.contains(CapabilityFlags::CLIENT_SSL) {
            // An SSLRequest: the client switches to TLS right after it, and the handshake
            // response follows inside TLS with the next sequence id.
            let Some(tls) = config.tls.clone() else {
                // Only a client ignoring our capabilities sends one unoffered.
                self.send_err(1043, "08S01", "Bad handshake: TLS is not supported")
                    .await?;
                return Err(ProtoError::TlsRequested);
            };
            // Bytes the framing read past the SSLRequest are the start of the ClientHello.
            let early = self.framed.read_buffer_mut().split().freeze();
            self.framed
                .get_mut()
                .start_tls(early, tls)
                .await
                .map_err(ProtoError::Tls)?;
            packet = self
                .read_packet()
                .await?
                .ok_or(ProtoError::ClosedDuringAuth)?;
        }
        let parsed = ParseBuf(&packet).parse::<HandshakeResponse<'_>>(());
        let response = match parsed {
            Ok(r)
                if r.capabilities()
                    .contains(CapabilityFlags::CLIENT_PROTOCOL_41) =>
            {
                r
            }
            other => {
                self.send_err(1043, "08S01", "Bad handshake").await?;
                return Err(ProtoError::Malformed(match other {
                    Ok(_) => "client does not speak protocol 4.1".to_owned(),
                    Err(e) => format!("handshake response: {e}"),
                }));
            }
        };

        let client_caps = response.capabilities();
        self.capabilities = server_caps & client_caps;
        let can_switch = client_caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH);
        let client_plugin = if can_switch {
            response
                .auth_plugin()
                .and_then(|p| AuthPlugin::from_name(p.as_bytes()))
        } else {
            // Pre-plugin clients always answer with a native scramble.
            Some(AuthPlugin::MysqlNative)
        };
        let request = AuthRequest {
            user: String::from_utf8_lossy(response.user()).into_owned(),
            schema: response
                .db_name()
                .filter(|db| !db.is_empty())
                .map(|db| String::from_utf8_lossy(db).into_owned()),
            client_plugin,
            can_switch,
            response: Bytes::copy_from_slice(response.scramble_buf()),
            collation: u16::from(response.collation()),
            client_capabilities: client_caps,
            attributes: response.connect_attributes().unwrap_or_default(),
        };
        self.authenticate(auth, request).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ServerConn<S> {
    /// Verifies `request`, switching the client's plugin first when needed, and answers with
    /// OK (preceded by fast-auth success for caching_sha2) or with ERR.
    async fn authenticate<A: Authenticator>(
        &mut self,
        auth: &A,
        request: AuthRequest,
    ) -> Result<Login<A::Tag>, ProtoError> {
        let credential = match auth.lookup(&request.user, &self.peer) {
            Ok(c) => c,
            Err(rejection) => {
                let used = !is_empty_response(&request.response);
                return Err(self.reject(auth, &request.user, used, rejection).await);
            }
        };
        let wanted = match credential.password {
            Password::NativeHash(_) => AuthPlugin::MysqlNative,
            Password::Clear(_) => self.default_auth_plugin,
        };
        let (plugin, response) = match request.client_plugin {
            Some(p) if p == wanted || !request.can_switch => (p, request.response),
            _ => {
                let mut data = self.nonce.to_vec();
                data.push(0);
                self.buf.clear();
                AuthSwitchRequest::new(wanted.name().as_bytes(), data).serialize(&mut self.buf);
                self.send_scratch().await?;
                let answer = self
                    .read_packet()
                    .await?
                    .ok_or(ProtoError::ClosedDuringAuth)?;
                (wanted, answer)
            }
        };
        let used_password = !is_empty_response(&response);
        if !verify(plugin, &credential.password, &self.nonce, &response) {
            let denied = AuthRejection::AccessDenied;
            return Err(self
                .reject(auth, &request.user, used_password, denied)
                .await);
        }
        let login = Login {
            user: request.user,
            schema: request.schema,
            tag: credential.tag,
            auth_plugin: plugin,
            used_password,
            collation: request.collation,
            client_capabilities: request.client_capabilities,
            attributes: request.attributes,
        };
        if let Err(rejection) = auth.authorize(&login, &self.peer) {
            return Err(self
                .reject(auth, &login.user, used_password, rejection)
                .await);
        }
        if plugin == AuthPlugin::CachingSha2 && used_password {
            self.write_packet(&FAST_AUTH_SUCCESS).await?;
        }
        self.send_simple_ok().await?;
        Ok(login)
    }

    /// Sends the ERR for `rejection` and returns the error describing it.
    async fn reject<A: Authenticator>(
        &mut self,
        auth: &A,
        user: &str,
        using_password: bool,
        rejection: AuthRejection,
    ) -> ProtoError {
        let reply = match rejection {
            AuthRejection::AccessDenied => auth.access_denied(user, &self.peer, using_password),
            AuthRejection::Reply(reply) => reply,
        };
        match self.send_error(&reply).await {
            Ok(()) => ProtoError::AuthFailed {
                user: user.to_owned(),
                reply,
            },
            Err(e) => e,
        }
    }

    /// Reads the next command; `None` when the client quit (`COM_QUIT` or a clean close).
    ///
    /// A [`ProtoError::Malformed`] here leaves the connection in sync: the caller may answer it
    /// with an ERR and keep reading.
    pub async fn next_command(&mut self) -> Result<Option<Command>, ProtoError> {
        self.framed.codec_mut().seq = 0;
        let Some(packet) = self.read_packet().await? else {
            return Ok(None);
        };
        self.last_packet = packet.clone();
        match parse_command(&packet, self.capabilities)? {
            Parsed::Command(cmd) => Ok(Some(cmd)),
            Parsed::Quit => Ok(None),
        }
    }

    /// Answers a [`Command::ChangeUser`]: re-authenticates through `auth` (with an
    /// `AuthSwitchRequest` if the client used another plugin) and sends OK or ERR.
    ///
    /// On success the session status is back to autocommit, as after a fresh login; the caller
    /// resets its own session state. On failure the ERR has been sent and, as MySQL does, the
    /// connection should be closed.
    pub async fn change_user<A: Authenticator>(
        &mut self,
        auth: &A,
        request: ChangeUserRequest,
    ) -> Result<Login<A::Tag>, ProtoError> {
        let can_switch = self
            .capabilities
            .contains(CapabilityFlags::CLIENT_PLUGIN_AUTH);
        let client_plugin = match (&request.auth_plugin, can_switch) {
            (Some(name), true) => AuthPlugin::from_name(name),
            _ => Some(AuthPlugin::MysqlNative),
        };
        self.status = StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        let request = AuthRequest {
            user: request.user,
            schema: request.schema,
            client_plugin,
            can_switch,
            response: request.auth_response,
            collation: request.collation.unwrap_or(0),
            client_capabilities: self.capabilities,
            attributes: request.attributes,
        };
        self.authenticate(auth, request).await
    }

    /// The complete packet of the last command read, for relaying it unchanged.
    pub fn last_packet(&self) -> &Bytes {
        &self.last_packet
    }

    /// The underlying stream (to watch it for a hang-up while a command runs).
    pub fn stream(&self) -> &S {
        self.framed.get_ref()
    }

    /// Where the client connects from.
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// The connection id announced in the handshake.
    pub fn connection_id(&self) -> u32 {
        self.connection_id
    }

    /// Capabilities both sides agreed on.
    pub fn capabilities(&self) -> CapabilityFlags {
        self.capabilities
    }

    /// Whether result sets end with an OK packet instead of EOF (`CLIENT_DEPRECATE_EOF`).
    pub fn deprecate_eof(&self) -> bool {
        self.capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    /// Session status flags sent in OK/EOF packets by the convenience writers.
    pub fn status_flags(&self) -> StatusFlags {
        self.status
    }

    /// Replaces the session status flags.
    pub fn set_status_flags(&mut self, status: StatusFlags) {
        self.status = status;
    }

    /// Sets or clears `SERVER_STATUS_AUTOCOMMIT`.
    pub fn set_autocommit(&mut self, on: bool) {
        self.status.set(StatusFlags::SERVER_STATUS_AUTOCOMMIT, on);
    }

    /// Sets or clears `SERVER_STATUS_IN_TRANS`.
    pub fn set_in_transaction(&mut self, on: bool) {
        self.status.set(StatusFlags::SERVER_STATUS_IN_TRANS, on);
    }

    /// Largest packet accepted from the client.
    pub fn max_allowed_packet(&self) -> usize {
        self.framed.codec().max_packet
    }

    /// Changes the largest packet accepted from the client.
    pub fn set_max_allowed_packet(&mut self, limit: usize) {
        self.framed.codec_mut().max_packet = limit;
    }

    /// Sequence id of the next packet read or written.
    pub fn seq(&self) -> u8 {
        self.framed.codec().seq
    }

    /// Bytes sent and received (headers included) since the last call.
    pub fn take_traffic(&mut self) -> (u64, u64) {
        let codec = self.framed.codec_mut();
        (
            std::mem::take(&mut codec.bytes_out),
            std::mem::take(&mut codec.bytes_in),
        )
    }

    /// Overrides the sequence id of the next packet read or written.
    pub fn set_seq(&mut self, seq: u8) {
        self.framed.codec_mut().seq = seq;
    }

    /// Reads one logical packet (joined if it was split), checking its sequence id; `None` on
    /// a clean close at a packet boundary.
    pub async fn read_packet(&mut self) -> Result<Option<Bytes>, ProtoError> {
        if !self.framed.write_buffer().is_empty() {
            self.flush().await?;
        }
        let packet = self.framed.next().await.transpose()?;
        let codec = self.framed.codec_mut();
        if std::mem::take(&mut codec.skipped) {
            return Err(ProtoError::PacketSkipped {
                limit: codec.max_packet,
            });
        }
        Ok(packet)
    }

    /// Queues one packet with the current sequence id (split if 16 MiB or larger).
    pub async fn write_packet(&mut self, payload: &[u8]) -> Result<(), ProtoError> {
        self.framed.feed(Frame::Payload(payload)).await
    }

    /// Queues complete packets, headers included, byte for byte; the next sequence id becomes
    /// the last header's plus one. Fails without writing anything if `frames` ends inside a
    /// packet.
    pub async fn write_raw_frames(&mut self, frames: &[u8]) -> Result<(), ProtoError> {
        self.framed.feed(Frame::Raw(frames)).await
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), ProtoError> {
        SinkExt::<Frame<'_>>::flush(&mut self.framed).await
    }

    async fn send_scratch(&mut self) -> Result<(), ProtoError> {
        self.framed.feed(Frame::Payload(&self.buf)).await
    }

    /// Sends an OK packet.
    pub async fn send_ok(
        &mut self,
        affected_rows: u64,
        last_insert_id: u64,
        status_flags: StatusFlags,
        warnings: u16,
        info: &str,
    ) -> Result<(), ProtoError> {
        self.buf.clear();
        put_ok(
            &mut self.buf,
            OK_HEADER,
            affected_rows,
            last_insert_id,
            status_flags,
            warnings,
            info,
        );
        self.send_scratch().await?;
        self.flush().await
    }

    /// Sends an OK packet with zero counts and the session status flags.
    pub async fn send_simple_ok(&mut self) -> Result<(), ProtoError> {
        self.send_ok(0, 0, self.status, 0, "").await
    }

    /// Sends an ERR packet; an SQLSTATE that is not five ASCII characters becomes `HY000`.
    pub async fn send_err(
        &mut self,
        code: u16,
        sqlstate: &str,
        message: &str,
    ) -> Result<(), ProtoError> {
        self.buf.clear();
        put_err(&mut self.buf, code, sqlstate, message);
        self.send_scratch().await?;
        self.flush().await
    }

    /// Answers a [`ProtoError::PacketSkipped`] as ProxySQL does:
    /// `ERROR 1153 (08S01): Got a packet bigger than 'max_allowed_packet' bytes`.
    pub async fn send_packet_too_large(&mut self) -> Result<(), ProtoError> {
        self.send_err(1153, "08S01", PACKET_TOO_LARGE).await
    }

    /// Sends an ERR packet from an [`ErrorReply`].
    pub async fn send_error(&mut self, reply: &ErrorReply) -> Result<(), ProtoError> {
        self.send_err(reply.code, &reply.sqlstate, &reply.message)
            .await
    }

    /// Sends the packet that ends a row stream or a field list, with the session status: an
    /// EOF packet, or under `CLIENT_DEPRECATE_EOF` an OK packet with the 0xFE header.
    pub async fn send_eof(&mut self) -> Result<(), ProtoError> {
        self.send_terminator(self.status).await
    }

    async fn send_terminator(&mut self, status: StatusFlags) -> Result<(), ProtoError> {
        self.buf.clear();
        if self.deprecate_eof() {
            put_ok(&mut self.buf, EOF_HEADER, 0, 0, status, 0, "");
        } else {
            put_eof(&mut self.buf, 0, status);
        }
        self.send_scratch().await?;
        self.flush().await
    }

    /// Starts a text result set: sends the column count, the column definitions and (without
    /// `CLIENT_DEPRECATE_EOF`) the EOF that separates them from the rows.
    pub async fn begin_resultset(
        &mut self,
        columns: &[ColumnDef],
    ) -> Result<ResultSetWriter<'_, S>, ProtoError> {
        if columns.is_empty() {
            return Err(ProtoError::Usage(
                "a result set needs at least one column; send OK instead",
            ));
        }
        self.buf.clear();
        self.buf.put_lenenc_int(columns.len() as u64);
        self.send_scratch().await?;
        for column in columns {
            self.buf.clear();
            put_column_def(&mut self.buf, column, false);
            self.send_scratch().await?;
        }
        if !self.deprecate_eof() {
            self.buf.clear();
            put_eof(&mut self.buf, 0, self.status);
            self.send_scratch().await?;
        }
        Ok(ResultSetWriter {
            conn: self,
            columns: columns.len(),
            rows: 0,
        })
    }

    /// Sends a whole text result set (ended without the more-results flag).
    pub async fn send_resultset<R, I, V>(
        &mut self,
        columns: &[ColumnDef],
        rows: R,
    ) -> Result<(), ProtoError>
    where
        R: IntoIterator<Item = I>,
        I: IntoIterator<Item = Option<V>>,
        V: AsRef<[u8]>,
    {
        let mut writer = self.begin_resultset(columns).await?;
        for row in rows {
            writer.write_row(row).await?;
        }
        writer.finish(false).await
    }

    /// Answers `COM_FIELD_LIST`: the column definitions (with a NULL default value each)
    /// followed by the terminator.
    pub async fn send_field_list(&mut self, columns: &[ColumnDef]) -> Result<(), ProtoError> {
        for column in columns {
            self.buf.clear();
            put_column_def(&mut self.buf, column, true);
            self.send_scratch().await?;
        }
        self.send_eof().await
    }
}

/// Streams the rows of a result set started with [`ServerConn::begin_resultset`]; packets are
/// flushed as the write buffer fills, so no result is held in memory whole.
pub struct ResultSetWriter<'a, S> {
    conn: &'a mut ServerConn<S>,
    columns: usize,
    rows: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ResultSetWriter<'_, S> {
    /// Writes one text row; `None` is SQL NULL. The number of values must equal the number of
    /// columns, otherwise nothing is written and [`ProtoError::Usage`] is returned.
    pub async fn write_row<I, V>(&mut self, values: I) -> Result<(), ProtoError>
    where
        I: IntoIterator<Item = Option<V>>,
        V: AsRef<[u8]>,
    {
        self.conn.buf.clear();
        if put_text_row(&mut self.conn.buf, values) != self.columns {
            return Err(ProtoError::Usage("row width differs from the column count"));
        }
        self.conn.send_scratch().await?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Ends the result set and flushes; `more_results` sets `SERVER_MORE_RESULTS_EXISTS` to
    /// announce another result of the same multi-statement or procedure call.
    pub async fn finish(self, more_results: bool) -> Result<(), ProtoError> {
        let mut status = self.conn.status;
        status.set(StatusFlags::SERVER_MORE_RESULTS_EXISTS, more_results);
        self.conn.send_terminator(status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_capabilities_follow_the_brief() {
        let caps = HandshakeConfig::default().server_capabilities();
        for required in [
            CapabilityFlags::CLIENT_PROTOCOL_41,
            CapabilityFlags::CLIENT_SECURE_CONNECTION,
            CapabilityFlags::CLIENT_PLUGIN_AUTH,
            CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
            CapabilityFlags::CLIENT_CONNECT_WITH_DB,
            CapabilityFlags::CLIENT_TRANSACTIONS,
            CapabilityFlags::CLIENT_MULTI_STATEMENTS,
            CapabilityFlags::CLIENT_MULTI_RESULTS,
            CapabilityFlags::CLIENT_PS_MULTI_RESULTS,
            CapabilityFlags::CLIENT_CONNECT_ATTRS,
            CapabilityFlags::CLIENT_DEPRECATE_EOF,
            CapabilityFlags::CLIENT_LONG_PASSWORD,
            CapabilityFlags::CLIENT_LONG_FLAG,
            CapabilityFlags::CLIENT_FOUND_ROWS,
        ] {
            assert!(caps.contains(required), "{required:?}");
        }
        assert!(
            !caps.contains(CapabilityFlags::CLIENT_SSL),
            "no TLS unless configured"
        );
        assert!(!caps.contains(CapabilityFlags::CLIENT_COMPRESS));
        let no_eof = HandshakeConfig {
            deprecate_eof: false,
            ..HandshakeConfig::default()
        };
        assert!(!no_eof
            .server_capabilities()
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF));
    }
}
