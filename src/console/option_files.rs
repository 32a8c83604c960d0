//! The mysql client's option files (`my.cnf`), read as the `mariadb` client reads them.
//!
//! Files, in order, each skipped when missing: `/etc/my.cnf`, `/etc/mysql/my.cnf`,
//! `$MARIADB_HOME/my.cnf` (or `$MYSQL_HOME/my.cnf`), the `--defaults-extra-file`, `~/.my.cnf`.
//! `--defaults-file=F` reads only F (it must exist); `--no-defaults` reads none. Groups
//! `[client]`, `[client-server]`, `[client-mariadb]`, `[mysql]` and `[mariadb-client]` apply;
//! `!include FILE` (skipped when missing, as the client does) and `!includedir DIR` (its `.cnf`
//! files in name order; a missing directory is an error) are followed where they stand.
//! A value may be quoted; unquoted, `#` starts a comment and `\t`, `\n`, `\\` ... are escapes.
//! An option without a group is an error, named by file and line like the client does.
//!
//! `~/.mylogin.cnf` (MySQL's `mysql_config_editor` file; the `mariadb` client ignores it) is
//! read last, as the mysql client does: groups `[client]` and `[mysql]`, plus `[NAME]` with
//! `--login-path=NAME`. Its obfuscation is documented by MySQL: 4 unused bytes, a 20-byte key
//! folded into an AES-128 key by XOR, then for each line a 4-byte little-endian length and the
//! line encrypted with AES-128-ECB and PKCS#7 padding. `$MYSQL_TEST_LOGIN_FILE` names another
//! file, as for the client.
//!
//! No ini crate is used: none handles `!include`/`!includedir`, valueless options and the
//! client's escape and comment rules, and the point is to read the same options the client
//! reads (`pxadm --print-defaults` prints them in `mariadb --print-defaults`'s form, and a test
//! compares the two).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The groups the `mariadb` command-line client reads.
pub const CLIENT_GROUPS: &[&str] = &[
    "client",
    "client-server",
    "client-mariadb",
    "mysql",
    "mariadb-client",
];

/// How deep `!include` may nest (a file including itself must not loop forever).
const MAX_INCLUDE_DEPTH: usize = 10;

/// Which option files to read (`--no-defaults`, `--defaults-file`, `--defaults-extra-file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Defaults {
    /// The standard list, plus an extra file read before `~/.my.cnf`.
    #[default]
    Standard,
    /// The standard list with `--defaults-extra-file`.
    Extra(PathBuf),
    /// Only this file (`--defaults-file`).
    Only(PathBuf),
    /// None (`--no-defaults`).
    None,
}

/// One option as found in a file: `name` as written (`skip_column_names`), `value` when
/// the line had `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOption {
    /// The option name as written.
    pub name: String,
    /// Its value, unquoted and unescaped.
    pub value: Option<String>,
}

impl ClientOption {
    /// The command-line form the client prints with `--print-defaults`.
    pub fn as_arg(&self) -> String {
        match &self.value {
            Some(v) => format!("--{}={v}", self.name),
            None => format!("--{}", self.name),
        }
    }

    /// The name as options are compared: lower case, `_` as `-`, without `loose-`.
    pub fn key(&self) -> String {
        let k = self.name.to_ascii_lowercase().replace('_', "-");
        k.strip_prefix("loose-").map(str::to_owned).unwrap_or(k)
    }
}

