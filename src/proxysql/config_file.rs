//! ProxySQL's config file (`proxysql.cnf`): parsing and mapping onto admin tables.
//!
//! ProxySQL reads its config file with libconfig 1.7 and then copies selected sections into the
//! admin `main` database (`lib/ProxySQL_Config.cpp`, spec §2.2 step 5 and §1.5
//! `LOAD … FROM CONFIG`). This module does the same in two steps:
//!
//! 1. [`ConfigFile::parse`] / [`ConfigFile::parse_file`] read the libconfig grammar into a tree of
//!    [`Setting`]s and [`Value`]s, with line and column on everything so that later errors can
//!    point at the offending entry;
//! 2. [`ConfigFile::section_statements`] turns one [`Section`] into the
//!    `INSERT OR REPLACE INTO …` statements ProxySQL would run into `main`, with ProxySQL's key
//!    aliases, column lists and defaults (the defaults matter: they end up in checksummed rows).
//!
//! ProxySQL itself is forgiving: an entry without a mandatory key is logged and skipped, a value
//! of the wrong type is silently replaced by the default. [`ConfigFile::section_statements`]
//! refuses such files instead, naming the line; [`ConfigFile::section_statements_lenient`]
//! reproduces ProxySQL's behaviour and reports what it skipped.
//!
//! This module does no I/O: the node reads the file (`node::files::read_config_file`).

mod parser;
mod sections;

use std::fmt;
use std::path::{Path, PathBuf};

pub use sections::{GlobalSettings, LenientStatements, Section};

/// Whether a setting's value is a secret that no message may show: any name with `password`
/// or `credentials` in it (`admin_credentials`, `monitor_password`, `cluster_password`,
/// `mysql_users.password`, `ldap-bind_password`, ...).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("credentials")
}

/// A position-tagged error in a config file: syntax errors and mapping errors alike.
///
/// `Display` gives `line:column: message`; use [`ConfigError::in_file`] to prefix a file name
/// the way compilers do (`proxysql.cnf:12:5: expected ';' after value, found integer 2`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ConfigError {
    /// 1-based line of the offending token or entry.
    pub line: u32,
    /// 1-based column (in characters) of the offending token or entry.
    pub column: u32,
    /// What was wrong, phrased as what was expected where possible.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(line: u32, column: u32, message: impl Into<String>) -> Self {
        Self {
            line,
            column,
            message: message.into(),
        }
    }

    /// Formats the error prefixed with a file name: `file:line:column: message`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        InFile { file, error: self }
    }
}

struct InFile<'a> {
    file: &'a str,
    error: &'a ConfigError,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.error)
    }
}

/// Why reading or parsing a config file failed; both variants name the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("{}: cannot read config file: {source}", path.display())]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not valid libconfig syntax.
    #[error("{}:{error}", path.display())]
    Parse {
        /// The file that was parsed.
        path: PathBuf,
        /// Where and why parsing stopped.
        error: ConfigError,
    },
}

/// One `name = value` pair, at the top level or inside a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The setting's name (`[A-Za-z*][-A-Za-z0-9_*]*`, case-sensitive).
    pub name: String,
    /// 1-based line of the name.
    pub line: u32,
    /// 1-based column of the name.
    pub column: u32,
    /// The assigned value.
    pub value: Value,
}

/// A parsed value with the position of its first token.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value itself.
    pub kind: ValueKind,
    /// 1-based line where the value starts.
    pub line: u32,
    /// 1-based column where the value starts.
    pub column: u32,
}

/// The libconfig value types.
///
/// Integers keep libconfig's split between 32-bit `Int` and 64-bit `Int64` (written with an `L`
/// suffix, or too large for 32 bits), because ProxySQL only reads `Int` into its integer fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// `true` / `false`, any case.
    Bool(bool),
    /// A 32-bit integer (decimal, octal with a leading `0`, or hex).
    Int(i32),
    /// A 64-bit integer.
    Int64(i64),
    /// A floating-point number.
    Float(f64),
    /// A string, escapes resolved and adjacent literals joined.
    String(String),
    /// `[ … ]`: scalars of one type.
    Array(Vec<Value>),
    /// `( … )`: values of any type, typically groups.
    List(Vec<Value>),
    /// `{ … }`: named settings.
    Group(Vec<Setting>),
}

impl Value {
    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            ValueKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is a 32-bit integer (what ProxySQL's `int` lookups accept).
    pub fn as_int(&self) -> Option<i32> {
        match self.kind {
            ValueKind::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The integer, if this is a 32- or 64-bit integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Int(i) => Some(i64::from(i)),
            ValueKind::Int64(i) => Some(i),
            _ => None,
        }
    }

    /// The group member called `name` (exact, case-sensitive match); `None` if absent or if
    /// this is not a group.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members()
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }

    /// The members of a group; empty for anything else.
    pub fn members(&self) -> &[Setting] {
        match &self.kind {
            ValueKind::Group(members) => members,
            _ => &[],
        }
    }

    /// The elements of a list or array; empty for anything else.
    pub fn elements(&self) -> &[Value] {
        match &self.kind {
            ValueKind::List(items) | ValueKind::Array(items) => items,
            _ => &[],
        }
    }

    /// A short name of the value's type for messages (`"string"`, `"group"`, …).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ValueKind::Bool(_) => "boolean",
            ValueKind::Int(_) => "integer",
            ValueKind::Int64(_) => "64-bit integer",
            ValueKind::Float(_) => "float",
            ValueKind::String(_) => "string",
            ValueKind::Array(_) => "array",
            ValueKind::List(_) => "list",
            ValueKind::Group(_) => "group",
        }
    }
}

/// A parsed `proxysql.cnf`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    settings: Vec<Setting>,
    path: Option<PathBuf>,
}

impl ConfigFile {
    /// Parses config text (libconfig syntax).
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        Ok(ConfigFile {
            settings: parser::parse(text)?,
            path: None,
        })
    }

    /// Parses the bytes of the config file at `path` (read by the caller: this layer does
    /// no I/O; the node reads it with `node::files::read_config_file`).
    ///
    /// Bytes that are not UTF-8 are replaced rather than refused, since libconfig itself is
    /// byte-oriented and such bytes usually sit in comments.
    pub fn parse_file(path: &Path, bytes: &[u8]) -> Result<ConfigFile, ConfigFileError> {
        let text = String::from_utf8_lossy(bytes);
        let settings = parser::parse(&text).map_err(|error| ConfigFileError::Parse {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(ConfigFile {
            settings,
            path: Some(path.to_path_buf()),
        })
    }

    /// The file this was loaded from; `None` when built with [`ConfigFile::parse`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// All top-level settings in file order.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The top-level setting called `name` (case-sensitive, as in libconfig).
    pub fn top_level(&self, name: &str) -> Option<&Value> {
        self.settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests;
