//! Command-phase requests, decoded from one client packet.

use std::collections::HashMap;

use bytes::Bytes;
use mysql_common::constants::{CapabilityFlags, Command as Com};
use mysql_common::io::ParseBuf;

use super::ProtoError;

/// A client command. Payload-carrying variants hold slices of the received packet (cheap
/// [`Bytes`] clones); the whole packet stays available as
/// [`ServerConn::last_packet`](super::ServerConn::last_packet) for byte-exact relaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `COM_QUERY`: SQL text, not necessarily UTF-8.
    Query(Bytes),
    /// `COM_INIT_DB`: switch default schema.
    InitDb(String),
    /// `COM_PING`.
    Ping,
    /// `COM_FIELD_LIST` (deprecated; sent by the mysql CLI's auto-rehash).
    FieldList {
        /// Table whose columns are listed.
        table: String,
        /// Optional column-name wildcard (may be empty).
        wildcard: String,
    },
    /// `COM_STMT_PREPARE`: SQL text.
    StmtPrepare(Bytes),
    /// `COM_STMT_EXECUTE`; parameters can only be decoded with the prepared statement's
    /// parameter count, so the rest of the payload is kept raw.
    StmtExecute {
        /// Statement id.
        stmt_id: u32,
        /// The payload after the command byte (statement id included).
        payload: Bytes,
    },
    /// `COM_STMT_CLOSE` (the client expects no answer).
    StmtClose(u32),
    /// `COM_STMT_RESET`.
    StmtReset(u32),
    /// `COM_STMT_SEND_LONG_DATA` (the client expects no answer).
    StmtSendLongData {
        /// Statement id.
        stmt_id: u32,
        /// Parameter index.
        param_id: u16,
        /// The data chunk.
        data: Bytes,
    },
    /// `COM_CHANGE_USER`; answer it with
    /// [`ServerConn::change_user`](super::ServerConn::change_user).
    ChangeUser(ChangeUserRequest),
    /// `COM_RESET_CONNECTION`.
    ResetConnection,
    /// `COM_SET_OPTION` (0 = multi-statements on, 1 = off).
    SetOption(u16),
    /// `COM_STATISTICS`.
    Statistics,
    /// Any other command (`COM_PROCESS_KILL`, `COM_STMT_FETCH`, `COM_BINLOG_DUMP`, ...).
    Other {
        /// Command byte.
        code: u8,
        /// The payload after the command byte.
        payload: Bytes,
    },
}

/// A decoded `COM_CHANGE_USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUserRequest {
    /// New user name.
    pub user: String,
    /// Auth response computed with the connection's original nonce.
    pub auth_response: Bytes,
    /// New default schema (empty on the wire means none).
    pub schema: Option<String>,
    /// Requested collation, when the client sent one.
    pub collation: Option<u16>,
    /// Plugin that produced `auth_response`, when the client named one.
    pub auth_plugin: Option<Bytes>,
    /// Connection attributes, when sent.
    pub attributes: HashMap<String, String>,
}

