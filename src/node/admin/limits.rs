//! Bounds on one client statement, so that no statement can hold the admin plane: a time
//! limit and a cancellation flag checked by SQLite's progress handler, and a cap on the bytes a
//! result set may hold (the engine builds the whole answer before sending it).
//!
//! ProxySQL has neither: `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c)
//! SELECT count(*) FROM c` spins its admin thread until a restart. These limits are pxadm's own,
//! set with `pxadm node --statement-timeout-ms` and `--max-result-bytes` (`docs/security.md`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rusqlite::Connection;

/// Default time limit of one client statement.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default cap on the text a result set may hold (rows of ProxySQL tables are small; this is
/// far above what any real configuration or stats table holds).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 64 * 1024 * 1024;

/// SQLite virtual-machine steps between two checks of the clock and the flag.
const CHECK_EVERY_STEPS: i32 = 10_000;

/// The limits a node applies to client statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLimits {
    /// Time after which a statement is interrupted; zero means no limit.
    pub timeout: Duration,
    /// Bytes of field text after which a result set is refused; zero means no limit.
    pub max_result_bytes: usize,
}

impl Default for StatementLimits {
    fn default() -> Self {
        StatementLimits {
            timeout: DEFAULT_STATEMENT_TIMEOUT,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
        }
    }
}

/// Why a statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It ran longer than the time limit.
    Timeout(Duration),
    /// Its client disconnected.
    Cancelled,
}

impl Stop {
    /// The error text a client (or the log) gets.
    pub fn message(&self) -> String {
        match self {
            Stop::Timeout(limit) => format!(
                "statement interrupted after {} ms (pxadm node --statement-timeout-ms)",
                limit.as_millis()
            ),
            Stop::Cancelled => "statement cancelled: the client disconnected".into(),
        }
    }
}

/// The progress-handler state of one SQLite handle.
#[derive(Clone, Default)]
pub struct Watchdog {
    inner: Arc<Mutex<Watch>>,
}

#[derive(Default)]
struct Watch {
    deadline: Option<(Instant, Duration)>,
    cancel: Option<Arc<AtomicBool>>,
    stopped: Option<Stop>,
}

impl Watchdog {
    /// Installs the progress handler on `conn`.
    pub fn install(conn: &Connection) -> Watchdog {
        let watchdog = Watchdog::default();
        let hook = watchdog.clone();
        conn.progress_handler(CHECK_EVERY_STEPS, Some(move || hook.should_stop()));
        watchdog
    }

    /// Runs `f` under a time limit (`Duration::ZERO`: none) and a cancellation flag.
    pub fn run<T>(
        &self,
        timeout: Duration,
        cancel: Option<Arc<AtomicBool>>,
        f: impl FnOnce() -> T,
    ) -> T {
        {
            let mut w = self.inner.lock();
            w.deadline = (!timeout.is_zero()).then(|| (Instant::now() + timeout, timeout));
            w.cancel = cancel;
            w.stopped = None;
        }
        let out = f();
        let mut w = self.inner.lock();
        w.deadline = None;
        w.cancel = None;
        out
    }

    /// Why the last statement run through [`Watchdog::run`] was stopped, if it was.
    pub fn take_stop(&self) -> Option<Stop> {
        self.inner.lock().stopped.take()
    }

    fn should_stop(&self) -> bool {
        let mut w = self.inner.lock();
        if w.stopped.is_some() {
            return true;
        }
        let stop = if w.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
            Some(Stop::Cancelled)
        } else {
            match w.deadline {
                Some((at, limit)) if Instant::now() >= at => Some(Stop::Timeout(limit)),
                _ => None,
            }
        };
        w.stopped = stop;
        stop.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNAWAY: &str =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

    #[test]
    fn a_runaway_statement_is_interrupted_and_the_handle_stays_usable() {
        let conn = Connection::open_in_memory().unwrap();
        let dog = Watchdog::install(&conn);
        let err = dog
            .run(Duration::from_millis(50), None, || {
                conn.query_row(RUNAWAY, [], |r| r.get::<_, i64>(0))
            })
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted)
        );
        assert_eq!(
            dog.take_stop(),
            Some(Stop::Timeout(Duration::from_millis(50)))
        );
        let one: i64 = dog
            .run(Duration::from_millis(50), None, || {
                conn.query_row("SELECT 1", [], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(one, 1);
        assert_eq!(dog.take_stop(), None);
    }

    #[test]
    fn a_raised_flag_cancels_the_statement() {
        let conn = Connection::open_in_memory().unwrap();
        let dog = Watchdog::install(&conn);
        let flag = Arc::new(AtomicBool::new(true));
        assert!(dog
            .run(Duration::ZERO, Some(flag), || {
                conn.query_row(RUNAWAY, [], |r| r.get::<_, i64>(0))
            })
            .is_err());
        assert_eq!(dog.take_stop(), Some(Stop::Cancelled));
    }
}