/// An option file that cannot be used, worded like the client's own messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionFileError {
    /// `--defaults-file` or `--defaults-extra-file` missing or unreadable.
    #[error("Could not open required defaults file: {path}: {cause}")]
    Required {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// An `!includedir` that cannot be listed.
    #[error("Can't read dir of '{path}': {cause}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// A line the format does not allow.
    #[error("{message} in config file: {path} at line: {line}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The standard files, in the client's order (`extra` before `~/.my.cnf`).
fn standard_files(extra: Option<&Path>) -> Vec<(PathBuf, bool)> {
    let mut files = vec![
        (PathBuf::from("/etc/my.cnf"), false),
        (PathBuf::from("/etc/mysql/my.cnf"), false),
    ];
    let home = std::env::var_os("MARIADB_HOME").or_else(|| std::env::var_os("MYSQL_HOME"));
    if let Some(dir) = home {
        files.push((PathBuf::from(dir).join("my.cnf"), false));
    }
    if let Some(extra) = extra {
        files.push((extra.to_path_buf(), true));
    }
    if let Some(home) = std::env::var_os("HOME") {
        files.push((PathBuf::from(home).join(".my.cnf"), false));
    }
    files
}

/// Reads the options of [`CLIENT_GROUPS`] from the files `defaults` selects, in file order
/// (plus `~/.mylogin.cnf` with [`read_with_login_path`]).
pub fn read(defaults: &Defaults) -> Result<Vec<ClientOption>, OptionFileError> {
    let files = match defaults {
        Defaults::None => return Ok(Vec::new()),
        Defaults::Only(f) => vec![(f.clone(), true)],
        Defaults::Standard => standard_files(None),
        Defaults::Extra(f) => standard_files(Some(f)),
    };
    let mut out = Vec::new();
    for (path, required) in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_into(&text, &path, 0, &mut out)?,
            Err(e) if required => {
                return Err(OptionFileError::Required {
                    path,
                    cause: e.to_string(),
                })
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

/// [`read`], then `~/.mylogin.cnf`'s `[client]`, `[mysql]` and `[login_path]` groups, as the
/// mysql client reads them (not with `--no-defaults`; with `--defaults-file` too).
pub fn read_with_login_path(
    defaults: &Defaults,
    login_path: Option<&str>,
) -> Result<Vec<ClientOption>, OptionFileError> {
    let mut options = read(defaults)?;
    if *defaults == Defaults::None {
        return Ok(options);
    }
    let file = std::env::var_os("MYSQL_TEST_LOGIN_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".mylogin.cnf")));
    let Some(file) = file else {
        return Ok(options);
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(_) => return Ok(options),
    };
    let text = decrypt_login_file(&bytes).map_err(|message| OptionFileError::Syntax {
        path: file.clone(),
        line: 0,
        message,
    })?;
    let mut groups = vec!["client", "mysql"];
    if let Some(name) = login_path {
        groups.push(name);
    }
    parse_groups(&text, &file, &groups, &mut options)?;
    Ok(options)
}

/// The plain text of a `.mylogin.cnf` (format in the module docs).
pub fn decrypt_login_file(bytes: &[u8]) -> Result<String, String> {
    use aes::cipher::{generic_array::GenericArray, BlockDecrypt, KeyInit};
    const KEY_LEN: usize = 20;
    let key = bytes
        .get(4..4 + KEY_LEN)
        .ok_or("too short for a login file")?;
    let mut aes_key = [0u8; 16];
    for (i, b) in key.iter().enumerate() {
        aes_key[i % 16] ^= b;
    }
    let cipher = aes::Aes128::new(&GenericArray::from(aes_key));
    let mut rest = &bytes[4 + KEY_LEN..];
    let mut text = Vec::new();
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated line length")?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let chunk = rest.get(4..4 + len).ok_or("truncated line")?;
        if len == 0 || len % 16 != 0 {
            return Err(format!("a line of {len} bytes is not AES blocks"));
        }
        let mut plain = chunk.to_vec();
        for block in plain.chunks_mut(16) {
            cipher.decrypt_block(GenericArray::from_mut_slice(block));
        }
        let pad = usize::from(*plain.last().ok_or("empty line")?);
        if pad == 0 || pad > 16 || pad > plain.len() {
            return Err("bad padding (not a login file, or a damaged one)".into());
        }
        plain.truncate(plain.len() - pad);
        text.extend_from_slice(&plain);
        rest = &rest[4 + len..];
    }
    String::from_utf8(text).map_err(|_| "not UTF-8 once decrypted".to_owned())
}

/// Parses one file's text, following its includes, appending the client groups' options.
fn parse_into(
    text: &str,
    path: &Path,
    depth: usize,
    out: &mut Vec<ClientOption>,
) -> Result<(), OptionFileError> {
    parse_groups_at(text, path, depth, CLIENT_GROUPS, out)
}

/// [`parse_into`] for other groups than the client's (the login file's).
fn parse_groups(
    text: &str,
    path: &Path,
    groups: &[&str],
    out: &mut Vec<ClientOption>,
) -> Result<(), OptionFileError> {
    parse_groups_at(text, path, 0, groups, out)
}

fn parse_groups_at(
    text: &str,
    path: &Path,
    depth: usize,
    groups: &[&str],
    out: &mut Vec<ClientOption>,
) -> Result<(), OptionFileError> {
    let syntax = |line: usize, message: &str| OptionFileError::Syntax {
        path: path.to_path_buf(),
        line,
        message: message.to_owned(),
    };
    let mut group: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let (word, arg) = directive
                .split_once(char::is_whitespace)
                .map(|(w, a)| (w, a.trim()))
                .unwrap_or((directive, ""));
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(syntax(i + 1, "!include nested too deep"));
            }
            match word {
                "include" => {
                    let target = PathBuf::from(arg);
                    // A missing !include is skipped, as the client does.
                    if let Ok(t) = std::fs::read_to_string(&target) {
                        parse_into(&t, &target, depth + 1, out)?;
                    }
                }
                "includedir" => {
                    let dir = PathBuf::from(arg);
                    let entries = std::fs::read_dir(&dir).map_err(|e| OptionFileError::Dir {
                        path: dir.clone(),
                        cause: e.to_string(),
                    })?;
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "cnf"))
                        .collect();
                    files.sort();
                    for f in files {
                        if let Ok(t) = std::fs::read_to_string(&f) {
                            parse_into(&t, &f, depth + 1, out)?;
                        }
                    }
                }
                _ => return Err(syntax(i + 1, &format!("Wrong '!' directive '{word}'"))),
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .split_once(']')
                .map(|(n, _)| n.trim())
                .ok_or_else(|| syntax(i + 1, "Wrong group definition"))?;
            group = Some(groups.iter().any(|g| g.eq_ignore_ascii_case(name)));
            continue;
        }
        match group {
            None => return Err(syntax(i + 1, "Found option without preceding group")),
            Some(false) => {}
            Some(true) => out.push(parse_option(line)),
        }
    }
    Ok(())
}

