//! Retention: size- and time-based deletion of old segments moves the log start offset, and what is left stays
//! readable.

use std::time::Duration;

use crate::support::{
    create_topic, fetch_raw, now_ms, produce_raw, read_partition, record, wait_until,
    watermark_client, watermarks, RawClient, TestBroker,
};

/// The value of the record produced `i`-th, so any surviving record can be checked against its offset.
fn value_for(i: i64) -> Vec<u8> {
    let mut v = format!("record-{i:06}-").into_bytes();
    v.resize(200, b'.');
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_retention_deletes_the_oldest_segments() {
    let broker = TestBroker::start(|c| c.retention_check_interval_ms = 50).await;
    create_topic(
        broker.addr,
        "by-size",
        1,
        &[("segment.bytes", "1024"), ("retention.bytes", "4096")],
    )
    .await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    // 400 one-record batches of about 270 bytes: about 100 KB, about 3 batches per segment.
    const COUNT: i64 = 400;
    let now = now_ms();
    let mut batch_bytes = 0;
    for i in 0..COUNT {
        let r = record(Some(format!("k{i}").as_bytes()), Some(&value_for(i)), now);
        batch_bytes = crate::support::encode_batch(std::slice::from_ref(&r)).len() as i64;
        let (code, base) = produce_raw(&mut client, "by-size", 0, &[r]).await.unwrap();
        assert_eq!((code, base), (0, i), "produce record {i}");
    }

    // Kafka keeps deleting the oldest segment while the rest still holds retention.bytes; the active segment
    // stays. So at most retention.bytes plus one segment remain.
    let wm = watermark_client(&broker.bootstrap());
    let limit = 4096 + 1024;
    let (low, high) = wait_until(
        Duration::from_secs(30),
        "size retention trims the log",
        || {
            let seen = watermarks(&wm, "by-size", 0);
            async move {
                let (low, high) = seen?;
                let kept = (high - low) * batch_bytes;
                if low > 0 && kept <= limit {
                    Ok((low, high))
                } else {
                    Err(format!("watermarks {low}..{high}, about {kept} bytes kept"))
                }
            }
        },
    )
    .await;
    assert_eq!(high, COUNT, "retention must not change the high watermark");
    assert!(
        high - low >= 4096 / batch_bytes,
        "retention deleted too much: {low}..{high} is under retention.bytes"
    );

    // The rest is readable from the new earliest offset, record for record.
    let records = read_partition(&mut client, "by-size", 0, low)
        .await
        .unwrap();
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (low..high).collect::<Vec<_>>(),
        "every offset from the log start to the end"
    );
    for r in &records {
        assert_eq!(
            r.value.as_deref(),
            Some(value_for(r.offset).as_slice()),
            "value at offset {}",
            r.offset
        );
    }
    // Below the new start is out of range.
    assert_eq!(
        fetch_raw(&mut client, "by-size", 0, 0)
            .await
            .unwrap()
            .error_code,
        1
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_retention_deletes_expired_records() {
    let broker = TestBroker::start(|c| c.retention_check_interval_ms = 50).await;
    create_topic(
        broker.addr,
        "by-time",
        1,
        &[("retention.ms", "1000"), ("segment.ms", "100")],
    )
    .await;
    // A topic without short retention sees the same old records and keeps them.
    create_topic(broker.addr, "kept", 1, &[("segment.ms", "100")]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let an_hour_ago = now_ms() - 3_600_000;
    for i in 0..5i64 {
        let batch = [
            record(Some(b"a"), Some(&value_for(2 * i)), an_hour_ago + 2 * i),
            record(
                Some(b"b"),
                Some(&value_for(2 * i + 1)),
                an_hour_ago + 2 * i + 1,
            ),
        ];
        assert_eq!(
            produce_raw(&mut client, "by-time", 0, &batch)
                .await
                .unwrap(),
            (0, 2 * i)
        );
        assert_eq!(
            produce_raw(&mut client, "kept", 0, &batch).await.unwrap(),
            (0, 2 * i)
        );
    }
    let wm = watermark_client(&broker.bootstrap());
    wait_until(
        Duration::from_secs(30),
        "every expired record of by-time is deleted",
        || {
            let seen = watermarks(&wm, "by-time", 0);
            async move {
                match seen? {
                    (10, 10) => Ok(()),
                    (low, high) => Err(format!("watermarks {low}..{high}, want 10..10")),
                }
            }
        },
    )
    .await;
    let f = fetch_raw(&mut client, "by-time", 0, 10).await.unwrap();
    assert_eq!(
        (
            f.error_code,
            f.log_start_offset,
            f.high_watermark,
            f.records.len()
        ),
        (0, 10, 10, 0)
    );
    // New records still go in at the old end.
    let now = now_ms();
    assert_eq!(
        produce_raw(
            &mut client,
            "by-time",
            0,
            &[record(Some(b"c"), Some(b"new"), now)]
        )
        .await
        .unwrap(),
        (0, 10)
    );
    let f = fetch_raw(&mut client, "by-time", 0, 10).await.unwrap();
    assert_eq!(
        f.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![10]
    );

    assert_eq!(
        watermarks(&wm, "kept", 0).unwrap(),
        (0, 10),
        "default retention keeps hour-old records"
    );
    broker.stop().await;
}
