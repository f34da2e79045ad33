//! Compaction: the cleaner keeps the latest record per key, drops tombstones after delete.retention.ms, and
//! never renumbers offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::Offset;

use crate::support::{
    consume_until, create_topic, now_ms, produce_raw, read_partition, record, row, wait_until,
    RawClient, Row, TestBroker,
};

const KEYS: usize = 20;
const VERSIONS: usize = 5;
/// Keys 0..TOMBSTONED get a tombstone after their values.
const TOMBSTONED: usize = 6;
const FILLER: usize = 30;

fn key(k: usize) -> Vec<u8> {
    format!("key-{k:02}").into_bytes()
}

fn value(k: usize, version: usize) -> Vec<u8> {
    let mut v = format!("key-{k:02}-version-{version}-").into_bytes();
    v.resize(60, b'#');
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleaner_keeps_the_latest_value_per_key_and_drops_tombstones() {
    let broker = TestBroker::start(|c| c.cleaner_interval_ms = 50).await;
    create_topic(
        broker.addr,
        "compacted",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1024"),
            ("delete.retention.ms", "100"),
            ("min.compaction.lag.ms", "0"),
        ],
    )
    .await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let mut next = 0i64;
    // (key, value) the partition must end with, and the offset each surviving record was given.
    let mut latest: BTreeMap<Vec<u8>, (i64, Vec<u8>)> = BTreeMap::new();
    let produce = |k: Vec<u8>, v: Option<Vec<u8>>| {
        let r = record(Some(&k), v.as_deref(), now_ms());
        (k, v, r)
    };
    // Values round-robin over the keys, so every segment holds several keys.
    let mut plan = Vec::new();
    for version in 0..VERSIONS {
        for k in 0..KEYS {
            plan.push(produce(key(k), Some(value(k, version))));
        }
    }
    for k in 0..TOMBSTONED {
        plan.push(produce(key(k), None));
    }
    // Filler pushes the interesting records out of the active segment (which is never cleaned).
    for f in 0..FILLER {
        plan.push(produce(
            format!("filler-{f:02}").into_bytes(),
            Some(vec![b'f'; 60]),
        ));
    }
    for (k, v, r) in plan {
        let (code, base) = produce_raw(&mut client, "compacted", 0, &[r])
            .await
            .unwrap();
        assert_eq!((code, base), (0, next), "produce offset {next}");
        match v {
            Some(v) => latest.insert(k, (next, v)),
            None => latest.remove(&k),
        };
        next += 1;
    }
    let high = next;
    let tombstoned: BTreeSet<Vec<u8>> = (0..TOMBSTONED).map(key).collect();

    let addr = broker.addr;
    let tombstoned = &tombstoned;
    let survivors = wait_until(Duration::from_secs(60), "compaction leaves one record per live key and no tombstones", || {
        async move {
            let mut reader = RawClient::connect(addr).await.map_err(|e| format!("{e:#}"))?;
            let records = read_partition(&mut reader, "compacted", 0, 0).await.map_err(|e| format!("{e:#}"))?;
            let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
            for r in &records {
                *seen.entry(r.key.clone().map(|k| k.to_vec()).unwrap_or_default()).or_default() += 1;
            }
            let duplicates = seen.values().filter(|&&n| n > 1).count();
            let dead = seen.keys().filter(|k| tombstoned.contains(*k)).count();
            if duplicates == 0 && dead == 0 {
                Ok(records)
            } else {
                Err(format!(
                    "{} records; {duplicates} keys still have several records, {dead} tombstoned keys still present",
                    records.len()
                ))
            }
        }
    })
    .await;

    let got: BTreeMap<Vec<u8>, (i64, Vec<u8>)> = survivors
        .iter()
        .map(|r| {
            let k = r
                .key
                .as_ref()
                .expect("compacted records keep their key")
                .to_vec();
            let v = r
                .value
                .as_ref()
                .unwrap_or_else(|| panic!("a tombstone survived at offset {}", r.offset))
                .to_vec();
            (k, (r.offset, v))
        })
        .collect();
    assert_eq!(got.len(), survivors.len(), "one record per key");
    assert_eq!(
        got, latest,
        "exactly the latest value of each live key, at its original offset"
    );
    let offsets: Vec<i64> = survivors.iter().map(|r| r.offset).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets strictly increase: {offsets:?}"
    );
    assert!(
        (survivors.len() as i64) < high,
        "compaction removed records"
    );

    // A real client reading from the beginning sees the same thing, gaps and all.
    let consumed = consume_until(
        &broker.bootstrap(),
        "compacted",
        &[(0, Offset::Beginning, high)],
        Duration::from_secs(30),
    )
    .await;
    let consumed: Vec<Row> = consumed
        .into_iter()
        .map(|c| (c.offset, c.key, c.value))
        .collect();
    let raw: Vec<Row> = survivors.iter().map(row).collect();
    assert_eq!(consumed, raw, "rdkafka from the beginning");

    // The log end did not move, and the next record follows it.
    let (code, base) = produce_raw(
        &mut client,
        "compacted",
        0,
        &[record(Some(b"after"), Some(b"x"), now_ms())],
    )
    .await
    .unwrap();
    assert_eq!((code, base), (0, high));
    broker.stop().await;
}