/// `name`, `name = value`, `name = "quoted value"`, `name = value # comment`.
fn parse_option(line: &str) -> ClientOption {
    let Some((name, value)) = line.split_once('=') else {
        return ClientOption {
            name: strip_comment(line).trim().to_owned(),
            value: None,
        };
    };
    let value = value.trim();
    let quoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.split_once(*q)))
        .map(|(inside, _)| inside.to_owned());
    let value = quoted.unwrap_or_else(|| unescape(strip_comment(value).trim()));
    ClientOption {
        name: name.trim().to_owned(),
        value: Some(value),
    }
}

fn strip_comment(value: &str) -> &str {
    value.split_once('#').map_or(value, |(v, _)| v)
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The options in `mariadb --print-defaults`'s form: one line, each argument followed by a
/// space. The client shows passwords there too; so does this, as it is the same file content.
pub fn print_defaults(program: &str, options: &[ClientOption]) -> String {
    let mut text = format!("{program} would have been started with the following arguments:\n");
    for o in options {
        text.push_str(&o.as_arg());
        text.push(' ');
    }
    text.push('\n');
    text
}

/// The last value of an option (later files and lines win, as on the client's command line).
pub fn value<'a>(options: &'a [ClientOption], key: &str) -> Option<&'a str> {
    options
        .iter()
        .rev()
        .find(|o| o.key() == key)
        .and_then(|o| o.value.as_deref())
}

/// Whether an option that may have a value (`pager`, `pager=less -S`) is given and not
/// turned off by `skip-NAME` after it.
pub fn flag_or_value(options: &[ClientOption], key: &str) -> bool {
    let skip = format!("skip-{key}");
    options
        .iter()
        .rev()
        .map(ClientOption::key)
        .find(|k| *k == key || *k == skip)
        .is_some_and(|k| k == key)
}

/// Whether a boolean option is on: `name`, `name=1|ON|TRUE`; `skip-name` and `name=0|OFF|FALSE`
/// turn it off; the last mention wins.
pub fn flag(options: &[ClientOption], key: &str) -> bool {
    let skip = format!("skip-{key}");
    let disable = format!("disable-{key}");
    for o in options.iter().rev() {
        let k = o.key();
        if k == skip || k == disable {
            return false;
        }
        if k == key || k == format!("enable-{key}") {
            return match o.value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => true,
                Some("0" | "off" | "false") => false,
                Some(_) => true,
            };
        }
    }
    false
}

/// The selection made on the command line, set once before anything reads option files.
static CHOICE: OnceLock<(Defaults, Option<String>)> = OnceLock::new();
/// The options read for that selection (read once per process, like the client's
/// `load_defaults`).
static LOADED: OnceLock<Result<Vec<ClientOption>, OptionFileError>> = OnceLock::new();

/// Records `--no-defaults` / `--defaults-file` / `--defaults-extra-file` and
/// `--login-path`; the first call wins.
pub fn choose(defaults: Defaults, login_path: Option<String>) {
    let _ = CHOICE.set((defaults, login_path));
}

