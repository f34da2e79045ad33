//! Results of a benchmark: counts, throughput and latency percentiles, printed as a table and written as JSON
//! (`--json FILE`) for `bench/run` to collect.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::table::Table;

/// Latencies are recorded in microseconds from 1 µs to 10 minutes with 3 significant digits: 0.1% error, a
/// few hundred KiB per histogram.
const MAX_LATENCY_US: u64 = 600_000_000;

/// A latency histogram in microseconds; values beyond the range are clamped, never dropped.
#[derive(Debug, Clone)]
pub(crate) struct Latencies(Histogram<u64>);

impl Latencies {
    pub(crate) fn new() -> Self {
        // The bounds are constants that satisfy hdrhistogram's rules (low >= 1, high >= 2 * low, sigfig <= 5).
        match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
            Ok(h) => Self(h),
            Err(e) => unreachable!("bug: constant histogram bounds rejected: {e}"),
        }
    }

    pub(crate) fn record(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }

    /// Adds `other`'s values; both share the same bounds, so this cannot fail.
    pub(crate) fn merge(&mut self, other: &Latencies) {
        if let Err(e) = self.0.add(&other.0) {
            unreachable!("bug: histograms with equal bounds refused to merge: {e}");
        }
    }

    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        let h = &self.0;
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Some(LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1_000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// The worst latency in each second of a run, by the second its record was due to be sent: shows whether a
/// high p99 is one stall or a steady cost, which percentiles alone cannot tell.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorstBySecond {
    /// Nanosecond clock reading where second 0 starts.
    start_ns: u64,
    worst_us: Vec<u64>,
}

impl WorstBySecond {
    /// Seconds after this are not tracked: a run of more than an hour would only grow the vector.
    const MAX_SECONDS: u64 = 3_600;

    pub(crate) fn starting_at(start_ns: u64) -> Self {
        Self { start_ns, worst_us: Vec::new() }
    }

    /// Notes a record due at `sent_ns` that took `us`; records due before the start are ignored.
    pub(crate) fn record(&mut self, sent_ns: u64, us: u64) {
        let Some(since) = sent_ns.checked_sub(self.start_ns) else { return };
        let second = since / 1_000_000_000;
        if second >= Self::MAX_SECONDS {
            return;
        }
        let i = second as usize;
        if self.worst_us.len() <= i {
            self.worst_us.resize(i + 1, 0);
        }
        self.worst_us[i] = self.worst_us[i].max(us);
    }

