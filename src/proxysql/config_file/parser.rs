//! A libconfig 1.7 reader: lexer and recursive-descent parser.
//!
//! The accepted language is libconfig's (`lib/scanner.l`, `lib/grammar.y`): settings are
//! `name = value` or `name : value` with an optional `;` or `,` after them, groups `{ }`,
//! lists `( )`, homogeneous scalar arrays `[ ]`, `#`, `//` and `/* */` comments. Where libconfig
//! silently accepts something that is almost certainly a mistake (an unterminated `/*` comment
//! swallowing the rest of the file, a lone `.` read as the float 0) this reader reports an
//! error instead. `@include` is not supported: ProxySQL configs do not use it and resolving it
//! relative to the working directory, as libconfig does, would be a trap.

use std::collections::HashMap;

use super::{ConfigError, Setting, Value, ValueKind};

/// Deeper nesting than this is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses a whole file into its top-level settings.
pub(super) fn parse(text: &str) -> Result<Vec<Setting>, ConfigError> {
    let tokens = Lexer::new(text).tokenize();
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        secret: false,
    };
    parser.settings(None)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Bool(bool),
    Int(i32),
    Int64(i64),
    Float(f64),
    Assign,
    Comma,
    Semicolon,
    GroupOpen,
    GroupClose,
    ArrayOpen,
    ArrayClose,
    ListOpen,
    ListClose,
    Eof,
    /// Input the lexer could not make sense of; always the last token. Kept as a token so the
    /// error surfaces only when the parser reaches it, after any earlier syntax error.
    Error(ConfigError),
}

impl Tok {
    /// How the token is named in "found …" messages.
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("name '{n}'"),
            Tok::Str(s) => {
                let shown: String = s.chars().take(30).collect();
                let ellipsis = if s.chars().count() > 30 { "…" } else { "" };
                format!("string \"{shown}{ellipsis}\"")
            }
            Tok::Bool(b) => format!("boolean {b}"),
            Tok::Int(i) => format!("integer {i}"),
            Tok::Int64(i) => format!("integer {i}L"),
            Tok::Float(f) => format!("float {f}"),
            Tok::Assign => "'='".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Semicolon => "';'".to_owned(),
            Tok::GroupOpen => "'{'".to_owned(),
            Tok::GroupClose => "'}'".to_owned(),
            Tok::ArrayOpen => "'['".to_owned(),
            Tok::ArrayClose => "']'".to_owned(),
            Tok::ListOpen => "'('".to_owned(),
            Tok::ListClose => "')'".to_owned(),
            Tok::Eof => "end of file".to_owned(),
            Tok::Error(e) => e.message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    line: u32,
    column: u32,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
}

impl Lexer {
    fn new(text: &str) -> Self {
        // Editors on Windows like to start files with a byte-order mark; it is not content.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, line: u32, column: u32, message: impl Into<String>) -> ConfigError {
        ConfigError::new(line, column, message)
    }

    /// The whole token stream, ending with `Eof` or, at the first bad input, `Error`.
    fn tokenize(mut self) -> Vec<Token> {
        let mut tokens = Vec::new();
        loop {
            match self.token() {
                Ok(Some(token)) => tokens.push(token),
                Ok(None) => {
                    tokens.push(Token {
                        tok: Tok::Eof,
                        line: self.line,
                        column: self.column,
                    });
                    return tokens;
                }
                Err(error) => {
                    tokens.push(Token {
                        line: error.line,
                        column: error.column,
                        tok: Tok::Error(error),
                    });
                    return tokens;
                }
            }
        }
    }

    /// The next token, or `None` at end of input.
    fn token(&mut self) -> Result<Option<Token>, ConfigError> {
        self.skip_blanks_and_comments()?;
        let (line, column) = (self.line, self.column);
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let tok = match c {
            '=' | ':' => self.single(Tok::Assign),
            ',' => self.single(Tok::Comma),
            ';' => self.single(Tok::Semicolon),
            '{' => self.single(Tok::GroupOpen),
            '}' => self.single(Tok::GroupClose),
            '[' => self.single(Tok::ArrayOpen),
            ']' => self.single(Tok::ArrayClose),
            '(' => self.single(Tok::ListOpen),
            ')' => self.single(Tok::ListClose),
            '"' => self.string(line, column)?,
            c if c.is_ascii_alphabetic() || c == '*' => self.word(),
            c if c.is_ascii_digit() || c == '+' || c == '-' || c == '.' => {
                self.number(line, column)?
            }
            '@' if self.at_line_start() => {
                return Err(self.error(line, column, "@include directives are not supported"))
            }
            other => {
                return Err(self.error(
                    line,
                    column,
                    format!("unexpected character '{}'", other.escape_debug()),
                ))
            }
        };
        Ok(Some(Token { tok, line, column }))
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.bump();
        tok
    }

