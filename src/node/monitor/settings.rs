//! The running `mysql-monitor_*` variables a monitor round works with (spec §4.3).
//!
//! Values are validated when they are set, so parsing here only guards against the impossible:
//! anything unreadable falls back to ProxySQL's default and every duration is clamped to the
//! documented range, so no setting can turn a loop into a busy loop.

use std::time::Duration;

use crate::node::admin::shared::Vars;

/// ProxySQL only auto-raises `mysql-monitor_history` for intervals below one hour (issue #626).
const HISTORY_RAISE_LIMIT_MS: u64 = 3_600_000;

/// Monitor settings of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// `mysql-monitor_enabled`.
    pub enabled: bool,
    /// `mysql-monitor_username`.
    pub username: String,
    /// `mysql-monitor_password`.
    pub password: String,
    /// `mysql-monitor_connect_interval`.
    pub connect_interval: Duration,
    /// `mysql-monitor_connect_timeout` as ProxySQL applies it: whole seconds, at least one
    /// (`MYSQL_OPT_CONNECT_TIMEOUT` takes seconds).
    pub connect_timeout: Duration,
    /// `mysql-monitor_ping_interval`.
    pub ping_interval: Duration,
    /// `mysql-monitor_ping_timeout`.
    pub ping_timeout: Duration,
    /// `mysql-monitor_ping_max_failures`.
    pub ping_max_failures: u32,
    /// `mysql-monitor_read_only_interval`.
    pub read_only_interval: Duration,
    /// `mysql-monitor_read_only_timeout`.
    pub read_only_timeout: Duration,
    /// `mysql-monitor_read_only_max_timeout_count`.
    pub read_only_max_timeout_count: u32,
    /// `mysql-monitor_history` as configured (see [`MonitorSettings::ping_history`]).
    pub history: Duration,
    /// `mysql-monitor_writer_is_also_reader`.
    pub writer_is_also_reader: bool,
    /// `mysql-monitor_wait_timeout`: set `wait_timeout` on the monitor's kept connections.
    pub wait_timeout: bool,
    /// `mysql-monitor_threads_max`: how many checks of one kind run at once.
    pub max_parallel_checks: usize,
    /// `mysql-hostgroup_manager_verbose`: log each server the replication moves create.
    pub hostgroup_manager_verbose: bool,
    /// `mysql-monitor_replication_lag_interval`.
    pub replication_lag_interval: Duration,
    /// `mysql-monitor_replication_lag_timeout`.
    pub replication_lag_timeout: Duration,
    /// `mysql-monitor_replication_lag_count`.
    pub replication_lag_count: u32,
    /// `mysql-monitor_replication_lag_group_by_host`.
    pub replication_lag_group_by_host: bool,
    /// `mysql-monitor_replication_lag_use_percona_heartbeat` (`db.table`, empty: off).
    pub percona_heartbeat: String,
    /// `mysql-monitor_slave_lag_when_null`.
    pub slave_lag_when_null: i64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings::from_vars(&Vars::new())
    }
}

