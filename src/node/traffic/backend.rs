//! The client side of the protocol, towards MariaDB/MySQL backends.
//!
//! Built here rather than on mysql_async because the data path must move a backend's result
//! packets to the client unchanged: a driver decodes every row into values and would have to
//! re-encode them. [`BackendConn::relay`] instead copies whole wire chunks from the backend
//! socket into the client's write buffer, following the response with
//! [`ResponseParser`](super::packets::ResponseParser) only to know where it ends. Because the
//! client's command is forwarded with sequence id 0, the backend numbers its answer exactly as
//! the client expects, so not even the headers change.
//!
//! Authentication supports `mysql_native_password` and `caching_sha2_password` (fast path,
//! and the full path over plain TCP with the server's RSA key), with auth switches.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::HandshakePacket;
use mysql_common::scramble::{scramble_native, scramble_sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::packets::{parse_err, BackendError, Expect, ParseError, ResponseParser, MAX_CHUNK};
use super::state::SessionVars;
use crate::node::admin::shared::NodeShared;
use crate::node::protocol::{ProtoError, ServerConn};

/// Capabilities every backend connection asks for. `CLIENT_LONG_PASSWORD` also tells MariaDB
/// to treat us as a MySQL client (no extended capabilities), so its packets have the layouts
/// the relayed client negotiated with us.
const BASE_CAPABILITIES: CapabilityFlags = CapabilityFlags::CLIENT_LONG_PASSWORD
    .union(CapabilityFlags::CLIENT_LONG_FLAG)
    .union(CapabilityFlags::CLIENT_PROTOCOL_41)
    .union(CapabilityFlags::CLIENT_TRANSACTIONS)
    .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
    .union(CapabilityFlags::CLIENT_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PS_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);

/// Client capabilities that change what the server sends or accepts, and so must be the
/// same on the backend connection as on the client connection it serves.
pub const FLAVOR_MASK: CapabilityFlags = CapabilityFlags::CLIENT_DEPRECATE_EOF
    .union(CapabilityFlags::CLIENT_FOUND_ROWS)
    .union(CapabilityFlags::CLIENT_MULTI_STATEMENTS)
    .union(CapabilityFlags::CLIENT_IGNORE_SPACE);

/// Read-buffer growth step; also the most the relay reads from the backend at once.
const READ_CHUNK: usize = 64 * 1024;

/// Buffer bytes a backend connection holds from its start (read chunk and write buffer), for
/// `mysql_backend_buffers_bytes`.
pub const CONN_BUFFER_BYTES: usize = READ_CHUNK + 1024;

/// Why a backend connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP or read/write failure.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The whole handshake did not finish in time.
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    /// The server refused (bad credentials, unknown schema, too many connections...).
    #[error("{0}")]
    Refused(BackendError),
    /// The server spoke something unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Why a command on an open connection failed; the connection must be dropped.
#[derive(Debug, thiserror::Error)]
pub enum BackendIoError {
    /// Socket failure or end of stream.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The response did not follow the protocol.
    #[error("{0}")]
    Parse(#[from] ParseError),
}

/// Why a relay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The backend failed; `forwarded` says whether part of its answer already went out.
    #[error("backend failed: {error}")]
    Backend {
        /// What failed.
        error: BackendIoError,
        /// Whether some of the response was already written to the client.
        forwarded: bool,
    },
    /// The client connection failed.
    #[error("client failed: {0}")]
    Client(#[from] ProtoError),
}

/// How a backend connection authenticates.
#[derive(Debug, Clone)]
pub struct ConnectParams<'a> {
    /// Server address.
    pub addr: SocketAddr,
    /// Backend user.
    pub user: &'a str,
    /// Clear-text password.
    pub password: &'a str,
    /// Initial schema.
    pub schema: Option<&'a str>,
    /// Handshake collation.
    pub collation: u8,
    /// Client capabilities to mirror (masked with [`FLAVOR_MASK`]).
    pub flavor: CapabilityFlags,
    /// Limit for connect + handshake + authentication.
    pub timeout: Duration,
}

/// One authenticated backend connection.
pub struct BackendConn {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    caps: CapabilityFlags,
    /// Local port of the connection (the processlist's `l_srv_port`).
    pub local_port: u16,
    /// Server thread id (for `KILL` and the processlist).
    pub thread_id: u32,
    /// Unique id of this connection within the process.
    pub id: u64,
    /// The user it is authenticated as.
    pub user: String,
    /// The capabilities mirrored from the client ([`FLAVOR_MASK`] bits).
    pub flavor: CapabilityFlags,
    /// Session state the connection currently has.
    pub vars: SessionVars,
    /// `(session id, state generation)` the state was last synchronised with, so an
    /// unchanged session needs no comparison.
    pub synced: (u64, u64),
    /// A transaction is open (status flag of the last response).
    pub in_transaction: bool,
    /// State that cannot be replayed elsewhere (user variables, temporary tables, locks,
    /// prepared statements of a session): reset before reuse.
    pub dirty: bool,
    /// When the connection was last handed back or used.
    pub last_used: Instant,
    /// The server's kill epoch when this connection was opened (see
    /// `ServerEntry::release` in the hostgroups module).
    pub born_epoch: u64,
    /// Keeps `Server_Connections_connected` counted while the connection lives.
    pub live: Option<LiveConnection>,
    /// Bytes written to the backend since the last [`take_traffic`](Self::take_traffic).
    sent: u64,
    /// Bytes read from the backend since the last [`take_traffic`](Self::take_traffic).
    received: u64,
}

fn u24(b: &[u8]) -> usize {
    usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16
}

impl BackendConn {
    /// Connects, reads the handshake and authenticates.
    pub async fn connect(p: &ConnectParams<'_>, id: u64) -> Result<BackendConn, ConnectError> {
        match tokio::time::timeout(p.timeout, Self::connect_inner(p, id)).await {
            Ok(r) => r,
            Err(_) => Err(ConnectError::Timeout(p.timeout)),
        }
    }

    async fn connect_inner(p: &ConnectParams<'_>, id: u64) -> Result<BackendConn, ConnectError> {
        let stream = TcpStream::connect(p.addr).await?;
        stream.set_nodelay(true)?;
        let flavor = p.flavor & FLAVOR_MASK;
        let local_port = stream.local_addr().map_or(0, |a| a.port());
        let mut conn = BackendConn {
            local_port,
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(1024),
            caps: CapabilityFlags::empty(),
            thread_id: 0,
            id,
            user: p.user.to_string(),
            flavor,
            vars: SessionVars::initial(
                u16::from(p.collation),
                p.schema.map(str::to_string),
                flavor.contains(CapabilityFlags::CLIENT_MULTI_STATEMENTS),
            ),
            synced: (0, 0),
            in_transaction: false,
            dirty: false,
            last_used: Instant::now(),
            born_epoch: 0,
            live: None,
            sent: 0,
            received: 0,
        };
        let (seq, greeting) = conn.read_packet().await?;
        if greeting.first() == Some(&0xFF) {
            return Err(ConnectError::Refused(parse_err(&greeting)));
        }
        let handshake = ParseBuf(&greeting)
            .parse::<HandshakePacket<'_>>(())
            .map_err(|e| ConnectError::Protocol(format!("bad handshake: {e}")))?;
        let server_caps = handshake.capabilities();
        if !server_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(ConnectError::Protocol(
                "server does not speak protocol 4.1".into(),
            ));
        }
        if flavor.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
            && !server_caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
        {
            return Err(ConnectError::Protocol(
                "the server lacks CLIENT_DEPRECATE_EOF, which the client negotiated".into(),
            ));
        }
        conn.thread_id = handshake.connection_id();
        let mut caps = (BASE_CAPABILITIES | flavor) & server_caps;
        if p.schema.is_some() {
            caps |= CapabilityFlags::CLIENT_CONNECT_WITH_DB & server_caps;
        }
        conn.caps = caps;
        let nonce = handshake.nonce();
        let plugin = handshake
            .auth_plugin_name_ref()
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| b"mysql_native_password".to_vec());
        let (plugin, auth) = match auth_response(&plugin, &nonce, p.password) {
            Some(data) => (plugin, data),
            // Unknown default plugin: answer natively; the server switches us if needed.
            None => (
                b"mysql_native_password".to_vec(),
                native(&nonce, p.password),
            ),
        };

        let mut resp = Vec::with_capacity(128);
        resp.extend_from_slice(&caps.bits().to_le_bytes());
        resp.extend_from_slice(&(MAX_CHUNK as u32 + 1).to_le_bytes());
        resp.push(p.collation);
        resp.extend_from_slice(&[0u8; 23]);
        resp.extend_from_slice(p.user.as_bytes());
        resp.push(0);
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            put_lenenc(&mut resp, auth.len() as u64);
        } else {
            resp.push(auth.len() as u8);
        }
        resp.extend_from_slice(&auth);
        if caps.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) {
            resp.extend_from_slice(p.schema.unwrap_or_default().as_bytes());
            resp.push(0);
        }
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) {
            resp.extend_from_slice(&plugin);
            resp.push(0);
        }
        conn.queue_packet(seq.wrapping_add(1), &resp);
        conn.flush().await?;

        let mut plugin = plugin;
        let mut nonce = nonce;
        loop {
            let (got, packet) = conn.read_packet().await?;
            let seq = got.wrapping_add(1);
            match packet.first() {
                Some(0x00) => break,
                Some(0xFF) => return Err(ConnectError::Refused(parse_err(&packet))),
                Some(0xFE) => {
                    // AuthSwitchRequest: plugin name NUL-terminated, then its data.
                    let body = &packet[1..];
                    let name_end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                    plugin = body[..name_end].to_vec();
                    let mut data = body.get(name_end + 1..).unwrap_or_default().to_vec();
                    if data.last() == Some(&0) {
                        data.pop();
                    }
                    nonce = data;
                    let answer = auth_response(&plugin, &nonce, p.password).ok_or_else(|| {
                        ConnectError::Protocol(format!(
                            "server asked for unsupported auth plugin {}",
                            String::from_utf8_lossy(&plugin)
                        ))
                    })?;
                    conn.queue_packet(seq, &answer);
                    conn.flush().await?;
                }
                Some(0x01) if plugin == b"caching_sha2_password" => match packet.get(1) {
                    Some(0x03) => {} // fast auth succeeded; OK follows
                    Some(0x04) => {
                        // Full authentication without TLS: fetch the RSA key, send the
                        // password encrypted with it.
                        conn.queue_packet(seq, &[0x02]);
                        conn.flush().await?;
                        let (got, key) = conn.read_packet().await?;
                        let pem = key.get(1..).unwrap_or_default();
                        let mut pass = p.password.as_bytes().to_vec();
                        pass.push(0);
                        for (i, b) in pass.iter_mut().enumerate() {
                            *b ^= nonce[i % nonce.len().max(1)];
                        }
                        let encrypted = mysql_common::crypto::encrypt(&pass, pem);
                        conn.queue_packet(got.wrapping_add(1), &encrypted);
                        conn.flush().await?;
                    }
                    _ => return Err(ConnectError::Protocol("unexpected auth data".into())),
                },
                _ => {
                    return Err(ConnectError::Protocol(
                        "unexpected packet during authentication".into(),
                    ))
                }
            }
        }
        Ok(conn)
    }

    /// Whether results end with OK packets instead of EOF (`CLIENT_DEPRECATE_EOF`).
    pub fn deprecate_eof(&self) -> bool {
        self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    /// Bytes sent and received since the last call, for the connection pool statistics.
    pub fn take_traffic(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.sent),
            std::mem::take(&mut self.received),
        )
    }

    /// Reads more bytes into the read buffer; end of stream is an error.
    async fn fill(&mut self) -> io::Result<()> {
        use tokio::io::AsyncReadExt;
        self.rbuf.reserve(READ_CHUNK);
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the backend closed the connection",
            ));
        }
        self.received += n as u64;
        Ok(())
    }

    /// Reads one logical packet (joining chunks); returns the last chunk's sequence id.
    async fn read_packet(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut payload = Vec::new();
        loop {
            while self.rbuf.len() < 4 || self.rbuf.len() < 4 + u24(&self.rbuf) {
                self.fill().await?;
            }
            let len = u24(&self.rbuf);
            let seq = self.rbuf[3];
            payload.extend_from_slice(&self.rbuf[4..4 + len]);
            self.rbuf.advance(4 + len);
            if len < MAX_CHUNK {
                return Ok((seq, payload));
            }
        }
    }

    /// Queues `payload` as a packet starting at sequence `seq`; returns the next sequence id.
    fn queue_packet(&mut self, mut seq: u8, payload: &[u8]) -> u8 {
        let mut rest = payload;
        loop {
            let take = rest.len().min(MAX_CHUNK);
            let len = (take as u32).to_le_bytes();
            self.wbuf.extend_from_slice(&[len[0], len[1], len[2], seq]);
            self.wbuf.extend_from_slice(&rest[..take]);
            seq = seq.wrapping_add(1);
            rest = &rest[take..];
            if take < MAX_CHUNK {
                return seq;
            }
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.sent += self.wbuf.len() as u64;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Sends a command: `cmd` followed by `arg`, as one packet with sequence id 0.
    pub async fn send_command(&mut self, cmd: u8, arg: &[u8]) -> io::Result<()> {
        if !self.rbuf.is_empty() {
            return Err(io::Error::other(
                "unread data from the backend before a new command",
            ));
        }
        // One copy of the command into the write buffer; the header goes in front.
        let len = arg.len() + 1;
        if len < MAX_CHUNK {
            let l = (len as u32).to_le_bytes();
            self.wbuf.extend_from_slice(&[l[0], l[1], l[2], 0, cmd]);
            self.wbuf.extend_from_slice(arg);
        } else {
            let mut payload = Vec::with_capacity(len);
            payload.push(cmd);
            payload.extend_from_slice(arg);
            self.queue_packet(0, &payload);
        }
        self.flush().await
    }

    /// Sends a command and reads its whole response without relaying it (state replay,
    /// health checks). Backend errors come back as `Ok(Err(..))`.
    pub async fn execute(
        &mut self,
        cmd: u8,
        arg: &[u8],
        expect: Expect,
    ) -> Result<Result<ResponseParser, BackendError>, BackendIoError> {
        self.send_command(cmd, arg).await?;
        let mut parser = ResponseParser::new(expect, self.deprecate_eof());
        loop {
            let mut pos = 0;
            while !parser.is_done() && self.rbuf.len() >= pos + 4 {
                let len = u24(&self.rbuf[pos..]);
                if self.rbuf.len() < pos + 4 + len {
                    break;
                }
                parser.feed(&self.rbuf[pos + 4..pos + 4 + len])?;
                pos += 4 + len;
            }
            self.rbuf.advance(pos);
            if parser.is_done() {
                break;
            }
            self.fill().await?;
        }
        self.note_status(parser.status);
        Ok(match parser.error.take() {
            Some(e) => Err(e),
            None => Ok(parser),
        })
    }

    /// Runs one statement whose answer is only OK or ERR (`SET`, `USE`, ...).
    pub async fn query(&mut self, sql: &str) -> Result<Result<(), BackendError>, BackendIoError> {
        Ok(self
            .execute(0x03, sql.as_bytes(), Expect::ResultSet)
            .await?
            .map(|_| ()))
    }

    /// Sends a command that has no response (`COM_STMT_CLOSE`, `COM_STMT_SEND_LONG_DATA`).
    pub async fn send_no_reply(&mut self, cmd: u8, arg: &[u8]) -> io::Result<()> {
        self.send_command(cmd, arg).await
    }

    fn note_status(&mut self, status: Option<StatusFlags>) {
        if let Some(s) = status {
            self.in_transaction = s.contains(StatusFlags::SERVER_STATUS_IN_TRANS);
            self.vars.autocommit = s.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT);
        }
    }

    /// Relays the response to the command just sent to `client`, chunk by chunk, without
    /// decoding rows. `prepare_id` replaces the statement id of a prepare-OK (the client
    /// sees the session's id, not the backend's). Returns the parser with what it saw.
    pub async fn relay<S>(
        &mut self,
        client: &mut ServerConn<S>,
        expect: Expect,
        prepare_id: Option<u32>,
    ) -> Result<ResponseParser, RelayError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    {
        let mut parser = ResponseParser::new(expect, self.deprecate_eof());
        let mut forwarded = false;
        let backend =
            |error: BackendIoError, forwarded: bool| RelayError::Backend { error, forwarded };
        loop {
            let mut pos = 0;
            while !parser.is_done() && self.rbuf.len() >= pos + 4 {
                let len = u24(&self.rbuf[pos..]);
                if self.rbuf.len() < pos + 4 + len {
                    break;
                }
                let had_prepare = parser.prepare.is_some();
                parser
                    .feed(&self.rbuf[pos + 4..pos + 4 + len])
                    .map_err(|e| backend(e.into(), forwarded))?;
                if let (Some(id), false, Some(_)) = (prepare_id, had_prepare, parser.prepare) {
                    self.rbuf[pos + 5..pos + 9].copy_from_slice(&id.to_le_bytes());
                }
                pos += 4 + len;
            }
            if pos > 0 {
                client.write_raw_frames(&self.rbuf[..pos]).await?;
                self.rbuf.advance(pos);
                forwarded = true;
            }
            if parser.is_done() {
                if !self.rbuf.is_empty() {
                    let e = ParseError("data after the end of the response");
                    return Err(backend(e.into(), forwarded));
                }
                client.flush().await?;
                self.note_status(parser.status);
                return Ok(parser);
            }
            // Only wait for the backend with nothing held back from the client.
            self.rbuf.reserve(READ_CHUNK);
            match self.stream.try_read_buf(&mut self.rbuf) {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the backend closed the connection",
                    );
                    return Err(backend(e.into(), forwarded));
                }
                Ok(n) => self.received += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    client.flush().await?;
                    self.fill()
                        .await
                        .map_err(|e| backend(e.into(), forwarded))?;
                }
                Err(e) => return Err(backend(e.into(), forwarded)),
            }
        }
    }

    /// `COM_PING`; false when the connection is unusable.
    pub async fn ping(&mut self) -> bool {
        matches!(self.execute(0x0e, &[], Expect::Single).await, Ok(Ok(_)))
    }

    /// `COM_RESET_CONNECTION`: drops user variables, temporary tables, prepared statements
    /// and session settings. The tracked state becomes "unknown" where the reset leaves
    /// it unspecified, so the next user replays it.
    pub async fn reset(&mut self) -> bool {
        if !matches!(self.execute(0x1f, &[], Expect::Single).await, Ok(Ok(_))) {
            return false;
        }
        self.vars.names = None;
        self.vars.schema = None;
        self.vars.vars.clear();
        self.vars.autocommit = true;
        self.synced = (0, 0);
        self.in_transaction = false;
        self.dirty = false;
        true
    }
}

