//! The sense of time of the emulators, injected so tests control it: creation timestamps and
//! ages here, and instance and cluster states in aliyun-emu, which uses this same clock so it
//! can hand its clock to every cluster it creates. Nothing runs in the background; state is a
//! function of the time read from this clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// A shared clock, so a test can keep a handle on the clock it gave an emulator.
impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when a test says so.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        Self(AtomicI64::new(start_ms))
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 with whole seconds and `Z`, as Kubernetes `Time` fields are written.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_second(ms.div_euclid(1000))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Parses a Kubernetes timestamp (`Time` or `MicroTime`) to milliseconds.
pub fn parse_ms(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Go's `duration.HumanDuration`, which the real server uses for every AGE cell.
pub fn human_duration(ms: i64) -> String {
    let secs = ms / 1000;
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let mins = secs / 60;
    if mins < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{mins}m")
        } else {
            format!("{mins}m{s}s")
        };
    }
    if mins < 180 {
        return format!("{mins}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = mins % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl_against_a_real_server() {
        assert_eq!(human_duration(5_000), "5s");
        assert_eq!(human_duration(119_000), "119s");
        assert_eq!(human_duration(150_000), "2m30s");
        assert_eq!(human_duration(45 * 60_000), "45m");
        assert_eq!(human_duration(5 * 3_600_000 + 60_000), "5h1m");
        assert_eq!(human_duration(3 * 86_400_000), "3d");
    }

    #[test]
    fn timestamps_are_whole_seconds_in_utc() {
        assert_eq!(rfc3339(1_700_000_000_999), "2023-11-14T22:13:20Z");
        assert_eq!(parse_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
    }
}
