//! The node's error log sink; lines are formatted by [`crate::proxysql::log`].
//!
//! A node writes every line to stderr and, once [`init_file`] was called, appends it to
//! `DATADIR/proxysql.log`, which is what operators and the console tail. The sink is a process
//! global because ProxySQL's log is one per process too; writes are line-atomic under a mutex.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::proxysql::log::{format_line, Level};

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
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    SINK.lock().file = Some((path.to_path_buf(), file));
    Ok(())
}

/// Reopens the log file (`PROXYSQL FLUSH LOGS`), so external rotation works.
pub fn reopen() -> std::io::Result<()> {
    let mut sink = SINK.lock();
    if let Some((path, _)) = sink.file.take() {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        sink.file = Some((path, file));
    }
    Ok(())
}

/// Turns the stderr copy on or off (the console's embedded nodes log to their file only).
pub fn set_stderr(enabled: bool) {
    SINK.lock().stderr = enabled;
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
        $crate::node::logging::write($level, file!(), line!(), $crate::__px_function!(), &format!($($arg)+))
    };
}

/// Logs an `[INFO]` line.
#[macro_export]
macro_rules! px_info { ($($arg:tt)+) => { $crate::px_log!($crate::proxysql::log::Level::Info, $($arg)+) }; }
/// Logs a `[WARNING]` line.
#[macro_export]
macro_rules! px_warn { ($($arg:tt)+) => { $crate::px_log!($crate::proxysql::log::Level::Warning, $($arg)+) }; }
/// Logs an `[ERROR]` line.
#[macro_export]
macro_rules! px_error { ($($arg:tt)+) => { $crate::px_log!($crate::proxysql::log::Level::Error, $($arg)+) }; }

#[cfg(test)]
mod tests {
    #[test]
    fn function_name_macro_names_the_enclosing_fn() {
        fn some_function() -> &'static str {
            crate::__px_function!()
        }
        assert_eq!(some_function(), "some_function");
    }
}
