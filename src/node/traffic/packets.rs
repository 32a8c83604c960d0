//! Backend responses read packet by packet without decoding rows: where a response ends, and
//! the few facts the session needs from it (status flags, affected and sent row counts, the
//! error code, the prepared statement's shape).
//!
//! [`ResponseParser`] is fed wire chunks (one 4-byte header each) in order. Result-set rows
//! are only counted, never decoded, so they can be relayed to the client byte for byte.

use mysql_common::constants::StatusFlags;

/// Largest chunk payload; a chunk this long continues in the next one.
pub const MAX_CHUNK: usize = 0xFF_FFFF;

/// Which response shape a command produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `COM_QUERY`, `COM_STMT_EXECUTE`: OK, ERR, or result sets (possibly several).
    ResultSet,
    /// `COM_STMT_PREPARE`: prepare-OK with parameter and column definitions, or ERR.
    Prepare,
    /// `COM_FIELD_LIST`: column definitions ended by EOF, or ERR.
    FieldList,
    /// One packet: OK, ERR or EOF (`COM_INIT_DB`, `COM_PING`, `COM_SET_OPTION`, ...), or the
    /// bare string of `COM_STATISTICS`.
    Single,
}

/// A decoded ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// Error code.
    pub code: u16,
    /// SQLSTATE (`HY000` when the packet had none).
    pub sqlstate: String,
    /// Message.
    pub message: String,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.sqlstate, self.message)
    }
}

/// What a prepare-OK announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareOk {
    /// Statement id on the backend connection.
    pub stmt_id: u32,
    /// Result columns.
    pub columns: u16,
    /// Parameters.
    pub params: u16,
}

/// Why a response could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected packet from the backend: {0}")]
pub struct ParseError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Columns(u64),
    ColumnsEof,
    Rows,
    PrepareParams(u16),
    PrepareParamsEof,
    PrepareColumns(u16),
    PrepareColumnsEof,
    FieldList,
    Done,
}

/// Follows one response; see the module documentation.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    expect: Expect,
    deprecate_eof: bool,
    state: State,
    continuation: bool,
    /// Rows seen (all result sets together).
    pub rows: u64,
    /// Affected rows of the OK packets seen.
    pub affected_rows: u64,
    /// Last insert id of the last OK packet.
    pub last_insert_id: u64,
    /// Status flags of the packet that ended the response (none for ERR and prepare-OK).
    pub status: Option<StatusFlags>,
    /// The error that ended the response.
    pub error: Option<BackendError>,
    /// The prepare-OK, for [`Expect::Prepare`].
    pub prepare: Option<PrepareOk>,
}

impl ResponseParser {
    /// A parser for a response of shape `expect` on a connection that negotiated
    /// `CLIENT_DEPRECATE_EOF` or not.
    pub fn new(expect: Expect, deprecate_eof: bool) -> Self {
        Self {
            expect,
            deprecate_eof,
            state: State::Start,
            continuation: false,
            rows: 0,
            affected_rows: 0,
            last_insert_id: 0,
            status: None,
            error: None,
            prepare: None,
        }
    }

