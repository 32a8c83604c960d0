//! ProxySQL's error log line: `2024-10-04 12:56:29 File.rs:LINE:function(): [WARNING] text`.
//!
//! The cluster rules decide which line and level a sync event produces, so the format is part
//! of ProxySQL's vocabulary; writing the lines to a file is the node's business
//! (`node::logging`).

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
    /// The tag between brackets in a log line.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
        }
    }
}

/// Formats one line without writing it (the node writes it; tests read it).
pub fn format_line(level: Level, file: &str, line: u32, function: &str, msg: &str) -> String {
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let file = file.rsplit('/').next().unwrap_or(file);
    format!(
        "{now} {file}:{line}:{function}(): [{}] {msg}\n",
        level.tag()
    )
}

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
}