/// What a packet means: a command, or the client's `COM_QUIT`.
pub(crate) enum Parsed {
    Command(Command),
    Quit,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn malformed(what: &str) -> ProtoError {
    ProtoError::Malformed(format!("truncated or invalid {what} packet"))
}

/// Decodes one command packet; `caps` are the negotiated capabilities, which decide the
/// layout of `COM_CHANGE_USER`.
pub(crate) fn parse_command(packet: &Bytes, caps: CapabilityFlags) -> Result<Parsed, ProtoError> {
    let Some((&code, _)) = packet.split_first() else {
        return Err(ProtoError::Malformed("empty command packet".into()));
    };
    let body = packet.slice(1..);
    let u32_at = |what: &str| -> Result<u32, ProtoError> {
        ParseBuf(&body)
            .checked_eat_u32_le()
            .ok_or_else(|| malformed(what))
    };
    let cmd = match code {
        c if c == Com::COM_QUIT as u8 => return Ok(Parsed::Quit),
        c if c == Com::COM_QUERY as u8 => Command::Query(body),
        c if c == Com::COM_INIT_DB as u8 => Command::InitDb(lossy(&body)),
        c if c == Com::COM_PING as u8 => Command::Ping,
        c if c == Com::COM_FIELD_LIST as u8 => {
            let mut buf = ParseBuf(&body);
            let table = lossy(buf.eat_null_str());
            let wildcard = lossy(buf.eat_all());
            Command::FieldList { table, wildcard }
        }
        c if c == Com::COM_STMT_PREPARE as u8 => Command::StmtPrepare(body),
        c if c == Com::COM_STMT_EXECUTE as u8 => Command::StmtExecute {
            stmt_id: u32_at("COM_STMT_EXECUTE")?,
            payload: body,
        },
        c if c == Com::COM_STMT_CLOSE as u8 => Command::StmtClose(u32_at("COM_STMT_CLOSE")?),
        c if c == Com::COM_STMT_RESET as u8 => Command::StmtReset(u32_at("COM_STMT_RESET")?),
        c if c == Com::COM_STMT_SEND_LONG_DATA as u8 => {
            let mut buf = ParseBuf(&body);
            let (Some(stmt_id), Some(param_id)) =
                (buf.checked_eat_u32_le(), buf.checked_eat_u16_le())
            else {
                return Err(malformed("COM_STMT_SEND_LONG_DATA"));
            };
            Command::StmtSendLongData {
                stmt_id,
                param_id,
                data: body.slice(6..),
            }
        }
        c if c == Com::COM_CHANGE_USER as u8 => Command::ChangeUser(
            parse_change_user(&body, caps).ok_or_else(|| malformed("COM_CHANGE_USER"))?,
        ),
        c if c == Com::COM_RESET_CONNECTION as u8 => Command::ResetConnection,
        c if c == Com::COM_SET_OPTION as u8 => Command::SetOption(
            ParseBuf(&body)
                .checked_eat_u16_le()
                .ok_or_else(|| malformed("COM_SET_OPTION"))?,
        ),
        c if c == Com::COM_STATISTICS as u8 => Command::Statistics,
        code => Command::Other {
            code,
            payload: body,
        },
    };
    Ok(Parsed::Command(cmd))
}

/// `COM_CHANGE_USER` after the command byte. mysql_common's `ComChangeUser` can parse this but
/// exposes no accessors, hence this small reader. Trailing fields are optional, and attributes
/// are read only when negotiated (some clients append an empty attribute block regardless).
fn parse_change_user(body: &Bytes, caps: CapabilityFlags) -> Option<ChangeUserRequest> {
    let mut buf = ParseBuf(body);
    let user = lossy(checked_null_str(&mut buf)?);
    let auth = if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
        buf.checked_eat_u8_str()?
    } else {
        checked_null_str(&mut buf)?
    };
    let auth_response = body.slice_ref(auth);
    let schema = checked_null_str(&mut buf)?;
    let schema = (!schema.is_empty()).then(|| lossy(schema));
    let mut collation = None;
    let mut auth_plugin = None;
    let mut attributes = HashMap::new();
    if !buf.is_empty() {
        collation = Some(buf.checked_eat_u16_le()?);
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !buf.is_empty() {
            auth_plugin = Some(body.slice_ref(buf.eat_null_str()));
        }
        if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) && !buf.is_empty() {
            attributes = parse_attributes(&mut buf)?;
        }
    }
    Some(ChangeUserRequest {
        user,
        auth_response,
        schema,
        collation,
        auth_plugin,
        attributes,
    })
}

/// A NUL-terminated string that must have its terminator.
fn checked_null_str<'a>(buf: &mut ParseBuf<'a>) -> Option<&'a [u8]> {
    let end = buf.0.iter().position(|b| *b == 0)?;
    let s = buf.checked_eat(end)?;
    buf.checked_skip(1).then_some(s)
}