    /// True once the last packet of the response was fed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the payload of one wire chunk; returns whether the response is complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<bool, ParseError> {
        if self.state == State::Done {
            return Err(ParseError("data after the end of the response"));
        }
        if self.continuation {
            // The tail of a packet of 16 MiB or more: only its first chunk had a header byte.
            self.continuation = chunk.len() == MAX_CHUNK;
            return Ok(false);
        }
        self.continuation = chunk.len() == MAX_CHUNK;
        self.packet(chunk)?;
        Ok(self.state == State::Done)
    }

    fn packet(&mut self, p: &[u8]) -> Result<(), ParseError> {
        let first = p.first().copied();
        match self.state {
            State::Start => match (self.expect, first) {
                (_, Some(0xFF)) => self.error(p),
                (Expect::Single, _) => {
                    if matches!(first, Some(0x00 | 0xFE)) {
                        // OK, or EOF from COM_SET_OPTION; COM_STATISTICS sends bare text.
                        self.status = ok_or_eof_status(p);
                    }
                    self.state = State::Done;
                }
                (Expect::ResultSet, Some(0x00)) => {
                    let ok = parse_ok(p).ok_or(ParseError("truncated OK packet"))?;
                    self.affected_rows += ok.affected_rows;
                    self.last_insert_id = ok.last_insert_id;
                    self.end_of_result(ok.status);
                }
                (Expect::ResultSet, Some(0xFB)) => {
                    return Err(ParseError("LOCAL INFILE request, which is not offered"))
                }
                (Expect::ResultSet, _) => {
                    let (n, _) = lenenc(p).ok_or(ParseError("truncated column count"))?;
                    if n == 0 {
                        return Err(ParseError("result set with no columns"));
                    }
                    self.state = State::Columns(n);
                }
                (Expect::Prepare, Some(0x00)) if p.len() >= 12 => {
                    let ok = PrepareOk {
                        stmt_id: u32::from_le_bytes([p[1], p[2], p[3], p[4]]),
                        columns: u16::from_le_bytes([p[5], p[6]]),
                        params: u16::from_le_bytes([p[7], p[8]]),
                    };
                    self.prepare = Some(ok);
                    self.state = State::PrepareParams(ok.params);
                    self.after_prepare_section();
                }
                (Expect::Prepare, _) => return Err(ParseError("malformed prepare response")),
                (Expect::FieldList, _) => {
                    self.state = State::FieldList;
                    return self.packet(p);
                }
            },
            State::Columns(n) => {
                self.state = match (n - 1, self.deprecate_eof) {
                    (0, true) => State::Rows,
                    (0, false) => State::ColumnsEof,
                    (left, _) => State::Columns(left),
                };
            }
            State::ColumnsEof => {
                let status = eof_status(p).ok_or(ParseError("missing EOF after columns"))?;
                if status.contains(StatusFlags::SERVER_STATUS_CURSOR_EXISTS) {
                    // A server-side cursor: rows follow only on COM_STMT_FETCH.
                    self.status = Some(status);
                    self.state = State::Done;
                } else {
                    self.state = State::Rows;
                }
            }
            State::Rows => match first {
                Some(0xFF) => self.error(p),
                Some(0xFE) if self.is_terminator(p) => {
                    let status = ok_or_eof_status(p).ok_or(ParseError("truncated terminator"))?;
                    if self.deprecate_eof {
                        if let Some(ok) = parse_ok(p) {
                            self.affected_rows += ok.affected_rows;
                        }
                    }
                    self.end_of_result(status);
                }
                _ => self.rows += 1,
            },
            State::PrepareParams(n) => {
                self.state = State::PrepareParams(n.saturating_sub(1));
                self.after_prepare_section();
            }
            State::PrepareParamsEof => {
                eof_status(p).ok_or(ParseError("missing EOF after parameters"))?;
                self.state = State::PrepareColumns(self.prepare.map_or(0, |o| o.columns));
                self.after_prepare_section();
            }
            State::PrepareColumns(n) => {
                self.state = State::PrepareColumns(n.saturating_sub(1));
                self.after_prepare_section();
            }
            State::PrepareColumnsEof => {
                eof_status(p).ok_or(ParseError("missing EOF after columns"))?;
                self.state = State::Done;
            }
            State::FieldList => match first {
                Some(0xFF) => self.error(p),
                Some(0xFE) if p.len() < 0xFFFF && p.len() <= 12 => {
                    self.status = ok_or_eof_status(p);
                    self.state = State::Done;
                }
                _ => {}
            },
            State::Done => return Err(ParseError("data after the end of the response")),
        }
        Ok(())
    }

    /// Moves past finished sections of a prepare response (counts that reached zero).
    fn after_prepare_section(&mut self) {
        let (params, columns) = self.prepare.map_or((0, 0), |o| (o.params, o.columns));
        loop {
            self.state = match self.state {
                State::PrepareParams(0) if params > 0 && !self.deprecate_eof => {
                    State::PrepareParamsEof
                }
                State::PrepareParams(0) => State::PrepareColumns(columns),
                State::PrepareColumns(0) if columns > 0 && !self.deprecate_eof => {
                    State::PrepareColumnsEof
                }
                State::PrepareColumns(0) => State::Done,
                _ => return,
            };
        }
    }

    /// Whether a 0xFE-headed packet in the row section ends the result set: a classic EOF
    /// is under 9 bytes; under `CLIENT_DEPRECATE_EOF` the OK terminator is anything shorter
    /// than a maximal chunk (a row starting with 0xFE would carry an 8-byte length).
    fn is_terminator(&self, p: &[u8]) -> bool {
        if self.deprecate_eof {
            p.len() < MAX_CHUNK
        } else {
            p.len() < 9
        }
    }

    fn end_of_result(&mut self, status: StatusFlags) {
        self.status = Some(status);
        self.state = if status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
            State::Start
        } else {
            State::Done
        };
    }

    fn error(&mut self, p: &[u8]) {
        self.error = Some(parse_err(p));
        self.state = State::Done;
    }
}