/// The client options of this process's option files.
pub fn loaded() -> Result<&'static [ClientOption], OptionFileError> {
    LOADED
        .get_or_init(|| match CHOICE.get() {
            Some((defaults, login_path)) => read_with_login_path(defaults, login_path.as_deref()),
            None => read_with_login_path(&Defaults::Standard, None),
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ClientOption>, OptionFileError> {
        let mut out = Vec::new();
        parse_into(text, Path::new("t.cnf"), 0, &mut out).map(|()| out)
    }

    #[test]
    fn groups_values_quotes_comments_and_escapes() {
        let opts = parse(
            "[mysqld]\nport=1\n[client]\nuser = radmin\n[mysql]\nskip_column_names\n\
             password=\"p#w\"\nhost=a\\tb # comment\n[client-mariadb]\nport = 6032\n[mariadb]\nx=1\n",
        )
        .unwrap();
        let args: Vec<String> = opts.iter().map(ClientOption::as_arg).collect();
        assert_eq!(
            args,
            [
                "--user=radmin",
                "--skip_column_names",
                "--password=p#w",
                "--host=a\tb",
                "--port=6032"
            ]
        );
        assert_eq!(value(&opts, "port"), Some("6032"));
        assert!(flag(&opts, "skip-column-names"));
        assert!(!flag(&opts, "vertical"));
    }

    #[test]
    fn flags_follow_the_last_mention() {
        let opts = parse("[mysql]\nvertical\nskip-vertical\nloose-raw=1\nsilent=0\n").unwrap();
        assert!(!flag(&opts, "vertical"));
        assert!(flag(&opts, "raw"));
        assert!(!flag(&opts, "silent"));
    }

    #[test]
    fn options_outside_a_group_are_errors_with_the_line() {
        let err = parse("\n# c\nuser=a\n[client]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Found option without preceding group in config file: t.cnf at line: 3"
        );
    }

    /// A login file as `mysql_config_editor` writes it (format in the module docs).
    pub(crate) fn login_file(text: &str) -> Vec<u8> {
        use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
        let key: [u8; 20] = *b"\x01pxadm-login-key-192";
        let mut aes_key = [0u8; 16];
        for (i, b) in key.iter().enumerate() {
            aes_key[i % 16] ^= b;
        }
        let cipher = aes::Aes128::new(&GenericArray::from(aes_key));
        let mut out = vec![0u8; 4];
        out.extend_from_slice(&key);
        for line in text.split_inclusive('\n') {
            let mut plain = line.as_bytes().to_vec();
            let pad = 16 - plain.len() % 16;
            plain.extend(std::iter::repeat_n(u8::try_from(pad).unwrap(), pad));
            for block in plain.chunks_mut(16) {
                cipher.encrypt_block(GenericArray::from_mut_slice(block));
            }
            out.extend_from_slice(&u32::try_from(plain.len()).unwrap().to_le_bytes());
            out.extend_from_slice(&plain);
        }
        out
    }

    #[test]
    fn the_login_file_is_decrypted_and_its_login_path_read() {
        let text = "[client]\nuser = \"radmin\"\n[prod]\npassword = \"s3cret\"\nhost = \"10.0.0.11\"\n[mysqld]\nport = 1\n";
        let bytes = login_file(text);
        assert_eq!(decrypt_login_file(&bytes).unwrap(), text);
        let mut opts = Vec::new();
        parse_groups(
            &decrypt_login_file(&bytes).unwrap(),
            Path::new("l"),
            &["client", "mysql", "prod"],
            &mut opts,
        )
        .unwrap();
        assert_eq!(value(&opts, "user"), Some("radmin"));
        assert_eq!(value(&opts, "password"), Some("s3cret"));
        assert_eq!(value(&opts, "port"), None);
        // Damage is an error, never garbage options.
        let mut bad = bytes.clone();
        bad.truncate(bad.len() - 3);
        assert!(decrypt_login_file(&bad).is_err());
        assert!(decrypt_login_file(b"short").is_err());
    }

    #[test]
    fn includes_and_includedir() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(d.join("conf.d/b.cnf"), "[client]\nport=2\n").unwrap();
        std::fs::write(d.join("conf.d/a.cnf"), "[client]\nport=1\n").unwrap();
        std::fs::write(d.join("conf.d/c.txt"), "[client]\nport=3\n").unwrap();
        std::fs::write(
            d.join("self.cnf"),
            format!("!include {}/self.cnf\n", d.display()),
        )
        .unwrap();
        let main = d.join("my.cnf");
        std::fs::write(
            &main,
            format!(
                "[client]\nuser=u\n!include {0}/missing.cnf\n!includedir {0}/conf.d\nhost=h\n",
                d.display()
            ),
        )
        .unwrap();
        let opts = read(&Defaults::Only(main)).unwrap();
        let args: Vec<String> = opts.iter().map(ClientOption::as_arg).collect();
        assert_eq!(args, ["--user=u", "--port=1", "--port=2", "--host=h"]);
        // A file including itself stops with an error instead of looping.
        assert!(read(&Defaults::Only(d.join("self.cnf"))).is_err());
        let missing_dir = d.join("x.cnf");
        std::fs::write(&missing_dir, format!("!includedir {}/nope\n", d.display())).unwrap();
        assert!(matches!(
            read(&Defaults::Only(missing_dir)),
            Err(OptionFileError::Dir { .. })
        ));
        assert!(matches!(
            read(&Defaults::Only(d.join("absent.cnf"))),
            Err(OptionFileError::Required { .. })
        ));
        assert_eq!(read(&Defaults::None).unwrap(), []);
    }
}
