//! Payload encoders for the server-to-client packets this layer writes itself.
//!
//! These are pure functions over a byte buffer so the exact bytes can be unit-tested without a
//! socket. Only ERR goes through mysql_common's serializer; OK has no public constructor there,
//! and its `Column` serializer writes `column_length` before `character_set` (the reverse of
//! the wire order its own deserializer reads), so column definitions are encoded here.

use bytes::BufMut;
use mysql_common::constants::{ColumnFlags, ColumnType, StatusFlags};
use mysql_common::io::BufMutExt;
use mysql_common::packets::{ErrPacket, ServerError, SqlState};
use mysql_common::proto::MySerialize;

/// First byte of an OK packet.
pub(crate) const OK_HEADER: u8 = 0x00;
/// First byte of an EOF packet, and of an OK packet that ends a result set under
/// `CLIENT_DEPRECATE_EOF`.
pub(crate) const EOF_HEADER: u8 = 0xFE;
/// Length-encoded NULL in a text row.
const NULL_FIELD: u8 = 0xFB;

/// Definition of one result-set column, as sent in a `Protocol::ColumnDefinition41` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Schema (database) the column comes from; empty for computed columns.
    pub schema: String,
    /// Table alias; empty for computed columns.
    pub table: String,
    /// Physical table name.
    pub org_table: String,
    /// Column name or alias, which is what clients display.
    pub name: String,
    /// Physical column name.
    pub org_name: String,
    /// Collation id of the column's text (63 = binary, 33 = utf8_general_ci).
    pub charset: u16,
    /// Maximum display length; clients use it only for formatting.
    pub length: u32,
    /// Wire type of the values.
    pub column_type: ColumnType,
    /// Column flags (NOT NULL, UNSIGNED, BINARY, ...).
    pub flags: ColumnFlags,
    /// Shown decimals: 0 for integers, 0x1f for strings and floating point.
    pub decimals: u8,
}

impl ColumnDef {
    /// A computed column of `column_type` with empty schema/table names, utf8 charset and no
    /// flags; adjust the public fields for anything more specific.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        Self {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            name: name.into(),
            org_name: String::new(),
            charset: 33,
            length: 0,
            column_type,
            flags: ColumnFlags::empty(),
            decimals: 0,
        }
    }

    /// A text column exactly as ProxySQL's admin module describes every SQLite result column
    /// (`SQLite3_to_MySQL`): `MYSQL_TYPE_VAR_STRING`, charset 33, length 15, flags
    /// `NOT_NULL` (sic, even for nullable values), decimals 0x1f.
    pub fn admin_text(name: impl Into<String>) -> Self {
        Self {
            length: 15,
            flags: ColumnFlags::NOT_NULL_FLAG,
            decimals: 0x1f,
            ..Self::new(name, ColumnType::MYSQL_TYPE_VAR_STRING)
        }
    }

    /// A `BIGINT UNSIGNED NOT NULL` column as ProxySQL's admin sends for
    /// `SELECT GLOBAL_CHECKSUM()`: `MYSQL_TYPE_LONGLONG`, charset 63, length 31, flags 161.
    pub fn admin_longlong(name: impl Into<String>) -> Self {
        Self {
            charset: 63,
            length: 31,
            flags: ColumnFlags::NOT_NULL_FLAG
                | ColumnFlags::UNSIGNED_FLAG
                | ColumnFlags::BINARY_FLAG,
            ..Self::new(name, ColumnType::MYSQL_TYPE_LONGLONG)
        }
    }
}

/// Appends an OK packet payload.
///
/// Without `CLIENT_SESSION_TRACK` (never advertised here) the info text is length-encoded and
/// omitted when empty, as MySQL's `net_send_ok` does.
pub(crate) fn put_ok(
    buf: &mut Vec<u8>,
    header: u8,
    affected_rows: u64,
    last_insert_id: u64,
    status: StatusFlags,
    warnings: u16,
    info: &str,
) {
    buf.put_u8(header);
    buf.put_lenenc_int(affected_rows);
    buf.put_lenenc_int(last_insert_id);
    buf.put_u16_le(status.bits());
    buf.put_u16_le(warnings);
    if !info.is_empty() {
        buf.put_lenenc_str(info.as_bytes());
    }
}

/// Appends an ERR packet payload (protocol 4.1 form, with SQLSTATE).
///
/// An SQLSTATE that is not exactly five ASCII characters becomes `HY000`, because clients
/// slice it at fixed offsets and a wrong length would shift the message.
pub(crate) fn put_err(buf: &mut Vec<u8>, code: u16, sqlstate: &str, message: &str) {
    let state = match <[u8; 5]>::try_from(sqlstate.as_bytes()) {
        Ok(state) if state.is_ascii() => state,
        _ => *b"HY000",
    };
    ErrPacket::Error(ServerError::new(
        code,
        Some(SqlState::new(state)),
        message.as_bytes(),
    ))
    .serialize(buf);
}

/// Appends a classic (pre-`CLIENT_DEPRECATE_EOF`) EOF packet payload.
pub(crate) fn put_eof(buf: &mut Vec<u8>, warnings: u16, status: StatusFlags) {
    buf.put_u8(EOF_HEADER);
    buf.put_u16_le(warnings);
    buf.put_u16_le(status.bits());
}

