//! The file source and file sink together: lines appended to one file arrive, in order, in another, through a
//! topic, including lines appended while the connectors run.

use std::io::Write;

use serde_json::json;

use crate::support::{lines, wait_until, TestBroker, TestWorker, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lines_travel_from_a_file_through_a_topic_into_another_file() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let (input, output) = (worker.path("in.txt"), worker.path("out.txt"));
    std::fs::write(&input, "first line\nsecond line\n").expect("write the input file");
    let strings = json!({
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    let with_strings = |mut config: serde_json::Value| {
        config.as_object_mut().unwrap().extend(strings.as_object().unwrap().clone());
        config
    };
    worker
        .rest
        .create(
            "lines-in",
            with_strings(
                json!({"connector.class": "FileStreamSource", "file": input.display().to_string(), "topic": "lines"}),
            ),
        )
        .await;
    worker
        .rest
        .create(
            "lines-out",
            with_strings(
                json!({"connector.class": "FileStreamSink", "file": output.display().to_string(), "topics": "lines"}),
            ),
        )
        .await;

    let expect = |want: Vec<&'static str>| {
        let output = output.clone();
        async move {
            wait_until(WAIT, &format!("the output file holds {want:?}"), || async {
                let got = lines(&output);
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            })
            .await
        }
    };
    expect(vec!["first line", "second line"]).await;

    let mut file = std::fs::OpenOptions::new().append(true).open(&input).expect("open the input file");
    file.write_all(b"third line\n").expect("append a line");
    expect(vec!["first line", "second line", "third line"]).await;

    worker.stop().await;
    broker.stop().await;
}