    /// True when only blanks precede the current position on its line (where libconfig
    /// recognises `@include`).
    fn at_line_start(&self) -> bool {
        self.chars[..self.pos]
            .iter()
            .rev()
            .take_while(|&&c| c != '\n')
            .all(|&c| c == ' ' || c == '\t')
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), ConfigError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let (line, column) = (self.line, self.column);
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(self.error(
                                    line,
                                    column,
                                    "unterminated comment: expected '*/' before end of file",
                                ))
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A name or a boolean: libconfig's scanner gives `true`/`false` (any case) precedence over
    /// names, so they can never be setting names.
    fn word(&mut self) -> Tok {
        let mut word = String::new();
        while let Some(c) = self
            .peek()
            .filter(|&c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'))
        {
            word.push(c);
            self.bump();
        }
        if word.eq_ignore_ascii_case("true") {
            Tok::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            Tok::Bool(false)
        } else {
            Tok::Name(word)
        }
    }

    fn string(&mut self, line: u32, column: u32) -> Result<Tok, ConfigError> {
        self.bump(); // the opening quote
                     // Bytes, because `\xHH` escapes may spell out multi-byte UTF-8 sequences.
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(
                    line,
                    column,
                    "unterminated string: expected a closing '\"' before end of file",
                ));
            };
            match c {
                '"' => break,
                '\\' => {
                    let (esc_line, esc_column) = (self.line, self.column - 1);
                    match self.peek() {
                        Some('n') => self.push_escape(&mut bytes, b'\n'),
                        Some('r') => self.push_escape(&mut bytes, b'\r'),
                        Some('t') => self.push_escape(&mut bytes, b'\t'),
                        Some('f') => self.push_escape(&mut bytes, b'\x0c'),
                        Some('\\') => self.push_escape(&mut bytes, b'\\'),
                        Some('"') => self.push_escape(&mut bytes, b'"'),
                        Some('x' | 'X')
                            if self.peek_at(1).is_some_and(|c| c.is_ascii_hexdigit())
                                && self.peek_at(2).is_some_and(|c| c.is_ascii_hexdigit()) =>
                        {
                            self.bump();
                            let hi = self.bump().and_then(|c| c.to_digit(16)).unwrap_or(0);
                            let lo = self.bump().and_then(|c| c.to_digit(16)).unwrap_or(0);
                            let byte = (hi * 16 + lo) as u8;
                            if byte == 0 {
                                return Err(self.error(
                                    esc_line,
                                    esc_column,
                                    "'\\x00' is not allowed in strings",
                                ));
                            }
                            bytes.push(byte);
                        }
                        // Any other backslash stays literal (libconfig does the same), which
                        // keeps regular expressions such as "^SELECT\s" intact.
                        _ => bytes.push(b'\\'),
                    }
                }
                other => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map(Tok::Str).map_err(|_| {
            self.error(
                line,
                column,
                "string is not valid UTF-8 after resolving its '\\x' escapes",
            )
        })
    }

    fn push_escape(&mut self, bytes: &mut Vec<u8>, byte: u8) {
        self.bump();
        bytes.push(byte);
    }

    /// Reads everything that could belong to a number and then validates it as a whole, so
    /// that `12ab` or `0x` are reported as one bad number rather than as a confusing pair of
    /// tokens.
    fn number(&mut self, line: u32, column: u32) -> Result<Tok, ConfigError> {
        let mut text = String::new();
        if let Some(sign @ ('+' | '-')) = self.peek() {
            text.push(sign);
            self.bump();
        }
        while let Some(c) = self.peek() {
            // A sign inside a number only belongs to a decimal exponent (`1e-3`).
            let exponent_sign =
                matches!(c, '+' | '-') && text.ends_with(['e', 'E']) && !text.contains(['x', 'X']);
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign {
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        parse_number(&text)
            .map_err(|why| self.error(line, column, format!("invalid number '{text}': {why}")))
    }
}

/// Classifies and converts a numeric literal the way libconfig's scanner does.
fn parse_number(text: &str) -> Result<Tok, &'static str> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if unsigned.is_empty() {
        return Err("expected digits");
    }

