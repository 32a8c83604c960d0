//! Moments of a recording: `--replay FILE --at TIME` for the batch checks, and the time and
//! duration syntax every recording command shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};

use super::reader::{End, Recording, Tick};
use crate::client::snapshot::NodeSnapshot;

/// `--replay FILE [--at TIME]`, for `status`, `checksums` and `diagnose`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReplayArgs {
    /// Read the nodes' state from a recording (`pxadm record`, `pxadm console --record`)
    /// instead of polling them (status, checksums, diagnose).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// With --replay: the moment, as HH:MM[:SS] (local time, on the recording's day),
    /// YYYY-MM-DD HH:MM:SS, RFC 3339, unix seconds, +DURATION from the start, -DURATION
    /// from the end, `start` or `end` (the default).
    #[arg(long, value_name = "TIME", requires = "replay")]
    pub at: Option<String>,
}

/// A duration as `1h2m3s`, `90s`, `1.5s`, `500ms`, `5m`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a duration (examples: 1s, 500ms, 90s, 5m, 1h30m, 2.5)");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs))
            .ok_or_else(bad);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// `1h02m03s`, `2m05s`, `4.2s`.
pub fn fmt_duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 if ms % 1000 != 0 && s < 10 => format!("{:.1}s", ms as f64 / 1000.0),
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// The local time zone's offset at unix second `at`.
pub fn local_offset(at: u64) -> chrono::FixedOffset {
    i64::try_from(at)
        .ok()
        .and_then(|t| chrono::Local.timestamp_opt(t, 0).single())
        .map(|t| t.offset().fix())
        .unwrap_or_else(|| chrono::Utc.fix())
}

/// A unix millisecond time as `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn fmt_datetime(at_ms: u64, tz: chrono::FixedOffset) -> String {
    i64::try_from(at_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A unix millisecond time as RFC 3339 in UTC with milliseconds.
pub fn fmt_rfc3339(at_ms: u64) -> String {
    i64::try_from(at_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "?".into())
}

fn ms_of(dt: chrono::DateTime<chrono::FixedOffset>) -> Result<u64, String> {
    u64::try_from(dt.timestamp_millis()).map_err(|_| "a time before 1970".to_owned())
}

/// Resolves TIME (see [`ReplayArgs::at`]) against a recording spanning `start_ms..=end_ms`,
/// with clock times read in `tz`. Returns unix milliseconds.
pub fn parse_time(
    text: &str,
    start_ms: u64,
    end_ms: u64,
    tz: chrono::FixedOffset,
) -> Result<u64, String> {
    let t = text.trim();
    match t {
        "start" | "begin" | "first" => return Ok(start_ms),
        "end" | "last" => return Ok(end_ms),
        _ => {}
    }
    if let Some(d) = t.strip_prefix('+') {
        let d = parse_duration(d)?;
        return Ok(start_ms.saturating_add(d.as_millis() as u64));
    }
    if let Some(d) = t.strip_prefix('-') {
        let d = parse_duration(d)?;
        return Ok(end_ms.saturating_sub(d.as_millis() as u64));
    }
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 1e9 {
            return Ok((secs * 1000.0).round() as u64);
        }
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return ms_of(dt);
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, f) {
            let dt = tz
                .from_local_datetime(&naive)
                .single()
                .ok_or_else(|| format!("'{t}' is not a valid local time"))?;
            return ms_of(dt);
        }
    }
    for f in ["%H:%M:%S%.f", "%H:%M"] {
        if let Ok(time) = NaiveTime::parse_from_str(t, f) {
            // On the recording's first day; on the next one when it is before the start and
            // the recording runs past midnight.
            let first_day: NaiveDate = chrono::DateTime::from_timestamp_millis(start_ms as i64)
                .ok_or("the recording's start is not a valid time")?
                .with_timezone(&tz)
                .date_naive();
            let on = |day: NaiveDate| -> Result<u64, String> {
                let dt = tz
                    .from_local_datetime(&day.and_time(time))
                    .single()
                    .ok_or_else(|| format!("'{t}' is not a valid local time"))?;
                ms_of(dt)
            };
            let mut at = on(first_day)?;
            let next_day = first_day.succ_opt().map(on).transpose()?;
            if let Some(next) = next_day {
                if at + 1000 < start_ms && next <= end_ms + 1000 {
                    at = next;
                }
            }
            return Ok(at);
        }
    }
    Err(format!(
        "'{t}' is not a time (examples: 03:12, 03:12:30, 2026-12-02 03:12:30, +90s, -5m, start, end)"
    ))
}

/// One moment of a recording, ready for the batch reports.
#[derive(Debug, Clone)]
pub struct Moment {
    /// The recording.
    pub file: PathBuf,
    /// The tick shown.
    pub tick: Tick,
    /// Ticks in the recording.
    pub ticks: usize,
    /// The time asked for, unix milliseconds.
    pub requested_ms: u64,
    /// The latest snapshot of every selected node polled by then.
    pub snapshots: Vec<NodeSnapshot>,
    /// How the file ends.
    pub end: End,
}

