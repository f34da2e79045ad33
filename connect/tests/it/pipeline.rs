//! A datagen → topic → file pipeline delivers every generated record: the file ends up holding every sequence
//! number from 0 to N, with tasks restarted halfway (at-least-once: no gaps; duplicates are counted and shown).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use crate::support::{lines, wait_until, TestBroker, TestWorker, WAIT};

const RECORDS: u64 = 3000;

/// The `orderid` (the sequence number) of each line, counted.
fn sequence_counts(lines: &[String]) -> BTreeMap<u64, u32> {
    let mut counts = BTreeMap::new();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {line:?}: {e}"));
        let seq = v["orderid"].as_u64().unwrap_or_else(|| panic!("line without an orderid: {line}"));
        *counts.entry(seq).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn datagen_to_file_delivers_every_sequence_number() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let rest = &worker.rest;
    let out = worker.path("pipeline.txt");

    rest.create("sink", json!({"connector.class": "file", "topics": "pipeline", "file": out.display().to_string()}))
        .await;
    rest.create(
        "gen",
        json!({
            "connector.class": "datagen",
            "kafka.topic": "pipeline",
            "quickstart": "orders",
            "max.interval": "5",
            "iterations": RECORDS.to_string(),
            "random.seed": "42",
            "tasks.max": "3",
        }),
    )
    .await;
    rest.wait_state("gen", "RUNNING", Some(3)).await;

    // Restart every task while records are flowing: each resumes from its committed offset.
    wait_until(WAIT, "some records reach the file", || async {
        let n = lines(&out).len();
        if n >= 100 {
            Ok(())
        } else {
            Err(format!("{n} lines"))
        }
    })
    .await;
    rest.expect(Method::POST, "/connectors/gen/restart?includeTasks=true", None, 202).await;

    let counts = wait_until(WAIT * 2, &format!("the file holds every sequence number below {RECORDS}"), || async {
        let counts = sequence_counts(&lines(&out));
        if counts.len() as u64 >= RECORDS {
            Ok(counts)
        } else {
            let missing: Vec<u64> = (0..RECORDS).filter(|s| !counts.contains_key(s)).take(10).collect();
            Err(format!("{} distinct; first missing {missing:?}", counts.len()))
        }
    })
    .await;
    let keys: Vec<u64> = counts.keys().copied().collect();
    assert_eq!(keys, (0..RECORDS).collect::<Vec<_>>(), "exactly the sequence numbers 0..{RECORDS}, no others");
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    eprintln!("datagen → file: {RECORDS} records, {duplicates} duplicates (at-least-once across the restart)");

    worker.stop().await;
    broker.stop().await;
}