fn put_lenenc(buf: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => buf.push(v as u8),
        251..=0xFFFF => {
            buf.push(0xFC);
            buf.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            buf.push(0xFD);
            buf.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            buf.push(0xFE);
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn native(nonce: &[u8], password: &str) -> Vec<u8> {
    scramble_native(nonce, password.as_bytes()).map_or_else(Vec::new, |s| s.to_vec())
}

/// The auth response for `plugin`, or `None` for a plugin this client cannot answer.
fn auth_response(plugin: &[u8], nonce: &[u8], password: &str) -> Option<Vec<u8>> {
    match plugin {
        b"mysql_native_password" => Some(native(nonce, password)),
        b"caching_sha2_password" => {
            Some(scramble_sha256(nonce, password.as_bytes()).map_or_else(Vec::new, |s| s.to_vec()))
        }
        b"mysql_clear_password" => {
            let mut v = password.as_bytes().to_vec();
            v.push(0);
            Some(v)
        }
        _ => None,
    }
}

/// Server counters reported in `stats_mysql_global` live in the node's [`Counters`]; this
/// keeps `Server_Connections_connected` right however a connection ends.
pub struct LiveConnection {
    counters: Arc<NodeShared>,
}

impl LiveConnection {
    /// Counts one more open backend connection.
    pub fn new(node: Arc<NodeShared>) -> Self {
        let c = &node.counters;
        c.server_connected.fetch_add(1, Ordering::Relaxed);
        c.server_created.fetch_add(1, Ordering::Relaxed);
        Self { counters: node }
    }
}

impl Drop for LiveConnection {
    fn drop(&mut self) {
        self.counters
            .counters
            .server_connected
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_encoding() {
        let mut b = Vec::new();
        put_lenenc(&mut b, 250);
        put_lenenc(&mut b, 251);
        put_lenenc(&mut b, 70_000);
        assert_eq!(b, [250, 0xFC, 251, 0, 0xFD, 0x70, 0x11, 0x01]);
    }

    #[test]
    fn auth_responses() {
        let nonce = [7u8; 20];
        assert_eq!(
            auth_response(b"mysql_native_password", &nonce, "").unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            auth_response(b"mysql_native_password", &nonce, "x")
                .unwrap()
                .len(),
            20
        );
        assert_eq!(
            auth_response(b"caching_sha2_password", &nonce, "x")
                .unwrap()
                .len(),
            32
        );
        assert!(auth_response(b"client_ed25519", &nonce, "x").is_none());
    }
}