impl Moment {
    /// One line for stderr: which tick of which file answers.
    pub fn describe(&self) -> String {
        let tz = local_offset(self.tick.at_secs());
        let mut s = format!(
            "replay of {}: tick {} of {} at {}",
            self.file.display(),
            self.tick.index + 1,
            self.ticks,
            fmt_datetime(self.tick.at_ms, tz),
        );
        if self.requested_ms.abs_diff(self.tick.at_ms) >= 1000 {
            s += &format!(
                " (the last tick at or before {})",
                fmt_datetime(self.requested_ms, tz)
            );
        }
        if let End::Damaged { reason, .. } = &self.end {
            s += &format!("; the file ends with {reason} (ignored)");
        }
        s
    }
}

/// Opens `file` and reads the state at `at` (default: the end) of the nodes named in
/// `names` (all when empty; a name or `host:port`).
pub fn load(file: &Path, at: Option<&str>, names: &[String]) -> Result<Moment, String> {
    let rec = Recording::open(file).map_err(|e| e.to_string())?;
    let (start, end) = rec
        .span_ms()
        .ok_or_else(|| format!("{}: the recording holds no tick", file.display()))?;
    let tz = local_offset(start / 1000);
    let requested = parse_time(at.unwrap_or("end"), start, end, tz)?;
    let slack = rec.header().interval_ms.max(1000) * 2;
    if requested > end + slack {
        return Err(format!(
            "{} is after the recording ends ({})",
            fmt_datetime(requested, tz),
            fmt_datetime(end, tz)
        ));
    }
    let index = rec.index_at(requested).ok_or_else(|| {
        format!(
            "{} is before the recording starts ({})",
            fmt_datetime(requested, tz),
            fmt_datetime(start, tz)
        )
    })?;
    let tick = rec.tick(index).map_err(|e| e.to_string())?;
    let nodes = &rec.header().nodes;
    let mut wanted = vec![names.is_empty(); nodes.len()];
    for name in names {
        let i = nodes
            .iter()
            .position(|n| &n.name == name || format!("{}:{}", n.host, n.port) == *name)
            .ok_or_else(|| {
                let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                format!(
                    "no node named '{name}' in the recording (nodes: {})",
                    known.join(", ")
                )
            })?;
        wanted[i] = true;
    }
    let snapshots: Vec<NodeSnapshot> = tick
        .nodes
        .iter()
        .zip(&wanted)
        .filter(|(_, w)| **w)
        .filter_map(|(n, _)| n.snapshot.clone())
        .collect();
    if snapshots.is_empty() {
        return Err(format!(
            "no node of the recording had been polled by {}",
            fmt_datetime(tick.at_ms, tz)
        ));
    }
    Ok(Moment {
        file: file.to_path_buf(),
        ticks: rec.len(),
        requested_ms: requested,
        snapshots,
        end: rec.end().clone(),
        tick,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |t: &str| parse_duration(t).map(|d| d.as_millis() as u64);
        assert_eq!(ms("1s"), Ok(1000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("2.5"), Ok(2500));
        assert_eq!(ms("1m5s"), Ok(65_000));
        for bad in ["", "s", "5x", "-1", "1h-2m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(fmt_duration_ms(65_000), "1m05s");
        assert_eq!(fmt_duration_ms(3_725_000), "1h02m05s");
        assert_eq!(fmt_duration_ms(4_200), "4.2s");
    }

    #[test]
    fn times() {
        let utc = chrono::Utc.fix();
        // 2026-12-02 23:59:00 UTC to 00:01:00 the next day.
        let start = 1_796_255_940_000;
        let end = start + 120_000;
        let at = |t: &str| parse_time(t, start, end, utc);
        assert_eq!(at("start"), Ok(start));
        assert_eq!(at("end"), Ok(end));
        assert_eq!(at("+90s"), Ok(start + 90_000));
        assert_eq!(at("-30s"), Ok(end - 30_000));
        assert_eq!(at("23:59:30"), Ok(start + 30_000));
        assert_eq!(at("00:00:30"), Ok(start + 90_000), "after midnight");
        assert_eq!(at("2026-12-02 23:59:10"), Ok(start + 10_000));
        assert_eq!(at("2026-12-02T23:59:10Z"), Ok(start + 10_000));
        assert_eq!(at("2026-12-03T01:59:10+02:00"), Ok(start + 10_000));
        assert_eq!(at("1796255950"), Ok(start + 10_000));
        assert!(at("yesterday").is_err());
        assert_eq!(fmt_datetime(start, utc), "2026-12-02 23:59:00");
        assert_eq!(fmt_rfc3339(start + 5), "2026-12-02T23:59:00.005Z");
    }
}
