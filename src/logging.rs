//! ProxySQL-style error log: `2024-10-04 12:56:29 File.rs:LINE:function(): [WARNING] text`.
//!
//! A node writes every line to stderr and, once [`init_file`] was called, appends it to
//! `DATADIR/proxysql.log`, which is what operators and the console tail. The sink is a process
//! global because ProxySQL's log is one per process too; writes are line-atomic under a mutex.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

/// Severity as ProxySQL prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `[ERROR]`
    Error,
    /// `[WARNING]`
    Warning,
    /// `[INFO]`
    Info,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
        }
    }
}

struct Sink {
    file: Option<(PathBuf, File)>,
    stderr: bool,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    file: None,
    stderr: true,
});

/// Starts appending log lines to `path` (created if missing).
pub fn init_file(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    SINK.lock().file = Some((path.to_path_buf(), file));
    Ok(())
}

/// Reopens the log file (`PROXYSQL FLUSH LOGS`), so external rotation works.
pub fn reopen() -> std::io::Result<()> {
    let mut sink = SINK.lock();
    if let Some((path, _)) = sink.file.take() {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        sink.file = Some((path, file));
    }
    Ok(())
}

/// Turns the stderr copy on or off (the console's embedded nodes log to their file only).
pub fn set_stderr(enabled: bool) {
    SINK.lock().stderr = enabled;
}

/// Formats one line without writing it (exposed for tests).
pub fn format_line(level: Level, file: &str, line: u32, function: &str, msg: &str) -> String {
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let file = file.rsplit('/').next().unwrap_or(file);
    format!(
        "{now} {file}:{line}:{function}(): [{}] {msg}\n",
        level.tag()
    )
}

/// Writes one line to every sink. Use the [`px_log!`](crate::px_log) macros instead.
pub fn write(level: Level, file: &str, line: u32, function: &str, msg: &str) {
    let text = format_line(level, file, line, function, msg);
    let mut sink = SINK.lock();
    if sink.stderr {
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    if let Some((_, f)) = sink.file.as_mut() {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Name of the enclosing function, for the `function()` part of a log line.
#[doc(hidden)]
#[macro_export]
macro_rules! __px_function {
    () => {{
        fn f() {}
        fn type_name_of<T>(_: T) -> &'static str {
            std::any::type_name::<T>()
        }
        let name = type_name_of(f);
        let name = name.strip_suffix("::f").unwrap_or(name);
        let name = name.trim_end_matches("::{{closure}}");
        name.rsplit("::").next().unwrap_or(name)
    }};
}

/// Logs at a level: `px_log!(Level::Warning, "Cluster: ... {}", x)`.
#[macro_export]
macro_rules! px_log {
    ($level:expr, $($arg:tt)+) => {
        $crate::logging::write($level, file!(), line!(), $crate::__px_function!(), &format!($($arg)+))
    };
}

/// Logs an `[INFO]` line.
#[macro_export]
macro_rules! px_info { ($($arg:tt)+) => { $crate::px_log!($crate::logging::Level::Info, $($arg)+) }; }
/// Logs a `[WARNING]` line.
#[macro_export]
macro_rules! px_warn { ($($arg:tt)+) => { $crate::px_log!($crate::logging::Level::Warning, $($arg)+) }; }
/// Logs an `[ERROR]` line.
#[macro_export]
macro_rules! px_error { ($($arg:tt)+) => { $crate::px_log!($crate::logging::Level::Error, $($arg)+) }; }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_proxysql_shape() {
        let l = format_line(
            Level::Warning,
            "src/core/cluster/monitor.rs",
            244,
            "peer_loop",
            "Cluster: x",
        );
        let re = regex::Regex::new(
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d monitor\.rs:244:peer_loop\(\): \[WARNING\] Cluster: x\n$",
        )
        .unwrap();
        assert!(re.is_match(&l), "{l}");
    }

    #[test]
    fn function_name_macro_names_the_enclosing_fn() {
        fn some_function() -> &'static str {
            crate::__px_function!()
        }
        assert_eq!(some_function(), "some_function");
    }
}
