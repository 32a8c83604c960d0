//! The JSON format: the [`Report`] itself, pretty-printed, or one compact line per `watch`
//! interval.

use super::{Report, SCHEMA_VERSION};

impl Report {
    /// One compact JSON line (`watch`).
    pub fn json_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|e| error_object(&e));
        s.push('\n');
        s
    }
}

/// What is printed instead when a report cannot be encoded (it always can: no map keys).
fn error_object(e: &serde_json::Error) -> String {
    format!("{{\"schema_version\":{SCHEMA_VERSION},\"status\":\"UNKNOWN\",\"exit_code\":3,\"summary\":\"UNKNOWN: cannot encode the report: {e}\"}}")
}

/// The whole report, pretty-printed and newline-terminated.
pub(super) fn pretty(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| error_object(&e));
    s.push('\n');
    s
}
