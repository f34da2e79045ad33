//! Micro-benchmark of produce validation: parsing v2 batch headers and checking their CRC-32C
//! (`log::batch::validate_batches`), the only work the broker does per byte on the produce path.
//!
//! Request decoding (`api::parse_request`) is crate-private, so it is not benchmarked here; the end-to-end
//! `sluice bench` figures include it.

mod support;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_broker::log::batch::validate_batches;

/// `max.message.bytes` large enough for every fixture, so only validation cost is measured.
const MAX_BATCH_BYTES: u32 = 16 << 20;

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_batches");
    // (batches, records per batch): one big batch (CRC dominates) versus many small ones (header parsing
    // and the per-batch Vec push show up).
    for (batches, per_batch) in [(1, 1), (1, 16), (1, 256), (64, 1), (16, 16)] {
        let request = support::request(batches, per_batch);
        group.throughput(Throughput::Bytes(request.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{batches}x{per_batch}x1KiB")),
            &request,
            |b, request| {
                b.iter(|| validate_batches(std::hint::black_box(request), MAX_BATCH_BYTES).map(|h| h.len()))
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Small samples: these are for comparing changes on a laptop, not for publication; CI only builds them.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = validate
}
criterion_main!(benches);