    // Hexadecimal: libconfig has no signed hex, `-0x1` is not a number.
    if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        if text.len() != unsigned.len() {
            return Err("hexadecimal numbers cannot have a sign");
        }
        let (digits, long) = strip_long_suffix(hex);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("expected hexadecimal digits after '0x'");
        }
        let value = u64::from_str_radix(digits, 16).map_err(|_| "hexadecimal value too large")?;
        // Hex literals are stored as raw bit patterns, so 0xFFFFFFFF reads as -1 like in
        // libconfig.
        return if long {
            Ok(Tok::Int64(value as i64))
        } else {
            u32::try_from(value)
                .map(|v| Tok::Int(v as i32))
                .map_err(|_| "hexadecimal value does not fit 32 bits (add an 'L' suffix)")
        };
    }

    let (digits, long) = strip_long_suffix(unsigned);
    if digits.chars().all(|c| c.is_ascii_digit()) {
        if digits.is_empty() {
            return Err("expected digits");
        }
        if long {
            // libconfig reads `…L` with atoll: always decimal, even with a leading zero.
            let value: i64 = signed(digits, negative, 10).ok_or("integer out of 64-bit range")?;
            return Ok(Tok::Int64(value));
        }
        // Without a suffix libconfig uses strtoll(…, 0): a leading zero means octal.
        let radix = if digits.len() > 1 && digits.starts_with('0') {
            if !digits.chars().all(|c| ('0'..='7').contains(&c)) {
                return Err("a leading 0 means octal, and octal digits are 0-7");
            }
            8
        } else {
            10
        };
        let value = signed(digits, negative, radix).ok_or("integer out of 64-bit range")?;
        return Ok(match i32::try_from(value) {
            Ok(small) => Tok::Int(small),
            Err(_) => Tok::Int64(value),
        });
    }

    if long {
        return Err("only integers take an 'L' suffix");
    }
    if is_float_literal(unsigned) {
        return unsigned
            .parse::<f64>()
            .map(|f| Tok::Float(if negative { -f } else { f }))
            .map_err(|_| "malformed floating-point number");
    }
    Err("expected a decimal, hexadecimal or floating-point number")
}

fn strip_long_suffix(text: &str) -> (&str, bool) {
    if let Some(rest) = text.strip_suffix("LL") {
        (rest, true)
    } else if let Some(rest) = text.strip_suffix('L') {
        (rest, true)
    } else {
        (text, false)
    }
}

fn signed(digits: &str, negative: bool, radix: u32) -> Option<i64> {
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// libconfig's float forms: `1.5`, `1.`, `.5`, `1e3`, `1.5e-3`, `.5E+2` (at least one digit).
fn is_float_literal(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int_part)
        && frac_part.is_none_or(digits)
        && (!int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty()));
    let exponent_ok = match exponent {
        None => frac_part.is_some(),
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
    };
    mantissa_ok && exponent_ok
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// The setting being read (or just read) has a secret name: its tokens are described by
    /// kind only, never by their text.
    secret: bool,
}

/// Where a setting list ends: at a `}` (inside a group opened at the given position) or at the
/// end of the file.
type GroupOpen = Option<(u32, u32)>;

impl Parser {
    /// How `tok` is named in a message: by kind only inside a secret setting.
    fn describe(&self, tok: &Tok) -> String {
        if !self.secret {
            return tok.describe();
        }
        match tok {
            Tok::Name(_) => "a name (not shown: secret setting)".to_owned(),
            Tok::Str(_) => "a string (not shown: secret setting)".to_owned(),
            Tok::Bool(_) | Tok::Int(_) | Tok::Int64(_) | Tok::Float(_) => {
                "a value (not shown: secret setting)".to_owned()
            }
            other => other.describe(),
        }
    }