/// Reads a length-encoded integer; returns it and the bytes consumed.
pub fn lenenc(p: &[u8]) -> Option<(u64, usize)> {
    let first = *p.first()?;
    match first {
        0..=0xFA => Some((u64::from(first), 1)),
        0xFC => Some((u64::from(u16::from_le_bytes([*p.get(1)?, *p.get(2)?])), 3)),
        0xFD => Some((
            u64::from(u32::from_le_bytes([*p.get(1)?, *p.get(2)?, *p.get(3)?, 0])),
            4,
        )),
        0xFE => {
            let bytes: [u8; 8] = p.get(1..9)?.try_into().ok()?;
            Some((u64::from_le_bytes(bytes), 9))
        }
        _ => None,
    }
}

/// The fields of an OK packet (header 0x00 or 0xFE) this proxy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OkInfo {
    /// Affected rows.
    pub affected_rows: u64,
    /// Last insert id.
    pub last_insert_id: u64,
    /// Status flags.
    pub status: StatusFlags,
    /// Warning count.
    pub warnings: u16,
}

/// Parses an OK packet (protocol 4.1).
pub fn parse_ok(p: &[u8]) -> Option<OkInfo> {
    let mut pos = 1;
    let (affected_rows, n) = lenenc(p.get(pos..)?)?;
    pos += n;
    let (last_insert_id, n) = lenenc(p.get(pos..)?)?;
    pos += n;
    let status = u16::from_le_bytes([*p.get(pos)?, *p.get(pos + 1)?]);
    let warnings = p
        .get(pos + 2..pos + 4)
        .map_or(0, |w| u16::from_le_bytes([w[0], w[1]]));
    Some(OkInfo {
        affected_rows,
        last_insert_id,
        status: StatusFlags::from_bits_truncate(status),
        warnings,
    })
}

/// Status flags of a classic EOF packet (`FE warnings status`).
fn eof_status(p: &[u8]) -> Option<StatusFlags> {
    if p.first() != Some(&0xFE) || p.len() < 5 || p.len() >= 9 {
        return None;
    }
    Some(StatusFlags::from_bits_truncate(u16::from_le_bytes([
        p[3], p[4],
    ])))
}

/// Status flags of an OK packet or a classic EOF packet.
fn ok_or_eof_status(p: &[u8]) -> Option<StatusFlags> {
    if p.first() == Some(&0xFE) && p.len() < 9 {
        eof_status(p)
    } else {
        parse_ok(p).map(|ok| ok.status)
    }
}