/// A length-prefixed block of length-encoded key/value strings.
pub(crate) fn parse_attributes(buf: &mut ParseBuf<'_>) -> Option<HashMap<String, String>> {
    let len = usize::try_from(buf.checked_eat_lenenc_int()?).ok()?;
    let mut block = buf.checked_eat_buf(len)?;
    let mut attrs = HashMap::new();
    while !block.is_empty() {
        let key = block.checked_eat_lenenc_str()?;
        let value = block.checked_eat_lenenc_str()?;
        attrs.insert(lossy(key), lossy(value));
    }
    Some(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::packets::{AuthPlugin as WirePlugin, ComChangeUser, ComChangeUserMoreData};
    use mysql_common::proto::MySerialize;
    use rand::{Rng, RngExt, SeedableRng};

    fn caps() -> CapabilityFlags {
        CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_CONNECT_ATTRS
    }

    fn parse(bytes: &[u8]) -> Result<Command, ProtoError> {
        match parse_command(&Bytes::copy_from_slice(bytes), caps())? {
            Parsed::Command(c) => Ok(c),
            Parsed::Quit => Ok(Command::Other {
                code: 1,
                payload: Bytes::new(),
            }),
        }
    }

    #[test]
    fn decodes_common_commands() {
        assert_eq!(
            parse(b"\x03select 1").unwrap(),
            Command::Query("select 1".into())
        );
        assert_eq!(parse(b"\x02main").unwrap(), Command::InitDb("main".into()));
        assert_eq!(parse(b"\x0e").unwrap(), Command::Ping);
        assert_eq!(
            parse(b"\x19\x07\x00\x00\x00").unwrap(),
            Command::StmtClose(7)
        );
        assert_eq!(parse(b"\x1b\x01\x00").unwrap(), Command::SetOption(1));
        assert_eq!(parse(b"\x1f").unwrap(), Command::ResetConnection);
        assert_eq!(
            parse(b"\x04users\0ho%").unwrap(),
            Command::FieldList {
                table: "users".into(),
                wildcard: "ho%".into()
            }
        );
        assert_eq!(
            parse(b"\x18\x02\x00\x00\x00\x01\x00abc").unwrap(),
            Command::StmtSendLongData {
                stmt_id: 2,
                param_id: 1,
                data: "abc".into()
            }
        );
        assert_eq!(
            parse(b"\x0c\x05\x00\x00\x00").unwrap(),
            Command::Other {
                code: 0x0c,
                payload: Bytes::from_static(b"\x05\x00\x00\x00")
            }
        );
        assert!(matches!(
            parse_command(&Bytes::from_static(b"\x01"), caps()),
            Ok(Parsed::Quit)
        ));
    }

    #[test]
    fn truncated_commands_are_malformed_not_panics() {
        for bad in [
            &b""[..],
            b"\x19\x01",
            b"\x17\x01\x00",
            b"\x18\x01\x00\x00\x00\x01",
            b"\x1b",
        ] {
            assert!(
                matches!(parse(bad), Err(ProtoError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn change_user_as_mysql_common_writes_it() {
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("_client_name".to_owned(), "test".to_owned());
        let packet = ComChangeUser::new()
            .with_user(Some(&b"bob"[..]))
            .with_database(Some(&b"db1"[..]))
            .with_auth_plugin_data(Some(&[9u8; 20][..]))
            .with_more_data(Some(
                ComChangeUserMoreData::new(45)
                    .with_auth_plugin(Some(WirePlugin::MysqlNativePassword))
                    .with_connect_attributes(Some(attrs.clone())),
            ));
        let mut wire = Vec::new();
        packet.serialize(&mut wire);
        let Command::ChangeUser(req) = parse(&wire).unwrap() else {
            panic!("not a change user");
        };
        assert_eq!(req.user, "bob");
        assert_eq!(req.schema.as_deref(), Some("db1"));
        assert_eq!(&req.auth_response[..], &[9u8; 20][..]);
        assert_eq!(req.collation, Some(45));
        assert_eq!(
            req.auth_plugin.as_deref(),
            Some(&b"mysql_native_password"[..])
        );
        assert_eq!(req.attributes, attrs);
    }

    #[test]
    fn minimal_change_user_has_no_optional_fields() {
        let Command::ChangeUser(req) = parse(b"\x11u\0\x00\0").unwrap() else {
            panic!("not a change user");
        };
        assert_eq!(req.user, "u");
        assert!(req.auth_response.is_empty());
        assert_eq!(req.schema, None);
        assert_eq!(req.collation, None);
        assert!(matches!(
            parse(b"\x11u\0\x05ab"),
            Err(ProtoError::Malformed(_))
        ));
    }

    #[test]
    fn random_packets_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            if let Some(first) = bytes.first_mut() {
                // Bias towards real command codes so their parsers get exercised.
                *first %= 0x20;
            }
            let _ = parse(&bytes);
        }
    }
}
