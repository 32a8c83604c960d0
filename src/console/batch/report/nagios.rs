//! The monitoring-plugin (Nagios, Icinga, Zabbix) side of every report: a status word
//! that starts the summary line and the process exit code that goes with it.

use serde::Serialize;

use crate::console::diagnosis::Severity;

/// The monitoring-plugin status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Exit 0.
    Ok,
    /// Exit 1: diverged but converging, or a deliberate setting to watch.
    Warning,
    /// Exit 2: stuck, conflicting, unreachable, refused, or an action failed.
    Critical,
    /// Exit 3: usage or configuration error.
    Unknown,
}

impl Status {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Ok => Status::Ok,
            Severity::Warning => Status::Warning,
            Severity::Critical => Status::Critical,
        }
    }
}