/// Decodes an ERR packet (with or without the `#SQLSTATE` marker).
pub fn parse_err(p: &[u8]) -> BackendError {
    let code = match p.get(1..3) {
        Some(c) => u16::from_le_bytes([c[0], c[1]]),
        None => 0,
    };
    let rest = p.get(3..).unwrap_or_default();
    let (sqlstate, message) = match rest.split_first() {
        Some((b'#', tail)) if tail.len() >= 5 => (
            String::from_utf8_lossy(&tail[..5]).into_owned(),
            String::from_utf8_lossy(&tail[5..]).into_owned(),
        ),
        _ => (
            "HY000".to_owned(),
            String::from_utf8_lossy(rest).into_owned(),
        ),
    };
    BackendError {
        code,
        sqlstate,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTOCOMMIT: u16 = 0x0002;
    const MORE: u16 = 0x0008;
    const IN_TRANS: u16 = 0x0001;

    fn ok(header: u8, affected: u8, status: u16) -> Vec<u8> {
        let s = status.to_le_bytes();
        vec![header, affected, 0, s[0], s[1], 0, 0]
    }

    fn eof(status: u16) -> Vec<u8> {
        let s = status.to_le_bytes();
        vec![0xFE, 0, 0, s[0], s[1]]
    }

    fn feed_all(p: &mut ResponseParser, packets: &[Vec<u8>]) -> Vec<bool> {
        packets.iter().map(|x| p.feed(x).unwrap()).collect()
    }

    #[test]
    fn ok_and_err_end_at_once() {
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        assert!(p.feed(&ok(0, 3, AUTOCOMMIT | IN_TRANS)).unwrap());
        assert_eq!(p.affected_rows, 3);
        assert!(p
            .status
            .unwrap()
            .contains(StatusFlags::SERVER_STATUS_IN_TRANS));

        let mut p = ResponseParser::new(Expect::ResultSet, false);
        assert!(p
            .feed(b"\xff\x7a\x04#42S02Table 'x' doesn't exist")
            .unwrap());
        let e = p.error.unwrap();
        assert_eq!((e.code, e.sqlstate.as_str()), (1146, "42S02"));
        assert_eq!(e.message, "Table 'x' doesn't exist");
    }

    #[test]
    fn classic_result_set() {
        let mut p = ResponseParser::new(Expect::ResultSet, false);
        let done = feed_all(
            &mut p,
            &[
                vec![2],
                b"col1".to_vec(),
                b"col2".to_vec(),
                eof(AUTOCOMMIT),
                b"\x011\x012".to_vec(),
                b"\xfb\x013".to_vec(),
                eof(AUTOCOMMIT),
            ],
        );
        assert_eq!(done, [false, false, false, false, false, false, true]);
        assert_eq!(p.rows, 2);
    }

    #[test]
    fn deprecate_eof_multi_result_sets() {
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        let done = feed_all(
            &mut p,
            &[
                vec![1],
                b"c".to_vec(),
                b"\x01a".to_vec(),
                ok(0xFE, 0, AUTOCOMMIT | MORE),
                vec![1],
                b"c".to_vec(),
                ok(0xFE, 0, AUTOCOMMIT | MORE),
                ok(0x00, 1, AUTOCOMMIT),
            ],
        );
        assert_eq!(done.iter().filter(|d| **d).count(), 1);
        assert!(*done.last().unwrap());
        assert_eq!(p.rows, 1);
        assert_eq!(p.affected_rows, 1);
    }

    #[test]
    fn row_starting_with_fe_is_not_a_terminator_under_deprecate_eof() {
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        p.feed(&[1]).unwrap();
        p.feed(b"c").unwrap();
        // Long rows split over chunks: first chunk maximal, continuation not classified.
        let first = vec![0xFEu8; MAX_CHUNK];
        assert!(!p.feed(&first).unwrap());
        assert!(!p.feed(&[0xFF, 0, 0]).unwrap());
        assert_eq!(p.rows, 1);
        assert!(p.feed(&ok(0xFE, 0, AUTOCOMMIT)).unwrap());
    }

    #[test]
    fn error_inside_rows_ends_the_response() {
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        feed_all(&mut p, &[vec![1], b"c".to_vec(), b"\x01a".to_vec()]);
        assert!(p.feed(b"\xff\x0d\x05#HY000killed").unwrap());
        assert_eq!(p.error.as_ref().unwrap().code, 1293);
    }

    #[test]
    fn prepare_responses() {
        let prep = |id: u32, cols: u16, params: u16| {
            let mut v = vec![0u8];
            v.extend_from_slice(&id.to_le_bytes());
            v.extend_from_slice(&cols.to_le_bytes());
            v.extend_from_slice(&params.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0]);
            v
        };
        // Classic: 2 params + EOF, 1 column + EOF.
        let mut p = ResponseParser::new(Expect::Prepare, false);
        let done = feed_all(
            &mut p,
            &[
                prep(7, 1, 2),
                b"p".to_vec(),
                b"p".to_vec(),
                eof(0),
                b"c".to_vec(),
                eof(0),
            ],
        );
        assert_eq!(done, [false, false, false, false, false, true]);
        assert_eq!(
            p.prepare,
            Some(PrepareOk {
                stmt_id: 7,
                columns: 1,
                params: 2
            })
        );
        // Deprecate EOF, no params.
        let mut p = ResponseParser::new(Expect::Prepare, true);
        let done = feed_all(&mut p, &[prep(1, 2, 0), b"c".to_vec(), b"c".to_vec()]);
        assert_eq!(done, [false, false, true]);
        // Neither params nor columns: done at once.
        let mut p = ResponseParser::new(Expect::Prepare, false);
        assert!(p.feed(&prep(3, 0, 0)).unwrap());
        // Only params, classic.
        let mut p = ResponseParser::new(Expect::Prepare, false);
        let done = feed_all(&mut p, &[prep(3, 0, 1), b"p".to_vec(), eof(0)]);
        assert_eq!(done, [false, false, true]);
    }

    #[test]
    fn field_list_and_single() {
        let mut p = ResponseParser::new(Expect::FieldList, false);
        let done = feed_all(&mut p, &[b"\x03defcolumn-def".to_vec(), eof(AUTOCOMMIT)]);
        assert_eq!(done, [false, true]);
        let mut p = ResponseParser::new(Expect::Single, true);
        assert!(p.feed(b"Uptime: 5  Threads: 1").unwrap());
        let mut p = ResponseParser::new(Expect::Single, true);
        assert!(p.feed(&ok(0, 0, AUTOCOMMIT)).unwrap());
        assert_eq!(p.status, Some(StatusFlags::SERVER_STATUS_AUTOCOMMIT));
    }

    #[test]
    fn cursor_response_ends_after_column_eof() {
        let mut p = ResponseParser::new(Expect::ResultSet, false);
        let done = feed_all(&mut p, &[vec![1], b"c".to_vec(), eof(0x0040)]);
        assert_eq!(done, [false, false, true]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        assert!(p.feed(&[]).is_err());
        let mut p = ResponseParser::new(Expect::ResultSet, true);
        assert!(p.feed(&[0x00]).is_err());
        let mut p = ResponseParser::new(Expect::Prepare, true);
        assert!(p.feed(&[0x00, 1]).is_err());
        let mut p = ResponseParser::new(Expect::Single, true);
        assert!(p.feed(&[0x00]).unwrap());
        assert!(p.feed(&[0x00]).is_err());
        assert_eq!(parse_err(&[0xFF]).code, 0);
        assert_eq!(lenenc(&[0xFC, 1]), None);
        assert_eq!(lenenc(&[0xFD, 1, 2, 3]), Some((0x030201, 4)));
    }
}