impl MonitorSettings {
    /// Reads the running mysql variables; missing or unreadable values take the defaults.
    pub fn from_vars(vars: &Vars) -> MonitorSettings {
        let text = |name: &str, default: &str| {
            vars.get(name)
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        let int = |name: &str, default: u64, min: u64, max: u64| {
            vars.get(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
                .clamp(min, max)
        };
        let ms = |name: &str, default: u64, min: u64, max: u64| {
            Duration::from_millis(int(name, default, min, max))
        };
        let flag = |name: &str, default: bool| match vars.get(name).map(|v| v.trim()) {
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            _ => default,
        };
        let connect_timeout_ms = int("mysql-monitor_connect_timeout", 600, 100, 600_000);
        MonitorSettings {
            enabled: flag("mysql-monitor_enabled", true),
            username: text("mysql-monitor_username", "monitor"),
            password: text("mysql-monitor_password", "monitor"),
            connect_interval: ms("mysql-monitor_connect_interval", 120_000, 100, 604_800_000),
            connect_timeout: Duration::from_secs((connect_timeout_ms / 1000).max(1)),
            ping_interval: ms("mysql-monitor_ping_interval", 8000, 100, 604_800_000),
            ping_timeout: ms("mysql-monitor_ping_timeout", 1000, 100, 600_000),
            ping_max_failures: int("mysql-monitor_ping_max_failures", 3, 1, 1_000_000) as u32,
            read_only_interval: ms("mysql-monitor_read_only_interval", 1000, 100, 604_800_000),
            read_only_timeout: ms("mysql-monitor_read_only_timeout", 800, 100, 600_000),
            read_only_max_timeout_count: int(
                "mysql-monitor_read_only_max_timeout_count",
                3,
                1,
                1_000_000,
            ) as u32,
            history: ms("mysql-monitor_history", 7_200_000, 1000, 604_800_000),
            writer_is_also_reader: flag("mysql-monitor_writer_is_also_reader", true),
            wait_timeout: flag("mysql-monitor_wait_timeout", true),
            max_parallel_checks: int("mysql-monitor_threads_max", 128, 1, 256) as usize,
            hostgroup_manager_verbose: int("mysql-hostgroup_manager_verbose", 1, 0, 3) > 0,
            replication_lag_interval: ms(
                "mysql-monitor_replication_lag_interval",
                10_000,
                100,
                604_800_000,
            ),
            replication_lag_timeout: ms(
                "mysql-monitor_replication_lag_timeout",
                1000,
                100,
                600_000,
            ),
            replication_lag_count: int("mysql-monitor_replication_lag_count", 1, 1, 10) as u32,
            replication_lag_group_by_host: flag(
                "mysql-monitor_replication_lag_group_by_host",
                false,
            ),
            percona_heartbeat: text("mysql-monitor_replication_lag_use_percona_heartbeat", ""),
            slave_lag_when_null: int("mysql-monitor_slave_lag_when_null", 60, 0, 604_800) as i64,
        }
    }

    /// History kept in the connect and ping logs: ProxySQL raises it to cover
    /// `ping_interval × (ping_max_failures + 1)`, so the missed-heartbeat count always has
    /// enough rows to look at.
    pub fn ping_history(&self) -> Duration {
        raised_history(self.history, self.ping_interval, self.ping_max_failures)
    }

    /// History kept in the read_only log, raised the same way for the timeout count.
    pub fn read_only_history(&self) -> Duration {
        raised_history(
            self.history,
            self.read_only_interval,
            self.read_only_max_timeout_count,
        )
    }

    /// History kept in the replication-lag log.
    pub fn replication_lag_history(&self) -> Duration {
        raised_history(self.history, self.replication_lag_interval, 1)
    }

    /// `wait_timeout` (seconds) ProxySQL sets on monitor connections it keeps: ten ping
    /// intervals, so an idle kept connection outlives the gap between two pings.
    pub fn session_wait_timeout_secs(&self) -> u64 {
        (self.ping_interval.as_millis() as u64 * 10 / 1000).max(1)
    }
}

fn raised_history(history: Duration, interval: Duration, count: u32) -> Duration {
    let needed = interval * (count + 1);
    if history < needed && interval < Duration::from_millis(HISTORY_RAISE_LIMIT_MS) {
        needed
    } else {
        history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_proxysqls() {
        let s = MonitorSettings::default();
        assert!(s.enabled);
        assert_eq!(
            (s.username.as_str(), s.password.as_str()),
            ("monitor", "monitor")
        );
        assert_eq!(s.connect_interval, Duration::from_secs(120));
        assert_eq!(s.ping_interval, Duration::from_secs(8));
        assert_eq!(s.ping_timeout, Duration::from_secs(1));
        assert_eq!(s.ping_max_failures, 3);
        assert_eq!(s.read_only_interval, Duration::from_secs(1));
        assert_eq!(s.read_only_timeout, Duration::from_millis(800));
        assert_eq!(s.read_only_max_timeout_count, 3);
        assert_eq!(s.history, Duration::from_secs(7200));
        assert!(s.writer_is_also_reader);
        // 600 ms rounds down to 0 s, which the client library would treat as "no timeout".
        assert_eq!(s.connect_timeout, Duration::from_secs(1));
    }

    #[test]
    fn running_values_are_read_and_clamped() {
        let s = MonitorSettings::from_vars(&vars(&[
            ("mysql-monitor_enabled", "false"),
            ("mysql-monitor_username", "mon"),
            ("mysql-monitor_ping_interval", "250"),
            ("mysql-monitor_connect_timeout", "2500"),
            ("mysql-monitor_read_only_interval", "0"),
            ("mysql-monitor_ping_max_failures", "garbage"),
            ("mysql-monitor_writer_is_also_reader", "0"),
        ]));
        assert!(!s.enabled);
        assert_eq!(s.username, "mon");
        assert_eq!(s.ping_interval, Duration::from_millis(250));
        assert_eq!(s.connect_timeout, Duration::from_secs(2));
        assert_eq!(s.read_only_interval, Duration::from_millis(100));
        assert_eq!(s.ping_max_failures, 3);
        assert!(!s.writer_is_also_reader);
    }

    #[test]
    fn history_is_raised_to_cover_the_failure_window() {
        let s = MonitorSettings::from_vars(&vars(&[
            ("mysql-monitor_history", "1000"),
            ("mysql-monitor_ping_interval", "500"),
            ("mysql-monitor_ping_max_failures", "3"),
            ("mysql-monitor_read_only_interval", "300"),
            ("mysql-monitor_read_only_max_timeout_count", "2"),
        ]));
        assert_eq!(s.ping_history(), Duration::from_millis(2000));
        assert_eq!(s.read_only_history(), Duration::from_millis(1000));
        // Hour-long intervals are left alone, as in ProxySQL.
        let slow = MonitorSettings::from_vars(&vars(&[
            ("mysql-monitor_history", "1000"),
            ("mysql-monitor_ping_interval", "3600000"),
        ]));
        assert_eq!(slow.ping_history(), Duration::from_millis(1000));
    }

    #[test]
    fn kept_connections_wait_ten_ping_intervals() {
        let s = MonitorSettings::from_vars(&vars(&[("mysql-monitor_ping_interval", "250")]));
        assert_eq!(s.session_wait_timeout_secs(), 2);
        assert_eq!(MonitorSettings::default().session_wait_timeout_secs(), 80);
    }
}
