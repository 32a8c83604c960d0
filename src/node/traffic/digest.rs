//! Query digests: the normalised statement text ProxySQL groups statistics by and matches
//! `match_digest` against, and its 64-bit hash.
//!
//! The rules follow ProxySQL's tokenizer (`lib/c_tokenizer.cpp`) with its defaults: comments
//! dropped, string and number literals replaced by `?`, whitespace runs collapsed to one
//! space, no space after `(`, before `)` or around `,`, no space between an arithmetic
//! operator and a `?`, a unary sign in front of a literal dropped, value lists longer than
//! `grouping_limit` shortened to `(?,?,?,...)`, runs of more than `groups_grouping_limit`
//! such groups shortened to `...`, trailing spaces and `;` removed, the text cut at
//! `max_length` bytes. The hash is SpookyHash V2 (seed 0) of the text, as `Hash64` computes.

use crate::proxysql::checksum::spooky;

/// Digest settings (`mysql-query_digests_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestOptions {
    /// `mysql-query_digests_lowercase`.
    pub lowercase: bool,
    /// `mysql-query_digests_replace_null`: `NULL` becomes `?`.
    pub replace_null: bool,
    /// `mysql-query_digests_no_digits`: digits inside identifiers become `?` too.
    pub no_digits: bool,
    /// `mysql-query_digests_grouping_limit`: values kept in a `(?,?,...)` list; 0 disables.
    pub grouping_limit: usize,
    /// `mysql-query_digests_groups_grouping_limit`: groups kept in `(..),(..)` runs; 0 disables.
    pub groups_grouping_limit: usize,
    /// `mysql-query_digests_max_digest_length`.
    pub max_length: usize,
}

impl Default for DigestOptions {
    fn default() -> Self {
        Self {
            lowercase: false,
            replace_null: false,
            no_digits: false,
            grouping_limit: 3,
            groups_grouping_limit: 10,
            max_length: 2048,
        }
    }
}

/// The 64-bit digest of a digest text (`SpookyHash::Hash64(text, len, 0)`).
pub fn digest_hash(text: &str) -> u64 {
    spooky::hash128(text.as_bytes(), 0, 0).0
}

/// Renders a digest as `stats_mysql_query_digest` shows it: `0x` and 16 upper-case hex digits.
pub fn render_digest(digest: u64) -> String {
    format!("0x{digest:016X}")
}

/// Parses a rule's `digest` column (`0x…`, any case, padded or not).
pub fn parse_digest(text: &str) -> Option<u64> {
    let hex = text
        .trim()
        .strip_prefix("0x")
        .or_else(|| text.trim().strip_prefix("0X"))?;
    u64::from_str_radix(hex, 16).ok()
}

/// Letters, digits, `$` and `_`: characters that continue an identifier or keyword.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'$' || b == b'_'
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn is_arith(b: u8) -> bool {
    matches!(b, b'+' | b'-' | b'*' | b'/' | b'%')
}

