//! Time for the benchmarks: the send time carried in each record's first 8 bytes, and the pacer that holds
//! producers to a target rate.
//!
//! The stamp is wall-clock time (nanoseconds since the Unix epoch), not a process-local `Instant`, so a
//! consumer in another process on the same host can measure end-to-end latency from it too.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of the send-time stamp at the start of every benchmark record value.
pub(crate) const STAMP_LEN: usize = 8;

/// Nanoseconds since the Unix epoch; 0 for a clock set before 1970, which only makes latencies look huge.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Writes `ns` into the first [`STAMP_LEN`] bytes of `value` (which the options guarantee is long enough).
pub(crate) fn stamp(value: &mut [u8], ns: u64) {
    if let Some(head) = value.get_mut(..STAMP_LEN) {
        head.copy_from_slice(&ns.to_be_bytes());
    }
}

/// The send time stamped in `value`, or `None` for a record this benchmark did not write.
pub(crate) fn read_stamp(value: Option<&[u8]>) -> Option<u64> {
    let head: [u8; STAMP_LEN] = value?.get(..STAMP_LEN)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// Microseconds from `sent_ns` to `now_ns`, clamped at 0 for the odd record stamped by a clock step.
pub(crate) fn latency_us(sent_ns: u64, now_ns: u64) -> u64 {
    now_ns.saturating_sub(sent_ns) / 1_000
}

/// Paces one producer. Unthrottled, every record is stamped when it is sent. Throttled, record `i` is due at
/// `start + i / rate` and is stamped with that due time, not the time it finally left: a producer that falls
/// behind its schedule is charged for the wait, so latency percentiles do not hide stalls (coordinated
/// omission).
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Instant,
    start_ns: u64,
    /// Nanoseconds between records; `None` when unthrottled.
    interval_ns: Option<f64>,
    sent: u64,
}

/// Sleeping for less than this costs more in timer slack than it saves; send the due records instead.
const MIN_SLEEP: Duration = Duration::from_micros(50);

impl Pacer {
    /// `rate` records per second for this producer; 0 means unthrottled.
    pub(crate) fn new(rate: f64) -> Self {
        Self { start: Instant::now(), start_ns: now_ns(), interval_ns: (rate > 0.0).then(|| 1e9 / rate), sent: 0 }
    }

    /// Waits until the next record is due and returns the stamp it should carry.
    pub(crate) fn next(&mut self) -> u64 {
        let Some(interval) = self.interval_ns else {
            self.sent += 1;
            return now_ns();
        };
        let due = Duration::from_nanos((self.sent as f64 * interval) as u64);
        let elapsed = self.start.elapsed();
        if due > elapsed + MIN_SLEEP {
            std::thread::sleep(due - elapsed);
        }
        self.sent += 1;
        self.start_ns + due.as_nanos() as u64
    }

    /// Time since the pacer started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let mut value = vec![0u8; 16];
        stamp(&mut value, 0x0102_0304_0506_0708);
        assert_eq!(read_stamp(Some(&value)), Some(0x0102_0304_0506_0708));
    }

    #[test]
    fn foreign_records_have_no_stamp() {
        assert_eq!(read_stamp(None), None);
        assert_eq!(read_stamp(Some(b"short")), None);
        let mut tiny = [0u8; 4];
        stamp(&mut tiny, 1);
        assert_eq!(tiny, [0u8; 4], "a too-short value is left alone, not a panic");
    }

    #[test]
    fn latency_never_goes_negative() {
        assert_eq!(latency_us(2_000, 1_000), 0);
        assert_eq!(latency_us(1_000, 3_500), 2);
    }

    #[test]
    fn throttled_pacer_stamps_due_times() {
        let mut pacer = Pacer::new(1_000.0);
        let first = pacer.next();
        let second = pacer.next();
        assert_eq!(second - first, 1_000_000, "1000/s is one record per millisecond");
        assert!(pacer.elapsed() >= Duration::from_micros(900), "the second record waited for its slot");
    }
}