    /// Keeps the worse of both for every second; both must share their start.
    pub(crate) fn merge(&mut self, other: &WorstBySecond) {
        if self.worst_us.len() < other.worst_us.len() {
            self.worst_us.resize(other.worst_us.len(), 0);
        }
        for (mine, theirs) in self.worst_us.iter_mut().zip(&other.worst_us) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Milliseconds per second, or `None` when nothing was recorded.
    pub(crate) fn summary(&self) -> Option<Vec<f64>> {
        (!self.worst_us.is_empty()).then(|| self.worst_us.iter().map(|&us| us as f64 / 1_000.0).collect())
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct LatencySummary {
    pub(crate) count: u64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

/// What one benchmark run measured. Field names are the JSON keys `bench/run` reads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// `produce`, `consume` or `e2e`.
    pub(crate) workload: &'static str,
    pub(crate) bootstrap: String,
    pub(crate) topic: String,
    /// The settings that shape the figures (record size, acks, rate, ...), as given.
    pub(crate) settings: serde_json::Value,
    pub(crate) records: u64,
    /// Key and value bytes; MB below means 10^6 bytes, as `dd` reports.
    pub(crate) bytes: u64,
    pub(crate) seconds: f64,
    pub(crate) records_per_sec: f64,
    pub(crate) mb_per_sec: f64,
    /// Records that failed (delivery errors) or went missing (produced but never consumed in e2e).
    pub(crate) failed: u64,
    /// Produce: send to delivery report. E2e: send to consume. Absent for consume.
    pub(crate) latency: Option<LatencySummary>,
    /// E2e only: the worst latency of the records due in each second after the warm-up (index 0 is the first
    /// second), in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) worst_ms_by_second: Option<Vec<f64>>,
}

impl Report {
    pub(crate) fn new(
        workload: &'static str,
        bootstrap: &str,
        topic: &str,
        settings: serde_json::Value,
        records: u64,
        bytes: u64,
        elapsed: Duration,
    ) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Self {
            workload,
            bootstrap: bootstrap.to_string(),
            topic: topic.to_string(),
            settings,
            records,
            bytes,
            seconds,
            records_per_sec: records as f64 / seconds,
            mb_per_sec: bytes as f64 / seconds / 1e6,
            failed: 0,
            latency: None,
            worst_ms_by_second: None,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut table = Table::new(&[
            "WORKLOAD",
            "RECORDS",
            "SECONDS",
            "RECORDS/S",
            "MB/S",
            "P50 MS",
            "P99 MS",
            "P99.9 MS",
            "MAX MS",
        ]);
        let lat = |f: fn(&LatencySummary) -> f64| {
            self.latency.as_ref().map_or_else(|| "-".to_string(), |l| format!("{:.3}", f(l)))
        };
        table.row(vec![
            self.workload.to_string(),
            self.records.to_string(),
            format!("{:.2}", self.seconds),
            format!("{:.0}", self.records_per_sec),
            format!("{:.1}", self.mb_per_sec),
            lat(|l| l.p50_ms),
            lat(|l| l.p99_ms),
            lat(|l| l.p999_ms),
            lat(|l| l.max_ms),
        ]);
        let mut out = table.render();
        if self.failed > 0 {
            out.push_str(&format!("{} records failed or went missing; see the errors above\n", self.failed));
        }
        out
    }

    pub(crate) fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self).context("bug: a benchmark report did not serialize")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the results to {}; check the directory exists", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_recorded_values() {
        let mut lat = Latencies::new();
        for us in 1..=1_000 {
            lat.record(us);
        }
        let s = lat.summary().expect("values were recorded");
        assert_eq!(s.count, 1_000);
        assert!((s.p50_ms - 0.5).abs() < 0.01, "{s:?}");
        assert!((s.p99_ms - 0.99).abs() < 0.01, "{s:?}");
        assert!((s.max_ms - 1.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn empty_histograms_have_no_summary_and_merge() {
        let mut a = Latencies::new();
        assert_eq!(a.summary(), None);
        let mut b = Latencies::new();
        b.record(MAX_LATENCY_US * 10);
        a.merge(&b);
        assert_eq!(a.summary().map(|s| s.count), Some(1), "out-of-range values are clamped, not lost");
    }

    #[test]
    fn throughput_is_per_second_in_decimal_megabytes() {
        let r = Report::new("produce", "h:1", "t", serde_json::Value::Null, 2_000, 4_000_000, Duration::from_secs(2));
        assert_eq!((r.records_per_sec, r.mb_per_sec), (1_000.0, 2.0));
        assert!(r.render().contains("produce"));
    }

    #[test]
    fn the_worst_latency_is_kept_per_second_of_send_time() {
        let start = 5_000_000_000;
        let mut a = WorstBySecond::starting_at(start);
        assert_eq!(a.summary(), None);
        a.record(start - 1, 99_000); // due before the start: warm-up, ignored
        a.record(start + 100_000_000, 2_000);
        a.record(start + 900_000_000, 1_500);
        a.record(start + 2_500_000_000, 40_000);
        let mut b = WorstBySecond::starting_at(start);
        b.record(start + 1_200_000_000, 3_000);
        b.record(start + 3_100_000_000, 500);
        a.merge(&b);
        assert_eq!(a.summary(), Some(vec![2.0, 3.0, 40.0, 0.5]));
    }
}
