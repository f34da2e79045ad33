//! Micro-benchmarks of the storage engine through its public API: `PartitionLog::append` (validate, assign
//! offsets, one write into the page cache, index) and `PartitionLog::read` (plan the file ranges a Fetch sends
//! with sendfile, and, separately, copying them to memory as a non-sendfile connection does).
//!
//! Each append sample writes into a fresh log in a temporary directory that is removed afterwards, so disk use
//! stays bounded by one sample.

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_broker::log::PartitionLog;
use sluice_broker::TopicConfig;

/// A fixed append time: the benchmarks must not depend on the clock.
const NOW_MS: i64 = 1_700_000_000_000;

fn open_log(dir: &std::path::Path) -> PartitionLog {
    PartitionLog::open(dir, TopicConfig::default()).expect("bench fixture: cannot open a partition log in a tempdir")
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("partition_log_append");
    for per_batch in [1usize, 16, 128] {
        let batch = support::batch(per_batch);
        group.throughput(Throughput::Bytes(batch.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(format!("{per_batch}x1KiB")), &batch, |b, batch| {
            b.iter_custom(|iters| {
                let dir = tempfile::tempdir().expect("bench fixture: cannot create a tempdir");
                let log = open_log(dir.path());
                let start = Instant::now();
                for _ in 0..iters {
                    log.append(std::hint::black_box(batch), NOW_MS).expect("bench fixture: append failed");
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    // 64 MiB of 16-record batches: more than one index interval per batch, all in the page cache.
    const BATCHES: usize = 4096;
    const MAX_BYTES: u32 = 1 << 20;
    let dir = tempfile::tempdir().expect("bench fixture: cannot create a tempdir");
    let log = open_log(dir.path());
    let batch = support::batch(16);
    for _ in 0..BATCHES {
        log.append(&batch, NOW_MS).expect("bench fixture: append failed");
    }
    let end = log.log_end_offset();

    let mut group = c.benchmark_group("partition_log_read");
    // Offsets spread over the log so the sparse index lookup and the header scan after it both count.
    let offsets: Vec<i64> = (0..64).map(|i| (end * i / 64) + 7).collect();
    group.throughput(Throughput::Bytes(u64::from(MAX_BYTES)));
    group.bench_function("plan_1MiB", |b| {
        let mut next = offsets.iter().cycle();
        b.iter(|| {
            let offset = *next.next().unwrap_or(&0);
            log.read(offset, MAX_BYTES, i64::MAX).map(|r| r.total_len)
        })
    });
    group.bench_function("plan_and_copy_1MiB", |b| {
        let mut next = offsets.iter().cycle();
        b.iter(|| {
            let offset = *next.next().unwrap_or(&0);
            let result = log.read(offset, MAX_BYTES, i64::MAX).expect("bench fixture: read failed");
            result
                .slices
                .iter()
                .map(|s| s.read_to_bytes().map(|bytes| bytes.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Small samples: quick comparisons between changes, not publication figures; CI only builds these.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = append, read
}
criterion_main!(benches);