/// Writes the digest text of `query` into `out` (cleared first), reusing its allocation.
pub fn digest_text_into(query: &[u8], opts: &DigestOptions, out: &mut String) {
    let mut buf = std::mem::take(out).into_bytes();
    buf.clear();
    tokenize(query, opts, &mut buf);
    compress(&mut buf);
    if opts.grouping_limit > 0 {
        group_values(&mut buf, opts.grouping_limit);
        if opts.groups_grouping_limit > 0 {
            group_groups(&mut buf, opts.groups_grouping_limit);
        }
    }
    if buf.len() > opts.max_length {
        buf.truncate(opts.max_length);
    }
    while matches!(buf.last(), Some(b' ' | b';')) {
        buf.pop();
    }
    *out = match String::from_utf8(buf) {
        Ok(s) => s,
        // Cutting at max_length may split a character, and queries need not be UTF-8.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
}

/// Convenience wrapper returning a fresh string.
pub fn digest_text(query: &[u8], opts: &DigestOptions) -> String {
    let mut out = String::new();
    digest_text_into(query, opts, &mut out);
    out
}

/// Pass 1: comments out, literals to `?`, whitespace collapsed.
fn tokenize(q: &[u8], opts: &DigestOptions, out: &mut Vec<u8>) {
    let mut i = 0;
    let push_space = |out: &mut Vec<u8>| {
        if !out.is_empty() && out.last() != Some(&b' ') {
            out.push(b' ');
        }
    };
    while i < q.len() {
        let c = q[i];
        let prev = out.last().copied().unwrap_or(b' ');
        if c == b'/' && q.get(i + 1) == Some(&b'*') {
            let end = find(q, i + 2, b"*/").map_or(q.len(), |e| e + 2);
            i = end;
            push_space(out);
        } else if c == b'#'
            || (c == b'-'
                && q.get(i + 1) == Some(&b'-')
                && q.get(i + 2).is_none_or(|&b| is_space(b)))
        {
            while i < q.len() && q[i] != b'\n' {
                i += 1;
            }
            push_space(out);
        } else if c == b'\'' || c == b'"' {
            i = skip_string(q, i);
            out.push(b'?');
        } else if c == b'`' {
            // Quoted identifiers are copied as they are: digits in them are not literals.
            let end = q[i + 1..]
                .iter()
                .position(|&b| b == b'`')
                .map_or(q.len(), |p| i + 1 + p + 1);
            out.extend_from_slice(&q[i..end]);
            i = end;
        } else if is_space(c) {
            push_space(out);
            i += 1;
        } else if c.is_ascii_digit() && !is_word(prev) {
            let end = number_end(q, i);
            if is_number(&q[i..end]) && !q.get(end).is_some_and(|&b| is_word(b)) {
                out.push(b'?');
            } else {
                // `1abc`-style identifier: copy the word.
                let word_end = q[i..]
                    .iter()
                    .position(|&b| !is_word(b))
                    .map_or(q.len(), |p| i + p);
                copy_word(&q[i..word_end], opts, out);
                i = word_end;
                continue;
            }
            i = end;
        } else if opts.replace_null
            && !is_word(prev)
            && q.len() >= i + 4
            && q[i..i + 4].eq_ignore_ascii_case(b"null")
            && !q.get(i + 4).is_some_and(|&b| is_word(b))
        {
            out.push(b'?');
            i += 4;
        } else if is_word(c) {
            let end = q[i..]
                .iter()
                .position(|&b| !is_word(b))
                .map_or(q.len(), |p| i + p);
            copy_word(&q[i..end], opts, out);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
}

fn copy_word(word: &[u8], opts: &DigestOptions, out: &mut Vec<u8>) {
    for &b in word {
        if opts.no_digits && b.is_ascii_digit() {
            if out.last() != Some(&b'?') {
                out.push(b'?');
            }
        } else if opts.lowercase {
            out.push(b.to_ascii_lowercase());
        } else {
            out.push(b);
        }
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// Index just past the string literal opening at `start` (backslash and doubled-quote escapes).
fn skip_string(q: &[u8], start: usize) -> usize {
    let quote = q[start];
    let mut i = start + 1;
    while i < q.len() {
        match q[i] {
            b'\\' => i += 2,
            b if b == quote => {
                if q.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    q.len()
}

/// End of the candidate numeric literal at `start`: digits, hex digits after `0x`, a decimal
/// point and an exponent with optional sign.
fn number_end(q: &[u8], start: usize) -> usize {
    let mut i = start;
    if q[i] == b'0' && matches!(q.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < q.len() && q[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < q.len() {
        let b = q[i];
        if b.is_ascii_digit() || b == b'.' {
            i += 1;
        } else if (b == b'e' || b == b'E')
            && (q.get(i + 1).is_some_and(u8::is_ascii_digit)
                || (matches!(q.get(i + 1), Some(b'+' | b'-'))
                    && q.get(i + 2).is_some_and(u8::is_ascii_digit)))
        {
            i += 2;
        } else {
            break;
        }
    }
    i
}

fn is_number(s: &[u8]) -> bool {
    if s.len() > 2 && (s[1] == b'x' || s[1] == b'X') {
        return s[2..].iter().all(u8::is_ascii_hexdigit);
    }
    s.iter().filter(|&&b| b == b'.').count() <= 1 && s.first().is_some_and(u8::is_ascii_digit)
}

/// Pass 2: spaces around punctuation and unary signs.
fn compress(buf: &mut Vec<u8>) {
    let src = std::mem::take(buf);
    let out = buf;
    let n = src.len();
    let mut i = 0;
    while i < n {
        let c = src[i];
        if c == b' ' {
            let left = out.last().copied().unwrap_or(b'(');
            let right = src.get(i + 1).copied().unwrap_or(b')');
            let drop = left == b'('
                || right == b')'
                || left == b','
                || right == b','
                || (is_arith(left) && right == b'?')
                || (left == b'?' && is_arith(right));
            if !drop {
                out.push(b' ');
            }
        } else if (c == b'+' || c == b'-') && is_unary_sign(out, &src[i + 1..]) {
            // `= -5` and `(+1` digest like `= ?` and `(?`.
        } else {
            out.push(c);
        }
        i += 1;
    }
}

/// A sign directly (or after one space) before a `?`, following an operator or opening
/// punctuation rather than a value.
fn is_unary_sign(before: &[u8], after: &[u8]) -> bool {
    if !matches!(after, [b' ', b'?', ..] | [b'?', ..]) {
        return false;
    }
    let prev = before.iter().rev().find(|&&b| b != b' ').copied();
    match prev {
        None => true,
        Some(p) => !is_word(p) && p != b'?' && p != b')' && p != b'`',
    }
}

/// Pass 3: `(?,?,?,?,?)` becomes `(?,?,?,...)` when longer than `limit` values.
fn group_values(buf: &mut Vec<u8>, limit: usize) {
    let src = std::mem::take(buf);
    let out = buf;
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'(' {
            // Count a run `?,?,...,?)`.
            let mut j = i + 1;
            let mut count = 0;
            while src.get(j) == Some(&b'?') {
                count += 1;
                match src.get(j + 1) {
                    Some(b',') => j += 2,
                    _ => {
                        j += 1;
                        break;
                    }
                }
            }
            if count > limit && src.get(j) == Some(&b')') && src[j - 1] == b'?' {
                out.push(b'(');
                for k in 0..limit {
                    if k > 0 {
                        out.push(b',');
                    }
                    out.push(b'?');
                }
                out.extend_from_slice(b",...)");
                i = j + 1;
                continue;
            }
        }
        out.push(src[i]);
        i += 1;
    }
}

/// Pass 4: more than `limit` identical `(...)` groups in a comma-separated run keep the first
/// `limit` and end with `,...`.
fn group_groups(buf: &mut Vec<u8>, limit: usize) {
    let src = std::mem::take(buf);
    let out = buf;
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'(' {
            if let Some(close) = src[i..].iter().position(|&b| b == b')').map(|p| i + p) {
                let group = &src[i..=close];
                if group[1..group.len() - 1]
                    .iter()
                    .all(|&b| matches!(b, b'?' | b',' | b'.'))
                {
                    let mut count = 1;
                    let mut j = close + 1;
                    while src.get(j) == Some(&b',') && src[j + 1..].starts_with(group) {
                        count += 1;
                        j += 1 + group.len();
                    }
                    if count > limit {
                        for k in 0..limit {
                            if k > 0 {
                                out.push(b',');
                            }
                            out.extend_from_slice(group);
                        }
                        out.extend_from_slice(b",...");
                        i = j;
                        continue;
                    }
                }
            }
        }
        out.push(src[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(q: &str) -> String {
        digest_text(q.as_bytes(), &DigestOptions::default())
    }

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            d("SELECT c FROM sbtest1 WHERE id=42"),
            "SELECT c FROM sbtest1 WHERE id=?"
        );
        assert_eq!(
            d("select * from t where a = 'x''y' and b = \"q\\\"z\" and c = 1.5e-3"),
            "select * from t where a = ? and b = ? and c = ?"
        );
        assert_eq!(d("SELECT 0xFF, -7, x-1"), "SELECT ?,?,x-?");
        assert_eq!(d("select t1.c2 from t1"), "select t1.c2 from t1");
    }

    #[test]
    fn whitespace_and_comments_collapse() {
        assert_eq!(
            d("  SELECT\n\t*   FROM /* hint */ t -- tail\n WHERE  x IN ( 1 , 2 ) ;  "),
            "SELECT * FROM t WHERE x IN (?,?)"
        );
        assert_eq!(d("select 1 # comment"), "select ?");
        assert_eq!(d("select a--b from t"), "select a--b from t");
    }

    #[test]
    fn long_value_lists_are_grouped() {
        assert_eq!(
            d("SELECT * FROM t WHERE id IN (1,2,3,4,5,6)"),
            "SELECT * FROM t WHERE id IN (?,?,?,...)"
        );
        assert_eq!(
            d("SELECT * FROM t WHERE id IN (1,2,3)"),
            "SELECT * FROM t WHERE id IN (?,?,?)"
        );
        let many: Vec<String> = (0..12).map(|i| format!("({i},'v{i}')")).collect();
        let q = format!("INSERT INTO t VALUES {}", many.join(","));
        let expected = format!("INSERT INTO t VALUES {},...", ["(?,?)"; 10].join(","));
        assert_eq!(d(&q), expected);
    }

    #[test]
    fn scenario_insert_digest() {
        assert_eq!(
            d("insert into tab1 (col2) values ('hello 17')"),
            "insert into tab1 (col2) values (?)"
        );
    }

    #[test]
    fn options_change_the_text() {
        let opts = DigestOptions {
            lowercase: true,
            replace_null: true,
            no_digits: true,
            ..DigestOptions::default()
        };
        assert_eq!(
            digest_text(b"SELECT NULL FROM T2 WHERE x IS NULL", &opts),
            "select ? from t? where x is ?"
        );
        let short = DigestOptions {
            max_length: 6,
            ..DigestOptions::default()
        };
        assert_eq!(digest_text(b"SELECT 1 FROM dual", &short), "SELECT");
    }

    #[test]
    fn hash_is_spooky_hash64_and_renders_padded() {
        let text = "SELECT ?";
        assert_eq!(digest_hash(text), spooky::hash128(text.as_bytes(), 0, 0).0);
        assert_eq!(render_digest(0xAB), "0x00000000000000AB");
        assert_eq!(parse_digest("0x00000000000000ab"), Some(0xAB));
        assert_eq!(parse_digest("ab"), None);
    }

    #[test]
    fn odd_input_never_panics() {
        for q in [
            "",
            "'",
            "\"abc",
            "/*",
            "0x",
            "1e",
            "1e+",
            "(",
            ")",
            "(?",
            "-",
            "--",
            "`",
            "((((",
            "1.2.3",
            "\u{e9}t\u{e9} 5",
        ] {
            let _ = d(q);
        }
        let bytes: Vec<u8> = (0u8..=255).collect();
        let _ = digest_text(&bytes, &DigestOptions::default());
    }
}