    fn peek(&self) -> &Token {
        // The stream always ends with Eof or Error, and no rule consumes either.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.pos += 1;
        }
        token
    }

    /// The error for an unexpected `token`: the lexer's own error if it is bad input, else
    /// `message`; either way with a hint when a string just before it spans lines, the usual
    /// sign of a missing closing quote.
    fn error_at(&self, token: &Token, message: impl Into<String>) -> ConfigError {
        let mut error = match &token.tok {
            Tok::Error(e) => e.clone(),
            _ => ConfigError::new(token.line, token.column, message),
        };
        let index = self
            .tokens
            .iter()
            .position(|t| (t.line, t.column) == (token.line, token.column));
        if let Some(previous) = index
            .and_then(|i| i.checked_sub(1))
            .map(|i| &self.tokens[i])
        {
            if matches!(&previous.tok, Tok::Str(s) if s.contains('\n')) {
                error.message.push_str(&format!(
                    " (the string starting at {}:{} runs over several lines: is its closing '\"' missing?)",
                    previous.line, previous.column
                ));
            }
        }
        error
    }

    fn enter(&mut self, token: &Token) -> Result<(), ConfigError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                token,
                format!("nesting deeper than {MAX_DEPTH} levels is not supported"),
            ));
        }
        Ok(())
    }

    /// A sequence of settings, ending at `}` when inside a group or at end of file otherwise.
    fn settings(&mut self, group: GroupOpen) -> Result<Vec<Setting>, ConfigError> {
        let mut settings: Vec<Setting> = Vec::new();
        let mut first_lines: HashMap<String, u32> = HashMap::new();
        // Whether the previous setting was closed by `;` or `,`: only matters for choosing the
        // more helpful message when the next token is not a name.
        let mut terminated = true;
        loop {
            let token = self.peek().clone();
            match (&token.tok, group) {
                (Tok::Name(_), _) => {
                    let setting = self.setting()?;
                    if let Some(first_line) = first_lines.get(&setting.name) {
                        return Err(ConfigError::new(
                            setting.line,
                            setting.column,
                            format!(
                                "duplicate setting '{}' (first defined at line {first_line})",
                                setting.name
                            ),
                        ));
                    }
                    first_lines.insert(setting.name.clone(), setting.line);
                    settings.push(setting);
                    terminated = matches!(self.peek().tok, Tok::Semicolon | Tok::Comma);
                    if terminated {
                        self.next();
                    }
                }
                (Tok::GroupClose, Some(_)) => {
                    self.next();
                    return Ok(settings);
                }
                (Tok::Eof, None) => return Ok(settings),
                (Tok::Eof, Some((line, column))) => {
                    return Err(self.error_at(
                        &token,
                        format!(
                            "expected '}}' to close the group opened at {line}:{column}, \
                             found end of file"
                        ),
                    ))
                }
                (Tok::GroupClose, None) => {
                    return Err(self.error_at(&token, "unmatched '}': no group is open here"))
                }
                (found, _) if !terminated => {
                    return Err(self.error_at(
                        &token,
                        format!("expected ';' after value, found {}", self.describe(found)),
                    ))
                }
                (found, _) => {
                    return Err(self.error_at(
                        &token,
                        format!("expected a setting name, found {}", self.describe(found)),
                    ))
                }
            }
        }
    }

    fn setting(&mut self) -> Result<Setting, ConfigError> {
        let name_token = self.next();
        let Tok::Name(name) = name_token.tok else {
            unreachable!("setting() is only called on a name token")
        };
        self.secret = super::is_secret_name(&name);
        let assign = self.next();
        if assign.tok != Tok::Assign {
            return Err(self.error_at(
                &assign,
                format!(
                    "expected '=' or ':' after setting name '{name}', found {}",
                    self.describe(&assign.tok)
                ),
            ));
        }
        let value = self.value()?;
        Ok(Setting {
            name,
            line: name_token.line,
            column: name_token.column,
            value,
        })
    }

    fn value(&mut self) -> Result<Value, ConfigError> {
        let token = self.peek().clone();
        let kind = match token.tok {
            Tok::GroupOpen => {
                self.next();
                self.enter(&token)?;
                let members = self.settings(Some((token.line, token.column)))?;
                self.depth -= 1;
                ValueKind::Group(members)
            }
            Tok::ListOpen => {
                self.next();
                self.enter(&token)?;
                let items = self.list(&token)?;
                self.depth -= 1;
                ValueKind::List(items)
            }
            Tok::ArrayOpen => {
                self.next();
                let items = self.array(&token)?;
                ValueKind::Array(items)
            }
            _ => match self.scalar() {
                Some(kind) => kind,
                None => {
                    return Err(self.error_at(
                        &token,
                        format!(
                            "expected a value (string, number, boolean, '{{', '(' or '['), \
                             found {}",
                            self.describe(&token.tok)
                        ),
                    ))
                }
            },
        };
        Ok(Value {
            kind,
            line: token.line,
            column: token.column,
        })
    }

    /// A scalar at the current token, joining adjacent string literals; `None` (nothing
    /// consumed) if the current token is not a scalar.
    fn scalar(&mut self) -> Option<ValueKind> {
        let kind = match &self.peek().tok {
            Tok::Bool(b) => ValueKind::Bool(*b),
            Tok::Int(i) => ValueKind::Int(*i),
            Tok::Int64(i) => ValueKind::Int64(*i),
            Tok::Float(f) => ValueKind::Float(*f),
            Tok::Str(_) => {
                let mut joined = String::new();
                while let Tok::Str(part) = &self.peek().tok {
                    joined.push_str(part);
                    self.next();
                }
                return Some(ValueKind::String(joined));
            }
            _ => return None,
        };
        self.next();
        Some(kind)
    }

    fn list(&mut self, open: &Token) -> Result<Vec<Value>, ConfigError> {
        let mut items = Vec::new();
        loop {
            if self.peek().tok == Tok::ListClose {
                self.next();
                return Ok(items);
            }
            if self.peek().tok == Tok::Eof {
                return Err(self.unclosed(open, "')'", "list"));
            }
            items.push(self.value()?);
            let after = self.next();
            match &after.tok {
                Tok::Comma => {}
                Tok::ListClose => return Ok(items),
                Tok::Eof => return Err(self.unclosed(open, "')'", "list")),
                found => {
                    return Err(self.error_at(
                        &after,
                        format!(
                            "expected ',' or ')' after list element, found {}",
                            self.describe(found)
                        ),
                    ))
                }
            }
        }
    }

    fn array(&mut self, open: &Token) -> Result<Vec<Value>, ConfigError> {
        let mut items: Vec<Value> = Vec::new();
        loop {
            let token = self.peek().clone();
            match token.tok {
                Tok::ArrayClose => {
                    self.next();
                    return Ok(items);
                }
                Tok::Eof => return Err(self.unclosed(open, "']'", "array")),
                _ => {}
            }
            let Some(kind) = self.scalar() else {
                return Err(self.error_at(
                    &token,
                    format!(
                        "expected a scalar array element (arrays hold only strings, numbers or \
                         booleans; use a list '( )' for anything else), found {}",
                        self.describe(&token.tok)
                    ),
                ));
            };
            let item = Value {
                kind,
                line: token.line,
                column: token.column,
            };
            if let Some(first) = items.first() {
                if std::mem::discriminant(&first.kind) != std::mem::discriminant(&item.kind) {
                    return Err(self.error_at(
                        &token,
                        format!(
                            "mismatched element type in array: expected {} like the first \
                             element, found {}",
                            first.type_name(),
                            item.type_name()
                        ),
                    ));
                }
            }
            items.push(item);
            let after = self.next();
            match &after.tok {
                Tok::Comma => {}
                Tok::ArrayClose => return Ok(items),
                Tok::Eof => return Err(self.unclosed(open, "']'", "array")),
                found => {
                    return Err(self.error_at(
                        &after,
                        format!(
                            "expected ',' or ']' after array element, found {}",
                            self.describe(found)
                        ),
                    ))
                }
            }
        }
    }

    fn unclosed(&self, open: &Token, closer: &str, what: &str) -> ConfigError {
        let eof = self.peek();
        self.error_at(
            eof,
            format!(
                "expected {closer} to close the {what} opened at {}:{}, found end of file",
                open.line, open.column
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> ValueKind {
        let settings = parse(&format!("v = {text};")).unwrap_or_else(|e| panic!("{text}: {e}"));
        settings.into_iter().next().expect("one setting").value.kind
    }

    fn err(text: &str) -> ConfigError {
        parse(text).expect_err("should not parse")
    }

    #[test]
    fn integers_follow_libconfig() {
        assert_eq!(kind("42"), ValueKind::Int(42));
        assert_eq!(kind("-42"), ValueKind::Int(-42));
        assert_eq!(kind("+7"), ValueKind::Int(7));
        assert_eq!(kind("0"), ValueKind::Int(0));
        assert_eq!(kind("010"), ValueKind::Int(8), "leading zero is octal");
        assert_eq!(kind("010L"), ValueKind::Int64(10), "L-suffixed is decimal");
        assert_eq!(kind("0x1F"), ValueKind::Int(31));
        assert_eq!(kind("0XfF"), ValueKind::Int(255));
        assert_eq!(kind("0xFFFFFFFF"), ValueKind::Int(-1));
        assert_eq!(kind("0x100000000L"), ValueKind::Int64(1 << 32));
        assert_eq!(kind("2147483647"), ValueKind::Int(i32::MAX));
        assert_eq!(kind("2147483648"), ValueKind::Int64(2_147_483_648));
        assert_eq!(kind("-2147483648"), ValueKind::Int(i32::MIN));
        assert_eq!(kind("5L"), ValueKind::Int64(5));
        assert_eq!(kind("5LL"), ValueKind::Int64(5));
        assert_eq!(
            kind("9223372036854775807"),
            ValueKind::Int64(i64::MAX),
            "largest 64-bit value"
        );
    }

    #[test]
    fn floats_and_booleans() {
        assert_eq!(kind("1.5"), ValueKind::Float(1.5));
        assert_eq!(kind("-.5"), ValueKind::Float(-0.5));
        assert_eq!(kind("2."), ValueKind::Float(2.0));
        assert_eq!(kind("1e3"), ValueKind::Float(1000.0));
        assert_eq!(kind("1.5E-1"), ValueKind::Float(0.15));
        assert_eq!(kind("true"), ValueKind::Bool(true));
        assert_eq!(kind("TRUE"), ValueKind::Bool(true));
        assert_eq!(kind("False"), ValueKind::Bool(false));
    }

    #[test]
    fn bad_numbers_are_named() {
        for bad in [
            "12ab",
            "0x",
            "0xZZ",
            "08",
            "1.5L",
            "9223372036854775808",
            "1e",
            ".",
        ] {
            let e = err(&format!("v = {bad};"));
            assert_eq!((e.line, e.column), (1, 5), "{bad}");
            assert!(
                e.message.starts_with(&format!("invalid number '{bad}'")),
                "{bad}: {}",
                e.message
            );
        }
        assert!(err("v = 0x100000000;").message.contains("32 bits"));
        assert!(err("v = 08;").message.contains("octal"));
    }

    #[test]
    fn strings_escapes_and_concatenation() {
        assert_eq!(
            kind(r#""a\"b\\c\n\t\x41""#),
            ValueKind::String("a\"b\\c\n\tA".into())
        );
        assert_eq!(
            kind(r#""^SELECT\s.*FOR UPDATE$""#),
            ValueKind::String(r"^SELECT\s.*FOR UPDATE$".into()),
            "unknown escapes stay literal"
        );
        assert_eq!(
            kind("\"abc\" /* c */ \"def\"\n  # x\n \"ghi\""),
            ValueKind::String("abcdefghi".into())
        );
        assert_eq!(kind(r#""\xC3\xA9""#), ValueKind::String("é".into()));
        assert_eq!(
            kind("\"two\nlines\""),
            ValueKind::String("two\nlines".into())
        );
        assert!(err(r#"v = "\x00";"#).message.contains("\\x00"));
        assert!(err(r#"v = "\xff";"#).message.contains("UTF-8"));
    }

    #[test]
    fn grammar_shapes() {
        let settings = parse(
            "a = 1\nb : 2,\nc = { d = \"x\"; e = [1, 2, 3,]; f = (); g = ({x=1},{x=2},); };\nh=[]",
        )
        .expect("parses");
        let names: Vec<_> = settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "h"]);
        let c = &settings[2].value;
        assert_eq!((c.line, c.column), (3, 5));
        assert_eq!(c.get("d").and_then(Value::as_str), Some("x"));
        assert_eq!(c.get("e").map(|v| v.elements().len()), Some(3));
        assert_eq!(c.get("f").map(|v| v.elements().len()), Some(0));
        let g = c.get("g").expect("g");
        assert_eq!(g.elements().len(), 2);
        assert_eq!(g.elements()[1].get("x").and_then(Value::as_int), Some(2));
        assert_eq!(parse("").expect("empty file"), Vec::new());
        assert_eq!(
            parse("# only a comment\n// and another\n/* and a block */").map(|s| s.len()),
            Ok(0)
        );
    }

    #[test]
    fn byte_order_mark_is_skipped_and_positions_start_after_it() {
        let settings = parse("\u{feff}a = 1").expect("parses");
        assert_eq!((settings[0].line, settings[0].column), (1, 1));
    }

    #[test]
    fn value_accessors() {
        let settings = parse("a = 5; b = 5L; c = \"s\"; d = true").expect("parses");
        let v: Vec<&Value> = settings.iter().map(|s| &s.value).collect();
        assert_eq!((v[0].as_int(), v[0].as_i64()), (Some(5), Some(5)));
        assert_eq!((v[1].as_int(), v[1].as_i64()), (None, Some(5)));
        assert_eq!((v[2].as_str(), v[2].as_bool()), (Some("s"), None));
        assert_eq!((v[3].as_bool(), v[3].type_name()), (Some(true), "boolean"));
        assert!(v[0].members().is_empty() && v[0].elements().is_empty() && v[0].get("x").is_none());
    }

    #[test]
    fn names_may_contain_dashes_and_stars() {
        let settings = parse("mysql-threads = 4; *x* = 1").expect("parses");
        assert_eq!(settings[0].name, "mysql-threads");
        assert_eq!(settings[1].name, "*x*");
    }

    #[test]
    fn positions_count_characters_and_lines() {
        let settings = parse("\n\n  é_ignored = 1").map(|s| s.len());
        // 'é' is not a name character: the error must sit on line 3, column 3.
        let e = settings.expect_err("non-ASCII name");
        assert_eq!((e.line, e.column), (3, 3));
        let s = parse("x = \"é\"; y = 1").expect("parses");
        assert_eq!((s[1].line, s[1].column), (1, 10));
    }

    #[test]
    fn syntax_errors_say_what_was_expected() {
        let e = err("a = 1 2;");
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (1, 7, "expected ';' after value, found integer 2")
        );
        let e = err("a = 1;\n2");
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.message, "expected a setting name, found integer 2");
        let e = err("a 1;");
        assert_eq!(
            e.message,
            "expected '=' or ':' after setting name 'a', found integer 1"
        );
        let e = err("a = ;");
        assert!(e.message.starts_with("expected a value"), "{}", e.message);
        let e = err("a = (1 2)");
        assert_eq!(
            (e.column, e.message.as_str()),
            (8, "expected ',' or ')' after list element, found integer 2")
        );
        let e = err("a = (1,,2)");
        assert_eq!(e.column, 8);
        let e = err("a = [1, \"x\"]");
        assert!(
            e.message.starts_with("mismatched element type"),
            "{}",
            e.message
        );
        let e = err("a = [1, 2L]");
        assert!(
            e.message.starts_with("mismatched element type"),
            "{}",
            e.message
        );
        let e = err("a = [{b=1}]");
        assert!(
            e.message.starts_with("expected a scalar array element"),
            "{}",
            e.message
        );
        let e = err("true = 1");
        assert_eq!(e.message, "expected a setting name, found boolean true");
        let e = err("a = 1; a = 2;");
        assert_eq!((e.line, e.column), (1, 8));
        assert_eq!(e.message, "duplicate setting 'a' (first defined at line 1)");
        let e = err("a = 1;\n}");
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (2, 1, "unmatched '}': no group is open here")
        );
        let e = err("a = 1;\n  @include \"other.cfg\"");
        assert_eq!((e.line, e.column), (2, 3));
        let e = err("a = 1 $");
        assert_eq!(
            (e.column, e.message.as_str()),
            (7, "unexpected character '$'")
        );
    }

    #[test]
    fn unterminated_constructs_point_at_their_start() {
        let e = err("a = 1;\nb = \"never closed;\nc = 2;\n");
        assert_eq!((e.line, e.column), (2, 5));
        assert!(e.message.starts_with("unterminated string"));
        let e = err("a = 1;\n  /* never closed\n b = 2;");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.starts_with("unterminated comment"));
        let e = err("g = {\n  a = 1;\n");
        assert_eq!((e.line, e.column), (3, 1));
        assert_eq!(
            e.message,
            "expected '}' to close the group opened at 1:5, found end of file"
        );
        let e = err("l = (\n  1,\n");
        assert_eq!(
            e.message,
            "expected ')' to close the list opened at 1:5, found end of file"
        );
        let e = err("l = [1,");
        assert_eq!(
            e.message,
            "expected ']' to close the array opened at 1:5, found end of file"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("a = {}{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = err(&text);
        assert!(e.message.contains("nesting"), "{}", e.message);
    }
}