/// Appends a column definition payload; `field_list` adds the (NULL) default value that only
/// `COM_FIELD_LIST` responses carry.
pub(crate) fn put_column_def(buf: &mut Vec<u8>, col: &ColumnDef, field_list: bool) {
    buf.put_lenenc_str(b"def");
    buf.put_lenenc_str(col.schema.as_bytes());
    buf.put_lenenc_str(col.table.as_bytes());
    buf.put_lenenc_str(col.org_table.as_bytes());
    buf.put_lenenc_str(col.name.as_bytes());
    buf.put_lenenc_str(col.org_name.as_bytes());
    // Length of the fixed-size block that follows.
    buf.put_u8(0x0c);
    buf.put_u16_le(col.charset);
    buf.put_u32_le(col.length);
    buf.put_u8(col.column_type as u8);
    buf.put_u16_le(col.flags.bits());
    buf.put_u8(col.decimals);
    buf.put_u16_le(0);
    if field_list {
        buf.put_u8(NULL_FIELD);
    }
}

/// Appends one text-protocol row; returns how many fields were written.
pub(crate) fn put_text_row<I, V>(buf: &mut Vec<u8>, values: I) -> usize
where
    I: IntoIterator<Item = Option<V>>,
    V: AsRef<[u8]>,
{
    let mut count = 0;
    for value in values {
        match value {
            Some(v) => buf.put_lenenc_str(v.as_ref()),
            None => buf.put_u8(NULL_FIELD),
        }
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::CapabilityFlags;
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::{
        Column, CommonOkPacket, OkPacketDeserializer, ResultSetTerminator,
    };

    fn caps() -> CapabilityFlags {
        CapabilityFlags::CLIENT_PROTOCOL_41
    }

    #[test]
    fn ok_packet_parses_back_with_mysql_common() {
        let mut buf = Vec::new();
        put_ok(
            &mut buf,
            OK_HEADER,
            300,
            70_000,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            2,
            "Rows matched: 1",
        );
        let ok = ParseBuf(&buf)
            .parse::<OkPacketDeserializer<CommonOkPacket>>(caps())
            .unwrap()
            .into_inner();
        assert_eq!(ok.affected_rows(), 300);
        assert_eq!(ok.last_insert_id(), Some(70_000));
        assert_eq!(ok.warnings(), 2);
        assert_eq!(ok.status_flags(), StatusFlags::SERVER_STATUS_AUTOCOMMIT);
        assert_eq!(ok.info_str().as_deref(), Some("Rows matched: 1"));
    }

    #[test]
    fn deprecate_eof_terminator_parses_as_result_set_terminator() {
        let mut buf = Vec::new();
        let status = StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        put_ok(&mut buf, EOF_HEADER, 0, 0, status, 0, "");
        let ok = ParseBuf(&buf)
            .parse::<OkPacketDeserializer<ResultSetTerminator>>(caps())
            .unwrap()
            .into_inner();
        assert_eq!(ok.status_flags(), status);
    }

    #[test]
    fn err_packet_layout() {
        let mut buf = Vec::new();
        put_err(&mut buf, 1045, "28000", "denied");
        assert_eq!(&buf[..], b"\xff\x15\x04#28000denied");
        buf.clear();
        put_err(&mut buf, 1064, "bad", "x");
        assert_eq!(&buf[..], b"\xff\x28\x04#HY000x");
    }

    #[test]
    fn eof_packet_layout() {
        let mut buf = Vec::new();
        put_eof(&mut buf, 1, StatusFlags::SERVER_STATUS_AUTOCOMMIT);
        assert_eq!(&buf[..], b"\xfe\x01\x00\x02\x00");
    }

    #[test]
    fn column_def_parses_back_with_mysql_common() {
        let mut col = ColumnDef::admin_text("hostname");
        col.schema = "main".into();
        col.org_table = "mysql_servers".into();
        let mut buf = Vec::new();
        put_column_def(&mut buf, &col, false);
        let parsed: Column = ParseBuf(&buf).parse(()).unwrap();
        assert_eq!(parsed.name_str(), "hostname");
        assert_eq!(parsed.schema_str(), "main");
        assert_eq!(parsed.org_table_str(), "mysql_servers");
        assert_eq!(parsed.character_set(), 33);
        assert_eq!(parsed.column_length(), 15);
        assert_eq!(parsed.column_type(), ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(parsed.flags(), ColumnFlags::NOT_NULL_FLAG);
        assert_eq!(parsed.decimals(), 0x1f);

        let ll = ColumnDef::admin_longlong("CHECKSUM");
        buf.clear();
        put_column_def(&mut buf, &ll, false);
        let parsed: Column = ParseBuf(&buf).parse(()).unwrap();
        assert_eq!(parsed.flags().bits(), 161);
        assert_eq!(parsed.character_set(), 63);
        assert_eq!(parsed.column_length(), 31);
    }

    #[test]
    fn text_row_encodes_nulls_and_long_values() {
        let long = "x".repeat(300);
        let mut buf = Vec::new();
        let n = put_text_row(&mut buf, [Some("a"), None, Some(long.as_str())]);
        assert_eq!(n, 3);
        assert_eq!(&buf[..3], b"\x01a\xfb");
        // 300 needs the 0xfc two-byte length form.
        assert_eq!(&buf[3..6], b"\xfc\x2c\x01");
        assert_eq!(buf.len(), 6 + 300);
    }
}
